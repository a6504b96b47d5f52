"""Calibration from aging history: roll rates and monthly hazards from consecutive snapshots.

Users rarely know monthly collection rates; they know a company's aging tables from successive
reports. This module turns a table of snapshots (one row per date: gross balance per bucket, and
optionally the period's credit sales ``billings`` and ``write_offs``) into

1. **roll rates** (the flow-rate, or migration-rate, method of CECL and IFRS 9 simplified-approach
   matrices). Where the spacing between two snapshots equals the width of bucket ``b`` (and of
   bucket ``b+1``, so that ``b+1`` one period later holds exactly what was in ``b``), the roll
   rate of ``b`` is the share of it found in bucket ``b+1`` one period later,
   ``G_{b+1}(t+1) / G_b(t)``. The roll rate *into the open last bucket* is pooled,
   ``G_{K-1}(t+1) / (G_{K-2}(t) + G_{K-1}(t))``, because the open bucket at ``t+1`` also holds its
   own survivors (the plain ratio would count them as roll-ins and can exceed 1). Per period and
   balance-weighted over the periods (``Σ numerators / Σ denominators``). The historical loss rate
   of bucket ``b`` is the product of the average roll rates from ``b`` onward, the pooled rate
   into the open bucket being the last factor, times the assumed loss rate of the open bucket
   (``terminal_loss``); the open bucket's own loss rate is ``terminal_loss``.
2. **monthly hazards**: the average monthly collection rates ``c_b`` (and default rates ``p_b``
   when write-offs are given) for which the deterministic recursion of DESIGN 2.4 (no factor,
   multiplier 1, no seasonality), started at snapshot ``t`` with each bucket spread evenly over its
   ages (DESIGN 2.1) and fed the period's billings evenly month by month, reproduces the bucket
   totals of snapshot ``t+1``; least squares over all consecutive pairs
   (:func:`scipy.optimize.least_squares`, rates bounded to [0, 1]). Each period's residuals are
   divided by the period's book (the larger of its opening and closing totals), so a growing book
   does not weigh its later years more.
3. **residuals** per snapshot and bucket: how well the fitted model reproduces each snapshot.

What the data determine, and what this module does where they do not:

- The balances see only the total monthly exit rate ``c_b + p_b`` of each bucket. Without a
  ``write_offs`` column the default rates are held at given values (the base scenario's, or 0) and
  ``c_b`` is the exit rate less ``p_b``.
- One write-off total per period cannot fix one default rate per bucket unless the periods' bucket
  mixes differ enough: the default rates are fitted per bucket only when there are at least ``K``
  periods with write-offs and the matrix of the periods' exposures by bucket (columns scaled to
  unit length) has a condition number of at most :data:`PER_BUCKET_MAX_CONDITION`; otherwise one
  scale ``λ`` is fitted on a stated shape (``p_b = λ · shape_b``; the base scenario's default rates,
  or the same rate for every bucket).
- Without a ``billings`` column the balances billed during a period are unknown, so every bucket
  younger than the spacing (lower edge below the number of months between the snapshots; with
  spacing up to the first bucket's width, just the first bucket) is left out of that period's
  residuals.
- With four or more periods each rate gets a 95 % interval by resampling the periods (bootstrap,
  seeded); with fewer, the range of the per-period fits (periods that do not determine every rate
  on their own are left out of the range, and the notes say so).

Nothing here prints or writes files. :func:`read_snapshots` reads the CSV (lines starting with
``#`` are comments); every problem with it is a :class:`SnapshotError` whose text is
``FILE: FIELD: reason``.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import io
import itertools
import math
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tomlkit
from scipy import optimize

from .aging import AgingGrid
from .scenario import (
    Scenario,
    ScenarioError,
    default_labels,
    read_text_file,
    scenario_from_dict,
)

__all__ = [
    "BOOTSTRAP_MIN_PERIODS",
    "PER_BUCKET_MAX_CONDITION",
    "Calibration",
    "HazardFit",
    "Projection",
    "RollRates",
    "SnapshotError",
    "Snapshots",
    "calibrate",
    "fit_hazards",
    "format_report",
    "months_between",
    "parse_edges",
    "project",
    "read_snapshots",
    "roll_rates",
    "scenario_document",
    "snapshots_from_table",
]

#: Periods needed for bootstrap intervals; with fewer, the range of the per-period fits.
BOOTSTRAP_MIN_PERIODS = 4
#: Largest condition number of the (column-scaled) exposure matrix for per-bucket default rates.
PER_BUCKET_MAX_CONDITION = 10.0
#: Confidence level of the bootstrap intervals.
LEVEL = 0.95
_OPTIONAL = ("billings", "write_offs")
_RANK_TOL = 1e-9  # relative singular value below which the fit is not unique
_STEP = 1e-6  # finite-difference step of the Jacobian (rates live in [0, 1])


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


# --------------------------------------------------------------------------------------------
# Input


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


# --------------------------------------------------------------------------------------------
# Roll rates


@dataclass(frozen=True)
class RollRates:
    """Roll rates per period and balance-weighted, and the historical loss rates.

    Attributes
    ----------
    labels : tuple of str
        The K bucket labels; roll rates exist for the first K-1 (the last of them rolls into the
        open bucket, pooled).
    periods : ndarray, shape (N-1, K-1)
        Roll rate per period and bucket; NaN where undefined (see ``status``).
    status : list of list of str
        Per period and bucket: ``"ok"``, ``"spacing"`` (the spacing is not the bucket's width)
        or ``"zero"`` (zero balance: the rate is undefined).
    average : ndarray, shape (K-1,)
        Balance-weighted average over the periods where defined; NaN where no period defines it.
    loss_rates : ndarray, shape (K,)
        Historical loss rate per bucket; NaN where a factor is undefined.
    terminal_loss : float
        Assumed loss rate of the open bucket.
    notes : tuple of str
    """

    labels: tuple[str, ...]
    periods: np.ndarray
    status: list[list[str]]
    average: np.ndarray
    loss_rates: np.ndarray
    terminal_loss: float
    notes: tuple[str, ...] = ()


def roll_rates(snapshots: Snapshots, terminal_loss: float = 1.0) -> RollRates:
    """Roll rates (flow-rate method) and historical loss rates of an aging history.

    Parameters
    ----------
    snapshots : Snapshots
    terminal_loss : float, optional
        Assumed loss rate of the open bucket, in [0, 1] (default 1).

    Returns
    -------
    RollRates

    Raises
    ------
    ValueError
        If ``terminal_loss`` is not in [0, 1].
    """
    if not 0.0 <= terminal_loss <= 1.0:
        raise ValueError(f"terminal_loss must be in [0, 1], got {terminal_loss}")
    edges = snapshots.edges_months
    k = len(edges)
    g = snapshots.gross
    months = snapshots.months
    n_per = len(months)
    labels = snapshots.labels
    n_roll = max(k - 1, 0)
    width = np.diff(edges)
    rates = np.full((n_per, n_roll), np.nan)
    status = [["spacing"] * n_roll for _ in range(n_per)]
    num = np.zeros(n_roll)
    den = np.zeros(n_roll)
    zero_notes = []
    for t in range(n_per):
        for b in range(n_roll):
            # bucket b+1 at t+1 must hold exactly what was in b at t (the pooled rate into the
            # open bucket also counts the open bucket's own survivors)
            if months[t] != width[b] or (b < k - 2 and width[b + 1] != width[b]):
                continue
            if b == k - 2:
                n_, d_ = g[t + 1, k - 1], g[t, k - 2] + g[t, k - 1]
            else:
                n_, d_ = g[t + 1, b + 1], g[t, b]
            if d_ <= 0.0:
                status[t][b] = "zero"
                zero_notes.append(f"{labels[b]} at {snapshots.dates[t].isoformat()}")
                continue
            status[t][b] = "ok"
            rates[t, b] = n_ / d_
            num[b] += n_
            den[b] += d_
    average = np.full(n_roll, np.nan)
    np.divide(num, den, out=average, where=den > 0)
    loss = np.full(k, np.nan)
    loss[k - 1] = terminal_loss
    for b in range(k - 2, -1, -1):
        loss[b] = average[b] * loss[b + 1]  # NaN propagates
    notes = []
    if k == 1:
        notes.append("one bucket: no roll rates")
    if zero_notes:
        notes.append(
            "roll rate undefined (zero balance to roll from, not divided): " + "; ".join(zero_notes)
        )
    for b in range(n_roll):
        seen = [st[b] for st in status if st[b] != "spacing"]
        if b < k - 2 and width[b + 1] != width[b]:
            notes.append(
                f"no roll rate for {labels[b]}: it is {width[b]} months wide and {labels[b + 1]} "
                f"{width[b + 1]}, so {labels[b + 1]} a period later is not just what was in "
                f"{labels[b]}"
            )
        elif not seen:
            notes.append(
                f"no roll rate for {labels[b]}: no two snapshots are {width[b]} months apart "
                "(its width)"
            )
        elif "ok" not in seen:
            notes.append(f"no roll rate for {labels[b]}: its balance is zero in every period")
    return RollRates(
        labels=tuple(labels),
        periods=rates,
        status=status,
        average=average,
        loss_rates=loss,
        terminal_loss=float(terminal_loss),
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------------------------
# The deterministic projection (DESIGN 2.4 without the factor)


@dataclass(frozen=True)
class Projection:
    """Where the deterministic recursion takes a book in some months.

    Attributes
    ----------
    gross : ndarray, shape (K,)
        Balance per bucket at the end.
    collections, defaults, write_offs : float
        Totals over the months; ``write_offs`` counts balances reaching the write-off age only
        (defaults are written off at once, so the amount written off is ``defaults + write_offs``).
    exposure : ndarray, shape (K,)
        Sum over the months of each bucket's balance at the start of the month.
    """

    gross: np.ndarray
    collections: float
    defaults: float
    write_offs: float
    exposure: np.ndarray


def _run(
    grid: AgingGrid,
    c: np.ndarray,
    p: np.ndarray,
    opening: np.ndarray,
    billing: np.ndarray,
    months: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The recursion for S parameter sets × M periods at once.

    ``c``, ``p``: (S, K); ``opening``: (M, K) bucket totals, spread evenly; ``billing``: (M,) per
    month; ``months``: (M,). Returns end totals (S, M, K), collections, defaults and age
    write-offs (S, M) and exposures (S, M, K).
    """
    n_par, n_per = c.shape[0], opening.shape[0]
    k = grid.n_buckets
    h = np.minimum(c, 1.0 - p)  # DESIGN 2.3 with beta = rho = 0 and m·s = 1
    f_age = np.maximum(1.0 - h - p, 0.0)[:, grid.bucket_of_age].T[:, :, None]  # (A, S, 1)
    # AgingGrid.spread for M books at once: each bucket evenly over its ages
    ages = grid.bucket_of_age
    spread = opening.T[ages] / grid.widths[ages][:, None]  # (A, M)
    state = np.repeat(spread[:, None, :], n_par, axis=1)  # (A, S, M)
    starts = np.asarray(grid.edges)
    end = np.zeros((n_par, n_per, k))
    expo = np.zeros((k, n_par, n_per))
    wo = np.zeros((n_par, n_per))
    last = int(months.max())
    for m in range(1, last + 1):
        active = (months >= m).astype(float)
        expo += np.add.reduceat(state, starts, axis=0) * active
        rem = state * f_age
        new = np.empty_like(state)
        new[1:] = rem[:-1]
        if grid.write_off_age is not None:
            wo += rem[-1] * active
            new[0] = 0.0
        elif grid.n_ages == 1:
            new[0] = rem[0]
        else:
            new[-1] += rem[-1]
            new[0] = 0.0
        new[0] += billing
        state = new
        done = months == m
        if done.any():
            end[:, done, :] = np.moveaxis(np.add.reduceat(state[:, :, done], starts, axis=0), 0, -1)
    expo = np.moveaxis(expo, 0, -1)  # (S, M, K)
    coll = np.einsum("smk,sk->sm", expo, h)
    dflt = np.einsum("smk,sk->sm", expo, p)
    return end, coll, dflt, wo, expo


def project(
    edges_months: Sequence[int],
    collection_rates: Sequence[float],
    default_rates: Sequence[float],
    gross: Sequence[float],
    months: int,
    billings: float = 0.0,
    write_off_after_months: int | None = None,
) -> Projection:
    """Run the deterministic recursion of DESIGN 2.4 from an evenly spread book.

    Each bucket's balance is spread evenly over its ages (DESIGN 2.1); every month each age
    collects ``h_b = min(c_b, 1 − p_b)``, defaults ``p_b`` and keeps
    ``max(1 − h_b − p_b, 0)``; the remainder ages by one month (the last age absorbs, or is
    written off at the write-off age) and ``billings / months`` enters age 0.

    Parameters
    ----------
    edges_months : sequence of int
        Bucket lower edges.
    collection_rates, default_rates : sequence of float
        ``c_b`` and ``p_b`` per bucket.
    gross : sequence of float
        Opening balance per bucket.
    months : int
        Months to run (≥ 1).
    billings : float, optional
        Credit sales over the whole period, fed evenly month by month.
    write_off_after_months : int, optional
        Write-off age ``W``.

    Returns
    -------
    Projection
    """
    grid = AgingGrid(edges_months, write_off_after_months)
    c = np.asarray(collection_rates, dtype=float)[None, :]
    p = np.asarray(default_rates, dtype=float)[None, :]
    end, coll, dflt, wo, expo = _run(
        grid,
        c,
        p,
        np.asarray(gross, dtype=float)[None, :],
        np.array([billings / months]),
        np.array([months]),
    )
    return Projection(
        gross=end[0, 0],
        collections=float(coll[0, 0]),
        defaults=float(dflt[0, 0]),
        write_offs=float(wo[0, 0]),
        exposure=expo[0, 0],
    )


# --------------------------------------------------------------------------------------------
# The hazard fit


class _Problem:
    """Residuals of the bucket totals (and write-offs) for parameter vectors, vectorised."""

    def __init__(
        self,
        snapshots: Snapshots,
        grid: AgingGrid,
        mode: str,
        p_given: np.ndarray,
    ) -> None:
        s = snapshots
        self.grid, self.mode, self.p_given = grid, mode, p_given
        self.k = s.n_buckets
        self.months = s.months
        self.g0, self.g1 = s.gross[:-1], s.gross[1:]
        self.has_billings = s.billings is not None
        self.billing = (
            s.billings[1:] / self.months if s.billings is not None else np.zeros(s.n_periods)
        )
        self.wo_obs = s.write_offs[1:] if s.write_offs is not None else None
        lower = np.asarray(s.edges_months)
        # Without billings, buckets that hold balances billed during the period are left out.
        self.include = (
            np.ones_like(self.g1, dtype=bool)
            if self.has_billings
            else lower[None, :] >= self.months[:, None]
        )
        scale = np.maximum(self.g1.sum(axis=1), self.g0.sum(axis=1))
        self.scale = np.where(scale > 0, scale, 1.0)
        self.n_params = self.k + {"fixed": 0, "scale": 1, "per-bucket": self.k}[mode]
        lb = np.zeros(self.n_params)
        ub = np.ones(self.n_params)
        if mode == "scale":
            ub[-1] = 1.0 / float(p_given.max())
        self.bounds = (lb, ub)

    def rates(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        theta = np.atleast_2d(theta)
        c = theta[:, : self.k]
        if self.mode == "fixed":
            p = np.broadcast_to(self.p_given, c.shape)
        elif self.mode == "scale":
            p = theta[:, -1:] * self.p_given[None, :]
        else:
            p = theta[:, self.k :]
        return c, np.minimum(p, 1.0)

    def evaluate(self, theta: np.ndarray, idx: np.ndarray):
        c, p = self.rates(theta)
        return _run(self.grid, c, p, self.g0[idx], self.billing[idx], self.months[idx])

    def residuals(self, theta: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Residuals for parameter sets ``theta`` (S, n) on periods ``idx``: (S, m)."""
        end, _, dflt, wo, _ = self.evaluate(theta, idx)
        sc = self.scale[idx]
        bal = ((end - self.g1[idx][None]) / sc[None, :, None])[:, self.include[idx]]
        if self.wo_obs is None:
            return bal
        wres = (dflt + wo - self.wo_obs[idx][None]) / sc[None, :]
        return np.concatenate([bal, wres], axis=1)

    def jacobian(self, theta: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Central differences (one-sided at a bound), all columns in one vectorised run."""
        lb, ub = self.bounds
        n = len(theta)
        hi = np.minimum(theta + _STEP, ub)
        lo = np.maximum(theta - _STEP, lb)
        sets = np.repeat(theta[None, :], 2 * n, axis=0)
        sets[np.arange(n), np.arange(n)] = hi
        sets[n + np.arange(n), np.arange(n)] = lo
        r = self.residuals(sets, idx)
        return ((r[:n] - r[n:]) / (hi - lo)[:, None]).T

    def fit(self, theta0: np.ndarray, idx: np.ndarray, tol: float = 1e-15, max_nfev=None):
        """Least squares over the periods ``idx`` from ``theta0``."""
        lb, ub = self.bounds
        theta0 = np.clip(theta0, lb, ub)

        def fun(theta: np.ndarray) -> np.ndarray:
            return self.residuals(theta[None, :], idx)[0]

        def jac(theta: np.ndarray) -> np.ndarray:
            return self.jacobian(theta, idx)

        return optimize.least_squares(
            fun,
            theta0,
            jac=jac,
            bounds=(lb, ub),
            method="trf",
            x_scale="jac",
            ftol=tol,
            xtol=tol,
            gtol=tol,
            max_nfev=max_nfev or 100 * self.n_params,
        )


def _not_unique(jac: np.ndarray, names: list[str]) -> list[str]:
    """Names of parameters that trade off against each other (a null direction of the Jacobian)."""
    if jac.shape[0] == 0:
        return list(names)
    norms = np.linalg.norm(jac, axis=0)
    top = float(norms.max())
    if top <= 0.0:
        return list(names)
    dead = [names[i] for i in np.flatnonzero(norms <= _RANK_TOL * top)]
    if dead:
        return dead
    scaled = jac / norms
    if scaled.shape[0] < scaled.shape[1]:  # fewer residuals than parameters
        v = np.linalg.svd(scaled, full_matrices=True)[2][-1]
    else:
        _, sv, vt = np.linalg.svd(scaled, full_matrices=False)
        if sv[-1] > _RANK_TOL * sv[0]:
            return []
        v = vt[-1]
    big = np.abs(v) >= 0.1 * np.abs(v).max()
    return [names[i] for i in np.flatnonzero(big)]


@dataclass(frozen=True)
class HazardFit:
    """Monthly collection and default rates fitted to consecutive snapshots.

    Attributes
    ----------
    labels : tuple of str
    collection_rates, default_rates : ndarray, shape (K,)
        ``c_b`` and ``p_b``.
    collection_interval, default_interval : ndarray, shape (K, 2)
        Low and high end per rate (NaN when there is none).
    default_mode : str
        ``"fixed"`` (not fitted: no write-offs), ``"scale"`` (one scale on ``default_shape``) or
        ``"per-bucket"``.
    default_shape : ndarray or None
        The shape of the scale fit (or the fixed rates).
    default_scale : float or None
        The fitted scale ``λ`` (scale mode).
    interval_method : str
        ``"bootstrap"``, ``"per-period range"`` or ``"none"``.
    replicates : int
        Bootstrap replicates (or per-period fits) behind the intervals.
    seed : int
    converged : bool
    message : str
        What the optimiser said.
    fitted, observed : ndarray, shape (N-1, K)
        Model and observed bucket totals at the end of each period.
    included : ndarray of bool, shape (N-1, K)
        Which of them are in the residuals.
    fitted_write_offs, observed_write_offs : ndarray, shape (N-1,), or None
    cost : float
        Half the sum of squared (scaled) residuals.
    notes : tuple of str
    """

    labels: tuple[str, ...]
    collection_rates: np.ndarray
    default_rates: np.ndarray
    collection_interval: np.ndarray
    default_interval: np.ndarray
    default_mode: str
    default_shape: np.ndarray | None
    default_scale: float | None
    interval_method: str
    replicates: int
    seed: int
    converged: bool
    message: str
    fitted: np.ndarray
    observed: np.ndarray
    included: np.ndarray
    fitted_write_offs: np.ndarray | None
    observed_write_offs: np.ndarray | None
    cost: float
    notes: tuple[str, ...] = field(default=())


def _exposure_condition(expo: np.ndarray) -> float:
    norms = np.linalg.norm(expo, axis=0)
    if (norms <= 0).any() or expo.shape[0] < expo.shape[1]:
        return math.inf
    s = np.linalg.svd(expo / norms, compute_uv=False)
    return math.inf if s[-1] <= 0 else float(s[0] / s[-1])


def fit_hazards(
    snapshots: Snapshots,
    *,
    write_off_after_months: int | None = None,
    default_rates: Sequence[float] | None = None,
    default_source: str | None = None,
    default_mode: str = "auto",
    bootstrap: int = 200,
    seed: int = 0,
    max_nfev: int | None = None,
) -> HazardFit:
    """Fit monthly collection (and default) rates to consecutive aging snapshots.

    See the module docstring for the method and what the data determine.

    Parameters
    ----------
    snapshots : Snapshots
    write_off_after_months : int, optional
        Write-off age ``W`` of the recursion (must exceed the last edge).
    default_rates : sequence of float, optional
        Without write-offs, the fixed ``p_b`` (default 0); with write-offs, the shape of a scale
        fit (default: the same rate for every bucket; all-zero rates also mean that).
    default_source : str, optional
        Where ``default_rates`` come from, for the notes.
    default_mode : {"auto", "scale", "per-bucket"}, optional
        With write-offs: choose by identifiability (default), or force one.
    bootstrap : int, optional
        Bootstrap replicates (with at least :data:`BOOTSTRAP_MIN_PERIODS` periods); 0 for none.
    seed : int, optional
        Seed of the bootstrap resampling.
    max_nfev : int, optional
        Limit on the optimiser's function evaluations (default 100 per parameter).

    Returns
    -------
    HazardFit

    Raises
    ------
    SnapshotError
        If nothing can be fitted (no bucket is comparable between snapshots).
    ValueError
        If an argument is out of range.
    """
    s = snapshots
    k = s.n_buckets
    labels = list(s.labels)
    if default_mode not in ("auto", "scale", "per-bucket"):
        raise ValueError(f"default_mode must be auto, scale or per-bucket, got {default_mode!r}")
    if bootstrap < 0:
        raise ValueError("bootstrap must be ≥ 0")
    grid = AgingGrid(s.edges_months, write_off_after_months)
    notes: list[str] = []
    given = np.zeros(k) if default_rates is None else np.asarray(default_rates, dtype=float)
    if given.shape != (k,) or not np.all((given >= 0) & (given <= 1)):
        raise ValueError("default_rates must be K rates in [0, 1]")
    source = default_source or ("given" if default_rates is not None else None)
    if s.write_offs is None:
        mode, shape = "fixed", given
        notes.append(
            "default rates not fitted (no write_offs column): p_b held at "
            + (f"{_fmt_list(given)} ({source})" if source else "0")
            + "; the snapshots determine only the monthly exit rate c_b + p_b of each bucket, "
            "so c_b is that rate less p_b"
        )
    else:
        if given.sum() > 0:
            shape, shape_text = given, f"{_fmt_list(given)} ({source or 'given'})"
        else:
            shape, shape_text = np.ones(k), "flat (the same rate for every bucket)"
        mode = "scale" if default_mode == "auto" else default_mode
    problem = _Problem(s, grid, mode, shape)
    all_periods = np.arange(s.n_periods)
    if not problem.include.any() and problem.wo_obs is None:
        raise SnapshotError(
            s.source,
            "billings",
            "nothing to fit: without a billings column every bucket holds balances billed "
            "during the period (the snapshots are further apart than the last edge); add a "
            "billings column",
        )

    def start(pr: _Problem) -> np.ndarray:
        theta = np.full(pr.n_params, 0.05)
        if pr.mode == "scale":
            theta[-1] = min(0.002 / float(shape.mean()), pr.bounds[1][-1])
        elif pr.mode == "per-bucket":
            theta[k:] = 0.002
        return theta

    res = problem.fit(start(problem), all_periods, max_nfev=max_nfev)
    if s.write_offs is not None:
        _, _, _, _, expo = problem.evaluate(res.x, all_periods)
        cond = _exposure_condition(expo[0])
        n_wo = s.n_periods
        if default_mode == "auto" and cond <= PER_BUCKET_MAX_CONDITION:
            c, p = problem.rates(res.x)
            per = _Problem(s, grid, "per-bucket", shape)
            res2 = per.fit(np.concatenate([c[0], p[0]]), all_periods, max_nfev=max_nfev)
            problem, res, mode = per, res2, "per-bucket"
        cond_text = "∞" if math.isinf(cond) else f"{cond:.3g}"
        if mode == "per-bucket":
            notes.append(
                f"default rates fitted per bucket from the write-offs of {n_wo} periods "
                f"(exposure condition number {cond_text}"
                + (
                    f" ≤ {PER_BUCKET_MAX_CONDITION:g})"
                    if cond <= PER_BUCKET_MAX_CONDITION
                    else f", forced although above {PER_BUCKET_MAX_CONDITION:g})"
                )
            )
        else:
            why = (
                f"{n_wo} period(s) of write-offs for {k} buckets"
                if n_wo < k
                else f"the periods' bucket mixes are too alike (exposure condition number "
                f"{cond_text} > {PER_BUCKET_MAX_CONDITION:g})"
            )
            notes.append(
                f"default rates: one scale on a stated shape, p_b = λ · shape_b, shape = "
                f"{shape_text}, fitted λ = {res.x[-1]:.6g}"
                + (
                    f": one write-off total per period cannot fix one rate per bucket ({why})"
                    if default_mode == "auto"
                    else " (forced)"
                )
            )
    c, p = problem.rates(res.x)
    c, p = c[0].copy(), p[0].copy()
    names = [f"c[{lab}]" for lab in labels]
    names += {"fixed": [], "scale": ["λ"], "per-bucket": [f"p[{lab}]" for lab in labels]}[mode]
    unclear = _not_unique(problem.jacobian(res.x, all_periods), names)
    if unclear:
        notes.append(
            "the fit is not unique: the data do not separate " + ", ".join(unclear) + " (the "
            "values shown are one of many that fit equally well)"
        )
    lb, ub = problem.bounds
    at_bound = [
        f"{names[i]} = {res.x[i]:.3g}"
        for i in range(len(names))
        if names[i] not in unclear and (res.x[i] <= lb[i] + 1e-12 or res.x[i] >= ub[i] - 1e-12)
    ]
    if at_bound:
        notes.append("at a bound of [0, 1]: " + ", ".join(at_bound))
    converged = bool(res.status > 0)
    if not converged:
        notes.append(f"the fit did not converge: {res.message}")

    # Intervals
    draws: list[np.ndarray] = []
    seed = int(seed)
    if s.n_periods >= BOOTSTRAP_MIN_PERIODS and bootstrap > 0:
        method = "bootstrap"
        rng = np.random.default_rng(seed)
        failed = 0
        for _ in range(bootstrap):
            idx = rng.integers(0, s.n_periods, s.n_periods)
            r = problem.fit(res.x, idx, tol=1e-10, max_nfev=max_nfev)
            if r.status > 0:
                draws.append(r.x)
            else:
                failed += 1
        if failed:
            notes.append(f"{failed} of {bootstrap} bootstrap fits did not converge (left out)")
    elif 2 <= s.n_periods < BOOTSTRAP_MIN_PERIODS:
        method = "per-period range"
        left_out = []
        for t in range(s.n_periods):
            idx = np.array([t])
            r = problem.fit(res.x, idx, max_nfev=max_nfev)
            if r.status > 0 and not _not_unique(problem.jacobian(r.x, idx), names):
                draws.append(r.x)
            else:
                left_out.append(s.dates[t + 1].isoformat())
        if left_out:
            notes.append(
                "left out of the per-period range (alone they do not determine every rate): "
                "periods ending " + ", ".join(left_out)
            )
        if not draws:
            notes.append("no period alone determines every rate: no interval")
    else:
        method = "none"
        notes.append("one period: no interval" if s.n_periods == 1 else "bootstrap 0: no interval")
    n_draws = len(draws)
    interval = np.full((len(names), 2), np.nan)
    if draws:
        x = np.array(draws)
        if method == "bootstrap":
            a = 100 * (1 - LEVEL) / 2
            interval = np.percentile(x, [a, 100 - a], axis=0).T
        else:
            interval = np.stack([x.min(axis=0), x.max(axis=0)], axis=1)
    c_int = interval[:k]
    if mode == "fixed":
        p_int = np.full((k, 2), np.nan)
    elif mode == "scale":
        p_int = interval[k][None, :] * shape[:, None]
    else:
        p_int = interval[k:]
    end, _, dflt, wo, _ = problem.evaluate(res.x, all_periods)
    return HazardFit(
        labels=tuple(labels),
        collection_rates=c,
        default_rates=p,
        collection_interval=c_int,
        default_interval=p_int,
        default_mode=mode,
        default_shape=shape,
        default_scale=float(res.x[-1]) if mode == "scale" else None,
        interval_method=method,
        replicates=n_draws,
        seed=seed,
        converged=converged,
        message=str(res.message),
        fitted=end[0],
        observed=problem.g1.copy(),
        included=problem.include.copy(),
        fitted_write_offs=(dflt + wo)[0] if s.write_offs is not None else None,
        observed_write_offs=problem.wo_obs.copy() if problem.wo_obs is not None else None,
        cost=float(res.cost),
        notes=tuple(notes),
    )


def _fmt_list(values: Sequence[float]) -> str:
    return "[" + ", ".join(f"{v:.6g}" for v in values) + "]"


# --------------------------------------------------------------------------------------------
# The whole calibration


@dataclass(frozen=True)
class Calibration:
    """Roll rates, fitted hazards and residuals of one aging history.

    Attributes
    ----------
    snapshots : Snapshots
    roll : RollRates
    fit : HazardFit
    base : Scenario or None
        The base scenario (for the write-off age, default rates and the scenario written).
    notes : tuple of str
        Notes about the base (the fit is of average rates with multiplier 1, no seasonality).
    """

    snapshots: Snapshots
    roll: RollRates
    fit: HazardFit
    base: Scenario | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The calibration as JSON-ready data (``null`` where a value is undefined).

        Keys: ``file``, ``edges_months``, ``labels``, ``dates``, ``columns``, ``roll_rates``
        (``periods`` with ``from``, ``to``, ``months`` and ``rates`` keyed by bucket label;
        ``average`` keyed by bucket label), ``loss_rates``, ``terminal_loss``,
        ``collection_rates`` and ``default_rates`` (per label: ``value``, ``low``, ``high``),
        ``default_fit``, ``interval``, ``fit`` (``converged``, ``message``, ``cost``),
        ``residuals`` and ``notes``.
        """
        s, rr, ft = self.snapshots, self.roll, self.fit
        labels = list(s.labels)
        roll_labels = labels[:-1]

        def num(x: float) -> float | None:
            x = float(x)
            return x if math.isfinite(x) else None

        def rates(values: np.ndarray, interval: np.ndarray) -> dict[str, Any]:
            return {
                lab: {"value": num(v), "low": num(lo), "high": num(hi)}
                for lab, v, (lo, hi) in zip(labels, values, interval, strict=True)
            }

        periods = []
        for t in range(s.n_periods):
            periods.append(
                {
                    "from": s.dates[t].isoformat(),
                    "to": s.dates[t + 1].isoformat(),
                    "months": int(s.months[t]),
                    "rates": {lab: num(rr.periods[t, b]) for b, lab in enumerate(roll_labels)},
                }
            )
        residual_periods = []
        for t in range(s.n_periods):
            entry: dict[str, Any] = {
                "date": s.dates[t + 1].isoformat(),
                "observed": {lab: num(ft.observed[t, b]) for b, lab in enumerate(labels)},
                "fitted": {lab: num(ft.fitted[t, b]) for b, lab in enumerate(labels)},
                "included": {lab: bool(ft.included[t, b]) for b, lab in enumerate(labels)},
            }
            if ft.fitted_write_offs is not None and ft.observed_write_offs is not None:
                entry["write_offs"] = {
                    "observed": num(ft.observed_write_offs[t]),
                    "fitted": num(ft.fitted_write_offs[t]),
                }
            residual_periods.append(entry)
        return {
            "file": s.source,
            "edges_months": list(s.edges_months),
            "labels": labels,
            "dates": [d.isoformat() for d in s.dates],
            "columns": [
                c
                for c, v in zip(_OPTIONAL, (s.billings, s.write_offs), strict=True)
                if v is not None
            ],
            "roll_rates": {
                "periods": periods,
                "average": {lab: num(rr.average[b]) for b, lab in enumerate(roll_labels)},
                "into_open_bucket": roll_labels[-1] if roll_labels else None,
            },
            "loss_rates": {lab: num(rr.loss_rates[b]) for b, lab in enumerate(labels)},
            "terminal_loss": rr.terminal_loss,
            "collection_rates": rates(ft.collection_rates, ft.collection_interval),
            "default_rates": rates(ft.default_rates, ft.default_interval),
            "default_fit": {
                "mode": ft.default_mode,
                "shape": None if ft.default_shape is None else [num(x) for x in ft.default_shape],
                "scale": ft.default_scale,
            },
            "interval": {
                "method": ft.interval_method,
                "level": LEVEL if ft.interval_method == "bootstrap" else None,
                "replicates": ft.replicates,
                "seed": ft.seed,
            },
            "fit": {"converged": ft.converged, "message": ft.message, "cost": ft.cost},
            "residuals": {
                "periods": residual_periods,
                "by_bucket": _residuals_by_bucket(ft),
            },
            "notes": [*rr.notes, *ft.notes, *self.notes],
        }


def _residuals_by_bucket(ft: HazardFit) -> dict[str, dict[str, Any]]:
    out = {}
    for b, lab in enumerate(ft.labels):
        inc = ft.included[:, b]
        diff = (ft.fitted[:, b] - ft.observed[:, b])[inc]
        obs = ft.observed[:, b][inc]
        rel = diff[obs > 0] / obs[obs > 0]
        out[lab] = {
            "periods": int(inc.sum()),
            "rms": float(np.sqrt(np.mean(diff**2))) if diff.size else None,
            "max_abs": float(np.abs(diff).max()) if diff.size else None,
            "rms_relative": float(np.sqrt(np.mean(rel**2))) if rel.size else None,
        }
    return out


def calibrate(
    snapshots: Snapshots,
    *,
    terminal_loss: float = 1.0,
    base: Scenario | None = None,
    bootstrap: int = 200,
    seed: int = 0,
    default_mode: str = "auto",
) -> Calibration:
    """Roll rates, loss rates, fitted monthly rates and residuals of an aging history.

    Parameters
    ----------
    snapshots : Snapshots
        From :func:`read_snapshots` or :func:`snapshots_from_table`.
    terminal_loss : float, optional
        Assumed loss rate of the open bucket (default 1).
    base : Scenario, optional
        A scenario with the same bucket edges: its write-off age is used in the recursion and its
        default rates are held (no write-offs) or give the shape of the scale fit.
    bootstrap : int, optional
        Bootstrap replicates (with four or more periods).
    seed : int, optional
        Seed of the bootstrap.
    default_mode : {"auto", "scale", "per-bucket"}, optional
        See :func:`fit_hazards`.

    Returns
    -------
    Calibration

    Raises
    ------
    ScenarioError
        If the base's bucket edges differ from the snapshots'.
    SnapshotError
        If nothing can be fitted.
    """
    notes = []
    w = None
    p_given = None
    source = None
    if base is not None:
        if list(base.buckets.edges_months) != list(snapshots.edges_months):
            raise ScenarioError(
                base.source,
                "buckets.edges_months",
                f"is {list(base.buckets.edges_months)} but --edges-months is "
                f"{list(snapshots.edges_months)}; the base scenario must use the same buckets",
            )
        w = base.defaults.write_off_after_months
        p_given = list(base.defaults.monthly_rate)
        source = f"defaults.monthly_rate of the base {base.source}"
        col = base.collections
        if col.multiplier != 1.0 or col.seasonality is not None or col.factor_loading != 0.0:
            notes.append(
                "the fitted c_b are average rates at multiplier 1 without seasonality; the base's "
                f"collections.multiplier ({col.multiplier:g}), factor_loading "
                f"({col.factor_loading:g}) and seasonality "
                f"({'set' if col.seasonality is not None else 'none'}) are kept as they are"
            )
    roll = roll_rates(snapshots, terminal_loss)
    fit = fit_hazards(
        snapshots,
        write_off_after_months=w,
        default_rates=p_given,
        default_source=source,
        default_mode=default_mode,
        bootstrap=bootstrap,
        seed=seed,
    )
    return Calibration(snapshots=snapshots, roll=roll, fit=fit, base=base, notes=tuple(notes))


# --------------------------------------------------------------------------------------------
# Scenario files


def _round(x: float) -> float:
    return float(f"{float(x):.6g}")


def scenario_document(
    calibration: Calibration, base_text: str | None = None
) -> tuple[str, list[str]]:
    """The TOML text of the calibrated scenario, or of a fragment when there is no base.

    With a base (its text, so that comments are kept), the result is the base with the fitted
    ``collections.monthly_rate`` (and ``defaults.monthly_rate`` when fitted), the last snapshot as
    ``buckets.gross`` and its date as ``scenario.as_of``, and a line added to
    ``scenario.sources``; it is validated. Without a base, a fragment: ``[scenario]`` (``as_of``,
    ``sources``), ``[buckets]``, ``[collections]`` and ``[defaults]``.

    Parameters
    ----------
    calibration : Calibration
    base_text : str, optional
        The base scenario file's text (``calibration.base`` must be set).

    Returns
    -------
    text : str
    missing : list of str
        Required fields the text still lacks (empty for a complete scenario).
    """
    s, ft = calibration.snapshots, calibration.fit
    gross = [_round(x) for x in s.gross[-1]]
    c = [_round(x) for x in ft.collection_rates]
    p = [_round(x) for x in ft.default_rates]
    fitted_p = ft.default_mode != "fixed"
    span = f"{s.dates[0].isoformat()} to {s.dates[-1].isoformat()}"
    origin = f"arsim calibrate of {Path(s.source).name} ({len(s.dates)} snapshots, {span})"
    source_line = (
        f"{origin}: buckets.gross and scenario.as_of are the last snapshot; "
        "collections.monthly_rate"
        + (" and defaults.monthly_rate are" if fitted_p else " is")
        + " fitted to the snapshots (average rates, multiplier 1, no seasonality)"
    )
    if base_text is not None:
        doc = tomlkit.parse(base_text)
        if "scenario" not in doc:
            doc.add("scenario", tomlkit.table())
        meta = doc["scenario"]
        meta["as_of"] = s.dates[-1]
        if "sources" in meta:
            meta["sources"].append(source_line)
        else:
            meta["sources"] = [source_line]
        doc["buckets"]["gross"] = gross
        doc["buckets"]["gross"].comment(f"the snapshot of {s.dates[-1].isoformat()}")
        doc["collections"]["monthly_rate"] = c
        doc["collections"]["monthly_rate"].comment(f"fitted by {origin}")
        if fitted_p:
            doc["defaults"]["monthly_rate"] = p
            base_p = calibration.base.defaults.monthly_rate if calibration.base else []
            if ft.default_mode == "per-bucket":
                how = "fitted per bucket"
            elif any(base_p):
                how = f"fitted as {ft.default_scale:.6g} × the base's rates"
            else:
                how = "fitted as one rate for every bucket"
            doc["defaults"]["monthly_rate"].comment(f"{how} by {origin}")
        text = tomlkit.dumps(doc)
        base = calibration.base
        scenario_from_dict(tomllib.loads(text), source=base.source if base else "<scenario>")
        return text, []
    doc = tomlkit.document()
    doc.add(tomlkit.comment(f"Fragment of a scenario written by {origin}."))
    missing = ["buckets.provision_rates", "cash.opening"]
    doc.add(
        tomlkit.comment("Not a complete scenario: it still needs " + " and ".join(missing) + ".")
    )
    doc.add(tomlkit.nl())
    meta = tomlkit.table()
    meta["as_of"] = s.dates[-1]
    meta["sources"] = [source_line]
    doc["scenario"] = meta
    buckets = tomlkit.table()
    buckets["edges_months"] = list(s.edges_months)
    buckets["labels"] = list(s.labels)
    buckets["gross"] = gross
    buckets["gross"].comment(f"the snapshot of {s.dates[-1].isoformat()}")
    buckets.add(tomlkit.comment("provision_rates = [...]   # REQUIRED: the provision matrix"))
    doc["buckets"] = buckets
    col = tomlkit.table()
    col["monthly_rate"] = c
    col["monthly_rate"].comment("fitted")
    doc["collections"] = col
    dfl = tomlkit.table()
    dfl["monthly_rate"] = p
    dfl["monthly_rate"].comment(
        {
            "per-bucket": "fitted per bucket",
            "scale": "fitted as one rate for every bucket: the write-offs do not tell them apart",
        }.get(
            ft.default_mode,
            "NOT fitted (no write_offs column): ASSUMPTION 0; c_b above is the whole exit rate",
        )
    )
    doc["defaults"] = dfl
    doc.add(tomlkit.nl())
    doc.add(tomlkit.comment("[cash]"))
    doc.add(tomlkit.comment("opening = ...   # REQUIRED: opening cash"))
    return tomlkit.dumps(doc), missing


# --------------------------------------------------------------------------------------------
# The printed report


def _pct(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{100 * x:.2f} %"


def _rate(x: float, digits: int = 4) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.{digits}f}"


def format_report(calibration: Calibration) -> str:
    """The calibration as readable text: roll rates, loss rates, fitted rates, residuals, notes.

    Parameters
    ----------
    calibration : Calibration

    Returns
    -------
    str
    """
    s, rr, ft = calibration.snapshots, calibration.roll, calibration.fit
    labels = list(s.labels)
    k = len(labels)
    cols = [c for c, v in zip(_OPTIONAL, (s.billings, s.write_offs), strict=True) if v is not None]
    lines = [
        f"Aging history {s.source}: {len(s.dates)} snapshots, {s.dates[0].isoformat()} to "
        f"{s.dates[-1].isoformat()}, {k} buckets ({', '.join(labels)})"
        + (f", with {' and '.join(cols)}" if cols else ""),
        "",
    ]
    # Roll rates
    if k > 1:
        heads = [f"{labels[b]}→{labels[b + 1]}" + ("*" if b == k - 2 else "") for b in range(k - 1)]
        width = max(10, *(len(h) for h in heads))
        lines.append("Roll rates (share of a bucket found in the next one a period later):")
        lines.append(f"  {'period':<25}{'months':>6}  " + "  ".join(f"{h:>{width}}" for h in heads))
        for t in range(s.n_periods):
            cells = []
            for b in range(k - 1):
                st = rr.status[t][b]
                cells.append(
                    _rate(rr.periods[t, b])
                    if st == "ok"
                    else ("zero bal." if st == "zero" else "—")
                )
            period = f"{s.dates[t].isoformat()} → {s.dates[t + 1].isoformat()}"
            lines.append(
                f"  {period:<25}{s.months[t]:>6}  " + "  ".join(f"{x:>{width}}" for x in cells)
            )
        lines.append(
            f"  {'balance-weighted average':<31}  "
            + "  ".join(f"{_rate(x):>{width}}" for x in rr.average)
        )
        lines.append(
            f"  * into the open bucket, pooled: {labels[-1]}(t+1) / "
            f"({labels[-2]}(t) + {labels[-1]}(t))"
        )
        if any(st == "spacing" for row in rr.status for st in row):
            lines.append("  — no roll rate: the spacing is not the bucket's width (see the notes)")
        lines.append("")
    lines.append(
        f"Historical loss rates (product of the average roll rates × {_pct(rr.terminal_loss)}, "
        f"the assumed loss rate of {labels[-1]}):"
    )
    lines.append(
        "  " + "   ".join(f"{lab} {_pct(x)}" for lab, x in zip(labels, rr.loss_rates, strict=True))
    )
    lines.append("")
    # Fitted rates
    level = (
        f"{100 * LEVEL:.0f} % bootstrap interval"
        if ft.interval_method == "bootstrap"
        else ("range of per-period fits" if ft.interval_method == "per-period range" else "")
    )
    lines.append(
        "Monthly rates fitted to the snapshots (the model's monthly recursion restarted from an "
        "even spread at each snapshot):"
    )
    lw = max(8, *(len(lab) for lab in labels))

    def interval(lo: float, hi: float, digits: int) -> str:
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return ""
        return f"[{lo:.{digits}f}, {hi:.{digits}f}]"

    p_head = "default p_b" + ("" if ft.default_mode != "fixed" else " (held)")
    lines.append(f"  {'bucket':<{lw}}  {'collection c_b':>14}  {level:<22}  {p_head:>14}  {level}")
    for b, lab in enumerate(labels):
        lines.append(
            f"  {lab:<{lw}}  {ft.collection_rates[b]:>14.4f}  "
            f"{interval(*ft.collection_interval[b], 4):<22}  {ft.default_rates[b]:>14.5f}  "
            f"{interval(*ft.default_interval[b], 5)}"
        )
    if ft.interval_method == "bootstrap":
        lines.append(
            f"  intervals: {ft.replicates} bootstrap resamples of the {s.n_periods} periods, "
            f"seed {ft.seed}"
        )
    elif ft.interval_method == "per-period range":
        lines.append(
            f"  intervals: min and max of {ft.replicates} one-period fits "
            f"(fewer than {BOOTSTRAP_MIN_PERIODS} periods: no bootstrap)"
        )
    lines.append(
        f"  fit: {'converged' if ft.converged else 'DID NOT CONVERGE'}, "
        f"cost {ft.cost:.3g} (half the sum of squared residuals / closing book)"
    )
    lines.append("")
    # Residuals
    lines.append("Fit residuals (fitted − observed, % of observed; (x) = left out of the fit):")
    heads = [*labels, *(["write-offs"] if ft.fitted_write_offs is not None else [])]
    widths = [max(10, len(h)) for h in heads]

    def row(first: str, cells: list[str]) -> str:
        return f"  {first:<12}" + "".join(
            f"  {c:>{w}}" for c, w in zip(cells, widths, strict=False)
        )

    def rel(fitted: float, observed: float, inc: bool = True) -> str:
        if observed > 0:
            txt = f"{100 * (fitted - observed) / observed:+.2f} %"
        else:
            txt = f"{fitted - observed:+.3g}"
        return txt if inc else f"({txt})"

    lines.append(row("snapshot", heads))
    for t in range(s.n_periods):
        cells = [rel(ft.fitted[t, b], ft.observed[t, b], bool(ft.included[t, b])) for b in range(k)]
        if ft.fitted_write_offs is not None and ft.observed_write_offs is not None:
            cells.append(rel(ft.fitted_write_offs[t], ft.observed_write_offs[t]))
        lines.append(row(s.dates[t + 1].isoformat(), cells))
    by = _residuals_by_bucket(ft)
    rms = [_pct(v["rms_relative"]) if v["rms_relative"] is not None else "n/a" for v in by.values()]
    if ft.fitted_write_offs is not None and ft.observed_write_offs is not None:
        obs = ft.observed_write_offs
        ok = obs > 0
        rel_wo = (ft.fitted_write_offs[ok] - obs[ok]) / obs[ok]
        rms.append(_pct(float(np.sqrt(np.mean(rel_wo**2)))) if ok.any() else "n/a")
    lines.append(row("RMS", rms))
    notes = [*rr.notes, *ft.notes, *calibration.notes]
    if notes:
        lines.append("")
        lines.append("Notes:")
        lines += [f"  - {n}" for n in notes]
    return "\n".join(lines)
