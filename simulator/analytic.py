"""Exact answers the simulation must agree with, implied provision rates and their inverse
(DESIGN 2.8).

:func:`expected_trajectory` gives the expected monthly trajectory of the book when the months are
independent (``phi = 0``) or the hazards do not depend on the factor (``beta = rho = 0``): then
``E[S_t]`` follows the recursion of DESIGN 2.4 with the expected hazards, and every expected flow
follows from it.

Implied provision rates
-----------------------
``L(a, k)`` is the probability that a unit balance at age ``a``, about to be processed in calendar
month ``k``, is never collected (run-off: no new billings). The implied rate of a bucket is
``L(a, cal(1))`` averaged over the bucket's ages with the opening balances as weights.

- :func:`lifetime_loss` solves the 12-periodic recursion exactly when the months are independent
  (``phi = 0``) or the hazards do not depend on the factor (``beta = rho = 0``).
- Otherwise :func:`implied_rates` simulates the run-off of the opening book on ``runoff_paths``
  paths (:func:`runoff_implied_rates`). Random numbers: block ``i`` of :data:`RUNOFF_BLOCK` paths
  draws from ``numpy.random.default_rng([i, seed, *stream])`` with ``stream = (1,)`` for the
  implied rates of a scenario (``(2, j)`` for the ``j``-th ECL scenario, see
  :mod:`simulator.provisioning`), distinct from the engine's ``[i, seed]``: first ``Z_0`` of the
  block, then ``eps_t`` for months 1..600, always for a full block. A path's numbers depend only on
  the seed, the stream and its index.
- The stopping rule of DESIGN 2.8 is applied per path and made independent of the default rates:
  a path stops at the first month at which what would remain *with no defaults at all* (the
  slowest run-off these collections allow) is below ``1e-6`` of every bucket's opening balance, or
  after 600 months. What remains then is counted as lost; it is below ``1e-6`` of each bucket (so
  below ``1e-6 · G_0`` for the book, as DESIGN 2.8 asks) except on paths that reach 600 months,
  and its mean is reported (``unresolved``). Because the stopping month does not move with
  ``p_b``, the implied rates are smooth and monotone in ``p_b`` on common random numbers, which is
  what :func:`calibrate_default_rates` needs.
- A backward recursion along each path's factor path gives ``L`` for every age at once. It only
  visits the (age, month) pairs that the opening book can reach (age ≥ month − 1), bucket by
  bucket from the oldest, so a run-off costs about ``(A²/2 + months) × paths`` operations.

:func:`calibrate_default_rates` solves ``p_b``, last bucket first, so that the implied rates equal
the disclosed ones: exactly (``scipy.optimize.brentq`` on the exact rates) when the months are
independent, otherwise on common random numbers (the same paths and stopping months at every
trial ``p_b``), with standard errors of the solved rates from the delta method.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import integrate, optimize, special

from . import engine
from .engine import ResourceError, compile_params
from .hazards import calendar_months, collection_hazard, default_hazard, factor_step
from .scenario import Scenario

__all__ = [
    "MAX_RUNOFF_MONTHS",
    "RUNOFF_BLOCK",
    "RUNOFF_STREAM",
    "RUNOFF_TOL",
    "Calibration",
    "ImpliedRates",
    "calibrate_default_rates",
    "exact_rates_available",
    "expected_collection_hazard",
    "expected_trajectory",
    "implied_rates",
    "lifetime_loss",
    "runoff_implied_rates",
]

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
    H, K, A = prm.horizon, prm.n_buckets, prm.n_ages
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
        R = S * f[bucket]
        new = np.empty(A)
        new[1:] = R[:-1]
        if prm.write_off:
            wo = R[-1]
            new[0] = 0.0
        else:
            wo = 0.0
            if A == 1:
                new[0] = R[0]
            else:
                new[-1] += R[-1]
                new[0] = 0.0
        new[0] += prm.credit_share * rev
        S = new
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


# --------------------------------------------------------------------------------------------
# Lifetime loss and implied provision rates (DESIGN 2.8)

#: The run-off stops after this many months at the latest; what remains is counted as lost.
MAX_RUNOFF_MONTHS = 600
#: A path stops once what would remain with no defaults is below this share of every bucket.
RUNOFF_TOL = 1e-6
#: Paths per block of the run-off (its random-number granularity, like the engine's blocks).
RUNOFF_BLOCK = 2048
#: Stream of the implied-rate run-off: block ``i`` draws from ``default_rng([i, seed, 1])``.
RUNOFF_STREAM = 1
#: Rates within this of 1 count as 100 % when deciding identification.
_ID_TOL = 1e-12
#: Share of the machine's memory a calibration on common random numbers may use.


@dataclass(frozen=True)
class _Book:
    """The opening book and the hazard parameters of a scenario, as the run-off needs them."""

    labels: list[str]
    slices: tuple[tuple[int, int], ...]
    n_ages: int
    write_off: bool
    opening: np.ndarray  # S_0 by age (A,)
    gross: np.ndarray  # G_{b,0} (K,)
    weights: np.ndarray  # weight of each age within its bucket (A,)
    c: np.ndarray
    alpha: np.ndarray
    beta: float
    p: np.ndarray
    rho: float
    phi: float
    season: np.ndarray  # m · s_k for calendar months 1..12 (index k - 1)
    first: int  # calendar month of month 1, 0-based

    @property
    def n_buckets(self) -> int:
        return len(self.slices)

    def absorbing(self, b: int) -> bool:
        """Whether bucket ``b`` is the single absorbing last age (no write-off age)."""
        return b == self.n_buckets - 1 and not self.write_off

    def scales(self, months: int) -> np.ndarray:
        """``m · s_cal(t)`` for months ``t = 1..months``."""
        return self.season[(self.first + np.arange(months)) % 12]

    @property
    def exact(self) -> bool:
        return self.phi == 0.0 or (self.beta == 0.0 and self.rho == 0.0)


def _book(scenario: Scenario, default_rates: Sequence[float] | None = None) -> _Book:
    prm = compile_params(scenario)
    col = scenario.collections
    seas = np.asarray(col.seasonality if col.seasonality else [1.0] * 12, dtype=float)
    as_of = scenario.scenario.as_of
    first = int(calendar_months(as_of.month if as_of else None, 1)[0]) - 1
    weights = np.empty(prm.n_ages)
    for b, (lo, hi) in enumerate(prm.slices):
        g = prm.opening_gross[b]
        weights[lo:hi] = prm.opening_by_age[lo:hi] / g if g > 0 else 1.0 / (hi - lo)
    p = prm.default_rate if default_rates is None else np.asarray(default_rates, dtype=float)
    return _Book(
        labels=scenario.labels,
        slices=prm.slices,
        n_ages=prm.n_ages,
        write_off=prm.write_off,
        opening=prm.opening_by_age,
        gross=prm.opening_gross,
        weights=weights,
        c=prm.collection_rate,
        alpha=prm.alpha,
        beta=prm.beta,
        p=p.copy(),
        rho=prm.rho,
        phi=prm.phi,
        season=col.multiplier * seas,
        first=first,
    )


def exact_rates_available(scenario: Scenario) -> bool:
    """Whether the implied rates of ``scenario`` have an exact answer (DESIGN 2.8).

    True when the months are independent (``factor.persistence = 0``) or neither collections
    nor defaults depend on the factor (``factor_loading = 0`` and ``correlation = 0``).
    """
    return scenario.factor.persistence == 0.0 or (
        scenario.collections.factor_loading == 0.0 and scenario.defaults.correlation == 0.0
    )


@dataclass(frozen=True)
class ImpliedRates:
    """Model-implied provision rates of the opening book (DESIGN 2.8).

    Attributes
    ----------
    labels : list of str
        Bucket labels.
    rates, rates_se : ndarray, shape (K,)
        Implied rate per bucket and its standard error (0 when exact).
    loss_by_age, loss_by_age_se : ndarray, shape (A,)
        ``L(a, cal(1))``: probability that a unit at age ``a`` at the start is never collected.
    lifetime_loss, lifetime_loss_se : float
        Expected lifetime loss of the opening book, ``Σ_b rate_b · G_b0`` (money).
    opening_gross : ndarray, shape (K,)
        ``G_b0``.
    method : str
        ``"exact"`` or ``"runoff"``.
    paths, seed : int or None
        Run-off paths and seed (``None`` when exact).
    stream : tuple of int
        Random-number stream of the run-off (``()`` when exact).
    unresolved, unresolved_se : float
        Mean balance of the opening book still outstanding when the run-off stopped, counted as
        lost (money; 0 when exact).
    months_mean, months_max : float or None
        Mean and largest stopping month over paths (``None`` when exact).
    """

    labels: list[str]
    rates: np.ndarray
    rates_se: np.ndarray
    loss_by_age: np.ndarray
    loss_by_age_se: np.ndarray
    lifetime_loss: float
    lifetime_loss_se: float
    opening_gross: np.ndarray
    method: str
    paths: int | None = None
    seed: int | None = None
    stream: tuple[int, ...] = ()
    unresolved: float = 0.0
    unresolved_se: float = 0.0
    months_mean: float | None = None
    months_max: int | None = None

    def by_label(self, values: np.ndarray | None = None) -> dict[str, float]:
        """Values per bucket keyed by label (the implied rates by default)."""
        values = self.rates if values is None else values
        return {lab: float(v) for lab, v in zip(self.labels, values, strict=True)}


# -- exact: the 12-periodic recursion -------------------------------------------------------


def _hbar12(book: _Book, b: int, p: float) -> np.ndarray:
    """``E[h_{b,k}]`` for calendar months k = 1..12 with default rate ``p``."""
    out = np.empty(12)
    cache: dict[float, float] = {}
    for k in range(12):
        s = float(book.season[k])
        if s not in cache:
            cache[s] = expected_collection_hazard(
                float(book.c[b]), float(book.alpha[b]), book.beta, s, p, book.rho
            )
        out[k] = cache[s]
    return out


def _periodic_loss(p: float, g: np.ndarray) -> np.ndarray:
    """Solve ``x_k = p + (1 − g_k) x_{k+1 mod 12}`` (the absorbing last age around the year).

    ``g_k = h̄_k + p`` is the total monthly hazard; ``x = 1`` where it is 0 all year (never
    collected counts as lost).
    """
    if not np.any(g > 0.0):
        return np.ones(12)
    f = 1.0 - g
    with np.errstate(divide="ignore"):
        denom = -math.expm1(float(np.sum(np.log1p(-np.minimum(g, 1.0)))))
    x = np.empty(12)
    for k in range(12):
        fk = np.roll(f, -k)
        survive = np.concatenate(([1.0], np.cumprod(fk[:-1])))
        x[k] = p * survive.sum() / denom
    return np.clip(x, 0.0, 1.0)


def _exact_bucket(book: _Book, b: int, p: float, boundary: np.ndarray | None) -> np.ndarray:
    """``L(a, k)`` for the ages of bucket ``b`` (rows) and calendar months (columns).

    ``boundary`` is ``L(e_{b+1}, ·)`` of the next bucket (``None``: 1, the write-off age).
    """
    lo, hi = book.slices[b]
    g = np.minimum(_hbar12(book, b, p) + p, 1.0)
    if book.absorbing(b):
        return _periodic_loss(p, g)[None, :]
    f = 1.0 - g
    out = np.empty((hi - lo, 12))
    nxt = np.ones(12) if boundary is None else boundary
    for r in range(hi - lo - 1, -1, -1):
        nxt = p + f * np.roll(nxt, -1)
        out[r] = nxt
    return np.clip(out, 0.0, 1.0)


def _exact_loss(book: _Book) -> np.ndarray:
    out = np.empty((book.n_ages, 12))
    boundary = None
    for b in range(book.n_buckets - 1, -1, -1):
        lo, hi = book.slices[b]
        out[lo:hi] = _exact_bucket(book, b, float(book.p[b]), boundary)
        boundary = out[lo]
    return out


def _no_exact(scenario: Scenario) -> ValueError:
    return ValueError(
        f"{scenario.source}: factor.persistence: implied rates are exact only with "
        "factor.persistence = 0, or factor_loading = 0 and correlation = 0; use the run-off"
    )


def lifetime_loss(scenario: Scenario) -> np.ndarray:
    """Exact lifetime loss probability ``L(a, k)`` of a unit balance (DESIGN 2.8).

    A unit at age ``a`` about to be processed in calendar month ``k`` is lost with probability
    ``L(a, k) = p_b + (1 − h̄_{b,k} − p_b) · L(a+1, k+1)``, with ``L(W, ·) = 1`` when a write-off
    age is set; without one the last age solves the 12-periodic system around the year.

    Parameters
    ----------
    scenario : Scenario
        With ``factor.persistence = 0``, or ``factor_loading = 0`` and ``correlation = 0``.

    Returns
    -------
    ndarray, shape (A, 12)
        Row ``a`` is the age in months, column ``k - 1`` the calendar month ``k``.

    Raises
    ------
    ValueError
        If the factor is persistent and drives the hazards (use :func:`runoff_implied_rates`).
    """
    if not exact_rates_available(scenario):
        raise _no_exact(scenario)
    return _exact_loss(_book(scenario))


def _exact_implied(book: _Book) -> ImpliedRates:
    loss = _exact_loss(book)[:, book.first]
    rates = np.array([book.weights[lo:hi] @ loss[lo:hi] for lo, hi in book.slices])
    zeros_k, zeros_a = np.zeros(book.n_buckets), np.zeros(book.n_ages)
    return ImpliedRates(
        labels=book.labels,
        rates=rates,
        rates_se=zeros_k,
        loss_by_age=loss,
        loss_by_age_se=zeros_a,
        lifetime_loss=float(book.opening @ loss),
        lifetime_loss_se=0.0,
        opening_gross=book.gross.copy(),
        method="exact",
    )


# -- run-off simulation ---------------------------------------------------------------------


def _draw_factor(book: _Book, seed: int, block: int, n: int, stream: tuple[int, ...]):
    """``Z_0..Z_600`` of the first ``n`` paths of run-off block ``block``, shape (601, n)."""
    rng = np.random.default_rng([block, seed, *stream])
    z = np.empty((MAX_RUNOFF_MONTHS + 1, n))
    z[0] = rng.standard_normal(RUNOFF_BLOCK)[:n]
    eps = rng.standard_normal((MAX_RUNOFF_MONTHS, RUNOFF_BLOCK))
    for t in range(1, MAX_RUNOFF_MONTHS + 1):
        z[t] = factor_step(z[t - 1], eps[t - 1, :n], book.phi)
    return z


def _bucket_hazards(
    book: _Book, b: int, p: float, z: np.ndarray, months: int, stop: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Default hazard ``d`` and survival ``f = 1 − h − d`` of bucket ``b`` for months 1..months.

    Both are ``(months, n)``; after a path's stopping month they are ``d = 1`` and ``f = 0``, so
    that what remains is counted as lost.
    """
    n = z.shape[1]
    zz = z[1 : months + 1]
    flat = zz.reshape(-1)
    pb = np.array([p])
    d = np.array(np.broadcast_to(default_hazard(pb, book.rho, flat)[0], flat.shape)).reshape(
        months, n
    )
    h = np.empty((months, n))
    scales = book.scales(months)
    for s in np.unique(scales):
        rows = np.flatnonzero(scales == s)
        zs, ds = zz[rows].reshape(-1), d[rows].reshape(1, -1)
        hs = collection_hazard(book.c[b : b + 1], book.alpha[b : b + 1], book.beta, s, zs, ds)
        h[rows] = np.broadcast_to(hs[0], ds.shape[1:]).reshape(len(rows), n)
    f = np.maximum(1.0 - h - d, 0.0)
    late = np.arange(1, months + 1)[:, None] > stop[None, :]
    d[late] = 1.0
    f[late] = 0.0
    return d, f


