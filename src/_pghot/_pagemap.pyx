# The replay's page numbering: trace page keys (uint64: a PFN, or a virtual
# address divided by the page size) to dense logical pages (uint32) in
# first-appearance order, the first stage after the reader.
#
# Layout: an open-addressing table of 16-byte slots {key, id}, a power of two
# in size, linear probing from the key's hash (pghot_hash), kept at most half
# full (it doubles before it would pass that).  The one key the empty marker
# cannot hold, UINT64_MAX, has its own flag and id.
#
# In front of the table, a direct window: `dtab[key - dbase]` holds id + 1 (0:
# not seen) for the keys in [dbase, dbase + dlen), so that dense keys (PFNs of
# one node, a program's heap pages) cost one 4-byte load and no hashing.
# dbase is the first batch's smallest key rounded down to 2**16; the window
# doubles to cover a batch's largest key while it stays at most
# max(2**20, 8 * (keys numbered + batch)) entries (<= 32 bytes per key, like
# the table), at most 2**30; keys outside it go to the table.  When the window
# grows, the table's keys it now covers move into it (a key is in exactly one
# of the two).
#
# Invariants: the ids are exactly 0 .. n-1; id i is the i-th distinct key
# seen; a key is in at most one slot.  One lock (pghot_lock_t) guards the
# table; map() holds it for the whole batch, with the GIL released, and never
# takes the GIL while holding it.
#
# Cost: O(1) expected per key; a doubling is O(table) and happens log n times.
from libc.stdlib cimport malloc, calloc, free
from libc.string cimport memcpy
from libc.stdint cimport uint32_t, uint64_t, int64_t
from defs cimport pghot_lock_t, pghot_lock_init, pghot_lock, pghot_unlock, pghot_hash

import numpy as np

cdef uint64_t EMPTY = 0xFFFFFFFFFFFFFFFFULL
cdef uint64_t DMIN = 1 << 20       # the window may always reach this many entries
cdef uint64_t DMAX = 1 << 30       # and never more
cdef uint64_t DALIGN = 0xFFFF      # dbase is a multiple of 2**16
cdef uint64_t LAST_ID = 0xFFFFFFFF  # the one id the window cannot hold (id + 1 overflows)

ctypedef struct slot_t:
    uint64_t key
    uint64_t id


