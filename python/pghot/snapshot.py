"""Snapshot files: writing and reading a tracker's state, safe against hostile files.

A snapshot is an uncompressed ``.npz`` (a zip archive of ``.npy`` members, as
:func:`numpy.savez` writes it) holding the dict of arrays that
``pghot._core.Tracker._state()`` exports, snapshot format version 1.  This
module does all the file I/O; the compiled core only exports and imports the
dict.  The core does not import this module: this module binds itself into
the core when it is imported (``pghot._base._bind_snapshot_io``), and
``Tracker.save``/``Tracker.load``/unpickling call :func:`save`, :func:`load`
and :func:`check_geometry` through that binding.

:func:`save` writes atomically.  :func:`load_state` and :func:`load` read a
file that may have been written by anyone: whatever its bytes, they raise only
``ValueError`` with a message that starts with the path (``FileNotFoundError``
and ``PermissionError`` from opening it pass through), and what they cost is
bounded *before* anything is allocated or decompressed:

- the path must be a regular file (a FIFO, a directory or a device is refused
  without being read, so nothing blocks), of at most ``max_bytes`` bytes;
- the zip's end record and central directory are checked by hand before
  :class:`zipfile.ZipFile` parses them (no comment, a central directory of at
  most 64 KiB, at most one entry per member);
- every member is one of :data:`MEMBERS`, once, ``STORED`` (what :func:`save`
  writes) or ``DEFLATED``, unencrypted, and the uncompressed sizes add up to at
  most ``max_bytes``; a deflated member may not claim more than deflate can
  produce from its compressed size;
- every ``.npy`` header is parsed here, not by numpy: bounded length, a dict
  read with :func:`ast.literal_eval` (any parse error is caught), a dtype from
  a short allowlist (never ``object``), a shape of non-negative ints whose
  byte count equals the member's payload exactly, so a header claiming 2**40
  elements is refused before anything is allocated;
- the JSON members (config, topology) are size-bounded and parsed with
  recursion errors caught, and :func:`check_geometry` checks the config and
  the topology against every member's header (and the memory of the tracker
  they describe against ``max_bytes``) before any array is read.

Only then are the arrays read, each straight into a buffer of its checked size.

Examples
--------
>>> import os, tempfile
>>> from pghot import Topology, Tracker, snapshot
>>> t = Tracker(Topology.two_tier(1024, 4096), capacity=100)
>>> _ = t.record_access(2000, -1, 0, 5)
>>> path = os.path.join(tempfile.mkdtemp(), "t.npz")
>>> snapshot.save(t._state(), path)
>>> config, topology, state = snapshot.load(path)
>>> config["capacity"], topology == t.topology, int(state["counters"][5])
(100, True, 1)
"""

from __future__ import annotations

import ast
import io
import json
import math
import os
import re
import stat
import struct
import sys
import tempfile
import threading
import tokenize
import zipfile
import zlib
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from pghot import _base, _core
from pghot._validate import ms_to_jiffies
from pghot.topology import Node, Topology

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_NODES",
    "MEMBERS",
    "MemberHeader",
    "check_geometry",
    "load",
    "load_state",
    "parse_npy_header",
    "save",
]

#: The arrays of a snapshot (format version 1), each stored as ``NAME.npy``.
MEMBERS: tuple[str, ...] = (
    "format",
    "version",
    "store",
    "config",
    "topology",
    "rec_pfn",
    "rec_word",
    "shard_counters",
    "counters",
    "queue_slots",
    "queue_keys",
    "queue_sizes",
    "unmovable",
)

#: Default bound on what one load may cost: the file, its arrays once
#: uncompressed, and the memory of the tracker it describes must each fit.
#: 1 GiB holds the snapshot of a tracker of about 2**26 records; pass
#: ``max_bytes=`` to read bigger ones.
DEFAULT_MAX_BYTES = 1 << 30

#: Most nodes a snapshot's topology may have (Linux allows at most 1024).
MAX_NODES = 4096

