# The tracker base class: one public API over every record store.  Declared
# in pghot/_base.pxd (under src/_pghot: a .pxd declaring a cdef class that
# other modules derive from is found by its full module name, pghot._base).
#
# Shape (numpy.random's BitGenerator, min_heap.h's callbacks): TrackerBase
# holds everything the stores have in common -- argument checks, the gate,
# per-source and lock-free outcome counters, the flattened topology, the
# at-fork registry, stats/check/repr/snapshot scaffolding -- and each store
# is a final subclass that overrides the kernel methods declared in
# _base.pxd.  The base calls a store once per public call: record_accesses
# validates and copies the batch, enters the gate, releases the GIL and
# makes ONE virtual call into the store's own nogil batch loop, inside which
# every call is direct (the stores are final classes).
#
# Data the base owns: `nodes` (nodes.pxd), `gate` (pghot_sync.h) and its
# PGHOT_NSTRIPES stripes, one 64-byte line each, allocated beside the
# object (and one more for single calls, which hold the GIL): a thread's
# stripe holds its gate count and its share of the
# accesses per source (count[S_SRC + s]) and of the outcomes in `out_mask`
# (count[S_OUT + o], those a store counts without a lock; the rest it counts
# under its own locks); and the decoding fields of a record word.
#
# Layout for threads (issue 11): two threads recording disjoint PFNs must
# not write a common cache line.  A batch call writes its own stripe (the
# gate's `active` on entering and leaving, its counts once, after its loop)
# and the store's per-shard/per-list/per-queue blocks of the PFNs it
# records; the object's fields, which every access reads, are written by no
# batch call (`gate.closed` only by snapshots and fork).  Totals are sums
# over the stripes, exact whenever no batch call is inside the gate (check,
# snapshots, and any caller between batches).  _layout() returns the
# addresses, for the layout test.
#
# Concurrency: every call that runs without the GIL enters the gate first
# (pghot_gate_enter, with the GIL held) and leaves it after its last counter
# flush.  Batch arguments are copied before they are validated, and only the
# copies are read without the GIL.  The base takes no store lock itself; it
# calls _lock_all/_unlock_all (check, snapshots) with the GIL held, and the
# stores never ask for the GIL while holding one of their locks.
#
# Errors: every argument is checked here with the GIL held (TypeError or
# ValueError naming it) before any state changes; the kernels the stores
# supply cannot fail.
#
# Imports: numpy, and pghot._types, the leaf module of enums and record
# types that imports nothing of pghot (no other Python-layer module is
# imported by the compiled core).  The file I/O of snapshots lives in
# pghot/snapshot.py, which hands itself to this module on import
# (_bind_snapshot_io): the core only exports and imports its state.

from libc.string cimport memset
from libc.stdlib cimport calloc, free

from defs cimport *
from nodes cimport *
from args cimport _int_arg, _pfn_arg, _check_range

import json
import os
import weakref

import numpy as np
# imported now, not on first use: numpy loads numpy.ma lazily, and a lazy
# import in a call could meet an import lock left held by a fork
from numpy.ma import MaskedArray as _MaskedArray

from pghot._types import RECORD_DTYPE, Outcome, Record   # leaf module: no pghot imports

cdef tuple _OUTCOMES = tuple(Outcome)


# Enter a store's gate (pghot_sync.h), with the GIL held: while it is
# closed, wait for it without the GIL, holding no lock.  Nothing that can
# release the GIL may come between this and the call's `with nogil` block.
# Returns the calling thread's stripe, to leave through and flush into.
cdef inline pghot_stripe_t *pghot_gate_enter(pghot_gate_t *g) noexcept:
    cdef pghot_stripe_t *st = pghot_gate_try_enter(g)
    while st == NULL:
        with nogil:
            pghot_gate_wait_open(g)
        st = pghot_gate_try_enter(g)
    return st


cdef int64_t _I64_MAX = 0x7FFFFFFFFFFFFFFF
_COUNT_MESSAGE = "{0} accesses counted, their outcomes add up to {1}"


# --------------------------------------------------------------------------
# fork.  A spinlock held by a thread that does not exist in the child would
# make the child spin forever, and a batch half done in the parent would
# leave the child's counters disagreeing with its table.  So before fork()
# every live tracker closes its gate and waits for its GIL-free calls to
# leave (pghot_sync.h); after fork() both processes open the gates that
# were closed.  At the fork the forking thread holds the GIL, so no single
# call is inside a lock section either: no lock is held, and the child
# gets a consistent, usable copy.  No lock is taken by the handlers, so the
# GIL may be released between them (other at-fork hooks, the import lock)
# without any thread spinning on a lock the forking thread holds.

_LIVE_TRACKERS = weakref.WeakSet()
_FORKING = []          # the trackers whose gates _before_fork closed


def _fork_safe(tracker):
    """Register a tracker (any store) for the at-fork handlers.

    The tracker provides ``_fork_prepare()`` (close its gate and wait for
    the calls inside to leave) and ``_fork_done()`` (open it again); every
    :class:`TrackerBase` registers itself at the end of its ``__init__``.
    """
    _LIVE_TRACKERS.add(tracker)


def _before_fork():
    for t in list(_LIVE_TRACKERS):
        t._fork_prepare()
        _FORKING.append(t)


