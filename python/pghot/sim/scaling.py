"""The kernel's time knobs scaled to a short trace (:attr:`SimConfig.scale_to_trace`).

The defaults of the modelled kernel code assume programs that run for
minutes: NUMA balancing scans a task's memory once a second after a one
second delay (``numa_balancing_scan_delay_ms``, ``scan_period_min_ms``),
adjusts its hot threshold once a minute, DAMON's mtier sample aggregates
every 100 ms and applies its schemes every second.  A valgrind lackey trace
of a real program lasts a tenth of a second on its closed clock: with the
kernel's defaults it ends before the first scan, and every policy reports
nothing.

:func:`scale_to_trace` multiplies every time knob left at its default by
one factor, the trace's span over :data:`TARGET_S` (20 s), when the trace
is shorter than :data:`SCALE_BELOW_S` (5 s: fewer than five of the
kernel's 1 s scan periods).  One factor for all of them keeps the
defaults' ratios (the hot threshold equals the scan period, the threshold
adjustment comes every 60 scan periods, kpromoted wakes 50 times a scan
period), so the scaled machine is the kernel's, run faster; the trace then
covers about 20 scan periods.  Amounts per period scale with it (DAMON's
``quota_sz_bytes`` per ``quota_reset_interval_ms``); rates (``rate_limit_mbps``)
do not: they are bandwidths, and the trace's accesses keep their times.  A
sampled source with fewer than :data:`MIN_SAMPLES` samples in the trace
(``hw-hints``'s ``sample_every`` of 10,000) samples about
:data:`TARGET_SAMPLES` instead.

What it simplifies, and leaves alone:

- A scaled knob is rounded to a whole unit (ms, or us for DAMON) and is at
  least 1; the simulated clock's resolution is a jiffy, so periods shorter
  than ``1000 / hz`` ms act as one jiffy (raise ``hz`` for finer ones).
- A knob is scaled only when it is not given: those of the tables
  (``[tracker]``, ``[promoter]``, ``[numab2]``, ``[tpp]``, ``[damon]``,
  ``[pghot_v8]``, the sources) and the top-level ``oracle_interval_ms`` and
  ``ping_pong_window_ms`` (None: not given).  memtis has no table: its
  ``kmigrated_interval_ms`` is always scaled (:func:`scaled_tables` gives
  the replay the knobs of a table, or of memtis).  A time knob given that
  outlasts the trace is named (``given_longer`` of the record, a ``given,
  so not scaled`` note): a window longer than the trace is unbounded.
- Knobs are whole milliseconds: a default that scales below 1 ms (on a
  74 ms trace kpromoted's 20 ms interval would be 0.07 ms) runs at 1 ms,
  so the scaled machine's ratios hold only for the longer periods; raising
  ``hz`` does not lift this floor.
- pghot-v8's ``freq_window_ms`` is scaled, and its record rounds it up to
  whole time units: 128 jiffies in the default u8 mode (a 0.2 s trace's
  scaled 30 ms window acts as 128 ms), 1 jiffy in the precise mode.
- Not scaled: memtis's adaptation and cooling
  periods (counted in samples, not time), the hint-fault scan window and
  the machine's sizes (a small footprint is scanned whole, as the kernel
  scans a small task).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from pghot.sim.alternatives import NUMAB2_DEFAULTS, TPP_DEFAULTS
from pghot.sim.bounds import MEMTIS_DEFAULTS
from pghot.sim.config import (
    DAMON_DEFAULTS,
    ORACLE_INTERVAL_MS,
    PING_PONG_WINDOW_MS,
    UNSET,
    HwHintsConfig,
    SimConfig,
)
from pghot.sim.v8 import V8_DEFAULTS

__all__ = [
    "MIN_SAMPLES",
    "SCALE_BELOW_S",
    "TARGET_S",
    "TARGET_SAMPLES",
    "scale_to_trace",
    "scaled_tables",
    "scaled_text",
]

#: a trace shorter than this (seconds) has its time knobs scaled
SCALE_BELOW_S = 5
#: ... by its span over this (seconds): about 20 of the kernel's 1 s scan periods
TARGET_S = 20
#: a sampled source with fewer samples than this in the trace is scaled ...
MIN_SAMPLES = 100
#: ... to about this many samples
TARGET_SAMPLES = 1000

#: DAMON's knobs scaled: its intervals, and the quota's size per reset interval
_DAMON_SCALED = ("sample_us", "aggr_us", "apply_interval_us", "quota_reset_interval_ms", "quota_sz_bytes")
#: pghot.Tracker's default ``freq_window_ms`` (PGHOT_FREQ_WINDOW of the v2 posting)
TRACKER_WINDOW_MS = 5000


def _defaults(cls: Callable[..., Any]) -> dict[str, Any]:
    """The keyword defaults of ``cls``'s constructor (the component states them once)."""
    return {k: p.default for k, p in inspect.signature(cls).parameters.items() if p.default is not p.empty}


