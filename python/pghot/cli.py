"""The pghot command line.

  pghot demo            replay a built-in synthetic workload (a skewed working
                        set four times the top tier, with a phase change)
                        through pghot and the baselines
  pghot replay TRACE    the same for a trace file (lackey, perf script, CSV,
                        npy/npz, damo)
  pghot sweep TRACE...  a grid of configurations over traces, in parallel
                        processes (or on a Dask cluster), one table row per
                        configuration
  pghot bench           the tracker designs compared on built-in workloads
  pghot study [TRACE...]
                        every policy on the workloads the literature
                        evaluates on (or on the given traces), as a report:
                        study/index.md, index.html, results.json, figures
  pghot convert TRACE OUT.npy
                        parse a trace once into the .npy form that replay
                        and sweep then read without parsing text again

Every command prints a table on standard output, or JSON with --json; with
-o/--output FILE it writes the same into FILE instead.

Errors are one line on standard error, "pghot: error: ...", never a
traceback.  Exit status:

  0    success;
  1    the run failed while running: out of memory, recursion too deep, an
       internal error, or writing the --output or --plot file after the run;
  2    bad usage or input: an option, a number out of range, a config file,
       a trace, a --grid or --sizes value; the --output and --plot files are
       checked before the run starts;
  130  interrupted (Ctrl-C): one line "pghot: interrupted";
  141  standard output closed early (pghot ... | head): the rest of the
       output is dropped quietly, with the status a process killed by
       SIGPIPE reports (as cat or yes do).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from pghot import sim

__all__ = ["main", "run_demo"]

_MAX_COUNT = 2**40  # the most pages or accesses an option takes
_MAX_DEMO_MS = sim.SimConfig.max_span_s * 1000  # the longest demo a default config replays


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
    name = (
        f"the demo workload (Zipf 0.99 over {working_set_pages:,} pages, "
        f"phase change at {duration_ms / 2000:g} s)"
    )
    return sim.replay([trace], cfg, designs=designs, progress=progress, name=name)


class _Fail(Exception):
    """An error for the user: one line on stderr, then exit with ``status``."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors raised as :class:`_Fail` (one line)."""

    def error(self, message: str) -> NoReturn:
        raise _Fail(f"{message} (see '{self.prog} --help')")


