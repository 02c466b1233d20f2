# The valgrind lackey reader's parser: one C loop over the bytes of a block of
# whole lines (``valgrind --tool=lackey --trace-mem=yes``), the compiled
# twin of the numpy reader in pghot.traces.lackey (its specification: same
# records, same counters, same bad lines).
#
# Input.  A block is a read-only buffer of bytes that ends with a newline
# (TraceReader._blocks yields only such blocks); a line is the bytes before
# its newline, less one carriage return before the newline.  A line is
#
#   good   "I  ADDR,SIZE" (an instruction) or " K ADDR,SIZE" with K one of
#          L, S, M (a load, store, modify): ADDR 1 to 16 hex digits (either
#          case), SIZE 1 to 9 decimal digits, the whole line at most
#          max_line bytes;
#   skip   empty, or valgrind's commentary (it starts "==", "--" or "**");
#   bad    anything else (reported by the caller, line by line).
#
# The loop reads each line once, greedily: the three-byte tag, the hex run,
# the comma, the decimal run, the line end.  A line that leaves that path
# anywhere is finished on the slow path (memchr to its newline, then the
# skip test), so a good line costs one pass over its bytes and no search.
# A good line is exactly one the greedy path accepts: the hex and decimal
# runs stop at the first byte that is not a digit, which must then be the
# comma and the line end, so "one comma, digits on either side" holds.
# Reads stay inside the block: every read before a line's newline stops at
# a byte that the test before it showed is not the newline, and the block's
# last byte is a newline.
#
# Clock: the instructions (good I lines) before the block are given; an
# access is at time (I lines so far, its own included, less one, at least 0)
# * ns_per_instr, rounded down, saturated at INT64_MAX (never wrapped).  The
# time changes only at an I line, so it is computed there, not per record.
#
# Output: four arrays (time_ns int64, vaddr uint64, kind int8, size uint32),
# allocated here for the most records the block can hold (a good line is at
# least 7 bytes with its newline) and returned as slices of the records
# written; instruction records only with include_instr.  When the block has
# bad lines, a second pass records their line index and bounds (rare:
# whole-block cost twice only for a block that holds a bad line).
#
# No state is kept between calls and no lock is taken: the caller owns the
# reader's counters and updates them after reporting the bad lines, as the
# numpy reader does.  Arguments are checked with the GIL held; the kernel
# cannot fail.
from libc.stdint cimport uint8_t, int8_t, uint32_t, uint64_t, int64_t
from libc.string cimport memchr
from libc.math cimport floor

import numpy as np

cdef extern from *:
    """
    #define PGHOT_INT64_MAX ((int64_t)0x7FFFFFFFFFFFFFFFLL)
    """
    int64_t PGHOT_INT64_MAX

#: AccessKind values (pghot.traces.AccessKind) the records carry
cdef enum:
    K_LOAD = 0
    K_STORE = 1
    K_MODIFY = 2
    K_INSTR = 3
    NOT_DIGIT = 255

cdef uint8_t HEX[256]
cdef int8_t KIND[256]          # the byte after a leading space -> kind, -1 if none


cdef void _init_tables() noexcept:
    cdef int i
    for i in range(256):
        HEX[i] = NOT_DIGIT
        KIND[i] = -1
    for i in range(10):
        HEX[48 + i] = <uint8_t>i
    for i in range(6):
        HEX[97 + i] = <uint8_t>(10 + i)
        HEX[65 + i] = <uint8_t>(10 + i)
    KIND[76] = K_LOAD     # L
    KIND[83] = K_STORE    # S
    KIND[77] = K_MODIFY   # M


_init_tables()


# The clock: time of the access made after `icount + 1` instructions.
ctypedef struct lackey_clock_t:
    int mode          # 0: integral ns below 2**63; 1: integral, 2**63 or more; 2: fractional
    uint64_t ns_int   # mode 0: ns_per_instr
    uint64_t limit    # mode 0: largest icount whose time fits int64
    double ns         # mode 2: ns_per_instr


cdef inline int64_t clock_time(const lackey_clock_t *c, int64_t icount) noexcept nogil:
    cdef double x
    if c.mode == 0:
        if <uint64_t>icount > c.limit:
            return PGHOT_INT64_MAX
        return <int64_t>(<uint64_t>icount * c.ns_int)
    if c.mode == 1:
        return 0 if icount == 0 else PGHOT_INT64_MAX
    x = floor(<double>icount * c.ns)
    if x >= 9223372036854775808.0:
        return PGHOT_INT64_MAX
    return <int64_t>x


ctypedef struct lackey_out_t:
    int64_t *time_ns       # NULL: do not store records (the bad-line pass)
    uint64_t *vaddr
    int8_t *kind
    uint32_t *size
    int64_t *bad_line      # NULL: count bad lines only
    int64_t *bad_start
    int64_t *bad_end
    int64_t lines          # lines in the block
    int64_t good           # good lines (I lines included)
    int64_t instr          # good I lines
    int64_t bad
    int64_t records        # records stored


