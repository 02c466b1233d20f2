# The "pfn-array" store: the design of pghot v3 and later (SEMANTICS.md
# section 3) behind the API of pghot._core.Tracker.  The specification is
# the pure-Python model python/pghot/reference_pfnarray.py; read its module
# docstring for the semantics, this block for the data and the concurrency.
#
# Data: `words` holds one record word per lower-tier PFN: u32 in precise
# mode, u8 in default mode.  The lower-tier nodes are laid out one after the
# other by start PFN (`nodes.bit[k]` is node k's first word), and that index is
# the scan order.  A zero word means "no record".  Word layout, low bits
# first:
#     precise  freq:3 | target nid:10 | time:14 | (4 bits zero) | ready:1
#     default  freq:2 | time:5 | ready:1          (target: the default node)
# where time = (jiffies >> unit_shift) & tmask, unit_shift 0 or 7.  Each node
# is cut into sections of 2**sec_shift PFNs from its first PFN (`nsec0[k]`
# is node k's first section; `sec_first[j]` the first word of section j,
# `sec_first[nsec]` = npfn; `sec_pfn[j]` its first PFN) with one byte `hot[j]`
# per section.  The node ranges, targets and "not movable" bits (one per word)
# are nodes.pxd's, shared with the other stores.
#
# Invariants (checked by PfnArrayTracker.check):
#   - a non-zero word has freq >= 1, a target that is a top-tier node (the
#     default node in default mode), reserved bits zero, and its ready bit
#     set iff freq >= threshold;
#   - every ready word lies in a section whose hot flag is set;
#   - when no batch call runs: created - extracted = non-zero words, and
#     queued[q] = ready words targeting node qnid[q].
#
# Concurrency: no lock.  A record is updated by a compare-and-swap loop on
# its word, so concurrent accesses to one PFN all count and an extraction
# (a CAS from the ready value to 0) reads every ready record at most once.
# The hot flags follow the protocol of pghot_cas.h: a recorder sets the flag
# after the CAS that made a record ready; the scanner clears a flag before it
# scans the section from its start and sets it again if a ready record is
# left, so a section with a ready record never stays unflagged.  Counters are
# tallied per call and added once per call (relaxed atomics), so len(),
# queued() and stats() are exact whenever no batch call is running; the scan
# cursors are relaxed too: two concurrent extractions of one node may scan
# the same range, each record still goes to one of them; and an extraction
# may pass over a section whose flag another one has just cleared, until
# that one sets it again for the records it left.
#
# Errors: everything is validated with the GIL held before any state changes;
# the kernels below are `noexcept nogil` and cannot fail.

cimport cython
from libc.stdlib cimport calloc, free
from libc.string cimport memset

from defs cimport (uint8_t, uint32_t, uint64_t, int32_t, int64_t, pghot_gate_t,
                   pghot_gate_enter, pghot_gate_leave, pghot_gate_close, pghot_gate_open,
                   pghot_gate_idle,
                   pghot_load_u64, pghot_store_u64, pghot_add_u64, pghot_sub_u64)
from nodes cimport (nodemap_t, nodemap_init, nodemap_free, nodemap_index, nodemap_bit,
                    nodemap_unmovable_bit, nodemap_target, nodemap_queue, nodemap_set_queue,
                    nodemap_targets, nodemap_set_movable_all, nodemap_nbytes,
                    sorted_floor)
from args cimport _int_arg, _pfn_arg, _check_range

cdef extern from "pghot_cas.h" nogil:
    uint8_t pghot_load_sc_u8(const uint8_t *p)
    uint32_t pghot_load_sc_u32(const uint32_t *p)
    void pghot_store_sc_u8(uint8_t *p, uint8_t v)
    uint8_t pghot_xchg_sc_u8(uint8_t *p, uint8_t v)
    bint pghot_cas_u8(uint8_t *p, uint8_t *expected, uint8_t desired)
    bint pghot_cas_u32(uint32_t *p, uint32_t *expected, uint32_t desired)

import numpy as np

from pghot._core import _batch_arrays, _fork_safe, _movable_pfns
from pghot._types import RECORD_DTYPE, Outcome, Record

cdef enum:
    O_RECORDED = 0
    O_TOPTIER = 1
    O_NOT_MOVABLE = 2
    NSOURCES = 3

cdef tuple _OUTCOMES = tuple(Outcome)
cdef int64_t _I64_MAX = 0x7FFFFFFFFFFFFFFF

# mode: (word bytes, freq bits, nid bits, time bits, unit shift, window ms)
_MODES = {
    "precise": (4, 3, 10, 14, 0, 5000),
    "default": (1, 2, 0, 5, 7, 3000),
}

_CHECK_MESSAGES = (
    "",
    "pfn {0}: word {1:#x} has frequency 0",
    "pfn {0}: word {1:#x} has reserved bits set",
    "pfn {0}: word {1:#x} targets node {2}, which it may not",
    "pfn {0}: word {1:#x} has a ready bit that disagrees with its frequency {2}",
    "pfn {0} is ready but its section {1} has no hot flag",
    "{0} PFNs have a record, but created - extracted = {1}",
    "node {0} has {1} ready records, its counter says {2}",
    "{0} accesses counted, their outcomes add up to {1}",
)


ctypedef fused word_t:
    uint8_t
    uint32_t

# Field positions of a mode's record word.
ctypedef struct layout_t:
    uint32_t fmax          # frequency: bits [0, freq_bits), saturates here
    uint32_t nshift        # target nid: (w >> nshift) & nmask; nmask 0 when
    uint32_t nmask         # the mode stores none (default mode)
    uint32_t tshift        # time: (w >> tshift) & tmask
    uint32_t tmask
    uint32_t ready         # the ready bit (the word's top bit)
    uint32_t reserved      # bits that must stay zero
    uint32_t unit_shift    # the time field counts jiffies >> unit_shift
    uint32_t thr           # frequency at which a record becomes ready
    uint32_t window        # in time units
    uint32_t default_nid

