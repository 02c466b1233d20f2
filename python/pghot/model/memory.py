"""Pure-Python reference of the tiered memory model: the specification.

:class:`pghot.machine.memory.TieredMemory` (the compiled
:class:`pghot._memory.MemoryCore` under the same API) must give the same
answers call for call; ``tests/test_memory_model.py`` drives both side by
side.  What follows is the model both implement.

The tracker (:class:`pghot.Tracker`) finds hot lower-tier PFNs; this module
holds the pages those PFNs belong to and moves them, as the kernel's page
allocator, LRU and migration code do for ``kpromoted``
(:class:`pghot.machine.promoter.Promoter`).

Model
-----
- **Logical pages** are a workload's virtual page numbers, integers in
  ``[0, logical_pages)`` (default: the total number of PFNs of the topology;
  a workload with sparse virtual addresses numbers its pages densely first).
- **PFNs** are those of the :class:`pghot.Topology`: node ``n`` owns
  ``[start_pfn, start_pfn + nr_pages)``; its capacity is ``nr_pages``.
- **Placement**: ``pfn_of[page]`` (int64, -1 while the page is not placed)
  and, per node, ``owner[pfn - start_pfn]`` (int64, the page on that PFN or
  -1 when the PFN is free).  The two are inverse bijections between placed
  pages and used PFNs; :meth:`TieredMemory.check` verifies it.
- **Free pools**: per node a stack of free PFN offsets (an int64 array and a
  count).  It starts in descending order, so allocation hands out PFNs in
  ascending order; a freed PFN is reused first (LIFO, as per-CPU page lists).
- **First-touch allocation**: :meth:`TieredMemory.allocate` (or the first
  :meth:`TieredMemory.access` of a page) places pages on the default node,
  then the other top-tier nodes by node id while they have room, then the
  lower-tier nodes by node id; ``node=`` places them on one node only.
- **CLOCK**: each top-tier PFN has a referenced bit, set by
  :meth:`TieredMemory.access` and by a promotion (a page promoted because it
  is hot counts as referenced, as the migrated folio keeps its referenced
  flag).  When a promotion finds its target node without a free PFN, the
  clock hand sweeps the node from where it last stopped, clearing referenced
  bits, and the first used PFN whose bit is clear holds the victim (at most
  two revolutions: after one every bit is clear).  The victim is demoted to
  the node's first demotion target with a free PFN (the lower-tier nodes
  whose ``promotion_target`` it is, its own expander, then the others, each
  group by node id: the kernel's preferred ``node_demotion`` targets, then
  the fallback to every lower-tier node), as reclaim-driven demotion does
  (counted ``pgdemote_kswapd``), and the promotion takes its PFN.  With no
  free lower-tier PFN (or ``demotion=False``) the promotion fails
  (``promote_fail_no_space``).  There is no swap: slack must be left in the
  lower tier for demotion to work.
- **Movable state**: a used lower-tier PFN is movable (on the LRU) and a free
  one is not.  When a ``tracker`` is given, its movable bits follow: at
  construction every lower-tier PFN is marked not movable, an allocation or
  a demotion onto a lower-tier PFN marks it movable, and a migration or
  :meth:`TieredMemory.free` away from one marks it not movable, so the
  tracker ignores accesses to free PFNs (``Outcome.NOT_MOVABLE``).  The
  tracker may still hold a record of a PFN that became free; the promoter's
  re-check (:meth:`TieredMemory.recheck`) finds it ``NON_LRU``.  Top-tier
  PFNs are never tracked.
- **Ping-pong**: a page demoted within ``ping_pong_window_ms`` of its last
  promotion (times are the ``now`` jiffies passed to the migrations).

Concurrency: one :class:`threading.Lock` guards all of the state; every
public method takes it, so a migration (demotion included) is atomic with
respect to accesses, allocations and :meth:`TieredMemory.check`.  The lock is
held while the tracker's movable bits are updated, never while any other
tracker call runs, and the compiled core never calls back into Python, so
there is no lock-order cycle.

Counters (:meth:`TieredMemory.stats`), with the kernel's vmstat names where
one exists:

``pgpromote_success``
    pages migrated from a lower-tier node to a top-tier node;
``pgpromote_candidate``
    pages the promotion policy chose to promote (for the promoter: they
    passed the threshold, the staleness check and the re-check), counted
    before the rate limit, whether or not one is set, and reported through
    :meth:`TieredMemory.count_promote_candidates` (the kernel counts them
    in the NUMA-balancing policy, before the rate limit, on the target
    node);
``pgpromote_candidate_nrl``
    candidates taken under the free-memory bypass, outside the rate limit, as the
    kernel's ``PGPROMOTE_CANDIDATE_NRL``;
``pgdemote_kswapd``
    pages demoted by the CLOCK reclaim above;
``pgmigrate_success``
    every successful page move (promotions, demotions, top-to-top moves);
``promote_fail_no_space``
    promotions that failed for lack of a free or reclaimable top-tier PFN;
``ping_pong``
    demotions of a page within ``ping_pong_window_ms`` of its promotion.

Examples
--------
>>> import pghot
>>> from pghot.model.memory import TieredMemory
>>> topo = pghot.Topology.two_tier(4, 16)
>>> tracker = pghot.Tracker(topo)
>>> mem = TieredMemory(topo, tracker)
>>> mem.allocate([0, 1, 2, 3, 4, 5]).tolist()      # top tier first
[0, 1, 2, 3, 4, 5]
>>> mem.node_of_page(5), mem.free_pages(0), mem.free_pages(1)
(1, 0, 14)
>>> bool(mem.migrate(5, 0, now=100))     # top tier full: page 0 is demoted
True
>>> mem.pfn_of(5), mem.pfn_of(0)
(0, 6)
>>> s = mem.stats()
>>> s["pgpromote_success"], s["pgdemote_kswapd"], s["ping_pong"]
(1, 1, 0)
>>> mem.check()
"""

from __future__ import annotations

import bisect
import enum
import threading
from typing import Any, Literal, SupportsIndex, overload

