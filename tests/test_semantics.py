"""Known answers for the record semantics, one body per behaviour, run over every implementation.

Each test takes a tracker factory from ``conftest.py``:

- ``make_tracker``: the implementations of SEMANTICS.md section 4 -- the
  pure-Python reference model (:class:`pghot.model.reference.ReferenceTracker`),
  the hash store with each queue design (``pghot.Tracker(queue=...)``) and
  v2's own layout (``store="kernel-v2"``);
- ``make_any_tracker``: those and the pfn-array store with its reference model
  (``store="pfn-array"``, :class:`pghot.model.pfnarray.PfnArrayReference`), for
  the behaviours section 3's record rule shares, and for the argument forms
  and checks of section 4 step 1 (the last section), which every store shares.

Every defect of SEMANTICS.md section 2 the record rule can show has a test
named ``test_f<N>_...`` that fails on the v2 behaviour; the comment in each
says what v2 did. What differs in the pfn-array (a change of target does not
restart the window, scan-order extraction, no table to fill) is tested in
``test_store_pfnarray.py``; what is one implementation's own (F11's table at
scale, v2's list count and record bytes, the reference's eviction choice)
stays in that implementation's file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from pghot import NUMA_NO_NODE, RECORD_DTYPE, Node, Outcome, Record, Source, Topology, Tracker

MakeTracker = Callable[..., Tracker]

HW, SCAN, FAULT = Source.HW_HINTS, Source.PGTABLE_SCAN, Source.HINT_FAULT
#: First lower-tier PFN of the ``two_tier`` fixture (node 1 is [64, 320)).
LO = 64


def frequency(t: Tracker, pfn: int) -> int:
    rec = t.lookup(pfn)
    assert rec is not None, pfn
    return rec.frequency


def counters(t: Tracker) -> tuple[dict[str, int], int]:
    return t.stats(), len(t)


def observable(t: Tracker, pfns: range | list[int]) -> tuple[Any, ...]:
    """Counters, population, queue lengths and the records of ``pfns``."""
    queues = tuple(t.queued(n) for n in sorted(t.topology.toptier_nids()))
    return (t.stats(), len(t), queues, tuple(t.lookup(p) for p in pfns))


# -- the window ------------------------------------------------------------------------------


def test_window_jiffies_rounds_up(make_tracker: MakeTracker, two_tier: Topology) -> None:
    # SEMANTICS.md section 4 step 5: msecs_to_jiffies rounds up.
    for ms, hz, want in [
        (1, 250, 1),
        (5, 250, 2),
        (3, 300, 1),
        (999, 1, 1),
        (1001, 1000, 1001),
        (0, 100, 0),
        (10, 100, 1),
        (11, 100, 2),
        (5000, 1000, 5000),
        (5000, 250, 1250),
        (5, 300, 2),
        (1, 100, 1),
        (0, 1000, 0),
    ]:
        t = make_tracker(two_tier, hz=hz, freq_window_ms=ms)
        assert t.window_jiffies == want, (ms, hz)
    # the effect on the window: 5 ms at 250 Hz is 2 jiffies, so a gap of 2 continues it
    t = make_tracker(two_tier, hz=250, freq_window_ms=5)
    t.record_access(100, -1, HW, 10)
    t.record_access(100, -1, HW, 12)
    assert frequency(t, 100) == 2
    # 5 ms at 300 Hz is 1.5 jiffies, rounded up to 2: a gap of 3 starts a new window
    t = make_tracker(two_tier, hz=300, freq_window_ms=5)
    t.record_access(LO, 0, HW, 100)
    t.record_access(LO, 0, HW, 102)
    assert frequency(t, LO) == 2
    t.record_access(LO, 0, HW, 105)
    assert frequency(t, LO) == 1
    # and a window whose rounded-up length does not fit is rejected:
    # 13 ms at 250 Hz is 3.25 -> 4 jiffies, too many for time_bits=2
    with pytest.raises(ValueError, match="freq_window_ms"):
        make_tracker(two_tier, hz=250, freq_window_ms=13, time_bits=2)


def test_window_boundary(make_tracker: MakeTracker, two_tier: Topology) -> None:
    t = make_tracker(two_tier)  # window 5000 jiffies
    t.record_access(LO, -1, SCAN, 0)
    t.record_access(LO, -1, SCAN, 5000)  # age == window: same window
    assert frequency(t, LO) == 2 and t.queued(0) == 1
    t.record_access(LO, -1, SCAN, 10001)  # age == window + 1: new window
    assert frequency(t, LO) == 1 and t.queued(0) == 0  # fell below the threshold
    assert t.lookup(LO) == Record(LO, 1, 0, 10001, -1)
    t.check()


def test_threshold_accesses_queue_the_page(make_tracker: MakeTracker, two_tier: Topology) -> None:
    t = make_tracker(two_tier, threshold=3)
    for now, expected in [(10, 1), (20, 2)]:
        assert t.record_access(LO + 5, 0, FAULT, now) is Outcome.RECORDED
        assert t.lookup(LO + 5) == Record(LO + 5, expected, 0, now, NUMA_NO_NODE)
        assert t.queued(0) == 0
    assert t.record_access(LO + 5, 0, FAULT, 30) is Outcome.RECORDED
    assert t.lookup(LO + 5) == Record(LO + 5, 3, 0, 30, 0)
    assert t.queued(0) == 1
    s = t.stats()
    assert s["pghot_records_hash"] == 1 and s["pghot_records_heap"] == 1
    assert s["recorded"] == 3 and s["pghot_recorded_hintfaults"] == 3
    assert s["records"] == 1 and s["queued"] == 1
    t.check()


def test_sources_are_counted_separately(make_any_tracker: MakeTracker, two_tier: Topology) -> None:
    t = make_any_tracker(two_tier)
    t.record_access(LO, 0, HW, 0)
    t.record_access(LO, 0, 1, 0)  # a plain int is a Source
    t.record_access(3, 0, FAULT, 0)  # top tier: still a valid access
    t.record_access(np.uint64(LO), np.int8(-1), np.int64(2), np.uint32(1))
    s = t.stats()
    assert s["pghot_recorded_hwhints"] == 1
    assert s["pghot_recorded_pgtscans"] == 1
    assert s["pghot_recorded_hintfaults"] == 2
    assert s["pghot_recorded_accesses"] == 4
    assert s["recorded"] == 3 and s["toptier"] == 1
    t.check()


def test_toptier_and_not_movable_create_no_record(make_any_tracker: MakeTracker, two_tier: Topology) -> None:
    t = make_any_tracker(two_tier)
    assert t.record_access(0, 0, HW, 0) is Outcome.TOPTIER
    assert t.record_access(LO - 1, -1, HW, 0) is Outcome.TOPTIER
    assert t.record_access(320, 0, HW, 0) is Outcome.NOT_MOVABLE  # offline
    assert t.record_access(2**63 - 1, 0, HW, 0) is Outcome.NOT_MOVABLE
    t.set_movable(LO + 9, False)
    assert t.record_access(LO + 9, 0, HW, 0) is Outcome.NOT_MOVABLE
    assert len(t) == 0
    s = t.stats()
    assert (s["toptier"], s["not_movable"], s["recorded"]) == (2, 3, 0)
    t.check()


def test_extracted_page_starts_over(make_any_tracker: MakeTracker, two_tier: Topology) -> None:
    t = make_any_tracker(two_tier)
    t.record_access(LO, 0, HW, 0)
    t.record_access(LO, 0, HW, 1)
    assert t.extract_batch(0).tolist() == [LO]
    assert t.lookup(LO) is None
    t.record_access(LO, 0, HW, 2)
    assert t.lookup(LO) == Record(LO, 1, 0, 2, -1)
    assert t.stats()["pghot_records_hash"] == 2
    t.check()


def test_extract_only_from_own_queue(make_tracker: MakeTracker, four_nodes: Topology) -> None:
    # four_nodes: top-tier nodes 0 and 2, default node 2
    t = make_tracker(four_nodes, threshold=1, capacity=100, queue_capacity=10)
    t.record_access(110, 2, HW, 0)
    t.record_access(110, 2, HW, 1)  # frequency 2: extracted first
    t.record_access(120, 0, HW, 0)
    t.record_access(130, 3, HW, 0)  # lower-tier accessor: default node 2
    assert t.extract_batch(0).tolist() == [120]
    assert t.extract_batch(2).tolist() == [110, 130]
    t.check()


# -- F1: the frequency saturates instead of wrapping -------------------------------------------


def test_f1_frequency_saturates_at_field_max(make_any_tracker: MakeTracker, two_tier: Topology) -> None:
    # v2: PGHOT_FREQ_MAX = 1 << 3 = 8 and "increment while < 8": the 8th access
    # wraps the 3-bit field from 7 to 0.
    for pfn, nid in ((100, NUMA_NO_NODE), (LO, 0)):
        t = make_any_tracker(two_tier, freq_bits=3)
        seen = []
        for now in range(20):
            assert t.record_access(pfn, nid, HW, now) is Outcome.RECORDED
            seen.append(frequency(t, pfn))
        assert seen == [1, 2, 3, 4, 5, 6, 7] + [7] * 13
        assert t.lookup(pfn) == Record(pfn, 7, 0, 19, 0)
        assert t.queued(0) == 1
        assert t.stats()["pghot_records_heap"] == 1  # queued once, then updated in place
        t.check()


@pytest.mark.parametrize("freq_bits", [1, 2, 4, 5, 16])
def test_f1_saturation_for_other_widths(
    make_tracker: MakeTracker, two_tier: Topology, freq_bits: int
) -> None:
    fmax = (1 << freq_bits) - 1
    # one access per call, each a jiffy later (16 bits: counts past 8 bits, to 200)
    t = make_tracker(
        two_tier, freq_bits=freq_bits, threshold=1, time_bits=12, nid_bits=4, freq_window_ms=1000
    )
    accesses = min(fmax + 3, 200)
    for now in range(accesses):
        t.record_access(70, -1, HW, now)
    assert frequency(t, 70) == min(accesses, fmax)
    t.check()
    # a batch of fmax + 3 accesses at one time: saturated at fmax
    t = make_tracker(two_tier, freq_bits=freq_bits, nid_bits=1, time_bits=15, threshold=1)
    t.record_accesses(np.full(fmax + 3, LO), 0, HW, 0)
    assert frequency(t, LO) == fmax
    t.check()


# -- F2: the age is taken modulo the width of the time field -----------------------------------


def test_f2_access_just_after_time_wrap_continues_window(
    make_any_tracker: MakeTracker, two_tier: Topology
) -> None:
    # v2: cur - last in 32-bit arithmetic on 19-bit values: just after the clock
    # wraps the difference is ~4e9, "older than the window": frequency 1.
    # (19 bits here, 14 in the pfn-array's precise word.)
    t = make_any_tracker(two_tier, hz=1000, freq_window_ms=5000)
    assert t.time_bits in (19, 14)
    span = 1 << t.time_bits
    t.record_access(100, -1, HW, span - 10)
    t.record_access(100, -1, HW, span + 5)  # stored time 5, 15 jiffies later
    assert t.lookup(100) == Record(100, 2, 0, 5, 0)
    t.record_access(101, 0, HW, span - 2)
    t.record_access(101, 0, HW, span + 3)  # stored 3, age (3 - (span - 2)) mod span = 5
    assert t.lookup(101) == Record(101, 2, 0, 3, 0)
    t.record_access(101, 0, HW, 5 * span + 8)  # far later, but aliases to age 5
    assert frequency(t, 101) == 3
    t.record_access(102, -1, HW, span - 4)
    t.record_access(102, -1, HW, span + 3)  # cur 3: age 7
    assert t.lookup(102) == Record(102, 2, 0, 3, 0)
    # a gap of whole clock spans aliases to a short one (inherent to the width)
    t.record_access(102, -1, HW, span + 3 + 3 * span + 10)
    assert t.lookup(102) == Record(102, 3, 0, 13, 0)
    t.check()


def test_f2_wrap_with_small_time_field(make_tracker: MakeTracker, two_tier: Topology) -> None:
    t = make_tracker(two_tier, hz=1000, freq_window_ms=3, time_bits=4)
    t.record_access(100, -1, HW, 14)
    t.record_access(100, -1, HW, 17)  # stored 1; age (1 - 14) mod 16 = 3 <= 3
    assert t.lookup(100) == Record(100, 2, 0, 1, 0)
    t.record_access(100, -1, HW, 21)  # stored 5; age 4 > 3: a new window
    assert t.lookup(100) == Record(100, 1, 0, 5, -1)
    t.check()
    t = make_tracker(two_tier, hz=1000, freq_window_ms=5, time_bits=4)
    t.record_access(LO, 0, HW, 14)
    t.record_access(LO, 0, HW, 17)  # cur 1, age 3
    assert t.lookup(LO) == Record(LO, 2, 0, 1, 0)
    t.record_access(LO, 0, HW, 23)  # cur 7, age 6 > 5
    assert frequency(t, LO) == 1


# -- F3: the real span of the time field ---------------------------------------------------


def test_f3_window_up_to_the_real_span_is_accepted(make_tracker: MakeTracker, two_tier: Topology) -> None:
    # v2's header claims 19 bits of jiffies cover 8.73 s at HZ=1000; they
    # cover 2**19 jiffies = 524.288 s (8.7 minutes): a window of 524287 ms
    # is representable, 524288 ms and more are not.
    t = make_tracker(two_tier, hz=1000, time_bits=19, freq_window_ms=524287)
    assert t.window_jiffies == 524287
    assert 2**t.time_bits / t.hz == pytest.approx(524.288)
    for bad in (524288, 524289):
        with pytest.raises(ValueError, match="freq_window_ms"):
            make_tracker(two_tier, hz=1000, time_bits=19, freq_window_ms=bad)


def test_f3_window_of_minutes_is_honoured(make_tracker: MakeTracker, two_tier: Topology) -> None:
    # A 60 s window (far beyond v2's claimed 8.73 s span) behaves as a window.
    t = make_tracker(two_tier, hz=1000, time_bits=19, freq_window_ms=60_000)
    t.record_access(100, -1, HW, 0)
    t.record_access(100, -1, HW, 59_000)
    assert frequency(t, 100) == 2
    t.record_access(100, -1, HW, 59_000 + 60_001)
    assert frequency(t, 100) == 1


def test_f3_gaps_longer_than_the_span_alias(make_tracker: MakeTracker, two_tier: Topology) -> None:
    # Inherent to the width (documented): a gap of span + 100 jiffies looks
    # like a gap of 100 jiffies, a gap of exactly the span like no gap.
    t = make_tracker(two_tier, hz=1000, time_bits=19, freq_window_ms=5000)
    t.record_access(100, -1, HW, 1000)
    t.record_access(100, -1, HW, 1000 + (1 << 19) + 100)
    assert frequency(t, 100) == 2
    t.record_access(LO, 0, HW, 1000)
    t.record_access(LO, 0, HW, 1000 + 9000)  # 9 s > window: reset (the 8.73 s claim)
    assert frequency(t, LO) == 1
    t.record_access(LO, 0, HW, 1000 + 9000 + 2**19)
    assert frequency(t, LO) == 2


# -- F4: a record lives in at most one queue, its target's ----------------------------------


def test_f4_nid_change_moves_record_between_queues(make_tracker: MakeTracker, two_top: Topology) -> None:
    # v2: the record keeps its slot in node 0's heap with a stale key and is
    # also pushed into node 2's heap: one record in two heaps.
    for src in (HW, FAULT):
        t = make_tracker(two_top, threshold=2)
        p = 100
        t.record_access(p, 0, src, 1)
        t.record_access(p, 0, src, 2)
        assert t.lookup(p) == Record(p, 2, 0, 2, 0)
        assert (t.queued(0), t.queued(2)) == (1, 0)
        # accessed from node 2: new window (frequency 1), leaves node 0's queue
        t.record_access(p, 2, src, 3)
        assert t.lookup(p) == Record(p, 1, 2, 3, -1)
        assert (t.queued(0), t.queued(2)) == (0, 0)
        t.check()
        t.record_access(p, 2, src, 4)
        assert t.lookup(p) == Record(p, 2, 2, 4, 2)
        assert (t.queued(0), t.queued(2)) == (0, 1)
        assert t.stats()["queued"] == 1
        t.check()
        if src == HW:
            assert t.extract_batch(0).tolist() == []
            assert t.extract_batch(2).tolist() == [p]
            assert len(t) == 0
        else:
            # NUMA_NO_NODE keeps the window and re-targets the default node: a
            # queued record moves straight from queue 2 to queue 0
            t.record_access(p, NUMA_NO_NODE, src, 5)
            assert t.lookup(p) == Record(p, 3, 0, 5, 0)
            assert (t.queued(0), t.queued(2)) == (1, 0)
            t.check()
            assert t.extract_batch(2).tolist() == []
            assert t.extract_batch(0).tolist() == [p]
        t.check()


def test_f4_direct_move_between_queues_with_threshold_1(make_tracker: MakeTracker, two_top: Topology) -> None:
    t = make_tracker(two_top, threshold=1, capacity=100, queue_capacity=10)
    t.record_access(150, 0, FAULT, 0)
    assert (t.queued(0), t.queued(2)) == (1, 0)
    t.record_access(150, 2, FAULT, 1)
    assert t.lookup(150) == Record(150, 1, 2, 1, 2)
    assert (t.queued(0), t.queued(2)) == (0, 1)
    assert t.stats()["pghot_records_heap"] == 2
    t.check()

    t = make_tracker(two_top, threshold=1)
    pfns = [100, 101, 102, 103]
    for i, p in enumerate(pfns):
        t.record_access(p, 0, HW, i)
    assert t.queued(0) == 4
    for p in pfns[:2]:
        t.record_access(p, 2, HW, 10)
        assert t.lookup(p) == Record(p, 1, 2, 10, 2)
        t.check()
    assert (t.queued(0), t.queued(2)) == (2, 2)
    assert sorted(t.extract_batch(2).tolist()) == [100, 101]
    assert sorted(t.extract_batch(0).tolist()) == [102, 103]
    t.check()


def test_f4_unknown_nid_moves_record_to_default_node_queue(
    make_tracker: MakeTracker, two_top: Topology
) -> None:
    # NUMA_NO_NODE never starts a new window, but re-targets the default node
    # (SEMANTICS.md section 4, step 6).
    t = make_tracker(two_top, threshold=2)
    p = 200
    t.record_access(p, 2, HW, 1)
    t.record_access(p, 2, HW, 2)
    assert t.lookup(p) == Record(p, 2, 2, 2, 2)
    t.record_access(p, NUMA_NO_NODE, SCAN, 3)
    assert t.lookup(p) == Record(p, 3, 0, 3, 0)
    assert (t.queued(0), t.queued(2)) == (1, 0)
    t.check()


def test_f4_many_moves_keep_queues_consistent(make_tracker: MakeTracker, two_top: Topology) -> None:
    rng = np.random.default_rng(4)
    t = make_tracker(two_top, threshold=1, queue_capacity=128)
    pfns = rng.integers(64, 320, 3000)
    nids = rng.choice([0, 2, -1, 1], 3000)
    for i in range(3000):
        t.record_access(int(pfns[i]), int(nids[i]), HW, i // 4)
        if i % 97 == 0:
            t.check()
    t.check()
    for p in range(64, 320):
        rec = t.lookup(p)
        if rec is not None:
            assert rec.queued == rec.nid
    assert t.queued(0) + t.queued(2) == len(t) == t.stats()["queued"]


# -- F5: a new record enters its queue when the threshold is 1 ------------------------------


def test_f5_threshold_1_queues_a_new_record(make_any_tracker: MakeTracker, two_tier: Topology) -> None:
    # v2: a new record never enters the heap.
    for src in (HW, SCAN):
        t = make_any_tracker(two_tier, threshold=1)
        t.record_access(100, NUMA_NO_NODE, src, 0)
        assert t.lookup(100) == Record(100, 1, 0, 0, 0)
        assert t.queued(0) == 1
        assert t.stats()["pghot_records_heap"] == 1
        assert t.extract_batch(0).tolist() == [100]
        t.check()


# -- F6: an explicit "not queued" state ----------------------------------------------------


def test_f6_unqueued_record_reports_queued_minus_1(make_tracker: MakeTracker, two_top: Topology) -> None:
    # v2: heap_idx is size_t, so "-1" is SIZE_MAX and ">= 0" is always true.
    t = make_tracker(two_top, threshold=2)
    t.record_access(100, 0, HW, 0)
    rec = t.lookup(100)
    assert rec is not None and rec.queued == -1
    t.record_access(100, 0, HW, 1)
    rec = t.lookup(100)
    assert rec is not None and rec.queued == 0
    # leaves the queue on a target change: explicitly not queued again
    t.record_access(100, 2, HW, 2)
    rec = t.lookup(100)
    assert rec is not None and rec.queued == -1
    # after extraction there is no record at all
    t.record_access(100, 2, HW, 3)
    assert t.extract_batch(2).tolist() == [100]
    assert t.lookup(100) is None
    # a record dropped below the threshold by a new window leaves its queue
    t.record_access(101, 0, HW, 10)
    t.record_access(101, 0, HW, 11)
    rec = t.lookup(101)
    assert rec is not None and rec.queued == 0
    t.record_access(101, 0, HW, 11 + 5001)
    assert t.lookup(101) == Record(101, 1, 0, 5012, -1)
    assert t.queued(0) == 0
    t.check()


# -- F7: a lower-tier accessing node maps to the default node's queue ----------------------


def test_f7_lower_tier_accessing_node_maps_to_default_queue(
    make_tracker: MakeTracker, four_nodes: Topology
) -> None:
    # v2: node 3 (a CPU on a lower-tier node) selects heap 3, never set up.
    t = make_tracker(four_nodes, threshold=2)
    p = 100  # in node 1
    t.record_access(p, 3, HW, 0)
    t.record_access(p, 3, HW, 1)
    assert t.lookup(p) == Record(p, 2, 2, 1, 2)
    assert (t.queued(0), t.queued(2)) == (0, 1)
    assert t.extract_batch(2).tolist() == [p]
    t.check()
    # node 1 (CPU-less lower tier) and -1 behave the same
    t.record_access(350, 1, HW, 5)
    t.record_access(350, -1, HW, 6)
    assert t.lookup(350) == Record(350, 2, 2, 6, 2)
    # node 3 then node 1: the same target, the same window; then the default node itself
    t.record_access(360, 3, FAULT, 0)
    t.record_access(360, 1, FAULT, 1)
    assert t.lookup(360) == Record(360, 2, 2, 1, 2)
    t.record_access(360, 2, FAULT, 2)
    assert frequency(t, 360) == 3
    t.check()
    # a lower-tier node has no queue
    for nid in (1, 3):
        with pytest.raises(ValueError, match="nid"):
            t.queued(nid)
        with pytest.raises(ValueError, match="nid"):
            t.extract_batch(nid)


def test_f7_unknown_or_out_of_range_nid_is_an_error(make_tracker: MakeTracker, four_nodes: Topology) -> None:
    t = make_tracker(four_nodes, nid_bits=3)
    before = counters(t)
    for nid in (4, 7, 8, 1 << 10, 2**40):  # not a node / not a node / too wide
        with pytest.raises(ValueError, match="nid"):
            t.record_access(100, nid, HW, 0)
    assert counters(t) == before
    t.check()


# -- F8: nid < -1 is rejected -----------------------------------------------------------------


@pytest.mark.parametrize("nid", [-2, -3, -1000, -1024, -(2**40)])
def test_f8_nid_below_minus_1_is_rejected(
    make_any_tracker: MakeTracker, two_tier: Topology, nid: int
) -> None:
    # v2: nid < -1 passes validation and is stored in a 10-bit field.
    t = make_any_tracker(two_tier)
    t.record_access(100, 0, HW, 0)
    before = observable(t, [100])
    with pytest.raises(ValueError, match="nid"):
        t.record_access(100, nid, HW, 1)
    with pytest.raises(ValueError, match="nids"):
        t.record_accesses(np.array([100, 101]), np.array([0, nid]), HW, 1)
    # and ids that are not nodes (2) or do not fit the field
    for bad in (2, 2**10, 2**40):
        with pytest.raises(ValueError, match="nid"):
            t.record_access(100, bad, HW, 1)
    assert observable(t, [100]) == before
    assert t.lookup(100) == Record(100, 1, 0, 0, -1)
    t.check()


# -- F9: only valid accesses are counted ----------------------------------------------------


@pytest.mark.parametrize("src", [3, 4, 99, -1, 2**31])
def test_f9_invalid_src_counts_nothing(make_any_tracker: MakeTracker, two_tier: Topology, src: int) -> None:
    # v2: the access is counted before src is validated.
    t = make_any_tracker(two_tier)
    t.record_access(100, 0, HW, 0)
    before = observable(t, [100])
    with pytest.raises(ValueError, match="src"):
        t.record_access(100, 0, src, 1)
    with pytest.raises(ValueError, match="srcs"):
        t.record_accesses(np.array([100, 5, 101]), -1, np.array([0, 1, src]), 1)
    with pytest.raises(ValueError, match="srcs"):
        t.record_accesses(np.array([100, 5, 101]), -1, src, 1)
    assert observable(t, [100]) == before
    assert before[0]["pghot_recorded_accesses"] == 1
    t.check()


@pytest.mark.parametrize("src", [None, 1.0, "HW_HINTS"])
def test_f9_src_of_a_wrong_type_counts_nothing(
    make_any_tracker: MakeTracker, two_tier: Topology, src: Any
) -> None:
    t = make_any_tracker(two_tier)
    t.record_access(100, 0, HW, 0)
    before = observable(t, [100])
    with pytest.raises(TypeError, match="src"):
        t.record_access(100, 0, src, 1)
    assert observable(t, [100]) == before
    assert t.stats()["pghot_recorded_accesses"] == 1


# -- F10: extraction accepts any threshold up to the field maximum ---------------------------


def test_f10_extract_with_threshold_5(make_tracker: MakeTracker, two_tier: Topology) -> None:
    # v2: extraction rejects a threshold above 2.
    t = make_tracker(two_tier, freq_bits=3, threshold=2)
    now = 0
    for i, freq in enumerate([2, 3, 4, 5, 6, 7, 7, 5]):
        for _ in range(freq):
            t.record_access(100 + i, -1, HW, now)
            now += 1
    rec = t.extract_batch(0, threshold=5, return_records=True)
    assert rec["frequency"].tolist() == [7, 7, 6, 5, 5]
    assert sorted(rec["pfn"].tolist()) == [103, 104, 105, 106, 107]
    assert t.queued(0) == 3
    assert t.extract_batch(0, threshold=7).tolist() == []
    assert sorted(t.extract_batch(0, threshold=3).tolist()) == [101, 102]
    t.check()


def test_f10_extraction_threshold_above_two(make_tracker: MakeTracker, two_tier: Topology) -> None:
    t = make_tracker(two_tier, capacity=100, queue_capacity=100)
    for k in range(1, 8):  # PFN LO + k gets frequency k
        for i in range(k):
            t.record_access(LO + k, 0, HW, i)
    assert [frequency(t, LO + k) for k in range(1, 8)] == list(range(1, 8))
    assert t.queued(0) == 6  # frequency 2..7
    assert t.extract_batch(0, threshold=7).tolist() == [LO + 7]
    assert t.extract_batch(0, threshold=5).tolist() == [LO + 6, LO + 5]
    assert t.extract_batch(0, threshold=3).tolist() == [LO + 4, LO + 3]
    assert t.extract_batch(0, threshold=1).tolist() == [LO + 2]  # only queued ones
    assert t.lookup(LO + 1) == Record(LO + 1, 1, 0, 0, -1)
    for bad in (0, 8, -1):
        with pytest.raises(ValueError, match="threshold"):
            t.extract_batch(0, threshold=bad)
    t.check()


@pytest.mark.parametrize("threshold", [3, 5, 7])
def test_f10_tracker_threshold_above_2(make_tracker: MakeTracker, two_tier: Topology, threshold: int) -> None:
    t = make_tracker(two_tier, freq_bits=3, threshold=threshold)
    for now in range(threshold - 1):
        t.record_access(100, -1, HW, now)
    rec = t.lookup(100)
    assert rec is not None and rec.queued == -1
    t.record_access(100, -1, HW, threshold)
    rec = t.lookup(100)
    assert rec is not None and rec.queued == 0
    assert t.extract_batch(0).tolist() == [100]


# -- F12: a bounded table with counted drops, and stale-record eviction -----------------------


def test_f12_full_table_drops_and_counts(make_tracker: MakeTracker, two_tier: Topology) -> None:
    # v2: once the allocator fails, every new PFN is silently lost.
    t = make_tracker(two_tier, capacity=4)
    for p in range(100, 104):
        assert t.record_access(p, -1, HW, 0) is Outcome.RECORDED
    assert t.record_access(104, -1, HW, 0) is Outcome.TABLE_FULL
    assert t.lookup(104) is None
    # existing records are still updated
    assert t.record_access(100, -1, HW, 1) is Outcome.RECORDED
    s = t.stats()
    assert (s["table_full"], s["records"], s["recorded"], s["evicted"]) == (1, 4, 5, 0)
    assert len(t) == 4
    t.check()
    # without evict_stale even a very old table drops
    assert t.record_access(200, -1, HW, 100000) is Outcome.TABLE_FULL
    assert t.stats()["evicted"] == 0


def test_f12_extraction_makes_room(make_tracker: MakeTracker, two_tier: Topology) -> None:
    t = make_tracker(two_tier, capacity=2, threshold=2)
    for i in range(2):
        t.record_access(LO + i, 0, HW, 0)
        t.record_access(LO + i, 0, HW, 1)
    assert t.record_access(LO + 2, 0, HW, 2) is Outcome.TABLE_FULL
    assert t.record_access(LO + 0, 0, HW, 2) is Outcome.RECORDED  # existing: fine
    assert t.stats()["table_full"] == 1
    assert t.extract_batch(0, 1).tolist() == [LO + 0]  # frequency 3
    assert t.record_access(LO + 2, 0, HW, 3) is Outcome.RECORDED
    s = t.stats()
    assert (s["pghot_records_hash"], s["extracted"], s["records"]) == (3, 1, 2)
    t.check()


def test_f12_evict_stale_replaces_a_stale_record(make_tracker: MakeTracker, two_tier: Topology) -> None:
    t = make_tracker(two_tier, capacity=8, evict_stale=True, freq_window_ms=10)
    for p in range(100, 108):
        t.record_access(p, -1, HW, 0)
    assert t.record_access(200, -1, HW, 5) is Outcome.TABLE_FULL  # nothing stale yet
    # at now=1000 every record is older than the window: a new PFN gets in
    assert t.record_access(200, -1, HW, 1000) is Outcome.RECORDED
    assert t.lookup(200) == Record(200, 1, 0, 1000, -1)
    s = t.stats()
    assert (s["evicted"], s["table_full"], s["records"]) == (1, 1, 8)
    assert sum(t.lookup(p) is not None for p in range(100, 108)) == 7
    t.check()


def test_f12_evict_stale_admits_new_pfns_while_stale_records_remain(
    make_tracker: MakeTracker, two_tier: Topology
) -> None:
    # A full table of stale records must admit new PFNs until every stale
    # record has been replaced, whatever slots (or lists) the new PFNs hash to.
    for probe_first in (False, True):
        t = make_tracker(two_tier, capacity=8, evict_stale=True, freq_window_ms=10)
        for p in range(100, 108):
            t.record_access(p, -1, HW, 0)
        if probe_first:
            assert t.record_access(200, -1, HW, 5) is Outcome.TABLE_FULL  # nothing stale yet
        outcomes = [t.record_access(p, -1, HW, 1000) for p in range(200, 208)]
        assert outcomes == [Outcome.RECORDED] * 8
        s = t.stats()
        assert (s["evicted"], s["table_full"], s["records"], s["pghot_records_hash"]) == (
            8,
            int(probe_first),
            8,
            16,
        )
        assert t.lookup(200) == Record(200, 1, 0, 1000, -1)
        # now nothing is stale: the next new PFN is dropped
        assert t.record_access(300, -1, HW, 1001) is Outcome.TABLE_FULL
        t.check()


def test_f12_evict_stale_without_stale_records_drops(make_tracker: MakeTracker, two_tier: Topology) -> None:
    t = make_tracker(two_tier, capacity=6, evict_stale=True, freq_window_ms=100)
    for p in range(100, 106):
        t.record_access(p, -1, HW, 50)
    for p in range(200, 220):
        assert t.record_access(p, -1, HW, 100) is Outcome.TABLE_FULL
    s = t.stats()
    assert (s["evicted"], s["table_full"], s["records"]) == (0, 20, 6)
    t.check()


def test_f12_queued_records_are_not_evicted(make_tracker: MakeTracker, two_tier: Topology) -> None:
    # Stale but queued (promotion candidates): never replaced.
    t = make_tracker(two_tier, capacity=4, queue_capacity=4, threshold=1, evict_stale=True, freq_window_ms=10)
    for p in range(100, 104):
        t.record_access(p, -1, HW, 0)
    assert t.queued(0) == 4
    assert t.record_access(200, -1, HW, 1000) is Outcome.TABLE_FULL
    for p in range(201, 210):
        assert t.record_access(p, -1, HW, 1000) is Outcome.TABLE_FULL
    assert t.stats()["evicted"] == 0
    assert sorted(t.extract_batch(0).tolist()) == [100, 101, 102, 103]
    t.check()


def test_f12_evict_stale_spares_queued_records(make_tracker: MakeTracker, two_tier: Topology) -> None:
    t = make_tracker(two_tier, capacity=2, queue_capacity=2, evict_stale=True)
    for now in (0, 1):
        t.record_access(LO + 1, 0, HW, now)  # queued (frequency 2)
    t.record_access(LO + 2, 0, HW, 10)  # unqueued, younger
    assert t.record_access(LO + 3, 0, HW, 5005) is Outcome.TABLE_FULL  # 2 not stale yet
    assert t.record_access(LO + 3, 0, HW, 5011) is Outcome.RECORDED
    assert t.lookup(LO + 2) is None and t.lookup(LO + 1) is not None
    # Only queued records left and stale: nothing can be evicted.
    t.record_access(LO + 3, 0, HW, 5012)
    assert t.record_access(LO + 4, 0, HW, 20000) is Outcome.TABLE_FULL
    t.check()


def test_f12_evict_stale_takes_refused_records(make_tracker: MakeTracker, two_tier: Topology) -> None:
    # A record refused by a full queue is unqueued, hence evictable.
    t = make_tracker(two_tier, capacity=2, queue_capacity=1, threshold=1, evict_stale=True)
    t.record_access(LO + 1, 0, HW, 0)  # queued
    t.record_access(LO + 2, 0, HW, 0)  # refused
    assert t.stats()["queue_full"] == 1
    assert t.record_access(LO + 3, 0, HW, 6000) is Outcome.RECORDED
    assert t.lookup(LO + 2) is None
    t.check()


def test_f12_evict_stale_uses_modular_age(make_tracker: MakeTracker, two_tier: Topology) -> None:
    t = make_tracker(two_tier, capacity=1, evict_stale=True)
    t.record_access(LO + 1, 0, HW, 2**19 - 10)
    # 20 jiffies later across the wrap: not stale.
    assert t.record_access(LO + 2, 0, HW, 2**19 + 10) is Outcome.TABLE_FULL
    assert t.record_access(LO + 2, 0, HW, 2**19 + 5000) is Outcome.RECORDED


def test_f12_staleness_is_visible_to_the_promoter(make_tracker: MakeTracker, two_tier: Topology) -> None:
    # extract_batch returns last_update, so a promoter can skip stale records.
    t = make_tracker(two_tier, threshold=2, time_bits=19)
    for now in (10, 11):
        t.record_access(100, -1, HW, now)
    for now in (4000, 4001):
        t.record_access(101, -1, HW, now)
    rec = t.extract_batch(0, return_records=True)
    assert rec.dtype == RECORD_DTYPE
    last = dict(zip(rec["pfn"].tolist(), rec["last_update"].tolist()))
    assert last == {100: 11, 101: 4001}
    t = make_tracker(two_tier)
    t.record_access(LO, 0, HW, 10)
    t.record_access(LO, 0, HW, 20)
    rec = t.extract_batch(0, return_records=True)
    assert rec["last_update"].tolist() == [20]


# -- F13: any lower-tier size works --------------------------------------------------------


@pytest.mark.parametrize("lower_pages", [0, 1, 2, 7, 100, 2047, 2048, 4096, 5000, 20000])
def test_f13_any_lower_tier_size(make_tracker: MakeTracker, lower_pages: int) -> None:
    # v2: hash_size is 0 below 2048 lower-tier pages, then ilog2(0).
    topo = Topology.two_tier(64, lower_pages)
    t = make_tracker(topo)
    cap = lower_pages * 50 // 100
    assert t.capacity == cap
    assert t.queue_capacity == (max(1, cap * 25 // 100) if cap else 0)
    counts = t.record_accesses(np.arange(0, 64 + lower_pages + 10), -1, HW, 0)
    assert counts.tolist() == [min(lower_pages, cap), 64, 10, lower_pages - min(lower_pages, cap)]
    assert len(t) == cap
    t.check()
    # with an explicit capacity even a single lower-tier page is tracked
    if lower_pages:
        t = make_tracker(topo, capacity=1, threshold=1)
        assert t.record_access(64, -1, HW, 0) is Outcome.RECORDED
        assert t.extract_batch(0).tolist() == [64]
        t.check()


@pytest.mark.parametrize("lower", [0, 1, 2, 7, 2047])
def test_f13_tiny_topologies(make_tracker: MakeTracker, lower: int) -> None:
    t = make_tracker(Topology.two_tier(1, lower), threshold=1)
    assert t.capacity == lower // 2
    out = t.record_accesses(np.arange(1, 1 + lower), 0, HW, 0)
    assert out.tolist() == [lower // 2, 0, 0, lower - lower // 2]
    assert len(t) == lower // 2
    assert len(t.extract_batch(0)) == min(t.capacity, t.queue_capacity)
    t.check()


@pytest.mark.parametrize("capacity", [0, 1, 3])
def test_f13_tiny_tables(make_tracker: MakeTracker, two_tier: Topology, capacity: int) -> None:
    t = make_tracker(two_tier, capacity=capacity, threshold=1)
    outcomes = [t.record_access(LO + i, 0, HW, i) for i in range(5)]
    assert outcomes == [Outcome.RECORDED] * capacity + [Outcome.TABLE_FULL] * (5 - capacity)
    assert len(t) == capacity
    assert t.stats()["table_full"] == 5 - capacity
    assert t.queued(0) == min(capacity, t.queue_capacity)
    t.check()


def test_f13_memoryless_lower_node_keeps_toptier_pfns(make_tracker: MakeTracker) -> None:
    # A lower-tier node with no pages (start_pfn 0, like a memoryless node)
    # must not change how other nodes' PFNs are classified.
    topo = Topology(
        [
            Node(0, 0, 100, True),
            Node(1, 0, 0, False, has_cpu=False),
            Node(2, 100, 50, False, has_cpu=False),
        ]
    )
    t = make_tracker(topo)
    assert t.capacity == 25
    assert t.record_access(50, -1, HW, 0) is Outcome.TOPTIER
    assert t.record_access(0, -1, HW, 0) is Outcome.TOPTIER
    assert t.record_access(120, 1, HW, 0) is Outcome.RECORDED
    assert t.record_access(150, -1, HW, 0) is Outcome.NOT_MOVABLE
    t.check()


# -- F14: a refused push leaves the record unqueued, counted ----------------------------------


def test_f14_full_queue_leaves_record_unqueued(make_tracker: MakeTracker, two_tier: Topology) -> None:
    # v2: phi_heap_insert sets heap_idx and reports success on a failed push.
    t = make_tracker(two_tier, threshold=1, queue_capacity=1)
    t.record_access(100, -1, HW, 0)
    assert t.record_access(101, -1, HW, 1) is Outcome.RECORDED
    assert t.lookup(100) == Record(100, 1, 0, 0, 0)
    assert t.lookup(101) == Record(101, 1, 0, 1, -1)
    s = t.stats()
    assert (s["queue_full"], s["pghot_records_heap"], s["queued"]) == (1, 1, 1)
    assert t.queued(0) == 1
    t.check()
    assert t.extract_batch(0).tolist() == [100]
    rec = t.lookup(101)
    assert rec is not None and rec.queued == -1  # until accessed again
    t.check()
    # a later access retries the push, which now succeeds
    t.record_access(101, -1, HW, 2)
    assert t.lookup(101) == Record(101, 2, 0, 2, 0)
    s = t.stats()
    assert (s["queue_full"], s["pghot_records_heap"], s["queued"]) == (1, 2, 1)
    t.check()
    assert t.extract_batch(0).tolist() == [101]


def test_f14_zero_queue_capacity_refuses_every_push(make_tracker: MakeTracker, two_tier: Topology) -> None:
    t = make_tracker(two_tier, threshold=1, queue_capacity=0)
    t.record_accesses(np.arange(100, 110), -1, HW, 0)
    s = t.stats()
    assert (s["queue_full"], s["pghot_records_heap"], s["queued"], s["records"]) == (10, 0, 0, 10)
    assert all(t.lookup(p) == Record(p, 1, 0, 0, -1) for p in range(100, 110))
    assert t.extract_batch(0).tolist() == []
    t.check()
    # every access of a hot record retries, and is refused again
    t = make_tracker(two_tier, threshold=1, queue_capacity=0)
    for i in range(3):
        t.record_access(LO, 0, HW, i)
    assert t.queued(0) == 0 and t.stats()["queue_full"] == 3
    assert t.extract_batch(0).tolist() == []
    t.check()


def test_f14_refused_record_dropping_below_threshold(make_tracker: MakeTracker, two_tier: Topology) -> None:
    t = make_tracker(two_tier, queue_capacity=1)
    for i in range(2):
        t.record_access(LO + 1, 0, HW, i)
        t.record_access(LO + 2, 0, HW, i)
    rec = t.lookup(LO + 2)
    assert rec is not None and rec.queued == -1
    t.record_access(LO + 2, 0, HW, 9000)  # new window: frequency 1, no longer hot
    assert t.lookup(LO + 2) == Record(LO + 2, 1, 0, 9000, -1)
    t.check()


# -- argument forms and checks (SEMANTICS.md section 4, step 1) ------------------------------


@pytest.mark.parametrize(
    ("args", "exc", "match"),
    [
        ((None, 0, 0, 0), TypeError, "pfn"),
        ((1.0 * LO, 0, 0, 0), TypeError, "pfn"),
        (("1001", 0, 0, 0), TypeError, "pfn"),
        ((-1, 0, 0, 0), ValueError, "pfn"),
        ((2**63, 0, 0, 0), ValueError, "pfn"),
        ((LO, None, 0, 0), TypeError, "nid"),
        ((LO, 0.0, 0, 0), TypeError, "nid"),
        ((LO, -2, 0, 0), ValueError, "nid"),
        ((LO, 7, 0, 0), ValueError, "nid"),
        ((LO, 0, None, 0), TypeError, "src"),
        ((LO, 0, 3, 0), ValueError, "src"),
        ((LO, 0, 0, None), TypeError, "now"),
        ((LO, 0, 0, 1.5), TypeError, "now"),
        ((LO, 0, 0, -1), ValueError, "now"),
        ((LO, 0, 0, 2**63), ValueError, "now"),
    ],
)
def test_record_access_validation(
    make_any_tracker: MakeTracker, two_tier: Topology, args: tuple[Any, ...], exc: type[Exception], match: str
) -> None:
    t = make_any_tracker(two_tier)
    t.record_access(LO, 0, HW, 0)
    before = observable(t, [LO])
    with pytest.raises(exc, match=match):
        t.record_access(*args)
    assert observable(t, [LO]) == before
    t.check()


def test_record_access_limits_accepted(make_any_tracker: MakeTracker, two_tier: Topology) -> None:
    t = make_any_tracker(two_tier)
    assert t.record_access(2**63 - 1, 0, HW, 2**63 - 1) is Outcome.NOT_MOVABLE
    assert t.record_access(LO, -1, HW, 2**63 - 1) is Outcome.RECORDED
    rec = t.lookup(LO)
    assert rec is not None and rec.last_update == (2**63 - 1) % 2**t.time_bits  # 19 or 14 bits


def test_record_accesses_matches_single_calls(make_any_tracker: MakeTracker, two_tier: Topology) -> None:
    pfns = np.array([LO, 5, LO + 1, LO, 9999, LO + 1, LO], dtype=np.uint64)
    nids = np.array([0, 0, -1, -1, 0, 0, 0], dtype=np.int32)
    srcs = np.array([0, 1, 2, 0, 1, 2, 0], dtype=np.uint8)
    nows = np.array([1, 2, 3, 4, 5, 6, 7000], dtype=np.int64)
    a, b = make_any_tracker(two_tier), make_any_tracker(two_tier)
    out = a.record_accesses(pfns, nids, srcs, nows)
    singles = [b.record_access(*map(int, args)) for args in zip(pfns, nids, srcs, nows)]
    assert out.dtype == np.int64 and out.shape == (4,)
    assert out.tolist() == [singles.count(o) for o in Outcome]
    assert observable(a, range(LO, LO + 2)) == observable(b, range(LO, LO + 2))


def test_record_accesses_broadcast_scalars(make_any_tracker: MakeTracker, two_tier: Topology) -> None:
    t = make_any_tracker(two_tier)
    out = t.record_accesses([LO, LO, LO + 1], np.int16(0), Source.HINT_FAULT, np.array(5))
    assert out.tolist() == [3, 0, 0, 0]
    assert t.lookup(LO) == Record(LO, 2, 0, 5, 0)
    assert t.stats()["pghot_recorded_hintfaults"] == 3
    empty = np.array([], dtype=np.int64)
    assert t.record_accesses(empty, 0, 0, 0).tolist() == [0, 0, 0, 0]
    assert t.record_accesses(empty.astype(np.uint64), empty, empty, empty).tolist() == [0] * 4
    assert t.record_accesses((LO + 2,), (0,), (1,), (0,)).tolist() == [1, 0, 0, 0]


@pytest.mark.parametrize(
    ("args", "exc", "match"),
    [
        ((None, 0, 0, 0), TypeError, "pfns"),
        (("1001", 0, 0, 0), TypeError, "pfns"),
        (({LO}, 0, 0, 0), TypeError, "pfns"),
        (({LO: 1}, 0, 0, 0), TypeError, "pfns"),
        ((LO, 0, 0, 0), TypeError, "pfns"),  # a scalar where an array is needed
        ((np.int64(LO), 0, 0, 0), TypeError, "pfns"),
        (([[LO], [LO, LO]], 0, 0, 0), TypeError, "pfns"),  # ragged
        ((object(), 0, 0, 0), ValueError, "pfns"),  # object dtype
        (([], 0, 0, 0), ValueError, "pfns"),  # float64 to numpy
        ((np.array(LO), 0, 0, 0), ValueError, "pfns"),  # 0-d
        (([[LO]], 0, 0, 0), ValueError, "pfns"),
        (([LO, None], 0, 0, 0), ValueError, "pfns"),
        (([1.0 * LO], 0, 0, 0), ValueError, "pfns"),
        ((np.array([True]), 0, 0, 0), ValueError, "pfns"),
        (([LO, -1], 0, 0, 0), ValueError, "pfns"),
        ((np.array([LO, 2**63], dtype=np.uint64), 0, 0, 0), ValueError, "pfns"),
        (([LO], None, 0, 0), TypeError, "nids"),
        (([LO], "0", 0, 0), TypeError, "nids"),
        (([LO], 0.0, 0, 0), TypeError, "nids"),
        (([LO], True, 0, 0), ValueError, "nids"),  # bool dtype
        (([LO], [0.0], 0, 0), ValueError, "nids"),
        (([LO], [0, 0], 0, 0), ValueError, "nids"),
        (([LO, LO], [0, -2], 0, 0), ValueError, "nids"),
        (([LO], 5, 0, 0), ValueError, "nids"),
        (([LO], [2**10], 0, 0), ValueError, "nids"),
        (([LO], 0, None, 0), TypeError, "srcs"),
        (([LO], 0, 3, 0), ValueError, "srcs"),
        (([LO, LO], 0, [0, -1], 0), ValueError, "srcs"),
        (([LO], 0, [[0]], 0), ValueError, "srcs"),
        (([LO], 0, 0, None), TypeError, "nows"),
        (([LO], 0, 0, -1), ValueError, "nows"),
        (([LO], 0, 0, 2.5), TypeError, "nows"),
        (([LO, LO], 0, 0, [1]), ValueError, "nows"),
        (([LO], 0, 0, np.array([2**63], dtype=np.uint64)), ValueError, "nows"),
    ],
)
def test_record_accesses_validation(
    make_any_tracker: MakeTracker, two_tier: Topology, args: tuple[Any, ...], exc: type[Exception], match: str
) -> None:
    t = make_any_tracker(two_tier)
    t.record_access(LO, 0, HW, 0)
    before = observable(t, [LO])
    with pytest.raises(exc, match=match):
        t.record_accesses(*args)
    assert observable(t, [LO]) == before


def test_record_accesses_validates_whole_batch_first(
    make_any_tracker: MakeTracker, two_tier: Topology
) -> None:
    t = make_any_tracker(two_tier)
    with pytest.raises(ValueError, match="nids"):
        t.record_accesses([LO, LO + 1, LO + 2], [0, 0, -5], 0, 0)
    assert len(t) == 0 and t.stats()["pghot_recorded_accesses"] == 0


def test_lookup_validation(make_any_tracker: MakeTracker, two_tier: Topology) -> None:
    t = make_any_tracker(two_tier)
    assert t.lookup(0) is None and t.lookup(np.uint64(LO)) is None
    with pytest.raises(ValueError, match="pfn"):
        t.lookup(-1)
    with pytest.raises(ValueError, match="pfn"):
        t.lookup(2**63)
    for bad in (None, 1.0, "1"):
        with pytest.raises(TypeError, match="pfn"):
            t.lookup(bad)  # type: ignore[arg-type]


def test_set_movable_forms(make_any_tracker: MakeTracker, two_tier: Topology) -> None:
    t = make_any_tracker(two_tier, threshold=1)
    t.record_access(LO + 1, 0, HW, 0)
    t.set_movable(np.array([LO + 1, LO + 2], dtype=np.uint64), False)
    assert t.lookup(LO + 1) == Record(LO + 1, 1, 0, 0, 0)  # existing record kept
    assert t.record_access(LO + 1, 0, HW, 1) is Outcome.NOT_MOVABLE
    assert t.record_access(LO + 2, 0, HW, 1) is Outcome.NOT_MOVABLE
    t.set_movable([LO + 1], True)
    t.set_movable(np.int64(LO + 2), np.bool_(True))
    t.set_movable(np.array([], dtype=np.int64), True)
    assert t.record_access(LO + 1, 0, HW, 2) is Outcome.RECORDED
    assert t.record_access(LO + 2, 0, HW, 2) is Outcome.RECORDED
    t.check()


@pytest.mark.parametrize(
    ("pfns", "flag", "exc", "match"),
    [
        (5, False, ValueError, "pfns"),  # top tier
        ([LO, 320], False, ValueError, "pfns"),  # offline
        ([LO, -1], False, ValueError, "pfns"),
        (None, False, TypeError, "pfns"),
        ("1001", False, TypeError, "pfns"),
        ([1.0 * LO], False, ValueError, "pfns"),
        (LO, None, TypeError, "flag"),
        (LO, 0, TypeError, "flag"),
        ([], False, ValueError, "pfns"),
        (5.0, False, TypeError, "pfns"),
    ],
)
def test_set_movable_validation(
    make_any_tracker: MakeTracker, two_tier: Topology, pfns: Any, flag: Any, exc: type[Exception], match: str
) -> None:
    t = make_any_tracker(two_tier)
    with pytest.raises(exc, match=match):
        t.set_movable(pfns, flag)
    assert t.record_access(LO, 0, HW, 0) is Outcome.RECORDED  # nothing was marked
