"""The core's memory layout for threads (issue 11): two threads recording PFNs of
different shards and targeting different nodes write no common cache line.

Checked from the addresses each store reports (``TrackerBase._layout()``), not
from timings: every block a batch call writes (the per-thread stripes of the
gate and of the lock-free counters, each shard's or list's lock and counters,
each queue's lock, size and header, the table population, the pfn-array's
counters) starts a 64-byte line and shares no line with another block or with
the tracker object's own fields, which every access reads.  The layout before
issue 11 fails: the per-source and outcome counters and the gate count were
fields of the object, the hash store's queue locks and sizes were packed
arrays of 4 and 8 bytes, its population a field of the object, the kernel-v2
store's list locks 16 bytes apart.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest

from pghot import Topology, Tracker

LINE = 64


def _lines(addr: int, size: int) -> set[int]:
    return set(range(addr // LINE, (addr + max(size, 1) - 1) // LINE + 1))


@pytest.mark.parametrize(
    ("store", "kwargs"),
    [("hash", {"queue": q}) for q in ("binary", "quaternary", "bucket")]
    + [("kernel-v2", {}), ("pfn-array", {}), ("pfn-array", {"mode": "default"})],
)
def test_written_blocks_have_lines_of_their_own(
    store: str, kwargs: dict[str, str], make_two_top: Callable[..., Topology]
) -> None:
    t = Tracker(make_two_top(1 << 17), store=store, **kwargs)
    lay = t._layout()
    obj = lay.pop("object")
    assert len(obj) == 1 and obj[0][1] > 0
    assert len(lay["stripes"]) >= 16
    per_store = {"hash": {"shards", "queue_locks", "queues"}, "kernel-v2": {"lists", "heaps"}}
    assert per_store.get(store, {"counters"}) <= set(lay)
    owner: dict[int, str] = {line: "object" for line in _lines(*obj[0])}
    n_blocks = 0
    for name, blocks in lay.items():
        for i, (addr, size) in enumerate(blocks):
            assert addr % LINE == 0, f"{store}: {name}[{i}] at {addr:#x} does not start a line"
            for line in _lines(addr, size):
                assert line not in owner, f"{store}: {name}[{i}] shares a line with {owner[line]}"
                owner[line] = f"{name}[{i}]"
            n_blocks += 1
    if store != "pfn-array":
        shards = lay["shards"] if store == "hash" else lay["lists"]
        assert len(shards) >= 2  # a sharded table: PFNs of different shards exist
        queues = lay["queue_locks"] if store == "hash" else lay["heaps"]
        assert len(queues) == 2  # two top-tier nodes, two queues
    assert n_blocks >= 19  # 16 stripes and at least three blocks of the store


def test_counts_of_two_threads_stay_exact(
    make_two_top: Callable[..., Topology],
) -> None:
    """Each thread's counts land in its own stripe; stats() and check() sum them exactly."""
    topo = make_two_top(1 << 15)
    t = Tracker(topo)
    lower = np.arange(1024, 1024 + (1 << 15), dtype=np.uint64)
    halves = [lower[: 1 << 14], lower[1 << 14 :]]
    barrier = threading.Barrier(2)

    def work(i: int) -> None:
        barrier.wait()
        for r in range(20):
            t.record_accesses(halves[i], 2 * i, i, r)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    s = t.stats()
    assert s["pghot_recorded_hwhints"] == s["pghot_recorded_pgtscans"] == 20 * (1 << 14)
    assert s["pghot_recorded_accesses"] == s["recorded"] + s["table_full"] + s["toptier"] + s["not_movable"]
    t.check()
