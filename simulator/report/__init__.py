"""The HTML report: one self-contained page for a results, sweep or backtest folder.

:func:`build_report` reads a folder written by ``arsim run`` (or by ``arsim sweep``, ``solve``,
``sensitivity`` or ``backtest``) and returns the text of one HTML page: inline CSS, the plots
embedded as base64 PNG, no script and nothing fetched from the network. Every piece of text taken
from the folder is escaped. Writing the page is left to the caller (``arsim report`` writes it
atomically).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from .._format import fmt_money, fmt_pct
from ..storage import BACKTEST_FORMAT
from ..storage import FORMAT as RESULTS_FORMAT
from ._backtest import _backtest_body
from ._html import _CSS, ReportError, _esc, _read_json
from ._run import _results_body
from ._sweep import _sweep_body

__all__ = ["ReportError", "build_report", "fmt_money", "fmt_pct"]


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
        If the folder is missing or is not an arsim results or sweep folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ReportError(folder, "RESULTS_DIR", "no such folder")
    if (folder / "sweep.json").is_file():
        name, body = _sweep_body(folder)
    elif (folder / "manifest.json").is_file():
        manifest = _read_json(folder / "manifest.json", folder)
        fmt = manifest.get("format") if isinstance(manifest, dict) else None
        if fmt == BACKTEST_FORMAT:
            name, body = _backtest_body(folder)
        elif fmt == RESULTS_FORMAT:
            name, body = _results_body(folder)
        else:
            raise ReportError(folder, "manifest.json", f"unknown results format {fmt!r}")
    else:
        raise ReportError(
            folder,
            "RESULTS_DIR",
            "not an arsim results, sweep or backtest folder (no manifest.json or sweep.json)",
        )
    from .._version import __version__

    made = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(name)} — arsim report</title><style>{_CSS}</style></head>"
        f"<body><main>{body}"
        f"<footer>Made by arsim {_esc(__version__)} on {_esc(made)} from "
        f"{_esc(folder.name)}/. Monte Carlo estimates carry the standard errors shown.</footer>"
        "</main></body></html>\n"
    )
