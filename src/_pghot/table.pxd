# The PFN table: open addressing with linear probing, split into shards.
#
# Layout: `recs` holds nshards * shard_slots records; shard s owns slots
# [s * shard_slots, (s + 1) * shard_slots) and probes only inside them, so one
# lock per shard guards all of its slots.  A PFN's 64-bit hash picks the
# shard (top shard_bits bits) and its home slot in the shard (low 32 bits,
# reduced by multiply-shift).  A shard always keeps at least one slot empty
# (nr <= max_nr = shard_slots - 1), so every probe ends.
#
# Invariant (linear probing): a record lives at its home slot or after it,
# with no empty slot in between.  Deletion shifts later records of the run
# backwards instead of leaving tombstones, so the invariant holds without
# rehashing; a moved record's queue entry follows it (see _core.pyx).
#
# Capacity: `capacity` records in all, enforced by the atomic `population`
# (on its own cache line: shared by every thread that creates a record).
# Shards are sized with 1/6 slack over capacity / nshards so that the
# global bound binds first (with one shard, always).  At a full table that
# is 18.7 bytes of slots per record, a load of 6/7: linear probing then
# walks about 4 slots (one or two cache lines) to find a record.
#
# Lock order: shard lock, then at most one queue lock at a time.
from defs cimport pghot_lock_t, pghot_rec, pghot_hash, pghot_reduce
from defs cimport uint32_t, uint64_t

ctypedef struct shard_t:
    pghot_lock_t lock
    uint32_t nr              # records in this shard
    uint32_t max_nr          # shard_slots - 1
    # event counters, updated under the lock, summed by stats()
    uint64_t created
    uint64_t recorded
    uint64_t table_full
    uint64_t queue_full
    uint64_t pushes
    uint64_t extracted
    uint64_t evicted
    char _pad[56]            # 128 bytes, 64-aligned: no false sharing

ctypedef struct table_t:
    pghot_rec *recs
    shard_t *shards
    uint32_t nshards
    uint32_t shard_bits
    uint32_t shard_slots
    uint64_t capacity
    uint64_t *population     # atomic; a cache line of its own (pghot_alloc_lines):
                             # written on each creation and extraction, while
                             # the fields above are read by every access


# O(1): shard and home slot of a PFN.
cdef inline void table_place(const table_t *t, uint64_t pfn, uint32_t *shard,
                             uint32_t *home) noexcept nogil:
    cdef uint64_t h = pghot_hash(pfn)
    shard[0] = <uint32_t>(h >> (64 - t.shard_bits)) if t.shard_bits else 0
    home[0] = pghot_reduce(<uint32_t>h, t.shard_slots)


# O(1) expected: the slot (global index) holding pfn, or the empty slot that
# ends its run; found[0] tells which.  Caller holds the shard lock.
cdef inline uint32_t table_find(const table_t *t, uint32_t shard, uint32_t home,
                                uint64_t pfn, bint *found) noexcept nogil:
    cdef uint32_t base = shard * t.shard_slots
    cdef uint32_t i = home
    cdef uint64_t p
    while True:
        p = t.recs[base + i].pfn
        if p == pfn:
            found[0] = True
            return base + i
        if p == 0xFFFFFFFFFFFFFFFFULL:
            found[0] = False
            return base + i
        i += 1
        if i == t.shard_slots:
            i = 0
