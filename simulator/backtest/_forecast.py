"""One origin of a backtest (DESIGN 7): the fit on the data up to the origin only, the scenario
it gives, its simulated forecast of the months after, and the naive forecast beside it."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..data import Ledger, LedgerFit, fit_ledger, ledger_document, ledger_exposures
from ..results import SimulationResult
from ..scenario import Scenario, default_labels, scenario_from_dict, scenario_toml, with_overrides
from ._origins import NAIVE_PAIRS, BacktestError

#: Bucket edges when neither ``--edges-months`` nor ``--base`` gives them: the disclosure
#: buckets of the bundled scenarios (0–6 months, 6 months–1 year, 1–2, 2–3, 3–4, 4+ years).
DEFAULT_EDGES = (0, 6, 12, 24, 36, 48)
#: Monte Carlo paths per origin by default (one block of the engine).
DEFAULT_PATHS = 4096
#: The forecast variants: the fitted rates as if known, and with the fit's bootstrap as
#: parameter replicates (DESIGN 2.14).
VARIANTS = ("plain", "parameter_risk")


@dataclass(frozen=True)
class BacktestOptions:
    """How each origin is fitted and forecast (the options of ``arsim backtest``).

    Attributes
    ----------
    edges_months : tuple of int, optional
        Bucket edges (default: the base's, else :data:`DEFAULT_EDGES`).
    base : Scenario, optional
        Its factor (β, ρ, φ), multiplier, seasonality and cash assumptions; its rates fill
        buckets without exposure. Without it the forecast has no factor.
    start : datetime.date, optional
        The first month end of every fit's window (default: the ledger's first).
    write_off_age, age_basis, fit_seasonality, time_blocks
        As for ``arsim ledger`` (DESIGN 6.3, 6.4).
    bootstrap : int
        Bootstrap replicates (with ``parameter_risk``).
    billings : {"actual", "model"}
        Realized credit billings (2.15) or the base's revenue model.
    paths, seed : int
        Monte Carlo paths per origin and the seed (of the simulation, the bootstrap and the
        randomised PIT), the same at every origin.
    parameter_risk : bool
        Also forecast with the bootstrap replicates as parameter replicates.
    overrides : dict
        Field path → value, applied to each origin's fitted scenario before it runs (not to the
        naive forecast).
    workers : int, optional
        Threads of each simulation.
    """

    edges_months: tuple[int, ...] | None = None
    base: Scenario | None = None
    start: dt.date | None = None
    write_off_age: int | None = None
    age_basis: str = "invoice"
    fit_seasonality: bool = False
    time_blocks: int | None = None
    bootstrap: int = 200
    billings: str = "actual"
    paths: int = DEFAULT_PATHS
    seed: int = 0
    parameter_risk: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)
    workers: int | None = None

    @property
    def edges(self) -> list[int]:
        """The bucket edges in use."""
        if self.edges_months is not None:
            return list(self.edges_months)
        if self.base is not None:
            return list(self.base.buckets.edges_months)
        return list(DEFAULT_EDGES)

    @property
    def labels(self) -> list[str]:
        """The bucket labels: the base's on its own edges, else made from the edges."""
        if self.base is not None and list(self.base.buckets.edges_months) == self.edges:
            return self.base.labels
        return default_labels(self.edges)

    @property
    def w(self) -> int | None:
        """The write-off age: given, else the base's."""
        if self.write_off_age is not None:
            return self.write_off_age
        return self.base.defaults.write_off_after_months if self.base is not None else None


def _neutral_base(options: BacktestOptions, origin: dt.date, source: str) -> Scenario:
    """The base without ``--base``: no factor, multiplier 1, no seasonality, no provisions."""
    k = len(options.edges)
    raw: dict[str, Any] = {
        "scenario": {"name": f"Backtest of {source}", "as_of": origin},
        "buckets": {
            "edges_months": options.edges,
            "gross": [0.0] * k,
            "provision_rates": [0.0] * k,
        },
        "collections": {"monthly_rate": [0.0] * k},
        "defaults": {"monthly_rate": [0.0] * k},
        "cash": {"opening": 0.0},
    }
    if options.w is not None:
        raw["defaults"]["write_off_after_months"] = options.w
    return scenario_from_dict(raw, source=source)


