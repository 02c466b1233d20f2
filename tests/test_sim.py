"""The replay simulator (pghot.sim) and its commands: known answers worked out
by hand, the baselines, the oracle's precision and recall, configs, and the
``replay``/``demo``/``sweep`` commands end to end.

The hand-computed cases use ``hw-hints`` with ``sample_every=1`` (every
access is reported, at its time), ``hz=1000`` (a jiffy is a millisecond) and
a physical trace whose PFNs 0..3 are also the logical pages (first touch in
that order).  The machine has a top tier of 2 pages and a lower tier of 4:
pages 0 and 1 go to the top tier, 2 and 3 to the lower one.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import json
import os
import pathlib
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from pghot import sim
from pghot.cli import main
from pghot.sim import SimConfig, replay
from pghot.traces import TraceChunk

DATA = pathlib.Path(__file__).parent / "data"
LACKEY = str(DATA / "tiny.lackey")
EVERY_ACCESS = [{"name": "hw-hints", "sample_every": 1}]


def chunk(pages: list[int], times_ms: list[int]) -> TraceChunk:
    return TraceChunk(
        time_ns=np.asarray(times_ms, dtype=np.int64) * 1_000_000, pfn=np.asarray(pages, dtype=np.uint64)
    )


def small(**kw: Any) -> SimConfig:
    # the hand-computed answers below assume the kernel's time knobs as they are, not scaled
    # to these short traces (scale_to_trace; tests/test_sim_scaling.py)
    base: dict[str, Any] = dict(top_pages=2, lower_pages=4, sources=EVERY_ACCESS, scale_to_trace="off")
    base.update(kw)
    return SimConfig(**base)


# -- known answers -------------------------------------------------------------------


SIM_MODULES = [
    "pghot.sim",
    "pghot.sim.config",
    "pghot.sim.policies",
    "pghot.sim.engine",
    "pghot.sim.results",
    "pghot.sim.plots",
    "pghot.sim.sweep",
]


@pytest.mark.parametrize("name", SIM_MODULES)
def test_doctests(name: str) -> None:
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(importlib.import_module(name), optionflags=flags)
    assert result.failed == 0


def test_public_functions_have_examples() -> None:
    for name in sim.__all__:
        obj = getattr(sim, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert obj.__doc__ and (">>>" in obj.__doc__ or inspect.isclass(obj)), name


def test_hits_promotions_and_time_by_hand() -> None:
    # t=0,1: pages 0, 1 on the top tier (hits); t=2,3: pages 2, 3 on the lower tier.
    # t=4: page 2's 2nd report -> queued; round at 5 promotes it (CLOCK demotes page 0).
    # t=5: page 3's 2nd report; round at 6 promotes it (page 1 demoted). t=6,7: hits.
    cfg = small(promoter={"interval_ms": 1}, interval_ms=1000)
    r = replay(
        [chunk([0, 1, 2, 3, 2, 3, 2, 3], [0, 1, 2, 3, 4, 5, 6, 7])], cfg, baselines=("none",), progress=False
    )
    p, none = r["pghot"], r["none"]
    assert (p.accesses, p.top_tier_hits, none.top_tier_hits) == (8, 4, 2)
    assert (p.promotions, p.demotions, p.ping_pong) == (2, 2, 0)
    # migration at the published default: kpromoted's 2 promotions and kswapd's 2 demotions,
    # batched, 1237 ns each (pghot.machine.costs)
    assert p.migration_time_ns == 4 * 1237 and p.fault_path_migration_ns == 0
    assert p.est_time_ns == 4 * 100 + 4 * 250 + 4 * 1237
    assert none.est_time_ns == 2 * 100 + 6 * 250
    assert p.time_vs_all_top == pytest.approx(6348 / 800)
    assert p.time_vs_none == pytest.approx(6348 / 1700)
    assert none.time_vs_none == 1.0
    # one oracle interval: counts 1, 1, 3, 3 -> hot {2, 3}; both promotions hit it
    assert (p.precise_promotions, p.precision) == (2, 1.0)
    assert (p.hot_pages, p.hot_pages_resident, p.recall) == (2, 2, 1.0)
    assert (none.precision, none.recall) == (None, 0.0)
    assert p.hit_ratio_series == [0.5] and p.promotions_series == [2]
    assert p.stats["promoter"]["kpromoted_migrated"] == 2
    assert p.stats["outcomes"]["RECORDED"] + p.stats["outcomes"]["TOPTIER"] == 8
    assert p.tracker_memory_bytes and p.tracker_memory_bytes > 0
    assert none.tracker_memory_bytes is None


def test_migration_cost_and_access_costs() -> None:
    cfg = small(promoter={"interval_ms": 1}, top_ns=10, lower_ns=30, migration_ns=1000)
    r = replay(
        [chunk([0, 1, 2, 3, 2, 3, 2, 3], [0, 1, 2, 3, 4, 5, 6, 7])], cfg, baselines=("none",), progress=False
    )
    # 4 hits, 4 misses, 4 pages migrated (2 promotions, 2 demotions)
    assert r["pghot"].est_time_ns == 4 * 10 + 4 * 30 + 4 * 1000
    assert r["none"].est_time_ns == 2 * 10 + 6 * 30


def test_second_access_promotes_immediately() -> None:
    # Page 2 at t=2 and t=4: the baseline promotes it at t=4, so t=5..7 hit.
    # pghot's rounds are every 4 ms (at 4 and 8): at 4 page 2 has one report,
    # and the trace ends before 8, so it promotes nothing.
    cfg = small(promoter={"interval_ms": 4})
    trace = [chunk([0, 1, 2, 3, 2, 2, 2, 2], [0, 1, 2, 3, 4, 5, 6, 7])]
    r = replay(trace, cfg, baselines=("none", "second-access"), progress=False)
    sa = r["second-access"]
    assert (sa.top_tier_hits, sa.promotions, sa.demotions) == (5, 1, 1)
    assert sa.tracker_memory_bytes == 0
    assert (r["pghot"].top_tier_hits, r["pghot"].promotions) == (2, 0)
    assert r["none"].top_tier_hits == 2
    # a 1 ms window: the reports at 2 and 4 are too far apart; 4 and 5 are not
    r = replay(trace, small(second_access_window_ms=1), baselines=("second-access",), progress=False)
    assert (r["second-access"].top_tier_hits, r["second-access"].promotions) == (4, 1)


def test_second_access_ignores_top_tier_pages_and_counts_ping_pong() -> None:
    # reports of top-tier pages never promote anything
    r = replay([chunk([0, 1] * 4, list(range(8)))], small(), baselines=("second-access",), progress=False)
    assert (r["second-access"].top_tier_hits, r["second-access"].promotions) == (8, 0)
    # three lower-tier pages take turns for two top-tier PFNs: after the first two
    # promotions (demoting pages 0 and 1), each promotion demotes a page promoted
    # less than 5 s before: a ping-pong
    pages = [0, 1] + [2, 3, 4] * 6
    r = replay([chunk(pages, list(range(len(pages))))], small(), baselines=("second-access",), progress=False)
    sa = r["second-access"]
    assert sa.promotions == sa.demotions > 2
    assert sa.ping_pong == sa.demotions - 2


def test_precision_and_recall_on_a_crafted_case() -> None:
    # Oracle intervals of 10 ms, K = 2 hot pages; rounds at 4, 8, 12.
    # [0, 10): page 2 twice -> promoted at 4 (demoting page 0); pages 0, 1 get
    #   4 accesses each, page 2 two: hot {0, 1}; the promotion is not precise;
    #   at 10 the top tier holds {2, 1}: recall 1/2.
    # [10, 20): page 0 (queued since t=8) promoted at 12 (CLOCK demotes page 1),
    #   then accessed twice: hot {0}: precise; recall 1/1.
    pages = [0, 1, 2, 2, 1, 1, 1, 0, 0, 0, 0, 0]
    times = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13]
    cfg = small(promoter={"interval_ms": 4}, oracle_interval_ms=10, interval_ms=10)
    r = replay([chunk(pages, times)], cfg, baselines=("none",), progress=False)
    p = r["pghot"]
    assert (p.promotions, p.demotions, p.ping_pong) == (2, 2, 0)
    assert (p.precise_promotions, p.precision) == (1, 0.5)
    assert (p.hot_pages, p.hot_pages_resident) == (3, 2)
    assert p.recall == pytest.approx(2 / 3)
    assert p.recall_series == [(0.0, 0.5), (0.01, 1.0)]
    assert p.top_tier_hits == 7
    assert p.hit_ratio_series == [0.5, 1.0] and p.promotions_series == [1, 1]
    # no promotion: the top tier keeps {0, 1}, every hot page of both intervals
    assert (r["none"].hot_pages_resident, r["none"].recall) == (3, 1.0)
    assert r["none"].top_tier_hits == 10


def test_oracle_ties_are_hot() -> None:
    # K = 2 but four pages tie with one access each: all four are hot
    r = replay([chunk([0, 1, 2, 3], [0, 1, 2, 3])], small(), baselines=("none",), progress=False)
    assert (r["none"].hot_pages, r["none"].hot_pages_resident) == (4, 2)


def test_virtual_pages_are_numbered_densely_in_first_touch_order() -> None:
    c = TraceChunk(
        time_ns=np.array([0, 1_000_000, 2_000_000]),
        vaddr=np.array([0x7FFF_0000_1008, 0x1000, 0x7FFF_0000_1FF0], dtype=np.uint64),
    )
    r = replay([c], SimConfig(top_pages=1, lower_pages=1), baselines=("none",), progress=False)
    assert r.trace["footprint_pages"] == 2 and r.trace["address_space"] == "virtual"
    assert r["none"].top_tier_hits == 2  # the first page, twice


def test_times_going_back_are_clamped_and_chunks_join() -> None:
    parts = [chunk([0, 1, 2], [0, 5, 3]), chunk([2, 3, 2, 3], [4, 5, 6, 7])]
    r = replay(parts, small(promoter={"interval_ms": 1}), baselines=(), progress=False)
    assert r.trace["accesses"] == 7 and r.trace["duration_s"] == pytest.approx(0.008)


def test_spilled_stream_gives_the_same_result() -> None:
    trace = sim.demo_trace(40_000, 1_000, duration_ms=3000, seed=4)
    parts = [trace[i : i + 5000] for i in range(0, 40_000, 5000)]
    cfg = SimConfig(top_pages=200)
    a = replay(parts, cfg, progress=False)
    b = replay(parts, cfg, progress=False, spill_bytes=1)
    assert a.to_dict() == b.to_dict()
    assert a["pghot"].promotions > 0


def _bursts() -> list[TraceChunk]:
    """Three bursts 7.3 s apart: the sources' scans and the rounds go on in the gaps."""
    parts = []
    for k in range(3):
        c = sim.demo_trace(6000, 400, duration_ms=1500, seed=k)
        parts.append(TraceChunk(time_ns=c.time_ns + k * 7_300_000_000, vaddr=c.vaddr))
    return parts


