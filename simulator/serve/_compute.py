"""What the page shows, computed from simulations: the key numbers with their standard errors
and their change from base (paired on common random numbers), the runway curves, the cash fan,
and the provision matrix against the model. Numbers are formatted here, with the formats of the
terminal and the report, so that the page shows exactly what they would."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._format import fmt_diff, fmt_money, fmt_pct, fmt_pp
from ..api import simulate
from ..results import QUANTILES
from ..scenario import Scenario, with_overrides

#: Cash fan quantiles come from the first this many paths (the trajectory sample).
FAN_PATHS = 1000
#: Implied rates of a scenario with a persistent factor come from a run-off of at most this many
#: paths (exact answers need none).
RUNOFF_PATHS = 2000
#: The key numbers: summary key, label, kind (``prob``, ``months`` or ``money``).
KEY_NUMBERS = (
    ("p_runway_le_12", "P(runway ≤ 12 months)", "prob"),
    ("p_runway_le_24", "P(runway ≤ 24 months)", "prob"),
    ("runway_p50", "Runway, median", "months"),
    ("credit_loss_mean", "Credit loss, mean", "money"),
    ("credit_loss_p99", "Credit loss, p99", "money"),
    ("cash_end_mean", "Cash at the horizon, mean", "money"),
)
_Z95 = 1.959963984540054


def page_scenario(
    scenario: Scenario, paths: int, values: dict[str, float] | None = None
) -> Scenario:
    """``scenario`` with the page's edits, run at ``paths`` paths with a trajectory sample of
    at most :data:`FAN_PATHS` paths (which changes no per-path number) and its own seed."""
    sim = {
        "simulation.paths": paths,
        "simulation.trajectory_paths": min(paths, FAN_PATHS),
    }
    return with_overrides(scenario, {**(values or {}), **sim})


@dataclass
class Run:
    """A simulation as the page needs it: the summary, the per-path columns the key numbers and
    curves use, and the cash quantiles by month."""

    scenario: Scenario
    summary: dict[str, Any]
    runway: np.ndarray
    credit_loss: np.ndarray
    cash_end: np.ndarray
    cash_quantiles: dict[str, list[float]]
    seconds: float

    @property
    def n(self) -> int:
        return len(self.runway)

    @property
    def horizon(self) -> int:
        return self.scenario.simulation.horizon_months


def simulate_run(scenario: Scenario, workers: int | None = None) -> Run:
    """Simulate ``scenario`` (its own paths and seed, without parameter replicates) and keep
    what the page shows."""
    start = time.perf_counter()
    result = simulate(scenario, workers=workers, replicates=False)
    summary = result.summary(analytics=False)
    monthly = result.monthly
    cash_q = {f"p{q}": _rounded(monthly[f"cash_p{q}"]) for q in QUANTILES}
    cash_q["mean"] = _rounded(monthly["cash_mean"])
    pp = result.per_path
    return Run(
        scenario,
        summary,
        pp["runway"],
        pp["credit_loss"],
        pp["cash_end"],
        cash_q,
        time.perf_counter() - start,
    )


def _rounded(values: Any) -> list[float | None]:
    return [float(f"{v:.6g}") if math.isfinite(v) else None for v in np.asarray(values, float)]


def quantile_se(x: np.ndarray, q: float, censored_above: float | None = None) -> float | None:
    """Standard error of the ``q`` quantile of ``x`` from its order statistics.

    The distribution-free 95 % interval ``[x_(l), x_(u)]``, ``l, u = nq ∓ 1.96 sqrt(nq(1−q))``,
    divided by ``2 × 1.96``.

    Parameters
    ----------
    x : ndarray
        The sample (not changed).
    q : float
        The quantile, in (0, 1).
    censored_above : float, optional
        Values above this are censored (a runway beyond the horizon).

    Returns
    -------
    float or None
        ``None`` when the sample has fewer than 20 values, the interval leaves the sample, or it
        reaches a censored value.
    """
    n = len(x)
    half = _Z95 * math.sqrt(n * q * (1.0 - q))
    lo, hi = math.floor(n * q - half), math.ceil(n * q + half)
    if n < 20 or lo < 0 or hi >= n:
        return None
    part = np.partition(x, [lo, hi])
    if censored_above is not None and part[hi] > censored_above:
        return None
    return float(part[hi] - part[lo]) / (2.0 * _Z95)


def _paired_se(a: np.ndarray, b: np.ndarray) -> float:
    d = np.asarray(a, float) - np.asarray(b, float)
    return float(np.std(d, ddof=1) / math.sqrt(len(d))) if len(d) > 1 else math.nan


def _months(x: float | None, horizon: int) -> str:
    if x is None:
        return f"> {horizon} months"
    return f"{x:.0f} months" if float(x).is_integer() else f"{x:.1f} months"


def _number(run: Run, key: str, kind: str) -> tuple[Any, float | None, np.ndarray | None]:
    """The value, its SE and the per-path values whose mean it is (``None`` for a quantile)."""
    s = run.summary
    if kind == "prob":
        k = 12 if key.endswith("12") else 24
        return s[key], s[f"{key}_se"], (run.runway <= k) if s[key] is not None else None
    if key == "runway_p50":
        se = quantile_se(run.runway, 0.5, censored_above=run.horizon)
        return s["runway_quantiles"]["p50"], se, None
    if key == "credit_loss_p99":
        return s[key], quantile_se(run.credit_loss, 0.99), None
    column = {"credit_loss_mean": run.credit_loss, "cash_end_mean": run.cash_end}[key]
    return s[key], s[f"{key}_se"], column


def key_numbers(edit: Run, base: Run) -> list[dict[str, Any]]:
    """The key numbers of ``edit`` with their SEs, base's values, and the change from base with
    the SE of the change from the paired paths (both runs share seed and paths)."""
    out = []
    for key, label, kind in KEY_NUMBERS:
        value, se, col = _number(edit, key, kind)
        b_value, _, b_col = _number(base, key, kind)
        if kind == "prob":
            fmt, change_fmt = fmt_pct, fmt_pp
        elif kind == "money":
            fmt, change_fmt = fmt_money, fmt_money
        else:
            fmt = change_fmt = None
        change = value - b_value if value is not None and b_value is not None else None
        change_se = _paired_se(col, b_col) if col is not None and b_col is not None else None
        if fmt is None:  # months
            text, b_text = _months(value, edit.horizon), _months(b_value, base.horizon)
            se_text = f"± {se:.1f} months" if se is not None else ""
            ch_text = f"{change:+.0f} months" if change is not None else "n/a"
            ch_se = ""
        else:
            text, b_text = fmt(value), fmt(b_value)
            if value is None and kind == "prob":
                text = f"n/a (horizon < {key[-2:]} months)"
            se_text = f"± {fmt(se)}" if se is not None and value is not None else ""
            ch_text = fmt_diff(change, fmt)
            ch_se = (
                f"± {change_fmt(change_se)}" if change_se is not None and change is not None else ""
            )
        if edit.scenario == base.scenario:
            ch_text, ch_se = "base", ""
        if kind == "money" and edit.scenario.money_unit:
            label = f"{label}, {edit.scenario.money_unit}"
        out.append(
            {
                "key": key,
                "label": label,
                "value": value,
                "text": text,
                "se": se_text,
                "base": b_text,
                "change": ch_text,
                "change_se": ch_se,
            }
        )
    return out


def _runway_curves(run: Run) -> dict[str, list[float | None]]:
    counts = np.bincount(run.runway.astype(np.int64), minlength=run.horizon + 2)
    share = counts / run.n
    survival = 1.0 - np.cumsum(share)[: run.horizon + 1]
    return {"survival": _rounded(np.clip(survival, 0.0, 1.0)), "share": _rounded(share)}


def run_view(edit: Run, base: Run) -> dict[str, Any]:
    """Everything the page draws for an edit against its base: key numbers, runway survival
    curves and distributions, and the cash fan (JSON-ready)."""
    sc = edit.scenario
    return {
        "numbers": key_numbers(edit, base),
        "runway": {"edit": _runway_curves(edit), "base": _runway_curves(base)},
        "fan": {
            "edit": edit.cash_quantiles,
            "base_p50": base.cash_quantiles["p50"],
            "floor": sc.cash.floor,
            "sample": min(edit.n, sc.simulation.trajectory_paths),
        },
        "horizon": edit.horizon,
        "paths": edit.n,
        "seed": sc.simulation.seed,
        "unit": sc.money_unit,
        "seconds": round(edit.seconds, 4),
    }


def analytics_view(edit: Any, base: Any, scenario: Scenario) -> dict[str, Any]:
    """The provision matrix against the model: the disclosed rate of each bucket, the implied
    rate of base and of the edit (± SE for a run-off), and the allowance coverage of each.

    ``edit`` and ``base`` are :class:`simulator.analytic.ImpliedRates`.
    """
    b = scenario.buckets
    allowance = float(np.dot(b.provision_rates, b.gross))
    rows = []
    for i, label in enumerate(scenario.labels):
        se = edit.rates_se[i]
        rows.append(
            {
                "label": label,
                "gross": fmt_money(b.gross[i]),
                "disclosed": fmt_pct(b.provision_rates[i]),
                "base": fmt_pct(base.rates[i]),
                "edit": fmt_pct(edit.rates[i]) + (f" ± {fmt_pct(se)}" if se > 0 else ""),
            }
        )

    def coverage(imp: Any) -> str:
        if imp.lifetime_loss <= 0:
            return "n/a (no implied loss)"
        cov = allowance / imp.lifetime_loss
        se = cov * imp.lifetime_loss_se / imp.lifetime_loss
        return fmt_pct(cov, 1) + (f" ± {fmt_pct(se, 1)}" if se > 0 else "")

    method = "exact" if edit.method == "exact" else f"run-off of {edit.paths:,} paths"
    return {
        "rows": rows,
        "allowance": fmt_money(allowance),
        "implied_loss": fmt_money(edit.lifetime_loss),
        "coverage": coverage(edit),
        "coverage_base": coverage(base),
        "method": method,
        "unit": scenario.money_unit,
    }
