"""The multi-node simulated machine: a topology's nodes, accesses from several of them.

Hand-computed small traces on a four-node machine (two sockets with CPUs,
nodes 0 and 1, two pages each; two CPU-less CXL nodes, 2 behind socket 0
and 3 behind socket 1): where each first touch lands (the accessing
socket, then the other one, then the lower tier, the socket's own expander
first), promotions to the accessing node (SEMANTICS.md F4 and F7 on the
replay's machine), per-node statistics that sum to the totals, the config's
``topology`` and the CLI's ``--topology``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pghot import Topology, Tracker
from pghot.cli import main
from pghot.machine.memory import TieredMemory
from pghot.model.memory import TieredMemory as ReferenceMemory
from pghot.sim import SimConfig, load_config, replay
from pghot.traces import TraceChunk

ENGINES = ("compiled", "reference")


def four_nodes(*, cpu_on_cxl: bool = False) -> dict[str, Any]:
    """Sockets 0 and 1 (two pages, CPUs 0-1 and 2-3), CXL nodes 2 and 3 (eight pages each)."""
    cxl1: dict[str, Any] = {"id": 3, "pages": 8, "toptier": False, "promotion_target": 1}
    if cpu_on_cxl:  # F7: a CPU on a lower-tier node
        cxl1["cpus"] = "8-9"
    return {
        "nodes": [
            {"id": 0, "pages": 2, "toptier": True, "cpus": "0-1"},
            {"id": 1, "pages": 2, "toptier": True, "cpus": "2-3"},
            {"id": 2, "pages": 8, "toptier": False, "promotion_target": 0},
            cxl1,
        ]
    }


def chunk(pages: list[int], nids: list[int], times_ms: list[int] | None = None) -> TraceChunk:
    """A virtual-address trace: page ``p`` at ``0x10000 + p * 4096``, access ``i`` at ``i`` ms."""
    t = np.array(times_ms if times_ms is not None else range(len(pages)), dtype=np.int64)
    vaddr = np.array(pages, dtype=np.uint64) * np.uint64(4096) + np.uint64(0x10000)
    return TraceChunk(time_ns=t * 1_000_000, vaddr=vaddr, nid=np.array(nids, dtype=np.int32))


EVERY = [{"name": "hw-hints", "sample_every": 1}]


# -- first touch ----------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [TieredMemory, ReferenceMemory])
def test_first_touch_on_the_accessing_socket_then_fallback(cls: Any) -> None:
    topo = SimConfig(topology=four_nodes()).sim_topology()
    assert topo is not None
    # PFNs: node 0 0-1, node 1 2-3, node 2 4-11, node 3 12-19
    mem = cls(topo, logical_pages=6)
    mem.set_first_touch_nodes([1, 1, 1, 0, 0, 1])
    # pages 0, 1 on socket 1; page 2's socket 1 is full: socket 0; page 3 socket 0; page 4
    # (socket 0, both full): its own expander, node 2; page 5 (socket 1): node 3
    assert mem.access([0, 1, 2, 3, 4, 5]).tolist() == [2, 3, 0, 1, 4, 12]
    mem.check()


@pytest.mark.parametrize("cls", [TieredMemory, ReferenceMemory])
def test_demotion_goes_to_the_socket_s_own_expander_first(cls: Any) -> None:
    topo = SimConfig(topology=four_nodes()).sim_topology()
    assert topo is not None
    # PFNs: node 0 0-1, node 1 2-3, node 2 4-11 (behind 0), node 3 12-19 (behind 1)
    mem = cls(topo, logical_pages=24)
    mem.set_first_touch_nodes([0, 0, 1, 1] + [-1] * 20)
    assert mem.access([0, 1, 2, 3]).tolist() == [0, 1, 2, 3]
    # socket 1's victims go to node 3, socket 0's to node 2 (not the lowest nid's)
    assert mem.demote(1, 1, now=0).tolist() == [2]
    assert mem.demote(0, 1, now=0).tolist() == [0]
    assert mem.pfns_of([2, 0]).tolist() == [12, 4]
    assert mem.demote_pfns([3], now=0).tolist() == [3] and mem.pfn_of(3) == 13
    # a promotion into full socket 1 of page 4 (on node 2, behind socket 0): its victim,
    # page 0 (CLOCK from PFN 2 once every bit is clear), to socket 1's expander, node 3
    mem3 = cls(topo, logical_pages=24)
    mem3.set_first_touch_nodes([1, 1, 0, 0, 0] + [-1] * 19)
    assert mem3.access([0, 1, 2, 3, 4]).tolist() == [2, 3, 0, 1, 4]
    assert mem3.migrate(4, 1, now=1) is True
    assert mem3.pfns_of([0, 4]).tolist() == [12, 2]
    assert mem3.node_stats()[1]["demotions"] == 1
    mem3.check()
    stats = mem.node_stats()
    assert stats[1]["demotions"] == 2 and stats[0]["demotions"] == 1
    # node 3 full: socket 1 falls back to node 2
    mem2 = cls(topo, logical_pages=24)
    mem2.set_first_touch_nodes([1] * 24)
    placed = mem2.access(list(range(12))).tolist()  # 2 on node 1, 2 on node 0, 8 on node 3
    assert sorted(placed) == [0, 1, 2, 3, *range(12, 20)]
    (victim,) = mem2.demote(1, 1, now=0).tolist()
    assert mem2.pfn_of(victim) in range(4, 12)
    mem.check()
    mem2.check()


@pytest.mark.parametrize("cls", [TieredMemory, ReferenceMemory])
def test_set_first_touch_nodes_checks(cls: Any) -> None:
    topo = SimConfig(topology=four_nodes()).sim_topology()
    mem = cls(topo, logical_pages=3)
    with pytest.raises(ValueError, match="nids: 2 is not a top-tier node"):
        mem.set_first_touch_nodes([0, 2, 1])
    with pytest.raises(ValueError, match="nids: 2 values for 3 logical pages"):
        mem.set_first_touch_nodes([0, 1])
    assert mem.access([0, 1, 2]).tolist() == [0, 1, 2]  # nothing changed: the default list


@pytest.mark.parametrize("engine", ENGINES)
def test_replay_places_first_touches_on_the_accessing_node(engine: str) -> None:
    # as the memory test, then each page once more: pages 0-3 hit (0, 1 on node 1; 2, 3 on node 0)
    pages = [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5]
    nids = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    r = replay(
        [chunk(pages, nids)],
        SimConfig(topology=four_nodes()),
        policies=["none"],
        progress=False,
        engine=engine,
    )
    p = r["none"]
    assert p.top_tier_hits == 8
    assert p.nodes[0] == {"toptier": 1, "accesses": 8, "hits": 4, "promotions": 0, "demotions": 0}
    assert p.nodes[1] == {"toptier": 1, "accesses": 4, "hits": 4, "promotions": 0, "demotions": 0}
    assert p.nodes[2]["accesses"] == p.nodes[3]["accesses"] == 0
    assert r.config.top_pages == 4 and r.config.lower_pages == 16


def test_replay_without_a_node_column_is_all_from_the_default_node() -> None:
    c = chunk([0, 1, 2, 3, 4], [0] * 5)
    plain = TraceChunk(time_ns=c.time_ns, vaddr=c.vaddr)
    topo = {**four_nodes(), "default_node": 1}
    r = replay([plain], SimConfig(topology=topo), policies=["none"], progress=False)
    # the default node's list: node 1, node 0, then node 3 (behind node 1) first
    assert r["none"].nodes[1]["accesses"] == 5 and r["none"].nodes[0]["accesses"] == 0
    assert r["none"].nodes[1]["hits"] == 2 and r["none"].nodes[0]["hits"] == 2
    assert any("no nid or cpu column" in n and "default node 1" in n for n in r.notes)


# -- promotions to the accessing node ---------------------------------------------------------

#: (page, nid, ms): sockets filled (a, b on 0; c, d on 1), then e twice from socket 1, f twice
#: from socket 0, g twice from socket 0 and twice from socket 1 (its target moves: F4), h twice
#: from a CPU on CXL node 3 (F7: promoted to node 3's target, node 1), and a at 30 ms so that
#: kpromoted's round at 20 ms runs
SCENARIO = [
    (0, 0, 0), (1, 0, 1), (2, 1, 2), (3, 1, 3),
    (4, 1, 4), (4, 1, 5),
    (5, 0, 6), (5, 0, 7),
    (6, 0, 8), (6, 0, 9), (6, 1, 10), (6, 1, 11),
    (7, 3, 12), (7, 3, 13),
    (0, 0, 30),
]  # fmt: skip


@pytest.mark.parametrize("engine", ENGINES)
def test_pghot_promotes_to_the_accessing_node(engine: str) -> None:
    pages, nids, ms = (list(x) for x in zip(*SCENARIO))
    # room for three records in socket 1's queue (v2 sizes it from the lower tier: two here)
    # the hand-computed times assume the defaults unscaled (20 ms rounds, 5 s window)
    cfg = SimConfig(
        topology=four_nodes(cpu_on_cxl=True),
        sources=EVERY,
        tracker={"queue_capacity": 4},
        scale_to_trace="off",
    )
    policies = ["pghot", "none", "second-access"]
    r = replay([chunk(pages, nids, ms)], cfg, policies=policies, progress=False, engine=engine)
    p = r["pghot"]
    # f to socket 0; e, g (after its move to socket 1) and h (from node 3: its target) to socket 1
    assert p.promotions == 4
    assert p.nodes[0]["promotions"] == 1 and p.nodes[1]["promotions"] == 3
    assert p.nodes[0]["demotions"] == 1 and p.nodes[1]["demotions"] == 3  # each into a full socket
    assert p.nodes[3]["accesses"] == 2 and p.nodes[0]["accesses"] == 7 and p.nodes[1]["accesses"] == 6
    # a (demoted by f's promotion at 20 ms) misses at 30 ms: the four first touches of the sockets hit
    assert p.top_tier_hits == 4 and p.nodes[0]["hits"] == 2 and p.nodes[1]["hits"] == 2
    assert p.stats["tracker"]["queue_full"] == 0
    # second-access at each page's second report: e (socket 1), f and g (socket 0, g before its
    # move: then it is on the top tier), h (node 3's target, socket 1)
    s = r["second-access"]
    assert s.promotions == 4 and s.nodes[0]["promotions"] == 2 and s.nodes[1]["promotions"] == 2
    for q in r.policies.values():  # the per-node statistics sum to the totals
        assert sum(n["accesses"] for n in q.nodes.values()) == q.accesses == len(SCENARIO)
        assert sum(n["hits"] for n in q.nodes.values()) == q.top_tier_hits
        assert sum(n["promotions"] for n in q.nodes.values()) == q.promotions
        assert sum(n["demotions"] for n in q.nodes.values()) == q.demotions


def test_f4_a_moved_record_is_promoted_once_to_its_new_node() -> None:
    # g alone: queued for socket 0 at 9 ms, then its accesses come from socket 1. v2 left it in
    # socket 0's heap as well (F4): it would be promoted to socket 0, or twice. Here: once, to 1.
    trace = [(0, 0, 0), (1, 0, 1), (2, 1, 2), (3, 1, 3), (6, 0, 8), (6, 0, 9), (6, 1, 10), (6, 1, 11),
             (0, 0, 30)]  # fmt: skip
    pages, nids, ms = (list(x) for x in zip(*trace))
    cfg = SimConfig(topology=four_nodes(), sources=EVERY, scale_to_trace="off")
    p = replay([chunk(pages, nids, ms)], cfg, policies=["pghot"], progress=False)["pghot"]
    assert p.promotions == 1
    assert p.nodes[1]["promotions"] == 1 and p.nodes[0]["promotions"] == 0


def test_f7_a_cpu_on_a_lower_tier_node_promotes_to_its_target() -> None:
    trace = [(0, 0, 0), (1, 0, 1), (2, 1, 2), (3, 1, 3), (7, 3, 12), (7, 3, 13), (0, 0, 30)]
    pages, nids, ms = (list(x) for x in zip(*trace))
    cfg = SimConfig(topology=four_nodes(cpu_on_cxl=True), sources=EVERY)
    p = replay([chunk(pages, nids, ms)], cfg, policies=["pghot"], progress=False)["pghot"]
    assert p.promotions == 1 and p.nodes[1]["promotions"] == 1  # node 3's promotion target
    assert p.stats["promoter"].get("kpromoted_dropped", 0) == 0


def test_f7_a_nid_that_is_no_node_is_an_error() -> None:
    with pytest.raises(
        ValueError, match=r"record 2: nid 7 is not a node of the topology \(nodes \[0, 1, 2, 3\]"
    ):
        replay([chunk([0, 1, 2], [0, 1, 7])], SimConfig(topology=four_nodes()), progress=False)


def test_the_cpu_column_maps_to_nodes() -> None:
    c = chunk([0, 1, 2], [0, 0, 0])
    cpu = TraceChunk(time_ns=c.time_ns, vaddr=c.vaddr, cpu=np.array([3, 2, 0], dtype=np.int32))
    p = replay([cpu], SimConfig(topology=four_nodes()), policies=["none"], progress=False)["none"]
    assert p.nodes[1]["accesses"] == 2 and p.nodes[0]["accesses"] == 1
    assert p.nodes[1]["hits"] == 2 and p.nodes[0]["hits"] == 1  # each on its own socket
    bad = TraceChunk(time_ns=c.time_ns, vaddr=c.vaddr, cpu=np.array([3, 12, 0], dtype=np.int32))
    with pytest.raises(ValueError, match="cpu column on the topology: .*CPU 12 is in no node"):
        replay([bad], SimConfig(topology=four_nodes()), progress=False)


def test_two_tier_results_have_two_nodes() -> None:
    r = replay(
        [chunk([0, 1, 2, 0], [0] * 4)],
        SimConfig(top_pages=1, lower_pages=8),
        policies=["none"],
        progress=False,
    )
    assert r["none"].nodes == {
        0: {"toptier": 1, "accesses": 4, "hits": 2, "promotions": 0, "demotions": 0},
        1: {"toptier": 0, "accesses": 0, "hits": 0, "promotions": 0, "demotions": 0},
    }
    assert "promoted into" not in r.summary()  # the per-node table: more than two nodes only


# -- the config and the CLI ---------------------------------------------------------------


def test_config_topology_errors_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(
        TypeError, match="config: topology must be a path to a TOML topology table or a table"
    ):
        SimConfig(topology=5)  # type: ignore[arg-type]
    bad = {"nodes": [{"id": 0, "pages": -1, "toptier": True}]}
    with pytest.raises(ValueError, match=r"config: topology: nodes\[0\].pages must be >= 0"):
        SimConfig(topology=bad)
    with pytest.raises(ValueError, match="config: top_pages: 3 differs from the 4 pages of the topology"):
        SimConfig(topology=four_nodes(), top_pages=3)
    assert SimConfig(topology=four_nodes(), top_pages=4, lower_pages=16).top_pages == 4
    with pytest.raises(ValueError, match="config: topology: .*nope.toml: no such file"):
        SimConfig(topology=str(tmp_path / "nope.toml"))
    with pytest.raises(ValueError, match="page_size 8192 differs from the config's page_size 4096"):
        SimConfig(topology={**four_nodes(), "page_size": 8192})
    cfg = tmp_path / "c.toml"
    cfg.write_text('[topology]\n[[topology.nodes]]\nid = 0\npages = 4\ntoptier = true\nsize = "1 MiB"\n')
    with pytest.raises(ValueError, match=rf"{cfg}: config: topology: nodes\[0\]: give exactly one of"):
        load_config(cfg)


TOPO_TOML = """
[[nodes]]
id = 0
pages = 2
toptier = true
cpus = "0-1"
[[nodes]]
id = 1
pages = 2
toptier = true
cpus = "2-3"
[[nodes]]
id = 2
pages = 8
toptier = false
promotion_target = 0
[[nodes]]
id = 3
pages = 8
toptier = false
promotion_target = 1
"""


def test_config_file_topology_path_is_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "topo.toml").write_text(TOPO_TOML)
    cfg = tmp_path / "sub" / "c.toml"
    cfg.write_text('topology = "topo.toml"\n')
    c = load_config(cfg)
    topo = c.sim_topology()
    assert topo is not None and topo.toptier_nids() == (0, 1)
    assert c.with_overrides({"hz": 100}).sim_topology() == topo


def test_cli_topology(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    topo = tmp_path / "topo.toml"
    topo.write_text(TOPO_TOML)
    trace = tmp_path / "t.csv"
    rows = ["vaddr,time_us,nid"] + [
        f"{0x10000 + (i % 6) * 4096:#x},{i * 1000},{(i // 6) % 2}" for i in range(48)
    ]
    trace.write_text("\n".join(rows) + "\n")
    argv = ["replay", str(trace), "--topology", str(topo), "--policies", "pghot,none", "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "promoted into" in out and "lower tier 16 pages" in out
    assert "  nodes: 0 top 2 pages CPUs 0-1 (default); 1 top 2 pages CPUs 2-3; 2 lower 8 pages -> 0;" in out
    assert main([*argv, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert set(d["policies"]["none"]["nodes"]) == {"0", "1", "2", "3"}
    assert d["policies"]["none"]["nodes"]["0"]["accesses"] == 24
    with pytest.raises(SystemExit):
        main([*argv, "--top-pages", "3"])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pghot: error: ")
    assert "top_pages: 3 differs from the 4 pages of the topology" in err
    with pytest.raises(SystemExit):
        main([*argv[:3], str(tmp_path / "missing.toml"), *argv[4:]])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "config: topology: " in err and "missing.toml: no such file" in err


def test_chunks_with_and_without_nodes_mix() -> None:
    # the second chunk has no nid column: its accesses are unknown (-1), from the default node
    first = chunk([0, 1, 2], [1, 1, 1], [0, 1, 2])
    second = TraceChunk(time_ns=np.array([2, 3, 4], np.int64) * 1_000_000, vaddr=first.vaddr)
    cfg = SimConfig(topology=four_nodes(), sources=EVERY)
    for engine in ENGINES:
        p = replay([first, second], cfg, policies=["pghot"], progress=False, engine=engine)["pghot"]
        assert p.nodes[1]["accesses"] == 3 and p.nodes[0]["accesses"] == 3
        assert p.nodes[1]["hits"] == 4 and p.nodes[0]["hits"] == 2  # pages 0, 1 on 1; page 2 on 0


def test_a_perf_trace_cpus_are_the_accessing_nodes() -> None:
    from pghot.traces import open_trace

    path = str(Path(__file__).parent / "data" / "mem_loads.perf")
    with open_trace(path) as reader:
        cpus = np.concatenate([c.cpu for c in reader if c.cpu is not None])
    topo = four_nodes()
    topo["nodes"][0]["cpus"] = "0-3"
    topo["nodes"][1]["cpus"] = "4-255"
    p = replay(path, SimConfig(topology=topo), policies=["none"], progress=False)["none"]
    assert p.nodes[0]["accesses"] == int(np.count_nonzero(cpus < 4)) > 0
    assert p.nodes[1]["accesses"] == int(np.count_nonzero(cpus >= 4)) > 0


@pytest.mark.parametrize("seed", range(4))
def test_compiled_memory_matches_the_reference_on_four_nodes(seed: int) -> None:
    """Random first touches from both sockets, promotions and demotions: same PFNs, same counts."""
    topo = SimConfig(topology=four_nodes()).sim_topology()
    assert topo is not None
    rng = np.random.default_rng(seed)
    homes = rng.choice([-1, 0, 1], size=18)
    mems: list[Any] = [TieredMemory(topo, logical_pages=18), ReferenceMemory(topo, logical_pages=18)]
    for m in mems:
        m.set_first_touch_nodes(homes)
    for step in range(60):
        kind = rng.integers(0, 3)
        if kind == 0:
            pages = rng.integers(0, 18, rng.integers(1, 6))
            got = [m.access(pages).tolist() for m in mems]
        elif kind == 1:
            pfns = rng.integers(0, 20, rng.integers(1, 4))
            target = int(rng.integers(0, 2))
            got = [m.migrate_batch(pfns, target, now=step).tolist() for m in mems]
        else:
            nid, n = int(rng.integers(0, 2)), int(rng.integers(0, 3))
            got = [m.demote(nid, n, now=step).tolist() for m in mems]
        assert got[0] == got[1], (step, kind)
        assert mems[0].node_stats() == mems[1].node_stats()
    for m in mems:
        m.check()
    assert mems[0].pfns_of(np.arange(18)).tolist() == mems[1].pfns_of(np.arange(18)).tolist()
    stats = mems[0].node_stats()
    assert sum(s["promotions"] for s in stats.values()) == mems[0].stats()["pgpromote_success"]
    assert sum(s["demotions"] for s in stats.values()) == mems[0].stats()["pgdemote_kswapd"]


def test_a_topology_object_is_taken_as_its_table() -> None:
    topo = SimConfig(topology=four_nodes()).sim_topology()
    assert topo is not None
    c = SimConfig(topology=topo)
    assert isinstance(c.topology, dict) and c.sim_topology() == topo


def test_a_topology_the_tracker_cannot_hold_fails_before_the_trace_is_read() -> None:
    topo = {"nodes": [{"id": 0, "pages": 4, "toptier": True}, {"id": 2000, "pages": 8, "toptier": False}]}
    cfg = SimConfig(topology=topo)
    with pytest.raises(ValueError, match="config: tracker: nid_bits=10 cannot hold node id 2000"):
        cfg.validate()
    assert (
        SimConfig(topology=topo, tracker={"nid_bits": 11, "time_bits": 18}).validate().sim_topology()
        is not None
    )


def test_second_access_kernel_rep_targets_are_checked() -> None:
    topo = SimConfig(topology=four_nodes()).sim_topology()
    assert topo is not None
    mem = TieredMemory(topo, logical_pages=4)
    last = np.full(4, -1, dtype=np.int64)
    out = np.empty(2, dtype=np.int64), np.empty(2, dtype=np.int64)
    args = (np.zeros(0, np.uint32), np.zeros(0, np.int64), 10, np.zeros(1, np.int64),
            np.array([0, 0], np.uint32), np.array([1, 2], np.int64), last, 5, 0, *out)  # fmt: skip
    with pytest.raises(ValueError, match="rep_targets: 2 is not a top-tier node"):
        mem.second_access(*args, np.array([0, 2], np.int64))
    with pytest.raises(ValueError, match="rep_targets: needs 2 integer node ids"):
        mem.second_access(*args, np.array([0], np.int64))
    assert mem.second_access(*args, np.array([1, 1], np.int64)) == (0, 0)  # page 0 never served


def test_spilled_stream_and_llc_filter_keep_the_nodes() -> None:
    rng = np.random.default_rng(5)
    pages = rng.integers(0, 12, 3000).tolist()
    nids = rng.integers(0, 2, 3000).tolist()
    c = chunk(pages, nids)
    assert c.vaddr is not None and c.nid is not None
    cfg = SimConfig(topology=four_nodes(), sources=EVERY)
    chunks = [TraceChunk(time_ns=c.time_ns[i : i + 500], vaddr=c.vaddr[i : i + 500], nid=c.nid[i : i + 500])
              for i in range(0, 3000, 500)]  # fmt: skip
    kept = replay(chunks, cfg, policies=["pghot", "second-access"], progress=False)
    spilled = replay(chunks, cfg, policies=["pghot", "second-access"], progress=False, spill_bytes=1)
    assert kept.to_dict() == spilled.to_dict()
    # an LLC of one 2-line set in front: only its misses reach the memory, with their nodes
    llc = replay(chunks, SimConfig(topology=four_nodes(), llc_bytes=128, llc_ways=2), policies=["none"],
                 progress=False)  # fmt: skip
    p = llc["none"]
    assert llc.trace["llc"]["misses"] == p.accesses < 3000
    assert sum(n["accesses"] for n in p.nodes.values()) == p.accesses


def test_a_json_topology_dump(tmp_path: Path) -> None:
    topo = SimConfig(topology=four_nodes()).sim_topology()
    assert topo is not None
    path = tmp_path / "topo.json"
    path.write_text(json.dumps(topo.to_table()))  # as of Topology.from_sysfs().to_table()
    assert SimConfig(topology=str(path)).sim_topology() == topo
    path.write_text("{")
    with pytest.raises(ValueError, match="config: topology: .*topo.json: not valid JSON"):
        SimConfig(topology=str(path))
    path.write_text('{"nodes": []}')
    with pytest.raises(ValueError, match="config: topology: .*topo.json: nodes must not be empty"):
        SimConfig(topology=str(path))


def test_record_nids_alternating_and_a_bad_one_after_a_run() -> None:
    """nodemap_targets looks a run of one node up once: a change of node within a batch
    takes the new node's target, and a bad node after a run of good ones is still refused
    (naming its index, nothing recorded)."""
    topo = Topology.from_table(
        {
            "nodes": [
                {"id": 0, "pages": 8, "toptier": True},
                {"id": 1, "pages": 8, "toptier": True},
                {"id": 2, "pages": 64, "toptier": False, "promotion_target": 0},
                {"id": 3, "pages": 64, "toptier": False, "promotion_target": 1},
            ]
        }
    )
    t = Tracker(topo)
    pf = np.arange(16, 24, dtype=np.uint64)
    t.set_movable(pf, True)
    nids = np.array([0, 0, 1, 1, 0, 1, 1, 0])
    assert t.record_accesses(pf, nids, 0, 5).tolist() == [8, 0, 0, 0]
    recs = [t.lookup(int(p)) for p in pf]
    assert [r.nid for r in recs if r is not None] == nids.tolist()
    before = t.stats()
    with pytest.raises(ValueError, match=r"nids\[5\] = 7 is not a node"):
        t.record_accesses(pf[:6], np.array([0, 0, 1, 1, 1, 7]), 0, 6)
    recs = [t.lookup(int(p)) for p in pf]
    assert t.stats() == before and [r.last_update for r in recs if r is not None] == [5] * 8
