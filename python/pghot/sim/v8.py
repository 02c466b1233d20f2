"""The ``pghot-v8`` policy: the current version of the kernel pghot series as a whole.

The later postings (v3 onwards, ``SEMANTICS.md`` sections 3 and 6) drop the
v2 hash table, per-node heaps and kpromoted for one hotness word per
lower-tier PFN (the ``pfn-array`` store, :mod:`pghot.model.pfnarray`, run by
its compiled kernels :class:`pghot._pfnarray.PfnArrayTracker`) and one
``kmigrated<nid>`` kernel thread per lower-tier node that wakes every
``kmigrated_sleep_ms``, walks the sections flagged hot and migrates the
records marked "migrate ready" to their target node.  :class:`PghotV8` is
that policy around the store, with its own timing and knobs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pghot._types import Source
from pghot.machine.sources import Reports
from pghot.sim.config import PghotV8Config
from pghot.sim.policies import Machine, _Pghot

__all__ = ["V8_DEFAULTS", "PghotV8", "v8_knobs", "v8_parts"]

_PGTABLE_SCAN = int(Source.PGTABLE_SCAN)

#: the knobs' defaults, each from the posting (see :class:`PghotV8`)
V8_DEFAULTS: dict[str, Any] = {
    "mode": "default",
    "freq_threshold": 2,
    "freq_window_ms": None,  # the mode's: 3000 (u8) or 5000 (u32)
    "kmigrated_sleep_ms": 100,
    "kmigrated_batch_nr": 512,
    "batch_per_wake": False,
    "rate_limit_mbps": 65536,
    "free_bypass": True,
    "scan_section_pages": 32768,
}


def v8_knobs(table: PghotV8Config | None = None, **given: Any) -> dict[str, Any]:
    """The knobs of a ``pghot-v8`` run: :data:`V8_DEFAULTS`, the table, then ``given``.

    Errors name the key (``config: pghot_v8: ...``) and change nothing.

    >>> k = v8_knobs(PghotV8Config(mode="precise"))
    >>> k["mode"], k["freq_threshold"], k["kmigrated_sleep_ms"], k["kmigrated_batch_nr"]
    ('precise', 2, 100, 512)
    >>> v8_knobs(kmigrated_sleep_ms=0)
    Traceback (most recent call last):
    ...
    ValueError: config: pghot_v8: kmigrated_sleep_ms must be in [1, 2147483648], got 0
    """
    base = {} if table is None else table.kwargs()
    try:
        checked = PghotV8Config.from_mapping({**base, **given})
    except (TypeError, ValueError) as e:
        raise type(e)(f"config: pghot_v8: {e}") from None
    return {**V8_DEFAULTS, **checked.kwargs()}


def v8_parts(knobs: dict[str, Any], pages: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The tracker's and the promoter's keyword arguments of ``knobs`` (:func:`v8_knobs`).

    ``pages`` is the trace's footprint: no wake can find more ready records,
    so it is the promoter's batch of an uncapped wake (``batch_per_wake``
    False), which sizes the promoter's buffers to the footprint, not the machine.

    >>> t, p = v8_parts(v8_knobs(), 1000)
    >>> t["store"], t["mode"], t["threshold"], p["interval_ms"], p["batch"], p["stale_check"]
    ('pfn-array', 'default', 2, 100, 1000, True)
    """
    tracker = {
        "store": "pfn-array",
        "mode": knobs["mode"],
        "threshold": knobs["freq_threshold"],
        "scan_section_pages": knobs["scan_section_pages"],
    }
    if knobs["freq_window_ms"] is not None:
        tracker["freq_window_ms"] = knobs["freq_window_ms"]
    promoter = {
        "interval_ms": knobs["kmigrated_sleep_ms"],
        "batch": knobs["kmigrated_batch_nr"] if knobs["batch_per_wake"] else min(max(1, pages), 2**31),
        "rate_limit_mbps": knobs["rate_limit_mbps"],
        "free_bypass": knobs["free_bypass"],
        "stale_check": True,
    }
    return tracker, promoter


