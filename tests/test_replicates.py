"""Parameter replicates (DESIGN 2.14): a table of identical rows equal to the scenario gives the
plain run bit for bit; paths are assigned to replicates in a balanced way that draws from no
block's stream; the random-effects estimates recover a known between-group variance; bad tables
are refused in one line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import IFLYTEK, Z_FAIL
from factories import make

from simulator import load_scenario, simulate, with_overrides
from simulator.engine import simulate_paths
from simulator.scenario import ScenarioError, replicate_rows
from simulator.uncertainty import random_effects


def _same_as_scenario(sc, n_rows: int) -> pd.DataFrame:
    cols = {f"collections.monthly_rate[{i}]": sc.collections.monthly_rate[i] for i in range(4)}
    cols |= {f"defaults.monthly_rate[{i}]": sc.defaults.monthly_rate[i] for i in range(4)}
    cols |= {
        "collections.multiplier": sc.collections.multiplier,
        "collections.factor_loading": sc.collections.factor_loading,
        "defaults.correlation": sc.defaults.correlation,
    }
    return pd.DataFrame([cols] * n_rows)


@pytest.mark.parametrize(
    "extra",
    [{}, {"defaults.correlation": 0.0, "collections.factor_loading": 0.0}],
    ids=["factor", "no_factor"],
)
def test_identical_rows_equal_to_the_scenario_give_the_plain_run_bit_for_bit(extra):
    sc = make({**extra, "simulation.paths": 9000, "simulation.trajectory_paths": 500})
    rows = replicate_rows(sc, _same_as_scenario(sc, 7), "t")
    plain, mixed = simulate_paths(sc), simulate_paths(sc, replicates=rows)
    for key, values in plain.per_path.items():
        np.testing.assert_array_equal(values, mixed.per_path[key], err_msg=key)
    a = plain.monthly.select_dtypes("number").to_numpy()
    b = mixed.monthly.select_dtypes("number").to_numpy()
    np.testing.assert_array_equal(a, b)


def test_paths_are_assigned_to_replicates_in_a_balanced_seeded_way():
    sc = make({"simulation.paths": 5000})
    rows = replicate_rows(sc, pd.DataFrame({"collections.multiplier": [0.9, 1.0, 1.1]}), "t")
    res = simulate_paths(sc, replicates=rows)
    rep = res.per_path["replicate"]
    assert sorted(np.bincount(rep).tolist()) == [1666, 1667, 1667]  # path n: perm[n mod 3]
    np.testing.assert_array_equal(rep[:3], rep[3:6])  # the same permutation every R paths
    again = simulate_paths(sc, replicates=rows)
    np.testing.assert_array_equal(rep, again.per_path["replicate"])
    other = simulate_paths(with_overrides(sc, {"simulation.seed": 12}), replicates=rows)
    assert sorted(other.per_path["replicate"][:3]) == [0, 1, 2]


def test_a_faster_replicate_collects_more_on_the_same_paths():
    sc = make({"simulation.paths": 6000})
    rows = replicate_rows(sc, pd.DataFrame({"collections.multiplier": [0.7, 1.3]}), "t")
    res = simulate_paths(sc, replicates=rows)
    rep, coll = res.per_path["replicate"], res.per_path["collections"]
    assert coll[rep == 1].mean() > coll[rep == 0].mean()


def test_random_effects_recover_a_known_between_group_variance(stat_seed):
    rng = np.random.default_rng(stat_seed)
    r, n_r, sd_theta, sd_within = 200, 50, 0.5, 2.0
    theta = rng.normal(0.0, sd_theta, r)
    groups = np.repeat(np.arange(r), n_r)
    y = theta[groups] + rng.normal(0.0, sd_within, r * n_r)
    est = random_effects(y, groups, r)
    # Var(MSB) for a balanced design: the estimate's SE from its sampling distribution
    var_msb = 2 * (n_r * sd_theta**2 + sd_within**2) ** 2 / (r - 1)
    var_msw = 2 * sd_within**4 / (r * (n_r - 1))
    se = np.sqrt(var_msb + var_msw) / n_r
    assert abs(est["var_theta"] - sd_theta**2) < Z_FAIL * se
    assert est["n0"] == pytest.approx(n_r)
    share = sd_theta**2 / (sd_theta**2 + sd_within**2)
    assert abs(est["share"] - share) < Z_FAIL * se / (sd_theta**2 + sd_within**2) * 2


def test_equal_groups_have_no_parameter_risk():
    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(20), 30)
    y = rng.normal(1.0, 1.0, 600)
    y -= np.bincount(groups, weights=y)[groups] / 30 - y.mean()  # every group mean the same
    est = random_effects(y, groups, 20)
    assert est["var_theta"] == 0.0 and est["share"] == 0.0
    np.testing.assert_allclose(est["shrunk"], y.mean())


def test_the_summary_reports_parameter_risk_against_the_point_estimate():
    sc = with_overrides(load_scenario(IFLYTEK), {"simulation.runoff_paths": 500})
    table = pd.DataFrame({"collections.multiplier": [0.9, 1.1]})
    res = simulate(sc, paths=1000, replicates=table)
    risk = res.summary()["parameter_risk"]
    point = simulate(sc, paths=1000).summary(analytics=False)
    assert risk["p_runway_le_12"]["point"] == point["p_runway_le_12"]
    assert risk["p_runway_le_12"]["mixture"] == res.summary()["p_runway_le_12"]
    assert risk["replicates"] == 2 and risk["paths_per_replicate"] == 500
    assert risk["credit_loss_mean"]["share"] > 0
    assert risk["cash_end_mean"]["range_5_95"] is not None

    curves = risk["runway_survival"]
    plain = simulate(sc, paths=1000).per_path["runway"]
    months = np.arange(sc.simulation.horizon_months + 1)
    np.testing.assert_array_equal(curves["point"], [np.mean(plain > t) for t in months])
    mixed = res.per_path["runway"]
    np.testing.assert_array_equal(curves["mixture"], [np.mean(mixed > t) for t in months])
    # with two replicates the band runs between the two shrunk curves, around the mixture
    lo, hi = np.array(curves["band_5"]), np.array(curves["band_95"])
    assert np.all(lo <= np.array(curves["mixture"]) + 1e-12)
    assert np.all(np.array(curves["mixture"]) <= hi + 1e-12)
    assert np.any(hi - lo > 0)


def test_the_runway_plot_shows_the_point_curve_and_the_band():
    from matplotlib.figure import Figure

    from simulator.plots import plot_runway

    sc = with_overrides(load_scenario(IFLYTEK), {"simulation.runoff_paths": 500})
    res = simulate(sc, paths=1000, replicates=pd.DataFrame({"collections.multiplier": [0.8, 1.2]}))
    ax = plot_runway(res, Figure().add_subplot())
    labels = ax.get_legend().get_texts()
    shown = {t.get_text() for t in labels}
    assert {"P(runway > t) at the file's rates", "5–95 % over the rate replicates"} <= shown
    assert "P(runway > t), with parameter risk" in shown


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ({"collections.multiplier": [1.0]}, "needs 2 to 10,000 rows"),
        ({"cash.opening": [1.0, 2.0]}, "not a hazard parameter"),
        ({"collections.monthly_rate[9]": [0.1, 0.2]}, "index out of range"),
        ({"collections.multiplier": [1.0, float("nan")]}, "row 2: collections.multiplier"),
        ({"defaults.correlation": [0.1, 1.0]}, "row 2: defaults.correlation: must be < 1"),
        ({"debtors.city.correlation": [0.1, 0.2]}, "cannot vary by replicate yet"),
    ],
)
def test_bad_tables_are_refused_with_the_row_and_column(table, words):
    with pytest.raises(ScenarioError, match=words.replace("(", r"\(")) as info:
        replicate_rows(make(), pd.DataFrame(table), "reps.csv")
    assert str(info.value).startswith("reps.csv: ")


def test_fewer_than_two_paths_a_replicate_is_refused():
    rows = replicate_rows(make(), pd.DataFrame({"collections.multiplier": [1.0] * 50}), "t")
    with pytest.raises(ScenarioError, match="need at least 100 paths"):
        simulate_paths(make({"simulation.paths": 99}), replicates=rows)


def test_a_constant_figure_has_no_parameter_risk_and_no_warning():
    """An event no path reaches (P(runway <= 12) = 0 on every path) has no spread at all."""
    import warnings

    groups = np.repeat(np.arange(5), 10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = random_effects(np.zeros(50), groups, 5)
    assert est["share"] == 0.0 and est["var_theta"] == 0.0
    np.testing.assert_array_equal(est["shrunk"], 0.0)
