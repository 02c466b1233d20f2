# The "pfn-array" store (src/_pghot/_pfnarray.pyx): one word per lower-tier
# PFN, no queue, no snapshots (no save).
from typing import NoReturn

from pghot._base import TrackerBase
from pghot.topology import Topology

class PfnArrayTracker(TrackerBase):
    def __init__(
        self,
        topology: Topology,
        *,
        mode: str = ...,
        hz: int = ...,
        freq_window_ms: int | None = ...,
        threshold: int = ...,
        scan_section_pages: int = ...,
        freq_bits: int | None = ...,
        nid_bits: int | None = ...,
        time_bits: int | None = ...,
        capacity: int | None = ...,
        queue_capacity: int | None = ...,
        queue: str | None = ...,
        evict_stale: bool = ...,
    ) -> None: ...
    def __reduce__(self) -> NoReturn: ...
    @property
    def mode(self) -> str: ...
    @property
    def window_ticks(self) -> int: ...
    @property
    def time_unit_jiffies(self) -> int: ...
    @property
    def scan_section_pages(self) -> int: ...
