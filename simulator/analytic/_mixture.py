"""Implied rates over parameter replicates (DESIGN 2.14): the mixture of each replicate's
implied rates, weighted by how many paths carry it."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from ..scenario import Scenario, with_overrides
from ._book import RUNOFF_STREAM, ImpliedRates
from ._runoff import implied_rates

__all__ = ["implied_rates_over_replicates"]

#: Stream of the replicates' run-offs: row r's run-off draws from ``(RUNOFF_STREAM, 5, r)``.
_REPLICATE_RUNOFF = 5


def implied_rates_over_replicates(
    scenario: Scenario, rows: list[dict[str, float]], *, workers: int | None = None
) -> ImpliedRates:
    """The implied rates of a book whose hazard parameters vary by replicate.

    Each distinct row's implied rates (exact when that row has an exact answer, otherwise a
    run-off of its share of ``simulation.runoff_paths`` on a stream of its own) are averaged
    with the row's share of the rows as its weight; SEs add as ``sqrt(Σ w² SE²)``, the
    run-offs being independent.

    Parameters
    ----------
    scenario : Scenario
    rows : list of dict
        The replicates, as checked overrides (:func:`simulator.scenario.replicate_rows`).
    workers : int, optional
        Threads for the run-offs.

    Returns
    -------
    ImpliedRates
    """
    counts = Counter(tuple(sorted(row.items())) for row in rows)
    total = len(rows)
    paths = scenario.simulation.runoff_paths
    parts = []
    for index, (key, count) in enumerate(sorted(counts.items())):
        weight = count / total
        sub = with_overrides(scenario, dict(key))
        imp = implied_rates(
            sub,
            paths=max(1, math.ceil(paths * weight)),
            stream=(RUNOFF_STREAM, _REPLICATE_RUNOFF, index),
            workers=workers,
        )
        parts.append((weight, imp))
    first = parts[0][1]

    def mix(get) -> np.ndarray:
        return sum(w * np.asarray(get(imp), dtype=float) for w, imp in parts)

    def mix_se(get) -> np.ndarray:
        return np.sqrt(sum((w * np.asarray(get(imp), dtype=float)) ** 2 for w, imp in parts))

    exact = all(imp.method == "exact" for _, imp in parts)
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
        months_max=None if exact else max(i.months_max or 0 for _, i in parts),
        stranded=first.stranded,
    )
