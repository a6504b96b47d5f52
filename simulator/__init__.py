"""arsim: a Monte Carlo credit-risk simulator for trade receivables.

Ages a receivables book month by month through aging buckets, collects and defaults it under a
common economic factor, applies a provision matrix, and projects the cash runway.

The public names below are imported on first use, so that ``import simulator`` (and the
``arsim`` command, which lives in :mod:`simulator.cli`) stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__ as __version__

#: Public name -> the module that defines it.
_EXPORTS = {
    "ENGINE_VERSION": "engine",
    "Scenario": "scenario",
    "ScenarioError": "scenario",
    "SimulationResult": "results",
    "load_scenario": "scenario",
    "plot_aging": "plots",
    "plot_allowance": "plots",
    "plot_cash_fan": "plots",
    "plot_runway": "plots",
    "simulate": "api",
    "with_overrides": "scenario",
}

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

if TYPE_CHECKING:
    from .api import simulate
    from .engine import ENGINE_VERSION
    from .plots import plot_aging, plot_allowance, plot_cash_fan, plot_runway
    from .results import SimulationResult
    from .scenario import Scenario, ScenarioError, load_scenario, with_overrides


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
