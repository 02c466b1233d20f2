"""One test body for every queue design (BinaryHeap, QuaternaryHeap, BucketQueue).

The cases follow the kernel's lib/test_min_heap.c: known values with
duplicates and extremes; random fills to capacity; a popped sequence that is
monotone; a push onto a full queue refused; removal of elements at random
positions.  Each runs in max- and min-order, and hypothesis drives every
design against a sorted-list model.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pghot
from pghot.queues import QUEUE_CLASSES, BinaryHeap, BucketQueue, QuaternaryHeap

#: The queue designs share one API.
Queue = BinaryHeap | QuaternaryHeap | BucketQueue
QueueClass = type[BinaryHeap] | type[QuaternaryHeap] | type[BucketQueue]
MAX_KEY: dict[QueueClass, int] = {BinaryHeap: 0xFFFFFFFE, QuaternaryHeap: 0xFFFFFFFE, BucketQueue: 255}
DESIGNS: list[QueueClass] = [BinaryHeap, QuaternaryHeap, BucketQueue]


def make(cls: QueueClass, capacity: int, order: str = "max", max_key: int | None = None) -> Queue:
    return cls(capacity, order=order, max_key=MAX_KEY[cls] if max_key is None else max_key)


def drain(q: Queue) -> list[int]:
    out: list[int] = []
    while len(q):
        out.append(q.pop()[1])
        q.check()
    return out


def monotone(keys: list[int], order: str) -> bool:
    pairs = list(zip(keys, keys[1:]))
    return all(a >= b for a, b in pairs) if order == "max" else all(a <= b for a, b in pairs)


@pytest.mark.parametrize("order", ["max", "min"])
@pytest.mark.parametrize("cls", DESIGNS)
def test_known_values_with_duplicates_and_extremes(cls: QueueClass, order: str) -> None:
    top = MAX_KEY[cls]
    values = [3, 1, 2, 4, top, top - 1, 0, 3, 1, top, 0, 2]
    q = make(cls, len(values), order)
    for v in values:
        q.push(v)
        q.check()
    assert len(q) == len(values)
    expected = sorted(values, reverse=(order == "max"))
    first = q.peek()
    assert first is not None and first[1] == expected[0]
    assert drain(q) == expected
    assert q.peek() is None
    with pytest.raises(IndexError):
        q.pop()


@pytest.mark.parametrize("order", ["max", "min"])
@pytest.mark.parametrize("cls", DESIGNS)
def test_random_fill_to_capacity_then_full_push_refused(cls: QueueClass, order: str) -> None:
    rng = random.Random(7)
    cap = 1000
    q = make(cls, cap, order)
    keys = [rng.randint(0, MAX_KEY[cls]) for _ in range(cap)]
    for k in keys:
        q.push(k)
    q.check()
    with pytest.raises(IndexError):
        q.push(1)
    assert len(q) == cap  # the refused push changed nothing
    q.check()
    out = drain(q)
    assert monotone(out, order)
    assert sorted(out) == sorted(keys)


@pytest.mark.parametrize("order", ["max", "min"])
@pytest.mark.parametrize("cls", DESIGNS)
def test_remove_half_at_random_positions(cls: QueueClass, order: str) -> None:
    rng = random.Random(11)
    q = make(cls, 512, order)
    live: dict[int, int] = {}
    for _ in range(512):
        k = rng.randint(0, MAX_KEY[cls])
        live[q.push(k)] = k
    for h in rng.sample(sorted(live), 256):
        q.remove(h)
        del live[h]
        q.check()
    assert len(q) == 256
    out = drain(q)
    assert monotone(out, order)
    assert sorted(out) == sorted(live.values())


@pytest.mark.parametrize("cls", DESIGNS)
def test_update_moves_both_ways(cls: QueueClass) -> None:
    q = make(cls, 16, "max", max_key=100)
    hs = [q.push(k) for k in (10, 20, 30, 40)]
    q.update(hs[0], 99)  # sift up to the top
    assert q.peek() == (hs[0], 99)
    q.update(hs[0], 1)  # and back down
    q.check()
    assert q.peek() == (hs[3], 40)
    assert q.key(hs[0]) == 1
    assert drain(q) == [40, 30, 20, 1]


@pytest.mark.parametrize("cls", DESIGNS)
def test_bad_arguments(cls: QueueClass) -> None:
    q = make(cls, 2, max_key=10)
    with pytest.raises(ValueError, match="key"):
        q.push(11)
    with pytest.raises(ValueError, match="key"):
        q.push(-1)
    with pytest.raises(TypeError, match="key"):
        q.push(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="handle"):
        q.remove(0)  # never pushed
    h = q.push(3)
    with pytest.raises(ValueError, match="handle"):
        q.update(5, 1)
    with pytest.raises(ValueError, match="order"):
        cls(4, order="sideways")
    with pytest.raises(ValueError, match="capacity"):
        cls(-1)
    assert len(q) == 1 and q.key(h) == 3


def test_zero_capacity_queue_refuses() -> None:
    for cls in DESIGNS:
        q = make(cls, 0)
        with pytest.raises(IndexError):
            q.push(1)
        assert q.peek() is None and len(q) == 0


def test_bucket_queue_ties_pop_fifo() -> None:
    q = BucketQueue(8, max_key=3)
    hs = [q.push(2) for _ in range(4)]
    assert [q.pop()[0] for _ in range(4)] == hs


def test_queue_classes_cover_tracker_designs() -> None:
    topo = pghot.Topology.two_tier(16, 64)
    for name in QUEUE_CLASSES:
        assert pghot.Tracker(topo, queue=name).queue == name


ops = st.lists(
    st.tuples(st.sampled_from(["push", "pop", "update", "remove"]), st.integers(0, 15), st.integers(0, 63)),
    max_size=80,
)


@pytest.mark.parametrize("order", ["max", "min"])
@pytest.mark.parametrize("cls", DESIGNS)
@settings(deadline=None)
@given(program=ops)
def test_against_sorted_list_model(cls: QueueClass, order: str, program: list[tuple[str, int, int]]) -> None:
    q = make(cls, 12, order, max_key=15)
    model: dict[int, int] = {}  # handle -> key
    for op, key, pick in program:
        if op == "push":
            if len(model) == 12:
                with pytest.raises(IndexError):
                    q.push(key)
            else:
                model[q.push(key)] = key
        elif op == "pop":
            if not model:
                with pytest.raises(IndexError):
                    q.pop()
            else:
                h, k = q.pop()
                best = max(model.values()) if order == "max" else min(model.values())
                assert k == best and model.pop(h) == k
        elif model:
            h = sorted(model)[pick % len(model)]
            if op == "update":
                q.update(h, key)
                model[h] = key
            else:
                q.remove(h)
                del model[h]
        q.check()
        assert len(q) == len(model)
        top = q.peek()
        if model:
            assert top is not None
            assert top[1] == (max(model.values()) if order == "max" else min(model.values()))
            assert model[top[0]] == top[1]
        else:
            assert top is None


@pytest.mark.parametrize("cls", DESIGNS)
def test_push_many_pop_many_match_single_calls(cls: QueueClass) -> None:
    keys = np.random.default_rng(3).integers(0, 8, 300)
    q = cls(300, max_key=7)
    handles = q.push_many(keys)
    q.check()
    assert len(q) == 300 and sorted(handles.tolist()) == list(range(300))
    popped = q.pop_many(1000)  # more than held: stops when empty
    assert len(popped) == 300 and len(q) == 0
    assert monotone([int(keys[h]) for h in popped], "max")
    with pytest.raises(IndexError):
        q.push_many(np.zeros(301, dtype=np.int64))
    with pytest.raises(ValueError, match="keys"):
        q.push_many(np.array([8]))
    assert len(q) == 0  # refused batches pushed nothing
