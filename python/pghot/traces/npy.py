"""numpy traces: a structured ``.npy`` array, or a ``.npz`` of one array per column.

Both are read in bounded pieces straight from the file (``.npz`` members
too, deflated or not); every piece is checked against the column ranges of
:mod:`pghot.traces._columns` before it is scaled or converted.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

import numpy as np

from pghot.traces._chunk import TraceChunk
from pghot.traces._columns import COLUMN_RANGE, TIME_COLUMNS, column_layout

if TYPE_CHECKING:
    from pghot.traces._reader import TraceReader

_NPY_READ_BYTES = 1 << 26  # at most this many bytes of .npy records per read


def npy_chunks(reader: TraceReader) -> Iterator[TraceChunk]:
    """The records of a ``.npy`` structured array, in bounded reads."""
    f = reader._file
    assert f is not None
    dtype, count = _read_npy_header(f, reader.path)
    if dtype.names is None:
        raise ValueError(
            f"{reader.path}: a .npy trace must be a structured array with fields "
            f"named pfn|vaddr and time_ns (and optional nid, cpu, src); got dtype {dtype}"
        )
    layout = column_layout(list(dtype.names), f"{reader.path}: .npy fields")
    for name in layout:
        field = dtype.fields[name][0]  # type: ignore[index]
        if field.shape != () or field.itemsize == 0:
            raise ValueError(
                f"{reader.path}: .npy field {name!r} must be one integer per record, got dtype {field}"
            )
    if dtype.itemsize > _NPY_READ_BYTES:
        raise ValueError(f"{reader.path}: .npy records of {dtype.itemsize} bytes are too wide for a trace")
    time_name = next(n for n in TIME_COLUMNS if n in layout)
    scale = TIME_COLUMNS[time_name]
    step = min(reader._chunk_size, _NPY_READ_BYTES // dtype.itemsize)  # bounded reads
    done = 0
    while done < count:
        n = min(step, count - done)
        arr = _read_exact(f, dtype, n, reader.path, done, count)
        out = {}
        for name in layout:
            key = "time_ns" if name == time_name else name
            # checked against its own unit's range, so that scaling cannot overflow
            out[key] = _checked(reader, np.asarray(arr[name]), name, done)
        if scale != 1:
            out["time_ns"] = out["time_ns"] * np.int64(scale)
        done += n
        yield _finish_arrays(reader, out)


def npz_chunks(reader: TraceReader) -> Iterator[TraceChunk]:
    """The columns of a ``.npz`` archive, one member each, read side by side."""
    f = reader._file
    assert f is not None
    try:
        zf = zipfile.ZipFile(f)
    except zipfile.BadZipFile as e:
        raise ValueError(f"{reader.path}: not a valid .npz file ({e})") from None
    with zf:
        members = {name[:-4] if name.endswith(".npy") else name: name for name in zf.namelist()}
        layout = column_layout(list(members), f"{reader.path}: .npz arrays")
        time_name = next(n for n in TIME_COLUMNS if n in layout)
        scale = TIME_COLUMNS[time_name]
        streams = {}
        count = None
        try:
            for name in layout:
                stream = zf.open(members[name])
                dtype, n = _read_npy_header(stream, f"{reader.path}[{members[name]}]")
                if dtype.names is not None or dtype.kind not in "iu":
                    raise ValueError(
                        f"{reader.path}: array {name!r} must be a 1-D integer array, got dtype {dtype}"
                    )
                if count is None:
                    count = n
                elif n != count:
                    raise ValueError(f"{reader.path}: array {name!r} has {n} elements, others have {count}")
                streams[name] = (stream, dtype)
            assert count is not None
            done = 0
            while done < count:
                n = min(reader._chunk_size, count - done)
                out = {}
                for name, (stream, dtype) in streams.items():
                    key = "time_ns" if name == time_name else name
                    arr = _read_exact(stream, dtype, n, f"{reader.path}[{members[name]}]", done, count)
                    out[key] = _checked(reader, arr, name, done)  # in its own unit's range
                if scale != 1:
                    out["time_ns"] = out["time_ns"] * np.int64(scale)
                done += n
                yield _finish_arrays(reader, out)
        finally:
            for stream, _ in streams.values():
                stream.close()


def _checked(reader: TraceReader, arr: np.ndarray, name: str, offset: int) -> np.ndarray:
    dtype, lo, hi = COLUMN_RANGE[name]
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{reader.path}: {name} must be integers, got dtype {arr.dtype}")
    if arr.dtype.kind == "i" and arr.shape[0]:
        below = np.flatnonzero(arr < lo)
        if below.shape[0]:
            i = int(below[0])
            raise ValueError(f"{reader.path}: {name}[{offset + i}] = {arr[i]} is below {lo}")
    if arr.shape[0] and arr.dtype.itemsize == 8 and arr.dtype.kind == "u" and hi < 2**64 - 1:
        above = np.flatnonzero(arr > np.uint64(hi))
    elif arr.shape[0] and hi < 2**63:
        above = np.flatnonzero(arr > hi)
    else:
        above = np.empty(0, np.intp)
    if above.shape[0]:
        i = int(above[0])
        raise ValueError(f"{reader.path}: {name}[{offset + i}] = {arr[i]} is above {hi}")
    return arr.astype(dtype, copy=False)


def _finish_arrays(reader: TraceReader, out: dict[str, np.ndarray]) -> TraceChunk:
    if "cpu" in out and "nid" not in out and reader._cpu_to_node is not None:
        nid = reader._nids_of(out["cpu"].astype(np.int32))
        if nid is not None:
            out["nid"] = nid
    reader._good_lines += len(out["time_ns"])
    return TraceChunk(**out)


def _read_npy_header(f: IO[bytes], path: str) -> tuple[np.dtype, int]:
    """dtype and element count of the .npy stream ``f``, positioned at its data."""
    from numpy.lib import format as npformat

    try:
        version = npformat.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = npformat.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = npformat.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except ValueError as e:
        raise ValueError(f"{path}: not a valid .npy array ({e})") from None
    if len(shape) != 1:
        raise ValueError(f"{path}: a trace array must be 1-D, got shape {shape}")
    if dtype.hasobject:
        raise ValueError(f"{path}: object arrays are not accepted")
    return dtype, int(shape[0])


def _read_exact(f: IO[bytes], dtype: np.dtype, n: int, path: str, done: int, count: int) -> np.ndarray:
    want = n * dtype.itemsize
    data = f.read(want)
    if len(data) != want:
        got = done + len(data) // max(dtype.itemsize, 1)
        raise ValueError(f"{path}: truncated: the header promises {count} records, the data ends after {got}")
    return np.frombuffer(data, dtype=dtype)
