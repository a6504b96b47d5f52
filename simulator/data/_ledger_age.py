"""Ages, the aged balance and the month-end-to-month-end exposures and flows of a ledger
(DESIGN 6.2, 6.3), without expanding invoices month by month.

Each invoice's open amount is a step function of the month: it changes only in months with
events. Between two changes it is one *segment*: a constant amount open at the month ends
``s .. e-1``, its age growing by one a month (a diagonal of the month × age plane). Segments are
accumulated with difference arrays along those diagonals (exposure by pair and age) and by the
overlap of their ages with each age group (exposure by customer and group, what the bootstrap
needs); events are points of the same plane.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from ._ledger_plane import OPEN_TOL, _add_points, _add_segments, _cash_like, _Plane, _steps
from ._ledger_table import (
    RECOVERY,
    Ledger,
    LedgerError,
    date_to_day,
    day_to_date,
    is_month_end,
    month_end_day,
    month_index,
)

#: Ages beyond this are folded into it in the aged balance (the longest profile, DESIGN 3.2).
MAX_PROFILE_AGE = 1199
_FAR = 10**7


@dataclass(frozen=True)
class AgeGroups:
    """The ages the estimator pools (DESIGN 6.3): the buckets; with a write-off age ``W`` the
    last bucket loses age ``W - 1`` to a group of its own (in ``ĉ`` but not in ``p̂``) and
    ages from ``W`` on form a group that is dropped.

    Attributes
    ----------
    lo, hi : ndarray of int
        Age interval ``[lo, hi)`` of each group.
    bucket : ndarray of int
        The bucket of each group (``-1``: dropped).
    in_p : ndarray of bool
        Whether the group counts in the default rates.
    n_ages : int
        Ages kept by age in the tables (the last pools everything older).
    """

    edges: tuple[int, ...]
    write_off_age: int | None
    lo: np.ndarray
    hi: np.ndarray
    bucket: np.ndarray
    in_p: np.ndarray
    n_ages: int

    @classmethod
    def make(cls, edges: list[int], write_off_age: int | None) -> AgeGroups:
        k = len(edges)
        lo = list(edges)
        hi = [*edges[1:], _FAR]
        bucket = list(range(k))
        in_p = [True] * k
        n_ages = edges[-1] + 1
        if write_off_age is not None:
            w = write_off_age
            hi[-1] = w - 1
            lo += [w - 1, w]
            hi += [w, _FAR]
            bucket += [k - 1, -1]
            in_p += [False, False]
            n_ages = w + 1
        return cls(
            tuple(edges),
            write_off_age,
            np.array(lo),
            np.array(hi),
            np.array(bucket),
            np.array(in_p),
            n_ages,
        )

    @property
    def n_groups(self) -> int:
        return len(self.lo)

    def of_age(self, ages: np.ndarray) -> np.ndarray:
        """The group of each age."""
        return np.searchsorted(self.lo, ages, side="right") - 1

    def membership(self, for_p: bool = False) -> np.ndarray:
        """``(G, K)`` 0/1 matrix: which groups make up each bucket's rate."""
        k = len(self.edges)
        m = np.zeros((self.n_groups, k))
        for g, b in enumerate(self.bucket):
            if b >= 0 and (self.in_p[g] or not for_p):
                m[g, b] = 1.0
        return m


