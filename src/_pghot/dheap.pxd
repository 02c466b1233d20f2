# Indexed d-ary max-heap: the kernel's lib/min_heap with the order reversed,
# any arity, and every element's position kept in its record, so that any
# entry can be updated or removed in O(log n).  Arity 2 is the kernel's
# binary heap; arity 4 halves the depth and keeps a node's children in one
# cache line (4 entries of 8 bytes).
#
# Layout: entries e[0 .. nr), children of i at d*i+1 .. d*i+d, parent at
# (i-1)/d; order property e[parent].key >= e[child].key.  An entry is
# (key, slot): the key (frequency) is cached beside the slot so that sifting
# touches only the heap array, never the table.  Every time an entry lands at
# index i the heap writes i into recs[slot].qpos; an entry that leaves gets
# PGHOT_QPOS_NONE.  Not thread-safe: callers hold the node's queue lock.
#
# The same algorithm serves a second kind of entry (min_heap.h serves every
# element type through its callbacks; here a fused type, so each kind gets
# its own compiled copy and no call is indirect): a *pointer heap*, whose
# entries are record addresses (the kernel v2 layout, _v2store.pyx).  Such a
# record carries its own key and position: the key is the uint32 at
# key_off masked by key_mask, read through the pointer at every comparison,
# and the position is the uint64 at idx_off, DH_NOT_QUEUED when the record
# is in no heap (dh_ptrs describes a record's layout).  The dh_* functions
# below take any entry kind and a context: the record array for dh_entry
# (recs[slot].qpos), a dh_ptrs for dh_ptr.
#
# The arity is a parameter of every function; the queue_ops wrappers at the
# end pass it as a constant, so the compiler specialises each inlined copy.
from libc.stdlib cimport malloc, calloc, free
from defs cimport pghot_rec, pghot_store_u32, pghot_load_u32, PGHOT_QPOS_NONE
from defs cimport pghot_store_u64, pghot_load_u64, pghot_alloc_lines
from defs cimport uint32_t, uint64_t, int64_t

cdef extern from *:
    """
    #define PGHOT_DH_NOT_QUEUED UINT64_MAX
    """
    uint64_t DH_NOT_QUEUED "PGHOT_DH_NOT_QUEUED"

ctypedef struct dh_entry:
    uint32_t key
    uint32_t slot

ctypedef struct dheap:
    dh_entry *e
    uint32_t nr
    uint32_t cap
    pghot_rec *recs

ctypedef char *dh_ptr            # an entry of a pointer heap: a record's address

ctypedef struct dh_ptrs:         # where a pointer heap's records keep key and position
    size_t key_off
    uint32_t key_mask
    size_t idx_off

ctypedef fused dh_elem:
    dh_entry
    dh_ptr


# O(1): the key of an entry.
cdef inline uint32_t _dh_key(dh_elem x, const void *ctx) noexcept nogil:
    if dh_elem is dh_entry:
        return x.key
    else:
        return (<const uint32_t *>(x + (<const dh_ptrs *>ctx).key_off))[0] & (
            <const dh_ptrs *>ctx).key_mask


# O(1): the position an entry's record holds.
cdef inline uint64_t _dh_pos(dh_elem x, const void *ctx) noexcept nogil:
    if dh_elem is dh_entry:
        return pghot_load_u32(&(<const pghot_rec *>ctx)[x.slot].qpos)
    else:
        return pghot_load_u64(<const uint64_t *>(x + (<const dh_ptrs *>ctx).idx_off))


# O(1): e[i] = x, and x's record learns its position.
cdef inline void _dh_place(dh_elem *e, uint64_t i, dh_elem x, const void *ctx) noexcept nogil:
    e[i] = x
    if dh_elem is dh_entry:
        pghot_store_u32(&(<pghot_rec *>ctx)[x.slot].qpos, <uint32_t>i)
    else:
        pghot_store_u64(<uint64_t *>(x + (<const dh_ptrs *>ctx).idx_off), i)


# O(1): x left the heap.
cdef inline void _dh_leave(dh_elem x, const void *ctx) noexcept nogil:
    if dh_elem is dh_entry:
        pghot_store_u32(&(<pghot_rec *>ctx)[x.slot].qpos, PGHOT_QPOS_NONE)
    else:
        pghot_store_u64(<uint64_t *>(x + (<const dh_ptrs *>ctx).idx_off), DH_NOT_QUEUED)


# A pointer heap's context, copied into the caller's frame: the compiler
# then knows that the stores into records (through char pointers) cannot
# change it, and keeps key_off, key_mask and idx_off in registers.
cdef inline const void *_dh_local(dh_elem *e, const void *ctx, dh_ptrs *local) noexcept nogil:
    if dh_elem is dh_entry:
        return ctx
    else:
        local[0] = (<const dh_ptrs *>ctx)[0]
        return local