def _forward(book: _Book, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stopping month of each path and the opening book's balance left at that month.

    Runs two books forward: every bucket's opening balance scaled to 1 with no defaults (the
    slowest run-off, which sets the stopping month), and the opening book with the scenario's
    default rates (what remains of it is reported).
    """
    A, K, n = book.n_ages, book.n_buckets, z.shape[1]
    X = np.empty((A, 2, n))
    X[:, 0, :] = book.weights[:, None]
    X[:, 1, :] = book.opening[:, None]
    stop = np.full(n, MAX_RUNOFF_MONTHS, dtype=np.int64)
    unresolved = np.zeros(n)
    done = np.zeros(n, dtype=bool)
    scales = book.scales(MAX_RUNOFF_MONTHS)
    no_default = np.zeros((K, 1))
    rem = np.zeros((2, n))
    for t in range(1, MAX_RUNOFF_MONTHS + 1):
        a_lo = min(t - 1, A - 1)
        b0 = next(b for b, (_, hi) in enumerate(book.slices) if hi > a_lo)
        zt = z[t]
        d = default_hazard(book.p[b0:], book.rho, zt)
        h = collection_hazard(book.c[b0:], book.alpha[b0:], book.beta, scales[t - 1], zt, d)
        f = np.maximum(1.0 - h - d, 0.0)
        h0 = collection_hazard(
            book.c[b0:], book.alpha[b0:], book.beta, scales[t - 1], zt, no_default[b0:]
        )
        f0 = 1.0 - h0
        for j, (lo, hi) in enumerate(book.slices[b0:]):
            lo = max(lo, a_lo)
            X[lo:hi, 0] *= f0[j]
            X[lo:hi, 1] *= f[j]
        if book.write_off:
            X[a_lo + 1 : A] = X[a_lo : A - 1]
            start = t
        else:
            if a_lo <= A - 2:
                X[A - 1] += X[A - 2]
                X[a_lo + 1 : A - 1] = X[a_lo : A - 2]
            start = min(t, A - 1)
        rem = X[start:].sum(axis=0) if start < A else np.zeros((2, n))
        new = ~done & (rem[0] < RUNOFF_TOL)
        stop[new] = t
        unresolved[new] = rem[1, new]
        done |= new
        if done.all():
            break
    unresolved[~done] = rem[1, ~done]
    return stop, unresolved


def _bucket_backward(
    book: _Book,
    b: int,
    p: float,
    z: np.ndarray,
    stop: np.ndarray,
    boundary: np.ndarray | None,
    series: bool,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Backward recursion of ``L`` over the ages of bucket ``b`` along each path.

    Parameters
    ----------
    boundary : ndarray or None
        ``L(e_{b+1}, t)`` of every path for months ``t = 0..e_{b+1} + 1`` (rows); ``None``
        means 1 (the write-off age).
    series : bool
        Also return ``L(e_b, t)`` for months ``t = 0..e_b + 1``, the boundary of bucket b − 1.

    Returns
    -------
    L1 : ndarray, shape (width, n)
        ``L(a, 1)`` for the ages of the bucket.
    series : ndarray, shape (e_b + 2, n), or None
    """
    lo, hi = book.slices[b]
    w, n = hi - lo, z.shape[1]
    t_max = int(stop.max())
    ser = np.ones((lo + 2, n)) if series else None
    if book.absorbing(b):
        d, f = _bucket_hazards(book, b, p, z, t_max, stop)
        x = np.ones(n)
        for t in range(t_max, 0, -1):
            x = d[t - 1] + f[t - 1] * x
            if ser is not None and t <= lo + 1:
                ser[t] = x
        return x[None, :], ser
    top = min(hi if series else w, t_max)
    d, f = _bucket_hazards(book, b, p, z, top, stop)
    L = np.ones((w + 1, n))
    for t in range(top, 0, -1):
        L[w] = 1.0 if boundary is None else boundary[t + 1]
        # only the (age, month) pairs the opening book can reach: age >= month - 1
        r0 = max(0, t - 1 - lo) if series else t - 1
        new = f[t - 1] * L[r0 + 1 : w + 1]
        new += d[t - 1]
        L[r0:w] = new
        if ser is not None and t <= lo + 1:
            ser[t] = L[0]
    return L[:w], ser


