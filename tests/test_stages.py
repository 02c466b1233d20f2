"""The compiled replay stages (pghot._stages) against the Python code they replace.

The Python sources (pghot.machine.sources), the oracle's counts
(pghot.model.sim.IntervalCounts) and the metric bins (pghot.model.sim.bin_counts, the heat-map
bincount) are the specification: every test feeds both the same dense pages
and times (nids=0) and requires the same reports, in the same order, and the
same counters, after every call.
"""

from __future__ import annotations

import doctest
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pghot._stages as stages
from pghot._stages import (
    CombinedStage,
    HintFaultStage,
    HwHintsStage,
    IntervalCounts,
    PgtableScanStage,
    Stage,
    bin_counts,
    heat_add,
)
from pghot.machine.sources import HintFault, HwHints, PgtableScan, combine
from pghot.model.sim import IntervalCounts as _IntervalCounts
from pghot.model.sim import bin_counts as _ref_bin_counts

#: one call: ("feed", pages, times) or ("flush", now or None)
Op = tuple[Any, ...]


def u32(a: Any) -> np.ndarray:
    return np.asarray(a, dtype=np.uint32)


def i64(a: Any) -> np.ndarray:
    return np.asarray(a, dtype=np.int64)


def counters(src: Any) -> dict[str, Any]:
    names = ("fed", "reported", "reordered", "scans", "unmapped", "next_scan")
    return {k: getattr(src, k) for k in names if hasattr(src, k)}


def check_same(py: Any, stage: Stage, ops: list[Op]) -> None:
    """Run ``ops`` on the Python source and the stage; same reports and counters after each."""
    for step, op in enumerate(ops):
        if op[0] == "feed":
            r = py.feed(op[1], 0, op[2])
            p, t, lat = stage.feed(op[1], op[2])
        else:
            r = py.flush(op[1])
            p, t, lat = stage.flush(op[1])
        assert p.dtype == np.uint32 and t.dtype == np.int64 and lat.dtype == np.int64
        assert p.tolist() == r.pfns.tolist(), (step, op[0])
        assert t.tolist() == r.nows.tolist(), (step, op[0])
        assert lat.tolist() == r.latencies().tolist(), (step, op[0])
        assert counters(stage) == counters(py), (step, op[0])
        if isinstance(stage, HintFaultStage):
            assert stage.protnone_pages.tolist() == py.protnone_pages.tolist(), step


def make_ops(pages: np.ndarray, times: np.ndarray, cuts: list[int], flushes: list[Any]) -> list[Op]:
    """Feeds cut at ``cuts``, each followed by the flush of ``flushes`` at that place (if any)."""
    ops: list[Op] = []
    bounds = [0, *sorted(set(c for c in cuts if 0 < c < len(pages))), len(pages)]
    for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
        ops.append(("feed", pages[a:b], times[a:b]))
        if i < len(flushes) and flushes[i] != "skip":
            f = flushes[i]
            ops.append(("flush", None if f is None else int(times[b - 1]) + f if b > a else f))
    ops.append(("flush", None))
    return ops


# -- strategies --------------------------------------------------------------------------

#: a time step: a burst at one time, a small step, a long idle gap, or a step back
steps = st.one_of(
    st.just(0),
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(50, 5000),
    st.integers(-4, -1),
)


@st.composite
def traces(draw: Any, max_pages: int = 48, max_len: int = 150) -> tuple[int, list[Op]]:
    npages = draw(st.integers(1, max_pages))
    n = draw(st.integers(0, max_len))
    first_order = draw(st.booleans())
    if first_order:  # the sim's numbering: pages in first-appearance order
        raw = draw(st.lists(st.integers(0, npages - 1), min_size=n, max_size=n))
        seen: dict[int, int] = {}
        pg = [seen.setdefault(x, len(seen)) for x in raw]
    else:
        pg = draw(st.lists(st.integers(0, npages - 1), min_size=n, max_size=n))
    start = draw(st.integers(0, 200))
    t = np.maximum(start + np.cumsum(np.asarray(draw(st.lists(steps, min_size=n, max_size=n)) or [0])), 0)[:n]
    cuts = draw(st.lists(st.integers(0, max(n, 1)), max_size=6))
    flushes = draw(
        st.lists(st.one_of(st.just("skip"), st.none(), st.integers(0, 3000)), max_size=len(cuts) + 1)
    )
    return npages, make_ops(u32(pg), i64(t), cuts, flushes)


