"""The hash store's own known answer: defect F11 (SEMANTICS.md section 2).

The known answers that every implementation shares (F1-F10, F12-F14) are in
``test_semantics.py``, one body run over the reference model, the hash store
with each queue design and v2's layout. F11 is about the hash store's table
itself: v2's hash lists hold ~1024 records each, and ``store="kernel-v2"``
keeps that layout on purpose, so only :class:`pghot._core.Tracker` is held
to O(1) lookups (their speed is measured in the benchmarks).
"""

from __future__ import annotations

import numpy as np
import pytest

from pghot import Source, Topology
from pghot._core import Tracker

HW = Source.HW_HINTS


# -- F11: lookups are O(1): correctness at scale (speed is for benchmarks) -------


@pytest.mark.parametrize("capacity", [250_000, 1_000_000])
def test_f11_large_table_finds_every_pfn(capacity: int) -> None:
    # v2: ~1024 records per hash list.  Here: an open-addressing table; at
    # 80 % load every PFN is recorded and found again.
    n = capacity * 80 // 100
    topo = Topology.two_tier(1024, 2_000_000)
    t = Tracker(topo, capacity=capacity)
    rng = np.random.default_rng(11)
    pfns = rng.choice(np.arange(1024, 1024 + 2_000_000, dtype=np.uint64), n, replace=False)
    counts = t.record_accesses(pfns, -1, HW, 7)
    assert counts.tolist() == [n, 0, 0, 0]
    assert len(t) == n
    lookup = t.lookup
    missing = [int(p) for p in pfns.tolist() if lookup(p) is None]
    assert missing == []
    rec = t.lookup(int(pfns[12345]))
    assert rec is not None and (rec.frequency, rec.last_update) == (1, 7)
    # a second pass finds (does not re-create) every record
    counts = t.record_accesses(pfns[::-1], -1, HW, 8)
    assert counts.tolist() == [n, 0, 0, 0]
    s = t.stats()
    assert s["pghot_records_hash"] == n and s["records"] == n and s["table_full"] == 0
    absent = np.setdiff1d(np.arange(1024, 1024 + 5000, dtype=np.uint64), pfns)
    assert all(lookup(p) is None for p in absent.tolist())
    t.check()