import numpy as np
import numpy.typing as npt
from numpy.ma import MaskedArray as _MaskedArray  # imported now: numpy loads it lazily

from pghot._validate import bool_arg as _bool_arg
from pghot._validate import int_in as _int_arg
from pghot._validate import ms_to_jiffies
from pghot.topology import Topology

__all__ = ["MigrateStatus", "TieredMemory"]

#: PFNs the CLOCK hand examines per numpy step.
_CLOCK_CHUNK = 4096
_INT64_MAX = 2**63 - 1

_STAT_KEYS = (
    "pgpromote_success",
    "pgpromote_candidate",
    "pgpromote_candidate_nrl",
    "pgdemote_kswapd",
    "pgmigrate_success",
    "promote_fail_no_space",
    "ping_pong",
)


class MigrateStatus(enum.IntEnum):
    """What a migration did (or, from :meth:`TieredMemory.recheck`, would do).

    >>> MigrateStatus(3)
    <MigrateStatus.NO_SPACE: 3>
    """

    #: migrated (re-check: still a candidate)
    OK = 0
    #: the PFN is offline, free or otherwise not on the LRU (``kpromoted_non_lru``)
    NON_LRU = 1
    #: the page is already on the target node (``kpromoted_right_node``)
    RIGHT_NODE = 2
    #: no free top-tier PFN and nothing could be demoted
    NO_SPACE = 3


# -- argument helpers ---------------------------------------------------------------


def _int_array(value: Any, name: str, low: int, high: int) -> npt.NDArray[np.int64]:
    """A private int64 copy of an int scalar or 1-D integer array, every value
    in ``[low, high]`` (inclusive, as :func:`pghot._validate.int_in`).

    Copied first, then validated: another thread may rewrite the caller's
    array at any time, and only the checked copy is used.  TypeError for
    None, strings, bytes-like objects, floats, masked arrays and other
    non-arrays; ValueError for a non-integer dtype, a shape other than 1-D,
    or a value out of range.
    """
    if value is None or isinstance(value, (str, bytes, bytearray, memoryview, dict, set, float, complex)):
        raise TypeError(f"{name} must be an integer array, not {type(value).__name__}")
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer array, not bool")
    if isinstance(value, _MaskedArray):
        raise TypeError(f"{name} must not be a masked array: fill or compress it first")
    try:
        arr = np.array(value, copy=True)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an integer array: {exc}") from None
    if arr.size == 0 and arr.ndim == 1:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must have an integer dtype, not {arr.dtype}")
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < low or hi > high:
            bad = lo if lo < low else hi
            raise ValueError(f"{name} must be in [{low}, {high}], got {bad}")
    return arr.astype(np.int64, copy=False)


class _NodeMem:
    """Placement state of one node (see the module docstring)."""

    __slots__ = ("nid", "start", "nr", "top", "owner", "free", "nfree", "ref", "hand")

    def __init__(self, nid: int, start: int, nr: int, top: bool) -> None:
        self.nid = nid
        self.start = start
        self.nr = nr
        self.top = top
        self.owner = np.full(nr, -1, dtype=np.int64)
        # stack of free offsets, top at index nfree - 1: pops 0, 1, 2, ...
        self.free = np.arange(nr - 1, -1, -1, dtype=np.int64)
        self.nfree = nr
        self.ref = np.zeros(nr, dtype=np.uint8) if top else None
        self.hand = 0


