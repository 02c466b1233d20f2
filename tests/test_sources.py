"""Temperature sources (pghot.machine.sources): known answers, a per-access reference
model of each source (the specification), chunking invariance, and replay of
the real test traces into a Tracker."""

from __future__ import annotations

import doctest
import pathlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pghot.machine.sources as sources
from pghot import NUMA_NO_NODE, Source, Topology, Tracker
from pghot.machine.sources import (
    HintFault,
    HwHints,
    PgtableScan,
    Reports,
    chunk_pages,
    combine,
    trace_reports,
)
from pghot.traces import PageMapper, TraceChunk, open_trace

DATA = pathlib.Path(__file__).parent / "data"

#: what the ``accesses`` strategy draws: PFNs, nids, times and chunk splits
Trace = tuple[Any, Any, Any, list[int]]


def as_list(r: Reports) -> list[tuple[int, int, int, int]]:
    return list(zip(r.pfns.tolist(), r.nids.tolist(), r.srcs.tolist(), r.nows.tolist()))


def run(
    source: Any, pfns: Any, nids: Any, times: Any, splits: Sequence[int] = ()
) -> list[tuple[int, int, int, int]]:
    """Feed the accesses cut at ``splits``, then flush; all reports in order."""
    out = []
    bounds = [0, *sorted(splits), len(pfns)]
    for a, b in zip(bounds, bounds[1:]):
        nid = nids if nids is None or isinstance(nids, int) else nids[a:b]
        out += as_list(
            source.feed(np.asarray(pfns[a:b], dtype=np.uint64), nid, np.asarray(times[a:b], dtype=np.int64))
        )
    out += as_list(source.flush())
    return out


# -- reference models: one access at a time, straight from the source's description ----


def ref_hwhints(n: int, sample_every: int, seed: int) -> list[int]:
    phase = int(np.random.default_rng(seed).integers(sample_every))
    return [i for i in range(n) if i >= phase and (i - phase) % sample_every == 0]


def ref_pgtable(
    pfns: list[int], times: list[int], interval: int, origin: int | None = None
) -> list[tuple[int, int, int, int]]:
    out: list[tuple[int, int, int, int]] = []
    pending: set[int] = set()
    next_scan = None if origin is None else origin + interval
    for p, t in zip(pfns, times):
        if next_scan is None:
            next_scan = t + interval
        while t >= next_scan:
            out += [(q, -1, 1, next_scan) for q in sorted(pending)]
            pending.clear()
            next_scan += interval
        pending.add(p)
    if pending:
        assert next_scan is not None
        out += [(q, -1, 1, next_scan) for q in sorted(pending)]
    return out


def ref_hintfault(
    pfns: list[int],
    nids: list[int],
    times: list[int],
    period: int,
    window: int,
    delay: int,
    origin: int | None = None,
) -> list[tuple[int, int, int, int]]:
    out: list[tuple[int, int, int, int]] = []
    known: set[int] = set()
    prot: set[int] = set()
    cursor = 0
    next_scan = None if origin is None else origin + delay
    for p, nid, t in zip(pfns, nids, times):
        if next_scan is None:
            next_scan = t + delay
        while t >= next_scan:
            rest = sorted(k for k in known if k >= cursor)
            prot |= set(rest[:window])
            cursor = 0 if len(rest) <= window else rest[window]
            next_scan += period
        if p in prot:
            prot.discard(p)
            out.append((p, nid, 2, t))
        known.add(p)
    return out


accesses = st.integers(1, 60).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 12), min_size=n, max_size=n),
        st.lists(st.integers(-1, 2), min_size=n, max_size=n),
        st.lists(st.integers(0, 6), min_size=n, max_size=n).map(lambda d: np.cumsum(d).tolist()),
        st.lists(st.integers(0, n), max_size=4),
    )
)


# -- module examples ------------------------------------------------------------------


def test_module_examples() -> None:
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(sources, optionflags=flags, report=False)
    assert result.attempted > 20
    assert result.failed == 0