@dataclass(frozen=True)
class OriginFit:
    """What the data up to an origin give (nothing after it enters).

    Attributes
    ----------
    origin : datetime.date
    fit : LedgerFit
        The rates of DESIGN 6.3 on the window to the origin.
    scenario : dict
        The scenario ``arsim ledger --base`` would write at the origin, as a mapping
        (before the horizon, the billings and the overrides are set).
    naive_c, naive_p : ndarray, shape (K,)
        ``ĉ_b`` and ``p̂_b`` of the last :data:`NAIVE_PAIRS` month-end pairs (the window's rate
        where a bucket had no exposure in them).
    notes : list of str
    """

    origin: dt.date
    fit: LedgerFit
    scenario: dict[str, Any]
    naive_c: np.ndarray
    naive_p: np.ndarray
    notes: list[str]


def _naive_rates(fit: LedgerFit) -> tuple[np.ndarray, np.ndarray, list[str]]:
    ex = fit.exposures
    g = ex.groups
    sel = slice(ex.n_pairs - NAIVE_PAIRS, ex.n_pairs)
    grp = g.of_age(np.arange(g.n_ages))
    bucket, in_p = g.bucket[grp], g.in_p[grp]
    e = ex.exposure_by_age[sel].sum(axis=0)
    col = ex.collected_by_age[sel].sum(axis=0)
    wo = ex.written_off_by_age[sel].sum(axis=0)
    k = len(g.edges)
    c, p, notes = np.empty(k), np.empty(k), []
    for b in range(k):
        mc, mp = bucket == b, (bucket == b) & in_p
        ec, ep = e[mc].sum(), e[mp].sum()
        c[b] = np.clip(col[mc].sum() / ec, 0, 1) if ec > 0 else np.nan
        p[b] = np.clip(wo[mp].sum() / ep, 0, 1) if ep > 0 else np.nan
        if not (ec > 0 and ep > 0):
            notes.append(
                f"naive forecast: no exposure in {ex.labels[b]} over the last {NAIVE_PAIRS} "
                "month-end pairs; it takes the fitted rate there"
            )
    c = np.where(np.isfinite(c), c, np.where(np.isfinite(fit.raw_c), fit.raw_c, fit.c))
    p = np.where(np.isfinite(p), p, fit.p)
    return c, p, notes


def fit_origin(ledger: Ledger, origin: dt.date, options: BacktestOptions) -> OriginFit:
    """Fit the rates on the ledger's data up to ``origin`` only (DESIGN 7).

    The exposures are those of ``arsim ledger --as-of ORIGIN`` (invoices and events dated after
    the origin are ignored), the scenario the one it writes with the base.

    Raises
    ------
    BacktestError
        If a bucket has no exposure and there is no base, or the fit fails.
    """
    src = ledger.source
    try:
        ex = ledger_exposures(
            ledger,
            as_of=origin,
            edges_months=options.edges,
            labels=options.labels,
            start=options.start,
            write_off_age=options.w,
            age_basis=options.age_basis,
            time_blocks=options.time_blocks,
        )
        base = options.base or _neutral_base(options, origin, src)
        fit = fit_ledger(
            ex,
            base=base,
            fit_seasonality=options.fit_seasonality,
            bootstrap=options.bootstrap if options.parameter_risk else 0,
            rng=options.seed,
            time_blocks=options.time_blocks is not None,
        )
    except ValueError as exc:  # LedgerError is one
        text = str(exc)
        raise BacktestError(src, f"origin {origin.isoformat()}", text) from None
    if options.base is None and (fit.kept_c or fit.kept_p):
        empty = sorted(set(fit.kept_c) | set(fit.kept_p))
        raise BacktestError(
            src,
            "--edges-months",
            f"no exposure in bucket(s) {', '.join(fit.labels[b] for b in empty)} over the window "
            f"to the origin {origin.isoformat()}; give --base to keep its rates there, or other "
            "--edges-months",
        )
    text, _ = ledger_document(ledger, fit, scenario_toml(base), write_off_age=options.write_off_age)
    raw = tomllib.loads(text)
    raw.pop("sweep", None)
    raw.pop("ecl_scenarios", None)
    naive_c, naive_p, notes = _naive_rates(fit)
    return OriginFit(origin, fit, raw, naive_c, naive_p, [*fit.notes, *notes])


