"""Instructions per access of one single-threaded ``record_accesses`` call, per store.

Usage::

    python scripts/callgrind_record.py [--stores hash kernel-v2 pfn-array]
                                       [--dists zipf uniform] [--pfns 65536] [--accesses 262144]

For each store and workload the script runs itself under ``valgrind
--tool=callgrind``: it builds a tracker over ``workloads.topology(pfns)``,
pre-fills it with every tracked PFN, warms it with two untimed rounds of the
stream, and then makes one measured ``record_accesses`` call of ``accesses``
accesses.  Callgrind zeroes its counters when the payload calls ``getppid()``
just before that call and dumps them when it calls ``getpgrp()`` just after,
so the dump holds the whole public call (argument checks, copies, the
store's batch loop, counter flushes) and a few hundred instructions of
interpreter around it.  Prints Ir per access; deterministic for a given
build, so two builds compare exactly.  Build with ``-Cinstall.strip=false``
to see symbols in ``callgrind_annotate`` (the totals do not need them).
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def payload(store: str, dist: str, n_pfns: int, n_acc: int) -> None:
    sys.path.insert(0, ROOT)
    import numpy as np
    from bench import workloads

    import pghot

    t = pghot.Tracker(workloads.topology(n_pfns), store=store)
    universe = workloads.tracked_pfns(n_pfns, 0)
    t.record_accesses(universe, -1, 0, workloads.nows(n_pfns))
    gen = workloads.uniform if dist == "uniform" else workloads.zipf
    w = gen(n_pfns, n_acc, seed=0, start_jiffy=2000)
    for r in range(3):
        nows = w.nows + r * w.span_jiffies
        if r == 2:
            os.getppid()  # callgrind: --zero-before=getppid
            c = t.record_accesses(w.pfns, -1, 0, nows)
            os.getpgrp()  # callgrind: --dump-before=getpgrp
        else:
            c = t.record_accesses(w.pfns, -1, 0, nows)
    assert int(np.sum(c)) == n_acc


def measure(store: str, dist: str, n_pfns: int, n_acc: int) -> float:
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "cg.out")
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                "--zero-before=getppid",
                "--dump-before=getpgrp",
                sys.executable,
                os.path.abspath(__file__),
                "--payload",
                store,
                dist,
                str(n_pfns),
                str(n_acc),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        dumps = sorted(f for f in glob.glob(out + "*") if f != out)
        with open(dumps[0]) as f:
            for line in f:
                if line.startswith(("summary:", "totals:")):
                    return int(line.split()[1]) / n_acc
    raise RuntimeError("no callgrind dump")


def main(argv: list[str]) -> int:
    if argv[:1] == ["--payload"]:
        payload(argv[1], argv[2], int(argv[3]), int(argv[4]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stores", nargs="*", default=["hash", "kernel-v2", "pfn-array"])
    ap.add_argument("--dists", nargs="*", default=["zipf", "uniform"])
    ap.add_argument("--pfns", type=int, default=1 << 16)
    ap.add_argument("--accesses", type=int, default=1 << 18)
    a = ap.parse_args(argv)
    print(f"| store | workload | Ir/access ({a.accesses} accesses, {a.pfns} PFNs) |")
    print("|---|---|--:|")
    for store in a.stores:
        for dist in a.dists:
            ir = measure(store, dist, a.pfns, a.accesses)
            print(f"| {store} | {dist} | {ir:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
