"""The ``damon`` policy: DAMOS migrate_hot / migrate_cold over DAMON's adaptive regions.

Hand-computed answers on tiny machines whose regions are single pages (so
the sampled page of each region is that page), the regions' invariants
under split and merge, the quota, the knobs' directions, config errors,
determinism, and the reference engine against the compiled one.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import numpy as np
import pytest

from pghot import Topology
from pghot.cli import main
from pghot.machine.memory import TieredMemory
from pghot.machine.sources import Reports
from pghot.model.memory import TieredMemory as ReferenceMemory
from pghot.sim import SimConfig, demo_trace, replay
from pghot.sim.config import DamonConfig, load_config
from pghot.sim.damon import Damon, feed_loop_next_input, why_no_promotion
from pghot.sim.policies import POLICIES, build_machine

ENGINES = ["compiled", "reference"]
#: every jiffy a sample, an aggregation (and apply) every 4, no goals, single-page regions
FAST: dict[str, Any] = {
    "sample_us": 1000,
    "aggr_us": 4000,
    "apply_interval_us": 4000,
    "min_nr_regions": 3,
    "quota_goals": False,
}


def policy(engine: str, top: int, lower: int, pages: int, **knobs: Any) -> Damon:
    m = build_machine(
        SimConfig(), Topology.two_tier(top, lower), pages, bin_jiffies=1, nbins=5000, engine=engine
    )
    return Damon("damon", m, **{**FAST, **knobs})


def run(p: Damon, pages: list[int], times: list[int], horizon: int) -> None:
    """The accesses, a jiffy at a time (the regions checked after each round)."""
    pg = np.array(pages, np.uint32)
    tm = np.array(times, np.int64)
    for t in range(horizon):
        a, b = np.searchsorted(tm, t), np.searchsorted(tm, t + 1)
        p.run_piece(pg[a:b], tm[a:b], Reports.empty(), t + 1)
        p.check()


def promoted(p: Damon) -> list[int]:
    return [int(x) for x in np.concatenate(p.pending)] if p.pending else []


@pytest.mark.parametrize("engine", ENGINES)
def test_hot_page_on_the_lower_tier_promoted_at_the_first_apply(engine: str) -> None:
    # pages 0, 1 on the top tier (PFNs 0, 1), 2, 3, 4 below (PFNs 2, 3, 4): one region each.
    # Page 3 is accessed every jiffy from 3 on.  Round t looks at the accesses before t:
    # round 3 counts page 2 (accessed at 2) and clears its accessed bit (the new sample),
    # round 4 counts page 3; the aggregation and apply at round 4 see nr_accesses 1 for
    # both, and the young filter keeps only page 3 (page 2's bit was cleared at round 3).
    p = policy(engine, 2, 3, 5)
    pages = [0, 1, 2] + [3] * 20
    times = [0, 1, 2] + list(range(3, 23))
    run(p, pages[:4], times[:4], 4)
    assert promoted(p) == []
    run(p, pages[4:], times[4:], 5)
    assert promoted(p) == [3]
    assert p.mem.stats()["pgpromote_success"] == 1
    assert p.mem.pfn_of(3) < 2


@pytest.mark.parametrize("engine", ENGINES)
def test_without_the_young_filter_every_matching_region_moves(engine: str) -> None:
    p = policy(engine, 2, 3, 5, young_filter=False)
    run(p, [0, 1, 2, 3], [0, 1, 2, 3], 5)
    assert sorted(promoted(p)) == [2, 3]


@pytest.mark.parametrize("engine", ENGINES)
def test_cold_page_on_the_top_tier_demoted(engine: str) -> None:
    # pages 0, 1, 2 on the top tier; 0 and 1 stay busy, 2 is never accessed after t=2:
    # nr_accesses 1 in the first aggregation (round 3 saw it), 0 in the second: demoted at 8
    p = policy(engine, 3, 6, 3)
    pages = [0, 1, 2] + [0, 1] * 10
    times = [0, 1, 2] + [3 + i // 2 for i in range(20)]
    run(p, pages, times, 8)
    assert p.mem.stats()["pgdemote_kswapd"] == 0
    run(p, [], [], 9)
    assert p.mem.stats()["pgdemote_kswapd"] == 1
    assert p.mem.pfn_of(2) >= 3 and p.mem.pfn_of(0) < 3 and p.mem.pfn_of(1) < 3
    assert p.stats()["damon"]["demoted"] == 1


def _all_lower_hot(p: Damon, horizon: int) -> None:
    """Pages 0..7 first (the top tier), then 8..15 (below) accessed at every jiffy."""
    pages = list(range(16))
    times = [0] * 16
    for t in range(1, horizon):
        pages += list(range(8, 16))
        times += [t] * 8
    run(p, pages, times, horizon)


@pytest.mark.parametrize("engine", ENGINES)
def test_quota_limits_bytes_per_reset_interval(engine: str) -> None:
    # 2 pages of quota per second: the applies at 4, 8, ... share the first window
    p = policy(engine, 8, 16, 16, quota_sz_bytes=2 * 4096, young_filter=False)
    _all_lower_hot(p, 200)
    assert p.mem.stats()["pgpromote_success"] == 2
    assert p.stats()["damon"]["hot_tried_bytes"] == 2 * 4096
    q = policy(engine, 8, 16, 16, quota_sz_bytes=2 * 4096, young_filter=False, quota_reset_interval_ms=8)
    _all_lower_hot(q, 200)
    assert q.mem.stats()["pgpromote_success"] > 2


@pytest.mark.parametrize("engine", ENGINES)
def test_regions_cover_the_node_without_overlap(engine: str) -> None:
    rng = np.random.default_rng(5)
    p = policy(engine, 64, 512, 400, min_nr_regions=10, max_nr_regions=40, young_filter=False)
    n = 3000
    pages = rng.zipf(1.3, n) % 400
    run(p, pages.tolist(), np.sort(rng.integers(0, 300, n)).tolist(), 300)
    for c in p.contexts:
        assert 10 <= c.start.shape[0] <= 40
        assert int(c.start[0]) == c.lo and int(c.end[-1]) == c.hi
        assert np.array_equal(c.start[1:], c.end[:-1])
    assert p.stats()["damon"]["aggregations"] == 299 // 4  # rounds at 1 .. 299


def test_feedback_loop() -> None:
    # damon_feed_loop_next_input: under the goal it grows, over it shrinks, never below 1 byte
    assert feed_loop_next_input(10000, 0) == 20000
    assert feed_loop_next_input(10000, 10030) == 10000
    assert feed_loop_next_input(1_000_000, 10030) == 997_000
    assert feed_loop_next_input(50000, 10000) == 50000
    assert feed_loop_next_input(50000, 25000) == 10000


def _demo(**knobs: Any) -> dict[str, Any]:
    r = replay(
        [demo_trace(60_000, 2_000, seed=3)],
        SimConfig(top_pages=500, damon=knobs),
        progress=False,
        policies=["damon"],
    )
    d = r.to_dict()
    d["notes"] = r.notes
    return d


def test_default_goals_say_why_nothing_is_promoted() -> None:
    d = _demo()
    assert d["policies"]["damon"]["promotions"] == 0
    assert any("damon.quota_goals=false" in n for n in d["notes"])
    off = _demo(quota_goals=False)
    assert off["policies"]["damon"]["promotions"] > 0
    assert not any(n.startswith("damon:") for n in off["notes"])


def test_min_nr_accesses_direction() -> None:
    a = _demo(quota_goals=False, hot_min_nr_accesses=1)["policies"]["damon"]["promotions"]
    b = _demo(quota_goals=False, hot_min_nr_accesses=8)["policies"]["damon"]["promotions"]
    c = _demo(quota_goals=False, hot_min_nr_accesses=21)["policies"]["damon"]["promotions"]
    assert a > b >= c == 0  # 20 samples an aggregation: 21 is out of reach


def test_cold_age_direction() -> None:
    a = _demo(quota_goals=False, cold_min_age=0)["policies"]["damon"]["demotions"]
    b = _demo(quota_goals=False, cold_min_age=30)["policies"]["damon"]["demotions"]
    assert a > b


def test_why_no_promotion_names_the_knob() -> None:
    s = {"damon": {"applies": 3, "node1_hot_max_esz_bytes": 1 << 20, "hot_tried_bytes": 0}}
    assert "damon.hot_min_nr_accesses" in str(why_no_promotion("d", s))
    assert "apply_interval_us" in str(why_no_promotion("d", {"damon": {"applies": 0}}))
    s = {
        "damon": {
            "applies": 9,
            "node1_hot_max_esz_bytes": 1,
            "node1_hot_goal_bp": 9970,
            "node1_hot_adjustments": 9,
            "node1_hot_below_goal": 1,
        }
    }
    assert "at 1 of 9 quota adjustments" in str(why_no_promotion("d", s))


@pytest.mark.parametrize(
    ("value", "exc", "key"),
    [
        ({"sample_us": 0}, ValueError, "damon: sample_us"),
        ({"aggr_us": "fast"}, TypeError, "damon: aggr_us"),
        ({"min_nr_regions": 2}, ValueError, "damon: min_nr_regions"),
        ({"max_nr_regions": 5}, ValueError, "damon: max_nr_regions"),
        ({"quota_goals": "yes"}, TypeError, "damon: quota_goals"),
        ({"hot_goal_bp": 10001}, ValueError, "damon: hot_goal_bp"),
        ({"sample_us": 200_000}, ValueError, "damon: sample_us"),
        ({"sampel_us": 5}, ValueError, "damon: unknown key 'sampel_us'"),
    ],
)
def test_bad_knobs_name_the_key(value: dict[str, Any], exc: type[Exception], key: str) -> None:
    with pytest.raises(exc, match=key):
        SimConfig.from_dict({"damon": value})
    ((k, v),) = value.items()
    with pytest.raises(exc, match=key):
        SimConfig().with_overrides({f"damon.{k}": v})
    m = build_machine(SimConfig(), Topology.two_tier(4, 8), 8, 1000)
    with pytest.raises(exc, match=key):
        Damon("damon", m, **value)


def test_knobs_from_a_file(tmp_path: pathlib.Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text("[damon]\naggr_us = 50000\nquota_goals = false\n")
    c = load_config(f)
    assert dict(c.damon) == {"aggr_us": 50000, "quota_goals": False}
    assert SimConfig.from_dict(c.to_dict()).to_dict() == c.to_dict()
    p = Damon("d", build_machine(c, Topology.two_tier(4, 8), 8, 1000))
    assert p.aggr_samples == 10 and p.contexts[0].scheme.goal_bp is None
    f.write_text("[damon]\nmin_nr_regions = 0\n")
    with pytest.raises(ValueError, match="c.toml: config: damon: min_nr_regions"):
        load_config(f)
    assert DamonConfig().kwargs() == {}


def test_targeted_demotion_on_both_memories() -> None:
    for cls in (TieredMemory, ReferenceMemory):
        mem = cls(Topology.two_tier(4, 2))
        mem.allocate([0, 1, 2, 3])
        mem.migrate_batch(np.array([4], np.int64), 0, 0)  # nothing on PFN 4
        assert mem.demote_pfns([1, 4, 9, 3, 0], now=0).tolist() == [1, 3]  # the lower tier fills
        assert mem.stats()["pgdemote_kswapd"] == 2 and mem.free_pages(0) == 2
        assert mem.node_stats()[0]["demotions"] == 2  # the per-node count sums to the total
        with pytest.raises(ValueError, match="pfns"):
            mem.demote_pfns([-1], now=0)


def test_registered_and_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    assert POLICIES.index("damon") == POLICIES.index("oracle") - 1
    trace = [demo_trace(40_000, 1_000, seed=4)]
    cfg = SimConfig(top_pages=250, damon={"quota_goals": False})
    a = replay(trace, cfg, progress=False, policies=["damon", "numab2"]).to_dict(heatmap=True)
    b = replay(trace, cfg, progress=False, policies=["damon", "numab2"], threads=2).to_dict(heatmap=True)
    assert a["policies"] == b["policies"]
    assert a["policies"]["damon"]["promotions"] > 0
    r = replay(trace, cfg, progress=False, policies=["damon"], engine="reference").to_dict(heatmap=True)
    assert r["policies"]["damon"] == a["policies"]["damon"]


def test_cli_policies_damon(capsys: pytest.CaptureFixture[str]) -> None:
    csv = str(pathlib.Path(__file__).parent / "data" / "sample.csv")
    assert main(["replay", csv, "--policies", "damon,none", "--no-progress", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out["policies"]) == ["damon", "none"]
    assert "applies" in out["policies"]["damon"]["stats"]["damon"]
    with pytest.raises(SystemExit) as e:
        main(["replay", csv, "--no-progress", "--policies", "damon", "--set", "damon.aggr_us=0"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("pghot: error:") == 1 and "damon: aggr_us" in err


@pytest.mark.parametrize("engine", ENGINES)
def test_quota_goes_to_the_hottest_region_first(engine: str) -> None:
    # one page of quota; page 3 is accessed every other jiffy, page 4 (higher address) every
    # jiffy: page 4 scores higher (damon_hot_score) and takes the quota, page 3 waits
    p = policy(engine, 2, 4, 5, quota_sz_bytes=4096, young_filter=False, min_nr_regions=4)
    pages, times = [0, 1, 2, 3, 4], [0, 0, 0, 0, 0]
    for t in range(1, 5):
        pages += [4] + ([3] if t % 2 else [])
        times += [t] * (2 if t % 2 else 1)
    run(p, pages, times, 5)
    assert promoted(p) == [4]


@pytest.mark.parametrize("engine", ENGINES)
def test_goal_feedback_doubles_the_cold_quota_from_one_byte(engine: str) -> None:
    # node 0 full (0 % free against the 0.5 % goal): score 0, esz_bp doubles at each
    # adjustment (one per apply, the reset interval being shorter): 2, 4, 8, 16 bytes
    seen = []
    pages, times = [0, 1, 2, 3], [0, 0, 0, 0]
    p = policy(engine, 2, 4, 4, quota_goals=True, quota_reset_interval_ms=1)
    cold = next(c for c in p.contexts if not c.scheme.hot)
    pg = np.array(pages, np.uint32)
    tm = np.array(times, np.int64)
    p.run_piece(pg, tm, Reports.empty(), 1)
    for t in range(1, 17):
        p.run_piece(pg[:0], tm[:0], Reports.empty(), t + 1)
        if t % 4 == 0:
            seen.append(cold.scheme.esz)
    assert seen == [2, 4, 8, 16]
    assert p.mem.stats()["pgdemote_kswapd"] == 0  # less than a page: nothing moves


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "knobs",
    [
        {},
        {"quota_goals": False},
        {"apply_interval_us": 100_000, "quota_reset_interval_ms": 100, "cold_min_age": 2},
        {"quota_goals": False, "young_filter": False, "max_nr_regions": 30, "sample_us": 2000},
    ],
)
def test_engines_agree(seed: int, knobs: dict[str, Any]) -> None:
    trace = [demo_trace(30_000, 1_500, duration_ms=4000, seed=seed)]
    cfg = SimConfig(top_pages=300 + 100 * seed, damon={**knobs, "seed": seed})
    a = replay(trace, cfg, progress=False, policies=["damon", "none"], engine="reference")
    b = replay(trace, cfg, progress=False, policies=["damon", "none"], engine="compiled")
    assert a.to_dict(heatmap=True)["policies"] == b.to_dict(heatmap=True)["policies"]


def test_intervals_shorter_than_a_jiffy_keep_the_aggregation_time() -> None:
    m = build_machine(SimConfig(), Topology.two_tier(4, 8), 8, 1000)
    p = Damon("d", m, sample_us=500)  # one jiffy at HZ=1000: 100 ms is still 100 samples
    assert (p.sample_j, p.aggr_samples, p.apply_samples) == (1, 100, 1000)
    q = Damon("d", m, apply_interval_us=0)  # 0: every aggregation
    assert (q.sample_j, q.aggr_samples, q.apply_samples) == (5, 20, 20)
