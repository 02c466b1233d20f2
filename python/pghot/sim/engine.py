"""The replay loop: read the trace once, then drive every policy through it.

:func:`replay` materialises the trace as a compact stream of logical pages
and jiffies (:class:`_Stream`, spilled to disk beyond ``spill_bytes``), then
runs it chunk by chunk (:class:`_Sim`) and collects the
:class:`pghot.sim.results.Result`.

Each chunk goes once through the shared stages (metric bins, heat map,
the oracle's counts, the sources), then to every policy one oracle
interval at a time (``_Policy.run_piece``, on the policy threads when the
stretch is large).  A policy sees, in this order, within a stretch:

- the accesses in time order; a report after the access that made it;
- a round at time ``T`` after every access before ``T`` and every report
  before ``T``, and after the page-table scan reports of a scan due at
  ``T``; before the accesses at ``T`` and the reports they make.

So a policy's result depends on the trace and its own knobs only: not on
the other policies (their rounds do not cut its stretches), not on the
threads, and not on where the trace's chunks end (a chunk's accesses at
its last time wait for the next chunk).  The rounds of a promoter run
every interval from the first to the last access, as kpromoted wakes every
interval; a stretch of idle ones (nothing queued, nothing arriving) is
counted at once (``Promoter.idle_rounds``), which is what running them
would do.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

import numpy as np

from pghot import _stages
from pghot._output import progress as _progress_bar
from pghot._pagemap import PageMap, clamped_jiffies, closed_clock
from pghot._validate import int_in, ms_to_jiffies
from pghot.machine.sources import Reports, chunk_pages
from pghot.model import sim as ref
from pghot.sim.bounds import (
    ORACLE_CANDIDATE,
    best_oracle,
    hot_sets,
    make_memtis,
    make_oracle,
    oracle_intervals,
)
from pghot.sim.budget import check_fits
from pghot.sim.config import HintFaultConfig, PgtableScanConfig, SimConfig, _build_sources, _build_stages
from pghot.sim.damon import Damon
from pghot.sim.diagnostics import TraceWatch, diagnose, llc_note, reading_notes
from pghot.sim.policies import (
    ALTERNATIVES,
    BASELINES,
    DESIGNS,
    THROTTLED_RATIO,
    Machine,
    _check_policies,
    _describe,
    _Pghot,
    _Policy,
    _SecondAccess,
    build_machine,
    report_keys,
)
from pghot.sim.results import PolicyResult, Result, migration_metrics
from pghot.sim.scaling import TRACKER_WINDOW_MS, scale_to_trace, scaled_tables, scaled_text
from pghot.sim.v8 import PghotV8, v8_knobs, v8_parts
from pghot.topology import Topology
from pghot.traces import PageMapper, TraceChunk, open_trace

__all__ = ["ENGINES", "MAX_BINS", "demo_trace", "replay"]

#: the stage implementations :func:`replay` runs on
ENGINES = ("compiled", "reference")

_SPILL_BYTES = 256 << 20
_HEAT_BINS = 200
#: most metrics bins (time-series points) a replay keeps; a longer trace gets wider bins
MAX_BINS = 100_000
#: accesses and reports of a segment from which its policies run on threads
PARALLEL_MIN = 1 << 14
#: most items (pieces, judgements) a policy's lane holds: how far the shared stages run ahead
LANE_DEPTH = 8
#: items a policy's lane runs before the other lanes take their turn on the pool's threads
LANE_TURN = 2
#: from how many values :func:`_count_in` looks them up in a table instead of searching
_COUNT_IN_TABLE = 2048
#: fewest metrics bins of a trace when ``interval_ms`` is not set (its 1 s default narrows)
MIN_BINS = 100


def _round_down_125(n: int) -> int:
    """The largest 1, 2 or 5 times a power of ten that is <= ``n`` (n >= 1).

    >>> [_round_down_125(n) for n in (1, 3, 7, 26, 1000, 1999)]
    [1, 2, 5, 20, 1000, 1000]
    """
    p = 1
    while p * 10 <= n:
        p *= 10
    return max(m * p for m in (1, 2, 5) if m * p <= n)


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


class _Stream:
    """Logical pages (uint32) and jiffies (int64), chunk by chunk; spills to disk."""

    def __init__(self, spill_bytes: int) -> None:
        self.mem: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
        self.held = 0
        self.spill_bytes = spill_bytes
        self.file: IO[bytes] | None = None
        self.nfile = 0
        self.accesses = 0
        #: the last-level-cache filter's counters, when there was one
        self.llc: dict[str, int] | None = None
        #: the times are the closed clock's (nanoseconds until :func:`_apply_clock`)
        self.closed = False
        #: the closed clock's CPU time and its last access's time, nanoseconds (:func:`_apply_clock`)
        self.cpu_ns = 0.0
        self.span_ns = 0

    def append(self, pages: np.ndarray, times: np.ndarray, nids: np.ndarray | None = None) -> None:
        """A chunk: pages, jiffies and (a multi-node machine's trace) each access's node, int16."""
        self.accesses += pages.shape[0]
        nbytes = pages.nbytes + times.nbytes + (0 if nids is None else nids.nbytes)
        if self.file is None and self.held + nbytes <= self.spill_bytes:
            self.mem.append((pages, times, nids))
            self.held += nbytes
            return
        if self.file is None:
            self.file = tempfile.TemporaryFile(prefix="pghot-replay-")
        np.save(self.file, pages)
        np.save(self.file, times)
        np.save(self.file, np.zeros(0, np.int16) if nids is None else nids)
        self.nfile += 1

    def triples(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        """The chunks with their nodes (None: the trace has no node column)."""
        yield from self.mem
        if self.file is not None:
            self.file.seek(0)
            for _ in range(self.nfile):
                pages, times, nids = np.load(self.file), np.load(self.file), np.load(self.file)
                yield pages, times, (nids if nids.shape[0] == pages.shape[0] and pages.shape[0] else None)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for pages, times, _ in self.triples():
            yield pages, times

    def map_times(self, fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> None:
        """Replace each chunk's times by ``fn(pages, times)``, chunk by chunk in order."""
        self.mem = [(p, fn(p, t), n) for p, t, n in self.mem]
        if self.file is None:
            return
        old, nfile = self.file, self.nfile
        self.file, self.nfile = tempfile.TemporaryFile(prefix="pghot-replay-"), 0
        try:
            old.seek(0)
            for _ in range(nfile):
                pages, times, nids = np.load(old), np.load(old), np.load(old)
                np.save(self.file, pages)
                np.save(self.file, fn(pages, times))
                np.save(self.file, nids)
                self.nfile += 1
        finally:
            old.close()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def _tier_pages(config: SimConfig, footprint: int) -> tuple[int, int]:
    """The machine's top-tier and lower-tier pages for a trace of ``footprint`` pages."""
    topo = config.sim_topology()
    if topo is not None:  # the tiers' sizes are the topology's
        top = sum(n.nr_pages for n in topo.nodes if n.toptier)
        lower = topo.lower_pages()
        if footprint > top + lower:
            raise ValueError(
                f"config: topology: its {top} top-tier + {lower} "
                f"lower-tier pages cannot hold the trace's {footprint} pages"
            )
        return top, lower
    top = config.top_pages if config.top_pages is not None else max(1, footprint // 4)
    lower = config.lower_pages if config.lower_pages is not None else 2 * footprint
    return top, lower


def _apply_clock(stream: _Stream, top_pages: int, config: SimConfig, engine: str = "compiled") -> int:
    """Turn a closed-clock stream's nanoseconds into jiffies with the memory stalls; the last jiffy.

    An access is issued at its trace time (the CPU's work: lackey's
    instructions), plus ``cpu_ns`` per earlier access, plus the stall of
    every earlier access: ``top_ns`` for a page on the top tier of the
    ``none`` policy's machine, ``lower_ns`` for the others.  With
    first-touch placement and no migration, the top tier holds the first
    ``top_pages`` pages touched (every top-tier node is tried before the
    lower tier), and the logical pages are numbered in the order of their
    first touch: the page ``p`` is on the top tier when ``p < top_pages``.
    ``stream.cpu_ns`` becomes the CPU time (the last access's trace time
    plus ``cpu_ns`` per access), ``stream.span_ns`` the last access's time.
    The compiled stage (:func:`pghot._pagemap.closed_clock`) or its
    specification (:func:`pghot.model.sim.closed_clock`), chunk by chunk.
    """
    top_ns, lower_ns, cpu_ns = float(config.top_ns), float(config.lower_ns), float(config.cpu_ns)
    fn = closed_clock if engine == "compiled" else ref.closed_clock
    state: dict[str, Any] = {"stall": 0.0, "i": 0, "last": 0, "t": 0, "ns": 0}

    def clock(pages: np.ndarray, times: np.ndarray) -> np.ndarray:
        n = pages.shape[0]
        if n == 0:
            return times
        j, state["stall"], state["ns"] = fn(
            pages,
            times,
            top_pages,
            top_ns,
            lower_ns,
            cpu_ns,
            state["stall"],
            state["i"],
            config.hz,
            state["last"],
        )
        state["i"] += n
        state["t"] = int(times[-1])
        state["last"] = int(j[-1])
        return j

    stream.map_times(clock)
    stream.cpu_ns = state["t"] + cpu_ns * state["i"]
    stream.span_ns = int(state["ns"])
    return int(state["last"])


def _trace_format(chunks: Iterable[TraceChunk], first: TraceChunk) -> str | None:
    """The trace's format, for the filter ``llc_bytes`` None gives it: a reader's, else guessed.

    Chunks that are not a :class:`pghot.traces.TraceReader`, and the
    ``.npy``/``.npz`` form of a trace (``pghot convert``, ``--cache``), are a
    lackey trace when they carry lackey's ``kind`` (no other reader sets it).
    """
    fmt = getattr(chunks, "format", None)
    if isinstance(fmt, str) and not (fmt in ("npy", "npz") and first.kind is not None):
        return fmt
    return "lackey" if first.kind is not None else None


class _Nodes:
    """The accessing nodes of a trace on a configured topology (``SimConfig.topology``).

    Each access's node is the trace's ``nid``, else its ``cpu``'s node
    (:meth:`pghot.Topology.nodes_of_cpus`), else none (the whole trace is
    then from the topology's default node).  A node that is not one of the
    topology's is an error (SEMANTICS.md F7: an unknown nid is never used);
    -1 (unknown) is kept: it reaches the tracker as ``NUMA_NO_NODE``.
    """

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.known = np.array(sorted(n.nid for n in topology.nodes), dtype=np.int64)
        self.is_node = np.zeros(int(self.known[-1]) + 1, dtype=bool)  # nid -> a node of the topology
        self.is_node[self.known] = True
        self.issued: dict[int, int] = {}
        self.first: list[tuple[np.ndarray, np.ndarray]] = []  # (new pages, their first access's node)
        self.any = False  # some chunk had a node column

    def of(self, chunk: TraceChunk, first_record: int) -> np.ndarray | None:
        """The chunk's nodes as int16, or None; ValueError naming a record with a bad node."""
        if chunk.nid is not None:
            nid = np.asarray(chunk.nid).astype(np.int64, copy=False)
            what = "nid"
        elif chunk.cpu is not None:
            try:
                nid = self.topology.nodes_of_cpus(chunk.cpu).astype(np.int64)
            except ValueError as e:
                raise ValueError(f"the trace's cpu column on the topology: {e}") from None
            what = "cpu's node"
        else:
            return None
        inside = (nid >= 0) & (nid < self.is_node.shape[0])
        bad = (nid != -1) & ~inside
        bad[inside] |= ~self.is_node[nid[inside]]
        if bad.any():
            i = int(bad.argmax())
            raise ValueError(
                f"record {first_record + i}: {what} {int(nid[i])} is not a node of the topology "
                f"(nodes {self.known.tolist()}; -1 for unknown)"
            )
        self.any = True
        return nid.astype(np.int16)

    def count(self, pages: np.ndarray, nids: np.ndarray | None, before: int) -> None:
        """Count the accesses per node; note the node of each new page's first access.

        The mappers number pages densely in first-appearance order, so the
        first access of a new page (id ``>= before``) is where the page
        exceeds every id before it: one running maximum, no sort.
        """
        d = self.topology.default_node
        if nids is None:  # the new pages keep home -1: the default node
            self.issued[d] = self.issued.get(d, 0) + pages.shape[0]
            return
        counts = np.bincount(np.where(nids < 0, d, nids), minlength=self.is_node.shape[0])
        for k in np.flatnonzero(counts).tolist():
            self.issued[k] = self.issued.get(k, 0) + int(counts[k])
        pg = pages.astype(np.int64)
        seen = np.maximum.accumulate(np.concatenate([np.array([before - 1], np.int64), pg]))[:-1]
        first = np.flatnonzero(pg > seen)
        if first.shape[0]:
            self.first.append((pg[first], nids[first].astype(np.int64)))

    def homes(self, footprint: int) -> np.ndarray:
        """Per logical page the top-tier node its first touch allocates on (-1: the default node).

        The node of the page's first access, or that node's promotion
        target when it is a lower-tier node (a CPU on a lower-tier node:
        F7's mapping, used for placement as for promotion).
        """
        out = np.full(footprint, -1, dtype=np.int64)
        for pg, nd in self.first:
            out[pg] = nd
        for nid in np.unique(out).tolist():
            if nid >= 0 and not self.topology.is_toptier(nid):
                out[out == nid] = self.topology.promotion_target(nid)
        return out


def _materialise(
    chunks: Iterable[TraceChunk],
    config: SimConfig,
    progress: bool,
    spill_bytes: int,
    engine: str,
    nodes: _Nodes | None = None,
) -> tuple[_Stream, int, int, str]:
    """Read the trace once: dense logical pages and clamped jiffies (and nodes, with ``nodes``)."""
    mapper: Any = PageMap() if engine == "compiled" else PageMapper(0, 2**40, page_size=1)
    llc: Any = None
    stream = _Stream(spill_bytes)
    records = 0
    origin: int | None = None
    last = 0
    space = ""
    bar = _progress_bar(None, enabled=progress, desc="reading", unit="acc")
    try:
        for chunk in chunks:
            if not isinstance(chunk, TraceChunk):
                raise TypeError(f"chunks must be TraceChunk objects, not {type(chunk).__name__}")
            if len(chunk) == 0:
                continue
            if origin is None:
                origin = int(chunk.time_ns[0])
                fmt = _trace_format(chunks, chunk)
                llc = config.llc(fmt)
                stream.closed = config.closed_loop(fmt)
            nids = nodes.of(chunk, records) if nodes is not None else None
            records += len(chunk)
            if llc is not None:  # only the misses reach the memory
                bar.update(len(chunk))
                addr = chunk.vaddr if chunk.vaddr is not None else chunk.pfn * np.uint64(config.page_size)
                kept = np.flatnonzero(llc.filter(addr, chunk.size))
                if kept.shape[0] == 0:
                    continue
                # the fields read below (addresses, times), gathered once each
                chunk = TraceChunk(
                    time_ns=chunk.time_ns[kept],
                    pfn=None if chunk.pfn is None else chunk.pfn[kept],
                    vaddr=None if chunk.vaddr is None else chunk.vaddr[kept],
                )
                if nids is not None:
                    nids = nids[kept]
            keys, kind = chunk_pages(chunk, config.page_size)
            if space and kind != space:
                raise ValueError("the trace mixes records with and without pfn")
            space = kind
            before = len(mapper)
            if engine == "compiled":
                try:
                    pages = mapper.map(keys)
                except ValueError:
                    raise ValueError("more than 2**32 distinct pages") from None
            else:
                pages = mapper.map(keys)
                if len(mapper) > 2**32:
                    raise ValueError("more than 2**32 distinct pages")
            # the closed clock keeps nanoseconds until the stalls are known (_apply_clock)
            hz = 10**9 if stream.closed else config.hz
            if engine == "compiled":
                t = clamped_jiffies(chunk.time_ns, origin, hz, last)
            else:
                t = chunk.times_jiffies(hz, origin)
                t = np.maximum.accumulate(np.maximum(t, last))
            last = int(t[-1])
            pages = pages.astype(np.uint32, copy=False)
            if nodes is not None:
                nodes.count(pages, nids, before)
            stream.append(pages, t, nids)
            if llc is None:
                bar.update(len(chunk))
    except BaseException:
        stream.close()
        raise
    finally:
        bar.close()
    if llc is not None:
        stream.llc = {"size_bytes": llc.size_bytes, "auto": config.llc_bytes is None, **llc.counters()}
    return stream, len(mapper), last, space


class _Sources:
    """The compiled sources (one :class:`pghot._stages.CombinedStage`) with the reference's interface."""

    def __init__(self, combined: Any) -> None:
        self.combined = combined
        self.sources = combined.stages

    def feed(self, pages: np.ndarray, nid: int, times: np.ndarray) -> Reports:
        # the combined stage's nid is the machine's default node (set by _Sim)
        return Reports(*self.combined.feed(pages, times, checked=False))  # the stream: checked once

    def flush(self, now: int | None = None) -> Reports:
        return Reports(*self.combined.flush(now))


def _run_piece(p: _Policy, pages: np.ndarray, times: np.ndarray, reps: Reports, horizon: int) -> None:
    p.run_piece(pages, times, reps, horizon)  # a bound call: the subclass's


# -- the driver -----------------------------------------------------------------------


class _Sim:
    def __init__(
        self,
        config: SimConfig,
        footprint: int,
        last_jiffy: int,
        baselines: Sequence[str],
        designs: Sequence[str],
        engine: str = "compiled",
        threads: int = 1,
        policies: Sequence[str] | None = None,
        stream: Iterable[tuple[np.ndarray, np.ndarray]] | None = None,
        nodes: _Nodes | None = None,
        scaled: Mapping[str, Any] | None = None,
    ) -> None:
        """``scaled``: what :func:`scale_to_trace` changed (v2's and memtis's time knobs too)."""
        c = config
        v2_knobs = scaled_tables(scaled, "tracker"), scaled_tables(scaled, "promoter")
        self.config = c
        self.engine = engine
        self.footprint = footprint
        topo = c.sim_topology()
        self.top_pages, self.lower_pages = _tier_pages(c, footprint)
        if footprint > self.top_pages + self.lower_pages:
            raise ValueError(
                f"config: lower_pages: {self.lower_pages} lower-tier + {self.top_pages} top-tier "
                f"pages cannot hold the trace's {footprint} pages"
            )
        # the policies in the order given (replay() checked the names); without
        # ``policies``, pghot, the baselines, then the designs
        chosen = list(policies) if policies is not None else ["pghot", *baselines, *designs]
        # v2 is pghot's own run when pghot has no knobs of its own (an alias)
        self.chosen = chosen
        v2_runs = (dict(c.tracker), dict(c.promoter)) != tuple(map(dict, v2_knobs)) or "pghot" not in chosen
        names = [n for n in chosen if n != "v2" or v2_runs]
        # the tracker knobs of each pghot policy (a design's are its own over the configured ones)
        trackers = {
            n: c.tracker if n in ("pghot", "pghot-throttled") else v2_knobs[0] if n == "v2" else DESIGNS[n]
            for n in names
            if n in DESIGNS or n in ("pghot", "pghot-throttled", "v2")
        }
        kinds = list(trackers.values())
        v8 = v8_knobs(c.pghot_v8)  # checked before any machine is allocated
        kinds += [v8_parts(v8, footprint)[0] for n in names if n == "pghot-v8"]
        # each pghot policy's frequency window (ms), for the diagnosis of no promotion
        own = dict(c.tracker).get("freq_window_ms", TRACKER_WINDOW_MS)
        self.windows: dict[str, int | None] = {
            n: dict(t).get("freq_window_ms", own if n in DESIGNS else TRACKER_WINDOW_MS)
            for n, t in trackers.items()
        }
        # the oracle searched over intervals builds a machine for each candidate
        self.oracle_j = ms_to_jiffies(c.oracle_ms, c.hz)
        self.oracle_js: list[int] = []
        if "oracle" in names:
            knobs = (scaled or {}).get("knobs", {})
            search = c.oracle_search == "on" or (
                c.oracle_search == "auto" and (c.oracle_interval_ms is None or "oracle_interval_ms" in knobs)
            )
            self.oracle_js = oracle_intervals(self.oracle_j, last_jiffy, search=search)
        check_fits(  # before any machine is allocated
            self.top_pages,
            self.lower_pages,
            footprint,
            [*names, *["oracle"] * (len(self.oracle_js) - 1)],
            trackers=kinds,
            node_pages=None if topo is None else [n.nr_pages for n in topo.nodes],
        )
        self.topology = topo if topo is not None else Topology.two_tier(self.top_pages, self.lower_pages)
        self.default_nid = self.topology.default_node
        #: each logical page's first-touch node (several top-tier nodes only; None: the default
        #: node's list for every page, as on the two-tier machine)
        self.homes: np.ndarray | None = None
        multi_top = len(self.topology.toptier_nids()) > 1
        if nodes is not None and multi_top:
            self.homes = nodes.homes(footprint)
        #: accesses per node (the trace's, the same for every policy)
        self.issued: dict[int, int] | None = dict(nodes.issued) if nodes is not None else None
        #: the node of each page's last access, for the reports' nids (None: no node column)
        self.last_nid: np.ndarray | None = None
        if nodes is not None and nodes.any:
            self.last_nid = np.full(footprint, -1, dtype=np.int16)
        self.notes: list[str] = []
        if nodes is not None and not nodes.any and len(self.topology.nodes) > 1:
            self.notes.append(
                f"the trace has no nid or cpu column: every access is from the topology's default "
                f"node {self.default_nid}"
            )
        # an interval beyond 2**62 jiffies is one bin for any trace anyway; the
        # bound keeps ``times // bin_j`` in int64 (interval_ms=10**30 overflowed)
        span = last_jiffy + 1
        if c.interval_ms is not None:
            self.bin_j = min(ms_to_jiffies(c.interval_ms, c.hz), 2**62)
        else:  # 1 s bins, narrower on a short trace so that its plots are not empty
            self.bin_j = c.hz
            if span < MIN_BINS * self.bin_j:
                self.bin_j = _round_down_125(max(1, span // MIN_BINS))
                self.notes.append(
                    f"metrics bins of {self.bin_j * 1000 / c.hz:g} ms: the trace spans {span / c.hz:g} s, "
                    f"fewer than {MIN_BINS} bins of 1 s (set interval_ms to choose)"
                )
        # The bins cover the trace's whole span: bound their number before any
        # is allocated (a trace spanning 2**62 ns would need 4.6e9 one-second bins).
        factor = -(-(last_jiffy + 1) // (self.bin_j * MAX_BINS))
        if factor > 1:
            self.bin_j *= _round_up_125(factor)
            self.notes.append(
                f"metrics bins widened from interval_ms={c.interval_ms or 1000} to "
                f"{self.bin_j / c.hz:g} s: the trace spans {(last_jiffy + 1) / c.hz:g} s, "
                f"more than {MAX_BINS:,} bins"
            )
        self.nbins = last_jiffy // self.bin_j + 1
        self.sources = (
            _Sources(_build_stages(c, footprint, nid=self.default_nid))
            if engine == "compiled"
            else _build_sources(c)
        )
        self._report_nids = _stages.report_nids if engine == "compiled" else ref.report_nids
        self.acc_bins = np.zeros(self.nbins, dtype=np.int64)
        self.oracle = (
            _stages.IntervalCounts(footprint) if engine == "compiled" else ref.IntervalCounts(footprint)
        )
        # the compiled stages skip the value checks of the stream, made (and checked) by _materialise
        self._bin_counts = (
            functools.partial(_stages.bin_counts, checked=False) if engine == "compiled" else ref.bin_counts
        )
        self._heat_add = (
            functools.partial(_stages.heat_add, checked=False) if engine == "compiled" else ref.heat_add
        )
        oracle: Any = self.oracle
        self._add = functools.partial(oracle.add, checked=False) if engine == "compiled" else oracle.add
        self.next_oracle = self.oracle_j
        #: a piece ran since the last judgement (a policy may have promotions to judge)
        self.worked = False
        self.last_jiffy = last_jiffy
        self.heat_tj = max(1, -(-(last_jiffy + 1) // _HEAT_BINS))
        self.heat_pp = max(1, -(-footprint // _HEAT_BINS))
        self.heat_nt = -(-(last_jiffy + 1) // self.heat_tj)
        self.heat_np = -(-footprint // self.heat_pp)
        self.heat = np.zeros(self.heat_nt * self.heat_np, dtype=np.int64)

        self.v2_alias = False
        pol: list[_Policy] = []
        for n in chosen:
            if n == "pghot":
                desc = _describe(c.tracker, c.promoter)
                pol.append(_Pghot("pghot", self.machine(c.tracker, c.promoter), desc))
            elif n == "pghot-throttled":
                kw = {**c.promoter}
                if kw.get("throttle_demotion_ratio") is None:
                    kw["throttle_demotion_ratio"] = THROTTLED_RATIO
                pol.append(
                    _Pghot(
                        n,
                        self.machine(c.tracker, kw),
                        f"pghot, the round's budget halved each window while demotions reach "
                        f"{kw['throttle_demotion_ratio']} % of promotions (proposed in the review "
                        "of the later versions, SEMANTICS.md section 6)",
                    )
                )
            elif n == "pghot-v8":
                pol.append(PghotV8(n, self.machine(*v8_parts(v8, footprint)), v8))
            elif n == "none":
                pol.append(_Policy("none", self.machine()))
            elif n == "v2":
                if v2_runs:
                    how = " (time knobs scaled to the trace)" if v2_knobs[0] or v2_knobs[1] else ""
                    pol.append(_Pghot("v2", self.machine(*v2_knobs), f"pghot with the v2 defaults{how}"))
                else:  # the configured policy is v2: one run, reported under both names
                    self.v2_alias = True
            elif n == "second-access":
                pol.append(_SecondAccess("second-access", self.machine()))
            elif n in ALTERNATIVES:
                pol.append(ALTERNATIVES[n](n, self.machine()))
            elif n == "oracle":  # the upper bound: needs the whole stream's hot sets first
                if stream is None:
                    raise ValueError("policies: oracle needs the trace's stream (replay() passes it)")
                for j in self.oracle_js:
                    hot = hot_sets(stream, j, self.top_pages, footprint)
                    name = "oracle" if j == self.oracle_j else f"{ORACLE_CANDIDATE}{j}"
                    pol.append(make_oracle(self.machine(), c, j, footprint, self.top_pages, hot, name=name))
            elif n == "memtis":
                memtis = scaled_tables(scaled, "memtis")
                pol.append(make_memtis(self.machine(), c, self.oracle_j, footprint, self.top_pages, memtis))
            elif n == "damon":
                pol.append(Damon(n, self.machine()))
            else:  # a design
                kw = {k: v for k, v in c.tracker.items() if k not in ("store", "queue", "mode")}
                kw.update(DESIGNS[n])
                pol.append(_Pghot(n, self.machine(kw, c.promoter), f"design {n}, configured knobs"))
        names = [p.name for p in pol]
        if len(set(names)) != len(names):
            raise ValueError(f"a policy is named twice: {names}")
        faulting = [n for n in names if n in ALTERNATIVES]
        if faulting and not any(isinstance(s, HintFaultConfig) for s in c.sources):
            self.notes.append(
                f"{' and '.join(faulting)} act on hint faults, and the config has no hint-fault source: "
                "they promote nothing (add one: --source hint-fault)"
            )
        if "pghot-v8" in names and all(isinstance(s, PgtableScanConfig) for s in c.sources):
            self.notes.append(
                "pghot-v8 records hint faults and hardware hints, not page-table scans (v6 dropped "
                "them): it promotes nothing (add one: --source hint-fault)"
            )
        self.policies = pol
        self.baselines = [n for n in chosen if n != "pghot" and n not in DESIGNS]
        self.designs = [n for n in chosen if n in DESIGNS]
        # threads > 1: the policies on min(threads, policies) pool threads, beside the main
        # thread's shared stages (each policy on a thread of its own when there are enough)
        self.threads = max(1, threads)
        workers = min(self.threads, len(pol))
        self.pool = ThreadPoolExecutor(workers, "pghot-policy") if self.threads > 1 else None
        # each policy's lane: its work not yet done, in order (the head is running or next).
        # The deques' contents, `draining`, `errors` and `pool` are guarded by `lanes_cv`;
        # the lists `lanes` and `policies` themselves never change after this
        self.lanes: list[collections.deque[tuple[Callable[..., None], tuple[Any, ...]]]] = [
            collections.deque() for _ in pol
        ]
        self.draining = [False] * len(pol)
        self.errors: list[BaseException | None] = [None] * len(pol)
        self.lanes_cv = threading.Condition()
        # with a thread for each policy a lane runs until it is empty
        self.turn = LANE_TURN if workers < len(pol) else 1 << 62
        self.stop = threading.Event()
        for p in pol:
            p.stop = self.stop

    def close(self) -> None:
        """Join the policy threads: the work in flight gives up (within a few ms), nothing new starts."""
        self.stop.set()
        with self.lanes_cv:
            pool, self.pool = self.pool, None  # (no lane queues itself again)
        if pool is not None:
            try:
                pool.shutdown(wait=True, cancel_futures=True)
            except BaseException:  # a second Ctrl-C: the threads are stopping, join them still
                pool.shutdown(wait=True)
                raise
        with self.lanes_cv:
            for i, lane in enumerate(self.lanes):
                lane.clear()
                self.draining[i] = False

    def each(self, work: Callable[..., None], *args: Any, size: int = 0) -> None:
        """Queue ``work(p, *args)`` for every policy ``p``, after its work queued before.

        On the policy threads, each policy's work in the order it was queued
        (its lane), and then it returns at once: the main thread goes on with
        the shared stages while the policies run up to :data:`LANE_DEPTH`
        items behind it (a pipeline that absorbs pieces of uneven cost).
        Small work (``size``, its accesses and reports, below
        :data:`PARALLEL_MIN`) with every lane empty runs here instead:
        handing it over costs more than it saves.  :meth:`wait` joins the
        lanes; every read of a policy's state from the main thread waits
        first.  The policies share nothing but read-only inputs, so where
        and in which order they run does not change any result.
        """
        with self.lanes_cv:
            # after an error: not queued, so that wait() raises it
            queued = (
                self.pool is not None
                and not any(e is not None for e in self.errors)
                and (size >= PARALLEL_MIN or any(self.draining))
            )
            if queued:
                for i in range(len(self.policies)):
                    while len(self.lanes[i]) >= LANE_DEPTH:
                        self.lanes_cv.wait()
                    self.lanes[i].append((work, args))
                    if not self.draining[i]:
                        self.draining[i] = True
                        self._submit(i)
        if queued:
            return
        self.wait()
        for p in self.policies:
            work(p, *args)

    def _submit(self, i: int) -> None:
        """Queue a drain of lane ``i`` on the pool (under ``lanes_cv``, ``draining[i]`` set).

        Should the pool refuse it (a thread that cannot start, an interpreter
        shutting down), the lane fails with that error instead of waiting for
        a drain that never comes.
        """
        try:
            assert self.pool is not None
            self.pool.submit(self._drain, i)
        except BaseException as e:
            self._fail(i, e)

    def _fail(self, i: int, e: BaseException) -> None:
        """Lane ``i`` can run no more (under ``lanes_cv``): its error kept, its work dropped."""
        if self.errors[i] is None:
            self.errors[i] = e
        self.lanes[i].clear()
        self.draining[i] = False
        self.lanes_cv.notify_all()

    def _drain(self, i: int) -> None:
        """Run the head of policy ``i``'s lane on a pool thread; with more policies than
        threads, up to :data:`LANE_TURN` items, and then queue the rest behind the other
        lanes' turns.  After an error (or a stop) the rest of the lane is dropped; every
        way out leaves ``draining[i]`` clear or a drain queued."""
        p, lane = self.policies[i], self.lanes[i]
        try:
            for _ in range(self.turn):
                with self.lanes_cv:
                    if not lane:
                        self.draining[i] = False
                        self.lanes_cv.notify_all()
                        return
                    work, args = lane[0]
                    skip = self.errors[i] is not None or self.stop.is_set()
                err = None
                if not skip:
                    try:
                        work(p, *args)
                    except BaseException as e:  # raised in the main thread by wait()
                        err = e
                with self.lanes_cv:
                    lane.popleft()
                    if err is not None:
                        self.errors[i] = err
                    self.lanes_cv.notify_all()
            with self.lanes_cv:
                if lane and self.pool is not None and not self.stop.is_set():
                    self._submit(i)
                else:
                    lane.clear()
                    self.draining[i] = False
                    self.lanes_cv.notify_all()
        except BaseException as e:  # (the bookkeeping itself failed)
            with self.lanes_cv:
                self._fail(i, e)

    def wait(self) -> None:
        """Join every policy's lane.

        The first error (in policy order) is raised once every lane is empty.
        """
        with self.lanes_cv:
            while any(self.draining):
                self.lanes_cv.wait()
            errors = [e for e in self.errors if e is not None]
            self.errors = [None] * len(self.policies)
        if errors:
            raise errors[0]

    def machine(
        self, tracker_kw: Mapping[str, Any] | None = None, promoter_kw: Mapping[str, Any] | None = None
    ) -> Machine:
        """A fresh machine for one policy (a tracker and promoter with ``tracker_kw``)."""
        m = build_machine(
            self.config,
            self.topology,
            self.footprint,
            self.bin_j,
            tracker_kw,
            promoter_kw,
            nbins=self.nbins,
            engine=self.engine,
        )
        if self.homes is not None:
            m.memory.set_first_touch_nodes(self.homes)
        return m

    # -- the stream, a time range at a time ------------------------------------------------

    def run(self, stream: Iterable[tuple[np.ndarray, np.ndarray]], bar: Any = None) -> None:
        """Drive every policy through the stream, then close the last interval.

        A chunk's accesses at its last time wait for the next chunk (unless
        the chunk is all one time), so that no stretch handed to the
        policies splits the accesses of one jiffy.
        """
        held: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None
        triples = stream.triples() if isinstance(stream, _Stream) else ((p, t, None) for p, t in stream)
        it = iter(triples)
        cur = next(it, None)
        while cur is not None:
            nxt = next(it, None)
            pages, times, nids = cur
            if bar is not None:
                bar.update(pages.shape[0])
            if held is not None:
                if nids is not None or held[2] is not None:  # a chunk without nodes: unknown (-1)
                    a = held[2] if held[2] is not None else np.full(held[0].shape[0], -1, np.int16)
                    b = nids if nids is not None else np.full(pages.shape[0], -1, np.int16)
                    nids = np.concatenate([a, b])
                pages = np.concatenate([held[0], pages])
                times = np.concatenate([held[1], times])
                held = None
            if nxt is not None and pages.shape[0]:
                cut = int(np.searchsorted(times, times[-1], side="left"))
                if cut > 0:
                    held = pages[cut:], times[cut:], None if nids is None else nids[cut:]
                    pages, times = pages[:cut], times[:cut]
                    nids = None if nids is None else nids[:cut]
            self.run_chunk(pages, times, nids)
            cur = nxt
        self.evaluate(self.next_oracle)  # the last (partial) interval
        self.wait()

    def with_nids(
        self, pages: np.ndarray, times: np.ndarray, nids: np.ndarray | None, reps: Reports
    ) -> Reports:
        """The reports with their accessing nodes (:func:`pghot._stages.report_nids`).

        Without a node column in the trace, the sources' nid stands: the
        default node (-1 for the page-table scan).
        """
        if self.last_nid is None:
            return reps
        out = reps.nids.astype(np.int32, copy=True)
        seg_n = nids if nids is not None else np.full(pages.shape[0], -1, dtype=np.int16)
        self._report_nids(
            pages,
            times,
            seg_n,
            reps.pfns.astype(np.uint32, copy=False),
            reps.nows.astype(np.int64, copy=False),
            reps.srcs.astype(np.int8, copy=False),
            self.last_nid,
            out,
        )
        return reps._replace(nids=out)

    def run_chunk(self, pages: np.ndarray, times: np.ndarray, nids: np.ndarray | None = None) -> None:
        """Run the accesses of one chunk (in time order, after every earlier one).

        The shared stages see the whole chunk; the policies see it one
        oracle interval at a time (:meth:`_Policy.run_piece`): the
        interval's accesses, the reports the sources made of them and the
        page-table scans due in it, and the rounds due in it.  At an
        interval's end the oracle judges it (:meth:`evaluate`).  Where a
        chunk ends inside an interval, the policies run to its last access
        and go on with the next chunk.
        """
        n = pages.shape[0]
        if n == 0:
            return
        self._bin_counts(times, self.bin_j, self.acc_bins)
        self._heat_add(pages, times, self.heat_tj, self.heat_pp, self.heat_np, self.heat)
        i = 0
        while i < n:
            t_end = self.next_oracle
            if times[i] >= t_end:  # the interval ends before the next access
                reps = self.with_nids(pages[i:i], times[i:i], None, self.sources.flush(t_end - 1))
                # a policy can have promotions to judge only after a piece (worked); an empty
                # piece and judgement change nothing, so no need to wait and ask it
                if reps.pfns.shape[0] or self.oracle.accesses or self.worked:
                    self.piece(pages[i:i], times[i:i], reps, t_end)
                    self.evaluate(t_end)
                    self.next_oracle += self.oracle_j
                else:  # nothing happens until the interval of the next access
                    self.next_oracle += (
                        int(times[i]) - t_end
                    ) // self.oracle_j * self.oracle_j + self.oracle_j
                continue
            j = i + int(np.searchsorted(times[i:], t_end, side="left"))
            seg_p, seg_t = pages[i:j], times[i:j]
            self._add(seg_p)
            reps = self.sources.feed(seg_p, self.default_nid, seg_t)
            seg_n = None if nids is None else nids[i:j]
            if j < n:  # the interval ends inside the chunk
                later = self.sources.flush(t_end - 1)
                if later.pfns.shape[0]:
                    reps = Reports.concat([reps, later])
                self.piece(seg_p, seg_t, self.with_nids(seg_p, seg_t, seg_n, reps), t_end)
                self.evaluate(t_end)
                self.next_oracle += self.oracle_j
            else:
                self.piece(seg_p, seg_t, self.with_nids(seg_p, seg_t, seg_n, reps), int(seg_t[-1]) + 1)
            i = j

    def piece(self, pages: np.ndarray, times: np.ndarray, reps: Reports, horizon: int) -> None:
        """Every policy over the accesses and reports before ``horizon`` (sorted for them)."""
        if reps.pfns.shape[0] > 1:
            keys = report_keys(reps)
            if np.any(keys[1:] < keys[:-1]):
                order = np.argsort(keys, kind="stable")
                reps = reps.take(order)
        self.each(_run_piece, pages, times, reps, horizon, size=pages.shape[0] + reps.pfns.shape[0])
        self.worked = True

    def evaluate(self, t_end: int) -> None:
        """Close the oracle interval ending at ``t_end``: precision and recall tallies.

        The interval's hot pages are taken now (the oracle's counts start
        the next interval); each policy is judged in its lane, after its
        work up to ``t_end`` and before any later (:func:`_judge`).
        """
        busy = self.oracle.accesses > 0
        hot = self.oracle.hot(self.top_pages)
        self.worked = False
        start_s = max((t_end - self.oracle_j) / self.config.hz, 0.0)
        self.each(_judge, hot, busy, start_s, self.topology)


def _judge(p: _Policy, hot: np.ndarray, busy: bool, start_s: float, topology: Topology) -> None:
    """One policy's precision and recall tallies of an oracle interval whose hot pages
    are ``hot`` (ascending, distinct), starting at ``start_s`` seconds."""
    if p.pending:
        promoted = np.concatenate(p.pending)
        p.pending = []
        p.judged += promoted.shape[0]
        p.precise += _count_in(promoted, hot)
    if busy and hot.shape[0]:
        if p.compiled:  # the hot pages' PFNs, O(hot)
            resident = int(p.mem.top_count(hot.astype(np.int64, copy=False)))
        else:
            on_top = np.concatenate([p.mem.pages_on(nid) for nid in topology.toptier_nids()])
            resident = _count_in(hot, np.sort(on_top))
        p.hot_total += hot.shape[0]
        p.hot_resident += resident
        p.recall_series.append((start_s, resident / hot.shape[0]))


def _count_in(a: np.ndarray, sorted_b: np.ndarray) -> int:
    """How many of ``a`` are in ``sorted_b`` (ascending, distinct), each counted as often
    as it occurs in ``a``.

    >>> _count_in(np.array([3, 1, 3, 9]), np.array([1, 3, 5]))
    3
    """
    if not sorted_b.shape[0] or not a.shape[0]:
        return 0
    if a.shape[0] >= _COUNT_IN_TABLE:  # a table of b's range: O(range + len(a))
        return int(np.count_nonzero(np.isin(a, sorted_b, kind="table")))
    at = np.searchsorted(sorted_b, a).clip(max=sorted_b.shape[0] - 1)
    return int(np.count_nonzero(sorted_b[at] == a))


def replay(
    chunks: Iterable[TraceChunk] | str | os.PathLike[str],
    config: SimConfig | None = None,
    *,
    baselines: Sequence[str] | None = None,
    designs: Sequence[str] = (),
    policies: Sequence[str] | None = None,
    progress: bool = True,
    name: str | None = None,
    trace_format: str | None = None,
    open_options: Mapping[str, Any] | None = None,
    spill_bytes: int = _SPILL_BYTES,
    threads: int | None = None,
    engine: str = "compiled",
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
        Default ``SimConfig()``.  With ``config.topology`` the machine is
        that table's nodes and each access comes from the node of the
        trace's ``nid`` (or ``cpu``) column: first touch allocates there and
        the reports carry it (:class:`_Nodes`, :meth:`_Sim.with_nids`).
    baselines : names from :data:`BASELINES`, optional
        Run beside the configured ``pghot`` policy; default all of them.
    designs : names from :data:`pghot.sim.DESIGNS`
        pghot with the configured knobs and that record store.
    policies : names from :data:`pghot.sim.POLICIES` or :data:`pghot.sim.DESIGNS`, optional
        The policies to run, in this order, instead of ``pghot`` and the
        ``baselines`` and ``designs``: ``pghot`` (the configured knobs),
        ``none``, ``v2``, ``second-access``, ``numab2`` and ``tpp``
        (:mod:`pghot.sim.alternatives`, knobs in the config's ``numab2``
        and ``tpp`` tables) and the designs.
    progress : bool
        Progress bars on stderr (shown after half a second).
    name : str, optional
        Name of the trace in the summary.
    threads : int, optional
        Threads the policies run on, ``>= 1``; default one per policy, at
        most the machine's CPUs.  The result does not depend on it.
    engine : {"compiled", "reference"}
        The compiled stages (default), or the reference ones of
        :mod:`pghot.model.sim` (their specification: same result, slower).

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
    >>> r = replay([demo_trace(20_000, 1_000, seed=0)], SimConfig(top_pages=250),
    ...            policies=["numab2", "tpp", "none"], progress=False)
    >>> list(r.policies), r["numab2"].kind, r["tpp"].promotions > 0
    (['numab2', 'tpp', 'none'], 'numab2', True)
    """
    cfg = (config if config is not None else SimConfig()).validate()
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
    if threads is None:
        nthreads = os.cpu_count() or 1
    else:
        nthreads = int_in(threads, "threads", 1, 1024)
    chosen = _check_policies(policies, baselines, designs)
    if baselines is None:
        baselines = BASELINES
    for b in baselines:
        if b not in BASELINES:
            raise ValueError(f"baselines must be among {list(BASELINES)}, got {b!r}")
    for d in designs:
        if d not in DESIGNS:
            raise ValueError(f"designs must be among {list(DESIGNS)}, got {d!r}")
    watch = TraceWatch()  # what reading dropped or could not use goes into the result
    reader = None
    with contextlib.ExitStack() as stack:
        if isinstance(chunks, (str, os.PathLike)):
            path = os.fspath(chunks)
            opts = {"page_size": cfg.page_size, **(open_options or {})}
            reader = stack.enter_context(open_trace(path, trace_format, **opts))
            name = name or path
            source: Iterable[TraceChunk] = reader
        else:
            source = chunks
        source = watch.wrap(source)
        topo = cfg.sim_topology()
        nodes = _Nodes(topo) if topo is not None else None
        stream, footprint, last_jiffy, space = _materialise(source, cfg, progress, spill_bytes, engine, nodes)
        stack.callback(stream.close)
        if stream.accesses == 0:
            raise ValueError(f"{name or 'the trace'}: no accesses")
        if stream.closed:
            last_jiffy = _apply_clock(stream, _tier_pages(cfg, footprint)[0], cfg, engine)
        span_s = last_jiffy / cfg.hz
        if span_s > cfg.max_span_s:  # before _Sim allocates anything
            raise ValueError(
                f"{name or 'the trace'}: spans {span_s:.6g} s ({span_s / 86400:.3g} days) from "
                f"its first record to its last, more than max_span_s = {cfg.max_span_s} s: "
                "check its time stamps and their unit, or raise max_span_s in the config "
                "(pghot replay: --set max_span_s=SECONDS)"
            )
        # the kernel's minute-scale time knobs, scaled to a short trace (said in the notes)
        cfg, scaled = scale_to_trace(cfg, (last_jiffy + 1) * 10**9 // cfg.hz, stream.accesses)
        sim = _Sim(
            cfg,
            footprint,
            last_jiffy,
            list(baselines),
            list(designs),
            engine,
            nthreads,
            policies=chosen,
            stream=stream,
            nodes=nodes,
            scaled=scaled,
        )
        stack.callback(sim.close)
        with _progress_bar(stream.accesses, enabled=progress, desc="replaying", unit="acc") as bar:
            sim.run(stream, bar)
        cpu = stream.cpu_ns if stream.closed else None
        result = _result(sim, cfg, name or "<chunks>", stream.accesses, space, stream.llc, cpu)
        reading = None
        if reader is not None:
            reading = {"format": reader.format, **reader.counters, "first_bad": list(reader.first_bad)}
            result.trace["reading"] = reading
        clock_ns = stream.span_ns if stream.closed else None
        if scaled is not None:
            result.trace["scaled"] = scaled
            result.notes[:0] = scaled_text(scaled, cfg.hz)
        result.notes += reading_notes(watch, reading, hz=cfg.hz, clock_ns=clock_ns)
        return result
    raise AssertionError("unreachable")  # pragma: no cover


def _node_result(sim: _Sim, p: _Policy, accesses: int) -> dict[int, dict[str, int]]:
    """Per node of the machine: accesses from it, top-tier hits it served, promotions in, demotions out.

    ``accesses`` are the trace's (its node column, else all from the default
    node); ``hits`` are the accesses served by the node's memory, whichever
    node made them (0 for a lower-tier node).  They sum to the policy's
    totals: accesses, ``top_tier_hits``, ``promotions``, ``demotions``.
    """
    stats = p.mem.node_stats()
    tops = sim.topology.toptier_nids()
    issued = sim.issued if sim.issued is not None else {sim.default_nid: accesses}
    out: dict[int, dict[str, int]] = {}
    for n in sim.topology.nodes:
        st = stats[n.nid]
        hits = (p.hits if n.toptier else 0) if len(tops) == 1 else st["hits"]
        out[n.nid] = {
            "toptier": int(n.toptier),
            "accesses": int(issued.get(n.nid, 0)),
            "hits": int(hits),
            "promotions": st["promotions"],
            "demotions": st["demotions"],
        }
    return out


def _result(
    sim: _Sim,
    cfg: SimConfig,
    name: str,
    accesses: int,
    space: str,
    llc: dict[str, int] | None = None,
    cpu_ns: float | None = None,
) -> Result:
    """The result; ``cpu_ns``: the closed clock's CPU time (None: the open clock)."""
    resolved = dataclasses.replace(
        cfg,
        top_pages=sim.top_pages,
        lower_pages=sim.lower_pages,
        oracle_interval_ms=cfg.oracle_ms,
        ping_pong_window_ms=cfg.ping_pong_ms,
        # what ran, so that a replay of Result.config runs it again
        oracle_search=cfg.oracle_search if not sim.oracle_js else "on" if len(sim.oracle_js) > 1 else "off",
    )
    acc = sim.acc_bins
    bin_s = sim.bin_j / cfg.hz
    out: dict[str, PolicyResult] = {}
    # per page: batched (a kernel thread's list) and single (one per call, in the fault path)
    batched_ns, single_ns = cfg.migration_costs_ns()
    all_top = (cpu_ns or 0.0) + accesses * cfg.top_ns if cfg.top_ns > 0 else 0.0
    for p in sim.policies:
        m = p.mem.stats()
        hits = p.hit_bins
        mig = migration_metrics(
            m["pgpromote_success"],
            m["pgmigrate_success"],
            m["pgdemote_kswapd"],
            page_size=cfg.page_size,
            duration_s=(sim.last_jiffy + 1) / cfg.hz,
            batched_ns=batched_ns,
            single_ns=single_ns,
            fault_path=p.fault_path,
        )
        est = (cpu_ns or 0.0) + p.hits * cfg.top_ns + (accesses - p.hits) * cfg.lower_ns
        fault = mig["fault_path_migration_ns"]  # paid by the faulting thread; the rest by kernel threads
        est += fault + cfg.kthread_share * (mig["migration_time_ns"] - fault)
        assert p.judged == m["pgpromote_success"], (p.name, p.judged, m)
        out[p.name] = PolicyResult(
            name=p.name,
            kind=p.kind,
            description=p.description,
            accesses=accesses,
            top_tier_hits=p.hits,
            promotions=m["pgpromote_success"],
            demotions=m["pgdemote_kswapd"],
            ping_pong=m["ping_pong"],
            promote_fail_no_space=m["promote_fail_no_space"],
            precise_promotions=p.precise,
            hot_pages=p.hot_total,
            hot_pages_resident=p.hot_resident,
            est_time_ns=est,
            time_vs_all_top=est / all_top if all_top > 0 else None,
            time_vs_none=None,
            tracker_memory_bytes=p.memory_bytes(),
            hit_ratio_series=[(int(h) / int(a)) if a else None for h, a in zip(hits, acc)],
            promotions_series=p.promo_bins.tolist(),
            recall_series=p.recall_series,
            stats=p.stats(),
            nodes=_node_result(sim, p, accesses),
            **mig,
        )
    out = best_oracle(out, cfg.hz)  # the oracle searched over intervals: the best one, as "oracle"
    if sim.v2_alias:
        # keep the order of the baselines given
        alias = dataclasses.replace(
            out["pghot"], name="v2", description="the same run as pghot (its knobs are v2's)"
        )
        order = [n for n in sim.chosen if n in out or n == "v2"]
        out["v2"] = alias
        out = {k: out[k] for k in order}
    if "none" in out and out["none"].est_time_ns > 0:
        base = out["none"].est_time_ns
        for r in out.values():
            r.time_vs_none = r.est_time_ns / base
    if "oracle" in out and out["oracle"].est_time_ns > 0:  # how far from the best possible
        best = out["oracle"].est_time_ns
        for r in out.values():
            r.time_vs_oracle = r.est_time_ns / best
    trace = {
        "name": name,
        "accesses": accesses,
        "footprint_pages": sim.footprint,
        "address_space": space,
        "duration_s": (sim.last_jiffy + 1) / cfg.hz,
        "reports": [int(src.reported) for src in sim.sources.sources],
        "time_model": "open" if cpu_ns is None else "closed",
    }
    if cpu_ns is not None:
        trace["cpu_time_s"] = cpu_ns / 1e9
    if llc is not None:
        trace["llc"] = llc
    heat = sim.heat.reshape(sim.heat_nt, sim.heat_np)
    notes = sim.notes + diagnose(
        sim.sources.sources,
        [int(src.reported) for src in sim.sources.sources],
        out,
        accesses=accesses,
        footprint=sim.footprint,
        top_pages=sim.top_pages,
        span_jiffies=sim.last_jiffy,
        hz=cfg.hz,
        freq_windows={**sim.windows, **({"v2": sim.windows["pghot"]} if sim.v2_alias else {})},
    )
    fits = llc_note(llc, sim.footprint * cfg.page_size)
    if fits:
        notes.append(fits)
    return Result(resolved, trace, out, bin_s, acc.tolist(), heat, sim.heat_tj / cfg.hz, sim.heat_pp, notes)


# -- the built-in workload ------------------------------------------------------------


def demo_trace(
    accesses: int = 2_000_000,
    working_set_pages: int = 32768,
    *,
    duration_ms: int = 10_000,
    s: float = 0.99,
    seed: int = 0,
    page_size: int = 4096,
) -> TraceChunk:
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

    pages, nows = skewed_accesses(
        0, working_set_pages, accesses, s=s, duration_jiffies=duration_ms, seed=seed
    )
    base = np.uint64(0x7F00_0000_0000)
    return TraceChunk(time_ns=nows * 1_000_000, vaddr=base + pages * np.uint64(page_size))
