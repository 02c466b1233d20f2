# The simulated tiered memory of the replay: where each logical page of a
# workload lives, first-touch allocation, CLOCK demotion and migration.  The
# semantics are those of the pure-Python specification
# python/pghot/model/memory.py (its module docstring); this class holds the
# state in C arrays and runs every operation in one `noexcept nogil` kernel.
# pghot.machine.memory.TieredMemory is a Python subclass that validates the
# public API's arguments and calls the `_c_*` entry points below; the replay
# engine calls the internal fast entry points (serve, pfns_into,
# second_access, fault_path) directly; _c_demote is the proactive reclaim of TPP.
#
# Data layout.  The state is O(footprint), not O(machine): node k has nr[k]
# PFNs, but only its first mat[k] = min(nr[k], npages) offsets get a dense
# *slot*.  The free stack hands out offsets 0, 1, 2, ... first and is LIFO,
# so an offset is first used only when every lower one is in use, and at
# most npages pages are on a node at once: an offset >= npages is never
# used.  The other nr[k] - mat[k] PFNs of the node are a count, at the
# bottom of its free stack where they would sit (below every materialised
# offset), never popped: nfree[k] counts them with the stack, so every free
# count is what a node of nr[k] slots gives.  The nodes' slots are laid out
# one after the other, the top-tier nodes by nid first, then the lower-tier
# nodes by nid, node k at [base[k], base[k] + mat[k]).  So "is this page on
# the top tier" is `slot < ntop`, one compare, and the maps fit in int32
# (the constructor refuses more than 2**31 - 2 slots or logical pages; the
# PFNs themselves are int64):
#     pfn_of[page]   int32 slot of the page, -1 when not placed
#     owner[slot]    int32 page on the slot, -1 when free
#     freestk        int32 per node a stack of free materialised offsets at
#                    [base[k], stack_end(m, k)), top last, stack_end =
#                    base[k] + nfree[k] - (nr[k] - mat[k]); it starts in
#                    descending order so PFNs are handed out ascending, and
#                    a freed offset is reused first (LIFO)
#     ref[slot]      uint8 CLOCK referenced bit of each top-tier slot (and a sink byte, ref[ntop])
#     promoted_at    int64 jiffies of each page's last promotion, -1
# Why the stack never runs dry while nfree[k] > 0: it is empty only when
# all mat[k] slots are used; then either mat[k] == nr[k] (nfree[k] == 0) or
# all npages pages are on node k, and no page off the node is left to pop a
# slot for.  A full node therefore has mat[k] == nr[k], which is where CLOCK
# sweeps; a proactive demotion (mem_demote) may sweep a node that is not
# full, and sweeps its mat[k] slots: the PFNs beyond are free with clear
# bits, so sweeping them would only carry the hand back to offset 0.
# PFN -> slot: binary search over the nodes that hold PFNs, sorted by start
# (rstart/rend/rk); a PFN beyond its node's materialised part has no slot
# (mem_locate gives -1, which every caller reads as "holds no page", as it
# reads a free slot).  slot -> PFN: start[k] + slot - base[k], k found by a
# scan of the (few) nodes in slot order.  The buffers are numpy arrays
# owned by the instance (`_arrays`), so the Python layer's views of them
# (the `_by_nid` nodes of TieredMemory, used by its corruption tests) stay
# valid.
#
# Nodes.  First touch takes the first node with a free PFN in an order of
# node indices: `order` (the default node, the other top-tier nodes, the
# lower tier) or, once the replay has given each page its home
# (`_set_homes`: the top-tier node of the page's first access), row
# home[page] of `orders` (that node, the other top-tier nodes, the lower
# tier: the expanders whose promotion target is the home first).  Only the
# first touch reads it: a hit costs what it did.  Per node, promotions into
# it and demotions out of it are counted where they happen (migrate,
# demote); the top-tier hits per node only on a machine with several
# top-tier nodes (one compare of a hoisted flag per hit otherwise).
#
# Invariants (TieredMemory.check): pfn_of and owner are inverse bijections
# between placed pages and used slots; node k's free stack holds exactly its
# free materialised offsets once each, and its other nr[k] - mat[k] PFNs are
# free; placed counts the placed pages; a free top-tier slot's referenced
# bit is clear.
#
# Concurrency and lock order.  One spinlock (`m.lock`, pghot_sync.h) guards
# all of the state; every entry point validates with the GIL held, then
# releases the GIL, takes the lock, runs one kernel and releases the lock.
# No kernel allocates, fails or takes the GIL.  The tracker's movable bits
# are never touched under the lock: a kernel records the lower-tier slots it
# changed in a buffer (pghot_mv_t) and their final state (mv_finish, under
# the lock); after the lock is released the entry point calls
# tracker.set_movable.  With a tracker, mutating entry points first take the
# Python lock `_mlock` (with the GIL, before the spinlock, never while holding
# it) and hold it until the tracker is updated, so that two mutations'
# tracker updates cannot land out of order.  Lock order: _mlock -> m.lock;
# the tracker's own locks are only taken under _mlock.
cimport cython
from libc.string cimport memcpy

from libc.stdint cimport int8_t, INT64_MAX
from defs cimport (uint8_t, uint32_t, uint64_t, int32_t, int64_t,
                  pghot_lock_init, pghot_lock, pghot_unlock, pghot_prefetch, PREFETCH_AHEAD)

import threading

import numpy as np

ctypedef fused page_t:
    uint32_t
    int64_t
    uint64_t

ctypedef fused rpage_t:
    uint32_t
    int64_t
    uint64_t

cdef int64_t _SLOT_LIMIT = 2**31 - 2


cdef size_t _addr(object a) except? 0:
    """The address of a numpy array's buffer (held by the instance)."""
    return <size_t>a.__array_interface__["data"][0]


# -- kernels (lock held by the caller unless said otherwise) -------------------------

# node_of_slot and mem_slot_pfn are inline in _memory.pxd (the other stages' lookups too)


cdef int64_t mem_locate(const pghot_mem_t *m, int64_t pfn) noexcept nogil:
    """Slot of a PFN, -1 when it has none: O(log nodes).

    A PFN has no slot when it is in no node, or beyond its node's
    materialised part, where no page ever is.  Every caller reads -1 as a
    PFN that holds no page, as it reads a free slot (owner -1): a free PFN
    gives the same answer either way (NON_LRU, passed over, page -1).
    """
    cdef int32_t lo = 0, hi = m.nranged, mid, k
    cdef int64_t off
    while lo < hi:
        mid = (lo + hi) >> 1
        if m.rstart[mid] <= pfn:
            lo = mid + 1
        else:
            hi = mid
    if lo == 0 or pfn >= m.rend[lo - 1]:
        return -1
    k = m.rk[lo - 1]
    off = pfn - m.rstart[lo - 1]
    if off >= m.mat[k]:
        return -1
    return m.base[k] + off


cdef inline void mv_record(pghot_mv_t *mv, int64_t slot) noexcept nogil:
    if mv.pfn != NULL:
        mv.pfn[mv.n] = slot
        mv.n += 1


cdef void mv_finish(const pghot_mem_t *m, pghot_mv_t *mv) noexcept nogil:
    """Turn the recorded slots into PFNs and their final movable state."""
    cdef int64_t i, s
    if mv.pfn == NULL:
        return
    for i in range(mv.n):
        s = mv.pfn[i]
        mv.flag[i] = m.owner[s] >= 0
        mv.pfn[i] = mem_slot_pfn(m, s)


cdef inline int64_t stack_end(const pghot_mem_t *m, int32_t k) noexcept nogil:
    """One past the top of node k's free stack in freestk (its never-materialised PFNs
    are the bottom nr - mat entries of the stack, not stored)."""
    return m.base[k] + m.nfree[k] - (m.nr[k] - m.mat[k])


cdef inline int64_t pop_free(pghot_mem_t *m, int32_t k) noexcept nogil:
    """A free slot of node k (which has one; then its stack has one), off its stack: O(1)."""
    m.nfree[k] -= 1
    return m.base[k] + m.freestk[stack_end(m, k)]


cdef inline int64_t place(pghot_mem_t *m, int64_t page, int32_t k, pghot_mv_t *mv) noexcept nogil:
    """Place an unplaced page on a free slot of node k: O(1)."""
    cdef int64_t s = pop_free(m, k)
    m.owner[s] = <int32_t>page
    m.pfn_of[page] = <int32_t>s
    if s >= m.ntop:
        mv_record(mv, s)
    return s


cdef inline int64_t first_touch(pghot_mem_t *m, int64_t page, pghot_mv_t *mv) noexcept nogil:
    """Place a page on the first node of the first-touch order with room (one exists)."""
    cdef int32_t j, k
    cdef const int32_t *order = m.order
    if m.home != NULL:
        order = m.orders + <int64_t>m.home[page] * m.norder
    for j in range(m.norder):
        k = order[j]
        if m.nfree[k] > 0:
            m.placed += 1
            return place(m, page, k, mv)
    return -1  # not reached: the caller checked the room


cdef inline void release(pghot_mem_t *m, int64_t s) noexcept nogil:
    """Make slot s free (owner, free stack, referenced bit): O(nodes)."""
    cdef int32_t k = node_of_slot(m, s)
    m.owner[s] = -1
    m.freestk[stack_end(m, k)] = <int32_t>(s - m.base[k])
    m.nfree[k] += 1
    if s < m.ntop:
        m.ref[s] = 0


