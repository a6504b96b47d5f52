"""A :class:`Ledger` from its tables (DESIGN 6.1, 6.5): cells parsed, one-row settlements and
event tables turned into events, and the bad-data rules applied. Every bad row becomes a
:class:`Reject` naming its file, row, column and reason; the rows it makes meaningless (the
events of a rejected invoice, an invoice whose events overpay it) are left out with it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._ledger_cells import _check_cells, _Rejects
from ._ledger_events import _events_table, _overpaid, _settlement_events
from ._ledger_read import (
    INVOICE_OPTIONAL,
    INVOICE_REQUIRED,
    SETTLEMENT,
    RawTable,
    resolve_columns,
)
from ._ledger_table import (
    Ledger,
    LedgerError,
    Reject,
)


def ledger_from_tables(
    invoices: RawTable,
    events: RawTable | None = None,
    *,
    columns: dict[str, str] | None = None,
    date_format: str | None = None,
    unit_divisor: float = 1.0,
    segment_required: bool = False,
) -> Ledger:
    """Build a :class:`Ledger` from its tables, applying the bad-data rules of DESIGN 6.5.

    Parameters
    ----------
    invoices : RawTable
        One row per invoice (:func:`read_table`).
    events : RawTable, optional
        The events table of the invoices-plus-events form.
    columns : dict, optional
        Field → the file's column (``--columns``; events fields prefixed ``events.``).
    date_format : str, optional
        A ``strptime`` format for text dates (default ISO 8601).
    unit_divisor : float, optional
        Amounts are divided by it (e.g. 1e6 for millions).
    segment_required : bool, optional
        An empty ``segment`` cell is a bad row (``--segments``).

    Returns
    -------
    Ledger
        With every bad row in ``rejects`` (the caller decides whether to go on without them).

    Raises
    ------
    LedgerError
        For what no row can be blamed for: a missing column, settlement columns beside an
        events file, no invoice at all.
    """
    mapping = columns or {}
    cols = resolve_columns(invoices, mapping, INVOICE_REQUIRED, INVOICE_OPTIONAL)
    if events is not None:
        extra = [cols[f] for f in SETTLEMENT if f in cols]
        if extra:
            raise LedgerError(
                invoices.source,
                None,
                extra[0],
                "with --events the payments and write-offs come from the events file; "
                "leave the settlement columns out of the invoice table",
            )
    frame = invoices.frame
    rej = _Rejects(invoices)
    counts = {"invoice_rows": len(frame), "event_rows": 0, "zero_amount_rows": 0}
    ids, _ = _check_cells(rej, frame, cols, "invoice_id", "text", required=True)
    cust, _ = _check_cells(rej, frame, cols, "customer", "text", required=True)
    day, _ = _check_cells(rej, frame, cols, "invoice_date", "date", fmt=date_format, required=True)
    amount, _ = _check_cells(
        rej, frame, cols, "amount", "number", divisor=unit_divisor, required=True
    )
    due, due_missing = _check_cells(rej, frame, cols, "due_date", "date", fmt=date_format)
    seg, _ = _check_cells(rej, frame, cols, "segment", "text", required=segment_required)
    cur, cur_missing = _check_cells(rej, frame, cols, "currency", "text")
    # zero-amount rows are skipped; negative lines are credit notes against the customer
    zero = ~rej.bad & (amount == 0.0)
    counts["zero_amount_rows"] += int(zero.sum())
    positive = ~rej.bad & (amount > 0.0)
    _check_duplicates(rej, ids, positive, cols["invoice_id"], invoices.rows)
    currency = _check_currency(rej, cur, cur_missing, cols.get("currency"))
    ev = _settlement_events(rej, frame, cols, amount, day, date_format, unit_divisor)
    ev["row"] = invoices.rows[ev["row_index"]]
    keep = ~rej.bad & (amount > 0.0)
    neg = ~rej.bad & (amount < 0.0)
    all_rejects = rej.rejects()
    inv_rows = invoices.rows
    if events is not None:
        ev, ev_rejects, n_rows, zero_ev = _events_table(
            events, mapping, cols, ids, keep, rej.bad, inv_rows, date_format, unit_divisor
        )
        counts["event_rows"] = n_rows
        counts["zero_amount_rows"] += zero_ev
        all_rejects += ev_rejects
    if not keep.any():
        bad_invoices = [r for r in all_rejects if r.file == invoices.source]
        if bad_invoices:  # the first bad invoice row says more than "no invoices"
            first = min(bad_invoices, key=lambda r: r.row)
            raise LedgerError(
                first.file,
                first.row,
                first.column,
                f"{first.reason} (and no row is a valid invoice: {len(all_rejects)} bad rows)",
            )
        raise LedgerError(invoices.source, None, "-", "no invoices (no row with a positive amount)")
    # events: invoice row index -> position among kept invoices
    position = np.full(len(frame), -1, dtype=np.int64)
    position[keep] = np.arange(int(keep.sum()))
    ev_inv = position[ev["row_index"]]
    ev_ok = ev_inv >= 0
    ev = {k: v[ev_ok] for k, v in ev.items()}
    ev_inv = ev_inv[ev_ok]
    inv_day = day[keep]
    # prepayments: dated at the invoice date
    early = ev["day"] < inv_day[ev_inv]
    counts["prepayments"] = int(early.sum())
    ev["day"] = np.where(early, inv_day[ev_inv], ev["day"])
    counts["reversals"] = int((ev["amount"] < 0).sum())
    over_rejects, drop_inv = _overpaid(ev, ev_inv, amount[keep])
    all_rejects += [
        Reject(
            invoices.source if f == 0 else str(events.source if events else ""),
            r,
            c,
            reason,
        )
        for f, r, c, reason in over_rejects
    ]
    counts["invoices_left_out"] = int(drop_inv.sum())
    inv_keep = ~drop_inv
    new_pos = np.cumsum(inv_keep) - 1
    ev_keep = inv_keep[ev_inv]
    kept_rows = np.flatnonzero(keep)[inv_keep]
    cust_codes, customers = pd.factorize(pd.Series(cust[kept_rows]), sort=False)
    segment = segments = None
    if seg is not None:
        seg_codes, seg_names = pd.factorize(pd.Series(seg[kept_rows]), sort=True)
        segment, segments = seg_codes.astype(np.int64), tuple(str(s) for s in seg_names)
    neg_codes = (
        pd.Index(customers).get_indexer(pd.Series(cust[neg]))
        if neg.any()
        else np.zeros(0, dtype=np.int64)
    )
    due_days = day[kept_rows] if due is None else np.where(due_missing, day, due)[kept_rows]
    all_rejects.sort(key=lambda r: (r.file != invoices.source, r.row))
    return Ledger(
        source=invoices.source,
        sha256=invoices.sha256,
        events_source=events.source if events is not None else None,
        events_sha256=events.sha256 if events is not None else None,
        form="events" if events is not None else "invoices",
        invoice_id=ids[kept_rows],
        customer=cust_codes.astype(np.int64),
        customers=np.asarray(customers, dtype=object),
        invoice_day=day[kept_rows],
        due_day=np.maximum(due_days, day[kept_rows]),
        amount=amount[kept_rows],
        ev_invoice=new_pos[ev_inv[ev_keep]],
        ev_day=ev["day"][ev_keep],
        ev_amount=ev["amount"][ev_keep],
        ev_kind=ev["kind"][ev_keep].astype(np.int8),
        credit_customer=neg_codes.astype(np.int64),
        credit_day=day[neg],
        credit_amount=-amount[neg],
        segment=segment,
        segments=segments or (),
        currency=currency,
        has_due_dates=due is not None,
        counts=counts,
        rejects=tuple(all_rejects),
        columns=dict(cols),
    )


def _check_duplicates(rej, ids, positive, column, rows) -> None:
    s = pd.Series(ids[positive])
    dup = s.duplicated(keep=False).to_numpy()
    if not dup.any():
        return
    idx = np.flatnonzero(positive)[dup]
    first_row: dict[str, list[int]] = {}
    for i in idx:
        first_row.setdefault(ids[i], []).append(int(rows[i]))
    mask = np.zeros(len(ids), dtype=bool)
    mask[idx] = True
    reason = np.full(len(ids), None, dtype=object)
    for i in idx:
        others = [r for r in first_row[ids[i]] if r != rows[i]]
        reason[i] = f"duplicate invoice id {ids[i]!r} (also on row {others[0]})"
    rej.add(mask, column, reason)


def _check_currency(rej, cur, missing, column) -> str | None:
    if cur is None:
        return None
    ok = ~rej.bad & ~missing
    if not ok.any():
        return None
    first = str(cur[np.flatnonzero(ok)[0]])
    other = ok & (cur != first)
    rej.add(
        other,
        column,
        lambda idx: (
            f"currency {cur[i]!r} differs from the ledger's {first!r} (its first row)" for i in idx
        ),
    )
    return first
