"""Backtest folders (``arsim backtest``, DESIGN 7): written atomically (complete or not at all),
with a manifest, like results folders.

A backtest folder holds ``backtest.json`` (the facts, the origins and the metrics),
``metrics.csv`` (per variant, series and horizon), ``forecasts.csv`` (one row per forecast
month), ``realized.csv`` (the ledger's realized series), ``scenarios/<origin>.toml`` (what each
origin ran), ``replicates/<origin>.csv`` (with parameter risk: the bootstrap replicates it ran),
``plots/*.png`` and ``manifest.json``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd

from ._atomic import building_folder
from ._figures import save_figure
from ._manifest import write_manifest

__all__ = ["BACKTEST_FORMAT", "write_backtest"]

BACKTEST_FORMAT = "arsim-backtest/1"


def write_backtest(
    out_dir: str | Path,
    *,
    document: dict[str, Any],
    tables: dict[str, pd.DataFrame],
    figures: dict[str, Any],
    texts: dict[str, str] | None = None,
    force: bool = False,
    info: dict[str, Any] | None = None,
) -> Path:
    """Write a backtest folder atomically.

    Parameters
    ----------
    out_dir : str or Path
        The folder to create.
    document : dict
        JSON-ready; written as ``backtest.json``.
    tables : dict of DataFrame
        Written as ``<name>.csv``.
    figures : dict of matplotlib Figure
        Saved as ``plots/<name>.png``.
    texts : dict of str, optional
        Other text files by relative path (e.g. ``scenarios/2024-06-30.toml``).
    force : bool, optional
        Replace an existing folder (only once the new one is complete).
    info : dict, optional
        Facts recorded in the manifest (the command, the ledger).

    Returns
    -------
    Path

    Raises
    ------
    FileExistsError
        If ``out_dir`` exists and ``force`` is false.
    """
    out = Path(out_dir)
    with building_folder(out, force) as tmp:
        (tmp / "backtest.json").write_text(json.dumps(document, indent=2) + "\n")
        for name, table in tables.items():
            table.to_csv(tmp / f"{name}.csv", index=False, float_format="%.10g")
        for rel, text in (texts or {}).items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        if figures:
            (tmp / "plots").mkdir()
        for name, fig in figures.items():
            save_figure(fig, tmp / "plots" / f"{name}.png")
        fields = {
            "format": BACKTEST_FORMAT,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            **(info or {}),
        }
        write_manifest(tmp, fields)
    return out
