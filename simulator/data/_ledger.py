"""Reading a ledger: files or data frames to a :class:`Ledger` (DESIGN 6.1, 6.5)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ._ledger_build import ledger_from_tables
from ._ledger_read import RawTable, parse_columns_option, read_table
from ._ledger_table import Ledger, LedgerError


def read_ledger(
    path: str | Path,
    *,
    events: str | Path | None = None,
    columns: str | dict[str, str] | None = None,
    date_format: str | None = None,
    unit_divisor: float = 1.0,
    sheet: str | None = None,
    segment_required: bool = False,
) -> Ledger:
    """Read an accounts-receivable ledger (DESIGN 6.1).

    Parameters
    ----------
    path : str or Path
        The invoice table: ``.csv``, ``.parquet`` or ``.xlsx``. One row per invoice:
        ``invoice_id``, ``customer``, ``invoice_date``, ``amount``, optionally ``due_date``,
        ``segment``, ``currency`` and (without ``events``) ``settled_date``,
        ``settled_amount``, ``written_off_date``, ``written_off_amount``.
    events : str or Path, optional
        The events table: ``invoice_id``, ``date``, ``amount``, ``kind`` (``payment``,
        ``write_off``, ``credit_note``, ``reversal``, ``recovery``).
    columns : str or dict, optional
        The file's column for each field (``"invoice_id=InvoiceNo,events.date=Posted"``);
        default: the field's name, ignoring case.
    date_format : str, optional
        A ``strptime`` format for dates written as text (default ISO 8601).
    unit_divisor : float, optional
        Amounts are divided by it (1e6 for millions).
    sheet : str, optional
        The Excel sheet (default the first).
    segment_required : bool, optional
        An empty ``segment`` cell is a bad row (for fitting segments).

    Returns
    -------
    Ledger
        Every bad row is in ``rejects``; the ledger holds the rest.

    Raises
    ------
    LedgerError
        For a file that cannot be read, a missing column, a bad option or no invoices.
    """
    name = str(path)
    if not (np.isfinite(unit_divisor) and unit_divisor > 0):
        raise LedgerError(name, None, "--unit-divisor", f"must be > 0, got {unit_divisor:g}")
    mapping = columns if isinstance(columns, dict) else parse_columns_option(columns, name)
    inv = read_table(path, sheet)
    ev = read_table(events) if events is not None else None
    return ledger_from_tables(
        inv,
        ev,
        columns=mapping,
        date_format=date_format,
        unit_divisor=unit_divisor,
        segment_required=segment_required,
    )


def ledger_from_frames(
    invoices: pd.DataFrame,
    events: pd.DataFrame | None = None,
    *,
    columns: dict[str, str] | None = None,
    date_format: str | None = None,
    unit_divisor: float = 1.0,
    source: str = "<ledger>",
) -> Ledger:
    """A :class:`Ledger` from data frames shaped like the files (rows numbered as in a CSV
    file: the header is row 1).

    Parameters
    ----------
    invoices, events : DataFrame
    columns, date_format, unit_divisor
        As in :func:`read_ledger`.
    source : str, optional
        The name used in messages (the events are ``<source>.events``).

    Returns
    -------
    Ledger
    """

    def table(frame: pd.DataFrame, name: str) -> RawTable:
        frame = frame.copy()
        frame.columns = [str(c).strip() for c in frame.columns]
        rows = np.arange(len(frame), dtype=np.int64) + 2
        return RawTable(frame=frame, rows=rows, source=name, sha256="")

    inv = table(invoices, source)
    ev = table(events, f"{source}.events") if events is not None else None
    return ledger_from_tables(
        inv, ev, columns=columns, date_format=date_format, unit_divisor=unit_divisor
    )
