"""The hazard fit: monthly collection (and default) rates for which the deterministic recursion
reproduces consecutive snapshots, with bootstrap intervals."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from .._format import fmt_list
from ..aging import AgingGrid
from ._projection import _run
from ._snapshots import SnapshotError, Snapshots

#: Periods needed for bootstrap intervals; with fewer, the range of the per-period fits.
BOOTSTRAP_MIN_PERIODS = 4


#: Largest condition number of the (column-scaled) exposure matrix for per-bucket default rates.
PER_BUCKET_MAX_CONDITION = 10.0


#: Confidence level of the bootstrap intervals.
LEVEL = 0.95


_RANK_TOL = 1e-9  # relative singular value below which the fit is not unique


_STEP = 1e-6  # finite-difference step of the Jacobian (rates live in [0, 1])


class _Problem:
    """Residuals of the bucket totals (and write-offs) for parameter vectors, vectorised."""

    def __init__(
        self,
        snapshots: Snapshots,
        grid: AgingGrid,
        mode: str,
        p_given: np.ndarray,
    ) -> None:
        s = snapshots
        self.grid, self.mode, self.p_given = grid, mode, p_given
        self.k = s.n_buckets
        self.months = s.months
        self.g0, self.g1 = s.gross[:-1], s.gross[1:]
        self.has_billings = s.billings is not None
        self.billing = (
            s.billings[1:] / self.months if s.billings is not None else np.zeros(s.n_periods)
        )
        self.wo_obs = s.write_offs[1:] if s.write_offs is not None else None
        lower = np.asarray(s.edges_months)
        # Without billings, buckets that hold balances billed during the period are left out.
        self.include = (
            np.ones_like(self.g1, dtype=bool)
            if self.has_billings
            else lower[None, :] >= self.months[:, None]
        )
        scale = np.maximum(self.g1.sum(axis=1), self.g0.sum(axis=1))
        self.scale = np.where(scale > 0, scale, 1.0)
        self.n_params = self.k + {"fixed": 0, "scale": 1, "per-bucket": self.k}[mode]
        lb = np.zeros(self.n_params)
        ub = np.ones(self.n_params)
        if mode == "scale":
            ub[-1] = 1.0 / float(p_given.max())
        self.bounds = (lb, ub)

    def rates(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        theta = np.atleast_2d(theta)
        c = theta[:, : self.k]
        if self.mode == "fixed":
            p = np.broadcast_to(self.p_given, c.shape)
        elif self.mode == "scale":
            p = theta[:, -1:] * self.p_given[None, :]
        else:
            p = theta[:, self.k :]
        return c, np.minimum(p, 1.0)

    def evaluate(self, theta: np.ndarray, idx: np.ndarray):
        c, p = self.rates(theta)
        return _run(self.grid, c, p, self.g0[idx], self.billing[idx], self.months[idx])

    def residuals(self, theta: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Residuals for parameter sets ``theta`` (S, n) on periods ``idx``: (S, m)."""
        end, _, dflt, wo, _ = self.evaluate(theta, idx)
        sc = self.scale[idx]
        bal = ((end - self.g1[idx][None]) / sc[None, :, None])[:, self.include[idx]]
        if self.wo_obs is None:
            return bal
        wres = (dflt + wo - self.wo_obs[idx][None]) / sc[None, :]
        return np.concatenate([bal, wres], axis=1)

    def jacobian(self, theta: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Central differences (one-sided at a bound), all columns in one vectorised run."""
        lb, ub = self.bounds
        n = len(theta)
        hi = np.minimum(theta + _STEP, ub)
        lo = np.maximum(theta - _STEP, lb)
        sets = np.repeat(theta[None, :], 2 * n, axis=0)
        sets[np.arange(n), np.arange(n)] = hi
        sets[n + np.arange(n), np.arange(n)] = lo
        r = self.residuals(sets, idx)
        return ((r[:n] - r[n:]) / (hi - lo)[:, None]).T

    def fit(self, theta0: np.ndarray, idx: np.ndarray, tol: float = 1e-15, max_nfev=None):
        """Least squares over the periods ``idx`` from ``theta0``."""
        lb, ub = self.bounds
        theta0 = np.clip(theta0, lb, ub)

        def fun(theta: np.ndarray) -> np.ndarray:
            return self.residuals(theta[None, :], idx)[0]

        def jac(theta: np.ndarray) -> np.ndarray:
            return self.jacobian(theta, idx)

        return optimize.least_squares(
            fun,
            theta0,
            jac=jac,
            bounds=(lb, ub),
            method="trf",
            x_scale="jac",
            ftol=tol,
            xtol=tol,
            gtol=tol,
            max_nfev=max_nfev or 100 * self.n_params,
        )


def _not_unique(jac: np.ndarray, names: list[str]) -> list[str]:
    """Names of parameters that trade off against each other (a null direction of the Jacobian)."""
    if jac.shape[0] == 0:
        return list(names)
    norms = np.linalg.norm(jac, axis=0)
    top = float(norms.max())
    if top <= 0.0:
        return list(names)
    dead = [names[i] for i in np.flatnonzero(norms <= _RANK_TOL * top)]
    if dead:
        return dead
    scaled = jac / norms
    if scaled.shape[0] < scaled.shape[1]:  # fewer residuals than parameters
        v = np.linalg.svd(scaled, full_matrices=True)[2][-1]
    else:
        _, sv, vt = np.linalg.svd(scaled, full_matrices=False)
        if sv[-1] > _RANK_TOL * sv[0]:
            return []
        v = vt[-1]
    big = np.abs(v) >= 0.1 * np.abs(v).max()
    return [names[i] for i in np.flatnonzero(big)]


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


def _exposure_condition(expo: np.ndarray) -> float:
    norms = np.linalg.norm(expo, axis=0)
    if (norms <= 0).any() or expo.shape[0] < expo.shape[1]:
        return math.inf
    s = np.linalg.svd(expo / norms, compute_uv=False)
    return math.inf if s[-1] <= 0 else float(s[0] / s[-1])


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
    k = s.n_buckets
    labels = list(s.labels)
    if default_mode not in ("auto", "scale", "per-bucket"):
        raise ValueError(f"default_mode must be auto, scale or per-bucket, got {default_mode!r}")
    if bootstrap < 0:
        raise ValueError("bootstrap must be ≥ 0")
    grid = AgingGrid(s.edges_months, write_off_after_months)
    notes: list[str] = []
    given = np.zeros(k) if default_rates is None else np.asarray(default_rates, dtype=float)
    if given.shape != (k,) or not np.all((given >= 0) & (given <= 1)):
        raise ValueError("default_rates must be K rates in [0, 1]")
    source = default_source or ("given" if default_rates is not None else None)
    if s.write_offs is None:
        mode, shape = "fixed", given
        notes.append(
            "default rates not fitted (no write_offs column): p_b held at "
            + (f"{fmt_list(given)} ({source})" if source else "0")
            + "; the snapshots determine only the monthly exit rate c_b + p_b of each bucket, "
            "so c_b is that rate less p_b"
        )
    else:
        if given.sum() > 0:
            shape, shape_text = given, f"{fmt_list(given)} ({source or 'given'})"
        else:
            shape, shape_text = np.ones(k), "flat (the same rate for every bucket)"
        mode = "scale" if default_mode == "auto" else default_mode
    problem = _Problem(s, grid, mode, shape)
    all_periods = np.arange(s.n_periods)
    if not problem.include.any() and problem.wo_obs is None:
        raise SnapshotError(
            s.source,
            "billings",
            "nothing to fit: without a billings column every bucket holds balances billed "
            "during the period (the snapshots are further apart than the last edge); add a "
            "billings column",
        )

    def start(pr: _Problem) -> np.ndarray:
        theta = np.full(pr.n_params, 0.05)
        if pr.mode == "scale":
            theta[-1] = min(0.002 / float(shape.mean()), pr.bounds[1][-1])
        elif pr.mode == "per-bucket":
            theta[k:] = 0.002
        return theta

    res = problem.fit(start(problem), all_periods, max_nfev=max_nfev)
    if s.write_offs is not None:
        _, _, _, _, expo = problem.evaluate(res.x, all_periods)
        cond = _exposure_condition(expo[0])
        n_wo = s.n_periods
        if default_mode == "auto" and cond <= PER_BUCKET_MAX_CONDITION:
            c, p = problem.rates(res.x)
            per = _Problem(s, grid, "per-bucket", shape)
            res2 = per.fit(np.concatenate([c[0], p[0]]), all_periods, max_nfev=max_nfev)
            problem, res, mode = per, res2, "per-bucket"
        cond_text = "∞" if math.isinf(cond) else f"{cond:.3g}"
        if mode == "per-bucket":
            notes.append(
                f"default rates fitted per bucket from the write-offs of {n_wo} periods "
                f"(exposure condition number {cond_text}"
                + (
                    f" ≤ {PER_BUCKET_MAX_CONDITION:g})"
                    if cond <= PER_BUCKET_MAX_CONDITION
                    else f", forced although above {PER_BUCKET_MAX_CONDITION:g})"
                )
            )
        else:
            why = (
                f"{n_wo} period(s) of write-offs for {k} buckets"
                if n_wo < k
                else f"the periods' bucket mixes are too alike (exposure condition number "
                f"{cond_text} > {PER_BUCKET_MAX_CONDITION:g})"
            )
            notes.append(
                f"default rates: one scale on a stated shape, p_b = λ · shape_b, shape = "
                f"{shape_text}, fitted λ = {res.x[-1]:.6g}"
                + (
                    f": one write-off total per period cannot fix one rate per bucket ({why})"
                    if default_mode == "auto"
                    else " (forced)"
                )
            )
    c, p = problem.rates(res.x)
    c, p = c[0].copy(), p[0].copy()
    names = [f"c[{lab}]" for lab in labels]
    names += {"fixed": [], "scale": ["λ"], "per-bucket": [f"p[{lab}]" for lab in labels]}[mode]
    unclear = _not_unique(problem.jacobian(res.x, all_periods), names)
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
    converged = bool(res.status > 0)
    if not converged:
        notes.append(f"the fit did not converge: {res.message}")

    # Intervals
    draws: list[np.ndarray] = []
    seed = int(seed)
    if s.n_periods >= BOOTSTRAP_MIN_PERIODS and bootstrap > 0:
        method = "bootstrap"
        rng = np.random.default_rng(seed)
        failed = 0
        for _ in range(bootstrap):
            idx = rng.integers(0, s.n_periods, s.n_periods)
            r = problem.fit(res.x, idx, tol=1e-10, max_nfev=max_nfev)
            if r.status > 0:
                draws.append(r.x)
            else:
                failed += 1
        if failed:
            notes.append(f"{failed} of {bootstrap} bootstrap fits did not converge (left out)")
    elif 2 <= s.n_periods < BOOTSTRAP_MIN_PERIODS:
        method = "per-period range"
        left_out = []
        for t in range(s.n_periods):
            idx = np.array([t])
            r = problem.fit(res.x, idx, max_nfev=max_nfev)
            if r.status > 0 and not _not_unique(problem.jacobian(r.x, idx), names):
                draws.append(r.x)
            else:
                left_out.append(s.dates[t + 1].isoformat())
        if left_out:
            notes.append(
                "left out of the per-period range (alone they do not determine every rate): "
                "periods ending " + ", ".join(left_out)
            )
        if not draws:
            notes.append("no period alone determines every rate: no interval")
    else:
        method = "none"
        notes.append("one period: no interval" if s.n_periods == 1 else "bootstrap 0: no interval")
    n_draws = len(draws)
    interval = np.full((len(names), 2), np.nan)
    if draws:
        x = np.array(draws)
        if method == "bootstrap":
            a = 100 * (1 - LEVEL) / 2
            interval = np.percentile(x, [a, 100 - a], axis=0).T
        else:
            interval = np.stack([x.min(axis=0), x.max(axis=0)], axis=1)
    c_int = interval[:k]
    if mode == "fixed":
        p_int = np.full((k, 2), np.nan)
    elif mode == "scale":
        p_int = interval[k][None, :] * shape[:, None]
    else:
        p_int = interval[k:]
    end, _, dflt, wo, _ = problem.evaluate(res.x, all_periods)
    return HazardFit(
        labels=tuple(labels),
        collection_rates=c,
        default_rates=p,
        collection_interval=c_int,
        default_interval=p_int,
        default_mode=mode,
        default_shape=shape,
        default_scale=float(res.x[-1]) if mode == "scale" else None,
        interval_method=method,
        replicates=n_draws,
        seed=seed,
        converged=converged,
        message=str(res.message),
        fitted=end[0],
        observed=problem.g1.copy(),
        included=problem.include.copy(),
        fitted_write_offs=(dflt + wo)[0] if s.write_offs is not None else None,
        observed_write_offs=problem.wo_obs.copy() if problem.wo_obs is not None else None,
        cost=float(res.cost),
        notes=tuple(notes),
    )
