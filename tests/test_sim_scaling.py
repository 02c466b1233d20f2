"""The kernel's time knobs scaled to a short trace (issue 12: "defaults scaled to the trace").

:attr:`SimConfig.scale_to_trace`: a trace shorter than 5 s has the time knobs
left at their defaults multiplied by its span over 20 s, printed in the notes
and recorded in ``Result.trace["scaled"]`` and ``Result.config``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pghot.sim import SimConfig, demo_trace, replay, scale_to_trace
from pghot.sim.scaling import SCALE_BELOW_S, TARGET_S

SHORT_MS = 200  # a 200 ms trace: the kernel's 1 s scan delay would see nothing


def _short(policies: list[str] | None = None, **kw: Any) -> Any:
    trace = demo_trace(40_000, 200, duration_ms=SHORT_MS, seed=1)
    return replay([trace], SimConfig(top_pages=50, **kw), policies=policies, progress=False)


def test_a_short_trace_reports_and_promotes_with_the_defaults() -> None:
    off = _short(scale_to_trace="off")
    assert off.trace["reports"] == [0] and all(p.promotions == 0 for p in off.policies.values())
    assert "scaled" not in off.trace
    r = _short()
    s = r.trace["scaled"]
    # the span is the replay's: the last access's jiffy + 1, over 20 s
    assert s["factor"] == pytest.approx(r.trace["duration_s"] / TARGET_S)
    assert s["knobs"]["sources[0].scan_delay_ms"] == [1000, 10]
    assert s["knobs"]["sources[0].scan_period_ms"] == [1000, 10]
    assert s["knobs"]["numab2.hot_threshold_ms"] == [1000, 10]  # the threshold keeps its ratio to the scan
    assert s["knobs"]["damon.aggr_us"] == [100_000, 1000] and s["knobs"]["damon.sample_us"] == [5000, 50]
    assert s["knobs"]["pghot_v8.freq_window_ms"] == [3000, 30]  # the u8 mode's window (its record: 128 ms)
    assert r.trace["reports"][0] > 0 and r["pghot"].promotions > 0
    assert r.notes[0].startswith("scaled: the trace lasts 0.2 s, shorter than 5 s")
    assert "  note: scaled: " in r.summary()
    # the config the replay ran with is in the result: a replay of it with scaling off is the same run
    assert r.config.sources[0]["scan_period_ms"] == 10 and r.config.oracle_interval_ms == 10
    ran = SimConfig.from_dict({**r.config.to_dict(), "scale_to_trace": "off"})
    again = replay([demo_trace(40_000, 200, duration_ms=SHORT_MS, seed=1)], ran, progress=False)
    for name, p in r.policies.items():
        if name == "v2":  # there the v2 defaults, scaled; in ``again`` as they are
            continue
        q = again[name]
        assert (q.top_tier_hits, q.promotions, q.demotions, q.precision) == (
            p.top_tier_hits,
            p.promotions,
            p.demotions,
            p.precision,
        ), name


def test_knobs_given_are_kept_and_the_rest_scaled() -> None:
    cfg = SimConfig(
        sources=[{"name": "hint-fault", "scan_period_ms": 7}],
        promoter={"interval_ms": 3, "batch": 16},
        numab2={"hot_threshold_ms": 500},
        oracle_interval_ms=1000,
    )
    c, s = scale_to_trace(cfg, 200_000_000, 40_000)
    assert s is not None
    assert c.sources[0]["scan_period_ms"] == 7 and c.sources[0]["scan_delay_ms"] == 10
    assert (
        c.promoter["interval_ms"] == 3 and c.promoter["batch"] == 16 and c.promoter["adjust_period_ms"] == 600
    )
    assert c.numab2["hot_threshold_ms"] == 500 and c.numab2["adjust_period_ms"] == 600
    assert c.oracle_interval_ms == 1000 and c.ping_pong_window_ms == 50  # given, and not given
    for key in (
        "sources[0].scan_period_ms",
        "promoter.interval_ms",
        "numab2.hot_threshold_ms",
        "oracle_interval_ms",
    ):
        assert key not in s["knobs"]
    assert cfg.promoter == {"interval_ms": 3, "batch": 16}  # the config given is not changed


@pytest.mark.parametrize("span_ms", [1, 37, 999, 4999])
def test_one_factor_keeps_the_defaults_ratios(span_ms: int) -> None:
    c, s = scale_to_trace(SimConfig(), span_ms * 10**6, 10**7)
    assert s is not None and s["factor"] == pytest.approx(span_ms / (TARGET_S * 1000))
    for knob, (default, new) in s["knobs"].items():
        assert new == max(1, round(default * s["factor"])), knob
    assert c.promoter["interval_ms"] <= c.sources[0]["scan_period_ms"] <= c.promoter["adjust_period_ms"]


def test_five_seconds_and_longer_keep_the_defaults() -> None:
    assert scale_to_trace(SimConfig(), SCALE_BELOW_S * 10**9, 10**7) == (SimConfig(), None)
    r = replay([demo_trace(20_000, 500, duration_ms=6_000, seed=2)], SimConfig(top_pages=100), progress=False)
    assert "scaled" not in r.trace and not any(n.startswith("scaled") for n in r.notes)
    assert r.config.oracle_interval_ms == 1000 and r.config.ping_pong_window_ms == 5000  # resolved
    assert r.config.sources[0].get("scan_period_ms") is None


def test_a_time_that_never_advances_is_not_scaled() -> None:
    assert scale_to_trace(SimConfig(), 0, 10**7)[1] is None


def test_v8_window_follows_its_mode() -> None:
    _, s = scale_to_trace(SimConfig(pghot_v8={"mode": "precise"}), 200_000_000, 40_000)
    assert s is not None and s["knobs"]["pghot_v8.freq_window_ms"] == [5000, 50]
    _, s = scale_to_trace(SimConfig(pghot_v8={"freq_window_ms": 2000}), 200_000_000, 40_000)
    assert s is not None and "pghot_v8.freq_window_ms" not in s["knobs"]


def test_hw_hints_sampling_fits_a_small_trace() -> None:
    hw = [{"name": "hw-hints"}]
    c, s = scale_to_trace(SimConfig(sources=hw), 10 * 10**9, 50_000)  # long: only the sampling changes
    assert s is not None and s["factor"] is None and s["knobs"] == {"sources[0].sample_every": [10000, 50]}
    assert c.sources[0]["sample_every"] == 50
    assert scale_to_trace(SimConfig(sources=hw), 10 * 10**9, 10**6)[1] is None  # 100 samples: enough
    given = [{"name": "hw-hints", "sample_every": 10000}]
    assert scale_to_trace(SimConfig(sources=given), 10 * 10**9, 50_000)[1] is None
    r = replay(
        [demo_trace(5000, 200, duration_ms=10_000)], SimConfig(sources=hw, top_pages=50), progress=False
    )
    assert r.trace["reports"][0] == pytest.approx(1000, rel=0.05)  # about 1,000 samples of 5,000 accesses
    assert r.notes[0].startswith("scaled: a sampling period larger than the trace")


def test_v2_runs_with_its_defaults_scaled() -> None:
    # pghot with a knob of its own: v2 is a run of its own, with only the scaled time knobs
    r = _short(tracker={"threshold": 3}, policies=["pghot", "v2"])
    knobs = r.trace["scaled"]["knobs"]
    assert r["v2"].description == "pghot with the v2 defaults (time knobs scaled to the trace)"
    assert r["pghot"].promotions != r["v2"].promotions  # threshold 3 against 2
    assert knobs["promoter.interval_ms"][1] == 1 and knobs["tracker.freq_window_ms"][1] == 50
    # no knob of pghot's own: v2 is pghot's run (the scaled knobs are both's)
    r = _short(policies=["pghot", "v2"])
    assert r["v2"].description == "the same run as pghot (its knobs are v2's)"


def test_engines_agree_on_a_scaled_replay() -> None:
    chunk = demo_trace(30_000, 300, duration_ms=300, seed=4)
    policies = ["pghot", "none", "second-access", "numab2", "tpp", "damon", "oracle", "pghot-v8"]
    a, b = (
        replay([chunk], SimConfig(top_pages=60), policies=policies, progress=False, engine=e).to_dict()
        for e in ("compiled", "reference")
    )
    assert a["trace"]["scaled"] == b["trace"]["scaled"]
    assert a["policies"] == b["policies"]


def test_bad_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="scale_to_trace must be one of"):
        SimConfig(scale_to_trace="on")


def test_cli_scales_and_can_keep_the_defaults(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    from pghot.cli import main

    trace = tmp_path / "t.npy"
    c = demo_trace(20_000, 200, duration_ms=SHORT_MS, seed=1)
    rec = np.zeros(len(c), dtype=[("vaddr", "<u8"), ("time_ns", "<i8")])
    rec["vaddr"], rec["time_ns"] = c.vaddr, c.time_ns
    np.save(trace, rec)
    args = ["replay", str(trace), "--no-progress", "--json", "--top-pages", "50"]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["trace"]["scaled"]["knobs"]["sources[0].scan_period_ms"][1] < 1000
    assert data["notes"][0].startswith("scaled:")
    assert main(args + ["--scale-to-trace", "off"]) == 0
    assert "scaled" not in json.loads(capsys.readouterr().out)["trace"]
    with pytest.raises(SystemExit) as e:
        main(args + ["--scale-to-trace", "on"])
    assert e.value.code == 2
    err = capsys.readouterr()
    assert "--scale-to-trace" in err.err and err.out == ""


def test_knobs_given_longer_than_a_short_trace_are_named() -> None:
    """A time knob the user set is not scaled; when it outlasts the trace, the notes say so."""
    r = _short(tracker={"freq_window_ms": 5000}, oracle_interval_ms=20)
    s = r.trace["scaled"]
    assert s["given_longer"] == {"tracker.freq_window_ms": 5000}  # 20 ms is shorter than 0.2 s
    assert "tracker.freq_window_ms" not in s["knobs"] and "oracle_interval_ms" not in s["knobs"]
    assert r.config.tracker["freq_window_ms"] == 5000
    [line] = [n for n in r.notes if n.startswith("given, so not scaled")]
    assert "tracker.freq_window_ms=5,000" in line and "(0.2 s)" in line
    # every time knob given, one of them longer than the trace: a record without scaled knobs
    c, rec = scale_to_trace(SimConfig(promoter={"interval_ms": 300}).validate(), 100_000_000, 50_000)
    assert rec is not None and rec["given_longer"] == {"promoter.interval_ms": 300}
    assert c.promoter.interval_ms == 300
    # given and shorter than the trace: nothing said; scaling off: nothing checked
    assert "given_longer" not in _short(tracker={"freq_window_ms": 50}).trace["scaled"]
    assert scale_to_trace(SimConfig(promoter={"interval_ms": 300}, scale_to_trace="off"), 10**8, 1)[1] is None


def test_a_v8_window_given_longer_than_a_short_trace_is_named() -> None:
    r = _short(pghot_v8={"freq_window_ms": 3000}, policies=["pghot-v8", "none"])
    assert r.trace["scaled"]["given_longer"] == {"pghot_v8.freq_window_ms": 3000}
    assert "pghot_v8.freq_window_ms" not in r.trace["scaled"]["knobs"]
