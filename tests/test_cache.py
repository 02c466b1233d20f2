"""The last-level-cache filter: pghot._cache.LRUCache and pghot.machine.cache.LastLevelCache.

The compiled cache is held to the pure-Python reference
(pghot.model.cache.LRUCacheReference) on hypothesis-drawn and seeded random
streams over tiny caches, where evictions happen all the time; known answers
pin the LRU semantics; bad knobs and arrays give TypeError/ValueError naming
the argument and leave the cache unchanged.  The default migration costs
(pghot.machine.costs) are checked against their sources' arithmetic.
"""

from __future__ import annotations

import doctest
import importlib
import threading
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pghot._cache import MAX_ACCESS_BYTES, LRUCache
from pghot.machine import costs
from pghot.machine.cache import (
    DEFAULT_LLC_BYTES,
    DEFAULT_LLC_LINE_BYTES,
    DEFAULT_LLC_WAYS,
    LastLevelCache,
)
from pghot.model.cache import LRUCacheReference

Cache = LRUCache | LRUCacheReference

# (size_bytes, line_bytes, ways): one-way, two-way, fully associative, odd set counts
GEOMETRIES = [
    (64, 64, 1),
    (256, 64, 1),
    (256, 64, 2),
    (256, 64, 4),  # fully associative: one set of four lines
    (384, 64, 2),  # three sets (not a power of two)
    (1024, 16, 4),
    (960, 64, 15),  # one set of fifteen lines
    (7 * 3 * 8, 8, 3),  # seven sets of three 8-byte lines
    (1, 1, 1),
]


def both(size: int, line: int, ways: int) -> tuple[LRUCache, LRUCacheReference]:
    return LRUCache(size, line, ways), LRUCacheReference(size, line, ways)


def counters(c: Cache) -> tuple[int, int, int, int]:
    return (c.accesses, c.hits, c.misses, c.evictions)


def assert_same(core: LRUCache, ref: LRUCacheReference, addrs: np.ndarray, sizes: Any = None) -> None:
    got = core.filter(addrs, sizes)
    want = ref.filter(addrs, sizes)
    assert got.dtype == np.bool_
    assert got.tolist() == want.tolist()
    assert counters(core) == counters(ref)
    assert core.resident_lines() == ref.resident_lines()
    assert core.accesses == core.hits + core.misses


# -- differential: compiled cache == reference ------------------------------------------


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_seeded_streams_match_reference(geometry: tuple[int, int, int], seed: int) -> None:
    core, ref = both(*geometry)
    rng = np.random.default_rng(seed)
    size = geometry[0]
    for _ in range(4):  # several chunks: state carries over between filter calls
        # addresses over four times the capacity, some locality
        addrs = rng.integers(0, 4 * size + 1, size=300, dtype=np.uint64)
        addrs[::3] = addrs[::3] // 2
        assert_same(core, ref, addrs)
    assert core.evictions > 0


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_seeded_streams_with_sizes_match_reference(geometry: tuple[int, int, int]) -> None:
    core, ref = both(*geometry)
    rng = np.random.default_rng(7)
    addrs = rng.integers(0, 8 * geometry[0], size=400, dtype=np.uint64)
    sizes = rng.integers(0, 3 * geometry[1] + 2, size=400).astype(np.uint32)
    assert_same(core, ref, addrs, sizes)


@given(
    geometry=st.sampled_from(GEOMETRIES),
    chunks=st.lists(
        st.lists(st.tuples(st.integers(0, 2**12), st.integers(0, 200)), max_size=60), min_size=1, max_size=4
    ),
    reset_after=st.integers(0, 4),
)
def test_hypothesis_streams_match_reference(
    geometry: tuple[int, int, int], chunks: list[list[tuple[int, int]]], reset_after: int
) -> None:
    core, ref = both(*geometry)
    for i, chunk in enumerate(chunks):
        addrs = np.array([a for a, _ in chunk], dtype=np.uint64)
        sizes = np.array([s for _, s in chunk], dtype=np.uint32)
        assert_same(core, ref, addrs, sizes if i % 2 else None)
        if i == reset_after:
            core.reset()
            ref.reset()
            assert counters(core) == (0, 0, 0, 0)
            assert core.resident_lines() == ref.resident_lines() == [[] for _ in range(core.sets)]


