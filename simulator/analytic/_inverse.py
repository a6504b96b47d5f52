"""The inverse: default rates ``p_b`` that make the implied rates equal a disclosed matrix
(DESIGN 2.8), solved jointly.

All ``p_b`` are solved at once by bounded least squares on the gaps between implied and
disclosed rates (:func:`scipy.optimize.least_squares`), within a plausibility bound (default 5 %
a month): exactly when the months are independent, otherwise on common random numbers (the same
run-off paths and stopping months at every trial). Each bucket then gets one status:

- ``reproduced``: the solved rates give the disclosed rate (flagged *implausible* when its
  ``p_b`` sits at the bound);
- ``below_reach``: the disclosed rate is lower than these collections allow with no defaults in
  this and every older bucket (the matrix looks light for these collections, or collections are
  faster than assumed);
- ``above_reach``: it needs default rates beyond the bound (with ``needed`` the rate this bucket
  alone would need, the older ones at their solved rates);
- ``not_identified``: the implied rate does not depend on the default rates (nothing in this and
  the older buckets is ever collected), so ``p_b`` is kept;
- ``conflict``: reachable on its own, but not together with the rates the older buckets need.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from .._util import block_sizes, thread_map
from ..resources import check_memory
from ..scenario import Scenario
from ._book import (
    MAX_RUNOFF_MONTHS,
    RUNOFF_BLOCK,
    RUNOFF_STREAM,
    ImpliedRates,
    _Book,
    _book,
    _no_exact,
    _paths_seed,
    exact_rates_available,
)
from ._exact import _exact_implied, _exact_loss
from ._runoff import _bucket_backward, _bucket_rates, _draw_factor, _forward, _runoff

__all__ = ["DEFAULT_MAX_DEFAULT_RATE", "STATUSES", "Calibration", "calibrate_default_rates"]

#: Plausibility bound on a solved monthly default rate (5 % a month is over 45 % a year).
DEFAULT_MAX_DEFAULT_RATE = 0.05
STATUSES = ("reproduced", "below_reach", "above_reach", "not_identified", "conflict")
#: Rates within this of each other are equal (the solve's tolerance on implied rates).
RATE_TOL = 1e-6


@dataclass(frozen=True)
class Calibration:
    """Default rates ``p_b`` solved jointly so that the implied rates equal target rates.

    Attributes
    ----------
    labels : list of str
    targets : ndarray, shape (K,)
        The rates to reproduce (by default the scenario's disclosed ``provision_rates``).
    initial_default_rates : ndarray, shape (K,)
        The scenario's ``p_b``.
    default_rates : ndarray, shape (K,)
        Solved ``p_b`` in ``[0, max_default_rate]``; the scenario's where not identified.
    default_rates_se : ndarray, shape (K,)
        Standard errors of the solved ``p_b`` (0 when exact; NaN where not reproduced).
    status : list of str
        One of :data:`STATUSES` per bucket.
    floor, ceiling : ndarray, shape (K,)
        The implied rate with ``p = 0`` and with ``p = max_default_rate`` in this and every
        older bucket: the range of rates these collections can give.
    needed : ndarray, shape (K,)
        For ``above_reach`` buckets, the default rate the bucket alone would need (older buckets
        at their solved rates); NaN otherwise, or when no rate below 1 reaches the target.
    implausible : list of bool
        Whether the solved ``p_b`` is at the bound.
    max_default_rate : float
    notes : dict of str
        An explanation per bucket that is not simply reproduced.
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
    floor: np.ndarray
    ceiling: np.ndarray
    needed: np.ndarray
    implausible: list[bool]
    max_default_rate: float
    notes: dict[str, str]
    implied: ImpliedRates
    method: str
    paths: int | None = None
    seed: int | None = None

    @property
    def consistent(self) -> bool:
        """True when every target is reproduced (or holds whatever ``p_b``) within the bound."""
        return all(s in ("reproduced", "not_identified") for s in self.status) and not any(
            self.implausible
        )


@dataclass
class _Rates:
    """Implied rates as a function of the default rates: exact, or on common random numbers.

    On common random numbers, bucket ``b``'s lifetime loss depends only on ``p`` of ``b`` and
    the older buckets; each bucket's backward recursion is kept for the last ``p[b:]`` it was
    computed with, so a trial that changes only young buckets' rates (a column of a
    finite-difference Jacobian) recomputes only those.
    """

    book: _Book
    blocks: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    paths: int = 0
    workers: int | None = None
    _cache: dict[int, tuple[tuple[float, ...], list]] = field(default_factory=dict)

    @property
    def exact(self) -> bool:
        return not self.blocks

    def _book_at(self, p: np.ndarray) -> _Book:
        return _Book(**{**self.book.__dict__, "p": np.asarray(p, dtype=float).copy()})

    def _losses(self, p: np.ndarray) -> list[np.ndarray]:
        """``L(a, 1)`` of every block, each (A, n), reusing what older buckets' rates allow."""
        book = self.book
        boundaries: list = [None] * len(self.blocks)
        parts: list[list[np.ndarray]] = [[] for _ in self.blocks]
        for b in range(book.n_buckets - 1, -1, -1):
            key = tuple(float(x) for x in p[b:])
            hit = self._cache.get(b)
            if hit is None or hit[0] != key:

                def one(i: int, b: int = b, bd: list = boundaries) -> tuple:
                    z, stop = self.blocks[i]
                    return _bucket_backward(book, b, float(p[b]), z, stop, bd[i], series=b > 0)

                hit = (key, list(thread_map(one, len(self.blocks), self.workers)))
                self._cache[b] = hit
            for i, (loss_b, series) in enumerate(hit[1]):
                parts[i].append(loss_b)
                boundaries[i] = series
        return [np.concatenate(part[::-1], axis=0) for part in parts]

    def per_path(self, p: np.ndarray) -> np.ndarray:
        """Per-path implied rates, shape (K, paths), on the common random numbers."""
        losses = self._losses(p)
        return np.concatenate([_bucket_rates(self.book, loss) for loss in losses], axis=1)

    def __call__(self, p: np.ndarray) -> np.ndarray:
        """Implied rates of every bucket, shape (K,)."""
        if self.exact:
            book = self._book_at(p)
            loss = _exact_loss(book)[:, book.first]
            return np.array([book.weights[lo:hi] @ loss[lo:hi] for lo, hi in book.slices])
        return self.per_path(p).sum(axis=1) / self.paths


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
    max_default_rate: float = DEFAULT_MAX_DEFAULT_RATE,
    method: str = "auto",
    paths: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
) -> Calibration:
    """Solve the monthly default rates ``p_b`` that make the implied rates equal ``targets``.

    Jointly, by bounded least squares on the gaps (module docstring), with the collection
    assumptions held fixed.

    Parameters
    ----------
    scenario : Scenario
    targets : sequence of float, optional
        Rates to reproduce (default: ``buckets.provision_rates``, the disclosed matrix).
    max_default_rate : float, optional
        The plausibility bound on a monthly default rate, in (0, 1).
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
        If the targets are not K rates in [0, 1], the bound is not in (0, 1), or
        ``method="exact"`` has no exact answer.
    ResourceError
        If holding the common random numbers would not fit in memory.
    """
    target = _check_targets(scenario, targets)
    if not (0.0 < max_default_rate < 1.0):
        raise ValueError(f"max_default_rate must be in (0, 1), got {max_default_rate!r}")
    if method not in ("auto", "exact", "runoff"):
        raise ValueError(f"method must be 'auto', 'exact' or 'runoff', got {method!r}")
    exact = exact_rates_available(scenario)
    if method == "exact" and not exact:
        raise _no_exact(scenario)
    book = _book(scenario)
    if method == "exact" or (method == "auto" and exact):
        rates = _Rates(book)
        paths = seed = None
    else:
        paths, seed = _paths_seed(scenario, paths, seed)
        rates = _common_random_numbers(book, paths, seed, workers)
    return _solve(scenario, rates, target, max_default_rate, paths, seed, workers)


