# The replay's shared per-access stages, compiled: the temperature sources
# (pghot.machine.sources: HwHints, PgtableScan, HintFault, combine), the
# oracle's per-interval counts (pghot.sim.engine._IntervalCounts) and the
# metric bins and heat map (pghot.sim.engine._Sim.run_chunk).  The Python
# classes are the specification: fed the same dense pages and times (with
# nids=0), a stage here makes the same reports, in the same order, and keeps
# the same counters (tests/test_stages.py compares them).
#
# Data layout.  Pages are dense logical pages, uint32 below `npages` (given
# at construction); times are int64 jiffies.  The state of a stage is held
# per logical page, so each access costs O(1):
#   - PgtableScanStage: a bitmap of the pages held since the last scan, and
#     the same pages in a list (first-held order).  A scan reports them in
#     ascending order: it walks the bitmap's words between the lowest and the
#     highest held page when they are dense (at most 4 words per page held),
#     else radix-sorts the list; either is O(pages held).
#   - HintFaultStage: two words per 64 pages, [2w] "known" (seen so far: the
#     scanned space) and [2w+1] "unmapped" (PROT_NONE), in the same cache
#     line, and per page the time of the scan that unmapped it (`stime`,
#     int64, written for the pages a scan newly unmaps: O(newly) more per
#     scan), from which a fault's latency is its time minus stime.  A scan walks the known words from the cursor, popcount by
#     popcount, and ORs the window's known bits into the unmapped word:
#     O(window / 64 + empty words between the known pages).  `size` and
#     `nprot` count the known and unmapped pages, so "every page unmapped" is
#     O(1) (the idle-walk shortcut of HintFault._scans).
#   - HwHintsStage: the index of the next sample; with random=True, the
#     geometric gaps are drawn ahead from the same numpy Generator, in
#     batches (a batch draw is the same sequence as scalar draws), so the
#     kernel never needs the GIL.
#   - IntervalCounts: an int64 count per page and the list of the pages
#     touched this interval; hot(k) selects the k-th largest count (radix
#     select, O(touched)), collects the pages at or above it in ascending
#     order (a walk of the counts between the lowest and highest touched page
#     when dense, else a radix sort of the list) and zeroes only the touched
#     counts.
#
# Invariants.  Every report buffer (rp/rt, and rl of a stage with latencies) is grown with the GIL held by
# _prepare/_prepare_flush to the most reports the call can make (a source
# reports each access at most once, plus what a scan holds), so the kernels
# (_run/_run_flush, noexcept nogil) cannot fail.  The arguments are checked
# before any state changes; the kernels still skip a page >= npages (the
# caller's array could change while the GIL is released: no write out of
# bounds, whatever the caller does).  Times are clamped as the Python sources
# do: an access older than the latest time fed counts in `reordered` and
# happens at that latest time.  Scan times are uint64 and saturate at
# 2**64 - 1 (the Python classes use unbounded ints; only traces whose times
# come within a scan period of 2**63 can tell).
#
# Locks: none.  A stage is not thread-safe; one thread drives it (the
# replay feeds the sources once, before the policies run).
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int32_t, int64_t
from libc.stdlib cimport malloc, calloc, realloc, free
from libc.string cimport memcpy, memmove, memset

from defs cimport pghot_prefetch, PREFETCH_AHEAD

import operator

import numpy as np

cdef extern from *:
    """
    static inline int pghot_popc64(uint64_t x) { return __builtin_popcountll(x); }
    static inline int pghot_ctz64(uint64_t x) { return __builtin_ctzll(x); }
    """
    int pghot_popc64(uint64_t x) nogil
    int pghot_ctz64(uint64_t x) nogil

cdef int64_t I64_MAX = 0x7FFFFFFFFFFFFFFF
cdef uint64_t U64_MAX = 0xFFFFFFFFFFFFFFFFULL

# the Python sources' bounds (pghot.machine.sources, pghot._validate)
_HZ_MAX = 1_000_000
_MS_MAX = 2**40
_JIFFIES_MAX = 2**62
_NPAGES_MAX = 2**32

_U32 = np.dtype(np.uint32)
_I64 = np.dtype(np.int64)

SRC_HW_HINTS = 0
SRC_PGTABLE_SCAN = 1
SRC_HINT_FAULT = 2


# -- argument checks (GIL held) ---------------------------------------------------

cdef object _int(object v, str name, object lo, object hi):
    """``v`` as a Python int in [lo, hi] (hi None: no bound), else TypeError/ValueError naming it."""
    if isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{name} must be an int, not bool")
    try:
        x = operator.index(v)
    except TypeError:
        raise TypeError(f"{name} must be an int, not {type(v).__name__}") from None
    if x < lo or (hi is not None and x > hi):
        bound = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{name} must be {bound}, got {x}")
    return x


cdef object _jiffies(object ms, object hz):
    """msecs_to_jiffies: rounded up (pghot._validate.ms_to_jiffies)."""
    return -(-ms * hz // 1000)


cdef object _array(object a, str name, object dtype):
    """``a`` as a C-contiguous 1-D array of exactly ``dtype`` (no conversion)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy array of {dtype.name}, not {type(a).__name__}")
    if a.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype.name}, got {a.dtype}")
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    return np.ascontiguousarray(a)


cdef object _out_array(object a, str name):
    """``a``: a writable C-contiguous 1-D int64 array, updated in place."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy array of int64, not {type(a).__name__}")
    if a.dtype != _I64:
        raise TypeError(f"{name} must have dtype int64, got {a.dtype}")
    if a.ndim != 1 or not a.flags.c_contiguous:
        raise ValueError(f"{name} must be a 1-D C-contiguous array")
    if not a.flags.writeable:
        raise ValueError(f"{name} must be writable")
    return a


cdef int _check_pages(object pa, uint64_t npg) except -1:
    """Every page < npg."""
    cdef const uint32_t[::1] p = pa
    cdef Py_ssize_t i, n = p.shape[0]
    cdef uint32_t mx = 0
    with nogil:
        for i in range(n):
            if p[i] > mx:
                mx = p[i]
    if n and mx >= npg:
        i = int(np.argmax(pa >= npg))
        raise ValueError(f"pages[{i}] = {p[i]} is not below npages = {npg}")
    return 0


cdef int _check_times(object ta) except -1:
    """Every time >= 0."""
    cdef const int64_t[::1] t = ta
    cdef Py_ssize_t i, n = t.shape[0]
    cdef int64_t mn = 0
    with nogil:
        for i in range(n):
            if t[i] < mn:
                mn = t[i]
    if mn < 0:
        i = int(np.argmax(ta < 0))
        raise ValueError(f"times[{i}] = {t[i]} is negative")
    return 0


cdef tuple _batch(object pages, object times, uint64_t npg, bint checked=True):
    """A checked batch of accesses: uint32 pages < npg and int64 times >= 0, as long.

    ``checked`` False (the replay's own stream, checked where it was made)
    skips the value checks, one pass each: the kernels skip a page >= npg
    and clamp times anyway, so nothing is written out of bounds.
    """
    pa = _array(pages, "pages", _U32)
    ta = _array(times, "times", _I64)
    if ta.shape[0] != pa.shape[0]:
        raise ValueError(f"times has length {ta.shape[0]}, pages has {pa.shape[0]}")
    if checked:
        _check_pages(pa, npg)
        _check_times(ta)
    return pa, ta


cdef inline const uint32_t *_u32p(const uint32_t[::1] a) noexcept:
    return &a[0] if a.shape[0] else NULL


cdef inline const int64_t *_i64p(const int64_t[::1] a) noexcept:
    return &a[0] if a.shape[0] else NULL


# -- small kernels --------------------------------------------------------------------

