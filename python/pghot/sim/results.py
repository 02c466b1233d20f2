"""What a replay found: :class:`Result`, one :class:`PolicyResult` per policy.

:meth:`Result.summary` prints two tables, one row per policy: the first
says how well the policy placed the pages (hits, promotions, precision,
recall, estimated time), the second what its migrations cost and what it
lost on the way (migration traffic and time, ping-pong share, candidates
refused by a full table or queue, dropped by the rate limit or as stale),
so that nothing is only in the JSON.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from pghot._output import duration, format_table, num, pct, size
from pghot.topology import _format_list

if TYPE_CHECKING:
    from pghot.sim.config import SimConfig

__all__ = ["PolicyResult", "Result"]


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
    time_vs_oracle : float or None
        ``est_time_ns`` over the ``oracle`` policy's (the best placement of
        each interval's hottest pages): how far from the best possible;
        None when the replay did not run ``oracle``.
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
    promoted_mbps, demoted_mbps : float
        Migration traffic: pages promoted (demoted) times ``page_size``, in
        MiB (2**20 bytes, the unit of ``promoter.rate_limit_mbps``) per
        second of the trace's duration.
    migration_time_ns : float
        Time spent migrating pages, included in ``est_time_ns``: each
        promotion at the policy's promotion cost, every other page moved
        (demotions) at the batched cost (:meth:`SimConfig.migration_costs_ns`).
    fault_path_migration_ns : float
        The part of ``migration_time_ns`` the faulting threads pay
        (promotions made in the fault path: ``second-access``); the rest is
        paid by kernel threads (kpromoted's rounds, kswapd's demotions).
    nodes : dict
        Per node id of the machine: ``toptier`` (1 or 0), ``accesses``
        (made from the node: the trace's nid or cpu column on a configured
        topology, else all from the default node), ``hits`` (accesses
        served by the node's memory, whichever node made them; 0 on a
        lower-tier node), ``promotions`` (into the node) and ``demotions``
        (out of it).  Each sums over the nodes to the policy's
        ``accesses``, ``top_tier_hits``, ``promotions`` and ``demotions``.
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
    stats: dict[str, dict[str, Any]]
    time_vs_oracle: float | None = None
    promoted_mbps: float = 0.0
    demoted_mbps: float = 0.0
    migration_time_ns: float = 0.0
    fault_path_migration_ns: float = 0.0
    nodes: dict[int, dict[str, int]] = dataclasses.field(default_factory=dict)

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

    @property
    def ping_pong_share(self) -> float | None:
        """Share of the promotions whose page was demoted again within ``ping_pong_window_ms``.

        None without promotions.

        >>> _example_policy().ping_pong_share
        0.25
        """
        return self.ping_pong / self.promotions if self.promotions else None

    def to_dict(self) -> dict[str, Any]:
        """The metrics as plain JSON-ready values, the ratios included.

        >>> d = _example_policy().to_dict(); d["hit_ratio"], d["precision"], d["ping_pong_share"]
        (0.5, 0.75, 0.25)
        """
        d = dataclasses.asdict(self)
        d["hit_ratio"] = self.hit_ratio
        d["precision"] = self.precision
        d["recall"] = self.recall
        d["ping_pong_share"] = self.ping_pong_share
        d["recall_series"] = [list(x) for x in self.recall_series]
        return d


def _llc_text(llc: dict[str, int]) -> str:
    """The summary's line about the last-level-cache filter (``auto``: the default one).

    >>> _llc_text({"size_bytes": 6400, "accesses": 10, "hits": 9, "misses": 1})
    '  LLC filter: 6,400 bytes absorbed 9 of 10 trace accesses (90.0%); the replay is of its misses'
    >>> print(_llc_text({"size_bytes": 110100480, "auto": True, "accesses": 4, "hits": 3, "misses": 1}))
      LLC filter (the default for lackey: a Xeon Platinum 8480+ L3, 105.0 MiB; llc_bytes=0: none):
        110,100,480 bytes absorbed 3 of 4 trace accesses (75.0%); the replay is of its misses
    """
    head = "  LLC filter: "
    if llc.get("auto"):
        head = (
            f"  LLC filter (the default for lackey: a Xeon Platinum 8480+ L3, {size(llc['size_bytes'])}; "
            "llc_bytes=0: none):\n    "
        )
    return (
        f"{head}{llc['size_bytes']:,} bytes absorbed {llc['hits']:,} of {llc['accesses']:,} "
        f"trace accesses ({pct(llc['hits'] / llc['accesses'])}); the replay is of its misses"
    )


def _example_policy() -> PolicyResult:
    return PolicyResult(
        "x", "none", "", 4, 2, 4, 1, 1, 0, 3, 4, 1, 700.0, 1.75, 1.0, None, [0.5], [4], [(0.0, 0.25)], {}
    )


def migration_metrics(
    promotions: int,
    moves: int,
    demotions: int,
    *,
    page_size: int,
    duration_s: float,
    batched_ns: float,
    single_ns: float,
    fault_path: bool,
) -> dict[str, float]:
    """The migration fields of a :class:`PolicyResult`, from the memory's counters.

    Parameters
    ----------
    promotions, moves, demotions : int
        ``pgpromote_success``, ``pgmigrate_success`` (every page moved,
        promotions included) and ``pgdemote_kswapd``.
    page_size : int
        Bytes per page.
    duration_s : float
        The trace's duration (the rates' denominator), > 0.
    batched_ns, single_ns : float
        Nanoseconds per page moved in a kernel thread's batch, and alone in
        the fault path (:meth:`pghot.sim.SimConfig.migration_costs_ns`).
    fault_path : bool
        The policy promotes in the fault path (each promotion costs
        ``single_ns``, paid by the faulting thread); else in a kernel
        thread's batch (``batched_ns``).  The other moves (demotions, by
        kswapd) always cost ``batched_ns``.

    Returns
    -------
    dict
        ``promoted_mbps``, ``demoted_mbps`` (MiB per second), ``migration_time_ns``
        and ``fault_path_migration_ns``.

    Examples
    --------
    Second access promoted 3 pages (one call each) and kswapd demoted 2, over 2 s:

    >>> m = migration_metrics(3, 5, 2, page_size=4096, duration_s=2.0, batched_ns=1237.0,
    ...                       single_ns=4847.0, fault_path=True)
    >>> m["migration_time_ns"] == 3 * 4847 + 2 * 1237, m["fault_path_migration_ns"] == 3 * 4847
    (True, True)
    >>> round(m["promoted_mbps"] * 2**20 * 2), round(m["demoted_mbps"] * 2**20 * 2)
    (12288, 8192)
    """
    promote_ns = single_ns if fault_path else batched_ns
    promoting = promotions * promote_ns
    mib_s = page_size / 2**20 / duration_s
    return {
        "promoted_mbps": promotions * mib_s,
        "demoted_mbps": demotions * mib_s,
        "migration_time_ns": promoting + (moves - promotions) * batched_ns,
        "fault_path_migration_ns": promoting if fault_path else 0.0,
    }


def _clock_text(c: SimConfig, tr: Mapping[str, Any]) -> str:
    """The summary's clock line: which time model ran (:attr:`SimConfig.time_model`)."""
    if tr.get("time_model") != "closed":
        return "open loop, the trace's time stamps (time_model=open)"
    cpu = f", {c.cpu_ns:g} ns CPU per access" if c.cpu_ns else ""
    return (
        f"closed loop (time_model=closed): the trace's {duration(tr['cpu_time_s'] * 1e9)} of CPU time{cpu} "
        "plus each memory access's stall on the none policy's tiers; est. time adds the CPU time"
    )


