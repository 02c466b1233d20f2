"""A set-associative LRU cache, written for clarity: the specification of ``pghot._cache``.

Each set is an :class:`collections.OrderedDict` of line numbers, least
recently used first: a hit moves the line to the end, a miss appends it and,
when the set already holds ``ways`` lines, first drops the one at the front.
The line number of a byte address is ``address // line_bytes``, its set
``line % sets``.  An access of ``size`` bytes touches every line from that of
its first byte to that of its last (``size`` 0 counts as 1) and misses when
any of them misses.  The compiled cache must give the same masks and
counters for every stream (``tests/test_cache.py``).
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from typing import Any, SupportsIndex

import numpy as np

__all__ = ["LRUCacheReference"]

_U64_MAX = 2**64 - 1


def _knob(value: Any, name: str, lo: int, hi: int) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    try:
        x = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, not {type(value).__name__}") from None
    if not lo <= x <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {x}")
    return x


class LRUCacheReference:
    """Pure-Python set-associative LRU cache with the API of :class:`pghot._cache.LRUCache`.

    Parameters
    ----------
    size_bytes, line_bytes, ways : int
        As for :class:`pghot._cache.LRUCache` (the same checks).

    Examples
    --------
    >>> c = LRUCacheReference(size_bytes=256, line_bytes=64, ways=2)
    >>> c.filter([0, 8, 64, 0, 128, 256, 0]).tolist()
    [True, False, True, False, True, True, True]
    >>> c.accesses, c.hits, c.misses, c.evictions, c.resident_lines()
    (7, 2, 5, 2, [[0, 4], [1]])
    """

    def __init__(self, size_bytes: SupportsIndex, line_bytes: SupportsIndex, ways: SupportsIndex) -> None:
        size = _knob(size_bytes, "size_bytes", 1, 1 << 62)
        line = _knob(line_bytes, "line_bytes", 1, 1 << 20)
        w = _knob(ways, "ways", 1, 1 << 27)
        if line & (line - 1):
            raise ValueError(f"line_bytes must be a power of two, got {line}")
        if size % (line * w):
            raise ValueError(f"size_bytes must be a multiple of line_bytes * ways = {line * w}, got {size}")
        if size // line > 1 << 27:
            raise ValueError(f"size_bytes: {size // line} lines, more than the {1 << 27} this model holds")
        self.size_bytes = size
        self.line_bytes = line
        self.ways = w
        self.sets = size // line // w
        self._sets: list[OrderedDict[int, None]] = [OrderedDict() for _ in range(self.sets)]
        self.accesses = self.hits = self.misses = self.evictions = 0

    def _touch(self, line: int) -> bool:
        """Access one line; True on a miss."""
        s = self._sets[line % self.sets]
        if line in s:
            s.move_to_end(line)
            return False
        if len(s) == self.ways:
            s.popitem(last=False)
            self.evictions += 1
        s[line] = None
        return True

    def filter(self, addresses: Any, sizes: Any = None) -> np.ndarray:
        """True where an access missed (see the module docstring).

        >>> c = LRUCacheReference(size_bytes=1024, line_bytes=64, ways=4)
        >>> c.filter([60, 60], [8, 4]).tolist()
        [True, False]
        """
        addrs = [int(a) for a in np.asarray(addresses).reshape(-1)]
        if any(a < 0 or a > _U64_MAX for a in addrs):
            raise ValueError("addresses must be in [0, 2**64 - 1]")
        lens = [1] * len(addrs) if sizes is None else [int(s) for s in np.asarray(sizes).reshape(-1)]
        if len(lens) != len(addrs):
            raise ValueError(f"sizes has length {len(lens)}, addresses has {len(addrs)}")
        out = np.zeros(len(addrs), dtype=bool)
        for i, (a, n) in enumerate(zip(addrs, lens)):
            first = a // self.line_bytes
            last = min(a + max(n, 1) - 1, _U64_MAX) // self.line_bytes
            missed = False
            for line in range(first, last + 1):
                missed |= self._touch(line)
            out[i] = missed
            self.accesses += 1
            if missed:
                self.misses += 1
            else:
                self.hits += 1
        return out

    def reset(self) -> None:
        """Empty the cache and zero the counters.

        >>> c = LRUCacheReference(128, 64, 2); _ = c.filter([0]); c.reset(); c.accesses
        0
        """
        for s in self._sets:
            s.clear()
        self.accesses = self.hits = self.misses = self.evictions = 0

    def resident_lines(self) -> list[list[int]]:
        """Valid lines set by set, each from most to least recently used.

        >>> c = LRUCacheReference(128, 64, 1); _ = c.filter([0, 64, 128]); c.resident_lines()
        [[2], [1]]
        """
        return [list(reversed(s)) for s in self._sets]
