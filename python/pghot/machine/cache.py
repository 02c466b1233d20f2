"""The last-level cache in front of the memory tiers.

A trace of every load and store (valgrind lackey reports L1 hits too) is
not a trace of memory accesses: a program that loops over a few kilobytes
touches memory once per line, not once per load.  :class:`LastLevelCache`
is the stage that turns the first into the second: ``filter(addresses)``
says which accesses missed the cache, and only those should reach the
tiers, the temperature sources and the oracle.  Traces that are already
memory-level (perf samples of memory loads, damo) should not pass through
it.

The model is a set-associative cache with LRU replacement (the compiled
:class:`pghot._cache.LRUCache`; its specification is
:class:`pghot.model.cache.LRUCacheReference`).
"""

from __future__ import annotations

from typing import SupportsIndex

from pghot._cache import LRUCache

__all__ = [
    "DEFAULT_LLC_BYTES",
    "DEFAULT_LLC_LINE_BYTES",
    "DEFAULT_LLC_WAYS",
    "LastLevelCache",
]

#: Default capacity: the per-socket L3 of an Intel Xeon Platinum 8480+
#: (4th Gen Xeon Scalable, "Sapphire Rapids", 56 cores): 1.875 MB of LLC per
#: core, 105 MB per socket, i.e. 56 * 1.875 MiB = 105 MiB = 110 100 480 bytes.
#: Sources: Intel, "Intel Xeon Platinum 8480+ Processor (105M Cache, 2.00 GHz)",
#: ark.intel.com product specifications; Intel support article 000027820,
#: "Difference of Cache Memory Between CPUs for Intel Xeon E5 Processors and
#: Intel Xeon Scalable Processors" (4th Gen: "Last Level Cache: 1.875 MB per
#: core", shared, non-inclusive).  Sapphire Rapids is the first Xeon with CXL
#: 1.1 memory expanders, the tiered machines pghot is aimed at.
DEFAULT_LLC_BYTES = 56 * 1920 * 1024
#: Line size of every current x86 server CPU (Intel SDM vol. 3A, 11.1).
DEFAULT_LLC_LINE_BYTES = 64
#: Associativity of the Sapphire Rapids L3: 15 ways (2048 sets of 15 lines
#: per 1.875 MiB slice), as CPUID leaf 4 reports it on the 8480+; the size
#: then gives 56 * 2048 = 114 688 sets.
DEFAULT_LLC_WAYS = 15


class LastLevelCache(LRUCache):
    """The last-level cache filter: a set-associative LRU cache of 64-byte lines.

    The defaults model the L3 of one socket of an Intel Xeon Platinum 8480+
    (Sapphire Rapids): 105 MiB, 64-byte lines, 15 ways (see
    :data:`DEFAULT_LLC_BYTES` and :data:`DEFAULT_LLC_WAYS` for the sources).
    Where the model is simpler than the hardware:

    - **LRU**, not the real replacement policy (Intel's is undocumented, an
      adaptive pseudo-LRU/RRIP family), so scan-resistant behaviour differs.
    - **No inclusion policy**: the L1/L2 in front of the LLC are not
      modelled (SPR's LLC is non-inclusive); every access in the trace is an
      LLC lookup, so an L1 hit refreshes the line's LRU age in the LLC.
    - **No prefetch**: a sequential stream misses once per line, where the
      hardware prefetchers would hide most of those misses (the misses still
      reach memory, so the tiers see the right traffic).
    - **Write-allocate, no write-back**: a store is looked up and filled like
      a load; evicting a dirty line writes nothing, so the tiers see no
      write-back traffic.
    - **One cache for all CPUs** of the trace (a two-socket machine has two
      LLCs, and a slice-hashed one per socket), indexed by the trace's
      address (virtual for lackey: a physically indexed cache maps pages to
      sets differently, so conflict misses differ; capacity misses do not).

    Parameters
    ----------
    size_bytes : int, optional
        Capacity, a multiple of ``line_bytes * ways`` (default 105 MiB).
    line_bytes : int, optional
        Line size, a power of two (default 64).
    ways : int, optional
        Associativity, ``>= 1`` (default 15); ``size_bytes // line_bytes``
        for a fully associative cache.

    Raises
    ------
    TypeError, ValueError
        A knob of the wrong type or value; the message names it.

    Examples
    --------
    >>> import numpy as np
    >>> llc = LastLevelCache()
    >>> llc.size_bytes, llc.line_bytes, llc.ways, llc.sets
    (110100480, 64, 15, 114688)
    >>> loop = np.tile(np.arange(0, 1 << 20, 8, dtype=np.uint64), 3)   # 1 MiB, three passes
    >>> int(llc.filter(loop).sum()), llc.misses, llc.hits    # one miss per 64-byte line
    (16384, 16384, 376832)
    >>> LastLevelCache(size_bytes=1 << 20, ways=15)
    Traceback (most recent call last):
        ...
    ValueError: size_bytes must be a multiple of line_bytes * ways = 960, got 1048576
    """

    __slots__ = ()

    def __init__(
        self,
        size_bytes: SupportsIndex = DEFAULT_LLC_BYTES,
        line_bytes: SupportsIndex = DEFAULT_LLC_LINE_BYTES,
        ways: SupportsIndex = DEFAULT_LLC_WAYS,
    ) -> None:
        super().__init__(size_bytes, line_bytes, ways)

    def counters(self) -> dict[str, int]:
        """The counters as a dict: ``accesses``, ``hits``, ``misses``, ``evictions``.

        >>> import numpy as np
        >>> c = LastLevelCache(size_bytes=4096, ways=4)
        >>> _ = c.filter(np.array([0, 0, 4096], dtype=np.uint64)); c.counters()
        {'accesses': 3, 'hits': 1, 'misses': 2, 'evictions': 0}
        """
        return {
            "accesses": self.accesses,
            "hits": self.hits,
            "misses": self.misses,
            "evictions": self.evictions,
        }
