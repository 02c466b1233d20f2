"""The kernel's alternatives to pghot, as replay policies: ``numab2`` and ``tpp``.

Both act in the hint-fault path: they see the replay's hint-fault reports
(the ``hint-fault`` source, :class:`pghot.machine.sources.HintFault`) and
decide at each fault, at the fault's time, whether to promote the faulting
page, as the kernel's ``do_numa_page`` does in the faulting thread.  A
replay without a ``hint-fault`` source gives them nothing to act on.

The scanner of the replay unmaps every page, whatever its tier (one scanner
serves every policy); in tiering mode the kernel's scanner skips the
top-tier pages (``change_pte_range``: ``NUMA_BALANCING_NORMAL`` unset and
the node in the top tier), so the policies here ignore the faults of
top-tier pages, as if those had not been taken.

They follow the replay's policy interface (:class:`pghot.sim.policies._Policy`):
``segment`` serves the accesses and the reports in time order (the accesses
up to a report's time are served before the policy acts on the report, so
a promotion counts from the next access on), ``step`` runs a periodic round
(TPP's kswapd), ``stats`` gives their counters.  Each policy's loop over the
reports (``fault_loop``) is its specification, run on the reference memory
(``engine="reference"``); on the compiled memory one ``nogil`` kernel runs
the same loop (:meth:`pghot._memory.MemoryCore.fault_path`), and
tests/test_sim_engines.py requires the same result from both.

On a machine of several top-tier nodes (``SimConfig.topology``) a fault
promotes to its accessing node (the report's node, or that node's
promotion target), as the kernel's ``do_numa_page`` migrates to the
faulting CPU's node, and numab2's free-space bypass looks at that node; but
numab2's rate limit and threshold are one state for the machine (the
kernel keeps them per target node's ``pglist_data``), and TPP's kswapd keeps
the headroom of the default node only (the kernel runs one per node): on
the other top-tier nodes a promotion into a full node demotes its CLOCK
victim on the way, as on a node without kswapd headroom.  First touch is
the accessing node's, as for every policy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pghot._types import Source
from pghot._validate import ms_to_jiffies
from pghot.machine.memory import MigrateStatus
from pghot.machine.sources import Reports
from pghot.sim.config import Numab2Config, TppConfig
from pghot.sim.policies import _NO_ROUND, Machine, _Policy

__all__ = ["ALTERNATIVES", "NUMAB2_DEFAULTS", "TPP_DEFAULTS", "Numab2", "Tpp"]

_HINT_FAULT = int(Source.HINT_FAULT)
_OK = int(MigrateStatus.OK)
_NO_SPACE = int(MigrateStatus.NO_SPACE)
#: :class:`Numab2`'s defaults (the sysctls' defaults; its docstring gives each source)
NUMAB2_DEFAULTS: dict[str, Any] = {
    "hot_threshold_ms": 1000,
    "rate_limit_mbps": 65536,
    "threshold_adjust": True,
    "adjust_period_ms": 60000,
}
#: :class:`Tpp`'s defaults (its docstring gives each source)
TPP_DEFAULTS: dict[str, Any] = {"demote_scale_factor": 200, "kswapd_interval_ms": 20, "active_check": True}
#: NUMA_MIGRATION_ADJUST_STEPS (kernel/sched/fair.c)
_ADJUST_STEPS = 16
#: the rate limit's window, MSEC_PER_SEC (numa_promotion_rate_limit)
_RATE_WINDOW_MS = 1000
#: report times from which the compiled kernel's ms conversion could overflow (the loop runs)
_KERNEL_TIME_LIMIT = 2**62 // 1000
_I64_MAX = 2**63 - 1
_NUMAB2_COUNTERS = (
    "hint_faults",
    "free_space_promotions",
    "latency_refused",
    "rate_limited",
    "promote_no_space",
    "threshold_raised",
    "threshold_lowered",
)
_TPP_COUNTERS = ("hint_faults", "activated", "promote_no_space")


def _knobs(cls: Any, machine: Machine, key: str, given: dict[str, Any]) -> Any:
    """The policy's knobs: the config's table, then ``given``; errors name the key."""
    table = getattr(machine.config, key)
    try:
        return cls.from_mapping({**table.kwargs(), **given})
    except (TypeError, ValueError) as e:
        raise type(e)(f"config: {key}: {e}") from None


class _FaultPath(_Policy):
    """A policy acting on each hint fault at its time: the accesses before it are served first."""

    #: promotions in the faulting thread, one page at a time (their migration cost)
    fault_path = True

    def __init__(self, name: str, machine: Machine, description: str) -> None:
        super().__init__(name, machine, description)
        self.hz = machine.config.hz
        self.counters: dict[str, int] = {}
        self._pages = np.zeros(0, dtype=np.uint32)
        self._times = np.zeros(0, dtype=np.int64)
        self._pos = 0

    def segment(self, pages: np.ndarray, times: np.ndarray, reps: Reports) -> None:
        """Serve the accesses and act on the hint faults, in time order.

        :meth:`fault_loop` (with :meth:`_serve_until`) is the specification,
        which the reference engine runs; on the compiled memory one kernel
        runs the same loop (:meth:`pghot._memory.MemoryCore.fault_path`).
        """
        if reps.pfns.shape[0] == 0:
            self.serve(pages, times)
            return
        if self.compiled and int(reps.nows.max()) < _KERNEL_TIME_LIMIT:
            self._kernel(pages, times, reps)
            return
        self._pages, self._times, self._pos = pages, times, 0
        self.fault_loop(reps)
        self._serve_until(None)

    def _kernel(self, pages: np.ndarray, times: np.ndarray, reps: Reports) -> None:
        policy, params, state, counters, active = self._pack()
        n = reps.pfns.shape[0]
        moved = np.empty(n, dtype=np.int64)
        when = np.empty(n, dtype=np.int64)
        hits, k = self.mem.fault_path(
            pages,
            times,
            self.bin_j,
            self.hit_bins,
            reps.pfns,
            reps.nows,
            reps.srcs,
            reps.latencies(),
            policy,
            params,
            state,
            counters,
            active,
            self.target,
            moved,
            when,
            self._targets(reps),
        )
        self.hits += hits
        self._unpack(state, counters)
        if k:
            self.pending.append(moved[:k])
            np.add.at(self.promo_bins, when[:k] // self.bin_j, 1)

    def _pack(self) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def _unpack(self, state: np.ndarray, counters: np.ndarray) -> None:  # pragma: no cover
        raise NotImplementedError

    def _serve_until(self, t: int | None) -> None:
        """Serve the segment's accesses up to time ``t`` (included; None: all of them)."""
        times = self._times
        if self._pos >= times.shape[0] or (t is not None and times[self._pos] > t):
            return
        j = times.shape[0] if t is None else int(np.searchsorted(times, t, side="right"))
        if j > self._pos:
            self.serve(self._pages[self._pos : j], times[self._pos : j])
            self._pos = j

    def _lower_pfn(self, page: int, t: int) -> int:
        """The PFN of ``page`` at time ``t`` when it is on the lower tier, else -1."""
        pfn = int(self.mem.pfn_of(page))
        if pfn < 0:  # first touched in this segment: place it
            self._serve_until(t)
            pfn = int(self.mem.pfn_of(page))
        return pfn if pfn >= self.top else -1

    def _promote(self, pfn: int, t: int, target: int | None = None) -> int:
        """Migrate the page on ``pfn`` to node ``target`` (None: the default) at ``t``; the status."""
        self._serve_until(t)
        status, moved = self.mem.migrate_batch(
            np.array([pfn], dtype=np.int64), self.target if target is None else target, t, return_pages=True
        )
        code = int(status[0])
        if code == _OK:
            self._promoted(moved, t)
        return code

    def _ms(self, t: int) -> int:
        """``jiffies_to_msecs``: rounded up (exact at the default HZ=1000)."""
        return -(-t * 1000 // self.hz)

    def fault_loop(self, reps: Reports) -> None:  # pragma: no cover - the subclasses'
        raise NotImplementedError

    def memory_bytes(self) -> int | None:
        return 0  # the state is in struct page (the access time, the LRU flags)

    def stats(self) -> dict[str, dict[str, int]]:
        return {"memory": self.mem.stats(), self.kind: dict(self.counters)}


class Numab2(_FaultPath):
    """Mainline NUMA balancing in tiering mode (``NUMA_BALANCING_MEMORY_TIERING``).

    The policy that pghot v2's patch 8/8 moves into kpromoted, here in the
    hint-fault path where mainline runs it: ``should_numa_migrate_memory``
    (kernel/sched/fair.c) for a page on a lower tier faulting on the top
    tier, in this order:

    1. ``pgdat_free_space_enough``: when the top tier has more than
       ``free_enough_pages`` free pages the page is promoted without a
       threshold or rate limit (``pgpromote_candidate_nrl``) and the adjusted
       threshold is reset ("workload changed").
    2. ``numa_promotion_adjust_threshold`` (with ``threshold_adjust``): once
       more than ``adjust_period_ms`` has passed since the period began, the
       period's candidates are compared with ``rate_limit * period / 1 s``
       pages: above 110 % the threshold drops one step (tighter), below 90 %
       it rises one (looser); a step is ``2 * hot_threshold_ms / 16``, the
       threshold stays in ``[step, 2 * hot_threshold_ms]``.
    3. ``numa_hint_fault_latency``: the fault's time minus the time of the
       scan that unmapped the page (``Reports.latency``), in ms; a latency at
       or above the threshold is no candidate (``latency_refused``).
    4. ``numa_promotion_rate_limit``: the candidate is counted
       (``pgpromote_candidate``); in a window that restarts at the first
       candidate more than 1 s after the window's start, once the window's
       candidates reach ``rate_limit_mbps`` MB worth of pages every further
       one is refused (``rate_limited``).
    5. The page is migrated at the fault's time (``migrate_misplaced_folio``).

    Knobs (the ``[numab2]`` table, :class:`pghot.sim.config.Numab2Config`):

    ``hot_threshold_ms``
        1000, ``sysctl_numa_balancing_hot_threshold``
        (``/sys/kernel/debug/sched/numa_balancing/hot_threshold_ms``).
    ``rate_limit_mbps``
        65536, ``sysctl_numa_balancing_promote_rate_limit``
        (``/proc/sys/kernel/numa_balancing_promote_rate_limit_MBps``),
        turned into pages as ``MB_TO_PAGES``.
    ``threshold_adjust``
        True: mainline always adjusts in tiering mode; False keeps the
        threshold fixed (an ablation, no kernel setting).
    ``adjust_period_ms``
        60000, ``sysctl_numa_balancing_scan_period_max``, the adjustment's
        period and the span of its reference count.
    ``free_enough_pages``
        ``max(1 GiB / page_size, node pages / 16)`` per top-tier node,
        ``pgdat_free_space_enough``'s ``enough_wmark``; a value given is every
        node's.

    Each top-tier node has its own threshold, adjustment period, rate-limit
    window and candidate count (the kernel keeps them in the target node's
    ``pglist_data``: ``nbp_threshold``, ``nbp_th_start``, ``nbp_rl_start``,
    ``PGPROMOTE_CANDIDATE``), so that on a machine of several sockets each
    socket's promotions are limited and tuned by their own rate; a fault
    promotes to its report's accessing node.

    Simplifications: the promotion watermark that ``pgdat_free_space_enough``
    adds to the margin is 0 (the memory has no watermarks); the times are
    full-width (the kernel keeps the scan time in the folio's
    ``_last_cpupid`` bits, ``PAGE_ACCESS_TIME_MASK``, and its ms counters
    wrap); a promotion to a full top tier demotes the memory's CLOCK victim
    at once (the kernel's ``migrate_balanced_pgdat`` refuses it and wakes
    kswapd), as for every policy of the replay.

    Examples
    --------
    >>> from pghot.sim import SimConfig
    >>> from pghot.sim.policies import build_machine
    >>> from pghot.topology import Topology
    >>> m = build_machine(SimConfig(), Topology.two_tier(2, 8), logical_pages=4, bin_jiffies=1000)
    >>> p = Numab2("numab2", m, hot_threshold_ms=10)
    >>> pages, times = np.array([0, 1, 2, 3], np.uint32), np.array([0, 1, 2, 3], np.int64)
    >>> p.serve(pages, times)                     # 0, 1 on the top tier, 2, 3 below
    >>> reps = Reports(np.array([2, 3], np.uint64), np.zeros(2, np.int32), np.full(2, 2, np.int8),
    ...                np.array([50, 60], np.int64), np.array([5, 20], np.int64))
    >>> p.segment(pages[:0], times[:0], reps)     # latency 5 ms < 10: promoted; 20 ms: not
    >>> [int(x) for x in np.concatenate(p.pending)], p.counters["latency_refused"]
    ([2], 1)
    """

    kind = "numab2"

    def __init__(self, name: str, machine: Machine, **knobs: Any) -> None:
        k = _knobs(Numab2Config, machine, "numab2", knobs)
        d = NUMAB2_DEFAULTS
        self.hot_threshold_ms = int(k.get("hot_threshold_ms", d["hot_threshold_ms"]))
        self.rate_limit_mbps = int(k.get("rate_limit_mbps", d["rate_limit_mbps"]))
        self.threshold_adjust = bool(k.get("threshold_adjust", d["threshold_adjust"]))
        self.adjust_period_ms = int(k.get("adjust_period_ms", d["adjust_period_ms"]))
        page_size = machine.config.page_size
        enough = k.get("free_enough_pages")
        #: the top-tier nodes, by nid (the compiled memory's node index order): each has
        #: its own state, as the kernel's per-pgdat nbp_* fields and PGPROMOTE_CANDIDATE
        topology = machine.memory.topology
        self._tops = sorted(topology.toptier_nids())
        self._index = {nid: i for i, nid in enumerate(self._tops)}
        pages_of = {n.nid: n.nr_pages for n in topology.nodes}
        #: pgdat_free_space_enough's enough_wmark per top-tier node: max(1 GiB, the node's pages / 16)
        self._enough = [
            int(enough) if enough is not None else max((1 << 30) // page_size, pages_of[nid] >> 4)
            for nid in self._tops
        ]
        self.free_enough_pages = self._enough[self._index.get(machine.target_nid, 0)]
        adjust = "adjusted" if self.threshold_adjust else "fixed"
        super().__init__(
            name,
            machine,
            f"NUMA balancing, tiering mode: promote at a hint fault of latency < {self.hot_threshold_ms} ms "
            f"({adjust}), rate limit {self.rate_limit_mbps} MB/s",
        )
        #: MB_TO_PAGES(rate_limit_mbps)
        self.rate_limit_pages = (self.rate_limit_mbps << 20) // page_size
        # per top-tier node, pgdat's nbp_* fields (0 at boot, as the replay's clock): threshold
        # (ms, 0: the default), th_start (ms), th_nr_cand, rl_start (ms), rl_nr_cand, nr_cand
        # (the node's PGPROMOTE_CANDIDATE), and whether its free pages may still be "enough"
        # (they never grow here, no proactive demotion: once not enough, never again)
        self._st = [[0, 0, 0, 0, 0, 0, int(pages_of[nid] > e)] for nid, e in zip(self._tops, self._enough)]
        self._counted = 0  # of the nodes' nr_cand, added to the memory's pgpromote_candidate
        self.counters = dict.fromkeys(_NUMAB2_COUNTERS, 0)
        ref_cand = self.rate_limit_pages * self.adjust_period_ms // 1000
        self._params = np.array(
            [
                self.hot_threshold_ms,
                self.rate_limit_pages,
                int(self.threshold_adjust),
                self.adjust_period_ms,
                0,  # (the margins follow, one per top-tier node)
                self.hz,
                min(ref_cand * 11 // 10, _I64_MAX),  # the adjustment's bounds, as its comparisons
                min(ref_cand * 9 // 10, _I64_MAX),
                *self._enough,
            ],
            dtype=np.int64,
        )
        self._no_active = np.zeros(0, dtype=np.uint8)

    @property
    def threshold(self) -> int:
        """The adjusted threshold (ms, 0: the default) of the default target node."""
        return int(self._st[self._index.get(self.target, 0)][0])

    @property
    def nr_cand(self) -> int:
        """The promotion candidates counted, summed over the top-tier nodes."""
        return sum(int(st[5]) for st in self._st)

    def _pack(self) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The kernel's arguments: policy 0, params, state (7 per top-tier node), counters, no flags."""
        state = np.array(self._st, dtype=np.int64).reshape(-1)
        counters = np.array([self.counters[k] for k in _NUMAB2_COUNTERS], dtype=np.int64)
        return 0, self._params, state, counters, self._no_active

    def _unpack(self, state: np.ndarray, counters: np.ndarray) -> None:
        self._st = state.reshape(len(self._tops), 7).tolist()
        self._counted = self.nr_cand  # the kernel counted its candidates in the memory
        self.counters.update(zip(_NUMAB2_COUNTERS, counters.tolist(), strict=True))

    def fault_loop(self, reps: Reports) -> None:
        c = self.counters
        pages, nows, lats = reps.pfns.tolist(), reps.nows.tolist(), reps.latencies().tolist()
        tg = self._targets(reps)
        targets = [self.target] * len(pages) if tg is None else tg.tolist()
        for i in np.flatnonzero(reps.srcs == _HINT_FAULT).tolist():
            t = nows[i]
            pfn = self._lower_pfn(pages[i], t)
            if pfn < 0:
                continue  # on the top tier: the tiering scanner leaves those mapped
            c["hint_faults"] += 1
            now_ms = self._ms(t)
            k = self._index[targets[i]]
            st = self._st[k]  # the target node's pgdat
            if st[6]:
                self._serve_until(t)
                if self.mem.free_pages(targets[i]) > self._enough[k]:
                    st[0] = 0
                    self.mem.count_promote_candidates(1, no_rate_limit=True)
                    c["free_space_promotions"] += 1
                    self._migrate(pfn, t, targets[i])
                    continue
                st[6] = 0
            if self.threshold_adjust:
                self._adjust_threshold(st, now_ms)
            th = st[0] or self.hot_threshold_ms
            lat = lats[i]
            if lat < 0 or now_ms - self._ms(t - lat) >= th:
                c["latency_refused"] += 1
                continue
            if self._rate_limited(st, now_ms):
                c["rate_limited"] += 1
                continue
            self._migrate(pfn, t, targets[i])
        # the segment's candidates into the memory's pgpromote_candidate, in one call
        total = self.nr_cand
        if total > self._counted:
            self.mem.count_promote_candidates(total - self._counted)
            self._counted = total

    def _migrate(self, pfn: int, t: int, target: int) -> None:
        if self._promote(pfn, t, target) == _NO_SPACE:
            self.counters["promote_no_space"] += 1

    def _adjust_threshold(self, st: list[int], now_ms: int) -> None:
        """``numa_promotion_adjust_threshold`` of one node's state ``st``."""
        if now_ms - st[1] <= self.adjust_period_ms:
            return
        st[1] = now_ms
        ref_cand = self.rate_limit_pages * self.adjust_period_ms // 1000
        diff_cand = st[5] - st[2]
        unit_th = self.hot_threshold_ms * 2 // _ADJUST_STEPS
        th = st[0] or self.hot_threshold_ms
        if diff_cand > ref_cand * 11 // 10:
            th = max(th - unit_th, unit_th)
            self.counters["threshold_lowered"] += 1
        elif diff_cand < ref_cand * 9 // 10:
            th = min(th + unit_th, self.hot_threshold_ms * 2)
            self.counters["threshold_raised"] += 1
        st[2] = st[5]
        st[0] = th

    def _rate_limited(self, st: list[int], now_ms: int) -> bool:
        """``numa_promotion_rate_limit`` of one node: count the candidate; is the window's limit reached?"""
        st[5] += 1
        if now_ms - st[3] > _RATE_WINDOW_MS:
            st[3] = now_ms
            st[4] = st[5]
        return st[5] - st[4] >= self.rate_limit_pages

    def stats(self) -> dict[str, dict[str, int]]:
        out = super().stats()
        out[self.kind]["threshold_ms"] = self.threshold or self.hot_threshold_ms
        if len(self._tops) > 1:  # each node's own (the kernel's per-pgdat nbp_threshold)
            for nid, st in zip(self._tops, self._st):
                out[self.kind][f"node{nid}_threshold_ms"] = int(st[0]) or self.hot_threshold_ms
                out[self.kind][f"node{nid}_candidates"] = int(st[5])
        return out


class Tpp(_FaultPath):
    """TPP (Maruf et al., "TPP: Transparent Page Placement for CXL-Enabled
    Tiered-Memory", ASPLOS 2023): LRU-based promotion, proactive demotion.

    - **Promotion** (the paper's section 5.3, "active LRU-based hot page
      detection"): NUMA-balancing hint faults on lower-tier pages only.  A
      faulting page on the lower tier's active LRU list is promoted; one on
      the inactive list is activated instead and promoted at its next fault
      (``activated``), so a page must fault twice, a scan period apart at
      least, to move up.  The lists are modelled per page in the policy: a
      page enters the lower tier inactive (first touch there, or demotion:
      reclaim demotes from the inactive list) and a promotion takes it off
      the lower tier's lists.  ``active_check=False`` promotes at the first
      fault (the paper's comparison without the LRU check).
    - **Demotion** (section 5.2, "decoupling allocation and reclamation"):
      kswapd keeps a free headroom on each top-tier node: woken every
      ``kswapd_interval_ms`` (default 20), when fewer than the demotion
      watermark's pages are free it demotes the memory's CLOCK victims until
      the watermark is free again (``demoted``,
      :meth:`pghot.machine.memory.TieredMemory.demote`).  The demotion
      watermark is ``demote_scale_factor`` (default 200, in 0.01 % of the
      node: 2 %, the paper's default, ``/proc/sys/vm/demote_scale_factor``)
      of the node's pages, above the allocation watermark, which the memory's
      first-touch allocation takes as 0 (a new page goes to the top tier
      while it has a free page).

    Simplifications: kswapd is woken periodically rather than by the
    allocation that crosses the watermark (the period is the model's, not a
    kernel constant); the lower tier's lists never age (no reclaim runs on
    the lower tier while it has room, so an active page stays active); a
    promotion to a full top tier demotes the CLOCK victim at once, as for
    every policy of the replay; TPP's page-type-aware allocation (file
    cache to the lower tier) has no counterpart in a trace of anonymous
    accesses.

    Examples
    --------
    >>> from pghot.sim import SimConfig
    >>> from pghot.sim.policies import build_machine
    >>> from pghot.topology import Topology
    >>> m = build_machine(SimConfig(), Topology.two_tier(2, 8), logical_pages=4, bin_jiffies=1000)
    >>> p = Tpp("tpp", m)
    >>> pages, times = np.array([0, 1, 2, 3], np.uint32), np.array([0, 1, 2, 3], np.int64)
    >>> p.serve(pages, times)                     # 0, 1 on the top tier, 2, 3 below
    >>> fault = lambda page, t: Reports(np.array([page], np.uint64), np.zeros(1, np.int32),
    ...                                 np.full(1, 2, np.int8), np.array([t], np.int64))
    >>> p.segment(pages[:0], times[:0], fault(2, 10))     # inactive: activated
    >>> p.pending, p.counters["activated"]
    ([], 1)
    >>> p.segment(pages[:0], times[:0], fault(2, 20))     # active: promoted
    >>> [int(x) for x in np.concatenate(p.pending)]
    [2]
    """

    kind = "tpp"

    def __init__(self, name: str, machine: Machine, **knobs: Any) -> None:
        k = _knobs(TppConfig, machine, "tpp", knobs)
        d = TPP_DEFAULTS
        self.demote_scale_factor = int(k.get("demote_scale_factor", d["demote_scale_factor"]))
        self.kswapd_interval_ms = int(k.get("kswapd_interval_ms", d["kswapd_interval_ms"]))
        self.active_check = bool(k.get("active_check", d["active_check"]))
        #: free pages each top-tier node's kswapd restores: the node's demotion watermark
        #: (``demote_scale_factor`` of the node's pages; the kernel's watermarks are per zone)
        topology = machine.memory.topology
        self._wmarks = {
            n.nid: -(-n.nr_pages * self.demote_scale_factor // 10000) for n in topology.nodes if n.toptier
        }
        #: the default node's (the whole top tier's on the two-tier machine)
        self.demote_wmark = self._wmarks.get(machine.target_nid, 0)
        check = "promote on the active LRU" if self.active_check else "promote at every fault"
        super().__init__(
            name,
            machine,
            f"TPP: hint faults on the lower tier, {check}; keep "
            f"{self.demote_scale_factor / 100:g} % of each top-tier node free "
            f"({sum(self._wmarks.values())} pages)",
        )
        self.active = np.zeros(machine.memory.logical_pages, dtype=bool)
        self.round_j = ms_to_jiffies(self.kswapd_interval_ms, machine.clock.hz)
        self.next_round = self.round_j if any(self._wmarks.values()) else _NO_ROUND
        self.counters = dict.fromkeys((*_TPP_COUNTERS, "kswapd_wakeups", "demoted"), 0)
        self._params = np.array([int(self.active_check)], dtype=np.int64)
        self._no_state = np.zeros(0, dtype=np.int64)

    def _pack(self) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The kernel's arguments: policy 1, params, no state, counters, the active flags (shared)."""
        counters = np.array([self.counters[k] for k in _TPP_COUNTERS], dtype=np.int64)
        return 1, self._params, self._no_state, counters, self.active.view(np.uint8)

    def _unpack(self, state: np.ndarray, counters: np.ndarray) -> None:
        self.counters.update(zip(_TPP_COUNTERS, counters.tolist(), strict=True))

    def fault_loop(self, reps: Reports) -> None:
        c = self.counters
        active = self.active
        pages, nows = reps.pfns.tolist(), reps.nows.tolist()
        tg = self._targets(reps)
        for i in np.flatnonzero(reps.srcs == _HINT_FAULT).tolist():
            page, t = pages[i], nows[i]
            pfn = self._lower_pfn(page, t)
            if pfn < 0:
                continue  # on the top tier: only lower-tier pages are sampled
            c["hint_faults"] += 1
            if self.active_check and not active[page]:
                active[page] = True  # folio_mark_accessed: onto the active list
                c["activated"] += 1
                continue
            code = self._promote(pfn, t, None if tg is None else int(tg[i]))
            if code == _OK:
                active[page] = False  # off the lower tier's lists
            elif code == _NO_SPACE:
                c["promote_no_space"] += 1

    def step(self, now: int) -> None:
        """kswapd of each top-tier node (by nid): restore the node's demotion watermark's free pages."""
        for nid, wmark in self._wmarks.items():
            free = int(self.mem.free_pages(nid))
            if free < wmark:
                self.counters["kswapd_wakeups"] += 1
                self.counters["demoted"] += int(self.mem.demote(nid, wmark - free, now).shape[0])


#: the alternatives' policy classes by name: ``cls(name, machine, **knobs)``
ALTERNATIVES: dict[str, type[Numab2] | type[Tpp]] = {"numab2": Numab2, "tpp": Tpp}