def _after_fork():
    while _FORKING:
        _FORKING.pop()._fork_done()


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork,
                    after_in_child=_after_fork)


# --------------------------------------------------------------------------
# Argument conversion: one error contract at the GIL boundary.

def _int_array(obj, str name, bint allow_scalar):
    """A private copy of an integer argument: a C-contiguous 1-D ndarray (or
    a 0-d one for a scalar when allowed) that no other thread can see.

    Copy first, validate the copy, use only the copy: a caller's array may be
    rewritten by another thread at any time, and the batch loops read their
    arguments without the GIL.  Masked arrays are refused (their mask would
    be silently dropped), and so are ``bytes``-like objects.

    >>> _int_array([1, 2], "pfns", False).tolist(), _int_array(3, "nids", True).ndim
    ([1, 2], 0)
    """
    if obj is None or isinstance(obj, (str, bytes, bytearray, memoryview, dict, set, float,
                                       complex)):
        raise TypeError(f"{name} must be an integer array, not {type(obj).__name__}")
    if isinstance(obj, _MaskedArray):
        raise TypeError(f"{name} must not be a masked array: fill or compress it first")
    if isinstance(obj, (int, np.integer)) and not isinstance(obj, bool):
        if not allow_scalar:
            raise TypeError(f"{name} must be a 1-D integer array, not a scalar")
        if not -(1 << 63) <= int(obj) < (1 << 64):
            raise ValueError(f"{name} = {obj} does not fit 64 bits")
        return np.asarray(obj)
    try:
        a = np.array(obj, order="C", copy=True)
    except OverflowError as e:
        raise ValueError(f"{name} holds a value that does not fit 64 bits") from None
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be an integer array: {e}") from None
    if a.dtype.kind not in "iu":
        raise ValueError(f"{name} must have an integer dtype, got {a.dtype}")
    if a.ndim == 0 and allow_scalar:
        return a
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    return a


def _movable_pfns(pfns):
    """``set_movable``'s PFNs: a private uint64 copy, each in [0, 2**63)."""
    a = _int_array(pfns, "pfns", True)
    _check_range(a, "pfns", 0, _I64_MAX)
    return a.reshape(-1).astype(np.uint64, copy=False)


def _batch_arrays(pfns, nids, srcs, nows, int64_t nid_max):
    """Validate a batch of accesses; private contiguous copies of its arrays.

    ``nid_max`` bounds the accessing node ids; whether each is a node is
    checked by ``nodemap_targets`` (nodes.pxd), which turns them into
    promotion targets.  Returns ``(pfns u64, nids i64, srcs i64, nows i64,
    nid_mask, src_mask, now_mask)``: element ``i`` of a broadcast scalar is
    at ``i & mask``.  The arrays are copied before they are validated
    (``_int_array``) and only the copies are used: the batch loop reads them
    without the GIL, when another thread could rewrite the caller's arrays.
    """
    pa = _int_array(pfns, "pfns", False)
    na = _int_array(nids, "nids", True)
    sa = _int_array(srcs, "srcs", True)
    ta = _int_array(nows, "nows", True)
    cdef Py_ssize_t n = pa.shape[0]
    for a, name in ((na, "nids"), (sa, "srcs"), (ta, "nows")):
        if a.ndim == 1 and a.shape[0] != n:
            raise ValueError(f"{name} has length {a.shape[0]}, pfns has {n}")
    _check_range(pa, "pfns", 0, _I64_MAX)
    _check_range(na, "nids", -1, nid_max)
    _check_range(sa, "srcs", 0, NSOURCES - 1)
    _check_range(ta, "nows", 0, _I64_MAX)
    p = pa.view(np.uint64) if pa.dtype == np.int64 else pa.astype(np.uint64, copy=False)
    nv = na.reshape(-1).astype(np.int64, copy=False)
    sv = sa.reshape(-1).astype(np.int64, copy=False)
    tv = ta.reshape(-1).astype(np.int64, copy=False)
    return p, nv, sv, tv, (-1 if na.ndim else 0), (-1 if sa.ndim else 0), (-1 if ta.ndim else 0)


cdef int check_fits(object nbytes, str what) except -1:
    """MemoryError, before anything is allocated, when ``nbytes`` exceed the
    machine's physical memory: the tables are written in full at creation,
    so an overcommitted allocation would end in the OOM killer, not here."""
    try:
        phys = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0
    if nbytes > phys:
        raise MemoryError(f"{what} need {nbytes / 2**30:.1f} GiB, more than this machine's "
                          f"{phys / 2**30:.1f} GiB of memory")
    return 0


def _check_fits(nbytes, str what):
    """:c:func:`check_fits` for Python callers."""
    check_fits(nbytes, what)


