import numpy as np
import numpy.typing as npt

class PageMap:
    def __init__(self, max_pages: int = ...) -> None: ...
    def __len__(self) -> int: ...
    def map(self, keys: npt.ArrayLike) -> npt.NDArray[np.uint32]: ...

def clamped_jiffies(
    time_ns: npt.NDArray[np.int64], origin_ns: int, hz: int, floor: int
) -> npt.NDArray[np.int64]: ...
def closed_clock(
    pages: npt.NDArray[np.uint32],
    times: npt.NDArray[np.int64],
    top_pages: int,
    top_ns: float,
    lower_ns: float,
    cpu_ns: float,
    stall: float,
    first: int,
    hz: int,
    floor: int,
) -> tuple[npt.NDArray[np.int64], float, int]: ...
