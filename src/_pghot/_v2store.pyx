# The "kernel-v2" store: the data layout of the kernel's pghot v2 behind the
# tracker base's API (_base.pxd: the public methods, checks, counters, gate
# and fork handling are TrackerBase's; this class supplies the kernels), so
# that the layout's cost can be measured beside the package's table.
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
#     index into rec->heap_idx.  One lock per heap.  The heap is dheap.pxd's
#     pointer heap (the algorithm of the hash store's queues, on record
#     pointers: `hrec` tells it where a v2_rec keeps its key and index).
#   - capacity: v2 sized nothing but the list heads and relied on the slab
#     allocator failing; here the atomic `population` enforces `capacity`
#     (default 50 % of the lower-tier pages, v2's hash_entries) as in the
#     core, and a failed malloc drops the access as TABLE_FULL (v2's path).
#   - event counters: v2 used vmstat (per-CPU); here per list, updated under
#     the list lock and summed by stats(); the per-source, top-tier and
#     not-movable counts are the base's (lock-free, per-thread stripes).
#   - cache lines (issue 11): v2 packed its 16-byte heads four to a line, so
#     two CPUs recording PFNs of different lists bounced the line of their
#     locks.  Here each list's head, lock and counters are one 128-byte
#     block (`v2_bucket`), 64-aligned, and each heap's lock and header one
#     64-byte block (`v2_hq`): two threads recording PFNs of different lists
#     and targeting different nodes write no common line.  The head keeps
#     v2's 16 bytes (LIST_BYTES); memory_bytes() counts the whole block.
#     The atomic `population` has a line of its own.
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
# Errors: the base validates everything with the GIL held before any state
# changes; the kernels are `noexcept nogil` and cannot fail.  The batch loop
# (_record_batch) is entered by one virtual call per batch; the class is
# final, so every call inside it is direct.
#
# Snapshots: this store has none (pickling and saving raise TypeError).

cimport cython
from libc.stdlib cimport malloc, calloc, free, qsort
from libc.string cimport memset

cdef extern from "<stdlib.h>" nogil:
    int posix_memalign(void **memptr, size_t alignment, size_t size)

from defs cimport *
from nodes cimport *
from dheap cimport dh_ptr, dh_ptrs, dh_insert, dh_delete, dh_fix, dh_check
from pghot._base cimport *

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
    #define V2_WORD_OFF offsetof(v2_rec, word)
    #define V2_IDX_OFF offsetof(v2_rec, heap_idx)
    _Static_assert(sizeof(v2_rec) == 40, "struct pghot_info is 40 bytes");
    _Static_assert(sizeof(size_t) == 8, "heap_idx is the pointer heap's uint64 position");
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
    size_t V2_WORD_OFF
    size_t V2_IDX_OFF

ctypedef struct v2_list:          # struct pghot_hash: 16 bytes
    v2_hnode *first               # hlist_head
    pghot_lock_t lock

ctypedef struct v2_heap:          # struct max_heap
    size_t nr
    size_t size
    dh_ptr *data                  # v2_rec pointers

ctypedef struct v2_counts:        # the package's counters of one list
    uint64_t created
    uint64_t recorded
    uint64_t table_full
    uint64_t queue_full
    uint64_t pushes
    uint64_t extracted
    uint64_t evicted

ctypedef struct v2_bucket:        # one list's block: 128 bytes, 64-aligned
    v2_list head                  # v2's 16-byte head and lock
    v2_counts st                  # guarded by head.lock
    char _pad[56]

ctypedef struct v2_hq:            # one heap's block: 64 bytes, 64-aligned
    pghot_lock_t lock
    uint32_t _pad0
    v2_heap heap                  # guarded by lock
    char _pad[32]


cdef enum:
    HASH_ENTRIES = 1024           # PGHOT_HASH_ENTRIES: records per list, "ideal case"

#: Bytes of one record (v2's struct pghot_info), as memory_bytes() counts it.
RECORD_BYTES = sizeof(v2_rec)
#: Bytes of one list head with its lock (v2's struct pghot_hash).
LIST_BYTES = sizeof(v2_list)

