"""pghot: user-space re-implementation of the Linux hot page tracker (pghot)."""

from pghot._types import NUMA_NO_NODE, RECORD_DTYPE, Outcome, Record, Source
from pghot.topology import Node, Topology
from pghot.tracker import Tracker

__version__ = "0.1.0"

__all__ = [
    "NUMA_NO_NODE",
    "RECORD_DTYPE",
    "Node",
    "Outcome",
    "Record",
    "Source",
    "Topology",
    "Tracker",
    "__version__",
]
