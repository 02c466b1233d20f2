"""Where a trace's bytes come from: a file, a pipe or standard input, compressed or not.

gzip, bzip2 and xz are told by their magic bytes and undone by a wrapper.
A regular file is opened afresh for each pass; a one-pass stream (standard
input, a pipe, a FIFO, a device) is opened once and its head kept, so that
format detection can look at it and the reader read it again.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import stat
import sys
import zlib
from collections.abc import Sequence
from typing import IO, Any


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


class Input:
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
