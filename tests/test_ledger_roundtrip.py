"""Synthetic ledgers back to their rates (DESIGN 6.6): interval coverage and unbiasedness of the
month-end-to-month-end estimator, the estimator's month against the model's, and the two-way
bootstrap against the customer-only one."""

from __future__ import annotations

import numpy as np
import pytest
from factories import make
from scipy import stats

from simulator.data import fit_ledger, ledger_exposures, ledger_from_frames, synth_ledger

#: The failure budget (DESIGN 5): a 1e-6 false-failure chance per assertion.
Z_FAIL = float(stats.norm.isf(0.5e-6))


def z_fail(m: int) -> float:
    """``z_fail`` Bonferroni-scaled for one assertion over ``m`` values."""
    return float(stats.norm.isf(0.5e-6 / m))


def binomial_region(n: int, p: float, m: int = 1) -> tuple[int, int]:
    """Counts of successes in ``n`` trials of probability ``p`` accepted at the failure budget
    (two-sided, Bonferroni over ``m``)."""
    alpha = 1e-6 / m
    return int(stats.binom.ppf(alpha / 2, n, p)), int(stats.binom.isf(alpha / 2, n, p))


EDGES = [0, 3, 6, 12]


def _scenario(**over):
    base = {
        "scenario.as_of": __import__("datetime").date(2024, 6, 30),
        "collections.monthly_rate": [0.3, 0.15, 0.08, 0.04],
        "collections.factor_loading": 0.0,
        "defaults.monthly_rate": [0.01, 0.015, 0.02, 0.03],
        "defaults.correlation": 0.0,
        "factor.persistence": 0.0,
        "revenue.volatility": 0.0,
        "revenue.credit_share": 0.8,
    }
    base.update(over)
    return make(base)


def _fit(sc, customers, months, seed, bootstrap=200, time_blocks=None, base=None):
    synth = synth_ledger(sc, customers, months, seed=seed)
    ledger = ledger_from_frames(synth.invoices)
    ex = ledger_exposures(
        ledger, as_of=sc.scenario.as_of, edges_months=EDGES, time_blocks=time_blocks
    )
    fit = fit_ledger(
        ex, base=base, bootstrap=bootstrap, rng=seed, time_blocks=time_blocks is not None
    )
    return synth, fit


def _round_trip(n_ledgers: int, customers: int, months: int) -> None:
    sc = _scenario()
    k = len(EDGES)
    cover = np.zeros((2, k), dtype=int)
    err = np.zeros((n_ledgers, 2, k))
    for i in range(n_ledgers):
        synth, fit = _fit(sc, customers, months, seed=1000 + i)
        target = np.array([synth.truth["h_tilde"], synth.truth["d_tilde"]])
        for j, iv in enumerate((fit.raw_c_interval, fit.raw_p_interval)):
            cover[j] += (iv[:, 0] <= target[j]) & (target[j] <= iv[:, 1])
        err[i] = np.array([fit.raw_c, fit.raw_p]) - target
    lo, hi = binomial_region(n_ledgers, 0.95, m=2 * k)
    assert ((cover >= lo) & (cover <= hi)).all(), (cover, lo, hi)
    mean = err.mean(axis=0)
    se = err.std(axis=0, ddof=1) / np.sqrt(n_ledgers)
    assert (np.abs(mean) <= z_fail(2 * k) * se).all(), (mean, se)


def test_round_trip_small():
    """With β = ρ = 0 the 95 % intervals cover h̃_b and d̃_b, and the estimates are unbiased."""
    _round_trip(n_ledgers=30, customers=60, months=36)


@pytest.mark.slow
def test_round_trip_200_ledgers():
    _round_trip(n_ledgers=200, customers=150, months=48)


def test_the_estimators_month_is_the_models():
    """A ledger drawn from a scenario without factor gives back its c_b and p_b, inverted with
    the scenario's multiplier and seasonality, within the granular noise of its lumps."""
    season = [1.2, 0.8, 1.0, 1.0, 0.9, 1.1, 1.0, 1.0, 0.7, 1.3, 1.0, 1.0]
    sc = _scenario(**{"collections.multiplier": 0.9, "collections.seasonality": season})
    synth, fit = _fit(sc, customers=400, months=60, seed=7, bootstrap=200, base=sc)
    c = np.array(sc.collections.monthly_rate)
    p = np.array(sc.defaults.monthly_rate)
    se_c = fit.c_replicates.std(axis=0, ddof=1)
    se_p = fit.p_replicates.std(axis=0, ddof=1)
    z = z_fail(2 * len(EDGES))
    assert (np.abs(fit.c - c) <= z * se_c).all(), (fit.c, c, se_c)
    assert (np.abs(fit.p - p) <= z * se_p).all(), (fit.p, p, se_p)
    # the raw rate is the seasonal average of m · s · c: the inversion is not the identity here
    assert not np.allclose(fit.raw_c, fit.c)
    # the aged balance is the truth's
    np.testing.assert_allclose(fit.exposures.gross, synth.truth["gross"], rtol=1e-9)
    np.testing.assert_allclose(fit.exposure, synth.truth["exposure"], rtol=1e-9)


def test_two_way_bootstrap_is_wider_when_the_factor_matters():
    """With β > 0 months of bad collections hit every customer: resampling time blocks too
    widens the intervals."""
    sc = _scenario(
        **{
            "collections.factor_loading": 1.0,
            "factor.persistence": 0.5,
            "defaults.correlation": 0.2,
        }
    )
    synth = synth_ledger(sc, 200, 72, seed=3)
    ledger = ledger_from_frames(synth.invoices)
    widths = {}
    for tb in (None, 12):
        ex = ledger_exposures(ledger, as_of=sc.scenario.as_of, edges_months=EDGES, time_blocks=tb)
        fit = fit_ledger(ex, bootstrap=200, rng=4, time_blocks=tb is not None)
        widths[tb] = np.diff(fit.raw_c_interval, axis=1)[:, 0]
    assert (widths[12] > widths[None]).all(), widths


def test_inversion_gives_back_the_observed_rate_where_the_cap_binds():
    """c_b from ĉ_b with β > 0, ρ > 0 and a seasonality strong enough for the cap to bind:
    the model's exposure-weighted hazard at the solved c_b is ĉ_b again; replicates inverted on
    the grid agree with the exact solve."""
    from simulator.analytic import expected_collection_hazard
    from simulator.data._ledger_invert import invert_collection_rates
    from simulator.hazards import solve_alpha

    raw = np.array([0.6, 0.05])
    p = np.array([0.05, 0.01])
    season = np.array([2.5, 1.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0])
    weights = np.tile(np.r_[np.full(6, 1.0), np.full(6, 3.0)] / 24.0, (2, 1))
    reps = np.array([[0.58, 0.045], [0.6, 0.05], [0.63, 0.055]])
    c, c_reps, capped = invert_collection_rates(
        raw, p, weights, beta=0.8, rho=0.3, multiplier=0.9, seasonality=season, replicates=reps
    )
    assert not capped
    for b in range(2):
        alpha = solve_alpha(np.array([c[b]]), 0.8)[0]
        back = sum(
            weights[b, m] * expected_collection_hazard(c[b], alpha, 0.8, 0.9 * season[m], p[b], 0.3)
            for m in range(12)
        )
        assert back == pytest.approx(raw[b], rel=1e-9)
    np.testing.assert_allclose(c_reps[1], c, rtol=1e-6)
    assert (np.diff(c_reps, axis=0) > 0).all()
