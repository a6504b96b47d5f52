"""Aging snapshots: the table of one book's consecutive snapshots (:class:`Snapshots`), its
error (:class:`SnapshotError`, ``FILE: FIELD: reason`` on one line), its bucket edges and the
spacing of its dates.

The CSV reader is in ``_snapshot_csv``, the checks of a table in ``_snapshot_table`` and the
bucket labels against the edges in ``_snapshot_labels``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: The optional columns after the buckets: the amounts of the period ending at each date.
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
    values = _edge_values(edges, source)
    _check_edges(values, source)
    return values


def _edge_values(edges: str | Sequence[int], source: str) -> list[int]:
    """The edges as integers, from comma-separated text or a sequence of integers."""
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
        return values
    values = list(edges)
    if not values or not all(isinstance(v, int | np.integer) for v in values):
        raise SnapshotError(source, name, f"expected integer months, got {values!r}")
    return [int(v) for v in values]


def _check_edges(values: list[int], source: str) -> None:
    """The rules of bucket edges: the first 0, strictly increasing, the last at most 600."""
    name = "--edges-months"
    if values[0] != 0:
        raise SnapshotError(source, name, f"the first edge must be 0, got {values[0]}")
    for a, b in itertools.pairwise(values):
        if b <= a:
            raise SnapshotError(source, name, f"edges must increase strictly, got {b} after {a}")
    if values[-1] > 600:
        raise SnapshotError(source, name, f"the last edge must be ≤ 600, got {values[-1]}")


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
