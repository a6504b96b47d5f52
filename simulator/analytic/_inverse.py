"""The inverse: default rates ``p_b`` that make the implied rates equal a disclosed matrix
(DESIGN 2.8).

:func:`calibrate_default_rates` solves ``p_b``, last bucket first, so that the implied rates equal
the disclosed ones: exactly (``scipy.optimize.brentq`` on the exact rates) when the months are
independent, otherwise on common random numbers (the same paths and stopping months at every
trial ``p_b``), with standard errors of the solved rates from the delta method.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from scipy import optimize

from .._format import fmt_pct
from .._util import block_sizes, thread_map
from ..resources import check_memory
from ..scenario import Scenario
from ._book import (
    _ID_TOL,
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
from ._exact import _exact_bucket, _exact_implied
from ._runoff import _block_loss, _bucket_backward, _bucket_rates, _draw_factor, _forward, _runoff

__all__ = ["Calibration", "calibrate_default_rates"]

T = TypeVar("T")


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
                f"{fmt_pct(p_now)}"
            )
            return p_now, "not_identified", low, math.nan, note
        note = (
            f"100 % is out of reach while this bucket (or an older one it rolls into) still "
            f"collects: the implied rate tends to 100 % only as p_b → 1 (everything defaulting in "
            f"its first month); the lowest reachable rate is {fmt_pct(low)}; p_b kept at "
            f"{fmt_pct(p_now)}"
        )
        return p_now, "unreachable", low, math.nan, note
    if target < low - _ID_TOL:
        note = (
            f"{fmt_pct(target)} is below {fmt_pct(low)}, the lowest rate these collections "
            f"allow: even with p_b = 0, what is not collected before it ages out of the bucket "
            f"is lost at the older buckets' rates; p_b set to 0, which gives the nearest "
            f"reachable rate"
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
    sizes = block_sizes(paths, RUNOFF_BLOCK)
    # the factor paths and one boundary series of every path are held at once
    need = paths * (2 * (MAX_RUNOFF_MONTHS + 2) + 2 * book.n_buckets) * 8
    need += (
        min(workers or os.cpu_count() or 1, len(sizes)) * RUNOFF_BLOCK * 8 * (4 * MAX_RUNOFF_MONTHS)
    )
    check_memory(need, f"calibrating on {paths:,} run-off paths", "use fewer run-off paths")
    stream = (RUNOFF_STREAM,)

    def run(fn: Callable[[int], T], items: range) -> Iterator[T]:
        return thread_map(fn, len(items), workers)

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
