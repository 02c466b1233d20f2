"""The ``pghot`` command line.

``pghot demo``
    replay a built-in synthetic workload (a skewed working set four times the
    top tier, with a phase change) through pghot and the baselines;
``pghot replay TRACE``
    the same for a trace file (lackey, perf script, CSV, npy/npz, damo);
``pghot sweep TRACE...``
    a grid of configurations over traces, in parallel processes (or on a
    Dask cluster), one table row per configuration;
``pghot bench``
    the tracker designs compared on built-in workloads.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Sequence

from pghot import sim

__all__ = ["main", "run_demo"]


def run_demo(
    *,
    accesses: int = 2_000_000,
    working_set_pages: int = 32768,
    top_pages: int = 8192,
    lower_pages: int | None = None,
    duration_ms: int = 10_000,
    threshold: int | None = None,
    designs: Sequence[str] = (),
    seed: int = 0,
    progress: bool = False,
) -> sim.Result:
    """Replay the built-in synthetic workload through pghot and the baselines.

    Zipf-distributed (0.99) accesses over ``working_set_pages`` pages, four
    times the top tier by default, with a phase change half way
    (:func:`pghot.sim.demo_trace`), replayed by :func:`pghot.sim.replay`
    with NUMA-balancing hint faults as the source: pghot (v2 knobs, or the
    given ``threshold``), no promotion, v2 and promote-on-second-access.

    Examples
    --------
    >>> r = run_demo(accesses=20000, working_set_pages=2000, top_pages=500, duration_ms=4000)
    >>> list(r.policies)
    ['pghot', 'none', 'v2', 'second-access']
    >>> r["pghot"].promotions > 0, r["none"].promotions
    (True, 0)
    """
    tracker = {} if threshold is None else {"threshold": threshold}
    cfg = sim.SimConfig(top_pages=top_pages, lower_pages=lower_pages, tracker=tracker)
    trace = sim.demo_trace(accesses, working_set_pages, duration_ms=duration_ms, seed=seed)
    name = (f"the demo workload (Zipf 0.99 over {working_set_pages:,} pages, "
            f"phase change at {duration_ms / 2000:g} s)")
    return sim.replay([trace], cfg, designs=designs, progress=progress, name=name)


def _bench(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from pghot import designs

    kw = {} if args.v2_max_pfns is None else {"v2_max_pfns": args.v2_max_pfns}
    try:
        rows = designs.compare(sizes=args.sizes, workloads=args.workloads, designs=args.designs,
                               seed=args.seed, progress=not args.no_progress, **kw)
    except (TypeError, ValueError) as e:
        parser.error(str(e))
    if args.json == "-":
        json.dump(rows, sys.stdout, indent=2, default=float)
        print()
    else:
        print(designs.format_table(rows))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(rows, f, indent=2, default=float)
    if args.plot:
        try:
            designs.plot(rows, args.plot)
        except ImportError as e:
            parser.error(str(e))
        print(f"plot written to {args.plot}", file=sys.stderr)
    return 0


def _add_machine_args(p: argparse.ArgumentParser, *, trace: bool) -> None:
    """Options shared by replay and sweep: config, machine, sources, trace reading."""
    p.add_argument("--config", metavar="FILE.toml", help="a SimConfig file (TOML, or .json)")
    p.add_argument("--top-pages", type=int, help="top-tier pages (default: 1/4 of the footprint)")
    p.add_argument("--lower-pages", type=int,
                   help="lower-tier pages (default: twice the footprint)")
    p.add_argument("--source", action="append", metavar="NAME[:K=V,...]",
                   help="a temperature source, repeatable: hint-fault (default), "
                        "hw-hints:sample_every=N, pgtable-scan:interval_ms=N")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any config value, repeatable: tracker.threshold=3, "
                        "promoter.rate_limit_mbps=256, lower_ns=300, ...")
    if trace:
        p.add_argument("--format", choices=sim_formats(), help="trace format (default: detected)")
        p.add_argument("--ns-per-instr", type=float, default=None,
                       help="lackey: nanoseconds per instruction (default 1)")
        p.add_argument("--skip-bad", action="store_true", help="skip malformed trace lines")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def sim_formats() -> tuple[str, ...]:
    """Trace formats ``--format`` accepts.

    >>> "lackey" in sim_formats()
    True
    """
    from pghot.traces import FORMATS

    return FORMATS


def _config(args: argparse.Namespace) -> sim.SimConfig:
    """The config file (or the defaults) with the command-line overrides."""
    cfg = sim.load_config(args.config) if args.config else sim.SimConfig()
    over: dict[str, Any] = {}
    if args.top_pages is not None:
        over["top_pages"] = args.top_pages
    if args.lower_pages is not None:
        over["lower_pages"] = args.lower_pages
    if args.source:
        over["sources"] = [sim.parse_source(s) for s in args.source]
    for item in args.set:
        k, v = sim.parse_assignment(item)
        over[k] = v
    return cfg.with_overrides(over) if over else cfg


def _open_options(args: argparse.Namespace) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    if args.ns_per_instr is not None:
        opts["ns_per_instr"] = args.ns_per_instr
    if args.skip_bad:
        opts["skip_bad"] = True
    return opts


def _show(r: sim.Result, args: argparse.Namespace) -> None:
    if args.json:
        print(r.to_json())
    else:
        print(r.summary())
    if args.plot:
        r.plot(args.plot)
        print(f"plot written to {args.plot}", file=sys.stderr)


def _demo(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        r = run_demo(
            accesses=args.accesses, working_set_pages=args.working_set_pages,
            top_pages=args.top_pages, lower_pages=args.lower_pages,
            duration_ms=args.duration_ms, threshold=args.threshold,
            designs=args.designs or (), seed=args.seed, progress=not args.no_progress,
        )
    except (TypeError, ValueError) as e:
        parser.error(str(e))
    try:
        _show(r, args)
    except ImportError as e:
        parser.error(str(e))
    return 0


def _replay(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        cfg = _config(args)
        r = sim.replay(args.trace, cfg, baselines=args.baselines, designs=args.designs or (),
                       progress=not args.no_progress, trace_format=args.format,
                       open_options=_open_options(args))
    except (OSError, TypeError, ValueError, RuntimeError) as e:
        parser.error(str(e))
    try:
        _show(r, args)
    except ImportError as e:
        parser.error(str(e))
    return 0


_DEFAULT_GRID = ["tracker.threshold=2,3,4", "tracker.freq_window_ms=1000,5000"]


def _sweep(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    grid: dict[str, list[Any]] = {}
    try:
        for axis in args.grid or _DEFAULT_GRID:
            key, sep, values = axis.partition("=")
            if not sep or not key.strip() or not values.strip():
                raise ValueError(f"--grid: expected KEY=V1,V2,..., got {axis!r}")
            grid[key.strip()] = [sim.parse_assignment(f"{key}={v}")[1] for v in values.split(",")]
        cfg = _config(args)
        rows = sim.sweep(args.traces, grid, cfg, workers=args.jobs, dask_address=args.dask,
                         trace_format=args.format, open_options=_open_options(args),
                         progress=not args.no_progress)
    except (OSError, TypeError, ValueError, RuntimeError) as e:
        parser.error(str(e))
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(sim.format_sweep_table(rows))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pghot`` command.

    >>> main(["demo", "--accesses", "5000", "--working-set-pages", "400", "--top-pages", "100",
    ...       "--no-progress"])
    replay of the demo workload (Zipf 0.99 over 400 pages, phase change at 5 s): 5,000 accesses ...
    0
    """
    parser = argparse.ArgumentParser(prog="pghot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="replay a built-in synthetic skewed workload")
    d.add_argument("--accesses", type=int, default=2_000_000)
    d.add_argument("--working-set-pages", type=int, default=32768)
    d.add_argument("--top-pages", type=int, default=8192)
    d.add_argument("--lower-pages", type=int, default=None,
                   help="default: twice the footprint")
    d.add_argument("--duration-ms", type=int, default=10_000)
    d.add_argument("--threshold", type=int, default=None, help="tracker threshold (default 2)")
    d.add_argument("--designs", nargs="+", default=None, metavar="DESIGN",
                   help="also run these tracker designs (pghot bench names)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--json", action="store_true", help="print the result as JSON")
    d.add_argument("--plot", metavar="FILE.png", help="draw hit ratio, promotions and heat map")
    d.add_argument("--no-progress", action="store_true", help="no progress bar")

    r = sub.add_parser("replay", help="replay a trace through pghot and the baselines")
    r.add_argument("trace", help="trace file (lackey, perf script, CSV, npy/npz, damo JSON)")
    _add_machine_args(r, trace=True)
    r.add_argument("--baselines", nargs="*", default=list(sim.BASELINES),
                   choices=sim.BASELINES, help="baselines to run (default: all)")
    r.add_argument("--designs", nargs="+", default=None, metavar="DESIGN",
                   help="also run these tracker designs (pghot bench names)")
    r.add_argument("--json", action="store_true", help="print the result as JSON")
    r.add_argument("--plot", metavar="FILE.png", help="draw hit ratio, promotions and heat map")

    w = sub.add_parser("sweep", help="a grid of configurations over traces, in parallel")
    w.add_argument("traces", nargs="+", metavar="TRACE")
    w.add_argument("--grid", action="append", metavar="KEY=V1,V2,...",
                   help="an axis of the grid, repeatable (default: "
                        + " and ".join(_DEFAULT_GRID) + ")")
    _add_machine_args(w, trace=True)
    w.add_argument("-j", "--jobs", type=int, default=None,
                   help="worker processes (default: the CPU count)")
    w.add_argument("--dask", metavar="SCHEDULER_ADDRESS",
                   help="run the grid on a Dask cluster (needs dask.distributed)")
    w.add_argument("--json", action="store_true", help="print the rows as JSON")

    b = sub.add_parser("bench", help="compare the tracker designs on built-in workloads")
    b.add_argument("--sizes", nargs="+", default=["64K", "1M", "8M"],
                   help="tracked PFNs: 4K 64K 1M 8M (default: 64K 1M 8M)")
    b.add_argument("--workloads", nargs="+", default=None,
                   help="uniform zipf moving (default: all)")
    b.add_argument("--designs", nargs="+", default=None,
                   help="designs to run (default: all; hash/binary always runs as the baseline)")
    b.add_argument("--v2-max-pfns", type=int, default=None,
                   help="largest size at which kernel-v2 runs (default 65536: its pre-fill "
                        "walks ~1024-long lists)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--json", metavar="FILE", help="write the rows as JSON ('-' for stdout)")
    b.add_argument("--plot", metavar="FILE.png", help="draw the comparison (matplotlib)")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.command == "bench":
        return _bench(parser, args)
    if args.command == "demo":
        return _demo(parser, args)
    if args.command == "replay":
        return _replay(parser, args)
    return _sweep(parser, args)


if __name__ == "__main__":
    sys.exit(main())
