# The "kernel-v2" store: the data layout of the kernel's pghot v2 behind the
# Tracker API, so that its cost can be measured beside the package's table.
#
# Only the layout is v2's; the semantics are the package's (SEMANTICS.md
# section 4, defects F1-F14 fixed), identical to pghot._core.Tracker.
#
# Data (v2's, from seed-v2-review.txt):
#   - `lists`: 2^ilog2(capacity / 1024) hash lists (at least one: F13), each
#     an hlist head and a spinlock, 16 bytes (v2's struct pghot_hash).  A
#     PFN's list is the top list_bits bits of its 64-bit pghot_hash (v2's
#     hash_min was the golden-ratio multiplicative hash; either spreads PFNs
#     evenly, and one hash costs nothing beside a list walk).  Every list is
#     meant to hold about 1024 records (PGHOT_HASH_ENTRIES), so a lookup walks
#     hundreds of nodes (F11, kept on purpose: it is what is measured).
#   - `v2_rec` (v2's struct pghot_info), one malloc per tracked PFN, 40 bytes:
#         uint64 pfn | uint32 word | 4 bytes padding | hlist_node {next,
#         pprev} | size_t heap_idx
#     `word` is packed like the core's: freq | target nid << freq_bits |
#     time << (freq_bits + nid_bits).  heap_idx is V2_NOT_QUEUED (SIZE_MAX)
#     when the record is in no heap (F6).  New records go to the list head.
#   - one heap per top-tier node (v2's struct max_heap): an array of
#     queue_capacity `v2_rec *` (8 bytes each), a binary max-heap on
#     rec->frequency read through the pointer; every move writes the entry's
#     index into rec->heap_idx.  One lock per heap.
#   - capacity: v2 sized nothing but the list heads and relied on the slab
#     allocator failing; here the atomic `population` enforces `capacity`
#     (default 50 % of the lower-tier pages, v2's hash_entries) as in the
#     core, and a failed malloc drops the access as TABLE_FULL (v2's path).
#   - event counters: v2 used vmstat (per-CPU); here one 64-byte block per
#     list, updated under the list lock and summed by stats().
#
# Invariants (checked by check(), SEMANTICS.md section 5): a record is in the
# list its PFN hashes to, pprev points at its predecessor's next (or the
# head); a record with heap_idx != V2_NOT_QUEUED is at that index of its
# target's heap and nowhere else; queued iff freq >= threshold unless a push
# was refused; population == records in the lists == created - extracted -
# evicted.
#
# Concurrency: a list lock guards its records (pfn, word, list links, whether
# queued); a heap lock guards its array and the heap_idx values it writes.
# The word of a queued record changes only under its heap's lock too, so a
# heap only ever compares keys that are stable under its own lock.  Lock
# order: list lock, then one heap lock at a time.  Extraction starts from a
# heap: it peeks under the heap lock and try-locks the top's list, or drops
# the heap lock, takes the list lock, re-takes the heap lock and re-checks
# that the top still lives in that list (a freed top's address can come back
# as another PFN's record).  A record is freed after both locks are dropped,
# when nothing points at it any more.  malloc runs under the list lock, as
# v2's GFP_ATOMIC allocation did.  No lock is held while the GIL is
# requested.
#
# Errors: validation with the GIL held before any state changes; the kernels
# are `noexcept nogil` and cannot fail.

cimport cython
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.number cimport PyIndex_Check, PyNumber_Index
from libc.stdlib cimport malloc, calloc, free, qsort
from libc.string cimport memset

cdef extern from "<stdlib.h>" nogil:
    int posix_memalign(void **memptr, size_t alignment, size_t size)

from defs cimport *
from nodes cimport *
from args cimport _int_arg, _pfn_arg, _check_range

# The record needs offsetof (container_of), which Cython cannot express.
cdef extern from *:
    """
    #include <stddef.h>
    #include <stdint.h>
    struct v2_hnode { struct v2_hnode *next, **pprev; };
    typedef struct {
        uint64_t pfn;
        uint32_t word;            /* frequency | nid | last_update */
        struct v2_hnode hnode;    /* after 4 bytes of padding */
        size_t heap_idx;
    } v2_rec;
    #define V2_REC_OF(n) ((v2_rec *)((char *)(n) - offsetof(v2_rec, hnode)))
    #define V2_NOT_QUEUED SIZE_MAX
    _Static_assert(sizeof(v2_rec) == 40, "struct pghot_info is 40 bytes");
    """
    cdef struct v2_hnode:
        v2_hnode *next
        v2_hnode **pprev
    ctypedef struct v2_rec:
        uint64_t pfn
        uint32_t word
        v2_hnode hnode
        size_t heap_idx
    v2_rec *V2_REC_OF(v2_hnode *n) nogil
    size_t V2_NOT_QUEUED

import numpy as np

from pghot._core import _batch_arrays, _fork_safe, _movable_pfns
from pghot._types import RECORD_DTYPE, Outcome, Record

ctypedef struct v2_list:          # struct pghot_hash: 16 bytes
    v2_hnode *first               # hlist_head
    pghot_lock_t lock

ctypedef struct v2_heap:          # struct max_heap
    size_t nr
    size_t size
    v2_rec **data

ctypedef struct v2_counts:        # the package's counters of one list
    uint64_t created
    uint64_t recorded
    uint64_t table_full
    uint64_t queue_full
    uint64_t pushes
    uint64_t extracted
    uint64_t evicted
    uint64_t _pad

cdef enum:
    O_RECORDED = 0
    O_TOPTIER = 1
    O_NOT_MOVABLE = 2
    O_TABLE_FULL = 3
    NSOURCES = 3
    HASH_ENTRIES = 1024           # PGHOT_HASH_ENTRIES: records per list, "ideal case"

#: Bytes of one record (v2's struct pghot_info), as memory_bytes() counts it.
RECORD_BYTES = sizeof(v2_rec)
#: Bytes of one list head with its lock (v2's struct pghot_hash).
LIST_BYTES = sizeof(v2_list)

cdef tuple _OUTCOMES = tuple(Outcome)
cdef int64_t _I64_MAX = 0x7FFFFFFFFFFFFFFF

