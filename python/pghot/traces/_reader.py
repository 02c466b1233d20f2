"""The reader every format shares: counters, bad-line policy, text blocks, chunking.

A :class:`TraceReader` holds the options of :func:`pghot.traces.open_trace`
and the counters; the format modules (:mod:`~pghot.traces.lackey`,
:mod:`~pghot.traces.perf`, :mod:`~pghot.traces.csv`,
:mod:`~pghot.traces.npy`, :mod:`~pghot.traces.damo`) are functions of a
reader that yield pieces of any size, which the reader regroups into chunks
of ``chunk_size`` records. Text formats read whole lines through
:meth:`TraceReader._blocks`, which caps the length of a line, and report
malformed lines through :meth:`TraceReader._bad`.
"""

from __future__ import annotations

import lzma
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import IO

import numpy as np

from pghot._types import NUMA_NO_NODE
from pghot.traces import csv, damo, lackey, npy, perf
from pghot.traces._chunk import TraceChunk
from pghot.traces._io import Input
from pghot.traces.damo import DAMO_MAX_JSON_BYTES, DAMO_MAX_REGION_PAGES, DAMO_MAX_SNAPSHOT_ACCESSES

__all__ = ["FORMATS", "MAX_LINE_BYTES", "TraceReader"]

#: The reader of each format: a function of the reader yielding pieces of chunks.
READERS: dict[str, Callable[[TraceReader], Iterator[TraceChunk]]] = {
    "lackey": lackey.chunks,
    "perf": perf.chunks,
    "csv": csv.chunks,
    "npy": npy.npy_chunks,
    "npz": npy.npz_chunks,
    "damo": damo.chunks,
}
#: Formats :func:`open_trace` reads.
FORMATS = tuple(READERS)
#: Default cap on the length of one text line, newline excluded.
MAX_LINE_BYTES = 4096

_BLOCK_BYTES = 1 << 22  # text is read in blocks of 4 MiB
_WRONG_FORMAT_LINES = 1000  # this many bad lines and no good one: wrong format


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
        perf samples dropped because ``phys_addr`` was 0 (none with
        ``keep_unmapped`` or ``perf_space="vaddr"``).
    unknown_cpu : int
        Records whose CPU is not in ``cpu_to_node`` (their ``nid`` is -1).
    unmapped_kept : int
        perf samples whose ``phys_addr`` was 0, kept as PFN 0
        (``keep_unmapped=True``).
    first_bad : list of (int, str)
        Line number and reason of the first few skipped lines.

    Examples
    --------
    >>> import tempfile, os, pathlib
    >>> from pghot.traces import open_trace
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
        source: Input,
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
        perf_space: str = "paddr",
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
        self.unmapped_kept = 0
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
        self._perf_space = perf_space
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
        >>> from pghot.traces import open_trace
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
            "unmapped_kept": self.unmapped_kept,
        }

    def __iter__(self) -> Iterator[TraceChunk]:
        if self._iter is not None:
            raise RuntimeError(f"{self.path}: a TraceReader can be iterated only once")
        self._iter = self._generate()
        return self._iter

    def close(self) -> None:
        """Close the underlying file (idempotent).

        >>> import tempfile, os, pathlib
        >>> from pghot.traces import open_trace
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
        parts = READERS[self.format](self)
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

    def _nids_of(self, cpu: np.ndarray) -> np.ndarray | None:
        table = self._cpu_to_node
        if table is None:
            return None
        inside = (cpu >= 0) & (cpu < table.shape[0])
        nid = np.full(cpu.shape[0], NUMA_NO_NODE, dtype=np.int32)
        nid[inside] = table[cpu[inside]]
        self.unknown_cpu += int(np.count_nonzero(nid == NUMA_NO_NODE))
        return nid
