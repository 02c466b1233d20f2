"""The study's runs: one replay per (workload, top-tier size, policy config), in parallel, cached.

A :class:`Job` is one :func:`pghot.sim.replay` of a workload (built in, or
a trace file) at one top-tier size with the policies that share one
configuration.  Its result is kept per policy in the cache folder, one JSON
file per (workload, policy, configuration), named by a SHA-256 of those
inputs and the package version (:func:`cache_key`); a job whose policies
are all cached is not run, so that a rerun only computes what changed.  A
trace file's key holds its absolute path, size and modification time.

Jobs run in worker processes (:class:`concurrent.futures.ProcessPoolExecutor`,
``jobs`` of them; ``jobs=1`` runs them in this process), each replay on
one thread (the processes are the parallelism, as in
:func:`pghot.sim.sweep`); one progress bar counts the jobs of the whole
study.

>>> j = Job(workload={"name": "gups-hot", "scale": 0.01, "seed": 0}, top_fraction=0.25,
...         policies=("none", "oracle"), config={})
>>> out = run_job(j)
>>> sorted(out["policies"]), out["footprint_pages"], out["top_pages"]
(['none', 'oracle'], 164, 41)
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

import pghot
from pghot._output import progress as _progress_bar
from pghot.sim.sweep import dask_client
from pghot.study.workloads import make

__all__ = ["RESULTS_VERSION", "Job", "cache_key", "run_job", "run_jobs"]


@dataclasses.dataclass(frozen=True)
class Job:
    """One replay: a workload at one top-tier size, with policies sharing a config."""

    #: ``{"name", "scale", "seed", **params}`` of a built-in workload, or ``{"trace": path, ...}``
    workload: Mapping[str, Any]
    #: the top tier's share of the footprint
    top_fraction: float
    #: names of :data:`pghot.sim.POLICIES`, run as ``policies=`` of replay
    policies: tuple[str, ...]
    #: :meth:`pghot.sim.SimConfig.to_dict` without ``top_pages`` (set from the footprint)
    config: Mapping[str, Any]
    #: the name the study shows for each policy (default its policy name)
    labels: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        """The study's name of each policy of the job."""
        return self.labels or self.policies


def _identity(workload: Mapping[str, Any]) -> dict[str, Any]:
    ident = dict(workload)
    if "trace" in ident:
        path = os.path.abspath(os.fspath(ident["trace"]))
        st = os.stat(path)
        ident.update(trace=path, size=st.st_size, mtime_ns=st.st_mtime_ns)
    return ident


#: raised whenever a change makes the replay give other numbers for the same inputs, so that
#: results cached by an earlier build of the same package version are not reused
#: (2: the oracle searched over intervals, ``pghot.sim.bounds.best_oracle``)
RESULTS_VERSION = 2


