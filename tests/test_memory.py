"""TieredMemory: placement, first touch, migration, CLOCK demotion, counters.

Known answers for each operation, the tracker's movable bits following the
placement, input validation, and a Hypothesis state machine that drives
random allocations, frees, accesses and migrations against a plain dict model
and runs ``check()`` after every step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from pghot import NUMA_NO_NODE, Node, Outcome, Source, Topology, Tracker
from pghot.machine.memory import MigrateStatus, TieredMemory

HW = Source.HW_HINTS


def _mem(top: int = 4, lower: int = 16, **kw: Any) -> tuple[TieredMemory, Tracker]:
    topo = Topology.two_tier(top, lower)
    tracker = Tracker(topo)
    return TieredMemory(topo, tracker, **kw), tracker


# -- construction -------------------------------------------------------------------


def test_capacities_and_defaults(four_nodes: Topology) -> None:
    mem = TieredMemory(four_nodes)
    assert [mem.capacity(n) for n in (0, 1, 2, 3)] == [64, 128, 64, 128]
    assert [mem.free_pages(n) for n in (0, 1, 2, 3)] == [64, 128, 64, 128]
    assert mem.logical_pages == 384
    assert mem.page_size == 4096 and mem.hz == 1000 and mem.demotion
    assert mem.tracker is None and len(mem) == 0
    assert all(v == 0 for v in mem.stats().values())
    mem.check()


def test_hz_comes_from_the_tracker(two_tier: Topology) -> None:
    tracker = Tracker(two_tier, hz=250)
    assert TieredMemory(two_tier, tracker).hz == 250
    with pytest.raises(ValueError, match="hz"):
        TieredMemory(two_tier, tracker, hz=1000)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"page_size": 0}, ValueError, "page_size"),
        ({"page_size": 4096.0}, TypeError, "page_size"),
        ({"page_size": True}, TypeError, "page_size"),
        ({"hz": 0}, ValueError, "hz"),
        ({"ping_pong_window_ms": -1}, ValueError, "ping_pong_window_ms"),
        ({"demotion": 1}, TypeError, "demotion"),
        ({"logical_pages": -1}, ValueError, "logical_pages"),
    ],
)
def test_bad_constructor_arguments(
    two_tier: Topology, kwargs: dict[str, Any], exc: type[Exception], match: str
) -> None:
    with pytest.raises(exc, match=match):
        TieredMemory(two_tier, **kwargs)


def test_topology_and_tracker_are_checked(two_tier: Topology, two_top: Topology) -> None:
    with pytest.raises(TypeError, match="topology"):
        TieredMemory(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="tracker"):
        TieredMemory(two_tier, "tracker")
    with pytest.raises(ValueError, match="topology"):
        TieredMemory(two_tier, Tracker(two_top))


# -- allocation -----------------------------------------------------------------------


def test_first_touch_fills_default_node_then_other_top_then_lower(
    four_nodes: Topology,
) -> None:
    # default node 2 [192, 256), then top node 0 [0, 64), then lower 1, then 3
    mem = TieredMemory(four_nodes)
    pfns = mem.allocate(np.arange(200))
    assert pfns[:64].tolist() == list(range(192, 256))
    assert pfns[64:128].tolist() == list(range(0, 64))
    assert pfns[128:].tolist() == list(range(64, 136))
    assert mem.free_pages(2) == mem.free_pages(0) == 0
    assert mem.free_pages(1) == 128 - 72 and mem.free_pages(3) == 128
    assert len(mem) == 200
    mem.check()


def test_allocate_on_a_given_node_and_all_or_nothing(two_tier: Topology) -> None:
    mem = TieredMemory(two_tier, logical_pages=400)
    assert mem.allocate([5, 6], node=1).tolist() == [64, 65]
    assert mem.node_of_page(5) == 1 and mem.pages_on(1).tolist() == [5, 6]
    with pytest.raises(MemoryError):
        mem.allocate(np.arange(100, 200), node=0)  # 100 pages, 64 PFNs
    assert mem.free_pages(0) == 64 and len(mem) == 2  # nothing placed
    with pytest.raises(MemoryError):
        mem.allocate(np.arange(7, 7 + 319))  # 318 PFNs free
    mem.check()


@pytest.mark.parametrize(
    ("pages", "exc", "match"),
    [
        (None, TypeError, "pages"),
        ("12", TypeError, "pages"),
        (1.5, TypeError, "pages"),
        ([1.5], ValueError, "integer dtype"),
        ([[1, 2]], ValueError, "1-D"),
        ([-1], ValueError, "pages"),
        ([320], ValueError, "pages"),
        ([3, 3], ValueError, "repeated"),
    ],
)
def test_allocate_rejects_bad_pages(two_tier: Topology, pages: Any, exc: type[Exception], match: str) -> None:
    mem = TieredMemory(two_tier)
    with pytest.raises(exc, match=match):
        mem.allocate(pages)
    assert len(mem) == 0


def test_allocate_rejects_placed_pages_and_bad_nodes(two_tier: Topology) -> None:
    mem = TieredMemory(two_tier)
    mem.allocate([1])
    with pytest.raises(ValueError, match="already placed"):
        mem.allocate([2, 1])
    with pytest.raises(ValueError, match="nid"):
        mem.allocate([2], node=5)
    with pytest.raises(TypeError, match="nid"):
        mem.allocate([2], node="0")  # type: ignore[arg-type]
    assert mem.allocate([], node=1).tolist() == []
    assert len(mem) == 1


def test_free_returns_pfns_to_the_pool_lifo(two_tier: Topology) -> None:
    mem = TieredMemory(two_tier)
    mem.allocate(np.arange(70))  # 64 on top, 6 on lower (PFNs 64..69)
    mem.free([3, 66])
    assert mem.pfn_of(3) == -1 and mem.page_at(3) == -1 and mem.page_at(130) == -1
    assert mem.free_pages(0) == 1 and len(mem) == 68
    assert mem.allocate([100, 101]).tolist() == [3, 66]  # top first, then lower LIFO
    with pytest.raises(ValueError, match="not placed"):
        mem.free([3])
    mem.check()


def test_logical_pages_can_be_set(two_tier: Topology) -> None:
    mem = TieredMemory(two_tier, logical_pages=10)
    mem.allocate(np.arange(10))
    with pytest.raises(ValueError, match="pages"):
        mem.allocate([10])
    with pytest.raises(ValueError, match="page"):
        mem.pfn_of(10)


# -- accesses and the tracker's movable state ----------------------------------------------


def test_access_places_on_first_touch_in_access_order(two_tier: Topology) -> None:
    mem = TieredMemory(two_tier)
    pfns = mem.access([9, 4, 9, 7])
    assert pfns.tolist() == [0, 1, 0, 2]
    assert mem.access(4).tolist() == [1]
    assert len(mem) == 3
    mem.check()


@pytest.mark.parametrize("cls", ["compiled", "reference"])
def test_access_without_hits_places_and_sets_bits_but_counts_no_hit(cls: str) -> None:
    # two top-tier sockets (per-node hits are counted with several top-tier nodes)
    from pghot.model.memory import TieredMemory as ReferenceMemory

    topo = Topology([Node(0, 0, 2, True), Node(1, 2, 2, True), Node(2, 4, 8, False, has_cpu=False)])
    mem: Any = TieredMemory(topo) if cls == "compiled" else ReferenceMemory(topo)
    assert mem.access([5, 6, 5], hits=False).tolist() == [0, 1, 0]  # placed on first touch
    assert mem.node_stats()[0]["hits"] == 0 and mem.node_stats()[1]["hits"] == 0
    mem.access([5, 6, 7])
    assert mem.node_stats()[0]["hits"] == 2 and mem.node_stats()[1]["hits"] == 1
    mem.access([5, 7, 7], hits=False)
    assert mem.node_stats()[0]["hits"] == 2 and mem.node_stats()[1]["hits"] == 1
    with pytest.raises(TypeError, match="hits"):
        mem.access([5], hits="no")
    assert mem.node_stats()[0]["hits"] == 2
    mem.check()


def test_tracker_movable_bits_follow_the_placement() -> None:
    mem, tracker = _mem(top=2, lower=8)
    # every lower-tier PFN starts free, hence not movable
    assert tracker.record_access(5, NUMA_NO_NODE, HW, 0) is Outcome.NOT_MOVABLE
    pfn = int(mem.allocate([0], node=1)[0])
    assert tracker.record_access(pfn, NUMA_NO_NODE, HW, 1) is Outcome.RECORDED
    assert mem.migrate(pfn, 0, now=2)
    assert tracker.record_access(pfn, NUMA_NO_NODE, HW, 3) is Outcome.NOT_MOVABLE
    # a demotion makes the page's new lower-tier PFN movable
    mem.allocate([1])  # fills the top tier
    mem.allocate([2], node=1)
    src = mem.pfn_of(2)
    assert mem.migrate(src, 0, now=4)
    demoted = [p for p in (0, 1) if mem.node_of_page(p) == 1]
    assert len(demoted) == 1
    new_pfn = mem.pfn_of(demoted[0])
    assert tracker.record_access(new_pfn, NUMA_NO_NODE, HW, 5) is Outcome.RECORDED
    mem.free([demoted[0]])
    assert tracker.record_access(new_pfn, NUMA_NO_NODE, HW, 6) is Outcome.NOT_MOVABLE
    mem.check()
    tracker.check()


# -- migration ----------------------------------------------------------------------------


def test_migrate_moves_a_page_and_frees_its_pfn() -> None:
    mem, _ = _mem(top=4, lower=16)
    mem.allocate([7], node=1)
    assert mem.pfn_of(7) == 4
    assert mem.migrate(4, 0, now=10) is True
    assert mem.pfn_of(7) == 0 and mem.page_at(4) == -1 and mem.node_of_page(7) == 0
    assert mem.free_pages(0) == 3 and mem.free_pages(1) == 16
    s = mem.stats()
    assert s["pgpromote_success"] == 1 and s["pgmigrate_success"] == 1
    assert s["pgdemote_kswapd"] == 0
    mem.check()


def test_migrate_failures() -> None:
    mem, _ = _mem(top=4, lower=16)
    mem.allocate([0, 1])
    assert mem.migrate(5, 0, now=0) is False  # free PFN
    assert mem.migrate(1000, 0, now=0) is False  # in no node
    assert mem.migrate(0, 0, now=0) is False  # already on the target
    with pytest.raises(ValueError, match="top-tier"):
        mem.migrate(0, 1, now=0)
    with pytest.raises(ValueError, match="now"):
        mem.migrate(0, 0, now=-1)
    with pytest.raises(ValueError, match="pfn"):
        mem.migrate(-1, 0, now=0)
    assert mem.stats()["pgmigrate_success"] == 0


def test_recheck_codes(two_top: Topology) -> None:
    mem = TieredMemory(two_top)
    mem.allocate([0, 1])  # PFNs 0, 1 on node 0
    mem.allocate([2], node=1)  # PFN 64
    mem.allocate([3], node=2)  # PFN 320
    got = mem.recheck([0, 64, 65, 320, 400, 1], 0).tolist()
    assert got == [
        MigrateStatus.RIGHT_NODE,
        MigrateStatus.OK,
        MigrateStatus.NON_LRU,
        MigrateStatus.OK,
        MigrateStatus.NON_LRU,
        MigrateStatus.RIGHT_NODE,
    ]
    assert mem.recheck([], 2).tolist() == []
    with pytest.raises(ValueError, match="top-tier"):
        mem.recheck([64], 1)


def test_top_to_top_migration_is_not_a_promotion(two_top: Topology) -> None:
    mem = TieredMemory(two_top)
    mem.allocate([0])
    assert mem.migrate(0, 2, now=0)
    assert mem.node_of_page(0) == 2
    s = mem.stats()
    assert s["pgmigrate_success"] == 1 and s["pgpromote_success"] == 0


def test_full_top_tier_demotes_its_coldest_page_by_clock() -> None:
    mem, _ = _mem(top=4, lower=16)
    mem.allocate([0, 1, 2, 3])  # PFNs 0..3, the whole top tier
    mem.allocate([10, 11], node=1)  # PFNs 4, 5
    mem.access([0, 1, 3])  # page 2 is the only unreferenced one
    assert mem.migrate(4, 0, now=100)
    assert mem.node_of_page(2) == 1 and mem.pfn_of(10) == 2
    assert mem.pfn_of(2) == 6  # the next free lower PFN
    s = mem.stats()
    assert s["pgdemote_kswapd"] == 1 and s["pgpromote_success"] == 1
    assert s["ping_pong"] == 0  # page 2 was never promoted
    # The hand stopped after PFN 2; 0 and 1 lost their bits in the sweep, 3
    # kept it and the promoted page 10 (PFN 2) is referenced: the next victim
    # is found by clearing 3 and taking 0.
    assert mem.migrate(5, 0, now=200)
    assert mem.node_of_page(0) == 1 and mem.pfn_of(11) == 0
    assert [mem.node_of_page(p) for p in (1, 3, 10, 11)] == [0, 0, 0, 0]
    assert mem.stats()["pgdemote_kswapd"] == 2
    mem.check()


def test_all_referenced_pages_still_yield_a_victim() -> None:
    mem, _ = _mem(top=4, lower=16)
    mem.access([0, 1, 2, 3])  # top tier full, every bit set
    mem.allocate([8], node=1)
    assert mem.migrate(4, 0, now=0)
    assert mem.node_of_page(0) == 1  # one revolution clears all; PFN 0 goes
    mem.check()


def test_ping_pong_counts_a_quick_demotion_of_a_promoted_page() -> None:
    mem, _ = _mem(top=1, lower=16, ping_pong_window_ms=1000)
    mem.allocate([0, 1, 2], node=1)  # PFNs 1, 2, 3
    assert mem.migrate(1, 0, now=0)  # page 0 promoted at 0
    assert mem.migrate(2, 0, now=500)  # page 0 demoted at 500: ping-pong
    assert mem.stats()["ping_pong"] == 1
    assert mem.migrate(3, 0, now=5000)  # page 1 promoted at 500, demoted at 5000
    s = mem.stats()
    assert s["ping_pong"] == 1 and s["pgdemote_kswapd"] == 2 and s["pgpromote_success"] == 3
    mem.check()


def test_no_space_when_lower_tier_is_full_or_demotion_is_off() -> None:
    mem, _ = _mem(top=2, lower=2)
    mem.allocate([0, 1, 2, 3])  # every PFN used
    assert mem.migrate(2, 0, now=0) is False
    assert mem.stats()["promote_fail_no_space"] == 1
    mem2, _ = _mem(top=2, lower=8, demotion=False)
    mem2.allocate([0, 1, 2])
    assert mem2.migrate_batch([2], 0, now=0).tolist() == [MigrateStatus.NO_SPACE]
    assert mem2.stats()["promote_fail_no_space"] == 1
    assert mem2.stats()["pgdemote_kswapd"] == 0
    mem.check()
    mem2.check()


def test_migrate_batch_in_order_with_statuses() -> None:
    mem, _ = _mem(top=2, lower=16, demotion=False)
    mem.allocate(np.arange(2, 6), node=1)  # PFNs 2..5
    got = mem.migrate_batch(np.array([2, 2, 3, 4, 99], dtype=np.uint64), 0, now=0)
    assert got.tolist() == [
        MigrateStatus.OK,
        MigrateStatus.NON_LRU,
        MigrateStatus.OK,
        MigrateStatus.NO_SPACE,
        MigrateStatus.NON_LRU,
    ]
    assert mem.pages_on(0).tolist() == [2, 3]
    mem.check()


def test_candidate_counters() -> None:
    mem, _ = _mem()
    mem.count_promote_candidates(5)
    mem.count_promote_candidates(2, no_rate_limit=True)
    s = mem.stats()
    assert s["pgpromote_candidate"] == 5 and s["pgpromote_candidate_nrl"] == 2
    with pytest.raises(ValueError):
        mem.count_promote_candidates(-1)


# -- the checker catches corruption --------------------------------------------------------


@pytest.mark.parametrize("damage", ["pfn_of", "owner", "free_dup", "count"])
def test_check_detects_corruption(damage: str) -> None:
    mem, _ = _mem(top=4, lower=16)
    mem.allocate(np.arange(6))
    node = mem._by_nid[0]
    if damage == "pfn_of":
        mem._pfn_of[1] = 2
    elif damage == "owner":
        node.owner[3] = 1  # page 1 on two PFNs
    elif damage == "free_dup":
        lower = mem._by_nid[1]
        lower.free[lower.nfree - 1] = lower.free[lower.nfree - 2]
    else:
        mem._placed += 1
    with pytest.raises(RuntimeError):
        mem.check()


# -- random operations against a model ------------------------------------------------------


class MemoryMachine(RuleBasedStateMachine):
    """Random operations on a small four-node memory, compared with a dict."""

    @initialize(demotion=st.booleans())
    def setup(self, demotion: bool) -> None:
        topo = Topology(
            [
                Node(0, 0, 6, True),
                Node(1, 6, 10, False, has_cpu=False),
                Node(2, 20, 4, True),
                Node(3, 30, 8, False),
            ],
            default_node=2,
        )
        self.tracker = Tracker(topo)
        self.mem = TieredMemory(topo, self.tracker, demotion=demotion)
        self.model: dict[int, int] = {}  # page -> node
        self.now = 0

    @rule(
        pages=st.lists(st.integers(0, 27), max_size=6, unique=True), node=st.sampled_from([None, 0, 1, 2, 3])
    )
    def allocate(self, pages: list[int], node: int | None) -> None:
        fresh = [p for p in pages if p not in self.model]
        try:
            pfns = self.mem.allocate(fresh, node=node)
        except MemoryError:
            return
        for p, pfn in zip(fresh, pfns.tolist()):
            self.model[p] = self.mem.topology.node_of(pfn)
            assert node is None or self.model[p] == node

    @rule(pages=st.lists(st.integers(0, 27), max_size=4))
    def free(self, pages: list[int]) -> None:
        placed = sorted({p for p in pages if p in self.model})
        self.mem.free(placed)
        for p in placed:
            del self.model[p]

    @rule(pages=st.lists(st.integers(0, 27), max_size=8))
    def access(self, pages: list[int]) -> None:
        try:
            pfns = self.mem.access(pages)
        except MemoryError:
            return
        for p, pfn in zip(pages, pfns.tolist()):
            self.model[p] = self.mem.topology.node_of(pfn)

    @rule(pfn=st.integers(0, 40), dest=st.sampled_from([0, 2]))
    def migrate(self, pfn: int, dest: int) -> None:
        target = dest
        self.now += 7
        page = self.mem.page_at(pfn)
        before = self.mem.stats()
        ok = self.mem.migrate(pfn, target, self.now)
        after = self.mem.stats()
        if page < 0 or self.model[page] == target:
            assert not ok
            return
        if ok:
            self.model[page] = target
            demoted = after["pgdemote_kswapd"] - before["pgdemote_kswapd"]
            assert demoted in (0, 1)
            if demoted:
                event("migrate: demoted a page")
                # exactly one page left the target for a lower tier
                moved = [
                    q for q, n in self.model.items() if n == target and self.mem.node_of_page(q) != target
                ]
                assert len(moved) == 1
                self.model[moved[0]] = self.mem.node_of_page(moved[0])
                assert not self.mem.topology.is_toptier(self.model[moved[0]])
        else:
            event("migrate: no space")
            assert self.mem.free_pages(target) == 0

    @invariant()
    def consistent(self) -> None:
        self.mem.check()
        assert len(self.mem) == len(self.model)
        for p, n in self.model.items():
            assert self.mem.node_of_page(p) == n
        for nid in (0, 1, 2, 3):
            assert self.mem.used_pages(nid) == sum(1 for n in self.model.values() if n == nid)
        # movable bits: a lower-tier PFN is movable exactly when it is used
        for lo, hi in ((6, 16), (30, 38)):  # the lower-tier nodes 1 and 3
            for pfn in range(lo, hi):
                rec = self.tracker.record_access(pfn, NUMA_NO_NODE, HW, self.now)
                expect = Outcome.RECORDED if self.mem.page_at(pfn) >= 0 else Outcome.NOT_MOVABLE
                assert rec in (expect, Outcome.TABLE_FULL if expect is Outcome.RECORDED else expect)


TestMemoryMachine = MemoryMachine.TestCase


def test_batch_lookups_invert_each_other() -> None:
    mem = TieredMemory(Topology.two_tier(4, 12), logical_pages=20)
    pages = np.array([3, 17, 0, 9, 11], dtype=np.int64)
    mem.access(pages)
    pfns = mem.pfns_of(pages)
    assert pfns.tolist() == [mem.pfn_of(int(q)) for q in pages]
    assert mem.pages_of(pfns).tolist() == pages.tolist()
    assert mem.pfns_of([1]).tolist() == [-1] and mem.pages_of([15, 10**6]).tolist() == [-1, -1]
    with pytest.raises(ValueError, match="pages"):
        mem.pfns_of([20])
    with pytest.raises(TypeError, match="pfns"):
        mem.pages_of("7")
