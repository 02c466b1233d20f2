"""The ``pghot-v8`` policy: per-PFN words, kmigrated, the rate limit inside pghot.

Known answers on hand-computed traces (which pages it promotes and when),
each knob's effect in the direction the posting gives, the u8 and u32
modes' difference, config errors, determinism and the two engines.  The
machine: 2 top-tier and 16 lower-tier PFNs, 12 pages touched once at
``t = 0 .. 11`` (pages 0 and 1 on the top tier, 2 .. 11 below, page ``i``
on PFN ``i``); kmigrated sleeps 10 ms (one jiffy per ms, HZ=1000), so it
wakes at 10, 20, 30, ...  Metric bins are one jiffy each, so the bin of a
promotion is its time.
"""

from __future__ import annotations

import doctest
import json
import pathlib
from typing import Any

import numpy as np
import pytest

from pghot import Topology
from pghot.cli import main
from pghot.machine.sources import Reports
from pghot.sim import SimConfig, demo_trace, replay
from pghot.sim import v8 as v8mod
from pghot.sim.config import load_config
from pghot.sim.policies import POLICIES, build_machine
from pghot.sim.v8 import PghotV8, v8_knobs, v8_parts
from pghot.traces import TraceChunk

ENGINES = ["compiled", "reference"]
DATA = pathlib.Path(__file__).parent / "data"
_EMPTY_P = np.zeros(0, np.uint32)
_EMPTY_T = np.zeros(0, np.int64)


def policy(engine: str, pages: int = 12, **knobs: Any) -> PghotV8:
    """A pghot-v8 on the hand machine, its 12 pages touched (kmigrated every 10 ms unless given)."""
    k = v8_knobs(**{"kmigrated_sleep_ms": 10, **knobs})
    t, pr = v8_parts(k, pages)
    m = build_machine(SimConfig(), Topology.two_tier(2, 16), pages, 1, t, pr, nbins=10_000, engine=engine)
    p = PghotV8("pghot-v8", m, k)
    p.serve(np.arange(pages, dtype=np.uint32), np.arange(pages, dtype=np.int64))
    return p


def reports(pages: list[int], times: list[int], src: int = 2) -> Reports:
    """Reports of ``pages`` at ``times`` from node 0 (``src`` 2: hint faults)."""
    n = len(pages)
    return Reports(
        np.array(pages, np.uint64),
        np.zeros(n, np.int32),
        np.full(n, src, np.int8),
        np.array(times, np.int64),
        np.full(n, -1, np.int64),
    )


def go(p: PghotV8, reps: Reports, horizon: int) -> list[tuple[int, int]]:
    """Run the reports and every wake before ``horizon``; (page, time) of each promotion so far."""
    p.run_piece(_EMPTY_P, _EMPTY_T, reps, horizon)
    pages = np.concatenate(p.pending).tolist() if p.pending else []
    times = np.repeat(np.arange(p.promo_bins.shape[0]), p.promo_bins).tolist()
    return list(zip(pages, times, strict=True))


# -- known answers ----------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_threshold_two_promotes_at_the_next_wake(engine: str) -> None:
    # 5 faults at 12 and 13 (freq 2 = threshold: ready); 6 once (freq 1); kmigrated wakes at 20
    p = policy(engine)
    assert go(p, reports([5, 6, 5], [12, 12, 13]), 20) == []  # the wake at 20 is not before 20
    assert go(p, reports([], []), 40) == [(5, 20)]
    s = p.stats()
    assert s["tracker"]["pghot_recorded_hintfaults"] == 3 and s["tracker"]["extracted"] == 1
    assert s["promoter"]["kpromoted_migrated"] == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_u8_frequency_saturates_at_three(engine: str) -> None:
    # threshold 3 = PGHOT_FREQ_MAX of the u8 word: 3 faults make 5 ready, 2 do not make 6 ready;
    # the 2-bit count cannot reach 4, so a threshold of 4 is refused in the default mode
    p = policy(engine, freq_threshold=3)
    assert go(p, reports([5, 6, 5, 6, 5], [12, 13, 14, 15, 16]), 40) == [(5, 20)]
    with pytest.raises(
        ValueError, match=r"config: pghot_v8: freq_threshold must be in \[1, 3\] in the default"
    ):
        policy(engine, freq_threshold=4)
    # the precise u32 word's 3-bit count reaches 4 (and saturates at 7)
    q = policy(engine, mode="precise", freq_threshold=4)
    assert go(q, reports([5] * 3 + [6] * 4, [12, 13, 14, 15, 16, 17, 18]), 40) == [(6, 20)]
    # threshold 7: ready at the 7th fault (18); the wake at 20 comes before the fault at 20
    r = policy(engine, mode="precise", freq_threshold=7)
    assert go(r, reports([5] * 9, list(range(12, 21))), 40) == [(5, 20)]


