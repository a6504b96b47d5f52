"""The hazard fit: monthly collection (and default) rates for which the deterministic recursion
reproduces consecutive snapshots, with bootstrap intervals."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._format import fmt_list
from ..aging import AgingGrid
from ._fit_problem import (
    _bootstrap_draws,
    _exposure_condition,
    _not_unique,
    _per_period_draws,
    _Problem,
)
from ._snapshots import SnapshotError, Snapshots

#: Periods needed for bootstrap intervals; with fewer, the range of the per-period fits.
BOOTSTRAP_MIN_PERIODS = 4


#: Largest condition number of the (column-scaled) exposure matrix for per-bucket default rates.
PER_BUCKET_MAX_CONDITION = 10.0


#: Confidence level of the bootstrap intervals.
LEVEL = 0.95


@dataclass(frozen=True)
class HazardFit:
    """Monthly collection and default rates fitted to consecutive snapshots.

    Attributes
    ----------
    labels : tuple of str
    collection_rates, default_rates : ndarray, shape (K,)
        ``c_b`` and ``p_b``.
    collection_interval, default_interval : ndarray, shape (K, 2)
        Low and high end per rate (NaN when there is none).
    default_mode : str
        ``"fixed"`` (not fitted: no write-offs), ``"scale"`` (one scale on ``default_shape``) or
        ``"per-bucket"``.
    default_shape : ndarray or None
        The shape of the scale fit (or the fixed rates).
    default_scale : float or None
        The fitted scale ``λ`` (scale mode).
    interval_method : str
        ``"bootstrap"``, ``"per-period range"`` or ``"none"``.
    replicates : int
        Bootstrap replicates (or per-period fits) behind the intervals.
    seed : int
    converged : bool
    message : str
        What the optimiser said.
    fitted, observed : ndarray, shape (N-1, K)
        Model and observed bucket totals at the end of each period.
    included : ndarray of bool, shape (N-1, K)
        Which of them are in the residuals.
    fitted_write_offs, observed_write_offs : ndarray, shape (N-1,), or None
    cost : float
        Half the sum of squared (scaled) residuals.
    notes : tuple of str
    """

    labels: tuple[str, ...]
    collection_rates: np.ndarray
    default_rates: np.ndarray
    collection_interval: np.ndarray
    default_interval: np.ndarray
    default_mode: str
    default_shape: np.ndarray | None
    default_scale: float | None
    interval_method: str
    replicates: int
    seed: int
    converged: bool
    message: str
    fitted: np.ndarray
    observed: np.ndarray
    included: np.ndarray
    fitted_write_offs: np.ndarray | None
    observed_write_offs: np.ndarray | None
    cost: float
    notes: tuple[str, ...] = field(default=())


def fit_hazards(
    snapshots: Snapshots,
    *,
    write_off_after_months: int | None = None,
    default_rates: Sequence[float] | None = None,
    default_source: str | None = None,
    default_mode: str = "auto",
    bootstrap: int = 200,
    seed: int = 0,
    max_nfev: int | None = None,
) -> HazardFit:
    """Fit monthly collection (and default) rates to consecutive aging snapshots.

    See the module docstring for the method and what the data determine.

    Parameters
    ----------
    snapshots : Snapshots
    write_off_after_months : int, optional
        Write-off age ``W`` of the recursion (must exceed the last edge).
    default_rates : sequence of float, optional
        Without write-offs, the fixed ``p_b`` (default 0); with write-offs, the shape of a scale
        fit (default: the same rate for every bucket; all-zero rates also mean that).
    default_source : str, optional
        Where ``default_rates`` come from, for the notes.
    default_mode : {"auto", "scale", "per-bucket"}, optional
        With write-offs: choose by identifiability (default), or force one.
    bootstrap : int, optional
        Bootstrap replicates (with at least :data:`BOOTSTRAP_MIN_PERIODS` periods); 0 for none.
    seed : int, optional
        Seed of the bootstrap resampling.
    max_nfev : int, optional
        Limit on the optimiser's function evaluations (default 100 per parameter).

    Returns
    -------
    HazardFit

    Raises
    ------
    SnapshotError
        If nothing can be fitted (no bucket is comparable between snapshots).
    ValueError
        If an argument is out of range.
    """
    s = snapshots
    _check_options(default_mode, bootstrap)
    grid = AgingGrid(s.edges_months, write_off_after_months)
    given = _given_rates(default_rates, s.n_buckets)
    source = default_source or ("given" if default_rates is not None else None)
    mode, shape, shape_text, notes = _default_plan(s, given, source, default_mode)
    problem = _Problem(s, grid, mode, shape)
    _check_something_to_fit(problem, s.source)
    res = problem.fit(_start(problem), np.arange(s.n_periods), max_nfev=max_nfev)
    if s.write_offs is not None:
        problem, res, cond = _choose_per_bucket(problem, res, default_mode, max_nfev)
        notes.append(_default_note(problem, default_mode, cond, shape_text, res.x[-1]))
    names = _parameter_names(s.labels, problem.mode)
    notes += _fit_notes(problem, res, names)
    seed = int(seed)
    intervals = _intervals(problem, res.x, names, s.dates, bootstrap, seed, max_nfev)
    notes += intervals.notes
    return _hazard_fit(s, problem, res, intervals, seed, notes)


# Deciding what the data determine


def _check_options(default_mode: str, bootstrap: int) -> None:
    """Raise ``ValueError`` for a ``default_mode`` or ``bootstrap`` out of range."""
    if default_mode not in ("auto", "scale", "per-bucket"):
        raise ValueError(f"default_mode must be auto, scale or per-bucket, got {default_mode!r}")
    if bootstrap < 0:
        raise ValueError("bootstrap must be ≥ 0")


def _given_rates(default_rates: Sequence[float] | None, k: int) -> np.ndarray:
    """The stated default rates as an array of ``k`` rates in [0, 1] (zeros when not given)."""
    given = np.zeros(k) if default_rates is None else np.asarray(default_rates, dtype=float)
    if given.shape != (k,) or not np.all((given >= 0) & (given <= 1)):
        raise ValueError("default_rates must be K rates in [0, 1]")
    return given


def _default_plan(
    snapshots: Snapshots, given: np.ndarray, source: str | None, default_mode: str
) -> tuple[str, np.ndarray, str, list[str]]:
    """How the first fit treats the default rates: mode, shape, the shape's text, notes so far.

    Without write-offs the rates are held at ``given`` (``"fixed"``, with a note saying so). With
    them the first fit is one scale on a shape (the given rates, or flat when they are all zero),
    or per-bucket rates when the caller forces them; :func:`_choose_per_bucket` may then switch.
    """
    if snapshots.write_offs is None:
        note = (
            "default rates not fitted (no write_offs column): p_b held at "
            + (f"{fmt_list(given)} ({source})" if source else "0")
            + "; the snapshots determine only the monthly exit rate c_b + p_b of each bucket, "
            "so c_b is that rate less p_b"
        )
        return "fixed", given, "", [note]
    if given.sum() > 0:
        shape, shape_text = given, f"{fmt_list(given)} ({source or 'given'})"
    else:
        shape, shape_text = np.ones(len(given)), "flat (the same rate for every bucket)"
    return ("scale" if default_mode == "auto" else default_mode), shape, shape_text, []


def _check_something_to_fit(problem: _Problem, source: str) -> None:
    """Raise :class:`SnapshotError` when no bucket total and no write-off enters the residuals."""
    if not problem.include.any() and problem.wo_obs is None:
        raise SnapshotError(
            source,
            "billings",
            "nothing to fit: without a billings column every bucket holds balances billed "
            "during the period (the snapshots are further apart than the last edge); add a "
            "billings column",
        )


def _choose_per_bucket(
    problem: _Problem, res: Any, default_mode: str, max_nfev: int | None
) -> tuple[_Problem, Any, float]:
    """With write-offs: refit with per-bucket default rates where the data determine them.

    The exposures of the first fit give the condition number; in ``"auto"`` mode a number of at
    most :data:`PER_BUCKET_MAX_CONDITION` means per-bucket rates, fitted from the first fit's
    rates. Returns the problem and result to keep, and the condition number (for the notes).
    """
    periods = np.arange(problem.n_periods)
    _, _, _, _, expo = problem.evaluate(res.x, periods)
    cond = _exposure_condition(expo[0])
    if default_mode == "auto" and cond <= PER_BUCKET_MAX_CONDITION:
        c, p = problem.rates(res.x)
        per = _Problem(problem.snapshots, problem.grid, "per-bucket", problem.p_given)
        res = per.fit(np.concatenate([c[0], p[0]]), periods, max_nfev=max_nfev)
        problem = per
    return problem, res, cond


def _default_note(
    problem: _Problem, default_mode: str, cond: float, shape_text: str, scale: float
) -> str:
    """The note on how the write-offs fixed the default rates (per bucket or one scale), and why."""
    cond_text = "∞" if math.isinf(cond) else f"{cond:.3g}"
    n_wo, k = problem.n_periods, problem.k
    if problem.mode == "per-bucket":
        return (
            f"default rates fitted per bucket from the write-offs of {n_wo} periods "
            f"(exposure condition number {cond_text}"
            + (
                f" ≤ {PER_BUCKET_MAX_CONDITION:g})"
                if cond <= PER_BUCKET_MAX_CONDITION
                else f", forced although above {PER_BUCKET_MAX_CONDITION:g})"
            )
        )
    why = (
        f"{n_wo} period(s) of write-offs for {k} buckets"
        if n_wo < k
        else f"the periods' bucket mixes are too alike (exposure condition number "
        f"{cond_text} > {PER_BUCKET_MAX_CONDITION:g})"
    )
    return (
        f"default rates: one scale on a stated shape, p_b = λ · shape_b, shape = "
        f"{shape_text}, fitted λ = {scale:.6g}"
        + (
            f": one write-off total per period cannot fix one rate per bucket ({why})"
            if default_mode == "auto"
            else " (forced)"
        )
    )


# Fitting all periods


def _start(problem: _Problem) -> np.ndarray:
    """Starting parameters: 5 % a month collected and about 0.2 % a month defaulted."""
    theta = np.full(problem.n_params, 0.05)
    if problem.mode == "scale":
        theta[-1] = min(0.002 / float(problem.p_given.mean()), problem.bounds[1][-1])
    elif problem.mode == "per-bucket":
        theta[problem.k :] = 0.002
    return theta


def _parameter_names(labels: Sequence[str], mode: str) -> list[str]:
    """Names of the parameters for the notes: ``c[label]``…, then ``λ`` or ``p[label]``…."""
    names = [f"c[{lab}]" for lab in labels]
    return (
        names + {"fixed": [], "scale": ["λ"], "per-bucket": [f"p[{lab}]" for lab in labels]}[mode]
    )


def _fit_notes(problem: _Problem, res: Any, names: list[str]) -> list[str]:
    """Notes on the fit of all periods: parameters it does not separate, rates at a bound of
    [0, 1] (those not already named as not unique) and whether it converged."""
    notes = []
    unclear = _not_unique(problem.jacobian(res.x, np.arange(problem.n_periods)), names)
    if unclear:
        notes.append(
            "the fit is not unique: the data do not separate " + ", ".join(unclear) + " (the "
            "values shown are one of many that fit equally well)"
        )
    lb, ub = problem.bounds
    at_bound = [
        f"{names[i]} = {res.x[i]:.3g}"
        for i in range(len(names))
        if names[i] not in unclear and (res.x[i] <= lb[i] + 1e-12 or res.x[i] >= ub[i] - 1e-12)
    ]
    if at_bound:
        notes.append("at a bound of [0, 1]: " + ", ".join(at_bound))
    if not res.status > 0:
        notes.append(f"the fit did not converge: {res.message}")
    return notes


# Intervals


@dataclass(frozen=True)
class _Intervals:
    """Low and high end per parameter (NaN when none), how they were made, from how many fits."""

    method: str
    bounds: np.ndarray
    replicates: int
    notes: list[str]


def _intervals(
    problem: _Problem,
    x: np.ndarray,
    names: list[str],
    dates: Sequence[dt.date],
    bootstrap: int,
    seed: int,
    max_nfev: int | None,
) -> _Intervals:
    """Intervals around the fit ``x``: bootstrap with enough periods, else the per-period range."""
    n = problem.n_periods
    if n >= BOOTSTRAP_MIN_PERIODS and bootstrap > 0:
        method = "bootstrap"
        draws, notes = _bootstrap_draws(problem, x, bootstrap, seed, max_nfev)
    elif 2 <= n < BOOTSTRAP_MIN_PERIODS:
        method = "per-period range"
        draws, notes = _per_period_draws(problem, x, names, dates, max_nfev)
    else:
        method, draws = "none", []
        notes = ["one period: no interval" if n == 1 else "bootstrap 0: no interval"]
    bounds = np.full((len(names), 2), np.nan)
    if draws:
        d = np.array(draws)
        if method == "bootstrap":
            a = 100 * (1 - LEVEL) / 2
            bounds = np.percentile(d, [a, 100 - a], axis=0).T
        else:
            bounds = np.stack([d.min(axis=0), d.max(axis=0)], axis=1)
    return _Intervals(method, bounds, len(draws), notes)


# The result


def _hazard_fit(
    snapshots: Snapshots,
    problem: _Problem,
    res: Any,
    intervals: _Intervals,
    seed: int,
    notes: list[str],
) -> HazardFit:
    """The :class:`HazardFit` of the fit ``res``: rates, their intervals, the fitted totals."""
    k, mode = problem.k, problem.mode
    c, p = problem.rates(res.x)
    if mode == "fixed":
        p_int = np.full((k, 2), np.nan)
    elif mode == "scale":
        p_int = intervals.bounds[k][None, :] * problem.p_given[:, None]
    else:
        p_int = intervals.bounds[k:]
    end, _, dflt, wo, _ = problem.evaluate(res.x, np.arange(problem.n_periods))
    return HazardFit(
        labels=tuple(snapshots.labels),
        collection_rates=c[0].copy(),
        default_rates=p[0].copy(),
        collection_interval=intervals.bounds[:k],
        default_interval=p_int,
        default_mode=mode,
        default_shape=problem.p_given,
        default_scale=float(res.x[-1]) if mode == "scale" else None,
        interval_method=intervals.method,
        replicates=intervals.replicates,
        seed=seed,
        converged=bool(res.status > 0),
        message=str(res.message),
        fitted=end[0],
        observed=problem.g1.copy(),
        included=problem.include.copy(),
        fitted_write_offs=(dflt + wo)[0] if problem.wo_obs is not None else None,
        observed_write_offs=problem.wo_obs.copy() if problem.wo_obs is not None else None,
        cost=float(res.cost),
        notes=tuple(notes),
    )