def _int_in(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: an integer in ``[low, high]``."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if v < low or (high is not None and v > high):
            bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {text}")
        return v

    return parse


def _float_in(low: float, high: float) -> Callable[[str], float]:
    """An argparse ``type``: a finite number in ``[low, high]``."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not low <= v <= high:  # NaN too
            raise argparse.ArgumentTypeError(f"must be a number in [{low:g}, {high:g}], got {text}")
        return v

    return parse


def _say(text: str) -> None:
    """``pghot: TEXT`` as one line on stderr (the one place errors are printed)."""
    try:
        print(f"pghot: {' '.join(text.split())}", file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr closed too: nothing more to do
        pass


def _text(e: BaseException) -> str:
    """An exception as a message: ``PATH: reason`` for the OS errors."""
    if isinstance(e, OSError) and e.strerror:
        return f"{e.filename}: {e.strerror}" if e.filename is not None else e.strerror
    if isinstance(e, FileNotFoundError):  # raised with the path alone
        return f"{e}: No such file or directory"
    return str(e) or type(e).__name__


def _check_output(option: str, path: str) -> None:
    """Fail now, before the run, if ``option``'s file ``path`` cannot be written."""
    if os.path.exists(path) and not (os.path.isfile(path) or os.path.isdir(path)):
        return  # a device or a FIFO (/dev/stdout): written as it is
    existed = os.path.lexists(path)
    try:
        with open(path, "ab"):  # appends nothing: an existing file is unchanged
            pass
    except OSError as e:
        raise _Fail(f"{option} {path}: cannot write it: {e.strerror or e}") from None
    if not existed:
        os.unlink(path)


def _check_plot(path: str) -> None:
    """``--plot``: matplotlib, a format it writes and a writable path, before the run."""
    if importlib.util.find_spec("matplotlib") is None:
        raise _Fail("--plot needs matplotlib: pip install 'pghot[plot]'")
    ext = os.path.splitext(path)[1][1:].lower()
    if ext:
        from matplotlib.backend_bases import FigureCanvasBase

        formats = FigureCanvasBase.get_supported_filetypes()
        if ext not in formats:
            raise _Fail(
                f"--plot {path}: matplotlib cannot write .{ext} files "
                f"(it writes {', '.join(sorted(formats))})"
            )
    _check_output("--plot", path)


def _save(option: str, path: str, write: Callable[[], None]) -> None:
    """Write an output file after the run; failing now fails the run (status 1)."""
    sys.stdout.flush()  # what the run printed goes out first
    try:
        write()
    except OSError as e:
        raise _Fail(f"{option} {path}: cannot write it: {e.strerror or e}", status=1) from None


def _save_plot(path: str, draw: Callable[[], None]) -> None:
    _save("--plot", path, draw)
    print(f"plot written to {path}", file=sys.stderr)


def _output_file(args: argparse.Namespace) -> str | None:
    """The ``-o/--output`` file, or None for standard output (no option, or ``-``)."""
    path: str | None = args.output
    return None if path in (None, "-") else path


def _check_files(args: argparse.Namespace) -> None:
    """Fail before the run if the ``--output`` or ``--plot`` file cannot be written."""
    out = _output_file(args)
    if out is not None:
        _check_output("--output", out)
    if getattr(args, "plot", None):
        _check_plot(args.plot)


def _emit(args: argparse.Namespace, text: str) -> None:
    """What a command prints: to standard output, or into the ``-o/--output`` file."""
    out = _output_file(args)
    if out is None:
        print(text)
        return

    def write() -> None:
        with open(out, "w") as f:
            f.write(text + "\n")

    _save("--output", out, write)
    print(f"output written to {out}", file=sys.stderr)


def _add_output_args(p: argparse.ArgumentParser, *, what: str, plot: bool) -> None:
    """--json and -o/--output, the same in every command (and --plot where there is one)."""
    p.add_argument("--json", action="store_true", help=f"print {what} as JSON instead of a table")
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the table (or the JSON) to FILE instead of standard output",
    )
    if plot:
        p.add_argument("--plot", metavar="FILE.png", help=_PLOT_HELP[what])


_PLOT_HELP = {
    "the result": "draw hit ratio, promotions and heat map (matplotlib)",
    "the rows": "draw the comparison (matplotlib)",
}


def _bench(args: argparse.Namespace) -> int:
    from pghot.bench import designs

    _check_files(args)
    kw = {} if args.v2_max_pfns is None else {"v2_max_pfns": args.v2_max_pfns}
    rows = designs.compare(
        sizes=args.sizes,
        workloads=args.workloads,
        designs=args.designs,
        seed=args.seed,
        progress=not args.no_progress,
        **kw,
    )
    _emit(args, json.dumps(rows, indent=2, default=float) if args.json else designs.format_table(rows))
    if args.plot:
        _save_plot(args.plot, lambda: designs.plot(rows, args.plot))
    return 0


