"""Base against stress: two results folders side by side (DESIGN 3, ``arsim compare``).

:func:`compare_runs` is a pure function of two runs read back by
:func:`simulator.storage.read_run`: every summary key of A and B, the difference B − A and its
standard error (paired over the paths when both runs hold the same number of paths), and the
inputs that differ. :func:`compare_figures` overlays their runway curves and cash fans. This
package neither prints nor writes: the command line prints the table (:func:`row_texts` gives
its cells) and the report module makes the page.

Modules: ``_table`` (the comparison), ``_inputs`` (the inputs that differ), ``_text`` (cells as
text) and ``_plots``.
"""

from ._inputs import flatten_scenario, input_differences
from ._plots import compare_figures, plot_cash_overlay, plot_runway_overlay, run_label
from ._table import PER_PATH_KEYS, RUN_FACTS, Comparison, compare_runs
from ._text import fact_text, row_texts, setting_text, value_text

__all__ = [
    "PER_PATH_KEYS",
    "RUN_FACTS",
    "Comparison",
    "compare_figures",
    "compare_runs",
    "fact_text",
    "flatten_scenario",
    "input_differences",
    "plot_cash_overlay",
    "plot_runway_overlay",
    "row_texts",
    "run_label",
    "setting_text",
    "value_text",
]
