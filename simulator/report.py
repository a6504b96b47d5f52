"""The HTML report: one self-contained page for a results folder or a sweep folder.

:func:`build_report` reads a folder written by ``arsim run`` (or by ``arsim sweep``, ``solve`` or
``sensitivity``) and returns the text of one HTML page: inline CSS, the plots embedded as base64
PNG, no script and nothing fetched from the network. Every piece of text taken from the folder is
escaped. Writing the page is left to the caller (``arsim report`` writes it atomically).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import math
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["ReportError", "build_report", "fmt_money", "fmt_pct"]

RESULTS_FORMAT = "arsim-results/1"
SWEEP_FORMAT = "arsim-sweep/1"
_PLOT_ORDER = ("runway", "cash_fan", "aging", "allowance")
_PLOT_CAPTIONS = {
    "runway": "Runway distribution: the month cash first falls below the floor, and the survival "
    "curve P(runway > t).",
    "cash_fan": "Cash fan chart: median, 25–75 % and 5–95 % bands of the paths, the mean and the "
    "cash floor.",
    "aging": "Aging of the receivables book: mean gross receivables by bucket.",
    "allowance": "Loss allowance against cumulative credit losses.",
    "tornado": "Tornado chart: the change of the metric when each field moves down and up.",
    "solve": "Reverse stress test: the metric at each evaluated value, the target and the value "
    "found with its interval.",
}
_PCT_COLUMNS = {"rate", "implied_rate", "implied_rate_se", "gap", "weight"}

_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
 margin:0;color:#1d2430;background:#fff;line-height:1.45}
main{max-width:1180px;margin:0 auto;padding:1rem 1.25rem 3rem}
h1{font-size:1.55rem;margin:.6rem 0 .2rem}
h2{font-size:1.2rem;margin:2rem 0 .5rem;border-bottom:1px solid #d8dde6;padding-bottom:.2rem}
h3{font-size:1rem;margin:1.2rem 0 .4rem}
p,li{overflow-wrap:anywhere}
.meta{color:#4a5568;margin:.2rem 0 1rem}
.lead{background:#f3f6fb;border-left:4px solid #4c72b0;padding:.6rem .9rem;margin:1rem 0}
.table-wrap{max-width:100%;overflow-x:auto;margin:.4rem 0 1rem}
table{border-collapse:collapse;font-size:.88rem}
th,td{padding:.25rem .6rem;border-bottom:1px solid #e3e7ee;text-align:right;white-space:nowrap}
th{background:#f3f6fb}
th:first-child,td:first-child{text-align:left}
td.text{text-align:left;white-space:normal;min-width:12rem}
.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,460px),1fr));
 gap:1rem}
figure{margin:0}
img{max-width:100%;height:auto;display:block;border:1px solid #e3e7ee}
figcaption{font-size:.85rem;color:#4a5568;margin-top:.25rem}
.assumption{color:#7a4b00}
footer{color:#6b7280;font-size:.8rem;margin-top:2rem}
"""


class ReportError(ValueError):
    """A folder the report cannot be made from.

    Attributes
    ----------
    file, field, reason : str
        The parts of the one-line message ``FILE: FIELD: reason``.
    """

    def __init__(self, file: str | Path, field: str, reason: str) -> None:
        self.file, self.field, self.reason = str(file), field, reason
        super().__init__(f"{self.file}: {field}: {reason}")


# ---------------------------------------------------------------------------------------------
# Number formats (the browser test formats summary numbers with these, so they agree)


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def fmt_pct(p: float | None, digits: int = 2) -> str:
    """A probability or a share as a percentage, e.g. ``6.83 %``; ``n/a`` when missing."""
    return f"{100 * p:.{digits}f} %" if _finite(p) else "n/a"


def fmt_money(x: float | None, digits: int = 1) -> str:
    """An amount with thousands separators, e.g. ``89,868.6``; ``n/a`` when missing."""
    return f"{x:,.{digits}f}" if _finite(x) else "n/a"


def _esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


# ---------------------------------------------------------------------------------------------
# Reading the folder


