# Indexed binary max-heap: the kernel's lib/min_heap with the order reversed
# and every element's position kept in its record, so that any entry can be
# updated or removed in O(log n).
#
# Layout: entries e[0 .. nr), children of i at 2i+1 and 2i+2, parent at
# (i-1)/2; order property e[parent].key >= e[child].key.  An entry is
# (key, slot): the key (frequency) is cached beside the slot so that sifting
# touches only the heap array, never the table.  Every time an entry lands at
# index i the heap writes i into recs[slot].qpos; an entry that leaves gets
# PGHOT_QPOS_NONE.  Not thread-safe: callers hold the node's queue lock.
from libc.stdlib cimport malloc, calloc, free
from defs cimport pghot_rec, pghot_store_u32, pghot_load_u32, PGHOT_QPOS_NONE
from defs cimport uint32_t, uint64_t, int64_t

ctypedef struct bh_entry:
    uint32_t key
    uint32_t slot

ctypedef struct binheap:
    bh_entry *e
    uint32_t nr
    uint32_t cap
    pghot_rec *recs


cdef inline void _bh_place(binheap *h, uint32_t i, bh_entry x) noexcept nogil:
    h.e[i] = x
    pghot_store_u32(&h.recs[x.slot].qpos, i)


# O(log n): move entry i up past every smaller parent.
cdef inline void _bh_sift_up(binheap *h, uint32_t i) noexcept nogil:
    cdef bh_entry x = h.e[i]
    cdef uint32_t p
    while i > 0:
        p = (i - 1) >> 1
        if h.e[p].key >= x.key:
            break
        _bh_place(h, i, h.e[p])
        i = p
    _bh_place(h, i, x)


# O(log n): move entry i down past every larger child.
cdef inline void _bh_sift_down(binheap *h, uint32_t i) noexcept nogil:
    cdef bh_entry x = h.e[i]
    cdef uint64_t c
    cdef uint64_t n = h.nr
    while True:
        c = 2 * <uint64_t>i + 1
        if c >= n:
            break
        if c + 1 < n and h.e[c + 1].key > h.e[c].key:
            c += 1
        if h.e[c].key <= x.key:
            break
        _bh_place(h, i, h.e[c])
        i = <uint32_t>c
    _bh_place(h, i, x)


# O(1)
cdef inline void *binheap_create(uint32_t cap, pghot_rec *recs) noexcept nogil:
    cdef binheap *h = <binheap *>malloc(sizeof(binheap))
    if h == NULL:
        return NULL
    h.e = <bh_entry *>calloc(cap if cap > 0 else 1, sizeof(bh_entry))
    if h.e == NULL:
        free(h)
        return NULL
    h.nr = 0
    h.cap = cap
    h.recs = recs
    return h


cdef inline void binheap_destroy(void *q) noexcept nogil:
    cdef binheap *h = <binheap *>q
    if h != NULL:
        free(h.e)
        free(h)


# O(log n); -1 when full.
cdef inline int binheap_push(void *q, uint32_t slot, uint32_t key) noexcept nogil:
    cdef binheap *h = <binheap *>q
    if h.nr >= h.cap:
        return -1
    h.e[h.nr].key = key
    h.e[h.nr].slot = slot
    h.nr += 1
    _bh_sift_up(h, h.nr - 1)
    return 0


# O(log n): sift up or down, whichever the new key needs.
cdef inline void binheap_update(void *q, uint32_t i, uint32_t key) noexcept nogil:
    cdef binheap *h = <binheap *>q
    cdef uint32_t old = h.e[i].key
    h.e[i].key = key
    if key > old:
        _bh_sift_up(h, i)
    elif key < old:
        _bh_sift_down(h, i)


# O(log n): the last entry fills the hole, then moves up or down (v2 only
# sifted down, which breaks the order when the filler beats its new parent).
cdef inline void binheap_remove(void *q, uint32_t i) noexcept nogil:
    cdef binheap *h = <binheap *>q
    pghot_store_u32(&h.recs[h.e[i].slot].qpos, PGHOT_QPOS_NONE)
    h.nr -= 1
    if i == h.nr:
        return
    h.e[i] = h.e[h.nr]
    if i > 0 and h.e[(i - 1) >> 1].key < h.e[i].key:
        _bh_sift_up(h, i)
    else:
        _bh_sift_down(h, i)


# O(1)
cdef inline int binheap_peek(void *q, uint32_t *slot, uint32_t *key) noexcept nogil:
    cdef binheap *h = <binheap *>q
    if h.nr == 0:
        return 0
    slot[0] = h.e[0].slot
    key[0] = h.e[0].key
    return 1


# O(log n)
cdef inline uint32_t binheap_pop(void *q) noexcept nogil:
    cdef binheap *h = <binheap *>q
    cdef uint32_t slot = h.e[0].slot
    binheap_remove(q, 0)
    return slot


# O(1)
cdef inline void binheap_relocate(void *q, uint32_t i, uint32_t slot) noexcept nogil:
    (<binheap *>q).e[i].slot = slot


cdef inline uint32_t binheap_size(void *q) noexcept nogil:
    return (<binheap *>q).nr


cdef inline size_t binheap_nbytes(void *q) noexcept nogil:
    cdef binheap *h = <binheap *>q
    return sizeof(binheap) + <size_t>(h.cap if h.cap > 0 else 1) * sizeof(bh_entry)


cdef inline int binheap_entry(void *q, uint32_t i, uint32_t *slot, uint32_t *key) noexcept nogil:
    cdef binheap *h = <binheap *>q
    if i >= h.nr:
        return 0
    slot[0] = h.e[i].slot
    key[0] = h.e[i].key
    return 1


# O(n): order property and back-pointers.
cdef inline int64_t binheap_check(void *q) noexcept nogil:
    cdef binheap *h = <binheap *>q
    cdef uint32_t i
    if h.nr > h.cap:
        return h.nr
    for i in range(h.nr):
        if i > 0 and h.e[(i - 1) >> 1].key < h.e[i].key:
            return i
        if pghot_load_u32(&h.recs[h.e[i].slot].qpos) != i:
            return i
    return -1