def _migration_text(cfg: SimConfig) -> str:
    """The machine line's migration costs: the published defaults, or ``migration_ns``.

    >>> from pghot.sim import SimConfig
    >>> _migration_text(SimConfig())  # doctest: +NORMALIZE_WHITESPACE
    '1,237 ns per page migrated by a kernel thread (kpromoted, kswapd; batched), 4,847 ns per page
     promoted in the fault path (the faulting thread pays; pghot.machine.costs)'
    >>> _migration_text(SimConfig(migration_ns=0))
    '0 ns per migrated page (migration_ns)'
    >>> print(_migration_text(SimConfig(migration_ns=500, kthread_share=0.25)))
    500 ns per migrated page (migration_ns); est. time charges 25% of the kernel threads' (kthread_share)
    """
    batched, single = cfg.migration_costs_ns()
    share = (
        ""
        if cfg.kthread_share == 1
        else f"; est. time charges {cfg.kthread_share:.0%} of the kernel threads' (kthread_share)"
    )
    if cfg.migration_ns is not None:
        return f"{batched:,.4g} ns per migrated page (migration_ns){share}"
    return (
        f"{batched:,.0f} ns per page migrated by a kernel thread (kpromoted, kswapd; batched), "
        f"{single:,.0f} ns per page promoted in the fault path (the faulting thread pays; "
        f"pghot.machine.costs){share}"
    )


