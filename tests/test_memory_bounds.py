"""The tracker's memory is bounded and ``memory_bytes()`` tells how much it is.

- Floods of accesses never grow the table past ``capacity`` nor a queue past
  ``queue_capacity``, for every queue design, with and without eviction,
  with one shard and with several; ``memory_bytes()`` does not change.
- ``memory_bytes()`` agrees within 10 % with the growth of the resident set
  of a process that builds a tracker of 1M records and touches all of its
  memory (every table slot, a full queue, every page of the movable bitmap),
  measured in a child process so that nothing else of the test run counts;
  and that resident set stays put while the tracker keeps working.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import pghot
from pghot import Node, Topology

QUEUES = ["binary", "quaternary", "bucket"]


def two_top() -> Topology:
    # top 0 [0, 1024), lower 1 [1024, 1024 + 2**20), top 2 after it
    return Topology(
        [
            Node(0, 0, 1024, True),
            Node(1, 1024, 1 << 20, False, has_cpu=False),
            Node(2, 1024 + (1 << 20), 1024, True),
        ],
        default_node=0,
    )


def assert_bounded(t: pghot.Tracker) -> None:
    assert 0 <= len(t) <= t.capacity
    for nid in t.topology.toptier_nids():
        assert 0 <= t.queued(nid) <= t.queue_capacity
    s = t.stats()
    assert s["records"] == len(t) and s["queued"] <= 2 * t.queue_capacity


@pytest.mark.parametrize("evict", [False, True])
@pytest.mark.parametrize("queue", QUEUES)
@pytest.mark.parametrize("capacity", [1000, 100_000])  # one shard; eight shards
def test_floods_stay_within_capacities(queue: str, evict: bool, capacity: int) -> None:
    qcap = capacity // 10
    t = pghot.Tracker(
        two_top(),
        capacity=capacity,
        queue_capacity=qcap,
        queue=queue,
        evict_stale=evict,
        freq_window_ms=100,
        hz=1000,
    )
    mem = t.memory_bytes()
    rng = np.random.default_rng(capacity + evict)
    lower = np.arange(1024, 1024 + (1 << 20))
    now = 0
    queue_filled = set()
    for flood in range(4):
        # hot PFNs accessed three times from node 0 or 2 (fills both queues),
        # then many distinct PFNs from any node or none (fills the table)
        hot = lower[flood::7][: capacity // 4]
        cold = rng.choice(lower, 3 * capacity)
        cold_nids = rng.choice(np.array([-1, 0, 2]), len(cold))
        pfns = np.concatenate([np.tile(hot, 3), cold])
        nids = np.concatenate([np.tile(np.where(hot % 2, 0, 2), 3), cold_nids])
        now += 1000  # past the window: stale records can be evicted
        nows = now + np.arange(len(pfns)) * 50 // len(pfns)  # within one window
        counts = t.record_accesses(pfns, nids, 0, nows)
        assert counts.sum() == len(pfns)
        assert_bounded(t)
        # the bound was reached (exactly with one shard) ...
        assert len(t) == capacity if capacity == 1000 else len(t) >= 0.99 * capacity
        queue_filled.add(max(t.queued(0), t.queued(2)) == qcap)
        s = t.stats()
        assert s["queue_full"] > 0
        assert s["table_full"] > 0 or (evict and s["evicted"] > 0)
        t.check()
        if flood % 2:
            t.extract_batch(0, qcap // 2)
            assert_bounded(t)
        assert t.memory_bytes() == mem
    assert True in queue_filled  # ... and the queues' too


def test_zero_capacities_hold_nothing() -> None:
    t = pghot.Tracker(two_top(), capacity=0)
    assert t.queue_capacity == 0
    counts = t.record_accesses(np.arange(1024, 5024).repeat(3), -1, 0, 5)
    assert counts[int(pghot.Outcome.TABLE_FULL)] == 12000 and len(t) == 0
    t2 = pghot.Tracker(two_top(), capacity=100, queue_capacity=0)
    t2.record_accesses(np.arange(1024, 1124).repeat(3), -1, 0, 5)
    assert len(t2) == 100 and t2.queued(0) == 0 and t2.stats()["queue_full"] > 0
    t.check()
    t2.check()


_RSS_CHILD = r"""
import gc, json, os, sys
import numpy as np
import pghot

PAGE = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE

queue, cap = sys.argv[1], int(sys.argv[2])
top = 1 << 16
topo = pghot.Topology.two_tier(top, 2 * cap)
CH = 1 << 14
# warm-up: every code path once, so that lazy allocations are in the baseline
w = pghot.Tracker(topo, capacity=1000, queue=queue)
w.record_accesses(np.arange(top, top + CH), -1, 0, 1)
w.record_accesses(np.arange(top, top + CH), -1, 0, 2)
w.set_movable(np.arange(top, top + CH, 64), True)
w.extract_batch(0, 100, return_records=True)
w.check(); w.stats(); w.lookup(top)
rng = np.random.default_rng(0)      # numpy.random is imported on first use
w.record_accesses(top + rng.integers(0, 2 * cap, CH), -1, 0, 3)
del w
gc.collect()
base = rss()

t = pghot.Tracker(topo, capacity=cap, queue=queue)
qcap = t.queue_capacity
for s in range(0, cap, CH):          # cap distinct PFNs: a full table
    t.record_accesses(np.arange(top + s, top + min(s + CH, cap)), -1, 0, 1)
for s in range(0, qcap, CH):          # a second access: a full queue
    t.record_accesses(np.arange(top + s, top + min(s + CH, qcap)), -1, 0, 2)
for s in range(0, 2 * cap, CH * 64):  # every word of the movable bitmap
    t.set_movable(np.arange(top + s, top + min(s + CH * 64, 2 * cap), 64), True)
gc.collect()
full = rss()
assert len(t) == cap and t.queued(0) == qcap, (len(t), t.queued(0), qcap)

# steady state: the tracker keeps working, its memory stays put
for i in range(20):
    t.record_accesses(top + rng.integers(0, 2 * cap, CH), -1, 0, 3 + i)
    t.extract_batch(0, CH // 2)
gc.collect()
after = rss()
print(json.dumps({"grown": full - base, "memory_bytes": t.memory_bytes(),
                  "steady_growth": after - full}))
"""


def _under_sanitizer() -> bool:
    with open("/proc/self/maps") as f:
        maps = f.read()
    return "libasan" in maps or "vgpreload" in maps


@pytest.mark.parametrize("queue", QUEUES)
def test_memory_bytes_matches_resident_growth(queue: str) -> None:
    if _under_sanitizer():
        pytest.skip("the resident set is not the tracker's own under ASan or valgrind")
    proc = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, queue, str(1_000_000)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout)
    ratio = r["grown"] / r["memory_bytes"]
    assert 0.9 <= ratio <= 1.1, r
    assert abs(r["steady_growth"]) <= 0.02 * r["memory_bytes"], r


def test_oversized_node_id_is_refused_before_allocating() -> None:
    # nid_bits=10 cannot hold node 2**27: the constructor must say so before
    # it builds per-node-id arrays (2**27 entries), not after.
    import tracemalloc

    import pghot
    from pghot import Node, Topology

    topo = Topology([Node(0, 0, 64, True), Node(2**27, 64, 64, False)])
    for store in ("hash", "kernel-v2"):
        tracemalloc.start()
        try:
            with pytest.raises(ValueError, match="nid_bits"):
                pghot.Tracker(topo, store=store)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 16 << 20, (store, peak)