def _common_random_numbers(book: _Book, paths: int, seed: int, workers: int | None) -> _Rates:
    """The run-off paths of the implied rates, held so that every trial uses the same ones."""
    sizes = block_sizes(paths, RUNOFF_BLOCK)
    need = paths * (MAX_RUNOFF_MONTHS + 2) * 8 * 2
    need += (
        min(workers or os.cpu_count() or 1, len(sizes))
        * RUNOFF_BLOCK
        * 8
        * (4 * MAX_RUNOFF_MONTHS + 3 * book.n_ages)
    )
    check_memory(need, f"calibrating on {paths:,} run-off paths", "use fewer run-off paths")

    def prepare(i: int) -> tuple[np.ndarray, np.ndarray]:
        z = _draw_factor(book, seed, i, sizes[i], (RUNOFF_STREAM,))
        stop, _ = _forward(book, z)  # the stopping month does not depend on p_b
        return z, stop

    blocks = list(thread_map(prepare, len(sizes), workers))
    return _Rates(book, blocks, paths, workers)


def _solve(
    scenario: Scenario,
    rates: _Rates,
    target: np.ndarray,
    bound: float,
    paths: int | None,
    seed: int | None,
    workers: int | None,
) -> Calibration:
    book = rates.book
    k = book.n_buckets
    p_file = np.asarray(book.p, dtype=float)
    floor, ceiling = rates(np.zeros(k)), rates(np.full(k, bound))
    moves = ceiling - floor > RATE_TOL  # the rate moves with the default rates
    low, high = target < floor - RATE_TOL, target > ceiling + RATE_TOL
    # out of reach: held at the nearest end of the plausible range; the rest solved jointly
    p = np.where(moves, np.clip(p_file, 0.0, bound), p_file)
    p[moves & low] = 0.0
    p[moves & high] = bound
    free = np.flatnonzero(moves & ~low & ~high)
    jac = np.zeros((0, 0))
    if free.size:
        p = _sequential_start(rates, target, p, free, bound)
        p, jac = _least_squares(rates, target, p, free, bound)
    got = rates(p)
    status, needed = _statuses(rates, target, p, got, floor, ceiling, bound)
    # reproduced only at the bound (to the solve's tolerance on p)
    implausible = [bool(b in free and p[b] >= bound * (1 - 1e-6)) for b in range(k)]
    se = _standard_errors(rates, p, status, free, jac)
    solved_book = rates._book_at(p)
    if rates.exact:
        implied = _exact_implied(solved_book)
    else:
        implied = _runoff(solved_book, rates.paths, seed, (RUNOFF_STREAM,), workers)
    return Calibration(
        labels=book.labels,
        targets=target,
        initial_default_rates=np.asarray(scenario.defaults.monthly_rate, dtype=float),
        default_rates=p,
        default_rates_se=se,
        status=status,
        floor=floor,
        ceiling=ceiling,
        needed=needed,
        implausible=implausible,
        max_default_rate=bound,
        notes=_notes(
            book.labels, target, got, p, floor, ceiling, needed, status, implausible, bound
        ),
        implied=implied,
        method="exact" if rates.exact else "runoff",
        paths=paths,
        seed=seed,
    )


