"""DESIGN 7's check of the backtest on synthetic ledgers (6.6) drawn from a scenario whose
variance is dominated by the factor (φ = 0, β = 1, ρ = 0.2): with the generating scenario as the
base, the 90 % interval of 12-month cumulative collections covers what happened at a rate inside
the binomial region at the failure budget (DESIGN 5; 200 ledgers of 10,000 customers with 120
month-end pairs before the origin, ``slow``), the forecast is unbiased, and deliberately wrong
rates (collections half and twice as fast) move bias and coverage the right way (also in the
default run, on small ledgers)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest
from conftest import binom_acceptance, z_fail
from factories import make

from simulator.backtest import (
    BacktestOptions,
    backtest,
    covered,
    fit_origin,
    randomized_pit,
    realized_series,
)
from simulator.backtest._forecast import forecast_origin, realized_values
from simulator.data import Ledger, ledger_from_frames, synth_ledger
from simulator.data._ledger_table import PAYMENT, WRITE_OFF
from simulator.data._synth import _draw

AS_OF = dt.date(2024, 6, 30)
ORIGIN = dt.date(2023, 6, 30)  # 12 months before the data end
SCENARIO = make(
    {
        "scenario.as_of": AS_OF,
        "collections.monthly_rate": [0.3, 0.15, 0.08, 0.04],
        "collections.factor_loading": 1.0,
        "defaults.monthly_rate": [0.002, 0.004, 0.008, 0.015],
        "defaults.correlation": 0.2,
        "factor.persistence": 0.0,
        "revenue.volatility": 0.1,
        "revenue.credit_share": 0.8,
    }
)
SLOW, RIGHT, FAST = 0.5, 1.0, 2.0


def _ledger(customers: int, months: int, seed: int) -> Ledger:
    """The synthetic ledger of ``synth_ledger(SCENARIO, …)`` built from its draws, without
    writing and parsing a million lines of text (the same ledger: see the test below)."""
    a, _ = _draw(SCENARIO, customers, months, seed)
    n, m = a["n"], a["m_count"]
    day = a["inv_day"].ravel().astype(np.int64)
    amount = np.repeat(a["amount"], n)
    pay, wo = a["pay_day"].ravel(), a["wo_day"].ravel()
    ip, iw = np.flatnonzero(pay >= 0), np.flatnonzero(wo >= 0)
    ev_inv = np.r_[ip, iw].astype(np.int64)
    return Ledger(
        source="<synthetic>",
        sha256="",
        form="invoices",
        invoice_id=np.arange(n * m).astype(str),
        customer=np.arange(n * m, dtype=np.int64) % n,
        customers=np.array([f"C{i:05d}" for i in range(n)], dtype=object),
        invoice_day=day,
        due_day=day,
        amount=amount,
        ev_invoice=ev_inv,
        ev_day=np.r_[pay[ip], wo[iw]].astype(np.int64),
        ev_amount=amount[ev_inv],
        ev_kind=np.r_[np.full(len(ip), PAYMENT), np.full(len(iw), WRITE_OFF)].astype(np.int8),
        credit_customer=np.zeros(0, dtype=np.int64),
        credit_day=np.zeros(0, dtype=np.int64),
        credit_amount=np.zeros(0),
    )


def test_the_ledger_from_draws_is_the_synthetic_ledger():
    options = BacktestOptions(base=SCENARIO, paths=64)
    text = ledger_from_frames(synth_ledger(SCENARIO, 40, 30, seed=9).invoices)
    draws = _ledger(40, 30, seed=9)
    a = backtest(text, horizon=12, origins=[ORIGIN], options=options).forecasts
    b = backtest(draws, horizon=12, origins=[ORIGIN], options=options).forecasts
    for col in ("realized", "mean", "p5", "p95", "naive", "pit"):
        np.testing.assert_allclose(a[col], b[col], rtol=1e-12, atol=1e-12, err_msg=col)


def _one_ledger(customers: int, months: int, seed: int, paths: int) -> dict[float, tuple]:
    """One ledger's 12-month cumulative collections: (forecast mean, realized, covered by the
    90 % interval, PIT) with the fitted rates (the whole backtest) and with the collection
    multiplier set to SLOW and FAST after the fit (the same fit, realized series and seed)."""
    ledger = _ledger(customers, months, seed)
    options = BacktestOptions(base=SCENARIO, paths=paths, seed=seed)
    bt = backtest(ledger, horizon=12, origins=[ORIGIN], options=options)
    row = bt.forecasts[bt.forecasts.series == "collections_12m"].iloc[0]
    out = {RIGHT: (row["mean"], row["realized"], bool(row["covered_90"]), row["pit"])}
    of = fit_origin(ledger, ORIGIN, options)
    r = realized_series(
        ledger, start=ORIGIN, data_end=AS_OF, edges_months=options.edges, labels=options.labels
    )
    after = r.after(ORIGIN, 12)
    y = realized_values(after, options.labels)["collections_12m"]
    assert y[0] == row["realized"]
    rng = np.random.default_rng(seed)
    for m in (SLOW, FAST):
        wrong = dataclasses.replace(options, overrides={"collections.multiplier": m})
        samples, _, _, _ = forecast_origin(of, 12, after["billings"], wrong)
        x = samples["plain"]["collections_12m"]
        pit = randomized_pit(x, y, rng)
        out[m] = (float(x.mean()), float(y[0]), bool(covered(pit, 0.9)[0]), float(pit[0]))
    return out


def _check(n_ledgers: int, customers: int, months: int, paths: int, calibrated: bool) -> None:
    runs = [_one_ledger(customers, months, 1000 + i, paths) for i in range(n_ledgers)]
    res = {m: np.array([run[m] for run in runs], dtype=float) for m in (SLOW, RIGHT, FAST)}
    # slower collections forecast less, faster more, on every ledger (same random numbers)
    assert (res[SLOW][:, 0] < res[RIGHT][:, 0]).all() and (res[RIGHT][:, 0] < res[FAST][:, 0]).all()
    err = {m: (res[m][:, 0] - res[m][:, 1]) / res[m][:, 0] for m in res}  # relative to forecast
    assert err[SLOW].mean() < 0 < err[FAST].mean()
    cover = {m: int(res[m][:, 2].sum()) for m in res}
    lo, hi = binom_acceptance(n_ledgers, 0.9, m=3)
    # wrong rates: coverage falls out of the region of a calibrated forecast, the realized
    # values above the slow forecasts' intervals (PIT near 1) and below the fast ones'
    assert cover[SLOW] < lo and cover[FAST] < lo, (cover, lo)
    assert res[SLOW][:, 3].mean() > 0.75 and res[FAST][:, 3].mean() < 0.25
    if calibrated:
        assert lo <= cover[RIGHT] <= hi, (cover, lo, hi)
        lo5, hi5 = binom_acceptance(n_ledgers, 0.5, m=3)
        assert lo5 <= int((res[RIGHT][:, 3] <= 0.5).sum()) <= hi5
        se = err[RIGHT].std(ddof=1) / np.sqrt(n_ledgers)
        assert abs(err[RIGHT].mean()) <= z_fail(3) * se, (err[RIGHT].mean(), se)


def test_wrong_rates_move_bias_and_coverage_the_right_way():
    """Small ledgers (300 customers, 27 month-end pairs before the origin): the fitted rates
    carry parameter error there, so only the direction is checked."""
    _check(n_ledgers=16, customers=300, months=40, paths=500, calibrated=False)


@pytest.mark.slow
def test_coverage_of_twelve_month_collections_on_200_ledgers():
    """DESIGN 7's check (about 15 minutes): 200 ledgers of 10,000 customers over 133 months (120
    month-end pairs before the origin), the generating scenario as the base."""
    _check(n_ledgers=200, customers=10_000, months=133, paths=1000, calibrated=True)
