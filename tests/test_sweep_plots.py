"""The sweep, reverse stress test and tornado plots draw the data they are given, with labels.

Tables are built by hand (no simulation), so each check compares a drawn array with the numbers
that should be there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from factories import make
from matplotlib.figure import Figure

from simulator.sweep import (
    SolveResult,
    plot_solve,
    plot_sweep_curve,
    plot_sweep_heatmap,
    plot_tornado,
    sensitivity_figures,
    solve_figures,
    sweep_figures,
)


@pytest.fixture
def scenario():
    return make()


def _ax():
    return Figure(figsize=(8, 5), layout="constrained").add_subplot()


def _curve_table() -> pd.DataFrame:
    m = np.array([1.2, 0.8, 1.0, 0.9, 1.1])  # unsorted on purpose
    p = np.array([0.0, 0.4, 0.1, 0.2, 0.02])
    return pd.DataFrame(
        {
            "collections.multiplier": m,
            "p_runway_le_12": p,
            "p_runway_le_12_se": np.sqrt(p * (1 - p) / 1000),
            "credit_loss_mean": 1000 + 2000 * m,
            "credit_loss_mean_se": np.full(5, 5.0),
            "paths": 1000,
            "seed": 7,
        }
    )


def test_sweep_curve_draws_the_sorted_metric_its_band_and_the_level(scenario):
    table = _curve_table()
    ax = plot_sweep_curve(
        table, "collections.multiplier", "p_runway_le_12", ax=_ax(), scenario=scenario, level=0.05
    )
    lines = {line.get_label(): line for line in ax.get_lines()}
    curve = lines["P(runway ≤ 12 months), 1,000 paths"]
    data = table.sort_values("collections.multiplier")
    np.testing.assert_allclose(curve.get_xdata(), data["collections.multiplier"])
    np.testing.assert_allclose(curve.get_ydata(), data["p_runway_le_12"])
    assert lines["level 5 %"].get_ydata()[0] == 0.05
    (band,) = ax.collections
    ys = band.get_paths()[0].vertices[:, 1]
    lo = np.clip(data["p_runway_le_12"] - 2 * data["p_runway_le_12_se"], 0, 1)
    hi = np.clip(data["p_runway_le_12"] + 2 * data["p_runway_le_12_se"], 0, 1)
    assert ys.min() == pytest.approx(lo.min()) and ys.max() == pytest.approx(hi.max())
    assert "collection multiplier" in ax.get_xlabel() and "%" in ax.get_ylabel()
    assert "seed 7" in ax.get_title() and "Test book" in ax.get_title()
    assert ax.yaxis.get_major_formatter()(0.25, 0) in ("25%", "25.0%")
    assert len(ax.get_legend().get_texts()) == 3


def test_money_metric_and_money_field_get_thousands_separators(scenario):
    table = _curve_table().assign(**{"cash.opening": lambda t: 1000 * t["collections.multiplier"]})
    ax = plot_sweep_curve(table, "cash.opening", "credit_loss_mean", ax=_ax(), scenario=scenario)
    assert "CNY million" in ax.get_ylabel() and "CNY million" in ax.get_xlabel()
    assert ax.yaxis.get_major_formatter()(12345.0, 0) == "12,345"
    assert ax.xaxis.get_major_formatter()(1250.0, 0) == "1,250"


def test_heatmap_draws_the_grid_and_the_contour_at_the_level(scenario):
    ms, fs = [0.8, 1.0, 1.2], [500.0, 600.0]
    rows = [(m, f, max(0.0, 0.6 - 0.5 * m + f / 5000)) for m in ms for f in fs]
    table = pd.DataFrame(rows, columns=["collections.multiplier", "cash.opening", "p"])
    table = table.rename(columns={"p": "p_runway_le_12"})
    ax = plot_sweep_heatmap(
        table,
        ["collections.multiplier", "cash.opening"],
        "p_runway_le_12",
        ax=_ax(),
        scenario=scenario,
        level=0.2,
    )
    mesh = ax.collections[0]
    expected = table.pivot(index="cash.opening", columns="collections.multiplier")
    np.testing.assert_allclose(np.asarray(mesh.get_array()).ravel(), expected.to_numpy().ravel())
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["points run", "P(runway ≤ 12 months) = 20 %"]
    assert "collection multiplier" in ax.get_xlabel() and "opening cash" in ax.get_ylabel()
    assert ax.yaxis.get_major_formatter()(1500.0, 0) == "1,500"
    colorbar = ax.figure.axes[1]
    assert "P(runway ≤ 12 months)" in colorbar.get_ylabel()
    assert ax.get_title()


def test_sweep_figures_are_one_per_metric(scenario):
    figs = sweep_figures(
        _curve_table(),
        ["collections.multiplier"],
        ["p_runway_le_12", "credit_loss_mean"],
        scenario=scenario,
    )
    assert set(figs) == {"p_runway_le_12", "credit_loss_mean"}
    assert all(isinstance(f, Figure) for f in figs.values())


def test_solve_plot_draws_the_evaluations_target_value_and_interval(scenario):
    evals = [
        {"value": v, "metric": p, "metric_se": 0.01, "point": str(i)}
        for i, (v, p) in enumerate([(0.5, 0.9), (1.5, 0.0), (1.0, 0.08), (1.1, 0.03)])
    ]
    res = SolveResult(
        field="collections.multiplier",
        metric="p_runway_le_12",
        target=0.05,
        bracket=(0.5, 1.5),
        metric_at_bracket=(0.9, 0.0),
        value=1.05,
        interval=(1.02, 1.08),
        metric_at_value=0.05,
        metric_se_at_value=0.01,
        evaluations=evals,
        paths=1000,
        seed=3,
    )
    ax = plot_solve(res, ax=_ax(), scenario=scenario)
    lines = {line.get_label(): line for line in ax.get_lines()}
    curve = lines["P(runway ≤ 12 months), 1,000 paths"]
    np.testing.assert_allclose(curve.get_xdata(), [0.5, 1.0, 1.1, 1.5])
    np.testing.assert_allclose(curve.get_ydata(), [0.9, 0.08, 0.03, 0.0])
    assert lines["target 5 %"].get_ydata()[0] == 0.05
    assert lines["value 1.05"].get_xdata()[0] == 1.05
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "interval 1.02 – 1.08" in legend
    assert "collection multiplier" in ax.get_xlabel() and "%" in ax.get_ylabel()
    assert ax.get_title().startswith("Reverse stress test")
    assert set(solve_figures(res, scenario=scenario)) == {"solve"}


def test_tornado_bars_are_the_changes_largest_on_top_and_no_change_is_said_once(scenario):
    table = pd.DataFrame(
        {
            "field": ["collections.multiplier", "cash.opening", "defaults.monthly_rate"],
            "metric": "p_runway_le_12",
            "metric_base": 0.1,
            "change_low": [0.3, 0.05, 0.0],
            "change_high": [-0.08, -0.04, 0.0],
            "low_setting": ["0.9", "270", "[…]"],
            "high_setting": ["1.1", "330", "[…]"],
        }
    )
    ax = plot_tornado(table, ax=_ax(), scenario=scenario, delta=0.1)
    bars = ax.patches
    widths = [b.get_width() for b in bars]
    np.testing.assert_allclose(widths, [0.3, 0.05, 0.0, -0.08, -0.04, 0.0])
    assert bars[0].get_y() > bars[1].get_y()  # first row (largest swing) on top
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("no change") == 1
    assert {"0.9", "1.1", "270", "330"} <= set(texts)
    assert "percentage points" in ax.get_xlabel() and ax.get_ylabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["field −10%", "field +10%"]
    assert ax.xaxis.get_major_formatter()(0.25, 0) == "+25"
    fig = sensitivity_figures(table, scenario=scenario, delta=0.1)["tornado"]
    assert fig.get_size_inches()[1] == pytest.approx(1.6 + 0.45 * 3)
