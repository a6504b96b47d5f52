"""Plots of a backtest (DESIGN 7). Each function takes the backtest's forecast table and a
matplotlib Axes, draws on it and returns it; :func:`backtest_figures` builds the set a backtest
folder holds as ``Figure`` objects (no pyplot)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from ._metrics import covered
from ._run import Backtest, series_label

_MONEY = FuncFormatter(lambda x, _pos: f"{x:,.0f}")
#: Origins shown in a fan figure (the latest ones).
MAX_FAN_PANELS = 12
_VARIANT_STYLE = {
    "plain": {"color": "#4c72b0", "label": "fitted rates"},
    "parameter_risk": {"color": "#c44e52", "label": "with parameter risk"},
}


def _rows(forecasts: pd.DataFrame, series: str, variant: str | None = None) -> pd.DataFrame:
    sel = forecasts["series"] == series
    if variant is not None:
        sel &= forecasts["variant"] == variant
    return forecasts[sel]


def plot_backtest_fan(
    forecasts: pd.DataFrame,
    origin: str,
    series: str,
    ax: Axes,
    *,
    unit: str = "",
    legend: bool = True,
    horizon: int | None = None,
) -> Axes:
    """One origin's forecast of a monthly series against what happened: the median, the
    25–75 % and 5–95 % bands of the fitted-rates forecast (the 5–95 % band with parameter risk
    as a dashed outline when there is one), the realized values and the naive forecast.

    Parameters
    ----------
    forecasts : DataFrame
        :attr:`Backtest.forecasts`.
    origin : str
        The origin, ISO date.
    series : str
        A monthly series (``collections``, ``write_offs``, ``gross``, ``gross_<label>``).
    ax : matplotlib.axes.Axes
    unit : str, optional
        The money unit (y axis).
    legend : bool, optional
    horizon : int, optional
        The x axis runs to this month (default: the origin's last), so panels line up.

    Returns
    -------
    matplotlib.axes.Axes
    """
    rows = _rows(forecasts, series)
    rows = rows[rows["origin"] == origin]
    plain = rows[rows["variant"] == "plain"].sort_values("horizon")
    h = plain["horizon"].to_numpy()
    blue = _VARIANT_STYLE["plain"]["color"]
    if len(h) > 1:
        ax.fill_between(h, plain["p5"], plain["p95"], color=blue, alpha=0.18, lw=0, label="5–95 %")
        ax.fill_between(
            h, plain["p25"], plain["p75"], color=blue, alpha=0.35, lw=0, label="25–75 %"
        )
    else:  # one month: bands as bars
        ax.vlines(h, plain["p5"], plain["p95"], color=blue, alpha=0.3, lw=8, label="5–95 %")
        ax.vlines(h, plain["p25"], plain["p75"], color=blue, alpha=0.5, lw=8, label="25–75 %")
    ax.plot(h, plain["p50"], color=blue, lw=1.5, marker="o", ms=2.5, label="median forecast")
    risk = rows[rows["variant"] == "parameter_risk"].sort_values("horizon")
    if not risk.empty:
        red = _VARIANT_STYLE["parameter_risk"]["color"]
        label = "5–95 % with parameter risk"
        if len(h) > 1:
            ax.plot(h, risk["p5"], color=red, ls="--", lw=1, label=label)
            ax.plot(h, risk["p95"], color=red, ls="--", lw=1)
        else:  # one month: beside the bars
            ax.vlines(h + 0.2, risk["p5"], risk["p95"], color=red, ls="--", lw=1.5, label=label)
    ax.plot(
        h,
        plain["naive"],
        color="#7f7f7f",
        ls=":",
        lw=1.5,
        marker="s",
        ms=2.5,
        label="naive forecast",
    )
    ax.plot(h, plain["realized"], color="black", marker="o", ms=3.5, lw=1.2, label="realized")
    ax.set_title(f"from {origin}", fontsize=9)
    ax.set_xlabel("months after the origin", fontsize=8)
    ax.set_ylabel(unit or "money units", fontsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0.5, max(horizon or 0, int(h.max()) if len(h) else 1) + 0.5)
    ax.yaxis.set_major_formatter(_MONEY)
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(fontsize=7, loc="best")
    return ax


def plot_pit_histogram(forecasts: pd.DataFrame, series: str, ax: Axes, *, bins: int = 10) -> Axes:
    """Histogram of the randomised PIT values of a series over every origin and horizon, per
    variant, against the flat line of a calibrated forecast (a U shape: intervals too narrow;
    a hump: too wide; a slope: biased).

    Parameters
    ----------
    forecasts : DataFrame
    series : str
    ax : matplotlib.axes.Axes
    bins : int, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    edges = np.linspace(0.0, 1.0, bins + 1)
    n = 0
    for variant, style in _VARIANT_STYLE.items():
        pit = _rows(forecasts, series, variant)["pit"].to_numpy()
        if not len(pit):
            continue
        n = len(pit)
        density, _ = np.histogram(pit, bins=edges, density=True)
        if variant == "plain":
            ax.bar(
                edges[:-1],
                density,
                width=1.0 / bins,
                align="edge",
                color=style["color"],
                alpha=0.6,
                edgecolor="white",
                label=style["label"],
            )
        else:
            ax.stairs(density, edges, color=style["color"], lw=1.8, label=style["label"])
    ax.axhline(1.0, color="black", ls="--", lw=1, label="calibrated")
    ax.set_xlim(0, 1)
    ax.set_xlabel("PIT value (where the realized value fell in its forecast)", fontsize=8)
    ax.set_ylabel("density", fontsize=8)
    ax.set_title(f"{series_label(series)} (n = {n})", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=7)
    return ax


def plot_coverage(forecasts: pd.DataFrame, series: list[str], ax: Axes) -> Axes:
    """Coverage of the central intervals against their nominal level (10 % … 90 %): the share
    of realized values inside each forecast's central interval, per series and variant, with
    the diagonal of a calibrated forecast. Points below it: intervals too narrow.

    Parameters
    ----------
    forecasts : DataFrame
    series : list of str
    ax : matplotlib.axes.Axes

    Returns
    -------
    matplotlib.axes.Axes
    """
    levels = np.round(np.arange(0.1, 0.91, 0.1), 2)
    markers = "osD^v<>ph"
    ax.plot([0, 1], [0, 1], color="black", ls="--", lw=1, label="nominal")
    for i, name in enumerate(series):
        for variant, style in _VARIANT_STYLE.items():
            pit = _rows(forecasts, name, variant)["pit"].to_numpy()
            if not len(pit):
                continue
            cov = [covered(pit, lv).mean() for lv in levels]
            ls = "-" if variant == "plain" else "--"
            ax.plot(
                levels,
                cov,
                marker=markers[i % len(markers)],
                ls=ls,
                ms=4,
                color=f"C{i}",
                label=f"{series_label(name)} ({style['label']}, n = {len(pit)})",
            )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("nominal level of the central interval")
    ax.set_ylabel("share of realized values inside")
    ax.set_title(
        "Coverage against nominal (months and origins overlap: not independent)", fontsize=10
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    return ax


def plot_origin_intervals(
    forecasts: pd.DataFrame, series: str, ax: Axes, *, horizon: int = 12, unit: str = ""
) -> Axes:
    """One horizon of a series at every origin: the 5–95 % and 25–75 % intervals and the mean
    of the forecast, the realized value and the naive forecast.

    Parameters
    ----------
    forecasts : DataFrame
    series : str
    ax : matplotlib.axes.Axes
    horizon : int, optional
        The horizon month shown (12 for ``collections_12m``).
    unit : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    rows = _rows(forecasts, series)
    rows = rows[rows["horizon"] == horizon]
    origins = sorted(set(rows["origin"]))
    x = np.arange(len(origins))
    offsets = {"plain": 0.0, "parameter_risk": 0.18}
    for variant, style in _VARIANT_STYLE.items():
        sub = rows[rows["variant"] == variant].set_index("origin").reindex(origins)
        if sub["mean"].isna().all():
            continue
        xx = x + offsets[variant]
        ax.vlines(xx, sub["p5"], sub["p95"], color=style["color"], lw=1.2, alpha=0.7)
        ax.vlines(
            xx,
            sub["p25"],
            sub["p75"],
            color=style["color"],
            lw=4,
            alpha=0.8,
            label=f"25–75 % and 5–95 %, {style['label']}",
        )
        ax.plot(xx, sub["mean"], "_", color="white", ms=8, mew=1.5)
    plain = rows[rows["variant"] == "plain"].set_index("origin").reindex(origins)
    ax.plot(x, plain["realized"], "x", color="black", ms=8, mew=2, label="realized")
    ax.plot(x, plain["naive"], "d", color="#7f7f7f", ms=5, label="naive forecast")
    ax.set_xticks(x, origins, rotation=45, ha="right", fontsize=8)
    ax.set_xlabel("origin")
    ax.set_ylabel(unit or "money units")
    ax.yaxis.set_major_formatter(_MONEY)
    what = (
        series_label(series)
        if series == "collections_12m"
        else (f"{series_label(series)}, {horizon} months ahead")
    )
    ax.set_title(f"{what}: forecast intervals and what happened", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7)
    return ax


def _fan_figure(bt: Backtest, series: str) -> Figure:
    origins = sorted(set(bt.forecasts["origin"]))
    shown = origins[-MAX_FAN_PANELS:]
    ncols = min(len(shown), 3)
    nrows = math.ceil(len(shown) / ncols)
    fig = Figure(figsize=(4.3 * ncols, 3.1 * nrows + 0.6), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    unit = bt.info.get("unit") or ""
    horizon = int(bt.forecasts.loc[bt.forecasts["series"] == series, "horizon"].max())
    for i, ax in enumerate(axes.flat):
        if i < len(shown):
            plot_backtest_fan(
                bt.forecasts, shown[i], series, ax, unit=unit, legend=i == 0, horizon=horizon
            )
        else:
            ax.set_visible(False)
    more = (
        f" (the last {len(shown)} of {len(origins)} origins)" if len(shown) < len(origins) else ""
    )
    fig.suptitle(
        f"{series_label(series).capitalize()}: forecast against what happened{more}", fontsize=11
    )
    return fig


def backtest_figures(bt: Backtest) -> dict[str, Figure]:
    """The figures of a backtest folder, by file stem: ``fan_collections``,
    ``fan_write_offs``, ``fan_gross`` (one panel per origin, the latest
    :data:`MAX_FAN_PANELS`), ``pit`` (the PIT histograms), ``coverage`` and, when an origin
    reaches 12 months, ``collections_12m`` (the 12-month cumulative collections per origin)."""
    figs = {f"fan_{s}": _fan_figure(bt, s) for s in ("collections", "write_offs", "gross")}
    main = [
        s
        for s in ("collections", "collections_12m", "write_offs", "gross")
        if (bt.forecasts["series"] == s).any()
    ]
    fig = Figure(figsize=(10, 3.6 * math.ceil(len(main) / 2)), layout="constrained")
    axes = fig.subplots(math.ceil(len(main) / 2), 2, squeeze=False)
    for ax, name in zip(axes.flat, main, strict=False):
        plot_pit_histogram(bt.forecasts, name, ax)
    for ax in list(axes.flat)[len(main) :]:
        ax.set_visible(False)
    fig.suptitle("Randomised PIT: flat when the forecast is calibrated", fontsize=11)
    figs["pit"] = fig
    fig = Figure(figsize=(7.5, 5.5), layout="constrained")
    plot_coverage(bt.forecasts, main, fig.subplots())
    figs["coverage"] = fig
    if "collections_12m" in main:
        fig = Figure(
            figsize=(max(6.0, 0.55 * bt.forecasts["origin"].nunique() + 3), 4.5),
            layout="constrained",
        )
        plot_origin_intervals(
            bt.forecasts, "collections_12m", fig.subplots(), unit=bt.info.get("unit") or ""
        )
        figs["collections_12m"] = fig
    return figs