def test_public_functions_have_examples() -> None:
    names: list[Any] = [
        HwHints,
        HwHints.feed,
        PgtableScan,
        PgtableScan.feed,
        PgtableScan.flush,
        HintFault,
        HintFault.feed,
        HintFault.flush,
        combine,
        trace_reports,
        chunk_pages,
        Reports,
    ]
    assert [f.__qualname__ for f in names if ">>>" not in (f.__doc__ or "")] == []


# -- hw hints -----------------------------------------------------------------------------


def test_hwhints_known_answer() -> None:
    hw = HwHints(sample_every=4, seed=0)
    phase = int(np.random.default_rng(0).integers(4))
    pfns = np.arange(1000, 1010, dtype=np.uint64)
    nids = np.array([0, 1] * 5, dtype=np.int32)
    r = hw.feed(pfns, nids, np.arange(10) * 3)
    idx = list(range(phase, 10, 4))
    assert as_list(r) == [(1000 + i, i % 2, int(Source.HW_HINTS), 3 * i) for i in idx]
    assert r.pfns.dtype == np.uint64 and r.nids.dtype == np.int32
    assert r.srcs.dtype == np.int8 and r.nows.dtype == np.int64
    assert hw.fed == 10 and hw.reported == len(idx)


def test_hwhints_default_rate() -> None:
    hw = HwHints()
    assert hw.sample_every == 10000
    n = 1_000_000
    r = hw.feed(np.zeros(n, np.uint64), 0, np.zeros(n, np.int64))
    assert len(r.pfns) == 100
    rnd = HwHints(random=True, seed=3)
    k = len(rnd.feed(np.zeros(n, np.uint64), 0, np.zeros(n, np.int64)).pfns)
    assert 60 <= k <= 140  # Binomial(1e6, 1e-4): mean 100, sd 10


@given(accesses, st.integers(1, 7), st.integers(0, 5), st.booleans())
def test_hwhints_matches_reference_and_ignores_chunking(
    data: Trace, every: int, seed: int, random: bool
) -> None:
    pfns, nids, times, splits = data
    whole = run(HwHints(every, seed, random=random), pfns, nids, times)
    assert run(HwHints(every, seed, random=random), pfns, nids, times, splits) == whole
    if not random:
        idx = ref_hwhints(len(pfns), every, seed)
        assert whole == [(pfns[i], nids[i], 0, times[i]) for i in idx]
    else:
        assert all(r[2] == 0 for r in whole)


def test_hwhints_seeds() -> None:
    pfns = np.arange(100, dtype=np.uint64)
    t = np.arange(100)
    a = as_list(HwHints(10, seed=1, random=True).feed(pfns, None, t))
    assert a == as_list(HwHints(10, seed=1, random=True).feed(pfns, None, t))
    phases = {as_list(HwHints(10, seed=s).feed(pfns, None, t))[0][0] for s in range(20)}
    assert len(phases) > 1
    assert all(r[1] == NUMA_NO_NODE for r in a)


# -- page-table scan --------------------------------------------------------------------------


def test_pgtable_known_answer() -> None:
    # interval 2000 ms at HZ=250: 500 jiffies. Origin: first access (t=100).
    scan = PgtableScan(hz=250)
    assert scan.interval_jiffies == 500 and scan.next_scan is None
    pfns = [9, 3, 9, 3, 7, 8, 3]
    nids = [0, 1, 0, 1, 0, 1, 0]
    times = [100, 200, 599, 600, 650, 2000, 2100]
    got = run(scan, pfns, nids, times)
    assert got == [
        (3, -1, 1, 600),
        (9, -1, 1, 600),  # t in [100, 600)
        (3, -1, 1, 1100),
        (7, -1, 1, 1100),  # t in [600, 1100)
        (8, -1, 1, 2100),  # t = 2000 in [1600, 2100); 1600 saw nothing
        (3, -1, 1, 2600),  # t = 2100: held until flush, then at the next scan
    ]
    assert scan.scans == 5 and scan.reported == 6


