"""Events of a ledger (DESIGN 6.1): from the one-row form's settlement columns or from an
events table (linked to invoices, reversals resolved), and the invoices they overpay."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._ledger_cells import _KINDS, _check_cells, _Rejects
from ._ledger_read import EVENT_FIELDS, SETTLEMENT, resolve_columns
from ._ledger_table import PAYMENT, RECOVERY, WRITE_OFF

#: Payments, write-offs and credit notes may exceed an invoice's amount by this share (rounding).
OVERPAY_TOL = 1e-6


def _settlement_events(rej, frame, cols, amount, day, fmt, divisor) -> dict[str, np.ndarray]:
    """Events of the one-row form: a payment at ``settled_date`` (of ``settled_amount``, by
    default the whole amount) and a write-off at ``written_off_date`` (of
    ``written_off_amount``, by default what is still open then)."""
    empty = {
        "row_index": np.zeros(0, dtype=np.int64),
        "day": np.zeros(0, dtype=np.int64),
        "amount": np.zeros(0),
        "kind": np.zeros(0, dtype=np.int64),
        "file": np.zeros(0, dtype=np.int64),
        "row": np.zeros(0, dtype=np.int64),
        "column": np.zeros(0, dtype=object),
    }
    if not any(f in cols for f in SETTLEMENT):
        return empty
    out = []
    settled_amt = np.zeros(len(frame))
    settled_day = np.zeros(len(frame), dtype=np.int64)
    has_settled = np.zeros(len(frame), dtype=bool)
    for kind, dfield, afield in (
        (PAYMENT, "settled_date", "settled_amount"),
        (WRITE_OFF, "written_off_date", "written_off_amount"),
    ):
        d, dmiss = _check_cells(rej, frame, cols, dfield, "date", fmt=fmt)
        a, amiss = _check_cells(rej, frame, cols, afield, "number", divisor=divisor)
        if d is None:
            if a is not None:
                rej.add(~amiss, cols[afield], f"{afield} needs a {dfield} column")
            continue
        if a is not None:
            rej.add(~amiss & dmiss, cols[afield], f"an amount without a {dfield}")
        if kind == PAYMENT:
            value = np.where(amiss, amount, a)
            settled_amt, settled_day, has_settled = value, d, ~dmiss
            col = cols.get(afield, cols[dfield])
        else:
            open_then = amount - np.where(has_settled & (settled_day <= d), settled_amt, 0.0)
            value = np.where(amiss, open_then, a)
            col = cols.get(afield, cols[dfield])
        use = ~dmiss & (value != 0.0) & (amount > 0.0)
        idx = np.flatnonzero(use)
        out.append((idx, d[idx], value[idx], np.full(len(idx), kind), col))
    if not out:
        return empty
    return {
        "row_index": np.concatenate([o[0] for o in out]),
        "day": np.concatenate([o[1] for o in out]),
        "amount": np.concatenate([o[2] for o in out]),
        "kind": np.concatenate([o[3] for o in out]),
        "file": np.zeros(sum(len(o[0]) for o in out), dtype=np.int64),
        "row": np.concatenate([np.asarray(o[0]) for o in out]),
        "column": np.concatenate([np.full(len(o[0]), o[4], dtype=object) for o in out]),
    }


def _events_table(events, mapping, inv_cols, ids, keep, inv_bad, inv_rows, fmt, divisor):
    """Events of the invoices-plus-events form, linked to invoice rows, reversals resolved."""
    emap = dict(mapping)
    if "events.invoice_id" not in emap and inv_cols["invoice_id"] in events.frame.columns:
        emap["events.invoice_id"] = inv_cols["invoice_id"]
    cols = resolve_columns(events, emap, EVENT_FIELDS, (), prefix="events.")
    frame = events.frame
    rej = _Rejects(events)
    ev_ids, _ = _check_cells(rej, frame, cols, "invoice_id", "text", required=True)
    day, _ = _check_cells(rej, frame, cols, "date", "date", fmt=fmt, required=True)
    amt, _ = _check_cells(rej, frame, cols, "amount", "number", divisor=divisor, required=True)
    kind_text, _ = _check_cells(rej, frame, cols, "kind", "text", required=True)
    norm = pd.Series(kind_text).str.lower().str.replace(r"[\s-]+", "_", regex=True)
    kind = norm.map(_KINDS).to_numpy()
    unknown = ~rej.bad & pd.isna(kind)
    rej.add(
        unknown,
        cols["kind"],
        lambda idx: (
            f"unknown kind {kind_text[i]!r}: expected payment, write_off, credit_note, reversal "
            "or recovery"
            for i in idx
        ),
    )
    kind = np.where(pd.isna(kind), 0, kind).astype(np.int64)
    zero = ~rej.bad & (amt == 0.0)
    # link to invoice rows: kept, rejected, or unknown
    index = pd.Index(ids[keep | inv_bad])
    rows_of = np.flatnonzero(keep | inv_bad)
    if index.has_duplicates:
        index_first = pd.Series(rows_of, index=index)
        index_first = index_first[~index_first.index.duplicated(keep="first")]
        where = index_first.reindex(ev_ids).to_numpy()
        row_index = np.where(pd.isna(where), -1, where).astype(np.int64)
    else:
        pos = index.get_indexer(ev_ids)
        row_index = np.full(len(pos), -1, dtype=np.int64)
        row_index[pos >= 0] = rows_of[pos[pos >= 0]]
    live = ~rej.bad & ~zero
    rej.add(
        live & (row_index < 0), cols["invoice_id"], "no invoice with this id in the invoice table"
    )
    to_bad = live & (row_index >= 0)
    to_bad[to_bad] = inv_bad[row_index[to_bad]]
    if to_bad.any():
        reasons = np.full(len(frame), None, dtype=object)
        reasons[to_bad] = [
            f"its invoice (row {inv_rows[r]}) was rejected" for r in row_index[to_bad]
        ]
        rej.add(to_bad, cols["invoice_id"], reasons)
    ok = ~rej.bad & ~zero
    # reversals undo the latest payment or write-off of the invoice on or before their date
    order = np.lexsort((np.arange(len(frame)), day, row_index))
    order = order[ok[order]]
    k = pd.Series(np.where(np.isin(kind[order], (PAYMENT, WRITE_OFF)), kind[order], np.nan))
    prev = k.groupby(row_index[order]).ffill().to_numpy()
    is_rev = kind[order] == -1
    nothing = is_rev & np.isnan(prev)
    if nothing.any():
        mask = np.zeros(len(frame), dtype=bool)
        mask[order[nothing]] = True
        rej.add(mask, cols["kind"], "a reversal with no earlier payment or write-off to undo")
    kind_res = kind.copy()
    kind_res[order[is_rev & ~nothing]] = prev[is_rev & ~nothing].astype(np.int64)
    amt = np.where(kind == -1, -np.abs(amt), amt)
    ok = ~rej.bad & ~zero
    idx = np.flatnonzero(ok)
    ev = {
        "row_index": row_index[idx],
        "day": day[idx],
        "amount": amt[idx],
        "kind": kind_res[idx],
        "file": np.ones(len(idx), dtype=np.int64),
        "row": events.rows[idx],
        "column": np.full(len(idx), cols["amount"], dtype=object),
    }
    return ev, rej.rejects(), len(frame), int(zero.sum())


def _overpaid(ev, ev_inv, amount) -> tuple[list[tuple[int, int, str, str]], np.ndarray]:
    """Invoices whose payments, write-offs and credit notes exceed their amount (beyond
    :data:`OVERPAY_TOL`) at some date: the first such event row, and the invoices to leave out."""
    drop = np.zeros(len(amount), dtype=bool)
    settle = ev["kind"] != RECOVERY
    if not settle.any():
        return [], drop
    idx = np.flatnonzero(settle)
    order = idx[np.lexsort((ev["row"][idx], ev["day"][idx], ev_inv[idx]))]
    inv = ev_inv[order]
    cum = pd.Series(ev["amount"][order]).groupby(inv).cumsum().to_numpy()
    over = cum > amount[inv] * (1.0 + OVERPAY_TOL)
    if not over.any():
        return [], drop
    first = pd.Series(np.flatnonzero(over)).groupby(inv[over]).first().to_numpy()
    out = []
    for j in first:
        e = order[j]
        i = inv[j]
        drop[i] = True
        out.append(
            (
                int(ev["file"][e]),
                int(ev["row"][e]),
                str(ev["column"][e]),
                f"payments, write-offs and credit notes reach {cum[j]:.6g}, more than the "
                f"invoice's amount {amount[i]:.6g}",
                int(ev["row_index"][e]),
            )
        )
    return [(f, r, c, reason) for f, r, c, reason, _ in out], drop
