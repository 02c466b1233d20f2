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
# The arity is a parameter of every function; the queue_ops wrappers at the
# end pass it as a constant, so the compiler specialises each inlined copy.
from libc.stdlib cimport malloc, calloc, free
from defs cimport pghot_rec, pghot_store_u32, pghot_load_u32, PGHOT_QPOS_NONE
from defs cimport uint32_t, uint64_t, int64_t

ctypedef struct dh_entry:
    uint32_t key
    uint32_t slot

ctypedef struct dheap:
    dh_entry *e
    uint32_t nr
    uint32_t cap
    pghot_rec *recs


cdef inline void _dh_place(dheap *h, uint32_t i, dh_entry x) noexcept nogil:
    h.e[i] = x
    pghot_store_u32(&h.recs[x.slot].qpos, i)


# O(log_d n): move entry i up past every smaller parent.
cdef inline void _dh_sift_up(dheap *h, uint32_t i, uint32_t d) noexcept nogil:
    cdef dh_entry x = h.e[i]
    cdef uint32_t p
    while i > 0:
        p = (i - 1) // d
        if h.e[p].key >= x.key:
            break
        _dh_place(h, i, h.e[p])
        i = p
    _dh_place(h, i, x)


# O(d log_d n): move entry i down past every larger child.
cdef inline void _dh_sift_down(dheap *h, uint32_t i, uint32_t d) noexcept nogil:
    cdef dh_entry x = h.e[i]
    cdef uint64_t c, best, last
    cdef uint64_t n = h.nr
    while True:
        c = <uint64_t>d * i + 1
        if c >= n:
            break
        last = c + d if c + d < n else n
        best = c
        c += 1
        while c < last:
            if h.e[c].key > h.e[best].key:
                best = c
            c += 1
        if h.e[best].key <= x.key:
            break
        _dh_place(h, i, h.e[best])
        i = <uint32_t>best
    _dh_place(h, i, x)


# O(1)
cdef inline void *dheap_create(uint32_t cap, uint32_t max_key, pghot_rec *recs) noexcept nogil:
    cdef dheap *h = <dheap *>malloc(sizeof(dheap))
    if h == NULL:
        return NULL
    h.e = <dh_entry *>calloc(cap if cap > 0 else 1, sizeof(dh_entry))
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
    h.e[h.nr].key = key
    h.e[h.nr].slot = slot
    h.nr += 1
    _dh_sift_up(h, h.nr - 1, d)
    return 0


# O(log_d n): sift up or down, whichever the new key needs.
cdef inline void dheap_update(void *q, uint32_t i, uint32_t key, uint32_t d) noexcept nogil:
    cdef dheap *h = <dheap *>q
    cdef uint32_t old = h.e[i].key
    h.e[i].key = key
    if key > old:
        _dh_sift_up(h, i, d)
    elif key < old:
        _dh_sift_down(h, i, d)


# O(log_d n): the last entry fills the hole, then moves up or down (v2 only
# sifted down, which breaks the order when the filler beats its new parent).
cdef inline void dheap_remove(void *q, uint32_t i, uint32_t d) noexcept nogil:
    cdef dheap *h = <dheap *>q
    pghot_store_u32(&h.recs[h.e[i].slot].qpos, PGHOT_QPOS_NONE)
    h.nr -= 1
    if i == h.nr:
        return
    h.e[i] = h.e[h.nr]
    if i > 0 and h.e[(i - 1) // d].key < h.e[i].key:
        _dh_sift_up(h, i, d)
    else:
        _dh_sift_down(h, i, d)


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
    cdef uint32_t i
    if h.nr > h.cap:
        return h.nr
    for i in range(h.nr):
        if i > 0 and h.e[(i - 1) // d].key < h.e[i].key:
            return i
        if pghot_load_u32(&h.recs[h.e[i].slot].qpos) != i:
            return i
    return -1


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
