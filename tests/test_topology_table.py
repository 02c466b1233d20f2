"""Topologies from tables and TOML files; CPUs and per-node promotion targets.

Topology.from_table / from_toml / to_table, Topology.node_of_cpu and
nodes_of_cpus, Node.cpus and Node.promotion_target: known answers on the
sample machine in examples/topology-2s2cxl.toml, one error naming the key
(and the file) for every kind of bad table, and round trips through the
table form and through a fake sysfs tree read back by Topology.from_sysfs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pghot import Node, Source, Topology, Tracker

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "topology-2s2cxl.toml"
GIB_PAGES = 2**30 // 4096
BLOCK_BYTES = 0x8000000  # 128 MiB memory blocks, as on x86

needs_tomllib = pytest.mark.skipif(sys.version_info < (3, 11), reason="TOML needs tomllib (Python 3.11+)")


def node(nid: Any, toptier: Any, **kw: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"id": nid, "toptier": toptier}
    d.update(kw)
    if "pages" not in d and "size" not in d:
        d["pages"] = 16
    return d


def table(*nodes: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"nodes": list(nodes), **top}


# -- the sample machine --------------------------------------------------------------


@needs_tomllib
def test_example_two_sockets_two_cxl_nodes() -> None:
    t = Topology.from_toml(EXAMPLE)
    assert [(n.nid, n.start_pfn, n.nr_pages, n.toptier, n.has_cpu) for n in t.nodes] == [
        (0, 0, 8 * GIB_PAGES, True, True),
        (1, 8 * GIB_PAGES, 8 * GIB_PAGES, True, True),
        (2, 16 * GIB_PAGES, 16 * GIB_PAGES, False, False),
        (3, 32 * GIB_PAGES, 16 * GIB_PAGES, False, False),
    ]
    assert t.node(0).cpus == tuple(range(16)) + tuple(range(32, 48))
    assert t.node(1).cpus == tuple(range(16, 32)) + tuple(range(48, 64))
    assert t.node(2).cpus == t.node(3).cpus == ()
    assert (t.default_node, t.toptier_nids(), t.lower_nids()) == (0, (0, 1), (2, 3))
    assert [t.node_of_cpu(c) for c in (0, 15, 16, 31, 32, 47, 48, 63)] == [0, 0, 1, 1, 0, 0, 1, 1]
    assert [t.promotion_target(n) for n in (0, 1, 2, 3, -1)] == [0, 1, 0, 1, 0]
    assert t.arrays()["id_target"].tolist() == [0, 1, 0, 1]
    assert t.lower_pages() == 32 * GIB_PAGES
    cpus = np.arange(-1, 64)
    assert t.nodes_of_cpus(cpus).tolist() == [-1] + [t.node_of_cpu(int(c)) for c in cpus[1:]]
    with pytest.raises(ValueError, match=r"CPU 64 is in no node \(the topology's CPUs are 0-63\)"):
        t.node_of_cpu(64)


@needs_tomllib
def test_example_round_trips_through_the_table_form() -> None:
    t = Topology.from_toml(EXAMPLE)
    back = Topology.from_table(t.to_table())
    assert back == t
    assert [n.cpus for n in back.nodes] == [n.cpus for n in t.nodes]
    assert [n.promotion_target for n in back.nodes] == [None, None, 0, 1]


# -- known answers ------------------------------------------------------------------


@pytest.mark.parametrize(
    "size, pages",
    [
        ("1 GiB", GIB_PAGES),
        ("1GiB", GIB_PAGES),
        ("512M", 512 * 256),
        ("2 g", 2 * GIB_PAGES),
        ("1.5 MiB", 384),
        ("8 KiB", 2),
        ("4096", 1),
        ("4096 B", 1),
        ("0 TiB", 0),
        ("1 TiB", 2**40 // 4096),
        (8192, 2),
    ],
)
def test_sizes_with_units(size: Any, pages: int) -> None:
    t = Topology.from_table(table(node(0, True, size=size, cpus="0")))
    assert t.node(0).nr_pages == pages


def test_page_size_scales_sizes() -> None:
    t = Topology.from_table(table(node(0, True, size="1 MiB"), page_size=65536))
    assert t.node(0).nr_pages == 16


def test_default_layout_is_consecutive_in_id_order() -> None:
    # listed out of order, a memoryless node in the middle: it owns no PFN
    t = Topology.from_table(
        table(
            node(2, False, pages=30), node(0, True, pages=10, cpus="0-1"), node(1, True, pages=0, cpus=(2,))
        )
    )
    assert [(n.nid, n.start_pfn, n.nr_pages) for n in t.nodes] == [(0, 0, 10), (1, 0, 0), (2, 10, 30)]


def test_explicit_start_pfns_allow_holes() -> None:
    t = Topology.from_table(
        table(node(0, True, pages=10, start_pfn=0, cpus="0"), node(1, False, pages=10, start_pfn=100))
    )
    assert (t.node_of(5), t.node_of(50), t.node_of(105)) == (0, -1, 1)


def test_default_node_prefers_a_top_tier_node_with_cpus() -> None:
    # node 0: CPU-less top-tier DRAM (sysfs tiers can make one); node 1 has CPUs
    t = Topology.from_table(table(node(0, True), node(1, True, cpus="0-3"), node(2, False)))
    assert t.default_node == 1
    assert Topology.from_table(table(node(0, True), node(1, True), node(2, False))).default_node == 0
    assert Topology.from_table(table(node(0, True), node(1, True), default_node=1)).default_node == 1


@pytest.mark.parametrize(
    "cpus, want",
    [
        ("0-3,8", (0, 1, 2, 3, 8)),
        (" 0 - 1 , 4 ", (0, 1, 4)),
        ("", ()),
        (7, (7,)),
        ([5, "0-1", 3], (0, 1, 3, 5)),
        ([], ()),
    ],
)
def test_cpu_list_forms(cpus: Any, want: tuple[int, ...]) -> None:
    t = Topology.from_table(table(node(0, True, cpus=cpus)))
    assert t.node(0).cpus == want
    assert t.node(0).has_cpu is bool(want)


def test_per_node_promotion_targets() -> None:
    t = Topology.from_table(
        table(
            node(0, True, cpus="0"),
            node(1, True, cpus="1"),
            node(2, False, promotion_target=1),
            node(3, False),
        )
    )
    assert [t.promotion_target(n) for n in (0, 1, 2, 3, -1)] == [0, 1, 1, 0, 0]
    assert t.arrays()["id_target"].tolist() == [0, 1, 1, 0]


def test_tracker_queues_follow_a_lower_nodes_promotion_target(make_tracker: Callable[..., Tracker]) -> None:
    # F7 with a per-node target: node 3 is a lower tier with CPUs whose
    # pages go to node 0, not to the default node 2.
    topo = Topology(
        [
            Node(0, 0, 64, True, cpus=(0,)),
            Node(1, 64, 128, False, has_cpu=False),
            Node(2, 192, 64, True, cpus=(1,)),
            Node(3, 300, 128, False, cpus=(2,), promotion_target=0),
        ],
        default_node=2,
    )
    t = make_tracker(topo, threshold=2)
    for now in (0, 1):
        t.record_access(100, topo.node_of_cpu(2), Source.HW_HINTS, now)  # from node 3
        t.record_access(150, topo.node_of_cpu(-1), Source.HW_HINTS, now)  # unknown CPU
    assert (t.queued(0), t.queued(2)) == (1, 1)
    assert t.extract_batch(0).tolist() == [100]
    assert t.extract_batch(2).tolist() == [150]


# -- node_of_cpu --------------------------------------------------------------------------


def test_node_of_cpu_without_cpu_lists() -> None:
    assert Topology.two_tier(4, 8).node_of_cpu(123) == 0  # one node with CPUs: all of them
    assert Topology.two_tier(4, 8).nodes_of_cpus([5, -1]).tolist() == [0, -1]
    two = Topology([Node(0, 0, 4, True), Node(1, 4, 4, True)])
    with pytest.raises(ValueError, match="lists no CPUs and 2 nodes have CPUs"):
        two.node_of_cpu(0)
    with pytest.raises(ValueError, match=r"cpus\[0\]"):
        two.nodes_of_cpus([0])


@pytest.mark.parametrize(
    "cpu, exc, match",
    [
        (-2, ValueError, "cpu must be >= -1"),
        (True, TypeError, "cpu"),
        (1.0, TypeError, "cpu"),
        ("1", TypeError, "cpu"),
    ],
)
def test_node_of_cpu_bad_input(cpu: Any, exc: type[Exception], match: str) -> None:
    t = Topology([Node(0, 0, 4, True, cpus=(0, 1))])
    with pytest.raises(exc, match=match):
        t.node_of_cpu(cpu)


@pytest.mark.parametrize(
    "cpus, exc, match",
    [
        ([0, -2], ValueError, r"cpus\[1\] must be >= -1"),
        ([0.0], TypeError, "cpus"),
        ("0", TypeError, "cpus"),
        ([0, 5], ValueError, r"cpus\[1\]: CPU 5 is in no node"),
    ],
)
def test_nodes_of_cpus_bad_input(cpus: Any, exc: type[Exception], match: str) -> None:
    t = Topology([Node(0, 0, 4, True, cpus=(0, 1))])
    with pytest.raises(exc, match=match):
        t.nodes_of_cpus(cpus)


@given(
    layout=st.lists(st.frozensets(st.integers(0, 40), max_size=6), min_size=1, max_size=4),
    queries=st.lists(st.integers(-1, 45), max_size=30),
)
def test_nodes_of_cpus_is_node_of_cpu_elementwise(layout: list[frozenset[int]], queries: list[int]) -> None:
    taken: set[int] = set()
    nodes = []
    for nid, cpus in enumerate(layout):
        mine = sorted(cpus - taken)
        taken |= set(mine)
        nodes.append(Node(nid, nid * 10, 10, True, has_cpu=bool(mine) or nid == 0, cpus=tuple(mine)))
    t = Topology(nodes)
    want: list[int] = []
    for c in queries:
        try:
            want.append(t.node_of_cpu(c))
        except ValueError:
            with pytest.raises(ValueError):
                t.nodes_of_cpus(queries)
            return
    assert t.nodes_of_cpus(np.array(queries, dtype=np.int64)).tolist() == want


# -- Node and Topology checks on CPUs and targets ------------------------------------------


def test_node_cpu_and_target_checks() -> None:
    with pytest.raises(ValueError, match="has_cpu=False but lists CPUs 0-1"):
        Node(0, 0, 4, False, has_cpu=False, cpus=(0, 1))
    with pytest.raises(ValueError, match="CPU 1 is listed twice"):
        Node(0, 0, 4, True, cpus=(1, 1))
    with pytest.raises(ValueError, match="cpus: CPU ids must be in"):
        Node(0, 0, 4, True, cpus=(-1,))
    with pytest.raises(TypeError, match="cpus"):
        Node(0, 0, 4, True, cpus=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="promotion_target: node 0 is top tier"):
        Node(0, 0, 4, True, promotion_target=1)
    with pytest.raises(ValueError, match="promotion_target must be >= 0"):
        Node(1, 0, 4, False, promotion_target=-1)
    with pytest.raises(TypeError, match="promotion_target"):
        Node(1, 0, 4, False, promotion_target=True)
    assert Node(0, 0, 4, True, promotion_target=0).promotion_target == 0
    # CPUs are not part of equality (the tracker does not depend on them)
    assert Node(0, 0, 4, True, cpus=(0,)) == Node(0, 0, 4, True)
    assert repr(Node(0, 0, 4, True)) == "Node(nid=0, start_pfn=0, nr_pages=4, toptier=True, has_cpu=True)"


def test_topology_cpu_and_target_checks() -> None:
    with pytest.raises(ValueError, match="CPU 3 is in node 0 and in node 1"):
        Topology([Node(0, 0, 4, True, cpus=(3,)), Node(1, 4, 4, True, cpus=(2, 3))])
    with pytest.raises(ValueError, match="promotion_target 2 of node 1 is not a top-tier node"):
        Topology([Node(0, 0, 4, True), Node(1, 4, 4, False, promotion_target=2), Node(2, 8, 4, False)])
    with pytest.raises(ValueError, match="promotion_target 9 of node 1 is not a node"):
        Topology([Node(0, 0, 4, True), Node(1, 4, 4, False, promotion_target=9)])


# -- bad tables: one error naming the key ---------------------------------------------------

BAD_TABLES: list[tuple[Any, type[Exception], str]] = [
    ([], TypeError, "must be a mapping"),
    ({}, ValueError, "nodes: missing"),
    ({"nodes": []}, ValueError, "nodes must not be empty"),
    ({"nodes": "0"}, TypeError, "nodes must be a list"),
    ({"nodes": [1]}, TypeError, r"nodes\[0\] must be a table"),
    (table(node(0, True), colour="red"), ValueError, "colour: unknown key"),
    (table(node(0, True, cpu="0")), ValueError, r"nodes\[0\]\.cpu: unknown key"),
    (table({"toptier": True, "pages": 1}), ValueError, r"nodes\[0\]\.id: missing"),
    (table({"id": 0, "pages": 1}), ValueError, r"nodes\[0\]\.toptier: missing"),
    (table({"id": 0, "toptier": True}), ValueError, r"nodes\[0\]: give exactly one of 'pages' and 'size'"),
    (table(node(0, True, pages=1, size=4096)), ValueError, "exactly one of"),
    (table(node("0", True)), TypeError, r"nodes\[0\]\.id must be an int, not str"),
    (table(node(-1, True)), ValueError, r"nodes\[0\]\.id must be >= 0"),
    (table(node(0, True), node(0, False)), ValueError, r"nodes\[1\]\.id: node 0 is already nodes\[0\]"),
    (table(node(0, "yes")), TypeError, r"nodes\[0\]\.toptier must be a bool"),
    (table(node(0, True, pages=-1)), ValueError, r"nodes\[0\]\.pages must be >= 0, got -1"),
    (table(node(0, True, pages=1.5)), TypeError, r"nodes\[0\]\.pages must be an int, not float"),
    (table(node(0, True, pages=True)), TypeError, r"nodes\[0\]\.pages must be an int, not bool"),
    (table(node(0, True, size=-4096)), ValueError, r"nodes\[0\]\.size must be >= 0"),
    (table(node(0, True, size="-1 GiB")), ValueError, r"nodes\[0\]\.size: '-1 GiB' is not a size"),
    (table(node(0, True, size="1 GB")), ValueError, r"nodes\[0\]\.size: '1 GB': write binary units"),
    (table(node(0, True, size="1 parsec")), ValueError, "unknown unit 'parsec'"),
    (table(node(0, True, size="1000")), ValueError, "not a whole number of 4096-byte pages"),
    (table(node(0, True, size="0.5 B")), ValueError, "not a whole number of bytes"),
    (table(node(0, True, size=1.0)), TypeError, r"nodes\[0\]\.size must be an int"),
    (table(node(0, True, cpus=1.5)), TypeError, r"nodes\[0\]\.cpus must be a CPU list"),
    (table(node(0, True, cpus=[True])), TypeError, r"nodes\[0\]\.cpus: True is not a CPU id"),
    (table(node(0, True, cpus="a-b")), ValueError, r"nodes\[0\]\.cpus: 'a-b' is not a CPU id or range"),
    (table(node(0, True, cpus="3-1")), ValueError, r"range '3-1' ends before it starts"),
    (table(node(0, True, cpus="0-2,2")), ValueError, r"nodes\[0\]\.cpus: CPU 2 is listed twice"),
    (table(node(0, True, cpus="0-99999999")), ValueError, "CPU ids must be in"),
    (
        table(node(0, True, cpus="0-3"), node(1, True, cpus="3-5")),
        ValueError,
        r"nodes\[1\]\.cpus: CPU 3 is already",
    ),
    (table(node(0, False)), ValueError, "at least one node must have toptier = true"),
    (
        table(node(0, True), node(1, False, promotion_target=2)),
        ValueError,
        "promotion_target: 2 is not a node",
    ),
    (
        table(node(0, True), node(1, False, promotion_target=2), node(2, False)),
        ValueError,
        r"nodes\[1\]\.promotion_target: 2 is not a top-tier node",
    ),
    (
        table(node(0, True, promotion_target=0)),
        ValueError,
        r"nodes\[0\]\.promotion_target: node 0 is top tier",
    ),
    (
        table(node(0, True), node(1, False, promotion_target="0")),
        TypeError,
        "promotion_target must be an int",
    ),
    (
        table(node(0, True), node(1, False), default_node=1),
        ValueError,
        "default_node: 1 is not a top-tier node",
    ),
    (table(node(0, True), default_node=5), ValueError, "default_node: 5 is not a node of the table"),
    (table(node(0, True), default_node=None), TypeError, "default_node must be an int"),
    (table(node(0, True), page_size=0), ValueError, "page_size must be >= 1"),
    (table(node(0, True), page_size="4K"), TypeError, "page_size must be an int"),
    (table(node(0, True, start_pfn=0), node(1, False)), ValueError, r"nodes\[1\]\.start_pfn: give start_pfn"),
    (table(node(0, True, start_pfn=-5)), ValueError, r"nodes\[0\]\.start_pfn must be >= 0"),
    (table(node(0, True, start_pfn=2**63)), ValueError, r"nodes\[0\]: start_pfn \+ pages must be <= 2\*\*63"),
    (
        table(node(0, True, start_pfn=0, pages=10), node(1, False, start_pfn=5, pages=10)),
        ValueError,
        "overlap",
    ),
    ({"nodes": [{1: 2}]}, TypeError, "keys must be strings"),
]


@pytest.mark.parametrize("bad, exc, match", BAD_TABLES)
def test_bad_tables_name_the_key(bad: Any, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        Topology.from_table(bad)


@pytest.mark.parametrize("bad, exc, match", BAD_TABLES)
def test_bad_tables_name_the_source(bad: Any, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc) as info:
        Topology.from_table(bad, source=Path("machine.toml"))
    assert str(info.value).startswith("machine.toml: ")


# -- TOML files -------------------------------------------------------------------------


@needs_tomllib
def test_toml_errors_name_the_file_and_the_key(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(
        '[[nodes]]\nid = 0\nsize = "1 GiB"\ntoptier = true\ncpus = "0-3"\n[[nodes]]\nid = 1\npages = -4\n'
    )
    with pytest.raises(ValueError, match=r"bad\.toml: nodes\[1\]\.toptier: missing"):
        Topology.from_toml(p)
    p.write_text('[[nodes]]\nid = 0\nsize = "1 GiB"\ntoptier = "true"\n')
    with pytest.raises(TypeError, match=r"bad\.toml: nodes\[0\]\.toptier must be a bool"):
        Topology.from_toml(p)
    p.write_text("[[nodes]\nid = 0\n")
    with pytest.raises(ValueError, match=r"bad\.toml: not valid TOML"):
        Topology.from_toml(p)
    p.write_bytes(b'[[nodes]]\nid = 0\ntoptier = true\nsize = "\xff"\n')
    with pytest.raises(ValueError, match=r"bad\.toml: not valid TOML"):
        Topology.from_toml(p)
    p.write_bytes(b"#" * (2 << 20))
    with pytest.raises(ValueError, match=r"bad\.toml: larger than"):
        Topology.from_toml(p)
    with pytest.raises(FileNotFoundError):
        Topology.from_toml(tmp_path / "missing.toml")


# -- round trip through a fake sysfs tree -------------------------------------------------


def write_sysfs(base: Path, topo: Topology, page: int = 4096) -> Path:
    """Write ``topo`` as Linux shows it under /sys/devices/system; return the node dir.

    Each node's PFN range becomes online 128 MiB memory blocks, its CPUs its
    ``cpulist``; the top-tier nodes sit in memory_tier1, the others in
    memory_tier4 (lowest id first is top, as the kernel's adistance orders them).
    """
    node_root, mem_root, tier_root = base / "node", base / "memory", base / "memory_tiering"
    for d in (node_root, mem_root, tier_root):
        d.mkdir(parents=True)
    (mem_root / "block_size_bytes").write_text(f"{BLOCK_BYTES:x}\n")
    block_pages = BLOCK_BYTES // page
    for n in topo.nodes:
        d = node_root / f"node{n.nid}"
        d.mkdir()
        (d / "cpulist").write_text(",".join(map(str, n.cpus)) + "\n")
        assert n.start_pfn % block_pages == 0 and n.nr_pages % block_pages == 0
        for block in range(n.start_pfn // block_pages, n.end_pfn // block_pages):
            b = mem_root / f"memory{block}"
            b.mkdir()
            (b / "state").write_text("online\n")
            os.symlink(b, d / f"memory{block}")
    for tier, nids in ((1, topo.toptier_nids()), (4, topo.lower_nids())):
        if nids:
            (tier_root / f"memory_tier{tier}").mkdir()
            (tier_root / f"memory_tier{tier}" / "nodelist").write_text(",".join(map(str, nids)) + "\n")
    return node_root


@needs_tomllib
def test_example_round_trips_through_sysfs(tmp_path: Path) -> None:
    t = Topology.from_toml(EXAMPLE)
    back = Topology.from_sysfs(write_sysfs(tmp_path, t), page_size=4096)
    # sysfs has no per-node promotion target: compare without them
    assert [(n.nid, n.start_pfn, n.nr_pages, n.toptier, n.has_cpu, n.cpus) for n in back.nodes] == [
        (n.nid, n.start_pfn, n.nr_pages, n.toptier, n.has_cpu, n.cpus) for n in t.nodes
    ]
    assert back.default_node == t.default_node
    assert [back.node_of_cpu(c) for c in range(64)] == [t.node_of_cpu(c) for c in range(64)]


def test_table_round_trips_through_sysfs_with_a_cpu_less_top_tier_node(tmp_path: Path) -> None:
    blk = BLOCK_BYTES // 4096
    t = Topology.from_table(
        table(
            node(0, True, pages=2 * blk, cpus="0-1"),
            node(1, True, pages=blk),  # CPU-less DRAM in the top tier
            node(5, False, pages=3 * blk, cpus="2"),  # a lower tier with a CPU
        )
    )
    back = Topology.from_sysfs(write_sysfs(tmp_path, t), page_size=4096)
    assert back == t
    assert [n.cpus for n in back.nodes] == [(0, 1), (), (2,)]
    assert back.node_of_cpu(2) == 5 and back.promotion_target(5) == 0


def test_from_sysfs_reads_cpu_lists_and_refuses_a_malformed_one(tmp_path: Path) -> None:
    d = tmp_path / "node" / "node0"
    d.mkdir(parents=True)
    (d / "meminfo").write_text("Node 0 MemTotal: 4096 kB\n")
    (d / "cpulist").write_text("0-3,8\n")
    t = Topology.from_sysfs(tmp_path / "node", page_size=4096)
    assert t.node(0).cpus == (0, 1, 2, 3, 8) and t.node_of_cpu(8) == 0
    (d / "cpulist").write_text("0-3,x\n")
    with pytest.raises(ValueError, match=r"root: .*node0/cpulist: 'x' is not a CPU id"):
        Topology.from_sysfs(tmp_path / "node", page_size=4096)