# check()'s messages by code; the identity of access counts and outcomes is
# the base's.
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
# The pointer heaps (dheap.pxd, arity 2: lib/min_heap with the order
# reversed): entries data[0 .. nr), data[parent]'s frequency >= data[child]'s,
# read through the pointers; every placement writes the index into the
# record's heap_idx, an entry that leaves gets V2_NOT_QUEUED.  Callers hold
# the heap's lock.

# O(log n); -1 when full (then heap_idx is left untouched: F14).
cdef inline int hp_push(v2_heap *h, v2_rec *r, const dh_ptrs *c) noexcept nogil:
    if h.nr >= h.size:
        return -1
    dh_insert(h.data, h.nr, <dh_ptr>r, 2, c)
    h.nr += 1
    return 0


# O(log n)
cdef inline void hp_remove(v2_heap *h, size_t i, const dh_ptrs *c) noexcept nogil:
    h.nr -= 1
    dh_delete(h.data, h.nr, i, 2, c)


# O(log n): entry i's key changed; move it whichever way it needs.
cdef inline void hp_fix(v2_heap *h, size_t i, const dh_ptrs *c) noexcept nogil:
    dh_fix(h.data, h.nr, i, 2, c)


cdef inline v2_rec *hp_top(const v2_heap *h) noexcept nogil:
    return <v2_rec *>h.data[0]


cdef int _cmp_u64(const void *a, const void *b) noexcept nogil:
    cdef uint64_t x = (<const uint64_t *>a)[0], y = (<const uint64_t *>b)[0]
    return (x > y) - (x < y)


# --------------------------------------------------------------------------

