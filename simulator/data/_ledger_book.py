"""Segments and named debtors from a ledger (DESIGN 6.3, ``--segments``, ``--debtors``).

Each value of the ledger's segment column is fitted on its own invoices by the same fit as the
whole book (:func:`ledger_exposures` with ``invoices=``, then :func:`fit_ledger`); its share of
new billings is its share of the credit billings of the last 12 months. The ``N`` customers with
the largest open balance at ``as_of`` become named debtors, and their invoices leave the opening
balance of the pooled book (and of their segment), so that nothing is counted twice. Nothing
here prints or writes files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..scenario import NAME_RULE, Scenario
from ._ledger_age import Exposures, aged_balance, ledger_exposures
from ._ledger_fit import LedgerFit, fit_ledger
from ._ledger_table import Ledger, LedgerError

#: At most this many segments and named debtors (DESIGN 3.2).
MAX_SEGMENTS, MAX_DEBTORS = 20, 1000
#: Billing shares are written with this many decimals (the largest takes the rounding).
SHARE_DECIMALS = 6

_NOT_NAME = re.compile(r"[^A-Za-z0-9_]+")


def entry_name(value: str, kind: str) -> str:
    """A segment's or debtor's name (the rule of DESIGN 2.12) made from a ledger value.

    Every run of characters other than ASCII letters, digits and ``_`` becomes one ``_``, and
    ``_`` is stripped from both ends; an empty result is ``kind``, one starting with a digit is
    prefixed ``kind_``; at most 64 characters.

    Parameters
    ----------
    value : str
        The ledger's segment value or customer.
    kind : {"segment", "debtor"}

    Returns
    -------
    str
    """
    name = _NOT_NAME.sub("_", value).strip("_")
    if not name:
        name = kind
    elif name[0].isdigit():
        name = f"{kind}_{name}"
    name = name[:64]
    assert NAME_RULE.fullmatch(name), name
    return name


@dataclass(frozen=True)
class LedgerSegment:
    """One segment of the ledger, fitted on its own invoices.

    Attributes
    ----------
    name, label : str
        The scenario's name and the ledger's value.
    fit : LedgerFit
    credit_billed : float
        Invoiced in the 12 months to ``as_of`` times ``1 −`` its cash-like share.
    billing_share : float
    profile, gross, invoices : ndarray
        Its aged balance at ``as_of`` by monthly age, per bucket, and open invoices per bucket,
        named debtors left out.
    """

    name: str
    label: str
    fit: LedgerFit
    credit_billed: float
    billing_share: float
    profile: np.ndarray
    gross: np.ndarray
    invoices: np.ndarray


@dataclass(frozen=True)
class LedgerDebtor:
    """A customer carved out of the pooled book as a named debtor (DESIGN 2.13).

    Attributes
    ----------
    name, label : str
        The scenario's name and the ledger's customer.
    balance : float
        Its open amount at ``as_of``.
    age : float
        The amount-weighted age in months of its open invoices.
    age_months : int
        ``age`` rounded (half up), below the write-off age when there is one.
    segment : str or None
        Its segment's name (with segments).
    invoices : int
        Its open invoices.
    """

    name: str
    label: str
    balance: float
    age: float
    age_months: int
    segment: str | None
    invoices: int


@dataclass(frozen=True)
class LedgerBook:
    """The book of a ledger split into segments and named debtors.

    Attributes
    ----------
    segments : list of LedgerSegment
        Empty without ``--segments``.
    debtors : list of LedgerDebtor
        Empty without ``--debtors``.
    profile, gross, invoices : ndarray
        The pooled book's aged balance (every segment, named debtors left out).
    column : str or None
        The ledger's segment column.
    notes : list of str
    """

    segments: list[LedgerSegment]
    debtors: list[LedgerDebtor]
    profile: np.ndarray
    gross: np.ndarray
    invoices: np.ndarray
    column: str | None = None
    notes: list[str] = field(default_factory=list)


def _error(ledger: Ledger, option: str, reason: str) -> LedgerError:
    return LedgerError(ledger.source, None, option, reason)


def _segment_names(ledger: Ledger) -> list[str]:
    """The names of the ledger's segments, checked: one segment per customer, at most
    :data:`MAX_SEGMENTS`, and no two values making the same name."""
    if ledger.segment is None:
        raise _error(ledger, "--segments", "the ledger has no segment column")
    values = list(ledger.segments)
    pairs = np.unique(np.stack([ledger.customer, ledger.segment], axis=1), axis=0)
    twice = np.flatnonzero(np.diff(pairs[:, 0]) == 0)
    if len(twice):
        c, s1, s2 = pairs[twice[0], 0], pairs[twice[0], 1], pairs[twice[0] + 1, 1]
        raise _error(
            ledger,
            "--segments",
            f"customer {ledger.customers[c]!r} has invoices in two segments ({values[s1]!r} and "
            f"{values[s2]!r}); a customer belongs to one segment",
        )
    if len(values) > MAX_SEGMENTS:
        raise _error(
            ledger,
            "--segments",
            f"{len(values)} segment values; a scenario has at most {MAX_SEGMENTS} segments",
        )
    names: dict[str, str] = {}
    for v in values:
        n = entry_name(v, "segment")
        if n in names:
            raise _error(
                ledger,
                "--segments",
                f"the segment values {names[n]!r} and {v!r} both make the name {n!r}; "
                "rename one in the ledger",
            )
        names[n] = v
    return list(names)


def _debtor_names(labels: list[str]) -> list[str]:
    """Debtor names from customers; a name already taken gets ``_2``, ``_3``, …"""
    out: list[str] = []
    for lab in labels:
        base = entry_name(lab, "debtor")
        name, i = base, 1
        while name in out:
            i += 1
            tail = f"_{i}"
            name = base[: 64 - len(tail)] + tail
        out.append(name)
    return out


def billing_shares(credit: np.ndarray) -> tuple[np.ndarray, bool]:
    """Shares of ``credit``, rounded to :data:`SHARE_DECIMALS` decimals, the largest set so
    that they sum to 1; equal shares when the total is 0 (the flag says so)."""
    total = float(credit.sum())
    even = not total > 0
    raw = np.full(len(credit), 1.0 / len(credit)) if even else credit / total
    shares = np.round(raw, SHARE_DECIMALS)
    big = int(np.argmax(raw))
    shares[big] = 0.0
    shares[big] = 1.0 - float(shares.sum())
    return shares, even


def _debtors(
    ledger: Ledger, ex: Exposures, n: int, seg_names: list[str] | None
) -> tuple[list[LedgerDebtor], np.ndarray, list[str]]:
    """The ``n`` largest customers at ``as_of`` and a mask over the ledger's invoices of theirs."""
    balance = ex.customer_balance
    have = int((balance > 0).sum())
    if have < n:
        raise _error(
            ledger,
            "--debtors",
            f"asks for {n} named debtors but only {have} customers have an open balance at "
            f"{ex.as_of.isoformat()}",
        )
    order = np.lexsort((ledger.customers.astype(str), -balance))[:n]
    cust = ledger.customer[ex.invoice_index]
    open_ = ex.invoice_open
    k = ledger.n_customers
    age_sum = np.bincount(cust, weights=open_ * ex.invoice_age, minlength=k)
    n_open = np.bincount(cust[open_ > 0], minlength=k)
    labels = [str(ledger.customers[c]) for c in order]
    names = _debtor_names(labels)
    w = ex.groups.write_off_age
    notes: list[str] = []
    seg_of = None
    if seg_names is not None and ledger.segment is not None:
        seg_of = np.zeros(k, dtype=np.int64)
        seg_of[ledger.customer] = ledger.segment
    out = []
    for c, name, lab in zip(order, names, labels, strict=True):
        age = float(age_sum[c] / balance[c])
        months = min(int(np.floor(age + 0.5)), 1200)
        if w is not None and months >= w:
            notes.append(
                f"debtor {name}: its balance is {age:.1f} months old on average, past the "
                f"write-off age {w}; age_months = {w - 1}"
            )
            months = w - 1
        out.append(
            LedgerDebtor(
                name=name,
                label=lab,
                balance=float(balance[c]),
                age=age,
                age_months=months,
                segment=None if seg_of is None or seg_names is None else seg_names[seg_of[c]],
                invoices=int(n_open[c]),
            )
        )
    chosen = np.zeros(k, dtype=bool)
    chosen[order] = True
    return out, chosen[ledger.customer], notes


