"""The study: every policy on every workload at two top-tier sizes, its numbers and their reading.

:func:`run_study` runs, in one progress bar:

1. **Sensitivity**: on every workload, at every top-tier size, pghot
   alone with its ``threshold`` x ``freq_window_ms`` swept over
   :data:`SENSITIVITY_THRESHOLDS` x :data:`SENSITIVITY_WINDOWS_MS`.  The
   point with the lowest estimated run time gives that run's *tuned*
   knobs (tuned in hindsight, on the data it is judged on: an upper bound
   of what tuning these two knobs buys, not a default anyone could ship).
2. **Policies**: every policy of :data:`pghot.sim.POLICIES` (read when the
   study runs, so that policies added to the simulator join the study) and
   the study's variants, at every top-tier size:

   ``pghot``
       the tuned knobs of step 1;
   ``v2``
       every knob at v2's default;
   ``pghot-aging``
       v2's knobs with the aging that v2 lacks (SEMANTICS.md F12): the
       tracker replaces stale records (``tracker.evict_stale``) and the
       promoter drops records older than the window (``promoter.stale_check``,
       the later versions' "access latency below the threshold" test);
   ``memtis``
       fed hardware samples, one access in 199 (:data:`POLICY_SOURCES`:
       Memtis's ``htmm_sample_period`` default of 199, as set by the
       artifact's run scripts, e.g. ``sherrywong1220/run_bench``
       ``config_settings/memtis.sh``); PEBS is its only source;
   every other policy
       fed NUMA-balancing hint faults (the ``hint-fault`` source, the
       kernel's and the v3 letter's setting).

   ``none`` and ``oracle`` always run: every run time is also read relative
   to them.

Metrics per (workload, top-tier size, policy), :meth:`Study.rows`: the
replay's hit ratio, promotions, ping-pong share, migration traffic (MiB/s
promoted plus demoted) and tracker memory, the run time estimate relative
to ``none`` and to ``oracle`` of the same run, the tracker's bytes per
tracked page (per lower-tier page, which the tracker may track; its table
is sized by the lower tier) and per GiB of lower tier.

The sanity checks (:meth:`Study.checks`) are published results, stated and
checked on the study's own numbers.
"""

from __future__ import annotations

import dataclasses
import html
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import pghot
from pghot._output import progress as _progress_bar
from pghot.study.run import Job, run_jobs
from pghot.study.workloads import WORKLOADS, estimate_bytes, make

__all__ = [
    "AGING",
    "DEFAULT_TOP_FRACTIONS",
    "POLICY_SOURCES",
    "QUICK_SCALE",
    "SENSITIVITY_THRESHOLDS",
    "SENSITIVITY_WINDOWS_MS",
    "VARIANTS",
    "Study",
    "run_study",
    "study_policies",
]

#: the top tier's share of the footprint of each run (the issue's 25 % and 50 %)
DEFAULT_TOP_FRACTIONS = (0.25, 0.5)
#: the scale of ``--quick``: 2,048 pages and 500,000 accesses a workload
QUICK_SCALE = 0.125
#: pghot's ``tracker.threshold`` values of the sensitivity sweep
SENSITIVITY_THRESHOLDS = (1, 2, 3, 4)
#: pghot's ``tracker.freq_window_ms`` values of the sensitivity sweep (v2's default 5000 among them)
SENSITIVITY_WINDOWS_MS = (500, 1000, 5000)
#: the knobs of ``pghot-aging``
AGING: dict[str, dict[str, Any]] = {"tracker": {"evict_stale": True}, "promoter": {"stale_check": True}}
#: the sources of the policies that do not take hint faults
POLICY_SOURCES: dict[str, list[dict[str, Any]]] = {"memtis": [{"name": "hw-hints", "sample_every": 199}]}
_HINT_FAULTS: list[dict[str, Any]] = [{"name": "hint-fault"}]
#: the study's policies that are a simulator policy with other knobs: name -> (policy, what)
VARIANTS: dict[str, tuple[str, str]] = {"pghot-aging": ("pghot", "pghot, v2 knobs with aging")}
_REFERENCES = ("none", "oracle")


