"""The ``pghot`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

import numpy as np

from pghot._core import Tracker
from pghot._types import Outcome, Source
from pghot.topology import Topology
from pghot.workloads import skewed_accesses

__all__ = ["main", "run_demo"]


def run_demo(
    *,
    top_pages: int = 16384,
    lower_pages: int = 65536,
    working_set_pages: int = 32768,
    accesses: int = 2_000_000,
    threshold: int = 2,
    interval_ms: int = 20,
    batch: int = 1024,
    seed: int = 0,
) -> dict:
    """Replay a synthetic skewed workload through a tracker, kpromoted-style.

    Accesses are Zipf-distributed over ``working_set_pages`` lower-tier
    pages, with a phase change half way, reported as NUMA hint faults from
    node 0 over 10 simulated seconds (HZ=1000).  Every ``interval_ms`` the
    top-tier node's queue is drained by up to ``batch`` records, as kpromoted
    would.  Returns the counters and the PFNs that would be promoted.

    Examples
    --------
    >>> r = run_demo(accesses=20000, working_set_pages=2000, lower_pages=8192, top_pages=1024)
    >>> r["stats"]["pghot_recorded_accesses"] + r["top_tier_hits"]
    20000
    >>> len(r["promoted"]) > 0
    True
    """
    topo = Topology.two_tier(top_pages, lower_pages)
    tracker = Tracker(topo, hz=1000, threshold=threshold)
    pfns, nows = skewed_accesses(
        top_pages, min(working_set_pages, lower_pages), accesses, seed=seed
    )
    # A promoted page lives in the top tier from then on: its later accesses
    # are top-tier hits, no longer reported.  The top tier starts with
    # `top_pages` free pages for this workload and nothing is demoted.
    on_top = np.zeros(lower_pages, dtype=bool)
    free_top = top_pages
    promoted: list[np.ndarray] = []
    outcomes = np.zeros(len(Outcome), dtype=np.int64)
    top_hits = 0
    bounds = np.searchsorted(nows, np.arange(0, int(nows[-1]) + interval_ms + 1, interval_ms))
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        if hi > lo:
            chunk = pfns[lo:hi]
            hit = on_top[chunk - top_pages]
            top_hits += int(hit.sum())
            miss = ~hit
            outcomes += tracker.record_accesses(
                chunk[miss], 0, int(Source.HINT_FAULT), nows[lo:hi][miss]
            )
        if free_top > 0:
            got = tracker.extract_batch(0, min(batch, free_top))
            on_top[got - top_pages] = True
            free_top -= len(got)
            promoted.append(got)
    tracker.check()
    all_promoted = np.concatenate(promoted) if promoted else np.empty(0, np.uint64)
    # the truly hottest pages, by accesses over the whole run
    counts = np.bincount(pfns - top_pages, minlength=lower_pages)
    k = len(all_promoted)
    hottest = np.argsort(-counts, kind="stable")[:k] + top_pages
    overlap = len(np.intersect1d(hottest, all_promoted)) / k if k else 0.0
    return {
        "workload": {
            "top_pages": top_pages,
            "lower_pages": lower_pages,
            "working_set_pages": working_set_pages,
            "accesses": accesses,
            "threshold": threshold,
            "interval_ms": interval_ms,
            "batch": batch,
            "seed": seed,
        },
        "outcomes": {o.name: int(outcomes[o]) for o in Outcome},
        "stats": tracker.stats(),
        "memory_bytes": tracker.memory_bytes(),
        "top_tier_hits": top_hits,
        "top_tier_hit_ratio": top_hits / accesses if accesses else 0.0,
        "promoted_in_hottest_share": overlap,
        "promoted": all_promoted,
    }


def _print_demo(r: dict, show: int) -> None:
    w = r["workload"]
    print(
        f"pghot demo: {w['accesses']:,} accesses, Zipf 0.99 over {w['working_set_pages']:,} of "
        f"{w['lower_pages']:,} lower-tier pages, top tier {w['top_pages']:,} pages"
    )
    print(f"  threshold {w['threshold']}, kpromoted every {w['interval_ms']} ms, batch {w['batch']}")
    print("\ncounters")
    for k, v in r["stats"].items():
        print(f"  {k:<28} {v:>12,}")
    print(f"  {'memory_bytes':<28} {r['memory_bytes']:>12,}")
    p = r["promoted"]
    print(f"\npromoted {len(p):,} pages; {r['promoted_in_hottest_share']:.1%} of them are among "
          f"the {len(p):,} most accessed pages of the run")
    print(f"accesses served by the top tier after promotion: {r['top_tier_hit_ratio']:.1%}")
    print(f"first {min(show, len(p))} promoted PFNs, in promotion order:")
    print("  " + " ".join(str(int(x)) for x in p[:show]))


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
        designs.plot(rows, args.plot)
        print(f"plot written to {args.plot}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pghot`` command."""
    parser = argparse.ArgumentParser(prog="pghot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="replay a built-in synthetic skewed workload")
    d.add_argument("--accesses", type=int, default=2_000_000)
    d.add_argument("--top-pages", type=int, default=16384)
    d.add_argument("--lower-pages", type=int, default=65536)
    d.add_argument("--working-set-pages", type=int, default=32768)
    d.add_argument("--threshold", type=int, default=2)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--show", type=int, default=20, help="promoted PFNs to print")
    d.add_argument("--json", action="store_true", help="print the result as JSON")
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
        try:
            r = run_demo(
                top_pages=args.top_pages,
                lower_pages=args.lower_pages,
                working_set_pages=args.working_set_pages,
                accesses=args.accesses,
                threshold=args.threshold,
                seed=args.seed,
            )
        except (TypeError, ValueError) as e:
            parser.error(str(e))
        if args.json:
            out = dict(r, promoted=[int(x) for x in r["promoted"]])
            json.dump(out, sys.stdout, indent=2)
            print()
        else:
            _print_demo(r, args.show)
    return 0


if __name__ == "__main__":
    sys.exit(main())