cdef int64_t total_free(const pghot_mem_t *m) noexcept nogil:
    cdef int64_t f = 0
    cdef int32_t k
    for k in range(m.nnodes):
        f += m.nfree[k]
    return f


cdef int64_t count_new(pghot_mem_t *m, const page_t *pages, int64_t n) noexcept nogil:
    """Distinct unplaced pages among pages[:n] (marks them -2, then clears the marks)."""
    cdef int64_t i, c = 0
    for i in range(n):
        if m.pfn_of[pages[i]] == -1:
            m.pfn_of[pages[i]] = -2
            c += 1
    for i in range(n):
        if m.pfn_of[pages[i]] == -2:
            m.pfn_of[pages[i]] = -1
    return c


cdef inline bint room_for(pghot_mem_t *m, const page_t *pages, int64_t n, int64_t *need,
                          int64_t *free) noexcept nogil:
    """Whether the accesses pages[:n] can place all their new pages.

    Only counts them (a second pass) when the free PFNs might not do.
    """
    free[0] = total_free(m)
    need[0] = 0
    if free[0] >= n or free[0] >= m.npages - m.placed:
        return True
    need[0] = count_new(m, pages, n)
    return need[0] <= free[0]


cdef int64_t serve_range(pghot_mem_t *m, const page_t *pages, int64_t i0, int64_t i1,
                         const int64_t *times, int64_t bin_j, int64_t *bins, int64_t *out,
                         pghot_mv_t *mv) noexcept nogil:
    """Access pages[i0:i1] in order: O(1) each (first touch: O(nodes)).

    First-touch placement of a page at its first occurrence, the referenced
    bit of a top-tier slot, a top-tier hit counted (and binned when `bins`);
    the PFN of each access into `out` when not NULL.  Returns the hits.
    Placing page by page in order is what TieredMemory.access does (all new
    pages in the order of first occurrence, then the referenced bits): a
    placement only takes a free slot, whose referenced bit is clear.
    """
    cdef int64_t i, s, hits = 0, t, hit
    cdef int64_t p, b = 0, lo = 1, hi = 0   # times [lo, hi) are bin b: one division per bin
    cdef int64_t run = 0  # the hits of bin b not yet added to bins[b]
    # the maps in locals: a store into ref (bytes) may alias any field for the compiler;
    # first touch changes what they point to, never the pointers
    cdef const int32_t *pfn_of = m.pfn_of
    cdef uint8_t *ref = m.ref
    cdef int64_t ntop = m.ntop
    cdef bint per_node = m.ntopnodes > 1
    cdef int64_t ahead = i1 - PREFETCH_AHEAD
    for i in range(i0, i1):
        # the page's slot is a miss on a large footprint: fetched PREFETCH_AHEAD accesses early
        if i < ahead:
            pghot_prefetch(&pfn_of[pages[i + PREFETCH_AHEAD]])
        p = <int64_t>pages[i]
        s = pfn_of[p]
        if s < 0:
            s = first_touch(m, p, mv)
        # the hit test without a branch: whether an access hits the top tier is as good
        # as random, and a mispredicted branch per access was most of this loop's time
        hit = s < ntop
        hits += hit
        ref[s if hit else ntop] = 1  # the referenced bit (a miss sets the sink, ref[ntop])
        if per_node and hit:
            m.nhits[node_of_slot(m, s)] += 1
        if bins != NULL:
            t = times[i]
            if t < lo or t >= hi:
                if run:
                    bins[b] += run
                    run = 0
                b = t // bin_j
                lo = b * bin_j
                hi = lo + bin_j
            run += hit
        if out != NULL:
            out[i] = mem_slot_pfn(m, s)
    if run:
        bins[b] += run
    return hits


cdef int64_t clock_victim(pghot_mem_t *m, int32_t k) noexcept nogil:
    """Offset of the CLOCK victim of top-tier node k, which holds a page: O(mat) worst case.

    From the hand on, clear referenced bits until a used slot with a clear
    bit (at most two revolutions); the hand stops just after it.  The sweep
    covers the node's mat[k] slots: all of it when the node is full (then
    mat[k] == nr[k]); the free never-materialised PFNs beyond, with clear
    bits, would only carry the hand back to offset 0 (the narrative block).
    """
    cdef int64_t n = m.mat[k], b = m.base[k], pos = m.hand[k], step
    for step in range(2 * n + 1):
        if m.ref[b + pos] == 0 and m.owner[b + pos] >= 0:
            m.hand[k] = (pos + 1) % n
            return pos
        m.ref[b + pos] = 0
        pos += 1
        if pos == n:
            pos = 0
    return pos  # not reached: a full node has a used slot


cdef int64_t move(pghot_mem_t *m, int64_t s, int32_t kd, pghot_mv_t *mv) noexcept nogil:
    """Move the page on slot s to a free slot of node kd (which has one); the new slot."""
    cdef int64_t page = m.owner[s]
    cdef int64_t ns = pop_free(m, kd)
    m.owner[ns] = <int32_t>page
    release(m, s)
    m.pfn_of[page] = <int32_t>ns
    if s >= m.ntop:
        mv_record(mv, s)
    if ns >= m.ntop:
        mv_record(mv, ns)
    m.stats[ST_MIGRATE_SUCCESS] += 1
    return ns


cdef int32_t lower_with_room(const pghot_mem_t *m, int32_t k) noexcept nogil:
    """Where top-tier node k demotes: the first lower-tier node with a free PFN of its row of
    `orders` (the nodes whose promotion target k is first, then the others, by nid: the
    kernel's preferred demotion targets, then every lower-tier node); -1 when all are full."""
    cdef const int32_t *row = m.orders + <int64_t>k * m.norder
    cdef int32_t j
    for j in range(m.ntopnodes, m.norder):
        if m.nfree[row[j]] > 0:
            return row[j]
    return -1


cdef int64_t demote_slot(pghot_mem_t *m, int64_t vs, int32_t k, int32_t dest, int64_t now,
                         pghot_mv_t *mv) noexcept nogil:
    """Demote the page on slot vs of top-tier node k to lower-tier node dest (which has
    room): counted (pgdemote_kswapd, node k's demotions, a ping-pong); the page."""
    cdef int64_t victim = m.owner[vs], promoted
    move(m, vs, dest, mv)
    m.stats[ST_DEMOTE_KSWAPD] += 1
    m.ndemo[k] += 1
    promoted = m.promoted_at[victim]
    if promoted >= 0 and now >= promoted and now - promoted <= m.ping_pong_j:
        m.stats[ST_PING_PONG] += 1
    m.promoted_at[victim] = -1
    return victim


cdef int mem_migrate(pghot_mem_t *m, int64_t pfn, int32_t tk, int64_t now,
                     pghot_mv_t *mv) noexcept nogil:
    """Move the page on `pfn` to top-tier node tk, demoting its CLOCK victim when full.

    Returns a MigrateStatus value.  O(log nodes), plus the CLOCK sweep.
    """
    cdef int64_t s = mem_locate(m, pfn), page, ns
    cdef int32_t dest
    cdef bint promotion
    if s < 0 or m.owner[s] < 0:
        return MS_NON_LRU
    if node_of_slot(m, s) == tk:
        return MS_RIGHT_NODE
    promotion = s >= m.ntop
    if m.nfree[tk] == 0:
        dest = lower_with_room(m, tk)
        if not m.demotion or dest < 0 or m.nr[tk] == 0:
            if promotion:
                m.stats[ST_PROMOTE_FAIL_NO_SPACE] += 1
            return MS_NO_SPACE
        demote_slot(m, m.base[tk] + clock_victim(m, tk), tk, dest, now, mv)
    page = m.owner[s]
    ns = move(m, s, tk, mv)
    m.ref[ns] = 1
    if promotion:
        m.stats[ST_PROMOTE_SUCCESS] += 1
        m.npromo[tk] += 1
        m.promoted_at[page] = now
    return MS_OK


cdef int64_t mem_demote(pghot_mem_t *m, int32_t k, int64_t n, int64_t now, int64_t *out,
                        pghot_mv_t *mv) noexcept nogil:
    """Demote up to n CLOCK victims of top-tier node k to its first demotion target
    with room (lower_with_room), into out[]; the number demoted.  O(n) moves plus the
    CLOCK sweeps."""
    cdef int64_t done = 0
    cdef int32_t dest
    if not m.demotion:
        return 0
    while done < n and m.nfree[k] < m.nr[k]:
        dest = lower_with_room(m, k)
        if dest < 0:
            break
        out[done] = demote_slot(m, m.base[k] + clock_victim(m, k), k, dest, now, mv)
        done += 1
    return done


cdef int64_t mem_demote_pfns(pghot_mem_t *m, const int64_t *pfns, int64_t n, int64_t now,
                             int64_t *out, pghot_mv_t *mv) noexcept nogil:
    """Demote the pages on the given top-tier PFNs (in order) to their node's first
    demotion target with room (lower_with_room), into out[]; the number demoted.  A PFN
    that is free, not in a node or on the lower tier is passed over; stops when the
    page's demotion targets are all full."""
    cdef int64_t i, s, done = 0
    cdef int32_t dest, k
    if not m.demotion:
        return 0
    for i in range(n):
        s = mem_locate(m, pfns[i])
        if s < 0 or s >= m.ntop or m.owner[s] < 0:
            continue
        k = node_of_slot(m, s)
        dest = lower_with_room(m, k)
        if dest < 0:
            break
        out[done] = demote_slot(m, s, k, dest, now, mv)
        done += 1
    return done


