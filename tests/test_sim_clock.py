"""The closed-loop clock (issue 12, "Time"): simulated time advances with the work.

An access is issued at its trace time plus ``cpu_ns`` per earlier access
plus the memory stall of every earlier access on the ``none`` policy's
tiers (the first ``top_pages`` pages touched are on the top tier).
"""

from __future__ import annotations

import pathlib
from typing import Any

import numpy as np
import pytest

from pghot.sim import SimConfig, replay
from pghot.sim.config import TIME_MODELS
from pghot.traces import TraceChunk

DATA = pathlib.Path(__file__).parent / "data"
LACKEY = str(DATA / "tiny.lackey")

#: 1 ms on the top tier, 2 ms on the lower tier: the stalls are whole jiffies at hz=1000
_SLOW: dict[str, Any] = {"top_pages": 1, "lower_pages": 8, "top_ns": 1e6, "lower_ns": 2e6, "interval_ms": 1}


def _still(pfns: list[int]) -> TraceChunk:
    """Accesses that all have the trace time 0: only the closed clock moves."""
    return TraceChunk(time_ns=np.zeros(len(pfns), dtype=np.int64), pfn=np.array(pfns, dtype=np.uint64))


def test_the_clock_advances_with_each_earlier_access_stall() -> None:
    # pages 10 (the first touched: top tier), 11, 12 (lower); stalls 1, 2, 1, 2, 2 ms
    r = replay(
        [_still([10, 11, 10, 11, 12])],
        SimConfig(time_model="closed", **_SLOW),
        policies=["none"],
        progress=False,
    )
    # issued at 0, 1, 3, 4, 6 ms: one access in each of those 1 ms bins
    assert r.accesses_series == [1, 1, 0, 1, 1, 0, 1]
    assert r.trace["duration_s"] == pytest.approx(0.007)
    assert r.trace["time_model"] == "closed" and r.trace["cpu_time_s"] == 0.0
    assert r["none"].est_time_ns == pytest.approx(8e6)  # the five stalls: none's run is the clock
    assert r["none"].time_vs_all_top == pytest.approx(8 / 5)


def test_cpu_ns_adds_cpu_time_between_accesses_and_to_the_estimate() -> None:
    cfg = SimConfig(time_model="closed", cpu_ns=1e6, **_SLOW)
    r = replay([_still([10, 11, 10, 11, 12])], cfg, policies=["none"], progress=False)
    # issued at 0, 1+1, 2+3, 3+4, 4+6 ms
    assert np.flatnonzero(r.accesses_series).tolist() == [0, 2, 5, 7, 10]
    assert r.trace["cpu_time_s"] == pytest.approx(0.005)
    assert r["none"].est_time_ns == pytest.approx(13e6)
    assert r["none"].time_vs_all_top == pytest.approx(13 / 10)  # all-top: the CPU plus 5 x 1 ms


def test_the_trace_time_is_the_cpu_time_of_the_closed_clock() -> None:
    t = np.array([0, 0, 5_000_000], dtype=np.int64)
    chunk = TraceChunk(time_ns=t, pfn=np.array([10, 11, 11], np.uint64))
    r = replay([chunk], SimConfig(time_model="closed", **_SLOW), policies=["none"], progress=False)
    # 0; 0 + 1 ms; 5 ms + 3 ms of stalls
    assert np.flatnonzero(r.accesses_series).tolist() == [0, 1, 8]
    assert r.trace["cpu_time_s"] == pytest.approx(0.005)
    assert r["none"].est_time_ns == pytest.approx(5e6 + 5e6)


def test_open_clock_keeps_the_trace_time_stamps() -> None:
    r = replay(
        [_still([10, 11, 10, 11, 12])],
        SimConfig(time_model="open", **_SLOW),
        policies=["none"],
        progress=False,
    )
    assert r.accesses_series == [5] and r.trace["time_model"] == "open" and "cpu_time_s" not in r.trace
    assert r["none"].est_time_ns == pytest.approx(8e6)


def test_auto_is_closed_for_lackey_and_open_for_memory_level_traces() -> None:
    lackey = replay(LACKEY, SimConfig(), policies=["none"], progress=False)
    assert lackey.trace["time_model"] == "closed"
    assert "clock: closed loop" in lackey.summary()
    perf = replay(str(DATA / "mem_loads.perf"), SimConfig(), policies=["none"], progress=False)
    assert perf.trace["time_model"] == "open"
    assert "clock: open loop" in perf.summary()
    chunks = replay([_still([1, 2, 3])], SimConfig(), policies=["none"], progress=False)
    assert chunks.trace["time_model"] == "open"


