"""How sweep metrics and swept fields are named on axes, in legends and in tables: words and
units (``P(runway ≤ 12 months)``, ``collection multiplier m (× the average rates)``)."""

from __future__ import annotations

import re
from typing import Any

from matplotlib.ticker import PercentFormatter

from .._plotkit import THOUSANDS
from ..scenario import Scenario

__all__ = [
    "axis_text",
    "fmt_metric",
    "format_axis",
    "format_param_axis",
    "metric_label",
    "param_label",
]

_PERCENTILE = {"p5": "5th", "p25": "25th", "p50": "50th (median)", "p75": "75th", "p95": "95th"}
_MONEY_METRICS = {
    "credit_loss_mean": "credit loss over the horizon, mean",
    "credit_loss_p95": "credit loss over the horizon, 95th percentile",
    "credit_loss_p99": "credit loss over the horizon, 99th percentile",
    "collections_mean": "collections over the horizon, mean",
    "min_cash_mean": "minimum cash, mean",
    "min_cash_p5": "minimum cash, 5th percentile",
    "provision_charge_mean": "provision charge over the horizon, mean",
    "allowance_opening": "opening allowance",
    "gross_opening": "opening gross receivables",
    "implied_lifetime_loss": "implied lifetime loss of the opening book",
    "implied_unresolved": "implied lifetime loss never resolved (counted as lost)",
    "ecl_weighted": "probability-weighted ECL",
}


def _money(scenario: Scenario) -> str:
    return scenario.money_unit or "money units"


def metric_label(metric: str, scenario: Scenario) -> tuple[str, str, str]:
    """How to label a metric: ``(text, unit, kind)``.

    ``kind`` is ``"probability"`` or ``"share"`` (drawn as percentages), ``"money"``,
    ``"months"`` or ``""``.
    """
    horizon = scenario.simulation.horizon_months
    base = metric.removesuffix("_se")
    m = re.fullmatch(r"p_runway_le_(\d+|horizon)", base)
    if m:
        k = horizon if m.group(1) == "horizon" else m.group(1)
        return f"P(runway ≤ {k} months)", "%", "probability"
    if base.startswith("runway_quantiles."):
        q = base.split(".", 1)[1]
        return f"runway, {_PERCENTILE.get(q, q)} percentile", "months", "months"
    if base == "cash_end_mean":
        return f"cash at month {horizon}, mean", _money(scenario), "money"
    if base in _MONEY_METRICS:
        return _MONEY_METRICS[base], _money(scenario), "money"
    for prefix, words in (
        ("implied_rates.", "implied provision rate"),
        ("disclosed_rates.", "disclosed provision rate"),
    ):
        if base.startswith(prefix):
            return f"{words}, bucket {base[len(prefix) :]}", "%", "share"
    if base == "allowance_coverage":
        return "allowance coverage (allowance / implied lifetime loss)", "×", ""
    return base, "", ""


_FIELD_LABELS: dict[str, tuple[str, str]] = {
    "collections.multiplier": ("collection multiplier m", "× the average rates"),
    "collections.factor_loading": ("collection factor loading β", "per SD of the factor"),
    "collections.monthly_rate": ("average collection rate c", "per month"),
    "collections.seasonality": ("collection seasonality s", "× the average"),
    "defaults.monthly_rate": ("average default rate p", "per month"),
    "defaults.correlation": ("default correlation ρ", "dimensionless"),
    "defaults.write_off_after_months": ("write-off age W", "months"),
    "factor.persistence": ("factor persistence φ", "month to month"),
    "revenue.monthly": ("monthly revenue R₀", "{money} per month"),
    "revenue.annual_growth": ("revenue growth g", "per year"),
    "revenue.volatility": ("revenue volatility v", "per month"),
    "revenue.factor_correlation": ("revenue–factor correlation κ", "dimensionless"),
    "revenue.credit_share": ("share of revenue billed on credit σ", "share"),
    "revenue.seasonality": ("revenue seasonality q", "× the average"),
    "cash.opening": ("opening cash", "{money}"),
    "cash.monthly_fixed_outflow": ("fixed outflow F₀", "{money} per month"),
    "cash.fixed_outflow_growth": ("fixed outflow growth g_F", "per year"),
    "cash.variable_cost_ratio": ("variable costs v_c", "share of revenue"),
    "cash.floor": ("cash floor", "{money}"),
    "cash.other_monthly_inflow": ("other inflow O", "{money} per month"),
    "buckets.gross": ("opening gross", "{money}"),
    "buckets.provision_rates": ("provision rate r", "share"),
    "buckets.edges_months": ("bucket edge", "months"),
    "simulation.horizon_months": ("horizon H", "months"),
    "simulation.paths": ("paths", "count"),
    "simulation.seed": ("seed", "integer"),
}


def param_label(field: str, scenario: Scenario) -> str:
    """An axis label for a swept field: its meaning and unit, then its path on a second line,
    e.g. ``collection multiplier m (× the average rates)`` / ``collections.multiplier``."""
    m = re.fullmatch(r"([A-Za-z_]+\.[A-Za-z_]+)(?:\[(\d+)\])?", field)
    if not m or m.group(1) not in _FIELD_LABELS:
        return field
    words, unit = _FIELD_LABELS[m.group(1)]
    if m.group(2) is not None:
        i = int(m.group(2))
        labels = scenario.labels
        if m.group(1).endswith("seasonality"):
            words += f", month {i + 1}"
        elif i < len(labels):
            words += f", bucket {labels[i]}"
    unit = unit.format(money=_money(scenario))
    return f"{words} ({unit})\n{field}"


def axis_text(metric: str, scenario: Scenario) -> str:
    text, unit, _ = metric_label(metric, scenario)
    return f"{text} ({unit})" if unit else text


def format_axis(axis: Any, kind: str) -> None:
    if kind in ("probability", "share"):
        axis.set_major_formatter(PercentFormatter(1.0, decimals=None))
    elif kind == "money":
        axis.set_major_formatter(THOUSANDS)


def format_param_axis(axis: Any, field: str) -> None:
    """Thousands separators on the axis of a money field (e.g. ``cash.opening``)."""
    base = re.sub(r"\[\d+\]$", "", field)
    if "{money}" in _FIELD_LABELS.get(base, ("", ""))[1]:
        axis.set_major_formatter(THOUSANDS)


def fmt_metric(value: float, kind: str) -> str:
    if kind in ("probability", "share"):
        return f"{100 * value:.3g} %"
    if kind == "money":
        return f"{value:,.0f}"
    return f"{value:.4g}"
