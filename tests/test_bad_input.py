"""Every argument of every public call of the compiled core, fed bad input.

Wrong types raise ``TypeError``; bad values raise ``ValueError`` whose message
names the argument; neither crashes nor changes the tracker (``stats()``,
``len()``, queue lengths and records are compared before and after, and
``check()`` passes). Array arguments that are valid but unusual
(non-contiguous, read-only, other integer dtypes, byte-swapped, 0-d) must
work and give the reference model's answer.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest

import pghot
from pghot import Node, Outcome, Source, Topology
from pghot._core import Tracker
from pghot.model.reference import ReferenceTracker

# two_top (conftest): top 0 [0, 64), lower 1 [64, 320), top 2 [320, 384), offline 384+
LOWER = 100  # a lower-tier PFN
TOP = 5  # a top-tier PFN
OFFLINE = 400
WATCHED = [TOP, OFFLINE] + list(range(64, 110)) + [200, 201, 300]

HUGE = [2**64, 2**100, -(2**100)]


def _populate(t: Any) -> None:
    """Records of every kind: queued on both nodes, unqueued, not movable."""
    t.record_accesses(np.arange(64, 80), 0, 0, 1)
    t.record_accesses(np.arange(64, 80), 0, 1, 2)  # freq 2, queue 0 (some refused)
    t.record_accesses(np.arange(90, 96), 2, 2, np.arange(3, 9))
    t.record_accesses(np.arange(90, 96), 2, 2, 10)  # freq 2, queue 2
    t.record_accesses(np.array([200, 201, TOP, OFFLINE]), -1, 0, 11)
    t.set_movable(300, False)


@pytest.fixture
def tracker(two_top: Topology) -> Tracker:
    t = Tracker(two_top, threshold=2, capacity=60, queue_capacity=12)
    _populate(t)
    s = t.stats()
    assert s["queued"] > 0 and s["queue_full"] > 0 and s["records"] > s["queued"]
    return t


def _snapshot(t: Tracker) -> tuple[Any, ...]:
    return (
        t.stats(),
        len(t),
        t.queued(0),
        t.queued(2),
        [t.lookup(p) for p in WATCHED],
    )


def _expect(exc: type[BaseException], name: str, call: Any, t: Tracker) -> None:
    """``call()`` raises ``exc`` (naming ``name`` for ValueError); t unchanged."""
    before = _snapshot(t)
    with pytest.raises(exc) as info:
        call()
    if exc is ValueError:
        assert name in str(info.value), f"message does not name {name!r}: {info.value}"
    assert _snapshot(t) == before
    t.check()


# -- constructor ------------------------------------------------------------------

CTOR_TYPE_ERRORS = [
    ("hz", None),
    ("hz", "1000"),
    ("hz", 1000.0),
    ("hz", [1000]),
    ("freq_window_ms", None),
    ("freq_window_ms", "5000"),
    ("freq_window_ms", 5e3),
    ("threshold", None),
    ("threshold", "2"),
    ("threshold", 2.0),
    ("freq_bits", None),
    ("freq_bits", "3"),
    ("freq_bits", 3.0),
    ("nid_bits", None),
    ("nid_bits", "10"),
    ("nid_bits", 10.0),
    ("time_bits", None),
    ("time_bits", "19"),
    ("time_bits", 19.0),
    ("capacity", "10"),
    ("capacity", 10.0),
    ("capacity", [10]),
    ("queue_capacity", "1"),
    ("queue_capacity", 1.5),
    ("queue", None),
    ("queue", 1),
    ("queue", b"binary"),
    ("queue", ["binary"]),
    ("evict_stale", None),
    ("evict_stale", 1),
    ("evict_stale", 0),
    ("evict_stale", "yes"),
]

CTOR_VALUE_ERRORS = [
    ("hz", 0),
    ("hz", -1),
    *[("hz", h) for h in HUGE],
    ("freq_window_ms", -1),
    ("freq_window_ms", 524288),
    *[("freq_window_ms", h) for h in HUGE],
    ("threshold", 0),
    ("threshold", -1),
    ("threshold", 8),
    *[("threshold", h) for h in HUGE],
    ("freq_bits", 0),
    ("freq_bits", -1),
    ("freq_bits", 17),
    *[("freq_bits", h) for h in HUGE],
    ("nid_bits", 0),
    ("nid_bits", -1),
    ("nid_bits", 1),
    *[("nid_bits", h) for h in HUGE],
    ("time_bits", 0),
    ("time_bits", -1),
    ("time_bits", 20),
    *[("time_bits", h) for h in HUGE],
    ("capacity", -1),
    ("capacity", 2**32),
    *[("capacity", h) for h in HUGE],
    ("queue_capacity", -1),
    ("queue_capacity", 2**32),
    *[("queue_capacity", h) for h in HUGE],
    ("queue", "fibonacci"),
    ("queue", ""),
    ("queue", "BINARY"),
]


@pytest.mark.parametrize(("name", "value"), CTOR_TYPE_ERRORS)
def test_constructor_type_errors(two_top: Topology, name: str, value: Any) -> None:
    with pytest.raises(TypeError):
        Tracker(two_top, **{name: value})


@pytest.mark.parametrize(("name", "value"), CTOR_VALUE_ERRORS)
def test_constructor_value_errors(two_top: Topology, name: str, value: Any) -> None:
    # defaults: hz 1000, window 5000 ms, freq/nid/time bits 3/10/19
    with pytest.raises(ValueError) as info:
        Tracker(two_top, **{name: value})
    assert name in str(info.value), str(info.value)


@pytest.mark.parametrize(
    "topology",
    [None, "two_tier", 5, [Node(0, 0, 64, True)], Node(0, 0, 64, True), {"nodes": []}],
)
def test_constructor_topology_type_errors(topology: Any) -> None:
    with pytest.raises(TypeError):
        Tracker(topology)


@pytest.mark.parametrize(
    ("store", "exc"), [(None, TypeError), (1, TypeError), ("btree", ValueError), ("", ValueError)]
)
def test_factory_store_errors(two_top: Topology, store: Any, exc: type) -> None:
    # pghot.Tracker builds the compiled tracker for the default store
    assert type(pghot.Tracker(two_top)) is Tracker
    with pytest.raises(exc) as info:
        pghot.Tracker(two_top, store=store)
    if exc is ValueError:
        assert "store" in str(info.value)


def test_constructor_needs_a_topology() -> None:
    with pytest.raises(TypeError):
        Tracker()  # type: ignore[call-arg]


def test_constructor_window_span_named(two_top: Topology) -> None:
    # a window too long for the time field names freq_window_ms
    for kwargs in (
        dict(time_bits=12),
        dict(time_bits=4, freq_window_ms=16),
        dict(hz=250, time_bits=2, freq_window_ms=13),
    ):
        with pytest.raises(ValueError, match="freq_window_ms"):
            Tracker(two_top, **kwargs)  # type: ignore[arg-type]


def test_constructor_width_sum(two_top: Topology) -> None:
    with pytest.raises(ValueError, match="bits"):
        Tracker(two_top, freq_bits=16, nid_bits=2, time_bits=15)
    t = Tracker(two_top, freq_bits=16, nid_bits=2, time_bits=14, freq_window_ms=5)
    assert (t.freq_bits, t.nid_bits, t.time_bits) == (16, 2, 14)


def test_constructor_accepts_numpy_scalars(two_top: Topology) -> None:
    t = Tracker(
        two_top,
        hz=np.int32(250),
        freq_window_ms=np.uint16(400),
        threshold=np.int8(3),
        freq_bits=np.int64(3),
        nid_bits=np.uint8(4),
        time_bits=np.int16(12),
        capacity=np.uint32(40),
        queue_capacity=np.int64(7),
        evict_stale=np.bool_(True),
    )
    assert (t.hz, t.freq_window_ms, t.window_jiffies, t.threshold) == (250, 400, 100, 3)
    assert (t.capacity, t.queue_capacity, t.evict_stale) == (40, 7, True)
    assert type(t.evict_stale) is bool
    t.check()


def test_reinit_is_refused(tracker: Tracker, two_top: Topology) -> None:
    before = _snapshot(tracker)
    with pytest.raises(RuntimeError):
        tracker.__init__(two_top)  # type: ignore[misc]
    with pytest.raises((RuntimeError, TypeError, ValueError)):
        tracker.__init__(two_top, hz=-1)  # type: ignore[misc]
    assert _snapshot(tracker) == before
    tracker.check()


_UNINIT_CALLS = [
    "len(t)",
    "t.stats()",
    "t.lookup(5)",
    "t.check()",
    "t.record_access(100, -1, 0, 0)",
    "t.record_accesses([100], -1, 0, 0)",
    "t.extract_batch(0)",
    "t.queued(0)",
    "t.memory_bytes()",
    "t.set_movable(100, True)",
    "repr(t)",
]


def test_uninitialised_tracker_raises_instead_of_crashing() -> None:
    # Tracker.__new__ without __init__: every call raises, none crashes.
    # Run in a child process so a segfault fails this test, not the run.
    code = "\n".join(
        ["from pghot._core import Tracker", "t = Tracker.__new__(Tracker)"]
        + [
            f"try:\n    {call}\nexcept (RuntimeError, TypeError, ValueError):\n    pass"
            for call in _UNINIT_CALLS
        ]
        + ["print('ok')"]
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert proc.stdout.strip() == "ok"


# -- record_access --------------------------------------------------------------------

RA_ARGS = ("pfn", "nid", "src", "now")
RA_VALID = (LOWER, -1, 0, 20)

RA_TYPE_ERRORS = [
    (0, None),
    (0, "100"),
    (0, 100.0),
    (0, [100]),
    (0, np.float64(100)),
    (0, 1 + 0j),
    (1, None),
    (1, "0"),
    (1, 0.0),
    (1, np.float32(0)),
    (2, None),
    (2, "HW_HINTS"),
    (2, 0.0),
    (2, [0]),
    (3, None),
    (3, "5"),
    (3, 5.0),
    (3, np.float64(5)),
]
RA_VALUE_ERRORS = [
    (0, -1),
    (0, np.int64(-1)),
    (0, 2**63),
    (0, 2**64 - 1),
    *[(0, h) for h in HUGE],
    (1, -2),
    (1, 3),
    (1, 1023),
    (1, 1024),
    (1, np.int16(-5)),
    *[(1, h) for h in HUGE],
    (2, -1),
    (2, 3),
    (2, np.uint8(200)),
    *[(2, h) for h in HUGE],
    (3, -1),
    (3, 2**63),
    (3, np.int64(-7)),
    *[(3, h) for h in HUGE],
]


@pytest.mark.parametrize(("pos", "value"), RA_TYPE_ERRORS)
def test_record_access_type_errors(tracker: Tracker, pos: int, value: Any) -> None:
    args = list(RA_VALID)
    args[pos] = value
    _expect(TypeError, RA_ARGS[pos], lambda: tracker.record_access(*args), tracker)


@pytest.mark.parametrize(("pos", "value"), RA_VALUE_ERRORS)
def test_record_access_value_errors(tracker: Tracker, pos: int, value: Any) -> None:
    args = list(RA_VALID)
    args[pos] = value
    _expect(ValueError, RA_ARGS[pos], lambda: tracker.record_access(*args), tracker)


@pytest.mark.parametrize(
    "args",
    [
        (np.uint64(LOWER), np.int8(-1), np.uint8(0), np.uint32(20)),
        (np.int16(LOWER), np.int64(0), Source.PGTABLE_SCAN, np.uint64(20)),
        (LOWER, np.int32(2), np.int64(2), 20),
        (np.array(LOWER)[()], np.intc(1), np.short(1), np.ulonglong(20)),
    ],
)
def test_record_access_accepts_numpy_scalars(two_top: Topology, args: tuple[Any, ...]) -> None:
    t = Tracker(two_top)
    ref = ReferenceTracker(two_top)
    got = t.record_access(*args)
    assert type(got) is Outcome
    assert got == ref.record_access(*[int(a) for a in args])
    assert t.stats() == ref.stats()
    assert t.lookup(LOWER) == ref.lookup(LOWER)


def test_bool_for_integer_arguments(two_top: Topology) -> None:
    # bool is an int subclass: accepted as 0/1, or refused with TypeError;
    # in either case like the reference model would treat 0/1, never a crash.
    for pos in range(4):
        t = Tracker(two_top)
        args: list[Any] = [LOWER, -1, 0, 20]
        args[pos] = True
        try:
            got = t.record_access(*args)
        except TypeError:
            assert t.stats()["pghot_recorded_accesses"] == 0
            continue
        args[pos] = 1
        assert got == Tracker(two_top).record_access(*args)
        t.check()


# -- record_accesses ------------------------------------------------------------------

RAS_ARGS = ("pfns", "nids", "srcs", "nows")


def _ras_valid() -> list[Any]:
    return [np.array([LOWER, LOWER + 1, TOP]), -1, 0, np.array([20, 21, 22])]


RAS_TYPE_ERRORS = [
    (0, None),
    (0, "abc"),
    (0, b"\x01\x02"),
    (0, {1, 2}),
    (0, 1.5),
    (0, {"a": 1}),
    (1, None),
    (1, "0"),
    (1, 1.0),
    (1, np.float64(1.0)),
    (1, {0}),
    (2, None),
    (2, "0"),
    (2, 0.0),
    (2, b"0"),
    (3, None),
    (3, "20"),
    (3, 20.0),
    (3, 2.5 + 0j),
]
RAS_VALUE_ERRORS = [
    # pfns
    (0, np.array([100.0, 101.0, 5.0])),
    (0, [100.0, 1.0, 2.0]),
    (0, np.array([[100, 101, 5]])),
    (0, np.arange(6).reshape(3, 2)),
    (0, np.array([100, 101])),
    (0, np.array([100, 101, 5, 6])),
    (0, np.array([100, -1, 5])),
    (0, np.array([100, 101, 2**63], dtype=np.uint64)),
    (0, np.array([100, 101, 2**64 - 1], dtype=np.uint64)),
    (0, np.array([True, False, True])),
    (0, ["a", "b", "c"]),
    (0, []),
    # nids
    (1, np.array([0.0, 0.0, 0.0])),
    (1, np.zeros((3, 1), dtype=np.int64)),
    (1, np.array([0, 0])),
    (1, np.array([-2, 0, 0])),
    (1, np.array([0, 3, 0])),
    (1, np.array([0, 0, 1024])),
    (1, np.array([0, 0, 2**63], dtype=np.uint64)),
    (1, -2),
    (1, 3),
    (1, np.int8(-3)),
    (1, np.array(7)),
    *[(1, h) for h in HUGE],
    # srcs
    (2, np.array([0, 1, 3])),
    (2, np.array([-1, 0, 0])),
    (2, np.array([0, 0])),
    (2, np.array([0.0, 1.0, 2.0])),
    (2, np.ones((1, 3), dtype=np.int8)),
    (2, 3),
    (2, -1),
    (2, np.uint8(9)),
    *[(2, h) for h in HUGE],
    # nows
    (3, np.array([20, -1, 22])),
    (3, np.array([20, 21, 2**63], dtype=np.uint64)),
    (3, np.array([20, 21])),
    (3, np.array([20.0, 21.0, 22.0])),
    (3, np.array([[20, 21, 22]])),
    (3, -1),
    (3, 2**63),
    *[(3, h) for h in HUGE],
]


@pytest.mark.parametrize(("pos", "value"), RAS_TYPE_ERRORS)
def test_record_accesses_type_errors(tracker: Tracker, pos: int, value: Any) -> None:
    args = _ras_valid()
    args[pos] = value
    _expect(TypeError, RAS_ARGS[pos], lambda: tracker.record_accesses(*args), tracker)


@pytest.mark.parametrize(("pos", "value"), RAS_VALUE_ERRORS)
def test_record_accesses_value_errors(tracker: Tracker, pos: int, value: Any) -> None:
    args = _ras_valid()
    args[pos] = value
    _expect(ValueError, RAS_ARGS[pos], lambda: tracker.record_accesses(*args), tracker)


def test_record_accesses_scalar_pfns(tracker: Tracker) -> None:
    # pfns must be an array; a scalar is refused (TypeError or ValueError)
    for bad in (LOWER, np.int64(LOWER), np.array(LOWER)):
        before = _snapshot(tracker)
        with pytest.raises((TypeError, ValueError), match="pfns"):
            tracker.record_accesses(bad, -1, 0, 20)
        assert _snapshot(tracker) == before


def test_record_accesses_error_anywhere_records_nothing(tracker: Tracker) -> None:
    # the bad value is the last of a long batch: nothing before it counts
    pfns = np.arange(64, 320)
    for pos, bad in ((1, -2), (2, 3), (3, -1)):
        vals = [
            pfns,
            np.zeros(256, dtype=np.int64),
            np.zeros(256, dtype=np.int64),
            np.full(256, 30, dtype=np.int64),
        ]
        vals[pos] = vals[pos].copy()
        vals[pos][-1] = bad
        _expect(ValueError, RAS_ARGS[pos], lambda vals=vals: tracker.record_accesses(*vals), tracker)


def _strided(a: np.ndarray) -> np.ndarray:
    base = np.zeros(2 * len(a), dtype=a.dtype)
    base[::2] = a
    view = base[::2]
    assert not view.flags.c_contiguous
    return view


def _readonly(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.flags.writeable = False
    return a


PFNS = np.array([LOWER, LOWER + 1, LOWER, TOP, OFFLINE, 300, LOWER + 1])
NIDS = np.array([0, 2, 0, -1, 1, 0, -1])
SRCS = np.array([0, 1, 2, 0, 1, 2, 0])
NOWS = np.array([10, 11, 12, 13, 14, 15, 16])

WORKING = {
    "contiguous": (PFNS, NIDS, SRCS, NOWS),
    "lists": (PFNS.tolist(), NIDS.tolist(), SRCS.tolist(), NOWS.tolist()),
    "tuples": (tuple(PFNS.tolist()), tuple(NIDS.tolist()), SRCS.tolist(), NOWS.tolist()),
    "strided": tuple(_strided(a) for a in (PFNS, NIDS, SRCS, NOWS)),
    "negative_stride": tuple(a[::-1].copy()[::-1] for a in (PFNS, NIDS, SRCS, NOWS)),
    "readonly": tuple(_readonly(a) for a in (PFNS, NIDS, SRCS, NOWS)),
    "fortran": tuple(np.asfortranarray(a) for a in (PFNS, NIDS, SRCS, NOWS)),
    "byteswapped": tuple(a.astype(a.dtype.newbyteorder(">")) for a in (PFNS, NIDS, SRCS, NOWS)),
    "small_dtypes": (
        PFNS.astype(np.uint16),
        NIDS.astype(np.int8),
        SRCS.astype(np.uint8),
        NOWS.astype(np.uint32),
    ),
    "unsigned": (
        PFNS.astype(np.uint64),
        NIDS.astype(np.int16),
        SRCS.astype(np.uint64),
        NOWS.astype(np.uint64),
    ),
    "broadcast_ints": (PFNS, 0, 1, 17),
    "broadcast_numpy": (PFNS, np.int16(2), np.uint8(2), np.uint64(17)),
    "broadcast_0d": (PFNS, np.array(-1), np.array(0, dtype=np.int8), np.array(17)),
    "broadcast_readonly_0d": (PFNS, _readonly(np.array(1)), SRCS, NOWS),
    "length_1": (PFNS[:1], NIDS[:1], SRCS[:1], NOWS[:1]),
    "empty": (np.array([], dtype=np.int64), -1, 0, np.array([], dtype=np.int64)),
    "empty_uint": (np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int8), 0, 0),
}


@pytest.mark.parametrize("case", sorted(WORKING))
def test_record_accesses_unusual_arrays_work(two_top: Topology, case: str) -> None:
    args = WORKING[case]
    copies = [np.array(a, copy=True) for a in args]
    t = Tracker(two_top, threshold=2)
    ref = ReferenceTracker(two_top, threshold=2)
    t.set_movable(300, False)
    ref.set_movable(300, False)
    got = t.record_accesses(*args)
    want = ref.record_accesses(*[np.array(a, copy=True) for a in args])
    assert got.dtype == np.int64 and got.shape == (4,)
    assert got.tolist() == want.tolist()
    assert t.stats() == ref.stats()
    for p in WATCHED:
        assert t.lookup(p) == ref.lookup(p)
    for a, c in zip(args, copies):  # the caller's arrays are not modified
        assert np.array_equal(np.asarray(a), c)
    t.check()


def test_record_accesses_large_noncontiguous_readonly(two_top: Topology) -> None:
    # large enough that the kernel runs without the GIL
    rng = np.random.default_rng(1)
    base = rng.integers(0, 450, 200_000)
    pfns = base[::2]
    pfns.flags.writeable = False
    nows = np.arange(200_000)[::2]
    t = Tracker(two_top, capacity=256)
    ref_counts = np.bincount(
        [0 if 64 <= p < 320 else 1 if p < 64 or 320 <= p < 384 else 2 for p in pfns.tolist()],
        minlength=4,
    )
    got = t.record_accesses(pfns, -1, 0, nows)
    assert got.sum() == 100_000
    assert got[Outcome.TOPTIER] == ref_counts[1]
    assert got[Outcome.NOT_MOVABLE] == ref_counts[2]
    assert got[Outcome.RECORDED] + got[Outcome.TABLE_FULL] == ref_counts[0]
    t.check()


# -- extract_batch ------------------------------------------------------------------

EB_ARGS = ("nid", "max_count", "threshold", "return_records")
EB_VALID: tuple[Any, ...] = (0, 1024, None, False)

EB_TYPE_ERRORS = [
    (0, None),
    (0, "0"),
    (0, 0.0),
    (0, [0]),
    (1, None),
    (1, "5"),
    (1, 5.0),
    (1, [5]),
    (2, "2"),
    (2, 2.0),
    (2, [2]),
    (3, None),
    (3, 1),
    (3, 0),
    (3, "yes"),
    (3, [True]),
]
EB_VALUE_ERRORS = [
    (0, -1),
    (0, 1),
    (0, 3),
    (0, 99),
    (0, 1023),
    *[(0, h) for h in HUGE],
    (1, -1),
    (1, np.int64(-3)),
    *[(1, h) for h in HUGE],
    (2, 0),
    (2, -1),
    (2, 8),
    (2, np.uint8(8)),
    *[(2, h) for h in HUGE],
]


@pytest.mark.parametrize(("pos", "value"), EB_TYPE_ERRORS)
def test_extract_batch_type_errors(tracker: Tracker, pos: int, value: Any) -> None:
    args = list(EB_VALID)
    args[pos] = value
    _expect(TypeError, EB_ARGS[pos], lambda: tracker.extract_batch(*args), tracker)


@pytest.mark.parametrize(("pos", "value"), EB_VALUE_ERRORS)
def test_extract_batch_value_errors(tracker: Tracker, pos: int, value: Any) -> None:
    args = list(EB_VALID)
    args[pos] = value
    _expect(ValueError, EB_ARGS[pos], lambda: tracker.extract_batch(*args), tracker)


def test_extract_batch_keywords_and_numpy_scalars(tracker: Tracker) -> None:
    n0 = tracker.queued(0)
    got = tracker.extract_batch(
        nid=np.int8(0),
        max_count=np.uint64(3),
        threshold=np.int16(2),
        return_records=np.bool_(True),
    )
    assert len(got) == min(3, n0)
    assert tracker.queued(0) == n0 - len(got)
    assert tracker.extract_batch(np.uint32(2), 0).tolist() == []
    assert len(tracker.extract_batch(0, 2**63 - 1)) == n0 - len(got)
    tracker.check()


# -- lookup, set_movable, queued ----------------------------------------------------


@pytest.mark.parametrize("value", [None, "5", 5.0, [5], np.float64(5), 1j])
def test_lookup_type_errors(tracker: Tracker, value: Any) -> None:
    _expect(TypeError, "pfn", lambda: tracker.lookup(value), tracker)


@pytest.mark.parametrize("value", [-1, np.int32(-1), 2**63, 2**64 - 1, *HUGE])
def test_lookup_value_errors(tracker: Tracker, value: Any) -> None:
    _expect(ValueError, "pfn", lambda: tracker.lookup(value), tracker)


def test_lookup_numpy_scalars(tracker: Tracker) -> None:
    want = tracker.lookup(64)
    assert want is not None
    for p in (np.uint64(64), np.int8(64), np.uint16(64), np.array(64)[()]):
        assert tracker.lookup(p) == want
    assert tracker.lookup(2**63 - 1) is None


@pytest.mark.parametrize("value", [None, "100", 100.0, {100}, b"d", np.float64(100)])
def test_set_movable_pfns_type_errors(tracker: Tracker, value: Any) -> None:
    _expect(TypeError, "pfns", lambda: tracker.set_movable(value, False), tracker)


@pytest.mark.parametrize(
    "value",
    [
        TOP,
        OFFLINE,
        -1,
        [LOWER, TOP],
        [LOWER, OFFLINE],
        np.array([LOWER, -1]),
        np.array([100.0]),
        np.array([[LOWER]]),
        np.array([True]),
        2**63,
        *HUGE,
        np.array([LOWER, 2**64 - 1], dtype=np.uint64),
        [LOWER, 320],
        [63],
    ],
)
def test_set_movable_pfns_value_errors(tracker: Tracker, value: Any) -> None:
    _expect(ValueError, "pfns", lambda: tracker.set_movable(value, False), tracker)
    # nothing was applied: the lower-tier PFN is still movable
    assert tracker.record_access(LOWER, -1, 0, 30) is not Outcome.NOT_MOVABLE


@pytest.mark.parametrize("flag", [None, 1, 0, "no", [False], np.int8(0)])
def test_set_movable_flag_type_errors(tracker: Tracker, flag: Any) -> None:
    _expect(TypeError, "flag", lambda: tracker.set_movable(LOWER, flag), tracker)
    assert tracker.record_access(LOWER, -1, 0, 30) is not Outcome.NOT_MOVABLE


def test_set_movable_valid_forms(two_top: Topology) -> None:
    t = Tracker(two_top)
    for arg in (
        LOWER,
        np.uint16(LOWER + 1),
        [LOWER + 2],
        _readonly(np.array([LOWER + 3])),
        _strided(np.array([LOWER + 4, LOWER + 5])),
        np.array([], dtype=np.int64),
    ):
        t.set_movable(arg, np.bool_(False))
    counts = t.record_accesses(np.arange(LOWER, LOWER + 7), -1, 0, 0)
    assert counts.tolist() == [1, 0, 6, 0]
    t.set_movable(np.arange(LOWER, LOWER + 6), True)
    assert t.record_accesses(np.arange(LOWER, LOWER + 7), -1, 0, 1).tolist() == [7, 0, 0, 0]
    t.check()


@pytest.mark.parametrize("value", [None, "0", 0.0, [0]])
def test_queued_type_errors(tracker: Tracker, value: Any) -> None:
    _expect(TypeError, "nid", lambda: tracker.queued(value), tracker)


@pytest.mark.parametrize("value", [-1, 1, 3, 1023, 1024, *HUGE])
def test_queued_value_errors(tracker: Tracker, value: Any) -> None:
    _expect(ValueError, "nid", lambda: tracker.queued(value), tracker)
