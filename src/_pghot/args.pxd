# Argument conversion at the GIL boundary, shared by every tracker module:
# one error contract (TypeError for a wrong type, ValueError naming the
# argument for a bad value), checked before any state changes.
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.number cimport PyIndex_Check, PyNumber_Index
from defs cimport int64_t, uint64_t

cdef extern from *:
    """
    #define PGHOT_I64_MAX INT64_MAX
    """
    int64_t PGHOT_I64_MAX


cdef inline int64_t _int_arg(object v, str name, int64_t lo, int64_t hi) except? -0x7FFFFFFFFFFFFFFF:
    """Python integer in [lo, hi] as int64, or TypeError/ValueError naming the argument."""
    cdef int overflow = 0
    cdef long long x
    if type(v) is not int:
        if not PyIndex_Check(v):
            raise TypeError(f"{name} must be an integer, not {type(v).__name__}")
        v = PyNumber_Index(v)
    x = PyLong_AsLongLongAndOverflow(v, &overflow)
    if overflow or x < lo or x > hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {v}")
    return x


cdef inline uint64_t _pfn_arg(object v) except? 0xFFFFFFFFFFFFFFFF:
    """A PFN: an integer in [0, 2**63 - 1]."""
    return <uint64_t>_int_arg(v, "pfn", 0, PGHOT_I64_MAX)


cdef inline int _check_range(a, str name, int64_t lo, int64_t hi) except -1:
    """Every element of integer array a lies in [lo, hi]."""
    if a.size == 0:
        return 0
    mn = int(a.min())
    mx = int(a.max())
    if mn < lo or mx > hi:
        bad = mn if mn < lo else mx
        idx = int((a == bad).argmax()) if a.ndim else 0
        raise ValueError(f"{name}[{idx}] = {bad} is outside [{lo}, {hi}]")
    return 0
