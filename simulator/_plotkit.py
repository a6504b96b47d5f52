"""What the plots share: thousands separators on money axes and a legend set below the axes, where
it covers neither the data nor any label."""

from __future__ import annotations

from typing import Any

from matplotlib import rcParams
from matplotlib.axes import Axes
from matplotlib.font_manager import FontProperties
from matplotlib.legend import Legend
from matplotlib.ticker import FuncFormatter
from matplotlib.transforms import ScaledTranslation

__all__ = ["THOUSANDS", "legend_below"]

#: Axis ticks with thousands separators: ``12,345``.
THOUSANDS = FuncFormatter(lambda x, _pos: f"{x:,.0f}")


def _points(size: Any) -> float:
    return FontProperties(size=size).get_size_in_points()


def legend_below(
    ax: Axes,
    handles: list[Any] | None = None,
    labels: list[str] | None = None,
    *,
    ncol: int = 3,
    fontsize: float = 8,
) -> Legend:
    """A legend under the axes, below the x tick labels and the x label.

    Its distance below the axes is worked out in points from the tick and label sizes (the
    x label's lines counted), so it holds at any figure size; a constrained layout makes room
    for it.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    handles, labels : list, optional
        What the legend shows (default: the axes' own handles and labels).
    ncol : int, optional
        Entries per row.
    fontsize : float, optional

    Returns
    -------
    matplotlib.legend.Legend
    """
    if handles is None or labels is None:
        handles, labels = ax.get_legend_handles_labels()
    lines = max(1, ax.get_xlabel().count("\n") + 1) if ax.get_xlabel() else 0
    drop = (
        rcParams["xtick.major.size"]
        + rcParams["xtick.major.pad"]
        + 1.2 * _points(rcParams["xtick.labelsize"])
        + rcParams["axes.labelpad"]
        + 1.25 * lines * _points(rcParams["axes.labelsize"])
        + 6.0
    )
    shift = ScaledTranslation(0, -drop / 72.0, ax.figure.dpi_scale_trans)
    return ax.legend(
        handles,
        labels,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        bbox_transform=ax.transAxes + shift,
        ncol=ncol,
        fontsize=fontsize,
        frameon=False,
        borderaxespad=0.0,
    )
