"""Parameter risk (DESIGN 2.14): how much of a figure's spread comes from not knowing the rates.

A run with parameter replicates gives every path the rates of one replicate (balanced). For a
per-path quantity ``y`` grouped by replicate, the one-way random-effects estimates are
``MSB = Σ n_r (ȳ_r − ȳ)² / (R−1)``, ``MSW = Σ_r Σ (y − ȳ_r)² / (N−R)``,
``n₀ = (N − Σ n_r²/N) / (R−1)``, ``σ̂²_θ = max(0, (MSB − MSW)/n₀)``,
``share = σ̂²_θ / (σ̂²_θ + MSW)``; the shrunk conditional values ``ȳ + λ_r (ȳ_r − ȳ)`` with
``λ_r = σ̂²_θ / (σ̂²_θ + MSW/n_r)`` give the 5–95 % range over replicates.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "METRICS",
    "MIN_PATHS_PER_REPLICATE",
    "parameter_risk",
    "random_effects",
    "survival_band",
]

#: A replicate's own mean needs this many paths before its shrunk value is shown in a range.
MIN_PATHS_PER_REPLICATE = 200
#: Summary key -> per-path column and, for a probability P(runway <= k), k.
METRICS = {
    "p_runway_le_12": ("runway", 12),
    "p_runway_le_24": ("runway", 24),
    "credit_loss_mean": ("credit_loss", None),
    "cash_end_mean": ("cash_end", None),
}


def random_effects(y: np.ndarray, groups: np.ndarray, n_groups: int) -> dict[str, Any]:
    """One-way random-effects estimates of ``y`` grouped by ``groups`` (0..n_groups−1).

    Parameters
    ----------
    y : ndarray, shape (N,)
    groups : ndarray of int, shape (N,)
    n_groups : int
        ``R``, at least 2; every group must hold at least one value and ``N > R``.

    Returns
    -------
    dict
        ``mean`` (ȳ), ``msb``, ``msw``, ``n0``, ``var_theta`` (σ̂²_θ), ``sd_theta``, ``share``,
        ``group_means`` (ȳ_r), ``shrunk`` (the shrunk conditional values) and ``counts`` (n_r).
    """
    y = np.asarray(y, dtype=float)
    counts = np.bincount(groups, minlength=n_groups).astype(float)
    n, r = len(y), n_groups
    means = np.bincount(groups, weights=y, minlength=r) / counts
    grand = float(y.mean())
    msb = float(np.sum(counts * (means - grand) ** 2) / (r - 1))
    msw = float(np.sum((y - means[groups]) ** 2) / (n - r))
    n0 = (n - float(np.sum(counts**2)) / n) / (r - 1)
    var_theta = max(0.0, (msb - msw) / n0)
    total = var_theta + msw
    share = var_theta / total if total > 0 else 0.0
    denom = var_theta + msw / counts
    # no spread within or between replicates (e.g. an event no path reaches): nothing to shrink
    lam = np.divide(var_theta, denom, out=np.zeros_like(denom), where=denom > 0)
    return {
        "mean": grand,
        "msb": msb,
        "msw": msw,
        "n0": n0,
        "var_theta": var_theta,
        "sd_theta": math.sqrt(var_theta),
        "share": share,
        "group_means": means,
        "shrunk": grand + lam * (means - grand),
        "counts": counts,
    }


def _per_path(per_path: dict[str, np.ndarray], column: str, k: int | None) -> np.ndarray:
    values = per_path[column]
    return (values <= k).astype(float) if k is not None else values.astype(float)


def survival_band(
    runway: np.ndarray, groups: np.ndarray, n_groups: int, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """5th and 95th percentiles over replicates of the shrunk ``P(runway > t)``, t = 0..H.

    Each month's indicator ``runway > t`` gets the random-effects shrinkage of
    :func:`random_effects`, as the summary's figures do.
    """
    lo, hi = np.empty(horizon + 1), np.empty(horizon + 1)
    for t in range(horizon + 1):
        shrunk = random_effects((runway > t).astype(float), groups, n_groups)["shrunk"]
        lo[t], hi[t] = np.percentile(shrunk, [5, 95])
    return lo, hi


def _survival(runway: np.ndarray, horizon: int) -> list[float]:
    return [float(np.mean(runway > t)) for t in range(horizon + 1)]


def parameter_risk(
    mixture: dict[str, np.ndarray],
    point: dict[str, Any],
    n_replicates: int,
    horizon: int,
    point_runway: np.ndarray | None = None,
) -> dict[str, Any]:
    """The summary's ``parameter_risk`` (DESIGN 2.14).

    Parameters
    ----------
    mixture : dict of ndarray
        Per-path outputs of the run with replicates (with its ``replicate`` column).
    point : dict
        The summary of the plain run on the same seed and paths (the scenario's own rates).
    n_replicates : int
    horizon : int
    point_runway : ndarray, optional
        Runway of each path of the plain run: adds ``runway_survival``, the survival curve
        ``P(runway > t)`` for t = 0..H at the point estimate and of the mixture, with the
        5–95 % band of the shrunk per-replicate curves (null when a replicate has fewer
        than :data:`MIN_PATHS_PER_REPLICATE` paths).

    Returns
    -------
    dict
        Per metric: ``point``, ``mixture``, ``sd_theta``, ``share``, ``range_5_95`` (null,
        with ``range_note``, when a replicate has fewer than
        :data:`MIN_PATHS_PER_REPLICATE` paths); and ``replicates``, ``paths_per_replicate``
        (the smallest n_r) and ``note``.
    """
    groups = mixture["replicate"].astype(np.int64)
    out: dict[str, Any] = {}
    smallest = int(np.bincount(groups, minlength=n_replicates).min())
    for key, (column, k) in METRICS.items():
        if k is not None and horizon < k:
            out[key] = None
            continue
        est = random_effects(_per_path(mixture, column, k), groups, n_replicates)
        entry: dict[str, Any] = {
            "point": point.get(key),
            "mixture": est["mean"],
            "sd_theta": est["sd_theta"],
            "share": est["share"],
        }
        if smallest < MIN_PATHS_PER_REPLICATE:
            entry["range_5_95"] = None
            entry["range_note"] = (
                f"a replicate has {smallest} paths, fewer than {MIN_PATHS_PER_REPLICATE}: its "
                f"own value is too noisy to place in a range (run more paths)"
            )
        else:
            lo, hi = np.percentile(est["shrunk"], [5, 95])
            entry["range_5_95"] = [float(lo), float(hi)]
            entry["range_note"] = None
        out[key] = entry
    if point_runway is not None:
        runway = mixture["runway"]
        band = (
            survival_band(runway, groups, n_replicates, horizon)
            if smallest >= MIN_PATHS_PER_REPLICATE
            else None
        )
        out["runway_survival"] = {
            "point": _survival(point_runway, horizon),
            "mixture": _survival(runway, horizon),
            "band_5": None if band is None else band[0].tolist(),
            "band_95": None if band is None else band[1].tolist(),
        }
    n = len(groups)
    out["replicates"] = n_replicates
    out["paths_per_replicate"] = smallest
    out["note"] = (
        None
        if n >= MIN_PATHS_PER_REPLICATE * n_replicates
        else f"{n:,} paths for {n_replicates:,} replicates: fewer than "
        f"{MIN_PATHS_PER_REPLICATE} a replicate, so the ranges are wide or left out"
    )
    return out
