"""The pieces of a self-contained HTML page: inline CSS, escaped text, tables and embedded PNG
plots, read from a folder."""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from .._format import finite, fmt_money, fmt_pct

_PCT_COLUMNS = {"rate", "implied_rate", "implied_rate_se", "gap", "weight"}


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
    "fan_collections": "Monthly collections: each origin's forecast (median, 25–75 % and 5–95 % "
    "bands) against what was collected, and the naive forecast.",
    "fan_gross": "Gross receivables at each month end: forecast fans against the realized book.",
    "fan_write_offs": "Monthly write-offs (credit loss): forecast fans against what was written "
    "off.",
    "collections_12m": "Collections over the 12 months after each origin: the forecast's "
    "intervals, the realized total and the naive forecast.",
    "pit": "Randomised PIT histograms: flat when the forecast is calibrated; a U shape means "
    "intervals that are too narrow, a slope a bias.",
    "coverage": "Coverage of the forecasts' central intervals against their nominal level.",
}

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


def _esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


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
    return [_esc(fmt(value)), _esc(fmt(se)) if finite(se) else ""]
