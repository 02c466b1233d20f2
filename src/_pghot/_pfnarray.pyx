# The "pfn-array" store: the design of pghot v3 and later (SEMANTICS.md
# section 3) behind the tracker base's API (_base.pxd: TrackerBase writes the
# public methods, checks, counters, gate and fork handling once; this class
# supplies the kernels, and its own constructor).  The specification is
# the pure-Python model python/pghot/model/pfnarray.py; read its module
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
# are nodes.pxd's, held by the base (`store_t.nodes` points at them).
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
# tallied per call and added once per call (relaxed atomics; the per-source
# and per-outcome ones are the base's, in per-thread stripes; the store's
# own, `ctr`, `queued` and `cursor`, each start a cache line of their own,
# off the fields that every access reads), so len(),
# queued() and stats() are exact whenever no batch call is running; the scan
# cursors are relaxed too: two concurrent extractions of one node may scan
# the same range, each record still goes to one of them; and an extraction
# may pass over a section whose flag another one has just cleared, until
# that one sets it again for the records it left.
#
# Errors: the base validates everything with the GIL held before any state
# changes; the kernels below are `noexcept nogil` and cannot fail.  The batch
# loop is entered by one virtual call per batch (_record_batch), which picks
# the word width once and runs the fused loop; no call inside is indirect.
#
# Snapshots: this store has none (pickling and saving raise TypeError).

cimport cython
from libc.stdlib cimport calloc, free
from libc.string cimport memset

from defs cimport (uint8_t, uint32_t, uint64_t, int32_t, int64_t,
                   pghot_gate_idle, pghot_load_u64, pghot_store_u64, pghot_add_u64,
                   pghot_sub_u64, pghot_alloc_lines, PGHOT_LINE)
from nodes cimport (nodemap_t, nodemap_index, nodemap_bit,
                    nodemap_unmovable_bit, nodemap_queue, nodemap_nbytes,
                    sorted_floor)
from args cimport _int_arg
from pghot._base cimport *

cdef extern from "pghot_cas.h" nogil:
    uint8_t pghot_load_sc_u8(const uint8_t *p)
    uint32_t pghot_load_sc_u32(const uint32_t *p)
    void pghot_store_sc_u8(uint8_t *p, uint8_t v)
    uint8_t pghot_xchg_sc_u8(uint8_t *p, uint8_t v)
    bint pghot_cas_u8(uint8_t *p, uint8_t *expected, uint8_t desired)
    bint pghot_cas_u32(uint32_t *p, uint32_t *expected, uint32_t desired)

import numpy as np

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

ctypedef struct counts_t:
    uint64_t created
    uint64_t readied
    uint64_t extracted
    uint64_t sec_scanned
    uint64_t sec_skipped
    uint64_t pfns_scanned

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
    # a lower-tier node's first word (its bits and its words line up): the
    # base's map
    const nodemap_t *nodes
    uint64_t *nsec0        # by node index, lower tier: first section
    # node ids
    int32_t nq
    int32_t *qnid          # by index: top-tier node id
    uint64_t *cursor       # by index: where the node's next scan starts
    uint64_t *queued       # by index: ready records (two's complement sums)
    # event counters (per source and per outcome: the base's), on a cache
    # line of their own: every call adds to them once, and the fields above
    # are read by every access
    counts_t *ctr

# One call's counts, added to the store's counters when the call ends.
ctypedef struct tally_t:
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
    cdef int32_t k = nodemap_index(s.nodes, pfn)
    cdef uint64_t i, sec
    if k < 0:
        return O_NOT_MOVABLE
    if s.nodes.top[k]:
        return O_TOPTIER
    i = nodemap_bit(s.nodes, k, pfn)             # the PFN's word, and its movable bit
    if nodemap_unmovable_bit(s.nodes, i):
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
            t.qdelta[nodemap_queue(s.nodes, tgt)] += 1
            sec = s.nsec0[k] + ((i - s.nodes.bit[k]) >> s.sec_shift)
            if pghot_load_sc_u8(&s.hot[sec]) == 0:
                pghot_store_sc_u8(&s.hot[sec], 1)
        elif otgt != tgt:
            t.qdelta[nodemap_queue(s.nodes, otgt)] -= 1
            t.qdelta[nodemap_queue(s.nodes, tgt)] += 1
    elif ow & L.ready:
        t.qdelta[nodemap_queue(s.nodes, otgt)] -= 1
    return O_RECORDED


