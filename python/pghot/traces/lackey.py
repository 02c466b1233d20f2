"""valgrind lackey traces (``valgrind --tool=lackey --trace-mem=yes``).

Each block of whole lines is parsed at once, by the compiled parser
:func:`pghot._lackey.parse_block` (one C loop over the bytes) or, with
``_FAST`` off, by the numpy path below, its specification: the line
starts, the one comma of each line, the hex address and decimal size digit
by digit. The two give the same records, counters and errors (the tests
compare them). The malformed lines of a block are reported, in order,
before its good lines are counted. The clock counts instructions (``I``
lines) and is scaled by ``ns_per_instr``, rounded down and saturated at
``2**63 - 1`` ns (a replay then refuses the trace's span, instead of
seeing a wrapped time).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from pghot import _lackey
from pghot.traces._chunk import AccessKind, TraceChunk

if TYPE_CHECKING:
    from pghot.traces._reader import TraceReader

#: a lackey access line, for format detection
LACKEY_RE = re.compile(rb"^(?:I  | [LSM] )[0-9a-fA-F]+,\d+\r?$")
#: valgrind's commentary (``==PID==``, ``--PID--``, ``**PID**``), for format detection
VALGRIND_RE = re.compile(rb"^(==|--|\*\*)\d+(==|--|\*\*)")

_HEX = np.full(256, 255, dtype=np.uint8)
for _i, _ch in enumerate(b"0123456789abcdef"):
    _HEX[_ch] = _i
for _i, _ch in enumerate(b"ABCDEF"):
    _HEX[_ch] = 10 + _i
_LACKEY_KIND = np.full(256, -1, dtype=np.int8)
_LACKEY_KIND[ord("L")] = AccessKind.LOAD
_LACKEY_KIND[ord("S")] = AccessKind.STORE
_LACKEY_KIND[ord("M")] = AccessKind.MODIFY
_INT64_MAX = 2**63 - 1

_FAST = True  # the compiled parser; False: the numpy path (the tests compare both)


def chunks(reader: TraceReader) -> Iterator[TraceChunk]:
    """The accesses of a lackey trace, block by block."""
    for block, lineno in reader._blocks():
        part = _compiled_block(reader, block, lineno) if _FAST else _block(reader, block, lineno)
        if part is not None:
            yield part


def _compiled_block(reader: TraceReader, block: bytes, lineno0: int) -> TraceChunk | None:
    time_ns, vaddr, kind, size, good, instr, bad = _lackey.parse_block(
        block, reader.instructions, reader._ns_per_instr, reader._include_instr, reader._max_line
    )
    if bad is not None:
        _report_bad_lines(reader, block, *bad, lineno0)
    if good == 0:
        return None
    reader._good_lines += good
    reader.instructions += instr
    return TraceChunk(time_ns=time_ns, vaddr=vaddr, kind=kind, size=size)


def _times(icount: np.ndarray, ns: float) -> np.ndarray:
    """``floor(icount * ns)`` as int64, saturated at ``2**63 - 1`` (``icount`` >= 0, nondecreasing)."""
    hi = int(icount[-1]) if icount.shape[0] else 0
    if float(ns).is_integer() and ns < 2.0**63:
        k = int(ns)
        t = icount * np.int64(k)
        if hi * k > _INT64_MAX:  # wrapped where icount > limit
            t[icount > _INT64_MAX // k] = _INT64_MAX
        return t
    x = np.floor(icount * float(ns))
    over = x >= 2.0**63
    if over.any():
        x[over] = 0
        t = x.astype(np.int64)
        t[over] = _INT64_MAX
        return t
    return x.astype(np.int64)


def _block(reader: TraceReader, block: bytes, lineno0: int) -> TraceChunk | None:
    buf = np.frombuffer(block, dtype=np.uint8)
    nl = np.flatnonzero(buf == 10)
    n = nl.shape[0]
    starts = np.empty(n, dtype=np.int64)
    starts[0] = 0
    starts[1:] = nl[:-1] + 1
    ends = nl.astype(np.int64)
    cr = (ends > starts) & (buf.take(ends - 1, mode="clip") == 13)
    if cr.any():
        ends = ends - cr
    length = ends - starts
    c0 = buf[starts]
    c1 = buf.take(starts + 1, mode="clip")
    c2 = buf.take(starts + 2, mode="clip")
    skip = (length == 0) | (
        (length >= 2) & (c0 == c1) & ((c0 == 61) | (c0 == 45) | (c0 == 42))
    )  # "==", "--", "**": valgrind commentary
    is_i = (c0 == 73) & (c1 == 32) & (c2 == 32)  # "I  "
    is_d = (c0 == 32) & ((c1 == 76) | (c1 == 83) | (c1 == 77)) & (c2 == 32)  # " L "
    cand = (is_i | is_d) & (length >= 6) & (length <= reader._max_line)

    commas = np.flatnonzero(buf == 44)
    if commas.shape[0] == n and bool(np.all(commas > starts)) and bool(np.all(commas < ends)):
        comma = commas.astype(np.int64)  # exactly one comma in every line
    else:
        line_of = np.searchsorted(nl, commas)
        count = np.bincount(line_of, minlength=n)
        first = np.searchsorted(line_of, np.arange(n))
        comma = np.full(n, -1, dtype=np.int64)
        one = count == 1
        comma[one] = commas[first[one]]
        cand &= one

    all_cand = bool(cand.all())
    idx = None if all_cand else np.flatnonzero(cand)
    s = starts if idx is None else starts[idx]
    c = comma if idx is None else comma[idx]
    e = ends if idx is None else ends[idx]
    alen = c - (s + 3)
    slen = e - (c + 1)
    ok = (alen >= 1) & (alen <= 16) & (slen >= 1) & (slen <= 9)
    addr = np.zeros(s.shape[0], dtype=np.uint64)
    size = np.zeros(s.shape[0], dtype=np.uint32)
    if s.shape[0]:
        kmax = int(alen[ok].max()) if ok.any() else 0
        for k in range(1, kmax + 1):
            d = _HEX[buf.take(c - k, mode="clip")]
            use = alen >= k
            ok &= (d != 255) | ~use
            d[~use] = 0
            addr |= d.astype(np.uint64) << np.uint64(4 * (k - 1))
        kmax = int(slen[ok].max()) if ok.any() else 0
        for k in range(1, kmax + 1):
            d = buf.take(e - k, mode="clip") - np.uint8(48)
            use = slen >= k
            ok &= (d <= 9) | ~use
            d[~use] = 0
            size += d.astype(np.uint32) * np.uint32(10 ** (k - 1))

    if idx is not None or not bool(ok.all()):
        good = np.zeros(n, dtype=bool)
        if idx is None:
            good[:] = ok
        else:
            good[idx] = ok
        bad = np.flatnonzero(~good & ~skip)
        if bad.shape[0]:
            _report_bad_lines(reader, block, bad, starts[bad], ends[bad], lineno0)
        addr, size, s = addr[ok], size[ok], s[ok]
    if s.shape[0] == 0:
        return None
    reader._good_lines += s.shape[0]

    kind_char = buf[s + 1]
    kind = _LACKEY_KIND[kind_char]
    kind[buf[s] == 73] = AccessKind.INSTR
    is_instr = kind == AccessKind.INSTR
    cum = np.cumsum(is_instr, dtype=np.int64)
    icount = cum + np.int64(reader.instructions - 1)
    np.maximum(icount, 0, out=icount)  # accesses before the first instruction
    reader.instructions += int(cum[-1])
    time_ns = _times(icount, reader._ns_per_instr)
    if not reader._include_instr:
        data = ~is_instr
        if not data.all():
            return TraceChunk(time_ns=time_ns[data], vaddr=addr[data], kind=kind[data], size=size[data])
    return TraceChunk(time_ns=time_ns, vaddr=addr, kind=kind, size=size)


def _report_bad_lines(
    reader: TraceReader, block: bytes, lines: np.ndarray, starts: np.ndarray, ends: np.ndarray, lineno0: int
) -> None:
    """Report the bad lines (their indexes in the block and ``[start, end)`` offsets) in order."""
    for i, s, e in zip(lines.tolist(), starts.tolist(), ends.tolist()):
        if e - s > reader._max_line:
            reason = reader._too_long()
        else:
            text = reader._line_text(block, s, e)
            reason = (
                "malformed lackey line (expected 'I  ADDR,SIZE' or "
                f"' L|S|M ADDR,SIZE', hex ADDR, decimal SIZE): {text!r}"
            )
        reader._bad(lineno0 + i, reason)