def _sequential_start(
    rates: _Rates, target: np.ndarray, p0: np.ndarray, free: np.ndarray, bound: float
) -> np.ndarray:
    """A starting point: each free bucket solved alone, oldest first, within ``[0, bound]``
    (exact where the buckets are reachable one after the other)."""
    p = p0.copy()
    for b in sorted(free, reverse=True):

        def gap(x: float, b: int = b) -> float:
            q = p.copy()
            q[b] = x
            return float(rates(q)[b]) - target[b]

        lo, hi = gap(0.0), gap(bound)
        if lo >= 0.0:
            p[b] = 0.0
        elif hi <= 0.0:
            p[b] = bound
        else:
            p[b] = optimize.brentq(gap, 0.0, bound, xtol=1e-14, rtol=1e-12)
    return p


def _least_squares(
    rates: _Rates, target: np.ndarray, p0: np.ndarray, free: np.ndarray, bound: float
) -> tuple[np.ndarray, np.ndarray]:
    """Bounded least squares of the gaps of the buckets whose rates depend on ``p``."""
    base = p0.copy()

    def gaps(x: np.ndarray) -> np.ndarray:
        q = base.copy()
        q[free] = x
        return rates(q)[free] - target[free]

    res = optimize.least_squares(
        gaps,
        p0[free],
        bounds=(0.0, bound),
        method="trf",
        x_scale=bound,
        diff_step=1e-6,
        xtol=1e-12,
        ftol=1e-12,
        gtol=1e-12,
    )
    p = base.copy()
    p[free] = np.clip(res.x, 0.0, bound)
    return p, res.jac


