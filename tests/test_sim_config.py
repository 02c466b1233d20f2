"""The simulator's configuration records (pghot.sim.config): one field check for all.

The error messages a config file can produce are tested in ``test_sim.py``
and ``test_cli_errors.py``; here, the records themselves: frozen, typed,
unknown keys refused, the tagged union of the sources, and the mapping view
of the knobs given.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from pghot.sim import PROMOTER_KEYS, SOURCES, TRACKER_KEYS, SimConfig
from pghot.sim.config import (
    UNSET,
    HintFaultConfig,
    HwHintsConfig,
    MemoryConfig,
    PgtableScanConfig,
    PromoterConfig,
    TrackerConfig,
)


def bad(value: Any) -> Any:
    """A value of the wrong type, hidden from the type checker."""
    return value


def test_records_are_frozen() -> None:
    c = SimConfig(tracker={"threshold": 3})
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.top_pages = 5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.tracker.threshold = 4  # type: ignore[misc]


def test_tables_become_records_and_read_as_the_knobs_given() -> None:
    c = SimConfig(
        tracker={"threshold": 3},
        promoter={"rate_limit_mbps": "off"},
        sources=[{"name": "pgtable-scan", "interval_ms": 10}, {"name": "hw-hints"}],
    )
    assert isinstance(c.tracker, TrackerConfig) and c.tracker.threshold == 3
    assert c.tracker.capacity is UNSET and "capacity" not in c.tracker
    assert c.tracker == {"threshold": 3} and dict(c.promoter) == {"rate_limit_mbps": None}
    assert [type(s) for s in c.sources] == [PgtableScanConfig, HwHintsConfig]
    assert c.sources == [{"name": "pgtable-scan", "interval_ms": 10}, {"name": "hw-hints"}]
    assert SimConfig().sources == [HintFaultConfig()] and not SimConfig().tracker
    assert SimConfig.from_dict(c.to_dict()) == c
    assert dataclasses.replace(c, top_pages=7).tracker == c.tracker


def test_key_tuples_come_from_the_records() -> None:
    assert TRACKER_KEYS == tuple(f.name for f in dataclasses.fields(TrackerConfig))
    assert PROMOTER_KEYS[:2] == ("interval_ms", "batch")
    assert SOURCES == {
        "hw-hints": ("sample_every", "seed", "random"),
        "pgtable-scan": ("interval_ms",),
        "hint-fault": ("scan_period_ms", "scan_window_pages", "scan_delay_ms"),
    }


@pytest.mark.parametrize(
    "cls, key",
    [
        (TrackerConfig, "threshhold"),
        (PromoterConfig, "nap_ms"),
        (HwHintsConfig, "period"),
        (HintFaultConfig, "interval_ms"),
    ],
)
def test_unknown_keys_are_refused(cls: Any, key: str) -> None:
    with pytest.raises(ValueError, match=f"unknown key '{key}'"):
        cls.from_mapping({key: 1})
    with pytest.raises(TypeError):
        cls(**{key: 1})


@pytest.mark.parametrize(
    "make, exc, words",
    [
        (lambda: PromoterConfig(interval_ms=0), ValueError, "interval_ms must be in [1, 2147483648], got 0"),
        (lambda: PromoterConfig(stale_check=bad(1)), TypeError, "stale_check must be a bool, not int"),
        (lambda: PromoterConfig(rate_limit_mbps=bad(1.5)), TypeError, "rate_limit_mbps must be an int"),
        (lambda: HwHintsConfig(seed=-1), ValueError, "seed must be >= 0, got -1"),
        (lambda: HintFaultConfig(scan_delay_ms=2**41), ValueError, "scan_delay_ms must be in [0, "),
        (lambda: TrackerConfig(store=bad(3)), TypeError, "store must be a str, not int"),
        (lambda: MemoryConfig(page_size=3000), ValueError, "page_size must be a power of two"),
        (lambda: SimConfig(top_ns=float("inf")), ValueError, "config: top_ns must be a finite number"),
        (lambda: SimConfig(demotion=bad("yes")), TypeError, "config: demotion must be a bool, not str"),
        (lambda: SimConfig(sources=[]), ValueError, "config: sources must be a non-empty list"),
        (lambda: SimConfig(sources=bad(["hw-hints"])), TypeError, "config: sources[0] must be a table"),
        (lambda: SimConfig(tracker=bad([1])), TypeError, "config: tracker must be a table, not list"),
    ],
)
def test_one_field_check_names_the_field(make: Any, exc: type, words: str) -> None:
    with pytest.raises(exc) as e:
        make()
    assert words in str(e.value)


def test_the_tracker_knobs_are_checked_for_type_only() -> None:
    # ranges are the tracker's: the build in validate() finds them
    c = SimConfig(tracker={"threshold": 10**30})
    with pytest.raises(ValueError, match="config: tracker: threshold"):
        c.validate()
    assert TrackerConfig(capacity=None).kwargs() == {"capacity": None}


def test_memory_record_is_what_the_memory_takes() -> None:
    c = SimConfig(page_size=8192, hz=250, ping_pong_window_ms=0, demotion=False)
    assert c.memory == MemoryConfig(8192, 250, 0, False)
    assert c.memory.kwargs() == {"page_size": 8192, "hz": 250, "ping_pong_window_ms": 0, "demotion": False}


def test_ranges_are_the_components_own() -> None:
    from pghot.machine import promoter, sources

    pairs: list[tuple[Any, dict[str, tuple[int, int | None]]]] = [
        (PromoterConfig, promoter.ARG_RANGES),
        (HwHintsConfig, sources.HwHints.ARG_RANGES),
        (PgtableScanConfig, sources.PgtableScan.ARG_RANGES),
        (HintFaultConfig, sources.HintFault.ARG_RANGES),
    ]
    for record, table in pairs:
        declared = {f.name: f.metadata["range"] for f in dataclasses.fields(record)}
        assert {k: declared[k] for k in table} == table
        assert all(declared[k] == (None, None) for k in declared if k not in table)  # bools
