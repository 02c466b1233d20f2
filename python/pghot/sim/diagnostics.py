"""Why a replay's result is degenerate, and which knob would change it.

:func:`diagnose` reads a finished replay's numbers and says, in one line
each, what a tiering developer would otherwise have to work out: a source
that made no report (the trace ends before its first scan, or has fewer
accesses than its sampling period), a promoting policy that promoted
nothing, a top tier that holds the whole footprint, time stamps that never
advance.  The lines go into :attr:`pghot.sim.Result.notes`, which the text
summary and the JSON both show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pghot._types import Source

__all__ = ["diagnose"]


def _source_reason(i: int, src: Any, accesses: int, span_j: int, hz: int) -> str | None:
    """Why source ``i`` made no report, with the knob to change (None if it reported)."""
    dur = f"the trace lasts {span_j / hz:.6g} s"
    kind = Source(int(src.src))
    if kind == Source.HINT_FAULT:
        if span_j < src.delay_jiffies:
            return (
                f"sources[{i}] (hint-fault) made no report: {dur}, less than its first scan at "
                f"scan_delay_ms={src.scan_delay_ms}; lower it (--source "
                f"hint-fault:scan_delay_ms=N,scan_period_ms=N)"
            )
        return (
            f"sources[{i}] (hint-fault) made no report: no page was accessed again after a scan "
            f"unmapped it (scan_period_ms={src.scan_period_ms}, "
            f"scan_window_pages={src.scan_window_pages}); lower scan_period_ms"
        )
    if kind == Source.HW_HINTS:
        return (
            f"sources[{i}] (hw-hints) made no report: the trace has {accesses:,} accesses, "
            f"sample_every={src.sample_every}; lower it (--source hw-hints:sample_every=N)"
        )
    if kind == Source.PGTABLE_SCAN:
        return (
            f"sources[{i}] (pgtable-scan) made no report: {dur}, less than interval_ms="
            f"{src.interval_ms}; lower it (--source pgtable-scan:interval_ms=N)"
        )
    return None  # pragma: no cover - every source kind is above


def diagnose(
    sources: Sequence[Any],
    reports: Sequence[int],
    policies: Mapping[str, Any],
    *,
    accesses: int,
    footprint: int,
    top_pages: int,
    span_jiffies: int,
    hz: int,
) -> list[str]:
    """One line per degenerate part of a replay's result.

    Parameters
    ----------
    sources
        The replay's source objects (:mod:`pghot.machine.sources`, or the compiled
        stages of :mod:`pghot._stages`: the same attributes), in config order.
    reports
        The reports each made.
    policies
        Name -> :class:`pghot.sim.PolicyResult`.

    Examples
    --------
    >>> from types import SimpleNamespace as P
    >>> from pghot.machine.sources import HintFault
    >>> lines = diagnose([HintFault()], [0], {"pghot": P(kind="pghot", promotions=0)},
    ...                  accesses=100, footprint=10, top_pages=20, span_jiffies=180, hz=1000)
    >>> [line[:48] for line in lines]  # doctest: +NORMALIZE_WHITESPACE
    ['sources[0] (hint-fault) made no report: the trac',
     'top tier: 20 pages hold the whole footprint (10 ']
    """
    out: list[str] = []
    if span_jiffies == 0:
        out.append(
            "time: every access has the same time stamp (a trace without instruction lines or "
            "timestamps?): periodic sources, rounds and the oracle see one instant"
        )
    for i, (src, n) in enumerate(zip(sources, reports)):
        if n == 0:
            why = _source_reason(i, src, accesses, span_jiffies, hz)
            if why:
                out.append(why)
    if top_pages >= footprint:
        out.append(
            f"top tier: {top_pages:,} pages hold the whole footprint ({footprint:,} pages): every "
            "access hits the top tier and nothing can be promoted; lower --top-pages"
        )
    elif sum(reports) > 0:
        for name, p in policies.items():
            if p.promotions == 0 and p.kind == "pghot":
                out.append(
                    f"{name}: no promotions: no lower-tier page reached the tracker's threshold within "
                    "its window; lower tracker.threshold or raise tracker.freq_window_ms (--set ...)"
                )
            elif p.promotions == 0 and p.kind == "second-access":
                out.append(f"{name}: no promotions: no lower-tier page was reported twice within the window")
    return out