# The topology, flattened from a Topology's arrays() (nodes.pxd's layout);
# m must be zeroed.  MemoryError when out of memory.  Queue indices start at
# -1: the base sets them for the top-tier nodes (nodemap_set_queue).
cdef int _nodemap_init(nodemap_t *m, dict arrs, int32_t default_nid) except -1:
    ids = arrs["ids"]
    id_target = arrs["id_target"]
    rows = [(int(s), int(z), bool(t)) for s, z, t in
            zip(arrs["start_pfn"], arrs["nr_pages"], arrs["toptier"]) if int(z) > 0]
    cdef int32_t i, n = len(rows), nids = len(ids)
    cdef uint64_t bits = 0
    m.nnodes = n
    m.nids = nids
    m.max_nid = int(ids[nids - 1])
    m.ndense = min(m.max_nid + 1, <int32_t>NODEMAP_DENSE)
    m.default_nid = default_nid
    m.ids = <int32_t *>calloc(nids, sizeof(int32_t))
    m.id_target = <int32_t *>calloc(nids, sizeof(int32_t))
    m.id_queue = <int32_t *>calloc(nids, sizeof(int32_t))
    m.dense = <int32_t *>calloc(m.ndense, sizeof(int32_t))
    m.start = <uint64_t *>calloc(n or 1, sizeof(uint64_t))
    m.end = <uint64_t *>calloc(n or 1, sizeof(uint64_t))
    m.bit = <uint64_t *>calloc(n or 1, sizeof(uint64_t))
    m.top = <uint8_t *>calloc(n or 1, sizeof(uint8_t))
    if (m.ids == NULL or m.id_target == NULL or m.id_queue == NULL or m.dense == NULL
            or m.start == NULL or m.end == NULL or m.bit == NULL or m.top == NULL):
        raise MemoryError()
    for i in range(m.ndense):
        m.dense[i] = -1
    for i in range(nids):
        m.ids[i] = int(ids[i])
        m.id_target[i] = int(id_target[i])
        m.id_queue[i] = -1
        if m.ids[i] < m.ndense:
            m.dense[m.ids[i]] = i
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


# --------------------------------------------------------------------------
# Snapshot plumbing.  pghot.snapshot binds itself here when it is imported
# (pghot's __init__ imports it through pghot.tracker, before any tracker can
# exist), so the core calls the file I/O without importing the Python layer.

cdef object _SNAPSHOT_IO = None


def _bind_snapshot_io(module):
    """Called by :mod:`pghot.snapshot` on import: the module whose ``save``,
    ``load`` and ``check_geometry`` the core's snapshot methods call."""
    global _SNAPSHOT_IO
    _SNAPSHOT_IO = module


cdef object snapshot_io():
    if _SNAPSHOT_IO is None:
        raise RuntimeError("pghot.snapshot is not loaded: import pghot first")
    return _SNAPSHOT_IO


cdef dict state_header(TrackerBase t, str store, dict config):
    """The members every snapshot starts with (format version 1)."""
    topo = t._topology
    return {
        "format": np.array("pghot-tracker"),
        "version": np.array(<int>SNAPSHOT_FORMAT_VERSION),
        "store": np.array(store),
        "config": np.array(json.dumps(config)),
        "topology": np.array(json.dumps({
            "nodes": [[n.nid, n.start_pfn, n.nr_pages, bool(n.toptier), bool(n.has_cpu)]
                      for n in topo.nodes],
            "default_node": topo.default_node})),
    }


cdef tuple check_state_header(object state, str store):
    """``(config, topology_json)`` of a state of the given store; ValueError
    (or KeyError/TypeError/JSONDecodeError, for the caller to name) if the
    state is of another format, store or version."""
    if str(state["format"]) != "pghot-tracker" or str(state["store"]) != store:
        raise ValueError(f"not a snapshot of a {store}-store pghot tracker")
    version = int(state["version"])
    if version != SNAPSHOT_FORMAT_VERSION:
        raise ValueError(f"snapshot format version {version}, this pghot reads "
                         f"version {<int>SNAPSHOT_FORMAT_VERSION}")
    return json.loads(str(state["config"])), json.loads(str(state["topology"]))


# --------------------------------------------------------------------------

