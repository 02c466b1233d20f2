"""Deterministic synthetic access patterns over lower-tier PFNs.

Shared by ``pghot demo``, the tests and the benchmarks (``bench/``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["zipf_ranks", "skewed_accesses"]


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