# The text members: 0-d unicode arrays; bound on their payload in bytes
# (4 per character).  A topology of MAX_NODES nodes takes about 1.2 MB.
_TEXT_LIMITS = {"format": 1024, "store": 1024, "config": 1 << 20, "topology": 8 << 20}
# The other members: (dtype, ndim).  "version" is any integer scalar.
_ARRAY_SPECS: dict[str, tuple[np.dtype[Any], int]] = {
    "rec_pfn": (np.dtype(np.uint64), 1),
    "rec_word": (np.dtype(np.uint32), 1),
    "shard_counters": (np.dtype(np.uint64), 2),
    "counters": (np.dtype(np.uint64), 1),
    "queue_slots": (np.dtype(np.uint32), 1),
    "queue_keys": (np.dtype(np.uint32), 1),
    "queue_sizes": (np.dtype(np.uint64), 1),
    "unmovable": (np.dtype(np.uint64), 1),
}
_CONFIG_KEYS = frozenset(
    (
        "hz",
        "freq_window_ms",
        "threshold",
        "freq_bits",
        "nid_bits",
        "time_bits",
        "capacity",
        "queue_capacity",
        "queue",
        "evict_stale",
    )
)
_QUEUE_NAMES = ("binary", "quaternary", "bucket")
_NCOUNTERS = 6  # per-source counts, top tier, not movable, population
_SHARD_COUNTERS = 8  # per shard: nr, created, recorded, ..., evicted

_NPY_MAGIC = b"\x93NUMPY"
_MAX_NPY_HEADER = 10000  # numpy's own default bound on a header
# The dtypes a member may have: integers and unicode, either byte order
# (never object, void or structured dtypes).
_DESCR = re.compile(r"[<>|=]?(?:[iu][1248]|U[1-9][0-9]{0,8})")

_EOCD = struct.Struct("<4s4H2LH")  # end of central directory, 22 bytes
_ZIP64_LOCATOR = struct.Struct("<4sLQL")  # 20 bytes
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")  # 56 bytes
_MAX_CENTRAL_DIRECTORY = 64 << 10
_ALLOWED_FLAGS = 0x080E  # deflate options (bits 1-2), data descriptor (3), UTF-8 names (11)
_DEFLATE_MAX_RATIO = 1032  # the most deflate can expand: 258 bytes per 2 bits
_CHUNK = 1 << 20  # read members by MiB

_umask_lock = threading.Lock()


class MemberHeader(NamedTuple):
    """What a member's ``.npy`` header says: enough for :func:`check_geometry`.

    Attributes
    ----------
    shape : tuple of int
    dtype : numpy.dtype
    fortran_order : bool
    offset : int
        Bytes of the member before the data (magic, version, header).

    Examples
    --------
    >>> MemberHeader((3,), np.dtype("<u8"), False, 128).shape
    (3,)
    """

    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    fortran_order: bool
    offset: int


# --------------------------------------------------------------------- save


def save(state: Mapping[str, npt.NDArray[Any]], path: str | os.PathLike[str]) -> None:
    """Write a tracker's state (``Tracker._state()``) to ``path`` atomically.

    The arrays go to a temporary file in the directory of ``path``, which is
    flushed, fsynced and renamed over ``path`` (:func:`os.replace`); on any
    failure the temporary file is removed and ``path`` is left as it was.
    The file is a plain uncompressed ``.npz``.

    ``path`` is replaced, not written through: if it is a symbolic link,
    the link is replaced by a regular file and its target is untouched.
    The new file's permissions are those of the regular file it replaces,
    if any; otherwise those a new file gets from :func:`open` (``0o666``
    minus the umask), not the ``0o600`` of the temporary file.

    Parameters
    ----------
    state : dict of numpy.ndarray
        Exactly the :data:`MEMBERS`; no object arrays.
    path : str or os.PathLike

    Raises
    ------
    ValueError
        ``state`` has other keys than :data:`MEMBERS`, or an object array.
    OSError
        The directory cannot be written, the disk is full, ...

    Examples
    --------
    >>> import os, tempfile
    >>> from pghot import Topology, Tracker, snapshot
    >>> t = Tracker(Topology.two_tier(1024, 4096), capacity=100)
    >>> path = os.path.join(tempfile.mkdtemp(), "t.npz")
    >>> snapshot.save(t._state(), path)
    >>> sorted(snapshot.load_state(path)) == sorted(snapshot.MEMBERS)
    True
    """
    path = os.fspath(path)
    if set(state) != set(MEMBERS):
        raise ValueError(f"state must hold exactly the snapshot members {list(MEMBERS)}, got {sorted(state)}")
    arrays = {name: np.asarray(state[name]) for name in MEMBERS}
    for name, a in arrays.items():
        if a.dtype.hasobject:
            raise ValueError(f"state[{name!r}] is an object array, which a snapshot cannot hold")
    mode = _mode_for(path)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".pghot-", suffix=".npz.tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)
            savez: Any = np.savez  # (its stub types **arrays as allow_pickle)
            savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _mode_for(path: str) -> int:
    """Permission bits for a new file at ``path``: those of the regular file
    it replaces, else ``0o666`` minus the umask."""
    try:
        st = os.lstat(path)
    except OSError:
        st = None
    if st is not None and stat.S_ISREG(st.st_mode):
        return stat.S_IMODE(st.st_mode)
    return 0o666 & ~_umask()


