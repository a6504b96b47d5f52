"""The facade users call: the engine's simulation, with the analytics its summary needs."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor

from .engine import simulate_paths
from .provisioning import analyse
from .results import SimulationResult
from .scenario import Scenario

__all__ = ["simulate"]


def simulate(
    scenario: Scenario,
    *,
    seed: int | None = None,
    paths: int | None = None,
    workers: int | None = None,
    executor: Executor | None = None,
    progress: Callable[[int], None] | None = None,
) -> SimulationResult:
    """Run the Monte Carlo simulation of a scenario.

    The result's summary also holds the implied provision rates, the implied lifetime loss of
    the opening book, the allowance coverage and the weighted ECL (DESIGN 2.9), computed once
    when first asked for.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario (:func:`simulator.load_scenario`).
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

    Returns
    -------
    SimulationResult

    Raises
    ------
    ResourceError
        If the run would need more memory than this machine has.
    """
    return simulate_paths(
        scenario,
        seed=seed,
        paths=paths,
        workers=workers,
        executor=executor,
        progress=progress,
        analytics=analyse,
    )