# One good line at `p`, read greedily: its kind, address and size, and the
# start of the next line; NULL when the line is not good (the caller then
# finds its end).  Cost: one look at each byte of the line.
cdef inline const uint8_t *lackey_line(const uint8_t *p, Py_ssize_t max_line,
                                       int *kind, uint64_t *addr, uint32_t *size) noexcept nogil:
    cdef const uint8_t *q
    cdef const uint8_t *digits
    cdef uint64_t a = 0
    cdef uint32_t z = 0
    cdef uint64_t d, d2                  # hex digits
    cdef uint32_t dz                     # a decimal digit
    cdef int k
    if p[0] == 73:                                    # 'I'
        if p[1] != 32 or p[2] != 32:
            return NULL
        k = K_INSTR
    elif p[0] == 32:                                  # ' '
        k = KIND[p[1]]
        if k < 0 or p[2] != 32:
            return NULL
    else:
        return NULL
    q = p + 3
    d = HEX[q[0]]
    while d != NOT_DIGIT:                # two digits a turn: q[0] is a digit, so q[1] is in the block
        d2 = HEX[q[1]]
        if d2 == NOT_DIGIT:
            a = (a << 4) | d
            q += 1
            break
        a = (a << 8) | (d << 4) | d2
        q += 2
        d = HEX[q[0]]
    if q == p + 3 or q - (p + 3) > 16 or q[0] != 44:  # ','
        return NULL
    q += 1
    digits = q
    dz = <uint32_t>q[0] - 48
    while dz <= 9:
        z = z * 10 + dz
        q += 1
        dz = <uint32_t>q[0] - 48
    if q == digits or q - digits > 9 or q - p > max_line:
        return NULL
    if q[0] == 10:
        q += 1
    elif q[0] == 13 and q[1] == 10:
        q += 2
    else:
        return NULL
    kind[0] = k
    addr[0] = a
    size[0] = z
    return q


# Parse the block [buf, buf + n), which ends with '\n'.  Cost: one pass over
# the bytes of good lines; a memchr over the rest of a line that is not.
cdef void lackey_parse(const uint8_t *buf, Py_ssize_t n, Py_ssize_t max_line,
                       int64_t instructions, const lackey_clock_t *clk, bint include_instr,
                       lackey_out_t *o) noexcept nogil:
    cdef const uint8_t *p = buf
    cdef const uint8_t *end = buf + n
    cdef const uint8_t *s
    cdef const uint8_t *e
    cdef const uint8_t *nl
    cdef int k = 0
    cdef uint64_t addr = 0
    cdef uint32_t size = 0
    cdef int64_t total = instructions
    cdef int64_t now = clock_time(clk, total - 1 if total > 0 else 0)
    cdef int64_t line = 0
    cdef int64_t rec = 0
    cdef int64_t good = 0
    cdef int64_t instr = 0
    cdef int64_t bad = 0
    cdef bint store = o.time_ns != NULL
    cdef int64_t *out_time = o.time_ns     # locals: the stores cannot alias `o`
    cdef uint64_t *out_vaddr = o.vaddr
    cdef int8_t *out_kind = o.kind
    cdef uint32_t *out_size = o.size
    while p < end:
        s = p
        p = lackey_line(s, max_line, &k, &addr, &size)
        line += 1
        if p != NULL:
            good += 1
            if k == K_INSTR:
                total += 1
                instr += 1
                now = clock_time(clk, total - 1)
                if not include_instr:
                    continue
            if store:
                out_time[rec] = now
                out_vaddr[rec] = addr
                out_kind[rec] = <int8_t>k
                out_size[rec] = size
                rec += 1
            continue
        nl = <const uint8_t *>memchr(s, 10, <size_t>(end - s))
        e = nl
        if e > s and e[-1] == 13:
            e -= 1
        if not (e == s or (e - s >= 2 and s[0] == s[1] and (s[0] == 61 or s[0] == 45 or s[0] == 42))):
            if o.bad_line != NULL:
                o.bad_line[bad] = line - 1
                o.bad_start[bad] = s - buf
                o.bad_end[bad] = e - buf
            bad += 1
        p = nl + 1
    o.lines = line
    o.good = good
    o.instr = instr
    o.bad = bad
    if store:
        o.records = rec


cdef int _clock_of(double ns, lackey_clock_t *c) except -1:
    if not ns >= 0 or ns == float("inf"):
        raise ValueError(f"ns_per_instr must be a finite number >= 0, got {ns!r}")
    c.ns = ns
    c.ns_int = 0
    c.limit = 0
    if ns != floor(ns):
        c.mode = 2
    elif ns >= 9223372036854775808.0:
        c.mode = 1
    else:
        c.mode = 0
        c.ns_int = <uint64_t>ns
        c.limit = <uint64_t>PGHOT_INT64_MAX if c.ns_int == 0 else <uint64_t>PGHOT_INT64_MAX // c.ns_int
    return 0


