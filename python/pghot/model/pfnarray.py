"""Pure-Python reference model of the "pfn-array" store: the specification.

The kernel's pghot v3 and later (``SEMANTICS.md`` section 3) drop the v2 hash
table and per-node heaps for one hotness word per lower-tier PFN and a
"migrate ready" bit that a scanning thread (kmigrated) looks for.
:class:`PfnArrayReference` specifies that design behind the API of
:class:`pghot.Tracker`; the compiled :class:`pghot._pfnarray.PfnArrayTracker`
must give the same answers call for call (``tests/test_store_pfnarray.py``
drives both side by side).

Modes (the record word of v7/v8)
--------------------------------
==========  ====  =========  ==========  ===========  ===========  =========
mode        word  frequency  target nid  time         time unit    window
==========  ====  =========  ==========  ===========  ===========  =========
precise     u32   3 bits     10 bits     14 bits      1 jiffy      5000 ms
default     u8    2 bits     none        5 bits       128 jiffies  3000 ms
==========  ====  =========  ==========  ===========  ===========  =========

plus one "ready" bit. The clock field keeps ``(now >> shift) mod 2**time_bits``
(shift 0 or 7), so it spans 16384 jiffies (16.4 s at HZ=1000) in precise mode
and 32 buckets of 128 jiffies (4.1 s) in default mode; gaps longer than the
span alias to shorter ones, which is inherent to the width.

Record semantics (section 3)
----------------------------
A PFN whose word is 0 has no record (never touched, or read by an
extraction). An access to a movable lower-tier PFN at time ``now``, from
node ``nid``:

- ``cur = (now >> shift) & TIME_MASK``; ``window`` is ``freq_window_ms`` in
  jiffies rounded up (``msecs_to_jiffies``), then in time units rounded up;
- no record: ``freq = 1`` (a zero word has frequency 0, so this is also
  ``min(0 + 1, FREQ_MAX)``; the record counts as created);
- else ``age = (cur - last) & TIME_MASK``; ``freq = 1`` if ``age > window``,
  else ``min(freq + 1, FREQ_MAX)``: the masked age survives the clock wrap
  (defect F2 of v2) and the frequency saturates (F1);
- ``last = cur``; the target is the promotion target of ``nid`` (the default
  node for -1 and for a lower-tier node) in precise mode, always the default
  node in default mode. A change of target does *not* restart the window:
  section 3's update rule has no nid term (v2's had, section 4 step 5); the
  newest accessor's target simply replaces the stored one;
- the ready bit is set exactly when ``freq >= threshold``, so it is a function
  of the frequency, which this model does not store separately.

Each element of ``record_accesses`` is one access (the kernel's batch call
``pghot_record_accesses(pfn, nid, src, nr, now)`` with ``nr = 1``).

Extraction (kmigrated)
----------------------
There is no queue and no order by hotness: ``extract_batch(nid, max_count,
threshold)`` walks the lower-tier PFNs in *scan order* -- lower-tier nodes by
start PFN, each node's PFNs ascending, as one index space -- from the cursor
where node ``nid``'s previous call stopped, wrapping around at most once, and
returns ready records that target ``nid`` with ``freq >= threshold`` in the
order found. There is no cheap "top N hottest": that is the design's known
weakness (the v3 cover letter says so). Reading a ready record resets it:
its word becomes 0 (frequency, time, target and ready bit all cleared), the
PFN leaves the table (``len`` drops, ``extracted`` counts it), and its next
access creates a new record. :meth:`lookup` only inspects and never resets.

A ``threshold`` below the tracker's adds nothing (non-ready records are not
scanned for); one above it leaves the colder ready records ready.

Sections: each lower-tier node is cut into sections of
``scan_section_pages`` PFNs from its first PFN (the last one may be shorter;
a section never spans two nodes). A section's "hot" flag is set whenever one
of its records becomes ready, so every ready record lies in a flagged section.
The scan

- skips a section whose flag is clear (``sections_skipped``);
- clears the flag of a section it enters at its first PFN, scans it
  (``sections_scanned``, ``pfns_scanned``), and sets the flag again if a
  ready record is left in it (another target or below ``threshold``) or if it
  stopped before the section's end;
- scans the rest of a flagged section it enters in the middle (the cursor
  stopped there) without touching its flag;
- stops when it has found ``min(max_count, queued(nid))`` records -- the
  per-node count of ready records, which the store keeps -- or after one full
  cycle; the cursor is left at the PFN after the last one examined.

Counters: ``pghot_records_hash`` counts records created (first touch or
re-creation after a reset), ``pghot_records_heap`` counts transitions of a
record into the ready state, ``extracted`` the records read; ``table_full``,
``queue_full`` and ``evicted`` exist for the common API and stay 0 (every
lower-tier PFN has its word).
"""

