"""Replay a memory-access trace through pghot and its alternatives.

"Given this workload's accesses, what would pghot, with these knobs, have
promoted, and how much would it have helped compared with the
alternatives?"  :func:`replay` answers it in one pass over the trace: every
policy sees the same accesses, each on its own simulated machine.

Model
-----
- **Logical pages**: a trace's pages, numbered densely ``0 .. footprint - 1``
  in first-touch order: its PFNs when it has them (perf ``phys_addr``),
  else its virtual pages (``vaddr >> page_shift``), by the one rule of
  :func:`pghot.machine.sources.chunk_pages`.
- **Time**: trace time converted to jiffies of ``hz`` per second (default
  1000: a jiffy is a millisecond), from the first record's time (jiffy 0).
  A record older than an earlier one is taken to happen at the latest time
  seen.
- **Machine**: :meth:`pghot.Topology.two_tier` with a top tier of
  ``top_pages`` (default a quarter of the footprint) and a lower tier of
  ``lower_pages`` (default twice the footprint: the whole working set fits
  with as much again free, so demotion always finds room and the tracker's
  default table, half the lower tier, can hold every page).  Each policy
  places the pages in its own :class:`pghot.machine.memory.TieredMemory`:
  first touch fills the top tier, then the lower tier; a promotion into a
  full top tier demotes the CLOCK victim.
- **Sources**: the configured temperature sources (default
  :class:`pghot.machine.sources.HintFault`, NUMA balancing) are fed the logical
  access stream once; their reports go to every policy, each translating the
  reported pages to the PFNs they occupy *in that policy's memory* at report
  time, so a report follows its page across migrations.  The accessing CPU
  is on the top-tier node (reports carry nid 0).
- **Policies** (all driven in simulated time, deterministically):

  ``pghot``
      the configured :class:`pghot.Tracker` and
      :class:`pghot.machine.promoter.Promoter` (``[tracker]`` and ``[promoter]``
      knobs); the promoter runs a round every ``promoter.interval_ms``, after
      the accesses before that time;
  ``none``
      no promotion: first-touch placement only;
  ``v2``
      pghot with every tracker and promoter knob at its default (v2);
  ``second-access``
      no tracker: a lower-tier page is promoted at its second *reported*
      access within ``second_access_window_ms`` (default the tracker's
      ``freq_window_ms``), immediately, without batch or rate limit (what
      LRU-based promotion does: a page referenced again while on the
      inactive list is activated).  It sees the same reports as pghot, so
      the comparison is between policies, not between sources.  A promotion
      decided at jiffy ``t`` serves the page from the top tier for the
      accesses after jiffy ``t``;
  any name of :data:`DESIGNS`
      pghot with the configured knobs and that design's record store.

Metrics (per policy; see :class:`PolicyResult`)
------------------------------------------------
``top_tier_hits`` / ``hit_ratio``
    accesses served by a page on the top tier at the time of the access
    (also per ``interval_ms`` bin: ``hit_ratio_series``; on a trace longer
    than :data:`MAX_BINS` such bins the bins are widened to a whole multiple
    of ``interval_ms`` so that there are at most :data:`MAX_BINS` of them,
    and :attr:`Result.notes` says so).
``promotions``, ``demotions``, ``ping_pong``
    :meth:`TieredMemory.stats` ``pgpromote_success``, ``pgdemote_kswapd``
    and ``ping_pong`` (a page demoted within ``ping_pong_window_ms`` of its
    promotion).
oracle
    the trace is cut into intervals of ``oracle_interval_ms``; the oracle's
    *hot set* of an interval is the ``top_pages`` pages with the most
    accesses in it, ties with the ``top_pages``-th count included (every
    page accessed in it, when fewer).  An interval without accesses has an
    empty hot set.
``precision``
    share of the promotions whose page is in the hot set of the interval in
    which the promotion happened (a promotion at the boundary time ``T``
    belongs to the interval that starts at ``T``): were the pages promoted
    the ones the top tier should hold?  None without promotions.
``recall``
    over the intervals with accesses, the hot-set pages that are on the top
    tier at the interval's end (before any promoter round at that time),
    divided by the hot-set sizes, summed over the intervals (a
    micro-average): how much of what the top tier should hold did it hold?
    ``recall_series`` gives it per interval.
``est_time_ns``
    ``top_ns`` per top-tier hit, ``lower_ns`` per other access, plus
    ``migration_time_ns``, plus on the closed clock (``time_model``, the
    default for lackey traces) the CPU time (``Result.trace["cpu_time_s"]``),
    so that the ``none`` policy's estimate is the trace's duration.
    ``time_vs_all_top`` divides it by the CPU time plus ``accesses *
    top_ns`` (every page on the top tier: the lower bound),
    ``time_vs_none`` by the ``none`` policy's estimate.
``migration_time_ns``, ``fault_path_migration_ns``
    every page migrated at its cost (:meth:`SimConfig.migration_costs_ns`:
    ``migration_ns`` when set, else the published Linux costs of
    :mod:`pghot.machine.costs`): a promotion made in the fault path
    (``second-access``) at the single-page cost, paid by the faulting thread
    (``fault_path_migration_ns``); kpromoted's promotions and kswapd's
    demotions at the batched cost, paid by those kernel threads.  The
    estimate charges both, as if the kernel threads ran on the
    application's CPUs.
``promoted_mbps``, ``demoted_mbps``, ``ping_pong_share``
    MiB promoted and demoted per second of the trace's duration; the share
    of the promotions that were ping-pongs.
``tracker_memory_bytes``
    ``tracker.memory_bytes()`` at the end; 0 for ``second-access`` (the LRU
    flags are in ``struct page``), None for ``none``.

Promoter rounds in a stretch without accesses, with nothing queued and no
scan due, would do nothing and are skipped (so ``kpromoted_rounds`` counts
fewer rounds); never with ``threshold_adjust``, whose periods are kept by
the rounds.

Memory stays bounded on long traces: the stream of logical pages and times
(12 bytes an access) is kept in memory up to ``spill_bytes`` and spilled to
a temporary file beyond; the rest is proportional to the footprint (the
time series and the heat map have a bounded number of bins, whatever the
trace's time span).

Examples
--------
>>> import numpy as np
>>> from pghot.traces import TraceChunk
>>> chunk = TraceChunk(time_ns=np.arange(8) * 1_000_000, pfn=[0, 1, 2, 3, 2, 3, 2, 3])
>>> cfg = SimConfig(top_pages=2, lower_pages=4, sources=[{"name": "hw-hints", "sample_every": 1}],
...                 promoter={"interval_ms": 1})
>>> r = replay([chunk], cfg, baselines=("none",), progress=False)
>>> r["none"].top_tier_hits, r["pghot"].top_tier_hits, r["pghot"].promotions
(2, 4, 2)
"""

