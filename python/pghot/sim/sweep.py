"""A grid of configurations over traces: one :func:`pghot.sim.replay` per point."""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from typing import Any

from pghot._output import format_table, num, pct, size
from pghot._output import progress as _progress_bar
from pghot.sim.config import SimConfig
from pghot.sim.engine import replay

__all__ = ["format_sweep_table", "sweep"]


def _sweep_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run one (trace, configuration) of a sweep; a picklable top-level function."""
    cfg = SimConfig.from_dict(job["config"])
    r = replay(
        job["trace"],
        cfg,
        baselines=("none",),
        progress=False,
        threads=1,  # the sweep's processes are its parallelism
        trace_format=job.get("format"),
        open_options=job.get("open_options"),
    )
    p, none = r["pghot"], r["none"]
    return {
        "trace": job["trace"],
        **job["point"],
        "hit_ratio": p.hit_ratio,
        "none_hit_ratio": none.hit_ratio,
        "promotions": p.promotions,
        "demotions": p.demotions,
        "ping_pong": p.ping_pong,
        "precision": p.precision,
        "recall": p.recall,
        "time_vs_none": p.time_vs_none,
        "time_vs_all_top": p.time_vs_all_top,
        "tracker_memory_bytes": p.tracker_memory_bytes,
        "notes": list(r.notes),
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
        ``tracker_memory_bytes``), and ``notes``: the replay's notes (what
        was scaled to a short trace, degenerate results and the knob that
        would change them), as :meth:`Result.summary` prints them.

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
    >>> from pghot.sim import demo_trace
    >>> c = demo_trace(5000, 200, seed=1)
    >>> np.savez(p, vaddr=c.vaddr, time_ns=c.time_ns)
    >>> rows = sweep([p], {"tracker.threshold": [2, 3]}, SimConfig(top_pages=50), workers=1,
    ...              progress=False)
    >>> [r["tracker.threshold"] for r in rows]
    [2, 3]
    """
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
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
            jobs.append(
                {
                    "trace": t,
                    "point": point,
                    "config": cfg.to_dict(),
                    "format": trace_format,
                    "open_options": dict(open_options or {}),
                }
            )
    if not jobs:
        return []
    if dask_address is not None:
        return _sweep_dask(jobs, dask_address)
    n = min(workers or os.cpu_count() or 1, len(jobs))
    bar = _progress_bar(len(jobs), enabled=progress, desc="sweep", unit="run")
    results: list[dict[str, Any] | None] = [None] * len(jobs)
    try:
        if n <= 1:
            for i, job in enumerate(jobs):
                results[i] = _sweep_job(job)
                bar.update(1)
        else:
            from concurrent.futures import ProcessPoolExecutor, as_completed

            pool = ProcessPoolExecutor(max_workers=n)
            try:
                futures = {pool.submit(_sweep_job, job): i for i, job in enumerate(jobs)}
                for fut in as_completed(futures):
                    results[futures[fut]] = fut.result()
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
        bar.close()
    return [r for r in results if r is not None]


def dask_client(address: str) -> Any:
    """A ``dask.distributed.Client`` of the cluster at ``address`` (``--dask``); a clear
    RuntimeError when dask.distributed is not installed."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise RuntimeError(
            "--dask needs dask.distributed, which is not installed: "
            "pip install 'dask[distributed]' (pghot does not depend on it)"
        ) from None
    return Client(address)


def _sweep_dask(jobs: list[dict[str, Any]], address: str) -> list[dict[str, Any]]:
    client = dask_client(address)
    try:
        futures = client.map(_sweep_job, jobs, pure=False)
        return list(client.gather(futures))
    finally:
        client.close()


def format_sweep_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows of :func:`sweep` as a Markdown table, and below it their notes.

    Each distinct note is printed once, after the rows it belongs to (their
    numbers in the table's ``#`` column, or "all rows"); a row's ``notes`` may
    be missing (rows of an older version) or one string.

    >>> print(format_sweep_table([{"trace": "t", "tracker.threshold": 2, "hit_ratio": 0.5,
    ...     "none_hit_ratio": 0.25, "promotions": 10, "demotions": 4, "ping_pong": 1,
    ...     "precision": 0.9, "recall": None, "time_vs_none": 0.8, "time_vs_all_top": 1.5,
    ...     "tracker_memory_bytes": 2048, "notes": ["pghot: no promotions"]}]))
    | # | trace | tracker.threshold | top hits | none hits | promoted | demoted | ping-pong | precision | recall | x none | x all-top | tracker mem |
    |---|---|---|---|---|---|---|---|---|---|---|---|---|
    | 1 | t | 2 | 50.0% | 25.0% | 10 | 4 | 1 | 90.0% | - | 0.800 | 1.500 | 2.0 KiB |
    <BLANKLINE>
    notes:
    - all rows: pghot: no promotions
    """  # noqa: E501 -- a table row of the example is as wide as the table
    metrics = (
        "trace",
        "hit_ratio",
        "none_hit_ratio",
        "promotions",
        "demotions",
        "ping_pong",
        "precision",
        "recall",
        "time_vs_none",
        "time_vs_all_top",
        "tracker_memory_bytes",
        "notes",
    )
    point_keys: list[str] = []
    for r in rows:
        for k in r:
            if k not in metrics and k not in point_keys:
                point_keys.append(k)
    head = [
        "#",
        "trace",
        *point_keys,
        "top hits",
        "none hits",
        "promoted",
        "demoted",
        "ping-pong",
        "precision",
        "recall",
        "x none",
        "x all-top",
        "tracker mem",
    ]
    table = [
        [
            str(i),
            str(r["trace"]),
            *(str(r.get(k, "")) for k in point_keys),
            pct(r.get("hit_ratio")),
            pct(r.get("none_hit_ratio")),
            f"{r.get('promotions', 0):,}",
            f"{r.get('demotions', 0):,}",
            f"{r.get('ping_pong', 0):,}",
            pct(r.get("precision")),
            pct(r.get("recall")),
            num(r.get("time_vs_none")),
            num(r.get("time_vs_all_top")),
            size(r.get("tracker_memory_bytes")),
        ]
        for i, r in enumerate(rows, 1)
    ]
    out = format_table(head, table, markdown=True)
    where: dict[str, list[int]] = {}
    for i, r in enumerate(rows, 1):
        notes = r.get("notes") or ()
        for note in [notes] if isinstance(notes, str) else notes:
            rows_of = where.setdefault(str(note), [])
            if not rows_of or rows_of[-1] != i:
                rows_of.append(i)
    if where:
        lines = ["", "notes:"]
        for note, idx in where.items():
            which = "all rows" if len(idx) == len(rows) else "rows " + _ranges(idx)
            lines.append(f"- {which}: {note}")
        out += "\n" + "\n".join(lines)
    return out


def _ranges(idx: Sequence[int]) -> str:
    """Row numbers as ranges: ``[1, 2, 3, 5]`` -> ``"1-3, 5"``.

    >>> _ranges([1, 2, 3, 5, 7, 8])
    '1-3, 5, 7-8'
    """
    parts: list[str] = []
    start = prev = idx[0]
    for i in [*idx[1:], None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        parts.append(f"{start}" if start == prev else f"{start}-{prev}")
        if i is not None:
            start = prev = i
    return ", ".join(parts)