def _losses(p: PolicyResult) -> tuple[str, str, str, str]:
    """Candidates refused by a full table, a full queue, the rate limit, as stale: ``-`` if none can be."""
    tr, pr = p.stats.get("tracker"), p.stats.get("promoter")

    def count(table: Mapping[str, int] | None, key: str) -> str:
        return "-" if table is None or key not in table else f"{table[key]:,}"

    return (
        count(tr, "table_full"),
        count(tr, "queue_full"),
        count(pr, "kpromoted_rate_limited"),
        count(pr, "kpromoted_stale"),
    )


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
        ``config.sources``); with a last-level-cache filter (``config.llc_bytes``,
        by default for lackey traces), ``llc``: its ``size_bytes``, ``auto``
        (True when it is the default one) and counters (``accesses`` of the
        trace, ``hits`` absorbed, ``misses`` replayed, ``evictions``);
        ``time_model``: ``"closed"`` or ``"open"``
        (:attr:`SimConfig.time_model`), and on the closed clock
        ``cpu_time_s``, the CPU's part of the duration.
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
        ``interval_ms`` on a trace longer than :data:`MAX_BINS` bins, why a
        result is degenerate, and what reading the trace dropped or skipped
        (printed by :meth:`summary`, in :meth:`to_dict`).  For a trace file,
        ``trace["reading"]`` holds the counts: its ``format``, the reader's
        counters (:attr:`pghot.traces.TraceReader.counters`: ``lines_read``,
        ``bad_lines``, ``records``, ``instructions``, ``no_phys_addr``,
        ``unknown_cpu``) and ``first_bad`` (line, reason).
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

        >>> from pghot.sim import SimConfig, demo_trace, replay
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
            out["heatmap"] = {
                "time_bin_s": self.heat_time_s,
                "page_bin_pages": self.heat_pages,
                "accesses": self.heatmap.tolist(),
            }
        return out

    def to_json(self, indent: int | None = 2, heatmap: bool = False) -> str:
        """:meth:`to_dict` as JSON text.

        >>> from pghot.sim import SimConfig, demo_trace, replay
        >>> r = replay([demo_trace(5000, 200, seed=1)], SimConfig(top_pages=50), progress=False)
        >>> json.loads(r.to_json())["trace"]["accesses"]
        5000
        """
        return json.dumps(self.to_dict(heatmap), indent=indent, default=_json_default)

    def summary(self) -> str:
        """A text table of the metrics, one row per policy.

        >>> from pghot.sim import SimConfig, demo_trace, replay
        >>> r = replay([demo_trace(5000, 200, seed=1)], SimConfig(top_pages=50), progress=False)
        >>> print(r.summary().splitlines()[0])
        replay of <chunks>: 5,000 accesses over 9.999 s, footprint 200 pages (800.0 KiB)
        """
        c, tr = self.config, self.trace
        top = c.top_pages or 0  # resolved by replay
        lines = [
            f"replay of {tr['name']}: {tr['accesses']:,} accesses over {tr['duration_s']:.3f} s, "
            f"footprint {tr['footprint_pages']:,} pages ({size(tr['footprint_pages'] * c.page_size)})",
            f"  machine: top tier {top:,} pages ({size(top * c.page_size)}), "
            f"lower tier {c.lower_pages or 0:,} pages; access {c.top_ns:g} ns top, {c.lower_ns:g} ns lower",
            *_topology_text(c),
            f"  migration: {_migration_text(c)}",
            f"  sources: {', '.join(_source_text(s, n) for s, n in zip(c.sources, tr['reports']))}"
            f"; precision, recall: of the hottest "
            f"{top:,} pages of each {c.oracle_interval_ms} ms",
            *([_llc_text(tr["llc"])] if tr.get("llc") and tr["llc"]["accesses"] else []),
            f"  clock: {_clock_text(c, tr)}",
            *(f"  note: {n}" for n in self.notes),
            "",
        ]
        oracle = "oracle" in self.policies
        head = (
            "policy",
            "top hits",
            "promoted",
            "demoted",
            "ping-pong",
            "precision",
            "recall",
            "est. time",
            "x all-top",
            "x none",
            *(["x oracle"] if oracle else []),
            "tracker mem",
        )
        rows = [
            (
                p.name,
                pct(p.hit_ratio),
                f"{p.promotions:,}",
                f"{p.demotions:,}",
                f"{p.ping_pong:,}",
                pct(p.precision),
                pct(p.recall),
                duration(p.est_time_ns),
                num(p.time_vs_all_top),
                num(p.time_vs_none),
                *([num(p.time_vs_oracle)] if oracle else []),
                size(p.tracker_memory_bytes),
            )
            for p in self.policies.values()
        ]
        lines.append(format_table(head, rows))
        lines.append("")
        head2 = (
            "policy",
            "promoted",
            "demoted",
            "migrating",
            "in faults",
            "ping-pong",
            "table full",
            "queue full",
            "rate-limited",
            "stale",
            "no room",
        )
        rows2 = [
            (
                p.name,
                f"{p.promoted_mbps:,.2f} MiB/s",
                f"{p.demoted_mbps:,.2f} MiB/s",
                duration(p.migration_time_ns),
                duration(p.fault_path_migration_ns),
                pct(p.ping_pong_share),
                *_losses(p),
                f"{p.promote_fail_no_space:,}",
            )
            for p in self.policies.values()
        ]
        lines.append(format_table(head2, rows2))
        lines += _nodes_text(self.policies.values())
        lines += [
            "",
            "  promoted, demoted: migration traffic over the trace's duration; migrating: the time",
            "  spent migrating (in est. time"
            + ("" if c.kthread_share == 1 else f", the kernel threads' part x{c.kthread_share:g}")
            + "), in faults: its part paid by the",
            "  faulting threads (the rest by kpromoted and kswapd); ping-pong: promotions demoted",
            f"  again within {c.ping_pong_window_ms} ms;",
            "  table full, queue full: reports the tracker had no room for; rate-limited, stale:",
            "  candidates kpromoted dropped; - where the policy has no such stage; no room: promotions",
            "  that found the top tier full and nothing to demote",
            "",
        ]
        for p in self.policies.values():
            lines.append(f"  {p.name}: {p.description}")
        return "\n".join(lines)

    #: the scalar columns of :meth:`to_frame`, one row per policy
    FRAME_COLUMNS = (
        "name",
        "kind",
        "accesses",
        "top_tier_hits",
        "hit_ratio",
        "promotions",
        "demotions",
        "ping_pong",
        "ping_pong_share",
        "precision",
        "recall",
        "est_time_ns",
        "time_vs_all_top",
        "time_vs_none",
        "time_vs_oracle",
        "promoted_mbps",
        "demoted_mbps",
        "migration_time_ns",
        "tracker_memory_bytes",
    )

    def to_frame(self) -> Any:
        """The policies' scalar metrics as a pandas DataFrame, one row per policy, indexed by name.

        Needs pandas (the ``frame`` extra: ``pip install 'pghot[frame]'``); the
        series are in :meth:`to_dict`.

        >>> from pghot.sim import SimConfig, demo_trace, replay
        >>> r = replay([demo_trace(5000, 200, seed=1)], SimConfig(top_pages=50), progress=False)
        >>> df = r.to_frame()
        >>> list(df.index), float(df.loc["none", "time_vs_none"])
        (['pghot', 'none', 'v2', 'second-access'], 1.0)
        """
        try:
            import pandas as pd
        except ImportError as e:
            raise ImportError("Result.to_frame needs pandas: pip install 'pghot[frame]'") from e
        rows = []
        for p in self.policies.values():
            d = p.to_dict()
            rows.append({k: d[k] for k in self.FRAME_COLUMNS})
        return pd.DataFrame(rows, columns=list(self.FRAME_COLUMNS)).set_index("name")

    def _repr_html_(self) -> str:
        """A table of the main metrics, for Jupyter.

        >>> from pghot.sim import SimConfig, demo_trace, replay
        >>> r = replay([demo_trace(5000, 200, seed=1)], SimConfig(top_pages=50), progress=False)
        >>> html = r._repr_html_()
        >>> html.startswith("<div>") and "<td>second-access</td>" in html
        True
        """
        import html

        cols = ["hit_ratio", "time_vs_none", "promotions", "ping_pong_share", "precision", "recall"]

        def cell(v: Any) -> str:
            return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else f"{v:,}"

        head = "<th>policy</th>" + "".join(f"<th>{c}</th>" for c in cols)
        body = ""
        for p in self.policies.values():
            d = p.to_dict()
            body += f"<tr><td>{html.escape(p.name)}</td>" + "".join(f"<td>{cell(d[c])}</td>" for c in cols)
            body += "</tr>"
        title = html.escape(f"{self.trace.get('name', '')}: {self.trace.get('accesses', 0):,} accesses")
        return f"<div><p>{title}</p><table><tr>{head}</tr>{body}</table></div>"

    def plot(self, path: str | os.PathLike[str]) -> None:
        """Draw :func:`pghot.sim.plot` into ``path`` (PNG)."""
        from pghot.sim.plots import plot

        plot(self, path)


