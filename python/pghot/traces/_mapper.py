"""Virtual pages to PFNs, in first-touch order."""

from __future__ import annotations

import operator
from typing import Any, SupportsIndex

import numpy as np

from pghot.traces._chunk import check_page_size

__all__ = ["PageMapper"]


class PageMapper:
    """Map virtual pages to PFNs in first-touch order, as a fresh allocator would.

    Replaying a virtual-address trace (lackey, perf ``addr``, damo vaddr) on a
    simulated machine needs physical pages: each virtual page gets the next
    free PFN of ``[start_pfn, start_pfn + nr_pages)`` the first time it is
    seen, and keeps it.

    Parameters
    ----------
    start_pfn : int
        First PFN handed out (e.g. the first PFN of a lower-tier node).
    nr_pages : int
        PFNs available; mapping more distinct pages raises ``ValueError``.
    page_size : int, optional
        Bytes per page, default 4096.

    Examples
    --------
    >>> m = PageMapper(start_pfn=1000, nr_pages=10)
    >>> m.map(np.array([0x5000, 0x1000, 0x5008, 0x9000], dtype=np.uint64)).tolist()
    [1000, 1001, 1000, 1002]
    >>> m.map(np.array([0x1fff, 0x20000], dtype=np.uint64)).tolist(), len(m)
    ([1001, 1003], 4)
    """

    def __init__(
        self, start_pfn: SupportsIndex, nr_pages: SupportsIndex, page_size: SupportsIndex = 4096
    ) -> None:
        self.start_pfn = operator.index(start_pfn)
        self.nr_pages = operator.index(nr_pages)
        if self.start_pfn < 0 or self.nr_pages < 0:
            raise ValueError("start_pfn and nr_pages must be >= 0")
        self.page_size = check_page_size(page_size)
        self._keys = np.empty(0, dtype=np.uint64)  # sorted virtual pages
        self._vals = np.empty(0, dtype=np.uint64)  # their PFNs

    def __len__(self) -> int:
        return int(self._keys.shape[0])

    def map(self, vaddrs: Any) -> np.ndarray:
        """PFNs of the pages holding ``vaddrs`` (uint64), assigning new ones.

        >>> PageMapper(0, 2).map([4096, 0, 4095]).tolist()
        [0, 1, 1]
        """
        v = np.asarray(vaddrs)
        if v.ndim != 1 or (v.dtype.kind not in "iu" and v.shape[0]):
            raise ValueError("vaddrs must be a 1-D integer array")
        if v.dtype.kind == "i" and v.shape[0] and int(v.min()) < 0:
            raise ValueError("vaddrs must be >= 0")
        vp = v.astype(np.uint64) // np.uint64(self.page_size)
        uniq: np.ndarray
        first: np.ndarray
        inverse: np.ndarray
        uniq, first, inverse = np.unique(vp, return_index=True, return_inverse=True)  # type: ignore[misc]
        pos = np.searchsorted(self._keys, uniq)
        known = np.zeros(uniq.shape[0], dtype=bool)
        inside = pos < self._keys.shape[0]
        known[inside] = self._keys[pos[inside]] == uniq[inside]
        new = np.flatnonzero(~known)
        if new.shape[0]:
            if len(self) + new.shape[0] > self.nr_pages:
                raise ValueError(
                    f"more than nr_pages={self.nr_pages} distinct pages to map "
                    f"(already {len(self)}, {new.shape[0]} new)"
                )
            order = new[np.argsort(first[new], kind="stable")]
            assigned = np.empty(uniq.shape[0], dtype=np.uint64)
            assigned[order] = np.arange(
                self.start_pfn + len(self), self.start_pfn + len(self) + order.shape[0], dtype=np.uint64
            )
            self._keys = np.insert(self._keys, pos[new], uniq[new])
            self._vals = np.insert(self._vals, pos[new], assigned[new])
            pos = np.searchsorted(self._keys, uniq)
        return self._vals[pos][inverse.reshape(-1)]