origins = st.one_of(st.none(), st.integers(0, 300))
hzs = st.sampled_from([1000, 250, 100, 1])


# -- the sources -------------------------------------------------------------------------


@given(traces(), st.integers(1, 12), st.integers(0, 2**70), st.booleans())
def test_hwhints_same_as_python(tr: tuple[int, list[Op]], every: int, seed: int, rnd: bool) -> None:
    npages, ops = tr
    check_same(HwHints(every, seed, random=rnd), HwHintsStage(npages, every, seed, random=rnd), ops)


@pytest.mark.parametrize("every", [1, 2, 10000, 2**40, 2**63 - 1])
@pytest.mark.parametrize("rnd", [False, True])
def test_hwhints_extreme_periods(every: int, rnd: bool) -> None:
    rng = np.random.default_rng(every % 1000)
    pages = u32(rng.integers(0, 500, 30_000))
    times = i64(np.sort(rng.integers(0, 10_000, 30_000)))
    ops = make_ops(pages, times, [1, 7, 5000, 20_000], [])
    check_same(HwHints(every, 3, random=rnd), HwHintsStage(500, every, 3, random=rnd), ops)


@given(traces(), st.integers(1, 40), hzs, origins)
def test_pgtable_scan_same_as_python(tr: tuple[int, list[Op]], ms: int, hz: int, origin: int | None) -> None:
    npages, ops = tr
    check_same(
        PgtableScan(ms, hz=hz, origin_jiffies=origin),
        PgtableScanStage(npages, ms, hz=hz, origin_jiffies=origin),
        ops,
    )


@given(traces(), st.integers(1, 40), st.integers(1, 60), st.integers(0, 40), hzs, origins)
def test_hint_fault_same_as_python(
    tr: tuple[int, list[Op]], period: int, window: int, delay: int, hz: int, origin: int | None
) -> None:
    npages, ops = tr
    check_same(
        HintFault(period, window, scan_delay_ms=delay, hz=hz, origin_jiffies=origin),
        HintFaultStage(npages, period, window, scan_delay_ms=delay, hz=hz, origin_jiffies=origin),
        ops,
    )


@given(traces(max_pages=200), st.integers(1, 5), st.integers(1, 5))
def test_hint_fault_tiny_windows_and_huge_windows(tr: tuple[int, list[Op]], period: int, window: int) -> None:
    npages, ops = tr
    for w in (window, 2**63 - 1):
        check_same(
            HintFault(period, w, scan_delay_ms=0, origin_jiffies=0),
            HintFaultStage(npages, period, w, scan_delay_ms=0, origin_jiffies=0),
            ops,
        )


def test_hint_fault_idle_spanning_many_scans() -> None:
    # an idle time of 10**12 scans: the walks are counted, not run
    pages = u32([0, 1, 2, 3, 4, 0, 3, 4, 1])
    times = i64([0, 0, 1, 1, 2, 10**12, 10**12, 10**12 + 1, 2 * 10**12 + 7])
    for window in (1, 2, 3, 5, 100):
        ops = make_ops(pages, times, [3, 5, 7], [10**9, None, "skip", 5])
        check_same(
            HintFault(1, window, scan_delay_ms=0, origin_jiffies=0),
            HintFaultStage(5, 1, window, scan_delay_ms=0, origin_jiffies=0),
            ops,
        )