def test_on_lackey_none_estimate_is_the_clock_s_duration() -> None:
    # a lackey trace stretched so that its clock spans jiffies: est. time = CPU + stalls
    kw: dict[str, Any] = {"open_options": {"ns_per_instr": 1_000_000}, "progress": False}
    cfg = SimConfig(llc_bytes=0, top_ns=1e6, lower_ns=3e6)
    r = replay(LACKEY, cfg, policies=["none", "pghot"], **kw)
    o = replay(
        LACKEY,
        SimConfig(llc_bytes=0, top_ns=1e6, lower_ns=3e6, time_model="open"),
        policies=["none", "pghot"],
        **kw,
    )
    none = r["none"]
    assert r.trace["duration_s"] > o.trace["duration_s"]  # the stalls stretch the clock
    # the last access is issued after every other's stall and the CPU time: est. time - its stall
    last_stall = 1e6 if none.top_tier_hits == none.accesses else 3e6
    assert none.est_time_ns - last_stall <= r.trace["duration_s"] * 1e9 < none.est_time_ns + 1e6
    assert none.est_time_ns == pytest.approx(o["none"].est_time_ns + r.trace["cpu_time_s"] * 1e9)


@pytest.mark.parametrize("engine", ["compiled", "reference"])
def test_engines_and_the_spill_file_agree_on_the_closed_clock(engine: str) -> None:
    rng = np.random.default_rng(5)
    pfns = rng.zipf(1.3, 6000) % 300
    times = np.sort(rng.integers(0, 3_000_000_000, 6000))
    chunks = [
        TraceChunk(time_ns=times[i : i + 1000], pfn=pfns[i : i + 1000].astype(np.uint64))
        for i in range(0, 6000, 1000)
    ]
    cfg = SimConfig(
        time_model="closed",
        top_pages=40,
        top_ns=1e5,
        lower_ns=4e5,
        sources=[{"name": "hw-hints", "sample_every": 2}],
        promoter={"interval_ms": 10},
    )
    pol = ["pghot", "none", "second-access"]
    want = replay(chunks, cfg, policies=pol, progress=False, engine="compiled").to_dict(heatmap=True)
    got = replay(chunks, cfg, policies=pol, progress=False, engine=engine, spill_bytes=1)
    assert got.to_dict(heatmap=True) == want
    assert want["trace"]["duration_s"] > 3.0  # the stalls: 6000 accesses of 0.1-0.4 ms
    assert want["policies"]["pghot"]["promotions"] > 0


def test_a_slower_lower_tier_stretches_the_clock() -> None:
    base: dict[str, Any] = {k: v for k, v in _SLOW.items() if k != "lower_ns"}
    spans = [
        replay(
            [_still([1, 2, 3, 2, 3])],
            SimConfig(time_model="closed", lower_ns=ns, **base),
            policies=["none"],
            progress=False,
        ).trace["duration_s"]
        for ns in (2e6, 4e6)
    ]
    assert spans[1] > spans[0]


@pytest.mark.parametrize(
    ("table", "exc", "msg"),
    [
        ({"time_model": "closedloop"}, ValueError, "time_model must be one of"),
        ({"time_model": 1}, TypeError, "time_model must be a str"),
        ({"cpu_ns": -1}, ValueError, "cpu_ns"),
        ({"cpu_ns": "fast"}, TypeError, "cpu_ns"),
    ],
)
def test_bad_time_knobs_name_the_key(table: dict[str, Any], exc: type[Exception], msg: str) -> None:
    with pytest.raises(exc, match=msg):
        SimConfig.from_dict(table)


def test_time_models_are_the_documented_ones() -> None:
    assert TIME_MODELS == ("auto", "closed", "open")
    assert SimConfig().time_model == "auto"


def test_an_absurd_stall_saturates_the_clock_and_is_refused_by_its_span() -> None:
    cfg = SimConfig(time_model="closed", top_pages=1, lower_ns=1e300)
    with pytest.raises(ValueError, match="more than max_span_s"):
        replay([_still([1, 2, 3])], cfg, policies=["none"], progress=False)


def test_the_compiled_clock_is_its_specification_bit_for_bit() -> None:
    from pghot import _pagemap
    from pghot.model import sim as model

    rng = np.random.default_rng(11)
    args: list[Any] = [0.0, 0, 1000, 0]  # stall, first, hz, floor: carried chunk to chunk
    state = {"c": list(args), "m": list(args)}
    for size in (1, 7, 1000, 0, 333):
        pages = rng.integers(0, 50, size).astype(np.uint32)
        times = np.sort(rng.integers(-(10**9), 10**9, size)).astype(np.int64)  # negatives: floor division
        got = {}
        for key, fn in (("c", _pagemap.closed_clock), ("m", model.closed_clock)):
            stall, first, hz, floor = state[key]
            j, stall2, ns = fn(pages, times, 20, 97.3, 251.9, 0.7, stall, first, hz, floor)
            got[key] = (j.tolist(), stall2, ns)
            state[key] = [stall2, first + size, hz, int(j[-1]) if size else floor]
        assert got["c"] == got["m"]
        assert got["c"][0] == sorted(got["c"][0])


@pytest.mark.parametrize("hz", [0, 10**9 + 1])
def test_the_compiled_clock_refuses_a_bad_hz(hz: int) -> None:
    from pghot import _pagemap

    with pytest.raises(ValueError, match="hz must be in"):
        _pagemap.closed_clock(np.zeros(1, np.uint32), np.zeros(1, np.int64), 1, 1.0, 1.0, 0.0, 0.0, 0, hz, 0)
