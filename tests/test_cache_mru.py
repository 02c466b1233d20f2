"""The LLC filter's fast paths give the reference's answers (pghot._cache.LRUCache).

``filter`` skips the set lookup for an access to the line touched last (it
is its set's MRU line), keeps that line across calls and forgets it on
``reset``; it reads a reader's uint32 ``size`` array in place.  Each test
runs streams built to hit those paths (runs of one line, two lines of one
set alternating, accesses spanning lines, calls cut anywhere) through the
compiled cache and the reference (:class:`pghot.model.cache.LRUCacheReference`)
and compares every answer, counter and resident line.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from pghot._cache import LRUCache
from pghot.model.cache import LRUCacheReference

GEOMETRIES = [(256, 64, 1), (384, 64, 2), (960, 64, 15), (1024, 16, 4), (1, 1, 1), (7 * 3 * 8, 8, 3)]


def _check(core: LRUCache, ref: LRUCacheReference, addrs: np.ndarray, sizes: Any = None) -> None:
    got = core.filter(addrs, sizes)
    assert got.tolist() == ref.filter(addrs, sizes).tolist()
    assert (core.accesses, core.hits, core.misses, core.evictions) == (
        ref.accesses,
        ref.hits,
        ref.misses,
        ref.evictions,
    )
    assert core.resident_lines() == ref.resident_lines()


def _runs(rng: np.random.Generator, n: int, line: int, span_lines: int) -> np.ndarray:
    """Runs of accesses to one line, and lines of one set in turn: the MRU path and its edges."""
    lines = rng.integers(0, span_lines, n // 4 + 1)
    out = np.repeat(lines, rng.integers(1, 8, lines.shape[0]))[:n]
    return (out * line + rng.integers(0, line, out.shape[0])).astype(np.uint64)


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("seed", range(3))
def test_runs_and_cuts_match_reference(geometry: tuple[int, int, int], seed: int) -> None:
    size, line, ways = geometry
    core, ref = LRUCache(size, line, ways), LRUCacheReference(size, line, ways)
    rng = np.random.default_rng(seed)
    addrs = _runs(rng, 3000, line, 4 * (size // line) + 3)
    sizes = rng.choice(np.array([0, 1, 4, 8, line, 2 * line + 1], dtype=np.uint32), addrs.shape[0])
    cuts = np.sort(rng.integers(0, addrs.shape[0], 12))
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, addrs.shape[0]]):  # the MRU line kept across calls
        _check(core, ref, addrs[a:b], sizes[a:b])


def test_reset_forgets_the_last_line() -> None:
    core, ref = LRUCache(256, 64, 2), LRUCacheReference(256, 64, 2)
    one = np.array([100, 100], dtype=np.uint64)
    _check(core, ref, one)
    core.reset()
    ref.reset()
    assert core.filter(one).tolist() == [True, False] == ref.filter(one).tolist()


def test_two_lines_of_one_set_in_turn() -> None:
    core, ref = LRUCache(128, 64, 1), LRUCacheReference(128, 64, 1)  # 2 sets of 1 line
    addrs = np.array([0, 128, 0, 128, 0, 64, 0], dtype=np.uint64)  # 0 and 128 share set 0
    _check(core, ref, addrs)
    assert core.misses == 6 and core.evictions == 4


@pytest.mark.parametrize(
    "sizes",
    [
        np.array([8, 1, 64, 0, 130], dtype=np.uint32),  # a reader's size array, read in place
        np.array([8, 1, 64, 0, 130], dtype=np.uint16),
        np.array([8, 1, 64, 0, 130], dtype=np.int64),
        np.array([8, 0, 1, 0, 64, 0, 0, 0, 130, 0], dtype=np.uint32)[::2],  # strided: copied
        [8, 1, 64, 0, 130],
    ],
)
def test_size_dtypes_give_the_same_answers(sizes: Any) -> None:
    addrs = np.array([60, 60, 0, 200, 1000], dtype=np.uint64)
    core, ref = LRUCache(1024, 64, 4), LRUCacheReference(1024, 64, 4)
    _check(core, ref, addrs, sizes)
    assert core.filter(addrs, sizes).tolist() == [False] * 5


def test_uint32_sizes_are_checked_in_place() -> None:
    c = LRUCache(1024, 64, 4)
    sizes = np.array([8, 5000], dtype=np.uint32)
    sizes.flags.writeable = False  # read, never written
    with pytest.raises(ValueError, match=r"sizes\[1\] = 5000 is larger than 4096"):
        c.filter(np.array([0, 64], dtype=np.uint64), sizes)
    assert c.accesses == 0
    with pytest.raises(ValueError, match="sizes has length 1, addresses has 2"):
        c.filter(np.array([0, 64], dtype=np.uint64), sizes[:1])
    assert c.filter(np.array([0], dtype=np.uint64), sizes[:1]).tolist() == [True]
