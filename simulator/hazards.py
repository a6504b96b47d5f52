"""The common factor and the conditional monthly hazards (DESIGN 2.2, 2.3 and 2.5).

Every function here is deterministic given its inputs: the random numbers are drawn by the
engine, one block of paths at a time.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable
from typing import Any

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


def _per_bucket(x: np.ndarray, ndim: int) -> np.ndarray:
    """A per-bucket parameter, shape ``(K,)`` or ``(K, *paths)``, with axes inserted after the
    bucket axis so that its path axes (if any) are the trailing axes of a factor of ``ndim``
    dimensions: shape ``(K, 1, …, *paths)`` with ``ndim + 1`` axes."""
    x = np.asarray(x, dtype=float)
    return x.reshape(x.shape[:1] + (1,) * (ndim + 1 - x.ndim) + x.shape[1:])


def default_hazard(p: np.ndarray, rho: float | np.ndarray, z: np.ndarray) -> np.ndarray:
    """Vasicek one-factor monthly default probability given the factor.

    Parameters
    ----------
    p : ndarray, shape (K,) or (K, n)
        Average monthly default probabilities ``p_b``, the same on every path or, with a path
        axis ``n`` (the trailing axis of ``z``), one per path.
    rho : float or ndarray, shape (n,)
        Asset correlation, ``0 <= rho < 1``, the same on every path or one per path.
    z : ndarray, shape (n,) or (m, n)
        Factor values (``m`` months of ``n`` paths).

    Returns
    -------
    ndarray, shape (K, *z.shape)
        ``d = ndtr((ndtri(p) + sqrt(rho) z) / sqrt(1 − rho))``, exactly ``p`` where ``rho == 0``.
        When ``rho`` is the one value 0, exactly ``p`` with unit axes for ``z``'s, shape
        (K, 1, …) or (K, 1, …, n) (broadcastable).
    """
    z = np.asarray(z)
    pk = _per_bucket(p, z.ndim)
    if np.ndim(rho) == 0 and rho == 0.0:
        return pk.copy()
    with np.errstate(divide="ignore"):
        threshold = special.ndtri(pk) / np.sqrt(1.0 - rho)
    x = np.sqrt(rho / (1.0 - rho)) * z
    x = np.add(x, threshold, out=x if x.shape == threshold.shape else None)
    special.ndtr(x, out=x)
    zero = np.asarray(rho) == 0.0
    return np.where(zero, pk, x) if zero.any() else x


_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _integrand(z: float, alpha: float, beta: float) -> float:
    """``logistic(alpha - beta z) · φ(z)``, what :func:`logistic_normal_mean` integrates.

    Plain Python that numba also compiles (:mod:`simulator._integrand`): the two give the same
    numbers bit for bit (the same operations in the same order, and libm's ``exp``).
    """
    x = alpha - beta * z
    if x >= 0.0:
        lg = 1.0 / (1.0 + math.exp(-x))
    else:
        e = math.exp(x)
        lg = e / (1.0 + e)
    return lg * math.exp(-0.5 * z * z) * _INV_SQRT_2PI


def logistic_normal_mean(alpha: float, beta: float, *, integrand: Any = None) -> float:
    """``E[logistic(alpha - beta Z)]`` for ``Z ~ N(0, 1)``, by adaptive quadrature.

    ``integrand`` is the same integrand compiled for :func:`scipy.integrate.quad`
    (:func:`simulator._integrand.compiled_integrand`): the same numbers, faster.
    """
    if beta == 0.0 or not math.isfinite(alpha):
        return float(special.expit(alpha))
    val, _ = integrate.quad(
        _integrand if integrand is None else integrand,
        -np.inf,
        np.inf,
        args=(alpha, beta),
        epsabs=1e-14,
        epsrel=1e-12,
        limit=200,
    )
    return val


#: Solved ``alpha`` by ``(c_b, beta)``, for the process; beyond the size the oldest go first.
_SOLVED: dict[tuple[float, float], float] = {}
_SOLVED_MAX = 1 << 16
_SOLVED_LOCK = threading.Lock()
#: From this many ``alpha`` to solve in one call, :func:`solve_alpha` takes the compiled
#: integrand if given: loading numba costs about as much as solving a few hundred in Python.
COMPILED_FROM = 256


def solve_alpha(
    c: np.ndarray,
    beta: float | np.ndarray,
    *,
    compiled: Callable[[], Any] | None = None,
) -> np.ndarray:
    """Solve ``E[logistic(alpha_b - beta Z)] = c_b`` for each bucket.

    Each ``(c_b, beta)`` is solved once per process and then remembered (the what-if page
    recompiles a scenario on every change of a control that leaves the rates alone; parameter
    replicates compile the same rows in the engine and in the implied rates).

    Parameters
    ----------
    c : ndarray, shape (K,) or (n, K)
        Average monthly collection rates in [0, 1] (``n`` sets of K).
    beta : float or ndarray, shape (n,)
        Factor loading of collections, ``>= 0``: one, or one per set.
    compiled : callable, optional
        Returns the integrand compiled for quad
        (:func:`simulator._integrand.compiled_integrand`), taken when at least
        :data:`COMPILED_FROM` ``alpha`` are to be solved: the same answers, about ten times
        faster once numba is loaded.

    Returns
    -------
    ndarray, shape of ``c``
        ``alpha_b``; ``-inf`` where ``c_b = 0`` and ``+inf`` where ``c_b = 1``.
    """
    c = np.asarray(c, dtype=float)
    b = np.broadcast_to(np.asarray(beta, dtype=float)[..., None], c.shape)
    keys = list(zip(c.ravel().tolist(), b.ravel().tolist(), strict=True))
    found: dict[tuple[float, float], float] = {}
    todo = []
    for key in dict.fromkeys(keys):
        if key in _SOLVED:
            found[key] = _SOLVED[key]
        else:
            todo.append(key)
    integrand = compiled() if compiled is not None and len(todo) >= COMPILED_FROM else None
    for key in todo:
        found[key] = _alpha(*key, integrand=integrand)
        with _SOLVED_LOCK:  # threads compile scenarios too (the what-if page)
            _SOLVED[key] = found[key]
            if len(_SOLVED) > _SOLVED_MAX:
                del _SOLVED[next(iter(_SOLVED))]
    return np.array([found[key] for key in keys]).reshape(c.shape)


def _alpha(cb: float, beta: float, *, integrand: Any = None) -> float:
    """``alpha`` with ``E[logistic(alpha - beta Z)] = cb`` (one bucket of :func:`solve_alpha`)."""
    if cb <= 0.0:
        return -math.inf
    if cb >= 1.0:
        return math.inf
    if beta == 0.0:
        return float(special.logit(cb))

    @functools.cache  # brentq starts by evaluating the bracket the loops below found
    def mean(a: float) -> float:
        return logistic_normal_mean(a, beta, integrand=integrand)

    lo = special.logit(cb) - 2.0 * beta - 1.0
    hi = special.logit(cb) + 2.0 * beta + 1.0
    while mean(lo) > cb:
        lo -= 2.0 * beta + 1.0
    while mean(hi) < cb:
        hi += 2.0 * beta + 1.0
    return float(optimize.brentq(lambda a: mean(a) - cb, lo, hi, xtol=1e-14, rtol=1e-14))


def collection_hazard(
    c: np.ndarray,
    alpha: np.ndarray,
    beta: float | np.ndarray,
    scale: float | np.ndarray,
    z: np.ndarray,
    d: np.ndarray,
) -> np.ndarray:
    """``h = min(m s logistic(alpha - beta Z), 1 - d)`` per bucket and path.

    Parameters
    ----------
    c : ndarray, shape (K,) or (K, n)
        Average collection rates (used directly where ``beta == 0``), the same on every path
        or, with a path axis ``n`` (the trailing axis of ``z``), one per path.
    alpha : ndarray, shape (K,) or (K, n)
        Solved intercepts (:func:`solve_alpha`), like ``c``.
    beta : float or ndarray, shape (n,)
        Factor loading, the same on every path or one per path.
    scale : float or ndarray
        ``m * s_cal(t)``: multiplier times the month's seasonality; an array broadcasts
        against ``z`` (e.g. one per path, or (m, 1) for ``m`` months).
    z : ndarray, shape (n,) or (m, n)
        Factor values.
    d : ndarray, shape (K, *z.shape) or broadcastable to it
        Default hazards of the same months (:func:`default_hazard`).

    Returns
    -------
    ndarray, shape (K, *z.shape), or (K, 1, …) when nothing varies by path (``beta == 0``
    and ``d``, ``c`` and ``scale`` the same on every path).
    """
    z = np.asarray(z)
    if np.ndim(beta) == 0 and beta == 0.0:
        raw = scale * _per_bucket(c, z.ndim)
    else:
        # scale / (1 + exp(beta z - alpha)): the logistic through numpy's vectorised exp
        raw = np.subtract(-_per_bucket(alpha, z.ndim), -beta * z)
        with np.errstate(over="ignore"):
            np.exp(raw, out=raw)
        raw += 1.0
        raw = np.divide(scale, raw, out=raw if np.ndim(scale) == 0 else None)
        plain = np.asarray(beta) == 0.0
        if plain.any():  # paths without a factor loading: scale · c, as above
            raw = np.where(plain, scale * _per_bucket(c, z.ndim), raw)
    cap = 1.0 - d
    same = np.broadcast_shapes(raw.shape, cap.shape) == raw.shape
    return np.minimum(raw, cap, out=raw if same else None)


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
