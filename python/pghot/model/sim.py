"""The replay's stages in plain Python and numpy: the specification of the compiled ones.

:func:`pghot.sim.replay` runs either on the compiled stages (``engine="compiled"``,
the default: :mod:`pghot._pagemap`, :mod:`pghot._stages`, the compiled
:class:`pghot.machine.memory.TieredMemory`) or on these (``engine="reference"``):
the page mapper (:class:`pghot.traces.PageMapper`), the temperature sources
(:mod:`pghot.machine.sources`), the oracle's interval counts
(:class:`IntervalCounts`), the closed clock (:func:`closed_clock`), the
metric bins (:func:`bin_counts`, :func:`heat_add`), a policy's service of its accesses (:func:`serve`) and the
second-access baseline's loop (:func:`second_access`), all as they were before
the stages were compiled.  ``tests/test_sim_engines.py`` replays fixed traces
through both and requires identical results.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "IntervalCounts",
    "bin_counts",
    "closed_clock",
    "heat_add",
    "report_nids",
    "second_access",
    "serve",
]

_NS = np.int64(1_000_000_000)
_INT64_MAX = np.int64(2**63 - 1)


def closed_clock(
    pages: np.ndarray,
    times: np.ndarray,
    top_pages: int,
    top_ns: float,
    lower_ns: float,
    cpu_ns: float,
    stall: float,
    first: int,
    hz: int,
    floor: int,
) -> tuple[np.ndarray, float, int]:
    """The closed clock's jiffies of one chunk (:func:`pghot._pagemap.closed_clock`'s specification).

    Access ``i`` is issued at ``times[i]`` plus the stalls before it (``stall``
    and the chunk's earlier accesses', summed one by one: ``np.cumsum``
    adds in order, as the compiled loop) plus ``cpu_ns * (first + i)``,
    truncated (at most 2**62), saturating at 2**63 - 1, in jiffies, never
    below ``floor`` nor an earlier one.

    >>> j, stall, ns = closed_clock(np.array([0, 1, 0], np.uint32), np.zeros(3, np.int64),
    ...                             1, 1e6, 2e6, 0.0, 0.0, 0, 1000, 0)
    >>> j.tolist(), stall, ns
    ([0, 1, 3], 4000000.0, 3000000)
    """
    n = pages.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64), stall, 0
    cost = np.where(pages < top_pages, top_ns, lower_ns)
    before = np.empty(n, dtype=np.float64)
    before[0] = stall
    before[1:] = cost[:-1]
    np.cumsum(before, out=before)  # the stall before each access, added in order
    extra = before + cpu_ns * (first + np.arange(n, dtype=np.int64)).astype(np.float64)
    e = np.minimum(extra, 2.0**62).astype(np.int64)
    ns = np.minimum(times, _INT64_MAX - e) + e
    sec, rem = np.divmod(ns, _NS)
    j = sec * np.int64(hz) + (rem * np.int64(hz)) // _NS
    j = np.maximum.accumulate(np.maximum(j, floor))
    return j, float(before[-1] + cost[-1]), int(ns[-1])


def bin_counts(times: np.ndarray, bin_j: int, out: np.ndarray) -> None:
    """Add each access to ``out[t // bin_j]`` (``times`` sorted, ``out`` covers every bin).

    >>> out = np.zeros(3, dtype=np.int64); bin_counts(np.array([0, 1, 5]), 2, out); out.tolist()
    [2, 0, 1]
    """
    if times.shape[0] == 0:
        return
    idx = times // bin_j
    lo, hi = int(idx[0]), int(idx[-1])
    out[lo : hi + 1] += np.bincount(idx - lo, minlength=hi - lo + 1)


def heat_add(pages: np.ndarray, times: np.ndarray, tj: int, pp: int, np_: int, out: np.ndarray) -> None:
    """Add each access to the heat map cell ``(t // tj) * np_ + page // pp`` of ``out``.

    >>> out = np.zeros(4, dtype=np.int64)
    >>> heat_add(np.array([0, 3]), np.array([0, 2]), 2, 2, 2, out); out.tolist()
    [1, 0, 0, 1]
    """
    idx = (times // tj) * np_ + pages // pp
    out += np.bincount(idx, minlength=out.shape[0])


def serve(mem: Any, pages: np.ndarray, times: np.ndarray, bin_j: int, hit_bins: np.ndarray, top: int) -> int:
    """Serve accesses on ``mem``; count the top-tier hits per bin; return their number.

    The top tier is the PFNs below ``top`` (the two-tier topology).
    """
    if pages.shape[0] == 0:
        return 0
    hit = mem.access(pages) < top
    bin_counts(times[hit], bin_j, hit_bins)
    return int(np.count_nonzero(hit))


def report_nids(
    pages: np.ndarray,
    times: np.ndarray,
    nids: np.ndarray,
    rpages: np.ndarray,
    rtimes: np.ndarray,
    rsrcs: np.ndarray,
    last: np.ndarray,
    out: np.ndarray,
) -> None:
    """Each report's accessing node: that of its page's last access at or before its time.

    The specification of :func:`pghot._stages.report_nids`: for each report
    in order, the accesses up to its time set ``last[page] = nid``; a report
    that is not a page-table scan's (those keep -1) takes ``last[its page]``;
    the accesses after the last report update ``last`` too.

    >>> last = np.full(4, -1, np.int16); out = np.zeros(2, np.int32)
    >>> report_nids(np.array([1, 1]), np.array([0, 5]), np.array([2, 3]), np.array([1, 1]),
    ...             np.array([0, 5]), np.array([0, 1]), last, out)
    >>> out.tolist(), int(last[1])
    ([2, 0], 3)
    """
    i, n = 0, pages.shape[0]
    ps, ts, ns = pages.tolist(), times.tolist(), nids.tolist()
    for r in range(rpages.shape[0]):
        t = int(rtimes[r])
        while i < n and ts[i] <= t:
            last[ps[i]] = ns[i]
            i += 1
        if int(rsrcs[r]) != 1:  # Source.PGTABLE_SCAN
            out[r] = last[int(rpages[r])]
    while i < n:
        last[ps[i]] = ns[i]
        i += 1


def second_access(
    mem: Any,
    pages: np.ndarray,
    times: np.ndarray,
    rep_pages: np.ndarray,
    rep_times: np.ndarray,
    last: np.ndarray,
    window_j: int,
    bin_j: int,
    hit_bins: np.ndarray,
    top: int,
    promoted: Callable[[int, int], None],
    block: int = 4096,
    *,
    target: int = 0,
    targets: np.ndarray | None = None,
) -> int:
    """The second-access baseline over one segment; returns the top-tier hits.

    Serve the accesses and act on the reports, in time order: a report of a
    lower-tier page whose previous report (``last[page]``) is at most
    ``window_j`` jiffies older promotes it to node ``target`` (``targets[i]`` for
    report ``i`` when given: its accessing node's promotion target) (``promoted(page, t)``
    is called), else it becomes the page's previous report.

    The reports are taken one at a time (each may promote, which moves the
    pages that the next ones name), but their pages' PFNs are looked up a
    block at a time: a block's lookups stay valid until the memory changes
    (accesses served, a migration tried), and then the rest of the block is
    looked up again, so every report sees the PFN its page has at that point.
    """
    hits = 0
    if rep_pages.shape[0] == 0:
        return serve(mem, pages, times, bin_j, hit_bins, top)
    pos = 0

    def upto(t: int) -> bool:
        """Serve the accesses up to time ``t``; whether any was served."""
        nonlocal pos, hits
        j = int(np.searchsorted(times, t, side="right"))
        if j > pos:
            hits += serve(mem, pages[pos:j], times[pos:j], bin_j, hit_bins, top)
            pos = j
            return True
        return False

    ps, ts = rep_pages.tolist(), rep_times.tolist()
    n = len(ps)
    for b0 in range(0, n, block):
        b1 = min(n, b0 + block)
        pf = mem.pfns_of(rep_pages[b0:b1]).tolist()
        for i in range(b0, b1):
            p, t, pfn = ps[i], ts[i], pf[i - b0]
            changed = False
            if pfn < 0:  # first touched in this segment, not served yet
                changed = upto(t)
                pfn = mem.pfn_of(p)
            if pfn >= top:
                prev = int(last[p])
                if prev >= 0 and t - prev <= window_j:
                    upto(t)
                    changed = True
                    if mem.migrate(pfn, target if targets is None else int(targets[i]), t):
                        promoted(p, t)
                        last[p] = -1
                    else:
                        last[p] = t
                else:
                    last[p] = t
            if changed and i + 1 < b1:
                pf[i + 1 - b0 :] = mem.pfns_of(rep_pages[i + 1 : b1]).tolist()
    if pos < pages.shape[0]:
        hits += serve(mem, pages[pos:], times[pos:], bin_j, hit_bins, top)
    return hits


class IntervalCounts:
    """Accesses per page within the current oracle interval."""

    def __init__(self, footprint: int) -> None:
        self.f = footprint
        self.parts: list[np.ndarray] = []
        self.held = 0
        self.counts: np.ndarray | None = None
        self.accesses = 0

    def add(self, pages: np.ndarray) -> None:
        self.parts.append(pages)
        self.held += pages.shape[0]
        self.accesses += pages.shape[0]
        if self.held > max(self.f, 1 << 20):
            self._compact()

    def _compact(self) -> None:
        c = np.bincount(np.concatenate(self.parts), minlength=self.f)
        self.counts = c if self.counts is None else self.counts + c
        self.parts, self.held = [], 0

    def hot(self, k: int) -> np.ndarray:
        """The pages of the interval with the k largest counts, ties included; resets.

        >>> c = IntervalCounts(10); c.add(np.array([3, 3, 5, 7, 7], dtype=np.uint32))
        >>> c.hot(1).tolist(), c.accesses
        ([3, 7], 0)
        """
        if self.counts is not None:
            if self.parts:  # add() may just have compacted
                self._compact()
            pages = np.flatnonzero(self.counts)
            counts = self.counts[pages]
        elif self.parts:
            pages, counts = np.unique(np.concatenate(self.parts), return_counts=True)
        else:
            pages = counts = np.zeros(0, dtype=np.int64)
        self.parts, self.held, self.counts, self.accesses = [], 0, None, 0
        if pages.shape[0] > k:
            kth = np.partition(counts, pages.shape[0] - k)[pages.shape[0] - k]
            pages = pages[counts >= kth]
        return pages.astype(np.int64)
