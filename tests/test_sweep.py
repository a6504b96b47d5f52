"""Sweeps, reverse stress tests and sensitivity in the library (simulator.sweep): designs, common
random numbers, the point runner, root finding checked by a dense grid, one-at-a-time moves."""

from __future__ import annotations

import math
import os
import signal
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
from factories import make
from matplotlib.figure import Figure

from simulator import simulate, with_overrides
from simulator import sweep as sw
from simulator.scenario import ScenarioError, scenario_from_dict
from simulator.sweep import sensitivity_figures, solve_figures, sweep_figures

#: Small and quick: two blocks of paths (4096 + 904), two years, a short run-off for the implied
#: rates of the summary.
SMALL = {"simulation.paths": 5000, "simulation.horizon_months": 24, "simulation.runoff_paths": 50}


@pytest.fixture
def base():
    return make(SMALL)


@pytest.fixture
def runner():
    with sw.open_executor("local", 1) as (executor, slots):
        yield sw.PointRunner(executor, slots=slots)


class _Counting(ThreadPoolExecutor):
    submitted = 0

    def submit(self, fn, /, *args, **kwargs):
        type(self).submitted += 1
        return super().submit(fn, *args, **kwargs)


def _without_wall(summary):
    return {k: v for k, v in summary.items() if k not in ("wall_seconds", "scenario")}


# --------------------------------------------------------------------------------------------
# Designs


def test_grid_is_the_product_with_clean_values(base):
    d = sw.grid_design(base, ["collections.multiplier=0.5:1.5:11", "defaults.correlation=0,0.1"])
    assert d.kind == "grid" and d.fields == ("collections.multiplier", "defaults.correlation")
    assert len(d) == 22
    assert [v[0] for v in d.values[::2]] == [0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5]
    assert d.values[:3] == ((0.5, 0.0), (0.5, 0.1), (0.6, 0.0))  # first field varies slowest
    assert d.params(3) == {"collections.multiplier": 0.6, "defaults.correlation": 0.1}


def test_grid_of_an_integer_field_and_of_a_list_item(base):
    d = sw.grid_design(base, ["simulation.horizon_months=12:36:3"])
    assert d.values == ((12,), (24,), (36,)) and all(isinstance(v[0], int) for v in d.values)
    d = sw.grid_design(base, ["collections.monthly_rate[1]=0.1,0.2"])
    points = sw.make_points(base, d)
    assert [p.scenario.collections.monthly_rate[1] for p in points] == [0.1, 0.2]
    assert points[0].scenario.collections.monthly_rate[0] == base.collections.monthly_rate[0]


def test_the_scenarios_sweep_table_is_the_default_design():
    raw = make(SMALL).model_dump(mode="python")
    raw["sweep"] = {"collections.multiplier": "0.5:1.5:3", "revenue.volatility": [0.1, 0.3]}
    sc = scenario_from_dict(raw, source="<test>")
    d = sw.table_design(sc)
    assert d.fields == ("collections.multiplier", "revenue.volatility")
    assert d.values == ((0.5, 0.1), (0.5, 0.3), (1.0, 0.1), (1.0, 0.3), (1.5, 0.1), (1.5, 0.3))
    with pytest.raises(ScenarioError, match="--param: give --param"):
        sw.table_design(make(SMALL))


def test_sobol_sample_is_seeded_scaled_and_rounded_for_integers(base):
    params = ["collections.multiplier=0.5:1.5", "simulation.horizon_months=12:36"]
    a = sw.sobol_design(base, params, 16, rng=3)
    assert a.kind == "sobol" and len(a) == 16
    m = np.array([v[0] for v in a.values])
    h = [v[1] for v in a.values]
    assert ((m >= 0.5) & (m <= 1.5)).all() and all(isinstance(x, int) and 12 <= x <= 36 for x in h)
    # a low-discrepancy sample: every eighth of the range holds two of the 16 points
    assert np.bincount(((m - 0.5) * 8).astype(int), minlength=8).tolist() == [2] * 8
    assert sw.sobol_design(base, params, 16, rng=3) == a
    assert sw.sobol_design(base, params, 16, rng=4) != a
    assert sw.sobol_design(base, params, 5, rng=3).values == a.values[:5]
    # SPEC 7: a Generator works as well as its seed, and is used, not copied
    gen = np.random.default_rng(3)
    assert sw.sobol_design(base, params, 16, rng=gen) == a
    assert sw.sobol_design(base, params, 16, rng=gen) != a


