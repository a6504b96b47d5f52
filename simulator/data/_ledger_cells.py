"""Cells of a ledger table checked one column at a time, and the bad rows found so far."""

from __future__ import annotations

from typing import Any

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
        self._bad = np.zeros(n, dtype=bool)

    def add(self, mask: np.ndarray, column: str, reason: Any) -> None:
        """Record the rows of ``mask`` not yet bad: ``reason`` is a text, an array of texts by
        row, or a function of the rows' indices giving their texts."""
        new = mask & ~self._bad
        if new.any():
            idx = np.flatnonzero(new)
            self.column[idx] = column
            if isinstance(reason, str):
                self.reason[idx] = reason
            elif callable(reason):
                self.reason[idx] = list(reason(idx))
            else:
                self.reason[idx] = reason[idx]
            self._bad[idx] = True

    @property
    def bad(self) -> np.ndarray:
        return self._bad

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


def _cell(s: pd.Series, i: int) -> str:
    """The cell as the file has it (stripped)."""
    return str(s.iloc[i]).strip()


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
            bad, col, lambda idx: (f"not a date in the format {fmt}: {_cell(s, i)!r}" for i in idx)
        )
        if kw.get("required"):
            rej.add(missing, col, "empty")
        return days, missing
    values, missing, bad = parse_amounts(s, kw["divisor"])
    rej.add(bad, col, lambda idx: (f"not a number: {_cell(s, i)!r}" for i in idx))
    if kw.get("required"):
        rej.add(missing, col, "empty")
    return values, missing
