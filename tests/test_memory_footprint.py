"""The simulated memory is O(footprint), whatever the machine's size (issue 12).

The compiled memory holds slots for only the first ``min(nr_pages,
logical_pages)`` PFNs of each node (``src/_pghot/_memory.pyx``'s narrative
block): known answers on a terabyte machine (the arrays' sizes, PFNs above
2**32, the whole nodes' free counts, the slot limit counting slots, not
PFNs); the paths of a PFN beyond the materialised part against the
reference memory, which holds every PFN; and replays on huge machines,
which must give what a machine just big enough gives, in a few MB.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import pghot
from pghot import Node, Topology
from pghot.machine.memory import MigrateStatus, TieredMemory
from pghot.model.memory import TieredMemory as ReferenceMemory
from pghot.sim import SimConfig, replay
from pghot.traces import TraceChunk

GiB = 2**30


def _slots(mem: TieredMemory) -> dict[str, int]:
    a = mem._arrays
    return {k: int(a[k].size) for k in ("pfn_of", "owner", "freestk", "ref")}


# -- known answers on a terabyte machine ----------------------------------------------------


def test_a_terabyte_machine_holds_slots_for_its_pages_only() -> None:
    # 4 GiB of top tier, 16 TiB of lower tier from PFN 2**33 (4 KiB pages)
    topo = Topology([Node(0, 0, 2**20, True), Node(1, 2**33, 2**32, False)])
    mem = TieredMemory(topo, logical_pages=50)
    assert _slots(mem) == {"pfn_of": 50, "owner": 100, "freestk": 100, "ref": 51}  # (+ the sink byte)
    assert sum(v.nbytes for v in mem._arrays.values() if isinstance(v, np.ndarray)) < 4096
    assert mem.capacity(1) == 2**32 and mem.free_pages(1) == 2**32
    pfns = mem.allocate(np.arange(50), node=1)
    assert pfns.tolist() == list(range(2**33, 2**33 + 50))
    assert mem.free_pages(1) == 2**32 - 50 and mem.used_pages(1) == 50
    assert mem.page_at(2**33 + 49) == 49 and mem.page_at(2**33 + 50) == -1
    assert mem.migrate(2**33 + 3, 0, now=0) and mem.pfn_of(3) == 0
    assert mem.free_pages(0) == 2**20 - 1 and mem.free_pages(1) == 2**32 - 49
    # LIFO: page 3's old PFN went free first, then page 10's: 10's is reused first
    mem.free([10])
    assert mem.allocate([10], node=1).tolist() == [2**33 + 10]
    mem.free([3])
    assert mem.allocate([3], node=1).tolist() == [2**33 + 3]
    mem.check()


def test_the_slot_limit_counts_slots_not_pfns() -> None:
    # 2**32 PFNs: once refused (more than 2**31 - 2), now 20 slots
    mem = TieredMemory(Topology.two_tier(2**31, 2**31), logical_pages=10)
    assert _slots(mem)["owner"] == 20
    assert mem.access([0, 9]).tolist() == [0, 1]
    big = 2**31 - 2
    with pytest.raises(MemoryError, match="logical_pages"):
        TieredMemory(Topology.two_tier(4, 4), logical_pages=big + 1)
    with pytest.raises(MemoryError, match=r"topology: 4294967292 PFNs to hold"):
        TieredMemory(Topology.two_tier(big, big), logical_pages=big)


# -- a PFN beyond the materialised part, against the reference ------------------------------


def _pair(**kw: Any) -> tuple[TieredMemory, ReferenceMemory, list[pghot.Tracker]]:
    """16 top + 64 lower PFNs, 8 logical pages: 8 of each node's PFNs materialised."""
    topo = Topology.two_tier(16, 64)
    trackers = [pghot.Tracker(topo), pghot.Tracker(topo)]
    mem = TieredMemory(topo, trackers[0], logical_pages=8, **kw)
    ref = ReferenceMemory(topo, trackers[1], logical_pages=8, **kw)
    assert _slots(mem) == {"pfn_of": 8, "owner": 16, "freestk": 16, "ref": 9}  # (+ the sink byte)
    return mem, ref, trackers


def _same(mem: TieredMemory, ref: ReferenceMemory, f: Callable[[Any], Any]) -> Any:
    def run(m: Any) -> Any:
        r = f(m)
        return r.tolist() if isinstance(r, np.ndarray) else r

    got = run(mem)
    assert got == run(ref)
    assert mem.stats() == ref.stats()
    for nid in (0, 1):
        assert mem.free_pages(nid) == ref.free_pages(nid)
        assert mem.pages_on(nid).tolist() == ref.pages_on(nid).tolist()
    mem.check()
    return got


#: free PFNs beyond the materialised part (top tier 8..15, lower tier 24..79) and one in no node
BEYOND = [8, 15, 24, 79, 80]


def test_pfns_beyond_the_materialised_part_hold_no_page() -> None:
    mem, ref, trackers = _pair()
    _same(mem, ref, lambda m: m.allocate([0, 1, 2, 3]))
    _same(mem, ref, lambda m: m.allocate([4, 5], node=1))  # PFNs 16, 17
    non_lru = int(MigrateStatus.NON_LRU)
    assert _same(mem, ref, lambda m: [m.page_at(p) for p in BEYOND]) == [-1] * 5
    assert _same(mem, ref, lambda m: m.pages_of(BEYOND + [17])) == [-1] * 5 + [5]
    assert _same(mem, ref, lambda m: m.recheck(BEYOND + [16], 0)) == [non_lru] * 5 + [0]
    assert _same(mem, ref, lambda m: [m.migrate(p, 0, now=1) for p in BEYOND]) == [False] * 5
    got = _same(mem, ref, lambda m: m.migrate_batch(BEYOND + [16], 0, now=2, return_pages=True)[1])
    assert got == [-1] * 5 + [4]
    assert _same(mem, ref, lambda m: m.demote_pfns([8, 15, 1, 24], now=3)) == [1]
    s = mem.stats()
    assert s["pgpromote_success"] == 1 and s["pgdemote_kswapd"] == 1 and s["promote_fail_no_space"] == 0
    # the tracker: every lower-tier PFN beyond the part is still not movable
    for p in (24, 79):
        assert trackers[0].record_access(p, -1, pghot.Source.HW_HINTS, 5) == pghot.Outcome.NOT_MOVABLE


