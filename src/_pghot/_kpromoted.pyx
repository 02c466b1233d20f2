# kpromoted compiled: the promoter's round (pghot.machine.promoter.Promoter._round,
# its specification) and the replay's whole loop of one pghot policy over a
# stretch of the trace (serve the accesses, record the reports, run the
# rounds), in C without the GIL.
#
# PromoterCore holds what the Python Promoter holds per top-tier node (round
# times, rate credit, adjusted threshold, adjustment period, counters) and
# runs a round exactly as Promoter._round does: rate credit, threshold
# adjustment, the demotion throttle's window (the memory's pgdemote_kswapd
# and pgpromote_success, read under its lock), free-memory bypass,
# extraction from the tracker (the store's `_extract` kernel, inside the
# tracker's gate), the staleness check, the re-check, the throttle's
# budget, the rate limit and the migration (the memory's kernels, under its
# lock), then the tracker's movable bits of the PFNs that changed (inside the
# gate, after the memory's lock is released).  Promoter uses it whenever its
# memory is the compiled pghot.machine.memory.TieredMemory and its tracker a
# compiled store; tests/test_kpromoted.py runs both on the same inputs and
# requires the same migrations, counters and tracker states.
#
# Arithmetic.  The Python promoter counts rate credit in units of
# 1 / (1000 * hz) byte with unbounded ints: a round's credit is
# rate_bps * interval_ms * hz, up to 2**111.  Here it is a 128-bit integer
# (gcc's __int128); the one product that could exceed it (credit earned over
# an elapsed time near 2**62 jiffies) saturates at the burst first, which is
# what min(credit + earned, burst) gives.
#
# Data layout.  Per top-tier node j (in nid order): its nid, its node index
# in the memory (slot order) and its queue in the tracker; the node's state
# (with the throttle level, 0 <= level <= max_level = bit_length(batch) - 1,
# the throttle window's start and the memory's two counters then) and
# counters (int64 [NPSTATS] per node).  Scratch buffers sized at
# construction for one batch: extracted PFNs and words, the store's scratch,
# the candidates, and the movable changes (two per migration: a promotion
# and the demotion it may cause).  PromoterCore.run sizes its own buffers for
# the stretch it is given.
#
# Concurrency and lock order.  A PromoterCore is driven by one thread at a
# time: Promoter serialises a node's rounds with its per-node Python lock;
# run() is called by the replay engine, which owns the machine and runs no
# promoter threads.  Both take the memory's Python lock (`_mlock`, with the
# GIL, before releasing it) for the whole call, as the memory's own
# mutating entry points do; then, without the GIL: the memory's spinlock
# around each memory kernel, the tracker's gate around each tracker kernel,
# never both at once (the tracker's locks are taken inside its kernels).
# Nothing here takes the GIL while holding a lock.
cimport cython
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memset, memcpy
from libc.stdint cimport int8_t, INT64_MAX

from defs cimport *
from nodes cimport nodemap_targets, nodemap_index, nodemap_set_movable
from pghot._base cimport TrackerBase, pghot_batch, NOUTCOMES, NSOURCES, S_SRC, S_OUT
from pghot._memory cimport (MemoryCore, pghot_mem_t, pghot_mv_t, mem_locate, mem_slot_pfn,
                            mem_migrate, mem_node_of_slot, mv_finish, mem_serve, mem_room,
                            MS_OK, MS_NON_LRU, MS_RIGHT_NODE, MS_NO_SPACE,
                            ST_PROMOTE_CANDIDATE, ST_PROMOTE_CANDIDATE_NRL, ST_PROMOTE_SUCCESS,
                            ST_DEMOTE_KSWAPD, ST_PING_PONG)

import numpy as np

cdef extern from *:
    ctypedef long long i128 "__int128"

cdef enum:
    P_ROUNDS = 0
    P_EXTRACTED = 1
    P_NON_LRU = 2
    P_RIGHT_NODE = 3
    P_DROPPED = 4
    P_STALE = 5
    P_RATE_LIMITED = 6
    P_MIGRATED = 7
    P_NO_SPACE = 8
    P_BYPASS_ROUNDS = 9
    P_RAISED = 10
    P_LOWERED = 11
    P_THROTTLED = 12
    P_THROTTLED_ROUNDS = 13
    NPSTATS = 14
    SRC_PGTABLE_SCAN = 1

#: the counters of PromoterCore.counters, in the order of its rows (Promoter.stats' keys)
STAT_KEYS = (
    "kpromoted_rounds",
    "kpromoted_extracted",
    "kpromoted_non_lru",
    "kpromoted_right_node",
    "kpromoted_dropped",
    "kpromoted_stale",
    "kpromoted_rate_limited",
    "kpromoted_migrated",
    "kpromoted_no_space",
    "kpromoted_bypass_rounds",
    "kpromoted_threshold_raised",
    "kpromoted_threshold_lowered",
    "kpromoted_throttled",
    "kpromoted_throttled_rounds",
)

ctypedef struct node_t:
    int64_t nid
    int32_t k            # memory node index
    int32_t q            # tracker queue
    int64_t last_now     # -1: no round yet
    i128 credit
    int64_t threshold
    int64_t period_start # -1: no period yet
    int64_t period_cand
    int64_t watermark
    int64_t level        # demotion throttle: the budget is batch >> level
    int64_t window_start # -1: no window yet
    int64_t window_demoted
    int64_t window_promoted
    int64_t c[NPSTATS]


