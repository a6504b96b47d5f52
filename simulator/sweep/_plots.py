"""Plots of sweeps, reverse stress tests and sensitivity analyses.

Each ``plot_*`` function draws on a matplotlib Axes and returns it; the ``*_figures`` functions
build the standard set as ``Figure`` objects (no pyplot). Every plot has a title, axis labels with
units and a legend.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from .._plotkit import legend_below
from ..scenario import Scenario
from ._labels import (
    axis_text,
    fmt_metric,
    format_axis,
    format_param_axis,
    metric_label,
    param_label,
)
from ._solve import SolveResult
from ._table import se_name

__all__ = [
    "plot_solve",
    "plot_sweep_curve",
    "plot_sweep_heatmap",
    "plot_tornado",
    "sensitivity_figures",
    "solve_figures",
    "sweep_figures",
]

_CONTOUR = "#e8384f"
_BAND = "#4c72b0"


def _title(ax: Axes, scenario: Scenario, what: str) -> None:
    ax.set_title(f"{what}\n{scenario.scenario.name}", fontsize=10)


def _floats(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)


def plot_sweep_curve(
    table: pd.DataFrame,
    field: str,
    metric: str,
    ax: Axes,
    *,
    scenario: Scenario,
    level: float | None = None,
    se_ax: Axes | None = None,
) -> Axes:
    """A metric against one swept field, with a ±2 SE band where the metric has an SE.

    The band is drawn with its edges, so that it shows where it is wider than the curve; with
    ``se_ax`` its half-width (2 SE) is also drawn there on a scale of its own, so that the Monte
    Carlo error reads even where the band is thin against the metric's range.

    Parameters
    ----------
    table : pandas.DataFrame
        The sweep's tidy table (:func:`simulator.sweep.sweep_table`).
    field, metric : str
        The column of the parameter and of the metric.
    ax : matplotlib.axes.Axes
    scenario : Scenario
        The swept scenario (for labels and units).
    level : float, optional
        A reference level drawn as a horizontal line (e.g. 0.05 for P(runway ≤ 12)).
    se_ax : matplotlib.axes.Axes, optional
        A panel below ``ax`` (sharing its x axis) for the band's half-width, 2 SE.

    Returns
    -------
    matplotlib.axes.Axes
    """
    data = table.sort_values(field, kind="stable")
    x = _floats(data[field])
    y = _floats(data[metric])
    text, _, kind = metric_label(metric, scenario)
    n = int(data["paths"].iloc[0]) if "paths" in data and len(data) else 0
    se_col = se_name(metric, data.columns)
    se = _floats(data[se_col]) if se_col is not None else np.full(len(x), np.nan)
    has_band = bool(np.isfinite(se).any())
    if has_band:
        lo, hi = y - 2 * se, y + 2 * se
        if kind == "probability":
            lo, hi = np.clip(lo, 0, 1), np.clip(hi, 0, 1)
        ax.fill_between(
            x,
            lo,
            hi,
            color=_BAND,
            alpha=0.3,
            edgecolor=_BAND,
            linewidth=0.8,
            label="± 2 SE (Monte Carlo)",
            zorder=1,
        )
    ax.plot(
        x,
        y,
        marker="o",
        markersize=3,
        linewidth=1.2,
        color="#1b2f5e",
        label=f"{text}, {n:,} paths",
        zorder=3,
    )
    if level is not None:
        ax.axhline(
            level,
            color="#c44e52",
            linestyle="--",
            linewidth=1,
            label=f"level {fmt_metric(level, kind)}",
            zorder=2,
        )
    ax.set_ylabel(axis_text(metric, scenario))
    format_axis(ax.yaxis, kind)
    ax.legend(loc="best", fontsize=8)
    seed = int(data["seed"].iloc[0]) if "seed" in data and len(data) else None
    crn = f"common random numbers, seed {seed}" if seed is not None else "common random numbers"
    _title(ax, scenario, f"{text} against {field} ({crn})")
    bottom = ax
    if se_ax is not None and has_band:
        se_ax.fill_between(x, 0, 2 * se, color=_BAND, alpha=0.3, edgecolor=_BAND, linewidth=0.8)
        se_ax.set_ylim(bottom=0)
        if kind in ("probability", "share"):
            se_ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{100 * v:.2g}"))
            se_ax.set_ylabel("± 2 SE\n(percentage points)")
        else:
            format_axis(se_ax.yaxis, kind)
            se_ax.set_ylabel("± 2 SE")
        ax.tick_params(labelbottom=False)
        bottom = se_ax
    bottom.set_xlabel(param_label(field, scenario))
    format_param_axis(bottom.xaxis, field)
    return ax


def plot_sweep_heatmap(
    table: pd.DataFrame,
    fields: Sequence[str],
    metric: str,
    ax: Axes,
    *,
    scenario: Scenario,
    level: float | None = None,
) -> Axes:
    """A metric over two swept fields as a heatmap, with a contour at ``level``.

    A grid is drawn cell by cell; a Sobol sample by triangulation. The contour is drawn when the
    level lies within the metric's range.

    Parameters
    ----------
    table : pandas.DataFrame
        The sweep's tidy table.
    fields : (str, str)
        The x and y fields.
    metric : str
    ax : matplotlib.axes.Axes
    scenario : Scenario
    level : float, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    fx, fy = fields
    text, _, kind = metric_label(metric, scenario)
    x, y, z = _floats(table[fx]), _floats(table[fy]), _floats(table[metric])
    ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(z)
    x, y, z = x[ok], y[ok], z[ok]
    xs, ys = np.unique(x), np.unique(y)
    is_grid = len(x) == len(xs) * len(ys) and len(xs) > 1 and len(ys) > 1
    contour = None
    if is_grid:
        grid = pd.DataFrame({"x": x, "y": y, "z": z}).pivot(index="y", columns="x", values="z")
        zz = grid.to_numpy()
        mesh = ax.pcolormesh(grid.columns, grid.index, zz, shading="nearest", cmap="viridis")
        if level is not None and np.nanmin(zz) < level < np.nanmax(zz):
            contour = ax.contour(
                grid.columns, grid.index, zz, levels=[level], colors=_CONTOUR, linewidths=2
            )
    elif len(x) >= 3 and len(xs) > 1 and len(ys) > 1:
        mesh = ax.tripcolor(x, y, z, shading="flat", cmap="viridis")
        if level is not None and z.min() < level < z.max():
            contour = ax.tricontour(x, y, z, levels=[level], colors=_CONTOUR, linewidths=2)
    else:
        mesh = ax.scatter(x, y, c=z, cmap="viridis")
    ax.scatter(x, y, s=6, color="black", alpha=0.5, label="points run")
    bar = ax.figure.colorbar(mesh, ax=ax)
    bar.set_label(axis_text(metric, scenario))
    format_axis(bar.ax.yaxis, kind)
    handles = [Line2D([], [], marker="o", linestyle="", color="black", markersize=3)]
    labels = ["points run"]
    if contour is not None:
        handles.append(Line2D([], [], color=_CONTOUR, linewidth=2))
        labels.append(f"{text} = {fmt_metric(level, kind)}")
    ax.set_xlabel(param_label(fx, scenario))
    ax.set_ylabel(param_label(fy, scenario))
    legend_below(ax, handles, labels, ncol=2)
    format_param_axis(ax.xaxis, fx)
    format_param_axis(ax.yaxis, fy)
    _title(ax, scenario, f"{text} over {fx} and {fy}")
    return ax


