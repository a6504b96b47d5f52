"""Exact expectations the simulation must agree with when months are independent (DESIGN 2.8).

:func:`expected_trajectory` gives the expected monthly trajectory of the book when the months are
independent (``phi = 0``) or the hazards do not depend on the factor (``beta = rho = 0``): then
``E[S_t]`` follows the recursion of DESIGN 2.4 with the expected hazards, and every expected flow
follows from it. :func:`expected_collection_hazard` is ``E[h]``, an integral over the factor with
a kink where the cap ``1 − d`` starts to bind.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from scipy import integrate, optimize, special

from ..aging import age_one_month
from ..params import compile_params
from ..scenario import Scenario

__all__ = ["expected_collection_hazard", "expected_trajectory"]

_Z_LIMIT = 9.0


_SQRT_2PI = math.sqrt(2.0 * math.pi)


def _cap_kinks(
    g, lo: float = -_Z_LIMIT, hi: float = _Z_LIMIT, n: int = 2001, g_vec=None
) -> list[float]:
    """Points in [lo, hi] where ``g`` changes sign, refined by root finding.

    ``g_vec``, if given, is ``g`` evaluated elementwise on an array (same values, faster grid).
    """
    z = np.linspace(lo, hi, n)
    vals = g_vec(z) if g_vec is not None else np.array([g(x) for x in z])
    kinks = []
    for i in np.flatnonzero(np.sign(vals[:-1]) != np.sign(vals[1:])):
        if vals[i] == 0.0:
            kinks.append(float(z[i]))
        else:
            kinks.append(float(optimize.brentq(g, z[i], z[i + 1], xtol=1e-14)))
    return kinks


def expected_collection_hazard(
    c: float, alpha: float, beta: float, scale: float, p: float, rho: float
) -> float:
    """``E[min(scale · logistic(alpha − beta Z), 1 − d(Z))]`` for ``Z ~ N(0, 1)``.

    The integrand has a kink where the cap ``1 − d`` starts to bind; the kinks are located on a
    grid over [−9, 9], refined by root finding and given to adaptive quadrature as breakpoints.

    Parameters
    ----------
    c : float
        Average collection rate ``c_b`` (used directly when ``beta = 0``).
    alpha : float
        Intercept solving ``E[logistic(alpha − beta Z)] = c``.
    beta : float
        Factor loading of collections.
    scale : float
        Multiplier times seasonality, ``m · s``.
    p : float
        Average monthly default probability ``p_b``.
    rho : float
        Default correlation.

    Returns
    -------
    float
    """
    sqrt_rho, sqrt_1mr = math.sqrt(rho), math.sqrt(1.0 - rho)
    threshold = special.ndtri(p) if 0.0 < p < 1.0 else (-np.inf if p <= 0.0 else np.inf)

    def raw(z: float) -> float:
        return scale * (c if beta == 0.0 else float(special.expit(alpha - beta * z)))

    def cap(z: float) -> float:
        if rho == 0.0:
            return 1.0 - p
        return 1.0 - float(special.ndtr((threshold + sqrt_rho * z) / sqrt_1mr))

    if beta == 0.0 and rho == 0.0:
        return min(scale * c, 1.0 - p)

    def integrand(z: float) -> float:
        return min(raw(z), cap(z)) * math.exp(-0.5 * z * z) / _SQRT_2PI

    def gap_vec(z: np.ndarray) -> np.ndarray:
        r = scale * (np.full_like(z, c) if beta == 0.0 else special.expit(alpha - beta * z))
        if rho == 0.0:
            return r - (1.0 - p)
        return r - (1.0 - special.ndtr((threshold + sqrt_rho * z) / sqrt_1mr))

    kinks = _cap_kinks(lambda z: raw(z) - cap(z), g_vec=gap_vec)
    edges = [-_Z_LIMIT, *kinks, _Z_LIMIT]
    total = 0.0
    for a, b in itertools.pairwise(edges):
        if b > a:
            total += integrate.quad(integrand, a, b, epsabs=1e-15, epsrel=1e-13, limit=200)[0]
    for a, b in ((-np.inf, -_Z_LIMIT), (_Z_LIMIT, np.inf)):
        total += integrate.quad(integrand, a, b, epsabs=1e-15, limit=100)[0]
    return total


def expected_trajectory(scenario: Scenario) -> pd.DataFrame:
    """Exact expected monthly trajectory of a scenario without serial dependence.

    Valid when ``factor.persistence = 0`` (months independent), or when neither collections nor
    defaults depend on the factor (``factor_loading = 0`` and ``correlation = 0``).

    Parameters
    ----------
    scenario : Scenario

    Returns
    -------
    pandas.DataFrame
        One row per month ``0..H``: ``gross_<label>`` per bucket, ``gross``, ``collections``,
        ``defaults``, ``write_offs``, ``credit_loss``, ``allowance``, ``charge``, ``revenue``
        and ``cash`` (expectations; flows are 0 in month 0).

    Raises
    ------
    ValueError
        If the factor is persistent and drives the hazards (no exact answer of this kind).
    """
    prm = compile_params(scenario)
    if prm.phi > 0.0 and (prm.beta > 0.0 or prm.rho > 0.0):
        raise ValueError(
            "exact expectations need factor.persistence = 0, or factor_loading = 0 and "
            "correlation = 0"
        )
    H, K = prm.horizon, prm.n_buckets
    p = prm.default_rate
    # E[h] depends on t only through the scale m·s_cal(t): compute it once per distinct scale.
    cache: dict[float, np.ndarray] = {}

    def hbar(scale: float) -> np.ndarray:
        if scale not in cache:
            cache[scale] = np.array(
                [
                    expected_collection_hazard(
                        prm.collection_rate[b], prm.alpha[b], prm.beta, scale, p[b], prm.rho
                    )
                    for b in range(K)
                ]
            )
        return cache[scale]

    bucket = np.repeat(np.arange(K), [hi - lo for lo, hi in prm.slices])
    S = prm.opening_by_age.copy()
    r = prm.provision_rates
    rows = {
        k: np.zeros(H + 1)
        for k in (
            "gross",
            "collections",
            "defaults",
            "write_offs",
            "credit_loss",
            "allowance",
            "charge",
            "revenue",
            "cash",
        )
    }
    gross_b = np.zeros((H + 1, K))

    def bucket_sums(state: np.ndarray) -> np.ndarray:
        return np.bincount(bucket, weights=state, minlength=K)

    gross_b[0] = bucket_sums(S)
    rows["allowance"][0] = r @ gross_b[0]
    rows["cash"][0] = prm.cash_opening
    for t in range(1, H + 1):
        h = hbar(float(prm.collection_scale[t - 1]))
        f = np.maximum(1.0 - h - p, 0.0)
        rev = prm.revenue_base[t - 1]
        rows["collections"][t] = h @ gross_b[t - 1]
        rows["defaults"][t] = p @ gross_b[t - 1]
        billed = prm.credit_billings[t - 1] if prm.credit_billings.size else prm.credit_share * rev
        S, wo = age_one_month(S * f[bucket], prm.write_off, billed)
        gross_b[t] = bucket_sums(S)
        rows["write_offs"][t] = wo
        rows["credit_loss"][t] = rows["defaults"][t] + wo
        rows["allowance"][t] = r @ gross_b[t]
        rows["charge"][t] = rows["allowance"][t] - rows["allowance"][t - 1] + rows["credit_loss"][t]
        rows["revenue"][t] = rev
        rows["cash"][t] = (
            rows["cash"][t - 1]
            + rows["collections"][t]
            + (1.0 - prm.credit_share - prm.variable_cost_ratio) * rev
            - prm.fixed_outflow[t - 1]
            + prm.other_inflow
        )
    rows["gross"] = gross_b.sum(axis=1)
    table = pd.DataFrame({"month": np.arange(H + 1), **rows})
    for b, label in enumerate(scenario.labels):
        table[f"gross_{label}"] = gross_b[:, b]
    return table
