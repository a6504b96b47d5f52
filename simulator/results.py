"""Simulation results: per-path columns, monthly statistics, the trajectory sample, the summary."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ._kernel import WRITE_OFF_CODE
from ._util import Moments, json_ready
from .params import MONTHLY_VARS
from .scenario import Scenario, book_debtors, book_opening, book_segments

__all__ = [
    "MONTHLY_VARS",
    "QUANTILES",
    "QUANTILE_VARS",
    "SimulationResult",
    "book_parts_summary",
    "monthly_names",
    "runway_summary",
]
#: Variables whose monthly quantiles (from the trajectory sample) go into the monthly table.
QUANTILE_VARS = ("cash", "gross", "allowance", "collections", "credit_loss")
QUANTILES = (5, 25, 50, 75, 95)
PER_PATH = ("runway", "min_cash", "cash_end", "collections", "credit_loss", "charge")


def monthly_names(scenario: Scenario) -> list[str]:
    """The monthly variables of a scenario's paths: :data:`MONTHLY_VARS`, gross by bucket
    (``gross_<label>``) and, with ``[[segments]]``, gross by segment
    (``segment_gross_<name>``)."""
    segments = [seg.name for seg in book_segments(scenario) if seg.explicit]
    return [
        *MONTHLY_VARS,
        *(f"gross_{lab}" for lab in scenario.labels),
        *(f"segment_gross_{name}" for name in segments),
    ]


class _Block(Protocol):
    """What a block of paths gives (:class:`simulator.engine.BlockOutput`)."""

    n: int
    per_path: dict[str, np.ndarray]
    mean: np.ndarray
    m2: np.ndarray
    sample: np.ndarray


class _Analytics(Protocol):
    """What the summary needs of the analytics (:class:`simulator.provisioning.Analytics`)."""

    def summary_fields(self) -> dict[str, Any]: ...


def _proportion(hits: int, n: int) -> tuple[float, float]:
    p = hits / n
    return p, math.sqrt(p * (1.0 - p) / n)


def _proportion_fields(out: dict[str, Any], key: str, hits: int | None, n: int) -> None:
    """``key`` and ``key_se`` of a proportion (``None`` when ``hits`` is), and the rule-of-three
    bound ``key_bound95`` when the estimate is 0 or 1 (DESIGN 2.6)."""
    if hits is None:
        out[key], out[f"{key}_se"] = None, None
        return
    p, se = _proportion(hits, n)
    out[key], out[f"{key}_se"] = p, se
    if p in (0.0, 1.0):
        out[f"{key}_bound95"] = min(3.0 / n, 1.0) if p == 0.0 else max(1.0 - 3.0 / n, 0.0)


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    n = len(x)
    mean = float(np.mean(x))
    se = float(np.std(x, ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    return mean, se


def runway_summary(runway: np.ndarray, horizon: int) -> dict[str, Any]:
    """Runway probabilities and quantiles of DESIGN 2.6 from per-path runways.

    Parameters
    ----------
    runway : ndarray of int
        Month at which cash first fell below the floor (0..H); ``H + 1`` for censored paths.
    horizon : int
        ``H``.

    Returns
    -------
    dict
        ``p_runway_le_12``, ``p_runway_le_24``, ``p_runway_le_horizon`` with ``_se`` (and
        ``_bound95``, the rule-of-three bound, when the estimate is 0 or 1), and
        ``runway_quantiles``.
    """
    n = len(runway)
    counts = np.bincount(runway.astype(np.int64), minlength=horizon + 2)
    cum = np.cumsum(counts)
    out: dict[str, Any] = {}
    for key, k in (
        ("p_runway_le_12", 12),
        ("p_runway_le_24", 24),
        ("p_runway_le_horizon", horizon),
    ):
        _proportion_fields(out, key, None if horizon < k else int(cum[k]), n)
    quantiles = {}
    for q in QUANTILES:
        # smallest t with P(tau <= t) >= q, compared in integers to avoid rounding
        idx = int(np.searchsorted(cum * 100, q * n, side="left"))
        quantiles[f"p{q}"] = idx if idx <= horizon else None
    out["runway_quantiles"] = quantiles
    return out


@dataclass
class SimulationResult:
    """The outcome of :func:`simulator.simulate`.

    Attributes
    ----------
    scenario : Scenario
        The validated scenario that was run (with any overrides applied).
    per_path : dict of ndarray
        For every path: ``runway`` (month 0..H, ``H + 1`` when censored), ``min_cash``,
        ``cash_end``, ``collections``, ``credit_loss`` and ``charge`` (totals over the horizon).
    monthly : pandas.DataFrame
        One row per month 0..H: ``<var>_mean`` and ``<var>_se`` over all paths and, for cash,
        gross, allowance, collections and credit loss, ``<var>_p5`` … ``<var>_p95`` from the
        trajectory sample.
    trajectory : dict of ndarray or None
        Monthly values of the first ``min(paths, trajectory_paths)`` paths, each
        ``(n_sample, H + 1)``; ``None`` for results read back from a folder.
    engine_version : str
    wall_seconds : float
    analytics_source : callable or None
        Computes the analytics of the scenario (implied rates, weighted ECL) when the summary
        first needs them; handed over by whoever built the result (:func:`simulator.simulate`,
        :func:`simulator.storage.load_results`). ``None``: the result has none.
    """

    scenario: Scenario
    per_path: dict[str, np.ndarray]
    monthly: pd.DataFrame
    trajectory: dict[str, np.ndarray] | None
    engine_version: str
    wall_seconds: float = float("nan")
    analytics_source: Callable[[Scenario], _Analytics] | None = field(
        default=None, repr=False, compare=False
    )
    parameter_risk: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    replicates: list[dict[str, float]] | None = field(default=None, repr=False, compare=False)
    _analytics: Any = field(default=None, init=False, repr=False, compare=False)

    @property
    def seed(self) -> int:
        """The seed of the run."""
        return self.scenario.simulation.seed

    @property
    def n_paths(self) -> int:
        """Number of simulated paths."""
        return len(self.per_path["runway"])

    @property
    def horizon(self) -> int:
        """Horizon ``H`` in months."""
        return self.scenario.simulation.horizon_months

    @property
    def monthly_var_names(self) -> list[str]:
        """Monthly variables, gross by bucket included (``gross_<label>``)."""
        return monthly_names(self.scenario)

    @classmethod
    def from_blocks(
        cls,
        scenario: Scenario,
        blocks: Iterable[_Block],
        *,
        engine_version: str,
        sample: np.ndarray | None = None,
        analytics: Callable[[Scenario], _Analytics] | None = None,
    ) -> SimulationResult:
        """Combine block outputs, in block order, into one result.

        ``sample`` is the run's trajectory sample when the blocks wrote into it
        (``run_block(sample_out=...)``); otherwise the blocks' own samples are gathered.
        ``analytics`` becomes the result's :attr:`analytics_source`.
        """
        paths = scenario.simulation.paths
        per_path: dict[str, np.ndarray] = {}
        count = 0
        moments = Moments()
        gathered, filled = None, 0
        for blk in blocks:
            if not per_path:  # PER_PATH, then a scenario's segment and pool columns
                per_path = {k: np.empty(paths, dtype=v.dtype) for k, v in blk.per_path.items()}
            for k, v in blk.per_path.items():
                per_path[k][count : count + blk.n] = v
            moments.merge(blk.n, blk.mean, blk.m2)  # in block order
            if sample is None and blk.sample.shape[-1]:
                if gathered is None:  # the sample is the first paths: this is the first block
                    size = min(paths, scenario.simulation.trajectory_paths)
                    gathered = np.empty((*blk.sample.shape[:-1], size))
                filled = count + blk.sample.shape[-1]
                gathered[..., count:filled] = blk.sample
            count += blk.n
        mean, m2 = moments.mean, moments.m2
        assert count == paths and mean is not None and m2 is not None
        if sample is None and gathered is not None:
            sample = gathered[..., :filled]  # what the blocks gave, no uninitialised columns
        if sample is not None and not sample.shape[-1]:
            sample = None
        names = monthly_names(scenario)
        se = np.sqrt(m2 / max(count - 1, 1) / count) if count > 1 else np.full_like(m2, np.nan)
        table = _monthly_table(scenario, names, mean, se, sample)
        # (paths, months) views of the one sample array: no transposed copies
        trajectory = (
            {name: sample[i].T for i, name in enumerate(names)} if sample is not None else None
        )
        return cls(
            scenario,
            per_path,
            table,
            trajectory,
            engine_version,
            analytics_source=analytics,
        )

    @property
    def paths(self) -> pd.DataFrame:
        """Per-path outputs as a DataFrame (built on each access).

        Columns: ``runway_months`` (nullable integer, missing when censored),
        ``runway_censored``, ``min_cash``, ``cash_end``, ``collections``, ``credit_loss``,
        ``provision_charge``; money in the scenario's unit. Then, when the run has them:
        ``collections_<segment>`` and ``credit_loss_<segment>`` (DESIGN 2.12),
        ``credit_loss_pool`` (the pooled book without the named debtors, 2.13) and
        ``replicate`` (2.14).
        """
        runway = self.per_path["runway"]
        censored = runway > self.horizon
        columns = {
            "runway_months": pd.Series(runway, dtype="Int16").mask(censored),
            "runway_censored": censored,
            "min_cash": self.per_path["min_cash"],
            "cash_end": self.per_path["cash_end"],
            "collections": self.per_path["collections"],
            "credit_loss": self.per_path["credit_loss"],
            "provision_charge": self.per_path["charge"],
        }
        columns |= {k: v for k, v in self.per_path.items() if k not in PER_PATH}
        return pd.DataFrame(columns).rename_axis("path")

    def analytics(self) -> Any:
        """Implied provision rates and weighted ECL of the scenario (computed once, then cached).

        Returns
        -------
        simulator.provisioning.Analytics

        Raises
        ------
        ValueError
            If the result was built without an analytics source (``summary(analytics=False)``
            still works).
        """
        if self._analytics is None:
            if self.analytics_source is None:
                raise ValueError(
                    "this result has no analytics; build it with simulator.simulate, or ask "
                    "for summary(analytics=False)"
                )
            self._analytics = self.analytics_source(self.scenario)
        return self._analytics

    def summary(self, *, analytics: bool = True) -> dict[str, Any]:
        """The summary statistics of DESIGN 2.9, with standard errors.

        Parameters
        ----------
        analytics : bool, optional
            Include the keys that come from the implied rates and the ECL (a run-off of the
            opening book per scenario); ``False`` leaves them out, for callers that only need
            the simulated statistics.

        Returns
        -------
        dict
            JSON-ready: probabilities and means with ``<key>_se``; ``null`` where undefined.
        """
        sc = self.scenario
        pp = self.per_path
        out: dict[str, Any] = runway_summary(pp["runway"], self.horizon)
        for key, col in (
            ("credit_loss_mean", "credit_loss"),
            ("collections_mean", "collections"),
            ("cash_end_mean", "cash_end"),
            ("min_cash_mean", "min_cash"),
            ("provision_charge_mean", "charge"),
        ):
            out[key], out[f"{key}_se"] = _mean_se(pp[col])
        out["credit_loss_p95"] = float(np.quantile(pp["credit_loss"], 0.95))
        out["credit_loss_p99"] = float(np.quantile(pp["credit_loss"], 0.99))
        out["min_cash_p5"] = float(np.quantile(pp["min_cash"], 0.05))
        opening = book_opening(sc)  # over segments and debtors (DESIGN 2.12)
        out["allowance_opening"] = float(np.dot(opening.rates, opening.gross))
        out["gross_opening"] = float(np.sum(opening.gross))
        out["disclosed_rates"] = dict(zip(sc.labels, opening.rates, strict=True))
        out |= book_parts_summary(sc, pp)
        if analytics:  # implied rates, coverage, weighted ECL; per segment and debtor too
            for key, value in self.analytics().summary_fields().items():
                if key in ("segments", "debtors"):
                    for name, fields in value.items():
                        out[key][name] |= fields
                else:
                    out[key] = value
        if self.parameter_risk is not None:
            out["parameter_risk"] = self.parameter_risk
        out["unit"] = sc.money_unit
        out["horizon_months"] = self.horizon
        out["scenario"] = sc.model_dump(mode="json")
        out["seed"] = self.seed
        out["paths"] = self.n_paths
        out["engine_version"] = self.engine_version
        out["wall_seconds"] = self.wall_seconds
        return json_ready(out)


def book_parts_summary(scenario: Scenario, per_path: dict[str, np.ndarray]) -> dict[str, Any]:
    """The simulated ``segments.<name>.`` and ``debtors.<name>.`` keys of a summary (DESIGN 2.12,
    2.13) and its ``concentration``; empty for a book without segments and debtors.

    A segment's ``credit_loss_*`` and ``collections_mean`` count its named debtors (the
    engine's per-path columns do); its ``allowance_opening`` is its pooled book's (a debtor's is
    under ``debtors.<name>.``), so that the book's is the sum of both. A debtor's outcome comes
    from its per-path event code (``debtor_<name>``): ``p_default`` (defaulted within H),
    ``p_loss`` (defaulted or written off), ``p_paid_12``, ``p_paid_horizon`` and ``loss_mean``
    (``B_j · p_loss``), with SEs.
    """
    out: dict[str, Any] = {}
    fields: dict[str, Any]
    horizon = scenario.simulation.horizon_months
    segments = [seg for seg in book_segments(scenario) if seg.explicit]
    if segments:
        out["segments"] = {}
        for seg in segments:
            loss = per_path[f"credit_loss_{seg.name}"]
            fields = {}
            fields["credit_loss_mean"], fields["credit_loss_mean_se"] = _mean_se(loss)
            fields["credit_loss_p95"] = float(np.quantile(loss, 0.95))
            fields["credit_loss_p99"] = float(np.quantile(loss, 0.99))
            coll = per_path[f"collections_{seg.name}"]
            fields["collections_mean"], fields["collections_mean_se"] = _mean_se(coll)
            fields["allowance_opening"] = float(np.dot(seg.provision_rates, seg.gross or []))
            fields["gross_opening"] = float(np.sum(seg.gross or []))
            out["segments"][seg.name] = fields
    debtors = book_debtors(scenario)
    if debtors:
        out["debtors"] = {}
        edges = scenario.buckets.edges_months
        for d in debtors:
            code = per_path[f"debtor_{d.name}"]
            n = len(code)
            lost = int(np.count_nonzero(code < 0))
            fields: dict[str, Any] = {}
            b = int(np.searchsorted(edges, d.age_months, side="right")) - 1
            rate = d.provision_rate
            if rate is None:
                rate = book_segments(scenario)[d.segment].provision_rates[b]
            fields["allowance_opening"] = rate * d.balance
            defaulted = np.count_nonzero((code < 0) & (code > -WRITE_OFF_CODE))
            _proportion_fields(fields, "p_default", int(defaulted), n)
            _proportion_fields(fields, "p_loss", lost, n)
            paid_12 = None if horizon < 12 else int(np.count_nonzero((code > 0) & (code <= 12)))
            _proportion_fields(fields, "p_paid_12", paid_12, n)
            _proportion_fields(fields, "p_paid_horizon", int(np.count_nonzero(code > 0)), n)
            fields["loss_mean"] = d.balance * fields["p_loss"]
            fields["loss_mean_se"] = d.balance * fields["p_loss_se"]
            out["debtors"][d.name] = fields
        named = math.fsum(d.balance for d in debtors)
        gross = math.fsum(book_opening(scenario).gross)
        out["concentration"] = {
            "debtors": len(debtors),
            "debtor_gross": named,
            "debtor_share": named / gross if gross > 0 else None,
            "credit_loss_p99": float(np.quantile(per_path["credit_loss"], 0.99)),
            "credit_loss_p99_pool": float(np.quantile(per_path["credit_loss_pool"], 0.99)),
        }
    return out


def _monthly_table(
    scenario: Scenario,
    names: list[str],
    mean: np.ndarray,
    se: np.ndarray,
    sample: np.ndarray | None,
) -> pd.DataFrame:
    horizon = scenario.simulation.horizon_months
    cols: dict[str, Any] = {"month": np.arange(horizon + 1)}
    as_of = scenario.scenario.as_of
    if as_of is not None:
        start = pd.Timestamp(as_of)
        cols["date"] = [
            (
                start + (pd.offsets.MonthEnd(t) if start.is_month_end else pd.DateOffset(months=t))
            ).date()
            for t in range(horizon + 1)
        ]
    for i, name in enumerate(names):
        cols[f"{name}_mean"] = mean[:, i]
        cols[f"{name}_se"] = se[:, i]
        if name in QUANTILE_VARS:
            if sample is not None and sample.shape[-1]:
                qs = np.quantile(sample[i], np.array(QUANTILES) / 100, axis=-1)
            else:
                qs = np.full((len(QUANTILES), horizon + 1), np.nan)
            for q, values in zip(QUANTILES, qs, strict=True):
                cols[f"{name}_p{q}"] = values
    return pd.DataFrame(cols)
