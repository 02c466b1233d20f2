"""What to simulate: :class:`SimConfig`, read from TOML/JSON or ``KEY=VALUE`` strings.

A config names the machine (tier sizes, page size, clock), the access
costs, the temperature sources and the tracker's and promoter's knobs;
:meth:`SimConfig.validate` builds the tracker, promoter and sources once on
a small machine so that a bad knob fails before a long trace is read.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pghot.machine.memory import MigrateStatus, TieredMemory
from pghot.machine.promoter import Promoter
from pghot.machine.sources import HintFault, HwHints, PgtableScan, combine
from pghot.topology import Topology
from pghot.tracker import Tracker

__all__ = ["PROMOTER_KEYS", "SOURCES", "TRACKER_KEYS", "SimConfig", "load_config",
           "parse_assignment", "parse_source"]

#: source name -> its parameters (besides ``hz``, which is the config's)
SOURCES: dict[str, tuple[str, ...]] = {
    "hw-hints": ("sample_every", "seed", "random"),
    "pgtable-scan": ("interval_ms",),
    "hint-fault": ("scan_period_ms", "scan_window_pages", "scan_delay_ms"),
}

#: keys of the ``[tracker]`` table (keyword arguments of :class:`pghot.Tracker`)
TRACKER_KEYS = (
    "store", "queue", "mode", "freq_window_ms", "threshold", "freq_bits", "nid_bits",
    "time_bits", "capacity", "queue_capacity", "evict_stale", "scan_section_pages",
)
#: keys of the ``[promoter]`` table (keyword arguments of :class:`pghot.machine.promoter.Promoter`)
PROMOTER_KEYS = (
    "interval_ms", "batch", "rate_limit_mbps", "threshold_adjust", "adjust_period_ms",
    "free_bypass", "bypass_free_pages", "stale_check",
)

_INT_FIELDS = ("page_size", "hz", "interval_ms", "oracle_interval_ms", "ping_pong_window_ms",
               "max_span_s")
_OPT_INT_FIELDS = ("top_pages", "lower_pages", "second_access_window_ms")
_NUM_FIELDS = ("top_ns", "lower_ns", "migration_ns")
_CONFIG_MAX_BYTES = 1 << 20       # a configuration file is read whole, up to this


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


@dataclasses.dataclass
class SimConfig:
    """What to simulate: the machine, the access costs, the sources and the knobs.

    Attributes
    ----------
    top_pages : int, optional
        Top-tier capacity in pages; default a quarter of the footprint.
    lower_pages : int, optional
        Lower-tier capacity in pages; default twice the footprint.
    page_size : int
        Bytes per page (power of two), default 4096.
    hz : int
        Jiffies per second of the simulated clock, default 1000.
    top_ns, lower_ns : float
        Cost of an access served by the top / lower tier, default 100 / 250.
    migration_ns : float
        Cost of migrating one page (promotion or demotion), default 0.
    sources : list of dict
        Each ``{"name": NAME, PARAM: VALUE, ...}`` with a name of
        :data:`SOURCES`; default ``[{"name": "hint-fault"}]``.
    tracker : dict
        Keyword arguments of :class:`pghot.Tracker` (:data:`TRACKER_KEYS`).
    promoter : dict
        Keyword arguments of :class:`pghot.machine.promoter.Promoter`
        (:data:`PROMOTER_KEYS`); ``rate_limit_mbps`` may be ``"none"`` or
        ``false`` for no limit (TOML has no null).
    interval_ms : int
        Width of the metrics bins (time series), default 1000.
    oracle_interval_ms : int
        Width of the oracle's intervals (precision and recall), default 1000.
    second_access_window_ms : int, optional
        Window of the ``second-access`` baseline; default the tracker's
        ``freq_window_ms`` (5000 unless configured).
    ping_pong_window_ms : int
        A demotion this soon after the page's promotion is a ping-pong,
        default 5000.
    demotion : bool
        Demote a CLOCK victim when a promotion finds the top tier full
        (default True; False makes such promotions fail).
    max_span_s : int
        Longest trace, first record to last, that :func:`replay` accepts, in
        seconds; default 604800 (7 days).  The simulated clock steps through
        the whole span (source scans, promoter rounds), so a trace with a
        wrong time stamp or unit, spanning years, is refused up front
        instead of running for days.

    Examples
    --------
    >>> c = SimConfig(top_pages=1024, tracker={"threshold": 3})
    >>> c.validate().tracker, c.lower_ns
    ({'threshold': 3}, 250.0)
    >>> SimConfig.from_dict({"top_pages": "many"})
    Traceback (most recent call last):
    ...
    TypeError: config: top_pages must be an int, not str
    """

    top_pages: int | None = None
    lower_pages: int | None = None
    page_size: int = 4096
    hz: int = 1000
    top_ns: float = 100.0
    lower_ns: float = 250.0
    migration_ns: float = 0.0
    sources: list[dict[str, Any]] = dataclasses.field(
        default_factory=lambda: [{"name": "hint-fault"}]
    )
    tracker: dict[str, Any] = dataclasses.field(default_factory=dict)
    promoter: dict[str, Any] = dataclasses.field(default_factory=dict)
    interval_ms: int = 1000
    oracle_interval_ms: int = 1000
    second_access_window_ms: int | None = None
    ping_pong_window_ms: int = 5000
    demotion: bool = True
    max_span_s: int = 7 * 86400

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
        {'batch': 8}
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
        kw: dict[str, Any] = {}
        for key, value in data.items():
            if key in ("tracker", "promoter"):
                if not isinstance(value, Mapping):
                    raise TypeError(f"config: {key} must be a table, not {type(value).__name__}")
                value = dict(value)
            elif key == "sources":
                if isinstance(value, (str, Mapping)) or not isinstance(value, Sequence):
                    raise TypeError(
                        f"config: sources must be a list of tables, not {type(value).__name__}"
                    )
                value = [dict(s) if isinstance(s, Mapping) else s for s in value]
            kw[key] = value
        return cls(**kw).validate()

    def validate(self) -> SimConfig:
        """Check every field; return ``self``.

        Types and ranges of the scalar fields are checked here, and the
        tracker, promoter and sources are built once on a small machine, so
        a bad knob fails before a long trace is read.

        Raises
        ------
        TypeError, ValueError
            The message names the key (``config: tracker: threshold ...``).

        Examples
        --------
        >>> SimConfig(promoter={"batch": -1}).validate()
        Traceback (most recent call last):
        ...
        ValueError: config: promoter: batch must be in [0, 2147483648], got -1
        """
        for name in _INT_FIELDS + _OPT_INT_FIELDS:
            v = getattr(self, name)
            if v is None and name in _OPT_INT_FIELDS:
                continue
            if not _is_int(v):
                raise TypeError(f"config: {name} must be an int, not {type(v).__name__}")
            low = 0 if name == "second_access_window_ms" or name == "ping_pong_window_ms" else 1
            if v < low:
                raise ValueError(f"config: {name} must be >= {low}, got {v}")
            setattr(self, name, int(v))
        if self.page_size & (self.page_size - 1):
            raise ValueError(f"config: page_size must be a power of two, got {self.page_size}")
        for name in _NUM_FIELDS:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise TypeError(f"config: {name} must be a number, not {type(v).__name__}")
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"config: {name} must be a finite number >= 0, got {v}")
            setattr(self, name, float(v))
        if not isinstance(self.demotion, bool):
            raise TypeError(f"config: demotion must be a bool, not {type(self.demotion).__name__}")
        for table, keys in (("tracker", TRACKER_KEYS), ("promoter", PROMOTER_KEYS)):
            value = getattr(self, table)
            if not isinstance(value, dict):
                raise TypeError(f"config: {table} must be a table, not {type(value).__name__}")
            for k in value:
                if k not in keys:
                    raise ValueError(
                        f"config: {table}: unknown key {k!r} (known: {', '.join(keys)})"
                    )
        rate = self.promoter.get("rate_limit_mbps", 0)
        if rate is False or (isinstance(rate, str) and rate.lower() in ("none", "off")):
            self.promoter["rate_limit_mbps"] = None
        if not isinstance(self.sources, list) or not self.sources:
            raise ValueError("config: sources must be a non-empty list of tables")
        for i, s in enumerate(self.sources):
            if not isinstance(s, dict):
                raise TypeError(f"config: sources[{i}] must be a table, not {type(s).__name__}")
            sname: Any = s.get("name")
            if not isinstance(sname, str) or sname not in SOURCES:
                raise ValueError(
                    f"config: sources[{i}].name must be one of {list(SOURCES)}, got {sname!r}"
                )
            for k in s:
                if k != "name" and k not in SOURCES[sname]:
                    raise ValueError(
                        f"config: sources[{i}] ({sname}): unknown key {k!r} "
                        f"(known: {', '.join(SOURCES[sname])})"
                    )
        # build everything once on a small machine: bad knobs fail now
        cap: Any = self.tracker.get("capacity")
        cap_pages = int(cap) if _is_int(cap) and cap > 0 else 0
        lower = max(4096, 2 * cap_pages)  # not the configured machine: it may be huge
        topo = Topology.two_tier(1024, lower)
        _build_sources(self)
        _build_pghot(self, topo, self.tracker, self.promoter, lower)
        return self

    def to_dict(self) -> dict[str, Any]:
        """The config as a plain dict (JSON- and TOML-friendly).

        >>> SimConfig(top_pages=8).to_dict()["sources"]
        [{'name': 'hint-fault'}]
        """
        return dataclasses.asdict(self)

    def with_overrides(self, overrides: Mapping[str, Any]) -> SimConfig:
        """A validated copy with dotted keys replaced (``"tracker.threshold": 3``).

        ``"sources"`` takes a list of source tables or of :func:`parse_source`
        strings.

        Examples
        --------
        >>> c = SimConfig().with_overrides({"tracker.threshold": 3, "top_pages": 16})
        >>> c.tracker, c.top_pages
        ({'threshold': 3}, 16)
        >>> SimConfig().with_overrides({"promoter.nap_ms": 3})
        Traceback (most recent call last):
        ...
        ValueError: config: promoter: unknown key 'nap_ms' (known: interval_ms, batch, ...)
        """
        data = self.to_dict()
        for key, value in overrides.items():
            head, _, rest = key.partition(".")
            if rest:
                if head not in ("tracker", "promoter"):
                    raise ValueError(f"config: {key!r}: only tracker.* and promoter.* have sub-keys")
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
    (512, {'threshold': 3}, [{'name': 'hw-hints', 'sample_every': 100}])
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
                f"{p}: reading TOML needs Python 3.11+ (tomllib); give the same settings "
                "as a .json file"
            ) from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{p}: not valid TOML ({e})") from None
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
        params = {k: v for k, v in s.items() if k != "name"}
        try:
            if s["name"] == "hw-hints":
                made.append(HwHints(hz=config.hz, **params))
            elif s["name"] == "pgtable-scan":
                made.append(PgtableScan(hz=config.hz, origin_jiffies=0, **params))
            else:
                made.append(HintFault(hz=config.hz, origin_jiffies=0, **params))
        except (TypeError, ValueError) as e:
            raise type(e)(f"config: sources[{i}] ({s['name']}): {e}") from None
    return combine(*made)


def _build_pghot(
    config: SimConfig, topo: Topology, tracker_kw: Mapping[str, Any],
    promoter_kw: Mapping[str, Any], logical_pages: int, on_promote: Any = None,
) -> tuple[Any, _SimMemory, Promoter]:
    try:
        tracker = Tracker(topo, hz=config.hz, **tracker_kw)
    except (TypeError, ValueError) as e:
        raise type(e)(f"config: tracker: {e}") from None
    mem = _SimMemory(
        topo, tracker, page_size=config.page_size, hz=config.hz,
        ping_pong_window_ms=config.ping_pong_window_ms, demotion=config.demotion,
        logical_pages=logical_pages, on_promote=on_promote,
    )
    try:
        promoter = Promoter(tracker, mem, **promoter_kw)
    except (TypeError, ValueError) as e:
        raise type(e)(f"config: promoter: {e}") from None
    return tracker, mem, promoter


def _round_up_125(n: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten that is >= ``n`` (n >= 1).

    >>> [_round_up_125(n) for n in (1, 2, 3, 26, 1000, 1001)]
    [1, 2, 5, 50, 1000, 2000]
    """
    p = 1
    while True:
        for m in (1, 2, 5):
            if m * p >= n:
                return m * p
        p *= 10


