"""Implied provision rates by run-off simulation of the opening book (DESIGN 2.8, ``phi > 0``).

Random numbers: block ``i`` of :data:`RUNOFF_BLOCK` paths draws from
``numpy.random.default_rng([i, seed, *stream])`` with ``stream = (1,)`` for the implied rates of a
scenario (``(2, j)`` for the ``j``-th ECL scenario, see :mod:`simulator.provisioning`), distinct
from the engine's ``[i, seed]``: first ``Z_0`` of the block, then ``eps_t`` for months 1..600,
always for a full block. A path's numbers depend only on the seed, the stream and its index.
With parameter replicates (DESIGN 2.14, :mod:`simulator.analytic._mixture`) path ``g`` takes
the hazard parameters of replicate ``g mod R`` and draws the same numbers.

The stopping rule of DESIGN 2.8 is applied per path and made independent of the default rates: a
path stops at the first month at which what would remain *with no defaults at all* (the slowest
run-off these collections allow) is below ``1e-6`` of every bucket's opening balance, or after 600
months. What remains then is counted as lost; it is below ``1e-6`` of each bucket (so below
``1e-6 · G_0`` for the book, as DESIGN 2.8 asks) except on paths that reach 600 months, and its
mean is reported (``unresolved``). Because the stopping month does not move with ``p_b``, the
implied rates are smooth and monotone in ``p_b`` on common random numbers, which is what the
inverse (:mod:`simulator.analytic._inverse`) needs.

A backward recursion along each path's factor path gives ``L`` for every age at once. It only
visits the (age, month) pairs that the opening book can reach (age ≥ month − 1), bucket by bucket
from the oldest, so a run-off costs about ``(A²/2 + months) × paths`` operations.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._util import Moments, block_sizes, thread_map
from ..hazards import collection_hazard, default_hazard, factor_step
from ..scenario import Scenario
from ._book import (
    MAX_RUNOFF_MONTHS,
    RUNOFF_BLOCK,
    RUNOFF_STREAM,
    RUNOFF_TOL,
    ImpliedRates,
    _Book,
    _book,
    _no_exact,
    _paths_seed,
    exact_rates_available,
)
from ._exact import _exact_implied

__all__ = ["implied_rates", "runoff_implied_rates"]


def _draw_factor(book: _Book, seed: int, block: int, n: int, stream: tuple[int, ...]):
    """``Z_0..Z_600`` of the first ``n`` paths of run-off block ``block``, shape (601, n)."""
    rng = np.random.default_rng([block, seed, *stream])
    z = np.empty((MAX_RUNOFF_MONTHS + 1, n))
    z[0] = rng.standard_normal(RUNOFF_BLOCK)[:n]
    eps = rng.standard_normal((MAX_RUNOFF_MONTHS, RUNOFF_BLOCK))
    for t in range(1, MAX_RUNOFF_MONTHS + 1):
        z[t] = factor_step(z[t - 1], eps[t - 1, :n], book.phi)
    return z


def _scales(book: _Book, months: int) -> np.ndarray:
    """``m · s_cal(t)`` for months 1..months as a column, (months, 1), or (months, n) by path:
    it broadcasts against the factor's (months, n)."""
    scales = book.scales(months)
    return scales[:, None] if scales.ndim == 1 else scales


