"""Implied provision rates (DESIGN 2.8): the exact 12-periodic recursion against brute force and
the run-off simulation against the exact rates within the failure budget's Z SE (DESIGN 5). The
inverse is in test_inverse.py."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from conftest import z_fail
from factories import SEASONAL, make

from simulator.analytic import (
    RUNOFF_TOL,
    exact_rates_available,
    implied_rates,
    lifetime_loss,
    runoff_implied_rates,
)
from simulator.scenario import with_overrides

SEASONS = {"scenario.as_of": dt.date(2024, 3, 31), "collections.seasonality": SEASONAL}
NO_FACTOR = {"collections.factor_loading": 0.0, "defaults.correlation": 0.0}


def _one_bucket(c: float, p: float, **extra) -> dict:
    return {
        "buckets.edges_months": [0],
        "buckets.gross": [100.0],
        "buckets.provision_rates": [0.5],
        "collections.monthly_rate": [c],
        "defaults.monthly_rate": [p],
        **extra,
    }


def _brute_loss(h: np.ndarray, p: float, months: int, write_off_after: int | None = None) -> float:
    """Probability that a unit is lost, by running it forward month by month (no recursion).

    ``h[t]`` is the collection hazard of month t + 1; after ``write_off_after`` months what is
    left is written off.
    """
    left, lost = 1.0, 0.0
    for t in range(months):
        if write_off_after is not None and t == write_off_after:
            return lost + left
        lost += left * p
        left *= 1.0 - h[t] - p
    return lost + left


# -- exact ------------------------------------------------------------------------------------


def test_single_absorbing_bucket_is_geometric():
    c, p = 0.07, 0.004
    sc = make({**NO_FACTOR, **_one_bucket(c, p)})
    L = lifetime_loss(sc)
    assert L.shape == (1, 12)
    np.testing.assert_allclose(L, p / (c + p), rtol=1e-13)
    assert implied_rates(sc).lifetime_loss == pytest.approx(100.0 * p / (c + p), rel=1e-13)


def test_seasonal_absorbing_age_solves_the_periodic_system():
    """The periodic solution equals running a unit forward for 300 years, from every month."""
    c, p, m = 0.05, 0.003, 1.3
    sc = make({**NO_FACTOR, **SEASONS, **_one_bucket(c, p), "collections.multiplier": m})
    L = lifetime_loss(sc)
    for k in range(12):  # a unit first processed in calendar month k + 1
        h = np.array([min(m * SEASONAL[(k + t) % 12] * c, 1 - p) for t in range(3600)])
        assert L[0, k] == pytest.approx(_brute_loss(h, p, 3600), rel=1e-12)
    assert len(set(np.round(L[0], 12))) > 1, "seasonality should make L depend on the month"


def test_write_off_age_against_brute_force():
    W = 9
    c, p = 0.1, 0.01
    sc = make({**NO_FACTOR, **SEASONS, **_one_bucket(c, p), "defaults.write_off_after_months": W})
    L = lifetime_loss(sc)
    assert L.shape == (W, 12)
    for a in range(W):
        for k in range(12):
            h = np.array([min(SEASONAL[(k + t) % 12] * c, 1 - p) for t in range(W)])
            assert L[a, k] == pytest.approx(_brute_loss(h, p, W, W - a), rel=1e-12)


def test_never_collected_counts_as_lost():
    sc = make(
        {
            **NO_FACTOR,
            "collections.monthly_rate": [0.2, 0.1, 0.05, 0.0],
            "defaults.monthly_rate": [0.0, 0.0, 0.0, 0.0],
        }
    )
    L = lifetime_loss(sc)
    assert np.all(L[-1] == 1.0)
    # age 0: lost only if never collected before reaching the last age (12 months)
    survive = (1 - 0.2) ** 3 * (1 - 0.1) ** 3 * (1 - 0.05) ** 6
    assert L[0, 0] == pytest.approx(survive, rel=1e-13)


def test_implied_rates_weight_the_ages_of_each_bucket():
    sc = make({"factor.persistence": 0.0, **SEASONS})
    imp = implied_rates(sc)
    assert imp.method == "exact" and np.all(imp.rates_se == 0)
    L = lifetime_loss(sc)[:, 3]  # as_of in March: month 1 is April (column 3)
    edges = [0, 3, 6, 12, 13]
    for b in range(4):
        assert imp.rates[b] == pytest.approx(L[edges[b] : edges[b + 1]].mean(), rel=1e-14)
    gross = np.array(sc.buckets.gross)
    assert imp.lifetime_loss == pytest.approx(gross @ imp.rates, rel=1e-13)
    # an empty bucket gets even weights over its ages
    empty = implied_rates(with_overrides(sc, {"buckets.gross[1]": 0.0}))
    assert empty.rates[1] == pytest.approx(L[3:6].mean(), rel=1e-14)


def test_exact_is_refused_when_the_factor_is_persistent():
    sc = make()
    assert not exact_rates_available(sc)
    with pytest.raises(ValueError, match=r"factor\.persistence"):
        lifetime_loss(sc)
    with pytest.raises(ValueError, match=r"factor\.persistence"):
        implied_rates(sc, method="exact")
    assert exact_rates_available(make(NO_FACTOR))  # persistent but irrelevant


# -- run-off against exact --------------------------------------------------------------------

RUNOFF_CASES = {
    "seasonal": {"factor.persistence": 0.0, **SEASONS},
    "seasonal_write_off": {
        "factor.persistence": 0.0,
        **SEASONS,
        "defaults.write_off_after_months": 18,
    },
    "cap_binds": {
        "factor.persistence": 0.0,
        "collections.multiplier": 3.0,
        "collections.factor_loading": 1.5,
        "defaults.correlation": 0.4,
    },
}


@pytest.mark.parametrize("case", RUNOFF_CASES, ids=list(RUNOFF_CASES))
def test_runoff_agrees_with_exact(case, stat_seed):
    sc = make(RUNOFF_CASES[case])
    exact = implied_rates(sc)
    sim = runoff_implied_rates(sc, paths=12_000, seed=stat_seed)
    assert sim.method == "runoff" and sim.paths == 12_000
    # what remains at the stop is counted as lost: at most RUNOFF_TOL of each bucket
    bias = RUNOFF_TOL
    for got, want, se in (
        (sim.rates, exact.rates, sim.rates_se),
        (sim.loss_by_age, exact.loss_by_age, sim.loss_by_age_se),
    ):
        assert np.all(se > 0)
        z = (got - want) / se
        tol = z_fail(got.size)  # one assertion covers every bucket (or age): Bonferroni
        assert np.all(np.abs(got - want) <= tol * se + bias), f"max |z| = {np.abs(z).max():.2f}"
    gross = sum(sc.buckets.gross)
    tol = z_fail() * sim.lifetime_loss_se + bias * gross
    assert abs(sim.lifetime_loss - exact.lifetime_loss) <= tol
    assert 0 <= sim.unresolved <= RUNOFF_TOL * gross


def test_runoff_without_factor_dependence_is_exact():
    """beta = rho = 0: every path is the same, so the run-off reproduces the exact rates."""
    sc = make({**NO_FACTOR, **SEASONS, "defaults.write_off_after_months": 20})
    sim = runoff_implied_rates(sc, paths=50, seed=1)
    exact = implied_rates(sc)
    np.testing.assert_allclose(sim.rates, exact.rates, rtol=0, atol=RUNOFF_TOL)
    np.testing.assert_allclose(sim.rates_se, 0.0, atol=1e-15)


def test_runoff_is_reproducible_and_does_not_depend_on_threads():
    sc = make({"simulation.runoff_paths": 5000})
    one = runoff_implied_rates(sc, workers=1)
    two = runoff_implied_rates(sc, workers=2)
    np.testing.assert_array_equal(one.loss_by_age, two.loss_by_age)
    assert one.lifetime_loss == two.lifetime_loss and one.rates_se.tolist() == two.rates_se.tolist()
    other = runoff_implied_rates(sc, seed=sc.simulation.seed + 1)
    assert not np.array_equal(one.rates, other.rates)
    stream = runoff_implied_rates(sc, stream=(2, 0))
    assert not np.array_equal(one.rates, stream.rates)


def test_runoff_stops_when_the_book_is_resolved():
    # with a write-off age every balance is gone after W months
    sc = make({"defaults.write_off_after_months": 15, "simulation.runoff_paths": 300})
    sim = runoff_implied_rates(sc)
    assert sim.months_max <= 15 and sim.unresolved == 0.0
    # a bucket that is never collected and never defaults runs to the 600-month cap
    stuck = make(
        {
            "collections.monthly_rate": [0.25, 0.12, 0.05, 0.0],
            "defaults.monthly_rate": [0.002, 0.005, 0.01, 0.0],
            "simulation.runoff_paths": 300,
        }
    )
    sim = runoff_implied_rates(stuck)
    assert sim.months_max == 600 and sim.rates[-1] == 1.0
    assert sim.unresolved > 0  # reported: what reached the last age stays there


def test_default_paths_and_seed_come_from_the_scenario():
    sc = make({"simulation.runoff_paths": 700, "simulation.seed": 5})
    sim = implied_rates(sc)
    assert (sim.paths, sim.seed, sim.stream) == (700, 5, (1,))
    assert np.array_equal(sim.rates, runoff_implied_rates(sc, paths=700, seed=5).rates)
