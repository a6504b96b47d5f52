"""The aging grid: bucket edges in months ↔ balances by age in whole months (DESIGN 2.1)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["AgingGrid", "age_one_month"]


class AgingGrid:
    """Buckets with integer lower edges in months, and the monthly ages that make them up.

    Parameters
    ----------
    edges_months : sequence of int
        Lower edges ``e_0 = 0 < e_1 < … < e_{K-1}``; the last bucket is open-ended.
    write_off_after_months : int, optional
        Write-off age ``W > e_{K-1}``. Without it the last age ``A-1 = e_{K-1}`` is absorbing.

    Attributes
    ----------
    n_ages : int
        ``A``: ``e_{K-1} + 1`` without a write-off age, ``W`` with one.
    bucket_of_age : ndarray of int, shape (A,)
        ``bucket(a)`` for every age.
    slices : list of slice
        The ages of each bucket, contiguous.
    """

    def __init__(self, edges_months: Sequence[int], write_off_after_months: int | None = None):
        self.edges = np.asarray(edges_months, dtype=np.int64)
        self.n_buckets = len(self.edges)
        self.write_off_age = write_off_after_months
        last = int(self.edges[-1])
        self.n_ages = last + 1 if write_off_after_months is None else int(write_off_after_months)
        upper = [*self.edges[1:].tolist(), self.n_ages]
        self.slices = [slice(int(lo), int(hi)) for lo, hi in zip(self.edges, upper, strict=True)]
        self.bucket_of_age = np.repeat(
            np.arange(self.n_buckets), [s.stop - s.start for s in self.slices]
        )

    @property
    def widths(self) -> np.ndarray:
        """Number of monthly ages in each bucket."""
        return np.array([s.stop - s.start for s in self.slices])

    def spread(self, gross: Sequence[float]) -> np.ndarray:
        """Spread each bucket's balance evenly over its ages.

        Parameters
        ----------
        gross : sequence of float, length K
            Balance per bucket.

        Returns
        -------
        ndarray, shape (A,)
            Balance per monthly age.
        """
        gross = np.asarray(gross, dtype=float)
        return gross[self.bucket_of_age] / self.widths[self.bucket_of_age]

    def opening(self, gross: Sequence[float], profile: Sequence[float] | None = None) -> np.ndarray:
        """The opening balance by age: ``gross`` spread evenly over each bucket's ages (DESIGN
        2.1), or shaped by a profile by age (``buckets.opening_by_age``, DESIGN 3.1).

        A profile longer than ``A`` is folded: every age from ``A - 1`` on goes to age ``A - 1``.
        Within each bucket the profile is scaled to the bucket's ``gross``; a bucket whose
        profile sums to 0 is spread evenly.

        Parameters
        ----------
        gross : sequence of float, length K
            Balance per bucket.
        profile : sequence of float, optional
            Balance by monthly age from age 0; ages it does not reach are 0.

        Returns
        -------
        ndarray, shape (A,)
        """
        if profile is None:
            return self.spread(gross)
        gross = np.asarray(gross, dtype=float)
        values = [float(x) for x in profile]
        a = self.n_ages
        folded = np.zeros(a)
        head = values[: a - 1]
        folded[: len(head)] = head
        if len(values) >= a:
            folded[a - 1] = math.fsum(values[a - 1 :])
        even = self.spread(gross)
        for b, sl in enumerate(self.slices):
            total = math.fsum(folded[sl])
            if total <= 0.0:
                folded[sl] = even[sl]
            elif not math.isclose(total, gross[b], rel_tol=1e-12, abs_tol=0.0):
                folded[sl] *= gross[b] / total
        return folded

    def aggregate(self, by_age: np.ndarray) -> np.ndarray:
        """Sum balances by age (first axis) into buckets.

        Parameters
        ----------
        by_age : ndarray, shape (A, ...)
            Balances by age.

        Returns
        -------
        ndarray, shape (K, ...)
        """
        return np.stack([by_age[s].sum(axis=0) for s in self.slices])


def age_one_month(
    remaining: np.ndarray, write_off: bool, billed: float | np.ndarray = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Steps 3 and 4 of a month (DESIGN 2.4): age what remains by one month, bill into age 0.

    The reference aging step: the analytics, the calibration and the chain over ages use it,
    and the compiled kernel is tested against it.

    Parameters
    ----------
    remaining : ndarray, shape (A, ...)
        ``R[a]``: what remains at each age after the month's collections and defaults.
    write_off : bool
        Whether a write-off age is set: then ``R[A-1]`` is written off; otherwise the last age
        keeps its own remainder (with ``A = 1``, age 0 holds ``R[0]``).
    billed : float or ndarray, optional
        New credit billings entering age 0 (broadcast over the trailing axes).

    Returns
    -------
    state : ndarray, shape (A, ...)
        The balance by age at the end of the month.
    written_off : ndarray, shape (...)
        ``WO_t``: what reached the write-off age (zeros without one).
    """
    new = np.empty_like(remaining)
    new[1:] = remaining[:-1]
    if write_off:
        written_off = remaining[-1].copy()
        new[0] = 0.0
    else:
        written_off = np.zeros_like(remaining[-1])
        if len(remaining) == 1:
            new[0] = remaining[0]
        else:
            new[-1] += remaining[-1]
            new[0] = 0.0
    new[0] += billed
    return new, written_off
