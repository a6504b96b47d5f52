"""arsim: a Monte Carlo credit-risk simulator for trade receivables.

Ages a receivables book month by month through aging buckets, collects and defaults it under a
common economic factor, applies a provision matrix, and projects the cash runway.
"""

from .engine import ENGINE_VERSION, simulate
from .plots import plot_aging, plot_allowance, plot_cash_fan, plot_runway
from .results import SimulationResult
from .scenario import Scenario, ScenarioError, load_scenario, with_overrides

__version__ = "0.1.0"

__all__ = [
    "ENGINE_VERSION",
    "Scenario",
    "ScenarioError",
    "SimulationResult",
    "load_scenario",
    "plot_aging",
    "plot_allowance",
    "plot_cash_fan",
    "plot_runway",
    "simulate",
    "with_overrides",
]
