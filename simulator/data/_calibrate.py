"""The whole calibration from aging snapshots, and the scenario file it writes."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tomlkit

from ..scenario import (
    Scenario,
    ScenarioError,
    scenario_from_dict,
)
from ._fit import LEVEL, HazardFit, fit_hazards
from ._rollrates import RollRates, roll_rates
from ._snapshots import _OPTIONAL, Snapshots


@dataclass(frozen=True)
class Calibration:
    """Roll rates, fitted hazards and residuals of one aging history.

    Attributes
    ----------
    snapshots : Snapshots
    roll : RollRates
    fit : HazardFit
    base : Scenario or None
        The base scenario (for the write-off age, default rates and the scenario written).
    notes : tuple of str
        Notes about the base (the fit is of average rates with multiplier 1, no seasonality).
    """

    snapshots: Snapshots
    roll: RollRates
    fit: HazardFit
    base: Scenario | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The calibration as JSON-ready data (``null`` where a value is undefined).

        Keys: ``file``, ``edges_months``, ``labels``, ``dates``, ``columns``, ``roll_rates``
        (``periods`` with ``from``, ``to``, ``months`` and ``rates`` keyed by bucket label;
        ``average`` keyed by bucket label), ``loss_rates``, ``terminal_loss``,
        ``collection_rates`` and ``default_rates`` (per label: ``value``, ``low``, ``high``),
        ``default_fit``, ``interval``, ``fit`` (``converged``, ``message``, ``cost``),
        ``residuals`` and ``notes``.
        """
        s, rr, ft = self.snapshots, self.roll, self.fit
        labels = list(s.labels)
        roll_labels = labels[:-1]

        def num(x: float) -> float | None:
            x = float(x)
            return x if math.isfinite(x) else None

        def rates(values: np.ndarray, interval: np.ndarray) -> dict[str, Any]:
            return {
                lab: {"value": num(v), "low": num(lo), "high": num(hi)}
                for lab, v, (lo, hi) in zip(labels, values, interval, strict=True)
            }

        periods = []
        for t in range(s.n_periods):
            periods.append(
                {
                    "from": s.dates[t].isoformat(),
                    "to": s.dates[t + 1].isoformat(),
                    "months": int(s.months[t]),
                    "rates": {lab: num(rr.periods[t, b]) for b, lab in enumerate(roll_labels)},
                }
            )
        residual_periods = []
        for t in range(s.n_periods):
            entry: dict[str, Any] = {
                "date": s.dates[t + 1].isoformat(),
                "observed": {lab: num(ft.observed[t, b]) for b, lab in enumerate(labels)},
                "fitted": {lab: num(ft.fitted[t, b]) for b, lab in enumerate(labels)},
                "included": {lab: bool(ft.included[t, b]) for b, lab in enumerate(labels)},
            }
            if ft.fitted_write_offs is not None and ft.observed_write_offs is not None:
                entry["write_offs"] = {
                    "observed": num(ft.observed_write_offs[t]),
                    "fitted": num(ft.fitted_write_offs[t]),
                }
            residual_periods.append(entry)
        return {
            "file": s.source,
            "edges_months": list(s.edges_months),
            "labels": labels,
            "dates": [d.isoformat() for d in s.dates],
            "columns": [
                c
                for c, v in zip(_OPTIONAL, (s.billings, s.write_offs), strict=True)
                if v is not None
            ],
            "roll_rates": {
                "periods": periods,
                "average": {lab: num(rr.average[b]) for b, lab in enumerate(roll_labels)},
                "into_open_bucket": roll_labels[-1] if roll_labels else None,
            },
            "loss_rates": {lab: num(rr.loss_rates[b]) for b, lab in enumerate(labels)},
            "terminal_loss": rr.terminal_loss,
            "collection_rates": rates(ft.collection_rates, ft.collection_interval),
            "default_rates": rates(ft.default_rates, ft.default_interval),
            "default_fit": {
                "mode": ft.default_mode,
                "shape": None if ft.default_shape is None else [num(x) for x in ft.default_shape],
                "scale": ft.default_scale,
            },
            "interval": {
                "method": ft.interval_method,
                "level": LEVEL if ft.interval_method == "bootstrap" else None,
                "replicates": ft.replicates,
                "seed": ft.seed,
            },
            "fit": {"converged": ft.converged, "message": ft.message, "cost": ft.cost},
            "residuals": {
                "periods": residual_periods,
                "by_bucket": _residuals_by_bucket(ft),
            },
            "notes": [*rr.notes, *ft.notes, *self.notes],
        }


