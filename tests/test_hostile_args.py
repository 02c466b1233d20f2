"""Hostile argument values the stores refuse, or take at bounded cost.

Issue 9, item 11: masked arrays are refused (their mask would be dropped),
``bytearray``/``memoryview`` are treated like ``bytes``, a queue larger than
its table is refused, node-id maps cost O(number of nodes) whatever the
largest id, and a capacity too large for the machine is a ``MemoryError``
before any long initialisation.  Every refusal changes nothing.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import pghot
from pghot import Node, Outcome, Topology

STORES = ["hash", "kernel-v2", "pfn-array"]
TOPO = Topology.two_tier(64, 256)  # lower tier [64, 320)


def _tracker(store: str, topo: Topology = TOPO, **kw: Any) -> Any:
    return pghot.Tracker(topo, store=store, **kw)


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("arg", ["pfns", "nids", "srcs", "nows"])
def test_masked_arrays_are_refused(store: str, arg: str) -> None:
    t = _tracker(store)
    args: dict[str, Any] = {"pfns": np.array([100, 101]), "nids": -1, "srcs": 0, "nows": 5}
    args[arg] = np.ma.masked_array(np.array([100, 101]) if arg == "pfns" else [0, 0], mask=[False, True])
    before = t.stats()
    with pytest.raises(TypeError, match=f"{arg} must not be a masked array"):
        t.record_accesses(args["pfns"], args["nids"], args["srcs"], args["nows"])
    assert t.stats() == before
    with pytest.raises(TypeError, match="pfns must not be a masked array"):
        t.set_movable(np.ma.masked_array([100]), False)


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("junk", [b"\x64\x00", bytearray(b"\x64\x00"), memoryview(b"\x64\x00")])
def test_bytes_like_arguments_are_refused(store: str, junk: Any) -> None:
    t = _tracker(store)
    with pytest.raises(TypeError, match="pfns must be an integer array"):
        t.record_accesses(junk, -1, 0, 0)
    with pytest.raises(TypeError, match="pfns must be an integer array"):
        t.set_movable(junk, False)
    assert t.stats()["pghot_recorded_accesses"] == 0


@pytest.mark.parametrize("store", ["hash", "kernel-v2"])
def test_a_queue_larger_than_its_table_is_refused(store: str) -> None:
    with pytest.raises(ValueError, match="queue_capacity=11 exceeds capacity=10"):
        _tracker(store, capacity=10, queue_capacity=11)
    assert _tracker(store, capacity=10, queue_capacity=10).queue_capacity == 10


def test_the_reference_refuses_it_too() -> None:
    from pghot.model.reference import ReferenceTracker

    with pytest.raises(ValueError, match="queue_capacity=11 exceeds capacity=10"):
        ReferenceTracker(TOPO, capacity=10, queue_capacity=11)


def test_a_capacity_beyond_the_machine_is_a_memory_error_before_allocating() -> None:
    phys = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    cap = min(2**31, phys // 16 + 1)  # 16+ bytes a record: more than the machine has
    topo = Topology.two_tier(64, 2**32)
    with pytest.raises(MemoryError, match="more than this machine"):
        pghot.Tracker(topo, capacity=cap, queue_capacity=0)
    with pytest.raises(MemoryError, match="more than this machine"):
        pghot.Tracker(topo)  # the default: half of 2**32 lower-tier pages


@pytest.mark.parametrize(
    ("store", "huge"),
    # pfn-array's nid field is 10 bits wide: sparse ids below 1024 there
    [("hash", 2**29 + 3), ("kernel-v2", 2**29 + 3), ("pfn-array", 1000)],
)
def test_node_maps_cost_the_number_of_nodes_not_the_largest_id(store: str, huge: int) -> None:
    topo = Topology(
        [Node(0, 0, 64, True), Node(huge, 64, 256, False, has_cpu=True), Node(huge + 7, 320, 64, True)],
        default_node=huge + 7,
    )
    kw: dict[str, Any] = (
        {"mode": "precise"}
        if store == "pfn-array"
        else {"nid_bits": 30, "freq_bits": 1, "time_bits": 1, "freq_window_ms": 0}
    )
    t = _tracker(store, topo, threshold=1, **kw)
    assert t.memory_bytes() < 1 << 20  # not 2 GiB of int32 per node id
    # an access from the lower-tier node targets the default node
    assert t.record_access(100, huge, 0, 1) is Outcome.RECORDED
    assert t.record_accesses(np.array([101, 102]), np.array([huge + 7, 0]), 0, 1)[0] == 2
    with pytest.raises(ValueError, match="is not a node"):
        t.record_accesses(np.array([101]), np.array([huge + 1]), 0, 1)
    with pytest.raises(ValueError, match="is not a node"):
        t.record_access(101, huge - 1, 0, 1)
    with pytest.raises(ValueError, match="not a top-tier node"):
        t.extract_batch(huge)
    assert t.lookup(102).nid == 0 and t.lookup(100).nid == huge + 7
    got = t.extract_batch(huge + 7).tolist() + t.extract_batch(0).tolist()
    assert sorted(got) == [100, 101, 102]
    t.check()


# ------------------------------------------------------------ TieredMemory


def test_tiered_memory_refuses_masked_and_bytes_like_pages() -> None:
    mem = pghot.TieredMemory(TOPO)
    for junk in (np.ma.masked_array([1, 2], mask=[False, True]), bytearray(b"\x01"), memoryview(b"\x01")):
        with pytest.raises(TypeError, match="pages"):
            mem.allocate(junk)
    assert mem.stats() == pghot.TieredMemory(TOPO).stats()


def test_tiered_memory_pages_rewritten_during_a_call_never_reach_it(
    run_alongside: Callable[..., tuple[list[Any], Any]],
) -> None:
    """Copy first, validate the copy: access() sees the good pages or refuses the bad one."""
    mem = pghot.TieredMemory(TOPO)
    n = 300
    pages = np.arange(n, dtype=np.int64)
    mem.allocate(pages)

    def flip(done: threading.Event) -> None:
        while not done.is_set():
            pages[n - 1] = 10**9  # not a logical page
            pages[n - 1] = n - 1

    def access() -> None:
        for _ in range(3000):
            try:
                pfns = mem.access(pages)
            except ValueError as e:
                assert "pages" in str(e)
                continue
            assert len(pfns) == n and (pfns >= 0).all()

    run_alongside([access], flip)
    mem.check()


@pytest.mark.parametrize("store", ["kernel-v2", "pfn-array"])
def test_stores_without_snapshots_refuse_pickle_deliberately(store: str) -> None:
    import pickle

    with pytest.raises(TypeError, match="cannot be pickled or saved: only the 'hash' store"):
        pickle.dumps(_tracker(store))