def _time_knobs() -> dict[str, dict[str, int]]:
    """Table -> time knob -> its default, for every table of :class:`SimConfig` scaled."""
    from pghot.machine.promoter import Promoter
    from pghot.machine.sources import HintFault, PgtableScan

    promoter = _defaults(Promoter)
    hint = _defaults(HintFault)
    return {
        "hint-fault": {k: hint[k] for k in ("scan_delay_ms", "scan_period_ms")},
        "pgtable-scan": {"interval_ms": _defaults(PgtableScan)["interval_ms"]},
        "tracker": {"freq_window_ms": TRACKER_WINDOW_MS},
        "promoter": {k: promoter[k] for k in ("interval_ms", "adjust_period_ms", "throttle_window_ms")},
        "numab2": {k: NUMAB2_DEFAULTS[k] for k in ("hot_threshold_ms", "adjust_period_ms")},
        "tpp": {"kswapd_interval_ms": TPP_DEFAULTS["kswapd_interval_ms"]},
        "damon": {k: DAMON_DEFAULTS[k] for k in _DAMON_SCALED},
        "pghot_v8": {"kmigrated_sleep_ms": V8_DEFAULTS["kmigrated_sleep_ms"]},
    }


def scale_to_trace(config: SimConfig, span_ns: int, accesses: int) -> tuple[SimConfig, dict[str, Any] | None]:
    """``config`` with the kernel's time knobs scaled to a trace of ``span_ns`` and ``accesses``.

    Parameters
    ----------
    config
        A checked config; ``config.scale_to_trace`` "off" returns it as it is.
    span_ns
        The trace's span on the replay's clock, first access to last.
    accesses
        The accesses that reach memory (past the last-level-cache filter).

    Returns
    -------
    (SimConfig, dict or None)
        The config to replay with, and what was scaled (None: nothing):
        ``factor`` (None when only a sampling period changed), ``span_s``,
        and ``knobs``: each changed knob's path (``"promoter.interval_ms"``,
        ``"sources[0].scan_period_ms"``) -> ``[default, scaled]``.

    Examples
    --------
    >>> c, s = scale_to_trace(SimConfig(promoter={"batch": 8}), 100_000_000, 50_000)
    >>> s["factor"], s["knobs"]["sources[0].scan_period_ms"], c.promoter.interval_ms, c.promoter.batch
    (0.005, [1000, 5], 1, 8)
    >>> c, s = scale_to_trace(SimConfig(promoter={"interval_ms": 7}), 100_000_000, 50_000)
    >>> c.promoter.interval_ms, "promoter.interval_ms" in s["knobs"]
    (7, False)
    >>> scale_to_trace(SimConfig(), 6 * 10**9, 50_000)[1] is None  # 6 s: the defaults as they are
    True
    >>> scale_to_trace(SimConfig(scale_to_trace="off"), 100_000_000, 50_000)[1] is None
    True
    """
    if config.scale_to_trace == "off":
        return config, None
    span_ns = max(0, int(span_ns))
    factor = span_ns / (TARGET_S * 10**9) if 0 < span_ns < SCALE_BELOW_S * 10**9 else None
    changed: dict[str, list[int]] = {}
    knobs = _time_knobs()

    given: dict[str, int] = {}  # time knobs given (not scaled) that outlast the trace

    def scaled(table: Any, name: str, path: str) -> dict[str, int]:
        new: dict[str, int] = {}
        if factor is None:
            return new
        for key, default in knobs[name].items():
            value = getattr(table, key)
            if value is UNSET:
                new[key] = max(1, round(default * factor))
                changed[f"{path}.{key}"] = [default, new[key]]
            elif value is not None and key != "quota_sz_bytes" and _as_ns(key, value) > span_ns:
                given[f"{path}.{key}"] = value
        return new

    sources = []
    src: Any
    for i, src in enumerate(config.sources):
        path = f"sources[{i}]"
        new = scaled(src, src.name, path) if src.name in knobs else {}
        if isinstance(src, HwHintsConfig) and src.sample_every is UNSET:
            from pghot.machine.sources import HwHints

            every = _defaults(HwHints)["sample_every"]
            if accesses < MIN_SAMPLES * every:
                new["sample_every"] = max(1, accesses // TARGET_SAMPLES)
                changed[f"{path}.sample_every"] = [every, new["sample_every"]]
        sources.append(dataclasses.replace(src, **new) if new else src)
    replace: dict[str, Any] = {"sources": sources}
    for name in ("tracker", "promoter", "numab2", "tpp", "damon", "pghot_v8"):
        table = getattr(config, name)
        new = scaled(table, name, name)
        if name == "pghot_v8" and factor is not None and table.freq_window_ms is UNSET:
            from pghot.model.pfnarray import MODES

            mode = V8_DEFAULTS["mode"] if table.mode is UNSET else table.mode
            window = MODES[mode].window_ms  # the mode's default (V8_DEFAULTS: None)
            new["freq_window_ms"] = max(1, round(window * factor))
            changed["pghot_v8.freq_window_ms"] = [window, new["freq_window_ms"]]
        elif name == "pghot_v8" and factor is not None and table.freq_window_ms is not None:
            if _as_ns("freq_window_ms", table.freq_window_ms) > span_ns:
                given["pghot_v8.freq_window_ms"] = table.freq_window_ms
        if new:
            replace[name] = dataclasses.replace(table, **new)
    if factor is not None:
        # memtis has no config table: the replay passes it this (pghot.sim.bounds.make_memtis)
        interval = MEMTIS_DEFAULTS["kmigrated_interval_ms"]
        changed["memtis.kmigrated_interval_ms"] = [interval, max(1, round(interval * factor))]
        for key, default in (
            ("oracle_interval_ms", ORACLE_INTERVAL_MS),
            ("ping_pong_window_ms", PING_PONG_WINDOW_MS),
        ):
            if getattr(config, key) is None:
                replace[key] = max(1, round(default * factor))
                changed[key] = [default, replace[key]]
        for key in ("oracle_interval_ms", "ping_pong_window_ms"):
            value = getattr(config, key)
            if value is not None and _as_ns(key, value) > span_ns:
                given[key] = value
    if not changed and not given:
        return config, None
    out = dataclasses.replace(config, **replace).validate() if changed else config
    record: dict[str, Any] = {"factor": factor, "span_s": span_ns / 1e9, "knobs": changed}
    if given:
        record["given_longer"] = given
    return out, record


def _as_ns(key: str, value: int) -> int:
    """A time knob's value in ns, by its unit suffix (``_ms`` or ``_us``)."""
    return int(value) * (1000 if key.endswith("_us") else 10**6)


def scaled_tables(scaled: Mapping[str, Any] | None, table: str) -> dict[str, int]:
    """The knobs of ``table`` that :func:`scale_to_trace` set (``scaled`` its record, or None).

    The ``v2`` policy runs with these alone: the v2 defaults, their time knobs scaled.

    >>> scaled_tables({"knobs": {"promoter.interval_ms": [20, 1], "oracle_interval_ms": [1000, 5]}},
    ...               "promoter")
    {'interval_ms': 1}
    """
    if scaled is None:
        return {}
    pre = table + "."
    return {k[len(pre) :]: v[1] for k, v in scaled["knobs"].items() if k.startswith(pre)}


def scaled_text(scaled: Mapping[str, Any], hz: int) -> list[str]:
    """The summary's lines about what :func:`scale_to_trace` changed.

    >>> s = {"factor": 0.005, "span_s": 0.1, "knobs": {"promoter.interval_ms": [20, 1],
    ...      "sources[0].scan_period_ms": [1000, 5], "damon.sample_us": [5000, 25]}}
    >>> for line in scaled_text(s, 1000): print(line)  # doctest: +NORMALIZE_WHITESPACE
    scaled: the trace lasts 0.1 s, shorter than 5 s: the kernel's time knobs left at their defaults
      x0.005 (its span over 20 s; --set scale_to_trace=off keeps them): promoter.interval_ms 20 -> 1,
      sources[0].scan_period_ms 1,000 -> 5, damon.sample_us 5,000 -> 25; at hz=1000 a period under
      1 ms acts as one jiffy
    """
    knobs = ", ".join(f"{k} {a:,} -> {b:,}" for k, a, b in ((k, *v) for k, v in scaled["knobs"].items()))
    f = scaled["factor"]
    lines = []
    given = scaled.get("given_longer") or {}
    if scaled["knobs"] and f is None:
        lines.append(
            f"scaled: a sampling period larger than the trace ({knobs}; --set scale_to_trace=off keeps it)"
        )
    elif scaled["knobs"]:
        line = (
            f"scaled: the trace lasts {scaled['span_s']:.3g} s, shorter than {SCALE_BELOW_S} s: the kernel's "
            f"time knobs left at their defaults x{f:.3g} (its span over {TARGET_S} s; --set "
            f"scale_to_trace=off keeps them): {knobs}"
        )
        jiffy = {"_ms": 1000 / hz, "_us": 10**6 / hz}
        if any(b < jiffy.get(k[-3:], 0) for k, (_, b) in scaled["knobs"].items()):
            line += f"; at hz={hz} a period under {1000 / hz:g} ms acts as one jiffy"
        lines.append(line)
    if given:
        what = ", ".join(f"{k}={v:,}" for k, v in given.items())
        lines.append(
            f"given, so not scaled, and longer than the trace ({scaled['span_s']:.3g} s): {what}; "
            "a window or period longer than the trace acts as an unbounded one"
        )
    return lines
