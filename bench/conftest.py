"""pytest configuration of the benchmark suite.

Run it with ``python -m pytest bench/ --benchmark-only`` from the repository
root (``--benchmark-only`` overrides the ``--benchmark-skip`` of the
project's ``addopts``).  Besides pytest-benchmark's own table (seconds per
round), the terminal summary prints one Markdown table of time per
operation with each row's ratio to the group's ``Tracker`` row.
"""

from __future__ import annotations

import os
import sys

import pytest

# `bench` is a package at the repository root; make it importable whatever
# the import mode and the working directory.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

_RESULTS = pytest.StashKey[list]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_RESULTS] = []


@pytest.fixture
def per_op_results(request: pytest.FixtureRequest) -> list:
    """(group, impl, unit, ns per operation) rows for the terminal summary."""
    return request.config.stash[_RESULTS]


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    rows = config.stash.get(_RESULTS, [])
    if not rows:
        return
    from bench.report import markdown_table

    terminalreporter.write_sep("-", "time per operation (median), ratio to the Tracker row")
    terminalreporter.write_line(markdown_table(rows))
