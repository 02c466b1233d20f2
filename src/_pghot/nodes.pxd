# The topology flattened for the kernels, shared by the record stores: node
# PFN ranges sorted by start (binary search), the promotion target and queue
# of every node id, and one "not movable" bit per lower-tier PFN (0, the
# calloc'd default, means movable).
#
# Node ids: `ids` holds every node id, sorted, with its target and queue
# index beside it; `dense[nid]` gives an id's entry in O(1) for the ids below
# NODEMAP_DENSE (the kernel's MAX_NUMNODES is at most 1024), larger ids are
# found by binary search.  So the maps cost O(number of nodes), whatever the
# largest id.  Nodes without memory hold no PFN and are left
# out of the ranges.  The bits are read and written with relaxed atomics:
# set_movable may run while batch loops read them without the GIL.
#
# Only nogil kernels live here, none of which can fail: building a map from
# a Topology's arrays (a dict, MemoryError) and checking the PFNs of
# set_movable (ValueError) are GIL-side and belong to the tracker base
# (_base.pyx).
from libc.stdlib cimport free
from libc.string cimport memset
from defs cimport (uint8_t, int32_t, int64_t, uint64_t, pghot_load_u64, pghot_or_u64,
                  pghot_and_u64)

cdef enum:
    NODEMAP_DENSE = 4096

ctypedef struct nodemap_t:
    int32_t nnodes            # nodes with memory
    int32_t max_nid           # largest node id
    int32_t default_nid       # promotion target of NUMA_NO_NODE and lower tiers
    uint64_t *start           # PFN ranges [start, end), sorted by start
    uint64_t *end
    uint64_t *bit             # first bit of each node in `unmovable` (lower tier)
    uint8_t *top              # is the node top tier
    int32_t nids              # node ids, with or without memory
    int32_t *ids              # sorted
    int32_t *id_target        # beside ids: promotion target
    int32_t *id_queue         # beside ids: queue index of a top-tier node, else -1
    int32_t ndense            # min(max_nid + 1, NODEMAP_DENSE)
    int32_t *dense            # by id below ndense: index into ids, -1 if not a node
    uint64_t *unmovable
    uint64_t unmovable_words


cdef inline void nodemap_free(nodemap_t *m) noexcept nogil:
    free(m.ids)
    free(m.id_target)
    free(m.id_queue)
    free(m.dense)
    free(m.start)
    free(m.end)
    free(m.bit)
    free(m.top)
    free(m.unmovable)
    memset(m, 0, sizeof(nodemap_t))


ctypedef fused sorted_t:
    int32_t
    uint64_t


# O(log n): the last index of sorted a[0 .. n), n >= 1, whose value is <= key
# (0 when none is: callers check a[result]).  The one binary search of the
# node ranges, the node ids and the pfn-array sections.
cdef inline Py_ssize_t sorted_floor(const sorted_t *a, Py_ssize_t n, sorted_t key) noexcept nogil:
    cdef Py_ssize_t lo = 0, hi = n, mid
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if a[mid] <= key:
            lo = mid
        else:
            hi = mid
    return lo


# O(1) for ids below NODEMAP_DENSE, else O(log nodes): the entry of node id
# nid in `ids`, or -1 when nid is not a node.
cdef inline int32_t nodemap_entry(const nodemap_t *m, int64_t nid) noexcept nogil:
    cdef int32_t e
    if nid < 0 or nid > m.max_nid:
        return -1
    if nid < m.ndense:
        return m.dense[nid]
    e = <int32_t>sorted_floor(m.ids, m.nids, <int32_t>nid)
    return e if m.ids[e] == nid else -1


# The promotion target of node id nid, or -1 when nid is not a node.
cdef inline int32_t nodemap_target(const nodemap_t *m, int64_t nid) noexcept nogil:
    cdef int32_t e = nodemap_entry(m, nid)
    return m.id_target[e] if e >= 0 else -1


# The queue index of node id nid, or -1 when it is not a top-tier node.
cdef inline int32_t nodemap_queue(const nodemap_t *m, int64_t nid) noexcept nogil:
    cdef int32_t e = nodemap_entry(m, nid)
    return m.id_queue[e] if e >= 0 else -1


