# The "hash" store (src/_pghot/_core.pyx): the only one that saves and loads.
import os
from typing import Any, SupportsIndex

import numpy as np
import numpy.typing as npt

from pghot._base import TrackerBase
from pghot.topology import Topology

_Int = SupportsIndex
_Bool = bool | np.bool_

SNAPSHOT_VERSION: int

def table_geometry(capacity: int) -> tuple[int, int]: ...

class Tracker(TrackerBase):
    def __init__(
        self,
        topology: Topology,
        *,
        hz: _Int = ...,
        freq_window_ms: _Int = ...,
        threshold: _Int = ...,
        freq_bits: _Int = ...,
        nid_bits: _Int = ...,
        time_bits: _Int = ...,
        capacity: _Int | None = ...,
        queue_capacity: _Int | None = ...,
        queue: str = ...,
        evict_stale: _Bool = ...,
    ) -> None: ...
    def save(self, path: str | os.PathLike[str]) -> None: ...
    @staticmethod
    def load(path: str | os.PathLike[str]) -> Tracker: ...
    def _state(self) -> dict[str, npt.NDArray[Any]]: ...
    @staticmethod
    def _from_state(state: dict[str, npt.NDArray[Any]]) -> Tracker: ...
    def _restore(self, state: Any) -> None: ...
    def _config(self) -> dict[str, Any]: ...
    @property
    def queue(self) -> str: ...
