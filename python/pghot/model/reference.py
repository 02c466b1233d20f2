"""Pure-Python reference model of :class:`pghot.Tracker`: the specification.

:class:`ReferenceTracker` has the constructor and public API of the compiled
tracker and follows ``SEMANTICS.md`` section 4 step by step, written for
clarity rather than speed:

- the table is a dict ``pfn -> [frequency, nid, last_update]`` where ``nid``
  is the promotion target (a top-tier node) and ``last_update`` the access
  time modulo ``2**time_bits``;
- each top-tier node has a queue, a set of PFNs; a record is queued exactly
  when its PFN is in the set of its own target node, so it can never sit in
  two queues (defect F4 of the kernel v2) and "not queued" is explicit (F6);
- ``_refused`` holds the records whose push was refused by a full queue: they
  have ``frequency >= threshold`` but stay unqueued until a later access
  retries the push (F14);
- counters live in one dict under the kernel's vmstat names.

It serves as the oracle of the property and state-machine tests and as the
pure-Python baseline of the benchmarks.
"""

from __future__ import annotations

import bisect
import heapq
import operator
import sys
from collections.abc import Iterable
from typing import Any, SupportsIndex

import numpy as np

from pghot._types import NUMA_NO_NODE, RECORD_DTYPE, Outcome, Record, Source
from pghot._validate import ms_to_jiffies
from pghot.topology import Topology

__all__ = ["QUEUE_KINDS", "ReferenceTracker"]

#: Values accepted for the ``queue`` argument (the model ignores the kind:
#: every kind implements the same queue semantics).
QUEUE_KINDS = ("binary", "quaternary", "bucket")

_PFN_LIMIT = 2**63
_NOW_LIMIT = 2**63
# Implementation limits shared with the compiled core.
_HZ_MAX = 1_000_000
_WINDOW_MS_MAX = 2**40
_CAPACITY_MAX = 2**31
_QUEUE_CAPACITY_MAX = 2**32 - 2

#: Counter incremented for each valid access of a source.
_SOURCE_COUNTERS = {
    Source.HW_HINTS: "pghot_recorded_hwhints",
    Source.PGTABLE_SCAN: "pghot_recorded_pgtscans",
    Source.HINT_FAULT: "pghot_recorded_hintfaults",
}
#: Counter incremented for each outcome.
_OUTCOME_COUNTERS = {
    Outcome.RECORDED: "recorded",
    Outcome.TOPTIER: "toptier",
    Outcome.NOT_MOVABLE: "not_movable",
    Outcome.TABLE_FULL: "table_full",
}
_STAT_KEYS = (
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
)

_RECORDED = int(Outcome.RECORDED)
_TOPTIER = int(Outcome.TOPTIER)
_NOT_MOVABLE = int(Outcome.NOT_MOVABLE)
_TABLE_FULL = int(Outcome.TABLE_FULL)


# -- validation helpers ----------------------------------------------------------


def _int(value: Any, name: str) -> int:
    """``value`` as a Python int (numpy integers accepted); TypeError otherwise."""
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, not {type(value).__name__}") from None


def _int_in(value: Any, name: str, low: int, high: int) -> int:
    """``value`` as an int in ``[low, high]``; TypeError/ValueError naming it."""
    v = _int(value, name)
    if not low <= v <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {v}")
    return v


