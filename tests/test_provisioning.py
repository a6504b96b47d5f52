"""Provisioning outputs: the provision matrix (IFRS 9 Illustrative Example 12), the allowance
roll-forward, probability-weighted ECL, the summary keys and the results-folder tables."""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest
from conftest import read_table, z_fail
from factories import BASE, make

from simulator import simulate
from simulator.analytic import implied_rates
from simulator.provisioning import (
    allowance_rollforward,
    provision_matrix,
    weighted_ecl,
)
from simulator.scenario import scenario_from_dict, with_overrides
from simulator.storage import load_results, write_results


def _ifrs9_example_12():
    """IFRS 9 IE12 (paragraphs IE74-IE77): a provision matrix for trade receivables."""
    return scenario_from_dict(
        {
            "scenario": {"name": "IFRS 9 IE12", "currency": "CU"},
            "buckets": {
                "edges_months": [0, 1, 2, 3, 4],
                "labels": ["current", "1-30 dpd", "31-60 dpd", "61-90 dpd", ">90 dpd"],
                "gross": [15_000_000.0, 7_500_000.0, 4_000_000.0, 2_500_000.0, 1_000_000.0],
                "provision_rates": [0.003, 0.016, 0.036, 0.066, 0.106],
            },
            "collections": {"monthly_rate": [0.6, 0.5, 0.4, 0.3, 0.1]},
            "defaults": {"monthly_rate": [0.001, 0.003, 0.008, 0.015, 0.02]},
            "cash": {"opening": 1_000_000.0},
            "simulation": {"paths": 200, "horizon_months": 12, "trajectory_paths": 200},
        }
    )


def test_ifrs9_illustrative_example_12_gives_580000():
    sc = _ifrs9_example_12()
    table = provision_matrix(sc)
    expected = [45_000, 120_000, 144_000, 165_000, 106_000]
    np.testing.assert_allclose(table["allowance"], expected, rtol=1e-12)
    assert table["allowance"].sum() == pytest.approx(580_000, rel=1e-12)
    assert list(table["bucket"]) == sc.labels
    summary = simulate(sc).summary()
    assert summary["allowance_opening"] == pytest.approx(580_000, rel=1e-12)


def test_provision_matrix_carries_the_implied_rates():
    sc = make({"factor.persistence": 0.0})
    imp = implied_rates(sc)
    table = provision_matrix(sc, imp)
    np.testing.assert_array_equal(table["implied_rate"], imp.rates)
    np.testing.assert_allclose(table["implied_allowance"], np.array(sc.buckets.gross) * imp.rates)
    assert table["implied_allowance"].sum() == pytest.approx(imp.lifetime_loss, rel=1e-12)
    np.testing.assert_allclose(table["gap"], imp.rates - np.array(sc.buckets.provision_rates))


@pytest.fixture(scope="module")
def run():
    sc = make(
        {
            "simulation.paths": 3000,
            "simulation.trajectory_paths": 1500,
            "simulation.runoff_paths": 1500,
        }
    )
    return simulate(sc)


def test_rollforward_adds_up_and_matches_the_paths(run):
    table = allowance_rollforward(run)
    H = run.horizon  # 30 months: two full years and a half year
    assert list(table["year"]) == [1, 2, 3]
    assert list(table["month_from"]) == [1, 13, 25] and list(table["month_to"]) == [12, 24, H]
    sc = run.scenario
    opening = float(np.dot(sc.buckets.provision_rates, sc.buckets.gross))
    assert table["opening_mean"].iloc[0] == pytest.approx(opening, rel=1e-12)
    scale = table[["opening_mean", "charge_mean", "write_offs_mean"]].abs().sum(axis=1)
    identity = table["opening_mean"] + table["charge_mean"] - table["write_offs_mean"]
    assert np.all(np.abs(table["closing_mean"] - identity) <= 1e-12 * scale)
    np.testing.assert_array_equal(table["opening_mean"].iloc[1:], table["closing_mean"].iloc[:-1])
    # totals over the horizon equal the per-path totals of the engine, averaged over all paths
    pp = run.per_path
    assert table["charge_mean"].sum() == pytest.approx(pp["charge"].mean(), rel=1e-9)
    assert table["write_offs_mean"].sum() == pytest.approx(pp["credit_loss"].mean(), rel=1e-9)
    # percentiles from the trajectory sample
    traj = run.trajectory
    year2 = slice(13, 25)
    charge2 = traj["charge"][:, year2].sum(axis=1)
    loss2 = traj["credit_loss"][:, year2].sum(axis=1)
    row = table.iloc[1]
    assert row["charge_p5"] == pytest.approx(np.quantile(charge2, 0.05))
    assert row["charge_p95"] == pytest.approx(np.quantile(charge2, 0.95))
    assert row["write_offs_p95"] == pytest.approx(np.quantile(loss2, 0.95))
    assert row["closing_p5"] == pytest.approx(np.quantile(traj["allowance"][:, 24], 0.05))
    assert row["opening_p95"] == pytest.approx(np.quantile(traj["allowance"][:, 12], 0.95))


def test_rollforward_of_a_saved_result_has_means_only(run, tmp_path):
    write_results(run, tmp_path / "r")
    back = allowance_rollforward(load_results(tmp_path / "r"))
    assert not [c for c in back.columns if c.endswith(("_p5", "_p95"))]
    mine = allowance_rollforward(run)[back.columns]
    pd.testing.assert_frame_equal(back, mine, rtol=1e-9)