def _umask() -> int:
    """The process umask, read without changing it where the OS allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    # Elsewhere: set and restore it.  Meanwhile other threads creating files
    # get the stricter 0o077, never a looser mask.
    with _umask_lock:
        old = os.umask(0o077)
        os.umask(old)
    return old


# --------------------------------------------------------------------- load


def load_state(
    path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES
) -> dict[str, npt.NDArray[Any]]:
    """Read and fully validate a snapshot file; return its dict of arrays.

    Every check of the module docstring is made, including
    :func:`check_geometry`, before any array is read.  The arrays equal what
    :func:`numpy.load` would return for a valid file (native byte order,
    writable).

    Parameters
    ----------
    path : str or os.PathLike
    max_bytes : int, default DEFAULT_MAX_BYTES
        Bound on the file's size, on its arrays' total uncompressed size and
        on the memory of the tracker it describes.

    Returns
    -------
    dict of numpy.ndarray
        One entry per name of :data:`MEMBERS`.

    Raises
    ------
    ValueError
        The file is not a valid snapshot (of this format version) or costs
        more than ``max_bytes``; the message starts with ``path``.
    FileNotFoundError, PermissionError
        ``path`` cannot be opened.

    Examples
    --------
    >>> import os, tempfile
    >>> from pghot import Topology, Tracker, snapshot
    >>> path = os.path.join(tempfile.mkdtemp(), "t.npz")
    >>> Tracker(Topology.two_tier(1024, 4096), capacity=100).save(path)
    >>> snapshot.load_state(path)["rec_pfn"].shape
    (117,)
    >>> with open(path, "r+b") as f:
    ...     _ = f.truncate(1000)
    >>> snapshot.load_state(path)                        # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: .../t.npz: not a zip archive ending with an end-of-central-directory record ...
    """
    return load(path, max_bytes=max_bytes)[2]


def load(
    path: str | os.PathLike[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> tuple[dict[str, Any], Topology, dict[str, npt.NDArray[Any]]]:
    """Read a snapshot: the tracker's keyword arguments, topology and state.

    Like :func:`load_state`, with the config and topology parsed and checked:
    ``Tracker(topology, **config)`` builds a tracker of the geometry of the
    arrays (its table and queues within ``max_bytes``), ready for
    ``_restore(state)``.

    Returns
    -------
    config : dict
        The ``Tracker`` keyword arguments (``capacity``, ``queue``, ...).
    topology : pghot.Topology
    state : dict of numpy.ndarray

    Raises
    ------
    ValueError
        As :func:`load_state`.

    Examples
    --------
    >>> import os, tempfile
    >>> from pghot import Topology, Tracker, snapshot
    >>> path = os.path.join(tempfile.mkdtemp(), "t.npz")
    >>> Tracker(Topology.two_tier(1024, 4096), capacity=100, queue="bucket").save(path)
    >>> config, topology, state = snapshot.load(path)
    >>> config["queue"], topology.lower_pages(), state["unmovable"].shape
    ('bucket', 4096, (64,))
    >>> t = Tracker(topology, **config)
    >>> t._restore(state)
    """
    name = os.fsdecode(os.fspath(path))
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0:
        raise ValueError(f"max_bytes must be a positive int, got {max_bytes!r}")
    fd = _open_regular(path, name)
    with os.fdopen(fd, "rb") as f:
        try:
            return _read(f, max_bytes)
        except ValueError as e:
            raise ValueError(f"{name}: {e}") from None
        except (
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
            EOFError,
            OSError,
            zlib.error,
            struct.error,
            RuntimeError,
            NotImplementedError,
            KeyError,
            IndexError,
            TypeError,
            OverflowError,
            MemoryError,
            SyntaxError,
            tokenize.TokenError,
        ) as e:
            # zipfile raises RuntimeError for an "encrypted" flag and
            # NotImplementedError for an unknown method (both refused before
            # it could), BadZipFile for a CRC or name mismatch, EOFError when
            # the data ends early; the rest is defence in depth.
            raise ValueError(f"{name}: not a readable pghot snapshot ({type(e).__name__}: {e})") from None


def _open_regular(path: str | os.PathLike[str], name: str) -> int:
    """A read-only descriptor of ``path``, ValueError unless a regular file.

    The path is checked before it is opened (a device is never opened), and
    the descriptor after (the path may have changed in between); the open
    is non-blocking, so even a FIFO swapped in between cannot hang it.
    """
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )

    def refuse(mode: int) -> ValueError:
        kind = next((k for test, k in kinds if test(mode)), "not a regular file")
        return ValueError(f"{name}: is {kind}, not a snapshot file")

    st = os.stat(path)  # FileNotFoundError passes
    if not stat.S_ISREG(st.st_mode):
        raise refuse(st.st_mode)
    flags = (
        os.O_RDONLY
        | getattr(os, "O_NONBLOCK", 0)
        | getattr(os, "O_NOCTTY", 0)
        | getattr(os, "O_CLOEXEC", 0)
        | getattr(os, "O_BINARY", 0)
    )
    try:
        fd = os.open(path, flags)
    except IsADirectoryError:
        raise refuse(stat.S_IFDIR) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise refuse(st.st_mode)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)  # plain blocking reads from here on
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read(
    f: io.BufferedReader,
    max_bytes: int,
) -> tuple[dict[str, Any], Topology, dict[str, npt.NDArray[Any]]]:
    """The body of :func:`load`; errors without the path."""
    size = os.fstat(f.fileno()).st_size
    if size > max_bytes:
        raise ValueError(f"the file has {size} bytes, more than max_bytes={max_bytes}")
    _check_end_records(f, size)
    with zipfile.ZipFile(f) as zf:
        infos = _check_members(zf, size, max_bytes)
        # each member's header, and the whole of the small ones
        prefixes = {name: _read_prefix(zf, infos[name]) for name in MEMBERS}
        headers = {name: _header(name, infos[name], prefixes[name]) for name in MEMBERS}
        for name in MEMBERS:
            _check_member_kind(name, headers[name])
        # the small members first: what the file claims to be
        state: dict[str, npt.NDArray[Any]] = {}
        for name in ("format", "version", "store", "config", "topology"):
            state[name] = _read_array(zf, infos[name], headers[name], prefixes[name])
        if _text(state["format"], "format") != "pghot-tracker":
            raise ValueError(
                f"not a pghot tracker snapshot (format member is {_text(state['format'], 'format')[:40]!r})"
            )
        version = int(state["version"][()])
        if version != _core.SNAPSHOT_VERSION:
            raise ValueError(
                f"snapshot format version {version}, this pghot reads version {_core.SNAPSHOT_VERSION}"
            )
        store = _text(state["store"], "store")
        if store != "hash":
            raise ValueError(f'a snapshot of store {store[:40]!r}: only "hash" trackers are read')
        config = _json(state["config"], "config")
        topology_json = _json(state["topology"], "topology")
        # ... then the geometry they claim against every header, and only
        # then the arrays, each of a size checked against the config
        topology = check_geometry(config, topology_json, headers, max_bytes=max_bytes)
        for name in _ARRAY_SPECS:
            state[name] = _read_array(zf, infos[name], headers[name], prefixes[name])
    return config, topology, {name: state[name] for name in MEMBERS}


def _check_end_records(f: io.BufferedReader, size: int) -> None:
    """Check the zip end records before :class:`zipfile.ZipFile` reads them.

    The end-of-central-directory record must end the file (no comment, as
    numpy writes it), so that this check and zipfile read the same record;
    if a zip64 locator precedes it, the zip64 record must be where zipfile
    looks for it.  The central directory this points to (all that
    ``ZipFile()`` reads and keeps) must be at most 64 KiB.
    """
    bad = "not a zip archive ending with an end-of-central-directory record"
    if size < _EOCD.size:
        raise ValueError(f"{bad} (only {size} bytes)")
    f.seek(size - _EOCD.size)
    sig, disk, cd_disk, _, entries, cd_size, cd_offset, comment = _EOCD.unpack(f.read(_EOCD.size))
    if sig != b"PK\x05\x06" or comment != 0:
        raise ValueError(f"{bad} (truncated, or another kind of file)")
    at = size - _EOCD.size - _ZIP64_LOCATOR.size
    if at >= 0:
        f.seek(at)
        lsig, ldisk, record_at, disks = _ZIP64_LOCATOR.unpack(f.read(_ZIP64_LOCATOR.size))
        if lsig == b"PK\x06\x07":
            if ldisk != 0 or disks > 1 or record_at != at - _ZIP64_EOCD.size:
                raise ValueError("corrupt zip64 end-of-central-directory locator")
            f.seek(record_at)
            (zsig, _, _, _, disk, cd_disk, _, entries, cd_size, cd_offset) = _ZIP64_EOCD.unpack(
                f.read(_ZIP64_EOCD.size)
            )
            if zsig != b"PK\x06\x06":
                raise ValueError("corrupt zip64 end-of-central-directory record")
    if disk != 0 or cd_disk != 0:
        raise ValueError("a multi-disk zip archive")
    if entries > len(MEMBERS) or cd_size > _MAX_CENTRAL_DIRECTORY or cd_size + cd_offset > size:
        raise ValueError(
            f"zip central directory of {entries} entries and {cd_size} bytes at "
            f"offset {cd_offset}: not a snapshot's"
        )
    f.seek(0)


def _check_members(zf: zipfile.ZipFile, size: int, max_bytes: int) -> dict[str, zipfile.ZipInfo]:
    """Central directory entries by member name, each checked; nothing read."""
    infos: dict[str, zipfile.ZipInfo] = {}
    expected = {name + ".npy": name for name in MEMBERS}
    total = 0
    for info in zf.infolist():
        name = expected.get(info.filename)
        if name is None:
            raise ValueError(f"unexpected zip member {info.filename[:80]!r}")
        if name in infos:
            raise ValueError(f"zip member {info.filename!r} appears twice")
        if info.flag_bits & ~_ALLOWED_FLAGS:
            raise ValueError(
                f"zip member {info.filename!r} has flags {info.flag_bits:#x} (encrypted or patched data)"
            )
        if info.compress_type == zipfile.ZIP_STORED:
            if info.compress_size != info.file_size:
                raise ValueError(
                    f"stored zip member {info.filename!r} has a compressed size "
                    f"{info.compress_size} != its size {info.file_size}"
                )
        elif info.compress_type == zipfile.ZIP_DEFLATED:
            if info.file_size > _DEFLATE_MAX_RATIO * info.compress_size + 1024:
                raise ValueError(
                    f"deflated zip member {info.filename!r} claims {info.file_size} "
                    f"bytes from {info.compress_size}, more than deflate can give"
                )
        else:
            raise ValueError(
                f"zip member {info.filename!r} has compression method "
                f"{info.compress_type}, not stored or deflated"
            )
        if info.header_offset + info.compress_size > size:
            raise ValueError(f"zip member {info.filename!r} extends past the end of the file")
        total += info.file_size
        infos[name] = info
    missing = [name for name in MEMBERS if name not in infos]
    if missing:
        raise ValueError(f"missing snapshot members {missing}")
    if total > max_bytes:
        raise ValueError(f"the arrays take {total} bytes uncompressed, more than max_bytes={max_bytes}")
    return infos


def parse_npy_header(prefix: bytes) -> MemberHeader:
    """Parse the ``.npy`` header at the start of ``prefix``, without numpy.

    Only the dtypes a snapshot uses are accepted (integers, unicode);
    nothing is evaluated but Python literals, and any parse error becomes a
    ``ValueError``.

    Parameters
    ----------
    prefix : bytes
        The first bytes of the member: at least the whole header.

    Returns
    -------
    MemberHeader

    Examples
    --------
    >>> h = b"{'descr': '<u8', 'fortran_order': False, 'shape': (5,), }"
    >>> raw = b"\\x93NUMPY\\x01\\x00" + len(h).to_bytes(2, "little") + h
    >>> parse_npy_header(raw)
    MemberHeader(shape=(5,), dtype=dtype('uint64'), fortran_order=False, offset=67)
    >>> parse_npy_header(raw.replace(b"u8", b"O8"))
    Traceback (most recent call last):
    ...
    ValueError: .npy header: dtype '<O8' is not one a snapshot holds
    """
    if len(prefix) < 10 or prefix[:6] != _NPY_MAGIC:
        raise ValueError(".npy header: no NUMPY magic")
    major, minor = prefix[6], prefix[7]
    if major == 1:
        hlen, start, encoding = int.from_bytes(prefix[8:10], "little"), 10, "latin1"
    elif major in (2, 3):
        if len(prefix) < 12:
            raise ValueError(".npy header: truncated")
        hlen, start = int.from_bytes(prefix[8:12], "little"), 12
        encoding = "latin1" if major == 2 else "utf8"
    else:
        raise ValueError(f".npy header: format version {major}.{minor}, not 1, 2 or 3")
    if minor != 0:
        raise ValueError(f".npy header: format version {major}.{minor}")
    if hlen > _MAX_NPY_HEADER:
        raise ValueError(f".npy header: {hlen} bytes long, more than {_MAX_NPY_HEADER}")
    if len(prefix) < start + hlen:
        raise ValueError(".npy header: truncated")
    try:
        text = prefix[start : start + hlen].decode(encoding)
        d = ast.literal_eval(text)
    except (
        SyntaxError,
        tokenize.TokenError,
        MemoryError,
        RecursionError,
        ValueError,
        TypeError,
        OverflowError,
    ) as e:
        raise ValueError(f".npy header: not a Python literal ({type(e).__name__})") from None
    if not isinstance(d, dict) or set(d) != {"descr", "fortran_order", "shape"}:
        raise ValueError(".npy header: not a dict of descr, fortran_order and shape")
    descr, fortran, shape = d["descr"], d["fortran_order"], d["shape"]
    if not isinstance(descr, str) or not _DESCR.fullmatch(descr):
        raise ValueError(f".npy header: dtype {str(descr)[:40]!r} is not one a snapshot holds")
    if not isinstance(fortran, bool):
        raise ValueError(".npy header: fortran_order is not a bool")
    if not isinstance(shape, tuple) or len(shape) > 2 or not all(type(n) is int and n >= 0 for n in shape):
        raise ValueError(
            f".npy header: shape {str(shape)[:40]} is not a tuple of at most two non-negative ints"
        )
    return MemberHeader(shape, np.dtype(descr), fortran, start + hlen)


def _read_prefix(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The first bytes of a member, as many as the longest header takes (so
    a deflated member is inflated by at most that much here)."""
    with zf.open(info) as m:
        return m.read(min(info.file_size, 12 + _MAX_NPY_HEADER))