# O(log_d n): move entry i up past every smaller parent.
cdef inline void dh_sift_up(dh_elem *e, uint64_t i, uint32_t d, const void *ctx) noexcept nogil:
    cdef dh_ptrs local
    cdef const void *c = _dh_local(e, ctx, &local)
    cdef dh_elem x = e[i]
    cdef uint32_t k = _dh_key(x, c)
    cdef uint64_t p
    while i > 0:
        p = (i - 1) // d
        if _dh_key(e[p], c) >= k:
            break
        _dh_place(e, i, e[p], c)
        i = p
    _dh_place(e, i, x, c)


# O(d log_d n): move entry i of e[0 .. n) down past every larger child;
# each key is read once (a pointer heap reads it through the record).
cdef inline void dh_sift_down(dh_elem *e, uint64_t n, uint64_t i, uint32_t d,
                              const void *ctx) noexcept nogil:
    cdef dh_ptrs local
    cdef const void *c = _dh_local(e, ctx, &local)
    cdef dh_elem x = e[i]
    cdef uint32_t k = _dh_key(x, c), bk, ck
    cdef uint64_t ch, best
    cdef uint32_t j
    while True:
        ch = <uint64_t>d * i + 1
        if ch >= n:
            break
        best = ch
        bk = _dh_key(e[ch], c)
        for j in range(1, d):        # d is a constant: unrolled (arity 2: one test)
            if ch + j >= n:
                break
            ck = _dh_key(e[ch + j], c)
            if ck > bk:
                best = ch + j
                bk = ck
        if bk <= k:
            break
        _dh_place(e, i, e[best], c)
        i = best
    _dh_place(e, i, x, c)


