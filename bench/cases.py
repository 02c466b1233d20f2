"""The benchmark cases, shared by the pytest-benchmark suite and ``bench.report``.

A :class:`Case` is one row of a results table: a group (what is measured),
an implementation (the compiled ``Tracker`` or a baseline) and a
``prepare`` function that builds and warms the state once, untimed.  It
returns a :class:`Prepared`: ``setup()`` (untimed, before every round)
gives the arguments of ``run``, and ``run(*args)`` is the timed call, which
performs ``Case.ops`` operations (accesses, calls or extracted records).
Times are reported per operation, so rows of a group compare as ratios even
when the pure-Python reference runs a shorter slice.

Groups
------
``record_accesses-{64K,1M}-{uniform,zipf}``
    ``Tracker.record_accesses`` over 1M (2**20) accesses to ``n_pfns``
    tracked PFNs (64K or 1M), ``nids=-1``, ``srcs=0``.  The table is
    pre-filled with every tracked PFN, then ``WARM_ROUNDS`` untimed rounds
    bring it to its steady state (frequencies saturated, queue full); each
    round replays the stream one span later in time.  Baselines:
    ``BareTable.count`` (the bare C lookup-and-count loop over a table of the
    same geometry: the machine's limit) on the same PFNs, and
    ``ReferenceTracker.record_accesses`` on the first 100k accesses,
    pre-filled and warmed the same way.
``record_access-single``
    One ``record_access(pfn, -1, 0, now)`` call on a warm record (frequency
    saturated, queued), timed in a loop of 20k calls through a pre-bound
    method.  Baselines: the reference, an empty Python method with the same
    signature (the interpreter's floor for such a call) and, as a variant,
    the tracker called with ``src=Source.HW_HINTS`` (an IntEnum, not an int).
``queue-pop-1M``
    The stand-alone queue designs (:mod:`pghot.queues`) each holding 1M
    entries with keys 1..7 (a 3-bit frequency), drained with one
    ``pop_many`` call: the queue's own cost per pop, no Python call per
    entry (the kernel-only timer).  Rows: ``BinaryHeap`` (the tracker's
    default, the group's reference), ``QuaternaryHeap``, ``BucketQueue``, and
    the standard library's ``heapq`` with lazy deletion (entries marked
    dead in a dict and skipped when popped; a quarter of them dead).
``read-lackey``
    :func:`pghot.traces.open_trace` over a synthetic valgrind lackey file of
    2M lines (``I``, `` L``, `` S``, `` M`` lines with random addresses and
    sizes, written once to a temporary file in the untimed setup), iterated to
    the end; per line.  The issue's target: 2M lines/s or more, i.e. at most
    500 ns per line.  No baseline row: the target is absolute.
``read-csv``, ``read-perf``
    :func:`pghot.traces.open_trace` over a synthetic CSV file
    (``pfn,time_ns,nid``, decimal) or ``perf script`` file (``[CPU]
    SECS.USEC: ADDR PHYS_ADDR`` as perf prints it) of 1M lines each, written
    once to a temporary file, iterated to the end; per line. Rows: the
    reader as it runs (its numpy path, the group's reference row) and the
    same reader with its numpy path switched off (``_FAST = False``: every
    block parsed line by line, the reader before the numpy path), in the
    same run.
``parse-once``
    The same CSV file: reading the ``.npy`` that :func:`pghot.traces.convert`
    wrote from it (the reference row), against parsing the text (numpy
    path), and the one-off ``convert`` itself; per record.
``threads-scaling``
    Throughput of one tracker recording from two threads at once (issue 11:
    policies in parallel need a core that scales).  Two workloads of
    ``SCALE_ACCESSES`` Zipf accesses each (``SCALE_V2_ACCESSES`` for the
    kernel-v2 store, whose list walks are slow), A over ``SCALE_PFNS`` PFNs of
    the first half of a ``SCALE_LOWER``-page lower tier, B over as many of the
    second half: different PFN ranges, and different shards too, A's PFNs
    hashing into the first half of the shards (lists) and B's into the second
    (:func:`disjoint_shard_pfns`).  The tracker is pre-filled with both and
    warmed.  Rows per store: ``1 thread`` (A alone, in the calling thread) and
    ``2 threads`` (A and B at once, each in its own thread, started at a
    barrier), time per access over all the accesses of the round; so the
    speedup of two threads over one is the ``1 thread`` row's time over the
    ``2 threads`` row's (target: at least 1.8).  For the hash store a third
    row, ``2 threads, shards shared``: A and B over disjoint PFN ranges
    without the shard condition, so that both threads take every shard's
    lock (true sharing, which no layout removes).  Baseline: the bare C loop
    (``BareTable.count``), one table per workload, one thread then two: the
    machine's limit for two threads on disjoint memory.
``extract_batch``
    16K queued records (frequencies 2..7, setup untimed), all extracted with
    ``extract_batch(0, 1024)`` until the queue is empty; per record.
    Baselines: the reference, and ``heapq.heappop`` of (-frequency, pfn)
    tuples in batches of 1024 into a uint64 array (the stdlib heap).

Examples
--------
>>> [c.impl for c in cases(groups=["record_access-single"])][:2]
['Tracker', 'ReferenceTracker']
>>> c = cases(groups=["extract_batch"])[0]
>>> p = c.prepare()
>>> p.run(*p.setup()) == c.ops
True
"""