def _header(name: str, info: zipfile.ZipInfo, prefix: bytes) -> MemberHeader:
    """Parse a member's ``.npy`` header; its byte count must match the member."""
    try:
        h = parse_npy_header(prefix)
    except ValueError as e:
        raise ValueError(f"member {name}: {e}") from None
    payload = info.file_size - h.offset
    claimed = math.prod(h.shape) * h.dtype.itemsize
    if claimed != payload:
        raise ValueError(
            f"member {name}: header claims shape {h.shape} of {h.dtype.str} "
            f"({claimed} bytes), the member holds {payload}"
        )
    return h


def _check_member_kind(name: str, h: MemberHeader) -> None:
    """The dtype and number of dimensions each member must have."""
    if name in _TEXT_LIMITS:
        if h.dtype.kind != "U" or h.shape != ():
            raise ValueError(f"member {name}: {h.dtype.str} of shape {h.shape}, expected a unicode scalar")
        if h.dtype.itemsize > _TEXT_LIMITS[name]:
            raise ValueError(
                f"member {name}: {h.dtype.itemsize} bytes of text, more than {_TEXT_LIMITS[name]}"
            )
    elif name == "version":
        if h.dtype.kind not in "iu" or h.shape != ():
            raise ValueError(f"member version: {h.dtype.str} of shape {h.shape}, expected an integer scalar")
    else:
        dtype, ndim = _ARRAY_SPECS[name]
        if h.dtype.newbyteorder("=") != dtype or len(h.shape) != ndim:
            raise ValueError(
                f"member {name}: {h.dtype.str} of shape {h.shape}, expected "
                f"{dtype.str} of {ndim} dimension(s)"
            )


