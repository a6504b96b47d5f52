"""Summary statistics (DESIGN 2.6, 2.9) against direct computations, and the plots' data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from factories import make
from matplotlib.figure import Figure

from simulator import plot_aging, plot_allowance, plot_cash_fan, plot_runway, simulate
from simulator.plots import make_figures
from simulator.results import runway_summary


def _brute_quantile(runway, horizon, q):
    n = len(runway)
    for t in range(horizon + 1):
        if np.count_nonzero(runway <= t) / n >= q:
            return t
    return None


@pytest.mark.parametrize("seed", range(5))
def test_runway_probabilities_and_quantiles_match_their_definitions(seed):
    rng = np.random.default_rng(seed)
    horizon = int(rng.integers(1, 40))
    n = int(rng.integers(1, 400))
    runway = rng.integers(0, horizon + 2, size=n).astype(np.int16)
    out = runway_summary(runway, horizon)
    for key, k in (
        ("p_runway_le_12", 12),
        ("p_runway_le_24", 24),
        ("p_runway_le_horizon", horizon),
    ):
        if horizon < k:
            assert out[key] is None and out[f"{key}_se"] is None
        else:
            p = np.count_nonzero(runway <= k) / n
            assert out[key] == p
            assert out[f"{key}_se"] == pytest.approx(math.sqrt(p * (1 - p) / n))
    for q in (5, 25, 50, 75, 95):
        assert out["runway_quantiles"][f"p{q}"] == _brute_quantile(runway, horizon, q / 100)


def test_quantile_on_an_exact_boundary_and_the_rule_of_three():
    # 1 of 20 paths runs out in month 3: P(tau <= 3) = 0.05 exactly, so p5 = 3
    runway = np.array([3] + [31] * 19, dtype=np.int16)
    out = runway_summary(runway, 30)
    assert out["runway_quantiles"]["p5"] == 3
    assert out["runway_quantiles"]["p25"] is None
    assert out["p_runway_le_12"] == 0.05
    never = runway_summary(np.full(300, 31, dtype=np.int16), 30)
    assert never["p_runway_le_12"] == 0.0 and never["p_runway_le_12_bound95"] == 3 / 300
    always = runway_summary(np.zeros(300, dtype=np.int16), 30)
    assert always["p_runway_le_24"] == 1.0 and always["p_runway_le_24_bound95"] == 1 - 3 / 300


def test_summary_statistics_from_the_per_path_columns():
    res = simulate(make({"simulation.paths": 5000, "simulation.horizon_months": 18}))
    s = res.summary()
    pp = res.per_path
    n = res.n_paths
    assert s["p_runway_le_24"] is None and s["p_runway_le_24_se"] is None
    assert s["credit_loss_mean"] == pytest.approx(pp["credit_loss"].mean(), rel=1e-12)
    assert s["credit_loss_mean_se"] == pytest.approx(pp["credit_loss"].std(ddof=1) / n**0.5)
    assert s["credit_loss_p99"] == pytest.approx(np.quantile(pp["credit_loss"], 0.99))
    assert s["min_cash_p5"] == pytest.approx(np.quantile(pp["min_cash"], 0.05))
    sc = res.scenario
    assert s["allowance_opening"] == pytest.approx(
        sum(r * g for r, g in zip(sc.buckets.provision_rates, sc.buckets.gross, strict=True))
    )
    assert list(s["disclosed_rates"]) == sc.labels
    # monthly mean from all paths
    assert res.monthly["cash_mean"].iloc[-1] == pytest.approx(pp["cash_end"].mean(), rel=1e-12)
    df = res.paths
    assert df["runway_censored"].sum() == np.count_nonzero(pp["runway"] > res.horizon)
    assert df["runway_months"].isna().sum() == df["runway_censored"].sum()


@pytest.fixture(scope="module")
def result():
    return simulate(make({"simulation.paths": 4000, "simulation.trajectory_paths": 1000}))


def _ax():
    return Figure().add_subplot()


def test_runway_plot_shows_the_distribution_survival_and_censoring(result):
    ax = plot_runway(result, _ax())
    H, n = result.horizon, result.n_paths
    runway = result.per_path["runway"]
    heights = [p.get_height() for p in ax.patches]
    expected = np.bincount(runway.astype(int), minlength=H + 2) / n
    np.testing.assert_allclose(heights, expected)  # H+1 monthly bars, then the censored bar
    (survival,) = ax.right_ax.get_lines()
    np.testing.assert_allclose(survival.get_ydata(), 1 - np.cumsum(expected[: H + 1]))
    marked = {round(line.get_xdata()[0]) for line in ax.get_lines()}
    assert marked == {12, 24}
    assert "censored" in " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert ax.get_title() and "months" in ax.get_xlabel() and ax.get_ylabel()


def test_cash_fan_plot_draws_quantiles_mean_and_floor(result):
    ax = plot_cash_fan(result, _ax())
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_allclose(lines["median"].get_ydata(), result.monthly["cash_p50"])
    np.testing.assert_allclose(lines["mean (all paths)"].get_ydata(), result.monthly["cash_mean"])
    floor = next(v for k, v in lines.items() if k.startswith("floor"))
    assert floor.get_ydata()[0] == result.scenario.cash.floor
    assert "CNY million" in ax.get_ylabel()
    assert ax.yaxis.get_major_formatter()(12345.0, 0) == "12,345"


def test_aging_plot_stacks_mean_gross_by_bucket(result):
    ax = plot_aging(result, _ax())
    assert [t.get_text() for t in ax.get_legend().get_texts()] == result.scenario.labels
    tops = ax.collections[-1].get_paths()[0].vertices[:, 1].max()
    assert tops == pytest.approx(result.monthly["gross_mean"].max(), rel=1e-9)
    assert "CNY million" in ax.get_ylabel()


def test_allowance_plot_compares_allowance_and_cumulative_loss(result):
    ax = plot_allowance(result, _ax())
    lines = {line.get_label(): line for line in [*ax.get_lines(), *ax.right_ax.get_lines()]}
    np.testing.assert_allclose(
        lines["cumulative write-offs (mean), right axis"].get_ydata(),
        np.cumsum(result.monthly["credit_loss_mean"]),
    )
    np.testing.assert_allclose(
        lines["loss allowance (mean)"].get_ydata(), result.monthly["allowance_mean"]
    )


def test_every_standard_figure_has_title_labels_and_legend(result):
    for name, fig in make_figures(result).items():
        ax = fig.axes[0]
        assert ax.get_title(), name
        assert ax.get_xlabel() and ax.get_ylabel(), name
        assert ax.get_legend() is not None, name
