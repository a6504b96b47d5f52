"""Files and folders: results folders of ``arsim run``, sweep folders, backtest folders, atomic
writes.

Everything here appears complete or not at all (a temporary file or folder renamed into place),
and every folder carries a manifest with the SHA-256 of each of its files.
"""

from ._atomic import write_bytes_atomic, write_text_atomic
from ._backtest import BACKTEST_FORMAT, write_backtest
from ._figures import PLOT_DPI, figure_png, save_figure
from ._results import (
    FORMAT,
    StoredRun,
    default_out_dir,
    load_results,
    read_run,
    redraw_plots,
    scenario_hash,
    write_results,
)
from ._sweep import SWEEP_FORMAT, SweepFolder, SweepFolderError

__all__ = [
    "BACKTEST_FORMAT",
    "FORMAT",
    "PLOT_DPI",
    "SWEEP_FORMAT",
    "StoredRun",
    "SweepFolder",
    "SweepFolderError",
    "default_out_dir",
    "figure_png",
    "load_results",
    "read_run",
    "redraw_plots",
    "save_figure",
    "scenario_hash",
    "write_backtest",
    "write_bytes_atomic",
    "write_results",
    "write_text_atomic",
]
