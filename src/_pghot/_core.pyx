# The pghot tracker: PFN table + per-node queues + the record/extract kernels.
#
# Data: `tab` (table.pxd) holds one 16-byte record per tracked PFN: the PFN,
# the packed word  freq | target nid << freq_bits | time << (freq_bits +
# nid_bits)  and the record's queue handle.  Each top-tier node has a queue
# (pqueue.pxd: dheap.pxd binary by default, or 4-ary, or bucketq.pxd) of
# (frequency, slot) entries and a lock.  The topology is flattened by
# nodes.pxd (node ranges, promotion target per node id, one "not movable" bit
# per lower-tier PFN, the queue index of each top-tier node id).
#
# Invariants (checked by Tracker.check, SEMANTICS.md section 5):
#   - a record is queued in at most one queue, its target node's, and the
#     entry's handle is the record's qpos;
#   - queued iff frequency >= threshold, unless a push was refused (full);
#   - population == sum of shard counts == created - extracted - evicted.
#
# Concurrency: the shard lock guards a shard's records (pfn, word, whether
# queued); a queue lock guards its queue and the qpos values it writes.
# Lock order: shard lock, then one queue lock at a time; extraction, which
# starts from a queue, only try-locks the shard under the queue lock, or
# drops the queue lock, takes the shard lock and re-checks the top.  No lock
# is ever held while the GIL is requested.  Event counters of the unlocked
# paths (per source, top tier, not movable) are relaxed atomics, flushed
# once per batch.
#
# Errors: everything is validated with the GIL held before any state changes;
# the kernels below are `noexcept nogil` and cannot fail.

cimport cython
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_AsUnsignedLongLong
from cpython.number cimport PyIndex_Check, PyNumber_Index
from libc.stdlib cimport malloc, calloc, free
from libc.string cimport memset

cdef extern from "<stdlib.h>" nogil:
    int posix_memalign(void **memptr, size_t alignment, size_t size)

from defs cimport *
from nodes cimport *
from args cimport _int_arg, _pfn_arg, _check_range
from pqueue cimport queue_ops
from table cimport shard_t, table_t, table_place, table_find
from qdesigns cimport NQUEUE_DESIGNS, queue_designs

import json
import os
import weakref

import numpy as np
# imported now, not on first use: numpy loads numpy.ma lazily, and a lazy
# import in a call could meet an import lock left held by a fork
from numpy.ma import MaskedArray as _MaskedArray

from pghot._types import RECORD_DTYPE, Outcome, Record

cdef enum:
    O_RECORDED = 0
    O_TOPTIER = 1
    O_NOT_MOVABLE = 2
    O_TABLE_FULL = 3
    NSOURCES = 3
    SHARD_MIN_RECORDS = 4096   # smaller shards buy no parallelism
    SHARD_MAX_BITS = 8
    EVICT_SCAN = 256           # slots searched for a stale record to evict
    PREFETCH_AHEAD = 16        # accesses between a slot's prefetch and its use

cdef tuple _OUTCOMES = tuple(Outcome)
SNAPSHOT_VERSION = 1
cdef int64_t _I64_MAX = 0x7FFFFFFFFFFFFFFF

# The queue designs, each behind the queue_ops interface (pqueue.pxd).
cdef queue_ops _QUEUE_OPS[NQUEUE_DESIGNS]
queue_designs(_QUEUE_OPS)
_QUEUES = {"binary": 0, "quaternary": 1, "bucket": 2}

_CHECK_MESSAGES = (
    "",
    "record of pfn {0} has frequency 0",
    "record of pfn {0} is not in a lower-tier node",
    "record of pfn {0} targets node {1}, which is not a top-tier node",
    "record of pfn {0} is in shard {1} but hashes to shard {2}",
    "record of pfn {0} is unreachable from its home slot",
    "pfn {0} has two records",
    "record of pfn {0} is not at its position in node {1}'s queue",
    "queue key {1} of pfn {0} differs from its frequency {2}",
    "pfn {0} is queued with frequency {2} below the threshold",
    "shard {0} counts {1} records but holds {2}",
    "queue of node {0} breaks its order or back-pointer at position {1}",
    "queues hold {0} entries but {1} records are queued",
    "{0} records reached the threshold unqueued, and no push was refused",
    "table holds {0} records, population says {1}",
    "table holds {0} records, capacity is {1}",
    "table holds {0} records, created - extracted - evicted = {1}",
    "{0} accesses counted, their outcomes add up to {1}",
)


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
    the calls inside to leave) and ``_fork_done()`` (open it again).
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

    Shared by every store's ``record_accesses``.  ``nid_max`` bounds the
    accessing node ids; whether each is a node is the store's check, which
    turns them into promotion targets (``nodemap_targets``, nodes.pxd).
    Returns ``(pfns u64, nids i64, srcs i64, nows i64, nid_mask, src_mask,
    now_mask)``: element ``i`` of a broadcast scalar is at ``i & mask``.  The
    arrays are copied before they are validated (``_int_array``) and only the
    copies are used: the batch loop reads them without the GIL, when another
    thread could rewrite the caller's arrays.
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


def _check_fits(nbytes, str what):
    """MemoryError, before anything is allocated, when ``nbytes`` exceed the
    machine's physical memory: the tables are written in full at creation,
    so an overcommitted allocation would end in the OOM killer, not here."""
    try:
        phys = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return
    if nbytes > phys:
        raise MemoryError(f"{what} need {nbytes / 2**30:.1f} GiB, more than this machine's "
                          f"{phys / 2**30:.1f} GiB of memory")


