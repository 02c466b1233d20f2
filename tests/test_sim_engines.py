"""The compiled replay engine against its specification, and against itself on more threads.

``replay(..., engine="reference")`` runs the stages of :mod:`pghot.model.sim`
(and the reference memory and sources); the default runs the compiled ones.
Every metric, counter and series of the result must be identical, on the
committed real trace, the demo workload, small generated traces with every
source and policy (the kernel's alternatives numab2 and tpp with their
knobs too), and the designs; and a replay gives the same result on one
thread as on several.
"""

from __future__ import annotations

import pathlib
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from pghot.sim import SimConfig, demo_trace, engine, policies, replay
from pghot.traces import TraceChunk

DATA = pathlib.Path(__file__).parent / "data"

ALL_SOURCES: list[dict[str, Any]] = [
    {"name": "hint-fault", "scan_period_ms": 50, "scan_window_pages": 64, "scan_delay_ms": 20},
    {"name": "hw-hints", "sample_every": 3, "seed": 1},
    {"name": "pgtable-scan", "interval_ms": 30},
]


def _both(trace: Any, cfg: SimConfig, **kw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The results of the reference and the compiled engines, as plain values."""
    a = replay(trace, cfg, progress=False, engine="reference", **kw)
    b = replay(trace, cfg, progress=False, engine="compiled", **kw)
    return a.to_dict(heatmap=True), b.to_dict(heatmap=True)


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if k == "policies":
            assert a[k].keys() == b[k].keys()
            for name in a[k]:
                assert a[k][name] == b[k][name], name
        else:
            assert a[k] == b[k], k


def _generated(seed: int, n: int = 20_000, pages: int = 600, span_ms: int = 2_000) -> TraceChunk:
    """Zipf-ish accesses with bursts and an idle gap, as real traces have."""
    rng = np.random.default_rng(seed)
    hot = rng.zipf(1.3, n) % pages
    t = np.sort(rng.integers(0, span_ms, n)).astype(np.int64)
    t[n // 2 :] += span_ms  # a gap of a whole span in the middle
    return TraceChunk(time_ns=t * 1_000_000, pfn=hot.astype(np.uint64))


def test_committed_lackey_trace() -> None:
    every = [{"name": "hw-hints", "sample_every": 1}]
    cfg = SimConfig(sources=every, top_pages=1, promoter={"interval_ms": 1}, scale_to_trace="off")
    a, b = _both(str(DATA / "tiny.lackey"), cfg, open_options={"ns_per_instr": 1_000_000})
    _same(a, b)
    assert sum(p["promotions"] for p in a["policies"].values()) > 0


def test_demo_workload_with_designs() -> None:
    cfg = SimConfig(top_pages=250)
    designs = ("hash/bucket", "kernel-v2", "pfn-array/default")
    a, b = _both([demo_trace(40_000, 1_000, seed=3)], cfg, designs=designs)
    _same(a, b)
    assert a["policies"]["hash/bucket"]["promotions"] > 0


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("source", range(len(ALL_SOURCES) + 1))
def test_generated_traces_every_source(seed: int, source: int) -> None:
    srcs = ALL_SOURCES if source == len(ALL_SOURCES) else [ALL_SOURCES[source]]
    cfg = SimConfig(
        top_pages=40 + 30 * seed,
        sources=srcs,
        tracker={"threshold": 2, "freq_window_ms": 400},
        promoter={"interval_ms": 25},
        oracle_interval_ms=200,
        interval_ms=100,
    )
    a, b = _both([_generated(seed)], cfg)
    _same(a, b)
    assert a["policies"]["second-access"]["promotions"] > 0 or source == 0


ALTERNATIVES = ["numab2", "tpp", "none"]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "knobs",
    [
        {},
        {"numab2": {"hot_threshold_ms": 30, "adjust_period_ms": 300, "rate_limit_mbps": 1}},
        {"numab2": {"free_enough_pages": 0}, "tpp": {"demote_scale_factor": 1000, "kswapd_interval_ms": 7}},
        {"tpp": {"active_check": False}, "demotion": False},
    ],
)
def test_alternatives_on_generated_traces(seed: int, knobs: dict[str, Any]) -> None:
    cfg = SimConfig(
        top_pages=40 + 30 * seed,
        sources=[ALL_SOURCES[0], ALL_SOURCES[1]],
        oracle_interval_ms=200,
        interval_ms=100,
        **knobs,
    )
    a, b = _both([_generated(seed)], cfg, policies=ALTERNATIVES)
    _same(a, b)
    pols = a["policies"]
    if cfg.demotion:
        assert pols["numab2"]["promotions"] > 0 and pols["tpp"]["promotions"] > 0
    else:  # the top tier is full from the first touches on: every promotion fails
        assert pols["tpp"]["stats"]["tpp"]["promote_no_space"] > 0


def test_alternatives_on_the_demo_workload_and_threads() -> None:
    cfg = SimConfig(top_pages=250)
    trace = [demo_trace(40_000, 1_000, seed=4)]
    a, b = _both(trace, cfg, policies=["pghot", *ALTERNATIVES])
    _same(a, b)
    many = replay(trace, cfg, progress=False, threads=3, policies=["pghot", *ALTERNATIVES])
    _same(a, many.to_dict(heatmap=True))


@pytest.mark.parametrize("threads", [2, 3, 7])
def test_threads_do_not_change_the_result(threads: int) -> None:
    cfg = SimConfig(
        top_pages=60,
        sources=ALL_SOURCES,
        tracker={"threshold": 2},
        promoter={"interval_ms": 20},
    )
    trace = [_generated(5)]
    one = replay(trace, cfg, progress=False, threads=1, designs=("hash/bucket",)).to_dict(heatmap=True)
    many = replay(trace, cfg, progress=False, threads=threads, designs=("hash/bucket",)).to_dict(heatmap=True)
    _same(one, many)


@pytest.mark.parametrize("bad", [0, -1, 10**6, 2.5, "2", True])
def test_bad_threads_and_engine(bad: Any) -> None:
    with pytest.raises((TypeError, ValueError), match="threads"):
        replay([demo_trace(100, 10)], SimConfig(), progress=False, threads=bad)
    with pytest.raises(ValueError, match="engine"):
        replay([demo_trace(100, 10)], SimConfig(), progress=False, engine="fast")


#: two sockets with CPUs (nodes 0 and 1) and two CPU-less CXL nodes behind them (2 and 3)
FOUR_NODES: dict[str, Any] = {
    "nodes": [
        {"id": 0, "pages": 30, "toptier": True, "cpus": "0-3"},
        {"id": 1, "pages": 20, "toptier": True, "cpus": "4-7"},
        {"id": 2, "pages": 400, "toptier": False, "promotion_target": 0},
        {"id": 3, "pages": 400, "toptier": False, "promotion_target": 1},
    ]
}


def _two_sockets(seed: int, column: str) -> TraceChunk:
    """A generated trace whose accesses come from both sockets (a ``nid`` or ``cpu`` column)."""
    base = _generated(seed)
    rng = np.random.default_rng(seed + 100)
    assert base.pfn is not None
    # each page mostly from one socket, sometimes from the other (F4: the target changes)
    socket = (base.pfn % 2).astype(np.int64) ^ (rng.random(len(base)) < 0.2)
    if column == "nid":
        return TraceChunk(time_ns=base.time_ns, pfn=base.pfn, nid=socket.astype(np.int32))
    cpu = socket * 4 + rng.integers(0, 4, len(base))
    return TraceChunk(time_ns=base.time_ns, pfn=base.pfn, cpu=cpu.astype(np.int32))


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("column", ["nid", "cpu"])
def test_four_nodes_accesses_from_both_sockets(seed: int, column: str) -> None:
    # the oracle of the scaled interval alone (searched, the whole trace's first-touch placement
    # wins here and promotes nothing): its placement over both sockets is what is tested
    cfg = SimConfig(
        topology=FOUR_NODES, sources=ALL_SOURCES, promoter={"interval_ms": 10}, oracle_interval_ms=200
    )
    policies = ["pghot", "none", "second-access", "numab2", "tpp", "oracle", "memtis", "hash/bucket"]
    a, b = _both([_two_sockets(seed, column)], cfg, policies=policies)
    _same(a, b)
    nodes = a["policies"]["pghot"]["nodes"]
    assert nodes[0]["accesses"] > 0 and nodes[1]["accesses"] > 0
    for name in ("pghot", "second-access", "numab2", "tpp", "hash/bucket"):  # to the accessing socket
        nodes = a["policies"][name]["nodes"]
        assert nodes[0]["promotions"] > 0 and nodes[1]["promotions"] > 0, name
    for name in ("oracle", "memtis"):  # the default node first, then the other (sim.bounds)
        nodes = a["policies"][name]["nodes"]
        assert nodes[0]["promotions"] > 0 and nodes[1]["promotions"] > 0, name
        assert nodes[0]["promotions"] + nodes[1]["promotions"] == a["policies"][name]["promotions"]


def test_four_nodes_without_a_node_column() -> None:
    cfg = SimConfig(topology=FOUR_NODES, sources=ALL_SOURCES[:2], promoter={"interval_ms": 10})
    a, b = _both([_generated(3)], cfg, policies=["pghot", "none", "tpp"])
    _same(a, b)
    nodes = a["policies"]["pghot"]["nodes"]
    assert nodes[0]["accesses"] == 20_000 and nodes[1]["accesses"] == 0  # all from the default node


# -- the policies' lanes (pghot.sim.engine._Sim.each): work on the pool's threads ------------
#
# A small trace's pieces are below PARALLEL_MIN, so they would run on the main thread:
# these tests hand every piece to the lanes, with lanes two items deep and turns of one
# item, so that the main thread waits for full lanes and more policies than
# threads take turns (the paths a real trace takes).

LANE_POLICIES = ["pghot", "none", "second-access", "numab2", "tpp", "oracle"]


@pytest.fixture
def tight_lanes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "PARALLEL_MIN", 0)
    monkeypatch.setattr(engine, "LANE_DEPTH", 2)
    monkeypatch.setattr(engine, "LANE_TURN", 1)


def _policy_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("pghot-policy")]


@pytest.mark.parametrize(("threads", "parallel_min"), [(2, 0), (3, 0), (7, 0), (16, 0), (2, 200), (16, 800)])
@pytest.mark.usefixtures("tight_lanes")
def test_lanes_do_not_change_the_result(
    monkeypatch: pytest.MonkeyPatch, threads: int, parallel_min: int
) -> None:
    """9 lanes (the oracle's search adds two candidates) on fewer threads (turns of one
    item) and on more (each lane runs until empty); every piece queued, or some of them
    run on the main thread between queued ones (``parallel_min``)."""
    monkeypatch.setattr(engine, "PARALLEL_MIN", parallel_min)
    cfg = SimConfig(top_pages=60, sources=ALL_SOURCES, tracker={"threshold": 2}, promoter={"interval_ms": 20})
    trace = [_generated(5)]
    kw: dict[str, Any] = {"policies": [*LANE_POLICIES, "hash/bucket"]}
    one = replay(trace, cfg, progress=False, threads=1, **kw).to_dict(heatmap=True)
    many = replay(trace, cfg, progress=False, threads=threads, **kw).to_dict(heatmap=True)
    _same(one, many)
    assert sum(p["promotions"] for p in one["policies"].values()) > 0
    assert not _policy_threads()


def _capture_sims(
    monkeypatch: pytest.MonkeyPatch, then: Callable[[Any], None] = lambda sim: None
) -> list[Any]:
    """The replay drivers (engine._Sim) made from now on, each passed to ``then`` once built."""
    sims: list[Any] = []
    init = engine._Sim.__init__

    def sim_init(self: Any, *args: Any, **kw: Any) -> None:
        init(self, *args, **kw)
        sims.append(self)
        then(self)

    monkeypatch.setattr(engine._Sim, "__init__", sim_init)
    return sims


@pytest.mark.usefixtures("tight_lanes")
def test_a_failed_lane_runs_nothing_more_and_its_error_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    """second-access fails on its 2nd piece with pieces queued behind it: none of them
    runs, the error is raised by replay (from a pool thread), every thread is joined."""
    monkeypatch.setattr(engine, "LANE_DEPTH", 4)
    sims = _capture_sims(monkeypatch)
    calls: list[str] = []
    real = policies._SecondAccess.run_piece

    def failing(self: Any, *args: Any) -> None:
        calls.append(threading.current_thread().name)
        if len(calls) == 2:
            sim = sims[0]
            lane = sim.lanes[[p.name for p in sim.policies].index(self.name)]
            for _ in range(5000):  # until the main thread has filled the lane behind this piece
                with sim.lanes_cv:
                    if len(lane) >= engine.LANE_DEPTH and sum(w is engine._run_piece for w, _ in lane) >= 2:
                        break
                time.sleep(0.001)
            raise RuntimeError("policy failed")
        real(self, *args)

    monkeypatch.setattr(policies._SecondAccess, "run_piece", failing)
    cfg = SimConfig(top_pages=60)
    with pytest.raises(RuntimeError, match="policy failed"):
        replay([_generated(5, n=40_000)], cfg, progress=False, threads=2, policies=LANE_POLICIES)
    assert len(calls) == 2 and calls[1].startswith("pghot-policy"), calls
    assert not _policy_threads()


@pytest.mark.parametrize("threads", [2, 64])  # turns of one item; a thread per lane
@pytest.mark.usefixtures("tight_lanes")
def test_ctrl_c_while_the_main_thread_waits_for_a_full_lane(
    monkeypatch: pytest.MonkeyPatch, threads: int
) -> None:
    """Each lane's first piece holds its thread until the replay stops, so the lanes fill
    and the main thread waits in each(); a real SIGINT then.  The held pieces see the
    stop, nothing queued starts, and every policy thread is joined."""
    monkeypatch.setattr(engine, "LANE_DEPTH", 3)
    main = threading.main_thread()
    fired = threading.Event()
    timers: list[threading.Timer] = []

    class Trap(threading.Condition):
        def wait(self, timeout: float | None = None) -> bool:
            if threading.current_thread() is main and not fired.is_set():
                fired.set()  # the main thread waits for a full lane: interrupt it there
                assert main.ident is not None
                timers.append(threading.Timer(0.05, signal.pthread_kill, (main.ident, signal.SIGINT)))
                timers[-1].start()
            return super().wait(timeout)

    def trap(sim: Any) -> None:
        sim.lanes_cv = Trap()

    _capture_sims(monkeypatch, trap)
    real_piece = engine._run_piece
    held: set[str] = set()
    late: list[str] = []
    unstopped: list[str] = []

    def gated(p: Any, *args: Any) -> None:
        if p.name in held:
            if fired.is_set():
                late.append(p.name)  # a queued piece started after the interrupt
            real_piece(p, *args)
            return
        held.add(p.name)
        if not p.stop.wait(5):  # (an assert here would be a lane error, hidden by the interrupt)
            unstopped.append(p.name)

    monkeypatch.setattr(engine, "_run_piece", gated)
    try:
        with pytest.raises(KeyboardInterrupt):
            replay(
                [_generated(5, n=40_000)],
                SimConfig(top_pages=200),
                progress=False,
                threads=threads,
                policies=LANE_POLICIES,
            )
    finally:
        for t in timers:
            t.join()
    assert fired.is_set() and held and late == [] and unstopped == []
    assert not _policy_threads()


@pytest.mark.usefixtures("tight_lanes")
def test_a_pool_that_refuses_work_fails_the_replay_instead_of_hanging(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The pool's submit raises when a lane's drain queues its next turn (as at interpreter
    shutdown): the lane fails with that error, replay raises it, nothing waits for a
    drain that never comes."""

    def refusing(sim: Any) -> None:
        real, calls = sim.pool.submit, []

        def submit(*args: Any) -> Any:
            if threading.current_thread().name.startswith("pghot-policy"):
                calls.append(1)
                if len(calls) == 3:
                    raise RuntimeError("cannot schedule new futures")
            return real(*args)

        sim.pool.submit = submit

    _capture_sims(monkeypatch, refusing)
    raised: list[BaseException] = []

    def run() -> None:
        try:
            replay(
                [_generated(5)], SimConfig(top_pages=60), progress=False, threads=2, policies=LANE_POLICIES
            )
        except BaseException as e:
            raised.append(e)

    th = threading.Thread(target=run, daemon=True)  # (a hang fails the test, not the session)
    th.start()
    th.join(60)
    assert not th.is_alive(), "the replay hangs"
    assert len(raised) == 1 and "cannot schedule" in str(raised[0])
    assert not _policy_threads()
