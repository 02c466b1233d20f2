"""The compiled promoter round (``pghot._kpromoted``) against its specification.

:class:`pghot.machine.promoter.Promoter` runs its rounds in
:class:`pghot._kpromoted.PromoterCore` on the compiled memory and in Python
(``Promoter._round``) on the reference memory.  The same random operations
(placements, frees, reported accesses, rounds) on both, with every knob,
must give the same migrations, counters and tracker states after every
round; and the compiled loop of a whole replay stretch
(``PromoterCore.run``) must equal serving, recording and stepping one call
at a time.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from pghot import Source, Topology, Tracker
from pghot._kpromoted import PromoterCore
from pghot.machine.memory import TieredMemory
from pghot.machine.promoter import Promoter
from pghot.model.memory import TieredMemory as ReferenceMemory

KNOBS: list[dict[str, Any]] = [
    {},
    {"batch": 3},
    {"batch": 1, "rate_limit_mbps": None},
    {"rate_limit_mbps": 0},
    {"rate_limit_mbps": 1, "interval_ms": 7},
    {"rate_limit_mbps": 1, "threshold_adjust": True, "adjust_period_ms": 30},
    {"free_bypass": True, "bypass_free_pages": 5},
    {"free_bypass": True, "rate_limit_mbps": 1, "threshold_adjust": True, "adjust_period_ms": 25},
    {"stale_check": True},
    {"throttle_demotion_ratio": 100},
    {"throttle_demotion_ratio": 100, "throttle_window_ms": 1, "batch": 4},
    {"throttle_demotion_ratio": 50, "throttle_window_ms": 15, "batch": 8, "rate_limit_mbps": 1},
    {"throttle_demotion_ratio": 90, "throttle_window_ms": 5, "free_bypass": True, "bypass_free_pages": 3},
    {"throttle_demotion_ratio": 20, "throttle_window_ms": 3, "batch": 4, "throttle_signal": "ping-pong"},
]
STORES: list[dict[str, Any]] = [
    {},
    {"store": "pfn-array", "mode": "precise"},
    {"store": "kernel-v2"},
    {"threshold": 1, "freq_window_ms": 40, "time_bits": 6},
]


def _pair(
    topo: Topology, tracker_kw: dict[str, Any], knobs: dict[str, Any], demotion: bool
) -> list[tuple[Tracker, Any, Promoter]]:
    out = []
    classes: tuple[Any, ...] = (TieredMemory, ReferenceMemory)
    for cls in classes:
        tr = Tracker(topo, **tracker_kw)
        mem = cls(topo, tr, demotion=demotion)
        out.append((tr, mem, Promoter(tr, mem, **knobs)))
    return out


def _state(tr: Any, mem: Any, p: Promoter, pfns: range) -> tuple[Any, ...]:
    records = [tr.lookup(x) for x in pfns]
    return (
        p.stats(),
        mem.stats(),
        tr.stats(),
        records,
        [p.threshold(n) for n in p.memory.topology.toptier_nids()],
        [p.budget(n) for n in p.memory.topology.toptier_nids()],
    )


@pytest.mark.parametrize("knobs", KNOBS, ids=[str(k) for k in KNOBS])
@pytest.mark.parametrize("tracker_kw", STORES, ids=[str(s) for s in STORES])
@pytest.mark.parametrize("demotion", [True, False])
def test_rounds_match_the_python_round(
    knobs: dict[str, Any], tracker_kw: dict[str, Any], demotion: bool
) -> None:
    rng = np.random.default_rng(len(str(knobs)) * 31 + len(str(tracker_kw)) + demotion)
    topo = Topology.two_tier(6, 40)
    (ta, ma, pa), (tb, mb, pb) = _pair(topo, tracker_kw, knobs, demotion)
    assert pa._core is not None and pb._core is None
    pfns = range(0, 46)
    placed: set[int] = set()
    now = 0
    for step in range(60):
        new = [int(x) for x in rng.choice(40, size=4, replace=False) if int(x) not in placed]
        for mem in (ma, mb):
            if new:
                mem.allocate(np.array(new, dtype=np.int64))
        placed.update(new)
        if placed and rng.random() < 0.15:  # a freed page: non-LRU at the re-check
            gone = int(rng.choice(sorted(placed)))
            for mem in (ma, mb):
                mem.free([gone])
            placed.discard(gone)
        if placed:
            pages = rng.choice(sorted(placed), size=12)
            for tr, mem in ((ta, ma), (tb, mb)):
                got = mem.pfns_of(pages)
                tr.record_accesses(got, -1, Source.HINT_FAULT, now + np.arange(12) // 4)
        now += int(rng.integers(1, 12))
        a, b = pa.run_round(now), pb.run_round(now)
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
        assert _state(ta, ma, pa, pfns) == _state(tb, mb, pb, pfns), step
        ma.check()  # raises on a broken invariant
        ta.check()
    if knobs.get("batch") == 4 and "throttle_demotion_ratio" in knobs and demotion:
        assert pa.stats()["kpromoted_throttled"] > 0  # the throttle was exercised, not only off


def test_two_top_tier_nodes_match() -> None:
    from pghot import Node

    topo = Topology([Node(0, 0, 4, toptier=True), Node(1, 4, 4, toptier=True), Node(2, 8, 40, toptier=False)])
    (ta, ma, pa), (tb, mb, pb) = _pair(topo, {"threshold": 1}, {"batch": 2}, True)
    rng = np.random.default_rng(5)
    for mem in (ma, mb):
        mem.allocate(np.arange(30, dtype=np.int64), node=2)
    for now in range(1, 40):
        pages = rng.choice(30, size=6)
        nid = int(rng.integers(0, 2))
        for tr, mem in ((ta, ma), (tb, mb)):
            tr.record_accesses(mem.pfns_of(pages), nid, Source.HW_HINTS, now)
        a, b = pa.run_round(now), pb.run_round(now)
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
        assert _state(ta, ma, pa, range(48)) == _state(tb, mb, pb, range(48))


def test_run_equals_serve_record_and_step() -> None:
    """PromoterCore.run over a stretch = serve, record_accesses and run_round one by one."""
    rng = np.random.default_rng(11)
    topo = Topology.two_tier(8, 64)
    n, npages = 3000, 40
    pages = rng.integers(0, npages, size=n).astype(np.uint32)
    times = np.sort(rng.integers(0, 400, size=n)).astype(np.int64)
    # reports of a tenth of the accesses, and page-table scans every 50 jiffies
    sel = np.sort(rng.choice(n, size=n // 10, replace=False))
    rp, rt = pages[sel], times[sel]
    rs = np.full(sel.shape[0], int(Source.HW_HINTS), dtype=np.int8)
    scan_t = np.repeat(np.arange(50, 400, 50), 3)
    scan_p = pages[np.searchsorted(times, scan_t) - 1]
    allp = np.concatenate([rp, scan_p])
    allt = np.concatenate([rt, scan_t])
    alls = np.concatenate([rs, np.full(scan_t.shape[0], int(Source.PGTABLE_SCAN), dtype=np.int8)])
    key = allt * 2 + (alls != int(Source.PGTABLE_SCAN))
    order = np.argsort(key, kind="stable")
    allp, allt, alls = allp[order], allt[order], alls[order]
    alln = np.where(alls == int(Source.PGTABLE_SCAN), -1, 0).astype(np.int32)
    horizon, round_j, bin_j = int(times[-1]) + 1, 20, 100

    def machine() -> tuple[Tracker, TieredMemory, Promoter]:
        tr = Tracker(topo, threshold=2)
        mem = TieredMemory(topo, tr, logical_pages=npages)
        return tr, mem, Promoter(tr, mem, batch=4)

    ta, ma, pa = machine()
    hits_a = np.zeros(5, np.int64)
    promo_a = np.zeros(5, np.int64)
    out_a = np.zeros(8, np.int64)
    core: PromoterCore = pa._core
    h, nxt, moved, da, dr = core.run(
        pages, times, allp, alln, alls, allt, horizon, round_j, round_j, bin_j, hits_a, promo_a, out_a
    )
    assert nxt == (horizon - 1) // round_j * round_j + round_j
    assert (da, dr) == (n, allp.shape[0])  # everything consumed

    tb, mb, pb = machine()
    hits_b = np.zeros(5, np.int64)
    promo_b = np.zeros(5, np.int64)
    out_b = np.zeros(8, np.int64)
    hb, i, r, moved_b = 0, 0, 0, []
    for t in range(round_j, horizon, round_j):
        j = int(np.searchsorted(times, t, side="left"))
        q = int(np.searchsorted(key[order], 2 * t + 1, side="left"))
        hb += mb.serve(pages[i:j], times[i:j], bin_j, hits_b)
        if q > r:
            out_b[:4] += tb.record_accesses(mb.pfns_of(allp[r:q]), alln[r:q], alls[r:q], allt[r:q])
        m = pb.run_round(t)
        promo_b[t // bin_j] += m.pages.shape[0]
        moved_b.append(m.pages)
        i, r = j, q
    hb += mb.serve(pages[i:], times[i:], bin_j, hits_b)
    out_b[:4] += tb.record_accesses(mb.pfns_of(allp[r:]), alln[r:], alls[r:], allt[r:])
    assert h == hb and h > 0
    np.testing.assert_array_equal(hits_a, hits_b)
    np.testing.assert_array_equal(promo_a, promo_b)
    np.testing.assert_array_equal(out_a, out_b)
    np.testing.assert_array_equal(moved, np.concatenate(moved_b))
    assert moved.shape[0] > 0
    assert _state(ta, ma, pa, range(72)) == _state(tb, mb, pb, range(72))


def _run_args(core_pages: int = 10) -> tuple[Any, ...]:
    pages = np.arange(core_pages, dtype=np.uint32)
    times = np.arange(core_pages, dtype=np.int64)
    e = np.zeros(0, np.int64)
    return pages, times, e.astype(np.uint32), e.astype(np.int32), e.astype(np.int8), e


@pytest.mark.parametrize(
    "change, match",
    [
        ({"times": np.arange(10, 0, -1)}, "out of order"),
        ({"pages": np.full(10, 99, np.uint32)}, "page out of range"),
        ({"horizon": 5}, "not below horizon"),
        ({"round_j": 0}, "must be >= 1"),
        ({"hits": np.zeros(0, np.int64)}, "end before horizon"),
        ({"outcomes": np.zeros(2, np.int64)}, "outcomes"),
        (
            {
                "reports": (
                    np.array([1], np.uint32),
                    np.array([7], np.int32),
                    np.array([0], np.int8),
                    np.array([3]),
                )
            },
            "rnids",
        ),
        (
            {
                "reports": (
                    np.array([1, 2], np.uint32),
                    np.zeros(2, np.int32),
                    np.array([0, 1], np.int8),
                    np.array([3, 3]),
                )
            },
            "out of order",
        ),
        # a value a narrowing conversion would wrap: node 2**32 is not node 0, source 256
        # not hw-hints, page 2**32 + 1 not page 1
        (
            {"reports": (np.array([1], np.uint32), np.array([2**32]), np.array([0], np.int8), np.array([3]))},
            r"rnids: values in \[4294967296, 4294967296\] do not fit int32",
        ),
        (
            {"reports": (np.array([1], np.uint32), np.zeros(1, np.int32), np.array([256]), np.array([3]))},
            "rsrcs: values",
        ),
        ({"pages": np.full(10, 2**32 + 1, np.int64)}, "pages: values"),
    ],
)
def test_run_refuses_bad_arguments_and_changes_nothing(change: dict[str, Any], match: str) -> None:
    topo = Topology.two_tier(4, 16)
    tr = Tracker(topo)
    mem = TieredMemory(topo, tr, logical_pages=12)
    p = Promoter(tr, mem)
    pages, times, rp, rn, rs, rt = _run_args()
    pages = change.get("pages", pages)
    times = change.get("times", times)
    if "reports" in change:
        rp, rn, rs, rt = change["reports"]
    hits = change.get("hits", np.zeros(4, np.int64))
    outcomes = change.get("outcomes", np.zeros(8, np.int64))
    with pytest.raises(ValueError, match=match):
        p._core.run(
            pages,
            times,
            rp,
            rn,
            rs,
            rt,
            change.get("horizon", 20),
            5,
            change.get("round_j", 5),
            10,
            hits,
            np.zeros(4, np.int64),
            outcomes,
        )
    assert len(mem) == 0 and p.stats()["kpromoted_rounds"] == 0 and len(tr) == 0


def test_round_refuses_time_going_back() -> None:
    topo = Topology.two_tier(4, 16)
    tr = Tracker(topo)
    p = Promoter(tr, TieredMemory(topo, tr))
    p.step(10)
    with pytest.raises(ValueError, match="earlier than node 0's previous round at 10"):
        p.step(9)
    assert p.stats()["kpromoted_rounds"] == 1


def test_credit_saturates_over_huge_gaps() -> None:
    """Credit earned over ~2**62 jiffies at the largest rate saturates at the burst, as Python's ints."""
    topo = Topology.two_tier(8, 64)
    pair = _pair(topo, {"threshold": 1}, {"rate_limit_mbps": 2**40, "batch": 4}, True)
    for tr, mem, p in pair:
        mem.allocate(np.arange(10, dtype=np.int64), node=1)
        tr.record_accesses(mem.pfns_of(np.arange(10)), -1, 0, 1)
        p.step(1)
        tr.record_accesses(mem.pfns_of(np.arange(10)), -1, 0, 2)
        p.step(2**62)
    (ta, ma, pa), (tb, mb, pb) = pair
    assert pa.stats() == pb.stats() and pa.stats()["kpromoted_migrated"] == 8


