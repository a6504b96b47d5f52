"""What a ledger fit gives out (DESIGN 6.5): the JSON-ready report, the scenario file (the base
with its comments kept, or a fragment), and the bootstrap replicates table (2.14)."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tomlkit

from ..scenario import profile_bucket_sums, scenario_from_dict
from ._ledger_book import LedgerBook
from ._ledger_fit import LEDGER_LEVEL, LedgerFit
from ._ledger_table import Ledger


def _num(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _round(x: float, digits: int = 6) -> float:
    return float(f"{float(x):.{digits}g}")


def ledger_report(ledger: Ledger, fit: LedgerFit, book: LedgerBook | None = None) -> dict[str, Any]:
    """The fit as JSON-ready data: the ledger, the window, the aged balance, the rates with
    intervals, exposures and counts per bucket, dilution, the cash-like share, what was
    skipped and rejected, and the notes.

    Parameters
    ----------
    ledger : Ledger
    fit : LedgerFit
        The whole book's.
    book : LedgerBook, optional
        Adds ``segments`` (per segment: label, billing share, aged balance less named debtors,
        rates with intervals), ``debtors`` and ``pooled_balance`` (the aged balance less the
        named debtors).

    Returns
    -------
    dict
    """
    ex = fit.exposures
    labels = fit.labels
    total = float(ex.gross.sum())
    g = ex.groups
    bucket_groups = [
        [gi for gi in range(g.n_groups) if g.bucket[gi] == b] for b in range(len(labels))
    ]

    def iv(a: np.ndarray, b: int) -> list[float | None]:
        return [_num(a[b, 0]), _num(a[b, 1])]

    buckets = {}
    for b, lab in enumerate(labels):
        gs = bucket_groups[b]
        buckets[lab] = {
            "exposure": _num(fit.exposure[b]),
            "exposure_for_defaults": _num(fit.exposure_p[b]),
            "collected": _num(fit.collected[b]),
            "written_off": _num(fit.written_off[b]),
            "credit_notes": _num(fit.credited[b]),
            "invoice_months": int(sum(ex.invoice_months[gs])),
            "invoices": int(max((ex.invoices[gi] for gi in gs), default=0)),
            "payment_months": int(sum(ex.payment_months[gs])),
            "write_off_months": int(sum(ex.write_off_months[gs])),
            "collection_rate_observed": _num(fit.raw_c[b]),
            "collection_rate_observed_interval": iv(fit.raw_c_interval, b),
            "collection_rate": _num(fit.c[b]),
            "collection_rate_interval": iv(fit.c_interval, b),
            "default_rate": _num(fit.p[b]),
            "default_rate_interval": iv(fit.p_interval, b),
            "dilution_rate": _num(fit.dilution[b]),
            "collection_rate_from_base": b in fit.kept_c,
            "default_rate_from_base": b in fit.kept_p,
        }
    aged = {
        lab: {
            "invoices": int(ex.open_invoices[b]),
            "gross": float(ex.gross[b]),
            "share": float(ex.gross[b] / total) if total > 0 else None,
        }
        for b, lab in enumerate(labels)
    }
    share = fit.cash_like_share
    doc = {
        "ledger": ledger.describe(),
        "as_of": ex.as_of.isoformat(),
        "window": {
            "from": ex.start.isoformat(),
            "to": ex.as_of.isoformat(),
            "pairs": ex.n_pairs,
            "age_basis": ex.age_basis,
            "write_off_age": g.write_off_age,
        },
        "edges_months": list(g.edges),
        "labels": labels,
        "aged_balance": aged,
        "aged_balance_total": {"invoices": int(ex.open_invoices.sum()), "gross": total},
        "opening_by_age": [float(x) for x in ex.balance_by_age],
        "rates": buckets,
        "by_age": {
            "last_age_pools_older": True,
            **{
                key: [_num(x) for x in fit.by_age[key]]
                for key in ("exposure", "collected", "written_off")
            },
            "collection_rate": [_num(x) for x in fit.by_age["c"]],
            "default_rate": [_num(x) for x in fit.by_age["p"]],
        },
        "seasonality": None if fit.seasonality is None else [float(x) for x in fit.seasonality],
        "cash_like_share": share,
        "credit_share": None if share is None else 1.0 - share,
        "cash_like": dict(ex.cash_like),
        "billed_monthly": ex.totals["billed_last_12"] / max(ex.totals["billed_months"], 1),
        "totals": dict(ex.totals),
        "counts": {**ledger.counts, **ex.counts},
        "rejected_rows": len(ledger.rejects),
        "interval": {
            "method": "bootstrap" if fit.bootstrap else None,
            "level": LEDGER_LEVEL if fit.bootstrap else None,
            "replicates": fit.bootstrap,
            "seed": fit.seed,
            "resampled": "customers and time blocks" if fit.time_blocks else "customers",
            "time_blocks": fit.time_blocks,
        },
        "inversion": dict(fit.inversion),
        "notes": list(fit.notes),
    }
    if book is not None:
        doc.update(_book_report(book, labels))
        doc["notes"] += list(book.notes)
    return doc


def _book_report(book: LedgerBook, labels: list[str]) -> dict[str, Any]:
    def rates(a: np.ndarray, iv: np.ndarray, kept: list[int]) -> dict[str, Any]:
        return {
            lab: {
                "rate": _num(a[b]),
                "interval": [_num(iv[b, 0]), _num(iv[b, 1])],
                "from_base": b in kept,
            }
            for b, lab in enumerate(labels)
        }

    out: dict[str, Any] = {
        "pooled_balance": {
            "gross": {lab: float(book.gross[b]) for b, lab in enumerate(labels)},
            "total": float(book.gross.sum()),
            "invoices": int(book.invoices.sum()),
        },
    }
    if book.segments:
        out["segment_column"] = book.column
        out["segments"] = {
            seg.name: {
                "label": seg.label,
                "billing_share": seg.billing_share,
                "credit_billed_last_12": seg.credit_billed,
                "cash_like_share": seg.fit.cash_like_share,
                "gross": {lab: float(seg.gross[b]) for b, lab in enumerate(labels)},
                "gross_total": float(seg.gross.sum()),
                "open_invoices": int(seg.invoices.sum()),
                "customers": int(seg.fit.exposures.counts.get("customers", 0)),
                "invoices": int(seg.fit.exposures.counts.get("invoices", 0)),
                "exposure": {lab: _num(seg.fit.exposure[b]) for b, lab in enumerate(labels)},
                "collection_rate": rates(seg.fit.c, seg.fit.c_interval, seg.fit.kept_c),
                "default_rate": rates(seg.fit.p, seg.fit.p_interval, seg.fit.kept_p),
                "seasonality": None
                if seg.fit.seasonality is None
                else [float(x) for x in seg.fit.seasonality],
            }
            for seg in book.segments
        }
    if book.debtors:
        out["debtors"] = [
            {
                "name": d.name,
                "customer": d.label,
                "balance": d.balance,
                "age": d.age,
                "age_months": d.age_months,
                "segment": d.segment,
                "open_invoices": d.invoices,
            }
            for d in book.debtors
        ]
    return out


def _profile(balance_by_age: np.ndarray) -> list[float]:
    prof = [_round(x) for x in balance_by_age]
    while len(prof) > 1 and prof[-1] == 0.0:
        prof.pop()
    return prof or [0.0]


def _provision_on(base_rates: list[float], base_edges: list[int], edges: list[int]) -> list[float]:
    idx = np.searchsorted(np.asarray(base_edges), np.asarray(edges), side="right") - 1
    return [float(base_rates[i]) for i in idx]


def ledger_document(
    ledger: Ledger,
    fit: LedgerFit,
    base_text: str | None = None,
    *,
    write_off_age: int | None = None,
    book: LedgerBook | None = None,
) -> tuple[str, list[str]]:
    """The TOML text of the fitted scenario (with a base) or a fragment (without).

    With a base (its text, so its comments are kept): ``scenario.as_of``, the aged balance as
    ``buckets.opening_by_age`` and ``buckets.gross`` (its sums), the fitted
    ``collections.monthly_rate`` and ``defaults.monthly_rate``, ``revenue.credit_share`` (the
    ledger's ``σ̂``), the seasonality and write-off age when fitted or given, the edges (and the
    base's provision rates moved onto them by the lower edge of each bucket) when they differ
    from the base's, and a line in ``scenario.sources`` naming the ledger and its SHA-256. The
    result is validated.

    With a ``book`` (:func:`ledger_book`), its ``[[segments]]`` (top-level ``gross`` and
    ``opening_by_age`` left out) and ``[[debtors]]``, the debtors' invoices out of the opening
    balances; the base's own segments and debtors are replaced. The top-level rates stay the
    whole book's.

    Returns
    -------
    text : str
    missing : list of str
        Required fields a fragment still lacks (empty for a complete scenario).
    """
    ex = fit.exposures
    edges = list(ex.groups.edges)
    profile = _profile(fit.exposures.balance_by_age if book is None else book.profile)
    gross = profile_bucket_sums(profile, edges)
    c = [_round(x) for x in fit.c]
    p = [_round(x) for x in fit.p]
    origin = f"arsim ledger of {Path(ledger.source).name}"
    hashes = f"SHA-256 {ledger.sha256}" + (
        f"; events {Path(ledger.events_source or '').name} SHA-256 {ledger.events_sha256}"
        if ledger.events_source
        else ""
    )
    source_line = (
        f"{origin} ({hashes}), {ledger.n_invoices:,} invoices of {ledger.n_customers:,} "
        f"customers, {ex.n_pairs} month-end pairs from {ex.start.isoformat()} to "
        f"{ex.as_of.isoformat()}: buckets.opening_by_age and gross are the aged balance at "
        "as_of; collections.monthly_rate and defaults.monthly_rate are fitted month end to "
        "month end (intervals in the ledger report); revenue.credit_share is 1 minus the share "
        "paid by the invoice's first month end"
    )
    share = fit.cash_like_share
    values: dict[str, Any] = {}
    if base_text is not None:
        doc = tomlkit.parse(base_text)
        base = fit.base
        assert base is not None
        for name in ("scenario", "buckets", "collections", "defaults", "revenue"):
            if name not in doc:
                doc.add(name, tomlkit.table())
        meta = doc["scenario"]
        meta["as_of"] = ex.as_of
        if "sources" in meta:
            meta["sources"].append(source_line)
        else:
            meta["sources"] = [source_line]
        bk = doc["buckets"]
        if list(base.buckets.edges_months) != edges:
            bk["edges_months"] = edges
            bk["edges_months"].comment("from arsim ledger --edges-months")
            if "labels" in bk:
                del bk["labels"]
            bk["provision_rates"] = _provision_on(
                list(base.buckets.provision_rates), list(base.buckets.edges_months), edges
            )
            bk["provision_rates"].comment(
                "the base's rates, each bucket taking the base bucket of its lower edge"
            )
        values = {"buckets": bk, "collections": doc["collections"], "defaults": doc["defaults"]}
        revenue = doc["revenue"]
    else:
        doc = tomlkit.document()
        doc.add(tomlkit.comment(f"Fragment of a scenario written by {origin}."))
        doc.add(
            tomlkit.comment(
                "Not a complete scenario: it still needs buckets.provision_rates and cash.opening."
            )
        )
        doc.add(tomlkit.nl())
        meta = tomlkit.table()
        meta["as_of"] = ex.as_of
        if ledger.currency:
            meta["currency"] = ledger.currency
        meta["sources"] = [source_line]
        doc["scenario"] = meta
        bk = tomlkit.table()
        bk["edges_months"] = edges
        bk["labels"] = list(fit.labels)
        doc["buckets"] = bk
        for name in ("collections", "defaults", "revenue"):
            doc[name] = tomlkit.table()
        values = {"buckets": bk, "collections": doc["collections"], "defaults": doc["defaults"]}
        revenue = doc["revenue"]
    bk = values["buckets"]
    if book is None or not book.segments:
        carved = " less the named debtors" if book is not None and book.debtors else ""
        bk["gross"] = gross
        bk["gross"].comment(
            f"the aged balance at {ex.as_of.isoformat()}{carved} (sums of opening_by_age)"
        )
        bk["opening_by_age"] = profile
        bk["opening_by_age"].comment("the aged balance by monthly age, from age 0")
    else:
        for key in ("gross", "opening_by_age"):
            if key in bk:
                del bk[key]
    if base_text is None:
        bk.add(tomlkit.comment("provision_rates = [...]   # REQUIRED: the provision matrix"))
    col = values["collections"]
    col["monthly_rate"] = c
    col["monthly_rate"].comment(f"fitted by {origin}")
    if fit.seasonality is not None:
        col["seasonality"] = [_round(x, 4) for x in fit.seasonality]
        col["seasonality"].comment("fitted from the calendar months of the window")
    dfl = values["defaults"]
    dfl["monthly_rate"] = p
    dfl["monthly_rate"].comment(f"fitted by {origin} (write-offs)")
    if write_off_age is not None:
        dfl["write_off_after_months"] = int(write_off_age)
        dfl["write_off_after_months"].comment("--write-off-age: the write-off policy")
    if share is not None:
        revenue["credit_share"] = _round(1.0 - share, 4)
        revenue["credit_share"].comment("1 − the share paid by the invoice's first month end")
    for key in ("segments", "debtors"):
        if key in doc:
            del doc[key]
    if book is not None:
        _book_tables(doc, book, edges, origin)
    text = tomlkit.dumps(doc)
    if base_text is not None:
        source = fit.base.source if fit.base is not None else "<scenario>"
        scenario_from_dict(tomllib.loads(text), source=source)
        return text, []
    text += "\n# [cash]\n# opening = ...   # REQUIRED: opening cash\n"
    return text, ["buckets.provision_rates", "cash.opening"]


def replicates_table(fit: LedgerFit, book: LedgerBook | None = None) -> pd.DataFrame:
    """The bootstrap replicates as a table of DESIGN 2.14: one row per replicate, columns
    ``collections.monthly_rate[i]`` and ``defaults.monthly_rate[i]`` (rates kept from the
    base have no column: the bootstrap does not vary them).

    With a ``book`` of segments, the columns are each segment's
    (``segments.NAME.collections.monthly_rate[i]``, …; segments are resampled apart, row ``r``
    of each together). Named debtors have no column.

    Raises
    ------
    ValueError
        If the fit has no bootstrap.
    """
    fits = [("", fit)]
    if book is not None and book.segments:
        fits = [(f"segments.{seg.name}.", seg.fit) for seg in book.segments]
    cols: dict[str, np.ndarray] = {}
    for prefix, f in fits:
        if f.c_replicates is None or f.p_replicates is None:
            raise ValueError("no bootstrap replicates (bootstrap = 0)")
        k = len(f.labels)
        for b in range(k):
            if b not in f.kept_c:
                cols[f"{prefix}collections.monthly_rate[{b}]"] = f.c_replicates[:, b]
        for b in range(k):
            if b not in f.kept_p:
                cols[f"{prefix}defaults.monthly_rate[{b}]"] = f.p_replicates[:, b]
    return pd.DataFrame(cols)


def _book_tables(doc: Any, book: LedgerBook, edges: list[int], origin: str) -> None:
    """``[[segments]]`` and ``[[debtors]]`` of ``book`` appended to ``doc``."""
    if book.segments:
        aot = tomlkit.aot()
        for seg in book.segments:
            t = tomlkit.table()
            t["name"] = seg.name
            t["label"] = seg.label
            prof = _profile(seg.profile)
            t["gross"] = profile_bucket_sums(prof, edges)
            t["opening_by_age"] = prof
            t["billing_share"] = seg.billing_share
            t["billing_share"].comment("its share of the credit billings of the last 12 months")
            col = tomlkit.table()
            col["monthly_rate"] = [_round(x) for x in seg.fit.c]
            if seg.fit.seasonality is not None:
                col["seasonality"] = [_round(x, 4) for x in seg.fit.seasonality]
            dfl = tomlkit.table()
            dfl["monthly_rate"] = [_round(x) for x in seg.fit.p]
            t["collections"] = col
            t["defaults"] = dfl
            aot.append(t)
        doc.add(tomlkit.nl())
        doc.add(
            tomlkit.comment(
                f"Segments by the ledger's column {book.column!r}, each fitted on its own "
                f"invoices by {origin}"
                + ("; named debtors left out of their opening balances" if book.debtors else "")
            )
        )
        doc["segments"] = aot
    if book.debtors:
        aot = tomlkit.aot()
        for d in book.debtors:
            t = tomlkit.table()
            t["name"] = d.name
            t["label"] = d.label
            t["balance"] = _round(d.balance, 10)
            t["age_months"] = d.age_months
            if d.segment is not None:
                t["segment"] = d.segment
            aot.append(t)
        doc.add(tomlkit.nl())
        doc.add(
            tomlkit.comment(
                f"The {len(book.debtors)} customers with the largest open balance at as_of "
                "(balance; age_months: the amount-weighted age of it, rounded); they pay and "
                "default at their segment's rates (or the book's)"
            )
        )
        doc["debtors"] = aot
