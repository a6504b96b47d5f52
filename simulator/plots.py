"""Plots of a simulation result. Each function takes a result and a matplotlib Axes, draws on it
and returns it; :func:`make_figures` builds the standard set as ``Figure`` objects (no pyplot)."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from ._format import bound_text, fmt_pct, fmt_se
from ._plotkit import THOUSANDS, legend_below
from .results import SimulationResult, runway_summary

__all__ = [
    "make_figures",
    "plot_aging",
    "plot_allowance",
    "plot_cash_fan",
    "plot_runway",
    "plot_segments",
]


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
    bars = ax.bar(months, share[: H + 1], width=0.9, color="#4c72b0", label="runs out in month t")
    censored = ax.bar(
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
    risk = (result.parameter_risk or {}).get("runway_survival")
    label = "P(runway > t), with parameter risk" if risk else "P(runway > t)"
    (curve,) = right.step(months, survival, where="post", color="#c44e52", label=label)
    extra = _parameter_risk_curves(right, months, risk) if risk else []
    right.set_ylim(0, 1.02)
    right.set_ylabel("P(runway > t)")
    right.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    stats = runway_summary(result.per_path["runway"], H)
    handles = [bars, censored, curve, *extra]
    for k, style in ((12, "--"), (24, "-.")):
        key = f"p_runway_le_{k}"
        if stats[key] is None:
            continue
        p, se = fmt_pct(stats[key], 1), fmt_se(stats[key + "_se"], fmt_pct)
        text = f"P(runway ≤ {k} months) = {p} ± {se}"
        if stats.get(key + "_bound95") is not None:
            text += f" ({bound_text(stats[key], stats[key + '_bound95'], words=False)})"
        handles.append(ax.axvline(k, color="#333333", linestyle=style, linewidth=1, label=text))
    legend_below(ax, handles, [h.get_label() for h in handles], ncol=2)
    _title(ax, result, f"Cash runway: first month with cash below the floor ({n:,} paths)")
    ax.right_ax = right
    return ax


def _parameter_risk_curves(ax: Axes, months: np.ndarray, risk: dict) -> list:
    """The survival curve at the scenario's own rates and the 5–95 % band of the shrunk
    per-replicate curves (DESIGN 2.14), on the survival axis."""
    (point,) = ax.step(
        months,
        risk["point"],
        where="post",
        color="#333333",
        linestyle=":",
        label="P(runway > t) at the file's rates",
    )
    if risk.get("band_5") is None:
        return [point]
    band = ax.fill_between(
        months,
        risk["band_5"],
        risk["band_95"],
        step="post",
        color="#c44e52",
        alpha=0.18,
        linewidth=0,
        label="5–95 % over the rate replicates",
    )
    return [point, band]


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
    band = {"color": "#4c72b0", "linewidth": 0}
    ax.fill_between(t, m["cash_p5"], m["cash_p95"], alpha=0.18, label="5–95 %", zorder=1, **band)
    ax.fill_between(t, m["cash_p25"], m["cash_p75"], alpha=0.35, label="25–75 %", zorder=2, **band)
    ax.plot(t, m["cash_p50"], color="#1b2f5e", linewidth=2.4, label="median", zorder=4)
    ax.plot(
        t,
        m["cash_mean"],
        color="#dd8452",
        linestyle=(0, (3, 2)),
        linewidth=1.3,
        label="mean (all paths)",
        zorder=5,
    )
    floor = result.scenario.cash.floor
    ax.axhline(floor, color="#c44e52", linewidth=1.2, label=f"floor ({floor:,.0f})", zorder=3)
    ax.set_ylabel(f"cash ({_unit(result)})")
    ax.yaxis.set_major_formatter(THOUSANDS)
    _month_axis(ax, result)
    ax.legend(loc="best", fontsize=8)
    _title(ax, result, "Cash: fan chart of paths")
    return ax


_COLORS = ("#4c72b0", "#55a868", "#ccb974", "#dd8452", "#c44e52", "#8172b3", "#937860", "#da8bc3")


def _colors(n: int) -> list[str]:
    return [_COLORS[i % len(_COLORS)] for i in range(n)]


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
    ax.stackplot(t, ys, labels=labels, colors=_colors(len(ys)))
    ax.set_ylabel(f"gross receivables, mean ({_unit(result)})")
    ax.yaxis.set_major_formatter(THOUSANDS)
    _month_axis(ax, result)
    ax.legend(loc="upper left", fontsize=8, title="aging bucket", title_fontsize=8, ncol=2)
    _title(ax, result, "Aging of the receivables book")
    return ax


def plot_allowance(result: SimulationResult, ax: Axes) -> Axes:
    """The loss allowance (the provision matrix on the book) and what moves it: the cumulative
    provision charge on the same axis, and the cumulative write-offs (credit losses) on a right
    axis of their own, so that they show even when they are small against the allowance. Means
    over all paths; the allowance with its 5–95 % band over the trajectory sample.

    Parameters
    ----------
    result : SimulationResult
    ax : matplotlib.axes.Axes

    Returns
    -------
    matplotlib.axes.Axes
        ``ax`` (the write-offs are on ``ax.right_ax``, a twin sharing the x axis).
    """
    m = result.monthly
    t = m["month"].to_numpy()
    unit = _unit(result)
    ax.fill_between(
        t,
        m["allowance_p5"],
        m["allowance_p95"],
        color="#4c72b0",
        alpha=0.2,
        linewidth=0,
        label="allowance 5–95 %",
    )
    ax.plot(t, m["allowance_mean"], color="#4c72b0", linewidth=2, label="loss allowance (mean)")
    ax.plot(
        t,
        np.cumsum(m["charge_mean"].to_numpy()),
        color="#55a868",
        linestyle="--",
        linewidth=1.6,
        label="cumulative provision charge (mean)",
    )
    ax.set_ylabel(f"allowance and charge ({unit})")
    ax.yaxis.set_major_formatter(THOUSANDS)
    _month_axis(ax, result)
    right = ax.twinx()
    right.plot(
        t,
        np.cumsum(m["credit_loss_mean"].to_numpy()),
        color="#c44e52",
        linewidth=1.6,
        label="cumulative write-offs (mean), right axis",
    )
    right.set_ylim(bottom=0)
    right.set_ylabel(f"cumulative write-offs ({unit})", color="#c44e52")
    right.tick_params(axis="y", colors="#c44e52")
    right.yaxis.set_major_formatter(THOUSANDS)
    handles, labels = ax.get_legend_handles_labels()
    rh, rl = right.get_legend_handles_labels()
    legend_below(ax, handles + rh, labels + rl, ncol=2)
    _title(ax, result, "Allowance, provision charge and write-offs")
    ax.right_ax = right
    return ax


def plot_segments(result: SimulationResult, ax: Axes) -> Axes:
    """The book by segment (DESIGN 2.12): mean gross receivables of each segment over time,
    stacked (a segment's named debtors included).

    Parameters
    ----------
    result : SimulationResult
        Of a scenario with ``[[segments]]``.
    ax : matplotlib.axes.Axes

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        If the scenario has no ``[[segments]]``.
    """
    segments = result.scenario.segments
    if not segments:
        raise ValueError("this result has no [[segments]] to plot")
    m = result.monthly
    t = m["month"].to_numpy()
    ys = [m[f"segment_gross_{seg.name}_mean"].to_numpy() for seg in segments]
    labels = [seg.label or seg.name for seg in segments]
    ax.stackplot(t, ys, labels=labels, colors=_colors(len(ys)))
    ax.set_ylabel(f"gross receivables, mean ({_unit(result)})")
    ax.yaxis.set_major_formatter(THOUSANDS)
    _month_axis(ax, result)
    ax.legend(loc="upper left", fontsize=8, title="segment", title_fontsize=8, ncol=2)
    _title(ax, result, "Receivables by segment")
    return ax


PLOTS = {
    "runway": plot_runway,
    "cash_fan": plot_cash_fan,
    "aging": plot_aging,
    "allowance": plot_allowance,
}


def make_figures(result: SimulationResult) -> dict[str, Figure]:
    """The standard plots as matplotlib Figures, keyed by name (``segments`` too when the
    scenario has ``[[segments]]``).

    Parameters
    ----------
    result : SimulationResult

    Returns
    -------
    dict of str to matplotlib.figure.Figure
    """
    figures = {}
    plots = dict(PLOTS)
    if result.scenario.segments:
        plots["segments"] = plot_segments
    for name, fn in plots.items():
        fig = Figure(figsize=(8, 5), layout="constrained")
        fn(result, fig.add_subplot())
        figures[name] = fig
    return figures