@pytest.mark.parametrize(
    "param, field, reason",
    [
        ("collections.multipler=1,2", "collections.multipler", "did you mean 'multiplier'"),
        ("colections.multiplier=1,2", "colections.multiplier", "unknown section"),
        ("collections.multiplier", "--param", "expected FIELD=start:stop:num"),
        ("collections.multiplier=0.5:1.5", "collections.multiplier", "start:stop:num"),
        ("collections.multiplier=1:2:x", "collections.multiplier", "num must be a whole number"),
        ("collections.multiplier=1,,2", "collections.multiplier", "expected start:stop:num"),
        ("collections.multiplier=a,b", "collections.multiplier", "'a' is not a number"),
        ("collections.multiplier=1,nan", "collections.multiplier", "not a finite number"),
        ("collections.monthly_rate=0.1,0.2", "collections.monthly_rate", "is not a number"),
        ("scenario.name=1,2", "scenario.name", "is not a number"),
        ("simulation.horizon_months=12.5", "simulation.horizon_months", "not a whole number"),
        ("collections.monthly_rate[9]=0.1", "collections.monthly_rate[9]", "index out of range"),
    ],
)
def test_bad_params_are_one_line_errors(base, param, field, reason):
    with pytest.raises(ScenarioError) as err:
        sw.grid_design(base, [param])
    assert err.value.field == field and reason in err.value.reason
    assert "\n" not in str(err.value)


def test_values_out_of_range_are_caught_before_anything_runs(base):
    d = sw.grid_design(base, ["collections.multiplier=50:150:3"])
    with pytest.raises(ScenarioError) as err:
        sw.make_points(base, d)
    assert str(err.value) == "<test>: collections.multiplier: must be ≤ 100, got 150"


# --------------------------------------------------------------------------------------------
# Points, common random numbers, the runner


def test_a_point_is_the_simulation_of_its_scenario_bit_for_bit(base, runner):
    d = sw.grid_design(base, ["collections.multiplier=0.7,1.3"])
    outcomes = runner.run(sw.make_points(base, d))
    for o in outcomes:
        direct = simulate(with_overrides(base, o.point.params)).summary()
        assert _without_wall(o.summary) == _without_wall(direct)


def test_swept_curve_is_monotone_under_common_random_numbers(base, runner):
    d = sw.grid_design(base, ["collections.multiplier=0.6:1.6:11"])
    table = sw.sweep_table(runner.run(sw.make_points(base, d)), d.fields)
    p12 = table["p_runway_le_12"].to_numpy()
    loss = table["credit_loss_mean"].to_numpy()
    assert p12[0] > 0.3 and p12[-1] < 0.02  # the range matters
    # faster collections: every path's cash is higher, so P(runway <= 12) cannot rise and the
    # loss falls, exactly, not just within noise
    assert (np.diff(p12) <= 0).all() and (np.diff(loss) < 0).all()
    # the same curve with a different seed at every point is noisy: the CRN differences are
    # far more precise than the SE of each point
    noisy = [
        simulate(
            with_overrides(base, {"collections.multiplier": m, "simulation.seed": i})
        ).summary()["credit_loss_mean"]
        for i, m in enumerate(table["collections.multiplier"][:3])
    ]
    crn_steps = np.diff(loss[:3])
    assert not np.allclose(np.diff(noisy), crn_steps, rtol=1e-3)


def test_different_seeds_give_different_numbers(base, runner):
    tables = []
    for seed in (1, 2):
        sc = with_overrides(base, {"simulation.seed": seed})
        d = sw.grid_design(sc, ["collections.multiplier=0.8,1.2"])
        points = sw.make_points(sc, d)
        tables.append(sw.sweep_table(runner.run(points), d.fields))
    a, b = tables
    for col in ("p_runway_le_12", "credit_loss_mean", "cash_end_mean"):
        assert (a[col] != b[col]).all(), col
    assert set(a["point"]).isdisjoint(b["point"])


def test_point_keys_change_with_parameters_paths_and_seed_only(base):
    key = sw.make_point(base, {"collections.multiplier": 0.8}).key
    assert sw.make_point(base, {"collections.multiplier": 0.8}).key == key
    for change in (
        {"collections.multiplier": 0.81},
        {"simulation.paths": 5001},
        {"simulation.seed": 12},
    ):
        assert sw.make_point(base, {"collections.multiplier": 0.8, **change}).key != key


