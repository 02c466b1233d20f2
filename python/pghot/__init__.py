"""pghot: user-space re-implementation of the Linux hot page tracker (pghot)."""

from pghot._types import NUMA_NO_NODE, RECORD_DTYPE, Outcome, Record, Source
from pghot.memory import MigrateStatus, TieredMemory
from pghot.promoter import Promoter
from pghot.topology import Node, Topology
from pghot.tracker import Tracker
from pghot import queues, sim, sources, traces

__version__ = "0.1.0"

__all__ = [
    "NUMA_NO_NODE",
    "RECORD_DTYPE",
    "MigrateStatus",
    "Node",
    "Outcome",
    "Promoter",
    "Record",
    "Source",
    "TieredMemory",
    "Topology",
    "Tracker",
    "__version__",
    "queues",
    "sim",
    "sources",
    "traces",
]