def _jiffies(ms: int, hz: int) -> int:
    return max(1, -(-ms * hz // 1000))



class _SimMemory(TieredMemory):
    """TieredMemory that reports each promoted page and translates pages in bulk."""

    def __init__(self, *args: Any, on_promote: Any = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._on_promote = on_promote

    def pfns_of(self, pages: np.ndarray) -> np.ndarray:
        """PFNs of placed logical pages (int64), one lookup for the batch."""
        # TieredMemory has no vectorised pfn_of; its placement array is read
        # under its lock (a subclass in the same package).
        with self._lock:
            return self._pfn_of[pages]

    def migrate(self, pfn: Any, target_nid: Any, now: Any) -> bool:
        page = self.page_at(pfn)
        ok = super().migrate(pfn, target_nid, now)
        if ok and self._on_promote is not None:
            self._on_promote(np.array([page], dtype=np.int64), int(now))
        return ok

    def migrate_batch(self, pfns: Any, target_nid: Any, now: Any) -> np.ndarray:
        pages = np.array([self.page_at(int(p)) for p in np.asarray(pfns).tolist()], dtype=np.int64)
        res = super().migrate_batch(pfns, target_nid, now)
        ok = res == int(MigrateStatus.OK)
        if ok.any() and self._on_promote is not None:
            self._on_promote(pages[ok], int(now))
        return res