from __future__ import annotations

import bisect
from typing import Any, NamedTuple, SupportsIndex

import numpy as np

from pghot._types import (
    NUMA_NO_NODE,
    RECORD_DTYPE,
    Outcome,
    Record,
    Source,  # noqa: F401 - the examples use it
)
from pghot._validate import ms_to_jiffies
from pghot.model.reference import (
    _SOURCE_COUNTERS,
    _bool,
    _int,
    _int_in,
    _ReferenceBase,
)
from pghot.topology import Topology

__all__ = ["MODES", "Mode", "PfnArrayReference"]

_PFN_LIMIT = 2**63
_NOW_LIMIT = 2**63
_HZ_MAX = 1_000_000
_WINDOW_MS_MAX = 2**40
_SECTION_MAX = 2**30


class Mode(NamedTuple):
    """Record word of one mode: field widths, time unit, default window."""

    word_bytes: int
    freq_bits: int
    nid_bits: int
    time_bits: int
    time_shift: int  # the clock field counts jiffies >> time_shift
    window_ms: int


#: The two record modes of pghot v7/v8.
MODES = {
    "precise": Mode(word_bytes=4, freq_bits=3, nid_bits=10, time_bits=14, time_shift=0, window_ms=5000),
    "default": Mode(word_bytes=1, freq_bits=2, nid_bits=0, time_bits=5, time_shift=7, window_ms=3000),
}

_STAT_KEYS = (
    "pghot_recorded_accesses",
    "pghot_recorded_hwhints",
    "pghot_recorded_pgtscans",
    "pghot_recorded_hintfaults",
    "pghot_records_hash",
    "pghot_records_heap",
    "recorded",
    "toptier",
    "not_movable",
    "table_full",
    "queue_full",
    "evicted",
    "extracted",
    "sections_scanned",
    "sections_skipped",
    "pfns_scanned",
)


def _fixed(value: Any, name: str, fixed: int, mode: str) -> None:
    """A core width argument: None or the mode's own width."""
    if value is None:
        return
    v = _int(value, name)
    if v != fixed:
        raise ValueError(f"{name} is fixed at {fixed} in {mode} mode, got {v}")