def _read_array(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, h: MemberHeader, prefix: bytes
) -> npt.NDArray[Any]:
    """Read a member's data, of the size its checked header claims, into a
    new writable array in native byte order.  A member that ``prefix``
    already holds whole (and CRC-checked: zipfile checks the CRC on reaching
    the end) is not read again."""
    nbytes = info.file_size - h.offset
    if len(prefix) == info.file_size:
        buf = bytearray(prefix[h.offset :])
    else:
        buf = _read_data(zf, info, h.offset, nbytes)
    count = math.prod(h.shape)
    a: npt.NDArray[Any] = np.frombuffer(buf, dtype=h.dtype, count=count)
    if not a.dtype.isnative:
        a = a.byteswap(inplace=True).view(a.dtype.newbyteorder("="))
    return a.reshape(h.shape, order="F" if h.fortran_order else "C")


def _read_data(zf: zipfile.ZipFile, info: zipfile.ZipInfo, offset: int, nbytes: int) -> bytearray:
    """The ``nbytes`` after the first ``offset`` of a member, read by MiB
    into one buffer allocated at the checked size."""
    buf = bytearray(nbytes)
    view = memoryview(buf)
    with zf.open(info) as m:
        if len(m.read(offset)) != offset:
            raise ValueError(f"zip member {info.filename!r} ends early")
        pos = 0
        while pos < nbytes:
            chunk = m.read(min(_CHUNK, nbytes - pos))
            if not chunk:
                raise ValueError(f"zip member {info.filename!r} ends early")
            view[pos : pos + len(chunk)] = chunk
            pos += len(chunk)
        if m.read(1):  # also makes zipfile check the CRC
            raise ValueError(f"zip member {info.filename!r} is longer than its size")
    view.release()
    return buf