def _residuals_by_bucket(ft: HazardFit) -> dict[str, dict[str, Any]]:
    out = {}
    for b, lab in enumerate(ft.labels):
        inc = ft.included[:, b]
        diff = (ft.fitted[:, b] - ft.observed[:, b])[inc]
        obs = ft.observed[:, b][inc]
        rel = diff[obs > 0] / obs[obs > 0]
        out[lab] = {
            "periods": int(inc.sum()),
            "rms": float(np.sqrt(np.mean(diff**2))) if diff.size else None,
            "max_abs": float(np.abs(diff).max()) if diff.size else None,
            "rms_relative": float(np.sqrt(np.mean(rel**2))) if rel.size else None,
        }
    return out


def calibrate(
    snapshots: Snapshots,
    *,
    terminal_loss: float = 1.0,
    base: Scenario | None = None,
    bootstrap: int = 200,
    seed: int = 0,
    default_mode: str = "auto",
) -> Calibration:
    """Roll rates, loss rates, fitted monthly rates and residuals of an aging history.

    Parameters
    ----------
    snapshots : Snapshots
        From :func:`read_snapshots` or :func:`snapshots_from_table`.
    terminal_loss : float, optional
        Assumed loss rate of the open bucket (default 1).
    base : Scenario, optional
        A scenario with the same bucket edges: its write-off age is used in the recursion and its
        default rates are held (no write-offs) or give the shape of the scale fit.
    bootstrap : int, optional
        Bootstrap replicates (with four or more periods).
    seed : int, optional
        Seed of the bootstrap.
    default_mode : {"auto", "scale", "per-bucket"}, optional
        See :func:`fit_hazards`.

    Returns
    -------
    Calibration

    Raises
    ------
    ScenarioError
        If the base's bucket edges differ from the snapshots'.
    SnapshotError
        If nothing can be fitted.
    """
    notes = []
    w = None
    p_given = None
    source = None
    if base is not None:
        if list(base.buckets.edges_months) != list(snapshots.edges_months):
            raise ScenarioError(
                base.source,
                "buckets.edges_months",
                f"is {list(base.buckets.edges_months)} but --edges-months is "
                f"{list(snapshots.edges_months)}; the base scenario must use the same buckets",
            )
        w = base.defaults.write_off_after_months
        p_given = list(base.defaults.monthly_rate)
        source = f"defaults.monthly_rate of the base {base.source}"
        col = base.collections
        if col.multiplier != 1.0 or col.seasonality is not None or col.factor_loading != 0.0:
            notes.append(
                "the fitted c_b are average rates at multiplier 1 without seasonality; the base's "
                f"collections.multiplier ({col.multiplier:g}), factor_loading "
                f"({col.factor_loading:g}) and seasonality "
                f"({'set' if col.seasonality is not None else 'none'}) are kept as they are"
            )
    roll = roll_rates(snapshots, terminal_loss)
    fit = fit_hazards(
        snapshots,
        write_off_after_months=w,
        default_rates=p_given,
        default_source=source,
        default_mode=default_mode,
        bootstrap=bootstrap,
        seed=seed,
    )
    return Calibration(snapshots=snapshots, roll=roll, fit=fit, base=base, notes=tuple(notes))


def _round(x: float) -> float:
    return float(f"{float(x):.6g}")


