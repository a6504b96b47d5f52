"""The backtest's scores (DESIGN 7) against hand-computed values: the fair CRPS of tiny samples,
the randomised PIT of known cases (and its exact uniformity for a calibrated forecast, ties
included), central-interval coverage, WAPE, bias and skill."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import binom_acceptance, sub_seeds

from simulator.backtest import covered, fair_crps, metrics_table, randomized_pit, summarize


def test_fair_crps_of_tiny_samples_by_hand():
    # x = (0, 1, 3): Σ_{i≠j} |x_i − x_j| = 2 (1 + 3 + 2) = 12, over 2 m (m − 1) = 12: 1
    x = np.array([[0.0], [1.0], [3.0]])
    for y, mean_abs in ((4.0, 8 / 3), (-1.0, 7 / 3), (1.0, 1.0), (2.0, 4 / 3)):
        assert fair_crps(x, np.array([y]))[0] == pytest.approx(mean_abs - 1.0, abs=1e-15)
    # (1, 3) against 2: mean |x − y| = 1, spread 2·2 / (2·2·1) = 1: a perfect score of 0
    assert fair_crps(np.array([[1.0], [3.0]]), np.array([2.0]))[0] == pytest.approx(0.0)
    # one draw: the absolute error
    np.testing.assert_array_equal(fair_crps(np.array([[2.0, 5.0]]), np.array([3.5, 1.0])), [1.5, 4])
    # a point mass: the absolute error too
    assert fair_crps(np.full((7, 1), 2.0), np.array([5.0]))[0] == pytest.approx(3.0)


def test_fair_crps_equals_the_double_sum():
    rng = np.random.default_rng(3)
    x = rng.gamma(2.0, size=(9, 4))
    y = rng.normal(size=4) + 2
    m = x.shape[0]
    brute = np.abs(x - y).mean(axis=0) - np.abs(x[:, None, :] - x[None, :, :]).sum(axis=(0, 1)) / (
        2 * m * (m - 1)
    )
    np.testing.assert_allclose(fair_crps(x, y), brute, rtol=1e-13)


def test_randomised_pit_of_known_cases():
    x = np.array([[1.0, 1.0, 1.0, 5.0], [2.0, 2.0, 2.0, 5.0], [3.0, 3.0, 3.0, 5.0]])
    y = np.array([2.5, 0.0, 2.0, 5.0])
    v = np.random.default_rng(11).random(4)
    u = randomized_pit(x, y, np.random.default_rng(11))
    # 2 below, no tie: (2 + V)/4; none below: V/4; one below and one tie: (1 + 2V)/4;
    # a point mass equal to y (3 ties): (0 + 4V)/4 = V
    np.testing.assert_allclose(u, [(2 + v[0]) / 4, v[1] / 4, (1 + 2 * v[2]) / 4, v[3]])
    assert 0.5 <= u[0] < 0.75 and 0 <= u[1] < 0.25 and 0.25 <= u[2] < 0.75


def test_coverage_is_the_central_interval_by_the_pit():
    pit = np.array([0.04, 0.05, 0.24, 0.26, 0.5, 0.74, 0.76, 0.95, 0.96])
    np.testing.assert_array_equal(covered(pit, 0.9), [0, 1, 1, 1, 1, 1, 1, 1, 0])
    np.testing.assert_array_equal(covered(pit, 0.5), [0, 0, 0, 1, 1, 1, 0, 0, 0])


@pytest.mark.parametrize("kind", ["continuous", "discrete"])
def test_pit_of_a_calibrated_forecast_is_uniform(kind, stat_seed):
    """y and the m draws from the same distribution: u is uniform on (0, 1) exactly, with ties
    (a Poisson forecast of 5 draws) too. The counts below 0.1, 0.5 and 0.9 and in the central
    90 % fall inside their binomial regions at the failure budget (DESIGN 5)."""
    rng = np.random.default_rng(sub_seeds(stat_seed, 1)[0])
    n, m = 4000, 5
    if kind == "continuous":
        x, y = rng.normal(size=(m, n)), rng.normal(size=n)
    else:
        x, y = rng.poisson(1.5, size=(m, n)).astype(float), rng.poisson(1.5, size=n).astype(float)
    u = randomized_pit(x, y, rng)
    for p, count in ((0.1, (u <= 0.1).sum()), (0.5, (u <= 0.5).sum()), (0.9, (u <= 0.9).sum())):
        lo, hi = binom_acceptance(n, p, m=4)
        assert lo <= count <= hi, (p, count, lo, hi)
    lo, hi = binom_acceptance(n, 0.9, m=4)
    assert lo <= covered(u, 0.9).sum() <= hi


def _rows(**cols):
    base = {"variant": "plain", "series": "collections", "covered_50": True, "covered_90": True}
    frame = pd.DataFrame(cols)
    for k, v in base.items():
        if k not in frame:
            frame[k] = v
    return frame


def test_wape_bias_coverage_and_skill_by_hand():
    rows = _rows(
        horizon=[1, 2, 1, 2],
        realized=[100.0, 50.0, 80.0, 20.0],
        mean=[110.0, 40.0, 80.0, 30.0],
        crps=[6.0, 5.0, 1.0, 4.0],
        naive_abs_error=[20.0, 10.0, 5.0, 5.0],
        covered_50=[True, False, False, True],
        covered_90=[True, True, False, True],
    )
    s = summarize(rows)
    # Σ|ŷ − y| = 10 + 10 + 0 + 10 = 30 over Σ|y| = 250; Σ(ŷ − y) = 10 − 10 + 0 + 10 = 10
    assert s["n"] == 4
    assert s["wape"] == pytest.approx(30 / 250)
    assert s["bias"] == pytest.approx(10 / 250)
    assert s["coverage_50"] == 0.5 and s["coverage_90"] == 0.75
    assert s["crps"] == pytest.approx(4.0) and s["naive_mae"] == pytest.approx(10.0)
    assert s["skill"] == pytest.approx(1 - 16 / 40)
    assert s["mae"] == pytest.approx(7.5)
    table = metrics_table(rows).set_index("horizon")
    assert list(table.index) == ["all", "1", "2"]
    # horizon 1: Σ|err| = 10 over 180, bias +10/180; skill 1 − 7/25
    assert table.loc["1", "wape"] == pytest.approx(10 / 180)
    assert table.loc["1", "bias"] == pytest.approx(10 / 180)
    assert table.loc["1", "skill"] == pytest.approx(1 - 7 / 25)
    assert table.loc["2", "bias"] == pytest.approx(0.0)


def test_ratios_without_a_denominator_are_nan():
    rows = _rows(
        horizon=[1],
        realized=[0.0],
        mean=[0.0],
        crps=[0.0],
        naive_abs_error=[0.0],
    )
    s = summarize(rows)
    assert np.isnan(s["wape"]) and np.isnan(s["bias"]) and np.isnan(s["skill"])
