"""A validated scenario as the plain numbers and arrays the kernel needs (compiled once per run),
and the monthly variables every path tracks, with the row each one has in the kernel."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .aging import AgingGrid
from .hazards import calendar_months, solve_alpha
from .scenario import Scenario

__all__ = [
    "GROSS_ROW",
    "MONTHLY_VARS",
    "ROW_ALLOWANCE",
    "ROW_CASH",
    "ROW_CHARGE",
    "ROW_COLLECTIONS",
    "ROW_CREDIT_LOSS",
    "ROW_DEFAULTS",
    "ROW_GROSS",
    "ROW_REVENUE",
    "ROW_WRITE_OFFS",
    "ModelParams",
    "compile_params",
    "n_monthly_values",
]

#: Monthly variables tracked for every path, in the order of their rows in the kernel;
#: gross by bucket follows them, bucket ``b`` at row ``GROSS_ROW + b``.
MONTHLY_VARS = (
    "cash",
    "gross",
    "allowance",
    "collections",
    "credit_loss",
    "defaults",
    "write_offs",
    "charge",
    "revenue",
)
#: Rows of the monthly variables among a path's monthly values (the kernel's rows).
ROW_CASH = MONTHLY_VARS.index("cash")
ROW_GROSS = MONTHLY_VARS.index("gross")
ROW_ALLOWANCE = MONTHLY_VARS.index("allowance")
ROW_COLLECTIONS = MONTHLY_VARS.index("collections")
ROW_CREDIT_LOSS = MONTHLY_VARS.index("credit_loss")
ROW_DEFAULTS = MONTHLY_VARS.index("defaults")
ROW_WRITE_OFFS = MONTHLY_VARS.index("write_offs")
ROW_CHARGE = MONTHLY_VARS.index("charge")
ROW_REVENUE = MONTHLY_VARS.index("revenue")
#: Row of the first bucket's gross balance among the monthly values.
GROSS_ROW = len(MONTHLY_VARS)


def n_monthly_values(n_buckets: int) -> int:
    """Number of monthly values per path: the variables, then gross by bucket."""
    return GROSS_ROW + n_buckets


@dataclass(frozen=True)
class ModelParams:
    """Everything the kernel needs, as plain numbers and arrays (picklable, no scenario)."""

    horizon: int
    n_ages: int
    slices: tuple[tuple[int, int], ...]
    write_off: bool
    opening_by_age: np.ndarray  # (A,)
    opening_gross: np.ndarray  # (K,) summed from opening_by_age
    provision_rates: np.ndarray  # (K,)
    collection_rate: np.ndarray  # c_b (K,)
    alpha: np.ndarray  # (K,)
    beta: float
    default_rate: np.ndarray  # p_b (K,)
    rho: float
    phi: float
    collection_scale: np.ndarray  # m * s_cal(t), (H,)
    revenue_base: np.ndarray  # R_0 (1+g)^((t-1)/12) q_cal(t), (H,)
    volatility: float
    kappa: float
    credit_share: float
    variable_cost_ratio: float
    fixed_outflow: np.ndarray  # F_t, (H,)
    other_inflow: float
    cash_opening: float
    cash_floor: float

    @property
    def n_buckets(self) -> int:
        """Number of buckets K."""
        return len(self.slices)


def compile_params(scenario: Scenario) -> ModelParams:
    """Turn a validated scenario into the arrays the kernel uses.

    Parameters
    ----------
    scenario : Scenario

    Returns
    -------
    ModelParams
    """
    b, col, dfl, rev, cash = (
        scenario.buckets,
        scenario.collections,
        scenario.defaults,
        scenario.revenue,
        scenario.cash,
    )
    horizon = scenario.simulation.horizon_months
    grid = AgingGrid(b.edges_months, dfl.write_off_after_months)
    opening = grid.opening(b.gross, b.opening_by_age)
    as_of_month = scenario.scenario.as_of.month if scenario.scenario.as_of else None
    cal = calendar_months(as_of_month, horizon) - 1
    t = np.arange(1, horizon + 1)
    s = np.asarray(col.seasonality if col.seasonality else [1.0] * 12)[cal]
    q = np.asarray(rev.seasonality if rev.seasonality else [1.0] * 12)[cal]
    c = np.asarray(col.monthly_rate, dtype=float)
    return ModelParams(
        horizon=horizon,
        n_ages=grid.n_ages,
        slices=tuple((sl.start, sl.stop) for sl in grid.slices),
        write_off=dfl.write_off_after_months is not None,
        opening_by_age=opening,
        opening_gross=grid.aggregate(opening),
        provision_rates=np.asarray(b.provision_rates, dtype=float),
        collection_rate=c,
        alpha=solve_alpha(c, col.factor_loading),
        beta=float(col.factor_loading),
        default_rate=np.asarray(dfl.monthly_rate, dtype=float),
        rho=float(dfl.correlation),
        phi=float(scenario.factor.persistence),
        collection_scale=col.multiplier * s,
        revenue_base=rev.monthly * (1.0 + rev.annual_growth) ** ((t - 1) / 12.0) * q,
        volatility=float(rev.volatility),
        kappa=float(rev.factor_correlation),
        credit_share=float(rev.credit_share),
        variable_cost_ratio=float(cash.variable_cost_ratio),
        fixed_outflow=cash.monthly_fixed_outflow
        * (1.0 + cash.fixed_outflow_growth) ** ((t - 1) / 12.0),
        other_inflow=float(cash.other_monthly_inflow),
        cash_opening=float(cash.opening),
        cash_floor=float(cash.floor),
    )