def cache_key(
    workload: Mapping[str, Any], top_fraction: float, policy: str, config: Mapping[str, Any]
) -> str:
    """The cache file's name of one policy's result: a hash of its inputs, the package version
    and :data:`RESULTS_VERSION`.

    >>> k = cache_key({"name": "gups-hot", "scale": 1.0, "seed": 0}, 0.25, "none", {})
    >>> len(k), k == cache_key({"seed": 0, "scale": 1.0, "name": "gups-hot"}, 0.25, "none", {})
    (64, True)
    >>> k == cache_key({"name": "gups-hot", "scale": 1.0, "seed": 0}, 0.5, "none", {})
    False
    """
    text = json.dumps(
        {
            "version": pghot.__version__,
            "results": RESULTS_VERSION,
            "workload": _identity(workload),
            "top_fraction": top_fraction,
            "policy": policy,
            "config": config,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _load(job: Job) -> tuple[list[Any], int, str, int]:
    """The job's trace as chunks, its footprint, its name and its accesses."""
    from pghot.machine.sources import chunk_pages
    from pghot.traces import open_trace

    w = dict(job.workload)
    if "trace" not in w:
        wl = make(w.pop("name"), w.pop("scale"), w.pop("seed"), **w)
        return [wl.chunk], wl.footprint_pages, wl.name, wl.accesses
    path = os.fspath(w["trace"])
    page_size = int(job.config.get("page_size", 4096))
    with open_trace(path, w.get("format"), page_size=page_size) as reader:
        chunks = list(reader)
    if not chunks or not sum(len(c) for c in chunks):
        raise ValueError(f"{path}: no accesses")
    pages = np.unique(np.concatenate([chunk_pages(c, page_size)[0] for c in chunks]))
    return chunks, len(pages), path, sum(len(c) for c in chunks)


def run_job(job: Job) -> dict[str, Any]:
    """Replay one job; every policy's :meth:`PolicyResult.to_dict` and the run's sizes.

    A top-level function, so that worker processes can run it.
    """
    from pghot.sim import SimConfig, replay

    chunks, footprint, name, accesses = _load(job)
    top = max(1, int(footprint * job.top_fraction))
    cfg = SimConfig.from_dict({**job.config, "top_pages": top})
    r = replay(chunks, cfg, policies=list(job.policies), progress=False, threads=1, name=name)
    out = {}
    for label, policy in zip(job.names(), job.policies, strict=True):
        # as the cache will read it back (JSON: a per-node table's keys become strings)
        d = json.loads(json.dumps(r[policy].to_dict(), default=_plain))
        d["name"] = label
        out[label] = d
    return {
        "policies": out,
        "footprint_pages": footprint,
        "top_pages": r.config.top_pages,
        "lower_pages": r.config.lower_pages,
        "accesses": accesses,
        "bin_s": r.bin_s,
        "duration_s": r.trace.get("duration_s"),
        "notes": list(r.notes),
    }


def _write_atomic(path: str, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def run_jobs(
    jobs: Sequence[Job],
    *,
    workers: int = 1,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    desc: str = "study",
    bar: Any = None,
    dask_address: str | None = None,
) -> list[dict[str, Any]]:
    """Run the jobs (those not all in the cache), in ``workers`` processes; results in job order.

    Each result is :func:`run_job`'s, with ``"cached"``: the policies read
    from the cache.  ``bar``, a progress bar of the caller's (with ``update(n)``),
    counts the jobs instead of one of this call's own.  With ``dask_address``
    the jobs run on that Dask cluster instead (as :func:`pghot.sim.sweep`'s
    ``--dask``; the cache stays on this machine).

    >>> j = Job(workload={"name": "v3-micro", "scale": 0.01, "seed": 0}, top_fraction=0.5,
    ...         policies=("none",), config={})
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     a = run_jobs([j], cache_dir=d, progress=False)
    ...     b = run_jobs([j], cache_dir=d, progress=False)
    >>> a[0]["cached"], b[0]["cached"], a[0]["policies"] == b[0]["policies"]
    ([], ['none'], True)
    """
    cache = os.fspath(cache_dir) if cache_dir is not None else None
    if cache is not None:
        os.makedirs(cache, exist_ok=True)
    results: list[dict[str, Any] | None] = [None] * len(jobs)
    todo: list[int] = []
    for i, job in enumerate(jobs):
        hit = _from_cache(cache, job)
        if hit is not None:
            results[i] = hit
        else:
            todo.append(i)
    with contextlib.ExitStack() as stack:
        if bar is None:
            bar = stack.enter_context(_progress_bar(len(jobs), enabled=progress, desc=desc, unit="run"))
        bar.update(len(jobs) - len(todo))
        if dask_address is not None and todo:
            for i, res in _on_dask([jobs[i] for i in todo], todo, dask_address):
                results[i] = _finish(cache, jobs[i], res)
                bar.update(1)
        elif workers <= 1 or len(todo) <= 1:
            for i in todo:
                results[i] = _finish(cache, jobs[i], run_job(jobs[i]))
                bar.update(1)
        else:
            with concurrent.futures.ProcessPoolExecutor(max_workers=min(workers, len(todo))) as pool:
                futures = {pool.submit(run_job, jobs[i]): i for i in todo}
                try:
                    for fut in concurrent.futures.as_completed(futures):
                        i = futures[fut]
                        results[i] = _finish(cache, jobs[i], fut.result())
                        bar.update(1)
                except BaseException:
                    for f in futures:
                        f.cancel()
                    raise
    return [r for r in results if r is not None]


def _on_dask(jobs: list[Job], index: list[int], address: str) -> Any:
    """``(index, result)`` of each job run on the Dask cluster at ``address``, as they finish."""
    client = dask_client(address)
    from dask.distributed import as_completed  # installed: the client exists

    try:
        futures = {client.submit(run_job, j, pure=False): i for j, i in zip(jobs, index, strict=True)}
        for fut in as_completed(list(futures)):
            yield futures[fut], fut.result()
    finally:
        client.close()


def _entry(job: Job, label: str) -> str:
    policy = job.policies[job.names().index(label)]
    return cache_key(job.workload, job.top_fraction, policy, job.config)


def _from_cache(cache: str | None, job: Job) -> dict[str, Any] | None:
    if cache is None:
        return None
    pols: dict[str, Any] = {}
    run: dict[str, Any] | None = None
    for label in job.names():
        path = os.path.join(cache, _entry(job, label) + ".json")
        try:
            with open(path) as f:
                entry = json.load(f)
        except (OSError, ValueError):
            return None
        pols[label] = {**entry["policy"], "name": label}
        run = entry["run"]
    assert run is not None
    return {**run, "policies": pols, "cached": list(job.names())}


def _finish(cache: str | None, job: Job, result: dict[str, Any]) -> dict[str, Any]:
    if cache is not None:
        run = {k: v for k, v in result.items() if k != "policies"}
        for label in job.names():
            text = json.dumps({"run": run, "policy": result["policies"][label]}, default=_plain)
            _write_atomic(os.path.join(cache, _entry(job, label) + ".json"), text)
    return {**result, "cached": []}


def _plain(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")