from __future__ import annotations

import functools
import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import pghot
from bench import workloads
from pghot._baseline import BareTable

__all__ = [
    "Case",
    "EmptyTracker",
    "Prepared",
    "SIZES",
    "cases",
    "disjoint_shard_pfns",
    "groups",
    "measure",
    "scaling",
]

SEED = 0
#: tracked PFNs of the record_accesses groups
SIZES = {"64K": 1 << 16, "1M": 1 << 20}
DISTRIBUTIONS = ("uniform", "zipf")
#: accesses per timed batch of the compiled tracker and the bare loop
N_ACCESSES = 1 << 20
#: accesses per timed batch of the pure-Python reference
REF_ACCESSES = 100_000
#: calls per round of the single-call group
SINGLE_CALLS = 20_000
#: queued records per round of the extract group
N_HOT = 1 << 14
EXTRACT_BATCH = 1024
#: the pre-fill runs at jiffies [0, span), the timed stream starts here
START_JIFFY = 2000
#: untimed rounds of the record_accesses groups before the timed ones: at
#: 1M uniform each round adds about one access per PFN, and frequencies
#: saturate at 7 (the heap stops moving) after about 7 rounds
WARM_ROUNDS = 8


@dataclass
class Prepared:
    """A warmed-up case: ``run(*setup())`` is one timed round."""

    run: Callable[..., Any]
    setup: Callable[[], tuple]


@dataclass(frozen=True)
class Case:
    """One row: ``prepare()`` (untimed, once) then rounds of ``run``."""

    group: str
    impl: str
    unit: str  # what one operation is: "access", "call", "record"
    ops: int  # operations per round
    rounds: int  # timed rounds
    prepare: Callable[[], Prepared]
    warmup: int = 1  # untimed rounds before them

    @property
    def id(self) -> str:
        return f"{self.group}/{self.impl}"


class EmptyTracker:
    """A Python method that does nothing: the floor of ``record_access``.

    >>> EmptyTracker().record_access(1, -1, 0, 0) is None
    True
    """

    def record_access(self, pfn, nid, src, now):
        return None


# --------------------------------------------------------------------------
# record_accesses


@functools.cache
def _stream(n_pfns: int, dist: str) -> workloads.Workload:
    if dist not in ("uniform", "zipf"):
        raise ValueError(f"dist must be 'uniform' or 'zipf', got {dist!r}")
    gen: Callable[..., workloads.Workload] = workloads.uniform if dist == "uniform" else workloads.zipf
    w = gen(n_pfns, N_ACCESSES, seed=SEED, start_jiffy=START_JIFFY)
    w.pfns.setflags(write=False)
    w.nows.setflags(write=False)
    return w


def _replayer(tracker: Any, w: workloads.Workload, n: int) -> Prepared:
    """Rounds of ``tracker.record_accesses`` on the first n accesses of w,
    each round one span of w later than the previous one."""
    pfns = w.pfns[:n]
    base = w.nows[:n]
    span = w.span_jiffies
    rounds = itertools.count()

    def setup() -> tuple:
        return (pfns, -1, 0, base + next(rounds) * span)

    return Prepared(tracker.record_accesses, setup)


