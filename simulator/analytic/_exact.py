"""Exact lifetime loss and implied rates when months are independent (DESIGN 2.8).

:func:`lifetime_loss` solves the 12-periodic recursion
``L(a, k) = p_b + (1 − h̄_{b,k} − p_b) · L(a+1, k+1)`` exactly when the months are independent
(``phi = 0``) or the hazards do not depend on the factor (``beta = rho = 0``).
"""

from __future__ import annotations

import math

import numpy as np

from ..scenario import Scenario
from ._book import (
    ImpliedRates,
    _Book,
    _book,
    _no_exact,
    exact_rates_available,
)
from ._expected import expected_collection_hazard

__all__ = ["lifetime_loss"]


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


def _periodic_loss(p: float, g: np.ndarray, never_resolved: float = 1.0) -> np.ndarray:
    """Solve ``x_k = p + (1 − g_k) x_{k+1 mod 12}`` (the absorbing last age around the year).

    ``g_k = h̄_k + p`` is the total monthly hazard; ``x = never_resolved`` where it is 0 all year
    (1 by DESIGN 2.8: never collected counts as lost).
    """
    if not np.any(g > 0.0):
        return np.full(12, never_resolved)
    f = 1.0 - g
    with np.errstate(divide="ignore"):
        denom = -math.expm1(float(np.sum(np.log1p(-np.minimum(g, 1.0)))))
    x = np.empty(12)
    for k in range(12):
        fk = np.roll(f, -k)
        survive = np.concatenate(([1.0], np.cumprod(fk[:-1])))
        x[k] = p * survive.sum() / denom
    return np.clip(x, 0.0, 1.0)


def _exact_bucket(
    book: _Book, b: int, p: float, boundary: np.ndarray | None, never_resolved: float = 1.0
) -> np.ndarray:
    """``L(a, k)`` for the ages of bucket ``b`` (rows) and calendar months (columns).

    ``boundary`` is ``L(e_{b+1}, ·)`` of the next bucket (``None``: 1, the write-off age);
    ``never_resolved`` is what a balance that is never collected nor defaulted counts as.
    """
    lo, hi = book.slices[b]
    g = np.minimum(_hbar12(book, b, p) + p, 1.0)
    if book.absorbing(b):
        return _periodic_loss(p, g, never_resolved)[None, :]
    f = 1.0 - g
    out = np.empty((hi - lo, 12))
    nxt = np.ones(12) if boundary is None else boundary
    for r in range(hi - lo - 1, -1, -1):
        nxt = p + f * np.roll(nxt, -1)
        out[r] = nxt
    return np.clip(out, 0.0, 1.0)


def _exact_loss(book: _Book, never_resolved: float = 1.0) -> np.ndarray:
    out = np.empty((book.n_ages, 12))
    boundary = None
    for b in range(book.n_buckets - 1, -1, -1):
        lo, hi = book.slices[b]
        out[lo:hi] = _exact_bucket(book, b, float(book.p[b]), boundary, never_resolved)
        boundary = out[lo]
    return out


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


def _exact_unresolved(book: _Book, loss: np.ndarray) -> float:
    """The part of the lifetime loss that is never collected nor defaulted: balance that ends in
    a state with no hazard at all (the last bucket, no write-off age, ``h̄ + p = 0`` all year),
    which :func:`_periodic_loss` counts as lost (``loss`` is ``L(a, k)`` with that rule)."""
    if not book.stranded:
        return 0.0
    resolved_only = _exact_loss(book, never_resolved=0.0)
    return float(book.opening @ (loss[:, book.first] - resolved_only[:, book.first]))


def _exact_implied(book: _Book) -> ImpliedRates:
    full = _exact_loss(book)
    loss = full[:, book.first]
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
        unresolved=_exact_unresolved(book, full),
        stranded=book.stranded,
    )
