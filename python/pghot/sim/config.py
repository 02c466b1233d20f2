"""What to simulate: typed configuration records, read from TOML/JSON or ``KEY=VALUE``.

A :class:`SimConfig` names the machine (tier sizes, page size, clock), the
access costs, the temperature sources and the tracker's and promoter's
knobs.  Every part is a frozen dataclass:

=========================  ===================================================
:class:`SimConfig`         the top level (the keys of a config file)
:class:`TrackerConfig`     the ``[tracker]`` table: :class:`pghot.Tracker`'s
                           keyword arguments
:class:`PromoterConfig`    the ``[promoter]`` table: the keyword arguments of
                           :class:`pghot.machine.promoter.Promoter`
:class:`HwHintsConfig`,    one ``[[sources]]`` table each, told apart by its
:class:`PgtableScanConfig`,  ``name`` (a tagged union, :data:`SourceConfig`)
:class:`HintFaultConfig`
:class:`Numab2Config`,     the ``[numab2]`` and ``[tpp]`` tables: the knobs of
:class:`TppConfig`           the policies :class:`pghot.sim.alternatives.Numab2`
                           and :class:`pghot.sim.alternatives.Tpp`
:class:`MemoryConfig`      what :class:`pghot.machine.memory.TieredMemory`
                           takes, derived from the top level
=========================  ===================================================

One check serves them all (:func:`_check_fields`): each field's type comes
from its annotation (``int``, ``float``, ``bool``, ``str``, optionally
``None``), its range ``[low, high]`` (inclusive, as
:func:`pghot._validate.int_in`) and any extra check from its metadata, and
a key that is no field is refused.  The promoter's and the sources' ranges
are their own tables (``ARG_RANGES``), declared once beside the checks of
their constructors.  The tracker's knobs are checked for
their type only: their ranges depend on the store and the compiled core
checks them when :meth:`SimConfig.validate` builds the tracker once on a
small machine (so does every cross-knob rule, e.g. ``threshold_adjust``
needing a rate limit), so that a bad knob fails before a long trace is read.

The knob tables keep what was *given*: a knob left out is :data:`UNSET` and
the component's own default applies.  They read as mappings of the given
knobs (``dict(config.tracker)``, ``config.tracker == {"threshold": 3}``), which
is what is passed on as keyword arguments and what :meth:`SimConfig.to_dict`
writes.

Examples
--------
>>> c = SimConfig(top_pages=64, tracker={"threshold": 3})
>>> c.tracker, c.tracker.threshold, c.tracker.capacity
(TrackerConfig(threshold=3), 3, UNSET)
>>> c.sources
[HintFaultConfig(name='hint-fault')]
>>> PromoterConfig(rate_limit_mbps="none")
PromoterConfig(rate_limit_mbps=None)
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, Union

from pghot._validate import MS_MAX, bool_arg, int_in, number_in
from pghot.machine.costs import page_migration_ns
from pghot.machine.memory import TieredMemory
from pghot.machine.promoter import ARG_RANGES as PROMOTER_RANGES
from pghot.machine.promoter import THROTTLE_SIGNALS, Promoter
from pghot.machine.sources import HintFault, HwHints, PgtableScan, combine
from pghot.topology import Topology
from pghot.tracker import Tracker

__all__ = [
    "LLC_FORMATS",
    "PROMOTER_KEYS",
    "SOURCES",
    "SOURCE_CONFIGS",
    "ORACLE_INTERVAL_MS",
    "PING_PONG_WINDOW_MS",
    "SCALE_MODES",
    "TIME_MODELS",
    "TRACKER_KEYS",
    "UNSET",
    "HintFaultConfig",
    "HwHintsConfig",
    "MemoryConfig",
    "DamonConfig",
    "Numab2Config",
    "PghotV8Config",
    "PgtableScanConfig",
    "PromoterConfig",
    "SimConfig",
    "SourceConfig",
    "TppConfig",
    "TrackerConfig",
    "load_config",
    "parse_assignment",
    "parse_source",
]

_CONFIG_MAX_BYTES = 1 << 20  # a configuration file is read whole, up to this


# -- the generic field check ---------------------------------------------------------


class _Unset(enum.Enum):
    """The type of :data:`UNSET`."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


#: a knob not given: the component's own default applies
UNSET = _Unset.UNSET

_T = TypeVar("_T")
#: a knob that may be left :data:`UNSET`
Knob = Union[_T, _Unset]  # noqa: UP007 -- a generic alias needs Union


def _knob(
    default: Any = UNSET,
    *,
    low: int | None = None,
    high: int | None = None,
    ranges: Mapping[str, tuple[int, int | None]] | None = None,
    name: str = "",
    check: Callable[[Any, str], None] | None = None,
    normalize: Callable[[Any], Any] | None = None,
) -> Any:
    """A field whose range is ``[low, high]`` (inclusive; ``high`` None: no bound).

    ``ranges[name]`` gives the range instead: the component's own table
    (e.g. :data:`pghot.machine.promoter.ARG_RANGES`), so that it is stated once.
    """
    meta: dict[str, Any] = {"range": (low, high) if ranges is None else ranges[name]}
    if check is not None:
        meta["check"] = check
    if normalize is not None:
        meta["normalize"] = normalize
    return dataclasses.field(default=default, metadata=meta)


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    """The resolved annotations of ``cls`` (cached)."""
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _check_value(value: Any, name: str, hint: Any, meta: Mapping[str, Any]) -> Any:
    """``value`` checked against a field's annotation ``hint`` and metadata ``meta``."""
    norm = meta.get("normalize")
    if norm is not None:
        value = norm(value)
    union = typing.get_origin(hint) in (Union, types.UnionType)
    args = typing.get_args(hint) if union else (hint,)
    if value is UNSET and _Unset in args:
        return value
    if value is None and type(None) in args:
        return None
    (kind,) = (a for a in args if a not in (_Unset, type(None)))
    low, high = meta.get("range", (None, None))
    if kind is bool:
        value = bool_arg(value, name)
    elif kind is int:
        value = int_in(value, name, -(2**63) if low is None else low, high)
    elif kind is float:
        value = number_in(value, name, 0 if low is None else low)
    elif kind is str:
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    else:  # pragma: no cover - a field type this check does not know
        raise AssertionError(f"{name}: no check for {kind!r}")
    check = meta.get("check")
    if check is not None:
        check(value, name)
    return value


def _check_fields(record: Any, skip: tuple[str, ...] = ()) -> None:
    """Check (and normalise in place) every field of the frozen dataclass ``record``."""
    hints = _hints(type(record))
    for f in dataclasses.fields(record):
        if f.name in skip:
            continue
        old = getattr(record, f.name)
        new = _check_value(old, f.name, hints[f.name], f.metadata)
        if new is not old:
            object.__setattr__(record, f.name, new)


def _at_most_one(value: float, name: str) -> None:
    if value > 1:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")


def _power_of_two(value: int, name: str) -> None:
    if value & (value - 1):
        raise ValueError(f"{name} must be a power of two, got {value}")


#: ``time_model``'s values: see :attr:`SimConfig.time_model`
TIME_MODELS = ("auto", "closed", "open")


def _time_model(value: Any, name: str) -> None:
    if value not in TIME_MODELS:
        raise ValueError(f"{name} must be one of {list(TIME_MODELS)}, got {value!r}")


#: the default ``oracle_interval_ms`` and ``ping_pong_window_ms`` (before scaling to a short trace)
ORACLE_INTERVAL_MS = 1000
PING_PONG_WINDOW_MS = 5000

#: ``scale_to_trace``'s values: see :attr:`SimConfig.scale_to_trace`
SCALE_MODES = ("auto", "off")


#: ``oracle_search``'s values: see :attr:`SimConfig.oracle_search`
ORACLE_SEARCH_MODES = ("auto", "on", "off")