def test_pgtable_flush_and_idle_periods() -> None:
    s = PgtableScan(interval_ms=10, origin_jiffies=0)
    assert s.next_scan == 10
    assert as_list(s.feed([1, 2], 0, [1, 5])) == []
    assert as_list(s.flush(9)) == []
    assert as_list(s.flush(10)) == [(1, -1, 1, 10), (2, -1, 1, 10)]
    assert as_list(s.flush(10)) == [] and s.next_scan == 20
    assert as_list(s.flush(55)) == [] and s.next_scan == 60 and s.scans == 5
    assert as_list(s.feed([4], 0, [1_000_000])) == []
    assert s.next_scan == 1_000_010  # the idle scans in between were skipped
    assert as_list(s.flush()) == [(4, -1, 1, 1_000_010)]
    assert as_list(PgtableScan().flush()) == []


@given(accesses, st.integers(1, 9), st.sampled_from([None, 0, 3]))
def test_pgtable_matches_reference_and_ignores_chunking(
    data: Trace, interval: int, origin: int | None
) -> None:
    pfns, nids, times, splits = data
    whole = run(PgtableScan(interval, hz=1000, origin_jiffies=origin), pfns, nids, times)
    assert whole == ref_pgtable(pfns, times, interval, origin)
    assert run(PgtableScan(interval, origin_jiffies=origin), pfns, nids, times, splits) == whole


def test_pgtable_bounded_pending(monkeypatch: pytest.MonkeyPatch) -> None:
    s = PgtableScan(interval_ms=10**6, origin_jiffies=0)
    for k in range(6):
        s.feed(np.arange(1 << 20, dtype=np.uint64) % 1000, None, np.full(1 << 20, k))
    assert s._pending_len <= (1 << 22) + (1 << 20)
    assert s.flush().pfns.tolist() == list(range(1000))


# -- hint faults ------------------------------------------------------------------------------


def test_hintfault_known_answer() -> None:
    hf = HintFault(scan_period_ms=10, scan_window_pages=2, scan_delay_ms=5, origin_jiffies=0)
    # scans at 5, 15, 25, 35...
    pfns = [10, 11, 12, 10, 11, 12, 10, 12, 12, 10, 11]
    nids = [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3]
    times = [0, 1, 2, 6, 7, 8, 9, 16, 17, 26, 40]
    got = run(hf, pfns, nids, times)
    assert got == [
        (10, 1, 2, 6),
        (11, 1, 2, 7),  # scan at 5 unmapped the first window {10, 11}
        (12, 2, 2, 16),  # scan at 15: window {12}, the end: next starts over
        (10, 3, 2, 26),  # scan at 25: {10, 11} again
        (11, 3, 2, 40),  # still unmapped at 40 (scan at 35 unmapped {12})
    ]
    assert hf.scans == 4 and hf.unmapped == 2 + 1 + 2 + 1
    assert hf.protnone_pages.tolist() == [12]


def test_hintfault_defaults_and_flush() -> None:
    hf = HintFault()
    assert (hf.scan_period_ms, hf.scan_window_pages, hf.scan_delay_ms) == (1000, 65536, 1000)
    assert as_list(hf.feed(np.arange(100, dtype=np.uint64), 1, np.zeros(100, np.int64))) == []
    assert hf.next_scan == 1000
    assert as_list(hf.flush(1000)) == [] and hf.protnone_pages.tolist() == list(range(100))
    r = hf.feed(np.array([5, 5, 6], np.uint64), np.array([0, 1, 1]), np.array([1500, 1501, 1502]))
    assert as_list(r) == [(5, 0, 2, 1500), (6, 1, 2, 1502)]
    assert hf.flush().pfns.shape == (0,)


def test_hintfault_big_window_walks_the_space() -> None:
    hf = HintFault(scan_period_ms=1, scan_window_pages=3, scan_delay_ms=1, origin_jiffies=0)
    hf.feed(np.arange(10, dtype=np.uint64), None, np.zeros(10, np.int64))
    windows = []
    for t in range(1, 6):
        before = set(hf.protnone_pages.tolist())
        hf.flush(t)
        windows.append(sorted(set(hf.protnone_pages.tolist()) - before))
    assert windows == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9], []]  # cut short at the end, then all unmapped