@given(addrs=st.lists(st.integers(0, 2**64 - 1), max_size=50), size=st.integers(0, 300))
def test_high_addresses_match_reference(addrs: list[int], size: int) -> None:
    # the top of the address space: line numbers near 2**58, an access
    # running past 2**64 - 1 stops at the last line
    core, ref = both(384, 64, 2)
    a = np.array(addrs, dtype=np.uint64)
    a[::2] |= np.uint64(0xFFFF_FFFF_FFFF_FF00)
    assert_same(core, ref, a, np.full(len(addrs), size, dtype=np.uint32))


# -- known answers ---------------------------------------------------------------------


def test_loop_smaller_than_cache_hits_after_first_pass() -> None:
    c = LRUCache(64 * 1024, 64, 8)  # 64 KiB
    loop = np.arange(0, 32 * 1024, 4, dtype=np.uint64)  # 32 KiB, 4-byte loads
    first = c.filter(loop)
    assert int(first.sum()) == 32 * 1024 // 64  # one miss per line, the first load of it
    assert first[::16].all() and not first.reshape(-1, 16)[:, 1:].any()
    for _ in range(3):
        assert not c.filter(loop).any()
    assert c.misses == 512 and c.hits == 4 * loop.size - 512 and c.evictions == 0


@pytest.mark.parametrize("ways", [1, 4, 16])
def test_loop_larger_than_cache_misses_every_time_with_lru(ways: int) -> None:
    # A cyclic sweep over one line more per set than the cache holds: LRU
    # evicts each line just before it is needed again.
    c = LRUCache(16 * 64 * ways, 64, ways)  # 16 sets
    lines = np.arange(16 * (ways + 1), dtype=np.uint64) * np.uint64(64)
    for _ in range(4):
        assert c.filter(lines).all()
    assert c.hits == 0 and c.misses == 4 * lines.size


def test_lru_keeps_the_recently_used_line() -> None:
    c = LRUCache(128, 64, 2)  # one set of two lines
    assert c.filter(np.array([0, 64, 0, 128], dtype=np.uint64)).tolist() == [True, True, False, True]
    assert c.resident_lines() == [[2, 0]]  # 64 (line 1) was the LRU line: evicted
    assert c.filter(np.array([0, 64], dtype=np.uint64)).tolist() == [False, True]


def test_one_way_cache_conflicts() -> None:
    c = LRUCache(256, 64, 1)  # four sets of one line: lines 0 and 4 collide
    a = np.array([0, 256, 0, 256, 64, 64], dtype=np.uint64)
    assert c.filter(a).tolist() == [True, True, True, True, True, False]
    assert c.evictions == 3


def test_fully_associative_has_no_conflicts() -> None:
    c = LRUCache(256, 64, 4)
    a = np.array([0, 256, 512, 768, 0, 256, 512, 768], dtype=np.uint64)
    assert c.sets == 1
    assert c.filter(a).tolist() == [True] * 4 + [False] * 4


def test_access_spanning_two_lines_touches_both() -> None:
    c = LRUCache(1024, 64, 4)
    m = c.filter(np.array([62, 64, 0], dtype=np.uint64), np.array([4, 1, 1], dtype=np.uint32))
    assert m.tolist() == [True, False, False]
    assert (c.accesses, c.misses, c.hits) == (3, 1, 2)


def test_non_power_of_two_sets_index_by_modulo() -> None:
    c = LRUCache(3 * 64, 64, 1)  # three sets
    assert c.sets == 3
    c.filter(np.array([0, 64, 128, 192], dtype=np.uint64))  # line 3 -> set 0
    assert c.resident_lines() == [[3], [1], [2]]


def test_out_buffer_is_filled_and_returned() -> None:
    c = LRUCache(256, 64, 2)
    out = np.ones(3, dtype=bool)
    res = c.filter(np.array([0, 0, 64], dtype=np.uint64), out=out)
    assert res is out and out.tolist() == [True, False, True]


def test_empty_batch_and_dtypes() -> None:
    c = LRUCache(256, 64, 2)
    assert c.filter(np.array([], dtype=np.uint64)).shape == (0,)
    assert c.accesses == 0
    for dt in (np.int64, np.uint32, np.int16, np.uint8):
        assert c.filter(np.array([0, 64], dtype=dt)).shape == (2,)
    assert c.filter([0, 64, 128]).tolist() == [False, False, True]