def test_whole_point_tasks_and_block_tasks_give_the_same_numbers(base):
    d = sw.grid_design(base, ["collections.multiplier=0.8,1.0,1.2"])
    points = sw.make_points(base, d)
    tables = []
    for slots in (1, 8):  # three points on one slot: a task a point; on eight: a task a block
        with _Counting(max_workers=2) as ex:
            before = _Counting.submitted
            tables.append(sw.sweep_table(sw.PointRunner(ex, slots=slots).run(points), d.fields))
            tasks = _Counting.submitted - before
        assert tasks == (3 if slots == 1 else 6)
    pd.testing.assert_frame_equal(
        tables[0].drop(columns="wall_seconds"), tables[1].drop(columns="wall_seconds")
    )


def test_flattening_and_standard_error_names():
    flat = sw.flatten_summary(
        {
            "p": 0.1,
            "p_se": 0.01,
            "runway_quantiles": {"p50": 12},
            "implied_rates": {"0-6m": 0.05},
            "implied_rates_se": {"0-6m": 0.001},
            "ecl_scenarios": [{"name": "down", "ecl": 3.0}],
            "scenario": {"ignored": 1},
        }
    )
    assert flat == {
        "p": 0.1,
        "p_se": 0.01,
        "runway_quantiles.p50": 12,
        "implied_rates.0-6m": 0.05,
        "implied_rates_se.0-6m": 0.001,
        "ecl_scenarios[0].name": "down",
        "ecl_scenarios[0].ecl": 3.0,
    }
    assert sw.se_name("p", flat) == "p_se"
    assert sw.se_name("implied_rates.0-6m", flat) == "implied_rates_se.0-6m"
    assert sw.se_name("runway_quantiles.p50", flat) is None


def test_runner_skips_known_points_and_reports_each_new_one(base):
    d = sw.grid_design(base, ["collections.multiplier=0.8,1.0,1.2"])
    points = sw.make_points(base, d)
    _Counting.submitted = 0
    with _Counting(max_workers=2) as ex:
        first = sw.PointRunner(ex, slots=2).run(points[:2])
    assert _Counting.submitted == 4  # two points of two blocks
    seen = []
    done = {o.point.key: o.summary for o in first}
    with _Counting(max_workers=2) as ex:
        runner = sw.PointRunner(ex, slots=2, done=done, on_point=seen.append)
        again = runner.run(points)
    assert _Counting.submitted == 6 and runner.computed == 1
    assert [o.cached for o in again] == [True, True, False]
    assert [o.point.index for o in seen] == [2]
    assert again[0].summary == first[0].summary


def test_a_failed_point_is_reported_and_the_others_finish(base, monkeypatch):
    real = sw._runner._run_block_task

    def flaky(prm, block_index, n, seed):
        if math.isclose(prm.collection_scale[0], 1.0) and block_index == 1:
            raise ValueError("disk on fire")
        return real(prm, block_index, n, seed)

    monkeypatch.setattr(sw._runner, "_run_block_task", flaky)
    d = sw.grid_design(base, ["collections.multiplier=0.8,1.0,1.2"])
    seen = []
    with ThreadPoolExecutor(max_workers=2) as ex:
        outcomes = sw.PointRunner(ex, slots=2, on_point=seen.append).run(sw.make_points(base, d))
    assert [o.ok for o in outcomes] == [True, False, True]
    assert outcomes[1].error == "ValueError: disk on fire"
    assert outcomes[1].point.params == {"collections.multiplier": 1.0}
    assert sorted(o.point.index for o in seen) == [0, 1, 2]
    table = sw.sweep_table(outcomes, d.fields)
    assert table["collections.multiplier"].tolist() == [0.8, 1.2]


@pytest.mark.parametrize("renewals", [3, 0])
def test_a_killed_local_worker_is_replaced_or_its_points_fail(base, renewals):
    d = sw.grid_design(base, ["collections.multiplier=0.6:1.3:8"])
    points = sw.make_points(base, d)
    with sw.open_executor("local", 2) as (pool, slots):
        killed = []

        def kill_a_worker(outcome):
            if not killed:
                killed.append(pool.pids[0])
                os.kill(killed[0], signal.SIGKILL)

        runner = sw.PointRunner(pool, slots=slots, on_point=kill_a_worker)
        runner.MAX_RENEWALS = renewals
        outcomes = runner.run(points)
    assert killed
    if renewals:  # a fresh pool takes over: every point finishes, with the same numbers
        assert runner.renewals >= 1 and all(o.ok for o in outcomes)
        with sw.open_executor("local", 1) as (ex, slots):
            again = sw.PointRunner(ex, slots=slots).run(points)
        assert [o.summary["p_runway_le_12"] for o in outcomes] == [
            o.summary["p_runway_le_12"] for o in again
        ]
    else:  # no replacement: the points not finished fail, the finished ones are kept
        failed = [o for o in outcomes if not o.ok]
        assert failed and any(o.ok for o in outcomes)
        assert all(o.error.startswith("BrokenProcessPool") for o in failed)


