"""The report of a results folder written by ``arsim run``."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pandas as pd

from .._format import (
    DEBTOR_HEADER,
    SEGMENT_HEADER,
    bound_text,
    concentration_text,
    debtor_rows,
    finite,
    fmt_money,
    fmt_pct,
    fmt_se,
    fmt_seconds,
    parameter_risk_rows,
    segment_rows,
)
from ..adequacy import unresolved_note
from ._html import (
    ReportError,
    _esc,
    _figures,
    _header,
    _pm,
    _read_csv,
    _read_json,
    _rows_table,
    _scenario_section,
    overrides_cell,
    page_title,
)
from ._inputs import inputs_section
from ._tables import column_texts, html_table

_PLOT_ORDER = ("runway", "cash_fan", "aging", "segments", "allowance")


def _summary_rows(s: dict[str, Any]) -> list[list[str]]:
    H = s.get("horizon_months")
    rows: list[list[str]] = []
    for key, text in (
        ("p_runway_le_12", "P(runway ≤ 12 months)"),
        ("p_runway_le_24", "P(runway ≤ 24 months)"),
        ("p_runway_le_horizon", f"P(runway ≤ {H} months, the horizon)"),
    ):
        if s.get(key) is None:
            rows.append([_esc(text), "n/a (horizon too short)", ""])
            continue
        row = [_esc(text), *_pm(s[key], s.get(f"{key}_se"), fmt_pct)]
        if finite(s.get(f"{key}_bound95")):
            bound = _esc(bound_text(s[key], s[f"{key}_bound95"]))
            row[2] += f"<small>{bound}</small>"
        rows.append(row)
    for q, v in (s.get("runway_quantiles") or {}).items():
        shown = f"{v} months" if v is not None else f"> {H} months (censored)"
        rows.append([_esc(f"runway, {q} percentile"), _esc(shown), ""])
    money = (
        ("credit_loss_mean", f"credit loss over {H} months, mean"),
        ("credit_loss_p95", "credit loss, 95th percentile"),
        ("credit_loss_p99", "credit loss, 99th percentile"),
        ("collections_mean", f"collections over {H} months, mean"),
        ("cash_end_mean", f"cash at month {H}, mean"),
        ("min_cash_mean", "minimum cash, mean"),
        ("min_cash_p5", "minimum cash, 5th percentile"),
        ("provision_charge_mean", "provision charge, mean"),
        ("gross_opening", "opening gross receivables"),
        ("allowance_opening", "opening loss allowance"),
        ("implied_lifetime_loss", "implied lifetime loss of the opening book"),
        ("ecl_weighted", "probability-weighted ECL"),
    )
    for key, text in money:
        if key in s and s[key] is not None:
            rows.append([_esc(text), *_pm(s[key], s.get(f"{key}_se"), fmt_money)])
            note = unresolved_note(s, list(s.get("disclosed_rates") or {}))
            if key == "implied_lifetime_loss" and note:
                rows[-1][0] += f"<small>{_esc(note)}</small>"
    if finite(s.get("allowance_coverage")):
        rows.append(
            [
                "allowance coverage (opening allowance / implied lifetime loss)",
                *_pm(s["allowance_coverage"], s.get("allowance_coverage_se"), fmt_pct),
            ]
        )
    return rows


def _lead(s: dict[str, Any], unit: str) -> str:
    """What the numbers say, in two or three sentences."""
    parts = []
    if s.get("p_runway_le_12") is not None:
        parts.append(
            f"The probability that cash falls below the floor within 12 months is "
            f"{fmt_pct(s['p_runway_le_12'])} ± {fmt_se(s.get('p_runway_le_12_se'), fmt_pct)} "
            f"(one standard error)"
        )
    p50 = (s.get("runway_quantiles") or {}).get("p50")
    H = s.get("horizon_months")
    if "runway_quantiles" in s:
        parts.append(
            f"the median runway is {p50} months"
            if p50 is not None
            else f"on most paths cash lasts beyond the {H}-month horizon"
        )
    text = "; ".join(parts) + "." if parts else ""
    if finite(s.get("credit_loss_mean")):
        text += (
            f" The book loses {fmt_money(s['credit_loss_mean'])} {unit} on average over "
            f"{H} months (99th percentile {fmt_money(s.get('credit_loss_p99'))})."
        )
    if finite(s.get("allowance_coverage")):
        cov = s["allowance_coverage"]
        verdict = "covers" if cov >= 1 else "does not cover"
        note = unresolved_note(s, list(s.get("disclosed_rates") or {}))
        text += (
            f" The opening allowance of {fmt_money(s.get('allowance_opening'))} {verdict} the "
            f"implied lifetime loss of {fmt_money(s.get('implied_lifetime_loss'))}"
            + (f" ({note})" if note else "")
            + f"; coverage {fmt_pct(cov, 1)}."
        )
    return f'<p class="lead">{_esc(text.strip())}</p>' if text.strip() else ""


def _run_facts(manifest: dict[str, Any], s: dict[str, Any]) -> str:
    facts = [
        ("paths", _esc(f"{s.get('paths', manifest.get('paths', 'n/a')):,}")),
        ("horizon", _esc(f"{s.get('horizon_months', manifest.get('horizon_months'))} months")),
        ("seed", _esc(s.get("seed", manifest.get("seed")))),
        ("simulation time", _esc(fmt_seconds(s.get("wall_seconds")))),
        ("engine version", _esc(s.get("engine_version", manifest.get("engine_version")))),
        ("created", _esc(manifest.get("created", "n/a"))),
        ("scenario file", _esc(manifest.get("scenario_file") or "n/a")),
        ("overrides (--set, --paths, --seed)", overrides_cell(manifest.get("overrides"))),
    ]
    return _rows_table(["run", ""], [[_esc(k), v] for k, v in facts])


def _matrix_table(df: pd.DataFrame) -> str:
    columns = [
        ("bucket", "bucket", "text"),
        ("gross", "gross", "money"),
        ("rate", "disclosed rate", "pct"),
        ("allowance", "allowance", "money"),
        ("implied_rate", "implied rate", "pct"),
        ("implied_rate_se", "± SE", "pct_se"),
        ("implied_allowance", "implied allowance", "money"),
        ("gap", "implied − disclosed rate", "pct"),
    ]
    return html_table(df, [c for c in columns if c[0] in df.columns])


def _rollforward_table(df: pd.DataFrame) -> str:
    """The allowance roll-forward: each amount's mean, with its 5–95 % range under it."""
    out = pd.DataFrame({"year": df["year"]})
    out["months"] = [f"{a}–{b}" for a, b in zip(df["month_from"], df["month_to"], strict=True)]
    columns = [("year", "year", "int"), ("months", "months", "text")]
    names = {
        "opening": "opening allowance",
        "charge": "provision charge",
        "write_offs": "write-offs (credit losses)",
        "closing": "closing allowance",
    }
    for name, header in names.items():
        mean = column_texts(list(df[f"{name}_mean"]), "money")
        cells = [_esc(m) for m in mean]
        if f"{name}_p5" in df and f"{name}_p95" in df:
            both = column_texts([*df[f"{name}_p5"], *df[f"{name}_p95"]], "money")
            lo, hi = both[: len(df)], both[len(df) :]
            cells = [
                f'{c}<span class="range">{_esc(a)} – {_esc(b)}</span>'
                for c, a, b in zip(cells, lo, hi, strict=True)
            ]
        out[name] = cells
        columns.append((name, f"{header}, mean (5–95 %)", "money"))
    return html_table(out, columns, html_cells=list(names))