cdef class PageMap:
    """Number page keys densely, in the order they are first seen (internal).

    The replay engine's page mapper (:func:`pghot.sim.replay`): equivalent to
    ``PageMapper(0, 2**40, page_size=1).map(keys)`` (:class:`pghot.traces.PageMapper`)
    in O(1) per key, without sorting each chunk.

    Parameters
    ----------
    max_pages : int, optional
        Distinct keys allowed, in ``[1, 2**32]``, default ``2**32``.

    Examples
    --------
    >>> import numpy as np
    >>> from pghot._pagemap import PageMap
    >>> m = PageMap()
    >>> m.map(np.array([50, 7, 50, 2**64 - 1], dtype=np.uint64)).tolist()
    [0, 1, 0, 2]
    >>> m.map(np.array([7, 9], dtype=np.uint64)).tolist(), len(m)
    ([1, 3], 4)
    """

    cdef slot_t *slots
    cdef uint64_t mask            # table size - 1 (a power of two, minus one)
    cdef uint64_t n               # distinct keys numbered
    cdef uint64_t max_pages
    cdef bint has_max             # UINT64_MAX was seen
    cdef uint64_t max_id          # ... and its id
    cdef uint32_t *dtab           # the direct window: id + 1 of key dbase + i, 0 when unseen
    cdef uint64_t dbase
    cdef uint64_t dlen            # entries of dtab (0: no window yet)
    cdef bint dset                # dbase chosen
    cdef pghot_lock_t lock

    def __cinit__(self, *args, **kwargs):
        self.slots = NULL
        self.mask = 0
        self.n = 0
        self.has_max = False
        self.dtab = NULL
        self.dbase = 0
        self.dlen = 0
        self.dset = False
        pghot_lock_init(&self.lock)

    def __init__(self, max_pages=2**32):
        if self.slots != NULL:
            raise RuntimeError("PageMap.__init__ may run only once")
        if isinstance(max_pages, bool) or not isinstance(max_pages, int):
            raise TypeError(f"max_pages must be an int, not {type(max_pages).__name__}")
        if not 1 <= max_pages <= 2**32:
            raise ValueError(f"max_pages must be in [1, 2**32], got {max_pages}")
        self.max_pages = max_pages
        self.slots = _new_table(1024)
        if self.slots == NULL:
            raise MemoryError()
        self.mask = 1023

    def __dealloc__(self):
        if self.slots != NULL:
            free(self.slots)
        if self.dtab != NULL:
            free(self.dtab)

    def __len__(self):
        return self.n

    def map(self, keys):
        """The dense id of each key (uint32), numbering new keys in order.

        Raises
        ------
        TypeError, ValueError
            ``keys`` is not a 1-D integer array, has a negative value, or
            brings the distinct keys beyond ``max_pages`` (nothing is numbered).
        """
        if self.slots == NULL:
            raise RuntimeError("PageMap is not initialised")
        if (isinstance(keys, np.ndarray) and keys.dtype == np.uint64 and keys.ndim == 1
                and keys.flags.c_contiguous):
            # every uint64 is a key: nothing to check, and _map reads each key once (a
            # concurrent writer changes which keys are numbered, never what memory is
            # touched: the window and the table check every index they compute), so the
            # caller's array is read in place, with no copy
            arr = keys
        else:
            arr = np.array(keys, copy=True)  # checked and used: no other thread can change it between
        if arr.ndim != 1:
            raise ValueError(f"keys must be 1-D, got shape {arr.shape}")
        if arr.dtype.kind not in "iu":
            if arr.shape[0]:
                raise ValueError(f"keys must have an integer dtype, got {arr.dtype}")
            arr = arr.astype(np.uint64)
        if arr.dtype.kind == "i" and arr.shape[0] and int(arr.min()) < 0:
            raise ValueError("keys must be >= 0")
        cdef const uint64_t[::1] k = np.ascontiguousarray(arr, dtype=np.uint64)
        out = np.empty(k.shape[0], dtype=np.uint32)
        cdef uint32_t[::1] o = out
        cdef uint64_t before
        cdef int rc
        with nogil:
            pghot_lock(&self.lock)
            before = self.n
            rc = self._map(&k[0] if k.shape[0] else NULL, k.shape[0], &o[0] if k.shape[0] else NULL)
            if rc == 1:  # too many keys: forget the ones this call numbered
                self._forget_from(before)
            pghot_unlock(&self.lock)
        if rc == 1:
            raise ValueError(
                f"keys: more than max_pages={self.max_pages} distinct pages "
                f"(already {before})")
        if rc == 2:
            raise MemoryError("PageMap: cannot grow its table")
        return out

    cdef int _map(self, const uint64_t *k, Py_ssize_t n, uint32_t *o) noexcept nogil:
        """Number ``k[0:n]`` into ``o``: 0 done, 1 beyond max_pages, 2 out of memory."""
        cdef Py_ssize_t i
        cdef uint64_t x, j, d
        cdef uint32_t v
        cdef uint64_t allowed
        if n == 0:
            return 0
        if not self.dset:
            self._place(k, n)
        allowed = 8 * (self.n + <uint64_t>n)
        if allowed < DMIN:
            allowed = DMIN
        if allowed > DMAX:
            allowed = DMAX
        for i in range(n):
            x = k[i]
            d = x - self.dbase  # wraps above dlen for x < dbase
            if d >= self.dlen and self.dset and d < allowed and x != EMPTY:
                if self._widen(d + 1, allowed) != 0:
                    return 2
            if d < self.dlen:
                v = self.dtab[d]
                if v:
                    o[i] = v - 1
                    continue
                if self.n < LAST_ID:
                    if self.n >= self.max_pages:
                        return 1
                    self.n += 1
                    v = <uint32_t>self.n
                    self.dtab[d] = v
                    o[i] = v - 1
                    continue
                # the last id, 2**32 - 1, has no id + 1 in 32 bits: that key stays in the table
            if x == EMPTY:
                if not self.has_max:
                    if self.n >= self.max_pages:
                        return 1
                    self.has_max = True
                    self.max_id = self.n
                    self.n += 1
                o[i] = <uint32_t>self.max_id
                continue
            j = pghot_hash(x) & self.mask
            while True:
                if self.slots[j].key == x:
                    o[i] = <uint32_t>self.slots[j].id
                    break
                if self.slots[j].key == EMPTY:
                    if self.n >= self.max_pages:
                        return 1
                    self.slots[j].key = x
                    self.slots[j].id = self.n
                    o[i] = <uint32_t>self.n
                    self.n += 1
                    if 2 * (self.n + 1) > self.mask + 1 and self._grow() != 0:
                        return 2
                    break
                j = (j + 1) & self.mask
        return 0

    cdef void _place(self, const uint64_t *k, Py_ssize_t n) noexcept nogil:
        """Choose dbase: the batch's smallest key rounded down (none when it has only EMPTY)."""
        cdef Py_ssize_t i
        cdef uint64_t lo = EMPTY
        for i in range(n):
            if k[i] < lo:
                lo = k[i]
        if lo != EMPTY:
            self.dbase = lo & ~DALIGN
            self.dset = True

    cdef int _widen(self, uint64_t need, uint64_t allowed) noexcept nogil:
        """Double the window toward ``need`` entries, to at most ``allowed``: 0, or 2 out of memory."""
        cdef uint64_t x, size, j
        cdef uint32_t *t
        size = self.dlen if self.dlen else 1024
        while size < need and 2 * size <= allowed:
            size *= 2
        if size <= self.dlen:
            return 0
        t = <uint32_t *>calloc(size, sizeof(uint32_t))
        if t == NULL:
            return 2
        if self.dlen:
            memcpy(t, self.dtab, self.dlen * sizeof(uint32_t))
        # the table's keys the wider window covers move into it
        for j in range(self.mask + 1):
            x = self.slots[j].key
            if x != EMPTY and self.slots[j].id < LAST_ID and self.dlen <= x - self.dbase < size:
                t[x - self.dbase] = <uint32_t>(self.slots[j].id + 1)
        if self._rebuild(self.mask + 1, 0xFFFFFFFFFFFFFFFFULL, self.dlen, size) != 0:
            free(t)
            return 2
        free(self.dtab)
        self.dtab = t
        self.dlen = size
        return 0

    cdef int _rebuild(self, uint64_t size, uint64_t below, uint64_t lo=0, uint64_t hi=0) noexcept nogil:
        """Rehash into a table of ``size`` slots, keeping the ids < ``below`` but not the keys
        dbase + [lo, hi) (now in the window; LAST_ID's stays), in offsets from dbase so that
        nothing wraps."""
        cdef slot_t *old = self.slots
        cdef uint64_t oldsize = self.mask + 1
        cdef slot_t *new = _new_table(size)
        cdef uint64_t i, j
        if new == NULL:
            return 2
        for i in range(oldsize):
            if (old[i].key != EMPTY and old[i].id < below
                    and (old[i].id == LAST_ID or not (lo <= old[i].key - self.dbase < hi))):
                j = pghot_hash(old[i].key) & (size - 1)
                while new[j].key != EMPTY:
                    j = (j + 1) & (size - 1)
                new[j] = old[i]
        self.slots = new
        self.mask = size - 1
        free(old)
        return 0

    cdef int _grow(self) noexcept nogil:
        return self._rebuild(2 * (self.mask + 1), 0xFFFFFFFFFFFFFFFFULL)

    cdef void _forget_from(self, uint64_t first) noexcept nogil:
        cdef uint64_t d
        if self.has_max and self.max_id >= first:
            self.has_max = False
        for d in range(self.dlen):
            if self.dtab[d] > first:  # id + 1 > first: id >= first
                self.dtab[d] = 0
        # same size: cannot fail for lack of memory only if malloc succeeds;
        # on failure the table keeps the new keys (and n says so)
        if self._rebuild(self.mask + 1, first) == 0:
            self.n = first


