import numpy as np
import numpy.typing as npt

def parse_block(
    block: bytes | bytearray | memoryview | npt.NDArray[np.uint8],
    instructions: int,
    ns_per_instr: float,
    include_instr: bool,
    max_line: int,
) -> tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.uint64],
    npt.NDArray[np.int8],
    npt.NDArray[np.uint32],
    int,
    int,
    tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]] | None,
]: ...
