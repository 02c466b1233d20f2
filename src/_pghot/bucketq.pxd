# Bucket queue: one intrusive doubly linked list per key value plus the
# index of the highest non-empty list.  Frequencies are small saturating
# integers (0 .. 2**freq_bits - 1), so push, update, remove and pop are O(1);
# only when the top list empties does `top` walk down, at most max_key steps.
#
# Layout: nodes n[0 .. cap) hold (key, slot, prev, next); a node's index is
# its handle, written into recs[slot].qpos.  Free nodes have key BQ_FREE and
# form a singly linked free list through `next`.  Lists are FIFO: ties pop
# in the order they reached the key.  Not thread-safe: callers hold the
# node's queue lock.
from libc.stdlib cimport malloc, calloc, free
from defs cimport pghot_rec, pghot_store_u32, pghot_load_u32, PGHOT_QPOS_NONE
from defs cimport uint32_t, uint64_t, int64_t, pghot_alloc_lines

cdef extern from *:
    """
    #define PGHOT_BQ_NIL UINT32_MAX
    #define PGHOT_BQ_FREE UINT32_MAX
    """
    uint32_t PGHOT_BQ_NIL
    uint32_t PGHOT_BQ_FREE

ctypedef struct bq_node:
    uint32_t key
    uint32_t slot
    uint32_t prev
    uint32_t next

ctypedef struct bucketq:
    bq_node *n
    uint32_t *head            # per key: first node, or NIL
    uint32_t *tail            # per key: last node, or NIL
    uint32_t max_key
    uint32_t top              # highest key with a non-empty list (0 if empty)
    uint32_t nr
    uint32_t cap
    uint32_t free_head
    pghot_rec *recs


# O(cap + max_key).  The header, the nodes and the per-key lists each start
# a cache line of their own (pghot_sync.h): the queues of two top-tier
# nodes, filled by two threads, share no line.
cdef inline void *bucketq_create(uint32_t cap, uint32_t max_key, pghot_rec *recs) noexcept nogil:
    cdef bucketq *b = <bucketq *>pghot_alloc_lines(sizeof(bucketq))
    cdef uint32_t i
    if b == NULL:
        return NULL
    b.n = <bq_node *>pghot_alloc_lines((cap if cap > 0 else 1) * sizeof(bq_node))
    b.head = <uint32_t *>pghot_alloc_lines((<size_t>max_key + 1) * sizeof(uint32_t))
    b.tail = <uint32_t *>pghot_alloc_lines((<size_t>max_key + 1) * sizeof(uint32_t))
    if b.n == NULL or b.head == NULL or b.tail == NULL:
        free(b.n)
        free(b.head)
        free(b.tail)
        free(b)
        return NULL
    for i in range(max_key + 1):
        b.head[i] = PGHOT_BQ_NIL
        b.tail[i] = PGHOT_BQ_NIL
    for i in range(cap):
        b.n[i].key = PGHOT_BQ_FREE
        b.n[i].next = i + 1 if i + 1 < cap else PGHOT_BQ_NIL
    b.free_head = 0 if cap > 0 else PGHOT_BQ_NIL
    b.max_key = max_key
    b.cap = cap
    b.recs = recs
    return b


cdef inline void bucketq_destroy(void *q) noexcept nogil:
    cdef bucketq *b = <bucketq *>q
    if b != NULL:
        free(b.n)
        free(b.head)
        free(b.tail)
        free(b)


# O(1): append node i to the list of its key.
cdef inline void _bq_link(bucketq *b, uint32_t i) noexcept nogil:
    cdef uint32_t k = b.n[i].key
    b.n[i].next = PGHOT_BQ_NIL
    b.n[i].prev = b.tail[k]
    if b.tail[k] == PGHOT_BQ_NIL:
        b.head[k] = i
    else:
        b.n[b.tail[k]].next = i
    b.tail[k] = i
    if k > b.top:
        b.top = k


# O(1), plus the walk down when the top list empties.
cdef inline void _bq_unlink(bucketq *b, uint32_t i) noexcept nogil:
    cdef uint32_t k = b.n[i].key
    if b.n[i].prev == PGHOT_BQ_NIL:
        b.head[k] = b.n[i].next
    else:
        b.n[b.n[i].prev].next = b.n[i].next
    if b.n[i].next == PGHOT_BQ_NIL:
        b.tail[k] = b.n[i].prev
    else:
        b.n[b.n[i].next].prev = b.n[i].prev
    while b.top > 0 and b.head[b.top] == PGHOT_BQ_NIL:
        b.top -= 1