def test_table_flattens_nested_keys_and_keeps_every_se(base, runner):
    d = sw.grid_design(base, ["collections.multiplier=1.0"])
    table = sw.sweep_table(runner.run(sw.make_points(base, d)), d.fields)
    cols = set(table.columns)
    assert list(table.columns[:2]) == ["collections.multiplier", "p_runway_le_12"]
    assert {"runway_quantiles.p50", "disclosed_rates.0-3m", "credit_loss_mean_se"} <= cols
    for col in cols:
        if col.endswith("_se"):
            assert col.removesuffix("_se") in cols
    assert "scenario" not in cols and "point" in cols


# --------------------------------------------------------------------------------------------
# Reverse stress test


def test_solve_lands_on_the_target_within_its_interval_checked_by_a_dense_grid(base, runner):
    target = 0.1
    res = sw.solve(base, "collections.multiplier", "p_runway_le_12", target, runner)
    assert res.bracket == (0.25, 4.0) and res.converged
    lo, hi = res.interval
    assert lo < res.value < hi
    assert abs(res.metric_at_value - target) <= 2 * res.metric_se_at_value
    # the dense grid, on the same random numbers
    step = 0.003
    grid = np.round(np.arange(0.94, 1.06 + 1e-9, step), 6)
    d = sw.grid_design(base, ["collections.multiplier=" + ",".join(map(str, grid))])
    table = sw.sweep_table(runner.run(sw.make_points(base, d)), d.fields)
    m = table["p_runway_le_12"].to_numpy()
    se = table["p_runway_le_12_se"].to_numpy()
    above = grid[m > target]
    below = grid[m <= target]
    assert above.max() < below.min()  # monotone, and it crosses inside the grid
    assert above.max() - 1e-3 <= res.value <= below.min() + 1e-3
    consistent = grid[np.abs(m - target) <= 2 * se]
    assert lo - step <= consistent.min() and consistent.max() <= hi + step
    outside = grid[(grid < lo - step) | (grid > hi + step)]
    assert (np.abs(m[np.isin(grid, outside)] - target) > 2 * se[np.isin(grid, outside)]).all()
    fig = solve_figures(res, scenario=base)["solve"]
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel() and ax.get_legend()


def test_solve_on_a_continuous_metric_hits_the_target(base, runner):
    res = sw.solve(
        base, "collections.multiplier", "credit_loss_mean", 250.0, runner, bracket=(0.5, 2.0)
    )
    assert res.metric_at_value == pytest.approx(250.0, abs=0.05)
    assert res.interval[0] < res.value < res.interval[1]


def test_solve_reports_null_when_the_target_is_not_crossed(base, runner):
    res = sw.solve(
        base, "collections.multiplier", "p_runway_le_12", 0.9, runner, bracket=(1.0, 2.0)
    )
    assert res.value is None and res.interval is None
    assert all(m < 0.9 for m in res.metric_at_bracket)
    assert len(res.evaluations) == 2
    assert res.to_dict()["value"] is None


def test_default_bracket_is_a_quarter_to_four_times_clipped_to_the_valid_range():
    sc = make({"defaults.correlation": 0.5, "revenue.credit_share": 0.8})
    assert sw.default_bracket(sc, "collections.multiplier") == (0.25, 4.0)
    lo, hi = sw.default_bracket(sc, "defaults.correlation")  # [0, 1)
    assert lo == 0.125 and 0.999999 < hi < 1.0
    assert sw.default_bracket(sc, "revenue.credit_share") == (0.2, 1.0)
    assert sw.default_bracket(sc, "cash.opening") == (75.0, 1200.0)
    with pytest.raises(ScenarioError, match="give --bracket"):
        sw.default_bracket(make({"defaults.correlation": 0.0}), "defaults.correlation")


# --------------------------------------------------------------------------------------------
# Sensitivity


