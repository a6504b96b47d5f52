"""Saving plots: one resolution and no timestamps, so the same figure gives the same bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["PLOT_DPI", "save_figure"]

#: Resolution of saved plots: an 8-inch figure is 1,200 pixels wide, sharp at the report's width.
PLOT_DPI = 150


def save_figure(fig: Any, path: Path) -> None:
    """Save a matplotlib figure as PNG at :data:`PLOT_DPI`, with no timestamp (reproducible)."""
    fig.savefig(path, format="png", dpi=PLOT_DPI, metadata={"Software": None})
