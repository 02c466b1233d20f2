"""Tests of pghot.model.reference.ReferenceTracker, the pure-Python specification.

The known answers of ``SEMANTICS.md`` (each kernel v2 defect of section 2 the
model can show, F1-F10 and F12-F14, and the window rule) are in
``test_semantics.py``, one body run over this model and every compiled store.
So are the argument forms and checks of ``record_access``, ``record_accesses``,
``lookup`` and ``set_movable``. Here is what is the model's own: its
configuration and sizes, its choice of which stale record to evict (F12), its
deterministic tie order and ``prefer=`` in extraction, ``check()`` catching
corruption of its internals, and hypothesis properties of the section 5
invariants after random operation sequences.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pghot._types import RECORD_DTYPE, Outcome, Source
from pghot.model.reference import QUEUE_KINDS, ReferenceTracker
from pghot.topology import Node, Topology

TOP = 1000
LOWER = 4000
LO = TOP  # first lower-tier PFN of two_tier(TOP, LOWER)
HW, SCAN, FAULT = Source.HW_HINTS, Source.PGTABLE_SCAN, Source.HINT_FAULT

STAT_KEYS = {
    "pghot_recorded_accesses",
    "pghot_recorded_hwhints",
    "pghot_recorded_pgtscans",
    "pghot_recorded_hintfaults",
    "pghot_records_hash",
    "pghot_records_heap",
    "recorded",
    "toptier",
    "not_movable",
    "table_full",
    "queue_full",
    "evicted",
    "extracted",
    "records",
    "queued",
}


def tracker(**kwargs: Any) -> ReferenceTracker:
    return ReferenceTracker(Topology.two_tier(TOP, LOWER), **kwargs)


def freq(t: ReferenceTracker, pfn: int) -> int:
    rec = t.lookup(pfn)
    assert rec is not None
    return rec.frequency


def snapshot(t: ReferenceTracker, pfns: range | list[int]) -> tuple[Any, ...]:
    """Observable state: counters, population, queues, records of ``pfns``."""
    queues = tuple(t.queued(n) for n in t.topology.toptier_nids())
    return (t.stats(), len(t), queues, tuple(t.lookup(p) for p in pfns))


# -- configuration -------------------------------------------------------------------


def test_defaults() -> None:
    t = tracker()
    assert (t.hz, t.freq_window_ms, t.window_jiffies, t.threshold) == (1000, 5000, 5000, 2)
    assert (t.freq_bits, t.nid_bits, t.time_bits) == (3, 10, 19)
    assert t.capacity == LOWER * 50 // 100 == 2000
    assert t.queue_capacity == 2000 * 25 // 100 == 500
    assert t.evict_stale is False
    assert t.topology == Topology.two_tier(TOP, LOWER)
    s = t.stats()
    assert set(s) == STAT_KEYS and all(v == 0 for v in s.values())
    assert len(t) == 0 and t.queued(0) == 0
    assert t.queue == "binary" and "binary" in QUEUE_KINDS
    t.check()


def test_sizes() -> None:
    assert tracker(capacity=3).queue_capacity == 1  # 3 * 25 // 100 == 0, at least 1
    assert tracker(capacity=0).queue_capacity == 0
    assert tracker(capacity=10, queue_capacity=0).queue_capacity == 0
    assert tracker(capacity=400).queue_capacity == 100
    assert tracker(queue_capacity=7).capacity == 2000


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"hz": None}, TypeError, "hz"),
        ({"hz": 1.5}, TypeError, "hz"),
        ({"hz": 0}, ValueError, "hz"),
        ({"freq_window_ms": "5"}, TypeError, "freq_window_ms"),
        ({"freq_window_ms": -1}, ValueError, "freq_window_ms"),
        ({"freq_window_ms": 524288}, ValueError, "freq_window_ms"),
        ({"hz": 100, "freq_window_ms": 20, "time_bits": 1}, ValueError, "freq_window_ms"),
        ({"threshold": None}, TypeError, "threshold"),
        ({"threshold": 0}, ValueError, "threshold"),
        ({"threshold": 8}, ValueError, "threshold"),
        ({"freq_bits": 2, "threshold": 4}, ValueError, "threshold"),
        ({"freq_bits": 0}, ValueError, "freq_bits"),
        ({"freq_bits": 17, "nid_bits": 2, "time_bits": 13}, ValueError, "freq_bits"),
        ({"freq_bits": 2.0}, TypeError, "freq_bits"),
        ({"nid_bits": 0}, ValueError, "nid_bits"),
        ({"nid_bits": None}, TypeError, "nid_bits"),
        ({"time_bits": 0}, ValueError, "time_bits"),
        ({"time_bits": "19"}, TypeError, "time_bits"),
        ({"freq_bits": 4, "nid_bits": 10, "time_bits": 19}, ValueError, "<= 32"),
        ({"capacity": -1}, ValueError, "capacity"),
        ({"capacity": 1.0}, TypeError, "capacity"),
        ({"queue_capacity": -1}, ValueError, "queue_capacity"),
        ({"queue_capacity": "1"}, TypeError, "queue_capacity"),
        ({"queue": "fibonacci"}, ValueError, "queue"),
        ({"queue": None}, TypeError, "queue"),
        ({"evict_stale": 1}, TypeError, "evict_stale"),
        ({"evict_stale": None}, TypeError, "evict_stale"),
        ({"hz": 10**6 + 1}, ValueError, "hz"),
        ({"capacity": 2**31 + 1}, ValueError, "capacity"),
        ({"queue_capacity": 2**32 - 1}, ValueError, "queue_capacity"),
        ({"nid_bits": 31}, ValueError, "nid_bits"),
        ({"time_bits": 31}, ValueError, "time_bits"),
    ],
)
def test_constructor_validation(kwargs: dict[str, Any], exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        tracker(**kwargs)


def test_constructor_rejects_non_topology() -> None:
    for bad in (None, [Node(0, 0, 1, True)], "topology"):
        with pytest.raises(TypeError, match="topology"):
            ReferenceTracker(bad)  # type: ignore[arg-type]


def test_constructor_checks_nid_width() -> None:
    topo = Topology([Node(0, 0, 10, True), Node(4, 10, 10, False)])
    with pytest.raises(ValueError, match="nid_bits"):
        ReferenceTracker(topo, nid_bits=2)
    assert ReferenceTracker(topo, nid_bits=3).nid_bits == 3


def test_constructor_limits_accepted() -> None:
    t = tracker(freq_bits=16, nid_bits=1, time_bits=15, threshold=65535, freq_window_ms=32767)
    assert t.threshold == 65535 and t.window_jiffies == 32767
    t = tracker(hz=np.int64(100), threshold=np.int32(3), evict_stale=np.bool_(True))
    assert (t.hz, t.threshold, t.evict_stale) == (100, 3, True)


# -- F12: which stale record goes ---------------------------------------------------------


def test_f12_evict_stale_replaces_oldest_stale_record() -> None:
    t = tracker(capacity=3, evict_stale=True)
    t.record_access(LO + 1, 0, HW, 100)
    t.record_access(LO + 2, 0, HW, 0)
    t.record_access(LO + 3, 0, HW, 3000)
    assert t.record_access(LO + 4, 0, HW, 4000) is Outcome.TABLE_FULL  # none stale
    assert t.record_access(LO + 4, 0, HW, 5101) is Outcome.RECORDED  # 2 and 1 stale
    assert t.lookup(LO + 2) is None  # the oldest went
    assert t.lookup(LO + 1) is not None
    assert t.record_access(LO + 5, 0, HW, 5101) is Outcome.RECORDED
    assert t.lookup(LO + 1) is None
    assert t.record_access(LO + 6, 0, HW, 5101) is Outcome.TABLE_FULL  # 3 not stale
    s = t.stats()
    assert (s["evicted"], s["table_full"], s["pghot_records_hash"], s["records"]) == (2, 2, 5, 3)
    t.check()


def test_f12_evict_stale_ties_go_to_smaller_pfn() -> None:
    t = tracker(capacity=2, evict_stale=True)
    t.record_access(LO + 9, 0, HW, 0)
    t.record_access(LO + 8, 0, HW, 0)
    t.record_access(LO + 1, 0, HW, 6000)
    assert t.lookup(LO + 8) is None and t.lookup(LO + 9) is not None


# -- extraction ------------------------------------------------------------------------


def hot_tracker() -> ReferenceTracker:
    """Frequencies: LO+5 -> 3, LO+1 -> 3, LO+9 -> 2, LO+3 -> 2, LO+7 -> 2, LO+2 -> 1."""
    t = tracker(capacity=100, queue_capacity=100)
    plan = {LO + 5: 3, LO + 1: 3, LO + 9: 2, LO + 3: 2, LO + 7: 2, LO + 2: 1}
    for pfn, k in plan.items():
        for i in range(k):
            t.record_access(pfn, -1, SCAN, 50 + i)
    return t


def test_extract_order_and_ties() -> None:
    t = hot_tracker()
    out = t.extract_batch(0)
    assert out.dtype == np.uint64
    assert out.tolist() == [LO + 1, LO + 5, LO + 3, LO + 7, LO + 9]
    assert len(t) == 1 and t.queued(0) == 0
    assert t.stats()["extracted"] == 5
    t.check()


def test_extract_max_count() -> None:
    t = hot_tracker()
    empty = t.extract_batch(0, max_count=0)
    assert empty.dtype == np.uint64 and empty.shape == (0,)
    assert t.extract_batch(0, 3).tolist() == [LO + 1, LO + 5, LO + 3]
    assert t.extract_batch(0, max_count=np.int64(10)).tolist() == [LO + 7, LO + 9]
    assert t.extract_batch(0).tolist() == []


def test_extract_prefer_breaks_ties() -> None:
    t = hot_tracker()
    out = t.extract_batch(0, 3, prefer=[LO + 9, LO + 5, LO + 2])
    # Frequency first; within frequency 3, LO+5 is preferred; within 2, LO+9.
    assert out.tolist() == [LO + 5, LO + 1, LO + 9]
    out = t.extract_batch(0, 1, prefer=np.array([LO + 7, LO + 3], dtype=np.uint64))
    assert out.tolist() == [LO + 7]
    assert t.extract_batch(0, prefer=iter([])).tolist() == [LO + 3]


def test_extract_prefer_with_duplicates() -> None:
    t = hot_tracker()
    out = t.extract_batch(0, 2, prefer=[LO + 2, LO + 2, LO + 2, LO + 5])
    assert out.tolist() == [LO + 5, LO + 1]


def test_extract_records() -> None:
    t = hot_tracker()
    rec = t.extract_batch(0, 2, return_records=True)
    assert rec.dtype == RECORD_DTYPE
    assert rec.tolist() == [(LO + 1, 3, 0, 52), (LO + 5, 3, 0, 52)]
    empty = t.extract_batch(0, 0, return_records=True)
    assert empty.dtype == RECORD_DTYPE and len(empty) == 0


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"nid": 1}, ValueError, "nid"),  # lower tier
        ({"nid": 5}, ValueError, "nid"),
        ({"nid": -1}, ValueError, "nid"),
        ({"nid": None}, TypeError, "nid"),
        ({"nid": 0.0}, TypeError, "nid"),
        ({"nid": 0, "max_count": -1}, ValueError, "max_count"),
        ({"nid": 0, "max_count": None}, TypeError, "max_count"),
        ({"nid": 0, "max_count": 1.0}, TypeError, "max_count"),
        ({"nid": 0, "threshold": 0}, ValueError, "threshold"),
        ({"nid": 0, "threshold": 8}, ValueError, "threshold"),
        ({"nid": 0, "threshold": "2"}, TypeError, "threshold"),
        ({"nid": 0, "return_records": None}, TypeError, "return_records"),
        ({"nid": 0, "return_records": 1}, TypeError, "return_records"),
        ({"nid": 0, "prefer": 5}, TypeError, "prefer"),
        ({"nid": 0, "prefer": "12"}, TypeError, "prefer"),
        ({"nid": 0, "prefer": [1.5]}, TypeError, "prefer"),
    ],
)
def test_extract_validation(kwargs: dict[str, Any], exc: type[Exception], match: str) -> None:
    t = hot_tracker()
    before = snapshot(t, range(LO, LO + 10))
    with pytest.raises(exc, match=match):
        t.extract_batch(**kwargs)
    assert snapshot(t, range(LO, LO + 10)) == before


# -- queued, memory, repr, check ----------------------------------------------------------


def test_queued_validation(four_nodes: Topology) -> None:
    t = ReferenceTracker(four_nodes)
    assert t.queued(np.int32(2)) == 0
    for bad in (1, 3, 4, -1):
        with pytest.raises(ValueError, match="nid"):
            t.queued(bad)
    with pytest.raises(TypeError, match="nid"):
        t.queued(None)  # type: ignore[arg-type]


def test_memory_bytes_grows() -> None:
    t = tracker()
    empty = t.memory_bytes()
    assert isinstance(empty, int) and empty > 0
    t.record_accesses(np.arange(LO, LO + 500), 0, HW, 0)
    assert t.memory_bytes() > empty


def test_repr() -> None:
    assert repr(tracker()).startswith("ReferenceTracker(")


def test_check_detects_corruption() -> None:
    def corrupted(mutate: Any) -> None:
        t = tracker(threshold=2, queue_capacity=5)
        for i in range(3):
            t.record_access(LO + i, 0, HW, 0)
        t.record_access(LO, 0, HW, 1)
        t.check()
        mutate(t)
        with pytest.raises(RuntimeError, match="invariant"):
            t.check()

    corrupted(lambda t: t._table[LO].__setitem__(0, 0))  # frequency 0
    corrupted(lambda t: t._table[LO].__setitem__(0, 8))  # too wide
    corrupted(lambda t: t._table[LO].__setitem__(2, 2**19))  # last too wide
    corrupted(lambda t: t._table[LO].__setitem__(1, 1))  # target not top tier
    corrupted(lambda t: t._queues[0].add(LO + 1))  # cold record queued
    corrupted(lambda t: t._queues[0].add(LO + 99))  # no record
    corrupted(lambda t: t._queues[0].discard(LO))  # hot record not queued
    corrupted(lambda t: t._table.__setitem__(5, [1, 0, 0]))  # top-tier PFN
    corrupted(lambda t: t._stats.__setitem__("pghot_recorded_hwhints", 0))
    corrupted(lambda t: t._stats.__setitem__("recorded", 0))
    corrupted(lambda t: t._stats.__setitem__("pghot_records_hash", 9))


# -- hypothesis properties ----------------------------------------------------------------

#: The properties run on the ``four_nodes`` fixture (conftest.py): top-tier
#: nodes 0 [0, 64) and 2 [192, 256), lower-tier nodes 1 [64, 192) (CPU-less)
#: and 3 [300, 428) (with CPUs), a hole [256, 300), default node 2. The PFNs
#: drawn: top tier (0, 50, 250), lower tier (150, 350, 100-111), a hole or
#: offline (450).
MULTI_LOWER = list(range(100, 192)) + list(range(300, 400))


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    freq_bits = draw(st.integers(1, 4))
    time_bits = draw(st.integers(3, 8))
    hz = draw(st.sampled_from([1, 100, 1000]))
    max_window_ms = ((2**time_bits - 1) * 1000) // hz
    capacity = draw(st.integers(0, 12))
    return {
        "freq_bits": freq_bits,
        "nid_bits": 3,
        "time_bits": time_bits,
        "hz": hz,
        "freq_window_ms": draw(st.integers(0, max_window_ms)),
        "threshold": draw(st.integers(1, 2**freq_bits - 1)),
        "capacity": capacity,
        "queue_capacity": draw(st.one_of(st.none(), st.integers(0, min(6, capacity)))),
        "evict_stale": draw(st.booleans()),
    }


accesses = st.tuples(
    st.sampled_from([0, 50, 150, 250, 350, 450]) | st.sampled_from(MULTI_LOWER[:12]),
    st.sampled_from([-1, 0, 1, 2, 3]),
    st.sampled_from(list(Source)),
    st.integers(0, 600),
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("access"), accesses),
        st.tuples(st.just("batch"), st.lists(accesses, max_size=8)),
        st.tuples(
            st.just("extract"),
            st.tuples(st.sampled_from([0, 2]), st.integers(0, 4), st.integers(1, 15)),
        ),
        st.tuples(
            st.just("movable"),
            st.tuples(st.sampled_from(MULTI_LOWER[:12]), st.booleans()),
        ),
    ),
    max_size=40,
)


def apply(t: ReferenceTracker, op: tuple[str, Any]) -> None:
    kind, arg = op
    if kind == "access":
        t.record_access(*arg)
    elif kind == "batch":
        cols = list(zip(*arg)) if arg else [(), (), (), ()]
        t.record_accesses(*(np.array(c, dtype=np.int64) for c in cols))
    elif kind == "extract":
        nid, count, thr = arg
        out = t.extract_batch(nid, count, min(thr, 2**t.freq_bits - 1), return_records=True)
        freqs = out["frequency"].tolist()
        assert freqs == sorted(freqs, reverse=True)
        assert all(f >= min(thr, 2**t.freq_bits - 1) for f in freqs)
        assert all(n == nid for n in out["nid"].tolist())
        assert all(t.lookup(int(p)) is None for p in out["pfn"])
    else:
        t.set_movable(*arg)


@settings(deadline=None)
@given(config=configs(), ops=operations)
def test_invariants_hold_after_any_sequence(
    four_nodes: Topology, config: dict[str, Any], ops: list[Any]
) -> None:
    t = ReferenceTracker(four_nodes, **config)
    t.check()
    for op in ops:
        apply(t, op)
        t.check()
        s = t.stats()
        assert s["records"] == len(t) <= t.capacity
        assert s["queued"] == t.queued(0) + t.queued(2)
        for pfn in MULTI_LOWER[:12]:
            rec = t.lookup(pfn)
            if rec is not None:
                assert 1 <= rec.frequency <= 2**t.freq_bits - 1
                assert rec.nid in (0, 2)
                assert rec.queued in (-1, rec.nid)
                assert 0 <= rec.last_update < 2**t.time_bits
                assert rec.queued == -1 or rec.frequency >= t.threshold


@settings(deadline=None)
@given(config=configs(), batch=st.lists(accesses, max_size=30))
def test_batch_equals_single_calls(four_nodes: Topology, config: dict[str, Any], batch: list[Any]) -> None:
    a = ReferenceTracker(four_nodes, **config)
    b = ReferenceTracker(four_nodes, **config)
    cols = list(zip(*batch)) if batch else [(), (), (), ()]
    out = a.record_accesses(*(np.array(c, dtype=np.int64) for c in cols))
    singles = [b.record_access(*acc) for acc in batch]
    assert out.tolist() == [singles.count(o) for o in Outcome]
    assert snapshot(a, MULTI_LOWER[:12]) == snapshot(b, MULTI_LOWER[:12])


@given(
    st.integers(1, 4),
    st.integers(0, 20),
    st.lists(st.integers(0, 30), min_size=1, max_size=30),
)
def test_single_page_frequency_matches_formula(freq_bits: int, window: int, gaps: list[int]) -> None:
    """One page, one accessor: frequency = accesses since the last gap > window."""
    t = tracker(freq_bits=freq_bits, nid_bits=2, hz=1000, freq_window_ms=window, threshold=1)
    now = 0
    run = 0
    for i, gap in enumerate(gaps):
        now += gap
        run = 1 if i == 0 or gap > window else run + 1
        t.record_access(LO, 0, HW, now)
        assert freq(t, LO) == min(run, 2**freq_bits - 1)


@given(
    st.dictionaries(st.sampled_from(range(LO, LO + 30)), st.integers(1, 7), max_size=30),
    st.integers(0, 40),
    st.integers(1, 7),
)
def test_extraction_is_top_k(plan: dict[int, int], count: int, thr: int) -> None:
    t = tracker(threshold=1, capacity=100, queue_capacity=100)
    for pfn, k in plan.items():
        t.record_accesses(np.full(k, pfn), 0, HW, np.arange(k))
    expected = sorted((p for p, k in plan.items() if k >= thr), key=lambda p: (-plan[p], p))
    assert t.extract_batch(0, count, thr).tolist() == expected[:count]
    assert len(t) == len(plan) - len(expected[:count])
    t.check()
