"""The study's built-in workloads: seeded generators of the patterns tiering papers evaluate on.

Each generator takes a ``scale`` factor and a ``seed`` and returns a
:class:`Workload` whose ``chunk`` is a virtual-address
:class:`pghot.traces.TraceChunk`, the form :func:`pghot.sim.replay` accepts.
At ``scale=1`` a workload touches :data:`BASE_PAGES` pages (64 MiB of 4 KiB
pages) with :data:`BASE_ACCESSES` accesses over :data:`DURATION_MS` of
trace time; the scale multiplies the pages and the accesses, never the
duration (the sources' scan periods and the tracker's windows are in time,
so the time span stays what they were tuned for).  The same arguments give
the same arrays.

Placement follows :func:`pghot.sim.replay`'s first touch: the pages touched
first fill the top tier.  Where a paper's workload allocates and
initialises its memory before the measured phase (GUPS, a key-value load,
a graph's arrays), the trace starts with that initialisation pass, in page
order, over the first :data:`INIT_SHARE` of the duration; the hot pages are
then spread over the whole footprint, so most start on the lower tier.

=================  ============================================================
``gups-hot``       GUPS with a hot set (HeMem, Raybuck et al., SOSP 2021,
                   section 5.1; Memtis, Lee et al., SOSP 2023, section 6):
                   90 % of the updates to a hot set of an eighth of the
                   footprint (it fits a top tier of a quarter), the rest
                   uniform over the whole footprint.
``gups-moving``    the same, the hot set re-drawn (disjoint) half way
                   (HeMem's and Memtis's "hot set changes" runs).
``kv-zipf``        YCSB-C-like gets, Zipf(0.99) over items of ``item_bytes``
                   (default 1 KiB) packed into pages, item popularity
                   unrelated to item placement.
``graph``          a BFS/PageRank-like pass: an edge list streamed in
                   order (seven eighths of the footprint) beside a vertex
                   array (an eighth) read at the edges' destinations, whose
                   degrees are Zipf(0.99)-skewed (GAPBS / Graph500 style).
``scan-hot``       a small hot set (a sixteenth of the footprint, half the
                   accesses) beside a repeated sequential scan through the
                   rest: promotion should not follow the scan.
``v3-micro``       the pghot v3 cover letter's microbenchmark: uniform
                   random 4 KiB accesses over a region placed on the lower
                   tier at start (a filler of half the footprint is touched
                   first and never again).
=================  ============================================================

They simplify: one access per record (no access sizes or instruction
gaps), evenly spaced in time, a single thread.

Examples
--------
>>> w = make("gups-hot", scale=0.01, seed=1)
>>> w.name, w.footprint_pages, len(w.chunk), w.accesses == len(w.chunk)
('gups-hot', 164, 40000, True)
>>> bool((w.chunk.time_ns[1:] >= w.chunk.time_ns[:-1]).all())
True
>>> sorted(WORKLOADS) == sorted(["gups-hot", "gups-moving", "kv-zipf", "graph", "scan-hot", "v3-micro"])
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from pghot.bench.workloads import zipf_ranks
from pghot.traces import TraceChunk

__all__ = [
    "BASE_ACCESSES",
    "BASE_PAGES",
    "DURATION_MS",
    "INIT_SHARE",
    "WORKLOADS",
    "Workload",
    "make",
    "estimate_bytes",
]

#: pages a workload touches at ``scale=1`` (64 MiB of 4 KiB pages)
BASE_PAGES = 16384
#: accesses of a workload at ``scale=1``
BASE_ACCESSES = 4_000_000
#: trace time of every workload, whatever the scale
DURATION_MS = 10_000
#: share of the duration the initialisation pass takes, where a workload has one
INIT_SHARE = 0.05
_PAGE = 4096
_BASE_VADDR = 0x7F00_0000_0000


@dataclasses.dataclass(frozen=True)
class Workload:
    """One built-in workload's trace and what it is."""

    #: a name of :data:`WORKLOADS`
    name: str
    #: one line: the pattern and its sizes
    description: str
    #: the accesses, by virtual address
    chunk: TraceChunk
    #: distinct pages the trace touches
    footprint_pages: int

    @property
    def accesses(self) -> int:
        """Records of the trace."""
        return len(self.chunk)