def test_clock_on_a_node_that_is_not_full_sweeps_its_materialised_part() -> None:
    """The proactive demotion (tpp) runs CLOCK on a node with free PFNs beyond its slots:
    the hand wraps at the materialised part as it would after the free PFNs beyond."""
    mem, ref, _ = _pair()
    _same(mem, ref, lambda m: m.allocate(np.arange(8)))  # offsets 0..7 of 16: not full
    for step in range(6):
        _same(mem, ref, lambda m: m.access([step % 8, (step + 3) % 8]))  # noqa: B023
        _same(mem, ref, lambda m: m.demote(0, 3, now=10 * step))  # noqa: B023
        lower = ref.pages_on(1)
        _same(mem, ref, lambda m: m.migrate_batch(m.pfns_of(lower[:4]), 0, now=10 * step + 5))  # noqa: B023
    assert mem.stats()["pgdemote_kswapd"] >= 12


# -- replays on huge machines ---------------------------------------------------------------


def _trace(seed: int = 5, n: int = 3000, pages: int = 120) -> TraceChunk:
    rng = np.random.default_rng(seed)
    hot = rng.zipf(1.3, n) % pages
    t = np.sort(rng.integers(0, 2000, n)).astype(np.int64)
    return TraceChunk(time_ns=t * 1_000_000, pfn=hot.astype(np.uint64))


SOURCES: list[dict[str, Any]] = [
    {"name": "hint-fault", "scan_period_ms": 50, "scan_window_pages": 64, "scan_delay_ms": 20},
    {"name": "hw-hints", "sample_every": 3, "seed": 1},
]
EVERY = ["pghot", "none", "v2", "second-access", "tpp", "numab2", "damon", "oracle", "memtis", "pghot-v8"]


def test_engines_agree_on_a_lower_tier_far_beyond_the_footprint() -> None:
    """10**6 lower-tier PFNs for 120 pages: the compiled memory materialises 120 of them,
    the reference all; every policy's result is the same."""
    cfg = SimConfig(sources=SOURCES, top_pages=16, lower_pages=10**6)
    a = replay([_trace()], cfg, policies=EVERY, progress=False, engine="reference").to_dict()
    b = replay([_trace()], cfg, policies=EVERY, progress=False, engine="compiled").to_dict()
    assert a["policies"] == b["policies"]
    assert sum(p["promotions"] for p in a["policies"].values()) > 0


def _policies(result: Any) -> dict[str, dict[str, Any]]:
    # the tracker's own size follows the machine's (its movable bit per lower-tier PFN)
    return {
        k: {m: v for m, v in p.items() if m != "tracker_memory_bytes"}
        for k, p in result.to_dict()["policies"].items()
    }


#: pghot with a table of fixed capacity (its default, half the lower tier, is the design's
#: O(machine) cost: 2 GB at 1 TB); the policies whose results do not depend on the lower
#: tier's size beyond the footprint (damon's regions span the nodes' PFNs; v2 and pghot-v8
#: size their stores by the lower tier)
HUGE_POLICIES = ["pghot", "none", "second-access", "tpp", "numab2", "oracle", "memtis"]


@pytest.mark.parametrize(
    ("top", "lower", "small"),
    [
        (16, 1024 * GiB // 4096, (16, 120)),  # a 1 TiB lower tier: promotions and demotions
        # 256 GiB + 1 TiB: all on top; 130 top-tier pages keep tpp's demotion watermark
        # (2 % of the tier, 3 pages) free, so nothing moves there either
        (256 * GiB // 4096, 1024 * GiB // 4096, (130, 120)),
    ],
    ids=["1TiB-lower", "256GiB-top"],
)
def test_a_huge_machine_replays_in_footprint_memory(top: int, lower: int, small: tuple[int, int]) -> None:
    cfg: dict[str, Any] = {"sources": SOURCES, "tracker": {"capacity": 4096}}
    tracemalloc.start()
    try:
        huge = replay(
            [_trace()],
            SimConfig(top_pages=top, lower_pages=lower, **cfg),
            policies=HUGE_POLICIES,
            progress=False,
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # one int32 owner entry per PFN of one machine would be 1 GiB; numpy's buffers are traced
    assert peak < 64 * 2**20
    fits = replay(
        [_trace()],
        SimConfig(top_pages=small[0], lower_pages=small[1], **cfg),
        policies=HUGE_POLICIES,
        progress=False,
    )
    got, want = _policies(huge), _policies(fits)
    if top >= 120:  # everything on the top tier: every access a hit, nothing moves
        for p in got.values():
            assert p["top_tier_hits"] == 3000 and p["promotions"] == 0 == p["demotions"]
        # (not the rest: the free-memory bypass and watermarks follow the top tier's size)
        keys = ("top_tier_hits", "promotions", "demotions", "est_time_ns")
        got = {k: {m: p[m] for m in keys} for k, p in got.items()}
        want = {k: {m: p[m] for m in keys} for k, p in want.items()}
    else:
        assert sum(p["demotions"] for p in got.values()) > 0
    assert got == want
