"""Argument checks of the Python layer: one error contract.

A wrong type is a ``TypeError``, a bad value a ``ValueError``, and both name
the argument.  The compiled core has its own (``src/_pghot/args.pxd``) with
the same contract.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

INT64_MAX = 2**63 - 1
#: the longest duration in milliseconds an argument may give (2**40 ms: 35 years)
MS_MAX = 2**40


def int_in(value: Any, name: str, low: int = 0, high: int | None = INT64_MAX) -> int:
    """``value`` as a Python int in ``[low, high]`` (no upper bound when ``high`` is None).

    The range convention of every argument check in the Python layer: both
    bounds inclusive, ``[low, high]``, as the messages say.

    Examples
    --------
    >>> int_in(3, "n", 1, 10)
    3
    >>> int_in(0, "n", 1, None)
    Traceback (most recent call last):
    ...
    ValueError: n must be >= 1, got 0
    >>> int_in(True, "n")
    Traceback (most recent call last):
    ...
    TypeError: n must be an int, not bool
    """
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an int, not bool")
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, not {type(value).__name__}") from None
    if v < low or (high is not None and v > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {bound}, got {v}")
    return v


def ms_to_jiffies(ms: int, hz: int) -> int:
    """``ms`` milliseconds as jiffies of ``hz`` per second, rounded up.

    The kernel's ``msecs_to_jiffies`` (``include/linux/jiffies.h``): every
    variant of ``_msecs_to_jiffies`` rounds up, so a non-zero duration is
    never zero jiffies; 0 ms is 0 jiffies.  Exact integer arithmetic for
    any size; the arguments are the caller's to check (``ms >= 0``,
    ``hz >= 1``).

    Examples
    --------
    >>> ms_to_jiffies(1, 1000), ms_to_jiffies(1, 250), ms_to_jiffies(5, 250), ms_to_jiffies(0, 100)
    (1, 1, 2, 0)
    >>> ms_to_jiffies(2**40, 10**6)
    1099511627776000
    """
    return -(-ms * hz // 1000)


def bool_arg(value: Any, name: str) -> bool:
    """``value`` as a bool; TypeError unless it is a (numpy) bool.

    >>> bool_arg(np.bool_(True), "flag")
    True
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, not {type(value).__name__}")
    return bool(value)


def number_in(value: Any, name: str, low: float = 0) -> float:
    """``value`` as a finite float ``>= low``; TypeError unless it is a (numpy) number.

    Examples
    --------
    >>> number_in(2, "cost_ns")
    2.0
    >>> number_in(-1, "cost_ns")
    Traceback (most recent call last):
    ...
    ValueError: cost_ns must be a finite number >= 0, got -1
    >>> number_in("1", "cost_ns")
    Traceback (most recent call last):
    ...
    TypeError: cost_ns must be a number, not str
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    if not (math.isfinite(value) and value >= low):
        raise ValueError(f"{name} must be a finite number >= {low}, got {value}")
    return float(value)
