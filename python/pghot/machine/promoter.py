"""kpromoted: promote the tracker's hot pages, with the NUMA-balancing policy knobs.

A :class:`Promoter` joins a tracker (:class:`pghot.Tracker`, or the reference
model) and a :class:`pghot.machine.memory.TieredMemory` built on that tracker.  For
each top-tier node it runs *rounds*: :meth:`Promoter.step` runs one round in
simulated time, deterministically; :meth:`Promoter.start` runs one thread per
top-tier node (``kpromoted<nid>``) that sleeps ``interval_ms`` and then runs
a round with ``now`` read from a monotonic clock, until :meth:`Promoter.stop`.

One round for node ``nid`` at time ``now`` (jiffies):

1. **Rate credit** (``rate_limit_mbps``): credit grows by
   ``rate_limit_mbps * 2**20 * elapsed / hz`` bytes, ``elapsed`` being the
   time since the node's previous round, and is capped at one interval's
   worth plus one page (``rate * interval_ms / 1000 + page_size``).  It
   starts at one interval's worth.  Each migration attempt spends
   ``page_size``, so over rounds every ``interval_ms`` the pages promoted in
   ``T`` seconds never exceed ``rate * T`` plus one interval's worth and
   one page; the
   cap keeps the fraction of a page a round could not spend but throws away
   whole unspent pages, so an idle spell buys no burst.  All of it is exact
   integer arithmetic.  ``None`` switches the limit off; the default,
   65536 MB/s (the kernel's ``numa_balancing_promote_rate_limit_MBps``),
   allows 335544 pages of 4 KiB per 20 ms round, far above a batch, so it
   never binds in real time: the v2 behaviour.  (The kernel counts
   candidates in one-second windows and refuses every further one once the
   count reaches the limit; the per-round credit gives the same long-run
   rate without a burst at the start of each second.)
2. **Threshold adjustment** (``threshold_adjust``, off by default as in v2):
   the kernel's ``numa_promotion_adjust_threshold`` with frequency in place
   of hint-fault latency.  Once ``adjust_period_ms`` (default 60000, the
   kernel's ``numa_balancing_scan_period_max``) has passed since the period
   began, the candidates of the period are compared with what the rate
   limit allows over the time that actually passed: above 110 % the
   extraction threshold rises one step (tighter), below 90 % it falls one
   step (looser), and a new period begins.  A step is one access; the
   threshold stays within ``[tracker.threshold, 2**freq_bits - 1]``: the
   tracker queues nothing below its own threshold, so the kernel's
   relaxation beyond the default (up to twice the default latency) has no
   counterpart, and the kernel's 16 steps become the levels available
   (6 with the default widths: 2..7).  Records between the tracker's
   threshold and the raised one stay queued and keep their counts.
   It needs a rate limit.
3. **Free-memory bypass** (``free_bypass``, off by default): when the node
   has more than ``bypass_free_pages`` free PFNs (default per node
   ``max(1 GiB / page_size, nr_pages // 16)``, the kernel's
   ``pgdat_free_space_enough`` margin without the zone watermark), the
   round extracts at the tracker's threshold even when the adjusted one is
   higher, skips the rate limit, counts its candidates as
   ``pgpromote_candidate_nrl`` (and not towards the adjustment), and resets
   the adjusted threshold to the tracker's ("workload changed").  Free
   memory is read once per round, so a round may end up to one batch below
   the mark.
4. **Extract** up to ``batch`` records (default 1024, v2's
   ``KPROMOTED_MIGRATE_BATCH``) with frequency at least the threshold,
   hottest first; the tracker deletes them.
5. **Staleness** (``stale_check``, off by default as in v2): a record whose
   age ``(now - last_update) mod 2**time_bits`` exceeds the tracker's
   window is dropped (``kpromoted_stale``, also ``kpromoted_dropped``).
   This is the later versions' "access latency below the threshold" test
   with the threshold at its default, the window (there ``>=``, here ``>``,
   the tracker's own definition of "older than the window").
6. **Re-check** each PFN as v2 does before migrating
   (:meth:`TieredMemory.recheck`): free or offline, i.e. not on the LRU ->
   ``kpromoted_non_lru``; already on the target node ->
   ``kpromoted_right_node`` (unreachable when the tracker and the memory
   share a topology: a tracked PFN is on a lower tier; kept for parity).
   The rest are the round's candidates (``pgpromote_candidate`` in the
   memory's counters).
7. **Rate limit**: the hottest candidates that the credit pays for are
   migrated; the others are dropped (``kpromoted_rate_limited``, also
   ``kpromoted_dropped``).  As in the kernel, a refused candidate is not
   migrated and its history is gone (extraction deleted the record): new
   accesses build it up again.  Refusing before extraction would keep the
   records but hide the demand from the threshold adjustment.
   The **demotion throttle** (``throttle_demotion_ratio``, off by default,
   see below) cuts the candidates to the round's budget first, the same
   way (``kpromoted_throttled``, also ``kpromoted_dropped``), and the rate
   credit pays only for those it lets through.
8. **Migrate** the batch (:meth:`TieredMemory.migrate_batch`): successes are
   ``kpromoted_migrated``; a full target node demotes its CLOCK victim; a
   page that still found no room counts ``kpromoted_no_space``; a race lost
   since the re-check counts as non-LRU / right node.

**Demotion throttle** (``throttle_demotion_ratio``, a percentage; None, the
default, switches it off).  No kernel version has it: it is the suggestion
made in the review of the later pghot postings, that promotion be throttled
when the demotion rate equals the promotion rate, since under top-tier
pressure promotion "did not help and sometimes hurt" (``SEMANTICS.md``
section 6, "Review of the later versions").  The memory's counters
``pgdemote_kswapd`` and ``pgpromote_success`` (the vmstat counters the
kernel would read; summed over the nodes) are sampled in windows of
``throttle_window_ms`` (default 200, ten rounds of 20 ms): at the first
round at least a window after the window began, with ``D`` demotions and
``P`` promotions since then, the throttle *holds* when ``P > 0`` and
``100 * D >= ratio * P``.  Holding raises the node's throttle level by one,
otherwise it falls by one (at least 0), and a new window begins; so the
budget halves each window while demotions keep up with promotions and
doubles back each window after they stop.  The round's budget is
``batch >> level``; the level stays within ``[0, batch.bit_length() - 1]``,
so a throttled round still promotes at least one page (with no floor, a
window with no promotion would never hold again, and a window of demotions
without promotions says nothing about promotion).  A round whose candidates
exceed its budget counts ``kpromoted_throttled_rounds``; a bypass round
(plenty of free memory: a promotion then demotes nothing) is not throttled
but still samples the window.  The hottest candidates up to the budget
proceed; the rest are dropped as by the rate limit.  Once the top tier is
full, every promotion demotes a page (``pgdemote_kswapd`` equals
``pgpromote_success`` when nothing else demotes), so ``ratio = 100`` holds
as long as the tier stays full and promotion goes on: the throttle then
reduces promotion to its floor rather than telling useful promotions from
ping-pongs; ``bench/README.md`` has the demo's numbers.  With
``throttle_signal="ping-pong"`` (not the proposal: this package's variant)
``D`` counts only the memory's ping-pongs (``ping_pong``: demotions of a
page within ``ping_pong_window_ms`` of its promotion), so the throttle holds
when the promotions come back down, not when they merely exchange pages: on
a real GUPS trace whose promotions are never demoted again the demotion
signal cut them from 85,714 to 639, the ping-pong signal leaves them.

So the defaults (rate limit 65536 MB/s, no adjustment, no bypass, no
staleness check, no throttle) reproduce v2: every 20 ms, extract up to 1024 records at the
tracker's threshold and migrate those still on a lower tier.

Threads: ``daemon=False``, one per top-tier node; a per-node lock
serialises the rounds of a node (a thread's and :meth:`step`'s), the memory
has its own lock, taken after the node's, and the tracker's locks are inside
the compiled core.  :meth:`Promoter.stop` sets an event that wakes every
thread, joins them all, and is idempotent; an exception in a thread ends
that thread and is re-raised by :meth:`stop`.  The threads take ``now``
from ``clock`` (default: ``time.monotonic_ns`` in jiffies of the tracker's
``hz``); :meth:`Promoter.now` gives the same clock to threads that record
accesses.  Do not mix :meth:`step` with running threads: a node's ``now``
must not decrease (``ValueError``); :meth:`start` forgets the previous
round times, so stepping in simulated time and then starting is fine.

Examples
--------
>>> import pghot
>>> from pghot.machine.memory import TieredMemory
>>> from pghot.machine.promoter import Promoter
>>> topo = pghot.Topology.two_tier(64, 256)
>>> tracker = pghot.Tracker(topo)
>>> mem = TieredMemory(topo, tracker)
>>> pfn = int(mem.allocate([0], node=1)[0])
>>> tracker.record_accesses(mem.access([0, 0]), -1, pghot.Source.HW_HINTS, [1, 2]).tolist()
[2, 0, 0, 0]
>>> p = Promoter(tracker, mem)
>>> p.step(20)
1
>>> mem.node_of_page(0), mem.stats()["pgpromote_success"]
(0, 1)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple, SupportsIndex

import numpy as np

from pghot._base import TrackerBase
from pghot._kpromoted import STAT_KEYS, PromoterCore
from pghot._validate import INT64_MAX, MS_MAX, ms_to_jiffies
from pghot._validate import bool_arg as _bool_arg
from pghot._validate import int_in as _int_arg
from pghot.machine.memory import MigrateStatus, TieredMemory
from pghot.model.memory import TieredMemory as _ReferenceMemory  # its specification, also accepted

# MigrateStatus values as plain ints: an IntEnum member lookup per round costs more than the counting
_OK, _NON_LRU, _RIGHT_NODE, _NO_SPACE = (
    int(MigrateStatus.OK),
    int(MigrateStatus.NON_LRU),
    int(MigrateStatus.RIGHT_NODE),
    int(MigrateStatus.NO_SPACE),
)
_NSTATUS = max(_OK, _NON_LRU, _RIGHT_NODE, _NO_SPACE) + 1

__all__ = ["ARG_RANGES", "THROTTLE_SIGNALS", "Migrated", "Promoter"]

_MB = 1 << 20

#: the demotion throttle's signals (``throttle_signal``) -> the memory counter each counts
THROTTLE_SIGNALS = {"demotions": "pgdemote_kswapd", "ping-pong": "ping_pong"}
#: argument -> its range ``[low, high]`` (inclusive, ``high`` None: no bound): what
#: :class:`Promoter` accepts, and what the simulator's ``PromoterConfig`` declares
ARG_RANGES: dict[str, tuple[int, int | None]] = {
    "interval_ms": (1, 2**31),
    "batch": (0, 2**31),
    "rate_limit_mbps": (0, 2**40),
    "adjust_period_ms": (1, MS_MAX),
    "bypass_free_pages": (0, INT64_MAX),
    "throttle_demotion_ratio": (1, 10000),
    "throttle_window_ms": (1, MS_MAX),
}

#: the counters of Promoter.stats(), one list for both implementations of a round
_STAT_KEYS = STAT_KEYS


class Migrated(NamedTuple):
    """What a promoter round migrated: three parallel arrays, one entry per page moved.

    >>> m = Migrated.empty(); m.pfns.dtype.name, m.pages.dtype.name, m.nids.dtype.name, len(m.pfns)
    ('int64', 'int64', 'int32', 0)
    """

    #: the PFNs the pages left (those of the tracker's records), int64
    pfns: np.ndarray
    #: the logical pages moved, int64
    pages: np.ndarray
    #: the target node of each, int32
    nids: np.ndarray

    @classmethod
    def empty(cls) -> Migrated:
        """Nothing migrated."""
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int32))

    @classmethod
    def concat(cls, parts: list[Migrated]) -> Migrated:
        """The entries of ``parts`` one after the other.

        >>> a = Migrated(np.array([7]), np.array([1]), np.array([0], np.int32))
        >>> Migrated.concat([a, a]).pages.tolist()
        [1, 1]
        """
        parts = [p for p in parts if p.pfns.shape[0]]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        return cls(*(np.concatenate([p[i] for p in parts]) for i in range(3)))


class _NodeState:
    """Per top-tier node: round times, rate credit, adjusted threshold, counters."""

    __slots__ = (
        "nid",
        "lock",
        "last_now",
        "credit",
        "threshold",
        "period_start",
        "period_cand",
        "watermark",
        "level",
        "window_start",
        "window_demoted",
        "window_promoted",
        "counters",
    )

    def __init__(self, nid: int, credit: int, threshold: int, watermark: int) -> None:
        self.nid = nid
        self.lock = threading.Lock()
        self.last_now: int | None = None
        self.credit = credit
        self.threshold = threshold
        self.period_start: int | None = None
        self.period_cand = 0
        self.watermark = watermark
        self.level = 0  # demotion throttle: the budget is batch >> level
        self.window_start: int | None = None
        self.window_demoted = 0  # the memory's counters when the window began
        self.window_promoted = 0
        self.counters = dict.fromkeys(_STAT_KEYS, 0)


class Promoter:
    """kpromoted: one promotion loop per top-tier node (see the module docstring).

    Parameters
    ----------
    tracker : pghot.Tracker
        Source of candidates (``extract_batch``); its ``hz``, window and
        widths are used.
    memory : pghot.machine.memory.TieredMemory
        The pages; built with this ``tracker``.
    interval_ms : int, default 20
        Sleep between rounds of a thread (v2's ``KPROMOTE_DELAY``); also the
        interval of the rate limit's per-round credit.
    batch : int, default 1024
        Records extracted per round at most.
    rate_limit_mbps : int or None, default 65536
        Promotion rate limit in MiB/s; None for no limit.
    threshold_adjust : bool, default False
        Adjust the extraction threshold to the rate limit.
    adjust_period_ms : int, default 60000
        Period of the threshold adjustment.
    free_bypass : bool, default False
        Promote without threshold adjustment or rate limit while the target
        node has plenty of free memory.
    bypass_free_pages : int, optional
        Free PFNs above which the bypass applies; default per node
        ``max(2**30 // page_size, nr_pages // 16)``.
    stale_check : bool, default False
        Drop candidates whose last access is older than the tracker's window.
    throttle_demotion_ratio : int or None, default None
        Demotion throttle (module docstring): halve the round's budget each
        window in which demotions reach this percentage of promotions; None
        for no throttle.
    throttle_window_ms : int, default 200
        Window of the demotion throttle.
    throttle_signal : {"demotions", "ping-pong"}, default "demotions"
        What the throttle counts against the promotions (module docstring):
        every demotion (``pgdemote_kswapd``, the list's proposal), or only
        the ping-pongs (``ping_pong``: demotions of pages promoted within the
        memory's ``ping_pong_window_ms``).
    clock : callable, optional
        Returns the current time in jiffies for the threads; default the
        monotonic clock at the tracker's ``hz``.

    Raises
    ------
    TypeError, ValueError
        A bad argument (named in the message); ValueError also when the
        memory was not built with this tracker, or ``threshold_adjust``
        without a rate limit.

    Examples
    --------
    >>> import pghot
    >>> from pghot.machine.memory import TieredMemory
    >>> topo = pghot.Topology.two_tier(64, 256)
    >>> tracker = pghot.Tracker(topo)
    >>> p = Promoter(tracker, TieredMemory(topo, tracker), rate_limit_mbps=None)
    >>> p.interval_ms, p.batch, p.rate_limit_mbps, p.threshold(0)
    (20, 1024, None, 2)
    """

    def __init__(
        self,
        tracker: Any,
        memory: TieredMemory,
        *,
        interval_ms: SupportsIndex = 20,
        batch: SupportsIndex = 1024,
        rate_limit_mbps: SupportsIndex | None = 65536,
        threshold_adjust: bool = False,
        adjust_period_ms: SupportsIndex = 60000,
        free_bypass: bool = False,
        bypass_free_pages: SupportsIndex | None = None,
        stale_check: bool = False,
        throttle_demotion_ratio: SupportsIndex | None = None,
        throttle_window_ms: SupportsIndex = 200,
        throttle_signal: str = "demotions",
        clock: Callable[[], int] | None = None,
    ) -> None:
        if not isinstance(memory, (TieredMemory, _ReferenceMemory)):
            raise TypeError(
                f"memory must be a pghot.machine.memory.TieredMemory, not {type(memory).__name__}"
            )
        if not hasattr(tracker, "extract_batch"):
            raise TypeError(f"tracker must be a pghot.Tracker, not {type(tracker).__name__}")
        if memory.tracker is not tracker:
            raise ValueError("memory: it was not built with this tracker")
        self._tracker = tracker
        self._memory = memory
        self._interval_ms = _int_arg(interval_ms, "interval_ms", *ARG_RANGES["interval_ms"])
        self._batch = _int_arg(batch, "batch", *ARG_RANGES["batch"])
        if rate_limit_mbps is None:
            self._rate_mbps: int | None = None
        else:
            self._rate_mbps = _int_arg(rate_limit_mbps, "rate_limit_mbps", *ARG_RANGES["rate_limit_mbps"])
        self._adjust = _bool_arg(threshold_adjust, "threshold_adjust")
        self._period_ms = _int_arg(adjust_period_ms, "adjust_period_ms", *ARG_RANGES["adjust_period_ms"])
        self._bypass = _bool_arg(free_bypass, "free_bypass")
        self._stale = _bool_arg(stale_check, "stale_check")
        if throttle_demotion_ratio is None:
            self._throttle: int | None = None
        else:
            self._throttle = _int_arg(
                throttle_demotion_ratio, "throttle_demotion_ratio", *ARG_RANGES["throttle_demotion_ratio"]
            )
        self._throttle_ms = _int_arg(
            throttle_window_ms, "throttle_window_ms", *ARG_RANGES["throttle_window_ms"]
        )
        if not isinstance(throttle_signal, str):
            raise TypeError(f"throttle_signal must be a str, not {type(throttle_signal).__name__}")
        if throttle_signal not in THROTTLE_SIGNALS:
            raise ValueError(
                f"throttle_signal must be one of {list(THROTTLE_SIGNALS)}, got {throttle_signal!r}"
            )
        self._throttle_signal = throttle_signal
        self._signal = THROTTLE_SIGNALS[throttle_signal]  # the memory counter it reads
        if self._adjust and self._rate_mbps is None:
            raise ValueError("threshold_adjust: needs a rate limit (rate_limit_mbps is None)")
        if clock is not None and not callable(clock):
            raise TypeError(f"clock must be callable, not {type(clock).__name__}")

        self._hz = int(tracker.hz)
        self._page = memory.page_size
        self._base = int(tracker.threshold)
        self._fmax = (1 << int(tracker.freq_bits)) - 1
        self._tmask = (1 << int(tracker.time_bits)) - 1
        self._window = int(tracker.window_jiffies)
        self._period_j = ms_to_jiffies(self._period_ms, self._hz)
        self._throttle_j = ms_to_jiffies(self._throttle_ms, self._hz)
        self._max_level = max(self._batch.bit_length() - 1, 0)
        # Rate credit in units of 1 / (1000 * hz) byte (exact integers).
        self._page_cost = self._page * 1000 * self._hz
        if self._rate_mbps is None:
            self._rate_bps = 0
            self._round_credit = self._burst = 0
        else:
            self._rate_bps = self._rate_mbps * _MB
            self._round_credit = self._rate_bps * self._interval_ms * self._hz
            self._burst = self._round_credit + self._page_cost if self._rate_bps else 0
        topo = memory.topology
        self._bypass_pages = (
            None
            if bypass_free_pages is None
            else _int_arg(bypass_free_pages, "bypass_free_pages", *ARG_RANGES["bypass_free_pages"])
        )
        self._nodes: dict[int, _NodeState] = {}
        for nid in topo.toptier_nids():
            if self._bypass_pages is None:
                mark = max((1 << 30) // self._page, topo.node(nid).nr_pages // 16)
            else:
                mark = self._bypass_pages
            self._nodes[nid] = _NodeState(nid, self._round_credit, self._base, mark)
        # the compiled rounds (pghot._kpromoted) on a compiled memory and tracker; the
        # reference memory (or a Python tracker) runs _round below, their specification
        self._core: Any = None
        if isinstance(memory, TieredMemory) and isinstance(tracker, TrackerBase):
            self._core = PromoterCore(
                tracker,
                memory,
                list(self._nodes),
                [st.watermark for st in self._nodes.values()],
                self._batch,
                self._rate_mbps,
                self._interval_ms,
                self._adjust,
                self._period_j,
                self._bypass,
                self._stale,
                self._throttle,
                self._throttle_j,
                throttle_signal == "ping-pong",
            )
        self._index = {nid: j for j, nid in enumerate(self._nodes)}
        if clock is None:
            hz = self._hz
            self._clock: Callable[[], int] = lambda: time.monotonic_ns() * hz // 1_000_000_000
        else:
            self._clock = clock
        self._threads: list[threading.Thread] = []
        self._stop_event = threading.Event()
        self._errors: list[BaseException] = []
        self._control = threading.Lock()  # start/stop

    # -- properties -------------------------------------------------------------------

    @property
    def tracker(self) -> Any:
        """The tracker candidates come from."""
        return self._tracker

    @property
    def memory(self) -> TieredMemory:
        """The memory model pages move in."""
        return self._memory

    @property
    def interval_ms(self) -> int:
        """Milliseconds between rounds."""
        return self._interval_ms

    @property
    def batch(self) -> int:
        """Records extracted per round at most."""
        return self._batch

    @property
    def rate_limit_mbps(self) -> int | None:
        """Promotion rate limit in MiB/s, or None."""
        return self._rate_mbps

    @property
    def threshold_adjust(self) -> bool:
        """Whether the extraction threshold follows the rate limit."""
        return self._adjust

    @property
    def adjust_period_ms(self) -> int:
        """Period of the threshold adjustment."""
        return self._period_ms

    @property
    def free_bypass(self) -> bool:
        """Whether plenty of free memory bypasses threshold and rate limit."""
        return self._bypass

    @property
    def stale_check(self) -> bool:
        """Whether candidates older than the window are dropped."""
        return self._stale

    @property
    def throttle_demotion_ratio(self) -> int | None:
        """Demotions, in percent of promotions, that throttle promotion; None: no throttle."""
        return self._throttle

    @property
    def throttle_window_ms(self) -> int:
        """Window of the demotion throttle."""
        return self._throttle_ms

    @property
    def throttle_signal(self) -> str:
        """What the throttle counts against the promotions: ``"demotions"`` or ``"ping-pong"``."""
        return self._throttle_signal

    def budget(self, nid: SupportsIndex) -> int:
        """Candidates a round of top-tier node ``nid`` may promote: ``batch >> level``.

        The batch unless the demotion throttle holds.

        Examples
        --------
        >>> import pghot
        >>> from pghot.machine.memory import TieredMemory
        >>> topo = pghot.Topology.two_tier(64, 256)
        >>> tracker = pghot.Tracker(topo)
        >>> Promoter(tracker, TieredMemory(topo, tracker), throttle_demotion_ratio=100).budget(0)
        1024
        """
        st = self._state(nid)
        with st.lock:
            if self._core is not None:
                return self._batch >> int(self._core.throttle_level(self._index[st.nid]))
            return self._batch >> st.level

    @property
    def running(self) -> bool:
        """Whether any promotion thread is alive (a thread that failed is not).

        >>> import pghot
        >>> from pghot.machine.memory import TieredMemory
        >>> topo = pghot.Topology.two_tier(64, 256)
        >>> tracker = pghot.Tracker(topo)
        >>> Promoter(tracker, TieredMemory(topo, tracker)).running
        False
        """
        return any(t.is_alive() for t in self._threads)

    # -- queries ----------------------------------------------------------------------

    def _state(self, nid: Any) -> _NodeState:
        n = _int_arg(nid, "nid", -(2**31), 2**31)
        st = self._nodes.get(n)
        if st is None:
            raise ValueError(f"nid: {n} is not a top-tier node")
        return st

    def threshold(self, nid: SupportsIndex) -> int:
        """Current extraction threshold of top-tier node ``nid``.

        The tracker's threshold unless the adjustment moved it.

        Examples
        --------
        >>> import pghot
        >>> from pghot.machine.memory import TieredMemory
        >>> topo = pghot.Topology.two_tier(64, 256)
        >>> tracker = pghot.Tracker(topo, threshold=3)
        >>> Promoter(tracker, TieredMemory(topo, tracker)).threshold(0)
        3
        """
        st = self._state(nid)
        with st.lock:
            if self._core is not None:
                return int(self._core.threshold(self._index[st.nid]))
            return st.threshold

    def now(self) -> int:
        """The threads' clock: current time in jiffies.

        Examples
        --------
        >>> import pghot
        >>> from pghot.machine.memory import TieredMemory
        >>> topo = pghot.Topology.two_tier(64, 256)
        >>> tracker = pghot.Tracker(topo)
        >>> p = Promoter(tracker, TieredMemory(topo, tracker), clock=lambda: 1234)
        >>> p.now()
        1234
        """
        return int(self._clock())

    def stats(self) -> dict[str, int]:
        """Counters summed over the top-tier nodes.

        ``kpromoted_rounds``, ``kpromoted_extracted`` (records taken from the
        tracker), ``kpromoted_non_lru``, ``kpromoted_right_node``,
        ``kpromoted_dropped`` (= ``kpromoted_stale`` +
        ``kpromoted_rate_limited`` + ``kpromoted_throttled``),
        ``kpromoted_migrated``, ``kpromoted_no_space``,
        ``kpromoted_bypass_rounds``, ``kpromoted_threshold_raised``,
        ``kpromoted_threshold_lowered``, ``kpromoted_throttled`` (candidates
        beyond the demotion throttle's budget), ``kpromoted_throttled_rounds``.
        Every extracted record ends in exactly one of stale, non-LRU, right
        node, throttled, rate limited, migrated or no space.

        Examples
        --------
        >>> import pghot
        >>> from pghot.machine.memory import TieredMemory
        >>> topo = pghot.Topology.two_tier(64, 256)
        >>> tracker = pghot.Tracker(topo)
        >>> p = Promoter(tracker, TieredMemory(topo, tracker))
        >>> _ = p.step(0)
        >>> p.stats()["kpromoted_rounds"], p.stats()["kpromoted_migrated"]
        (1, 0)
        """
        out = dict.fromkeys(_STAT_KEYS, 0)
        for st in self._nodes.values():
            with st.lock:
                counters = self._core.counters(self._index[st.nid]) if self._core is not None else st.counters
                for k, v in counters.items():
                    out[k] += v
        return out

    # -- rounds -----------------------------------------------------------------------

    def step(self, now: SupportsIndex, nid: SupportsIndex | None = None) -> int:
        """Run one round at time ``now`` (jiffies), deterministically.

        Parameters
        ----------
        now : int
            Current time in jiffies, ``>= 0``, not earlier than the node's
            previous round.
        nid : int, optional
            Top-tier node; default every top-tier node, in id order.

        Returns
        -------
        int
            Pages promoted.

        Raises
        ------
        ValueError
            ``now`` is negative or earlier than the node's previous round,
            or ``nid`` is not a top-tier node.

        Examples
        --------
        >>> import pghot
        >>> from pghot.machine.memory import TieredMemory
        >>> topo = pghot.Topology.two_tier(64, 256)
        >>> tracker = pghot.Tracker(topo)
        >>> mem = TieredMemory(topo, tracker)
        >>> pfns = mem.allocate([1, 2], node=1)
        >>> _ = tracker.record_accesses(pfns, -1, 0, 5)           # one access each
        >>> _ = tracker.record_accesses(pfns[:1], -1, 0, 6)       # page 1: two
        >>> p = Promoter(tracker, mem)
        >>> p.step(20), mem.node_of_page(1), mem.node_of_page(2)
        (1, 0, 1)
        """
        return int(self.run_round(now, nid).pfns.shape[0])

    def run_round(self, now: SupportsIndex, nid: SupportsIndex | None = None) -> Migrated:
        """Run one round at time ``now``, as :meth:`step`; return what it migrated.

        Returns
        -------
        Migrated
            The pages promoted, their former PFNs and their target nodes,
            node by node in id order, hottest first within a node.

        Examples
        --------
        >>> import pghot
        >>> from pghot.machine.memory import TieredMemory
        >>> topo = pghot.Topology.two_tier(64, 256)
        >>> tracker = pghot.Tracker(topo)
        >>> mem = TieredMemory(topo, tracker)
        >>> pfns = mem.allocate([1, 2], node=1)
        >>> _ = tracker.record_accesses(pfns, -1, 0, [5, 6])
        >>> _ = tracker.record_accesses(pfns, -1, 0, [7, 8])
        >>> m = Promoter(tracker, mem).run_round(20)
        >>> sorted(m.pages.tolist()), sorted(m.pfns.tolist()) == sorted(pfns.tolist()), m.nids.tolist()
        ([1, 2], True, [0, 0])
        """
        n = _int_arg(now, "now", 0)
        states = list(self._nodes.values()) if nid is None else [self._state(nid)]
        parts = []
        for st in states:
            with st.lock:
                parts.append(self._round(st, n))
        return Migrated.concat(parts)

    def _round(self, st: _NodeState, now: int) -> Migrated:
        """One round for ``st``'s node; the caller holds ``st.lock``."""
        if self._core is not None:  # the same round, compiled
            return Migrated(*self._core.round(self._index[st.nid], now))
        tr, mem, c = self._tracker, self._memory, st.counters
        if st.last_now is not None and now < st.last_now:
            raise ValueError(f"now: {now} is earlier than node {st.nid}'s previous round at {st.last_now}")
        elapsed = 0 if st.last_now is None else now - st.last_now
        st.last_now = now
        c["kpromoted_rounds"] += 1
        if self._rate_mbps is not None:
            st.credit = min(st.credit + self._rate_bps * elapsed * 1000, self._burst)
        if self._adjust:
            if st.period_start is None:
                st.period_start = now
            elif now - st.period_start >= self._period_j:
                self._adjust_threshold(st, now - st.period_start)
                st.period_start = now
                st.period_cand = 0
        if self._throttle is not None:
            self._sample_throttle(st, now)
        bypass = self._bypass and mem.free_pages(st.nid) > st.watermark
        if bypass:
            st.threshold = self._base
            c["kpromoted_bypass_rounds"] += 1

        recs = tr.extract_batch(st.nid, self._batch, st.threshold, return_records=True)
        c["kpromoted_extracted"] += len(recs)
        if len(recs) == 0:
            return Migrated.empty()
        pfns = recs["pfn"].astype(np.int64)
        if self._stale:
            age = (now - recs["last_update"].astype(np.int64)) & self._tmask
            stale = age > self._window
            nstale = int(stale.sum())
            if nstale:
                c["kpromoted_stale"] += nstale
                c["kpromoted_dropped"] += nstale
                pfns = pfns[~stale]
        status = mem.recheck(pfns, st.nid)
        n_by = np.bincount(status, minlength=_NSTATUS)  # one pass over the statuses
        c["kpromoted_non_lru"] += int(n_by[_NON_LRU])
        c["kpromoted_right_node"] += int(n_by[_RIGHT_NODE])
        cand = pfns[status == _OK] if n_by[_OK] != status.shape[0] else pfns
        mem.count_promote_candidates(cand.size, no_rate_limit=bypass)
        if not bypass:
            st.period_cand += cand.size
            if st.level:
                budget = self._batch >> st.level
                if cand.size > budget:
                    c["kpromoted_throttled_rounds"] += 1
                    c["kpromoted_throttled"] += cand.size - budget
                    c["kpromoted_dropped"] += cand.size - budget
                    cand = cand[:budget]
            if self._rate_mbps is not None:
                take = min(cand.size, st.credit // self._page_cost)
                st.credit -= take * self._page_cost
                limited = cand.size - take
                if limited:
                    c["kpromoted_rate_limited"] += limited
                    c["kpromoted_dropped"] += limited
                    cand = cand[:take]
        res, pages = mem.migrate_batch(cand, st.nid, now, return_pages=True)
        n_by = np.bincount(res, minlength=_NSTATUS)
        c["kpromoted_migrated"] += int(n_by[_OK])
        c["kpromoted_no_space"] += int(n_by[_NO_SPACE])
        c["kpromoted_non_lru"] += int(n_by[_NON_LRU])
        c["kpromoted_right_node"] += int(n_by[_RIGHT_NODE])
        ok = res == _OK
        moved = pages[ok]
        return Migrated(cand[ok], moved, np.full(moved.shape[0], st.nid, dtype=np.int32))

    def idle(self) -> bool:
        """Whether a round now would only count: nothing queued, no threshold adjustment or throttle.

        >>> import pghot
        >>> from pghot.machine.memory import TieredMemory
        >>> topo = pghot.Topology.two_tier(64, 256)
        >>> tracker = pghot.Tracker(topo)
        >>> Promoter(tracker, TieredMemory(topo, tracker)).idle()
        True
        """
        if self._adjust or self._throttle is not None:  # both keep time in their rounds' windows
            return False
        return all(int(self._tracker.queued(nid)) == 0 for nid in self._nodes)

    def idle_rounds(self, first: int, last: int, count: int) -> None:
        """``count`` rounds of every node from ``first`` to ``last``, known idle (:meth:`idle`).

        What running them does, at once: counted, the rate credit earned
        over the whole stretch (``min(c + a, B)`` applied round after round
        is ``min(c + sum, B)``), and with ``free_bypass`` each round's reset
        (the memory does not change in between).  The replay uses it for
        stretches without accesses (a trace of two accesses days apart has
        billions of rounds between them).

        >>> import pghot
        >>> from pghot.machine.memory import TieredMemory
        >>> topo = pghot.Topology.two_tier(64, 256)
        >>> tracker = pghot.Tracker(topo)
        >>> p = Promoter(tracker, TieredMemory(topo, tracker))
        >>> p.idle_rounds(20, 2 * 10**9, 10**8); p.stats()["kpromoted_rounds"]
        100000000
        """
        if self._core is not None:
            self._core.idle_rounds(first, last, count)
            return
        for st in self._nodes.values():
            with st.lock:
                elapsed = last - (first if st.last_now is None else st.last_now)
                st.last_now = last
                st.counters["kpromoted_rounds"] += count
                if self._rate_mbps is not None:
                    st.credit = min(st.credit + self._rate_bps * elapsed * 1000, self._burst)
                if self._bypass and self._memory.free_pages(st.nid) > st.watermark:
                    st.threshold = self._base
                    st.counters["kpromoted_bypass_rounds"] += count

    def _sample_throttle(self, st: _NodeState, now: int) -> None:
        """The demotion throttle's window: at its end, one step of the level (module docstring)."""
        s = self._memory.stats()
        demoted, promoted = s[self._signal], s["pgpromote_success"]
        if st.window_start is None:
            pass
        elif now - st.window_start >= self._throttle_j:
            d = demoted - st.window_demoted
            p = promoted - st.window_promoted
            assert self._throttle is not None
            if p > 0 and 100 * d >= self._throttle * p:
                st.level = min(st.level + 1, self._max_level)
            else:
                st.level = max(st.level - 1, 0)
        else:
            return
        st.window_start = now
        st.window_demoted = demoted
        st.window_promoted = promoted

    def _adjust_threshold(self, st: _NodeState, elapsed: int) -> None:
        """Compare the period's candidates with the rate limit; move one step."""
        # candidates * page_size bytes against rate_bps * elapsed / hz bytes
        load = st.period_cand * self._page * self._hz
        limit = self._rate_bps * elapsed
        if load * 10 > limit * 11:
            if st.threshold < self._fmax:
                st.threshold += 1
                st.counters["kpromoted_threshold_raised"] += 1
        elif load * 10 < limit * 9:
            if st.threshold > self._base:
                st.threshold -= 1
                st.counters["kpromoted_threshold_lowered"] += 1

    # -- threads ----------------------------------------------------------------------

    def start(self) -> None:
        """Start one ``kpromoted<nid>`` thread per top-tier node.

        Each sleeps ``interval_ms``, then runs a round at :meth:`now`, until
        :meth:`stop`.  The nodes' previous round times and adjustment
        periods are forgotten (the clock may differ from simulated time).

        Raises
        ------
        RuntimeError
            The threads are already running.

        Examples
        --------
        >>> import pghot
        >>> from pghot.machine.memory import TieredMemory
        >>> topo = pghot.Topology.two_tier(64, 256)
        >>> tracker = pghot.Tracker(topo)
        >>> p = Promoter(tracker, TieredMemory(topo, tracker))
        >>> p.start(); p.running
        True
        >>> p.stop(); p.running
        False
        """
        with self._control:
            if self._threads:
                raise RuntimeError("the promoter is already running")
            self._stop_event = threading.Event()
            self._errors = []
            for st in self._nodes.values():
                with st.lock:
                    st.last_now = None
                    st.period_start = None
                    st.period_cand = 0
                    st.window_start = None
            if self._core is not None:
                for st in self._nodes.values():
                    with st.lock:
                        self._core.forget_node(self._index[st.nid])
            try:
                for st in self._nodes.values():
                    th = threading.Thread(
                        target=self._run,
                        args=(st, self._stop_event),
                        name=f"kpromoted{st.nid}",
                        daemon=False,
                    )
                    th.start()
                    self._threads.append(th)
            except BaseException:
                # leave no thread behind when one cannot start
                self._stop_event.set()
                for th in self._threads:
                    th.join()
                self._threads = []
                raise

    def _run(self, st: _NodeState, stop: threading.Event) -> None:
        interval = self._interval_ms / 1000.0
        try:
            while not stop.wait(interval):
                now = int(self._clock())
                with st.lock:
                    self._round(st, now)
        except BaseException as exc:  # noqa: BLE001 -- re-raised by stop()
            self._errors.append(exc)

    def stop(self) -> None:
        """Stop and join the threads; idempotent.

        Raises
        ------
        RuntimeError
            A thread failed (the first exception is the cause); the threads
            are joined all the same.

        Examples
        --------
        >>> import pghot
        >>> from pghot.machine.memory import TieredMemory
        >>> topo = pghot.Topology.two_tier(64, 256)
        >>> tracker = pghot.Tracker(topo)
        >>> p = Promoter(tracker, TieredMemory(topo, tracker))
        >>> p.stop()                 # not running: nothing to do
        >>> p.start(); p.stop(); p.stop()
        """
        with self._control:
            self._stop_event.set()
            threads, self._threads = self._threads, []
            for th in threads:
                th.join()
            errors, self._errors = self._errors, []
        if errors:
            raise RuntimeError(f"a promoter thread failed: {errors[0]!r}") from errors[0]

    def __enter__(self) -> Promoter:
        """Start the threads (see :meth:`start`).

        >>> import pghot
        >>> from pghot.machine.memory import TieredMemory
        >>> topo = pghot.Topology.two_tier(64, 256)
        >>> tracker = pghot.Tracker(topo)
        >>> with Promoter(tracker, TieredMemory(topo, tracker)) as p:
        ...     p.running
        True
        >>> p.running
        False
        """
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (
            f"Promoter(nodes={list(self._nodes)}, interval_ms={self._interval_ms}, "
            f"batch={self._batch}, rate_limit_mbps={self._rate_mbps}, "
            f"threshold_adjust={self._adjust}, free_bypass={self._bypass}, "
            f"stale_check={self._stale}, throttle_demotion_ratio={self._throttle}, "
            f"running={self.running})"
        )