@given(accesses, st.integers(1, 9), st.integers(1, 5), st.integers(0, 9), st.sampled_from([None, 0, 4]))
def test_hintfault_matches_reference_and_ignores_chunking(
    data: Trace, period: int, window: int, delay: int, origin: int | None
) -> None:
    pfns, nids, times, splits = data
    make = lambda: HintFault(period, window, scan_delay_ms=delay, origin_jiffies=origin)  # noqa: E731
    whole = run(make(), pfns, nids, times)
    assert whole == ref_hintfault(pfns, nids, times, period, window, delay, origin)
    assert run(make(), pfns, nids, times, splits) == whole


class _OneScanAtATime(HintFault):
    """HintFault running every scan of an idle time, the loop its fast path replaces."""

    def _scans(self, count: int) -> None:
        for _ in range(count):
            self._scan()


@pytest.mark.parametrize("period,window", [(1, 1), (1, 3), (2, 5), (3, 2), (1, 64)])
def test_hintfault_long_idle_gaps_match_running_every_scan(period: int, window: int) -> None:
    # gaps of hundreds of periods: whole walks of an all-unmapped space are counted, not run
    rng = np.random.default_rng(period * 100 + window)
    pfns = rng.integers(0, 12, 120).tolist()
    nids = rng.integers(0, 2, 120).tolist()
    times = np.cumsum(rng.choice([0, 1, 2, 500, 1001], 120)).tolist()
    fast = HintFault(period, window, scan_delay_ms=3, origin_jiffies=0)
    slow = _OneScanAtATime(period, window, scan_delay_ms=3, origin_jiffies=0)
    got = run(fast, pfns, nids, times)
    assert got == run(slow, pfns, nids, times) == ref_hintfault(pfns, nids, times, period, window, 3, 0)
    for now in (times[-1] + 1, times[-1] + 777, times[-1] + 5000):
        fast.flush(now)
        slow.flush(now)
        assert (fast.scans, fast.next_scan, fast.unmapped) == (slow.scans, slow.next_scan, slow.unmapped)
        assert fast.protnone_pages.tolist() == slow.protnone_pages.tolist()


# -- combine, ordering, validation ------------------------------------------------------------------


@given(accesses)
def test_combine_merges_in_time_order(data: Trace) -> None:
    pfns, nids, times, splits = data

    def mk() -> list[Any]:
        return [
            HwHints(3, seed=1),
            PgtableScan(4, origin_jiffies=0),
            HintFault(5, 2, scan_delay_ms=2, origin_jiffies=0),
        ]

    together = run(combine(*mk()), pfns, nids, times, splits)
    alone = sorted((r for s in mk() for r in run(s, pfns, nids, times)), key=lambda r: r[3])
    assert sorted(together) == sorted(alone)
    assert [r[3] for r in together] == sorted(r[3] for r in together)
    # fed in one call, equal times come in the order of the sources given
    # (across calls, in the order of the calls)
    at_once = run(combine(*mk()), pfns, nids, times)
    assert at_once == sorted(alone, key=lambda r: r[3])


def test_combine_checks() -> None:
    with pytest.raises(ValueError):
        combine()
    with pytest.raises(TypeError, match="not a source"):
        combine(HwHints(), object())
    c = combine(HwHints(1), PgtableScan(1))
    c.feed([1, 2], 0, [0, 5])
    assert c.reported == 2 + 1 and "HwHints" in repr(c)


def test_out_of_order_times_are_clamped() -> None:
    s = PgtableScan(interval_ms=10, origin_jiffies=0)
    r = s.feed([1, 2, 3], None, [12, 5, 13])  # 5 arrives after 12: treated as 12
    assert as_list(r) == [] and s.reordered == 1
    s.feed([4], None, [3])
    assert s.reordered == 2
    assert as_list(s.flush()) == [(1, -1, 1, 20), (2, -1, 1, 20), (3, -1, 1, 20), (4, -1, 1, 20)]


