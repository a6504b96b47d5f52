"""The opening book as the implied-rate calculations see it, and their result type (DESIGN 2.8).

``L(a, k)`` is the probability that a unit balance at age ``a``, about to be processed in calendar
month ``k``, is never collected (run-off: no new billings). The implied rate of a bucket is
``L(a, cal(1))`` averaged over the bucket's ages with the opening balances as weights.
"""

from __future__ import annotations

import dataclasses
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
    # Hazard parameters: one value for every path, or (parameter replicates, DESIGN 2.14) with a
    # trailing axis of length J: the R replicates when ``n_replicates > 0``, else the paths of a
    # block (:meth:`for_paths`). Only the parameters that the replicates vary carry it.
    c: np.ndarray  # (K,) or (K, J)
    alpha: np.ndarray  # (K,) or (K, J)
    beta: float | np.ndarray  # or (J,)
    p: np.ndarray  # (K,) or (K, J)
    rho: float | np.ndarray  # or (J,)
    phi: float
    season: np.ndarray  # m · s_k for calendar months 1..12 (index k - 1): (12,) or (12, J)
    first: int  # calendar month of month 1, 0-based
    n_replicates: int = 0  # R when the trailing axis is the replicates'

    @property
    def n_buckets(self) -> int:
        return len(self.slices)

    @property
    def stranded(self) -> tuple[str, ...]:
        """Labels of the buckets where balances stay for ever unless they default: the
        absorbing last bucket (no write-off age) when it collects nothing (in any replicate)."""
        last = self.n_buckets - 1
        dead = np.any((np.asarray(self.c[last]) == 0.0) | ~np.any(self.season > 0.0, axis=0))
        return (self.labels[last],) if self.absorbing(last) and dead else ()

    def absorbing(self, b: int) -> bool:
        """Whether bucket ``b`` is the single absorbing last age (no write-off age)."""
        return b == self.n_buckets - 1 and not self.write_off

    def scales(self, months: int) -> np.ndarray:
        """``m · s_cal(t)`` for months ``t = 1..months``: (months,) or (months, J)."""
        return self.season[(self.first + np.arange(months)) % 12]

    @property
    def exact(self) -> bool:
        no_factor = np.all(np.asarray(self.beta) == 0.0) and np.all(np.asarray(self.rho) == 0.0)
        return self.phi == 0.0 or bool(no_factor)

    @property
    def per_path(self) -> bool:
        """Whether some hazard parameter has a trailing (replicate or path) axis."""
        return any(np.ndim(getattr(self, name)) > ndim for name, ndim in _VARYING.items())

    def _pick(self, index: int | np.ndarray) -> _Book:
        """The book with each varying parameter taken at ``index`` of its trailing axis."""
        fields = {}
        for name, ndim in _VARYING.items():
            value = getattr(self, name)
            if np.ndim(value) > ndim:
                fields[name] = value[..., index]
        return dataclasses.replace(self, n_replicates=0, **fields)

    def replicate(self, r: int) -> _Book:
        """The plain book of replicate ``r`` (every parameter one value)."""
        return self._pick(r) if self.n_replicates else self

    def for_paths(self, paths: np.ndarray) -> _Book:
        """The book of the run-off paths of global indices ``paths``: path ``g`` takes replicate
        ``g mod R`` (the book itself when nothing varies by replicate)."""
        return self._pick(np.asarray(paths) % self.n_replicates) if self.n_replicates else self


#: The hazard parameters of a :class:`_Book` that replicates can vary, with their dimensions
#: when they do not.
_VARYING = {"c": 1, "alpha": 1, "beta": 0, "p": 1, "rho": 0, "season": 1}


def _book(
    scenario: Scenario,
    default_rates: Sequence[float] | None = None,
    rows: list[dict[str, float]] | None = None,
) -> _Book:
    """The book of ``scenario``, with the default rates ``default_rates`` if given.

    With parameter replicates ``rows`` (DESIGN 2.14, checked overrides) the hazard parameters
    come from the R replicates, compiled once (:func:`simulator.params.compile_params`, as the
    engine does): a parameter that they vary keeps a trailing axis of the replicates, the others
    are one value. The plain book is the book of one replicate, so identical rows give the plain
    book of that row.
    """
    prm = compile_params(scenario, rows)
    col = scenario.collections
    seas = np.asarray(col.seasonality if col.seasonality else [1.0] * 12, dtype=float)
    as_of = scenario.scenario.as_of
    first = int(calendar_months(as_of.month if as_of else None, 1)[0]) - 1
    weights = np.empty(prm.n_ages)
    for b, (lo, hi) in enumerate(prm.slices):
        g = prm.opening_gross[b]
        weights[lo:hi] = prm.opening_by_age[lo:hi] / g if g > 0 else 1.0 / (hi - lo)
    reps = prm.replicates
    # the book has one segment (as every implied rate): replicate arrays are (R, 1, K) or (R, 1)
    by_replicate = {
        "c": reps.collection_rate[:, 0, :].T if reps else prm.collection_rate[:, None],
        "alpha": reps.alpha[:, 0, :].T if reps else prm.alpha[:, None],
        "beta": reps.beta[:, 0] if reps else np.array([prm.beta]),
        "p": reps.default_rate[:, 0, :].T if reps else prm.default_rate[:, None],
        "rho": reps.rho[:, 0] if reps else np.array([prm.rho]),
        "multiplier": reps.multiplier[:, 0] if reps else np.array([prm.only.multiplier]),
    }
    hazards: dict = {}
    for name, v in by_replicate.items():
        if np.all(v == v[..., :1]):  # the same in every replicate: one value
            hazards[name] = float(v[0]) if v.ndim == 1 else np.ascontiguousarray(v[..., 0])
        else:
            hazards[name] = np.ascontiguousarray(v)
    if default_rates is not None:
        hazards["p"] = np.asarray(default_rates, dtype=float).copy()
    m = hazards.pop("multiplier")
    book = _Book(
        labels=scenario.labels,
        slices=prm.slices,
        n_ages=prm.n_ages,
        write_off=prm.write_off,
        opening=prm.opening_by_age,
        gross=prm.opening_gross,
        weights=weights,
        phi=prm.phi,
        season=np.multiply.outer(seas, m) if np.ndim(m) else m * seas,  # m · s_k
        first=first,
        **hazards,
    )
    return dataclasses.replace(book, n_replicates=reps.n) if reps and book.per_path else book


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