def test_sensitivity_moves_clips_and_ranks(runner):
    sc = make({**SMALL, "defaults.correlation": 0.0, "revenue.credit_share": 1.0})
    fields = [
        "collections.multiplier",
        "defaults.correlation",
        "revenue.credit_share",
        "simulation.horizon_months",
        "defaults.monthly_rate",
    ]
    res = sw.sensitivity(sc, fields, runner, delta=0.1)
    moves = {mv["field"]: mv for mv in res.moves}
    assert (moves["collections.multiplier"]["low"], moves["collections.multiplier"]["high"]) == (
        pytest.approx(0.9),
        pytest.approx(1.1),
    )
    # 0 moves by the absolute delta, and cannot go below its bound
    assert moves["defaults.correlation"]["low"] is None
    assert moves["defaults.correlation"]["high"] == 0.1
    assert moves["revenue.credit_share"]["high"] is None  # at its bound 1
    assert moves["revenue.credit_share"]["low"] == pytest.approx(0.9)
    assert (
        moves["simulation.horizon_months"]["low"],
        moves["simulation.horizon_months"]["high"],
    ) == (
        22,
        26,
    )
    assert moves["defaults.monthly_rate"]["high"] == pytest.approx(
        [x * 1.1 for x in sc.defaults.monthly_rate]
    )
    table = res.table()
    assert list(table["swing"]) == sorted(table["swing"], reverse=True)
    assert table["field"].iloc[0] == "collections.multiplier"
    row = table.set_index("field").loc["collections.multiplier"]
    direct = simulate(with_overrides(sc, {"collections.multiplier": 1.1})).summary()
    assert row["metric_high"] == direct["p_runway_le_12"]
    assert row["change_high"] == direct["p_runway_le_12"] - row["metric_base"]
    assert not res.failed
    fig = sensitivity_figures(table, scenario=sc, delta=0.1)["tornado"]
    ax = fig.axes[0]
    labels = {t.get_position()[1]: t.get_text() for t in ax.get_yticklabels()}
    assert labels[max(labels)] == "collections.multiplier"  # largest effect on top
    assert ax.get_title() and ax.get_xlabel() and ax.get_legend()


def test_sensitivity_rejects_bad_requests(base, runner):
    with pytest.raises(ScenarioError, match="--delta"):
        sw.sensitivity(base, ["collections.multiplier"], runner, delta=0)
    with pytest.raises(ScenarioError, match="did you mean 'multiplier'"):
        sw.sensitivity(base, ["collections.multipler"], runner)
    with pytest.raises(ScenarioError, match="did you mean"):
        sw.sensitivity(base, ["collections.multiplier"], runner, metric="p_runway_le_13")


# --------------------------------------------------------------------------------------------
# Plots


def test_sweep_plots_have_titles_labels_with_units_and_legends(base, runner):
    d1 = sw.grid_design(base, ["collections.multiplier=0.8,1.0,1.2"])
    t1 = sw.sweep_table(runner.run(sw.make_points(base, d1)), d1.fields)
    figs = sweep_figures(t1, d1.fields, ["p_runway_le_12", "credit_loss_mean"], scenario=base)
    assert set(figs) == {"p_runway_le_12", "credit_loss_mean"}
    ax, panel = figs["credit_loss_mean"].axes  # the curve, and its ±2 SE on a panel below
    assert "CNY million" in ax.get_ylabel() and "multiplier" in panel.get_xlabel()
    assert ax.get_title() and ax.get_legend()
    d2 = sw.grid_design(base, ["collections.multiplier=0.8,1.0,1.2", "cash.opening=250,350"])
    t2 = sw.sweep_table(runner.run(sw.make_points(base, d2)), d2.fields)
    figs = sweep_figures(t2, d2.fields, ["p_runway_le_12"], scenario=base, level=0.1)
    ax = figs["p_runway_le_12"].axes[0]
    assert "CNY million" in ax.get_ylabel() and ax.get_legend()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "P(runway ≤ 12 months) = 10 %" in legend
    assert sweep_figures(t2.iloc[:0], d2.fields, ["p_runway_le_12"], scenario=base) == {}


def test_table_round_trips_through_parquet(base, runner, tmp_path):
    d = sw.grid_design(base, ["collections.multiplier=0.8,1.2"])
    table = sw.sweep_table(runner.run(sw.make_points(base, d)), d.fields)
    table.to_parquet(tmp_path / "t.parquet", index=False)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), table)
