"""What every command prints: one table formatter, one progress bar, cell formats.

``pghot demo``/``replay``/``sweep``/``bench`` all print tables through
:func:`format_table` (plain columns for a terminal, or Markdown) and show
long work through :func:`progress` (tqdm on stderr, silent when disabled),
so that a table or a bar looks the same whichever command drew it.

>>> print(format_table(("policy", "hits"), [("pghot", pct(0.5)), ("none", pct(None))]))
policy   hits
pghot   50.0%
none        -
>>> print(format_table(("a", "b"), [("x", "1")], markdown=True))
| a | b |
|---|---|
| x | 1 |
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["Progress", "duration", "format_table", "num", "pct", "progress", "size"]


def format_table(head: Sequence[str], rows: Iterable[Sequence[str]], *, markdown: bool = False) -> str:
    """Rows of already-formatted cells as a table.

    Plain (default): columns two spaces apart, the first left-aligned and the
    others right-aligned (numbers), trailing blanks removed.  ``markdown``:
    a GitHub table, cells as given.
    """
    rows = [tuple(head), *(tuple(r) for r in rows)]
    if any(len(r) != len(head) for r in rows):
        raise ValueError("every row must have one cell per column of head")
    if markdown:
        return "\n".join(
            ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(head)]
            + ["| " + " | ".join(r) + " |" for r in rows[1:]]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join(
        "  ".join(x.ljust(w) if i == 0 else x.rjust(w) for i, (x, w) in enumerate(zip(r, widths))).rstrip()
        for r in rows
    )


def _missing(x: float) -> bool:
    """``x`` is not a number to print: NaN or infinite (an undefined ratio)."""
    return isinstance(x, float) and not math.isfinite(x)


def pct(x: float | None) -> str:
    """A ratio as a percentage, ``-`` when unknown.

    >>> pct(0.1234), pct(None), pct(float("nan"))
    ('12.3%', '-', '-')
    """
    return "-" if x is None or _missing(x) else f"{100 * x:.1f}%"


def num(x: float | None, digits: int = 3) -> str:
    """A number with ``digits`` decimals and thousands separators, ``-`` when unknown.

    >>> num(1234.5, 1), num(None)
    ('1,234.5', '-')
    """
    return "-" if x is None or _missing(x) else f"{x:,.{digits}f}"


def size(nbytes: float | None) -> str:
    """A byte count in binary units.

    >>> size(512), size(2048), size(3 * 2**30), size(None)
    ('512 B', '2.0 KiB', '3.0 GiB', '-')
    """
    if nbytes is None or _missing(nbytes):
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(nbytes) < 1024 or unit == "TiB":
            return f"{nbytes:,.0f} {unit}" if unit == "B" else f"{nbytes:,.1f} {unit}"
        nbytes /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def duration(ns: float | None) -> str:
    """A time in nanoseconds, four significant digits, in the largest unit that keeps it above 1.

    >>> duration(950), duration(1.5e6), duration(2.5e9), duration(None)
    ('950 ns', '1.5 ms', '2.5 s', '-')
    """
    if ns is None or _missing(ns):
        return "-"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if abs(ns) >= scale:
            return f"{ns / scale:.4g} {unit}"
    return f"{ns:.4g} ns"


class Progress:
    """A progress bar on stderr, or nothing when disabled.

    ``update(n)`` advances it, ``describe(text)`` names the current step,
    ``close()`` (or leaving a ``with`` block) removes it.  Disabled, every
    call does nothing, so callers never test whether a bar exists.

    >>> with progress(3, enabled=False) as bar:
    ...     bar.update(1)
    """

    def __init__(self, total: int | None, *, enabled: bool, desc: str = "", unit: str = "it") -> None:
        self._bar: Any = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total,
                desc=desc or None,
                unit=unit,
                unit_scale=unit != "run",
                file=sys.stderr,
                leave=False,
                delay=0.5,
                mininterval=0.25,
            )

    def update(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def describe(self, text: str) -> None:
        if self._bar is not None:
            self._bar.set_description(text, refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress(total: int | None, *, enabled: bool = True, desc: str = "", unit: str = "it") -> Progress:
    """The progress bar of every long command (see :class:`Progress`)."""
    return Progress(total, enabled=enabled, desc=desc, unit=unit)