def test_default_geometry_is_a_sapphire_rapids_socket() -> None:
    llc = LastLevelCache()
    assert DEFAULT_LLC_BYTES == 105 * 2**20 == 56 * 1920 * 1024
    assert (llc.size_bytes, llc.line_bytes, llc.ways) == (DEFAULT_LLC_BYTES, 64, 15)
    assert DEFAULT_LLC_LINE_BYTES == 64 and DEFAULT_LLC_WAYS == 15
    assert llc.sets == 56 * 2048
    assert llc.memory_bytes() == llc.sets * 15 * 8 + llc.sets * 4
    assert llc.counters() == {"accesses": 0, "hits": 0, "misses": 0, "evictions": 0}
    assert isinstance(llc, LRUCache)
    with pytest.raises(AttributeError):
        llc.extra = 1  # type: ignore[attr-defined]


def test_last_level_cache_matches_reference_with_knobs() -> None:
    core = LastLevelCache(size_bytes=3 * 64 * 5, line_bytes=64, ways=5)
    ref = LRUCacheReference(3 * 64 * 5, 64, 5)
    a = np.random.default_rng(3).integers(0, 1 << 14, size=2000, dtype=np.uint64)
    assert_same(core, ref, a)


# -- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize("make", [LRUCache, LRUCacheReference])
@pytest.mark.parametrize(
    "kwargs, exc, name",
    [
        ({"size_bytes": 1.0e3, "line_bytes": 8, "ways": 1}, TypeError, "size_bytes"),
        ({"size_bytes": True, "line_bytes": 1, "ways": 1}, TypeError, "size_bytes"),
        ({"size_bytes": "64", "line_bytes": 64, "ways": 1}, TypeError, "size_bytes"),
        ({"size_bytes": 64, "line_bytes": None, "ways": 1}, TypeError, "line_bytes"),
        ({"size_bytes": 64, "line_bytes": 64, "ways": np.bool_(True)}, TypeError, "ways"),
        ({"size_bytes": 0, "line_bytes": 64, "ways": 1}, ValueError, "size_bytes"),
        ({"size_bytes": -64, "line_bytes": 64, "ways": 1}, ValueError, "size_bytes"),
        ({"size_bytes": 96, "line_bytes": 48, "ways": 1}, ValueError, "line_bytes"),
        ({"size_bytes": 64, "line_bytes": 0, "ways": 1}, ValueError, "line_bytes"),
        ({"size_bytes": 64, "line_bytes": 2**21, "ways": 1}, ValueError, "line_bytes"),
        ({"size_bytes": 128, "line_bytes": 64, "ways": 0}, ValueError, "ways"),
        ({"size_bytes": 128, "line_bytes": 64, "ways": 3}, ValueError, "size_bytes"),
        ({"size_bytes": 100, "line_bytes": 64, "ways": 1}, ValueError, "size_bytes"),
        ({"size_bytes": 2**40, "line_bytes": 64, "ways": 1}, ValueError, "size_bytes"),
    ],
)
def test_bad_knobs(make: Any, kwargs: dict[str, Any], exc: type[Exception], name: str) -> None:
    with pytest.raises(exc, match=name):
        make(**kwargs)


def test_knobs_accept_numpy_integers() -> None:
    c = LRUCache(np.int64(256), np.uint16(64), np.int8(2))
    assert (c.size_bytes, c.line_bytes, c.ways, c.sets) == (256, 64, 2, 2)


@pytest.mark.parametrize(
    "addrs, sizes, exc, name",
    [
        (None, None, TypeError, "addresses"),
        (5, None, TypeError, "addresses"),
        ("0", None, TypeError, "addresses"),
        (np.array([0.5]), None, TypeError, "addresses"),
        (np.array([True]), None, TypeError, "addresses"),
        (np.array([[0, 1]]), None, ValueError, "addresses"),
        (np.array([0, -1]), None, ValueError, "addresses"),
        (np.ma.masked_array([1, 2], mask=[False, True]), None, TypeError, "addresses"),
        (np.array([0, 1]), np.array([1]), ValueError, "sizes"),
        (np.array([0, 1]), np.array([1, -1]), ValueError, "sizes"),
        (np.array([0, 1]), np.array([1.0, 2.0]), TypeError, "sizes"),
        (np.array([0, 1]), np.array([1, MAX_ACCESS_BYTES + 1]), ValueError, "sizes"),
    ],
)
def test_bad_arrays_leave_cache_unchanged(addrs: Any, sizes: Any, exc: type[Exception], name: str) -> None:
    c = LRUCache(256, 64, 2)
    c.filter(np.array([0, 64, 128], dtype=np.uint64))
    before = (counters(c), c.resident_lines())
    with pytest.raises(exc, match=name):
        c.filter(addrs, sizes)
    assert (counters(c), c.resident_lines()) == before