def _burst_config(interval_ms: int = 30) -> SimConfig:
    return SimConfig(
        top_pages=100,
        promoter={"interval_ms": interval_ms},
        oracle_interval_ms=700,
        sources=[
            {"name": "hint-fault", "scan_period_ms": 700, "scan_delay_ms": 100},
            {"name": "pgtable-scan", "interval_ms": 300},
        ],
    )


def test_rounds_run_every_interval_through_idle_gaps() -> None:
    r = replay(_bursts(), _burst_config(), progress=False)
    last_jiffy = round(r.trace["duration_s"] * 1000) - 1
    rounds = r["pghot"].stats["promoter"]["kpromoted_rounds"]
    assert rounds == last_jiffy // 30  # every 30 ms up to the last access, the gaps included
    assert r["v2"].stats["promoter"]["kpromoted_rounds"] == last_jiffy // 20
    assert r["pghot"].promotions > 0


def test_a_policy_does_not_depend_on_the_others_or_the_chunks() -> None:
    parts = _bursts()
    together = replay(parts, _burst_config(), progress=False).to_dict()

    def own(d: dict[str, Any], name: str) -> dict[str, Any]:
        return {k: v for k, v in d["policies"][name].items() if k != "time_vs_none"}  # relative to "none"

    for name in ("none", "second-access", "v2"):
        alone = replay(parts, _burst_config(), baselines=(name,), progress=False).to_dict()
        assert own(alone, name) == own(together, name)
        assert own(alone, "pghot") == own(together, "pghot")
    # pghot's rounds at 7 ms instead of 30 cut nobody else's stretches
    other = replay(parts, _burst_config(7), progress=False).to_dict()
    for name in ("none", "second-access", "v2"):
        assert own(other, name) == own(together, name)
    # the same accesses in other chunks, cut inside a jiffy and between
    joined = TraceChunk.concat(parts)
    for size in (997, 4096, 18_000):
        cut = [joined[i : i + size] for i in range(0, len(joined), size)]
        assert replay(cut, _burst_config(), progress=False).to_dict() == together