@pytest.mark.parametrize("engine", ENGINES)
def test_time_bucket_window_expiry(engine: str) -> None:
    # u8: the window of 3000 ms is ceil(3000 / 128) = 24 buckets of 128 jiffies.  5 faults at 12
    # (bucket 0) and 3012 (bucket 23, age 23 <= 24: freq 2, promoted at 3020); 6 at 13 and 3213
    # (bucket 25, age 25 > 24: the count restarts at 1, never promoted)
    p = policy(engine)
    assert go(p, reports([5, 6, 5, 6], [12, 13, 3012, 3213]), 4000) == [(5, 3020)]
    # a shorter window expires 5's first fault: 1000 ms = 8 buckets < 23
    q = policy(engine, freq_window_ms=1000)
    assert go(q, reports([5, 5], [12, 3012]), 4000) == []


@pytest.mark.parametrize("engine", ENGINES)
def test_u8_buckets_versus_precise_jiffies(engine: str) -> None:
    # window 1000 ms.  5 faults at 100 and 1120: u32 counts jiffies, age 1020 > 1000: the count
    # restarts; u8 counts buckets, 100 >> 7 = 0 and 1120 >> 7 = 8, age 8 <= ceil(1000/128) = 8:
    # freq 2, ready, promoted at the wake at 1130.  Precision matters.
    trace = reports([5, 5], [100, 1120])
    u8 = policy(engine, freq_window_ms=1000)
    u32 = policy(engine, mode="precise", freq_window_ms=1000)
    assert go(u8, trace, 2000) == [(5, 1130)]
    assert go(u32, trace, 2000) == []
    assert u8.tracker.memory_bytes() < u32.tracker.memory_bytes()  # 1 byte against 4 per PFN


@pytest.mark.parametrize("engine", ENGINES)
def test_kmigrated_wake_period(engine: str) -> None:
    # 5 ready at 13: the first wake after it is at kmigrated_sleep_ms' next multiple
    for sleep, when in [(10, 20), (50, 50), (100, 100)]:
        p = policy(engine, kmigrated_sleep_ms=sleep)
        assert go(p, reports([5, 5], [12, 13]), 500) == [(5, when)]
        assert p.round_j == sleep


@pytest.mark.parametrize("engine", ENGINES)
def test_kmigrated_batch(engine: str) -> None:
    trace = reports([5, 6, 7, 5, 6, 7], [12, 13, 14, 15, 16, 17])  # 5, 6, 7 ready by 17
    # the posting: batch_nr is the length of one migrate list, a wake migrates every ready page
    p = policy(engine, kmigrated_batch_nr=2)
    assert go(p, trace, 100) == [(5, 20), (6, 20), (7, 20)]
    # v3's reading (batch per scan): 2 per wake, in PFN order, 7 left ready for the next wake
    q = policy(engine, kmigrated_batch_nr=2, batch_per_wake=True)
    assert go(q, trace, 100) == [(5, 20), (6, 20), (7, 30)]


@pytest.mark.parametrize("engine", ENGINES)
def test_rate_limit_inside_pghot(engine: str) -> None:
    # 1 MB/s and wakes every 10 ms: a wake's credit is 2**20 * 10 / 1000 = 10485 bytes; each
    # migration spends a page (4096) while the credit is positive: 10485, 6389, 2293 -> 3 pages
    # (-1803 left).  8 is refused, and its record, read by kmigrated, is gone (as in the kernel):
    # faulting twice again (25, 26) it is promoted at 30 (credit -1803 + 10485 > 0)
    trace = reports([5, 6, 7, 8] * 2, [12, 12, 12, 12, 13, 13, 13, 13])
    p = policy(engine, rate_limit_mbps=1, free_bypass=False)
    assert go(p, trace, 25) == [(5, 20), (6, 20), (7, 20)]
    assert p.stats()["promoter"]["kpromoted_rate_limited"] == 1
    assert go(p, reports([8, 8], [25, 26]), 100)[3:] == [(8, 30)]
    q = policy(engine, rate_limit_mbps="none")
    assert go(q, trace, 100) == [(5, 20), (6, 20), (7, 20), (8, 20)]