def _topology_text(c: Any) -> list[str]:
    """The summary's line about a configured topology's nodes (none for the two-tier machine).

    >>> from pghot.sim import SimConfig
    >>> _topology_text(SimConfig(topology={"nodes": [{"id": 0, "pages": 2, "toptier": True, "cpus": "0-1"},
    ...     {"id": 1, "pages": 8, "toptier": False}]}))
    ['  nodes: 0 top 2 pages CPUs 0-1 (default); 1 lower 8 pages -> 0']
    """
    topo = c.sim_topology() if hasattr(c, "sim_topology") else None
    if topo is None:
        return []
    parts = []
    for n in topo.nodes:
        text = f"{n.nid} {'top' if n.toptier else 'lower'} {n.nr_pages:,} pages"
        if n.cpus:
            text += f" CPUs {_format_list(n.cpus)}"
        if n.toptier and n.nid == topo.default_node:
            text += " (default)"
        if not n.toptier:
            text += f" -> {topo.promotion_target(n.nid)}"
        parts.append(text)
    return ["  nodes: " + "; ".join(parts)]


def _nodes_text(policies: Iterable[PolicyResult]) -> list[str]:
    """The per-node table, on a machine of more than two nodes (else nothing).

    >>> p = _example_policy()
    >>> p.nodes = {n: {"toptier": int(n < 2), "accesses": 2 * (n < 2), "hits": n < 2,
    ...                "promotions": 2 * (n < 2), "demotions": n == 0} for n in range(4)}
    >>> print(_nodes_text([p])[1].splitlines()[1])
    x          0    top         2         1   25.0%              2             1
    """
    rows = []
    for p in policies:
        if len(p.nodes) <= 2:
            continue
        for nid, st in p.nodes.items():
            rows.append(
                (
                    p.name,
                    str(nid),
                    "top" if st["toptier"] else "lower",
                    f"{st['accesses']:,}",
                    f"{st['hits']:,}" if st["toptier"] else "-",
                    pct(st["hits"] / p.accesses if p.accesses else None) if st["toptier"] else "-",
                    f"{st['promotions']:,}" if st["toptier"] else "-",
                    f"{st['demotions']:,}" if st["toptier"] else "-",
                )
            )
    if not rows:
        return []
    head = ("policy", "node", "tier", "accesses", "top hits", "of all", "promoted into", "demoted from")
    return [
        "",
        format_table(head, rows),
        "",
        "  per node: accesses made from it (the trace's nid/cpu column), hits its memory served,",
        "  pages promoted into it and demoted out of it",
    ]


def _json_default(x: Any) -> Any:
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def _source_text(s: Mapping[str, Any], reports: int) -> str:
    params = ", ".join(f"{k}={v}" for k, v in s.items() if k != "name")
    name = f"{s['name']}({params})" if params else str(s["name"])
    return f"{name} {reports:,} reports"