def _oracle_search(value: Any, name: str) -> None:
    if value not in ORACLE_SEARCH_MODES:
        raise ValueError(f"{name} must be one of {list(ORACLE_SEARCH_MODES)}, got {value!r}")


def _scale_mode(value: Any, name: str) -> None:
    if value not in SCALE_MODES:
        raise ValueError(f"{name} must be one of {list(SCALE_MODES)}, got {value!r}")


def _llc_size(value: Any) -> Any:
    """``llc_bytes``: ``"auto"`` is None (the default), ``"off"`` and ``false`` are 0 (TOML has no null)."""
    if value is False or (isinstance(value, str) and value.lower() == "off"):
        return 0
    if isinstance(value, str) and value.lower() == "auto":
        return None
    return value


#: Trace formats whose accesses are every load and store of a program (valgrind
#: lackey reports L1 hits too): ``llc_bytes`` None puts a last-level cache in
#: front of their memory.  Every other format is memory-level already (perf
#: samples of memory accesses, damo's regions, page-level CSV and .npy).
LLC_FORMATS = ("lackey",)


def _no_limit(value: Any) -> Any:
    """``rate_limit_mbps``: ``"none"``, ``"off"`` and ``false`` mean None (TOML has no null)."""
    if value is False or (isinstance(value, str) and value.lower() in ("none", "off")):
        return None
    return value


class _Knobs(Mapping[str, Any]):
    """A table of knobs: a frozen record that reads as the mapping of the knobs given."""

    def __post_init__(self) -> None:
        _check_fields(self)

    @classmethod
    def known_keys(cls) -> tuple[str, ...]:
        """The keys of the table, in declaration order.

        >>> PgtableScanConfig.known_keys()
        ('interval_ms',)
        """
        return tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]

    @classmethod
    def from_mapping(cls: type[_K], data: Mapping[str, Any]) -> _K:
        """A record from a parsed table; ValueError for an unknown key.

        >>> PromoterConfig.from_mapping({"batch": 8})
        PromoterConfig(batch=8)
        >>> PromoterConfig.from_mapping({"nap_ms": 3})
        Traceback (most recent call last):
        ...
        ValueError: unknown key 'nap_ms' (known: interval_ms, batch, ...)
        """
        known = cls.known_keys()
        for key in data:
            if key not in known:
                raise ValueError(f"unknown key {key!r} (known: {', '.join(known)})")
        return cls(**data)

    def kwargs(self) -> dict[str, Any]:
        """The knobs given, as keyword arguments of the component.

        >>> HwHintsConfig(seed=1).kwargs()
        {'seed': 1}
        """
        return {k: getattr(self, k) for k in self.known_keys() if getattr(self, k) is not UNSET}

    def __getitem__(self, key: str) -> Any:
        value = getattr(self, key, UNSET) if key in self.known_keys() else UNSET
        if value is UNSET:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self.kwargs())

    def __len__(self) -> int:
        return len(self.kwargs())

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={v!r}" for k, v in self.items())
        return f"{type(self).__name__}({items})"


_K = TypeVar("_K", bound=_Knobs)


# -- the records ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class TrackerConfig(_Knobs):
    """The ``[tracker]`` table: keyword arguments of :class:`pghot.Tracker`.

    Types only: the ranges depend on the store and are the tracker's to check.

    >>> TrackerConfig(store="hash", threshold=3).kwargs()
    {'store': 'hash', 'threshold': 3}
    >>> TrackerConfig(threshold="three")
    Traceback (most recent call last):
    ...
    TypeError: threshold must be an int, not str
    """

    store: Knob[str] = _knob()
    queue: Knob[str] = _knob()
    mode: Knob[str] = _knob()
    freq_window_ms: Knob[int | None] = _knob()
    threshold: Knob[int] = _knob()
    freq_bits: Knob[int | None] = _knob()
    nid_bits: Knob[int | None] = _knob()
    time_bits: Knob[int | None] = _knob()
    capacity: Knob[int | None] = _knob()
    queue_capacity: Knob[int | None] = _knob()
    evict_stale: Knob[bool] = _knob()
    scan_section_pages: Knob[int] = _knob()


def _throttle_signal(value: str, name: str) -> None:
    if value not in THROTTLE_SIGNALS:
        raise ValueError(f"{name} must be one of {list(THROTTLE_SIGNALS)}, got {value!r}")


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class PromoterConfig(_Knobs):
    """The ``[promoter]`` table: keyword arguments of :class:`pghot.machine.promoter.Promoter`.

    ``rate_limit_mbps`` may be ``"none"``, ``"off"`` or ``false`` for no
    limit (TOML has no null), and ``throttle_demotion_ratio`` likewise for no
    demotion throttle (its default).

    >>> PromoterConfig(batch=-1)
    Traceback (most recent call last):
    ...
    ValueError: batch must be in [0, 2147483648], got -1
    """

    interval_ms: Knob[int] = _knob(ranges=PROMOTER_RANGES, name="interval_ms")
    batch: Knob[int] = _knob(ranges=PROMOTER_RANGES, name="batch")
    rate_limit_mbps: Knob[int | None] = _knob(
        ranges=PROMOTER_RANGES, name="rate_limit_mbps", normalize=_no_limit
    )
    threshold_adjust: Knob[bool] = _knob()
    adjust_period_ms: Knob[int] = _knob(ranges=PROMOTER_RANGES, name="adjust_period_ms")
    free_bypass: Knob[bool] = _knob()
    bypass_free_pages: Knob[int | None] = _knob(ranges=PROMOTER_RANGES, name="bypass_free_pages")
    stale_check: Knob[bool] = _knob()
    throttle_demotion_ratio: Knob[int | None] = _knob(
        ranges=PROMOTER_RANGES, name="throttle_demotion_ratio", normalize=_no_limit
    )
    throttle_window_ms: Knob[int] = _knob(ranges=PROMOTER_RANGES, name="throttle_window_ms")
    throttle_signal: Knob[str] = _knob(check=_throttle_signal)


#: ranges of :class:`pghot.sim.alternatives.Numab2`'s knobs (its constructor checks them)
NUMAB2_RANGES: dict[str, tuple[int, int | None]] = {
    "hot_threshold_ms": (0, MS_MAX),
    "rate_limit_mbps": (0, 2**40),
    "adjust_period_ms": (1, MS_MAX),
    "free_enough_pages": (0, 2**62),
}
#: ranges of :class:`pghot.sim.alternatives.Tpp`'s knobs
TPP_RANGES: dict[str, tuple[int, int | None]] = {
    "demote_scale_factor": (0, 10000),
    "kswapd_interval_ms": (1, MS_MAX),
}


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Numab2Config(_Knobs):
    """The ``[numab2]`` table: the knobs of :class:`pghot.sim.alternatives.Numab2`.

    Mainline NUMA balancing in tiering mode; each knob is a sysctl (the
    policy's docstring gives the defaults and their sources).

    >>> Numab2Config(hot_threshold_ms=500).kwargs()
    {'hot_threshold_ms': 500}
    >>> Numab2Config(rate_limit_mbps=-1)
    Traceback (most recent call last):
    ...
    ValueError: rate_limit_mbps must be in [0, 1099511627776], got -1
    """

    hot_threshold_ms: Knob[int] = _knob(ranges=NUMAB2_RANGES, name="hot_threshold_ms")
    rate_limit_mbps: Knob[int] = _knob(ranges=NUMAB2_RANGES, name="rate_limit_mbps")
    threshold_adjust: Knob[bool] = _knob()
    adjust_period_ms: Knob[int] = _knob(ranges=NUMAB2_RANGES, name="adjust_period_ms")
    free_enough_pages: Knob[int | None] = _knob(ranges=NUMAB2_RANGES, name="free_enough_pages")


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class TppConfig(_Knobs):
    """The ``[tpp]`` table: the knobs of :class:`pghot.sim.alternatives.Tpp`.

    >>> TppConfig(demote_scale_factor=500, active_check=False).kwargs()
    {'demote_scale_factor': 500, 'active_check': False}
    >>> TppConfig(kswapd_interval_ms=0)
    Traceback (most recent call last):
    ...
    ValueError: kswapd_interval_ms must be in [1, 1099511627776], got 0
    """

    demote_scale_factor: Knob[int] = _knob(ranges=TPP_RANGES, name="demote_scale_factor")
    kswapd_interval_ms: Knob[int] = _knob(ranges=TPP_RANGES, name="kswapd_interval_ms")
    active_check: Knob[bool] = _knob()


