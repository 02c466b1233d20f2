"""The replay engine's benchmark cases (groups ``replay-*``), beside the core's of :mod:`bench.cases`.

Each group times :func:`pghot.sim.replay` end to end (trace in memory,
stream, sources, every policy's machine, metrics; no progress bar) and
reports nanoseconds per trace access *per policy*, so that the rows read
against the core's own cost on the same pages in the same run.

``replay-hwhints-every``
    2M Zipf(0.99) accesses over 256K pages (with the demo's phase change),
    ``hw-hints`` sampling every access, one policy (``pghot`` alone: no
    baselines).  Rows: ``Tracker.record_accesses`` on the same PFNs and times
    (one call per 64K accesses, as the replay's chunks: the target is the
    replay within 2x of it), the compiled engine, and the reference engine
    (:mod:`pghot.model.sim`) on a tenth of the trace.
``replay-hintfault``
    The same trace with the default source (NUMA-balancing hint faults) and
    the default policies (``pghot``, ``none``, ``second-access``; ``v2`` is
    the same run as ``pghot``): the compiled engine on one thread and on two
    (each policy's pieces queued in its lane, run on the pool's threads
    while the main thread runs the shared stages up to eight items ahead),
    and the reference engine on a tenth of the trace.  Target: at most 20 ns
    per access per policy.
``replay-policies-parallel``
    The same trace with the default source: ``pghot`` alone on one thread,
    and ``pghot`` beside a second pghot policy (the ``hash/bucket`` design)
    on two threads, in nanoseconds per trace access (not per policy): on
    this 2-core machine the issue's "4 policies cost what 1 costs on 4
    cores" reads as the second row close to the first.
``replay-lackey``
    :func:`pghot.sim.replay` of the 2M-line synthetic lackey file of the
    ``read-lackey`` group (parsed, then replayed with the default policies),
    per line; besides it the reader alone.  Target: 5M lines/s end to end
    (200 ns per line).

Examples
--------
>>> [c.impl for c in cases()][:2]
['Tracker.record_accesses (same PFNs)', 'replay (compiled)']
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

import pghot
from bench.cases import LACKEY_LINES, Case, Prepared, _lackey_file, _read_lackey
from pghot.bench.workloads import skewed_accesses
from pghot.sim import SimConfig, replay
from pghot.traces import TraceChunk

__all__ = ["cases"]

N = 2_000_000
PAGES = 1 << 18
CHUNK = 1 << 16
#: the policies of a default replay that run (v2 is pghot's run when no knob is set)
DEFAULT_POLICIES = 3


@functools.cache
def _trace(n: int) -> TraceChunk:
    pages, nows = skewed_accesses(0, PAGES, n, s=0.99, duration_jiffies=20_000, seed=0)
    return TraceChunk(time_ns=nows.astype(np.int64) * 1_000_000, pfn=pages.astype(np.uint64))


def _chunks(n: int) -> list[TraceChunk]:
    t = _trace(n)
    return [
        TraceChunk(time_ns=t.time_ns[i : i + CHUNK], pfn=t.pfn[i : i + CHUNK]) for i in range(0, n, CHUNK)
    ]


def _hw_config() -> SimConfig:
    return SimConfig(sources=[{"name": "hw-hints", "sample_every": 1}], top_pages=PAGES // 4)


def _run_replay(chunks: list[TraceChunk], cfg: SimConfig, kw: dict[str, Any]) -> int:
    r = replay(chunks, cfg, progress=False, **kw)
    return int(r.trace["accesses"])


def _prepare_replay(n: int, cfg: SimConfig, **kw: Any) -> Prepared:
    chunks = _chunks(n)
    return Prepared(_run_replay, lambda: (chunks, cfg, kw))


def _record(tracker: Any, pfns: list[np.ndarray], nows: list[np.ndarray]) -> int:
    done = 0
    for p, t in zip(pfns, nows):
        done += int(tracker.record_accesses(p, -1, 0, t).sum())
    return done


def _prepare_record() -> Prepared:
    """The tracker on the PFNs a replay's pghot records (top tier first, as first touch)."""
    t = _trace(N)
    top = PAGES // 4
    topo = pghot.Topology.two_tier(top, 2 * PAGES)
    # the replay's pages are numbered by first appearance; top-tier PFNs are
    # never tracked, so record the lower-tier ones a replay would report
    uniq, first = np.unique(t.pfn, return_index=True)
    rank = np.empty(uniq.shape[0], dtype=np.uint64)
    rank[np.argsort(first)] = np.arange(uniq.shape[0], dtype=np.uint64)
    order = np.zeros(PAGES, dtype=np.uint64)
    order[uniq.astype(np.int64)] = rank
    pfns = order[t.pfn.astype(np.int64)]
    nows = t.time_ns // 1_000_000
    ps = [pfns[i : i + CHUNK] for i in range(0, N, CHUNK)]
    ns = [nows[i : i + CHUNK] for i in range(0, N, CHUNK)]

    def setup() -> tuple[Any, ...]:
        tracker = pghot.Tracker(topo)
        tracker.set_movable(np.arange(top, top + 2 * PAGES, dtype=np.uint64), True)
        return (tracker, ps, ns)

    return Prepared(_record, setup)


