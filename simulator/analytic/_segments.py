"""Implied rates of a book of segments and named debtors (DESIGN 2.8, 2.12, 2.13).

Each segment's implied rates are those of the one-segment scenario with its parameters
(:func:`simulator.scenario.segment_scenario`): exact when months are independent, otherwise a
run-off on the segment's own factor ``Y^s = sqrt(w_s) Z + sqrt(1 − w_s) V^s``, which is
marginally the same AR(1) process as ``Z``. The run-offs of the segments share ``Z`` (the stream
of the book's run-off) and draw ``V^s`` from ``SeedSequence(seed, spawn_key=(i, 3, k, *stream))``
over their own blocks (DESIGN 2.10), so a segment with ``w_s = 1`` sees the book's own run-off
paths, and splitting a book into identical segments changes nothing but rounding.

A named debtor adds ``B_j · L_j(age_months, cal(1))`` to the implied loss of the bucket of its
age: exact (2.8 on its own hazards) when months are independent; otherwise the lump is run off
along its segment's ``Y`` on each path, until what would remain of it with no defaults is below
:data:`RUNOFF_TOL` (or its write-off age, or :data:`MAX_RUNOFF_MONTHS`); what remains is counted
as lost and reported as unresolved.

Book-level values are sums over segments and debtors; a bucket's implied rate is its implied
loss over its gross (the plain average of the segments' rates where the whole book has no
gross in it). With a run-off they are formed on every path, so their SEs include the
covariances between segments.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .._util import Moments, block_sizes, thread_map
from ..engine import SEGMENT_STREAM
from ..hazards import collection_hazard, default_hazard, factor_step
from ..params import DebtorParams, compile_params, stream_key
from ..scenario import Scenario, book_opening, book_segments, segment_scenario
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
from ._exact import _exact_implied, _exact_loss, _exact_unresolved
from ._runoff import _block_loss, _bucket_rates, _draw_factor, _forward, implied_rates

__all__ = ["BookImplied", "book_implied_rates"]


@dataclass(frozen=True)
class BookImplied:
    """Implied rates of a whole book: the book's, each segment's and each debtor's part.

    Attributes
    ----------
    book : ImpliedRates
        Over segments and debtors (``opening_gross`` is the book's by bucket, debtors included).
        For a book of several segments or with debtors ``loss_by_age`` is empty: each segment
        has its own ages (see ``segments``).
    segments : dict of str to ImpliedRates
        Per segment of ``[[segments]]`` (empty without them).
    debtor_names : tuple of str
    debtor_loss, debtor_loss_se : ndarray, shape (J,)
        ``B_j · L_j(age_months, cal(1))``, each debtor's implied lifetime loss (money).
    """

    book: ImpliedRates
    segments: dict[str, ImpliedRates]
    debtor_names: tuple[str, ...] = ()
    debtor_loss: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    debtor_loss_se: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))


@dataclass(frozen=True)
class _Parts:
    """The books of a scenario's segments and debtors, as the implied-rate methods need them."""

    names: list[str]
    explicit: bool
    weights: np.ndarray  # factor_weight per segment (1 for the implicit one)
    keys: list[int]  # stream_key per segment
    books: list[_Book]
    debtors: DebtorParams
    debtor_books: list[_Book]
    ages: np.ndarray  # (J,) the lump's age as a row of its segment's ages
    buckets: np.ndarray  # (J,) the bucket of that age
    labels: list[str]
    gross: np.ndarray  # (K,) the book's opening gross, debtors included


def _debtor_book(book: _Book, dbt: DebtorParams, j: int, age: int) -> _Book:
    """A one-lump book: debtor ``j`` at ``age`` on its segment's grid, with its own hazards."""
    opening = np.zeros(book.n_ages)
    opening[age] = dbt.balance[j]
    gross = np.array([opening[lo:hi].sum() for lo, hi in book.slices])
    weights = np.empty(book.n_ages)
    for b, (lo, hi) in enumerate(book.slices):
        weights[lo:hi] = opening[lo:hi] / gross[b] if gross[b] > 0 else 1.0 / (hi - lo)
    return dataclasses.replace(
        book,
        opening=opening,
        gross=gross,
        weights=weights,
        c=dbt.pay[j].copy(),
        alpha=dbt.alpha[j].copy(),
        beta=float(dbt.beta[j]),
        p=dbt.default[j].copy(),
        rho=float(dbt.rho[j]),
    )


def _parts(scenario: Scenario) -> _Parts:
    segs = book_segments(scenario)
    books = [_book(segment_scenario(scenario, seg.name)) for seg in segs]
    dbt = compile_params(scenario).debtors
    ages = np.zeros(len(dbt), dtype=np.int64)
    buckets = np.zeros(len(dbt), dtype=np.int64)
    dbooks = []
    for j in range(len(dbt)):
        book = books[int(dbt.segment[j])]
        ages[j] = min(int(dbt.age0[j]), book.n_ages - 1)
        buckets[j] = next(b for b, (_, hi) in enumerate(book.slices) if hi > ages[j])
        dbooks.append(_debtor_book(book, dbt, j, int(ages[j])))
    return _Parts(
        names=[seg.name for seg in segs],
        explicit=scenario.segments is not None,
        weights=np.array([seg.factor_weight for seg in segs]),
        keys=[stream_key(seg.name) for seg in segs],
        books=books,
        debtors=dbt,
        debtor_books=dbooks,
        ages=ages,
        buckets=buckets,
        labels=scenario.labels,
        gross=np.asarray(book_opening(scenario).gross, dtype=float),
    )


def _book_values(
    parts: _Parts, rates: list[np.ndarray], d_loss: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The book's implied loss and rate by bucket, ``(K, n)`` each, from the segments' rates
    ``(K, n)`` and the debtors' losses ``(J, n)`` (``n`` paths, or 1 when exact)."""
    loss = sum(r * book.gross[:, None] for r, book in zip(rates, parts.books, strict=True))
    loss = np.array(loss, dtype=float)
    for j in range(len(d_loss)):
        loss[parts.buckets[j]] += d_loss[j]
    even = sum(rates) / len(rates)
    with np.errstate(divide="ignore", invalid="ignore"):
        book_rates = np.where(parts.gross[:, None] > 0, loss / parts.gross[:, None], even)
    return loss, book_rates


def _book_result(
    parts: _Parts, segments: list[ImpliedRates], rates: np.ndarray, rates_se: np.ndarray, **kw
) -> ImpliedRates:
    stranded = tuple(lab for lab in parts.labels if any(lab in s.stranded for s in segments))
    return ImpliedRates(
        labels=parts.labels,
        rates=rates,
        rates_se=rates_se,
        loss_by_age=np.zeros(0),
        loss_by_age_se=np.zeros(0),
        opening_gross=parts.gross.copy(),
        stranded=stranded,
        **kw,
    )


def _exact_book(parts: _Parts) -> BookImplied:
    segments = [_exact_implied(book) for book in parts.books]
    cache: dict[tuple, np.ndarray] = {}
    d_loss, d_unresolved = [], []
    for j, db in enumerate(parts.debtor_books):
        key = (int(parts.debtors.segment[j]), *db.c, *db.p, db.rho, db.beta)
        if key not in cache:
            cache[key] = _exact_loss(db)
        full = cache[key]
        d_loss.append(float(db.opening @ full[:, db.first]))
        d_unresolved.append(_exact_unresolved(db, full))
    d_loss_arr = np.array(d_loss)
    _, rates = _book_values(parts, [s.rates[:, None] for s in segments], d_loss_arr[:, None])
    zeros = np.zeros(len(parts.labels))
    book = _book_result(
        parts,
        segments,
        rates[:, 0],
        zeros,
        lifetime_loss=math.fsum([*(s.lifetime_loss for s in segments), *d_loss]),
        lifetime_loss_se=0.0,
        method="exact",
        unresolved=math.fsum([*(s.unresolved for s in segments), *d_unresolved]),
    )
    return BookImplied(
        book=book,
        segments=dict(zip(parts.names, segments, strict=True)) if parts.explicit else {},
        debtor_names=parts.debtors.names,
        debtor_loss=d_loss_arr,
        debtor_loss_se=np.zeros(len(d_loss)),
    )


def _segment_factor(
    parts: _Parts, s: int, z: np.ndarray, seed: int, block: int, stream: tuple[int, ...]
) -> np.ndarray:
    """``Y^s`` of the block's paths: ``Z`` itself when ``w_s = 1`` (or the implicit segment)."""
    w = float(parts.weights[s])
    if not parts.explicit or w == 1.0:
        return z
    n = z.shape[1]
    seq = np.random.SeedSequence(seed, spawn_key=(block, SEGMENT_STREAM, parts.keys[s], *stream))
    rng = np.random.Generator(np.random.PCG64(seq))
    v = np.empty_like(z)
    v[0] = rng.standard_normal(RUNOFF_BLOCK)[:n]
    nu = rng.standard_normal((MAX_RUNOFF_MONTHS, RUNOFF_BLOCK))
    for t in range(1, MAX_RUNOFF_MONTHS + 1):
        v[t] = factor_step(v[t - 1], nu[t - 1, :n], parts.books[s].phi)
    return math.sqrt(w) * z + math.sqrt(1.0 - w) * v


def _lumps_runoff(book: _Book, ages: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``L(age, 1)`` of lumps of one hazard set (``book``'s) at ``ages`` (G,), on each path of
    factor ``y`` (601, n), and what remains of each when its path stops (counted as lost), both
    ``(G, n)``. The hazards are evaluated once a month for every bucket, and each lump takes the
    row of its age's bucket, so the cost hardly grows with the number of lumps."""
    n, G = y.shape[1], len(ages)
    survive, slowest, loss = np.ones((G, n)), np.ones((G, n)), np.zeros((G, n))
    unresolved = np.zeros((G, n))
    active = np.ones((G, n), dtype=bool)
    lows = np.array([lo for lo, _ in book.slices])
    # the month each lump reaches the write-off age (never without one)
    t_w = book.n_ages - ages if book.write_off else np.full(G, -1)
    scales = book.scales(MAX_RUNOFF_MONTHS)
    K = book.n_buckets
    for t in range(1, MAX_RUNOFF_MONTHS + 1):
        a = np.minimum(ages + t - 1, book.n_ages - 1)
        b = np.searchsorted(lows, a, side="right") - 1
        d_all = np.broadcast_to(default_hazard(book.p, book.rho, y[t]), (K, n))
        args = (book.c, book.alpha, book.beta, scales[t - 1], y[t])
        h_all = np.broadcast_to(collection_hazard(*args, d_all), (K, n))
        h0_all = np.broadcast_to(collection_hazard(*args, np.zeros((K, 1))), (K, n))
        d, h, h0 = d_all[b], h_all[b], h0_all[b]
        loss += np.where(active, survive * d, 0.0)
        survive = np.where(active, survive * np.maximum(1.0 - h - d, 0.0), survive)
        slowest = np.where(active, slowest * (1.0 - h0), slowest)
        off = active & (t == t_w)[:, None]  # written off at the end of this month
        loss[off] += survive[off]
        active &= ~off
        done = active & (slowest < RUNOFF_TOL)
        loss[done] += survive[done]
        unresolved[done] = survive[done]
        active &= ~done
        if not active.any():
            return loss, unresolved
    loss[active] += survive[active]
    unresolved[active] = survive[active]
    return loss, unresolved


def _lump_groups(parts: _Parts) -> list[list[int]]:
    """The debtors grouped by their hazards (segment and own parameters), in order."""
    groups: dict[tuple, list[int]] = {}
    dbt = parts.debtors
    for j, db in enumerate(parts.debtor_books):
        key = (int(dbt.segment[j]), *db.c, *db.alpha, *db.p, db.beta, db.rho)
        groups.setdefault(key, []).append(j)
    return list(groups.values())


def _runoff_block(
    parts: _Parts, seed: int, block: int, n: int, stream: tuple[int, ...]
) -> tuple[np.ndarray, list[int]]:
    """Per-path values of one run-off block: per segment its ``L(a, 1)``, rates, lifetime
    loss, unresolved and stopping month; per debtor its loss and unresolved; then the book's
    rates, lifetime loss and unresolved."""
    z = _draw_factor(parts.books[0], seed, block, n, stream)
    rows, rates, seg_life, seg_unres, months = [], [], [], [], []
    ys = []
    for s, book in enumerate(parts.books):
        y = _segment_factor(parts, s, z, seed, block, stream)
        ys.append(y)
        stop, unresolved = _forward(book, y)
        loss = _block_loss(book, book.p, y, stop)
        r = _bucket_rates(book, loss)
        life = book.opening @ loss
        rows += [loss, r, life[None], unresolved[None], stop[None].astype(float)]
        rates.append(r)
        seg_life.append(life)
        seg_unres.append(unresolved)
        months.append(int(stop.max()))
    J = len(parts.debtor_books)
    d_loss, d_unres = np.zeros((J, n)), np.zeros((J, n))
    for group in _lump_groups(parts):
        first = parts.debtor_books[group[0]]
        y = ys[int(parts.debtors.segment[group[0]])]
        lj, uj = _lumps_runoff(first, parts.ages[group], y)
        balance = parts.debtors.balance[group][:, None]
        d_loss[group] = balance * lj
        d_unres[group] = balance * uj
    _, book_rates = _book_values(parts, rates, d_loss)
    life = sum(seg_life) + d_loss.sum(axis=0)
    unres = sum(seg_unres) + d_unres.sum(axis=0)
    rows += [d_loss, d_unres, book_rates, life[None], unres[None]]
    return np.vstack(rows), months


def _runoff_book(
    parts: _Parts, paths: int, seed: int, stream: tuple[int, ...], workers: int | None
) -> BookImplied:
    sizes = block_sizes(paths, RUNOFF_BLOCK)
    moments = Moments()
    months_max = [0] * len(parts.books)

    def task(i: int):
        return _runoff_block(parts, seed, i, sizes[i], stream)

    for values, mmax in thread_map(task, len(sizes), workers):
        moments.add(values)
        months_max = [max(a, b) for a, b in zip(months_max, mmax, strict=True)]
    assert moments.mean is not None
    mean, se = moments.mean, moments.se()
    K, J = len(parts.labels), len(parts.debtor_books)
    run = {"method": "runoff", "paths": paths, "seed": seed, "stream": tuple(stream)}
    segments, at = [], 0
    for s, book in enumerate(parts.books):
        A = book.n_ages
        segments.append(
            ImpliedRates(
                labels=parts.labels,
                rates=mean[at + A : at + A + K].copy(),
                rates_se=se[at + A : at + A + K].copy(),
                loss_by_age=mean[at : at + A].copy(),
                loss_by_age_se=se[at : at + A].copy(),
                lifetime_loss=float(mean[at + A + K]),
                lifetime_loss_se=float(se[at + A + K]),
                opening_gross=book.gross.copy(),
                unresolved=float(mean[at + A + K + 1]),
                unresolved_se=float(se[at + A + K + 1]),
                months_mean=float(mean[at + A + K + 2]),
                months_max=months_max[s],
                stranded=book.stranded,
                **run,
            )
        )
        at += A + K + 3
    d_loss, d_loss_se = mean[at : at + J].copy(), se[at : at + J].copy()
    at += 2 * J
    book = _book_result(
        parts,
        segments,
        mean[at : at + K].copy(),
        se[at : at + K].copy(),
        lifetime_loss=float(mean[at + K]),
        lifetime_loss_se=float(se[at + K]),
        unresolved=float(mean[at + K + 1]),
        unresolved_se=float(se[at + K + 1]),
        months_mean=max(s.months_mean or 0.0 for s in segments),
        months_max=max(months_max),
        **run,
    )
    return BookImplied(
        book=book,
        segments=dict(zip(parts.names, segments, strict=True)) if parts.explicit else {},
        debtor_names=parts.debtors.names,
        debtor_loss=d_loss,
        debtor_loss_se=d_loss_se,
    )


def book_implied_rates(
    scenario: Scenario,
    *,
    method: str = "auto",
    paths: int | None = None,
    seed: int | None = None,
    stream: Sequence[int] = (RUNOFF_STREAM,),
    workers: int | None = None,
) -> BookImplied:
    """Implied rates of the whole book, of each segment and each named debtor (DESIGN 2.12,
    2.13).

    For a scenario without ``[[segments]]`` and ``[[debtors]]`` the book's part is
    :func:`implied_rates` itself.

    Parameters
    ----------
    scenario : Scenario
    method : {"auto", "exact", "runoff"}
        ``"auto"``: exact when :func:`exact_rates_available` (every segment and debtor),
        run-off otherwise.
    paths, seed, stream, workers
        For the run-off, as in :func:`runoff_implied_rates`.

    Returns
    -------
    BookImplied

    Raises
    ------
    ValueError
        If ``method="exact"`` and there is no exact answer, or ``method`` is unknown.
    """
    if scenario.segments is None and not scenario.debtors:
        imp = implied_rates(
            scenario, method=method, paths=paths, seed=seed, stream=stream, workers=workers
        )
        return BookImplied(book=imp, segments={})
    if method not in ("auto", "exact", "runoff"):
        raise ValueError(f"method must be 'auto', 'exact' or 'runoff', got {method!r}")
    exact = exact_rates_available(scenario)
    if method == "exact" and not exact:
        raise _no_exact(scenario)
    parts = _parts(scenario)
    if method == "exact" or (method == "auto" and exact):
        return _exact_book(parts)
    paths, seed = _paths_seed(scenario, paths, seed)
    return _runoff_book(parts, paths, seed, tuple(stream), workers)