def _bucket_hazards(
    book: _Book, b: int, p: float | np.ndarray, z: np.ndarray, months: int, stop: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Default hazard ``d`` and survival ``f = 1 − h − d`` of bucket ``b`` for months 1..months.

    Both are ``(months, n)``; after a path's stopping month they are ``d = 1`` and ``f = 0``, so
    that what remains is counted as lost. ``p`` is ``p_b``, one value or one per path.
    """
    n = z.shape[1]
    zz = z[1 : months + 1]
    scales = _scales(book, months)
    d = default_hazard(np.asarray(p, dtype=float)[None], book.rho, zz)
    h = collection_hazard(book.c[b : b + 1], book.alpha[b : b + 1], book.beta, scales, zz, d)
    d = np.array(np.broadcast_to(d[0], (months, n)))
    h = np.broadcast_to(h[0], (months, n))
    f = np.maximum(1.0 - h - d, 0.0)
    late = np.arange(1, months + 1)[:, None] > stop[None, :]
    d[late] = 1.0
    f[late] = 0.0
    return d, f


#: Months whose hazards the forward run computes at once (fewer and larger array operations).
_FORWARD_CHUNK = 12


def _forward_hazards(
    book: _Book, z: np.ndarray, scales: np.ndarray, t: int, b0: int
) -> tuple[int, np.ndarray, np.ndarray]:
    """Survival without defaults ``f0 = 1 − h0`` and with them ``f = 1 − h − d`` of buckets
    ``b0..`` for months ``t..end − 1``, shape (K − b0, end − t, n or 1), and ``end``."""
    end = min(t + _FORWARD_CHUNK, MAX_RUNOFF_MONTHS + 1)
    zc = z[t:end]
    sc = scales[t - 1 : end - 1]
    c, alpha = book.c[b0:], book.alpha[b0:]
    d = default_hazard(book.p[b0:], book.rho, zc)
    f = np.maximum(1.0 - collection_hazard(c, alpha, book.beta, sc, zc, d) - d, 0.0)
    f0 = 1.0 - collection_hazard(c, alpha, book.beta, sc, zc, np.zeros((1, 1, 1)))
    return end, f0, f


def _forward(book: _Book, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stopping month of each path and the opening book's balance left at that month.

    Runs two books forward: every bucket's opening balance scaled to 1 with no defaults (the
    slowest run-off, which sets the stopping month), and the opening book with the scenario's
    default rates (what remains of it is reported).
    """
    A, n = book.n_ages, z.shape[1]
    X = np.empty((A, 2, n))
    X[:, 0, :] = book.weights[:, None]
    X[:, 1, :] = book.opening[:, None]
    stop = np.full(n, MAX_RUNOFF_MONTHS, dtype=np.int64)
    unresolved = np.zeros(n)
    done = np.zeros(n, dtype=bool)
    scales = _scales(book, MAX_RUNOFF_MONTHS)
    rem = np.zeros((2, n))
    end = 1
    for t in range(1, MAX_RUNOFF_MONTHS + 1):
        a_lo = min(t - 1, A - 1)
        b0 = next(b for b, (_, hi) in enumerate(book.slices) if hi > a_lo)
        if t == end:
            t0, c0 = t, b0
            end, f0_next, f_next = _forward_hazards(book, z, scales, t, b0)
        f0, f = f0_next[b0 - c0 :, t - t0], f_next[b0 - c0 :, t - t0]
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
    p: float | np.ndarray,
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
        out[lo:hi], boundary = _bucket_backward(book, b, p[b], z, stop, boundary, series=b > 0)
    return out


def _bucket_rates(book: _Book, loss: np.ndarray) -> np.ndarray:
    """Per-path implied rates ``(K, n)`` from ``L(a, 1)`` ``(A, n)``."""
    return np.stack([book.weights[lo:hi] @ loss[lo:hi] for lo, hi in book.slices])


def _runoff_block(book: _Book, seed: int, block: int, n: int, stream: tuple[int, ...]):
    book = book.for_paths(block * RUNOFF_BLOCK + np.arange(n))  # replicates: path g takes g mod R
    z = _draw_factor(book, seed, block, n, stream)
    stop, unresolved = _forward(book, z)
    loss = _block_loss(book, book.p, z, stop)
    rates = _bucket_rates(book, loss)
    values = np.vstack([loss, rates, book.opening @ loss, unresolved, stop.astype(float)])
    return values, int(stop.max())


def _runoff(
    book: _Book, paths: int, seed: int, stream: tuple[int, ...], workers: int | None
) -> ImpliedRates:
    sizes = block_sizes(paths, RUNOFF_BLOCK)
    moments = Moments()
    months_max = 0

    def task(i: int):
        return _runoff_block(book, seed, i, sizes[i], stream)

    for values, mmax in thread_map(task, len(sizes), workers):
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
        stranded=book.stranded,
    )


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
