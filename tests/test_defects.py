"""Known-answer regression tests for the kernel v2 defects F1-F14.

One test (or a few) per row of ``SEMANTICS.md`` section 2. Each asserts the
correct behaviour of :class:`pghot.Tracker` in a way the v2 code would fail;
the comment above each test says what v2 would have done.
"""

from __future__ import annotations

import numpy as np
import pytest

import pghot
from pghot import NUMA_NO_NODE, Node, Outcome, Source, Topology
from pghot._core import Tracker

HW = Source.HW_HINTS


def _counters(t: Tracker) -> tuple[dict[str, int], int]:
    return t.stats(), len(t)


# -- F1: the frequency saturates instead of wrapping ------------------------------


def test_f1_frequency_saturates_at_field_max(two_tier: Topology, queue_kind: str) -> None:
    # v2: PGHOT_FREQ_MAX = 1 << 3 = 8, so the 8th access wraps 7 -> 0.
    t = Tracker(two_tier, queue=queue_kind, freq_bits=3)
    pfn = 100
    for now in range(8):
        assert t.record_access(pfn, NUMA_NO_NODE, HW, now) is Outcome.RECORDED
    rec = t.lookup(pfn)
    assert rec is not None
    assert rec.frequency == 7
    for now in range(8, 20):
        t.record_access(pfn, NUMA_NO_NODE, HW, now)
        rec = t.lookup(pfn)
        assert rec is not None and rec.frequency == 7
    assert rec.queued == 0
    t.check()


@pytest.mark.parametrize("freq_bits", [1, 2, 4, 16])
def test_f1_saturation_for_other_widths(
    two_tier: Topology,
    freq_bits: int,
    queue_kind: str,
) -> None:
    fmax = (1 << freq_bits) - 1
    t = Tracker(
        two_tier,
        queue=queue_kind,
        freq_bits=freq_bits,
        threshold=1,
        time_bits=12,
        nid_bits=4,
        freq_window_ms=1000,
    )
    accesses = min(fmax + 3, 200)
    for now in range(accesses):
        t.record_access(70, -1, HW, now)
    rec = t.lookup(70)
    assert rec is not None
    assert rec.frequency == min(accesses, fmax)
    t.check()


# -- F2: age is computed modulo the width of the time field -----------------------


def test_f2_access_just_after_time_wrap_continues_window(
    two_tier: Topology,
    queue_kind: str,
) -> None:
    # v2: cur - last in 32-bit arithmetic on 19-bit values: after the clock
    # wraps the difference is ~4e9, "older than the window": frequency 1.
    t = Tracker(two_tier, queue=queue_kind, hz=1000, freq_window_ms=5000, time_bits=19)
    span = 1 << 19
    t.record_access(100, -1, HW, span - 10)
    t.record_access(100, -1, HW, span + 5)  # stored time 5, 15 jiffies later
    rec = t.lookup(100)
    assert rec is not None
    assert rec.last_update == 5
    assert rec.frequency == 2
    assert rec.queued == 0
    t.check()


def test_f2_wrap_with_small_time_field(two_tier: Topology, queue_kind: str) -> None:
    t = Tracker(two_tier, queue=queue_kind, hz=1000, freq_window_ms=3, time_bits=4)
    t.record_access(100, -1, HW, 14)
    t.record_access(100, -1, HW, 17)  # stored 1; age (1 - 14) mod 16 = 3 <= 3
    rec = t.lookup(100)
    assert rec is not None and (rec.frequency, rec.last_update) == (2, 1)
    t.record_access(100, -1, HW, 21)  # stored 5; age 4 > 3: a new window
    rec = t.lookup(100)
    assert rec is not None and (rec.frequency, rec.last_update) == (1, 5)


# -- F3: the real span of the time field --------------------------------------------


def test_f3_window_up_to_the_real_span_is_accepted(two_tier: Topology, queue_kind: str) -> None:
    # v2's header claims 19 bits of jiffies cover 8.73 s at HZ=1000; they
    # cover 2**19 jiffies = 524.288 s (8.7 minutes): a window of 524287 ms
    # is representable, 524288 ms and more are not.
    t = Tracker(two_tier, queue=queue_kind, hz=1000, time_bits=19, freq_window_ms=524287)
    assert t.window_jiffies == 524287
    for bad in (524288, 524289):
        with pytest.raises(ValueError, match="freq_window_ms"):
            Tracker(two_tier, queue=queue_kind, hz=1000, time_bits=19, freq_window_ms=bad)


