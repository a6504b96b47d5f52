"""Aging snapshots in: one row per date with the gross balance per bucket (and optionally the
period's billings and write-offs), read from CSV and checked; every problem is a
:class:`SnapshotError` whose text is ``FILE: FIELD: reason``."""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import io
import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..scenario import (
    default_labels,
    read_text_file,
)

_OPTIONAL = ("billings", "write_offs")


class SnapshotError(ValueError):
    """A problem with the aging history or the options, as ``FILE: FIELD: reason`` on one line.

    Parameters
    ----------
    file : str
        The snapshots file (``<snapshots>`` for a table built in memory).
    field : str
        Where: ``line 4, 1y-2y``, ``header``, ``--edges-months``; ``-`` for the whole file.
    reason : str
        What is wrong.
    """

    def __init__(self, file: str, field: str, reason: str) -> None:
        self.file, self.field, self.reason = str(file), field, reason
        super().__init__(f"{self.file}: {field}: {reason}")


def parse_edges(edges: str | Sequence[int], source: str = "<snapshots>") -> list[int]:
    """Check bucket lower edges in months (``"0,12,24,36"`` or a sequence of int).

    Parameters
    ----------
    edges : str or sequence of int
        Comma-separated text or integers: first 0, strictly increasing, last ≤ 600.
    source : str, optional
        The file named in error messages.

    Returns
    -------
    list of int

    Raises
    ------
    SnapshotError
        If the edges are not integers, do not start at 0, do not increase or exceed 600.
    """
    name = "--edges-months"
    if isinstance(edges, str):
        parts = [p.strip() for p in edges.split(",")]
        if not edges.strip() or any(not p for p in parts):
            raise SnapshotError(source, name, f"expected integers like 0,12,24,36, got {edges!r}")
        values = []
        for p in parts:
            if not re.fullmatch(r"[+-]?\d+", p):
                raise SnapshotError(source, name, f"expected integer months, got {p!r}")
            values.append(int(p))
    else:
        values = list(edges)
        if not values or not all(isinstance(v, int | np.integer) for v in values):
            raise SnapshotError(source, name, f"expected integer months, got {values!r}")
        values = [int(v) for v in values]
    if values[0] != 0:
        raise SnapshotError(source, name, f"the first edge must be 0, got {values[0]}")
    for a, b in itertools.pairwise(values):
        if b <= a:
            raise SnapshotError(source, name, f"edges must increase strictly, got {b} after {a}")
    if values[-1] > 600:
        raise SnapshotError(source, name, f"the last edge must be ≤ 600, got {values[-1]}")
    return values


def months_between(start: dt.date, end: dt.date) -> int | None:
    """Whole months from ``start`` to ``end``, or ``None`` if they are not whole months apart.

    Two dates are a whole number of months apart when they fall on the same day of the month,
    or when both are the last day of their month (``2024-02-29`` to ``2024-08-31`` is 6).
    """

    def month_end(d: dt.date) -> bool:
        return (d + dt.timedelta(days=1)).day == 1

    n = (end.year - start.year) * 12 + end.month - start.month
    if start.day == end.day or (month_end(start) and month_end(end)):
        return n
    return None


@dataclass(frozen=True)
class Snapshots:
    """Consecutive aging snapshots of one book.

    Attributes
    ----------
    dates : tuple of datetime.date
        Snapshot dates, increasing, whole months apart.
    edges_months : tuple of int
        Bucket lower edges in months (the last bucket is open).
    labels : tuple of str
        Bucket labels (the CSV's column names).
    gross : ndarray, shape (N, K)
        Gross balance per snapshot and bucket.
    billings, write_offs : ndarray, shape (N,), or None
        Credit sales and write-offs in the period *ending* at each date (entry 0 is not used and
        is NaN when not given).
    source : str
        Where the table came from (for messages).
    """

    dates: tuple[dt.date, ...]
    edges_months: tuple[int, ...]
    labels: tuple[str, ...]
    gross: np.ndarray
    billings: np.ndarray | None = None
    write_offs: np.ndarray | None = None
    source: str = "<snapshots>"

    @property
    def months(self) -> np.ndarray:
        """Months between consecutive snapshots, shape (N-1,)."""
        return np.array(
            [months_between(a, b) for a, b in zip(self.dates, self.dates[1:], strict=False)],
            dtype=np.int64,
        )

    @property
    def n_periods(self) -> int:
        """Number of consecutive pairs, N-1."""
        return len(self.dates) - 1

    @property
    def n_buckets(self) -> int:
        """Number of buckets K."""
        return len(self.edges_months)


_TOKEN = re.compile(r"(?:(\d+)y)?(?:(\d+)m)?")


