"""The "kernel-v2" store (:class:`pghot._v2store.KernelV2Tracker`).

v2's layout -- chained hash lists of 40-byte records, per-node heaps of
record pointers -- behind the API and semantics of :class:`pghot._core.Tracker`
(SEMANTICS.md section 4). The tests here:

- drive it side by side with the pure-Python reference model on random
  programs (tiny widths, tables and queues, two top-tier nodes, nid changes),
  comparing outcomes, counters, records and extracted frequencies, with both
  ``check()`` methods after every step; then the same with several hash lists
  and a full table;
- check v2's list count (F13: at least one list, a power of two); the known
  answers of the defects are in ``test_semantics.py``, run over this store too;
- tie ``memory_bytes()`` to the 40-byte record;
- run threads through ``record_accesses``/``extract_batch`` and check that
  records are conserved;
- feed bad input and expect the compiled core's exceptions, word for word.
"""

from __future__ import annotations

import functools
import pickle
import random
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import pghot
from pghot import NUMA_NO_NODE, RECORD_DTYPE, Node, Outcome, Record, Source, Topology
from pghot import _v2store as v2
from pghot._core import Tracker as CoreTracker
from pghot.model.reference import ReferenceTracker

KernelV2Tracker = v2.KernelV2Tracker
HW = Source.HW_HINTS


# -- side by side with the reference model -------------------------------------------

#: Every PFN of the small programs lies in [0, UNIVERSE).
UNIVERSE = 64
#: The topologies: the ``small_topologies`` fixture (conftest.py).
TOPOLOGY_NAMES = ("one_lower", "two_lower")


class SideBySide:
    """One KernelV2Tracker and one ReferenceTracker fed the same calls."""

    def __init__(self, topo: Topology, rng: random.Random, **cfg: Any) -> None:
        self.v2 = KernelV2Tracker(topo, **cfg)
        self.ref = ReferenceTracker(topo, **cfg)
        for name in (
            "hz",
            "freq_window_ms",
            "window_jiffies",
            "threshold",
            "freq_bits",
            "nid_bits",
            "time_bits",
            "capacity",
            "queue_capacity",
            "evict_stale",
            "queue",
        ):
            assert getattr(self.v2, name) == getattr(self.ref, name), name
        self.rng = rng
        self.tops = sorted(topo.toptier_nids())
        self.fmax = (1 << self.v2.freq_bits) - 1
        self.node_ids = {n.nid for n in topo.nodes}

    def nid(self) -> int:
        n = self.rng.randint(-1, 3)
        return n if n in self.node_ids else NUMA_NO_NODE

    def access(self, pfn: int, nid: int, src: int, now: int) -> None:
        got = self.v2.record_access(pfn, nid, src, now)
        assert type(got) is Outcome
        assert got == self.ref.record_access(pfn, nid, src, now), (pfn, nid, src, now)

    def accesses(self, pfns: np.ndarray, nids: Any, srcs: Any, nows: Any) -> None:
        got = self.v2.record_accesses(pfns, nids, srcs, nows)
        want = self.ref.record_accesses(pfns, nids, srcs, nows)
        assert got.dtype == np.int64 and got.tolist() == want.tolist()

    def extract(
        self, nid: int, max_count: int, thr: int | None, records: bool, watch: range | list[int]
    ) -> None:
        eff = self.ref.threshold if thr is None else thr
        before = {p: self.ref.lookup(p) for p in watch}
        eligible = sorted(
            (
                r.frequency
                for r in before.values()
                if r is not None and r.queued == nid and r.frequency >= eff
            ),
            reverse=True,
        )
        got = self.v2.extract_batch(nid, max_count, thr, return_records=records)
        if records:
            assert got.dtype == RECORD_DTYPE
            pfns = [int(p) for p in got["pfn"]]
            freqs = [int(f) for f in got["frequency"]]
            for row in got.tolist():
                r = before[row[0]]
                assert r is not None and (row[1], row[2], row[3]) == (r.frequency, r.nid, r.last_update)
        else:
            assert got.dtype == np.uint64
            pfns = [int(p) for p in got]
            freqs = [before[p].frequency for p in pfns]  # type: ignore[union-attr]
        assert len(set(pfns)) == len(pfns)
        # highest first, and exactly the frequencies the model would pick
        assert freqs == eligible[:max_count], (freqs, eligible)
        # the model follows the store's tie choices: then the same PFNs go
        want = self.ref.extract_batch(nid, max_count, thr, prefer=pfns)
        assert sorted(pfns) == sorted(int(p) for p in want)
        assert all(self.v2.lookup(p) is None for p in pfns)

    def compare(self, watch: range | list[int]) -> None:
        self.v2.check()
        self.ref.check()
        assert self.v2.stats() == self.ref.stats()
        assert len(self.v2) == len(self.ref)
        for nid in self.tops:
            assert self.v2.queued(nid) == self.ref.queued(nid)
        for p in watch:
            assert self.v2.lookup(p) == self.ref.lookup(p), p


