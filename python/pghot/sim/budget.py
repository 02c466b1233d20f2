"""How much memory a replay's machines will take, checked before any is built.

A replay builds one simulated machine per policy, and a machine's arrays
are sized by the configured tiers, not by the trace: each PFN of the
machine costs its memory model a slot (``owner`` and ``freestk``, int32
each, and a CLOCK byte on the top tier), and a tracker a movable bit per
lower-tier PFN (plus, at construction, a transient int64 per lower-tier
PFN), a ``pfn-array`` store one or four bytes more.  ``--top-pages 1e9`` on
a 90-page trace would allocate tens of GB and be killed by the kernel;
:func:`check_fits` refuses it first, with the numbers and the knob.

The per-page costs below were measured (maximum resident size of a
replay of a 1,000-access trace at 1e7 top-tier, then lower-tier pages,
against 1e3: 27 and 41 bytes per page for the three default policies) and
are rounded up.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

__all__ = ["available_bytes", "check_fits", "replay_bytes"]

#: bytes per PFN of a machine's memory model (two int32 maps and the CLOCK byte)
SLOT_BYTES = 9
#: bytes per lower-tier PFN of a tracker (movable bit, the transient int64 of its set-up)
TRACKER_LOWER_BYTES = 9
#: bytes per logical page of the trace, per policy (page maps, promotion times, window) and shared
PAGE_BYTES = 64


def replay_bytes(
    top_pages: int,
    lower_pages: int,
    footprint: int,
    policies: int,
    trackers: int,
    pfn_array_bytes: int = 0,
) -> int:
    """The memory a replay's machines need, about (bytes).

    ``policies`` machines of ``top_pages + lower_pages`` PFNs over a
    ``footprint``-page trace, ``trackers`` of them with a tracker, and
    ``pfn_array_bytes`` bytes per lower-tier PFN of the pfn-array stores
    (their words summed).

    >>> replay_bytes(1000, 2000, 500, policies=3, trackers=1)
    227000
    """
    return (
        policies * SLOT_BYTES * (top_pages + lower_pages)
        + trackers * TRACKER_LOWER_BYTES * lower_pages
        + pfn_array_bytes * lower_pages
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
    trackers: int,
    pfn_array_bytes: int = 0,
    available: int | None = None,
) -> int:
    """Refuse (ValueError) a replay whose machines would not fit in memory; the estimate.

    Examples
    --------
    >>> check_fits(1000, 2000, 500, ["pghot", "none"], trackers=1, available=10**9)
    168000
    >>> check_fits(10**9, 2 * 10**9, 90, ["pghot", "none"], trackers=1, available=8 * 2**30)
    Traceback (most recent call last):
    ...
    ValueError: config: top_pages, lower_pages: 1000000000 top-tier and 2000000000 lower-tier ...
    """
    need = replay_bytes(top_pages, lower_pages, footprint, len(names), trackers, pfn_array_bytes)
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