def test_f3_window_of_minutes_is_honoured(two_tier: Topology, queue_kind: str) -> None:
    # A 60 s window (far beyond v2's claimed 8.73 s span) behaves as a window.
    t = Tracker(two_tier, queue=queue_kind, hz=1000, time_bits=19, freq_window_ms=60_000)
    t.record_access(100, -1, HW, 0)
    t.record_access(100, -1, HW, 59_000)
    rec = t.lookup(100)
    assert rec is not None and rec.frequency == 2
    t.record_access(100, -1, HW, 59_000 + 60_001)
    rec = t.lookup(100)
    assert rec is not None and rec.frequency == 1


def test_f3_gaps_longer_than_the_span_alias(two_tier: Topology, queue_kind: str) -> None:
    # Inherent to the width (documented): a gap of span + 100 jiffies looks
    # like a gap of 100 jiffies.
    t = Tracker(two_tier, queue=queue_kind, hz=1000, time_bits=19, freq_window_ms=5000)
    t.record_access(100, -1, HW, 1000)
    t.record_access(100, -1, HW, 1000 + (1 << 19) + 100)
    rec = t.lookup(100)
    assert rec is not None and rec.frequency == 2


# -- F4: a record lives in at most one queue, its target's ------------------------


def test_f4_nid_change_moves_record_between_queues(two_top: Topology, queue_kind: str) -> None:
    # v2: the record keeps its slot in node 0's heap with a stale key and is
    # also pushed into node 2's heap: one record in two heaps.
    t = Tracker(two_top, queue=queue_kind, threshold=2)
    p = 100
    t.record_access(p, 0, HW, 1)
    t.record_access(p, 0, HW, 2)
    assert t.lookup(p) == pghot.Record(p, 2, 0, 2, 0)
    assert (t.queued(0), t.queued(2)) == (1, 0)

    # accessed from node 2: new window (frequency 1), leaves node 0's queue
    t.record_access(p, 2, HW, 3)
    assert t.lookup(p) == pghot.Record(p, 1, 2, 3, -1)
    assert (t.queued(0), t.queued(2)) == (0, 0)
    t.check()

    t.record_access(p, 2, HW, 4)
    assert t.lookup(p) == pghot.Record(p, 2, 2, 4, 2)
    assert (t.queued(0), t.queued(2)) == (0, 1)
    assert t.stats()["queued"] == 1
    t.check()
    assert t.extract_batch(0).tolist() == []
    assert t.extract_batch(2).tolist() == [p]
    assert len(t) == 0
    t.check()


def test_f4_direct_move_between_queues_with_threshold_1(
    two_top: Topology,
    queue_kind: str,
) -> None:
    t = Tracker(two_top, queue=queue_kind, threshold=1)
    pfns = [100, 101, 102, 103]
    for i, p in enumerate(pfns):
        t.record_access(p, 0, HW, i)
    assert t.queued(0) == 4
    for p in pfns[:2]:
        t.record_access(p, 2, HW, 10)
        rec = t.lookup(p)
        assert rec is not None and rec.queued == 2 and rec.frequency == 1
        t.check()
    assert (t.queued(0), t.queued(2)) == (2, 2)
    assert sorted(t.extract_batch(2).tolist()) == [100, 101]
    assert sorted(t.extract_batch(0).tolist()) == [102, 103]
    t.check()


def test_f4_unknown_nid_moves_record_to_default_node_queue(
    two_top: Topology,
    queue_kind: str,
) -> None:
    # NUMA_NO_NODE keeps the window going but re-targets the default node.
    t = Tracker(two_top, queue=queue_kind, threshold=2)
    p = 200
    t.record_access(p, 2, HW, 1)
    t.record_access(p, 2, HW, 2)
    assert t.lookup(p) == pghot.Record(p, 2, 2, 2, 2)
    t.record_access(p, NUMA_NO_NODE, HW, 3)
    assert t.lookup(p) == pghot.Record(p, 3, 0, 3, 0)
    assert (t.queued(0), t.queued(2)) == (1, 0)
    t.check()


def test_f4_many_moves_keep_heaps_consistent(two_top: Topology, queue_kind: str) -> None:
    rng = np.random.default_rng(4)
    t = Tracker(two_top, queue=queue_kind, threshold=1, queue_capacity=128)
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


