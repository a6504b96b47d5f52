"""The scenario file's tables as pydantic models (DESIGN 3.1), with the single-field rules of 3.2.

Types are strict: a boolean or a string is never a number (an integer is accepted where a float
is expected).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any

from pydantic import Field, PrivateAttr, field_validator
from pydantic_core import PydanticCustomError

from ._segments import MAX_DEBTORS, MAX_SEGMENTS, Debtor, Segment
from ._types import (
    MONEY_LIMIT,
    Balance,
    Correlation,
    FactorLoading,
    Growth,
    Money,
    Multiplier,
    NonNegMoney,
    Profile,
    Rate,
    Seasonality,
    WriteOff,
    _Section,
    at_most,
)

__all__ = ["MONEY_LIMIT", "Scenario", "Uncertainty", "default_labels", "profile_bucket_sums"]


class ScenarioMeta(_Section):
    """``[scenario]``: what the scenario is and where its numbers come from."""

    name: str = "Unnamed scenario"
    currency: str = ""
    unit: str = ""
    as_of: dt.date | None = None
    description: str = ""
    sources: list[str] = Field(default_factory=list)


class Buckets(_Section):
    """``[buckets]``: the aging grid, the opening book and the disclosed provision matrix."""

    edges_months: list[Annotated[int, Field(strict=True)]]
    labels: list[str] | None = None
    gross: list[Balance] | None = None
    provision_rates: list[Rate]
    opening_by_age: Profile | None = None

    @field_validator("edges_months")
    @classmethod
    def _edges_rule(cls, edges: list[int]) -> list[int]:
        if not edges:
            raise PydanticCustomError("rule", "must list at least one edge (0)")
        if edges[0] != 0:
            raise PydanticCustomError(
                "rule", "the first edge must be 0, got {got}", {"got": edges[0]}
            )
        for i in range(1, len(edges)):
            if edges[i] <= edges[i - 1]:
                raise PydanticCustomError(
                    "rule",
                    "edges must increase strictly, got {a} after {b}",
                    {"a": edges[i], "b": edges[i - 1]},
                )
        if edges[-1] > 600:
            raise PydanticCustomError(
                "rule", "the last edge must be ≤ 600, got {got}", {"got": edges[-1]}
            )
        return edges


class Collections(_Section):
    """``[collections]``: average monthly collection rates ``c_b`` and how they move."""

    monthly_rate: list[Rate]
    multiplier: Multiplier = 1.0
    factor_loading: FactorLoading = 0.0
    seasonality: Seasonality | None = None


class Defaults(_Section):
    """``[defaults]``: average monthly default rates ``p_b``, correlation, write-off age."""

    monthly_rate: list[Rate]
    correlation: Correlation = 0.0
    write_off_after_months: WriteOff | None = None


class Factor(_Section):
    """``[factor]``: the common economic factor (AR(1) persistence ``phi``)."""

    persistence: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0, le=1.0)] = 0.0


class Revenue(_Section):
    """``[revenue]``: monthly revenue, its growth, volatility and the share billed on credit."""

    monthly: NonNegMoney = 0.0
    annual_growth: Growth = 0.0
    volatility: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0, le=2.0)] = 0.0
    factor_correlation: Annotated[
        float, Field(strict=True, allow_inf_nan=False, ge=-1.0, le=1.0)
    ] = 0.0
    credit_share: Rate = 1.0
    seasonality: Seasonality | None = None
    #: B_t, the credit billings of months 1..H (DESIGN 2.15): replaces sigma · Rev_t.
    credit_billings: list[NonNegMoney] | None = None


class Cash(_Section):
    """``[cash]``: opening cash, outflows, the floor that defines the runway."""

    opening: Money
    monthly_fixed_outflow: NonNegMoney = 0.0
    fixed_outflow_growth: Growth = 0.0
    variable_cost_ratio: Annotated[
        float, Field(strict=True, allow_inf_nan=False, ge=0.0, le=10.0)
    ] = 0.0
    floor: Money = 0.0
    other_monthly_inflow: Money = 0.0


class Simulation(_Section):
    """``[simulation]``: Monte Carlo size, horizon and seed."""

    paths: Annotated[int, Field(strict=True, ge=1, le=100_000_000)] = 100_000
    horizon_months: Annotated[int, Field(strict=True, ge=1, le=1200)] = 60
    seed: Annotated[int, Field(strict=True, ge=0, le=2**63 - 1)] = 0
    trajectory_paths: Annotated[int, Field(strict=True, ge=0, le=1_000_000)] = 10_000
    runoff_paths: Annotated[int, Field(strict=True, ge=1, le=10_000_000)] = 10_000


class Uncertainty(_Section):
    """``[uncertainty]``: parameter replicates (DESIGN 2.14)."""

    #: A ``.parquet`` or ``.csv`` table of replicates, relative to the scenario file.
    replicates: Annotated[str, Field(strict=True, min_length=1, max_length=4096)]


class EclScenario(_Section):
    """One ``[[ecl_scenarios]]`` entry: a named, weighted set of overrides."""

    name: str
    weight: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0.0, le=1.0)]
    overrides: dict[str, Any] = Field(default_factory=dict)


class Scenario(_Section):
    """A validated scenario file (DESIGN 3.1).

    Build one with :func:`load_scenario` or :func:`scenario_from_dict`; change one with
    :func:`with_overrides`. Instances are immutable.
    """

    scenario: ScenarioMeta = ScenarioMeta()
    buckets: Buckets
    collections: Collections
    defaults: Defaults
    factor: Factor = Factor()
    revenue: Revenue = Revenue()
    cash: Cash
    simulation: Simulation = Simulation()
    sweep: dict[str, Any] | None = None
    ecl_scenarios: list[EclScenario] | None = None
    segments: (
        Annotated[list[Segment], at_most(MAX_SEGMENTS, "segment", at_least_one=True)] | None
    ) = None
    debtors: Annotated[list[Debtor], at_most(MAX_DEBTORS, "debtor")] | None = None
    uncertainty: Uncertainty | None = None

    _source: str = PrivateAttr(default="<scenario>")
    _gross_derived: bool = PrivateAttr(default=False)

    @property
    def source(self) -> str:
        """The file this scenario was read from (``<scenario>`` if built in memory)."""
        return self._source

    @property
    def labels(self) -> list[str]:
        """Bucket labels: as given, or made from the edges (``0-6m``, ``6m-1y``, …, ``4y+``)."""
        if self.buckets.labels is not None:
            return list(self.buckets.labels)
        return default_labels(self.buckets.edges_months)

    @property
    def segment_names(self) -> list[str]:
        """The names of the ``[[segments]]`` (empty without them)."""
        return [seg.name for seg in self.segments or ()]

    @property
    def n_buckets(self) -> int:
        """Number of aging buckets ``K``."""
        return len(self.buckets.edges_months)

    @property
    def money_unit(self) -> str:
        """The unit of money, e.g. ``CNY million`` (empty if the file does not say)."""
        return " ".join(p for p in (self.scenario.currency, self.scenario.unit) if p)


def _months_text(m: int) -> str:
    if m == 0:
        return "0"
    if m % 12 == 0:
        return f"{m // 12}y"
    if m > 12:
        return f"{m // 12}y{m % 12}m"
    return f"{m}m"


def default_labels(edges: list[int]) -> list[str]:
    """Bucket labels made from the lower edges in months, e.g. ``['0-6m', '6m-1y', '1y+']``."""
    labels = []
    for i, lo in enumerate(edges):
        if i + 1 < len(edges):
            hi = edges[i + 1]
            lo_txt = _months_text(lo)
            hi_txt = _months_text(hi)
            if lo == 0 and hi_txt.endswith("m") and "y" not in hi_txt:
                labels.append(f"0-{hi_txt}")
            else:
                labels.append(f"{lo_txt}-{hi_txt}")
        else:
            labels.append(f"{_months_text(lo)}+")
    return labels


def profile_bucket_sums(profile: list[float], edges: list[int]) -> list[float]:
    """A balance profile by monthly age summed into buckets (DESIGN 3.1): bucket ``b`` holds
    the ages ``e_b .. e_{b+1}-1``; the last bucket every age from ``e_{K-1}`` on.

    Sums are exact-rounded (:func:`math.fsum`), so a profile written with these sums as
    ``gross`` is not rescaled.
    """
    upper = [*edges[1:], max(len(profile), edges[-1])]
    return [math.fsum(profile[lo:hi]) for lo, hi in zip(edges, upper, strict=True)]
