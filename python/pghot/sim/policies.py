"""The policies a replay compares: pghot, its baselines and the tracker designs.

Each policy owns a simulated machine (its own
:class:`pghot.machine.memory.TieredMemory`) and is driven by the engine
(:mod:`pghot.sim.engine`) with the same accesses and reports: ``segment``
serves a run of accesses and takes the reports made meanwhile, ``step``
runs a promoter round.  A policy sees its :class:`Machine` (its memory,
tracker and promoter, the config and the clock), not the engine; what it
promotes comes back from the promoter (:meth:`Promoter.run_round`) or
from its own migrations.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from pghot._types import Outcome
from pghot._validate import ms_to_jiffies
from pghot.machine.memory import TieredMemory
from pghot.machine.promoter import Promoter
from pghot.machine.sources import Reports
from pghot.sim.config import SimConfig, _build_pghot
from pghot.topology import Topology
from pghot.tracker import DESIGNS

__all__ = ["BASELINES", "DESIGNS", "Clock", "Machine", "build_machine"]

#: baseline policies :func:`replay` runs beside the configured ``pghot``
BASELINES = ("none", "v2", "second-access")

_TOP = 0  # the top-tier node of the two-tier machine
_NO_ROUND = 2**62


class _Bins:
    """A growable int64 counter per bin index."""

    def __init__(self) -> None:
        self.a = np.zeros(64, dtype=np.int64)
        self.n = 0

    def _grow(self, hi: int) -> None:
        if hi >= self.a.shape[0]:
            new = np.zeros(max(hi + 1, 2 * self.a.shape[0]), dtype=np.int64)
            new[: self.a.shape[0]] = self.a
            self.a = new
        self.n = max(self.n, hi + 1)

    def add(self, idx: np.ndarray) -> None:
        if idx.shape[0] == 0:
            return
        lo, hi = int(idx[0]), int(idx[-1])  # idx is sorted (times are)
        self._grow(hi)
        self.a[lo : hi + 1] += np.bincount(idx - lo, minlength=hi - lo + 1)

    def add_at(self, i: int, count: int) -> None:
        self._grow(i)
        self.a[i] += count

    def values(self, n: int) -> np.ndarray:
        out = np.zeros(n, dtype=np.int64)
        k = min(n, self.a.shape[0])
        out[:k] = self.a[:k]
        return out


# -- the machine a policy runs on ----------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Clock:
    """The simulated clock as a policy sees it."""

    #: jiffies per second
    hz: int
    #: jiffies per metrics bin
    bin_jiffies: int


@dataclasses.dataclass(frozen=True)
class Machine:
    """What one policy runs on: its own memory, and for pghot its tracker and promoter."""

    memory: TieredMemory
    #: top-tier PFNs are ``0 .. top_pages - 1`` (the two-tier topology)
    top_pages: int
    clock: Clock
    config: SimConfig
    tracker: Any = None
    promoter: Promoter | None = None


def build_machine(
    config: SimConfig,
    topology: Topology,
    logical_pages: int,
    bin_jiffies: int,
    tracker_kw: Mapping[str, Any] | None = None,
    promoter_kw: Mapping[str, Any] | None = None,
) -> Machine:
    """A machine for one policy: memory only, or (with ``tracker_kw``) a tracker and promoter too.

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
    clock = Clock(config.hz, bin_jiffies)
    if tracker_kw is None:
        mem = TieredMemory(topology, None, logical_pages=logical_pages, **config.memory.kwargs())
        return Machine(mem, top, clock, config)
    tracker, mem, promoter = _build_pghot(config, topology, tracker_kw, promoter_kw or {}, logical_pages)
    return Machine(mem, top, clock, config, tracker, promoter)


# -- policies -------------------------------------------------------------------------