# -- F5: a new record enters its queue when the threshold is 1 --------------------


def test_f5_threshold_1_queues_a_new_record(two_tier: Topology, queue_kind: str) -> None:
    # v2: a new record never enters the heap.
    t = Tracker(two_tier, queue=queue_kind, threshold=1)
    t.record_access(100, NUMA_NO_NODE, HW, 0)
    assert t.lookup(100) == pghot.Record(100, 1, 0, 0, 0)
    assert t.queued(0) == 1
    assert t.stats()["pghot_records_heap"] == 1
    assert t.extract_batch(0).tolist() == [100]
    t.check()


# -- F6: an explicit "not queued" state ---------------------------------------------


def test_f6_unqueued_record_reports_queued_minus_1(two_top: Topology, queue_kind: str) -> None:
    # v2: heap_idx is size_t, so "-1" is SIZE_MAX and ">= 0" is always true.
    t = Tracker(two_top, queue=queue_kind, threshold=2)
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
    assert t.lookup(101).queued == 0  # type: ignore[union-attr]
    t.record_access(101, 0, HW, 11 + 5001)
    assert t.lookup(101) == pghot.Record(101, 1, 0, 5012, -1)
    assert t.queued(0) == 0
    t.check()


# -- F7: a lower-tier accessing node maps to the default node's queue -------------


def test_f7_lower_tier_accessing_node_maps_to_default_queue(
    four_nodes: Topology,
    queue_kind: str,
) -> None:
    # v2: node 3 (a CPU on a lower-tier node) selects heap 3, never set up.
    t = Tracker(four_nodes, queue=queue_kind, threshold=2)
    p = 100  # in node 1
    t.record_access(p, 3, HW, 0)
    t.record_access(p, 3, HW, 1)
    assert t.lookup(p) == pghot.Record(p, 2, 2, 1, 2)
    assert (t.queued(0), t.queued(2)) == (0, 1)
    assert t.extract_batch(2).tolist() == [p]
    t.check()
    # node 1 (CPU-less lower tier) and -1 behave the same
    t.record_access(350, 1, HW, 5)
    t.record_access(350, -1, HW, 6)
    assert t.lookup(350) == pghot.Record(350, 2, 2, 6, 2)
    # a lower-tier node has no queue
    for nid in (1, 3):
        with pytest.raises(ValueError, match="nid"):
            t.queued(nid)
        with pytest.raises(ValueError, match="nid"):
            t.extract_batch(nid)


def test_f7_unknown_or_out_of_range_nid_is_an_error(four_nodes: Topology, queue_kind: str) -> None:
    t = Tracker(four_nodes, queue=queue_kind, nid_bits=3)
    before = _counters(t)
    for nid in (4, 7, 8, 1 << 10):  # not a node / not a node / too wide
        with pytest.raises(ValueError, match="nid"):
            t.record_access(100, nid, HW, 0)
    assert _counters(t) == before
    t.check()


# -- F8: nid < -1 is rejected ---------------------------------------------------------


@pytest.mark.parametrize("nid", [-2, -3, -1024, -(2**40)])
def test_f8_nid_below_minus_1_is_rejected(two_tier: Topology, nid: int, queue_kind: str) -> None:
    # v2: nid < -1 passes validation and is stored in a 10-bit field.
    t = Tracker(two_tier, queue=queue_kind)
    t.record_access(100, 0, HW, 0)
    before = _counters(t)
    with pytest.raises(ValueError, match="nid"):
        t.record_access(100, nid, HW, 1)
    with pytest.raises(ValueError, match="nids"):
        t.record_accesses(np.array([100, 101]), np.array([0, nid]), HW, 1)
    assert _counters(t) == before
    assert t.lookup(100) == pghot.Record(100, 1, 0, 0, -1)
    t.check()


# -- F9: only valid accesses are counted --------------------------------------------


@pytest.mark.parametrize("src", [3, 4, -1, 2**31])
def test_f9_invalid_src_counts_nothing(two_tier: Topology, src: int, queue_kind: str) -> None:
    # v2: the access is counted before src is validated.
    t = Tracker(two_tier, queue=queue_kind)
    t.record_access(100, 0, HW, 0)
    before = _counters(t)
    with pytest.raises(ValueError, match="src"):
        t.record_access(100, 0, src, 1)
    with pytest.raises(ValueError, match="srcs"):
        t.record_accesses(np.array([100, 5, 101]), -1, np.array([0, 1, src]), 1)
    with pytest.raises(ValueError, match="srcs"):
        t.record_accesses(np.array([100, 5, 101]), -1, src, 1)
    assert _counters(t) == before
    assert before[0]["pghot_recorded_accesses"] == 1
    t.check()