ctypedef struct store_t:
    layout_t L
    void *words
    uint64_t npfn
    # sections
    uint8_t *hot
    uint64_t *sec_first    # nsec + 1 entries
    uint64_t *sec_pfn
    uint64_t nsec
    uint32_t sec_shift
    # nodes, sorted by start PFN (memoryless nodes left out); nodes.bit[k] is
    # a lower-tier node's first word (its bits and its words line up)
    nodemap_t nodes
    uint64_t *nsec0        # by node index, lower tier: first section
    # node ids
    int32_t nq
    int32_t *qnid          # by index: top-tier node id
    uint64_t *cursor       # by index: where the node's next scan starts
    uint64_t *queued       # by index: ready records (two's complement sums)
    # event counters
    uint64_t src[NSOURCES]
    uint64_t out[3]
    uint64_t created
    uint64_t readied
    uint64_t extracted
    uint64_t sec_scanned
    uint64_t sec_skipped
    uint64_t pfns_scanned
    pghot_gate_t gate      # calls running without the GIL; closed by fork

# One call's counts, added to the store's counters when the call ends.
ctypedef struct tally_t:
    uint64_t src[NSOURCES]
    uint64_t out[3]
    uint64_t created
    uint64_t readied
    uint64_t extracted
    uint64_t sec_scanned
    uint64_t sec_skipped
    uint64_t pfns_scanned
    int64_t *qdelta        # by node index


cdef inline bint _is_bool(v):
    return isinstance(v, (bool, np.bool_))


# --------------------------------------------------------------------------
# Kernels: no Python object, no failure.

cdef inline uint32_t _load(word_t *p) noexcept nogil:
    if word_t is uint8_t:
        return pghot_load_sc_u8(p)
    else:
        return pghot_load_sc_u32(p)


cdef inline bint _cas(word_t *p, word_t *expected, word_t desired) noexcept nogil:
    if word_t is uint8_t:
        return pghot_cas_u8(p, expected, desired)
    else:
        return pghot_cas_u32(p, expected, desired)


cdef inline uint32_t _target_of(const layout_t *L, uint32_t w) noexcept nogil:
    return (w >> L.nshift) & L.nmask if L.nmask else L.default_nid


# O(log sections): the section holding word index i < npfn.
cdef inline uint64_t _section_at(const store_t *s, uint64_t i) noexcept nogil:
    return <uint64_t>sorted_floor(s.sec_first, <Py_ssize_t>s.nsec, i)


# O(1) expected (a CAS retry per concurrent writer): one validated access.
cdef int _record(store_t *s, word_t *words, uint64_t pfn, int64_t nid,
                 uint64_t now, tally_t *t) noexcept nogil:
    cdef const layout_t *L = &s.L
    cdef int32_t k = nodemap_index(&s.nodes, pfn)
    cdef uint64_t i, sec
    if k < 0:
        return O_NOT_MOVABLE
    if s.nodes.top[k]:
        return O_TOPTIER
    i = nodemap_bit(&s.nodes, k, pfn)             # the PFN's word, and its movable bit
    if nodemap_unmovable_bit(&s.nodes, i):
        return O_NOT_MOVABLE

    cdef uint32_t tgt = L.default_nid if nid < 0 or L.nmask == 0 else <uint32_t>nid
    cdef uint32_t cur = <uint32_t>(now >> L.unit_shift) & L.tmask
    cdef uint32_t fixed = (tgt & L.nmask) << L.nshift | cur << L.tshift
    cdef word_t old = <word_t>_load(&words[i])
    cdef uint32_t ow, nw, freq, otgt
    while True:
        ow = old
        freq = ow & L.fmax                     # 0 for a zero word: freq becomes 1
        if ((cur - ((ow >> L.tshift) & L.tmask)) & L.tmask) > L.window:
            freq = 1
        elif freq < L.fmax:
            freq += 1
        nw = fixed | freq
        if freq >= L.thr:
            nw |= L.ready
        if _cas(&words[i], &old, <word_t>nw):
            break

    if ow == 0:
        t.created += 1
    otgt = _target_of(L, ow)
    if nw & L.ready:
        if not (ow & L.ready):
            t.readied += 1
            t.qdelta[nodemap_queue(&s.nodes, tgt)] += 1
            sec = s.nsec0[k] + ((i - s.nodes.bit[k]) >> s.sec_shift)
            if pghot_load_sc_u8(&s.hot[sec]) == 0:
                pghot_store_sc_u8(&s.hot[sec], 1)
        elif otgt != tgt:
            t.qdelta[nodemap_queue(&s.nodes, otgt)] -= 1
            t.qdelta[nodemap_queue(&s.nodes, tgt)] += 1
    elif ow & L.ready:
        t.qdelta[nodemap_queue(&s.nodes, otgt)] -= 1
    return O_RECORDED


# O(n): a validated batch; scalars broadcast through the masks nm, sm, tm
# (0 for a scalar, all ones for an array).
cdef void _record_batch(store_t *s, word_t *words, const uint64_t *p,
                        const int64_t *nv, const int64_t *sv, const int64_t *tv,
                        Py_ssize_t n, Py_ssize_t nm, Py_ssize_t sm, Py_ssize_t tm,
                        tally_t *t) noexcept nogil:
    # (Prefetching the word of access i + 8, as the core does for its table,
    # gained nothing even at 16M PFNs: the locked CAS dominates.)
    cdef Py_ssize_t i
    for i in range(n):
        t.src[sv[i & sm]] += 1
        t.out[_record(s, words, p[i], nv[i & nm], <uint64_t>tv[i & tm], t)] += 1