def _read_json(path: Path, folder: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(folder, path.name, "is missing") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ReportError(folder, path.name, f"cannot be read ({exc})") from None


def _read_csv(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError):
        return None


def _image(path: Path, alt: str, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{_esc(alt)}">'
        f"<figcaption>{_esc(caption)}</figcaption></figure>"
    )


def _figures(folder: Path, order: tuple[str, ...] = ()) -> str:
    plots = folder / "plots"
    if not plots.is_dir():
        return "<p>No plots in this folder.</p>"
    files = sorted(plots.glob("*.png"))
    rank = {name: i for i, name in enumerate(order)}
    files.sort(key=lambda p: (rank.get(p.stem, len(rank)), p.stem))
    if not files:
        return "<p>No plots in this folder.</p>"
    parts = [
        _image(p, f"plot {p.stem}", _PLOT_CAPTIONS.get(p.stem, p.stem.replace("_", " ")))
        for p in files
    ]
    return f'<div class="figures">{"".join(parts)}</div>'


# ---------------------------------------------------------------------------------------------
# Tables


def _cell(value: Any, column: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "<td></td>"
    if isinstance(value, bool):
        return f"<td>{_esc(value)}</td>"
    if isinstance(value, int) or (hasattr(value, "dtype") and "int" in str(value.dtype)):
        return f"<td>{int(value):,}</td>"
    if isinstance(value, float) or hasattr(value, "dtype"):
        x = float(value)
        if column in _PCT_COLUMNS or column.endswith(("_rate", "_share")):
            return f"<td>{fmt_pct(x)}</td>"
        if abs(x) >= 100 or x == 0:
            return f"<td>{fmt_money(x)}</td>"
        return f"<td>{x:.4g}</td>"
    return f'<td class="text">{_esc(value)}</td>'


def _table(df: pd.DataFrame, headers: dict[str, str] | None = None) -> str:
    headers = headers or {}
    head = "".join(f"<th>{_esc(headers.get(c, c))}</th>" for c in df.columns)
    rows = []
    for rec in df.itertuples(index=False, name=None):
        cells = "".join(_cell(v, c) for v, c in zip(rec, df.columns, strict=True))
        rows.append(f"<tr>{cells}</tr>")
    return (
        f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _rows_table(header: list[str], rows: list[list[str]]) -> str:
    """A table of already formatted (and escaped) cells."""
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return (
        f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


# ---------------------------------------------------------------------------------------------
# Sections


def _scenario_section(sc: dict[str, Any] | None, note: str = "") -> str:
    if not sc:
        return f"<h2>Scenario</h2><p>{_esc(note or 'The scenario is not available.')}</p>"
    meta = sc.get("scenario", {})
    sources = [str(s) for s in meta.get("sources") or []]
    assumptions = [s for s in sources if s.lstrip().upper().startswith("ASSUMPTION")]
    reported = [s for s in sources if s not in assumptions]
    parts = ["<h2>Scenario</h2>"]
    if note:
        parts.append(f"<p>{_esc(note)}</p>")
    if meta.get("description"):
        parts.append(f"<p>{_esc(meta['description'])}</p>")
    parts.append("<h3>Sources</h3>")
    parts.append(
        "<ul>" + "".join(f"<li>{_esc(s)}</li>" for s in reported) + "</ul>"
        if reported
        else "<p>The scenario file cites no sources.</p>"
    )
    parts.append("<h3>Assumptions (numbers that are not reported figures)</h3>")
    parts.append(
        "<ul>" + "".join(f'<li class="assumption">{_esc(s)}</li>' for s in assumptions) + "</ul>"
        if assumptions
        else "<p>The scenario file marks no ASSUMPTION.</p>"
    )
    return "".join(parts)


def _header(sc: dict[str, Any] | None, what: str) -> str:
    meta = (sc or {}).get("scenario", {})
    name = meta.get("name") or "Unnamed scenario"
    unit = " ".join(p for p in (meta.get("currency"), meta.get("unit")) if p) or "money units"
    as_of = meta.get("as_of") or "not given"
    return (
        f"<h1>{_esc(name)}</h1>"
        f'<p class="meta">{_esc(what)} · as of <strong>{_esc(as_of)}</strong> · '
        f"amounts in <strong>{_esc(unit)}</strong></p>"
    )


def _pm(value: Any, se: Any, fmt: Any) -> list[str]:
    return [_esc(fmt(value)), _esc(fmt(se)) if _finite(se) else ""]


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
        if _finite(s.get(f"{key}_bound95")):
            row[1] += f" (95 % bound {_esc(fmt_pct(s[f'{key}_bound95']))})"
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
    if _finite(s.get("allowance_coverage")):
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
            f"{fmt_pct(s['p_runway_le_12'])} ± {fmt_pct(s.get('p_runway_le_12_se'))} "
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
    if _finite(s.get("credit_loss_mean")):
        text += (
            f" The book loses {fmt_money(s['credit_loss_mean'])} {unit} on average over "
            f"{H} months (99th percentile {fmt_money(s.get('credit_loss_p99'))})."
        )
    if _finite(s.get("allowance_coverage")):
        cov = s["allowance_coverage"]
        verdict = "covers" if cov >= 1 else "does not cover"
        text += (
            f" The opening allowance of {fmt_money(s.get('allowance_opening'))} {verdict} the "
            f"implied lifetime loss of {fmt_money(s.get('implied_lifetime_loss'))} "
            f"(coverage {fmt_pct(cov, 1)})."
        )
    return f'<p class="lead">{_esc(text.strip())}</p>' if text.strip() else ""


def _run_facts(manifest: dict[str, Any], s: dict[str, Any]) -> str:
    facts = [
        ("paths", f"{s.get('paths', manifest.get('paths', 'n/a')):,}"),
        ("horizon", f"{s.get('horizon_months', manifest.get('horizon_months'))} months"),
        ("seed", s.get("seed", manifest.get("seed"))),
        ("engine version", s.get("engine_version", manifest.get("engine_version"))),
        ("created", manifest.get("created", "n/a")),
        ("scenario file", manifest.get("scenario_file") or "n/a"),
        ("overrides (--set)", json.dumps(manifest.get("overrides") or {})),
    ]
    return _rows_table(["run", ""], [[_esc(k), _esc(v)] for k, v in facts])


def _results_body(folder: Path) -> tuple[str, str]:
    manifest = _read_json(folder / "manifest.json", folder)
    s = _read_json(folder / "summary.json", folder)
    if not isinstance(s, dict):
        raise ReportError(folder, "summary.json", "is not a JSON object")
    sc = s.get("scenario")
    if not isinstance(sc, dict) and (folder / "scenario.toml").is_file():
        sc = tomllib.loads((folder / "scenario.toml").read_text(encoding="utf-8"))
    unit = s.get("unit") or "money units"
    name = ((sc or {}).get("scenario") or {}).get("name") or "Unnamed scenario"
    parts = [
        _header(sc, "Simulation results"),
        _lead(s, unit),
        "<h2>Summary</h2>",
        f"<p>Estimates over {s.get('paths', 0):,} Monte Carlo paths, with their standard errors "
        f"(SE). Amounts in {_esc(unit)}.</p>",
        _rows_table(["metric", "estimate", "± SE"], _summary_rows(s)),
        _run_facts(manifest if isinstance(manifest, dict) else {}, s),
        "<h2>Plots</h2>",
        _figures(folder, _PLOT_ORDER),
        "<h2>Provisions</h2>",
    ]
    tables = (
        (
            "provision_matrix.csv",
            "Provision matrix of the opening book: disclosed against implied rates",
        ),
        ("provisioning.csv", "Allowance roll-forward by year of the horizon (means; p5/p95)"),
        ("ecl_scenarios.csv", "Expected credit loss by scenario and probability-weighted"),
    )
    found = False
    for file, title in tables:
        df = _read_csv(folder / file)
        if df is not None:
            found = True
            parts.append(f"<h3>{_esc(title)} <small>({_esc(file)})</small></h3>{_table(df)}")
    if not found:
        parts.append("<p>No provision tables in this folder.</p>")
    parts.append(_scenario_section(sc))
    return name, "".join(parts)


def _sweep_scenario(doc: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The swept scenario, re-read from its file when that file still gives the same scenario."""
    from .scenario import ScenarioError, load_scenario, with_overrides
    from .storage import scenario_hash

    file = doc.get("scenario_file")
    if not file or not Path(file).is_file():
        return None, "The scenario file of this sweep is not available here."
    try:
        sc = load_scenario(file)
        overrides = doc.get("overrides") or {}
        if overrides:
            sc = with_overrides(sc, overrides)
    except (ScenarioError, OSError, ValueError):
        return None, f"The scenario file {file} no longer reads as the scenario swept."
    note = f"Scenario file: {file}."
    expected = (doc.get("definition") or {}).get("scenario_sha256")
    if expected and scenario_hash(sc.model_copy(update={"sweep": None})) != expected:
        note += " It has changed since the sweep ran; the text below is the file's current text."
    return sc.model_dump(mode="json"), note


def _key_columns(table: pd.DataFrame, fields: list[str]) -> list[str]:
    wanted = [
        "p_runway_le_12",
        "p_runway_le_12_se",
        "p_runway_le_24",
        "p_runway_le_24_se",
        "runway_quantiles.p50",
        "credit_loss_mean",
        "credit_loss_mean_se",
        "cash_end_mean",
        "allowance_coverage",
    ]
    return [c for c in [*fields, *wanted] if c in table.columns]


def _sweep_body(folder: Path) -> tuple[str, str]:
    doc = _read_json(folder / "sweep.json", folder)
    if not isinstance(doc, dict):
        raise ReportError(folder, "sweep.json", "is not a JSON object")
    manifest = (
        _read_json(folder / "manifest.json", folder) if (folder / "manifest.json").is_file() else {}
    )
    kind = str(doc.get("command") or (doc.get("definition") or {}).get("kind") or "sweep")
    definition = doc.get("definition") or {}
    sc, note = _sweep_scenario(doc)
    name = ((sc or {}).get("scenario") or {}).get("name") or "Unnamed scenario"
    titles = {
        "sweep": "Parameter sweep",
        "solve": "Reverse stress test",
        "sensitivity": "Sensitivity analysis",
    }
    parts = [_header(sc, titles.get(kind, kind))]
    facts = [
        ("command", kind),
        ("paths per point", f"{definition.get('paths', 'n/a'):,}"),
        ("seed (common random numbers)", definition.get("seed")),
        ("engine version", definition.get("engine_version")),
        ("points run", (manifest or {}).get("points", "n/a")),
        ("created", doc.get("created", "n/a")),
        ("overrides (--set)", json.dumps(doc.get("overrides") or {})),
    ]
    parts.append(_rows_table(["run", ""], [[_esc(k), _esc(v)] for k, v in facts]))
    if kind == "solve" and (folder / "solve.json").is_file():
        solve = _read_json(folder / "solve.json", folder)
        interval = solve.get("interval") or [None, None]
        rows = [
            ["field", _esc(solve.get("field"))],
            ["metric", _esc(solve.get("metric"))],
            ["target", _esc(solve.get("target"))],
            [
                "value found",
                _esc("none" if solve.get("value") is None else f"{solve['value']:.4g}"),
            ],
            [
                "interval (metric ± 2 SE crosses the target)",
                _esc(
                    " – ".join("beyond the bracket" if v is None else f"{v:.4g}" for v in interval)
                ),
            ],
            [
                "metric at the value",
                _esc(f"{solve.get('metric_at_value')} ± {solve.get('metric_se_at_value')}"),
            ],
            ["bracket", _esc(solve.get("bracket"))],
        ]
        parts += ["<h2>Result</h2>", _rows_table(["", ""], rows)]
    parts += ["<h2>Plots</h2>", _figures(folder)]
    table_name = "evaluations.csv" if kind == "solve" else "table.csv"
    table = _read_csv(folder / table_name)
    if table is not None:
        parts.append(f"<h2>Table <small>({_esc(table_name)})</small></h2>")
        if kind == "sweep":
            fields = list((definition.get("design") or {}).get("fields") or [])
            cols = _key_columns(table, fields)
            parts.append(
                f"<p>{len(table):,} points; the key columns are shown. {_esc(table_name)} in the "
                f"folder has every metric and its SE ({len(table.columns)} columns).</p>"
            )
            table = table[cols]
        parts.append(_table(table))
    else:
        parts.append("<p>No table in this folder (the command may not have finished).</p>")
    if (folder / "failures.json").is_file():
        failures = _read_json(folder / "failures.json", folder)
        parts.append(
            f"<h2>Failed points</h2><p>{len(failures or [])} points failed; see failures.json.</p>"
        )
    parts.append(_scenario_section(sc, note))
    return name, "".join(parts)


def build_report(folder: str | Path) -> str:
    """The HTML report of a results folder or a sweep folder.

    Parameters
    ----------
    folder : str or Path
        A folder written by ``arsim run``, ``sweep``, ``solve`` or ``sensitivity``.

    Returns
    -------
    str
        One self-contained HTML page (inline CSS, plots as base64 PNG, no script).

    Raises
    ------
    ReportError
        If the folder is missing or is not an arsim results or sweep folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ReportError(folder, "RESULTS_DIR", "no such folder")
    if (folder / "sweep.json").is_file():
        name, body = _sweep_body(folder)
    elif (folder / "manifest.json").is_file():
        manifest = _read_json(folder / "manifest.json", folder)
        fmt = manifest.get("format") if isinstance(manifest, dict) else None
        if fmt != RESULTS_FORMAT:
            raise ReportError(folder, "manifest.json", f"unknown results format {fmt!r}")
        name, body = _results_body(folder)
    else:
        raise ReportError(
            folder,
            "RESULTS_DIR",
            "not an arsim results or sweep folder (no manifest.json or sweep.json)",
        )
    from . import __version__

    made = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(name)} — arsim report</title><style>{_CSS}</style></head>"
        f"<body><main>{body}"
        f"<footer>Made by arsim {_esc(__version__)} on {_esc(made)} from "
        f"{_esc(folder.name)}/. Monte Carlo estimates carry the standard errors shown.</footer>"
        "</main></body></html>\n"
    )
