"""The text ``arsim ledger`` prints: the aged trial balance, the rates with their intervals,
exposures and counts, the window, and what was skipped or rejected."""

from __future__ import annotations

from typing import Any

from .._format import fmt_money, fmt_pct


def _iv(v: list[float | None], digits: int) -> str:
    if v[0] is None or v[1] is None:
        return ""
    return f"[{v[0]:.{digits}f}, {v[1]:.{digits}f}]"


def _rate(x: float | None, digits: int) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def ledger_text(doc: dict[str, Any], unit: str) -> str:
    """The ledger report (:func:`simulator.data.ledger_report`) as readable text."""
    led, win, cnt = doc["ledger"], doc["window"], doc["counts"]
    labels = doc["labels"]
    lw = max(8, *(len(lab) for lab in labels))
    form = "one row per invoice" if led["form"] == "invoices" else "invoices and events"
    lines = [
        f"Ledger {led['file']} ({form}): {led['invoices']:,} invoices of {led['customers']:,} "
        f"customers dated {led['first_invoice']} to {led['last_invoice']}"
        + (f", {led['events']:,} events" if led["form"] == "events" else "")
        + (f", currency {led['currency']}" if led["currency"] else ""),
        f"  SHA-256 {led['sha256']}",
        f"  skipped: {cnt.get('zero_amount_rows', 0):,} zero-amount rows, "
        f"{cnt.get('invoices_after_as_of', 0):,} invoices and "
        f"{cnt.get('events_after_as_of', 0):,} events dated after the as-of date; "
        f"{cnt.get('prepayments', 0):,} prepayments dated at their invoice date; "
        f"rejected: {doc['rejected_rows']:,} rows"
        + (
            f" ({cnt.get('invoices_left_out', 0):,} invoices left out with them)"
            if cnt.get("invoices_left_out")
            else ""
        ),
        "",
        f"Aged trial balance at {doc['as_of']} ({unit}; ages from the {win['age_basis']} date):",
        f"  {'bucket':<{lw}}  {'invoices':>9}  {'gross':>14}  {'share':>8}",
    ]
    if not led["sha256"]:
        del lines[1]
    for lab in labels:
        a = doc["aged_balance"][lab]
        share = fmt_pct(a["share"]) if a["share"] is not None else "n/a"
        lines.append(f"  {lab:<{lw}}  {a['invoices']:>9,}  {fmt_money(a['gross']):>14}  {share:>8}")
    tot = doc["aged_balance_total"]
    lines.append(
        f"  {'total':<{lw}}  {tot['invoices']:>9,}  {fmt_money(tot['gross']):>14}  {'100 %':>8}"
    )
    iv = doc["interval"]
    how = (
        f"{100 * iv['level']:.0f} % bootstrap intervals: {iv['replicates']} resamples of the "
        f"{iv['resampled']}"
        + (f" (blocks of {iv['time_blocks']} pairs)" if iv["time_blocks"] else "")
        + (f", seed {iv['seed']}" if iv["seed"] is not None else "")
        if iv["method"]
        else "no bootstrap"
    )
    wo = win["write_off_age"]
    lines += [
        "",
        f"Window: {win['pairs']} month-end pairs from {win['from']} to {win['to']}"
        + (f"; write-off age {wo} months (policy write-offs left out of p̂)" if wo else ""),
        f"Monthly rates by bucket, month end to month end, amount-weighted ({how}):",
    ]
    inv = doc["inversion"]
    rates = doc["rates"]
    inverted = any(
        r["collection_rate"] is not None
        and r["collection_rate_observed"] is not None
        and abs(r["collection_rate"] - r["collection_rate_observed"]) > 1e-12
        for r in rates.values()
    )
    head = (
        f"  {'bucket':<{lw}}  {'exposure':>13}  {'inv-months':>10}  {'invoices':>8}  "
        f"{'paid':>6}  {'ĉ_b':>7}  {'95 %':<17}"
        + (f"  {'c_b':>7}  {'95 %':<17}" if inverted else "")
    )
    lines.append("Collections:")
    lines.append(head)
    for lab in labels:
        r = rates[lab]
        lines.append(
            f"  {lab:<{lw}}  {fmt_money(r['exposure'] or 0):>13}  {r['invoice_months']:>10,}  "
            f"{r['invoices']:>8,}  {r['payment_months']:>6,}  "
            f"{_rate(r['collection_rate_observed'], 4):>7}  "
            f"{_iv(r['collection_rate_observed_interval'], 4):<17}"
            + (
                f"  {_rate(r['collection_rate'], 4):>7}  "
                f"{_iv(r['collection_rate_interval'], 4):<17}"
                if inverted
                else ""
            )
            + ("  (c_b kept from the base)" if r["collection_rate_from_base"] else "")
        )
    lines.append("Defaults and dilution:")
    lines.append(
        f"  {'bucket':<{lw}}  {'exposure':>13}  {'written off':>11}  {'amount':>11}  "
        f"{'p_b':>8}  {'95 %':<19}  {'dilution':>8}"
    )
    for lab in labels:
        r = rates[lab]
        dil = r["dilution_rate"]
        lines.append(
            f"  {lab:<{lw}}  {fmt_money(r['exposure_for_defaults'] or 0):>13}  "
            f"{r['write_off_months']:>11,}  {fmt_money(r['written_off'] or 0):>11}  "
            f"{_rate(r['default_rate'], 5):>8}  {_iv(r['default_rate_interval'], 5):<19}  "
            f"{fmt_pct(dil) if dil is not None else 'n/a':>8}"
            + ("  (p_b kept from the base)" if r["default_rate_from_base"] else "")
        )
    how_c = (
        f"c_b: the scenario's average rate, ĉ_b inverted with β = {inv['beta']:g}, "
        f"ρ = {inv['rho']:g}, m = {inv['multiplier']:g}"
        + (" and the seasonality" if inv["seasonality"] else "")
        if inverted
        else "c_b = ĉ_b (no factor loading, multiplier 1, no seasonality, no cap)"
    )
    lines += [
        f"  exposure: the open balance summed over the window's month ends ({unit} × months); "
        "inv-months: (invoice, month end) pairs",
        "  open; invoices: invoices open at some month end; paid, written off: (invoice, month) "
        "with a payment, a write-off",
        f"  ĉ_b = collected / exposure; {how_c}; p_b = written off / exposure; dilution: credit "
        "notes a month / open balance",
    ]
    if doc["seasonality"] is not None:
        lines.append(
            "  fitted seasonality, Jan..Dec: " + ", ".join(f"{x:.3f}" for x in doc["seasonality"])
        )
    share = doc["cash_like_share"]
    cl = doc["cash_like"]
    tot = doc["totals"]
    lines += [
        "",
        (
            f"Cash-like share 1 − σ̂: {fmt_pct(share)} of {cl['invoices']:,} invoices' amount "
            f"paid by the end of their own month (credit share σ̂ = {fmt_pct(1 - share)})"
            if share is not None
            else "Cash-like share: no invoice dated in the window"
        ),
        f"Billed: {fmt_money(doc['billed_monthly'])} a month over the last "
        f"{tot['billed_months']} months; negative invoice lines (credit notes) "
        f"{fmt_money(tot['credit_lines'])}; recoveries after write-off "
        f"{fmt_money(tot['recoveries'])} (not in the rates)",
    ]
    if wo:
        lines.append(
            f"Dropped: exposure {fmt_money(tot['dropped_exposure'])} and flows "
            f"{fmt_money(tot['dropped_flows'])} at ages of {wo} months or more"
        )
    lines += _book_lines(doc, labels, unit)
    if doc["notes"]:
        lines += ["", "Notes:", *(f"  - {n}" for n in doc["notes"])]
    return "\n".join(line.rstrip() for line in lines)