def _replay_lackey(path: str) -> int:
    replay(path, SimConfig(), progress=False, trace_format="lackey")
    return LACKEY_LINES


def cases() -> list[Case]:
    """The ``replay-*`` rows, the group's reference row first."""
    hw, hf, par = "replay-hwhints-every", "replay-hintfault", "replay-policies-parallel"
    d = DEFAULT_POLICIES
    return [
        Case(hw, "Tracker.record_accesses (same PFNs)", "access", N, 5, _prepare_record),
        Case(hw, "replay (compiled)", "access", N, 5, lambda: _prepare_replay(N, _hw_config(), baselines=())),
        Case(
            hw,
            "replay (compiled, 1 thread)",
            "access",
            N,
            5,
            lambda: _prepare_replay(N, _hw_config(), baselines=(), threads=1),
        ),
        Case(
            hw,
            "replay (reference)",
            "access",
            N // 10,
            1,
            lambda: _prepare_replay(N // 10, _hw_config(), baselines=(), engine="reference"),
            warmup=0,
        ),
        Case(
            hf,
            "replay (compiled, 1 thread)",
            "access",
            N * d,
            5,
            lambda: _prepare_replay(N, SimConfig(), threads=1),
        ),
        Case(
            hf,
            "replay (compiled, 2 threads)",
            "access",
            N * d,
            5,
            lambda: _prepare_replay(N, SimConfig(), threads=2),
        ),
        Case(
            hf,
            "replay (reference)",
            "access",
            N // 10 * d,
            1,
            lambda: _prepare_replay(N // 10, SimConfig(), engine="reference"),
            warmup=0,
        ),
        Case(
            par,
            "1 policy (pghot), 1 thread",
            "access",
            N,
            5,
            lambda: _prepare_replay(N, SimConfig(), baselines=(), threads=1),
        ),
        Case(
            par,
            "2 policies (pghot, hash/bucket), 2 threads",
            "access",
            N,
            5,
            lambda: _prepare_replay(N, SimConfig(), baselines=(), designs=("hash/bucket",), threads=2),
        ),
        Case("replay-lackey", "replay (compiled)", "line", LACKEY_LINES, 3, lambda: _prepare_path()),
        Case("replay-lackey", "open_trace (reader alone)", "line", LACKEY_LINES, 3, _prepare_reader),
    ]


def _prepare_path() -> Prepared:
    path = _lackey_file()
    return Prepared(_replay_lackey, lambda: (path,))


def _prepare_reader() -> Prepared:
    path = _lackey_file()
    return Prepared(_read_lackey, lambda: (path,))
