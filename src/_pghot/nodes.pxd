# The topology flattened for the kernels, shared by the record stores: node
# PFN ranges sorted by start (binary search), the promotion target of every
# node id, and one "not movable" bit per lower-tier PFN (0, the calloc'd
# default, means movable).  Nodes without memory hold no PFN and are left
# out of the ranges.  The bits are read and written with relaxed atomics:
# set_movable may run while batch loops read them without the GIL.
from libc.stdlib cimport calloc, free
from libc.string cimport memset
from defs cimport uint8_t, int32_t, uint64_t, pghot_load_u64, pghot_or_u64, pghot_and_u64

ctypedef struct nodemap_t:
    int32_t nnodes            # nodes with memory
    int32_t max_nid           # largest node id
    int32_t default_nid       # promotion target of NUMA_NO_NODE and lower tiers
    uint64_t *start           # PFN ranges [start, end), sorted by start
    uint64_t *end
    uint64_t *bit             # first bit of each node in `unmovable` (lower tier)
    uint8_t *top              # is the node top tier
    int32_t *target           # by node id: promotion target, -1 if not a node
    uint64_t *unmovable
    uint64_t unmovable_words


# Fill m from Topology.arrays(); m must be zeroed.  MemoryError when out of memory.
cdef inline int nodemap_init(nodemap_t *m, dict arrs, int32_t default_nid) except -1:
    target = arrs["target"]
    rows = [(int(s), int(z), bool(t)) for s, z, t in
            zip(arrs["start_pfn"], arrs["nr_pages"], arrs["toptier"]) if int(z) > 0]
    cdef int32_t i, n = len(rows), nids = len(target)
    cdef uint64_t bits = 0
    m.nnodes = n
    m.max_nid = nids - 1
    m.default_nid = default_nid
    m.target = <int32_t *>calloc(nids, sizeof(int32_t))
    m.start = <uint64_t *>calloc(n or 1, sizeof(uint64_t))
    m.end = <uint64_t *>calloc(n or 1, sizeof(uint64_t))
    m.bit = <uint64_t *>calloc(n or 1, sizeof(uint64_t))
    m.top = <uint8_t *>calloc(n or 1, sizeof(uint8_t))
    if m.target == NULL or m.start == NULL or m.end == NULL or m.bit == NULL or m.top == NULL:
        raise MemoryError()
    for i in range(nids):
        m.target[i] = int(target[i])
    for i in range(n):
        m.start[i] = rows[i][0]
        m.end[i] = rows[i][0] + rows[i][1]
        m.top[i] = rows[i][2]
        m.bit[i] = bits
        if not m.top[i]:
            bits += rows[i][1]
    m.unmovable_words = (bits + 63) // 64
    m.unmovable = <uint64_t *>calloc(m.unmovable_words or 1, sizeof(uint64_t))
    if m.unmovable == NULL:
        raise MemoryError()
    return 0


cdef inline void nodemap_free(nodemap_t *m) noexcept nogil:
    free(m.target)
    free(m.start)
    free(m.end)
    free(m.bit)
    free(m.top)
    free(m.unmovable)
    memset(m, 0, sizeof(nodemap_t))


# O(log nodes): index of the node holding pfn, or -1 (offline).
cdef inline int32_t nodemap_index(const nodemap_t *m, uint64_t pfn) noexcept nogil:
    cdef int32_t lo = 0, hi = m.nnodes, mid
    if hi == 0:
        return -1
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if m.start[mid] <= pfn:
            lo = mid
        else:
            hi = mid
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


cdef inline size_t nodemap_nbytes(const nodemap_t *m) noexcept nogil:
    return ((m.unmovable_words or 1) * sizeof(uint64_t) + <size_t>(m.max_nid + 1) * sizeof(int32_t)
            + <size_t>(m.nnodes or 1) * (3 * sizeof(uint64_t) + 1))


# Validate every PFN (each on a lower-tier node: ValueError naming the
# first that is not, nothing changed), then mark them all.
cdef inline int nodemap_set_movable_all(nodemap_t *m, const uint64_t[::1] pfns,
                                        bint movable) except -1:
    cdef Py_ssize_t i, n = pfns.shape[0]
    cdef int32_t k
    for i in range(n):
        k = nodemap_index(m, pfns[i])
        if k < 0 or m.top[k]:
            raise ValueError(f"pfns[{i}] = {pfns[i]} is not a PFN of a lower-tier node")
    with nogil:
        for i in range(n):
            nodemap_set_movable(m, nodemap_index(m, pfns[i]), pfns[i], movable)
    return 0
