"""A table of snapshots checked: shapes, balances and period amounts per row, and the rules
across rows (dates increasing, whole months apart; labels against the edges)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..scenario import default_labels
from ._snapshot_labels import _check_labels
from ._snapshots import SnapshotError, Snapshots, months_between, parse_edges


def snapshots_from_table(
    dates: Sequence[dt.date],
    gross: Any,
    *,
    edges_months: Sequence[int],
    labels: Sequence[str] | None = None,
    billings: Sequence[float] | None = None,
    write_offs: Sequence[float] | None = None,
    source: str = "<snapshots>",
    row_names: Sequence[str] | None = None,
) -> Snapshots:
    """Check a table of snapshots built in memory (or read by :func:`read_snapshots`).

    Parameters
    ----------
    dates : sequence of datetime.date
        One per snapshot, increasing and whole months apart (:func:`months_between`).
    gross : array_like, shape (N, K)
        Gross balance per snapshot and bucket, finite and ≥ 0.
    edges_months : sequence of int
        Bucket lower edges (:func:`parse_edges`).
    labels : sequence of str, optional
        Bucket labels (default: made from the edges).
    billings, write_offs : sequence of float, optional
        Per snapshot, the credit sales and write-offs of the period ending at that date; the first
        entry is not used (may be NaN); the others finite and ≥ 0.
    source : str, optional
        Name used in messages.
    row_names : sequence of str, optional
        How each row is named in messages (default ``row 1``, ``row 2``, …).

    Returns
    -------
    Snapshots

    Raises
    ------
    SnapshotError
        The first problem found.
    """
    edges = parse_edges(list(edges_months), source)
    labels = list(labels) if labels is not None else default_labels(edges)
    _check_labels(labels, edges, source)
    g = np.asarray(gross, dtype=float)
    n = len(dates)
    names = list(row_names) if row_names is not None else [f"row {i + 1}" for i in range(n)]
    _check_shape(g, n, len(edges), source)
    extra = _amounts(billings, write_offs, n, source)
    # Row by row, so that the first problem reported is the first in the table.
    for i in range(n):
        _check_balances(g[i], labels, source, names[i])
        if i > 0:
            _check_amounts(extra, i, source, names[i])
            _check_step(dates[i - 1], dates[i], source, names[i], names[i - 1])
    for arr in extra.values():
        if not math.isfinite(arr[0]):
            arr[0] = np.nan
    return Snapshots(
        dates=tuple(dates),
        edges_months=tuple(edges),
        labels=tuple(labels),
        gross=g.copy(),
        billings=extra.get("billings"),
        write_offs=extra.get("write_offs"),
        source=source,
    )


def _check_shape(g: np.ndarray, n: int, k: int, source: str) -> None:
    """``n`` rows of ``k`` balances, and at least two rows."""
    if g.shape != (n, k):
        raise SnapshotError(source, "-", f"expected {n} rows of {k} balances, got shape {g.shape}")
    if n < 2:
        raise SnapshotError(
            source,
            "-",
            f"{'no snapshots' if n == 0 else 'only one snapshot'}; calibration needs at least "
            "two (one period)",
        )


def _amounts(
    billings: Sequence[float] | None,
    write_offs: Sequence[float] | None,
    n: int,
    source: str,
) -> dict[str, np.ndarray]:
    """The period amounts given, by column name, as arrays of ``n`` values."""
    extra: dict[str, np.ndarray] = {}
    for name, values in (("billings", billings), ("write_offs", write_offs)):
        if values is None:
            continue
        arr = np.asarray(values, dtype=float)
        if arr.shape != (n,):
            raise SnapshotError(source, name, f"expected {n} values, got shape {arr.shape}")
        extra[name] = arr
    return extra


def _check_balances(row: np.ndarray, labels: Sequence[str], source: str, where: str) -> None:
    """Every balance of one snapshot finite and ≥ 0."""
    for label, x in zip(labels, row, strict=True):
        if not math.isfinite(x):
            raise SnapshotError(source, f"{where}, {label}", "must be a finite number")
        if x < 0:
            raise SnapshotError(
                source,
                f"{where}, {label}",
                f"balance is negative ({x:g}); balances must be ≥ 0",
            )


def _check_amounts(extra: dict[str, np.ndarray], i: int, source: str, where: str) -> None:
    """The period amounts of row ``i`` (not the first) given, finite and ≥ 0."""
    for name, arr in extra.items():
        x = arr[i]
        if math.isnan(x):
            raise SnapshotError(
                source,
                f"{where}, {name}",
                "is empty; give the amount for the period ending at this date (0 if none)",
            )
        if not math.isfinite(x):
            raise SnapshotError(source, f"{where}, {name}", "must be a finite number")
        if x < 0:
            raise SnapshotError(source, f"{where}, {name}", f"is negative ({x:g}); must be ≥ 0")


def _check_step(prev: dt.date, cur: dt.date, source: str, where: str, prev_where: str) -> None:
    """A snapshot date after the previous one and a whole number of months after it."""
    if cur <= prev:
        raise SnapshotError(
            source,
            f"{where}, date",
            f"{cur.isoformat()} is not after {prev.isoformat()} ({prev_where}); "
            "snapshots must be in date order, one per date",
        )
    if months_between(prev, cur) is None:
        raise SnapshotError(
            source,
            f"{where}, date",
            f"{cur.isoformat()} is not a whole number of months after "
            f"{prev.isoformat()}; use month-end dates or the same day of the month",
        )