cdef inline uint64_t _sat_add(uint64_t a, uint64_t b) noexcept nogil:
    cdef uint64_t s = a + b
    return s if s >= a else U64_MAX


cdef inline uint64_t _sat_mul(uint64_t a, uint64_t b) noexcept nogil:
    if a != 0 and b > U64_MAX // a:
        return U64_MAX
    return a * b


cdef void _sort_u32(uint32_t *a, Py_ssize_t n, uint32_t *tmp) noexcept nogil:
    """Sort a[0:n] ascending: LSD radix sort, 8-bit digits, skipping a digit every
    element shares; tmp holds n.  O(n) per digit."""
    cdef Py_ssize_t cnt[1024]
    cdef Py_ssize_t i, s, off
    cdef int d, shift
    cdef uint32_t v
    cdef uint32_t *src = a
    cdef uint32_t *dst = tmp
    cdef uint32_t *sw
    if n < 2:
        return
    memset(cnt, 0, sizeof(cnt))
    for i in range(n):
        v = a[i]
        cnt[v & 255] += 1
        cnt[256 + ((v >> 8) & 255)] += 1
        cnt[512 + ((v >> 16) & 255)] += 1
        cnt[768 + (v >> 24)] += 1
    for d in range(4):
        shift = 8 * d
        if cnt[256 * d + ((src[0] >> shift) & 255)] == n:
            continue
        off = 0
        for i in range(256):
            s = cnt[256 * d + i]
            cnt[256 * d + i] = off
            off += s
        for i in range(n):
            v = src[i]
            dst[cnt[256 * d + ((v >> shift) & 255)]] = v
            cnt[256 * d + ((v >> shift) & 255)] += 1
        sw = src
        src = dst
        dst = sw
    if src != a:
        memcpy(a, src, n * sizeof(uint32_t))


cdef uint64_t _kth_largest(uint64_t *v, Py_ssize_t m, Py_ssize_t k) noexcept nogil:
    """The k-th largest of v[0:m] (1 <= k <= m), as np.partition finds it: radix
    select from the highest byte, O(m) per byte of the largest value; reorders v."""
    cdef Py_ssize_t hist[256]
    cdef Py_ssize_t i, j, acc
    cdef uint64_t mx = 0, prefix = 0
    cdef int shift = 0, b
    for i in range(m):
        if v[i] > mx:
            mx = v[i]
    while shift < 56 and (mx >> (shift + 8)) != 0:
        shift += 8
    while True:
        memset(hist, 0, sizeof(hist))
        for i in range(m):
            hist[(v[i] >> shift) & 255] += 1
        acc = 0
        b = 255
        while acc + hist[b] < k:
            acc += hist[b]
            b -= 1
        k -= acc
        prefix |= (<uint64_t>b) << shift
        if shift == 0:
            return prefix
        j = 0
        for i in range(m):
            if <int>((v[i] >> shift) & 255) == b:
                v[j] = v[i]
                j += 1
        m = j
        shift -= 8


cdef object _ndarray_u32(const uint32_t *src, Py_ssize_t n):
    out = np.empty(n, dtype=np.uint32)
    cdef uint32_t[::1] o = out
    if n:
        memcpy(&o[0], src, n * sizeof(uint32_t))
    return out


cdef object _ndarray_i64(const int64_t *src, Py_ssize_t n):
    out = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] o = out
    if n:
        memcpy(&o[0], src, n * sizeof(int64_t))
    return out


# -- the stages -------------------------------------------------------------------------

cdef class Stage:
    """Base of the compiled sources: checks, time clamping, counters, report buffers.

    Not built directly: see :class:`HwHintsStage`, :class:`PgtableScanStage`
    and :class:`HintFaultStage`.

    >>> isinstance(HwHintsStage(8), Stage)
    True
    """

    def __cinit__(self, *args, **kwargs):
        self.rp = NULL
        self.rt = NULL
        self.rl = NULL
        self.has_lat = False
        self.rn = 0
        self.rcap = 0
        self.npg = 0
        self.last_time = 0
        self.fed_ = 0
        self.reported_ = 0
        self.reordered_ = 0

    def __dealloc__(self):
        if self.rp != NULL:
            free(self.rp)
        if self.rt != NULL:
            free(self.rt)
        if self.rl != NULL:
            free(self.rl)

    def __init__(self, *args, **kwargs):
        raise TypeError("Stage is a base class: build HwHintsStage, PgtableScanStage or HintFaultStage")

    cdef int _grow(self, Py_ssize_t need) except -1:
        """Room for ``need`` reports (GIL held)."""
        cdef Py_ssize_t cap
        cdef void *a
        if need <= self.rcap:
            return 0
        cap = max(need, 2 * self.rcap, 64)
        a = realloc(self.rp, cap * sizeof(uint32_t))
        if a == NULL:
            raise MemoryError()
        self.rp = <uint32_t *>a
        a = realloc(self.rt, cap * sizeof(int64_t))
        if a == NULL:
            raise MemoryError()
        self.rt = <int64_t *>a
        if self.has_lat:
            a = realloc(self.rl, cap * sizeof(int64_t))
            if a == NULL:
                raise MemoryError()
            self.rl = <int64_t *>a
        self.rcap = cap
        return 0

    cdef tuple _take(self):
        """The reports of the call as fresh arrays (pages, times, latencies); counts them."""
        cdef Py_ssize_t k = self.rn
        lat = _ndarray_i64(self.rl, k) if self.has_lat else np.full(k, -1, dtype=np.int64)
        out = (_ndarray_u32(self.rp, k), _ndarray_i64(self.rt, k), lat)
        self.reported_ += k
        self.rn = 0
        return out

    cdef int _prepare(self, Py_ssize_t n) except -1:
        return self._grow(n)

    cdef void _run(self, const uint32_t *p, const int64_t *t, Py_ssize_t n) noexcept nogil:
        pass

    cdef int _prepare_flush(self) except -1:
        return 0

    cdef void _run_flush(self, bint has_now, int64_t now) noexcept nogil:
        pass

    def feed(self, pages, times, *, checked=True):
        """Run the accesses ``(pages, times)``; return the reports they make.

        Parameters
        ----------
        pages : numpy.ndarray of uint32
            Dense logical pages, each ``< npages``, in time order.
        times : numpy.ndarray of int64
            Access times in jiffies, ``>= 0``; one older than the latest fed
            is clamped to it (counted in ``reordered``).

        Returns
        -------
        (pages, times, latency) : (uint32 array, int64 array, int64 array)
            The reported pages and report times, in report order, and each
            report's hint-fault latency in jiffies (-1 for the stages other
            than :class:`HintFaultStage`).

        Examples
        --------
        >>> hw = HwHintsStage(16, sample_every=1)
        >>> p, t, lat = hw.feed(np.array([3, 4], np.uint32), np.array([5, 2], np.int64))
        >>> p.tolist(), t.tolist(), lat.tolist(), hw.reordered
        ([3, 4], [5, 5], [-1, -1], 1)
        """
        pa, ta = _batch(pages, times, self.npg, checked)
        cdef const uint32_t[::1] p = pa
        cdef const int64_t[::1] t = ta
        cdef const uint32_t *pp = _u32p(p)
        cdef const int64_t *tp = _i64p(t)
        cdef Py_ssize_t n = p.shape[0]
        self._prepare(n)
        self.rn = 0
        with nogil:
            self._run(pp, tp, n)
        return self._take()

    def flush(self, now=None):
        """Run what is due by ``now`` (None: a periodic source's pending scan); its reports.

        Examples
        --------
        >>> s = PgtableScanStage(16, interval_ms=100, origin_jiffies=0)
        >>> _ = s.feed(np.array([4, 4, 2], np.uint32), np.array([10, 20, 30], np.int64))
        >>> s.flush(99)[0].tolist(), s.flush(100)[0].tolist()
        ([], [2, 4])
        """
        cdef bint has = now is not None
        cdef int64_t nw = 0
        if has:
            nw = _int(now, "now", 0, I64_MAX)
        self._prepare_flush()
        self.rn = 0
        with nogil:
            self._run_flush(has, nw)
        return self._take()

    @property
    def npages(self):
        """Pages are below this (the constructor's ``npages``).

        >>> HwHintsStage(10).npages
        10
        """
        return self.npg

    @property
    def fed(self):
        """Accesses fed so far.

        >>> HwHintsStage(10).fed
        0
        """
        return self.fed_

    @property
    def reported(self):
        """Reports returned so far.

        >>> HwHintsStage(10).reported
        0
        """
        return self.reported_

    @property
    def reordered(self):
        """Accesses that arrived older than an earlier one (clamped).

        >>> HwHintsStage(10).reordered
        0
        """
        return self.reordered_