def _ecl_table(df: pd.DataFrame) -> str:
    columns = [
        ("name", "scenario", "text"),
        ("weight", "weight", "pct"),
        ("ecl", "expected credit loss", "money"),
        ("ecl_se", "± SE", "money_se"),
        ("method", "method", "text"),
        ("gross", "gross", "money"),
    ]
    return html_table(df, [c for c in columns if c[0] in df.columns])


def _parameter_risk_section(s: dict[str, Any]) -> str:
    """How much of each figure comes from not knowing the rates (DESIGN 2.14), or nothing."""
    rows, notes = parameter_risk_rows(s)
    if not rows:
        return ""
    risk = s["parameter_risk"]
    head = ["figure", "with parameter risk", "at the file's rates", "5–95 % band", "of variance"]
    text = (
        f"<p>The run drew the rates of each path from {risk['replicates']:,} replicates (at "
        f"least {risk['paths_per_replicate']:,} paths each), so every figure above includes "
        "parameter risk. The value at the file's own rates comes from a second run on the same "
        "seed and paths; the band is the 5th to 95th percentile over replicates of each "
        "replicate's value, shrunk towards the mean by its Monte Carlo noise; the last column "
        "is the share of a path's variance that comes from the rates.</p>"
    )
    table = _rows_table(head, [[_esc(c) for c in row] for row in rows])
    extra = "".join(f"<p><small>{_esc(n)}</small></p>" for n in notes)
    return f"<h2>Parameter risk</h2>{text}{table}{extra}"


