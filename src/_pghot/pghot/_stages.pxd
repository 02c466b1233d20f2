# The replay's per-access stages (_stages.pyx), for cimport: a compiled
# engine drives a stage at C level with _prepare (GIL held: grows the
# buffers, may raise) then _run / _run_flush (noexcept nogil: cannot fail),
# and reads the reports from rp/rt[0:rn] (and their hint-fault latencies
# from rl[0:rn] when rl is not NULL: the stages with has_lat).
from libc.stdint cimport uint32_t, uint64_t, int32_t, int64_t


cdef class Stage:
    cdef uint64_t npg             # pages are < npg
    cdef readonly int src         # pghot.Source of the reports
    cdef readonly int hz
    cdef uint64_t fed_, reported_, reordered_
    cdef int64_t last_time        # latest (clamped) time fed; 0 before any
    # the reports of the current call, written by the kernels
    cdef uint32_t *rp
    cdef int64_t *rt
    cdef int64_t *rl              # latency of each report (has_lat only, else NULL)
    cdef bint has_lat             # the stage reports latencies (HintFaultStage)
    cdef Py_ssize_t rn, rcap

    cdef int _grow(self, Py_ssize_t need) except -1
    cdef tuple _take(self)
    cdef int _prepare(self, Py_ssize_t n) except -1
    cdef void _run(self, const uint32_t *p, const int64_t *t, Py_ssize_t n) noexcept nogil
    cdef int _prepare_flush(self) except -1
    cdef void _run_flush(self, bint has_now, int64_t now) noexcept nogil


cdef class HwHintsStage(Stage):
    cdef uint64_t se              # sample_every
    cdef bint rnd
    cdef uint64_t nxt             # index, from the next access fed, of the next sample
    cdef int64_t *gaps            # geometric gaps drawn ahead, gaps[gpos:gn] unused
    cdef Py_ssize_t gn, gpos, gcap
    cdef object rng
    cdef readonly object seed


cdef class ScanStage(Stage):
    cdef bint has_next            # nscan is set (an origin given, or an access fed)
    cdef uint64_t nscan           # next scan time (saturating)
    cdef uint64_t scans_          # scans run so far

cdef class PgtableScanStage(ScanStage):
    cdef uint64_t interval
    cdef uint64_t *held_bits      # pages held since the last scan, a bitmap
    cdef uint32_t *held           # the same pages, in the order first held
    cdef uint32_t *tmp            # radix-sort scratch, as long as held
    cdef Py_ssize_t nheld, hcap
    cdef uint32_t held_lo, held_hi
    cdef readonly object interval_ms

    cdef void _scan(self) noexcept nogil


cdef class HintFaultStage(ScanStage):
    cdef uint64_t period, delay, window
    cdef uint64_t *bits           # per 64 pages: [2w] known, [2w+1] unmapped (PROT_NONE)
    cdef uint64_t size, nprot     # known pages, unmapped pages
    cdef uint64_t cursor          # first page the next window may start at
    cdef uint64_t lo_known, hi_known
    cdef uint64_t unmapped_
    cdef int64_t *stime           # [npg] time of the scan that unmapped each page
    cdef readonly object scan_period_ms, scan_delay_ms

    cdef void _scan(self) noexcept nogil
    cdef void _stamp(self, uint64_t w, uint64_t x, int64_t now) noexcept nogil
    cdef void _scans(self, uint64_t count) noexcept nogil


cdef class CombinedStage:
    cdef readonly tuple stages
    cdef readonly int nid
    cdef uint64_t npg
    cdef uint32_t *mp
    cdef int32_t *mn
    cdef signed char *ms
    cdef int64_t *mt
    cdef int64_t *ml              # merged latencies (-1 for the stages without)
    cdef Py_ssize_t mcap

    cdef tuple _merge(self)


cdef class IntervalCounts:
    cdef uint64_t npg
    cdef uint64_t *counts         # accesses per page this interval (0: untouched)
    cdef uint32_t *touched        # the pages with a non-zero count, first-touch order
    cdef uint64_t *sel            # selection scratch, as long as touched
    cdef uint32_t *tmp            # sort scratch, as long as touched
    cdef Py_ssize_t nt, tcap
    cdef uint32_t lo, hi
    cdef uint64_t accesses_
