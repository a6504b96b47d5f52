"""Parameter sweeps, reverse stress tests and sensitivity on common random numbers (DESIGN 3).

Every point of a sweep is the scenario with some fields changed (:func:`make_points`), run with
the *same* seed: the difference between two points is the effect of the parameters, not noise
(common random numbers). A point's paths are split into the engine's blocks; each block is a task
given to an executor (:func:`open_executor`: processes on this machine, a local Dask cluster or an
existing one). The blocks of a point are combined in block order by
:meth:`SimulationResult.from_blocks`, so the numbers are identical, bit for bit, whichever executor
and however many workers (DESIGN 2.10).

A :class:`PointRunner` runs points, skips those it already has (a resumed sweep) and reports each
finished point through a callback as soon as it is complete, so that the caller can save it. This
package never prints and never touches files: the command line prints, and :mod:`simulator.storage`
writes the sweep's folder.

Modules: ``_fields`` (what a field holds and its range), ``_designs`` (grid, ``[sweep]`` table,
Sobol), ``_points`` (points and their outcomes), ``_executors``, ``_runner``, ``_table`` (the
tidy table and the metrics), ``_solve`` (reverse stress test), ``_sensitivity``, ``_labels``
(names and units of metrics and fields) and ``_plots``.
"""

from ._designs import MAX_POINTS, Design, grid_design, sobol_design, table_design
from ._executors import LocalPool, SchedulerError, check_scheduler, open_executor
from ._fields import FieldInfo, field_info
from ._labels import metric_label, param_label
from ._plots import (
    plot_solve,
    plot_sweep_curve,
    plot_sweep_heatmap,
    plot_tornado,
    sensitivity_figures,
    solve_figures,
    sweep_figures,
)
from ._points import (
    Point,
    PointFailed,
    PointOutcome,
    check_sweep_memory,
    make_point,
    make_points,
    point_key,
    sweep_memory,
)
from ._runner import PointRunner
from ._sensitivity import SensitivityResult, plan_sensitivity, sensitivity
from ._solve import SolveResult, check_solve, default_bracket, solve, solve_bracket
from ._table import (
    DEFAULT_METRIC,
    available_metrics,
    check_metric,
    definition_hash,
    flatten_summary,
    params_text,
    se_name,
    sweep_table,
)

__all__ = [
    "DEFAULT_METRIC",
    "MAX_POINTS",
    "Design",
    "FieldInfo",
    "LocalPool",
    "Point",
    "PointFailed",
    "PointOutcome",
    "PointRunner",
    "SchedulerError",
    "SensitivityResult",
    "SolveResult",
    "available_metrics",
    "check_metric",
    "check_scheduler",
    "check_solve",
    "check_sweep_memory",
    "default_bracket",
    "definition_hash",
    "field_info",
    "flatten_summary",
    "grid_design",
    "make_point",
    "make_points",
    "metric_label",
    "open_executor",
    "param_label",
    "params_text",
    "plan_sensitivity",
    "plot_solve",
    "plot_sweep_curve",
    "plot_sweep_heatmap",
    "plot_tornado",
    "point_key",
    "se_name",
    "sensitivity",
    "sensitivity_figures",
    "sobol_design",
    "solve",
    "solve_bracket",
    "solve_figures",
    "sweep_figures",
    "sweep_memory",
    "sweep_table",
    "table_design",
]