# O(1); -1 when full.
cdef inline int bucketq_push(void *q, uint32_t slot, uint32_t key) noexcept nogil:
    cdef bucketq *b = <bucketq *>q
    cdef uint32_t i = b.free_head
    if i == PGHOT_BQ_NIL:
        return -1
    b.free_head = b.n[i].next
    b.n[i].key = key
    b.n[i].slot = slot
    _bq_link(b, i)
    b.nr += 1
    pghot_store_u32(&b.recs[slot].qpos, i)
    return 0


# O(1)
cdef inline void bucketq_update(void *q, uint32_t i, uint32_t key) noexcept nogil:
    cdef bucketq *b = <bucketq *>q
    if b.n[i].key == key:
        return
    _bq_unlink(b, i)
    b.n[i].key = key
    _bq_link(b, i)


# O(1)
cdef inline void bucketq_remove(void *q, uint32_t i) noexcept nogil:
    cdef bucketq *b = <bucketq *>q
    _bq_unlink(b, i)
    pghot_store_u32(&b.recs[b.n[i].slot].qpos, PGHOT_QPOS_NONE)
    b.n[i].key = PGHOT_BQ_FREE
    b.n[i].next = b.free_head
    b.free_head = i
    b.nr -= 1


# O(1)
cdef inline int bucketq_peek(void *q, uint32_t *slot, uint32_t *key) noexcept nogil:
    cdef bucketq *b = <bucketq *>q
    cdef uint32_t i
    if b.nr == 0:
        return 0
    i = b.head[b.top]
    slot[0] = b.n[i].slot
    key[0] = b.n[i].key
    return 1


# O(1)
cdef inline uint32_t bucketq_pop(void *q) noexcept nogil:
    cdef bucketq *b = <bucketq *>q
    cdef uint32_t i = b.head[b.top]
    cdef uint32_t slot = b.n[i].slot
    bucketq_remove(q, i)
    return slot


cdef inline void bucketq_relocate(void *q, uint32_t i, uint32_t slot) noexcept nogil:
    (<bucketq *>q).n[i].slot = slot


cdef inline uint32_t bucketq_size(void *q) noexcept nogil:
    return (<bucketq *>q).nr


cdef inline size_t bucketq_nbytes(void *q) noexcept nogil:
    cdef bucketq *b = <bucketq *>q
    return (sizeof(bucketq) + <size_t>(b.cap if b.cap > 0 else 1) * sizeof(bq_node)
            + 2 * (<size_t>b.max_key + 1) * sizeof(uint32_t))


cdef inline int bucketq_entry(void *q, uint32_t i, uint32_t *slot, uint32_t *key) noexcept nogil:
    cdef bucketq *b = <bucketq *>q
    if i >= b.cap or b.n[i].key == PGHOT_BQ_FREE:
        return 0
    slot[0] = b.n[i].slot
    key[0] = b.n[i].key
    return 1


# O(n + max_key): lists by ascending key, each head to tail (FIFO order is
# what re-pushing must reproduce; node indices are not observable).
cdef inline uint32_t bucketq_walk(void *q, uint32_t *slots, uint32_t *keys) noexcept nogil:
    cdef bucketq *b = <bucketq *>q
    cdef uint32_t k, i, n = 0
    for k in range(b.max_key + 1):
        i = b.head[k]
        while i != PGHOT_BQ_NIL:
            slots[n] = b.n[i].slot
            keys[n] = k
            n += 1
            i = b.n[i].next
    return n


# O(n + max_key): list links and keys, back-pointers, count, top.
cdef inline int64_t bucketq_check(void *q) noexcept nogil:
    cdef bucketq *b = <bucketq *>q
    cdef uint32_t k, i, prev
    cdef uint64_t count = 0
    cdef uint32_t highest = 0
    for k in range(b.max_key + 1):
        prev = PGHOT_BQ_NIL
        i = b.head[k]
        while i != PGHOT_BQ_NIL:
            if i >= b.cap or b.n[i].key != k or b.n[i].prev != prev:
                return i if i < b.cap else 0
            if pghot_load_u32(&b.recs[b.n[i].slot].qpos) != i:
                return i
            count += 1
            if count > b.cap:
                return i
            highest = k
            prev = i
            i = b.n[i].next
        if b.tail[k] != prev:
            return prev if prev != PGHOT_BQ_NIL else 0
    if count != b.nr or highest != b.top:
        return 0
    return -1