# -- F10: extraction accepts any threshold up to the field maximum ---------------


def test_f10_extract_with_threshold_5(two_tier: Topology, queue_kind: str) -> None:
    # v2: extraction rejects a threshold above 2.
    t = Tracker(two_tier, queue=queue_kind, freq_bits=3, threshold=2)
    now = 0
    for i, freq in enumerate([2, 3, 4, 5, 6, 7, 7, 5]):
        for _ in range(freq):
            t.record_access(100 + i, -1, HW, now)
            now += 1
    rec = t.extract_batch(0, threshold=5, return_records=True)
    assert sorted(rec["frequency"].tolist(), reverse=True) == rec["frequency"].tolist()
    assert rec["frequency"].tolist() == [7, 7, 6, 5, 5]
    assert sorted(rec["pfn"].tolist()) == [103, 104, 105, 106, 107]
    assert t.queued(0) == 3
    assert t.extract_batch(0, threshold=7).tolist() == []
    assert sorted(t.extract_batch(0, threshold=3).tolist()) == [101, 102]
    t.check()


@pytest.mark.parametrize("threshold", [3, 5, 7])
def test_f10_tracker_threshold_above_2(
    two_tier: Topology,
    threshold: int,
    queue_kind: str,
) -> None:
    t = Tracker(two_tier, queue=queue_kind, freq_bits=3, threshold=threshold)
    for now in range(threshold - 1):
        t.record_access(100, -1, HW, now)
    assert t.lookup(100).queued == -1  # type: ignore[union-attr]
    t.record_access(100, -1, HW, threshold)
    assert t.lookup(100).queued == 0  # type: ignore[union-attr]
    assert t.extract_batch(0).tolist() == [100]


# -- F11: lookups are O(1): correctness at scale (speed is for benchmarks) -------


@pytest.mark.parametrize("capacity", [250_000, 1_000_000])
def test_f11_large_table_finds_every_pfn(capacity: int) -> None:
    # v2: ~1024 records per hash list.  Here: an open-addressing table; at
    # 80 % load every PFN is recorded and found again.
    n = capacity * 80 // 100
    topo = Topology.two_tier(1024, 2_000_000)
    t = Tracker(topo, capacity=capacity)
    rng = np.random.default_rng(11)
    pfns = rng.choice(np.arange(1024, 1024 + 2_000_000, dtype=np.uint64), n, replace=False)
    counts = t.record_accesses(pfns, -1, HW, 7)
    assert counts.tolist() == [n, 0, 0, 0]
    assert len(t) == n
    lookup = t.lookup
    missing = [int(p) for p in pfns.tolist() if lookup(p) is None]
    assert missing == []
    rec = t.lookup(int(pfns[12345]))
    assert rec is not None and (rec.frequency, rec.last_update) == (1, 7)
    # a second pass finds (does not re-create) every record
    counts = t.record_accesses(pfns[::-1], -1, HW, 8)
    assert counts.tolist() == [n, 0, 0, 0]
    s = t.stats()
    assert s["pghot_records_hash"] == n and s["records"] == n and s["table_full"] == 0
    absent = np.setdiff1d(np.arange(1024, 1024 + 5000, dtype=np.uint64), pfns)
    assert all(lookup(p) is None for p in absent.tolist())
    t.check()


# -- F12: a bounded table with counted drops, and stale-record eviction ----------


def test_f12_full_table_drops_and_counts(two_tier: Topology, queue_kind: str) -> None:
    # v2: once the allocator fails, every new PFN is silently lost.
    t = Tracker(two_tier, queue=queue_kind, capacity=4)
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


