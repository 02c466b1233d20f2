"""Why a replay's result is degenerate, and which knob would change it.

:func:`diagnose` reads a finished replay's numbers and says, in one line
each, what a tiering developer would otherwise have to work out: a source
that made no report (the trace ends before its first scan, or has fewer
accesses than its sampling period), a promoting policy that promoted
nothing, a top tier that holds the whole footprint.  :class:`TraceWatch`
and :func:`reading_notes` say what reading the trace dropped or could not
use: time stamps that never advance (or span less than a jiffy), perf
samples without a physical address, malformed lines skipped
(``skip_bad``), CPUs without a node.  The lines go into
:attr:`pghot.sim.Result.notes`, which the text summary and the JSON both
show; the reader's counters go into ``Result.trace["reading"]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from pghot._output import pct, size
from pghot._types import Source
from pghot.traces import TraceChunk

__all__ = ["LLC_ABSORBED", "TraceWatch", "diagnose", "llc_note", "reading_notes"]

#: the share of accesses absorbed by the LLC filter above which a footprint that fits in it
#: is called out (:func:`llc_note`)
LLC_ABSORBED = 0.95


class TraceWatch:
    """The records of a chunk stream and their time range, counted on the way through.

    :meth:`wrap` passes every chunk on unchanged (anything that is not a
    :class:`TraceChunk` too: the consumer rejects it).

    Examples
    --------
    >>> w = TraceWatch()
    >>> chunks = [TraceChunk(time_ns=[5, 9], pfn=[1, 2]), TraceChunk(time_ns=[7], pfn=[3])]
    >>> sum(len(c) for c in w.wrap(chunks)), w.records, w.first_ns, w.last_ns, w.span_ns
    (3, 3, 5, 9, 4)
    """

    def __init__(self) -> None:
        self.records = 0
        #: the earliest and the latest time stamp seen (None before a record)
        self.first_ns: int | None = None
        self.last_ns: int | None = None

    @property
    def span_ns(self) -> int:
        """Latest minus earliest time stamp (0 before two records)."""
        if self.first_ns is None or self.last_ns is None:
            return 0
        return self.last_ns - self.first_ns

    def wrap(self, chunks: Iterable[Any]) -> Iterator[Any]:
        """``chunks``, counted."""
        for chunk in chunks:
            if isinstance(chunk, TraceChunk) and len(chunk):
                t = chunk.time_ns
                lo, hi = int(np.min(t)), int(np.max(t))
                self.records += len(chunk)
                self.first_ns = lo if self.first_ns is None else min(lo, self.first_ns)
                self.last_ns = hi if self.last_ns is None else max(hi, self.last_ns)
            yield chunk


def reading_notes(
    watch: TraceWatch, reading: Mapping[str, Any] | None, *, hz: int, clock_ns: int | None = None
) -> list[str]:
    """What reading the trace dropped, skipped or could not use, one line each.

    Parameters
    ----------
    watch
        The records the replay read, and their times.
    reading
        The reader's counters (:attr:`pghot.traces.TraceReader.counters`) with
        its ``format`` and ``first_bad``, or None (chunks given, not a file).
    hz
        Jiffies per second of the replay.
    clock_ns
        On the closed clock (``SimConfig.time_model``), the time of the last
        access on it; None: the open clock (the trace's time stamps).

    Examples
    --------
    >>> w = TraceWatch(); _ = list(w.wrap([TraceChunk(time_ns=[0, 0, 0], vaddr=[1, 2, 3])]))
    >>> reading = {"format": "lackey", "instructions": 0, "no_phys_addr": 0, "bad_lines": 0,
    ...            "unknown_cpu": 0, "records": 3, "first_bad": []}
    >>> print(reading_notes(w, reading, hz=1000)[0])  # doctest: +ELLIPSIS
    time: the trace's 3 records all have the time stamp 0 ns: its time never advances...
    >>> reading.update(format="perf", no_phys_addr=97, bad_lines=2, first_bad=[(4, "malformed")])
    >>> for line in reading_notes(w, reading, hz=1000)[1:]:  # doctest: +NORMALIZE_WHITESPACE
    ...     print(line)
    reading: 97 of 100 perf samples (97.0%) had no physical address (phys_addr 0) and were
    dropped; --perf-vaddr (open_trace(perf_space="vaddr")) keeps every sample, by its virtual address
    reading: 2 malformed lines skipped (--skip-bad); the first at line 4: malformed
    """
    out: list[str] = []
    fmt = reading.get("format") if reading else None
    if watch.records >= 2 and watch.span_ns == 0:
        why = ""
        if fmt == "lackey" and reading and reading.get("instructions", 0) == 0:
            why = (
                " (a lackey trace without instruction lines 'I': they are its clock, do not filter them out)"
            )
        elif fmt in ("csv", "npy", "npz"):
            why = " (check the trace's time column)"
        out.append(
            f"time: the trace's {watch.records:,} records all have the time stamp {watch.first_ns} ns: "
            "its time never advances, so the periodic sources, the promoter rounds and the oracle "
            f"see one instant{why}"
        )
        if clock_ns is not None:
            out[-1] += (
                f"; the closed clock advances with the memory stalls alone, to {clock_ns:,} ns "
                "(cpu_ns adds CPU time per access)"
            )
    elif watch.records >= 2 and (watch.span_ns if clock_ns is None else clock_ns) * hz < 10**9:
        span_ns = watch.span_ns if clock_ns is None else clock_ns
        clock = "" if clock_ns is None else " on the closed clock"
        out.append(
            f"time: the trace lasts {span_ns:,} ns{clock}, less than one jiffy (hz={hz}): the periodic "
            "sources, the promoter rounds and the oracle see one instant; raise hz (--set hz=N), or "
            "stretch a lackey trace's clock (--ns-per-instr)"
        )
    if not reading:
        return out
    dropped = int(reading.get("no_phys_addr", 0))
    if dropped:
        total = dropped + int(reading.get("records", 0))
        out.append(
            f"reading: {dropped:,} of {total:,} perf samples ({pct(dropped / total)}) had no physical "
            'address (phys_addr 0) and were dropped; --perf-vaddr (open_trace(perf_space="vaddr")) '
            "keeps every sample, by its virtual address"
        )
    kept = int(reading.get("unmapped_kept", 0))
    if kept:
        out.append(
            f"reading: {kept:,} perf samples had no physical address (phys_addr 0) and were kept as "
            'PFN 0 (keep_unmapped): they all count as one page; open_trace(perf_space="vaddr") keys '
            "every sample by its virtual address instead"
        )
    bad = int(reading.get("bad_lines", 0))
    if bad:
        first = reading.get("first_bad") or []
        where = f"; the first at line {first[0][0]}: {first[0][1]}" if first else ""
        out.append(f"reading: {bad:,} malformed lines skipped (--skip-bad){where}")
    unknown = int(reading.get("unknown_cpu", 0))
    if unknown:
        out.append(f"reading: {unknown:,} records came from CPUs that cpu_to_node does not name (node -1)")
    return out


def _source_reason(i: int, src: Any, accesses: int, span_j: int, hz: int) -> str | None:
    """Why source ``i`` made no report, with the knob to change (None if it reported)."""
    dur = f"the trace lasts {span_j / hz:.6g} s"
    kind = Source(int(src.src))
    # a period giving the trace about 20 of them (the knobs' defaults assume minutes)
    ms = max(1, span_j * 1000 // hz // 20)
    if kind == Source.HINT_FAULT:
        if span_j < src.delay_jiffies:
            return (
                f"sources[{i}] (hint-fault) made no report: {dur}, less than its first scan at "
                f"scan_delay_ms={src.scan_delay_ms}; lower it, e.g. to a 20th of the trace (--source "
                f"hint-fault:scan_delay_ms={ms},scan_period_ms={ms} --set promoter.interval_ms={ms})"
            )
        return (
            f"sources[{i}] (hint-fault) made no report: no page was accessed again after a scan "
            f"unmapped it (scan_period_ms={src.scan_period_ms}, "
            f"scan_window_pages={src.scan_window_pages}); lower scan_period_ms"
        )
    if kind == Source.HW_HINTS:
        return (
            f"sources[{i}] (hw-hints) made no report: the trace has {accesses:,} accesses, "
            f"sample_every={src.sample_every}; lower it (--source "
            f"hw-hints:sample_every={max(1, accesses // 1000)}: about 1,000 samples)"
        )
    if kind == Source.PGTABLE_SCAN:
        return (
            f"sources[{i}] (pgtable-scan) made no report: {dur}, less than interval_ms="
            f"{src.interval_ms}; lower it (--source pgtable-scan:interval_ms={ms})"
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
    freq_windows: Mapping[str, int | None] | None = None,
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
    freq_windows
        Each pghot policy's frequency window in ms (its own: ``v2`` runs with
        the v2 defaults), when known: a policy that promoted nothing is told
        to raise it only when it is shorter than the trace.

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
                window = (freq_windows or {}).get(name)
                if window is not None and window * hz >= 1000 * (span_jiffies + 1):
                    fix = (
                        f"its window (freq_window_ms={window:,}) already spans the trace: "
                        "lower tracker.threshold, or have the sources report more often"
                    )
                else:
                    fix = "lower tracker.threshold or raise tracker.freq_window_ms (--set ...)"
                out.append(
                    f"{name}: no promotions: no lower-tier page reached the tracker's threshold within "
                    f"its window; {fix}"
                )
            elif p.promotions == 0 and p.kind == "second-access":
                out.append(f"{name}: no promotions: no lower-tier page was reported twice within the window")
    if top_pages < footprint:
        for name, p in policies.items():
            if p.kind == "damon" and p.promotions == 0:  # acts on no report: its own reasons
                from pghot.sim.damon import why_no_promotion

                why = why_no_promotion(name, p.stats)
                if why:
                    out.append(why)
    return out


def llc_note(llc: Mapping[str, Any] | None, footprint_bytes: int) -> str | None:
    """The note when the trace's footprint fits in the LLC filter and it absorbed nearly
    every access: what reaches memory is then the compulsory (and conflict) misses, and
    a tiering policy has almost nothing to act on.  None otherwise.

    >>> print(llc_note({"size_bytes": 110100480, "accesses": 1000, "hits": 998, "misses": 2}, 20 << 20))
    ... # doctest: +NORMALIZE_WHITESPACE
    LLC: the footprint (20.0 MiB) fits in the 105.0 MiB LLC filter, which absorbed 99.8% of the
    accesses: only its compulsory and conflict misses reach memory, so tiering has little to act
    on; set llc_bytes to the cache the program gets beside others (e.g. --set llc_bytes=3932160,
    3.75 MiB: a multiple of line size x ways), or llc_bytes=0 to replay every access
    >>> llc_note({"size_bytes": 1 << 20, "accesses": 10, "hits": 9, "misses": 1}, 20 << 20) is None
    True
    """
    if not llc or not llc.get("accesses"):
        return None
    share = llc["hits"] / llc["accesses"]
    if footprint_bytes > llc["size_bytes"] or share < LLC_ABSORBED:
        return None
    return (
        f"LLC: the footprint ({size(footprint_bytes)}) fits in the {size(llc['size_bytes'])} LLC filter, "
        f"which absorbed {pct(share)} of the accesses: only its compulsory and conflict misses reach "
        "memory, so tiering has little to act on; set llc_bytes to the cache the program gets beside "
        "others (e.g. --set llc_bytes=3932160, 3.75 MiB: a multiple of line size x ways), or "
        "llc_bytes=0 to replay every access"
    )