def test_designs_and_v2_run_beside_pghot() -> None:
    trace = [sim.demo_trace(20_000, 1_000, duration_ms=3000, seed=1)]
    cfg = SimConfig(top_pages=250, tracker={"threshold": 3})
    r = replay(trace, cfg, designs=("hash/bucket", "pfn-array/default"), progress=False)
    assert list(r.policies) == ["pghot", "none", "v2", "second-access", "hash/bucket", "pfn-array/default"]
    assert "threshold=3" in r["pghot"].description
    # a 3 s trace: v2's time knobs are scaled with pghot's (the rest of pghot's knobs are its own)
    assert r["v2"].description == "pghot with the v2 defaults (time knobs scaled to the trace)"
    assert r.trace["scaled"]["knobs"]["promoter.interval_ms"] == [20, 3]
    for p in r.policies.values():
        assert p.promotions == sum(p.promotions_series)
        assert 0 <= p.top_tier_hits <= p.accesses == 20_000
    # same knobs: the configured policy and v2 are one run, reported twice
    r = replay(trace, SimConfig(top_pages=250), progress=False)
    assert r["v2"].to_dict() | {"name": "pghot", "description": ""} == r["pghot"].to_dict() | {
        "description": ""
    }


def test_unknown_policy_and_empty_trace() -> None:
    with pytest.raises(ValueError, match="baselines"):
        replay([chunk([0], [0])], small(), baselines=("lru",), progress=False)
    with pytest.raises(ValueError, match="designs"):
        replay([chunk([0], [0])], small(), designs=("btree",), progress=False)
    with pytest.raises(ValueError, match="no accesses"):
        replay([], small(), progress=False)
    with pytest.raises(ValueError, match="lower_pages"):
        replay([chunk([0, 1, 2, 3, 4, 5, 6], [0] * 7)], small(), progress=False)


