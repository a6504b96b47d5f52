"""The tidy table of a sweep and the metrics a summary offers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from .._format import fmt_list
from .._util import sha256_json
from ..engine import ENGINE_VERSION, run_block
from ..params import compile_params
from ..provisioning import analyse
from ..results import SimulationResult
from ..scenario import Scenario, ScenarioError, with_overrides
from ._points import PointOutcome

#: The metric plotted, solved for and ranked by default.
DEFAULT_METRIC = "p_runway_le_12"


#: Summary keys that describe the run rather than measure it (not metrics).
_NOT_METRICS = {"seed", "paths", "wall_seconds", "horizon_months", "engine_version", "unit"}


def flatten_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """A summary with nested objects flattened to dotted keys (``runway_quantiles.p50``,
    ``implied_rates.<label>``) and the scenario left out.

    Parameters
    ----------
    summary : dict

    Returns
    -------
    dict
        Scalar values only (numbers, ``None``, text).
    """
    out: dict[str, Any] = {}

    def walk(name: str, obj: Any) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(f"{name}.{k}" if name else str(k), v)
        elif isinstance(obj, list | tuple):
            for i, v in enumerate(obj):
                walk(f"{name}[{i}]", v)
        else:
            out[name] = obj

    walk("", {k: v for k, v in summary.items() if k != "scenario"})
    return out


def se_name(metric: str, names: Any) -> str | None:
    """The name of a flattened metric's standard error among ``names``, if there is one:
    ``<metric>_se`` (``p_runway_le_12_se``) or, for a value keyed by label, ``<key>_se.<label>``
    (``implied_rates_se.0-3m`` for ``implied_rates.0-3m``, and
    ``segments.gov.implied_rates_se.0-3m`` for ``segments.gov.implied_rates.0-3m``)."""
    candidates = [f"{metric}_se"]
    # a value keyed by label at any depth: segments.gov.implied_rates_se.0-3m (DESIGN 2.12)
    candidates += [f"{metric[:i]}_se{metric[i:]}" for i, ch in enumerate(metric) if ch == "."]
    for name in candidates:
        if name in names:
            return name
    return None


def sweep_table(outcomes: Sequence[PointOutcome], fields: Sequence[str]) -> pd.DataFrame:
    """The tidy table of a sweep: one row per finished point, in design order.

    Columns: the parameters (named by their field paths), then every summary metric and its SE
    (flattened by :func:`flatten_summary`), then ``point`` (the point's key). Failed points are
    left out (they are reported separately).
    """
    rows = []
    for o in outcomes:
        if not o.ok:
            continue
        assert o.summary is not None
        row: dict[str, Any] = {f: o.point.params.get(f) for f in fields}
        row.update(flatten_summary(o.summary))
        row["point"] = o.point.key
        rows.append(row)
    columns: dict[str, None] = dict.fromkeys(fields)
    for row in rows:
        columns.update(dict.fromkeys(row))
    table = pd.DataFrame.from_records(rows, columns=list(columns))
    for col in table.columns:  # all-null metrics (e.g. p_runway_le_24 when H < 24) as numbers
        if table[col].dtype == object and table[col].isna().all():
            table[col] = table[col].astype(float)
    return table


def available_metrics(scenario: Scenario) -> dict[str, Any]:
    """The metrics a sweep of ``scenario`` reports, with their value on a one-path run.

    Returns
    -------
    dict
        Flattened summary keys (numbers or ``None``) that measure the run, SEs included.
    """
    tiny = with_overrides(
        scenario,
        {"simulation.paths": 1, "simulation.trajectory_paths": 0, "simulation.runoff_paths": 1},
    )
    prm = compile_params(tiny)
    block = run_block(prm, 0, 1, tiny.simulation.seed, 0)
    result = SimulationResult.from_blocks(
        tiny, [block], engine_version=ENGINE_VERSION, analytics=analyse
    )
    summary = result.summary()
    flat = flatten_summary(summary)
    return {
        k: v
        for k, v in flat.items()
        if k not in _NOT_METRICS and (v is None or isinstance(v, int | float))
    }


def check_metric(scenario: Scenario, metric: str, *, option: str = "--metric") -> None:
    """Check that ``metric`` is a metric of ``scenario``'s summary and is defined for it.

    Raises
    ------
    ScenarioError
        For an unknown metric (with "did you mean …") or one undefined for this scenario (e.g.
        ``p_runway_le_24`` with a horizon under 24 months).
    """
    import difflib

    metrics = available_metrics(scenario)
    src = scenario.source
    if metric not in metrics:
        close = difflib.get_close_matches(metric, list(metrics), n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        shown = ", ".join(k for k in metrics if not k.endswith("_se"))
        raise ScenarioError(src, option, f"unknown metric {metric!r}{hint}; one of: {shown}")
    if metric.startswith("p_runway_le_") and metrics[metric] is None:
        months = metric.removeprefix("p_runway_le_").removesuffix("_se")
        raise ScenarioError(
            src,
            option,
            f"{metric} is undefined: the horizon ({scenario.simulation.horizon_months} months) "
            f"is shorter than {months} months",
        )


def _metric_and_se(summary: dict[str, Any], metric: str) -> tuple[float | None, float | None]:
    flat = flatten_summary(summary)
    value = flat.get(metric)
    key = se_name(metric, flat)
    se = flat.get(key) if key is not None else None
    return (
        None if value is None else float(value),
        None if se is None else float(se),
    )


def setting_text(value: Any) -> str:
    """A field's setting as text: a number to 10 significant digits, a list as ``[a, b]``."""
    if value is None:
        return ""
    if isinstance(value, list):
        return fmt_list(value)
    return f"{value:.10g}"


def params_text(params: dict[str, Any]) -> str:
    """``field=value, …`` for messages."""
    return ", ".join(f"{k}={setting_text(v)}" for k, v in params.items()) or "base scenario"


def definition_hash(definition: dict[str, Any]) -> str:
    """A short hash of a JSON-ready definition (the identity of a sweep's command)."""
    return sha256_json(definition)[:16]