def _prefilled(cls: type, n_pfns: int) -> Any:
    tracker = cls(workloads.topology(n_pfns))
    universe = workloads.tracked_pfns(n_pfns, SEED)
    tracker.record_accesses(universe, -1, 0, workloads.nows(n_pfns))
    assert len(tracker) == n_pfns
    return tracker


def _prepare_tracker_batch(n_pfns: int, dist: str) -> Prepared:
    return _replayer(_prefilled(pghot.Tracker, n_pfns), _stream(n_pfns, dist), N_ACCESSES)


def _prepare_reference_batch(n_pfns: int, dist: str) -> Prepared:
    from pghot.model.reference import ReferenceTracker

    return _replayer(_prefilled(ReferenceTracker, n_pfns), _stream(n_pfns, dist), REF_ACCESSES)


def _prepare_bare_batch(n_pfns: int, dist: str) -> Prepared:
    table = BareTable(workloads.tracked_pfns(n_pfns, SEED))
    pfns = _stream(n_pfns, dist).pfns
    return Prepared(table.count, lambda: (pfns,))


# --------------------------------------------------------------------------
# record_access-single


def _call_loop(f: Callable, pfn: int, nid: int, src: Any, now: int, it: Any) -> None:
    for _ in it:
        f(pfn, nid, src, now)


def _prepare_single(make: Callable[[], Any], src: Any = 0) -> Prepared:
    tracker = make()
    pfn = int(workloads.tracked_pfns(1 << 16, SEED)[0])
    now = START_JIFFY
    for _ in range(16):  # warm: frequency saturated and queued
        tracker.record_access(pfn, -1, src, now)
    f = tracker.record_access

    def setup() -> tuple:
        return (f, pfn, -1, src, now, itertools.repeat(None, SINGLE_CALLS))

    return Prepared(_call_loop, setup)


def _topo64k() -> Any:
    return workloads.topology(1 << 16)


# --------------------------------------------------------------------------
# extract_batch