def _default_level(metric: str, scenario: Scenario, level: float | None) -> float | None:
    if level is not None:
        return level
    return 0.05 if metric_label(metric, scenario)[2] == "probability" else None


def _file_name(metric: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", metric)


def sweep_figures(
    table: pd.DataFrame,
    fields: Sequence[str],
    metrics: Sequence[str],
    *,
    scenario: Scenario,
    level: float | None = None,
) -> dict[str, Figure]:
    """The plots of a sweep, keyed by file name: for one field, each metric against it; for two,
    a heatmap of each metric with a contour at ``level`` (default 5 % for probabilities); none
    for more fields or an empty table.
    """
    figures: dict[str, Figure] = {}
    if table.empty or len(fields) not in (1, 2):
        return figures
    for metric in metrics:
        lev = _default_level(metric, scenario, level)
        if len(fields) == 1:
            fig = Figure(figsize=(8, 5.6), layout="constrained")
            ax, se_ax = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
            plot_sweep_curve(
                table, fields[0], metric, ax, scenario=scenario, level=lev, se_ax=se_ax
            )
            if not se_ax.has_data():
                fig.delaxes(se_ax)
                ax.tick_params(labelbottom=True)
                ax.set_xlabel(param_label(fields[0], scenario))
                format_param_axis(ax.xaxis, fields[0])
        else:
            fig = Figure(figsize=(8, 5.4), layout="constrained")
            plot_sweep_heatmap(
                table, fields, metric, fig.add_subplot(), scenario=scenario, level=lev
            )
        figures[_file_name(metric)] = fig
    return figures


def plot_solve(result: SolveResult, ax: Axes, *, scenario: Scenario) -> Axes:
    """A reverse stress test: the metric at every evaluated value (±2 SE), the target, the value
    found and its interval.

    Parameters
    ----------
    result : SolveResult
    ax : matplotlib.axes.Axes
    scenario : Scenario

    Returns
    -------
    matplotlib.axes.Axes
    """
    text, _, kind = metric_label(result.metric, scenario)
    ev = sorted(result.evaluations, key=lambda e: e["value"])
    x = np.array([e["value"] for e in ev])
    y = np.array([e["metric"] for e in ev])
    se = np.array([math.nan if e["metric_se"] is None else e["metric_se"] for e in ev])
    if np.isfinite(se).any():
        ax.fill_between(x, y - 2 * se, y + 2 * se, color="#4c72b0", alpha=0.25, label="± 2 SE")
    ax.plot(
        x, y, marker="o", markersize=3, color="#4c72b0", label=f"{text}, {result.paths:,} paths"
    )
    ax.axhline(
        result.target,
        color="#c44e52",
        linestyle="--",
        linewidth=1,
        label=f"target {fmt_metric(result.target, kind)}",
    )
    if result.value is not None:
        ax.axvline(result.value, color="#222222", linewidth=1.2, label=f"value {result.value:.4g}")
        if result.interval is not None:
            a = result.interval[0] if result.interval[0] is not None else result.bracket[0]
            b = result.interval[1] if result.interval[1] is not None else result.bracket[1]
            ax.axvspan(a, b, color="#dd8452", alpha=0.25, label=f"interval {a:.4g} – {b:.4g}")
            width = max(b - a, 1e-12)
            x0, x1 = max(result.bracket[0], a - 4 * width), min(result.bracket[1], b + 4 * width)
            ax.set_xlim(x0, x1)
            seen = (x >= x0) & (x <= x1)
            ys = [result.target, *y[seen]]
            if np.isfinite(se[seen]).any():
                ys += [*(y[seen] - 2 * se[seen]), *(y[seen] + 2 * se[seen])]
            ys = [v for v in ys if np.isfinite(v)]
            pad = 0.15 * max(max(ys) - min(ys), 1e-9)
            ax.set_ylim(min(ys) - pad, max(ys) + pad)
    ax.set_xlabel(param_label(result.field, scenario))
    ax.set_ylabel(axis_text(result.metric, scenario))
    format_axis(ax.yaxis, kind)
    format_param_axis(ax.xaxis, result.field)
    ax.legend(loc="best", fontsize=8)
    _title(
        ax,
        scenario,
        f"Reverse stress test: {result.field} where {text} = {fmt_metric(result.target, kind)}",
    )
    return ax


def solve_figures(result: SolveResult, *, scenario: Scenario) -> dict[str, Figure]:
    """The plot of a reverse stress test, keyed by file name (none if it found no value)."""
    if result.value is None:
        return {}
    fig = Figure(figsize=(8, 5), layout="constrained")
    plot_solve(result, fig.add_subplot(), scenario=scenario)
    return {"solve": fig}


def plot_tornado(table: pd.DataFrame, ax: Axes, *, scenario: Scenario, delta: float) -> Axes:
    """A tornado chart: the change of the metric when each field moves down and up, largest
    effect on top.

    Parameters
    ----------
    table : pandas.DataFrame
        :meth:`simulator.sweep.SensitivityResult.table` (sorted, largest swing first).
    ax : matplotlib.axes.Axes
    scenario : Scenario
    delta : float
        The relative move, for the legend.

    Returns
    -------
    matplotlib.axes.Axes
    """
    metric = str(table["metric"].iloc[0])
    text, unit, kind = metric_label(metric, scenario)
    n = len(table)
    ypos = np.arange(n)[::-1]  # first row (largest swing) on top
    for side, color, sign in (("low", "#4c72b0", "−"), ("high", "#dd8452", "+")):
        change = _floats(table[f"change_{side}"])
        shown = np.nan_to_num(change)
        ax.barh(ypos, shown, height=0.6, color=color, label=f"field {sign}{delta:.0%}")
        for yp, c, setting in zip(ypos, change, table[f"{side}_setting"], strict=True):
            if not np.isfinite(c) or (c == 0 and side == "high"):  # one label for no change
                continue
            if c == 0:
                setting = "no change"
            ax.annotate(
                f"{setting}" if len(str(setting)) <= 24 else f"{sign}{delta:.0%}",
                xy=(c, yp),
                xytext=(3 if c >= 0 else -3, 0),
                textcoords="offset points",
                ha="left" if c >= 0 else "right",
                va="center",
                fontsize=7,
            )
    ax.axvline(0, color="#222222", linewidth=0.8)
    ax.set_yticks(ypos, list(table["field"]))
    base = float(table["metric_base"].iloc[0])
    if kind in ("probability", "share"):
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{100 * v:+.2g}"))
        unit_text = "percentage points"
    else:
        unit_text = unit or "metric units"
    ax.set_xlabel(f"change in {text} from its base value {fmt_metric(base, kind)} ({unit_text})")
    ax.set_ylabel("field moved (others at base values)")
    lo, hi = ax.get_xlim()
    pad = 0.25 * max(abs(lo), abs(hi), 1e-12)
    ax.set_xlim(min(lo, 0) - pad, max(hi, 0) + pad)
    ax.legend(loc="lower right", fontsize=8)
    _title(ax, scenario, f"Sensitivity of {text}: one field at a time, ±{delta:.0%}")
    return ax


def sensitivity_figures(
    table: pd.DataFrame, *, scenario: Scenario, delta: float
) -> dict[str, Figure]:
    """The tornado chart of a sensitivity analysis, keyed by file name."""
    if table.empty or not np.isfinite(_floats(table["metric_base"])).any():
        return {}
    fig = Figure(figsize=(8, 1.6 + 0.45 * len(table)), layout="constrained")
    plot_tornado(table, fig.add_subplot(), scenario=scenario, delta=delta)
    return {"tornado": fig}