class PfnArrayReference(_ReferenceBase):
    """Pure-Python model of the pfn-array store (same API as ``pghot.Tracker``).

    Parameters
    ----------
    topology : Topology
        Nodes and tiers; every lower-tier PFN has a word.
    mode : {"precise", "default"}
        Record word: u32 with the target nid, or u8 without (see the module
        docstring).
    hz : int, optional
        Jiffies per second of ``now``. Default 1000.
    freq_window_ms : int, optional
        Window of the frequency count; default 5000 (precise) or 3000
        (default mode). It must be below the clock span: ``2**14`` jiffies,
        or 32 buckets of 128 jiffies.
    threshold : int, optional
        Frequency at which a record becomes ready, ``1..2**freq_bits - 1``
        (1..7 precise, 1..3 default). Default 2.
    scan_section_pages : int, optional
        PFNs per section (a power of two); default 32768, the 128 MiB
        ``mem_section`` of x86-64.
    freq_bits, nid_bits, time_bits : int, optional
        Fixed by the mode; accepted only as None or the mode's own value.
    capacity, queue_capacity : int, optional
        Implicitly every lower-tier PFN; accepted only as None or that.
    queue : None
        This store has no queue; any other value is an error.
    evict_stale : bool, optional
        Only False: there is nothing to evict.

    Raises
    ------
    TypeError, ValueError
        A bad argument; the message names it.

    Examples
    --------
    >>> t = PfnArrayReference(Topology.two_tier(1024, 4096))
    >>> t.record_accesses([1500, 1500, 2000], -1, Source.HW_HINTS, [10, 20, 30]).tolist()
    [3, 0, 0, 0]
    >>> t.lookup(1500)
    Record(pfn=1500, frequency=2, nid=0, last_update=20, queued=0)
    >>> t.extract_batch(0).tolist()
    [1500]
    >>> t.lookup(1500) is None, len(t)
    (True, 1)
    """

    def __init__(
        self,
        topology: Topology,
        *,
        mode: str = "precise",
        hz: int = 1000,
        freq_window_ms: int | None = None,
        threshold: int = 2,
        scan_section_pages: int = 32768,
        freq_bits: int | None = None,
        nid_bits: int | None = None,
        time_bits: int | None = None,
        capacity: int | None = None,
        queue_capacity: int | None = None,
        queue: str | None = None,
        evict_stale: bool = False,
    ) -> None:
        if not isinstance(topology, Topology):
            raise TypeError(f"topology must be a Topology, not {type(topology).__name__}")
        if not isinstance(mode, str):
            raise TypeError(f"mode must be a str, not {type(mode).__name__}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {sorted(MODES)}, got {mode!r}")
        m = MODES[mode]
        hz = _int_in(hz, "hz", 1, _HZ_MAX)
        if freq_window_ms is None:
            freq_window_ms = m.window_ms
        freq_window_ms = _int_in(freq_window_ms, "freq_window_ms", 0, _WINDOW_MS_MAX)
        freq_max = (1 << m.freq_bits) - 1
        threshold = _int_in(threshold, "threshold", 1, freq_max)
        section = _int_in(scan_section_pages, "scan_section_pages", 1, _SECTION_MAX)
        if section & (section - 1):
            raise ValueError(f"scan_section_pages must be a power of two, got {section}")
        window_jiffies = ms_to_jiffies(freq_window_ms, hz)
        unit = 1 << m.time_shift
        window = -(-window_jiffies // unit)
        if window >= 1 << m.time_bits:
            raise ValueError(
                f"freq_window_ms: {freq_window_ms} ms is {window} time units of {unit} "
                f"jiffies at hz={hz}, not below the {mode}-mode clock span of "
                f"{1 << m.time_bits} units"
            )
        _fixed(freq_bits, "freq_bits", m.freq_bits, mode)
        _fixed(nid_bits, "nid_bits", m.nid_bits, mode)
        _fixed(time_bits, "time_bits", m.time_bits, mode)
        lower = topology.lower_pages()
        for name, value in (("capacity", capacity), ("queue_capacity", queue_capacity)):
            if value is not None and _int(value, name) != lower:
                raise ValueError(
                    f"{name} is every lower-tier PFN ({lower}) in the pfn-array store, got {value}"
                )
        if queue is not None:
            raise ValueError(f"queue does not apply to the pfn-array store, got {queue!r}")
        if _bool(evict_stale, "evict_stale"):
            raise ValueError("evict_stale=True does not apply: every lower-tier PFN has a word")
        max_nid = max(n.nid for n in topology.nodes)
        if m.nid_bits and max_nid >= 1 << m.nid_bits:
            raise ValueError(f"topology: node id {max_nid} does not fit the {m.nid_bits}-bit nid field")

        self._topology = topology
        self._mode = mode
        self._m = m
        self._hz = hz
        self._freq_window_ms = freq_window_ms
        self._window_jiffies = window_jiffies
        self._window = window
        self._threshold = threshold
        self._freq_max = freq_max
        self._time_mask = (1 << m.time_bits) - 1
        self._section = section
        self._default = topology.default_node

        # Nodes by start PFN; lower-tier ones laid out as one index space
        # (scan order) and cut into sections.
        self._init_nodes(topology)
        # per lower range: (start_pfn, end_pfn, first index, first section)
        self._lranges: list[tuple[int, int, int, int]] = []
        # per section: (first index, end index, first pfn)
        self._sections: list[tuple[int, int, int]] = []
        index = 0
        for start, end, nid in zip(self._starts, self._ends, self._range_nid):
            if nid not in self._lower:
                continue
            self._lranges.append((start, end, index, len(self._sections)))
            for s in range(start, end, section):
                n = min(section, end - s)
                self._sections.append((index, index + n, s))
                index += n
        self._npfn = index
        self._lstarts = [r[0] for r in self._lranges]
        self._sec_starts = [s[0] for s in self._sections]

        # State.
        self._records: dict[int, list[int]] = {}  # pfn -> [freq, target, last]
        self._hot: set[int] = set()  # flagged sections
        self._cursor = {nid: 0 for nid in sorted(self._toptier)}
        self._stats = dict.fromkeys(_STAT_KEYS, 0)

    # -- properties ----------------------------------------------------------------

    @property
    def topology(self) -> Topology:
        """The topology the tracker was built with."""
        return self._topology

    @property
    def mode(self) -> str:
        """``"precise"`` or ``"default"``."""
        return self._mode

    @property
    def hz(self) -> int:
        """Jiffies per second."""
        return self._hz

    @property
    def freq_window_ms(self) -> int:
        """Frequency window in milliseconds."""
        return self._freq_window_ms

    @property
    def window_jiffies(self) -> int:
        """Frequency window in jiffies (rounded up)."""
        return self._window_jiffies

    @property
    def window_ticks(self) -> int:
        """Frequency window in units of the clock field (rounded up).

        >>> PfnArrayReference(Topology.two_tier(1, 8), mode="default").window_ticks
        24
        """
        return self._window

    @property
    def time_unit_jiffies(self) -> int:
        """Jiffies per unit of the clock field: 1 (precise) or 128 (default)."""
        return 1 << self._m.time_shift

    @property
    def threshold(self) -> int:
        """Frequency at which a record becomes ready."""
        return self._threshold

    @property
    def freq_bits(self) -> int:
        return self._m.freq_bits

    @property
    def nid_bits(self) -> int:
        return self._m.nid_bits

    @property
    def time_bits(self) -> int:
        return self._m.time_bits

    @property
    def capacity(self) -> int:
        """Records the store can hold: every lower-tier PFN."""
        return self._npfn

    @property
    def queue_capacity(self) -> int:
        """Ready records a node can have: every lower-tier PFN."""
        return self._npfn

    @property
    def evict_stale(self) -> bool:
        return False

    @property
    def scan_section_pages(self) -> int:
        """PFNs per section of the scan's hot flags."""
        return self._section

    # -- geometry ------------------------------------------------------------------

    def _section_of(self, pfn: int) -> int:
        """Section of a lower-tier PFN."""
        start, _end, _index, first = self._lranges[bisect.bisect_right(self._lstarts, pfn) - 1]
        return first + (pfn - start) // self._section

    # -- recording -----------------------------------------------------------------

    def record_access(
        self, pfn: SupportsIndex, nid: SupportsIndex, src: SupportsIndex, now: SupportsIndex
    ) -> Outcome:
        """Record one access to ``pfn`` (module docstring, "Record semantics").

        Returns
        -------
        Outcome
            RECORDED, TOPTIER or NOT_MOVABLE (offline or marked not movable);
            never TABLE_FULL.

        Examples
        --------
        >>> t = PfnArrayReference(Topology.two_tier(10, 10), mode="default")
        >>> t.record_access(3, 0, Source.HINT_FAULT, 0)
        <Outcome.TOPTIER: 1>
        >>> t.record_access(12, 0, Source.HINT_FAULT, 300)
        <Outcome.RECORDED: 0>
        >>> t.lookup(12)  # bucket 300 >> 7 = 2
        Record(pfn=12, frequency=1, nid=0, last_update=2, queued=-1)
        """
        return self._access(pfn, nid, src, now)

    def record_accesses(self, pfns: Any, nids: Any, srcs: Any, nows: Any) -> np.ndarray:
        """Record a batch of accesses in order, one access per element.

        Validation as :meth:`pghot.Tracker.record_accesses`; the whole batch is
        checked before any access is recorded.

        Returns
        -------
        numpy.ndarray
            int64 counts indexed by :class:`Outcome`.

        Examples
        --------
        >>> t = PfnArrayReference(Topology.two_tier(10, 10))
        >>> t.record_accesses([12, 12, 3, 40], -1, Source.PGTABLE_SCAN, [1, 2, 3, 4]).tolist()
        [2, 1, 1, 0]
        >>> t.queued(0)
        1
        """
        return self._accesses(pfns, nids, srcs, nows)

    def _record(self, pfn: int, nid: int, src: int, now: int) -> int:
        """One validated access; the outcome."""
        st = self._stats
        st["pghot_recorded_accesses"] += 1
        st[_SOURCE_COUNTERS[src]] += 1  # type: ignore[index]
        home = self._node_of(pfn)
        if home in self._toptier:
            st["toptier"] += 1
            return int(Outcome.TOPTIER)
        if home == NUMA_NO_NODE or pfn in self._not_movable:
            st["not_movable"] += 1
            return int(Outcome.NOT_MOVABLE)

        cur = (now >> self._m.time_shift) & self._time_mask
        target = self._target[nid] if self._m.nid_bits else self._default
        rec = self._records.get(pfn)
        if rec is None:
            freq = 1
            st["pghot_records_hash"] += 1
            was_ready = False
        else:
            age = (cur - rec[2]) & self._time_mask
            freq = 1 if age > self._window else min(rec[0] + 1, self._freq_max)
            was_ready = rec[0] >= self._threshold
        self._records[pfn] = [freq, target, cur]
        if freq >= self._threshold and not was_ready:
            st["pghot_records_heap"] += 1
            self._hot.add(self._section_of(pfn))
        st["recorded"] += 1
        return int(Outcome.RECORDED)

    # -- extraction ----------------------------------------------------------------

    def extract_batch(
        self,
        nid: SupportsIndex,
        max_count: SupportsIndex = 1024,
        threshold: SupportsIndex | None = None,
        return_records: bool | np.bool_ = False,
    ) -> np.ndarray:
        """Read (and reset) up to ``max_count`` ready records targeting ``nid``.

        In scan order from ``nid``'s cursor, not by hotness (module docstring,
        "Extraction").

        Parameters
        ----------
        nid : int
            A top-tier node.
        max_count : int, optional
            At most this many records, ``>= 0``. Default 1024.
        threshold : int, optional
            Minimum frequency, ``1..2**freq_bits - 1``; default the tracker's.
        return_records : bool, optional
            Return a structured :data:`RECORD_DTYPE` array instead of PFNs.

        Returns
        -------
        numpy.ndarray
            uint64 PFNs, or records, in scan order.

        Examples
        --------
        >>> t = PfnArrayReference(Topology.two_tier(10, 10), threshold=1)
        >>> _ = t.record_accesses([15, 12, 17], 0, Source.HINT_FAULT, 1)
        >>> t.extract_batch(0, max_count=2).tolist()
        [12, 15]
        >>> t.extract_batch(0, return_records=True).tolist()
        [(17, 1, 0, 1)]
        """
        n = _int(nid, "nid")
        if n not in self._cursor:
            raise ValueError(f"nid: {n} is not a top-tier node")
        count = _int_in(max_count, "max_count", 0, _PFN_LIMIT - 1)
        thr = self._threshold if threshold is None else _int_in(threshold, "threshold", 1, self._freq_max)
        records = _bool(return_records, "return_records")
        rows = self._scan(n, min(count, self.queued(n)), thr)
        self._stats["extracted"] += len(rows)
        if records:
            return np.array(rows, dtype=RECORD_DTYPE)
        return np.array([r[0] for r in rows], dtype=np.uint64)

    def _scan(self, nid: int, want: int, thr: int) -> list[tuple[int, int, int, int]]:
        """kmigrated's walk: up to ``want`` (pfn, freq, target, last) rows."""
        st = self._stats
        total = self._npfn
        rows: list[tuple[int, int, int, int]] = []
        pos = self._cursor[nid]
        scanned = 0
        while scanned < total and len(rows) < want:
            sec = bisect.bisect_right(self._sec_starts, pos) - 1
            first, end, pfn0 = self._sections[sec]
            if sec not in self._hot:
                st["sections_skipped"] += 1
                scanned += end - pos
                pos = end if end < total else 0
                continue
            whole = pos == first
            if whole:
                self._hot.discard(sec)
            st["sections_scanned"] += 1
            stop = min(end, pos + total - scanned)
            left = False
            i = pos
            while i < stop and len(rows) < want:
                pfn = pfn0 + i - first
                rec = self._records.get(pfn)
                if rec is not None and rec[0] >= self._threshold:  # ready
                    if rec[1] == nid and rec[0] >= thr:
                        rows.append((pfn, rec[0], rec[1], rec[2]))
                        del self._records[pfn]  # reading resets the word
                    else:
                        left = True
                i += 1
            st["pfns_scanned"] += i - pos
            scanned += i - pos
            if whole and (left or i < end):
                self._hot.add(sec)
            pos = i if i < total else 0
        self._cursor[nid] = pos
        return rows

    # -- queries and configuration -------------------------------------------------

    def lookup(self, pfn: SupportsIndex) -> Record | None:
        """The record of ``pfn`` (``queued`` is its target when ready), or None.

        Inspecting a record does not reset it.

        Examples
        --------
        >>> t = PfnArrayReference(Topology.two_tier(10, 10))
        >>> _ = t.record_access(12, 1, Source.HW_HINTS, 70)
        >>> t.lookup(12)
        Record(pfn=12, frequency=1, nid=0, last_update=70, queued=-1)
        """
        p = _int_in(pfn, "pfn", 0, _PFN_LIMIT - 1)
        rec = self._records.get(p)
        if rec is None:
            return None
        freq, target, last = rec
        queued = target if freq >= self._threshold else NUMA_NO_NODE
        return Record(pfn=p, frequency=freq, nid=target, last_update=last, queued=queued)

    def set_movable(self, pfns: Any, flag: bool | np.bool_) -> None:
        """Mark lower-tier PFNs movable (``flag=True``) or not movable.

        Accesses to a PFN that is not movable are ignored (NOT_MOVABLE); its
        word is kept.

        Examples
        --------
        >>> t = PfnArrayReference(Topology.two_tier(10, 10))
        >>> t.set_movable([11, 12], False)
        >>> t.record_access(12, -1, Source.PGTABLE_SCAN, 0)
        <Outcome.NOT_MOVABLE: 2>
        """
        self._set_movable(pfns, flag)

    def __len__(self) -> int:
        """Number of PFNs with a record (a non-zero word).

        >>> len(PfnArrayReference(Topology.two_tier(10, 10)))
        0
        """
        return len(self._records)

    def queued(self, nid: SupportsIndex) -> int:
        """Number of ready records targeting top-tier node ``nid``.

        >>> PfnArrayReference(Topology.two_tier(10, 10)).queued(0)
        0
        """
        n = _int(nid, "nid")
        if n not in self._cursor:
            raise ValueError(f"nid: {n} is not a top-tier node")
        thr = self._threshold
        return sum(1 for f, t, _ in self._records.values() if f >= thr and t == n)

    def stats(self) -> dict[str, int]:
        """Counters (the core's keys, then the scan's own).

        Examples
        --------
        >>> t = PfnArrayReference(Topology.two_tier(10, 10))
        >>> _ = t.record_access(12, -1, Source.PGTABLE_SCAN, 0)
        >>> s = t.stats()
        >>> s["pghot_recorded_pgtscans"], s["pghot_records_hash"], s["records"], s["queued"]
        (1, 1, 1, 0)
        """
        out = dict(self._stats)
        out["records"] = len(self._records)
        out["queued"] = sum(1 for f, _, _ in self._records.values() if f >= self._threshold)
        return out

    def memory_bytes(self) -> int:
        """Bytes the modelled store needs: words, section flags, movable bitmap.

        >>> PfnArrayReference(Topology.two_tier(10, 64), mode="default").memory_bytes()
        73
        """
        return self._npfn * self._m.word_bytes + len(self._sections) + (self._npfn + 63) // 64 * 8

    def check(self) -> None:
        """Verify the model's invariants.

        Raises
        ------
        RuntimeError
            On the first violated invariant.

        Examples
        --------
        >>> t = PfnArrayReference(Topology.two_tier(10, 10))
        >>> _ = t.record_accesses([12, 12, 13], -1, Source.PGTABLE_SCAN, 5)
        >>> t.check()
        """

        def fail(msg: str) -> None:
            raise RuntimeError(f"invariant violated: {msg}")

        for pfn, (freq, target, last) in self._records.items():
            if self._node_of(pfn) not in self._lower:
                fail(f"record {pfn} is not on a lower-tier node")
            if not 1 <= freq <= self._freq_max:
                fail(f"record {pfn}: frequency {freq} outside 1..{self._freq_max}")
            if target not in self._cursor or (not self._m.nid_bits and target != self._default):
                fail(f"record {pfn}: target {target} is not allowed")
            if not 0 <= last <= self._time_mask:
                fail(f"record {pfn}: time {last} exceeds {self._m.time_bits} bits")
            if freq >= self._threshold and self._section_of(pfn) not in self._hot:
                fail(f"ready record {pfn} lies in a section without its hot flag")
        st = self._stats
        sources = sum(st[name] for name in _SOURCE_COUNTERS.values())
        outcomes = st["recorded"] + st["toptier"] + st["not_movable"]
        if not st["pghot_recorded_accesses"] == sources == outcomes:
            fail("accesses, per-source counters and outcomes disagree")
        if len(self._records) != st["pghot_records_hash"] - st["extracted"]:
            fail("records != created - extracted")
        if st["table_full"] or st["queue_full"] or st["evicted"]:
            fail("a drop counter is not 0")

    def __repr__(self) -> str:
        return (
            f"PfnArrayReference(mode={self._mode!r}, records={len(self)}, "
            f"threshold={self._threshold}, window_ticks={self._window})"
        )