ECL = [
    {"name": "base", "weight": 0.5, "overrides": {}},
    {
        "name": "downside",
        "weight": 0.3,
        "overrides": {"collections.multiplier": 0.7, "defaults.correlation": 0.3},
    },
    {
        "name": "upside",
        "weight": 0.2,
        "overrides": {"collections.multiplier": 1.2, "buckets.gross[0]": 600.0},
    },
]


def _with_ecl(extra: dict | None = None):
    data = copy.deepcopy(BASE)
    data["ecl_scenarios"] = copy.deepcopy(ECL)
    sc = scenario_from_dict(data, source="<test>")
    return with_overrides(sc, {"simulation.runoff_paths": 2000, **(extra or {})})


def test_weighted_ecl_is_the_weighted_sum_of_the_scenario_ecls():
    sc = _with_ecl()
    w = weighted_ecl(sc)
    assert [s.name for s in w.scenarios] == ["base", "downside", "upside"]
    base = sc.model_copy(update={"ecl_scenarios": None})
    for j, (spec, got) in enumerate(zip(ECL, w.scenarios, strict=True)):
        sub = with_overrides(base, spec["overrides"])
        imp = implied_rates(sub, stream=(2, j))
        # ECL_s = sum over buckets of implied rate x opening gross under the scenario
        ecl = float(np.dot(imp.rates, sub.buckets.gross))
        assert got.ecl == pytest.approx(ecl, rel=1e-12)
        assert got.ecl_se == pytest.approx(imp.lifetime_loss_se, rel=1e-12)
        assert got.weight == spec["weight"] and got.gross == sum(sub.buckets.gross)
    assert w.scenarios[2].gross == 600.0 + 250 + 150 + 100
    assert w.ecl == pytest.approx(sum(s.weight * s.ecl for s in w.scenarios), rel=1e-14)
    assert w.ecl_se == pytest.approx(
        math.sqrt(sum((s.weight * s.ecl_se) ** 2 for s in w.scenarios)), rel=1e-14
    )
    # slower collections lose more
    assert w.scenarios[1].ecl > w.scenarios[0].ecl
    table = w.table()
    assert list(table["name"]) == ["base", "downside", "upside", "weighted"]
    assert table["ecl"].iloc[-1] == w.ecl


def test_ecl_scenarios_run_off_on_independent_streams(stat_seed):
    """The base scenario's ECL is an independent estimate of the implied lifetime loss."""
    sc = _with_ecl({"simulation.seed": stat_seed})
    base = weighted_ecl(sc).scenarios[0]
    main = implied_rates(sc)
    assert base.ecl != main.lifetime_loss
    se = math.hypot(base.ecl_se, main.lifetime_loss_se)
    assert abs(base.ecl - main.lifetime_loss) <= z_fail() * se


def test_weighted_ecl_is_exact_with_independent_months():
    sc = _with_ecl({"factor.persistence": 0.0})
    w = weighted_ecl(sc)
    assert all(s.method == "exact" and s.ecl_se == 0 for s in w.scenarios) and w.ecl_se == 0
    assert w.scenarios[0].ecl == pytest.approx(implied_rates(sc).lifetime_loss, rel=1e-14)


def test_no_ecl_scenarios_no_weighted_ecl():
    assert weighted_ecl(make()) is None


def test_summary_has_implied_rates_coverage_and_weighted_ecl(tmp_path):
    sc = _with_ecl({"simulation.paths": 500, "simulation.trajectory_paths": 200})
    res = simulate(sc)
    s = res.summary()
    assert res.analytics() is res.analytics(), "computed once per result"
    imp = implied_rates(sc)
    assert s["implied_rates"] == dict(zip(sc.labels, imp.rates.tolist(), strict=True))
    assert list(s["implied_rates_se"]) == sc.labels
    assert s["implied_lifetime_loss"] == imp.lifetime_loss
    assert s["implied_lifetime_loss_se"] == imp.lifetime_loss_se > 0
    assert s["allowance_coverage"] == pytest.approx(
        s["allowance_opening"] / s["implied_lifetime_loss"], rel=1e-14
    )
    assert s["implied_method"] == "runoff" and s["implied_runoff"]["paths"] == 2000
    w = weighted_ecl(sc)
    assert s["ecl_weighted"] == w.ecl and s["ecl_weighted_se"] == w.ecl_se
    assert [e["name"] for e in s["ecl_scenarios"]] == ["base", "downside", "upside"]

    write_results(res, tmp_path / "r")
    folder = tmp_path / "r"
    matrix = read_table(folder / "provision_matrix.csv")
    assert list(matrix["bucket"]) == [*sc.labels, "total"]
    assert matrix["allowance"].iloc[-1] == pytest.approx(s["allowance_opening"], rel=1e-9)
    assert matrix["implied_allowance"].iloc[-1] == pytest.approx(imp.lifetime_loss, rel=1e-9)
    ecl = read_table(folder / "ecl_scenarios.csv")
    assert ecl["ecl"].iloc[-1] == pytest.approx(w.ecl, rel=1e-9)
    roll = read_table(folder / "provisioning.csv")
    assert len(roll) == math.ceil(res.horizon / 12)


def test_summary_without_ecl_scenarios_and_exact_rates():
    sc = make({"factor.persistence": 0.0, "simulation.paths": 300})
    s = simulate(sc).summary()
    assert s["implied_method"] == "exact" and s["implied_runoff"] is None
    assert set(s["implied_rates_se"].values()) == {0.0}
    assert s["ecl_weighted"] is None and s["ecl_scenarios"] is None