class TieredMemory:
    """Pages of a workload placed on the PFNs of a tiered topology.

    Parameters
    ----------
    topology : pghot.Topology
        Nodes, their PFN ranges (capacities) and tiers.
    tracker : pghot.Tracker, optional
        Tracker whose movable bits follow the placement (same topology).
    page_size : int, default 4096
        Bytes per page (the promoter converts its MB/s rate limit with it).
    hz : int, optional
        Jiffies per second of the ``now`` values; default the tracker's, or
        1000 without a tracker.
    ping_pong_window_ms : int, default 5000
        A page demoted at most this long after its promotion counts as a
        ping-pong (the tracker's default frequency window: the page is
        thrown out before the window that made it hot has even expired).
    demotion : bool, default True
        Demote a top-tier page (CLOCK) when a promotion finds the target
        node full; False makes such promotions fail.
    logical_pages : int, optional
        Number of logical pages; default the total number of PFNs.

    Raises
    ------
    TypeError, ValueError
        A bad argument (named in the message); ValueError also when the
        tracker's topology or hz differ from the ones given.

    Examples
    --------
    >>> import pghot
    >>> mem = TieredMemory(pghot.Topology.two_tier(8, 8))
    >>> mem.capacity(0), mem.capacity(1), mem.logical_pages
    (8, 8, 16)
    """

    def __init__(
        self,
        topology: Topology,
        tracker: Any = None,
        *,
        page_size: SupportsIndex = 4096,
        hz: SupportsIndex | None = None,
        ping_pong_window_ms: SupportsIndex = 5000,
        demotion: bool = True,
        logical_pages: SupportsIndex | None = None,
    ) -> None:
        if not isinstance(topology, Topology):
            raise TypeError(f"topology must be a pghot.Topology, not {type(topology).__name__}")
        if tracker is not None:
            if not hasattr(tracker, "set_movable") or not hasattr(tracker, "topology"):
                raise TypeError(f"tracker must be a pghot.Tracker, not {type(tracker).__name__}")
            if tracker.topology != topology:
                raise ValueError("tracker: its topology differs from the memory's")
        self._page_size = _int_arg(page_size, "page_size", 1, 2**40)
        if hz is None:
            self._hz = int(tracker.hz) if tracker is not None else 1000
        else:
            self._hz = _int_arg(hz, "hz", 1, 1_000_000)
            if tracker is not None and int(tracker.hz) != self._hz:
                raise ValueError(f"hz: {self._hz} differs from the tracker's {tracker.hz}")
        self._ping_pong_ms = _int_arg(ping_pong_window_ms, "ping_pong_window_ms", 0, 2**40)
        self._ping_pong_jiffies = ms_to_jiffies(self._ping_pong_ms, self._hz)
        self._demotion = _bool_arg(demotion, "demotion")
        total = sum(n.nr_pages for n in topology.nodes)
        if logical_pages is None:
            self._npages = total
        else:
            self._npages = _int_arg(logical_pages, "logical_pages", 0, 2**40)

        self._topology = topology
        self._tracker = tracker
        nodes = [_NodeMem(n.nid, n.start_pfn, n.nr_pages, n.toptier) for n in topology.nodes]
        self._by_nid: dict[int, _NodeMem] = {m.nid: m for m in nodes}
        ranged = sorted((m for m in nodes if m.nr > 0), key=lambda m: m.start)
        self._ranged = ranged
        self._starts_list = [m.start for m in ranged]
        self._starts = np.array(self._starts_list, dtype=np.int64)
        self._ends = np.array([m.start + m.nr for m in ranged], dtype=np.int64)
        default = self._by_nid[topology.default_node]
        tops = [m for m in nodes if m.top and m is not default]
        self._first_touch = [default, *tops, *(m for m in nodes if not m.top)]
        self._lower = [m for m in nodes if not m.top]
        # demotion targets per top-tier node: the lower-tier nodes whose promotion target it
        # is first (its own expander: the kernel's node_demotion preferred nodes), then the
        # others, each group by nid (demote_folio_list falls back to every lower-tier node)
        self._demote_to = {m.nid: self._demotion_order(topology, m.nid) for m in nodes if m.top}
        # set_first_touch_nodes: each page's home nid (None: every page uses _first_touch)
        self._homes: npt.NDArray[np.int64] | None = None
        self._node_hits = dict.fromkeys(self._by_nid, 0)
        self._node_promo = dict.fromkeys(self._by_nid, 0)
        self._node_demo = dict.fromkeys(self._by_nid, 0)
        self._ntop_nodes = sum(1 for m in nodes if m.top)
        self._pfn_of = np.full(self._npages, -1, dtype=np.int64)
        self._promoted_at = np.full(self._npages, -1, dtype=np.int64)
        self._placed = 0
        self._stats = dict.fromkeys(_STAT_KEYS, 0)
        self._lock = threading.Lock()
        if tracker is not None:
            for m in self._lower:
                if m.nr:
                    tracker.set_movable(np.arange(m.start, m.start + m.nr, dtype=np.int64), False)

    # -- properties -------------------------------------------------------------------

    @property
    def topology(self) -> Topology:
        """The topology the memory was built with."""
        return self._topology

    @property
    def tracker(self) -> Any:
        """The tracker whose movable bits follow the placement, or None."""
        return self._tracker

    @property
    def page_size(self) -> int:
        """Bytes per page."""
        return self._page_size

    @property
    def hz(self) -> int:
        """Jiffies per second of ``now``."""
        return self._hz

    @property
    def ping_pong_window_ms(self) -> int:
        """Promotion-to-demotion delay below which a demotion is a ping-pong."""
        return self._ping_pong_ms

    @property
    def demotion(self) -> bool:
        """Whether a promotion to a full node demotes a page."""
        return self._demotion

    @property
    def logical_pages(self) -> int:
        """Logical page numbers run from 0 to ``logical_pages - 1``."""
        return self._npages

    # -- queries ----------------------------------------------------------------------

    def _node(self, nid: Any) -> _NodeMem:
        n = _int_arg(nid, "nid", -1, 2**31)
        m = self._by_nid.get(n)
        if m is None:
            raise ValueError(f"nid: {n} is not a node of the topology")
        return m

    def capacity(self, nid: SupportsIndex) -> int:
        """Pages node ``nid`` holds at most (its number of PFNs).

        Examples
        --------
        >>> import pghot
        >>> TieredMemory(pghot.Topology.two_tier(8, 24)).capacity(1)
        24
        """
        return self._node(nid).nr

    def free_pages(self, nid: SupportsIndex) -> int:
        """Free PFNs of node ``nid``.

        Examples
        --------
        >>> import pghot
        >>> mem = TieredMemory(pghot.Topology.two_tier(8, 24))
        >>> _ = mem.allocate([0, 1, 2])
        >>> mem.free_pages(0), mem.free_pages(1)
        (5, 24)
        """
        m = self._node(nid)
        with self._lock:
            return m.nfree

    def used_pages(self, nid: SupportsIndex) -> int:
        """Used PFNs of node ``nid``.

        Examples
        --------
        >>> import pghot
        >>> mem = TieredMemory(pghot.Topology.two_tier(8, 24))
        >>> _ = mem.allocate([0, 1, 2], node=1)
        >>> mem.used_pages(0), mem.used_pages(1)
        (0, 3)
        """
        m = self._node(nid)
        with self._lock:
            return m.nr - m.nfree

    def __len__(self) -> int:
        """Number of placed pages.

        >>> import pghot
        >>> mem = TieredMemory(pghot.Topology.two_tier(8, 24))
        >>> _ = mem.allocate(range(10)); len(mem)
        10
        """
        with self._lock:
            return self._placed

    def pfn_of(self, page: SupportsIndex) -> int:
        """PFN holding logical page ``page``, or -1 when it is not placed.

        Examples
        --------
        >>> import pghot
        >>> mem = TieredMemory(pghot.Topology.two_tier(8, 24))
        >>> _ = mem.allocate([7], node=1)
        >>> mem.pfn_of(7), mem.pfn_of(6)
        (8, -1)
        """
        p = _int_arg(page, "page", 0, self._npages - 1)
        with self._lock:
            return int(self._pfn_of[p])

    def page_at(self, pfn: SupportsIndex) -> int:
        """Logical page on ``pfn``, or -1 when the PFN is free or in no node.

        Examples
        --------
        >>> import pghot
        >>> mem = TieredMemory(pghot.Topology.two_tier(8, 24))
        >>> _ = mem.allocate([7], node=1)
        >>> mem.page_at(8), mem.page_at(9), mem.page_at(1000)
        (7, -1, -1)
        """
        p = _int_arg(pfn, "pfn")
        with self._lock:
            m = self._locate1(p)
            return -1 if m is None else int(m.owner[p - m.start])

    def pfns_of(self, pages: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """PFN of each logical page, -1 for a page not placed: :meth:`pfn_of` for a batch.

        Examples
        --------
        >>> import pghot
        >>> mem = TieredMemory(pghot.Topology.two_tier(8, 24))
        >>> _ = mem.allocate([7], node=1)
        >>> mem.pfns_of([7, 6, 7]).tolist()
        [8, -1, 8]
        """
        arr = _int_array(pages, "pages", 0, self._npages - 1)
        with self._lock:
            return self._pfn_of[arr]

    def pages_of(self, pfns: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Logical page on each PFN, -1 for a free PFN or one in no node: :meth:`page_at` for a batch.

        Examples
        --------
        >>> import pghot
        >>> mem = TieredMemory(pghot.Topology.two_tier(8, 24))
        >>> _ = mem.allocate([7], node=1)
        >>> mem.pages_of([8, 9, 1000, 8]).tolist()
        [7, -1, -1, 7]
        """
        arr = _int_array(pfns, "pfns", 0, _INT64_MAX)
        out = np.full(arr.size, -1, dtype=np.int64)
        with self._lock:
            for m, sel in self._by_node(arr):
                out[sel] = m.owner[arr[sel] - m.start]
        return out

    def _by_node(self, arr: npt.NDArray[np.int64]) -> list[tuple[_NodeMem, npt.NDArray[np.intp]]]:
        """``(node, indices into arr)`` for each node holding some of the PFNs ``arr``."""
        if arr.size == 0 or not self._ranged:
            return []
        i = np.searchsorted(self._starts, arr, side="right") - 1
        ic = np.maximum(i, 0)
        inside = (i >= 0) & (arr < self._ends[ic])
        out = []
        for k, m in enumerate(self._ranged):
            sel = np.flatnonzero(inside & (ic == k))
            if sel.size:
                out.append((m, sel))
        return out

    def node_of_page(self, page: SupportsIndex) -> int:
        """Node holding logical page ``page``, or -1 when it is not placed.

        Examples
        --------
        >>> import pghot
        >>> mem = TieredMemory(pghot.Topology.two_tier(8, 24))
        >>> _ = mem.allocate([3], node=1)
        >>> mem.node_of_page(3), mem.node_of_page(4)
        (1, -1)
        """
        pfn = self.pfn_of(page)
        return -1 if pfn < 0 else self._topology.node_of(pfn)

    def pages_on(self, nid: SupportsIndex) -> npt.NDArray[np.int64]:
        """Logical pages placed on node ``nid``, in PFN order.

        Examples
        --------
        >>> import pghot
        >>> mem = TieredMemory(pghot.Topology.two_tier(2, 8))
        >>> _ = mem.allocate([5, 6, 7])
        >>> mem.pages_on(0).tolist(), mem.pages_on(1).tolist()
        ([5, 6], [7])
        """
        m = self._node(nid)
        with self._lock:
            return m.owner[m.owner >= 0].copy()

    def _locate1(self, pfn: int) -> _NodeMem | None:
        """Node holding ``pfn`` (a Python int), or None."""
        i = bisect.bisect_right(self._starts_list, pfn) - 1
        if i >= 0:
            m = self._ranged[i]
            if pfn < m.start + m.nr:
                return m
        return None

    # -- allocation -------------------------------------------------------------------

    def allocate(self, pages: npt.ArrayLike, node: SupportsIndex | None = None) -> npt.NDArray[np.int64]:
        """Place pages that are not placed yet, first touch, all or nothing.

        Parameters
        ----------
        pages : int or 1-D array of int
            Distinct logical pages in ``[0, logical_pages)``, none placed.
        node : int, optional
            Place every page on this node.  Default: the default node, then
            the other top-tier nodes by id while they have room, then the
            lower-tier nodes by id.

        Returns
        -------
        numpy.ndarray
            int64 PFNs, in the order of ``pages``.

        Raises
        ------
        ValueError
            A page is out of range, repeated or already placed, or ``node``
            is not a node.
        MemoryError
            Not enough free PFNs (nothing is placed).

        Examples
        --------
        >>> import pghot
        >>> mem = TieredMemory(pghot.Topology.two_tier(2, 8))
        >>> mem.allocate([7, 8, 9]).tolist()
        [0, 1, 2]
        >>> mem.allocate(6, node=1).tolist()
        [3]
        """
        arr = _int_array(pages, "pages", 0, self._npages - 1)
        if np.unique(arr).size != arr.size:
            raise ValueError("pages: a page is repeated")
        order = self._first_touch if node is None else [self._node(node)]
        with self._lock:
            placed = self._pfn_of[arr] >= 0
            if placed.any():
                bad = int(arr[np.argmax(placed)])
                raise ValueError(f"pages: page {bad} is already placed")
            return self._allocate_locked(arr, order)

    def _allocate_locked(self, pages: npt.NDArray[np.int64], order: list[_NodeMem]) -> npt.NDArray[np.int64]:
        n = pages.size
        if sum(m.nfree for m in order) < n:
            raise MemoryError(f"cannot place {n} pages: {sum(m.nfree for m in order)} free PFNs")
        out = np.empty(n, dtype=np.int64)
        done = 0
        for m in order:
            if done == n:
                break
            take = min(n - done, m.nfree)
            if take == 0:
                continue
            offs = m.free[m.nfree - take : m.nfree][::-1].copy()
            m.nfree -= take
            chunk = pages[done : done + take]
            m.owner[offs] = chunk
            pfns = offs + m.start
            self._pfn_of[chunk] = pfns
            out[done : done + take] = pfns
            if not m.top and self._tracker is not None:
                self._tracker.set_movable(pfns, True)
            done += take
        self._placed += n
        return out

    def free(self, pages: npt.ArrayLike) -> None:
        """Release placed pages; their PFNs become free (and not movable).

        Raises
        ------
        ValueError
            A page is out of range or not placed.

        Examples
        --------
        >>> import pghot
        >>> mem = TieredMemory(pghot.Topology.two_tier(2, 8))
        >>> _ = mem.allocate([0, 1, 2])
        >>> mem.free([0, 2])
        >>> mem.pfn_of(0), mem.free_pages(0), mem.free_pages(1)
        (-1, 1, 8)
        >>> mem.allocate([5]).tolist()      # the freed PFN 0 is reused first
        [0]
        """
        arr = np.unique(_int_array(pages, "pages", 0, self._npages - 1))
        with self._lock:
            pfns = self._pfn_of[arr]
            if (pfns < 0).any():
                raise ValueError(f"pages: page {int(arr[np.argmax(pfns < 0)])} is not placed")
            unmovable: list[int] = []
            for pfn in pfns.tolist():
                m = self._locate1(pfn)
                assert m is not None
                self._release(m, pfn - m.start)
                if not m.top:
                    unmovable.append(pfn)
            self._pfn_of[arr] = -1
            self._promoted_at[arr] = -1
            self._placed -= arr.size
            if unmovable and self._tracker is not None:
                self._tracker.set_movable(np.array(unmovable, dtype=np.int64), False)

    def _release(self, m: _NodeMem, off: int) -> None:
        """Make offset ``off`` of ``m`` free (owner, free stack, referenced bit)."""
        m.owner[off] = -1
        m.free[m.nfree] = off
        m.nfree += 1
        if m.ref is not None:
            m.ref[off] = 0

    # -- accesses ---------------------------------------------------------------------

    def access(self, pages: npt.ArrayLike, *, hits: bool = True) -> npt.NDArray[np.int64]:
        """Access pages: first-touch place new ones, set referenced bits, give PFNs.

        Pages not placed yet are allocated first (in the order of their first
        occurrence, as :meth:`allocate` with no node).  Accesses to top-tier
        PFNs set their CLOCK referenced bits.  The returned PFNs are what a
        simulator reports to the tracker.

        Parameters
        ----------
        pages : int or 1-D array of int
            Logical pages, repeats allowed.
        hits : bool
            Count the top-tier hits per node (:meth:`node_stats`), default
            True.  False for a policy's own touches that are not the
            program's accesses (the oracle's and memtis's first touches and
            referenced bits): placement and referenced bits only.

        Returns
        -------
        numpy.ndarray
            int64 PFN of each access.

        Raises
        ------
        MemoryError
            A new page found no free PFN (nothing is placed).

        Examples
        --------
        >>> import pghot
        >>> topo = pghot.Topology.two_tier(2, 8)
        >>> tracker = pghot.Tracker(topo)
        >>> mem = TieredMemory(topo, tracker)
        >>> pfns = mem.access([4, 5, 6, 6])
        >>> pfns.tolist()
        [0, 1, 2, 2]
        >>> tracker.record_accesses(pfns, -1, pghot.Source.HW_HINTS, 10).tolist()
        [2, 2, 0, 0]
        """
        count = _bool_arg(hits, "hits")
        arr = _int_array(pages, "pages", 0, self._npages - 1)
        with self._lock:
            pfns = self._pfn_of[arr]
            missing = pfns < 0
            if missing.any():
                new, first = np.unique(arr[missing], return_index=True)
                new = new[np.argsort(first)]
                if self._homes is None:
                    self._allocate_locked(new, self._first_touch)
                else:  # page by page, in the order of first touch: each from its home's list
                    for page in new.tolist():
                        order = self._home_order(int(self._homes[page]))
                        self._allocate_locked(np.array([page], dtype=np.int64), order)
                pfns = self._pfn_of[arr]
            for m in self._first_touch:
                if not m.top:
                    break
                if m.nr == 0:
                    continue
                inside = (pfns >= m.start) & (pfns < m.start + m.nr)
                if inside.any():
                    assert m.ref is not None
                    m.ref[pfns[inside] - m.start] = 1
                    if self._ntop_nodes > 1 and count:
                        self._node_hits[m.nid] += int(np.count_nonzero(inside))
            return pfns

    def _home_order(self, nid: int) -> list[_NodeMem]:
        """The first-touch list from top-tier node ``nid`` (see :meth:`set_first_touch_nodes`)."""
        home = self._by_nid[nid]
        tops = sorted((m for m in self._by_nid.values() if m.top and m is not home), key=lambda m: m.nid)
        low = sorted(self._lower, key=lambda m: (self._topology.promotion_target(m.nid) != nid, m.nid))
        return [home, *tops, *low]

    def set_first_touch_nodes(self, nids: npt.ArrayLike) -> None:
        """Each logical page's first-touch home: a top-tier node, or -1 (the default node).

        A page's first touch takes the first node with a free PFN of the
        list: its home, the other top-tier nodes by nid, then the lower-tier
        nodes, those whose ``promotion_target`` is the home first, each group
        by nid (Linux's local allocation with the promotion target standing
        in for the SLIT distance of ``build_zonelists``; see
        :meth:`pghot.machine.memory.TieredMemory.set_first_touch_nodes`).

        Examples
        --------
        >>> import pghot
        >>> topo = pghot.Topology([pghot.Node(0, 0, 2, True), pghot.Node(1, 2, 2, True),
        ...                        pghot.Node(2, 4, 8, False)])
        >>> mem = TieredMemory(topo, logical_pages=4)
        >>> mem.set_first_touch_nodes([1, 1, 1, -1])
        >>> mem.access([0, 1, 2, 3]).tolist()
        [2, 3, 0, 1]
        """
        arr = _int_array(nids, "nids", -1, 2**31)
        if arr.shape[0] != self._npages:
            raise ValueError(f"nids: {arr.shape[0]} values for {self._npages} logical pages")
        for nid in np.unique(arr).tolist():
            if nid != -1 and (nid not in self._by_nid or not self._by_nid[nid].top):
                raise ValueError(f"nids: {nid} is not a top-tier node of the topology (nor -1)")
        homes = arr.copy()
        homes[homes == -1] = self._topology.default_node
        with self._lock:
            self._homes = homes

    def node_stats(self) -> dict[int, dict[str, int]]:
        """Per node (by nid): top-tier ``hits`` served by it, ``promotions`` into it, ``demotions`` out.

        ``hits`` is counted with several top-tier nodes only (0 with one).

        >>> import pghot
        >>> TieredMemory(pghot.Topology.two_tier(1, 8)).node_stats()[0]
        {'hits': 0, 'promotions': 0, 'demotions': 0}
        """
        with self._lock:
            return {
                nid: {
                    "hits": self._node_hits[nid],
                    "promotions": self._node_promo[nid],
                    "demotions": self._node_demo[nid],
                }
                for nid in sorted(self._by_nid)
            }

    # -- migration --------------------------------------------------------------------

    def _target(self, target_nid: Any) -> _NodeMem:
        t = self._node(target_nid)
        if not t.top:
            raise ValueError(f"target_nid: node {t.nid} is not a top-tier node")
        return t

    def recheck(self, pfns: npt.ArrayLike, target_nid: SupportsIndex) -> npt.NDArray[np.int8]:
        """Is each PFN still a promotion candidate for ``target_nid``?

        The promoter's re-check after extraction: ``NON_LRU`` when the PFN is
        in no node or free (not movable), ``RIGHT_NODE`` when it is on the
        target node already, ``OK`` otherwise.  :meth:`migrate_batch` checks
        again under the same lock as the move.

        Returns
        -------
        numpy.ndarray
            int8 :class:`MigrateStatus` values.

        Examples
        --------
        >>> import pghot
        >>> mem = TieredMemory(pghot.Topology.two_tier(2, 8))
        >>> _ = mem.allocate([0, 1, 2])
        >>> mem.recheck([0, 2, 3, 99], 0).tolist()
        [2, 0, 1, 1]
        """
        arr = _int_array(pfns, "pfns", 0, _INT64_MAX)
        t = self._target(target_nid)
        out = np.full(arr.size, int(MigrateStatus.NON_LRU), dtype=np.int8)
        with self._lock:
            for m, sel in self._by_node(arr):
                used = m.owner[arr[sel] - m.start] >= 0
                code = MigrateStatus.RIGHT_NODE if m is t else MigrateStatus.OK
                out[sel[used]] = int(code)
        return out

    def migrate(self, pfn: SupportsIndex, target_nid: SupportsIndex, now: SupportsIndex) -> bool:
        """Move the page on ``pfn`` to a free PFN of top-tier node ``target_nid``.

        The source PFN becomes free (not movable in the tracker).  When the
        target node has no free PFN, its CLOCK victim is demoted first (see
        the module docstring).

        Parameters
        ----------
        pfn : int
            PFN holding the page.
        target_nid : int
            A top-tier node.
        now : int
            Time in jiffies (for the ping-pong window).

        Returns
        -------
        bool
            True when the page moved; False when the PFN holds no page, the
            page is on ``target_nid`` already, or no PFN could be freed
            (``promote_fail_no_space``).

        Examples
        --------
        >>> import pghot
        >>> mem = TieredMemory(pghot.Topology.two_tier(2, 8))
        >>> _ = mem.allocate([0], node=1)
        >>> mem.migrate(2, 0, now=0), mem.pfn_of(0)
        (True, 0)
        >>> mem.migrate(2, 0, now=0)         # PFN 2 is free now
        False
        """
        p = _int_arg(pfn, "pfn")
        t = self._target(target_nid)
        n = _int_arg(now, "now")
        updates: dict[int, bool] = {}
        with self._lock:
            status = self._migrate_locked(p, t, n, updates)
            self._apply_movable(updates)
        return status == MigrateStatus.OK

    @overload
    def migrate_batch(
        self,
        pfns: npt.ArrayLike,
        target_nid: SupportsIndex,
        now: SupportsIndex,
        *,
        return_pages: Literal[False] = ...,
    ) -> npt.NDArray[np.int8]: ...

    @overload
    def migrate_batch(
        self,
        pfns: npt.ArrayLike,
        target_nid: SupportsIndex,
        now: SupportsIndex,
        *,
        return_pages: Literal[True],
    ) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int64]]: ...

    def migrate_batch(
        self,
        pfns: npt.ArrayLike,
        target_nid: SupportsIndex,
        now: SupportsIndex,
        *,
        return_pages: bool = False,
    ) -> npt.NDArray[np.int8] | tuple[npt.NDArray[np.int8], npt.NDArray[np.int64]]:
        """Migrate a batch of PFNs to ``target_nid``, in order, under one lock.

        Each PFN is re-checked as by :meth:`recheck` and then moved as by
        :meth:`migrate` (demoting on a full target node).

        Returns
        -------
        numpy.ndarray
            int8 :class:`MigrateStatus` of each PFN.
        pages : numpy.ndarray
            With ``return_pages``: int64, the logical page each PFN's
            migration moved, -1 where the status is not ``OK`` (read under
            the lock of the move: the PFN is free once it moved).

        Examples
        --------
        >>> import pghot
        >>> mem = TieredMemory(pghot.Topology.two_tier(1, 8), demotion=False)
        >>> _ = mem.allocate([0, 1], node=1)
        >>> mem.migrate_batch([1, 2, 5], 0, now=0).tolist()
        [0, 3, 1]
        >>> mem.stats()["promote_fail_no_space"]
        1
        >>> mem = TieredMemory(pghot.Topology.two_tier(2, 8))
        >>> _ = mem.allocate([5, 6], node=1)          # on PFNs 2 and 3
        >>> status, pages = mem.migrate_batch([3, 9], 0, now=0, return_pages=True)
        >>> status.tolist(), pages.tolist()
        ([0, 1], [6, -1])
        """
        arr = _int_array(pfns, "pfns", 0, _INT64_MAX)
        t = self._target(target_nid)
        n = _int_arg(now, "now")
        _bool_arg(return_pages, "return_pages")
        out = np.empty(arr.size, dtype=np.int8)
        moved = np.full(arr.size, -1, dtype=np.int64)
        updates: dict[int, bool] = {}
        with self._lock:
            for i, p in enumerate(arr.tolist()):
                m = self._locate1(p)
                page = -1 if m is None else int(m.owner[p - m.start])
                out[i] = int(self._migrate_locked(p, t, n, updates))
                if out[i] == MigrateStatus.OK:
                    moved[i] = page
            self._apply_movable(updates)
        return (out, moved) if return_pages else out

    def demote(
        self, nid: SupportsIndex, nr_pages: SupportsIndex, now: SupportsIndex
    ) -> npt.NDArray[np.int64]:
        """Demote up to ``nr_pages`` pages of top-tier node ``nid``: proactive reclaim.

        Each victim is the node's CLOCK victim (see the module docstring),
        moved to the node's first demotion target with a free PFN, counted
        ``pgdemote_kswapd`` (and ``ping_pong`` within the window of its
        promotion), as a kswapd that keeps a free headroom does (TPP's
        demotion watermark, :class:`pghot.sim.alternatives.Tpp`).  It stops
        early when the node holds no page or the lower tier has no free PFN;
        with ``demotion=False`` it demotes nothing.

        Returns
        -------
        numpy.ndarray
            int64, the logical pages demoted, in order.

        Raises
        ------
        TypeError, ValueError
            ``nid`` not a top-tier node, ``nr_pages`` or ``now`` negative
            (the message names the argument); nothing changes.

        Examples
        --------
        >>> import pghot
        >>> mem = TieredMemory(pghot.Topology.two_tier(4, 8))
        >>> _ = mem.allocate([0, 1, 2, 3])
        >>> _ = mem.access([0, 2])                   # referenced: CLOCK spares them once
        >>> mem.demote(0, 3, now=5).tolist(), mem.free_pages(0), mem.stats()["pgdemote_kswapd"]
        ([1, 3, 0], 3, 3)
        """
        m = self._node(nid)
        if not m.top:
            raise ValueError(f"nid: node {m.nid} is not a top-tier node")
        n = _int_arg(nr_pages, "nr_pages", 0, 2**62)
        t = _int_arg(now, "now")
        out: list[int] = []
        updates: dict[int, bool] = {}
        with self._lock:
            while self._demotion and len(out) < n and m.nfree < m.nr:
                dest = self._lower_with_room(m)
                if dest is None:
                    break
                out.append(self._demote_off(m, self._clock_victim(m), dest, t, updates))
            self._apply_movable(updates)
        return np.array(out, dtype=np.int64)

    def demote_pfns(self, pfns: npt.ArrayLike, now: SupportsIndex) -> npt.NDArray[np.int64]:
        """Demote the pages on the given top-tier PFNs, in order: targeted reclaim.

        Each page goes to its node's first demotion target with a free PFN, counted
        ``pgdemote_kswapd`` (and ``ping_pong`` within the window of its
        promotion), as DAMOS ``migrate_cold`` demotes the pages of a region
        (:class:`pghot.sim.damon.Damon`).  A free PFN, or one in no node or on
        the lower tier, is passed over; it stops when the lower tier has no
        free PFN; with ``demotion=False`` it demotes nothing.

        Returns
        -------
        numpy.ndarray
            int64, the logical pages demoted, in order.

        Examples
        --------
        >>> import pghot
        >>> mem = TieredMemory(pghot.Topology.two_tier(4, 8))
        >>> _ = mem.allocate([0, 1, 2, 3])
        >>> mem.demote_pfns([2, 3, 5, 9], now=0).tolist(), mem.free_pages(0)
        ([2, 3], 2)
        """
        arr = _int_array(pfns, "pfns", 0, _INT64_MAX)
        t = _int_arg(now, "now")
        out: list[int] = []
        updates: dict[int, bool] = {}
        with self._lock:
            for p in arr.tolist() if self._demotion else []:
                m = self._locate1(p)
                if m is None or not m.top or int(m.owner[p - m.start]) < 0:
                    continue
                dest = self._lower_with_room(m)
                if dest is None:
                    break
                out.append(self._demote_off(m, p - m.start, dest, t, updates))
            self._apply_movable(updates)
        return np.array(out, dtype=np.int64)

    def _demotion_order(self, topology: Topology, nid: int) -> list[_NodeMem]:
        """The lower-tier nodes top-tier node ``nid`` demotes to, in the order it tries them."""
        return sorted(self._lower, key=lambda x: (topology.promotion_target(x.nid) != nid, x.nid))

    def _lower_with_room(self, m: _NodeMem) -> _NodeMem | None:
        """Where top-tier node ``m`` demotes: its first demotion target with a free PFN."""
        return next((x for x in self._demote_to[m.nid] if x.nfree > 0), None)

    def _demote_off(self, m: _NodeMem, off: int, dest: _NodeMem, now: int, updates: dict[int, bool]) -> int:
        """Demote the page on offset ``off`` of top-tier node ``m`` to ``dest`` (which has
        room), counted (``pgdemote_kswapd``, the node's demotions, a ping-pong); the page."""
        victim = int(m.owner[off])
        self._move(m, off, dest, updates)
        self._stats["pgdemote_kswapd"] += 1
        self._node_demo[m.nid] += 1
        promoted = int(self._promoted_at[victim])
        if promoted >= 0 and 0 <= now - promoted <= self._ping_pong_jiffies:
            self._stats["ping_pong"] += 1
        self._promoted_at[victim] = -1
        return victim

    def _apply_movable(self, updates: dict[int, bool]) -> None:
        """Push the final movable state of the PFNs a migration touched."""
        if self._tracker is None or not updates:
            return
        on = [p for p, f in updates.items() if f]
        off = [p for p, f in updates.items() if not f]
        if on:
            self._tracker.set_movable(np.array(on, dtype=np.int64), True)
        if off:
            self._tracker.set_movable(np.array(off, dtype=np.int64), False)

    def _migrate_locked(self, pfn: int, t: _NodeMem, now: int, updates: dict[int, bool]) -> MigrateStatus:
        src = self._locate1(pfn)
        if src is None or src.owner[pfn - src.start] < 0:
            return MigrateStatus.NON_LRU
        if src is t:
            return MigrateStatus.RIGHT_NODE
        promotion = not src.top
        if t.nfree == 0:
            dest = self._lower_with_room(t)
            if not self._demotion or dest is None or t.nr == 0:
                if promotion:
                    self._stats["promote_fail_no_space"] += 1
                return MigrateStatus.NO_SPACE
            self._demote_off(t, self._clock_victim(t), dest, now, updates)
        page = int(src.owner[pfn - src.start])
        new_off = self._move(src, pfn - src.start, t, updates)
        assert t.ref is not None
        t.ref[new_off] = 1
        if promotion:
            self._stats["pgpromote_success"] += 1
            self._node_promo[t.nid] += 1
            self._promoted_at[page] = now
        return MigrateStatus.OK

    def _move(self, src: _NodeMem, off: int, dst: _NodeMem, updates: dict[int, bool]) -> int:
        """Move the page at ``off`` of ``src`` to a free PFN of ``dst``; its offset."""
        page = int(src.owner[off])
        dst.nfree -= 1
        new_off = int(dst.free[dst.nfree])
        dst.owner[new_off] = page
        self._release(src, off)
        self._pfn_of[page] = dst.start + new_off
        if not src.top:
            updates[src.start + off] = False
        if not dst.top:
            updates[dst.start + new_off] = True
        self._stats["pgmigrate_success"] += 1
        return new_off

    def _clock_victim(self, m: _NodeMem) -> int:
        """Offset of the CLOCK victim of top-tier node ``m`` (which holds a page)."""
        ref, owner, n = m.ref, m.owner, m.nr
        assert ref is not None
        pos = m.hand
        for _ in range(2 * (n // _CLOCK_CHUNK + 2)):  # two revolutions, chunked
            end = min(pos + _CLOCK_CHUNK, n)
            hit = np.flatnonzero((ref[pos:end] == 0) & (owner[pos:end] >= 0))
            if hit.size:
                v = pos + int(hit[0])
                ref[pos:v] = 0
                m.hand = (v + 1) % n
                return v
            ref[pos:end] = 0
            pos = end % n
        raise RuntimeError(f"CLOCK found no page on node {m.nid}")  # pragma: no cover

    # -- counters and invariants -----------------------------------------------------

    def count_promote_candidates(self, nr_pages: SupportsIndex, *, no_rate_limit: bool = False) -> None:
        """Add promotion candidates to ``pgpromote_candidate`` (or ``_nrl``).

        The promotion policy calls this, as the kernel's NUMA-balancing
        policy counts ``PGPROMOTE_CANDIDATE`` before its rate limit and
        ``PGPROMOTE_CANDIDATE_NRL`` for candidates it takes without one.

        Examples
        --------
        >>> import pghot
        >>> mem = TieredMemory(pghot.Topology.two_tier(2, 8))
        >>> mem.count_promote_candidates(3)
        >>> mem.count_promote_candidates(1, no_rate_limit=True)
        >>> mem.stats()["pgpromote_candidate"], mem.stats()["pgpromote_candidate_nrl"]
        (3, 1)
        """
        n = _int_arg(nr_pages, "nr_pages")
        nrl = _bool_arg(no_rate_limit, "no_rate_limit")
        key = "pgpromote_candidate_nrl" if nrl else "pgpromote_candidate"
        with self._lock:
            self._stats[key] += n

    def stats(self) -> dict[str, int]:
        """The counters (see the module docstring).

        Examples
        --------
        >>> import pghot
        >>> s = TieredMemory(pghot.Topology.two_tier(2, 8)).stats()
        >>> list(s)[:4]
        ['pgpromote_success', 'pgpromote_candidate', 'pgpromote_candidate_nrl', 'pgdemote_kswapd']
        >>> list(s)[4:]
        ['pgmigrate_success', 'promote_fail_no_space', 'ping_pong']
        """
        with self._lock:
            return dict(self._stats)

    def check(self) -> None:
        """Verify the placement invariants.

        Every placed logical page is on exactly one PFN and that PFN's owner
        is the page; every used PFN holds exactly one page; each node's free
        stack holds exactly its free PFNs, once each; the placed count agrees.

        Raises
        ------
        RuntimeError
            Naming the first violated invariant.

        Examples
        --------
        >>> import pghot
        >>> mem = TieredMemory(pghot.Topology.two_tier(2, 8))
        >>> _ = mem.access([1, 2, 3, 1])
        >>> mem.check()
        """
        with self._lock:
            seen: list[npt.NDArray[np.int64]] = []
            for m in self._by_nid.values():
                used = np.flatnonzero(m.owner >= 0)
                pages = m.owner[used]
                if pages.size and int(pages.max()) >= self._npages:
                    raise RuntimeError(f"node {m.nid} holds a page out of range")
                back = self._pfn_of[pages]
                bad = np.flatnonzero(back != used + m.start)
                if bad.size:
                    i = int(bad[0])
                    raise RuntimeError(
                        f"PFN {int(used[i]) + m.start} holds page {int(pages[i])}, "
                        f"which is placed on PFN {int(back[i])}"
                    )
                seen.append(pages)
                if m.nfree != m.nr - used.size:
                    raise RuntimeError(
                        f"node {m.nid}: {m.nfree} PFNs in the free pool, {m.nr - used.size} free"
                    )
                pool = m.free[: m.nfree]
                if np.unique(pool).size != pool.size:
                    raise RuntimeError(f"node {m.nid}: a PFN is twice in the free pool")
                if pool.size and (m.owner[pool] >= 0).any():
                    raise RuntimeError(f"node {m.nid}: a used PFN is in the free pool")
            allp = np.concatenate(seen) if seen else np.zeros(0, dtype=np.int64)
            if np.unique(allp).size != allp.size:
                raise RuntimeError("a page is on two PFNs")
            placed = int((self._pfn_of >= 0).sum())
            if placed != allp.size or placed != self._placed:
                raise RuntimeError(f"{placed} pages placed, {allp.size} PFNs used, count says {self._placed}")

    def __repr__(self) -> str:
        return (
            f"TieredMemory(nodes={len(self._by_nid)}, logical_pages={self._npages}, "
            f"placed={len(self)}, page_size={self._page_size})"
        )
