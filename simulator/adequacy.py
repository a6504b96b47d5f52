"""Is the provision matrix honest? The implied-rates report: disclosed against model-implied
rates, the default rates that reproduce the disclosed ones, a one-sentence verdict, and what the
implied loss counts as lost without a default."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._util import json_ready
from .analytic import MAX_RUNOFF_MONTHS, Calibration, ImpliedRates
from .provisioning import Analytics
from .scenario import Scenario

__all__ = ["implied_rates_report", "unresolved_note", "verdict"]


def unresolved_note(summary: dict[str, Any], labels: list[str]) -> str | None:
    """What the implied lifetime loss counts as lost without a default, in words, or ``None``.

    Parameters
    ----------
    summary : dict
        Holds ``implied_lifetime_loss``, ``implied_unresolved``, ``implied_method`` and
        ``implied_stranded_buckets`` (a run's summary or the implied-rates report).
    labels : list of str
        The bucket labels (the last one is named when collections there are too slow).

    Returns
    -------
    str or None
        E.g. "of which 236.3 is still open after 600 months (50 years) and counted as lost:
        collections in 4y+ are too slow to clear it"; ``None`` when that part is below 0.1 %
        of the loss.
    """
    loss, part = summary.get("implied_lifetime_loss"), summary.get("implied_unresolved")
    if loss is None or part is None or not loss > 0 or part < 1e-3 * loss:
        return None
    stranded = summary.get("implied_stranded_buckets") or []
    where = (
        f"balance in {', '.join(stranded)}, which collects nothing and has no write-off age"
        if stranded
        else f"collections in {labels[-1]} are too slow to clear it"
    )
    if summary.get("implied_method") == "exact":
        return f"of which {part:,.1f} is never collected nor defaulted: {where}"
    years = MAX_RUNOFF_MONTHS // 12
    return (
        f"of which {part:,.1f} is still open after {MAX_RUNOFF_MONTHS} months ({years} years) "
        f"and counted as lost: {where}"
    )


def _by_label(labels: list[str], values) -> dict[str, Any]:
    out = {}
    for lab, v in zip(labels, values, strict=True):
        if isinstance(v, float | np.floating):
            out[lab] = float(v) if math.isfinite(v) else None
        else:
            out[lab] = v
    return out


def implied_rates_report(
    scenario: Scenario, implied: ImpliedRates, calibration: Calibration
) -> dict[str, Any]:
    """Disclosed vs implied rates and the jointly solved default rates, keyed by bucket label.

    Parameters
    ----------
    scenario : Scenario
    implied : ImpliedRates
        Implied rates with the scenario's default rates.
    calibration : Calibration
        Default rates solved to reproduce the disclosed rates.

    Returns
    -------
    dict
        JSON-ready; per-bucket values are objects keyed by label (DESIGN 2.9): ``gross``,
        ``disclosed_rates``, ``implied_rates`` (+ ``_se``), ``gap`` (implied − disclosed) and
        ``gap_z`` (gap / SE, ``null`` when exact), ``default_rates`` (the scenario's),
        ``calibrated_default_rates`` (+ ``_se``), ``calibrated_implied_rates`` (+ ``_se``),
        ``status`` (one of :data:`simulator.analytic.STATUSES`), ``implausible``, ``floor`` and
        ``ceiling`` (the range of rates these collections give with default rates from 0 to
        ``max_default_rate`` in this and every older bucket), ``needed`` (the default rate an
        ``above_reach`` bucket would need) and ``notes``; and ``allowance_opening``,
        ``implied_lifetime_loss`` (+ ``_se``), ``implied_unresolved``, ``allowance_coverage``,
        ``max_default_rate``, ``consistent`` and ``verdict`` (one sentence).
    """
    labels = scenario.labels
    disclosed = np.asarray(scenario.buckets.provision_rates, dtype=float)
    gap = implied.rates - disclosed
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(implied.rates_se > 0, gap / implied.rates_se, np.nan)
    analytics = Analytics(scenario=scenario, implied=implied, ecl=None)
    fields = analytics.summary_fields()
    cal = calibration
    report = json_ready(
        {
            "scenario": scenario.scenario.name,
            "source": scenario.source,
            "unit": scenario.money_unit,
            "method": implied.method,
            "paths": implied.paths,
            "seed": implied.seed,
            "gross": _by_label(labels, np.asarray(scenario.buckets.gross, dtype=float)),
            "disclosed_rates": _by_label(labels, disclosed),
            "implied_rates": _by_label(labels, implied.rates),
            "implied_rates_se": _by_label(labels, implied.rates_se),
            "gap": _by_label(labels, gap),
            "gap_z": _by_label(labels, z),
            "default_rates": _by_label(labels, cal.initial_default_rates),
            "calibrated_default_rates": _by_label(labels, cal.default_rates),
            "calibrated_default_rates_se": _by_label(labels, cal.default_rates_se),
            "calibrated_implied_rates": _by_label(labels, cal.implied.rates),
            "calibrated_implied_rates_se": _by_label(labels, cal.implied.rates_se),
            "status": dict(zip(labels, cal.status, strict=True)),
            "implausible": dict(zip(labels, cal.implausible, strict=True)),
            "floor": _by_label(labels, cal.floor),
            "ceiling": _by_label(labels, cal.ceiling),
            "needed": _by_label(labels, cal.needed),
            "notes": dict(cal.notes),
            "max_default_rate": cal.max_default_rate,
            "allowance_opening": analytics.allowance_opening,
            **{k: fields[k] for k in _IMPLIED_KEYS},
            "consistent": cal.consistent,
        }
    )
    report["verdict"] = verdict(report)
    return report


_IMPLIED_KEYS = (
    "implied_lifetime_loss",
    "implied_lifetime_loss_se",
    "implied_unresolved",
    "implied_unresolved_se",
    "implied_stranded_buckets",
    "implied_method",
    "allowance_coverage",
    "allowance_coverage_se",
    "implied_runoff",
)


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _needs(report: dict[str, Any], labels: list[str]) -> str:
    """``the 3-4y rate needs 9.7 %/month defaults, beyond 5 %`` for above-reach buckets."""
    bound = 100 * report["max_default_rate"]
    reach = [lab for lab in labels if report["needed"][lab] is not None]
    parts = []
    if reach:
        rates = _and([f"{100 * report['needed'][lab]:.1f}" for lab in reach])
        verb = "needs" if len(reach) == 1 else "need"
        noun = "rate" if len(reach) == 1 else "rates"
        parts.append(
            f"the {_and(reach)} {noun} {verb} {rates} %/month defaults, beyond {bound:g} %"
        )
    out = [lab for lab in labels if lab not in reach]
    if out:
        parts.append(f"the {_and(out)} rate cannot be reached while the bucket still collects")
    return "; ".join(parts)


def _conflicts(report: dict[str, Any], labels: list[str]) -> str:
    """``0-6m and 6m-1y are lower than the older buckets' rates imply (at least 15.3 and …)``."""
    got, disclosed = report["calibrated_implied_rates"], report["disclosed_rates"]
    parts = []
    for word, side in (("lower", 1.0), ("higher", -1.0)):
        labs = [lab for lab in labels if side * (got[lab] - disclosed[lab]) > 0]
        if labs:
            bound = "at least" if side > 0 else "at most"
            rates = _and([f"{100 * got[lab]:.1f}" for lab in labs])
            verb = "is" if len(labs) == 1 else "are"
            parts.append(
                f"{_and(labs)} {verb} {word} than the older buckets' rates imply for "
                f"{'it' if len(labs) == 1 else 'them'} ({bound} {rates} %)"
            )
    return "; ".join(parts)


def verdict(report: dict[str, Any]) -> str:
    """The one-sentence verdict on a disclosed matrix, from the statuses and the coverage.

    Parameters
    ----------
    report : dict
        What :func:`implied_rates_report` returns (``status``, ``implausible``, ``needed``,
        ``calibrated_default_rates``, ``allowance_coverage``, ``max_default_rate``).

    Returns
    -------
    str
    """
    status = report["status"]
    by: dict[str, list[str]] = {}
    for lab, s in status.items():
        by.setdefault(s, []).append(lab)
    below, above = by.get("below_reach", []), by.get("above_reach", [])
    conflict, free = by.get("conflict", []), by.get("not_identified", [])
    implausible = [lab for lab, flag in report["implausible"].items() if flag]
    cov = report.get("allowance_coverage")
    cov_txt = f"coverage {100 * cov:.0f} %" if cov is not None else "coverage n/a"
    bound = 100 * report["max_default_rate"]
    if below and above:
        text = (
            f"The disclosed matrix does not fit these collection assumptions either way "
            f"({cov_txt}): {_and(below)} {'is' if len(below) == 1 else 'are'} below reach even "
            f"with no defaults (light), while {_needs(report, above)}"
        )
    elif above:
        text = (
            f"The disclosed matrix provisions more than these collection assumptions imply: "
            f"{cov_txt}; {_needs(report, above)}"
        )
    elif below:
        text = (
            f"The disclosed matrix provisions less than these collection assumptions imply, even "
            f"with no defaults: {cov_txt}; {_and(below)} {'is' if len(below) == 1 else 'are'} "
            f"below reach: collections would have to be faster than assumed, or the matrix is "
            f"light"
        )
    elif conflict:
        text = f"The disclosed matrix is not reproduced as a whole ({cov_txt})"
    elif implausible:
        text = (
            f"The disclosed matrix is reproduced only with default rates at the plausible bound "
            f"of {bound:g} %/month ({_and(implausible)}): implausible for these collections; "
            f"{cov_txt}"
        )
    else:
        solved = [report["calibrated_default_rates"][lab] for lab in status if lab not in free]
        span = (
            f"monthly default rates of {100 * min(solved):.2f}–{100 * max(solved):.2f} % "
            if solved
            else "any default rates "
        )
        text = (
            f"The disclosed matrix is consistent with these collection assumptions: {span}"
            f"reproduce every bucket; with the file's own default rates, {cov_txt}"
        )
    if conflict:
        text += ("; " if (below or above or implausible) else ": ") + _conflicts(report, conflict)
    if free:
        text += f" ({_and(free)}: holds for any default rate)"
    return text + "."
