"""Fuzzing the public API of the compiled core: no input crashes it.

Random programs of calls with random arguments -- valid values, huge and
negative integers, numpy scalars, floats, ``None``, strings, arrays of every
integer dtype, non-contiguous, read-only, byte-swapped, empty, 0-d and 2-D
arrays, other dtypes, mismatched lengths -- are run against

- ``pghot.Tracker``: every store (``"hash"`` with each queue design,
  ``"kernel-v2"``, ``"pfn-array"``), several topologies and widths;
- corrupted tracker snapshots (``Tracker.load`` on a damaged state),
- the stand-alone queues of ``pghot.queues``;
- several threads at once on one sharded tracker of each store
  (``test_fuzz_threads``), each making random valid and hostile calls.

Every call either succeeds or raises ``TypeError``/``ValueError`` (the
queues may also raise ``IndexError`` for a push onto a full queue and a pop
from an empty one, as documented); anything else, or a crash, fails.  A
failed call changes nothing: the tracker's whole state (``_state()``: table,
queues, counters, movable bits, where the store has it), every lower-tier
PFN's record, ``stats()``, ``len()`` and the queue lengths are compared
before and after.  ``check()`` passes after every call, and no table or
queue holds more than its capacity.

Duration: ``PGHOT_FUZZ_SECONDS`` in all, shared by the targets below; each
target reruns its hypothesis test until its share is spent.  Default 3 s, or
30 s under ``PGHOT_HYPOTHESIS_PROFILE=ci`` (the CI run); ``scripts/fuzz.sh``
runs the 5-minute one.
"""

from __future__ import annotations

import functools
import os
import pickle
import time
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

import pghot
from pghot import RECORD_DTYPE, Node, Outcome, Record, Source, Topology
from pghot._core import Tracker as CoreTracker
from pghot.queues import QUEUE_CLASSES
from pghot.tracker import STORES

# seconds in all; default 3, or 30 under the CI hypothesis profile
FUZZ_SECONDS = float(
    os.environ.get("PGHOT_FUZZ_SECONDS", "30" if os.environ.get("PGHOT_HYPOTHESIS_PROFILE") == "ci" else "3")
)
# Share of the budget of each target.
SHARE = {"tracker": 0.5, "snapshot": 0.15, "queues": 0.2, "threads": 0.15}

ALLOWED = (TypeError, ValueError)

