"""``perf script`` output of sampled data addresses (``perf mem record``).

Lines ``[CPU] SECS.FRAC: [EVENT: ...] ADDR [PHYS_ADDR]``. A block of plain
samples is cut into tokens and converted by numpy over its bytes at once
(:func:`_fast_block`, with :mod:`~pghot.traces._vector`). Any other block
is matched by one regular expression; a block with a line that does not
match is split into lines, to report it. Those values are converted in
bulk and checked one by one only when the bulk conversion overflows. Both
paths give the same chunks; only the second reports bad lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from pghot.traces import _vector as V
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
        if _FAST:
            fast = _fast_block(reader, block, ncols)
            if fast is not None:
                part, good, ncols = fast
                if part is not None:
                    reader._good_lines += good
                    yield part
                continue
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
    return _chunk_of(reader, time_ns, values, cpu), len(rows), problems


def _chunk_of(
    reader: TraceReader, time_ns: np.ndarray, values: dict[str, np.ndarray], cpu: np.ndarray | None
) -> TraceChunk:
    """The chunk of parsed samples: PFNs from ``phys_addr``, unmapped samples dropped, nodes.

    With ``perf_space="vaddr"`` every sample is kept, by its virtual address alone.
    """
    vaddr = values.get("addr")
    pfn = None
    keep = None
    if "phys_addr" in values and reader._perf_space == "paddr":
        phys = values["phys_addr"]
        if not reader._keep_unmapped:
            keep = phys != 0
            dropped = int(keep.shape[0] - np.count_nonzero(keep))
            reader.no_phys_addr += dropped
            if not dropped:
                keep = None
        else:  # kept, all on PFN 0: counted, so that a replay can say so
            reader.unmapped_kept += int(phys.shape[0] - np.count_nonzero(phys))
        pfn = phys >> np.uint64(reader._page_shift)
    nid = reader._nids_of(cpu) if cpu is not None else None
    chunk = TraceChunk(time_ns=time_ns, pfn=pfn, vaddr=vaddr, cpu=cpu, nid=nid)
    return chunk if keep is None else chunk[keep]


_FAST = True  # the tests compare both paths


def _fast_block(
    reader: TraceReader, block: bytes, ncols: int | None
) -> tuple[TraceChunk | None, int, int | None] | None:
    """A block of samples parsed with numpy: (chunk, samples, address columns), or None.

    The block is cut into whitespace-separated tokens. It is plain, and
    parsed here, if every line is at most ``max_line_bytes`` long, blank, a
    ``#`` comment, or a sample of the same tokens as every other sample:
    ``[CPU]`` in all or none, ``SECS.FRAC:``, the same number of event
    tokens (ending in ``:``), then one or two hex addresses (as many as the
    first sample of the trace), with CPUs of at most 9 digits, seconds of
    at most 9, addresses of at most 16, and no carriage return but one
    before a newline. Otherwise None, and the caller's per-line path parses
    the block, with every message, counter and value as before. Nothing is
    counted or reported before the block is known to be plain.
    """
    buf = np.frombuffer(block, dtype=np.uint8)
    nl, starts, ends = V.line_bounds(buf)
    n = nl.shape[0]
    if n == 0 or int((nl - starts).max()) > reader._max_line:
        return None
    if bool(np.any(ends < nl)):  # "\r\n" line ends: the "\r" is blank, as the pattern's "\r?$"
        buf = buf.copy()
        buf[ends[ends < nl]] = V.SPACE
    if bool(np.any(buf == V.CR)):
        return None
    sep = (buf == V.SPACE) | (buf == V.TAB) | (buf == V.NL)
    edge = np.empty(buf.shape[0] + 1, dtype=bool)
    edge[0] = edge[-1] = True
    edge[1:-1] = sep[1:] != sep[:-1]  # where a run of separators starts or ends
    bounds = np.flatnonzero(edge)
    ts, te = (bounds[:-1], bounds[1:]) if not sep[0] else (bounds[1:-1], bounds[2:])
    ts, te = ts[0::2].astype(np.int64), te[0::2].astype(np.int64)  # token starts and ends
    m, k = n, ts.shape[0] // n
    regular = False
    if k * n == ts.shape[0] and k >= 2:
        # the common case, checked without a search: k tokens on every line, no comment
        s, e = ts.reshape(n, k), te.reshape(n, k)
        regular = bool(np.all(s[:, 0] >= starts)) and bool(np.all(e[:, -1] <= nl))
        regular = regular and not bool(np.any(buf[s[:, 0]] == V.HASH))
    if not regular:
        line_of = np.searchsorted(nl, ts)
        ntok = np.bincount(line_of, minlength=n)
        first = np.cumsum(ntok) - ntok  # index of each line's first token
        data = ntok > 0
        data[data] = buf[ts[first[data]]] != V.HASH
        m = int(np.count_nonzero(data))
        if m == 0:
            return None, 0, ncols
        k = int(ntok[data][0])
        if bool(np.any(ntok[data] != k)) or k < 2:
            return None
        tok = data[line_of] if m < n else slice(None)
        s = ts[tok].reshape(m, k)
        e = te[tok].reshape(m, k)
    has_cpu = buf[s[:, 0]] == 91  # "["
    c = int(has_cpu[0])
    if bool(np.any(has_cpu != has_cpu[0])):
        return None
    colon = buf[e - 1] == 58  # ":"
    j = int(np.count_nonzero(colon[0]))
    if j < 1 or not bool(colon[0, c : c + j].all()) or bool(np.any(colon != colon[0])):
        return None
    naddr = k - c - j
    if naddr not in (1, 2) or (ncols is not None and naddr != ncols):
        return None
    cpu = None
    if c:
        cs, ce = s[:, 0] + 1, e[:, 0] - 1
        if bool(np.any(buf[ce] != 93)):  # "]"
            return None
        v, ok = V.decimal(buf, cs, ce, 9, check=True)
        if not ok:
            return None
        cpu = v.astype(np.int32)
    # the time: SECS "." FRAC ":", digits but the dot (the first one in the token)
    tts, tte = s[:, c], e[:, c] - 1
    dots = np.flatnonzero(buf == 46)
    if dots.shape[0] == 0:
        return None
    dot = dots[np.minimum(np.searchsorted(dots, tts), dots.shape[0] - 1)].astype(np.int64)
    if bool(np.any((dot <= tts) | (dot >= tte - 1))):
        return None
    secs, ok = V.decimal(buf, tts, dot, 9, check=True)
    if not ok:
        return None
    fe = np.minimum(tte, dot + 10)  # nanoseconds: the first 9 digits of the fraction
    frac, ok = V.decimal(buf, dot + 1, fe, 9, check=True)
    if not ok:
        return None
    longer = fe < tte  # the digits beyond the ninth are checked, not used
    if bool(longer.any()) and not V.digits_value(buf, fe[longer], tte[longer], 10, check=True)[1]:
        return None
    pad = np.array([10**i for i in range(10)], dtype=np.uint64)[10 - (fe - dot)]
    time_ns = (secs * np.uint64(1_000_000_000) + frac * pad).astype(np.int64)
    cols = reader._perf_columns or (("addr", "phys_addr") if naddr == 2 else ("addr",))
    values = {}
    for i, name in enumerate(cols):
        v, ok = V.hex_value(buf, s[:, c + j + i], e[:, c + j + i])
        if not ok:
            return None
        values[name] = v
    return _chunk_of(reader, time_ns, values, cpu), m, naddr


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
