"""Provisioning outputs: the provision matrix, the allowance roll-forward and weighted ECL.

- :func:`provision_matrix`: the opening book by bucket, the disclosed rate and allowance, and the
  model-implied rate and allowance beside them.
- :func:`allowance_rollforward`: by year of the horizon, opening allowance + provision charge −
  write-offs = closing allowance, where write-offs are the credit losses ``Loss_t`` of DESIGN 2.4
  (defaults, written off at once, plus balances reaching the write-off age). Means over all paths;
  5th and 95th percentiles from the trajectory sample when the result has one.
- :func:`weighted_ecl`: the probability-weighted expected credit loss over the scenario's
  ``[[ecl_scenarios]]``. The ECL of scenario ``s`` is ``Σ_b implied rate_b · G_b0`` under its
  overrides (its implied lifetime loss); ``ECL = Σ_s w_s ECL_s`` with
  ``SE = sqrt(Σ_s w_s² SE_s²)``. So that this formula is right, the run-offs of the scenarios are
  independent: the ``j``-th scenario (0-based) uses the random-number stream ``(2, j)``, i.e.
  block ``i`` draws from ``default_rng([i, seed, 2, j])``.
- :func:`analyse` gathers the implied rates and the weighted ECL of a scenario for the summary of
  a run (:meth:`simulator.results.SimulationResult.summary`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .analytic import (
    BookImplied,
    ImpliedRates,
    book_implied_over_replicates,
    book_implied_rates,
)
from .scenario import Scenario, book_opening, book_segments, with_overrides

if TYPE_CHECKING:
    from .results import SimulationResult

__all__ = [
    "Analytics",
    "EclScenarioResult",
    "WeightedEcl",
    "allowance_rollforward",
    "analyse",
    "provision_matrix",
    "result_tables",
    "weighted_ecl",
]

#: Random-number stream of the j-th ECL scenario's run-off is ``(ECL_STREAM, j)``.
ECL_STREAM = 2


def provision_matrix(scenario: Scenario, implied: ImpliedRates | None = None) -> pd.DataFrame:
    """The provision matrix applied to the opening book.

    Parameters
    ----------
    scenario : Scenario
        Its whole book: with segments and debtors, the gross and the gross-weighted disclosed
        rate of each bucket over them.
    implied : ImpliedRates, optional
        Adds ``implied_rate``, ``implied_rate_se``, ``implied_allowance`` and ``gap`` (implied
        minus disclosed rate).

    Returns
    -------
    pandas.DataFrame
        One row per bucket: ``bucket`` (label), ``gross``, ``rate`` (disclosed) and
        ``allowance = gross · rate``; the total allowance is ``table["allowance"].sum()``.
    """
    opening = book_opening(scenario)  # over segments and debtors (DESIGN 2.12)
    gross = np.asarray(opening.gross, dtype=float)
    rate = np.asarray(opening.rates, dtype=float)
    table = pd.DataFrame(
        {"bucket": scenario.labels, "gross": gross, "rate": rate, "allowance": gross * rate}
    )
    if implied is not None:
        table["implied_rate"] = implied.rates
        table["implied_rate_se"] = implied.rates_se
        table["implied_allowance"] = gross * implied.rates
        table["gap"] = implied.rates - rate
    return table


def _with_total(table: pd.DataFrame) -> pd.DataFrame:
    """The provision matrix with a ``total`` row (rates of the total are gross-weighted)."""
    total: dict[str, Any] = {"bucket": "total", "gross": table["gross"].sum()}
    total["allowance"] = table["allowance"].sum()
    total["rate"] = total["allowance"] / total["gross"] if total["gross"] else math.nan
    if "implied_rate" in table:
        total["implied_allowance"] = table["implied_allowance"].sum()
        total["implied_rate"] = (
            total["implied_allowance"] / total["gross"] if total["gross"] else math.nan
        )
        total["gap"] = total["implied_rate"] - total["rate"]
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)


def allowance_rollforward(result: SimulationResult) -> pd.DataFrame:
    """The allowance roll-forward by year of the horizon.

    Parameters
    ----------
    result : SimulationResult

    Returns
    -------
    pandas.DataFrame
        One row per year (the last may be shorter): ``year``, ``month_from``, ``month_to``,
        ``opening_mean``, ``charge_mean``, ``write_offs_mean`` (credit losses), ``closing_mean``
        (means over all paths; ``closing = opening + charge − write_offs``) and, when the result
        has its trajectory sample, ``<column>_p5`` and ``<column>_p95`` over the sample's paths.
    """
    m = result.monthly
    H = result.horizon
    allowance = m["allowance_mean"].to_numpy()
    charge = m["charge_mean"].to_numpy()
    loss = m["credit_loss_mean"].to_numpy()
    traj = result.trajectory
    rows = []
    for y in range(1, math.ceil(H / 12) + 1):
        m0, m1 = 12 * (y - 1), min(12 * y, H)
        row: dict[str, Any] = {
            "year": y,
            "month_from": m0 + 1,
            "month_to": m1,
            "opening_mean": allowance[m0],
            "charge_mean": charge[m0 + 1 : m1 + 1].sum(),
            "write_offs_mean": loss[m0 + 1 : m1 + 1].sum(),
            "closing_mean": allowance[m1],
        }
        if traj is not None and traj["allowance"].shape[0]:
            per_path = {
                "opening": traj["allowance"][:, m0],
                "charge": traj["charge"][:, m0 + 1 : m1 + 1].sum(axis=1),
                "write_offs": traj["credit_loss"][:, m0 + 1 : m1 + 1].sum(axis=1),
                "closing": traj["allowance"][:, m1],
            }
            for name, values in per_path.items():
                lo, hi = np.quantile(values, [0.05, 0.95])
                row[f"{name}_p5"], row[f"{name}_p95"] = lo, hi
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class EclScenarioResult:
    """The expected credit loss of the opening book under one ECL scenario."""

    name: str
    weight: float
    ecl: float
    ecl_se: float
    method: str
    gross: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "name": self.name,
            "weight": self.weight,
            "ecl": self.ecl,
            "ecl_se": self.ecl_se,
            "gross": self.gross,
            "method": self.method,
        }


@dataclass(frozen=True)
class WeightedEcl:
    """Probability-weighted ECL over the scenario's ``[[ecl_scenarios]]``."""

    scenarios: list[EclScenarioResult]
    ecl: float
    ecl_se: float

    def table(self) -> pd.DataFrame:
        """One row per scenario, then a ``weighted`` row."""
        rows = [s.as_dict() for s in self.scenarios]
        rows.append(
            {
                "name": "weighted",
                "weight": math.fsum(s.weight for s in self.scenarios),
                "ecl": self.ecl,
                "ecl_se": self.ecl_se,
                "gross": math.nan,
                "method": "",
            }
        )
        return pd.DataFrame(rows)


