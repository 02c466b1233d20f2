/*
 * pghot_sync.h: the few things Cython cannot express: a spinlock, relaxed
 * atomics on counters and queue positions, and the PFN hash.
 *
 * Lock: a test-and-test-and-set spinlock; after a short burst of spinning a
 * waiter yields the CPU, so a holder that was descheduled (two cores, many
 * Python threads) still makes progress.  Critical sections are a few hundred
 * nanoseconds at most and never block, allocate or take the GIL.
 */
#ifndef PGHOT_SYNC_H
#define PGHOT_SYNC_H

#include <stdint.h>
#include <sched.h>

typedef struct { int locked; } pghot_lock_t;

static inline void pghot_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static inline void pghot_lock_init(pghot_lock_t *l) { l->locked = 0; }

static inline int pghot_trylock(pghot_lock_t *l)
{
    return !__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE);
}

static inline void pghot_lock(pghot_lock_t *l)
{
    for (;;) {
        int spins = 0;
        if (pghot_trylock(l))
            return;
        while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED)) {
            if (++spins < 128)
                pghot_cpu_relax();
            else {
                sched_yield();
                spins = 0;
            }
        }
    }
}

static inline void pghot_unlock(pghot_lock_t *l)
{
    __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

/* Relaxed atomics: counters read while other threads update them, and the
 * queue position of a record, which a queue writes under its own lock while
 * the record's bucket owner reads whether it is queued at all. */
static inline uint32_t pghot_load_u32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline void pghot_store_u32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
static inline uint64_t pghot_load_u64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline void pghot_store_u64(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
static inline void pghot_add_u64(uint64_t *p, uint64_t v) { __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
static inline uint64_t pghot_fetch_add_u64(uint64_t *p, uint64_t v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
/* Increment *p unless it has reached limit; true if incremented. */
static inline int pghot_inc_below(uint64_t *p, uint64_t limit)
{
    uint64_t v = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (v < limit)
        if (__atomic_compare_exchange_n(p, &v, v + 1, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            return 1;
    return 0;
}
static inline void pghot_sub_u64(uint64_t *p, uint64_t v) { __atomic_fetch_sub(p, v, __ATOMIC_RELAXED); }
static inline void pghot_or_u64(uint64_t *p, uint64_t v) { __atomic_fetch_or(p, v, __ATOMIC_RELAXED); }
static inline void pghot_and_u64(uint64_t *p, uint64_t v) { __atomic_fetch_and(p, v, __ATOMIC_RELAXED); }

/* Start loading a cache line that a later iteration of a batch will need:
 * the shard lock's atomic exchange orders memory, so without this the
 * table misses of consecutive accesses would not overlap. */
static inline void pghot_prefetch(const void *p) { __builtin_prefetch(p, 1, 3); }

/* splitmix64's finaliser: every input bit reaches every output bit, so
 * strided PFN patterns spread evenly over shards and slots. */
static inline uint64_t pghot_hash(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* Lemire's multiply-shift range reduction: maps a 32-bit hash onto [0, n)
 * without a division and without requiring n to be a power of two. */
static inline uint32_t pghot_reduce(uint32_t h, uint32_t n)
{
    return (uint32_t)(((uint64_t)h * (uint64_t)n) >> 32);
}

/* One tracked PFN: the packed word (frequency | target nid | last access
 * time, low bits first) and the record's position in its queue. 16 bytes. */
typedef struct {
    uint64_t pfn;      /* PGHOT_PFN_EMPTY marks a free slot */
    uint32_t word;
    uint32_t qpos;     /* PGHOT_QPOS_NONE when not queued */
} pghot_rec;

#define PGHOT_PFN_EMPTY UINT64_MAX
#define PGHOT_QPOS_NONE UINT32_MAX

#endif /* PGHOT_SYNC_H */
