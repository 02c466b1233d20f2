"""Tests of pghot.topology: Node, Topology, two_tier, from_sysfs, arrays."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pghot.topology import Node, Topology

PAGE = 4096
BLOCK_BYTES = 0x8000000  # 128 MiB, 32768 pages of 4 KiB
BLOCK_PAGES = BLOCK_BYTES // PAGE


def three_nodes() -> Topology:
    """Two top-tier nodes (0, 2) with a lower-tier node (1) between them."""
    return Topology(
        [
            Node(0, 0, 100, True),
            Node(1, 100, 50, False, has_cpu=False),
            Node(2, 200, 100, True),
        ],
        default_node=0,
    )


# -- Node --------------------------------------------------------------------------


def test_node_fields_and_end_pfn() -> None:
    n = Node(3, 10, 5, False, has_cpu=False)
    assert (n.nid, n.start_pfn, n.nr_pages, n.toptier, n.has_cpu) == (3, 10, 5, False, False)
    assert n.end_pfn == 15
    assert Node(0, 0, 1, True).has_cpu is True


def test_node_is_frozen() -> None:
    n = Node(0, 0, 1, True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        n.nid = 1  # type: ignore[misc]


def test_node_normalises_numpy_values() -> None:
    n = Node(np.int32(1), np.uint64(7), np.int64(3), np.bool_(True), np.bool_(False))  # type: ignore[arg-type]
    assert type(n.nid) is int and type(n.start_pfn) is int and type(n.nr_pages) is int
    assert n.toptier is True and n.has_cpu is False
    assert n == Node(1, 7, 3, True, False)


@pytest.mark.parametrize("field", ["nid", "start_pfn", "nr_pages"])
@pytest.mark.parametrize("bad", [None, 1.0, "1", True, [1]])
def test_node_int_fields_reject_wrong_types(field: str, bad: object) -> None:
    kwargs: dict[str, object] = {"nid": 0, "start_pfn": 0, "nr_pages": 1, "toptier": True}
    kwargs[field] = bad
    with pytest.raises(TypeError, match=field):
        Node(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["toptier", "has_cpu"])
@pytest.mark.parametrize("bad", [None, 1, "yes"])
def test_node_bool_fields_reject_wrong_types(field: str, bad: object) -> None:
    kwargs: dict[str, object] = {"nid": 0, "start_pfn": 0, "nr_pages": 1, "toptier": True}
    kwargs[field] = bad
    with pytest.raises(TypeError, match=field):
        Node(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"nid": -1}, "nid"),
        ({"nid": 2**31 - 1}, "nid"),
        ({"start_pfn": -1}, "start_pfn"),
        ({"nr_pages": -1}, "nr_pages"),
        ({"start_pfn": 2**63, "nr_pages": 1}, "start_pfn"),
    ],
)
def test_node_rejects_bad_values(kwargs: dict[str, int], name: str) -> None:
    full: dict[str, object] = {"nid": 0, "start_pfn": 0, "nr_pages": 1, "toptier": True}
    full.update(kwargs)
    with pytest.raises(ValueError, match=name):
        Node(**full)  # type: ignore[arg-type]


def test_node_largest_range_accepted() -> None:
    assert Node(0, 2**63 - 1, 1, True).end_pfn == 2**63


# -- Topology construction ----------------------------------------------------------


@pytest.mark.parametrize("bad", [None, 5, "nodes", Node(0, 0, 1, True)])
def test_topology_rejects_non_sequence(bad: object) -> None:
    with pytest.raises(TypeError, match="nodes"):
        Topology(bad)  # type: ignore[arg-type]


def test_topology_rejects_non_node_items() -> None:
    with pytest.raises(TypeError, match="nodes"):
        Topology([Node(0, 0, 1, True), (1, 1, 1, False)])  # type: ignore[list-item]


def test_topology_rejects_empty() -> None:
    with pytest.raises(ValueError, match="nodes"):
        Topology([])


def test_topology_rejects_duplicate_nid() -> None:
    with pytest.raises(ValueError, match="nodes: duplicate"):
        Topology([Node(0, 0, 1, True), Node(0, 1, 1, False)])


@pytest.mark.parametrize(("start", "nr"), [(0, 10), (5, 1), (9, 5), (0, 100)])
def test_topology_rejects_overlap(start: int, nr: int) -> None:
    with pytest.raises(ValueError, match="overlap"):
        Topology([Node(0, 0, 10, True), Node(1, start, nr, False)])


def test_topology_adjacent_and_empty_ranges_do_not_overlap() -> None:
    t = Topology([Node(0, 0, 10, True), Node(1, 10, 10, False), Node(2, 5, 0, False)])
    assert t.node_of(9) == 0 and t.node_of(10) == 1 and t.node_of(5) == 0


def test_topology_needs_a_toptier_node() -> None:
    with pytest.raises(ValueError, match="top tier"):
        Topology([Node(0, 0, 10, False)])


def test_topology_default_node_must_be_a_toptier_node() -> None:
    nodes = [Node(0, 0, 10, True), Node(1, 10, 10, False)]
    with pytest.raises(ValueError, match="default_node"):
        Topology(nodes, default_node=1)
    with pytest.raises(ValueError, match="default_node"):
        Topology(nodes, default_node=5)
    with pytest.raises(ValueError, match="default_node"):
        Topology(nodes, default_node=-1)
    with pytest.raises(TypeError, match="default_node"):
        Topology(nodes, default_node=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="default_node"):
        Topology(nodes, default_node=0.0)  # type: ignore[arg-type]


def test_topology_default_node_zero_needs_node_zero() -> None:
    with pytest.raises(ValueError, match="default_node"):
        Topology([Node(1, 0, 10, True)])
    assert Topology([Node(1, 0, 10, True)], default_node=1).default_node == 1


def test_topology_accepts_any_iterable_and_sorts_by_nid() -> None:
    t = Topology(n for n in [Node(2, 0, 1, True), Node(0, 1, 1, True)])
    assert [n.nid for n in t.nodes] == [0, 2]
    assert isinstance(t.nodes, tuple)


# -- Topology queries ---------------------------------------------------------------


def test_node_of_boundaries_and_holes() -> None:
    t = three_nodes()
    assert [t.node_of(p) for p in (0, 99, 100, 149, 150, 199, 200, 299, 300, 10**12)] == [
        0,
        0,
        1,
        1,
        -1,
        -1,
        2,
        2,
        -1,
        -1,
    ]
    assert t.node_of(np.uint64(120)) == 1


def test_node_of_validation() -> None:
    t = three_nodes()
    with pytest.raises(ValueError, match="pfn"):
        t.node_of(-1)
    for bad in (None, 1.5, "3"):
        with pytest.raises(TypeError, match="pfn"):
            t.node_of(bad)  # type: ignore[arg-type]


def test_is_toptier_and_promotion_target() -> None:
    t = three_nodes()
    assert [t.is_toptier(n) for n in (0, 1, 2, -1)] == [True, False, True, False]
    # F7: a lower-tier (or unknown) accessing node maps to the default node,
    # never to a queue of its own.
    assert [t.promotion_target(n) for n in (0, 1, 2, -1)] == [0, 0, 2, 0]
    t2 = Topology(t.nodes, default_node=2)
    assert [t2.promotion_target(n) for n in (0, 1, 2, -1)] == [0, 2, 2, 2]


@pytest.mark.parametrize("method", ["is_toptier", "promotion_target", "node"])
def test_unknown_nid_rejected(method: str) -> None:
    t = three_nodes()
    for bad in (3, 1000, -2):
        with pytest.raises(ValueError, match="nid"):
            getattr(t, method)(bad)
    with pytest.raises(TypeError, match="nid"):
        getattr(t, method)(None)


def test_nid_lists_and_pages() -> None:
    t = three_nodes()
    assert t.toptier_nids() == (0, 2)
    assert t.lower_nids() == (1,)
    assert t.lower_pages() == 50
    assert t.node(2) == Node(2, 200, 100, True)
    assert Topology([Node(0, 0, 5, True)]).lower_pages() == 0


def test_eq_hash_repr() -> None:
    t = three_nodes()
    assert t == three_nodes()
    assert hash(t) == hash(three_nodes())
    assert t != Topology(t.nodes, default_node=2)
    assert t != "topology"
    assert eval(repr(t), {"Topology": Topology, "Node": Node}) == t
    assert repr(Topology.two_tier(1, 2)).startswith("Topology(nodes=(Node(nid=0")


def test_two_tier() -> None:
    t = Topology.two_tier(1000, 3000)
    assert t.nodes == (
        Node(0, 0, 1000, True, True),
        Node(1, 1000, 3000, False, False),
    )
    assert t.default_node == 0
    assert t.lower_pages() == 3000
    assert Topology.two_tier(0, 0).lower_pages() == 0


def test_two_tier_validation() -> None:
    with pytest.raises(ValueError, match="top_pages"):
        Topology.two_tier(-1, 1)
    with pytest.raises(ValueError, match="lower_pages"):
        Topology.two_tier(1, -1)
    with pytest.raises(TypeError, match="top_pages"):
        Topology.two_tier(None, 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="lower_pages"):
        Topology.two_tier(1, 2.0)  # type: ignore[arg-type]


def test_arrays() -> None:
    t = Topology(
        [Node(3, 0, 10, True), Node(0, 50, 10, False), Node(1, 10, 5, True)],
        default_node=1,
    )
    a = t.arrays()
    assert set(a) == {"nid", "start_pfn", "nr_pages", "toptier", "ids", "id_target"}
    assert a["nid"].dtype == np.int32 and a["nid"].tolist() == [3, 1, 0]
    assert a["start_pfn"].dtype == np.uint64 and a["start_pfn"].tolist() == [0, 10, 50]
    assert a["nr_pages"].dtype == np.uint64 and a["nr_pages"].tolist() == [10, 5, 10]
    assert a["toptier"].dtype == np.uint8 and a["toptier"].tolist() == [1, 1, 0]
    assert a["ids"].dtype == np.int32 and a["ids"].tolist() == [0, 1, 3]
    assert a["id_target"].dtype == np.int32 and a["id_target"].tolist() == [1, 1, 3]


def test_arrays_cost_the_number_of_nodes_not_the_largest_id() -> None:
    t = Topology([Node(2**30 - 1, 0, 10, True), Node(5, 10, 10, False)], default_node=2**30 - 1)
    a = t.arrays()
    assert sum(v.nbytes for v in a.values()) < 200
    assert a["ids"].tolist() == [5, 2**30 - 1] and a["id_target"].tolist() == [2**30 - 1] * 2


# -- properties ---------------------------------------------------------------------


@st.composite
def topologies(draw: st.DrawFn) -> Topology:
    """Random valid topologies: disjoint ranges, random tiers, some gaps."""
    count = draw(st.integers(1, 6))
    nids = draw(st.lists(st.integers(0, 40), min_size=count, max_size=count, unique=True))
    nodes = []
    pfn = draw(st.integers(0, 50))
    for nid in draw(st.permutations(nids)):
        nr = draw(st.integers(0, 30))
        nodes.append(Node(nid, pfn, nr, draw(st.booleans()), draw(st.booleans())))
        pfn += nr + draw(st.integers(0, 5))
    if not any(n.toptier for n in nodes):
        nodes[0] = dataclasses.replace(nodes[0], toptier=True)
    top = [n.nid for n in nodes if n.toptier]
    return Topology(nodes, default_node=draw(st.sampled_from(top)))


@given(topologies(), st.integers(0, 400))
def test_node_of_matches_brute_force(t: Topology, pfn: int) -> None:
    owners = [n.nid for n in t.nodes if n.start_pfn <= pfn < n.end_pfn]
    assert t.node_of(pfn) == (owners[0] if owners else -1)


@given(topologies())
def test_arrays_match_queries(t: Topology) -> None:
    a = t.arrays()
    assert np.all(np.diff(a["start_pfn"].astype(np.int64)) >= 0)
    assert sorted(a["nid"].tolist()) == [n.nid for n in t.nodes]
    for i, nid in enumerate(a["nid"].tolist()):
        node = t.node(nid)
        assert (int(a["start_pfn"][i]), int(a["nr_pages"][i])) == (node.start_pfn, node.nr_pages)
        assert bool(a["toptier"][i]) == node.toptier
    assert a["ids"].tolist() == sorted(n.nid for n in t.nodes)
    for nid, target in zip(a["ids"].tolist(), a["id_target"].tolist()):
        assert target == t.promotion_target(nid)
    assert t.lower_pages() == sum(n.nr_pages for n in t.nodes if not n.toptier)
    assert set(t.toptier_nids()) | set(t.lower_nids()) == {n.nid for n in t.nodes}
    assert t.is_toptier(t.default_node)


# -- from_sysfs on fake trees --------------------------------------------------------


def make_sysfs(
    base: Path,
    nodes: dict[int, dict[str, object]],
    *,
    block_bytes: int | None = BLOCK_BYTES,
    tiers: dict[int, str] | None = None,
) -> Path:
    """Build a fake ``/sys/devices/system`` under ``base``; return the node dir.

    ``nodes[nid]`` may hold ``cpus`` (cpulist text), ``mem_kb`` (MemTotal),
    ``blocks`` (memory block ids) and ``offline`` (block ids whose state is
    offline). Memory blocks live under ``memory/`` and are symlinked from the
    node directory, as in the real sysfs.
    """
    node_root = base / "node"
    mem_root = base / "memory"
    node_root.mkdir(parents=True)
    mem_root.mkdir()
    if block_bytes is not None:
        (mem_root / "block_size_bytes").write_text(f"{block_bytes:x}\n")
    (node_root / "online").write_text(",".join(str(n) for n in nodes) + "\n")
    for nid, spec in nodes.items():
        d = node_root / f"node{nid}"
        d.mkdir()
        (d / "cpulist").write_text(str(spec.get("cpus", "")) + "\n")
        kb = spec.get("mem_kb", 0)
        (d / "meminfo").write_text(f"Node {nid} MemTotal:       {kb} kB\nNode {nid} MemFree:        0 kB\n")
        offline = set(spec.get("offline", ()))  # type: ignore[call-overload]
        for block in spec.get("blocks", ()):  # type: ignore[attr-defined]
            b = mem_root / f"memory{block}"
            b.mkdir()
            (b / "state").write_text("offline\n" if block in offline else "online\n")
            (b / "phys_index").write_text(f"{block:08x}\n")
            os.symlink(b, d / f"memory{block}")
    if tiers is not None:
        tier_root = base / "memory_tiering"
        tier_root.mkdir()
        for tier_id, nodelist in tiers.items():
            t = tier_root / f"memory_tier{tier_id}"
            t.mkdir()
            (t / "nodelist").write_text(nodelist + "\n")
    return node_root


def test_from_sysfs_single_node_blocks(tmp_path: Path) -> None:
    root = make_sysfs(tmp_path, {0: {"cpus": "0-1", "blocks": range(4), "mem_kb": 1}})
    t = Topology.from_sysfs(root, page_size=PAGE)
    assert t.nodes == (Node(0, 0, 4 * BLOCK_PAGES, True, True),)
    assert t.default_node == 0


def test_from_sysfs_cpuless_node_is_lower_tier(tmp_path: Path) -> None:
    root = make_sysfs(
        tmp_path,
        {
            0: {"cpus": "0-3", "blocks": [0, 1]},
            1: {"cpus": "", "blocks": [8, 9, 10]},
        },
    )
    t = Topology.from_sysfs(root, page_size=PAGE)
    assert t.nodes == (
        Node(0, 0, 2 * BLOCK_PAGES, True, True),
        Node(1, 8 * BLOCK_PAGES, 3 * BLOCK_PAGES, False, False),
    )
    assert t.lower_pages() == 3 * BLOCK_PAGES


def test_from_sysfs_offline_blocks_and_holes(tmp_path: Path) -> None:
    # Node 0: blocks 0-1 and 4 (a hole at 2-3, spanned); block 5 offline.
    root = make_sysfs(tmp_path, {0: {"cpus": "0", "blocks": [0, 1, 4, 5], "offline": [5]}})
    t = Topology.from_sysfs(root, page_size=PAGE)
    assert t.nodes == (Node(0, 0, 5 * BLOCK_PAGES, True, True),)
    assert t.node_of(5 * BLOCK_PAGES) == -1


def test_from_sysfs_page_size_scales_ranges(tmp_path: Path) -> None:
    root = make_sysfs(tmp_path, {0: {"cpus": "0", "blocks": [2]}})
    t = Topology.from_sysfs(root, page_size=65536)
    assert t.nodes == (Node(0, 2 * BLOCK_BYTES // 65536, BLOCK_BYTES // 65536, True),)


def test_from_sysfs_memoryless_node(tmp_path: Path) -> None:
    root = make_sysfs(tmp_path, {0: {"cpus": "0", "blocks": [0]}, 1: {"cpus": "1"}})
    t = Topology.from_sysfs(root, page_size=PAGE)
    assert t.node(1) == Node(1, 0, 0, True, True)
    assert t.toptier_nids() == (0, 1)


def test_from_sysfs_meminfo_fallback(tmp_path: Path) -> None:
    root = make_sysfs(
        tmp_path,
        {0: {"cpus": "0-1", "mem_kb": 4096}, 1: {"mem_kb": 8192}, 2: {"mem_kb": 0}},
        block_bytes=None,
    )
    t = Topology.from_sysfs(root, page_size=PAGE)
    assert t.nodes == (
        Node(0, 0, 1024, True, True),
        Node(1, 1024, 2048, False, False),
        Node(2, 0, 0, False, False),
    )


def test_from_sysfs_meminfo_fallback_without_blocks(tmp_path: Path) -> None:
    # block_size_bytes present but no node links a memory block.
    root = make_sysfs(tmp_path, {0: {"cpus": "0", "mem_kb": 400}})
    assert Topology.from_sysfs(root, page_size=PAGE).nodes == (Node(0, 0, 100, True),)


def test_from_sysfs_tiers_decide_toptier(tmp_path: Path) -> None:
    # Node 1 has CPUs but sits in a slower tier; node 2 is CPU-less DRAM in
    # the top tier. Tier ids: lowest is top.
    root = make_sysfs(
        tmp_path,
        {
            0: {"cpus": "0-1", "blocks": [0]},
            1: {"cpus": "2-3", "blocks": [1]},
            2: {"blocks": [2]},
        },
        tiers={22: "1", 4: "0,2"},
    )
    t = Topology.from_sysfs(root, page_size=PAGE)
    assert t.toptier_nids() == (0, 2)
    assert t.lower_nids() == (1,)
    assert t.node(1).has_cpu and not t.node(2).has_cpu
    assert t.default_node == 0


def test_from_sysfs_tier_ranges_and_unlisted_nodes(tmp_path: Path) -> None:
    root = make_sysfs(
        tmp_path,
        {n: {"cpus": "0" if n == 0 else "", "blocks": [n]} for n in range(4)},
        tiers={4: "0-1", 8: "", 9: "2"},  # node 3 unlisted: lower tier
    )
    t = Topology.from_sysfs(root, page_size=PAGE)
    assert t.toptier_nids() == (0, 1)
    assert t.lower_nids() == (2, 3)


def test_from_sysfs_default_node_prefers_cpus(tmp_path: Path) -> None:
    root = make_sysfs(
        tmp_path,
        {0: {"blocks": [0]}, 1: {"cpus": "0", "blocks": [1]}, 2: {"blocks": [2]}},
        tiers={1: "0-1", 2: "2"},
    )
    t = Topology.from_sysfs(root, page_size=PAGE)
    assert t.default_node == 1
    assert t.promotion_target(2) == 1 and t.promotion_target(0) == 0


def test_from_sysfs_default_node_without_cpus(tmp_path: Path) -> None:
    root = make_sysfs(tmp_path, {0: {"blocks": [0]}, 1: {"blocks": [1]}}, tiers={1: "1", 3: "0"})
    t = Topology.from_sysfs(root, page_size=PAGE)
    assert t.toptier_nids() == (1,) and t.default_node == 1


def test_from_sysfs_explicit_roots(tmp_path: Path) -> None:
    make_sysfs(
        tmp_path / "a",
        {0: {"cpus": "0", "blocks": [0]}, 1: {"blocks": [1]}},
        tiers={0: "1", 1: "0"},
    )
    moved = tmp_path / "elsewhere"
    (tmp_path / "a" / "memory_tiering").rename(moved)
    default = Topology.from_sysfs(tmp_path / "a" / "node", page_size=PAGE)
    assert default.toptier_nids() == (0,)  # no tiers found: CPU rule
    explicit = Topology.from_sysfs(
        str(tmp_path / "a" / "node"),
        memory_root=tmp_path / "a" / "memory",
        tiering_root=moved,
        page_size=PAGE,
    )
    assert explicit.toptier_nids() == (1,)


def test_from_sysfs_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Topology.from_sysfs(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="root"):
        Topology.from_sysfs(tmp_path / "empty")
    root = make_sysfs(tmp_path / "cpuless", {0: {"blocks": [0]}})
    with pytest.raises(ValueError, match="top-tier"):
        Topology.from_sysfs(root, page_size=PAGE)
    root = make_sysfs(tmp_path / "ok", {0: {"cpus": "0", "blocks": [0]}})
    with pytest.raises(ValueError, match="page_size"):
        Topology.from_sysfs(root, page_size=0)
    with pytest.raises(TypeError, match="page_size"):
        Topology.from_sysfs(root, page_size=4096.0)  # type: ignore[arg-type]


def test_from_sysfs_ignores_other_entries(tmp_path: Path) -> None:
    root = make_sysfs(tmp_path, {0: {"cpus": "0", "blocks": [0]}})
    (root / "node_extra").mkdir()
    (root / "node7").write_text("not a directory\n")
    (root / "has_cpu").write_text("0\n")
    assert [n.nid for n in Topology.from_sysfs(root, page_size=PAGE).nodes] == [0]


@pytest.mark.skipif(not os.path.isdir("/sys/devices/system/node"), reason="no NUMA sysfs on this machine")
def test_from_sysfs_real_machine() -> None:
    t = Topology.from_sysfs()
    assert len(t.toptier_nids()) >= 1
    assert t.is_toptier(t.default_node)
    assert all(n.nr_pages >= 0 for n in t.nodes)
