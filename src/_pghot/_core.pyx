# The "hash" store: PFN table + per-node queues + the record/extract kernels,
# behind the API of the tracker base (_base.pxd: TrackerBase writes the
# public methods, argument checks, counters, gate and fork handling once;
# this class supplies the kernels it calls).
#
# Data: `tab` (table.pxd) holds one 16-byte record per tracked PFN: the PFN,
# the packed word  freq | target nid << freq_bits | time << (freq_bits +
# nid_bits)  and the record's queue handle.  Each top-tier node has a queue
# (pqueue.pxd: dheap.pxd binary by default, or 4-ary, or bucketq.pxd) of
# (frequency, slot) entries and a lock.  The topology is flattened by the
# base into nodes.pxd's map (node ranges, promotion target per node id, one
# "not movable" bit per lower-tier PFN, the queue index of each top-tier
# node id).
#
# Invariants (checked by Tracker.check, SEMANTICS.md section 5):
#   - a record is queued in at most one queue, its target node's, and the
#     entry's handle is the record's qpos;
#   - queued iff frequency >= threshold, unless a push was refused (full);
#   - population == sum of shard counts == created - extracted - evicted.
#
# Concurrency: the shard lock guards a shard's records (pfn, word, whether
# queued); a queue lock guards its queue and the qpos values it writes.
# Lock order: shard lock, then one queue lock at a time; extraction, which
# starts from a queue, only try-locks the shard under the queue lock, or
# drops the queue lock, takes the shard lock and re-checks the top.  No lock
# is ever held while the GIL is requested.  Event counters of the unlocked
# paths (per source, top tier, not movable) are the base's relaxed atomics,
# in per-thread stripes, flushed once per batch; the others are per shard,
# under its lock.
#
# Cache lines (issue 11): a thread recording a PFN writes its shard's block
# (`shard_t`: lock, record count and counters, 128 bytes, 64-aligned), the
# PFN's slot, and on queue changes the target queue's lock block
# (pghot_qlock_t: lock and size, one line) and the queue's own arrays, whose
# header starts a line of its own (dheap.pxd, bucketq.pxd); on creation and
# extraction the atomic `population`, alone on its line.  The Tracker
# object's fields (table geometry, node map, word fields), read by every
# access, are written by no batch call.  So two threads recording PFNs of
# different shards and targeting different nodes write no common line; the
# shard of a PFN is picked by its hash, so PFNs of disjoint ranges still
# share shards (true sharing of the shard lock, which padding cannot
# remove).  TrackerBase._layout() reports the blocks; tests/test_layout.py
# checks them.
#
# Errors: the base validates everything with the GIL held before any state
# changes; the kernels below are `noexcept nogil` and cannot fail.  The
# batch loop (_record_batch) is entered by one virtual call per batch; the
# class is final, so every call inside it is direct.
#
# Snapshots: this store exports and imports its whole state (_state and
# _restore); the file I/O is pghot.snapshot's (bound into the base).

cimport cython
from libc.stdlib cimport malloc, calloc, free
from libc.string cimport memset

cdef extern from "<stdlib.h>" nogil:
    int posix_memalign(void **memptr, size_t alignment, size_t size)

from defs cimport *
from nodes cimport *
from args cimport _int_arg
from pqueue cimport queue_ops
from table cimport shard_t, table_t, table_place, table_find
from qdesigns cimport NQUEUE_DESIGNS, queue_designs
from pghot._base cimport *

import json
import os

import numpy as np

cdef enum:
    SHARD_MIN_RECORDS = 4096   # smaller shards buy no parallelism
    SHARD_MAX_BITS = 8
    EVICT_SCAN = 256           # slots searched for a stale record to evict

#: Version of the snapshot format :meth:`Tracker._state` writes.
SNAPSHOT_VERSION = SNAPSHOT_FORMAT_VERSION

# The queue designs, each behind the queue_ops interface (pqueue.pxd).
cdef queue_ops _QUEUE_OPS[NQUEUE_DESIGNS]
queue_designs(_QUEUE_OPS)
_QUEUES = {"binary": 0, "quaternary": 1, "bucket": 2}

# check()'s messages by code; the identity of access counts and outcomes is
# the base's.
_CHECK_MESSAGES = (
    "",
    "record of pfn {0} has frequency 0",
    "record of pfn {0} is not in a lower-tier node",
    "record of pfn {0} targets node {1}, which is not a top-tier node",
    "record of pfn {0} is in shard {1} but hashes to shard {2}",
    "record of pfn {0} is unreachable from its home slot",
    "pfn {0} has two records",
    "record of pfn {0} is not at its position in node {1}'s queue",
    "queue key {1} of pfn {0} differs from its frequency {2}",
    "pfn {0} is queued with frequency {2} below the threshold",
    "shard {0} counts {1} records but holds {2}",
    "queue of node {0} breaks its order or back-pointer at position {1}",
    "queues hold {0} entries but {1} records are queued",
    "{0} records reached the threshold unqueued, and no push was refused",
    "table holds {0} records, population says {1}",
    "table holds {0} records, capacity is {1}",
    "table holds {0} records, created - extracted - evicted = {1}",
)


