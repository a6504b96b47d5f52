"""Cells of a ledger table parsed into text, dates and amounts, with a mask of the cells that
are empty and of those that cannot be read (DESIGN 6.1)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

_DAY = np.timedelta64(1, "D")


def _cell_text(x: object) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return ""
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    if x is pd.NaT:
        return ""
    return str(x).strip()


def parse_text(s: pd.Series) -> np.ndarray:
    """The cells as stripped text (``""`` for empty); a whole number stored as a float (as
    spreadsheets store ids) is written without ``.0``."""
    if s.dtype == object or pd.api.types.is_string_dtype(s):
        if all(isinstance(x, str) for x in s.head(1000)) and not s.isna().any():
            return s.astype(str).str.strip().to_numpy(dtype=object)
        return s.map(_cell_text).to_numpy(dtype=object)
    if s.dtype.kind == "f":
        v = s.to_numpy(dtype=float)
        out = s.astype(str).to_numpy(dtype=object)
        ints = np.isfinite(v) & (v == np.round(v))
        out[ints] = v[ints].astype(np.int64).astype(str)
        out[~np.isfinite(v)] = ""
        return out
    return s.map(_cell_text).to_numpy(dtype=object)


def parse_dates(s: pd.Series, fmt: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dates as days since 1970-01-01 (a time of day is dropped).

    Parameters
    ----------
    s : Series
        Text (ISO 8601 such as ``2024-06-30``, or ``fmt``), or dates and date-times as Parquet
        and Excel store them.
    fmt : str, optional
        A ``strptime`` format such as ``%d/%m/%Y``.

    Returns
    -------
    days : ndarray of int64 (0 where missing or bad)
    missing : ndarray of bool
        Empty cells.
    bad : ndarray of bool
        Cells that are not dates.
    """
    if pd.api.types.is_datetime64_any_dtype(s):
        values = s.dt.tz_localize(None) if getattr(s.dt, "tz", None) is not None else s
        missing = values.isna().to_numpy()
        days = values.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
        out = np.where(missing, 0, days.astype(np.int64))
        return out, missing, np.zeros(len(s), dtype=bool)
    values = s.astype(object) if s.dtype != object else s
    is_text = values.map(lambda x: isinstance(x, str)).to_numpy() if s.dtype == object else None
    if (is_text is not None and is_text.all()) or pd.api.types.is_string_dtype(s):
        text = parse_text(s)
        missing = text == ""
        parsed = pd.to_datetime(
            pd.Series(np.where(missing, None, text)), format=fmt or "ISO8601", errors="coerce"
        )
    else:  # dates and date-times (Excel, Parquet objects), perhaps mixed with text
        missing = values.map(lambda x: x is None or x is pd.NaT or x == "" or x != x).to_numpy()
        parsed = pd.Series(
            [_one_date(x, fmt) if not m else None for x, m in zip(values, missing, strict=True)],
            dtype="datetime64[ns]",
        )
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    bad = ~missing & parsed.isna().to_numpy()
    days = parsed.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)
    days = np.where(missing | bad, 0, days)
    return days, missing, bad


def _one_date(x: object, fmt: str | None) -> pd.Timestamp | None:
    if isinstance(x, dt.date | pd.Timestamp | np.datetime64):
        ts = pd.Timestamp(x)
        return ts.tz_localize(None) if ts.tzinfo is not None else ts
    if isinstance(x, str):
        try:
            return pd.to_datetime(x.strip(), format=fmt or "ISO8601")
        except (ValueError, TypeError):
            return None
    return None


def parse_amounts(s: pd.Series, divisor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Amounts as floats divided by ``divisor``.

    Returns
    -------
    values : ndarray of float (0 where missing or bad)
    missing, bad : ndarray of bool
        Empty cells; cells that are not finite numbers.
    """
    if s.dtype.kind in "fiu":
        v = s.to_numpy(dtype=float)
        missing = np.isnan(v)
        bad = ~missing & ~np.isfinite(v)
    else:
        text = parse_text(s)
        missing = text == ""
        v = pd.to_numeric(pd.Series(np.where(missing, None, text)), errors="coerce").to_numpy(
            dtype=float
        )
        bad = ~missing & ~np.isfinite(v)
    v = np.where(missing | bad, 0.0, v) / divisor
    return v, missing, bad
