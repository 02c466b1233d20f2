"""Replay a memory-access trace through pghot and its alternatives.

"Given this workload's accesses, what would pghot, with these knobs, have
promoted, and how much would it have helped compared with the
alternatives?"  :func:`replay` answers it in one pass over the trace: every
policy sees the same accesses, each on its own simulated machine.

Model
-----
- **Logical pages**: a trace's virtual pages (``vaddr >> page_shift``), or
  its PFNs for a physical-only trace (perf ``phys_addr``), numbered densely
  ``0 .. footprint - 1`` in first-touch order.
- **Time**: trace time converted to jiffies of ``hz`` per second (default
  1000: a jiffy is a millisecond), from the first record's time (jiffy 0).
  A record older than an earlier one is taken to happen at the latest time
  seen.
- **Machine**: :meth:`pghot.Topology.two_tier` with a top tier of
  ``top_pages`` (default a quarter of the footprint) and a lower tier of
  ``lower_pages`` (default twice the footprint: the whole working set fits
  with as much again free, so demotion always finds room and the tracker's
  default table, half the lower tier, can hold every page).  Each policy
  places the pages in its own :class:`pghot.machine.memory.TieredMemory`:
  first touch fills the top tier, then the lower tier; a promotion into a
  full top tier demotes the CLOCK victim.
- **Sources**: the configured temperature sources (default
  :class:`pghot.machine.sources.HintFault`, NUMA balancing) are fed the logical
  access stream once; their reports go to every policy, each translating the
  reported pages to the PFNs they occupy *in that policy's memory* at report
  time, so a report follows its page across migrations.  The accessing CPU
  is on the top-tier node (reports carry nid 0).
- **Policies** (all driven in simulated time, deterministically):

  ``pghot``
      the configured :class:`pghot.Tracker` and
      :class:`pghot.machine.promoter.Promoter` (``[tracker]`` and ``[promoter]``
      knobs); the promoter runs a round every ``promoter.interval_ms``, after
      the accesses before that time;
  ``none``
      no promotion: first-touch placement only;
  ``v2``
      pghot with every tracker and promoter knob at its default (v2);
  ``second-access``
      no tracker: a lower-tier page is promoted at its second *reported*
      access within ``second_access_window_ms`` (default the tracker's
      ``freq_window_ms``), immediately, without batch or rate limit (what
      LRU-based promotion does: a page referenced again while on the
      inactive list is activated).  It sees the same reports as pghot, so
      the comparison is between policies, not between sources.  A promotion
      decided at jiffy ``t`` serves the page from the top tier for the
      accesses after jiffy ``t``;
  any name of :data:`pghot.bench.designs.DESIGNS`
      pghot with the configured knobs and that design's record store.

Metrics (per policy; see :class:`PolicyResult`)
------------------------------------------------
``top_tier_hits`` / ``hit_ratio``
    accesses served by a page on the top tier at the time of the access
    (also per ``interval_ms`` bin: ``hit_ratio_series``; on a trace longer
    than :data:`MAX_BINS` such bins the bins are widened to a whole multiple
    of ``interval_ms`` so that there are at most :data:`MAX_BINS` of them,
    and :attr:`Result.notes` says so).
``promotions``, ``demotions``, ``ping_pong``
    :meth:`TieredMemory.stats` ``pgpromote_success``, ``pgdemote_kswapd``
    and ``ping_pong`` (a page demoted within ``ping_pong_window_ms`` of its
    promotion).
oracle
    the trace is cut into intervals of ``oracle_interval_ms``; the oracle's
    *hot set* of an interval is the ``top_pages`` pages with the most
    accesses in it, ties with the ``top_pages``-th count included (every
    page accessed in it, when fewer).  An interval without accesses has an
    empty hot set.
``precision``
    share of the promotions whose page is in the hot set of the interval in
    which the promotion happened (a promotion at the boundary time ``T``
    belongs to the interval that starts at ``T``): were the pages promoted
    the ones the top tier should hold?  None without promotions.
``recall``
    over the intervals with accesses, the hot-set pages that are on the top
    tier at the interval's end (before any promoter round at that time),
    divided by the hot-set sizes, summed over the intervals (a
    micro-average): how much of what the top tier should hold did it hold?
    ``recall_series`` gives it per interval.
``est_time_ns``
    ``top_ns`` per top-tier hit, ``lower_ns`` per other access, plus
    ``migration_ns`` (default 0) per page migrated (promotions and
    demotions).  ``time_vs_all_top`` divides it by ``accesses * top_ns``
    (every page on the top tier: the lower bound), ``time_vs_none`` by the
    ``none`` policy's estimate.
``tracker_memory_bytes``
    ``tracker.memory_bytes()`` at the end; 0 for ``second-access`` (the LRU
    flags are in ``struct page``), None for ``none``.

Promoter rounds in a stretch without accesses, with nothing queued and no
scan due, would do nothing and are skipped (so ``kpromoted_rounds`` counts
fewer rounds); never with ``threshold_adjust``, whose periods are kept by
the rounds.

Memory stays bounded on long traces: the stream of logical pages and times
(12 bytes an access) is kept in memory up to ``spill_bytes`` and spilled to
a temporary file beyond; the rest is proportional to the footprint (the
time series and the heat map have a bounded number of bins, whatever the
trace's time span).

Examples
--------
>>> from pghot.traces import TraceChunk
>>> chunk = TraceChunk(time_ns=np.arange(8) * 1_000_000, pfn=[0, 1, 2, 3, 2, 3, 2, 3])
>>> cfg = SimConfig(top_pages=2, lower_pages=4, sources=[{"name": "hw-hints", "sample_every": 1}],
...                 promoter={"interval_ms": 1})
>>> r = replay([chunk], cfg, baselines=("none",), progress=False)
>>> r["none"].top_tier_hits, r["pghot"].top_tier_hits, r["pghot"].promotions
(2, 4, 2)
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import math
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import IO, Any

import numpy as np

from pghot.bench.designs import DESIGNS
from pghot.machine.memory import MigrateStatus, TieredMemory
from pghot.machine.promoter import Promoter
from pghot.machine.sources import HintFault, HwHints, PgtableScan, Reports, combine
from pghot.topology import Topology
from pghot.traces import PageMapper, TraceChunk, open_trace
from pghot.tracker import Tracker

__all__ = [
    "BASELINES",
    "MAX_BINS",
    "PROMOTER_KEYS",
    "SOURCES",
    "TRACKER_KEYS",
    "PolicyResult",
    "Result",
    "SimConfig",
    "demo_trace",
    "format_sweep_table",
    "load_config",
    "parse_assignment",
    "parse_source",
    "plot",
    "replay",
    "sweep",
]

#: baseline policies :func:`replay` runs beside the configured ``pghot``
BASELINES = ("none", "v2", "second-access")

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
_SPILL_BYTES = 256 << 20
_CONFIG_MAX_BYTES = 1 << 20       # a configuration file is read whole, up to this
_HEAT_BINS = 200
#: most metrics bins (time-series points) a replay keeps; a longer trace gets wider bins
MAX_BINS = 100_000
_TOP = 0          # the top-tier node of the two-tier machine
_NO_ROUND = 2**62


# -- configuration -------------------------------------------------------------------


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


# -- the simulated memory -------------------------------------------------------------


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


class _Bins:
    """A growable int64 counter per bin index."""

    def __init__(self) -> None:
        self.a = np.zeros(64, dtype=np.int64)
        self.n = 0

    def _grow(self, hi: int) -> None:
        if hi >= self.a.shape[0]:
            new = np.zeros(max(hi + 1, 2 * self.a.shape[0]), dtype=np.int64)
            new[: self.a.shape[0]] = self.a
            self.a = new
        self.n = max(self.n, hi + 1)

    def add(self, idx: np.ndarray) -> None:
        if idx.shape[0] == 0:
            return
        lo, hi = int(idx[0]), int(idx[-1])  # idx is sorted (times are)
        self._grow(hi)
        self.a[lo : hi + 1] += np.bincount(idx - lo, minlength=hi - lo + 1)

    def add_at(self, i: int, count: int) -> None:
        self._grow(i)
        self.a[i] += count

    def values(self, n: int) -> np.ndarray:
        out = np.zeros(n, dtype=np.int64)
        k = min(n, self.a.shape[0])
        out[:k] = self.a[:k]
        return out


# -- policies -------------------------------------------------------------------------


class _Policy:
    """No promotion: the memory, its hits, and the oracle's tallies."""

    kind = "none"

    def __init__(self, name: str, sim: _Sim, *, make_memory: bool = True) -> None:
        self.name = name
        self.sim = sim
        self.top = sim.top_pages
        if make_memory:
            self.mem = self._memory()
        self.hits = 0
        self.hit_bins = _Bins()
        self.promo_bins = _Bins()
        self.pending: list[np.ndarray] = []
        self.judged = self.precise = 0
        self.hot_total = self.hot_resident = 0
        self.recall_series: list[tuple[float, float]] = []
        self.next_round = _NO_ROUND  # no promoter rounds
        self.round_j = 0
        self.description = "first-touch placement, no promotion"

    def _memory(self) -> _SimMemory:
        c = self.sim.config
        return _SimMemory(
            self.sim.topology, None, page_size=c.page_size, hz=c.hz,
            ping_pong_window_ms=c.ping_pong_window_ms, demotion=c.demotion,
            logical_pages=self.sim.footprint, on_promote=self._promoted,
        )

    def _promoted(self, pages: np.ndarray, now: int) -> None:
        self.pending.append(pages)
        self.promo_bins.add_at(now // self.sim.bin_j, int(pages.shape[0]))

    def serve(self, pages: np.ndarray, times: np.ndarray) -> None:
        if pages.shape[0] == 0:
            return
        hit = self.mem.access(pages) < self.top
        self.hits += int(np.count_nonzero(hit))
        self.hit_bins.add(times[hit] // self.sim.bin_j)

    def segment(self, pages: np.ndarray, times: np.ndarray, reps: Reports) -> None:
        self.serve(pages, times)
        if reps.pfns.shape[0]:
            self.reports(reps)

    def reports(self, reps: Reports) -> None:
        pass

    def step(self, now: int) -> None:
        pass

    def idle(self) -> bool:
        return True

    def memory_bytes(self) -> int | None:
        return None

    def stats(self) -> dict[str, dict[str, int]]:
        return {"memory": self.mem.stats()}


class _SecondAccess(_Policy):
    """Promote a lower-tier page at its second reported access within the window."""

    kind = "second-access"

    def __init__(self, name: str, sim: _Sim) -> None:
        super().__init__(name, sim)
        c = sim.config
        win_ms = c.second_access_window_ms
        if win_ms is None:
            win_ms = int(c.tracker.get("freq_window_ms", 5000))
        self.window_ms = win_ms
        self.window_j = -(-win_ms * c.hz // 1000)
        self.last = np.full(sim.footprint, -1, dtype=np.int64)
        self.description = (
            f"promote at the 2nd reported access within {win_ms} ms, immediately, no tracker"
        )

    def segment(self, pages: np.ndarray, times: np.ndarray, reps: Reports) -> None:
        if reps.pfns.shape[0] == 0:
            self.serve(pages, times)
            return
        mem, top, last, win = self.mem, self.top, self.last, self.window_j
        pos = 0

        def upto(t: int) -> int:
            nonlocal pos
            j = int(np.searchsorted(times, t, side="right"))
            if j > pos:
                self.serve(pages[pos:j], times[pos:j])
                pos = j
            return pos

        for p, t in zip(reps.pfns.tolist(), reps.nows.tolist()):
            pfn = mem.pfn_of(p)
            if pfn < 0:  # first touched in this segment, not served yet
                upto(t)
                pfn = mem.pfn_of(p)
            if pfn < top:
                continue
            prev = int(last[p])
            if prev >= 0 and t - prev <= win:
                upto(t)
                last[p] = -1 if mem.migrate(pfn, _TOP, t) else t
            else:
                last[p] = t
        if pos < pages.shape[0]:
            self.serve(pages[pos:], times[pos:])

    def memory_bytes(self) -> int | None:
        return 0


class _Pghot(_Policy):
    """A tracker and its promoter."""

    kind = "pghot"

    def __init__(self, name: str, sim: _Sim, tracker_kw: Mapping[str, Any],
                 promoter_kw: Mapping[str, Any], description: str) -> None:
        super().__init__(name, sim, make_memory=False)
        self.tracker, self.mem, self.promoter = _build_pghot(
            sim.config, sim.topology, tracker_kw, promoter_kw, sim.footprint, self._promoted
        )
        self.round_j = _jiffies(self.promoter.interval_ms, sim.config.hz)
        self.next_round = self.round_j
        self.outcomes = np.zeros(8, dtype=np.int64)
        self.description = description

    def reports(self, reps: Reports) -> None:
        pfns = self.mem.pfns_of(reps.pfns.astype(np.int64))
        out = np.asarray(self.tracker.record_accesses(pfns, reps.nids, reps.srcs, reps.nows))
        self.outcomes[: out.shape[0]] += out

    def step(self, now: int) -> None:
        self.promoter.step(now)

    def idle(self) -> bool:
        # the threshold adjustment keeps time in its rounds: never skip them
        return not self.promoter.threshold_adjust and int(self.tracker.queued(_TOP)) == 0

    def memory_bytes(self) -> int | None:
        return int(self.tracker.memory_bytes())

    def stats(self) -> dict[str, dict[str, int]]:
        from pghot._types import Outcome

        outcomes = {o.name: int(self.outcomes[o]) for o in Outcome if int(o) < self.outcomes.shape[0]}
        return {
            "memory": self.mem.stats(),
            "promoter": self.promoter.stats(),
            "tracker": {k: int(v) for k, v in self.tracker.stats().items()},
            "outcomes": outcomes,
        }


# -- the materialised stream ----------------------------------------------------------


class _Stream:
    """Logical pages (uint32) and jiffies (int64), chunk by chunk; spills to disk."""

    def __init__(self, spill_bytes: int) -> None:
        self.mem: list[tuple[np.ndarray, np.ndarray]] = []
        self.held = 0
        self.spill_bytes = spill_bytes
        self.file: IO[bytes] | None = None
        self.nfile = 0
        self.accesses = 0

    def append(self, pages: np.ndarray, times: np.ndarray) -> None:
        self.accesses += pages.shape[0]
        nbytes = pages.nbytes + times.nbytes
        if self.file is None and self.held + nbytes <= self.spill_bytes:
            self.mem.append((pages, times))
            self.held += nbytes
            return
        if self.file is None:
            self.file = tempfile.TemporaryFile(prefix="pghot-replay-")
        np.save(self.file, pages)
        np.save(self.file, times)
        self.nfile += 1

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        yield from self.mem
        if self.file is not None:
            self.file.seek(0)
            for _ in range(self.nfile):
                yield np.load(self.file), np.load(self.file)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def _progress(total: int | None, enabled: bool, desc: str) -> Any:
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, desc=desc, unit="acc", unit_scale=True, file=sys.stderr,
                leave=False, delay=0.5, mininterval=0.25)


def _materialise(chunks: Iterable[TraceChunk], config: SimConfig, progress: bool,
                 spill_bytes: int) -> tuple[_Stream, int, int, str]:
    """Read the trace once: dense logical pages and clamped jiffies."""
    shift = config.page_size.bit_length() - 1
    mapper = PageMapper(0, 2**40, page_size=1)
    stream = _Stream(spill_bytes)
    origin: int | None = None
    last = 0
    space = ""
    bar = _progress(None, progress, "reading")
    try:
        for chunk in chunks:
            if not isinstance(chunk, TraceChunk):
                raise TypeError(f"chunks must be TraceChunk objects, not {type(chunk).__name__}")
            if len(chunk) == 0:
                continue
            if origin is None:
                origin = int(chunk.time_ns[0])
            if chunk.vaddr is not None:
                keys = chunk.vaddr >> np.uint64(shift)
                kind = "virtual"
            else:
                assert chunk.pfn is not None
                keys = chunk.pfn
                kind = "physical"
            if space and kind != space:
                raise ValueError("the trace mixes records with and without vaddr")
            space = kind
            pages = mapper.map(keys)
            if len(mapper) > 2**32:
                raise ValueError("more than 2**32 distinct pages")
            t = chunk.times_jiffies(config.hz, origin)
            t = np.maximum.accumulate(np.maximum(t, last))
            last = int(t[-1])
            stream.append(pages.astype(np.uint32), t)
            if bar is not None:
                bar.update(len(chunk))
    except BaseException:
        stream.close()
        raise
    finally:
        if bar is not None:
            bar.close()
    return stream, len(mapper), last, space


# -- the oracle -----------------------------------------------------------------------


class _IntervalCounts:
    """Accesses per page within the current oracle interval."""

    def __init__(self, footprint: int) -> None:
        self.f = footprint
        self.parts: list[np.ndarray] = []
        self.held = 0
        self.counts: np.ndarray | None = None
        self.accesses = 0

    def add(self, pages: np.ndarray) -> None:
        self.parts.append(pages)
        self.held += pages.shape[0]
        self.accesses += pages.shape[0]
        if self.held > max(self.f, 1 << 20):
            self._compact()

    def _compact(self) -> None:
        c = np.bincount(np.concatenate(self.parts), minlength=self.f)
        self.counts = c if self.counts is None else self.counts + c
        self.parts, self.held = [], 0

    def hot(self, k: int) -> np.ndarray:
        """The pages of the interval with the k largest counts, ties included; resets."""
        if self.counts is not None:
            if self.parts:                   # add() may just have compacted
                self._compact()
            pages = np.flatnonzero(self.counts)
            counts = self.counts[pages]
        elif self.parts:
            pages, counts = np.unique(np.concatenate(self.parts), return_counts=True)
        else:
            pages = counts = np.zeros(0, dtype=np.int64)
        self.parts, self.held, self.counts, self.accesses = [], 0, None, 0
        if pages.shape[0] > k:
            kth = np.partition(counts, pages.shape[0] - k)[pages.shape[0] - k]
            pages = pages[counts >= kth]
        return pages.astype(np.int64)


# -- the driver -----------------------------------------------------------------------


class _Sim:
    def __init__(self, config: SimConfig, footprint: int, last_jiffy: int,
                 baselines: Sequence[str], designs: Sequence[str]) -> None:
        c = config
        self.config = c
        self.footprint = footprint
        self.top_pages = c.top_pages if c.top_pages is not None else max(1, footprint // 4)
        self.lower_pages = c.lower_pages if c.lower_pages is not None else 2 * footprint
        if footprint > self.top_pages + self.lower_pages:
            raise ValueError(
                f"config: lower_pages: {self.lower_pages} lower-tier + {self.top_pages} top-tier "
                f"pages cannot hold the trace's {footprint} pages"
            )
        self.topology = Topology.two_tier(self.top_pages, self.lower_pages)
        # an interval beyond 2**62 jiffies is one bin for any trace anyway; the
        # bound keeps ``times // bin_j`` in int64 (interval_ms=10**30 overflowed)
        self.bin_j = min(_jiffies(c.interval_ms, c.hz), 2**62)
        self.notes: list[str] = []
        # The bins cover the trace's whole span: bound their number before any
        # is allocated (a trace spanning 2**62 ns would need 4.6e9 one-second bins).
        factor = -(-(last_jiffy + 1) // (self.bin_j * MAX_BINS))
        if factor > 1:
            self.bin_j *= _round_up_125(factor)
            self.notes.append(
                f"metrics bins widened from interval_ms={c.interval_ms} to "
                f"{self.bin_j / c.hz:g} s: the trace spans {(last_jiffy + 1) / c.hz:g} s, "
                f"more than {MAX_BINS:,} bins"
            )
        self.oracle_j = _jiffies(c.oracle_interval_ms, c.hz)
        self.sources = _build_sources(c)
        self.acc_bins = _Bins()
        self.oracle = _IntervalCounts(footprint)
        self.next_oracle = self.oracle_j
        self.hot_mask = np.zeros(footprint, dtype=bool)
        self.last_jiffy = last_jiffy
        self.heat_tj = max(1, -(-(last_jiffy + 1) // _HEAT_BINS))
        self.heat_pp = max(1, -(-footprint // _HEAT_BINS))
        self.heat_nt = -(-(last_jiffy + 1) // self.heat_tj)
        self.heat_np = -(-footprint // self.heat_pp)
        self.heat = np.zeros(self.heat_nt * self.heat_np, dtype=np.int64)

        self.v2_alias = False
        pol: list[_Policy] = []
        pol.append(_Pghot("pghot", self, c.tracker, c.promoter, _describe(c.tracker, c.promoter)))
        for b in baselines:
            if b == "none":
                pol.append(_Policy("none", self))
            elif b == "v2":
                if c.tracker or c.promoter:
                    pol.append(_Pghot("v2", self, {}, {}, "pghot with the v2 defaults"))
                else:  # the configured policy is v2: one run, reported under both names
                    self.v2_alias = True
            elif b == "second-access":
                pol.append(_SecondAccess("second-access", self))
            else:
                raise ValueError(f"baselines must be among {list(BASELINES)}, got {b!r}")
        for d in designs:
            if d not in DESIGNS:
                raise ValueError(f"designs must be among {list(DESIGNS)}, got {d!r}")
            kw = {k: v for k, v in c.tracker.items() if k not in ("store", "queue", "mode")}
            kw.update(DESIGNS[d])
            pol.append(_Pghot(d, self, kw, c.promoter, f"design {d}, configured knobs"))
        names = [p.name for p in pol]
        if len(set(names)) != len(names):
            raise ValueError(f"a policy is named twice: {names}")
        self.policies = pol
        self.baselines = list(baselines)
        self.designs = list(designs)
        self.scan_sources = [s for s in self.sources.sources if isinstance(s, PgtableScan)]

    # one chunk of the stream, split at the promoter rounds and oracle boundaries
    def run_chunk(self, pages: np.ndarray, times: np.ndarray) -> None:
        self.acc_bins.add(times // self.bin_j)
        idx = (times // self.heat_tj) * self.heat_np + pages // self.heat_pp
        self.heat += np.bincount(idx, minlength=self.heat.shape[0])
        pol = self.policies
        n = pages.shape[0]
        i = 0
        while i < n:
            t_evt = min(self.next_oracle, min(p.next_round for p in pol))
            j = i + int(np.searchsorted(times[i:], t_evt, side="left")) if times[i] < t_evt else i
            if j > i:
                seg_p, seg_t = pages[i:j], times[i:j]
                reps = self.sources.feed(seg_p, 0, seg_t)
                self.oracle.add(seg_p)
                for p in pol:
                    p.segment(seg_p, seg_t, reps)
            if j >= n:
                break
            self.fire(t_evt, int(times[j]))
            i = j

    def fire(self, t: int, upcoming: int) -> None:
        """Events at time ``t``: flushed reports, the oracle's end, promoter rounds."""
        pol = self.policies
        # The interval ending at t is judged first: what happens at t (flushed
        # reports, second-access promotions, rounds) belongs to the next one.
        if self.next_oracle == t:
            self.evaluate(t)
            self.next_oracle += self.oracle_j
        reps = self.sources.flush(t)
        if reps.pfns.shape[0]:
            empty_p = np.zeros(0, dtype=np.uint32)
            empty_t = np.zeros(0, dtype=np.int64)
            for p in pol:
                p.segment(empty_p, empty_t, reps)
        for p in pol:
            if p.next_round == t:
                p.step(t)
                p.next_round += p.round_j
        # Nothing queued and nothing reported until the next access: the
        # rounds and intervals in between have nothing to do.
        nxt = min(self.next_oracle, min(p.next_round for p in pol))
        if upcoming > nxt and all(p.idle() for p in pol):
            limit = upcoming
            for s in self.scan_sources:
                if s.next_scan is not None:
                    limit = min(limit, s.next_scan)
            for p in pol:
                if p.next_round < limit:
                    p.next_round += (limit - p.next_round) // p.round_j * p.round_j
            if self.oracle.accesses == 0 and not any(p.pending for p in pol) and self.next_oracle < limit:
                self.next_oracle += (limit - self.next_oracle) // self.oracle_j * self.oracle_j

    def evaluate(self, t_end: int) -> None:
        """Close the oracle interval ending at ``t_end``: precision and recall tallies."""
        busy = self.oracle.accesses > 0
        hot = self.oracle.hot(self.top_pages)
        mask = self.hot_mask
        mask[hot] = True
        start_s = (t_end - self.oracle_j) / self.config.hz
        for p in self.policies:
            if p.pending:
                promoted = np.concatenate(p.pending)
                p.pending = []
                p.judged += promoted.shape[0]
                p.precise += int(np.count_nonzero(mask[promoted]))
            if busy and hot.shape[0]:
                resident = int(np.count_nonzero(mask[p.mem.pages_on(_TOP)]))
                p.hot_total += hot.shape[0]
                p.hot_resident += resident
                p.recall_series.append((max(start_s, 0.0), resident / hot.shape[0]))
        mask[hot] = False


def _describe(tracker: Mapping[str, Any], promoter: Mapping[str, Any]) -> str:
    knobs = [f"{k}={v}" for k, v in {**tracker, **promoter}.items()]
    return "pghot, " + (", ".join(knobs) if knobs else "v2 defaults")


# -- results --------------------------------------------------------------------------


@dataclasses.dataclass
class PolicyResult:
    """The metrics of one policy (see the module docstring for their definitions).

    Attributes
    ----------
    name, kind, description : str
        ``kind`` is ``"pghot"``, ``"none"`` or ``"second-access"``.
    accesses, top_tier_hits : int
    promotions, demotions, ping_pong, promote_fail_no_space : int
    precise_promotions : int
        Promotions of a page in the oracle's hot set of their interval.
    hot_pages, hot_pages_resident : int
        Hot-set sizes and hot pages on the top tier at the intervals' ends,
        summed over the intervals with accesses.
    est_time_ns : float
    time_vs_all_top, time_vs_none : float or None
    tracker_memory_bytes : int or None
    hit_ratio_series : list of float or None
        Per metrics bin; None for a bin without accesses.
    promotions_series : list of int
        Promotions per metrics bin.
    recall_series : list of (float, float)
        ``(interval start in s, recall)`` per oracle interval with accesses.
    stats : dict
        ``memory`` counters, and for pghot ``promoter``, ``tracker`` and the
        report ``outcomes``.
    """

    name: str
    kind: str
    description: str
    accesses: int
    top_tier_hits: int
    promotions: int
    demotions: int
    ping_pong: int
    promote_fail_no_space: int
    precise_promotions: int
    hot_pages: int
    hot_pages_resident: int
    est_time_ns: float
    time_vs_all_top: float | None
    time_vs_none: float | None
    tracker_memory_bytes: int | None
    hit_ratio_series: list[float | None]
    promotions_series: list[int]
    recall_series: list[tuple[float, float]]
    stats: dict[str, dict[str, int]]

    @property
    def hit_ratio(self) -> float | None:
        """Share of accesses served by the top tier.

        >>> _example_policy().hit_ratio
        0.5
        """
        return self.top_tier_hits / self.accesses if self.accesses else None

    @property
    def precision(self) -> float | None:
        """Share of promotions of a page hot in their interval (None without promotions).

        >>> _example_policy().precision
        0.75
        """
        return self.precise_promotions / self.promotions if self.promotions else None

    @property
    def recall(self) -> float | None:
        """Share of the hot pages on the top tier at their interval's end.

        >>> _example_policy().recall
        0.25
        """
        return self.hot_pages_resident / self.hot_pages if self.hot_pages else None

    def to_dict(self) -> dict[str, Any]:
        """The metrics as plain JSON-ready values, the ratios included.

        >>> d = _example_policy().to_dict(); d["hit_ratio"], d["precision"]
        (0.5, 0.75)
        """
        d = dataclasses.asdict(self)
        d["hit_ratio"] = self.hit_ratio
        d["precision"] = self.precision
        d["recall"] = self.recall
        d["recall_series"] = [list(x) for x in self.recall_series]
        return d


def _example_policy() -> PolicyResult:
    return PolicyResult("x", "none", "", 4, 2, 4, 0, 0, 0, 3, 4, 1, 700.0, 1.75, 1.0, None,
                        [0.5], [4], [(0.0, 0.25)], {})


@dataclasses.dataclass
class Result:
    """What :func:`replay` found: one :class:`PolicyResult` per policy.

    Attributes
    ----------
    config : SimConfig
        The config, with ``top_pages`` and ``lower_pages`` resolved.
    trace : dict
        ``name``, ``accesses``, ``footprint_pages``, ``address_space``
        (``"virtual"`` or ``"physical"``), ``duration_s``, and ``reports``:
        the reports each configured source made (in the order of
        ``config.sources``).
    policies : dict of str to PolicyResult
        In run order: ``pghot``, the baselines, the designs.
    bin_s : float
        Width of the metrics bins in seconds.
    accesses_series : list of int
        Accesses per metrics bin.
    heatmap : numpy.ndarray
        Accesses per (time bin, page bin), shape ``(time bins, page bins)``,
        at most 200 x 200.
    heat_time_s : float
        Width of a heat-map time bin in seconds.
    heat_pages : int
        Logical pages per heat-map page bin.
    notes : list of str
        What the replay changed on its own, e.g. metrics bins wider than
        ``interval_ms`` on a trace longer than :data:`MAX_BINS` bins
        (printed by :meth:`summary`, in :meth:`to_dict`).
    """

    config: SimConfig
    trace: dict[str, Any]
    policies: dict[str, PolicyResult]
    bin_s: float
    accesses_series: list[int]
    heatmap: np.ndarray
    heat_time_s: float
    heat_pages: int
    notes: list[str] = dataclasses.field(default_factory=list)

    def __getitem__(self, name: str) -> PolicyResult:
        return self.policies[name]

    def to_dict(self, heatmap: bool = False) -> dict[str, Any]:
        """Plain JSON-ready values; the heat map only when asked for.

        >>> r = replay([demo_trace(5000, 200, seed=1)], SimConfig(top_pages=50), progress=False)
        >>> sorted(r.to_dict()["policies"])
        ['none', 'pghot', 'second-access', 'v2']
        """
        out: dict[str, Any] = {
            "trace": dict(self.trace),
            "config": self.config.to_dict(),
            "bin_s": self.bin_s,
            "notes": list(self.notes),
            "accesses_series": list(self.accesses_series),
            "policies": {k: v.to_dict() for k, v in self.policies.items()},
        }
        if heatmap:
            out["heatmap"] = {"time_bin_s": self.heat_time_s, "page_bin_pages": self.heat_pages,
                              "accesses": self.heatmap.tolist()}
        return out

    def to_json(self, indent: int | None = 2, heatmap: bool = False) -> str:
        """:meth:`to_dict` as JSON text.

        >>> r = replay([demo_trace(5000, 200, seed=1)], SimConfig(top_pages=50), progress=False)
        >>> json.loads(r.to_json())["trace"]["accesses"]
        5000
        """
        return json.dumps(self.to_dict(heatmap), indent=indent, default=_json_default)

    def summary(self) -> str:
        """A text table of the metrics, one row per policy.

        >>> r = replay([demo_trace(5000, 200, seed=1)], SimConfig(top_pages=50), progress=False)
        >>> print(r.summary().splitlines()[0])
        replay of <chunks>: 5,000 accesses over 9.999 s, footprint 200 pages (800.0 KiB)
        """
        c, tr = self.config, self.trace
        top = c.top_pages or 0  # resolved by replay
        lines = [
            f"replay of {tr['name']}: {tr['accesses']:,} accesses over {tr['duration_s']:.3f} s, "
            f"footprint {tr['footprint_pages']:,} pages ({_size(tr['footprint_pages'] * c.page_size)})",
            f"  machine: top tier {top:,} pages ({_size(top * c.page_size)}), "
            f"lower tier {c.lower_pages or 0:,} pages; access {c.top_ns:g} ns top, {c.lower_ns:g} ns lower, "
            f"{c.migration_ns:g} ns per migrated page",
            f"  sources: {', '.join(_source_text(s, n) for s, n in zip(c.sources, tr['reports']))}"
            f"; oracle: hottest "
            f"{top:,} pages of each {c.oracle_interval_ms} ms",
            *(f"  note: {n}" for n in self.notes),
            "",
        ]
        head = ("policy", "top hits", "promoted", "demoted", "ping-pong", "precision", "recall",
                "est. time", "x all-top", "x none", "tracker mem")
        rows = [head]
        for p in self.policies.values():
            rows.append((
                p.name, _pct(p.hit_ratio), f"{p.promotions:,}", f"{p.demotions:,}",
                f"{p.ping_pong:,}", _pct(p.precision), _pct(p.recall),
                _duration(p.est_time_ns), _num(p.time_vs_all_top), _num(p.time_vs_none),
                "-" if p.tracker_memory_bytes is None else _size(p.tracker_memory_bytes),
            ))
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        for r in rows:
            lines.append("  ".join(
                (x.ljust(w) if i == 0 else x.rjust(w)) for i, (x, w) in enumerate(zip(r, widths))
            ).rstrip())
        lines.append("")
        for p in self.policies.values():
            lines.append(f"  {p.name}: {p.description}")
        return "\n".join(lines)

    def plot(self, path: str | os.PathLike[str]) -> None:
        """Draw :func:`plot` into ``path`` (PNG)."""
        plot(self, path)


def _json_default(x: Any) -> Any:
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _duration(ns: float) -> str:
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.4g} {unit}"
    return f"{ns:.4g} ns"


def _size(nbytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if nbytes < 1024 or unit == "TiB":
            return f"{nbytes:,.0f} {unit}" if unit == "B" else f"{nbytes:,.1f} {unit}"
        nbytes /= 1024
    return ""  # pragma: no cover


def _source_text(s: Mapping[str, Any], reports: int) -> str:
    params = ", ".join(f"{k}={v}" for k, v in s.items() if k != "name")
    name = f"{s['name']}({params})" if params else str(s["name"])
    return f"{name} {reports:,} reports"


# -- replay ---------------------------------------------------------------------------


def replay(
    chunks: Iterable[TraceChunk] | str | os.PathLike[str],
    config: SimConfig | None = None,
    *,
    baselines: Sequence[str] = BASELINES,
    designs: Sequence[str] = (),
    progress: bool = True,
    name: str | None = None,
    trace_format: str | None = None,
    open_options: Mapping[str, Any] | None = None,
    spill_bytes: int = _SPILL_BYTES,
) -> Result:
    """Replay an access stream through pghot and the alternatives, in one pass.

    The trace is read once into a compact stream of logical pages and
    jiffies (spilled to a temporary file beyond ``spill_bytes``), which then
    drives every policy chunk by chunk.

    Parameters
    ----------
    chunks : iterable of TraceChunk, or a path
        The trace (e.g. :func:`pghot.traces.open_trace`); a path is opened
        with ``trace_format`` and ``open_options``.
    config : SimConfig, optional
        Default ``SimConfig()``.
    baselines : names from :data:`BASELINES`
        Run beside the configured ``pghot`` policy.
    designs : names from :data:`pghot.bench.designs.DESIGNS`
        pghot with the configured knobs and that record store.
    progress : bool
        Progress bars on stderr (shown after half a second).
    name : str, optional
        Name of the trace in the summary.

    Returns
    -------
    Result

    Raises
    ------
    TypeError, ValueError
        Bad config (naming the key), unknown policy, an empty trace, a
        trace spanning more than ``config.max_span_s``, a machine too small
        for the footprint, or a trace error.

    Examples
    --------
    >>> r = replay([demo_trace(20_000, 1_000, seed=0)], SimConfig(top_pages=250),
    ...            baselines=("none",), designs=("hash/bucket",), progress=False)
    >>> list(r.policies)
    ['pghot', 'none', 'hash/bucket']
    >>> r["hash/bucket"].kind, r["hash/bucket"].promotions > 0
    ('pghot', True)
    >>> r["none"].time_vs_none
    1.0
    """
    cfg = (config if config is not None else SimConfig()).validate()
    for b in baselines:
        if b not in BASELINES:
            raise ValueError(f"baselines must be among {list(BASELINES)}, got {b!r}")
    for d in designs:
        if d not in DESIGNS:
            raise ValueError(f"designs must be among {list(DESIGNS)}, got {d!r}")
    with contextlib.ExitStack() as stack:
        if isinstance(chunks, (str, os.PathLike)):
            path = os.fspath(chunks)
            opts = {"page_size": cfg.page_size, **(open_options or {})}
            reader = stack.enter_context(open_trace(path, trace_format, **opts))
            name = name or path
            source: Iterable[TraceChunk] = reader
        else:
            source = chunks
        stream, footprint, last_jiffy, space = _materialise(source, cfg, progress, spill_bytes)
        stack.callback(stream.close)
        if stream.accesses == 0:
            raise ValueError(f"{name or 'the trace'}: no accesses")
        span_s = last_jiffy / cfg.hz
        if span_s > cfg.max_span_s:  # before _Sim allocates anything
            raise ValueError(
                f"{name or 'the trace'}: spans {span_s:.6g} s ({span_s / 86400:.3g} days) from "
                f"its first record to its last, more than max_span_s = {cfg.max_span_s} s: "
                "check its time stamps and their unit, or raise max_span_s in the config "
                "(pghot replay: --set max_span_s=SECONDS)"
            )
        sim = _Sim(cfg, footprint, last_jiffy, list(baselines), list(designs))
        bar = _progress(stream.accesses, progress, "replaying")
        try:
            for pages, times in stream:
                sim.run_chunk(pages, times)
                if bar is not None:
                    bar.update(pages.shape[0])
        finally:
            if bar is not None:
                bar.close()
        sim.evaluate(sim.next_oracle)  # the last (partial) interval
        return _result(sim, cfg, name or "<chunks>", stream.accesses, space)
    raise AssertionError("unreachable")  # pragma: no cover


def _result(sim: _Sim, cfg: SimConfig, name: str, accesses: int, space: str) -> Result:
    resolved = dataclasses.replace(cfg, top_pages=sim.top_pages, lower_pages=sim.lower_pages,
                                   sources=[dict(s) for s in cfg.sources],
                                   tracker=dict(cfg.tracker), promoter=dict(cfg.promoter))
    nbins = sim.last_jiffy // sim.bin_j + 1
    acc = sim.acc_bins.values(nbins)
    bin_s = sim.bin_j / cfg.hz
    out: dict[str, PolicyResult] = {}
    for p in sim.policies:
        m = p.mem.stats()
        hits = p.hit_bins.values(nbins)
        est = (p.hits * cfg.top_ns + (accesses - p.hits) * cfg.lower_ns
               + m["pgmigrate_success"] * cfg.migration_ns)
        assert p.judged == m["pgpromote_success"], (p.name, p.judged, m)
        out[p.name] = PolicyResult(
            name=p.name, kind=p.kind, description=p.description, accesses=accesses,
            top_tier_hits=p.hits, promotions=m["pgpromote_success"],
            demotions=m["pgdemote_kswapd"], ping_pong=m["ping_pong"],
            promote_fail_no_space=m["promote_fail_no_space"], precise_promotions=p.precise,
            hot_pages=p.hot_total, hot_pages_resident=p.hot_resident, est_time_ns=est,
            time_vs_all_top=est / (accesses * cfg.top_ns) if cfg.top_ns > 0 else None,
            time_vs_none=None, tracker_memory_bytes=p.memory_bytes(),
            hit_ratio_series=[(int(h) / int(a)) if a else None for h, a in zip(hits, acc)],
            promotions_series=p.promo_bins.values(nbins).tolist(),
            recall_series=p.recall_series, stats=p.stats(),
        )
    if sim.v2_alias:
        # keep the order of the baselines given
        alias = dataclasses.replace(out["pghot"], name="v2",
                                    description="the same run as pghot (its knobs are v2's)")
        order = ["pghot", *(b for b in sim.baselines if b in out or b == "v2"), *sim.designs]
        out["v2"] = alias
        out = {k: out[k] for k in order}
    if "none" in out and out["none"].est_time_ns > 0:
        base = out["none"].est_time_ns
        for r in out.values():
            r.time_vs_none = r.est_time_ns / base
    trace = {
        "name": name, "accesses": accesses, "footprint_pages": sim.footprint,
        "address_space": space, "duration_s": (sim.last_jiffy + 1) / cfg.hz,
        "reports": [int(src.reported) for src in sim.sources.sources],
    }
    heat = sim.heat.reshape(sim.heat_nt, sim.heat_np)
    return Result(resolved, trace, out, bin_s, acc.tolist(), heat,
                  sim.heat_tj / cfg.hz, sim.heat_pp, list(sim.notes))


# -- the built-in workload ------------------------------------------------------------


def demo_trace(accesses: int = 2_000_000, working_set_pages: int = 32768, *,
               duration_ms: int = 10_000, s: float = 0.99, seed: int = 0,
               page_size: int = 4096) -> TraceChunk:
    """The demo's synthetic workload as one virtual-address trace chunk.

    Zipf-skewed (exponent ``s``) accesses to ``working_set_pages`` pages over
    ``duration_ms``, the hot set re-drawn half way (a phase change): see
    :func:`pghot.bench.workloads.skewed_accesses`.

    Examples
    --------
    >>> c = demo_trace(1000, 100, duration_ms=500)
    >>> len(c), int(c.time_ns[-1]) < 500_000_000, len(np.unique(c.vaddr)) <= 100
    (1000, True, True)
    """
    from pghot.bench.workloads import skewed_accesses

    pages, nows = skewed_accesses(0, working_set_pages, accesses, s=s,
                                  duration_jiffies=duration_ms, seed=seed)
    base = np.uint64(0x7F00_0000_0000)
    return TraceChunk(time_ns=nows * 1_000_000, vaddr=base + pages * np.uint64(page_size))


# -- plot -----------------------------------------------------------------------------


def plot(result: Result, path: str | os.PathLike[str]) -> None:
    """Three panels: top-tier hit ratio over time, promotions per second, page heat.

    The heat map is damo's heatmap for the trace: time across, logical pages
    (first-touch order) up, accesses per cell in colour (log scale).

    Raises
    ------
    ImportError
        matplotlib is not installed (``pip install 'pghot[plot]'``).

    Examples
    --------
    >>> import os, tempfile
    >>> r = replay([demo_trace(5000, 200, seed=1)], SimConfig(top_pages=50), progress=False)
    >>> p = os.path.join(tempfile.mkdtemp(), "r.png"); plot(r, p); os.path.getsize(p) > 0
    True
    """
    try:
        import matplotlib
    except ImportError:
        raise ImportError("--plot needs matplotlib: pip install 'pghot[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    fig, axes = plt.subplots(3, 1, figsize=(10, 11), sharex=True)
    nb = len(result.accesses_series)
    x = (np.arange(nb) + 0.5) * result.bin_s
    styles = ("-", "--", ":", "-.")  # runs that coincide stay visible
    for i, p in enumerate(result.policies.values()):
        y = np.array([np.nan if v is None else v for v in p.hit_ratio_series], dtype=float)
        style = styles[i % len(styles)]
        axes[0].plot(x, y, style, marker=".", label=p.name)
        axes[1].plot(x, np.asarray(p.promotions_series, dtype=float) / result.bin_s, style,
                     marker=".", label=p.name)
    axes[0].set_ylabel("top-tier hit ratio")
    axes[0].set_ylim(0, 1.02)
    axes[0].legend(fontsize=8, ncol=3)
    axes[0].set_title(f"pghot replay of {result.trace['name']}")
    axes[1].set_ylabel("promotions per second")
    heat = result.heatmap.T.astype(float)
    heat[heat == 0] = np.nan
    extent = (0, result.heatmap.shape[0] * result.heat_time_s, 0,
              result.heatmap.shape[1] * result.heat_pages)
    vmax = np.nanmax(heat) if np.isfinite(heat).any() else 1.0
    im = axes[2].imshow(heat, origin="lower", aspect="auto", extent=extent,
                        norm=LogNorm(vmin=1, vmax=max(vmax, 1.0)), cmap="inferno",
                        interpolation="nearest")
    axes[2].set_ylabel("logical page (first touch)")
    axes[2].set_xlabel("time (s)")
    fig.colorbar(im, ax=axes[2], orientation="horizontal", pad=0.15, fraction=0.05,
                 label="accesses")
    for ax in axes[:2]:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=100)
    plt.close(fig)


# -- sweep ----------------------------------------------------------------------------


def _sweep_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run one (trace, configuration) of a sweep; a picklable top-level function."""
    cfg = SimConfig.from_dict(job["config"])
    r = replay(job["trace"], cfg, baselines=("none",), progress=False,
               trace_format=job.get("format"), open_options=job.get("open_options"))
    p, none = r["pghot"], r["none"]
    return {
        "trace": job["trace"], **job["point"],
        "hit_ratio": p.hit_ratio, "none_hit_ratio": none.hit_ratio,
        "promotions": p.promotions, "demotions": p.demotions, "ping_pong": p.ping_pong,
        "precision": p.precision, "recall": p.recall,
        "time_vs_none": p.time_vs_none, "time_vs_all_top": p.time_vs_all_top,
        "tracker_memory_bytes": p.tracker_memory_bytes,
    }


def sweep(
    traces: Sequence[str | os.PathLike[str]],
    grid: Mapping[str, Sequence[Any]],
    config: SimConfig | None = None,
    *,
    workers: int | None = None,
    dask_address: str | None = None,
    trace_format: str | None = None,
    open_options: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Replay every point of a grid of configurations over every trace.

    Each (trace, point) is one :func:`replay` of the configured ``pghot``
    policy beside ``none``, run in a worker process
    (:class:`concurrent.futures.ProcessPoolExecutor`, joined before
    returning) or, with ``dask_address``, as tasks of a Dask cluster
    (``dask.distributed`` must be installed; it is not a dependency).

    Parameters
    ----------
    traces : paths
    grid : mapping of dotted config key to its values
        E.g. ``{"tracker.threshold": [2, 3], "promoter.interval_ms": [10, 20]}``;
        the points are the Cartesian product.
    config : SimConfig, optional
        The configuration the points modify.
    workers : int, optional
        Worker processes (default: the CPU count, at most the jobs).
    dask_address : str, optional
        Scheduler of a Dask cluster to run the jobs on instead; its workers
        need pghot installed and the trace paths readable.

    Returns
    -------
    list of dict
        One row per (trace, point) in grid order: the point's values and
        the metrics of ``pghot`` (``hit_ratio``, ``none_hit_ratio``,
        ``promotions``, ``demotions``, ``ping_pong``, ``precision``,
        ``recall``, ``time_vs_none``, ``time_vs_all_top``,
        ``tracker_memory_bytes``).

    Raises
    ------
    ValueError
        A bad grid key or value (every point is validated before any runs).
    RuntimeError
        ``dask_address`` without ``dask.distributed`` installed.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "t.npz")
    >>> c = demo_trace(5000, 200, seed=1)
    >>> np.savez(p, vaddr=c.vaddr, time_ns=c.time_ns)
    >>> rows = sweep([p], {"tracker.threshold": [2, 3]}, SimConfig(top_pages=50), workers=1,
    ...              progress=False)
    >>> [r["tracker.threshold"] for r in rows]
    [2, 3]
    """
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise ValueError(f"sweep: workers must be a positive int, got {workers!r}")
    base = (config if config is not None else SimConfig()).validate()
    keys = list(grid)
    values = [list(grid[k]) for k in keys]
    for k, v in zip(keys, values):
        if not v:
            raise ValueError(f"sweep: {k} has no values")
    points = [dict(zip(keys, combo)) for combo in itertools.product(*values)]
    jobs = []
    for trace in traces:
        t = os.fspath(trace)
        if not os.path.exists(t):
            raise FileNotFoundError(t)
        for point in points:
            cfg = base.with_overrides(point)
            jobs.append({"trace": t, "point": point, "config": cfg.to_dict(),
                         "format": trace_format, "open_options": dict(open_options or {})})
    if not jobs:
        return []
    if dask_address is not None:
        return _sweep_dask(jobs, dask_address)
    n = min(workers or os.cpu_count() or 1, len(jobs))
    bar = _progress(len(jobs), progress, "sweep")
    if bar is not None:
        bar.unit = "run"
    results: list[dict[str, Any] | None] = [None] * len(jobs)
    try:
        if n <= 1:
            for i, job in enumerate(jobs):
                results[i] = _sweep_job(job)
                if bar is not None:
                    bar.update(1)
        else:
            from concurrent.futures import ProcessPoolExecutor, as_completed

            pool = ProcessPoolExecutor(max_workers=n)
            try:
                futures = {pool.submit(_sweep_job, job): i for i, job in enumerate(jobs)}
                for fut in as_completed(futures):
                    results[futures[fut]] = fut.result()
                    if bar is not None:
                        bar.update(1)
            except BaseException:
                # Ctrl-C or a failed job: drop the queued jobs and stop the
                # running ones now, instead of waiting for every job to end
                pool.shutdown(wait=False, cancel_futures=True)
                for proc in list(getattr(pool, "_processes", {}).values()):
                    proc.terminate()
                raise
            finally:
                pool.shutdown(wait=True)  # the workers are joined
    finally:
        if bar is not None:
            bar.close()
    return [r for r in results if r is not None]


def _sweep_dask(jobs: list[dict[str, Any]], address: str) -> list[dict[str, Any]]:
    try:
        from dask.distributed import Client
    except ImportError:
        raise RuntimeError(
            "--dask needs dask.distributed, which is not installed: "
            "pip install 'dask[distributed]' (pghot does not depend on it)"
        ) from None
    client = Client(address)
    try:
        futures = client.map(_sweep_job, jobs, pure=False)
        return list(client.gather(futures))
    finally:
        client.close()


def format_sweep_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows of :func:`sweep` as a Markdown table.

    >>> print(format_sweep_table([{"trace": "t", "tracker.threshold": 2, "hit_ratio": 0.5,
    ...     "none_hit_ratio": 0.25, "promotions": 10, "demotions": 4, "ping_pong": 1,
    ...     "precision": 0.9, "recall": None, "time_vs_none": 0.8, "time_vs_all_top": 1.5,
    ...     "tracker_memory_bytes": 2048}]))
    | trace | tracker.threshold | top hits | none hits | promoted | demoted | ping-pong | precision | recall | x none | x all-top | tracker mem |
    |---|---|---|---|---|---|---|---|---|---|---|---|
    | t | 2 | 50.0% | 25.0% | 10 | 4 | 1 | 90.0% | - | 0.800 | 1.500 | 2.0 KiB |
    """
    metrics = ("trace", "hit_ratio", "none_hit_ratio", "promotions", "demotions", "ping_pong",
               "precision", "recall", "time_vs_none", "time_vs_all_top", "tracker_memory_bytes")
    point_keys: list[str] = []
    for r in rows:
        for k in r:
            if k not in metrics and k not in point_keys:
                point_keys.append(k)
    head = ["trace", *point_keys, "top hits", "none hits", "promoted", "demoted", "ping-pong",
            "precision", "recall", "x none", "x all-top", "tracker mem"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        mem = r.get("tracker_memory_bytes")
        cells = [str(r["trace"]), *(str(r.get(k, "")) for k in point_keys),
                 _pct(r.get("hit_ratio")), _pct(r.get("none_hit_ratio")),
                 f"{r.get('promotions', 0):,}", f"{r.get('demotions', 0):,}",
                 f"{r.get('ping_pong', 0):,}", _pct(r.get("precision")), _pct(r.get("recall")),
                 _num(r.get("time_vs_none")), _num(r.get("time_vs_all_top")),
                 "-" if mem is None else _size(mem)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
