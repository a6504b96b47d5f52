"""Aging snapshots from CSV: the file read into rows of text, the header checked, the cells
parsed into dates and numbers (errors name the line and column); :func:`snapshots_from_table`
then checks the rules across rows."""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..scenario import read_text_file
from ._snapshot_labels import _check_labels
from ._snapshot_table import snapshots_from_table
from ._snapshots import _OPTIONAL, SnapshotError, Snapshots, parse_edges


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
    rows = _read_rows(path)
    header = rows[0][1]
    _check_header_names(header, name)
    columns = _columns(header, edges_months, name)
    dates, gross, extra, row_names = _parse_rows(rows[1:], columns, name)
    return snapshots_from_table(
        dates,
        gross,
        edges_months=columns.edges,
        labels=columns.labels,
        billings=extra.get("billings"),
        write_offs=extra.get("write_offs"),
        source=name,
        row_names=row_names,
    )


# Reading: file -> rows of text


def _read_rows(path: str | Path) -> list[tuple[int, list[str]]]:
    """The CSV's records as (line where the record starts, stripped cells), the header first;
    comment lines (``#``) and blank lines left out."""
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
    return rows


# The header


@dataclass(frozen=True)
class _Columns:
    """What the header says: the cells of a row are ``header``; the balances are in
    ``bucket_cols`` (labelled ``labels``, buckets from ``edges``), the period amounts in
    ``optional`` (column name -> index)."""

    header: list[str]
    bucket_cols: list[int]
    labels: list[str]
    optional: dict[str, int]
    edges: list[int]


def _check_header_names(header: list[str], name: str) -> None:
    """The first column ``date``; every column named, no name twice (ignoring case)."""
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


def _columns(header: list[str], edges_months: Sequence[int], name: str) -> _Columns:
    """The bucket and optional columns of the header, checked against the edges: one bucket
    column per bucket, right after ``date``, each label naming its bucket's months if any."""
    optional = {c.lower(): i for i, c in enumerate(header) if c.lower() in _OPTIONAL}
    bucket_cols = [i for i in range(1, len(header)) if header[i].lower() not in _OPTIONAL]
    labels = [header[i] for i in bucket_cols]
    edges = parse_edges(list(edges_months), name)
    if len(labels) > len(edges):
        _check_misspelt_optional(labels, name)
    _check_labels(labels, edges, name)
    if bucket_cols != list(range(1, len(labels) + 1)):
        raise SnapshotError(
            name, "header", "the bucket columns must follow 'date'; billings, write_offs go last"
        )
    return _Columns(header, bucket_cols, labels, optional, edges)


def _check_misspelt_optional(labels: list[str], name: str) -> None:
    """A column taken for a bucket that looks like a misspelt optional column is an error."""
    for col in labels:
        close = difflib.get_close_matches(col.lower(), _OPTIONAL, n=1, cutoff=0.7)
        if close:
            raise SnapshotError(
                name,
                "header",
                f"unknown column {col!r} (did you mean {close[0]!r}?); the columns are date, "
                "one per bucket, then optional billings, write_offs",
            )


# Parsing: cells -> dates and numbers


def _parse_rows(
    rows: list[tuple[int, list[str]]], columns: _Columns, name: str
) -> tuple[list[dt.date], np.ndarray, dict[str, list[float]], list[str]]:
    """The records after the header: dates, balances (N, K), period amounts by column name and
    how each row is named in messages (``line 4``)."""
    dates: list[dt.date] = []
    gross: list[list[float]] = []
    extra: dict[str, list[float]] = {key: [] for key in columns.optional}
    row_names = []
    for line, cells in rows:
        where = f"line {line}"
        date, values, amounts = _parse_row(cells, columns, name, where)
        dates.append(date)
        gross.append(values)
        for key, x in amounts.items():
            extra[key].append(x)
        row_names.append(where)
    return (
        dates,
        np.array(gross, dtype=float).reshape(len(dates), len(columns.labels)),
        extra,
        row_names,
    )


def _parse_row(
    cells: list[str], columns: _Columns, name: str, where: str
) -> tuple[dt.date, list[float], dict[str, float]]:
    """One record: its date, its balances and its period amounts (NaN where empty)."""
    header = columns.header
    if len(cells) != len(header):
        raise SnapshotError(name, where, f"has {len(cells)} cells, the header has {len(header)}")
    date = _parse_date(cells[0], name, f"{where}, date")
    values = [_parse_balance(cells[i], name, f"{where}, {header[i]}") for i in columns.bucket_cols]
    amounts = {
        key: _parse_amount(cells[i], name, f"{where}, {header[i]}")
        for key, i in columns.optional.items()
    }
    return date, values, amounts


def _parse_date(text: str, name: str, field: str) -> dt.date:
    """A date like ``2024-06-30``."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise SnapshotError(name, field, f"expected a date like 2024-06-30, got {text!r}") from None


def _parse_balance(text: str, name: str, field: str) -> float:
    """A number (whether it is finite and ≥ 0 is a rule of the table)."""
    x = _parse_number(text)
    if x is None:
        raise SnapshotError(name, field, f"expected a number, got {text!r}")
    return x


def _parse_amount(text: str, name: str, field: str) -> float:
    """A period amount: a number other than NaN, or NaN for an empty cell (allowed on the
    first row only, which :func:`snapshots_from_table` checks)."""
    if text == "":
        return math.nan
    x = _parse_number(text)
    if x is None or math.isnan(x):
        raise SnapshotError(name, field, f"expected a number, got {text!r}")
    return x


def _parse_number(text: str) -> float | None:
    """``float(text)``, or ``None`` if it is not a number."""
    try:
        return float(text)
    except ValueError:
        return None
