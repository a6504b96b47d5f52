"""What happened after the origins (DESIGN 7): the realized monthly series of a ledger, month end
to month end, measured as the fit measures (6.3) and the model counts (2.4)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data import Ledger, ledger_exposures
from ._origins import month_end, month_number


@dataclass(frozen=True)
class Realized:
    """The realized series at the month ends ``D_0 .. D_P`` (``D_0`` the first origin).

    For month ``t`` (from ``D_{t−1}`` to ``D_t``), as the model counts it (DESIGN 2.4, 7):
    ``billings[t]`` are the invoices dated in the month still open at ``D_t`` (what enters age 0;
    the part paid within its month is the model's cash sales); ``collections[t]`` and
    ``write_offs[t]`` are the payments and write-offs of the month on invoices dated on or
    before ``D_{t−1}`` (6.3's C and W); ``credit_notes[t]`` the credit notes of the month on
    them (dilution, which the model does not have); ``gross[t]`` and ``gross_by_bucket[t]`` the
    open amount at ``D_t`` by the age bucket at ``D_t`` (6.2). Index 0 holds the balances at
    ``D_0`` and no flows (NaN).

    Attributes
    ----------
    month_ends : list of datetime.date
    labels : list of str
    billings, collections, write_offs, credit_notes, gross : ndarray, shape (P + 1,)
    gross_by_bucket : ndarray, shape (P + 1, K)
    """

    month_ends: list[dt.date]
    labels: list[str]
    billings: np.ndarray
    collections: np.ndarray
    write_offs: np.ndarray
    credit_notes: np.ndarray
    gross: np.ndarray
    gross_by_bucket: np.ndarray

    def index(self, d: dt.date) -> int:
        """Position of the month end ``d``."""
        return month_number(d) - month_number(self.month_ends[0])

    def after(self, origin: dt.date, months: int) -> dict[str, np.ndarray]:
        """The series of the ``months`` months after ``origin``: ``billings``,
        ``collections``, ``write_offs``, ``credit_notes``, ``gross`` (each ``(months,)``) and
        ``gross_by_bucket`` (``(months, K)``)."""
        i = self.index(origin)
        sl = slice(i + 1, i + 1 + months)
        return {
            "billings": self.billings[sl],
            "collections": self.collections[sl],
            "write_offs": self.write_offs[sl],
            "credit_notes": self.credit_notes[sl],
            "gross": self.gross[sl],
            "gross_by_bucket": self.gross_by_bucket[sl],
        }

    def table(self) -> pd.DataFrame:
        """One row per month end: the series, gross by bucket as ``gross_<label>``."""
        cols = {
            "month_end": [d.isoformat() for d in self.month_ends],
            "billings": self.billings,
            "collections": self.collections,
            "write_offs": self.write_offs,
            "credit_notes": self.credit_notes,
            "gross": self.gross,
        }
        for b, lab in enumerate(self.labels):
            cols[f"gross_{lab}"] = self.gross_by_bucket[:, b]
        return pd.DataFrame(cols)


def _by_bucket(by_age: np.ndarray, edges: list[int]) -> np.ndarray:
    """``(n, A)`` amounts by monthly age → ``(n, K)`` by bucket (the last bucket holds every
    older age)."""
    ages = np.arange(by_age.shape[1])
    bucket = np.searchsorted(np.asarray(edges), ages, side="right") - 1
    out = np.zeros((by_age.shape[0], len(edges)))
    for b in range(len(edges)):
        out[:, b] = by_age[:, bucket == b].sum(axis=1)
    return out


def realized_series(
    ledger: Ledger,
    *,
    start: dt.date,
    data_end: dt.date,
    edges_months: list[int],
    labels: list[str],
    write_off_age: int | None = None,
    age_basis: str = "invoice",
) -> Realized:
    """The realized series of a ledger from the month end ``start`` to ``data_end``.

    Parameters
    ----------
    ledger : Ledger
    start, data_end : datetime.date
        Month ends, ``start < data_end``.
    edges_months, labels
        The buckets of gross.
    write_off_age : int, optional
        Only folds the ages kept apart (gross keeps every balance, whatever its age).
    age_basis : {"invoice", "due"}
        The ages of gross by bucket; billings are always the invoices dated in the month.

    Returns
    -------
    Realized
    """
    ex = ledger_exposures(
        ledger,
        as_of=data_end,
        edges_months=edges_months,
        labels=labels,
        start=start,
        write_off_age=write_off_age,
        age_basis=age_basis,
    )
    opened = np.vstack([ex.open_by_age, _pad(ex.balance_by_age, ex.open_by_age.shape[1])])
    if age_basis == "invoice" and opened.shape[1] > 1:
        billed = opened[:, 0]
    else:  # age 0 also holds older invoices (not yet due, or one bucket [0] that pools all)
        inv = ledger_exposures(
            ledger, as_of=data_end, edges_months=[0, 1], start=start, age_basis="invoice"
        )
        billed = np.r_[inv.open_by_age[:, 0], inv.balance_by_age[0]]
    nan = np.array([np.nan])
    n = ex.n_pairs
    return Realized(
        month_ends=[month_end(month_number(start) + k) for k in range(n + 1)],
        labels=list(labels),
        billings=billed,
        collections=np.r_[nan, ex.collected_by_age.sum(axis=1)],
        write_offs=np.r_[nan, ex.written_off_by_age.sum(axis=1)],
        credit_notes=np.r_[nan, ex.credited_by_age.sum(axis=1)],
        gross=opened.sum(axis=1),
        gross_by_bucket=_by_bucket(opened, list(edges_months)),
    )


def _pad(profile: np.ndarray, n_ages: int) -> np.ndarray:
    """The aged balance by monthly age (up to 1199) folded onto ``n_ages`` ages."""
    out = np.zeros(n_ages)
    k = min(len(profile), n_ages)
    out[:k] = profile[:k]
    out[n_ages - 1] += profile[n_ages:].sum()
    return out
