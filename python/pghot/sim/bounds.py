"""Two reference points for pghot: the ``oracle`` upper bound and ``memtis``.

Both are :class:`pghot.sim.policies._Policy` subclasses on their own
machine; the engine (:mod:`pghot.sim.engine`) drives them like every other
policy.  They are built by :func:`make_oracle` and :func:`make_memtis` from
what ``_Sim.__init__`` has (a fresh ``self.machine()``, the config, the
oracle interval in jiffies, the footprint and the resolved ``top_pages``).
On a machine of several top-tier nodes (``SimConfig.topology``) both fill
the default node (``Machine.target_nid``) first, then the other top-tier
nodes by nid (:meth:`_Placing._place`): the whole top tier holds the chosen
pages, whichever node accessed them (the model has no remote-socket cost).

``oracle``
    At the start of every oracle interval the top tier holds that
    interval's hottest pages (:func:`hot_sets`: the ``top_pages`` most
    accessed of the interval, ties as the engine's
    :class:`pghot._stages.IntervalCounts`), the moves made through the
    memory's migrations and counted by its counters.  This is the
    per-period oracle ("optimal dynamic placement") tiering studies bound
    their policies with, e.g. HeMem (Raybuck et al., SOSP 2021) and Memtis
    (Lee et al., SOSP 2023): a placement that knows each period's hot set in
    advance and moves it to the fast tier when the period starts.  It
    simplifies: the hot set is the interval's (not each
    access's), moves happen at the interval start at no latency for the
    accesses (their cost is charged as a kernel thread's batched migration),
    and a hot page the trace has not touched yet is placed by first touch at
    the interval start (so it may count as a promotion where a real oracle
    would have allocated it on the top tier).

    Searched over intervals (:func:`oracle_intervals`, :func:`best_oracle`):
    unless ``oracle_interval_ms`` is given, the replay runs this placement
    with the oracle interval, 4 and 16 times it, and the whole trace (one
    placement at its start: the static oracle of tiering studies, e.g.
    HeMem's), and reports the one with the lowest estimated time as
    ``oracle`` (its interval in the description and ``stats``).  The whole
    trace's placement is a first touch of the most accessed pages at the
    start, with no migration, so the searched oracle is never slower than
    ``none``.  Each
    candidate is the definition above; the search is what makes it a
    bound worth the name when migrations are charged: on short intervals
    the hot set of each is noisy (pages accessed once or twice), and
    moving it every interval costs more than it saves.  On a real GUPS
    trace (valgrind lackey, 2.9M memory accesses, the hot eighth last) the
    interval's oracle made 515,000 promotions and ran 2.15x as long as no
    migration; the search chose the whole trace.  It is still not a proof
    of optimality (a placement that moves pages within an interval, or
    weighs each move's cost, can beat it).  ``SimConfig.oracle_search``
    (``"auto"``, ``"on"``, ``"off"``) sets it, and ``Result.config`` says which ran.
    Precision and recall stay those of every policy, against each oracle
    interval's hot set: when a longer interval wins, the oracle's recall
    is that placement's, and another policy's may be higher.

``memtis``
    MEMTIS (Lee et al., "MEMTIS: Efficient Memory Tiering with Dynamic Page
    Classification and Page Size Determination", SOSP 2023): hardware
    samples (PEBS; here the ``hw-hints`` reports) count accesses per page;
    a histogram of the counts in log2 bins gives the hot threshold, chosen
    every adaptation period so that the hot pages fit the top tier; every
    cooling period halves every count; kmigrated promotes the hot lower-tier
    pages and demotes cold top-tier pages every period (the paper's design
    section; the exact rules and defaults are those of its artifact, the
    kernel of ``github.com/cosmoss-jigu/memtis``: ``hotness_hg[16]``, the
    threshold loop over it, the ``/sys/kernel/mm/htmm`` defaults).  Not
    modelled: huge pages and their splitting (every page here is a base
    page), the warm set (here cold is "below the hot threshold"), ksampled's
    CPU quota and sampling-period adaptation, and proactive demotion to a
    free-space watermark (pages are demoted only to make room for a
    promotion).

Both choose their victims through the memory's CLOCK (the only demotion the
memory offers): the round first sets every referenced bit and makes one
promotion, whose victim search sweeps the whole tier and clears them all,
then sets the bits of the pages that must stay, so that the rest of the
round's promotions demote only the others.  The first victim may be a page
that should stay; it is promoted back in the same round (at most one extra
pair of moves a round, counted like the others).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from pghot import _stages
from pghot._types import Source
from pghot._validate import int_in, ms_to_jiffies
from pghot.machine.sources import Reports
from pghot.sim.config import SimConfig
from pghot.sim.policies import _NO_ROUND, Machine, _Policy

__all__ = [
    "MEMTIS_DEFAULTS",
    "MEMTIS_HISTOGRAM_BINS",
    "Memtis",
    "Oracle",
    "hot_sets",
    "make_memtis",
    "ORACLE_CANDIDATE",
    "best_oracle",
    "make_oracle",
    "oracle_intervals",
    "memtis_bin",
]

_EMPTY = np.zeros(0, dtype=np.int64)


# -- the future: each interval's hot pages ------------------------------------------------


def hot_sets(
    stream: Iterable[tuple[np.ndarray, np.ndarray]], oracle_j: int, top_pages: int, footprint: int
) -> list[np.ndarray]:
    """Each oracle interval's hot pages, in one pass over the stream.

    Interval ``k`` is ``[k * oracle_j, (k + 1) * oracle_j)`` jiffies; its hot
    pages are the ``top_pages`` most accessed in it, as the engine's oracle
    (:meth:`pghot._stages.IntervalCounts.hot`).  That includes the ties at
    the last count, so it may hold more pages than the top tier; then the
    set is cut to ``top_pages``: the largest counts, and among the tied
    pages the lowest logical page numbers (the first touched).

    Parameters
    ----------
    stream : iterable of (pages, times)
        Logical pages (< ``footprint``) and non-decreasing jiffies, chunk by
        chunk (the engine's materialised stream: it can be iterated again).
    oracle_j : int
        The oracle interval in jiffies, ``>= 1``.
    top_pages, footprint : int
        The top tier's pages (``>= 1``) and the trace's distinct pages.

    Returns
    -------
    list of numpy.ndarray
        int64 hot pages of every interval up to the last access's, at most
        ``top_pages`` each, by page number (one shared empty array for an
        idle interval).

    Examples
    --------
    >>> pages = np.array([0, 0, 1, 2, 2, 2, 1, 3], dtype=np.uint32)
    >>> times = np.array([0, 1, 2, 10, 11, 12, 25, 26], dtype=np.int64)
    >>> [h.tolist() for h in hot_sets([(pages, times)], 10, 1, 4)]
    [[0], [2], [1]]
    """
    oracle_j = int_in(oracle_j, "oracle_j", 1)
    top_pages = int_in(top_pages, "top_pages", 1)
    footprint = int_in(footprint, "footprint", 0)
    counts = _stages.IntervalCounts(footprint)
    parts: list[np.ndarray] = []  # the open interval's accesses (views of the stream)
    out: list[np.ndarray] = []

    def close() -> np.ndarray:
        if not counts.accesses:
            return _EMPTY
        hot = counts.hot(top_pages)
        if hot.shape[0] > top_pages:  # ties beyond the top tier: the first pages of the last count
            c = np.bincount(np.concatenate(parts), minlength=footprint)[hot]
            hot = np.sort(hot[np.lexsort((hot, -c))[:top_pages]])
        parts.clear()
        return hot

    for pages, times in stream:
        n = pages.shape[0]
        i = 0
        while i < n:
            k = int(times[i]) // oracle_j
            while len(out) < k:  # close the intervals before k
                out.append(close())
            j = i + int(np.searchsorted(times[i:], (k + 1) * oracle_j, side="left"))
            piece = np.ascontiguousarray(pages[i:j])
            counts.add(piece)
            parts.append(piece)
            i = j
    if counts.accesses:
        out.append(close())
    return out


# -- placing pages through the memory's CLOCK ---------------------------------------------


class _Placing(_Policy):
    """A policy that moves chosen pages to the top tier in rounds, demoting the others."""

    def _move(self, pfns: np.ndarray, now: int, nid: int) -> int:
        if not pfns.shape[0]:
            return 0
        status, pages = self.mem.migrate_batch(pfns, nid, now, return_pages=True)
        moved = pages[status == 0]
        self._promoted(moved, now)
        return int(moved.shape[0])

    def _lower_pfns(self, pages: np.ndarray) -> np.ndarray:
        pf = self.mem.pfns_of(pages)
        return pf[pf >= self.top]

    def _place(self, stay: np.ndarray, up: np.ndarray, now: int) -> None:
        """Promote the placed pages ``up``, demoting top-tier pages not in ``stay``.

        ``up`` are lower-tier pages, at most the top-tier pages not in
        ``stay`` plus the free ones; ``stay`` includes ``up``.  On a machine
        of several top-tier nodes the default node takes them first, then
        the others by nid, each as many as its free PFNs and its pages not
        in ``stay`` make room for, so that the whole top tier holds them.
        """
        tops = self.mem.topology.toptier_nids()
        if len(tops) == 1:
            self._place_on(self.target, stay, up, now)
            return
        for nid in [self.target, *sorted(n for n in tops if n != self.target)]:
            pf = self.mem.pfns_of(up)
            low = up[pf >= self.top]  # the pages still to promote
            if not low.shape[0]:
                return
            on = self.mem.pages_on(nid)
            room = int(self.mem.free_pages(nid)) + int(np.count_nonzero(~np.isin(on, stay)))
            if room:
                self._place_on(nid, stay, low[:room], now)

    def _place_on(self, nid: int, stay: np.ndarray, up: np.ndarray, now: int) -> None:
        """:meth:`_place` on top-tier node ``nid``: ``up`` at most its free PFNs and pages not in ``stay``.

        See the module docstring for how the CLOCK is made to pick the victims.
        """
        wrapped = False
        for _ in range(4):  # fill free PFNs, the wrapping promotion, the rest, a wrapped victim
            low = self._lower_pfns(up)
            if not low.shape[0]:
                return
            free = int(self.mem.free_pages(nid))
            if free:
                if not self._move(low[:free], now, nid):
                    return
                continue
            moved = 0
            if not wrapped:  # every bit set: this victim search sweeps and clears the node
                self.mem.access(self.mem.pages_on(nid), hits=False)
                moved = self._move(low[:1], now, nid)
                wrapped = True
                low = low[1:]
            pf = self.mem.pfns_of(stay)
            keep = stay[(pf >= 0) & (pf < self.top)]
            if keep.shape[0]:
                self.mem.access(keep, hits=False)
            moved += self._move(low, now, nid)
            if not moved:  # no lower-tier PFN to demote to
                return


# -- oracle --------------------------------------------------------------------------------


class Oracle(_Placing):
    """The upper bound: each interval's hot pages on the top tier from its start.

    See the module docstring for the definition and what it simplifies.

    Parameters
    ----------
    name : str
    machine : pghot.sim.policies.Machine
    hot : sequence of numpy.ndarray
        Interval ``k``'s hot pages (:func:`hot_sets`).
    oracle_j : int
        The oracle interval in jiffies (a round at every interval's start).

    Examples
    --------
    >>> from pghot.sim.policies import build_machine
    >>> from pghot.topology import Topology
    >>> m = build_machine(SimConfig(), Topology.two_tier(1, 4), 3, 10, nbins=2)
    >>> o = Oracle("oracle", m, [np.array([0]), np.array([2])], 10)
    >>> pages = np.array([0, 1, 2, 2], dtype=np.uint32)
    >>> times = np.array([0, 1, 10, 11], dtype=np.int64)
    >>> o.run_piece(pages, times, Reports.empty(), 20)
    >>> o.hits, m.memory.pages_on(0).tolist(), m.memory.stats()["pgpromote_success"]
    (3, [2], 1)
    """

    kind = "oracle"

    def __init__(self, name: str, machine: Machine, hot: Sequence[np.ndarray], oracle_j: int) -> None:
        super().__init__(
            name, machine, "upper bound: each oracle interval's hottest pages on the top tier at its start"
        )
        self.oracle_j = int_in(oracle_j, "oracle_j", 1)
        self.hot = [np.asarray(h, dtype=np.int64) for h in hot]
        n = self.mem.logical_pages
        for h in self.hot:
            if h.shape[0] > self.top or (h.shape[0] and (int(h.min()) < 0 or int(h.max()) >= n)):
                raise ValueError(f"hot: a hot set holds more than {self.top} pages or a page out of range")
        self.busy = [k for k, h in enumerate(self.hot) if h.shape[0]]
        self.nxt = 0  # index into busy
        self.round_j = self.oracle_j
        self._advance()

    def _advance(self) -> None:
        """Next round: the start of the next interval with hot pages."""
        self.next_round = self.busy[self.nxt] * self.oracle_j if self.nxt < len(self.busy) else _NO_ROUND

    def run_piece(self, pages: np.ndarray, times: np.ndarray, reps: Reports, horizon: int) -> None:
        """Serve the accesses, placing each interval's hot set at its start (idle ones skipped)."""
        i = 0
        while self.next_round < horizon:
            t = self.next_round
            j = int(np.searchsorted(times, t, side="left"))
            if j > i:
                self.serve(pages[i:j], times[i:j])
            self.step(t)
            i = j
        if i < pages.shape[0]:
            self.serve(pages[i:], times[i:])

    def step(self, now: int) -> None:
        hot = self.hot[self.busy[self.nxt]]
        new = hot[self.mem.pfns_of(hot) < 0]
        if new.shape[0]:  # not touched yet: first touch now
            self.mem.access(new, hits=False)
        self.mem.count_promote_candidates(int(self._lower_pfns(hot).shape[0]))
        self._place(hot, hot, now)
        self.nxt += 1
        self._advance()

    def memory_bytes(self) -> int | None:
        return 0

    def stats(self) -> dict[str, Any]:
        return {
            "memory": self.mem.stats(),
            "oracle": {"interval_j": self.oracle_j, "placements": len(self.busy)},
        }


def make_oracle(
    machine: Machine,
    config: SimConfig,
    oracle_j: int,
    footprint: int,
    top_pages: int,
    hot: Sequence[np.ndarray],
    *,
    name: str = "oracle",
) -> Oracle:
    """The ``oracle`` policy of a replay (``hot``: :func:`hot_sets` of its stream; ``name``:
    another for a candidate of :func:`oracle_intervals`).

    Examples
    --------
    >>> from pghot.sim.policies import build_machine
    >>> from pghot.topology import Topology
    >>> m = build_machine(SimConfig(), Topology.two_tier(1, 4), 3, 10)
    >>> make_oracle(m, SimConfig(), 10, 3, 1, [np.array([1])]).kind
    'oracle'
    """
    return Oracle(name, machine, hot, oracle_j)


#: the name prefix of an oracle candidate of another interval (its length in jiffies follows)
ORACLE_CANDIDATE = "oracle@"
#: the candidates' intervals: the oracle interval times these, then the whole trace
_ORACLE_FACTORS = (4, 16)


def oracle_intervals(oracle_j: int, last_jiffy: int, *, search: bool = True) -> list[int]:
    """The oracle intervals (jiffies) a replay tries: ``oracle_j``, 4 and 16 times it while
    at most half the trace (closer to the whole trace they would run nearly its
    placement), and the whole trace (``last_jiffy + 1``) whenever ``oracle_j`` is shorter;
    ``oracle_j`` alone when ``search`` is False (:attr:`SimConfig.oracle_search`).

    The whole trace is always a candidate: its placement, made by first touch at the
    trace's start, migrates nothing and holds the pages of the most accesses, so the
    searched oracle's estimate is never above ``none``'s (tested).

    >>> oracle_intervals(10, 999), oracle_intervals(10, 99), oracle_intervals(10, 5)
    ([10, 40, 160, 1000], [10, 40, 100], [10])
    >>> oracle_intervals(1000, 1000)  # 1001 jiffies: one interval and one jiffy
    [1000, 1001]
    >>> oracle_intervals(10, 999, search=False)
    [10]
    """
    span = int(last_jiffy) + 1
    out = [int(oracle_j)]
    if not search or oracle_j >= span:  # one interval: it is the whole trace
        return out
    out += [oracle_j * f for f in _ORACLE_FACTORS if 2 * oracle_j * f <= span]
    return [*out, span]


def _ms_label(ms: float) -> str:
    """An interval in ms as the candidates' keys write it.

    >>> _ms_label(1000.0), _ms_label(1_800_000.0), _ms_label(2.5)
    ('1000', '1800000', '2.5')
    """
    return str(int(ms)) if ms == int(ms) else f"{ms:.4g}"


def best_oracle(results: dict[str, Any], hz: int) -> dict[str, Any]:
    """``results`` with the oracle candidates replaced by the best one, named ``oracle``.

    The candidates are ``oracle`` and the :data:`ORACLE_CANDIDATE` entries
    (:func:`oracle_intervals`); the one of the lowest ``est_time_ns`` takes
    ``oracle``'s place, its description naming the intervals tried and the
    one chosen.  Its ``stats["oracle"]`` always holds ``interval_ms`` (its
    interval) and ``candidates`` (``"<interval> ms"`` -> estimated time in
    ns, of each; one when the interval ran alone).  Results without an
    ``oracle`` are returned as they are.
    """
    if "oracle" not in results:
        return results
    import dataclasses

    names = [k for k in results if k.startswith(ORACLE_CANDIDATE)]

    def ms(r: Any) -> float:
        return float(r.stats["oracle"]["interval_j"] * 1000 / hz)

    cands = [results["oracle"], *(results[k] for k in names)]
    best = min(cands, key=lambda r: r.est_time_ns)  # the first of equal ones: the shortest interval
    stats = dict(best.stats)
    stats["oracle"] = {
        **best.stats["oracle"],
        "interval_ms": ms(best),
        "candidates": {f"{_ms_label(ms(r))} ms": r.est_time_ns for r in cands},
    }
    description = best.description
    if names:
        whole = best is cands[-1]
        what = (
            "the whole trace (one placement at its start)" if whole else f"{_ms_label(ms(best))} ms intervals"
        )
        tried = ", ".join(_ms_label(ms(r)) for r in cands)
        description = (
            f"upper bound: each interval's hottest pages on the top tier at its start, best of "
            f"intervals {tried} ms: {what}"
        )
    chosen = dataclasses.replace(best, name="oracle", description=description, stats=stats)
    return {k: (chosen if k == "oracle" else v) for k, v in results.items() if k not in names}


# -- memtis --------------------------------------------------------------------------------

#: bins of Memtis's access histogram (the artifact kernel's ``memcg->hotness_hg[16]``)
MEMTIS_HISTOGRAM_BINS = 16

#: Memtis's defaults, those of its artifact kernel's sysfs knobs (``/sys/kernel/mm/htmm``,
#: github.com/cosmoss-jigu/memtis, also its evaluation scripts' settings):
#: ``htmm_adaptation_period`` 100000 samples (the hot threshold's adaptation),
#: ``htmm_cooling_period`` 2000000 samples (cooling: every count halved),
#: ``htmm_promotion_period_in_ms`` = ``htmm_demotion_period_in_ms`` = 500 (kmigrated's
#: period), ``htmm_thres_hot`` 1 (the lowest hot bin, the threshold before any adaptation)
MEMTIS_DEFAULTS: dict[str, int] = {
    "adaptation_period_samples": 100_000,
    "cooling_period_samples": 2_000_000,
    "kmigrated_interval_ms": 500,
    "initial_hot_bin": 1,
}


def memtis_bin(counts: Any) -> np.ndarray:
    """The histogram bin of each access count: ``floor(log2(count + 1))``, at most 15.

    Memtis's bins grow in powers of two (its artifact's ``get_idx``: the
    position of the highest set bit of ``count + 1``, at most 15); count 0
    is bin 0, 1-2 bin 1, 3-6 bin 2, ...

    >>> memtis_bin([0, 1, 2, 3, 6, 7, 10**9]).tolist()
    [0, 1, 1, 2, 2, 3, 15]
    """
    c = np.asarray(counts, dtype=np.int64) + 1
    b = np.zeros(c.shape, dtype=np.int64)
    pos = c > 0
    b[pos] = np.floor(np.log2(c[pos])).astype(np.int64)
    # exact for large counts (log2 of a float can round up at a power of two)
    b -= (np.left_shift(np.int64(1), np.minimum(b, 62)) > c).astype(np.int64)
    return np.minimum(b, MEMTIS_HISTOGRAM_BINS - 1)


def _memtis_knobs(knobs: Mapping[str, Any] | None) -> dict[str, int]:
    if knobs is None:
        knobs = {}
    if not isinstance(knobs, Mapping):
        raise TypeError(f"memtis: knobs must be a mapping, not {type(knobs).__name__}")
    out = dict(MEMTIS_DEFAULTS)
    for k, v in knobs.items():
        if k not in MEMTIS_DEFAULTS:
            raise ValueError(f"memtis: unknown key {k!r} (known: {', '.join(MEMTIS_DEFAULTS)})")
        high = MEMTIS_HISTOGRAM_BINS - 1 if k == "initial_hot_bin" else 2**40
        out[k] = int_in(v, f"memtis: {k}", 1, high)
    return out


class Memtis(_Placing):
    """MEMTIS (Lee et al., SOSP 2023): histogram-based hot threshold, cooling, kmigrated.

    Every ``hw-hints`` report is one sample of its page (the other sources
    are ignored: Memtis samples with PEBS).  Counts per logical page; after
    every ``adaptation_period_samples`` samples the hot bin ``T`` becomes
    the smallest bin ``>= initial_hot_bin`` whose pages in bins ``>= T``
    fit the top tier (the artifact's loop from bin 15 down over
    ``hotness_hg``); after every ``cooling_period_samples`` samples every
    count is halved and ``T`` recomputed.  Every ``kmigrated_interval_ms``
    kmigrated promotes the lower-tier pages of bin ``>= T`` (hottest first,
    as many as the top tier holds) and demotes top-tier pages below ``T``
    to make room.  Defaults:
    :data:`MEMTIS_DEFAULTS`; what is simplified: the module docstring.

    Examples
    --------
    >>> from pghot.sim.policies import build_machine
    >>> from pghot.topology import Topology
    >>> m = build_machine(SimConfig(), Topology.two_tier(1, 4), 3, 1000)
    >>> p = Memtis("memtis", m, {"kmigrated_interval_ms": 10, "adaptation_period_samples": 4})
    >>> pages = np.array([0, 1, 1, 1], dtype=np.uint32)      # counts 1 and 3: bins 1 and 2
    >>> times = np.array([0, 1, 2, 3], dtype=np.int64)
    >>> reps = Reports(pages.astype(np.uint64), np.full(4, -1, np.int32),
    ...                np.zeros(4, np.int8), times)
    >>> p.run_piece(pages, times, reps, 20)
    >>> p.hot_bin, m.memory.pages_on(0).tolist()
    (2, [1])
    """

    kind = "memtis"

    def __init__(self, name: str, machine: Machine, knobs: Mapping[str, Any] | None = None) -> None:
        k = _memtis_knobs(knobs)
        self.knobs = k
        super().__init__(
            name,
            machine,
            "Memtis (SOSP'23): log2 access histogram of hw-hints samples, hot threshold fitted to "
            f"the top tier every {k['adaptation_period_samples']} samples, cooling every "
            f"{k['cooling_period_samples']} samples, kmigrated every {k['kmigrated_interval_ms']} ms",
        )
        self.adapt = k["adaptation_period_samples"]
        self.cool = k["cooling_period_samples"]
        self.hot_bin = k["initial_hot_bin"]
        self.min_bin = k["initial_hot_bin"]
        self.counts = np.zeros(self.mem.logical_pages, dtype=np.int64)
        self.samples = 0
        self.adaptations = self.coolings = self.rounds = 0
        self.round_j = ms_to_jiffies(k["kmigrated_interval_ms"], machine.clock.hz)
        self.next_round = self.round_j

    def _adapt(self) -> None:
        """The smallest hot bin (>= the initial one) whose pages fit the top tier."""
        hist = np.bincount(memtis_bin(self.counts), minlength=MEMTIS_HISTOGRAM_BINS)
        above = np.cumsum(hist[::-1])[::-1]  # pages in bins >= b
        fits = np.flatnonzero(above <= self.top)
        b = int(fits[0]) if fits.shape[0] else MEMTIS_HISTOGRAM_BINS - 1
        self.hot_bin = max(self.min_bin, b)
        self.adaptations += 1

    def reports(self, reps: Reports) -> None:
        pages = reps.pfns[reps.srcs == int(Source.HW_HINTS)].astype(np.int64)
        i, n = 0, pages.shape[0]
        while i < n:
            # the samples up to the next adaptation or cooling boundary
            to_adapt = self.adapt - self.samples % self.adapt
            to_cool = self.cool - self.samples % self.cool
            j = min(n, i + min(to_adapt, to_cool))
            np.add.at(self.counts, pages[i:j], 1)
            self.samples += j - i
            i = j
            if self.samples % self.cool == 0:
                self.counts >>= 1
                self.coolings += 1
                self._adapt()
            elif self.samples % self.adapt == 0:
                self._adapt()

    def step(self, now: int) -> None:
        self.rounds += 1
        hot = np.flatnonzero(memtis_bin(self.counts) >= self.hot_bin)
        if not hot.shape[0]:
            return
        hot = hot[self.mem.pfns_of(hot) >= 0]
        # hottest first, as many as the top tier holds
        hot = hot[np.argsort(-self.counts[hot], kind="stable")][: self.top]
        up = hot[self.mem.pfns_of(hot) >= self.top]
        if up.shape[0]:
            self.mem.count_promote_candidates(int(up.shape[0]))
            self._place(hot, up, now)

    def memory_bytes(self) -> int | None:
        return int(self.counts.nbytes)

    def stats(self) -> dict[str, dict[str, int]]:
        return {
            "memory": self.mem.stats(),
            "memtis": {
                "samples": self.samples,
                "hot_bin": self.hot_bin,
                "adaptations": self.adaptations,
                "coolings": self.coolings,
                "rounds": self.rounds,
            },
        }


def make_memtis(
    machine: Machine,
    config: SimConfig,
    oracle_j: int,
    footprint: int,
    top_pages: int,
    knobs: Mapping[str, Any] | None = None,
) -> Memtis:
    """The ``memtis`` policy of a replay, with ``knobs`` over :data:`MEMTIS_DEFAULTS`.

    Raises
    ------
    TypeError, ValueError
        A knob of a wrong type or value, or an unknown one (named).

    Examples
    --------
    >>> from pghot.sim.policies import build_machine
    >>> from pghot.topology import Topology
    >>> m = build_machine(SimConfig(), Topology.two_tier(1, 4), 3, 10)
    >>> make_memtis(m, SimConfig(), 10, 3, 1).round_j
    500
    >>> make_memtis(m, SimConfig(), 10, 3, 1, {"cooling_period": 5})
    Traceback (most recent call last):
    ...
    ValueError: memtis: unknown key 'cooling_period' (known: adaptation_period_samples, ...)
    """
    return Memtis("memtis", machine, knobs)
