"""Number formats shared by the terminal, the report and the notes the analytics write, so that
the same number reads the same everywhere (``6.83 %``, ``89,868.6``, ``n/a``)."""

from __future__ import annotations

import json
import math
import numbers
from typing import Any

__all__ = [
    "DEBTOR_HEADER",
    "SEGMENT_HEADER",
    "bound_text",
    "concentration_text",
    "debtor_rows",
    "decimals",
    "describe_overrides",
    "finite",
    "fmt_bound",
    "fmt_diff",
    "fmt_list",
    "fmt_money",
    "fmt_num",
    "fmt_pct",
    "fmt_pm",
    "fmt_pp",
    "fmt_se",
    "fmt_seconds",
    "fmt_setting",
    "segment_rows",
]

#: Overrides that size a run rather than change it (``--paths``, ``--seed``): shown with the
#: run's facts, left out of the list of what a run changes.
RUN_SIZE_FIELDS = ("simulation.paths", "simulation.seed")


def finite(x: Any) -> bool:
    """Whether ``x`` is a real, finite number (not a boolean, not ``None``)."""
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


def decimals(x: Any, sig: int = 2, least: int = 0, most: int = 8) -> int:
    """How many decimals show ``x`` to ``sig`` significant digits, within ``least..most``.

    ``decimals(0.0634) == 3`` (``0.063``), ``decimals(7.02) == 1`` (``7.0``); ``least`` for 0 or
    a missing number.
    """
    if not finite(x) or x == 0:
        return least
    return min(most, max(least, sig - 1 - math.floor(math.log10(abs(x)))))


def fmt_pct(p: float | None, digits: int = 2, width: int = 0) -> str:
    """A probability, share or rate as a percentage, e.g. ``6.83 %``; ``n/a`` when missing.

    ``width`` pads the number (not the ``%``) to that many characters.
    """
    return f"{100 * p:{width}.{digits}f} %" if finite(p) else "n/a"


def fmt_money(x: float | None, digits: int = 1) -> str:
    """An amount with thousands separators, e.g. ``89,868.6``; ``n/a`` when missing."""
    return f"{x:,.{digits}f}" if finite(x) else "n/a"


def fmt_num(x: float | None, digits: int = 4) -> str:
    """A plain decimal with ``digits`` decimals, e.g. ``0.0749``; ``n/a`` when missing."""
    return f"{x:.{digits}f}" if finite(x) else "n/a"


def fmt_pp(x: float | None, digits: int = 2, *, sign: bool = False) -> str:
    """A difference of two probabilities or shares in percentage points, e.g. ``+89.15 pp``;
    ``n/a`` when missing."""
    return f"{100 * x:{'+' if sign else ''}.{digits}f} pp" if finite(x) else "n/a"


def fmt_diff(x: Any, fmt: Any = fmt_money) -> str:
    """A signed difference ``B − A`` in the format of its values: percentage points for
    :func:`fmt_pct` (``+89.15 pp``), ``+1,234.5`` for :func:`fmt_money`, ``+0.0123`` for
    :func:`fmt_num`; whole numbers (months) as ``+10``."""
    if not finite(x):
        return "n/a"
    if fmt is fmt_pct or fmt is fmt_pp:
        return fmt_pp(x, sign=True)
    if fmt is fmt_money:
        return f"{x:+,.1f}"
    if fmt is fmt_num:
        return f"{x:+.4f}"
    return f"{x:+,.0f}" if float(x).is_integer() else f"{x:+.4g}"


def fmt_se(se: Any, fmt: Any = fmt_money) -> str:
    """A standard error in the format of its estimate, to two significant digits, so that it is
    never shown as zero: ``0.079 %`` (not ``0.08 %``), ``0.0060 %`` (not ``0.01 %``), ``0.23``.

    ``fmt`` is the estimate's format: :func:`fmt_pct` or :func:`fmt_money` (at least their default
    decimals), :func:`fmt_num` (at least 4); any other function formats the SE as it is. An SE
    that is exactly 0 (an estimate of 0 or 1 from every path) is ``0`` with its unit.
    """
    if not finite(se):
        return "n/a"
    if fmt is fmt_pct:
        return "0 %" if se == 0 else fmt_pct(se, decimals(100 * se, 2, least=2))
    if fmt is fmt_pp:
        return "0 pp" if se == 0 else fmt_pp(se, decimals(100 * se, 2, least=2))
    if fmt is fmt_money:
        return "0" if se == 0 else fmt_money(se, decimals(se, 2, least=1))
    if fmt is fmt_num:
        return "0" if se == 0 else fmt_num(se, decimals(se, 2, least=4))
    return fmt(se)


