"""Two runs on one set of axes: their runway survival curves and their cash fans."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from .._format import describe_overrides
from .._plotkit import THOUSANDS, legend_below
from ..storage import StoredRun

__all__ = ["compare_figures", "plot_cash_overlay", "plot_runway_overlay", "run_label"]

#: A's colour, then B's.
COLORS = ("#4c72b0", "#c44e52")


def run_label(run: StoredRun, side: str, other: StoredRun | None = None) -> str:
    """``A: base`` or ``B: stress (collections.multiplier=0.8)``: the side, the folder's name
    and the overrides of the run that the ``other`` run does not share."""
    beside = other.manifest.get("overrides") if other is not None else None
    changed = describe_overrides(run.manifest.get("overrides"), beside)
    text = f"{side}: {run.folder.name}"
    return f"{text} ({', '.join(changed)})" if changed else text


def _months(ax: Axes, a: StoredRun, b: StoredRun) -> None:
    as_of = a.result.scenario.scenario.as_of
    ax.set_xlabel(f"months after {as_of.isoformat()}" if as_of else "months after the start")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 3, 6, 10]))
    ax.set_xlim(0, max(a.result.horizon, b.result.horizon))


def plot_runway_overlay(a: StoredRun, b: StoredRun, ax: Axes) -> Axes:
    """The runway survival curves ``P(runway > t)`` of two runs, with P(runway ≤ 12) and
    P(runway ≤ 24) marked.

    Parameters
    ----------
    a, b : StoredRun
    ax : matplotlib.axes.Axes

    Returns
    -------
    matplotlib.axes.Axes
    """
    for run, side, color, other in ((a, "A", COLORS[0], b), (b, "B", COLORS[1], a)):
        r = run.result
        runway = np.asarray(r.per_path["runway"], dtype=np.int64)
        counts = np.bincount(runway, minlength=r.horizon + 2)
        survival = 1.0 - np.cumsum(counts[: r.horizon + 1]) / r.n_paths
        ax.step(
            np.arange(r.horizon + 1),
            survival,
            where="post",
            color=color,
            linewidth=2,
            label=f"{run_label(run, side, other)}, {r.n_paths:,} paths",
        )
    for k, style in ((12, "--"), (24, "-.")):
        if k <= max(a.result.horizon, b.result.horizon):
            ax.axvline(k, color="#555555", linestyle=style, linewidth=0.9, label=f"{k} months")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("P(runway > t): cash still above the floor")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    _months(ax, a, b)
    legend_below(ax, ncol=2)
    ax.set_title(f"Cash runway, B against A\n{a.result.scenario.scenario.name}", fontsize=10)
    return ax


def plot_cash_overlay(a: StoredRun, b: StoredRun, ax: Axes) -> Axes:
    """The cash fans of two runs: each run's 5–95 % band and median (from its trajectory
    sample) and the cash floor.

    Parameters
    ----------
    a, b : StoredRun
    ax : matplotlib.axes.Axes

    Returns
    -------
    matplotlib.axes.Axes
    """
    for run, side, color, z, other in ((a, "A", COLORS[0], 1, b), (b, "B", COLORS[1], 2, a)):
        m = run.result.monthly
        t = m["month"].to_numpy()
        label = run_label(run, side, other)
        if {"cash_p5", "cash_p95"} <= set(m.columns) and m["cash_p5"].notna().any():
            ax.fill_between(
                t,
                m["cash_p5"],
                m["cash_p95"],
                color=color,
                alpha=0.18,
                linewidth=0,
                label=f"{label}: 5–95 %",
                zorder=z,
            )
        median = "cash_p50" in m and m["cash_p50"].notna().any()
        line, what = ("cash_p50", "median") if median else ("cash_mean", "mean")
        ax.plot(t, m[line], color=color, linewidth=2.2, label=f"{label}: {what}", zorder=4)
    floors = {a.result.scenario.cash.floor, b.result.scenario.cash.floor}
    for floor in sorted(floors):
        ax.axhline(floor, color="#333333", linewidth=1, label=f"floor ({floor:,.0f})", zorder=3)
    unit = a.result.scenario.money_unit or "money units"
    ax.set_ylabel(f"cash ({unit})")
    ax.yaxis.set_major_formatter(THOUSANDS)
    _months(ax, a, b)
    legend_below(ax, ncol=2)
    ax.set_title(f"Cash, B against A: fan charts\n{a.result.scenario.scenario.name}", fontsize=10)
    return ax


def compare_figures(a: StoredRun, b: StoredRun) -> dict[str, Figure]:
    """The plots of a comparison, keyed by name: ``runway`` and ``cash``.

    Parameters
    ----------
    a, b : StoredRun

    Returns
    -------
    dict of str to matplotlib.figure.Figure
    """
    figures = {}
    for name, draw in (("runway", plot_runway_overlay), ("cash", plot_cash_overlay)):
        fig = Figure(figsize=(8, 5), layout="constrained")
        draw(a, b, fig.add_subplot())
        figures[name] = fig
    return figures