def study_policies(policies: Sequence[str] | None = None) -> list[str]:
    """The study's policies: the given ones (checked) or all, ``none`` and ``oracle`` always.

    >>> study_policies(["tpp"])
    ['tpp', 'none', 'oracle']
    >>> "pghot-aging" in study_policies()
    True
    >>> study_policies(["numab3"])
    Traceback (most recent call last):
    ...
    ValueError: policies: unknown policy 'numab3' (known: pghot, none, ...)
    """
    from pghot import sim

    known = [*sim.POLICIES, *VARIANTS]
    if policies is None:
        chosen = list(known)
    else:
        if isinstance(policies, (str, bytes)) or not isinstance(policies, Sequence):
            raise TypeError(f"policies must be a sequence of policy names, not {type(policies).__name__}")
        chosen = []
        for p in policies:
            if not isinstance(p, str) or p not in known:
                raise ValueError(f"policies: unknown policy {p!r} (known: {', '.join(known)})")
            if p not in chosen:
                chosen.append(p)
        if not chosen:
            raise ValueError("policies: name at least one policy")
    return chosen + [r for r in _REFERENCES if r not in chosen]


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not b:
        return None
    return a / b


@dataclasses.dataclass
class Study:
    """Every number of a study (what ``results.json`` holds), and their reading.

    Attributes
    ----------
    settings : dict
        ``scale``, ``seed``, ``top_fractions``, ``policies``, ``version``.
    workloads : dict
        Per workload: ``description``, ``footprint_pages``, ``accesses``,
        ``runs`` (per top-tier fraction, as text: ``top_pages``,
        ``lower_pages``, ``bin_s``, ``policies``: each policy's
        :meth:`pghot.sim.PolicyResult.to_dict`).
    sensitivity : dict
        Per workload: ``thresholds``, ``windows_ms``, ``by_top_fraction``
        (per top-tier fraction, as text: ``est_time_ns`` and ``hit_ratio``,
        rows of thresholds and columns of windows, ``tuned``, the knobs of
        the lowest time, and ``tuned_description``), and the first
        fraction's (``top_fraction``) at the top level, which the report
        draws.
    """

    settings: dict[str, Any]
    workloads: dict[str, dict[str, Any]]
    sensitivity: dict[str, dict[str, Any]]

    # -- the numbers ------------------------------------------------------------------

    def rows(self) -> list[dict[str, Any]]:
        """One row per (workload, top-tier fraction, policy) with the report's metrics."""
        out = []
        for wname, w in self.workloads.items():
            for frac, run in w["runs"].items():
                pols = run["policies"]
                none_t = pols.get("none", {}).get("est_time_ns")
                oracle_t = pols.get("oracle", {}).get("est_time_ns")
                lower_gib = run["lower_pages"] * 4096 / 2**30
                for pname, p in pols.items():
                    mem = p.get("tracker_memory_bytes")
                    out.append(
                        {
                            "workload": wname,
                            "top_fraction": float(frac),
                            "top_pages": run["top_pages"],
                            "policy": pname,
                            "hit_ratio": p["hit_ratio"],
                            "time_vs_none": _ratio(p["est_time_ns"], none_t),
                            "time_vs_oracle": _ratio(p["est_time_ns"], oracle_t),
                            "promotions": p["promotions"],
                            "demotions": p["demotions"],
                            "ping_pong_share": p["ping_pong_share"],
                            "migration_mbps": p["promoted_mbps"] + p["demoted_mbps"],
                            "tracker_memory_bytes": mem,
                            "bytes_per_tracked_page": None if mem is None else mem / run["lower_pages"],
                            "bytes_per_lower_gib": None if mem is None else mem / lower_gib,
                            "est_time_ns": p["est_time_ns"],
                            "precision": p["precision"],
                            "recall": p["recall"],
                        }
                    )
        return out

    def row(self, workload: str, top_fraction: float, policy: str) -> dict[str, Any]:
        """The :meth:`rows` entry of one policy of one run (KeyError when not run)."""
        for r in self.rows():
            if r["workload"] == workload and r["top_fraction"] == top_fraction and r["policy"] == policy:
                return r
        raise KeyError((workload, top_fraction, policy))

    def to_dict(self) -> dict[str, Any]:
        """What ``results.json`` holds: the settings, every run, the sensitivity, the rows, the checks."""
        return {
            "settings": self.settings,
            "workloads": self.workloads,
            "sensitivity": self.sensitivity,
            "rows": self.rows(),
            "checks": self.checks(),
            "summary": self.summary_lines(),
        }

    def to_frame(self) -> Any:
        """:meth:`rows` as a pandas DataFrame (needs the ``frame`` extra: ``pip install pghot[frame]``)."""
        return _frame(self.rows())

    # -- the reading ------------------------------------------------------------------

    def checks(self) -> list[dict[str, Any]]:
        """The published results, checked on this study's numbers (those of its workloads that ran).

        Each is ``{"id", "statement", "source", "holds", "detail"}``, the
        detail giving the measured numbers.
        """
        out: list[dict[str, Any]] = []
        fracs = [float(f) for f in self.settings["top_fractions"]]
        if "gups-hot" in self.workloads:
            beat: list[str] = []
            lose: list[str] = []
            best = []
            for f in fracs:
                for r in self._run_rows("gups-hot", f):
                    if r["policy"] in ("none", "oracle"):
                        continue
                    at = f"{r['policy']} {r['time_vs_none']:.3f} (top {f:.0%})"
                    (beat if r["time_vs_none"] < 1 else lose).append(at)
                    if r["time_vs_oracle"] < 1:
                        best.append(f"{r['policy']} {r['time_vs_oracle']:.3f} (top {f:.0%})")
            out.append(
                {
                    "id": "gups-hot-promotion-helps",
                    "statement": "on the hot-set GUPS every promoting policy beats none",
                    "source": "HeMem (SOSP 2021) section 5.1; Memtis (SOSP 2023) section 6",
                    "holds": not lose,
                    "detail": "run time vs none: "
                    + ("slower: " + ", ".join(lose) if lose else "every policy below 1"),
                }
            )
            out.append(
                {
                    "id": "gups-hot-oracle-best",
                    "statement": "on the hot-set GUPS oracle beats every policy",
                    "source": "the per-period oracle bound of HeMem and Memtis",
                    "holds": not best,
                    "detail": "run time vs oracle: "
                    + ("below oracle: " + ", ".join(best) if best else "every policy at or above 1"),
                }
            )
        if "gups-moving" in self.workloads:
            parts, holds = [], True
            for f in fracs:
                pols = self.workloads["gups-moving"]["runs"][str(f)]["policies"]
                if "v2" not in pols or "pghot-aging" not in pols:
                    continue
                a, b = _late_recall(pols["v2"]), _late_recall(pols["pghot-aging"])
                holds = holds and a is not None and b is not None and a < b
                parts.append(f"top {f:.0%}: v2 {_f3(a)}, pghot-aging {_f3(b)}")
            if parts:
                out.append(
                    {
                        "id": "moving-aging-helps",
                        "statement": "on a moving hot set a policy without aging (v2, F12) keeps stale pages "
                        "longer than one with aging: a lower recall after the move",
                        "source": "SEMANTICS.md F12; HeMem/Memtis moving hot set",
                        "holds": holds,
                        "detail": "recall over the intervals after the move: " + "; ".join(parts),
                    }
                )
        if "v3-micro" in self.workloads:
            parts, holds = [], True
            for f in fracs:
                pols = self.workloads["v3-micro"]["runs"][str(f)]["policies"]
                if "v2" not in pols or "numab2" not in pols:
                    continue
                a, b = pols["v2"]["hit_ratio"], pols["numab2"]["hit_ratio"]
                gap = abs(a - b) / b if b else math.inf
                holds = holds and gap <= 0.05
                parts.append(f"top {f:.0%}: pghot (v2) {a:.3f}, numab2 {b:.3f} ({gap:.1%} apart)")
            if parts:
                out.append(
                    {
                        "id": "v3-micro-numab2-similar",
                        "statement": "numab2 and pghot with hint faults give hit ratios within 5 % on the v3 "
                        "microbenchmark",
                        "source": "pghot v3 cover letter: pghot 4.5 % slower than NUMAB=2 on random 4K "
                        "accesses",
                        "holds": holds,
                        "detail": "; ".join(parts),
                    }
                )
        return out

    def _run_rows(self, workload: str, frac: float) -> list[dict[str, Any]]:
        return [r for r in self.rows() if r["workload"] == workload and r["top_fraction"] == frac]

    def summary_table(self) -> tuple[list[str], list[list[str]]]:
        """The summary as a table: per workload, top-tier size and pghot variant, its run time
        relative to each of the kernel's alternatives (negative: pghot faster) and its costs.

        Columns: ``workload``, ``top tier``, ``policy``, ``vs oracle``, one ``vs X`` per
        alternative that ran (numab2, tpp, damon), the tracker's bytes per tracked page
        and the migration traffic.
        """
        ours = [p for p in ("pghot", "v2", "pghot-v8") if p in self.settings["policies"]]
        theirs = [p for p in ("numab2", "tpp", "damon") if p in self.settings["policies"]]
        header = ["workload", "top tier", "policy", "time vs oracle", *[f"vs {t}" for t in theirs]]
        header += ["tracker B/tracked page", "migration MiB/s"]
        rows = []
        for wname in self.workloads:
            for f in self.settings["top_fractions"]:
                by = {r["policy"]: r for r in self._run_rows(wname, float(f))}
                for o in ours:
                    if o not in by:
                        continue
                    ro = by[o]
                    cells = [wname, f"{float(f):.0%}", o, f"{ro['time_vs_oracle']:.3f}"]
                    for t in theirs:
                        rel = _ratio(ro["est_time_ns"], by[t]["est_time_ns"]) if t in by else None
                        cells.append("-" if rel is None else f"{rel - 1:+.1%}")
                    mem = ro["bytes_per_tracked_page"]
                    cells += ["-" if mem is None else f"{mem:.2f}", f"{ro['migration_mbps']:.1f}"]
                    rows.append(cells)
        return header, rows

    def summary_lines(self) -> list[str]:
        """The summary in words, generated from the numbers: where pghot beats the kernel's
        alternatives, by how much and at what cost, and where promotion hurts."""
        ours = [p for p in ("pghot", "v2", "pghot-v8") if p in self.settings["policies"]]
        theirs = [p for p in ("numab2", "tpp", "damon") if p in self.settings["policies"]]
        lines = []
        for wname in self.workloads:
            for f in self.settings["top_fractions"]:
                rows = {r["policy"]: r for r in self._run_rows(wname, float(f))}
                where = f"{wname} (top tier {float(f):.0%})"
                for o in ours:
                    ro = rows.get(o)
                    if ro is None:
                        continue
                    beaten = [t for t in theirs if t in rows and ro["est_time_ns"] < rows[t]["est_time_ns"]]
                    lost = [t for t in theirs if t in rows and t not in beaten]
                    if beaten:
                        by = ", ".join(
                            f"{t} by {1 - ro['est_time_ns'] / rows[t]['est_time_ns']:.1%}" for t in beaten
                        )
                        theirs_mig = ", ".join(f"{t} {rows[t]['migration_mbps']:.1f}" for t in beaten)
                        mem = ro["bytes_per_tracked_page"]
                        memtxt = f"{mem:.2f} B per tracked page" if mem is not None else "no tracker"
                        lines.append(
                            f"On {where}, {o} beats {by} in run time, at {memtxt}, migrating "
                            f"{_mbps(ro['migration_mbps'])} ({theirs_mig})."
                        )
                    if lost:
                        lines.append(
                            f"On {where}, {o} is slower than "
                            + ", ".join(
                                f"{t} (by {ro['est_time_ns'] / rows[t]['est_time_ns'] - 1:.1%})" for t in lost
                            )
                            + "."
                        )
                hurts = [
                    f"{p} ({r['time_vs_none']:.3f}x none)"
                    for p, r in rows.items()
                    if p not in ("none", "oracle") and r["time_vs_none"] is not None and r["time_vs_none"] > 1
                ]
                if hurts:
                    lines.append(f"On {where}, promotion hurts: " + ", ".join(hurts) + ".")
        return lines

    def sensitivity_workload(self) -> str | None:
        """The workload where pghot's threshold and window matter most: the widest spread of run time."""
        best, spread = None, -1.0
        for wname, s in self.sensitivity.items():
            times = [t for row in s["est_time_ns"] for t in row]
            value = max(times) / min(times) - 1 if times and min(times) > 0 else 0.0
            if value > spread:
                best, spread = wname, value
        return best

    # -- showing it -------------------------------------------------------------------

    def __repr__(self) -> str:
        return (
            f"Study({len(self.workloads)} workloads x {len(self.settings['top_fractions'])} top-tier sizes x "
            f"{len(self.settings['policies'])} policies, scale {self.settings['scale']})"
        )

    def _repr_html_(self) -> str:
        rows = self.rows()
        cols = [
            "workload",
            "top_fraction",
            "policy",
            "hit_ratio",
            "time_vs_none",
            "time_vs_oracle",
            "promotions",
        ]
        return f"<p>{html.escape(repr(self))}</p>" + _html_table(rows, cols)

    def write_report(self, out: str | os.PathLike[str]) -> str:
        """Write the report (:func:`pghot.study.report.write_report`); returns the folder."""
        from pghot.study.report import write_report

        return write_report(self, out)