@cython.final
cdef class KernelV2Tracker(TrackerBase):
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

    ``memory_bytes()`` counts each list's block (its head and lock, v2's 16
    bytes, with the list's counters, padded to 128 bytes so that no two
    lists share a cache line), 40 bytes per live record, the heap arrays (8
    bytes per entry of capacity), the movable bitmap and the flattened
    topology.  Each record is a separate malloc: the allocator's own
    overhead (with glibc, a 40-byte request takes a 48-byte chunk: 8 bytes
    more per record; 8-16 bytes with other allocators) comes on top and is
    not counted.  v2's slab cache had no per-object header.

    >>> before = t.memory_bytes()
    >>> _ = t.record_access(2000, -1, 0, 0)
    >>> t.memory_bytes() - before
    40
    >>> t.lookup(2000)
    Record(pfn=2000, frequency=1, nid=0, last_update=0, queued=-1)
    >>> t.stats()["pghot_records_hash"], len(t), t.queued(0)
    (2, 1, 0)
    >>> t.check()
    """

    cdef v2_bucket *lists         # per list: head, lock, counters (128 bytes)
    cdef uint32_t nlists
    cdef uint32_t list_bits
    cdef uint64_t *population     # atomic, a line of its own
    cdef v2_hq *heaps             # per top-tier node: lock and heap (64 bytes)
    cdef int32_t *qnid            # node id of each heap
    cdef int32_t nqueues
    cdef uint32_t wbits           # fbits + nbits + tbits
    cdef dh_ptrs hrec             # where the heaps find a record's key and index

    def __cinit__(self, *args, **kwargs):
        self.lists = NULL
        self.nlists = 0
        self.population = NULL
        self.heaps = NULL
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
        self._topology = topology
        self.wbits = self.fbits + self.nbits + self.tbits
        self.hrec.key_off = V2_WORD_OFF
        self.hrec.key_mask = self.fmax
        self.hrec.idx_off = V2_IDX_OFF
        top = self._init_nodes(arrs, topology.default_node)
        self._init_lists(self.capacity_)
        self._init_heaps(top)
        self._finish_init()

    cdef int _check_queue(self, object queue) except -1:
        if queue != "binary":
            raise ValueError(
                f"queue must be 'binary' for the kernel-v2 store (v2 had only a "
                f"binary heap), got {queue!r}")
        return 0

    cdef _init_lists(self, int64_t cap):
        nr = _nr_lists(cap)
        cdef uint32_t n = nr
        cdef uint32_t i
        self.list_bits = nr.bit_length() - 1
        self.population = <uint64_t *>pghot_alloc_lines(sizeof(uint64_t))
        self.lists = <v2_bucket *>pghot_alloc_lines(n * sizeof(v2_bucket))
        if self.lists == NULL or self.population == NULL:
            raise MemoryError(f"cannot allocate {n} hash lists")
        for i in range(n):
            self.lists[i].head.first = NULL
            pghot_lock_init(&self.lists[i].head.lock)
        self.nlists = n

    cdef _init_heaps(self, list top):
        cdef int32_t i
        self.heaps = <v2_hq *>pghot_alloc_lines(len(top) * sizeof(v2_hq))
        self.qnid = <int32_t *>calloc(len(top), sizeof(int32_t))
        if self.heaps == NULL or self.qnid == NULL:
            raise MemoryError()
        for i in range(len(top)):
            self.heaps[i].heap.data = <dh_ptr *>pghot_alloc_lines(
                (self.qcap if self.qcap else 1) * sizeof(dh_ptr))
            if self.heaps[i].heap.data == NULL:
                raise MemoryError(f"cannot allocate a heap of {self.qcap} entries")
            self.heaps[i].heap.nr = 0
            self.heaps[i].heap.size = self.qcap
            self.nqueues = i + 1
            pghot_lock_init(&self.heaps[i].lock)
            self.qnid[i] = top[i]

    def __dealloc__(self):
        cdef uint32_t i
        cdef int32_t q
        cdef v2_hnode *n
        cdef v2_hnode *nx
        if self.lists != NULL:
            for i in range(self.nlists):
                n = self.lists[i].head.first
                while n != NULL:
                    nx = n.next
                    free(V2_REC_OF(n))
                    n = nx
            free(self.lists)
        free(self.population)
        if self.heaps != NULL:
            for q in range(self.nqueues):
                free(self.heaps[q].heap.data)
            free(self.heaps)
        free(self.qnid)

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
        pghot_lock(&self.heaps[q].lock)
        rc = hp_push(&self.heaps[q].heap, r, &self.hrec)
        pghot_unlock(&self.heaps[q].lock)
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
        cdef v2_list *l = &self.lists[b].head
        cdef v2_counts *st = &self.lists[b].st
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
                pghot_lock(&self.heaps[q].lock)
                if old_tgt != tgt or freq < self.thr:
                    # F4: out of the old target's heap before anything else
                    hp_remove(&self.heaps[q].heap, r.heap_idx, &self.hrec)
                    queued = False
                    r.word = w
                else:
                    r.word = w
                    if freq != old_freq:
                        hp_fix(&self.heaps[q].heap, r.heap_idx, &self.hrec)
                pghot_unlock(&self.heaps[q].lock)
            else:
                r.word = w
        else:
            if pghot_inc_below(self.population, self.capacity_):
                # v2's phi_alloc: one allocation per record, under the list lock
                r = <v2_rec *>malloc(sizeof(v2_rec))
                if r != NULL:
                    hlist_add_head(&r.hnode, &l.first)
                else:
                    pghot_sub_u64(self.population, 1)
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
                           uint64_t *out_pfn, uint32_t *out_word,
                           int64_t *scratch) noexcept nogil:
        cdef uint64_t n = 0
        cdef v2_heap *h = &self.heaps[q].heap
        cdef pghot_lock_t *hl = &self.heaps[q].lock
        cdef v2_rec *top
        cdef uint32_t b
        while n < max_count:
            pghot_lock(hl)
            if h.nr == 0 or (hp_top(h).word & self.fmax) < thr:
                pghot_unlock(hl)
                break
            top = hp_top(h)
            b = self._list_of(top.pfn)
            if not pghot_trylock(&self.lists[b].head.lock):
                # respect the lock order, then make sure the top (whatever
                # record it is now) still lives in list b
                pghot_unlock(hl)
                pghot_lock(&self.lists[b].head.lock)
                pghot_lock(hl)
                if (h.nr == 0 or (hp_top(h).word & self.fmax) < thr
                        or self._list_of(hp_top(h).pfn) != b):
                    pghot_unlock(hl)
                    pghot_unlock(&self.lists[b].head.lock)
                    continue
                top = hp_top(h)
            hp_remove(h, 0, &self.hrec)
            pghot_unlock(hl)
            hlist_del(&top.hnode)
            out_pfn[n] = top.pfn
            out_word[n] = top.word
            n += 1
            self.lists[b].st.extracted += 1
            pghot_sub_u64(self.population, 1)
            pghot_unlock(&self.lists[b].head.lock)
            free(top)                    # unreachable now: no list, no heap
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
        memset(c, 0, sizeof(c))
        memset(s, 0, sizeof(s))
        for i in range(n):
            s[sv[i & sm]] += 1
            c[self._record(p[i], nv[i & nm], <uint64_t>tv[i & tm])] += 1
        for i in range(NOUTCOMES):
            cnt[i] += c[i]
        for i in range(NSOURCES):
            per_src[i] += s[i]

    cdef uint64_t _extract_limit(self, int32_t q, int64_t max_count) noexcept nogil:
        return min(<uint64_t>max_count, self.qcap)

    cdef bint _lookup_word(self, uint64_t pfn, uint32_t *word, bint *queued) noexcept:
        cdef v2_list *l = &self.lists[self._list_of(pfn)].head
        cdef v2_rec *r
        pghot_lock(&l.lock)
        r = self._lookup(l, pfn)
        if r != NULL:
            word[0] = r.word
            queued[0] = self._queued(r)
        pghot_unlock(&l.lock)
        return r != NULL

    cdef uint64_t _records(self) noexcept:
        return pghot_load_u64(self.population)

    cdef uint64_t _queued_in(self, int32_t q) noexcept nogil:
        pghot_lock(&self.heaps[q].lock)
        cdef size_t n = self.heaps[q].heap.nr
        pghot_unlock(&self.heaps[q].lock)
        return n

    cdef void _counts(self, uint64_t *t) noexcept:
        cdef uint32_t i
        cdef v2_counts *c
        for i in range(self.nlists):
            c = &self.lists[i].st
            pghot_lock(&self.lists[i].head.lock)
            t[C_CREATED] += c.created
            t[C_RECORDED] += c.recorded
            t[C_TABLE_FULL] += c.table_full
            t[C_QUEUE_FULL] += c.queue_full
            t[C_PUSHES] += c.pushes
            t[C_EXTRACTED] += c.extracted
            t[C_EVICTED] += c.evicted
            pghot_unlock(&self.lists[i].head.lock)
        for i in range(<uint32_t>self.nqueues):
            pghot_lock(&self.heaps[i].lock)
            t[C_QUEUED] += self.heaps[i].heap.nr
            pghot_unlock(&self.heaps[i].lock)

    # Lists, records, heaps, bitmap, counters (class docstring).
    cdef size_t _nbytes(self) noexcept:
        cdef size_t n = 0
        cdef int32_t i
        n += <size_t>self.nlists * sizeof(v2_bucket)     # head, lock, counters
        n += PGHOT_LINE                                   # the population's line
        n += <size_t>pghot_load_u64(self.population) * sizeof(v2_rec)
        for i in range(self.nqueues):
            n += sizeof(v2_hq) + <size_t>(self.qcap if self.qcap else 1) * sizeof(dh_ptr)
        n += <size_t>self.nqueues * sizeof(int32_t)
        n += nodemap_nbytes(&self.nodes)
        return n

    # Lists, then heaps (the lock order).
    cdef void _lock_all(self) noexcept nogil:
        cdef uint32_t i
        for i in range(self.nlists):
            pghot_lock(&self.lists[i].head.lock)
        for i in range(<uint32_t>self.nqueues):
            pghot_lock(&self.heaps[i].lock)

    cdef void _unlock_all(self) noexcept nogil:
        cdef uint32_t i
        for i in range(<uint32_t>self.nqueues):
            pghot_unlock(&self.heaps[i].lock)
        for i in range(self.nlists):
            pghot_unlock(&self.lists[i].head.lock)

    cdef uint64_t _locked_outcomes(self) noexcept nogil:
        cdef uint64_t n = 0
        cdef uint32_t l
        for l in range(self.nlists):
            n += self.lists[l].st.recorded + self.lists[l].st.table_full
        return n

    cdef dict _layout_extra(self):
        cdef uint32_t i
        cdef int32_t q
        return {
            "lists": [(<size_t><void *>&self.lists[i], sizeof(v2_bucket))
                      for i in range(self.nlists)],
            "heaps": [(<size_t><void *>&self.heaps[q], sizeof(v2_hq))
                      for q in range(self.nqueues)],
            "population": [(<size_t><void *>self.population, sizeof(uint64_t))],
        }

    cdef list _repr_fields(self):
        return [("records", len(self)), ("capacity", self.capacity_), ("lists", self.nlists),
                ("threshold", self.thr), ("window_jiffies", self.window), ("queue", "binary")]

    # Every invariant, with every lock held; 0 or a _CHECK_MESSAGES code with
    # up to three values in a (see TrackerBase._check_locked).  Walks every
    # list and sorts the PFNs to find duplicates: O(n log n).
    cdef int _check_locked(self, uint64_t *a) noexcept nogil:
        cdef uint32_t l
        cdef int code
        cdef uint64_t total = 0, queued_recs = 0, hot_unqueued = 0
        cdef uint64_t created = 0, extracted = 0, evicted = 0, queue_full = 0
        cdef uint64_t qtotal = 0
        cdef uint64_t npfns = pghot_load_u64(self.population)
        cdef uint64_t *pfns
        cdef size_t idx
        cdef int32_t q
        cdef int64_t bad
        cdef v2_hnode **pp
        cdef v2_hnode *n
        cdef v2_rec *r
        cdef v2_counts *c
        if npfns > self.capacity_:
            npfns = self.capacity_
        pfns = <uint64_t *>malloc((npfns + 1) * sizeof(uint64_t))
        for l in range(self.nlists):
            c = &self.lists[l].st
            created += c.created
            extracted += c.extracted
            evicted += c.evicted
            queue_full += c.queue_full
            pp = &self.lists[l].head.first
            n = pp[0]
            while n != NULL:
                if n.pprev != pp:
                    a[0] = l
                    free(pfns)
                    return 5
                total += 1
                if total > self.capacity_:
                    a[0] = self.capacity_
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
            if self.heaps[q].heap.nr > self.heaps[q].heap.size:
                a[0] = self.qnid[q]
                a[1] = self.heaps[q].heap.nr
                a[2] = self.heaps[q].heap.size
                return 17
            qtotal += self.heaps[q].heap.nr
        a[0] = qtotal
        a[1] = queued_recs
        if qtotal != queued_recs:
            return 12
        for q in range(self.nqueues):
            bad = dh_check(self.heaps[q].heap.data, self.heaps[q].heap.nr, 2, &self.hrec)
            if bad >= 0:
                a[0] = self.qnid[q]
                a[1] = bad
                return 11
        a[0] = hot_unqueued
        if hot_unqueued and not queue_full:
            return 13
        a[0] = total
        a[1] = pghot_load_u64(self.population)
        if total != a[1]:
            return 14
        a[1] = self.capacity_
        if total > self.capacity_:
            return 15
        a[1] = created - extracted - evicted
        if total != a[1]:
            return 16
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
            if hi >= self.heaps[q].heap.nr or <v2_rec *>self.heaps[q].heap.data[hi] != r:
                return 7
            a[2] = freq
            if freq < self.thr:
                return 9
        elif freq >= self.thr:
            hot_unqueued[0] += 1
        return 0


    @property
    def queue(self):
        """Name of the queue design: always "binary"."""
        return "binary"
