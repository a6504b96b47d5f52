"""Implied rates over parameter replicates (DESIGN 2.14): the mixture of the replicates' implied
rates, each replicate weighing its share of the rows.

The replicates are compiled once (:func:`simulator.params.compile_params`, as the engine does).

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
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from ..scenario import Scenario
from ._book import RUNOFF_STREAM, ImpliedRates, _book, _paths_seed
from ._exact import _exact_implied
from ._runoff import _runoff

__all__ = ["implied_rates_over_replicates"]


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
    notes: its SE is slightly conservative).

    Parameters
    ----------
    scenario : Scenario
        A book of one segment, as every implied rate.
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
    parts = [
        (count / len(rows), _exact_implied(book.replicate(first_row[key])))
        for key, count in sorted(counts.items())
    ]
    first = parts[0][1]

    def mix(get) -> np.ndarray:
        return sum(w * np.asarray(get(imp), dtype=float) for w, imp in parts)

    return ImpliedRates(
        labels=first.labels,
        rates=mix(lambda i: i.rates),
        rates_se=np.zeros_like(first.rates),
        loss_by_age=mix(lambda i: i.loss_by_age),
        loss_by_age_se=np.zeros_like(first.loss_by_age),
        lifetime_loss=float(mix(lambda i: i.lifetime_loss)),
        lifetime_loss_se=0.0,
        opening_gross=first.opening_gross,
        method="exact",
        unresolved=float(mix(lambda i: i.unresolved)),
        stranded=book.stranded,
    )
