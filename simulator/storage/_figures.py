"""Saving plots: one resolution and no timestamps, so the same figure gives the same bytes."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

__all__ = ["PLOT_DPI", "figure_png", "save_figure"]

#: Resolution of saved plots: an 8-inch figure is 1,200 pixels wide, sharp at the report's width.
PLOT_DPI = 150


def _save(fig: Any, target: Any) -> None:
    fig.savefig(target, format="png", dpi=PLOT_DPI, metadata={"Software": None})


def save_figure(fig: Any, path: Path) -> None:
    """Save a matplotlib figure as PNG at :data:`PLOT_DPI`, with no timestamp (reproducible)."""
    _save(fig, path)


def figure_png(fig: Any) -> bytes:
    """A matplotlib figure as PNG bytes, as :func:`save_figure` would save it (for embedding)."""
    buffer = io.BytesIO()
    _save(fig, buffer)
    return buffer.getvalue()
