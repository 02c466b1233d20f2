"""The chunk every reader yields: a run of trace records as parallel arrays."""

from __future__ import annotations

import dataclasses
import enum
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["AccessKind", "TraceChunk", "check_page_size"]


class AccessKind(enum.IntEnum):
    """What a lackey trace record is (``TraceChunk.kind``).

    >>> AccessKind.MODIFY
    <AccessKind.MODIFY: 2>
    """

    LOAD = 0
    STORE = 1
    #: a load and a store of the same bytes by one instruction (x86 ``add [m], r``)
    MODIFY = 2
    #: an instruction fetch
    INSTR = 3


_CHUNK_FIELDS = ("time_ns", "pfn", "vaddr", "cpu", "nid", "src", "kind", "size")
_FIELD_DTYPES = {
    "time_ns": np.int64,
    "pfn": np.uint64,
    "vaddr": np.uint64,
    "cpu": np.int32,
    "nid": np.int32,
    "src": np.int8,
    "kind": np.int8,
    "size": np.uint32,
}


@dataclasses.dataclass(eq=False)
class TraceChunk:
    """A run of consecutive trace records as parallel numpy arrays.

    Every array present has the same length. ``time_ns`` is always present,
    and at least one of ``pfn`` and ``vaddr``.

    Attributes
    ----------
    time_ns : numpy.ndarray of int64
        Time of each access in nanoseconds (trace clock, not wall time).
    pfn : numpy.ndarray of uint64 or None
        Physical page frame numbers.
    vaddr : numpy.ndarray of uint64 or None
        Virtual addresses (bytes).
    cpu, nid : numpy.ndarray of int32 or None
        Accessing CPU and its NUMA node (-1 when unknown).
    src : numpy.ndarray of int8 or None
        A :class:`pghot.Source` per record, when the trace names one.
    kind : numpy.ndarray of int8 or None
        An :class:`AccessKind` per record (lackey).
    size : numpy.ndarray of uint32 or None
        Bytes accessed (lackey).

    Examples
    --------
    >>> c = TraceChunk(time_ns=np.array([0, 5]), vaddr=np.array([0x1000, 0x2fff]))
    >>> len(c), c.pages(4096).tolist()
    (2, [1, 2])
    >>> c[1:].vaddr.tolist()
    [12287]
    """

    time_ns: np.ndarray
    pfn: np.ndarray | None = None
    vaddr: np.ndarray | None = None
    cpu: np.ndarray | None = None
    nid: np.ndarray | None = None
    src: np.ndarray | None = None
    kind: np.ndarray | None = None
    size: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = None
        for name in _CHUNK_FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            arr = np.asarray(value)
            if arr.ndim != 1:
                raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
            arr = arr.astype(_FIELD_DTYPES[name], copy=False)
            if n is None:
                n = arr.shape[0]
            elif arr.shape[0] != n:
                raise ValueError(f"{name} has length {arr.shape[0]}, time_ns has {n}")
            setattr(self, name, arr)
        if self.pfn is None and self.vaddr is None:
            raise ValueError("a TraceChunk needs pfn or vaddr")

    def __len__(self) -> int:
        return int(self.time_ns.shape[0])

    def __getitem__(self, index: Any) -> TraceChunk:
        """The records selected by a slice, an index array or a boolean mask."""
        if isinstance(index, (int, np.integer)):
            raise TypeError("index a TraceChunk with a slice or an array, not an int")
        parts: dict[str, Any] = {
            name: (None if getattr(self, name) is None else getattr(self, name)[index])
            for name in _CHUNK_FIELDS
        }
        return TraceChunk(**parts)

    def get(self, name: str) -> np.ndarray:
        """The array ``name``, which the chunk must carry.

        Raises
        ------
        KeyError
            ``name`` is not a field, or this chunk does not carry it.

        Examples
        --------
        >>> TraceChunk(time_ns=[1], pfn=[2]).get("pfn").tolist()
        [2]
        """
        value = getattr(self, name, None) if name in _CHUNK_FIELDS else None
        if value is None:
            raise KeyError(f"this chunk has no {name!r} array (it has {', '.join(self.fields())})")
        return value

    def fields(self) -> tuple[str, ...]:
        """Names of the arrays present.

        >>> TraceChunk(time_ns=[1], pfn=[2]).fields()
        ('time_ns', 'pfn')
        """
        return tuple(name for name in _CHUNK_FIELDS if getattr(self, name) is not None)

    def pages(self, page_size: int = 4096) -> np.ndarray:
        """Page numbers: ``pfn`` if present, else ``vaddr // page_size``.

        >>> TraceChunk(time_ns=[0], vaddr=[8191]).pages(4096).tolist()
        [1]
        """
        if self.pfn is not None:
            return self.pfn
        assert self.vaddr is not None
        return self.vaddr // np.uint64(check_page_size(page_size))

    def times_jiffies(self, hz: int = 1000, origin_ns: int = 0) -> np.ndarray:
        """``(time_ns - origin_ns)`` in jiffies of ``hz`` per second, rounded down.

        Exact integer arithmetic, without overflow for any int64 time.

        >>> c = TraceChunk(time_ns=[0, 999_999, 1_000_000, 2_500_000_000], pfn=[1, 1, 1, 1])
        >>> c.times_jiffies(1000).tolist()
        [0, 0, 1, 2500]
        """
        hz_i = operator.index(hz)
        if hz_i <= 0:
            raise ValueError(f"hz must be > 0, got {hz_i}")
        t = self.time_ns - np.int64(operator.index(origin_ns))
        sec, rem = np.divmod(t, np.int64(1_000_000_000))
        return sec * np.int64(hz_i) + (rem * np.int64(hz_i)) // np.int64(1_000_000_000)

    @staticmethod
    def concat(chunks: Sequence[TraceChunk]) -> TraceChunk:
        """One chunk holding the records of ``chunks`` in order (same fields).

        >>> a = TraceChunk(time_ns=[1], pfn=[10]); b = TraceChunk(time_ns=[2], pfn=[20])
        >>> TraceChunk.concat([a, b]).pfn.tolist()
        [10, 20]
        """
        if not chunks:
            raise ValueError("concat needs at least one chunk")
        if len(chunks) == 1:
            return chunks[0]
        names = chunks[0].fields()
        for c in chunks[1:]:
            if c.fields() != names:
                raise ValueError(f"chunks differ in fields: {names} vs {c.fields()}")
        return TraceChunk(**{name: np.concatenate([getattr(c, name) for c in chunks]) for name in names})


def check_page_size(page_size: Any) -> int:
    p = operator.index(page_size)
    if p <= 0 or p & (p - 1):
        raise ValueError(f"page_size must be a positive power of two, got {p}")
    return p
