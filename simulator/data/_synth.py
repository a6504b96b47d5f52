"""Synthetic ledgers drawn from the model (DESIGN 6.6), with the truth the estimator aims at.

Over the ``M`` months ending at ``as_of``, from an empty book: each month each of ``N``
customers gets one invoice of ``Rev_t / N`` on a uniform day of the month. With probability
``1 − σ`` it is paid in full by that month's end; otherwise it is one lump under the
one-uniform rule of DESIGN 2.13 with its bucket's hazards at its age and that month's factor:
paid in full on a uniform day of the event month, or written off at that month's end; with a
write-off age ``W``, written off at the month end where it reaches age ``W``.

Random numbers, all from ``numpy.random.default_rng(seed)``, in this order: the factor before
the first month, then ``ε_t`` (M values) and ``ξ_t`` (M values); then, each of shape (M, N):
the invoice day, the cash-like draw, the day of a cash-like payment, ``U = 1 − random`` of the
lump, and the day of a lump's payment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..aging import AgingGrid
from ..hazards import collection_hazard, default_hazard, factor_step, revenue_shock, solve_alpha
from ..scenario import Scenario
from ._ledger_table import date_to_day, is_month_end, month_end_day, month_index


@dataclass(frozen=True)
class SyntheticLedger:
    """A ledger drawn from a scenario, in both forms, and its truth.

    Attributes
    ----------
    invoices : DataFrame
        One row per invoice: ``invoice_id``, ``customer``, ``invoice_date``, ``amount``,
        ``settled_date``, ``settled_amount``, ``written_off_date``, ``written_off_amount``.
    truth : dict
        ``c``, ``p``, ``credit_share``, ``factor``, ``revenue``, the aged balance at ``as_of``
        (``gross``, ``opening_by_age``), and the targets ``h_tilde``, ``d_tilde`` with the
        exposures they are weighted by (DESIGN 6.6).
    """

    invoices: pd.DataFrame
    truth: dict[str, Any]

    def typed(self, frame: pd.DataFrame | None = None) -> pd.DataFrame:
        """``frame`` (default the invoices) with dates as dates and amounts as numbers, as a
        Parquet file or a spreadsheet holds them (empty cells missing)."""
        out = (self.invoices if frame is None else frame).copy()
        for name in out.columns:
            if name.endswith("date"):
                out[name] = pd.to_datetime(out[name].replace("", None)).dt.date
            elif name.endswith("amount"):
                out[name] = pd.to_numeric(out[name].replace("", None))
        return out

    def invoice_table(self) -> pd.DataFrame:
        """The invoice table of the invoices-plus-events form."""
        return self.invoices[["invoice_id", "customer", "invoice_date", "amount"]]

    def event_table(self) -> pd.DataFrame:
        """The events table of the invoices-plus-events form (one event per invoice at most)."""
        inv = self.invoices
        parts = []
        for dcol, acol, kind in (
            ("settled_date", "settled_amount", "payment"),
            ("written_off_date", "written_off_amount", "write_off"),
        ):
            sel = inv[dcol] != ""
            parts.append(
                pd.DataFrame(
                    {
                        "invoice_id": inv["invoice_id"][sel],
                        "date": inv[dcol][sel],
                        "amount": inv[acol][sel],
                        "kind": kind,
                    }
                )
            )
        return (
            pd.concat(parts)
            .sort_values(["date", "invoice_id"], kind="stable")
            .reset_index(drop=True)
        )


def synth_ledger(scenario: Scenario, customers: int, months: int, seed: int = 0) -> SyntheticLedger:
    """Draw a synthetic ledger from ``scenario`` (DESIGN 6.6).

    Parameters
    ----------
    scenario : Scenario
        Needs ``scenario.as_of`` (a month end) and ``revenue.monthly > 0``.
    customers : int
        ``N``, at least 1.
    months : int
        ``M``, at least 2; ``M ≥ e_{K−1} + 24`` gives every bucket exposure.
    seed : int, optional

    Returns
    -------
    SyntheticLedger

    Raises
    ------
    ValueError
        If the scenario or the sizes do not allow a ledger.
    """
    arrays, truth = _draw(scenario, customers, months, seed)
    return SyntheticLedger(invoices=_frame(**arrays), truth=truth)


def _draw(
    scenario: Scenario, customers: int, months: int, seed: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The draws of :func:`synth_ledger` as arrays (``n``, ``m_count``, ``inv_day``, ``amount``,
    ``pay_day``, ``wo_day``: days since 1970-01-01 of shape (M, N), ``-1`` for none) and the
    truth, before any text is made."""
    as_of = scenario.scenario.as_of
    if as_of is None or not is_month_end(as_of):
        raise ValueError("scenario.as_of: synth-ledger needs a month end as scenario.as_of")
    if scenario.revenue.monthly <= 0:
        raise ValueError("revenue.monthly: synth-ledger bills revenue, so it must be > 0")
    if customers < 1 or months < 2:
        raise ValueError("--customers must be ≥ 1 and --months ≥ 2")
    n, m_count = int(customers), int(months)
    col, dfl, rev = scenario.collections, scenario.defaults, scenario.revenue
    grid = AgingGrid(scenario.buckets.edges_months, dfl.write_off_after_months)
    w = dfl.write_off_after_months
    last = int(month_index(date_to_day(as_of)))
    month = last - m_count + 1 + np.arange(m_count)  # month indices of t = -M+1..0
    cal = month % 12  # 0 = January
    t = np.arange(-m_count + 1, 1)
    rng = np.random.default_rng(seed)
    z_prev = rng.standard_normal()
    eps = rng.standard_normal(m_count)
    xi = rng.standard_normal(m_count)
    z = np.empty(m_count)
    for j in range(m_count):
        z_prev = float(factor_step(np.asarray(z_prev), eps[j], scenario.factor.persistence))
        z[j] = z_prev
    q = np.asarray(rev.seasonality or [1.0] * 12)[cal]
    s = np.asarray(col.seasonality or [1.0] * 12)[cal]
    shock = revenue_shock(z, xi, rev.volatility, rev.factor_correlation)
    revenue = rev.monthly * (1.0 + rev.annual_growth) ** ((t - 1) / 12.0) * q * shock
    c = np.asarray(col.monthly_rate, dtype=float)
    p = np.asarray(dfl.monthly_rate, dtype=float)
    alpha = solve_alpha(c, col.factor_loading)
    d = np.empty((m_count, len(c)))
    h = np.empty((m_count, len(c)))
    for j in range(m_count):
        dj = default_hazard(p, dfl.correlation, z[j : j + 1])
        hj = collection_hazard(
            c, alpha, col.factor_loading, col.multiplier * s[j], z[j : j + 1], dj
        )
        d[j], h[j] = np.broadcast_to(dj, (len(c), 1))[:, 0], np.broadcast_to(hj, (len(c), 1))[:, 0]
    day_u, cash_u, settle_u, lump_u, pay_u = (rng.random((m_count, n)) for _ in range(5))
    lump_u = 1.0 - lump_u
    start_day = month_end_day(month - 1) + 1
    end_day = month_end_day(month)
    dim = end_day - start_day + 1
    inv_day = start_day[:, None] + np.floor(day_u * dim[:, None]).astype(np.int64)
    amount = np.round(revenue / n, 6)
    sigma = rev.credit_share
    cash_like = cash_u < 1.0 - sigma
    pay_day = np.full((m_count, n), -1, dtype=np.int64)
    wo_day = np.full((m_count, n), -1, dtype=np.int64)
    pay_day[cash_like] = (
        inv_day + np.floor(settle_u * (end_day[:, None] - inv_day + 1)).astype(np.int64)
    )[cash_like]
    bucket_of = np.minimum(np.arange(m_count), grid.n_ages - 1)
    bucket_of = grid.bucket_of_age[bucket_of]
    k = len(c)
    expo_h = np.zeros((k, 2))  # per bucket: Σ E h, Σ E (collections); idem defaults
    expo_d = np.zeros((k, 2))
    aged = np.zeros(m_count)
    for j in range(m_count):
        horizon = m_count - 1 - j  # months processed by as_of
        n_max = horizon if w is None else min(horizon, w)
        ages = np.arange(n_max)
        b = bucket_of[ages]
        hz, dz = h[j + 1 + ages, b], d[j + 1 + ages, b]
        surv = np.cumprod(1.0 - hz - dz)
        prev = np.r_[1.0, surv[:-1]]
        credit = ~cash_like[j]
        u = lump_u[j, credit]
        tau = np.searchsorted(-surv, -u, side="left") + 1  # first n with U > S_n
        event = tau <= n_max
        n_open = tau - 1  # months open at a month end before the event (or n_max)
        default = np.zeros(len(u), dtype=bool)
        default[event] = u[event] > prev[tau[event] - 1] * (1.0 - dz[tau[event] - 1])
        policy = ~event & (w is not None) & (n_max == w)
        idx = np.flatnonzero(credit)
        ev_month = j + tau
        paid = event & ~default
        pay_day[j, idx[paid]] = start_day[ev_month[paid]] + np.floor(
            pay_u[j, idx[paid]] * dim[ev_month[paid]]
        ).astype(np.int64)
        gone = (event & default) | policy
        wo_month = np.where(policy, j + n_max, ev_month)
        wo_day[j, idx[gone]] = end_day[wo_month[gone]]
        # exposures: open at the start of pair (age a) when tau > a
        exposed = np.bincount(np.minimum(n_open, n_max), minlength=n_max + 1)
        at_least = (len(u) - np.cumsum(exposed))[:n_max]  # invoices with tau > a + 1
        e_a = amount[j] * np.r_[len(u), at_least][:n_max] if n_max else np.zeros(0)
        np.add.at(expo_h, (b, 0), e_a * hz)
        np.add.at(expo_h, (b, 1), e_a)
        in_p = np.ones(n_max, dtype=bool) if w is None else ages < w - 1
        np.add.at(expo_d, (b[in_p], 0), (e_a * dz)[in_p])
        np.add.at(expo_d, (b[in_p], 1), e_a[in_p])
        still = ~event & ~policy
        aged[horizon] += amount[j] * still.sum()
    opening = (
        AgingGrid(scenario.buckets.edges_months).aggregate(
            np.r_[aged[: grid.edges[-1]], aged[grid.edges[-1] :].sum()]
        )
        if m_count > grid.edges[-1]
        else None
    )
    truth = {
        "scenario": scenario.scenario.name,
        "as_of": as_of.isoformat(),
        "customers": n,
        "months": m_count,
        "seed": int(seed),
        "labels": scenario.labels,
        "c": c.tolist(),
        "p": p.tolist(),
        "credit_share": float(sigma),
        "factor": z.tolist(),
        "revenue": revenue.tolist(),
        "opening_by_age": aged.tolist(),
        "gross": None if opening is None else opening.tolist(),
        "h_tilde": _ratio(expo_h),
        "d_tilde": _ratio(expo_d),
        "exposure": expo_h[:, 1].tolist(),
        "exposure_for_defaults": expo_d[:, 1].tolist(),
    }
    arrays = {
        "n": n,
        "m_count": m_count,
        "inv_day": inv_day,
        "amount": amount,
        "pay_day": pay_day,
        "wo_day": wo_day,
    }
    return arrays, truth


