"""Implied rates over parameter replicates (DESIGN 2.14): the mixture of the replicates' implied
rates, each replicate weighing its share of the rows.

A book without segments and debtors (:func:`implied_rates_over_replicates`): the replicates are
compiled once (:func:`simulator.params.compile_params`, as the engine does).

- Exact (every replicate has an exact answer, DESIGN 2.8): the exact rates of each distinct row,
  averaged with the row's share of the rows as its weight (SE 0).
- Otherwise one run-off of ``simulation.runoff_paths`` paths (at least R) in which run-off path
  ``g`` (its global index, ``block · RUNOFF_BLOCK + j``) takes the hazard parameters of
  replicate ``g mod R``: balanced, and without the engine's permutation, which the run-off does
  not need (its paths are independent draws whatever their order). The mean over paths is then
  the mixture itself: replicate r weighs ``n_r / N``, which is ``1 / R`` when R divides the
  paths and within ``1 / N`` of it otherwise. Its SE is the per-path SE, which treats the paths
  as independent draws of the mixture; the balanced assignment leaves out the spread of the
  replicate counts, so the SE is slightly conservative (it over-states the error by the share
  of the variance between replicates).

Random numbers: the run-off draws what the plain run-off draws (stream ``(1,)`` by default);
only the parameters of each path depend on the replicates. So a table of identical rows equal
to the scenario gives the plain implied rates bit for bit, exact or run-off, and the mixture and
the rates at the scenario's own parameters are on common random numbers.

A book of segments or named debtors (:func:`book_implied_over_replicates`): each distinct row's
implied values (:func:`book_implied_rates`, a run-off of its share of ``runoff_paths`` on stream
``(1, 5, r)`` of its own), mixed with the same weights; SEs add as ``sqrt(Σ w² SE²)``, the
run-offs being independent.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from ..scenario import Scenario, with_overrides
from ._book import RUNOFF_STREAM, ImpliedRates, _book, _paths_seed
from ._exact import _exact_implied
from ._runoff import _runoff
from ._segments import BookImplied, book_implied_rates

__all__ = ["book_implied_over_replicates", "implied_rates_over_replicates"]

#: Stream of a segmented book's replicates' run-offs: row r's draws from ``(1, 5, r)``.
_REPLICATE_RUNOFF = 5


def implied_rates_over_replicates(
    scenario: Scenario,
    rows: list[dict[str, float]],
    *,
    paths: int | None = None,
    seed: int | None = None,
    stream: Sequence[int] = (RUNOFF_STREAM,),
    workers: int | None = None,
) -> ImpliedRates:
    """The implied rates of a book whose hazard parameters vary by replicate.

    Exact when every replicate has an exact answer (the mean over rows of their exact rates);
    otherwise one run-off whose path ``g`` carries replicate ``g mod R`` (see the module's
    notes: its SE is slightly conservative). A book of segments or debtors: the book's part of
    :func:`book_implied_over_replicates` (``paths``, ``seed`` and ``stream`` are then its own).

    Parameters
    ----------
    scenario : Scenario
    rows : list of dict
        The replicates, as checked overrides (:func:`simulator.scenario.replicate_rows`).
    paths : int, optional
        Run-off paths (default ``simulation.runoff_paths``; at least ``len(rows)``).
    seed : int, optional
        Seed (default ``simulation.seed``).
    stream : sequence of int, optional
        Random-number stream of the run-off (default that of the plain run-off,
        :func:`simulator.analytic.runoff_implied_rates`).
    workers : int, optional
        Threads for the run-off's blocks. The numbers do not depend on it.

    Returns
    -------
    ImpliedRates
        ``stream`` is the run-off's (``()`` when exact).
    """
    if scenario.segments is not None or scenario.debtors:
        return book_implied_over_replicates(scenario, rows, workers=workers).book
    book = _book(scenario, rows=rows)
    if not book.exact:
        paths, seed = _paths_seed(scenario, paths, seed)
        return _runoff(book, max(paths, len(rows)), seed, tuple(stream), workers)
    first_row: dict[tuple, int] = {}
    counts: Counter[tuple] = Counter()
    for r, row in enumerate(rows):
        key = tuple(sorted(row.items()))
        first_row.setdefault(key, r)
        counts[key] += 1
    keys = sorted(counts)
    weights = [counts[key] / len(rows) for key in keys]
    return _mix(scenario, weights, [_exact_implied(book.replicate(first_row[k])) for k in keys])


def book_implied_over_replicates(
    scenario: Scenario, rows: list[dict[str, float]], *, workers: int | None = None
) -> BookImplied:
    """:func:`implied_rates_over_replicates` for a book of segments and debtors: the book's,
    each segment's and each debtor's implied values, mixed the same way.

    For a scenario without ``[[segments]]`` and ``[[debtors]]`` the book's part is
    :func:`implied_rates_over_replicates` itself.
    """
    if scenario.segments is None and not scenario.debtors:
        return BookImplied(
            book=implied_rates_over_replicates(scenario, rows, workers=workers), segments={}
        )
    counts = Counter(tuple(sorted(row.items())) for row in rows)
    total = len(rows)
    paths = scenario.simulation.runoff_paths
    parts: list[tuple[float, BookImplied]] = []
    for index, (key, count) in enumerate(sorted(counts.items())):
        weight = count / total
        sub = with_overrides(scenario, dict(key))
        imp = book_implied_rates(
            sub,
            paths=max(1, math.ceil(paths * weight)),
            stream=(RUNOFF_STREAM, _REPLICATE_RUNOFF, index),
            workers=workers,
        )
        parts.append((weight, imp))
    first = parts[0][1]
    weights = [w for w, _ in parts]
    return BookImplied(
        book=_mix(scenario, weights, [imp.book for _, imp in parts], paths),
        segments={
            name: _mix(scenario, weights, [imp.segments[name] for _, imp in parts], paths)
            for name in first.segments
        },
        debtor_names=first.debtor_names,
        debtor_loss=sum(w * imp.debtor_loss for w, imp in parts),
        debtor_loss_se=np.sqrt(sum((w * imp.debtor_loss_se) ** 2 for w, imp in parts)),
    )


def _mix(
    scenario: Scenario, weights: list[float], imps: list[ImpliedRates], paths: int | None = None
) -> ImpliedRates:
    """The mixture of independent implied rates ``imps`` with ``weights``; stranded where any
    of them is."""
    parts = list(zip(weights, imps, strict=True))
    first = imps[0]

    def mix(get) -> np.ndarray:
        return sum(w * np.asarray(get(imp), dtype=float) for w, imp in parts)

    def mix_se(get) -> np.ndarray:
        return np.sqrt(sum((w * np.asarray(get(imp), dtype=float)) ** 2 for w, imp in parts))

    exact = all(imp.method == "exact" for imp in imps)
    stranded = {label for imp in imps for label in imp.stranded}
    return ImpliedRates(
        labels=first.labels,
        rates=mix(lambda i: i.rates),
        rates_se=mix_se(lambda i: i.rates_se),
        loss_by_age=mix(lambda i: i.loss_by_age),
        loss_by_age_se=mix_se(lambda i: i.loss_by_age_se),
        lifetime_loss=float(mix(lambda i: i.lifetime_loss)),
        lifetime_loss_se=float(mix_se(lambda i: i.lifetime_loss_se)),
        opening_gross=first.opening_gross,
        method="exact" if exact else "runoff",
        paths=None if exact else paths,
        seed=None if exact else scenario.simulation.seed,
        stream=() if exact else (RUNOFF_STREAM, _REPLICATE_RUNOFF),
        unresolved=float(mix(lambda i: i.unresolved)),
        unresolved_se=float(mix_se(lambda i: i.unresolved_se)),
        months_mean=None if exact else float(mix(lambda i: i.months_mean or 0.0)),
        months_max=None if exact else max(i.months_max or 0 for i in imps),
        stranded=tuple(label for label in first.labels if label in stranded),
    )