# -- configuration ---------------------------------------------------------------------


def test_config_from_toml(tmp_path: pathlib.Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text("""
top_pages = 512
lower_ns = 300
oracle_interval_ms = 500

[tracker]
store = "hash"
queue = "bucket"
threshold = 3
freq_window_ms = 2000

[promoter]
interval_ms = 10
rate_limit_mbps = "none"
stale_check = true

[[sources]]
name = "hw-hints"
sample_every = 100

[[sources]]
name = "pgtable-scan"
interval_ms = 500
""")
    c = sim.load_config(p)
    assert c.top_pages == 512 and c.lower_ns == 300.0 and c.oracle_interval_ms == 500
    assert c.tracker == {"store": "hash", "queue": "bucket", "threshold": 3, "freq_window_ms": 2000}
    assert c.promoter == {"interval_ms": 10, "rate_limit_mbps": None, "stale_check": True}
    assert [s["name"] for s in c.sources] == ["hw-hints", "pgtable-scan"]
    j = tmp_path / "c.json"
    j.write_text(json.dumps(c.to_dict()))
    assert sim.load_config(j) == c


@pytest.mark.parametrize(
    "text, exc, words",
    [
        ("top_page = 5", ValueError, "'top_page'"),
        ("top_pages = 'x'", TypeError, "top_pages"),
        ("top_pages = 0", ValueError, "top_pages"),
        ("lower_ns = -1", ValueError, "lower_ns"),
        ("page_size = 3000", ValueError, "page_size"),
        ("[tracker]\nthreshold = 9", ValueError, "tracker: threshold"),
        ("[tracker]\nthreshhold = 2", ValueError, "'threshhold'"),
        ("[tracker]\nstore = 'btree'", ValueError, "tracker: store"),
        ("[promoter]\nbatch = -1", ValueError, "promoter: batch"),
        ("[promoter]\nthreshold_adjust = true\nrate_limit_mbps = 'none'", ValueError, "threshold_adjust"),
        ("[[sources]]\nname = 'ibs'", ValueError, "sources[0].name"),
        ("[[sources]]\nname = 'hw-hints'\nsample_every = 0", ValueError, "sources[0] (hw-hints)"),
        ("[[sources]]\nname = 'hint-fault'\nperiod = 5", ValueError, "'period'"),
        ("sources = 3", TypeError, "sources"),
        ("top_pages = [", ValueError, "not valid TOML"),
    ],
)
def test_bad_config_names_the_key(tmp_path: pathlib.Path, text: str, exc: type, words: str) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(exc) as e:
        sim.load_config(p)
    assert words in str(e.value) and str(p) in str(e.value)


def test_overrides_and_specs() -> None:
    c = SimConfig().with_overrides(
        {"tracker.threshold": 4, "sources": ["hw-hints:sample_every=7"], "migration_ns": 50}
    )
    assert c.tracker == {"threshold": 4} and c.migration_ns == 50.0
    assert c.sources == [{"name": "hw-hints", "sample_every": 7}]
    with pytest.raises(ValueError, match="sub-keys"):
        SimConfig().with_overrides({"top_pages.x": 1})
    with pytest.raises(ValueError, match="KEY=VALUE"):
        sim.parse_assignment("threshold")


# -- the commands end to end ------------------------------------------------------------


def test_replay_cli_on_lackey(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "replay",
        LACKEY,
        "--top-pages",
        "2",
        "--ns-per-instr",
        "100000",
        "--source",
        "hw-hints:sample_every=1",
        "--set",
        "promoter.interval_ms=1",
        "--scale-to-trace",
        "off",
        "--no-progress",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    # a lackey trace goes through the default last-level cache: 9 of its 69
    # accesses miss it and reach the memory (issue 12)
    assert "9 accesses" in out and "footprint 5 pages" in out
    assert "LLC filter (the default for lackey" in out and "absorbed 60 of 69 trace accesses" in out
    for name in ("pghot", "none", "v2", "second-access"):
        assert f"\n{name} " in out
    assert main(args + ["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["trace"]["accesses"] == 9 and data["trace"]["footprint_pages"] == 5
    assert data["trace"]["llc"] == {
        "size_bytes": 110100480,
        "auto": True,
        "accesses": 69,
        "hits": 60,
        "misses": 9,
        "evictions": 0,
    }
    assert data["config"]["top_pages"] == 2 and data["config"]["lower_pages"] == 10
    pg = data["policies"]["pghot"]
    assert pg["promotions"] > 0 and 0 < pg["hit_ratio"] < 1
    assert data["policies"]["none"]["time_vs_none"] == 1.0
    png = tmp_path / "r.png"
    assert main(args + ["--plot", str(png), "--baselines", "none"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "plot written" in capsys.readouterr().err


def test_replay_cli_with_config_file(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("top_pages = 3\n[tracker]\nthreshold = 3\n")
    assert (
        main(
            [
                "replay",
                LACKEY,
                "--config",
                str(cfg),
                "--format",
                "lackey",
                "--json",
                "--no-progress",
                "--designs",
                "kernel-v2",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    # the lackey trace is short: the tracker's window is scaled to it, and the config says so
    window = data["trace"]["scaled"]["knobs"]["tracker.freq_window_ms"]
    assert window[0] == 5000 and 1 <= window[1] < 5000
    assert data["config"]["top_pages"] == 3
    assert data["config"]["tracker"] == {"threshold": 3, "freq_window_ms": window[1]}
    assert list(data["policies"]) == ["pghot", "none", "v2", "second-access", "kernel-v2"]


@pytest.mark.parametrize(
    "args, words",
    [
        (["replay", "missing.lackey"], "missing.lackey"),
        (["replay", LACKEY, "--set", "tracker.threshold=9"], "threshold"),
        (["replay", LACKEY, "--source", "ibs"], "sources[0].name"),
        (["replay", LACKEY, "--format", "csv"], LACKEY),
        (["sweep", LACKEY, "--grid", "tracker.threshold"], "--grid"),
    ],
)
def test_cli_errors(args: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(args + ["--no-progress"])
    assert e.value.code == 2
    assert words in capsys.readouterr().err


def test_sweep_dask_without_dask_installed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # import fails
    with pytest.raises(SystemExit) as e:
        main(["sweep", LACKEY, "--dask", "tcp://127.0.0.1:1", "--no-progress"])
    assert e.value.code == 2
    assert "dask" in capsys.readouterr().err


def test_demo_cli_small(capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path) -> None:
    args = [
        "demo",
        "--accesses",
        "30000",
        "--working-set-pages",
        "2000",
        "--top-pages",
        "500",
        "--duration-ms",
        "4000",
        "--no-progress",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "30,000 accesses" in out and "second-access" in out
    assert main(args + ["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["policies"]["pghot"]["promotions"] > 0
    # a 4 s trace: its 1 s default bins narrowed to 20 ms (at least 100 bins)
    assert data["bin_s"] == 0.02 and len(data["policies"]["pghot"]["hit_ratio_series"]) == 200


def test_sweep_two_configs_two_processes(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "sweep",
        LACKEY,
        "--top-pages",
        "2",
        "--ns-per-instr",
        "100000",
        "--source",
        "hw-hints:sample_every=1",
        "--set",
        "promoter.interval_ms=1",
        "--grid",
        "tracker.threshold=2,3",
        "-j",
        "2",
        "--no-progress",
    ]
    assert main(args + ["--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["tracker.threshold"] for r in rows] == [2, 3]
    assert all(r["trace"] == LACKEY for r in rows)
    # the same points run in this process give the same rows
    serial = sim.sweep(
        [LACKEY],
        {"tracker.threshold": [2, 3]},
        SimConfig(top_pages=2, sources=EVERY_ACCESS, promoter={"interval_ms": 1}),
        workers=1,
        open_options={"ns_per_instr": 100000},
        progress=False,
    )
    assert serial == rows
    assert rows[0]["promotions"] >= rows[1]["promotions"]  # a higher threshold promotes less
    assert main(args) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].startswith("| # | trace | tracker.threshold | top hits")
    head, notes = table.split("\n\nnotes:\n")
    assert len(head.splitlines()) == 4  # the header, its rule, two rows; then the notes
    assert notes.startswith("- ")


def test_sweep_rows_carry_the_notes_and_the_table_prints_them(capsys: pytest.CaptureFixture[str]) -> None:
    """A short trace's sweep says what was scaled and why a point is degenerate, as replay does."""
    rows = sim.sweep([LACKEY], {"tracker.freq_window_ms": [1, 5000]}, workers=1, progress=False)
    one = replay(LACKEY, SimConfig(tracker={"freq_window_ms": 1}), baselines=("none",), progress=False)
    assert rows[0]["notes"] == one.notes and rows[0]["notes"][0].startswith("scaled: ")
    assert any(n.startswith("given, so not scaled") for n in rows[1]["notes"])
    assert not any(n.startswith("given, so not scaled") for n in rows[0]["notes"])
    text = sim.format_sweep_table(rows)
    notes = text.split("\nnotes:\n", 1)[1].splitlines()
    assert notes[0].startswith("- all rows: scaled: ")
    assert any(n.startswith("- rows 2: given, so not scaled") for n in notes)
    # a row of an older version without notes, and one whose notes are a string
    old = {k: v for k, v in rows[0].items() if k != "notes"}
    assert "notes:" not in sim.format_sweep_table([old])
    assert sim.format_sweep_table([{**old, "notes": "one note"}]).endswith("- all rows: one note")
    assert main(["sweep", LACKEY, "--grid", "tracker.threshold=2,3", "--no-progress"]) == 0
    assert "\nnotes:\n- all rows: scaled: " in capsys.readouterr().out


def test_sweep_validates_every_point_first() -> None:
    with pytest.raises(ValueError, match="threshold"):
        sim.sweep([LACKEY], {"tracker.threshold": [2, 99]}, workers=2, progress=False)
    with pytest.raises(FileNotFoundError):
        sim.sweep([os.path.join("no", "such.lackey")], {"tracker.threshold": [2]}, progress=False)


def test_sweep_on_a_dask_cluster_matches_serial() -> None:
    # dask[distributed] is a test extra: this runs in CI, on an in-process cluster
    from dask.distributed import LocalCluster

    cfg = SimConfig(top_pages=2, sources=EVERY_ACCESS, promoter={"interval_ms": 1})
    grid = {"tracker.threshold": [2, 3]}
    serial = sim.sweep([LACKEY], grid, cfg, workers=1, open_options={"ns_per_instr": 100000}, progress=False)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        rows = sim.sweep(
            [LACKEY],
            grid,
            cfg,
            dask_address=cluster.scheduler_address,
            open_options={"ns_per_instr": 100000},
            progress=False,
        )
    assert rows == serial


def test_oracle_interval_boundary_belongs_to_the_next_interval() -> None:
    # Page 0 is first touched (top tier, 1 page); page 1 sits on the lower tier.
    # A 1 s page-table scan reports page 1 at 1000 and 2000 ms: second-access
    # promotes it at 2000 ms, the start of [2000, 3000), whose hot set is {0}.
    # The promotion must be judged there (not precise), not in [1000, 2000).
    pages = [0, 1, 1] + [0] * 5
    times = [0, 100, 1100] + [2100, 2200, 2300, 2400, 2500]
    cfg = SimConfig(
        top_pages=1,
        lower_pages=4,
        sources=[{"name": "pgtable-scan", "interval_ms": 1000}],
        scale_to_trace="off",  # the 1 s oracle intervals and 5 s window as they are
    )
    r = replay([chunk(pages, times)], cfg, baselines=("second-access",), progress=False)
    sa = r["second-access"]
    assert sa.promotions == 1
    assert sa.precise_promotions == 0


def test_oracle_survives_a_compaction_at_an_interval_end() -> None:
    # More than 2**20 accesses in one oracle interval: the per-interval counter
    # compacts while adding, and the interval's end must still find its counts.
    n = (1 << 20) + 10
    rng = np.random.default_rng(0)
    c = TraceChunk(time_ns=np.arange(n, dtype=np.int64) * 500, pfn=rng.integers(0, 64, n).astype(np.uint64))
    r = replay([c], SimConfig(top_pages=16), baselines=("none",), progress=False)
    assert r["none"].accesses == n
    assert r["none"].hot_pages > 0


def test_sweep_rejects_bad_workers() -> None:
    bad_values: list[Any] = [0, -1, 1.5, True]
    for bad in bad_values:
        with pytest.raises(ValueError, match="workers"):
            sim.sweep([LACKEY], {"tracker.threshold": [2]}, workers=bad, progress=False)


def test_the_simulator_does_not_load_the_benchmarks() -> None:
    # the design table lives in pghot.tracker; only demo_trace borrows a workload
    code = (
        "import sys, pghot.sim; from pghot.sim import SimConfig, replay, sweep; "
        "print(sorted(m for m in sys.modules if m.startswith('pghot.bench')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    from pghot.bench.designs import DESIGNS
    from pghot.tracker import DESIGNS as table

    assert sim.DESIGNS is DESIGNS is table  # one table, not copies


def test_pghot_throttled_runs_beside_pghot_and_holds_back_promotions() -> None:
    trace = [sim.demo_trace(200_000, 4_000, duration_ms=4000, seed=2)]
    r = replay(trace, SimConfig(top_pages=1000), policies=["pghot", "pghot-throttled"], progress=False)
    thr = r["pghot-throttled"]
    assert "100 % of promotions" in thr.description
    assert thr.stats["promoter"]["kpromoted_throttled"] > 0
    assert 0 < thr.promotions < r["pghot"].promotions
    assert r["pghot"].stats["promoter"]["kpromoted_throttled"] == 0


def test_oracle_and_memtis_are_policies_of_a_replay() -> None:
    trace = [sim.demo_trace(100_000, 2_000, duration_ms=3000, seed=3)]
    cfg = SimConfig(top_pages=500, sources=[{"name": "hw-hints", "sample_every": 10}])
    r = replay(trace, cfg, policies=["pghot", "none", "oracle", "memtis", "v2"], progress=False)
    assert list(r.policies) == ["pghot", "none", "oracle", "memtis", "v2"]
    assert r["oracle"].top_tier_hits > max(r[n].top_tier_hits for n in ("pghot", "none", "memtis"))
    assert r["memtis"].promotions > 0
    ref = replay(trace, cfg, policies=["oracle", "memtis"], progress=False, engine="reference")
    for n in ("oracle", "memtis"):
        assert ref[n].to_dict() == r[n].to_dict() | {"time_vs_none": None}
