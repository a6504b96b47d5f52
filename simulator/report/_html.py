"""The pieces of a self-contained HTML page: inline CSS, escaped text, tables and embedded PNG
plots, read from a folder."""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
from pathlib import Path
from typing import Any

import pandas as pd

from .._format import describe_overrides, finite, fmt_se, fmt_setting

_PLOT_CAPTIONS = {
    "runway": "Runway distribution: the month cash first falls below the floor, and the survival "
    "curve P(runway > t).",
    "cash_fan": "Cash fan chart: median, 25–75 % and 5–95 % bands of the paths, the mean and the "
    "cash floor.",
    "aging": "Aging of the receivables book: mean gross receivables by bucket.",
    "segments": "Receivables by segment: mean gross receivables of each segment, its named "
    "debtors included.",
    "allowance": "Loss allowance (mean, with its 5–95 % band) and the cumulative provision charge; "
    "cumulative write-offs (credit losses) on the right axis.",
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
h1 .overrides{display:block;font-size:1.05rem;font-weight:600;color:#9c2f2f}
h2{font-size:1.2rem;margin:2rem 0 .5rem;border-bottom:1px solid #d8dde6;padding-bottom:.2rem}
h3{font-size:1rem;margin:1.2rem 0 .4rem}
p,li{overflow-wrap:anywhere}
code{font-size:.9em;background:#f3f6fb;padding:0 .2em;border-radius:3px}
.meta{color:#4a5568;margin:.2rem 0 1rem}
.lead{background:#f3f6fb;border-left:4px solid #4c72b0;padding:.6rem .9rem;margin:1rem 0}
.note{color:#4a5568;font-size:.85rem}
.table-wrap{max-width:100%;overflow-x:auto;margin:.4rem 0 1rem}
table{border-collapse:collapse;font-size:.86rem}
th,td{padding:.25rem .55rem;border-bottom:1px solid #e3e7ee;text-align:right;vertical-align:top}
td{white-space:nowrap}
th{background:#f3f6fb;font-weight:600}
th:first-child,td:first-child{text-align:left}
td.text,th.text{text-align:left;white-space:normal}
td.marks{white-space:normal}
td small{display:block;white-space:normal;max-width:40rem}
td small,.range{color:#6b7280;font-size:.78rem}
.range{display:block}
.figures{display:grid;grid-template-columns:minmax(0,1fr);gap:1.2rem;max-width:1000px}
figure{margin:0}
img{max-width:100%;height:auto;display:block;border:1px solid #e3e7ee}
figcaption{font-size:.85rem;color:#4a5568;margin-top:.25rem}
.assumption{color:#7a4b00}
.mark{font-size:.78rem;white-space:nowrap}
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
    return png_figure(path.read_bytes(), alt, caption)


def png_figure(png: bytes, alt: str, caption: str) -> str:
    """A PNG embedded as a ``<figure>`` with its caption."""
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{_esc(alt)}">'
        f"<figcaption>{_esc(caption)}</figcaption></figure>"
    )


def _figures(
    folder: Path, order: tuple[str, ...] = (), captions: dict[str, str] | None = None
) -> str:
    plots = folder / "plots"
    if not plots.is_dir():
        return "<p>No plots in this folder.</p>"
    files = sorted(plots.glob("*.png"))
    rank = {name: i for i, name in enumerate(order)}
    files.sort(key=lambda p: (rank.get(p.stem, len(rank)), p.stem))
    if not files:
        return "<p>No plots in this folder.</p>"
    captions = {**_PLOT_CAPTIONS, **(captions or {})}
    parts = [
        _image(p, f"plot {p.stem}", captions.get(p.stem, p.stem.replace("_", " "))) for p in files
    ]
    return f'<div class="figures">{"".join(parts)}</div>'


def _rows_table(header: list[str], rows: list[list[str]], *, text: bool = False) -> str:
    """A table of already formatted (and escaped) cells; ``text``: every column reads as text
    (left-aligned, wrapping)."""
    cls = ' class="text"' if text else ""
    head = "".join(f"<th{cls}>{_esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td{cls}>{c}</td>" for c in r) + "</tr>" for r in rows)
    return (
        f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _is_assumption(text: str) -> bool:
    return text.lstrip().upper().startswith("ASSUMPTION")


def numbered_sources(sc: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The scenario's sources with their marks: reported ones ``S1``, ``S2`` …, then the
    ASSUMPTION ones ``A1``, ``A2`` … (the ids the inputs table links to)."""
    sources = [str(s) for s in ((sc or {}).get("scenario") or {}).get("sources") or []]
    reported = [s for s in sources if not _is_assumption(s)]
    assumed = [s for s in sources if _is_assumption(s)]
    return [(f"S{i}", s) for i, s in enumerate(reported, 1)] + [
        (f"A{i}", s) for i, s in enumerate(assumed, 1)
    ]


def _scenario_section(sc: dict[str, Any] | None, note: str = "") -> str:
    if not sc:
        return f"<h2>Scenario</h2><p>{_esc(note or 'The scenario is not available.')}</p>"
    meta = sc.get("scenario", {})
    numbered = numbered_sources(sc)
    reported = [(i, s) for i, s in numbered if i.startswith("S")]
    assumptions = [(i, s) for i, s in numbered if i.startswith("A")]
    parts = ["<h2>Scenario</h2>"]
    if note:
        parts.append(f"<p>{_esc(note)}</p>")
    if meta.get("description"):
        parts.append(f"<p>{_esc(meta['description'])}</p>")
    parts.append("<h3>Sources</h3>")
    parts.append(
        "<ul>"
        + "".join(f'<li id="src-{i}"><strong>{i}</strong> {_esc(s)}</li>' for i, s in reported)
        + "</ul>"
        if reported
        else "<p>The scenario file cites no sources.</p>"
    )
    parts.append("<h3>Assumptions (numbers that are not reported figures)</h3>")
    parts.append(
        "<ul>"
        + "".join(
            f'<li id="src-{i}" class="assumption"><strong>{i}</strong> {_esc(s)}</li>'
            for i, s in assumptions
        )
        + "</ul>"
        if assumptions
        else "<p>The scenario file marks no ASSUMPTION.</p>"
    )
    return "".join(parts)


def page_title(sc: dict[str, Any] | None, overrides: Any = None) -> tuple[str, str]:
    """The page's name and what the run changed (``FIELD=VALUE, …``, empty for a base run)."""
    name = ((sc or {}).get("scenario") or {}).get("name") or "Unnamed scenario"
    return name, ", ".join(describe_overrides(overrides))


def _header(sc: dict[str, Any] | None, what: str, overrides: Any = None) -> str:
    meta = (sc or {}).get("scenario", {})
    name, changed = page_title(sc, overrides)
    unit = " ".join(p for p in (meta.get("currency"), meta.get("unit")) if p) or "money units"
    as_of = meta.get("as_of") or "not given"
    stress = f'<span class="overrides">with {_esc(changed)}</span>' if changed else ""
    return (
        f"<h1>{_esc(name)}{stress}</h1>"
        f'<p class="meta">{_esc(what)} · as of <strong>{_esc(as_of)}</strong> · '
        f"amounts in <strong>{_esc(unit)}</strong></p>"
    )


def overrides_cell(overrides: Any) -> str:
    """The ``--set`` overrides as a readable list (HTML), or ``none``."""
    if not isinstance(overrides, dict) or not overrides:
        return "none"
    return "<br>".join(f"<code>{_esc(fmt_setting(k, v))}</code>" for k, v in overrides.items())


def _pm(value: Any, se: Any, fmt: Any) -> list[str]:
    return [_esc(fmt(value)), _esc(fmt_se(se, fmt)) if finite(se) else ""]


def html_page(title: str, body: str, source: str) -> str:
    """A whole self-contained page: the title, the inline CSS, the body and a footer naming the
    ``source`` it was made from."""
    from .._version import __version__

    made = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(title)} — arsim report</title><style>{_CSS}</style></head>"
        f"<body><main>{body}"
        f"<footer>Made by arsim {_esc(__version__)} on {_esc(made)} from "
        f"{_esc(source)}. Monte Carlo estimates carry the standard errors shown.</footer>"
        "</main></body></html>\n"
    )