def _add_machine_args(p: argparse.ArgumentParser, *, trace: bool) -> None:
    """Options shared by replay and sweep: config, machine, sources, trace reading."""
    p.add_argument("--config", metavar="FILE.toml", help="a SimConfig file (TOML, or .json)")
    p.add_argument(
        "--top-pages", type=_int_in(1, _MAX_COUNT), help="top-tier pages (default: 1/4 of the footprint)"
    )
    p.add_argument(
        "--lower-pages", type=_int_in(1, _MAX_COUNT), help="lower-tier pages (default: twice the footprint)"
    )
    p.add_argument(
        "--topology",
        metavar="FILE.toml",
        help="the machine's nodes from a TOML topology table (e.g. examples/topology-2s2cxl.toml): "
        "the tier sizes are its nodes' (--top-pages/--lower-pages, if given, must equal them), the "
        "trace's nid or cpu column is each access's node",
    )
    p.add_argument(
        "--time-model",
        choices=sim.TIME_MODELS,
        help="the simulated clock: closed (time advances with the CPU time and each access's "
        "memory stall), open (the trace's time stamps); default auto: closed for lackey, open otherwise",
    )
    p.add_argument(
        "--scale-to-trace",
        choices=sim.SCALE_MODES,
        help="auto (default): a trace shorter than 5 s has the kernel's time knobs left at their "
        "defaults scaled by its span over 20 s (printed in the notes); off: the defaults as they are",
    )
    p.add_argument(
        "--source",
        action="append",
        metavar="NAME[:K=V,...]",
        help="a temperature source, repeatable: hint-fault (default), "
        "hw-hints:sample_every=N, pgtable-scan:interval_ms=N",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any config value, repeatable: tracker.threshold=3, "
        "promoter.rate_limit_mbps=256, lower_ns=300, ...",
    )
    if trace:
        p.add_argument("--format", choices=sim_formats(), help="trace format (default: detected)")
        p.add_argument(
            "--ns-per-instr",
            type=_float_in(0, 1e6),
            default=None,
            help="lackey: nanoseconds per instruction (default 1)",
        )
        p.add_argument(
            "--skip-bad", action="store_true", help="skip malformed trace lines (counted in the notes)"
        )
        p.add_argument("--perf-vaddr", action="store_true", help=_PERF_VADDR_HELP)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


_PERF_VADDR_HELP = (
    "perf: key every sample by its virtual address (addr), keeping the samples without a "
    "physical address (phys_addr 0), which are otherwise dropped and counted"
)


def sim_formats() -> tuple[str, ...]:
    """Trace formats ``--format`` accepts.

    >>> "lackey" in sim_formats()
    True
    """
    from pghot.traces import FORMATS

    return FORMATS


def _config(args: argparse.Namespace) -> sim.SimConfig:
    """The config file (or the defaults) with the command-line overrides."""
    cfg = sim.SimConfig()
    if args.config:
        try:
            cfg = sim.load_config(args.config)
        except RecursionError:
            raise _Fail(f"{args.config}: nested too deeply to read") from None
    over: dict[str, Any] = {}
    if args.top_pages is not None:
        over["top_pages"] = args.top_pages
    if args.lower_pages is not None:
        over["lower_pages"] = args.lower_pages
    if getattr(args, "topology", None) is not None:
        over["topology"] = args.topology
    if getattr(args, "time_model", None) is not None:
        over["time_model"] = args.time_model
    if getattr(args, "scale_to_trace", None) is not None:
        over["scale_to_trace"] = args.scale_to_trace
    if args.source:
        over["sources"] = [sim.parse_source(s) for s in args.source]
    for item in args.set:
        try:
            k, v = sim.parse_assignment(item)
        except ValueError as e:
            raise _Fail(f"--set: {e}") from None
        over[k] = v
    return cfg.with_overrides(over) if over else cfg


def _open_options(args: argparse.Namespace) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    if args.ns_per_instr is not None:
        opts["ns_per_instr"] = args.ns_per_instr
    if args.skip_bad:
        opts["skip_bad"] = True
    if args.perf_vaddr:
        opts["perf_space"] = "vaddr"
    return opts


def _show(r: sim.Result, args: argparse.Namespace) -> None:
    _emit(args, r.to_json() if args.json else r.summary())
    if args.plot:
        _save_plot(args.plot, lambda: r.plot(args.plot))


def _demo(args: argparse.Namespace) -> int:
    _check_files(args)
    r = run_demo(
        accesses=args.accesses,
        working_set_pages=args.working_set_pages,
        top_pages=args.top_pages,
        lower_pages=args.lower_pages,
        duration_ms=args.duration_ms,
        threshold=args.threshold,
        designs=args.designs or (),
        seed=args.seed,
        progress=not args.no_progress,
    )
    _show(r, args)
    return 0


