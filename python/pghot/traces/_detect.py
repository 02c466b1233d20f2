"""Which format a trace is: from its file name, else from its first bytes."""

from __future__ import annotations

import os
import zlib

from pghot.traces._io import Input
from pghot.traces._reader import FORMATS
from pghot.traces.lackey import LACKEY_RE, VALGRIND_RE
from pghot.traces.perf import PERF_RE

__all__ = ["SNIFF_BYTES", "detect_format", "format_by_head", "format_by_name"]

SNIFF_BYTES = 1 << 16  # format detection and the binary-data check look this far


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
    fmt = format_by_name(p)
    if fmt is not None:
        return fmt
    source = Input(p)
    try:
        return format_by_head(p, source.head(SNIFF_BYTES))
    finally:
        source.close()


def format_by_name(path: str) -> str | None:
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


def format_by_head(p: str, head: bytes) -> str:
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
    if stripped[:1] in (b"[", b"{") and not PERF_RE.match(stripped.split(b"\n", 1)[0] + b"\n"):
        return "damo"
    lines = [ln for ln in head.split(b"\n")[:50] if ln.strip() and not ln.startswith(b"#")]
    if len(head) == SNIFF_BYTES and lines and not head.endswith(b"\n"):
        lines = lines[:-1]  # the last line may be cut
    for line in lines:
        if VALGRIND_RE.match(line) or LACKEY_RE.match(line):
            return "lackey"
        if PERF_RE.match(line + b"\n"):
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
