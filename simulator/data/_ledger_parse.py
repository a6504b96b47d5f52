"""Cells of a ledger table parsed into text, dates and amounts, with a mask of the cells that
are empty and of those that cannot be read (DESIGN 6.1)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_DAY = np.timedelta64(1, "D")


def _cell_text(x: object) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return ""
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    if x is pd.NaT:
        return ""
    return str(x).strip()


def _arrow_text(s: pd.Series) -> pa.Array | None:
    """Text cells as a stripped Arrow string array (nulls as ``""``), or ``None`` for a column
    that is not text (numbers, dates, or Python objects mixed with text)."""
    if not pd.api.types.is_string_dtype(s) or s.dtype == object:
        return None
    arr = pc.utf8_trim_whitespace(pa.array(s, type=pa.large_string()))
    return pc.fill_null(arr, "")


def parse_text(s: pd.Series) -> np.ndarray:
    """The cells as stripped text (``""`` for empty); a whole number stored as a float (as
    spreadsheets store ids) is written without ``.0``."""
    arr = _arrow_text(s)
    if arr is not None:
        return arr.to_numpy(zero_copy_only=False)
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
    arr = _arrow_text(s)
    if arr is not None:
        return _arrow_dates(arr, fmt)
    if isinstance(s.dtype, pd.ArrowDtype) and pa.types.is_temporal(s.dtype.pyarrow_dtype):
        a = pa.array(s)
        if pa.types.is_timestamp(a.type) and a.type.tz is not None:
            a = a.cast(pa.timestamp(a.type.unit))
        missing = np.asarray(pc.is_null(a))
        days = np.asarray(pc.fill_null(pc.cast(pc.cast(a, pa.date32()), pa.int32()), 0))
        return days.astype(np.int64), missing, np.zeros(len(s), dtype=bool)
    if pd.api.types.is_datetime64_any_dtype(s):
        values = s.dt.tz_localize(None) if getattr(s.dt, "tz", None) is not None else s
        missing = values.isna().to_numpy()
        days = values.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
        out = np.where(missing, 0, days.astype(np.int64))
        return out, missing, np.zeros(len(s), dtype=bool)
    # Python objects (Excel, object columns): dates, date-times and text, perhaps mixed
    values = s.astype(object)
    missing = (
        values.isna().to_numpy()
        | (values.map(lambda x: isinstance(x, str) and not x.strip())).to_numpy()
    )
    text = values.map(lambda x: x.strip() if isinstance(x, str) else x)
    parsed = pd.to_datetime(text.where(~missing), errors="coerce", format=fmt or "ISO8601")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    bad = ~missing & parsed.isna().to_numpy()
    days = parsed.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)
    return np.where(missing | bad, 0, days), missing, bad


def _arrow_dates(arr: pa.Array, fmt: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Text dates through Arrow's ``strptime``; what it cannot read (ISO 8601 with a time, say)
    goes through pandas."""
    missing = np.asarray(pc.equal(arr, ""))
    parsed = pc.strptime(arr, format=fmt or "%Y-%m-%d", unit="s", error_is_null=True)
    days = np.asarray(pc.fill_null(pc.cast(pc.cast(parsed, pa.date32()), pa.int32()), 0))
    days = days.astype(np.int64)
    # Arrow rolls impossible dates over (30 February -> 1 March): what does not print back as
    # written (or is not zero-padded) is checked again, strictly, by pandas
    again_text = pc.strftime(parsed, format=fmt or "%Y-%m-%d")
    same = np.asarray(pc.fill_null(pc.equal(again_text, arr), False))
    failed = ~missing & ~same
    if failed.any():
        idx = np.flatnonzero(failed)
        text = arr.take(pa.array(idx)).to_numpy(zero_copy_only=False)
        again = pd.to_datetime(pd.Series(text), format=fmt or "ISO8601", errors="coerce")
        ok = again.notna().to_numpy()
        days[idx[ok]] = (
            again[ok].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)
        )
        failed[idx[ok]] = False
    return days, missing, failed


def parse_amounts(s: pd.Series, divisor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Amounts as floats divided by ``divisor``.

    Returns
    -------
    values : ndarray of float (0 where missing or bad)
    missing, bad : ndarray of bool
        Empty cells; cells that are not finite numbers.
    """
    arr = _arrow_text(s)
    if arr is not None:
        missing = np.asarray(pc.equal(arr, ""))
        try:
            v = pc.cast(pc.if_else(pc.equal(arr, ""), None, arr), pa.float64())
            v = np.asarray(pc.fill_null(v, np.nan))
            bad = ~missing & ~np.isfinite(v)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            text = arr.to_numpy(zero_copy_only=False)
            v = pd.to_numeric(pd.Series(np.where(missing, None, text)), errors="coerce")
            v = v.to_numpy(dtype=float)
            bad = ~missing & ~np.isfinite(v)
    elif s.dtype.kind in "fiu":
        v = s.to_numpy(dtype=float, na_value=np.nan)
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