# O(n): a validated batch (the base's pghot_batch); scalars broadcast through the masks nm, sm, tm
# (0 for a scalar, all ones for an array).
cdef void _record_loop(store_t *s, word_t *words, const pghot_batch *b, tally_t *t,
                       uint64_t *cnt, uint64_t *per_src) noexcept nogil:
    # (Prefetching the word of access i + 8, as the core does for its table,
    # gained nothing even at 16M PFNs: the locked CAS dominates.)
    cdef const uint64_t *p = b.pfn
    cdef const int64_t *nv = b.nid
    cdef const int64_t *sv = b.src
    cdef const int64_t *tv = b.now
    cdef Py_ssize_t n = b.n, nm = b.nm, sm = b.sm, tm = b.tm, i
    cdef uint64_t c[NOUTCOMES]
    cdef uint64_t src[NSOURCES]
    memset(c, 0, sizeof(c))
    memset(src, 0, sizeof(src))
    for i in range(n):
        src[sv[i & sm]] += 1
        c[_record(s, words, p[i], nv[i & nm], <uint64_t>tv[i & tm], t)] += 1
    for i in range(NOUTCOMES):
        cnt[i] += c[i]
    for i in range(NSOURCES):
        per_src[i] += src[i]


# O(PFNs of the flagged sections visited): kmigrated's walk for node index q.
# Reads and resets up to `want` ready records targeting it with freq >= thr,
# in scan order from the node's cursor, at most one cycle; see
# model/pfnarray.py ("Extraction") for the rules on the hot flags.
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
    if t.created:
        pghot_add_u64(&s.ctr.created, t.created)
    if t.readied:
        pghot_add_u64(&s.ctr.readied, t.readied)
    if t.extracted:
        pghot_add_u64(&s.ctr.extracted, t.extracted)
    if t.sec_scanned:
        pghot_add_u64(&s.ctr.sec_scanned, t.sec_scanned)
    if t.sec_skipped:
        pghot_add_u64(&s.ctr.sec_skipped, t.sec_skipped)
    if t.pfns_scanned:
        pghot_add_u64(&s.ctr.pfns_scanned, t.pfns_scanned)
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
            if (nodemap_queue(s.nodes, tgt) < 0
                    or (L.nmask == 0 and tgt != L.default_nid)):
                return 3
            a[2] = freq
            if (freq >= L.thr) != ((w & L.ready) != 0):
                return 4
            if not (w & L.ready):
                continue
            ready[nodemap_queue(s.nodes, tgt)] += 1
            if quiescent and pghot_load_sc_u8(&s.hot[sec]) == 0:
                a[1] = sec
                return 5
    if not quiescent:
        return 0
    a[0] = nrec
    a[1] = pghot_load_u64(&s.ctr.created) - pghot_load_u64(&s.ctr.extracted)
    if a[0] != a[1]:
        return 6
    cdef int32_t q
    for q in range(s.nq):
        a[0] = s.qnid[q]
        a[1] = ready[q]
        a[2] = pghot_load_u64(&s.queued[q])
        if a[1] != a[2]:
            return 7
    return 0


# --------------------------------------------------------------------------

