"""The backtest of DESIGN 7 as one call: origins, the realized series, a fit and a forecast per
origin, the scores and the metrics, gathered in a :class:`Backtest`."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._util import json_ready
from ..data import Ledger
from ..scenario import Scenario, scenario_hash
from ._forecast import (
    VARIANTS,
    BacktestOptions,
    OriginFit,
    check_parameter_risk,
    fit_origin,
    forecast_origin,
    realized_values,
)
from ._metrics import LEVELS, metrics_table, score_rows
from ._origins import (
    BacktestError,
    check_origins,
    is_month_end,
    ledger_data_end,
    ledger_first_month_end,
    month_end,
    month_number,
    origin_horizon,
    rolling_origins,
)
from ._realized import Realized, realized_series

#: Spawn key of the randomised PIT's stream (DESIGN 7): ``SeedSequence(seed, spawn_key=(7,
#: month number of the origin, variant))``.
PIT_STREAM = 7


def series_label(name: str) -> str:
    """How a series reads in tables and plots."""
    fixed = {
        "collections": "collections, monthly",
        "collections_12m": "collections over 12 months",
        "write_offs": "write-offs, monthly",
        "gross": "gross at month end",
    }
    return fixed.get(name) or f"gross {name.removeprefix('gross_')} at month end"


def series_order(labels: list[str]) -> list[str]:
    """The compared series, in the order they are shown."""
    return [
        "collections",
        "collections_12m",
        "write_offs",
        "gross",
        *(f"gross_{x}" for x in labels),
    ]


@dataclass
class Backtest:
    """The outcome of :func:`backtest`.

    Attributes
    ----------
    forecasts : DataFrame
        One row per variant, origin, series and horizon month: ``realized``, the forecast's
        ``mean`` and quantiles ``p5`` … ``p95``, ``naive``, ``crps``, ``naive_abs_error``,
        ``pit``, ``covered_50``, ``covered_90``.
    metrics : DataFrame
        Per variant, series and horizon (and ``"all"``): :func:`summarize`'s metrics.
    realized : Realized
    origins : list of dict
        Per origin: its window, rates (fitted and naive), the opening book and notes.
    scenarios : dict
        Origin (ISO date) → the scenario its forecasts ran.
    info : dict
        The ledger, the options and the facts every reader needs (JSON-ready), with
        ``seconds``: the wall time of the realized series, the fits, the forecasts (the
        simulations) and the scoring.
    replicates : dict
        With parameter risk, origin (ISO date) → the bootstrap replicates its ``parameter_risk``
        forecast ran (a table of DESIGN 2.14: one row each, columns are field paths).
    """

    forecasts: pd.DataFrame
    metrics: pd.DataFrame
    realized: Realized
    origins: list[dict[str, Any]]
    scenarios: dict[str, Scenario] = field(repr=False)
    info: dict[str, Any]
    replicates: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    @property
    def variants(self) -> list[str]:
        """The variants forecast (``plain``, and ``parameter_risk`` with parameter risk)."""
        return [v for v in VARIANTS if v in set(self.forecasts["variant"])]

    def metric(self, series: str, key: str, variant: str = "plain", horizon: str = "all") -> Any:
        """One metric (``None`` where the series has no forecast at that horizon)."""
        m = self.metrics
        sel = m[(m.variant == variant) & (m.series == series) & (m.horizon == horizon)]
        if sel.empty:
            return None
        x = sel.iloc[0][key]
        return None if isinstance(x, float) and not np.isfinite(x) else x

    def document(self) -> dict[str, Any]:
        """``backtest.json``: the facts, the origins and the metrics by variant, series and
        horizon (JSON-ready; NaN is ``null``)."""
        metrics: dict[str, Any] = {}
        for rec in self.metrics.to_dict("records"):
            v, s, h = rec.pop("variant"), rec.pop("series"), rec.pop("horizon")
            slot = metrics.setdefault(v, {}).setdefault(s, {"label": series_label(s)})
            if h == "all":
                slot["all"] = rec
            else:
                slot.setdefault("by_horizon", {})[h] = rec
        return json_ready(
            {
                "kind": "backtest",
                **self.info,
                "variants": self.variants,
                "origins": self.origins,
                "metrics": metrics,
            }
        )


def _window_facts(of: OriginFit) -> dict[str, Any]:
    fit, ex = of.fit, of.fit.exposures
    rates = {
        lab: {
            "collection_rate": fit.c[b],
            "collection_rate_observed": fit.raw_c[b],
            "default_rate": fit.p[b],
            "naive_collection_rate": of.naive_c[b],
            "naive_default_rate": of.naive_p[b],
            "opening_gross": ex.gross[b],
        }
        for b, lab in enumerate(fit.labels)
    }
    return {
        "window": {"from": ex.start.isoformat(), "to": ex.as_of.isoformat(), "pairs": ex.n_pairs},
        "rates": rates,
        "opening_gross": float(ex.gross.sum()),
        "credit_share": None if fit.cash_like_share is None else 1.0 - fit.cash_like_share,
        "seasonality": None if fit.seasonality is None else list(fit.seasonality),
    }


def _rows(
    origin: dt.date,
    variant: str,
    samples: dict[str, np.ndarray],
    realized: dict[str, np.ndarray],
    naive: dict[str, np.ndarray],
    order: list[str],
    seed: int,
) -> list[pd.DataFrame]:
    ss = np.random.SeedSequence(
        seed, spawn_key=(PIT_STREAM, month_number(origin), VARIANTS.index(variant))
    )
    rng = np.random.default_rng(ss)
    frames = []
    for name in order:
        if name not in samples:
            continue
        x = samples[name]
        scores = score_rows(x, realized[name], naive[name], rng)
        h = np.array([12]) if name == "collections_12m" else np.arange(1, x.shape[1] + 1)
        frames.append(
            pd.DataFrame(
                {
                    "variant": variant,
                    "origin": origin.isoformat(),
                    "series": name,
                    "horizon": h,
                    "month_end": [month_end(month_number(origin) + int(k)).isoformat() for k in h],
                    **scores,
                }
            )
        )
    return frames


def backtest(
    ledger: Ledger,
    *,
    horizon: int,
    origins: list[dt.date] | None = None,
    rolling: int | None = None,
    data_end: dt.date | None = None,
    options: BacktestOptions | None = None,
    progress: Callable[[int], None] | None = None,
) -> Backtest:
    """Backtest the model on a ledger (DESIGN 7).

    For each origin T (a month end): fit the rates on the data up to T only, take the aged
    balance at T as the opening book, simulate ``H_T = min(horizon, months to the data end)``
    months with the realized credit billings, and score the forecast against what happened,
    beside the naive forecast.

    Parameters
    ----------
    ledger : Ledger
    horizon : int
        ``H``, months (1..1200).
    origins : list of datetime.date, optional
        Month ends; or
    rolling : int, optional
        The last N month ends with a month after them and 12 month-end pairs before them.
    data_end : datetime.date, optional
        The last month end with complete data (default: the last month end on or before the
        ledger's latest date).
    options : BacktestOptions, optional
    progress : callable, optional
        Called with 1 after each origin.

    Returns
    -------
    Backtest

    Raises
    ------
    BacktestError
        For a request that cannot run (the text is one line ``FILE: FIELD: reason``).
    """
    opts = options or BacktestOptions()
    src = ledger.source
    started = time.perf_counter()
    if not 1 <= horizon <= 1200:
        raise BacktestError(src, "--horizon", f"must be in 1..1200 months, got {horizon}")
    if (origins is None) == (rolling is None):
        raise BacktestError(src, "--origins", "give either --origins or --rolling")
    if opts.billings not in ("actual", "model"):
        raise BacktestError(src, "--billings", f"must be actual or model, got {opts.billings!r}")
    if opts.billings == "model" and opts.base is None:
        raise BacktestError(src, "--billings", "model billings need --base (its revenue model)")
    check_parameter_risk(opts, src)
    latest_end = ledger_data_end(ledger)
    if data_end is None:
        data_end = latest_end
    elif not is_month_end(data_end):
        raise BacktestError(src, "--data-end", f"must be a month end, got {data_end.isoformat()}")
    elif data_end > latest_end:
        raise BacktestError(
            src,
            "--data-end",
            f"{data_end.isoformat()} is after the last complete month of the ledger "
            f"({latest_end.isoformat()}, the last month end on or before its latest date)",
        )
    start = opts.start or ledger_first_month_end(ledger)
    if rolling is not None:
        chosen = rolling_origins(rolling, start=start, data_end=data_end, source=src)
    else:
        chosen = check_origins(list(origins or []), start=start, data_end=data_end, source=src)
    labels = opts.labels
    clock = time.perf_counter()
    realized = realized_series(
        ledger,
        start=chosen[0],
        data_end=data_end,
        edges_months=opts.edges,
        labels=labels,
        write_off_age=opts.w,
        age_basis=opts.age_basis,
    )
    seconds = dict.fromkeys(("realized", "fits", "forecasts", "scoring"), 0.0)
    seconds["realized"] = time.perf_counter() - clock
    order = series_order(labels)
    frames: list[pd.DataFrame] = []
    records: list[dict[str, Any]] = []
    scenarios: dict[str, Scenario] = {}
    replicates: dict[str, pd.DataFrame] = {}
    for t in chosen:
        clock = time.perf_counter()
        of = fit_origin(ledger, t, opts)
        seconds["fits"] += time.perf_counter() - clock
        h_t = origin_horizon(t, horizon, data_end)
        after = realized.after(t, h_t)
        billed = after["billings"] if opts.billings == "actual" else None
        clock = time.perf_counter()
        samples, naive, sc, rows = forecast_origin(of, h_t, billed, opts, src)
        seconds["forecasts"] += time.perf_counter() - clock
        clock = time.perf_counter()
        real = realized_values(after, labels)
        for variant, by_series in samples.items():
            frames += _rows(t, variant, by_series, real, naive, order, opts.seed)
        seconds["scoring"] += time.perf_counter() - clock
        scenarios[t.isoformat()] = sc
        if rows is not None:
            replicates[t.isoformat()] = pd.DataFrame(rows)
        records.append(
            {
                "origin": t.isoformat(),
                "horizon_months": h_t,
                **_window_facts(of),
                "billings": [float(x) for x in after["billings"]],
                "scenario_sha256": scenario_hash(sc),
                "notes": of.notes,
            }
        )
        if progress is not None:
            progress(1)
    clock = time.perf_counter()
    forecasts = pd.concat(frames, ignore_index=True)
    metrics = metrics_table(forecasts)
    seconds["scoring"] += time.perf_counter() - clock
    base = opts.base
    sc0 = next(iter(scenarios.values()))
    info = {
        "ledger": ledger.describe(),
        "unit": sc0.money_unit,
        "data_end": data_end.isoformat(),
        "horizon": int(horizon),
        "origins_chosen": "rolling" if rolling is not None else "listed",
        "edges_months": opts.edges,
        "labels": labels,
        "base": None if base is None else {"file": base.source, "name": base.scenario.name},
        "factor": {
            "factor_loading": sc0.collections.factor_loading,
            "correlation": sc0.defaults.correlation,
            "persistence": sc0.factor.persistence,
        },
        "point_forecast": _point_forecast(sc0, opts),
        "billings": opts.billings,
        "paths": opts.paths,
        "seed": opts.seed,
        "parameter_risk": opts.parameter_risk,
        "bootstrap": opts.bootstrap if opts.parameter_risk else 0,
        "time_blocks": opts.time_blocks,
        "window_start": start.isoformat(),
        "write_off_age": opts.w,
        "age_basis": opts.age_basis,
        "fit_seasonality": opts.fit_seasonality,
        "overrides": dict(opts.overrides),
        "levels": list(LEVELS),
        "series": {name: series_label(name) for name in order},
        "wall_seconds": time.perf_counter() - started,
        "seconds": seconds,
    }
    return Backtest(
        forecasts=forecasts,
        metrics=metrics,
        realized=realized,
        origins=json_ready(records),
        scenarios=scenarios,
        info=info,
        replicates=replicates,
    )


def _point_forecast(sc: Scenario, opts: BacktestOptions) -> bool:
    """Whether every path of the plain forecast is the same (no factor, no revenue noise);
    the ``parameter_risk`` forecast's paths still differ by replicate."""
    noise = sc.collections.factor_loading > 0 or sc.defaults.correlation > 0
    if opts.billings == "model":
        noise = noise or sc.revenue.volatility > 0
    return not noise
