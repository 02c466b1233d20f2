"""CSV traces: a header naming the columns, then one access per line.

The columns and their ranges are those of :mod:`pghot.traces._columns`. A
block's rows are split and converted by numpy column by column; a column
that numpy cannot convert (a hex value, a source name, a value out of
range) is converted value by value, to keep the good rows and report the
bad ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from pghot.traces._chunk import TraceChunk
from pghot.traces._columns import COLUMN_RANGE, TIME_COLUMNS, column_layout, source_by_name

if TYPE_CHECKING:
    from pghot.traces._reader import TraceReader


def chunks(reader: TraceReader) -> Iterator[TraceChunk]:
    """The rows of a CSV trace, block by block (the header names the columns)."""
    columns: list[str] | None = None
    layout: dict[str, int] = {}
    time_name = "time_ns"
    for block, lineno0 in reader._blocks():
        lines = block.split(b"\n")[:-1]
        rows: list[bytes] = []
        linenos: list[int] = []
        problems: list[tuple[int, str]] = []
        for i, line in enumerate(lines):
            line = line.rstrip(b"\r")
            if not line.strip() or line.startswith(b"#"):
                continue
            if len(line) > reader._max_line:
                problems.append((lineno0 + i, reader._too_long()))
                continue
            if columns is None:
                columns, layout, time_name = _header(reader, line, lineno0 + i)
                continue
            rows.append(line)
            linenos.append(lineno0 + i)
        if columns is None:
            for ln, reason in problems:
                reader._bad(ln, reason)
            continue
        part = _rows(reader, rows, linenos, columns, layout, time_name, problems)
        if part is not None:
            yield part
    if columns is None:
        raise ValueError(f"{reader.path}: empty CSV trace (no header line)")


def _header(reader: TraceReader, line: bytes, lineno: int) -> tuple[list[str], dict[str, int], str]:
    try:
        names = [c.strip().lower() for c in line.decode("ascii").split(",")]
    except UnicodeDecodeError:
        raise ValueError(f"{reader.path}:{lineno}: CSV header is not ASCII: {line[:80]!r}") from None
    layout = column_layout(names, f"{reader.path}:{lineno}: CSV header")
    time_name = next(n for n in TIME_COLUMNS if n in layout)
    layout["time_ns"] = layout.pop(time_name)
    return names, layout, time_name


def _rows(
    reader: TraceReader,
    rows: list[bytes],
    linenos: list[int],
    columns: list[str],
    layout: dict[str, int],
    time_name: str,
    problems: list[tuple[int, str]],
) -> TraceChunk | None:
    ncol = len(columns)
    counts = [r.count(b",") for r in rows]
    if any(k != ncol - 1 for k in counts):
        kept_rows, kept_lines = [], []
        for r, ln, k in zip(rows, linenos, counts):
            if k == ncol - 1:
                kept_rows.append(r)
                kept_lines.append(ln)
            else:
                problems.append((ln, f"expected {ncol} comma-separated fields, got {k + 1}: {r[:80]!r}"))
        rows, linenos = kept_rows, kept_lines
    out: dict[str, np.ndarray] = {}
    good = np.ones(len(rows), dtype=bool)
    if rows:
        flat = b",".join(rows).split(b",")
        table = np.array(flat).reshape(len(rows), ncol)
        for name, col in layout.items():
            out[name] = _int_column(reader, table[:, col], name, linenos, good, problems, time_name)
    for ln, reason in sorted(problems):  # report in line order: the first raises
        reader._bad(ln, reason)
    if not rows or not good.any():
        return None
    if not good.all():
        out = {k: v[good] for k, v in out.items()}
    reader._good_lines += int(good.sum())
    time_scale = TIME_COLUMNS[time_name]
    if time_scale != 1:  # no overflow: _int_column bounded the column by its unit
        out["time_ns"] = out["time_ns"] * np.int64(time_scale)
    if "cpu" in out and "nid" not in out and reader._cpu_to_node is not None:
        nid = reader._nids_of(out["cpu"])
        if nid is not None:
            out["nid"] = nid
    return TraceChunk(**out)


def _int_column(
    reader: TraceReader,
    col: np.ndarray,
    name: str,
    linenos: list[int],
    good: np.ndarray,
    problems: list[tuple[int, str]],
    time_name: str,
) -> np.ndarray:
    """Parse one CSV column; bad values go to ``problems`` and out of ``good``.

    Values are decimal (leading zeros do not make them octal), except in
    ``pfn`` and ``vaddr``, where a ``0x`` prefix makes one hex. numpy's
    conversion reads decimal only, so a column of a block it parses
    means the same as when one hex value sends the block down the
    per-value path. The time column (``name`` "time_ns", named
    ``time_name`` in the header) is bounded by its own unit, so that its
    conversion to nanoseconds fits in int64.
    """
    label = time_name if name == "time_ns" and TIME_COLUMNS[time_name] != 1 else name
    dtype, lo, hi = COLUMN_RANGE[label]
    hex_ok = name in ("pfn", "vaddr")
    values: np.ndarray
    try:
        values = np.char.strip(col).astype(dtype)
        fast = True
    except (ValueError, OverflowError):
        fast = False
    if fast:
        if name in ("pfn", "vaddr") or not bool(np.any((values < lo) | (values > hi))):
            return values
    values = np.zeros(col.shape[0], dtype=dtype)
    for i, raw in enumerate(col.tolist()):
        text = raw.strip()
        try:
            if name == "src" and text and not text.lstrip(b"-").isdigit():
                v = source_by_name(text)
            elif hex_ok and text[:2] in (b"0x", b"0X"):
                v = int(text, 16)
            else:
                v = int(text, 10)
        except ValueError:
            good[i] = False
            problems.append((linenos[i], f"{label}: not an integer: {text[:40]!r}"))
            continue
        if not lo <= v <= hi:
            good[i] = False
            problems.append((linenos[i], f"{label}: {v} out of range [{lo}, {hi}]"))
            continue
        values[i] = v
    return values