#: ranges of :class:`pghot.sim.damon.Damon`'s knobs
DAMON_RANGES: dict[str, tuple[int, int | None]] = {
    "sample_us": (1, 10**12),
    "aggr_us": (1, 10**12),
    "apply_interval_us": (0, 10**12),
    "min_nr_regions": (3, 2**20),
    "max_nr_regions": (3, 2**20),
    "quota_reset_interval_ms": (1, MS_MAX),
    "quota_sz_bytes": (0, 2**62),
    "weight_nr_accesses": (0, 10000),
    "weight_age": (0, 10000),
    "hot_min_nr_accesses": (0, 2**31),
    "cold_max_nr_accesses": (0, 2**31),
    "cold_min_age": (0, 2**31),
    "hot_goal_bp": (1, 10000),
    "cold_goal_bp": (1, 10000),
    "seed": (0, 2**63 - 1),
}
#: the defaults of :class:`pghot.sim.damon.Damon` (samples/damon/mtier.c, v6.14; see its module)
DAMON_DEFAULTS: dict[str, Any] = {
    "sample_us": 5000,
    "aggr_us": 100_000,
    "apply_interval_us": 1_000_000,
    "min_nr_regions": 10,
    "max_nr_regions": 1000,
    "quota_reset_interval_ms": 1000,
    "quota_sz_bytes": 200 << 20,
    "weight_nr_accesses": 100,
    "weight_age": 100,
    "hot_min_nr_accesses": 1,
    "cold_max_nr_accesses": 0,
    "cold_min_age": 0,
    "young_filter": True,
    "quota_goals": True,
    "hot_goal_bp": 9970,
    "cold_goal_bp": 50,
    "seed": 0,
}


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class DamonConfig(_Knobs):
    """The ``[damon]`` table: the knobs of :class:`pghot.sim.damon.Damon` (defaults :data:`DAMON_DEFAULTS`).

    ``quota_goals = false`` turns the quota goals off (the quota is then
    ``quota_sz_bytes`` per ``quota_reset_interval_ms``; 0: no quota);
    ``apply_interval_us = 0`` applies the schemes at every aggregation (the
    kernel's meaning of 0).

    >>> DamonConfig(aggr_us=50_000, quota_goals=False).kwargs()
    {'aggr_us': 50000, 'quota_goals': False}
    >>> DamonConfig(min_nr_regions=1)
    Traceback (most recent call last):
    ...
    ValueError: min_nr_regions must be in [3, 1048576], got 1
    """

    sample_us: Knob[int] = _knob(ranges=DAMON_RANGES, name="sample_us")
    aggr_us: Knob[int] = _knob(ranges=DAMON_RANGES, name="aggr_us")
    apply_interval_us: Knob[int] = _knob(ranges=DAMON_RANGES, name="apply_interval_us")
    min_nr_regions: Knob[int] = _knob(ranges=DAMON_RANGES, name="min_nr_regions")
    max_nr_regions: Knob[int] = _knob(ranges=DAMON_RANGES, name="max_nr_regions")
    quota_reset_interval_ms: Knob[int] = _knob(ranges=DAMON_RANGES, name="quota_reset_interval_ms")
    quota_sz_bytes: Knob[int] = _knob(ranges=DAMON_RANGES, name="quota_sz_bytes")
    weight_nr_accesses: Knob[int] = _knob(ranges=DAMON_RANGES, name="weight_nr_accesses")
    weight_age: Knob[int] = _knob(ranges=DAMON_RANGES, name="weight_age")
    hot_min_nr_accesses: Knob[int] = _knob(ranges=DAMON_RANGES, name="hot_min_nr_accesses")
    cold_max_nr_accesses: Knob[int] = _knob(ranges=DAMON_RANGES, name="cold_max_nr_accesses")
    cold_min_age: Knob[int] = _knob(ranges=DAMON_RANGES, name="cold_min_age")
    young_filter: Knob[bool] = _knob()
    quota_goals: Knob[bool] = _knob()
    hot_goal_bp: Knob[int] = _knob(ranges=DAMON_RANGES, name="hot_goal_bp")
    cold_goal_bp: Knob[int] = _knob(ranges=DAMON_RANGES, name="cold_goal_bp")
    seed: Knob[int] = _knob(ranges=DAMON_RANGES, name="seed")

    def __post_init__(self) -> None:
        super().__post_init__()
        g = {**DAMON_DEFAULTS, **self.kwargs()}
        if g["max_nr_regions"] < g["min_nr_regions"]:
            raise ValueError(
                f"max_nr_regions ({g['max_nr_regions']}) must be at least "
                f"min_nr_regions ({g['min_nr_regions']})"
            )
        if g["sample_us"] > g["aggr_us"]:
            raise ValueError(f"sample_us ({g['sample_us']}) must be at most aggr_us ({g['aggr_us']})")


def _v8_mode(value: str, name: str) -> None:
    if value not in ("default", "precise"):
        raise ValueError(f"{name} must be 'default' or 'precise', got {value!r}")


#: ranges of :class:`pghot.sim.v8.PghotV8`'s knobs
V8_RANGES: dict[str, tuple[int, int | None]] = {
    "freq_threshold": (1, 7),
    "freq_window_ms": (1, MS_MAX),
    "kmigrated_sleep_ms": (1, 2**31),
    "kmigrated_batch_nr": (0, 2**31),
    "rate_limit_mbps": (0, 2**40),
    "scan_section_pages": (1, 2**30),
}


#: mode -> (PGHOT_FREQ_MAX, PGHOT_FREQ_WINDOW_MAX in ms at HZ=1000) of the posting's
#: include/linux/pghot.h: u8 2-bit frequency and 31 buckets of 128 jiffies; u32 3 bits, 14-bit time
V8_MODE_LIMITS: dict[str, tuple[int, int]] = {"default": (3, 31 << 7), "precise": (7, (1 << 14) - 1)}


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class PghotV8Config(_Knobs):
    """The ``[pghot_v8]`` table: the knobs of :class:`pghot.sim.v8.PghotV8`.

    The policy's docstring gives the defaults and their sources (the v8
    posting's tunables).

    >>> PghotV8Config(mode="precise", freq_threshold=3).kwargs()
    {'mode': 'precise', 'freq_threshold': 3}
    >>> PghotV8Config(mode="u16")
    Traceback (most recent call last):
    ...
    ValueError: mode must be 'default' or 'precise', got 'u16'
    """

    mode: Knob[str] = _knob(check=_v8_mode)
    freq_threshold: Knob[int] = _knob(ranges=V8_RANGES, name="freq_threshold")
    freq_window_ms: Knob[int | None] = _knob(ranges=V8_RANGES, name="freq_window_ms")
    kmigrated_sleep_ms: Knob[int] = _knob(ranges=V8_RANGES, name="kmigrated_sleep_ms")
    kmigrated_batch_nr: Knob[int] = _knob(ranges=V8_RANGES, name="kmigrated_batch_nr")
    batch_per_wake: Knob[bool] = _knob()
    rate_limit_mbps: Knob[int | None] = _knob(ranges=V8_RANGES, name="rate_limit_mbps", normalize=_no_limit)
    free_bypass: Knob[bool] = _knob()
    scan_section_pages: Knob[int] = _knob(ranges=V8_RANGES, name="scan_section_pages", check=_power_of_two)

    def __post_init__(self) -> None:
        _check_fields(self)
        mode = "default" if self.mode is UNSET else self.mode
        fmax, wmax = V8_MODE_LIMITS[mode]
        if self.freq_threshold is not UNSET and self.freq_threshold > fmax:
            raise ValueError(
                f"freq_threshold must be in [1, {fmax}] in the {mode} mode, got {self.freq_threshold}"
            )
        w = self.freq_window_ms
        if w is not UNSET and w is not None and w > wmax:
            raise ValueError(f"freq_window_ms must be in [1, {wmax}] in the {mode} mode, got {w}")