@pytest.mark.parametrize("make", [HwHints, PgtableScan, HintFault])
def test_feed_validation(make: Callable[[], Any]) -> None:
    s = make()
    with pytest.raises(TypeError):
        s.feed(None, 0, [1])
    with pytest.raises(TypeError):
        s.feed("12", 0, [1])
    with pytest.raises(TypeError):
        s.feed([1], 0, None)
    with pytest.raises(ValueError, match="integer dtype"):
        s.feed([1.5], 0, [1])
    with pytest.raises(ValueError, match="1-D"):
        s.feed([[1]], 0, [1])
    with pytest.raises(ValueError, match="length"):
        s.feed([1, 2], 0, [1])
    with pytest.raises(ValueError, match="length"):
        s.feed([1, 2], [0], [1, 2])
    with pytest.raises(ValueError, match="pfns must be >= 0"):
        s.feed([-1], 0, [1])
    with pytest.raises(ValueError, match="nids must be >= -1"):
        s.feed([1], -2, [1])
    with pytest.raises(ValueError, match="nids must be >= -1"):
        s.feed([1], [-3], [1])
    with pytest.raises(ValueError, match="times_jiffies must be >= 0"):
        s.feed([1], 0, [-1])
    assert s.fed == 0  # nothing was taken from the failed calls
    r = s.feed([], None, [])
    assert len(r.pfns) == 0
    s.feed(np.array([1], np.int64), np.int32(0), 7)  # scalar time, numpy scalar nid