def _bool(value: Any, name: str) -> bool:
    """``value`` as a bool; TypeError unless it is a (numpy) bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, not {type(value).__name__}")
    return bool(value)


def _source(value: Any, name: str = "src") -> int:
    """A :class:`Source` value as an int; TypeError/ValueError otherwise."""
    s = _int(value, name)
    if not 0 <= s <= max(Source):
        raise ValueError(f"{name} must be a Source (0..{int(max(Source))}), got {s}")
    return s


def _int_array(value: Any, name: str, scalar_ok: bool) -> np.ndarray | int:
    """A 1-D integer array (or, if ``scalar_ok``, an int scalar) from ``value``.

    TypeError for what is not an array of numbers (None, str, dict, set,
    float or complex scalars, ragged sequences, and an int scalar where an
    array is required); ValueError for a non-integer dtype (an empty list
    included: numpy gives it float64) or a shape other than 1-D. This is
    the compiled core's contract, rule for rule.
    """
    if value is None or isinstance(value, (str, bytes, dict, set, float, complex)):
        raise TypeError(f"{name} must be an integer array, not {type(value).__name__}")
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if not scalar_ok:
            raise TypeError(f"{name} must be a 1-D integer array, not a scalar")
        return operator.index(value)
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged nested sequences
        raise TypeError(f"{name} must be an integer array: {exc}") from None
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must have an integer dtype, not {arr.dtype}")
    if arr.ndim == 0 and scalar_ok:
        return int(arr)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    return arr


def _check_range(arr: np.ndarray | int, name: str, low: int, high: int) -> None:
    """ValueError unless every value of ``arr`` is in ``[low, high)``."""
    if isinstance(arr, int):
        if not low <= arr < high:
            raise ValueError(f"{name} must be in [{low}, {high}), got {arr}")
        return
    if arr.size == 0:
        return
    if arr.dtype.kind == "i" and int(arr.min()) < low:
        raise ValueError(f"{name} must be >= {low}, got {int(arr.min())}")
    if arr.dtype.kind == "u" and low > 0 and int(arr.min()) < low:
        raise ValueError(f"{name} must be >= {low}, got {int(arr.min())}")
    if int(arr.max()) >= high:
        raise ValueError(f"{name} must be < {high}, got {int(arr.max())}")


class _ReferenceBase:
    """What the reference models share: the topology lookups, argument
    validation of the access calls, replaying a validated batch, and the
    movable state.  A subclass calls :meth:`_init_nodes` and implements
    ``_record(pfn, nid, src, now) -> int`` (the outcome)."""

    def _init_nodes(self, topology: Topology) -> None:
        """Topology lookups, precomputed: PFN ranges for _node_of, targets."""
        ranges = sorted((n.start_pfn, n.end_pfn, n.nid) for n in topology.nodes if n.nr_pages)
        self._starts = [r[0] for r in ranges]
        self._ends = [r[1] for r in ranges]
        self._range_nid = [r[2] for r in ranges]
        self._toptier = frozenset(topology.toptier_nids())
        self._lower = frozenset(topology.lower_nids())
        self._target = {n.nid: topology.promotion_target(n.nid) for n in topology.nodes}
        self._target[NUMA_NO_NODE] = topology.default_node
        self._node_ids = np.array(sorted(self._target), dtype=np.int64)
        self._not_movable: set[int] = set()

    def _node_of(self, pfn: int) -> int:
        """Node holding ``pfn``, or -1 (offline)."""
        i = bisect.bisect_right(self._starts, pfn) - 1
        if i >= 0 and pfn < self._ends[i]:
            return self._range_nid[i]
        return NUMA_NO_NODE

    def _record(self, pfn: int, nid: int, src: int, now: int) -> int:
        raise NotImplementedError

    def _access(self, pfn: Any, nid: Any, src: Any, now: Any) -> Outcome:
        """Validate one access (nothing changes on a bad one), then record it."""
        p = _int_in(pfn, "pfn", 0, _PFN_LIMIT - 1)
        n = _int(nid, "nid")
        if n != NUMA_NO_NODE and n not in self._target:
            raise ValueError(f"nid: {n} is neither -1 (NUMA_NO_NODE) nor a node")
        s = _source(src)
        t = _int_in(now, "now", 0, _NOW_LIMIT - 1)
        return Outcome(self._record(p, n, s, t))

    def _accesses(self, pfns: Any, nids: Any, srcs: Any, nows: Any) -> np.ndarray:
        """Validate a whole batch, then record it in order; counts per Outcome."""
        p = _int_array(pfns, "pfns", scalar_ok=False)
        assert isinstance(p, np.ndarray)
        n = _int_array(nids, "nids", scalar_ok=True)
        s = _int_array(srcs, "srcs", scalar_ok=True)
        t = _int_array(nows, "nows", scalar_ok=True)
        for name, arr in (("nids", n), ("srcs", s), ("nows", t)):
            if isinstance(arr, np.ndarray) and len(arr) != len(p):
                raise ValueError(f"{name} has length {len(arr)}, pfns has length {len(p)}")
        _check_range(p, "pfns", 0, _PFN_LIMIT)
        _check_range(s, "srcs", 0, int(max(Source)) + 1)
        _check_range(t, "nows", 0, _NOW_LIMIT)
        if isinstance(n, int):
            if n != NUMA_NO_NODE and n not in self._target:
                raise ValueError(f"nids: {n} is neither -1 (NUMA_NO_NODE) nor a node")
        elif n.size:
            bad = ~np.isin(n, self._node_ids)
            if bad.any():
                raise ValueError(f"nids: {int(n[bad][0])} is neither -1 (NUMA_NO_NODE) nor a node")

        size = len(p)
        pl = p.tolist()
        nl = [n] * size if isinstance(n, int) else n.tolist()
        sl = [s] * size if isinstance(s, int) else s.tolist()
        tl = [t] * size if isinstance(t, int) else t.tolist()
        counts = [0, 0, 0, 0]
        record = self._record
        for i in range(size):
            counts[record(pl[i], nl[i], sl[i], tl[i])] += 1
        return np.array(counts, dtype=np.int64)

    def _set_movable(self, pfns: Any, flag: Any) -> None:
        """Validate every PFN (each on a lower-tier node), then mark them all."""
        movable = _bool(flag, "flag")
        arr = _int_array(pfns, "pfns", scalar_ok=True)
        values = [arr] if isinstance(arr, int) else arr.tolist()
        for p in values:
            if not 0 <= p < _PFN_LIMIT or self._node_of(p) not in self._lower:
                raise ValueError(f"pfns: {p} is not in a lower-tier node")
        if movable:
            self._not_movable.difference_update(values)
        else:
            self._not_movable.update(values)


class ReferenceTracker(_ReferenceBase):
    """Pure-Python model of the hot page tracker (same API as ``pghot.Tracker``).

    Parameters
    ----------
    topology : Topology
        Nodes and tiers; lower-tier PFNs are tracked, top-tier nodes own the
        promotion queues.
    hz : int, optional
        Clock ticks (jiffies) per second of ``now``. Default 1000.
    freq_window_ms : int, optional
        An access within this window of the previous one increments the
        frequency; a later one restarts it at 1. Default 5000.
    threshold : int, optional
        Frequency at which a record enters its target's queue,
        ``1 <= threshold <= 2**freq_bits - 1``. Default 2.
    freq_bits, nid_bits, time_bits : int, optional
        Widths of the packed record fields (defaults 3, 10, 19); each >= 1,
        ``freq_bits <= 16``, sum <= 32. ``last_update`` keeps ``now`` modulo
        ``2**time_bits``, so ages are computed modulo that span:
        ``2**time_bits / hz`` seconds, 524 s (8.7 minutes) with the defaults
        (not the 8.73 s the kernel header claims, defect F3). Gaps longer than
        the span alias to shorter ones; that is inherent to the width.
    capacity : int, optional
        Maximum number of records; default ``lower_pages * 50 // 100``.
    queue_capacity : int, optional
        Maximum records per top-tier queue; default ``capacity * 25 // 100``,
        at least 1 when ``capacity > 0``.
    queue : str, optional
        Queue implementation of the compiled core, one of
        :data:`QUEUE_KINDS`; the model's behaviour does not depend on it.
    evict_stale : bool, optional
        When the table is full, replace a stale (age > window) unqueued record
        instead of dropping the access. The model replaces the *oldest* such
        record (largest age, then smallest PFN); the compiled core may pick
        a different stale victim. Default False.

    Raises
    ------
    TypeError
        An argument has the wrong type.
    ValueError
        An argument has a bad value; the message names it.

    Examples
    --------
    >>> from pghot.topology import Topology
    >>> t = ReferenceTracker(Topology.two_tier(1024, 4096))
    >>> t.capacity, t.queue_capacity, t.window_jiffies
    (2048, 512, 5000)
    >>> t.record_access(1024 + 7, -1, Source.PGTABLE_SCAN, now=100)
    <Outcome.RECORDED: 0>
    >>> t.record_access(1024 + 7, -1, Source.PGTABLE_SCAN, now=200)
    <Outcome.RECORDED: 0>
    >>> t.lookup(1031)
    Record(pfn=1031, frequency=2, nid=0, last_update=200, queued=0)
    >>> t.extract_batch(0).tolist()
    [1031]
    """

    def __init__(
        self,
        topology: Topology,
        *,
        hz: int = 1000,
        freq_window_ms: int = 5000,
        threshold: int = 2,
        freq_bits: int = 3,
        nid_bits: int = 10,
        time_bits: int = 19,
        capacity: int | None = None,
        queue_capacity: int | None = None,
        queue: str = "binary",
        evict_stale: bool = False,
    ) -> None:
        # Each argument in turn (the compiled core's order); nothing is
        # stored until all pass.
        if not isinstance(topology, Topology):
            raise TypeError(f"topology must be a Topology, not {type(topology).__name__}")
        freq_bits = _int_in(freq_bits, "freq_bits", 1, 16)
        nid_bits = _int_in(nid_bits, "nid_bits", 1, 30)
        time_bits = _int_in(time_bits, "time_bits", 1, 30)
        if freq_bits + nid_bits + time_bits > 32:
            raise ValueError(
                f"freq_bits + nid_bits + time_bits must be <= 32, got {freq_bits} + {nid_bits} + {time_bits}"
            )
        hz = _int_in(hz, "hz", 1, _HZ_MAX)
        freq_window_ms = _int_in(freq_window_ms, "freq_window_ms", 0, _WINDOW_MS_MAX)
        freq_max = (1 << freq_bits) - 1
        threshold = _int_in(threshold, "threshold", 1, freq_max)
        window = ms_to_jiffies(freq_window_ms, hz)
        if window >= 1 << time_bits:
            raise ValueError(
                f"freq_window_ms: {freq_window_ms} ms is {window} jiffies at hz={hz}, "
                f"not below 2**time_bits = {1 << time_bits}"
            )
        if not isinstance(queue, str):
            raise TypeError(f"queue must be a str, not {type(queue).__name__}")
        if queue not in QUEUE_KINDS:
            raise ValueError(f"queue must be one of {QUEUE_KINDS}, got {queue!r}")
        evict_stale = _bool(evict_stale, "evict_stale")
        max_nid = max(n.nid for n in topology.nodes)
        if max_nid >= 1 << nid_bits:
            raise ValueError(f"nid_bits: node id {max_nid} does not fit in {nid_bits} bits")
        if capacity is None:
            capacity = topology.lower_pages() * 50 // 100
        else:
            capacity = _int_in(capacity, "capacity", 0, _CAPACITY_MAX)
        if queue_capacity is None:
            queue_capacity = max(1, capacity * 25 // 100) if capacity > 0 else 0
        else:
            queue_capacity = _int_in(queue_capacity, "queue_capacity", 0, _QUEUE_CAPACITY_MAX)
            if queue_capacity > capacity:
                raise ValueError(
                    f"queue_capacity={queue_capacity} exceeds capacity={capacity}: "
                    "a queue holds table records"
                )

        self._topology = topology
        self._hz = hz
        self._freq_window_ms = freq_window_ms
        self._window = window
        self._threshold = threshold
        self._freq_bits = freq_bits
        self._nid_bits = nid_bits
        self._time_bits = time_bits
        self._freq_max = freq_max
        self._time_mask = (1 << time_bits) - 1
        self._capacity = capacity
        self._queue_capacity = queue_capacity
        self._queue_kind = queue
        self._evict_stale = evict_stale

        self._init_nodes(topology)

        # State.
        self._table: dict[int, list[int]] = {}  # pfn -> [freq, nid, last]
        self._queues: dict[int, set[int]] = {nid: set() for nid in sorted(self._toptier)}
        self._refused: set[int] = set()  # freq >= threshold but the push was refused
        self._stats: dict[str, int] = dict.fromkeys(_STAT_KEYS, 0)

    # -- properties ----------------------------------------------------------------

    @property
    def topology(self) -> Topology:
        """The topology the tracker was built with.

        >>> ReferenceTracker(Topology.two_tier(1, 8)).topology.lower_nids()
        (1,)
        """
        return self._topology

    @property
    def hz(self) -> int:
        """Jiffies per second.

        >>> ReferenceTracker(Topology.two_tier(1, 8), hz=250).hz
        250
        """
        return self._hz

    @property
    def freq_window_ms(self) -> int:
        """Frequency window in milliseconds.

        >>> ReferenceTracker(Topology.two_tier(1, 8)).freq_window_ms
        5000
        """
        return self._freq_window_ms

    @property
    def window_jiffies(self) -> int:
        """Frequency window in jiffies, ``ceil(freq_window_ms * hz / 1000)``.

        >>> ReferenceTracker(Topology.two_tier(1, 8), hz=300, freq_window_ms=5).window_jiffies
        2
        """
        return self._window

    @property
    def threshold(self) -> int:
        """Frequency at which a record is queued.

        >>> ReferenceTracker(Topology.two_tier(1, 8)).threshold
        2
        """
        return self._threshold

    @property
    def freq_bits(self) -> int:
        """Width of the frequency field.

        >>> ReferenceTracker(Topology.two_tier(1, 8)).freq_bits
        3
        """
        return self._freq_bits

    @property
    def nid_bits(self) -> int:
        """Width of the node id field.

        >>> ReferenceTracker(Topology.two_tier(1, 8)).nid_bits
        10
        """
        return self._nid_bits

    @property
    def time_bits(self) -> int:
        """Width of the last-update field.

        >>> ReferenceTracker(Topology.two_tier(1, 8)).time_bits
        19
        """
        return self._time_bits

    @property
    def capacity(self) -> int:
        """Maximum number of records in the table.

        >>> ReferenceTracker(Topology.two_tier(1, 8)).capacity
        4
        """
        return self._capacity

    @property
    def queue_capacity(self) -> int:
        """Maximum number of records per top-tier queue.

        >>> ReferenceTracker(Topology.two_tier(1, 8)).queue_capacity
        1
        """
        return self._queue_capacity

    @property
    def queue(self) -> str:
        """Queue implementation name (the model behaves the same for all).

        >>> ReferenceTracker(Topology.two_tier(1, 8)).queue
        'binary'
        """
        return self._queue_kind

    @property
    def evict_stale(self) -> bool:
        """Whether a full table replaces a stale unqueued record.

        >>> ReferenceTracker(Topology.two_tier(1, 8)).evict_stale
        False
        """
        return self._evict_stale

    # -- recording -----------------------------------------------------------------

    def record_access(
        self, pfn: SupportsIndex, nid: SupportsIndex, src: SupportsIndex, now: SupportsIndex
    ) -> Outcome:
        """Record one access to ``pfn`` (``SEMANTICS.md`` section 4).

        Parameters
        ----------
        pfn : int
            Accessed PFN, ``0 <= pfn < 2**63``.
        nid : int
            Accessing node, or -1 (``NUMA_NO_NODE``) when unknown.
        src : Source
            Temperature source.
        now : int
            Time of the access in jiffies, ``0 <= now < 2**63``.

        Returns
        -------
        Outcome
            RECORDED, TOPTIER (PFN on a top-tier node, ignored), NOT_MOVABLE
            (offline or marked not movable, ignored) or TABLE_FULL (dropped).

        Raises
        ------
        TypeError, ValueError
            Invalid argument; nothing changes, counters included.

        Examples
        --------
        >>> t = ReferenceTracker(Topology.two_tier(10, 10))
        >>> t.record_access(3, 0, Source.HINT_FAULT, 0)
        <Outcome.TOPTIER: 1>
        >>> t.record_access(99, 0, Source.HINT_FAULT, 0)
        <Outcome.NOT_MOVABLE: 2>
        """
        # Step 1: validate everything before touching any state.
        return self._access(pfn, nid, src, now)

    def record_accesses(self, pfns: Any, nids: Any, srcs: Any, nows: Any) -> np.ndarray:
        """Record a batch of accesses, in order; same as repeated :meth:`record_access`.

        Parameters
        ----------
        pfns : array_like of int
            1-D integer array of PFNs.
        nids, srcs, nows : array_like of int or int
            1-D integer arrays of the length of ``pfns``, or scalars applied
            to every access.

        Returns
        -------
        numpy.ndarray
            int64 array of length 4: the count of each :class:`Outcome`.

        Raises
        ------
        TypeError
            An argument is not an array of numbers (None, str, a float, a
            ragged list, ...), or ``pfns`` is a scalar.
        ValueError
            Non-integer dtype (an empty list is float64 to numpy: pass
            ``np.array([], dtype=np.int64)``), wrong shape or length, or a bad
            value. The whole batch is validated before any access is recorded.

        Examples
        --------
        >>> t = ReferenceTracker(Topology.two_tier(10, 10))
        >>> t.record_accesses([12, 12, 3, 40], -1, Source.PGTABLE_SCAN, [1, 2, 3, 4]).tolist()
        [2, 1, 1, 0]
        >>> t.queued(0)
        1
        """
        return self._accesses(pfns, nids, srcs, nows)

    def _record(self, pfn: int, nid: int, src: int, now: int) -> int:
        """Steps 2-7 of ``record_access`` on validated arguments; the outcome."""
        stats = self._stats
        # Step 2: count the access.
        stats["pghot_recorded_accesses"] += 1
        stats[_SOURCE_COUNTERS[src]] += 1  # type: ignore[index]

        # Step 3: only movable lower-tier PFNs are tracked.
        home = self._node_of(pfn)
        if home in self._toptier:
            stats["toptier"] += 1
            return _TOPTIER
        if home == NUMA_NO_NODE or pfn in self._not_movable:
            stats["not_movable"] += 1
            return _NOT_MOVABLE

        cur = now & self._time_mask
        target = self._target[nid]
        rec = self._table.get(pfn)

        if rec is None:
            # Step 4: create the record; a full table drops the access.
            if len(self._table) >= self._capacity and not self._evict_one(cur):
                stats["table_full"] += 1
                return _TABLE_FULL
            # Steps 5-6 for a new record: new window, freq = 1.
            rec = [1, target, cur]
            self._table[pfn] = rec
            stats["pghot_records_hash"] += 1
        else:
            # Step 5: a new window when the last access is too old or the
            # accessing node now maps to another target.
            freq, old_target, last = rec
            age = (cur - last) & self._time_mask
            new_window = age > self._window or (nid != NUMA_NO_NODE and target != old_target)
            # Step 6: update the fields.
            rec[0] = 1 if new_window else min(freq + 1, self._freq_max)
            rec[1] = target
            rec[2] = cur
            # Step 7, first half: leave the old target's queue.
            if old_target != target:
                self._queues[old_target].discard(pfn)
                self._refused.discard(pfn)

        # Step 7, second half: queued in the target's queue iff freq >= threshold.
        self._requeue(pfn, rec)
        stats["recorded"] += 1
        return _RECORDED

    def _requeue(self, pfn: int, rec: list[int]) -> None:
        """Put ``pfn`` in or out of its target's queue according to its frequency."""
        queue = self._queues[rec[1]]
        if rec[0] >= self._threshold:
            if pfn not in queue:
                if len(queue) >= self._queue_capacity:
                    self._stats["queue_full"] += 1
                    self._refused.add(pfn)
                else:
                    queue.add(pfn)
                    self._refused.discard(pfn)
                    self._stats["pghot_records_heap"] += 1
        else:
            queue.discard(pfn)
            self._refused.discard(pfn)

    def _evict_one(self, cur: int) -> bool:
        """Delete the oldest stale unqueued record, if evict_stale allows one.

        Stale means ``(cur - last) mod 2**time_bits > window``; among stale
        unqueued records the largest age wins, then the smallest PFN. Cost
        O(records): this is the specification, not a fast path.
        """
        if not self._evict_stale:
            return False
        mask = self._time_mask
        window = self._window
        best_key: tuple[int, int] | None = None
        for pfn, (_freq, nid, last) in self._table.items():
            age = (cur - last) & mask
            if age > window and pfn not in self._queues[nid]:
                key = (age, -pfn)
                if best_key is None or key > best_key:
                    best_key = key
        if best_key is None:
            return False
        victim = -best_key[1]
        del self._table[victim]
        self._refused.discard(victim)
        self._stats["evicted"] += 1
        return True

    # -- extraction ----------------------------------------------------------------

    def extract_batch(
        self,
        nid: SupportsIndex,
        max_count: SupportsIndex = 1024,
        threshold: SupportsIndex | None = None,
        return_records: bool | np.bool_ = False,
        prefer: Iterable[SupportsIndex] | None = None,
    ) -> np.ndarray:
        """Remove and return the hottest queued records of top-tier node ``nid``.

        Pops up to ``max_count`` records of ``nid``'s queue whose frequency
        is ``>= threshold``, highest frequency first, and deletes them from
        the table.

        Parameters
        ----------
        nid : int
            A top-tier node.
        max_count : int, optional
            Maximum records returned, ``>= 0``. Default 1024 (the kernel's
            ``KPROMOTED_MIGRATE_BATCH``).
        threshold : int, optional
            Minimum frequency, ``1..2**freq_bits - 1``; default the tracker's.
        return_records : bool, optional
            Return a structured :data:`RECORD_DTYPE` array instead of PFNs.
        prefer : iterable of int, optional
            Reference-model only: PFNs that win ties between equal
            frequencies, in the given order (lets a test follow the tie
            choices of the compiled core). Other ties go to the smaller PFN.

        Returns
        -------
        numpy.ndarray
            uint64 PFNs, or records with fields ``pfn, frequency, nid,
            last_update``.

        Examples
        --------
        >>> t = ReferenceTracker(Topology.two_tier(10, 10), threshold=1, queue_capacity=4)
        >>> _ = t.record_accesses([15, 12, 12, 17], 0, Source.HINT_FAULT, 1)
        >>> t.extract_batch(0, max_count=2).tolist()
        [12, 15]
        >>> t.extract_batch(0, return_records=True).tolist()
        [(17, 1, 0, 1)]
        >>> len(t)
        0
        """
        n = _int(nid, "nid")
        if n not in self._queues:
            raise ValueError(f"nid: {n} is not a top-tier node")
        count = _int_in(max_count, "max_count", 0, _PFN_LIMIT - 1)
        if threshold is None:
            thr = self._threshold
        else:
            thr = _int_in(threshold, "threshold", 1, self._freq_max)
        records = _bool(return_records, "return_records")
        rank: dict[int, int] = {}  # pfn -> position in prefer
        last_rank = 0
        if prefer is not None:
            if isinstance(prefer, (str, bytes)) or not isinstance(prefer, Iterable):
                raise TypeError(f"prefer must be an iterable of int, not {type(prefer).__name__}")
            items = prefer.tolist() if isinstance(prefer, np.ndarray) else list(prefer)
            for i, p in enumerate(items):
                rank.setdefault(_int(p, "prefer"), i)
            last_rank = len(items)

        queue = self._queues[n]
        table = self._table
        if rank:
            # Preferred PFNs first (in their given order), then by PFN.
            cand = [(table[p][0], -rank.get(p, last_rank), -p) for p in queue if table[p][0] >= thr]
        else:
            cand = [(table[p][0], 0, -p) for p in queue if table[p][0] >= thr]
        chosen = heapq.nlargest(count, cand)

        pfns = [-c[2] for c in chosen]
        rows = []
        for p in pfns:
            freq, target, last = table.pop(p)
            queue.remove(p)
            if records:
                rows.append((p, freq, target, last))
        self._stats["extracted"] += len(pfns)
        if records:
            return np.array(rows, dtype=RECORD_DTYPE)
        return np.array(pfns, dtype=np.uint64)

    # -- queries and configuration -------------------------------------------------

    def lookup(self, pfn: SupportsIndex) -> Record | None:
        """The record of ``pfn``, or None when it is not tracked.

        Examples
        --------
        >>> t = ReferenceTracker(Topology.two_tier(10, 10))
        >>> t.lookup(12) is None
        True
        >>> _ = t.record_access(12, 1, Source.HW_HINTS, 70)
        >>> t.lookup(12)
        Record(pfn=12, frequency=1, nid=0, last_update=70, queued=-1)
        """
        p = _int_in(pfn, "pfn", 0, _PFN_LIMIT - 1)
        rec = self._table.get(p)
        if rec is None:
            return None
        freq, target, last = rec
        queued = target if p in self._queues[target] else NUMA_NO_NODE
        return Record(pfn=p, frequency=freq, nid=target, last_update=last, queued=queued)

    def set_movable(self, pfns: Any, flag: bool | np.bool_) -> None:
        """Mark lower-tier PFNs movable (``flag=True``) or not movable.

        Accesses to a PFN marked not movable are ignored (NOT_MOVABLE); an
        existing record of it is left as it is.

        Parameters
        ----------
        pfns : int or array_like of int
            PFNs, each in a lower-tier node.
        flag : bool

        Examples
        --------
        >>> t = ReferenceTracker(Topology.two_tier(10, 10))
        >>> t.set_movable([11, 12], False)
        >>> t.record_access(12, -1, Source.PGTABLE_SCAN, 0)
        <Outcome.NOT_MOVABLE: 2>
        >>> t.set_movable(12, True)
        >>> t.record_access(12, -1, Source.PGTABLE_SCAN, 0)
        <Outcome.RECORDED: 0>
        """
        self._set_movable(pfns, flag)

    def __len__(self) -> int:
        """Number of records in the table.

        >>> len(ReferenceTracker(Topology.two_tier(10, 10)))
        0
        """
        return len(self._table)

    def queued(self, nid: SupportsIndex) -> int:
        """Number of records in the queue of top-tier node ``nid``.

        >>> ReferenceTracker(Topology.two_tier(10, 10)).queued(0)
        0
        """
        n = _int(nid, "nid")
        if n not in self._queues:
            raise ValueError(f"nid: {n} is not a top-tier node")
        return len(self._queues[n])

    def stats(self) -> dict[str, int]:
        """Counters (kernel vmstat names plus outcome counts) and populations.

        Examples
        --------
        >>> t = ReferenceTracker(Topology.two_tier(10, 10))
        >>> _ = t.record_access(12, -1, Source.PGTABLE_SCAN, 0)
        >>> s = t.stats()
        >>> s["pghot_recorded_pgtscans"], s["recorded"], s["records"], s["queued"]
        (1, 1, 1, 0)
        """
        out = dict(self._stats)
        out["records"] = len(self._table)
        out["queued"] = sum(len(q) for q in self._queues.values())
        return out

    def memory_bytes(self) -> int:
        """Estimated bytes held by the table, queues and PFN sets.

        >>> ReferenceTracker(Topology.two_tier(10, 10)).memory_bytes() > 0
        True
        """
        per_record = sys.getsizeof([0, 0, 0]) + 2 * sys.getsizeof(2**40)
        total = sys.getsizeof(self._table) + len(self._table) * per_record
        total += sum(sys.getsizeof(q) for q in self._queues.values())
        total += sys.getsizeof(self._refused) + sys.getsizeof(self._not_movable)
        total += len(self._not_movable) * sys.getsizeof(2**40)
        return total

    def check(self) -> None:
        """Verify the invariants of ``SEMANTICS.md`` section 5 on the model.

        Raises
        ------
        RuntimeError
            On the first violated invariant.

        Examples
        --------
        >>> t = ReferenceTracker(Topology.two_tier(10, 10))
        >>> _ = t.record_accesses([12, 12, 13], -1, Source.PGTABLE_SCAN, 5)
        >>> t.check()
        """

        def fail(msg: str) -> None:
            raise RuntimeError(f"invariant violated: {msg}")

        table = self._table
        if len(table) > self._capacity:
            fail(f"{len(table)} records exceed capacity {self._capacity}")
        for pfn, (freq, nid, last) in table.items():
            if self._node_of(pfn) not in self._lower:
                fail(f"record {pfn} is not on a lower-tier node")
            if not 1 <= freq <= self._freq_max:
                fail(f"record {pfn}: frequency {freq} outside 1..{self._freq_max}")
            if nid not in self._queues or not 0 <= nid < 1 << self._nid_bits:
                fail(f"record {pfn}: nid {nid} is not a top-tier node")
            if not 0 <= last <= self._time_mask:
                fail(f"record {pfn}: last_update {last} exceeds {self._time_bits} bits")
            queued = pfn in self._queues[nid]
            if freq >= self._threshold and not queued and pfn not in self._refused:
                fail(f"record {pfn}: frequency {freq} >= threshold but not queued")
        for qnid, queue in self._queues.items():
            if len(queue) > self._queue_capacity:
                fail(f"queue {qnid} holds {len(queue)} > {self._queue_capacity}")
            for pfn in queue:
                rec = table.get(pfn)
                if rec is None:
                    fail(f"queue {qnid} holds {pfn}, which has no record")
                    continue  # unreachable, for the type checker
                if rec[1] != qnid:
                    fail(f"record {pfn} of target {rec[1]} sits in queue {qnid}")
                if rec[0] < self._threshold:
                    fail(f"record {pfn} queued with frequency {rec[0]} < threshold")
        for pfn in self._refused:
            rec = table.get(pfn)
            if rec is None or rec[0] < self._threshold or pfn in self._queues[rec[1]]:
                fail(f"refused record {pfn} is not an unqueued hot record")

        st = self._stats
        sources = sum(st[name] for name in _SOURCE_COUNTERS.values())
        if st["pghot_recorded_accesses"] != sources:
            fail("pghot_recorded_accesses != sum of per-source counters")
        outcomes = sum(st[name] for name in _OUTCOME_COUNTERS.values())
        if st["pghot_recorded_accesses"] != outcomes:
            fail("pghot_recorded_accesses != sum of outcome counters")
        if len(table) != st["pghot_records_hash"] - st["extracted"] - st["evicted"]:
            fail("population != records created - extracted - evicted")
        queued_total = sum(len(q) for q in self._queues.values())
        if queued_total > st["pghot_records_heap"]:
            fail("more records queued than were ever pushed")
        if len(self._refused) > st["queue_full"]:
            fail("more refused records than queue_full refusals")

    def __repr__(self) -> str:
        return (
            f"ReferenceTracker(records={len(self._table)}, capacity={self._capacity}, "
            f"threshold={self._threshold}, window_jiffies={self._window}, "
            f"queue={self._queue_kind!r})"
        )
