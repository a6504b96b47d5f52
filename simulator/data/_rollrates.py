"""Roll rates by the flow-rate (migration-rate) method, and the historical loss rates they imply."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._snapshots import Snapshots


@dataclass(frozen=True)
class RollRates:
    """Roll rates per period and balance-weighted, and the historical loss rates.

    Attributes
    ----------
    labels : tuple of str
        The K bucket labels; roll rates exist for the first K-1 (the last of them rolls into the
        open bucket, pooled).
    periods : ndarray, shape (N-1, K-1)
        Roll rate per period and bucket; NaN where undefined (see ``status``).
    status : list of list of str
        Per period and bucket: ``"ok"``, ``"spacing"`` (the spacing is not the bucket's width)
        or ``"zero"`` (zero balance: the rate is undefined).
    average : ndarray, shape (K-1,)
        Balance-weighted average over the periods where defined; NaN where no period defines it.
    loss_rates : ndarray, shape (K,)
        Historical loss rate per bucket; NaN where a factor is undefined.
    terminal_loss : float
        Assumed loss rate of the open bucket.
    notes : tuple of str
    """

    labels: tuple[str, ...]
    periods: np.ndarray
    status: list[list[str]]
    average: np.ndarray
    loss_rates: np.ndarray
    terminal_loss: float
    notes: tuple[str, ...] = ()


def roll_rates(snapshots: Snapshots, terminal_loss: float = 1.0) -> RollRates:
    """Roll rates (flow-rate method) and historical loss rates of an aging history.

    Parameters
    ----------
    snapshots : Snapshots
    terminal_loss : float, optional
        Assumed loss rate of the open bucket, in [0, 1] (default 1).

    Returns
    -------
    RollRates

    Raises
    ------
    ValueError
        If ``terminal_loss`` is not in [0, 1].
    """
    if not 0.0 <= terminal_loss <= 1.0:
        raise ValueError(f"terminal_loss must be in [0, 1], got {terminal_loss}")
    edges = snapshots.edges_months
    k = len(edges)
    g = snapshots.gross
    months = snapshots.months
    n_per = len(months)
    labels = snapshots.labels
    n_roll = max(k - 1, 0)
    width = np.diff(edges)
    rates = np.full((n_per, n_roll), np.nan)
    status = [["spacing"] * n_roll for _ in range(n_per)]
    num = np.zeros(n_roll)
    den = np.zeros(n_roll)
    zero_notes = []
    for t in range(n_per):
        for b in range(n_roll):
            # bucket b+1 at t+1 must hold exactly what was in b at t (the pooled rate into the
            # open bucket also counts the open bucket's own survivors)
            if months[t] != width[b] or (b < k - 2 and width[b + 1] != width[b]):
                continue
            if b == k - 2:
                n_, d_ = g[t + 1, k - 1], g[t, k - 2] + g[t, k - 1]
            else:
                n_, d_ = g[t + 1, b + 1], g[t, b]
            if d_ <= 0.0:
                status[t][b] = "zero"
                zero_notes.append(f"{labels[b]} at {snapshots.dates[t].isoformat()}")
                continue
            status[t][b] = "ok"
            rates[t, b] = n_ / d_
            num[b] += n_
            den[b] += d_
    average = np.full(n_roll, np.nan)
    np.divide(num, den, out=average, where=den > 0)
    loss = np.full(k, np.nan)
    loss[k - 1] = terminal_loss
    for b in range(k - 2, -1, -1):
        loss[b] = average[b] * loss[b + 1]  # NaN propagates
    notes = []
    if k == 1:
        notes.append("one bucket: no roll rates")
    if zero_notes:
        notes.append(
            "roll rate undefined (zero balance to roll from, not divided): " + "; ".join(zero_notes)
        )
    for b in range(n_roll):
        seen = [st[b] for st in status if st[b] != "spacing"]
        if b < k - 2 and width[b + 1] != width[b]:
            notes.append(
                f"no roll rate for {labels[b]}: it is {width[b]} months wide and {labels[b + 1]} "
                f"{width[b + 1]}, so {labels[b + 1]} a period later is not just what was in "
                f"{labels[b]}"
            )
        elif not seen:
            notes.append(
                f"no roll rate for {labels[b]}: no two snapshots are {width[b]} months apart "
                "(its width)"
            )
        elif "ok" not in seen:
            notes.append(f"no roll rate for {labels[b]}: its balance is zero in every period")
    return RollRates(
        labels=tuple(labels),
        periods=rates,
        status=status,
        average=average,
        loss_rates=loss,
        terminal_loss=float(terminal_loss),
        notes=tuple(notes),
    )
