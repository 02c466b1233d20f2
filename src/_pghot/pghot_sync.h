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
#include <stdlib.h>
#include <string.h>
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

/* Cache lines.  Memory that two threads recording disjoint PFNs write is
 * kept on lines of its own (PGHOT_LINE bytes, the x86-64 and most arm64
 * line; a larger line would only cost adjacent-line prefetch sharing):
 * every per-shard, per-list and per-queue block that holds a lock is
 * padded and aligned to a multiple of it, and the counters every batch
 * publishes live in per-thread stripes, one line each (below).  Memory
 * that only structural changes write (table population, list heads) is
 * kept off the lines the batch loops read on every access. */
#define PGHOT_LINE 64

/* Zeroed memory aligned to a line and rounded up to whole lines; NULL when
 * out of memory.  Freed with free(). */
static inline void *pghot_alloc_lines(size_t n)
{
    void *p = NULL;
    size_t size = (n + PGHOT_LINE - 1) / PGHOT_LINE * PGHOT_LINE;
    if (size == 0)
        size = PGHOT_LINE;
    if (posix_memalign(&p, PGHOT_LINE, size) != 0)
        return NULL;
    memset(p, 0, size);
    return p;
}

/* Stripes: what every batch call publishes.  A tracker holds PGHOT_NSTRIPES
 * stripes of one line each; a thread always uses the same stripe (its
 * pghot_stripe_id(), handed out round robin when the thread first asks), so
 * up to PGHOT_NSTRIPES threads write lines no other thread writes.  A
 * stripe holds the thread's gate count (`active`, see the gate below) and
 * its share of the base's lock-free counters (`count`: the accesses per
 * source, then the outcomes the base counts), added once per batch with
 * relaxed atomics (two threads may still share a stripe).  A total is the
 * sum over the stripes: exact whenever no batch call is inside the gate,
 * since every call flushes its counts before it leaves.  One more stripe,
 * PGHOT_STRIPE_GIL, takes the counts of single calls (record_access),
 * which hold the GIL throughout: no thread-local lookup for them, and the
 * line moves between threads only with the GIL.  PGHOT_NSTRIPES_ALL
 * stripes in all. */
#define PGHOT_NSTRIPES 16
#define PGHOT_STRIPE_GIL PGHOT_NSTRIPES
#define PGHOT_NSTRIPES_ALL (PGHOT_NSTRIPES + 1)
#define PGHOT_STRIPE_COUNTS 7

typedef struct {
    uint64_t active;
    uint64_t count[PGHOT_STRIPE_COUNTS];
} __attribute__((aligned(PGHOT_LINE))) pghot_stripe_t;

_Static_assert(sizeof(pghot_stripe_t) == PGHOT_LINE, "a stripe is one cache line");

static uint32_t pghot_stripe_next __attribute__((unused));
static __thread int32_t pghot_stripe_tls __attribute__((unused)) = -1;

static inline uint32_t pghot_stripe_id(void)
{
    int32_t i = pghot_stripe_tls;
    if (i < 0) {
        i = (int32_t)(__atomic_fetch_add(&pghot_stripe_next, 1, __ATOMIC_RELAXED)
                      % PGHOT_NSTRIPES);
        pghot_stripe_tls = i;
    }
    return (uint32_t)i;
}

/* Sum of counter c over the stripes (relaxed loads). */
static inline uint64_t pghot_stripes_sum(const pghot_stripe_t *s, int c)
{
    uint64_t n = 0;
    for (int i = 0; i < PGHOT_NSTRIPES_ALL; i++)
        n += __atomic_load_n(&s[i].count[c], __ATOMIC_RELAXED);
    return n;
}

/* Set counter c's total to v (stripe 0 holds it, the others 0); for
 * restoring a snapshot into a tracker no other thread can see yet. */
static inline void pghot_stripes_set(pghot_stripe_t *s, int c, uint64_t v)
{
    for (int i = 0; i < PGHOT_NSTRIPES_ALL; i++)
        __atomic_store_n(&s[i].count[c], i ? 0 : v, __ATOMIC_RELAXED);
}

/* The gate in front of a store's GIL-free calls.  A batch call (any call
 * that may hold a store lock without the GIL) enters before its loop and
 * leaves after its last counter flush; a snapshot or fork closes the gate
 * and waits until no call is inside.  Entering adds to its stripe's
 * `active` and then reads `closed`; closing adds to `closed` and then reads
 * every stripe's `active` (all sequentially consistent), so at least one of
 * the two sees the other: a call never slips in past a closer.  A caller
 * that finds the gate closed leaves again and waits, without the GIL and
 * holding no lock, until it opens.  While the gate is closed and nothing is
 * inside, no store lock is held by a batch call, and no counter flush is
 * pending; the release on leaving and the acquire on reading `active`
 * order the flushes before.  `closed` is written only by snapshots and
 * fork: every batch reads it, no batch writes it, so it stays shared in
 * every core's cache; `active` is in the caller's stripe. */
typedef struct { uint64_t closed; pghot_stripe_t *stripes; } pghot_gate_t;

/* The calling thread's stripe if it entered; NULL if the gate is closed. */
static inline pghot_stripe_t *pghot_gate_try_enter(pghot_gate_t *g)
{
    pghot_stripe_t *s = &g->stripes[pghot_stripe_id()];
    __atomic_fetch_add(&s->active, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&g->closed, __ATOMIC_SEQ_CST) == 0)
        return s;
    __atomic_fetch_sub(&s->active, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

/* Leave through the stripe try_enter returned. */
static inline void pghot_gate_leave(pghot_stripe_t *s)
{
    __atomic_fetch_sub(&s->active, 1, __ATOMIC_SEQ_CST);
}

static inline void pghot_gate_wait_open(pghot_gate_t *g)
{
    while (__atomic_load_n(&g->closed, __ATOMIC_SEQ_CST))
        sched_yield();
}

/* No call inside (then every batch's counters are flushed). */
static inline int pghot_gate_idle(pghot_gate_t *g)
{
    for (int i = 0; i < PGHOT_NSTRIPES; i++)
        if (__atomic_load_n(&g->stripes[i].active, __ATOMIC_SEQ_CST))
            return 0;
    return 1;
}

/* Close the gate and wait until no call is inside; nests. */
static inline void pghot_gate_close(pghot_gate_t *g)
{
    __atomic_fetch_add(&g->closed, 1, __ATOMIC_SEQ_CST);
    while (!pghot_gate_idle(g))
        sched_yield();
}

static inline void pghot_gate_open(pghot_gate_t *g)
{
    __atomic_fetch_sub(&g->closed, 1, __ATOMIC_SEQ_CST);
}

/* A lock with its line to itself: queue locks, and whatever the lock
 * guards that fits beside it (a queue's size, a heap's header). */
typedef struct {
    pghot_lock_t lock;
    uint32_t _pad0;
    uint64_t len;     /* the queue's size: written under the lock, read
                         without it to refuse a push to a full queue */
    char _pad[PGHOT_LINE - 16];
} __attribute__((aligned(PGHOT_LINE))) pghot_qlock_t;

_Static_assert(sizeof(pghot_qlock_t) == PGHOT_LINE, "a queue lock is one cache line");

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