def test_f12_evict_stale_replaces_a_stale_record(two_tier: Topology, queue_kind: str) -> None:
    t = Tracker(two_tier, queue=queue_kind, capacity=8, evict_stale=True, freq_window_ms=10)
    for p in range(100, 108):
        t.record_access(p, -1, HW, 0)
    assert t.record_access(200, -1, HW, 5) is Outcome.TABLE_FULL  # nothing stale yet
    # at now=1000 every record is older than the window: a new PFN gets in
    assert t.record_access(200, -1, HW, 1000) is Outcome.RECORDED
    assert t.lookup(200) == pghot.Record(200, 1, 0, 1000, -1)
    s = t.stats()
    assert (s["evicted"], s["table_full"], s["records"]) == (1, 1, 8)
    assert sum(t.lookup(p) is not None for p in range(100, 108)) == 7
    t.check()


def test_f12_evict_stale_admits_new_pfns_while_stale_records_remain(
    two_tier: Topology,
    queue_kind: str,
) -> None:
    # A full table of stale records must admit new PFNs until every stale
    # record has been replaced, whatever slots the new PFNs hash to.
    t = Tracker(two_tier, queue=queue_kind, capacity=8, evict_stale=True, freq_window_ms=10)
    for p in range(100, 108):
        t.record_access(p, -1, HW, 0)
    outcomes = [t.record_access(p, -1, HW, 1000) for p in range(200, 208)]
    assert outcomes == [Outcome.RECORDED] * 8
    s = t.stats()
    assert (s["evicted"], s["table_full"], s["records"]) == (8, 0, 8)
    # now nothing is stale: the next new PFN is dropped
    assert t.record_access(300, -1, HW, 1001) is Outcome.TABLE_FULL
    t.check()


def test_f12_evict_stale_without_stale_records_drops(two_tier: Topology, queue_kind: str) -> None:
    t = Tracker(two_tier, queue=queue_kind, capacity=6, evict_stale=True, freq_window_ms=100)
    for p in range(100, 106):
        t.record_access(p, -1, HW, 50)
    for p in range(200, 220):
        assert t.record_access(p, -1, HW, 100) is Outcome.TABLE_FULL
    s = t.stats()
    assert (s["evicted"], s["table_full"], s["records"]) == (0, 20, 6)
    t.check()


def test_f12_queued_records_are_not_evicted(two_tier: Topology, queue_kind: str) -> None:
    # Stale but queued (promotion candidates): never replaced.
    t = Tracker(
        two_tier,
        queue=queue_kind,
        capacity=4,
        queue_capacity=4,
        threshold=1,
        evict_stale=True,
        freq_window_ms=10,
    )
    for p in range(100, 104):
        t.record_access(p, -1, HW, 0)
    assert t.queued(0) == 4
    for p in range(200, 210):
        assert t.record_access(p, -1, HW, 1000) is Outcome.TABLE_FULL
    assert t.stats()["evicted"] == 0
    assert sorted(t.extract_batch(0).tolist()) == [100, 101, 102, 103]
    t.check()


def test_f12_staleness_is_visible_to_the_promoter(two_tier: Topology, queue_kind: str) -> None:
    # extract_batch returns last_update, so a promoter can skip stale records.
    t = Tracker(two_tier, queue=queue_kind, threshold=2, time_bits=19)
    for now in (10, 11):
        t.record_access(100, -1, HW, now)
    for now in (4000, 4001):
        t.record_access(101, -1, HW, now)
    rec = t.extract_batch(0, return_records=True)
    assert rec.dtype == pghot.RECORD_DTYPE
    last = dict(zip(rec["pfn"].tolist(), rec["last_update"].tolist()))
    assert last == {100: 11, 101: 4001}


# -- F13: any lower-tier size works ---------------------------------------------------