def _replay(args: argparse.Namespace) -> int:
    _check_files(args)
    cfg = _config(args)
    # the path as given: "-" is standard input, which the trace reader opens
    trace, fmt, opts, name = args.trace, args.format, _open_options(args), None
    if args.cache:  # parse once: the .npy form beside the trace, (re)written when stale
        from pghot.traces import cached

        opts["page_size"] = cfg.page_size
        trace = cached(args.trace, args.format, progress=not args.no_progress, **opts)
        fmt, opts, name = "npy", {}, args.trace
    policies = _policies(args)
    r = sim.replay(
        trace,
        cfg,
        baselines=args.baselines,
        designs=args.designs or (),
        policies=policies,
        progress=not args.no_progress,
        name=name,
        trace_format=fmt,
        open_options=opts,
        threads=args.threads,
        **({"engine": args.engine} if args.engine else {}),
    )
    if args.cache:  # what parsing the trace into the cache skipped or dropped
        from pghot.sim.diagnostics import TraceWatch, reading_notes
        from pghot.traces import cache_reading

        reading = cache_reading(args.trace)
        if reading is not None:
            r.trace["reading"] = reading
            r.notes += reading_notes(TraceWatch(), reading, hz=cfg.hz)
    _show(r, args)
    return 0


def _policies(args: argparse.Namespace) -> list[str] | None:
    """``--policies NAME,NAME,...`` checked against the policies and the designs (None: not given)."""
    if args.policies is None:
        return None
    if args.baselines is not None or args.designs:
        raise _Fail("--policies: give either --policies or --baselines/--designs, not both")
    known = [*sim.POLICIES, *sim.DESIGNS]
    names = [n.strip() for n in args.policies.split(",") if n.strip()]
    if not names:
        raise _Fail(f"--policies: name at least one policy (choices: {', '.join(known)})")
    for i, n in enumerate(names):
        if n not in known:
            raise _Fail(f"--policies: unknown policy {n!r} (choices: {', '.join(known)})")
        if n in names[:i]:
            raise _Fail(f"--policies: {n!r} is given twice")
    return names


def _convert(args: argparse.Namespace) -> int:
    from pghot._output import size
    from pghot.traces import convert

    summary = _output_file(args)
    if summary is not None and os.path.abspath(summary) in map(os.path.abspath, (args.trace, args.out)):
        raise _Fail(f"--output {summary}: is the trace or OUT.npy; the summary goes elsewhere")
    _check_files(args)
    if args.page_size & (args.page_size - 1):
        raise _Fail(f"--page-size: must be a power of two, got {args.page_size}")
    opts = _open_options(args)
    opts["page_size"] = args.page_size
    info = convert(args.trace, args.out, args.format, progress=not args.no_progress, **opts)
    if args.json:
        text = json.dumps(info, indent=2)
    else:
        c = info["counters"]
        text = (
            f"converted {info['trace']} ({info['format']}, {c['lines_read']:,} lines) to "
            f"{info['output']}: {info['records']:,} records of {', '.join(info['fields'])}, "
            f"{size(info['bytes'])}"
        )
        if c["bad_lines"]:
            text += f"\n{c['bad_lines']:,} malformed lines skipped"
        if c["no_phys_addr"]:
            text += (
                f"\n{c['no_phys_addr']:,} perf samples without a physical address dropped "
                "(--perf-vaddr keeps them, by virtual address)"
            )
    _emit(args, text)
    return 0


def _default_cache() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pghot", "study")


def _names(option: str, text: str) -> list[str]:
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise _Fail(f"{option}: expected NAME,NAME,..., got {text!r}")
    return names