@functools.cache
def _hot_fill() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Accesses that give N_HOT records frequencies 2..7, shuffled; and the
    (PFN, frequency) of each record."""
    universe = workloads.tracked_pfns(N_HOT, SEED)
    freq = 2 + np.arange(N_HOT) % 6
    pfns = np.repeat(universe, freq)
    np.random.default_rng(SEED).shuffle(pfns)
    return pfns, universe, freq


def _drain(tracker: Any) -> int:
    total = 0
    while True:
        got = tracker.extract_batch(0, EXTRACT_BATCH)
        total += len(got)
        if len(got) < EXTRACT_BATCH:
            return total


def _prepare_extract(cls: type) -> Prepared:
    tracker = cls(workloads.topology(N_HOT), queue_capacity=N_HOT)
    pfns, _, _ = _hot_fill()
    now = np.zeros(len(pfns), dtype=np.int64)

    def setup() -> tuple:
        assert len(tracker) == 0
        tracker.record_accesses(pfns, -1, 0, now)
        assert tracker.queued(0) == N_HOT
        return (tracker,)

    return Prepared(_drain, setup)


QUEUE_ENTRIES = 1 << 20


@functools.cache
def _queue_keys() -> np.ndarray:
    return np.random.default_rng(SEED).integers(1, 8, QUEUE_ENTRIES)


def _prepare_queue(cls: type) -> Prepared:
    keys = _queue_keys()

    def setup() -> tuple:
        q = cls(QUEUE_ENTRIES, max_key=7)
        q.push_many(keys)
        return (q,)

    return Prepared(lambda q: len(q.pop_many(QUEUE_ENTRIES)), setup)


def _lazy_heap_drain(h: list, dead: set) -> int:
    popped = 0
    pop = heapq.heappop
    while h:
        _, handle = pop(h)
        if handle in dead:
            continue
        popped += 1
    return popped


def _prepare_lazy_heapq() -> Prepared:
    """heapq with lazy deletion: QUEUE_ENTRIES live entries plus a third as many dead."""
    keys = _queue_keys()
    live = list(zip((-keys).tolist(), range(QUEUE_ENTRIES)))
    n_dead = QUEUE_ENTRIES // 3
    dead_entries = list(zip((-keys[:n_dead]).tolist(), range(QUEUE_ENTRIES, QUEUE_ENTRIES + n_dead)))
    entries = live + dead_entries
    heapq.heapify(entries)
    dead = set(range(QUEUE_ENTRIES, QUEUE_ENTRIES + n_dead))

    def setup() -> tuple:
        return (list(entries), dead)

    return Prepared(_lazy_heap_drain, setup)


LACKEY_LINES = 2_000_000


@functools.cache
def _lackey_file() -> str:
    import atexit
    import os
    import tempfile

    rng = np.random.default_rng(SEED)
    kinds = np.array(["I  ", " L ", " S ", " M "])[rng.integers(0, 4, LACKEY_LINES)]
    addrs = rng.integers(0x400000, 0x7FFFFFFFFFFF, LACKEY_LINES)
    sizes = rng.choice([1, 2, 4, 8, 16], LACKEY_LINES)
    text = "\n".join(f"{k}{a:08x},{z}" for k, a, z in zip(kinds, addrs, sizes)) + "\n"
    fd, path = tempfile.mkstemp(prefix="pghot-bench-", suffix=".lackey")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    atexit.register(os.unlink, path)
    return path


def _read_lackey(path: str) -> int:
    from pghot.traces import open_trace

    with open_trace(path, "lackey") as r:
        for _ in r:
            pass
        return r.lines_read


def _prepare_lackey() -> Prepared:
    path = _lackey_file()
    return Prepared(_read_lackey, lambda: (path,))


TEXT_LINES = 1_000_000


def _temp_text(suffix: str, text: str) -> str:
    import atexit
    import os
    import tempfile

    fd, path = tempfile.mkstemp(prefix="pghot-bench-", suffix=suffix)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    atexit.register(os.unlink, path)
    return path


@functools.cache
def _csv_file() -> str:
    rng = np.random.default_rng(SEED)
    pfns = rng.integers(0, 1 << 24, TEXT_LINES)
    times = np.cumsum(rng.integers(0, 200, TEXT_LINES))
    nids = rng.integers(0, 2, TEXT_LINES)
    rows = "\n".join(f"{p},{t},{n}" for p, t, n in zip(pfns.tolist(), times.tolist(), nids.tolist()))
    return _temp_text(".csv", "pfn,time_ns,nid\n" + rows + "\n")


@functools.cache
def _perf_file() -> str:
    rng = np.random.default_rng(SEED)
    cpus = rng.integers(0, 8, TEXT_LINES)
    usecs = 5_021_000_000 + np.cumsum(rng.integers(0, 50, TEXT_LINES))
    addrs = rng.integers(0x7F0000000000, 0x7FFFFFFFFFFF, TEXT_LINES)
    phys = rng.integers(1 << 30, 1 << 36, TEXT_LINES)
    lines = "\n".join(
        f"[{c:03d}] {f'{u // 1_000_000}.{u % 1_000_000:06d}':>12}: {a:16x}{p:16x}"
        for c, u, a, p in zip(cpus.tolist(), usecs.tolist(), addrs.tolist(), phys.tolist())
    )
    return _temp_text(".perf", lines + "\n")


@functools.cache
def _converted_csv() -> str:
    from pghot.traces import convert

    path = _temp_text(".npy", "")
    convert(_csv_file(), path)
    return path


def _read_text(path: str, fmt: str, fast: bool, unit: str) -> int:
    """Read ``path`` to the end, the text reader's numpy path on or off; lines or records read."""
    from pghot.traces import csv, open_trace, perf

    module: Any = {"csv": csv, "perf": perf}.get(fmt)
    saved = module._FAST if module is not None else True
    if module is not None:
        module._FAST = fast
    try:
        with open_trace(path, fmt) as r:
            for _ in r:
                pass
            return r.lines_read if unit == "line" else r.records
    finally:
        if module is not None:
            module._FAST = saved


def _prepare_read(file: Callable[[], str], fmt: str, fast: bool = True, unit: str = "line") -> Prepared:
    path = file()
    return Prepared(functools.partial(_read_text, fmt=fmt, fast=fast, unit=unit), lambda: (path,))


