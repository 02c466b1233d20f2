"""The compiled memory gives what its pure-Python specification gives, call for call.

:class:`pghot.machine.memory.TieredMemory` (the compiled ``pghot._memory``
core) and :class:`pghot.model.memory.TieredMemory` (the reference) run the
same random operations side by side: allocations with and without a node,
frees, accesses with repeats and new pages, migrations one at a time and in
batches (with ``return_pages``), proactive demotions, re-checks, candidate counts, and the
internal ``serve``/``pfns_into`` entry points against the reference's
``access``.  Tiny tiers make CLOCK demotion, ``NO_SPACE``, ``MemoryError``
and ping-pongs happen; the topologies are the two-tier machine, two top-tier
plus two lower-tier nodes laid out out of order, and one with empty nodes.
With fewer logical pages than a node has PFNs the compiled memory holds
slots for only the node's first ``logical_pages`` PFNs (the reference holds
them all): the same answers must come out, migrations of PFNs beyond
included.
Every return value and exception (type and message) must agree, and after
every step the counters, the PFN of every page, the pages of every node, the
free counts and the trackers' movable bits.
"""

from __future__ import annotations

import doctest
import importlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import pghot
from pghot import Node, Topology
from pghot.machine.memory import TieredMemory
from pghot.model.memory import TieredMemory as ReferenceMemory

TOPOLOGIES = {
    "two-tier": Topology.two_tier(3, 8),
    # lower-tier nodes first in PFN order, the default node is node 2
    "two-plus-two": Topology(
        [
            Node(0, 20, 2, True),
            Node(1, 0, 6, False, has_cpu=False),
            Node(2, 30, 3, True),
            Node(3, 8, 5, False),
        ],
        default_node=2,
    ),
    # empty nodes on both tiers
    "empty-nodes": Topology(
        [
            Node(0, 0, 2, True),
            Node(1, 2, 0, True),
            Node(2, 2, 0, False, has_cpu=False),
            Node(3, 2, 7, False),
        ],
        default_node=0,
    ),
}


def _outcome(f: Callable[[], Any]) -> Any:
    """What a call gives, as a comparable value: its result, or its exception."""
    try:
        r = f()
    except (ValueError, TypeError, MemoryError) as exc:
        return ("raised", type(exc).__name__, str(exc))
    return _plain(r)


def _plain(r: Any) -> Any:
    if isinstance(r, np.ndarray):
        return ("array", r.dtype.str, r.tolist())
    if isinstance(r, tuple):
        return tuple(_plain(x) for x in r)
    return r


