"""The cells of a comparison as text: one format per kind of metric, shared by the terminal
table and the page (the numbers read the same in both)."""

from __future__ import annotations

from typing import Any

from .._format import finite, fmt_diff, fmt_money, fmt_num, fmt_pct, fmt_pp, fmt_se, fmt_setting

__all__ = ["fact_text", "row_texts", "setting_text", "value_text"]

_FORMATS = {"pct": fmt_pct, "money": fmt_money, "num": fmt_num}


def value_text(value: Any, kind: str, horizon: int | None = None) -> str:
    """One run's value of a metric of this ``kind`` (``pct``, ``money``, ``months``, ``num``);
    a runway quantile that is ``None`` lies beyond the horizon."""
    if kind == "months":
        if value is None:
            return f"> {horizon}" if horizon is not None else "beyond H"
        return f"{value:,.0f}" if finite(value) else str(value)
    if value is None:
        return "n/a"
    if not finite(value):
        return str(value)
    return _FORMATS.get(kind, fmt_num)(value)


def row_texts(row: dict[str, Any], horizons: tuple[int, int] | None = None) -> dict[str, str]:
    """The texts of one row of :attr:`Comparison.rows`: ``a``, ``b``, ``diff`` (B − A, in
    percentage points for percentages), ``se`` (of the difference) and ``how`` (``paired``,
    ``independent`` or empty when there is no SE)."""
    kind = row["kind"]
    ha, hb = horizons or (None, None)
    fmt: Any = {"pct": fmt_pp, "months": None}.get(kind, _FORMATS.get(kind, fmt_num))
    se = row.get("se")
    return {
        "a": value_text(row["a"], kind, ha),
        "b": value_text(row["b"], kind, hb),
        "diff": fmt_diff(row["diff"], fmt) if row.get("diff") is not None else "",
        "se": fmt_se(se, fmt) if finite(se) else "",
        "how": ("paired" if row.get("paired") else "independent") if finite(se) else "",
    }


def fact_text(value: Any) -> str:
    """A fact of a run (seed, method, run-off size…) as text: ``none`` for a missing one, whole
    numbers as they are, other numbers to four significant digits (``236.3``)."""
    if value is None:
        return "none"
    if isinstance(value, float) and finite(value) and not value.is_integer():
        return fmt_money(value) if abs(value) >= 100 else f"{value:.4g}"
    if isinstance(value, float) and value.is_integer():
        return f"{value:.0f}"
    return str(value)


def setting_text(field: str, value: Any) -> str:
    """An input's value as the ``--set`` text would give it (``0.8``, ``[0.1, 0.05]``)."""
    return fmt_setting(field, value).partition("=")[2]