def table_geometry(capacity):
    """``(nshards, shard_slots)`` of the table of a tracker of ``capacity`` records.

    Computed without allocating anything, so that a snapshot's claimed
    capacity can be checked against the arrays the file really holds.

    Examples
    --------
    >>> table_geometry(100), table_geometry(1 << 20)
    ((1, 117), (256, 4779))
    """
    cdef int64_t cap = _int_arg(capacity, "capacity", 0, 1 << 31)
    cdef uint32_t b = 0
    while b < SHARD_MAX_BITS and (cap >> (b + 1)) >= SHARD_MIN_RECORDS:
        b += 1
    cdef uint64_t nshards = 1 << b
    cdef uint64_t per = (cap + nshards - 1) // nshards
    return int(nshards), int(per + per // 6 + 1)


# --------------------------------------------------------------------------

@cython.final
cdef class Tracker(TrackerBase):
    """Hot page tracker: a PFN table plus one max-queue per top-tier node.

    Parameters
    ----------
    topology : pghot.Topology
        Nodes and PFN ranges; only PFNs of lower-tier nodes are tracked.
    hz : int, default 1000
        Jiffies per second of the ``now`` values passed in.
    freq_window_ms : int, default 5000
        An access later than this after the previous one restarts the count.
    threshold : int, default 2
        Frequency at which a record enters its target node's queue.
    freq_bits, nid_bits, time_bits : int, default 3, 10, 19
        Widths of the packed record word (sum at most 32).
    capacity : int, optional
        Records the table holds; default 50 % of the lower-tier pages.
    queue_capacity : int, optional
        Entries per top-tier queue; default 25 % of ``capacity`` (at least 1).
    queue : {"binary", "quaternary", "bucket"}
        Queue design: the kernel's indexed binary max-heap, a 4-ary heap, or
        one FIFO list per frequency value (O(1) operations).
    evict_stale : bool, default False
        When the table is full, let a new PFN replace a record older than the
        window that is not queued (counted as ``evicted``).

    Examples
    --------
    >>> import pghot
    >>> t = pghot.Tracker(pghot.Topology.two_tier(1024, 4096))
    >>> t.record_access(1500, -1, pghot.Source.HW_HINTS, 10)
    <Outcome.RECORDED: 0>
    >>> t.record_access(1500, -1, pghot.Source.HW_HINTS, 20)
    <Outcome.RECORDED: 0>
    >>> t.extract_batch(0).tolist()
    [1500]
    """

    cdef table_t tab
    cdef const queue_ops *qops
    cdef void **queues
    cdef pghot_qlock_t *qs        # each queue's lock and size, one cache line per
                                  # queue; the size is written under the lock and
                                  # read without it to refuse a push to a full
                                  # queue without taking the lock
    cdef int32_t *qnid            # node id of each queue
    cdef int32_t nqueues
    cdef str _queue_name

    def __cinit__(self, *args, **kwargs):
        self.tab.recs = NULL
        self.tab.shards = NULL
        self.tab.population = NULL
        self.qops = NULL
        self.queues = NULL
        self.qs = NULL
        self.qnid = NULL
        self.nqueues = 0
        self._messages = _CHECK_MESSAGES
        self.out_mask = (1 << O_TOPTIER) | (1 << O_NOT_MOVABLE)

    def __init__(self, topology, *, hz=1000, freq_window_ms=5000, threshold=2,
                 freq_bits=3, nid_bits=10, time_bits=19, capacity=None,
                 queue_capacity=None, queue="binary", evict_stale=False):
        arrs = self._init_packed(topology, hz, freq_window_ms, threshold, freq_bits,
                                 nid_bits, time_bits, capacity, queue_capacity, queue,
                                 evict_stale)
        cdef int64_t cap = self.capacity_
        nshards_, slots_ = table_geometry(cap)
        check_fits(nshards_ * slots_ * sizeof(pghot_rec)
                   + int((np.asarray(arrs["toptier"]) > 0).sum()) * self.qcap * 16,
                   f"a table of {cap} records and queues of {self.qcap}")
        self._topology = topology
        self._queue_name = queue
        self.qops = &_QUEUE_OPS[_QUEUES[queue]]
        top = self._init_nodes(arrs, topology.default_node)
        self._init_table(cap)
        self._init_queues(top)
        self._finish_init()

    cdef int _check_queue(self, object queue) except -1:
        if queue not in _QUEUES:
            raise ValueError(f"queue must be one of {sorted(_QUEUES)}, got {queue!r}")
        return 0

    cdef _init_table(self, int64_t cap):
        nshards_, slots_ = table_geometry(cap)
        cdef uint64_t nshards = nshards_
        cdef uint64_t slots = slots_
        cdef uint32_t b = 0
        while (1ULL << b) < nshards:
            b += 1
        cdef uint64_t i
        self.tab.nshards = nshards
        self.tab.shard_bits = b
        self.tab.shard_slots = slots
        self.tab.capacity = cap
        self.tab.population = NULL
        self.tab.recs = <pghot_rec *>malloc(nshards * slots * sizeof(pghot_rec))
        # written on every creation and extraction: a line of its own, off
        # the table fields that every access reads
        self.tab.population = <uint64_t *>pghot_alloc_lines(sizeof(uint64_t))
        if posix_memalign(<void **>&self.tab.shards, 64, nshards * sizeof(shard_t)) != 0:
            self.tab.shards = NULL
        else:
            memset(self.tab.shards, 0, nshards * sizeof(shard_t))
        if self.tab.recs == NULL or self.tab.shards == NULL or self.tab.population == NULL:
            raise MemoryError(f"cannot allocate a table of {cap} records")
        with nogil:
            for i in range(nshards * slots):
                self.tab.recs[i].pfn = PGHOT_PFN_EMPTY
                self.tab.recs[i].word = 0
                self.tab.recs[i].qpos = PGHOT_QPOS_NONE
        for i in range(nshards):
            pghot_lock_init(&self.tab.shards[i].lock)
            self.tab.shards[i].max_nr = slots - 1


    cdef _init_queues(self, list top):
        cdef int32_t i
        self.queues = <void **>calloc(len(top), sizeof(void *))
        self.qs = <pghot_qlock_t *>pghot_alloc_lines(len(top) * sizeof(pghot_qlock_t))
        self.qnid = <int32_t *>calloc(len(top), sizeof(int32_t))
        if self.queues == NULL or self.qs == NULL or self.qnid == NULL:
            raise MemoryError()
        for i in range(len(top)):
            self.queues[i] = self.qops.create(self.qcap, self.fmax, self.tab.recs)
            if self.queues[i] == NULL:
                raise MemoryError(f"cannot allocate a queue of {self.qcap} entries")
            self.nqueues = i + 1
            pghot_lock_init(&self.qs[i].lock)
            self.qnid[i] = top[i]

    def __dealloc__(self):
        cdef int32_t i
        if self.queues != NULL:
            for i in range(self.nqueues):
                if self.queues[i] != NULL:
                    self.qops.destroy(self.queues[i])
            free(self.queues)
        free(self.qs)
        free(self.qnid)
        free(self.tab.recs)
        free(self.tab.shards)
        free(self.tab.population)

    # ---------------------------------------------------------------- kernels

    cdef inline uint32_t _pack(self, uint32_t freq, uint32_t nid, uint32_t t) noexcept nogil:
        return freq | (nid << self.fbits) | (t << (self.fbits + self.nbits))

    cdef inline uint32_t _freq(self, uint32_t w) noexcept nogil:
        return w & self.fmax

    cdef inline uint32_t _nid(self, uint32_t w) noexcept nogil:
        return (w >> self.fbits) & self.nmask

    cdef inline uint32_t _time(self, uint32_t w) noexcept nogil:
        return (w >> (self.fbits + self.nbits)) & self.tmask

    # Move the record at slot src to the empty slot dst of the same shard;
    # its queue entry follows.  Caller holds the shard lock.
    cdef inline void _move(self, uint32_t src, uint32_t dst) noexcept nogil:
        cdef pghot_rec *r = &self.tab.recs[src]
        cdef int32_t q
        if pghot_load_u32(&r.qpos) == PGHOT_QPOS_NONE:
            self.tab.recs[dst] = r[0]
            return
        q = nodemap_queue(&self.nodes, self._nid(r.word))
        pghot_lock(&self.qs[q].lock)
        self.tab.recs[dst] = r[0]
        self.qops.relocate(self.queues[q], pghot_load_u32(&self.tab.recs[dst].qpos), dst)
        pghot_unlock(&self.qs[q].lock)

    # O(run length): delete the (unqueued) record at global slot g by
    # shifting the rest of its run back.  Caller holds the shard lock.
    cdef void _delete(self, uint32_t g) noexcept nogil:
        cdef uint32_t ss = self.tab.shard_slots
        cdef uint32_t base = (g // ss) * ss
        cdef uint32_t i = g - base, j = i, k, sh
        cdef bint stay
        while True:
            j += 1
            if j == ss:
                j = 0
            if self.tab.recs[base + j].pfn == PGHOT_PFN_EMPTY:
                break
            table_place(&self.tab, self.tab.recs[base + j].pfn, &sh, &k)
            # the record at j may fill hole i unless its home lies in (i, j]
            if i <= j:
                stay = i < k <= j
            else:
                stay = i < k or k <= j
            if stay:
                continue
            self._move(base + j, base + i)
            i = j
        self.tab.recs[base + i].pfn = PGHOT_PFN_EMPTY
        self.tab.recs[base + i].word = 0
        self.tab.recs[base + i].qpos = PGHOT_QPOS_NONE

    # Queue operations with the queue lock taken around them.  A record's
    # qpos is read only under its queue's lock: a thread holding another
    # shard's lock may be sifting the same queue, moving this record's entry.
    cdef inline void _q_remove(self, int32_t q, uint32_t slot) noexcept nogil:
        pghot_lock(&self.qs[q].lock)
        self.qops.remove(self.queues[q], pghot_load_u32(&self.tab.recs[slot].qpos))
        pghot_store_u64(&self.qs[q].len, self.qops.size(self.queues[q]))
        pghot_unlock(&self.qs[q].lock)

    cdef inline bint _q_push(self, int32_t q, uint32_t slot, uint32_t key) noexcept nogil:
        cdef int rc
        if pghot_load_u64(&self.qs[q].len) >= self.qcap:
            return False
        pghot_lock(&self.qs[q].lock)
        rc = self.qops.push(self.queues[q], slot, key)
        pghot_store_u64(&self.qs[q].len, self.qops.size(self.queues[q]))
        pghot_unlock(&self.qs[q].lock)
        return rc == 0

    cdef inline bint _reserve(self) noexcept nogil:
        return pghot_inc_below(self.tab.population, self.tab.capacity)

    # SEMANTICS.md section 4, steps 3-7, for a validated access.  Returns the
    # outcome; counts per source are the caller's.
    cdef int _record(self, uint64_t pfn, int64_t nid, uint64_t now) noexcept nogil:
        cdef int32_t k = nodemap_index(&self.nodes, pfn)
        if k < 0:
            return O_NOT_MOVABLE
        if self.nodes.top[k]:
            return O_TOPTIER
        if nodemap_unmovable(&self.nodes, k, pfn):
            return O_NOT_MOVABLE

        cdef uint32_t tgt = <uint32_t>(self.nodes.default_nid if nid < 0 else nid)
        cdef uint32_t cur = <uint32_t>(now & self.tmask)
        cdef uint32_t s, home, g, old_tgt, old_freq = 0, freq
        cdef bint found, queued = False
        cdef shard_t *sh
        cdef pghot_rec *r
        cdef int32_t q
        table_place(&self.tab, pfn, &s, &home)
        sh = &self.tab.shards[s]

        pghot_lock(&sh.lock)
        g = table_find(&self.tab, s, home, pfn, &found)
        r = &self.tab.recs[g]
        if found:
            old_freq = self._freq(r.word)
            old_tgt = self._nid(r.word)
            if (((cur - self._time(r.word)) & self.tmask) > self.window
                    or (nid >= 0 and tgt != old_tgt)):
                freq = 1
            else:
                freq = old_freq + 1 if old_freq < self.fmax else old_freq
            r.word = self._pack(freq, tgt, cur)
            queued = pghot_load_u32(&r.qpos) != PGHOT_QPOS_NONE
        else:
            if sh.nr < sh.max_nr and self._reserve():
                sh.nr += 1
            elif self.evict and self._evict(s, home, &g, cur, pfn):
                sh.evicted += 1
                r = &self.tab.recs[g]
            else:
                sh.table_full += 1
                pghot_unlock(&sh.lock)
                return O_TABLE_FULL
            r.pfn = pfn
            r.word = self._pack(1, tgt, cur)
            pghot_store_u32(&r.qpos, PGHOT_QPOS_NONE)
            sh.created += 1
            freq = 1
            old_tgt = tgt

        # Queue: only ever the target's queue (F4), whenever freq >= threshold (F5).
        if queued and old_tgt != tgt:
            self._q_remove(nodemap_queue(&self.nodes, old_tgt), g)
            queued = False
        if freq >= self.thr:
            if not queued:
                if self._q_push(nodemap_queue(&self.nodes, tgt), g, freq):
                    sh.pushes += 1
                else:
                    sh.queue_full += 1       # F14: stays unqueued, counted
            elif freq != old_freq:
                q = nodemap_queue(&self.nodes, tgt)
                pghot_lock(&self.qs[q].lock)
                self.qops.update(self.queues[q], pghot_load_u32(&r.qpos), freq)
                pghot_unlock(&self.qs[q].lock)
        elif queued:
            self._q_remove(nodemap_queue(&self.nodes, tgt), g)
        sh.recorded += 1
        pghot_unlock(&sh.lock)
        return O_RECORDED

    cdef inline bint _stale_unqueued(self, uint32_t g, uint32_t cur) noexcept nogil:
        cdef pghot_rec *r = &self.tab.recs[g]
        return (r.pfn != PGHOT_PFN_EMPTY
                and pghot_load_u32(&r.qpos) == PGHOT_QPOS_NONE
                and ((cur - self._time(r.word)) & self.tmask) > self.window)

    # Make room for pfn in a full table by giving up a record older than the
    # window that is not queued.  First choice: one in pfn's own run
    # [home, g[0]), overwritten in place (every slot of the run is a valid
    # place for pfn).  Else the first one among the next EVICT_SCAN slots of
    # the shard, deleted, after which pfn's empty slot is found again.  On
    # success g[0] is pfn's slot (its old contents to be overwritten) and the
    # shard's record count is unchanged.  Caller holds the shard lock.
    cdef bint _evict(self, uint32_t s, uint32_t home, uint32_t *g, uint32_t cur,
                     uint64_t pfn) noexcept nogil:
        cdef uint32_t ss = self.tab.shard_slots
        cdef uint32_t base = s * ss
        cdef uint32_t i = home, n
        cdef bint found
        while base + i != g[0]:
            if self._stale_unqueued(base + i, cur):
                g[0] = base + i
                return True
            i = i + 1 if i + 1 < ss else 0
        for n in range(min(<uint32_t>EVICT_SCAN, ss)):
            i = i + 1 if i + 1 < ss else 0
            if self._stale_unqueued(base + i, cur):
                self._delete(base + i)
                g[0] = table_find(&self.tab, s, home, pfn, &found)
                return True
        return False

    # Pop up to max_count records with key >= thr from queue q and delete
    # them from the table; returns how many.
    cdef uint64_t _extract(self, int32_t q, uint64_t max_count, uint32_t thr,
                           uint64_t *out_pfn, uint32_t *out_word,
                           int64_t *scratch) noexcept nogil:
        cdef uint64_t n = 0
        cdef void *qp = self.queues[q]
        cdef pghot_lock_t *ql = &self.qs[q].lock
        cdef uint32_t slot, key, slot2, key2
        cdef shard_t *sh
        while n < max_count:
            pghot_lock(ql)
            if not self.qops.peek(qp, &slot, &key) or key < thr:
                pghot_unlock(ql)
                break
            sh = &self.tab.shards[slot // self.tab.shard_slots]
            if not pghot_trylock(&sh.lock):
                # respect the lock order, then make sure the top is unchanged
                pghot_unlock(ql)
                pghot_lock(&sh.lock)
                pghot_lock(ql)
                if (not self.qops.peek(qp, &slot2, &key2) or slot2 != slot
                        or key2 < thr):
                    pghot_unlock(ql)
                    pghot_unlock(&sh.lock)
                    continue
            self.qops.pop(qp)
            pghot_store_u64(&self.qs[q].len, self.qops.size(qp))
            pghot_unlock(ql)
            out_pfn[n] = self.tab.recs[slot].pfn
            out_word[n] = self.tab.recs[slot].word
            n += 1
            self._delete(slot)
            sh.nr -= 1
            sh.extracted += 1
            pghot_sub_u64(self.tab.population, 1)
            pghot_unlock(&sh.lock)
        return n


    # ------------------------------------------------- the base's interface

    cdef int _record_one(self, uint64_t pfn, int64_t nid, uint64_t now) noexcept:
        return self._record(pfn, nid, now)

    # The batch loop: one call per batch from the base, direct calls inside.
    cdef void _record_batch(self, const pghot_batch *b, int64_t *scratch, uint64_t *cnt,
                            uint64_t *per_src) noexcept nogil:
        cdef const uint64_t *p = b.pfn
        cdef const int64_t *nv = b.nid
        cdef const int64_t *sv = b.src
        cdef const int64_t *tv = b.now
        cdef Py_ssize_t n = b.n, nm = b.nm, sm = b.sm, tm = b.tm, i
        cdef uint64_t c[NOUTCOMES]
        cdef uint64_t s[NSOURCES]
        cdef uint32_t ps, ph
        memset(c, 0, sizeof(c))
        memset(s, 0, sizeof(s))
        for i in range(n):
            if i + PREFETCH_AHEAD < n:
                table_place(&self.tab, p[i + PREFETCH_AHEAD], &ps, &ph)
                pghot_prefetch(&self.tab.recs[ps * self.tab.shard_slots + ph])
                pghot_prefetch(&self.tab.shards[ps])
            s[sv[i & sm]] += 1
            c[self._record(p[i], nv[i & nm], <uint64_t>tv[i & tm])] += 1
        for i in range(NOUTCOMES):
            cnt[i] += c[i]
        for i in range(NSOURCES):
            per_src[i] += s[i]

    cdef uint64_t _extract_limit(self, int32_t q, int64_t max_count) noexcept nogil:
        return min(<uint64_t>max_count, self.qcap)

    cdef bint _lookup_word(self, uint64_t pfn, uint32_t *word, bint *queued) noexcept:
        cdef uint32_t s, home, g
        cdef bint found
        table_place(&self.tab, pfn, &s, &home)
        pghot_lock(&self.tab.shards[s].lock)
        g = table_find(&self.tab, s, home, pfn, &found)
        if found:
            word[0] = self.tab.recs[g].word
            queued[0] = pghot_load_u32(&self.tab.recs[g].qpos) != PGHOT_QPOS_NONE
        pghot_unlock(&self.tab.shards[s].lock)
        return found

    cdef uint64_t _records(self) noexcept:
        return pghot_load_u64(self.tab.population)

    cdef uint64_t _queued_in(self, int32_t q) noexcept nogil:
        pghot_lock(&self.qs[q].lock)
        cdef uint32_t n = self.qops.size(self.queues[q])
        pghot_unlock(&self.qs[q].lock)
        return n

    cdef void _counts(self, uint64_t *c) noexcept:
        cdef uint32_t i
        cdef shard_t *sh
        for i in range(self.tab.nshards):
            sh = &self.tab.shards[i]
            pghot_lock(&sh.lock)
            c[C_CREATED] += sh.created
            c[C_RECORDED] += sh.recorded
            c[C_TABLE_FULL] += sh.table_full
            c[C_QUEUE_FULL] += sh.queue_full
            c[C_PUSHES] += sh.pushes
            c[C_EXTRACTED] += sh.extracted
            c[C_EVICTED] += sh.evicted
            pghot_unlock(&sh.lock)
        for i in range(<uint32_t>self.nqueues):
            pghot_lock(&self.qs[i].lock)
            c[C_QUEUED] += self.qops.size(self.queues[i])
            pghot_unlock(&self.qs[i].lock)

    # Table, shards, queues, locks and the node maps.
    cdef size_t _nbytes(self) noexcept:
        cdef size_t n = 0
        cdef int32_t i
        n += <size_t>self.tab.nshards * self.tab.shard_slots * sizeof(pghot_rec)
        n += <size_t>self.tab.nshards * sizeof(shard_t)
        for i in range(self.nqueues):
            n += self.qops.nbytes(self.queues[i])
        n += <size_t>self.nqueues * (sizeof(void *) + sizeof(pghot_qlock_t) + sizeof(int32_t))
        n += PGHOT_LINE                  # the population's line
        n += nodemap_nbytes(&self.nodes)
        return n

    # Shards, then queues (the lock order).
    cdef void _lock_all(self) noexcept nogil:
        cdef uint32_t i
        for i in range(self.tab.nshards):
            pghot_lock(&self.tab.shards[i].lock)
        for i in range(<uint32_t>self.nqueues):
            pghot_lock(&self.qs[i].lock)

    cdef void _unlock_all(self) noexcept nogil:
        cdef uint32_t i
        for i in range(<uint32_t>self.nqueues):
            pghot_unlock(&self.qs[i].lock)
        for i in range(self.tab.nshards):
            pghot_unlock(&self.tab.shards[i].lock)

    cdef uint64_t _locked_outcomes(self) noexcept nogil:
        cdef uint64_t n = 0
        cdef uint32_t s
        for s in range(self.tab.nshards):
            n += self.tab.shards[s].recorded + self.tab.shards[s].table_full
        return n

    cdef list _repr_fields(self):
        return [("records", len(self)), ("capacity", self.capacity_), ("threshold", self.thr),
                ("window_jiffies", self.window), ("queue", self._queue_name)]

    cdef dict _layout_extra(self):
        cdef uint32_t i
        cdef int32_t q
        return {
            "shards": [(<size_t><void *>&self.tab.shards[i], sizeof(shard_t))
                       for i in range(self.tab.nshards)],
            "queue_locks": [(<size_t><void *>&self.qs[q], sizeof(pghot_qlock_t))
                            for q in range(self.nqueues)],
            "queues": [(<size_t>self.queues[q], PGHOT_LINE)     # header: a line of its own
                       for q in range(self.nqueues)],
            "population": [(<size_t><void *>self.tab.population, sizeof(uint64_t))],
        }

    # Every invariant, with every lock held; 0 or a _CHECK_MESSAGES code with
    # up to three values in a (see TrackerBase._check_locked).
    cdef int _check_locked(self, uint64_t *a) noexcept nogil:
        cdef uint32_t ss = self.tab.shard_slots, s, i, g, sh2, home, j, slot, key
        cdef uint32_t freq, nid
        cdef uint64_t occupied, total = 0, queued_recs = 0, hot_unqueued = 0
        cdef uint64_t created = 0, extracted = 0, evicted = 0, queue_full = 0
        cdef uint64_t qtotal = 0
        cdef int32_t k, q
        cdef int64_t bad
        cdef pghot_rec *r
        cdef shard_t *sh
        for s in range(self.tab.nshards):
            sh = &self.tab.shards[s]
            created += sh.created
            extracted += sh.extracted
            evicted += sh.evicted
            queue_full += sh.queue_full
            occupied = 0
            for i in range(ss):
                g = s * ss + i
                r = &self.tab.recs[g]
                if r.pfn == PGHOT_PFN_EMPTY:
                    continue
                occupied += 1
                freq = self._freq(r.word)
                nid = self._nid(r.word)
                a[0] = r.pfn
                if freq < 1:
                    return 1
                k = nodemap_index(&self.nodes, r.pfn)
                if k < 0 or self.nodes.top[k]:
                    return 2
                if nodemap_queue(&self.nodes, nid) < 0:
                    a[1] = nid
                    return 3
                table_place(&self.tab, r.pfn, &sh2, &home)
                if sh2 != s:
                    a[1] = s
                    a[2] = sh2
                    return 4
                j = home
                while j != i:
                    if self.tab.recs[s * ss + j].pfn == PGHOT_PFN_EMPTY:
                        return 5
                    if self.tab.recs[s * ss + j].pfn == r.pfn:
                        return 6
                    j = j + 1 if j + 1 < ss else 0
                if r.qpos != PGHOT_QPOS_NONE:
                    queued_recs += 1
                    q = nodemap_queue(&self.nodes, nid)
                    a[1] = nid
                    if not self.qops.entry(self.queues[q], r.qpos, &slot, &key) or slot != g:
                        return 7
                    a[1] = key
                    a[2] = freq
                    if key != freq:
                        return 8
                    if freq < self.thr:
                        return 9
                elif freq >= self.thr:
                    hot_unqueued += 1
            if occupied != sh.nr:
                a[0] = s
                a[1] = sh.nr
                a[2] = occupied
                return 10
            total += occupied
        for q in range(self.nqueues):
            bad = self.qops.check(self.queues[q])
            if bad >= 0:
                a[0] = self.qnid[q]
                a[1] = bad
                return 11
            qtotal += self.qops.size(self.queues[q])
        a[0] = qtotal
        a[1] = queued_recs
        if qtotal != queued_recs:
            return 12
        a[0] = hot_unqueued
        if hot_unqueued and not queue_full:
            return 13
        a[0] = total
        a[1] = pghot_load_u64(self.tab.population)
        if total != a[1]:
            return 14
        a[1] = self.tab.capacity
        if total > self.tab.capacity:
            return 15
        a[1] = created - extracted - evicted
        if total != a[1]:
            return 16
        return 0

    # ------------------------------------------------------------- snapshots

    def _config(self):
        return dict(hz=self._hz, freq_window_ms=self._window_ms, threshold=self.thr,
                    freq_bits=self.fbits, nid_bits=self.nbits, time_bits=self.tbits,
                    capacity=self.tab.capacity, queue_capacity=self.qcap,
                    queue=self._queue_name, evict_stale=bool(self.evict))

    def _state(self):
        """The whole state as a dict of arrays: snapshot format version 1.

        Taken between batches (its gate closed, pghot_sync.h) and
        under every lock (shards, then queues), so counters and records
        agree and every snapshot loads back and passes :meth:`check`.
        """
        self._ready()
        cdef uint64_t nslots = <uint64_t>self.tab.nshards * self.tab.shard_slots
        cdef uint64_t i, off = 0
        cdef uint32_t q
        rec_pfn = np.empty(nslots, dtype=np.uint64)
        rec_word = np.empty(nslots, dtype=np.uint32)
        shard_ctr = np.empty((self.tab.nshards, 8), dtype=np.uint64)
        counters = np.empty(6, dtype=np.uint64)
        qslots = np.empty(self.qcap * self.nqueues, dtype=np.uint32)
        qkeys = np.empty(self.qcap * self.nqueues, dtype=np.uint32)
        qsizes = np.empty(self.nqueues, dtype=np.uint64)
        unmovable = np.empty(self.nodes.unmovable_words or 1, dtype=np.uint64)
        cdef uint64_t[::1] vp = rec_pfn
        cdef uint32_t[::1] vw = rec_word
        cdef uint64_t[:, ::1] vs = shard_ctr
        cdef uint64_t[::1] vc = counters
        cdef uint32_t[::1] vqs = qslots
        cdef uint32_t[::1] vqk = qkeys
        cdef uint64_t[::1] vqn = qsizes
        cdef uint64_t[::1] vu = unmovable
        cdef shard_t *sh
        pghot_gate_close(&self.gate)     # between batches (counters flushed)
        self._lock_all()
        for i in range(nslots):
            vp[i] = self.tab.recs[i].pfn
            vw[i] = self.tab.recs[i].word
        for i in range(self.tab.nshards):
            sh = &self.tab.shards[i]
            vs[i, 0] = sh.nr
            vs[i, 1] = sh.created
            vs[i, 2] = sh.recorded
            vs[i, 3] = sh.table_full
            vs[i, 4] = sh.queue_full
            vs[i, 5] = sh.pushes
            vs[i, 6] = sh.extracted
            vs[i, 7] = sh.evicted
        for i in range(NSOURCES):
            vc[i] = self._src_total(i)
        vc[3] = self._out_total(O_TOPTIER)
        vc[4] = self._out_total(O_NOT_MOVABLE)
        vc[5] = pghot_load_u64(self.tab.population)
        for q in range(<uint32_t>self.nqueues):
            vqn[q] = self.qops.walk(self.queues[q], &vqs[off] if self.qcap else NULL,
                                    &vqk[off] if self.qcap else NULL)
            off += vqn[q]
        for i in range(self.nodes.unmovable_words or 1):
            vu[i] = pghot_load_u64(&self.nodes.unmovable[i])
        self._unlock_all()
        pghot_gate_open(&self.gate)
        state = state_header(self, "hash", self._config())
        state.update({
            "rec_pfn": rec_pfn,
            "rec_word": rec_word,
            "shard_counters": shard_ctr,
            "counters": counters,
            "queue_slots": qslots[:off],
            "queue_keys": qkeys[:off],
            "queue_sizes": qsizes,
            "unmovable": unmovable,
        })
        return state

    @staticmethod
    def _from_state(state):
        """Rebuild a tracker from :meth:`_state`; ValueError if the state is not valid."""
        try:
            config, tj = check_state_header(state, "hash")
            # pghot.snapshot: checked before allocating
            topo = snapshot_io().check_geometry(config, tj, state)
            t = Tracker(topo, **config)
            t._restore(state)
        except (KeyError, TypeError, json.JSONDecodeError) as e:
            raise ValueError(f"malformed pghot snapshot: {e!r}") from None
        except RecursionError:
            raise ValueError("malformed pghot snapshot: JSON nested too deeply") from None
        return t

    def _restore(self, state):
        cdef uint64_t nslots = <uint64_t>self.tab.nshards * self.tab.shard_slots
        shapes = {"rec_pfn": ((nslots,), np.uint64), "rec_word": ((nslots,), np.uint32),
                  "shard_counters": ((self.tab.nshards, 8), np.uint64),
                  "counters": ((6,), np.uint64), "queue_sizes": ((self.nqueues,), np.uint64),
                  "unmovable": ((self.nodes.unmovable_words or 1,), np.uint64)}
        arrs = {}
        for name, (shape, dtype) in shapes.items():
            a = np.asarray(state[name])
            if a.shape != shape or a.dtype != dtype:
                raise ValueError(f"snapshot array {name} has shape {a.shape} and dtype "
                                 f"{a.dtype}, expected {shape} and {np.dtype(dtype)}")
            arrs[name] = np.ascontiguousarray(a)
        qslots = np.ascontiguousarray(state["queue_slots"], dtype=np.uint32)
        qkeys = np.ascontiguousarray(state["queue_keys"], dtype=np.uint32)
        sizes = arrs["queue_sizes"]
        if (len(qslots) != len(qkeys) or int(sizes.sum()) != len(qslots)
                or (len(sizes) and int(sizes.max()) > self.qcap)):
            raise ValueError("snapshot queue arrays do not add up")
        pfns = arrs["rec_pfn"]
        if len(qslots) and (int(qslots.max()) >= nslots or int(qkeys.max()) > self.fmax
                            or int(qkeys.min()) < 1
                            or (pfns[qslots] == PGHOT_PFN_EMPTY).any()):
            raise ValueError("snapshot queue entries point outside the table")
        cdef const uint64_t[::1] vp = pfns
        cdef const uint32_t[::1] vw = arrs["rec_word"]
        cdef const uint64_t[:, ::1] vs = arrs["shard_counters"]
        cdef const uint64_t[::1] vc = arrs["counters"]
        cdef const uint64_t[::1] vu = arrs["unmovable"]
        cdef const uint32_t[::1] vqs = qslots
        cdef const uint32_t[::1] vqk = qkeys
        cdef const uint64_t[::1] vqn = sizes
        cdef uint64_t i, off = 0, j
        cdef uint32_t q
        cdef shard_t *sh
        for i in range(nslots):
            self.tab.recs[i].pfn = vp[i]
            self.tab.recs[i].word = vw[i]
            self.tab.recs[i].qpos = PGHOT_QPOS_NONE
        for i in range(self.tab.nshards):
            sh = &self.tab.shards[i]
            if vs[i, 0] > sh.max_nr:
                raise ValueError(f"snapshot shard {i} holds more records than it can")
            sh.nr = vs[i, 0]
            sh.created = vs[i, 1]
            sh.recorded = vs[i, 2]
            sh.table_full = vs[i, 3]
            sh.queue_full = vs[i, 4]
            sh.pushes = vs[i, 5]
            sh.extracted = vs[i, 6]
            sh.evicted = vs[i, 7]
        for i in range(NSOURCES):
            pghot_stripes_set(self.gate.stripes, S_SRC + i, vc[i])
        pghot_stripes_set(self.gate.stripes, S_OUT + O_TOPTIER, vc[3])
        pghot_stripes_set(self.gate.stripes, S_OUT + O_NOT_MOVABLE, vc[4])
        self.tab.population[0] = vc[5]
        for i in range(self.nodes.unmovable_words or 1):
            self.nodes.unmovable[i] = vu[i]
        for q in range(<uint32_t>self.nqueues):
            for j in range(vqn[q]):
                if self.tab.recs[vqs[off + j]].qpos != PGHOT_QPOS_NONE:
                    raise ValueError("snapshot queues hold a record twice")
                self.qops.push(self.queues[q], vqs[off + j], vqk[off + j])
            off += vqn[q]
            self.qs[q].len = self.qops.size(self.queues[q])
        try:
            self.check()
        except RuntimeError as e:
            raise ValueError(f"snapshot is inconsistent: {e}") from None

    def save(self, path):
        """Write the whole state (table, queues, counters) to a ``.npz`` file.

        The file is written to a temporary name in the same directory and
        renamed over ``path`` (:func:`pghot.snapshot.save`), so a crash never
        leaves a half-written file.  A symlink at ``path`` is replaced by a
        regular file (its target is left alone); a replaced file keeps its
        mode, a new one gets ``0o666`` less the umask.

        Examples
        --------
        >>> import os, tempfile, pghot
        >>> t = pghot.Tracker(pghot.Topology.two_tier(1024, 4096))
        >>> _ = t.record_access(2000, -1, 0, 5)
        >>> path = os.path.join(tempfile.mkdtemp(), "t.npz")
        >>> t.save(path)
        >>> pghot.Tracker.load(path).lookup(2000)
        Record(pfn=2000, frequency=1, nid=0, last_update=5, queued=-1)
        """
        snapshot_io().save(self._state(), path)   # file I/O lives in Python

    @staticmethod
    def load(path):
        """Read a tracker written by :meth:`save`.

        Every header, shape and count of the file is checked against the
        others and against the file's size before anything is allocated or
        inflated (:func:`pghot.snapshot.load`), so a hostile file costs at
        most a small multiple of its size and of the tracker it describes.

        Raises
        ------
        ValueError
            Naming the file: it is not a regular file, truncated, corrupted,
            of another format or version, or describes a tracker larger than
            ``pghot.snapshot.DEFAULT_MAX_BYTES``.
        """
        # file I/O and every check of the file, in Python; nothing built yet
        config, topology, state = snapshot_io().load(path)
        try:
            t = Tracker(topology, **config)
            t._restore(state)
        except ValueError as e:
            raise ValueError(f"{os.fsdecode(os.fspath(path))}: {e}") from None
        return t

    def __reduce__(self):
        return (_tracker_from_state, (self._state(),))


    @property
    def queue(self):
        """Name of the queue design."""
        return self._queue_name


def _tracker_from_state(state):
    """Unpickle helper: :meth:`Tracker._from_state`."""
    return Tracker._from_state(state)
