"""Stub of pghot._stages: the replay's per-access stages, compiled (src/_pghot/_stages.pyx)."""

import numpy as np
import numpy.typing as npt

SRC_HW_HINTS: int
SRC_PGTABLE_SCAN: int
SRC_HINT_FAULT: int

_U32 = npt.NDArray[np.uint32]
_I64 = npt.NDArray[np.int64]

class Stage:
    src: int
    hz: int
    @property
    def npages(self) -> int: ...
    @property
    def fed(self) -> int: ...
    @property
    def reported(self) -> int: ...
    @property
    def reordered(self) -> int: ...
    def feed(
        self, pages: np.ndarray, times: np.ndarray, *, checked: bool = True
    ) -> tuple[_U32, _I64, _I64]: ...
    def flush(self, now: int | None = None) -> tuple[_U32, _I64, _I64]: ...

class HwHintsStage(Stage):
    seed: int
    def __init__(
        self, npages: int, sample_every: int = 10000, seed: int = 0, *, random: bool = False, hz: int = 1000
    ) -> None: ...
    @property
    def sample_every(self) -> int: ...
    @property
    def random(self) -> bool: ...

class ScanStage(Stage):
    @property
    def next_scan(self) -> int | None: ...
    @property
    def scans(self) -> int: ...

class PgtableScanStage(ScanStage):
    interval_ms: int
    def __init__(
        self, npages: int, interval_ms: int = 2000, *, hz: int = 1000, origin_jiffies: int | None = None
    ) -> None: ...
    @property
    def interval_jiffies(self) -> int: ...

class HintFaultStage(ScanStage):
    scan_period_ms: int
    scan_delay_ms: int
    def __init__(
        self,
        npages: int,
        scan_period_ms: int = 1000,
        scan_window_pages: int = 65536,
        *,
        scan_delay_ms: int = 1000,
        hz: int = 1000,
        origin_jiffies: int | None = None,
    ) -> None: ...
    @property
    def period_jiffies(self) -> int: ...
    @property
    def delay_jiffies(self) -> int: ...
    @property
    def scan_window_pages(self) -> int: ...
    @property
    def unmapped(self) -> int: ...
    @property
    def protnone_pages(self) -> _U32: ...

class CombinedStage:
    stages: tuple[Stage, ...]
    nid: int
    def __init__(self, *stages: Stage, nid: int = 0) -> None: ...
    @property
    def reported(self) -> int: ...
    def feed(
        self, pages: np.ndarray, times: np.ndarray, *, checked: bool = True
    ) -> tuple[_U32, npt.NDArray[np.int32], npt.NDArray[np.int8], _I64, _I64]: ...
    def flush(
        self, now: int | None = None
    ) -> tuple[_U32, npt.NDArray[np.int32], npt.NDArray[np.int8], _I64, _I64]: ...

class IntervalCounts:
    def __init__(self, npages: int) -> None: ...
    @property
    def npages(self) -> int: ...
    @property
    def accesses(self) -> int: ...
    def add(self, pages: np.ndarray, *, checked: bool = True) -> None: ...
    def hot(self, k: int) -> _I64: ...

def bin_counts(times: np.ndarray, bin_j: int, out: np.ndarray, *, checked: bool = True) -> None: ...
def heat_add(
    pages: np.ndarray,
    times: np.ndarray,
    heat_tj: int,
    heat_pp: int,
    heat_np: int,
    out: np.ndarray,
    *,
    checked: bool = True,
) -> None: ...
def report_nids(
    pages: np.ndarray,
    times: np.ndarray,
    nids: np.ndarray,
    rpages: np.ndarray,
    rtimes: np.ndarray,
    rsrcs: np.ndarray,
    last: np.ndarray,
    out: np.ndarray,
) -> None: ...