def _sizes(scale: float) -> tuple[int, int]:
    pages = max(64, round(BASE_PAGES * scale))
    accesses = max(1000, round(BASE_ACCESSES * scale))
    return pages, accesses


def _times(n: int, start_ms: float, end_ms: float) -> np.ndarray:
    """``n`` evenly spaced times in ns over ``[start_ms, end_ms)``."""
    return (start_ms * 1e6 + np.arange(n, dtype=np.float64) * ((end_ms - start_ms) * 1e6 / max(n, 1))).astype(
        np.int64
    )


def _chunk(pages: np.ndarray, times_ns: np.ndarray) -> TraceChunk:
    vaddr = np.uint64(_BASE_VADDR) + pages.astype(np.uint64) * np.uint64(_PAGE)
    return TraceChunk(time_ns=times_ns, vaddr=vaddr)


def _with_init(footprint: int, body: np.ndarray) -> TraceChunk:
    """The initialisation pass over every page in order, then ``body``."""
    init_ms = DURATION_MS * INIT_SHARE
    pages = np.concatenate([np.arange(footprint, dtype=np.int64), body])
    times = np.concatenate([_times(footprint, 0, init_ms), _times(len(body), init_ms, DURATION_MS)])
    return _chunk(pages, times)


def _gups(scale: float, seed: int, moving: bool) -> Workload:
    pages, accesses = _sizes(scale)
    rng = np.random.default_rng(seed)
    hot_n = max(1, pages // 8)
    perm = rng.permutation(pages)
    hot_a, hot_b = perm[:hot_n], perm[hot_n : 2 * hot_n]
    n = accesses - pages
    to_hot = rng.random(n) < 0.9
    body = rng.integers(0, pages, n)
    idx = rng.integers(0, hot_n, n)
    hot_pages = np.where(np.arange(n) < n // 2, hot_a[idx], hot_b[idx]) if moving else hot_a[idx]
    body = np.where(to_hot, hot_pages, body)
    what = "a hot set moving half way" if moving else "a hot set"
    return Workload(
        "gups-moving" if moving else "gups-hot",
        f"GUPS with {what}: 90 % of the updates to {hot_n:,} of {pages:,} pages",
        _with_init(pages, body),
        pages,
    )


def gups_hot(scale: float = 1.0, seed: int = 0) -> Workload:
    """GUPS with a hot set of an eighth of the footprint (HeMem section 5.1)."""
    return _gups(scale, seed, moving=False)


def gups_moving(scale: float = 1.0, seed: int = 0) -> Workload:
    """GUPS with a hot set re-drawn half way (HeMem, Memtis)."""
    return _gups(scale, seed, moving=True)


def kv_zipf(scale: float = 1.0, seed: int = 0, *, item_bytes: int = 1024) -> Workload:
    """YCSB-C-like Zipf(0.99) gets over items of ``item_bytes`` packed into pages.

    >>> kv_zipf(0.01, item_bytes=512).description
    'key-value gets, Zipf(0.99) over 1,312 items of 512 B in 164 pages'
    >>> kv_zipf(0.01, item_bytes=0)
    Traceback (most recent call last):
    ...
    ValueError: item_bytes must be an integer in [1, 4096], got 0
    """
    if isinstance(item_bytes, bool) or not isinstance(item_bytes, int):
        raise TypeError(f"item_bytes must be an integer, not {type(item_bytes).__name__}")
    if not 1 <= item_bytes <= _PAGE:
        raise ValueError(f"item_bytes must be an integer in [1, {_PAGE}], got {item_bytes}")
    pages, accesses = _sizes(scale)
    per_page = _PAGE // item_bytes
    items = pages * per_page
    rng = np.random.default_rng(seed)
    placement = rng.permutation(items)  # rank -> item slot: popularity unrelated to placement
    n = accesses - pages
    ranks = zipf_ranks(items, n, 0.99, seed=seed + 1)
    body = placement[ranks] // per_page
    return Workload(
        "kv-zipf",
        f"key-value gets, Zipf(0.99) over {items:,} items of {item_bytes} B in {pages:,} pages",
        _with_init(pages, body),
        pages,
    )


def graph(scale: float = 1.0, seed: int = 0) -> Workload:
    """An edge list streamed beside a vertex array read with Zipf(0.99)-skewed degrees."""
    pages, accesses = _sizes(scale)
    vertex_pages = max(1, pages // 8)
    edge_pages = pages - vertex_pages
    rng = np.random.default_rng(seed)
    n = accesses - pages
    half = n // 2
    # the edge stream: every edge page read in order, passes repeated, as many reads a page
    edges = vertex_pages + (np.arange(half, dtype=np.int64) * edge_pages * 2 // max(half, 1)) % edge_pages
    hubs = rng.permutation(vertex_pages)  # high-degree vertices spread over the array
    dests = hubs[zipf_ranks(vertex_pages, n - half, 0.99, seed=seed + 1)]
    body = np.empty(n, dtype=np.int64)
    body[0 : 2 * half : 2] = edges
    body[1 : 2 * half : 2] = dests[:half]
    body[2 * half :] = dests[half:]
    return Workload(
        "graph",
        f"graph pass: {edge_pages:,} edge-list pages streamed, {vertex_pages:,} vertex pages, "
        "Zipf(0.99) degrees",
        _with_init(pages, body),
        pages,
    )


def scan_hot(scale: float = 1.0, seed: int = 0) -> Workload:
    """A hot set (a sixteenth, half the accesses) beside a repeated sequential scan of the rest."""
    pages, accesses = _sizes(scale)
    hot_n = max(1, pages // 16)
    rng = np.random.default_rng(seed)
    n = accesses
    scan_n = pages - hot_n
    is_hot = rng.random(n) < 0.5
    hot = rng.integers(0, hot_n, n)
    k = np.cumsum(~is_hot) - 1  # the scan's position, advancing on its own accesses
    # four accesses a page (a page's cache lines), then the next page; passes repeat
    scan = hot_n + (k // 4) % scan_n
    body = np.where(is_hot, hot, scan)
    return Workload(
        "scan-hot",
        f"a streaming scan over {scan_n:,} pages beside a hot set of {hot_n:,} pages",
        _chunk(body, _times(n, 0, DURATION_MS)),
        pages,
    )


def v3_micro(scale: float = 1.0, seed: int = 0) -> Workload:
    """Random 4 KiB accesses over a region placed on the lower tier (the pghot v3 letter)."""
    pages, accesses = _sizes(scale)
    filler = pages // 2
    region = pages - filler
    rng = np.random.default_rng(seed)
    n = accesses - filler
    body = filler + rng.integers(0, region, n)
    return Workload(
        "v3-micro",
        f"random 4 KiB accesses over {region:,} pages placed on the lower tier at start",
        _with_init(filler, body),
        pages,
    )


#: the built-in workloads by name
WORKLOADS: dict[str, Callable[..., Workload]] = {
    "gups-hot": gups_hot,
    "gups-moving": gups_moving,
    "kv-zipf": kv_zipf,
    "graph": graph,
    "scan-hot": scan_hot,
    "v3-micro": v3_micro,
}


def make(name: str, scale: float = 1.0, seed: int = 0, **params: Any) -> Workload:
    """The built-in workload ``name`` at ``scale``.

    >>> make("kv-zipf", 0.01).footprint_pages
    164
    >>> make("gups", 0.01)
    Traceback (most recent call last):
    ...
    ValueError: workload must be one of ['gups-hot', 'gups-moving', 'kv-zipf', 'graph', 'scan-hot', \
'v3-micro'], got 'gups'
    """
    if not isinstance(name, str):
        raise TypeError(f"workload must be a name, not {type(name).__name__}")
    if name not in WORKLOADS:
        raise ValueError(f"workload must be one of {list(WORKLOADS)}, got {name!r}")
    return WORKLOADS[name](scale, seed, **params)


def estimate_bytes(scale: float, policies: int) -> int:
    """Peak memory of one replay of a built-in workload at ``scale``, with ``policies`` policies.

    The trace (16 bytes an access) and its generation's temporaries (about
    five 8-byte arrays an access), the replay's stream (12 bytes an access),
    and per policy its memory model and tracker (about 64 bytes a page of a
    machine of three times the footprint), plus a fixed 64 MiB.

    >>> estimate_bytes(1.0, 10) // 2**20
    353
    """
    pages, accesses = _sizes(scale)
    return accesses * (16 + 40 + 12) + policies * pages * 3 * 64 + (64 << 20)
