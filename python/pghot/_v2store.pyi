# The "kernel-v2" store (src/_pghot/_v2store.pyx): v2's layout, no snapshots.
from typing import NoReturn

from pghot._base import TrackerBase
from pghot.topology import Topology

RECORD_BYTES: int
LIST_BYTES: int

def _nr_lists(capacity: int) -> int: ...

class KernelV2Tracker(TrackerBase):
    def __init__(
        self,
        topology: Topology,
        *,
        hz: int = ...,
        freq_window_ms: int = ...,
        threshold: int = ...,
        freq_bits: int = ...,
        nid_bits: int = ...,
        time_bits: int = ...,
        capacity: int | None = ...,
        queue_capacity: int | None = ...,
        queue: str = ...,
        evict_stale: bool = ...,
    ) -> None: ...
    def __reduce__(self) -> NoReturn: ...
    @property
    def queue(self) -> str: ...
