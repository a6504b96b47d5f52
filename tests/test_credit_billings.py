"""Realized credit billings (DESIGN 2.15): ``revenue.credit_billings`` replaces sigma · Rev_t as
what enters age 0, leaves revenue, cash sales and every random draw as they were, and keeps the
identities of 2.7 with B_t in place of sigma · Rev_t."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_identities, assert_one_line_error, run_traced
from factories import make

from simulator import simulate, with_overrides
from simulator.analytic import expected_trajectory
from simulator.cli import main
from simulator.scenario import ScenarioError, scenario_toml

H = 30  # the test book's horizon
BILLED = [40.0 + 3.0 * t for t in range(H)]


@pytest.mark.parametrize("extra", [{}, {"defaults.write_off_after_months": 18}])
def test_the_identities_hold_with_realized_billings(extra):
    sc = make({**extra, "revenue.credit_billings": BILLED})
    assert_identities(run_traced(sc, n=300))


def test_the_billings_enter_age_0_and_nothing_random_moves():
    base = make({"simulation.trajectory_paths": 200})
    billed = simulate(with_overrides(base, {"revenue.credit_billings": BILLED}), paths=200)
    plain = simulate(base, paths=200)
    # revenue (and so cash sales) and the factor are unchanged: the same draws
    np.testing.assert_array_equal(
        billed.monthly["revenue_mean"].to_numpy(), plain.monthly["revenue_mean"].to_numpy()
    )
    # month 1's new age-0 balance is B_1 on every path (the sample holds age-0 in gross of 0-3m)
    young = billed.trajectory["gross_0-3m"][:, 1]
    old_young = plain.trajectory["gross_0-3m"][:, 1]
    credit_rev = 0.8 * plain.trajectory["revenue"][:, 1]  # sigma = 0.8 in the test book
    np.testing.assert_allclose(young - BILLED[0], old_young - credit_rev, rtol=1e-12, atol=1e-9)


def test_the_expected_trajectory_with_realized_billings_is_the_engine_s_without_a_factor():
    sc = make(
        {
            "factor.persistence": 0.0,
            "collections.factor_loading": 0.0,
            "defaults.correlation": 0.0,
            "revenue.volatility": 0.0,
            "revenue.credit_billings": BILLED,
        }
    )
    exact = expected_trajectory(sc)
    res = simulate(sc, paths=50)
    for name in ("gross", "collections", "credit_loss", "cash"):
        np.testing.assert_allclose(res.monthly[f"{name}_mean"], exact[name], rtol=1e-12)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (BILLED[:-1], "must have one number per month of the horizon (30), got 29"),
        ([*BILLED[:-1], -1.0], "must be ≥ 0, got -1"),
        ([*BILLED[:-1], "x"], "expected a number"),
        ([*BILLED[:-1], float("nan")], "finite"),
    ],
)
def test_bad_billings_are_refused_in_one_line(tmp_path, capsys, value, reason):
    with pytest.raises(ScenarioError, match=r"revenue\.credit_billings"):
        with_overrides(make(), {"revenue.credit_billings": value})
    path = tmp_path / "b.toml"
    text = scenario_toml(make()).replace(
        "[revenue]",
        "[revenue]\ncredit_billings = " + repr(value).replace("nan", "nan").replace("'", '"'),
    )
    path.write_text(text)
    assert main(["validate", str(path)]) == 2
    assert_one_line_error(capsys.readouterr().err, "revenue.credit_billings", reason)
