"""Run the ``>>>`` examples of the package's modules as doctests.

pytest's ``--doctest-modules`` only collects the files under ``tests/``, and
it cannot see the docstrings of the compiled modules, so the examples of the
modules listed in ``MODULES`` (the compiled core, the types, the topology,
the reference model) are run here with :func:`doctest.testmod`.
"""

from __future__ import annotations

import doctest
import importlib

import pytest

from pghot.tracker import STORES

MODULES = [
    "pghot._base",
    "pghot._core",
    "pghot._baseline",
    "pghot._queues",
    "pghot.queues",
    "pghot.tracker",
    "pghot.snapshot",
    "pghot._validate",
    "pghot._types",
    "pghot.topology",
    "pghot.model.reference",
    "pghot._v2store",
    "pghot._pfnarray",
    "pghot.model.pfnarray",
    "pghot.machine.memory",
    "pghot.model.memory",
    "pghot._memory",
    "pghot._pagemap",
    "pghot._stages",
    "pghot.model.sim",
    "pghot.sim.diagnostics",
    "pghot.sim.bounds",
    "pghot.sim.budget",
    "pghot.sim.damon",
    "pghot._cache",
    "pghot.machine.cache",
    "pghot.machine.costs",
    "pghot.model.cache",
    "pghot.machine.promoter",
    "pghot.bench.workloads",
    "pghot.bench.designs",
    "pghot.cli",
    "pghot._output",
]


@pytest.mark.parametrize("name", MODULES)
def test_module_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(
        module,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        report=False,
    )
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed"


@pytest.mark.parametrize("module", ["pghot._core", "pghot._v2store", "pghot._pfnarray"])
def test_store_public_methods_have_examples(module: str) -> None:
    # CONVENTIONS.md: a >>> example on every public function (of the store's
    # class, most of them the base's), and one on the class itself.
    Tracker = next(getattr(importlib.import_module(m), c) for m, c in STORES.values() if m == module)
    missing = [
        name
        for name in (
            "record_access",
            "record_accesses",
            "extract_batch",
            "lookup",
            "set_movable",
            "queued",
            "stats",
            "memory_bytes",
            "check",
        )
        if ">>>" not in (getattr(Tracker, name).__doc__ or "")
    ]
    assert ">>>" in (Tracker.__doc__ or "")
    assert missing == []
