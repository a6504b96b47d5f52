"""The report of a folder written by ``arsim sweep``, ``solve`` or ``sensitivity``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from ._html import (
    ReportError,
    _esc,
    _figures,
    _header,
    _read_csv,
    _read_json,
    _rows_table,
    _scenario_section,
    _table,
)


def _sweep_scenario(doc: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
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