def _prepare_convert() -> Prepared:
    import os

    from pghot.traces import convert

    src = _csv_file()
    dst = _temp_text(".npy", "")

    def run(src: str, dst: str) -> int:
        records: int = convert(src, dst)["records"]
        return records

    os.unlink(dst)  # written by every round; removed at exit
    return Prepared(run, lambda: (src, dst))


def _heap_drain(h: list) -> int:
    total = 0
    pop = heapq.heappop
    while h:
        batch = [pop(h)[1] for _ in range(min(EXTRACT_BATCH, len(h)))]
        total += len(np.array(batch, dtype=np.uint64))
    return total


def _prepare_heapq() -> Prepared:
    _, universe, freq = _hot_fill()
    entries = list(zip((-freq).tolist(), universe.tolist()))
    heapq.heapify(entries)

    def setup() -> tuple:
        return (list(entries),)

    return Prepared(_heap_drain, setup)


# --------------------------------------------------------------------------
# threads-scaling

#: lower-tier pages of the threads-scaling machine (one top-tier node)
SCALE_LOWER = 1 << 20
#: tracked PFNs of each of the two workloads
SCALE_PFNS = 1 << 17
#: accesses per thread and round (kernel-v2: fewer, its lookups walk lists)
SCALE_ACCESSES = 1 << 20
SCALE_V2_ACCESSES = 1 << 14


def _hash_np(x: np.ndarray) -> np.ndarray:
    """pghot_hash (splitmix64's finaliser, pghot_sync.h) over uint64s."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def disjoint_shard_pfns(first: int, n_pages: int, n: int, top_bit: int, seed: int = SEED) -> np.ndarray:
    """``n`` PFNs of ``[first, first + n_pages)`` in random order whose hash's top
    bit is ``top_bit``: the shards (hash store) and lists (kernel-v2) of a
    table with two or more are picked by the top bits, so PFNs of
    ``top_bit`` 0 and 1 never share one.

    >>> a = disjoint_shard_pfns(1000, 4096, 100, 0)
    >>> b = disjoint_shard_pfns(5096, 4096, 100, 1)
    >>> top = np.uint64(63)
    >>> len(a), bool((_hash_np(a) >> top == 0).all()), bool((_hash_np(b) >> top == 1).all())
    (100, True, True)
    """
    pfns = np.arange(first, first + n_pages, dtype=np.uint64)
    pfns = pfns[(_hash_np(pfns) >> np.uint64(63)) == top_bit]
    if len(pfns) < n:
        raise ValueError(f"only {len(pfns)} PFNs of [{first}, {first + n_pages}) have top bit {top_bit}")
    return np.random.default_rng(seed + top_bit).permutation(pfns)[:n]


@functools.cache
def _scale_streams(shared_shards: bool, n_acc: int) -> tuple[Any, list[np.ndarray], list[np.ndarray]]:
    """The machine, and A's and B's universes and Zipf streams."""
    top = 1 << 16
    topo = pghot.Topology.two_tier(top, SCALE_LOWER)
    half = SCALE_LOWER // 2
    universes = []
    for i in range(2):
        first = top + i * half
        if shared_shards:
            u = np.random.default_rng(SEED + i).permutation(np.arange(first, first + half, dtype=np.uint64))
            universes.append(u[:SCALE_PFNS])
        else:
            universes.append(disjoint_shard_pfns(first, half, SCALE_PFNS, i))
    ranks = [workloads.zipf_ranks(SCALE_PFNS, n_acc, seed=SEED + i) for i in range(2)]
    streams = [universes[i][ranks[i]] for i in range(2)]
    for a in universes + streams:
        a.setflags(write=False)
    return topo, universes, streams


def _in_threads(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls at once, the first in the calling thread; their results."""
    if len(calls) == 1:
        return [calls[0]()]
    out: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(i: int) -> None:
        start.wait()
        out[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(1, len(calls))]
    for th in threads:
        th.start()
    run(0)
    for th in threads:
        th.join()
    return out


