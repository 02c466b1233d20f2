# A set-associative LRU cache of memory lines: the last-level-cache filter
# that sits between a trace of every load and store (valgrind lackey reports
# L1 hits too) and the memory tiers, so that only the misses reach them.
#
# Data layout.  The cache has `nsets` sets of `ways` lines.  A line is
# named by its line number `line = address >> line_shift` (the whole line
# number is the tag: no aliasing, whatever the set count).  Set `s` owns
# the `ways` slots `tags[s * ways : (s + 1) * ways]` and `fill[s]` of them
# are valid; the valid ones are kept in recency order, slot 0 the most
# recently used, slot fill[s] - 1 the least.  Set index: `line & set_mask`
# when nsets is a power of two, `line % nsets` otherwise (a real Xeon LLC
# has a non-power-of-two set count: 56 slices x 2048 sets).
#
# Invariants: 0 <= fill[s] <= ways; the valid slots of a set hold distinct
# line numbers, each with `line mod nsets == s`; accesses == hits + misses;
# evictions <= misses; sum(fill) == misses - evictions.
#
# Cost per access: the line of the previous access is the MRU line of its
# set (it was just touched), so an access to that same line (the common case
# in a trace of every load and store: consecutive accesses to one line) is a
# hit found with one compare, no set index and no write.  Otherwise one set
# index and one pass over the set from its MRU end that shifts each slot down
# as it goes (a hit at recency position k costs k + 1 slot reads and
# writes; a miss, fill[s]), then the line written in slot 0.  O(ways) worst
# case, so a fully associative cache of many lines is correct but slow:
# model real caches (ways <= 32) with it.  Measured on a real lackey trace
# (`sort -n`, 99 % hits, bench/README.md): about 48 instructions per access.
#
# Concurrency: no locks.  One call at a time per cache: `busy` is tested and
# set with the GIL held before a kernel runs without the GIL, and cleared
# after; a second thread calling in meanwhile gets RuntimeError, never a
# torn cache.  (A fork while another thread is inside `filter` leaves the
# child's copy busy: every call in the child then raises RuntimeError.)
#
# Errors: every argument is checked with the GIL held (TypeError or
# ValueError naming it) before any state changes; the kernels cannot fail.
from libc.stdlib cimport calloc, free
from libc.string cimport memset
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t

import numpy as np

#: Largest number of lines a cache may have (2**27 lines: 1 GiB of tags).
MAX_LINES = 1 << 27
#: Largest access size accepted, in bytes (lackey's largest is 512; a bound
#: keeps one access from touching millions of lines).
MAX_ACCESS_BYTES = 4096

ctypedef struct lru_cache_t:
    uint64_t *tags       # nsets * ways line numbers, each set in recency order
    uint32_t *fill       # valid slots per set
    uint64_t nsets
    uint64_t set_mask    # nsets - 1 when nsets is a power of two
    bint pow2_sets
    uint32_t ways
    uint32_t line_shift
    uint64_t mru_line    # the line last touched (the MRU line of its set) ...
    bint mru_valid       # ... when one was touched since creation or reset
    uint64_t accesses
    uint64_t hits
    uint64_t misses
    uint64_t evictions


# Look `line` up, make it the set's MRU line; 1 on a miss (it is then
# filled, evicting the set's LRU line when the set is full), 0 on a hit.
# One pass: each slot before the line's (or every slot, on a miss) takes the
# line of the slot before it, so the set stays in recency order.
cdef inline int lru_lookup(lru_cache_t *c, uint64_t line) noexcept nogil:
    cdef uint64_t s = (line & c.set_mask) if c.pow2_sets else (line % c.nsets)
    cdef uint64_t *t = c.tags + s * c.ways
    cdef uint32_t n = c.fill[s]
    cdef uint32_t i
    cdef uint64_t cur
    cdef uint64_t prev = line
    for i in range(n):
        cur = t[i]
        t[i] = prev
        if cur == line:
            return 0
        prev = cur
    if n < c.ways:
        t[n] = prev                     # the old LRU line (or the line, into an empty set)
        c.fill[s] = n + 1
    else:
        c.evictions += 1                # prev, the old LRU line, is dropped
    return 1


