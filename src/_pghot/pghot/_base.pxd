# The tracker base class: the public API of every record store, written once
# (numpy.random's BitGenerator shape).  A store (the hash table of _core.pyx,
# the kernel-v2 layout of _v2store.pyx, the pfn-array of _pfnarray.pyx) is a
# final subclass that supplies its kernels by overriding the cdef methods
# below; the base validates every argument, converts it, enters the gate,
# releases the GIL, and calls the store once per call (for a batch: once per
# batch, into the store's own nogil loop, never once per access).
#
# What the base holds for every store: the flattened topology (nodes.pxd),
# the gate of the GIL-free calls (pghot_sync.h) with its per-thread stripes,
# which also hold the per-source access counters and the outcome counters
# that are kept without a lock, the word fields that decode a record, and
# the Python-visible configuration.  The object's own fields are read by
# every access and written by no batch call (the stripes are a separate
# allocation, one cache line per thread): see _layout().
#
# The store's kernels follow the error contract of CONVENTIONS.md: the base
# has validated everything, so they are `noexcept` and cannot fail; those
# marked nogil run without the GIL and take no Python object.  The GIL-side
# hooks (_check_queue, _stats_extra, _repr_fields) are the only ones that
# may raise or build Python objects.
from defs cimport uint32_t, uint64_t, int32_t, int64_t, pghot_gate_t
from nodes cimport nodemap_t

cdef enum:
    O_RECORDED = 0
    O_TOPTIER = 1
    O_NOT_MOVABLE = 2
    O_TABLE_FULL = 3
    NOUTCOMES = 4
    NSOURCES = 3
    S_SRC = 0                     # stripe count index of source 0 (NSOURCES of them)
    S_OUT = 3                     # stripe count index of outcome 0 (NOUTCOMES of them)
    SNAPSHOT_FORMAT_VERSION = 1   # of the hash store's _state() (pghot.snapshot)


# One validated batch of accesses, as a store's batch loop reads it: the
# private copies made by _batch_arrays, the node ids already turned into
# promotion targets (-1: none).  Element i of nid/src/now is at [i & mask]:
# mask 0 broadcasts a scalar, all ones indexes an array.
ctypedef struct pghot_batch:
    const uint64_t *pfn
    const int64_t *nid
    const int64_t *src
    const int64_t *now
    Py_ssize_t n
    Py_ssize_t nm
    Py_ssize_t sm
    Py_ssize_t tm


cdef class TrackerBase:
    cdef pghot_gate_t gate        # batch calls in flight; closed by snapshots and fork.
                                  # gate.stripes[i].count: accesses per source
                                  # (S_SRC + s) and the outcomes the base counts
                                  # (S_OUT + o, out_mask), relaxed atomics, summed
                                  # over the stripes when read
    cdef nodemap_t nodes          # the topology, flattened (nodes.pxd)
    cdef uint32_t out_mask        # bit o: outcome o is counted in the stripes; the
                                  # store counts the others under its own locks
    # record word fields, for decoding: freq | nid << nshift | time << tshift
    cdef uint32_t fbits, nbits, tbits
    cdef uint32_t fmax, nshift, nmask, tshift, tmask
    cdef uint32_t thr             # frequency at which a record is queued / ready
    cdef uint32_t window          # frequency window, in units of the time field
    cdef int32_t default_nid      # the nid of a word that stores none (nmask 0)
    cdef int64_t nid_max          # largest node id an argument may name
    cdef uint64_t capacity_       # records held at most
    cdef uint64_t qcap            # entries per top-tier queue at most
    cdef bint evict
    cdef int64_t scratch_len      # int64 entries of per-call scratch a batch needs
    cdef int64_t _hz
    cdef int64_t _window_ms
    cdef int64_t _window_jiffies
    cdef object _topology
    cdef tuple _messages          # the store's check() messages, by code
    cdef object __weakref__       # for the at-fork registry
    cdef bint _started            # __init__ began allocating: never again
    cdef bint _inited             # __init__ ran to its end: every part is there

    # GIL-side helpers of the stores' constructors
    cdef dict _topology_arrays(self, object topology)
    cdef dict _init_packed(self, object topology, object hz, object freq_window_ms,
                           object threshold, object freq_bits, object nid_bits,
                           object time_bits, object capacity, object queue_capacity,
                           object queue, object evict_stale)
    cdef list _init_nodes(self, dict arrs, int32_t default_nid)
    cdef int _finish_init(self) except -1
    cdef int _ready(self) except -1
    cdef int64_t _target_arg(self, object nid) except? -0x7FFFFFFFFFFFFFFF
    cdef int32_t _queue_arg(self, object nid) except -1
    cdef uint64_t _src_total(self, int s) noexcept nogil
    cdef uint64_t _out_total(self, int o) noexcept nogil

    # The store's kernels and hooks (defaults: an empty store).
    cdef int _check_queue(self, object queue) except -1
    cdef int _record_one(self, uint64_t pfn, int64_t nid, uint64_t now) noexcept
    cdef void _record_batch(self, const pghot_batch *b, int64_t *scratch, uint64_t *cnt,
                            uint64_t *per_src) noexcept nogil
    cdef uint64_t _extract_limit(self, int32_t q, int64_t max_count) noexcept nogil
    cdef uint64_t _extract(self, int32_t q, uint64_t want, uint32_t thr, uint64_t *out_pfn,
                           uint32_t *out_word, int64_t *scratch) noexcept nogil
    cdef bint _lookup_word(self, uint64_t pfn, uint32_t *word, bint *queued) noexcept
    cdef uint64_t _records(self) noexcept
    cdef uint64_t _queued_in(self, int32_t q) noexcept nogil
    cdef void _counts(self, uint64_t *c) noexcept
    cdef dict _stats_extra(self)
    cdef size_t _nbytes(self) noexcept
    cdef void _lock_all(self) noexcept nogil
    cdef void _unlock_all(self) noexcept nogil
    cdef int _check_locked(self, uint64_t *a) noexcept nogil
    cdef uint64_t _locked_outcomes(self) noexcept nogil
    cdef list _repr_fields(self)
    cdef dict _layout_extra(self)


# Indices of TrackerBase._counts' array.
cdef enum:
    C_CREATED = 0
    C_RECORDED = 1
    C_TABLE_FULL = 2
    C_QUEUE_FULL = 3
    C_PUSHES = 4
    C_EXTRACTED = 5
    C_EVICTED = 6
    C_QUEUED = 7
    NCOUNTS = 8


# Snapshot plumbing shared by the stores that save (pghot.snapshot does the
# file I/O; the core only exports and imports its state).
cdef dict state_header(TrackerBase t, str store, dict config)
cdef tuple check_state_header(object state, str store)
cdef object snapshot_io()
cdef int check_fits(object nbytes, str what) except -1