def _book_lines(doc: dict[str, Any], labels: list[str], unit: str) -> list[str]:
    """The segments (``--segments``) and named debtors (``--debtors``) of the report."""
    lines: list[str] = []
    segs = doc.get("segments")
    if segs:
        nw = max(7, *(len(n) for n in segs))
        rw = max(6, *(len(lab) for lab in labels))
        lines += [
            "",
            f"Segments by the column {doc['segment_column']!r}, each fitted on its own invoices "
            f"(opening gross in {unit}"
            + (", named debtors left out" if doc.get("debtors") else "")
            + "; billing share: of the credit billings of the last 12 months):",
            f"  {'segment':<{nw}}  {'customers':>9}  {'share':>8}  {'gross':>14}  "
            + "  ".join(f"{'c ' + lab:>{rw + 2}}" for lab in labels)
            + "  "
            + "  ".join(f"{'p ' + lab:>{rw + 2}}" for lab in labels),
        ]
        for name, seg in segs.items():
            c = [seg["collection_rate"][lab]["rate"] for lab in labels]
            p = [seg["default_rate"][lab]["rate"] for lab in labels]
            lines.append(
                f"  {name:<{nw}}  {seg['customers']:>9,}  {fmt_pct(seg['billing_share']):>8}  "
                f"{fmt_money(seg['gross_total']):>14}  "
                + "  ".join(f"{_rate(x, 4):>{rw + 2}}" for x in c)
                + "  "
                + "  ".join(f"{_rate(x, 5):>{rw + 2}}" for x in p)
                + (f"  ({seg['label']})" if seg["label"] != name else "")
            )
    debtors = doc.get("debtors")
    if debtors:
        pooled = doc["pooled_balance"]["total"]
        carved = sum(d["balance"] for d in debtors)
        total = pooled + carved
        nw = max(6, *(len(d["name"]) for d in debtors))
        lines += [
            "",
            f"Named debtors: the {len(debtors)} customers with the largest open balance, "
            f"{fmt_money(carved)} of {fmt_money(total)} ("
            + (fmt_pct(carved / total) if total > 0 else "n/a")
            + f"); the pooled book keeps {fmt_money(pooled)}",
            f"  {'debtor':<{nw}}  {'balance':>14}  {'age (months)':>12}  {'invoices':>8}  segment",
        ]
        for d in debtors:
            lines.append(
                f"  {d['name']:<{nw}}  {fmt_money(d['balance']):>14}  "
                f"{d['age_months']:>6} ({d['age']:.1f})  {d['open_invoices']:>8,}  "
                f"{d['segment'] or '-'}"
                + (f"  (customer {d['customer']})" if d["customer"] != d["name"] else "")
            )
    return lines