# O(log_d n): entry i of e[0 .. n) may break the order with its parent or
# its children (its key changed, or it filled a hole); move it whichever
# way it needs.
cdef inline void dh_fix(dh_elem *e, uint64_t n, uint64_t i, uint32_t d,
                        const void *ctx) noexcept nogil:
    if i > 0 and _dh_key(e[(i - 1) // d], ctx) < _dh_key(e[i], ctx):
        dh_sift_up(e, i, d, ctx)
    else:
        dh_sift_down(e, n, i, d, ctx)


# O(log_d n): add x to e[0 .. n), which has room for it; the caller counts it.
cdef inline void dh_insert(dh_elem *e, uint64_t n, dh_elem x, uint32_t d,
                           const void *ctx) noexcept nogil:
    e[n] = x
    dh_sift_up(e, n, d, ctx)


# O(log_d n): entry i leaves a heap of n + 1 entries (n after the caller's
# count): the last entry fills the hole, then moves up or down (v2 only
# sifted down, which breaks the order when the filler beats its new parent).
cdef inline void dh_delete(dh_elem *e, uint64_t n, uint64_t i, uint32_t d,
                           const void *ctx) noexcept nogil:
    _dh_leave(e[i], ctx)
    if i == n:
        return
    e[i] = e[n]
    dh_fix(e, n, i, d, ctx)


# O(n): the first position of e[0 .. n) that breaks the order or whose
# record does not hold its position, or -1.
cdef inline int64_t dh_check(dh_elem *e, uint64_t n, uint32_t d, const void *ctx) noexcept nogil:
    cdef uint64_t i
    for i in range(n):
        if i > 0 and _dh_key(e[(i - 1) // d], ctx) < _dh_key(e[i], ctx):
            return <int64_t>i
        if _dh_pos(e[i], ctx) != i:
            return <int64_t>i
    return -1


# --------------------------------------------------------------------------
# The queue_ops heaps (pqueue.pxd): dh_entry arrays on the tracker's records.

# O(cap).  The header and the entries each start a cache line of their own
# (pghot_sync.h): the queues of two top-tier nodes, filled by two threads,
# share no line.
cdef inline void *dheap_create(uint32_t cap, uint32_t max_key, pghot_rec *recs) noexcept nogil:
    cdef dheap *h = <dheap *>pghot_alloc_lines(sizeof(dheap))
    if h == NULL:
        return NULL
    h.e = <dh_entry *>pghot_alloc_lines((cap if cap > 0 else 1) * sizeof(dh_entry))
    if h.e == NULL:
        free(h)
        return NULL
    h.nr = 0
    h.cap = cap
    h.recs = recs
    return h


cdef inline void dheap_destroy(void *q) noexcept nogil:
    cdef dheap *h = <dheap *>q
    if h != NULL:
        free(h.e)
        free(h)


# O(log_d n); -1 when full.
cdef inline int dheap_push(void *q, uint32_t slot, uint32_t key, uint32_t d) noexcept nogil:
    cdef dheap *h = <dheap *>q
    if h.nr >= h.cap:
        return -1
    cdef dh_entry x
    x.key = key
    x.slot = slot
    dh_insert(h.e, h.nr, x, d, h.recs)
    h.nr += 1
    return 0


# O(log_d n): sift up or down, whichever the new key needs.
cdef inline void dheap_update(void *q, uint32_t i, uint32_t key, uint32_t d) noexcept nogil:
    cdef dheap *h = <dheap *>q
    cdef uint32_t old = h.e[i].key
    h.e[i].key = key
    if key > old:
        dh_sift_up(h.e, i, d, h.recs)
    elif key < old:
        dh_sift_down(h.e, h.nr, i, d, h.recs)


# O(log_d n): dh_delete.
cdef inline void dheap_remove(void *q, uint32_t i, uint32_t d) noexcept nogil:
    cdef dheap *h = <dheap *>q
    h.nr -= 1
    dh_delete(h.e, h.nr, i, d, h.recs)


# O(1)
cdef inline int dheap_peek(void *q, uint32_t *slot, uint32_t *key) noexcept nogil:
    cdef dheap *h = <dheap *>q
    if h.nr == 0:
        return 0
    slot[0] = h.e[0].slot
    key[0] = h.e[0].key
    return 1


# O(d log_d n)
cdef inline uint32_t dheap_pop(void *q, uint32_t d) noexcept nogil:
    cdef dheap *h = <dheap *>q
    cdef uint32_t slot = h.e[0].slot
    dheap_remove(q, 0, d)
    return slot


# O(1)
cdef inline void dheap_relocate(void *q, uint32_t i, uint32_t slot) noexcept nogil:
    (<dheap *>q).e[i].slot = slot


cdef inline uint32_t dheap_size(void *q) noexcept nogil:
    return (<dheap *>q).nr


cdef inline size_t dheap_nbytes(void *q) noexcept nogil:
    cdef dheap *h = <dheap *>q
    return sizeof(dheap) + <size_t>(h.cap if h.cap > 0 else 1) * sizeof(dh_entry)


cdef inline int dheap_entry(void *q, uint32_t i, uint32_t *slot, uint32_t *key) noexcept nogil:
    cdef dheap *h = <dheap *>q
    if i >= h.nr:
        return 0
    slot[0] = h.e[i].slot
    key[0] = h.e[i].key
    return 1


# O(n): array order; each entry's parent precedes it and is not smaller, so
# re-pushing in this order appends without a single sift.
cdef inline uint32_t dheap_walk(void *q, uint32_t *slots, uint32_t *keys) noexcept nogil:
    cdef dheap *h = <dheap *>q
    cdef uint32_t i
    for i in range(h.nr):
        slots[i] = h.e[i].slot
        keys[i] = h.e[i].key
    return h.nr


# O(n): order property and back-pointers.
cdef inline int64_t dheap_check(void *q, uint32_t d) noexcept nogil:
    cdef dheap *h = <dheap *>q
    if h.nr > h.cap:
        return h.nr
    return dh_check(h.e, h.nr, d, h.recs)


# queue_ops entry points: binary (the kernel's) and quaternary.
cdef inline int binheap_push(void *q, uint32_t slot, uint32_t key) noexcept nogil:
    return dheap_push(q, slot, key, 2)
cdef inline void binheap_update(void *q, uint32_t i, uint32_t key) noexcept nogil:
    dheap_update(q, i, key, 2)
cdef inline void binheap_remove(void *q, uint32_t i) noexcept nogil:
    dheap_remove(q, i, 2)
cdef inline uint32_t binheap_pop(void *q) noexcept nogil:
    return dheap_pop(q, 2)
cdef inline int64_t binheap_check(void *q) noexcept nogil:
    return dheap_check(q, 2)

cdef inline int quadheap_push(void *q, uint32_t slot, uint32_t key) noexcept nogil:
    return dheap_push(q, slot, key, 4)
cdef inline void quadheap_update(void *q, uint32_t i, uint32_t key) noexcept nogil:
    dheap_update(q, i, key, 4)
cdef inline void quadheap_remove(void *q, uint32_t i) noexcept nogil:
    dheap_remove(q, i, 4)
cdef inline uint32_t quadheap_pop(void *q) noexcept nogil:
    return dheap_pop(q, 4)
cdef inline int64_t quadheap_check(void *q) noexcept nogil:
    return dheap_check(q, 4)
