"""Run the benchmark cases directly and print a Markdown results table.

Usage::

    python -m bench.report [--groups G ...] [--rounds N]

Each case of :mod:`bench.cases` is prepared (untimed), warmed by one round,
then timed with :func:`time.perf_counter` over its rounds; the table gives
the median time per operation, each row's ratio to its group's ``Tracker``
row, the machine, the Python and numpy versions and the date, then whether
each performance target is met.  ``bench/README.md`` quotes its output.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys

__all__ = ["machine", "main", "markdown_table", "targets"]

TRACKER = "Tracker"


def machine() -> str:
    """CPU model and core count, Python and numpy versions.

    >>> "Python" in machine()
    True
    """
    import numpy as np

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores; Python {platform.python_version()}, numpy {np.__version__}"


def _fmt_ns(ns: float) -> str:
    return f"{ns:,.0f}" if ns >= 100 else f"{ns:.1f}"


def _tracker_ns(rows: list[tuple]) -> dict[str, float]:
    """Each group's reference row: its ``Tracker`` row, else its first row."""
    first: dict[str, float] = {}
    tracker: dict[str, float] = {}
    for g, impl, _, ns in rows:
        first.setdefault(g, ns)
        if impl == TRACKER:
            tracker[g] = ns
    return {**first, **tracker}


def markdown_table(rows: list[tuple], mins: list[float] | None = None) -> str:
    """Rows (group, implementation, unit, median ns per operation) as Markdown.

    The ratio is the row's median time over the group's ``Tracker`` median:
    above 1 the baseline is slower than the tracker, below 1 it is faster.
    With ``mins`` (fastest round of each row) a column shows them too.

    >>> print(markdown_table([("g", "Tracker", "call", 100.0), ("g", "ref", "call", 2500.0)]))
    | group | implementation | ns per op (median) | ratio to Tracker |
    |---|---|--:|--:|
    | g | Tracker | 100 / call | 1.00 |
    | g | ref | 2,500 / call | 25.00 |
    """
    ref = _tracker_ns(rows)
    head = "| group | implementation | ns per op (median) | ratio to Tracker |"
    rule = "|---|---|--:|--:|"
    if mins is not None:
        head += " fastest round (ns per op) |"
        rule += "--:|"
    lines = [head, rule]
    for i, (g, impl, unit, ns) in enumerate(rows):
        ratio = f"{ns / ref[g]:.2f}" if g in ref else "n/a"
        line = f"| {g} | {impl} | {_fmt_ns(ns)} / {unit} | {ratio} |"
        if mins is not None:
            line += f" {_fmt_ns(mins[i])} |"
        lines.append(line)
    return "\n".join(lines)


def targets(rows: list[tuple]) -> list[str]:
    """The issue's performance targets, each with its measured value.

    >>> rows = [("record_accesses-1M-zipf", "Tracker", "access", 30.0),
    ...         ("record_accesses-1M-zipf", "BareTable (bare C loop)", "access", 20.0)]
    >>> targets(rows)[0]
    '- batch path within 2x of the bare loop at 1M PFNs: record_accesses-1M-zipf: 1.50x -> met'
    """
    ref = _tracker_ns(rows)
    out = []
    for g, impl, _, ns in rows:
        if g not in ref or impl == TRACKER:
            continue
        if g.startswith("record_accesses-1M") and impl.startswith("BareTable"):
            r = ref[g] / ns
            out.append(
                f"- batch path within 2x of the bare loop at 1M PFNs: {g}: "
                f"{r:.2f}x -> {'met' if r <= 2 else 'NOT met'}"
            )
    for g, impl, _, ns in rows:
        if g in ref and impl == "ReferenceTracker":
            r = ns / ref[g]
            verdict = "met" if r >= 50 else "NOT met"
            if not g.startswith("record_accesses"):
                verdict = f"would be {verdict} (not the batch path: for information)"
            out.append(f"- at least 50x the pure-Python reference: {g}: {r:.0f}x -> {verdict}")
    for g, _impl, _, ns in rows:
        if g == "read-lackey":
            rate = 1e9 / ns / 1e6
            out.append(
                f"- reading lackey text at 2 M lines/s or more: {rate:.1f} M lines/s "
                f"-> {'met' if rate >= 2 else 'NOT met'}"
            )
    pops = {impl: ns for g, impl, _, ns in rows if g == "queue-pop-1M"}
    if "BinaryHeap" in pops and "BucketQueue" in pops:
        r = pops["BinaryHeap"] / pops["BucketQueue"]
        out.append(
            f"- bucket queue at least 2x faster per extracted record than the binary "
            f"heap at 1M queued: {r:.2f}x -> {'met' if r >= 2 else 'NOT met'}"
        )
    from bench.cases import scaling

    for name, r in scaling(rows).items():
        what = (
            "the machine's limit, for information"
            if name.startswith("BareTable")
            else ("met" if r >= 1.8 else "NOT met")
        )
        out.append(f"- two threads on disjoint PFNs at least 1.8x one thread: {name}: {r:.2f}x -> {what}")
    if "record_access-single" in ref:
        ns = ref["record_access-single"]
        out.append(
            f"- a single record_access call at most 150 ns: {ns:.0f} ns -> "
            f"{'met' if ns <= 150 else 'NOT met'}"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    from bench import cases as bench_cases

    ap = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.split("\n")[0])
    ap.add_argument(
        "--groups",
        nargs="*",
        metavar="G",
        choices=bench_cases.groups(),
        help="only these groups (default: all)",
    )
    ap.add_argument(
        "--rounds", type=int, default=None, help="timed rounds per case (default: each case's own)"
    )
    args = ap.parse_args(argv)

    rows, mins = [], []
    for case in bench_cases.cases(args.groups):
        secs = bench_cases.measure(case, args.rounds)
        ns = statistics.median(secs) * 1e9
        rows.append((case.group, case.impl, case.unit, ns))
        mins.append(min(secs) * 1e9)
        print(
            f"{case.id}: {_fmt_ns(ns)} ns/{case.unit} ({len(secs)} rounds: "
            + ", ".join(_fmt_ns(s * 1e9) for s in secs)
            + ")",
            file=sys.stderr,
            flush=True,
        )

    now = datetime.datetime.now().astimezone()
    print(f"Date: {now:%Y-%m-%d %H:%M %Z}  ")
    print(f"Machine: {machine()}  ")
    print(f"Command: `python -m bench.report{' ' + ' '.join(argv) if argv else ''}`")
    print()
    print(markdown_table(rows, mins))
    print()
    print("Targets:")
    print()
    print("\n".join(targets(rows)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
