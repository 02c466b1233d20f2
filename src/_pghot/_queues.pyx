# Stand-alone indexed priority queues: the tracker's queue designs behind
# one Python API, for tests against the kernel's lib/test_min_heap.c cases
# and for benchmarks against heapq.
#
# Each queue runs on its own record array: a handle is a slot of that array,
# the queue keeps recs[handle].qpos, and free handles sit on a stack.  Keys
# are stored as given for max-order; for min-order as (max_key - key), so one
# max-queue implementation serves both orders.
from libc.stdlib cimport malloc, free

import numpy as np
from defs cimport pghot_rec, uint32_t, int64_t, PGHOT_QPOS_NONE
from pqueue cimport queue_ops
from qdesigns cimport NQUEUE_DESIGNS, queue_designs

cdef queue_ops _OPS[NQUEUE_DESIGNS]
queue_designs(_OPS)


cdef int64_t _arg(object v, str name, int64_t lo, int64_t hi) except? -1:
    if isinstance(v, bool) or not hasattr(v, "__index__"):
        raise TypeError(f"{name} must be an integer, not {type(v).__name__}")
    x = v.__index__()
    if x < lo or x > hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {x}")
    return x


cdef class _IndexedQueue:
    cdef const queue_ops *ops
    cdef void *q
    cdef pghot_rec *recs
    cdef uint32_t *free_handles
    cdef uint32_t nfree
    cdef uint32_t cap
    cdef uint32_t max_key
    cdef bint min_order

    def __cinit__(self, *args, **kwargs):
        self.q = NULL
        self.recs = NULL
        self.free_handles = NULL
        self.ops = NULL

    cdef int _setup(self, int kind, capacity, order, max_key) except -1:
        if self.recs != NULL:
            raise RuntimeError("queue is already initialised")
        cdef int64_t cap = _arg(capacity, "capacity", 0, 1 << 31)
        if order not in ("max", "min"):
            raise ValueError(f"order must be 'max' or 'min', got {order!r}")
        cdef int64_t mk = _arg(max_key, "max_key", 0,
                               (1 << 20) if kind == 2 else 0xFFFFFFFE)
        cdef uint32_t i
        self.ops = &_OPS[kind]
        self.cap = cap
        self.max_key = mk
        self.min_order = order == "min"
        self.recs = <pghot_rec *>malloc((cap if cap else 1) * sizeof(pghot_rec))
        self.free_handles = <uint32_t *>malloc((cap if cap else 1) * sizeof(uint32_t))
        if self.recs == NULL or self.free_handles == NULL:
            raise MemoryError()
        for i in range(cap):
            self.recs[i].qpos = PGHOT_QPOS_NONE
            self.free_handles[i] = cap - 1 - i
        self.nfree = cap
        self.q = self.ops.create(cap, mk, self.recs)
        if self.q == NULL:
            raise MemoryError()
        return 0

    def __dealloc__(self):
        if self.q != NULL:
            self.ops.destroy(self.q)
        if self.recs != NULL:
            free(self.recs)
        if self.free_handles != NULL:
            free(self.free_handles)

    cdef int _ready(self) except -1:
        if self.q == NULL:
            raise RuntimeError("queue.__init__ was not called")
        return 0

    cdef uint32_t _key(self, object key) except? 0xFFFFFFFF:
        cdef int64_t k = _arg(key, "key", 0, self.max_key)
        return <uint32_t>(self.max_key - k if self.min_order else k)

    cdef uint32_t _handle(self, object handle) except? 0xFFFFFFFF:
        cdef int64_t h = _arg(handle, "handle", 0, <int64_t>self.cap - 1 if self.cap else -1)
        if self.recs[h].qpos == PGHOT_QPOS_NONE:
            raise ValueError(f"handle {h} is not in the queue")
        return <uint32_t>h

    def push(self, key):
        """Insert a key; returns its handle.  IndexError when the queue is full."""
        self._ready()
        cdef uint32_t k = self._key(key)
        if self.nfree == 0:
            raise IndexError("push onto a full queue")
        cdef uint32_t h = self.free_handles[self.nfree - 1]
        if self.ops.push(self.q, h, k) != 0:
            raise IndexError("push onto a full queue")
        self.nfree -= 1
        return h

    def update(self, handle, key):
        """Change the key of a queued handle."""
        self._ready()
        cdef uint32_t h = self._handle(handle)
        cdef uint32_t k = self._key(key)
        self.ops.update(self.q, self.recs[h].qpos, k)

    def remove(self, handle):
        """Take a queued handle out."""
        self._ready()
        cdef uint32_t h = self._handle(handle)
        self.ops.remove(self.q, self.recs[h].qpos)
        self.free_handles[self.nfree] = h
        self.nfree += 1

    def peek(self):
        """(handle, key) of the top entry, or None when empty."""
        self._ready()
        cdef uint32_t slot, key
        if not self.ops.peek(self.q, &slot, &key):
            return None
        return slot, (self.max_key - key if self.min_order else key)

    def pop(self):
        """Remove the top entry and return (handle, key).  IndexError when empty."""
        top = self.peek()
        if top is None:
            raise IndexError("pop from an empty queue")
        cdef uint32_t h = self.ops.pop(self.q)
        self.free_handles[self.nfree] = h
        self.nfree += 1
        return top

    def push_many(self, keys):
        """Push every key of a 1-D integer array in one C loop; returns the handles.

        All-or-nothing: IndexError if they do not all fit, ValueError for a
        key out of range, and then nothing was pushed.
        """
        self._ready()
        a = np.asarray(keys)
        if a.dtype.kind not in "iu" or a.ndim != 1:
            raise ValueError("keys must be a 1-D integer array")
        if a.size and (int(a.min()) < 0 or int(a.max()) > self.max_key):
            raise ValueError(f"keys must be in [0, {self.max_key}]")
        if a.size > self.nfree:
            raise IndexError("push onto a full queue")
        cdef const uint32_t[::1] k = np.ascontiguousarray(a, dtype=np.uint32)
        out = np.empty(a.size, dtype=np.uint32)
        cdef uint32_t[::1] h = out
        cdef Py_ssize_t i
        cdef uint32_t key
        with nogil:
            for i in range(k.shape[0]):
                key = self.max_key - k[i] if self.min_order else k[i]
                h[i] = self.free_handles[self.nfree - 1]
                self.nfree -= 1
                self.ops.push(self.q, h[i], key)
        return out

    def pop_many(self, n):
        """Pop up to n entries in one C loop (no Python call per entry).

        Returns the handles in pop order, as a uint32 array: the kernel-only
        timer of the benchmarks.
        """
        self._ready()
        cdef int64_t c = _arg(n, "n", 0, 1 << 32)
        cdef uint32_t size = self.ops.size(self.q)
        cdef uint32_t m = <uint32_t>(c if c < size else size)
        out = np.empty(m, dtype=np.uint32)
        cdef uint32_t[::1] h = out
        cdef uint32_t i
        with nogil:
            for i in range(m):
                h[i] = self.ops.pop(self.q)
                self.free_handles[self.nfree] = h[i]
                self.nfree += 1
        return out

    def key(self, handle):
        """The key of a queued handle."""
        self._ready()
        cdef uint32_t h = self._handle(handle)
        cdef uint32_t slot, k
        self.ops.entry(self.q, self.recs[h].qpos, &slot, &k)
        return self.max_key - k if self.min_order else k

    def __contains__(self, handle):
        self._ready()
        return (isinstance(handle, int) and 0 <= handle < self.cap
                and self.recs[handle].qpos != PGHOT_QPOS_NONE)

    def __len__(self):
        self._ready()
        return self.ops.size(self.q)

    @property
    def capacity(self):
        return self.cap

    @property
    def order(self):
        return "min" if self.min_order else "max"

    def memory_bytes(self):
        """Bytes of the queue structure itself (not its record array)."""
        self._ready()
        return self.ops.nbytes(self.q)

    def check(self):
        """Verify the order property and every back-pointer; RuntimeError if broken."""
        self._ready()
        cdef int64_t bad = self.ops.check(self.q)
        if bad >= 0:
            raise RuntimeError(f"queue order or back-pointer broken at position {bad}")