class PghotV8(_Pghot):
    """pghot v8: per-PFN hotness words, kmigrated per lower-tier node, the rate limit inside.

    Follows the posting's ``include/linux/pghot.h`` and ``mm/pghot.c``
    (``pghot_record_access``, ``kmigrated``, ``kmigrated_do_work``,
    ``kmigrated_walk_zone``, ``kmigrated_should_migrate_memory``), as
    summarised in ``SEMANTICS.md`` sections 3 and 6 and read through the
    library's copies of the posting's files (found by ``find_string
    kmigrated_batch_nr``):

    1. **Source.** Hint faults (``PGHOT_HINTFAULTS``) and, where the replay
       has a ``hw-hints`` source, hardware hints (``PGHOT_HWHINTS``, v7's
       IBS); v6 removed the page-table scan as a source, so its reports are
       ignored here (counted as ``pgtable_scan_ignored``).  Accesses to
       top-tier PFNs are not recorded (``node_is_toptier``).
    2. **Record** (the ``pfn-array`` store): one word per lower-tier PFN.
       ``mode="default"`` is the u8 word: 2-bit frequency (saturating at 3),
       5-bit time in buckets of ``jiffies >> 7`` (128 ms at HZ=1000), a
       global target node (``pghot_target_nid``, node 0); ``"precise"`` is
       ``CONFIG_PGHOT_PRECISE``'s u32: 3-bit frequency, 10-bit target nid,
       14-bit time in jiffies.  An access older than the window restarts
       the count at 1; ``freq >= freq_threshold`` sets the ready bit and the
       section's hot flag.
    3. **kmigrated** wakes every ``kmigrated_sleep_ms`` when a record became
       ready (``PGDAT_KMIGRATED_ACTIVATE``), walks the hot sections of its
       node in PFN order (cold sections skipped), and for each ready record
       asks ``kmigrated_should_migrate_memory``: promoted at once when the
       top tier has plenty of free memory (``pgdat_free_space_enough``),
       else only if the access latency (now minus the record's time) is
       below the window and the rate limit allows it.  Reading a ready
       record resets it.  Promotions are batched migrations paid by the
       kernel thread (the engine's batched migration cost).

    Knobs (the ``[pghot_v8]`` table, :class:`pghot.sim.config.PghotV8Config`):

    ``mode``
        ``"default"`` (u8), the posting's default build; ``"precise"`` is
        ``CONFIG_PGHOT_PRECISE`` (u32).
    ``freq_threshold``
        2, ``PGHOT_FREQ_THRESHOLD_DEFAULT`` (``vm.pghot_freq_threshold``,
        1 .. ``PGHOT_FREQ_MAX``: 3 in u8 mode, 7 in precise mode).
    ``freq_window_ms``
        The mode's ``PGHOT_FREQ_WINDOW_DEFAULT``: 3000 (u8), 5000 (precise)
        (``vm.pghot_promote_freq_window_ms``); at most
        ``PGHOT_FREQ_WINDOW_MAX`` (3968 in u8 mode, 16383 in precise mode).
        The kernel's minimum is 1000; the simulator accepts from 1 for
        scaled-down traces.
    ``kmigrated_sleep_ms``
        100, ``KMIGRATED_SLEEP_MS_DEFAULT`` (debugfs
        ``pghot/kmigrated_sleep_ms``; the kernel accepts 50..1000, the
        simulator any positive value).
    ``kmigrated_batch_nr``, ``batch_per_wake``
        512, ``KMIGRATED_BATCH_NR_DEFAULT`` (debugfs, kernel range 64..1024).
        In the posting it is *not* a cap on a wake's promotions: it is the
        length of the folio list handed to one
        ``migrate_misplaced_folios_batch`` call (``kmigrated_walk_zone``
        flushes the list once it holds more than ``batch_nr`` folios), and
        one wake migrates every ready record it finds.  So by default
        (``batch_per_wake=False``) a wake is uncapped and the knob changes
        nothing the replay measures (the migration cost per page is the
        same batched cost for any list length: simplified).
        ``batch_per_wake=True`` reads it as v3's "batch 512" per scan
        (``SEMANTICS.md`` section 3): at most ``kmigrated_batch_nr``
        promotions per wake, the rest left ready for the next wake.
    ``rate_limit_mbps``
        65536, ``vm.pghot_promote_rate_limit_MBps`` (the old
        ``kernel.numa_balancing_promote_rate_limit_MBps`` moved into
        pghot); ``"none"`` for no limit.
    ``free_bypass``
        True: ``pgdat_free_space_enough`` (more than
        ``max(1 GiB, top_pages / 16)`` free) promotes without the rate limit.
    ``scan_section_pages``
        32768, ``PAGES_PER_SECTION`` of x86-64 (128 MiB sections of 4 KiB
        pages): the granularity of the hot flags.

    Simplifications: the rate limit is the promoter's per-wake credit of
    ``rate * sleep`` (the same long-run rate as the kernel's one-second
    candidate windows, without their burst); the kernel's threshold
    adjustment (``kmigrated_promotion_adjust_threshold``, 16 steps of the
    latency threshold every 60 s) is not modelled: the latency threshold is
    the window; the two-tier machine has one lower-tier node, so one
    kmigrated thread (the promoter's per-node loop is that thread); the
    target of every promotion is the top-tier node; a promotion into a full
    top tier demotes the memory's CLOCK victim, as for every policy.

    Examples
    --------
    >>> from pghot.sim import SimConfig
    >>> from pghot.sim.policies import build_machine
    >>> from pghot.topology import Topology
    >>> c = SimConfig(pghot_v8={"kmigrated_sleep_ms": 10})
    >>> t, pr = v8_parts(v8_knobs(c.pghot_v8), 4)
    >>> m = build_machine(c, Topology.two_tier(2, 8), 4, 1000, t, pr)
    >>> p = PghotV8("pghot-v8", m)
    >>> p.round_j, p.tracker.mode, p.promoter.batch
    (10, 'default', 4)
    """

    kind = "pghot-v8"

    def __init__(self, name: str, machine: Machine, knobs: dict[str, Any] | None = None) -> None:
        self.knobs = v8_knobs(machine.config.pghot_v8) if knobs is None else knobs
        k = self.knobs
        desc = (
            f"pghot v8, {k['mode']} mode ({'u8' if k['mode'] == 'default' else 'u32'} per lower-tier PFN), "
            f"freq_threshold={k['freq_threshold']}, kmigrated every {k['kmigrated_sleep_ms']} ms"
            + (f", {k['kmigrated_batch_nr']} per wake" if k["batch_per_wake"] else "")
            + ", hint faults (and hw hints)"
        )
        super().__init__(name, machine, desc)
        self.pgtable_ignored = 0

    def _sources(self, reps: Reports) -> Reports:
        """The reports pghot v8 records: hint faults and hardware hints (no page-table scan)."""
        keep = reps.srcs != _PGTABLE_SCAN
        if bool(keep.all()):
            return reps
        self.pgtable_ignored += int(keep.shape[0] - np.count_nonzero(keep))
        lat = None if reps.latency is None else reps.latency[keep]
        return Reports(reps.pfns[keep], reps.nids[keep], reps.srcs[keep], reps.nows[keep], lat)

    def reports(self, reps: Reports) -> None:
        super().reports(self._sources(reps))

    def run_piece(self, pages: np.ndarray, times: np.ndarray, reps: Reports, horizon: int) -> None:
        """As :meth:`_Pghot.run_piece`, on the hint-fault and hardware-hint reports only."""
        super().run_piece(pages, times, self._sources(reps), horizon)

    def stats(self) -> dict[str, dict[str, int]]:
        s = super().stats()
        s["pghot_v8"] = {"pgtable_scan_ignored": self.pgtable_ignored}
        return s