@cython.final
cdef class PfnArrayTracker(TrackerBase):
    """Hot page tracker of pghot v3+: one record word per lower-tier PFN.

    Same API as :class:`pghot.Tracker`; the semantics are specified by
    :class:`pghot.model.pfnarray.PfnArrayReference` (read its module
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

    Where the API means something else than for the other stores:

    - ``record_access`` never returns ``TABLE_FULL``; in default mode the
      time field counts buckets of 128 jiffies:

      >>> d = PfnArrayTracker(pghot.Topology.two_tier(1024, 4096), mode="default")
      >>> d.record_access(2000, 0, pghot.Source.HINT_FAULT, 300)
      <Outcome.RECORDED: 0>
      >>> d.lookup(2000)  # time bucket 300 >> 7 = 2
      Record(pfn=2000, frequency=1, nid=0, last_update=2, queued=-1)

    - ``extract_batch`` reads and resets ready records targeting the node,
      in scan order: the scan continues from where the node's previous call
      stopped, skips sections without a hot flag, and stops after
      ``max_count`` records, after as many as the node has ready
      (``queued(nid)``), or after one cycle.  Records come in PFN scan
      order, not hottest first: this store has no cheap "top N" (the
      design's known weakness).  A lower ``threshold`` adds nothing (only
      ready records are found); a higher one leaves the colder ready
      records ready:

      >>> t = PfnArrayTracker(pghot.Topology.two_tier(1024, 4096), threshold=1)
      >>> for now, pfn in enumerate([3000, 2000, 3000]):
      ...     _ = t.record_access(pfn, -1, 0, now)
      >>> rec = t.extract_batch(0, return_records=True)
      >>> rec["pfn"].tolist(), rec["frequency"].tolist()
      ([2000, 3000], [1, 2])

    - ``lookup`` does not reset the record; ``queued`` is the target node
      when the record is ready, else -1.  ``queued(nid)`` counts ready
      records; ``len()``, ``queued()`` and ``stats()`` are exact whenever no
      batch call runs.
    - ``stats()`` adds the scan's counters: ``sections_scanned`` and
      ``sections_skipped`` (the sections the extraction scans entered, or
      passed over for lack of a hot flag) and ``pfns_scanned`` (the words
      it read); ``table_full``, ``queue_full`` and ``evicted`` are always 0:

      >>> t.stats()["sections_scanned"], t.stats()["table_full"]
      (1, 0)
    """
    cdef store_t s
    cdef int64_t *scratch          # qdelta of single calls (the GIL serialises them)
    cdef uint64_t *ready           # check()'s ready records per node (the GIL serialises it)
    cdef uint32_t word_bytes
    cdef str _mode
    cdef int64_t _section_pages

    def __cinit__(self, *args, **kwargs):
        self.s.words = NULL
        self.s.hot = NULL
        self.s.sec_first = NULL
        self.s.sec_pfn = NULL
        self.s.nsec0 = NULL
        self.s.nodes = NULL
        self.s.qnid = NULL
        self.s.cursor = NULL
        self.s.queued = NULL
        self.s.ctr = NULL
        self.scratch = NULL
        self.ready = NULL
        self._messages = _CHECK_MESSAGES
        # no lock: every outcome is counted by the base
        self.out_mask = (1 << O_RECORDED) | (1 << O_TOPTIER) | (1 << O_NOT_MOVABLE)

    def __init__(self, topology, *, mode="precise", hz=1000, freq_window_ms=None,
                 threshold=2, scan_section_pages=32768, freq_bits=None, nid_bits=None,
                 time_bits=None, capacity=None, queue_capacity=None, queue=None,
                 evict_stale=False):
        arrs = self._topology_arrays(topology)
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
        lower = int(np.asarray(arrs["nr_pages"], dtype=np.uint64)[
            np.asarray(arrs["toptier"]) == 0].sum())
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
        max_nid = int(np.max(arrs["ids"]))
        if nb and max_nid >= (1 << nb):
            raise ValueError(f"topology: node id {max_nid} does not fit the {nb}-bit nid field")

        self._topology = topology
        self._mode = mode
        self._hz = c_hz
        self._window_ms = wms
        self._window_jiffies = win_j
        self._section_pages = sect
        self.word_bytes = wbytes
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
        # the base's view of the same word (decoding, arguments, properties)
        self.fbits = fb
        self.nbits = nb
        self.tbits = tb
        self.fmax = L.fmax
        self.nshift = L.nshift
        self.nmask = L.nmask
        self.tshift = L.tshift
        self.tmask = L.tmask
        self.thr = thr
        self.window = win
        self.nid_max = 0x7FFFFFFF
        self._init_store(arrs, sect)
        self.capacity_ = self.s.npfn
        self.qcap = self.s.npfn
        self._finish_init()

    cdef _init_store(self, dict arrs, int64_t sect):
        cdef store_t *s = &self.s
        cdef int32_t i
        cdef uint64_t j, index = 0, nsec = 0, start, size
        tops_nids = self._init_nodes(arrs, s.L.default_nid)
        s.nodes = &self.nodes
        s.nq = len(tops_nids)
        self.scratch_len = s.nq
        s.nsec0 = <uint64_t *>calloc(s.nodes.nnodes or 1, sizeof(uint64_t))
        s.qnid = <int32_t *>calloc(s.nq, sizeof(int32_t))
        # written by extractions and by every call's flush: lines of their own
        s.cursor = <uint64_t *>pghot_alloc_lines(s.nq * sizeof(uint64_t))
        s.queued = <uint64_t *>pghot_alloc_lines(s.nq * sizeof(uint64_t))
        s.ctr = <counts_t *>pghot_alloc_lines(sizeof(counts_t))
        self.scratch = <int64_t *>calloc(s.nq, sizeof(int64_t))
        self.ready = <uint64_t *>calloc(s.nq or 1, sizeof(uint64_t))
        if (s.nsec0 == NULL or s.qnid == NULL or s.cursor == NULL or s.queued == NULL
                or s.ctr == NULL
                or self.scratch == NULL or self.ready == NULL):
            raise MemoryError()
        for i in range(s.nq):
            s.qnid[i] = tops_nids[i]
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
        free(self.s.qnid)
        free(self.s.cursor)
        free(self.s.queued)
        free(self.s.ctr)
        free(self.scratch)
        free(self.ready)

    # ------------------------------------------------------------ helpers

    cdef inline tally_t _tally(self, int64_t *qdelta) noexcept nogil:
        cdef tally_t t
        memset(&t, 0, sizeof(t))
        memset(qdelta, 0, self.s.nq * sizeof(int64_t))
        t.qdelta = qdelta
        return t

    cdef inline uint32_t _word_at(self, uint64_t i) noexcept nogil:
        if self.word_bytes == 1:
            return _load(&(<uint8_t *>self.s.words)[i])
        return _load(&(<uint32_t *>self.s.words)[i])

    # ------------------------------------------------- the base's interface

    cdef int _record_one(self, uint64_t pfn, int64_t nid, uint64_t now) noexcept:
        cdef tally_t t = self._tally(self.scratch)
        cdef int o
        if self.word_bytes == 1:
            o = _record(&self.s, <uint8_t *>self.s.words, pfn, nid, now, &t)
        else:
            o = _record(&self.s, <uint32_t *>self.s.words, pfn, nid, now, &t)
        _flush(&self.s, &t)
        return o

    # The batch: one call per batch from the base; the word width is chosen
    # once, then the fused loop runs with direct calls only.
    cdef void _record_batch(self, const pghot_batch *b, int64_t *scratch, uint64_t *cnt,
                            uint64_t *per_src) noexcept nogil:
        cdef tally_t t = self._tally(scratch)
        if self.word_bytes == 1:
            _record_loop(&self.s, <uint8_t *>self.s.words, b, &t, cnt, per_src)
        else:
            _record_loop(&self.s, <uint32_t *>self.s.words, b, &t, cnt, per_src)
        _flush(&self.s, &t)

    # At most the node's ready records: the scan stops when it has them all.
    cdef uint64_t _extract_limit(self, int32_t q, int64_t max_count) noexcept nogil:
        cdef int64_t known = <int64_t>pghot_load_u64(&self.s.queued[q])
        return <uint64_t>max(0, min(max_count, known))

    cdef uint64_t _extract(self, int32_t q, uint64_t want, uint32_t thr, uint64_t *out_pfn,
                           uint32_t *out_word, int64_t *scratch) noexcept nogil:
        cdef tally_t t = self._tally(scratch)
        cdef uint64_t got
        if self.word_bytes == 1:
            got = _extract(&self.s, <uint8_t *>self.s.words, q, want, thr, out_pfn, out_word, &t)
        else:
            got = _extract(&self.s, <uint32_t *>self.s.words, q, want, thr, out_pfn, out_word, &t)
        _flush(&self.s, &t)
        return got

    # A non-zero word; queued when ready.  Inspecting does not reset it.
    cdef bint _lookup_word(self, uint64_t pfn, uint32_t *word, bint *queued) noexcept:
        cdef int32_t k = nodemap_index(&self.nodes, pfn)
        if k < 0 or self.nodes.top[k]:
            return False
        cdef uint32_t w = self._word_at(nodemap_bit(&self.nodes, k, pfn))
        word[0] = w
        queued[0] = (w & self.s.L.ready) != 0
        return w != 0

    # PFNs with a record (a non-zero word); exact when no batch call runs.
    cdef uint64_t _records(self) noexcept:
        cdef int64_t n = <int64_t>(pghot_load_u64(&self.s.ctr.created)
                                   - pghot_load_u64(&self.s.ctr.extracted))
        return <uint64_t>max(n, 0)

    cdef uint64_t _queued_in(self, int32_t q) noexcept nogil:
        return <uint64_t>max(<int64_t>pghot_load_u64(&self.s.queued[q]), 0)

    # table_full, queue_full and evicted are always 0.
    cdef void _counts(self, uint64_t *c) noexcept:
        cdef int32_t i
        cdef int64_t queued = 0
        for i in range(self.s.nq):
            queued += <int64_t>pghot_load_u64(&self.s.queued[i])
        c[C_CREATED] = pghot_load_u64(&self.s.ctr.created)
        c[C_RECORDED] = self._out_total(O_RECORDED)
        c[C_PUSHES] = pghot_load_u64(&self.s.ctr.readied)
        c[C_EXTRACTED] = pghot_load_u64(&self.s.ctr.extracted)
        c[C_QUEUED] = <uint64_t>max(queued, 0)

    # The extraction scan's counters: sections entered, sections passed over
    # for lack of a hot flag, words read.
    cdef dict _stats_extra(self):
        return {
            "sections_scanned": pghot_load_u64(&self.s.ctr.sec_scanned),
            "sections_skipped": pghot_load_u64(&self.s.ctr.sec_skipped),
            "pfns_scanned": pghot_load_u64(&self.s.ctr.pfns_scanned),
        }

    # Words, section tables, movable bitmap, node tables.
    cdef size_t _nbytes(self) noexcept:
        cdef store_t *s = &self.s
        cdef size_t n = <size_t>(s.npfn or 1) * self.word_bytes
        n += <size_t>(s.nsec or 1) * (sizeof(uint8_t) + 2 * sizeof(uint64_t)) + sizeof(uint64_t)
        n += nodemap_nbytes(&self.nodes) + <size_t>(self.nodes.nnodes or 1) * sizeof(uint64_t)
        n += <size_t>s.nq * (sizeof(int32_t) + 3 * sizeof(uint64_t))
        return n

    # No lock to take (the words change by compare-and-swap): the per-word
    # invariants always hold; the hot flags and the counters are compared
    # only when no batch call runs (single calls keep the GIL, as check does).
    cdef int _check_locked(self, uint64_t *a) noexcept nogil:
        cdef bint quiescent = pghot_gate_idle(&self.gate)
        memset(self.ready, 0, (self.s.nq or 1) * sizeof(uint64_t))
        if self.word_bytes == 1:
            return _check_words(&self.s, <uint8_t *>self.s.words, quiescent, self.ready, a)
        return _check_words(&self.s, <uint32_t *>self.s.words, quiescent, self.ready, a)

    cdef dict _layout_extra(self):
        return {
            "counters": [(<size_t><void *>self.s.ctr, sizeof(counts_t))],
            "queued": [(<size_t><void *>self.s.queued, self.s.nq * sizeof(uint64_t))],
            "cursors": [(<size_t><void *>self.s.cursor, self.s.nq * sizeof(uint64_t))],
        }

    cdef list _repr_fields(self):
        return [("mode", self._mode), ("records", len(self)), ("threshold", self.s.L.thr),
                ("window_ticks", self.s.L.window)]

    # ------------------------------------------------------------ properties

    @property
    def mode(self):
        """``"precise"`` (u32 words) or ``"default"`` (u8 words)."""
        return self._mode

    @property
    def window_ticks(self):
        """Frequency window in units of the time field (rounded up)."""
        return self.s.L.window

    @property
    def time_unit_jiffies(self):
        """Jiffies per unit of the time field: 1 (precise) or 128 (default)."""
        return 1 << self.s.L.unit_shift

    @property
    def scan_section_pages(self):
        """PFNs per section of the scan's hot flags."""
        return self._section_pages
