"""From the estimated monthly collection rate ``ĉ_b`` to the scenario's ``c_b`` (DESIGN 6.3).

``ĉ_b`` estimates the exposure-weighted average over the window's months of
``E[min(m · s_cal · logistic(α_b − β Z), 1 − d_b(Z))]``; ``c_b = E[logistic(α_b − β Z)]``. The
inversion solves for ``α_b`` with the base's ``β``, ``ρ``, ``m`` and seasonality, ``w_{b,cal}``
being the share of the bucket's exposure in pairs ending in each calendar month.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import interpolate, optimize, special

from ..analytic import expected_collection_hazard
from ..hazards import logistic_normal_mean

#: Points of the grid on which bootstrap replicates are inverted (between their extremes).
GRID_POINTS = 25


class _Forward:
    """``ĉ`` as a function of ``α`` for one bucket."""

    def __init__(self, weights, beta, rho, scales, p) -> None:
        keep = weights > 0
        self.w = weights[keep] / weights[keep].sum()
        self.scales = scales[keep]
        self.beta, self.rho, self.p = beta, rho, p
        self.slope = float(self.w @ self.scales)
        self.linear = rho == 0.0 and float(self.scales.max()) <= 1.0 - p
        # the default hazard on a grid of Z: where m·s·logistic(α − βZ) + d(Z) ≤ 1 on the whole
        # grid, the cap does not bind and E[min(·, 1 − d)] = m·s·c exactly (to the grid)
        z = np.linspace(-9.0, 9.0, 721)
        if rho == 0.0 or not 0.0 < p < 1.0:
            self.d_grid = np.full_like(z, p)
        else:
            self.d_grid = special.ndtr((special.ndtri(p) + math.sqrt(rho) * z) / math.sqrt(1 - rho))
        self.z = z

    def c_of(self, alpha: float) -> float:
        return logistic_normal_mean(alpha, self.beta)

    def __call__(self, alpha: float) -> float:
        c = self.c_of(alpha)
        if self.linear:
            return c * self.slope
        raw = special.expit(alpha - self.beta * self.z)
        total = 0.0
        for w, s in zip(self.w, self.scales, strict=True):
            if float((s * raw + self.d_grid).max()) <= 1.0:
                total += w * s * c
            else:
                total += w * expected_collection_hazard(c, alpha, self.beta, s, self.p, self.rho)
        return total

    def ceiling(self) -> float:
        """The largest reachable ``ĉ`` (``c = 1``)."""
        return self(60.0)

    def alpha_for(self, target: float) -> float:
        lo, hi = special.logit(min(max(target, 1e-12), 1 - 1e-12)) - 2.0, 0.0
        hi = lo + 4.0 + 2.0 * self.beta
        while self(lo) > target:
            lo -= 2.0 + 2.0 * self.beta
        while self(hi) < target:
            hi += 2.0 + 2.0 * self.beta
        return float(optimize.brentq(lambda a: self(a) - target, lo, hi, xtol=1e-13, rtol=1e-13))


def invert_collection_rates(
    raw: np.ndarray,
    default_rates: np.ndarray,
    weights: np.ndarray,
    *,
    beta: float = 0.0,
    rho: float = 0.0,
    multiplier: float = 1.0,
    seasonality: np.ndarray | None = None,
    replicates: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None, list[int]]:
    """The ``c_b`` whose hazards average ``raw`` over the window (exact where nothing caps).

    Parameters
    ----------
    raw : ndarray, shape (K,)
        ``ĉ_b`` in [0, 1].
    default_rates : ndarray, shape (K,)
        ``p_b`` (for the cap ``1 − d``).
    weights : ndarray, shape (K, 12)
        Share of each bucket's exposure in pairs ending in each calendar month.
    beta, rho, multiplier : float
    seasonality : ndarray, shape (12,), optional
    replicates : ndarray, shape (R, K), optional
        Bootstrap replicates of ``raw``, inverted on a grid between their extremes.

    Returns
    -------
    c : ndarray, shape (K,)
    c_replicates : ndarray, shape (R, K), or None
    capped : list of int
        Buckets whose ``ĉ_b`` is at or above what ``c_b = 1`` gives (set to 1).
    """
    s = np.ones(12) if seasonality is None else np.asarray(seasonality, dtype=float)
    k = len(raw)
    c = np.zeros(k)
    reps = None if replicates is None else np.zeros_like(replicates)
    capped: list[int] = []
    for b in range(k):
        w = weights[b] if weights[b].sum() > 0 else np.full(12, 1.0 / 12)
        fw = _Forward(w, beta, rho, multiplier * s, float(default_rates[b]))
        c[b] = _solve(fw, float(raw[b]))
        if c[b] >= 1.0 and raw[b] > 0:
            capped.append(b)
        if reps is not None:
            reps[:, b] = _solve_many(fw, replicates[:, b])
    return c, reps, capped


def _solve(fw: _Forward, target: float) -> float:
    if target <= 0.0:
        return 0.0
    if fw.linear:
        return min(target / fw.slope, 1.0) if fw.slope > 0 else 1.0
    top = fw.ceiling()
    if target >= top:
        return 1.0
    return fw.c_of(fw.alpha_for(target))


def _solve_many(fw: _Forward, targets: np.ndarray) -> np.ndarray:
    targets = np.asarray(targets, dtype=float)
    if fw.linear:
        return np.minimum(targets / fw.slope, 1.0) if fw.slope > 0 else np.ones_like(targets)
    out = np.zeros_like(targets)
    top = fw.ceiling()
    out[targets >= top] = 1.0
    mid = (targets > 0) & (targets < top)
    if not mid.any():
        return out
    lo, hi = float(targets[mid].min()), float(targets[mid].max())
    if hi - lo <= 1e-12 * max(hi, 1e-300):
        out[mid] = _solve(fw, lo)
        return out
    a_lo, a_hi = fw.alpha_for(lo), fw.alpha_for(hi)
    grid = np.linspace(a_lo, a_hi, GRID_POINTS)
    f = np.array([fw(a) for a in grid])
    f[0], f[-1] = lo, hi
    cs = np.array([fw.c_of(a) for a in grid])
    order = np.r_[True, np.diff(f) > 0]
    spline = interpolate.PchipInterpolator(f[order], cs[order])
    out[mid] = np.clip(spline(targets[mid]), 0.0, 1.0)
    return out


def calendar_weights(exposure_by_bucket_pair: np.ndarray, calendar: np.ndarray) -> np.ndarray:
    """``(K, 12)`` shares of each bucket's exposure in pairs ending in each calendar month."""
    k = exposure_by_bucket_pair.shape[0]
    out = np.zeros((k, 12))
    for m in range(12):
        out[:, m] = exposure_by_bucket_pair[:, calendar == m + 1].sum(axis=1)
    tot = out.sum(axis=1, keepdims=True)
    return np.divide(out, tot, out=np.zeros_like(out), where=tot > 0)
