"""damo record files (``damo record``, JSON or zlib-compressed JSON).

The JSON text is read in pieces, bounded by ``max_json_bytes`` before it is
parsed whole; the regions of every snapshot are checked against
``max_region_pages`` and ``max_snapshot_accesses``; then each snapshot is
expanded into page accesses in runs of about one chunk, so that time and
memory grow with the accesses, never with the sampling slots.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from pghot.traces._chunk import TraceChunk
from pghot.traces._columns import INT64_MAX

if TYPE_CHECKING:
    from pghot.traces._reader import TraceReader

#: Default cap on a damo record's JSON text, in bytes after decompression
#: (``open_trace(max_json_bytes=)``); parsing takes a few times this in memory.
DAMO_MAX_JSON_BYTES = 1 << 26
#: Default cap on the pages of one damo region with accesses
#: (``open_trace(max_region_pages=)``): 256 GiB of 4 KiB pages.
DAMO_MAX_REGION_PAGES = 1 << 26
#: Default cap on the accesses one damo snapshot expands to
#: (``open_trace(max_snapshot_accesses=)``).
DAMO_MAX_SNAPSHOT_ACCESSES = 1 << 28

_PIECE = 1 << 20  # damo JSON is read and decompressed in pieces of 1 MiB
_MAX_SLOTS = 2**31 - 1  # sampling slots per snapshot: keeps the slot arithmetic in int64


def chunks(reader: TraceReader) -> Iterator[TraceChunk]:
    """The page accesses of a damo record, snapshot by snapshot in time order."""
    # the parsed document is dropped once its regions are gathered
    windows = _windows(reader, _document(reader))
    for (t0, t1), (slots, spans, accesses) in sorted(windows.items()):
        slots = max(slots, max(n for _, _, n in spans))
        yield from _expand(reader, spans, t0, t1, slots, accesses)


def _windows(reader: TraceReader, doc: Any) -> dict[tuple[int, int], list[Any]]:
    """The regions with accesses of every snapshot, checked against the limits.

    Snapshots of all records are grouped by time window, so that records
    of several targets monitored together come out merged in time order:
    ``(t0, t1) -> [sampling slots, [(first page, end page, accesses)], total accesses]``.
    """
    page = reader._page_size
    windows: dict[tuple[int, int], list[Any]] = {}
    for ri, record in enumerate(_records(doc, reader.path)):
        where = f"{reader.path}: damo record {ri}"
        if not isinstance(record, dict) or not isinstance(record.get("snapshots"), list):
            raise ValueError(f"{where}: expected an object with a 'snapshots' list")
        slots_hint = _slots(record.get("intervals"), where)
        for si, snap in enumerate(record["snapshots"]):
            w = f"{where} snapshot {si}"
            if not isinstance(snap, dict):
                raise ValueError(f"{w}: expected an object")
            t0 = _int(snap.get("start_time"), f"{w} start_time")
            t1 = _int(snap.get("end_time"), f"{w} end_time")
            if not 0 <= t0 <= INT64_MAX or not 0 <= t1 <= INT64_MAX:
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
                start = _int(reg.get("start"), f"{wr} start")
                end = _int(reg.get("end"), f"{wr} end")
                if start < 0 or end < start or end > 2**64:
                    raise ValueError(f"{wr}: bad range [{start}, {end}) (addresses are 64-bit)")
                n = _accesses(reg.get("nr_accesses"), slots_hint, wr)
                if n == 0 or end == start:
                    continue  # nothing to expand, however large the region
                first, last = start // page, -(-end // page)
                if last - first > reader._max_region_pages:
                    raise ValueError(
                        f"{wr}: {last - first} pages, more than max_region_pages="
                        f"{reader._max_region_pages} (pass a larger max_region_pages to open_trace)"
                    )
                accesses += (last - first) * n
                if accesses > reader._max_snapshot:
                    raise ValueError(
                        f"{wr}: the snapshot expands to more than max_snapshot_accesses="
                        f"{reader._max_snapshot} accesses (pages times nr_accesses of its regions, "
                        f"with the other records' snapshots of the same time window; pass a "
                        f"larger max_snapshot_accesses to open_trace)"
                    )
                if n > _MAX_SLOTS:
                    raise ValueError(f"{wr} nr_accesses: {n} is above {_MAX_SLOTS}")
                spans.append((first, last, n))
            if not spans:
                continue
            reader._good_lines += 1
            held = windows.setdefault((t0, t1), [0, [], 0])
            held[0] = max(held[0], slots_hint or 0)
            held[1] += spans
            held[2] = accesses
    return windows


def _document(reader: TraceReader) -> Any:
    """The damo record, parsed; its text bounded by ``max_json_bytes``.

    A regular file is read twice: a first pass only counts the
    decompressed bytes, so that a compression bomb costs time and no
    memory. A one-pass stream is read once, into at most
    ``max_json_bytes`` bytes.
    """
    if reader._source.regular:
        with reader._source.open() as f:
            total = 0
            for piece in _pieces(reader, f):
                total += len(piece)
                if total > reader._max_json:
                    _too_big(reader)
    assert reader._file is not None
    text = bytearray()
    for piece in _pieces(reader, reader._file):
        text += piece
        if len(text) > reader._max_json:
            _too_big(reader)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{reader.path}:{e.lineno}: not a damo JSON record ({e})") from None
    except RecursionError:
        raise ValueError(f"{reader.path}: not a damo JSON record (nested too deeply)") from None
    except ValueError as e:  # UnicodeDecodeError, a number of too many digits
        raise ValueError(f"{reader.path}: not a damo JSON record ({e})") from None


def _too_big(reader: TraceReader) -> None:
    raise ValueError(
        f"{reader.path}: the damo record's JSON text is longer than max_json_bytes="
        f"{reader._max_json} bytes after decompression (pass a larger max_json_bytes to open_trace)"
    )


def _pieces(reader: TraceReader, f: IO[bytes]) -> Iterator[bytes]:
    """The JSON text of the damo record ``f`` in pieces of at most 1 MiB.

    gzip, bzip2 and xz are undone by ``f`` itself; damo's own
    ``json_compressed`` (zlib) is undone here, never more than a piece
    at a time. The text must start with ``[`` or ``{``: anything else
    (binary data, another format) fails at its first bytes.
    """
    data = f.read(_PIECE)
    started = False
    for piece in _inflated(reader, f, data) if data[:1] == b"\x78" else _raw(f, data):
        if not started:
            lead = piece.lstrip(b" \t\r\n")
            if lead.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark
                lead = lead[3:].lstrip(b" \t\r\n")
            if lead:
                if lead[:1] not in (b"[", b"{"):
                    raise ValueError(f"{reader.path}: not a damo JSON record (it starts with {lead[:16]!r})")
                started = True
        yield piece


def _raw(f: IO[bytes], data: bytes) -> Iterator[bytes]:
    while data:
        yield data
        data = f.read(_PIECE)


def _inflated(reader: TraceReader, f: IO[bytes], data: bytes) -> Iterator[bytes]:
    z = zlib.decompressobj()
    try:
        while data and not z.eof:
            out = z.decompress(data, _PIECE)
            while True:
                yield out
                if not z.unconsumed_tail:
                    break
                out = z.decompress(z.unconsumed_tail, _PIECE)
            data = f.read(_PIECE)
    except zlib.error as e:
        raise ValueError(f"{reader.path}: corrupt zlib-compressed damo record ({e})") from None
    if not z.eof:
        raise ValueError(f"{reader.path}: corrupt zlib-compressed damo record (truncated)")


def _expand(
    reader: TraceReader, spans: list[tuple[int, int, int]], t0: int, t1: int, slots: int, accesses: int
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
    target = max(reader._chunk_size, 1 << 16)
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
        yield from _pages(reader, first[region], npages[region], times, target)


def _pages(
    reader: TraceReader, first: np.ndarray, npages: np.ndarray, times: np.ndarray, target: int
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
        if reader._damo_space == "paddr":
            yield TraceChunk(time_ns=times[event], pfn=pages)
        else:
            yield TraceChunk(time_ns=times[event], vaddr=pages * np.uint64(reader._page_size))


def _int(value: Any, what: str) -> int:
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


def _records(doc: Any, path: str) -> list[Any]:
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


def _slots(intervals: Any, where: str) -> int | None:
    """Sampling slots per aggregation interval, from a record's ``intervals``.

    None when the intervals are missing or unusable; an error when they
    make more than 2**31 - 1 slots.
    """
    if not isinstance(intervals, dict):
        return None
    try:
        sample = _int(intervals.get("sample_us", intervals.get("sample")), "sample")
        aggr = _int(intervals.get("aggr_us", intervals.get("aggr")), "aggr")
    except ValueError:
        return None
    if sample <= 0 or aggr < sample:
        return None
    if aggr // sample > _MAX_SLOTS:
        raise ValueError(
            f"{where} intervals: aggregation {aggr} over sampling {sample} is more than "
            f"{_MAX_SLOTS} sampling slots"
        )
    return aggr // sample


def _accesses(value: Any, slots: int | None, where: str) -> int:
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
    n = _int(value, f"{where} nr_accesses")
    if n < 0:
        raise ValueError(f"{where} nr_accesses: {n} is negative")
    return n