ROUND = settings(
    # a round is one hypothesis run; long budgets get longer rounds
    max_examples=30 if FUZZ_SECONDS < 60 else 200,
    deadline=None,
    database=None,
    derandomize=False,
    print_blob=True,
    phases=[Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)


def run_for(seconds: float, round_: Callable[[], None]) -> int:
    """Run a hypothesis test again and again until ``seconds`` have passed."""
    end = time.monotonic() + seconds
    rounds = 0
    while True:
        round_()
        rounds += 1
        if time.monotonic() >= end:
            return rounds


# -- argument values ------------------------------------------------------------------

HUGE = [
    2**31 - 1,
    2**31,
    2**32 - 1,
    2**32,
    2**63 - 1,
    2**63,
    2**64 - 1,
    2**64,
    2**100,
    -1,
    -2,
    -(2**31),
    -(2**63),
    -(2**63) - 1,
    -(2**64),
    -(2**100),
]
NP_INT = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
INT_DTYPES = ["i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", ">i8", ">u4", ">i2", "<u8"]
JUNK: list[Any] = [
    None,
    "1",
    "",
    b"1",
    1.0,
    1.5,
    -0.0,
    float("nan"),
    float("inf"),
    1j,
    [],
    [1],
    (1,),
    {1: 2},
    {1},
    object(),
    np.float64(2.0),
    np.float32(1.0),
    np.bool_(True),
    np.bool_(False),
    True,
    False,
    np.datetime64(1, "s"),
    np.timedelta64(1, "s"),
    Decimal(1),
    Fraction(1, 1),
    range(3),
    slice(1),
    np.array([1.5]),
    np.array(["a"]),
]


def np_scalar(values: st.SearchStrategy[int]) -> st.SearchStrategy[Any]:
    """A numpy integer scalar holding one of ``values`` (where its type can)."""

    def wrap(t: Any, v: int) -> Any:
        info = np.iinfo(t)
        return t(v) if info.min <= v <= info.max else t(info.max)

    return st.builds(wrap, st.sampled_from(NP_INT), values)


def scalar(valid: st.SearchStrategy[Any], bad: bool = True) -> st.SearchStrategy[Any]:
    """``valid``, or when ``bad`` mostly anything an int argument may be handed."""
    if not bad:
        return valid
    weird = st.one_of(
        st.sampled_from(HUGE),
        st.integers(),
        np_scalar(st.integers(-(2**64), 2**64)),
        st.sampled_from(JUNK),
        st.floats(),
        st.sampled_from([Source.HW_HINTS, Source.HINT_FAULT, Outcome.TABLE_FULL]),
        np_scalar(st.integers(0, 3)).map(lambda v: np.array(v)),  # 0-d array
    )
    return st.integers(0, 9).flatmap(lambda k: valid if k < 2 else weird)


def boolean(bad: bool = True) -> st.SearchStrategy[Any]:
    good = st.sampled_from([True, False, np.bool_(True), np.bool_(False)])
    if not bad:
        return good
    return st.integers(0, 9).flatmap(
        lambda k: good if k < 3 else st.sampled_from([0, 1, None, "True", 1.0, np.int8(1), [True]])
    )


def fit(vals: list[int]) -> Any:
    """``vals`` as an int64 or uint64 array, or a list where neither holds them."""
    for d in ("i8", "u8"):
        info = np.iinfo(d)
        if all(info.min <= v <= info.max for v in vals):
            return np.array(vals, dtype=d)
    return list(vals)


@st.composite
def int_array(draw: Any, n: int, values: st.SearchStrategy[int], scalar_ok: bool, bad: bool = True) -> Any:
    """An array argument of length ``n``: valid in many layouts, or when ``bad`` broken."""
    vals = draw(st.lists(values, min_size=n, max_size=n))
    kind = draw(st.integers(10, 19) if bad else st.integers(0, 10 if scalar_ok else 9))
    if kind == 10 and scalar_ok and not bad:
        return draw(st.sampled_from(vals)) if vals else draw(values)
    if kind <= 9:  # valid values, any integer dtype that holds them, any layout
        ok = [
            d
            for d in INT_DTYPES
            if not vals or (np.iinfo(d).min <= min(vals) and max(vals) <= np.iinfo(d).max)
        ]
        if not ok:
            return vals  # a list of Python ints
        a = np.array(vals, dtype=draw(st.sampled_from(ok)))
        layout = draw(
            st.sampled_from(["plain", "strided", "readonly", "list", "tuple", "reversed", "fortran"])
        )
        if layout == "strided":
            a = np.repeat(a, 2)[::2]
        elif layout == "readonly":
            a.flags.writeable = False
        elif layout == "list":
            return a.tolist()
        elif layout == "tuple":
            return tuple(a.tolist())
        elif layout == "reversed":
            a = a[::-1].copy()[::-1]
        elif layout == "fortran":
            a = np.asfortranarray(np.stack([a, a], axis=1))[:, 0]
        return a
    if kind == 10 and scalar_ok:
        return draw(scalar(values))
    if kind == 11:  # a length that differs from pfns'
        return fit(draw(st.lists(values, min_size=0, max_size=n + 3)))
    if kind == 12:  # 2-D
        a = np.asarray(fit(vals))
        return a.reshape(1, -1) if draw(st.booleans()) else np.stack([a, a])
    if kind == 13:  # other dtypes
        dt = draw(st.sampled_from(["f8", "f4", "?", "O", "U3", "c16", "m8[s]", "V8"]))
        try:
            return np.asarray(fit(vals)).astype(dt)
        except (TypeError, ValueError):
            return np.zeros(n, dtype=dt)
    if kind == 14:  # out-of-range elements
        elems: list[Any] = list(vals) or [0]
        elems[draw(st.integers(0, len(elems) - 1))] = draw(st.sampled_from(HUGE))
        return elems if draw(st.booleans()) else np.array(elems, dtype=object)
    if kind == 15:
        return np.empty(0, dtype=draw(st.sampled_from(INT_DTYPES + ["f8"])))
    if kind == 16:  # 0-d array
        return np.array(vals[0] if vals else 0)
    if kind == 17:  # ragged or mixed lists
        return draw(st.sampled_from([[1, [2]], [1, None], [1, "2"], [[1], [1, 2]], [1.5, 2]]))
    return draw(st.sampled_from(JUNK))


# -- the tracker ------------------------------------------------------------------------

#: The topologies of the fuzz rounds: ``two_tier``, ``two_top`` and
#: ``four_nodes`` are conftest.py's fixtures (the ``topologies`` fixture below
#: adds them); these two are the fuzzer's own.
FUZZ_TOPOLOGIES = {
    # an empty lower node, a gap in the node ids (2 is not a node), node 5
    "sparse": Topology(
        [Node(0, 0, 32, True), Node(1, 32, 0, False), Node(3, 1000, 200, False), Node(5, 5000, 8, True)],
        default_node=5,
    ),
    # the lower tier at the very top of the PFN space
    "high_pfns": Topology(
        [Node(0, 0, 16, True), Node(1, 2**63 - 160, 160, False, has_cpu=False)],
        default_node=0,
    ),
}
TOPOLOGY_NAMES = ("four_nodes", "high_pfns", "sparse", "two_tier", "two_top")


@pytest.fixture(scope="module")
def topologies(two_tier: Topology, two_top: Topology, four_nodes: Topology) -> dict[str, Topology]:
    return {"two_tier": two_tier, "two_top": two_top, "four_nodes": four_nodes, **FUZZ_TOPOLOGIES}


def pfn_values(topo: Topology, lower_only: bool = False) -> st.SearchStrategy[int]:
    """PFNs: mostly lower-tier ones, then top-tier, offline and extreme ones."""
    ranges = [(n.start_pfn, n.end_pfn) for n in topo.nodes if n.nr_pages]
    lower = [r for n, r in zip([n for n in topo.nodes if n.nr_pages], ranges) if not n.toptier]
    last = max(e for _, e in ranges)
    lower_pfn = st.sampled_from(lower).flatmap(lambda r: st.integers(r[0], r[1] - 1))
    if lower_only:
        return lower_pfn
    return st.one_of(
        lower_pfn,
        lower_pfn,
        lower_pfn,
        st.sampled_from(ranges).flatmap(lambda r: st.integers(r[0], r[1] - 1)),
        st.integers(last, last + 50),  # offline
        st.sampled_from([0, 2**63 - 1, last - 1]),
    )


@st.composite
def tracker_config(draw: Any) -> dict[str, Any]:
    freq_bits = draw(st.sampled_from([1, 2, 3, 4]))
    nid_bits = draw(st.sampled_from([3, 10]))
    cap = draw(st.sampled_from([None, 0, 1, 2, 7, 40, 150]))
    qcap = draw(st.sampled_from([None, 0, 1, 3, 20]))
    if cap is not None and qcap is not None:
        qcap = min(qcap, cap)  # a larger one is refused
    return {
        "hz": draw(st.sampled_from([10, 100, 1000])),
        "freq_window_ms": draw(st.sampled_from([0, 10, 200])),
        "threshold": draw(st.integers(1, 2**freq_bits - 1)),
        "freq_bits": freq_bits,
        "nid_bits": nid_bits,
        "time_bits": min(draw(st.sampled_from([8, 12, 19])), 32 - freq_bits - nid_bits),
        "capacity": cap,
        "queue_capacity": qcap,
        "queue": draw(st.sampled_from(sorted(QUEUE_CLASSES))),
        "evict_stale": draw(st.booleans()),
    }


@st.composite
def pfnarray_config(draw: Any) -> dict[str, Any]:
    return {
        "mode": draw(st.sampled_from(["precise", "default"])),
        "hz": draw(st.sampled_from([10, 100, 1000])),
        "freq_window_ms": draw(st.sampled_from([None, 0, 10, 200])),
        "threshold": draw(st.integers(1, 3)),
        "scan_section_pages": draw(st.sampled_from([1, 2, 64, 32768])),
    }


#: store -> its configurations (every queue design of the stores that have them)
STORE_CONFIGS = {
    name: cfg
    for name, cfg in [
        ("hash", tracker_config()),
        ("kernel-v2", tracker_config().map(lambda c: {**c, "queue": "binary"})),  # v2's only
        ("pfn-array", pfnarray_config()),
    ]
}
assert set(STORE_CONFIGS) == set(STORES), "every store is fuzzed"


def config() -> st.SearchStrategy[dict[str, Any]]:
    """A store and a valid configuration of it, as ``pghot.Tracker`` keywords."""
    return st.sampled_from(sorted(STORE_CONFIGS)).flatmap(
        lambda store: STORE_CONFIGS[store].map(lambda cfg: {"store": store, **cfg})
    )


def state_of(t: Any) -> dict[str, Any]:
    """Everything observable: the snapshot arrays where the store has them,
    every lower-tier PFN's record, stats, len, queue lengths."""
    s: dict[str, Any] = {}
    if hasattr(t, "_state"):
        s = {k: np.asarray(v).copy() for k, v in t._state().items()}
    s["records"] = [
        t.lookup(p) for n in t.topology.nodes if not n.toptier for p in range(n.start_pfn, n.end_pfn)
    ]
    s["stats"] = t.stats()
    s["len"] = len(t)
    s["queued"] = [t.queued(n) for n in t.topology.toptier_nids()]
    return s


def same_state(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if a.keys() != b.keys():
        return False
    for k in a:
        if isinstance(a[k], np.ndarray):
            if a[k].shape != b[k].shape or not np.array_equal(a[k], b[k]):
                return False
        elif a[k] != b[k]:
            return False
    return True


def invariants(t: Any) -> None:
    t.check()
    s = t.stats()
    assert len(t) == s["records"] <= t.capacity
    qs = [t.queued(n) for n in t.topology.toptier_nids()]
    assert all(0 <= q <= t.queue_capacity for q in qs)
    assert sum(qs) == s["queued"]
    outcomes = s["recorded"] + s["toptier"] + s["not_movable"] + s["table_full"]
    assert s["pghot_recorded_accesses"] == outcomes


# call -> weight
OPS = {
    "record_access": 6,
    "record_accesses": 6,
    "extract_batch": 4,
    "lookup": 2,
    "set_movable": 2,
    "queued": 2,
    "read": 1,
    "pickle": 1,
    "construct": 1,
}
OP_LIST = [op for op, w in OPS.items() for _ in range(w)]


def draw_call(data: Any, t: Any, topo: Topology, now: int) -> tuple[str, tuple, dict]:
    """One call: its name, positional and keyword arguments."""
    op = data.draw(st.sampled_from(OP_LIST), label="op")
    # Which arguments are broken: none in 60 % of the calls.
    if data.draw(st.integers(0, 9), label="broken?") < 6:
        bad: Any = frozenset()
    else:
        bad = data.draw(st.frozensets(st.integers(0, 3), min_size=1), label="broken")
    pfn = pfn_values(topo)
    nids = [-1] + [n.nid for n in topo.nodes]
    nid = st.integers(0, 9).flatmap(lambda k: st.sampled_from(nids) if k else st.integers(-3, max(nids) + 3))
    src = st.integers(0, 9).flatmap(lambda k: st.integers(0, 2) if k else st.integers(-1, 4))
    # array elements: valid ones (kind 14 of int_array puts a bad one in)
    nid_el, src_el = st.sampled_from(nids), st.integers(0, 2)
    when = st.integers(max(0, now - 5), now + 300) | st.sampled_from([0, 2**63 - 1])
    tops = st.integers(0, 9).flatmap(
        lambda k: st.sampled_from(list(topo.toptier_nids())) if k else st.integers(-1, max(nids) + 2)
    )
    if op == "record_access":
        return (
            op,
            (
                data.draw(scalar(pfn, 0 in bad), label="pfn"),
                data.draw(scalar(nid, 1 in bad), label="nid"),
                data.draw(scalar(src, 2 in bad), label="src"),
                data.draw(scalar(when, 3 in bad), label="now"),
            ),
            {},
        )
    if op == "record_accesses":
        n = data.draw(st.integers(0, 12) | st.integers(0, 400), label="n")
        args = (
            data.draw(int_array(n, pfn, False, 0 in bad), label="pfns"),
            data.draw(int_array(n, nid_el, True, 1 in bad), label="nids"),
            data.draw(int_array(n, src_el, True, 2 in bad), label="srcs"),
            data.draw(int_array(n, when, True, 3 in bad), label="nows"),
        )
        return op, args, {}
    if op == "extract_batch":
        kw: dict[str, Any] = {}
        if data.draw(st.booleans()):
            kw["max_count"] = data.draw(scalar(st.integers(0, 50), 1 in bad), label="max_count")
        if data.draw(st.booleans()):
            kw["threshold"] = data.draw(
                st.none() | scalar(st.integers(1, 2**t.freq_bits - 1), 2 in bad), label="threshold"
            )
        if data.draw(st.booleans()):
            kw["return_records"] = data.draw(boolean(3 in bad), label="return_records")
        return op, (data.draw(scalar(tops, 0 in bad), label="nid"),), kw
    if op == "lookup":
        return op, (data.draw(scalar(pfn, 0 in bad), label="pfn"),), {}
    if op == "set_movable":
        n = data.draw(st.integers(0, 6), label="n")
        pf = data.draw(
            int_array(
                n, pfn_values(topo, lower_only=True) if data.draw(st.integers(0, 4)) else pfn, True, 0 in bad
            ),
            label="pfns",
        )
        return op, (pf, data.draw(boolean(1 in bad), label="flag")), {}
    if op == "queued":
        return op, (data.draw(scalar(tops, 0 in bad), label="nid"),), {}
    if op == "construct":
        cfg = data.draw(config(), label="config")
        key = data.draw(st.sampled_from(sorted(cfg)), label="bad_key")
        cfg[key] = data.draw(scalar(st.just(cfg[key])), label="bad_value")
        # a valid huge capacity would really allocate it: keep to the bounds
        for name, limit in (("capacity", 2**31), ("queue_capacity", 2**32 - 2)):
            try:
                if 10**4 < int(cfg.get(name) or 0) <= limit:
                    cfg[name] = limit + 1
            except (TypeError, ValueError, OverflowError):
                pass
        return op, (data.draw(st.sampled_from([topo] * 6 + [None, "topo", 0]), label="topology"),), cfg
    return op, (), {}


def check_result(t: Any, op: str, args: tuple, kw: dict, result: Any, before: dict) -> Any:
    """Assertions on a call that succeeded; returns the tracker to go on with."""
    after = t.stats()
    if op == "record_access":
        assert isinstance(result, Outcome)
        assert after["pghot_recorded_accesses"] == before["stats"]["pghot_recorded_accesses"] + 1
    elif op == "record_accesses":
        n = len(np.asarray(args[0]))
        assert isinstance(result, np.ndarray) and result.dtype == np.int64
        assert result.shape == (4,) and int(result.sum()) == n and (result >= 0).all()
        assert after["pghot_recorded_accesses"] == before["stats"]["pghot_recorded_accesses"] + n
    elif op == "extract_batch":
        max_count = int(kw.get("max_count", 1024))
        thr = kw.get("threshold")
        thr = t.threshold if thr is None else int(thr)
        if kw.get("return_records", False):
            assert result.dtype == RECORD_DTYPE
            pfns = result["pfn"]
            freq = result["frequency"].astype(np.int64)
            if type(t).__module__ != "pghot._pfnarray":  # it scans, in PFN order
                assert (freq >= thr).all() and (np.diff(freq) <= 0).all()
        else:
            assert result.dtype == np.uint64 and result.ndim == 1
            pfns = result
        assert len(pfns) <= max_count
        assert after["extracted"] == before["stats"]["extracted"] + len(pfns)
        assert all(t.lookup(int(p)) is None for p in pfns)
    elif op == "lookup":
        if result is not None:
            assert isinstance(result, Record) and result.pfn == int(args[0])
            assert 1 <= result.frequency < 2**t.freq_bits
    elif op == "set_movable":
        assert result is None and after == before["stats"] and len(t) == before["len"]
    elif op == "queued":
        assert 0 <= result <= t.queue_capacity
    elif op == "pickle":
        assert result.stats() == after and len(result) == len(t)
        assert same_state(state_of(result), state_of(t))
        return result
    elif op == "construct":
        invariants(result)
        assert len(result) == 0
    return t


def call(t: Any, op: str, args: tuple, kw: dict) -> Any:
    if op == "read":
        repr(t)
        t.memory_bytes()
        for name in (
            "topology",
            "hz",
            "freq_window_ms",
            "window_jiffies",
            "threshold",
            "freq_bits",
            "nid_bits",
            "time_bits",
            "capacity",
            "queue_capacity",
            "queue",
            "evict_stale",
            "mode",
            "scan_section_pages",
        ):
            if hasattr(type(t), name):
                getattr(t, name)
        return None
    if op == "pickle":
        return pickle.loads(pickle.dumps(t))
    if op == "construct":
        return pghot.Tracker(*args, **kw)
    return getattr(t, op)(*args, **kw)


@settings(ROUND)
@given(data=st.data(), topo_name=st.sampled_from(TOPOLOGY_NAMES), cfg=config())
def _tracker_round(data: Any, topo_name: str, cfg: dict[str, Any], topologies: dict[str, Topology]) -> None:
    topo = topologies[topo_name]
    t = pghot.Tracker(topo, **cfg)
    invariants(t)
    now = 0
    for _ in range(data.draw(st.integers(1, 40), label="steps")):
        op, args, kw = draw_call(data, t, topo, now)
        before = state_of(t)
        try:
            result = call(t, op, args, kw)
        except ALLOWED as e:
            note(f"{op} raised {type(e).__name__}: {e}")
            assert same_state(state_of(t), before), f"failed {op} changed the tracker"
        else:
            t = check_result(t, op, args, kw, result, before)
        invariants(t)
        now += data.draw(st.integers(0, 40), label="tick")


def test_fuzz_tracker(topologies: dict[str, Topology]) -> None:
    run_for(FUZZ_SECONDS * SHARE["tracker"], functools.partial(_tracker_round, topologies=topologies))


# -- snapshots -------------------------------------------------------------------------


def busy(cfg: dict[str, Any], topo: Topology, seed: int) -> Any:
    t = pghot.Tracker(topo, **cfg)
    rng = np.random.default_rng(seed)
    lower = [n for n in topo.nodes if not n.toptier and n.nr_pages]
    n = 600
    node = lower[int(rng.integers(len(lower)))]
    pfns = node.start_pfn + rng.integers(0, node.nr_pages, n)
    t.record_accesses(pfns, -1, rng.integers(0, 3, n), np.arange(n) // 8)
    return t


NUMERIC_STATE = [
    "rec_pfn",
    "rec_word",
    "shard_counters",
    "counters",
    "queue_slots",
    "queue_keys",
    "queue_sizes",
    "unmovable",
]


@st.composite
def damage(draw: Any, state: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``state`` with a few random corruptions, mostly of single values."""
    s = {k: np.asarray(v).copy() for k, v in state.items()}
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.integers(0, 19))
        if how < 14:  # one element of a numeric array: another value, or a swap
            keys = [k for k in NUMERIC_STATE if k in s and s[k].dtype.kind in "iu" and s[k].size]
            if not keys:
                continue
            key = draw(st.sampled_from(keys))
            flat = s[key].reshape(-1)
            i = draw(st.integers(0, flat.size - 1))
            j = draw(st.integers(0, flat.size - 1))
            info = np.iinfo(flat.dtype)
            old = int(flat[i])
            v = draw(
                st.one_of(
                    st.integers(info.min, info.max),
                    st.sampled_from([info.max, info.min, 0, 1, 2, 7]),
                    st.integers(-3, 3).map(functools.partial(int.__add__, old)),
                    st.just(int(flat[j])),
                )
            )
            if draw(st.booleans()) and how < 4:
                flat[i], flat[j] = flat[j], flat[i]
            else:
                flat[i] = min(max(v, info.min), info.max)
            continue
        key = draw(st.sampled_from(sorted(s)))
        a = s[key]
        if how == 14 and key in ("config", "topology"):  # one character of the JSON
            text = str(a)
            i = draw(st.integers(0, max(0, len(text) - 1)))
            text = text[:i] + draw(st.sampled_from(["0", "9", "-", "[", "}", "", " "])) + text[i + 1 :]
            s[key] = np.array(text)
        elif how == 15:
            del s[key]
        elif how == 16:  # another dtype
            try:
                s[key] = a.astype(draw(st.sampled_from(["i8", "u4", "f8", "U5", "O"])))
            except (TypeError, ValueError):
                s[key] = a.astype("O")
        elif how == 17 and a.ndim and a.size:  # a shorter or longer array
            s[key] = a[:-1] if draw(st.booleans()) else np.concatenate([a, a[:1]])
        elif how == 18:  # a 0-d or 2-D array
            s[key] = np.array(0) if a.ndim else np.stack([a, a])
        elif how == 19:
            s[key] = np.array(draw(st.sampled_from(["", "{}", "[]", "null", "7", '{"hz": -1}'])))
    return s


@settings(ROUND)
@given(
    data=st.data(),
    topo_name=st.sampled_from(["two_top", "four_nodes", "sparse"]),
    cfg=tracker_config(),
    seed=st.integers(0, 2**16),
)
def _snapshot_round(
    data: Any, topo_name: str, cfg: dict[str, Any], seed: int, topologies: dict[str, Topology]
) -> None:
    if cfg["capacity"] == 0:
        cfg["capacity"] = 40
    t = busy(cfg, topologies[topo_name], seed)
    state = data.draw(damage(t._state()), label="state")
    try:
        u = CoreTracker._from_state(state)
    except ValueError as e:
        note(f"rejected: {e}")
        return
    invariants(u)  # accepted: a tracker that keeps every invariant, and works
    u.record_accesses(np.arange(0, 6000, 7), -1, 0, 10**6)
    u.extract_batch(u.topology.toptier_nids()[0], 50)
    invariants(u)


def test_fuzz_snapshots(topologies: dict[str, Topology]) -> None:
    run_for(FUZZ_SECONDS * SHARE["snapshot"], functools.partial(_snapshot_round, topologies=topologies))


def test_damaged_snapshot_file_gives_value_error(tmp_path: Any, two_top: Topology) -> None:
    """The file path of the same check: what load() reads is any bytes."""
    t = busy({"capacity": 60, "queue_capacity": 9}, two_top, 3)
    path = tmp_path / "t.npz"
    t.save(path)
    raw = bytearray(path.read_bytes())
    rng = np.random.default_rng(0)
    for _ in range(40):
        bad = bytearray(raw)
        for i in rng.integers(0, len(bad), 4):
            bad[i] ^= 1 << int(rng.integers(8))
        path.write_bytes(bytes(bad))
        try:
            u = pghot.Tracker.load(path)
        except ValueError:
            continue
        invariants(u)


def _flip_zip_header_bit(raw: bytes, signature: bytes, offset: int) -> bytes:
    """``raw`` with bit 0 of the byte at ``offset`` of the first ``signature`` record."""
    b = bytearray(raw)
    b[b.index(signature) + offset] ^= 1
    return bytes(b)


@pytest.mark.parametrize("field_offset", [8, 10], ids=["flags", "method"])
def test_one_bit_in_the_zip_directory_gives_value_error(
    tmp_path: Any, two_tier: Topology, field_offset: int
) -> None:
    # Found by fuzzing: zipfile raises RuntimeError for the "encrypted" flag
    # and NotImplementedError for an unknown compression method, which load()
    # let through.  Central directory record "PK\1\2": general purpose flags
    # at offset 8 (bit 0: encrypted), compression method at offset 10
    # (0 -> 1: "shrunk").
    t = pghot.Tracker(two_tier)
    path = tmp_path / "t.npz"
    t.save(path)
    path.write_bytes(_flip_zip_header_bit(path.read_bytes(), b"PK\x01\x02", field_offset))
    with pytest.raises(ValueError):
        pghot.Tracker.load(path)


# -- the stand-alone queues ------------------------------------------------------------

Q_OPS = ["push", "pop", "update", "remove", "peek", "key", "contains", "read"]


@settings(ROUND)
@given(
    data=st.data(),
    name=st.sampled_from(sorted(QUEUE_CLASSES)),
    capacity=st.integers(0, 12),
    order=st.sampled_from(["max", "min"]),
    max_key=st.sampled_from([0, 1, 7, 255, 65535]),
)
def _queue_round(data: Any, name: str, capacity: int, order: str, max_key: int) -> None:
    cls = QUEUE_CLASSES[name]
    # the constructor with one argument possibly broken
    ctor: dict[str, Any] = {"capacity": capacity, "order": order, "max_key": max_key}
    key_ = data.draw(st.sampled_from(sorted(ctor)), label="ctor_key")
    ctor[key_] = data.draw(scalar(st.just(ctor[key_])), label="ctor_value")
    for k in ("capacity", "max_key"):
        try:
            if 2**21 < int(ctor[k]) <= 2**31:  # valid but would really allocate it
                ctor[k] = -1
        except (TypeError, ValueError, OverflowError):
            pass
    try:
        cls(ctor.pop("capacity"), **ctor)
    except ALLOWED:
        pass
    q = cls(capacity, order=order, max_key=max_key)
    model: dict[int, int] = {}
    handle = st.one_of(st.integers(-2, capacity + 2), st.sampled_from([2**32, 2**64, -(2**63)]))
    key = st.integers(0, max_key) | st.integers(-3, max_key + 3)

    def check() -> None:
        q.check()
        assert len(q) == len(model)
        for h, k in model.items():
            assert h in q and q.key(h) == k
        top = q.peek()
        if model:
            best = max(model.values()) if order == "max" else min(model.values())
            assert top is not None and top[1] == best and model[top[0]] == best
        else:
            assert top is None

    for _ in range(data.draw(st.integers(1, 40), label="steps")):
        op = data.draw(st.sampled_from(Q_OPS), label="op")
        if model and data.draw(st.booleans()):
            h = data.draw(st.sampled_from(sorted(model)))
        else:
            h = data.draw(scalar(handle), label="handle")
        k = data.draw(scalar(key), label="key")
        saved = dict(model)
        try:
            if op == "push":
                got = q.push(k)
                assert got not in model and 0 <= got < capacity
                model[got] = int(k)
            elif op == "pop":
                got_h, got_k = q.pop()
                assert model.pop(got_h) == got_k
            elif op == "update":
                q.update(h, k)
                model[int(h)] = int(k)
            elif op == "remove":
                q.remove(h)
                del model[int(h)]
            elif op == "peek":
                q.peek()
            elif op == "key":
                assert q.key(h) == model[int(h)]
            elif op == "contains":
                assert (h in q) == (isinstance(h, int) and int(h) in model)
            else:
                assert q.capacity == capacity and q.order == order
                assert q.memory_bytes() > 0
        except IndexError:
            assert (op == "push" and len(saved) == capacity) or (op == "pop" and not saved)
            assert model == saved
        except ALLOWED:
            assert model == saved
        check()


def test_fuzz_queues() -> None:
    run_for(FUZZ_SECONDS * SHARE["queues"], _queue_round)


UNINIT_QUEUE_CALLS = [
    "len(q)",
    "q.push(1)",
    "q.pop()",
    "q.peek()",
    "q.update(0, 1)",
    "q.remove(0)",
    "q.key(0)",
    "0 in q",
    "q.check()",
    "q.memory_bytes()",
    "q.capacity",
    "q.order",
]


@pytest.mark.parametrize("name", sorted(QUEUE_CLASSES))
def test_uninitialised_queue_raises_instead_of_crashing(name: str) -> None:
    cls = QUEUE_CLASSES[name]
    q = cls.__new__(cls)
    for expr in UNINIT_QUEUE_CALLS:
        try:
            eval(expr, {"q": q})
        except (RuntimeError, TypeError, ValueError):
            pass
    q.__init__(4)  # type: ignore[misc]
    q.push(1)
    q.check()


# -- several threads on one sharded tracker -------------------------------------------

#: a lower tier large enough for a table of 8+ shards: ``make_two_top(1 << 18)``
SHARDED_LOWER = (1024, 1024 + (1 << 18))


def _thread_fuzzer(t: Any, seed: int, end: float, totals: np.ndarray, errors: list) -> None:
    """Random calls until ``end``; successful batches' outcomes added to ``totals``.

    numpy's generator, not hypothesis: hypothesis draws are not thread-safe.
    A hostile call must raise TypeError/ValueError; anything else is an error.
    """
    rng = np.random.default_rng(seed)
    lo, hi = SHARDED_LOWER
    hot = lo + rng.integers(0, 20_000)
    now = 0
    try:
        while time.monotonic() < end:
            now += int(rng.integers(0, 30))
            op = int(rng.integers(0, 10))
            n = int(rng.integers(1, 3000))
            pfns = hot + rng.integers(0, 30_000, n)
            if op <= 3:
                nids = rng.choice(np.array([-1, 0, 1, 2]), n) if op % 2 else -1
                totals[:] += t.record_accesses(
                    pfns, nids, rng.integers(0, 3, n), now + rng.integers(0, 20, n)
                )
            elif op == 4:
                totals[int(t.record_access(int(pfns[0]), 2, 1, now))] += 1
            elif op == 5:
                t.extract_batch(int(rng.choice([0, 2])), int(rng.integers(0, 600)))
            elif op == 6:
                t.lookup(int(pfns[0]))
                t.stats()
                t.check()
            elif op == 7:
                t.set_movable(pfns[:4], bool(rng.integers(0, 2)))
            else:  # hostile arguments: refused, nothing changes for the others
                # (partials: the arguments are this iteration's, bound now)
                record = functools.partial
                bad: list[tuple[Callable[[], Any], str]] = [
                    (record(t.record_accesses, pfns, -1, 3, now), "srcs"),
                    (record(t.record_accesses, pfns, 7, 0, now), "nid"),
                    (record(t.record_accesses, pfns.astype(float), -1, 0, now), "pfns"),
                    (record(t.record_accesses, -pfns.astype(np.int64), -1, 0, now), "pfns"),
                    (record(t.record_accesses, pfns, -1, 0, np.arange(n + 1)), "nows"),
                    (record(t.record_accesses, np.ma.masked_array(pfns), -1, 0, now), "pfns"),
                    (lambda: t.extract_batch(1, 10), "nid"),
                    (lambda: t.set_movable(np.array([5, hi + 5]), False), "pfns"),
                    (lambda: t.record_access(None, -1, 0, 0), "pfn"),
                    (record(t.record_access, int(pfns[0]), -1, 0, 2**70), "now"),
                ]
                k = int(rng.integers(len(bad)))
                fn, name = bad[k]
                try:
                    fn()
                except ALLOWED as e:
                    assert name in str(e) or isinstance(e, TypeError), (k, e)
                else:
                    raise AssertionError(f"hostile call {k} (bad {name}) was accepted")
    except BaseException as e:  # noqa: BLE001 -- reported by the caller
        errors.append(e)


@pytest.mark.parametrize("store", sorted(STORES))
def test_fuzz_threads(
    make_two_top: Callable[..., Topology], run_threads: Callable[..., list[Any]], store: str
) -> None:
    seconds = max(0.5, FUZZ_SECONDS * SHARE["threads"] / len(STORES))
    kw: dict[str, Any] = (
        {} if store == "pfn-array" else {"capacity": 65536, "freq_window_ms": 20, "evict_stale": True}
    )
    t = pghot.Tracker(make_two_top(1 << 18), store=store, **kw)
    end = time.monotonic() + seconds
    totals = [np.zeros(4, dtype=np.int64) for _ in range(3)]
    errors: list[BaseException] = []
    run_threads(
        [functools.partial(_thread_fuzzer, t, 100 + i, end, totals[i], errors) for i in range(3)],
        timeout=seconds + 120,
    )
    if errors:
        raise errors[0]
    t.check()
    s = t.stats()
    total = np.sum(totals, axis=0)
    assert s["pghot_recorded_accesses"] == int(total.sum())
    assert (s["recorded"], s["toptier"], s["not_movable"], s["table_full"]) == tuple(int(x) for x in total)