def _book_parts_section(s: dict[str, Any]) -> str:
    """Segments, the concentration line and the debtor table (DESIGN 2.12, 2.13), or nothing."""
    parts = []
    rows = segment_rows(s)
    if rows:
        parts += [
            "<h2>Segments</h2>",
            "<p>Over the horizon. A segment's credit loss and collections include its named "
            "debtors; its opening allowance and its coverage (allowance over implied lifetime "
            "loss) are those of its pooled book.</p>",
            _rows_table(SEGMENT_HEADER, [[_esc(c) for c in r] for r in rows]),
        ]
    text = concentration_text(s)
    if text:
        parts += [
            "<h2>Named debtors</h2>",
            f"<p><strong>Concentration:</strong> {_esc(text)}.</p>",
            "<p>Each named debtor is one lump on top of the pooled book: paid in full, "
            "defaulted, written off or still open at the horizon. The implied loss is its "
            "balance times its lifetime loss probability.</p>",
            _rows_table(DEBTOR_HEADER, [[_esc(c) for c in r] for r in debtor_rows(s)]),
        ]
    return "".join(parts)


def _results_body(folder: Path) -> tuple[str, str]:
    manifest = _read_json(folder / "manifest.json", folder)
    manifest = manifest if isinstance(manifest, dict) else {}
    s = _read_json(folder / "summary.json", folder)
    if not isinstance(s, dict):
        raise ReportError(folder, "summary.json", "is not a JSON object")
    sc = s.get("scenario")
    if not isinstance(sc, dict) and (folder / "scenario.toml").is_file():
        sc = tomllib.loads((folder / "scenario.toml").read_text(encoding="utf-8"))
    unit = s.get("unit") or "money units"
    name, changed = page_title(sc, manifest.get("overrides"))
    parts = [
        _header(sc, "Simulation results", manifest.get("overrides")),
        _lead(s, unit),
        "<h2>Summary</h2>",
        f"<p>Estimates over {s.get('paths', 0):,} Monte Carlo paths, with their standard errors "
        f"(SE). Amounts in {_esc(unit)}.</p>",
        _rows_table(["metric", "estimate", "± SE"], _summary_rows(s)),
        _run_facts(manifest, s),
        _book_parts_section(s),
        _parameter_risk_section(s),
        "<h2>Plots</h2>",
        _figures(folder, _PLOT_ORDER),
        "<h2>Provisions</h2>",
    ]
    tables = (
        (
            "provision_matrix.csv",
            "Provision matrix of the opening book: disclosed against implied rates",
            _matrix_table,
        ),
        ("provisioning.csv", "Allowance roll-forward by year of the horizon", _rollforward_table),
        ("ecl_scenarios.csv", "Expected credit loss by scenario, probability-weighted", _ecl_table),
    )
    found = False
    for file, title, make in tables:
        df = _read_csv(folder / file)
        if df is not None:
            found = True
            parts.append(f"<h3>{_esc(title)} <small>({_esc(file)})</small></h3>{make(df)}")
    if not found:
        parts.append("<p>No provision tables in this folder.</p>")
    parts.append(inputs_section(sc))
    parts.append(_scenario_section(sc))
    return (f"{name} — {changed}" if changed else name), "".join(parts)
