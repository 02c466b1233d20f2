"""One tracker, several Python threads.

``record_accesses`` and ``extract_batch`` release the GIL around their
kernels, so threads really run them concurrently on the shard and queue
locks. After every thread is joined, ``check()`` must pass and records must
be conserved: every record created is still present, was extracted, or was
evicted.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from pghot import NUMA_NO_NODE, Source, Topology
from pghot._core import Tracker

RunThreads = Callable[..., list[Any]]
RunAlongside = Callable[..., tuple[list[Any], Any]]

N_THREADS = 4

#: Two top-tier nodes (0, 2) and a large lower tier (node 1): ``make_two_top(LOWER_PAGES)``.
LOWER_START = 1024
LOWER_PAGES = 1_000_000


@pytest.fixture(scope="module")
def topo(make_two_top: Callable[..., Topology]) -> Topology:
    return make_two_top(LOWER_PAGES, top_pages=LOWER_START)


def _target(pfn: np.ndarray) -> np.ndarray:
    """Promotion target used for a PFN in these tests: node 0 or node 2."""
    return np.where(pfn % 2 == 0, 0, 2)


def test_concurrent_batches_conserve_records_exactly(
    topo: Topology, queue_kind: str, run_threads: RunThreads
) -> None:
    """No drops: present + extracted == distinct PFNs, every PFN accounted for.

    Each PFN is accessed once or twice in total (threshold 2), always with
    the same target and the same ``now``, so it reaches its queue only on
    its last access: it can be extracted at most once and never re-created.
    """
    rng = np.random.default_rng(2024)
    n_pfns = 120_000
    pfns = rng.choice(
        np.arange(LOWER_START, LOWER_START + LOWER_PAGES, dtype=np.uint64), n_pfns, replace=False
    )
    twice = rng.random(n_pfns) < 0.5
    accesses = np.concatenate([pfns, pfns[twice]])
    rng.shuffle(accesses)
    # nids all mapping to the PFN's fixed target: odd PFNs -> 2, even -> 0,
    # where node 0 is reached from 0, 1 (lower tier) or -1 (unknown)
    tgt = _target(accesses)
    even_nids = rng.choice([0, 1, NUMA_NO_NODE], len(accesses))
    nids = np.where(tgt == 2, 2, even_nids).astype(np.int64)
    srcs = rng.integers(0, 3, len(accesses))
    parts = np.array_split(np.arange(len(accesses)), N_THREADS)

    t = Tracker(topo, capacity=4 * n_pfns, queue_capacity=n_pfns, threshold=2, queue=queue_kind)

    def worker(k: int) -> tuple[np.ndarray, list[np.ndarray]]:
        idx = parts[k]
        counts = np.zeros(4, dtype=np.int64)
        got: list[np.ndarray] = []
        node = 0 if k % 2 == 0 else 2
        for chunk in np.array_split(idx, 12):
            counts += t.record_accesses(accesses[chunk], nids[chunk], srcs[chunk], 100)
            got.append(t.extract_batch(node, 2048))
        return counts, got

    results = run_threads([functools.partial(worker, k) for k in range(N_THREADS)])
    t.check()

    counts = sum(r[0] for r in results)
    extracted = np.concatenate([a for r in results for a in r[1]]).astype(np.uint64)
    assert counts.tolist() == [len(accesses), 0, 0, 0]
    s = t.stats()
    assert s["pghot_recorded_accesses"] == s["recorded"] == len(accesses)
    assert s["pghot_recorded_hwhints"] + s["pghot_recorded_pgtscans"] + s["pghot_recorded_hintfaults"] == len(
        accesses
    )
    assert (s["table_full"], s["queue_full"], s["evicted"]) == (0, 0, 0)
    assert s["pghot_records_hash"] == n_pfns
    assert s["extracted"] == len(extracted)

    # conservation, exactly
    assert len(np.unique(extracted)) == len(extracted)
    assert len(t) + len(extracted) == n_pfns
    twice_set = set(pfns[twice].tolist())
    ext_set = set(extracted.tolist())
    assert ext_set <= twice_set
    # every remaining PFN has its exact state
    n_twice = 0
    for p, tw in zip(pfns.tolist(), twice.tolist()):
        if p in ext_set:
            continue
        rec = t.lookup(p)
        assert rec is not None, p
        tg = 0 if p % 2 == 0 else 2
        assert (rec.frequency, rec.nid, rec.last_update) == (2 if tw else 1, tg, 100)
        assert rec.queued == (tg if tw else -1)
        n_twice += tw
    assert t.queued(0) + t.queued(2) == n_twice == s["queued"]
    # draining the queues yields exactly the rest of the twice-accessed PFNs
    rest = np.concatenate([t.extract_batch(0, 10**9), t.extract_batch(2, 10**9)])
    assert set(rest.tolist()) | ext_set == twice_set
    assert len(t) == n_pfns - len(twice_set)
    t.check()


def _drop_workload(
    topo: Topology, seed: int, evict_stale: bool, queue_kind: str, run_threads: RunThreads
) -> tuple[Tracker, np.ndarray, int]:
    rng = np.random.default_rng(seed)
    n = 400_000
    pfns = LOWER_START + rng.zipf(1.3, n).astype(np.uint64) % 60_000
    nids = rng.choice([0, 1, 2, NUMA_NO_NODE], n).astype(np.int64)
    srcs = rng.integers(0, 3, n)
    nows = np.sort(rng.integers(0, 40_000, n))  # jiffies; window 5000
    t = Tracker(
        topo,
        capacity=5000,
        queue_capacity=700,
        threshold=2,
        evict_stale=evict_stale,
        queue=queue_kind,
    )
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
    return t, counts, extracted


def test_concurrent_batches_with_drops_conserve_records(
    topo: Topology, queue_kind: str, run_threads: RunThreads
) -> None:
    t, counts, extracted = _drop_workload(
        topo, 7, evict_stale=False, queue_kind=queue_kind, run_threads=run_threads
    )
    t.check()
    s = t.stats()
    assert s["table_full"] > 0
    assert s["evicted"] == 0
    assert counts.tolist() == [s["recorded"], s["toptier"], s["not_movable"], s["table_full"]]
    assert int(counts.sum()) == s["pghot_recorded_accesses"] == 400_000
    assert s["extracted"] == extracted > 0
    assert len(t) + extracted == s["pghot_records_hash"] - s["evicted"]
    assert len(t) == s["records"] <= t.capacity


def test_concurrent_batches_with_eviction_conserve_records(
    topo: Topology, queue_kind: str, run_threads: RunThreads
) -> None:
    t, counts, extracted = _drop_workload(
        topo, 8, evict_stale=True, queue_kind=queue_kind, run_threads=run_threads
    )
    t.check()
    s = t.stats()
    assert s["evicted"] > 0
    assert counts.tolist() == [s["recorded"], s["toptier"], s["not_movable"], s["table_full"]]
    assert int(counts.sum()) == s["pghot_recorded_accesses"] == 400_000
    assert s["extracted"] == extracted
    assert len(t) + extracted == s["pghot_records_hash"] - s["evicted"]
    assert len(t) == s["records"] <= t.capacity


def test_concurrent_single_accesses(topo: Topology, queue_kind: str, run_alongside: RunAlongside) -> None:
    """record_access from 4 threads plus an extracting thread."""
    rng = np.random.default_rng(3)
    n = 6000
    per_thread = [
        (
            (LOWER_START + rng.integers(0, 3000, n)).tolist(),
            rng.choice([0, 1, 2, NUMA_NO_NODE], n).tolist(),
            rng.integers(0, 3, n).tolist(),
        )
        for _ in range(N_THREADS)
    ]
    t = Tracker(topo, capacity=2000, queue_capacity=300, threshold=2, queue=queue_kind)

    def recorder(k: int) -> list[int]:
        pf, nd, sr = per_thread[k]
        outs = [0, 0, 0, 0]
        for i in range(n):
            outs[t.record_access(pf[i], nd[i], sr[i], i)] += 1
        return outs

    def extractor(done: threading.Event) -> int:
        got = 0
        while not done.is_set():
            got += len(t.extract_batch(0, 64)) + len(t.extract_batch(2, 64))
        return got

    results, extracted = run_alongside([functools.partial(recorder, k) for k in range(N_THREADS)], extractor)
    t.check()
    outs = [sum(r[i] for r in results) for i in range(4)]
    s = t.stats()
    assert outs == [s["recorded"], s["toptier"], s["not_movable"], s["table_full"]]
    assert sum(outs) == s["pghot_recorded_accesses"] == N_THREADS * n
    assert s["extracted"] == extracted
    assert len(t) + s["extracted"] == s["pghot_records_hash"] - s["evicted"]


def test_check_while_single_accesses_run(topo: Topology, run_threads: RunThreads) -> None:
    """check() documents that it sees a consistent state while others run.

    Two threads call record_access while a third runs check() 30 times on a
    large table; no check may see an access counted but not yet recorded
    (record_access counts before it takes a shard lock).
    """
    rng = np.random.default_rng(5)
    t = Tracker(topo, capacity=1_000_000, threshold=2)
    work = [(LOWER_START + rng.integers(0, 100_000, 50_000)).tolist() for _ in range(2)]
    done = threading.Event()
    failures: list[str] = []

    def recorder(k: int) -> int:
        i = 0
        while not done.is_set():
            t.record_access(work[k][i % 50_000], NUMA_NO_NODE, Source.HINT_FAULT, i)
            i += 1
        return i

    def checker() -> None:
        try:
            for _ in range(30):
                try:
                    t.check()
                except RuntimeError as exc:
                    failures.append(str(exc))
        finally:
            done.set()

    counts = run_threads([lambda: recorder(0), lambda: recorder(1), checker])
    assert counts[0] > 0 and counts[1] > 0
    assert failures == [], f"{len(failures)} of 30 checks failed: {failures[:3]}"
    t.check()
    assert t.stats()["pghot_recorded_accesses"] == counts[0] + counts[1]
