"""Scores of a probabilistic forecast against what happened (DESIGN 7): the fair CRPS of a
sample, the randomised PIT, central-interval coverage, and the table of WAPE, bias, coverage,
CRPS and skill against the naive forecast per series and horizon."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Levels of the central intervals whose coverage is reported.
LEVELS = (0.5, 0.9)
#: Quantiles of the forecast kept per row (percent).
QUANTILES = (5, 25, 50, 75, 95)


def fair_crps(samples: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The fair (unbiased) CRPS of a sample for each column.

    ``mean|x_i − y| − Σ_{i≠j}|x_i − x_j| / (2m(m−1))`` (Ferro 2014; Zamo & Naveau 2018): an
    unbiased estimate of the CRPS of the distribution the ``m`` draws come from. With ``m = 1``
    it is the absolute error. In the unit of ``y``; lower is better.

    Parameters
    ----------
    samples : ndarray, shape (m, n)
        ``m`` draws of each of ``n`` forecasts.
    y : ndarray, shape (n,)
        What happened.

    Returns
    -------
    ndarray, shape (n,)
    """
    x = np.asarray(samples, dtype=float)
    y = np.asarray(y, dtype=float)
    m = x.shape[0]
    err = np.abs(x - y[None, :]).mean(axis=0)
    if m < 2:
        return err
    xs = np.sort(x, axis=0)
    weights = 2.0 * np.arange(m) - m + 1.0  # Σ_{i<j} (x_(j) − x_(i)) = Σ_k (2k − m + 1) x_(k)
    pairs = weights @ xs
    return err - pairs / (m * (m - 1.0))


def randomized_pit(samples: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Randomised probability integral transform of ``y`` under the sample of each column.

    ``u = (#{x < y} + V · (#{x = y} + 1)) / (m + 1)`` with ``V ~ U(0, 1)``: the rank of ``y``
    among the ``m + 1`` values (ties broken at random), spread over its cell. When ``y`` and
    the ``m`` draws are exchangeable (a calibrated forecast) ``u`` is exactly uniform on (0, 1),
    whatever ``m`` and however many ties.

    Parameters
    ----------
    samples : ndarray, shape (m, n)
    y : ndarray, shape (n,)
    rng : numpy.random.Generator
        One uniform per column, drawn in column order.

    Returns
    -------
    ndarray, shape (n,)
    """
    x = np.asarray(samples, dtype=float)
    y = np.asarray(y, dtype=float)
    m = x.shape[0]
    below = (x < y[None, :]).sum(axis=0)
    ties = (x == y[None, :]).sum(axis=0)
    v = rng.random(len(y))
    return (below + v * (ties + 1)) / (m + 1.0)


def covered(pit: np.ndarray, level: float) -> np.ndarray:
    """Whether ``y`` is inside the central ``level`` interval of its forecast: ``|u − ½| ≤
    level / 2`` for its randomised PIT ``u`` (the interval between the forecast's
    ``(1 − level)/2`` and ``(1 + level)/2`` quantiles, ties broken at random), so that a
    calibrated forecast covers with probability exactly ``level``."""
    return np.abs(np.asarray(pit) - 0.5) <= level / 2.0


def score_rows(
    samples: np.ndarray, y: np.ndarray, naive: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Per forecast (column): the mean, the quantiles of :data:`QUANTILES`, the naive forecast,
    the fair CRPS, the naive absolute error, the randomised PIT and the coverage flags.

    Parameters
    ----------
    samples : ndarray, shape (m, n)
    y, naive : ndarray, shape (n,)
    rng : numpy.random.Generator

    Returns
    -------
    dict of ndarray
        ``realized``, ``mean``, ``p5`` … ``p95``, ``naive``, ``crps``, ``naive_abs_error``,
        ``pit``, ``covered_50``, ``covered_90``.
    """
    x = np.asarray(samples, dtype=float)
    qs = np.quantile(x, np.array(QUANTILES) / 100.0, axis=0)
    pit = randomized_pit(x, y, rng)
    out = {"realized": np.asarray(y, dtype=float), "mean": x.mean(axis=0)}
    out.update({f"p{q}": qs[i] for i, q in enumerate(QUANTILES)})
    out["naive"] = np.asarray(naive, dtype=float)
    out["crps"] = fair_crps(x, y)
    out["naive_abs_error"] = np.abs(out["naive"] - out["realized"])
    out["pit"] = pit
    for level in LEVELS:
        out[f"covered_{round(100 * level)}"] = covered(pit, level)
    return out


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else float("nan")


def summarize(rows: pd.DataFrame) -> dict[str, float]:
    """The metrics of a group of forecasts (rows of the forecast table).

    ``wape = Σ|ŷ − y| / Σ|y|`` and ``bias = Σ(ŷ − y) / Σ|y|`` of the mean forecast ŷ (positive:
    the forecast was too high); ``coverage_50``, ``coverage_90``: the shares covered; ``crps``:
    the mean fair CRPS; ``naive_mae``: the naive forecast's mean absolute error; ``skill = 1 −
    Σ CRPS / Σ |naive − y|`` (above 0: better than the naive forecast; the CRPS of a point
    forecast is its absolute error); ``mae``: the mean forecast's mean absolute error. Ratios
    with a zero denominator are NaN.
    """
    y = rows["realized"].to_numpy(float)
    err = rows["mean"].to_numpy(float) - y
    scale = float(np.abs(y).sum())
    crps = rows["crps"].to_numpy(float)
    naive = rows["naive_abs_error"].to_numpy(float)
    return {
        "n": len(rows),
        "realized_mean": float(y.mean()),
        "wape": _ratio(float(np.abs(err).sum()), scale),
        "bias": _ratio(float(err.sum()), scale),
        "coverage_50": float(rows["covered_50"].mean()),
        "coverage_90": float(rows["covered_90"].mean()),
        "crps": float(crps.mean()),
        "naive_mae": float(naive.mean()),
        "skill": 1.0 - _ratio(float(crps.sum()), float(naive.sum())),
        "mae": float(np.abs(err).mean()),
    }


def metrics_table(forecasts: pd.DataFrame) -> pd.DataFrame:
    """Metrics per variant, series and horizon, and over all horizons (``horizon = "all"``).

    Parameters
    ----------
    forecasts : DataFrame
        The forecast table: ``variant``, ``series``, ``horizon`` and the columns of
        :func:`score_rows`.

    Returns
    -------
    DataFrame
        ``variant``, ``series``, ``horizon`` and the keys of :func:`summarize`.
    """
    records = []
    for (variant, series), grp in forecasts.groupby(["variant", "series"], sort=False):
        records.append({"variant": variant, "series": series, "horizon": "all", **summarize(grp)})
        for h, sub in grp.groupby("horizon", sort=True):
            records.append(
                {"variant": variant, "series": series, "horizon": str(h), **summarize(sub)}
            )
    return pd.DataFrame.from_records(records)