def weighted_ecl(scenario: Scenario, *, workers: int | None = None) -> WeightedEcl | None:
    """Probability-weighted expected credit loss of the opening book.

    Parameters
    ----------
    scenario : Scenario
        Its ``[[ecl_scenarios]]`` (validated when it was loaded) give names, weights summing to
        1 and overrides.
    workers : int, optional
        Threads for the run-offs.

    Returns
    -------
    WeightedEcl or None
        ``None`` when the scenario declares no ECL scenarios.
    """
    if not scenario.ecl_scenarios:
        return None
    base = scenario.model_copy(update={"ecl_scenarios": None, "sweep": None})
    base._source = scenario.source
    results = []
    for j, e in enumerate(scenario.ecl_scenarios):
        sub = with_overrides(base, e.overrides)
        imp = book_implied_rates(sub, stream=(ECL_STREAM, j), workers=workers).book
        results.append(
            EclScenarioResult(
                name=e.name,
                weight=float(e.weight),
                ecl=imp.lifetime_loss,
                ecl_se=imp.lifetime_loss_se,
                method=imp.method,
                gross=float(np.sum(book_opening(sub).gross)),
            )
        )
    ecl = math.fsum(r.weight * r.ecl for r in results)
    se = math.sqrt(math.fsum((r.weight * r.ecl_se) ** 2 for r in results))
    return WeightedEcl(scenarios=results, ecl=ecl, ecl_se=se)


