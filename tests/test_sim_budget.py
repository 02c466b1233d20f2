"""A replay whose machines would not fit in memory is refused before anything is allocated."""

from __future__ import annotations

import resource

import pytest

from pghot.sim import SimConfig, budget, demo_trace, replay


def test_a_machine_larger_than_memory_is_refused_before_it_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budget, "available_bytes", lambda: 8 << 30)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(
        ValueError, match=r"top_pages, lower_pages: 2000000000 top-tier .* more than the 8.59 GB"
    ):
        replay([demo_trace(1000, 90)], SimConfig(top_pages=2 * 10**9), progress=False)
    # nothing of the ~18 GB was touched
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
    # the design adds a machine (9 B per PFN), a tracker (9 B per lower PFN) and its 4-byte words
    assert seen[1] - seen[0] == 9 * 5000 + 9 * 4000 + 4 * 4000 + 64 * 100


def test_without_a_known_limit_nothing_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budget, "available_bytes", lambda: None)
    r = replay([demo_trace(1000, 90)], SimConfig(top_pages=50), progress=False)
    assert r.trace["accesses"] == 1000
