"""Temperature sources: turn an access trace into pghot reports.

In the kernel, pghot does not see memory accesses; it sees what its sources
report about them (``SEMANTICS.md`` section 1). Each class here models one
source, turning a stream of accesses ``(pfn, accessing nid, time in jiffies)``
into the reports that source would make:

:class:`HwHints` (``Source.HW_HINTS``)
    A hardware sampler such as AMD IBS: one access in ``sample_every``
    (default 10000, as the IBS driver) is reported, with the accessing node
    and the access time.
:class:`PgtableScan` (``Source.PGTABLE_SCAN``)
    A page-table Accessed-bit scanner such as MGLRU's klruscand: every
    ``interval_ms`` (default 2000) it reports, once each, the pages touched
    since the previous scan, with ``NUMA_NO_NODE`` and the scan time.
:class:`HintFault` (``Source.HINT_FAULT``)
    NUMA balancing: every scan period a window of pages is unmapped
    (PROT_NONE); the first access to such a page afterwards takes a hint
    fault, which reports it with the accessing node and remaps it.

Every source has ``feed(pfns, nids, times_jiffies)``, returning the reports
made while those accesses happened, and ``flush(now)``, returning what a
periodic source still holds. Both return a :class:`Reports` tuple of arrays
``(pfns, nids, srcs, nows, latency)``; its first four are the arguments of
:meth:`pghot.Tracker.record_accesses` (``record_accesses(*reports[:4])``).
``latency`` is the hint-fault latency (fault time minus the time of the scan
that unmapped the page, in jiffies, as the kernel's
``numa_hint_fault_latency``), -1 for the sources that have none.
:func:`combine` runs several sources over the same accesses, merging their
reports in time order.

Accesses must be fed in time order. An access older than one already fed is
treated as happening at the latest time seen (counted in ``reordered``), the
way a slightly unsorted real trace is best absorbed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, NamedTuple

import numpy as np

from pghot._types import NUMA_NO_NODE, Source
from pghot._validate import INT64_MAX, MS_MAX, ms_to_jiffies
from pghot._validate import bool_arg as _bool
from pghot._validate import int_in as _int_in

__all__ = [
    "HintFault",
    "HwHints",
    "PgtableScan",
    "Reports",
    "chunk_pages",
    "combine",
    "trace_reports",
]


class Reports(NamedTuple):
    """Reports of a source: five parallel arrays.

    The first four are the arguments of :meth:`pghot.Tracker.record_accesses`:
    ``tracker.record_accesses(*reports[:4])``.  ``latency`` may be left out
    (None): no report has one, as -1 everywhere (:meth:`latencies`).

    >>> r = Reports.empty(); len(r.pfns), r.srcs.dtype.name, r.latency.dtype.name
    (0, 'int8', 'int64')
    >>> Reports(*Reports.empty()[:4]).latency is None
    True
    """

    #: reported PFNs (uint64)
    pfns: np.ndarray
    #: accessing node of each report, -1 when unknown (int32)
    nids: np.ndarray
    #: the reporting :class:`pghot.Source` of each report (int8)
    srcs: np.ndarray
    #: report times in jiffies (int64)
    nows: np.ndarray
    #: hint-fault latency of each report in jiffies: its time minus the time of
    #: the scan that unmapped the page (int64), -1 for a report of another
    #: source; None: -1 for every report
    latency: np.ndarray | None = None

    def latencies(self) -> np.ndarray:
        """``latency``, or -1 for every report when it is None (int64).

        >>> Reports(np.array([5], np.uint64), np.array([0], np.int32), np.array([0], np.int8),
        ...         np.array([3], np.int64)).latencies().tolist()
        [-1]
        """
        if self.latency is None:
            return np.full(self.pfns.shape[0], -1, dtype=np.int64)
        return self.latency

    @classmethod
    def empty(cls) -> Reports:
        """No reports.

        >>> len(Reports.empty().nows)
        0
        """
        return cls(
            np.empty(0, np.uint64),
            np.empty(0, np.int32),
            np.empty(0, np.int8),
            np.empty(0, np.int64),
            np.empty(0, np.int64),
        )

    @classmethod
    def concat(cls, parts: Iterable[Reports]) -> Reports:
        """The reports of ``parts`` one after the other.

        >>> a = HwHints(sample_every=1).feed([5], 0, [1])
        >>> Reports.concat([a, a]).pfns.tolist()
        [5, 5]
        """
        parts = [p for p in parts if len(p.pfns)]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        return cls(
            np.concatenate([p.pfns for p in parts]),
            np.concatenate([p.nids for p in parts]),
            np.concatenate([p.srcs for p in parts]),
            np.concatenate([p.nows for p in parts]),
            np.concatenate([p.latencies() for p in parts]),
        )

    def take(self, order: np.ndarray) -> Reports:
        """The reports at the indices ``order`` (a latency of None stays None).

        >>> r = Reports.concat([HwHints(sample_every=1).feed([5, 6], 0, [1, 2])])
        >>> r.take(np.array([1, 0])).pfns.tolist()
        [6, 5]
        """
        lat = None if self.latency is None else self.latency[order]
        return Reports(self.pfns[order], self.nids[order], self.srcs[order], self.nows[order], lat)


def _make(
    pfns: np.ndarray,
    nids: np.ndarray | int,
    src: Source,
    nows: np.ndarray | int,
    latency: np.ndarray | None = None,
) -> Reports:
    n = pfns.shape[0]
    nid_arr = np.full(n, nids, dtype=np.int32) if isinstance(nids, int) else nids.astype(np.int32, copy=False)
    now_arr = np.full(n, nows, dtype=np.int64) if isinstance(nows, int) else nows.astype(np.int64, copy=False)
    lat = np.full(n, -1, dtype=np.int64) if latency is None else latency.astype(np.int64, copy=False)
    return Reports(
        pfns.astype(np.uint64, copy=False), nid_arr, np.full(n, int(src), dtype=np.int8), now_arr, lat
    )


def _int_array(value: Any, name: str) -> np.ndarray:
    if value is None or isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be an array of integers, not {type(value).__name__}")
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.dtype.kind not in "iu" and not (arr.dtype.kind in "fOb" and arr.shape[0] == 0):
        raise ValueError(f"{name} must have an integer dtype, got {arr.dtype}")
    return arr


#: bounds of the constructors' arguments: hz as :class:`pghot.Tracker`; a
#: period in ms as its ``freq_window_ms`` (``MS_MAX``, 2**40 ms, is 35 years); a
#: time in jiffies leaves room below 2**63 for the periods added to it
_HZ_MAX = 1_000_000
_JIFFIES_MAX = 2**62
_INT64_MAX = INT64_MAX


def _search(times: np.ndarray, when: int) -> int:
    """Index of the first of the sorted int64 ``times`` at or after ``when`` (any int)."""
    if when > _INT64_MAX:  # a scan beyond every int64 time
        return int(times.shape[0])
    return int(np.searchsorted(times, when, side="left"))


class _SourceBase:
    """Input validation, time clamping and counters shared by the sources."""

    src: Source

    def __init__(self, hz: int) -> None:
        self.hz = _int_in(hz, "hz", 1, _HZ_MAX)
        #: accesses fed so far
        self.fed = 0
        #: reports returned so far
        self.reported = 0
        #: accesses that arrived older than an earlier one (clamped)
        self.reordered = 0
        self._last_time: int | None = None

    def _inputs(
        self, pfns: Any, nids: Any, times_jiffies: Any
    ) -> tuple[np.ndarray, np.ndarray | int, np.ndarray]:
        """Validate one batch; returns uint64 PFNs, nids (array or -1) and clamped int64 times."""
        p = _int_array(pfns, "pfns")
        n = p.shape[0]
        if p.dtype.kind == "i" and n and int(p.min()) < 0:
            raise ValueError("pfns must be >= 0")
        p = p.astype(np.uint64, copy=False)
        if nids is None:
            nid: np.ndarray | int = NUMA_NO_NODE
        elif isinstance(nids, (int, np.integer)) and not isinstance(nids, (bool, np.bool_)):
            nid = int(nids)
            if nid < NUMA_NO_NODE:
                raise ValueError(f"nids must be >= -1, got {nid}")
        else:
            nid_arr = _int_array(nids, "nids")
            if nid_arr.shape[0] != n:
                raise ValueError(f"nids has length {nid_arr.shape[0]}, pfns has {n}")
            if n and int(nid_arr.min()) < NUMA_NO_NODE:
                raise ValueError("nids must be >= -1")
            nid = nid_arr.astype(np.int32, copy=False)
        if isinstance(times_jiffies, (int, np.integer)) and not isinstance(times_jiffies, (bool, np.bool_)):
            t = np.full(n, int(times_jiffies), dtype=np.int64)
        else:
            t = _int_array(times_jiffies, "times_jiffies")
            if t.shape[0] != n:
                raise ValueError(f"times_jiffies has length {t.shape[0]}, pfns has {n}")
            if t.dtype == np.uint64 and n and int(t.max()) >= 2**63:
                raise ValueError("times_jiffies must be < 2**63")
            t = t.astype(np.int64, copy=False)
        if n and int(t.min()) < 0:
            raise ValueError("times_jiffies must be >= 0")
        if n:
            floor = self._last_time if self._last_time is not None else 0
            clamped = np.maximum.accumulate(np.maximum(t, floor))
            changed = int(np.count_nonzero(clamped != t))
            if changed:
                self.reordered += changed
                t = clamped
            self._last_time = int(t[-1])
        self.fed += n
        return p, nid, t

    def _out(self, reports: Reports) -> Reports:
        self.reported += len(reports.pfns)
        return reports

    def flush(self, now: int | None = None) -> Reports:
        """Reports still pending at time ``now`` (none for this source).

        >>> len(HwHints().flush(100).pfns)
        0
        """
        return Reports.empty()


class HwHints(_SourceBase):
    """Hardware access sampling (``Source.HW_HINTS``), e.g. AMD IBS.

    Reports one access in ``sample_every``, with its accessing node and time.

    Parameters
    ----------
    sample_every : int, optional
        Sampling period in accesses, in ``[1, 2**63 - 1]``, default 10000
        (the IBS driver's op sampling period).
    seed : int, optional
        Seed of the random phase (and, with ``random=True``, of the gaps),
        ``>= 0``.
    random : bool, optional
        False (default): periodic sampling, every ``sample_every``-th access
        after a random phase in ``[0, sample_every)``. True: each access is
        sampled independently with probability ``1 / sample_every``.
    hz : int, optional
        Jiffies per second, in ``[1, 10**6]`` (unused by this source;
        accepted for symmetry).

    Raises
    ------
    TypeError, ValueError
        An argument of the wrong type or out of range (the message names it).

    Examples
    --------
    >>> hw = HwHints(sample_every=3, seed=0)
    >>> r = hw.feed(np.arange(100, 110), nids=1, times_jiffies=np.arange(10))
    >>> r.pfns.tolist(), r.nids.tolist(), r.srcs.tolist(), r.nows.tolist()
    ([102, 105, 108], [1, 1, 1], [0, 0, 0], [2, 5, 8])
    >>> hw.feed(np.arange(110, 115), 1, np.arange(10, 15)).pfns.tolist()  # the period continues
    [111, 114]
    """

    src = Source.HW_HINTS
    #: parameter -> its range ``[low, high]`` (inclusive; None: no bound)
    ARG_RANGES: ClassVar[dict[str, tuple[int, int | None]]] = {
        "sample_every": (1, INT64_MAX),
        "seed": (0, None),
    }

    def __init__(
        self, sample_every: int = 10000, seed: int = 0, *, random: bool = False, hz: int = 1000
    ) -> None:
        super().__init__(hz)
        self.sample_every = _int_in(sample_every, "sample_every", *self.ARG_RANGES["sample_every"])
        self.seed = _int_in(seed, "seed", *self.ARG_RANGES["seed"])
        self.random = _bool(random, "random")
        self._rng = np.random.default_rng(self.seed)
        #: index, counted from the next access fed, of the next sampled access
        self._next = int(self._rng.integers(self.sample_every)) if not self.random else self._gap() - 1

    def _gap(self) -> int:
        return int(self._rng.geometric(1.0 / self.sample_every))

    def feed(self, pfns: Any, nids: Any, times_jiffies: Any) -> Reports:
        """Sample the accesses ``(pfns, nids, times_jiffies)``.

        Parameters
        ----------
        pfns : array of int
            Accessed PFNs, in time order.
        nids : array of int, int or None
            Accessing node per access (or one for all); None: unknown (-1).
        times_jiffies : array of int or int
            Access times in jiffies, non-decreasing.

        Returns
        -------
        Reports

        Examples
        --------
        >>> HwHints(sample_every=1).feed([7, 8], None, [3, 4]).nids.tolist()
        [-1, -1]
        """
        p, nid, t = self._inputs(pfns, nids, times_jiffies)
        n = p.shape[0]
        if self.random:
            picks = []
            pos = self._next
            while pos < n:
                picks.append(pos)
                pos += self._gap()
            idx = np.asarray(picks, dtype=np.int64)
            self._next = pos - n
        else:
            idx = np.arange(self._next, n, self.sample_every, dtype=np.int64)
            self._next = (int(idx[-1]) + self.sample_every - n) if idx.shape[0] else self._next - n
        sel_nid = nid if isinstance(nid, int) else nid[idx]
        return self._out(_make(p[idx], sel_nid, self.src, t[idx]))


class PgtableScan(_SourceBase):
    """Page-table Accessed-bit scanning (``Source.PGTABLE_SCAN``), e.g. klruscand.

    Scans run at ``origin + k * interval`` (``k >= 1``); the scan at time
    ``T`` reports, once each and in ascending PFN order, the pages accessed
    at times ``t`` with ``T - interval <= t < T``, with ``NUMA_NO_NODE``
    (a PTE bit does not say who accessed the page) and ``now = T``. A scan is
    reported when an access at or after its time is fed, or by :meth:`flush`.

    Parameters
    ----------
    interval_ms : int, optional
        Scan interval, in ``[1, 2**40]``, default 2000 (klruscand).
    hz : int, optional
        Jiffies per second, in ``[1, 10**6]``, default 1000.
    origin_jiffies : int, optional
        Time of scan 0, in ``[0, 2**62]``; default: the time of the first
        access fed.

    Raises
    ------
    TypeError, ValueError
        An argument of the wrong type or out of range (the message names it).

    Examples
    --------
    >>> scan = PgtableScan(interval_ms=10, hz=1000, origin_jiffies=0)
    >>> r = scan.feed([7, 5, 7, 9, 5], None, [1, 2, 3, 12, 25])
    >>> r.pfns.tolist(), r.nids.tolist(), r.nows.tolist()
    ([5, 7, 9], [-1, -1, -1], [10, 10, 20])
    >>> r = scan.flush()  # page 5, touched at t=25, is reported by the scan at 30
    >>> r.pfns.tolist(), r.nows.tolist()
    ([5], [30])
    """

    src = Source.PGTABLE_SCAN
    #: parameter -> its range ``[low, high]`` (inclusive)
    ARG_RANGES: ClassVar[dict[str, tuple[int, int | None]]] = {"interval_ms": (1, MS_MAX)}

    def __init__(self, interval_ms: int = 2000, *, hz: int = 1000, origin_jiffies: int | None = None) -> None:
        super().__init__(hz)
        self.interval_ms = _int_in(interval_ms, "interval_ms", *self.ARG_RANGES["interval_ms"])
        self.interval_jiffies = ms_to_jiffies(self.interval_ms, self.hz)
        self._next_scan: int | None = None
        if origin_jiffies is not None:
            origin = _int_in(origin_jiffies, "origin_jiffies", 0, _JIFFIES_MAX)
            self._next_scan = origin + self.interval_jiffies
        self._pending: list[np.ndarray] = []
        self._pending_len = 0
        #: scans run so far (idle ones included)
        self.scans = 0

    @property
    def next_scan(self) -> int | None:
        """Time of the next scan in jiffies (None before the first access).

        >>> PgtableScan(interval_ms=5, origin_jiffies=100).next_scan
        105
        """
        return self._next_scan

    def _hold(self, pfns: np.ndarray) -> None:
        if pfns.shape[0] == 0:
            return
        self._pending.append(pfns)
        self._pending_len += pfns.shape[0]
        if self._pending_len > (1 << 22) and len(self._pending) > 1:
            merged = np.unique(np.concatenate(self._pending))  # bound the memory held
            self._pending = [merged]
            self._pending_len = merged.shape[0]

    def _scan(self) -> Reports:
        assert self._next_scan is not None
        now = min(self._next_scan, _INT64_MAX)  # a scan due after the last int64 jiffy reports at it
        self.scans += 1
        self._next_scan += self.interval_jiffies
        if not self._pending:
            return Reports.empty()
        pages = np.unique(np.concatenate(self._pending))
        self._pending, self._pending_len = [], 0
        return _make(pages, NUMA_NO_NODE, self.src, now)

    def feed(self, pfns: Any, nids: Any, times_jiffies: Any) -> Reports:
        """Record the accesses; return the reports of the scans they passed.

        ``nids`` is accepted for the common interface and ignored.

        Examples
        --------
        >>> s = PgtableScan(interval_ms=100, origin_jiffies=0)
        >>> len(s.feed([1, 2], 0, [10, 20]).pfns), s.feed([3], 0, [100]).pfns.tolist()
        (0, [1, 2])
        """
        p, _nid, t = self._inputs(pfns, nids, times_jiffies)
        n = p.shape[0]
        if n == 0:
            return Reports.empty()
        if self._next_scan is None:
            self._next_scan = int(t[0]) + self.interval_jiffies
        out = []
        i = 0
        while True:
            j = _search(t, self._next_scan)
            self._hold(p[i:j])
            if j >= n:
                break
            out.append(self._scan())
            # Scans between this one and the next access see nothing: skip them.
            idle = (int(t[j]) - self._next_scan) // self.interval_jiffies
            if idle > 0:
                self._next_scan += idle * self.interval_jiffies
                self.scans += idle
            i = j
        return self._out(Reports.concat(out))

    def flush(self, now: int | None = None) -> Reports:
        """Run the scans due by ``now`` and return their reports.

        With ``now=None`` the next scan runs whenever it is due, so the
        accesses held since the last scan are reported at the next scan time.

        Examples
        --------
        >>> s = PgtableScan(interval_ms=100, origin_jiffies=0)
        >>> _ = s.feed([4, 4, 2], None, [10, 20, 30])
        >>> len(s.flush(99).pfns), s.flush(100).pfns.tolist()
        (0, [2, 4])
        """
        if self._next_scan is None:
            return Reports.empty()
        if now is None:
            return self._out(self._scan()) if self._pending else Reports.empty()
        limit = _int_in(now, "now", 0, None)
        out = []
        if self._pending and self._next_scan <= limit:
            out.append(self._scan())
        if self._next_scan <= limit:
            idle = (limit - self._next_scan) // self.interval_jiffies + 1
            self._next_scan += idle * self.interval_jiffies
            self.scans += idle
        return self._out(Reports.concat(out))


class HintFault(_SourceBase):
    """NUMA-balancing hint faults (``Source.HINT_FAULT``).

    A model of ``task_numa_work``: the scanned space is the set of distinct
    pages seen so far, in ascending PFN order (a stand-in for the task's
    populated address space walked in address order). Scans run at
    ``origin + scan_delay + k * scan_period`` (``k >= 0``); each unmaps
    (PROT_NONE) the next ``scan_window_pages`` pages after the previous
    window; when a window reaches the last page, the next scan starts again
    from the lowest page (as the kernel resets its scan offset, the window is
    then cut short rather than wrapped). The first access to an unmapped page
    at or after the scan reports a hint fault with the accessing node and the
    access time, and remaps the page; later accesses report nothing until a
    scan unmaps the page again.  Each report carries its hint-fault latency
    (``Reports.latency``): the fault time minus the time of the scan that
    unmapped the page, in jiffies.  A scan leaves a page that is still
    unmapped as it is, its scan time included, as the kernel's
    ``change_pte_range`` skips a PTE that is already PROT_NONE before it
    records the access time (``folio_xchg_access_time``) that
    ``numa_hint_fault_latency`` (kernel/sched/fair.c) subtracts.

    Parameters
    ----------
    scan_period_ms : int, optional
        Time between scans, in ``[1, 2**40]``, default 1000
        (``numa_balancing_scan_period_min_ms``; the kernel adapts the period,
        this model keeps it fixed).
    scan_window_pages : int, optional
        Pages unmapped per scan, in ``[1, 2**63 - 1]``, default 65536 (256 MB
        of 4 KiB pages, ``numa_balancing_scan_size_mb``).
    scan_delay_ms : int, optional
        Delay from the origin to the first scan, in ``[0, 2**40]``, default
        1000 (``numa_balancing_scan_delay_ms``).
    hz : int, optional
        Jiffies per second, in ``[1, 10**6]``, default 1000.
    origin_jiffies : int, optional
        Start of the task, in ``[0, 2**62]``; default: the time of the first
        access fed.

    Raises
    ------
    TypeError, ValueError
        An argument of the wrong type or out of range (the message names it).

    Examples
    --------
    >>> hf = HintFault(scan_period_ms=10, scan_window_pages=2, scan_delay_ms=10, origin_jiffies=0)
    >>> r = hf.feed([5, 6, 7, 5, 6, 7, 5, 7], [0, 0, 0, 1, 1, 1, 1, 1], [1, 2, 3, 11, 12, 13, 15, 21])
    >>> r.pfns.tolist(), r.nids.tolist(), r.srcs.tolist(), r.nows.tolist()
    ([5, 6, 7], [1, 1, 1], [2, 2, 2], [11, 12, 21])
    >>> r.latency.tolist()  # 5 and 6 unmapped by the scan at 10, 7 by the one at 20
    [1, 2, 1]
    """

    src = Source.HINT_FAULT
    #: parameter -> its range ``[low, high]`` (inclusive)
    ARG_RANGES: ClassVar[dict[str, tuple[int, int | None]]] = {
        "scan_period_ms": (1, MS_MAX),
        "scan_window_pages": (1, INT64_MAX),
        "scan_delay_ms": (0, MS_MAX),
    }

    def __init__(
        self,
        scan_period_ms: int = 1000,
        scan_window_pages: int = 65536,
        *,
        scan_delay_ms: int = 1000,
        hz: int = 1000,
        origin_jiffies: int | None = None,
    ) -> None:
        super().__init__(hz)
        r = self.ARG_RANGES
        self.scan_period_ms = _int_in(scan_period_ms, "scan_period_ms", *r["scan_period_ms"])
        self.scan_window_pages = _int_in(scan_window_pages, "scan_window_pages", *r["scan_window_pages"])
        self.scan_delay_ms = _int_in(scan_delay_ms, "scan_delay_ms", *r["scan_delay_ms"])
        self.period_jiffies = ms_to_jiffies(self.scan_period_ms, self.hz)
        self.delay_jiffies = ms_to_jiffies(self.scan_delay_ms, self.hz)
        self._next_scan: int | None = None
        if origin_jiffies is not None:
            origin = _int_in(origin_jiffies, "origin_jiffies", 0, _JIFFIES_MAX)
            self._next_scan = origin + self.delay_jiffies
        # The scanned space: every page seen so far, ascending, and whether
        # each is unmapped now. A scan sets a slice of the mask (O(window));
        # only pages seen for the first time cost an insertion (O(space)).
        self._known = np.empty(0, dtype=np.uint64)
        self._protnone = np.empty(0, dtype=bool)
        # the time of the scan that unmapped each page (valid while it is unmapped)
        self._scan_time = np.empty(0, dtype=np.int64)
        self._cursor = 0  # first PFN the next window may start at
        #: scans run so far
        self.scans = 0
        #: pages newly unmapped by the scans (a page unmapped again after its
        #: fault counts again; one still unmapped does not)
        self.unmapped = 0

    @property
    def next_scan(self) -> int | None:
        """Time of the next scan in jiffies (None before the first access).

        >>> HintFault(scan_delay_ms=5, origin_jiffies=10).next_scan
        15
        """
        return self._next_scan

    @property
    def protnone_pages(self) -> np.ndarray:
        """The pages currently unmapped, ascending (a copy).

        >>> HintFault().protnone_pages.tolist()
        []
        """
        return self._known[self._protnone]

    def _scan(self) -> None:
        assert self._next_scan is not None
        now = self._next_scan
        self.scans += 1
        self._next_scan += self.period_jiffies
        size = self._known.shape[0]
        start = int(np.searchsorted(self._known, np.uint64(self._cursor)))
        stop = min(start + self.scan_window_pages, size)
        # reaching the end of the space: the next scan starts from its start
        self._cursor = 0 if stop >= size else int(self._known[stop])
        window = self._protnone[start:stop]
        self.unmapped += int(window.shape[0] - np.count_nonzero(window))
        # a page still unmapped keeps the time of the scan that unmapped it
        self._scan_time[start:stop][~window] = now
        window[:] = True

    def _scans(self, count: int) -> None:
        """Run ``count`` scans in a row, with no access between them.

        Once a scan is to start from the lowest page with every page already
        unmapped, a whole walk of the space (``ceil(pages / window)`` scans)
        ends in that same state: such walks are counted, not run, so a long
        idle time costs at most about two walks however many periods it spans.
        """
        while count > 0:
            if self._cursor == 0 and bool(self._protnone.all()):
                walk = max(1, -(-self._known.shape[0] // self.scan_window_pages))
                skip = count - count % walk
                self.scans += skip
                assert self._next_scan is not None
                self._next_scan += skip * self.period_jiffies
                count -= skip
                if count == 0:
                    break
            self._scan()
            count -= 1

    def _segment(self, p: np.ndarray, nid: np.ndarray | int, t: np.ndarray) -> Reports | None:
        """Accesses between two scans: faults on the unmapped pages."""
        if p.shape[0] == 0:
            return None
        uniq, first = np.unique(p, return_index=True)
        known = self._known
        pos = np.searchsorted(known, uniq)
        present = np.zeros(uniq.shape[0], dtype=bool)
        inside = pos < known.shape[0]
        present[inside] = known[pos[inside]] == uniq[inside]
        hit = np.zeros(uniq.shape[0], dtype=bool)
        hit[present] = self._protnone[pos[present]]
        self._protnone[pos[hit]] = False  # the fault remaps the page
        # the latency of each fault, before the space changes (pos indexes the old one)
        lat = t[first[hit]] - self._scan_time[pos[hit]]
        if not present.all():
            fresh = ~present
            self._known = np.insert(known, pos[fresh], uniq[fresh])
            self._protnone = np.insert(self._protnone, pos[fresh], False)
            self._scan_time = np.insert(self._scan_time, pos[fresh], 0)
        if not hit.any():
            return None
        order = np.argsort(first[hit])
        idx = first[hit][order]
        return _make(p[idx], nid if isinstance(nid, int) else nid[idx], self.src, t[idx], lat[order])

    def feed(self, pfns: Any, nids: Any, times_jiffies: Any) -> Reports:
        """Run the accesses; return the hint faults they take.

        Examples
        --------
        >>> hf = HintFault(scan_period_ms=5, scan_window_pages=10, scan_delay_ms=5, origin_jiffies=0)
        >>> len(hf.feed([1, 2], 0, [0, 1]).pfns), hf.feed([2, 2, 1], 3, [6, 7, 8]).nows.tolist()
        (0, [6, 8])
        """
        p, nid, t = self._inputs(pfns, nids, times_jiffies)
        n = p.shape[0]
        if n == 0:
            return Reports.empty()
        if self._next_scan is None:
            self._next_scan = int(t[0]) + self.delay_jiffies
        out = []
        i = 0
        while True:
            j = _search(t, self._next_scan)
            seg = self._segment(p[i:j], nid if isinstance(nid, int) else nid[i:j], t[i:j])
            if seg is not None:
                out.append(seg)
            if j >= n:
                break
            # every scan due by the access at j runs before it
            self._scans((int(t[j]) - self._next_scan) // self.period_jiffies + 1)
            i = j
        return self._out(Reports.concat(out))

    def flush(self, now: int | None = None) -> Reports:
        """Run the scans due by ``now`` (state only: faults need accesses).

        Always returns no reports.

        >>> hf = HintFault(scan_period_ms=5, scan_window_pages=10, scan_delay_ms=5, origin_jiffies=0)
        >>> _ = hf.feed([1, 2], 0, [0, 1]); len(hf.flush(5).pfns), hf.protnone_pages.tolist()
        (0, [1, 2])
        """
        if now is not None and self._next_scan is not None:
            limit = _int_in(now, "now", 0, None)
            if self._next_scan <= limit:
                self._scans((limit - self._next_scan) // self.period_jiffies + 1)
        return Reports.empty()


class _Combined:
    """Several sources fed the same accesses; reports merged in time order."""

    def __init__(self, sources: tuple[Any, ...]) -> None:
        self.sources = sources

    def feed(self, pfns: Any, nids: Any, times_jiffies: Any) -> Reports:
        """Feed every source; merge their reports by time (stable).

        >>> c = combine(HwHints(sample_every=2, seed=1), PgtableScan(interval_ms=5, origin_jiffies=0))
        >>> r = c.feed([1, 2, 3], 0, [1, 2, 6]); r.srcs.tolist(), r.nows.tolist()
        ([0, 1, 1, 0], [1, 5, 5, 6])
        """
        return self._merge([s.feed(pfns, nids, times_jiffies) for s in self.sources])

    def flush(self, now: int | None = None) -> Reports:
        """Flush every source; merge their reports by time.

        >>> c = combine(HwHints(), PgtableScan(interval_ms=5, origin_jiffies=0))
        >>> _ = c.feed([1], 0, [1]); c.flush().nows.tolist()
        [5]
        """
        return self._merge([s.flush(now) for s in self.sources])

    @staticmethod
    def _merge(parts: list[Reports]) -> Reports:
        merged = Reports.concat(parts)
        if len(parts) > 1 and merged.nows.shape[0]:
            order = np.argsort(merged.nows, kind="stable")
            merged = merged.take(order)
        return merged

    @property
    def reported(self) -> int:
        """Reports returned by all the sources.

        >>> combine(HwHints()).reported
        0
        """
        return sum(s.reported for s in self.sources)

    def __repr__(self) -> str:
        return f"combine({', '.join(type(s).__name__ for s in self.sources)})"


def combine(*sources: Any) -> _Combined:
    """Run several sources over the same accesses.

    The result has the sources' ``feed`` and ``flush`` methods; its reports
    are those of all the sources, merged by time (stable: at equal times, in
    the order the sources were given).

    Parameters
    ----------
    *sources
        Objects with ``feed(pfns, nids, times_jiffies)`` and ``flush(now)``
        returning :class:`Reports` (the sources of this module).

    Examples
    --------
    >>> both = combine(HintFault(scan_period_ms=10, scan_window_pages=8, scan_delay_ms=10, origin_jiffies=0),
    ...                PgtableScan(interval_ms=10, origin_jiffies=0))
    >>> r = both.feed([3, 4, 3], 1, [2, 12, 13])
    >>> [(Source(s).name, p, t) for p, s, t in zip(r.pfns.tolist(), r.srcs.tolist(), r.nows.tolist())]
    [('PGTABLE_SCAN', 3, 10), ('HINT_FAULT', 3, 13)]
    """
    if not sources:
        raise ValueError("combine needs at least one source")
    for s in sources:
        if not (callable(getattr(s, "feed", None)) and callable(getattr(s, "flush", None))):
            raise TypeError(f"{type(s).__name__} is not a source (needs feed and flush)")
    return _Combined(tuple(sources))


def chunk_pages(chunk: Any, page_size: int = 4096) -> tuple[np.ndarray, str]:
    """The page of each record of a trace chunk, and which address it comes from.

    The one rule of every path from a trace to pages (:func:`trace_reports`
    and :func:`pghot.sim.replay`): the PFN when the chunk has ``pfn`` (a
    physical trace, or perf with both ``addr`` and ``phys_addr``), since a
    PFN is what the kernel's pghot tracks and it tells apart the pages of
    processes that share virtual addresses; otherwise the virtual page
    ``vaddr // page_size``.  The same rule as
    :meth:`pghot.traces.TraceChunk.pages`.

    Parameters
    ----------
    chunk : pghot.traces.TraceChunk
    page_size : int, optional
        Bytes per page (a power of two), for a chunk without ``pfn``.

    Returns
    -------
    pages : numpy.ndarray
        uint64 page numbers, one per record.
    space : {"physical", "virtual"}

    Examples
    --------
    >>> from pghot.traces import TraceChunk
    >>> both = TraceChunk(time_ns=[0, 1], pfn=[7, 7], vaddr=[0x1000, 0x2000])
    >>> pages, space = chunk_pages(both); pages.tolist(), space
    ([7, 7], 'physical')
    >>> pages, space = chunk_pages(TraceChunk(time_ns=[0], vaddr=[0x2fff])); pages.tolist(), space
    ([2], 'virtual')
    """
    if chunk.pfn is not None:
        return chunk.pfn, "physical"
    return chunk.vaddr // np.uint64(_int_in(page_size, "page_size", 1, None)), "virtual"


def trace_reports(
    chunks: Iterable[Any],
    source: Any,
    *,
    hz: int = 1000,
    page_size: int = 4096,
    mapper: Any = None,
    origin_ns: int | None = None,
    nid: int | None = None,
) -> Iterator[Reports]:
    """Feed a trace (an iterable of :class:`pghot.traces.TraceChunk`) to a source.

    Yields the reports of each chunk, then those of ``source.flush()``.

    Parameters
    ----------
    chunks : iterable of TraceChunk
        E.g. a :class:`pghot.traces.TraceReader`.
    source
        A source, or several joined with :func:`combine`.
    hz : int, optional
        Jiffies per second for the conversion of ``time_ns``, default 1000.
    page_size : int, optional
        Bytes per page, for chunks without ``pfn``.
    mapper : pghot.traces.PageMapper, optional
        Maps virtual addresses to PFNs for chunks without ``pfn``; without
        it such chunks report ``vaddr // page_size`` as the PFN.  Which
        address a record's page comes from is :func:`chunk_pages`'s rule.
    origin_ns : int, optional
        Trace time that becomes jiffy 0; default the first record's time.
    nid : int, optional
        Accessing node for chunks without ``nid`` (default unknown, -1).

    Examples
    --------
    >>> from pghot.traces import TraceChunk, PageMapper
    >>> chunk = TraceChunk(time_ns=[5_000_000, 6_000_000, 9_000_000], vaddr=[0x7000, 0x7008, 0x9000])
    >>> out = list(trace_reports([chunk], PgtableScan(interval_ms=2), mapper=PageMapper(100, 10)))
    >>> [(r.pfns.tolist(), r.nows.tolist()) for r in out]
    [([100], [2]), ([101], [6])]
    """
    origin = origin_ns
    for chunk in chunks:
        if len(chunk) == 0:
            continue
        if origin is None:
            origin = int(chunk.time_ns[0])
        pfns, space = chunk_pages(chunk, page_size)
        if space == "virtual" and mapper is not None:
            pfns = mapper.map(chunk.vaddr)
        nids = chunk.nid if chunk.nid is not None else nid
        times = chunk.times_jiffies(hz, origin)
        if times.shape[0] and int(times.min()) < 0:
            times = np.maximum(times, 0)
        yield source.feed(pfns, nids, times)
    yield source.flush()