def test_pgtable_scan_times_near_the_int64_end() -> None:
    big = 2**63 - 1
    pages = u32([1, 2, 1, 3])
    times = i64([big - 10, big - 5, big - 1, big])
    ops = make_ops(pages, times, [1, 2, 3], [None, 0, None])
    check_same(PgtableScan(2**40, hz=10**6), PgtableScanStage(4, 2**40, hz=10**6), ops)


def trace_shapes(seed: int, n: int, npages: int) -> tuple[np.ndarray, np.ndarray]:
    """A real trace's shape: zipf pages numbered in first-appearance order; bursts at
    one time, steady stretches, long idle gaps and a few accesses out of order."""
    rng = np.random.default_rng(seed)
    w = 1.0 / np.arange(1, npages + 1) ** 0.99
    raw = rng.choice(npages, size=n, p=w / w.sum())
    _, first, inv = np.unique(raw, return_index=True, return_inverse=True)
    rank = np.empty(first.shape[0], dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.shape[0])
    pages = u32(rank[inv])
    kind = rng.choice(4, size=n, p=[0.5, 0.4, 0.095, 0.005])
    step = np.where(kind == 0, 0, np.where(kind == 1, rng.integers(0, 3, n), rng.integers(100, 20_000, n)))
    step = np.where(kind == 3, rng.integers(10**6, 10**8, n), step)
    times = np.cumsum(step)
    back = rng.random(n) < 0.002
    times[back] -= rng.integers(1, 50, int(back.sum()))
    return pages, i64(np.maximum(times, 0))


SHAPES = [(1, 100_000, 2000), (2, 3_000, 50_000), (3, 20_000, 7)]


@pytest.mark.parametrize(("seed", "n", "npages"), SHAPES)
def test_sources_on_real_trace_shapes(seed: int, n: int, npages: int) -> None:
    pages, times = trace_shapes(seed, n, npages)
    cuts = list(np.random.default_rng(seed).integers(0, n, 40))
    ops = make_ops(pages, times, cuts, [None, 0, 100, "skip"] * 10)
    check_same(HwHints(7, seed), HwHintsStage(npages, 7, seed), ops)
    check_same(HwHints(3, seed, random=True), HwHintsStage(npages, 3, seed, random=True), ops)
    # a scan every jiffy makes the Python sources slow: those on the first 5000 accesses
    short = make_ops(pages[:5000], times[:5000], [c for c in cuts if c < 5000], [None, 0, 100, "skip"] * 10)
    for ms in (1, 10, 2000):
        check_same(
            PgtableScan(ms, origin_jiffies=0),
            PgtableScanStage(npages, ms, origin_jiffies=0),
            short if ms == 1 else ops,
        )
    for period, window in ((1, 1), (1, 64), (10, 1000), (1000, 65536)):
        check_same(
            HintFault(period, window, scan_delay_ms=period, origin_jiffies=0),
            HintFaultStage(npages, period, window, scan_delay_ms=period, origin_jiffies=0),
            short if period == 1 else ops,
        )


# -- combined ------------------------------------------------------------------------------


def build_pair(npages: int, kinds: list[int]) -> tuple[Any, CombinedStage]:
    py: list[Any] = []
    cs: list[Stage] = []
    for i, k in enumerate(kinds):
        if k == 0:
            py.append(HwHints(2 + i, i))
            cs.append(HwHintsStage(npages, 2 + i, i))
        elif k == 1:
            py.append(PgtableScan(3 + i, origin_jiffies=0))
            cs.append(PgtableScanStage(npages, 3 + i, origin_jiffies=0))
        else:
            py.append(HintFault(2 + i, 4, scan_delay_ms=1, origin_jiffies=0))
            cs.append(HintFaultStage(npages, 2 + i, 4, scan_delay_ms=1, origin_jiffies=0))
    return combine(*py), CombinedStage(*cs)


