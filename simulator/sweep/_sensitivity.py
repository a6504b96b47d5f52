"""One-at-a-time sensitivity on common random numbers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..scenario import Scenario, ScenarioError
from ._designs import _check_unique
from ._fields import FieldInfo, field_info
from ._points import Point, PointOutcome, make_point
from ._runner import PointRunner
from ._table import DEFAULT_METRIC, _metric_and_se, check_metric, setting_text


@dataclass
class SensitivityResult:
    """The outcome of :func:`sensitivity`.

    Attributes
    ----------
    metric : str
    delta : float
    base : PointOutcome
        The unmoved scenario.
    moves : list of dict
        One per field: ``field``, ``base`` / ``low`` / ``high`` settings (``low``/``high`` are
        ``None`` where the field cannot move that way, at a bound), and the outcomes.
    outcomes : list of PointOutcome
        Every point run (base first).
    """

    metric: str
    delta: float
    base: PointOutcome
    moves: list[dict[str, Any]]
    outcomes: list[PointOutcome]

    @property
    def failed(self) -> list[PointOutcome]:
        """Points that did not finish."""
        return [o for o in self.outcomes if not o.ok]

    def table(self, metric: str | None = None) -> pd.DataFrame:
        """The tornado table for ``metric`` (default the result's), largest effect first.

        Columns: ``field``, ``base_value``, ``low_value``, ``high_value`` (numbers; for a list
        field the factor applied to every item), ``low_setting`` / ``high_setting`` (the values
        as text), ``metric``, ``metric_base``, ``metric_low``, ``metric_high`` with their SEs,
        ``change_low``, ``change_high`` (metric minus its base value) and ``swing`` (the larger
        absolute change).
        """
        metric = metric or self.metric
        base_m, base_se = (
            _metric_and_se(self.base.summary, metric) if self.base.ok else (None, None)
        )
        rows = []
        for mv in self.moves:
            row: dict[str, Any] = {
                "field": mv["field"],
                "base_value": mv["base_value"],
                "low_value": mv["low_value"],
                "high_value": mv["high_value"],
                "low_setting": setting_text(mv["low"]),
                "high_setting": setting_text(mv["high"]),
                "metric": metric,
                "metric_base": base_m,
                "metric_base_se": base_se,
            }
            changes = []
            for side in ("low", "high"):
                o = mv[f"{side}_outcome"]
                m, se = (
                    _metric_and_se(o.summary, metric) if o is not None and o.ok else (None, None)
                )
                row[f"metric_{side}"], row[f"metric_{side}_se"] = m, se
                change = None if m is None or base_m is None else m - base_m
                row[f"change_{side}"] = change
                if change is not None:
                    changes.append(abs(change))
            row["swing"] = max(changes) if changes else None
            rows.append(row)
        table = pd.DataFrame.from_records(rows)
        if table.empty:
            return table
        table["_order"] = table["swing"].fillna(-1.0)
        table = table.sort_values("_order", ascending=False, kind="stable").drop(columns="_order")
        numeric = [c for c in table.columns if c not in ("field", "metric") and "setting" not in c]
        table[numeric] = table[numeric].astype(float)
        return table.reset_index(drop=True)


def _moves(info: FieldInfo, delta: float, src: str) -> tuple[Any, Any, float, float, float]:
    """Low and high settings of a field (``None`` where it cannot move), and the numbers shown."""
    v = info.current
    if v is None:
        raise ScenarioError(src, info.path, "is not set, so there is no value to move from")
    if info.kind == "list":
        values = [float(x) for x in v]
        relative = any(x != 0 for x in values)

        def move(sign: float) -> list[float]:
            if relative:  # every item × (1 ± delta); zero items stay zero
                return [info.clip(x * (1 + sign * delta)) for x in values]
            return [info.clip(x + sign * delta) for x in values]

        low, high = move(-1.0), move(+1.0)
        factors = (1 - delta, 1 + delta) if relative else (-delta, delta)
        return (
            None if low == values else low,
            None if high == values else high,
            1.0 if relative else 0.0,
            factors[0],
            factors[1],
        )
    x = float(v)
    if x != 0:
        a, b = x * (1 - delta), x * (1 + delta)
    else:
        a, b = -delta, delta
    a, b = sorted((a, b))
    if info.kind == "int":  # at least one step, within the integer range of the field
        lo_i = (
            -math.inf
            if info.lo == -math.inf
            else math.floor(info.lo) + 1
            if info.lo_open
            else math.ceil(info.lo)
        )
        hi_i = (
            math.inf
            if info.hi == math.inf
            else math.ceil(info.hi) - 1
            if info.hi_open
            else math.floor(info.hi)
        )
        a = int(max(min(round(a), int(x) - 1), lo_i))
        b = int(min(max(round(b), int(x) + 1), hi_i))
    else:
        a, b = info.clip(a), info.clip(b)
    low = None if a == x else a
    high = None if b == x else b
    return low, high, x, (math.nan if low is None else low), (math.nan if high is None else high)


def sensitivity(
    base: Scenario,
    paths: Sequence[str],
    runner: PointRunner,
    *,
    delta: float = 0.1,
    metric: str = DEFAULT_METRIC,
) -> SensitivityResult:
    """One-at-a-time sensitivity on common random numbers (DESIGN 3).

    Each field is moved down and up by a relative ``delta`` (an absolute ``delta`` for a field
    that is 0), clipped to its valid range, with the others at their base values; every point
    uses the same seed. A list field (e.g. ``defaults.monthly_rate``) moves every item by the
    relative ``delta`` (items that are 0 stay 0, unless all are).

    Parameters
    ----------
    base : Scenario
    paths : sequence of str
        The fields to move.
    runner : PointRunner
    delta : float, optional
        The relative move (0.1 = ±10 %), > 0.
    metric : str, optional
        The metric the table and chart rank by (every metric is computed and kept).

    Returns
    -------
    SensitivityResult

    Raises
    ------
    ScenarioError
        For an unknown or non-numeric field, a bad delta, an unknown metric, or a move that
        breaks a rule of the scenario.
    """
    points, moves = plan_sensitivity(base, paths, delta=delta, metric=metric)
    outcomes = runner.run(points)
    by_key = {o.point.key: o for o in outcomes}
    for mv in moves:
        for side in ("low", "high"):
            pt = mv.pop(f"{side}_point")
            mv[f"{side}_outcome"] = None if pt is None else by_key[pt.key]
    return SensitivityResult(metric, float(delta), outcomes[0], moves, outcomes)


def plan_sensitivity(
    base: Scenario, paths: Sequence[str], *, delta: float = 0.1, metric: str = DEFAULT_METRIC
) -> tuple[list[Point], list[dict[str, Any]]]:
    """The points of :func:`sensitivity` (base first), validated, and each field's moves.

    Raises
    ------
    ScenarioError
        As :func:`sensitivity`, before anything runs.
    """
    src = base.source
    if not (math.isfinite(delta) and delta > 0):
        raise ScenarioError(src, "--delta", f"must be a number > 0, got {delta}")
    if not paths:
        raise ScenarioError(src, "--params", "give at least one field, e.g. collections.multiplier")
    _check_unique(list(paths), src)
    check_metric(base, metric)
    base_pt = make_point(base, {}, 0)
    points = [base_pt]
    moves = []
    for path in paths:
        info = field_info(base, path)
        if info.kind not in ("float", "int", "list"):
            raise ScenarioError(src, path, "is not a number or a list of numbers")
        low, high, shown, low_v, high_v = _moves(info, delta, src)
        mv: dict[str, Any] = {
            "field": path,
            "base": info.current,
            "low": low,
            "high": high,
            "base_value": shown,
            "low_value": low_v,
            "high_value": high_v,
        }
        for side, setting in (("low", low), ("high", high)):
            if setting is None:
                mv[f"{side}_point"] = None
                continue
            pt = make_point(base, {path: setting}, len(points))
            points.append(pt)
            mv[f"{side}_point"] = pt
        moves.append(mv)
    return points, moves
