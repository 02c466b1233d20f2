"""numpy over a block of text: line bounds, fields, decimal and hex digits.

The fast paths of the CSV and perf readers (:mod:`~pghot.traces.csv`,
:mod:`~pghot.traces.perf`) see a block of whole lines as one ``uint8``
array. A field is a pair of offsets ``[start, end)`` into it; the helpers
here check and convert many fields at once, digit position by digit
position (as the lackey reader does). They never raise on bad text: they
say whether every field was plain (``ok``), and a reader whose block is not
plain hands it to its exact per-line path, which reports the bad lines.
Character classes are counted with prefix sums, so that "does this field
hold only digits" costs two lookups per field whatever its length.
"""

from __future__ import annotations

import numpy as np

_DEC = np.full(256, 255, dtype=np.uint8)
_DEC[48:58] = np.arange(10, dtype=np.uint8)
_HEX = _DEC.copy()
_HEX[97:103] = np.arange(10, 16, dtype=np.uint8)  # a-f
_HEX[65:71] = np.arange(10, 16, dtype=np.uint8)  # A-F

NL, CR, SPACE, TAB, COMMA, HASH, MINUS = 10, 13, 32, 9, 44, 35, 45


def line_bounds(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Newline offsets, line starts and line ends (one ``\\r`` before the newline excluded).

    ``buf`` ends with a newline, as every block of the reader does.
    """
    nl = np.flatnonzero(buf == NL)
    starts = np.empty(nl.shape[0], dtype=np.int64)
    starts[:1] = 0
    starts[1:] = nl[:-1] + 1
    ends = nl.astype(np.int64)
    cr = (ends > starts) & (buf.take(ends - 1, mode="clip") == CR)
    if cr.any():
        ends = ends - cr
    return nl, starts, ends


def count_in(prefix: np.ndarray, s: np.ndarray, e: np.ndarray) -> np.ndarray:
    """How many marked bytes lie in each ``[s, e)``, from ``prefix`` = cumsum with a leading 0."""
    return prefix[e] - prefix[s]


def prefix_of(mask: np.ndarray) -> np.ndarray:
    """``cumsum(mask)`` with a leading 0, so that :func:`count_in` works on any ``[s, e)``."""
    dtype = np.int32 if mask.shape[0] < 2**31 else np.int64
    out = np.empty(mask.shape[0] + 1, dtype=dtype)
    out[0] = 0
    np.cumsum(mask, dtype=dtype, out=out[1:])  # (dtype given: twice as fast as out= alone)
    return out


def _scaled(table: np.ndarray, base: int, places: int) -> list[np.ndarray]:
    """Per digit place ``k``: the byte -> digit * base**k table (non-digits give 0)."""
    clean = np.where(table == 255, 0, table).astype(np.uint64)
    return [clean * np.uint64(base**k) for k in range(places)]


_DEC_PLACES = _scaled(_DEC, 10, 20)
_HEX_PLACES = _scaled(_HEX, 16, 16)


def digits_value(
    buf: np.ndarray, s: np.ndarray, e: np.ndarray, base: int, check: bool = False
) -> tuple[np.ndarray, bool]:
    """The value of the digits ``buf[s:e]`` of each field, in ``base`` 10 or 16, and ``ok``.

    The fields must be short enough not to overflow uint64 (19 decimal or
    16 hex digits), and the byte before each field (``buf[s - 1]``, the last
    byte of ``buf`` for ``s == 0``: a newline) must not be a digit: place
    ``k`` of a field shorter than ``k + 1`` digits reads that byte, which
    counts 0, so that no mask is needed. With ``check``, ``ok`` says whether
    every byte of every field is a digit (checked as it is read); without,
    the caller has checked it and ``ok`` is True.
    """
    n = s.shape[0]
    out = np.zeros(n, dtype=np.uint64)
    if n == 0:
        return out, True
    places = _DEC_PLACES if base == 10 else _HEX_PLACES
    raw = _DEC if base == 10 else _HEX
    length = e - s
    kmin, kmax = int(length.min()), int(length.max())
    before = s - 1
    for k in range(kmax):
        idx = e - (k + 1)
        if k >= kmin:  # some fields are shorter than k + 1 digits
            np.maximum(idx, before, out=idx)
        b = buf.take(idx, mode="wrap")
        out += places[k].take(b)
        if check:
            bad = raw.take(b) == 255
            if k >= kmin:
                bad &= length > k
            if bool(bad.any()):
                return out, False
    return out, True


def decimal(
    buf: np.ndarray, s: np.ndarray, e: np.ndarray, max_digits: int, check: bool = False
) -> tuple[np.ndarray, bool]:
    """Decimal fields as uint64; ``ok`` False unless each is 1 to ``max_digits`` digits (<= 19).

    Without ``check`` the caller has checked that the fields hold only digits.
    """
    length = e - s
    if s.shape[0] and (int(length.min()) < 1 or int(length.max()) > max_digits):
        return np.zeros(0, dtype=np.uint64), False
    return digits_value(buf, s, e, 10, check)


def all_digits(nondigit_prefix: np.ndarray, s: np.ndarray, e: np.ndarray) -> bool:
    """Every byte of every field ``[s, e)`` is a decimal digit."""
    return not bool(np.any(count_in(nondigit_prefix, s, e)))


def hex_value(buf: np.ndarray, s: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, bool]:
    """Hex fields (no prefix) as uint64; ``ok`` False unless each is 1 to 16 hex digits."""
    length = e - s
    if s.shape[0] and (int(length.min()) < 1 or int(length.max()) > 16):
        return np.zeros(0, dtype=np.uint64), False
    return digits_value(buf, s, e, 16, check=True)
