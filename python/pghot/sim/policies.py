"""The policies a replay compares: pghot, its baselines, the kernel's alternatives, the designs.

Each policy owns a simulated machine (its own
:class:`pghot.machine.memory.TieredMemory`) and is driven by the engine
(:mod:`pghot.sim.engine`) with the same accesses and reports: ``segment``
serves a run of accesses and takes the reports made meanwhile, ``step``
runs a promoter round.  A policy sees its :class:`Machine` (its memory,
tracker and promoter, the config and the clock), not the engine; what it
promotes comes back from the promoter (:meth:`Promoter.run_round`) or
from its own migrations.  The kernel's alternatives (``numab2``, ``tpp``)
are in :mod:`pghot.sim.alternatives`; :data:`POLICIES` names them all.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pghot._types import Outcome, Source
from pghot._validate import ms_to_jiffies
from pghot.machine.memory import TieredMemory
from pghot.machine.promoter import Promoter
from pghot.machine.sources import Reports
from pghot.model import sim as reference
from pghot.model.memory import TieredMemory as ReferenceMemory
from pghot.sim.config import SimConfig, _build_pghot
from pghot.topology import Topology
from pghot.tracker import DESIGNS

__all__ = [
    "ALTERNATIVES",
    "BASELINES",
    "DESIGNS",
    "POLICIES",
    "THROTTLED_RATIO",
    "Clock",
    "Machine",
    "build_machine",
    "report_keys",
]

#: baseline policies :func:`replay` runs beside the configured ``pghot``
BASELINES = ("none", "v2", "second-access")

_TOP = 0  # the top-tier node of the two-tier machine (Machine.target_nid's default)
_NO_ROUND = 2**62
#: rounds a policy runs between two looks at the replay's stop event
ROUNDS_PER_CHECK = 1 << 15


class Stopped(Exception):
    """A policy's work given up because the replay is stopping (Ctrl-C, an error)."""


# -- the machine a policy runs on ----------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Clock:
    """The simulated clock as a policy sees it."""

    #: jiffies per second
    hz: int
    #: jiffies per metrics bin
    bin_jiffies: int
    #: metrics bins of the whole trace (every access time is below ``nbins * bin_jiffies``)
    nbins: int = 1


@dataclasses.dataclass(frozen=True)
class Machine:
    """What one policy runs on: its own memory, and for pghot its tracker and promoter."""

    #: the compiled memory, or its reference (``engine="reference"``)
    memory: TieredMemory | ReferenceMemory
    #: top-tier PFNs are ``0 .. top_pages - 1`` (the two-tier topology, and a configured
    #: one as :meth:`SimConfig.sim_topology` lays it out)
    top_pages: int
    clock: Clock
    config: SimConfig
    tracker: Any = None
    promoter: Promoter | None = None
    #: the stages are compiled (``engine="compiled"``), else the reference ones of
    #: :mod:`pghot.model.sim`
    compiled: bool = True
    #: the topology's default node: where a report without a node is promoted to, and
    #: the first node memtis and the oracle fill (then the other top-tier nodes).  pghot promotes
    #: to each record's target node; second-access, numab2 and tpp to each report's
    #: (``_Policy._targets``): the accessing node; TPP's kswapd runs on every top-tier node.
    target_nid: int = _TOP