@dataclass(frozen=True)
class Analytics:
    """Implied rates and weighted ECL of a scenario (computed once per result)."""

    scenario: Scenario
    implied: ImpliedRates
    ecl: WeightedEcl | None
    parts: BookImplied | None = None

    @property
    def allowance_opening(self) -> float:
        """The disclosed matrix applied to the opening book (segments and debtors included)."""
        opening = book_opening(self.scenario)
        return float(np.dot(opening.rates, opening.gross))

    def summary_fields(self) -> dict[str, Any]:
        """The summary keys of DESIGN 2.9 that come from the implied rates and the ECL."""
        imp = self.implied
        out: dict[str, Any] = {
            "implied_rates": imp.by_label(),
            "implied_rates_se": imp.by_label(imp.rates_se),
            "implied_lifetime_loss": imp.lifetime_loss,
            "implied_lifetime_loss_se": imp.lifetime_loss_se,
        }
        out |= _coverage(self.allowance_opening, imp.lifetime_loss, imp.lifetime_loss_se)
        out["implied_unresolved"] = imp.unresolved
        out["implied_unresolved_se"] = imp.unresolved_se
        out["implied_stranded_buckets"] = list(imp.stranded)
        out["implied_method"] = imp.method
        out["implied_runoff"] = (
            None
            if imp.method == "exact"
            else {
                "paths": imp.paths,
                "seed": imp.seed,
                "months_mean": imp.months_mean,
                "months_max": imp.months_max,
                "unresolved": imp.unresolved,
                "unresolved_se": imp.unresolved_se,
            }
        )
        out |= self._parts_fields()
        if self.ecl is None:
            out["ecl_weighted"] = out["ecl_weighted_se"] = out["ecl_scenarios"] = None
        else:
            out["ecl_weighted"] = self.ecl.ecl
            out["ecl_weighted_se"] = self.ecl.ecl_se
            out["ecl_scenarios"] = [s.as_dict() for s in self.ecl.scenarios]
        return out

    def _parts_fields(self) -> dict[str, Any]:
        """``segments.<name>.`` and ``debtors.<name>.`` keys of the implied values (DESIGN 2.12,
        2.13): a segment's are its pooled book's (its debtors are under ``debtors``)."""
        out: dict[str, Any] = {}
        parts = self.parts
        if parts is None:
            return out
        if parts.segments:
            segs = {seg.name: seg for seg in book_segments(self.scenario)}
            out["segments"] = {}
            for name, imp in parts.segments.items():
                seg = segs[name]
                allowance = float(np.dot(seg.provision_rates, seg.gross or []))
                out["segments"][name] = _implied_fields(imp, allowance)
        if len(parts.debtor_names):
            out["debtors"] = {
                name: {"implied_lifetime_loss": float(loss), "implied_lifetime_loss_se": float(se)}
                for name, loss, se in zip(
                    parts.debtor_names, parts.debtor_loss, parts.debtor_loss_se, strict=True
                )
            }
        return out


def _implied_fields(imp: ImpliedRates, allowance: float) -> dict[str, Any]:
    """A segment's implied rates, lifetime loss and allowance coverage, with SEs."""
    out: dict[str, Any] = {
        "implied_rates": imp.by_label(),
        "implied_rates_se": imp.by_label(imp.rates_se),
        "implied_lifetime_loss": imp.lifetime_loss,
        "implied_lifetime_loss_se": imp.lifetime_loss_se,
    }
    out |= _coverage(allowance, imp.lifetime_loss, imp.lifetime_loss_se)
    return out


def _coverage(allowance: float, loss: float, loss_se: float) -> dict[str, Any]:
    """``allowance_coverage`` (allowance / implied lifetime loss) and its SE; ``None`` when the
    implied loss is 0."""
    if loss > 0:
        coverage = allowance / loss
        return {"allowance_coverage": coverage, "allowance_coverage_se": coverage * loss_se / loss}
    return {"allowance_coverage": None, "allowance_coverage_se": None}


def analyse(
    scenario: Scenario,
    *,
    workers: int | None = None,
    replicates: list[dict[str, float]] | None = None,
) -> Analytics:
    """Implied rates (exact or run-off) and the weighted ECL of a scenario.

    Parameters
    ----------
    scenario : Scenario
    workers : int, optional
        Threads for the run-offs.
    replicates : list of dict, optional
        Parameter replicates (DESIGN 2.14): the implied rates are then the mixture over them
        (:func:`simulator.analytic.implied_rates_over_replicates`).

    Returns
    -------
    Analytics
    """
    parts = (
        book_implied_over_replicates(scenario, replicates, workers=workers)
        if replicates
        else book_implied_rates(scenario, workers=workers)
    )
    return Analytics(
        scenario=scenario,
        implied=parts.book,
        ecl=weighted_ecl(scenario, workers=workers),
        parts=parts,
    )


def result_tables(result: SimulationResult) -> dict[str, pd.DataFrame]:
    """The provisioning tables of a results folder, by file name.

    ``provisioning.csv`` (the allowance roll-forward by year), ``provision_matrix.csv`` (with a
    ``total`` row) and, when the scenario declares ECL scenarios, ``ecl_scenarios.csv``.
    """
    analytics = result.analytics()
    tables = {
        "provisioning.csv": allowance_rollforward(result),
        "provision_matrix.csv": _with_total(provision_matrix(result.scenario, analytics.implied)),
    }
    if analytics.ecl is not None:
        tables["ecl_scenarios.csv"] = analytics.ecl.table()
    return tables