@pytest.mark.parametrize("lower_pages", [0, 1, 2, 100, 2047, 2048])
def test_f13_any_lower_tier_size(lower_pages: int, queue_kind: str) -> None:
    # v2: hash_size is 0 below 2048 lower-tier pages, then ilog2(0).
    topo = Topology.two_tier(64, lower_pages)
    t = Tracker(topo, queue=queue_kind)
    assert t.capacity == lower_pages * 50 // 100
    assert t.queue_capacity == (max(1, t.capacity * 25 // 100) if t.capacity else 0)
    counts = t.record_accesses(np.arange(0, 64 + lower_pages + 10), -1, HW, 0)
    assert counts[Outcome.TOPTIER] == 64
    assert counts[Outcome.NOT_MOVABLE] == 10
    assert counts[Outcome.RECORDED] == min(lower_pages, t.capacity)
    assert counts[Outcome.TABLE_FULL] == lower_pages - min(lower_pages, t.capacity)
    assert len(t) == t.capacity if lower_pages else len(t) == 0
    t.check()
    # with an explicit capacity even a single lower-tier page is tracked
    if lower_pages:
        t = Tracker(topo, queue=queue_kind, capacity=1, threshold=1)
        assert t.record_access(64, -1, HW, 0) is Outcome.RECORDED
        assert t.extract_batch(0).tolist() == [64]
        t.check()


def test_f13_memoryless_lower_node_keeps_toptier_pfns(queue_kind: str) -> None:
    # A lower-tier node with no pages (start_pfn 0, like a memoryless node)
    # must not change how other nodes' PFNs are classified.
    topo = Topology(
        [
            Node(0, 0, 100, True),
            Node(1, 0, 0, False, has_cpu=False),
            Node(2, 100, 50, False, has_cpu=False),
        ]
    )
    t = Tracker(topo, queue=queue_kind)
    assert t.capacity == 25
    assert t.record_access(50, -1, HW, 0) is Outcome.TOPTIER
    assert t.record_access(0, -1, HW, 0) is Outcome.TOPTIER
    assert t.record_access(120, 1, HW, 0) is Outcome.RECORDED
    assert t.record_access(150, -1, HW, 0) is Outcome.NOT_MOVABLE
    t.check()


# -- F14: a refused push leaves the record unqueued, counted ---------------------


def test_f14_full_queue_leaves_record_unqueued(two_tier: Topology, queue_kind: str) -> None:
    # v2: phi_heap_insert sets heap_idx and reports success on a failed push.
    t = Tracker(two_tier, queue=queue_kind, threshold=1, queue_capacity=1)
    t.record_access(100, -1, HW, 0)
    assert t.record_access(101, -1, HW, 1) is Outcome.RECORDED
    assert t.lookup(100) == pghot.Record(100, 1, 0, 0, 0)
    assert t.lookup(101) == pghot.Record(101, 1, 0, 1, -1)
    s = t.stats()
    assert (s["queue_full"], s["pghot_records_heap"], s["queued"]) == (1, 1, 1)
    assert t.queued(0) == 1
    t.check()
    assert t.extract_batch(0).tolist() == [100]
    # a later access retries the push, which now succeeds
    t.record_access(101, -1, HW, 2)
    assert t.lookup(101) == pghot.Record(101, 2, 0, 2, 0)
    s = t.stats()
    assert (s["queue_full"], s["pghot_records_heap"], s["queued"]) == (1, 2, 1)
    t.check()
    assert t.extract_batch(0).tolist() == [101]


def test_f14_zero_queue_capacity_refuses_every_push(two_tier: Topology, queue_kind: str) -> None:
    t = Tracker(two_tier, queue=queue_kind, threshold=1, queue_capacity=0)
    t.record_accesses(np.arange(100, 110), -1, HW, 0)
    s = t.stats()
    assert (s["queue_full"], s["pghot_records_heap"], s["queued"], s["records"]) == (10, 0, 0, 10)
    assert all(t.lookup(p).queued == -1 for p in range(100, 110))  # type: ignore[union-attr]
    assert t.extract_batch(0).tolist() == []
    t.check()


def test_window_jiffies_rounds_up(two_tier: Topology, queue_kind: str) -> None:
    # SEMANTICS.md section 4 step 5: msecs_to_jiffies rounds up.
    for ms, hz, want in [(1, 250, 1), (5, 250, 2), (3, 300, 1), (999, 1, 1),
                         (1001, 1000, 1001), (0, 100, 0), (10, 100, 1), (11, 100, 2)]:
        t = Tracker(two_tier, queue=queue_kind, hz=hz, freq_window_ms=ms)
        assert t.window_jiffies == want, (ms, hz)
    # the effect on the window: 5 ms at 250 Hz is 2 jiffies, so a gap of 2 continues it
    t = Tracker(two_tier, queue=queue_kind, hz=250, freq_window_ms=5)
    t.record_access(100, -1, HW, 10)
    t.record_access(100, -1, HW, 12)
    assert t.lookup(100).frequency == 2  # type: ignore[union-attr]
    # and a window whose rounded-up length does not fit is rejected:
    # 13 ms at 250 Hz is 3.25 -> 4 jiffies, too many for time_bits=2
    with pytest.raises(ValueError, match="freq_window_ms"):
        Tracker(two_tier, queue=queue_kind, hz=250, freq_window_ms=13, time_bits=2)
