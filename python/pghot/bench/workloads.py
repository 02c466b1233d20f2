"""Deterministic synthetic access patterns over lower-tier PFNs.

Shared by ``pghot demo``, ``pghot bench``, the tests and the benchmark suite
(``bench/``).  Every generator draws from a seeded
:class:`numpy.random.Generator`, so the same arguments always give the same
arrays.

The benchmark machine is ``Topology.two_tier(top_pages, lower_pages)`` with
``lower_pages = 2 * n_pfns`` (see :func:`topology`): the tracker's default
capacity, 50 % of the lower-tier pages, is then exactly ``n_pfns`` records.
The workloads touch ``n_pfns`` distinct lower-tier PFNs, :func:`tracked_pfns`,
a seeded random half of the lower tier in random order.  Each generator
returns a :class:`Workload`: ``pfns`` (uint64) and ``nows`` (int64 jiffies,
non-decreasing, ``accesses_per_jiffy`` accesses per jiffy from
``start_jiffy``).

>>> w = zipf(1000, 5000, seed=1)
>>> w.pfns.dtype, w.nows.dtype, len(w)
(dtype('uint64'), dtype('int64'), 5000)
>>> bool(all(topology(1000).node_of(int(p)) == 1 for p in w.pfns[:100]))
True
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from pghot.topology import Topology

__all__ = [
    "ACCESSES_PER_JIFFY",
    "Workload",
    "hot_set_moving",
    "nows",
    "skewed_accesses",
    "top_pages",
    "topology",
    "tracked_pfns",
    "uniform",
    "zipf",
    "zipf_ranks",
]


def zipf_ranks(n_items: int, n_samples: int, s: float = 0.99, *, seed: int = 0) -> np.ndarray:
    """Sample ranks ``0 .. n_items-1`` with probability proportional to ``1/(rank+1)**s``.

    Inverse-CDF sampling, so any exponent ``s >= 0`` works (``numpy``'s own
    ``zipf`` needs ``s > 1``).

    Examples
    --------
    >>> r = zipf_ranks(1000, 10000, 0.99, seed=1)
    >>> int(r.min()) >= 0 and int(r.max()) < 1000
    True
    >>> int((r == 0).sum()) > int((r == 999).sum())
    True
    """
    if n_items <= 0:
        raise ValueError(f"n_items must be positive, got {n_items}")
    if n_samples < 0:
        raise ValueError(f"n_samples must be >= 0, got {n_samples}")
    if s < 0:
        raise ValueError(f"s must be >= 0, got {s}")
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_items + 1, dtype=np.float64) ** s
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    ranks = np.searchsorted(cdf, rng.random(n_samples), side="right")
    return np.minimum(ranks, n_items - 1).astype(np.int64)


def skewed_accesses(
    first_pfn: int,
    n_pages: int,
    n_accesses: int,
    *,
    s: float = 0.99,
    duration_jiffies: int = 10_000,
    phase_change: bool = True,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """A Zipf-skewed stream of accesses to ``n_pages`` PFNs from ``first_pfn``.

    Returns ``(pfns, nows)``: uint64 PFNs and non-decreasing times spread
    evenly over ``duration_jiffies``.  With ``phase_change`` the hot set is
    re-drawn half way through, as when a program enters a new phase.

    Examples
    --------
    >>> pfns, nows = skewed_accesses(1000, 100, 500, seed=3)
    >>> len(pfns), int(pfns.min()) >= 1000, int(pfns.max()) < 1100
    (500, True, True)
    >>> bool((nows[1:] >= nows[:-1]).all())
    True
    """
    rng = np.random.default_rng(seed)
    ranks = zipf_ranks(n_pages, n_accesses, s, seed=seed + 1)
    perm = rng.permutation(n_pages)
    pfns = perm[ranks]
    if phase_change and n_accesses > 1:
        half = n_accesses // 2
        pfns[half:] = rng.permutation(n_pages)[ranks[half:]]
    nows = (np.arange(n_accesses, dtype=np.int64) * duration_jiffies) // max(n_accesses, 1)
    return (pfns + first_pfn).astype(np.uint64), nows


#: Default clock: one jiffy per this many accesses (1M accesses/s at HZ=1000).
ACCESSES_PER_JIFFY = 1000


class Workload(NamedTuple):
    """A stream of accesses: PFNs and the time of each access.

    >>> w = Workload(np.array([5], dtype=np.uint64), np.array([0], dtype=np.int64))
    >>> w.span_jiffies
    1
    """

    #: accessed PFNs, uint64
    pfns: np.ndarray
    #: access times in jiffies, int64, non-decreasing
    nows: np.ndarray

    def __len__(self) -> int:
        return len(self.pfns)

    @property
    def span_jiffies(self) -> int:
        """Jiffies from the first access to one past the last one.

        Adding ``k * span_jiffies`` to ``nows`` replays the stream ``k``
        spans later, so a benchmark can repeat it with time moving forward.

        >>> uniform(10, 2500, seed=0).span_jiffies
        3
        """
        if len(self.nows) == 0:
            return 0
        return int(self.nows[-1] - self.nows[0]) + 1


def top_pages(n_pfns: int) -> int:
    """Pages of the top-tier node: as many as the tracked PFNs.

    >>> top_pages(4096)
    4096
    """
    return int(n_pfns)


def topology(n_pfns: int) -> Topology:
    """``Topology.two_tier(n_pfns, 2 * n_pfns)``: default capacity ``n_pfns``.

    >>> t = topology(1 << 16)
    >>> t.lower_pages() * 50 // 100
    65536
    """
    return Topology.two_tier(top_pages(n_pfns), 2 * int(n_pfns))


def tracked_pfns(n_pfns: int, seed: int = 0) -> np.ndarray:
    """The ``n_pfns`` distinct lower-tier PFNs the workloads access.

    A seeded random half of the ``2 * n_pfns`` lower-tier PFNs of
    :func:`topology`, in random order; element ``r`` is the PFN of rank ``r``
    in :func:`zipf` (so ranks map to PFNs through a random permutation).

    >>> p = tracked_pfns(1000, seed=3)
    >>> len(p), len(set(p.tolist())), bool(p.min() >= 1000), bool(p.max() < 3000)
    (1000, 1000, True, True)
    >>> bool((p == tracked_pfns(1000, seed=3)).all())
    True
    """
    n = int(n_pfns)
    rng = np.random.default_rng([int(seed), 0x7066])  # independent of the access stream
    chosen = rng.permutation(2 * n)[:n]
    return (chosen + top_pages(n)).astype(np.uint64)


def nows(n_accesses: int, start_jiffy: int = 0, accesses_per_jiffy: int = ACCESSES_PER_JIFFY) -> np.ndarray:
    """Access times: ``start_jiffy + i // accesses_per_jiffy`` (int64).

    >>> nows(5, start_jiffy=10, accesses_per_jiffy=2).tolist()
    [10, 10, 11, 11, 12]
    """
    return np.arange(int(n_accesses), dtype=np.int64) // int(accesses_per_jiffy) + int(start_jiffy)


def uniform(
    n_pfns: int,
    n_accesses: int,
    seed: int = 0,
    *,
    start_jiffy: int = 0,
    accesses_per_jiffy: int = ACCESSES_PER_JIFFY,
) -> Workload:
    """Every tracked PFN equally likely.

    Parameters
    ----------
    n_pfns : int
        Distinct PFNs (the default table capacity of :func:`topology`).
    n_accesses : int
        Length of the stream.
    seed : int
        Seed of both the PFN set and the stream.
    start_jiffy, accesses_per_jiffy : int
        Clock of the stream (see :func:`nows`).

    Returns
    -------
    Workload

    Examples
    --------
    >>> w = uniform(100, 10_000, seed=7)
    >>> bool(np.isin(w.pfns, tracked_pfns(100, seed=7)).all())
    True
    >>> len(np.unique(w.pfns))
    100
    >>> w.nows[[0, -1]].tolist()
    [0, 9]
    """
    universe = tracked_pfns(n_pfns, seed)
    rng = np.random.default_rng(int(seed))
    idx = rng.integers(0, len(universe), size=int(n_accesses))
    return Workload(universe[idx], nows(n_accesses, start_jiffy, accesses_per_jiffy))


def zipf(
    n_pfns: int,
    n_accesses: int,
    s: float = 0.99,
    seed: int = 0,
    *,
    start_jiffy: int = 0,
    accesses_per_jiffy: int = ACCESSES_PER_JIFFY,
) -> Workload:
    """Zipf-distributed accesses: rank ``r`` has weight ``1 / (r + 1)**s``.

    Ranks come from ``pghot.zipf_ranks`` (inverse-CDF sampling,
    so any ``s >= 0`` works, unlike ``numpy.random.Generator.zipf``, which
    needs ``s > 1``).  Ranks map to PFNs through the random order of :func:`tracked_pfns`, so
    the hot PFNs are scattered over the lower tier.

    Examples
    --------
    >>> w = zipf(1000, 50_000, s=0.99, seed=2)
    >>> hottest = tracked_pfns(1000, seed=2)[0]
    >>> bool((w.pfns == hottest).mean() > 0.1)
    True
    >>> bool((zipf(1000, 50_000, seed=2).pfns == w.pfns).all())
    True
    """
    universe = tracked_pfns(n_pfns, seed)
    ranks = zipf_ranks(int(n_pfns), int(n_accesses), float(s), seed=int(seed))
    return Workload(universe[ranks], nows(n_accesses, start_jiffy, accesses_per_jiffy))


def hot_set_moving(
    n_pfns: int,
    n_accesses: int,
    hot_pfns: int,
    period: int,
    hot_fraction: float = 0.9,
    seed: int = 0,
    *,
    start_jiffy: int = 0,
    accesses_per_jiffy: int = ACCESSES_PER_JIFFY,
) -> Workload:
    """A hot set of ``hot_pfns`` PFNs that moves every ``period`` accesses.

    Phase ``k`` (accesses ``[k * period, (k + 1) * period)``) has as hot set
    the ``k``-th block of ``hot_pfns`` consecutive entries of
    :func:`tracked_pfns` (wrapping around), so consecutive hot sets are
    disjoint while ``2 * hot_pfns <= n_pfns``.  Each access goes to a
    uniformly chosen hot PFN with probability ``hot_fraction``, otherwise to
    a uniformly chosen tracked PFN.

    Examples
    --------
    >>> w = hot_set_moving(1000, 4000, hot_pfns=50, period=2000, seed=0)
    >>> u = tracked_pfns(1000, seed=0)
    >>> first, second = set(u[:50].tolist()), set(u[50:100].tolist())
    >>> a = np.isin(w.pfns[:2000], list(first)).mean()
    >>> b = np.isin(w.pfns[2000:], list(second)).mean()
    >>> bool(a > 0.85 and b > 0.85)
    True
    """
    n = int(n_pfns)
    h = int(hot_pfns)
    if not 1 <= h <= n:
        raise ValueError(f"hot_pfns must be in [1, n_pfns], got {h}")
    if int(period) < 1:
        raise ValueError(f"period must be >= 1, got {period}")
    universe = tracked_pfns(n, seed)
    rng = np.random.default_rng(int(seed))
    m = int(n_accesses)
    phase = np.arange(m, dtype=np.int64) // int(period)
    hot_idx = (phase * h + rng.integers(0, h, size=m)) % n
    cold_idx = rng.integers(0, n, size=m)
    idx = np.where(rng.random(m) < float(hot_fraction), hot_idx, cold_idx)
    return Workload(universe[idx], nows(m, start_jiffy, accesses_per_jiffy))