def _prepare_scale(store: str, n_threads: int, shared_shards: bool = False) -> Prepared:
    n_acc = SCALE_V2_ACCESSES if store == "kernel-v2" else SCALE_ACCESSES
    topo, universes, streams = _scale_streams(shared_shards, n_acc)
    tracker = pghot.Tracker(topo, store=store)
    for u in universes:
        tracker.record_accesses(u, -1, 0, 0)
    base = np.arange(n_acc, dtype=np.int64) // workloads.ACCESSES_PER_JIFFY + START_JIFFY
    span = int(base[-1] - base[0]) + 1
    rounds = itertools.count()
    rec = tracker.record_accesses

    def setup() -> tuple:
        nows = base + next(rounds) * span
        return (nows,)

    def run(nows: np.ndarray) -> np.ndarray:
        calls = [functools.partial(rec, streams[i], -1, 0, nows) for i in range(n_threads)]
        return sum(_in_threads(calls))

    return Prepared(run, setup)


def _prepare_scale_bare(n_threads: int) -> Prepared:
    _, universes, streams = _scale_streams(False, SCALE_ACCESSES)
    tables = [BareTable(u) for u in universes]

    def run() -> np.ndarray:
        calls = [functools.partial(tables[i].count, streams[i]) for i in range(n_threads)]
        return np.array([sum(_in_threads(calls))])

    return Prepared(run, lambda: ())


def _scale_cases() -> list[Case]:
    g = "threads-scaling"
    out = []
    for store in ("hash", "kernel-v2", "pfn-array"):
        n_acc = SCALE_V2_ACCESSES if store == "kernel-v2" else SCALE_ACCESSES
        for n in (1, 2):
            out.append(
                Case(
                    g,
                    f"{store}, {n} thread{'s' if n > 1 else ''}",
                    "access",
                    n * n_acc,
                    5,
                    functools.partial(_prepare_scale, store, n),
                    3,
                )
            )
        if store == "hash":
            out.append(
                Case(
                    g,
                    "hash, 2 threads, shards shared",
                    "access",
                    2 * n_acc,
                    5,
                    functools.partial(_prepare_scale, store, 2, True),
                    3,
                )
            )
    for n in (1, 2):
        out.append(
            Case(
                g,
                f"BareTable (bare C loop), {n} thread{'s' if n > 1 else ''}",
                "access",
                n * SCALE_ACCESSES,
                5,
                functools.partial(_prepare_scale_bare, n),
                3,
            )
        )
    return out


def scaling(rows: list[tuple]) -> dict[str, float]:
    """Speedup of two threads over one per implementation of ``threads-scaling``
    rows ``(group, impl, unit, ns per access)``: the 1-thread row's time per
    access over the 2-thread row's.

    >>> scaling([("threads-scaling", "hash, 1 thread", "access", 30.0),
    ...          ("threads-scaling", "hash, 2 threads", "access", 16.0)])
    {'hash': 1.875}
    """
    ns = {impl: v for g, impl, _, v in rows if g == "threads-scaling"}
    out = {}
    for impl, v in ns.items():
        if impl.endswith(", 1 thread"):
            name = impl.removesuffix(", 1 thread")
            two = ns.get(f"{name}, 2 threads")
            if two:
                out[name] = v / two
    return out


# --------------------------------------------------------------------------


def _reference_cls() -> type:
    from pghot.model.reference import ReferenceTracker

    return ReferenceTracker


