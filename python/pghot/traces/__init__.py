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
    are dropped and counted (``no_phys_addr``; a replay's notes and
    ``trace["reading"]`` say how many) unless ``keep_unmapped=True`` (kept
    as PFN 0, all on one page, counted in ``unmapped_kept``). ``perf_space="vaddr"`` keys every sample by
    its virtual address ``addr`` instead (``pfn`` left out): nothing is
    dropped, at the cost of the processes' address spaces not being told
    apart.
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

:func:`convert` parses a trace once and writes its records as a ``.npy``
trace (``pghot convert TRACE OUT.npy``), which replays and sweeps then read
without parsing text again; :func:`cached` keeps that form beside the trace
while the trace is unchanged (``pghot replay --cache``).

Each format has its module (:mod:`~pghot.traces.lackey`,
:mod:`~pghot.traces.perf`, :mod:`~pghot.traces.csv`, :mod:`~pghot.traces.npy`
for ``.npy`` and ``.npz``, :mod:`~pghot.traces.damo`); what they share is in
the private modules: the chunk (``_chunk``), the conversion to ``.npy``
(``_convert``), the reader with its counters, bad-line policy and capped
line reader (``_reader``), the opening of files,
compressed files and streams (``_io``), format detection (``_detect``), the
CSV/numpy columns (``_columns``) and the page mapper (``_mapper``).
"""

from __future__ import annotations

import operator
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pghot._types import NUMA_NO_NODE
from pghot._validate import int_in
from pghot.traces._chunk import AccessKind, TraceChunk, check_page_size
from pghot.traces._convert import CACHE_VERSION, CONVERT_FIELDS, cache_reading, cached, convert
from pghot.traces._detect import SNIFF_BYTES, detect_format, format_by_head, format_by_name
from pghot.traces._io import Input
from pghot.traces._mapper import PageMapper
from pghot.traces._reader import FORMATS, MAX_LINE_BYTES, TraceReader
from pghot.traces.damo import DAMO_MAX_JSON_BYTES, DAMO_MAX_REGION_PAGES, DAMO_MAX_SNAPSHOT_ACCESSES

__all__ = [
    "AccessKind",
    "CACHE_VERSION",
    "CONVERT_FIELDS",
    "DAMO_MAX_JSON_BYTES",
    "DAMO_MAX_REGION_PAGES",
    "DAMO_MAX_SNAPSHOT_ACCESSES",
    "FORMATS",
    "MAX_LINE_BYTES",
    "PageMapper",
    "TraceChunk",
    "TraceReader",
    "cache_reading",
    "cached",
    "convert",
    "cpu_to_node_from_sysfs",
    "detect_format",
    "open_trace",
]


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
    perf_space: str = "paddr",
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
        perf: keep samples whose ``phys_addr`` is 0 (PFN 0, counted in
        ``unmapped_kept``) instead of dropping them.
    perf_columns : sequence of str, optional
        perf: names of the hex columns after the time, among ``"addr"`` and
        ``"phys_addr"``; default ``("addr", "phys_addr")`` with two columns,
        ``("addr",)`` with one. Pass ``("phys_addr",)`` for
        ``-F time,cpu,phys_addr``.
    perf_space : {"paddr", "vaddr"}, optional
        perf: ``"paddr"`` (default) gives each sample the PFN of its
        ``phys_addr`` when that column is present (samples with
        ``phys_addr`` 0 are dropped and counted in ``no_phys_addr``, see
        ``keep_unmapped``); ``"vaddr"`` keys every sample by its virtual
        address (``addr``) and leaves ``phys_addr`` out, dropping none. It
        needs the ``addr`` column.
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
    page = check_page_size(page_size)
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
    if perf_space not in ("paddr", "vaddr"):
        raise ValueError(f"perf_space must be 'paddr' or 'vaddr', got {perf_space!r}")
    if perf_space == "vaddr" and cols is not None and "addr" not in cols:
        raise ValueError(f"perf_space='vaddr' needs the addr column, perf_columns is {perf_columns!r}")
    if damo_space not in ("vaddr", "paddr"):
        raise ValueError(f"damo_space must be 'vaddr' or 'paddr', got {damo_space!r}")
    json_cap = _limit(max_json_bytes, "max_json_bytes")
    region_cap = _limit(max_region_pages, "max_region_pages")
    snapshot_cap = _limit(max_snapshot_accesses, "max_snapshot_accesses")
    table = _cpu_table(cpu_to_node)

    # Every argument is checked: only now is the trace opened (a stream is
    # opened here once, and its head kept for the reader).
    source = Input(p)
    try:
        fmt = format if format is not None else format_by_name(p)
        if fmt is None:
            fmt = format_by_head(p, source.head(SNIFF_BYTES))
        if fmt in ("lackey", "perf", "csv"):
            nul = source.head(SNIFF_BYTES).find(b"\0")
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
        perf_space=perf_space,
        damo_space=damo_space,
        max_json_bytes=json_cap,
        max_region_pages=region_cap,
        max_snapshot_accesses=snapshot_cap,
    )


def _limit(value: Any, name: str) -> int:
    """A positive int option of :func:`open_trace`; TypeError/ValueError naming it."""
    return int_in(value, name, 1, None)