def _late_recall(p: Mapping[str, Any]) -> float | None:
    """Mean recall over the oracle intervals of the second half of the run (after the move)."""
    series = p["recall_series"]
    if not series:
        return None
    end = series[-1][0]
    late = [r for t, r in series if t >= end / 2]
    return sum(late) / len(late) if late else None


def _f3(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _mbps(x: float) -> str:
    return f"{x:.1f} MiB/s"


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 1e6 else f"{v:.3g}"
    return html.escape(str(v))


def _html_table(rows: Sequence[Mapping[str, Any]], cols: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{_cell(r.get(c))}</td>" for c in cols) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _frame(rows: list[dict[str, Any]]) -> Any:
    try:
        import pandas as pd
    except ImportError as e:
        raise ImportError("to_frame needs pandas: pip install 'pghot[frame]'") from e
    return pd.DataFrame(rows)


# -- running it ----------------------------------------------------------------------


def _spec(name: str, scale: float, seed: int) -> dict[str, Any]:
    return {"name": name, "scale": scale, "seed": seed}


def _knobs(
    config: Mapping[str, Any], tracker: Mapping[str, Any] = {}, promoter: Mapping[str, Any] = {}
) -> dict:
    return {**config, "tracker": dict(tracker), "promoter": dict(promoter)}


def _check_fractions(top_fractions: Any) -> tuple[float, ...]:
    if isinstance(top_fractions, (str, bytes)) or not isinstance(top_fractions, Sequence):
        raise TypeError(f"top_fractions must be a sequence of numbers, not {type(top_fractions).__name__}")
    out = []
    for f in top_fractions:
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f < 1:
            raise ValueError(f"top_fractions must be numbers in (0, 1), got {f!r}")
        out.append(float(f))
    if not out:
        raise ValueError("top_fractions must name at least one size")
    return tuple(out)


def run_study(
    traces: Sequence[str | os.PathLike[str]] = (),
    *,
    workloads: Sequence[str] | None = None,
    scale: float = 1.0,
    seed: int = 0,
    policies: Sequence[str] | None = None,
    top_fractions: Sequence[float] = DEFAULT_TOP_FRACTIONS,
    jobs: int = 1,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    dask_address: str | None = None,
) -> Study:
    """Run the study: the sensitivity sweep, then every policy on every workload.

    Parameters
    ----------
    traces : paths
        Trace files (any format :func:`pghot.traces.open_trace` reads), each
        a workload named by its path.
    workloads : names of :data:`pghot.study.workloads.WORKLOADS`, optional
        Default: all of them when no trace is given, none otherwise.
    scale : float
        Size factor of the built-in workloads (``QUICK_SCALE`` for a smoke run).
    policies : names, optional
        Default :func:`study_policies` (``none`` and ``oracle`` always run).
    top_fractions : numbers in (0, 1)
        The top tier's share of each workload's footprint.
    jobs : int
        Worker processes.
    cache_dir : path, optional
        Keep each policy's result there; a rerun reads it back.
    dask_address : str, optional
        Run the replays on this Dask scheduler instead of local processes.

    Examples
    --------
    >>> s = run_study(workloads=["gups-hot"], scale=0.02, policies=["v2"], progress=False)
    >>> s
    Study(1 workloads x 2 top-tier sizes x 3 policies, scale 0.02)
    >>> s.row("gups-hot", 0.25, "oracle")["time_vs_oracle"]
    1.0
    """
    from pghot import sim

    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale <= 1024:
        raise ValueError(f"scale must be a number in (0, 1024], got {scale!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    fracs = _check_fractions(top_fractions)
    chosen = study_policies(policies)
    if isinstance(traces, (str, bytes)):
        raise TypeError("traces must be a sequence of paths, not a string")
    if workloads is None:
        names = [] if traces else list(WORKLOADS)
    else:
        if isinstance(workloads, (str, bytes)) or not isinstance(workloads, Sequence):
            raise TypeError(f"workloads must be a sequence of names, not {type(workloads).__name__}")
        names = []
        for w in workloads:
            if not isinstance(w, str) or w not in WORKLOADS:
                raise ValueError(f"workloads: unknown workload {w!r} (known: {', '.join(WORKLOADS)})")
            if w not in names:
                names.append(w)
    specs: dict[str, dict[str, Any]] = {n: _spec(n, float(scale), seed) for n in names}
    for t in traces:
        path = os.fspath(t)
        if not os.path.isfile(path):
            raise ValueError(f"{path}: no such trace file")
        specs[path] = {"trace": path}
    if not specs:
        raise ValueError("workloads: nothing to study (no workload and no trace)")
    check_memory(
        scale if names else 0.0, [s["trace"] for s in specs.values() if "trace" in s], jobs, len(chosen)
    )
    base = _knobs({"sources": _HINT_FAULTS})

    sens_jobs = {
        (w, f, th, win): Job(
            spec,
            f,
            ("pghot",),
            _knobs(base, {"threshold": th, "freq_window_ms": win}),
        )
        for w, spec in specs.items()
        for f in fracs
        for th in SENSITIVITY_THRESHOLDS
        for win in SENSITIVITY_WINDOWS_MS
    }
    groups = _groups(chosen, sim.POLICIES)
    total = len(sens_jobs) + len(specs) * len(fracs) * len(groups)
    with _progress_bar(total, enabled=progress, desc="study", unit="run") as bar:
        sens_out = dict(
            zip(
                sens_jobs,
                run_jobs(
                    list(sens_jobs.values()),
                    workers=jobs,
                    cache_dir=cache_dir,
                    bar=bar,
                    dask_address=dask_address,
                ),
            )
        )
        sensitivity: dict[str, dict[str, Any]] = {}
        for w in specs:
            grids = {str(f): _grid({k[2:]: v for k, v in sens_out.items() if k[:2] == (w, f)}) for f in fracs}
            sensitivity[w] = {
                "top_fraction": fracs[0],
                "thresholds": list(SENSITIVITY_THRESHOLDS),
                "windows_ms": list(SENSITIVITY_WINDOWS_MS),
                **grids[str(fracs[0])],
                "by_top_fraction": grids,
            }
        main: list[tuple[str, float, Job]] = []
        for w, spec in specs.items():
            for f in fracs:
                for labels, pols, cfg in groups:
                    if labels == ("pghot",):
                        cfg = _knobs(cfg, sensitivity[w]["by_top_fraction"][str(f)]["tuned"])
                    main.append((w, f, Job(spec, f, pols, cfg, labels)))
        main_out = run_jobs(
            [j for _, _, j in main], workers=jobs, cache_dir=cache_dir, bar=bar, dask_address=dask_address
        )
    out_workloads: dict[str, dict[str, Any]] = {}
    for (w, f, _), res in zip(main, main_out, strict=True):
        entry = out_workloads.setdefault(
            w,
            {
                "description": _describe(specs[w]),
                "footprint_pages": res["footprint_pages"],
                "accesses": res["accesses"],
                "runs": {},
            },
        )
        run = entry["runs"].setdefault(
            str(f),
            {
                "top_pages": res["top_pages"],
                "lower_pages": res["lower_pages"],
                "bin_s": res["bin_s"],
                "policies": {},
            },
        )
        run["policies"].update(res["policies"])
    for entry in out_workloads.values():  # the policies in the study's order
        for run in entry["runs"].values():
            run["policies"] = {p: run["policies"][p] for p in chosen if p in run["policies"]}
    for w, sens in sensitivity.items():
        for f, run in out_workloads[w]["runs"].items():
            if "pghot" in run["policies"]:
                tuned = sens["by_top_fraction"][f]["tuned_description"]
                run["policies"]["pghot"]["description"] = "pghot, tuned knobs: " + tuned
    settings = {
        "scale": float(scale),
        "seed": seed,
        "top_fractions": list(fracs),
        "policies": chosen,
        "version": pghot.__version__,
        "sources": {"default": _HINT_FAULTS, **POLICY_SOURCES},
        "aging": AGING,
    }
    return Study(settings, out_workloads, sensitivity)


def _grid(points: Mapping[tuple[int, int], Mapping[str, Any]]) -> dict[str, Any]:
    """One top-tier size's sweep: run times and hit ratios (rows of thresholds), the best point."""
    times = [
        [points[th, win]["policies"]["pghot"]["est_time_ns"] for win in SENSITIVITY_WINDOWS_MS]
        for th in SENSITIVITY_THRESHOLDS
    ]
    hits = [
        [points[th, win]["policies"]["pghot"]["hit_ratio"] for win in SENSITIVITY_WINDOWS_MS]
        for th in SENSITIVITY_THRESHOLDS
    ]
    cells = [(i, j) for i in range(len(SENSITIVITY_THRESHOLDS)) for j in range(len(SENSITIVITY_WINDOWS_MS))]
    i, j = min(cells, key=lambda ij: times[ij[0]][ij[1]])  # the first of equal times
    tuned = {"threshold": SENSITIVITY_THRESHOLDS[i], "freq_window_ms": SENSITIVITY_WINDOWS_MS[j]}
    return {
        "est_time_ns": times,
        "hit_ratio": hits,
        "tuned": tuned,
        "tuned_description": ", ".join(f"{k}={v}" for k, v in tuned.items()),
    }


def available_bytes() -> int:
    """Memory available to new work: ``MemAvailable`` of /proc/meminfo, else the physical memory."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, AttributeError):
        return 1 << 62


def check_memory(scale: float, traces: Sequence[str], jobs: int, policies: int) -> int:
    """The study's estimated peak memory, refused (``ValueError`` naming the scale) beyond what is available.

    ``jobs`` replays at a time, each the largest of the workloads'
    (:func:`pghot.study.workloads.estimate_bytes`) and the traces' (four
    times the file's size: its records read whole, the replay's stream).

    >>> check_memory(0.125, [], 2, 10) < 2**30
    True
    >>> check_memory(1000, [], 2, 10)
    Traceback (most recent call last):
    ...
    ValueError: scale 1000: the study would need about ... GiB (2 jobs at a time), more than ... jobs
    """
    one = estimate_bytes(scale, policies) if scale else 0
    for t in traces:
        one = max(one, 4 * os.path.getsize(t) + (64 << 20))
    need = one * min(jobs, os.cpu_count() or 1) if jobs > 1 else one
    have = available_bytes()
    if need > have:
        raise ValueError(
            f"scale {scale:g}: the study would need about {need / 2**30:.1f} GiB ({jobs} jobs at a time), "
            f"more than the {have / 2**30:.1f} GiB available: use a smaller scale or fewer jobs"
        )
    return need


def _describe(spec: Mapping[str, Any]) -> str:
    if "trace" in spec:
        return f"the trace {spec['trace']}"
    return make(spec["name"], spec["scale"], spec["seed"]).description


def _groups(
    chosen: Sequence[str], sim_policies: Sequence[str]
) -> list[tuple[tuple[str, ...], tuple[str, ...], dict[str, Any]]]:
    """The study's policies as (labels, simulator policies, config) groups that share one replay."""
    base = _knobs({"sources": _HINT_FAULTS})
    plain = [p for p in chosen if p in sim_policies and p != "pghot" and p not in POLICY_SOURCES]
    out: list[tuple[tuple[str, ...], tuple[str, ...], dict[str, Any]]] = []
    if plain:
        out.append((tuple(plain), tuple(plain), base))
    if "pghot" in chosen:
        out.append((("pghot",), ("pghot",), base))
    for p, sources in POLICY_SOURCES.items():
        if p in chosen and p in sim_policies:
            out.append(((p,), (p,), {**base, "sources": sources}))
    for v, (policy, _) in VARIANTS.items():
        if v in chosen:
            out.append(((v,), (policy,), _knobs(base, AGING["tracker"], AGING["promoter"])))
    return out
