"""pghot: user-space re-implementation of the Linux hot page tracker (pghot).

``import pghot`` loads the names of ``__all__`` and nothing else: the
tracker, the topology and the types at once; the simulated machine and the
subpackages (``pghot.sim``, ``pghot.traces``, ``pghot.bench``, ...) when
first used.

The package, one folder per room (the README's "Architecture" section draws
the data path through them):

=================  ======================================================
``pghot``          the tracker (``Tracker``, over the compiled stores
                   ``_core``, ``_v2store``, ``_pfnarray``), ``Topology``,
                   the queues, snapshots, the command line
``pghot.model``    the pure-Python specifications the stores are tested
                   against (``reference``, ``pfnarray``)
``pghot.machine``  what the kernel around pghot does: tiered memory, the
                   promoter (kpromoted), the temperature sources
``pghot.traces``   trace readers, one format each, and the page mapper
``pghot.sim``      the replay simulator: config, policies, engine, results,
                   plots, sweep
``pghot.bench``    the design comparison and workloads behind ``pghot bench``
=================  ======================================================
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pghot._types import NUMA_NO_NODE, RECORD_DTYPE, Outcome, Record, Source
from pghot.topology import Node, Topology
from pghot.tracker import Tracker

if TYPE_CHECKING:
    from pghot import bench as bench
    from pghot import machine as machine
    from pghot import model as model
    from pghot import queues, sim, traces
    from pghot.machine import sources
    from pghot.machine.memory import MigrateStatus, TieredMemory
    from pghot.machine.promoter import Promoter

__version__ = "0.1.0"

#: name -> module that defines it, loaded on first access (PEP 562).
_LAZY = {
    "MigrateStatus": "pghot.machine.memory",
    "TieredMemory": "pghot.machine.memory",
    "Promoter": "pghot.machine.promoter",
    "sources": "pghot.machine.sources",
    "bench": "pghot.bench",
    "machine": "pghot.machine",
    "model": "pghot.model",
    "queues": "pghot.queues",
    "sim": "pghot.sim",
    "traces": "pghot.traces",
}

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pghot' has no attribute {name!r}")
    mod = importlib.import_module(module)
    value = mod if mod.__name__.rsplit(".", 1)[-1] == name else getattr(mod, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