_CHECK_MESSAGES = (
    "",
    "record of pfn {0} has frequency 0",
    "record of pfn {0} is not in a lower-tier node",
    "record of pfn {0} targets node {1}, which is not a top-tier node",
    "record of pfn {0} is in list {1} but hashes to list {2}",
    "list {0} is broken: a node's pprev does not point at its predecessor",
    "pfn {0} has two records",
    "record of pfn {0} is not at its position in node {1}'s queue",
    "record of pfn {0} has bits set above its fields (word {1:#x})",
    "pfn {0} is queued with frequency {2} below the threshold",
    "the lists hold more records than the capacity, {0} (a cycle?)",
    "queue of node {0} breaks its order or back-pointer at position {1}",
    "queues hold {0} entries but {1} records are queued",
    "{0} records reached the threshold unqueued, and no push was refused",
    "table holds {0} records, population says {1}",
    "table holds {0} records, capacity is {1}",
    "table holds {0} records, created - extracted - evicted = {1}",
    "{0} accesses counted, their outcomes add up to {1}",
    "queue of node {0} holds {1} entries, more than its capacity {2}",
)


def _nr_lists(capacity):
    """Hash lists of a table of ``capacity`` records: v2's 2^ilog2(hash_size)
    with hash_size = capacity / 1024, at least 1 (F13: v2 took ilog2(0)).

    >>> [_nr_lists(c) for c in (0, 2047, 2048, 5000, 1 << 20)]
    [1, 1, 2, 4, 1024]
    """
    return 1 << (max(1, int(capacity) // HASH_ENTRIES).bit_length() - 1)


# --------------------------------------------------------------------------
# hlist (include/linux/list.h): a singly linked list whose nodes also point
# at the pointer that points at them, so a node unlinks itself in O(1).

# O(1)
cdef inline void hlist_add_head(v2_hnode *n, v2_hnode **head) noexcept nogil:
    cdef v2_hnode *first = head[0]
    n.next = first
    if first != NULL:
        first.pprev = &n.next
    head[0] = n
    n.pprev = head


# O(1)
cdef inline void hlist_del(v2_hnode *n) noexcept nogil:
    cdef v2_hnode *nx = n.next
    n.pprev[0] = nx
    if nx != NULL:
        nx.pprev = n.pprev
    n.next = NULL
    n.pprev = NULL


# --------------------------------------------------------------------------
# The pointer heap (lib/min_heap with the order reversed): entries
# data[0 .. nr), children of i at 2i+1, 2i+2; data[parent]'s frequency >=
# data[child]'s, read through the pointers.  Every placement writes the
# index into the record's heap_idx; an entry that leaves gets V2_NOT_QUEUED.
# Callers hold the heap's lock.

cdef inline uint32_t _key(const v2_rec *r, uint32_t fmax) noexcept nogil:
    return r.word & fmax


cdef inline void _hp_place(v2_heap *h, size_t i, v2_rec *r) noexcept nogil:
    h.data[i] = r
    pghot_store_u64(<uint64_t *>&r.heap_idx, i)


# O(log n)
cdef inline void hp_sift_up(v2_heap *h, size_t i, uint32_t fmax) noexcept nogil:
    cdef v2_rec *r = h.data[i]
    cdef uint32_t k = _key(r, fmax)
    cdef size_t p
    while i > 0:
        p = (i - 1) >> 1
        if _key(h.data[p], fmax) >= k:
            break
        _hp_place(h, i, h.data[p])
        i = p
    _hp_place(h, i, r)


# O(log n)
cdef inline void hp_sift_down(v2_heap *h, size_t i, uint32_t fmax) noexcept nogil:
    cdef v2_rec *r = h.data[i]
    cdef uint32_t k = _key(r, fmax)
    cdef size_t c, n = h.nr
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and _key(h.data[c + 1], fmax) > _key(h.data[c], fmax):
            c += 1
        if _key(h.data[c], fmax) <= k:
            break
        _hp_place(h, i, h.data[c])
        i = c
    _hp_place(h, i, r)


# O(log n): entry i's key changed; move it whichever way it needs.
cdef inline void hp_fix(v2_heap *h, size_t i, uint32_t fmax) noexcept nogil:
    if i > 0 and _key(h.data[(i - 1) >> 1], fmax) < _key(h.data[i], fmax):
        hp_sift_up(h, i, fmax)
    else:
        hp_sift_down(h, i, fmax)


# O(log n); -1 when full (then heap_idx is left untouched: F14).
cdef inline int hp_push(v2_heap *h, v2_rec *r, uint32_t fmax) noexcept nogil:
    if h.nr >= h.size:
        return -1
    h.data[h.nr] = r
    h.nr += 1
    hp_sift_up(h, h.nr - 1, fmax)
    return 0


# O(log n): the last entry fills the hole, then moves up or down.
cdef inline void hp_remove(v2_heap *h, size_t i, uint32_t fmax) noexcept nogil:
    pghot_store_u64(<uint64_t *>&h.data[i].heap_idx, V2_NOT_QUEUED)
    h.nr -= 1
    if i == h.nr:
        return
    h.data[i] = h.data[h.nr]
    hp_fix(h, i, fmax)


# O(n): first index breaking the order or its back-pointer, or -1.
cdef inline int64_t hp_check(const v2_heap *h, uint32_t fmax) noexcept nogil:
    cdef size_t i
    for i in range(h.nr):
        if i > 0 and _key(h.data[(i - 1) >> 1], fmax) < _key(h.data[i], fmax):
            return <int64_t>i
        if pghot_load_u64(<const uint64_t *>&h.data[i].heap_idx) != i:
            return <int64_t>i
    return -1


cdef int _cmp_u64(const void *a, const void *b) noexcept nogil:
    cdef uint64_t x = (<const uint64_t *>a)[0], y = (<const uint64_t *>b)[0]
    return (x > y) - (x < y)


# --------------------------------------------------------------------------

@cython.final
cdef class KernelV2Tracker:
    """Hot page tracker with the kernel v2 layout ("kernel-v2" store).

    Same constructor, methods, validation, counters and semantics as
    :class:`pghot.Tracker`; only the data layout differs: chained hash lists
    (``2**ilog2(capacity // 1024)`` of them, at least one), one 40-byte
    record malloc'd per tracked PFN, and per top-tier node a binary max-heap
    of 8-byte record pointers.  It exists to measure what that layout costs.

    Parameters
    ----------
    topology : pghot.Topology
        Nodes and PFN ranges; only PFNs of lower-tier nodes are tracked.
    hz, freq_window_ms, threshold, freq_bits, nid_bits, time_bits
        As for :class:`pghot.Tracker`.
    capacity : int, optional
        Records tracked at most; default 50 % of the lower-tier pages (v2's
        ``hash_entries``).  v2 bounded nothing and relied on the allocator
        failing; here a global counter enforces the bound, and a failed
        allocation drops the access (``TABLE_FULL``) as in v2.
    queue_capacity : int, optional
        Entries per top-tier heap; default 25 % of ``capacity`` (at least 1).
    queue : {"binary"}
        v2 had only a binary heap; anything else is a ValueError.
    evict_stale : bool, default False
        When the table is full, let a new PFN take over a record older than
        the window that is not queued, found in the new PFN's own list
        (counted as ``evicted``).  Other lists are not searched, so a new
        PFN can be dropped while stale records remain in other lists.

    Examples
    --------
    >>> import pghot
    >>> from pghot._v2store import KernelV2Tracker  # doctest: +SKIP
    >>> t = KernelV2Tracker(pghot.Topology.two_tier(1024, 4096))
    >>> t.record_access(1500, -1, pghot.Source.HW_HINTS, 10)
    <Outcome.RECORDED: 0>
    >>> t.record_access(1500, -1, pghot.Source.HW_HINTS, 20)
    <Outcome.RECORDED: 0>
    >>> t.extract_batch(0).tolist()
    [1500]
    """

    cdef v2_list *lists
    cdef v2_counts *lstat
    cdef uint32_t nlists
    cdef uint32_t list_bits
    cdef uint64_t cap
    cdef uint64_t population      # atomic
    cdef v2_heap *heaps
    cdef pghot_lock_t *hlocks
    cdef int32_t *qnid            # node id of each heap
    cdef int32_t nqueues
    cdef uint32_t fbits, nbits, tbits, fmax, nmask, tmask, thr, window
    cdef uint32_t wbits           # fbits + nbits + tbits
    cdef bint evict
    cdef uint64_t qcap
    cdef uint64_t src_count[NSOURCES]
    cdef uint64_t toptier_count
    cdef uint64_t notmov_count
    cdef pghot_gate_t gate        # batch calls in flight; closed by fork (pghot_sync.h)
    cdef nodemap_t nodes          # the topology, flattened (nodes.pxd)
    cdef object _topology
    cdef object __weakref__       # for the at-fork registry (pghot._core)
    cdef bint _inited             # __init__ ran to its end: every part is there
    cdef int64_t _hz
    cdef int64_t _window_ms

    def __cinit__(self, *args, **kwargs):
        self.lists = NULL
        self.lstat = NULL
        self.nlists = 0
        self.heaps = NULL
        self.hlocks = NULL
        self.qnid = NULL
        self.nqueues = 0
        memset(&self.nodes, 0, sizeof(nodemap_t))

    def __init__(self, topology, *, hz=1000, freq_window_ms=5000, threshold=2,
                 freq_bits=3, nid_bits=10, time_bits=19, capacity=None,
                 queue_capacity=None, queue="binary", evict_stale=False):
        from pghot.topology import Topology
        if self.lists != NULL:
            raise RuntimeError("KernelV2Tracker is already initialised")
        if not isinstance(topology, Topology):
            raise TypeError(f"topology must be a pghot.Topology, not {type(topology).__name__}")
        cdef int64_t fb = _int_arg(freq_bits, "freq_bits", 1, 16)
        cdef int64_t nb = _int_arg(nid_bits, "nid_bits", 1, 30)
        cdef int64_t tb = _int_arg(time_bits, "time_bits", 1, 30)
        if fb + nb + tb > 32:
            raise ValueError(f"freq_bits + nid_bits + time_bits must be <= 32, got {fb + nb + tb}")
        cdef int64_t c_hz = _int_arg(hz, "hz", 1, 1_000_000)
        cdef int64_t wms = _int_arg(freq_window_ms, "freq_window_ms", 0, 1 << 40)
        cdef int64_t thr = _int_arg(threshold, "threshold", 1, (1 << fb) - 1)
        win = -(-int(wms) * int(c_hz) // 1000)  # msecs_to_jiffies rounds up
        if win >= (1 << tb):
            raise ValueError(
                f"freq_window_ms={wms} is {win} jiffies at hz={c_hz}, which "
                f"time_bits={tb} cannot represent (span {(1 << tb) - 1} jiffies)")
        if not isinstance(queue, str):
            raise TypeError(f"queue must be a str, not {type(queue).__name__}")
        if queue != "binary":
            raise ValueError(
                f"queue must be 'binary' for the kernel-v2 store (v2 had only a "
                f"binary heap), got {queue!r}")
        if not isinstance(evict_stale, (bool, np.bool_)):
            raise TypeError(f"evict_stale must be a bool, not {type(evict_stale).__name__}")
        nids = [n.nid for n in topology.nodes]
        if max(nids) >= (1 << nb):
            raise ValueError(f"nid_bits={nb} cannot hold node id {max(nids)} of the topology")
        arrs = topology.arrays()
        lower = int(topology.lower_pages())
        cdef int64_t cap
        if capacity is None:
            if lower * 50 // 100 > (1 << 31):
                raise ValueError(
                    f"the default capacity ({lower * 50 // 100} records, 50 % of the "
                    f"lower tier) exceeds 2**31: pass capacity= explicitly")
            cap = lower * 50 // 100
        else:
            cap = _int_arg(capacity, "capacity", 0, 1 << 31)
        cdef int64_t qcap
        if queue_capacity is None:
            qcap = max(1, cap * 25 // 100) if cap > 0 else 0
        else:
            qcap = _int_arg(queue_capacity, "queue_capacity", 0, 0xFFFFFFFE)
            if qcap > cap:
                raise ValueError(f"queue_capacity={qcap} exceeds capacity={cap}: a queue "
                                 f"holds table records")

        self._topology = topology
        self._hz = c_hz
        self._window_ms = wms
        self.fbits = fb
        self.nbits = nb
        self.tbits = tb
        self.wbits = fb + nb + tb
        self.fmax = (1 << fb) - 1
        self.nmask = (1 << nb) - 1
        self.tmask = <uint32_t>((1 << tb) - 1)
        self.thr = thr
        self.window = win
        self.evict = bool(evict_stale)
        self.qcap = qcap
        self._init_topology(arrs)
        self._init_lists(cap)
        self._init_heaps(topology)
        self._inited = True
        _fork_safe(self)

    cdef _init_topology(self, dict arrs):
        nodemap_init(&self.nodes, arrs, self._topology.default_node)

    cdef _init_lists(self, int64_t cap):
        nr = _nr_lists(cap)
        cdef uint32_t n = nr
        cdef uint32_t i
        self.cap = cap
        self.population = 0
        self.list_bits = nr.bit_length() - 1
        self.lists = <v2_list *>calloc(n, sizeof(v2_list))
        if posix_memalign(<void **>&self.lstat, 64, n * sizeof(v2_counts)) != 0:
            self.lstat = NULL
        if self.lists == NULL or self.lstat == NULL:
            free(self.lists)
            self.lists = NULL
            raise MemoryError(f"cannot allocate {n} hash lists")
        memset(self.lstat, 0, n * sizeof(v2_counts))
        for i in range(n):
            self.lists[i].first = NULL
            pghot_lock_init(&self.lists[i].lock)
        self.nlists = n

    cdef _init_heaps(self, topology):
        top = list(topology.toptier_nids())
        cdef int32_t i
        self.heaps = <v2_heap *>calloc(len(top), sizeof(v2_heap))
        self.hlocks = <pghot_lock_t *>calloc(len(top), sizeof(pghot_lock_t))
        self.qnid = <int32_t *>calloc(len(top), sizeof(int32_t))
        if self.heaps == NULL or self.hlocks == NULL or self.qnid == NULL:
            raise MemoryError()
        for i in range(len(top)):
            self.heaps[i].data = <v2_rec **>calloc(self.qcap if self.qcap else 1, sizeof(v2_rec *))
            if self.heaps[i].data == NULL:
                raise MemoryError(f"cannot allocate a heap of {self.qcap} entries")
            self.heaps[i].nr = 0
            self.heaps[i].size = self.qcap
            self.nqueues = i + 1
            pghot_lock_init(&self.hlocks[i])
            self.qnid[i] = top[i]
            nodemap_set_queue(&self.nodes, top[i], i)

    def __dealloc__(self):
        cdef uint32_t i
        cdef int32_t q
        cdef v2_hnode *n
        cdef v2_hnode *nx
        if self.lists != NULL:
            for i in range(self.nlists):
                n = self.lists[i].first
                while n != NULL:
                    nx = n.next
                    free(V2_REC_OF(n))
                    n = nx
            free(self.lists)
        free(self.lstat)
        if self.heaps != NULL:
            for q in range(self.nqueues):
                free(self.heaps[q].data)
            free(self.heaps)
        free(self.hlocks)
        free(self.qnid)
        nodemap_free(&self.nodes)

    # ---------------------------------------------------------------- kernels

    # O(1): v2's hash_min(pfn, phi_hash_order), with the package's hash.
    cdef inline uint32_t _list_of(self, uint64_t pfn) noexcept nogil:
        if self.list_bits == 0:
            return 0
        return <uint32_t>(pghot_hash(pfn) >> (64 - self.list_bits))

    cdef inline uint32_t _pack(self, uint32_t freq, uint32_t nid, uint32_t t) noexcept nogil:
        return freq | (nid << self.fbits) | (t << (self.fbits + self.nbits))

    cdef inline uint32_t _freq(self, uint32_t w) noexcept nogil:
        return w & self.fmax

    cdef inline uint32_t _nid(self, uint32_t w) noexcept nogil:
        return (w >> self.fbits) & self.nmask

    cdef inline uint32_t _time(self, uint32_t w) noexcept nogil:
        return (w >> (self.fbits + self.nbits)) & self.tmask

    cdef inline bint _queued(self, v2_rec *r) noexcept nogil:
        return pghot_load_u64(<const uint64_t *>&r.heap_idx) != V2_NOT_QUEUED

    # O(list length): v2's phi_lookup.  Caller holds the list lock.
    cdef inline v2_rec *_lookup(self, v2_list *l, uint64_t pfn) noexcept nogil:
        cdef v2_hnode *n = l.first
        while n != NULL:
            if V2_REC_OF(n).pfn == pfn:
                return V2_REC_OF(n)
            n = n.next
        return NULL

    # O(list length): the first record of the list older than the window
    # and not queued, or NULL.  Caller holds the list lock.
    cdef v2_rec *_stale_unqueued(self, v2_list *l, uint32_t cur) noexcept nogil:
        cdef v2_hnode *n = l.first
        cdef v2_rec *r
        while n != NULL:
            r = V2_REC_OF(n)
            if (not self._queued(r)
                    and ((cur - self._time(r.word)) & self.tmask) > self.window):
                return r
            n = n.next
        return NULL

    # O(log n) under the heap lock; False when the heap is full.
    cdef inline bint _h_push(self, int32_t q, v2_rec *r) noexcept nogil:
        cdef int rc
        pghot_lock(&self.hlocks[q])
        rc = hp_push(&self.heaps[q], r, self.fmax)
        pghot_unlock(&self.hlocks[q])
        return rc == 0

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
        cdef uint32_t b = self._list_of(pfn)
        cdef v2_list *l = &self.lists[b]
        cdef v2_counts *st = &self.lstat[b]
        cdef uint32_t old_tgt, old_freq, freq, w
        cdef bint queued = False
        cdef int32_t q
        cdef v2_rec *r

        pghot_lock(&l.lock)
        r = self._lookup(l, pfn)
        if r != NULL:
            old_freq = self._freq(r.word)
            old_tgt = self._nid(r.word)
            if (((cur - self._time(r.word)) & self.tmask) > self.window
                    or (nid >= 0 and tgt != old_tgt)):
                freq = 1
            else:
                freq = old_freq + 1 if old_freq < self.fmax else old_freq
            w = self._pack(freq, tgt, cur)
            queued = self._queued(r)
            if queued:
                # the key of a queued record changes only under its heap's lock
                q = nodemap_queue(&self.nodes, old_tgt)
                pghot_lock(&self.hlocks[q])
                if old_tgt != tgt or freq < self.thr:
                    # F4: out of the old target's heap before anything else
                    hp_remove(&self.heaps[q], r.heap_idx, self.fmax)
                    queued = False
                    r.word = w
                else:
                    r.word = w
                    if freq != old_freq:
                        hp_fix(&self.heaps[q], r.heap_idx, self.fmax)
                pghot_unlock(&self.hlocks[q])
            else:
                r.word = w
        else:
            if pghot_inc_below(&self.population, self.cap):
                # v2's phi_alloc: one allocation per record, under the list lock
                r = <v2_rec *>malloc(sizeof(v2_rec))
                if r != NULL:
                    hlist_add_head(&r.hnode, &l.first)
                else:
                    pghot_sub_u64(&self.population, 1)
            elif self.evict:
                # reuse a stale record of the same list in place: same list,
                # so its links stay valid
                r = self._stale_unqueued(l, cur)
                if r != NULL:
                    st.evicted += 1
            if r == NULL:
                st.table_full += 1
                pghot_unlock(&l.lock)
                return O_TABLE_FULL
            r.pfn = pfn
            r.word = self._pack(1, tgt, cur)
            pghot_store_u64(<uint64_t *>&r.heap_idx, V2_NOT_QUEUED)
            st.created += 1
            freq = 1

        # Only ever the target's heap (F4), whenever freq >= threshold (F5).
        if freq >= self.thr and not queued:
            if self._h_push(nodemap_queue(&self.nodes, tgt), r):
                st.pushes += 1
            else:
                st.queue_full += 1           # F14: stays unqueued, counted
        st.recorded += 1
        pghot_unlock(&l.lock)
        return O_RECORDED

    # v2's phi_heap_extract: pop up to max_count records with frequency >=
    # thr from heap q, unlink and free them; returns how many.
    cdef uint64_t _extract(self, int32_t q, uint64_t max_count, uint32_t thr,
                           uint64_t *out_pfn, uint32_t *out_word) noexcept nogil:
        cdef uint64_t n = 0
        cdef v2_heap *h = &self.heaps[q]
        cdef pghot_lock_t *hl = &self.hlocks[q]
        cdef v2_rec *top
        cdef uint32_t b
        while n < max_count:
            pghot_lock(hl)
            if h.nr == 0 or _key(h.data[0], self.fmax) < thr:
                pghot_unlock(hl)
                break
            top = h.data[0]
            b = self._list_of(top.pfn)
            if not pghot_trylock(&self.lists[b].lock):
                # respect the lock order, then make sure the top (whatever
                # record it is now) still lives in list b
                pghot_unlock(hl)
                pghot_lock(&self.lists[b].lock)
                pghot_lock(hl)
                if (h.nr == 0 or _key(h.data[0], self.fmax) < thr
                        or self._list_of(h.data[0].pfn) != b):
                    pghot_unlock(hl)
                    pghot_unlock(&self.lists[b].lock)
                    continue
                top = h.data[0]
            hp_remove(h, 0, self.fmax)
            pghot_unlock(hl)
            hlist_del(&top.hnode)
            out_pfn[n] = top.pfn
            out_word[n] = top.word
            n += 1
            self.lstat[b].extracted += 1
            pghot_sub_u64(&self.population, 1)
            pghot_unlock(&self.lists[b].lock)
            free(top)                    # unreachable now: no list, no heap
        return n

    # ------------------------------------------------------------ public API

    cdef inline int _ready(self) except -1:
        if not self._inited:
            raise RuntimeError("KernelV2Tracker.__init__ was not called, or failed")
        return 0

    # An accessing node: its promotion target, or -1 for NUMA_NO_NODE.
    cdef inline int64_t _target_arg(self, object nid) except? -0x7FFFFFFFFFFFFFFF:
        cdef int64_t v = _int_arg(nid, "nid", -1, (1 << self.nbits) - 1)
        if v < 0:
            return -1
        if nodemap_target(&self.nodes, v) < 0:
            raise ValueError(f"nid {v} is not a node of the topology")
        return nodemap_target(&self.nodes, v)

    cdef inline int32_t _top_nid_arg(self, object nid) except -1:
        cdef int64_t c_nid = _int_arg(nid, "nid", 0, (1 << self.nbits) - 1)
        if nodemap_queue(&self.nodes, c_nid) < 0:
            raise ValueError(f"nid {c_nid} is not a top-tier node of the topology")
        return nodemap_queue(&self.nodes, c_nid)

    def record_access(self, pfn, nid, src, now):
        """Report one access to a PFN (SEMANTICS.md section 4).

        Parameters
        ----------
        pfn : int
            Page frame number accessed.
        nid : int
            Accessing node, or ``pghot.NUMA_NO_NODE`` (-1) when unknown.
        src : int or pghot.Source
            Temperature source.
        now : int
            Access time in jiffies (>= 0).

        Returns
        -------
        pghot.Outcome

        Examples
        --------
        >>> import pghot
        >>> t = KernelV2Tracker(pghot.Topology.two_tier(1024, 4096))
        >>> t.record_access(10, 0, pghot.Source.HINT_FAULT, 0)
        <Outcome.TOPTIER: 1>
        >>> t.record_access(2000, 0, pghot.Source.HINT_FAULT, 0)
        <Outcome.RECORDED: 0>
        """
        self._ready()
        cdef uint64_t c_pfn = _pfn_arg(pfn)
        cdef int64_t c_nid = self._target_arg(nid)
        cdef int64_t c_src = _int_arg(src, "src", 0, NSOURCES - 1)
        cdef int64_t c_now = _int_arg(now, "now", 0, _I64_MAX)
        pghot_add_u64(&self.src_count[c_src], 1)
        cdef int o = self._record(c_pfn, c_nid, <uint64_t>c_now)
        if o == O_TOPTIER:
            pghot_add_u64(&self.toptier_count, 1)
        elif o == O_NOT_MOVABLE:
            pghot_add_u64(&self.notmov_count, 1)
        return _OUTCOMES[o]

    def record_accesses(self, pfns, nids, srcs, nows):
        """Report a batch of accesses; the loop runs without the GIL.

        Parameters
        ----------
        pfns : array_like of int
            PFNs, 1-D integer array.
        nids, srcs, nows : array_like of int, or int
            Accessing nodes, sources and times: arrays as long as ``pfns``,
            or scalars that apply to every access.

        Returns
        -------
        numpy.ndarray
            int64 counts indexed by :class:`pghot.Outcome`.

        Examples
        --------
        >>> import numpy as np, pghot
        >>> t = KernelV2Tracker(pghot.Topology.two_tier(1024, 4096))
        >>> t.record_accesses(np.array([5, 2000, 2000]), -1, 0, np.array([1, 2, 3])).tolist()
        [2, 1, 0, 0]
        >>> t.queued(0)
        1
        """
        self._ready()
        pa, na, sa, ta, nm_, sm_, tm_ = _batch_arrays(pfns, nids, srcs, nows, (1 << self.nbits) - 1)
        cdef const uint64_t[::1] p = pa
        cdef int64_t[::1] nv = na
        cdef const int64_t[::1] sv = sa
        cdef const int64_t[::1] tv = ta
        cdef Py_ssize_t n = p.shape[0]
        cdef Py_ssize_t nm = nm_, sm = sm_, tm = tm_
        cdef Py_ssize_t i
        # the accessing nodes become promotion targets (the kernel's `nid`)
        i = nodemap_targets(&self.nodes, &nv[0], nv.shape[0])
        if i >= 0:
            raise ValueError(f"nids[{i}] = {nv[i]} is not a node of the topology")

        out = np.zeros(4, dtype=np.int64)
        cdef int64_t[::1] o = out
        cdef uint64_t cnt[4]
        cdef uint64_t per_src[NSOURCES]
        cdef int r
        memset(cnt, 0, sizeof(cnt))
        memset(per_src, 0, sizeof(per_src))
        pghot_gate_enter(&self.gate)
        with nogil:
            for i in range(n):
                per_src[sv[i & sm]] += 1
                r = self._record(p[i], nv[i & nm], <uint64_t>tv[i & tm])
                cnt[r] += 1
            for r in range(NSOURCES):
                pghot_add_u64(&self.src_count[r], per_src[r])
            pghot_add_u64(&self.toptier_count, cnt[O_TOPTIER])
            pghot_add_u64(&self.notmov_count, cnt[O_NOT_MOVABLE])
            pghot_gate_leave(&self.gate)   # last: after the counter flushes
        for r in range(4):
            o[r] = cnt[r]
        return out

    def extract_batch(self, nid, max_count=1024, threshold=None, return_records=False):
        """Remove and return the hottest queued records of a top-tier node.

        Parameters
        ----------
        nid : int
            Top-tier node whose heap is drained.
        max_count : int, default 1024
            At most this many records.
        threshold : int, optional
            Minimum frequency; default the tracker's threshold.
        return_records : bool, default False
            Return a structured array (``pghot.RECORD_DTYPE``) instead of PFNs.

        Returns
        -------
        numpy.ndarray
            uint64 PFNs, highest frequency first (ties in any order).

        Examples
        --------
        >>> import pghot
        >>> t = KernelV2Tracker(pghot.Topology.two_tier(1024, 4096), threshold=1)
        >>> for now, pfn in enumerate([3000, 2000, 3000]):
        ...     _ = t.record_access(pfn, -1, 0, now)
        >>> rec = t.extract_batch(0, return_records=True)
        >>> rec["pfn"].tolist(), rec["frequency"].tolist()
        ([3000, 2000], [2, 1])
        >>> len(t)
        0
        """
        self._ready()
        cdef int32_t q = self._top_nid_arg(nid)
        cdef int64_t c_max = _int_arg(max_count, "max_count", 0, _I64_MAX)
        cdef int64_t c_thr = self.thr if threshold is None else _int_arg(
            threshold, "threshold", 1, self.fmax)
        if not isinstance(return_records, (bool, np.bool_)):
            raise TypeError(f"return_records must be a bool, not {type(return_records).__name__}")
        cdef uint64_t want = min(<uint64_t>c_max, self.qcap)
        pfn_out = np.empty(want, dtype=np.uint64)
        word_out = np.empty(want, dtype=np.uint32)
        cdef uint64_t[::1] pv = pfn_out
        cdef uint32_t[::1] wv = word_out
        cdef uint64_t got
        pghot_gate_enter(&self.gate)
        with nogil:
            got = self._extract(q, want, <uint32_t>c_thr,
                                &pv[0] if want else NULL, &wv[0] if want else NULL)
            pghot_gate_leave(&self.gate)
        pfn_out = pfn_out[:got]
        if not return_records:
            return pfn_out
        w = word_out[:got]
        rec = np.empty(got, dtype=RECORD_DTYPE)
        rec["pfn"] = pfn_out
        rec["frequency"] = w & self.fmax
        rec["nid"] = (w >> self.fbits) & self.nmask
        rec["last_update"] = (w >> (self.fbits + self.nbits)) & self.tmask
        return rec

    def lookup(self, pfn):
        """The record of a PFN, or None.

        Examples
        --------
        >>> import pghot
        >>> t = KernelV2Tracker(pghot.Topology.two_tier(1024, 4096))
        >>> _ = t.record_access(2000, -1, 0, 7)
        >>> t.lookup(2000)
        Record(pfn=2000, frequency=1, nid=0, last_update=7, queued=-1)
        >>> t.lookup(2001) is None
        True
        """
        self._ready()
        cdef uint64_t c_pfn = _pfn_arg(pfn)
        cdef v2_list *l = &self.lists[self._list_of(c_pfn)]
        cdef v2_rec *r
        cdef uint32_t w = 0
        cdef bint found = False, queued = False
        pghot_lock(&l.lock)
        r = self._lookup(l, c_pfn)
        if r != NULL:
            found = True
            w = r.word
            queued = self._queued(r)
        pghot_unlock(&l.lock)
        if not found:
            return None
        return Record(int(c_pfn), self._freq(w), self._nid(w), self._time(w),
                      self._nid(w) if queued else -1)

    def set_movable(self, pfns, flag):
        """Mark lower-tier PFNs movable (default) or not movable.

        Accesses to a PFN that is not movable are ignored
        (``Outcome.NOT_MOVABLE``); its existing record is kept.

        Examples
        --------
        >>> import pghot
        >>> t = KernelV2Tracker(pghot.Topology.two_tier(1024, 4096))
        >>> t.set_movable([2000, 2001], False)
        >>> t.record_access(2000, -1, 0, 0)
        <Outcome.NOT_MOVABLE: 2>
        """
        self._ready()
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"flag must be a bool, not {type(flag).__name__}")
        nodemap_set_movable_all(&self.nodes, _movable_pfns(pfns), bool(flag), &self.gate)

    def __len__(self):
        self._ready()
        return <Py_ssize_t>pghot_load_u64(&self.population)

    def queued(self, nid):
        """Number of records in a top-tier node's heap.

        Examples
        --------
        >>> import pghot
        >>> KernelV2Tracker(pghot.Topology.two_tier(1024, 4096)).queued(0)
        0
        """
        self._ready()
        cdef int32_t q = self._top_nid_arg(nid)
        pghot_lock(&self.hlocks[q])
        cdef size_t n = self.heaps[q].nr
        pghot_unlock(&self.hlocks[q])
        return n

    def stats(self):
        """Event counters (the kernel's vmstat names, then the package's own).

        Examples
        --------
        >>> import pghot
        >>> t = KernelV2Tracker(pghot.Topology.two_tier(1024, 4096))
        >>> _ = t.record_access(2000, -1, pghot.Source.PGTABLE_SCAN, 0)
        >>> s = t.stats()
        >>> s["pghot_recorded_accesses"], s["pghot_recorded_pgtscans"], s["pghot_records_hash"]
        (1, 1, 1)
        """
        self._ready()
        cdef uint64_t tot[7]
        cdef uint32_t i
        cdef v2_counts *c
        memset(tot, 0, sizeof(tot))
        for i in range(self.nlists):
            c = &self.lstat[i]
            pghot_lock(&self.lists[i].lock)
            tot[0] += c.created
            tot[1] += c.recorded
            tot[2] += c.table_full
            tot[3] += c.queue_full
            tot[4] += c.pushes
            tot[5] += c.extracted
            tot[6] += c.evicted
            pghot_unlock(&self.lists[i].lock)
        cdef uint64_t queued = 0
        src = [pghot_load_u64(&self.src_count[i]) for i in range(NSOURCES)]
        for i in range(self.nqueues):
            pghot_lock(&self.hlocks[i])
            queued += self.heaps[i].nr
            pghot_unlock(&self.hlocks[i])
        return {
            "pghot_recorded_accesses": sum(src),
            "pghot_recorded_hwhints": src[0],
            "pghot_recorded_pgtscans": src[1],
            "pghot_recorded_hintfaults": src[2],
            "pghot_records_hash": tot[0],
            "pghot_records_heap": tot[4],
            "recorded": tot[1],
            "toptier": pghot_load_u64(&self.toptier_count),
            "not_movable": pghot_load_u64(&self.notmov_count),
            "table_full": tot[2],
            "queue_full": tot[3],
            "evicted": tot[6],
            "extracted": tot[5],
            "records": pghot_load_u64(&self.population),
            "queued": queued,
        }

    def memory_bytes(self):
        """Bytes the tracker allocated: lists, records, heaps, bitmap, counters.

        Counts the list heads with their locks (16 bytes each), 40 bytes per
        live record, the heap arrays (8 bytes per entry of capacity), the
        movable bitmap, the per-list counters and the flattened topology.
        Each record is a separate malloc: the allocator's own overhead (with
        glibc, a 40-byte request takes a 48-byte chunk: 8 bytes more per
        record; 8-16 bytes with other allocators) comes on top and is not
        counted.  v2's slab cache had no per-object header.

        Examples
        --------
        >>> import pghot
        >>> t = KernelV2Tracker(pghot.Topology.two_tier(1024, 4096))
        >>> before = t.memory_bytes()
        >>> _ = t.record_access(2000, -1, 0, 0)
        >>> t.memory_bytes() - before
        40
        """
        self._ready()
        cdef size_t n = 0
        cdef int32_t i
        n += <size_t>self.nlists * (sizeof(v2_list) + sizeof(v2_counts))
        n += <size_t>pghot_load_u64(&self.population) * sizeof(v2_rec)
        for i in range(self.nqueues):
            n += sizeof(v2_heap) + <size_t>(self.qcap if self.qcap else 1) * sizeof(v2_rec *)
        n += <size_t>self.nqueues * (sizeof(pghot_lock_t) + sizeof(int32_t))
        n += nodemap_nbytes(&self.nodes)
        return n

    def _fork_prepare(self):
        """Before ``os.fork()``: close the gate (pghot._core._fork_safe)."""
        pghot_gate_close(&self.gate)

    def _fork_done(self):
        """After ``os.fork()``, in parent and child: open the gate again."""
        pghot_gate_open(&self.gate)

    def check(self):
        """Verify every invariant of SEMANTICS.md section 5 for this layout.

        Takes every lock (lists, then heaps), so it sees a consistent state
        even while other threads run; the identity between access counts and
        outcomes is checked only when no batch call is running.  Walks every
        list and sorts the PFNs to find duplicates: O(n log n).

        Raises
        ------
        RuntimeError
            Naming the first violated invariant.

        Examples
        --------
        >>> import pghot
        >>> KernelV2Tracker(pghot.Topology.two_tier(1024, 4096)).check()
        """
        cdef uint32_t i
        cdef uint64_t a[3]
        cdef int code
        a[0] = a[1] = a[2] = 0
        self._ready()
        # With the GIL held (see pghot._core.Tracker.check): single calls
        # cannot be half done, no batch can start, and the lock holders we
        # wait for never ask for the GIL.
        for i in range(self.nlists):
            pghot_lock(&self.lists[i].lock)
        for i in range(self.nqueues):
            pghot_lock(&self.hlocks[i])
        code = self._check_locked(a)
        for i in range(self.nqueues):
            pghot_unlock(&self.hlocks[i])
        for i in range(self.nlists):
            pghot_unlock(&self.lists[i].lock)
        if code:
            raise RuntimeError("pghot invariant violated: "
                               + _CHECK_MESSAGES[code].format(a[0], a[1], a[2]))

    # Every invariant, with every lock held; 0 or a _CHECK_MESSAGES code with
    # up to three values in a.  No Python object here (see pghot._core).
    cdef int _check_locked(self, uint64_t *a) noexcept nogil:
        cdef uint32_t l
        cdef int code
        cdef uint64_t total = 0, queued_recs = 0, hot_unqueued = 0
        cdef uint64_t created = 0, extracted = 0, evicted = 0, queue_full = 0
        cdef uint64_t recorded = 0, table_full = 0, qtotal = 0, accesses = 0
        cdef uint64_t npfns = pghot_load_u64(&self.population)
        cdef uint64_t *pfns
        cdef size_t idx
        cdef int32_t q
        cdef int64_t bad
        cdef v2_hnode **pp
        cdef v2_hnode *n
        cdef v2_rec *r
        cdef v2_counts *c
        if npfns > self.cap:
            npfns = self.cap
        pfns = <uint64_t *>malloc((npfns + 1) * sizeof(uint64_t))
        for l in range(self.nlists):
            c = &self.lstat[l]
            created += c.created
            extracted += c.extracted
            evicted += c.evicted
            queue_full += c.queue_full
            recorded += c.recorded
            table_full += c.table_full
            pp = &self.lists[l].first
            n = pp[0]
            while n != NULL:
                if n.pprev != pp:
                    a[0] = l
                    free(pfns)
                    return 5
                total += 1
                if total > self.cap:
                    a[0] = self.cap
                    free(pfns)
                    return 10
                r = V2_REC_OF(n)
                if pfns != NULL and total <= npfns:
                    pfns[total - 1] = r.pfn
                code = self._check_record(r, l, a, &queued_recs, &hot_unqueued)
                if code:
                    free(pfns)
                    return code
                pp = &n.next
                n = n.next
        if pfns != NULL and total <= npfns:
            qsort(pfns, total, sizeof(uint64_t), _cmp_u64)
            for idx in range(1, total):
                if pfns[idx] == pfns[idx - 1]:
                    a[0] = pfns[idx]
                    free(pfns)
                    return 6
        free(pfns)
        # Every queued record sits at its own heap slot; with equal counts,
        # every heap slot holds a live record, so the heaps can be walked.
        for q in range(self.nqueues):
            if self.heaps[q].nr > self.heaps[q].size:
                a[0] = self.qnid[q]
                a[1] = self.heaps[q].nr
                a[2] = self.heaps[q].size
                return 18
            qtotal += self.heaps[q].nr
        a[0] = qtotal
        a[1] = queued_recs
        if qtotal != queued_recs:
            return 12
        for q in range(self.nqueues):
            bad = hp_check(&self.heaps[q], self.fmax)
            if bad >= 0:
                a[0] = self.qnid[q]
                a[1] = bad
                return 11
        a[0] = hot_unqueued
        if hot_unqueued and not queue_full:
            return 13
        a[0] = total
        a[1] = pghot_load_u64(&self.population)
        if total != a[1]:
            return 14
        a[1] = self.cap
        if total > self.cap:
            return 15
        a[1] = created - extracted - evicted
        if total != a[1]:
            return 16
        if pghot_gate_idle(&self.gate):
            for idx in range(NSOURCES):
                accesses += pghot_load_u64(&self.src_count[idx])
            a[0] = accesses
            a[1] = (recorded + table_full + pghot_load_u64(&self.toptier_count)
                    + pghot_load_u64(&self.notmov_count))
            if a[0] != a[1]:
                return 17
        return 0

    # The invariants of one record found in list l.
    cdef int _check_record(self, v2_rec *r, uint32_t l, uint64_t *a,
                           uint64_t *queued_recs, uint64_t *hot_unqueued) noexcept nogil:
        cdef uint32_t freq = self._freq(r.word), nid = self._nid(r.word)
        cdef int32_t k, q
        cdef size_t hi
        a[0] = r.pfn
        if self.wbits < 32 and (r.word >> self.wbits) != 0:
            a[1] = r.word
            return 8
        if freq < 1:
            return 1
        k = nodemap_index(&self.nodes, r.pfn)
        if k < 0 or self.nodes.top[k]:
            return 2
        if nodemap_queue(&self.nodes, nid) < 0:
            a[1] = nid
            return 3
        if self._list_of(r.pfn) != l:
            a[1] = l
            a[2] = self._list_of(r.pfn)
            return 4
        hi = r.heap_idx
        if hi != V2_NOT_QUEUED:
            queued_recs[0] += 1
            q = nodemap_queue(&self.nodes, nid)
            a[1] = nid
            if hi >= self.heaps[q].nr or self.heaps[q].data[hi] != r:
                return 7
            a[2] = freq
            if freq < self.thr:
                return 9
        elif freq >= self.thr:
            hot_unqueued[0] += 1
        return 0

    # ------------------------------------------------------------ properties

    @property
    def topology(self):
        """The :class:`pghot.Topology` the tracker was built with."""
        return self._topology

    @property
    def hz(self):
        """Jiffies per second."""
        return self._hz

    @property
    def freq_window_ms(self):
        """Frequency window in milliseconds."""
        return self._window_ms

    @property
    def window_jiffies(self):
        """Frequency window in jiffies (rounded up)."""
        return self.window

    @property
    def threshold(self):
        """Frequency at which a record is queued."""
        return self.thr

    @property
    def freq_bits(self):
        return self.fbits

    @property
    def nid_bits(self):
        return self.nbits

    @property
    def time_bits(self):
        return self.tbits

    @property
    def capacity(self):
        """Records the table holds at most."""
        return self.cap

    @property
    def queue_capacity(self):
        """Entries each top-tier heap holds at most."""
        return self.qcap

    @property
    def queue(self):
        """Name of the queue design: always "binary"."""
        return "binary"

    @property
    def evict_stale(self):
        return bool(self.evict)

    def __reduce__(self):
        raise TypeError("KernelV2Tracker cannot be pickled or saved: only the "
                        "'hash' store writes snapshots")

    def __repr__(self):
        if self.lists == NULL:
            return "KernelV2Tracker(<uninitialised>)"
        return (f"KernelV2Tracker(records={len(self)}, capacity={self.capacity}, "
                f"lists={self.nlists}, threshold={self.thr}, "
                f"window_jiffies={self.window}, queue='binary')")