def build_machine(
    config: SimConfig,
    topology: Topology,
    logical_pages: int,
    bin_jiffies: int,
    tracker_kw: Mapping[str, Any] | None = None,
    promoter_kw: Mapping[str, Any] | None = None,
    *,
    nbins: int = 1,
    engine: str = "compiled",
) -> Machine:
    """A machine for one policy: memory only, or (with ``tracker_kw``) a tracker and promoter too.

    ``engine="reference"`` builds it on the reference memory
    (:class:`pghot.model.memory.TieredMemory`) for the reference stages.

    Examples
    --------
    >>> from pghot.sim import SimConfig
    >>> topo = Topology.two_tier(4, 16)
    >>> m = build_machine(SimConfig(), topo, logical_pages=12, bin_jiffies=1000)
    >>> m.top_pages, m.memory.logical_pages, m.tracker, m.promoter
    (4, 12, None, None)
    >>> m = build_machine(SimConfig(), topo, 12, 1000, {"threshold": 3}, {"batch": 8})
    >>> m.tracker.threshold, m.promoter.batch, m.memory.tracker is m.tracker
    (3, 8, True)
    """
    top = sum(n.nr_pages for n in topology.nodes if n.toptier)
    clock = Clock(config.hz, bin_jiffies, nbins)
    compiled = engine == "compiled"
    mem_cls = TieredMemory if compiled else ReferenceMemory
    target = topology.default_node
    if tracker_kw is None:
        mem = mem_cls(topology, None, logical_pages=logical_pages, **config.memory.kwargs())
        return Machine(mem, top, clock, config, compiled=compiled, target_nid=target)
    tracker, mem, promoter = _build_pghot(
        config, topology, tracker_kw, promoter_kw or {}, logical_pages, mem_cls
    )
    return Machine(mem, top, clock, config, tracker, promoter, compiled, target)


# -- policies -------------------------------------------------------------------------


def _cut(reps: Reports, a: int, b: int) -> Reports:
    """Reports ``[a, b)`` (their hint-fault latencies too)."""
    lat = None if reps.latency is None else reps.latency[a:b]
    return Reports(reps.pfns[a:b], reps.nids[a:b], reps.srcs[a:b], reps.nows[a:b], lat)


def report_keys(reps: Reports) -> np.ndarray:
    """The order of reports against rounds: time, page-table scans first at a time.

    A round at ``T`` comes after the reports whose key is below ``2 * T + 1``:
    those before ``T`` and the page-table scan's at ``T`` (a scan due at a
    round's time has run when the round starts; an access at that time, and
    the report it makes, comes after it).

    >>> r = Reports(np.array([1, 2]), np.array([0, -1]), np.array([0, 1], np.int8), np.array([5, 5]))
    >>> report_keys(r).tolist()
    [11, 10]
    """
    return reps.nows.astype(np.int64) * 2 + (reps.srcs != int(Source.PGTABLE_SCAN))