# Rewrite the first n accessing node ids of a batch (-1: none) into their
# promotion targets, in place (the caller's private copy); returns the index
# of the first id that is not a node, left as it was, or -1.
cdef inline Py_ssize_t nodemap_targets(const nodemap_t *m, int64_t *nids,
                                       Py_ssize_t n) noexcept nogil:
    # a run of reports from one node (the common case) looks its target up once
    cdef Py_ssize_t i
    cdef int32_t t = -1
    cdef int64_t nid, last = -1
    for i in range(n):
        nid = nids[i]
        if nid >= 0:
            if nid != last:
                t = nodemap_target(m, nid)
                if t < 0:
                    return i
                last = nid
            nids[i] = t
    return -1


cdef inline void nodemap_set_queue(nodemap_t *m, int64_t nid, int32_t q) noexcept nogil:
    cdef int32_t e = nodemap_entry(m, nid)
    if e >= 0:
        m.id_queue[e] = q


# O(log nodes): index of the node holding pfn, or -1 (offline).
cdef inline int32_t nodemap_index(const nodemap_t *m, uint64_t pfn) noexcept nogil:
    cdef int32_t lo
    if m.nnodes == 0:
        return -1
    lo = <int32_t>sorted_floor(m.start, m.nnodes, pfn)
    if m.start[lo] <= pfn < m.end[lo]:
        return lo
    return -1


# O(1): index of pfn, on lower-tier node index k, among the lower-tier PFNs
# (its bit in `unmovable`; the pfn-array store's word index too).
cdef inline uint64_t nodemap_bit(const nodemap_t *m, int32_t k, uint64_t pfn) noexcept nogil:
    return m.bit[k] + (pfn - m.start[k])


# O(1): is the lower-tier PFN of bit b marked not movable.
cdef inline bint nodemap_unmovable_bit(const nodemap_t *m, uint64_t b) noexcept nogil:
    return (pghot_load_u64(&m.unmovable[b >> 6]) >> (b & 63)) & 1


# O(1): is pfn, on lower-tier node index k, marked not movable.
cdef inline bint nodemap_unmovable(const nodemap_t *m, int32_t k, uint64_t pfn) noexcept nogil:
    return nodemap_unmovable_bit(m, nodemap_bit(m, k, pfn))


# O(1): mark pfn, on lower-tier node index k, movable or not.
cdef inline void nodemap_set_movable(nodemap_t *m, int32_t k, uint64_t pfn, bint movable) noexcept nogil:
    cdef uint64_t b = nodemap_bit(m, k, pfn)
    if movable:
        pghot_and_u64(&m.unmovable[b >> 6], ~(1ULL << (b & 63)))
    else:
        pghot_or_u64(&m.unmovable[b >> 6], 1ULL << (b & 63))


# O(count / 64): mark `count` PFNs from `pfn`, all on lower-tier node index k,
# movable or not (whole words at once; atomic, as nodemap_set_movable).
cdef inline void nodemap_set_movable_range(nodemap_t *m, int32_t k, uint64_t pfn, uint64_t count,
                                           bint movable) noexcept nogil:
    cdef uint64_t b = nodemap_bit(m, k, pfn), e = b + count, w, hi, mask
    while b < e:
        w = b >> 6
        hi = (w + 1) << 6
        if hi > e:
            hi = e
        if hi - b == 64:
            mask = ~0ULL
        else:
            mask = ((1ULL << (hi - b)) - 1) << (b & 63)
        if movable:
            pghot_and_u64(&m.unmovable[w], ~mask)
        else:
            pghot_or_u64(&m.unmovable[w], mask)
        b = hi


cdef inline size_t nodemap_nbytes(const nodemap_t *m) noexcept nogil:
    return ((m.unmovable_words or 1) * sizeof(uint64_t) + <size_t>m.nids * 3 * sizeof(int32_t)
            + <size_t>m.ndense * sizeof(int32_t)
            + <size_t>(m.nnodes or 1) * (3 * sizeof(uint64_t) + 1))