def _study(args: argparse.Namespace) -> int:
    from pghot import study
    from pghot.study.report import check_output

    if "-" in args.traces:
        raise _Fail(
            "study: a trace cannot be '-' (standard input): every run reads it again; save it to a file"
        )
    scale = args.scale if args.scale is not None else (study.QUICK_SCALE if args.quick else 1.0)
    policies = _names("--policies", args.policies) if args.policies else None
    workloads = _names("--workloads", args.workloads) if args.workloads else None
    out = check_output(args.out)  # before the run
    cache = None if args.no_cache else (args.cache or _default_cache())
    s = study.run_study(
        args.traces,
        workloads=workloads,
        scale=scale,
        seed=args.seed,
        policies=policies,
        jobs=args.jobs or os.cpu_count() or 1,
        cache_dir=cache,
        progress=not args.no_progress,
        dask_address=args.dask,
    )
    try:
        path = s.write_report(out)
    except OSError as e:
        raise _Fail(f"--out {out}: cannot write the report: {_text(e)}", status=1) from None
    checks = s.checks()
    lines = [
        f"study of {len(s.workloads)} workloads x {len(s.settings['policies'])} policies: report in "
        f"{os.path.join(path, 'index.md')} (and index.html, results.json)",
        "",
    ]
    lines += s.summary_lines()
    lines += ["", "sanity checks (published results):"]
    lines += [
        f"  {'holds' if c['holds'] else 'DOES NOT HOLD'}: {c['statement']} ({c['detail']})" for c in checks
    ]
    print("\n".join(lines))
    return 0


_DEFAULT_GRID = ["tracker.threshold=2,3,4", "tracker.freq_window_ms=1000,5000"]