def table_geometry(capacity):
    """``(nshards, shard_slots)`` of the table of a tracker of ``capacity`` records.

    Computed without allocating anything, so that a snapshot's claimed
    capacity can be checked against the arrays the file really holds.

    Examples
    --------
    >>> table_geometry(100), table_geometry(1 << 20)
    ((1, 117), (256, 4779))
    """
    cdef int64_t cap = _int_arg(capacity, "capacity", 0, 1 << 31)
    cdef uint32_t b = 0
    while b < SHARD_MAX_BITS and (cap >> (b + 1)) >= SHARD_MIN_RECORDS:
        b += 1
    cdef uint64_t nshards = 1 << b
    cdef uint64_t per = (cap + nshards - 1) // nshards
    return int(nshards), int(per + per // 6 + 1)


# --------------------------------------------------------------------------

@cython.final
cdef class Tracker:
    """Hot page tracker: a PFN table plus one max-queue per top-tier node.

    Parameters
    ----------
    topology : pghot.Topology
        Nodes and PFN ranges; only PFNs of lower-tier nodes are tracked.
    hz : int, default 1000
        Jiffies per second of the ``now`` values passed in.
    freq_window_ms : int, default 5000
        An access later than this after the previous one restarts the count.
    threshold : int, default 2
        Frequency at which a record enters its target node's queue.
    freq_bits, nid_bits, time_bits : int, default 3, 10, 19
        Widths of the packed record word (sum at most 32).
    capacity : int, optional
        Records the table holds; default 50 % of the lower-tier pages.
    queue_capacity : int, optional
        Entries per top-tier queue; default 25 % of ``capacity`` (at least 1).
    queue : {"binary", "quaternary", "bucket"}
        Queue design: the kernel's indexed binary max-heap, a 4-ary heap, or
        one FIFO list per frequency value (O(1) operations).
    evict_stale : bool, default False
        When the table is full, let a new PFN replace a record older than the
        window that is not queued (counted as ``evicted``).

    Examples
    --------
    >>> import pghot
    >>> t = pghot.Tracker(pghot.Topology.two_tier(1024, 4096))
    >>> t.record_access(1500, -1, pghot.Source.HW_HINTS, 10)
    <Outcome.RECORDED: 0>
    >>> t.record_access(1500, -1, pghot.Source.HW_HINTS, 20)
    <Outcome.RECORDED: 0>
    >>> t.extract_batch(0).tolist()
    [1500]
    """

    cdef table_t tab
    cdef const queue_ops *qops
    cdef void **queues
    cdef pghot_lock_t *qlocks
    cdef int32_t *qnid            # node id of each queue
    cdef uint64_t *qlen           # each queue's size, written under its lock,
                                  # read without it to refuse a push to a full
                                  # queue without taking the lock
    cdef int32_t nqueues
    cdef uint32_t fbits, nbits, tbits, fmax, nmask, tmask, thr, window
    cdef bint evict
    cdef uint64_t qcap
    cdef uint64_t src_count[NSOURCES]
    cdef uint64_t toptier_count
    cdef uint64_t notmov_count
    cdef pghot_gate_t gate        # batch calls in flight; closed by snapshots and fork
    cdef nodemap_t nodes          # the topology, flattened (nodes.pxd)
    cdef object _topology
    cdef int64_t _hz
    cdef int64_t _window_ms
    cdef str _queue_name
    cdef object __weakref__       # for the at-fork registry
    cdef bint _inited             # __init__ ran to its end: every part is there

    def __cinit__(self, *args, **kwargs):
        self.tab.recs = NULL
        self.tab.shards = NULL
        self.qops = NULL
        self.queues = NULL
        self.qlocks = NULL
        self.qnid = NULL
        self.qlen = NULL
        memset(&self.nodes, 0, sizeof(nodemap_t))
        self.nqueues = 0

    def __init__(self, topology, *, hz=1000, freq_window_ms=5000, threshold=2,
                 freq_bits=3, nid_bits=10, time_bits=19, capacity=None,
                 queue_capacity=None, queue="binary", evict_stale=False):
        from pghot.topology import Topology
        if self.tab.recs != NULL:
            raise RuntimeError("Tracker is already initialised")
        if not isinstance(topology, Topology):
            raise TypeError(f"topology must be a pghot.Topology, not {type(topology).__name__}")
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
        if queue not in _QUEUES:
            raise ValueError(f"queue must be one of {sorted(_QUEUES)}, got {queue!r}")
        if not isinstance(evict_stale, (bool, np.bool_)):
            raise TypeError(f"evict_stale must be a bool, not {type(evict_stale).__name__}")
        nids = [n.nid for n in topology.nodes]
        if max(nids) >= (1 << nb):
            raise ValueError(f"nid_bits={nb} cannot hold node id {max(nids)} of the topology")
        arrs = topology.arrays()
        lower = int(topology.lower_pages())
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
        nshards_, slots_ = table_geometry(cap)
        _check_fits(nshards_ * slots_ * sizeof(pghot_rec)
                    + len(topology.toptier_nids()) * qcap * 16,
                    f"a table of {cap} records and queues of {qcap}")

        self._topology = topology
        self._hz = c_hz
        self._window_ms = wms
        self._queue_name = queue
        self.fbits = fb
        self.nbits = nb
        self.tbits = tb
        self.fmax = (1 << fb) - 1
        self.nmask = (1 << nb) - 1
        self.tmask = <uint32_t>((1 << tb) - 1)
        self.thr = thr
        self.window = win
        self.evict = bool(evict_stale)
        self.qcap = qcap
        self.qops = &_QUEUE_OPS[_QUEUES[queue]]
        self._init_topology(arrs)
        self._init_table(cap)
        self._init_queues(topology)
        self._inited = True
        _fork_safe(self)

    cdef _init_topology(self, dict arrs):
        nodemap_init(&self.nodes, arrs, self._topology.default_node)

    cdef _init_table(self, int64_t cap):
        nshards_, slots_ = table_geometry(cap)
        cdef uint64_t nshards = nshards_
        cdef uint64_t slots = slots_
        cdef uint32_t b = 0
        while (1ULL << b) < nshards:
            b += 1
        cdef uint64_t i
        self.tab.nshards = nshards
        self.tab.shard_bits = b
        self.tab.shard_slots = slots
        self.tab.capacity = cap
        self.tab.population = 0
        self.tab.recs = <pghot_rec *>malloc(nshards * slots * sizeof(pghot_rec))
        if posix_memalign(<void **>&self.tab.shards, 64, nshards * sizeof(shard_t)) != 0:
            self.tab.shards = NULL
        else:
            memset(self.tab.shards, 0, nshards * sizeof(shard_t))
        if self.tab.recs == NULL or self.tab.shards == NULL:
            raise MemoryError(f"cannot allocate a table of {cap} records")
        with nogil:
            for i in range(nshards * slots):
                self.tab.recs[i].pfn = PGHOT_PFN_EMPTY
                self.tab.recs[i].word = 0
                self.tab.recs[i].qpos = PGHOT_QPOS_NONE
        for i in range(nshards):
            pghot_lock_init(&self.tab.shards[i].lock)
            self.tab.shards[i].max_nr = slots - 1

    cdef _init_queues(self, topology):
        top = list(topology.toptier_nids())
        cdef int32_t i
        self.queues = <void **>calloc(len(top), sizeof(void *))
        self.qlocks = <pghot_lock_t *>calloc(len(top), sizeof(pghot_lock_t))
        self.qnid = <int32_t *>calloc(len(top), sizeof(int32_t))
        self.qlen = <uint64_t *>calloc(len(top), sizeof(uint64_t))
        if self.queues == NULL or self.qlocks == NULL or self.qnid == NULL or self.qlen == NULL:
            raise MemoryError()
        for i in range(len(top)):
            self.queues[i] = self.qops.create(self.qcap, self.fmax, self.tab.recs)
            if self.queues[i] == NULL:
                raise MemoryError(f"cannot allocate a queue of {self.qcap} entries")
            self.nqueues = i + 1
            pghot_lock_init(&self.qlocks[i])
            self.qnid[i] = top[i]
            nodemap_set_queue(&self.nodes, top[i], i)

    def __dealloc__(self):
        cdef int32_t i
        if self.queues != NULL:
            for i in range(self.nqueues):
                if self.queues[i] != NULL:
                    self.qops.destroy(self.queues[i])
            free(self.queues)
        free(self.qlocks)
        free(self.qnid)
        free(self.qlen)
        free(self.tab.recs)
        free(self.tab.shards)
        nodemap_free(&self.nodes)

    # ---------------------------------------------------------------- kernels

    cdef inline uint32_t _pack(self, uint32_t freq, uint32_t nid, uint32_t t) noexcept nogil:
        return freq | (nid << self.fbits) | (t << (self.fbits + self.nbits))

    cdef inline uint32_t _freq(self, uint32_t w) noexcept nogil:
        return w & self.fmax

    cdef inline uint32_t _nid(self, uint32_t w) noexcept nogil:
        return (w >> self.fbits) & self.nmask

    cdef inline uint32_t _time(self, uint32_t w) noexcept nogil:
        return (w >> (self.fbits + self.nbits)) & self.tmask

    # Move the record at slot src to the empty slot dst of the same shard;
    # its queue entry follows.  Caller holds the shard lock.
    cdef inline void _move(self, uint32_t src, uint32_t dst) noexcept nogil:
        cdef pghot_rec *r = &self.tab.recs[src]
        cdef int32_t q
        if pghot_load_u32(&r.qpos) == PGHOT_QPOS_NONE:
            self.tab.recs[dst] = r[0]
            return
        q = nodemap_queue(&self.nodes, self._nid(r.word))
        pghot_lock(&self.qlocks[q])
        self.tab.recs[dst] = r[0]
        self.qops.relocate(self.queues[q], pghot_load_u32(&self.tab.recs[dst].qpos), dst)
        pghot_unlock(&self.qlocks[q])

    # O(run length): delete the (unqueued) record at global slot g by
    # shifting the rest of its run back.  Caller holds the shard lock.
    cdef void _delete(self, uint32_t g) noexcept nogil:
        cdef uint32_t ss = self.tab.shard_slots
        cdef uint32_t base = (g // ss) * ss
        cdef uint32_t i = g - base, j = i, k, sh
        cdef bint stay
        while True:
            j += 1
            if j == ss:
                j = 0
            if self.tab.recs[base + j].pfn == PGHOT_PFN_EMPTY:
                break
            table_place(&self.tab, self.tab.recs[base + j].pfn, &sh, &k)
            # the record at j may fill hole i unless its home lies in (i, j]
            if i <= j:
                stay = i < k <= j
            else:
                stay = i < k or k <= j
            if stay:
                continue
            self._move(base + j, base + i)
            i = j
        self.tab.recs[base + i].pfn = PGHOT_PFN_EMPTY
        self.tab.recs[base + i].word = 0
        self.tab.recs[base + i].qpos = PGHOT_QPOS_NONE

    # Queue operations with the queue lock taken around them.  A record's
    # qpos is read only under its queue's lock: a thread holding another
    # shard's lock may be sifting the same queue, moving this record's entry.
    cdef inline void _q_remove(self, int32_t q, uint32_t slot) noexcept nogil:
        pghot_lock(&self.qlocks[q])
        self.qops.remove(self.queues[q], pghot_load_u32(&self.tab.recs[slot].qpos))
        pghot_store_u64(&self.qlen[q], self.qops.size(self.queues[q]))
        pghot_unlock(&self.qlocks[q])

    cdef inline bint _q_push(self, int32_t q, uint32_t slot, uint32_t key) noexcept nogil:
        cdef int rc
        if pghot_load_u64(&self.qlen[q]) >= self.qcap:
            return False
        pghot_lock(&self.qlocks[q])
        rc = self.qops.push(self.queues[q], slot, key)
        pghot_store_u64(&self.qlen[q], self.qops.size(self.queues[q]))
        pghot_unlock(&self.qlocks[q])
        return rc == 0

    cdef inline bint _reserve(self) noexcept nogil:
        return pghot_inc_below(&self.tab.population, self.tab.capacity)

    # SEMANTICS.md section 4, steps 3-7, for a validated access.  Returns the
    # outcome; counts per source are the caller's.
    cdef int _record(self, uint64_t pfn, int64_t nid, uint64_t now) noexcept nogil:
        cdef int32_t k = nodemap_index(&self.nodes, pfn)
        if k < 0:
            return O_NOT_MOVABLE
        if self.nodes.top[k]:
            return O_TOPTIER
        if nodemap_unmovable(&self.nodes, k, pfn):
            return O_NOT_MOVABLE

        cdef uint32_t tgt = <uint32_t>(self.nodes.default_nid if nid < 0 else nid)
        cdef uint32_t cur = <uint32_t>(now & self.tmask)
        cdef uint32_t s, home, g, old_tgt, old_freq = 0, freq
        cdef bint found, queued = False
        cdef shard_t *sh
        cdef pghot_rec *r
        cdef int32_t q
        table_place(&self.tab, pfn, &s, &home)
        sh = &self.tab.shards[s]

        pghot_lock(&sh.lock)
        g = table_find(&self.tab, s, home, pfn, &found)
        r = &self.tab.recs[g]
        if found:
            old_freq = self._freq(r.word)
            old_tgt = self._nid(r.word)
            if (((cur - self._time(r.word)) & self.tmask) > self.window
                    or (nid >= 0 and tgt != old_tgt)):
                freq = 1
            else:
                freq = old_freq + 1 if old_freq < self.fmax else old_freq
            r.word = self._pack(freq, tgt, cur)
            queued = pghot_load_u32(&r.qpos) != PGHOT_QPOS_NONE
        else:
            if sh.nr < sh.max_nr and self._reserve():
                sh.nr += 1
            elif self.evict and self._evict(s, home, &g, cur, pfn):
                sh.evicted += 1
                r = &self.tab.recs[g]
            else:
                sh.table_full += 1
                pghot_unlock(&sh.lock)
                return O_TABLE_FULL
            r.pfn = pfn
            r.word = self._pack(1, tgt, cur)
            pghot_store_u32(&r.qpos, PGHOT_QPOS_NONE)
            sh.created += 1
            freq = 1
            old_tgt = tgt

        # Queue: only ever the target's queue (F4), whenever freq >= threshold (F5).
        if queued and old_tgt != tgt:
            self._q_remove(nodemap_queue(&self.nodes, old_tgt), g)
            queued = False
        if freq >= self.thr:
            if not queued:
                if self._q_push(nodemap_queue(&self.nodes, tgt), g, freq):
                    sh.pushes += 1
                else:
                    sh.queue_full += 1       # F14: stays unqueued, counted
            elif freq != old_freq:
                q = nodemap_queue(&self.nodes, tgt)
                pghot_lock(&self.qlocks[q])
                self.qops.update(self.queues[q], pghot_load_u32(&r.qpos), freq)
                pghot_unlock(&self.qlocks[q])
        elif queued:
            self._q_remove(nodemap_queue(&self.nodes, tgt), g)
        sh.recorded += 1
        pghot_unlock(&sh.lock)
        return O_RECORDED

    cdef inline bint _stale_unqueued(self, uint32_t g, uint32_t cur) noexcept nogil:
        cdef pghot_rec *r = &self.tab.recs[g]
        return (r.pfn != PGHOT_PFN_EMPTY
                and pghot_load_u32(&r.qpos) == PGHOT_QPOS_NONE
                and ((cur - self._time(r.word)) & self.tmask) > self.window)

    # Make room for pfn in a full table by giving up a record older than the
    # window that is not queued.  First choice: one in pfn's own run
    # [home, g[0]), overwritten in place (every slot of the run is a valid
    # place for pfn).  Else the first one among the next EVICT_SCAN slots of
    # the shard, deleted, after which pfn's empty slot is found again.  On
    # success g[0] is pfn's slot (its old contents to be overwritten) and the
    # shard's record count is unchanged.  Caller holds the shard lock.
    cdef bint _evict(self, uint32_t s, uint32_t home, uint32_t *g, uint32_t cur,
                     uint64_t pfn) noexcept nogil:
        cdef uint32_t ss = self.tab.shard_slots
        cdef uint32_t base = s * ss
        cdef uint32_t i = home, n
        cdef bint found
        while base + i != g[0]:
            if self._stale_unqueued(base + i, cur):
                g[0] = base + i
                return True
            i = i + 1 if i + 1 < ss else 0
        for n in range(min(<uint32_t>EVICT_SCAN, ss)):
            i = i + 1 if i + 1 < ss else 0
            if self._stale_unqueued(base + i, cur):
                self._delete(base + i)
                g[0] = table_find(&self.tab, s, home, pfn, &found)
                return True
        return False

    # Pop up to max_count records with key >= thr from queue q and delete
    # them from the table; returns how many.
    cdef uint64_t _extract(self, int32_t q, uint64_t max_count, uint32_t thr,
                           uint64_t *out_pfn, uint32_t *out_word) noexcept nogil:
        cdef uint64_t n = 0
        cdef void *qp = self.queues[q]
        cdef pghot_lock_t *ql = &self.qlocks[q]
        cdef uint32_t slot, key, slot2, key2
        cdef shard_t *sh
        while n < max_count:
            pghot_lock(ql)
            if not self.qops.peek(qp, &slot, &key) or key < thr:
                pghot_unlock(ql)
                break
            sh = &self.tab.shards[slot // self.tab.shard_slots]
            if not pghot_trylock(&sh.lock):
                # respect the lock order, then make sure the top is unchanged
                pghot_unlock(ql)
                pghot_lock(&sh.lock)
                pghot_lock(ql)
                if (not self.qops.peek(qp, &slot2, &key2) or slot2 != slot
                        or key2 < thr):
                    pghot_unlock(ql)
                    pghot_unlock(&sh.lock)
                    continue
            self.qops.pop(qp)
            pghot_store_u64(&self.qlen[q], self.qops.size(qp))
            pghot_unlock(ql)
            out_pfn[n] = self.tab.recs[slot].pfn
            out_word[n] = self.tab.recs[slot].word
            n += 1
            self._delete(slot)
            sh.nr -= 1
            sh.extracted += 1
            pghot_sub_u64(&self.tab.population, 1)
            pghot_unlock(&sh.lock)
        return n

    # ------------------------------------------------------------ public API

    cdef inline int _ready(self) except -1:
        if not self._inited:
            raise RuntimeError("Tracker.__init__ was not called, or failed")
        return 0

    # An accessing node: its promotion target, or -1 for NUMA_NO_NODE.
    cdef inline int64_t _target_arg(self, object nid) except? -0x7FFFFFFFFFFFFFFF:
        cdef int64_t v = _int_arg(nid, "nid", -1, (1 << self.nbits) - 1)
        if v < 0:
            return -1
        if nodemap_target(&self.nodes, v) < 0:
            raise ValueError(f"nid {v} is not a node of the topology")
        return nodemap_target(&self.nodes, v)

    # A top-tier node: its queue index.
    cdef inline int32_t _queue_arg(self, object nid) except -1:
        cdef int64_t v = _int_arg(nid, "nid", 0, (1 << self.nbits) - 1)
        if nodemap_queue(&self.nodes, v) < 0:
            raise ValueError(f"nid {v} is not a top-tier node of the topology")
        return nodemap_queue(&self.nodes, v)

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
        pghot_add_u64(&self.src_count[c_src], 1)
        cdef int o = self._record(c_pfn, c_nid, <uint64_t>c_now)
        if o == O_TOPTIER:
            pghot_add_u64(&self.toptier_count, 1)
        elif o == O_NOT_MOVABLE:
            pghot_add_u64(&self.notmov_count, 1)
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
        pa, na, sa, ta, nm_, sm_, tm_ = _batch_arrays(pfns, nids, srcs, nows, (1 << self.nbits) - 1)
        cdef const uint64_t[::1] p = pa
        cdef int64_t[::1] nv = na
        cdef const int64_t[::1] sv = sa
        cdef const int64_t[::1] tv = ta
        cdef Py_ssize_t n = p.shape[0]
        cdef Py_ssize_t nm = nm_, sm = sm_, tm = tm_
        cdef Py_ssize_t i
        # the accessing nodes become promotion targets (the kernel's `nid`)
        i = nodemap_targets(&self.nodes, &nv[0], nv.shape[0])
        if i >= 0:
            raise ValueError(f"nids[{i}] = {nv[i]} is not a node of the topology")

        out = np.zeros(4, dtype=np.int64)
        cdef int64_t[::1] o = out
        cdef uint64_t cnt[4]
        cdef uint64_t per_src[NSOURCES]
        cdef int r
        cdef uint32_t ps, ph
        memset(cnt, 0, sizeof(cnt))
        memset(per_src, 0, sizeof(per_src))
        pghot_gate_enter(&self.gate)
        with nogil:
            for i in range(n):
                if i + PREFETCH_AHEAD < n:
                    table_place(&self.tab, p[i + PREFETCH_AHEAD], &ps, &ph)
                    pghot_prefetch(&self.tab.recs[ps * self.tab.shard_slots + ph])
                    pghot_prefetch(&self.tab.shards[ps])
                per_src[sv[i & sm]] += 1
                r = self._record(p[i], nv[i & nm], <uint64_t>tv[i & tm])
                cnt[r] += 1
            for r in range(NSOURCES):
                pghot_add_u64(&self.src_count[r], per_src[r])
            pghot_add_u64(&self.toptier_count, cnt[O_TOPTIER])
            pghot_add_u64(&self.notmov_count, cnt[O_NOT_MOVABLE])
            pghot_gate_leave(&self.gate)   # last: after the counter flushes
        for r in range(4):
            o[r] = cnt[r]
        return out

    def extract_batch(self, nid, max_count=1024, threshold=None, return_records=False):
        """Remove and return the hottest queued records of a top-tier node.

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
        cdef uint64_t want = min(<uint64_t>c_max, self.qcap)
        pfn_out = np.empty(want, dtype=np.uint64)
        word_out = np.empty(want, dtype=np.uint32)
        cdef uint64_t[::1] pv = pfn_out
        cdef uint32_t[::1] wv = word_out
        cdef uint64_t got
        pghot_gate_enter(&self.gate)
        with nogil:
            got = self._extract(q, want, <uint32_t>c_thr,
                                &pv[0] if want else NULL, &wv[0] if want else NULL)
            pghot_gate_leave(&self.gate)
        pfn_out = pfn_out[:got]
        if not return_records:
            return pfn_out
        w = word_out[:got]
        rec = np.empty(got, dtype=RECORD_DTYPE)
        rec["pfn"] = pfn_out
        rec["frequency"] = w & self.fmax
        rec["nid"] = (w >> self.fbits) & self.nmask
        rec["last_update"] = (w >> (self.fbits + self.nbits)) & self.tmask
        return rec

    def lookup(self, pfn):
        """The record of a PFN, or None.

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
        cdef uint32_t s, home, g, w = 0
        cdef bint found, queued = False
        table_place(&self.tab, c_pfn, &s, &home)
        pghot_lock(&self.tab.shards[s].lock)
        g = table_find(&self.tab, s, home, c_pfn, &found)
        if found:
            w = self.tab.recs[g].word
            queued = pghot_load_u32(&self.tab.recs[g].qpos) != PGHOT_QPOS_NONE
        pghot_unlock(&self.tab.shards[s].lock)
        if not found:
            return None
        return Record(int(c_pfn), self._freq(w), self._nid(w), self._time(w),
                      self._nid(w) if queued else -1)

    def set_movable(self, pfns, flag):
        """Mark lower-tier PFNs movable (default) or not movable.

        Accesses to a PFN that is not movable are ignored
        (``Outcome.NOT_MOVABLE``); its existing record is kept.

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
        nodemap_set_movable_all(&self.nodes, _movable_pfns(pfns), bool(flag), &self.gate)

    def __len__(self):
        self._ready()
        return <Py_ssize_t>pghot_load_u64(&self.tab.population)

    def queued(self, nid):
        """Number of records in a top-tier node's queue.

        Examples
        --------
        >>> import pghot
        >>> pghot.Tracker(pghot.Topology.two_tier(1024, 4096)).queued(0)
        0
        """
        self._ready()
        cdef int32_t q = self._queue_arg(nid)
        pghot_lock(&self.qlocks[q])
        cdef uint32_t n = self.qops.size(self.queues[q])
        pghot_unlock(&self.qlocks[q])
        return n

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
        cdef uint64_t tot[7]
        cdef uint32_t i
        cdef shard_t *sh
        memset(tot, 0, sizeof(tot))
        for i in range(self.tab.nshards):
            sh = &self.tab.shards[i]
            pghot_lock(&sh.lock)
            tot[0] += sh.created
            tot[1] += sh.recorded
            tot[2] += sh.table_full
            tot[3] += sh.queue_full
            tot[4] += sh.pushes
            tot[5] += sh.extracted
            tot[6] += sh.evicted
            pghot_unlock(&sh.lock)
        cdef uint64_t queued = 0
        src = [pghot_load_u64(&self.src_count[i]) for i in range(NSOURCES)]
        for i in range(self.nqueues):
            pghot_lock(&self.qlocks[i])
            queued += self.qops.size(self.queues[i])
            pghot_unlock(&self.qlocks[i])
        return {
            "pghot_recorded_accesses": sum(src),
            "pghot_recorded_hwhints": src[0],
            "pghot_recorded_pgtscans": src[1],
            "pghot_recorded_hintfaults": src[2],
            "pghot_records_hash": tot[0],
            "pghot_records_heap": tot[4],
            "recorded": tot[1],
            "toptier": pghot_load_u64(&self.toptier_count),
            "not_movable": pghot_load_u64(&self.notmov_count),
            "table_full": tot[2],
            "queue_full": tot[3],
            "evicted": tot[6],
            "extracted": tot[5],
            "records": pghot_load_u64(&self.tab.population),
            "queued": queued,
        }

    def memory_bytes(self):
        """Bytes the tracker allocated: table, queues, movable bitmap, locks.

        Examples
        --------
        >>> import pghot
        >>> t = pghot.Tracker(pghot.Topology.two_tier(1 << 20, 1 << 21))
        >>> t.memory_bytes() / t.capacity < 24
        True
        """
        self._ready()
        cdef size_t n = 0
        cdef int32_t i
        n += <size_t>self.tab.nshards * self.tab.shard_slots * sizeof(pghot_rec)
        n += <size_t>self.tab.nshards * sizeof(shard_t)
        for i in range(self.nqueues):
            n += self.qops.nbytes(self.queues[i])
        n += <size_t>self.nqueues * (sizeof(void *) + sizeof(pghot_lock_t) + sizeof(int32_t))
        n += nodemap_nbytes(&self.nodes)
        return n

    def check(self):
        """Verify every invariant of SEMANTICS.md section 5.

        Takes every lock (shards, then queues), so it sees a consistent state
        even while other threads run; the identity between access counts and
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
        cdef uint32_t i
        cdef uint64_t a[3]
        cdef int code
        a[0] = a[1] = a[2] = 0
        self._ready()
        # The GIL stays held: single calls, which count an access before
        # taking a shard lock, cannot be half done, and no batch can start
        # (`active` is raised with the GIL).  The lock holders we wait for
        # run without the GIL and never ask for it.
        for i in range(self.tab.nshards):
            pghot_lock(&self.tab.shards[i].lock)
        for i in range(self.nqueues):
            pghot_lock(&self.qlocks[i])
        code = self._check_locked(a)
        for i in range(self.nqueues):
            pghot_unlock(&self.qlocks[i])
        for i in range(self.tab.nshards):
            pghot_unlock(&self.tab.shards[i].lock)
        if code:
            raise RuntimeError("pghot invariant violated: "
                               + _CHECK_MESSAGES[code].format(a[0], a[1], a[2]))

    # Every invariant, with every lock held; 0 or a _CHECK_MESSAGES code with
    # up to three values in a.  No Python object here: a Python finaliser run
    # under the locks could hand the GIL to a thread that then waits on them.
    cdef int _check_locked(self, uint64_t *a) noexcept nogil:
        cdef uint32_t ss = self.tab.shard_slots, s, i, g, sh2, home, j, slot, key
        cdef uint32_t freq, nid
        cdef uint64_t occupied, total = 0, queued_recs = 0, hot_unqueued = 0
        cdef uint64_t created = 0, extracted = 0, evicted = 0, queue_full = 0
        cdef uint64_t recorded = 0, table_full = 0, qtotal = 0, accesses = 0
        cdef int32_t k, q
        cdef int64_t bad
        cdef pghot_rec *r
        cdef shard_t *sh
        for s in range(self.tab.nshards):
            sh = &self.tab.shards[s]
            created += sh.created
            extracted += sh.extracted
            evicted += sh.evicted
            queue_full += sh.queue_full
            recorded += sh.recorded
            table_full += sh.table_full
            occupied = 0
            for i in range(ss):
                g = s * ss + i
                r = &self.tab.recs[g]
                if r.pfn == PGHOT_PFN_EMPTY:
                    continue
                occupied += 1
                freq = self._freq(r.word)
                nid = self._nid(r.word)
                a[0] = r.pfn
                if freq < 1:
                    return 1
                k = nodemap_index(&self.nodes, r.pfn)
                if k < 0 or self.nodes.top[k]:
                    return 2
                if nodemap_queue(&self.nodes, nid) < 0:
                    a[1] = nid
                    return 3
                table_place(&self.tab, r.pfn, &sh2, &home)
                if sh2 != s:
                    a[1] = s
                    a[2] = sh2
                    return 4
                j = home
                while j != i:
                    if self.tab.recs[s * ss + j].pfn == PGHOT_PFN_EMPTY:
                        return 5
                    if self.tab.recs[s * ss + j].pfn == r.pfn:
                        return 6
                    j = j + 1 if j + 1 < ss else 0
                if r.qpos != PGHOT_QPOS_NONE:
                    queued_recs += 1
                    q = nodemap_queue(&self.nodes, nid)
                    a[1] = nid
                    if not self.qops.entry(self.queues[q], r.qpos, &slot, &key) or slot != g:
                        return 7
                    a[1] = key
                    a[2] = freq
                    if key != freq:
                        return 8
                    if freq < self.thr:
                        return 9
                elif freq >= self.thr:
                    hot_unqueued += 1
            if occupied != sh.nr:
                a[0] = s
                a[1] = sh.nr
                a[2] = occupied
                return 10
            total += occupied
        for q in range(self.nqueues):
            bad = self.qops.check(self.queues[q])
            if bad >= 0:
                a[0] = self.qnid[q]
                a[1] = bad
                return 11
            qtotal += self.qops.size(self.queues[q])
        a[0] = qtotal
        a[1] = queued_recs
        if qtotal != queued_recs:
            return 12
        a[0] = hot_unqueued
        if hot_unqueued and not queue_full:
            return 13
        a[0] = total
        a[1] = pghot_load_u64(&self.tab.population)
        if total != a[1]:
            return 14
        a[1] = self.tab.capacity
        if total > self.tab.capacity:
            return 15
        a[1] = created - extracted - evicted
        if total != a[1]:
            return 16
        if pghot_gate_idle(&self.gate):
            for i in range(NSOURCES):
                accesses += pghot_load_u64(&self.src_count[i])
            a[0] = accesses
            a[1] = (recorded + table_full + pghot_load_u64(&self.toptier_count)
                    + pghot_load_u64(&self.notmov_count))
            if a[0] != a[1]:
                return 17
        return 0

    # ------------------------------------------------------------- snapshots

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

    cdef void _lock_all(self) noexcept nogil:
        cdef uint32_t i
        for i in range(self.tab.nshards):
            pghot_lock(&self.tab.shards[i].lock)
        for i in range(<uint32_t>self.nqueues):
            pghot_lock(&self.qlocks[i])

    cdef void _unlock_all(self) noexcept nogil:
        cdef uint32_t i
        for i in range(<uint32_t>self.nqueues):
            pghot_unlock(&self.qlocks[i])
        for i in range(self.tab.nshards):
            pghot_unlock(&self.tab.shards[i].lock)

    def _config(self):
        return dict(hz=self._hz, freq_window_ms=self._window_ms, threshold=self.thr,
                    freq_bits=self.fbits, nid_bits=self.nbits, time_bits=self.tbits,
                    capacity=self.tab.capacity, queue_capacity=self.qcap,
                    queue=self._queue_name, evict_stale=bool(self.evict))

    def _state(self):
        """The whole state as a dict of arrays: snapshot format version 1.

        Taken between batches (its gate closed, pghot_sync.h) and
        under every lock (shards, then queues), so counters and records
        agree and every snapshot loads back and passes :meth:`check`.
        """
        self._ready()
        cdef uint64_t nslots = <uint64_t>self.tab.nshards * self.tab.shard_slots
        cdef uint64_t i, off = 0
        cdef uint32_t q
        rec_pfn = np.empty(nslots, dtype=np.uint64)
        rec_word = np.empty(nslots, dtype=np.uint32)
        shard_ctr = np.empty((self.tab.nshards, 8), dtype=np.uint64)
        counters = np.empty(6, dtype=np.uint64)
        qslots = np.empty(self.qcap * self.nqueues, dtype=np.uint32)
        qkeys = np.empty(self.qcap * self.nqueues, dtype=np.uint32)
        qsizes = np.empty(self.nqueues, dtype=np.uint64)
        unmovable = np.empty(self.nodes.unmovable_words or 1, dtype=np.uint64)
        cdef uint64_t[::1] vp = rec_pfn
        cdef uint32_t[::1] vw = rec_word
        cdef uint64_t[:, ::1] vs = shard_ctr
        cdef uint64_t[::1] vc = counters
        cdef uint32_t[::1] vqs = qslots
        cdef uint32_t[::1] vqk = qkeys
        cdef uint64_t[::1] vqn = qsizes
        cdef uint64_t[::1] vu = unmovable
        cdef shard_t *sh
        pghot_gate_close(&self.gate)     # between batches (counters flushed)
        self._lock_all()
        for i in range(nslots):
            vp[i] = self.tab.recs[i].pfn
            vw[i] = self.tab.recs[i].word
        for i in range(self.tab.nshards):
            sh = &self.tab.shards[i]
            vs[i, 0] = sh.nr
            vs[i, 1] = sh.created
            vs[i, 2] = sh.recorded
            vs[i, 3] = sh.table_full
            vs[i, 4] = sh.queue_full
            vs[i, 5] = sh.pushes
            vs[i, 6] = sh.extracted
            vs[i, 7] = sh.evicted
        for i in range(NSOURCES):
            vc[i] = pghot_load_u64(&self.src_count[i])
        vc[3] = pghot_load_u64(&self.toptier_count)
        vc[4] = pghot_load_u64(&self.notmov_count)
        vc[5] = pghot_load_u64(&self.tab.population)
        for q in range(<uint32_t>self.nqueues):
            vqn[q] = self.qops.walk(self.queues[q], &vqs[off] if self.qcap else NULL,
                                    &vqk[off] if self.qcap else NULL)
            off += vqn[q]
        for i in range(self.nodes.unmovable_words or 1):
            vu[i] = pghot_load_u64(&self.nodes.unmovable[i])
        self._unlock_all()
        pghot_gate_open(&self.gate)
        topo = self._topology
        return {
            "format": np.array("pghot-tracker"),
            "version": np.array(SNAPSHOT_VERSION),
            "store": np.array("hash"),
            "config": np.array(json.dumps(self._config())),
            "topology": np.array(json.dumps({
                "nodes": [[n.nid, n.start_pfn, n.nr_pages, bool(n.toptier), bool(n.has_cpu)]
                          for n in topo.nodes],
                "default_node": topo.default_node})),
            "rec_pfn": rec_pfn,
            "rec_word": rec_word,
            "shard_counters": shard_ctr,
            "counters": counters,
            "queue_slots": qslots[:off],
            "queue_keys": qkeys[:off],
            "queue_sizes": qsizes,
            "unmovable": unmovable,
        }

    @staticmethod
    def _from_state(state):
        """Rebuild a tracker from :meth:`_state`; ValueError if the state is not valid."""
        try:
            if str(state["format"]) != "pghot-tracker" or str(state["store"]) != "hash":
                raise ValueError("not a snapshot of a hash-store pghot tracker")
            version = int(state["version"])
            if version != SNAPSHOT_VERSION:
                raise ValueError(f"snapshot format version {version}, this pghot reads "
                                 f"version {SNAPSHOT_VERSION}")
            config = json.loads(str(state["config"]))
            tj = json.loads(str(state["topology"]))
            from pghot import snapshot
            topo = snapshot.check_geometry(config, tj, state)   # before allocating
            t = Tracker(topo, **config)
            t._restore(state)
        except (KeyError, TypeError, json.JSONDecodeError) as e:
            raise ValueError(f"malformed pghot snapshot: {e!r}") from None
        except RecursionError:
            raise ValueError("malformed pghot snapshot: JSON nested too deeply") from None
        return t

    def _restore(self, state):
        cdef uint64_t nslots = <uint64_t>self.tab.nshards * self.tab.shard_slots
        shapes = {"rec_pfn": ((nslots,), np.uint64), "rec_word": ((nslots,), np.uint32),
                  "shard_counters": ((self.tab.nshards, 8), np.uint64),
                  "counters": ((6,), np.uint64), "queue_sizes": ((self.nqueues,), np.uint64),
                  "unmovable": ((self.nodes.unmovable_words or 1,), np.uint64)}
        arrs = {}
        for name, (shape, dtype) in shapes.items():
            a = np.asarray(state[name])
            if a.shape != shape or a.dtype != dtype:
                raise ValueError(f"snapshot array {name} has shape {a.shape} and dtype "
                                 f"{a.dtype}, expected {shape} and {np.dtype(dtype)}")
            arrs[name] = np.ascontiguousarray(a)
        qslots = np.ascontiguousarray(state["queue_slots"], dtype=np.uint32)
        qkeys = np.ascontiguousarray(state["queue_keys"], dtype=np.uint32)
        sizes = arrs["queue_sizes"]
        if (len(qslots) != len(qkeys) or int(sizes.sum()) != len(qslots)
                or (len(sizes) and int(sizes.max()) > self.qcap)):
            raise ValueError("snapshot queue arrays do not add up")
        pfns = arrs["rec_pfn"]
        if len(qslots) and (int(qslots.max()) >= nslots or int(qkeys.max()) > self.fmax
                            or int(qkeys.min()) < 1
                            or (pfns[qslots] == PGHOT_PFN_EMPTY).any()):
            raise ValueError("snapshot queue entries point outside the table")
        cdef const uint64_t[::1] vp = pfns
        cdef const uint32_t[::1] vw = arrs["rec_word"]
        cdef const uint64_t[:, ::1] vs = arrs["shard_counters"]
        cdef const uint64_t[::1] vc = arrs["counters"]
        cdef const uint64_t[::1] vu = arrs["unmovable"]
        cdef const uint32_t[::1] vqs = qslots
        cdef const uint32_t[::1] vqk = qkeys
        cdef const uint64_t[::1] vqn = sizes
        cdef uint64_t i, off = 0, j
        cdef uint32_t q
        cdef shard_t *sh
        for i in range(nslots):
            self.tab.recs[i].pfn = vp[i]
            self.tab.recs[i].word = vw[i]
            self.tab.recs[i].qpos = PGHOT_QPOS_NONE
        for i in range(self.tab.nshards):
            sh = &self.tab.shards[i]
            if vs[i, 0] > sh.max_nr:
                raise ValueError(f"snapshot shard {i} holds more records than it can")
            sh.nr = vs[i, 0]
            sh.created = vs[i, 1]
            sh.recorded = vs[i, 2]
            sh.table_full = vs[i, 3]
            sh.queue_full = vs[i, 4]
            sh.pushes = vs[i, 5]
            sh.extracted = vs[i, 6]
            sh.evicted = vs[i, 7]
        for i in range(NSOURCES):
            self.src_count[i] = vc[i]
        self.toptier_count = vc[3]
        self.notmov_count = vc[4]
        self.tab.population = vc[5]
        for i in range(self.nodes.unmovable_words or 1):
            self.nodes.unmovable[i] = vu[i]
        for q in range(<uint32_t>self.nqueues):
            for j in range(vqn[q]):
                if self.tab.recs[vqs[off + j]].qpos != PGHOT_QPOS_NONE:
                    raise ValueError("snapshot queues hold a record twice")
                self.qops.push(self.queues[q], vqs[off + j], vqk[off + j])
            off += vqn[q]
            self.qlen[q] = self.qops.size(self.queues[q])
        try:
            self.check()
        except RuntimeError as e:
            raise ValueError(f"snapshot is inconsistent: {e}") from None

    def save(self, path):
        """Write the whole state (table, queues, counters) to a ``.npz`` file.

        The file is written to a temporary name in the same directory and
        renamed over ``path`` (:func:`pghot.snapshot.save`), so a crash never
        leaves a half-written file.  A symlink at ``path`` is replaced by a
        regular file (its target is left alone); a replaced file keeps its
        mode, a new one gets ``0o666`` less the umask.

        Examples
        --------
        >>> import os, tempfile, pghot
        >>> t = pghot.Tracker(pghot.Topology.two_tier(1024, 4096))
        >>> _ = t.record_access(2000, -1, 0, 5)
        >>> path = os.path.join(tempfile.mkdtemp(), "t.npz")
        >>> t.save(path)
        >>> pghot.Tracker.load(path).lookup(2000)
        Record(pfn=2000, frequency=1, nid=0, last_update=5, queued=-1)
        """
        from pghot import snapshot   # file I/O lives in Python
        snapshot.save(self._state(), path)

    @staticmethod
    def load(path):
        """Read a tracker written by :meth:`save`.

        Every header, shape and count of the file is checked against the
        others and against the file's size before anything is allocated or
        inflated (:func:`pghot.snapshot.load`), so a hostile file costs at
        most a small multiple of its size and of the tracker it describes.

        Raises
        ------
        ValueError
            Naming the file: it is not a regular file, truncated, corrupted,
            of another format or version, or describes a tracker larger than
            ``pghot.snapshot.DEFAULT_MAX_BYTES``.
        """
        from pghot import snapshot   # file I/O and every check of the file
        config, topology, state = snapshot.load(path)   # nothing built yet
        try:
            t = Tracker(topology, **config)
            t._restore(state)
        except ValueError as e:
            raise ValueError(f"{os.fsdecode(os.fspath(path))}: {e}") from None
        return t

    def __reduce__(self):
        return (_tracker_from_state, (self._state(),))

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
        return self.window

    @property
    def threshold(self):
        """Frequency at which a record is queued."""
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
        """Records the table holds at most."""
        return self.tab.capacity

    @property
    def queue_capacity(self):
        """Entries each top-tier queue holds at most."""
        return self.qcap

    @property
    def queue(self):
        """Name of the queue design."""
        return self._queue_name

    @property
    def evict_stale(self):
        return bool(self.evict)

    def __repr__(self):
        return (f"Tracker(records={len(self)}, capacity={self.capacity}, "
                f"threshold={self.thr}, window_jiffies={self.window}, queue={self._queue_name!r})")


def _tracker_from_state(state):
    """Unpickle helper: :meth:`Tracker._from_state`."""
    return Tracker._from_state(state)
