"""The opening book as the implied-rate calculations see it, and their result type (DESIGN 2.8).

``L(a, k)`` is the probability that a unit balance at age ``a``, about to be processed in calendar
month ``k``, is never collected (run-off: no new billings). The implied rate of a bucket is
``L(a, cal(1))`` averaged over the bucket's ages with the opening balances as weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..hazards import calendar_months
from ..params import compile_params
from ..scenario import Scenario, book_debtors, book_segments

__all__ = [
    "MAX_RUNOFF_MONTHS",
    "RUNOFF_BLOCK",
    "RUNOFF_STREAM",
    "RUNOFF_TOL",
    "ImpliedRates",
    "exact_rates_available",
]

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

    @property
    def stranded(self) -> tuple[str, ...]:
        """Labels of the buckets where balances stay for ever unless they default: the
        absorbing last bucket (no write-off age) when it collects nothing."""
        last = self.n_buckets - 1
        dead = self.c[last] == 0.0 or not np.any(self.season > 0.0)
        return (self.labels[last],) if self.absorbing(last) and dead else ()

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
    nor defaults depend on the factor (``factor_loading = 0`` and ``correlation = 0``), in every
    segment and for every named debtor (DESIGN 2.12, 2.13).
    """
    if scenario.factor.persistence == 0.0:
        return True
    loadings = [(s.factor_loading, s.correlation) for s in book_segments(scenario)]
    loadings += [(d.factor_loading, d.correlation) for d in book_debtors(scenario)]
    return all(beta == 0.0 and rho == 0.0 for beta, rho in loadings)


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
        The part of ``lifetime_loss`` that is counted as lost without being collected or
        defaulted (money). Run-off: what is still open at each path's stopping month (after
        :data:`MAX_RUNOFF_MONTHS` months at most). Exact: what ends in a state with no hazard
        at all (the last bucket with no collections, no defaults and no write-off age; SE 0).
    months_mean, months_max : float or None
        Mean and largest stopping month over paths (``None`` when exact).
    stranded : tuple of str
        Labels of the buckets where balances are never collected (:attr:`_Book.stranded`): the
        usual reason for a large ``unresolved``.
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
    stranded: tuple[str, ...] = ()

    def by_label(self, values: np.ndarray | None = None) -> dict[str, float]:
        """Values per bucket keyed by label (the implied rates by default)."""
        values = self.rates if values is None else values
        return {lab: float(v) for lab, v in zip(self.labels, values, strict=True)}


def _no_exact(scenario: Scenario) -> ValueError:
    return ValueError(
        f"{scenario.source}: factor.persistence: implied rates are exact only with "
        "factor.persistence = 0, or factor_loading = 0 and correlation = 0; use the run-off"
    )


def _paths_seed(scenario: Scenario, paths: int | None, seed: int | None) -> tuple[int, int]:
    paths = scenario.simulation.runoff_paths if paths is None else int(paths)
    seed = scenario.simulation.seed if seed is None else int(seed)
    if paths < 1:
        raise ValueError(f"run-off paths must be at least 1, got {paths}")
    return paths, seed