def _sweep(args: argparse.Namespace) -> int:
    if "-" in args.traces:
        raise _Fail(
            "sweep: a trace cannot be '-' (standard input): every point of the grid "
            "reads the trace again; save it to a file"
        )
    grid: dict[str, list[Any]] = {}
    for axis in args.grid or _DEFAULT_GRID:
        key, sep, values = axis.partition("=")
        items = values.split(",")
        if not sep or not key.strip() or not all(v.strip() for v in items):
            raise _Fail(f"--grid: expected KEY=V1,V2,..., got {axis!r}")
        grid[key.strip()] = [sim.parse_assignment(f"{key}={v}")[1] for v in items]
    _check_files(args)
    cfg = _config(args)
    rows = sim.sweep(
        args.traces,
        grid,
        cfg,
        workers=args.jobs,
        dask_address=args.dask,
        trace_format=args.format,
        open_options=_open_options(args),
        progress=not args.no_progress,
    )
    _emit(args, json.dumps(rows, indent=2) if args.json else sim.format_sweep_table(rows))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pghot", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    d = sub.add_parser(
        "demo",
        help="replay a built-in synthetic skewed workload",
        description="replay a built-in synthetic skewed workload",
    )
    d.add_argument("--accesses", type=_int_in(1, _MAX_COUNT), default=2_000_000)
    d.add_argument("--working-set-pages", type=_int_in(1, 2**32), default=32768)
    d.add_argument("--top-pages", type=_int_in(1, _MAX_COUNT), default=8192)
    d.add_argument(
        "--lower-pages", type=_int_in(1, _MAX_COUNT), default=None, help="default: twice the footprint"
    )
    d.add_argument("--duration-ms", type=_int_in(1, _MAX_DEMO_MS), default=10_000)
    d.add_argument("--threshold", type=int, default=None, help="tracker threshold (default 2)")
    d.add_argument(
        "--designs",
        nargs="+",
        default=None,
        metavar="DESIGN",
        help="also run these tracker designs (pghot bench names)",
    )
    d.add_argument("--seed", type=_int_in(0), default=0)
    _add_output_args(d, what="the result", plot=True)
    d.add_argument("--no-progress", action="store_true", help="no progress bar")

    r = sub.add_parser(
        "replay",
        help="replay a trace through pghot and the baselines",
        description="replay a trace through pghot and the baselines",
    )
    r.add_argument(
        "trace", help="trace file (lackey, perf script, CSV, npy/npz, damo JSON); '-' for standard input"
    )
    _add_machine_args(r, trace=True)
    r.add_argument(
        "--cache",
        action="store_true",
        help="parse the trace once: keep its .npy form beside it (TRACE.pghot.npy, "
        "TRACE.pghot.json) and replay that while the trace and the reading options are unchanged",
    )
    r.add_argument(
        "--policies",
        metavar="NAME,NAME,...",
        default=None,
        help="the policies to run, in this order, instead of pghot, --baselines and --designs: "
        + ", ".join(sim.POLICIES)
        + " or a design (pghot bench names); numab2 and tpp take the config's [numab2] and [tpp] "
        "knobs (--set numab2.hot_threshold_ms=500)",
    )
    r.add_argument(
        "--baselines",
        nargs="*",
        default=None,
        choices=sim.BASELINES,
        help="baselines to run beside pghot (default: all)",
    )
    r.add_argument(
        "--designs",
        nargs="+",
        default=None,
        metavar="DESIGN",
        help="also run these tracker designs (pghot bench names)",
    )
    r.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="threads the policies run on (default: one per CPU); the result does not depend on it",
    )
    r.add_argument(
        "--engine",
        choices=sim.ENGINES,
        default=None,
        help="the compiled stages (default) or their Python reference (slow; for checking)",
    )
    _add_output_args(r, what="the result", plot=True)

    w = sub.add_parser(
        "sweep",
        help="a grid of configurations over traces, in parallel",
        description="a grid of configurations over traces, in parallel",
    )
    w.add_argument("traces", nargs="+", metavar="TRACE")
    w.add_argument(
        "--grid",
        action="append",
        metavar="KEY=V1,V2,...",
        help="an axis of the grid, repeatable (default: " + " and ".join(_DEFAULT_GRID) + ")",
    )
    _add_machine_args(w, trace=True)
    w.add_argument(
        "-j", "--jobs", type=_int_in(1), default=None, help="worker processes (default: the CPU count)"
    )
    w.add_argument(
        "--dask", metavar="SCHEDULER_ADDRESS", help="run the grid on a Dask cluster (needs dask.distributed)"
    )
    _add_output_args(w, what="the rows", plot=False)

    b = sub.add_parser(
        "bench",
        help="compare the tracker designs on built-in workloads",
        description="compare the tracker designs on built-in workloads",
    )
    b.add_argument(
        "--sizes",
        nargs="+",
        default=["64K", "1M", "8M"],
        help="tracked PFNs: 4K 64K 1M 8M (default: 64K 1M 8M)",
    )
    b.add_argument("--workloads", nargs="+", default=None, help="uniform zipf moving (default: all)")
    b.add_argument(
        "--designs",
        nargs="+",
        default=None,
        help="designs to run (default: all; hash/binary always runs as the baseline)",
    )
    b.add_argument(
        "--v2-max-pfns",
        type=_int_in(0),
        default=None,
        help="largest size at which kernel-v2 runs (default 65536: its pre-fill walks ~1024-long lists)",
    )
    b.add_argument("--seed", type=_int_in(0), default=0)
    _add_output_args(b, what="the rows", plot=True)
    b.add_argument("--no-progress", action="store_true", help="no progress bar")

    st = sub.add_parser(
        "study",
        help="every policy on the built-in workloads (or TRACEs), as a report",
        description="every policy on the built-in workloads (GUPS with a hot set, a moving hot set, "
        "Zipf key-value, graph, scan beside a hot set, the v3 microbenchmark) or on the given traces, "
        "at top tiers of 25 and 50 percent of the footprint; writes DIR/index.md, index.html, "
        "results.json and PNG figures; results are cached per (workload, policy, config)",
    )
    st.add_argument(
        "traces", nargs="*", metavar="TRACE", help="trace files to study instead of the built-in workloads"
    )
    st.add_argument("--quick", action="store_true", help="a smoke run in well under a minute (scale 0.125)")
    st.add_argument(
        "--scale",
        type=_float_in(1e-6, 1024),
        default=None,
        help="size factor of the built-in workloads (default 1: 16,384 pages, 4M accesses each)",
    )
    st.add_argument(
        "--workloads",
        metavar="NAME,NAME,...",
        default=None,
        help="built-in workloads to run (default: all, or none when TRACEs are given): "
        "gups-hot, gups-moving, kv-zipf, graph, scan-hot, v3-micro",
    )
    st.add_argument(
        "--policies",
        metavar="NAME,NAME,...",
        default=None,
        help="policies to run (default: all of pghot.sim.POLICIES and pghot-aging; "
        "none and oracle always run)",
    )
    st.add_argument("--out", metavar="DIR", default="study", help="the report's folder (default: study)")
    st.add_argument(
        "-j", "--jobs", type=_int_in(1, 1024), default=None, help="worker processes (default: the CPU count)"
    )
    st.add_argument(
        "--cache", metavar="DIR", default=None, help="cache folder (default: ~/.cache/pghot/study)"
    )
    st.add_argument("--no-cache", action="store_true", help="compute everything, keep nothing")
    st.add_argument(
        "--dask",
        metavar="SCHEDULER_ADDRESS",
        help="run the replays on a Dask cluster (needs dask.distributed)",
    )
    st.add_argument("--seed", type=_int_in(0, 2**32 - 1), default=0)
    st.add_argument("--no-progress", action="store_true", help="no progress bar")

    c = sub.add_parser(
        "convert",
        help="parse a trace once into a .npy trace that replay and sweep read fast",
        description="parse a trace once into a .npy trace (time_ns, pfn/vaddr, cpu, nid, src) "
        "that replay and sweep read without parsing text again; the file is written whole or "
        "not at all",
    )
    c.add_argument(
        "trace", help="trace file (lackey, perf script, CSV, npy/npz, damo JSON); '-' for standard input"
    )
    c.add_argument("out", metavar="OUT.npy", help="the .npy file to write (replaced if it exists)")
    c.add_argument("--format", choices=sim_formats(), help="trace format (default: detected)")
    c.add_argument(
        "--ns-per-instr",
        type=_float_in(0, 1e6),
        default=None,
        help="lackey: nanoseconds per instruction (default 1)",
    )
    c.add_argument(
        "--page-size",
        type=_int_in(1, 2**40),
        default=4096,
        help="bytes per page: perf phys_addr -> PFN, damo pages (default 4096, replay's page_size)",
    )
    c.add_argument("--skip-bad", action="store_true", help="skip malformed trace lines (counted)")
    c.add_argument("--perf-vaddr", action="store_true", help=_PERF_VADDR_HELP)
    _add_output_args(c, what="the summary", plot=False)
    c.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "demo": _demo,
    "replay": _replay,
    "sweep": _sweep,
    "bench": _bench,
    "study": _study,
    "convert": _convert,
}