class _Policy:
    """No promotion: the memory, its hits, and the oracle's tallies."""

    kind = "none"

    def __init__(
        self, name: str, machine: Machine, description: str = "first-touch placement, no promotion"
    ) -> None:
        self.name = name
        self.machine = machine
        self.mem = machine.memory
        self.top = machine.top_pages
        self.bin_j = machine.clock.bin_jiffies
        self.hits = 0
        self.hit_bins = _Bins()
        self.promo_bins = _Bins()
        self.pending: list[np.ndarray] = []
        self.judged = self.precise = 0
        self.hot_total = self.hot_resident = 0
        self.recall_series: list[tuple[float, float]] = []
        self.next_round = _NO_ROUND  # no promoter rounds
        self.round_j = 0
        self.description = description

    def _promoted(self, pages: np.ndarray, now: int) -> None:
        """Pages promoted at ``now``: judged at the end of the oracle interval."""
        if pages.shape[0]:
            self.pending.append(pages)
            self.promo_bins.add_at(now // self.bin_j, int(pages.shape[0]))

    def serve(self, pages: np.ndarray, times: np.ndarray) -> None:
        if pages.shape[0] == 0:
            return
        hit = self.mem.access(pages) < self.top
        self.hits += int(np.count_nonzero(hit))
        self.hit_bins.add(times[hit] // self.bin_j)

    def segment(self, pages: np.ndarray, times: np.ndarray, reps: Reports) -> None:
        self.serve(pages, times)
        if reps.pfns.shape[0]:
            self.reports(reps)

    def reports(self, reps: Reports) -> None:
        pass

    def step(self, now: int) -> None:
        pass

    def idle(self) -> bool:
        return True

    def memory_bytes(self) -> int | None:
        return None

    def stats(self) -> dict[str, dict[str, int]]:
        return {"memory": self.mem.stats()}


class _SecondAccess(_Policy):
    """Promote a lower-tier page at its second reported access within the window."""

    kind = "second-access"

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

    #: reports whose pages are looked up in one vectorised call
    LOOKUP_BLOCK = 4096

    def segment(self, pages: np.ndarray, times: np.ndarray, reps: Reports) -> None:
        """Serve the accesses and act on the reports, in time order.

        The reports are taken one at a time (each may promote, which moves the
        pages that the next ones name), but their pages' PFNs are looked up a
        block at a time: a block's lookups stay valid until the memory changes
        (accesses served, a migration tried), and then the rest of the block is
        looked up again, so every report sees the PFN its page has at that point.
        """
        if reps.pfns.shape[0] == 0:
            self.serve(pages, times)
            return
        mem, top, last, win = self.mem, self.top, self.last, self.window_j
        pos = 0

        def upto(t: int) -> bool:
            """Serve the accesses up to time ``t``; whether any was served."""
            nonlocal pos
            j = int(np.searchsorted(times, t, side="right"))
            if j > pos:
                self.serve(pages[pos:j], times[pos:j])
                pos = j
                return True
            return False

        rep_pages = reps.pfns
        ps, ts = rep_pages.tolist(), reps.nows.tolist()
        n = len(ps)
        for b0 in range(0, n, self.LOOKUP_BLOCK):
            b1 = min(n, b0 + self.LOOKUP_BLOCK)
            pf = mem.pfns_of(rep_pages[b0:b1]).tolist()
            for i in range(b0, b1):
                p, t, pfn = ps[i], ts[i], pf[i - b0]
                changed = False
                if pfn < 0:  # first touched in this segment, not served yet
                    changed = upto(t)
                    pfn = mem.pfn_of(p)
                if pfn >= top:
                    prev = int(last[p])
                    if prev >= 0 and t - prev <= win:
                        upto(t)
                        changed = True
                        if mem.migrate(pfn, _TOP, t):
                            self._promoted(np.array([p], dtype=np.int64), t)
                            last[p] = -1
                        else:
                            last[p] = t
                    else:
                        last[p] = t
                if changed and i + 1 < b1:
                    pf[i + 1 - b0 :] = mem.pfns_of(rep_pages[i + 1 : b1]).tolist()
        if pos < pages.shape[0]:
            self.serve(pages[pos:], times[pos:])

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

    def idle(self) -> bool:
        # the threshold adjustment keeps time in its rounds: never skip them
        return not self.promoter.threshold_adjust and int(self.tracker.queued(_TOP)) == 0

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