# Run `n` accesses through the cache: miss[i] = 1 when access i missed any
# of the lines it touches (sizes == NULL: one byte each, so one line).  The
# last line touched is kept in a local (`mru`, valid when `have`): touching
# it again is a hit that changes nothing.
cdef void lru_filter(lru_cache_t *c, const uint64_t *addr, const uint32_t *sizes,
                     uint8_t *miss, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef uint64_t a, line, last, end
    cdef int m
    cdef uint64_t nmiss = 0
    cdef uint32_t shift = c.line_shift
    cdef uint64_t mru = c.mru_line
    cdef bint have = c.mru_valid
    for i in range(n):
        a = addr[i]
        line = a >> shift
        last = line
        if sizes != NULL and sizes[i] > 1:
            end = a + (<uint64_t>sizes[i] - 1)
            if end < a:                 # the access runs past 2**64 - 1
                end = 0xFFFFFFFFFFFFFFFFULL
            last = end >> shift
        m = 0
        while True:
            if not have or line != mru:
                m |= lru_lookup(c, line)
                mru = line
                have = True
            if line == last:
                break
            line += 1
        miss[i] = <uint8_t>m
        nmiss += <uint64_t>m
    c.mru_line = mru
    c.mru_valid = have
    c.accesses += <uint64_t>n
    c.misses += nmiss
    c.hits += <uint64_t>n - nmiss


cdef int64_t _knob(object v, str name, int64_t lo, int64_t hi) except? -1:
    """An integer knob in [lo, hi]: TypeError (bool too) or ValueError naming it."""
    if isinstance(v, (bool, np.bool_)) or not hasattr(type(v), "__index__"):
        raise TypeError(f"{name} must be an int, not {type(v).__name__}")
    x = v.__index__()
    if x < lo or x > hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {x}")
    return x


def check_geometry(size_bytes, line_bytes, ways):
    """Check a cache's geometry as :class:`LRUCache` does, without allocating it.

    Returns the number of lines; raises the TypeError or ValueError the
    constructor would (a configuration is checked with it before a replay).

    >>> check_geometry(4096, 64, 4)
    64
    >>> check_geometry(1000, 64, 15)
    Traceback (most recent call last):
        ...
    ValueError: size_bytes must be a multiple of line_bytes * ways = 960, got 1000
    """
    return _geometry(size_bytes, line_bytes, ways)[3]


cdef tuple _geometry(object size_bytes, object line_bytes, object ways):
    """(size, line, ways, lines) of a valid geometry; the errors name the argument."""
    cdef int64_t size = _knob(size_bytes, "size_bytes", 1, 1 << 62)
    cdef int64_t line = _knob(line_bytes, "line_bytes", 1, 1 << 20)
    cdef int64_t w = _knob(ways, "ways", 1, MAX_LINES)
    if line & (line - 1):
        raise ValueError(f"line_bytes must be a power of two, got {line}")
    if size % (line * w):
        raise ValueError(
            f"size_bytes must be a multiple of line_bytes * ways = {line * w}, got {size}")
    cdef int64_t nlines = size // line
    if nlines > MAX_LINES:
        raise ValueError(
            f"size_bytes: {size} bytes of {line}-byte lines are {nlines} lines, "
            f"more than the {MAX_LINES} this model holds")
    return size, line, w, nlines


def _u64_array(obj, str name):
    """``obj`` as a 1-D C-contiguous uint64 array (no copy when it is one).

    Refuses non-integer dtypes (TypeError), negative values and other
    shapes (ValueError).  The kernel only reads the array, and every value
    is a valid address, so a caller rewriting it meanwhile cannot make the
    cache unsafe.

    >>> _u64_array([1, 2], "addresses").dtype
    dtype('uint64')
    """
    if obj is None or isinstance(obj, (str, bytes, bytearray, dict, set, float, complex, int)):
        raise TypeError(f"{name} must be a 1-D integer array, not {type(obj).__name__}")
    if isinstance(obj, np.ma.MaskedArray):
        raise TypeError(f"{name} must not be a masked array: fill or compress it first")
    try:
        a = np.asarray(obj)
    except (TypeError, ValueError, OverflowError) as e:
        raise TypeError(f"{name} must be a 1-D integer array: {e}") from None
    if a.dtype.kind not in "iu":
        raise TypeError(f"{name} must have an integer dtype, got {a.dtype}")
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if a.dtype.kind == "i" and a.size and int(a.min()) < 0:
        idx = int(a.argmin())
        raise ValueError(f"{name}[{idx}] = {int(a[idx])} is negative")
    if a.dtype == np.int64:
        return np.ascontiguousarray(a).view(np.uint64)
    return np.ascontiguousarray(a, dtype=np.uint64)


cdef class LRUCache:
    """A set-associative cache of memory lines with LRU replacement.

    ``filter`` runs a batch of accesses through it and returns which ones
    missed.  Write-allocate (a store is an access like a load), no
    write-back traffic, no prefetch.  :class:`pghot.machine.cache.LastLevelCache`
    is this cache with a server LLC's geometry as defaults.

    Parameters
    ----------
    size_bytes : int
        Capacity in bytes: a multiple of ``line_bytes * ways``, at most
        ``MAX_LINES`` lines.
    line_bytes : int
        Line size in bytes, a power of two (1 to 2**20).
    ways : int
        Associativity, ``>= 1`` (``size_bytes // line_bytes`` for a fully
        associative cache).

    Raises
    ------
    TypeError
        A knob is not an int (``bool`` is not accepted).
    ValueError
        A knob has a bad value; the message names it.

    Examples
    --------
    >>> import numpy as np
    >>> c = LRUCache(size_bytes=256, line_bytes=64, ways=2)   # 2 sets of 2 lines
    >>> c.sets
    2
    >>> c.filter(np.array([0, 8, 64, 0, 128, 256, 0], dtype=np.uint64)).tolist()
    [True, False, True, False, True, True, True]
    >>> c.accesses, c.hits, c.misses, c.evictions
    (7, 2, 5, 2)
    """

    cdef lru_cache_t c
    cdef bint busy
    cdef int64_t _size_bytes
    cdef int64_t _line_bytes

    def __cinit__(self, *args, **kwargs):
        self.c.tags = NULL
        self.c.fill = NULL
        self.c.mru_valid = False
        self.busy = False

    def __init__(self, size_bytes, line_bytes, ways):
        if self.c.tags != NULL:
            raise RuntimeError(f"{type(self).__name__} is already initialised")
        cdef int64_t size, line, w, nlines
        size, line, w, nlines = _geometry(size_bytes, line_bytes, ways)
        cdef int64_t nsets = nlines // w
        self.c.tags = <uint64_t *>calloc(<size_t>nlines, sizeof(uint64_t))
        self.c.fill = <uint32_t *>calloc(<size_t>nsets, sizeof(uint32_t))
        if self.c.tags == NULL or self.c.fill == NULL:
            free(self.c.tags)
            free(self.c.fill)
            self.c.tags = NULL
            self.c.fill = NULL
            raise MemoryError(f"size_bytes: {nlines * 8} bytes of tags do not fit in memory")
        self.c.nsets = <uint64_t>nsets
        self.c.pow2_sets = (nsets & (nsets - 1)) == 0
        self.c.set_mask = <uint64_t>(nsets - 1)
        self.c.ways = <uint32_t>w
        cdef uint32_t shift = 0
        while (<int64_t>1 << shift) < line:
            shift += 1
        self.c.line_shift = shift
        self.c.accesses = self.c.hits = self.c.misses = self.c.evictions = 0
        self._size_bytes = size
        self._line_bytes = line

    def __dealloc__(self):
        if self.c.tags != NULL:
            free(self.c.tags)
        if self.c.fill != NULL:
            free(self.c.fill)

    cdef int _enter(self) except -1:
        if self.c.tags == NULL:
            raise RuntimeError(f"{type(self).__name__}.__init__ was not called, or failed")
        if self.busy:
            raise RuntimeError(f"{type(self).__name__} is in use by another thread")
        self.busy = True
        return 0

    def filter(self, addresses, sizes=None, *, out=None):
        """Run accesses through the cache; True where an access missed.

        Parameters
        ----------
        addresses : 1-D array of unsigned (or non-negative) integers
            Byte addresses, in trace order.  A C-contiguous uint64 (or
            int64) array, as a reader's ``vaddr``, is read in place.
        sizes : 1-D integer array, optional
            Bytes accessed by each (0 counts as 1).  An access that spans
            several lines touches each of them, and misses when any does.
            Default: one byte each.  A C-contiguous uint32 array, as a
            reader's ``size``, is read in place.
        out : 1-D bool array, optional
            Written with the result and returned (a fixed buffer for a
            pipeline of fixed-size chunks); C-contiguous, same length.

        Returns
        -------
        numpy.ndarray of bool
            ``mask[i]`` is True when access ``i`` missed: the accesses that
            reach memory are ``addresses[mask]``.

        Raises
        ------
        TypeError, ValueError
            A bad argument (named); the cache is unchanged.
        RuntimeError
            Another thread is inside a call on this cache.

        Examples
        --------
        >>> import numpy as np
        >>> c = LRUCache(size_bytes=1024, line_bytes=64, ways=4)
        >>> c.filter(np.array([60, 60], dtype=np.uint64), np.array([8, 4], dtype=np.uint32)).tolist()
        [True, False]
        >>> c.misses, c.hits
        (1, 1)
        """
        a = _u64_array(addresses, "addresses")
        cdef Py_ssize_t n = a.shape[0]
        s = None
        if sizes is not None:
            if isinstance(sizes, np.ndarray) and sizes.dtype == np.uint32 and sizes.ndim == 1 \
                    and not isinstance(sizes, np.ma.MaskedArray):
                s = np.ascontiguousarray(sizes)    # a reader's sizes: no copy
            else:
                s = _u64_array(sizes, "sizes")
            if s.shape[0] != n:
                raise ValueError(f"sizes has length {s.shape[0]}, addresses has {n}")
            if n and int(s.max()) > MAX_ACCESS_BYTES:
                idx = int(s.argmax())
                raise ValueError(f"sizes[{idx}] = {int(s[idx])} is larger than {MAX_ACCESS_BYTES}")
            if s.dtype != np.uint32:
                s = s.astype(np.uint32)
        if out is None:
            res = np.empty(n, dtype=np.bool_)
        else:
            if not isinstance(out, np.ndarray):
                raise TypeError(f"out must be a numpy bool array, not {type(out).__name__}")
            if out.dtype != np.bool_ or out.ndim != 1 or not out.flags.c_contiguous \
                    or not out.flags.writeable:
                raise ValueError(f"out must be a writeable C-contiguous 1-D bool array, got "
                                 f"{out.dtype} of shape {out.shape}")
            if out.shape[0] != n:
                raise ValueError(f"out has length {out.shape[0]}, addresses has {n}")
            res = out
        cdef const uint64_t[::1] av = a
        cdef uint8_t[::1] mv = res.view(np.uint8)
        cdef const uint32_t[::1] sv
        cdef const uint32_t *sp = NULL
        if s is not None:
            sv = s
            if n:
                sp = &sv[0]
        self._enter()
        try:
            if n:
                with nogil:
                    lru_filter(&self.c, &av[0], sp, &mv[0], n)
        finally:
            self.busy = False
        return res

    def reset(self):
        """Empty the cache and zero its counters.

        >>> import numpy as np
        >>> c = LRUCache(size_bytes=128, line_bytes=64, ways=2)
        >>> c.filter(np.array([0, 0], dtype=np.uint64)).tolist()
        [True, False]
        >>> c.reset(); c.accesses, c.filter(np.array([0], dtype=np.uint64)).tolist()
        (0, [True])
        """
        self._enter()
        memset(self.c.fill, 0, self.c.nsets * sizeof(uint32_t))
        self.c.mru_valid = False
        self.c.accesses = self.c.hits = self.c.misses = self.c.evictions = 0
        self.busy = False

    def resident_lines(self):
        """The valid line numbers, set by set, each set from MRU to LRU (for tests).

        >>> import numpy as np
        >>> c = LRUCache(size_bytes=128, line_bytes=64, ways=1)   # 2 sets of 1 line
        >>> _ = c.filter(np.array([0, 64, 128], dtype=np.uint64))
        >>> c.resident_lines()
        [[2], [1]]
        """
        self._enter()
        try:
            out = []
            for s in range(self.c.nsets):
                out.append([self.c.tags[s * self.c.ways + i] for i in range(self.c.fill[s])])
            return out
        finally:
            self.busy = False

    @property
    def size_bytes(self):
        """Capacity in bytes."""
        return self._size_bytes

    @property
    def line_bytes(self):
        """Line size in bytes."""
        return self._line_bytes

    @property
    def ways(self):
        """Lines per set."""
        return self.c.ways

    @property
    def sets(self):
        """Number of sets (``size_bytes // (line_bytes * ways)``)."""
        return self.c.nsets

    @property
    def accesses(self):
        """Accesses filtered since creation or the last ``reset``."""
        return self.c.accesses

    @property
    def hits(self):
        """Accesses that hit every line they touched."""
        return self.c.hits

    @property
    def misses(self):
        """Accesses that missed at least one line (``accesses - hits``)."""
        return self.c.misses

    @property
    def evictions(self):
        """Valid lines evicted to make room (line fills, not accesses)."""
        return self.c.evictions

    def memory_bytes(self):
        """Bytes of the tag and fill arrays.

        >>> LRUCache(size_bytes=1024, line_bytes=64, ways=4).memory_bytes()
        144
        """
        return self.c.nsets * self.c.ways * 8 + self.c.nsets * 4

    def __repr__(self):
        return (f"{type(self).__name__}(size_bytes={self._size_bytes}, "
                f"line_bytes={self._line_bytes}, ways={self.c.ways})")
