/*
 * pghot_cas.h: the atomics of the pfn-array store (_pfnarray.pyx) that
 * pghot_sync.h does not have: compare-and-swap and loads of the u8 and u32
 * record words, and the operations on the per-section hot flags.
 *
 * Why sequentially consistent: a recorder that makes a record ready does
 *     CAS(word) ; if load(flag) == 0 then store(flag, 1)
 * and the scanner entering a section does
 *     exchange(flag, 0) ; load(word) ... ; store(flag, 1) if a ready one is left.
 * With all of these in the single total order, either the recorder's flag
 * load comes after the exchange (it reads 0 and sets the flag again), or it
 * comes before, and then so does its CAS, which the scanner's later loads
 * see.  Either way no ready record is left in a section whose flag is clear.
 * On x86-64 the loads are plain moves and the CAS a locked cmpxchg anyway.
 */
#ifndef PGHOT_CAS_H
#define PGHOT_CAS_H

#include <stdint.h>

static inline uint8_t pghot_load_sc_u8(const uint8_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static inline uint32_t pghot_load_sc_u32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static inline void pghot_store_sc_u8(uint8_t *p, uint8_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
static inline uint8_t pghot_xchg_sc_u8(uint8_t *p, uint8_t v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }

/* Replace *p by desired if it still holds *expected; else load it into
 * *expected.  True on success. */
static inline int pghot_cas_u8(uint8_t *p, uint8_t *expected, uint8_t desired)
{
    return __atomic_compare_exchange_n(p, expected, desired, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

static inline int pghot_cas_u32(uint32_t *p, uint32_t *expected, uint32_t desired)
{
    return __atomic_compare_exchange_n(p, expected, desired, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

#endif /* PGHOT_CAS_H */