class _Policy:
    """No promotion: the memory, its hits, and the oracle's tallies.

    The engine hands a policy the trace a stretch at a time
    (:meth:`run_piece`: the accesses and reports of a time range, with the
    rounds due in it); a policy touches only its own machine and tallies,
    so the engine runs the policies of a replay in threads (the compiled
    stages release the GIL) and reads their tallies between stretches.
    A policy with periodic rounds (``next_round``, every ``round_j``
    jiffies) implements ``segment`` and ``step``; the default
    :meth:`run_piece` interleaves them in the order of the module
    docstring of :mod:`pghot.sim.engine`.
    """

    kind = "none"
    #: promotions are made in the fault path, one page per call, paid by the faulting
    #: thread (the single-page migration cost); else by a kernel thread's batched rounds
    fault_path = False

    def __init__(
        self, name: str, machine: Machine, description: str = "first-touch placement, no promotion"
    ) -> None:
        self.name = name
        self.machine = machine
        self.mem: Any = machine.memory  # compiled (serve, second_access) or the reference
        self.top = machine.top_pages
        #: the default node (see Machine.target_nid)
        self.target = machine.target_nid
        # several top-tier nodes: each report's target, nid + 1 -> target nid (None: self.target)
        topo = machine.memory.topology
        self.target_of: np.ndarray | None = None
        if len(topo.toptier_nids()) > 1:
            top = max(n.nid for n in topo.nodes)
            self.target_of = np.full(top + 2, topo.default_node, dtype=np.int64)
            for n in topo.nodes:
                self.target_of[n.nid + 1] = topo.promotion_target(n.nid)
        self.bin_j = machine.clock.bin_jiffies
        self.compiled = machine.compiled
        self.hits = 0
        self.hit_bins = np.zeros(machine.clock.nbins, dtype=np.int64)
        self.promo_bins = np.zeros(machine.clock.nbins, dtype=np.int64)
        self.pending: list[np.ndarray] = []
        self.judged = self.precise = 0
        self.hot_total = self.hot_resident = 0
        self.recall_series: list[tuple[float, float]] = []
        self.next_round = _NO_ROUND  # no promoter rounds
        self.round_j = 0
        self.description = description
        #: set by the engine when the replay stops: a long stretch gives up (Stopped)
        self.stop: threading.Event | None = None

    def _targets(self, reps: Reports) -> np.ndarray | None:
        """The promotion target of each report's accessing node, or None (one top-tier node).

        A socket is its own target, a lower-tier node (a CPU on it) maps to
        its ``promotion_target``, -1 (unknown) to the default node.
        """
        if self.target_of is None:
            return None
        return self.target_of[reps.nids.astype(np.int64) + 1]

    def _promoted(self, pages: np.ndarray, now: int) -> None:
        """Pages promoted at ``now``: judged at the end of the oracle interval."""
        if pages.shape[0]:
            self.pending.append(pages)
            self.promo_bins[now // self.bin_j] += int(pages.shape[0])

    def serve(self, pages: np.ndarray, times: np.ndarray) -> None:
        if self.compiled:
            self.hits += self.mem.serve(pages, times, self.bin_j, self.hit_bins)
        else:
            self.hits += reference.serve(self.mem, pages, times, self.bin_j, self.hit_bins, self.top)

    def segment(self, pages: np.ndarray, times: np.ndarray, reps: Reports) -> None:
        self.serve(pages, times)
        if reps.pfns.shape[0]:
            self.reports(reps)

    def reports(self, reps: Reports) -> None:
        pass

    def step(self, now: int) -> None:
        pass

    def run_piece(self, pages: np.ndarray, times: np.ndarray, reps: Reports, horizon: int) -> None:
        """The accesses and reports of a time range ending before ``horizon``, and its rounds.

        Every round due before ``horizon`` runs (``step``), after the
        accesses before its time and the reports whose :func:`report_keys`
        come before it; ``reps`` are sorted by those keys.
        """
        i = r = 0
        n, nr = pages.shape[0], reps.pfns.shape[0]
        if self.next_round < horizon:
            keys = report_keys(reps)
            ran = 0
            while self.next_round < horizon:
                t = self.next_round
                j = int(np.searchsorted(times, t, side="left"))
                q = int(np.searchsorted(keys, 2 * t + 1, side="left"))
                if j > i or q > r:
                    self.segment(pages[i:j], times[i:j], _cut(reps, r, q))
                i, r = j, q
                if self.idle():
                    # every round up to the next access (a round at T comes before the
                    # accesses at T), the next report (those of key >= 2T + 1) or the
                    # horizon is idle: counted at once (PromoterCore.run does the same)
                    tmax = horizon - 1
                    if i < n:
                        tmax = min(tmax, int(times[i]))
                    if r < nr:
                        tmax = min(tmax, (int(keys[r]) - 1) // 2)
                    k = (tmax - t) // self.round_j + 1
                    self.idle_rounds(t, t + (k - 1) * self.round_j, k)
                    self.next_round += k * self.round_j
                    continue
                self.step(t)
                self.next_round += self.round_j
                ran += 1
                if ran % ROUNDS_PER_CHECK == 0 and self.stop is not None and self.stop.is_set():
                    raise Stopped()
        if i < n or r < nr:
            self.segment(pages[i:], times[i:], _cut(reps, r, nr))

    def idle(self) -> bool:
        """Whether the next round would only count (a policy with rounds says)."""
        return False

    def idle_rounds(self, first: int, last: int, count: int) -> None:
        """Count ``count`` idle rounds from ``first`` to ``last`` (after :meth:`idle`)."""
        raise NotImplementedError

    def memory_bytes(self) -> int | None:
        return None

    def stats(self) -> dict[str, dict[str, int]]:
        return {"memory": self.mem.stats()}


class _SecondAccess(_Policy):
    """Promote a lower-tier page at its second reported access within the window.

    On a machine with several top-tier nodes it promotes to the promotion
    target of the report's accessing node (a socket itself; a CPU-less or
    lower-tier node's ``promotion_target``; unknown, -1: the default node),
    as the kernel's fault-path promotion goes to the faulting CPU's node.
    """

    kind = "second-access"
    fault_path = True

    def __init__(self, name: str, machine: Machine) -> None:
        c = machine.config
        win_ms = c.second_access_window_ms
        if win_ms is None:
            win_ms = int(c.tracker.get("freq_window_ms", 5000))
        super().__init__(
            name,
            machine,
            f"promote at the 2nd reported access within {win_ms} ms, immediately, no tracker",
        )
        self.window_ms = win_ms
        self.window_j = ms_to_jiffies(win_ms, c.hz)
        self.last = np.full(machine.memory.logical_pages, -1, dtype=np.int64)

    #: reports whose pages the reference loop looks up in one vectorised call
    LOOKUP_BLOCK = 4096

    def segment(self, pages: np.ndarray, times: np.ndarray, reps: Reports) -> None:
        """Serve the accesses and act on the reports, in time order.

        :func:`pghot.model.sim.second_access` is the specification; the
        compiled memory runs the same loop in one call
        (:meth:`pghot.machine.memory.TieredMemory.second_access`).
        """
        if reps.pfns.shape[0] == 0:
            self.serve(pages, times)
            return
        if self.compiled:
            n = reps.pfns.shape[0]
            moved = np.empty(n, dtype=np.int64)
            when = np.empty(n, dtype=np.int64)
            hits, k = self.mem.second_access(
                pages,
                times,
                self.bin_j,
                self.hit_bins,
                reps.pfns,
                reps.nows,
                self.last,
                self.window_j,
                self.target,
                moved,
                when,
                self._targets(reps),
            )
            self.hits += hits
            if k:
                self.pending.append(moved[:k])
                np.add.at(self.promo_bins, when[:k] // self.bin_j, 1)
            return

        def promoted(p: int, t: int) -> None:
            self._promoted(np.array([p], dtype=np.int64), t)

        self.hits += reference.second_access(
            self.mem,
            pages,
            times,
            reps.pfns,
            reps.nows,
            self.last,
            self.window_j,
            self.bin_j,
            self.hit_bins,
            self.top,
            promoted,
            self.LOOKUP_BLOCK,
            target=self.target,
            targets=self._targets(reps),
        )

    def memory_bytes(self) -> int | None:
        return 0


class _Pghot(_Policy):
    """A tracker and its promoter."""

    kind = "pghot"

    def __init__(self, name: str, machine: Machine, description: str) -> None:
        super().__init__(name, machine, description)
        assert machine.promoter is not None
        self.tracker = machine.tracker
        self.promoter = machine.promoter
        self.round_j = ms_to_jiffies(self.promoter.interval_ms, machine.clock.hz)
        self.next_round = self.round_j
        self.outcomes = np.zeros(8, dtype=np.int64)

    def reports(self, reps: Reports) -> None:
        pfns = self.mem.pfns_of(reps.pfns)
        out = np.asarray(self.tracker.record_accesses(pfns, reps.nids, reps.srcs, reps.nows))
        self.outcomes[: out.shape[0]] += out

    def step(self, now: int) -> None:
        self._promoted(self.promoter.run_round(now).pages, now)

    def run_piece(self, pages: np.ndarray, times: np.ndarray, reps: Reports, horizon: int) -> None:
        """As :meth:`_Policy.run_piece`; in one compiled call on the compiled machine.

        :meth:`pghot._kpromoted.PromoterCore.run` serves, records and runs
        the rounds without the GIL; the reference machine (or a Python
        tracker) takes the interleaving of ``segment`` and ``step``, its
        specification.
        """
        core = self.promoter._core
        if not self.compiled or core is None:
            super().run_piece(pages, times, reps, horizon)
            return
        a = r = 0
        while True:  # in calls of at most ROUNDS_PER_CHECK rounds: a stop is seen in between
            hits, self.next_round, moved, da, dr = core.run(
                pages[a:],
                times[a:],
                reps.pfns[r:],
                reps.nids[r:],
                reps.srcs[r:],
                reps.nows[r:],
                horizon,
                self.next_round,
                self.round_j,
                self.bin_j,
                self.hit_bins,
                self.promo_bins,
                self.outcomes,
                ROUNDS_PER_CHECK,
            )
            self.hits += hits
            if moved.shape[0]:
                self.pending.append(moved)
            a += da
            r += dr
            if self.next_round >= horizon:
                return
            if self.stop is not None and self.stop.is_set():
                raise Stopped()

    def idle(self) -> bool:
        return self.promoter.idle()

    def idle_rounds(self, first: int, last: int, count: int) -> None:
        self.promoter.idle_rounds(first, last, count)

    def memory_bytes(self) -> int | None:
        return int(self.tracker.memory_bytes())

    def stats(self) -> dict[str, dict[str, int]]:
        outcomes = {o.name: int(self.outcomes[o]) for o in Outcome if int(o) < self.outcomes.shape[0]}
        return {
            "memory": self.mem.stats(),
            "promoter": self.promoter.stats(),
            "tracker": {k: int(v) for k, v in self.tracker.stats().items()},
            "outcomes": outcomes,
        }


def _describe(tracker: Mapping[str, Any], promoter: Mapping[str, Any]) -> str:
    knobs = [f"{k}={v}" for k, v in {**tracker, **promoter}.items()]
    return "pghot, " + (", ".join(knobs) if knobs else "v2 defaults")


# the kernel's alternatives (numab2, tpp) subclass _Policy: imported once it is defined
from pghot.sim.alternatives import ALTERNATIVES  # noqa: E402

#: every policy :func:`pghot.sim.replay` selects among (its ``policies=``), besides the
#: designs of :data:`DESIGNS`
POLICIES = ("pghot", *BASELINES, *ALTERNATIVES, "pghot-throttled", "pghot-v8", "memtis", "damon", "oracle")
#: the demotion share (percent of promotions) at which ``pghot-throttled`` halves its rounds'
#: budget unless the config sets ``promoter.throttle_demotion_ratio``: demotions as many as
#: promotions, the proposal's "demotion rate approaches the promotion rate"
THROTTLED_RATIO = 100


def _check_policies(
    policies: Sequence[str] | None, baselines: Sequence[str] | None, designs: Sequence[str]
) -> list[str] | None:
    """``replay``'s ``policies`` checked (None when not given); errors name the argument.

    >>> _check_policies(["tpp", "pghot"], None, ())
    ['tpp', 'pghot']
    >>> _check_policies(["numab3"], None, ())
    Traceback (most recent call last):
    ...
    ValueError: policies must be among [...] or the designs [...], got 'numab3'
    """
    if policies is None:
        return None
    if baselines is not None or len(designs):
        raise ValueError("policies: give either policies or baselines and designs, not both")
    if isinstance(policies, (str, bytes)) or not isinstance(policies, Sequence):
        raise TypeError(f"policies must be a sequence of policy names, not {type(policies).__name__}")
    names = list(policies)
    if not names:
        raise ValueError(f"policies must name at least one policy, among {list(POLICIES)} or the designs")
    for n in names:
        if not isinstance(n, str) or (n not in POLICIES and n not in DESIGNS):
            raise ValueError(
                f"policies must be among {list(POLICIES)} or the designs {list(DESIGNS)}, got {n!r}"
            )
    for i, n in enumerate(names):
        if n in names[:i]:
            raise ValueError(f"policies: {n!r} is given twice")
    return names
