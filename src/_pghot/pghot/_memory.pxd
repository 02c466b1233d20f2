# The simulated tiered memory of the replay (_memory.pyx), for cimport by the
# other compiled stages: the state struct, its kernels' signatures and the
# class that owns it.  Read the narrative block of _memory.pyx for the layout.
from libc.stdint cimport uint8_t, uint32_t, int32_t, int64_t, uint64_t
from defs cimport pghot_lock_t

cdef enum:
    MS_OK = 0              # MigrateStatus values (pghot.machine.memory)
    MS_NON_LRU = 1
    MS_RIGHT_NODE = 2
    MS_NO_SPACE = 3
    ST_PROMOTE_SUCCESS = 0  # the counters, in the order of TieredMemory.stats()
    ST_PROMOTE_CANDIDATE = 1
    ST_PROMOTE_CANDIDATE_NRL = 2
    ST_DEMOTE_KSWAPD = 3
    ST_MIGRATE_SUCCESS = 4
    ST_PROMOTE_FAIL_NO_SPACE = 5
    ST_PING_PONG = 6
    NMEMSTATS = 7

# The whole state; every field is written under `lock` only.
ctypedef struct pghot_mem_t:
    int32_t nnodes         # nodes, in slot order: top tier by nid, then lower tier by nid
    int32_t ntopnodes      # nodes [0, ntopnodes) are the top-tier ones
    int64_t npages         # logical pages [0, npages)
    int64_t nslots         # materialised PFNs (slots) of all nodes: the sum of mat
    int64_t ntop           # slots [0, ntop) are top-tier PFNs
    int64_t placed         # placed pages
    int32_t *pfn_of        # [npages] slot of each page, -1 when not placed
    int64_t *promoted_at   # [npages] jiffies of the page's last promotion, -1
    int32_t *owner         # [nslots] page on each slot, -1 when free
    int32_t *freestk       # [nslots] node k's free stack at [base[k], stack_end(m, k))
    uint8_t *ref           # [ntop] CLOCK referenced bits
    int64_t *base          # [nnodes] first slot of each node
    int64_t *nr            # [nnodes] PFNs of each node
    int64_t *mat           # [nnodes] materialised PFNs of each node, min(nr, npages)
    int64_t *start         # [nnodes] first PFN of each node
    int64_t *nfree         # [nnodes] free PFNs of each node (the never-materialised ones too)
    int64_t *hand          # [nnodes] CLOCK hand (offset) of each top-tier node
    int32_t *order         # [norder] first-touch order (node indices)
    int32_t norder
    int32_t nranged        # nodes holding PFNs, sorted by start PFN:
    int64_t *rstart        #   first PFN
    int64_t *rend          #   end PFN
    int32_t *rk            #   node index
    int64_t stats[NMEMSTATS]
    bint demotion
    int64_t ping_pong_j
    pghot_lock_t lock
    # the multi-node machine (the narrative block of _memory.pyx, "Nodes")
    int32_t *home          # [npages] first-touch home (top-tier node index) of each page, or NULL
    int32_t *orders        # [ntopnodes * norder] first-touch order from each top-tier home
    int64_t *nhits         # [nnodes] top-tier hits served by each node (several top-tier nodes only)
    int64_t *npromo        # [nnodes] promotions into each node
    int64_t *ndemo         # [nnodes] demotions out of each node

# Lower-tier slots whose movable state a kernel changed (NULL pfn: no
# tracker, nothing recorded).  `flag` is filled by mv_finish under the lock.
ctypedef struct pghot_mv_t:
    int64_t *pfn
    uint8_t *flag
    int64_t n

cdef inline int32_t node_of_slot(const pghot_mem_t *m, int64_t s) noexcept nogil:
    """Node index of a valid slot: O(nodes), the first node tested is node 0."""
    cdef int32_t k = 0
    while s >= m.base[k] + m.mat[k]:
        k += 1
    return k


cdef inline int64_t mem_slot_pfn(const pghot_mem_t *m, int64_t slot) noexcept nogil:
    """PFN of a valid slot (-1 for slot -1); inline, as it runs once per report."""
    if slot < 0:
        return -1
    cdef int32_t k = node_of_slot(m, slot)
    return m.start[k] + slot - m.base[k]


cdef int64_t mem_locate(const pghot_mem_t *m, int64_t pfn) noexcept nogil
cdef int mem_migrate(pghot_mem_t *m, int64_t pfn, int32_t tk, int64_t now,
                     pghot_mv_t *mv) noexcept nogil
cdef int32_t mem_node_of_slot(const pghot_mem_t *m, int64_t s) noexcept nogil
cdef void mv_finish(const pghot_mem_t *m, pghot_mv_t *mv) noexcept nogil
cdef int64_t mem_serve(pghot_mem_t *m, const uint32_t *pages, int64_t i0, int64_t i1,
                       const int64_t *times, int64_t bin_j, int64_t *bins,
                       pghot_mv_t *mv) noexcept nogil
cdef bint mem_room(pghot_mem_t *m, const uint32_t *pages, int64_t n, int64_t *need,
                   int64_t *free) noexcept nogil

cdef class MemoryCore:
    cdef pghot_mem_t m
    cdef readonly object _arrays  # the numpy arrays that own the state's buffers
    cdef object _tracker_obj # the tracker whose movable bits follow, or None
    cdef object _mlock       # orders mutations with their tracker updates
    cdef int _mv_buffers(self, pghot_mv_t *mv, Py_ssize_t cap, list keep) except -1
    cdef int _mv_apply(self, pghot_mv_t *mv, list keep) except -1
