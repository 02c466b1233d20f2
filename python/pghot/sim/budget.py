"""How much memory a replay's machines will take, checked before any is built.

A replay builds one simulated machine per policy.  Its memory model is
sized by the trace: a node holds slots (``owner`` and ``freestk``, int32
each, and a CLOCK byte on the top tier) for only ``min(nr_pages,
footprint)`` of its PFNs, as no page ever goes further
(:mod:`pghot.machine.memory`).  A tracker is sized by the machine, as the
design it models: a movable bit per lower-tier PFN, and its store's table,
whose default capacity is half the lower tier (the hash store's 16-byte
records and their queue entries, kernel-v2's lists and heaps), or a word
per lower-tier PFN (``pfn-array``: one or four bytes).  ``--top-pages 1e9``
on a 90-page trace costs the memory models nothing now; a huge lower tier
still costs each tracker its table, and :func:`check_fits` refuses a replay
that would not fit, with the numbers and the knob.

The costs below were measured (maximum resident size, ``resource.getrusage``,
of a replay of a 1,000-access, 90-page trace with the default policies at
1e7 top-tier, then lower-tier pages, against 1e3: under 0.01 bytes per
top-tier page, 10.5 per lower-tier page, all of it the pghot tracker's
table at its default capacity; before the memory models held a slot per
PFN: 27 and 38) and are rounded up.  The pfn-array words are allocated
zeroed and only the pages a replay touches become resident, but all of
them may be.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["available_bytes", "check_fits", "replay_bytes", "tracker_bytes"]

#: bytes per materialised PFN of a machine's memory model (two int32 maps and the CLOCK byte)
SLOT_BYTES = 9
#: bytes per record of a tracker's table capacity, by store (measured: 21.3 for the hash
#: store with the binary queue, 23.3 with the bucket queue; 2.1 for kernel-v2's list heads
#: and heap, whose records are allocated as they come: per page, below)
TABLE_RECORD_BYTES = {"hash": 24, "kernel-v2": 3}
#: bytes per lower-tier PFN of a pfn-array store's words, by mode
PFN_ARRAY_BYTES = {"precise": 4, "default": 1}
#: bytes per logical page of the trace, per policy (page maps, promotion times, window) and shared
PAGE_BYTES = 64


def tracker_bytes(kind: Mapping[str, Any], lower_pages: int) -> int:
    """The memory of a tracker built with the keyword arguments ``kind``, about (bytes).

    Its movable bits (one per lower-tier PFN) and its store: the table at
    its ``capacity`` (default half the lower tier) or the pfn-array words.

    >>> tracker_bytes({}, 8000), tracker_bytes({"capacity": 100}, 8000)
    (97000, 3400)
    >>> tracker_bytes({"store": "pfn-array", "mode": "precise"}, 8000)
    33000
    """
    movable = -(-lower_pages // 8)
    store = kind.get("store") or "hash"
    if store == "pfn-array":
        return movable + PFN_ARRAY_BYTES[kind.get("mode") or "default"] * lower_pages
    cap = kind.get("capacity")
    records = cap if isinstance(cap, int) else lower_pages * 50 // 100
    return movable + TABLE_RECORD_BYTES.get(store, TABLE_RECORD_BYTES["hash"]) * records


def replay_bytes(
    top_pages: int,
    lower_pages: int,
    footprint: int,
    policies: int,
    trackers: Sequence[Mapping[str, Any]] = (),
    *,
    node_pages: Sequence[int] | None = None,
) -> int:
    """The memory a replay's machines need, about (bytes).

    ``policies`` machines of ``top_pages + lower_pages`` PFNs (in nodes of
    ``node_pages`` PFNs each; default one node per tier) over a
    ``footprint``-page trace, and a tracker built with each of ``trackers``
    (their keyword arguments, as :func:`tracker_bytes`).

    >>> replay_bytes(1000, 2000, 500, policies=3, trackers=[{}])
    179250
    >>> replay_bytes(10**9, 4 * 10**9, 500, policies=3)  # the memory models: the footprint
    155000
    """
    nodes = (top_pages, lower_pages) if node_pages is None else node_pages
    slots = sum(min(n, footprint) for n in nodes)
    return (
        policies * SLOT_BYTES * slots
        + sum(tracker_bytes(k, lower_pages) for k in trackers)
        + (policies + 1) * PAGE_BYTES * footprint
    )


def available_bytes() -> int | None:
    """Memory the machine can still give (``MemAvailable``), None when unknown.

    >>> n = available_bytes(); n is None or n > 0
    True
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):
        return None


def check_fits(
    top_pages: int,
    lower_pages: int,
    footprint: int,
    names: Sequence[str],
    trackers: Sequence[Mapping[str, Any]] = (),
    available: int | None = None,
    *,
    node_pages: Sequence[int] | None = None,
) -> int:
    """Refuse (ValueError) a replay whose machines would not fit in memory; the estimate.

    Examples
    --------
    >>> check_fits(1000, 2000, 500, ["pghot", "none"], trackers=[{}], available=10**9)
    138250
    >>> check_fits(10**9, 2 * 10**9, 90, ["pghot", "none"], trackers=[{}], available=8 * 2**30)
    Traceback (most recent call last):
    ...
    ValueError: config: top_pages, lower_pages: 1000000000 top-tier and 2000000000 lower-tier ...
    """
    need = replay_bytes(top_pages, lower_pages, footprint, len(names), trackers, node_pages=node_pages)
    have = available_bytes() if available is None else available
    if have is not None and need > have:
        raise ValueError(
            f"config: top_pages, lower_pages: {top_pages} top-tier and {lower_pages} lower-tier "
            f"pages, for {len(names)} policies ({', '.join(names)}), need about {need / 1e9:.3g} GB, "
            f"more than the {have / 1e9:.3g} GB available; the trace touches {footprint} pages: "
            "model a smaller machine (--top-pages/--lower-pages, or leave them unset to size it "
            "from the trace)"
        )
    return need
