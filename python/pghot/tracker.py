"""``pghot.Tracker``: one API, several record stores.

``Tracker(topology, store="hash", ...)`` builds the tracker of the chosen
store and returns it; every store's class is registered as a virtual
subclass, so ``isinstance(t, pghot.Tracker)`` holds for all of them.  The
returned object is the compiled class itself: no Python layer sits between
a caller and ``record_access``.  Every store derives from the compiled base
:class:`pghot._base.TrackerBase`, which writes the public API once; for a
type checker, ``Tracker(topology, store="pfn-array")`` is a
:class:`pghot._pfnarray.PfnArrayTracker` (which has no ``save``),
``store="kernel-v2"`` a :class:`pghot._v2store.KernelV2Tracker`, and the
default ``"hash"`` store the class that saves and loads snapshots.

Stores:

- ``"hash"`` (default): :class:`pghot._core.Tracker`, a sharded
  open-addressing PFN table with per-node indexed queues (``queue=``
  ``"binary"``, ``"quaternary"`` or ``"bucket"``);
- ``"kernel-v2"``: v2's own layout (chained lists of 40-byte records,
  pointer heaps), same semantics, for measuring what the layout costs;
- ``"pfn-array"``: the v3+/v8 design, one word per lower-tier PFN and a
  ready bit scanned for, with that design's semantics (SEMANTICS.md
  section 3).
"""

from __future__ import annotations

import abc
import importlib
from typing import TYPE_CHECKING, Any, Literal, overload

from pghot import _base, _core

# imported for its side effect: it binds the snapshot file I/O into the
# compiled core (the core imports no Python-layer module)
from pghot import snapshot as _snapshot  # noqa: F401

__all__ = ["Tracker", "STORES", "DESIGNS"]

#: store name -> (module, class); modules are imported on first use.
STORES: dict[str, tuple[str, str]] = {
    "hash": ("pghot._core", "Tracker"),
    "kernel-v2": ("pghot._v2store", "KernelV2Tracker"),
    "pfn-array": ("pghot._pfnarray", "PfnArrayTracker"),
}

#: design name -> keyword arguments of :class:`Tracker`: each record store with
#: each of its layouts (queue design, word mode).  ``pghot bench`` compares
#: them and ``pghot replay --design`` runs them, from this one table.
DESIGNS: dict[str, dict[str, Any]] = {
    "hash/binary": {"store": "hash", "queue": "binary"},
    "hash/quaternary": {"store": "hash", "queue": "quaternary"},
    "hash/bucket": {"store": "hash", "queue": "bucket"},
    "kernel-v2": {"store": "kernel-v2"},
    "pfn-array/precise": {"store": "pfn-array", "mode": "precise"},
    "pfn-array/default": {"store": "pfn-array", "mode": "default"},
}


def _store_class(store: object) -> type:
    if not isinstance(store, str):
        raise TypeError(f"store must be a str, not {type(store).__name__}")
    if store not in STORES:
        raise ValueError(f"store must be one of {sorted(STORES)}, got {store!r}")
    module, name = STORES[store]
    cls = getattr(importlib.import_module(module), name)
    _TrackerFactory.register(cls)
    return cls


class _TrackerFactory(abc.ABC):  # noqa: B024 - an ABC for register(), with nothing abstract
    """Hot page tracker; see :class:`pghot._core.Tracker` for the parameters.

    Parameters
    ----------
    topology : pghot.Topology
    store : {"hash", "kernel-v2", "pfn-array"}, default "hash"
        Record store; the other keyword arguments go to that store's class.

    Examples
    --------
    >>> import pghot
    >>> t = pghot.Tracker(pghot.Topology.two_tier(1024, 4096), threshold=1)
    >>> isinstance(t, pghot.Tracker), type(t).__module__
    (True, 'pghot._core')
    >>> pghot.Tracker(pghot.Topology.two_tier(16, 64), store="btree")
    Traceback (most recent call last):
    ...
    ValueError: store must be one of ['hash', 'kernel-v2', 'pfn-array'], got 'btree'
    """

    def __new__(cls, topology: Any, *, store: str = "hash", **kwargs: Any) -> Any:
        return _store_class(store)(topology, **kwargs)

    @staticmethod
    def load(path: Any) -> Any:
        """Read a tracker snapshot written by ``tracker.save(path)``.

        Snapshots are versioned ``.npz`` files (format version
        ``pghot._core.SNAPSHOT_VERSION``); only the ``"hash"`` store writes
        them so far (the other stores refuse with ``TypeError``).  A
        truncated, corrupted or foreign file raises ``ValueError``.
        """
        return _core.Tracker.load(path)


if TYPE_CHECKING:
    from pghot._pfnarray import PfnArrayTracker
    from pghot._v2store import KernelV2Tracker

    # For type checkers a Tracker is the hash store's compiled class (the
    # default store, the one that saves), built with store=; a literal
    # store= gives that store's own class, any other str the base class
    # (pghot._base.TrackerBase: what every store has).  Those are not
    # subclasses of the hash store, hence the ignores on their overloads.
    class Tracker(_core.Tracker):
        @overload
        def __new__(cls, topology: Any, *, store: Literal["hash"] = ..., **kwargs: Any) -> Tracker: ...
        @overload
        def __new__(  # type: ignore[misc]
            cls,
            topology: Any,
            *,
            store: Literal["kernel-v2"],
            **kwargs: Any,
        ) -> KernelV2Tracker: ...
        @overload
        def __new__(  # type: ignore[misc]
            cls,
            topology: Any,
            *,
            store: Literal["pfn-array"],
            **kwargs: Any,
        ) -> PfnArrayTracker: ...
        @overload
        def __new__(  # type: ignore[misc]
            cls,
            topology: Any,
            *,
            store: str,
            **kwargs: Any,
        ) -> _base.TrackerBase: ...
        def __new__(  # type: ignore[misc]
            cls,
            topology: Any,
            *,
            store: str = ...,
            **kwargs: Any,
        ) -> _base.TrackerBase: ...
else:
    Tracker = _TrackerFactory
    Tracker.__name__ = Tracker.__qualname__ = "Tracker"
    Tracker.register(_core.Tracker)
