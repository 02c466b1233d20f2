"""Promoter (kpromoted): deterministic rounds with known answers, the policy
knobs, the threads, and a threaded stress run with both checkers at the end.

Every deterministic test drives :meth:`Promoter.step` in simulated time
(``hz=1000``, so a jiffy is a millisecond).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from pghot import NUMA_NO_NODE, Node, Outcome, Source, Topology, Tracker
from pghot.machine.memory import TieredMemory
from pghot.machine.promoter import Promoter
from pghot.model.memory import TieredMemory as ReferenceMemory

HW = Source.HW_HINTS


def _setup(
    top: int = 64, lower: int = 256, tracker_kw: dict[str, Any] | None = None, **kw: Any
) -> tuple[Tracker, TieredMemory, Promoter]:
    topo = Topology.two_tier(top, lower)
    tracker = Tracker(topo, **(tracker_kw or {}))
    mem = TieredMemory(topo, tracker)
    return tracker, mem, Promoter(tracker, mem, **kw)


def _heat(tracker: Tracker, mem: TieredMemory, pages: Any, times: Any, nid: int = NUMA_NO_NODE) -> None:
    """Access every page once at each time in ``times`` and report it."""
    pages = np.asarray(pages, dtype=np.int64)
    for now in np.atleast_1d(times):
        counts = tracker.record_accesses(mem.access(pages), nid, HW, int(now))
        assert counts[Outcome.RECORDED] + counts[Outcome.TOPTIER] == len(pages)


def _lower_pages(mem: TieredMemory, pages: Any) -> None:
    mem.allocate(np.asarray(pages, dtype=np.int64), node=1)


def _outcomes(s: dict[str, int]) -> int:
    """Extracted records accounted for, each in exactly one outcome."""
    return (
        s["kpromoted_stale"]
        + s["kpromoted_non_lru"]
        + s["kpromoted_right_node"]
        + s["kpromoted_rate_limited"]
        + s["kpromoted_throttled"]
        + s["kpromoted_migrated"]
        + s["kpromoted_no_space"]
    )


# -- the basic known answers -------------------------------------------------------------


def test_threshold_accesses_in_window_promote_at_next_round() -> None:
    tracker, mem, p = _setup()
    _lower_pages(mem, [0, 1])
    old = mem.pfn_of(0)
    _heat(tracker, mem, [0], [100, 200])  # two accesses: threshold 2
    _heat(tracker, mem, [1], [150])  # one access
    assert mem.node_of_page(0) == 1  # nothing moves before the round
    assert p.step(220) == 1
    assert mem.node_of_page(0) == 0 and mem.node_of_page(1) == 1
    s, m = p.stats(), mem.stats()
    assert s["kpromoted_extracted"] == 1 and s["kpromoted_migrated"] == 1
    assert m["pgpromote_success"] == 1 and m["pgpromote_candidate"] == 1
    assert len(tracker) == 1  # page 1's record stays
    # the old PFN is free and not movable now
    assert tracker.record_access(old, NUMA_NO_NODE, HW, 230) is Outcome.NOT_MOVABLE
    assert p.step(240) == 0
    mem.check()
    tracker.check()


def test_one_access_is_never_promoted() -> None:
    tracker, mem, p = _setup()
    _lower_pages(mem, [3])
    _heat(tracker, mem, [3], [10])
    for now in range(20, 400, 20):
        assert p.step(now) == 0
    assert mem.node_of_page(3) == 1 and p.stats()["kpromoted_extracted"] == 0


def test_accesses_outside_the_window_do_not_add_up() -> None:
    tracker, mem, p = _setup()
    _lower_pages(mem, [3])
    _heat(tracker, mem, [3], [0, 5001])  # window is 5000 ms: the count restarts
    assert p.step(5020) == 0
    _heat(tracker, mem, [3], [5100])
    assert p.step(5120) == 1


def test_v2_batch_of_1024_per_round() -> None:
    tracker, mem, p = _setup(top=2048, lower=4096, tracker_kw={"queue_capacity": 2048})
    pages = np.arange(1500)
    _lower_pages(mem, pages)
    _heat(tracker, mem, pages, [0, 1])
    assert p.step(20) == 1024
    assert p.step(40) == 1500 - 1024
    assert mem.used_pages(0) == 1500
    s = p.stats()
    assert s["kpromoted_rate_limited"] == s["kpromoted_dropped"] == 0
    assert s["kpromoted_extracted"] == 1500 == _outcomes(s)
    mem.check()
    tracker.check()


def test_hottest_first_within_a_batch() -> None:
    tracker, mem, p = _setup(batch=2)
    _lower_pages(mem, [0, 1, 2])
    _heat(tracker, mem, [0], [1, 2])
    _heat(tracker, mem, [1], [1, 2, 3, 4])
    _heat(tracker, mem, [2], [1, 2, 3])
    assert p.step(20) == 2
    assert [mem.node_of_page(x) for x in (0, 1, 2)] == [1, 0, 0]


def test_full_top_tier_demotes_its_coldest_page() -> None:
    tracker, mem, p = _setup(top=4, lower=64)
    mem.allocate([0, 1, 2, 3])  # fills the top tier
    _lower_pages(mem, [10])
    mem.access([0, 1, 3])  # page 2 is the cold one
    _heat(tracker, mem, [10], [5, 6])
    assert p.step(20) == 1
    assert mem.node_of_page(10) == 0 and mem.node_of_page(2) == 1
    assert [mem.node_of_page(x) for x in (0, 1, 3)] == [0, 0, 0]
    m = mem.stats()
    assert m["pgdemote_kswapd"] == 1 and m["pgpromote_success"] == 1
    # the demoted page is tracked again on its new lower-tier PFN
    assert tracker.record_access(mem.pfn_of(2), NUMA_NO_NODE, HW, 30) is Outcome.RECORDED
    mem.check()
    tracker.check()


def test_promote_then_demote_within_the_window_is_ping_pong() -> None:
    tracker, mem, p = _setup(top=1, lower=64)
    _lower_pages(mem, [0, 1])
    _heat(tracker, mem, [0], [0, 1])
    assert p.step(20) == 1
    _heat(tracker, mem, [1], [30, 31])  # page 1 hot: page 0 must make room
    assert p.step(40) == 1
    assert mem.node_of_page(0) == 1 and mem.node_of_page(1) == 0
    assert mem.stats()["ping_pong"] == 1


def test_no_space_is_counted() -> None:
    tracker, mem, p = _setup(top=2, lower=2)
    mem.allocate([0, 1, 2, 3])  # every PFN used: nowhere to demote to
    _heat(tracker, mem, [2], [0, 1])
    assert p.step(20) == 0
    assert p.stats()["kpromoted_no_space"] == 1
    assert mem.stats()["promote_fail_no_space"] == 1
    mem.check()


def test_freed_page_is_non_lru_at_the_recheck() -> None:
    tracker, mem, p = _setup()
    _lower_pages(mem, [5, 6])
    _heat(tracker, mem, [5, 6], [0, 1])
    mem.free([5])  # its record is still queued
    assert p.step(20) == 1
    s = p.stats()
    assert s["kpromoted_non_lru"] == 1 and s["kpromoted_migrated"] == 1
    assert s["kpromoted_right_node"] == 0
    assert mem.stats()["pgpromote_candidate"] == 1  # only page 6 was a candidate


def test_queues_of_two_top_tier_nodes(two_top: Topology) -> None:
    tracker = Tracker(two_top)
    mem = TieredMemory(two_top, tracker)
    p = Promoter(tracker, mem)
    mem.allocate([0, 1], node=1)
    _heat(tracker, mem, [0], [0, 1], nid=2)  # accessed from node 2
    _heat(tracker, mem, [1], [0, 1], nid=1)  # from the lower tier: default node 0
    assert p.step(20, nid=2) == 1
    assert mem.node_of_page(0) == 2 and mem.node_of_page(1) == 1
    assert p.step(20) == 1  # both nodes; only node 0 has work left
    assert mem.node_of_page(1) == 0
    assert p.stats()["kpromoted_rounds"] == 3


# -- rate limit ------------------------------------------------------------------------------


def _rate_run(p: Promoter, tracker: Tracker, mem: TieredMemory, rounds: int, per_round: int) -> list[int]:
    """``per_round`` fresh hot pages before each round at 0, 20, 40, ... ms."""
    promoted = []
    for r in range(rounds):
        pages = np.arange(r * per_round, (r + 1) * per_round)
        _lower_pages(mem, pages)
        _heat(tracker, mem, pages, [20 * r, 20 * r])
        promoted.append(p.step(20 * r))
    return promoted


def test_rate_limit_caps_pages_per_second() -> None:
    # 1 MiB/s of 4 KiB pages = 256 pages/s = 5.12 pages per 20 ms round
    tracker, mem, p = _setup(top=1024, lower=4096, rate_limit_mbps=1)
    promoted = _rate_run(p, tracker, mem, rounds=100, per_round=20)
    cum = np.cumsum(promoted)
    # the credit is exact: after n rounds (n * 20 ms), floor(5.12 n) pages
    assert cum.tolist() == [128 * n // 25 for n in range(1, 101)]
    assert cum[49] == 256 and cum[99] == 512
    # no window of one second (50 rounds) promotes more than 256 + one round
    windows = cum[50:] - cum[:-50]
    assert windows.max() <= 256 + 6
    s = p.stats()
    assert s["kpromoted_rate_limited"] == 2000 - 512 == s["kpromoted_dropped"]
    assert mem.stats()["pgpromote_candidate"] == 2000
    assert _outcomes(s) == s["kpromoted_extracted"] == 2000
    mem.check()
    tracker.check()


def test_rate_limit_does_not_bank_idle_time() -> None:
    tracker, mem, p = _setup(top=1024, lower=4096, rate_limit_mbps=1)
    assert p.step(0) == 0  # 5.12 pages of credit, unspent
    _lower_pages(mem, np.arange(100))
    _heat(tracker, mem, np.arange(100), [0, 1])
    # ten idle seconds earn at most one round's worth plus one page
    assert p.step(10_000) == 6


def test_rate_limit_zero_and_off() -> None:
    tracker, mem, p = _setup(rate_limit_mbps=0)
    _lower_pages(mem, [0])
    _heat(tracker, mem, [0], [0, 1])
    assert p.step(1000) == 0 and p.stats()["kpromoted_rate_limited"] == 1
    tracker, mem, p = _setup(rate_limit_mbps=None, top=512, lower=2048, tracker_kw={"queue_capacity": 1024})
    _lower_pages(mem, np.arange(300))
    _heat(tracker, mem, np.arange(300), [0, 1])
    assert p.step(0) == 300 and p.step(0) == 0


def test_default_rate_limit_never_binds_at_v2_rates() -> None:
    tracker, mem, p = _setup(top=1024, lower=4096)
    assert p.rate_limit_mbps == 65536
    promoted = _rate_run(p, tracker, mem, rounds=5, per_round=200)
    assert promoted == [200] * 5


# -- threshold adjustment -------------------------------------------------------------------


def test_threshold_adjustment_tightens_above_and_relaxes_below_the_limit() -> None:
    # limit: 256 pages/s = 25.6 pages per 100 ms period
    tracker, mem, p = _setup(
        top=1024, lower=4096, rate_limit_mbps=1, threshold_adjust=True, adjust_period_ms=100
    )
    assert p.threshold(0) == 2
    page = 0

    def round_at(now: int, hot: int) -> None:
        nonlocal page
        pages = np.arange(page, page + hot)
        page += hot
        _lower_pages(mem, pages)
        _heat(tracker, mem, pages, [now] * 7)  # frequency 7: a candidate at any threshold
        p.step(now)

    for now in range(0, 100, 20):  # 100 candidates in the first period
        round_at(now, 20)
    round_at(100, 20)  # the period ended: tighten
    assert p.threshold(0) == 3
    for now in range(120, 200, 20):
        round_at(now, 20)
    round_at(200, 0)
    assert p.threshold(0) == 4
    for now in range(220, 300, 20):  # no load: relax
        round_at(now, 0)
    round_at(300, 0)
    assert p.threshold(0) == 3
    for now in range(320, 600, 20):
        round_at(now, 0)
    assert p.threshold(0) == 2  # never below the tracker's threshold
    s = p.stats()
    assert s["kpromoted_threshold_raised"] == 2 and s["kpromoted_threshold_lowered"] == 2


def test_raised_threshold_keeps_colder_records_queued() -> None:
    tracker, mem, p = _setup(
        top=1024, lower=4096, rate_limit_mbps=0, threshold_adjust=True, adjust_period_ms=100
    )
    _lower_pages(mem, np.arange(11))
    _heat(tracker, mem, [10], [0] * 7)
    p.step(0)  # one candidate against a zero limit: tighten at the period end
    p.step(100)
    assert p.threshold(0) == 3
    _heat(tracker, mem, np.arange(10), [110, 111])  # frequency 2 < 3
    p.step(120)
    assert tracker.queued(0) == 10  # not extracted, not lost
    assert p.stats()["kpromoted_extracted"] == 1


def test_threshold_saturates_at_the_frequency_maximum() -> None:
    tracker, mem, p = _setup(
        top=1024,
        lower=4096,
        rate_limit_mbps=0,
        threshold_adjust=True,
        adjust_period_ms=20,
        tracker_kw={"freq_bits": 2},
    )
    _lower_pages(mem, np.arange(200))
    for r in range(10):
        _heat(tracker, mem, np.arange(20 * r, 20 * r + 20), [20 * r] * 3)
        p.step(20 * r)
    assert p.threshold(0) == 3


def test_threshold_adjust_needs_a_rate_limit() -> None:
    with pytest.raises(ValueError, match="rate limit"):
        _setup(rate_limit_mbps=None, threshold_adjust=True)


# -- free-memory bypass ---------------------------------------------------------------------


def test_free_bypass_skips_rate_limit_while_memory_is_plentiful() -> None:
    tracker, mem, p = _setup(
        rate_limit_mbps=0,
        free_bypass=True,
        bypass_free_pages=10,
        tracker_kw={"queue_capacity": 128},
    )
    _lower_pages(mem, np.arange(65))
    _heat(tracker, mem, np.arange(60), [0, 1])
    assert p.step(20) == 60  # 64 free > 10: no rate limit
    _heat(tracker, mem, np.arange(60, 65), [30, 31])
    assert p.step(40) == 0  # 4 free <= 10: the zero rate limit applies
    s, m = p.stats(), mem.stats()
    assert s["kpromoted_bypass_rounds"] == 1 and s["kpromoted_rate_limited"] == 5
    assert m["pgpromote_candidate_nrl"] == 60 and m["pgpromote_candidate"] == 5


def test_free_bypass_promotes_below_the_adjusted_threshold() -> None:
    tracker, mem, p = _setup(
        rate_limit_mbps=0,
        threshold_adjust=True,
        adjust_period_ms=100,
        free_bypass=True,
        bypass_free_pages=40,
    )
    mem.allocate(np.arange(30))  # top tier: 34 free, not above 40
    _lower_pages(mem, np.arange(100, 120))
    _heat(tracker, mem, [100], [0] * 7)
    p.step(0)
    p.step(100)
    assert p.threshold(0) == 3
    _heat(tracker, mem, [101], [110, 111])  # frequency 2, below 3
    assert p.step(120) == 0 and tracker.queued(0) == 1
    mem.free(np.arange(30))  # 64 free now
    assert p.step(140) == 1
    assert mem.node_of_page(101) == 0
    assert p.threshold(0) == 2  # the bypass reset it


def test_default_bypass_mark_is_the_kernels() -> None:
    # max(1 GiB, 1/16 of the node) of free memory: a 64-page node never has it
    tracker, mem, p = _setup(rate_limit_mbps=0, free_bypass=True)
    _lower_pages(mem, [0])
    _heat(tracker, mem, [0], [0, 1])
    assert p.step(20) == 0 and p.stats()["kpromoted_bypass_rounds"] == 0


# -- staleness ------------------------------------------------------------------------------


def test_stale_candidates_are_dropped() -> None:
    tracker, mem, p = _setup(stale_check=True)
    _lower_pages(mem, [0, 1])
    _heat(tracker, mem, [0], [0, 1])  # last access at 1
    _heat(tracker, mem, [1], [0, 2])  # last access at 2
    assert p.step(5002) == 1  # ages 5001 (> 5000: stale) and 5000 (not)
    assert mem.node_of_page(0) == 1 and mem.node_of_page(1) == 0
    s = p.stats()
    assert s["kpromoted_stale"] == 1 == s["kpromoted_dropped"]
    assert len(tracker) == 0  # the stale record is gone


def test_without_stale_check_old_candidates_are_promoted_as_in_v2() -> None:
    tracker, mem, p = _setup()
    _lower_pages(mem, [0])
    _heat(tracker, mem, [0], [0, 1])
    assert p.step(60_000) == 1


def test_staleness_age_wraps_with_the_clock() -> None:
    tracker, mem, p = _setup(stale_check=True)
    _lower_pages(mem, [0])
    span = 1 << 19
    _heat(tracker, mem, [0], [span - 3, span - 2])
    assert p.step(span + 3) == 1  # age 5, not 2**19 - ...
    assert p.stats()["kpromoted_stale"] == 0


# -- the demotion throttle ----------------------------------------------------------------------
# Both memories: the compiled one runs PromoterCore's round, the reference one Promoter._round.

MEMORIES = [TieredMemory, ReferenceMemory]


def _throttled(mem_cls: Any, top: int = 4, **kw: Any) -> tuple[Tracker, Any, Promoter]:
    topo = Topology.two_tier(top, 64)
    tracker = Tracker(topo)
    mem = mem_cls(topo, tracker)
    p = Promoter(tracker, mem, **kw)
    assert (p._core is None) == (mem_cls is ReferenceMemory)
    return tracker, mem, p


def _heat_counts(tracker: Tracker, mem: Any, counts: dict[int, int], start: int) -> None:
    """Page ``k`` accessed ``counts[k]`` times, at ``start, start + 1, ...``."""
    for k, n in counts.items():
        for i in range(n):
            tracker.record_accesses(mem.pfns_of([k]), NUMA_NO_NODE, HW, start + i)


@pytest.mark.parametrize("mem_cls", MEMORIES, ids=["compiled", "reference"])
def test_throttle_halves_the_budget_while_demotions_match_promotions(mem_cls: Any) -> None:
    # top tier full, batch 4 (levels 0..2), a window of one round (20 ms)
    tracker, mem, p = _throttled(mem_cls, batch=4, throttle_demotion_ratio=100, throttle_window_ms=20)
    mem.allocate(np.arange(4, dtype=np.int64))
    mem.allocate(np.arange(10, 30, dtype=np.int64), node=1)
    assert p.step(0) == 0 and p.budget(0) == 4  # the first window begins
    _heat_counts(tracker, mem, {10: 3, 11: 2}, 5)
    assert p.step(20) == 2  # window [0, 20): no promotion, level 0; both promoted, 2 demoted
    assert p.budget(0) == 4 and mem.stats()["pgdemote_kswapd"] == 2
    _heat_counts(tracker, mem, {12: 4, 13: 3, 14: 2}, 25)
    # window [20, 40): 2 demotions for 2 promotions, 100 * 2 >= 100 * 2: level 1, budget 2;
    # the two hottest go, page 14 is held back (dropped, its record gone)
    assert p.step(40) == 2 and p.budget(0) == 2
    assert [mem.node_of_page(k) for k in (12, 13, 14)] == [0, 0, 1]
    assert tracker.lookup(int(mem.pfn_of(14))) is None
    _heat_counts(tracker, mem, {15: 3, 16: 2}, 45)
    assert p.step(60) == 1 and p.budget(0) == 1  # level 2: budget 1, page 15 only
    assert mem.node_of_page(15) == 0 and mem.node_of_page(16) == 1
    s = p.stats()
    assert s["kpromoted_throttled"] == 2 and s["kpromoted_throttled_rounds"] == 2
    assert s["kpromoted_dropped"] == 2 and _outcomes(s) == s["kpromoted_extracted"] == 7
    assert p.step(80) == 0 and p.budget(0) == 1  # [60, 80) held again: level saturates at 2
    # no promotion in [80, 100), then in [100, 120): the level falls one step per window
    assert p.step(100) == 0 and p.budget(0) == 2
    assert p.step(120) == 0 and p.budget(0) == 4
    assert p.step(140) == 0 and p.budget(0) == 4
    mem.check()
    tracker.check()


@pytest.mark.parametrize("mem_cls", MEMORIES, ids=["compiled", "reference"])
def test_throttle_window_spans_rounds(mem_cls: Any) -> None:
    # window 30 ms, rounds every 20: windows end at the rounds at 40, 80, ...
    tracker, mem, p = _throttled(mem_cls, batch=8, throttle_demotion_ratio=50, throttle_window_ms=30)
    mem.allocate(np.arange(4, dtype=np.int64))
    mem.allocate(np.arange(10, 30, dtype=np.int64), node=1)
    p.step(0)
    _heat_counts(tracker, mem, {10: 2, 11: 2}, 5)
    assert p.step(20) == 2  # 20 - 0 < 30: no evaluation yet
    assert p.budget(0) == 8
    assert p.step(40) == 0 and p.budget(0) == 4  # [0, 40): 2 >= 50 % of 2: holds
    _heat_counts(tracker, mem, {12: 2}, 45)
    assert p.step(60) == 1 and p.budget(0) == 4  # inside the window [40, 80)
    assert p.step(80) == 0 and p.budget(0) == 2  # [40, 80): 1 demotion, 1 promotion
    assert p.step(100) == 0 and p.budget(0) == 2
    assert p.step(120) == 0 and p.budget(0) == 4  # [80, 120): nothing promoted


@pytest.mark.parametrize("mem_cls", MEMORIES, ids=["compiled", "reference"])
def test_throttle_needs_demotions_at_the_ratio(mem_cls: Any) -> None:
    # a ratio above 100 %: one demotion per promotion never reaches it
    tracker, mem, p = _throttled(mem_cls, batch=2, throttle_demotion_ratio=101, throttle_window_ms=20)
    mem.allocate(np.arange(4, dtype=np.int64))
    mem.allocate(np.arange(10, 30, dtype=np.int64), node=1)
    p.step(0)
    for i, now in enumerate(range(20, 200, 20)):
        _heat_counts(tracker, mem, {10 + 2 * i: 2, 11 + 2 * i: 2}, now - 15)
        assert p.step(now) == 2 and p.budget(0) == 2
    assert mem.stats()["pgdemote_kswapd"] == 18 and p.stats()["kpromoted_throttled"] == 0
    # a top tier with room: promotions demote nothing, the throttle never holds
    tracker, mem, p = _throttled(mem_cls, top=64, batch=2, throttle_demotion_ratio=1, throttle_window_ms=20)
    mem.allocate(np.arange(10, 30, dtype=np.int64), node=1)
    p.step(0)
    for i, now in enumerate(range(20, 200, 20)):
        _heat_counts(tracker, mem, {10 + 2 * i: 2, 11 + 2 * i: 2}, now - 15)
        assert p.step(now) == 2 and p.budget(0) == 2
    assert mem.stats()["pgdemote_kswapd"] == 0 and p.stats()["kpromoted_throttled_rounds"] == 0


@pytest.mark.parametrize("mem_cls", MEMORIES, ids=["compiled", "reference"])
def test_throttle_on_ping_pongs_lets_exchanges_through(mem_cls: Any) -> None:
    """throttle_signal="ping-pong": only demotions of recently promoted pages count.

    The steps of test_throttle_halves_the_budget...: there the demotions of the pages
    first touched on the top tier (0-3, never promoted) throttle the round at 40; here
    they do not, and the throttle holds once promoted pages come back down."""
    tracker, mem, p = _throttled(
        mem_cls, batch=4, throttle_demotion_ratio=30, throttle_window_ms=20, throttle_signal="ping-pong"
    )
    assert p.throttle_signal == "ping-pong"
    mem.allocate(np.arange(4, dtype=np.int64))
    mem.allocate(np.arange(10, 30, dtype=np.int64), node=1)
    assert p.step(0) == 0 and p.budget(0) == 4
    _heat_counts(tracker, mem, {10: 3, 11: 2}, 5)
    assert p.step(20) == 2 and mem.stats()["ping_pong"] == 0  # pages 0 and 1 demoted
    _heat_counts(tracker, mem, {12: 4, 13: 3, 14: 2}, 25)
    # [20, 40): 2 demotions, no ping-pong: not throttled, all three promoted (the demotion
    # signal let two through); the victims 2, 3 and page 10, promoted at 20: one ping-pong
    assert p.step(40) == 3 and p.budget(0) == 4
    assert [mem.node_of_page(k) for k in (10, 11, 12, 13, 14)] == [1, 0, 0, 0, 0]
    assert mem.stats()["ping_pong"] == 1 and mem.stats()["pgdemote_kswapd"] == 5
    _heat_counts(tracker, mem, {15: 3, 16: 2}, 45)
    # [40, 60): 1 ping-pong for 3 promotions, 100 * 1 >= 30 * 3: level 1, budget 2
    assert p.step(60) == 2 and p.budget(0) == 2 and mem.stats()["ping_pong"] == 3
    _heat_counts(tracker, mem, {17: 3, 18: 2}, 65)
    assert p.step(80) == 1 and p.budget(0) == 1  # [60, 80): 2 for 2: level 2
    assert p.stats()["kpromoted_throttled"] == 1  # page 18 (at 60 both candidates fit the budget)
    mem.check()
    tracker.check()


def test_throttle_signal_checked_and_through_the_config() -> None:
    from pghot.sim.config import PromoterConfig, SimConfig

    assert _setup()[2].throttle_signal == "demotions"
    with pytest.raises(ValueError, match="throttle_signal must be one of"):
        _setup(throttle_signal="pingpong")
    with pytest.raises(TypeError, match="throttle_signal must be a str"):
        _setup(throttle_signal=1)
    with pytest.raises(ValueError, match="throttle_signal"):
        PromoterConfig(throttle_signal="demotion")
    c = SimConfig().with_overrides({"promoter.throttle_signal": "ping-pong"})
    assert _setup(**c.promoter.kwargs())[2].throttle_signal == "ping-pong"


def test_throttle_off_by_default_and_through_the_config() -> None:
    from pghot.sim.config import PromoterConfig, SimConfig

    _, _, p = _setup()
    assert p.throttle_demotion_ratio is None and p.throttle_window_ms == 200 and p.budget(0) == 1024
    off = PromoterConfig.from_mapping({"throttle_demotion_ratio": "off"})  # TOML has no null
    assert off.kwargs() == {"throttle_demotion_ratio": None}
    c = SimConfig().with_overrides(
        {"promoter.throttle_demotion_ratio": 100, "promoter.throttle_window_ms": 40}
    )
    assert dict(c.promoter) == {"throttle_demotion_ratio": 100, "throttle_window_ms": 40}
    with pytest.raises(ValueError, match="throttle_demotion_ratio"):
        PromoterConfig(throttle_demotion_ratio=0)
    with pytest.raises(TypeError, match="throttle_window_ms"):
        PromoterConfig.from_mapping({"throttle_window_ms": "20"})
    p = _setup(**c.promoter.kwargs())[2]
    assert p.throttle_demotion_ratio == 100 and p.throttle_window_ms == 40


# -- arguments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"interval_ms": 0}, ValueError, "interval_ms"),
        ({"interval_ms": 1.0}, TypeError, "interval_ms"),
        ({"batch": -1}, ValueError, "batch"),
        ({"rate_limit_mbps": -1}, ValueError, "rate_limit_mbps"),
        ({"rate_limit_mbps": "1"}, TypeError, "rate_limit_mbps"),
        ({"threshold_adjust": 1}, TypeError, "threshold_adjust"),
        ({"adjust_period_ms": 0}, ValueError, "adjust_period_ms"),
        ({"free_bypass": None}, TypeError, "free_bypass"),
        ({"bypass_free_pages": -1}, ValueError, "bypass_free_pages"),
        ({"stale_check": "yes"}, TypeError, "stale_check"),
        ({"throttle_demotion_ratio": 0}, ValueError, "throttle_demotion_ratio"),
        ({"throttle_demotion_ratio": 10001}, ValueError, "throttle_demotion_ratio"),
        ({"throttle_demotion_ratio": "100"}, TypeError, "throttle_demotion_ratio"),
        ({"throttle_demotion_ratio": 1.5}, TypeError, "throttle_demotion_ratio"),
        ({"throttle_window_ms": 0}, ValueError, "throttle_window_ms"),
        ({"throttle_window_ms": None}, TypeError, "throttle_window_ms"),
        ({"clock": 5}, TypeError, "clock"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        _setup(**kwargs)


def test_memory_must_be_built_on_the_tracker(two_tier: Topology) -> None:
    tracker = Tracker(two_tier)
    with pytest.raises(ValueError, match="tracker"):
        Promoter(tracker, TieredMemory(two_tier))
    with pytest.raises(ValueError, match="tracker"):
        Promoter(Tracker(two_tier), TieredMemory(two_tier, tracker))
    with pytest.raises(TypeError, match="memory"):
        Promoter(tracker, None)  # type: ignore[arg-type]


def test_step_arguments() -> None:
    _, _, p = _setup()
    p.step(100)
    with pytest.raises(ValueError, match="earlier"):
        p.step(99)
    with pytest.raises(ValueError, match="now"):
        p.step(-1)
    with pytest.raises(TypeError, match="now"):
        p.step(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="top-tier"):
        p.step(200, nid=1)
    with pytest.raises(ValueError, match="top-tier"):
        p.threshold(1)
    assert p.stats()["kpromoted_rounds"] == 1


# -- threads ---------------------------------------------------------------------------------


def _kpromoted_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("kpromoted")]


def test_threads_start_stop_idempotent_and_joined(two_top: Topology) -> None:
    tracker = Tracker(two_top)
    p = Promoter(tracker, TieredMemory(two_top, tracker), interval_ms=1)
    p.stop()
    p.start()
    assert p.running and sorted(t.name for t in _kpromoted_threads()) == ["kpromoted0", "kpromoted2"]
    assert all(not t.daemon for t in _kpromoted_threads())
    with pytest.raises(RuntimeError, match="already running"):
        p.start()
    deadline = time.monotonic() + 5.0
    while p.stats()["kpromoted_rounds"] < 2 and time.monotonic() < deadline:
        time.sleep(0.002)
    p.stop()
    p.stop()
    assert not p.running and _kpromoted_threads() == []
    assert p.stats()["kpromoted_rounds"] >= 2
    with p:  # restartable, and a context manager
        assert p.running
    assert _kpromoted_threads() == []


def test_threads_promote_in_real_time() -> None:
    tracker, mem, p = _setup(interval_ms=2)
    _lower_pages(mem, [0])
    with p:
        now = p.now()
        _heat(tracker, mem, [0], [now, now])
        deadline = time.monotonic() + 2.0
        while mem.node_of_page(0) != 0 and time.monotonic() < deadline:
            time.sleep(0.005)
    assert mem.node_of_page(0) == 0
    assert _kpromoted_threads() == []


def test_a_failing_thread_is_reported_by_stop() -> None:
    called = threading.Event()

    def clock() -> int:
        called.set()
        raise OSError("clock broke")

    _, _, p = _setup(interval_ms=1, clock=clock)
    p.start()
    assert called.wait(5.0)
    with pytest.raises(RuntimeError, match="clock broke"):
        p.stop()
    assert _kpromoted_threads() == []
    p.stop()  # the error was reported once


def test_stress_record_while_promoting() -> None:
    """Recorders, an allocator and both kpromoted threads for ~1.5 s."""
    topo = Topology(
        [
            Node(0, 0, 256, True),
            Node(1, 256, 4096, False, has_cpu=False),
            Node(2, 4352, 256, True),
        ],
        default_node=0,
    )
    tracker = Tracker(topo)
    mem = TieredMemory(topo, tracker)
    p = Promoter(tracker, mem, interval_ms=2, batch=64)
    n_pages = 3600
    mem.allocate(np.arange(3000), node=1)
    mem.allocate(np.arange(3000, 3300))  # fills node 0 first, then the lower tier
    churn = np.arange(3300, n_pages)  # allocated and freed by one thread
    deadline = time.monotonic() + 1.5
    errors: list[BaseException] = []
    freed_total = [0]
    live_churn: set[int] = set()

    def recorder(seed: int) -> None:
        rng = np.random.default_rng(seed)
        hot = rng.choice(3300, 400, replace=False)
        while time.monotonic() < deadline:
            pages = rng.choice(hot, 256)
            pfns = mem.access(pages)
            nids = rng.choice([NUMA_NO_NODE, 0, 1, 2], pages.size)
            tracker.record_accesses(pfns, nids, seed % 3, p.now())

    def churner() -> None:
        rng = np.random.default_rng(7)
        while time.monotonic() < deadline:
            batch = rng.choice(churn, 32, replace=False)
            fresh = np.array([x for x in batch if int(x) not in live_churn], dtype=np.int64)
            try:
                pfns = mem.allocate(fresh)
            except MemoryError:
                pfns = np.zeros(0, dtype=np.int64)
                fresh = fresh[:0]
            live_churn.update(int(x) for x in fresh)
            tracker.record_accesses(pfns, NUMA_NO_NODE, 0, p.now())
            gone = rng.choice(sorted(live_churn), min(16, len(live_churn)), replace=False)
            mem.free(gone)
            live_churn.difference_update(int(x) for x in gone)
            freed_total[0] += len(gone)

    def wrap(fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except BaseException as exc:  # noqa: BLE001 -- re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=wrap, args=(recorder, s)) for s in range(3)]
    threads.append(threading.Thread(target=wrap, args=(churner,)))
    with p:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert _kpromoted_threads() == []
    if errors:
        raise errors[0]

    mem.check()
    tracker.check()
    # no page lost or duplicated: exactly the live pages are placed, once each
    assert len(mem) == 3300 + len(live_churn)
    placed = [mem.pfn_of(x) for x in range(n_pages)]
    live = set(range(3300)) | live_churn
    assert all((pfn >= 0) == (x in live) for x, pfn in enumerate(placed))
    assert len({pfn for pfn in placed if pfn >= 0}) == len(live)
    s, m = p.stats(), mem.stats()
    assert s["kpromoted_extracted"] == _outcomes(s)
    assert m["pgpromote_success"] == s["kpromoted_migrated"] > 0
    # candidates: what passed staleness and the first re-check, before the rate limit
    assert (
        s["kpromoted_migrated"] + s["kpromoted_no_space"] + s["kpromoted_rate_limited"]
        <= m["pgpromote_candidate"]
        <= s["kpromoted_extracted"]
    )
    ts = tracker.stats()
    assert ts["records"] == ts["pghot_records_hash"] - ts["extracted"] - ts["evicted"]
    assert ts["extracted"] == s["kpromoted_extracted"]


def test_start_leaves_no_thread_when_one_cannot_start(
    two_top: Topology, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker = Tracker(two_top)
    p = Promoter(tracker, TieredMemory(two_top, tracker), interval_ms=1)
    real_start = threading.Thread.start
    started: list[threading.Thread] = []

    def flaky_start(self: threading.Thread) -> None:
        if started:
            raise RuntimeError("can't start new thread")
        started.append(self)
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", flaky_start)
    with pytest.raises(RuntimeError, match="can't start"):
        p.start()
    monkeypatch.undo()
    assert not p.running and _kpromoted_threads() == []
    p.stop()


# -- what a round migrated -------------------------------------------------------------


def test_run_round_returns_what_it_migrated() -> None:
    # 8 lower-tier pages, a 4-page top tier already full: each promotion demotes
    tracker, mem, p = _setup(top=4, lower=32, batch=5)
    mem.allocate(np.arange(4, dtype=np.int64))
    pages = np.arange(10, 18, dtype=np.int64)
    _lower_pages(mem, pages)
    before = mem.pfns_of(pages)
    _heat(tracker, mem, pages, [1, 2])
    m = p.run_round(20)
    s = p.stats()
    n = s["kpromoted_migrated"]
    assert len(m.pages) == len(m.pfns) == len(m.nids) == n == mem.stats()["pgpromote_success"] > 0
    assert set(m.pages.tolist()) <= set(pages.tolist()) and m.nids.tolist() == [0] * n
    # the PFNs are those the pages left; the pages are on the top tier now
    assert m.pfns.tolist() == [int(before[pages.tolist().index(pg)]) for pg in m.pages.tolist()]
    assert (mem.pfns_of(m.pages) < 4).all() and (mem.pages_of(m.pfns) != m.pages).all()
    _heat(tracker, mem, pages, [30, 31])
    assert p.step(40) == p.stats()["kpromoted_migrated"] - n
    mem.check()