def _block_loss(book: _Book, p: np.ndarray, z: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """``L(a, 1)`` for every age and path of a block, shape (A, n)."""
    out = np.empty((book.n_ages, z.shape[1]))
    boundary = None
    for b in range(book.n_buckets - 1, -1, -1):
        lo, hi = book.slices[b]
        out[lo:hi], boundary = _bucket_backward(
            book, b, float(p[b]), z, stop, boundary, series=b > 0
        )
    return out


def _bucket_rates(book: _Book, loss: np.ndarray) -> np.ndarray:
    """Per-path implied rates ``(K, n)`` from ``L(a, 1)`` ``(A, n)``."""
    return np.stack([book.weights[lo:hi] @ loss[lo:hi] for lo, hi in book.slices])


@dataclass
class _Moments:
    """Running means and sums of squared deviations, combined in block order (Chan et al.)."""

    n: int = 0
    mean: np.ndarray | None = None
    m2: np.ndarray | None = None

    def add(self, values: np.ndarray) -> None:
        k = values.shape[1]
        mu = values.mean(axis=1)
        m2 = ((values - mu[:, None]) ** 2).sum(axis=1)
        if self.mean is None:
            self.n, self.mean, self.m2 = k, mu, m2
            return
        total = self.n + k
        delta = mu - self.mean
        self.mean = self.mean + delta * (k / total)
        self.m2 = self.m2 + m2 + delta**2 * (self.n * k / total)
        self.n = total

    def se(self) -> np.ndarray:
        assert self.m2 is not None
        if self.n < 2:
            return np.full_like(self.m2, np.nan)
        return np.sqrt(self.m2 / (self.n - 1) / self.n)


def _runoff_block(book: _Book, seed: int, block: int, n: int, stream: tuple[int, ...]):
    z = _draw_factor(book, seed, block, n, stream)
    stop, unresolved = _forward(book, z)
    loss = _block_loss(book, book.p, z, stop)
    rates = _bucket_rates(book, loss)
    values = np.vstack([loss, rates, book.opening @ loss, unresolved, stop.astype(float)])
    return values, int(stop.max())


def _n_workers(workers: int | None, n_blocks: int) -> int:
    return max(1, min(workers or os.cpu_count() or 1, n_blocks))


def _block_sizes(paths: int) -> list[int]:
    full, rest = divmod(paths, RUNOFF_BLOCK)
    return [RUNOFF_BLOCK] * full + ([rest] if rest else [])


def _runoff(
    book: _Book, paths: int, seed: int, stream: tuple[int, ...], workers: int | None
) -> ImpliedRates:
    sizes = _block_sizes(paths)
    moments = _Moments()
    months_max = 0

    def task(i: int):
        return _runoff_block(book, seed, i, sizes[i], stream)

    n_workers = _n_workers(workers, len(sizes))
    if n_workers == 1:
        outputs = map(task, range(len(sizes)))
        for values, mmax in outputs:
            moments.add(values)
            months_max = max(months_max, mmax)
    else:
        with ThreadPoolExecutor(max_workers=n_workers) as pool:
            for values, mmax in pool.map(task, range(len(sizes))):
                moments.add(values)
                months_max = max(months_max, mmax)
    assert moments.mean is not None
    A, K = book.n_ages, book.n_buckets
    mean, se = moments.mean, moments.se()
    return ImpliedRates(
        labels=book.labels,
        rates=mean[A : A + K].copy(),
        rates_se=se[A : A + K].copy(),
        loss_by_age=mean[:A].copy(),
        loss_by_age_se=se[:A].copy(),
        lifetime_loss=float(mean[A + K]),
        lifetime_loss_se=float(se[A + K]),
        opening_gross=book.gross.copy(),
        method="runoff",
        paths=paths,
        seed=seed,
        stream=tuple(stream),
        unresolved=float(mean[A + K + 1]),
        unresolved_se=float(se[A + K + 1]),
        months_mean=float(mean[A + K + 2]),
        months_max=months_max,
    )


def _paths_seed(scenario: Scenario, paths: int | None, seed: int | None) -> tuple[int, int]:
    paths = scenario.simulation.runoff_paths if paths is None else int(paths)
    seed = scenario.simulation.seed if seed is None else int(seed)
    if paths < 1:
        raise ValueError(f"run-off paths must be at least 1, got {paths}")
    return paths, seed


def runoff_implied_rates(
    scenario: Scenario,
    *,
    paths: int | None = None,
    seed: int | None = None,
    stream: Sequence[int] = (RUNOFF_STREAM,),
    workers: int | None = None,
) -> ImpliedRates:
    """Implied provision rates by run-off simulation of the opening book (DESIGN 2.8).

    Parameters
    ----------
    scenario : Scenario
    paths : int, optional
        Run-off paths (default ``simulation.runoff_paths``).
    seed : int, optional
        Seed (default ``simulation.seed``).
    stream : sequence of int, optional
        Random-number stream: block ``i`` draws from ``default_rng([i, seed, *stream])``.
    workers : int, optional
        Threads for the blocks (default: the number of CPUs). The numbers do not depend on it.

    Returns
    -------
    ImpliedRates
        With standard errors over paths.
    """
    paths, seed = _paths_seed(scenario, paths, seed)
    return _runoff(_book(scenario), paths, seed, tuple(stream), workers)


def implied_rates(
    scenario: Scenario,
    *,
    method: str = "auto",
    paths: int | None = None,
    seed: int | None = None,
    stream: Sequence[int] = (RUNOFF_STREAM,),
    workers: int | None = None,
) -> ImpliedRates:
    """Model-implied provision rate of every bucket and lifetime loss of the opening book.

    Parameters
    ----------
    scenario : Scenario
    method : {"auto", "exact", "runoff"}
        ``"auto"``: exact when :func:`exact_rates_available`, run-off otherwise.
    paths, seed, stream, workers
        For the run-off, see :func:`runoff_implied_rates`.

    Returns
    -------
    ImpliedRates

    Raises
    ------
    ValueError
        If ``method="exact"`` and there is no exact answer, or ``method`` is unknown.
    """
    if method not in ("auto", "exact", "runoff"):
        raise ValueError(f"method must be 'auto', 'exact' or 'runoff', got {method!r}")
    exact = exact_rates_available(scenario)
    if method == "exact" and not exact:
        raise _no_exact(scenario)
    if method == "exact" or (method == "auto" and exact):
        return _exact_implied(_book(scenario))
    return runoff_implied_rates(scenario, paths=paths, seed=seed, stream=stream, workers=workers)


# -- the inverse: default rates that reproduce a disclosed matrix ----------------------------


@dataclass(frozen=True)
class Calibration:
    """Default rates ``p_b`` solved so that the implied rates equal target (disclosed) rates.

    Attributes
    ----------
    labels : list of str
    targets : ndarray, shape (K,)
        The rates to reproduce (by default the scenario's disclosed ``provision_rates``).
    initial_default_rates : ndarray, shape (K,)
        The scenario's ``p_b``.
    default_rates : ndarray, shape (K,)
        Solved ``p_b``. For a bucket that is not identified, or cannot reach 100 %, the
        scenario's ``p_b``; for a target below the lowest reachable rate, 0 (which gives the
        nearest reachable rate).
    default_rates_se : ndarray, shape (K,)
        Standard errors of the solved ``p_b`` (0 when exact; NaN where ``p_b`` was not solved).
    status : list of str
        ``"calibrated"``, ``"not_identified"`` or ``"unreachable"`` per bucket.
    lowest_reachable : ndarray, shape (K,)
        The implied rate at ``p_b = 0`` (given the solved older buckets): no lower rate is
        reachable. Rates up to (not including) 100 % are reachable unless not identified.
    nearest_reachable : ndarray, shape (K,)
        For unreachable buckets, the reachable rate nearest the target (NaN otherwise; for a
        100 % target the nearest is approached only as ``p_b → 1``, also NaN).
    notes : dict of str
        An explanation per bucket that is not simply calibrated.
    implied : ImpliedRates
        Implied rates with the solved ``p_b`` (on the same random numbers when simulated).
    method : str
        ``"exact"`` or ``"runoff"``.
    paths, seed : int or None
        Run-off paths and seed of the common random numbers (``None`` when exact).
    """

    labels: list[str]
    targets: np.ndarray
    initial_default_rates: np.ndarray
    default_rates: np.ndarray
    default_rates_se: np.ndarray
    status: list[str]
    lowest_reachable: np.ndarray
    nearest_reachable: np.ndarray
    notes: dict[str, str]
    implied: ImpliedRates
    method: str
    paths: int | None = None
    seed: int | None = None

    @property
    def consistent(self) -> bool:
        """True when every target is reproduced (or holds whatever ``p_b``)."""
        return all(s != "unreachable" for s in self.status)


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def _solve_bucket(
    rate: Callable[[float], float], target: float, p_now: float
) -> tuple[float, str, float, float, str]:
    """Solve ``rate(p) = target`` on ``p`` in [0, 1), ``rate`` non-decreasing with rate(1) = 1.

    Returns ``(p, status, lowest reachable, nearest reachable, note)``.
    """
    low = rate(0.0)
    if target >= 1.0 - _ID_TOL:
        if low >= 1.0 - _ID_TOL:
            note = (
                f"100 % holds for every p_b: nothing in this bucket is ever collected (it is "
                f"lost whether or not it defaults), so p_b is not identified and is kept at "
                f"{_pct(p_now)}"
            )
            return p_now, "not_identified", low, math.nan, note
        note = (
            f"100 % is out of reach while this bucket (or an older one it rolls into) still "
            f"collects: the implied rate tends to 100 % only as p_b → 1 (everything defaulting in "
            f"its first month); the lowest reachable rate is {_pct(low)}; p_b kept at "
            f"{_pct(p_now)}"
        )
        return p_now, "unreachable", low, math.nan, note
    if target < low - _ID_TOL:
        note = (
            f"{_pct(target)} is below {_pct(low)}, the lowest rate these collections allow: even "
            f"with p_b = 0, what is not collected before it ages out of the bucket is lost at "
            f"the older buckets' rates; p_b set to 0, which gives the nearest reachable rate"
        )
        return 0.0, "unreachable", low, low, note
    if target <= low + _ID_TOL:
        return 0.0, "calibrated", low, math.nan, ""
    p = optimize.brentq(lambda x: rate(x) - target, 0.0, 1.0, xtol=1e-15, rtol=1e-15, maxiter=500)
    return float(p), "calibrated", low, math.nan, ""


def _check_targets(scenario: Scenario, targets: Sequence[float] | None) -> np.ndarray:
    k = scenario.n_buckets
    t = np.asarray(scenario.buckets.provision_rates if targets is None else targets, dtype=float)
    if t.shape != (k,) or not np.all(np.isfinite(t)) or np.any((t < 0) | (t > 1)):
        raise ValueError(f"targets must be {k} rates in [0, 1], got {t.tolist()}")
    return t


def calibrate_default_rates(
    scenario: Scenario,
    targets: Sequence[float] | None = None,
    *,
    method: str = "auto",
    paths: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
) -> Calibration:
    """Solve the monthly default rates ``p_b`` that make the implied rates equal ``targets``.

    Buckets are solved from the last to the first, since the lifetime loss of a bucket depends
    only on its own and the older buckets' default rates. The collection assumptions are held
    fixed. Exactly (root finding on the exact rates) when :func:`exact_rates_available`,
    otherwise on common random numbers: the same run-off paths and stopping months for every
    trial ``p_b``, so that the implied rates are smooth and monotone in ``p_b``.

    A target that holds for every ``p_b`` (100 % on a bucket whose balances are never collected)
    is *not identified*: the scenario's ``p_b`` is kept. A target that no ``p_b < 1`` reaches is
    *unreachable*: below the rate at ``p_b = 0`` the solved ``p_b`` is 0 (the nearest reachable
    rate); 100 % on a bucket that still collects keeps the scenario's ``p_b``.

    Parameters
    ----------
    scenario : Scenario
    targets : sequence of float, optional
        Rates to reproduce (default: ``buckets.provision_rates``, the disclosed matrix).
    method : {"auto", "exact", "runoff"}
    paths, seed : int, optional
        Run-off paths and seed (defaults from the scenario).
    workers : int, optional
        Threads for the run-off blocks.

    Returns
    -------
    Calibration

    Raises
    ------
    ValueError
        If the targets are not K rates in [0, 1], or ``method="exact"`` has no exact answer.
    ResourceError
        If holding the common random numbers would not fit in memory.
    """
    target = _check_targets(scenario, targets)
    if method not in ("auto", "exact", "runoff"):
        raise ValueError(f"method must be 'auto', 'exact' or 'runoff', got {method!r}")
    exact = exact_rates_available(scenario)
    if method == "exact" and not exact:
        raise _no_exact(scenario)
    book = _book(scenario)
    if method == "exact" or (method == "auto" and exact):
        return _calibrate_exact(scenario, book, target)
    paths, seed = _paths_seed(scenario, paths, seed)
    return _calibrate_runoff(scenario, book, target, paths, seed, workers)


def _with_rates(book: _Book, p: np.ndarray) -> _Book:
    return _Book(**{**book.__dict__, "p": np.asarray(p, dtype=float).copy()})


def _finish(
    scenario: Scenario,
    book: _Book,
    target: np.ndarray,
    solved: list[tuple[float, str, float, float, str]],
    se: np.ndarray,
    implied: ImpliedRates,
    method: str,
    paths: int | None = None,
    seed: int | None = None,
) -> Calibration:
    order = solved[::-1]  # solved last bucket first
    return Calibration(
        labels=book.labels,
        targets=target,
        initial_default_rates=np.asarray(scenario.defaults.monthly_rate, dtype=float),
        default_rates=np.array([s[0] for s in order]),
        default_rates_se=se,
        status=[s[1] for s in order],
        lowest_reachable=np.array([s[2] for s in order]),
        nearest_reachable=np.array([s[3] for s in order]),
        notes={lab: s[4] for lab, s in zip(book.labels, order, strict=True) if s[4]},
        implied=implied,
        method=method,
        paths=paths,
        seed=seed,
    )


def _calibrate_exact(scenario: Scenario, book: _Book, target: np.ndarray) -> Calibration:
    p = book.p.copy()
    solved = []
    boundary = None
    for b in range(book.n_buckets - 1, -1, -1):
        lo, hi = book.slices[b]
        w = book.weights[lo:hi]

        def rate(x: float, b=b, w=w, boundary=boundary) -> float:
            return float(w @ _exact_bucket(book, b, x, boundary)[:, book.first])

        res = _solve_bucket(rate, float(target[b]), float(p[b]))
        p[b] = res[0]
        solved.append(res)
        boundary = _exact_bucket(book, b, p[b], boundary)[0]
    implied = _exact_implied(_with_rates(book, p))
    se = np.where([s[1] == "calibrated" for s in solved[::-1]], 0.0, np.nan)
    return _finish(scenario, book, target, solved, se, implied, "exact")


def _calibrate_runoff(
    scenario: Scenario,
    book: _Book,
    target: np.ndarray,
    paths: int,
    seed: int,
    workers: int | None,
) -> Calibration:
    sizes = _block_sizes(paths)
    # the factor paths and one boundary series of every path are held at once
    need = paths * (2 * (MAX_RUNOFF_MONTHS + 2) + 2 * book.n_buckets) * 8
    need += _n_workers(workers, len(sizes)) * RUNOFF_BLOCK * 8 * (4 * MAX_RUNOFF_MONTHS)
    have = engine.machine_memory()
    if need > engine.MEMORY_SHARE * have:
        raise ResourceError(
            f"calibrating on {paths:,} run-off paths needs about {need / 2**30:.1f} GiB of "
            f"memory and the machine has {have / 2**30:.1f} GiB; use fewer run-off paths"
        )
    stream = (RUNOFF_STREAM,)
    n_workers = _n_workers(workers, len(sizes))
    pool = ThreadPoolExecutor(max_workers=n_workers) if n_workers > 1 else None
    run = pool.map if pool is not None else map
    try:

        def prepare(i: int):
            z = _draw_factor(book, seed, i, sizes[i], stream)
            stop, _ = _forward(book, z)  # the stopping month does not depend on p_b
            return z, stop

        blocks = list(run(prepare, range(len(sizes))))
        p = book.p.copy()
        solved = []
        boundaries: list[np.ndarray | None] = [None] * len(blocks)
        for b in range(book.n_buckets - 1, -1, -1):
            lo, hi = book.slices[b]
            w = book.weights[lo:hi]

            def rate(x: float, b=b, w=w, bd=boundaries) -> float:
                def one(i: int) -> float:
                    z, stop = blocks[i]
                    L1, _ = _bucket_backward(book, b, x, z, stop, bd[i], series=False)
                    return float((w @ L1).sum())

                return math.fsum(run(one, range(len(blocks)))) / paths

            res = _solve_bucket(rate, float(target[b]), float(p[b]))
            p[b] = res[0]
            solved.append(res)
            if b > 0:

                def commit(i: int, b=b, bd=boundaries) -> np.ndarray | None:
                    z, stop = blocks[i]
                    _, ser = _bucket_backward(book, b, p[b], z, stop, bd[i], series=True)
                    return ser

                boundaries = list(run(commit, range(len(blocks))))
        boundaries = []
        calibrated_book = _with_rates(book, p)

        def rates_at(q: np.ndarray) -> np.ndarray:
            def one(i: int) -> np.ndarray:
                z, stop = blocks[i]
                return _bucket_rates(book, _block_loss(book, q, z, stop))

            return np.concatenate(list(run(one, range(len(blocks)))), axis=1)

        status = [s[1] for s in solved[::-1]]
        se = _calibration_se(p, status, rates_at, paths)
    finally:
        if pool is not None:
            pool.shutdown()
    implied = _runoff(calibrated_book, paths, seed, stream, workers)
    return _finish(scenario, book, target, solved, se, implied, "runoff", paths, seed)


def _calibration_se(
    p: np.ndarray, status: list[str], rates_at: Callable[[np.ndarray], np.ndarray], n: int
) -> np.ndarray:
    """Delta-method standard errors of the solved ``p_b`` on common random numbers.

    The solved rates solve the estimating equations ``mean_paths r_b(p) = target_b`` for the
    calibrated buckets; ``Var(p̂) ≈ J⁻¹ Σ J⁻ᵀ / n`` with ``J`` the Jacobian of the mean rates
    (central differences on the same paths) and ``Σ`` the covariance of the per-path rates.
    """
    se = np.full(len(p), np.nan)
    idx = [b for b, s in enumerate(status) if s == "calibrated"]
    if not idx or n < 2:
        return se
    per_path = rates_at(p)
    sigma = np.atleast_2d(np.cov(per_path[idx]))
    jac = np.empty((len(idx), len(idx)))
    for j, b in enumerate(idx):
        step = max(1e-4 * p[b], 1e-7)
        up, down = p.copy(), p.copy()
        up[b] = min(p[b] + step, 1.0)
        down[b] = max(p[b] - step, 0.0)
        diff = rates_at(up).mean(axis=1) - rates_at(down).mean(axis=1)
        jac[:, j] = diff[idx] / (up[b] - down[b])
    try:
        inv = np.linalg.inv(jac)
    except np.linalg.LinAlgError:
        return se
    cov = inv @ sigma @ inv.T / n
    se[idx] = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    return se
