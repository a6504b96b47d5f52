"""Tables of the HTML page. Each column is formatted as a whole: one number of decimals per
column, chosen so that its smallest value still shows (a default rate of 0.001 %, not 0.00 %), and
standard errors to two significant digits; headers are words, not column names."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._format import decimals, finite, fmt_money, fmt_num, fmt_pct
from ._html import _esc

#: Column kinds: a percentage, an amount, a plain number shown exactly, an integer, months, text;
#: ``<kind>_se`` is the standard error of a column of that kind.
KINDS = ("pct", "money", "num", "int", "months", "text")

#: Headers of the columns of the tables a results or sweep folder holds.
HEADERS = {
    "bucket": "bucket",
    "gross": "gross",
    "rate": "disclosed rate",
    "allowance": "allowance",
    "implied_rate": "implied rate",
    "implied_rate_se": "± SE",
    "implied_allowance": "implied allowance",
    "gap": "implied − disclosed",
    "name": "scenario",
    "weight": "weight",
    "ecl": "expected credit loss",
    "ecl_se": "± SE",
    "method": "method",
    "field": "field moved",
    "base_value": "base value",
    "low_setting": "low setting",
    "high_setting": "high setting",
    "metric_base": "metric at base",
    "metric_base_se": "± SE",
    "metric_low": "metric, low",
    "metric_low_se": "± SE",
    "metric_high": "metric, high",
    "metric_high_se": "± SE",
    "change_low": "change, low",
    "change_high": "change, high",
    "swing": "largest change",
    "value": "value",
    "metric": "metric",
    "metric_se": "± SE",
    "point": "point",
}
_PCT_NAMES = {"rate", "implied_rate", "gap", "weight", "allowance_coverage"}


def _numbers(values: Sequence[Any]) -> np.ndarray:
    return pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").to_numpy(float)


def _smallest(x: np.ndarray) -> float:
    nonzero = np.abs(x[np.isfinite(x) & (x != 0)])
    return float(nonzero.min()) if nonzero.size else math.nan


def _exact_decimals(x: np.ndarray, most: int = 6) -> int:
    """The fewest decimals (up to ``most``) that show every value of ``x`` as it is."""
    x = x[np.isfinite(x)]
    for d in range(most + 1):
        if np.allclose(np.round(x, d), x, rtol=1e-9, atol=0):
            return d
    return most


def column_texts(values: Sequence[Any], kind: str) -> list[str]:
    """The cells of one column as text (not escaped), with one format for the whole column.

    Parameters
    ----------
    values : sequence
        The column's values; missing ones (``None``, NaN) give an empty cell.
    kind : str
        One of :data:`KINDS`, or ``<kind>_se`` for a column of standard errors;
        ``months:H`` shows a missing value as ``> H`` (a runway beyond the horizon).

    Returns
    -------
    list of str
    """
    kind, _, beyond = kind.partition(":")
    base, _, se = kind.partition("_")
    if base == "months" and beyond:  # a runway quantile that is missing lies beyond H
        return [f"> {beyond}" if _missing(v) else f"{round(float(v)):,}" for v in values]
    if base == "text":
        return ["" if _missing(v) else str(v) for v in values]
    x = _numbers(values)
    small = _smallest(x)
    if base == "pct":
        d = decimals(100 * small, 2 if se else 1, least=2, most=6)
        texts = [fmt_pct(v, d) for v in x]
    elif base == "money":
        d = decimals(small, 2, least=1, most=6) if se else decimals(small, 1, least=1, most=4)
        texts = [fmt_money(v, d) for v in x]
    elif base in ("int", "months"):
        texts = [f"{round(v):,}" if finite(v) else "" for v in x]
    else:
        d = decimals(small, 2, least=0, most=6) if se else _exact_decimals(x)
        texts = [fmt_num(v, d) for v in x]
    if se:  # an SE of exactly 0 (an estimate of 0 or 1 on every path) is 0, not 0.000
        zero = "0 %" if base == "pct" else "0"
        texts = [zero if v == 0 else text for v, text in zip(x, texts, strict=True)]
    return [text if finite(v) else "" for v, text in zip(x, texts, strict=True)]


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def infer_kind(name: str, values: pd.Series) -> str:
    """The kind of a column from its name and values (for tables read from a folder)."""
    base = name.removesuffix("_se")
    if "_se." in name:
        base = name.replace("_se.", ".", 1)
    se = "_se" if base != name else ""
    if (
        base in _PCT_NAMES
        or base.endswith(("_rate", "_share"))
        or base.startswith(("p_runway_le_", "implied_rates.", "disclosed_rates."))
    ):
        return "pct" + se
    if base.startswith("runway_quantiles."):
        return "months"
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_object_dtype(values):
        return "text"
    if pd.api.types.is_integer_dtype(values) and not se:
        return "int"
    x = _numbers(values)
    if se:
        return "money_se" if np.nanmax(np.abs(x), initial=0) >= 0.01 else "num_se"
    return "money" if np.nanmax(np.abs(x), initial=0) >= 100 else "num"


def html_table(
    df: pd.DataFrame,
    columns: Sequence[tuple[str, str, str]] | None = None,
    *,
    html_cells: Sequence[str] = (),
) -> str:
    """A table of ``df``, each column formatted as a whole (:func:`column_texts`).

    Parameters
    ----------
    df : pandas.DataFrame
    columns : sequence of (name, header, kind), optional
        The columns shown, in order, with their header and kind; by default every column, with
        the header of :data:`HEADERS` (or the name in words) and the kind :func:`infer_kind`
        gives.
    html_cells : sequence of str, optional
        Columns whose cells are already HTML (not escaped, not formatted).

    Returns
    -------
    str
        The table in a ``div.table-wrap``.
    """
    if columns is None:
        columns = [
            (c, HEADERS.get(c, c.replace("_", " ")), infer_kind(c, df[c])) for c in df.columns
        ]
    cells = []
    for name, _, kind in columns:
        if name in html_cells:
            cells.append([str(v) for v in df[name]])
        else:
            cells.append([_esc(t) for t in column_texts(list(df[name]), kind)])
    classes = [' class="text"' if kind == "text" else "" for _, _, kind in columns]
    head = "".join(f"<th{c}>{_esc(h)}</th>" for c, (_, h, _) in zip(classes, columns, strict=True))
    rows = [
        "<tr>"
        + "".join(f"<td{cls}>{col[i]}</td>" for cls, col in zip(classes, cells, strict=True))
        + "</tr>"
        for i in range(len(df))
    ]
    return (
        f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
