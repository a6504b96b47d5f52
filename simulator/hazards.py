"""The common factor and the conditional monthly hazards (DESIGN 2.2, 2.3 and 2.5).

Every function here is deterministic given its inputs: the random numbers are drawn by the
engine, one block of paths at a time.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import integrate, optimize, special

__all__ = [
    "calendar_months",
    "collection_hazard",
    "default_hazard",
    "factor_step",
    "logistic_normal_mean",
    "revenue_shock",
    "solve_alpha",
]


def factor_step(z_prev: np.ndarray, eps: np.ndarray, phi: float) -> np.ndarray:
    """``Z_t = phi Z_{t-1} + sqrt(1 - phi^2) eps_t``; every ``Z_t`` is standard normal."""
    return phi * z_prev + math.sqrt(max(1.0 - phi * phi, 0.0)) * eps


def default_hazard(p: np.ndarray, rho: float, z: np.ndarray) -> np.ndarray:
    """Vasicek one-factor monthly default probability given the factor.

    Parameters
    ----------
    p : ndarray, shape (K,)
        Average monthly default probabilities ``p_b``.
    rho : float
        Asset correlation, ``0 <= rho < 1``.
    z : ndarray, shape (n,)
        Factor values.

    Returns
    -------
    ndarray, shape (K, n), or (K, 1) when ``rho == 0`` (then exactly ``p``).
    """
    p = np.asarray(p, dtype=float)
    if rho == 0.0:
        return p[:, None].copy()
    with np.errstate(divide="ignore"):
        threshold = special.ndtri(p) / math.sqrt(1.0 - rho)
    x = np.multiply.outer(np.full(len(p), math.sqrt(rho / (1.0 - rho))), z)
    x += threshold[:, None]
    return special.ndtr(x, out=x)


def _logistic(x: float) -> float:
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def logistic_normal_mean(alpha: float, beta: float) -> float:
    """``E[logistic(alpha - beta Z)]`` for ``Z ~ N(0, 1)``, by adaptive quadrature."""
    if beta == 0.0 or not math.isfinite(alpha):
        return float(special.expit(alpha))
    val, _ = integrate.quad(
        lambda z: _logistic(alpha - beta * z) * math.exp(-0.5 * z * z) * _INV_SQRT_2PI,
        -np.inf,
        np.inf,
        epsabs=1e-14,
        epsrel=1e-12,
        limit=200,
    )
    return val


def solve_alpha(c: np.ndarray, beta: float) -> np.ndarray:
    """Solve ``E[logistic(alpha_b - beta Z)] = c_b`` for each bucket.

    Each ``(c_b, beta)`` is solved once per process and then remembered (the what-if page
    recompiles a scenario on every change of a control that leaves the rates alone).

    Parameters
    ----------
    c : ndarray, shape (K,)
        Average monthly collection rates in [0, 1].
    beta : float
        Factor loading of collections, ``>= 0``.

    Returns
    -------
    ndarray, shape (K,)
        ``alpha_b``; ``-inf`` where ``c_b = 0`` and ``+inf`` where ``c_b = 1``.
    """
    c = np.asarray(c, dtype=float)
    return np.array([_alpha(float(cb), float(beta)) for cb in c.ravel()]).reshape(c.shape)


@functools.lru_cache(maxsize=4096)
def _alpha(cb: float, beta: float) -> float:
    """``alpha`` with ``E[logistic(alpha - beta Z)] = cb`` (one bucket of :func:`solve_alpha`)."""
    if cb <= 0.0:
        return -math.inf
    if cb >= 1.0:
        return math.inf
    if beta == 0.0:
        return float(special.logit(cb))
    lo = special.logit(cb) - 2.0 * beta - 1.0
    hi = special.logit(cb) + 2.0 * beta + 1.0
    while logistic_normal_mean(lo, beta) > cb:
        lo -= 2.0 * beta + 1.0
    while logistic_normal_mean(hi, beta) < cb:
        hi += 2.0 * beta + 1.0
    return float(
        optimize.brentq(
            lambda a: logistic_normal_mean(a, beta) - cb, lo, hi, xtol=1e-14, rtol=1e-14
        )
    )


def collection_hazard(
    c: np.ndarray,
    alpha: np.ndarray,
    beta: float,
    scale: float,
    z: np.ndarray,
    d: np.ndarray,
) -> np.ndarray:
    """``h = min(m s logistic(alpha - beta Z), 1 - d)`` per bucket and path.

    Parameters
    ----------
    c : ndarray, shape (K,)
        Average collection rates (used directly when ``beta == 0``).
    alpha : ndarray, shape (K,)
        Solved intercepts (:func:`solve_alpha`).
    beta : float
        Factor loading.
    scale : float
        ``m * s_cal(t)``: multiplier times this month's seasonality.
    z : ndarray, shape (n,)
        Factor values.
    d : ndarray, shape (K, n) or (K, 1)
        Default hazards of the same month.

    Returns
    -------
    ndarray, shape (K, n), or (K, 1) when neither ``beta`` nor ``d`` varies by path.
    """
    if beta == 0.0:
        raw = (scale * np.asarray(c, dtype=float))[:, None]
    else:
        # scale / (1 + exp(beta z - alpha)): the logistic through numpy's vectorised exp
        raw = np.subtract.outer(-alpha, -beta * np.asarray(z))
        with np.errstate(over="ignore"):
            np.exp(raw, out=raw)
        raw += 1.0
        np.divide(scale, raw, out=raw)
    cap = 1.0 - d
    return np.minimum(raw, cap, out=raw if raw.shape[1] >= cap.shape[1] else None)


def revenue_shock(z: np.ndarray, xi: np.ndarray, v: float, kappa: float) -> np.ndarray | float:
    """Mean-one lognormal revenue shock ``exp(v eta - v^2/2)``.

    ``eta = -kappa Z + sqrt(1 - kappa^2) xi``.

    Returns the float 1.0 when ``v == 0``.
    """
    if v == 0.0:
        return 1.0
    eta = -kappa * z + math.sqrt(max(1.0 - kappa * kappa, 0.0)) * xi
    return np.exp(v * eta - 0.5 * v * v)


def calendar_months(as_of_month: int | None, horizon: int) -> np.ndarray:
    """Calendar month (1..12) of months ``t = 1..H``: ``((month(as_of) - 1 + t) mod 12) + 1``.

    Without an ``as_of`` date, month 1 is taken as January (only seasonality uses it, and a
    seasonality requires ``as_of``).
    """
    base = 0 if as_of_month is None else as_of_month
    t = np.arange(1, horizon + 1)
    return (base - 1 + t) % 12 + 1
