"""A tiered memory model: where each page of a workload lives, and moving it.

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

Size: the state lives in the compiled :class:`pghot._memory.MemoryCore`
(``src/_pghot/_memory.pyx``), which this class extends with the argument
checks.  It holds the owner, free-stack and CLOCK entries of only the first
``min(nr_pages, logical_pages)`` PFNs of each node: free PFNs are handed out
lowest first and reused first, so no page ever reaches a PFN beyond, and the
rest of the node is a count of free PFNs.  A replay's memory is thus
O(footprint), whatever the machine's size; every count and PFN is what the
whole node would give (``tests/test_memory_footprint.py``).

Concurrency: one spinlock guards all of it, and every public method runs as one
kernel under that lock with the GIL released, so a migration (demotion
included) is atomic with respect to accesses, allocations and
:meth:`TieredMemory.check`.  The tracker's movable bits are updated after
the lock is released (the kernel records the PFNs it changed), never from
inside it; with a tracker, the mutating methods are also serialised by a
Python lock held until the tracker is updated, so its bits always end in
the memory's state.  The pure-Python :class:`pghot.model.memory.TieredMemory`
is the specification (``tests/test_memory_model.py`` runs both side by side).

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
>>> from pghot.machine.memory import TieredMemory
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

from typing import Any, Literal, SupportsIndex, overload

import numpy as np
import numpy.typing as npt

from pghot._base import TrackerBase
from pghot._memory import MemoryCore
from pghot._validate import bool_arg as _bool_arg
from pghot._validate import int_in as _int_arg
from pghot._validate import ms_to_jiffies
from pghot.model.memory import _STAT_KEYS, MigrateStatus
from pghot.model.memory import _int_array as _int_array
from pghot.topology import Topology

__all__ = ["MigrateStatus", "TieredMemory"]

_INT64_MAX = 2**63 - 1


class _NodeMem:
    """Views of one node's part of the compiled state (for :meth:`TieredMemory.check`'s tests).

    Only the node's first ``mat = min(nr, logical_pages)`` PFNs have slots
    (no page ever reaches an offset beyond: ``src/_pghot/_memory.pyx``'s
    narrative block); the other ``nr - mat`` are free and only counted.
    ``owner`` and ``free`` are int32 views of the node's ``mat`` slots of
    the compiled arrays (``owner[off]``: the page on PFN ``start + off``, -1
    when free; ``free[:nfree - (nr - mat)]``: the node's stack of free
    materialised offsets); ``nfree`` reads the live count of free PFNs.
    """

    __slots__ = ("_core", "_k", "free", "mat", "nid", "nr", "owner", "ref", "start", "top")

    def __init__(self, core: MemoryCore, k: int, nid: int, start: int, nr: int, top: bool, base: int) -> None:
        arrays = core._arrays
        self._core = core
        self._k = k
        self.nid = nid
        self.start = start
        self.nr = nr
        self.mat = int(arrays["mat"][k])
        self.top = top
        self.owner = arrays["owner"][base : base + self.mat]
        self.free = arrays["freestk"][base : base + self.mat]
        self.ref = arrays["ref"][base : base + self.mat] if top else None

    @property
    def nfree(self) -> int:
        return int(self._core._c_nfree(self._k))


# A Python subclass rather than a wrapper: the engine's fast entry points
# (serve, pfns_into, second_access) are the compiled class's own methods, with
# no forwarding call, and other compiled stages can cimport MemoryCore and run
# its kernels on a TieredMemory; this layer only adds the argument checks.
class TieredMemory(MemoryCore):
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
        self._setup(topology, self._npages, self._demotion, self._ping_pong_jiffies, tracker)
        a = self._arrays
        self._pfn_of = a["pfn_of"]
        self._by_nid: dict[int, _NodeMem] = {}
        for k, nid in enumerate(a["nids"]):
            n = topology.node(nid)
            self._by_nid[nid] = _NodeMem(
                self, k, nid, n.start_pfn, n.nr_pages, bool(self._is_top_index(k)), int(a["base"][k])
            )
        if tracker is not None:
            for n in topology.nodes:
                if not n.toptier and n.nr_pages:  # nothing placed yet: nothing to move
                    if isinstance(tracker, TrackerBase):
                        tracker.set_movable_range(n.start_pfn, n.nr_pages, False)
                    else:
                        tracker.set_movable(
                            np.arange(n.start_pfn, n.start_pfn + n.nr_pages, dtype=np.int64), False
                        )

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
        return int(self._c_nfree(self._node(nid)._k))

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
        return m.nr - int(self._c_nfree(m._k))

    def __len__(self) -> int:
        """Number of placed pages.

        >>> import pghot
        >>> mem = TieredMemory(pghot.Topology.two_tier(8, 24))
        >>> _ = mem.allocate(range(10)); len(mem)
        10
        """
        return int(self._c_len())

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
        return int(self._c_pfn(p))

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
        return int(self._c_page_at(p))

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
        return self._c_pfns(arr)

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
        return self._c_pages(arr)

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
        return self._c_pages_on(self._node(nid)._k)

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
        k = -1 if node is None else self._node(node)._k
        return self._c_allocate(arr, k)

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
        self._c_free(arr)

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
        return self._c_access(arr, count)

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
        return self._c_recheck(arr, t._k)

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
        status, _ = self._c_migrate_batch(np.array([p], dtype=np.int64), t._k, n)
        return int(status[0]) == MigrateStatus.OK

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
        out, moved = self._c_migrate_batch(arr, t._k, n)
        return (out, moved) if return_pages else out

    def demote(
        self, nid: SupportsIndex, nr_pages: SupportsIndex, now: SupportsIndex
    ) -> npt.NDArray[np.int64]:
        """Demote up to ``nr_pages`` CLOCK victims of top-tier node ``nid``: proactive reclaim.

        As :meth:`pghot.model.memory.TieredMemory.demote`: the logical pages
        demoted, in order (``pgdemote_kswapd``, ``ping_pong``); fewer when
        the node empties or the lower tier fills; none with ``demotion=False``.

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
        return self._c_demote(m._k, n, t)

    def demote_pfns(self, pfns: npt.ArrayLike, now: SupportsIndex) -> npt.NDArray[np.int64]:
        """Demote the pages on the given top-tier PFNs, in order: targeted reclaim.

        As :meth:`pghot.model.memory.TieredMemory.demote_pfns`: each page goes to
        its node's first demotion target with a free PFN, counted ``pgdemote_kswapd``
        (and ``ping_pong``); free PFNs and PFNs off the top tier are passed over;
        it stops when the lower tier is full; none with ``demotion=False``.  The
        logical pages demoted, in order (DAMOS ``migrate_cold``,
        :class:`pghot.sim.damon.Damon`).

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
        return self._c_demote_pfns(arr, t)

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
        if not self._c_count(n, nrl):
            raise ValueError(f"nr_pages: {n} would overflow the 64-bit counter")

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
        return dict(zip(_STAT_KEYS, self._c_stats(), strict=True))

    def set_first_touch_nodes(self, nids: npt.ArrayLike) -> None:
        """Give each logical page the top-tier node its first touch allocates on.

        Linux's default (local) allocation: a page is placed on the node of
        the CPU that touches it first when that node has a free PFN, else
        on the next node of its fallback list.  Here the list from home
        node ``h`` is ``h``, the other top-tier nodes by nid, then the
        lower-tier nodes, those whose ``promotion_target`` is ``h`` first
        (the socket's own expander), each group by nid; the kernel orders
        its zonelists by the SLIT distance (``build_zonelists`` in
        ``mm/page_alloc.c``), which a topology table does not carry: the
        promotion target stands in for "nearest".  Without this call every
        page uses the default node's list (:meth:`allocate`).

        Parameters
        ----------
        nids : 1-D array of int
            One per logical page: a top-tier node, or -1 for the default node.

        Raises
        ------
        TypeError, ValueError
            A wrong length, or a value that is not -1 or a top-tier node
            (named); nothing changes.

        Examples
        --------
        >>> import pghot
        >>> topo = pghot.Topology([pghot.Node(0, 0, 2, True), pghot.Node(1, 2, 2, True),
        ...                        pghot.Node(2, 4, 8, False)])
        >>> mem = TieredMemory(topo, logical_pages=4)
        >>> mem.set_first_touch_nodes([1, 1, 1, -1])
        >>> mem.access([0, 1, 2, 3]).tolist()     # node 1 full after two: its fallback is node 0
        [2, 3, 0, 1]
        """
        arr = _int_array(nids, "nids", -1, 2**31)
        if arr.shape[0] != self._npages:
            raise ValueError(f"nids: {arr.shape[0]} values for {self._npages} logical pages")
        lut = {-1: self._node(self._topology.default_node)._k}
        for n in self._topology.nodes:
            if n.toptier:
                lut[n.nid] = self._by_nid[n.nid]._k
        homes = np.empty(arr.shape[0], dtype=np.int32)
        for nid in np.unique(arr).tolist():
            k = lut.get(nid)
            if k is None:
                raise ValueError(f"nids: {nid} is not a top-tier node of the topology (nor -1)")
            homes[arr == nid] = k
        self._set_homes(homes)

    def node_stats(self) -> dict[int, dict[str, int]]:
        """Per node (by nid): top-tier ``hits`` served by it, ``promotions`` into it, ``demotions`` out.

        ``hits`` is counted on a machine with several top-tier nodes; with
        one it is 0 here (the replay reports the policy's top-tier hits).

        Examples
        --------
        >>> import pghot
        >>> mem = TieredMemory(pghot.Topology.two_tier(1, 8))
        >>> _ = mem.allocate([0, 1], node=1)
        >>> _ = mem.migrate_batch([1, 2], 0, now=0)       # the second demotes the first
        >>> mem.node_stats()
        {0: {'hits': 0, 'promotions': 2, 'demotions': 1}, 1: {'hits': 0, 'promotions': 0, 'demotions': 0}}
        """
        hits, promo, demo = self._c_node_stats()
        out = {}
        for nid in sorted(self._by_nid):
            k = self._by_nid[nid]._k
            out[nid] = {"hits": int(hits[k]), "promotions": int(promo[k]), "demotions": int(demo[k])}
        return out

    def check(self) -> None:
        """Verify the placement invariants.

        Every placed logical page is on exactly one PFN and that PFN's owner
        is the page; every used PFN holds exactly one page; each node's free
        stack holds exactly its free materialised PFNs, once each, and its
        PFNs beyond the materialised ones (``min(nr_pages, logical_pages)``)
        are all free; the placed count agrees.

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
        pfn_of, owner, freestk, nfree, placed_count = self._c_snapshot()
        base = self._arrays["base"]
        seen: list[npt.NDArray[np.int32]] = []
        for m in self._by_nid.values():
            b = int(base[m._k])
            if m.mat != min(m.nr, self._npages):
                raise RuntimeError(f"node {m.nid}: {m.mat} slots, not min({m.nr}, {self._npages})")
            own = owner[b : b + m.mat]
            used = np.flatnonzero(own >= 0)
            pages = own[used]
            if pages.size and int(pages.max()) >= self._npages:
                raise RuntimeError(f"node {m.nid} holds a page out of range")
            back = pfn_of[pages]
            bad = np.flatnonzero(back != used + b)
            if bad.size:
                i = int(bad[0])
                raise RuntimeError(
                    f"PFN {int(used[i]) + m.start} holds page {int(pages[i])}, "
                    f"which is placed on PFN {int(self._slot_pfn(int(back[i])))}"
                )
            seen.append(pages)
            nf = int(nfree[m._k])
            # with used.size <= mat, this also says the nr - mat PFNs past the slots are free
            if nf != m.nr - used.size:
                raise RuntimeError(f"node {m.nid}: {nf} PFNs in the free pool, {m.nr - used.size} free")
            # the pool: the stack of free materialised offsets, under it the nr - mat others
            pool = freestk[b : b + nf - (m.nr - m.mat)]
            if pool.size and (int(pool.min()) < 0 or int(pool.max()) >= m.mat):
                raise RuntimeError(f"node {m.nid}: the free pool holds an offset out of the node")
            if np.unique(pool).size != pool.size:
                raise RuntimeError(f"node {m.nid}: a PFN is twice in the free pool")
            if pool.size and (own[pool] >= 0).any():
                raise RuntimeError(f"node {m.nid}: a used PFN is in the free pool")
        allp = np.concatenate(seen) if seen else np.zeros(0, dtype=np.int32)
        if np.unique(allp).size != allp.size:
            raise RuntimeError("a page is on two PFNs")
        placed = int((pfn_of >= 0).sum())
        if placed != allp.size or placed != placed_count:
            raise RuntimeError(f"{placed} pages placed, {allp.size} PFNs used, count says {placed_count}")

    def __repr__(self) -> str:
        return (
            f"TieredMemory(nodes={len(self._by_nid)}, logical_pages={self._npages}, "
            f"placed={len(self)}, page_size={self._page_size})"
        )
