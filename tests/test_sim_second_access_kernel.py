"""The compiled second-access kernel gives what ``_SecondAccess.segment`` gives.

:meth:`pghot._memory.MemoryCore.second_access` runs one segment of the
second-access baseline (serve the accesses, act on the reports in time
order, promote at the second report within the window) as one kernel.  The
specification is :meth:`pghot.sim.policies._SecondAccess.segment` (itself
held to the per-report loop of ``tests/test_sim_second_access.py``) on the
reference memory (:mod:`pghot.model.memory`).  Both run on the same random
traces, cut into segments (pages first touched inside a segment, reports of
pages not served yet, times with ties, top tiers small enough that
promotions demote, windows of 0, a few and many jiffies), and every
number must agree after every segment: hits, hit bins, promoted pages and
times, the ``last`` array, the memory's counters and the PFN of every page.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from pghot import Topology
from pghot.machine.memory import TieredMemory
from pghot.machine.sources import Reports
from pghot.model.memory import TieredMemory as ReferenceMemory
from pghot.sim import SimConfig, policies

BIN_J = 50


def _policy(top: int, lower: int, npages: int, window_ms: int, demotion: bool, nbins: int) -> Any:
    """A second-access policy whose machine runs on the reference memory and stages."""
    cfg = SimConfig(second_access_window_ms=window_ms)
    topo = Topology.two_tier(top, lower)
    machine = policies.build_machine(cfg, topo, npages, BIN_J, nbins=nbins, engine="reference")
    ref = ReferenceMemory(topo, logical_pages=npages, demotion=demotion, hz=cfg.hz)
    machine = dataclasses.replace(machine, memory=ref)
    return policies._SecondAccess("second-access", machine)


def _segments(seed: int, n: int, npages: int, seg: int) -> list[tuple[np.ndarray, np.ndarray, Reports]]:
    rng = np.random.default_rng(seed)
    hot = rng.integers(0, max(1, npages // 6), n)
    cold = rng.integers(0, npages, n)
    pages = np.where(rng.random(n) < 0.6, hot, cold).astype(np.uint32)
    times = np.cumsum(rng.integers(0, 3, n)).astype(np.int64)  # ties included
    out = []
    for a in range(0, n, seg):
        p, t = pages[a : a + seg], times[a : a + seg]
        pick = np.flatnonzero(rng.random(p.shape[0]) < 0.5)  # the reported accesses
        reps = Reports(
            p[pick].astype(np.uint64),
            np.full(pick.shape[0], -1, dtype=np.int32),
            np.zeros(pick.shape[0], dtype=np.int8),
            t[pick].copy(),
        )
        out.append((p, t, reps))
    return out


@pytest.mark.parametrize("demotion", [True, False])
@pytest.mark.parametrize(
    ("top", "window_ms", "seed"), [(8, 1, 1), (30, 5, 2), (4, 50, 3), (200, 0, 4), (1, 20, 5)]
)
def test_kernel_matches_segment_on_the_reference(top: int, window_ms: int, seed: int, demotion: bool) -> None:
    lower, npages = 400, 300
    segs = _segments(seed, 6000, npages, 700)
    nbins = int(segs[-1][1][-1]) // BIN_J + 1
    pol = _policy(top, lower, npages, window_ms, demotion, nbins)
    mem = TieredMemory(Topology.two_tier(top, lower), logical_pages=npages, demotion=demotion)
    last = np.full(npages, -1, dtype=np.int64)
    hit_bins = np.zeros(nbins, dtype=np.int64)
    hits = 0
    promoted: list[tuple[int, int]] = []
    for pages, times, reps in segs:
        pol.segment(pages, times, reps)
        pp = np.empty(reps.pfns.shape[0], dtype=np.int64)
        pt = np.empty(reps.pfns.shape[0], dtype=np.int64)
        h, k = mem.second_access(
            pages, times, BIN_J, hit_bins, reps.pfns, reps.nows, last, pol.window_j, 0, pp, pt
        )
        hits += h
        promoted += list(zip(pp[:k].tolist(), pt[:k].tolist()))
        want_pages = np.concatenate(pol.pending or [np.zeros(0, np.int64)]).tolist()
        assert promoted == list(zip(want_pages, _TIMES.get(id(pol), [])))
        assert hits == pol.hits
        assert hit_bins.tolist() == pol.hit_bins.tolist()
        assert last.tolist() == pol.last.tolist()
        assert mem.stats() == pol.mem.stats()
        every = np.arange(npages)
        assert mem.pfns_of(every).tolist() == pol.mem.pfns_of(every).tolist()
    mem.check()
    s = mem.stats()
    if top < 200:  # the case moves pages
        if demotion:
            assert s["pgpromote_success"] > 0 and s["pgdemote_kswapd"] > 0
        else:
            assert s["promote_fail_no_space"] > 0


_TIMES: dict[int, list[int]] = {}


@pytest.fixture(autouse=True)
def _spy_promotions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Record the time of each promotion of the Python policy (``_promoted(pages, now)``)."""
    real = policies._Policy._promoted

    def spy(self: Any, pages: np.ndarray, now: int) -> None:
        _TIMES.setdefault(id(self), []).extend([int(now)] * int(pages.shape[0]))
        real(self, pages, now)

    monkeypatch.setattr(policies._Policy, "_promoted", spy)
    _TIMES.clear()


def test_kernel_checks_its_arguments_and_changes_nothing() -> None:
    mem = TieredMemory(Topology.two_tier(2, 8), logical_pages=10)
    pages = np.array([1, 2, 3], dtype=np.uint32)
    times = np.array([0, 1, 2], dtype=np.int64)
    rp = np.array([1, 1], dtype=np.uint64)
    rt = np.array([0, 1], dtype=np.int64)
    last = np.full(10, -1, dtype=np.int64)
    bins = np.zeros(1, dtype=np.int64)
    out = np.zeros(2, dtype=np.int64)

    def call(**kw: Any) -> tuple[int, int]:
        a: dict[str, Any] = {
            "pages": pages,
            "times": times,
            "bin_jiffies": 10,
            "hit_bins": bins,
            "rep_pages": rp,
            "rep_times": rt,
            "last": last,
            "window_jiffies": 5,
            "target_nid": 0,
            "promoted_pages": out,
            "promoted_times": out.copy(),
        }
        a.update(kw)
        return mem.second_access(**a)

    bads: list[dict[str, Any]] = [
        {"rep_pages": np.array([1, 10], dtype=np.uint64)},  # report page out of range
        {"rep_times": np.array([0, -1], dtype=np.int64)},  # negative report time
        {"rep_times": rt[:1]},  # lengths differ
        {"last": last[:9]},  # last too short
        {"promoted_pages": out[:1]},  # output too short
        {"target_nid": 1},  # not a top-tier node
        {"target_nid": 5},  # no node
        {"window_jiffies": -1},
        {"bin_jiffies": 1},  # bins too short for time 2
        {"times": np.array([0, 2, 1], dtype=np.int64)},  # times out of order
    ]
    for bad in bads:
        with pytest.raises(ValueError):
            call(**bad)
    assert len(mem) == 0 and last.tolist() == [-1] * 10 and bins.tolist() == [0]
    assert call() == (2, 0)  # pages 1 and 2 on the top tier, page 1 already there
    assert last.tolist()[1] == -1 and mem.node_of_page(3) == 1
    mem.check()