def _text(a: npt.NDArray[Any], name: str) -> str:
    """The string of a 0-d unicode member (code points checked: numpy
    would raise SystemError on one above U+10FFFF)."""
    codes = a.reshape(1).view(np.uint32)
    if codes.size and int(codes.max()) > 0x10FFFF:
        raise ValueError(f"member {name}: not valid unicode")
    return str(a[()])


def _json(a: npt.NDArray[Any], name: str) -> Any:
    """Parse a text member as JSON (its size was bounded by its header)."""

    def no_constant(c: str) -> None:
        raise ValueError(f"{c} is not a value a snapshot holds")

    try:
        return json.loads(_text(a, name), parse_constant=no_constant)
    except RecursionError:
        raise ValueError(f"member {name}: JSON nested too deeply") from None
    except (ValueError, MemoryError) as e:
        raise ValueError(f"member {name}: not valid JSON ({str(e)[:80]})") from None


# ------------------------------------------------------------------- geometry


def _int_in(config: Mapping[str, Any], key: str, lo: int, hi: int) -> int:
    v = config[key]
    if type(v) is not int:
        raise ValueError(f"config {key} is {type(v).__name__}, not an int")
    if not lo <= v <= hi:
        raise ValueError(f"config {key}={v} is not in [{lo}, {hi}]")
    return v


