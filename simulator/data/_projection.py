"""The deterministic projection of a book (DESIGN 2.4 without the factor), for many parameter sets
and periods at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..aging import AgingGrid, age_one_month


@dataclass(frozen=True)
class Projection:
    """Where the deterministic recursion takes a book in some months.

    Attributes
    ----------
    gross : ndarray, shape (K,)
        Balance per bucket at the end.
    collections, defaults, write_offs : float
        Totals over the months; ``write_offs`` counts balances reaching the write-off age only
        (defaults are written off at once, so the amount written off is ``defaults + write_offs``).
    exposure : ndarray, shape (K,)
        Sum over the months of each bucket's balance at the start of the month.
    """

    gross: np.ndarray
    collections: float
    defaults: float
    write_offs: float
    exposure: np.ndarray


def _run(
    grid: AgingGrid,
    c: np.ndarray,
    p: np.ndarray,
    opening: np.ndarray,
    billing: np.ndarray,
    months: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The recursion for S parameter sets × M periods at once.

    ``c``, ``p``: (S, K); ``opening``: (M, K) bucket totals, spread evenly; ``billing``: (M,) per
    month; ``months``: (M,). Returns end totals (S, M, K), collections, defaults and age
    write-offs (S, M) and exposures (S, M, K).
    """
    n_par, n_per = c.shape[0], opening.shape[0]
    k = grid.n_buckets
    h = np.minimum(c, 1.0 - p)  # DESIGN 2.3 with beta = rho = 0 and m·s = 1
    f_age = np.maximum(1.0 - h - p, 0.0)[:, grid.bucket_of_age].T[:, :, None]  # (A, S, 1)
    # AgingGrid.spread for M books at once: each bucket evenly over its ages
    ages = grid.bucket_of_age
    spread = opening.T[ages] / grid.widths[ages][:, None]  # (A, M)
    state = np.repeat(spread[:, None, :], n_par, axis=1)  # (A, S, M)
    starts = np.asarray(grid.edges)
    end = np.zeros((n_par, n_per, k))
    expo = np.zeros((k, n_par, n_per))
    wo = np.zeros((n_par, n_per))
    last = int(months.max())
    for m in range(1, last + 1):
        active = (months >= m).astype(float)
        expo += np.add.reduceat(state, starts, axis=0) * active
        state, written_off = age_one_month(state * f_age, grid.write_off_age is not None, billing)
        wo += written_off * active
        done = months == m
        if done.any():
            end[:, done, :] = np.moveaxis(np.add.reduceat(state[:, :, done], starts, axis=0), 0, -1)
    expo = np.moveaxis(expo, 0, -1)  # (S, M, K)
    coll = np.einsum("smk,sk->sm", expo, h)
    dflt = np.einsum("smk,sk->sm", expo, p)
    return end, coll, dflt, wo, expo


def project(
    edges_months: Sequence[int],
    collection_rates: Sequence[float],
    default_rates: Sequence[float],
    gross: Sequence[float],
    months: int,
    billings: float = 0.0,
    write_off_after_months: int | None = None,
) -> Projection:
    """Run the deterministic recursion of DESIGN 2.4 from an evenly spread book.

    Each bucket's balance is spread evenly over its ages (DESIGN 2.1); every month each age
    collects ``h_b = min(c_b, 1 − p_b)``, defaults ``p_b`` and keeps
    ``max(1 − h_b − p_b, 0)``; the remainder ages by one month (the last age absorbs, or is
    written off at the write-off age) and ``billings / months`` enters age 0.

    Parameters
    ----------
    edges_months : sequence of int
        Bucket lower edges.
    collection_rates, default_rates : sequence of float
        ``c_b`` and ``p_b`` per bucket.
    gross : sequence of float
        Opening balance per bucket.
    months : int
        Months to run (≥ 1).
    billings : float, optional
        Credit sales over the whole period, fed evenly month by month.
    write_off_after_months : int, optional
        Write-off age ``W``.

    Returns
    -------
    Projection
    """
    grid = AgingGrid(edges_months, write_off_after_months)
    c = np.asarray(collection_rates, dtype=float)[None, :]
    p = np.asarray(default_rates, dtype=float)[None, :]
    end, coll, dflt, wo, expo = _run(
        grid,
        c,
        p,
        np.asarray(gross, dtype=float)[None, :],
        np.array([billings / months]),
        np.array([months]),
    )
    return Projection(
        gross=end[0, 0],
        collections=float(coll[0, 0]),
        defaults=float(dflt[0, 0]),
        write_offs=float(wo[0, 0]),
        exposure=expo[0, 0],
    )