def _small_config(rng: random.Random) -> dict[str, Any]:
    fb, tb, hz = rng.randint(2, 3), rng.randint(4, 6), rng.choice([1000, 250, 100])
    capacity = rng.choice([None, rng.randint(0, 14)])
    queue_capacity = rng.choice([None, rng.randint(0, 5)])
    if capacity is not None and queue_capacity is not None:
        queue_capacity = min(queue_capacity, capacity)  # a larger one is refused
    return dict(
        hz=hz,
        freq_window_ms=min(rng.randint(0, 80), ((1 << tb) - 1) * 1000 // hz),
        threshold=min(rng.randint(1, 7), (1 << fb) - 1),
        freq_bits=fb,
        nid_bits=rng.randint(2, 4),
        time_bits=tb,
        capacity=capacity,
        queue_capacity=queue_capacity,
    )


@pytest.mark.parametrize("seed", range(12))
def test_random_programs_match_the_reference(small_topologies: dict[str, Topology], seed: int) -> None:
    rng = random.Random(seed)
    topo = small_topologies[TOPOLOGY_NAMES[seed % 2]]
    lower = [p for p in range(UNIVERSE) if topo.node_of(p) in topo.lower_nids()]
    s = SideBySide(topo, rng, **_small_config(rng))
    hot = lower[:5]
    clock = rng.randint(0, 200)
    for _ in range(250):
        op = rng.random()
        if op < 0.45:
            pfn = rng.choice(hot) if rng.random() < 0.6 else rng.randrange(UNIVERSE)
            now = clock if rng.random() < 0.9 else rng.randrange(2**62)
            s.access(pfn, s.nid(), rng.randrange(3), now)
        elif op < 0.65:
            n = rng.randint(0, 20)
            pfns = np.array(
                [rng.choice(hot) if rng.random() < 0.5 else rng.randrange(UNIVERSE) for _ in range(n)],
                dtype=rng.choice([np.int64, np.uint16]),
            )
            nows = clock + np.cumsum([rng.randint(0, 5) for _ in range(n)], dtype=np.int64)
            nids: Any = (
                s.nid() if rng.random() < 0.3 else np.array([s.nid() for _ in range(n)], dtype=np.int8)
            )
            s.accesses(pfns, nids, rng.randrange(3), nows)
            if n:
                clock = int(nows[-1])
        elif op < 0.82:
            thr = rng.choice([None, rng.randint(1, s.fmax)])
            s.extract(
                rng.choice(s.tops), rng.choice([0, 1, 2, 6, 1024]), thr, rng.random() < 0.5, range(UNIVERSE)
            )
        elif op < 0.88:
            picks = rng.sample(lower, rng.randint(1, 4))
            flag = rng.random() < 0.6
            s.v2.set_movable(picks, flag)
            s.ref.set_movable(picks, flag)
        else:
            clock += rng.randint(0, 40)
        s.compare(range(UNIVERSE))
    st = s.v2.stats()
    assert st["pghot_recorded_accesses"] > 0


@pytest.mark.parametrize("capacity", [2100, 4500])
def test_several_lists_full_table_match_the_reference(
    make_two_top: Callable[..., Topology], capacity: int
) -> None:
    # 2 and 4 hash lists; more PFNs than the table holds, and a queue that
    # fills, so TABLE_FULL and refused pushes both happen in every list.
    rng = random.Random(capacity)
    nrng = np.random.default_rng(capacity)
    topo = make_two_top(8000, top_pages=64)
    assert v2._nr_lists(capacity) == {2100: 2, 4500: 4}[capacity]
    s = SideBySide(
        topo,
        rng,
        capacity=capacity,
        queue_capacity=150,
        threshold=2,
        freq_window_ms=40,
        hz=100,
        time_bits=8,
        freq_bits=3,
        nid_bits=2,
    )
    universe = np.arange(64, 64 + capacity + 600)
    hot = universe[:300]
    watch = [int(p) for p in nrng.choice(universe, 200, replace=False)]
    clock = 0
    for step in range(40):
        n = 700
        pfns = np.where(nrng.random(n) < 0.5, nrng.choice(hot, n), nrng.choice(universe, n))
        nids = nrng.choice([-1, 0, 1, 2], n)
        nows = clock + np.arange(n) // 100
        clock = int(nows[-1]) + int(nrng.integers(0, 3))
        s.accesses(pfns, nids, nrng.integers(0, 3, n), nows)
        if step % 4 == 3:
            s.extract(
                rng.choice(s.tops),
                rng.choice([10, 100]),
                rng.choice([None, 3]),
                True,
                [int(p) for p in np.unique(np.concatenate([hot, universe]))],
            )
        s.compare(watch)
    st = s.v2.stats()
    assert st["table_full"] > 0 and st["queue_full"] > 0 and st["extracted"] > 0
    assert len(s.v2) <= capacity


# -- the hash lists (F13) ---------------------------------------------------------------


@pytest.mark.parametrize("lower_pages", [0, 1, 2, 100, 2047, 2048, 4096, 5000, 20000])
def test_f13_list_count_for_any_lower_tier_size(lower_pages: int) -> None:
    # v2: hash_size = hash_entries / 1024 is 0 below 2048 lower-tier pages,
    # then ilog2(0); here there is always at least one list. (What the table
    # holds at each size: test_semantics.py::test_f13_any_lower_tier_size.)
    t = KernelV2Tracker(Topology.two_tier(64, lower_pages))
    cap = lower_pages * 50 // 100
    assert t.capacity == cap
    nlists = v2._nr_lists(cap)
    assert nlists == (1 << (max(1, cap // 1024).bit_length() - 1))
    assert f"lists={nlists}," in repr(t)


def test_f13_list_count_is_a_power_of_two() -> None:
    got = {
        c: v2._nr_lists(c) for c in (0, 1, 1023, 2047, 2048, 4095, 4096, 6143, 1 << 20, 1_000_000, 1 << 31)
    }
    assert got == {
        0: 1,
        1: 1,
        1023: 1,
        2047: 1,
        2048: 2,
        4095: 2,
        4096: 4,
        6143: 4,
        1 << 20: 1024,
        1_000_000: 512,
        1 << 31: 1 << 21,
    }


# -- the layout: 40-byte records, 16-byte list heads ----------------------------------


def test_record_is_40_bytes_and_memory_counts_it() -> None:
    assert v2.RECORD_BYTES == 40
    assert v2.LIST_BYTES == 16
    topo = Topology.two_tier(64, 20000)  # capacity 10000: 8 lists
    t = KernelV2Tracker(topo, threshold=3)
    empty = t.memory_bytes()
    heaps = 8 * t.queue_capacity  # one heap of record pointers, 8 bytes each
    assert empty >= 8 * 16 + heaps
    for n in (1, 2, 10, 1000):
        t.record_accesses(np.arange(64, 64 + n), -1, HW, 0)
        assert t.memory_bytes() - empty == 40 * len(t) == 40 * n
    # re-accessing changes nothing, extracting gives the bytes back
    t.record_accesses(np.arange(64, 64 + 300), -1, HW, 1)
    t.record_accesses(np.arange(64, 64 + 300), -1, HW, 2)
    assert t.memory_bytes() - empty == 40 * 1000
    assert len(t.extract_batch(0, 200)) == 200
    assert t.memory_bytes() - empty == 40 * 800
    t.check()


def test_memory_against_the_hash_store() -> None:
    # Only a sanity bound here; bytes per tracked PFN are measured in the bench.
    topo = Topology.two_tier(64, 1 << 16)
    a, b = KernelV2Tracker(topo), CoreTracker(topo)
    pfns = np.arange(64, 64 + a.capacity)
    a.record_accesses(pfns, -1, HW, 0)
    b.record_accesses(pfns, -1, HW, 0)
    assert len(a) == len(b) == a.capacity
    assert a.memory_bytes() / len(a) >= 40 + 8 * 0.25
    assert b.memory_bytes() < a.memory_bytes()


# -- threads ----------------------------------------------------------------------------

N_THREADS = 4
LOWER_START = 1024
LOWER_PAGES = 200_000
RunThreads = Callable[..., list[Any]]
RunAlongside = Callable[..., tuple[list[Any], Any]]


@pytest.fixture(scope="module")
def thread_topo(make_two_top: Callable[..., Topology]) -> Topology:
    """Top 0 [0, 1024), lower 1 [1024, 201024), top 2 after it."""
    return make_two_top(LOWER_PAGES, top_pages=LOWER_START)


def test_threads_conserve_records_exactly(thread_topo: Topology, run_threads: RunThreads) -> None:
    """Every PFN accessed once or twice with one target and one time.

    It reaches its heap only on its second access, so it is extracted at
    most once and never re-created: present + extracted == distinct PFNs.
    """
    rng = np.random.default_rng(2024)
    n_pfns = 30_000
    pfns = rng.choice(
        np.arange(LOWER_START, LOWER_START + LOWER_PAGES, dtype=np.uint64), n_pfns, replace=False
    )
    twice = rng.random(n_pfns) < 0.5
    accesses = np.concatenate([pfns, pfns[twice]])
    rng.shuffle(accesses)
    odd = accesses % 2 == 1
    nids = np.where(odd, 2, rng.choice([0, 1, NUMA_NO_NODE], len(accesses))).astype(np.int64)
    srcs = rng.integers(0, 3, len(accesses))
    parts = np.array_split(np.arange(len(accesses)), N_THREADS)
    # capacity 4 * 30000: 64 lists of ~470 records
    t = KernelV2Tracker(thread_topo, capacity=4 * n_pfns, queue_capacity=n_pfns, threshold=2)

    def worker(k: int) -> tuple[np.ndarray, list[np.ndarray]]:
        counts = np.zeros(4, dtype=np.int64)
        got: list[np.ndarray] = []
        for chunk in np.array_split(parts[k], 12):
            counts += t.record_accesses(accesses[chunk], nids[chunk], srcs[chunk], 100)
            got.append(t.extract_batch(2 * (k % 2), 512))
        return counts, got

    results = run_threads([functools.partial(worker, k) for k in range(N_THREADS)])
    t.check()
    counts = sum(r[0] for r in results)
    extracted = np.concatenate([a for r in results for a in r[1]])
    assert counts.tolist() == [len(accesses), 0, 0, 0]
    s = t.stats()
    assert s["pghot_recorded_accesses"] == s["recorded"] == len(accesses)
    assert (s["table_full"], s["queue_full"], s["evicted"]) == (0, 0, 0)
    assert s["pghot_records_hash"] == n_pfns and s["extracted"] == len(extracted)
    assert len(np.unique(extracted)) == len(extracted)
    assert len(t) + len(extracted) == n_pfns
    twice_set = set(pfns[twice].tolist())
    ext_set = set(extracted.tolist())
    assert ext_set <= twice_set
    for p, tw in zip(pfns.tolist(), twice.tolist()):
        if p not in ext_set:
            tg = 2 if p % 2 else 0
            assert t.lookup(p) == Record(p, 2 if tw else 1, tg, 100, tg if tw else -1)
    rest = np.concatenate([t.extract_batch(0, 10**9), t.extract_batch(2, 10**9)])
    assert set(rest.tolist()) | ext_set == twice_set
    assert len(t) == n_pfns - len(twice_set)
    t.check()


@pytest.mark.parametrize("evict_stale", [False, True])
def test_threads_with_drops_conserve_records(
    thread_topo: Topology, evict_stale: bool, run_threads: RunThreads
) -> None:
    rng = np.random.default_rng(7 + evict_stale)
    n = 120_000
    pfns = LOWER_START + rng.zipf(1.3, n).astype(np.uint64) % 20_000
    nids = rng.choice([0, 1, 2, NUMA_NO_NODE], n).astype(np.int64)
    srcs = rng.integers(0, 3, n)
    nows = np.sort(rng.integers(0, 40_000, n))  # window 5000 jiffies
    # capacity 5000: 4 lists; the table fills and the heaps refuse pushes
    t = KernelV2Tracker(thread_topo, capacity=5000, queue_capacity=700, threshold=2, evict_stale=evict_stale)
    parts = np.array_split(np.arange(n), N_THREADS)

    def worker(k: int) -> tuple[np.ndarray, int]:
        counts = np.zeros(4, dtype=np.int64)
        got = 0
        for chunk in np.array_split(parts[k], 16):
            counts += t.record_accesses(pfns[chunk], nids[chunk], srcs[chunk], nows[chunk])
            got += len(t.extract_batch(k % 2 * 2, 300, threshold=1 + k % 3))
        return counts, got

    results = run_threads([functools.partial(worker, k) for k in range(N_THREADS)])
    counts = sum(r[0] for r in results)
    extracted = sum(r[1] for r in results)
    t.check()
    s = t.stats()
    assert s["table_full"] + s["evicted"] > 0
    assert (s["evicted"] > 0) == evict_stale
    assert counts.tolist() == [s["recorded"], s["toptier"], s["not_movable"], s["table_full"]]
    assert int(counts.sum()) == s["pghot_recorded_accesses"] == n
    assert s["extracted"] == extracted > 0
    assert len(t) + extracted == s["pghot_records_hash"] - s["evicted"]
    assert len(t) == s["records"] <= t.capacity


def test_threads_single_accesses_extraction_and_check(
    thread_topo: Topology, run_alongside: RunAlongside
) -> None:
    rng = np.random.default_rng(3)
    n = 4000
    work = [
        ((LOWER_START + rng.integers(0, 3000, n)).tolist(), rng.choice([0, 1, 2, NUMA_NO_NODE], n).tolist())
        for _ in range(3)
    ]
    t = KernelV2Tracker(thread_topo, capacity=2000, queue_capacity=300, threshold=2)
    failures: list[str] = []

    def recorder(k: int) -> list[int]:
        outs = [0, 0, 0, 0]
        for i in range(n):
            outs[t.record_access(work[k][0][i], work[k][1][i], i % 3, i)] += 1
        return outs

    def extractor(done: threading.Event) -> int:
        got = 0
        while not done.is_set():
            got += len(t.extract_batch(0, 64)) + len(t.extract_batch(2, 64))
            try:
                t.check()
            except RuntimeError as exc:
                failures.append(str(exc))
        return got

    results, extracted = run_alongside([functools.partial(recorder, k) for k in range(3)], extractor)
    assert failures == []
    t.check()
    outs = [sum(r[i] for r in results) for i in range(4)]
    s = t.stats()
    assert outs == [s["recorded"], s["toptier"], s["not_movable"], s["table_full"]]
    assert s["extracted"] == extracted
    assert len(t) + s["extracted"] == s["pghot_records_hash"]


# -- bad input: the core's exceptions, word for word ------------------------------------

HUGE = [2**63, 2**64, 2**100, -(2**100)]
CTOR_BAD: list[dict[str, Any]] = [
    *[
        {k: v}
        for k in ("hz", "freq_window_ms", "threshold", "freq_bits", "nid_bits", "time_bits")
        for v in (None, "1", 1.0, -1, *HUGE)
    ],
    *[{k: 0} for k in ("hz", "threshold", "freq_bits", "nid_bits", "time_bits")],
    *[{k: v} for k in ("capacity", "queue_capacity") for v in ("1", 1.5, [1], -1, 2**32, *HUGE)],
    {"queue": None},
    {"queue": 1},
    {"queue": b"binary"},
    {"evict_stale": None},
    {"evict_stale": 1},
    {"evict_stale": "yes"},
    {"freq_window_ms": 524288},
    {"time_bits": 12},
    {"nid_bits": 1},
    {"freq_bits": 16, "nid_bits": 2, "time_bits": 15},
    {"threshold": 8},
    {"hz": 250, "time_bits": 2, "freq_window_ms": 13},
]


def _raised(call: Callable[[], Any]) -> tuple[type, str]:
    try:
        call()
    except (TypeError, ValueError) as exc:
        return type(exc), str(exc)
    raise AssertionError("no exception")


@pytest.mark.parametrize("kwargs", CTOR_BAD, ids=repr)
def test_constructor_errors_match_the_core(two_top: Topology, kwargs: dict[str, Any]) -> None:
    assert _raised(lambda: KernelV2Tracker(two_top, **kwargs)) == _raised(
        lambda: CoreTracker(two_top, **kwargs)
    )


@pytest.mark.parametrize("topology", [None, "x", 5, [Node(0, 0, 64, True)]])
def test_constructor_topology_errors(topology: Any) -> None:
    assert _raised(lambda: KernelV2Tracker(topology)) == _raised(lambda: CoreTracker(topology))


@pytest.mark.parametrize("queue", ["quaternary", "bucket", "fibonacci"])
def test_only_the_binary_heap(two_top: Topology, queue: str) -> None:
    with pytest.raises(ValueError, match="queue"):
        KernelV2Tracker(two_top, queue=queue)
    assert KernelV2Tracker(two_top, queue="binary").queue == "binary"


LOWER, TOP, OFFLINE = 100, 5, 400
CALLS_BAD: list[tuple[str, tuple[Any, ...]]] = [
    *[
        ("record_access", tuple(v if i == pos else d for i, d in enumerate((LOWER, -1, 0, 20))))
        for pos, vals in enumerate(
            [
                (None, "1", 1.0, -1, 2**63, 2**64 - 1, *HUGE),
                (None, 0.0, -2, 3, 1023, 1024, np.int16(-5), *HUGE),
                (None, "0", -1, 3, np.uint8(200), *HUGE),
                (None, 5.0, -1, 2**63, np.int64(-7), *HUGE),
            ]
        )
        for v in vals
    ],
    *[
        (
            "record_accesses",
            tuple(
                v if i == pos else d
                for i, d in enumerate((np.array([LOWER, LOWER + 1, TOP]), -1, 0, np.array([20, 21, 22])))
            ),
        )
        for pos, vals in enumerate(
            [
                (
                    None,
                    "abc",
                    1.5,
                    LOWER,
                    [],
                    np.array([100.0, 1, 2]),
                    np.array([[100, 101, 5]]),
                    np.array([100, 101]),
                    np.array([100, -1, 5]),
                    np.array([100, 101, 2**63], dtype=np.uint64),
                    [1, 2, 2**64],
                ),
                (
                    None,
                    "0",
                    1.0,
                    np.array([0, 0]),
                    np.array([-2, 0, 0]),
                    np.array([0, 3, 0]),
                    np.array([0, 0, 1024]),
                    -2,
                    3,
                    *HUGE,
                ),
                (None, 0.0, np.array([0, 1, 3]), np.array([0, 0]), 3, -1, *HUGE),
                (None, 20.0, np.array([20, -1, 22]), np.array([20, 21]), -1, 2**63, *HUGE),
            ]
        )
        for v in vals
    ],
    *[
        ("extract_batch", tuple(v if i == pos else d for i, d in enumerate((0, 1024, None, False))))
        for pos, vals in enumerate(
            [
                (None, "0", 0.0, -1, 1, 3, 1023, *HUGE),
                (None, 5.0, -1, *HUGE),
                ("2", 2.0, 0, 8, *HUGE),
                (None, 1, "yes"),
            ]
        )
        for v in vals
    ],
    *[("lookup", (v,)) for v in (None, "5", 5.0, -1, 2**63, *HUGE)],
    *[
        ("set_movable", (v, False))
        for v in (
            None,
            "100",
            100.0,
            TOP,
            OFFLINE,
            -1,
            [LOWER, TOP],
            np.array([LOWER, -1]),
            np.array([100.0]),
            2**63,
            np.array([LOWER, 2**64 - 1], dtype=np.uint64),
        )
    ],
    ("set_movable", (LOWER, 1)),
    *[("queued", (v,)) for v in (None, 1.0, -1, 1, 3, *HUGE)],
]


def _populate(t: Any) -> None:
    t.record_accesses(np.arange(64, 80), 0, 0, 1)
    t.record_accesses(np.arange(64, 80), 0, 1, 2)
    t.record_accesses(np.arange(90, 96), 2, 2, 10)
    t.record_accesses(np.arange(90, 96), 2, 2, 11)
    t.set_movable(300, False)


@pytest.mark.parametrize(("method", "args"), CALLS_BAD, ids=repr)
def test_call_errors_match_the_core(two_top: Topology, method: str, args: tuple[Any, ...]) -> None:
    a = KernelV2Tracker(two_top, nid_bits=10, capacity=60, queue_capacity=12)
    b = CoreTracker(two_top, nid_bits=10, capacity=60, queue_capacity=12)
    _populate(a)
    _populate(b)
    before = (a.stats(), len(a), a.queued(0), a.queued(2), [a.lookup(p) for p in range(64, 320)])
    assert _raised(lambda: getattr(a, method)(*args)) == _raised(lambda: getattr(b, method)(*args))
    after = (a.stats(), len(a), a.queued(0), a.queued(2), [a.lookup(p) for p in range(64, 320)])
    assert after == before
    a.check()


def test_reinit_and_pickle_are_refused(two_top: Topology) -> None:
    t = KernelV2Tracker(two_top)
    with pytest.raises(RuntimeError):
        t.__init__(two_top)  # type: ignore[misc]
    with pytest.raises(TypeError, match="hash"):
        pickle.dumps(t)


def test_uninitialised_tracker_raises_instead_of_crashing() -> None:
    calls = [
        "len(t)",
        "t.stats()",
        "t.lookup(5)",
        "t.check()",
        "t.record_access(100, -1, 0, 0)",
        "t.record_accesses([100], -1, 0, 0)",
        "t.extract_batch(0)",
        "t.queued(0)",
        "t.memory_bytes()",
        "t.set_movable(100, True)",
        "repr(t)",
    ]
    code = "\n".join(
        [f"from {v2.__name__} import KernelV2Tracker as K", "t = K.__new__(K)"]
        + [f"try:\n    {c}\nexcept (RuntimeError, TypeError, ValueError):\n    pass" for c in calls]
        + ["print('ok')"]
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=None)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"


# -- API and examples -------------------------------------------------------------------


def test_same_public_api_as_the_core() -> None:
    public = {n for n in dir(CoreTracker) if not n.startswith("_")}
    mine = {n for n in dir(KernelV2Tracker) if not n.startswith("_")}
    # snapshots are written by the hash store only (pghot.tracker says so)
    assert mine == public - {"save", "load"}
    t = KernelV2Tracker(Topology.two_tier(64, 256))
    assert set(t.stats()) == set(CoreTracker(Topology.two_tier(64, 256)).stats())


def test_factory_builds_this_store_once_wired(two_top: Topology) -> None:
    t = pghot.Tracker(two_top, store="kernel-v2")
    assert type(t).__name__ == "KernelV2Tracker" and isinstance(t, pghot.Tracker)
