"""Streaming readers for memory-access traces.

:func:`open_trace` opens a trace file and returns a :class:`TraceReader`, an
iterator of :class:`TraceChunk` objects: a few numpy arrays of at most
``chunk_size`` records each, so a trace of many gigabytes is never held in
memory whole. Formats (``format=`` or detected from the name and content):

``lackey``
    ``valgrind --tool=lackey --trace-mem=yes`` output: ``I  ADDR,SIZE`` for
    an instruction fetch, `` L``/`` S``/`` M ADDR,SIZE`` for a load, store
    or modify (load + store) of data; ``ADDR`` hex, ``SIZE`` decimal.
    Valgrind's commentary lines (``==PID==``, ``--PID--``, ``**PID**``) and
    blank lines are skipped. Chunks carry ``vaddr``, ``kind``, ``size`` and
    ``time_ns``: the clock is the number of instructions executed before the
    access times ``ns_per_instr`` (an access shares the time of the
    instruction that made it; the first instruction is at time 0).
    Instruction fetches drive the clock but are dropped from the chunks
    unless ``include_instr=True``.
``perf``
    ``perf script -F time,cpu,addr,phys_addr`` output of ``perf mem record``
    (or of any event sampled with ``-d --phys-data``): lines
    ``[CPU] SECS.FRAC: [EVENT: ...] ADDR [PHYS_ADDR]`` with hex addresses,
    the fields in the fixed order perf prints them whatever the order given
    to ``-F`` (``[CPU]`` optional; ``--ns`` timestamps accepted). Chunks carry
    ``time_ns``, ``cpu`` (when printed), ``vaddr``, ``pfn`` (``phys_addr //
    page_size`` when the ``phys_addr`` column is present) and ``nid`` (the
    accessing CPU's node, when ``cpu_to_node`` is given). perf prints
    ``phys_addr`` 0 when it could not translate the address; those samples
    are dropped and counted (``no_phys_addr``) unless ``keep_unmapped=True``.
``csv``
    A header line naming the columns, then one access per line: ``pfn`` or
    ``vaddr`` (decimal or ``0x`` hex; both may be present), a time (``time``
    or ``time_ns`` in ns, ``time_us``, ``time_ms``), optional ``nid``,
    ``cpu`` and ``src`` (0-2 or a :class:`pghot.Source` name). Other columns
    are ignored. Lines starting with ``#`` are comments. Every value is
    decimal, leading zeros included (``010`` is ten, never octal), except a
    ``pfn`` or ``vaddr`` written with a ``0x`` prefix, which is hex. A time
    whose conversion to nanoseconds does not fit in int64 is out of range.
``npy`` / ``npz``
    ``.npy``: one structured array whose fields are named as the CSV
    columns; ``.npz``: one 1-D array per column, all of one length. Both are
    read in chunks straight from the file (``.npz`` members too).
``damo``
    The JSON record file of ``damo record`` (``--output_type json`` or the
    zlib-compressed ``json_compressed``): records of snapshots of regions
    with ``nr_accesses``. Each region ``[start, end)`` with ``n`` sampled
    accesses is expanded to ``n`` accesses of each of its pages: the
    snapshot is cut into ``M`` sampling slots (aggregation interval over
    sampling interval, or the largest ``n`` when the intervals are unknown)
    and the region's pages are all accessed at the start of slots
    ``floor(i * M / n)``, ``i < n``. Addresses are virtual (``vaddr``) unless
    ``damo_space="paddr"`` (``pfn``). Snapshots of several records (targets)
    over the same time window are merged in time order; their address
    spaces are not told apart. The JSON document itself is parsed whole (it
    holds regions, not accesses); its expansion is streamed. Three limits,
    keyword options of :func:`open_trace`, keep a small or hostile file from
    taking unbounded time or memory: the JSON text may hold at most
    ``max_json_bytes`` bytes after decompression (default
    :data:`DAMO_MAX_JSON_BYTES`, 64 MiB), a region with accesses at most
    ``max_region_pages`` pages (default :data:`DAMO_MAX_REGION_PAGES`,
    2**26), and a snapshot (the snapshots of all records over one time
    window) at most ``max_snapshot_accesses`` accesses once expanded
    (default :data:`DAMO_MAX_SNAPSHOT_ACCESSES`, 2**28). A snapshot has at
    most 2**31 - 1 sampling slots, times are in ``[0, 2**63)`` ns and
    addresses below 2**64.

Text files and ``.npy`` files may be compressed with gzip, bzip2 or xz
(detected from the content; ``.npz`` members may be deflated, as
``numpy.savez_compressed`` writes them). Text lines are capped at
``max_line_bytes`` (4096 by default): a longer line is malformed, so a binary
file fed as text fails fast with bounded memory instead of being buffered
whole. A NUL byte in the first 64 KiB of a text trace is an error too.

A trace is a file, or ``"-"`` for standard input. A pipe, a FIFO (process
substitution ``<(...)`` included) or a device is read once, in one pass:
what format detection reads of its head is kept and read again, nothing is
re-opened and nothing seeks. A ``.npz`` archive must be a regular file; a
directory is an error.

A malformed line raises ``ValueError("PATH:LINE: ...")``; with
``skip_bad=True`` it is skipped and counted in :attr:`TraceReader.bad_lines`
instead. A file in which no line is valid (the wrong format) is an error even
with ``skip_bad``.
"""

from __future__ import annotations

import bz2
import dataclasses
import enum
import gzip
import io
import json
import lzma
import operator
import os
import re
import stat
import sys
import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any, SupportsIndex

import numpy as np

from pghot._validate import int_in

from pghot._types import NUMA_NO_NODE, Source

__all__ = [
    "AccessKind",
    "DAMO_MAX_JSON_BYTES",
    "DAMO_MAX_REGION_PAGES",
    "DAMO_MAX_SNAPSHOT_ACCESSES",
    "FORMATS",
    "MAX_LINE_BYTES",
    "PageMapper",
    "TraceChunk",
    "TraceReader",
    "cpu_to_node_from_sysfs",
    "detect_format",
    "open_trace",
]

#: Formats :func:`open_trace` reads.
FORMATS = ("lackey", "perf", "csv", "npy", "npz", "damo")
#: Default cap on the length of one text line, newline excluded.
MAX_LINE_BYTES = 4096
#: Default cap on a damo record's JSON text, in bytes after decompression
#: (``open_trace(max_json_bytes=)``); parsing takes a few times this in memory.
DAMO_MAX_JSON_BYTES = 1 << 26
#: Default cap on the pages of one damo region with accesses
#: (``open_trace(max_region_pages=)``): 256 GiB of 4 KiB pages.
DAMO_MAX_REGION_PAGES = 1 << 26
#: Default cap on the accesses one damo snapshot expands to
#: (``open_trace(max_snapshot_accesses=)``).
DAMO_MAX_SNAPSHOT_ACCESSES = 1 << 28

_BLOCK_BYTES = 1 << 22  # text is read in blocks of 4 MiB
_SNIFF_BYTES = 1 << 16
_WRONG_FORMAT_LINES = 1000  # this many bad lines and no good one: wrong format
_INT64_MAX = 2**63 - 1
_DAMO_PIECE = 1 << 20  # damo JSON is read and decompressed in pieces of 1 MiB
_DAMO_MAX_SLOTS = 2**31 - 1  # sampling slots per snapshot: keeps the slot arithmetic in int64
_NPY_READ_BYTES = 1 << 26  # at most this many bytes of .npy records per read


class AccessKind(enum.IntEnum):
    """What a lackey trace record is (``TraceChunk.kind``).

    >>> AccessKind.MODIFY
    <AccessKind.MODIFY: 2>
    """

    LOAD = 0
    STORE = 1
    #: a load and a store of the same bytes by one instruction (x86 ``add [m], r``)
    MODIFY = 2
    #: an instruction fetch
    INSTR = 3


_CHUNK_FIELDS = ("time_ns", "pfn", "vaddr", "cpu", "nid", "src", "kind", "size")
_FIELD_DTYPES = {
    "time_ns": np.int64,
    "pfn": np.uint64,
    "vaddr": np.uint64,
    "cpu": np.int32,
    "nid": np.int32,
    "src": np.int8,
    "kind": np.int8,
    "size": np.uint32,
}