#: policy name -> its table of knobs in a config (``[numab2]``, ``[tpp]``)
POLICY_TABLES: dict[str, type[_Knobs]] = {
    "numab2": Numab2Config,
    "tpp": TppConfig,
    "pghot_v8": PghotV8Config,
    "damon": DamonConfig,
}


class _SourceKnobs(_Knobs):
    """A ``[[sources]]`` table: its ``name`` and the source's parameters (``hz`` is the config's)."""

    name: ClassVar[str]

    @classmethod
    def from_mapping(cls: type[_S], data: Mapping[str, Any]) -> _S:
        return super().from_mapping({k: v for k, v in data.items() if k != "name"})

    def __getitem__(self, key: str) -> Any:
        return self.name if key == "name" else super().__getitem__(key)

    def __iter__(self) -> Iterator[str]:
        yield "name"
        yield from self.kwargs()

    def __len__(self) -> int:
        return 1 + len(self.kwargs())


_S = TypeVar("_S", bound=_SourceKnobs)


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class HwHintsConfig(_SourceKnobs):
    """``name = "hw-hints"``: :class:`pghot.machine.sources.HwHints`.

    >>> dict(HwHintsConfig(sample_every=100))
    {'name': 'hw-hints', 'sample_every': 100}
    """

    name: ClassVar[str] = "hw-hints"
    sample_every: Knob[int] = _knob(ranges=HwHints.ARG_RANGES, name="sample_every")
    seed: Knob[int] = _knob(ranges=HwHints.ARG_RANGES, name="seed")
    random: Knob[bool] = _knob()


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class PgtableScanConfig(_SourceKnobs):
    """``name = "pgtable-scan"``: :class:`pghot.machine.sources.PgtableScan`.

    >>> PgtableScanConfig(interval_ms=500)
    PgtableScanConfig(name='pgtable-scan', interval_ms=500)
    """

    name: ClassVar[str] = "pgtable-scan"
    interval_ms: Knob[int] = _knob(ranges=PgtableScan.ARG_RANGES, name="interval_ms")


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class HintFaultConfig(_SourceKnobs):
    """``name = "hint-fault"``: :class:`pghot.machine.sources.HintFault`.

    >>> HintFaultConfig(scan_delay_ms=0).kwargs()
    {'scan_delay_ms': 0}
    """

    name: ClassVar[str] = "hint-fault"
    scan_period_ms: Knob[int] = _knob(ranges=HintFault.ARG_RANGES, name="scan_period_ms")
    scan_window_pages: Knob[int] = _knob(ranges=HintFault.ARG_RANGES, name="scan_window_pages")
    scan_delay_ms: Knob[int] = _knob(ranges=HintFault.ARG_RANGES, name="scan_delay_ms")


#: a ``[[sources]]`` table, told apart by its ``name``
SourceConfig = Union[HwHintsConfig, PgtableScanConfig, HintFaultConfig]  # noqa: UP007
#: source name -> its record
SOURCE_CONFIGS: dict[str, type[_SourceKnobs]] = {
    c.name: c for c in (HwHintsConfig, PgtableScanConfig, HintFaultConfig)
}
#: source name -> its parameters (besides ``hz``, which is the config's)
SOURCES: dict[str, tuple[str, ...]] = {n: c.known_keys() for n, c in SOURCE_CONFIGS.items()}
#: keys of the ``[tracker]`` table (keyword arguments of :class:`pghot.Tracker`)
TRACKER_KEYS = TrackerConfig.known_keys()
#: keys of the ``[promoter]`` table (keyword arguments of :class:`pghot.machine.promoter.Promoter`)
PROMOTER_KEYS = PromoterConfig.known_keys()


@dataclasses.dataclass(frozen=True)
class MemoryConfig:
    """Keyword arguments of :class:`pghot.machine.memory.TieredMemory` (from :attr:`SimConfig.memory`).

    >>> SimConfig(page_size=8192).memory
    MemoryConfig(page_size=8192, hz=1000, ping_pong_window_ms=5000, demotion=True)
    """

    page_size: int = _knob(4096, low=1, check=_power_of_two)
    hz: int = _knob(1000, low=1)
    ping_pong_window_ms: int = _knob(5000, low=0)
    demotion: bool = _knob(True)

    def __post_init__(self) -> None:
        _check_fields(self)

    def kwargs(self) -> dict[str, Any]:
        """The fields as keyword arguments."""
        return dataclasses.asdict(self)


def _source_config(value: Any, i: int) -> SourceConfig:
    """The record of ``sources[i]`` (a record already, or a table)."""
    if isinstance(value, _SourceKnobs):
        return value  # type: ignore[return-value]
    if not isinstance(value, Mapping):
        raise TypeError(f"config: sources[{i}] must be a table, not {type(value).__name__}")
    sname: Any = value.get("name")
    if not isinstance(sname, str) or sname not in SOURCE_CONFIGS:
        raise ValueError(f"config: sources[{i}].name must be one of {list(SOURCES)}, got {sname!r}")
    try:
        return SOURCE_CONFIGS[sname].from_mapping(value)  # type: ignore[return-value]
    except (TypeError, ValueError) as e:
        raise type(e)(f"config: sources[{i}] ({sname}): {e}") from None


def _table(value: Any, cls: type[_K], key: str) -> _K:
    if isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        raise TypeError(f"config: {key} must be a table, not {type(value).__name__}")
    try:
        return cls.from_mapping(value)
    except (TypeError, ValueError) as e:
        raise type(e)(f"config: {key}: {e}") from None


