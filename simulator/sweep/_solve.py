"""The reverse stress test: where a metric crosses a target, by root finding on common random
numbers."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..scenario import Scenario, ScenarioError
from ._fields import _numeric_field, field_info
from ._points import PointFailed, make_point
from ._runner import PointRunner
from ._table import _metric_and_se, check_metric


@dataclass
class SolveResult:
    """The outcome of :func:`solve`.

    Attributes
    ----------
    field, metric : str
    target : float
    bracket : (float, float)
        The search range.
    metric_at_bracket : (float, float)
        The metric at both ends of the bracket.
    value : float or None
        Where the metric crosses the target; ``None`` if it does not cross it in the bracket.
    interval : (float or None, float or None) or None
        The parameter values where the metric ± 2 SE crosses the target: the range of values
        consistent with the target given the Monte Carlo error. An end is ``None`` where the
        range reaches beyond the bracket; the whole is ``None`` for a metric without an SE.
    metric_at_value, metric_se_at_value : float or None
        The metric and its SE at ``value``.
    evaluations : list of dict
        Every point evaluated: ``value``, ``metric``, ``metric_se``, ``point`` (its key).
    paths, seed : int
    converged : bool
        Whether the root finder met its tolerance.
    """

    field: str
    metric: str
    target: float
    bracket: tuple[float, float]
    metric_at_bracket: tuple[float | None, float | None]
    value: float | None
    interval: tuple[float | None, float | None] | None
    metric_at_value: float | None
    metric_se_at_value: float | None
    evaluations: list[dict[str, Any]]
    paths: int
    seed: int
    converged: bool = True
    xtol: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the value, its interval, the metric at the value and the evaluations."""
        return {
            "field": self.field,
            "metric": self.metric,
            "target": self.target,
            "value": self.value,
            "interval": None if self.interval is None else list(self.interval),
            "metric_at_value": self.metric_at_value,
            "metric_se_at_value": self.metric_se_at_value,
            "bracket": list(self.bracket),
            "metric_at_bracket": list(self.metric_at_bracket),
            "converged": self.converged,
            "xtol": self.xtol,
            "paths": self.paths,
            "seed": self.seed,
            "evaluations": sorted(self.evaluations, key=lambda e: e["value"]),
        }


def default_bracket(scenario: Scenario, path: str) -> tuple[float, float]:
    """0.25× to 4× the field's current value, clipped to its valid range (DESIGN 3).

    Raises
    ------
    ScenarioError
        If the field is not a real number, or is 0 or unset (then there is no such bracket).
    """
    info = _numeric_field(scenario, path)
    if info.current is None or info.current == 0:
        raise ScenarioError(
            scenario.source,
            "--bracket",
            f"{path} is {info.current}, so 0.25× to 4× its value is no range; give --bracket lo,hi",
        )
    v = float(info.current)
    lo, hi = sorted((0.25 * v, 4.0 * v))
    return info.clip(lo), info.clip(hi)


def check_solve(base: Scenario, path: str, metric: str, target: float) -> None:
    """Check what :func:`solve` is asked, before anything runs: the field, metric and target.

    Raises
    ------
    ScenarioError
        For an unknown field or one that is not a real number (``FILE: FIELD: solve needs a
        real-valued field``), an unknown or undefined metric (``--metric``), or a target that is
        not a finite number (``--target``).
    """
    info = field_info(base, path)
    if info.kind != "float":
        raise ScenarioError(base.source, path, "solve needs a real-valued field")
    check_metric(base, metric)
    if not math.isfinite(target):
        raise ScenarioError(base.source, "--target", "must be a finite number")


def solve_bracket(
    base: Scenario, path: str, bracket: tuple[float, float] | None = None
) -> tuple[float, float]:
    """The search range of :func:`solve`: ``bracket`` checked, or :func:`default_bracket`.

    Parameters
    ----------
    base : Scenario
    path : str
        A real-valued field (see :func:`check_solve`).
    bracket : (float, float), optional
        ``(lo, hi)``; default :func:`default_bracket`.

    Returns
    -------
    (float, float)

    Raises
    ------
    ScenarioError
        For ends that are not finite or not in order (``--bracket``), no default bracket, or an
        end out of the field's range (the field's own message).
    """
    lo, hi = bracket if bracket is not None else default_bracket(base, path)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ScenarioError(
            base.source, "--bracket", f"expected finite lo < hi, got '{lo:.10g},{hi:.10g}'"
        )
    make_point(base, {path: float(lo)})  # out-of-range ends are user mistakes (exit 2)
    make_point(base, {path: float(hi)})
    return lo, hi