def test_idle_stretches_are_counted_not_run() -> None:
    """Two accesses 10**9 jiffies apart: 5e7 rounds, counted at once, as running them would."""
    topo = Topology.two_tier(4, 16)
    pair = _pair(topo, {"threshold": 1}, {"free_bypass": True, "bypass_free_pages": 1}, True)
    for tr, mem, p in pair:
        pfn = mem.allocate(np.array([3], dtype=np.int64), node=1)
        p.step(20)
        assert p.idle()
        p.idle_rounds(40, 10**9, (10**9 - 40) // 20 + 1)
        tr.record_accesses(pfn, -1, 0, 10**9 + 1)
        assert not p.idle()
        p.step(10**9 + 20)
    (ta, ma, pa), (tb, mb, pb) = pair
    assert pa.stats() == pb.stats() and pa.stats()["kpromoted_rounds"] == 10**9 // 20 + 1
    assert pa.stats()["kpromoted_bypass_rounds"] == 10**9 // 20 + 1
    assert ma.node_of_page(3) == mb.node_of_page(3) == 0


def test_run_in_capped_calls_equals_one_call() -> None:
    rng = np.random.default_rng(3)
    topo = Topology.two_tier(8, 64)
    pages = rng.integers(0, 40, size=2000).astype(np.uint32)
    times = np.sort(rng.integers(0, 5000, size=2000)).astype(np.int64)
    rp, rt = pages[::3].copy(), times[::3].copy()
    rn = np.zeros(rp.shape[0], np.int32)
    rs = np.zeros(rp.shape[0], np.int8)
    outs = []
    for cap in (0, 1, 7):
        tr = Tracker(topo, threshold=2)
        mem = TieredMemory(topo, tr, logical_pages=40)
        core = Promoter(tr, mem, batch=2)._core
        hb, pb, ob = np.zeros(60, np.int64), np.zeros(60, np.int64), np.zeros(8, np.int64)
        a = r = 0
        nxt, calls, moved = 10, 0, []
        while True:
            h, nxt, m, da, dr = core.run(
                pages[a:], times[a:], rp[r:], rn[r:], rs[r:], rt[r:], 5000, nxt, 10, 100, hb, pb, ob, cap
            )
            a, r, calls = a + da, r + dr, calls + 1
            moved.append(m)
            if nxt >= 5000:
                break
        assert cap == 0 or calls > 1
        outs.append((hb.tolist(), pb.tolist(), ob.tolist(), np.concatenate(moved).tolist(), tr.stats()))
    assert outs[0] == outs[1] == outs[2]


def test_run_from_two_threads_on_one_core_keeps_each_calls_copies() -> None:
    """run keeps its copies in buffers between calls; a call made while another thread's
    call holds them (the GIL is released in both) gets buffers of its own, so neither
    reads the other's accesses: every access and report of each call is served and
    recorded once, whatever the interleaving (no rounds: ``next_round`` is the horizon)."""
    topo = Topology.two_tier(64, 1024)
    tr = Tracker(topo, threshold=2)
    mem = TieredMemory(topo, tr, logical_pages=600)
    core: PromoterCore = Promoter(tr, mem, batch=4)._core
    n, horizon, calls = 30_000, 1000, 12
    rounds = 0  # batches of calls, until the threads' calls have overlapped (at most 8)
    results: dict[int, list[tuple[int, int, int, int, int]]] = {0: [], 1: []}
    errors: list[BaseException] = []
    start = threading.Barrier(2)
    src = (Source.HW_HINTS, Source.HINT_FAULT)

    def work(k: int) -> None:
        rng = np.random.default_rng(k)
        try:
            start.wait()
            for _ in range(calls):
                pages = rng.integers(0, 600, size=n).astype(np.uint32)
                times = np.sort(rng.integers(0, horizon, size=n)).astype(np.int64)
                sel = np.arange(0, n, 2 + k)  # the threads' calls differ in size
                rn = np.zeros(sel.shape[0], np.int32)
                rs = np.full(sel.shape[0], int(src[k]), np.int8)  # each thread its own source
                hb, pb, ob = np.zeros(1, np.int64), np.zeros(1, np.int64), np.zeros(4, np.int64)
                h, nxt, moved, da, dr = core.run(
                    pages, times, pages[sel], rn, rs, times[sel], horizon, horizon, 10, horizon, hb, pb, ob
                )
                results[k].append((h, int(hb.sum()), da, dr, int(ob.sum())))
                assert nxt == horizon and moved.shape[0] == 0
                assert (da, dr) == (n, sel.shape[0]) and h == hb.sum()
                assert ob.sum() == sel.shape[0]  # one outcome per report recorded
        except BaseException as e:  # noqa: BLE001 -- reported by the main thread
            errors.append(e)

    # on one CPU the calls may not overlap in a batch: run batches until they have (on two
    # CPUs the first does); the checks hold after every batch
    while rounds < 8 and (rounds == 0 or core.own_buffers == 0):
        rounds += 1
        threads = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert len(results[0]) == len(results[1]) == rounds * calls
        # each call recorded its own reports: the tracker's per-source counts are each thread's
        st = tr.stats()
        assert (
            st["pghot_recorded_hwhints"]
            == sum(r[3] for r in results[0])
            == rounds * calls * len(range(0, n, 2))
        )
        assert (
            st["pghot_recorded_hintfaults"]
            == sum(r[3] for r in results[1])
            == rounds * calls * len(range(0, n, 3))
        )
    assert sum(r[0] for k in (0, 1) for r in results[k]) > 0
    assert core.own_buffers > 0  # the threads' calls did overlap, and the second got its own