cdef inline pghot_stripe_t *gate_enter(pghot_gate_t *g) noexcept nogil:
    """Enter a tracker's gate without the GIL, waiting while a snapshot or fork holds it closed."""
    cdef pghot_stripe_t *st = pghot_gate_try_enter(g)
    while st == NULL:
        pghot_gate_wait_open(g)
        st = pghot_gate_try_enter(g)
    return st


cdef void apply_movable(TrackerBase tr, const pghot_mv_t *mv) noexcept nogil:
    """The final movable state of the PFNs a memory kernel changed, into the tracker."""
    cdef int64_t i
    cdef int32_t k
    cdef pghot_stripe_t *st
    if mv.n == 0:
        return
    st = gate_enter(&tr.gate)
    for i in range(mv.n):
        k = nodemap_index(&tr.nodes, <uint64_t>mv.pfn[i])
        if k >= 0 and not tr.nodes.top[k]:
            nodemap_set_movable(&tr.nodes, k, <uint64_t>mv.pfn[i], mv.flag[i] != 0)
    pghot_gate_leave(st)


cdef object _view(object obj, object dtype, str name):
    """``obj`` as a 1-D C-contiguous array of ``dtype`` (the array itself when it is one:
    the caller copies it once, in its checking pass; otherwise a converted copy)."""
    a = np.asarray(obj)
    if a.ndim != 1 or a.dtype.kind not in "iu":
        raise TypeError(f"{name} must be a 1-D integer array, got {a.dtype} of shape {a.shape}")
    if a.dtype != dtype or not a.flags.c_contiguous:
        if a.dtype != dtype and not np.can_cast(a.dtype, dtype, "safe") and a.shape[0]:
            # a narrowing conversion would wrap (2**32 as node 0): refuse values it cannot hold
            info = np.iinfo(dtype)
            lo, hi = int(a.min()), int(a.max())
            if lo < info.min or hi > info.max:
                raise ValueError(f"{name}: values in [{lo}, {hi}] do not fit {np.dtype(dtype).name}")
        a = np.ascontiguousarray(a, dtype=dtype)
    return a


cdef int64_t _copy_accesses(const uint32_t *sp, const int64_t *st, int64_t n, uint32_t *p,
                            int64_t *t, uint64_t npages, int64_t horizon) noexcept nogil:
    """Copy the accesses and check the copy in the same pass: the index of the first bad
    one (a page out of range, a time negative, out of order or not below horizon), or -1."""
    cdef int64_t i, prev = 0, x
    cdef uint32_t v
    for i in range(n):
        v = sp[i]
        x = st[i]
        p[i] = v
        t[i] = x
        if (v >= npages) | (x < prev) | (x >= horizon):
            return i
        prev = x
    return -1


cdef int64_t _copy_reports(const uint64_t *sp, const int32_t *sn, const int8_t *ss,
                           const int64_t *st, int64_t n, uint32_t *rp, int64_t *rn, int64_t *rs,
                           int64_t *rt, uint64_t npages, int64_t horizon) noexcept nogil:
    """Copy the reports (pages narrowed to uint32 once checked, nids and sources widened)
    and check them in the same pass: the index of the first bad one, or -1.  Order: by key
    2 * time + (0 for a page-table-scan report, else 1), non-decreasing."""
    cdef int64_t i, prev = 0, k, x, src
    cdef uint64_t v
    for i in range(n):
        v = sp[i]
        x = st[i]
        src = ss[i]
        k = 2 * x + (src != SRC_PGTABLE_SCAN)
        if (v >= npages) | (x < 0) | (x >= horizon) | (src < 0) | (src >= NSOURCES) | (k < prev):
            return i
        prev = k
        rp[i] = <uint32_t>v
        rn[i] = sn[i]
        rs[i] = src
        rt[i] = x
    return -1


cdef inline int64_t _key(const int64_t *t, const int64_t *src, int64_t i) noexcept nogil:
    """Item i's order key: its time (src NULL, an access), or a report's 2 * time + (0 for a
    page-table-scan report, else 1)."""
    return t[i] if src == NULL else 2 * t[i] + (src[i] != SRC_PGTABLE_SCAN)


