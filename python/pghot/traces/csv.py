"""CSV traces: a header naming the columns, then one access per line.

The columns and their ranges are those of :mod:`pghot.traces._columns`.
A block of plain rows (digits and commas, ``0x`` hex addresses, comments
and empty lines) is parsed by numpy over its bytes at once
(:func:`_fast_block`, with :mod:`~pghot.traces._vector`). Any other block is
split into lines in Python (:func:`_slow_block`): its rows are converted by
numpy column by column, and a column that numpy cannot convert (a hex
value, a source name, a value out of range) value by value, to keep the
good rows and report the bad ones. Both paths give the same chunks; only
the per-line one reports bad lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from pghot.traces import _vector as V
from pghot.traces._chunk import TraceChunk
from pghot.traces._columns import COLUMN_RANGE, TIME_COLUMNS, column_layout, source_by_name

if TYPE_CHECKING:
    from pghot.traces._reader import TraceReader


class _Layout:
    """The columns once the header is read (``columns`` None before)."""

    def __init__(self) -> None:
        self.columns: list[str] | None = None
        self.layout: dict[str, int] = {}
        self.time_name = "time_ns"


def chunks(reader: TraceReader) -> Iterator[TraceChunk]:
    """The rows of a CSV trace, block by block (the header names the columns).

    A block after the header goes to :func:`_fast_block`; a block it
    cannot handle, and the lines up to the header, go to the per-line
    :func:`_slow_block`, which reports the bad lines.
    """
    st = _Layout()
    for whole, lineno in reader._blocks():
        block: bytes | None = whole
        while block:
            if st.columns is not None and _FAST:
                part = _fast_block(reader, block, st)
                if part is not _SLOW:
                    if part is not None:
                        yield part  # type: ignore[misc]
                    break
            part, rest = _slow_block(reader, block, lineno, st)
            if part is not None:
                yield part
            block, lineno = rest
    if st.columns is None:
        raise ValueError(f"{reader.path}: empty CSV trace (no header line)")


def _slow_block(
    reader: TraceReader, block: bytes, lineno0: int, st: _Layout
) -> tuple[TraceChunk | None, tuple[bytes | None, int]]:
    """A block line by line: its chunk, and what is left of it for the fast path.

    With the fast path on, a block holding the header is cut after it: the
    lines up to the header are done here (their problems reported), and the
    rest is returned to be parsed as any later block.
    """
    # before the header, with the fast path on, only the lines up to it are split off
    lines = _lines_of(block) if st.columns is None and _FAST else block.split(b"\n")[:-1]
    rows: list[bytes] = []
    linenos: list[int] = []
    problems: list[tuple[int, str]] = []
    offset = 0
    for i, raw in enumerate(lines):
        offset += len(raw) + 1
        line = raw.rstrip(b"\r")
        if not line.strip() or line.startswith(b"#"):
            continue
        if len(line) > reader._max_line:
            problems.append((lineno0 + i, reader._too_long()))
            continue
        if st.columns is None:
            st.columns, st.layout, st.time_name = _header(reader, line, lineno0 + i)
            if _FAST:  # the rest of the block as any later block
                for ln, reason in problems:
                    reader._bad(ln, reason)
                return None, (block[offset:], lineno0 + i + 1)
            continue
        rows.append(line)
        linenos.append(lineno0 + i)
    if st.columns is None:
        for ln, reason in problems:
            reader._bad(ln, reason)
        return None, (None, 0)
    return _rows(reader, rows, linenos, st.columns, st.layout, st.time_name, problems), (None, 0)


def _lines_of(block: bytes) -> Iterator[bytes]:
    """The lines of ``block`` (newlines removed) one at a time, as ``block.split`` gives them."""
    start = 0
    while True:
        end = block.find(b"\n", start)
        if end < 0:
            return
        yield block[start:end]
        start = end + 1


_FAST = True  # the tests compare both paths
_SLOW = object()  # what _fast_block returns for a block it leaves to _slow_block


def _fast_block(reader: TraceReader, block: bytes, st: _Layout) -> TraceChunk | None | object:
    """A block of rows parsed with numpy, or ``_SLOW`` if any line is not plain.

    Plain: every line at most ``max_line_bytes`` long, empty, a ``#``
    comment or a row of exactly one field per column, each parsed field
    decimal digits (a ``-`` first in a signed column; in ``pfn`` and
    ``vaddr`` ``0x`` and hex digits instead), at most 18 digits (19 in
    ``pfn`` and ``vaddr``), in its column's range. Anything else (spaces
    around a value, a source name, a malformed line, a huge number) sends
    the block to the per-line path, so that every message, counter and
    value is the per-line path's. Nothing is counted or reported before
    the block is known to be plain.
    """
    assert st.columns is not None
    ncol = len(st.columns)
    buf = np.frombuffer(block, dtype=np.uint8)
    nl, starts, ends = V.line_bounds(buf)
    n = nl.shape[0]
    length = ends - starts
    if n == 0 or int(length.max()) > reader._max_line:
        return _SLOW
    nonempty = length > 0
    if bool(np.any(buf[ends[nonempty] - 1] == V.CR)):  # "\r\r\n": rstrip removes both
        return _SLOW
    data = nonempty & (buf.take(starts, mode="clip") != V.HASH)
    commas = np.flatnonzero(buf == V.COMMA)
    if commas.shape[0] == n * (ncol - 1) and bool(data.all()):
        # the common case, checked without a search: ncol - 1 commas then a newline, line after line
        seps = np.flatnonzero((buf == V.COMMA) | (buf == V.NL)).reshape(n, ncol)
        if not bool(np.array_equal(seps[:, -1], nl)):
            return _SLOW
        rows = np.arange(n)
        cut = seps[:, :-1].astype(np.int64)
    else:
        line_of = np.searchsorted(nl, commas)
        if bool(np.any(np.bincount(line_of, minlength=n)[data] != ncol - 1)):
            return _SLOW
        rows = np.flatnonzero(data)
        cut = commas[data[line_of]].astype(np.int64).reshape(rows.shape[0], ncol - 1)
    m = rows.shape[0]
    if m == 0:
        return None
    nondigit_mask = V._DEC[buf] == 255
    # the common case: no byte but digits, commas and line ends (no comment, sign, hex)
    plain = int(np.count_nonzero(nondigit_mask)) == commas.shape[0] + n + int(np.count_nonzero(ends < nl))
    nondigit = None if plain else V.prefix_of(nondigit_mask)
    out: dict[str, np.ndarray] = {}
    for name, col in st.layout.items():
        s = starts[rows] if col == 0 else cut[:, col - 1] + 1
        e = ends[rows] if col == ncol - 1 else cut[:, col]
        label = st.time_name if name == "time_ns" and TIME_COLUMNS[st.time_name] != 1 else name
        dtype, lo, hi = COLUMN_RANGE[label]
        if name in ("pfn", "vaddr"):  # decimal, or hex after "0x"
            hexa = None
            if not plain:  # (a plain block has no "x")
                hexa = (
                    (e - s >= 3)
                    & (buf.take(s, mode="clip") == 48)
                    & (buf.take(s + 1, mode="clip") | 32 == 120)
                )
            if hexa is None or not hexa.any():
                if nondigit is not None and not V.all_digits(nondigit, s, e):
                    return _SLOW
                values, ok = V.decimal(buf, s, e, 19)
            else:
                dec = ~hexa
                values = np.empty(m, dtype=np.uint64)
                assert nondigit is not None
                if not V.all_digits(nondigit, s[dec], e[dec]):
                    return _SLOW
                v, ok = V.decimal(buf, s[dec], e[dec], 19)
                if ok:
                    values[dec] = v
                    v, ok = V.hex_value(buf, s[hexa] + 2, e[hexa])
                    values[hexa] = v if ok else 0
            if not ok:
                return _SLOW
            out[name] = values
            continue
        neg = None if plain else buf.take(s, mode="clip") == V.MINUS
        ds = s if neg is None else s + neg
        if nondigit is not None and not V.all_digits(nondigit, ds, e):
            return _SLOW
        u, ok = V.decimal(buf, ds, e, 18)
        if not ok:
            return _SLOW
        signed = u.astype(np.int64)
        if neg is not None and neg.any():
            signed[neg] = -signed[neg]
        if bool(np.any((signed < lo) | (signed > hi))):
            return _SLOW
        out[name] = signed.astype(dtype)
    reader._good_lines += m
    time_scale = TIME_COLUMNS[st.time_name]
    if time_scale != 1:  # no overflow: bounded by its unit above
        out["time_ns"] = out["time_ns"] * np.int64(time_scale)
    if "cpu" in out and "nid" not in out and reader._cpu_to_node is not None:
        nid = reader._nids_of(out["cpu"])
        if nid is not None:
            out["nid"] = nid
    return TraceChunk(**out)


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