# O(PFNs of the flagged sections visited): kmigrated's walk for node index q.
# Reads and resets up to `want` ready records targeting it with freq >= thr,
# in scan order from the node's cursor, at most one cycle; see
# reference_pfnarray.py ("Extraction") for the rules on the hot flags.
cdef uint64_t _extract(store_t *s, word_t *words, int32_t q, uint64_t want,
                       uint32_t thr, uint64_t *out_pfn, uint32_t *out_word,
                       tally_t *t) noexcept nogil:
    cdef const layout_t *L = &s.L
    cdef uint64_t total = s.npfn, scanned = 0, n = 0
    cdef uint64_t pos, sec, first, end, stop, i
    cdef uint32_t tgt = <uint32_t>s.qnid[q], w
    cdef word_t old
    cdef bint whole, left
    if total == 0 or want == 0:
        return 0
    pos = pghot_load_u64(&s.cursor[q])
    if pos >= total:
        pos = 0
    sec = _section_at(s, pos)
    while scanned < total and n < want:
        first = s.sec_first[sec]
        end = s.sec_first[sec + 1]
        if pghot_load_sc_u8(&s.hot[sec]) == 0:
            t.sec_skipped += 1             # no ready record here
            scanned += end - pos
            pos = end
        else:
            whole = pos == first
            if whole:
                pghot_xchg_sc_u8(&s.hot[sec], 0)
            t.sec_scanned += 1
            stop = end if end - pos <= total - scanned else pos + (total - scanned)
            left = False
            i = pos
            while i < stop and n < want:
                old = <word_t>_load(&words[i])
                while old & L.ready:
                    w = old
                    if _target_of(L, w) != tgt or (w & L.fmax) < thr:
                        left = True
                        break
                    if _cas(&words[i], &old, 0):   # reading resets the record
                        out_pfn[n] = s.sec_pfn[sec] + (i - first)
                        out_word[n] = w
                        n += 1
                        break
                i += 1
            t.pfns_scanned += i - pos
            scanned += i - pos
            if whole and (left or i < end):
                pghot_store_sc_u8(&s.hot[sec], 1)
            pos = i
        if pos == end:
            sec += 1
            if sec == s.nsec:
                sec = 0
                pos = 0
    pghot_store_u64(&s.cursor[q], pos)
    t.extracted += n
    t.qdelta[q] -= <int64_t>n
    return n


# Add a call's tally to the store's counters.
cdef void _flush(store_t *s, tally_t *t) noexcept nogil:
    cdef int32_t j
    for j in range(NSOURCES):
        if t.src[j]:
            pghot_add_u64(&s.src[j], t.src[j])
    for j in range(3):
        if t.out[j]:
            pghot_add_u64(&s.out[j], t.out[j])
    if t.created:
        pghot_add_u64(&s.created, t.created)
    if t.readied:
        pghot_add_u64(&s.readied, t.readied)
    if t.extracted:
        pghot_add_u64(&s.extracted, t.extracted)
    if t.sec_scanned:
        pghot_add_u64(&s.sec_scanned, t.sec_scanned)
    if t.sec_skipped:
        pghot_add_u64(&s.sec_skipped, t.sec_skipped)
    if t.pfns_scanned:
        pghot_add_u64(&s.pfns_scanned, t.pfns_scanned)
    for j in range(s.nq):
        if t.qdelta[j]:
            pghot_add_u64(&s.queued[j], <uint64_t>t.qdelta[j])


# O(npfn): every invariant; 0 or a _CHECK_MESSAGES code with values in a.
# `ready` (nq entries, zeroed) receives the ready records per node index.
cdef int _check_words(const store_t *s, word_t *words, bint quiescent,
                      uint64_t *ready, uint64_t *a) noexcept nogil:
    cdef const layout_t *L = &s.L
    cdef uint64_t sec, i, nrec = 0
    cdef uint32_t w, tgt, freq
    for sec in range(s.nsec):
        for i in range(s.sec_first[sec], s.sec_first[sec + 1]):
            w = _load(&words[i])
            if w == 0:
                continue
            nrec += 1
            a[0] = s.sec_pfn[sec] + (i - s.sec_first[sec])
            a[1] = w
            freq = w & L.fmax
            tgt = _target_of(L, w)
            if freq == 0:
                return 1
            if w & L.reserved:
                return 2
            a[2] = tgt
            if (nodemap_queue(&s.nodes, tgt) < 0
                    or (L.nmask == 0 and tgt != L.default_nid)):
                return 3
            a[2] = freq
            if (freq >= L.thr) != ((w & L.ready) != 0):
                return 4
            if not (w & L.ready):
                continue
            ready[nodemap_queue(&s.nodes, tgt)] += 1
            if quiescent and pghot_load_sc_u8(&s.hot[sec]) == 0:
                a[1] = sec
                return 5
    if not quiescent:
        return 0
    a[0] = nrec
    a[1] = pghot_load_u64(&s.created) - pghot_load_u64(&s.extracted)
    if a[0] != a[1]:
        return 6
    cdef int32_t q
    for q in range(s.nq):
        a[0] = s.qnid[q]
        a[1] = ready[q]
        a[2] = pghot_load_u64(&s.queued[q])
        if a[1] != a[2]:
            return 7
    a[0] = 0
    for q in range(NSOURCES):
        a[0] += pghot_load_u64(&s.src[q])
    a[1] = s.out[0] + s.out[1] + s.out[2]
    if a[0] != a[1]:
        return 8
    return 0


# --------------------------------------------------------------------------