def _all_cases() -> list[Case]:
    out: list[Case] = []
    for label, n in SIZES.items():
        for dist in DISTRIBUTIONS:
            g = f"record_accesses-{label}-{dist}"
            out += [
                Case(
                    g,
                    "Tracker",
                    "access",
                    N_ACCESSES,
                    5,
                    functools.partial(_prepare_tracker_batch, n, dist),
                    WARM_ROUNDS,
                ),
                Case(
                    g,
                    "BareTable (bare C loop)",
                    "access",
                    N_ACCESSES,
                    5,
                    functools.partial(_prepare_bare_batch, n, dist),
                    WARM_ROUNDS,
                ),
                Case(
                    g,
                    "ReferenceTracker",
                    "access",
                    REF_ACCESSES,
                    5,
                    functools.partial(_prepare_reference_batch, n, dist),
                    WARM_ROUNDS,
                ),
            ]
    g = "record_access-single"
    out += [
        Case(
            g, "Tracker", "call", SINGLE_CALLS, 15, lambda: _prepare_single(lambda: pghot.Tracker(_topo64k()))
        ),
        Case(
            g,
            "ReferenceTracker",
            "call",
            SINGLE_CALLS,
            7,
            lambda: _prepare_single(lambda: _reference_cls()(_topo64k())),
        ),
        Case(g, "empty Python method", "call", SINGLE_CALLS, 15, lambda: _prepare_single(EmptyTracker)),
        Case(
            g,
            "Tracker, src=Source.HW_HINTS",
            "call",
            SINGLE_CALLS,
            15,
            lambda: _prepare_single(lambda: pghot.Tracker(_topo64k()), src=pghot.Source.HW_HINTS),
        ),
    ]
    from pghot.queues import BinaryHeap, BucketQueue, QuaternaryHeap

    g = "queue-pop-1M"
    out += [
        Case(g, "BinaryHeap", "pop", QUEUE_ENTRIES, 5, functools.partial(_prepare_queue, BinaryHeap)),
        Case(g, "QuaternaryHeap", "pop", QUEUE_ENTRIES, 5, functools.partial(_prepare_queue, QuaternaryHeap)),
        Case(g, "BucketQueue", "pop", QUEUE_ENTRIES, 5, functools.partial(_prepare_queue, BucketQueue)),
        Case(g, "heapq, lazy deletion (stdlib)", "pop", QUEUE_ENTRIES, 3, _prepare_lazy_heapq),
    ]
    out.append(Case("read-lackey", "open_trace (lackey)", "line", LACKEY_LINES, 5, _prepare_lackey))
    for g, file, fmt in (("read-csv", _csv_file, "csv"), ("read-perf", _perf_file, "perf")):
        lines = TEXT_LINES + (fmt == "csv")  # the CSV header is a line
        out += [
            Case(
                g,
                f"open_trace ({fmt}), numpy path",
                "line",
                lines,
                5,
                functools.partial(_prepare_read, file, fmt),
            ),
            Case(
                g,
                f"open_trace ({fmt}), per-line path",
                "line",
                lines,
                3,
                functools.partial(_prepare_read, file, fmt, fast=False),
            ),
        ]
    g = "parse-once"
    out += [
        Case(
            g,
            "open_trace (.npy written by convert)",
            "record",
            TEXT_LINES,
            5,
            lambda: _prepare_read(_converted_csv, "npy", unit="record"),
        ),
        Case(
            g,
            "open_trace (csv text), numpy path",
            "record",
            TEXT_LINES,
            5,
            lambda: _prepare_read(_csv_file, "csv", unit="record"),
        ),
        Case(g, "convert (csv -> .npy), once", "record", TEXT_LINES, 3, _prepare_convert),
    ]
    g = "extract_batch"
    out += [
        Case(g, "Tracker", "record", N_HOT, 7, lambda: _prepare_extract(pghot.Tracker)),
        Case(g, "ReferenceTracker", "record", N_HOT, 5, lambda: _prepare_extract(_reference_cls())),
        Case(g, "heapq (stdlib heap)", "record", N_HOT, 5, _prepare_heapq),
    ]
    out += _scale_cases()
    return out


def groups() -> list[str]:
    """Group names, in table order.

    >>> groups()[0], groups()[-1]
    ('record_accesses-64K-uniform', 'threads-scaling')
    """
    return list(dict.fromkeys(c.group for c in _all_cases()))


def cases(groups: list[str] | None = None) -> list[Case]:
    """Every case (or those of the given groups), the Tracker row first in each group."""
    return [c for c in _all_cases() if groups is None or c.group in groups]


def measure(case: Case, rounds: int | None = None) -> list[float]:
    """Seconds per operation of each timed round (after the case's warm-up rounds).

    >>> t = measure(cases(groups=["record_access-single"])[2], rounds=2)
    >>> len(t), 0 < t[0] < 1e-5
    (2, True)
    """
    p = case.prepare()
    for _ in range(case.warmup):
        p.run(*p.setup())
    out = []
    for _ in range(case.rounds if rounds is None else rounds):
        args = p.setup()
        t0 = time.perf_counter()
        p.run(*args)
        out.append((time.perf_counter() - t0) / case.ops)
    return out