cdef int64_t _int_arg(object v, str name, int64_t lo) except? -1:
    """An integer argument >= lo: TypeError (bool too) or ValueError naming it."""
    if isinstance(v, bool) or not hasattr(type(v), "__index__"):
        raise TypeError(f"{name} must be an int, not {type(v).__name__}")
    x = v.__index__()
    if x < lo or x > 0x7FFFFFFFFFFFFFFF:
        raise ValueError(f"{name} must be >= {lo}, got {x}")
    return x


def parse_block(block, instructions, ns_per_instr, include_instr, max_line):
    """Parse a block of whole lackey lines: the records, the counts, the bad lines.

    The compiled path of :mod:`pghot.traces.lackey` (internal); the numpy
    reader there is its specification.

    Parameters
    ----------
    block : bytes-like
        Whole lines, the last one ending with ``\\n``.
    instructions : int
        Instructions (good ``I`` lines) before the block, ``>= 0``.
    ns_per_instr : float
        Nanoseconds per instruction, finite and ``>= 0``.
    include_instr : bool
        Keep instruction fetches as records.
    max_line : int
        Longest good line in bytes (its newline and carriage return excluded).

    Returns
    -------
    tuple
        ``(time_ns, vaddr, kind, size, good, instr, bad)``: the records'
        arrays (int64, uint64, int8, uint32), the good lines, the good
        ``I`` lines, and ``None`` or, when some lines are bad, three int64
        arrays: their line indexes in the block and their ``[start, end)``
        byte offsets.

    Raises
    ------
    TypeError, ValueError
        A bad argument (named).

    Examples
    --------
    >>> t, a, k, z, good, instr, bad = parse_block(
    ...     b"==1== hi\\nI  0040,3\\n L 1f,8\\nI  0044,2\\n S 20,4\\noops\\n", 0, 2.0, False, 4096)
    >>> t.tolist(), [hex(x) for x in a], k.tolist(), z.tolist(), good, instr
    ([0, 2], ['0x1f', '0x20'], [0, 1], [8, 4], 4, 2)
    >>> [x.tolist() for x in bad]
    [[5], [45], [49]]
    """
    cdef const uint8_t[::1] view
    if block is None or isinstance(block, str):
        raise TypeError(f"block must be bytes, not {type(block).__name__}")
    try:
        view = block
    except (TypeError, ValueError, BufferError) as e:
        raise TypeError(f"block must be a contiguous bytes-like object: {e}") from None
    cdef Py_ssize_t n = view.shape[0]
    if n == 0 or view[n - 1] != 10:
        raise ValueError("block must end with a newline")
    cdef int64_t instr0 = _int_arg(instructions, "instructions", 0)
    cdef Py_ssize_t cap_line = <Py_ssize_t>_int_arg(max_line, "max_line", 1)
    if isinstance(ns_per_instr, (str, bytes)) or not hasattr(type(ns_per_instr), "__float__"):
        raise TypeError(f"ns_per_instr must be a number, not {type(ns_per_instr).__name__}")
    cdef lackey_clock_t clk
    _clock_of(float(ns_per_instr), &clk)
    cdef bint with_instr = bool(include_instr)
    cdef Py_ssize_t cap = n // 7 + 1
    time_ns = np.empty(cap, dtype=np.int64)
    vaddr = np.empty(cap, dtype=np.uint64)
    kind = np.empty(cap, dtype=np.int8)
    size = np.empty(cap, dtype=np.uint32)
    cdef int64_t[::1] tv = time_ns
    cdef uint64_t[::1] av = vaddr
    cdef int8_t[::1] kv = kind
    cdef uint32_t[::1] sv = size
    cdef lackey_out_t o
    o.time_ns = &tv[0]
    o.vaddr = &av[0]
    o.kind = &kv[0]
    o.size = &sv[0]
    o.bad_line = o.bad_start = o.bad_end = NULL
    cdef const uint8_t *bp = &view[0]
    with nogil:
        lackey_parse(bp, n, cap_line, instr0, &clk, with_instr, &o)
    bad = None
    cdef int64_t[::1] bl, bs, be
    if o.bad:
        lines = np.empty(o.bad, dtype=np.int64)
        starts = np.empty(o.bad, dtype=np.int64)
        ends = np.empty(o.bad, dtype=np.int64)
        bl, bs, be = lines, starts, ends
        o.time_ns = NULL
        o.bad_line, o.bad_start, o.bad_end = &bl[0], &bs[0], &be[0]
        with nogil:
            lackey_parse(bp, n, cap_line, instr0, &clk, with_instr, &o)
        bad = (lines, starts, ends)
    r = o.records
    return time_ns[:r], vaddr[:r], kind[:r], size[:r], o.good, o.instr, bad