def _months_token(text: str, unit: str | None) -> int | None:
    if text.isdigit():
        n = int(text)
        if n == 0:
            return 0
        return {"y": 12 * n, "m": n}.get(unit or "")
    m = _TOKEN.fullmatch(text)
    if not m or not (m.group(1) or m.group(2)):
        return None
    return 12 * int(m.group(1) or 0) + int(m.group(2) or 0)


def _label_range(label: str) -> tuple[int, int | None] | None:
    """The months a label like ``1y-2y``, ``1-2y``, ``0-6m`` or ``4y+`` names, if it names any."""
    s = label.strip().lower().replace(" ", "")
    if s.endswith("+"):
        lo = _months_token(s[:-1], None)
        return None if lo is None else (lo, None)
    lo_txt, sep, hi_txt = s.partition("-")
    if not sep:
        return None
    unit = hi_txt[-1:] if hi_txt[-1:] in ("y", "m") else None
    lo, hi = _months_token(lo_txt, unit), _months_token(hi_txt, None)
    return None if lo is None or hi is None else (lo, hi)


def _range_text(lo: int, hi: int | None) -> str:
    return f"{lo}+ months" if hi is None else f"{lo}-{hi} months"


def _check_labels(labels: Sequence[str], edges: Sequence[int], source: str) -> None:
    k = len(edges)
    expected = default_labels(list(edges))
    if len(labels) != k:
        what = "extra" if len(labels) > k else "missing"
        raise SnapshotError(
            source,
            "header",
            f"{len(labels)} bucket columns ({', '.join(labels) or 'none'}) but --edges-months "
            f"{','.join(map(str, edges))} makes {k} buckets ({', '.join(expected)}): {what} "
            "columns (the columns are date, one per bucket, then optional billings, write_offs)",
        )
    for b, label in enumerate(labels):
        named = _label_range(label)
        want = (edges[b], edges[b + 1] if b + 1 < k else None)
        if named is not None and named != want:
            raise SnapshotError(
                source,
                "header",
                f"column {label!r} names {_range_text(*named)}, but bucket {b + 1} of "
                f"--edges-months {','.join(map(str, edges))} is {_range_text(*want)} "
                f"({expected[b]!r})",
            )


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
    if g.shape != (n, len(edges)):
        raise SnapshotError(
            source, "-", f"expected {n} rows of {len(edges)} balances, got shape {g.shape}"
        )
    if n < 2:
        raise SnapshotError(
            source,
            "-",
            f"{'no snapshots' if n == 0 else 'only one snapshot'}; calibration needs at least "
            "two (one period)",
        )
    extra: dict[str, np.ndarray] = {}
    for name, values in (("billings", billings), ("write_offs", write_offs)):
        if values is None:
            continue
        arr = np.asarray(values, dtype=float)
        if arr.shape != (n,):
            raise SnapshotError(source, name, f"expected {n} values, got shape {arr.shape}")
        extra[name] = arr
    for i in range(n):
        for b in range(len(edges)):
            x = g[i, b]
            if not math.isfinite(x):
                raise SnapshotError(source, f"{names[i]}, {labels[b]}", "must be a finite number")
            if x < 0:
                raise SnapshotError(
                    source,
                    f"{names[i]}, {labels[b]}",
                    f"balance is negative ({x:g}); balances must be ≥ 0",
                )
        for name, arr in extra.items():
            x = arr[i]
            if i == 0:
                continue
            if math.isnan(x):
                raise SnapshotError(
                    source,
                    f"{names[i]}, {name}",
                    "is empty; give the amount for the period ending at this date (0 if none)",
                )
            if not math.isfinite(x):
                raise SnapshotError(source, f"{names[i]}, {name}", "must be a finite number")
            if x < 0:
                raise SnapshotError(
                    source, f"{names[i]}, {name}", f"is negative ({x:g}); must be ≥ 0"
                )
        if i > 0:
            prev, cur = dates[i - 1], dates[i]
            if cur <= prev:
                raise SnapshotError(
                    source,
                    f"{names[i]}, date",
                    f"{cur.isoformat()} is not after {prev.isoformat()} ({names[i - 1]}); "
                    "snapshots must be in date order, one per date",
                )
            if months_between(prev, cur) is None:
                raise SnapshotError(
                    source,
                    f"{names[i]}, date",
                    f"{cur.isoformat()} is not a whole number of months after "
                    f"{prev.isoformat()}; use month-end dates or the same day of the month",
                )
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


