"""A replay whose machines would not fit in memory is refused before anything is allocated."""

from __future__ import annotations

import resource

import pytest

from pghot.sim import SimConfig, budget, demo_trace, replay


def test_a_machine_larger_than_memory_is_refused_before_it_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budget, "available_bytes", lambda: 8 << 30)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(
        ValueError, match=r"lower_pages: 22 top-tier and 2000000000 lower-tier .* more than the 8.59 GB"
    ):
        replay([demo_trace(1000, 90)], SimConfig(lower_pages=2 * 10**9), progress=False)
    # nothing of the ~24 GB (pghot's table at half the lower tier) was touched
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024


def test_a_huge_top_tier_costs_the_footprint(monkeypatch: pytest.MonkeyPatch) -> None:
    """2e9 top-tier pages once needed ~18 GB (a slot per PFN per machine); the memory
    models now hold slots for the trace's pages only."""
    monkeypatch.setattr(budget, "available_bytes", lambda: 8 << 30)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = replay([demo_trace(1000, 90)], SimConfig(top_pages=2 * 10**9), progress=False)
    assert r.trace["accesses"] == 1000
    assert all(p.top_tier_hits == 1000 for p in r.policies.values())
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024


def test_the_estimate_counts_every_machine_and_store(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real = budget.check_fits

    def spy(*args: object, **kw: object) -> int:
        seen.append(real(*args, **kw))  # type: ignore[arg-type]
        return seen[-1]

    monkeypatch.setattr("pghot.sim.engine.check_fits", spy)
    cfg = SimConfig(top_pages=1000, lower_pages=4000)
    trace = [demo_trace(2000, 100)]
    replay(trace, cfg, baselines=("none",), progress=False)
    replay(trace, cfg, baselines=("none",), designs=("pfn-array/precise",), progress=False)
    # the design adds a machine (9 B per PFN of each node up to the footprint), a tracker (its
    # movable bit and 4-byte word per lower PFN) and its pages
    assert seen[1] - seen[0] == 9 * (100 + 100) + 4000 // 8 + 4 * 4000 + 64 * 100
    # pghot's tracker: its movable bits and its table at half the lower tier
    assert seen[0] == 2 * 9 * 200 + 4000 // 8 + 24 * 2000 + 3 * 64 * 100


def test_without_a_known_limit_nothing_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budget, "available_bytes", lambda: None)
    r = replay([demo_trace(1000, 90)], SimConfig(top_pages=50), progress=False)
    assert r.trace["accesses"] == 1000
