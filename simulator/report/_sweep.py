"""The report of a folder written by ``arsim sweep``, ``solve`` or ``sensitivity``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from .._format import fmt_num, fmt_pct, fmt_pm
from ._html import (
    ReportError,
    _esc,
    _figures,
    _header,
    _read_csv,
    _read_json,
    _rows_table,
    _scenario_section,
    overrides_cell,
    page_title,
)
from ._tables import HEADERS, html_table, infer_kind


def _sweep_scenario(doc: dict[str, Any]) -> tuple[Any, str]:
    """The swept scenario, re-read from its file when that file still gives the same scenario."""
    from ..scenario import ScenarioError, load_scenario, scenario_hash, with_overrides

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
    return sc, note


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


_SENSITIVITY_COLUMNS = (
    "field",
    "low_setting",
    "high_setting",
    "metric_base",
    "metric_low",
    "metric_low_se",
    "metric_high",
    "metric_high_se",
    "change_low",
    "change_high",
)


def _columns(
    table: pd.DataFrame, scenario: Any, fields: list[str], metric: str | None = None
) -> list[tuple[str, str, str]]:
    """Human headers and kinds for the columns of a sweep, sensitivity or solve table.

    ``fields`` are the swept fields (a solve's ``value`` column is its field); ``metric`` the
    metric that the ``metric*`` and ``change*`` columns of a sensitivity or solve hold.
    """
    from ..sweep import metric_label, param_label

    labels = scenario is not None
    kind_of_metric = metric_label(metric, scenario)[2] if labels and metric else ""
    pct_metric = kind_of_metric in ("probability", "share")
    out = []
    for name in table.columns:
        kind = infer_kind(name, table[name])
        header = HEADERS.get(name, name.replace("_", " "))
        if name.endswith("_se") or "_se." in name:
            header = "± SE"
        elif labels and (name in fields or (name == "value" and fields)):
            header = param_label(fields[0] if name == "value" else name, scenario).split("\n")[0]
        elif labels and name not in HEADERS:
            header = metric_label(name, scenario)[0]
        if name in ("field", "low_setting", "high_setting"):
            kind = "text"
        elif labels and name.startswith("runway_quantiles."):
            kind = f"months:{scenario.simulation.horizon_months}"
        elif pct_metric and name.startswith(("metric", "change", "swing")):
            kind = "pct_se" if name.endswith("_se") else "pct"
        out.append((name, header, kind))
    return out


def _captions(folder: Path, scenario: Any, definition: dict[str, Any]) -> dict[str, str]:
    """Captions of a sweep's plots, named after the metric each one draws."""
    from ..sweep import metric_label

    fields = list((definition.get("design") or {}).get("fields") or [])
    if scenario is None or not (folder / "plots").is_dir() or len(fields) not in (1, 2):
        return {}
    out = {}
    for path in (folder / "plots").glob("*.png"):
        text = metric_label(path.stem, scenario)[0]
        if len(fields) == 1:
            out[path.stem] = (
                f"{text} against {fields[0]}, with its ±2 SE band (Monte Carlo error); below, "
                "2 SE on a scale of its own."
            )
        else:
            out[path.stem] = f"{text} over {fields[0]} and {fields[1]}, with a contour at the level"
    return out


def _metric_pm(solve: dict[str, Any], scenario: Any) -> str:
    from ..sweep import metric_label

    metric = solve.get("metric")
    pct = scenario is not None and metric and metric_label(metric, scenario)[2] == "probability"
    fmt = fmt_pct if pct else fmt_num
    return fmt_pm(solve.get("metric_at_value"), solve.get("metric_se_at_value"), fmt)


def _sweep_body(folder: Path) -> tuple[str, str]:
    doc = _read_json(folder / "sweep.json", folder)
    if not isinstance(doc, dict):
        raise ReportError(folder, "sweep.json", "is not a JSON object")
    manifest = (
        _read_json(folder / "manifest.json", folder) if (folder / "manifest.json").is_file() else {}
    )
    kind = str(doc.get("command") or (doc.get("definition") or {}).get("kind") or "sweep")
    definition = doc.get("definition") or {}
    scenario, note = _sweep_scenario(doc)
    sc = scenario.model_dump(mode="json") if scenario is not None else None
    name, changed = page_title(sc, doc.get("overrides"))
    titles = {
        "sweep": "Parameter sweep",
        "solve": "Reverse stress test",
        "sensitivity": "Sensitivity analysis",
    }
    parts = [_header(sc, titles.get(kind, kind), doc.get("overrides"))]
    facts = [
        ("command", kind),
        ("paths per point", f"{definition.get('paths', 'n/a'):,}"),
        ("seed (common random numbers)", definition.get("seed")),
        ("engine version", definition.get("engine_version")),
        ("points run", (manifest or {}).get("points", "n/a")),
        ("created", doc.get("created", "n/a")),
    ]
    rows = [[_esc(k), _esc(v)] for k, v in facts]
    rows.append(["overrides (--set)", overrides_cell(doc.get("overrides"))])
    parts.append(_rows_table(["run", ""], rows))
    solve = None
    if kind == "solve" and (folder / "solve.json").is_file():
        solve = _read_json(folder / "solve.json", folder)
    if isinstance(solve, dict):
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
                _esc(_metric_pm(solve, scenario)),
            ],
            ["bracket", _esc(solve.get("bracket"))],
        ]
        parts += ["<h2>Result</h2>", _rows_table(["", ""], rows)]
    parts += ["<h2>Plots</h2>", _figures(folder, captions=_captions(folder, scenario, definition))]
    table_name = "evaluations.csv" if kind == "solve" else "table.csv"
    table = _read_csv(folder / table_name)
    fields = list((definition.get("design") or {}).get("fields") or [])
    metric = None
    if kind == "solve" and table is not None:
        table = table.drop(columns=["point"], errors="ignore")
        if isinstance(solve, dict):
            fields, metric = [str(solve.get("field"))], solve.get("metric")
    if kind == "sensitivity" and table is not None and "metric" in table and len(table):
        metric = str(table["metric"].iloc[0])
        table = table[[c for c in _SENSITIVITY_COLUMNS if c in table.columns]]
    if table is not None:
        parts.append(f"<h2>Table <small>({_esc(table_name)})</small></h2>")
        if kind == "sweep":
            cols = _key_columns(table, fields)
            parts.append(
                f"<p>{len(table):,} points; the key columns are shown. {_esc(table_name)} in the "
                f"folder has every metric and its SE ({len(table.columns)} columns).</p>"
            )
            table = table[cols]
        if metric is not None:
            parts.append(f"<p>The metric is <code>{_esc(metric)}</code>.</p>")
        parts.append(html_table(table, _columns(table, scenario, fields, metric)))
    else:
        parts.append("<p>No table in this folder (the command may not have finished).</p>")
    if (folder / "failures.json").is_file():
        failures = _read_json(folder / "failures.json", folder)
        parts.append(
            f"<h2>Failed points</h2><p>{len(failures or [])} points failed; see failures.json.</p>"
        )
    parts.append(_scenario_section(sc, note))
    return (f"{name} — {changed}" if changed else name), "".join(parts)
