"""Snapshots: save/load and pickle restore a tracker that behaves identically."""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pghot
from pghot import _core


def busy_tracker(queue: str = "binary", seed: int = 1, **kw: Any) -> _core.Tracker:
    kw.setdefault("capacity", 3000)
    kw.setdefault("queue_capacity", 500)
    t = pghot.Tracker(
        pghot.Topology.two_tier(256, 8192), queue=queue, freq_window_ms=40, hz=100, time_bits=6, **kw
    )
    rng = np.random.default_rng(seed)
    n = 20000
    t.record_accesses(
        rng.integers(200, 5000, n), rng.integers(-1, 2, n), rng.integers(0, 3, n), np.arange(n) // 50
    )
    t.set_movable(np.arange(300, 320), False)
    t.extract_batch(0, 50)
    return t


def same_behaviour(a: _core.Tracker, b: _core.Tracker, seed: int) -> None:
    """Drive both trackers with one random program; every answer must match exactly."""
    rng = np.random.default_rng(seed)
    assert a.stats() == b.stats() and len(a) == len(b)
    for step in range(30):
        n = int(rng.integers(1, 400))
        args = (
            rng.integers(200, 6000, n),
            rng.integers(-1, 2, n),
            rng.integers(0, 3, n),
            400 + step * 7 + rng.integers(0, 5, n),
        )
        assert (a.record_accesses(*args) == b.record_accesses(*args)).all()
        if step % 3 == 0:
            k = int(rng.integers(0, 300))
            ra = a.extract_batch(0, k, return_records=True)
            rb = b.extract_batch(0, k, return_records=True)
            assert (ra == rb).all()  # same order too: the queues were rebuilt exactly
        p = int(rng.integers(256, 8448))
        assert a.lookup(p) == b.lookup(p)
    a.check()
    b.check()
    assert a.stats() == b.stats()


@pytest.mark.parametrize("queue", ["binary", "quaternary", "bucket"])
def test_pickle_round_trip_behaves_identically(queue: str) -> None:
    t = busy_tracker(queue)
    u = pickle.loads(pickle.dumps(t))
    u.check()
    assert type(u) is type(t) and u.queue == queue
    same_behaviour(t, u, seed=5)


@pytest.mark.parametrize("queue", ["binary", "bucket"])
def test_save_load_round_trip(tmp_path: Path, queue: str) -> None:
    t = busy_tracker(queue, evict_stale=True)
    path = tmp_path / "t.npz"
    t.save(path)
    u = pghot.Tracker.load(path)
    assert u.evict_stale and u.capacity == t.capacity and u.topology == t.topology
    same_behaviour(t, u, seed=9)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), queue=st.sampled_from(["binary", "quaternary", "bucket"]))
def test_round_trip_property(seed: int, queue: str) -> None:
    t = busy_tracker(queue, seed=seed)
    same_behaviour(t, pickle.loads(pickle.dumps(t)), seed=seed + 1)


def test_save_is_atomic_and_leaves_no_temporary(tmp_path: Path) -> None:
    t = busy_tracker()
    path = tmp_path / "t.npz"
    t.save(path)
    before = path.read_bytes()
    # a failing save (unpicklable path directory) must leave the old file intact
    with pytest.raises(OSError):
        t.save(tmp_path / "missing-dir" / "t.npz")
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["t.npz"]


def write_state(path: Path, state: dict[str, Any]) -> None:
    with open(path, "wb") as f:
        np.savez(f, **state)


@pytest.mark.parametrize(
    "damage",
    ["truncate", "garbage", "version", "format", "missing", "shape", "queue-slot", "counts", "word"],
)
def test_bad_snapshots_give_value_error(tmp_path: Path, damage: str) -> None:
    t = busy_tracker()
    path = tmp_path / "t.npz"
    t.save(path)
    raw = path.read_bytes()
    state = t._state()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00\xff" * 5000)
    else:
        if damage == "version":
            state["version"] = np.array(99)
        elif damage == "format":
            state["format"] = np.array("something-else")
        elif damage == "missing":
            del state["rec_word"]
        elif damage == "shape":
            state["rec_pfn"] = state["rec_pfn"][:-1]
        elif damage == "queue-slot":
            state["queue_slots"] = state["queue_slots"].copy()
            state["queue_slots"][0] = 10**9
        elif damage == "counts":
            state["shard_counters"] = state["shard_counters"].copy()
            state["shard_counters"][0, 0] += 1
        elif damage == "word":
            w = state["rec_word"].copy()
            occupied = np.flatnonzero(state["rec_pfn"] != np.uint64(2**64 - 1))
            w[occupied[0]] = 0  # frequency 0: impossible record
            state["rec_word"] = w
        write_state(path, state)
    with pytest.raises(ValueError, match=str(path)):
        pghot.Tracker.load(path)


def test_load_missing_file_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        pghot.Tracker.load(tmp_path / "nope.npz")


def test_snapshot_version_is_exposed() -> None:
    assert _core.SNAPSHOT_VERSION == 1
    state: dict[str, Any] = busy_tracker()._state()
    assert int(state["version"]) == 1 and str(state["store"]) == "hash"
    buf = io.BytesIO()
    np.savez(buf, **state)
    assert zipfile.is_zipfile(io.BytesIO(buf.getvalue()))
