"""The plots as a reader sees them: saved sharp enough for the report, legends that cover neither
labels nor data, the fan's median in sight, write-offs and charge on a scale where they show, and
the Monte Carlo band of a sweep curve on a scale of its own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from factories import make
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image
from scipy.stats import qmc

from simulator import plot_allowance, plot_cash_fan, plot_runway, simulate
from simulator.results import SimulationResult
from simulator.storage import save_figure
from simulator.sweep import plot_sweep_heatmap, sweep_figures


def _fig() -> Figure:
    return Figure(figsize=(8, 5), layout="constrained")


def _rendered(fig: Figure):
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _texts_under_legend(fig: Figure, legend) -> list[str]:
    """The texts of the figure (titles, axis and tick labels, notes) that the legend covers."""
    renderer = _rendered(fig)
    box = legend.get_window_extent(renderer)
    own = {id(t) for t in legend.get_texts()} | {id(legend.get_title())}
    hits = []
    for text in fig.findobj(Text):
        if id(text) in own or not text.get_visible() or not text.get_text().strip():
            continue
        if box.overlaps(text.get_window_extent(renderer)):
            hits.append(text.get_text())
    return hits


def _inside_figure(fig: Figure, legend) -> bool:
    renderer = _rendered(fig)
    box, page = legend.get_window_extent(renderer), fig.bbox
    return box.x0 >= page.x0 - 1 and box.x1 <= page.x1 + 1 and box.y0 >= page.y0 - 1


@pytest.fixture(scope="module")
def result():
    return simulate(make({"simulation.paths": 3000, "simulation.trajectory_paths": 1000}))


def test_plots_are_saved_at_150_dpi_or_more(result, tmp_path):
    fig = _fig()
    plot_cash_fan(result, fig.add_subplot())
    path = tmp_path / "fan.png"
    save_figure(fig, path)
    with Image.open(path) as img:
        dpi = img.info["dpi"]
        size = img.size
    assert min(dpi) >= 149.9  # pHYs is stored in dots per metre
    assert size == (round(8 * dpi[0]), round(5 * dpi[1]))


def _runway_result(runway: np.ndarray, horizon: int = 60) -> SimulationResult:
    """A result holding only the per-path runways the runway plot reads."""
    sc = make({"simulation.horizon_months": horizon, "simulation.paths": len(runway)})
    zeros = np.zeros(len(runway))
    per_path = {k: zeros for k in ("min_cash", "cash_end", "collections", "credit_loss", "charge")}
    per_path["runway"] = runway.astype(np.int16)
    return SimulationResult(sc, per_path, pd.DataFrame(), None, "test")


@pytest.mark.parametrize(
    "months",
    [(6, 13), (10, 40), (55, 62)],
    ids=["runs-out-early", "spread", "mostly-censored"],
)
def test_the_runway_legend_covers_no_text_and_stays_on_the_page(months):
    """Early runways (P(runway ≤ 24) = 1, whose note once ran under the legend), spread ones and
    mostly censored ones: the legend overlaps no title, label, tick label or note."""
    rng = np.random.default_rng(1)
    runway = rng.integers(*months, size=5000)
    fig = _fig()
    ax = plot_runway(_runway_result(runway), fig.add_subplot())
    legend = ax.get_legend()
    assert _texts_under_legend(fig, legend) == []
    assert _inside_figure(fig, legend)
    labels = [t.get_text() for t in legend.get_texts()]
    assert any(text.startswith("P(runway ≤ 12 months) = ") for text in labels)


def test_the_sobol_heatmap_legend_covers_no_label_and_no_point():
    """A Sobol sample fills the plane, so no corner inside the axes is free: the legend stands
    below them."""
    scenario = make()
    x = qmc.Sobol(2, seed=3).random(64)
    table = pd.DataFrame(
        {
            "collections.multiplier": 0.8 + 0.4 * x[:, 0],
            "collections.factor_loading": 0.5 * x[:, 1],
        }
    )
    table["p_runway_le_12"] = np.clip(1.2 - table["collections.multiplier"], 0, 1)
    fig = _fig()
    ax = plot_sweep_heatmap(
        table,
        ["collections.multiplier", "collections.factor_loading"],
        "p_runway_le_12",
        fig.add_subplot(),
        scenario=scenario,
        level=0.2,
    )
    legend = ax.get_legend()
    assert _texts_under_legend(fig, legend) == []
    assert _inside_figure(fig, legend)
    renderer = _rendered(fig)
    box = legend.get_window_extent(renderer)
    (points,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    shown = ax.transData.transform(points.get_offsets())
    assert not box.count_contains(shown)


def test_the_fan_median_is_drawn_over_the_bands_and_the_mean_does_not_hide_it(result):
    ax = plot_cash_fan(result, _fig().add_subplot())
    lines = {line.get_label(): line for line in ax.get_lines()}
    median, mean = lines["median"], lines["mean (all paths)"]
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2
    assert median.get_zorder() > max(b.get_zorder() for b in bands)
    # the mean often runs on the median: thinner and dashed, so the median shows around it
    assert median.get_linewidth() >= 1.5 * mean.get_linewidth()
    assert mean.get_linestyle() != "-"
    assert "median" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_allowance_plot_shows_cumulative_write_offs_on_their_own_axis(result):
    ax = plot_allowance(result, _fig().add_subplot())
    m = result.monthly
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_allclose(lines["loss allowance (mean)"].get_ydata(), m["allowance_mean"])
    np.testing.assert_allclose(
        lines["cumulative provision charge (mean)"].get_ydata(), np.cumsum(m["charge_mean"])
    )
    right = ax.right_ax
    assert right is not ax and right.get_shared_x_axes().joined(ax, right)
    (write_offs,) = right.get_lines()
    cumulative = np.cumsum(m["credit_loss_mean"])
    np.testing.assert_allclose(write_offs.get_ydata(), cumulative)
    # on their own scale: the largest value fills most of the right axis
    low, high = right.get_ylim()
    assert low == 0 and cumulative.max() >= 0.8 * high
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "cumulative write-offs (mean), right axis" in labels


def _curve_table(paths: int = 5000) -> pd.DataFrame:
    m = np.linspace(0.5, 1.5, 11)
    p = 1 / (1 + np.exp((m - 0.9) * 25))
    return pd.DataFrame(
        {
            "collections.multiplier": m,
            "p_runway_le_12": p,
            "p_runway_le_12_se": np.sqrt(p * (1 - p) / paths),
            "paths": paths,
            "seed": 7,
        }
    )


def test_the_band_of_a_sweep_curve_has_a_panel_of_its_own():
    """±2 SE at 5,000 paths is at most 1.4 percentage points: thinner than the curve on a 0–100 %
    axis. The figure adds a panel with the half-width, 2 SE, on its own scale."""
    table = _curve_table()
    (fig,) = sweep_figures(
        table, ["collections.multiplier"], ["p_runway_le_12"], scenario=make()
    ).values()
    main, panel = fig.axes
    assert main.get_shared_x_axes().joined(main, panel)
    (band,) = [c for c in panel.collections if isinstance(c, PolyCollection)]
    tops = band.get_paths()[0].vertices[:, 1]
    two_se = 2 * table["p_runway_le_12_se"].to_numpy()
    assert tops.max() == pytest.approx(two_se.max())
    assert panel.get_ylim()[1] <= 1.2 * two_se.max()
    (main_band,) = [c for c in main.collections if isinstance(c, PolyCollection)]
    assert main_band.get_linewidth()[0] > 0  # its edges are drawn
    assert "2 SE" in panel.get_ylabel() and "collection multiplier" in panel.get_xlabel()