cdef int64_t second_access_kernel(
    pghot_mem_t *m, const page_t *pages, const int64_t *times, int64_t n,
    int64_t bin_j, int64_t *bins, const rpage_t *rpages, const int64_t *rtimes, int64_t nr,
    int64_t *last, int64_t win, int32_t tk, const int32_t *rtk, int64_t *ppages, int64_t *ptimes,
    int64_t *npromoted, pghot_mv_t *mv) noexcept nogil:
    """The second-access baseline over one segment (see MemoryCore.second_access).

    Report i promotes to node index rtk[i] (its accessing node's target), or tk when rtk is NULL.
    """
    cdef int64_t pos = 0, j, i, p, t, s, prev, hits = 0, np_ = 0
    for i in range(nr):
        p = <int64_t>rpages[i]
        t = rtimes[i]
        s = m.pfn_of[p]
        if s < 0:  # first touched in this segment, not served yet
            j = pos
            while j < n and times[j] <= t:
                j += 1
            hits += serve_range(m, pages, pos, j, times, bin_j, bins, NULL, mv)
            pos = j
            s = m.pfn_of[p]
        if s < m.ntop:  # top tier, or still not placed
            continue
        prev = last[p]
        if prev >= 0 and t - prev <= win:
            j = pos
            while j < n and times[j] <= t:
                j += 1
            hits += serve_range(m, pages, pos, j, times, bin_j, bins, NULL, mv)
            pos = j
            if mem_migrate(m, mem_slot_pfn(m, s), rtk[i] if rtk != NULL else tk, t, mv) == MS_OK:
                ppages[np_] = p
                ptimes[np_] = t
                np_ += 1
                last[p] = -1
            else:
                last[p] = t
        else:
            last[p] = t
    hits += serve_range(m, pages, pos, n, times, bin_j, bins, NULL, mv)
    npromoted[0] = np_
    return hits


cdef inline int64_t ceil_ms(int64_t t, int64_t hz) noexcept nogil:
    """jiffies_to_msecs, rounded up (t >= 0; the caller keeps t * 1000 in int64)."""
    return (t * 1000 + hz - 1) // hz


cdef int64_t fault_path_kernel(
    pghot_mem_t *m, const page_t *pages, const int64_t *times, int64_t n,
    int64_t bin_j, int64_t *bins, const rpage_t *rpages, const int64_t *rtimes,
    const int8_t *rsrcs, const int64_t *rlat, int64_t nr, int policy, const int64_t *par,
    int64_t *st, int64_t *cnt, uint8_t *active, int32_t tk, const int32_t *rtk, int64_t *ppages,
    int64_t *ptimes, int64_t *npromoted, pghot_mv_t *mv) noexcept nogil:
    """The hint-fault path of numab2 (policy 0) or tpp (1) over one segment (see MemoryCore.fault_path).

    Report i promotes to node index rtk[i] (its accessing node's target), or tk when rtk is NULL.
    """
    cdef int64_t pos = 0, j, i, p, t, s, hits = 0, np_ = 0, now_ms, th, unit, diff, lat
    cdef int64_t *sn
    cdef const int64_t *enough = NULL  # numab2: par[8:], one margin per top-tier node index
    cdef int32_t tki
    cdef int code
    cdef bint promote
    for i in range(nr):
        if rsrcs[i] != 2:  # Source.HINT_FAULT
            continue
        p = <int64_t>rpages[i]
        t = rtimes[i]
        s = m.pfn_of[p]
        if s < 0:  # first touched in this segment, not served yet
            j = pos
            while j < n and times[j] <= t:
                j += 1
            hits += serve_range(m, pages, pos, j, times, bin_j, bins, NULL, mv)
            pos = j
            s = m.pfn_of[p]
        if s < m.ntop:  # the top tier (or not placed): no hint fault in tiering mode
            continue
        cnt[0] += 1
        promote = False
        tki = rtk[i] if rtk != NULL else tk
        if policy == 1:  # tpp: par = [active_check]; cnt = [faults, activated, no_space]
            if par[0] and not active[p]:
                active[p] = 1
                cnt[1] += 1
                continue
            promote = True
        else:
            # numab2: par = [hot_ms, rate_pages, adjust, period_ms, -, hz, hi, lo, enough per
            # top-tier node index...]; st = 7 per top-tier node index k, the node's pgdat
            # (threshold, th_start, th_nr_cand, rl_start, rl_nr_cand, nr_cand, maybe_enough);
            # cnt = [faults, free_space, latency_refused, rate_limited, no_space, raised, lowered]
            now_ms = ceil_ms(t, par[5])
            enough = par + 8
            sn = st + <int64_t>tki * 7  # the target node's state: the kernel's is per pgdat
            if sn[6]:
                j = pos
                while j < n and times[j] <= t:
                    j += 1
                hits += serve_range(m, pages, pos, j, times, bin_j, bins, NULL, mv)
                pos = j
                if m.nfree[tki] > enough[tki]:
                    sn[0] = 0
                    m.stats[ST_PROMOTE_CANDIDATE_NRL] += 1
                    cnt[1] += 1
                    promote = True
                else:
                    sn[6] = 0
            if not promote:
                if par[2] and now_ms - sn[1] > par[3]:
                    sn[1] = now_ms
                    diff = sn[5] - sn[2]
                    unit = par[0] * 2 // 16
                    th = sn[0] if sn[0] else par[0]
                    if diff > par[6]:
                        th = th - unit if th - unit > unit else unit
                        cnt[6] += 1
                    elif diff < par[7]:
                        th = th + unit if th + unit < 2 * par[0] else 2 * par[0]
                        cnt[5] += 1
                    sn[2] = sn[5]
                    sn[0] = th
                th = sn[0] if sn[0] else par[0]
                lat = rlat[i]
                if lat < 0 or now_ms - ceil_ms(t - lat, par[5]) >= th:
                    cnt[2] += 1
                    continue
                sn[5] += 1
                m.stats[ST_PROMOTE_CANDIDATE] += 1
                if now_ms - sn[3] > 1000:
                    sn[3] = now_ms
                    sn[4] = sn[5]
                if sn[5] - sn[4] >= par[1]:
                    cnt[3] += 1
                    continue
        j = pos
        while j < n and times[j] <= t:
            j += 1
        hits += serve_range(m, pages, pos, j, times, bin_j, bins, NULL, mv)
        pos = j
        code = mem_migrate(m, mem_slot_pfn(m, s), tki, t, mv)
        if code == MS_OK:
            if policy == 1:
                active[p] = 0
            ppages[np_] = p
            ptimes[np_] = t
            np_ += 1
        elif code == MS_NO_SPACE:
            cnt[2 if policy == 1 else 4] += 1
    hits += serve_range(m, pages, pos, n, times, bin_j, bins, NULL, mv)
    npromoted[0] = np_
    return hits


# Exported to the other compiled stages (_memory.pxd): the uint32 pages of the
# replay's stream, without the fused types (a .pxd cannot declare those).
cdef int64_t mem_serve(pghot_mem_t *m, const uint32_t *pages, int64_t i0, int64_t i1,
                       const int64_t *times, int64_t bin_j, int64_t *bins,
                       pghot_mv_t *mv) noexcept nogil:
    """serve_range over uint32 pages (the caller holds m.lock)."""
    return serve_range(m, pages, i0, i1, times, bin_j, bins, NULL, mv)


cdef bint mem_room(pghot_mem_t *m, const uint32_t *pages, int64_t n, int64_t *need,
                   int64_t *free) noexcept nogil:
    """room_for over uint32 pages (the caller holds m.lock)."""
    return room_for(m, pages, n, need, free)


cdef int32_t mem_node_of_slot(const pghot_mem_t *m, int64_t s) noexcept nogil:
    return node_of_slot(m, s)


cdef int64_t scan_accesses(const page_t *pages, const int64_t *times, int64_t n,
                           int64_t npages) noexcept nogil:
    """Index of the first access with a page out of range or a time before the
    previous one (or negative), -1 when all are fine: one sequential pass."""
    cdef int64_t i, prev = 0
    for i in range(n):
        if <uint64_t>pages[i] >= <uint64_t>npages or times[i] < prev:
            return i
        prev = times[i]
    return -1


cdef int64_t scan_reports(const rpage_t *pages, const int64_t *times, int64_t n,
                          int64_t npages) noexcept nogil:
    cdef int64_t i
    for i in range(n):
        if <uint64_t>pages[i] >= <uint64_t>npages or times[i] < 0:
            return i
    return -1


# -- the class ---------------------------------------------------------------------