def scenario_document(
    calibration: Calibration, base_text: str | None = None
) -> tuple[str, list[str]]:
    """The TOML text of the calibrated scenario, or of a fragment when there is no base.

    With a base (its text, so that comments are kept), the result is the base with the fitted
    ``collections.monthly_rate`` (and ``defaults.monthly_rate`` when fitted), the last snapshot as
    ``buckets.gross`` and its date as ``scenario.as_of``, and a line added to
    ``scenario.sources``; it is validated. Without a base, a fragment: ``[scenario]`` (``as_of``,
    ``sources``), ``[buckets]``, ``[collections]`` and ``[defaults]``.

    Parameters
    ----------
    calibration : Calibration
    base_text : str, optional
        The base scenario file's text (``calibration.base`` must be set).

    Returns
    -------
    text : str
    missing : list of str
        Required fields the text still lacks (empty for a complete scenario).
    """
    s, ft = calibration.snapshots, calibration.fit
    gross = [_round(x) for x in s.gross[-1]]
    c = [_round(x) for x in ft.collection_rates]
    p = [_round(x) for x in ft.default_rates]
    fitted_p = ft.default_mode != "fixed"
    span = f"{s.dates[0].isoformat()} to {s.dates[-1].isoformat()}"
    origin = f"arsim calibrate of {Path(s.source).name} ({len(s.dates)} snapshots, {span})"
    source_line = (
        f"{origin}: buckets.gross and scenario.as_of are the last snapshot; "
        "collections.monthly_rate"
        + (" and defaults.monthly_rate are" if fitted_p else " is")
        + " fitted to the snapshots (average rates, multiplier 1, no seasonality)"
    )
    if base_text is not None:
        doc = tomlkit.parse(base_text)
        if "scenario" not in doc:
            doc.add("scenario", tomlkit.table())
        meta = doc["scenario"]
        meta["as_of"] = s.dates[-1]
        if "sources" in meta:
            meta["sources"].append(source_line)
        else:
            meta["sources"] = [source_line]
        doc["buckets"]["gross"] = gross
        doc["buckets"]["gross"].comment(f"the snapshot of {s.dates[-1].isoformat()}")
        doc["collections"]["monthly_rate"] = c
        doc["collections"]["monthly_rate"].comment(f"fitted by {origin}")
        if fitted_p:
            doc["defaults"]["monthly_rate"] = p
            base_p = calibration.base.defaults.monthly_rate if calibration.base else []
            if ft.default_mode == "per-bucket":
                how = "fitted per bucket"
            elif any(base_p):
                how = f"fitted as {ft.default_scale:.6g} × the base's rates"
            else:
                how = "fitted as one rate for every bucket"
            doc["defaults"]["monthly_rate"].comment(f"{how} by {origin}")
        text = tomlkit.dumps(doc)
        base = calibration.base
        scenario_from_dict(tomllib.loads(text), source=base.source if base else "<scenario>")
        return text, []
    doc = tomlkit.document()
    doc.add(tomlkit.comment(f"Fragment of a scenario written by {origin}."))
    missing = ["buckets.provision_rates", "cash.opening"]
    doc.add(
        tomlkit.comment("Not a complete scenario: it still needs " + " and ".join(missing) + ".")
    )
    doc.add(tomlkit.nl())
    meta = tomlkit.table()
    meta["as_of"] = s.dates[-1]
    meta["sources"] = [source_line]
    doc["scenario"] = meta
    buckets = tomlkit.table()
    buckets["edges_months"] = list(s.edges_months)
    buckets["labels"] = list(s.labels)
    buckets["gross"] = gross
    buckets["gross"].comment(f"the snapshot of {s.dates[-1].isoformat()}")
    buckets.add(tomlkit.comment("provision_rates = [...]   # REQUIRED: the provision matrix"))
    doc["buckets"] = buckets
    col = tomlkit.table()
    col["monthly_rate"] = c
    col["monthly_rate"].comment("fitted")
    doc["collections"] = col
    dfl = tomlkit.table()
    dfl["monthly_rate"] = p
    dfl["monthly_rate"].comment(
        {
            "per-bucket": "fitted per bucket",
            "scale": "fitted as one rate for every bucket: the write-offs do not tell them apart",
        }.get(
            ft.default_mode,
            "NOT fitted (no write_offs column): ASSUMPTION 0; c_b above is the whole exit rate",
        )
    )
    doc["defaults"] = dfl
    doc.add(tomlkit.nl())
    doc.add(tomlkit.comment("[cash]"))
    doc.add(tomlkit.comment("opening = ...   # REQUIRED: opening cash"))
    return tomlkit.dumps(doc), missing