@dataclasses.dataclass(eq=False)
class TraceChunk:
    """A run of consecutive trace records as parallel numpy arrays.

    Every array present has the same length. ``time_ns`` is always present,
    and at least one of ``pfn`` and ``vaddr``.

    Attributes
    ----------
    time_ns : numpy.ndarray of int64
        Time of each access in nanoseconds (trace clock, not wall time).
    pfn : numpy.ndarray of uint64 or None
        Physical page frame numbers.
    vaddr : numpy.ndarray of uint64 or None
        Virtual addresses (bytes).
    cpu, nid : numpy.ndarray of int32 or None
        Accessing CPU and its NUMA node (-1 when unknown).
    src : numpy.ndarray of int8 or None
        A :class:`pghot.Source` per record, when the trace names one.
    kind : numpy.ndarray of int8 or None
        An :class:`AccessKind` per record (lackey).
    size : numpy.ndarray of uint32 or None
        Bytes accessed (lackey).

    Examples
    --------
    >>> c = TraceChunk(time_ns=np.array([0, 5]), vaddr=np.array([0x1000, 0x2fff]))
    >>> len(c), c.pages(4096).tolist()
    (2, [1, 2])
    >>> c[1:].vaddr.tolist()
    [12287]
    """

    time_ns: np.ndarray
    pfn: np.ndarray | None = None
    vaddr: np.ndarray | None = None
    cpu: np.ndarray | None = None
    nid: np.ndarray | None = None
    src: np.ndarray | None = None
    kind: np.ndarray | None = None
    size: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = None
        for name in _CHUNK_FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            arr = np.asarray(value)
            if arr.ndim != 1:
                raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
            arr = arr.astype(_FIELD_DTYPES[name], copy=False)
            if n is None:
                n = arr.shape[0]
            elif arr.shape[0] != n:
                raise ValueError(f"{name} has length {arr.shape[0]}, time_ns has {n}")
            setattr(self, name, arr)
        if self.pfn is None and self.vaddr is None:
            raise ValueError("a TraceChunk needs pfn or vaddr")

    def __len__(self) -> int:
        return int(self.time_ns.shape[0])

    def __getitem__(self, index: Any) -> TraceChunk:
        """The records selected by a slice, an index array or a boolean mask."""
        if isinstance(index, (int, np.integer)):
            raise TypeError("index a TraceChunk with a slice or an array, not an int")
        parts: dict[str, Any] = {
            name: (None if getattr(self, name) is None else getattr(self, name)[index])
            for name in _CHUNK_FIELDS
        }
        return TraceChunk(**parts)

    def get(self, name: str) -> np.ndarray:
        """The array ``name``, which the chunk must carry.

        Raises
        ------
        KeyError
            ``name`` is not a field, or this chunk does not carry it.

        Examples
        --------
        >>> TraceChunk(time_ns=[1], pfn=[2]).get("pfn").tolist()
        [2]
        """
        value = getattr(self, name, None) if name in _CHUNK_FIELDS else None
        if value is None:
            raise KeyError(f"this chunk has no {name!r} array (it has {', '.join(self.fields())})")
        return value

    def fields(self) -> tuple[str, ...]:
        """Names of the arrays present.

        >>> TraceChunk(time_ns=[1], pfn=[2]).fields()
        ('time_ns', 'pfn')
        """
        return tuple(name for name in _CHUNK_FIELDS if getattr(self, name) is not None)

    def pages(self, page_size: int = 4096) -> np.ndarray:
        """Page numbers: ``pfn`` if present, else ``vaddr // page_size``.

        >>> TraceChunk(time_ns=[0], vaddr=[8191]).pages(4096).tolist()
        [1]
        """
        if self.pfn is not None:
            return self.pfn
        assert self.vaddr is not None
        return self.vaddr // np.uint64(_check_page_size(page_size))

    def times_jiffies(self, hz: int = 1000, origin_ns: int = 0) -> np.ndarray:
        """``(time_ns - origin_ns)`` in jiffies of ``hz`` per second, rounded down.

        Exact integer arithmetic, without overflow for any int64 time.

        >>> TraceChunk(time_ns=[0, 999_999, 1_000_000, 2_500_000_000], pfn=[1, 1, 1, 1]).times_jiffies(1000).tolist()
        [0, 0, 1, 2500]
        """
        hz_i = operator.index(hz)
        if hz_i <= 0:
            raise ValueError(f"hz must be > 0, got {hz_i}")
        t = self.time_ns - np.int64(operator.index(origin_ns))
        sec, rem = np.divmod(t, np.int64(1_000_000_000))
        return sec * np.int64(hz_i) + (rem * np.int64(hz_i)) // np.int64(1_000_000_000)

    @staticmethod
    def concat(chunks: Sequence[TraceChunk]) -> TraceChunk:
        """One chunk holding the records of ``chunks`` in order (same fields).

        >>> a = TraceChunk(time_ns=[1], pfn=[10]); b = TraceChunk(time_ns=[2], pfn=[20])
        >>> TraceChunk.concat([a, b]).pfn.tolist()
        [10, 20]
        """
        if not chunks:
            raise ValueError("concat needs at least one chunk")
        if len(chunks) == 1:
            return chunks[0]
        names = chunks[0].fields()
        for c in chunks[1:]:
            if c.fields() != names:
                raise ValueError(f"chunks differ in fields: {names} vs {c.fields()}")
        return TraceChunk(
            **{name: np.concatenate([getattr(c, name) for c in chunks]) for name in names}
        )


def _check_page_size(page_size: Any) -> int:
    p = operator.index(page_size)
    if p <= 0 or p & (p - 1):
        raise ValueError(f"page_size must be a positive power of two, got {p}")
    return p


# -- the reader -------------------------------------------------------------------