@pytest.mark.parametrize(
    "out, exc",
    [
        ([True, False], TypeError),
        (np.zeros(2, dtype=np.uint8), ValueError),
        (np.zeros(3, dtype=bool), ValueError),
        (np.zeros(4, dtype=bool)[::2], ValueError),
        (np.zeros((1, 2), dtype=bool), ValueError),
    ],
)
def test_bad_out_leaves_cache_unchanged(out: Any, exc: type[Exception]) -> None:
    c = LRUCache(256, 64, 2)
    with pytest.raises(exc, match="out"):
        c.filter(np.array([0, 64], dtype=np.uint64), out=out)
    assert counters(c) == (0, 0, 0, 0)


def test_read_only_out_is_refused() -> None:
    out = np.zeros(1, dtype=bool)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out"):
        LRUCache(64, 64, 1).filter(np.array([0], dtype=np.uint64), out=out)


def test_uninitialised_and_reinitialised() -> None:
    c = LRUCache.__new__(LRUCache)
    with pytest.raises(RuntimeError, match="__init__"):
        c.filter(np.array([0], dtype=np.uint64))
    with pytest.raises(RuntimeError, match="__init__"):
        c.reset()
    d = LRUCache(64, 64, 1)
    with pytest.raises(RuntimeError, match="already initialised"):
        d.__init__(128, 64, 1)  # type: ignore[misc]
    assert d.size_bytes == 64


def test_failed_init_leaves_object_unusable_not_broken() -> None:
    c = LRUCache.__new__(LRUCache)
    with pytest.raises(ValueError, match="ways"):
        c.__init__(64, 64, 0)  # type: ignore[misc]
    with pytest.raises(RuntimeError, match="__init__"):
        c.filter(np.array([0], dtype=np.uint64))


def test_threads_share_one_cache_without_tearing_it() -> None:
    # Calls from several threads either run whole or raise RuntimeError; the
    # counters always add up and match the lines that went through.
    c = LRUCache(64 * 1024, 64, 8)
    a = np.random.default_rng(0).integers(0, 1 << 20, size=200_000, dtype=np.uint64)
    done: list[int] = []
    refused: list[int] = []

    def worker() -> None:
        for _ in range(5):
            try:
                c.filter(a)
                done.append(1)
            except RuntimeError as e:
                assert "in use" in str(e)
                refused.append(1)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(done) + len(refused) == 15 and done
    assert c.accesses == len(done) * a.size
    assert c.accesses == c.hits + c.misses
    assert sum(len(s) for s in c.resident_lines()) == c.misses - c.evictions


# -- costs and doctests ----------------------------------------------------------------


def test_migration_costs_follow_their_sources() -> None:
    # [1]: 3.31 GB/s for 4 KiB folios, 11.02 GB/s for 2 MiB folios; [2]: +291.7 %
    assert costs.MIGRATE_4K_BATCHED_NS == round(4096 / 3.31) == 1237
    assert costs.MIGRATE_THP_NS == round(2**21 / 11.02) == 190304
    assert costs.TLB_BATCHING_SPEEDUP == pytest.approx(1 + 2.917)
    assert costs.MIGRATE_4K_SINGLE_NS > costs.MIGRATE_4K_BATCHED_NS  # batching is cheaper per page
    assert costs.MIGRATE_THP_SINGLE_NS == costs.MIGRATE_THP_BATCHED_NS == costs.MIGRATE_THP_NS
    # a THP costs less per base page than 512 batched 4 KiB pages
    assert costs.MIGRATE_THP_NS < 512 * costs.MIGRATE_4K_BATCHED_NS
    assert costs.migration_cost_ns(3, batched=False) == 3 * costs.MIGRATE_4K_SINGLE_NS
    assert costs.migration_cost_ns(3, huge=True) == 3 * costs.MIGRATE_THP_NS


@pytest.mark.parametrize(
    "args, kwargs, exc",
    [
        ((True,), {}, TypeError),
        ((1.0,), {}, TypeError),
        (("1",), {}, TypeError),
        ((-1,), {}, ValueError),
        ((1,), {"huge": 1}, TypeError),
        ((1,), {"batched": None}, TypeError),
    ],
)
def test_migration_cost_bad_input(
    args: tuple[Any, ...], kwargs: dict[str, Any], exc: type[Exception]
) -> None:
    with pytest.raises(exc):
        costs.migration_cost_ns(*args, **kwargs)


@pytest.mark.parametrize(
    "name", ["pghot._cache", "pghot.machine.cache", "pghot.machine.costs", "pghot.model.cache"]
)
def test_module_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=False
    )
    assert result.attempted > 0 and result.failed == 0
