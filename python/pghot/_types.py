"""Enumerations, constants and record types shared by the core and the Python layer."""

from __future__ import annotations

import enum
from typing import NamedTuple

import numpy as np

__all__ = ["NUMA_NO_NODE", "Outcome", "Source", "Record", "RECORD_DTYPE"]

#: The accessing node is unknown (the kernel's ``NUMA_NO_NODE``).
NUMA_NO_NODE = -1


class Source(enum.IntEnum):
    """Temperature source of a reported access (``PGHOT_*`` in the kernel).

    >>> Source.PGTABLE_SCAN
    <Source.PGTABLE_SCAN: 1>
    """

    HW_HINTS = 0
    PGTABLE_SCAN = 1
    HINT_FAULT = 2


class Outcome(enum.IntEnum):
    """What :meth:`pghot.Tracker.record_access` did with one access.

    >>> int(Outcome.TABLE_FULL)
    3
    """

    #: the access updated (or created) the PFN's record
    RECORDED = 0
    #: the PFN is on a top-tier node: not tracked
    TOPTIER = 1
    #: the PFN is offline (in no node) or marked not movable
    NOT_MOVABLE = 2
    #: the PFN has no record and the table had no room for one
    TABLE_FULL = 3


class Record(NamedTuple):
    """One tracked PFN, as :meth:`pghot.Tracker.lookup` returns it.

    ``nid`` is the promotion target node, ``last_update`` the access time
    modulo ``2**time_bits`` (jiffies), ``queued`` the node whose queue holds
    the record, or -1.

    >>> Record(pfn=5, frequency=2, nid=0, last_update=7, queued=0).frequency
    2
    """

    pfn: int
    frequency: int
    nid: int
    last_update: int
    queued: int


#: dtype of ``extract_batch(..., return_records=True)``.
RECORD_DTYPE = np.dtype([("pfn", "<u8"), ("frequency", "<u4"), ("nid", "<i4"), ("last_update", "<u4")])
