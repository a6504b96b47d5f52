"""Small scenarios for tests, built in memory."""

from __future__ import annotations

import copy
from typing import Any

from simulator.scenario import Scenario, scenario_from_dict, with_overrides

BASE: dict[str, Any] = {
    "scenario": {"name": "Test book", "currency": "CNY", "unit": "million"},
    "buckets": {
        "edges_months": [0, 3, 6, 12],
        "gross": [400.0, 250.0, 150.0, 100.0],
        "provision_rates": [0.02, 0.1, 0.3, 0.8],
    },
    "collections": {"monthly_rate": [0.25, 0.12, 0.05, 0.02], "factor_loading": 0.6},
    "defaults": {"monthly_rate": [0.002, 0.005, 0.01, 0.03], "correlation": 0.2},
    "factor": {"persistence": 0.7},
    "revenue": {
        "monthly": 120.0,
        "annual_growth": 0.05,
        "volatility": 0.2,
        "factor_correlation": 0.4,
        "credit_share": 0.8,
    },
    "cash": {
        "opening": 300.0,
        "monthly_fixed_outflow": 60.0,
        "fixed_outflow_growth": 0.03,
        "variable_cost_ratio": 0.5,
        "floor": 20.0,
        "other_monthly_inflow": 5.0,
    },
    "simulation": {"paths": 2000, "horizon_months": 30, "seed": 11, "trajectory_paths": 2000},
}

SEASONAL = [0.6, 0.8, 1.0, 1.2, 0.9, 1.0, 1.1, 0.7, 1.0, 1.3, 1.2, 1.8]


def make(overrides: dict[str, Any] | None = None) -> Scenario:
    """The base test scenario with dotted-path overrides (validated like a file)."""
    sc = scenario_from_dict(copy.deepcopy(BASE), source="<test>")
    return with_overrides(sc, overrides or {}) if overrides else sc