cdef inline int64_t _first_at(const int64_t *t, const int64_t *src, int64_t lo, int64_t n,
                              int64_t key) noexcept nogil:
    """The first index in [lo, n) whose _key is >= ``key`` in a non-decreasing run of
    keys (n if none): a galloping search from lo, O(log distance), so that a stretch
    between two rounds costs its logarithm instead of a pass over its items."""
    cdef int64_t step = 1, hi = lo, mid
    while hi < n and _key(t, src, hi) < key:  # keys [lo, hi] < key; widen the bracket
        lo = hi + 1
        hi = lo + step
        step *= 2
    if hi > n:
        hi = n
    while lo < hi:  # keys before lo < key <= keys from hi
        mid = lo + (hi - lo) // 2
        if _key(t, src, mid) < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef class PromoterCore:
    """The compiled rounds of a :class:`pghot.machine.promoter.Promoter` (internal).

    Built by the Promoter on a compiled memory and tracker; holds every
    top-tier node's round state and counters.  Not for direct use: the
    Promoter checks the arguments and computes the configuration.

    >>> import pghot
    >>> from pghot.machine.memory import TieredMemory
    >>> from pghot.machine.promoter import Promoter
    >>> topo = pghot.Topology.two_tier(64, 256)
    >>> tracker = pghot.Tracker(topo)
    >>> isinstance(Promoter(tracker, TieredMemory(topo, tracker))._core, PromoterCore)
    True
    """

    cdef TrackerBase tr
    cdef MemoryCore mem
    cdef object mlock
    cdef node_t *nodes
    cdef int32_t nn
    cdef int64_t batch
    cdef bint has_rate, adjust, bypass, stale, throttle, throttle_pp
    cdef int64_t ratio, throttle_j, max_level
    cdef i128 rate_bps, page_cost, burst, round_credit
    cdef int64_t page, hz, period_j, base, fmax, tmask, window
    # one batch's buffers
    cdef uint64_t *xpfn
    cdef uint32_t *xword
    cdef int64_t *scratch
    cdef int64_t *cand
    cdef int64_t *mvpfn
    cdef uint8_t *mvflag
    # the pages moved by the rounds of one call (grown as needed)
    cdef int64_t *moved
    cdef int64_t *moved_pfn
    cdef int64_t *moved_node
    cdef int64_t nmoved, moved_cap
    cdef bint oom
    # run's copies and buffers, kept between calls; busy while a call holds them
    cdef char *work
    cdef size_t work_cap
    cdef bint work_busy
    cdef int64_t own_works

    def __cinit__(self, *args, **kwargs):
        self.nodes = NULL
        self.xpfn = NULL
        self.xword = NULL
        self.scratch = NULL
        self.cand = NULL
        self.mvpfn = NULL
        self.mvflag = NULL
        self.moved = NULL
        self.moved_pfn = NULL
        self.moved_node = NULL
        self.work = NULL
        self.work_cap = 0
        self.work_busy = False
        self.own_works = 0
        self.nn = 0
        self.nmoved = 0
        self.moved_cap = 0

    def __dealloc__(self):
        free(self.nodes)
        free(self.xpfn)
        free(self.xword)
        free(self.scratch)
        free(self.cand)
        free(self.mvpfn)
        free(self.mvflag)
        free(self.moved)
        free(self.moved_pfn)
        free(self.moved_node)
        free(self.work)

    def __init__(self, tracker, memory, nids, watermarks, int64_t batch, rate_limit_mbps,
                 int64_t interval_ms, bint threshold_adjust, int64_t period_jiffies,
                 bint free_bypass, bint stale_check, throttle_demotion_ratio=None,
                 int64_t throttle_jiffies=1, bint throttle_ping_pong=False):
        if not isinstance(tracker, TrackerBase):
            raise TypeError(f"tracker must be a compiled tracker, not {type(tracker).__name__}")
        if not isinstance(memory, MemoryCore):
            raise TypeError(f"memory must be a compiled TieredMemory, not {type(memory).__name__}")
        if self.nodes != NULL:
            raise RuntimeError("PromoterCore is initialised once")
        self.tr = <TrackerBase>tracker
        self.mem = <MemoryCore>memory
        self.mlock = self.mem._mlock
        nids = [int(x) for x in nids]
        watermarks = [int(x) for x in watermarks]
        if len(nids) != len(watermarks) or not nids:
            raise ValueError("nids, watermarks: one watermark per top-tier node, at least one node")
        if batch < 0:
            raise ValueError(f"batch must be >= 0, got {batch}")
        self.batch = batch
        self.hz = int(tracker.hz)
        self.page = int(memory.page_size)
        self.base = int(tracker.threshold)
        self.fmax = (1 << int(tracker.freq_bits)) - 1
        self.tmask = (1 << int(tracker.time_bits)) - 1
        self.window = int(tracker.window_jiffies)
        self.adjust = threshold_adjust
        self.period_j = period_jiffies
        self.bypass = free_bypass
        self.stale = stale_check
        self.throttle = throttle_demotion_ratio is not None
        self.ratio = 0 if throttle_demotion_ratio is None else int(throttle_demotion_ratio)
        if self.throttle and (self.ratio < 1 or self.ratio > 10000):
            raise ValueError(f"throttle_demotion_ratio must be in [1, 10000], got {self.ratio}")
        if throttle_jiffies < 0:
            raise ValueError(f"throttle_jiffies must be >= 0, got {throttle_jiffies}")
        self.throttle_j = throttle_jiffies
        self.throttle_pp = throttle_ping_pong
        self.max_level = max(int(batch).bit_length() - 1, 0)
        self.page_cost = <i128>self.page * 1000 * self.hz
        self.has_rate = rate_limit_mbps is not None
        cdef int64_t mbps = 0 if rate_limit_mbps is None else int(rate_limit_mbps)
        if mbps < 0 or mbps > 2**40:
            raise ValueError(f"rate_limit_mbps must be in [0, 2**40], got {mbps}")
        self.rate_bps = <i128>mbps << 20
        self.round_credit = self.rate_bps * interval_ms * self.hz if self.has_rate else 0
        self.burst = self.round_credit + self.page_cost if (self.has_rate and mbps) else 0
        cdef Py_ssize_t n = len(nids), i
        cdef Py_ssize_t cap = max(batch, 1)
        self.nodes = <node_t *>malloc(n * sizeof(node_t))
        self.xpfn = <uint64_t *>malloc(cap * sizeof(uint64_t))
        self.xword = <uint32_t *>malloc(cap * sizeof(uint32_t))
        self.scratch = <int64_t *>malloc((self.tr.scratch_len + 1) * sizeof(int64_t))
        self.cand = <int64_t *>malloc(cap * sizeof(int64_t))
        self.mvpfn = <int64_t *>malloc(2 * cap * sizeof(int64_t))
        self.mvflag = <uint8_t *>malloc(2 * cap * sizeof(uint8_t))
        if (self.nodes == NULL or self.xpfn == NULL or self.xword == NULL or self.scratch == NULL
                or self.cand == NULL or self.mvpfn == NULL or self.mvflag == NULL):
            raise MemoryError()
        for i in range(n):
            k = memory._node_index(nids[i])
            if k < 0 or not memory._is_top_index(k):
                raise ValueError(f"nids: {nids[i]} is not a top-tier node of the memory")
            memset(&self.nodes[i], 0, sizeof(node_t))
            self.nodes[i].nid = nids[i]
            self.nodes[i].k = k
            self.nodes[i].q = self.tr._queue_arg(nids[i])
            self.nodes[i].last_now = -1
            self.nodes[i].credit = self.round_credit
            self.nodes[i].threshold = self.base
            self.nodes[i].period_start = -1
            self.nodes[i].window_start = -1
            self.nodes[i].watermark = watermarks[i]
        self.nn = <int32_t>n

    # -- state, read by the Promoter -------------------------------------------------------

    def counters(self, int32_t j):
        """Node j's counters, keyed as :data:`STAT_KEYS`."""
        self._node(j)
        return {k: self.nodes[j].c[i] for i, k in enumerate(STAT_KEYS)}

    def threshold(self, int32_t j):
        """Node j's extraction threshold."""
        self._node(j)
        return self.nodes[j].threshold

    def throttle_level(self, int32_t j):
        """Node j's demotion throttle level (its budget is ``batch >> level``)."""
        self._node(j)
        return self.nodes[j].level

    def last_round(self, int32_t j):
        """Node j's previous round time, None before the first."""
        self._node(j)
        return None if self.nodes[j].last_now < 0 else self.nodes[j].last_now

    def forget_node(self, int32_t j):
        """Forget node j's round time and adjustment period (Promoter.start)."""
        self._node(j)
        self.nodes[j].last_now = -1
        self.nodes[j].period_start = -1
        self.nodes[j].period_cand = 0
        self.nodes[j].window_start = -1

    cdef int _node(self, int32_t j) except -1:
        if j < 0 or j >= self.nn:
            raise ValueError(f"node index {j} out of range [0, {self.nn})")
        return 0

    cdef int _check_now(self, int32_t j, int64_t now) except -1:
        if now < 0:
            raise ValueError(f"now must be >= 0, got {now}")
        if self.nodes[j].last_now >= 0 and now < self.nodes[j].last_now:
            raise ValueError(f"now: {now} is earlier than node {self.nodes[j].nid}'s previous "
                             f"round at {self.nodes[j].last_now}")
        return 0

    # -- one round ----------------------------------------------------------------------------

    cdef int _grow_moved(self, int64_t need) noexcept nogil:
        """Room for `need` more moved pages; 0, or -1 (and `oom`) when out of memory."""
        cdef int64_t cap
        cdef void *a
        cdef void *b
        cdef void *c
        if self.nmoved + need <= self.moved_cap:
            return 0
        cap = max(self.nmoved + need, 2 * self.moved_cap, 1024)
        a = realloc(self.moved, cap * sizeof(int64_t))
        if a != NULL:
            self.moved = <int64_t *>a
        b = realloc(self.moved_pfn, cap * sizeof(int64_t))
        if b != NULL:
            self.moved_pfn = <int64_t *>b
        c = realloc(self.moved_node, cap * sizeof(int64_t))
        if c != NULL:
            self.moved_node = <int64_t *>c
        if a == NULL or b == NULL or c == NULL:
            self.oom = True
            return -1
        self.moved_cap = cap
        return 0

    cdef inline void _earn(self, node_t *st, int64_t elapsed) noexcept nogil:
        """The rate credit earned over ``elapsed`` jiffies, capped at the burst (min(c + a, B))."""
        cdef i128 per
        if not self.has_rate:
            return
        per = self.rate_bps * 1000
        if per == 0:
            st.credit = min(st.credit, self.burst)
        elif <i128>elapsed > self.burst / per + 1:  # saturates before the product overflows
            st.credit = self.burst
        else:
            st.credit = min(st.credit + per * elapsed, self.burst)

    cdef void _adjust_threshold(self, node_t *st, int64_t elapsed) noexcept nogil:
        cdef i128 load = <i128>st.period_cand * self.page * self.hz
        cdef i128 limit = self.rate_bps * elapsed
        if load * 10 > limit * 11:
            if st.threshold < self.fmax:
                st.threshold += 1
                st.c[P_RAISED] += 1
        elif load * 10 < limit * 9:
            if st.threshold > self.base:
                st.threshold -= 1
                st.c[P_LOWERED] += 1

    cdef void _sample_throttle(self, node_t *st, int64_t now) noexcept nogil:
        """The throttle's window: at its end, one step of the level (Promoter._sample_throttle)."""
        cdef pghot_mem_t *m = &self.mem.m
        cdef int64_t demoted, promoted, d, p
        pghot_lock(&m.lock)
        demoted = m.stats[ST_PING_PONG if self.throttle_pp else ST_DEMOTE_KSWAPD]
        promoted = m.stats[ST_PROMOTE_SUCCESS]
        pghot_unlock(&m.lock)
        if st.window_start >= 0:
            if now - st.window_start < self.throttle_j:
                return
            d = demoted - st.window_demoted
            p = promoted - st.window_promoted
            # 100 * d >= ratio * p in 128 bits (counters below 2**63, ratio <= 10000)
            if p > 0 and <i128>100 * d >= <i128>self.ratio * p:
                if st.level < self.max_level:
                    st.level += 1
            elif st.level > 0:
                st.level -= 1
        st.window_start = now
        st.window_demoted = demoted
        st.window_promoted = promoted

    cdef int64_t _round(self, int32_t j, int64_t now) noexcept nogil:
        """One round of node j at `now` (checked); appends what moved; returns how many.

        Promoter._round, step for step (its docstring has the reasons).
        """
        cdef node_t *st = &self.nodes[j]
        cdef pghot_mem_t *m = &self.mem.m
        cdef int64_t elapsed = 0 if st.last_now < 0 else now - st.last_now
        cdef int64_t got, i, n, s, page, ncand, take, limited, nmv, budget
        cdef int64_t age
        cdef bint bypass
        cdef int status
        cdef pghot_stripe_t *gs
        cdef pghot_mv_t mv
        st.last_now = now
        st.c[P_ROUNDS] += 1
        self._earn(st, elapsed)
        if self.adjust:
            if st.period_start < 0:
                st.period_start = now
            elif now - st.period_start >= self.period_j:
                self._adjust_threshold(st, now - st.period_start)
                st.period_start = now
                st.period_cand = 0
        if self.throttle:
            self._sample_throttle(st, now)
        bypass = False
        if self.bypass:
            pghot_lock(&m.lock)
            bypass = m.nfree[st.k] > st.watermark
            pghot_unlock(&m.lock)
        if bypass:
            st.threshold = self.base
            st.c[P_BYPASS_ROUNDS] += 1

        got = 0
        gs = gate_enter(&self.tr.gate)
        n = <int64_t>self.tr._extract_limit(st.q, self.batch)
        if n:
            if self.tr.scratch_len:
                memset(self.scratch, 0, self.tr.scratch_len * sizeof(int64_t))
            got = <int64_t>self.tr._extract(st.q, <uint64_t>n, <uint32_t>st.threshold, self.xpfn,
                                            self.xword, self.scratch if self.tr.scratch_len else NULL)
        pghot_gate_leave(gs)
        st.c[P_EXTRACTED] += got
        if got == 0:
            return 0
        if self._grow_moved(got) < 0:
            return 0
        # the candidates, in extraction order, without the stale ones
        n = 0
        for i in range(got):
            if self.stale:
                age = (now - <int64_t>((self.xword[i] >> self.tr.tshift) & self.tr.tmask)) & self.tmask
                if age > self.window:
                    st.c[P_STALE] += 1
                    st.c[P_DROPPED] += 1
                    continue
            self.cand[n] = <int64_t>self.xpfn[i]
            n += 1
        mv.pfn = self.mvpfn
        mv.flag = self.mvflag
        mv.n = 0
        pghot_lock(&m.lock)
        # the re-check (TieredMemory.recheck)
        ncand = 0
        for i in range(n):
            s = mem_locate(m, self.cand[i])
            if s < 0 or m.owner[s] < 0:
                st.c[P_NON_LRU] += 1
            elif mem_node_of_slot(m, s) == st.k:
                st.c[P_RIGHT_NODE] += 1
            else:
                self.cand[ncand] = self.cand[i]
                ncand += 1
        if bypass:
            m.stats[ST_PROMOTE_CANDIDATE_NRL] += ncand
        else:
            m.stats[ST_PROMOTE_CANDIDATE] += ncand
            st.period_cand += ncand
            if st.level:
                budget = self.batch >> st.level
                if ncand > budget:
                    st.c[P_THROTTLED_ROUNDS] += 1
                    st.c[P_THROTTLED] += ncand - budget
                    st.c[P_DROPPED] += ncand - budget
                    ncand = budget
            if self.has_rate:
                take = ncand
                if <i128>take > st.credit / self.page_cost:
                    take = <int64_t>(st.credit / self.page_cost)
                st.credit -= <i128>take * self.page_cost
                limited = ncand - take
                if limited:
                    st.c[P_RATE_LIMITED] += limited
                    st.c[P_DROPPED] += limited
                    ncand = take
        # the migration (TieredMemory.migrate_batch)
        nmv = 0
        for i in range(ncand):
            s = mem_locate(m, self.cand[i])
            page = -1 if s < 0 else m.owner[s]
            status = mem_migrate(m, self.cand[i], st.k, now, &mv)
            if status == MS_OK:
                st.c[P_MIGRATED] += 1
                self.moved[self.nmoved + nmv] = page
                self.moved_pfn[self.nmoved + nmv] = self.cand[i]
                self.moved_node[self.nmoved + nmv] = st.nid
                nmv += 1
            elif status == MS_NO_SPACE:
                st.c[P_NO_SPACE] += 1
            elif status == MS_NON_LRU:
                st.c[P_NON_LRU] += 1
            else:
                st.c[P_RIGHT_NODE] += 1
        mv_finish(m, &mv)
        pghot_unlock(&m.lock)
        apply_movable(self.tr, &mv)
        self.nmoved += nmv
        return nmv

    cdef object _take_moved(self):
        """(pfns, pages, nids) of the pages moved since the last take, as fresh arrays."""
        cdef int64_t k = self.nmoved
        pfns = np.empty(k, dtype=np.int64)
        pages = np.empty(k, dtype=np.int64)
        nids = np.empty(k, dtype=np.int32)
        cdef int64_t[::1] a = pfns
        cdef int64_t[::1] b = pages
        cdef int32_t[::1] c = nids
        cdef int64_t i
        if k:
            memcpy(&a[0], self.moved_pfn, k * sizeof(int64_t))
            memcpy(&b[0], self.moved, k * sizeof(int64_t))
            for i in range(k):
                c[i] = <int32_t>self.moved_node[i]
        self.nmoved = 0
        if self.oom:
            self.oom = False
            raise MemoryError("kpromoted: no memory for the pages moved by a round")
        return pfns, pages, nids

    def round(self, int32_t j, int64_t now):
        """Run one round of node j at ``now``; ``(pfns, pages, nids)`` of what moved.

        ValueError when ``now`` is negative or before the node's previous round.
        """
        self._node(j)
        self._check_now(j, now)
        if self.mlock is not None:
            self.mlock.acquire()
        try:
            self.nmoved = 0
            with nogil:
                self._round(j, now)
        finally:
            if self.mlock is not None:
                self.mlock.release()
        return self._take_moved()

    @property
    def own_buffers(self):
        """Calls of :meth:`run` that found the kept buffers taken by another thread's call
        and used buffers of their own (a diagnostic: the replay never shares a core)."""
        return self.own_works

    # -- the replay's loop of one policy ---------------------------------------------------

    def run(self, pages, times, rpages, rnids, rsrcs, rtimes, int64_t horizon, int64_t next_round,
            int64_t round_j, int64_t bin_jiffies, int64_t[::1] hit_bins, int64_t[::1] promo_bins,
            int64_t[::1] outcomes, int64_t max_rounds=0):
        """One pghot policy over a stretch of the replay (internal: for the replay engine).

        Serves the accesses ``(pages, times)`` (dense pages, non-decreasing
        jiffies, all before ``horizon``), records the reports ``(rpages,
        rnids, rsrcs, rtimes)`` into the tracker at their PFNs, and runs a
        round of every top-tier node at each of ``next_round, next_round +
        round_j, ...`` below ``horizon``.  Order: a round at T comes after
        the accesses before T and the reports before T or page-table-scan
        reports at T, and before everything else (the reports are sorted
        by that key: time, then scan reports first).  Hits are binned into
        ``hit_bins``, pages moved by rounds into ``promo_bins`` (by round
        time), the tracker's outcomes added to ``outcomes[:4]``.

        Idle rounds (nothing queued on any node, no threshold adjustment,
        nothing served or recorded before them) are not run one by one: a
        stretch of them is counted at once (:meth:`idle_rounds`), which is
        what running them does.  ``max_rounds`` > 0 stops after that many
        rounds run (the caller goes on from what was consumed; the replay
        checks for a stop between calls).

        Returns
        -------
        (hits, next_round, moved pages, accesses consumed, reports consumed)
            ``next_round >= horizon`` when the stretch is done.

        Raises
        ------
        ValueError
            A bad argument (nothing changed).
        """
        # private copies, made and checked in one pass each, then the only ones read
        cdef int64_t n = len(pages), nr = len(rpages)
        if len(times) != n:
            raise ValueError(f"times: {len(times)} values for {n} pages")
        if len(rnids) != nr or len(rsrcs) != nr or len(rtimes) != nr:
            raise ValueError("rnids, rsrcs, rtimes: one value per report")
        if round_j < 1 or bin_jiffies < 1:
            raise ValueError("round_j and bin_jiffies must be >= 1")
        if outcomes.shape[0] < NOUTCOMES:
            raise ValueError(f"outcomes: needs {NOUTCOMES} counters")
        if next_round < 0 or horizon < 0:
            raise ValueError("next_round and horizon must be >= 0")
        cdef const uint32_t[::1] sp = _view(pages, np.uint32, "pages")
        cdef const int64_t[::1] st_ = _view(times, np.int64, "times")
        cdef const uint64_t[::1] srp = _view(rpages, np.uint64, "rpages")
        cdef const int32_t[::1] srn = _view(rnids, np.int32, "rnids")
        cdef const int8_t[::1] srs = _view(rsrcs, np.int8, "rsrcs")
        cdef const int64_t[::1] srt = _view(rtimes, np.int64, "rtimes")
        if sp.shape[0] != n or st_.shape[0] != n or srp.shape[0] != nr or srn.shape[0] != nr \
                or srs.shape[0] != nr or srt.shape[0] != nr:
            raise ValueError("pages, times, rpages, rnids, rsrcs, rtimes: changed length")
        # the copies and a serve's buffers in one work area, kept between calls (fresh
        # pages each call cost a page fault per 4 KiB); a call made while another holds
        # it (another thread on the same core) gets its own
        cdef size_t na = <size_t>max(n, 1), nra = <size_t>max(nr, 1)
        cdef size_t need_b = 8 * (2 * na + 4 * nra) + 8 * ((4 * na + 7) // 8)
        need_b += 8 * ((4 * nra + 7) // 8) + na
        cdef char *wb
        cdef void *grown
        cdef uint8_t[::1] ownv
        own = None
        if self.work_busy:
            self.own_works += 1
            own = np.empty(need_b, dtype=np.uint8)
            ownv = own
            wb = <char *>&ownv[0]
        else:
            if need_b > self.work_cap:
                grown = malloc(need_b)
                if grown == NULL:
                    raise MemoryError("kpromoted: no memory for a call's buffers")
                free(self.work)
                self.work = <char *>grown
                self.work_cap = need_b
            wb = self.work
            self.work_busy = True
        try:
            return self._run(n, nr, wb, na, nra, sp, st_, srp, srn, srs, srt, rnids, horizon,
                             next_round, round_j, bin_jiffies, hit_bins, promo_bins, outcomes,
                             max_rounds)
        finally:
            if own is None:
                self.work_busy = False

    cdef object _run(self, int64_t n, int64_t nr, char *wb, size_t na, size_t nra,
                     const uint32_t[::1] sp, const int64_t[::1] st_, const uint64_t[::1] srp,
                     const int32_t[::1] srn, const int8_t[::1] srs, const int64_t[::1] srt,
                     rnids, int64_t horizon, int64_t next_round, int64_t round_j,
                     int64_t bin_jiffies, int64_t[::1] hit_bins, int64_t[::1] promo_bins,
                     int64_t[::1] outcomes, int64_t max_rounds):
        """run's body over the work area ``wb`` (held by this call alone)."""
        cdef pghot_mem_t *m = &self.mem.m
        cdef int64_t i, bad = -1
        cdef int64_t *t = <int64_t *>wb
        cdef int64_t *rn = t + na
        cdef int64_t *rs = rn + nra
        cdef int64_t *rt = rs + nra
        cdef uint64_t *bpfn = <uint64_t *>(rt + nra)
        cdef int64_t *mvp = <int64_t *>(bpfn + nra)
        cdef uint32_t *p = <uint32_t *>(mvp + na)
        cdef uint32_t *rp = p + 2 * ((na + 1) // 2)
        cdef uint8_t *mvf = <uint8_t *>(rp + 2 * ((nra + 1) // 2))
        with nogil:
            if n:
                bad = _copy_accesses(&sp[0], &st_[0], n, &p[0], &t[0], m.npages, horizon)
        if bad >= 0:
            raise ValueError(f"pages/times: access {bad} has a page out of range or a time out "
                             "of order or not below horizon")
        with nogil:
            if nr:
                bad = _copy_reports(&srp[0], &srn[0], &srs[0], &srt[0], nr, &rp[0], &rn[0], &rs[0],
                                    &rt[0], m.npages, horizon)
        if bad >= 0:
            raise ValueError(f"reports: report {bad} has a page or source out of range, or is out "
                             "of order (by time, scan reports first) or not below horizon")
        i = nodemap_targets(&self.tr.nodes, &rn[0], nr) if nr else -1
        if i >= 0:
            raise ValueError(f"rnids[{i}] = {rnids[i]} is not a node of the topology")
        cdef int64_t nbins = hit_bins.shape[0]
        if promo_bins.shape[0] < nbins:
            nbins = promo_bins.shape[0]
        if horizon - 1 >= <int64_t>nbins * bin_jiffies:
            raise ValueError(f"hit_bins, promo_bins: {nbins} bins of {bin_jiffies} jiffies end "
                             f"before horizon {horizon}")
        cdef int64_t need = 0, free_ = 0
        cdef bint ok
        with nogil:
            pghot_lock(&m.lock)
            ok = mem_room(m, &p[0], n, &need, &free_) if n else True
            pghot_unlock(&m.lock)
        if not ok:
            raise MemoryError(f"cannot place {need} pages: {free_} free PFNs")
        cdef int32_t j
        for j in range(self.nn):
            self._check_now(j, next_round)
        cdef int64_t hits = 0, T = next_round, a0 = 0, a1, r0 = 0, r1, k, moved_round, ran = 0
        cdef int64_t tmax, kr
        cdef uint64_t cnt[NOUTCOMES]
        memset(cnt, 0, sizeof(cnt))
        if self.mlock is not None:
            self.mlock.acquire()
        try:
            self.nmoved = 0
            with nogil:
                while True:
                    # the stretch before the next round (or to the end)
                    if T < horizon:
                        a1 = _first_at(t, NULL, a0, n, T)
                        # the reports before the round: key < 2T + 1 (time < T, or a scan's at T)
                        r1 = _first_at(rt, rs, r0, nr, 2 * T + 1)
                    else:
                        a1 = n
                        r1 = nr
                    hits += self._serve(&p[0] if n else NULL, &t[0] if n else NULL, a0, a1,
                                        bin_jiffies, &hit_bins[0], &mvp[0], &mvf[0])
                    self._record(&rp[0] if nr else NULL, &rn[0] if nr else NULL,
                                 &rs[0] if nr else NULL, &rt[0] if nr else NULL, r0, r1,
                                 &bpfn[0], cnt)
                    a0 = a1
                    r0 = r1
                    if T >= horizon:
                        break
                    if max_rounds > 0 and ran >= max_rounds:
                        break
                    if self._idle():
                        # every round up to the next access, report or the horizon is idle:
                        # a round at T comes before the accesses at T and the reports of
                        # key >= 2T + 1 (time, then 0 for a scan report, 1 for others)
                        tmax = horizon - 1
                        if a0 < n and t[a0] < tmax:
                            tmax = t[a0]
                        if r0 < nr:
                            kr = 2 * rt[r0] + (0 if rs[r0] == SRC_PGTABLE_SCAN else 1)
                            if (kr - 1) // 2 < tmax:
                                tmax = (kr - 1) // 2
                        k = (tmax - T) // round_j + 1
                        self._idle_rounds(T, T + (k - 1) * round_j, k)
                        T += k * round_j
                        continue
                    ran += 1
                    moved_round = 0
                    for j in range(self.nn):
                        moved_round += self._round(j, T)
                    if moved_round:
                        promo_bins[T // bin_jiffies] += moved_round
                    T += round_j
        finally:
            if self.mlock is not None:
                self.mlock.release()
        for k in range(NOUTCOMES):
            outcomes[k] += <int64_t>cnt[k]
        _, moved, _ = self._take_moved()
        return hits, T, moved, a0, r0

    cdef bint _idle(self) noexcept nogil:
        """Whether a round now would do nothing but count: no node has a queued record,
        and no threshold adjustment keeps time in its rounds."""
        cdef int32_t j
        if self.adjust or self.throttle:  # both keep time in their rounds' windows
            return False
        for j in range(self.nn):
            if self.tr._queued_in(self.nodes[j].q):
                return False
        return True

    cdef void _idle_rounds(self, int64_t first, int64_t last, int64_t count) noexcept nogil:
        """``count`` idle rounds from ``first`` to ``last`` of every node, at once.

        What running them does (Promoter.idle_rounds has the same): the rounds
        counted, the credit earned over the whole stretch (min(c + a, B) applied
        k times is min(c + sum, B)), and with the bypass each round's reset.
        """
        cdef int32_t j
        cdef node_t *st
        cdef int64_t elapsed
        cdef bint bypass
        cdef pghot_mem_t *m = &self.mem.m
        for j in range(self.nn):
            st = &self.nodes[j]
            elapsed = last - (first if st.last_now < 0 else st.last_now)
            st.last_now = last
            st.c[P_ROUNDS] += count
            self._earn(st, elapsed)
            if self.bypass:
                pghot_lock(&m.lock)
                bypass = m.nfree[st.k] > st.watermark
                pghot_unlock(&m.lock)
                if bypass:
                    st.threshold = self.base
                    st.c[P_BYPASS_ROUNDS] += count

    def idle_rounds(self, int64_t first, int64_t last, int64_t count):
        """``count`` idle rounds of every node from ``first`` to ``last`` (Promoter.idle_rounds)."""
        cdef int32_t j
        if count < 0 or last < first:
            raise ValueError("idle_rounds: count >= 0 and last >= first")
        for j in range(self.nn):
            self._check_now(j, first)
        with nogil:
            self._idle_rounds(first, last, count)

    def idle(self):
        """Whether a round now would only count (see run)."""
        with nogil:
            r = self._idle()
        return r

    cdef int64_t _serve(self, const uint32_t *p, const int64_t *t, int64_t a0, int64_t a1,
                        int64_t bin_j, int64_t *bins, int64_t *mvp, uint8_t *mvf) noexcept nogil:
        cdef pghot_mem_t *m = &self.mem.m
        cdef pghot_mv_t mv
        cdef int64_t hits
        if a1 <= a0:
            return 0
        mv.pfn = mvp
        mv.flag = mvf
        mv.n = 0
        pghot_lock(&m.lock)
        hits = mem_serve(m, p, a0, a1, t, bin_j, bins, &mv)
        mv_finish(m, &mv)
        pghot_unlock(&m.lock)
        apply_movable(self.tr, &mv)
        return hits

    cdef void _record(self, const uint32_t *rp, const int64_t *rn, const int64_t *rs,
                      const int64_t *rt, int64_t r0, int64_t r1, uint64_t *bpfn,
                      uint64_t *cnt) noexcept nogil:
        """Record reports [r0, r1) at their pages' PFNs (record_accesses without the checks)."""
        cdef pghot_mem_t *m = &self.mem.m
        cdef int64_t i, s, k = 0
        cdef pghot_batch b
        cdef uint64_t c[NOUTCOMES]
        cdef uint64_t per_src[NSOURCES]
        cdef pghot_stripe_t *st
        if r1 <= r0:
            return
        pghot_lock(&m.lock)
        for i in range(r0, r1):
            if i + PREFETCH_AHEAD < r1:  # a miss on a large footprint
                pghot_prefetch(&m.pfn_of[rp[i + PREFETCH_AHEAD]])
            s = m.pfn_of[rp[i]]
            # a report's page was served before it (the loop's order); -1 cannot occur
            bpfn[i] = <uint64_t>mem_slot_pfn(m, s) if s >= 0 else <uint64_t>0
        pghot_unlock(&m.lock)
        memset(c, 0, sizeof(c))
        memset(per_src, 0, sizeof(per_src))
        b.pfn = &bpfn[r0]
        b.nid = &rn[r0]
        b.src = &rs[r0]
        b.now = &rt[r0]
        b.n = r1 - r0
        b.nm = -1
        b.sm = -1
        b.tm = -1
        st = gate_enter(&self.tr.gate)
        if self.tr.scratch_len:
            memset(self.scratch, 0, self.tr.scratch_len * sizeof(int64_t))
        self.tr._record_batch(&b, self.scratch if self.tr.scratch_len else NULL, c, per_src)
        for k in range(NSOURCES):
            if per_src[k]:
                pghot_add_u64(&st.count[S_SRC + k], per_src[k])
        for k in range(NOUTCOMES):
            if c[k] and (self.tr.out_mask >> k) & 1:
                pghot_add_u64(&st.count[S_OUT + k], c[k])
            cnt[k] += c[k]
        pghot_gate_leave(st)
