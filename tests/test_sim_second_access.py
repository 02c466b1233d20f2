"""The second-access baseline's block lookups give what one lookup per report gives.

:class:`pghot.sim.policies._SecondAccess` looks its reports' pages up a block at a
time and again after every change of the memory.  ``_OneByOne`` below is the
specification: the same decisions with one ``pfn_of`` per report, as the baseline
was first written.  Both run on the same traces (first touches inside a segment,
a top tier small enough that promotions demote, windows that do and do not
continue) with blocks of 1, 3 and the default, and every number of the result
must agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from pghot.machine.sources import Reports
from pghot.sim import SimConfig, engine, policies, replay
from pghot.traces import TraceChunk


class _OneByOne(policies._SecondAccess):
    def segment(self, pages: np.ndarray, times: np.ndarray, reps: Reports) -> None:
        if reps.pfns.shape[0] == 0:
            self.serve(pages, times)
            return
        mem, top, last, win = self.mem, self.top, self.last, self.window_j
        pos = 0

        def upto(t: int) -> None:
            nonlocal pos
            j = int(np.searchsorted(times, t, side="right"))
            if j > pos:
                self.serve(pages[pos:j], times[pos:j])
                pos = j

        for p, t in zip(reps.pfns.tolist(), reps.nows.tolist()):
            pfn = mem.pfn_of(p)
            if pfn < 0:
                upto(t)
                pfn = mem.pfn_of(p)
            if pfn < top:
                continue
            prev = int(last[p])
            if prev >= 0 and t - prev <= win:
                upto(t)
                if mem.migrate(pfn, 0, t):
                    self._promoted(np.array([p], dtype=np.int64), t)
                    last[p] = -1
                else:
                    last[p] = t
            else:
                last[p] = t
        if pos < pages.shape[0]:
            self.serve(pages[pos:], times[pos:])


def _trace(seed: int, n: int, pages: int) -> Iterator[TraceChunk]:
    rng = np.random.default_rng(seed)
    hot = rng.integers(0, pages // 8, n // 2)
    cold = rng.integers(0, pages, n - n // 2)
    page = np.empty(n, dtype=np.uint64)
    page[0::2], page[1::2] = hot, cold
    t = np.cumsum(rng.integers(0, 3, n)) * 100_000  # 0.1 ms steps, repeats included
    for a in range(0, n, 5000):
        yield TraceChunk(time_ns=t[a : a + 5000], vaddr=page[a : a + 5000] << np.uint64(12))


def _run(cfg: SimConfig, seed: int) -> dict[str, Any]:
    r = replay(_trace(seed, 40_000, 3000), cfg, baselines=("second-access",), progress=False)
    return r["second-access"].to_dict()


@pytest.mark.parametrize("block", [1, 3, policies._SecondAccess.LOOKUP_BLOCK])
@pytest.mark.parametrize(
    ("top_pages", "window_ms", "seed"), [(64, 1, 1), (300, 5, 2), (16, 50, 3), (1000, 0, 4)]
)
def test_block_lookups_match_one_lookup_per_report(
    monkeypatch: pytest.MonkeyPatch, block: int, top_pages: int, window_ms: int, seed: int
) -> None:
    cfg = SimConfig(
        top_pages=top_pages,
        sources=[{"name": "hw-hints", "sample_every": 1}],
        second_access_window_ms=window_ms,
    )
    monkeypatch.setattr(policies._SecondAccess, "LOOKUP_BLOCK", block)
    got = _run(cfg, seed)
    monkeypatch.setattr(engine, "_SecondAccess", _OneByOne)
    want = _run(cfg, seed)
    assert got == want
    if top_pages < 1000:
        assert got["promotions"] > 0 and got["demotions"] > 0  # the case moves pages