cdef class BinaryHeap(_IndexedQueue):
    """Indexed binary heap (the kernel's lib/min_heap layout).

    Parameters
    ----------
    capacity : int
        Entries it holds; a push beyond raises IndexError.
    order : {"max", "min"}
    max_key : int, default 2**32 - 2
        Largest key accepted.

    Examples
    --------
    >>> h = BinaryHeap(4)
    >>> a, b = h.push(3), h.push(7)
    >>> h.pop()[1], h.pop()[1]
    (7, 3)
    """

    def __init__(self, capacity, *, order="max", max_key=0xFFFFFFFE):
        self._setup(0, capacity, order, max_key)


cdef class QuaternaryHeap(_IndexedQueue):
    """Indexed 4-ary heap: half the depth of the binary heap.

    Examples
    --------
    >>> h = QuaternaryHeap(8, order="min")
    >>> hs = [h.push(k) for k in (5, 1, 9)]
    >>> h.update(hs[2], 0)
    >>> [h.pop()[1] for _ in range(3)]
    [0, 1, 5]
    """

    def __init__(self, capacity, *, order="max", max_key=0xFFFFFFFE):
        self._setup(1, capacity, order, max_key)


cdef class BucketQueue(_IndexedQueue):
    """One FIFO list per key value: O(1) operations for small integer keys.

    Parameters
    ----------
    capacity : int
    order : {"max", "min"}
    max_key : int, default 7
        Keys are 0 .. max_key (at most 2**20); memory grows with it.

    Examples
    --------
    >>> q = BucketQueue(8, max_key=7)
    >>> first, second = q.push(2), q.push(2)
    >>> q.pop() == (first, 2)        # ties pop in FIFO order
    True
    """

    def __init__(self, capacity, *, order="max", max_key=7):
        self._setup(2, capacity, order, max_key)
