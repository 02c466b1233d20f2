# Shared typedefs of the pghot core and the C helpers of pghot_sync.h.
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int32_t, int64_t

cdef enum:
    # iterations between a prefetch (pghot_prefetch) and the use of what it fetches: the
    # tracker's slots and shard locks, the memory's page slots, the oracle's counts
    PREFETCH_AHEAD = 16

cdef extern from "pghot_sync.h" nogil:
    ctypedef struct pghot_lock_t:
        int locked
    ctypedef struct pghot_rec:
        uint64_t pfn
        uint32_t word
        uint32_t qpos
    uint64_t PGHOT_PFN_EMPTY
    uint32_t PGHOT_QPOS_NONE

    void pghot_lock_init(pghot_lock_t *l)
    bint pghot_trylock(pghot_lock_t *l)
    void pghot_lock(pghot_lock_t *l)
    void pghot_unlock(pghot_lock_t *l)
    uint32_t pghot_load_u32(const uint32_t *p)
    void pghot_store_u32(uint32_t *p, uint32_t v)
    uint64_t pghot_load_u64(const uint64_t *p)
    void pghot_store_u64(uint64_t *p, uint64_t v)
    void pghot_add_u64(uint64_t *p, uint64_t v)
    uint64_t pghot_fetch_add_u64(uint64_t *p, uint64_t v)
    bint pghot_inc_below(uint64_t *p, uint64_t limit)
    void pghot_sub_u64(uint64_t *p, uint64_t v)
    void pghot_or_u64(uint64_t *p, uint64_t v)
    void pghot_and_u64(uint64_t *p, uint64_t v)
    void pghot_prefetch(const void *p)
    int PGHOT_LINE
    int PGHOT_NSTRIPES
    int PGHOT_STRIPE_GIL
    int PGHOT_NSTRIPES_ALL
    void *pghot_alloc_lines(size_t n)
    ctypedef struct pghot_stripe_t:
        uint64_t active
        uint64_t count[7]
    uint32_t pghot_stripe_id()
    uint64_t pghot_stripes_sum(const pghot_stripe_t *s, int c)
    void pghot_stripes_set(pghot_stripe_t *s, int c, uint64_t v)
    ctypedef struct pghot_gate_t:
        uint64_t closed
        pghot_stripe_t *stripes
    pghot_stripe_t *pghot_gate_try_enter(pghot_gate_t *g)
    void pghot_gate_leave(pghot_stripe_t *s)
    void pghot_gate_wait_open(pghot_gate_t *g)
    void pghot_gate_close(pghot_gate_t *g)
    void pghot_gate_open(pghot_gate_t *g)
    bint pghot_gate_idle(pghot_gate_t *g)
    ctypedef struct pghot_qlock_t:
        pghot_lock_t lock
        uint64_t len
    uint64_t pghot_hash(uint64_t x)
    uint32_t pghot_reduce(uint32_t h, uint32_t n)
