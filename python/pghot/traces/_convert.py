"""Parse a trace once: :func:`convert` writes the ``.npy`` form a replay reads fast.

The output is the structured ``.npy`` array :mod:`pghot.traces.npy` already
reads (one record per access, fields named as the CSV columns), so
``pghot replay OUT.npy`` and ``pghot sweep`` take it with no option and no
new format to version. It keeps what a replay uses: ``time_ns``, ``pfn``
and/or ``vaddr``, and ``cpu``, ``nid``, ``src`` when the trace has them;
lackey's ``kind`` and ``size`` are dropped (no stage of a replay reads
them).

Memory stays bounded whatever the size of the trace, in one pass: the
records are written chunk by chunk (one :class:`TraceChunk`, at most
``chunk_size`` records, is held at a time) into a temporary file beside the
output, after a header slot sized for the largest count a ``.npy`` shape
can hold; the record count is known only at the end, so the header is
written into its slot last, padded with spaces to the slot's length as
numpy pads its own headers. A counting pass would parse the text twice,
and a temporary file per column would copy every byte once more; this
writes each byte once. The temporary file is renamed to the output only
when it is complete, and removed on any error (Ctrl-C included), so a
failed conversion leaves nothing behind and an existing output unchanged.

:func:`cached` keeps that form beside a trace (``TRACE.pghot.npy``), with
``TRACE.pghot.json`` recording the cache version, the source's size and
modification time and the reader options; ``pghot replay --cache`` replays
it instead of the text while they match.
"""

from __future__ import annotations

import os
import secrets
import struct
from typing import Any

import numpy as np

from pghot._output import progress as _progress_bar
from pghot.traces._chunk import _FIELD_DTYPES, TraceChunk

__all__ = ["CACHE_VERSION", "CONVERT_FIELDS", "cached", "convert"]

#: the fields :func:`convert` keeps, in the order written (those a replay reads)
CONVERT_FIELDS = ("time_ns", "pfn", "vaddr", "cpu", "nid", "src")

_MAGIC = b"\x93NUMPY\x01\x00"  # .npy format 1.0
_ALIGN = 64  # numpy aligns the data of a .npy file to 64 bytes
_MAX_COUNT = 2**63 - 1  # the header slot is sized for this count


def _dtype_of(chunk: TraceChunk) -> np.dtype:
    """The packed little-endian record type of the fields of ``chunk`` that are kept."""
    names = [n for n in CONVERT_FIELDS if getattr(chunk, n) is not None]
    return np.dtype([(n, np.dtype(_FIELD_DTYPES[n]).newbyteorder("<")) for n in names])