def solve(
    base: Scenario,
    path: str,
    metric: str,
    target: float,
    runner: PointRunner,
    *,
    bracket: tuple[float, float] | None = None,
    xtol: float | None = None,
    on_bracketed: Callable[[], None] | None = None,
) -> SolveResult:
    """Reverse stress test: the value of a field where a metric crosses a target.

    Every evaluation uses the same seed, so the metric is a deterministic function of the
    field (common random numbers); for a proportion it is a step function with steps of
    ``1/paths``. Brent's method (:func:`scipy.optimize.brentq`) finds the crossing to ``xtol``;
    the interval is where the metric ± 2 SE crosses the target, found the same way.

    Parameters
    ----------
    base : Scenario
        The scenario (its paths and seed are used at every evaluation).
    path : str
        The field to solve for, a real number (e.g. ``collections.multiplier``).
    metric : str
        A summary metric (e.g. ``p_runway_le_12``; see :func:`available_metrics`).
    target : float
        The value the metric should take.
    runner : PointRunner
        Runs the evaluations (and remembers them).
    bracket : (float, float), optional
        The search range (default :func:`default_bracket`).
    xtol : float, optional
        Tolerance on the field (default ``1e-4 × (hi − lo)``).
    on_bracketed : callable, optional
        Called once the metric is known to cross the target in the bracket, before the search
        (the command line creates the output folder then).

    Returns
    -------
    SolveResult
        ``value`` is ``None`` if the metric does not cross the target in the bracket.

    Raises
    ------
    ScenarioError
        As :func:`check_solve` and :func:`solve_bracket`, before anything runs; or for a metric
        that is undefined (null) at an evaluated point.
    PointFailed
        If an evaluation fails.
    """
    from scipy import optimize

    src = base.source
    check_solve(base, path, metric, target)
    lo, hi = solve_bracket(base, path, bracket)
    tol = xtol if xtol is not None else 1e-4 * (hi - lo)
    evaluations: dict[float, dict[str, Any]] = {}

    def evaluate_many(xs: Sequence[float]) -> list[tuple[float, float | None]]:
        points = [
            make_point(base, {path: float(x)}, len(evaluations) + i) for i, x in enumerate(xs)
        ]
        out = []
        for x, o in zip(xs, runner.run(points), strict=True):
            if not o.ok:
                raise PointFailed(o)
            assert o.summary is not None
            m, se = _metric_and_se(o.summary, metric)
            if m is None:
                raise ScenarioError(
                    src, "--metric", f"{metric} is undefined (null) at {path}={float(x):g}"
                )
            evaluations[float(x)] = {
                "value": float(x),
                "metric": m,
                "metric_se": se,
                "point": o.point.key,
            }
            out.append((m, se))
        return out

    def f(x: float, k: float = 0.0) -> float:
        m, se = evaluate_many([x])[0]
        return m + k * (se or 0.0) - target

    (m_lo, _), (m_hi, _) = evaluate_many([lo, hi])
    paths, seed = base.simulation.paths, base.simulation.seed
    result = SolveResult(
        field=path,
        metric=metric,
        target=float(target),
        bracket=(float(lo), float(hi)),
        metric_at_bracket=(m_lo, m_hi),
        value=None,
        interval=None,
        metric_at_value=None,
        metric_se_at_value=None,
        evaluations=[],
        paths=paths,
        seed=seed,
        xtol=float(tol),
    )
    if (m_lo - target) * (m_hi - target) > 0:
        result.evaluations = list(evaluations.values())
        return result
    if on_bracketed is not None:
        on_bracketed()
    if m_lo == target:
        value, converged = float(lo), True
    elif m_hi == target:
        value, converged = float(hi), True
    else:
        value, r = optimize.brentq(
            f, lo, hi, xtol=tol, rtol=1e-12, maxiter=200, full_output=True, disp=False
        )
        value, converged = float(value), bool(r.converged)
    m_v, se_v = evaluate_many([value])[0]
    result.value, result.converged = value, converged
    result.metric_at_value, result.metric_se_at_value = m_v, se_v
    if se_v is not None:
        result.interval = (
            _interval_end(f, lo, value, tol, optimize),
            _interval_end(f, hi, value, tol, optimize),
        )
    result.evaluations = list(evaluations.values())
    return result


def _interval_end(
    f: Callable[[float, float], float], end: float, value: float, tol: float, optimize: Any
) -> float | None:
    """Where ``metric ± 2 SE`` crosses the target between ``value`` and a bracket end."""
    for k in (-2.0, 2.0):
        g_end, g_val = f(end, k), f(value, k)
        if g_end == 0.0:
            return float(end)
        if g_end * g_val < 0:
            a, b = sorted((end, value))
            x = optimize.brentq(
                lambda x, k=k: f(x, k), a, b, xtol=tol, rtol=1e-12, maxiter=200, disp=False
            )
            return float(x)
    return None
