"""pytest-benchmark suite of the compiled core, each group with its baselines.

Every case comes from :mod:`bench.cases` (the core) and :mod:`bench.replay`
(the replay engine, groups ``replay-*``); a group's rows run in the same
session, so each reads as a ratio to the ``Tracker`` row (see the summary
table printed at the end, or ``extra_info["ns_per_<unit>"]`` in the JSON
of ``--benchmark-json``).
"""

from __future__ import annotations

import pytest

from bench import cases as bench_cases
from bench import replay as bench_replay

CASES = bench_cases.cases() + bench_replay.cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bench(benchmark, per_op_results, case: bench_cases.Case) -> None:
    benchmark.group = case.group
    benchmark.name = case.impl
    prepared = case.prepare()
    result = benchmark.pedantic(
        prepared.run,
        setup=lambda: (prepared.setup(), {}),
        rounds=case.rounds,
        warmup_rounds=case.warmup,
    )
    if case.group.startswith("replay-"):
        assert result > 0  # the replay ran: its accesses (lines)
    elif case.group in ("extract_batch", "queue-pop-1M", "parse-once") or case.group.startswith("read-"):
        assert result == case.ops
    elif case.unit == "access" and case.impl != "BareTable (bare C loop)":
        assert int(result[0]) == case.ops  # every access recorded: warm table, no drops
    if benchmark.stats is None:  # --benchmark-disable: run once, checked, not timed
        return
    ns = benchmark.stats.stats.median * 1e9 / case.ops
    benchmark.extra_info["unit"] = case.unit
    benchmark.extra_info["ops_per_round"] = case.ops
    benchmark.extra_info[f"ns_per_{case.unit}"] = ns
    per_op_results.append((case.group, case.impl, case.unit, ns))