def fmt_pm(value: Any, se: Any, fmt: Any = fmt_money) -> str:
    """``value ± se`` in the format ``fmt``, the SE by :func:`fmt_se` (left out when there is
    none)."""
    text = fmt(value)
    return f"{text} ± {fmt_se(se, fmt)}" if finite(value) and finite(se) else text


def fmt_bound(bound: Any) -> str:
    """A probability bound near 0 or 1 (the rule of three's ``3/n`` or ``1 − 3/n``) as a
    percentage with the decimals that keep it apart from 0 % and 100 %: ``99.997 %``,
    ``0.003 %``, never ``100.00 %`` or ``0.00 %``."""
    if not finite(bound):
        return "n/a"
    gap = min(bound, 1.0 - bound)
    return fmt_pct(bound, decimals(100 * gap, 1, least=2))


def bound_text(p: Any, bound: Any, *, words: bool = True) -> str:
    """The rule-of-three bound of a proportion estimated as 0 or 1: ``no path; 95 % bound ≤
    0.003 %`` or ``every path; 95 % bound ≥ 99.997 %`` (without the first words if not
    ``words``)."""
    side, who = ("≤", "no path") if p == 0 else ("≥", "every path")
    text = f"95 % bound {side} {fmt_bound(bound)}"
    return f"{who}; {text}" if words else text


def fmt_seconds(seconds: Any) -> str:
    """A duration to two significant digits below 10 s: ``0.55 s``, ``3.1 s``, ``18 s``."""
    if not finite(seconds):
        return "n/a"
    if seconds < 1:
        return f"{seconds:.2f} s"
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:,.0f} s"


def fmt_list(values: Any) -> str:
    """Numbers as a TOML-like list with 6 significant digits, e.g. ``[0.08, 0.03]``."""
    return "[" + ", ".join(f"{v:.6g}" for v in values) + "]"


def fmt_setting(field: str, value: Any) -> str:
    """An override as the ``--set`` text that makes it: ``collections.multiplier=0.8``,
    ``collections.monthly_rate=[0.1, 0.05]`` (the value as a TOML-like literal)."""
    return f"{field}={json.dumps(value, default=str, ensure_ascii=False)}"


def describe_overrides(overrides: Any, beside: Any = None) -> list[str]:
    """What a run's overrides change, as ``FIELD=VALUE`` texts (:func:`fmt_setting`), leaving
    out its size (``simulation.paths`` and ``simulation.seed``, shown with the run's facts) and
    any override that ``beside`` (another run's overrides) has too, with the same value."""
    if not isinstance(overrides, dict):
        return []
    shared = beside if isinstance(beside, dict) else {}
    return [
        fmt_setting(k, v)
        for k, v in overrides.items()
        if k not in RUN_SIZE_FIELDS and not (k in shared and shared[k] == v)
    ]


#: The figures of the summary's ``parameter_risk`` (DESIGN 2.14) as shown, with their formats.
_RISK_ROWS = (
    ("p_runway_le_12", "P(runway ≤ 12 months)", fmt_pct),
    ("p_runway_le_24", "P(runway ≤ 24 months)", fmt_pct),
    ("credit_loss_mean", "credit loss, mean", fmt_money),
    ("cash_end_mean", "cash at the horizon, mean", fmt_money),
)


def parameter_risk_rows(summary: dict[str, Any]) -> tuple[list[list[str]], list[str]]:
    """The summary's ``parameter_risk`` as text, for the terminal and the report alike.

    Returns
    -------
    rows : list of list of str
        Per figure: label, value with parameter risk (the mixture), value at the scenario's
        own rates, the 5–95 % band over replicates, the share of its variance from the rates.
        Empty when the run has no replicates.
    notes : list of str
        Why a band is left out, and the warning when there are few paths a replicate.
    """
    risk = summary.get("parameter_risk")
    if not risk:
        return [], []
    rows = []
    for key, label, fmt in _RISK_ROWS:
        entry = risk.get(key)
        if entry is None:
            continue
        band = entry["range_5_95"]
        rows.append(
            [
                label,
                fmt(entry["mixture"]),
                fmt(entry["point"]),
                f"{fmt(band[0])} to {fmt(band[1])}" if band else "n/a",
                fmt_pct(entry["share"], 0),
            ]
        )
    notes = sorted({e.get("range_note") for e in risk.values() if isinstance(e, dict)} - {None})
    if risk.get("note"):
        notes.append(risk["note"])
    return rows, notes