def origin_scenario(
    of: OriginFit,
    horizon: int,
    billings: np.ndarray | None,
    options: BacktestOptions,
    *,
    naive: bool = False,
) -> Scenario:
    """The scenario an origin simulates over ``horizon`` months: the fitted one with the
    realized ``billings`` as ``revenue.credit_billings`` (DESIGN 2.15; ``None``: the revenue
    model, ``revenue.monthly`` set to the mean monthly invoicing of the 12 months to the origin,
    moved to the origin's month by the base's growth) and the overrides; with ``naive``, the 2.4
    recursion with no factor, no multiplier or seasonality and the naive rates."""
    raw = {k: dict(v) if isinstance(v, dict) else v for k, v in of.scenario.items()}
    raw["simulation"] = {
        **raw.get("simulation", {}),
        "horizon_months": int(horizon),
        "paths": 1 if naive else options.paths,
        "trajectory_paths": 1 if naive else options.paths,
        "seed": options.seed,
    }
    rev = raw.setdefault("revenue", {})
    if billings is not None:
        rev["credit_billings"] = [float(x) for x in billings]
    else:
        rev.pop("credit_billings", None)
        totals = of.fit.exposures.totals
        level = totals["billed_last_12"] / max(totals["billed_months"], 1)
        rev["monthly"] = level * (1.0 + rev.get("annual_growth", 0.0)) ** (6.5 / 12.0)
    if naive:
        rev["volatility"] = 0.0  # with the revenue model: its mean billings
        raw["collections"] = {
            "monthly_rate": [float(x) for x in of.naive_c],
            "multiplier": 1.0,
            "factor_loading": 0.0,
        }
        raw["defaults"] = {
            **raw["defaults"],
            "monthly_rate": [float(x) for x in of.naive_p],
            "correlation": 0.0,
        }
    sc = scenario_from_dict(raw, source=f"{of.scenario.get('scenario', {}).get('name', '')}")
    if options.overrides and not naive:
        sc = with_overrides(sc, options.overrides)
    return sc


def _simulate(
    scenario: Scenario, options: BacktestOptions, replicates: list[dict[str, float]] | None = None
) -> SimulationResult:
    """Run a scenario; with ``replicates``, path ``n`` with replicate ``π[n mod R]`` (DESIGN
    2.14). The replicates go to the engine directly: :func:`simulator.simulate` would add a
    second plain run on the same seed and paths, which is the plain forecast already made."""
    if replicates is None:
        from ..api import simulate

        return simulate(scenario, workers=options.workers)
    from ..engine import simulate_paths

    return simulate_paths(scenario, workers=options.workers, replicates=replicates)


def origin_replicates(
    of: OriginFit, scenario: Scenario, options: BacktestOptions, source: str
) -> list[dict[str, float]]:
    """The fit's bootstrap at an origin as parameter replicates of the scenario it runs
    (DESIGN 2.14): one row per bootstrap replicate, the fitted ``c_b`` and ``p_b`` of every
    bucket the window measured (:func:`simulator.data.replicates_table`), checked against the
    scenario like ``arsim run --replicates``.

    Raises
    ------
    BacktestError
        If a row breaks the scenario's rules, a column is also set by ``--set``, or the paths
        are fewer than twice the replicates.
    """
    from ..data import replicates_table
    from ..engine import check_replicate_paths
    from ..scenario import ScenarioError, replicate_rows

    at = f"origin {of.origin.isoformat()}"
    try:
        rows = replicate_rows(
            scenario,
            replicates_table(of.fit),
            source,
            {key: "--set" for key in options.overrides},
        )
        check_replicate_paths(scenario, rows)
    except ScenarioError as exc:
        raise BacktestError(source, f"{at}: bootstrap {exc.field}", exc.reason) from None
    return rows