def _shape(state: Mapping[str, Any], name: str) -> tuple[int, ...]:
    try:
        return tuple(state[name].shape)
    except (KeyError, AttributeError):
        raise ValueError(f"snapshot member {name} is missing") from None


def check_geometry(
    config: Any, topology_json: Any, state: Mapping[str, Any], *, max_bytes: int | None = None
) -> Topology:
    """Check a snapshot's config and topology against its arrays' shapes.

    Called before any tracker is built, so that a small file claiming a big
    tracker is refused before the tracker is allocated: the config's values
    are ints of the right ranges (as ``Tracker`` requires them), the
    topology a list of at most :data:`MAX_NODES` well-typed nodes whose ids
    fit ``nid_bits``, and every array has the shape that config and
    topology imply (the table's geometry from
    :func:`pghot._core.table_geometry`, without allocating).  The queues'
    contents are checked later, by ``Tracker._restore``.

    Parameters
    ----------
    config : dict
        The parsed ``config`` member (``Tracker`` keyword arguments).
    topology_json : dict
        The parsed ``topology`` member: ``{"nodes": [[nid, start_pfn,
        nr_pages, toptier, has_cpu], ...], "default_node": nid}``.
    state : mapping
        Member name to anything with a ``shape``: the arrays, or the
        :class:`MemberHeader` of each member before it is read.
    max_bytes : int, optional
        If given, also refuse a tracker whose table, queues and node maps
        would take more bytes than this.

    Returns
    -------
    pghot.Topology

    Raises
    ------
    ValueError
        The first inconsistency found (no path in the message).

    Examples
    --------
    >>> from pghot import Topology, Tracker
    >>> state = Tracker(Topology.two_tier(1024, 4096), capacity=100)._state()
    >>> config, topo = json.loads(str(state["config"])), json.loads(str(state["topology"]))
    >>> check_geometry(config, topo, state).lower_pages()
    4096
    >>> check_geometry(dict(config, capacity=2**27), topo, state)
    Traceback (most recent call last):
    ...
    ValueError: config capacity=134217728 needs rec_pfn of shape (156587520,), the snapshot has (117,)
    """
    if not isinstance(config, dict) or set(config) != _CONFIG_KEYS:
        keys = sorted(config)[:20] if isinstance(config, dict) else type(config).__name__
        raise ValueError(f"config must be a dict of {sorted(_CONFIG_KEYS)}, got {keys}")
    fbits = _int_in(config, "freq_bits", 1, 16)
    nbits = _int_in(config, "nid_bits", 1, 30)
    tbits = _int_in(config, "time_bits", 1, 30)
    if fbits + nbits + tbits > 32:
        raise ValueError(f"config freq_bits + nid_bits + time_bits = {fbits + nbits + tbits} > 32")
    hz = _int_in(config, "hz", 1, 1_000_000)
    window_ms = _int_in(config, "freq_window_ms", 0, 1 << 40)
    _int_in(config, "threshold", 1, (1 << fbits) - 1)
    if ms_to_jiffies(window_ms, hz) >= 1 << tbits:
        raise ValueError(f"config freq_window_ms={window_ms} at hz={hz} does not fit time_bits={tbits}")
    capacity = _int_in(config, "capacity", 0, 1 << 31)
    qcap = _int_in(config, "queue_capacity", 0, min(capacity, 0xFFFFFFFE))
    if config["queue"] not in _QUEUE_NAMES:
        raise ValueError(f"config queue={str(config['queue'])[:40]!r} is not one of {list(_QUEUE_NAMES)}")
    if type(config["evict_stale"]) is not bool:
        raise ValueError("config evict_stale is not a bool")

    topology = _topology(topology_json, nbits)
    ntop = len(topology.toptier_nids())
    lower = topology.lower_pages()
    words = max(1, -(-lower // 64))

    nshards, slots = _core.table_geometry(capacity)
    nslots = nshards * slots
    expected = {
        "rec_pfn": (nslots,),
        "rec_word": (nslots,),
        "shard_counters": (nshards, _SHARD_COUNTERS),
        "counters": (_NCOUNTERS,),
        "queue_sizes": (ntop,),
        "unmovable": (words,),
    }
    why = {
        "rec_pfn": f"capacity={capacity}",
        "rec_word": f"capacity={capacity}",
        "shard_counters": f"capacity={capacity}",
        "counters": "format version 1",
        "queue_sizes": f"{ntop} top-tier node(s)",
        "unmovable": f"{lower} lower-tier pages",
    }
    for name, shape in expected.items():
        got = _shape(state, name)
        if got != shape:
            prefix = "config " if name in ("rec_pfn", "rec_word", "shard_counters") else ""
            raise ValueError(f"{prefix}{why[name]} needs {name} of shape {shape}, the snapshot has {got}")
    slots_shape, keys_shape = _shape(state, "queue_slots"), _shape(state, "queue_keys")
    if len(slots_shape) != 1 or slots_shape != keys_shape or slots_shape[0] > qcap * ntop:
        raise ValueError(
            f"queue_slots {slots_shape} and queue_keys {keys_shape} must be "
            f"1-D, of one length, at most queue_capacity={qcap} x {ntop} "
            f"top-tier node(s)"
        )
    if max_bytes is not None:
        need = _tracker_bytes(nslots, nshards, ntop, qcap, fbits, topology, words)
        if need > max_bytes:
            raise ValueError(
                f"the tracker it describes would take {need} bytes, more than max_bytes={max_bytes}"
            )
    return topology


def _topology(tj: Any, nid_bits: int) -> Topology:
    """The topology member as a :class:`Topology`; every field type-checked."""
    if not isinstance(tj, dict) or set(tj) != {"nodes", "default_node"}:
        raise ValueError("topology must be a dict of nodes and default_node")
    nodes = tj["nodes"]
    if not isinstance(nodes, list) or not 1 <= len(nodes) <= MAX_NODES:
        raise ValueError(f"topology nodes must be a list of 1 to {MAX_NODES} nodes")
    out = []
    for i, n in enumerate(nodes):
        if (
            not isinstance(n, list)
            or len(n) != 5
            or not all(type(v) is int for v in n[:3])
            or not all(type(v) is bool for v in n[3:])
        ):
            raise ValueError(
                f"topology node {i} is not [nid, start_pfn, nr_pages, toptier, has_cpu] of ints and bools"
            )
        if not 0 <= n[0] < 1 << nid_bits:
            raise ValueError(f"topology node {i}: nid {n[0]} does not fit nid_bits={nid_bits}")
        try:
            out.append(Node(*n))
        except (TypeError, ValueError) as e:
            raise ValueError(f"topology node {i}: {e}") from None
    if type(tj["default_node"]) is not int:
        raise ValueError("topology default_node is not an int")
    try:
        return Topology(out, default_node=tj["default_node"])
    except (TypeError, ValueError) as e:
        raise ValueError(f"topology: {e}") from None


def _tracker_bytes(
    nslots: int, nshards: int, ntop: int, qcap: int, fbits: int, topology: Topology, words: int
) -> int:
    """An upper estimate of ``Tracker.memory_bytes()`` for this geometry."""
    table = nslots * 16 + nshards * 128  # records, shards
    queues = ntop * (qcap * 16 + ((1 << fbits) + 1) * 8 + 128)
    # nodes.pxd: per node 3 ids and a range, a dense index for ids below
    # NODEMAP_DENSE (4096), one bit per lower-tier page
    max_nid = max(n.nid for n in topology.nodes)
    nodes = len(topology.nodes) * 40 + min(max_nid + 1, 4096) * 4 + words * 8
    return table + queues + nodes


# The compiled core calls this module's save, load and check_geometry (it
# imports no Python-layer module itself).
_base._bind_snapshot_io(sys.modules[__name__])
