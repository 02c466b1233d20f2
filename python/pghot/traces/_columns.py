"""The columns a CSV, ``.npy`` or ``.npz`` trace may have, and their ranges."""

from __future__ import annotations

import numpy as np

from pghot._types import NUMA_NO_NODE, Source

INT64_MAX = 2**63 - 1

#: accepted time columns and their factor to nanoseconds
TIME_COLUMNS = {"time_ns": 1, "time": 1, "time_us": 1_000, "time_ms": 1_000_000}
#: parsed columns: dtype, smallest and largest accepted value
COLUMN_RANGE: dict[str, tuple[type, int, int]] = {
    "pfn": (np.uint64, 0, 2**64 - 1),
    "vaddr": (np.uint64, 0, 2**64 - 1),
    "time_ns": (np.int64, 0, 2**63 - 1),
    "time": (np.int64, 0, 2**63 - 1),
    "time_us": (np.int64, 0, (2**63 - 1) // 1_000),
    "time_ms": (np.int64, 0, (2**63 - 1) // 1_000_000),
    "nid": (np.int32, NUMA_NO_NODE, 2**31 - 1),
    "cpu": (np.int32, -1, 2**31 - 1),
    "src": (np.int8, 0, max(Source)),
    # lackey's record kind (pghot.traces.AccessKind: load, store, modify, instruction) and
    # access size in bytes, kept by `pghot convert` so that a converted lackey trace
    # replays through the same last-level-cache filter as its text
    "kind": (np.int8, 0, 3),
    "size": (np.uint32, 0, 2**32 - 1),
}


def column_layout(names: list[str], where: str) -> dict[str, int]:
    """Index of each known column; error unless an address and a time are named."""
    layout: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in COLUMN_RANGE:
            if name in layout:
                raise ValueError(f"{where}: column {name!r} appears twice")
            layout[name] = i
    if "pfn" not in layout and "vaddr" not in layout:
        raise ValueError(f"{where}: needs a 'pfn' or 'vaddr' column, got {names}")
    times = [n for n in TIME_COLUMNS if n in layout]
    if len(times) != 1:
        raise ValueError(f"{where}: needs exactly one time column among {list(TIME_COLUMNS)}, got {names}")
    return layout


def source_by_name(text: bytes) -> int:
    name = text.decode("ascii", "replace").strip().upper()
    if name.startswith("PGHOT_"):
        name = name[6:]
    try:
        return int(Source[name])
    except KeyError:
        raise ValueError(f"unknown source {text!r}") from None
