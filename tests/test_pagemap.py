"""The replay's first stages, compiled (page numbering, time in jiffies), against their numpy spec."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pghot._pagemap import PageMap, clamped_jiffies
from pghot.traces import PageMapper, TraceChunk

I64 = np.iinfo(np.int64)


@given(
    st.lists(
        st.lists(
            st.integers(0, 2**64 - 1) | st.integers(0, 50) | st.integers(2**20 - 40, 2**20 + 40), max_size=300
        ),
        max_size=6,
    )
)
def test_page_map_numbers_as_the_page_mapper(batches: list[list[int]]) -> None:
    a, b = PageMap(), PageMapper(0, 2**40, page_size=1)
    for keys in batches:
        k = np.array(keys, dtype=np.uint64)
        assert a.map(k).tolist() == b.map(k).tolist()
        assert len(a) == len(b)


def test_page_map_grows_through_many_doublings() -> None:
    rng = np.random.default_rng(3)
    a, b = PageMap(), PageMapper(0, 2**40, page_size=1)
    for _ in range(4):
        k = rng.integers(0, 2**40, 50_000).astype(np.uint64)
        assert (a.map(k) == b.map(k)).all()
    assert len(a) == len(b) > 150_000


def test_page_map_direct_window_takes_over_table_keys_as_it_widens() -> None:
    # dense keys from 2**16 up: the direct window; a key far beyond it first goes to the table, and
    # moves into the window once enough keys have been numbered for the window to reach it
    rng = np.random.default_rng(5)
    a, b = PageMap(), PageMapper(0, 2**40, page_size=1)
    far = 2**16 + 3_000_000
    batches = [np.array([2**16 + 7, far, 2**16 - 1, 2**64 - 1], dtype=np.uint64)]
    batches += [(2**16 + rng.integers(0, 4_000_000, 150_000)).astype(np.uint64) for _ in range(4)]
    batches.append(np.array([far, 2**16 - 1, 2**64 - 1, 2**16 + 7], dtype=np.uint64))
    for k in batches:
        assert a.map(k).tolist() == b.map(k).tolist()
        assert len(a) == len(b)
    assert a.map(batches[0]).tolist() == [0, 1, 2, 3]


def test_page_map_window_at_the_top_of_the_key_space() -> None:
    # the window placed just below 2**64: its end would wrap; the marker key 2**64 - 1 stays apart
    a, b = PageMap(), PageMapper(0, 2**40, page_size=1)
    top = 2**64 - 1
    for keys in ([top - 3, top], [top - 70_000, top - 1, top - 3], list(range(top - 5000, top + 1))):
        k = np.array(keys, dtype=np.uint64)
        assert a.map(k).tolist() == b.map(k).tolist()
    assert len(a) == len(b) == 5002


def test_page_map_refusal_forgets_window_keys_too() -> None:
    m = PageMap(max_pages=10)
    m.map(np.arange(6, dtype=np.uint64))
    with pytest.raises(ValueError, match="max_pages=10"):
        m.map(np.arange(3, 20, dtype=np.uint64))  # in the window: 6..9 numbered, then refused
    assert len(m) == 6
    assert m.map(np.array([9, 5, 8], dtype=np.uint64)).tolist() == [6, 5, 7]


def test_page_map_refuses_too_many_keys_and_numbers_nothing() -> None:
    m = PageMap(max_pages=10)
    m.map(np.arange(6, dtype=np.uint64))
    with pytest.raises(ValueError, match="max_pages=10"):
        m.map(np.arange(100, 120, dtype=np.uint64))
    assert len(m) == 6
    assert m.map(np.array([5, 200, 2**64 - 1], dtype=np.uint64)).tolist() == [5, 6, 7]


@pytest.mark.parametrize(
    "keys, err",
    [([-1], ValueError), ([[1]], ValueError), (["a"], ValueError), ([1.5], ValueError), (None, ValueError)],
)
def test_page_map_bad_keys(keys: Any, err: type[Exception]) -> None:
    m = PageMap()
    m.map(np.array([3], dtype=np.uint64))
    with pytest.raises(err, match="keys"):
        m.map(keys)
    assert len(m) == 1


@pytest.mark.parametrize("bad", [0, 2**32 + 1, -5, 1.0, True, "8"])
def test_page_map_bad_max_pages(bad: Any) -> None:
    with pytest.raises((TypeError, ValueError), match="max_pages"):
        PageMap(max_pages=bad)


@given(
    st.lists(st.integers(I64.min, I64.max) | st.integers(-(10**10), 10**10), min_size=1, max_size=200),
    st.integers(-(2**62), 2**62),
    st.sampled_from([1, 100, 1000, 250, 10**6]),
    st.integers(0, 10**6),
)
def test_clamped_jiffies_as_numpy(times: list[int], origin: int, hz: int, floor: int) -> None:
    t = np.array(times, dtype=np.int64)
    with np.errstate(all="ignore"):
        want = TraceChunk(time_ns=t, pfn=np.zeros(t.shape[0], dtype=np.uint64)).times_jiffies(hz, origin)
        want = np.maximum.accumulate(np.maximum(want, floor))
    assert clamped_jiffies(t, origin, hz, floor).tolist() == want.tolist()


@pytest.mark.parametrize("hz", [0, -1, 10**9 + 1])
def test_clamped_jiffies_bad_hz(hz: int) -> None:
    with pytest.raises(ValueError, match="hz"):
        clamped_jiffies(np.zeros(2, dtype=np.int64), 0, hz, 0)


def test_uint64_keys_read_in_place_stay_safe_beside_a_writer() -> None:
    """A uint64 key array is not copied: a thread rewriting it changes which keys are numbered,
    never the memory touched (every id stays below the count, the map stays consistent)."""
    import threading

    keys = np.arange(1 << 16, dtype=np.uint64) + np.uint64(1 << 20)
    pm = PageMap()
    stop = threading.Event()

    def writer() -> None:
        rng = np.random.default_rng(3)
        while not stop.is_set():
            keys[rng.integers(0, keys.shape[0], 512)] = rng.integers(0, 2**63, 512, dtype=np.uint64)

    t = threading.Thread(target=writer)
    t.start()
    try:
        for _ in range(50):
            ids = pm.map(keys)
            assert ids.shape == keys.shape and int(ids.max()) < len(pm)
    finally:
        stop.set()
        t.join()
    # what the map holds is a function: mapping its keys again gives the same ids, no new one
    snapshot = keys.copy()
    before = len(pm)
    again = pm.map(snapshot)
    assert len(pm) - before <= snapshot.shape[0]
    assert (pm.map(snapshot) == again).all()
