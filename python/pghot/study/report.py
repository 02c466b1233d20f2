"""The study's report: ``index.md``, a self-contained ``index.html``, ``results.json``, PNG figures.

:func:`write_report` writes everything into a temporary folder beside the
output folder and renames it into place at the end (a folder already
there is replaced only then), so that a failed run leaves nothing
half-written.  Both documents are rendered from one list of blocks
(headings, paragraphs, tables, figures), so they say the same; the HTML
embeds the PNGs as base64 ``data:`` URLs.

Figures (matplotlib, the ``plot`` extra), at the first top-tier size:

- ``hit-<workload>.png``: each workload's top-tier hit ratio over time, one
  line per policy;
- ``time-vs-oracle.png``: across workloads, every policy's run time
  relative to ``oracle``;
- ``sensitivity.png``: pghot's run time relative to ``oracle`` over its
  threshold x window, on the workload where they matter most.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pghot.study.run import _plain

if TYPE_CHECKING:
    from pghot.study.study import Study

__all__ = ["render_html", "render_markdown", "report_blocks", "write_report"]

_COLUMNS = [
    ("policy", "policy", "s"),
    ("hit_ratio", "hit ratio", "pct"),
    ("time_vs_none", "time vs none", "x"),
    ("time_vs_oracle", "time vs oracle", "x"),
    ("promotions", "promotions", "int"),
    ("ping_pong_share", "ping-pong", "pct"),
    ("migration_mbps", "migration MiB/s", "f1"),
    ("bytes_per_tracked_page", "tracker B/tracked page", "f2"),
    ("bytes_per_lower_gib", "tracker MiB/GiB lower", "mib"),
]


def _fmt(v: Any, kind: str) -> str:
    if v is None:
        return "-"
    if kind == "pct":
        return f"{v:.1%}"
    if kind == "x":
        return f"{v:.3f}"
    if kind == "int":
        return f"{int(v):,}"
    if kind == "f1":
        return f"{v:.1f}"
    if kind == "f2":
        return f"{v:.2f}"
    if kind == "mib":
        return f"{v / 2**20:.2f}"
    return str(v)


def slug(name: str) -> str:
    """A file-name-safe form of a workload name (a trace's path).

    >>> slug("gups-hot"), slug("/data/my trace.npy")
    ('gups-hot', 'data-my-trace-npy')
    """
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "trace"


def report_blocks(study: Study, figures: dict[str, str]) -> list[tuple[Any, ...]]:
    """The report as blocks: ``("h", level, text)``, ``("p", text)``, ``("ul", items)``,
    ``("table", header, rows)``, ``("img", file, alt)``."""
    s = study.settings
    fracs = [float(f) for f in s["top_fractions"]]
    b: list[tuple[Any, ...]] = [
        ("h", 1, "pghot study"),
        (
            "p",
            f"pghot {s['version']}: {len(study.workloads)} workloads at scale {s['scale']:g} (seed "
            f"{s['seed']}), top tier at {', '.join(f'{f:.0%}' for f in fracs)} of each footprint, "
            f"policies {', '.join(s['policies'])}. Run time is the replay's estimate (top-tier and "
            "lower-tier access costs plus migrations); every number is in results.json.",
        ),
        ("h", 2, "How it ran"),
        (
            "ul",
            [
                "Sources: every policy gets NUMA-balancing hint faults, except "
                + ", ".join(
                    f"{p} ({', '.join(_source(x) for x in v)})"
                    for p, v in s["sources"].items()
                    if p != "default"
                )
                + " (pghot.study.study.POLICY_SOURCES).",
                "pghot runs with the knobs of the lowest run time of its threshold x freq_window_ms "
                "sweep on the same run (tuned in hindsight: what tuning these two knobs can buy at "
                "best); v2 runs every knob at v2's default.",
                "pghot-aging is v2's knobs with aging: "
                + "; ".join(
                    f"{t}: " + ", ".join(f"{k}={v}" for k, v in kn.items()) for t, kn in s["aging"].items()
                )
                + ".",
                "Run time is the replay's estimate, relative to none (no promotion) and to oracle (each "
                "interval's hottest pages on the top tier from its start, the best of four interval "
                "lengths up to the whole trace).",
            ],
        ),
        ("h", 2, "Summary"),
        (
            "p",
            "pghot (tuned knobs), v2 and any other pghot version against the kernel's alternatives: "
            "run time relative to each (negative: pghot is faster), and what pghot pays for it.",
        ),
        ("table", *study.summary_table()),
        ("ul", study.summary_lines() or ["No comparison: pghot or the kernel's alternatives did not run."]),
        ("h", 2, "Sanity checks (published results)"),
        (
            "table",
            ["check", "holds", "measured", "source"],
            [
                [c["statement"], "yes" if c["holds"] else "NO", c["detail"], c["source"]]
                for c in study.checks()
            ],
        ),
    ]
    if "time-vs-oracle" in figures:
        b += [
            ("h", 2, "Run time relative to oracle, across workloads"),
            ("img", figures["time-vs-oracle"], "run time relative to oracle per policy per workload"),
        ]
    for wname, w in study.workloads.items():
        b += [
            ("h", 2, f"Workload {wname}"),
            ("p", f"{w['description']}: {w['footprint_pages']:,} pages, {w['accesses']:,} accesses."),
        ]
        for f in fracs:
            run = w["runs"][str(f)]
            rows = [r for r in study.rows() if r["workload"] == wname and r["top_fraction"] == f]
            b += [
                ("h", 3, f"Top tier {f:.0%} ({run['top_pages']:,} pages)"),
                (
                    "table",
                    [c[1] for c in _COLUMNS],
                    [[_fmt(r[k], kind) for k, _, kind in _COLUMNS] for r in rows],
                ),
            ]
        key = "hit-" + slug(wname)
        if key in figures:
            b.append(("img", figures[key], f"hit ratio over time on {wname}"))
    sw = study.sensitivity_workload()
    if sw is not None:
        sens = study.sensitivity[sw]
        b += [
            ("h", 2, "Sensitivity"),
            (
                "p",
                f"pghot's threshold and freq_window_ms swept on {sw}, the workload where they change "
                f"the run time most (top tier {sens['top_fraction']:.0%}); the lowest time, here at "
                f"{sens['tuned_description']}, gives pghot's tuned knobs; each workload and top-tier "
                "size has its own sweep (all in results.json).",
            ),
        ]
        if "sensitivity" in figures:
            b.append(("img", figures["sensitivity"], f"pghot run time over threshold x window on {sw}"))
        b.append(
            (
                "table",
                ["threshold \\ window ms", *[str(x) for x in sens["windows_ms"]]],
                [
                    [str(th), *[f"{h:.1%}" for h in hits]]
                    for th, hits in zip(sens["thresholds"], sens["hit_ratio"], strict=True)
                ],
            )
        )
    return b


def _source(x: dict[str, Any]) -> str:
    params = ", ".join(f"{k}={v}" for k, v in x.items() if k != "name")
    return f"{x['name']} {params}" if params else str(x["name"])


def render_markdown(blocks: Sequence[tuple[Any, ...]]) -> str:
    """The blocks as Markdown."""
    out = []
    for blk in blocks:
        if blk[0] == "h":
            out.append("#" * blk[1] + " " + blk[2])
        elif blk[0] == "p":
            out.append(blk[1])
        elif blk[0] == "ul":
            out.append("\n".join(f"- {x}" for x in blk[1]))
        elif blk[0] == "table":
            header, rows = blk[1], blk[2]
            lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
            out.append("\n".join(lines))
        elif blk[0] == "img":
            out.append(f"![{blk[2]}]({blk[1]})")
    return "\n\n".join(out) + "\n"


def render_html(blocks: Sequence[tuple[Any, ...]], folder: str) -> str:
    """The blocks as one HTML page, the figures of ``folder`` embedded as base64."""
    e = html.escape
    out = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>pghot study</title><style>"
        "body{font-family:sans-serif;max-width:70em;margin:auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}img{max-width:100%}"
        "</style></head><body>"
    ]
    for blk in blocks:
        if blk[0] == "h":
            out.append(f"<h{blk[1]}>{e(blk[2])}</h{blk[1]}>")
        elif blk[0] == "p":
            out.append(f"<p>{e(blk[1])}</p>")
        elif blk[0] == "ul":
            out.append("<ul>" + "".join(f"<li>{e(x)}</li>" for x in blk[1]) + "</ul>")
        elif blk[0] == "table":
            head = "".join(f"<th>{e(h)}</th>" for h in blk[1])
            body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in blk[2])
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif blk[0] == "img":
            with open(os.path.join(folder, blk[1]), "rb") as f:
                data = base64.b64encode(f.read()).decode()
            out.append(f"<p><img alt='{e(blk[2])}' src='data:image/png;base64,{data}'></p>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def draw_figures(study: Study, folder: str) -> dict[str, str]:
    """Draw the PNGs into ``folder``; their file names by key (none without matplotlib)."""
    try:
        from matplotlib import colormaps
        from matplotlib.figure import Figure
    except ImportError:
        return {}
    figs: dict[str, str] = {}
    f0 = str(float(study.settings["top_fractions"][0]))
    # one colour per policy, the same in every figure (the default cycle has 10: 11 policies
    # would give two of them one colour)
    palette = colormaps["tab20"]
    order = list(dict.fromkeys(study.settings["policies"]))

    def colour(name: str) -> Any:
        i = (order.index(name) if name in order else len(order)) % 20
        return palette(2 * i if i < 10 else 2 * (i - 10) + 1)  # the ten dark ones first, then light

    for wname, w in study.workloads.items():
        run = w["runs"][f0]
        fig = Figure(figsize=(7, 3.6))
        ax = fig.add_subplot()
        for pname, p in run["policies"].items():
            ys = [float("nan") if y is None else y for y in p["hit_ratio_series"]]
            ax.plot(
                [i * run["bin_s"] for i in range(len(ys))], ys, label=pname, linewidth=1, color=colour(pname)
            )
        ax.set_xlabel("time (s)")
        ax.set_ylabel("top-tier hit ratio")
        ax.set_ylim(0, 1.02)
        ax.set_title(f"{wname}, top tier {float(f0):.0%}")
        ax.legend(fontsize=7, ncol=2, loc="lower right")
        fig.tight_layout()
        name = f"hit-{slug(wname)}.png"
        fig.savefig(os.path.join(folder, name), dpi=90)
        figs["hit-" + slug(wname)] = name
    rows = [r for r in study.rows() if r["top_fraction"] == float(f0)]
    wnames = list(study.workloads)
    pols = [p for p in study.settings["policies"] if p != "oracle"]
    fig = Figure(figsize=(8, 3.8))
    ax = fig.add_subplot()
    width = 0.8 / max(len(pols), 1)
    for k, p in enumerate(pols):
        ys = []
        for wn in wnames:
            v = next((r["time_vs_oracle"] for r in rows if r["workload"] == wn and r["policy"] == p), None)
            ys.append(float("nan") if v is None else v)
        ax.bar([i + k * width for i in range(len(wnames))], ys, width, label=p, color=colour(p))
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(
        [i + 0.4 - width / 2 for i in range(len(wnames))], [slug(w)[:14] for w in wnames], fontsize=8
    )
    ax.set_ylabel("run time / oracle")
    ax.set_title(f"run time relative to oracle (top tier {float(f0):.0%})")
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(os.path.join(folder, "time-vs-oracle.png"), dpi=90)
    figs["time-vs-oracle"] = "time-vs-oracle.png"
    sw = study.sensitivity_workload()
    if sw is not None:
        sens = study.sensitivity[sw]
        oracle = study.workloads[sw]["runs"][str(float(sens["top_fraction"]))]["policies"].get("oracle")
        norm = oracle["est_time_ns"] if oracle else 1.0
        grid = [[t / norm for t in row] for row in sens["est_time_ns"]]
        fig = Figure(figsize=(4.6, 3.6))
        ax = fig.add_subplot()
        im = ax.imshow(grid, cmap="viridis_r", aspect="auto")
        ax.set_xticks(range(len(sens["windows_ms"])), [str(x) for x in sens["windows_ms"]])
        ax.set_yticks(range(len(sens["thresholds"])), [str(x) for x in sens["thresholds"]])
        ax.set_xlabel("freq_window_ms")
        ax.set_ylabel("threshold")
        for i, row in enumerate(grid):
            for j, v in enumerate(row):
                ax.text(
                    j,
                    i,
                    f"{v:.2f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="black",
                    bbox={"facecolor": "white", "alpha": 0.6, "linewidth": 0},
                )
        ax.set_title(f"pghot run time / oracle, {sw}", fontsize=9)
        fig.colorbar(im, ax=ax)
        fig.tight_layout()
        fig.savefig(os.path.join(folder, "sensitivity.png"), dpi=90)
        figs["sensitivity"] = "sensitivity.png"
    return figs


def check_output(out: str | os.PathLike[str]) -> str:
    """The output folder, checked before a run: its parent must exist and be writable.

    >>> check_output("/nonexistent-dir/study")
    Traceback (most recent call last):
    ...
    ValueError: --out: cannot write the report into /nonexistent-dir/study: /nonexistent-dir does not exist
    """
    path = os.path.abspath(os.fspath(out))
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        raise ValueError(f"--out: cannot write the report into {path}: {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"--out: cannot write the report into {path}: {parent} is not writable")
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"--out: {path} exists and is not a folder")
    return path


def write_report(study: Study, out: str | os.PathLike[str]) -> str:
    """Write the report into the folder ``out`` (replacing it whole); returns its path."""
    path = check_output(out)
    tmp = tempfile.mkdtemp(dir=os.path.dirname(path), prefix=f".{os.path.basename(path)}.tmp-")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # a folder as mkdir makes it, not mkdtemp's private one
    try:
        figures = draw_figures(study, tmp)
        blocks = report_blocks(study, figures)
        with open(os.path.join(tmp, "index.md"), "w") as f:
            f.write(render_markdown(blocks))
        with open(os.path.join(tmp, "index.html"), "w") as f:
            f.write(render_html(blocks, tmp))
        with open(os.path.join(tmp, "results.json"), "w") as f:
            json.dump(study.to_dict(), f, indent=1, default=_plain)
        old = None
        if os.path.exists(path):
            old = tempfile.mkdtemp(dir=os.path.dirname(path), prefix=f".{os.path.basename(path)}.old-")
            os.rmdir(old)
            os.rename(path, old)
        os.rename(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path