class TraceReader:
    """An open trace: iterate it once for :class:`TraceChunk` objects.

    Created by :func:`open_trace`. Use it as a context manager (or call
    :meth:`close`) to release the file.

    Attributes
    ----------
    path : str
    format : str
        One of :data:`FORMATS`.
    lines_read : int
        Text lines consumed so far (header and comment lines included).
    bad_lines : int
        Malformed lines skipped (``skip_bad=True``).
    records : int
        Records yielded so far.
    instructions : int
        Instructions counted (lackey).
    no_phys_addr : int
        perf samples dropped because ``phys_addr`` was 0.
    unknown_cpu : int
        Records whose CPU is not in ``cpu_to_node`` (their ``nid`` is -1).
    first_bad : list of (int, str)
        Line number and reason of the first few skipped lines.

    Examples
    --------
    >>> import tempfile, os, pathlib
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "t.csv")
    >>> _ = pathlib.Path(p).write_text("pfn,time_ns\\n5,100\\noops\\n7,200\\n")
    >>> with open_trace(p, skip_bad=True) as r:
    ...     chunks = list(r)
    >>> chunks[0].pfn.tolist(), r.lines_read, r.bad_lines, r.first_bad
    ([5, 7], 4, 1, [(3, "expected 2 comma-separated fields, got 1: b'oops'")])
    """

    def __init__(
        self,
        path: str,
        fmt: str,
        source: _Input,
        *,
        chunk_size: int,
        skip_bad: bool,
        ns_per_instr: float,
        page_size: int,
        cpu_to_node: np.ndarray | None,
        include_instr: bool,
        max_line_bytes: int,
        keep_unmapped: bool,
        perf_columns: tuple[str, ...] | None,
        damo_space: str,
        max_json_bytes: int = DAMO_MAX_JSON_BYTES,
        max_region_pages: int = DAMO_MAX_REGION_PAGES,
        max_snapshot_accesses: int = DAMO_MAX_SNAPSHOT_ACCESSES,
    ) -> None:
        self.path = path
        self.format = fmt
        self.lines_read = 0
        self.bad_lines = 0
        self.records = 0
        self.instructions = 0
        self.no_phys_addr = 0
        self.unknown_cpu = 0
        self.first_bad: list[tuple[int, str]] = []
        self._chunk_size = chunk_size
        self._skip_bad = skip_bad
        self._ns_per_instr = ns_per_instr
        self._page_size = page_size
        self._page_shift = page_size.bit_length() - 1
        self._cpu_to_node = cpu_to_node
        self._include_instr = include_instr
        self._max_line = max_line_bytes
        self._keep_unmapped = keep_unmapped
        self._perf_columns = perf_columns
        self._damo_space = damo_space
        self._max_json = max_json_bytes
        self._max_region_pages = max_region_pages
        self._max_snapshot = max_snapshot_accesses
        self._good_lines = 0
        self._source = source
        self._file: IO[bytes] | None = None  # opened when iteration starts
        self._iter: Iterator[TraceChunk] | None = None

    # -- public ------------------------------------------------------------------

    @property
    def counters(self) -> dict[str, int]:
        """All counters as a dict.

        >>> import tempfile, os, pathlib
        >>> p = os.path.join(tempfile.mkdtemp(), "t.csv")
        >>> _ = pathlib.Path(p).write_text("pfn,time\\n1,2\\n")
        >>> r = open_trace(p); _ = list(r); r.counters["records"]
        1
        """
        return {
            "lines_read": self.lines_read,
            "bad_lines": self.bad_lines,
            "records": self.records,
            "instructions": self.instructions,
            "no_phys_addr": self.no_phys_addr,
            "unknown_cpu": self.unknown_cpu,
        }

    def __iter__(self) -> Iterator[TraceChunk]:
        if self._iter is not None:
            raise RuntimeError(f"{self.path}: a TraceReader can be iterated only once")
        self._iter = self._generate()
        return self._iter

    def close(self) -> None:
        """Close the underlying file (idempotent).

        >>> import tempfile, os, pathlib
        >>> p = os.path.join(tempfile.mkdtemp(), "t.csv")
        >>> _ = pathlib.Path(p).write_text("pfn,time\\n1,2\\n")
        >>> r = open_trace(p); r.close(); r.close()
        """
        if self._file is not None:
            self._file.close()
            self._file = None
        self._source.close()  # a one-pass stream not iterated yet

    def __enter__(self) -> TraceReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"TraceReader({self.path!r}, format={self.format!r}, "
            f"records={self.records}, bad_lines={self.bad_lines})"
        )

    # -- driver ------------------------------------------------------------------

    def _generate(self) -> Iterator[TraceChunk]:
        self._file = self._source.open()
        parts = {
            "lackey": self._lackey,
            "perf": self._perf,
            "csv": self._csv,
            "npy": self._npy,
            "npz": self._npz,
            "damo": self._damo,
        }[self.format]()
        try:
            yield from self._rechunk(parts)
        except (EOFError, zlib.error, lzma.LZMAError, OSError, zipfile.BadZipFile) as e:
            if isinstance(e, FileNotFoundError):
                raise
            raise ValueError(f"{self.path}: truncated or corrupt file ({e})") from e
        finally:
            self.close()

    def _rechunk(self, parts: Iterator[TraceChunk]) -> Iterator[TraceChunk]:
        """Regroup pieces of any size into chunks of exactly ``chunk_size``."""
        size = self._chunk_size
        pending: list[TraceChunk] = []
        held = 0
        for part in parts:
            if len(part) == 0:
                continue
            pending.append(part)
            held += len(part)
            if held < size:
                continue
            whole = TraceChunk.concat(pending)
            start = 0
            while held - start >= size:
                out = whole[start : start + size]
                start += size
                self.records += len(out)
                yield out
            pending = [whole[start:]] if start < held else []
            held -= start
        if held:
            out = TraceChunk.concat(pending)
            self.records += len(out)
            yield out

    def _bad(self, lineno: int, reason: str) -> None:
        """Raise for a malformed line, or count it when skipping bad lines."""
        if not self._skip_bad:
            raise ValueError(f"{self.path}:{lineno}: {reason}")
        self.bad_lines += 1
        if len(self.first_bad) < 10:
            self.first_bad.append((lineno, reason))
        if self._good_lines == 0 and self.bad_lines >= _WRONG_FORMAT_LINES:
            self._wrong_format()

    def _wrong_format(self) -> None:
        first = f" (first: line {self.first_bad[0][0]}: {self.first_bad[0][1]})" if self.first_bad else ""
        raise ValueError(
            f"{self.path}: {self.bad_lines} malformed lines and no valid one: "
            f"not a {self.format} trace?{first}"
        )

    def _line_text(self, block: bytes, start: int, end: int) -> bytes:
        return block[start : min(end, start + 80)]

    # -- text blocks ----------------------------------------------------------------

    def _blocks(self) -> Iterator[tuple[bytes, int]]:
        """Yield ``(block, first_lineno)``: whole lines, each ending in ``\\n``.

        The part of a line not yet terminated is carried to the next read; a
        carried part longer than the line cap is a malformed line, whose rest
        is discarded up to the next newline, so memory stays bounded.
        """
        f = self._file
        assert f is not None
        carry = b""
        lineno = 1
        skipping = False
        while True:
            data = f.read(_BLOCK_BYTES)
            if not data:
                break
            if skipping:
                cut = data.find(b"\n")
                if cut < 0:
                    continue
                data = data[cut + 1 :]
                skipping = False
            buf = carry + data if carry else data
            cut = buf.rfind(b"\n")
            if cut >= 0:
                block, carry = buf[: cut + 1], buf[cut + 1 :]
                n = block.count(b"\n")
                self.lines_read += n
                yield block, lineno
                lineno += n
            else:
                carry = buf
            if len(carry) > self._max_line:
                self.lines_read += 1
                self._bad(lineno, self._too_long())
                lineno += 1
                carry = b""
                skipping = True
        if carry and not skipping:
            self.lines_read += 1
            yield carry + b"\n", lineno
        if self._good_lines == 0 and self.bad_lines > 0:
            self._wrong_format()

    def _too_long(self) -> str:
        return f"line longer than {self._max_line} bytes (binary data or not a {self.format} trace?)"

    # -- lackey ---------------------------------------------------------------------

    def _lackey(self) -> Iterator[TraceChunk]:
        for block, lineno in self._blocks():
            part = self._lackey_block(block, lineno)
            if part is not None:
                yield part

    def _lackey_block(self, block: bytes, lineno0: int) -> TraceChunk | None:
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
        cand = (is_i | is_d) & (length >= 6) & (length <= self._max_line)

        commas = np.flatnonzero(buf == 44)
        if (
            commas.shape[0] == n
            and bool(np.all(commas > starts))
            and bool(np.all(commas < ends))
        ):
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
                self._report_bad_lines(block, bad, starts, ends, lineno0)
            addr, size, s = addr[ok], size[ok], s[ok]
        if s.shape[0] == 0:
            return None
        self._good_lines += s.shape[0]

        kind_char = buf[s + 1]
        kind = _LACKEY_KIND[kind_char]
        kind[buf[s] == 73] = AccessKind.INSTR
        is_instr = kind == AccessKind.INSTR
        cum = np.cumsum(is_instr, dtype=np.int64)
        icount = cum + np.int64(self.instructions - 1)
        np.maximum(icount, 0, out=icount)  # accesses before the first instruction
        self.instructions += int(cum[-1])
        ns = self._ns_per_instr
        if float(ns).is_integer():
            time_ns = icount * np.int64(int(ns))
        else:
            time_ns = np.floor(icount * float(ns)).astype(np.int64)
        if not self._include_instr:
            data = ~is_instr
            if not data.all():
                return TraceChunk(
                    time_ns=time_ns[data], vaddr=addr[data], kind=kind[data], size=size[data]
                )
        return TraceChunk(time_ns=time_ns, vaddr=addr, kind=kind, size=size)

    def _report_bad_lines(
        self, block: bytes, bad: np.ndarray, starts: np.ndarray, ends: np.ndarray, lineno0: int
    ) -> None:
        for i in bad.tolist():
            text = self._line_text(block, int(starts[i]), int(ends[i]))
            if int(ends[i] - starts[i]) > self._max_line:
                reason = self._too_long()
            else:
                reason = (
                    "malformed lackey line (expected 'I  ADDR,SIZE' or "
                    f"' L|S|M ADDR,SIZE', hex ADDR, decimal SIZE): {text!r}"
                )
            self._bad(lineno0 + i, reason)

    # -- perf script ------------------------------------------------------------------

    def _perf(self) -> Iterator[TraceChunk]:
        ncols: int | None = None
        if self._perf_columns is not None:
            ncols = len(self._perf_columns)
        for block, lineno0 in self._blocks():
            problems: list[tuple[int, str]] = []
            matches = _PERF_RE.findall(block)
            if len(matches) == block.count(b"\n"):
                rows = matches  # every line is a sample
                linenos = list(range(lineno0, lineno0 + len(rows)))
            else:
                rows, linenos = [], []
                for i, line in enumerate(block.split(b"\n")[:-1]):
                    stripped = line.strip()
                    if not stripped or stripped.startswith(b"#"):
                        continue
                    if len(line) > self._max_line:
                        problems.append((lineno0 + i, self._too_long()))
                        continue
                    m = _PERF_RE.match(line + b"\n")
                    if m is None:
                        problems.append((
                            lineno0 + i,
                            "malformed perf script line (expected '[CPU] SECS.FRAC: "
                            "ADDR [PHYS_ADDR]' as -F time,cpu,addr,phys_addr prints): "
                            f"{line[:80]!r}",
                        ))
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
                        problems.append((
                            ln,
                            f"expected {ncols} address column(s) like the first "
                            f"sample, got {2 if r[4] else 1}",
                        ))
                rows = kept
            chunk, good = None, 0
            if rows:
                assert ncols is not None
                chunk, good, overflows = self._perf_rows(rows, linenos, ncols)
                problems += overflows
            for ln, reason in sorted(problems):  # in line order: the first raises
                self._bad(ln, reason)
            if chunk is None:
                continue
            self._good_lines += good
            yield chunk

    def _perf_rows(
        self, rows: list[tuple[bytes, ...]], linenos: list[int], ncols: int
    ) -> tuple[TraceChunk | None, int, list[tuple[int, str]]]:
        """The samples of ``rows`` as a chunk, the rows kept, the lines whose values overflow.

        A timestamp beyond int64 nanoseconds, an address wider than 64 bits
        or a CPU beyond int32 makes the conversion fail as a whole; only
        then are the rows checked one by one (the common case pays nothing).
        """
        problems: list[tuple[int, str]] = []
        try:
            arrays = self._perf_arrays(rows, ncols)
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
            arrays = self._perf_arrays(rows, ncols)  # every value fits now
        time_ns, values, cpu = arrays
        vaddr = values.get("addr")
        pfn = None
        keep = None
        if "phys_addr" in values:
            phys = values["phys_addr"]
            if not self._keep_unmapped:
                keep = phys != 0
                dropped = int(keep.shape[0] - np.count_nonzero(keep))
                self.no_phys_addr += dropped
                if not dropped:
                    keep = None
            pfn = phys >> np.uint64(self._page_shift)
        nid = self._nids_of(cpu) if cpu is not None else None
        chunk = TraceChunk(time_ns=time_ns, pfn=pfn, vaddr=vaddr, cpu=cpu, nid=nid)
        return (chunk if keep is None else chunk[keep]), len(rows), problems

    def _perf_arrays(
        self, rows: list[tuple[bytes, ...]], ncols: int
    ) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray | None]:
        """``time_ns``, the address columns by name and ``cpu`` of ``rows``.

        Raises OverflowError (or ValueError) when a value does not fit.
        """
        cols = self._perf_columns or (("addr", "phys_addr") if ncols == 2 else ("addr",))
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

    def _nids_of(self, cpu: np.ndarray) -> np.ndarray | None:
        table = self._cpu_to_node
        if table is None:
            return None
        inside = (cpu >= 0) & (cpu < table.shape[0])
        nid = np.full(cpu.shape[0], NUMA_NO_NODE, dtype=np.int32)
        nid[inside] = table[cpu[inside]]
        self.unknown_cpu += int(np.count_nonzero(nid == NUMA_NO_NODE))
        return nid

    # -- csv ------------------------------------------------------------------------

    def _csv(self) -> Iterator[TraceChunk]:
        columns: list[str] | None = None
        layout: dict[str, int] = {}
        time_name = "time_ns"
        for block, lineno0 in self._blocks():
            lines = block.split(b"\n")[:-1]
            rows: list[bytes] = []
            linenos: list[int] = []
            problems: list[tuple[int, str]] = []
            for i, line in enumerate(lines):
                line = line.rstrip(b"\r")
                if not line.strip() or line.startswith(b"#"):
                    continue
                if len(line) > self._max_line:
                    problems.append((lineno0 + i, self._too_long()))
                    continue
                if columns is None:
                    columns, layout, time_name = self._csv_header(line, lineno0 + i)
                    continue
                rows.append(line)
                linenos.append(lineno0 + i)
            if columns is None:
                for ln, reason in problems:
                    self._bad(ln, reason)
                continue
            part = self._csv_rows(rows, linenos, columns, layout, time_name, problems)
            if part is not None:
                yield part
        if columns is None:
            raise ValueError(f"{self.path}: empty CSV trace (no header line)")

    def _csv_header(self, line: bytes, lineno: int) -> tuple[list[str], dict[str, int], str]:
        try:
            names = [c.strip().lower() for c in line.decode("ascii").split(",")]
        except UnicodeDecodeError:
            raise ValueError(f"{self.path}:{lineno}: CSV header is not ASCII: {line[:80]!r}") from None
        layout = _column_layout(names, f"{self.path}:{lineno}: CSV header")
        time_name = next(n for n in _TIME_COLUMNS if n in layout)
        layout["time_ns"] = layout.pop(time_name)
        return names, layout, time_name

    def _csv_rows(
        self,
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
                out[name] = self._int_column(table[:, col], name, linenos, good, problems, time_name)
        for ln, reason in sorted(problems):  # report in line order: the first raises
            self._bad(ln, reason)
        if not rows or not good.any():
            return None
        if not good.all():
            out = {k: v[good] for k, v in out.items()}
        self._good_lines += int(good.sum())
        time_scale = _TIME_COLUMNS[time_name]
        if time_scale != 1:  # no overflow: _int_column bounded the column by its unit
            out["time_ns"] = out["time_ns"] * np.int64(time_scale)
        if "cpu" in out and "nid" not in out and self._cpu_to_node is not None:
            nid = self._nids_of(out["cpu"])
            if nid is not None:
                out["nid"] = nid
        return TraceChunk(**out)

    def _int_column(
        self,
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
        label = time_name if name == "time_ns" and _TIME_COLUMNS[time_name] != 1 else name
        dtype, lo, hi = _COLUMN_RANGE[label]
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
                    v = _source_by_name(text)
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

    # -- npy / npz --------------------------------------------------------------------

    def _npy(self) -> Iterator[TraceChunk]:
        f = self._file
        assert f is not None
        dtype, count = _read_npy_header(f, self.path)
        if dtype.names is None:
            raise ValueError(
                f"{self.path}: a .npy trace must be a structured array with fields "
                f"named pfn|vaddr and time_ns (and optional nid, cpu, src); got dtype {dtype}"
            )
        layout = _column_layout(list(dtype.names), f"{self.path}: .npy fields")
        for name in layout:
            field = dtype.fields[name][0]  # type: ignore[index]
            if field.shape != () or field.itemsize == 0:
                raise ValueError(
                    f"{self.path}: .npy field {name!r} must be one integer per record, got dtype {field}"
                )
        if dtype.itemsize > _NPY_READ_BYTES:
            raise ValueError(f"{self.path}: .npy records of {dtype.itemsize} bytes are too wide for a trace")
        time_name = next(n for n in _TIME_COLUMNS if n in layout)
        scale = _TIME_COLUMNS[time_name]
        step = min(self._chunk_size, _NPY_READ_BYTES // dtype.itemsize)  # bounded reads
        done = 0
        while done < count:
            n = min(step, count - done)
            arr = _read_exact(f, dtype, n, self.path, done, count)
            out = {}
            for name in layout:
                key = "time_ns" if name == time_name else name
                # checked against its own unit's range, so that scaling cannot overflow
                out[key] = self._checked(np.asarray(arr[name]), name, done)
            if scale != 1:
                out["time_ns"] = out["time_ns"] * np.int64(scale)
            done += n
            yield self._finish_arrays(out)

    def _npz(self) -> Iterator[TraceChunk]:
        f = self._file
        assert f is not None
        try:
            zf = zipfile.ZipFile(f)
        except zipfile.BadZipFile as e:
            raise ValueError(f"{self.path}: not a valid .npz file ({e})") from None
        with zf:
            members = {
                name[:-4] if name.endswith(".npy") else name: name for name in zf.namelist()
            }
            layout = _column_layout(list(members), f"{self.path}: .npz arrays")
            time_name = next(n for n in _TIME_COLUMNS if n in layout)
            scale = _TIME_COLUMNS[time_name]
            streams = {}
            count = None
            try:
                for name in layout:
                    stream = zf.open(members[name])
                    dtype, n = _read_npy_header(stream, f"{self.path}[{members[name]}]")
                    if dtype.names is not None or dtype.kind not in "iu":
                        raise ValueError(
                            f"{self.path}: array {name!r} must be a 1-D integer array, got dtype {dtype}"
                        )
                    if count is None:
                        count = n
                    elif n != count:
                        raise ValueError(
                            f"{self.path}: array {name!r} has {n} elements, others have {count}"
                        )
                    streams[name] = (stream, dtype)
                assert count is not None
                done = 0
                while done < count:
                    n = min(self._chunk_size, count - done)
                    out = {}
                    for name, (stream, dtype) in streams.items():
                        key = "time_ns" if name == time_name else name
                        arr = _read_exact(stream, dtype, n, f"{self.path}[{members[name]}]", done, count)
                        out[key] = self._checked(arr, name, done)  # in its own unit's range
                    if scale != 1:
                        out["time_ns"] = out["time_ns"] * np.int64(scale)
                    done += n
                    yield self._finish_arrays(out)
            finally:
                for stream, _ in streams.values():
                    stream.close()

    def _checked(self, arr: np.ndarray, name: str, offset: int) -> np.ndarray:
        dtype, lo, hi = _COLUMN_RANGE[name]
        if arr.dtype.kind not in "iu":
            raise ValueError(f"{self.path}: {name} must be integers, got dtype {arr.dtype}")
        if arr.dtype.kind == "i" and arr.shape[0]:
            below = np.flatnonzero(arr < lo)
            if below.shape[0]:
                i = int(below[0])
                raise ValueError(f"{self.path}: {name}[{offset + i}] = {arr[i]} is below {lo}")
        if arr.shape[0] and arr.dtype.itemsize == 8 and arr.dtype.kind == "u" and hi < 2**64 - 1:
            above = np.flatnonzero(arr > np.uint64(hi))
        elif arr.shape[0] and hi < 2**63:
            above = np.flatnonzero(arr > hi)
        else:
            above = np.empty(0, np.intp)
        if above.shape[0]:
            i = int(above[0])
            raise ValueError(f"{self.path}: {name}[{offset + i}] = {arr[i]} is above {hi}")
        return arr.astype(dtype, copy=False)

    def _finish_arrays(self, out: dict[str, np.ndarray]) -> TraceChunk:
        if "cpu" in out and "nid" not in out and self._cpu_to_node is not None:
            nid = self._nids_of(out["cpu"].astype(np.int32))
            if nid is not None:
                out["nid"] = nid
        self._good_lines += len(out["time_ns"])
        return TraceChunk(**out)

    # -- damo -----------------------------------------------------------------------

    def _damo(self) -> Iterator[TraceChunk]:
        # the parsed document is dropped once its regions are gathered
        windows = self._damo_windows(self._damo_document())
        for (t0, t1), (slots, spans, accesses) in sorted(windows.items()):
            slots = max(slots, max(n for _, _, n in spans))
            yield from self._damo_expand(spans, t0, t1, slots, accesses)

    def _damo_windows(self, doc: Any) -> dict[tuple[int, int], list[Any]]:
        """The regions with accesses of every snapshot, checked against the limits.

        Snapshots of all records are grouped by time window, so that records
        of several targets monitored together come out merged in time order:
        ``(t0, t1) -> [sampling slots, [(first page, end page, accesses)], total accesses]``.
        """
        page = self._page_size
        windows: dict[tuple[int, int], list[Any]] = {}
        for ri, record in enumerate(_damo_records(doc, self.path)):
            where = f"{self.path}: damo record {ri}"
            if not isinstance(record, dict) or not isinstance(record.get("snapshots"), list):
                raise ValueError(f"{where}: expected an object with a 'snapshots' list")
            slots_hint = _damo_slots(record.get("intervals"), where)
            for si, snap in enumerate(record["snapshots"]):
                w = f"{where} snapshot {si}"
                if not isinstance(snap, dict):
                    raise ValueError(f"{w}: expected an object")
                t0 = _damo_int(snap.get("start_time"), f"{w} start_time")
                t1 = _damo_int(snap.get("end_time"), f"{w} end_time")
                if not 0 <= t0 <= _INT64_MAX or not 0 <= t1 <= _INT64_MAX:
                    raise ValueError(f"{w}: times must be in [0, 2**63) ns, got [{t0}, {t1})")
                if t1 < t0:
                    raise ValueError(f"{w}: end_time {t1} is before start_time {t0}")
                regions = snap.get("regions")
                if not isinstance(regions, list):
                    raise ValueError(f"{w}: 'regions' must be a list")
                spans = []
                accesses = windows.get((t0, t1), [0, [], 0])[2]  # of this time window so far
                for gi, reg in enumerate(regions):
                    wr = f"{w} region {gi}"
                    if not isinstance(reg, dict):
                        raise ValueError(f"{wr}: expected an object")
                    start = _damo_int(reg.get("start"), f"{wr} start")
                    end = _damo_int(reg.get("end"), f"{wr} end")
                    if start < 0 or end < start or end > 2**64:
                        raise ValueError(f"{wr}: bad range [{start}, {end}) (addresses are 64-bit)")
                    n = _damo_accesses(reg.get("nr_accesses"), slots_hint, wr)
                    if n == 0 or end == start:
                        continue  # nothing to expand, however large the region
                    first, last = start // page, -(-end // page)
                    if last - first > self._max_region_pages:
                        raise ValueError(
                            f"{wr}: {last - first} pages, more than max_region_pages="
                            f"{self._max_region_pages} (pass a larger max_region_pages to open_trace)"
                        )
                    accesses += (last - first) * n
                    if accesses > self._max_snapshot:
                        raise ValueError(
                            f"{wr}: the snapshot expands to more than max_snapshot_accesses="
                            f"{self._max_snapshot} accesses (pages times nr_accesses of its regions, "
                            f"with the other records' snapshots of the same time window; pass a "
                            f"larger max_snapshot_accesses to open_trace)"
                        )
                    if n > _DAMO_MAX_SLOTS:
                        raise ValueError(f"{wr} nr_accesses: {n} is above {_DAMO_MAX_SLOTS}")
                    spans.append((first, last, n))
                if not spans:
                    continue
                self._good_lines += 1
                held = windows.setdefault((t0, t1), [0, [], 0])
                held[0] = max(held[0], slots_hint or 0)
                held[1] += spans
                held[2] = accesses
        return windows

    def _damo_document(self) -> Any:
        """The damo record, parsed; its text bounded by ``max_json_bytes``.

        A regular file is read twice: a first pass only counts the
        decompressed bytes, so that a compression bomb costs time and no
        memory. A one-pass stream is read once, into at most
        ``max_json_bytes`` bytes.
        """
        if self._source.regular:
            with self._source.open() as f:
                total = 0
                for piece in self._damo_pieces(f):
                    total += len(piece)
                    if total > self._max_json:
                        self._damo_too_big()
        assert self._file is not None
        text = bytearray()
        for piece in self._damo_pieces(self._file):
            text += piece
            if len(text) > self._max_json:
                self._damo_too_big()
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{self.path}:{e.lineno}: not a damo JSON record ({e})") from None
        except RecursionError:
            raise ValueError(f"{self.path}: not a damo JSON record (nested too deeply)") from None
        except ValueError as e:  # UnicodeDecodeError, a number of too many digits
            raise ValueError(f"{self.path}: not a damo JSON record ({e})") from None

    def _damo_too_big(self) -> None:
        raise ValueError(
            f"{self.path}: the damo record's JSON text is longer than max_json_bytes="
            f"{self._max_json} bytes after decompression (pass a larger max_json_bytes to open_trace)"
        )

    def _damo_pieces(self, f: IO[bytes]) -> Iterator[bytes]:
        """The JSON text of the damo record ``f`` in pieces of at most 1 MiB.

        gzip, bzip2 and xz are undone by ``f`` itself; damo's own
        ``json_compressed`` (zlib) is undone here, never more than a piece
        at a time. The text must start with ``[`` or ``{``: anything else
        (binary data, another format) fails at its first bytes.
        """
        data = f.read(_DAMO_PIECE)
        started = False
        for piece in self._damo_inflated(f, data) if data[:1] == b"\x78" else self._damo_raw(f, data):
            if not started:
                lead = piece.lstrip(b" \t\r\n")
                if lead.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark
                    lead = lead[3:].lstrip(b" \t\r\n")
                if lead:
                    if lead[:1] not in (b"[", b"{"):
                        raise ValueError(
                            f"{self.path}: not a damo JSON record (it starts with {lead[:16]!r})"
                        )
                    started = True
            yield piece

    @staticmethod
    def _damo_raw(f: IO[bytes], data: bytes) -> Iterator[bytes]:
        while data:
            yield data
            data = f.read(_DAMO_PIECE)

    def _damo_inflated(self, f: IO[bytes], data: bytes) -> Iterator[bytes]:
        z = zlib.decompressobj()
        try:
            while data and not z.eof:
                out = z.decompress(data, _DAMO_PIECE)
                while True:
                    yield out
                    if not z.unconsumed_tail:
                        break
                    out = z.decompress(z.unconsumed_tail, _DAMO_PIECE)
                data = f.read(_DAMO_PIECE)
        except zlib.error as e:
            raise ValueError(f"{self.path}: corrupt zlib-compressed damo record ({e})") from None
        if not z.eof:
            raise ValueError(f"{self.path}: corrupt zlib-compressed damo record (truncated)")

    def _damo_expand(
        self, spans: list[tuple[int, int, int]], t0: int, t1: int, slots: int, accesses: int
    ) -> Iterator[TraceChunk]:
        """Accesses of one snapshot, in time order.

        The snapshot's duration is cut into ``slots`` sampling slots (the
        aggregation interval over the sampling interval when known); a region
        with ``n`` accesses is accessed in ``n`` slots evenly spread over them
        (slot ``floor(i * slots / n)`` for ``i < n``, all distinct since
        ``n <= slots``), all of its pages at the start of each of those slots,
        regions in their order within a slot.

        The slots are walked in runs holding about one chunk of accesses, and
        each run is computed with numpy: time and memory grow with the
        accesses (``accesses`` in all), never with the number of slots.
        """
        first = np.array([s[0] for s in spans], dtype=np.uint64)
        npages = np.array([s[1] - s[0] for s in spans], dtype=np.int64)
        n = np.array([s[2] for s in spans], dtype=np.int64)
        ids = np.arange(len(spans), dtype=np.int64)
        target = max(self._chunk_size, 1 << 16)
        run = max(1, target * slots // max(accesses, 1))  # slots per run
        # slot k starts at t0 + k * dur // slots = t0 + k * q + k * r // slots, in int64
        q, r = divmod(t1 - t0, slots)
        for a in range(0, slots, run):
            b = min(slots, a + run)
            # accesses i of each region in slots [a, b): ceil(a * n / slots) <= i < ceil(b * n / slots)
            lo = -((-a * n) // slots)
            count = -((-b * n) // slots) - lo
            events = int(count.sum())
            if events == 0:
                continue
            region = np.repeat(ids, count)
            i = lo[region] + (np.arange(events, dtype=np.int64) - (np.cumsum(count) - count)[region])
            slot = (i * slots) // n[region]
            order = np.lexsort((region, slot))
            region, slot = region[order], slot[order]
            times = np.int64(t0) + slot * np.int64(q) + (slot * np.int64(r)) // np.int64(slots)
            yield from self._damo_pages(first[region], npages[region], times, target)

    def _damo_pages(
        self, first: np.ndarray, npages: np.ndarray, times: np.ndarray, target: int
    ) -> Iterator[TraceChunk]:
        """Every page of each (region, slot) event in order, in chunks of ``target`` accesses."""
        ends = np.cumsum(npages)
        starts = ends - npages
        total = int(ends[-1])
        for lo in range(0, total, target):
            hi = min(total, lo + target)
            e0 = int(np.searchsorted(ends, lo, side="right"))
            e1 = int(np.searchsorted(ends, hi - 1, side="right")) + 1
            count = np.minimum(ends[e0:e1], hi) - np.maximum(starts[e0:e1], lo)
            event = np.repeat(np.arange(e0, e1), count)
            offset = np.arange(lo, hi, dtype=np.int64) - starts[event]
            pages = first[event] + offset.astype(np.uint64)
            if self._damo_space == "paddr":
                yield TraceChunk(time_ns=times[event], pfn=pages)
            else:
                yield TraceChunk(time_ns=times[event], vaddr=pages * np.uint64(self._page_size))


# -- helpers ------------------------------------------------------------------------

_HEX = np.full(256, 255, dtype=np.uint8)
for _i, _ch in enumerate(b"0123456789abcdef"):
    _HEX[_ch] = _i
for _i, _ch in enumerate(b"ABCDEF"):
    _HEX[_ch] = 10 + _i
_LACKEY_KIND = np.full(256, -1, dtype=np.int8)
_LACKEY_KIND[ord("L")] = AccessKind.LOAD
_LACKEY_KIND[ord("S")] = AccessKind.STORE
_LACKEY_KIND[ord("M")] = AccessKind.MODIFY

_PERF_RE = re.compile(
    rb"^[ \t]*(?:\[[ \t]*(\d+)\][ \t]+)?(\d+)\.(\d+):"
    rb"(?:[ \t]+[^ \t\r\n]*:)*"  # event names, e.g. "cpu/mem-loads,ldlat=30/P:"
    rb"[ \t]+([0-9a-fA-F]+)(?:[ \t]+([0-9a-fA-F]+))?[ \t]*\r?$",
    re.MULTILINE,
)
_LACKEY_RE = re.compile(rb"^(?:I  | [LSM] )[0-9a-fA-F]+,\d+\r?$")
_VALGRIND_RE = re.compile(rb"^(==|--|\*\*)\d+(==|--|\*\*)")

#: accepted time columns and their factor to nanoseconds
_TIME_COLUMNS = {"time_ns": 1, "time": 1, "time_us": 1_000, "time_ms": 1_000_000}
#: parsed columns: dtype, smallest and largest accepted value
_COLUMN_RANGE: dict[str, tuple[type, int, int]] = {
    "pfn": (np.uint64, 0, 2**64 - 1),
    "vaddr": (np.uint64, 0, 2**64 - 1),
    "time_ns": (np.int64, 0, 2**63 - 1),
    "time": (np.int64, 0, 2**63 - 1),
    "time_us": (np.int64, 0, (2**63 - 1) // 1_000),
    "time_ms": (np.int64, 0, (2**63 - 1) // 1_000_000),
    "nid": (np.int32, NUMA_NO_NODE, 2**31 - 1),
    "cpu": (np.int32, -1, 2**31 - 1),
    "src": (np.int8, 0, max(Source)),
}


def _column_layout(names: list[str], where: str) -> dict[str, int]:
    """Index of each known column; error unless an address and a time are named."""
    layout: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in _COLUMN_RANGE:
            if name in layout:
                raise ValueError(f"{where}: column {name!r} appears twice")
            layout[name] = i
    if "pfn" not in layout and "vaddr" not in layout:
        raise ValueError(f"{where}: needs a 'pfn' or 'vaddr' column, got {names}")
    times = [n for n in _TIME_COLUMNS if n in layout]
    if len(times) != 1:
        raise ValueError(
            f"{where}: needs exactly one time column among {list(_TIME_COLUMNS)}, got {names}"
        )
    return layout


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
    if s is None or s * 1_000_000_000 + int(frac[:9].ljust(9, b"0")) > _INT64_MAX:
        return (f"timestamp {_short(secs)}.{_short(frac)} s is too large "
                f"(int64 nanoseconds end at {_INT64_MAX // 10**9}.{_INT64_MAX % 10**9:09d} s)")
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


def _source_by_name(text: bytes) -> int:
    name = text.decode("ascii", "replace").strip().upper()
    if name.startswith("PGHOT_"):
        name = name[6:]
    try:
        return int(Source[name])
    except KeyError:
        raise ValueError(f"unknown source {text!r}") from None


def _damo_int(value: Any, what: str) -> int:
    """An integer from damo's JSON: an int or a decimal string (commas allowed)."""
    if isinstance(value, bool):
        raise ValueError(f"{what}: expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.replace(",", "").strip()
        try:
            return int(text, 0) if text.lower().startswith("0x") else int(text)
        except ValueError:
            pass
    raise ValueError(f"{what}: expected an integer, got {value!r}")


def _damo_records(doc: Any, path: str) -> list[Any]:
    """The list of DAMON records in a damo JSON document, whatever its wrapping."""
    for _ in range(4):
        if isinstance(doc, list):
            return doc
        if not isinstance(doc, dict):
            break
        if "snapshots" in doc:
            return [doc]
        for key in ("damo_records", "damon_records", "record_list"):
            if key in doc:
                doc = doc[key]
                break
        else:
            break
    raise ValueError(f"{path}: damo record: expected a list of records with 'snapshots'")


def _damo_slots(intervals: Any, where: str) -> int | None:
    """Sampling slots per aggregation interval, from a record's ``intervals``.

    None when the intervals are missing or unusable; an error when they
    make more than 2**31 - 1 slots.
    """
    if not isinstance(intervals, dict):
        return None
    try:
        sample = _damo_int(intervals.get("sample_us", intervals.get("sample")), "sample")
        aggr = _damo_int(intervals.get("aggr_us", intervals.get("aggr")), "aggr")
    except ValueError:
        return None
    if sample <= 0 or aggr < sample:
        return None
    if aggr // sample > _DAMO_MAX_SLOTS:
        raise ValueError(
            f"{where} intervals: aggregation {aggr} over sampling {sample} is more than "
            f"{_DAMO_MAX_SLOTS} sampling slots"
        )
    return aggr // sample


def _damo_accesses(value: Any, slots: int | None, where: str) -> int:
    """A region's ``nr_accesses``: an int, or ``{"samples": n}`` / ``{"percent": p}``."""
    if isinstance(value, dict):
        if value.get("samples") is not None:
            value = value["samples"]
        elif value.get("percent") is not None and slots:
            try:
                percent = float(str(value["percent"]).rstrip("% "))
            except ValueError:
                percent = float("nan")
            if not 0 <= percent <= 100:  # NaN and infinities included
                raise ValueError(f"{where} nr_accesses: bad percent {value['percent']!r}") from None
            return int(percent * slots / 100)
        else:
            raise ValueError(f"{where} nr_accesses: no 'samples' (and no 'percent' with known intervals)")
    n = _damo_int(value, f"{where} nr_accesses")
    if n < 0:
        raise ValueError(f"{where} nr_accesses: {n} is negative")
    return n


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


def _compression(magic: bytes) -> str | None:
    """The compression named by a file's first bytes: "gzip", "bz2", "xz" or None."""
    if magic[:2] == b"\x1f\x8b":
        return "gzip"
    if magic[:3] == b"BZh":
        return "bz2"
    if magic[:6] == b"\xfd7zXZ\x00":
        return "xz"
    return None


def _decompressing(kind: str, f: Any) -> IO[bytes]:
    """A reader of the decompressed content of ``f`` (a path or a binary file object)."""
    if kind == "gzip":
        return gzip.open(f, "rb")  # type: ignore[return-value]
    if kind == "bz2":
        return bz2.open(f, "rb")  # type: ignore[return-value]
    return lzma.open(f, "rb")  # type: ignore[return-value]


def _open_raw(path: str) -> IO[bytes]:
    """Open ``path`` for binary reading, decompressing gzip, bzip2 or xz."""
    with open(path, "rb") as f:
        magic = f.read(6)
    kind = _compression(magic)
    return open(path, "rb") if kind is None else _decompressing(kind, path)


class _Replay(io.RawIOBase):
    """A one-pass stream whose head can be looked at, then read again.

    A pipe, a FIFO or standard input can be read only once and cannot seek:
    :meth:`head` reads the first bytes and keeps them, and reads then return
    those bytes again before the rest of the stream. ``closes`` are closed
    with it (the stream itself only when it is among them).
    """

    def __init__(self, raw: IO[bytes], closes: Sequence[Any]) -> None:
        super().__init__()
        self._raw = raw
        self._closes = closes
        self._head: bytes | None = b""  # None once replayed and released

    def head(self, n: int) -> bytes:
        """The first ``n`` bytes of the stream (fewer if it is shorter), not consumed."""
        if self._head is None:
            raise RuntimeError("the head of a stream can be looked at only before it is read")
        parts = [self._head]
        have = len(self._head)
        while have < n:
            data = self._raw.read(n - have)
            if not data:
                break
            parts.append(data)
            have += len(data)
        self._head = b"".join(parts)
        return self._head[:n]

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            k = min(len(view), len(self._head))
            view[:k] = self._head[:k]
            self._head = self._head[k:]
            return k
        self._head = None
        data = self._raw.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            for f in self._closes:
                f.close()
        super().close()


class _Input:
    """Where a trace's bytes come from.

    A regular file is opened afresh for each pass (format detection, the
    binary-data check, reading). Standard input (``"-"``), a pipe, a FIFO or
    a device is opened once, its compression undone by a wrapper, and its
    head kept for replay (:class:`_Replay`): everything reads the same
    single pass, and nothing seeks.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        ``path`` is a directory.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.regular = False
        self._stream: _Replay | None = None
        self._opened = False
        self._head: bytes | None = None  # of a regular file, read once
        if path == "-":
            raw: IO[bytes] = sys.stdin.buffer
            closes: tuple[Any, ...] = ()  # standard input stays open
        else:
            mode = os.stat(path).st_mode  # FileNotFoundError now rather than when iterating
            if stat.S_ISDIR(mode):
                raise ValueError(f"{path}: is a directory, not a trace file")
            if stat.S_ISREG(mode):
                self.regular = True
                return
            raw = open(path, "rb")  # a FIFO blocks here until a writer opens it
            closes = (raw,)
        stream = _Replay(raw, closes)
        try:
            kind = _compression(stream.head(6))
        except BaseException:
            stream.close()
            raise
        if kind is not None:
            below = io.BufferedReader(stream)
            inner = _decompressing(kind, below)
            stream = _Replay(inner, (inner, below))
        self._stream = stream

    def head(self, n: int) -> bytes:
        """The first ``n`` bytes of the (decompressed) trace, not consumed."""
        try:
            if self._stream is not None:
                return self._stream.head(n)
            if self._head is None or len(self._head) < n:
                with _open_raw(self.path) as f:
                    self._head = f.read(n)
            return self._head[:n]
        except (EOFError, zlib.error, lzma.LZMAError, OSError) as e:
            if isinstance(e, (FileNotFoundError, PermissionError)):
                raise
            raise ValueError(f"{self.path}: truncated or corrupt compressed file ({e})") from None

    def open(self) -> IO[bytes]:
        """A binary reader of the (decompressed) trace: afresh, or the one stream."""
        if self._stream is None:
            return _open_raw(self.path)
        if self._opened:
            raise RuntimeError(f"{self.path}: a one-pass stream can be read only once")
        self._opened = True
        return io.BufferedReader(self._stream, buffer_size=1 << 16)

    def close(self) -> None:
        """Close the stream (idempotent; nothing to do for a regular file)."""
        if self._stream is not None:
            self._stream.close()


def detect_format(path: str | os.PathLike[str]) -> str:
    """Guess a trace's format from its name and its first bytes.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    str
        One of :data:`FORMATS`.

    Raises
    ------
    ValueError
        The format cannot be told (the message says how to name it), or
        ``path`` is a directory.

    Notes
    -----
    On standard input (``"-"``), a pipe or a FIFO this consumes the bytes it
    looks at; :func:`open_trace` detects the format without consuming them.

    Examples
    --------
    >>> import tempfile, os, pathlib
    >>> d = tempfile.mkdtemp()
    >>> p = os.path.join(d, "trace.txt")
    >>> _ = pathlib.Path(p).write_text("==123== Lackey\\nI  0401ab70,3\\n S 1fff000688,8\\n")
    >>> detect_format(p)
    'lackey'
    >>> _ = pathlib.Path(p).write_text("[003]  1932.035888:     5653ae949020       13886d020\\n")
    >>> detect_format(p)
    'perf'
    """
    p = os.fspath(path)
    fmt = _format_by_name(p)
    if fmt is not None:
        return fmt
    source = _Input(p)
    try:
        return _format_by_head(p, source.head(_SNIFF_BYTES))
    finally:
        source.close()


def _format_by_name(path: str) -> str | None:
    """The format a trace's file name says (its extension), or None."""
    name = os.path.basename(path).lower()
    for ext in (".gz", ".bz2", ".xz"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    by_ext = {".npy": "npy", ".npz": "npz", ".csv": "csv", ".json": "damo", ".lackey": "lackey"}
    for ext, fmt in by_ext.items():
        if name.endswith(ext):
            return fmt
    return None


def _format_by_head(p: str, head: bytes) -> str:
    """The format of a trace whose (decompressed) first bytes are ``head``."""
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"PK\x03\x04"):
        return "npz"
    if head[:1] == b"\x78" and head[1:2] in (b"\x01", b"\x5e", b"\x9c", b"\xda"):
        try:
            if zlib.decompressobj().decompress(head, 64).lstrip()[:1] in (b"[", b"{"):
                return "damo"
        except zlib.error:
            pass
    if b"\0" in head:
        raise ValueError(f"{p}: binary data, not a text trace; pass format= if it is .npy/.npz")
    stripped = head.lstrip()
    if stripped[:1] in (b"[", b"{") and not _PERF_RE.match(stripped.split(b"\n", 1)[0] + b"\n"):
        return "damo"
    lines = [ln for ln in head.split(b"\n")[:50] if ln.strip() and not ln.startswith(b"#")]
    if len(head) == _SNIFF_BYTES and lines and not head.endswith(b"\n"):
        lines = lines[:-1]  # the last line may be cut
    for line in lines:
        if _VALGRIND_RE.match(line) or _LACKEY_RE.match(line):
            return "lackey"
        if _PERF_RE.match(line + b"\n"):
            return "perf"
        if b"," in line:
            names = {c.strip().lower() for c in line.decode("ascii", "replace").split(",")}
            if names & {"pfn", "vaddr"}:
                return "csv"
        break
    raise ValueError(
        f"{p}: cannot tell the trace format from its name or content; "
        f"pass format= one of {', '.join(FORMATS)}"
    )


def cpu_to_node_from_sysfs(root: str | os.PathLike[str] = "/sys/devices/system/node") -> dict[int, int]:
    """The CPU -> node map of a machine, from ``nodeN/cpulist`` in sysfs.

    Parameters
    ----------
    root : path-like, optional
        The node directory, default ``/sys/devices/system/node``.

    Returns
    -------
    dict of int to int

    Examples
    --------
    >>> import pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for nid, cpus in [(0, "0-1"), (1, "2,5")]:
    ...     (root / f"node{nid}").mkdir()
    ...     _ = (root / f"node{nid}" / "cpulist").write_text(cpus + "\\n")
    >>> sorted(cpu_to_node_from_sysfs(root).items())
    [(0, 0), (1, 0), (2, 1), (5, 1)]
    """
    from pghot.topology import _parse_list

    out: dict[int, int] = {}
    base = os.fspath(root)
    for entry in os.listdir(base):
        m = re.fullmatch(r"node(\d+)", entry)
        if not m:
            continue
        try:
            with open(os.path.join(base, entry, "cpulist"), encoding="ascii") as f:
                text = f.read()
        except FileNotFoundError:
            continue
        for cpu in _parse_list(text):
            out[cpu] = int(m.group(1))
    return out


def _cpu_table(cpu_to_node: Any) -> np.ndarray | None:
    """``cpu_to_node`` as a lookup array indexed by CPU (-1 for unknown CPUs)."""
    if cpu_to_node is None:
        return None
    if isinstance(cpu_to_node, str):
        if cpu_to_node != "sysfs":
            raise ValueError(f"cpu_to_node must be 'sysfs', a mapping or a sequence, got {cpu_to_node!r}")
        cpu_to_node = cpu_to_node_from_sysfs()
    if isinstance(cpu_to_node, Mapping):
        items = [(operator.index(k), operator.index(v)) for k, v in cpu_to_node.items()]
        size = max((k for k, _ in items), default=-1) + 1
        table = np.full(size, NUMA_NO_NODE, dtype=np.int32)
        for k, v in items:
            if k < 0:
                raise ValueError(f"cpu_to_node: CPU {k} is negative")
            if v < NUMA_NO_NODE:
                raise ValueError(f"cpu_to_node: node {v} of CPU {k} is below -1")
            table[k] = v
        return table
    arr = np.asarray(cpu_to_node)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise TypeError("cpu_to_node must be 'sysfs', a mapping or a 1-D integer sequence")
    if arr.shape[0] and int(arr.min()) < NUMA_NO_NODE:
        raise ValueError("cpu_to_node: node ids must be >= -1")
    return arr.astype(np.int32)


def open_trace(
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    chunk_size: int = 1 << 20,
    skip_bad: bool = False,
    ns_per_instr: float = 1.0,
    page_size: int = 4096,
    cpu_to_node: Any = None,
    include_instr: bool = False,
    max_line_bytes: int = MAX_LINE_BYTES,
    keep_unmapped: bool = False,
    perf_columns: Sequence[str] | None = None,
    damo_space: str = "vaddr",
    max_json_bytes: int = DAMO_MAX_JSON_BYTES,
    max_region_pages: int = DAMO_MAX_REGION_PAGES,
    max_snapshot_accesses: int = DAMO_MAX_SNAPSHOT_ACCESSES,
) -> TraceReader:
    """Open a memory-access trace for streaming.

    Parameters
    ----------
    path : path-like
        The trace; gzip, bzip2 and xz compression are undone transparently.
        ``"-"`` is standard input (``"./-"`` names a file called ``-``). A
        pipe, a FIFO (e.g. ``<(zcat t.gz)``), standard input or a device is
        read once, in one pass; a directory is an error.
    format : str, optional
        One of :data:`FORMATS`; default: detected as :func:`detect_format`
        does, without consuming a stream.
    chunk_size : int, optional
        Records per chunk (the last chunk may be shorter), default 2**20.
    skip_bad : bool, optional
        Skip and count malformed lines instead of raising (default False).
    ns_per_instr : float, optional
        Lackey: nanoseconds per instruction, default 1.0.
    page_size : int, optional
        Bytes per page, a power of two (perf ``phys_addr`` -> PFN; damo pages).
    cpu_to_node : mapping, sequence, "sysfs" or None, optional
        perf and CSV/npz ``cpu`` column: the node of each CPU, to fill
        ``nid``; ``"sysfs"`` reads this machine's map. CPUs it does not name
        get ``nid`` -1 (counted in ``unknown_cpu``).
    include_instr : bool, optional
        Lackey: keep instruction fetches in the chunks (default False).
    max_line_bytes : int, optional
        Longest accepted text line, default :data:`MAX_LINE_BYTES` (4096).
    keep_unmapped : bool, optional
        perf: keep samples whose ``phys_addr`` is 0 (PFN 0) instead of
        dropping them.
    perf_columns : sequence of str, optional
        perf: names of the hex columns after the time, among ``"addr"`` and
        ``"phys_addr"``; default ``("addr", "phys_addr")`` with two columns,
        ``("addr",)`` with one. Pass ``("phys_addr",)`` for
        ``-F time,cpu,phys_addr``.
    damo_space : {"vaddr", "paddr"}, optional
        damo: whether region addresses are virtual or physical.
    max_json_bytes : int, optional
        damo: longest accepted JSON text in bytes, after decompression,
        default :data:`DAMO_MAX_JSON_BYTES` (64 MiB). The document is parsed
        whole, which takes a few times (up to about 20 times, for a document
        of tiny objects) its size in memory.
    max_region_pages : int, optional
        damo: most pages of one region with accesses, default
        :data:`DAMO_MAX_REGION_PAGES` (2**26, 256 GiB of 4 KiB pages).
    max_snapshot_accesses : int, optional
        damo: most accesses a snapshot expands to (its regions' pages times
        their ``nr_accesses``, the snapshots of all records over one time
        window together), default :data:`DAMO_MAX_SNAPSHOT_ACCESSES` (2**28).

    Returns
    -------
    TraceReader
        Iterate it once for :class:`TraceChunk` objects.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    TypeError
        An argument of the wrong type.
    ValueError
        Bad arguments, a directory, an undetectable or wrong format, binary
        data in a text trace, or (while iterating) a malformed line:
        ``"PATH:LINE: reason"`` (``"PATH: reason"`` where there are no lines),
        a value out of range or a damo limit exceeded.

    Examples
    --------
    >>> import tempfile, os, pathlib
    >>> p = os.path.join(tempfile.mkdtemp(), "run.lackey")
    >>> _ = pathlib.Path(p).write_text(
    ...     "==7== Lackey, an example Valgrind tool\\n"
    ...     "I  00401000,3\\n S 1fff000690,8\\nI  00401003,4\\n L 00403000,1\\n M 00403008,4\\n")
    >>> with open_trace(p, ns_per_instr=2.5) as r:
    ...     c = next(iter(r))
    >>> [hex(a) for a in c.vaddr], c.time_ns.tolist(), [AccessKind(k).name for k in c.kind]
    (['0x1fff000690', '0x403000', '0x403008'], [0, 2, 2], ['STORE', 'LOAD', 'MODIFY'])
    >>> r.lines_read, r.instructions
    (6, 2)
    """
    p = os.fspath(path)
    if format is not None and format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    chunk = operator.index(chunk_size)
    if chunk <= 0:
        raise ValueError(f"chunk_size must be > 0, got {chunk}")
    page = _check_page_size(page_size)
    ns = float(ns_per_instr)
    if not ns >= 0 or ns == float("inf"):
        raise ValueError(f"ns_per_instr must be a finite number >= 0, got {ns_per_instr!r}")
    cap = operator.index(max_line_bytes)
    if cap < 16:
        raise ValueError(f"max_line_bytes must be >= 16, got {cap}")
    cols: tuple[str, ...] | None = None
    if perf_columns is not None:
        cols = tuple(perf_columns)
        if not 1 <= len(cols) <= 2 or len(set(cols)) != len(cols) or not set(cols) <= {"addr", "phys_addr"}:
            raise ValueError(f"perf_columns must name 1 or 2 of 'addr', 'phys_addr', got {perf_columns!r}")
    if damo_space not in ("vaddr", "paddr"):
        raise ValueError(f"damo_space must be 'vaddr' or 'paddr', got {damo_space!r}")
    json_cap = _limit(max_json_bytes, "max_json_bytes")
    region_cap = _limit(max_region_pages, "max_region_pages")
    snapshot_cap = _limit(max_snapshot_accesses, "max_snapshot_accesses")
    table = _cpu_table(cpu_to_node)

    # Every argument is checked: only now is the trace opened (a stream is
    # opened here once, and its head kept for the reader).
    source = _Input(p)
    try:
        fmt = format if format is not None else _format_by_name(p)
        if fmt is None:
            fmt = _format_by_head(p, source.head(_SNIFF_BYTES))
        if fmt in ("lackey", "perf", "csv"):
            nul = source.head(_SNIFF_BYTES).find(b"\0")
            if nul >= 0:
                raise ValueError(f"{p}: binary data (NUL byte at offset {nul}), not a {fmt} text trace")
        if fmt == "npz" and not source.regular:
            raise ValueError(f"{p}: a .npz trace must be a regular file (a zip archive is read by seeking)")
    except BaseException:
        source.close()
        raise

    return TraceReader(
        p,
        fmt,
        source,
        chunk_size=chunk,
        skip_bad=bool(skip_bad),
        ns_per_instr=ns,
        page_size=page,
        cpu_to_node=table,
        include_instr=bool(include_instr),
        max_line_bytes=cap,
        keep_unmapped=bool(keep_unmapped),
        perf_columns=cols,
        damo_space=damo_space,
        max_json_bytes=json_cap,
        max_region_pages=region_cap,
        max_snapshot_accesses=snapshot_cap,
    )


def _limit(value: Any, name: str) -> int:
    """A positive int option of :func:`open_trace`; TypeError/ValueError naming it."""
    return int_in(value, name, 1, None)


class PageMapper:
    """Map virtual pages to PFNs in first-touch order, as a fresh allocator would.

    Replaying a virtual-address trace (lackey, perf ``addr``, damo vaddr) on a
    simulated machine needs physical pages: each virtual page gets the next
    free PFN of ``[start_pfn, start_pfn + nr_pages)`` the first time it is
    seen, and keeps it.

    Parameters
    ----------
    start_pfn : int
        First PFN handed out (e.g. the first PFN of a lower-tier node).
    nr_pages : int
        PFNs available; mapping more distinct pages raises ``ValueError``.
    page_size : int, optional
        Bytes per page, default 4096.

    Examples
    --------
    >>> m = PageMapper(start_pfn=1000, nr_pages=10)
    >>> m.map(np.array([0x5000, 0x1000, 0x5008, 0x9000], dtype=np.uint64)).tolist()
    [1000, 1001, 1000, 1002]
    >>> m.map(np.array([0x1fff, 0x20000], dtype=np.uint64)).tolist(), len(m)
    ([1001, 1003], 4)
    """

    def __init__(self, start_pfn: SupportsIndex, nr_pages: SupportsIndex, page_size: SupportsIndex = 4096) -> None:
        self.start_pfn = operator.index(start_pfn)
        self.nr_pages = operator.index(nr_pages)
        if self.start_pfn < 0 or self.nr_pages < 0:
            raise ValueError("start_pfn and nr_pages must be >= 0")
        self.page_size = _check_page_size(page_size)
        self._keys = np.empty(0, dtype=np.uint64)  # sorted virtual pages
        self._vals = np.empty(0, dtype=np.uint64)  # their PFNs

    def __len__(self) -> int:
        return int(self._keys.shape[0])

    def map(self, vaddrs: Any) -> np.ndarray:
        """PFNs of the pages holding ``vaddrs`` (uint64), assigning new ones.

        >>> PageMapper(0, 2).map([4096, 0, 4095]).tolist()
        [0, 1, 1]
        """
        v = np.asarray(vaddrs)
        if v.ndim != 1 or (v.dtype.kind not in "iu" and v.shape[0]):
            raise ValueError("vaddrs must be a 1-D integer array")
        if v.dtype.kind == "i" and v.shape[0] and int(v.min()) < 0:
            raise ValueError("vaddrs must be >= 0")
        vp = v.astype(np.uint64) // np.uint64(self.page_size)
        uniq: np.ndarray
        first: np.ndarray
        inverse: np.ndarray
        uniq, first, inverse = np.unique(vp, return_index=True, return_inverse=True)  # type: ignore[misc]
        pos = np.searchsorted(self._keys, uniq)
        known = np.zeros(uniq.shape[0], dtype=bool)
        inside = pos < self._keys.shape[0]
        known[inside] = self._keys[pos[inside]] == uniq[inside]
        new = np.flatnonzero(~known)
        if new.shape[0]:
            if len(self) + new.shape[0] > self.nr_pages:
                raise ValueError(
                    f"more than nr_pages={self.nr_pages} distinct pages to map "
                    f"(already {len(self)}, {new.shape[0]} new)"
                )
            order = new[np.argsort(first[new], kind="stable")]
            assigned = np.empty(uniq.shape[0], dtype=np.uint64)
            assigned[order] = np.arange(
                self.start_pfn + len(self), self.start_pfn + len(self) + order.shape[0], dtype=np.uint64
            )
            self._keys = np.insert(self._keys, pos[new], uniq[new])
            self._vals = np.insert(self._vals, pos[new], assigned[new])
            pos = np.searchsorted(self._keys, uniq)
        return self._vals[pos][inverse.reshape(-1)]