def _parse_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def read_snapshots(path: str | Path, edges_months: Sequence[int]) -> Snapshots:
    """Read an aging history CSV.

    The columns are ``date,<bucket label 1>,…,<bucket label K>[,billings][,write_offs]``.
    One row per snapshot, in date order; dates as ``YYYY-MM-DD``; lines starting with ``#`` and
    blank lines are skipped. ``billings`` and ``write_offs`` (optional, any order after the
    buckets) are the amounts of the period ending at the row's date; on the first row they are
    not used and may be empty.

    Parameters
    ----------
    path : str or Path
        The CSV file.
    edges_months : sequence of int
        Bucket lower edges in months; one bucket column per edge, in order. A column label in
        arsim's style (``1y-2y``, ``1-2y``, ``0-6m``, ``4y+``) must name its bucket's months.

    Returns
    -------
    Snapshots

    Raises
    ------
    SnapshotError
        If the file cannot be read, is not CSV, or breaks a rule (``FILE: FIELD: reason``).
    """
    name = str(path)
    text = read_text_file(path, SnapshotError, what="CSV file", expected="CSV")
    if "\x00" in text:
        raise SnapshotError(name, "-", "not a text file (contains NUL bytes); expected CSV")
    rows: list[tuple[int, list[str]]] = []
    reader = csv.reader(io.StringIO(text), strict=True)
    line = 1  # where the next record starts
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise SnapshotError(name, f"line {line}", f"not valid CSV: {exc}") from None
        if cells and any(c.strip() for c in cells) and not cells[0].lstrip().startswith("#"):
            rows.append((line, [c.strip() for c in cells]))
        line = reader.line_num + 1
    if not rows:
        raise SnapshotError(
            name, "-", "empty; expected a header line date,<bucket labels>[,billings][,write_offs]"
        )
    header = rows[0][1]
    if header[0].lower() != "date":
        raise SnapshotError(
            name,
            "header",
            f"the first column must be 'date', got {header[0]!r} (expected a CSV of aging "
            "snapshots: date,<bucket labels>[,billings][,write_offs])",
        )
    seen: set[str] = set()
    for col in header:
        if not col:
            raise SnapshotError(name, "header", "a column has no name")
        if col.lower() in seen:
            raise SnapshotError(name, "header", f"column {col!r} appears twice")
        seen.add(col.lower())
    optional = {c.lower(): i for i, c in enumerate(header) if c.lower() in _OPTIONAL}
    bucket_cols = [i for i in range(1, len(header)) if header[i].lower() not in _OPTIONAL]
    labels = [header[i] for i in bucket_cols]
    edges = parse_edges(list(edges_months), name)
    if len(labels) > len(edges):
        for col in labels:
            close = difflib.get_close_matches(col.lower(), _OPTIONAL, n=1, cutoff=0.7)
            if close:
                raise SnapshotError(
                    name,
                    "header",
                    f"unknown column {col!r} (did you mean {close[0]!r}?); the columns are date, "
                    "one per bucket, then optional billings, write_offs",
                )
    _check_labels(labels, edges, name)
    if bucket_cols != list(range(1, len(labels) + 1)):
        raise SnapshotError(
            name, "header", "the bucket columns must follow 'date'; billings, write_offs go last"
        )
    dates: list[dt.date] = []
    gross: list[list[float]] = []
    extra: dict[str, list[float]] = {k: [] for k in optional}
    row_names = []
    for line, cells in rows[1:]:
        where = f"line {line}"
        if len(cells) != len(header):
            raise SnapshotError(
                name, where, f"has {len(cells)} cells, the header has {len(header)}"
            )
        try:
            date = dt.date.fromisoformat(cells[0])
        except ValueError:
            raise SnapshotError(
                name, f"{where}, date", f"expected a date like 2024-06-30, got {cells[0]!r}"
            ) from None
        values = []
        for i in bucket_cols:
            x = _parse_number(cells[i])
            if x is None:
                raise SnapshotError(
                    name, f"{where}, {header[i]}", f"expected a number, got {cells[i]!r}"
                )
            values.append(x)
        for key, i in optional.items():
            if cells[i] == "":
                extra[key].append(math.nan)
                continue
            x = _parse_number(cells[i])
            if x is None or math.isnan(x):
                raise SnapshotError(
                    name, f"{where}, {header[i]}", f"expected a number, got {cells[i]!r}"
                )
            extra[key].append(x)
        dates.append(date)
        gross.append(values)
        row_names.append(where)
    return snapshots_from_table(
        dates,
        np.array(gross, dtype=float).reshape(len(dates), len(labels)),
        edges_months=edges,
        labels=labels,
        billings=extra.get("billings"),
        write_offs=extra.get("write_offs"),
        source=name,
        row_names=row_names,
    )
