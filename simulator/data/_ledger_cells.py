"""Cells of a ledger table checked one column at a time, and the bad rows found so far."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._ledger_parse import parse_amounts, parse_dates, parse_text
from ._ledger_read import RawTable
from ._ledger_table import CREDIT_NOTE, PAYMENT, RECOVERY, WRITE_OFF, Reject

_KINDS = {
    "payment": PAYMENT,
    "write_off": WRITE_OFF,
    "writeoff": WRITE_OFF,
    "credit_note": CREDIT_NOTE,
    "creditnote": CREDIT_NOTE,
    "recovery": RECOVERY,
    "reversal": -1,
}


class _Rejects:
    """Bad rows found so far: per file, the first reason of each row."""

    def __init__(self, table: RawTable) -> None:
        self.table = table
        n = len(table.frame)
        self.column = np.full(n, None, dtype=object)
        self.reason = np.full(n, None, dtype=object)

    def add(self, mask: np.ndarray, column: str, reason: str | np.ndarray) -> None:
        new = mask & (self.reason == None)  # noqa: E711 (elementwise)
        if new.any():
            self.column[new] = column
            self.reason[new] = reason if isinstance(reason, str) else reason[new]

    @property
    def bad(self) -> np.ndarray:
        return self.reason != None  # noqa: E711

    def rejects(self) -> list[Reject]:
        idx = np.flatnonzero(self.bad)
        if not len(idx):
            return []
        frame = self.table.frame.iloc[idx]
        cells = frame.astype(str).to_numpy()
        names = list(frame.columns)
        return [
            Reject(
                self.table.source,
                int(self.table.rows[i]),
                str(self.column[i]),
                str(self.reason[i]),
                "; ".join(f"{c}={v}" for c, v in zip(names, row, strict=True)),
            )
            for i, row in zip(idx, cells, strict=True)
        ]


def _check_cells(rej: _Rejects, frame: pd.DataFrame, cols: dict, field: str, kind: str, **kw):
    """Parse one column, recording empty required cells and unreadable ones as bad rows."""
    col = cols.get(field)
    n = len(frame)
    if col is None:
        return None, np.ones(n, dtype=bool)
    s = frame[col]
    if kind == "text":
        text = parse_text(s)
        missing = text == ""
        if kw.get("required"):
            rej.add(missing, col, "empty")
        return text, missing
    if kind == "date":
        days, missing, bad = parse_dates(s, kw.get("fmt"))
        fmt = kw.get("fmt") or "ISO 8601 (2024-06-30); see --date-format"
        rej.add(
            bad,
            col,
            np.array(
                [f"not a date in the format {fmt}: {x!r}" for x in s.astype(str)], dtype=object
            )
            if bad.any()
            else "",
        )
        if kw.get("required"):
            rej.add(missing, col, "empty")
        return days, missing
    values, missing, bad = parse_amounts(s, kw["divisor"])
    if bad.any():
        shown = np.array([f"not a number: {x!r}" for x in s.astype(str)], dtype=object)
        rej.add(bad, col, shown)
    if kw.get("required"):
        rej.add(missing, col, "empty")
    return values, missing