cdef slot_t *_new_table(uint64_t size) noexcept nogil:
    cdef slot_t *t = <slot_t *>malloc(size * sizeof(slot_t))
    cdef uint64_t i
    if t != NULL:
        for i in range(size):
            t[i].key = EMPTY
            t[i].id = 0
    return t


def clamped_jiffies(time_ns, int64_t origin_ns, int64_t hz, int64_t floor):
    """Trace times in jiffies from ``origin_ns``, never below ``floor`` nor an earlier one (internal).

    The replay's time stage: ``TraceChunk.times_jiffies(hz, origin_ns)``
    (exact floor division, the difference wrapping as numpy's int64 does)
    followed by ``np.maximum.accumulate(np.maximum(t, floor))``, in one pass.

    Returns
    -------
    numpy.ndarray
        int64 jiffies, non-decreasing, each ``>= floor``.

    Examples
    --------
    >>> import numpy as np
    >>> clamped_jiffies(np.array([0, 999_999, 5_000_000, 2_000_000], dtype=np.int64), 0, 1000, 0).tolist()
    [0, 0, 5, 5]
    >>> clamped_jiffies(np.array([-1, 1_500_000_000], dtype=np.int64), 0, 1000, 3).tolist()
    [3, 1500]
    """
    if not 0 < hz <= 10**9:  # rem * hz stays below 2**63
        raise ValueError(f"hz must be in [1, 10**9], got {hz}")
    cdef const int64_t[::1] t = np.ascontiguousarray(time_ns, dtype=np.int64)
    out = np.empty(t.shape[0], dtype=np.int64)
    cdef int64_t[::1] o = out
    cdef Py_ssize_t i, n = t.shape[0]
    cdef int64_t d, sec, rem, j, last = floor, jn
    cdef int64_t NS = 1_000_000_000
    # differences [lo, hi) are jiffy jc: divisions only where the jiffy changes
    # (kept for differences in [0, 2**62), where the bounds cannot overflow)
    cdef int64_t lo = 1, hi = 0, jc = 0
    with nogil:
        for i in range(n):
            d = <int64_t>(<uint64_t>t[i] - <uint64_t>origin_ns)  # wraps, as numpy's int64
            if lo <= d < hi:
                j = jc
            else:
                sec = d // NS          # cdivision: truncates; make it floor
                rem = d % NS
                if rem < 0:
                    rem += NS
                    sec -= 1
                # sec * hz and rem * hz wrap as numpy's int64 does on absurd times
                j = <int64_t>(<uint64_t>sec * <uint64_t>hz) + (rem * hz) // NS
                if 0 <= d < (<int64_t>1 << 62):
                    # the first difference of jiffy j + 1: ceil((j + 1) * NS / hz)
                    jn = j + 1
                    jc = j
                    lo = d
                    hi = (jn // hz) * NS + ((jn % hz) * NS + hz - 1) // hz
                else:
                    lo = 1
                    hi = 0
            if j > last:
                last = j
            o[i] = last
    return out


def closed_clock(const uint32_t[::1] pages, const int64_t[::1] times, int64_t top_pages, double top_ns,
                 double lower_ns, double cpu_ns, double stall, int64_t first, int64_t hz, int64_t floor):
    """The closed clock's jiffies of one chunk of the stream (internal; see ``SimConfig.time_model``).

    Access ``i`` of the chunk (``first + i`` of the stream) is issued at
    ``times[i]`` (nanoseconds, the trace's CPU time) plus ``stall`` (the
    stalls of the accesses before the chunk, accumulated access by access)
    plus the stalls of the chunk's earlier accesses plus ``cpu_ns * (first +
    i)``: the sum truncated to an integer (at most 2**62), the time
    saturating at 2**63 - 1, in jiffies of ``hz``, never below ``floor`` nor
    an earlier one.  An access to a logical page below ``top_pages`` stalls
    ``top_ns``, any other ``lower_ns``.  :func:`pghot.model.sim.closed_clock`
    is its specification (the same floating-point operations in the same
    order: the same result).

    Returns
    -------
    (numpy.ndarray, float, int)
        The int64 jiffies, the stall after the chunk, the last access's
        time in nanoseconds (0 for an empty chunk).

    Examples
    --------
    >>> import numpy as np
    >>> j, stall, ns = closed_clock(np.array([0, 1, 0], np.uint32), np.zeros(3, np.int64),
    ...                             1, 1e6, 2e6, 0.0, 0.0, 0, 1000, 0)
    >>> j.tolist(), stall, ns
    ([0, 1, 3], 4000000.0, 3000000)
    """
    if not 0 < hz <= 10**9:
        raise ValueError(f"hz must be in [1, 10**9], got {hz}")
    cdef Py_ssize_t i, n = pages.shape[0]
    if times.shape[0] != n:
        raise ValueError(f"times: {times.shape[0]} values for {n} pages")
    out = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] o = out
    cdef double extra
    cdef int64_t e, t, ns = 0, sec, rem, j, last = floor
    cdef int64_t NS = 1_000_000_000
    cdef int64_t TOP = 0x7FFFFFFFFFFFFFFF
    with nogil:
        for i in range(n):
            extra = stall + cpu_ns * <double>(first + i)
            if extra > 4611686018427387904.0:  # 2**62
                extra = 4611686018427387904.0
            e = <int64_t>extra
            t = times[i]
            ns = (TOP - e if t > TOP - e else t) + e
            sec = ns // NS  # cdivision truncates: make it floor, as the specification's numpy
            rem = ns % NS
            if rem < 0:
                rem += NS
                sec -= 1
            j = <int64_t>(<uint64_t>sec * <uint64_t>hz) + (rem * hz) // NS
            if j < last:
                j = last
            last = j
            o[i] = j
            stall += top_ns if pages[i] < top_pages else lower_ns
    return out, stall, ns
