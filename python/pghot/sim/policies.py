"""The policies a replay compares: pghot, its baselines and the tracker designs.

Each policy owns a simulated machine (its own
:class:`pghot.machine.memory.TieredMemory`) and is driven by the engine
(:mod:`pghot.sim.engine`) with the same accesses and reports: ``segment``
serves a run of accesses and takes the reports made meanwhile, ``step``
runs a promoter round.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from pghot.machine.sources import Reports
from pghot.sim.config import _build_pghot, _jiffies, _SimMemory

if TYPE_CHECKING:
    from pghot.sim.engine import _Sim

__all__ = ["BASELINES", "DESIGNS"]

#: baseline policies :func:`replay` runs beside the configured ``pghot``
BASELINES = ("none", "v2", "second-access")

#: design name -> keyword arguments of :class:`pghot.Tracker` (the record
#: store and queue each design of the benchmark uses)
DESIGNS: dict[str, dict[str, Any]] = {
    "hash/binary": {"store": "hash", "queue": "binary"},
    "hash/quaternary": {"store": "hash", "queue": "quaternary"},
    "hash/bucket": {"store": "hash", "queue": "bucket"},
    "kernel-v2": {"store": "kernel-v2"},
    "pfn-array/precise": {"store": "pfn-array", "mode": "precise"},
    "pfn-array/default": {"store": "pfn-array", "mode": "default"},
}

_TOP = 0          # the top-tier node of the two-tier machine
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


# -- policies -------------------------------------------------------------------------


class _Policy:
    """No promotion: the memory, its hits, and the oracle's tallies."""

    kind = "none"

    def __init__(self, name: str, sim: _Sim, *, make_memory: bool = True) -> None:
        self.name = name
        self.sim = sim
        self.top = sim.top_pages
        if make_memory:
            self.mem = self._memory()
        self.hits = 0
        self.hit_bins = _Bins()
        self.promo_bins = _Bins()
        self.pending: list[np.ndarray] = []
        self.judged = self.precise = 0
        self.hot_total = self.hot_resident = 0
        self.recall_series: list[tuple[float, float]] = []
        self.next_round = _NO_ROUND  # no promoter rounds
        self.round_j = 0
        self.description = "first-touch placement, no promotion"

    def _memory(self) -> _SimMemory:
        c = self.sim.config
        return _SimMemory(
            self.sim.topology, None, page_size=c.page_size, hz=c.hz,
            ping_pong_window_ms=c.ping_pong_window_ms, demotion=c.demotion,
            logical_pages=self.sim.footprint, on_promote=self._promoted,
        )

    def _promoted(self, pages: np.ndarray, now: int) -> None:
        self.pending.append(pages)
        self.promo_bins.add_at(now // self.sim.bin_j, int(pages.shape[0]))

    def serve(self, pages: np.ndarray, times: np.ndarray) -> None:
        if pages.shape[0] == 0:
            return
        hit = self.mem.access(pages) < self.top
        self.hits += int(np.count_nonzero(hit))
        self.hit_bins.add(times[hit] // self.sim.bin_j)

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

    def __init__(self, name: str, sim: _Sim) -> None:
        super().__init__(name, sim)
        c = sim.config
        win_ms = c.second_access_window_ms
        if win_ms is None:
            win_ms = int(c.tracker.get("freq_window_ms", 5000))
        self.window_ms = win_ms
        self.window_j = -(-win_ms * c.hz // 1000)
        self.last = np.full(sim.footprint, -1, dtype=np.int64)
        self.description = (
            f"promote at the 2nd reported access within {win_ms} ms, immediately, no tracker"
        )

    def segment(self, pages: np.ndarray, times: np.ndarray, reps: Reports) -> None:
        if reps.pfns.shape[0] == 0:
            self.serve(pages, times)
            return
        mem, top, last, win = self.mem, self.top, self.last, self.window_j
        pos = 0

        def upto(t: int) -> int:
            nonlocal pos
            j = int(np.searchsorted(times, t, side="right"))
            if j > pos:
                self.serve(pages[pos:j], times[pos:j])
                pos = j
            return pos

        for p, t in zip(reps.pfns.tolist(), reps.nows.tolist()):
            pfn = mem.pfn_of(p)
            if pfn < 0:  # first touched in this segment, not served yet
                upto(t)
                pfn = mem.pfn_of(p)
            if pfn < top:
                continue
            prev = int(last[p])
            if prev >= 0 and t - prev <= win:
                upto(t)
                last[p] = -1 if mem.migrate(pfn, _TOP, t) else t
            else:
                last[p] = t
        if pos < pages.shape[0]:
            self.serve(pages[pos:], times[pos:])

    def memory_bytes(self) -> int | None:
        return 0


class _Pghot(_Policy):
    """A tracker and its promoter."""

    kind = "pghot"

    def __init__(self, name: str, sim: _Sim, tracker_kw: Mapping[str, Any],
                 promoter_kw: Mapping[str, Any], description: str) -> None:
        super().__init__(name, sim, make_memory=False)
        self.tracker, self.mem, self.promoter = _build_pghot(
            sim.config, sim.topology, tracker_kw, promoter_kw, sim.footprint, self._promoted
        )
        self.round_j = _jiffies(self.promoter.interval_ms, sim.config.hz)
        self.next_round = self.round_j
        self.outcomes = np.zeros(8, dtype=np.int64)
        self.description = description

    def reports(self, reps: Reports) -> None:
        pfns = self.mem.pfns_of(reps.pfns.astype(np.int64))
        out = np.asarray(self.tracker.record_accesses(pfns, reps.nids, reps.srcs, reps.nows))
        self.outcomes[: out.shape[0]] += out

    def step(self, now: int) -> None:
        self.promoter.step(now)

    def idle(self) -> bool:
        # the threshold adjustment keeps time in its rounds: never skip them
        return not self.promoter.threshold_adjust and int(self.tracker.queued(_TOP)) == 0

    def memory_bytes(self) -> int | None:
        return int(self.tracker.memory_bytes())

    def stats(self) -> dict[str, dict[str, int]]:
        from pghot._types import Outcome

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