def _header(dtype: np.dtype, count: int, slot: int | None = None) -> bytes:
    """A .npy 1.0 header for ``count`` records of ``dtype``, padded to ``slot`` bytes.

    Without ``slot``, padded to the next multiple of 64, as numpy writes it.
    """
    from numpy.lib import format as npformat

    d = {"descr": npformat.dtype_to_descr(dtype), "fortran_order": False, "shape": (count,)}
    text = ("{" + "".join(f"'{k}': {v!r}, " for k, v in sorted(d.items())) + "}").encode("latin1")
    bare = len(_MAGIC) + 2 + len(text) + 1  # the newline ends the header
    total = -(-bare // _ALIGN) * _ALIGN if slot is None else slot
    if total < bare or total - len(_MAGIC) - 2 > 0xFFFF:
        raise AssertionError("the .npy header does not fit its slot")  # pragma: no cover
    text += b" " * (total - bare) + b"\n"
    return _MAGIC + struct.pack("<H", len(text)) + text


def _check_dst(src: str, dst: str) -> None:
    if not dst.lower().endswith(".npy"):
        raise ValueError(f"dst: {dst}: must end in .npy (so that replay reads it as a .npy trace)")
    if os.path.lexists(dst):
        if os.path.isdir(dst):
            raise ValueError(f"dst: {dst}: is a directory")
        if not os.path.isfile(dst):
            raise ValueError(f"dst: {dst}: exists and is not a regular file")
    if src == "-":
        return
    same = os.path.abspath(src) == os.path.abspath(dst)
    if not same and os.path.exists(src) and os.path.exists(dst):
        same = os.path.samefile(src, dst)
    if same:
        raise ValueError(f"dst: {dst}: is the trace itself; choose another output file")


def _create_temp(dst: str) -> tuple[str, int]:
    """A new file beside ``dst`` (mode 0666 less the umask), its path and descriptor."""
    folder, name = os.path.split(os.path.abspath(dst))
    while True:
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.part")
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:  # pragma: no cover - a 32-bit name collision
            continue


_open_fd = os.fdopen  # the tests fill the disk here


class _Output:
    """The temporary file being written; an OS error names ``dst`` (e.g. a full disk)."""

    def __init__(self, fd: int, dst: str) -> None:
        self._f = _open_fd(fd, "wb")
        self._dst = dst

    def write(self, data: Any) -> None:
        try:
            self._f.write(data)
        except OSError as e:
            raise OSError(e.errno, e.strerror, self._dst) from None

    def finish(self, header: bytes) -> None:
        """Write the header into its slot and make the file durable before it is renamed."""
        try:
            self._f.seek(0)
            self._f.write(header)
            self._f.flush()
            os.fsync(self._f.fileno())
        except OSError as e:
            raise OSError(e.errno, e.strerror, self._dst) from None

    def __enter__(self) -> _Output:
        return self

    def __exit__(self, *exc: object) -> None:
        self._f.close()


def convert(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    format: str | None = None,
    *,
    progress: bool = False,
    **open_options: Any,
) -> dict[str, Any]:
    """Parse the trace ``src`` once and write its records to ``dst`` as a ``.npy`` trace.

    The output is the structured ``.npy`` array that :func:`open_trace` reads
    (format ``"npy"``), so ``pghot replay`` and ``pghot sweep`` take it as
    they take the text, and a replay of it gives the same result as a replay
    of ``src`` read with the same options. It holds ``time_ns``, ``pfn``
    and/or ``vaddr``, and ``cpu``, ``nid`` and ``src`` when the trace has
    them (lackey's ``kind`` and ``size`` are not kept). Memory stays bounded:
    one chunk is held at a time. ``dst`` is written to a temporary file
    beside it, renamed into place when complete; after an error nothing new
    is left and an existing ``dst`` is unchanged.

    Parameters
    ----------
    src : path-like
        The trace, any format :func:`open_trace` reads (``"-"``: standard input).
    dst : path-like
        The output; must end in ``.npy`` and must not be ``src``.
    format : str, optional
        The format of ``src`` (default: detected).
    progress : bool, optional
        A progress bar on stderr (default False).
    **open_options
        Passed to :func:`open_trace`: ``skip_bad``, ``ns_per_instr``,
        ``page_size``, ``cpu_to_node``, ``chunk_size``, ... The options that
        shape the records (``ns_per_instr``, ``page_size`` for perf's PFNs,
        ``cpu_to_node``) are applied now, once: a replay of ``dst`` uses
        the values it was converted with.

    Returns
    -------
    dict
        ``trace``, ``format``, ``output``, ``records``, ``fields`` (the
        fields written), ``bytes`` (the size of ``dst``), ``counters``
        (the reader's :attr:`TraceReader.counters`) and ``first_bad`` (its
        :attr:`TraceReader.first_bad`).

    Raises
    ------
    FileNotFoundError
        ``src`` does not exist.
    PermissionError
        ``dst``'s folder cannot be written.
    TypeError, ValueError
        Bad arguments (``dst`` not ``.npy``, a directory, or ``src`` itself),
        a bad trace, or a trace without records.

    Examples
    --------
    >>> import os, pathlib, tempfile
    >>> from pghot.traces import convert, open_trace
    >>> d = tempfile.mkdtemp()
    >>> src, dst = os.path.join(d, "t.csv"), os.path.join(d, "t.npy")
    >>> _ = pathlib.Path(src).write_text("vaddr,time_us,nid\\n0x1000,0,0\\n0x2000,5,1\\n")
    >>> info = convert(src, dst)
    >>> info["records"], info["fields"]
    (2, ['time_ns', 'vaddr', 'nid'])
    >>> with open_trace(dst) as r:
    ...     c = next(iter(r))
    >>> c.time_ns.tolist(), [hex(a) for a in c.vaddr], c.nid.tolist()
    ([0, 5000], ['0x1000', '0x2000'], [0, 1])
    """
    from pghot.traces import open_trace

    s, d = os.fspath(src), os.fspath(dst)
    if not isinstance(s, str) or not isinstance(d, str):
        raise TypeError("src and dst must be str paths, not bytes")
    _check_dst(s, d)
    reader = open_trace(s, format, **open_options)  # checks every option, opens the trace
    tmp: str | None = None
    try:
        try:
            tmp, fd = _create_temp(d)
        except OSError as e:  # name the output, not the temporary file
            raise OSError(e.errno, e.strerror, d) from None
        with (
            _Output(fd, d) as f,
            reader,
            _progress_bar(None, enabled=progress, desc="converting", unit="rec") as bar,
        ):
            dtype: np.dtype | None = None
            slot = 0
            count = 0
            for chunk in reader:
                if dtype is None:
                    dtype = _dtype_of(chunk)
                    slot = len(_header(dtype, _MAX_COUNT))
                    f.write(b"\0" * slot)
                elif _dtype_of(chunk) != dtype:
                    raise ValueError(
                        f"{s}: records {count}...: fields {list(_dtype_of(chunk).names or ())} "
                        f"differ from the first records' {list(dtype.names or ())}"
                    )
                rec = np.empty(len(chunk), dtype=dtype)
                for name in dtype.names or ():
                    rec[name] = getattr(chunk, name)
                f.write(rec.view(np.uint8).data)
                count += len(chunk)
                bar.update(len(chunk))
            if dtype is None:
                raise ValueError(f"{s}: no records to convert")
            f.finish(_header(dtype, count, slot))
        os.replace(tmp, d)
        tmp = None
    finally:
        reader.close()
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return {
        "trace": s,
        "format": reader.format,
        "output": d,
        "records": count,
        "fields": list(dtype.names or ()),
        "bytes": os.path.getsize(d),
        "counters": reader.counters,
        "first_bad": list(reader.first_bad),
    }


#: version of the cache's record of what it was made from (``TRACE.pghot.json``)
CACHE_VERSION = 1


def _cache_key(src: str, fmt: str | None, open_options: dict[str, Any]) -> dict[str, Any]:
    st = os.stat(src)
    options = {
        k: (v if isinstance(v, (bool, int, float, str)) or v is None else repr(v))
        for k, v in open_options.items()
    }
    return {
        "pghot_cache_version": CACHE_VERSION,
        "source_size": st.st_size,
        "source_mtime_ns": st.st_mtime_ns,
        "format": fmt,
        "options": dict(sorted(options.items())),
    }


def cached(
    src: str | os.PathLike[str],
    format: str | None = None,
    *,
    progress: bool = False,
    **open_options: Any,
) -> str:
    """The path of an up-to-date ``.npy`` form of the trace ``src``, kept beside it.

    The cache is ``SRC.pghot.npy`` (what :func:`convert` writes) with
    ``SRC.pghot.json`` recording what it was made from: the cache version
    (:data:`CACHE_VERSION`), the source's size and modification time (ns),
    the format and the reader options, and what reading it found (the
    reader's counters: :func:`cache_reading`). It is (re)written when either file
    is missing, unreadable, of another version, or does not match the
    source and the options, or the ``.npy`` is not the one recorded;
    otherwise it is used as it is, and nothing is parsed.

    Parameters
    ----------
    src : path-like
        A trace file (not standard input).
    format, progress, **open_options
        As for :func:`convert`.

    Returns
    -------
    str
        The path of the ``.npy`` cache.

    Examples
    --------
    >>> import os, pathlib, tempfile
    >>> from pghot.traces import cached
    >>> src = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> _ = pathlib.Path(src).write_text("pfn,time\\n1,10\\n2,20\\n")
    >>> path = cached(src)
    >>> os.path.basename(path), cached(src) == path
    ('t.csv.pghot.npy', True)
    """
    import json

    s = os.fspath(src)
    if not isinstance(s, str):
        raise TypeError("src must be a str path, not bytes")
    if s == "-":
        raise ValueError("src: a cache needs a trace file, not standard input")
    if not os.path.isfile(s):
        os.stat(s)  # FileNotFoundError
        raise ValueError(f"src: {s}: a cache needs a regular trace file")
    npy, record = s + ".pghot.npy", s + ".pghot.json"
    key = _cache_key(s, format, open_options)
    try:
        with open(record, encoding="utf-8") as f:
            known = json.load(f)
        st = os.stat(npy)
        if (
            isinstance(known, dict)
            and known.get("key") == key
            and known.get("npy_size") == st.st_size
            and known.get("npy_mtime_ns") == st.st_mtime_ns
        ):
            return npy
    except (OSError, ValueError):
        pass  # missing, unreadable or not JSON: written afresh
    info = convert(s, npy, format, progress=progress, **open_options)
    reading = {"format": info["format"], **info["counters"], "first_bad": info["first_bad"]}
    if _cache_key(s, format, open_options) != key:  # the trace changed while it was read
        raise ValueError(f"src: {s}: changed while it was being converted; try again")
    st = os.stat(npy)
    tmp, fd = _create_temp(record)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(
                {"key": key, "npy_size": st.st_size, "npy_mtime_ns": st.st_mtime_ns, "reading": reading}, f
            )
        os.replace(tmp, record)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return npy


def cache_reading(src: str | os.PathLike[str]) -> dict[str, Any] | None:
    """What parsing ``src`` into its cache found: the format, the reader's counters, ``first_bad``.

    The record :func:`cached` kept beside ``src`` (``SRC.pghot.json``), so
    that a replay of the cache still says what the parse skipped or dropped;
    None without one (or one written before it kept them).

    Examples
    --------
    >>> import os, pathlib, tempfile
    >>> from pghot.traces import cached
    >>> src = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> _ = pathlib.Path(src).write_text("pfn,time\\n1,10\\noops\\n2,20\\n")
    >>> _ = cached(src, skip_bad=True)
    >>> r = cache_reading(src); r["format"], r["records"], r["bad_lines"], r["first_bad"][0][0]
    ('csv', 2, 1, 3)
    """
    import json

    try:
        with open(os.fspath(src) + ".pghot.json", encoding="utf-8") as f:
            known = json.load(f)
    except (OSError, ValueError):
        return None
    reading = known.get("reading") if isinstance(known, dict) else None
    return reading if isinstance(reading, dict) else None