@pytest.mark.parametrize("engine", ENGINES)
def test_sources_hint_faults_and_hw_hints_not_page_table_scans(engine: str) -> None:
    p = policy(engine)
    both = Reports(
        *(
            np.concatenate([a, b])
            for a, b in zip(reports([5, 5], [12, 13], src=1), reports([6, 6], [14, 15], src=0), strict=True)
        )
    )
    assert go(p, both, 40) == [(6, 20)]  # 5's page-table scans are ignored (v6: not a source)
    assert p.stats()["pghot_v8"] == {"pgtable_scan_ignored": 2}
    assert p.stats()["tracker"]["pghot_recorded_hwhints"] == 2


@pytest.mark.parametrize("engine", ENGINES)
def test_top_tier_pages_are_not_recorded(engine: str) -> None:
    p = policy(engine)
    assert go(p, reports([0, 0, 1, 1], [12, 13, 14, 15]), 40) == []
    assert p.stats()["tracker"]["toptier"] == 4


# -- config -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "exc", "match"),
    [
        ({"mode": "u16"}, ValueError, "config: pghot_v8: mode must be 'default' or 'precise', got 'u16'"),
        ({"mode": 8}, TypeError, "config: pghot_v8: mode"),
        ({"freq_threshold": 0}, ValueError, "config: pghot_v8: freq_threshold must be in"),
        ({"freq_threshold": 4}, ValueError, r"freq_threshold must be in \[1, 3\] in the default mode"),
        ({"mode": "precise", "freq_threshold": 8}, ValueError, "freq_threshold"),
        ({"freq_threshold": 2.0}, TypeError, "freq_threshold"),
        ({"freq_window_ms": 5000}, ValueError, r"freq_window_ms must be in \[1, 3968\] in the default"),
        ({"mode": "precise", "freq_window_ms": 16384}, ValueError, "freq_window_ms"),
        ({"kmigrated_sleep_ms": 0}, ValueError, "config: pghot_v8: kmigrated_sleep_ms"),
        ({"kmigrated_sleep_ms": "100"}, TypeError, "kmigrated_sleep_ms"),
        ({"kmigrated_batch_nr": -1}, ValueError, "kmigrated_batch_nr"),
        ({"batch_per_wake": 1}, TypeError, "batch_per_wake"),
        ({"rate_limit_mbps": -1}, ValueError, "rate_limit_mbps"),
        ({"free_bypass": "yes"}, TypeError, "free_bypass"),
        ({"scan_section_pages": 3}, ValueError, "scan_section_pages must be a power of two"),
        ({"sleep_ms": 100}, ValueError, "config: pghot_v8: unknown key 'sleep_ms'"),
    ],
)
def test_bad_knobs(table: dict[str, Any], exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        SimConfig(pghot_v8=table)


def test_defaults_and_precise_accepts_more() -> None:
    k = v8_knobs()
    assert (k["mode"], k["freq_threshold"], k["kmigrated_sleep_ms"], k["kmigrated_batch_nr"]) == (
        "default",
        2,
        100,
        512,
    )
    assert k["rate_limit_mbps"] == 65536 and k["freq_window_ms"] is None
    assert dict(SimConfig(pghot_v8={"mode": "precise", "freq_threshold": 7}).pghot_v8) == {
        "mode": "precise",
        "freq_threshold": 7,
    }
    p = policy("compiled")
    assert p.tracker.mode == "default" and p.promoter.interval_ms == 10


def test_knobs_from_a_file(tmp_path: pathlib.Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[pghot_v8]\nmode = "precise"\nkmigrated_sleep_ms = 50\n')
    c = load_config(f)
    assert dict(c.pghot_v8) == {"mode": "precise", "kmigrated_sleep_ms": 50}
    assert SimConfig.from_dict(c.to_dict()).to_dict() == c.to_dict()
    f.write_text("[pghot_v8]\nfreq_threshold = 9\n")
    with pytest.raises(ValueError, match="c.toml: config: pghot_v8: freq_threshold"):
        load_config(f)


def test_cli(capsys: pytest.CaptureFixture[str]) -> None:
    csv = str(DATA / "sample.csv")
    assert main(["replay", csv, "--policies", "pghot-v8,pghot", "--no-progress", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out["policies"]) == ["pghot-v8", "pghot"]
    assert out["policies"]["pghot-v8"]["kind"] == "pghot-v8"
    with pytest.raises(SystemExit) as e:
        main(["replay", csv, "--no-progress", "--policies", "pghot-v8", "--set", "pghot_v8.freq_threshold=9"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "pghot: error:" in err and "pghot_v8: freq_threshold" in err


def test_registered_after_throttled() -> None:
    assert POLICIES[POLICIES.index("pghot-throttled") + 1] == "pghot-v8"


# -- in a replay ------------------------------------------------------------------------------


def _demo(**v8: Any) -> Any:
    cfg = SimConfig(top_pages=250, pghot_v8=v8)
    return replay([demo_trace(40_000, 1_000, seed=4)], cfg, progress=False, policies=["pghot-v8"])


def test_knobs_direction_on_the_demo() -> None:
    # the posting: a lower freq_threshold makes more pages candidates; a lower rate limit fewer
    # promotions; kmigrated sleeping longer promotes no more
    by_th = [_demo(freq_threshold=t)["pghot-v8"].promotions for t in (1, 2, 3)]
    assert by_th[0] > by_th[1] > by_th[2] > 0
    full = _demo()["pghot-v8"].promotions
    assert _demo(rate_limit_mbps=1, free_bypass=False)["pghot-v8"].promotions < full
    assert _demo(kmigrated_sleep_ms=1000)["pghot-v8"].promotions <= full


def test_deterministic_and_both_engines_agree() -> None:
    cfg = SimConfig(top_pages=250, pghot_v8={"mode": "precise"})
    trace = [demo_trace(40_000, 1_000, seed=4)]
    runs = [
        replay(trace, cfg, progress=False, engine=e, policies=["pghot-v8", "pghot"]).to_dict(heatmap=True)
        for e in ("compiled", "compiled", "reference")
    ]
    assert runs[0] == runs[1] == runs[2]
    assert runs[0]["policies"]["pghot-v8"]["promotions"] > 0


def test_doctests() -> None:
    result = doctest.testmod(v8mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


_SOURCES: list[dict[str, Any]] = [
    {"name": "hint-fault", "scan_period_ms": 50, "scan_window_pages": 64, "scan_delay_ms": 20},
    {"name": "hw-hints", "sample_every": 3, "seed": 1},
    {"name": "pgtable-scan", "interval_ms": 30},
]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(
    "knobs",
    [{}, {"mode": "precise", "freq_threshold": 3}, {"batch_per_wake": True, "kmigrated_batch_nr": 4}],
)
def test_engines_agree_on_every_source(seed: int, knobs: dict[str, Any]) -> None:
    # the differential test of tests/test_sim_engines.py for pghot-v8, with all three sources:
    # the page-table scan's reports are counted and ignored, the other two recorded
    rng = np.random.default_rng(seed)
    n, pages = 20_000, 600
    t = np.sort(rng.integers(0, 2_000, n)).astype(np.int64) * 1_000_000
    trace = [TraceChunk(time_ns=t, pfn=(rng.zipf(1.3, n) % pages).astype(np.uint64))]
    cfg = SimConfig(top_pages=60, sources=_SOURCES, oracle_interval_ms=200, interval_ms=100, pghot_v8=knobs)
    a, b = (
        replay(trace, cfg, progress=False, engine=e, policies=["pghot-v8"]).to_dict(heatmap=True)
        for e in ("reference", "compiled")
    )
    assert a == b
    v8 = a["policies"]["pghot-v8"]
    assert v8["promotions"] > 0
    st = v8["stats"]
    assert st["pghot_v8"]["pgtable_scan_ignored"] > 0 and st["tracker"]["pghot_recorded_pgtscans"] == 0
    assert st["tracker"]["pghot_recorded_hwhints"] > 0 and st["tracker"]["pghot_recorded_hintfaults"] > 0


def test_a_replay_without_its_sources_says_so() -> None:
    cfg = SimConfig(top_pages=250, sources=[{"name": "pgtable-scan", "interval_ms": 30}])
    r = replay([demo_trace(4_000, 1_000, seed=4)], cfg, progress=False, policies=["pghot-v8"])
    assert r["pghot-v8"].promotions == 0
    assert any("pghot-v8 records hint faults and hardware hints" in n for n in r.notes)