def _pool(ex: Exposures, debtor_invoices: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """The aged balance of ``ex``'s invoices, named debtors' left out."""
    open_ = ex.invoice_open
    if debtor_invoices is not None:
        open_ = np.where(debtor_invoices[ex.invoice_index], 0.0, open_)
    return aged_balance(open_, ex.invoice_age, list(ex.groups.edges))


def ledger_book(
    ledger: Ledger,
    exposures: Exposures,
    *,
    segments: bool = False,
    debtors: int | None = None,
    column: str | None = None,
    exposure_options: dict[str, Any] | None = None,
    base: Scenario | None = None,
    fit_seasonality: bool = False,
    bootstrap: int = 200,
    seed: int = 0,
    time_blocks: bool = False,
) -> LedgerBook:
    """Split a ledger's book into segments and named debtors (DESIGN 6.3).

    Parameters
    ----------
    ledger : Ledger
        With a ``segment`` column for ``segments``.
    exposures : Exposures
        The whole book's (:func:`ledger_exposures` without ``invoices``): the customers' open
        balances and the aged balance.
    segments : bool, optional
        Fit each segment on its own invoices.
    debtors : int, optional
        Carve this many of the largest customers out of the pooled book.
    column : str, optional
        The segment column's name (for the report).
    exposure_options : dict, optional
        The keywords of :func:`ledger_exposures` that made ``exposures``; each segment's
        exposures use them with its invoices.
    base, fit_seasonality, bootstrap, time_blocks
        As in :func:`fit_ledger`, for each segment.
    seed : int, optional
        Segment ``i`` (0-based, in sorted order of the values) draws its bootstrap from
        ``SeedSequence(seed, spawn_key=(i + 1,))``.

    Returns
    -------
    LedgerBook

    Raises
    ------
    LedgerError
        ``FILE: --segments: reason`` or ``FILE: --debtors: reason``: a customer in two
        segments, more than 20 segments, two values making one name, too few customers with an
        open balance, or a segment the fit refuses (no exposure in a bucket without a base).
    """
    notes: list[str] = []
    seg_names = _segment_names(ledger) if segments else None
    chosen: list[LedgerDebtor] = []
    debtor_inv = None
    if debtors is not None:
        chosen, debtor_inv, more = _debtors(ledger, exposures, debtors, seg_names)
        notes += more
    profile, gross, n_open = _pool(exposures, debtor_inv)
    fitted: list[LedgerSegment] = []
    if seg_names is not None:
        assert ledger.segment is not None
        opts = dict(exposure_options or {})
        parts = []
        for i, (name, value) in enumerate(zip(seg_names, ledger.segments, strict=True)):
            ex = ledger_exposures(ledger, invoices=ledger.segment == i, **opts)
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(i + 1,)))
            try:
                fit = fit_ledger(
                    ex,
                    base=base,
                    fit_seasonality=fit_seasonality,
                    bootstrap=bootstrap,
                    rng=rng,
                    time_blocks=time_blocks,
                )
            except ValueError as exc:
                raise _error(ledger, "--segments", f"segment {value!r}: {exc}") from None
            notes += [f"segment {name}: {n}" for n in fit.notes]
            credit = ex.totals["billed_last_12"] * (1.0 - (fit.cash_like_share or 0.0))
            parts.append((name, value, fit, credit, *_pool(ex, debtor_inv)))
        shares, even = billing_shares(np.array([p[3] for p in parts]))
        if even:
            notes.append("no credit billings in the last 12 months: equal billing shares")
        for (name, value, fit, credit, prof, g, n), share in zip(parts, shares, strict=True):
            fitted.append(LedgerSegment(name, value, fit, float(credit), float(share), prof, g, n))
    return LedgerBook(
        segments=fitted,
        debtors=chosen,
        profile=profile,
        gross=gross,
        invoices=n_open,
        column=column,
        notes=notes,
    )