#: Column headers of :func:`segment_rows` and :func:`debtor_rows`.
SEGMENT_HEADER = ["segment", "credit loss, mean", "loss p99", "collections, mean", "allowance",
                  "coverage"]  # fmt: skip
DEBTOR_HEADER = ["debtor", "balance", "age", "P(default)", "P(paid ≤ 12 m)", "P(paid ≤ H)",
                 "loss, mean", "implied loss"]  # fmt: skip


def _entries(summary: dict[str, Any], table: str) -> dict[str, str]:
    """Names of the summary's segments or debtors with the label a reader sees."""
    entries = (summary.get("scenario") or {}).get(table) or []
    return {e["name"]: e.get("label") or e["name"] for e in entries}


def segment_rows(summary: dict[str, Any]) -> list[list[str]]:
    """One row of text per segment (DESIGN 2.12), for the terminal and the report alike:
    label, credit loss mean ± SE, its p99, collections mean ± SE, the opening allowance and the
    allowance coverage ± SE (``n/a`` without the analytics). Empty without segments."""
    segments = summary.get("segments") or {}
    labels = _entries(summary, "segments")
    rows = []
    for name, s in segments.items():
        cov = s.get("allowance_coverage")
        rows.append(
            [
                labels.get(name, name),
                fmt_pm(s["credit_loss_mean"], s["credit_loss_mean_se"]),
                fmt_money(s["credit_loss_p99"]),
                fmt_pm(s["collections_mean"], s["collections_mean_se"]),
                fmt_money(s["allowance_opening"]),
                "n/a" if cov is None else fmt_pm(cov, s.get("allowance_coverage_se"), fmt_pct),
            ]
        )
    return rows


def debtor_rows(summary: dict[str, Any]) -> list[list[str]]:
    """One row of text per named debtor (DESIGN 2.13): label, balance, age in months,
    P(default), P(paid within 12 months), P(paid within the horizon), mean loss ± SE and the
    implied lifetime loss (``n/a`` without the analytics). Empty without debtors."""
    debtors = summary.get("debtors") or {}
    entries = {e["name"]: e for e in (summary.get("scenario") or {}).get("debtors") or []}
    rows = []
    for name, d in debtors.items():
        e = entries.get(name, {})
        p12 = d.get("p_paid_12")
        implied = d.get("implied_lifetime_loss")
        rows.append(
            [
                e.get("label") or name,
                fmt_money(e.get("balance")),
                f"{e['age_months']} m" if "age_months" in e else "",
                fmt_pm(d["p_default"], d["p_default_se"], fmt_pct),
                "n/a" if p12 is None else fmt_pm(p12, d["p_paid_12_se"], fmt_pct),
                fmt_pm(d["p_paid_horizon"], d["p_paid_horizon_se"], fmt_pct),
                fmt_pm(d["loss_mean"], d["loss_mean_se"]),
                "n/a" if implied is None else fmt_pm(implied, d["implied_lifetime_loss_se"]),
            ]
        )
    return rows


def concentration_text(summary: dict[str, Any]) -> str | None:
    """The concentration line (DESIGN 2.13): the share of the book in named debtors and the
    credit loss p99 of the pooled book alone and with the debtors; ``None`` without debtors."""
    c = summary.get("concentration")
    if not c:
        return None
    n = c["debtors"]
    share = c["debtor_share"]
    held = fmt_money(c["debtor_gross"]) + ("" if share is None else f" ({fmt_pct(share, 1)})")
    return (
        f"{n:,} named debtor{'s' if n != 1 else ''} hold {held} of the opening book; "
        f"credit loss p99 {fmt_money(c['credit_loss_p99_pool'])} for the pooled book alone, "
        f"{fmt_money(c['credit_loss_p99'])} with the debtors"
    )