cdef class TrackerBase:
    """The API every record store shares; build one with :class:`pghot.Tracker`.

    Not instantiated itself: :class:`pghot._core.Tracker` (``store="hash"``),
    :class:`pghot._v2store.KernelV2Tracker` (``"kernel-v2"``) and
    :class:`pghot._pfnarray.PfnArrayTracker` (``"pfn-array"``) derive from it
    and supply the kernels.

    Examples
    --------
    >>> import pghot
    >>> from pghot._base import TrackerBase
    >>> all(isinstance(pghot.Tracker(pghot.Topology.two_tier(64, 256), store=s), TrackerBase)
    ...     for s in ("hash", "kernel-v2", "pfn-array"))
    True
    """

    def __cinit__(self, *args, **kwargs):
        memset(&self.nodes, 0, sizeof(nodemap_t))
        self.gate.closed = 0
        self.gate.stripes = NULL
        self._messages = ("",)
        self.gate.stripes = <pghot_stripe_t *>pghot_alloc_lines(
            PGHOT_NSTRIPES_ALL * sizeof(pghot_stripe_t))
        if self.gate.stripes == NULL:
            raise MemoryError()

    def __dealloc__(self):
        nodemap_free(&self.nodes)
        if self.gate.stripes != NULL:
            free(self.gate.stripes)

    # ----------------------------------------------------- construction

    # A Topology, duck-typed: its arrays() and default_node.
    cdef dict _topology_arrays(self, object topology):
        if self._started:
            raise RuntimeError(f"{type(self).__name__} is already initialised")
        try:
            arrs = topology.arrays()
            topology.default_node
        except AttributeError:
            raise TypeError(f"topology must be a pghot.Topology, not "
                            f"{type(topology).__name__}") from None
        if not isinstance(arrs, dict):
            raise TypeError(f"topology must be a pghot.Topology, not {type(topology).__name__}")
        return arrs

    # The arguments of the stores with a packed record word and queues of a
    # fixed capacity (hash, kernel-v2): checked in the order the errors are
    # documented, stored in the base's fields.  Nothing is allocated.
    # Returns the topology's arrays.
    cdef dict _init_packed(self, object topology, object hz, object freq_window_ms,
                           object threshold, object freq_bits, object nid_bits,
                           object time_bits, object capacity, object queue_capacity,
                           object queue, object evict_stale):
        cdef dict arrs = self._topology_arrays(topology)
        cdef int64_t fb = _int_arg(freq_bits, "freq_bits", 1, 16)
        cdef int64_t nb = _int_arg(nid_bits, "nid_bits", 1, 30)
        cdef int64_t tb = _int_arg(time_bits, "time_bits", 1, 30)
        if fb + nb + tb > 32:
            raise ValueError(f"freq_bits + nid_bits + time_bits must be <= 32, got {fb + nb + tb}")
        cdef int64_t c_hz = _int_arg(hz, "hz", 1, 1_000_000)
        cdef int64_t wms = _int_arg(freq_window_ms, "freq_window_ms", 0, 1 << 40)
        cdef int64_t thr = _int_arg(threshold, "threshold", 1, (1 << fb) - 1)
        win = -(-int(wms) * int(c_hz) // 1000)  # msecs_to_jiffies rounds up
        if win >= (1 << tb):
            raise ValueError(
                f"freq_window_ms={wms} is {win} jiffies at hz={c_hz}, which "
                f"time_bits={tb} cannot represent (span {(1 << tb) - 1} jiffies)")
        if not isinstance(queue, str):
            raise TypeError(f"queue must be a str, not {type(queue).__name__}")
        self._check_queue(queue)
        if not isinstance(evict_stale, (bool, np.bool_)):
            raise TypeError(f"evict_stale must be a bool, not {type(evict_stale).__name__}")
        max_nid = int(np.max(arrs["ids"]))
        if max_nid >= (1 << nb):
            raise ValueError(f"nid_bits={nb} cannot hold node id {max_nid} of the topology")
        lower = int(np.asarray(arrs["nr_pages"], dtype=np.uint64)[
            np.asarray(arrs["toptier"]) == 0].sum())
        cdef int64_t cap
        if capacity is None:
            if lower * 50 // 100 > (1 << 31):
                raise ValueError(
                    f"the default capacity ({lower * 50 // 100} records, 50 % of the "
                    f"lower tier) exceeds 2**31: pass capacity= explicitly")
            cap = lower * 50 // 100
        else:
            cap = _int_arg(capacity, "capacity", 0, 1 << 31)
        cdef int64_t qcap
        if queue_capacity is None:
            qcap = max(1, cap * 25 // 100) if cap > 0 else 0
        else:
            qcap = _int_arg(queue_capacity, "queue_capacity", 0, 0xFFFFFFFE)
            if qcap > cap:
                raise ValueError(f"queue_capacity={qcap} exceeds capacity={cap}: a queue "
                                 f"holds table records")
        self._hz = c_hz
        self._window_ms = wms
        self._window_jiffies = win
        self.fbits = fb
        self.nbits = nb
        self.tbits = tb
        self.fmax = (1 << fb) - 1
        self.nshift = fb
        self.nmask = (1 << nb) - 1
        self.tshift = fb + nb
        self.tmask = <uint32_t>((1 << tb) - 1)
        self.thr = thr
        self.window = win
        self.evict = bool(evict_stale)
        self.capacity_ = cap
        self.qcap = qcap
        self.nid_max = (1 << nb) - 1
        return arrs

    # Flatten the topology into `nodes`, with the queue index of each
    # top-tier node (ascending node ids, Topology.toptier_nids' order);
    # returns those node ids.  The store allocates after this.
    cdef list _init_nodes(self, dict arrs, int32_t default_nid):
        cdef int32_t i
        self._started = True
        self.default_nid = default_nid
        _nodemap_init(&self.nodes, arrs, default_nid)
        top = sorted(int(n) for n in np.asarray(arrs["nid"])[np.asarray(arrs["toptier"]) > 0])
        for i in range(len(top)):
            nodemap_set_queue(&self.nodes, top[i], i)
        return top

    cdef int _finish_init(self) except -1:
        self._inited = True
        _fork_safe(self)
        return 0

    cdef int _ready(self) except -1:
        if not self._inited:
            raise RuntimeError(f"{type(self).__name__}.__init__ was not called, or failed")
        return 0

    # An accessing node: its promotion target, or -1 for NUMA_NO_NODE.
    cdef int64_t _target_arg(self, object nid) except? -0x7FFFFFFFFFFFFFFF:
        cdef int64_t v = _int_arg(nid, "nid", -1, self.nid_max)
        if v < 0:
            return -1
        if nodemap_target(&self.nodes, v) < 0:
            raise ValueError(f"nid {v} is not a node of the topology")
        return nodemap_target(&self.nodes, v)

    # A top-tier node: its queue index.
    cdef int32_t _queue_arg(self, object nid) except -1:
        cdef int64_t v = _int_arg(nid, "nid", 0, self.nid_max)
        if nodemap_queue(&self.nodes, v) < 0:
            raise ValueError(f"nid {v} is not a top-tier node of the topology")
        return nodemap_queue(&self.nodes, v)

    # Totals of the stripes' counters (exact when no batch call is inside).
    cdef uint64_t _src_total(self, int s) noexcept nogil:
        return pghot_stripes_sum(self.gate.stripes, S_SRC + s)

    cdef uint64_t _out_total(self, int o) noexcept nogil:
        return pghot_stripes_sum(self.gate.stripes, S_OUT + o)

    # ------------------------------------------- the stores' kernels (defaults)

    cdef int _check_queue(self, object queue) except -1:
        return 0

    # One validated access, with the GIL held; the outcome.
    cdef int _record_one(self, uint64_t pfn, int64_t nid, uint64_t now) noexcept:
        return O_NOT_MOVABLE

    # A validated batch: add each access to per_src[source] and its outcome
    # to cnt[outcome].  scratch: scratch_len zeroed int64s of this call.
    cdef void _record_batch(self, const pghot_batch *b, int64_t *scratch, uint64_t *cnt,
                            uint64_t *per_src) noexcept nogil:
        pass

    # Records an extraction of queue q may return at most (max_count >= 0).
    cdef uint64_t _extract_limit(self, int32_t q, int64_t max_count) noexcept nogil:
        return 0

    # Remove up to want records of queue q with frequency >= thr; returns
    # how many, their PFNs and words written to out_pfn/out_word.
    cdef uint64_t _extract(self, int32_t q, uint64_t want, uint32_t thr, uint64_t *out_pfn,
                           uint32_t *out_word, int64_t *scratch) noexcept nogil:
        return 0

    # The word of pfn's record and whether it is queued; False when none.
    cdef bint _lookup_word(self, uint64_t pfn, uint32_t *word, bint *queued) noexcept:
        return False

    cdef uint64_t _records(self) noexcept:
        return 0

    cdef uint64_t _queued_in(self, int32_t q) noexcept nogil:
        return 0

    # The store's counters, indexed by C_* (_base.pxd).
    cdef void _counts(self, uint64_t *c) noexcept:
        pass

    # Counters of the store's own, after the common ones in stats().
    cdef dict _stats_extra(self):
        return {}

    cdef size_t _nbytes(self) noexcept:
        return 0

    cdef void _lock_all(self) noexcept nogil:
        pass

    cdef void _unlock_all(self) noexcept nogil:
        pass

    # Every invariant of the store with every lock held (_lock_all): 0 or a
    # code of `_messages` with up to three values in a.  No Python object
    # here: a Python finaliser run under the locks could hand the GIL to a
    # thread that then waits on them.
    cdef int _check_locked(self, uint64_t *a) noexcept nogil:
        return 0

    # The outcomes the store counts itself (those not in out_mask), with
    # every lock held.
    cdef uint64_t _locked_outcomes(self) noexcept nogil:
        return 0

    cdef list _repr_fields(self):
        return []

    # The store's blocks for _layout(): name -> list of (address, bytes)
    # that batch calls write; each block is meant to be a line (or lines) of
    # its own.
    cdef dict _layout_extra(self):
        return {}

    # ------------------------------------------------------------ public API

    def record_access(self, pfn, nid, src, now):
        """Report one access to a PFN (SEMANTICS.md section 4).

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
            (the pfn-array store never returns ``TABLE_FULL``).

        Examples
        --------
        >>> import pghot
        >>> t = pghot.Tracker(pghot.Topology.two_tier(1024, 4096))
        >>> t.record_access(10, 0, pghot.Source.HINT_FAULT, 0)
        <Outcome.TOPTIER: 1>
        >>> t.record_access(2000, 0, pghot.Source.HINT_FAULT, 0)
        <Outcome.RECORDED: 0>
        """
        self._ready()
        cdef uint64_t c_pfn = _pfn_arg(pfn)
        cdef int64_t c_nid = self._target_arg(nid)
        cdef int64_t c_src = _int_arg(src, "src", 0, NSOURCES - 1)
        cdef int64_t c_now = _int_arg(now, "now", 0, _I64_MAX)
        # counted before the store's locks are taken; the GIL is held
        # throughout, so check() never sees half of a single call
        cdef pghot_stripe_t *st = &self.gate.stripes[PGHOT_STRIPE_GIL]   # the GIL holder's
        pghot_add_u64(&st.count[S_SRC + c_src], 1)
        cdef int o = self._record_one(c_pfn, c_nid, <uint64_t>c_now)
        if (self.out_mask >> o) & 1:
            pghot_add_u64(&st.count[S_OUT + o], 1)
        return _OUTCOMES[o]

    def record_accesses(self, pfns, nids, srcs, nows):
        """Report a batch of accesses; the loop runs without the GIL.

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
        >>> t = pghot.Tracker(pghot.Topology.two_tier(1024, 4096))
        >>> t.record_accesses(np.array([5, 2000, 2000]), -1, 0, np.array([1, 2, 3])).tolist()
        [2, 1, 0, 0]
        >>> t.queued(0)
        1
        """
        self._ready()
        pa, na, sa, ta, nm_, sm_, tm_ = _batch_arrays(pfns, nids, srcs, nows, self.nid_max)
        cdef const uint64_t[::1] p = pa
        cdef int64_t[::1] nv = na
        cdef const int64_t[::1] sv = sa
        cdef const int64_t[::1] tv = ta
        cdef Py_ssize_t i
        # the accessing nodes become promotion targets (the kernel's `nid`)
        i = nodemap_targets(&self.nodes, &nv[0], nv.shape[0])
        if i >= 0:
            raise ValueError(f"nids[{i}] = {nv[i]} is not a node of the topology")
        cdef uint64_t cnt[NOUTCOMES]
        cdef uint64_t per_src[NSOURCES]
        memset(cnt, 0, sizeof(cnt))
        memset(per_src, 0, sizeof(per_src))
        cdef pghot_batch b
        b.n = p.shape[0]
        if b.n == 0:
            return np.zeros(NOUTCOMES, dtype=np.int64)
        b.pfn = &p[0]
        b.nid = &nv[0]
        b.src = &sv[0]
        b.now = &tv[0]
        b.nm = nm_
        b.sm = sm_
        b.tm = tm_
        cdef int64_t[::1] sc
        cdef int64_t *scp = NULL
        if self.scratch_len:
            sc = np.zeros(self.scratch_len, dtype=np.int64)
            scp = &sc[0]
        cdef pghot_stripe_t *st = pghot_gate_enter(&self.gate)
        with nogil:
            self._record_batch(&b, scp, cnt, per_src)   # the store's loop
            # published once per batch, into this thread's stripe
            for i in range(NSOURCES):
                if per_src[i]:
                    pghot_add_u64(&st.count[S_SRC + i], per_src[i])
            for i in range(NOUTCOMES):
                if cnt[i] and (self.out_mask >> i) & 1:
                    pghot_add_u64(&st.count[S_OUT + i], cnt[i])
            pghot_gate_leave(st)   # last: after the counter flushes
        return np.array([cnt[0], cnt[1], cnt[2], cnt[3]], dtype=np.int64)

    def extract_batch(self, nid, max_count=1024, threshold=None, return_records=False):
        """Remove and return the hottest queued records of a top-tier node.

        (The pfn-array store has no queue: it reads and resets ready records
        in PFN scan order, see :class:`pghot._pfnarray.PfnArrayTracker`.)

        Parameters
        ----------
        nid : int
            Top-tier node whose queue is drained.
        max_count : int, default 1024
            At most this many records.
        threshold : int, optional
            Minimum frequency; default the tracker's threshold.
        return_records : bool, default False
            Return a structured array (``pghot.RECORD_DTYPE``) instead of PFNs.

        Returns
        -------
        numpy.ndarray
            uint64 PFNs, highest frequency first (ties in any order).

        Examples
        --------
        >>> import pghot
        >>> t = pghot.Tracker(pghot.Topology.two_tier(1024, 4096), threshold=1)
        >>> for now, pfn in enumerate([3000, 2000, 3000]):
        ...     _ = t.record_access(pfn, -1, 0, now)
        >>> rec = t.extract_batch(0, return_records=True)
        >>> rec["pfn"].tolist(), rec["frequency"].tolist()
        ([3000, 2000], [2, 1])
        >>> len(t)
        0
        """
        self._ready()
        cdef int32_t q = self._queue_arg(nid)
        cdef int64_t c_max = _int_arg(max_count, "max_count", 0, _I64_MAX)
        cdef int64_t c_thr = self.thr if threshold is None else _int_arg(
            threshold, "threshold", 1, self.fmax)
        if not isinstance(return_records, (bool, np.bool_)):
            raise TypeError(f"return_records must be a bool, not {type(return_records).__name__}")
        cdef uint64_t want = self._extract_limit(q, c_max)
        pfn_out = np.empty(want, dtype=np.uint64)
        word_out = np.empty(want, dtype=np.uint32)
        cdef uint64_t[::1] pv = pfn_out
        cdef uint32_t[::1] wv = word_out
        cdef uint64_t got = 0
        cdef int64_t[::1] sc
        cdef int64_t *scp = NULL
        cdef pghot_stripe_t *st
        if want:
            if self.scratch_len:
                sc = np.zeros(self.scratch_len, dtype=np.int64)
                scp = &sc[0]
            st = pghot_gate_enter(&self.gate)
            with nogil:
                got = self._extract(q, want, <uint32_t>c_thr, &pv[0], &wv[0], scp)
                pghot_gate_leave(st)
        pfn_out = pfn_out[:got]
        if not return_records:
            return pfn_out
        w = word_out[:got]
        rec = np.empty(got, dtype=RECORD_DTYPE)
        rec["pfn"] = pfn_out
        rec["frequency"] = w & self.fmax
        rec["nid"] = (w >> self.nshift) & self.nmask if self.nmask else self.default_nid
        rec["last_update"] = (w >> self.tshift) & self.tmask
        return rec

    def lookup(self, pfn):
        """The record of a PFN, or None (inspecting does not change it).

        Examples
        --------
        >>> import pghot
        >>> t = pghot.Tracker(pghot.Topology.two_tier(1024, 4096))
        >>> _ = t.record_access(2000, -1, 0, 7)
        >>> t.lookup(2000)
        Record(pfn=2000, frequency=1, nid=0, last_update=7, queued=-1)
        >>> t.lookup(2001) is None
        True
        """
        self._ready()
        cdef uint64_t c_pfn = _pfn_arg(pfn)
        cdef uint32_t w = 0
        cdef bint queued = False
        if not self._lookup_word(c_pfn, &w, &queued):
            return None
        cdef uint32_t nid = (w >> self.nshift) & self.nmask if self.nmask else self.default_nid
        return Record(int(c_pfn), w & self.fmax, nid, (w >> self.tshift) & self.tmask,
                      nid if queued else -1)

    def set_movable(self, pfns, flag):
        """Mark lower-tier PFNs movable (default) or not movable.

        Accesses to a PFN that is not movable are ignored
        (``Outcome.NOT_MOVABLE``); its existing record is kept.  Every PFN
        is checked first (each on a lower-tier node: ValueError naming the
        first that is not, nothing changed), then all are marked inside the
        gate, so a snapshot never sees half of a call.

        Examples
        --------
        >>> import pghot
        >>> t = pghot.Tracker(pghot.Topology.two_tier(1024, 4096))
        >>> t.set_movable([2000, 2001], False)
        >>> t.record_access(2000, -1, 0, 0)
        <Outcome.NOT_MOVABLE: 2>
        """
        self._ready()
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"flag must be a bool, not {type(flag).__name__}")
        cdef const uint64_t[::1] v = _movable_pfns(pfns)
        cdef bint movable = bool(flag)
        cdef Py_ssize_t i, n = v.shape[0]
        cdef int32_t k
        for i in range(n):
            k = nodemap_index(&self.nodes, v[i])
            if k < 0 or self.nodes.top[k]:
                raise ValueError(f"pfns[{i}] = {v[i]} is not a PFN of a lower-tier node")
        cdef pghot_stripe_t *st = pghot_gate_enter(&self.gate)
        with nogil:
            for i in range(n):
                nodemap_set_movable(&self.nodes, nodemap_index(&self.nodes, v[i]), v[i], movable)
            pghot_gate_leave(st)

    def set_movable_range(self, first_pfn, count, flag):
        """Mark the ``count`` PFNs from ``first_pfn`` movable or not, as :meth:`set_movable`.

        The PFNs must lie on one lower-tier node; O(count / 64) (whole
        bitmap words at once), so a simulated memory marks a terabyte of
        free PFNs in milliseconds.  Checked first (nothing changed on an
        error), then marked inside the gate.

        Examples
        --------
        >>> import pghot
        >>> t = pghot.Tracker(pghot.Topology.two_tier(1024, 4096))
        >>> t.set_movable_range(1024, 4096, False)
        >>> t.record_access(5000, -1, 0, 0)
        <Outcome.NOT_MOVABLE: 2>
        >>> t.set_movable_range(1024, 4097, True)
        Traceback (most recent call last):
            ...
        ValueError: first_pfn, count: PFNs 1024..5120 are not all on one lower-tier node
        """
        self._ready()
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"flag must be a bool, not {type(flag).__name__}")
        cdef int64_t first = _int_arg(first_pfn, "first_pfn", 0, 2**62)
        cdef int64_t n = _int_arg(count, "count", 0, 2**62)
        if n == 0:
            return
        cdef int32_t k = nodemap_index(&self.nodes, <uint64_t>first)
        if (k < 0 or self.nodes.top[k]
                or nodemap_index(&self.nodes, <uint64_t>(first + n - 1)) != k):
            raise ValueError(f"first_pfn, count: PFNs {first}..{first + n - 1} are not all on one "
                             "lower-tier node")
        cdef bint movable = bool(flag)
        cdef pghot_stripe_t *st = pghot_gate_enter(&self.gate)
        with nogil:
            nodemap_set_movable_range(&self.nodes, k, <uint64_t>first, <uint64_t>n, movable)
            pghot_gate_leave(st)

    def __len__(self):
        """Records held (exact whenever no batch call runs)."""
        self._ready()
        return <Py_ssize_t>self._records()

    def queued(self, nid):
        """Number of records in a top-tier node's queue (pfn-array: ready records).

        Examples
        --------
        >>> import pghot
        >>> pghot.Tracker(pghot.Topology.two_tier(1024, 4096)).queued(0)
        0
        """
        self._ready()
        cdef int32_t q = self._queue_arg(nid)
        return self._queued_in(q)

    def stats(self):
        """Event counters (the kernel's vmstat names, then the package's own).

        Examples
        --------
        >>> import pghot
        >>> t = pghot.Tracker(pghot.Topology.two_tier(1024, 4096))
        >>> _ = t.record_access(2000, -1, pghot.Source.PGTABLE_SCAN, 0)
        >>> s = t.stats()
        >>> s["pghot_recorded_accesses"], s["pghot_recorded_pgtscans"], s["pghot_records_hash"]
        (1, 1, 1)
        """
        self._ready()
        cdef uint64_t c[NCOUNTS]
        cdef int i
        memset(c, 0, sizeof(c))
        self._counts(c)
        src = [self._src_total(i) for i in range(NSOURCES)]
        d = {
            "pghot_recorded_accesses": sum(src),
            "pghot_recorded_hwhints": src[0],
            "pghot_recorded_pgtscans": src[1],
            "pghot_recorded_hintfaults": src[2],
            "pghot_records_hash": c[C_CREATED],
            "pghot_records_heap": c[C_PUSHES],
            "recorded": c[C_RECORDED],
            "toptier": self._out_total(O_TOPTIER),
            "not_movable": self._out_total(O_NOT_MOVABLE),
            "table_full": c[C_TABLE_FULL],
            "queue_full": c[C_QUEUE_FULL],
            "evicted": c[C_EVICTED],
            "extracted": c[C_EXTRACTED],
        }
        d.update(self._stats_extra())
        d["records"] = self._records()
        d["queued"] = c[C_QUEUED]
        return d

    def memory_bytes(self):
        """Bytes the tracker allocated (each store's class docstring says which).

        Examples
        --------
        >>> import pghot
        >>> t = pghot.Tracker(pghot.Topology.two_tier(1 << 20, 1 << 21))
        >>> t.memory_bytes() / t.capacity < 24
        True
        """
        self._ready()
        return self._nbytes()

    def check(self):
        """Verify every invariant of SEMANTICS.md section 5 (each store's own).

        Takes every lock of the store, so it sees a consistent state even
        while other threads run; the identity between access counts and
        outcomes is checked only when no batch call is running.

        Raises
        ------
        RuntimeError
            Naming the first violated invariant.

        Examples
        --------
        >>> import pghot
        >>> pghot.Tracker(pghot.Topology.two_tier(1024, 4096)).check()
        """
        cdef uint64_t a[3]
        cdef uint64_t accesses = 0, outcomes
        cdef int code, i
        a[0] = a[1] = a[2] = 0
        self._ready()
        # The GIL stays held: single calls, which count an access before
        # taking a lock, cannot be half done, and no batch can start
        # (`active` is raised with the GIL).  The lock holders we wait for
        # run without the GIL and never ask for it.
        self._lock_all()
        code = self._check_locked(a)
        if code == 0 and pghot_gate_idle(&self.gate):
            outcomes = self._locked_outcomes()
            for i in range(NOUTCOMES):
                if (self.out_mask >> i) & 1:
                    outcomes += self._out_total(i)
            for i in range(NSOURCES):
                accesses += self._src_total(i)
            if accesses != outcomes:
                a[0] = accesses
                a[1] = outcomes
                code = -1
        self._unlock_all()
        if code:
            msg = _COUNT_MESSAGE if code < 0 else self._messages[code]
            raise RuntimeError("pghot invariant violated: " + msg.format(a[0], a[1], a[2]))

    # Quiescence: with the gate closed (pghot_sync.h) no batch call is
    # inside, none holds a lock or has counters to flush, and none can
    # enter until the gate opens.  Single calls hold the GIL through their
    # lock sections, so a GIL holder sees none of them half done either.
    def _fork_prepare(self):
        """Before ``os.fork()``: close the gate (see :func:`_fork_safe`).

        No lock is taken: at the instant of ``fork()`` the forking thread
        holds the GIL, so no single call is inside a lock section, and the
        closed gate keeps every GIL-free call out.
        """
        pghot_gate_close(&self.gate)

    def _fork_done(self):
        """After ``os.fork()``, in parent and child: open the gate again."""
        pghot_gate_open(&self.gate)

    def _layout(self):
        """Where the memory that batch calls write lies (private, for the layout test).

        Returns a dict: ``"object"``, the ``(address, bytes)`` of the
        tracker's own fields, which every access reads and no batch call
        writes; ``"stripes"``, the per-thread stripes (gate count and
        lock-free counters; the last one is the single calls', which hold
        the GIL); and the store's blocks (``"shards"``,
        ``"lists"``, ``"queues"``, ``"counters"``, ...), each a list of
        ``(address, bytes)`` that a batch call writes.  Two threads that
        record PFNs of different shards (lists, sections) and target
        different queues write no common cache line iff no two blocks share
        a 64-byte line and none shares a line with the object.

        >>> import pghot
        >>> lay = pghot.Tracker(pghot.Topology.two_tier(64, 256))._layout()
        >>> len(lay["stripes"]), lay["stripes"][1][0] - lay["stripes"][0][0]
        (17, 64)
        """
        self._ready()
        cdef int i
        d = {"object": [(<size_t><void *>self, type(self).__basicsize__)],
             "stripes": [(<size_t>&self.gate.stripes[i], sizeof(pghot_stripe_t))
                         for i in range(PGHOT_NSTRIPES_ALL)]}
        d.update(self._layout_extra())
        return d

    def __reduce__(self):
        raise TypeError(f"{type(self).__name__} cannot be pickled or saved: only the "
                        f"'hash' store writes snapshots")

    # ------------------------------------------------------------ properties

    @property
    def topology(self):
        """The :class:`pghot.Topology` the tracker was built with."""
        return self._topology

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
    def threshold(self):
        """Frequency at which a record is queued (pfn-array: becomes ready)."""
        return self.thr

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
        """Records the tracker holds at most."""
        return self.capacity_

    @property
    def queue_capacity(self):
        """Entries each top-tier queue holds at most."""
        return self.qcap

    @property
    def evict_stale(self):
        return bool(self.evict)

    def __repr__(self):
        if not self._inited:
            return f"{type(self).__name__}(<uninitialised>)"
        return (f"{type(self).__name__}("
                + ", ".join(f"{k}={v!r}" for k, v in self._repr_fields()) + ")")
