"""The compiled memory's engine entry points read private copies of their inputs.

A caller's other thread changing an input during the call, or an output
buffer that aliases an input, cannot make them read or write out of bounds
(found by review: both crashed before the copies).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import pghot
from pghot.machine.memory import TieredMemory


def _mem() -> TieredMemory:
    return TieredMemory(pghot.Topology.two_tier(2, 8))


def test_serve_with_hit_bins_aliasing_times() -> None:
    big = np.zeros(2000, dtype=np.int64)
    big[:1000] = 999
    mem = _mem()
    view = big[:1000]
    hits = mem.serve(np.zeros(1000, dtype=np.uint32), view, 1, view)
    assert hits == 1000
    assert (big[1000:] == 0).all()  # nothing written beyond the buffer
    mem.check()


def test_second_access_with_outputs_aliasing_inputs() -> None:
    mem = TieredMemory(pghot.Topology.two_tier(1, 8))
    pages = np.array([0, 3, 3], dtype=np.int64)
    last = np.full(mem.logical_pages, -1, dtype=np.int64)
    hits, k = mem.second_access(
        pages,
        np.array([0, 1, 2]),
        10,
        np.zeros(1, dtype=np.int64),
        np.array([3, 3], dtype=np.int64),
        np.array([10**12 - 1, 10**12]),
        last,
        5,
        0,
        np.empty(2, dtype=np.int64),
        pages,  # promoted_times aliases the accesses: 10**12 lands in pages[0]
    )
    assert (hits, k) == (1, 1) and pages[0] == 10**12
    mem.check()


def test_pfns_into_out_aliasing_pages() -> None:
    mem = _mem()
    mem.access([4, 5, 6])
    buf = np.array([6, 4, 7, 5], dtype=np.int64)
    mem.pfns_into(buf[1:], buf[:3])
    assert buf.tolist() == [0, -1, 1, 5]


def test_serve_while_another_thread_changes_the_pages() -> None:
    mem = _mem()
    pages = np.zeros(4096, dtype=np.int64)
    times = np.zeros(4096, dtype=np.int64)
    bins = np.zeros(1, dtype=np.int64)
    stop = threading.Event()

    def flip() -> None:
        while not stop.is_set():
            pages[-1] = 2**40
            pages[-1] = 0

    t = threading.Thread(target=flip)
    t.start()
    try:
        for _ in range(300):
            try:
                mem.serve(pages, times, 1, bins)
            except ValueError as e:
                assert "out of range" in str(e)
    finally:
        stop.set()
        t.join()
    mem.check()
    assert mem.pfn_of(0) == 0


@pytest.mark.parametrize("n", [0, 1])
def test_copies_keep_empty_and_single_calls(n: int) -> None:
    mem = _mem()
    assert mem.serve(np.zeros(n, dtype=np.uint32), np.zeros(n, dtype=np.int64), 1, np.zeros(1, np.int64)) == n