def _drop_stdout() -> None:
    """Point stdout at /dev/null, so that the final flush at exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):  # not a real file (captured, replaced)
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pghot`` command; returns 0 or raises SystemExit.

    An error prints one line ``pghot: error: ...`` on stderr and raises
    ``SystemExit`` with the status of the module docstring (2 for bad usage
    or input, 1 for a failed run, 130 when interrupted, 141 when stdout is
    closed early).

    >>> main(["demo", "--accesses", "5000", "--working-set-pages", "400", "--top-pages", "100",
    ...       "--no-progress"])
    replay of the demo workload (Zipf 0.99 over 400 pages, phase change at 5 s): 5,000 accesses ...
    0
    """
    try:
        args = _parser().parse_args(argv)
        status = _COMMANDS[args.command](args)
        sys.stdout.flush()  # a closed pipe shows now, not at exit
        return status
    except KeyboardInterrupt:
        _say("interrupted")
        raise SystemExit(130) from None
    except BrokenPipeError:  # `pghot ... | head`: the reader has gone, so stop quietly
        _drop_stdout()
        raise SystemExit(141) from None
    except _Fail as e:
        status, message = e.status, str(e)
    except RecursionError as e:  # before RuntimeError, its base class
        status, message = 1, f"recursion too deep ({e})"
    except MemoryError as e:
        status, message = 1, f"out of memory ({e})" if str(e) else "out of memory"
    except OverflowError as e:  # a value given too large for the simulator's integers
        status, message = 2, f"a number is too large ({e})"
    except (OSError, TypeError, ValueError, RuntimeError, ImportError) as e:
        status, message = 2, _text(e)  # what the library says about a bad value or file
    except Exception as e:
        status, message = 1, f"internal error: {type(e).__name__}: {e}"
    _say(f"error: {message}")
    raise SystemExit(status)


if __name__ == "__main__":
    sys.exit(main())
