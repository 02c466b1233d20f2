# The C-level interface every per-node queue implements.
#
# A queue holds (key, slot) entries: `slot` is a record's index in the PFN
# table, `key` its frequency.  The queue keeps `recs[slot].qpos` equal to the
# entry's position (its handle) and sets it to PGHOT_QPOS_NONE when the entry
# leaves, so the tracker can update or remove a record's entry in O(log n) or
# better.  A queue is not thread-safe: the tracker holds the node's queue lock
# around every call.  Keys are compared only with each other: ties between
# equal keys are the queue's choice.
from defs cimport pghot_rec, uint32_t, int64_t

ctypedef struct queue_ops:
    const char *name
    # keys are 0 .. max_key; NULL when out of memory
    void *(*create)(uint32_t cap, uint32_t max_key, pghot_rec *recs) noexcept nogil
    void (*destroy)(void *q) noexcept nogil
    # 0, or -1 when full (then recs[slot].qpos is left untouched)
    int (*push)(void *q, uint32_t slot, uint32_t key) noexcept nogil
    void (*update)(void *q, uint32_t qpos, uint32_t key) noexcept nogil
    void (*remove)(void *q, uint32_t qpos) noexcept nogil
    # 1 and the top entry, or 0 when empty
    int (*peek)(void *q, uint32_t *slot, uint32_t *key) noexcept nogil
    # removes the top entry (the queue is not empty) and returns its slot
    uint32_t (*pop)(void *q) noexcept nogil
    # the record at entry qpos moved to another table slot
    void (*relocate)(void *q, uint32_t qpos, uint32_t slot) noexcept nogil
    uint32_t (*size)(void *q) noexcept nogil
    size_t (*nbytes)(void *q) noexcept nogil
    # 1 and the entry at handle qpos, or 0 when qpos holds no entry
    int (*entry)(void *q, uint32_t qpos, uint32_t *slot, uint32_t *key) noexcept nogil
    # writes every entry, in an order whose pushes into an empty queue
    # rebuild this one exactly (pop order included); returns the count
    uint32_t (*walk)(void *q, uint32_t *slots, uint32_t *keys) noexcept nogil
    # -1 when the order property holds, else the first offending handle
    int64_t (*check)(void *q) noexcept nogil