cdef class MemoryCore:
    """The compiled state of :class:`pghot.machine.memory.TieredMemory` (internal).

    Use :class:`pghot.machine.memory.TieredMemory`; this base class holds the
    state and its kernels.  Its ``_c_*`` methods take arguments the subclass
    has validated.  The internal fast entry points ``serve``, ``pfns_into``
    and ``second_access`` are for the replay engine: they check their
    arguments only as memory safety needs (dtype, contiguity, lengths,
    bounds, in one pass per call), release the GIL and take the memory's lock
    once per call.
    """

    def __cinit__(self, *args, **kwargs):
        self.m.pfn_of = NULL
        self.m.promoted_at = NULL
        self.m.owner = NULL
        self.m.freestk = NULL
        self.m.ref = NULL
        self.m.base = NULL
        self.m.nr = NULL
        self.m.mat = NULL
        self.m.start = NULL
        self.m.nfree = NULL
        self.m.hand = NULL
        self.m.order = NULL
        self.m.rstart = NULL
        self.m.rend = NULL
        self.m.rk = NULL
        self.m.home = NULL
        self.m.orders = NULL
        self.m.nhits = NULL
        self.m.npromo = NULL
        self.m.ndemo = NULL
        self.m.nnodes = 0
        self.m.npages = 0
        self.m.placed = 0
        for i in range(NMEMSTATS):
            self.m.stats[i] = 0
        pghot_lock_init(&self.m.lock)
        self._tracker_obj = None
        self._mlock = None
        self._arrays = None

    # nothing to free: the buffers belong to the numpy arrays in `_arrays`

    def _setup(self, topology, int64_t npages, bint demotion, int64_t ping_pong_j, tracker):
        """Build the state for ``topology`` (called once, by TieredMemory.__init__)."""
        if self._arrays is not None:
            raise RuntimeError("the memory is set up already")
        nodes = list(topology.nodes)
        tops = sorted((n for n in nodes if n.toptier), key=lambda n: n.nid)
        lows = sorted((n for n in nodes if not n.toptier), key=lambda n: n.nid)
        slot_nodes = tops + lows
        if npages > _SLOT_LIMIT:
            raise MemoryError(f"logical_pages: {npages}, more than the memory model's {_SLOT_LIMIT}")
        # the slots: the first min(nr, npages) PFNs of each node (the narrative block)
        nslots = sum(min(n.nr_pages, npages) for n in slot_nodes)
        if nslots > _SLOT_LIMIT:
            raise MemoryError(
                f"topology: {nslots} PFNs to hold (min(nr_pages, logical_pages) per node), "
                f"more than the memory model's {_SLOT_LIMIT}"
            )
        ntop = sum(min(n.nr_pages, npages) for n in tops)
        nn = len(slot_nodes)
        index = {n.nid: k for k, n in enumerate(slot_nodes)}
        base = np.zeros(nn, dtype=np.int64)
        nr = np.array([n.nr_pages for n in slot_nodes], dtype=np.int64)
        mat = np.minimum(nr, npages)
        if nn:
            base[1:] = np.cumsum(mat)[: nn - 1]
        start = np.array([n.start_pfn for n in slot_nodes], dtype=np.int64)
        nfree = nr.copy()
        hand = np.zeros(nn, dtype=np.int64)
        dflt = index[topology.default_node]
        order = [dflt] + [k for k in range(len(tops)) if k != dflt] + list(range(len(tops), nn))
        order_a = np.array(order, dtype=np.int32)
        ranged = sorted((k for k in range(nn) if nr[k] > 0), key=lambda k: start[k])
        rstart = np.array([start[k] for k in ranged], dtype=np.int64)
        rend = np.array([start[k] + nr[k] for k in ranged], dtype=np.int64)
        rk = np.array(ranged, dtype=np.int32)
        pfn_of = np.full(npages, -1, dtype=np.int32)
        promoted_at = np.full(npages, -1, dtype=np.int64)
        owner = np.full(nslots, -1, dtype=np.int32)
        freestk = np.empty(nslots, dtype=np.int32)
        for k in range(nn):
            freestk[base[k] : base[k] + mat[k]] = np.arange(mat[k] - 1, -1, -1, dtype=np.int32)
        ref = np.zeros(ntop + 1, dtype=np.uint8)  # ref[ntop]: serve_range's sink for misses
        # per top-tier home h: h, the other top-tier nodes, then the lower tier with the
        # nodes whose promotion target is h first (each group in nid order)
        rows = []
        for h in range(len(tops)):
            low = sorted(range(len(tops), nn),
                         key=lambda k: (topology.promotion_target(slot_nodes[k].nid) != tops[h].nid, k))
            rows.append([h] + [k for k in range(len(tops)) if k != h] + low)
        orders_a = np.array(rows, dtype=np.int32).reshape(-1) if rows else np.zeros(1, np.int32)
        nhits = np.zeros(max(nn, 1), dtype=np.int64)
        npromo = np.zeros(max(nn, 1), dtype=np.int64)
        ndemo = np.zeros(max(nn, 1), dtype=np.int64)
        self._arrays = {
            "pfn_of": pfn_of, "promoted_at": promoted_at, "owner": owner, "freestk": freestk,
            "ref": ref, "base": base, "nr": nr, "mat": mat, "start": start, "nfree": nfree, "hand": hand,
            "order": order_a, "rstart": rstart, "rend": rend, "rk": rk,
            "index": index, "nids": [n.nid for n in slot_nodes],
            "orders": orders_a, "nhits": nhits, "npromo": npromo, "ndemo": ndemo, "home": None,
        }
        self.m.orders = <int32_t *>_addr(orders_a)
        self.m.nhits = <int64_t *>_addr(nhits)
        self.m.npromo = <int64_t *>_addr(npromo)
        self.m.ndemo = <int64_t *>_addr(ndemo)
        self.m.pfn_of = <int32_t *>_addr(pfn_of)
        self.m.promoted_at = <int64_t *>_addr(promoted_at)
        self.m.owner = <int32_t *>_addr(owner)
        self.m.freestk = <int32_t *>_addr(freestk)
        self.m.ref = <uint8_t *>_addr(ref)
        self.m.base = <int64_t *>_addr(base)
        self.m.nr = <int64_t *>_addr(nr)
        self.m.mat = <int64_t *>_addr(mat)
        self.m.start = <int64_t *>_addr(start)
        self.m.nfree = <int64_t *>_addr(nfree)
        self.m.hand = <int64_t *>_addr(hand)
        self.m.order = <int32_t *>_addr(order_a)
        self.m.rstart = <int64_t *>_addr(rstart)
        self.m.rend = <int64_t *>_addr(rend)
        self.m.rk = <int32_t *>_addr(rk)
        self.m.nnodes = nn
        self.m.ntopnodes = len(tops)
        self.m.npages = npages
        self.m.nslots = nslots
        self.m.ntop = ntop
        self.m.norder = len(order)
        self.m.nranged = len(ranged)
        self.m.demotion = demotion
        self.m.ping_pong_j = ping_pong_j
        self._tracker_obj = tracker
        self._mlock = threading.Lock() if tracker is not None else None

    def _set_homes(self, homes):
        """Each page's first-touch home, a top-tier node index (int32, one per logical page).

        Checked here (the caller validates the public argument); replaces any
        earlier homes.  Pages placed already keep their PFNs.
        """
        a = np.array(homes, dtype=np.int32, copy=True)
        if a.ndim != 1 or a.shape[0] != self.m.npages:
            raise ValueError(f"homes: needs one value per logical page ({self.m.npages})")
        if a.shape[0] and (int(a.min()) < 0 or int(a.max()) >= self.m.ntopnodes):
            raise ValueError("homes: a home is not a top-tier node index")
        if a.shape[0] == 0:
            a = np.zeros(1, dtype=np.int32)
        cdef int32_t *hp = <int32_t *>_addr(a)
        old = self._arrays["home"]
        self._arrays["home"] = a  # owns the buffer from here on (the old one until the swap)
        with nogil:
            pghot_lock(&self.m.lock)
            self.m.home = hp
            pghot_unlock(&self.m.lock)
        del old

    def _target_indices(self, targets, Py_ssize_t n):
        """Top-tier nids (one per report) as node indices (int32, a fresh array); ValueError naming one that is not."""
        a = np.asarray(targets)
        if a.ndim != 1 or a.shape[0] != n or a.dtype.kind not in "iu":
            raise ValueError(f"rep_targets: needs {n} integer node ids, one per report")
        out = np.empty(max(n, 1), dtype=np.int32)
        for nid in np.unique(a).tolist():
            k = self._node_index(nid)
            if k < 0 or k >= self.m.ntopnodes:
                raise ValueError(f"rep_targets: {nid} is not a top-tier node")
            out[:n][a == nid] = k
        return out

    def _c_node_stats(self):
        """(top-tier hits, promotions in, demotions out) per node index, copied under the lock."""
        cdef Py_ssize_t nn = max(self.m.nnodes, 1)
        h = np.empty(nn, dtype=np.int64)
        p = np.empty(nn, dtype=np.int64)
        d = np.empty(nn, dtype=np.int64)
        cdef int64_t[::1] hv = h, pv = p, dv = d
        with nogil:
            pghot_lock(&self.m.lock)
            memcpy(&hv[0], self.m.nhits, nn * sizeof(int64_t))
            memcpy(&pv[0], self.m.npromo, nn * sizeof(int64_t))
            memcpy(&dv[0], self.m.ndemo, nn * sizeof(int64_t))
            pghot_unlock(&self.m.lock)
        return h, p, d

    # -- helpers of the entry points ----------------------------------------------------

    cdef int _mv_buffers(self, pghot_mv_t *mv, Py_ssize_t cap, list keep) except -1:
        """Buffers for up to `cap` movable changes (none without a tracker)."""
        mv.n = 0
        mv.pfn = NULL
        mv.flag = NULL
        if self._tracker_obj is None:
            return 0
        cdef int64_t[::1] a = np.empty(max(cap, 1), dtype=np.int64)
        cdef uint8_t[::1] f = np.empty(max(cap, 1), dtype=np.uint8)
        keep.append(a.base)
        keep.append(f.base)
        mv.pfn = &a[0]
        mv.flag = &f[0]
        return 0

    cdef int _mv_apply(self, pghot_mv_t *mv, list keep) except -1:
        """Push the final movable state of the changed PFNs (the memory's lock is free)."""
        if mv.pfn == NULL or mv.n == 0:
            return 0
        pfns = np.asarray(keep[0])[: mv.n]
        flags = np.asarray(keep[1])[: mv.n].view(np.bool_)
        on = pfns[flags]
        off = pfns[~flags]
        if on.size:
            self._tracker_obj.set_movable(on, True)
        if off.size:
            self._tracker_obj.set_movable(off, False)
        return 0

    def _node_index(self, nid):
        """Node index of a nid (slot order), -1 when it is no node (or before _setup)."""
        if self._arrays is None:
            return -1
        return self._arrays["index"].get(nid, -1)

    def _is_top_index(self, int32_t k):
        return k < self.m.ntopnodes

    def _slot_pfn(self, int64_t slot):
        """PFN of a slot, -1 for one out of range."""
        if slot < 0 or slot >= self.m.nslots:
            return -1
        return mem_slot_pfn(&self.m, slot)

    @property
    def _placed(self):
        """Placed pages (settable: the corruption tests of check())."""
        return self.m.placed

    @_placed.setter
    def _placed(self, int64_t value):
        self.m.placed = value

    def _c_nfree(self, int32_t k):
        with nogil:
            pghot_lock(&self.m.lock)
            r = self.m.nfree[k]
            pghot_unlock(&self.m.lock)
        return r

    def _c_len(self):
        with nogil:
            pghot_lock(&self.m.lock)
            r = self.m.placed
            pghot_unlock(&self.m.lock)
        return r

    def _c_stats(self):
        cdef int64_t s[NMEMSTATS]
        with nogil:
            pghot_lock(&self.m.lock)
            memcpy(s, self.m.stats, sizeof(s))
            pghot_unlock(&self.m.lock)
        return [s[i] for i in range(NMEMSTATS)]

    def _c_count(self, int64_t n, bint nrl):
        """Add n to pgpromote_candidate(_nrl); False when it would overflow (unchanged)."""
        cdef int i = ST_PROMOTE_CANDIDATE_NRL if nrl else ST_PROMOTE_CANDIDATE
        cdef bint ok
        with nogil:
            pghot_lock(&self.m.lock)
            ok = self.m.stats[i] <= INT64_MAX - n
            if ok:
                self.m.stats[i] += n
            pghot_unlock(&self.m.lock)
        return ok

    def _c_snapshot(self):
        """Copies of pfn_of, owner, freestk, nfree and placed, read under the lock."""
        a = self._arrays
        pfn_of = np.empty_like(a["pfn_of"])
        owner = np.empty_like(a["owner"])
        freestk = np.empty_like(a["freestk"])
        nfree = np.empty_like(a["nfree"])
        cdef int32_t[::1] p = pfn_of, o = owner, f = freestk
        cdef int64_t[::1] nf = nfree
        cdef int64_t placed
        with nogil:
            pghot_lock(&self.m.lock)
            if self.m.npages:
                memcpy(&p[0], self.m.pfn_of, self.m.npages * sizeof(int32_t))
            if self.m.nslots:
                memcpy(&o[0], self.m.owner, self.m.nslots * sizeof(int32_t))
                memcpy(&f[0], self.m.freestk, self.m.nslots * sizeof(int32_t))
            if self.m.nnodes:
                memcpy(&nf[0], self.m.nfree, self.m.nnodes * sizeof(int64_t))
            placed = self.m.placed
            pghot_unlock(&self.m.lock)
        return pfn_of, owner, freestk, nfree, placed

    def _c_pfn(self, int64_t page):
        cdef int64_t r
        with nogil:
            pghot_lock(&self.m.lock)
            r = mem_slot_pfn(&self.m, self.m.pfn_of[page])
            pghot_unlock(&self.m.lock)
        return r

    def _c_page_at(self, int64_t pfn):
        cdef int64_t r, s
        with nogil:
            pghot_lock(&self.m.lock)
            s = mem_locate(&self.m, pfn)
            r = -1 if s < 0 else self.m.owner[s]
            pghot_unlock(&self.m.lock)
        return r

    def _c_pfns(self, const int64_t[::1] pages):
        cdef Py_ssize_t i, n = pages.shape[0]
        out = np.empty(n, dtype=np.int64)
        cdef int64_t[::1] o = out
        with nogil:
            pghot_lock(&self.m.lock)
            for i in range(n):
                o[i] = mem_slot_pfn(&self.m, self.m.pfn_of[pages[i]])
            pghot_unlock(&self.m.lock)
        return out

    def _c_pages(self, const int64_t[::1] pfns):
        cdef Py_ssize_t i, n = pfns.shape[0]
        cdef int64_t s
        out = np.empty(n, dtype=np.int64)
        cdef int64_t[::1] o = out
        with nogil:
            pghot_lock(&self.m.lock)
            for i in range(n):
                s = mem_locate(&self.m, pfns[i])
                o[i] = -1 if s < 0 else self.m.owner[s]
            pghot_unlock(&self.m.lock)
        return out

    def _c_pages_on(self, int32_t k):
        """Pages on node k in PFN order (a copy made under the lock)."""
        cdef int64_t n = self.m.mat[k], b = self.m.base[k], i, c = 0
        out = np.empty(n, dtype=np.int64)
        cdef int64_t[::1] o = out
        with nogil:
            pghot_lock(&self.m.lock)
            for i in range(n):
                if self.m.owner[b + i] >= 0:
                    o[c] = self.m.owner[b + i]
                    c += 1
            pghot_unlock(&self.m.lock)
        return out[:c].copy()

    def _c_recheck(self, const int64_t[::1] pfns, int32_t tk):
        cdef Py_ssize_t i, n = pfns.shape[0]
        cdef int64_t s
        out = np.empty(n, dtype=np.int8)
        cdef int8_t[::1] o = out
        with nogil:
            pghot_lock(&self.m.lock)
            for i in range(n):
                s = mem_locate(&self.m, pfns[i])
                if s < 0 or self.m.owner[s] < 0:
                    o[i] = MS_NON_LRU
                elif node_of_slot(&self.m, s) == tk:
                    o[i] = MS_RIGHT_NODE
                else:
                    o[i] = MS_OK
            pghot_unlock(&self.m.lock)
        return out

    # -- mutations -------------------------------------------------------------------

    def _c_allocate(self, const int64_t[::1] pages, int32_t k):
        """Place distinct pages (k: one node, -1: first touch); all or nothing.

        ValueError when a page is placed already, MemoryError without room.
        """
        cdef Py_ssize_t i, n = pages.shape[0]
        cdef int64_t bad = -1, free = 0, s
        cdef int32_t j
        cdef pghot_mv_t mv
        cdef list keep = []
        out = np.empty(n, dtype=np.int64)
        cdef int64_t[::1] o = out
        if self._mlock is not None:
            self._mlock.acquire()
        try:
            self._mv_buffers(&mv, n, keep)
            with nogil:
                pghot_lock(&self.m.lock)
                for i in range(n):
                    if self.m.pfn_of[pages[i]] >= 0:
                        bad = i
                        break
                if bad < 0:
                    if k >= 0:
                        free = self.m.nfree[k]
                    else:
                        free = total_free(&self.m)
                    if free < n:
                        bad = -2
                if bad == -1:
                    for i in range(n):
                        if k >= 0:
                            s = place(&self.m, pages[i], k, &mv)
                            self.m.placed += 1
                        else:
                            s = first_touch(&self.m, pages[i], &mv)
                        o[i] = mem_slot_pfn(&self.m, s)
                    mv_finish(&self.m, &mv)
                pghot_unlock(&self.m.lock)
            if bad >= 0:
                raise ValueError(f"pages: page {pages[bad]} is already placed")
            if bad == -2:
                raise MemoryError(f"cannot place {n} pages: {free} free PFNs")
            self._mv_apply(&mv, keep)
        finally:
            if self._mlock is not None:
                self._mlock.release()
        return out

    def _c_free(self, const int64_t[::1] pages):
        """Release distinct placed pages, in order; ValueError naming an unplaced one."""
        cdef Py_ssize_t i, n = pages.shape[0]
        cdef int64_t bad = -1, s, p
        cdef pghot_mv_t mv
        cdef list keep = []
        if self._mlock is not None:
            self._mlock.acquire()
        try:
            self._mv_buffers(&mv, n, keep)
            with nogil:
                pghot_lock(&self.m.lock)
                for i in range(n):
                    if self.m.pfn_of[pages[i]] < 0:
                        bad = i
                        break
                if bad < 0:
                    for i in range(n):
                        p = pages[i]
                        s = self.m.pfn_of[p]
                        release(&self.m, s)
                        if s >= self.m.ntop:
                            mv_record(&mv, s)
                        self.m.pfn_of[p] = -1
                        self.m.promoted_at[p] = -1
                    self.m.placed -= n
                    mv_finish(&self.m, &mv)
                pghot_unlock(&self.m.lock)
            if bad >= 0:
                raise ValueError(f"pages: page {pages[bad]} is not placed")
            self._mv_apply(&mv, keep)
        finally:
            if self._mlock is not None:
                self._mlock.release()

    def _c_access(self, const int64_t[::1] pages, bint hits=True):
        """TieredMemory.access on validated pages: the PFNs; MemoryError without room.

        Without `hits`, the per-node hit counters are left as they were (a
        policy's own touch; serve_range counts them, so they are put back)."""
        cdef Py_ssize_t n = pages.shape[0]
        cdef Py_ssize_t nn = max(self.m.nnodes, 1)
        cdef int64_t need = 0, free = 0
        cdef bint ok
        cdef pghot_mv_t mv
        cdef list keep = []
        out = np.empty(n, dtype=np.int64)
        cdef int64_t[::1] o = out
        saved_a = np.empty(nn, dtype=np.int64)
        cdef int64_t[::1] saved = saved_a
        if n == 0:
            return out
        if self._mlock is not None:
            self._mlock.acquire()
        try:
            self._mv_buffers(&mv, n, keep)
            with nogil:
                pghot_lock(&self.m.lock)
                ok = room_for(&self.m, &pages[0], n, &need, &free)
                if ok:
                    if not hits:
                        memcpy(&saved[0], self.m.nhits, nn * sizeof(int64_t))
                    serve_range(&self.m, &pages[0], 0, n, NULL, 1, NULL, &o[0], &mv)
                    if not hits:
                        memcpy(self.m.nhits, &saved[0], nn * sizeof(int64_t))
                    mv_finish(&self.m, &mv)
                pghot_unlock(&self.m.lock)
            if not ok:
                raise MemoryError(f"cannot place {need} pages: {free} free PFNs")
            self._mv_apply(&mv, keep)
        finally:
            if self._mlock is not None:
                self._mlock.release()
        return out

    def _c_migrate_batch(self, const int64_t[::1] pfns, int32_t tk, int64_t now):
        """Migrate validated PFNs to top-tier node index tk: (status int8, moved pages int64)."""
        cdef Py_ssize_t i, n = pfns.shape[0]
        cdef int64_t s, page
        cdef pghot_mv_t mv
        cdef list keep = []
        out = np.empty(n, dtype=np.int8)
        moved = np.full(n, -1, dtype=np.int64)
        cdef int8_t[::1] o = out
        cdef int64_t[::1] mo = moved
        if self._mlock is not None:
            self._mlock.acquire()
        try:
            self._mv_buffers(&mv, 2 * n, keep)
            with nogil:
                pghot_lock(&self.m.lock)
                for i in range(n):
                    s = mem_locate(&self.m, pfns[i])
                    page = -1 if s < 0 else self.m.owner[s]
                    o[i] = mem_migrate(&self.m, pfns[i], tk, now, &mv)
                    if o[i] == MS_OK:
                        mo[i] = page
                mv_finish(&self.m, &mv)
                pghot_unlock(&self.m.lock)
            self._mv_apply(&mv, keep)
        finally:
            if self._mlock is not None:
                self._mlock.release()
        return out, moved

    def _c_demote(self, int32_t k, int64_t n, int64_t now):
        """Demote up to n pages of top-tier node index k (validated): the pages demoted (int64)."""
        cdef int64_t cap = min(n, self.m.mat[k]), done = 0  # at most mat[k] pages are on it
        cdef pghot_mv_t mv
        cdef list keep = []
        out = np.empty(max(cap, 1), dtype=np.int64)
        cdef int64_t[::1] o = out
        if cap == 0:
            return out[:0]
        if self._mlock is not None:
            self._mlock.acquire()
        try:
            self._mv_buffers(&mv, cap, keep)
            with nogil:
                pghot_lock(&self.m.lock)
                done = mem_demote(&self.m, k, cap, now, &o[0], &mv)
                mv_finish(&self.m, &mv)
                pghot_unlock(&self.m.lock)
            self._mv_apply(&mv, keep)
        finally:
            if self._mlock is not None:
                self._mlock.release()
        return out[:done]

    def _c_demote_pfns(self, const int64_t[::1] pfns, int64_t now):
        """Demote the pages on validated top-tier PFNs, in order: the pages demoted (int64)."""
        cdef Py_ssize_t n = pfns.shape[0]
        cdef int64_t done = 0
        cdef pghot_mv_t mv
        cdef list keep = []
        out = np.empty(max(n, 1), dtype=np.int64)
        cdef int64_t[::1] o = out
        if n == 0:
            return out[:0]
        if self._mlock is not None:
            self._mlock.acquire()
        try:
            self._mv_buffers(&mv, n, keep)
            with nogil:
                pghot_lock(&self.m.lock)
                done = mem_demote_pfns(&self.m, &pfns[0], n, now, &o[0], &mv)
                mv_finish(&self.m, &mv)
                pghot_unlock(&self.m.lock)
            self._mv_apply(&mv, keep)
        finally:
            if self._mlock is not None:
                self._mlock.release()
        return out[:done]

    # -- internal fast entry points of the replay engine ----------------------------------

    def serve(self, const page_t[::1] pages, const int64_t[::1] times, int64_t bin_jiffies,
              int64_t[::1] hit_bins):
        """Serve accesses, count and bin the top-tier hits (internal: for the replay engine).

        What ``TieredMemory.access(pages)`` does (first-touch placement in the
        order of first occurrence, CLOCK referenced bits, the tracker's
        movable bits), plus, for each access whose PFN is on a top-tier node,
        ``hit_bins[times[i] // bin_jiffies] += 1``.  Equivalent to
        ``hit = mem.access(pages) < top; bins.add(times[hit] // bin_jiffies)``
        on the two-tier machine.  Arguments are checked for memory safety
        only, in one pass: ``pages`` uint32/int64/uint64 C-contiguous, each
        below ``logical_pages``; ``times`` int64 of the same length,
        non-negative and non-decreasing; ``hit_bins`` int64 long enough for
        ``times[-1] // bin_jiffies``.  The GIL is released for the pass and
        the kernel; the memory's lock is taken once.

        Returns
        -------
        int
            The number of top-tier hits.

        Raises
        ------
        ValueError
            A bad argument (nothing changed).
        MemoryError
            A new page found no free PFN (nothing changed).

        Examples
        --------
        >>> import numpy as np, pghot
        >>> from pghot.machine.memory import TieredMemory
        >>> mem = TieredMemory(pghot.Topology.two_tier(2, 8))
        >>> bins = np.zeros(2, dtype=np.int64)
        >>> pages = np.array([4, 5, 6, 4], dtype=np.uint32)
        >>> mem.serve(pages, np.array([0, 3, 5, 9]), 5, bins), bins.tolist()
        (3, [2, 1])
        """
        # Private copies, checked and then read by the kernel: another thread
        # cannot change them between the check and the use, and no output
        # (hit_bins) can alias them (one memcpy per call).
        pages = np.array(pages, copy=True)
        times = np.array(times, copy=True)
        cdef int64_t n = pages.shape[0], bad, hits = 0, need = 0, free = 0
        cdef bint ok
        cdef pghot_mv_t mv
        cdef list keep = []
        if times.shape[0] != n:
            raise ValueError(f"times: {times.shape[0]} values for {n} pages")
        if bin_jiffies < 1:
            raise ValueError(f"bin_jiffies must be >= 1, got {bin_jiffies}")
        if n == 0:
            return 0
        with nogil:
            bad = scan_accesses(&pages[0], &times[0], n, self.m.npages)
        if bad >= 0:
            raise ValueError(f"pages/times: access {bad} has a page out of range or a time out of order")
        if hit_bins.shape[0] <= times[n - 1] // bin_jiffies:
            raise ValueError(f"hit_bins: {hit_bins.shape[0]} bins, need {times[n - 1] // bin_jiffies + 1}")
        if self._mlock is not None:
            self._mlock.acquire()
        try:
            self._mv_buffers(&mv, n, keep)
            with nogil:
                pghot_lock(&self.m.lock)
                ok = room_for(&self.m, &pages[0], n, &need, &free)
                if ok:
                    hits = serve_range(&self.m, &pages[0], 0, n, &times[0], bin_jiffies,
                                       &hit_bins[0], NULL, &mv)
                    mv_finish(&self.m, &mv)
                pghot_unlock(&self.m.lock)
            if not ok:
                raise MemoryError(f"cannot place {need} pages: {free} free PFNs")
            self._mv_apply(&mv, keep)
        finally:
            if self._mlock is not None:
                self._mlock.release()
        return hits

    def top_count(self, const int64_t[::1] pages):
        """How many of ``pages`` are on a top-tier node (internal: for the replay's oracle).

        ``pages`` int64, C-contiguous; one out of range or not placed counts
        as not on the top tier.  The GIL is released for the count.

        >>> import numpy as np, pghot
        >>> from pghot.machine.memory import TieredMemory
        >>> mem = TieredMemory(pghot.Topology.two_tier(2, 8))
        >>> _ = mem.access([4, 5, 6])
        >>> mem.top_count(np.array([4, 6, 7, 5, -1], dtype=np.int64))
        2
        """
        cdef Py_ssize_t i, n = pages.shape[0]
        cdef int64_t c = 0, p, s
        with nogil:
            pghot_lock(&self.m.lock)
            for i in range(n):
                p = pages[i]
                if 0 <= p < self.m.npages:
                    s = self.m.pfn_of[p]
                    if 0 <= s < self.m.ntop:
                        c += 1
            pghot_unlock(&self.m.lock)
        return c

    def pfns_into(self, const page_t[::1] pages, out):
        """The PFN of each page (-1 when not placed) into ``out`` (internal: for the replay engine).

        ``out`` is a preallocated C-contiguous int64 or uint64 array at least
        as long as ``pages`` (-1 reads as 2**64 - 1 in uint64).  Nothing is
        allocated; the GIL is released.  ValueError for a page out of range.

        >>> import numpy as np, pghot
        >>> from pghot.machine.memory import TieredMemory
        >>> mem = TieredMemory(pghot.Topology.two_tier(2, 8))
        >>> _ = mem.access([4, 5, 6])
        >>> out = np.empty(3, dtype=np.int64)
        >>> mem.pfns_into(np.array([6, 4, 7], dtype=np.uint32), out)
        >>> out.tolist()
        [2, 0, -1]
        """
        pages = np.array(pages, copy=True)  # a private copy: ``out`` may alias the argument
        cdef int64_t[::1] o
        cdef uint64_t[::1] ou
        cdef int64_t n = pages.shape[0], i, bad = -1
        cdef int64_t *op
        if not isinstance(out, np.ndarray) or out.dtype not in (np.int64, np.uint64):
            raise TypeError("out must be an int64 or uint64 numpy array")
        if out.dtype == np.int64:
            o = out
            if o.shape[0] < n:
                raise ValueError(f"out: {o.shape[0]} values for {n} pages")
            op = &o[0] if n else NULL
        else:
            ou = out
            if ou.shape[0] < n:
                raise ValueError(f"out: {ou.shape[0]} values for {n} pages")
            op = <int64_t *>&ou[0] if n else NULL
        if n == 0:
            return
        with nogil:
            for i in range(n):
                if <uint64_t>pages[i] >= <uint64_t>self.m.npages:
                    bad = i
                    break
            if bad < 0:
                pghot_lock(&self.m.lock)
                for i in range(n):
                    op[i] = mem_slot_pfn(&self.m, self.m.pfn_of[pages[i]])
                pghot_unlock(&self.m.lock)
        if bad >= 0:
            raise ValueError(f"pages[{bad}] = {pages[bad]} is not below logical_pages {self.m.npages}")

    def second_access(self, const page_t[::1] pages, const int64_t[::1] times, int64_t bin_jiffies,
                      int64_t[::1] hit_bins, const rpage_t[::1] rep_pages,
                      const int64_t[::1] rep_times, int64_t[::1] last, int64_t window_jiffies,
                      target_nid, int64_t[::1] promoted_pages, int64_t[::1] promoted_times,
                      rep_targets=None):
        """One segment of the second-access baseline in one kernel (internal: for the replay engine).

        The whole of ``_SecondAccess.segment`` (python/pghot/sim/policies.py):
        serve the accesses ``pages``/``times`` as :meth:`serve` does and act
        on the reports ``rep_pages``/``rep_times`` in their order.  For each
        report of page p at time t: when p is not placed, the accesses up to
        t are served first (p is first touched in this segment); when p is
        then on a lower-tier node, and its previous report ``last[p]`` is at
        most ``window_jiffies`` before t, the accesses up to t are served and
        p is migrated to ``target_nid`` at time t (demoting the CLOCK victim
        of a full node): on success p and t go to ``promoted_pages`` /
        ``promoted_times`` and ``last[p] = -1``, else ``last[p] = t``;
        otherwise ``last[p] = t``.  The accesses left are served at the end.
        ``rep_targets`` (int64, one top-tier nid per report; the multi-node
        machine: each report's accessing node's promotion target) replaces
        ``target_nid`` report by report.

        Why this order gives what serving every access first would not, and
        what the per-report loop gives: serving accesses only places pages
        not placed yet and sets referenced bits; it never moves a placed
        page.  So a placed page's PFN read before the accesses up to t are
        served is the one it has after, and a report needs the accesses
        served only to place its page (first touch) or before it migrates
        (the free stacks and the CLOCK bits the migration reads must be
        those at time t, and accesses up to t, ties included, come before
        it: ``searchsorted(times, t, side="right")``).  Every access at time
        > t is served after the migration at t, so its hit sees the page
        where the migration put it.  This is the order of the Python loop,
        step for step; tests/test_sim_second_access_kernel.py compares the
        two on random traces.

        "Lower tier" is a node of the lower tier, which for the replay's
        two-tier topology is ``pfn >= top_pages`` as in the Python method.
        Arguments are checked for memory safety only, in one pass each:
        ``pages``/``times``/``hit_bins`` as for :meth:`serve`; ``rep_pages``
        (uint32/int64/uint64) below ``logical_pages``, ``rep_times`` int64 of
        the same length and non-negative; ``last`` int64 of at least
        ``logical_pages``; ``promoted_pages``/``promoted_times`` int64 of at
        least ``len(rep_pages)``.

        Returns
        -------
        (int, int)
            The top-tier hits, and the number of promotions written to the
            output buffers (in time order).

        Examples
        --------
        Page 3 is first touched on the lower tier at time 1 and reported at
        times 1 and 2: the second report promotes it, and CLOCK demotes page 0.

        >>> import numpy as np, pghot
        >>> from pghot.machine.memory import TieredMemory
        >>> mem = TieredMemory(pghot.Topology.two_tier(1, 8))
        >>> last = np.full(mem.logical_pages, -1, dtype=np.int64)
        >>> pp, pt = np.empty(2, dtype=np.int64), np.empty(2, dtype=np.int64)
        >>> mem.second_access(np.array([0, 3, 3], dtype=np.uint32), np.array([0, 1, 2]), 10,
        ...                   np.zeros(1, dtype=np.int64), np.array([3, 3], dtype=np.uint64),
        ...                   np.array([1, 2]), last, 5, 0, pp, pt)
        (1, 1)
        >>> pp[:1].tolist(), pt[:1].tolist(), mem.pfn_of(3), mem.pfn_of(0)
        ([3], [2], 0, 2)
        """
        # Private copies of the inputs, as in serve: checked, then read by the
        # kernel; no thread can change them, no output buffer can alias them.
        pages = np.array(pages, copy=True)
        times = np.array(times, copy=True)
        rep_pages = np.array(rep_pages, copy=True)
        rep_times = np.array(rep_times, copy=True)
        cdef int64_t n = pages.shape[0], nrep = rep_pages.shape[0], bad = -1
        cdef int64_t hits = 0, npromoted = 0, need = 0, free = 0
        cdef int32_t tk
        cdef bint ok
        cdef pghot_mv_t mv
        cdef list keep = []
        if times.shape[0] != n:
            raise ValueError(f"times: {times.shape[0]} values for {n} pages")
        if rep_times.shape[0] != nrep:
            raise ValueError(f"rep_times: {rep_times.shape[0]} values for {nrep} reports")
        if bin_jiffies < 1:
            raise ValueError(f"bin_jiffies must be >= 1, got {bin_jiffies}")
        if window_jiffies < 0:
            raise ValueError(f"window_jiffies must be >= 0, got {window_jiffies}")
        if last.shape[0] < self.m.npages:
            raise ValueError(f"last: {last.shape[0]} values for {self.m.npages} logical pages")
        if promoted_pages.shape[0] < nrep or promoted_times.shape[0] < nrep:
            raise ValueError(f"promoted_pages/promoted_times: shorter than the {nrep} reports")
        tk = self._node_index(target_nid)
        if tk < 0 or tk >= self.m.ntopnodes:
            raise ValueError(f"target_nid: {target_nid!r} is not a top-tier node")
        cdef int32_t[::1] rtk_v
        cdef const int32_t *rtk = NULL
        if rep_targets is not None:
            rtk_a = self._target_indices(rep_targets, nrep)
            rtk_v = rtk_a
            rtk = &rtk_v[0] if nrep else NULL
        if n:
            with nogil:
                bad = scan_accesses(&pages[0], &times[0], n, self.m.npages)
            if bad >= 0:
                raise ValueError(f"pages/times: access {bad} has a page out of range or a time out of order")
            if hit_bins.shape[0] <= times[n - 1] // bin_jiffies:
                raise ValueError(f"hit_bins: {hit_bins.shape[0]} bins, need {times[n - 1] // bin_jiffies + 1}")
        if nrep:
            with nogil:
                bad = scan_reports(&rep_pages[0], &rep_times[0], nrep, self.m.npages)
            if bad >= 0:
                raise ValueError(f"rep_pages/rep_times: report {bad} has a page out of range or a negative time")
        if n == 0 and nrep == 0:
            return 0, 0
        cdef const page_t *pp = &pages[0] if n else NULL
        cdef const int64_t *tp = &times[0] if n else NULL
        cdef int64_t *bp = &hit_bins[0] if n else NULL
        cdef const rpage_t *rp = &rep_pages[0] if nrep else NULL
        cdef const int64_t *rt = &rep_times[0] if nrep else NULL
        cdef int64_t *pop = &promoted_pages[0] if nrep else NULL
        cdef int64_t *pot = &promoted_times[0] if nrep else NULL
        if self._mlock is not None:
            self._mlock.acquire()
        try:
            self._mv_buffers(&mv, n + 2 * nrep, keep)
            with nogil:
                pghot_lock(&self.m.lock)
                ok = n == 0 or room_for(&self.m, pp, n, &need, &free)
                if ok:
                    hits = second_access_kernel(&self.m, pp, tp, n, bin_jiffies, bp, rp, rt, nrep,
                                                &last[0], window_jiffies, tk, rtk, pop, pot, &npromoted, &mv)
                    mv_finish(&self.m, &mv)
                pghot_unlock(&self.m.lock)
            if not ok:
                raise MemoryError(f"cannot place {need} pages: {free} free PFNs")
            self._mv_apply(&mv, keep)
        finally:
            if self._mlock is not None:
                self._mlock.release()
        return hits, npromoted

    def fault_path(self, const page_t[::1] pages, const int64_t[::1] times, int64_t bin_jiffies,
                   int64_t[::1] hit_bins, const rpage_t[::1] rep_pages, const int64_t[::1] rep_times,
                   const int8_t[::1] rep_srcs, const int64_t[::1] rep_latency, int policy,
                   const int64_t[::1] params, int64_t[::1] state, int64_t[::1] counters,
                   uint8_t[::1] active, target_nid, int64_t[::1] promoted_pages,
                   int64_t[::1] promoted_times, rep_targets=None):
        """One segment of numab2 (``policy=0``) or tpp (``1``) in one kernel (internal: the replay's).

        ``rep_targets`` (int64, a top-tier nid per report, as for
        :meth:`second_access`) replaces ``target_nid`` report by report.

        The loop of ``Numab2.fault_loop`` / ``Tpp.fault_loop``
        (python/pghot/sim/alternatives.py, their specification, which the
        reference engine runs) over the hint-fault reports of ``rep_srcs``,
        with the accesses served as :meth:`second_access` serves them (up to
        a report's time before it migrates, the rest at the end).  The
        policy's state is passed in and updated in place: ``params``,
        ``state`` and ``counters`` as ``Numab2._pack`` / ``Tpp._pack`` lay
        them out (numab2's margin and state per top-tier node, in node index
        order: the kernel's are per pgdat), ``active`` (tpp: one uint8 per logical page; numab2: any).
        Promotions go to ``promoted_pages``/``promoted_times`` (at least
        ``len(rep_pages)`` each).  Arguments are checked for memory safety
        as in :meth:`second_access`; the times must stay below 2**62 / 1000
        (the ms conversion in int64).

        Returns
        -------
        (int, int)
            The top-tier hits, and the number of promotions written.

        Examples
        --------
        tpp: page 3 (lower tier) faults at 5 (activated) and at 7 (promoted).

        >>> import numpy as np, pghot
        >>> from pghot.machine.memory import TieredMemory
        >>> mem = TieredMemory(pghot.Topology.two_tier(1, 8))
        >>> act = np.zeros(mem.logical_pages, dtype=np.uint8)
        >>> cnt = np.zeros(3, dtype=np.int64)
        >>> pp, pt = np.empty(2, dtype=np.int64), np.empty(2, dtype=np.int64)
        >>> mem.fault_path(np.array([0, 3, 3, 3], dtype=np.uint32), np.array([0, 1, 6, 8]), 10,
        ...                np.zeros(1, dtype=np.int64), np.array([3, 3], dtype=np.uint64), np.array([5, 7]),
        ...                np.array([2, 2], dtype=np.int8), np.array([4, 1]), 1, np.array([1]),
        ...                np.zeros(0, dtype=np.int64), cnt, act, 0, pp, pt)
        (2, 1)
        >>> pp[:1].tolist(), pt[:1].tolist(), cnt.tolist()
        ([3], [7], [2, 1, 0])
        """
        pages = np.array(pages, copy=True)
        times = np.array(times, copy=True)
        rep_pages = np.array(rep_pages, copy=True)
        rep_times = np.array(rep_times, copy=True)
        rep_srcs = np.array(rep_srcs, copy=True)
        rep_latency = np.array(rep_latency, copy=True)
        params = np.array(params, copy=True)
        cdef int64_t n = pages.shape[0], nrep = rep_pages.shape[0], bad = -1
        cdef int64_t hits = 0, npromoted = 0, need = 0, free = 0
        cdef int32_t tk
        cdef bint ok
        cdef pghot_mv_t mv
        cdef list keep = []
        if times.shape[0] != n:
            raise ValueError(f"times: {times.shape[0]} values for {n} pages")
        if rep_times.shape[0] != nrep or rep_srcs.shape[0] != nrep or rep_latency.shape[0] != nrep:
            raise ValueError(f"rep_times/rep_srcs/rep_latency: not {nrep} values, as rep_pages")
        if bin_jiffies < 1:
            raise ValueError(f"bin_jiffies must be >= 1, got {bin_jiffies}")
        if policy not in (0, 1):
            raise ValueError(f"policy must be 0 (numab2) or 1 (tpp), got {policy}")
        # numab2: 8 knobs, then the free-space margin and 7 state values per top-tier node
        ntn = max(self.m.ntopnodes, 1)
        npar, nst, ncnt = (8 + ntn, 7 * ntn, 7) if policy == 0 else (1, 0, 3)
        if params.shape[0] != npar or state.shape[0] < nst or counters.shape[0] < ncnt:
            raise ValueError(f"params/state/counters: need {npar}, {nst} and {ncnt} values")
        if policy == 0 and params[5] < 1:
            raise ValueError(f"params: hz must be >= 1, got {params[5]}")
        if policy == 1 and active.shape[0] < self.m.npages:
            raise ValueError(f"active: {active.shape[0]} values for {self.m.npages} logical pages")
        if promoted_pages.shape[0] < nrep or promoted_times.shape[0] < nrep:
            raise ValueError(f"promoted_pages/promoted_times: shorter than the {nrep} reports")
        tk = self._node_index(target_nid)
        if tk < 0 or tk >= self.m.ntopnodes:
            raise ValueError(f"target_nid: {target_nid!r} is not a top-tier node")
        cdef int32_t[::1] rtk_v
        cdef const int32_t *rtk = NULL
        if rep_targets is not None:
            rtk_a = self._target_indices(rep_targets, nrep)
            rtk_v = rtk_a
            rtk = &rtk_v[0] if nrep else NULL
        if n:
            with nogil:
                bad = scan_accesses(&pages[0], &times[0], n, self.m.npages)
            if bad >= 0:
                raise ValueError(f"pages/times: access {bad} has a page out of range or a time out of order")
            if hit_bins.shape[0] <= times[n - 1] // bin_jiffies:
                raise ValueError(f"hit_bins: {hit_bins.shape[0]} bins, need {times[n - 1] // bin_jiffies + 1}")
        if nrep:
            with nogil:
                bad = scan_reports(&rep_pages[0], &rep_times[0], nrep, self.m.npages)
            if bad >= 0:
                raise ValueError(f"rep_pages/rep_times: report {bad} has a page out of range or a negative time")
            if max(rep_times) >= 2**62 // 1000:
                raise ValueError("rep_times: a time at or above 2**62 / 1000")
        if n == 0 and nrep == 0:
            return 0, 0
        cdef const page_t *pp = &pages[0] if n else NULL
        cdef const int64_t *tp = &times[0] if n else NULL
        cdef int64_t *bp = &hit_bins[0] if n else NULL
        cdef const rpage_t *rp = &rep_pages[0] if nrep else NULL
        cdef const int64_t *rt = &rep_times[0] if nrep else NULL
        cdef const int8_t *rs = &rep_srcs[0] if nrep else NULL
        cdef const int64_t *rl = &rep_latency[0] if nrep else NULL
        cdef int64_t *pop = &promoted_pages[0] if nrep else NULL
        cdef int64_t *pot = &promoted_times[0] if nrep else NULL
        cdef const int64_t[::1] parv = params
        cdef int64_t *stp = &state[0] if nst else NULL
        cdef uint8_t *ap = &active[0] if policy == 1 else NULL
        if self._mlock is not None:
            self._mlock.acquire()
        try:
            self._mv_buffers(&mv, n + 2 * nrep, keep)
            with nogil:
                pghot_lock(&self.m.lock)
                ok = n == 0 or room_for(&self.m, pp, n, &need, &free)
                if ok:
                    hits = fault_path_kernel(&self.m, pp, tp, n, bin_jiffies, bp, rp, rt, rs, rl, nrep,
                                             policy, &parv[0], stp, &counters[0], ap, tk, rtk, pop, pot,
                                             &npromoted, &mv)
                    mv_finish(&self.m, &mv)
                pghot_unlock(&self.m.lock)
            if not ok:
                raise MemoryError(f"cannot place {need} pages: {free} free PFNs")
            self._mv_apply(&mv, keep)
        finally:
            if self._mlock is not None:
                self._mlock.release()
        return hits, npromoted
