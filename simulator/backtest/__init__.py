"""The backtest (DESIGN 7): a forecast earns trust by being checked against what happened next.

For each origin T, a month end of an invoice ledger (6), :func:`backtest` fits the rates on the
data up to T only (:func:`fit_origin`: invoices and events dated after T are not read), takes the
aged balance at T as the opening book, simulates the months after T with the credit billings
that were actually made (``revenue.credit_billings``, 2.15) and compares the forecast with the
realized series (:func:`realized_series`): monthly collections, monthly write-offs, gross by
bucket at each month end and 12-month cumulative collections. The scores (:func:`fair_crps`,
:func:`randomized_pit`, :func:`metrics_table`) are WAPE and bias of the mean forecast, coverage
of the central 50 % and 90 % intervals, the fair CRPS and its skill against a naive forecast (the
2.4 recursion with no factor and the rates of the last 12 month-end pairs).

The plots take an Axes (:func:`plot_backtest_fan`, :func:`plot_pit_histogram`,
:func:`plot_coverage`, :func:`plot_origin_intervals`); :func:`backtest_figures` makes the set a
backtest folder holds. Nothing here prints or writes files.
"""

from ._forecast import (
    DEFAULT_EDGES,
    DEFAULT_PATHS,
    VARIANTS,
    BacktestOptions,
    OriginFit,
    fit_origin,
    origin_scenario,
)
from ._metrics import LEVELS, covered, fair_crps, metrics_table, randomized_pit, summarize
from ._origins import (
    NAIVE_PAIRS,
    BacktestError,
    check_origins,
    ledger_data_end,
    parse_origins,
    rolling_origins,
)
from ._plots import (
    backtest_figures,
    plot_backtest_fan,
    plot_coverage,
    plot_origin_intervals,
    plot_pit_histogram,
)
from ._realized import Realized, realized_series
from ._run import Backtest, backtest, series_label, series_order

__all__ = [
    "DEFAULT_EDGES",
    "DEFAULT_PATHS",
    "LEVELS",
    "NAIVE_PAIRS",
    "VARIANTS",
    "Backtest",
    "BacktestError",
    "BacktestOptions",
    "OriginFit",
    "Realized",
    "backtest",
    "backtest_figures",
    "check_origins",
    "covered",
    "fair_crps",
    "fit_origin",
    "ledger_data_end",
    "metrics_table",
    "origin_scenario",
    "parse_origins",
    "plot_backtest_fan",
    "plot_coverage",
    "plot_origin_intervals",
    "plot_pit_histogram",
    "randomized_pit",
    "realized_series",
    "rolling_origins",
    "series_label",
    "series_order",
    "summarize",
]
