"""The HTML report: one self-contained page for a results, sweep or backtest folder.

:func:`build_report` reads a folder written by ``arsim run`` (or by ``arsim sweep``, ``solve``,
``sensitivity`` or ``backtest``) and returns the text of one HTML page: inline CSS, the plots
embedded as base64 PNG, no script and nothing fetched from the network. Every piece of text taken
from the folder is escaped. :func:`compare_report` makes the page of two runs compared
(:func:`simulator.compare.compare_runs`). Writing a page is left to the caller (``arsim report``
and ``arsim compare`` write it atomically).
"""

from __future__ import annotations

from pathlib import Path

from .._format import fmt_money, fmt_pct
from ..storage import BACKTEST_FORMAT
from ..storage import FORMAT as RESULTS_FORMAT
from ._backtest import _backtest_body
from ._compare import compare_report
from ._html import ReportError, _read_json, html_page
from ._run import _results_body
from ._sweep import _sweep_body

__all__ = ["ReportError", "build_report", "compare_report", "fmt_money", "fmt_pct"]


def build_report(folder: str | Path) -> str:
    """The HTML report of a results, sweep or backtest folder.

    Parameters
    ----------
    folder : str or Path
        A folder written by ``arsim run``, ``sweep``, ``solve``, ``sensitivity`` or
        ``backtest``.

    Returns
    -------
    str
        One self-contained HTML page (inline CSS, plots as base64 PNG, no script).

    Raises
    ------
    ReportError
        If the folder is missing or is not an arsim results, sweep or backtest folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ReportError(folder, "RESULTS_DIR", "no such folder")
    if (folder / "sweep.json").is_file():
        title, body = _sweep_body(folder)
    elif (folder / "manifest.json").is_file():
        manifest = _read_json(folder / "manifest.json", folder)
        fmt = manifest.get("format") if isinstance(manifest, dict) else None
        if fmt == BACKTEST_FORMAT:
            title, body = _backtest_body(folder)
        elif fmt == RESULTS_FORMAT:
            title, body = _results_body(folder)
        else:
            raise ReportError(folder, "manifest.json", f"unknown results format {fmt!r}")
    else:
        raise ReportError(
            folder,
            "RESULTS_DIR",
            "not an arsim results, sweep or backtest folder (no manifest.json or sweep.json)",
        )
    return html_page(title, body, f"{folder.name}/")
