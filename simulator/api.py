"""The facade users call: the engine's simulation, with the analytics its summary needs."""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from .engine import simulate_paths
from .provisioning import analyse
from .results import SimulationResult
from .scenario import (
    Scenario,
    load_scenario,
    read_replicates,
    replicate_rows,
    replicates_file,
    with_overrides,
)
from .uncertainty import parameter_risk

__all__ = ["simulate"]


def _rows(scenario: Scenario, replicates: Any) -> list[dict[str, float]]:
    """Replicates given as a file, a DataFrame or rows of overrides, checked."""
    if isinstance(replicates, str | Path):
        return replicate_rows(scenario, read_replicates(replicates), str(replicates))
    if isinstance(replicates, list):
        import pandas as pd

        return replicate_rows(scenario, pd.DataFrame(replicates), "<replicates>")
    return replicate_rows(scenario, replicates, "<replicates>")


def simulate(
    scenario: Scenario | str | Path,
    *,
    seed: int | None = None,
    paths: int | None = None,
    workers: int | None = None,
    executor: Executor | None = None,
    progress: Callable[[int], None] | None = None,
    replicates: Any = None,
) -> SimulationResult:
    """Run the Monte Carlo simulation of a scenario.

    The result's summary also holds the implied provision rates, the implied lifetime loss of
    the opening book, the allowance coverage and the weighted ECL (DESIGN 2.9), computed once
    when first asked for.

    Parameters
    ----------
    scenario : Scenario, str or Path
        A validated scenario (:func:`simulator.load_scenario`), or the path of a scenario file.
    seed : int, optional
        Overrides ``simulation.seed``.
    paths : int, optional
        Overrides ``simulation.paths``.
    workers : int, optional
        Threads for the blocks (default: the number of CPUs). Ignored if ``executor`` is given.
    executor : concurrent.futures.Executor, optional
        Where blocks run. Results are identical whatever the executor (DESIGN 2.10).
    progress : callable, optional
        Called with the number of paths of each finished block.
    replicates : str, Path, pandas.DataFrame, list of dict or False, optional
        Parameter replicates (DESIGN 2.14): a table whose columns are field paths of hazard
        parameters, one row per replicate; by default the scenario's ``[uncertainty]
        replicates`` if it names one, and ``False`` runs without replicates in any case. Path
        ``n`` runs with replicate ``π[n mod R]``, so every figure includes parameter risk; a
        second, plain run on the same seed and paths gives each figure's value at the
        scenario's own rates, and the summary's ``parameter_risk`` says how much of the spread
        the rates explain.

    Returns
    -------
    SimulationResult

    Raises
    ------
    ResourceError
        If the run would need more memory than this machine has.
    ScenarioError
        If the replicates table is not valid for this scenario, or there are fewer than 2R
        paths.
    """
    if isinstance(scenario, str | Path):
        scenario = load_scenario(scenario)
    overrides = {}
    if seed is not None:
        overrides["simulation.seed"] = seed
    if paths is not None:
        overrides["simulation.paths"] = paths
    if overrides:
        scenario = with_overrides(scenario, overrides)
    if replicates is None:
        replicates = replicates_file(scenario)
    if replicates is None or replicates is False:
        return simulate_paths(
            scenario, workers=workers, executor=executor, progress=progress, analytics=analyse
        )
    rows = _rows(scenario, replicates)
    mixture = simulate_paths(
        scenario,
        workers=workers,
        executor=executor,
        progress=progress,
        analytics=functools.partial(analyse, replicates=rows),
        replicates=rows,
    )
    point = simulate_paths(scenario, workers=workers, executor=executor, progress=progress)
    mixture.replicates = rows
    mixture.parameter_risk = parameter_risk(
        mixture.per_path,
        point.summary(analytics=False),
        len(rows),
        mixture.horizon,
        point_runway=point.per_path["runway"],
    )
    return mixture