def series_samples(result: SimulationResult, labels: list[str]) -> dict[str, np.ndarray]:
    """The compared series of a simulation (DESIGN 7), each ``(paths, months)`` from the
    trajectory sample: ``collections``, ``write_offs`` (the credit loss: defaults and write-offs
    at the write-off age), ``gross``, ``gross_<label>`` and, when the horizon reaches 12
    months, ``collections_12m`` (``(paths, 1)``: the first 12 months' collections)."""
    tr = result.trajectory
    assert tr is not None, "a backtest needs the trajectory sample"
    out = {
        "collections": tr["collections"][:, 1:],
        "write_offs": tr["credit_loss"][:, 1:],
        "gross": tr["gross"][:, 1:],
    }
    for lab in labels:
        out[f"gross_{lab}"] = tr[f"gross_{lab}"][:, 1:]
    if result.horizon >= 12:
        out["collections_12m"] = tr["collections"][:, 1:13].sum(axis=1, keepdims=True)
    return out


def realized_values(after: dict[str, np.ndarray], labels: list[str]) -> dict[str, np.ndarray]:
    """The realized counterpart of :func:`series_samples` (each ``(months,)``)."""
    out = {
        "collections": after["collections"],
        "write_offs": after["write_offs"],
        "gross": after["gross"],
    }
    for b, lab in enumerate(labels):
        out[f"gross_{lab}"] = after["gross_by_bucket"][:, b]
    if len(after["collections"]) >= 12:
        out["collections_12m"] = np.array([after["collections"][:12].sum()])
    return out


def forecast_origin(
    of: OriginFit,
    horizon: int,
    billings: np.ndarray | None,
    options: BacktestOptions,
    source: str = "<ledger>",
) -> tuple[
    dict[str, dict[str, np.ndarray]],
    dict[str, np.ndarray],
    Scenario,
    list[dict[str, float]] | None,
]:
    """Simulate an origin's forecast and its naive forecast (``source``: the ledger, for
    messages).

    Returns
    -------
    samples : dict
        Variant (``plain``, and ``parameter_risk`` with it) → series → ``(paths, months)``.
        Both run the same scenario on the same seed and paths; ``parameter_risk`` runs path
        ``n`` with bootstrap replicate ``π[n mod R]`` (:func:`origin_replicates`).
    naive : dict
        Series → ``(months,)``.
    scenario : Scenario
        What the plain forecast ran.
    replicates : list of dict or None
        The rows the ``parameter_risk`` variant ran (``None`` without it).
    """
    labels = options.labels
    sc = origin_scenario(of, horizon, billings, options)
    samples = {"plain": series_samples(_simulate(sc, options), labels)}
    rows = None
    if options.parameter_risk:
        rows = origin_replicates(of, sc, options, source)
        samples["parameter_risk"] = series_samples(_simulate(sc, options, rows), labels)
    naive_sc = origin_scenario(of, horizon, billings, options, naive=True)
    naive = {k: v[0] for k, v in series_samples(_simulate(naive_sc, options), labels).items()}
    return samples, naive, sc, rows


def check_parameter_risk(options: BacktestOptions, source: str) -> None:
    """Refuse ``parameter_risk`` where it cannot run.

    Raises
    ------
    BacktestError
        If there are fewer than 2 replicates, the paths are fewer than twice the replicates
        (DESIGN 2.14), or ``--set`` changes a rate the replicates vary.
    """
    if not options.parameter_risk:
        return
    if options.bootstrap < 2:
        raise BacktestError(source, "--bootstrap", "--parameter-risk needs 2 or more replicates")
    for path in options.overrides:
        if path.startswith(("collections.monthly_rate", "defaults.monthly_rate")):
            raise BacktestError(
                source,
                f"--set {path}",
                "the replicates of --parameter-risk vary this field; leave it to the fit",
            )
    if options.paths < 2 * options.bootstrap:
        raise BacktestError(
            source,
            "--paths",
            f"--parameter-risk needs at least twice the replicates ({2 * options.bootstrap}) "
            f"paths, got {options.paths}",
        )
