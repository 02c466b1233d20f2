# The machine's limit for the tracker's work: a bare loop that looks each PFN
# up in an open-addressing table of the same size and layout as the
# tracker's (16-byte slots, same hash, same load) and bumps a counter.  No
# locks, no validation, no queues.  Benchmarks only.
from libc.stdlib cimport malloc, free
from defs cimport uint32_t, uint64_t, pghot_hash, pghot_reduce

import numpy as np

ctypedef struct slot_t:
    uint64_t pfn
    uint32_t count
    uint32_t pad


cdef class BareTable:
    """Open-addressing PFN -> counter table with the tracker's geometry.

    Examples
    --------
    >>> import numpy as np
    >>> from pghot._baseline import BareTable
    >>> t = BareTable(np.arange(100, 200, dtype=np.uint64))
    >>> t.count(np.array([100, 100, 150, 7], dtype=np.uint64))
    3
    """

    cdef slot_t *slots
    cdef uint32_t nslots

    def __cinit__(self, pfns):
        self.slots = NULL
        cdef const uint64_t[::1] p = np.ascontiguousarray(pfns, dtype=np.uint64)
        cdef uint64_t n = p.shape[0]
        cdef uint64_t i
        cdef uint32_t j
        self.nslots = n + n // 6 + 1
        self.slots = <slot_t *>malloc(self.nslots * sizeof(slot_t))
        if self.slots == NULL:
            raise MemoryError()
        for i in range(self.nslots):
            self.slots[i].pfn = 0xFFFFFFFFFFFFFFFFULL
            self.slots[i].count = 0
        for i in range(n):
            j = pghot_reduce(<uint32_t>pghot_hash(p[i]), self.nslots)
            while self.slots[j].pfn != 0xFFFFFFFFFFFFFFFFULL and self.slots[j].pfn != p[i]:
                j = j + 1 if j + 1 < self.nslots else 0
            self.slots[j].pfn = p[i]

    def __dealloc__(self):
        if self.slots != NULL:
            free(self.slots)

    def count(self, pfns):
        """Look each PFN up and bump its counter; returns how many were found."""
        cdef const uint64_t[::1] p = np.ascontiguousarray(pfns, dtype=np.uint64)
        cdef Py_ssize_t i
        cdef uint32_t j
        cdef uint64_t found = 0, x
        with nogil:
            for i in range(p.shape[0]):
                x = p[i]
                j = pghot_reduce(<uint32_t>pghot_hash(x), self.nslots)
                while True:
                    if self.slots[j].pfn == x:
                        self.slots[j].count += 1
                        found += 1
                        break
                    if self.slots[j].pfn == 0xFFFFFFFFFFFFFFFFULL:
                        break
                    j = j + 1 if j + 1 < self.nslots else 0
        return found
