"""Number formats shared by the terminal, the report and the notes the analytics write, so that
the same number reads the same everywhere (``6.83 %``, ``89,868.6``, ``n/a``)."""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = [
    "finite",
    "fmt_change",
    "fmt_list",
    "fmt_money",
    "fmt_num",
    "fmt_pct",
    "fmt_pm",
    "fmt_pp",
]


def finite(x: Any) -> bool:
    """Whether ``x`` is a real, finite number (not a boolean, not ``None``)."""
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


def fmt_pct(p: float | None, digits: int = 2, width: int = 0) -> str:
    """A probability, share or rate as a percentage, e.g. ``6.83 %``; ``n/a`` when missing.

    ``width`` pads the number (not the ``%``) to that many characters.
    """
    return f"{100 * p:{width}.{digits}f} %" if finite(p) else "n/a"


def fmt_money(x: float | None, digits: int = 1) -> str:
    """An amount with thousands separators, e.g. ``89,868.6``; ``n/a`` when missing."""
    return f"{x:,.{digits}f}" if finite(x) else "n/a"


def fmt_num(x: float | None, digits: int = 4) -> str:
    """A plain decimal with ``digits`` decimals, e.g. ``0.0749``; ``n/a`` when missing."""
    return f"{x:.{digits}f}" if finite(x) else "n/a"


def fmt_pm(value: Any, se: Any, fmt: Any = fmt_money) -> str:
    """``value ± se`` in the format ``fmt`` (the ``± se`` left out when there is none)."""
    text = fmt(value)
    return f"{text} ± {fmt(se)}" if finite(value) and finite(se) else text


def fmt_list(values: Any) -> str:
    """Numbers as a TOML-like list with 6 significant digits, e.g. ``[0.08, 0.03]``."""
    return "[" + ", ".join(f"{v:.6g}" for v in values) + "]"


def fmt_pp(p: float | None, digits: int = 2) -> str:
    """A difference of two probabilities in percentage points, e.g. ``-1.25 pp``; ``n/a`` when
    missing."""
    return f"{100 * p:.{digits}f} pp" if finite(p) else "n/a"


def fmt_change(x: float | None, fmt: Any = fmt_money) -> str:
    """A change in the format ``fmt`` with its sign, e.g. ``+12.5`` or ``-0.40 pp``; ``n/a`` when
    missing."""
    if not finite(x):
        return "n/a"
    return ("+" if x > 0 else "") + fmt(x if x != 0 else 0.0)