@cython.final
cdef class PfnArrayTracker:
    """Hot page tracker of pghot v3+: one record word per lower-tier PFN.

    Same API as :class:`pghot.Tracker`; the semantics are specified by
    :class:`pghot.reference_pfnarray.PfnArrayReference` (read its module
    docstring).  A record becomes *ready* at ``threshold`` instead of
    entering a queue, and :meth:`extract_batch` scans for ready records,
    skipping sections without a hot flag.

    Parameters
    ----------
    topology : pghot.Topology
        Nodes and PFN ranges; every lower-tier PFN has a word.
    mode : {"precise", "default"}
        ``"precise"``: u32 words (frequency 3 bits, target nid 10, time 14
        in jiffies, ready bit).  ``"default"``: u8 words (frequency 2 bits,
        time 5 in buckets of 128 jiffies, ready bit; the target is always
        the topology's default node).
    hz : int, default 1000
        Jiffies per second of the ``now`` values passed in.
    freq_window_ms : int, optional
        Window of the frequency count; default 5000 (precise) or 3000
        (default).  Must be below the clock span (16384 jiffies, or 32
        buckets).
    threshold : int, default 2
        Frequency at which a record becomes ready (1..7, or 1..3).
    scan_section_pages : int, default 32768
        PFNs per section of the scan's hot flags (a power of two).
    freq_bits, nid_bits, time_bits, capacity, queue_capacity, queue, evict_stale
        Arguments of :class:`pghot.Tracker` that this store fixes: accepted
        only as None (``evict_stale``: False) or the value the store has
        anyway; anything else is a ValueError naming the argument.

    Examples
    --------
    >>> import pghot
    >>> from pghot._pfnarray import PfnArrayTracker
    >>> t = PfnArrayTracker(pghot.Topology.two_tier(1024, 4096))
    >>> t.record_access(1500, -1, pghot.Source.HW_HINTS, 10)
    <Outcome.RECORDED: 0>
    >>> t.record_access(1500, -1, pghot.Source.HW_HINTS, 20)
    <Outcome.RECORDED: 0>
    >>> t.extract_batch(0).tolist()
    [1500]
    >>> t.memory_bytes() // t.capacity
    4
    """

    cdef store_t s
    cdef int64_t *scratch          # qdelta of single calls (the GIL serialises them)
    cdef uint32_t word_bytes
    cdef uint32_t fbits, nbits, tbits
    cdef object _topology
    cdef object __weakref__       # for the at-fork registry (pghot._core)
    cdef bint _inited             # __init__ ran to its end: every part is there
    cdef str _mode
    cdef int64_t _hz
    cdef int64_t _window_ms
    cdef int64_t _window_jiffies
    cdef int64_t _section_pages

    def __cinit__(self, *args, **kwargs):
        self.s.words = NULL
        self.s.hot = NULL
        self.s.sec_first = NULL
        self.s.sec_pfn = NULL
        self.s.nsec0 = NULL
        memset(&self.s.nodes, 0, sizeof(nodemap_t))
        self.s.qnid = NULL
        self.s.cursor = NULL
        self.s.queued = NULL
        self.scratch = NULL

    def __init__(self, topology, *, mode="precise", hz=1000, freq_window_ms=None,
                 threshold=2, scan_section_pages=32768, freq_bits=None, nid_bits=None,
                 time_bits=None, capacity=None, queue_capacity=None, queue=None,
                 evict_stale=False):
        from pghot.topology import Topology
        if self.s.words != NULL:
            raise RuntimeError("PfnArrayTracker is already initialised")
        if not isinstance(topology, Topology):
            raise TypeError(f"topology must be a pghot.Topology, not {type(topology).__name__}")
        if not isinstance(mode, str):
            raise TypeError(f"mode must be a str, not {type(mode).__name__}")
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {sorted(_MODES)}, got {mode!r}")
        wbytes, fb, nb, tb, ushift, default_ms = _MODES[mode]
        cdef int64_t c_hz = _int_arg(hz, "hz", 1, 1_000_000)
        cdef int64_t wms = _int_arg(default_ms if freq_window_ms is None else freq_window_ms,
                                    "freq_window_ms", 0, 1 << 40)
        cdef int64_t thr = _int_arg(threshold, "threshold", 1, (1 << fb) - 1)
        cdef int64_t sect = _int_arg(scan_section_pages, "scan_section_pages", 1, 1 << 30)
        if sect & (sect - 1):
            raise ValueError(f"scan_section_pages must be a power of two, got {sect}")
        win_j = -(-int(wms) * int(c_hz) // 1000)     # msecs_to_jiffies rounds up
        win = -(-win_j // (1 << ushift))              # and so do the time units
        if win >= (1 << tb):
            raise ValueError(
                f"freq_window_ms={wms} is {win} time units of {1 << ushift} jiffies at "
                f"hz={c_hz}, not below the {mode}-mode clock span of {1 << tb} units")
        for name, v, fixed in (("freq_bits", freq_bits, fb), ("nid_bits", nid_bits, nb),
                               ("time_bits", time_bits, tb)):
            if v is not None and _int_arg(v, name, -_I64_MAX, _I64_MAX) != fixed:
                raise ValueError(f"{name} is fixed at {fixed} in {mode} mode, got {v}")
        lower = int(topology.lower_pages())
        for name, v in (("capacity", capacity), ("queue_capacity", queue_capacity)):
            if v is not None and _int_arg(v, name, -_I64_MAX, _I64_MAX) != lower:
                raise ValueError(f"{name} is every lower-tier PFN ({lower}) in the "
                                 f"pfn-array store, got {v}")
        if queue is not None:
            raise ValueError(f"queue does not apply to the pfn-array store, got {queue!r}")
        if not _is_bool(evict_stale):
            raise TypeError(f"evict_stale must be a bool, not {type(evict_stale).__name__}")
        if evict_stale:
            raise ValueError("evict_stale=True does not apply: every lower-tier PFN has a word")
        max_nid = max(n.nid for n in topology.nodes)
        if nb and max_nid >= (1 << nb):
            raise ValueError(f"topology: node id {max_nid} does not fit the {nb}-bit nid field")

        self._topology = topology
        self._mode = mode
        self._hz = c_hz
        self._window_ms = wms
        self._window_jiffies = win_j
        self._section_pages = sect
        self.word_bytes = wbytes
        self.fbits = fb
        self.nbits = nb
        self.tbits = tb
        cdef layout_t *L = &self.s.L
        L.fmax = (1 << fb) - 1
        L.nshift = fb if nb else 0
        L.nmask = (1 << nb) - 1
        L.tshift = fb + nb
        L.tmask = (1 << tb) - 1
        L.ready = 1 << (8 * wbytes - 1)
        L.reserved = ((1 << (8 * wbytes - 1)) - 1) & ~((1 << (fb + nb + tb)) - 1)
        L.unit_shift = ushift
        L.thr = thr
        L.window = win
        L.default_nid = topology.default_node
        self._init_nodes(topology.arrays(), sect)
        self._inited = True
        _fork_safe(self)

    cdef _init_nodes(self, dict arrs, int64_t sect):
        cdef store_t *s = &self.s
        cdef int32_t i
        cdef uint64_t j, index = 0, nsec = 0, start, size
        nodemap_init(&s.nodes, arrs, s.L.default_nid)
        tops_nids = sorted(int(n) for n in np.asarray(arrs["nid"])[np.asarray(arrs["toptier"]) > 0])
        s.nq = len(tops_nids)
        s.nsec0 = <uint64_t *>calloc(s.nodes.nnodes or 1, sizeof(uint64_t))
        s.qnid = <int32_t *>calloc(s.nq, sizeof(int32_t))
        s.cursor = <uint64_t *>calloc(s.nq, sizeof(uint64_t))
        s.queued = <uint64_t *>calloc(s.nq, sizeof(uint64_t))
        self.scratch = <int64_t *>calloc(s.nq, sizeof(int64_t))
        if (s.nsec0 == NULL or s.qnid == NULL
                or s.cursor == NULL or s.queued == NULL or self.scratch == NULL):
            raise MemoryError()
        for i in range(s.nq):
            s.qnid[i] = tops_nids[i]
            nodemap_set_queue(&s.nodes, tops_nids[i], i)
        s.sec_shift = 0
        while (1 << s.sec_shift) < sect:
            s.sec_shift += 1
        for i in range(s.nodes.nnodes):
            if not s.nodes.top[i]:
                size = s.nodes.end[i] - s.nodes.start[i]
                s.nsec0[i] = nsec
                index += size
                nsec += (size + <uint64_t>sect - 1) >> s.sec_shift
        s.npfn = index
        s.nsec = nsec
        s.words = calloc(index or 1, self.word_bytes)   # zero pages: mapped on first touch
        s.hot = <uint8_t *>calloc(nsec or 1, sizeof(uint8_t))
        s.sec_first = <uint64_t *>calloc(nsec + 1, sizeof(uint64_t))
        s.sec_pfn = <uint64_t *>calloc(nsec or 1, sizeof(uint64_t))
        if (s.words == NULL or s.hot == NULL
                or s.sec_first == NULL or s.sec_pfn == NULL):
            raise MemoryError(f"cannot allocate the words of {index} lower-tier PFNs")
        nsec = 0
        for i in range(s.nodes.nnodes):
            if s.nodes.top[i]:
                continue
            start = s.nodes.start[i]
            size = s.nodes.end[i] - start
            j = 0
            while j < size:
                s.sec_first[nsec] = s.nodes.bit[i] + j
                s.sec_pfn[nsec] = start + j
                nsec += 1
                j += <uint64_t>sect
        s.sec_first[nsec] = index

    def __dealloc__(self):
        free(self.s.words)
        free(self.s.hot)
        free(self.s.sec_first)
        free(self.s.sec_pfn)
        free(self.s.nsec0)
        nodemap_free(&self.s.nodes)
        free(self.s.qnid)
        free(self.s.cursor)
        free(self.s.queued)
        free(self.scratch)

    # ------------------------------------------------------------ helpers

    cdef inline int _ready(self) except -1:
        if not self._inited:
            raise RuntimeError("PfnArrayTracker.__init__ was not called, or failed")
        return 0

    # An accessing node: its promotion target, or -1 for NUMA_NO_NODE.
    cdef inline int64_t _target_arg(self, object nid) except? -0x7FFFFFFFFFFFFFFF:
        cdef int64_t v = _int_arg(nid, "nid", -1, 0x7FFFFFFF)
        if v < 0:
            return -1
        if nodemap_target(&self.s.nodes, v) < 0:
            raise ValueError(f"nid {v} is not a node of the topology")
        return nodemap_target(&self.s.nodes, v)

    cdef inline int32_t _top_arg(self, object nid) except -1:
        """Node index of a top-tier node id."""
        cdef int64_t v = _int_arg(nid, "nid", 0, 0x7FFFFFFF)
        if nodemap_queue(&self.s.nodes, v) < 0:
            raise ValueError(f"nid {v} is not a top-tier node of the topology")
        return nodemap_queue(&self.s.nodes, v)

    cdef inline tally_t _tally(self, int64_t *qdelta) noexcept:
        cdef tally_t t
        memset(&t, 0, sizeof(t))
        memset(qdelta, 0, self.s.nq * sizeof(int64_t))
        t.qdelta = qdelta
        return t

    cdef inline uint32_t _word_at(self, uint64_t i) noexcept nogil:
        if self.word_bytes == 1:
            return _load(&(<uint8_t *>self.s.words)[i])
        return _load(&(<uint32_t *>self.s.words)[i])

    # ------------------------------------------------------------ public API

    def record_access(self, pfn, nid, src, now):
        """Report one access to a PFN (SEMANTICS.md section 3's update rule).

        Parameters
        ----------
        pfn : int
            Page frame number accessed.
        nid : int
            Accessing node, or ``pghot.NUMA_NO_NODE`` (-1) when unknown.
        src : int or pghot.Source
            Temperature source.
        now : int
            Access time in jiffies (>= 0).

        Returns
        -------
        pghot.Outcome
            RECORDED, TOPTIER or NOT_MOVABLE; never TABLE_FULL.

        Examples
        --------
        >>> import pghot
        >>> from pghot._pfnarray import PfnArrayTracker
        >>> t = PfnArrayTracker(pghot.Topology.two_tier(1024, 4096), mode="default")
        >>> t.record_access(10, 0, pghot.Source.HINT_FAULT, 0)
        <Outcome.TOPTIER: 1>
        >>> t.record_access(2000, 0, pghot.Source.HINT_FAULT, 300)
        <Outcome.RECORDED: 0>
        >>> t.lookup(2000)  # time bucket 300 >> 7 = 2
        Record(pfn=2000, frequency=1, nid=0, last_update=2, queued=-1)
        """
        self._ready()
        cdef uint64_t c_pfn = _pfn_arg(pfn)
        cdef int64_t c_nid = self._target_arg(nid)
        cdef int64_t c_src = _int_arg(src, "src", 0, NSOURCES - 1)
        cdef int64_t c_now = _int_arg(now, "now", 0, _I64_MAX)
        cdef tally_t t = self._tally(self.scratch)
        cdef int o
        t.src[c_src] = 1
        if self.word_bytes == 1:
            o = _record(&self.s, <uint8_t *>self.s.words, c_pfn, c_nid, <uint64_t>c_now, &t)
        else:
            o = _record(&self.s, <uint32_t *>self.s.words, c_pfn, c_nid, <uint64_t>c_now, &t)
        t.out[o] = 1
        _flush(&self.s, &t)
        return _OUTCOMES[o]

    def record_accesses(self, pfns, nids, srcs, nows):
        """Report a batch of accesses, one per element; the loop runs without the GIL.

        Parameters
        ----------
        pfns : array_like of int
            PFNs, 1-D integer array.
        nids, srcs, nows : array_like of int, or int
            Accessing nodes, sources and times: arrays as long as ``pfns``,
            or scalars that apply to every access.

        Returns
        -------
        numpy.ndarray
            int64 counts indexed by :class:`pghot.Outcome`.

        Examples
        --------
        >>> import numpy as np, pghot
        >>> from pghot._pfnarray import PfnArrayTracker
        >>> t = PfnArrayTracker(pghot.Topology.two_tier(1024, 4096))
        >>> t.record_accesses(np.array([5, 2000, 2000]), -1, 0, np.array([1, 2, 3])).tolist()
        [2, 1, 0, 0]
        >>> t.queued(0)
        1
        """
        self._ready()
        pa, na, sa, ta, nm_, sm_, tm_ = _batch_arrays(pfns, nids, srcs, nows, 0x7FFFFFFF)
        cdef const uint64_t[::1] p = pa
        cdef int64_t[::1] nv = na
        cdef const int64_t[::1] sv = sa
        cdef const int64_t[::1] tv = ta
        cdef Py_ssize_t n = p.shape[0]
        cdef Py_ssize_t nm = nm_, sm = sm_, tm = tm_
        cdef Py_ssize_t i
        # the accessing nodes become promotion targets (the kernel's `nid`)
        i = nodemap_targets(&self.s.nodes, &nv[0], nv.shape[0])
        if i >= 0:
            raise ValueError(f"nids[{i}] = {nv[i]} is not a node of the topology")

        qd = np.zeros(max(self.s.nq, 1), dtype=np.int64)
        cdef int64_t[::1] qdv = qd
        cdef tally_t t = self._tally(&qdv[0])
        cdef bint small = self.word_bytes == 1
        if n == 0:
            return np.zeros(4, dtype=np.int64)
        pghot_gate_enter(&self.s.gate)
        with nogil:
            if small:
                _record_batch(&self.s, <uint8_t *>self.s.words, &p[0], &nv[0], &sv[0], &tv[0],
                              n, nm, sm, tm, &t)
            else:
                _record_batch(&self.s, <uint32_t *>self.s.words, &p[0], &nv[0], &sv[0], &tv[0],
                              n, nm, sm, tm, &t)
            _flush(&self.s, &t)
            pghot_gate_leave(&self.s.gate)   # last: after the counter flushes
        return np.array([t.out[0], t.out[1], t.out[2], 0], dtype=np.int64)

    def extract_batch(self, nid, max_count=1024, threshold=None, return_records=False):
        """Read and reset ready records targeting a top-tier node, in scan order.

        The scan continues from where the node's previous call stopped,
        skips sections without a hot flag, and stops after ``max_count``
        records, after as many as the node has ready (``queued(nid)``), or
        after one cycle.  Records come in PFN scan order, not hottest first:
        this store has no cheap "top N" (the design's known weakness).

        Parameters
        ----------
        nid : int
            Top-tier node whose ready records are read.
        max_count : int, default 1024
            At most this many records.
        threshold : int, optional
            Minimum frequency; default the tracker's.  A lower one adds
            nothing (only ready records are found); a higher one leaves the
            colder ready records ready.
        return_records : bool, default False
            Return a structured array (``pghot.RECORD_DTYPE``) instead of PFNs.

        Returns
        -------
        numpy.ndarray
            uint64 PFNs, or records as they were when read.

        Examples
        --------
        >>> import pghot
        >>> from pghot._pfnarray import PfnArrayTracker
        >>> t = PfnArrayTracker(pghot.Topology.two_tier(1024, 4096), threshold=1)
        >>> for now, pfn in enumerate([3000, 2000, 3000]):
        ...     _ = t.record_access(pfn, -1, 0, now)
        >>> rec = t.extract_batch(0, return_records=True)
        >>> rec["pfn"].tolist(), rec["frequency"].tolist()
        ([2000, 3000], [1, 2])
        >>> len(t)
        0
        """
        self._ready()
        cdef int32_t q = self._top_arg(nid)
        cdef int64_t c_max = _int_arg(max_count, "max_count", 0, _I64_MAX)
        cdef int64_t c_thr = self.s.L.thr if threshold is None else _int_arg(
            threshold, "threshold", 1, self.s.L.fmax)
        if not _is_bool(return_records):
            raise TypeError(f"return_records must be a bool, not {type(return_records).__name__}")
        cdef int64_t known = <int64_t>pghot_load_u64(&self.s.queued[q])
        cdef uint64_t want = <uint64_t>max(0, min(c_max, known))
        pfn_out = np.empty(want, dtype=np.uint64)
        word_out = np.empty(want, dtype=np.uint32)
        cdef uint64_t[::1] pv = pfn_out
        cdef uint32_t[::1] wv = word_out
        qd = np.zeros(max(self.s.nq, 1), dtype=np.int64)
        cdef int64_t[::1] qdv = qd
        cdef tally_t t = self._tally(&qdv[0])
        cdef uint64_t got = 0
        cdef bint small = self.word_bytes == 1
        if want:
            pghot_gate_enter(&self.s.gate)
            with nogil:
                if small:
                    got = _extract(&self.s, <uint8_t *>self.s.words, q, want,
                                   <uint32_t>c_thr, &pv[0], &wv[0], &t)
                else:
                    got = _extract(&self.s, <uint32_t *>self.s.words, q, want,
                                   <uint32_t>c_thr, &pv[0], &wv[0], &t)
                _flush(&self.s, &t)
                pghot_gate_leave(&self.s.gate)
        pfn_out = pfn_out[:got]
        if not return_records:
            return pfn_out
        w = word_out[:got]
        cdef layout_t *L = &self.s.L
        rec = np.empty(got, dtype=RECORD_DTYPE)
        rec["pfn"] = pfn_out
        rec["frequency"] = w & L.fmax
        rec["nid"] = (w >> L.nshift) & L.nmask if L.nmask else L.default_nid
        rec["last_update"] = (w >> L.tshift) & L.tmask
        return rec

    def lookup(self, pfn):
        """The record of a PFN, or None (inspecting does not reset it).

        ``queued`` is the target node when the record is ready, else -1;
        ``last_update`` is the time field (jiffies, or buckets of 128 jiffies
        in default mode).

        Examples
        --------
        >>> import pghot
        >>> from pghot._pfnarray import PfnArrayTracker
        >>> t = PfnArrayTracker(pghot.Topology.two_tier(1024, 4096))
        >>> _ = t.record_access(2000, -1, 0, 7)
        >>> t.lookup(2000)
        Record(pfn=2000, frequency=1, nid=0, last_update=7, queued=-1)
        >>> t.lookup(2001) is None
        True
        """
        self._ready()
        cdef uint64_t c_pfn = _pfn_arg(pfn)
        cdef int32_t k = nodemap_index(&self.s.nodes, c_pfn)
        if k < 0 or self.s.nodes.top[k]:
            return None
        cdef uint32_t w = self._word_at(nodemap_bit(&self.s.nodes, k, c_pfn))
        if w == 0:
            return None
        cdef layout_t *L = &self.s.L
        tgt = _target_of(L, w)
        return Record(int(c_pfn), w & L.fmax, tgt, (w >> L.tshift) & L.tmask,
                      tgt if w & L.ready else -1)

    def set_movable(self, pfns, flag):
        """Mark lower-tier PFNs movable (default) or not movable.

        Accesses to a PFN that is not movable are ignored
        (``Outcome.NOT_MOVABLE``); its word is kept.

        Examples
        --------
        >>> import pghot
        >>> from pghot._pfnarray import PfnArrayTracker
        >>> t = PfnArrayTracker(pghot.Topology.two_tier(1024, 4096))
        >>> t.set_movable([2000, 2001], False)
        >>> t.record_access(2000, -1, 0, 0)
        <Outcome.NOT_MOVABLE: 2>
        """
        self._ready()
        if not _is_bool(flag):
            raise TypeError(f"flag must be a bool, not {type(flag).__name__}")
        nodemap_set_movable_all(&self.s.nodes, _movable_pfns(pfns), bool(flag), &self.s.gate)

    def __len__(self):
        """PFNs with a record (a non-zero word); exact when no batch call runs."""
        self._ready()
        cdef int64_t n = <int64_t>(pghot_load_u64(&self.s.created)
                                   - pghot_load_u64(&self.s.extracted))
        return max(n, 0)

    def queued(self, nid):
        """Number of ready records targeting a top-tier node.

        Examples
        --------
        >>> import pghot
        >>> from pghot._pfnarray import PfnArrayTracker
        >>> PfnArrayTracker(pghot.Topology.two_tier(1024, 4096)).queued(0)
        0
        """
        self._ready()
        cdef int32_t q = self._top_arg(nid)
        return max(<int64_t>pghot_load_u64(&self.s.queued[q]), 0)

    def stats(self):
        """Event counters: the core's keys, then the scan's own.

        ``sections_scanned``/``sections_skipped`` count the sections the
        extraction scans entered/passed over for lack of a hot flag,
        ``pfns_scanned`` the words it read.  ``table_full``, ``queue_full``
        and ``evicted`` are always 0.

        Examples
        --------
        >>> import pghot
        >>> from pghot._pfnarray import PfnArrayTracker
        >>> t = PfnArrayTracker(pghot.Topology.two_tier(1024, 4096))
        >>> _ = t.record_access(2000, -1, pghot.Source.PGTABLE_SCAN, 0)
        >>> s = t.stats()
        >>> s["pghot_recorded_accesses"], s["pghot_recorded_pgtscans"], s["pghot_records_hash"]
        (1, 1, 1)
        """
        self._ready()
        cdef store_t *s = &self.s
        cdef int32_t i
        cdef int64_t queued = 0
        src = []
        for i in range(NSOURCES):
            src.append(pghot_load_u64(&s.src[i]))
        for i in range(s.nq):
            queued += <int64_t>pghot_load_u64(&s.queued[i])
        created = pghot_load_u64(&s.created)
        extracted = pghot_load_u64(&s.extracted)
        return {
            "pghot_recorded_accesses": sum(src),
            "pghot_recorded_hwhints": src[0],
            "pghot_recorded_pgtscans": src[1],
            "pghot_recorded_hintfaults": src[2],
            "pghot_records_hash": created,
            "pghot_records_heap": pghot_load_u64(&s.readied),
            "recorded": pghot_load_u64(&s.out[O_RECORDED]),
            "toptier": pghot_load_u64(&s.out[O_TOPTIER]),
            "not_movable": pghot_load_u64(&s.out[O_NOT_MOVABLE]),
            "table_full": 0,
            "queue_full": 0,
            "evicted": 0,
            "extracted": extracted,
            "sections_scanned": pghot_load_u64(&s.sec_scanned),
            "sections_skipped": pghot_load_u64(&s.sec_skipped),
            "pfns_scanned": pghot_load_u64(&s.pfns_scanned),
            "records": max(<int64_t>(created - extracted), 0),
            "queued": max(queued, 0),
        }

    def memory_bytes(self):
        """Bytes the tracker allocated: words, section tables, movable bitmap, node tables.

        Examples
        --------
        >>> import pghot
        >>> from pghot._pfnarray import PfnArrayTracker
        >>> t = PfnArrayTracker(pghot.Topology.two_tier(1 << 20, 1 << 20), mode="default")
        >>> round(t.memory_bytes() / t.capacity, 2)
        1.13
        """
        self._ready()
        cdef store_t *s = &self.s
        cdef size_t n = <size_t>(s.npfn or 1) * self.word_bytes
        n += <size_t>(s.nsec or 1) * (sizeof(uint8_t) + 2 * sizeof(uint64_t)) + sizeof(uint64_t)
        n += nodemap_nbytes(&s.nodes) + <size_t>(s.nodes.nnodes or 1) * sizeof(uint64_t)
        n += <size_t>s.nq * (sizeof(int32_t) + 3 * sizeof(uint64_t))
        return n

    def _fork_prepare(self):
        """Before ``os.fork()``: close the gate (pghot._core._fork_safe).

        The store has no locks (its words change by compare-and-swap), so a
        store with no call inside is all a child needs.
        """
        pghot_gate_close(&self.s.gate)

    def _fork_done(self):
        """After ``os.fork()``, in parent and child: open the gate again."""
        pghot_gate_open(&self.s.gate)

    def check(self):
        """Verify every invariant (module comment of _pfnarray.pyx).

        The per-word invariants always hold; the hot flags and the counters
        are compared only when no batch call runs (single calls keep the
        GIL, as this method does).

        Raises
        ------
        RuntimeError
            Naming the first violated invariant.

        Examples
        --------
        >>> import pghot
        >>> from pghot._pfnarray import PfnArrayTracker
        >>> PfnArrayTracker(pghot.Topology.two_tier(1024, 4096)).check()
        """
        self._ready()
        cdef uint64_t a[3]
        cdef int code
        cdef bint quiescent = pghot_gate_idle(&self.s.gate)
        ready = np.zeros(max(self.s.nq, 1), dtype=np.uint64)
        cdef uint64_t[::1] rv = ready
        a[0] = a[1] = a[2] = 0
        if self.word_bytes == 1:
            code = _check_words(&self.s, <uint8_t *>self.s.words, quiescent, &rv[0], a)
        else:
            code = _check_words(&self.s, <uint32_t *>self.s.words, quiescent, &rv[0], a)
        if code:
            raise RuntimeError("pghot invariant violated: "
                               + _CHECK_MESSAGES[code].format(a[0], a[1], a[2]))

    # ------------------------------------------------------------ properties

    @property
    def topology(self):
        """The :class:`pghot.Topology` the tracker was built with."""
        return self._topology

    @property
    def mode(self):
        """``"precise"`` (u32 words) or ``"default"`` (u8 words)."""
        return self._mode

    @property
    def hz(self):
        """Jiffies per second."""
        return self._hz

    @property
    def freq_window_ms(self):
        """Frequency window in milliseconds."""
        return self._window_ms

    @property
    def window_jiffies(self):
        """Frequency window in jiffies (rounded up)."""
        return self._window_jiffies

    @property
    def window_ticks(self):
        """Frequency window in units of the time field (rounded up)."""
        return self.s.L.window

    @property
    def time_unit_jiffies(self):
        """Jiffies per unit of the time field: 1 (precise) or 128 (default)."""
        return 1 << self.s.L.unit_shift

    @property
    def threshold(self):
        """Frequency at which a record becomes ready."""
        return self.s.L.thr

    @property
    def freq_bits(self):
        return self.fbits

    @property
    def nid_bits(self):
        return self.nbits

    @property
    def time_bits(self):
        return self.tbits

    @property
    def capacity(self):
        """Records the store holds at most: every lower-tier PFN."""
        return self.s.npfn

    @property
    def queue_capacity(self):
        """Ready records a node can have: every lower-tier PFN."""
        return self.s.npfn

    @property
    def evict_stale(self):
        return False

    @property
    def scan_section_pages(self):
        """PFNs per section of the scan's hot flags."""
        return self._section_pages

    def __reduce__(self):
        raise TypeError("PfnArrayTracker cannot be pickled or saved: only the "
                        "'hash' store writes snapshots")

    def __repr__(self):
        return (f"PfnArrayTracker(mode={self._mode!r}, records={len(self)}, "
                f"threshold={self.s.L.thr}, window_ticks={self.s.L.window})")
