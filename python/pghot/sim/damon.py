"""DAMON-based tiering as a replay policy: DAMOS ``migrate_hot`` / ``migrate_cold`` over regions.

The policy follows the kernel's memory-tiering sample, ``samples/damon/mtier.c``
(Linux v6.14, where ``DAMOS_MIGRATE_HOT``/``DAMOS_MIGRATE_COLD`` and the
``DAMOS_QUOTA_NODE_MEM_USED_BP``/``_FREE_BP`` quota goals it uses first appear
together): one DAMON context per node of the physical address space
(``paddr`` operations), the lower-tier node's scheme promoting its hot
regions to node 0, node 0's scheme demoting its cold regions to the lower
tier, and quota goals on node 0's memory use steering both.

DAMON's monitoring (mm/damon/core.c, ``kdamond_fn``), per sampling interval:

1. ``check_accesses`` (paddr.c ``damon_pa_check_accesses``): each region's
   sampled page is looked at; its accessed bit set since the last sampling
   adds 1 to the region's ``nr_accesses``.  Here a page's accessed bit is set
   by each access of the trace to it and cleared where the kernel clears it
   (``damon_pa_mkold`` of the new sampled page; the ``young`` filter).
2. At each aggregation interval: ``kdamond_merge_regions`` (threshold
   ``max_nr_accesses / 10``, doubled while the regions exceed
   ``max_nr_regions``), whose ``damon_merge_regions_of`` ages each region
   (``age`` reset when ``|nr_accesses - last_nr_accesses|`` exceeds the
   threshold, else incremented) and merges neighbours whose ``nr_accesses``
   differ by at most the threshold and whose size stays within
   ``damon_region_sz_limit`` (the monitored size over ``min_nr_regions``),
   the merged counts and ages the size-weighted means
   (``damon_merge_two_regions``).
3. The schemes whose apply interval passed (``kdamond_apply_schemes``).
4. At each aggregation interval: ``kdamond_reset_aggregated``
   (``last_nr_accesses = nr_accesses; nr_accesses = 0``) and
   ``kdamond_split_regions``: while the regions number at most
   ``max_nr_regions / 2``, each region of more than two pages is split in 2
   (in 3 when the count did not change since the last split and is below
   ``max_nr_regions / 3``), each left part 10 % to 90 % of the region at
   random (``damon_split_regions_of``), the parts keeping the counts and age.
5. ``prepare_access_checks``: a new random sampled page per region, its
   accessed bit cleared.

A scheme (``damon_do_apply_schemes``, ``damos_apply_scheme``) acts on the
regions matching its access pattern (size, ``nr_accesses``, ``age``), within
its quota (none with ``quota_sz_bytes`` 0 and no goals): ``damos_adjust_quota``
starts a charge window every ``quota_reset_interval_ms``, sets the effective size quota ``esz``
(``damos_set_effective_quota``) and ranks the regions by
``damon_hot_score`` (``migrate_hot``) or ``damon_cold_score``
(``migrate_cold``, mm/damon/ops-common.c: weighted access frequency and
log2 age, 0..99); the regions scoring at least the lowest score whose
cumulated size reaches ``esz`` are applied in address order, each charged its
size, the last one cut at the quota's remainder (page-aligned; the kernel
splits the region there, the model keeps it whole), none once the quota is
used up.  With quota goals, ``esz`` follows
``damon_feed_loop_next_input``: the goal's score (current / target in
basis points times 10000) under 10000 grows ``esz_bp`` by ``esz_bp * (10000
- score) / 10000``, over it shrinks it likewise (at least 10000, i.e. 1 byte;
back to the minimum at twice the goal), ``esz = esz_bp / 10000`` capped at
``quota_sz_bytes``.  The feedback starts at 1 byte, so with the goals on a
short trace may end before the quota reaches one page: the replay's notes
then say so (:func:`why_no_promotion`) and name the knob.

Knobs (``[damon]``, :class:`pghot.sim.config.DamonConfig`), defaults from
mtier.c (v6.14) unless said: ``sample_us`` 5000, ``aggr_us`` 100000,
``min_nr_regions`` 10, ``max_nr_regions`` 1000 (``damon_attrs``),
``apply_interval_us`` 1000000 (both schemes), ``quota_reset_interval_ms``
1000, ``quota_sz_bytes`` 200 MiB ("200 MiB per sec by most"), weights
``weight_nr_accesses`` 100, ``weight_age`` 100 (size weight 0),
``hot_min_nr_accesses`` 1 (mtier's ``min_nr_accesses = promote ? 1 : 0``),
``cold_max_nr_accesses`` 0, ``cold_min_age`` 0 (aggregation intervals;
mtier: 0), ``young_filter`` true (mtier's ``DAMOS_FILTER_TYPE_YOUNG``:
promote only young pages, demote only old ones), ``quota_goals`` true,
``hot_goal_bp`` 9970 (``NODE_MEM_USED_BP`` of node 0: 99.7 % used) and
``cold_goal_bp`` 50 (``NODE_MEM_FREE_BP`` of node 0: 0.5 % free),
``seed`` 0 (the random splits and sampled pages).

Simplifications: the regions of a node start as ``min_nr_regions`` equal
parts (v6.14's paddr starts with one region and lets the splits grow it);
times are in jiffies (an interval shorter than a jiffy is one jiffy); the
lower tier's nodes are each a context promoting to node 0, each top-tier
node a context demoting to its first demotion target with room, every goal
measured on node 0; a promotion to a full top tier demotes the memory's
CLOCK victim at once (the kernel's ``migrate_pages`` to a full node fails),
as for every policy of the replay; the time quota (``ms``), watermarks,
``damos_skip_charged_region`` (resuming a window at the last charged
region) and the monitoring-intervals auto-tuning of later kernels are not
modelled; the charge windows start at the first apply.  Migrations are made
by the kdamond kernel thread: the batched migration cost, like kpromoted's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pghot.machine.memory import MigrateStatus
from pghot.machine.sources import Reports
from pghot.sim.config import DAMON_DEFAULTS, DamonConfig
from pghot.sim.policies import _TOP, Machine, _Policy

__all__ = ["Damon", "why_no_promotion"]

_OK = int(MigrateStatus.OK)
#: DAMON_MAX_SUBSCORE, DAMON_MAX_AGE_IN_LOG (mm/damon/ops-common.c), DAMOS_MAX_SCORE (damon.h)
_MAX_SUBSCORE = 100
_MAX_AGE_IN_LOG = 32
_MAX_SCORE = 99
#: damon_feed_loop_next_input's goal and minimum input (basis points of a byte)
_FEED_GOAL = 10000
_FEED_MIN = 10000
_COUNTERS = (
    "samples",
    "aggregations",
    "applies",
    "hot_tried_bytes",
    "cold_tried_bytes",
    "promoted",
    "demoted",
    "quota_exceeded",
    "young_filtered",
)


def feed_loop_next_input(last_input: int, score: int) -> int:
    """``damon_feed_loop_next_input`` (mm/damon/core.c, v6.14).

    >>> feed_loop_next_input(10000, 0), feed_loop_next_input(10000, 5000)
    (20000, 15000)
    >>> feed_loop_next_input(40000, 15000), feed_loop_next_input(40000, 20000)
    (20000, 10000)
    """
    if score == _FEED_GOAL:
        return last_input
    if score >= _FEED_GOAL * 2:
        return _FEED_MIN
    over = score > _FEED_GOAL
    diff = score - _FEED_GOAL if over else _FEED_GOAL - score
    comp = last_input * diff // _FEED_GOAL
    if over:
        return max(last_input - comp, _FEED_MIN)
    return last_input + comp


class _Scheme:
    """One DAMOS scheme with its quota."""

    def __init__(self, hot: bool, sz: int, goal_bp: int | None) -> None:
        self.hot = hot
        self.sz = sz
        self.goal_bp = goal_bp
        self.esz_bp = 0
        self.esz = sz if goal_bp is None else 0
        self.charged_sz = 0
        self.charged_from = -1
        #: the largest effective quota seen, the adjustments and those that found the
        #: goal's metric below its target (the notes' explanation)
        self.max_esz = 0
        self.adjusted = 0
        self.below_goal = 0


class _Context:
    """DAMON's regions of one node (a physical address range in PFNs) and its scheme."""

    def __init__(self, nid: int, lo: int, hi: int, scheme: _Scheme, min_nr: int) -> None:
        self.nid, self.lo, self.hi, self.scheme = nid, lo, hi, scheme
        n = max(1, min(min_nr, hi - lo))
        bounds = lo + (np.arange(n + 1, dtype=np.int64) * (hi - lo)) // n
        self.start = bounds[:-1].copy()
        self.end = bounds[1:].copy()
        self.nr = np.zeros(n, dtype=np.int64)
        self.last_nr = np.zeros(n, dtype=np.int64)
        self.age = np.zeros(n, dtype=np.int64)
        self.sample = self.start.copy()
        self.last_nr_regions = 0
        self.sz_limit = max(1, (hi - lo) // max(1, min_nr))

    def check(self) -> None:
        """Invariants: the regions tile ``[lo, hi)`` in order, none empty."""
        assert self.start.shape[0] >= 1
        assert int(self.start[0]) == self.lo and int(self.end[-1]) == self.hi
        assert np.all(self.end > self.start)
        assert np.array_equal(self.start[1:], self.end[:-1])
        assert np.all((self.sample >= self.start) & (self.sample < self.end))


class Damon(_Policy):
    """DAMOS ``migrate_hot``/``migrate_cold`` tiering as ``samples/damon/mtier.c`` sets it up.

    See the module docstring for the mechanism, its sources and the
    simplifications; the knobs are the ``[damon]`` table
    (:class:`pghot.sim.config.DamonConfig`) or keyword arguments.

    Examples
    --------
    >>> from pghot.sim import SimConfig
    >>> from pghot.sim.policies import build_machine
    >>> from pghot.topology import Topology
    >>> m = build_machine(SimConfig(), Topology.two_tier(2, 3), logical_pages=5, bin_jiffies=1000)
    >>> p = Damon("damon", m, quota_goals=False, sample_us=1000, aggr_us=4000,
    ...           apply_interval_us=4000, min_nr_regions=3)
    >>> pages = np.array([0, 1, 2] + [3] * 10, np.uint32)    # 0, 1 on the top tier
    >>> times = np.arange(pages.shape[0], dtype=np.int64)
    >>> p.run_piece(pages, times, Reports.empty(), horizon=int(times[-1]) + 1)
    >>> [int(x) for x in np.concatenate(p.pending)]   # page 3, promoted at the first apply
    [3]
    """

    kind = "damon"

    def __init__(self, name: str, machine: Machine, **knobs: Any) -> None:
        from pghot.sim.alternatives import _knobs

        k = _knobs(DamonConfig, machine, "damon", knobs)
        d = DAMON_DEFAULTS
        g = {key: k.get(key, d[key]) for key in d}
        self.knobs = g
        hz = machine.config.hz
        goals = bool(g["quota_goals"])
        super().__init__(
            name,
            machine,
            f"DAMON (mtier.c): migrate_hot nr_accesses >= {g['hot_min_nr_accesses']}, migrate_cold "
            f"nr_accesses <= {g['cold_max_nr_accesses']}, quota {g['quota_sz_bytes'] >> 20} MiB per "
            f"{g['quota_reset_interval_ms']} ms"
            + (
                f", goals node 0 used {g['hot_goal_bp'] / 100:g} % / free {g['cold_goal_bp'] / 100:g} %"
                if goals
                else ", no quota goals"
            ),
        )
        self.page_size = machine.config.page_size
        # in jiffies (at least one), the aggregation and apply intervals in sampling intervals
        # (kdamond's next_aggregation_sis, next_apply_sis): their time kept when a sampling
        # interval is rounded up to a jiffy
        self.sample_j = max(1, g["sample_us"] * hz // 1_000_000)
        self.aggr_samples = max(1, g["aggr_us"] * hz // 1_000_000 // self.sample_j)
        apply_us = g["apply_interval_us"] or g["aggr_us"]
        self.apply_samples = max(1, apply_us * hz // 1_000_000 // self.sample_j)
        self.reset_j = max(1, g["quota_reset_interval_ms"] * hz // 1000)
        self.max_nr_accesses = self.aggr_samples  # damon_max_nr_accesses
        self.rng = np.random.default_rng(g["seed"])
        self.round_j = self.sample_j
        self.next_round = self.sample_j
        self.young = np.zeros(machine.memory.logical_pages, dtype=bool)
        self._acc: list[np.ndarray] = []
        self.nsamples = 0
        self.next_aggr = self.aggr_samples
        self.next_apply = self.apply_samples
        self.counters = dict.fromkeys(_COUNTERS, 0)
        self.contexts: list[_Context] = []
        for node in machine.memory.topology.nodes:
            lo, hi = node.start_pfn, node.start_pfn + node.nr_pages
            if hi <= lo:
                continue
            if node.toptier:
                sch = _Scheme(False, g["quota_sz_bytes"], g["cold_goal_bp"] if goals else None)
            else:
                sch = _Scheme(True, g["quota_sz_bytes"], g["hot_goal_bp"] if goals else None)
            self.contexts.append(_Context(node.nid, lo, hi, sch, g["min_nr_regions"]))
        for c in self.contexts:
            self._prepare(c)

    # -- the trace ----------------------------------------------------------------------

    def segment(self, pages: np.ndarray, times: np.ndarray, reps: Reports) -> None:
        """Serve the accesses; their pages' accessed bits are set (seen at the next sampling)."""
        self.serve(pages, times)
        if pages.shape[0]:
            self._acc.append(pages)

    def _flush(self) -> None:
        if self._acc:
            acc = np.concatenate(self._acc) if len(self._acc) > 1 else self._acc[0]
            self.young[acc] = True
            self._acc = []

    # -- kdamond ----------------------------------------------------------------------

    def step(self, now: int) -> None:
        """One sampling interval of every context (``kdamond_fn``'s loop body)."""
        self._flush()
        self.nsamples += 1
        self.counters["samples"] += 1
        aggregate = self.nsamples >= self.next_aggr
        apply = self.nsamples >= self.next_apply
        for c in self.contexts:
            max_nr = self._check(c)
            if aggregate:
                self._merge(c, max_nr // 10)
        if apply:
            self.counters["applies"] += 1
            for c in self.contexts:
                self._apply(c, now)
            self.next_apply = self.nsamples + self.apply_samples
        if aggregate:
            self.counters["aggregations"] += 1
            self.next_aggr = self.nsamples + self.aggr_samples
            for c in self.contexts:
                c.last_nr = c.nr.copy()
                c.nr[:] = 0
                self._split(c)
        for c in self.contexts:
            self._prepare(c)

    def _pages_of(self, pfns: np.ndarray) -> np.ndarray:
        return np.asarray(self.mem.pages_of(pfns), dtype=np.int64)

    def _check(self, c: _Context) -> int:
        """``damon_pa_check_accesses``: the sampled pages' accessed bits; the largest nr_accesses."""
        pg = self._pages_of(c.sample)
        hit = pg >= 0
        hit[hit] = self.young[pg[hit]]
        c.nr += hit
        return int(c.nr.max())

    def _prepare(self, c: _Context) -> None:
        """``damon_pa_prepare_access_checks``: a random page per region, its accessed bit cleared."""
        size = c.end - c.start
        c.sample = c.start + (self.rng.random(size.shape[0]) * size).astype(np.int64)
        pg = self._pages_of(c.sample)
        self.young[pg[pg >= 0]] = False

    def _merge(self, c: _Context, threshold: int) -> None:
        """``kdamond_merge_regions`` / ``damon_merge_regions_of`` (ages, then merges)."""
        max_thres = self.aggr_samples
        while True:
            self._merge_of(c, threshold)
            threshold = max(1, threshold * 2)
            if c.start.shape[0] <= self.knobs["max_nr_regions"] or threshold // 2 >= max_thres:
                break

    def _merge_of(self, c: _Context, thres: int) -> None:
        c.age = np.where(np.abs(c.nr - c.last_nr) > thres, 0, c.age + 1)
        start, end = c.start.tolist(), c.end.tolist()
        nr, last, age = c.nr.tolist(), c.last_nr.tolist(), c.age.tolist()
        o_start, o_end, o_nr, o_last, o_age = [start[0]], [end[0]], [nr[0]], [last[0]], [age[0]]
        limit = c.sz_limit
        for i in range(1, len(start)):
            sl = o_end[-1] - o_start[-1]
            sr = end[i] - start[i]
            if abs(o_nr[-1] - nr[i]) <= thres and sl + sr <= limit:
                o_nr[-1] = (o_nr[-1] * sl + nr[i] * sr) // (sl + sr)
                o_age[-1] = (o_age[-1] * sl + age[i] * sr) // (sl + sr)
                o_end[-1] = end[i]
            else:
                o_start.append(start[i])
                o_end.append(end[i])
                o_nr.append(nr[i])
                o_last.append(last[i])
                o_age.append(age[i])
        if len(o_start) != len(start):
            c.start = np.array(o_start, dtype=np.int64)
            c.end = np.array(o_end, dtype=np.int64)
            c.nr = np.array(o_nr, dtype=np.int64)
            c.last_nr = np.array(o_last, dtype=np.int64)
            c.age = np.array(o_age, dtype=np.int64)

    def _split(self, c: _Context) -> None:
        """``kdamond_split_regions``: 2 (or 3) random parts per region, while few enough."""
        n = c.start.shape[0]
        max_nr = self.knobs["max_nr_regions"]
        if n > max_nr // 2:
            return
        subs = 3 if c.last_nr_regions == n and n < max_nr // 3 else 2
        left = np.ones(n, dtype=bool)  # the regions whose left part may split again
        for _ in range(subs - 1):
            size = c.end - c.start
            ok = left & (size > 2)
            ratio = self.rng.integers(1, 10, size=size.shape[0])
            sub = ratio * size // 10
            ok &= (sub > 0) & (sub < size)
            if not ok.any():
                break
            idx = np.flatnonzero(ok)
            cut = c.start[idx] + sub[idx]
            # region i becomes [start, cut) and a new region [cut, end) follows it
            new_start = np.insert(c.start, idx + 1, cut)
            new_end = np.insert(c.end, idx + 1, c.end[idx])
            new_end[idx + np.arange(idx.shape[0])] = cut
            c.nr = np.insert(c.nr, idx + 1, c.nr[idx])
            c.last_nr = np.insert(c.last_nr, idx + 1, c.last_nr[idx])
            c.age = np.insert(c.age, idx + 1, c.age[idx])
            c.start, c.end = new_start, new_end
            left = np.insert(left, idx + 1, False)
        c.last_nr_regions = n
        c.sample = c.start.copy()  # a new sample is drawn right after (prepare)

    # -- DAMOS --------------------------------------------------------------------------

    def _goal_score(self, s: _Scheme) -> int:
        """``damos_quota_score``: node 0's used (hot) or free (cold) basis points over the goal."""
        assert s.goal_bp is not None
        total = int(self.mem.capacity(_TOP))
        value = int(self.mem.used_pages(_TOP) if s.hot else self.mem.free_pages(_TOP))
        bp = value * 10000 // max(total, 1)
        s.adjusted += 1
        s.below_goal += bp < s.goal_bp
        return bp * 10000 // max(s.goal_bp, 1)

    def _adjust_quota(self, s: _Scheme, now: int) -> None:
        """``damos_adjust_quota``: a new charge window, the effective quota."""
        if s.charged_from >= 0 and now < s.charged_from + self.reset_j:
            return
        if s.charged_from >= 0 and s.esz and s.charged_sz >= s.esz:
            self.counters["quota_exceeded"] += 1
        s.charged_from = now
        s.charged_sz = 0
        if s.goal_bp is not None:  # damos_set_effective_quota
            s.esz_bp = feed_loop_next_input(max(s.esz_bp, 10000), self._goal_score(s))
            s.esz = min(s.esz_bp // 10000, s.sz) if s.sz else s.esz_bp // 10000
        else:
            s.esz = s.sz
        s.max_esz = max(s.max_esz, s.esz)

    def _scores(self, c: _Context) -> np.ndarray:
        """``damon_hot_score`` (``damon_cold_score`` = 99 minus it) of every region."""
        wf, wa = self.knobs["weight_nr_accesses"], self.knobs["weight_age"]
        freq = c.nr * _MAX_SUBSCORE // self.max_nr_accesses
        age_s = c.age * self.knobs["aggr_us"] // 1_000_000
        age_log = np.zeros_like(age_s)
        a = age_s.copy()
        for _ in range(_MAX_AGE_IN_LOG):
            more = a > 0
            if not more.any():
                break
            age_log += more
            a >>= 1
        age_log = np.where(freq == 0, -age_log, age_log) + _MAX_AGE_IN_LOG
        age_sub = age_log * _MAX_SUBSCORE // _MAX_AGE_IN_LOG // 2
        hot = wf * freq + wa * age_sub
        if wf + wa:
            hot //= wf + wa
        hot = hot * _MAX_SCORE // _MAX_SUBSCORE
        return hot if c.scheme.hot else _MAX_SCORE - hot

    def _apply(self, c: _Context, now: int) -> None:
        """``damon_do_apply_schemes`` for the context's scheme: the matching regions within quota."""
        s, g = c.scheme, self.knobs
        self._adjust_quota(s, now)
        size = c.end - c.start
        if s.hot:
            match = c.nr >= g["hot_min_nr_accesses"]
        else:
            match = (c.nr <= g["cold_max_nr_accesses"]) & (c.age >= g["cold_min_age"])
        if not match.any():
            return
        unlimited = s.esz == 0  # no size quota and no goals (quota_sz_bytes = 0)
        remaining = (1 << 62) if unlimited else s.esz - s.charged_sz
        if remaining < self.page_size:
            return
        if unlimited:
            idx = np.flatnonzero(match)
        else:
            score = self._scores(c)
            # the min score: the highest one whose cumulated size (from the top) reaches esz
            w = size[match] * self.page_size
            hist = np.bincount(score[match], weights=w, minlength=_MAX_SCORE + 1)
            reach = np.flatnonzero(np.cumsum(hist[::-1]) >= s.esz)
            min_score = _MAX_SCORE - int(reach[0]) if reach.shape[0] else 0
            idx = np.flatnonzero(match & (score >= min_score))
        pages_left = remaining // self.page_size
        cum_pages = np.cumsum(size[idx])
        full = int(np.searchsorted(cum_pages, pages_left, side="right"))
        lo, hi = c.start[idx[:full]].tolist(), c.end[idx[:full]].tolist()
        charged = int(cum_pages[full - 1]) if full else 0
        if full < idx.shape[0] and charged < pages_left:  # the last region cut at the remainder
            i = int(idx[full])
            part = pages_left - charged
            lo.append(int(c.start[i]))
            hi.append(int(c.start[i]) + part)
            charged += part
        s.charged_sz += charged * self.page_size
        self.counters["hot_tried_bytes" if s.hot else "cold_tried_bytes"] += charged * self.page_size
        if not lo:
            return
        # the placed pages' PFNs in the chosen ranges: O(footprint), whatever the node's size
        placed = np.asarray(self.mem.pfns_of(np.arange(self.young.shape[0], dtype=np.int64)))
        placed = np.sort(placed[(placed >= c.lo) & (placed < c.hi)])
        a = np.searchsorted(placed, np.array(lo, dtype=np.int64))
        b = np.searchsorted(placed, np.array(hi, dtype=np.int64))
        cand = np.concatenate([placed[x:y] for x, y in zip(a.tolist(), b.tolist(), strict=True)])
        pg = self._pages_of(cand)
        if g["young_filter"]:  # promote young pages only, demote old ones only; the check clears
            yg = self.young[pg]
            self.young[pg] = False
            keep = yg if s.hot else ~yg
            self.counters["young_filtered"] += int(cand.shape[0] - np.count_nonzero(keep))
            cand = cand[keep]
        if cand.shape[0] == 0:
            return
        if s.hot:
            status, moved = self.mem.migrate_batch(cand, _TOP, now, return_pages=True)
            moved = moved[status == _OK]
            self.counters["promoted"] += int(moved.shape[0])
            self._promoted(moved, now)
        else:
            self.counters["demoted"] += int(np.asarray(self.mem.demote_pfns(cand, now)).shape[0])

    # -- results ------------------------------------------------------------------------

    def check(self) -> None:
        """The regions' invariants in every context (tests)."""
        for c in self.contexts:
            c.check()
            assert c.start.shape[0] <= max(self.knobs["max_nr_regions"], self.knobs["min_nr_regions"])

    def memory_bytes(self) -> int | None:
        # struct damon_region: ar (16), sampling_addr, nr_accesses, nr_accesses_bp,
        # last_nr_accesses, age, list (16): about 64 bytes a region
        return 64 * sum(c.start.shape[0] for c in self.contexts)

    def stats(self) -> dict[str, dict[str, int]]:
        out = dict(self.counters)
        out["page_size"] = self.page_size
        for c in self.contexts:
            tag = "hot" if c.scheme.hot else "cold"
            out[f"node{c.nid}_regions"] = int(c.start.shape[0])
            out[f"node{c.nid}_{tag}_esz_bytes"] = int(c.scheme.esz)
            out[f"node{c.nid}_{tag}_max_esz_bytes"] = int(c.scheme.max_esz)
            if c.scheme.goal_bp is not None:
                out[f"node{c.nid}_{tag}_goal_bp"] = int(c.scheme.goal_bp)
                out[f"node{c.nid}_{tag}_adjustments"] = int(c.scheme.adjusted)
                out[f"node{c.nid}_{tag}_below_goal"] = int(c.scheme.below_goal)
        return {"memory": self.mem.stats(), self.kind: out}


def why_no_promotion(name: str, stats: dict[str, dict[str, int]]) -> str | None:
    """The replay's note for a ``damon`` policy that promoted nothing: why, and which knob.

    >>> s = {"damon": {"applies": 0, "node1_hot_max_esz_bytes": 0}}
    >>> why_no_promotion("damon", s)[:60]
    'damon: no promotions: no DAMOS apply interval ended within t'
    """
    d = stats.get("damon", {})
    page_size = d.get("page_size", 4096)
    if d.get("applies", 0) == 0:
        return (
            f"{name}: no promotions: no DAMOS apply interval ended within the trace; "
            "lower damon.apply_interval_us (--set damon.apply_interval_us=N)"
        )
    hot_esz = max((v for k, v in d.items() if k.endswith("_hot_max_esz_bytes")), default=0)
    if hot_esz < page_size:
        goal = max((v for k, v in d.items() if k.endswith("_hot_goal_bp")), default=None)
        adj = sum(v for k, v in d.items() if k.endswith("_hot_adjustments"))
        below = sum(v for k, v in d.items() if k.endswith("_hot_below_goal"))
        if goal is not None and adj:
            return (
                f"{name}: no promotions: node 0 was below migrate_hot's quota goal ({goal / 100:g} % "
                f"used, mtier.c's node_mem_used_bp) at {below} of {adj} quota adjustments (first touch "
                "fills it), and the goal's feedback (damon_feed_loop_next_input), starting at 1 byte, "
                f"raised the quota to {hot_esz} bytes at most, below one page ({page_size} bytes); "
                "turn the goals off (--set damon.quota_goals=false)"
            )
        return (
            f"{name}: no promotions: migrate_hot's quota reached {hot_esz} bytes at most, below one "
            f"page ({page_size} bytes); raise damon.quota_sz_bytes"
        )
    if d.get("hot_tried_bytes", 0) == 0:
        return (
            f"{name}: no promotions: no lower-tier region reached damon.hot_min_nr_accesses "
            "sampled accesses in an aggregation interval; lower it, or raise damon.aggr_us"
        )
    return (
        f"{name}: no promotions: the hot regions' pages were not young when DAMOS looked "
        f"({d.get('young_filtered', 0)} filtered); set damon.young_filter=false"
    )