def _statuses(
    rates: _Rates,
    target: np.ndarray,
    p: np.ndarray,
    got: np.ndarray,
    floor: np.ndarray,
    ceiling: np.ndarray,
    bound: float,
) -> tuple[list[str], np.ndarray]:
    status, needed = [], np.full(len(p), np.nan)
    for b in range(len(p)):
        if target[b] < floor[b] - RATE_TOL:
            status.append("below_reach")
        elif target[b] > ceiling[b] + RATE_TOL:
            status.append("above_reach")
            if ceiling[b] - floor[b] > RATE_TOL:
                needed[b] = _needed(rates, target[b], p, b, bound)
        elif ceiling[b] - floor[b] <= RATE_TOL:
            status.append("not_identified")
        elif abs(got[b] - target[b]) <= RATE_TOL:
            status.append("reproduced")
        else:
            status.append("conflict")
    return status, needed


def _needed(rates: _Rates, target: float, p: np.ndarray, b: int, bound: float) -> float:
    """The default rate bucket ``b`` alone would need for ``target`` (others as solved)."""

    def gap(x: float) -> float:
        q = p.copy()
        q[b] = x
        return float(rates(q)[b]) - target

    top = 1.0 - 1e-9
    if gap(top) < 0:
        return math.nan
    return float(optimize.brentq(gap, bound, top, xtol=1e-10))


def _standard_errors(
    rates: _Rates, p: np.ndarray, status: list[str], free: np.ndarray, jac: np.ndarray
) -> np.ndarray:
    """Delta-method SEs of the reproduced ``p_b`` on common random numbers (0 when exact).

    The reproduced rates solve ``mean_paths r_b(p) = target_b``: ``Var(p̂) ≈ J⁻¹ Σ J⁻ᵀ / n``
    with ``J`` the Jacobian of the mean rates and ``Σ`` the covariance of the per-path rates.
    """
    se = np.full(len(p), np.nan)
    idx = [b for b in range(len(p)) if status[b] == "reproduced"]
    if not idx:
        return se
    if rates.exact:
        se[idx] = 0.0
        return se
    if rates.paths < 2:
        return se
    pos = [int(np.flatnonzero(free == b)[0]) for b in idx]
    j = jac[np.ix_(pos, pos)]
    sigma = np.atleast_2d(np.cov(rates.per_path(p)[idx]))
    try:
        inv = np.linalg.inv(j)
    except np.linalg.LinAlgError:
        return se
    cov = inv @ sigma @ inv.T / rates.paths
    se[idx] = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    return se


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def _notes(
    labels: list[str],
    target: np.ndarray,
    got: np.ndarray,
    p: np.ndarray,
    floor: np.ndarray,
    ceiling: np.ndarray,
    needed: np.ndarray,
    status: list[str],
    implausible: list[bool],
    bound: float,
) -> dict[str, str]:
    notes = {}
    for b, lab in enumerate(labels):
        s = status[b]
        if s == "not_identified":
            notes[lab] = (
                f"{_pct(target[b])} holds for every default rate: nothing in this bucket or the "
                f"older ones is ever collected, so p_b is not identified and is kept at "
                f"{_pct(p[b])}"
            )
        elif s == "below_reach":
            notes[lab] = (
                f"{_pct(target[b])} is below {_pct(floor[b])}, the lowest rate these collections "
                f"allow with no defaults in this and every older bucket: the matrix looks light "
                f"for these collections, or collections are faster than assumed"
            )
        elif s == "above_reach":
            need = (
                f"needs {_pct(needed[b])}/month defaults, beyond the plausible {_pct(bound)}"
                if math.isfinite(needed[b])
                else "is out of reach while the bucket still collects"
            )
            notes[lab] = (
                f"{_pct(target[b])} {need}: the most these collections give with defaults of "
                f"{_pct(bound)}/month is {_pct(ceiling[b])}"
            )
        elif s == "conflict":
            held = [
                f"{labels[o]} held at {_pct(p[o])}"
                for o in range(b + 1, len(labels))
                if status[o] in ("above_reach", "below_reach")
            ]
            why = ", ".join(held) if held else "the older buckets at their solved rates"
            notes[lab] = (
                f"{_pct(target[b])} is within reach on its own ({_pct(floor[b])} to "
                f"{_pct(ceiling[b])}), but not with {why}: the closest is {_pct(got[b])} at "
                f"p_b = {_pct(p[b])}"
            )
        elif implausible[b]:
            notes[lab] = f"reproduced only at the plausibility bound of {_pct(bound)}/month"
    return notes
