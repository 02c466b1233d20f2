"""A degenerate replay says why, and which knob would change it (issue 12's diagnostics)."""

from __future__ import annotations

import pathlib

import numpy as np

from pghot.sim import SimConfig, demo_trace, replay
from pghot.traces import TraceChunk

LACKEY = str(pathlib.Path(__file__).parent / "data" / "tiny.lackey")


def test_real_trace_shorter_than_the_first_scan_says_so() -> None:
    r = replay(LACKEY, SimConfig(scale_to_trace="off"), progress=False)  # the kernel's defaults
    assert all(p.promotions == 0 for p in r.policies.values())
    assert any("hint-fault) made no report" in n and "scan_delay_ms=1000" in n for n in r.notes)
    assert "scan_delay_ms=1000" in r.summary()


def test_sampling_longer_than_the_trace_says_so() -> None:
    cfg = SimConfig(sources=[{"name": "hw-hints"}], scale_to_trace="off")
    r = replay([demo_trace(500, 50)], cfg, progress=False)
    assert r.trace["reports"] == [0]
    assert any("sample_every=10000" in n for n in r.notes)


def test_top_tier_holding_the_footprint_says_so() -> None:
    r = replay([demo_trace(2000, 50)], SimConfig(top_pages=64), progress=False)
    assert any("hold the whole footprint (50 pages)" in n for n in r.notes)


def test_no_promotion_names_the_threshold() -> None:
    trace = TraceChunk(time_ns=np.arange(8, dtype=np.int64) * 10**9, pfn=np.arange(8, dtype=np.uint64))
    cfg = SimConfig(top_pages=2, sources=[{"name": "hw-hints", "sample_every": 1}])
    r = replay([trace], cfg, progress=False)
    assert r["pghot"].promotions == 0
    assert any(n.startswith("pghot: no promotions") and "tracker.threshold" in n for n in r.notes)
    # 8 s of trace, the default 5 s window: raising the window is advice that can help ...
    [why] = [n for n in r.notes if n.startswith("pghot: no promotions")]
    assert "raise tracker.freq_window_ms" in why
    # ... but not when the window already spans the trace
    long = SimConfig(top_pages=2, sources=cfg.sources, tracker={"freq_window_ms": 9000})
    r = replay([trace], long, progress=False)
    [why] = [n for n in r.notes if n.startswith("pghot: no promotions")]
    assert "raise" not in why and "(freq_window_ms=9,000) already spans the trace" in why


def test_a_healthy_replay_has_no_diagnosis() -> None:
    r = replay([demo_trace(40_000, 1_000, seed=3)], SimConfig(top_pages=250, interval_ms=100), progress=False)
    assert r["pghot"].promotions > 0
    assert r.notes == []


def test_short_trace_bins_narrow_and_say_so() -> None:
    r = replay(
        [demo_trace(40_000, 1_000, seed=3, duration_ms=3_000)],
        SimConfig(top_pages=250, scale_to_trace="off"),
        progress=False,
    )
    assert r.bin_s == 0.02 and len(r.accesses_series) == 150
    assert r.notes == [
        "metrics bins of 20 ms: the trace spans 3 s, fewer than 100 bins of 1 s (set interval_ms to choose)"
    ]
    assert sum(1 for h in r["pghot"].hit_ratio_series if h is not None) == 150


def test_time_that_never_advances_is_flagged() -> None:
    trace = TraceChunk(time_ns=np.full(100, 5, dtype=np.int64), pfn=np.arange(100, dtype=np.uint64) % 10)
    r = replay([trace], SimConfig(top_pages=2), progress=False)
    assert any(
        n.startswith("time: the trace's 100 records all have the time stamp 5 ns: its time never advances")
        for n in r.notes
    )


def test_the_suggested_scan_knobs_make_a_short_trace_report() -> None:
    import re

    from pghot.sim import parse_source

    trace = demo_trace(40_000, 200, duration_ms=200, seed=1)
    r = replay([trace], SimConfig(top_pages=50, scale_to_trace="off"), progress=False)
    assert r.trace["reports"] == [0]
    (note,) = [n for n in r.notes if "hint-fault) made no report" in n]
    m = re.search(r"--source (\S+) --set promoter\.interval_ms=(\d+)", note)
    assert m is not None, note
    assert m.group(1) == "hint-fault:scan_delay_ms=9,scan_period_ms=9"  # a 20th of 199 ms, rounded down
    cfg = SimConfig(
        top_pages=50, sources=[parse_source(m.group(1))], promoter={"interval_ms": int(m.group(2))}
    )
    again = replay([trace], cfg, progress=False)
    assert again.trace["reports"][0] > 0 and again["pghot"].promotions > 0
    assert not any("made no report" in n for n in again.notes)


def test_no_promotion_advice_uses_each_policys_own_window() -> None:
    """v2 runs with the v2 defaults: its window (5 s) is not the configured tracker's (60 s)."""
    trace = TraceChunk(time_ns=np.arange(8, dtype=np.int64) * 10**9, pfn=np.arange(8, dtype=np.uint64))
    cfg = SimConfig(
        top_pages=2,
        sources=[{"name": "hw-hints", "sample_every": 1}],
        tracker={"freq_window_ms": 60_000, "threshold": 7},
    )
    r = replay([trace], cfg, policies=["pghot", "v2", "none"], progress=False)
    why = {n.split(":")[0]: n for n in r.notes if ": no promotions" in n}
    assert "(freq_window_ms=60,000) already spans the trace" in why["pghot"]
    assert "raise tracker.freq_window_ms" in why["v2"] and "already spans" not in why["v2"]