from __future__ import annotations

from pghot.sim.config import (
    ORACLE_SEARCH_MODES,
    PROMOTER_KEYS,
    SCALE_MODES,
    SOURCES,
    TIME_MODELS,
    TRACKER_KEYS,
    HintFaultConfig,
    HwHintsConfig,
    MemoryConfig,
    Numab2Config,
    PghotV8Config,
    PgtableScanConfig,
    PromoterConfig,
    SimConfig,
    SourceConfig,
    TppConfig,
    TrackerConfig,
    load_config,
    parse_assignment,
    parse_source,
)
from pghot.sim.engine import ENGINES, MAX_BINS, demo_trace, replay
from pghot.sim.plots import plot
from pghot.sim.policies import BASELINES, DESIGNS, POLICIES
from pghot.sim.results import PolicyResult, Result
from pghot.sim.scaling import scale_to_trace
from pghot.sim.sweep import format_sweep_table, sweep

__all__ = [
    "BASELINES",
    "ENGINES",
    "DESIGNS",
    "MAX_BINS",
    "POLICIES",
    "PROMOTER_KEYS",
    "SCALE_MODES",
    "SOURCES",
    "ORACLE_SEARCH_MODES",
    "TIME_MODELS",
    "TRACKER_KEYS",
    "HintFaultConfig",
    "HwHintsConfig",
    "MemoryConfig",
    "Numab2Config",
    "PghotV8Config",
    "PgtableScanConfig",
    "PolicyResult",
    "PromoterConfig",
    "Result",
    "SimConfig",
    "SourceConfig",
    "TppConfig",
    "TrackerConfig",
    "demo_trace",
    "format_sweep_table",
    "load_config",
    "parse_assignment",
    "parse_source",
    "plot",
    "replay",
    "scale_to_trace",
    "sweep",
]
