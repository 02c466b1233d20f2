"""The compiled core against the pure-Python reference model, step by step.

A hypothesis ``RuleBasedStateMachine`` drives one :class:`pghot.Tracker` and
one :class:`pghot.model.reference.ReferenceTracker` with the same configuration
and the same calls, and compares every answer. Widths are tiny (2-3
frequency bits, 4-6 time bits, windows of a few jiffies), tables and queues
hold a handful of entries, so that saturation, clock wraps, ``TABLE_FULL`` and
refused queue pushes all happen within a few dozen steps. After every step
both ``check()`` methods run and the whole observable state (len, stats,
queue lengths, the record of every PFN of the small PFN universe) is
compared.

``evict_stale`` is not used here: the core and the model may choose
different stale victims by design (what they share is in ``test_semantics.py``,
the model's choice in ``test_reference.py``); it is checked against its
definition below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import pghot
from pghot import RECORD_DTYPE, Outcome, Source, Topology
from pghot._core import Tracker
from pghot.model.reference import ReferenceTracker
from pghot.queues import QUEUE_CLASSES

#: the core's queue designs; the model's behaviour does not depend on them
QUEUE_KINDS = sorted(QUEUE_CLASSES)

#: Every PFN the machine touches lies in [0, UNIVERSE); each topology leaves
#: some of it offline (in no node).
UNIVERSE = 64

#: The topologies: the ``small_topologies`` fixture (conftest.py), passed to
#: the machine by :func:`test_tracker_vs_reference`.
#: "one_lower": top 0 [0, 8), lower 1 [8, 32), top 2 [40, 48);
#: "two_lower": top 0 [0, 8), lower 1 [8, 24), top 2 [24, 32), lower 3 (with
#: CPUs) [40, 56), default node 2.
TOPOLOGY_NAMES = ("one_lower", "two_lower")

#: PFNs drawn: mostly a small hot set (so frequencies climb), any PFN of the
#: universe otherwise (top tier, lower tier, offline).
pfns_st = st.one_of(st.sampled_from([8, 9, 10, 11, 12]), st.integers(0, UNIVERSE - 1))
#: Accessing nodes: -1 or 0..3 (ids that are not nodes map to -1).
nids_st = st.integers(-1, 3)
srcs_st = st.sampled_from(list(Source))
PFN_DTYPES = [np.int64, np.uint64, np.int32, np.uint16]
NID_DTYPES = [np.int64, np.int8, np.int16]
SRC_DTYPES = [np.int64, np.uint8]
NOW_DTYPES = [np.int64, np.uint64, np.uint32]


def _array(values: list[int], dtype: Any, layout: str) -> np.ndarray:
    """``values`` as a 1-D array: contiguous, strided view, or read-only."""
    if layout == "strided":
        base = np.zeros(2 * len(values), dtype=dtype)
        base[::2] = values
        arr = base[::2]
        assert not arr.flags.c_contiguous or len(values) <= 1
        return arr
    arr = np.array(values, dtype=dtype)
    if layout == "readonly":
        arr.flags.writeable = False
    return arr


class TrackerVsReference(RuleBasedStateMachine):
    core: Tracker
    ref: ReferenceTracker

    #: name -> topology, set by the test that runs the machine (a fixture)
    topologies: dict[str, Topology]

    def __init__(self) -> None:
        super().__init__()
        self.clock = 0
        self.ready = False
        self.saturated = False

    @initialize(
        topo_name=st.sampled_from(TOPOLOGY_NAMES),
        freq_bits=st.integers(2, 3),
        nid_bits=st.integers(2, 4),
        time_bits=st.integers(4, 6),
        hz=st.sampled_from([1000, 250, 100]),
        window_ms=st.integers(0, 80),
        threshold=st.one_of(st.integers(1, 2), st.integers(1, 7)),
        capacity=st.one_of(st.none(), st.integers(0, 14)),
        queue_capacity=st.one_of(st.none(), st.integers(0, 5)),
        start=st.integers(0, 200),
        queue=st.sampled_from(QUEUE_KINDS),
    )
    def setup(
        self,
        topo_name: str,
        freq_bits: int,
        nid_bits: int,
        time_bits: int,
        hz: int,
        window_ms: int,
        threshold: int,
        capacity: int | None,
        queue_capacity: int | None,
        start: int,
        queue: str,
    ) -> None:
        topo = self.topologies[topo_name]
        # the window must be representable: ceil(ms * hz / 1000) < 2**time_bits
        window_ms = min(window_ms, ((1 << time_bits) - 1) * 1000 // hz)
        threshold = min(threshold, (1 << freq_bits) - 1)
        if capacity is not None and queue_capacity is not None:
            queue_capacity = min(queue_capacity, capacity)  # a larger one is refused
        kwargs: dict[str, Any] = dict(
            hz=hz,
            freq_window_ms=window_ms,
            threshold=threshold,
            freq_bits=freq_bits,
            nid_bits=nid_bits,
            time_bits=time_bits,
            capacity=capacity,
            queue_capacity=queue_capacity,
        )
        # pghot.Tracker builds the compiled tracker (the default "hash" store)
        self.core = pghot.Tracker(topo, queue=queue, **kwargs)
        assert type(self.core) is Tracker
        self.ref = ReferenceTracker(topo, **kwargs)
        assert self.core.queue == queue
        for name in (
            "hz",
            "freq_window_ms",
            "window_jiffies",
            "threshold",
            "freq_bits",
            "nid_bits",
            "time_bits",
            "capacity",
            "queue_capacity",
            "evict_stale",
        ):
            assert getattr(self.core, name) == getattr(self.ref, name), name
        assert self.core.topology == topo
        self.topo = topo
        self.node_ids = {n.nid for n in topo.nodes}
        self.tops = sorted(topo.toptier_nids())
        self.lower_pfns = [p for p in range(UNIVERSE) if topo.node_of(p) in topo.lower_nids()]
        self.other_pfns = [p for p in range(UNIVERSE) if p not in set(self.lower_pfns)]
        self.fmax = (1 << freq_bits) - 1
        self.clock = start
        self.ready = True

    # -- helpers -------------------------------------------------------------------

    def _nid(self, nid: int) -> int:
        return nid if nid in self.node_ids else -1

    def _thr(self, choice: int) -> int | None:
        return None if choice == 0 or choice > self.fmax else choice

    # -- rules ---------------------------------------------------------------------

    @rule(delta=st.integers(0, 40))
    def advance_clock(self, delta: int) -> None:
        self.clock += delta

    @rule(
        pfn=pfns_st,
        nid=nids_st,
        src=srcs_st,
        now=st.one_of(st.none(), st.none(), st.integers(0, 2**62)),
        as_numpy=st.booleans(),
    )
    def record_access(self, pfn: int, nid: int, src: Source, now: int | None, as_numpy: bool) -> None:
        nid = self._nid(nid)
        t = self.clock if now is None else now
        args: tuple[Any, ...] = (pfn, nid, src, t)
        if as_numpy:
            args = (np.uint64(pfn), np.int16(nid), np.int8(int(src)), np.int64(t))
        got = self.core.record_access(*args)
        want = self.ref.record_access(pfn, nid, src, t)
        assert type(got) is Outcome
        assert got == want, (pfn, nid, src, t)

    @rule(
        items=st.lists(
            st.tuples(pfns_st, nids_st, st.integers(0, 2), st.integers(0, 6)),
            max_size=24,
        ),
        nid_scalar=st.one_of(st.none(), nids_st),
        src_scalar=st.one_of(st.none(), st.integers(0, 2)),
        now_scalar=st.booleans(),
        scalar_kind=st.sampled_from(["int", "numpy", "0d"]),
        pfn_dtype=st.sampled_from(PFN_DTYPES),
        nid_dtype=st.sampled_from(NID_DTYPES),
        src_dtype=st.sampled_from(SRC_DTYPES),
        now_dtype=st.sampled_from(NOW_DTYPES),
        layout=st.sampled_from(["contiguous", "strided", "readonly"]),
    )
    def record_accesses(
        self,
        items: list[tuple[int, int, int, int]],
        nid_scalar: int | None,
        src_scalar: int | None,
        now_scalar: bool,
        scalar_kind: str,
        pfn_dtype: Any,
        nid_dtype: Any,
        src_dtype: Any,
        now_dtype: Any,
        layout: str,
    ) -> None:
        pfns = [i[0] for i in items]
        nids = [self._nid(i[1]) for i in items]
        srcs = [i[2] for i in items]
        nows = []
        t = self.clock
        for i in items:
            t += i[3]
            nows.append(t)

        def scalar(v: int, dtype: Any) -> Any:
            if scalar_kind == "numpy":
                return dtype(v)
            if scalar_kind == "0d":
                return np.array(v, dtype=dtype)
            return v

        nid_arg: Any = (
            scalar(self._nid(nid_scalar), nid_dtype)
            if nid_scalar is not None
            else _array(nids, nid_dtype, layout)
        )
        src_arg: Any = (
            scalar(src_scalar, src_dtype) if src_scalar is not None else _array(srcs, src_dtype, layout)
        )
        now_arg: Any = scalar(self.clock, now_dtype) if now_scalar else _array(nows, now_dtype, layout)
        pfn_arg = _array(pfns, pfn_dtype, layout)
        got = self.core.record_accesses(pfn_arg, nid_arg, src_arg, now_arg)
        want = self.ref.record_accesses(pfn_arg, nid_arg, src_arg, now_arg)
        assert isinstance(got, np.ndarray)
        assert got.dtype == np.int64 and got.shape == (4,)
        assert got.tolist() == want.tolist()
        assert int(got.sum()) == len(items)
        if not now_scalar and nows:
            self.clock = nows[-1]

    @rule(
        nid_index=st.integers(0, 1),
        max_count=st.one_of(st.integers(0, 6), st.just(1024)),
        thr_choice=st.integers(0, 7),
        return_records=st.booleans(),
    )
    def extract_batch(self, nid_index: int, max_count: int, thr_choice: int, return_records: bool) -> None:
        nid = self.tops[nid_index % len(self.tops)]
        thr = self._thr(thr_choice)
        eff_thr = self.ref.threshold if thr is None else thr
        # The reference's view before extraction: the records the core may pick.
        before = {p: self.ref.lookup(p) for p in range(UNIVERSE)}
        eligible = sorted(
            (
                r.frequency
                for r in before.values()
                if r is not None and r.queued == nid and r.frequency >= eff_thr
            ),
            reverse=True,
        )
        got = self.core.extract_batch(nid, max_count, thr, return_records=return_records)
        if return_records:
            assert got.dtype == RECORD_DTYPE and got.ndim == 1
            core_pfns = [int(p) for p in got["pfn"]]
            core_freqs = [int(f) for f in got["frequency"]]
        else:
            assert got.dtype == np.uint64 and got.ndim == 1
            core_pfns = [int(p) for p in got]
            rec = [before[p] for p in core_pfns]
            assert all(r is not None for r in rec), core_pfns
            core_freqs = [r.frequency for r in rec if r is not None]
        assert len(set(core_pfns)) == len(core_pfns), core_pfns
        # highest frequency first, and the same frequencies the model picks
        assert core_freqs == sorted(core_freqs, reverse=True), core_freqs
        assert core_freqs == eligible[:max_count], (core_freqs, eligible)
        # The model follows the core's tie choices: then the same PFNs go.
        want = self.ref.extract_batch(nid, max_count, thr, return_records=return_records, prefer=core_pfns)
        if return_records:
            assert sorted(got.tolist()) == sorted(want.tolist())
            for row in got.tolist():
                r = before[row[0]]
                assert r is not None
                assert (row[1], row[2], row[3]) == (r.frequency, r.nid, r.last_update)
        else:
            assert sorted(core_pfns) == sorted(int(p) for p in want)
        for p in core_pfns:
            assert self.core.lookup(p) is None

    @rule(
        picks=st.lists(st.integers(0, UNIVERSE - 1), min_size=1, max_size=6),
        flag=st.booleans(),
        bad=st.booleans(),
        as_array=st.booleans(),
    )
    def set_movable(self, picks: list[int], flag: bool, bad: bool, as_array: bool) -> None:
        lower = [self.lower_pfns[i % len(self.lower_pfns)] for i in picks]
        arg: Any = np.array(lower, dtype=np.int64) if as_array else lower
        if len(lower) == 1 and not as_array:
            arg = lower[0]
        if bad:
            # one PFN that is not in a lower-tier node: both reject the call
            # and neither changes (the invariants compare the states)
            arg = list(lower) + [self.other_pfns[picks[0] % len(self.other_pfns)]]
            with pytest.raises(ValueError, match="pfns"):
                self.core.set_movable(arg, flag)
            with pytest.raises(ValueError):
                self.ref.set_movable(arg, flag)
            return
        self.core.set_movable(arg, flag)
        self.ref.set_movable(arg, flag)

    @rule(pfn=st.one_of(pfns_st, st.integers(0, 2**63 - 1)))
    def lookup(self, pfn: int) -> None:
        assert self.core.lookup(pfn) == self.ref.lookup(pfn)

    @rule()
    def stats_len_queued(self) -> None:
        assert self.core.stats() == self.ref.stats()
        assert len(self.core) == len(self.ref)
        for nid in self.tops:
            assert self.core.queued(nid) == self.ref.queued(nid)

    def teardown(self) -> None:
        # Coverage of the interesting events, visible with
        # ``--hypothesis-show-statistics``.
        if self.ready:
            s = self.core.stats()
            for key in ("table_full", "queue_full", "not_movable", "toptier", "extracted"):
                event(f"{key} > 0: {s[key] > 0}")
            event(f"saturated: {self.saturated}")

    # -- invariants ----------------------------------------------------------------

    @invariant()
    @precondition(lambda self: self.ready)
    def both_check(self) -> None:
        self.core.check()
        self.ref.check()

    @invariant()
    @precondition(lambda self: self.ready)
    def same_observable_state(self) -> None:
        cs, rs = self.core.stats(), self.ref.stats()
        assert set(cs) == set(rs)
        assert cs == rs
        assert len(self.core) == len(self.ref) == cs["records"]
        assert sum(self.core.queued(n) for n in self.tops) == cs["queued"]
        for nid in self.tops:
            assert self.core.queued(nid) == self.ref.queued(nid)
        for p in range(UNIVERSE):
            rec = self.core.lookup(p)
            assert rec == self.ref.lookup(p), p
            if rec is not None and rec.frequency == self.fmax:
                self.saturated = True


def test_tracker_vs_reference(small_topologies: dict[str, Topology]) -> None:
    class Machine(TrackerVsReference):
        topologies = small_topologies

    run_state_machine_as_test(Machine)


# -- evict_stale, without the model ----------------------------------------------
#
# The core and the model may evict different stale records, so evict_stale is
# checked against its definition instead: a new PFN meeting a full table is
# admitted exactly when some record is stale (age > window) and unqueued, and
# then exactly one such record disappears.  Tables here are one shard of at
# most a dozen slots, so the core's bounded search sees every record.


@given(
    capacity=st.integers(1, 6),
    queue_capacity=st.integers(0, 4),
    threshold=st.integers(1, 3),
    window_ms=st.integers(0, 20),
    queue=st.sampled_from(QUEUE_KINDS),
    ops=st.lists(
        st.tuples(st.integers(8, 31), st.sampled_from([-1, 0, 1, 2]), st.integers(0, 12), st.integers(0, 9)),
        min_size=10,
        max_size=80,
    ),
)
def test_evict_stale_admits_exactly_when_a_stale_unqueued_record_exists(
    small_topologies: dict[str, Topology],
    capacity: int,
    queue_capacity: int,
    threshold: int,
    window_ms: int,
    queue: str,
    ops: list[tuple[int, int, int, int]],
) -> None:
    topo = small_topologies["one_lower"]  # lower tier: PFNs [8, 32)
    time_bits = 6
    mask = (1 << time_bits) - 1
    queue_capacity = min(queue_capacity, capacity)  # a larger one is refused
    t = Tracker(
        topo,
        capacity=capacity,
        queue_capacity=queue_capacity,
        threshold=threshold,
        freq_window_ms=window_ms,
        freq_bits=2,
        nid_bits=2,
        time_bits=time_bits,
        evict_stale=True,
        queue=queue,
    )
    window = t.window_jiffies
    now = 0
    extracted = 0
    for pfn, nid, dt, action in ops:
        if action == 0:
            extracted += len(t.extract_batch(0 if nid < 2 else 2, 3))
            t.check()
            continue
        now += dt
        before = {p: t.lookup(p) for p in range(8, 32)}
        present = {p for p, r in before.items() if r is not None}
        stale = {
            p
            for p, r in before.items()
            if r is not None and r.queued == -1 and ((now - r.last_update) & mask) > window
        }
        evicted = t.stats()["evicted"]
        out = t.record_access(pfn, nid, Source.PGTABLE_SCAN, now)
        after = {p for p in range(8, 32) if t.lookup(p) is not None}
        if pfn in present or len(present) < capacity:
            assert out is Outcome.RECORDED
            assert after == present | {pfn}
            assert t.stats()["evicted"] == evicted
        elif stale:
            assert out is Outcome.RECORDED, (pfn, sorted(stale))
            gone = present - after
            assert len(gone) == 1 and gone <= stale, (gone, stale)
            assert after == (present - gone) | {pfn}
            assert t.stats()["evicted"] == evicted + 1
        else:
            assert out is Outcome.TABLE_FULL
            assert after == present
        t.check()
        s = t.stats()
        assert len(t) == s["pghot_records_hash"] - s["extracted"] - s["evicted"]
        assert s["extracted"] == extracted
    event(f"evicted > 0: {t.stats()['evicted'] > 0}")
    event(f"table_full > 0: {t.stats()['table_full'] > 0}")


# -- a sharded table against the model ----------------------------------------------


@pytest.mark.parametrize("queue", QUEUE_KINDS)
def test_sharded_table_matches_reference(make_two_top: Callable[..., Topology], queue: str) -> None:
    """Tables of >= 8192 records are split into shards; same answers as the model."""
    rng = np.random.default_rng(99)
    topo = make_two_top(60_000, top_pages=1000)
    kwargs: dict[str, Any] = dict(
        capacity=20_000, queue_capacity=3000, threshold=3, time_bits=12, freq_window_ms=800, hz=1000
    )
    core = Tracker(topo, queue=queue, **kwargs)
    ref = ReferenceTracker(topo, **kwargs)
    hot = rng.integers(1000, 61_000, 3000)
    for step in range(6):
        n = 12_000
        pfns = np.where(rng.random(n) < 0.6, rng.choice(hot, n), rng.integers(0, 63_000, n))
        nids = rng.choice([-1, 0, 1, 2], n)
        srcs = rng.integers(0, 3, n)
        nows = step * 700 + np.sort(rng.integers(0, 700, n))
        assert (
            core.record_accesses(pfns, nids, srcs, nows).tolist()
            == ref.record_accesses(pfns, nids, srcs, nows).tolist()
        )
        for nid in (0, 2):
            got = core.extract_batch(nid, 500, return_records=True)
            want = ref.extract_batch(nid, 500, return_records=True, prefer=got["pfn"])
            assert sorted(got.tolist()) == sorted(want.tolist())
            assert got["frequency"].tolist() == sorted(got["frequency"].tolist(), reverse=True)
        assert core.stats() == ref.stats()
        core.check()
    assert core.stats()["table_full"] > 0 and core.stats()["extracted"] > 0
    for p in np.unique(np.concatenate([hot, rng.integers(1000, 61_000, 2000)])).tolist():
        assert core.lookup(p) == ref.lookup(p)
