"""The report of a folder written by ``arsim backtest`` (DESIGN 7)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._format import finite, fmt_money, fmt_pct
from ._html import ReportError, _esc, _figures, _read_json, _rows_table

_PLOT_ORDER = (
    "fan_collections",
    "collections_12m",
    "pit",
    "coverage",
    "fan_gross",
    "fan_write_offs",
)
_VARIANT_TITLE = {
    "plain": "with the fitted rates taken as known",
    "parameter_risk": "with parameter risk (the fit's bootstrap as replicates)",
}


def _pct(x: Any, sign: bool = False) -> str:
    if not finite(x):
        return "n/a"
    return f"{100 * x:+.1f} %" if sign else fmt_pct(x, 1)


def _metric_rows(doc: dict[str, Any], variant: str) -> list[list[str]]:
    rows = []
    for name, label in (doc.get("series") or {}).items():
        m = ((doc.get("metrics") or {}).get(variant) or {}).get(name, {}).get("all")
        if not isinstance(m, dict):
            rows.append([_esc(label), "0", *["—"] * 7])
            continue
        skill = m.get("skill")
        rows.append(
            [
                _esc(label),
                _esc(f"{m.get('n', 0):,}"),
                _esc(_pct(m.get("wape"))),
                _esc(_pct(m.get("bias"), sign=True)),
                _esc(_pct(m.get("coverage_50"))),
                _esc(_pct(m.get("coverage_90"))),
                _esc(fmt_money(m.get("crps"))),
                _esc(fmt_money(m.get("naive_mae"))),
                _esc(f"{skill:+.2f}" if finite(skill) else "n/a"),
            ]
        )
    return rows


def _horizon_rows(doc: dict[str, Any], variant: str, series: str) -> list[list[str]]:
    slot = ((doc.get("metrics") or {}).get(variant) or {}).get(series) or {}
    rows = []
    for h, m in sorted((slot.get("by_horizon") or {}).items(), key=lambda kv: int(kv[0])):
        rows.append(
            [
                _esc(h),
                _esc(m.get("n")),
                _esc(_pct(m.get("wape"))),
                _esc(_pct(m.get("bias"), sign=True)),
                _esc(_pct(m.get("coverage_50"))),
                _esc(_pct(m.get("coverage_90"))),
                _esc(f"{m['skill']:+.2f}" if finite(m.get("skill")) else "n/a"),
            ]
        )
    return rows


def _origin_rows(doc: dict[str, Any]) -> list[list[str]]:
    labels = doc.get("labels") or []
    rows = []
    for o in doc.get("origins") or []:
        rates = o.get("rates") or {}

        def rate(lab: str, key: str, r: dict[str, Any] = rates) -> str:
            return fmt_pct((r.get(lab) or {}).get(key), 2)

        rows.append(
            [
                _esc(o.get("origin")),
                _esc(o.get("horizon_months")),
                _esc((o.get("window") or {}).get("pairs")),
                _esc(fmt_money(o.get("opening_gross"))),
                *(
                    _esc(f"{rate(lab, 'collection_rate')} / {rate(lab, 'default_rate')}")
                    for lab in labels
                ),
            ]
        )
    return rows


def _lead(doc: dict[str, Any]) -> str:
    origins = doc.get("origins") or []
    if not origins:
        return ""
    text = (
        f"{len(origins)} origins from {origins[0].get('origin')} to {origins[-1].get('origin')}: "
        f"at each, the rates were fitted on the ledger's data up to that month end only, the aged "
        f"balance there was the opening book, and the model forecast up to {doc.get('horizon')} "
        f"months with the credit billings "
        + ("actually made" if doc.get("billings") == "actual" else "of the base's revenue model")
        + f" (data to {doc.get('data_end')})."
    )
    m = (((doc.get("metrics") or {}).get("plain") or {}).get("collections") or {}).get("all")
    if isinstance(m, dict):
        text += (
            f" Monthly collections: WAPE {_pct(m.get('wape'))}, bias {_pct(m.get('bias'), True)}, "
            f"{_pct(m.get('coverage_90'))} of realized months inside the 90 % interval, skill "
            f"against the naive forecast "
            + (f"{m['skill']:+.2f}" if finite(m.get("skill")) else "n/a")
            + "."
        )
    if doc.get("point_forecast"):
        text += (
            " The model had no common factor, so every path was the same: the intervals have no "
            "width and coverage says nothing about calibration."
        )
        if "parameter_risk" in (doc.get("variants") or []):
            text += (
                " With parameter risk the paths differ by bootstrap replicate: that spread is "
                "the uncertainty of the fitted rates alone."
            )
    return f'<p class="lead">{_esc(text)}</p>'


def _backtest_body(folder: Path) -> tuple[str, str]:
    doc = _read_json(folder / "backtest.json", folder)
    if not isinstance(doc, dict) or doc.get("kind") != "backtest":
        raise ReportError(folder, "backtest.json", "is not the document of a backtest")
    ledger = doc.get("ledger") or {}
    name = f"Backtest of {Path(str(ledger.get('file') or 'a ledger')).name}"
    unit = doc.get("unit") or "money units"
    base = doc.get("base")
    facts = [
        (
            "ledger",
            f"{ledger.get('file')} ({ledger.get('invoices', 0):,} invoices, "
            f"{ledger.get('customers', 0):,} customers)",
        ),
        ("data end", doc.get("data_end")),
        ("origins", f"{len(doc.get('origins') or [])} ({doc.get('origins_chosen')})"),
        ("horizon", f"{doc.get('horizon')} months"),
        ("base scenario", base.get("file") if isinstance(base, dict) else "none (no factor)"),
        (
            "factor",
            ", ".join(
                f"{k.replace('_', ' ')} {v:g}"
                for k, v in (doc.get("factor") or {}).items()
                if finite(v)
            ),
        ),
        ("buckets (months)", ",".join(str(e) for e in doc.get("edges_months") or [])),
        ("billings", doc.get("billings")),
        ("paths per origin, seed", f"{doc.get('paths', 0):,}, {doc.get('seed')}"),
        (
            "parameter risk",
            f"the fit's bootstrap, {doc.get('bootstrap', 0):,} replicates per origin"
            if doc.get("parameter_risk")
            else "not forecast (--parameter-risk)",
        ),
        (
            "overrides (--set)",
            ", ".join(f"{k} = {v}" for k, v in (doc.get("overrides") or {}).items()) or "none",
        ),
    ]
    parts = [
        f"<h1>{_esc(name)}</h1>",
        f'<p class="meta">Backtest · data to <strong>{_esc(doc.get("data_end"))}</strong> · '
        f"amounts in <strong>{_esc(unit)}</strong></p>",
        _lead(doc),
        _rows_table(["backtest", ""], [[_esc(k), _esc(v)] for k, v in facts]),
    ]
    head = ["series", "n", "WAPE", "bias", "in 50 %", "in 90 %", "CRPS", "naive MAE", "skill"]
    for variant in doc.get("variants") or ["plain"]:
        parts.append(
            f"<h2>Forecast against what happened, {_esc(_VARIANT_TITLE.get(variant, variant))}</h2>"
        )
        parts.append(_rows_table(head, _metric_rows(doc, variant)))
    parts.append(
        "<p>All horizons pooled. WAPE = Σ|mean − realized| / Σ|realized|; bias = Σ(mean − "
        "realized) / Σ|realized| (positive: the forecast was too high); in 50 % / 90 %: the share "
        "of realized values inside the forecast's central 50 % / 90 % interval; CRPS: the fair "
        "CRPS of the forecast sample; skill = 1 − CRPS / the naive forecast's absolute error "
        "(above 0: better than the naive forecast, the 2.4 recursion with no factor and the rates "
        "of the last 12 month-end pairs). Months and overlapping origins are not independent "
        "trials: coverage is reported, not tested.</p>"
    )
    variants = doc.get("variants") or ["plain"]
    for variant in variants:
        title = "Monthly collections by horizon"
        if len(variants) > 1:
            title += f", {_VARIANT_TITLE.get(variant, variant)}"
        parts.append(f"<h3>{_esc(title)}</h3>")
        parts.append(
            _rows_table(
                ["months ahead", "origins", "WAPE", "bias", "in 50 %", "in 90 %", "skill"],
                _horizon_rows(doc, variant, "collections"),
            )
        )
    parts += ["<h2>Plots</h2>", _figures(folder, _PLOT_ORDER)]
    labels = doc.get("labels") or []
    parts.append(
        "<h2>Origins</h2><p>The window and the fitted rates (c_b / p_b) at each origin.</p>"
    )
    parts.append(
        _rows_table(["origin", "months", "pairs", "opening gross", *labels], _origin_rows(doc))
    )
    notes = sorted({n for o in doc.get("origins") or [] for n in o.get("notes") or []})
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{_esc(n)}</li>" for n in notes) + "</ul>")
    return name, "".join(parts)
