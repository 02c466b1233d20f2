"""Shared test configuration: hypothesis profiles, the implementations, topologies, threads.

- tracker factories over the implementations (``make_tracker``: the section 4
  stores and the reference model; ``make_pfnarray``: the pfn-array store and
  its model; ``make_any_tracker``: all of them), and ``queue_kind``;
- topologies: ``two_tier``, ``two_top``, ``four_nodes``, ``make_two_top``
  (a large lower tier, for threads and sharded tables), ``small_topologies``;
- the thread harness: ``run_threads`` and ``run_alongside``.

Hypothesis profiles (chosen with the environment variable ``PGHOT_HYPOTHESIS_PROFILE``):

- ``dev`` (default): few examples, so the whole suite runs in seconds;
- ``ci``: many more examples and longer state-machine runs.

Test modules cannot import this file (pytest runs with
``--import-mode=importlib``), so everything shared is a fixture.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, settings

from pghot import Node, Topology, Tracker
from pghot._pfnarray import PfnArrayTracker
from pghot.model.pfnarray import PfnArrayReference
from pghot.model.reference import ReferenceTracker
from pghot.queues import QUEUE_CLASSES

#: the tracker's queue designs (queue= names)
QUEUE_KINDS: tuple[str, ...] = tuple(QUEUE_CLASSES)

settings.register_profile(
    "dev",
    max_examples=20,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci",
    max_examples=300,
    stateful_step_count=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("PGHOT_HYPOTHESIS_PROFILE", "dev"))


#: The implementations with SEMANTICS.md section 4's semantics: the pure-Python
#: reference model, the hash store with each queue design, v2's own layout.
SECTION4_IMPLS: tuple[str, ...] = ("reference", *(f"hash-{q}" for q in QUEUE_KINDS), "kernel-v2")
#: The pfn-array store (section 3's record rule) and its reference model.
PFNARRAY_IMPLS: tuple[str, ...] = ("pfn-array", "pfn-array-reference")


def tracker_factory(impl: str) -> Callable[..., Tracker]:
    """``factory(topology, **kwargs)`` building a tracker of implementation ``impl``.

    Every implementation has the API of :class:`pghot.Tracker` (the models
    are typed as one for mypy: they implement the same methods).
    """
    if impl == "reference":
        return cast(Callable[..., Tracker], ReferenceTracker)
    if impl == "pfn-array-reference":
        return cast(Callable[..., Tracker], PfnArrayReference)
    if impl.startswith("hash-"):
        queue = impl.removeprefix("hash-")

        def hash_store(topology: Topology, **kwargs: Any) -> Tracker:
            kwargs.setdefault("queue", queue)
            return Tracker(topology, **kwargs)

        return hash_store
    if impl in ("kernel-v2", "pfn-array"):
        return functools.partial(Tracker, store=impl)
    raise ValueError(f"unknown implementation {impl!r}")


@pytest.fixture(params=SECTION4_IMPLS)
def make_tracker(request: pytest.FixtureRequest) -> Callable[..., Tracker]:
    """A tracker factory for each implementation of SEMANTICS.md section 4."""
    return tracker_factory(str(request.param))


@pytest.fixture(params=PFNARRAY_IMPLS)
def make_pfnarray(request: pytest.FixtureRequest) -> Callable[..., PfnArrayTracker]:
    """A tracker factory for the pfn-array store and its reference model
    (typed as the store, whose API the model has: ``mode``, ``window_ticks``...)."""
    return cast(Callable[..., PfnArrayTracker], tracker_factory(str(request.param)))


@pytest.fixture(params=SECTION4_IMPLS + PFNARRAY_IMPLS)
def make_any_tracker(request: pytest.FixtureRequest) -> Callable[..., Tracker]:
    """A tracker factory for every implementation, the pfn-array's included.

    For behaviours both record rules share (section 3 and section 4); the
    pfn-array builds in its default (precise) mode.
    """
    return tracker_factory(str(request.param))


@pytest.fixture(params=QUEUE_KINDS)
def queue_kind(request: pytest.FixtureRequest) -> str:
    """Each queue design of the core in turn (``Tracker(queue=...)``)."""
    return str(request.param)


def two_top_around(lower_pages: int, top_pages: int = 1024) -> Topology:
    """Two top-tier nodes around one CPU-less lower-tier node, default node 0.

    PFNs: node 0 [0, top), node 1 [top, top + lower), node 2 [top + lower,
    2 top + lower); the PFNs after node 2 are in no node (offline). With a
    lower tier of 2**14 pages or more, the hash store splits its table into
    shards.
    """
    return Topology(
        [
            Node(0, 0, top_pages, True),
            Node(1, top_pages, lower_pages, False, has_cpu=False),
            Node(2, top_pages + lower_pages, top_pages, True),
        ],
        default_node=0,
    )


#: Topologies of a few dozen PFNs for the side-by-side programs (every PFN
#: they use lies in [0, 64); each leaves some of it offline).
SMALL_TOPOLOGIES: dict[str, Topology] = {
    # top 0 [0, 8), lower 1 [8, 32), offline [32, 40), top 2 [40, 48), offline 48+
    "one_lower": Topology(
        [Node(0, 0, 8, True), Node(1, 8, 24, False, has_cpu=False), Node(2, 40, 8, True)],
        default_node=0,
    ),
    # top 0 [0, 8), lower 1 [8, 24), top 2 [24, 32), offline [32, 40),
    # lower 3 (with CPUs) [40, 56), offline 56+; default node 2
    "two_lower": Topology(
        [
            Node(0, 0, 8, True),
            Node(1, 8, 16, False, has_cpu=False),
            Node(2, 24, 8, True),
            Node(3, 40, 16, False, has_cpu=True),
        ],
        default_node=2,
    ),
}

# Topologies are immutable: one instance per session serves every test, also
# those under @given (hypothesis refuses function-scoped fixtures).


@pytest.fixture(scope="session")
def two_tier() -> Topology:
    """Node 0 top tier with PFNs [0, 64), node 1 lower tier with [64, 320)."""
    return Topology.two_tier(64, 256)


@pytest.fixture(scope="session")
def two_top() -> Topology:
    """Two top-tier nodes (0 and 2) around one CPU-less lower-tier node (1).

    PFNs: node 0 [0, 64), node 1 [64, 320), node 2 [320, 384); PFNs from 384
    on are in no node (offline). Default node 0.
    """
    return two_top_around(256, top_pages=64)


@pytest.fixture(scope="session")
def four_nodes() -> Topology:
    """Two top-tier nodes (0, 2), two lower-tier nodes (1 CPU-less, 3 with CPUs).

    PFNs: node 0 [0, 64), node 1 [64, 192), node 2 [192, 256), a hole
    [256, 300) in no node, node 3 [300, 428). Default node 2, so accesses
    from node 1, node 3 or ``NUMA_NO_NODE`` target node 2.
    """
    return Topology(
        [
            Node(0, 0, 64, True),
            Node(1, 64, 128, False, has_cpu=False),
            Node(2, 192, 64, True),
            Node(3, 300, 128, False, has_cpu=True),
        ],
        default_node=2,
    )


@pytest.fixture(scope="session")
def make_two_top() -> Callable[..., Topology]:
    """``make_two_top(lower_pages, top_pages=1024)``: see :func:`two_top_around`
    (the thread tests' large lower tier)."""
    return two_top_around


@pytest.fixture(scope="session")
def small_topologies() -> dict[str, Topology]:
    """``"one_lower"`` and ``"two_lower"``: tiny topologies within PFNs [0, 64)."""
    return SMALL_TOPOLOGIES


def _run_threads(targets: list[Callable[[], Any]], timeout: float = 120) -> list[Any]:
    """One thread per callable, started together at a barrier, all joined;
    the results in order, or the first error re-raised."""
    results: list[Any] = [None] * len(targets)
    errors: list[BaseException] = []
    start = threading.Barrier(len(targets))

    def wrap(i: int) -> None:
        try:
            start.wait()
            results[i] = targets[i]()
        except BaseException as exc:  # noqa: BLE001 -- re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(len(targets))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=timeout)
    assert not any(th.is_alive() for th in threads), "a thread did not finish"
    if errors:
        raise errors[0]
    return results


@pytest.fixture
def run_threads() -> Callable[..., list[Any]]:
    """``run_threads(targets, timeout=120)``: run callables in threads, join them all."""
    return _run_threads


def _run_alongside(
    targets: list[Callable[[], Any]],
    background: Callable[[threading.Event], Any],
    timeout: float = 120,
) -> tuple[list[Any], Any]:
    """Run ``targets`` as ``run_threads`` does while ``background(done)`` runs
    in one more thread, started first; ``done`` is set once every target has
    returned (or failed). The targets' results and the background's, or the
    first error (a target's first) re-raised."""
    done = threading.Event()
    result: list[Any] = []
    errors: list[BaseException] = []

    def wrap() -> None:
        try:
            result.append(background(done))
        except BaseException as exc:  # noqa: BLE001 -- re-raised below
            errors.append(exc)

    th = threading.Thread(target=wrap)
    th.start()
    try:
        results = _run_threads(targets, timeout)
    finally:
        done.set()
        th.join(timeout=timeout)
    assert not th.is_alive(), "the background thread did not finish"
    if errors:
        raise errors[0]
    return results, result[0]


@pytest.fixture
def run_alongside() -> Callable[..., tuple[list[Any], Any]]:
    """``run_alongside(targets, background, timeout=120)``: ``run_threads(targets)``
    while ``background(done: threading.Event)`` loops until ``done`` is set;
    returns ``(target results, background result)``."""
    return _run_alongside
