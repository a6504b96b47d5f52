"""Invoice ledgers (DESIGN 6.1): the parsed ledger as plain arrays (:class:`Ledger`), its errors
(``FILE: row N: COLUMN: reason``), the rows it rejected, and calendar-month arithmetic on dates
held as days since 1970-01-01."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Event kinds, as stored in :attr:`Ledger.ev_kind` (a reversal is stored as a negative event
#: of the kind it undoes).
PAYMENT, WRITE_OFF, CREDIT_NOTE, RECOVERY = 0, 1, 2, 3
KIND_NAMES = ("payment", "write_off", "credit_note", "recovery")


class LedgerError(ValueError):
    """A problem with a ledger file or the options, as one line.

    The text is ``FILE: row N: COLUMN: reason`` for a bad row and ``FILE: COLUMN: reason`` for
    the whole file or an option (``COLUMN`` is then a column, an option such as ``--as-of``, or
    ``-`` for the file itself).
    """

    def __init__(self, file: str, row: int | None, column: str, reason: str) -> None:
        self.file, self.row, self.column, self.reason = str(file), row, column, reason
        where = f"row {row}: " if row is not None else ""
        super().__init__(f"{self.file}: {where}{column}: {reason}")


@dataclass(frozen=True)
class Reject:
    """A row left out of the ledger, and why.

    Attributes
    ----------
    file : str
        The invoices or events file.
    row : int
        The row as the user sees it: the line of a CSV file, the row of a spreadsheet (the
        header is row 1 in both), the 1-based record of a Parquet file.
    column : str
        The column (as named in the file) that is wrong.
    reason : str
    values : str
        The row's cells, ``column=value`` separated by ``; ``.
    """

    file: str
    row: int
    column: str
    reason: str
    values: str = ""

    def error(self) -> LedgerError:
        """The reject as the one-line error of the command line."""
        return LedgerError(self.file, self.row, self.column, self.reason)


@dataclass(frozen=True)
class Ledger:
    """An accounts-receivable ledger as arrays (DESIGN 6.1), rejected rows left out.

    Dates are days since 1970-01-01 (``int64``); money is in the scenario's unit (the file's
    amounts divided by the unit divisor). Invoices are the lines with a positive amount;
    lines with a negative amount are credit notes against the customer (``credit_*``).

    Attributes
    ----------
    source, sha256 : str
        The invoices file and its SHA-256.
    events_source, events_sha256 : str or None
        The events file (invoices-plus-events form) and its SHA-256.
    form : {"invoices", "events"}
        One row per invoice, or invoices plus an events table.
    invoice_id : ndarray of str
    customer : ndarray of int
        Index into ``customers``.
    customers : ndarray of str
    invoice_day, due_day : ndarray of int
        ``due_day`` is the invoice day where no due date is given.
    amount : ndarray of float
    segment : ndarray of int or None
        Index into ``segments`` (when the file has a ``segment`` column).
    segments : tuple of str
    ev_invoice, ev_day, ev_amount, ev_kind : ndarray
        Events: the invoice (index), the day (a payment before the invoice date is dated at the
        invoice date), the signed amount and the kind (:data:`KIND_NAMES`).
    credit_customer, credit_day, credit_amount : ndarray
        Negative invoice lines (amounts as positive numbers).
    currency : str or None
    counts : dict
        Rows read and skipped: ``invoice_rows``, ``event_rows``, ``zero_amount_rows``,
        ``prepayments``, ``reversals``, ``invoices_left_out`` (with a rejected row).
    rejects : tuple of Reject
    columns : dict
        The ledger's field → the file's column.
    """

    source: str
    sha256: str
    form: str
    invoice_id: np.ndarray
    customer: np.ndarray
    customers: np.ndarray
    invoice_day: np.ndarray
    due_day: np.ndarray
    amount: np.ndarray
    ev_invoice: np.ndarray
    ev_day: np.ndarray
    ev_amount: np.ndarray
    ev_kind: np.ndarray
    credit_customer: np.ndarray
    credit_day: np.ndarray
    credit_amount: np.ndarray
    events_source: str | None = None
    events_sha256: str | None = None
    segment: np.ndarray | None = None
    segments: tuple[str, ...] = ()
    currency: str | None = None
    has_due_dates: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    rejects: tuple[Reject, ...] = ()
    columns: dict[str, str] = field(default_factory=dict)

    @property
    def n_invoices(self) -> int:
        """Number of invoices (positive lines)."""
        return len(self.amount)

    @property
    def n_customers(self) -> int:
        """Number of distinct customers."""
        return len(self.customers)

    def describe(self) -> dict[str, Any]:
        """Files, form, counts and date range, JSON-ready."""
        first = day_to_date(int(self.invoice_day.min())) if self.n_invoices else None
        last = day_to_date(int(self.invoice_day.max())) if self.n_invoices else None
        return {
            "file": self.source,
            "sha256": self.sha256,
            "events_file": self.events_source,
            "events_sha256": self.events_sha256,
            "form": self.form,
            "invoices": self.n_invoices,
            "customers": self.n_customers,
            "events": len(self.ev_day),
            "credit_lines": len(self.credit_day),
            "first_invoice": first.isoformat() if first else None,
            "last_invoice": last.isoformat() if last else None,
            "currency": self.currency,
            "counts": dict(self.counts),
            "rejected_rows": len(self.rejects),
        }


# Calendar months on days since 1970-01-01


def date_to_day(d: dt.date) -> int:
    """Days since 1970-01-01."""
    return (d - dt.date(1970, 1, 1)).days


def day_to_date(day: int) -> dt.date:
    """The date ``day`` days after 1970-01-01."""
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(day))


def month_index(days: np.ndarray | int) -> np.ndarray:
    """Months since January 1970 of each day (``2024-06-30`` → 653)."""
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    return d.astype("datetime64[M]").astype(np.int64)


def month_end_day(months: np.ndarray | int) -> np.ndarray:
    """The last day of each month index, as days since 1970-01-01."""
    m = np.asarray(months, dtype=np.int64) + 1
    return m.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) - 1


def is_month_end(d: dt.date) -> bool:
    """Whether ``d`` is the last day of its month."""
    return (d + dt.timedelta(days=1)).day == 1


def age_months(start_days: np.ndarray, at_days: np.ndarray | int) -> np.ndarray:
    """Whole calendar months from each start date to a date (DESIGN 6.2).

    The age ``a`` with ``start + a months ≤ at < start + (a+1) months``, months added by
    calendar with the day clamped to the month's end (31 January + 1 month = 28 or 29
    February). At a month end this is the difference of the month indices. A start after
    ``at`` gives a negative number.

    Parameters
    ----------
    start_days : ndarray of int
        Days since 1970-01-01.
    at_days : int or ndarray of int

    Returns
    -------
    ndarray of int
    """
    start = np.asarray(start_days, dtype=np.int64)
    at = np.broadcast_to(np.asarray(at_days, dtype=np.int64), start.shape)
    ms, ma = month_index(start), month_index(at)
    start_dom = start - ms.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) + 1
    at_dom = at - ma.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) + 1
    days_in_at_month = month_end_day(ma) - month_end_day(ma - 1)
    reached = at_dom >= np.minimum(start_dom, days_in_at_month)
    return ma - ms - np.where(reached, 0, 1)