@dataclasses.dataclass(frozen=True)
class SimConfig:
    """What to simulate: the machine, the access costs, the sources and the knobs.

    A frozen record; the constructor takes the tables as records or as
    plain mappings (``tracker={"threshold": 3}``) and checks every field.

    Attributes
    ----------
    top_pages : int, optional
        Top-tier capacity in pages; default a quarter of the footprint (with
        ``topology``: its top-tier nodes' pages; a value given must equal it).
    lower_pages : int, optional
        Lower-tier capacity in pages; default twice the footprint (with
        ``topology``: its lower-tier nodes' pages; a value given must equal it).
    topology : str or table, optional
        The simulated machine's nodes instead of the two-tier machine of
        ``top_pages`` and ``lower_pages``: a path to a TOML topology table
        (or a ``.json`` one, such as this machine's
        ``json.dumps(pghot.Topology.from_sysfs().to_table())``; relative to
        the config file's directory in a config file), a
        :class:`pghot.Topology`, or the
        table inline (``[topology]`` with ``[[topology.nodes]]``), as
        :meth:`pghot.Topology.from_table` reads it (e.g.
        ``examples/topology-2s2cxl.toml``: two sockets with CPUs and two
        CPU-less CXL nodes).  Its ``page_size``, when given, must be the
        config's.  The trace's ``nid`` column (or its ``cpu`` column, mapped
        by the nodes' ``cpus``) is then each access's node: first touch
        allocates on it and the reports carry it, so pghot promotes to it;
        a trace without either is all from the ``default_node``.  See
        :meth:`SimConfig.sim_topology` for the PFN layout.
    page_size : int
        Bytes per page (power of two), default 4096.
    hz : int
        Jiffies per second of the simulated clock, default 1000.
    top_ns, lower_ns : float
        Cost of an access served by the top / lower tier, default 100 / 250.
    migration_ns : float, optional
        Cost of migrating one page (promotion or demotion), the same for
        every migration.  Default None: the published Linux costs of
        :mod:`pghot.machine.costs` for ``page_size``
        (:func:`pghot.machine.costs.page_migration_ns`): a promotion made in
        the fault path (``second-access``; the faulting thread pays, one
        ``migrate_misplaced_folio`` call per page) at the single-page cost,
        4847 ns for 4 KiB; a promotion made by a kernel thread's round
        (kpromoted) and every demotion (kswapd) at the batched cost, 1237 ns
        for 4 KiB.  :meth:`migration_costs_ns` gives the two; ``0`` makes
        migration free.
    oracle_search : {"auto", "on", "off"}
        Whether the ``oracle`` policy is the best of several intervals
        (:func:`pghot.sim.bounds.oracle_intervals`: the oracle interval, 4
        and 16 times it and the whole trace) or the oracle interval's alone.
        ``"auto"`` (the default) searches unless ``oracle_interval_ms`` is
        given; ``Result.config`` says which ran (``"on"`` or ``"off"``), so
        that a replay of it runs the same.
    kthread_share : float
        The share of the kernel threads' migration time (kpromoted,
        kmigrated, kdamond, kswapd) the estimated run time charges to the
        program, in ``[0, 1]``; default 1: all of it, as on a machine whose
        every CPU runs the program (the kernel thread takes its CPU time, and
        each move unmaps the page and shoots down its TLB entries).  ``0``:
        the kernel threads run on idle CPUs and cost the program nothing; the
        faulting thread's own promotions (``second-access``, ``numab2``) are
        always charged.  The migration time reported (``migration_time_ns``)
        is all of it whatever the share.  No published measurement gives
        the share: it is a knob for the sensitivity of a comparison to it.
    sources : list of SourceConfig
        Each from a table ``{"name": NAME, PARAM: VALUE, ...}`` with a name of
        :data:`SOURCES`; default ``[{"name": "hint-fault"}]``.
    tracker : TrackerConfig
        Keyword arguments of :class:`pghot.Tracker` (:data:`TRACKER_KEYS`).
    promoter : PromoterConfig
        Keyword arguments of :class:`pghot.machine.promoter.Promoter`
        (:data:`PROMOTER_KEYS`); ``rate_limit_mbps`` may be ``"none"`` or
        ``false`` for no limit (TOML has no null).
    numab2, tpp : Numab2Config, TppConfig
        The knobs of the ``numab2`` and ``tpp`` policies
        (:class:`pghot.sim.alternatives.Numab2`, :class:`pghot.sim.alternatives.Tpp`).
    pghot_v8 : PghotV8Config
        The knobs of the ``pghot-v8`` policy (:class:`pghot.sim.v8.PghotV8`).
    damon : DamonConfig
        The knobs of the ``damon`` policy (:class:`pghot.sim.damon.Damon`).
    interval_ms : int, optional
        Width of the metrics bins (time series).  Default: 1 s, narrowed on a
        trace shorter than 100 s to a 1, 2 or 5 times a power of ten number of
        jiffies that gives it at least 100 bins (the replay's notes say so).
    oracle_interval_ms : int, optional
        Width of the oracle's intervals (precision and recall); default None:
        :data:`ORACLE_INTERVAL_MS` (1000), scaled to a short trace
        (``scale_to_trace``).
    second_access_window_ms : int, optional
        Window of the ``second-access`` baseline; default the tracker's
        ``freq_window_ms`` (5000 unless configured).
    ping_pong_window_ms : int, optional
        A demotion this soon after the page's promotion is a ping-pong;
        default None: :data:`PING_PONG_WINDOW_MS` (5000), scaled to a short
        trace (``scale_to_trace``).
    demotion : bool
        Demote a CLOCK victim when a promotion finds the top tier full
        (default True; False makes such promotions fail).
    max_span_s : int
        Longest trace, first record to last, that :func:`replay` accepts, in
        seconds; default 604800 (7 days).  The simulated clock steps through
        the whole span (source scans, promoter rounds), so a trace with a
        wrong time stamp or unit, spanning years, is refused up front
        instead of running for days.
    llc_bytes : int, optional
        A last-level-cache filter between the trace and the memory
        (:class:`pghot.machine.cache.LastLevelCache`, set-associative LRU):
        only its misses reach the tiers, the sources and the oracle, and the
        summary and ``Result.trace["llc"]`` say how many accesses it
        absorbed.  Default None (``"auto"``): for a trace of every load and
        store (:data:`LLC_FORMATS`: valgrind lackey, or chunks that carry
        lackey's ``kind``), the L3 of one socket of an Intel Xeon Platinum
        8480+ (Sapphire Rapids): 105 MiB (110100480 bytes), 64-byte lines,
        15 ways (:data:`pghot.machine.cache.DEFAULT_LLC_BYTES`, from Intel's
        ark.intel.com product page: "105 MB" of cache, 1.875 MB per core),
        rounded down to a multiple of ``llc_line_bytes * llc_ways``; no
        filter for a trace that is already memory-level (perf, damo, CSV,
        .npy).  0 (``"off"``): no filter.  A size in bytes (a multiple of
        ``llc_line_bytes * llc_ways``): that filter, whatever the format.
    llc_line_bytes, llc_ways : int
        The filter's line size (default 64) and associativity (default 15).
    time_model : {"auto", "closed", "open"}
        How the simulated clock runs.  ``"open"``: the trace's time stamps
        as given (perf samples, damo snapshots, CSV and ``.npy`` with real
        times).  ``"closed"``: time advances with the work: an access is
        issued at its trace time (for lackey, its instructions times
        ``ns_per_instr``: the CPU's own work), plus ``cpu_ns`` per earlier
        access, plus the memory stall of every earlier access that reached
        memory (past the LLC filter), ``top_ns`` on the top tier and
        ``lower_ns`` on the lower tier.  The scans, the promoter rounds, the
        bins and the estimated run time then share one clock: the ``none``
        policy's run (first-touch placement, no migration), whose estimate
        is the trace's duration; ``est_time_ns`` adds the CPU time to every
        policy's memory and migration time.  One clock for every policy (a
        simplification: a policy that promotes would run ahead of it, its
        scans and rounds coming sooner, by at most ``lower_ns / top_ns``).
        Default ``"auto"``: closed for :data:`LLC_FORMATS` (lackey, whose
        time is instruction counts) and open for every other format.  The
        summary and ``Result.trace["time_model"]`` say which ran.
    cpu_ns : float
        The closed clock's CPU time per access besides the trace's own
        time, ``>= 0``; default 0 (lackey's instruction times are the CPU
        time).  For a trace without times (all one time stamp) in the
        closed model, the CPU time between two memory accesses.
    scale_to_trace : {"auto", "off"}
        The kernel's time knobs assume programs that run for minutes (a 1 s
        NUMA-balancing scan period, a 60 s threshold adjustment); a trace of
        a short program ends before the first scan.  ``"auto"`` (default):
        a trace shorter than 5 s has every time knob left at its default
        multiplied by one factor, its span over 20 s, so that it covers
        about 20 scan periods and keeps the defaults' ratios
        (:func:`pghot.sim.scaling.scale_to_trace`, which lists the knobs);
        the summary's ``scaled:`` line, ``Result.trace["scaled"]`` and
        ``Result.config`` give the values used.  ``"off"``: the defaults as
        they are.

    Examples
    --------
    >>> c = SimConfig(top_pages=1024, tracker={"threshold": 3})
    >>> c.validate().tracker == {"threshold": 3}, c.lower_ns
    (True, 250.0)
    >>> SimConfig.from_dict({"top_pages": "many"})
    Traceback (most recent call last):
    ...
    TypeError: config: top_pages must be an int, not str
    """

    top_pages: int | None = _knob(None, low=1)
    lower_pages: int | None = _knob(None, low=1)
    page_size: int = _knob(4096, low=1, check=_power_of_two)
    hz: int = _knob(1000, low=1)
    top_ns: float = _knob(100.0)
    lower_ns: float = _knob(250.0)
    migration_ns: float | None = _knob(None)
    sources: list[SourceConfig] = dataclasses.field(default_factory=lambda: [HintFaultConfig()])
    tracker: TrackerConfig = dataclasses.field(default_factory=TrackerConfig)
    promoter: PromoterConfig = dataclasses.field(default_factory=PromoterConfig)
    numab2: Numab2Config = dataclasses.field(default_factory=Numab2Config)
    tpp: TppConfig = dataclasses.field(default_factory=TppConfig)
    pghot_v8: PghotV8Config = dataclasses.field(default_factory=PghotV8Config)
    damon: DamonConfig = dataclasses.field(default_factory=DamonConfig)
    interval_ms: int | None = _knob(None, low=1)
    oracle_interval_ms: int | None = _knob(None, low=1)
    second_access_window_ms: int | None = _knob(None, low=0)
    ping_pong_window_ms: int | None = _knob(None, low=0)
    demotion: bool = _knob(True)
    max_span_s: int = _knob(7 * 86400, low=1)
    llc_bytes: int | None = _knob(None, low=0, normalize=_llc_size)
    llc_line_bytes: int = _knob(64, low=1, check=_power_of_two)
    llc_ways: int = _knob(15, low=1)
    time_model: str = _knob("auto", check=_time_model)
    cpu_ns: float = _knob(0.0)
    scale_to_trace: str = _knob("auto", check=_scale_mode)
    kthread_share: float = _knob(1.0, check=_at_most_one)
    oracle_search: str = _knob("auto", check=_oracle_search)
    topology: str | dict[str, Any] | None = None

    if TYPE_CHECKING:
        # the tables may be given as plain mappings; the fields hold records
        def __init__(
            self,
            top_pages: int | None = ...,
            lower_pages: int | None = ...,
            page_size: int = ...,
            hz: int = ...,
            top_ns: float = ...,
            lower_ns: float = ...,
            migration_ns: float | None = ...,
            sources: Sequence[Mapping[str, Any]] = ...,
            tracker: Mapping[str, Any] = ...,
            promoter: Mapping[str, Any] = ...,
            numab2: Mapping[str, Any] = ...,
            tpp: Mapping[str, Any] = ...,
            pghot_v8: Mapping[str, Any] = ...,
            damon: Mapping[str, Any] = ...,
            interval_ms: int | None = ...,
            oracle_interval_ms: int | None = ...,
            second_access_window_ms: int | None = ...,
            ping_pong_window_ms: int | None = ...,
            demotion: bool = ...,
            max_span_s: int = ...,
            llc_bytes: int | str | None = ...,
            llc_line_bytes: int = ...,
            llc_ways: int = ...,
            time_model: str = ...,
            cpu_ns: float = ...,
            scale_to_trace: str = ...,
            kthread_share: float = ...,
            oracle_search: str = ...,
            topology: str | os.PathLike[str] | Mapping[str, Any] | Topology | None = ...,
        ) -> None: ...

    def __post_init__(self) -> None:
        try:
            _check_fields(self, skip=("sources", "tracker", "promoter", "topology", *POLICY_TABLES))
        except (TypeError, ValueError) as e:
            raise type(e)(f"config: {e}") from None
        self._set_topology()
        object.__setattr__(self, "tracker", _table(self.tracker, TrackerConfig, "tracker"))
        object.__setattr__(self, "promoter", _table(self.promoter, PromoterConfig, "promoter"))
        for key, cls in POLICY_TABLES.items():
            object.__setattr__(self, key, _table(getattr(self, key), cls, key))
        srcs: Any = self.sources
        if isinstance(srcs, (str, Mapping)) or not isinstance(srcs, Sequence):
            raise TypeError(f"config: sources must be a list of tables, not {type(srcs).__name__}")
        if not srcs:
            raise ValueError("config: sources must be a non-empty list of tables")
        object.__setattr__(self, "sources", [_source_config(s, i) for i, s in enumerate(srcs)])

    def _set_topology(self) -> None:
        """Read and check ``topology``; keep the path (or the table) and the :class:`Topology`."""
        value: Any = self.topology
        topo: Topology | None = None
        table_page = None
        if value is None:
            pass
        elif isinstance(value, Topology):
            topo = value
            object.__setattr__(self, "topology", value.to_table(self.page_size))
        elif isinstance(value, (str, os.PathLike)):
            path = os.fspath(value)
            try:
                if path.endswith(".json"):  # e.g. json.dumps(Topology.from_sysfs().to_table())
                    with open(path, "rb") as f:
                        raw = f.read(_CONFIG_MAX_BYTES + 1)
                    try:
                        data = json.loads(raw) if len(raw) <= _CONFIG_MAX_BYTES else None
                    except ValueError as e:
                        raise ValueError(f"{path}: not valid JSON ({e})") from None
                    if data is None:
                        raise ValueError(f"{path}: larger than {_CONFIG_MAX_BYTES >> 20} MiB")
                    topo = Topology.from_table(data, source=path)
                    table_page = data.get("page_size") if isinstance(data, Mapping) else None
                else:
                    topo = Topology.from_toml(path)
                    import tomllib

                    with open(path, "rb") as f:
                        table_page = tomllib.load(f).get("page_size")
            except FileNotFoundError:
                raise ValueError(f"config: topology: {path}: no such file") from None
            except (TypeError, ValueError) as e:
                raise type(e)(f"config: topology: {e}") from None
            object.__setattr__(self, "topology", path)
        elif isinstance(value, Mapping):
            try:
                topo = Topology.from_table(value)
            except (TypeError, ValueError) as e:
                raise type(e)(f"config: topology: {e}") from None
            table_page = value.get("page_size")
            object.__setattr__(self, "topology", dict(value))
        else:
            raise TypeError(
                "config: topology must be a path to a TOML topology table or a table, "
                f"not {type(value).__name__}"
            )
        where = f" ({value})" if isinstance(value, (str, os.PathLike)) else ""
        if table_page is not None and table_page != self.page_size:
            raise ValueError(
                f"config: topology{where}: page_size {table_page} differs from the config's "
                f"page_size {self.page_size}"
            )
        if topo is not None:
            tops = [n for n in topo.nodes if n.toptier]
            if max(n.nid for n in topo.nodes) >= 2**15 - 1:
                raise ValueError(f"config: topology{where}: node ids must be below {2**15 - 1}")
            sizes = {
                "top_pages": sum(n.nr_pages for n in tops),
                "lower_pages": topo.lower_pages(),
            }
            for key, have in sizes.items():
                given = getattr(self, key)
                if given is not None and given != have:
                    raise ValueError(
                        f"config: {key}: {given} differs from the {have} pages of the topology{where}; "
                        f"the tier sizes come from the topology: leave {key} out"
                    )
            if sizes["top_pages"] == 0:
                raise ValueError(f"config: topology{where}: its top-tier nodes hold no pages")
        object.__setattr__(self, "_topo", topo)

    def sim_topology(self) -> Topology | None:
        """The configured topology as the replay lays it out (None: the two-tier machine).

        The nodes, their sizes, CPUs, tiers, promotion targets and default
        node are the table's; their PFNs are renumbered: the top-tier nodes
        by nid from PFN 0, then the lower-tier nodes by nid (the simulated
        PFNs are the simulator's own; this keeps the top tier at PFNs below
        ``top_pages``, as on the two-tier machine).

        >>> c = SimConfig(topology={"nodes": [{"id": 0, "pages": 8, "toptier": False},
        ...                                    {"id": 1, "pages": 4, "toptier": True, "cpus": "0"}]})
        >>> [(n.nid, n.start_pfn, n.nr_pages) for n in c.sim_topology().nodes]
        [(0, 4, 8), (1, 0, 4)]
        """
        topo: Topology | None = getattr(self, "_topo", None)
        if topo is None:
            return None
        nodes = sorted(topo.nodes, key=lambda n: (not n.toptier, n.nid))
        out, start = [], 0
        for n in nodes:
            out.append(dataclasses.replace(n, start_pfn=start if n.nr_pages else 0))
            start += n.nr_pages
        return Topology(out, default_node=topo.default_node)

    @property
    def oracle_ms(self) -> int:
        """``oracle_interval_ms``, its default resolved."""
        return ORACLE_INTERVAL_MS if self.oracle_interval_ms is None else self.oracle_interval_ms

    @property
    def ping_pong_ms(self) -> int:
        """``ping_pong_window_ms``, its default resolved."""
        return PING_PONG_WINDOW_MS if self.ping_pong_window_ms is None else self.ping_pong_window_ms

    @property
    def memory(self) -> MemoryConfig:
        """What the simulated memory of every policy is built with."""
        return MemoryConfig(
            page_size=self.page_size,
            hz=self.hz,
            ping_pong_window_ms=self.ping_pong_ms,
            demotion=self.demotion,
        )

    def migration_costs_ns(self) -> tuple[float, float]:
        """Nanoseconds per migrated page: ``(batched, single)``.

        ``batched`` is charged for the pages a kernel thread migrates in a
        list (kpromoted's rounds, kswapd's demotions), ``single`` for a
        promotion in the fault path (one page per call, paid by the
        faulting thread).  Both are ``migration_ns`` when it is set, else
        :func:`pghot.machine.costs.page_migration_ns` of ``page_size``.

        >>> SimConfig().migration_costs_ns()
        (1237.0, 4847.0)
        >>> SimConfig(page_size=2 << 20).migration_costs_ns()
        (190304.0, 190304.0)
        >>> SimConfig(migration_ns=500).migration_costs_ns()
        (500.0, 500.0)
        """
        if self.migration_ns is not None:
            return float(self.migration_ns), float(self.migration_ns)
        return (
            page_migration_ns(self.page_size, batched=True),
            page_migration_ns(self.page_size, batched=False),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SimConfig:
        """A validated config from a mapping (a parsed TOML or JSON document).

        Raises
        ------
        TypeError, ValueError
            An unknown key or a bad value; the message names the key.

        Examples
        --------
        >>> SimConfig.from_dict({"top_pages": 64, "promoter": {"batch": 8}}).promoter
        PromoterConfig(batch=8)
        >>> SimConfig.from_dict({"top_page": 64})
        Traceback (most recent call last):
        ...
        ValueError: config: unknown key 'top_page' (known: top_pages, lower_pages, ...)
        """
        if not isinstance(data, Mapping):
            raise TypeError(f"config must be a table, not {type(data).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        for key in data:
            if key not in names:
                raise ValueError(f"config: unknown key {key!r} (known: {', '.join(names)})")
        return cls(**data).validate()

    def validate(self) -> SimConfig:
        """Build the tracker, promoter and sources once on a small machine; return ``self``.

        Every field was checked on construction; what only the components
        know (the tracker's ranges, a rule across knobs) fails here, before
        a long trace is read.

        Raises
        ------
        TypeError, ValueError
            The message names the key (``config: tracker: threshold ...``).

        Examples
        --------
        >>> SimConfig(promoter={"threshold_adjust": True, "rate_limit_mbps": None}).validate()
        Traceback (most recent call last):
        ...
        ValueError: config: promoter: threshold_adjust: needs a rate limit (rate_limit_mbps is None)
        """
        cap: Any = self.tracker.get("capacity")
        cap_pages = int(cap) if isinstance(cap, int) and cap > 0 else 0
        lower = max(4096, 2 * cap_pages)  # not the configured machine: it may be huge
        topo = Topology.two_tier(1024, lower)
        _build_sources(self)
        _build_pghot(self, topo, self.tracker, self.promoter, lower)
        mine = self.sim_topology()
        if mine is not None:  # its node ids, tiers and targets, at a small size (nid_bits, ...)
            nodes, start = [], 0
            for n in mine.nodes:
                size = 1024 if n.toptier else lower
                nodes.append(dataclasses.replace(n, start_pfn=start, nr_pages=size))
                start += size
            small = Topology(nodes, default_node=mine.default_node)
            _build_pghot(self, small, self.tracker, self.promoter, lower)
        self._check_llc(LLC_FORMATS[0])  # the filter a lackey trace gets (the default one, or llc_bytes)
        return self

    def closed_loop(self, trace_format: str | None = None) -> bool:
        """Whether a trace of ``trace_format`` runs on the closed clock (see ``time_model``).

        >>> SimConfig().closed_loop("lackey"), SimConfig().closed_loop("perf")
        (True, False)
        >>> closed, opened = SimConfig(time_model="closed"), SimConfig(time_model="open")
        >>> closed.closed_loop("perf"), opened.closed_loop("lackey")
        (True, False)
        """
        if self.time_model == "auto":
            return trace_format in LLC_FORMATS
        return self.time_model == "closed"

    def llc_size(self, trace_format: str | None = None) -> int:
        """Bytes of the last-level-cache filter for a trace of ``trace_format``; 0: none.

        ``llc_bytes`` None (auto): the default LLC for :data:`LLC_FORMATS`,
        rounded down to a multiple of ``llc_line_bytes * llc_ways``, and 0
        for other formats; otherwise ``llc_bytes``.

        >>> SimConfig().llc_size("lackey"), SimConfig().llc_size("perf")
        (110100480, 0)
        >>> SimConfig(llc_ways=11).llc_size("lackey"), SimConfig(llc_bytes=0).llc_size("lackey")
        (110099968, 0)
        """
        if self.llc_bytes is not None:
            return self.llc_bytes
        if trace_format not in LLC_FORMATS:
            return 0
        from pghot.machine.cache import DEFAULT_LLC_BYTES

        unit = self.llc_line_bytes * self.llc_ways
        return max(unit, DEFAULT_LLC_BYTES // unit * unit)

    def llc(self, trace_format: str | None = None) -> Any:
        """The last-level-cache filter for a trace of ``trace_format`` (None: no filter).

        See ``llc_bytes``; errors name the key.

        >>> SimConfig(llc_bytes=64 * 15 * 4).llc().sets
        4
        >>> SimConfig().llc("lackey").size_bytes, SimConfig().llc("perf")
        (110100480, None)
        >>> SimConfig(llc_bytes=1000).llc()
        Traceback (most recent call last):
        ...
        ValueError: config: llc_bytes: size_bytes must be a multiple of line_bytes * ways = 960, got 1000
        """
        size = self._check_llc(trace_format)
        if size == 0:
            return None
        from pghot.machine.cache import LastLevelCache

        return LastLevelCache(size, self.llc_line_bytes, self.llc_ways)

    def _check_llc(self, trace_format: str | None) -> int:
        """The filter's size for ``trace_format`` (0: none), its geometry checked, nothing allocated."""
        size = self.llc_size(trace_format)
        if size:
            from pghot._cache import check_geometry

            try:
                check_geometry(size, self.llc_line_bytes, self.llc_ways)
            except (TypeError, ValueError) as e:
                raise type(e)(f"config: llc_bytes: {e}") from None
        return size

    def to_dict(self) -> dict[str, Any]:
        """The config as a plain dict (JSON- and TOML-friendly): the knobs given.

        >>> SimConfig(top_pages=8, tracker={"threshold": 3}).to_dict()["tracker"]
        {'threshold': 3}
        >>> SimConfig(top_pages=8).to_dict()["sources"]
        [{'name': 'hint-fault'}]
        """
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "sources":
                value = [dict(s) for s in value]
            elif isinstance(value, _Knobs):
                value = dict(value)
            out[f.name] = value
        return out

    def with_overrides(self, overrides: Mapping[str, Any]) -> SimConfig:
        """A validated copy with dotted keys replaced (``"tracker.threshold": 3``).

        ``"sources"`` takes a list of source tables or of :func:`parse_source`
        strings.

        Examples
        --------
        >>> c = SimConfig().with_overrides({"tracker.threshold": 3, "top_pages": 16})
        >>> c.tracker, c.top_pages
        (TrackerConfig(threshold=3), 16)
        >>> SimConfig().with_overrides({"promoter.nap_ms": 3})
        Traceback (most recent call last):
        ...
        ValueError: config: promoter: unknown key 'nap_ms' (known: interval_ms, batch, ...)
        """
        data = self.to_dict()
        for key, value in overrides.items():
            head, _, rest = key.partition(".")
            if rest:
                if head not in ("tracker", "promoter", *POLICY_TABLES):
                    tables = ", ".join(f"{t}.*" for t in ("tracker", "promoter", *POLICY_TABLES))
                    raise ValueError(f"config: {key!r}: only {tables} have sub-keys")
                data[head][rest] = value
            elif head == "sources":
                items = [value] if isinstance(value, str) else list(value)
                data["sources"] = [parse_source(s) if isinstance(s, str) else s for s in items]
            else:
                data[head] = value
        return SimConfig.from_dict(data)


def load_config(path: str | os.PathLike[str]) -> SimConfig:
    """Read a :class:`SimConfig` from a TOML file (or JSON, by its ``.json`` name).

    TOML needs Python 3.11+ (:mod:`tomllib`); on 3.10 use a JSON file with the
    same structure.

    Raises
    ------
    FileNotFoundError
    ValueError, TypeError
        Unparsable file, unknown key or bad value (the message names it).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.toml"
    >>> _ = p.write_text('top_pages = 512\\n[tracker]\\nthreshold = 3\\n'
    ...                  '[[sources]]\\nname = "hw-hints"\\nsample_every = 100\\n')
    >>> c = load_config(p); c.top_pages, c.tracker, c.sources
    (512, TrackerConfig(threshold=3), [HwHintsConfig(name='hw-hints', sample_every=100)])
    """
    p = os.fspath(path)
    with open(p, "rb") as f:
        raw = f.read(_CONFIG_MAX_BYTES + 1)  # bounded: /dev/zero is not a config
    if len(raw) > _CONFIG_MAX_BYTES:
        raise ValueError(f"{p}: larger than {_CONFIG_MAX_BYTES >> 20} MiB, not a config file")
    if p.endswith(".json"):
        try:
            data = json.loads(raw)
        except ValueError as e:
            raise ValueError(f"{p}: not valid JSON ({e})") from None
    else:
        try:
            import tomllib
        except ImportError:  # pragma: no cover - Python 3.10
            raise RuntimeError(
                f"{p}: reading TOML needs Python 3.11+ (tomllib); give the same settings as a .json file"
            ) from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{p}: not valid TOML ({e})") from None
    topo = data.get("topology") if isinstance(data, Mapping) else None
    if isinstance(topo, str) and not os.path.isabs(topo):  # relative to the config file
        data = {**data, "topology": os.path.join(os.path.dirname(p), topo)}
    try:
        return SimConfig.from_dict(data)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{p}: {e}") from None


def parse_assignment(text: str) -> tuple[str, Any]:
    """``"KEY=VALUE"`` as ``(KEY, value)``; the value as int, float, bool, none or str.

    >>> parse_assignment("tracker.threshold=3"), parse_assignment("promoter.stale_check=true")
    (('tracker.threshold', 3), ('promoter.stale_check', True))
    >>> parse_assignment("promoter.rate_limit_mbps=none")
    ('promoter.rate_limit_mbps', None)
    """
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), _parse_value(value.strip())


def _parse_value(v: str) -> Any:
    low = v.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for conv in (int, float):
        try:
            return conv(v)
        except ValueError:
            pass
    return v


def parse_source(text: str) -> dict[str, Any]:
    """A source table from ``"NAME"`` or ``"NAME:KEY=VALUE,KEY=VALUE"``.

    >>> parse_source("hw-hints:sample_every=100,seed=1")
    {'name': 'hw-hints', 'sample_every': 100, 'seed': 1}
    >>> parse_source("hint-fault")
    {'name': 'hint-fault'}
    """
    name, _, params = text.partition(":")
    out: dict[str, Any] = {"name": name.strip()}
    if params.strip():
        for item in params.split(","):
            k, v = parse_assignment(item)
            out[k] = v
    return out


def _build_sources(config: SimConfig) -> Any:
    made: list[Any] = []
    for i, s in enumerate(config.sources):
        try:
            if isinstance(s, HwHintsConfig):
                made.append(HwHints(hz=config.hz, **s.kwargs()))
            elif isinstance(s, PgtableScanConfig):
                made.append(PgtableScan(hz=config.hz, origin_jiffies=0, **s.kwargs()))
            else:
                made.append(HintFault(hz=config.hz, origin_jiffies=0, **s.kwargs()))
        except (TypeError, ValueError) as e:
            raise type(e)(f"config: sources[{i}] ({s.name}): {e}") from None
    return combine(*made)


def _build_stages(config: SimConfig, npages: int, nid: int = 0) -> Any:
    """The compiled sources of :func:`_build_sources` for dense pages below ``npages`` (one stage).

    ``nid``: the accessing node of their reports (the machine's default node).
    """
    from pghot import _stages

    made: list[Any] = []
    for i, s in enumerate(config.sources):
        try:
            if isinstance(s, HwHintsConfig):
                made.append(_stages.HwHintsStage(npages, hz=config.hz, **s.kwargs()))
            elif isinstance(s, PgtableScanConfig):
                made.append(_stages.PgtableScanStage(npages, hz=config.hz, origin_jiffies=0, **s.kwargs()))
            else:
                made.append(_stages.HintFaultStage(npages, hz=config.hz, origin_jiffies=0, **s.kwargs()))
        except (TypeError, ValueError) as e:
            raise type(e)(f"config: sources[{i}] ({s.name}): {e}") from None
    return _stages.CombinedStage(*made, nid=nid)


def _build_pghot(
    config: SimConfig,
    topo: Topology,
    tracker_kw: Mapping[str, Any],
    promoter_kw: Mapping[str, Any],
    logical_pages: int,
    memory_cls: Any = TieredMemory,
) -> tuple[Any, Any, Promoter]:
    """The tracker, its memory (a ``memory_cls``) and its promoter on ``topo``; errors name the table."""
    try:
        tracker = Tracker(topo, hz=config.hz, **tracker_kw)
    except (TypeError, ValueError) as e:
        raise type(e)(f"config: tracker: {e}") from None
    mem = memory_cls(topo, tracker, logical_pages=logical_pages, **config.memory.kwargs())
    try:
        promoter = Promoter(tracker, mem, **promoter_kw)
    except (TypeError, ValueError) as e:
        raise type(e)(f"config: promoter: {e}") from None
    return tracker, mem, promoter
