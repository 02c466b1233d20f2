"""Compare tracker designs on the same workloads: the data behind ``pghot bench``.

The kernel reviewers asked whether a hash table plus per-node heaps (v2) is
worth its memory and complexity, and the series itself moved to one word
per page frame (v3 and later).  :func:`compare` runs every design of
:data:`DESIGNS` on the same built-in workloads and measures, per design:

- ``ns_per_access``: wall time of ``record_accesses`` over the workload,
  per access (the table pre-filled with every tracked PFN, so the figure is
  the steady state at that many tracked PFNs);
- ``ns_per_extracted``: wall time of draining full queues (or scanning, for
  the PFN array) with ``extract_batch(nid, 1024)``, per record returned,
  after two fresh accesses to every tracked PFN made them all hot;
- ``bytes_per_pfn`` and ``bytes_per_gib``: ``memory_bytes()`` per tracked
  PFN and per GiB of lower-tier memory;
- ``topk_accuracy``: of the ``k`` pages the design hands out first
  (``extract_batch(nid, k)`` right after the workload), the share that are
  among the truly ``k`` hottest pages of the last frequency window by an
  exact counter (a page tied with the ``k``-th count counts as hot);

and the bare loop (:class:`pghot._baseline.BareTable`: look the PFN up in
a table of the same size and bump a counter) as the machine's limit.  Every
row carries its ratio to the default design (``hash/binary``) measured in
the same run.

Examples
--------
>>> rows = compare(sizes=["4K"], workloads=["zipf"], designs=["hash/binary", "hash/bucket"],
...                progress=False)
>>> sorted({r["design"] for r in rows})
['bare-loop', 'hash/binary', 'hash/bucket']
>>> all(r["ns_per_access"] > 0 for r in rows)
True
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from pghot import _output
from pghot._baseline import BareTable
from pghot._output import num
from pghot.bench import workloads as wl
from pghot.topology import Topology
from pghot.tracker import DESIGNS, Tracker

__all__ = ["DESIGNS", "SIZES", "WORKLOADS", "LOWER_TIER_GIB", "compare", "format_table", "plot"]

DEFAULT_DESIGN = "hash/binary"

#: tracked PFNs per size name
SIZES: dict[str, int] = {"4K": 1 << 12, "64K": 1 << 16, "1M": 1 << 20, "8M": 1 << 23}

#: built-in access patterns
WORKLOADS = ("uniform", "zipf", "moving")

#: the lower tier of the comparison: 32 GiB of 4 KiB pages
LOWER_TIER_GIB = 32
PAGE_SIZE = 4096
LOWER_PAGES = LOWER_TIER_GIB << 30 >> 12

#: the workload spans this many jiffies (HZ=1000): three 5 s windows
SPAN_JIFFIES = 15_000
#: pages handed out for the accuracy measure
TOP_K = 1024
#: kernel-v2 walks ~1024-long lists: its pre-fill alone takes ~35 us a PFN,
#: so by default it runs only up to this many tracked PFNs, and its time per
#: access is measured on the first V2_SAMPLE accesses of the workload (its
#: semantics are the hash store's, so its accuracy is not measured again)
V2_MAX_PFNS = 1 << 16
V2_SAMPLE = 20_000


def _stream(size: int, workload: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tracked PFNs, accessed PFNs, times) for one size and pattern."""
    n_acc = max(4 * size, 1 << 20)
    per_jiffy = max(1, n_acc // SPAN_JIFFIES)
    rng = np.random.default_rng([seed, size])
    tracked = (rng.permutation(LOWER_PAGES)[:size] + _top_pages()).astype(np.uint64)
    if workload == "uniform":
        idx = rng.integers(0, size, n_acc)
    elif workload == "zipf":
        idx = wl.zipf_ranks(size, n_acc, 0.99, seed=seed)
    elif workload == "moving":
        hot = max(1, size // 16)
        period = max(1, n_acc // 5)  # the hot set moves 4 times
        phase = np.arange(n_acc) // period
        hot_pick = (phase * hot + rng.integers(0, hot, n_acc)) % size
        idx = np.where(rng.random(n_acc) < 0.9, hot_pick, rng.integers(0, size, n_acc))
    else:
        raise ValueError(f"workload must be one of {WORKLOADS}, got {workload!r}")
    nows = np.arange(n_acc, dtype=np.int64) // per_jiffy
    return tracked, tracked[idx], nows


def _top_pages() -> int:
    return 1 << 18  # 1 GiB top tier: irrelevant to tracking


def _true_hot(pfns: np.ndarray, nows: np.ndarray, window: int, k: int) -> tuple[np.ndarray, int]:
    """PFNs accessed in the last ``window`` jiffies and the k-th largest count."""
    last = pfns[nows > nows[-1] - window]
    uniq, counts = np.unique(last, return_counts=True)
    if len(counts) == 0:
        return uniq, 0
    kth = np.sort(counts)[::-1][min(k, len(counts)) - 1]
    return uniq[counts >= kth], int(kth)


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _run_design(
    name: str, topo: Topology, tracked: np.ndarray, pfns: np.ndarray, nows: np.ndarray, chunk: int = 1 << 16
) -> dict[str, Any]:
    kwargs = dict(DESIGNS[name])
    sampled = kwargs["store"] == "kernel-v2" and len(pfns) > V2_SAMPLE
    if sampled:
        pfns, nows = pfns[:V2_SAMPLE], nows[:V2_SAMPLE]
    if kwargs["store"] != "pfn-array":
        kwargs["capacity"] = len(tracked)
    t = Tracker(topo, **kwargs)
    t.record_accesses(tracked, -1, 0, 0)  # pre-fill: every PFN tracked
    nows = nows + 1  # after the pre-fill
    chunks = [(pfns[lo : lo + chunk], nows[lo : lo + chunk]) for lo in range(0, len(pfns), chunk)]
    elapsed = 0.0
    for cp, cn in chunks:
        t0 = time.perf_counter()
        t.record_accesses(cp, 0, 0, cn)
        elapsed += time.perf_counter() - t0
    window = int(t.window_jiffies)
    hot, _ = _true_hot(pfns, nows, window, TOP_K)
    first = t.extract_batch(0, TOP_K)
    accuracy = float(np.isin(first, hot).mean()) if len(first) else 0.0
    if sampled:
        accuracy = float("nan")
    mem = int(t.memory_bytes())
    # extraction: make every tracked PFN hot (two fresh accesses), which
    # fills the queues (or sets the ready bits), then drain in batches
    later = int(nows[-1]) + 2 * window + 10
    t.record_accesses(tracked, 0, 0, later)
    t.record_accesses(tracked, 0, 0, later + 1)
    drained = 0
    ext_time = 0.0
    while True:
        dt, got = _timed(lambda: t.extract_batch(0, 1024))
        ext_time += dt
        drained += len(got)
        if len(got) == 0:
            break
    return {
        "ns_per_access": elapsed / len(pfns) * 1e9,
        "ns_per_extracted": ext_time / drained * 1e9 if drained else float("nan"),
        "bytes_per_pfn": mem / len(tracked),
        "bytes_per_gib": mem / LOWER_TIER_GIB,
        "memory_bytes": mem,
        "topk_accuracy": accuracy,
        "topk_returned": len(first),
        "accesses_timed": len(pfns),
        "extracted": drained,
        "stats": t.stats(),
    }


def _run_bare(tracked: np.ndarray, pfns: np.ndarray) -> dict[str, Any]:
    b = BareTable(tracked)
    b.count(pfns[: 1 << 16])  # warm
    dt, _ = _timed(lambda: b.count(pfns))
    return {
        "ns_per_access": dt / len(pfns) * 1e9,
        "ns_per_extracted": float("nan"),
        "bytes_per_pfn": float("nan"),
        "bytes_per_gib": float("nan"),
        "memory_bytes": 0,
        "topk_accuracy": float("nan"),
        "topk_returned": 0,
        "accesses_timed": len(pfns),
        "extracted": 0,
        "stats": {},
    }


def _names(given: Iterable[str] | None, allowed: Sequence[str], what: str) -> list[str]:
    out = list(allowed) if given is None else list(given)
    for x in out:
        if x not in allowed:
            raise ValueError(f"{what} must be among {list(allowed)}, got {x!r}")
    return out


def compare(
    *,
    sizes: Iterable[str] | None = None,
    workloads: Iterable[str] | None = None,
    designs: Iterable[str] | None = None,
    seed: int = 0,
    progress: bool = True,
    v2_max_pfns: int = V2_MAX_PFNS,
) -> list[dict[str, Any]]:
    """Run every design on every (size, workload); one row per run.

    Parameters
    ----------
    sizes : names from :data:`SIZES`, default ``["64K", "1M", "8M"]``
    workloads : names from :data:`WORKLOADS`, default all
    designs : names from :data:`DESIGNS`, default all
    seed : int
    progress : bool
        Show a progress bar on stderr.
    v2_max_pfns : int
        Largest size at which ``kernel-v2`` runs (its rows above are marked
        ``skipped``); its pre-fill walks ~1024-long lists per PFN.

    Returns
    -------
    list of dict
        ``design, size, tracked_pfns, workload`` and the metrics of the
        module docstring, each with ``*_ratio`` to the default design.
    """
    for name, v in (("seed", seed), ("v2_max_pfns", v2_max_pfns)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"{name} must be a non-negative int, got {v!r}")
    size_names = _names(sizes if sizes is not None else ["64K", "1M", "8M"], list(SIZES), "sizes")
    wl_names = _names(workloads, WORKLOADS, "workloads")
    des = _names(designs, list(DESIGNS), "designs")
    if DEFAULT_DESIGN not in des:
        des.insert(0, DEFAULT_DESIGN)
    jobs = [(s, w, d) for s in size_names for w in wl_names for d in ["bare-loop", *des]]
    rows: list[dict[str, Any]] = []
    topo = Topology.two_tier(_top_pages(), LOWER_PAGES)
    with _output.progress(len(jobs), enabled=progress, unit="run") as bar:
        for s in size_names:
            for w in wl_names:
                tracked, pfns, nows = _stream(SIZES[s], w, seed)
                group: dict[str, dict[str, Any]] = {}
                for d in ["bare-loop", *des]:
                    bar.describe(f"{s} {w} {d}")
                    if d == "bare-loop":
                        m = _run_bare(tracked, pfns)
                    elif d == "kernel-v2" and SIZES[s] > v2_max_pfns:
                        m = {"skipped": f"kernel-v2 runs up to {v2_max_pfns} PFNs (--v2-max-pfns)"}
                    else:
                        m = _run_design(d, topo, tracked, pfns, nows)
                    group[d] = m
                    bar.update(1)
                rows += _with_ratios(group, s, w, len(pfns))
    return rows


def _with_ratios(
    group: dict[str, dict[str, Any]], size: str, workload: str, accesses: int
) -> list[dict[str, Any]]:
    """The rows of one (size, workload), each with its ``*_ratio`` to the default design.

    >>> g = {"hash/binary": {"ns_per_access": 20.0}, "hash/bucket": {"ns_per_access": 30.0}}
    >>> [r["ns_per_access_ratio"] for r in _with_ratios(g, "4K", "zipf", 100)]
    [1.0, 1.5]
    """
    base = group[DEFAULT_DESIGN]
    rows = []
    for d, m in group.items():
        row = {
            "design": d,
            "size": size,
            "tracked_pfns": SIZES[size],
            "workload": workload,
            "accesses": accesses,
            **m,
        }
        for key in ("ns_per_access", "ns_per_extracted", "bytes_per_pfn", "topk_accuracy"):
            if key in m and base.get(key) and np.isfinite(base[key]):
                row[key + "_ratio"] = m[key] / base[key]
        rows.append(row)
    return rows


#: the columns of the comparison table
TABLE_HEAD = (
    "size",
    "workload",
    "design",
    "ns/access",
    "x default",
    "ns/extracted",
    "x default",
    "bytes/PFN",
    "x default",
    "bytes/GiB lower",
    "top-k acc.",
    "x default",
)


def format_table(rows: list[dict[str, Any]]) -> str:
    """The rows as one Markdown table (:func:`pghot._output.format_table`).

    >>> print(format_table([{"design": "hash/binary", "size": "1M", "workload": "zipf",
    ...     "ns_per_access": 20.0, "ns_per_access_ratio": 1.0, "ns_per_extracted": 60.0,
    ...     "ns_per_extracted_ratio": 1.0, "bytes_per_pfn": 22.3, "bytes_per_pfn_ratio": 1.0,
    ...     "bytes_per_gib": 700.0, "topk_accuracy": 0.5, "topk_accuracy_ratio": 1.0}]).splitlines()[2])
    | 1M | zipf | hash/binary | 20.0 | 1.00 | 60.0 | 1.00 | 22.3 | 1.00 | 700 | 0.50 | 1.00 |
    """
    cells: list[tuple[str, ...]] = []
    for r in rows:
        if "skipped" in r:
            blank = ("",) * (len(TABLE_HEAD) - 4)
            cells.append((r["size"], r["workload"], r["design"], f"skipped: {r['skipped']}", *blank))
            continue
        cells.append(
            (
                r["size"],
                r["workload"],
                r["design"],
                num(r["ns_per_access"], 1),
                num(r.get("ns_per_access_ratio"), 2),
                num(r["ns_per_extracted"], 1),
                num(r.get("ns_per_extracted_ratio"), 2),
                num(r["bytes_per_pfn"], 1),
                num(r.get("bytes_per_pfn_ratio"), 2),
                num(r["bytes_per_gib"], 0),
                num(r["topk_accuracy"], 2),
                num(r.get("topk_accuracy_ratio"), 2),
            )
        )
    return _output.format_table(TABLE_HEAD, cells, markdown=True)


def plot(rows: list[dict[str, Any]], path: str) -> None:
    """Bar charts of the comparison: time per access, per extracted record,
    bytes per PFN and top-k accuracy, one panel each, grouped by size and
    workload, one bar per design."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError("--plot needs matplotlib: pip install 'pghot[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in rows if "skipped" not in r]
    groups = sorted(
        {(r["size"], r["workload"]) for r in done}, key=lambda g: (SIZES[g[0]], WORKLOADS.index(g[1]))
    )
    designs = list(dict.fromkeys(r["design"] for r in done))
    metrics = [
        ("ns_per_access", "ns per recorded access", True),
        ("ns_per_extracted", "ns per extracted record", True),
        ("bytes_per_pfn", "bytes per tracked PFN", True),
        ("topk_accuracy", f"top-{TOP_K} accuracy", False),
    ]
    fig, axes = plt.subplots(len(metrics), 1, figsize=(max(8, 1.4 * len(groups) * len(designs) / 3), 13))
    width = 0.8 / max(1, len(designs))
    x = np.arange(len(groups))
    for ax, (key, label, log) in zip(axes, metrics):
        for i, d in enumerate(designs):
            vals = []
            for g in groups:
                v = next(
                    (r[key] for r in done if r["design"] == d and (r["size"], r["workload"]) == g),
                    float("nan"),
                )
                vals.append(v)
            ax.bar(x + i * width, vals, width, label=d)
        ax.set_ylabel(label)
        if log:
            ax.set_yscale("log")
        ax.set_xticks(x + width * (len(designs) - 1) / 2)
        ax.set_xticklabels([f"{s}\n{w}" for s, w in groups])
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(ncol=min(4, len(designs)), fontsize=8)
    axes[0].set_title("pghot designs on the same workloads (32 GiB lower tier)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
