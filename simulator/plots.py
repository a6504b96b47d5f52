"""Plots of a simulation result. Each function takes a result and a matplotlib Axes, draws on it
and returns it; :func:`make_figures` builds the standard set as ``Figure`` objects (no pyplot)."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from .results import SimulationResult, runway_summary

__all__ = [
    "make_figures",
    "plot_aging",
    "plot_allowance",
    "plot_cash_fan",
    "plot_runway",
]

_THOUSANDS = FuncFormatter(lambda x, _pos: f"{x:,.0f}")


def _unit(result: SimulationResult) -> str:
    return result.scenario.money_unit or "money units"


def _month_axis(ax: Axes, result: SimulationResult) -> None:
    as_of = result.scenario.scenario.as_of
    label = f"months after {as_of.isoformat()}" if as_of else "months after the start"
    ax.set_xlabel(label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 3, 6, 10]))
    ax.set_xlim(0, result.horizon)


def _title(ax: Axes, result: SimulationResult, what: str) -> None:
    ax.set_title(f"{what}\n{result.scenario.scenario.name}", fontsize=10)


def plot_runway(result: SimulationResult, ax: Axes) -> Axes:
    """Runway distribution: share of paths by month cash first falls below the floor (bars),
    the survival curve ``P(runway > t)`` (line, right axis), P(runway ≤ 12 / 24) marked and the
    censored share (paths whose cash stays above the floor to the horizon) shown.

    Parameters
    ----------
    result : SimulationResult
    ax : matplotlib.axes.Axes

    Returns
    -------
    matplotlib.axes.Axes
        ``ax`` (the survival curve is on ``ax.right_ax``, a twin sharing the x axis).
    """
    H = result.horizon
    runway = result.per_path["runway"].astype(np.int64)
    n = len(runway)
    share = np.bincount(runway, minlength=H + 2) / n
    months = np.arange(H + 1)
    ax.bar(months, share[: H + 1], width=0.9, color="#4c72b0", label="runs out in month t")
    ax.bar(
        [H + 1.5],
        [share[H + 1]],
        width=1.5,
        color="#bbbbbb",
        hatch="//",
        edgecolor="#777777",
        label=f"censored: cash above floor to month {H} ({share[H + 1]:.1%})",
    )
    ax.set_ylabel("share of paths")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
    _month_axis(ax, result)
    ax.set_xlim(-0.5, H + 2.5)
    right = ax.twinx()
    survival = 1.0 - np.cumsum(share[: H + 1])
    right.step(months, survival, where="post", color="#c44e52", label="P(runway > t)")
    right.set_ylim(0, 1.02)
    right.set_ylabel("P(runway > t)")
    right.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    stats = runway_summary(result.per_path["runway"], H)
    for k, key in ((12, "p_runway_le_12"), (24, "p_runway_le_24")):
        if stats[key] is None:
            continue
        ax.axvline(k, color="#333333", linestyle="--", linewidth=0.8)
        ax.annotate(
            f"P(≤{k}) = {stats[key]:.1%}\n± {stats[key + '_se']:.1%}",
            xy=(k, 0.97),
            xycoords=("data", "axes fraction"),
            ha="left",
            va="top",
            fontsize=8,
            xytext=(3, 0),
            textcoords="offset points",
            bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none"},
        )
    handles = ax.get_legend_handles_labels()
    rh = right.get_legend_handles_labels()
    ax.legend(handles[0] + rh[0], handles[1] + rh[1], loc="upper right", fontsize=8)
    _title(ax, result, f"Cash runway: first month with cash below the floor ({n:,} paths)")
    ax.right_ax = right
    return ax


def plot_cash_fan(result: SimulationResult, ax: Axes) -> Axes:
    """Cash fan chart: 5–95 % and 25–75 % bands and median from the trajectory sample, mean over
    all paths, and the cash floor.

    Parameters
    ----------
    result : SimulationResult
    ax : matplotlib.axes.Axes

    Returns
    -------
    matplotlib.axes.Axes
    """
    m = result.monthly
    t = m["month"].to_numpy()
    ax.fill_between(t, m["cash_p5"], m["cash_p95"], color="#4c72b0", alpha=0.2, label="5–95 %")
    ax.fill_between(t, m["cash_p25"], m["cash_p75"], color="#4c72b0", alpha=0.35, label="25–75 %")
    ax.plot(t, m["cash_p50"], color="#4c72b0", label="median")
    ax.plot(t, m["cash_mean"], color="#222222", linestyle=":", label="mean (all paths)")
    floor = result.scenario.cash.floor
    ax.axhline(floor, color="#c44e52", linewidth=1.2, label=f"floor ({floor:,.0f})")
    ax.set_ylabel(f"cash ({_unit(result)})")
    ax.yaxis.set_major_formatter(_THOUSANDS)
    _month_axis(ax, result)
    ax.legend(loc="best", fontsize=8)
    _title(ax, result, "Cash: fan chart of paths")
    return ax


def plot_aging(result: SimulationResult, ax: Axes) -> Axes:
    """Aging of the book: mean gross receivables by bucket over time, stacked.

    Parameters
    ----------
    result : SimulationResult
    ax : matplotlib.axes.Axes

    Returns
    -------
    matplotlib.axes.Axes
    """
    m = result.monthly
    labels = result.scenario.labels
    t = m["month"].to_numpy()
    ys = [m[f"gross_{lab}_mean"].to_numpy() for lab in labels]
    colors = [
        "#4c72b0",
        "#55a868",
        "#ccb974",
        "#dd8452",
        "#c44e52",
        "#8172b3",
        "#937860",
        "#da8bc3",
    ]
    ax.stackplot(t, ys, labels=labels, colors=[colors[i % len(colors)] for i in range(len(ys))])
    ax.set_ylabel(f"gross receivables, mean ({_unit(result)})")
    ax.yaxis.set_major_formatter(_THOUSANDS)
    _month_axis(ax, result)
    ax.legend(loc="upper left", fontsize=8, title="aging bucket", title_fontsize=8, ncol=2)
    _title(ax, result, "Aging of the receivables book")
    return ax


def plot_allowance(result: SimulationResult, ax: Axes) -> Axes:
    """Loss allowance (provision matrix on the book) against cumulative credit losses, means over
    all paths, with the 5–95 % band of cumulative losses' monthly quantiles omitted (the sample
    gives monthly, not cumulative, quantiles).

    Parameters
    ----------
    result : SimulationResult
    ax : matplotlib.axes.Axes

    Returns
    -------
    matplotlib.axes.Axes
    """
    m = result.monthly
    t = m["month"].to_numpy()
    ax.plot(t, m["allowance_mean"], color="#4c72b0", label="loss allowance (mean)")
    ax.fill_between(
        t,
        m["allowance_p5"],
        m["allowance_p95"],
        color="#4c72b0",
        alpha=0.2,
        label="allowance 5–95 %",
    )
    ax.plot(
        t,
        np.cumsum(m["credit_loss_mean"].to_numpy()),
        color="#c44e52",
        label="cumulative credit loss (mean)",
    )
    ax.set_ylabel(f"amount ({_unit(result)})")
    ax.yaxis.set_major_formatter(_THOUSANDS)
    _month_axis(ax, result)
    ax.legend(loc="best", fontsize=8)
    _title(ax, result, "Allowance against cumulative credit losses")
    return ax


PLOTS = {
    "runway": plot_runway,
    "cash_fan": plot_cash_fan,
    "aging": plot_aging,
    "allowance": plot_allowance,
}


def make_figures(result: SimulationResult) -> dict[str, Figure]:
    """The standard plots as matplotlib Figures, keyed by name.

    Parameters
    ----------
    result : SimulationResult

    Returns
    -------
    dict of str to matplotlib.figure.Figure
    """
    figures = {}
    for name, fn in PLOTS.items():
        fig = Figure(figsize=(8, 4.8), layout="constrained")
        fn(result, fig.add_subplot())
        figures[name] = fig
    return figures
