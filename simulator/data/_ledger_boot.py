"""The customer bootstrap of the ledger's rates (DESIGN 6.4): customers resampled with
replacement (their invoices together), and, with time blocks, blocks of consecutive month-end
pairs resampled too (a two-way, or pigeonhole, bootstrap). A replicate is a weighted sum of the
per-customer, per-block totals (a matrix product), never a pass over invoices."""

from __future__ import annotations

import numpy as np

#: Replicates drawn at once (bounds the memory of the customer indices).
_CHUNK = 32


def bootstrap_totals(
    tables: list[np.ndarray],
    replicates: int,
    rng: np.random.Generator | int | None = None,
    *,
    time_blocks: bool = False,
) -> list[np.ndarray]:
    """Bootstrap replicates of totals over customers (and time blocks).

    Parameters
    ----------
    tables : list of ndarray, each shape (N, G, B)
        Per-customer totals by age group and time block (exposure, collections, write-offs).
        Customers with nothing in any table (no invoice open in the window) are left out: the
        bootstrap resamples the customers the window saw.
    replicates : int
    rng : numpy.random.Generator, int or None
        Normalised with :func:`numpy.random.default_rng`. Draws: for each chunk of replicates,
        the customers' indices (``integers(0, N)``, one row per replicate), then, with time
        blocks, the blocks' indices (``integers(0, B)``).
    time_blocks : bool
        Resample the blocks too (the two-way bootstrap).

    Returns
    -------
    list of ndarray, each shape (replicates, G)
        The resampled totals, in the order of ``tables``.
    """
    rng = np.random.default_rng(rng)
    _, g, nb = tables[0].shape
    flat = np.concatenate([t.reshape(len(t), g * nb) for t in tables], axis=1)
    flat = flat[(flat != 0).any(axis=1)]
    n = len(flat)
    out = np.zeros((replicates, len(tables), g))
    if n == 0:
        return [out[:, i] for i in range(len(tables))]
    for start in range(0, replicates, _CHUNK):
        r = min(_CHUNK, replicates - start)
        idx = rng.integers(0, n, size=(r, n))
        counts = np.stack([np.bincount(row, minlength=n) for row in idx]).astype(float)
        sums = (counts @ flat).reshape(r, len(tables), g, nb)
        if time_blocks and nb > 1:
            bidx = rng.integers(0, nb, size=(r, nb))
            bcounts = np.stack([np.bincount(row, minlength=nb) for row in bidx]).astype(float)
        else:
            bcounts = np.ones((r, nb))
        out[start : start + r] = np.einsum("rtgb,rb->rtg", sums, bcounts)
    return [out[:, i] for i in range(len(tables))]


def percentile_interval(values: np.ndarray, level: float = 0.95) -> np.ndarray:
    """``(K, 2)`` percentile intervals over the replicates (axis 0), NaN where undefined."""
    lo, hi = 50 * (1 - level), 50 * (1 + level)
    out = np.full((values.shape[1], 2), np.nan)
    for k in range(values.shape[1]):
        col = values[:, k]
        col = col[np.isfinite(col)]
        if len(col):
            out[k] = np.percentile(col, [lo, hi])
    return out