def test_constructor_validation() -> None:
    for bad in (0, -3):
        with pytest.raises(ValueError):
            HwHints(bad)
        with pytest.raises(ValueError):
            PgtableScan(bad)
        with pytest.raises(ValueError):
            HintFault(bad)
        with pytest.raises(ValueError):
            HintFault(10, bad)
    with pytest.raises(TypeError):
        HwHints(True)
    with pytest.raises(TypeError):
        PgtableScan(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        HintFault(scan_delay_ms=-1)
    with pytest.raises(ValueError):
        PgtableScan(hz=0)
    with pytest.raises(ValueError):
        PgtableScan(origin_jiffies=-1)
    assert PgtableScan(3, hz=100).interval_jiffies == 1  # msecs_to_jiffies rounds up


# -- replaying the real traces -------------------------------------------------------------------


def test_reports_feed_a_tracker() -> None:
    topo = Topology.two_tier(64, 256)
    tracker = Tracker(topo)
    rng = np.random.default_rng(0)
    pfns = rng.integers(0, 320, 5000).astype(np.uint64)
    nids = rng.integers(0, 2, 5000).astype(np.int32)
    times = np.sort(rng.integers(0, 20_000, 5000))
    both = combine(HwHints(7), PgtableScan(2000), HintFault(1000, 64))
    total = np.zeros(4, np.int64)
    n = 0
    for a in range(0, 5000, 1000):
        r = both.feed(pfns[a : a + 1000], nids[a : a + 1000], times[a : a + 1000])
        total += tracker.record_accesses(*r[:4])
        n += len(r.pfns)
    r = both.flush()
    total += tracker.record_accesses(*r[:4])
    n += len(r.pfns)
    stats = tracker.stats()
    assert int(total.sum()) == n == stats["pghot_recorded_accesses"] == both.reported
    per_source = [s.reported for s in both.sources]
    assert [
        stats["pghot_recorded_hwhints"],
        stats["pghot_recorded_pgtscans"],
        stats["pghot_recorded_hintfaults"],
    ] == per_source
    assert all(k > 0 for k in per_source)
    tracker.check()


def test_lackey_trace_through_sources_into_a_tracker() -> None:
    topo = Topology.two_tier(64, 256)
    tracker = Tracker(topo, hz=1000, threshold=2)
    # 1 instruction = 1 ms, so the 133-instruction trace spans 132 jiffies
    with open_trace(DATA / "tiny.lackey", ns_per_instr=1e6) as reader:
        out = list(trace_reports(reader, PgtableScan(interval_ms=50), mapper=PageMapper(64, 256), nid=0))
    r = Reports.concat(out)
    # pages in first-touch order: the stack page (64), then arr's 4 pages (65-68)
    # scans at 50, 100, 150 ms
    assert r.srcs.tolist() == [1] * len(r.pfns)
    by_scan: dict[int, list[int]] = {}
    for p, t in zip(r.pfns.tolist(), r.nows.tolist()):
        by_scan.setdefault(t, []).append(p)
    assert sorted(by_scan) == [50, 100, 150]
    assert all(64 in v for v in by_scan.values())  # the stack is touched all the time
    assert sorted(set(r.pfns.tolist())) == [64, 65, 66, 67, 68]
    tracker.record_accesses(*r[:4])
    assert tracker.stats()["pghot_recorded_pgtscans"] == len(r.pfns)
    rec = tracker.lookup(64)
    assert rec is not None and rec.frequency == 3  # three scans within the 5 s window


def test_perf_trace_hint_faults() -> None:
    nodes = {c: (0 if c < 4 else 1) for c in range(8)}
    with open_trace(DATA / "mem_loads.perf", cpu_to_node=nodes) as reader:
        chunks = list(reader)
    # all 12 samples within 6 ms; scan after 1 jiffy at HZ=1000
    hf = HintFault(scan_period_ms=1, scan_window_pages=100, scan_delay_ms=1)
    reports = Reports.concat(trace_reports(chunks, hf))
    c = chunks[0]
    t = c.times_jiffies(1000, int(c.time_ns[0])).tolist()
    assert t == [0, 0, 0, 0, 1, 1, 2, 3, 3, 4, 5, 6]
    # faults: the first access after each scan to a page seen before that scan
    expected = ref_hintfault(c.get("pfn").tolist(), c.get("nid").tolist(), t, 1, 100, 1, origin=0)
    assert as_list(reports) == expected
    assert expected and all(src == 2 for _, _, src, _ in expected)
    assert {nid for _, nid, _, _ in expected} <= {0, 1}


# -- one rule from a trace to pages --------------------------------------------------------


@pytest.mark.parametrize(
    "pfn, vaddr",
    [
        ([5, 6, 5, 6, 5, 9], [0x1000, 0x2000, 0x3000, 0x4000, 0x5000, 0x6000]),  # pfns repeat
        ([1, 2, 3, 4, 5, 6], [0x1000, 0x1008, 0x1010, 0x2000, 0x2008, 0x1000]),  # vaddrs repeat
    ],
)
def test_a_trace_with_pfn_and_vaddr_gives_the_same_pages_by_every_path(
    pfn: list[int], vaddr: list[int]
) -> None:
    from pghot.sim import SimConfig, replay

    c = TraceChunk(
        time_ns=np.arange(len(pfn), dtype=np.int64) * 1_000_000,
        pfn=np.array(pfn, dtype=np.uint64),
        vaddr=np.array(vaddr, dtype=np.uint64),
    )
    pages, space = chunk_pages(c)
    assert pages.tolist() == pfn and space == "physical"
    # the sources' path: every access reported, as the page chunk_pages names
    reported = Reports.concat(trace_reports([c], HwHints(sample_every=1))).pfns.tolist()
    assert reported == pfn
    # the simulator's path: its logical pages number the same pages in first-touch order
    r = replay(
        [c],
        SimConfig(top_pages=1, lower_pages=len(pfn), sources=[{"name": "hw-hints"}]),
        baselines=("none",),
        progress=False,
    )
    assert r.trace["address_space"] == "physical"
    assert r.trace["footprint_pages"] == len(set(pfn))
    # one top-tier page: the first page touched; its accesses are the hits
    assert r["none"].top_tier_hits == reported.count(pfn[0])
