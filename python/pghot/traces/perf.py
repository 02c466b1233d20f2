"""``perf script`` output of sampled data addresses (``perf mem record``).

Lines ``[CPU] SECS.FRAC: [EVENT: ...] ADDR [PHYS_ADDR]``, matched by one
regular expression over a whole block; only a block with a line that does
not match is split into lines, to report it. Values are converted in bulk
and checked one by one only when the bulk conversion overflows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from pghot.traces._chunk import TraceChunk
from pghot.traces._columns import INT64_MAX

if TYPE_CHECKING:
    from pghot.traces._reader import TraceReader

#: one perf script sample: CPU, seconds, fraction, first and second hex address
PERF_RE = re.compile(
    rb"^[ \t]*(?:\[[ \t]*(\d+)\][ \t]+)?(\d+)\.(\d+):"
    rb"(?:[ \t]+[^ \t\r\n]*:)*"  # event names, e.g. "cpu/mem-loads,ldlat=30/P:"
    rb"[ \t]+([0-9a-fA-F]+)(?:[ \t]+([0-9a-fA-F]+))?[ \t]*\r?$",
    re.MULTILINE,
)


def chunks(reader: TraceReader) -> Iterator[TraceChunk]:
    """The samples of a perf script trace, block by block."""
    ncols: int | None = None
    if reader._perf_columns is not None:
        ncols = len(reader._perf_columns)
    for block, lineno0 in reader._blocks():
        problems: list[tuple[int, str]] = []
        matches = PERF_RE.findall(block)
        if len(matches) == block.count(b"\n"):
            rows = matches  # every line is a sample
            linenos = list(range(lineno0, lineno0 + len(rows)))
        else:
            rows, linenos = [], []
            for i, line in enumerate(block.split(b"\n")[:-1]):
                stripped = line.strip()
                if not stripped or stripped.startswith(b"#"):
                    continue
                if len(line) > reader._max_line:
                    problems.append((lineno0 + i, reader._too_long()))
                    continue
                m = PERF_RE.match(line + b"\n")
                if m is None:
                    problems.append(
                        (
                            lineno0 + i,
                            "malformed perf script line (expected '[CPU] SECS.FRAC: "
                            "ADDR [PHYS_ADDR]' as -F time,cpu,addr,phys_addr prints): "
                            f"{line[:80]!r}",
                        )
                    )
                    continue
                rows.append(m.groups())
                linenos.append(lineno0 + i)
        if rows and ncols is None:
            ncols = 2 if rows[0][4] else 1
        if rows and any(bool(r[4]) != (ncols == 2) for r in rows):
            kept = []
            for r, ln in zip(rows, linenos):
                if bool(r[4]) == (ncols == 2):
                    kept.append(r)
                else:
                    problems.append(
                        (
                            ln,
                            f"expected {ncols} address column(s) like the first "
                            f"sample, got {2 if r[4] else 1}",
                        )
                    )
            rows = kept
        chunk, good = None, 0
        if rows:
            assert ncols is not None
            chunk, good, overflows = _rows(reader, rows, linenos, ncols)
            problems += overflows
        for ln, reason in sorted(problems):  # in line order: the first raises
            reader._bad(ln, reason)
        if chunk is None:
            continue
        reader._good_lines += good
        yield chunk


def _rows(
    reader: TraceReader, rows: list[tuple[bytes, ...]], linenos: list[int], ncols: int
) -> tuple[TraceChunk | None, int, list[tuple[int, str]]]:
    """The samples of ``rows`` as a chunk, the rows kept, the lines whose values overflow.

    A timestamp beyond int64 nanoseconds, an address wider than 64 bits
    or a CPU beyond int32 makes the conversion fail as a whole; only
    then are the rows checked one by one (the common case pays nothing).
    """
    problems: list[tuple[int, str]] = []
    try:
        arrays = _arrays(reader, rows, ncols)
    except (OverflowError, ValueError):
        kept = []
        for r, ln in zip(rows, linenos):
            reason = _perf_overflow(r)
            if reason is None:
                kept.append(r)
            else:
                problems.append((ln, reason))
        if not kept:
            return None, 0, problems
        rows = kept
        arrays = _arrays(reader, rows, ncols)  # every value fits now
    time_ns, values, cpu = arrays
    vaddr = values.get("addr")
    pfn = None
    keep = None
    if "phys_addr" in values:
        phys = values["phys_addr"]
        if not reader._keep_unmapped:
            keep = phys != 0
            dropped = int(keep.shape[0] - np.count_nonzero(keep))
            reader.no_phys_addr += dropped
            if not dropped:
                keep = None
        pfn = phys >> np.uint64(reader._page_shift)
    nid = reader._nids_of(cpu) if cpu is not None else None
    chunk = TraceChunk(time_ns=time_ns, pfn=pfn, vaddr=vaddr, cpu=cpu, nid=nid)
    return (chunk if keep is None else chunk[keep]), len(rows), problems


def _arrays(
    reader: TraceReader, rows: list[tuple[bytes, ...]], ncols: int
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray | None]:
    """``time_ns``, the address columns by name and ``cpu`` of ``rows``.

    Raises OverflowError (or ValueError) when a value does not fit.
    """
    cols = reader._perf_columns or (("addr", "phys_addr") if ncols == 2 else ("addr",))
    has_cpu = bool(rows[0][0]) and all(r[0] for r in rows)
    time_ns = np.array(
        [int(r[1]) * 1_000_000_000 + int(r[2][:9].ljust(9, b"0")) for r in rows],
        dtype=np.int64,
    )
    values = {
        cols[0]: np.array([int(r[3], 16) for r in rows], dtype=np.uint64),
    }
    if ncols == 2:
        values[cols[1]] = np.array([int(r[4], 16) for r in rows], dtype=np.uint64)
    cpu = np.array([int(r[0]) for r in rows], dtype=np.int32) if has_cpu else None
    return time_ns, values, cpu


def _digits_value(text: bytes, base: int, max_digits: int) -> int | None:
    """``text`` (digits of ``base``) as an int, or None beyond ``max_digits`` significant digits.

    Counting the digits first keeps a hostile number from costing a
    quadratic ``int()`` (or hitting Python's limit on digits).
    """
    digits = text.lstrip(b"0")
    return None if len(digits) > max_digits else int(digits or b"0", base)


def _perf_overflow(row: tuple[bytes, ...]) -> str | None:
    """Why a matched perf sample's values do not fit their types, or None."""
    cpu, secs, frac, addr, phys = row
    s = _digits_value(secs, 10, 19)
    if s is None or s * 1_000_000_000 + int(frac[:9].ljust(9, b"0")) > INT64_MAX:
        return (
            f"timestamp {_short(secs)}.{_short(frac)} s is too large "
            f"(int64 nanoseconds end at {INT64_MAX // 10**9}.{INT64_MAX % 10**9:09d} s)"
        )
    for column in (addr, phys):
        if column and _digits_value(column, 16, 16) is None:
            return f"address {_short(column)} is wider than 64 bits"
    if cpu:
        c = _digits_value(cpu, 10, 10)
        if c is None or c > 2**31 - 1:
            return f"CPU {_short(cpu)} is above {2**31 - 1}"
    return None


def _short(text: bytes) -> str:
    """At most 24 characters of ``text`` for a message."""
    return text[:24].decode("ascii", "replace") + ("..." if len(text) > 24 else "")