@dataclass(frozen=True)
class Exposures:
    """Exposures, flows and the aged balance of a ledger over a window (DESIGN 6.2, 6.3).

    Pair ``k`` runs from the month end ``D_k`` (month index ``first_month + k``) to the next;
    ages are at ``D_k``. Money is in the ledger's unit.

    Attributes
    ----------
    as_of, start : datetime.date
        The last and the first month end of the window.
    n_pairs : int
    groups : AgeGroups
    labels : list of str
    pair_calendar_month : ndarray of int, shape (P,)
        Calendar month (1..12) of each pair's second month end.
    open_by_age, exposure_by_age, collected_by_age, written_off_by_age, credited_by_age
        ``(P, n_ages)``: open amount at ``D_k`` (``O(D_k)``), exposure ``max(O − CN, 0)``,
        payments, write-offs and credit notes in ``(D_k, D_{k+1}]``, by age at ``D_k``.
    customer_exposure, customer_collected, customer_written_off : ndarray, shape (N, G, B)
        The same by customer, age group and time block (``B = 1`` without time blocks).
    block_of_pair : ndarray of int, shape (P,)
    invoice_months, invoices, payment_months, write_off_months : ndarray, shape (G,)
        Counts per group: (invoice, pair) with exposure, invoices with exposure, (invoice,
        month) with a payment, with a write-off.
    balance_by_age : ndarray
        The aged balance at ``as_of`` by monthly age (ages past 1199 folded into 1199).
    gross, open_invoices : ndarray, shape (K,)
        The aged trial balance: balance and invoices open per bucket at ``as_of``.
    customer_balance : ndarray, shape (N,)
        The open amount of each customer of the ledger at ``as_of`` (0 for those not used).
    invoice_index, invoice_open, invoice_age : ndarray, shape (n,)
        The invoices used (indices into the ledger's arrays), and each one's open amount and
        age in months at ``as_of`` (what the aged balance sums: :func:`aged_balance`).
    cash_like : dict
        ``paid``, ``net_amount``, ``invoices``: payments by each invoice's first month end and
        its amount net of credit notes then, over invoices whose first month end is in the window.
    totals : dict
        ``credit_lines`` (negative invoice lines in the window), ``recoveries``,
        ``billed_last_12`` (invoiced in the 12 months to ``as_of``), ``dropped_exposure`` and
        ``dropped_flows`` (ages at or past ``W``).
    counts : dict
        ``invoices_after_as_of``, ``events_after_as_of``, ``invoices``, ``customers``.
    """

    as_of: dt.date
    start: dt.date
    n_pairs: int
    groups: AgeGroups
    labels: list[str]
    pair_calendar_month: np.ndarray
    open_by_age: np.ndarray
    exposure_by_age: np.ndarray
    collected_by_age: np.ndarray
    written_off_by_age: np.ndarray
    credited_by_age: np.ndarray
    customer_exposure: np.ndarray
    customer_collected: np.ndarray
    customer_written_off: np.ndarray
    block_of_pair: np.ndarray
    invoice_months: np.ndarray
    invoices: np.ndarray
    payment_months: np.ndarray
    write_off_months: np.ndarray
    balance_by_age: np.ndarray
    gross: np.ndarray
    open_invoices: np.ndarray
    customer_balance: np.ndarray
    cash_like: dict[str, float]
    totals: dict[str, float]
    counts: dict[str, int] = field(default_factory=dict)
    invoice_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    invoice_open: np.ndarray = field(default_factory=lambda: np.zeros(0))
    invoice_age: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    age_basis: str = "invoice"
    time_blocks: int | None = None

    @property
    def n_blocks(self) -> int:
        return self.customer_exposure.shape[2]