@given(traces(), st.lists(st.integers(0, 2), min_size=1, max_size=4))
def test_combined_same_as_combine(tr: tuple[int, list[Op]], kinds: list[int]) -> None:
    npages, ops = tr
    py, comb = build_pair(npages, kinds)
    for op in ops:
        if op[0] == "feed":
            r = py.feed(op[1], 0, op[2])
            got = comb.feed(op[1], op[2])
        else:
            r = py.flush(op[1])
            got = comb.flush(op[1])
        assert [a.tolist() for a in got] == [
            r.pfns.tolist(),
            r.nids.tolist(),
            r.srcs.tolist(),
            r.nows.tolist(),
            r.latencies().tolist(),
        ]
        assert [a.dtype for a in got] == [np.uint32, np.int32, np.int8, np.int64, np.int64]
        assert comb.reported == py.reported
        assert [counters(s) for s in comb.stages] == [counters(s) for s in py.sources]


def test_combined_rejects_bad_stages() -> None:
    hw = HwHintsStage(4)
    with pytest.raises(ValueError, match="stages"):
        CombinedStage()
    with pytest.raises(ValueError, match="twice"):
        CombinedStage(hw, hw)
    with pytest.raises(ValueError, match="npages"):
        CombinedStage(hw, HwHintsStage(5))
    with pytest.raises(TypeError, match="stages"):
        CombinedStage(hw, object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nid"):
        CombinedStage(hw, nid=-2)


# -- the oracle -----------------------------------------------------------------------------


@given(
    st.integers(1, 60),
    st.lists(
        st.tuples(st.lists(st.integers(0, 10**6), max_size=80), st.integers(1, 70)),
        max_size=6,
    ),
)
def test_interval_counts_same_as_python(npages: int, intervals: list[tuple[list[int], int]]) -> None:
    py = _IntervalCounts(npages)
    oc = IntervalCounts(npages)
    for raw, k in intervals:
        pages = u32([x % npages for x in raw])
        for a in np.array_split(pages, 3):
            py.add(a)
            oc.add(a)
        assert oc.accesses == py.accesses
        got = oc.hot(k)
        assert got.dtype == np.int64
        assert got.tolist() == py.hot(k).tolist()
        assert oc.accesses == 0


@pytest.mark.parametrize(("seed", "n", "npages"), [*SHAPES, (4, 100_000, 1 << 20)])
def test_interval_counts_on_real_trace_shapes(seed: int, n: int, npages: int) -> None:
    pages, _ = trace_shapes(seed, n, npages)
    if seed == 4:  # sparse pages: the radix-sort path
        pages = u32(np.random.default_rng(4).permutation(npages)[pages])
    py = _IntervalCounts(npages)
    oc = IntervalCounts(npages)
    for i, part in enumerate(np.array_split(pages, 9)):
        py.add(part)
        oc.add(part)
        if i % 3 == 2:
            for k in (1, 5):
                # a copy: hot resets, so ask each once per interval with its own k
                assert oc.hot(k * (i + 1)).tolist() == py.hot(k * (i + 1)).tolist()
                py.add(part)
                oc.add(part)


def test_interval_counts_large_counts() -> None:
    # counts above 2**8, 2**16: every byte of the radix select
    pages = u32(np.repeat(np.arange(6), [70_000, 300, 70_000, 5, 256, 257]))
    py, oc = _IntervalCounts(6), IntervalCounts(6)
    for k in (1, 2, 3, 4, 5, 6):
        py.add(pages)
        oc.add(pages)
        assert oc.hot(k).tolist() == py.hot(k).tolist()


# -- the metrics ------------------------------------------------------------------------------


@given(st.lists(st.integers(0, 10**6), max_size=200), st.integers(1, 10**4), st.booleans())
def test_bin_counts_same_as_bins(raw: list[int], bin_j: int, sort: bool) -> None:
    times = i64(sorted(raw) if sort else raw)
    nbins = (max(raw) // bin_j + 1) if raw else 1
    out = np.zeros(nbins, dtype=np.int64)
    bin_counts(times, bin_j, out)
    if sort:
        ref = np.zeros(nbins, dtype=np.int64)
        _ref_bin_counts(times, bin_j, ref)
        assert out.tolist() == ref.tolist()
    assert out.tolist() == np.bincount(times // bin_j, minlength=nbins).tolist()


@given(
    st.lists(st.tuples(st.integers(0, 999), st.integers(0, 5000)), max_size=200),
    st.integers(1, 700),
    st.integers(1, 40),
)
def test_heat_add_same_as_bincount(acc: list[tuple[int, int]], tj: int, pp: int) -> None:
    # times up to 5000 (not 10**5): the map is then at most 5M cells, not 100M, for the
    # same coverage of the time and page strides (each example allocated and compared it)
    pages = u32([a[0] for a in acc])
    times = i64(sorted(a[1] for a in acc))
    hnp = -(-1000 // pp)
    nt = 5000 // tj + 1
    out = np.zeros(nt * hnp, dtype=np.int64)
    heat_add(pages, times, tj, pp, hnp, out)
    idx = (times // tj) * hnp + pages // pp
    assert np.array_equal(out, np.bincount(idx, minlength=out.shape[0]))


# -- bad arguments ------------------------------------------------------------------------------


def all_stages() -> list[Stage]:
    return [
        HwHintsStage(8, 2),
        HwHintsStage(8, 2, random=True),
        PgtableScanStage(8, 5, origin_jiffies=0),
        HintFaultStage(8, 5, 2, scan_delay_ms=0, origin_jiffies=0),
    ]


BAD_BATCHES: list[tuple[Any, Any, type[Exception], str]] = [
    ([1, 2], i64([1, 2]), TypeError, "pages"),
    (np.array([1, 2], np.int64), i64([1, 2]), TypeError, "pages"),
    (u32([1, 2]), np.array([1, 2], np.int32), TypeError, "times"),
    (u32([1, 2]), None, TypeError, "times"),
    (u32([[1, 2]]), i64([1, 2]), ValueError, "pages"),
    (u32([1, 2]), i64([1]), ValueError, "times"),
    (u32([1, 8]), i64([1, 2]), ValueError, "pages"),
    (u32([1, 2]), i64([1, -2]), ValueError, "times"),
]


@pytest.mark.parametrize(("pages", "times", "exc", "name"), BAD_BATCHES)
def test_bad_batches_change_nothing(pages: Any, times: Any, exc: type[Exception], name: str) -> None:
    good_p, good_t = u32([1, 2, 3, 1, 5, 1]), i64([1, 3, 6, 9, 12, 20])
    for make in range(4):
        ref = all_stages()[make]
        s = all_stages()[make]
        ref.feed(good_p[:3], good_t[:3])
        s.feed(good_p[:3], good_t[:3])
        with pytest.raises(exc, match=name):
            s.feed(pages, times)
        assert counters(s) == counters(ref)
        assert [a.tolist() for a in s.feed(good_p[3:], good_t[3:])] == [
            a.tolist() for a in ref.feed(good_p[3:], good_t[3:])
        ]
        assert counters(s) == counters(ref)
    comb = CombinedStage(*all_stages())
    with pytest.raises(exc, match=name):
        comb.feed(pages, times)
    assert comb.reported == 0 and all(s.fed == 0 for s in comb.stages)


@pytest.mark.parametrize(
    ("make", "exc", "name"),
    [
        (lambda: HwHintsStage(0), ValueError, "npages"),
        (lambda: HwHintsStage(2**32 + 1), ValueError, "npages"),
        (
            lambda: HwHintsStage(1.5),  # type: ignore[arg-type]
            TypeError,
            "npages",
        ),
        (lambda: HwHintsStage(4, 0), ValueError, "sample_every"),
        (lambda: HwHintsStage(4, seed=-1), ValueError, "seed"),
        (
            lambda: HwHintsStage(4, random=1),  # type: ignore[arg-type]
            TypeError,
            "random",
        ),
        (lambda: HwHintsStage(4, hz=0), ValueError, "hz"),
        (lambda: PgtableScanStage(4, 0), ValueError, "interval_ms"),
        (lambda: PgtableScanStage(4, origin_jiffies=-1), ValueError, "origin_jiffies"),
        (lambda: PgtableScanStage(4, True), TypeError, "interval_ms"),
        (lambda: HintFaultStage(4, 0), ValueError, "scan_period_ms"),
        (lambda: HintFaultStage(4, 1, 0), ValueError, "scan_window_pages"),
        (lambda: HintFaultStage(4, scan_delay_ms=-1), ValueError, "scan_delay_ms"),
        (lambda: HintFaultStage(4, hz=10**7), ValueError, "hz"),
        (lambda: IntervalCounts(0), ValueError, "npages"),
        (
            lambda: IntervalCounts("8"),  # type: ignore[arg-type]
            TypeError,
            "npages",
        ),
    ],
)
def test_bad_constructor_arguments(make: Any, exc: type[Exception], name: str) -> None:
    with pytest.raises(exc, match=name):
        make()


def test_bad_flush_and_base() -> None:
    for s in all_stages():
        with pytest.raises(ValueError, match="now"):
            s.flush(-1)
        with pytest.raises(TypeError, match="now"):
            s.flush("3")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="now"):
            s.flush(2**63)
    with pytest.raises(TypeError, match="base class"):
        Stage()


def test_interval_counts_bad_arguments_change_nothing() -> None:
    oc = IntervalCounts(4)
    oc.add(u32([1, 1, 2]))
    bad: Any
    k: Any
    for bad, exc in (([1], TypeError), (np.array([1], np.int64), TypeError), (u32([4]), ValueError)):
        with pytest.raises(exc, match="pages"):
            oc.add(bad)
    for k, exc in ((0, ValueError), (1.0, TypeError), (None, TypeError)):
        with pytest.raises(exc, match="k"):
            oc.hot(k)
    assert oc.accesses == 3
    assert oc.hot(1).tolist() == [1]


def test_metric_kernels_bad_arguments_change_nothing() -> None:
    out = np.zeros(4, np.int64)
    t = i64([0, 5])
    for args, exc, name in (
        ((np.array([0, 5], np.int32), 3, out), TypeError, "times"),
        ((t, 0, out), ValueError, "bin_j"),
        ((t, 3, np.zeros(4, np.int32)), TypeError, "out"),
        ((t, 3, np.zeros(1, np.int64)), ValueError, "out"),
        ((t, 3, np.zeros(8, np.int64)[::2]), ValueError, "out"),
        ((i64([-1]), 3, out), ValueError, "times"),
    ):
        with pytest.raises(exc, match=name):
            bin_counts(*args)
    ro = np.zeros(4, np.int64)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out"):
        bin_counts(t, 3, ro)
    assert out.tolist() == [0, 0, 0, 0]
    p = u32([0, 3])
    for hargs, exc, name in (
        ((p, i64([0]), 1, 1, 4, out), ValueError, "times"),
        ((p, t, 1, 1, 2, out), ValueError, "pages"),
        ((p, t, 1, 1, 4, out), ValueError, "out"),
        ((p, t, 0, 1, 4, out), ValueError, "heat_tj"),
        ((p, t, 6, 0, 4, out), ValueError, "heat_pp"),
        ((p, t, 6, 1, 0, out), ValueError, "heat_np"),
        ((p.astype(np.int64), t, 6, 1, 4, out), TypeError, "pages"),
    ):
        with pytest.raises(exc, match=name):
            heat_add(*hargs)
    assert out.tolist() == [0, 0, 0, 0]


def test_module_examples() -> None:
    result = doctest.testmod(
        stages, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=False
    )
    assert result.attempted > 20
    assert result.failed == 0
