"""pytest-benchmark suite of the replay engine: the ``replay-*`` groups of :mod:`bench.replay`.

Run with ``python -m pytest bench/test_bench_replay.py --benchmark-only``;
each row's time per access per policy reads as a ratio to its group's first row.
"""

from __future__ import annotations

import pytest

from bench import replay as bench_replay

CASES = bench_replay.cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bench_replay(benchmark, per_op_results, case) -> None:
    benchmark.group = case.group
    benchmark.name = case.impl
    prepared = case.prepare()
    result = benchmark.pedantic(
        prepared.run,
        setup=lambda: (prepared.setup(), {}),
        rounds=case.rounds,
        warmup_rounds=case.warmup,
    )
    assert result > 0
    ns = benchmark.stats.stats.median * 1e9 / case.ops
    benchmark.extra_info["unit"] = case.unit
    benchmark.extra_info["ops_per_round"] = case.ops
    benchmark.extra_info[f"ns_per_{case.unit}"] = ns
    per_op_results.append((case.group, case.impl, case.unit, ns))
