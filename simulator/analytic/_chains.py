"""General absorbing Markov chains of receivables (Cyert, Davidson & Thompson, 1962).

For users who have a bucket-level roll-rate matrix (days past due, with cures): balances move
each month between *transient* states (the buckets) and end in one of two *absorbing* states,
``collected`` or ``lost``. With ``Q`` the transient-to-transient block and ``R`` the
transient-to-absorbing block of the monthly transition matrix,

- the fundamental matrix ``N = (I − Q)⁻¹`` gives the expected number of months a unit spends in
  each state,
- ``B = N R`` the probability of ending collected or lost from each state (``B[:, lost]`` is the
  model-implied provision rate of each state),
- ``N 1`` the expected months to absorption,
- and an opening balance ``x_0`` runs off as ``x_t = x_{t-1} Q``, collecting ``x_{t-1} R[:, 0]`` and
  losing ``x_{t-1} R[:, 1]`` in month ``t``; its allowance is ``x_0 · B[:, lost]``.

:func:`chain_from_scenario` builds the chain of the standard model over monthly ages (no
seasonality, months independent), whose loss probabilities are the exact ``L`` of
:func:`simulator.analytic.lifetime_loss`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..aging import age_one_month
from ..scenario import Scenario
from ._book import _book, exact_rates_available
from ._exact import _hbar12

__all__ = ["COLLECTED", "LOST", "AbsorbingChain", "absorbing_chain", "chain_from_scenario"]

COLLECTED, LOST = "collected", "lost"
#: Rows of a transition matrix must sum to 1 within this.
ROW_TOL = 1e-9


@dataclass(frozen=True)
class AbsorbingChain:
    """A validated absorbing chain; build one with :func:`absorbing_chain`.

    Attributes
    ----------
    labels : tuple of str
        Names of the transient states.
    Q : ndarray, shape (n, n)
        Monthly transition probabilities between transient states.
    R : ndarray, shape (n, 2)
        Monthly probabilities of moving to ``collected`` (column 0) and ``lost`` (column 1).
    """

    labels: tuple[str, ...]
    Q: np.ndarray
    R: np.ndarray

    @property
    def fundamental(self) -> np.ndarray:
        """``N = (I − Q)⁻¹``: expected months spent in state j starting from state i."""
        return np.linalg.inv(np.eye(len(self.labels)) - self.Q)

    @property
    def absorption(self) -> pd.DataFrame:
        """``B = N R``: probability of ending ``collected`` or ``lost`` from each state."""
        b = np.linalg.solve(np.eye(len(self.labels)) - self.Q, self.R)
        return pd.DataFrame(
            np.clip(b, 0.0, 1.0), index=list(self.labels), columns=[COLLECTED, LOST]
        )

    @property
    def loss_rates(self) -> pd.Series:
        """The implied provision rate of each state: the probability of ending ``lost``."""
        return self.absorption[LOST]

    @property
    def expected_months(self) -> pd.Series:
        """Expected months to absorption from each state, ``N 1``."""
        t = np.linalg.solve(np.eye(len(self.labels)) - self.Q, np.ones(len(self.labels)))
        return pd.Series(t, index=list(self.labels), name="expected_months")

    def _opening(self, opening: Sequence[float] | np.ndarray) -> np.ndarray:
        x = np.asarray(opening, dtype=float)
        if x.shape != (len(self.labels),) or not np.all(np.isfinite(x)) or np.any(x < 0):
            raise ValueError(
                f"the opening balance must be {len(self.labels)} finite amounts ≥ 0, one per "
                f"transient state {list(self.labels)}, got {np.asarray(opening).tolist()}"
            )
        return x

    def allowance(self, opening: Sequence[float] | np.ndarray) -> float:
        """Expected lifetime loss of an opening balance: ``x_0 · B[:, lost]``.

        Parameters
        ----------
        opening : sequence of float
            Balance in each transient state.
        """
        return float(self._opening(opening) @ self.loss_rates.to_numpy())

    def runoff(
        self,
        opening: Sequence[float] | np.ndarray,
        months: int | None = None,
        tol: float = 1e-12,
    ) -> pd.DataFrame:
        """Expected collections and losses month by month as an opening balance runs off.

        Parameters
        ----------
        opening : sequence of float
            Balance in each transient state at month 0.
        months : int, optional
            Number of months; by default until the remaining balance is below ``tol`` times
            the opening total (at most 12,000 months).
        tol : float, optional

        Returns
        -------
        pandas.DataFrame
            One row per month 1..T: ``collections``, ``losses``, ``remaining`` (at the end of
            the month) and the expected balance in each state (``balance_<label>``).
        """
        x = self._opening(opening)
        total = float(x.sum())
        limit = 12_000 if months is None else int(months)
        rows = []
        for t in range(1, limit + 1):
            flows = x @ self.R
            x = x @ self.Q
            rows.append([t, flows[0], flows[1], float(x.sum()), *x])
            if months is None and float(x.sum()) <= tol * total:
                break
        cols = ["month", "collections", "losses", "remaining"]
        return pd.DataFrame(rows, columns=[*cols, *(f"balance_{s}" for s in self.labels)])


def _reaches_absorption(Q: np.ndarray, R: np.ndarray) -> np.ndarray:
    """For each transient state, whether an absorbing state is reachable from it."""
    n = len(Q)
    ok = R.sum(axis=1) > 0
    adjacency = Q > 0
    changed = True
    while changed:
        new = ok | (adjacency & ok[None, :]).any(axis=1)
        changed = bool((new != ok).any())
        ok = new
    assert ok.shape == (n,)
    return ok


def absorbing_chain(
    matrix: Sequence[Sequence[float]] | np.ndarray, labels: Sequence[str] | None = None
) -> AbsorbingChain:
    """Validate a monthly transition matrix with absorbing ``collected`` and ``lost`` states.

    Parameters
    ----------
    matrix : array-like
        Either ``(n, n + 2)``: one row per transient state, columns the n transient states then
        ``collected`` then ``lost``; or the full ``(n + 2, n + 2)`` matrix whose last two rows
        are the absorbing states (``[0, …, 1, 0]`` and ``[0, …, 0, 1]``).
    labels : sequence of str, optional
        Names of the transient states (default ``s0``, ``s1``, …).

    Returns
    -------
    AbsorbingChain

    Raises
    ------
    ValueError
        If the matrix has the wrong shape, non-finite or negative entries, rows that do not sum
        to 1 (within 1e-9), absorbing rows that are not absorbing, or a transient state from
        which absorption is not certain (a set of states that only lead to each other).
    """
    try:
        P = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("a transition matrix must be a rectangular table of numbers") from None
    square = P.ndim == 2 and P.shape[0] == P.shape[1]
    if P.ndim != 2 or P.shape[0] < 1 or not (square or P.shape[1] == P.shape[0] + 2):
        raise ValueError(
            f"a transition matrix must be (n, n + 2) (transient states, then 'collected' and "
            f"'lost') or (n + 2, n + 2), got shape {P.shape}"
        )
    if P.shape[0] == P.shape[1]:
        if P.shape[0] < 3:
            raise ValueError(f"a full transition matrix needs at least 3 states, got {P.shape}")
        n = P.shape[0] - 2
        absorbing = P[n:]
        expected = np.zeros((2, n + 2))
        expected[0, n], expected[1, n + 1] = 1.0, 1.0
        if not np.all(np.isfinite(absorbing)) or np.abs(absorbing - expected).max() > ROW_TOL:
            raise ValueError(
                "in a full (n + 2, n + 2) matrix the last two rows must be the absorbing states "
                "'collected' [0, …, 1, 0] and 'lost' [0, …, 0, 1]"
            )
        P = P[:n]
    n = P.shape[0]
    names = tuple(labels) if labels is not None else tuple(f"s{i}" for i in range(n))
    if len(names) != n or len(set(names)) != n:
        raise ValueError(f"need {n} different labels for the transient states, got {list(names)}")
    if not np.all(np.isfinite(P)):
        i = int(np.argwhere(~np.isfinite(P))[0, 0])
        raise ValueError(f"row {i} ({names[i]!r}) has a value that is not a finite number")
    if np.any(P < 0):
        i, j = (int(v) for v in np.argwhere(P < 0)[0])
        raise ValueError(
            f"row {i} ({names[i]!r}) has a negative probability {P[i, j]:g} in column {j}"
        )
    sums = P.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > ROW_TOL)
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"row {i} ({names[i]!r}) sums to {sums[i]:.12g}, not 1 (within {ROW_TOL:g}): each "
            f"row must give the probabilities of every state next month"
        )
    Q, R = P[:, :n].copy(), P[:, n:].copy()
    reach = _reaches_absorption(Q, R)
    if not reach.all():
        stuck = [names[i] for i in np.flatnonzero(~reach)]
        raise ValueError(
            f"absorption is not certain: from {stuck} the chain never reaches "
            f"'{COLLECTED}' or '{LOST}' (those states only lead to each other), so balances "
            f"there would stay forever"
        )
    return AbsorbingChain(labels=names, Q=Q, R=R)


def chain_from_scenario(scenario: Scenario) -> AbsorbingChain:
    """The standard model's book as an absorbing chain over monthly ages (DESIGN 2.8).

    State ``a`` is a balance of age ``a`` months. Each month it is collected with probability
    ``h̄_b``, defaults (lost) with ``p_b``, and otherwise ages by one month; without a write-off
    age the last age keeps its own remainder, with one the last age's remainder is written off
    (lost).

    Parameters
    ----------
    scenario : Scenario
        Without collection seasonality (the chain is time-homogeneous) and with independent
        months or hazards that do not depend on the factor.

    Returns
    -------
    AbsorbingChain
        Labels ``age_0``, ``age_1``, ….

    Raises
    ------
    ValueError
        If the scenario has a collection seasonality that varies by month, or a persistent
        factor that drives the hazards, or a state from which nothing is ever absorbed.
    """
    if not exact_rates_available(scenario):
        raise ValueError(
            "a chain over ages needs independent months (factor.persistence = 0) or hazards "
            "that do not depend on the factor"
        )
    seas = scenario.collections.seasonality
    if seas is not None and len(set(seas)) > 1:
        raise ValueError(
            "a chain over ages is time-homogeneous: it needs a constant collections.seasonality"
        )
    book = _book(scenario)
    A = book.n_ages
    P = np.zeros((A, A + 2))
    for b, (lo, hi) in enumerate(book.slices):
        p = float(book.p[b])
        h = float(_hbar12(book, b, p)[0])
        P[lo:hi, A] = h
        P[lo:hi, A + 1] = p
    stay = 1.0 - P[:, A] - P[:, A + 1]
    # the month's remainder ages by the reference step: row a of the state after one month,
    # started from a unit at age a, is where that unit goes (a written-off unit is lost)
    moved, written_off = age_one_month(np.diag(np.maximum(stay, 0.0)), book.write_off)
    P[:, :A] = moved.T
    P[:, A + 1] += written_off
    return absorbing_chain(P, labels=[f"age_{a}" for a in range(A)])
