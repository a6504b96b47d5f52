"""Month ends, the data end of a ledger and the backtest's origins (DESIGN 7): listed or rolling,
each a month end with at least one month after it and the 12 month-end pairs the naive forecast
needs before it."""

from __future__ import annotations

import calendar
import datetime as dt

import numpy as np

#: Month-end pairs a window needs before an origin (the naive forecast's, DESIGN 7).
NAIVE_PAIRS = 12


class BacktestError(ValueError):
    """A backtest that cannot run as asked, as one line ``FILE: FIELD: reason``.

    Attributes
    ----------
    file, field, reason : str
    """

    def __init__(self, file: str, field: str, reason: str) -> None:
        self.file, self.field, self.reason = str(file), field, reason
        super().__init__(f"{self.file}: {field}: {reason}")


def month_number(d: dt.date) -> int:
    """Months since January of year 0 (``2024-06-30`` → 24293): differences count months."""
    return d.year * 12 + d.month - 1


def month_end(number: int) -> dt.date:
    """The last day of the month :func:`month_number` gives ``number`` for."""
    year, month = divmod(int(number), 12)
    return dt.date(year, month + 1, calendar.monthrange(year, month + 1)[1])


def is_month_end(d: dt.date) -> bool:
    """Whether ``d`` is the last day of its month."""
    return (d + dt.timedelta(days=1)).day == 1


def months_between(a: dt.date, b: dt.date) -> int:
    """Whole calendar months from month end ``a`` to month end ``b``."""
    return month_number(b) - month_number(a)


def ledger_data_end(ledger) -> dt.date:
    """The last month end on or before the ledger's latest date (an invoice, an event or a
    credit note): the months after it may still be incomplete.

    Parameters
    ----------
    ledger : simulator.data.Ledger

    Returns
    -------
    datetime.date
    """
    days = [int(ledger.invoice_day.max())]
    for arr in (ledger.ev_day, ledger.credit_day):
        if len(arr):
            days.append(int(np.max(arr)))
    latest = dt.date(1970, 1, 1) + dt.timedelta(days=max(days))
    return latest if is_month_end(latest) else month_end(month_number(latest) - 1)


def ledger_first_month_end(ledger) -> dt.date:
    """The end of the first invoice's month: where a window starts by default (DESIGN 6.3)."""
    first = dt.date(1970, 1, 1) + dt.timedelta(days=int(ledger.invoice_day.min()))
    return month_end(month_number(first))


def rolling_origins(n: int, *, start: dt.date, data_end: dt.date, source: str) -> list[dt.date]:
    """The last ``n`` month ends with at least one month after them (to ``data_end``) and at
    least :data:`NAIVE_PAIRS` month-end pairs before them (from ``start``).

    Raises
    ------
    BacktestError
        If ``n < 1`` or fewer than ``n`` month ends qualify.
    """
    if n < 1:
        raise BacktestError(source, "--rolling", f"must be ≥ 1, got {n}")
    last = month_number(data_end) - 1
    first = month_number(start) + NAIVE_PAIRS
    available = last - first + 1
    if available < n:
        raise BacktestError(
            source,
            "--rolling",
            f"only {max(available, 0)} month ends have {NAIVE_PAIRS} month-end pairs before them "
            f"(from {start.isoformat()}) and a month after them (to the data end "
            f"{data_end.isoformat()}); asked for {n}",
        )
    return [month_end(m) for m in range(last - n + 1, last + 1)]


def parse_origins(text: str, source: str) -> list[dt.date]:
    """``--origins 2022-12-31,2023-06-30`` as dates (sorted, without repeats).

    Raises
    ------
    BacktestError
        If an item is not a date.
    """
    out = set()
    for item in text.split(","):
        item = item.strip()
        try:
            out.add(dt.date.fromisoformat(item))
        except ValueError:
            raise BacktestError(
                source, "--origins", f"expected dates like 2023-06-30, got {item!r}"
            ) from None
    return sorted(out)


def check_origins(
    origins: list[dt.date], *, start: dt.date, data_end: dt.date, source: str
) -> list[dt.date]:
    """Listed origins, checked: month ends, before the data end, after :data:`NAIVE_PAIRS`
    month-end pairs of data (from ``start``).

    Raises
    ------
    BacktestError
        For the first origin that breaks a rule.
    """
    if not origins:
        raise BacktestError(source, "--origins", "no origin given")
    for t in sorted(origins):
        if not is_month_end(t):
            raise BacktestError(source, "--origins", f"{t.isoformat()} is not a month end")
        if t >= data_end:
            raise BacktestError(
                source,
                "--origins",
                f"{t.isoformat()} has no month of data after it (the data end is "
                f"{data_end.isoformat()}; see --data-end)",
            )
        if months_between(start, t) < NAIVE_PAIRS:
            raise BacktestError(
                source,
                "--origins",
                f"{t.isoformat()} has {max(months_between(start, t), 0)} month-end pairs of data "
                f"before it (from {start.isoformat()}); the fit and the naive forecast need "
                f"{NAIVE_PAIRS}",
            )
    return sorted(origins)


def origin_horizon(origin: dt.date, horizon: int, data_end: dt.date) -> int:
    """``H_T = min(H, months from T to the data end)``."""
    return min(int(horizon), months_between(origin, data_end))