def aged_balance(
    open_amount: np.ndarray, age: np.ndarray, edges_months: list[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The aged trial balance of open invoices (DESIGN 6.2).

    Parameters
    ----------
    open_amount : ndarray, shape (n,)
        Each invoice's open amount at the date (0 when settled).
    age : ndarray of int, shape (n,)
        Its age in months at the date.
    edges_months : list of int

    Returns
    -------
    profile : ndarray
        The balance by monthly age from age 0 (ages past 1199 folded into 1199).
    gross : ndarray, shape (K,)
        The balance per bucket.
    invoices : ndarray of int, shape (K,)
        Invoices open per bucket.
    """
    ages = np.minimum(age, MAX_PROFILE_AGE)
    profile = np.bincount(ages, weights=open_amount)
    k = len(edges_months)
    bucket = np.searchsorted(np.asarray(edges_months), age, side="right") - 1
    gross = np.bincount(bucket, weights=open_amount, minlength=k)
    n_open = np.bincount(bucket[open_amount > 0], minlength=k)
    return profile, gross, n_open


def _check_dates(ledger: Ledger, as_of: dt.date, start: dt.date | None) -> tuple[int, int]:
    src = ledger.source
    if not is_month_end(as_of):
        raise LedgerError(src, None, "--as-of", f"must be a month end, got {as_of.isoformat()}")
    first = int(ledger.invoice_day.min())
    if date_to_day(as_of) < first:
        raise LedgerError(
            src,
            None,
            "--as-of",
            f"{as_of.isoformat()} is before every invoice (the first is dated "
            f"{day_to_date(first).isoformat()})",
        )
    t = int(month_index(date_to_day(as_of)))
    if start is None:
        f = int(month_index(first))
    else:
        if not is_month_end(start):
            raise LedgerError(src, None, "--from", f"must be a month end, got {start.isoformat()}")
        f = int(month_index(date_to_day(start)))
    if f >= t:
        raise LedgerError(
            src,
            None,
            "--from" if start is not None else "--as-of",
            f"the window from {day_to_date(int(month_end_day(f))).isoformat()} to "
            f"{as_of.isoformat()} holds no pair of month ends",
        )
    return f, t


def ledger_exposures(
    ledger: Ledger,
    *,
    as_of: dt.date,
    edges_months: list[int],
    labels: list[str] | None = None,
    start: dt.date | None = None,
    write_off_age: int | None = None,
    age_basis: str = "invoice",
    time_blocks: int | None = None,
    invoices: np.ndarray | None = None,
) -> Exposures:
    """Exposures and flows by month-end pair and age, by customer and age group, and the aged
    balance at ``as_of`` (DESIGN 6.2, 6.3).

    Parameters
    ----------
    ledger : Ledger
    as_of : datetime.date
        A month end: the end of the window and the date of the aged balance.
    edges_months : list of int
        Bucket lower edges in months.
    labels : list of str, optional
    start : datetime.date, optional
        The first month end of the window (default: that of the first invoice's month).
    write_off_age : int, optional
        ``W``: write-offs at ages ``≥ W − 1`` are policy write-offs (out of ``p̂``) and
        exposure at ages ``≥ W`` is dropped.
    age_basis : {"invoice", "due"}
        Ages from the invoice date, or from the due date (not yet due is age 0).
    time_blocks : int, optional
        Pairs per time block of the two-way bootstrap, counted back from ``as_of``.
    invoices : ndarray of bool, optional
        The invoices to use (a segment); default all.

    Returns
    -------
    Exposures

    Raises
    ------
    LedgerError
        If ``as_of`` or ``start`` is not a month end, ``as_of`` is before every invoice, or the
        window has no pair of month ends.
    """
    from ..scenario import default_labels

    first_m, last_m = _check_dates(ledger, as_of, start)
    groups = AgeGroups.make(list(edges_months), write_off_age)
    as_of_day = date_to_day(as_of)
    use = ledger.invoice_day <= as_of_day
    if invoices is not None:
        use &= invoices
    counts = {"invoices_after_as_of": int((ledger.invoice_day > as_of_day).sum())}
    local = np.cumsum(use) - 1
    ev_use = use[ledger.ev_invoice] & (ledger.ev_day <= as_of_day)
    counts["events_after_as_of"] = int((use[ledger.ev_invoice] & ~ev_use).sum())
    amount = ledger.amount[use]
    cust = ledger.customer[use]
    inv_month = month_index(ledger.invoice_day[use])
    due_month = month_index(ledger.due_day[use]) if age_basis == "due" else inv_month
    ev_inv = local[ledger.ev_invoice[ev_use]]
    ev_month = month_index(ledger.ev_day[ev_use])
    ev_amount = ledger.ev_amount[ev_use]
    ev_kind = ledger.ev_kind[ev_use]
    n_cust = ledger.n_customers
    counts["invoices"] = len(amount)
    counts["customers"] = len(np.unique(cust))
    plane = _Plane(first_m, last_m, groups, n_cust, time_blocks, len(amount))
    st = _steps(amount, ev_inv, ev_month, ev_amount, ev_kind, last_m)
    _add_segments(plane, st, amount, cust, inv_month, due_month)
    _add_points(plane, st, amount, cust, inv_month, due_month)
    # the aged balance at as_of
    open_t = amount - np.bincount(st.inv, weights=st.delta, minlength=len(amount))
    open_t = np.where(open_t > OPEN_TOL * amount, open_t, 0.0)
    age_t = np.maximum(last_m - due_month, 0)
    profile, gross, n_open = aged_balance(open_t, age_t, edges_months)
    cash = _cash_like(st, amount, inv_month, first_m, last_m)
    in_window = (ledger.credit_day > month_end_day(first_m)) & (ledger.credit_day <= as_of_day)
    rec = ev_kind == RECOVERY
    rec_in = rec & (ev_month > first_m)
    billed = inv_month > last_m - 12
    totals = {
        "credit_lines": float(ledger.credit_amount[in_window].sum()),
        "recoveries": float(ev_amount[rec_in].sum()),
        "billed_last_12": float(amount[billed].sum()),
        "billed_months": int(min(12, last_m - int(inv_month.min()) + 1)),
        "dropped_exposure": float(plane.dropped_exposure()),
        "dropped_flows": float(plane.dropped_flows()),
    }
    end_months = first_m + 1 + np.arange(last_m - first_m)
    return Exposures(
        as_of=as_of,
        start=day_to_date(int(month_end_day(first_m))),
        n_pairs=last_m - first_m,
        groups=groups,
        labels=list(labels) if labels is not None else default_labels(list(edges_months)),
        pair_calendar_month=end_months % 12 + 1,
        open_by_age=plane.open_ka,
        exposure_by_age=plane.expo_ka,
        collected_by_age=plane.coll_ka,
        written_off_by_age=plane.wo_ka,
        credited_by_age=plane.cn_ka,
        customer_exposure=plane.cust[0],
        customer_collected=plane.cust[1],
        customer_written_off=plane.cust[2],
        block_of_pair=plane.block,
        invoice_months=plane.inv_months,
        invoices=plane.hit.sum(axis=1),
        payment_months=plane.pay_count,
        write_off_months=plane.wo_count,
        balance_by_age=profile,
        gross=gross,
        open_invoices=n_open,
        customer_balance=np.bincount(cust, weights=open_t, minlength=n_cust),
        invoice_index=np.flatnonzero(use),
        invoice_open=open_t,
        invoice_age=age_t,
        cash_like=cash,
        totals=totals,
        counts=counts,
        age_basis=age_basis,
        time_blocks=time_blocks,
    )
