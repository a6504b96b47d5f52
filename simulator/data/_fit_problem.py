"""The least-squares problem behind the hazard fit: residuals of the bucket totals (and
write-offs) of consecutive snapshots for parameter vectors, their Jacobian and the fit on any set
of periods; the refits behind the intervals (bootstrap resamples, single periods); and the checks
of what the data determine (which parameters trade off, how distinct the periods' bucket mixes
are)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import numpy as np
from scipy import optimize

from ..aging import AgingGrid
from ._projection import _run
from ._snapshots import Snapshots

_RANK_TOL = 1e-9  # relative singular value below which the fit is not unique


_STEP = 1e-6  # finite-difference step of the Jacobian (rates live in [0, 1])


class _Problem:
    """Residuals of the bucket totals (and write-offs) for parameter vectors, vectorised.

    The parameters are the ``K`` collection rates, then by ``mode``: nothing (``"fixed"``: the
    default rates are ``p_given``), one scale ``λ`` (``"scale"``: ``p = λ · p_given``) or ``K``
    default rates (``"per-bucket"``).
    """

    def __init__(
        self,
        snapshots: Snapshots,
        grid: AgingGrid,
        mode: str,
        p_given: np.ndarray,
    ) -> None:
        s = snapshots
        self.snapshots, self.grid, self.mode, self.p_given = s, grid, mode, p_given
        self.k, self.n_periods = s.n_buckets, s.n_periods
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
        """Collection and default rates ``(c, p)``, each (S, K), of parameter sets (S, n)."""
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
        """The recursion's outputs (:func:`._projection._run`) for parameter sets on periods."""
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


def _exposure_condition(expo: np.ndarray) -> float:
    """Condition number of the periods' exposures by bucket, columns scaled to unit length.

    ``inf`` when a bucket is never exposed or there are fewer periods than buckets.
    """
    norms = np.linalg.norm(expo, axis=0)
    if (norms <= 0).any() or expo.shape[0] < expo.shape[1]:
        return math.inf
    s = np.linalg.svd(expo / norms, compute_uv=False)
    return math.inf if s[-1] <= 0 else float(s[0] / s[-1])


def _bootstrap_draws(
    problem: _Problem, x: np.ndarray, replicates: int, seed: int, max_nfev: int | None
) -> tuple[list[np.ndarray], list[str]]:
    """Fits to the periods resampled with replacement (seeded), each started from ``x``.

    Fits that do not converge are left out, and a note says how many.
    """
    rng = np.random.default_rng(seed)
    n = problem.n_periods
    draws: list[np.ndarray] = []
    failed = 0
    for _ in range(replicates):
        idx = rng.integers(0, n, n)
        r = problem.fit(x, idx, tol=1e-10, max_nfev=max_nfev)
        if r.status > 0:
            draws.append(r.x)
        else:
            failed += 1
    notes = (
        [f"{failed} of {replicates} bootstrap fits did not converge (left out)"] if failed else []
    )
    return draws, notes


def _per_period_draws(
    problem: _Problem,
    x: np.ndarray,
    names: list[str],
    dates: Sequence[dt.date],
    max_nfev: int | None,
) -> tuple[list[np.ndarray], list[str]]:
    """Fits to each period alone, started from ``x``; a period that does not determine every
    rate on its own (or whose fit does not converge) is left out, and the notes say which."""
    draws: list[np.ndarray] = []
    left_out = []
    for t in range(problem.n_periods):
        idx = np.array([t])
        r = problem.fit(x, idx, max_nfev=max_nfev)
        if r.status > 0 and not _not_unique(problem.jacobian(r.x, idx), names):
            draws.append(r.x)
        else:
            left_out.append(dates[t + 1].isoformat())
    notes = []
    if left_out:
        notes.append(
            "left out of the per-period range (alone they do not determine every rate): "
            "periods ending " + ", ".join(left_out)
        )
    if not draws:
        notes.append("no period alone determines every rate: no interval")
    return draws, notes