cdef uint64_t _npages(object v) except 0:
    return _int(v, "npages", 1, _NPAGES_MAX)


cdef class HwHintsStage(Stage):
    """Hardware access sampling, compiled: :class:`pghot.machine.sources.HwHints`.

    Parameters
    ----------
    npages : int
        Pages fed are below this, in ``[1, 2**32]``.
    sample_every, seed, random, hz
        As :class:`~pghot.machine.sources.HwHints` (one access in
        ``sample_every``, default 10000, the IBS driver's op sampling period);
        the same seed gives the same samples.

    Examples
    --------
    >>> hw = HwHintsStage(200, sample_every=3, seed=0)
    >>> p, t, _ = hw.feed(np.arange(100, 110, dtype=np.uint32), np.arange(10, dtype=np.int64))
    >>> p.tolist(), t.tolist()
    ([102, 105, 108], [2, 5, 8])
    """

    def __cinit__(self, *args, **kwargs):
        self.gaps = NULL
        self.gn = 0
        self.gpos = 0
        self.gcap = 0

    def __dealloc__(self):
        if self.gaps != NULL:
            free(self.gaps)

    def __init__(self, npages, sample_every=10000, seed=0, *, random=False, hz=1000):
        h = _int(hz, "hz", 1, _HZ_MAX)
        npg = _npages(npages)
        se = _int(sample_every, "sample_every", 1, I64_MAX)
        sd = _int(seed, "seed", 0, None)
        if not isinstance(random, (bool, np.bool_)):
            raise TypeError(f"random must be a bool, not {type(random).__name__}")
        rng = np.random.default_rng(sd)
        self.hz = h
        self.npg = npg
        self.src = SRC_HW_HINTS
        self.se = se
        self.seed = sd
        self.rnd = bool(random)
        self.rng = rng
        if self.rnd:
            self.nxt = int(rng.geometric(1.0 / se)) - 1
        else:
            self.nxt = int(rng.integers(se))

    @property
    def sample_every(self):
        """Sampling period in accesses.

        >>> HwHintsStage(10, sample_every=7).sample_every
        7
        """
        return self.se

    @property
    def random(self):
        """Whether the gaps are geometric (True) or fixed (False).

        >>> HwHintsStage(10).random
        False
        """
        return bool(self.rnd)

    cdef int _prepare(self, Py_ssize_t n) except -1:
        cdef uint64_t pos = self.nxt
        cdef Py_ssize_t i = self.gpos, keep, need, batch, cap
        cdef const int64_t[::1] g
        cdef void *a
        self._grow(n)
        if not self.rnd:
            return 0
        while True:
            while pos < <uint64_t>n and i < self.gn:
                pos += <uint64_t>self.gaps[i]
                i += 1
            if pos >= <uint64_t>n:
                return 0
            # Draw the next gaps from the same Generator (batch draws are the
            # scalar draws' sequence): about the samples still to come, and more.
            need = <Py_ssize_t>((<uint64_t>n - pos) // self.se) + 1
            batch = max(64, need + need // 8 + 16)
            g = np.ascontiguousarray(self.rng.geometric(1.0 / int(self.se), size=batch), dtype=np.int64)
            keep = self.gn - self.gpos
            if self.gpos:
                memmove(self.gaps, self.gaps + self.gpos, keep * sizeof(int64_t))
                i -= self.gpos
                self.gpos = 0
                self.gn = keep
            if keep + batch > self.gcap:
                cap = max(keep + batch, 2 * self.gcap)
                a = realloc(self.gaps, cap * sizeof(int64_t))
                if a == NULL:
                    raise MemoryError()
                self.gaps = <int64_t *>a
                self.gcap = cap
            memcpy(self.gaps + self.gn, &g[0], batch * sizeof(int64_t))
            self.gn += batch

    cdef void _run(self, const uint32_t *p, const int64_t *t, Py_ssize_t n) noexcept nogil:
        cdef int64_t last = self.last_time, ti
        cdef uint64_t reord = 0, pos = self.nxt, se = self.se
        cdef Py_ssize_t i, k = self.rn, g = self.gpos
        cdef bint rnd = self.rnd
        for i in range(n):
            ti = t[i]
            if ti < last:
                ti = last
                reord += 1
            else:
                last = ti
            if <uint64_t>i == pos:
                self.rp[k] = p[i]
                self.rt[k] = ti
                k += 1
                if rnd:
                    pos += <uint64_t>self.gaps[g]
                    g += 1
                else:
                    pos += se
        self.nxt = pos - <uint64_t>n
        self.gpos = g
        self.rn = k
        self.last_time = last
        self.reordered_ += reord
        self.fed_ += n


cdef class ScanStage(Stage):
    """What the periodic stages share: the time of the next scan and the scans run.

    >>> PgtableScanStage(8, interval_ms=5, origin_jiffies=100).next_scan
    105
    >>> HintFaultStage(8, scan_delay_ms=5, origin_jiffies=10).next_scan, HintFaultStage(8).scans
    (15, 0)
    """

    def __cinit__(self, *args, **kwargs):
        self.has_next = False
        self.scans_ = 0

    @property
    def next_scan(self):
        """Time of the next scan in jiffies (None before the first access)."""
        return self.nscan if self.has_next else None

    @property
    def scans(self):
        """Scans run so far (idle ones included)."""
        return self.scans_


cdef class PgtableScanStage(ScanStage):
    """Page-table Accessed-bit scanning, compiled: :class:`pghot.machine.sources.PgtableScan`.

    Parameters
    ----------
    npages : int
        Pages fed are below this, in ``[1, 2**32]``.
    interval_ms, hz, origin_jiffies
        As :class:`~pghot.machine.sources.PgtableScan` (default interval
        2000 ms, klruscand's).

    Examples
    --------
    >>> scan = PgtableScanStage(16, interval_ms=10, hz=1000, origin_jiffies=0)
    >>> p, t, _ = scan.feed(np.array([7, 5, 7, 9, 5], np.uint32), np.array([1, 2, 3, 12, 25], np.int64))
    >>> p.tolist(), t.tolist(), scan.scans
    ([5, 7, 9], [10, 10, 20], 2)
    >>> [a.tolist() for a in scan.flush()]
    [[5], [30], [-1]]
    """

    def __cinit__(self, *args, **kwargs):
        self.held_bits = NULL
        self.held = NULL
        self.tmp = NULL
        self.nheld = 0
        self.hcap = 0

    def __dealloc__(self):
        if self.held_bits != NULL:
            free(self.held_bits)
        if self.held != NULL:
            free(self.held)
        if self.tmp != NULL:
            free(self.tmp)

    def __init__(self, npages, interval_ms=2000, *, hz=1000, origin_jiffies=None):
        h = _int(hz, "hz", 1, _HZ_MAX)
        npg = _npages(npages)
        ims = _int(interval_ms, "interval_ms", 1, _MS_MAX)
        origin = None
        if origin_jiffies is not None:
            origin = _int(origin_jiffies, "origin_jiffies", 0, _JIFFIES_MAX)
        if self.held_bits != NULL:
            raise TypeError("PgtableScanStage is already initialised")
        self.held_bits = <uint64_t *>calloc((npg + 63) // 64, sizeof(uint64_t))
        if self.held_bits == NULL:
            raise MemoryError()
        self.hz = h
        self.npg = npg
        self.src = SRC_PGTABLE_SCAN
        self.interval = _jiffies(ims, h)
        self.interval_ms = ims
        if origin is not None:
            self.has_next = True
            self.nscan = origin + self.interval

    @property
    def interval_jiffies(self):
        """Scan interval in jiffies.

        >>> PgtableScanStage(8, interval_ms=5, hz=250).interval_jiffies
        2
        """
        return self.interval


    cdef int _prepare(self, Py_ssize_t n) except -1:
        cdef Py_ssize_t need = self.nheld + n, cap
        cdef void *a
        self._grow(need)
        if <uint64_t>need > self.npg:
            need = <Py_ssize_t>self.npg
        if need > self.hcap:
            cap = max(need, 2 * self.hcap, 64)
            if <uint64_t>cap > self.npg:
                cap = <Py_ssize_t>self.npg
            a = realloc(self.held, cap * sizeof(uint32_t))
            if a == NULL:
                raise MemoryError()
            self.held = <uint32_t *>a
            a = realloc(self.tmp, cap * sizeof(uint32_t))
            if a == NULL:
                raise MemoryError()
            self.tmp = <uint32_t *>a
            self.hcap = cap
        return 0

    cdef int _prepare_flush(self) except -1:
        return self._grow(self.nheld)

    cdef void _scan(self) noexcept nogil:
        """The scan due now: report the held pages, ascending, at its time."""
        cdef int64_t now = <int64_t>self.nscan if self.nscan <= <uint64_t>I64_MAX else I64_MAX
        cdef Py_ssize_t k = self.rn, j, m = self.nheld
        cdef uint64_t w, wlo, whi, x
        cdef uint32_t pg
        cdef uint64_t *bits = self.held_bits
        self.scans_ += 1
        self.nscan = _sat_add(self.nscan, self.interval)
        if m == 0:
            return
        wlo = self.held_lo >> 6
        whi = self.held_hi >> 6
        if whi - wlo + 1 <= 4 * <uint64_t>m:
            for w in range(wlo, whi + 1):
                x = bits[w]
                while x:
                    self.rp[k] = <uint32_t>(w * 64 + pghot_ctz64(x))
                    self.rt[k] = now
                    k += 1
                    x &= x - 1
                bits[w] = 0
        else:
            _sort_u32(self.held, m, self.tmp)
            for j in range(m):
                pg = self.held[j]
                self.rp[k] = pg
                self.rt[k] = now
                k += 1
                bits[pg >> 6] = 0
        self.rn = k
        self.nheld = 0

    cdef void _run(self, const uint32_t *p, const int64_t *t, Py_ssize_t n) noexcept nogil:
        cdef int64_t last = self.last_time, ti
        cdef uint64_t reord = 0, extra, npg = self.npg, iv = self.interval, m
        cdef uint64_t *bits = self.held_bits
        cdef Py_ssize_t i
        cdef uint32_t pg
        self.fed_ += n
        if n == 0:
            return
        if not self.has_next:
            self.has_next = True
            self.nscan = <uint64_t>(t[0] if t[0] > last else last) + iv
        for i in range(n):
            ti = t[i]
            if ti < last:
                ti = last
                reord += 1
            else:
                last = ti
            if <uint64_t>ti >= self.nscan:
                # the scan due reports what is held; those after it, to this access, are idle
                self._scan()
                if <uint64_t>ti >= self.nscan:
                    extra = (<uint64_t>ti - self.nscan) // iv + 1
                    self.scans_ += extra
                    self.nscan = _sat_add(self.nscan, _sat_mul(extra, iv))
            pg = p[i]
            if pg >= npg:
                continue
            m = (<uint64_t>1) << (pg & 63)
            if not (bits[pg >> 6] & m):
                bits[pg >> 6] |= m
                if self.nheld == 0:
                    self.held_lo = pg
                    self.held_hi = pg
                elif pg < self.held_lo:
                    self.held_lo = pg
                elif pg > self.held_hi:
                    self.held_hi = pg
                self.held[self.nheld] = pg
                self.nheld += 1
        self.last_time = last
        self.reordered_ += reord

    cdef void _run_flush(self, bint has_now, int64_t now) noexcept nogil:
        cdef uint64_t idle
        if not self.has_next:
            return
        if not has_now:
            if self.nheld:
                self._scan()
            return
        if self.nheld and self.nscan <= <uint64_t>now:
            self._scan()
        if self.nscan <= <uint64_t>now:
            idle = (<uint64_t>now - self.nscan) // self.interval + 1
            self.nscan = _sat_add(self.nscan, _sat_mul(idle, self.interval))
            self.scans_ += idle


cdef class HintFaultStage(ScanStage):
    """NUMA-balancing hint faults, compiled: :class:`pghot.machine.sources.HintFault`.

    Parameters
    ----------
    npages : int
        Pages fed are below this, in ``[1, 2**32]``.
    scan_period_ms, scan_window_pages, scan_delay_ms, hz, origin_jiffies
        As :class:`~pghot.machine.sources.HintFault` (defaults: 1000 ms,
        65536 pages, 1000 ms: ``numa_balancing_scan_period_min_ms``,
        ``numa_balancing_scan_size_mb`` of 4 KiB pages,
        ``numa_balancing_scan_delay_ms``).

    Examples
    --------
    >>> hf = HintFaultStage(16, scan_period_ms=10, scan_window_pages=2, scan_delay_ms=10, origin_jiffies=0)
    >>> p, t, lat = hf.feed(np.array([5, 6, 7, 5, 6, 7, 5, 7], np.uint32),
    ...                     np.array([1, 2, 3, 11, 12, 13, 15, 21], np.int64))
    >>> p.tolist(), t.tolist(), lat.tolist(), hf.scans, hf.unmapped
    ([5, 6, 7], [11, 12, 21], [1, 2, 1], 2, 3)
    """

    def __cinit__(self, *args, **kwargs):
        self.bits = NULL
        self.stime = NULL
        self.size = 0
        self.nprot = 0
        self.cursor = 0
        self.lo_known = 0
        self.hi_known = 0
        self.unmapped_ = 0

    def __dealloc__(self):
        if self.bits != NULL:
            free(self.bits)
        if self.stime != NULL:
            free(self.stime)

    def __init__(self, npages, scan_period_ms=1000, scan_window_pages=65536, *, scan_delay_ms=1000,
                 hz=1000, origin_jiffies=None):
        h = _int(hz, "hz", 1, _HZ_MAX)
        npg = _npages(npages)
        per = _int(scan_period_ms, "scan_period_ms", 1, _MS_MAX)
        win = _int(scan_window_pages, "scan_window_pages", 1, I64_MAX)
        dl = _int(scan_delay_ms, "scan_delay_ms", 0, _MS_MAX)
        origin = None
        if origin_jiffies is not None:
            origin = _int(origin_jiffies, "origin_jiffies", 0, _JIFFIES_MAX)
        if self.bits != NULL:
            raise TypeError("HintFaultStage is already initialised")
        self.bits = <uint64_t *>calloc(2 * ((npg + 63) // 64), sizeof(uint64_t))
        if self.bits == NULL:
            raise MemoryError()
        self.stime = <int64_t *>calloc(npg, sizeof(int64_t))
        if self.stime == NULL:
            raise MemoryError()
        self.has_lat = True
        self.hz = h
        self.npg = npg
        self.src = SRC_HINT_FAULT
        self.period = _jiffies(per, h)
        self.delay = _jiffies(dl, h)
        self.window = win
        self.scan_period_ms = per
        self.scan_delay_ms = dl
        if origin is not None:
            self.has_next = True
            self.nscan = origin + self.delay

    @property
    def period_jiffies(self):
        """Scan period in jiffies.

        >>> HintFaultStage(8, scan_period_ms=10, hz=100).period_jiffies
        1
        """
        return self.period

    @property
    def delay_jiffies(self):
        """Delay to the first scan in jiffies.

        >>> HintFaultStage(8, scan_delay_ms=0).delay_jiffies
        0
        """
        return self.delay

    @property
    def scan_window_pages(self):
        """Pages unmapped per scan.

        >>> HintFaultStage(8, scan_window_pages=3).scan_window_pages
        3
        """
        return self.window


    @property
    def unmapped(self):
        """Pages newly unmapped by the scans.

        >>> HintFaultStage(8).unmapped
        0
        """
        return self.unmapped_

    @property
    def protnone_pages(self):
        """The pages currently unmapped, ascending (uint32).

        >>> hf = HintFaultStage(8, scan_period_ms=1, scan_delay_ms=0, origin_jiffies=0)
        >>> _ = hf.feed(np.array([3, 1], np.uint32), np.array([0, 0], np.int64)); hf.flush(1)[0].size
        0
        >>> hf.protnone_pages.tolist()
        [1, 3]
        """
        cdef uint64_t nw = (self.npg + 63) // 64, w, x
        cdef Py_ssize_t k = 0
        out = np.empty(self.nprot, dtype=np.uint32)
        cdef uint32_t[::1] o = out
        for w in range(nw):
            x = self.bits[2 * w + 1]
            while x:
                o[k] = <uint32_t>(w * 64 + pghot_ctz64(x))
                k += 1
                x &= x - 1
        return out

    cdef void _scan(self) noexcept nogil:
        """One scan: unmap the next window of known pages from the cursor."""
        cdef uint64_t start, remaining, w, whi, mask, k, pr, newly, x, sel, rest
        cdef uint64_t *bits = self.bits
        cdef int c, j, b
        # a scan runs at or before the access (or flush time) that is due it, so <= I64_MAX
        cdef int64_t now = <int64_t>self.nscan
        self.scans_ += 1
        self.nscan = _sat_add(self.nscan, self.period)
        if self.size == 0:
            self.cursor = 0
            return
        start = self.cursor if self.cursor > self.lo_known else self.lo_known
        if start > self.hi_known:  # no page at or after the cursor: an empty window
            self.cursor = 0
            return
        remaining = self.window
        w = start >> 6
        whi = self.hi_known >> 6
        mask = U64_MAX << (start & 63)
        while True:
            k = bits[2 * w] & mask
            c = pghot_popc64(k)
            if <uint64_t>c < remaining:
                pr = bits[2 * w + 1]
                newly = <uint64_t>pghot_popc64(k & ~pr)
                self.unmapped_ += newly
                self.nprot += newly
                self._stamp(w, k & ~pr, now)
                bits[2 * w + 1] = pr | k
                remaining -= c
                if w == whi:  # the window reaches the end of the space
                    self.cursor = 0
                    return
                w += 1
                mask = U64_MAX
                continue
            x = k
            for j in range(<int>remaining - 1):
                x &= x - 1
            b = pghot_ctz64(x)
            sel = k & (((<uint64_t>2) << b) - 1)
            pr = bits[2 * w + 1]
            newly = <uint64_t>pghot_popc64(sel & ~pr)
            self.unmapped_ += newly
            self.nprot += newly
            self._stamp(w, sel & ~pr, now)
            bits[2 * w + 1] = pr | sel
            rest = k ^ sel
            if rest:
                self.cursor = w * 64 + pghot_ctz64(rest)
                return
            while w < whi:
                w += 1
                if bits[2 * w]:
                    self.cursor = w * 64 + pghot_ctz64(bits[2 * w])
                    return
            self.cursor = 0
            return

    cdef void _stamp(self, uint64_t w, uint64_t x, int64_t now) noexcept nogil:
        """The scan time of the pages newly unmapped: bits ``x`` of word ``w``."""
        cdef int64_t *st = self.stime + w * 64
        while x:
            st[pghot_ctz64(x)] = now
            x &= x - 1

    cdef void _scans(self, uint64_t count) noexcept nogil:
        """``count`` scans in a row; whole walks from an all-unmapped start are counted, not run."""
        cdef uint64_t walk, skip
        while count > 0:
            if self.cursor == 0 and self.nprot == self.size:
                walk = 1 if self.size == 0 else (self.size - 1) // self.window + 1
                skip = count - count % walk
                self.scans_ += skip
                self.nscan = _sat_add(self.nscan, _sat_mul(skip, self.period))
                count -= skip
                if count == 0:
                    break
            self._scan()
            count -= 1

    cdef void _run(self, const uint32_t *p, const int64_t *t, Py_ssize_t n) noexcept nogil:
        cdef int64_t last = self.last_time, ti
        cdef uint64_t reord = 0, npg = self.npg, m, x, w
        cdef uint64_t *bits = self.bits
        cdef Py_ssize_t i, k = self.rn
        cdef uint32_t pg
        self.fed_ += n
        if n == 0:
            return
        if not self.has_next:
            self.has_next = True
            self.nscan = <uint64_t>(t[0] if t[0] > last else last) + self.delay
        for i in range(n):
            ti = t[i]
            if ti < last:
                ti = last
                reord += 1
            else:
                last = ti
            if <uint64_t>ti >= self.nscan:  # every scan due by this access runs before it
                self._scans((<uint64_t>ti - self.nscan) // self.period + 1)
            pg = p[i]
            if pg >= npg:
                continue
            w = 2 * <uint64_t>(pg >> 6)
            m = (<uint64_t>1) << (pg & 63)
            x = bits[w]
            if not (x & m):  # a page seen for the first time joins the space, mapped
                bits[w] = x | m
                if self.size == 0:
                    self.lo_known = pg
                    self.hi_known = pg
                elif pg < self.lo_known:
                    self.lo_known = pg
                elif pg > self.hi_known:
                    self.hi_known = pg
                self.size += 1
            elif bits[w + 1] & m:  # the hint fault: reported, remapped
                bits[w + 1] &= ~m
                self.nprot -= 1
                self.rp[k] = pg
                self.rt[k] = ti
                self.rl[k] = ti - self.stime[pg]
                k += 1
        self.rn = k
        self.last_time = last
        self.reordered_ += reord

    cdef void _run_flush(self, bint has_now, int64_t now) noexcept nogil:
        if has_now and self.has_next and self.nscan <= <uint64_t>now:
            self._scans((<uint64_t>now - self.nscan) // self.period + 1)


cdef class CombinedStage:
    """Several stages fed the same accesses; their reports merged by time.

    As :func:`pghot.machine.sources.combine` over the Python sources fed
    ``nids=0``: stable, so at equal times the reports come in the order the
    stages were given.

    Parameters
    ----------
    *stages : Stage
        Distinct stages with the same ``npages``.
    nid : int, optional
        The accessing node of the hardware-hint and hint-fault reports
        (page-table scans report -1), default 0.

    Examples
    --------
    >>> c = CombinedStage(HwHintsStage(8, sample_every=2, seed=1),
    ...                   PgtableScanStage(8, interval_ms=5, origin_jiffies=0))
    >>> p, nid, src, t, lat = c.feed(np.array([1, 2, 3], np.uint32), np.array([1, 2, 6], np.int64))
    >>> p.tolist(), nid.tolist(), src.tolist(), t.tolist(), lat.tolist()
    ([1, 1, 2, 3], [0, -1, -1, 0], [0, 1, 1, 0], [1, 5, 5, 6], [-1, -1, -1, -1])
    """

    def __cinit__(self, *args, **kwargs):
        self.mp = NULL
        self.mn = NULL
        self.ms = NULL
        self.mt = NULL
        self.ml = NULL
        self.mcap = 0

    def __dealloc__(self):
        if self.mp != NULL:
            free(self.mp)
        if self.mn != NULL:
            free(self.mn)
        if self.ms != NULL:
            free(self.ms)
        if self.mt != NULL:
            free(self.mt)
        if self.ml != NULL:
            free(self.ml)

    def __init__(self, *stages, nid=0):
        cdef Stage s
        if not stages:
            raise ValueError("stages: CombinedStage needs at least one stage")
        for x in stages:
            if not isinstance(x, Stage):
                raise TypeError(f"stages: {type(x).__name__} is not a Stage")
        if len({id(x) for x in stages}) != len(stages):
            raise ValueError("stages: a stage is given twice")
        npgs = {(<Stage>x).npg for x in stages}
        if len(npgs) != 1:
            raise ValueError(f"stages: every stage needs the same npages, got {sorted(npgs)}")
        v = _int(nid, "nid", -1, 2**31 - 1)
        self.stages = tuple(stages)
        self.npg = npgs.pop()
        self.nid = v

    @property
    def reported(self):
        """Reports returned by all the stages.

        >>> CombinedStage(HwHintsStage(4)).reported
        0
        """
        return sum((<Stage>s).reported_ for s in self.stages)

    def feed(self, pages, times, *, checked=True):
        """Feed every stage; their reports merged by time (stable).

        Returns ``(pages uint32, nids int32, srcs int8, times int64, latency int64)``,
        the fields of :class:`pghot.machine.sources.Reports` (latency -1 for the
        reports of the stages other than :class:`HintFaultStage`).

        >>> c = CombinedStage(HwHintsStage(8, sample_every=1))
        >>> [a.tolist() for a in c.feed(np.array([5], np.uint32), np.array([2], np.int64))]
        [[5], [0], [0], [2], [-1]]
        """
        pa, ta = _batch(pages, times, self.npg, checked)
        cdef const uint32_t[::1] p = pa
        cdef const int64_t[::1] t = ta
        cdef const uint32_t *pp = _u32p(p)
        cdef const int64_t *tp = _i64p(t)
        cdef Py_ssize_t n = p.shape[0]
        cdef Stage s
        for x in self.stages:
            (<Stage>x)._prepare(n)
        for x in self.stages:
            s = <Stage>x
            s.rn = 0
            with nogil:
                s._run(pp, tp, n)
        return self._merge()

    def flush(self, now=None):
        """Flush every stage; their reports merged by time.

        >>> c = CombinedStage(HwHintsStage(8), PgtableScanStage(8, interval_ms=5, origin_jiffies=0))
        >>> _ = c.feed(np.array([1], np.uint32), np.array([1], np.int64)); c.flush()[3].tolist()
        [5]
        """
        cdef bint has = now is not None
        cdef int64_t nw = 0
        cdef Stage s
        if has:
            nw = _int(now, "now", 0, I64_MAX)
        for x in self.stages:
            (<Stage>x)._prepare_flush()
        for x in self.stages:
            s = <Stage>x
            s.rn = 0
            with nogil:
                s._run_flush(has, nw)
        return self._merge()

    cdef tuple _merge(self):
        cdef Py_ssize_t ns = len(self.stages), total = 0, i, j, k, cap, best
        cdef Stage s
        cdef void *a
        cdef int64_t bt
        if ns == 1:  # one stage: its reports as they are, nothing to merge
            s = <Stage>self.stages[0]
            total = s.rn
            op = _ndarray_u32(s.rp, total)
            ot = _ndarray_i64(s.rt, total)
            ol = _ndarray_i64(s.rl, total) if s.has_lat else np.full(total, -1, dtype=np.int64)
            s.reported_ += total
            s.rn = 0
            return (op, np.full(total, -1 if s.src == SRC_PGTABLE_SCAN else self.nid, dtype=np.int32),
                    np.full(total, s.src, dtype=np.int8), ot, ol)
        for x in self.stages:
            total += (<Stage>x).rn
        if total > self.mcap:
            cap = max(total, 2 * self.mcap, 64)
            for which in range(5):
                if which == 0:
                    a = realloc(self.mp, cap * sizeof(uint32_t))
                    if a == NULL:
                        raise MemoryError()
                    self.mp = <uint32_t *>a
                elif which == 1:
                    a = realloc(self.mn, cap * sizeof(int32_t))
                    if a == NULL:
                        raise MemoryError()
                    self.mn = <int32_t *>a
                elif which == 2:
                    a = realloc(self.ms, cap * sizeof(signed char))
                    if a == NULL:
                        raise MemoryError()
                    self.ms = <signed char *>a
                elif which == 3:
                    a = realloc(self.mt, cap * sizeof(int64_t))
                    if a == NULL:
                        raise MemoryError()
                    self.mt = <int64_t *>a
                else:
                    a = realloc(self.ml, cap * sizeof(int64_t))
                    if a == NULL:
                        raise MemoryError()
                    self.ml = <int64_t *>a
            self.mcap = cap
        cdef Py_ssize_t *head = <Py_ssize_t *>malloc(3 * ns * sizeof(Py_ssize_t) + 1)
        if head == NULL:
            raise MemoryError()
        cdef Py_ssize_t *cnt = head + ns
        cdef int32_t *nids = <int32_t *>(head + 2 * ns)
        cdef signed char *srcs = <signed char *>(<char *>nids + ns * sizeof(int32_t))
        cdef uint32_t **rps = <uint32_t **>malloc(ns * sizeof(uint32_t *))
        cdef int64_t **rts = <int64_t **>malloc(ns * sizeof(int64_t *))
        cdef int64_t **rls = <int64_t **>malloc(ns * sizeof(int64_t *))
        if rps == NULL or rts == NULL or rls == NULL:
            free(head)
            free(rps)
            free(rts)
            free(rls)
            raise MemoryError()
        for i in range(ns):
            s = <Stage>self.stages[i]
            head[i] = 0
            cnt[i] = s.rn
            rps[i] = s.rp
            rts[i] = s.rt
            rls[i] = s.rl if s.has_lat else NULL
            srcs[i] = <signed char>s.src
            nids[i] = -1 if s.src == SRC_PGTABLE_SCAN else self.nid
            s.reported_ += s.rn
            s.rn = 0
        with nogil:
            # a k-way merge of time-ordered lists: the earliest head, the first stage on ties
            for k in range(total):
                best = -1
                bt = 0
                for i in range(ns):
                    j = head[i]
                    if j < cnt[i] and (best < 0 or rts[i][j] < bt):
                        best = i
                        bt = rts[i][j]
                j = head[best]
                self.mp[k] = rps[best][j]
                self.mt[k] = bt
                self.ml[k] = rls[best][j] if rls[best] != NULL else -1
                self.mn[k] = nids[best]
                self.ms[k] = srcs[best]
                head[best] = j + 1
        free(head)
        free(rps)
        free(rts)
        free(rls)
        op = _ndarray_u32(self.mp, total)
        on = np.empty(total, dtype=np.int32)
        osr = np.empty(total, dtype=np.int8)
        cdef int32_t[::1] onv = on
        cdef signed char[::1] osv = osr
        if total:
            memcpy(&onv[0], self.mn, total * sizeof(int32_t))
            memcpy(&osv[0], self.ms, total)
        return op, on, osr, _ndarray_i64(self.mt, total), _ndarray_i64(self.ml, total)


# -- the oracle ---------------------------------------------------------------------------

cdef class IntervalCounts:
    """Accesses per page within the current oracle interval, compiled.

    As ``pghot.sim.engine._IntervalCounts``: :meth:`add` counts, :meth:`hot`
    returns the pages with the k largest counts (ties at the k-th all
    included), ascending, and resets.  O(pages touched) per interval.

    Parameters
    ----------
    npages : int
        Pages added are below this, in ``[1, 2**32]``.

    Examples
    --------
    >>> oc = IntervalCounts(10)
    >>> oc.add(np.array([4, 2, 4, 7, 2, 9], np.uint32)); oc.accesses
    6
    >>> oc.hot(1).tolist(), oc.accesses
    ([2, 4], 0)
    """

    def __cinit__(self, *args, **kwargs):
        self.counts = NULL
        self.touched = NULL
        self.sel = NULL
        self.tmp = NULL
        self.nt = 0
        self.tcap = 0
        self.accesses_ = 0

    def __dealloc__(self):
        if self.counts != NULL:
            free(self.counts)
        if self.touched != NULL:
            free(self.touched)
        if self.sel != NULL:
            free(self.sel)
        if self.tmp != NULL:
            free(self.tmp)

    def __init__(self, npages):
        npg = _npages(npages)
        if self.counts != NULL:
            raise TypeError("IntervalCounts is already initialised")
        self.counts = <uint64_t *>calloc(npg, sizeof(uint64_t))
        if self.counts == NULL:
            raise MemoryError()
        self.npg = npg

    @property
    def npages(self):
        """Pages are below this.

        >>> IntervalCounts(5).npages
        5
        """
        return self.npg

    @property
    def accesses(self):
        """Accesses added since the last :meth:`hot`.

        >>> IntervalCounts(5).accesses
        0
        """
        return self.accesses_

    def add(self, pages, *, checked=True):
        """Count the accesses to ``pages`` (uint32, each < npages).

        >>> oc = IntervalCounts(4); oc.add(np.array([1, 1], np.uint32)); oc.hot(5).tolist()
        [1]
        """
        pa = _array(pages, "pages", _U32)
        if checked:  # False: the replay's own stream (the kernel skips a page >= npages)
            _check_pages(pa, self.npg)
        cdef const uint32_t[::1] p = pa
        cdef Py_ssize_t n = p.shape[0], i, need = self.nt + n, cap
        cdef uint32_t pg
        cdef uint64_t c
        cdef void *a
        if <uint64_t>need > self.npg:
            need = <Py_ssize_t>self.npg
        if need > self.tcap:
            cap = max(need, 2 * self.tcap, 64)
            if <uint64_t>cap > self.npg:
                cap = <Py_ssize_t>self.npg
            for which in range(3):
                if which == 0:
                    a = realloc(self.touched, cap * sizeof(uint32_t))
                    if a == NULL:
                        raise MemoryError()
                    self.touched = <uint32_t *>a
                elif which == 1:
                    a = realloc(self.tmp, cap * sizeof(uint32_t))
                    if a == NULL:
                        raise MemoryError()
                    self.tmp = <uint32_t *>a
                else:
                    a = realloc(self.sel, cap * sizeof(uint64_t))
                    if a == NULL:
                        raise MemoryError()
                    self.sel = <uint64_t *>a
            self.tcap = cap
        # the fields in locals: the stores into touched could alias them for the compiler
        cdef uint64_t *counts = self.counts
        cdef uint32_t *touched = self.touched
        cdef uint64_t npg = self.npg
        cdef Py_ssize_t nt = self.nt
        cdef uint32_t lo = self.lo, hi = self.hi
        cdef Py_ssize_t ahead = n - PREFETCH_AHEAD
        with nogil:
            for i in range(n):
                if i < ahead and p[i + PREFETCH_AHEAD] < npg:  # a miss on a large footprint
                    pghot_prefetch(&counts[p[i + PREFETCH_AHEAD]])
                pg = p[i]
                if pg >= npg:
                    continue
                c = counts[pg]
                if c == 0:
                    if nt == 0:
                        lo = pg
                        hi = pg
                    elif pg < lo:
                        lo = pg
                    elif pg > hi:
                        hi = pg
                    touched[nt] = pg
                    nt += 1
                counts[pg] = c + 1
            self.nt = nt
            self.lo = lo
            self.hi = hi
            self.accesses_ += n

    def hot(self, k):
        """The pages of the interval with the ``k`` largest counts, ties included,
        ascending (int64); resets the counts.

        Parameters
        ----------
        k : int
            At least 1.

        >>> oc = IntervalCounts(8); oc.add(np.array([5, 3, 5, 3, 1], np.uint32)); oc.hot(1).tolist()
        [3, 5]
        """
        cdef int64_t kk = _int(k, "k", 1, I64_MAX)
        cdef Py_ssize_t m = self.nt, r = 0, i
        cdef uint64_t kth = 1, pg
        cdef uint32_t q
        out = np.empty(m, dtype=np.int64)
        cdef int64_t[::1] o = out
        with nogil:
            if m > kk:
                for i in range(m):
                    self.sel[i] = self.counts[self.touched[i]]
                kth = _kth_largest(self.sel, m, <Py_ssize_t>kk)
            if m and (<uint64_t>self.hi - self.lo + 1) <= 4 * <uint64_t>m:
                for pg in range(self.lo, <uint64_t>self.hi + 1):
                    if self.counts[pg] >= kth:
                        o[r] = <int64_t>pg
                        r += 1
                    self.counts[pg] = 0
            else:
                for i in range(m):
                    q = self.touched[i]
                    if self.counts[q] >= kth:
                        self.tmp[r] = q
                        r += 1
                    self.counts[q] = 0
                _sort_u32(self.tmp, r, self.touched)
                for i in range(r):
                    o[i] = self.tmp[i]
            self.nt = 0
            self.accesses_ = 0
        return out[:r].copy() if r < m else out


# -- the metrics ------------------------------------------------------------------------

def bin_counts(times, bin_j, out, *, checked=True):
    """Add each access to its bin: ``out[t // bin_j] += 1`` for each of ``times``.

    As the replay's ``acc_bins.add(times // bin_j)``; ``out`` holds every bin.

    Parameters
    ----------
    times : numpy.ndarray of int64
        Access times in jiffies, ``>= 0`` (any order; sorted is fastest).
    bin_j : int
        Jiffies per bin, ``>= 1``.
    out : numpy.ndarray of int64
        One count per bin, updated in place; ``max(times) // bin_j < len(out)``.
    checked : bool, default True
        False skips the checks of ``times`` (the replay's own stream): a time
        out of range then counts nowhere instead of raising.

    Examples
    --------
    >>> out = np.zeros(4, np.int64)
    >>> bin_counts(np.array([0, 1, 5, 5, 9], np.int64), 3, out); out.tolist()
    [2, 2, 0, 1]
    """
    ta = _array(times, "times", _I64)
    bj = _int(bin_j, "bin_j", 1, I64_MAX)
    oa = _out_array(out, "out")
    if checked:  # False: the replay's own stream (the kernel skips a bin out of range)
        _check_times(ta)
    cdef const int64_t[::1] t = ta
    cdef int64_t[::1] o = oa
    cdef Py_ssize_t n = t.shape[0], i
    cdef uint64_t nout = o.shape[0], b = 0, lo = 1, hi = 0, ti, bjv = bj
    if n and checked:
        tmax = int(ta.max())
        if tmax // bj >= nout:
            raise ValueError(f"out has {nout} bins, times reach {tmax}: bin {tmax // bj}")
    with nogil:
        for i in range(n):
            ti = <uint64_t>t[i]
            if ti < lo or ti >= hi:
                b = ti // bjv
                lo = b * bjv
                hi = lo + bjv
            if b < nout:
                o[b] += 1


def heat_add(pages, times, heat_tj, heat_pp, heat_np, out, *, checked=True):
    """Add each access to the heat map: ``out[(t // heat_tj) * heat_np + page // heat_pp] += 1``.

    As the replay's heat-map ``bincount`` (``_Sim.run_chunk``).

    Parameters
    ----------
    pages : numpy.ndarray of uint32
    times : numpy.ndarray of int64
        As long as ``pages``, ``>= 0``.
    heat_tj, heat_pp, heat_np : int
        Jiffies per row, pages per column, columns per row; each ``>= 1``,
        and every ``page // heat_pp < heat_np``.
    out : numpy.ndarray of int64
        The map, row-major, updated in place; every index must be below its length.

    Examples
    --------
    >>> out = np.zeros(6, np.int64)
    >>> heat_add(np.array([0, 5, 2], np.uint32), np.array([0, 0, 4], np.int64), 3, 2, 3, out)
    >>> out.reshape(2, 3).tolist()
    [[1, 0, 1], [0, 1, 0]]
    """
    pa = _array(pages, "pages", _U32)
    ta = _array(times, "times", _I64)
    if ta.shape[0] != pa.shape[0]:
        raise ValueError(f"times has length {ta.shape[0]}, pages has {pa.shape[0]}")
    tj = _int(heat_tj, "heat_tj", 1, I64_MAX)
    pp = _int(heat_pp, "heat_pp", 1, I64_MAX)
    hn = _int(heat_np, "heat_np", 1, I64_MAX)
    oa = _out_array(out, "out")
    if checked:  # False: the replay's own stream (the kernel skips a cell out of range)
        _check_times(ta)
    cdef const uint32_t[::1] p = pa
    cdef const int64_t[::1] t = ta
    cdef int64_t[::1] o = oa
    cdef Py_ssize_t n = p.shape[0], i
    cdef uint64_t nout = o.shape[0], lo = 1, hi = 0, ti, base = 0, idx, tjv = tj, hnv = hn, ppv = pp
    cdef int shift = -1
    if n and checked:
        pmax = int(pa.max())
        tmax = int(ta.max())
        if pmax // pp >= hn:
            raise ValueError(f"pages: page {pmax} // heat_pp = {pmax // pp} is not below heat_np = {hn}")
        if (tmax // tj) * hn + pmax // pp >= nout:
            raise ValueError(f"out has {nout} cells, times reach {tmax}: row {tmax // tj}")
    if pp & (pp - 1) == 0:
        shift = pp.bit_length() - 1
    with nogil:
        for i in range(n):
            ti = <uint64_t>t[i]
            if ti < lo or ti >= hi:
                idx = ti // tjv
                lo = idx * tjv
                hi = lo + tjv
                base = idx * hnv
            if shift >= 0:
                idx = base + (p[i] >> shift)
            else:
                idx = base + p[i] // ppv
            if idx < nout:
                o[idx] += 1


cdef object _inout(object a, str name, object dtype):
    """``a``: a writable C-contiguous 1-D array of exactly ``dtype``, updated in place."""
    if not isinstance(a, np.ndarray) or a.dtype != dtype:
        raise TypeError(f"{name} must be a numpy array of {dtype.name}")
    if a.ndim != 1 or not a.flags.c_contiguous or not a.flags.writeable:
        raise ValueError(f"{name} must be a writable 1-D C-contiguous array")
    return a


def report_nids(pages, times, nids, rpages, rtimes, rsrcs, last, out):
    """The accessing node of each report: that of its page's last access at or before its time.

    The replay's multi-node machine (``pghot.sim.engine``): the sources see
    pages and times only, so a report's ``nid`` is filled in afterwards: for
    every report that is not a page-table scan's (those report -1, as
    klruscand does), ``out[r] = last[rpages[r]]`` once every access up to
    ``rtimes[r]`` has set ``last[page] = nid``; the accesses after the last
    report set ``last`` too (it carries over to the next call).  A
    hardware-hint sample or a hint fault is made by an access at the
    report's time, so this is the node of that access, unless the page is
    accessed from two nodes within that jiffy (then the later one's).
    ``pghot.model.sim.report_nids`` is the specification.

    Parameters
    ----------
    pages, times : numpy.ndarray of uint32, int64
        The accesses of the stretch, in time order (the replay's stream).
    nids : numpy.ndarray of int16
        Each access's node (-1: unknown).
    rpages, rtimes, rsrcs : numpy.ndarray of uint32, int64, int8
        The reports, in time order.
    last : numpy.ndarray of int16
        Per logical page, the node of its last access (updated in place).
    out : numpy.ndarray of int32
        The reports' nids, written in place for the reports that are not scans.

    Examples
    --------
    >>> last = np.full(4, -1, np.int16)
    >>> out = np.zeros(3, np.int32)
    >>> report_nids(np.array([1, 2, 1], np.uint32), np.array([0, 1, 2], np.int64),
    ...             np.array([3, 0, 1], np.int16), np.array([1, 2, 1], np.uint32),
    ...             np.array([0, 1, 2], np.int64), np.array([2, 1, 2], np.int8), last, out)
    >>> out.tolist(), last.tolist()
    ([3, 0, 1], [-1, 1, 0, -1])
    """
    pa = _array(pages, "pages", _U32)
    ta = _array(times, "times", _I64)
    na = _array(nids, "nids", np.dtype(np.int16))
    rpa = _array(rpages, "rpages", _U32)
    rta = _array(rtimes, "rtimes", _I64)
    rsa = _array(rsrcs, "rsrcs", np.dtype(np.int8))
    la = _inout(last, "last", np.dtype(np.int16))
    oa = _inout(out, "out", np.dtype(np.int32))
    if ta.shape[0] != pa.shape[0] or na.shape[0] != pa.shape[0]:
        raise ValueError("pages, times, nids: one value per access")
    if rta.shape[0] != rpa.shape[0] or rsa.shape[0] != rpa.shape[0] or oa.shape[0] != rpa.shape[0]:
        raise ValueError("rpages, rtimes, rsrcs, out: one value per report")
    npg = la.shape[0]
    if pa.shape[0] and int(pa.max()) >= npg:
        raise ValueError(f"pages: a page is not below len(last) = {npg}")
    if rpa.shape[0] and int(rpa.max()) >= npg:
        raise ValueError(f"rpages: a page is not below len(last) = {npg}")
    cdef const uint32_t[::1] p = pa
    cdef const int64_t[::1] t = ta
    cdef const short[::1] nd = na
    cdef const uint32_t[::1] rp = rpa
    cdef const int64_t[::1] rt = rta
    cdef const signed char[::1] rs = rsa
    cdef short[::1] lv = la
    cdef int32_t[::1] ov = oa
    cdef Py_ssize_t n = p.shape[0], nr = rp.shape[0], i = 0, r
    with nogil:
        for r in range(nr):
            while i < n and t[i] <= rt[r]:
                lv[p[i]] = nd[i]
                i += 1
            if rs[r] != 1:  # SRC_PGTABLE_SCAN
                ov[r] = lv[rp[r]]
        while i < n:
            lv[p[i]] = nd[i]
            i += 1