def _ratio(x: np.ndarray) -> list[float | None]:
    return [float(a / e) if e > 0 else None for a, e in x]


def _frame(n, m_count, inv_day, amount, pay_day, wo_day) -> pd.DataFrame:
    total = n * m_count
    ids = np.char.add("INV", np.char.zfill(np.arange(1, total + 1).astype(str), 7))
    cust = np.char.add(
        "C", np.char.zfill((np.arange(total) % n + 1).astype(str), max(4, len(str(n))))
    )
    amt = np.repeat(amount, n)
    pay = pay_day.ravel()
    wo = wo_day.ravel()

    def dates(days: np.ndarray) -> np.ndarray:
        out = np.datetime_as_string(np.maximum(days, 0).astype("datetime64[D]"))
        return np.where(days >= 0, out, "")

    def money(x: np.ndarray, has: np.ndarray) -> np.ndarray:
        return np.where(has, np.char.mod("%.6f", x), "")

    return pd.DataFrame(
        {
            "invoice_id": ids,
            "customer": cust,
            "invoice_date": dates(inv_day.ravel()),
            "amount": np.char.mod("%.6f", amt),
            "settled_date": dates(pay),
            "settled_amount": money(amt, pay >= 0),
            "written_off_date": dates(wo),
            "written_off_amount": money(amt, wo >= 0),
        }
    )