class MemoryPair(RuleBasedStateMachine):
    """The compiled memory and the reference, driven by the same operations."""

    @initialize(
        name=st.sampled_from(sorted(TOPOLOGIES)),
        demotion=st.booleans(),
        with_tracker=st.booleans(),
        ping_pong_ms=st.sampled_from([0, 10, 5000]),
        extra_pages=st.sampled_from([0, 6, None]),
    )
    def setup(
        self, name: str, demotion: bool, with_tracker: bool, ping_pong_ms: int, extra_pages: int | None
    ) -> None:
        self.topo = TOPOLOGIES[name]
        self.nids = [n.nid for n in self.topo.nodes]
        self.tops = [n.nid for n in self.topo.nodes if n.toptier]
        self.lows = [n for n in self.topo.nodes if not n.toptier and n.nr_pages]
        total = sum(n.nr_pages for n in self.topo.nodes)
        # None: 4 logical pages, fewer than the larger nodes' PFNs (not all of them materialised)
        self.npages = 4 if extra_pages is None else total + extra_pages
        self.max_pfn = max(n.end_pfn for n in self.topo.nodes)
        kw: dict[str, Any] = {
            "demotion": demotion,
            "ping_pong_window_ms": ping_pong_ms,
            "logical_pages": self.npages,
            "hz": 1000,
        }
        self.trackers = [pghot.Tracker(self.topo), pghot.Tracker(self.topo)] if with_tracker else [None, None]
        self.mem = TieredMemory(self.topo, self.trackers[0], **kw)
        self.ref = ReferenceMemory(self.topo, self.trackers[1], **kw)
        self.now = 0
        self.probes = 0

    def both(self, f: Callable[[Any], Any]) -> Any:
        got = _outcome(lambda: f(self.mem))
        want = _outcome(lambda: f(self.ref))
        assert got == want
        if got and isinstance(got, tuple) and got[0] == "raised":
            event(f"raised {got[1]}")
        return got

    def in_range(self, raw: list[int]) -> list[int]:
        return [p % self.npages for p in raw]

    def pfns_to_move(self, picks: list[int]) -> list[int]:
        """PFNs holding pages, mostly lower-tier ones (a pick >= 1000: any PFN, used or not)."""
        used = np.flatnonzero(self.ref.pages_of(np.arange(self.max_pfn + 2)) >= 0)
        lower = [int(p) for p in used if not self.topo.is_toptier(self.topo.node_of(int(p)))]
        out = []
        for k in picks:
            if k >= 1000 or not used.size:
                out.append(k % (self.max_pfn + 2))
            elif lower and k % 4:
                out.append(lower[k % len(lower)])
            else:
                out.append(int(used[k % used.size]))
        return out

    @rule(
        raw=st.lists(st.integers(0, 40), max_size=6),
        node=st.sampled_from([None, None, 0, 1, 2, 3, 7]),
        fresh=st.booleans(),
        wild=st.booleans(),
    )
    def allocate(self, raw: list[int], node: int | None, fresh: bool, wild: bool) -> None:
        pages = raw if wild else self.in_range(raw)
        if fresh:  # distinct pages not placed yet: the call can succeed
            pages = [p for p in dict.fromkeys(pages) if p >= self.npages or self.ref.pfn_of(p) < 0]
        self.both(lambda m: m.allocate(pages, node=node))

    @rule(raw=st.lists(st.integers(0, 40), max_size=4), placed=st.booleans())
    def free(self, raw: list[int], placed: bool) -> None:
        pages = self.in_range(raw)
        if placed:
            pages = [p for p in pages if self.ref.pfn_of(p) >= 0]
        self.both(lambda m: m.free(pages))

    @rule(raw=st.lists(st.integers(0, 40), max_size=10), wild=st.booleans())
    def access(self, raw: list[int], wild: bool) -> None:
        pages = raw if wild else self.in_range(raw)
        self.both(lambda m: m.access(pages))

    @rule(raw=st.lists(st.integers(0, 40), max_size=10), dt=st.integers(0, 4))
    def serve(self, raw: list[int], dt: int) -> None:
        """The internal entry point against the reference's access and the old hit test."""
        pages = self.in_range(raw)
        arr = np.array(pages, dtype=np.uint32)
        times = self.now + np.arange(len(pages), dtype=np.int64) * dt
        bins = np.zeros(int(times[-1]) // 3 + 1 if len(pages) else 1, dtype=np.int64)
        got = _outcome(lambda: self.mem.serve(arr, times, 3, bins))
        pfns = _outcome(lambda: self.ref.access(pages))
        if pfns[0] == "raised":
            assert got == pfns
            return
        topo = self.topo
        on_top = np.array([p >= 0 and topo.is_toptier(topo.node_of(p)) for p in pfns[2]], dtype=bool)
        want_bins = np.bincount(times[on_top] // 3, minlength=bins.shape[0]) if len(pages) else bins
        assert got == int(on_top.sum())
        assert bins.tolist() == want_bins.tolist()

    @rule(raw=st.lists(st.integers(0, 40), max_size=10), unsigned=st.booleans(), wild=st.booleans())
    def pfns_into(self, raw: list[int], unsigned: bool, wild: bool) -> None:
        pages = raw if wild else self.in_range(raw)
        if any(p >= self.npages for p in pages):
            with pytest.raises(ValueError, match="logical_pages"):
                self.mem.pfns_into(np.array(pages, dtype=np.uint32), np.empty(len(pages), dtype=np.int64))
            return
        out = np.full(len(pages) + 1, 12345, dtype=np.uint64 if unsigned else np.int64)
        self.mem.pfns_into(np.array(pages, dtype=np.uint32), out)
        want = self.ref.pfns_of(pages)
        assert out[: len(pages)].astype(np.int64).tolist() == want.tolist()
        assert int(out[-1]) == 12345

    @rule(pick=st.integers(0, 1100), nid=st.sampled_from([0, 0, 2, 1, 3]), dt=st.integers(0, 12))
    def migrate(self, pick: int, nid: int, dt: int) -> None:
        self.now += dt
        (pfn,) = self.pfns_to_move([pick])
        self.both(lambda m: m.migrate(pfn, nid, self.now))

    @rule(
        picks=st.lists(st.integers(0, 1100), max_size=8),
        nid=st.sampled_from([0, 0, 2, 1, 3]),
        dt=st.integers(0, 12),
        return_pages=st.booleans(),
    )
    def migrate_batch(self, picks: list[int], nid: int, dt: int, return_pages: bool) -> None:
        self.now += dt
        pfns = self.pfns_to_move(picks)
        self.both(lambda m: m.migrate_batch(pfns, nid, self.now, return_pages=return_pages))

    @rule(n=st.integers(-1, 6), nid=st.sampled_from([0, 0, 2, 1, 3, 9]), dt=st.integers(0, 12))
    def demote(self, n: int, nid: int, dt: int) -> None:
        self.now += dt
        self.both(lambda m: m.demote(nid, n, self.now))

    @rule(pfns=st.lists(st.integers(0, 40), max_size=8), nid=st.sampled_from([0, 1, 2, 3]))
    def recheck(self, pfns: list[int], nid: int) -> None:
        self.both(lambda m: m.recheck(pfns, nid))

    @rule(n=st.integers(-1, 5), nrl=st.booleans())
    def count(self, n: int, nrl: bool) -> None:
        self.both(lambda m: m.count_promote_candidates(n, no_rate_limit=nrl))

    @rule(pfns=st.lists(st.integers(0, 40), max_size=6))
    def lookups(self, pfns: list[int]) -> None:
        self.both(lambda m: m.pages_of(pfns))
        self.both(lambda m: [m.page_at(p) for p in pfns])

    @invariant()
    def same_state(self) -> None:
        if not hasattr(self, "mem"):
            return
        self.mem.check()
        self.ref.check()
        stats = self.mem.stats()
        assert stats == self.ref.stats()
        for key in ("pgdemote_kswapd", "promote_fail_no_space", "ping_pong"):
            if stats[key]:
                event(f"{key} happened")
        assert len(self.mem) == len(self.ref)
        every = np.arange(self.npages)
        assert self.mem.pfns_of(every).tolist() == self.ref.pfns_of(every).tolist()
        assert [self.mem.node_of_page(p) for p in range(self.npages)] == [
            self.ref.node_of_page(p) for p in range(self.npages)
        ]
        for nid in self.nids:
            assert self.mem.pages_on(nid).tolist() == self.ref.pages_on(nid).tolist()
            assert self.mem.free_pages(nid) == self.ref.free_pages(nid)
            assert self.mem.used_pages(nid) == self.ref.used_pages(nid)
        assert self.mem.pages_of(np.arange(self.max_pfn + 2)).tolist() == (
            self.ref.pages_of(np.arange(self.max_pfn + 2)).tolist()
        )
        t0, t1 = self.trackers
        if t0 is not None and t1 is not None:
            # the movable bits: the same outcome for an access to every lower-tier PFN
            self.probes += 1
            pfns = np.concatenate([np.arange(n.start_pfn, n.end_pfn) for n in self.lows])
            got = [t0.record_access(int(p), -1, pghot.Source.HW_HINTS, self.probes) for p in pfns]
            want = [t1.record_access(int(p), -1, pghot.Source.HW_HINTS, self.probes) for p in pfns]
            assert got == want
            for p, o in zip(pfns.tolist(), got):
                assert (o == pghot.Outcome.NOT_MOVABLE) == (self.ref.page_at(p) < 0)
            assert t0.stats() == t1.stats()


TestMemoryPair = MemoryPair.TestCase


def _call(m: Any, args: tuple[Any, ...]) -> Any:
    name, *rest = args
    if name == "migrate_batch":
        return m.migrate_batch(*rest, return_pages=True)
    return getattr(m, name)(*rest)


def _run_random(topo: Topology, seed: int, steps: int, **kw: Any) -> None:
    """Seeded random operation sequences, longer than the state machine's."""
    rng = np.random.default_rng(seed)
    trackers = [pghot.Tracker(topo), pghot.Tracker(topo)]
    mem = TieredMemory(topo, trackers[0], **kw)
    ref = ReferenceMemory(topo, trackers[1], **kw)
    npages = mem.logical_pages
    tops = [n.nid for n in topo.nodes if n.toptier]
    hi = max(n.end_pfn for n in topo.nodes) + 2
    now = 0
    for _ in range(steps):
        op = int(rng.integers(0, 5))
        now += int(rng.integers(0, 20))
        if op <= 1:
            args: tuple[Any, ...] = ("access", rng.integers(0, npages, int(rng.integers(1, 40))))
        elif op == 2:
            gone = np.unique(rng.integers(0, npages, 3))
            args = ("free", gone[ref.pfns_of(gone) >= 0])
        else:
            pfns = rng.integers(0, hi, int(rng.integers(1, 16)))
            args = ("migrate_batch", pfns, tops[int(rng.integers(0, len(tops)))], now)
        assert _outcome(lambda: _call(mem, args)) == _outcome(lambda: _call(ref, args))  # noqa: B023
    assert mem.stats() == ref.stats()
    every = np.arange(npages)
    assert mem.pfns_of(every).tolist() == ref.pfns_of(every).tolist()
    mem.check()
    lows = [n for n in topo.nodes if not n.toptier and n.nr_pages]
    pfns = np.concatenate([np.arange(n.start_pfn, n.end_pfn) for n in lows])
    got = [trackers[0].record_access(int(p), -1, 0, now) for p in pfns]
    assert got == [trackers[1].record_access(int(p), -1, 0, now) for p in pfns]
    assert [o == pghot.Outcome.NOT_MOVABLE for o in got] == [ref.page_at(int(p)) < 0 for p in pfns]
    s = mem.stats()
    assert s["pgdemote_kswapd"] > 0 and s["pgpromote_success"] > 0  # the sequence moved pages


@pytest.mark.parametrize("logical_pages", [None, 60])
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("name", ["two-tier", "two-plus-two"])
def test_long_random_sequences_match_the_reference(name: str, seed: int, logical_pages: int | None) -> None:
    """60 logical pages: the compiled memory materialises 60 PFNs of each lower-tier
    node (of 200, of 100), and the random migrations reach the PFNs beyond."""
    topo = {
        "two-tier": Topology.two_tier(40, 200),
        "two-plus-two": Topology(
            [
                Node(0, 300, 20, True),
                Node(1, 0, 100, False),
                Node(2, 400, 25, True),
                Node(3, 100, 100, False),
            ],
            default_node=0,
        ),
    }[name]
    _run_random(topo, seed, 300, ping_pong_window_ms=50, hz=1000, logical_pages=logical_pages)


def test_serve_checks_its_arguments_and_changes_nothing() -> None:
    mem = TieredMemory(Topology.two_tier(2, 4), logical_pages=8)
    pages = np.array([1, 2], dtype=np.uint32)
    times = np.array([0, 5], dtype=np.int64)
    bins = np.zeros(2, dtype=np.int64)
    for bad in [
        lambda: mem.serve(np.array([1, 8], dtype=np.uint32), times, 5, bins),  # page out of range
        lambda: mem.serve(pages, np.array([5, 0], dtype=np.int64), 5, bins),  # times out of order
        lambda: mem.serve(pages, np.array([-1, 0], dtype=np.int64), 5, bins),  # negative time
        lambda: mem.serve(pages, times[:1], 5, bins),  # lengths differ
        lambda: mem.serve(pages, times, 0, bins),  # bin width
        lambda: mem.serve(pages, times, 1, bins),  # bins too short for time 5
    ]:
        with pytest.raises(ValueError):
            bad()
    with pytest.raises((TypeError, ValueError)):
        mem.serve(pages.astype(np.float64), times, 5, bins)  # type: ignore[arg-type]
    assert len(mem) == 0 and bins.tolist() == [0, 0]
    assert mem.serve(pages, times, 5, bins) == 2 and bins.tolist() == [1, 1]
    with pytest.raises(MemoryError):  # 7 new pages, 4 free PFNs: nothing placed
        mem.serve(np.arange(1, 8, dtype=np.uint32), np.zeros(7, dtype=np.int64), 5, bins)
    assert len(mem) == 2 and bins.tolist() == [1, 1]
    mem.check()


def test_threads_keep_the_memory_and_the_movable_bits_consistent(
    run_threads: Callable[..., list[Any]],
) -> None:
    """Accesses, migrations, frees and serves from several threads: the state stays
    one bijection and the tracker's movable bits end in the memory's state."""
    topo = Topology.two_tier(16, 64)
    tracker = pghot.Tracker(topo)
    mem = TieredMemory(topo, tracker, logical_pages=70)

    def worker(seed: int) -> int:
        rng = np.random.default_rng(seed)
        for i in range(300):
            op = i % 4
            if op == 0:
                mem.access(rng.integers(0, 70, 8))
            elif op == 1:
                mem.migrate_batch(rng.integers(0, 80, 6), 0, i)
            elif op == 2:
                gone = np.unique(rng.integers(0, 70, 3))
                try:
                    mem.free(gone)
                except ValueError:  # another thread freed one first, or it was never placed
                    pass
            else:
                try:
                    mem.serve(
                        rng.integers(0, 70, 8).astype(np.uint32),
                        np.full(8, i, np.int64),
                        1000,
                        np.zeros(1, np.int64),
                    )
                except MemoryError:
                    pass
        return seed

    assert sorted(run_threads([lambda s=s: worker(s) for s in range(4)])) == [0, 1, 2, 3]
    mem.check()
    for pfn in range(16, 80):
        o = tracker.record_access(pfn, -1, pghot.Source.HW_HINTS, 1)
        assert (o == pghot.Outcome.NOT_MOVABLE) == (mem.page_at(pfn) < 0)


@pytest.mark.parametrize("name", ["pghot.model.memory", "pghot._memory"])
def test_examples_of_the_reference_and_of_the_kernels(name: str) -> None:
    result = doctest.testmod(
        importlib.import_module(name),
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        report=False,
    )
    assert result.attempted > 0 and result.failed == 0
