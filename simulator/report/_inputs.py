"""The inputs of a run, as a reader checks them: the book by bucket (gross, provision, collection
and default rates) and the factor, revenue and cash assumptions, each with the sources that
name it and its ASSUMPTION marks."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from .._format import fmt_money, fmt_pct
from ._html import _esc, numbered_sources
from ._tables import html_table

#: Phrases that name a field without its path (``the provision rate for 0-6m``).
_PHRASES = {
    "provision rate": "buckets.provision_rates",
    "collection rate": "collections.monthly_rate",
    "default rate": "defaults.monthly_rate",
    "write-off age": "defaults.write_off_after_months",
    "opening cash": "cash.opening",
}
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?")

#: The scalar inputs beside the bucket table: (field, words, how the value reads).
_OTHER_INPUTS = (
    ("collections.multiplier", "collection multiplier m", "times"),
    ("collections.factor_loading", "collection factor loading β", "num"),
    ("collections.seasonality", "collection seasonality s (Jan–Dec)", "months"),
    ("defaults.correlation", "default correlation ρ", "num"),
    ("defaults.write_off_after_months", "write-off age W", "age"),
    ("factor.persistence", "factor persistence φ (month to month)", "num"),
    ("revenue.monthly", "monthly revenue R₀", "money"),
    ("revenue.annual_growth", "revenue growth g, a year", "pct"),
    ("revenue.volatility", "revenue volatility v, a month", "pct"),
    ("revenue.factor_correlation", "revenue–factor correlation κ", "num"),
    ("revenue.credit_share", "share of revenue billed on credit σ", "pct"),
    ("revenue.seasonality", "revenue seasonality q (Jan–Dec)", "months"),
    ("cash.opening", "opening cash", "money"),
    ("cash.monthly_fixed_outflow", "fixed outflow F₀, a month", "money"),
    ("cash.fixed_outflow_growth", "fixed outflow growth g_F, a year", "pct"),
    ("cash.variable_cost_ratio", "variable costs v_c, share of revenue", "pct"),
    ("cash.floor", "cash floor", "money"),
    ("cash.other_monthly_inflow", "other inflow O, a month", "money"),
)


def field_mentions(text: str, fields: dict[str, set[str]]) -> set[str]:
    """The scenario fields a source names.

    A field is named by its path (``collections.multiplier``), by its bare name after a path or
    a section word of the same section in the same text (``collections.monthly_rate,
    multiplier``; ``the split of gross across buckets``), or by a phrase of :data:`_PHRASES`.

    Parameters
    ----------
    text : str
        One entry of ``scenario.sources``.
    fields : dict of str to set of str
        The field names of each section.

    Returns
    -------
    set of str
        Field paths ``section.field``.
    """
    tokens = _TOKEN.findall(text)
    sections = {t.partition(".")[0] for t in tokens} & set(fields)
    found = set()
    for tok in tokens:
        head, dot, tail = tok.partition(".")
        if dot and head in fields and tail in fields[head]:
            found.add(tok)
        elif not dot:
            found |= {f"{s}.{tok}" for s in sections if tok in fields[s]}
    lower = text.lower()
    found |= {path for phrase, path in _PHRASES.items() if phrase in lower}
    return found


def input_marks(sc: dict[str, Any]) -> dict[str, list[str]]:
    """The source marks (``S1``, ``A3``) of every field the scenario's sources name."""
    fields = {k: set(v) for k, v in sc.items() if isinstance(v, dict)}
    marks: dict[str, list[str]] = {}
    for mark, text in numbered_sources(sc):
        for path in sorted(field_mentions(text, fields)):
            marks.setdefault(path, []).append(mark)
    return marks


def _marks_html(marks: list[str]) -> str:
    if not marks:
        return '<span class="mark">not cited</span>'
    parts = []
    for m in marks:
        link = f'<a href="#src-{m}">{m}</a>'
        if m.startswith("A"):
            parts.append(f'<span class="mark assumption">ASSUMPTION {link}</span>')
        else:
            parts.append(f'<span class="mark">source {link}</span>')
    return " ".join(parts)


def _ages(edges: list[int]) -> list[str]:
    out = []
    for i, lo in enumerate(edges):
        out.append(f"{lo}–{edges[i + 1] - 1}" if i + 1 < len(edges) else f"{lo} and over")
    return out


_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _value(value: Any, how: str) -> str:
    if how == "months":
        if value is None:
            return "none (all 1)"
        return " ".join(f"{m} {v:g}" for m, v in zip(_MONTHS, value, strict=False))
    if how == "age":
        return "none" if value is None else f"{value} months"
    if value is None:
        return "n/a"
    if how == "money":
        return fmt_money(value)
    if how == "pct":
        return fmt_pct(value)
    if how == "times":
        return f"{value:g} ×"
    return f"{value:g}"


def inputs_section(sc: dict[str, Any] | None) -> str:
    """The inputs of a run: a table by bucket and a table of the other assumptions, with the
    sources that name each input and its ASSUMPTION marks.

    Parameters
    ----------
    sc : dict or None
        The scenario that ran (as in ``summary.json``).

    Returns
    -------
    str
        HTML (empty when the scenario is not available).
    """
    if not sc or not isinstance(sc.get("buckets"), dict):
        return ""
    marks = input_marks(sc)
    b, c, d = sc["buckets"], sc.get("collections") or {}, sc.get("defaults") or {}
    labels = b.get("labels") or [str(e) for e in b["edges_months"]]
    book = pd.DataFrame(
        {
            "bucket": labels,
            "ages": _ages(list(b["edges_months"])),
            "gross": b["gross"],
            "provision": b["provision_rates"],
            "collection": c["monthly_rate"],
            "default": d["monthly_rate"],
        }
    )
    columns = [
        ("bucket", "bucket", "text"),
        ("ages", "ages (months)", "text"),
        ("gross", "opening gross", "money"),
        ("provision", "provision rate r", "pct"),
        ("collection", "collection rate c, a month (average)", "pct"),
        ("default", "default rate p, a month (average)", "pct"),
    ]
    m = c.get("multiplier", 1.0)
    if m != 1.0:
        book["effective"] = [m * x for x in c["monthly_rate"]]
        columns.insert(5, ("effective", f"m·c with m = {m:g}", "pct"))
    table = html_table(book, columns)
    fields = ["buckets.gross", "buckets.provision_rates", "collections.monthly_rate"]
    fields += ["collections.multiplier"] if m != 1.0 else []
    fields += ["defaults.monthly_rate"]
    cells = ["sources", "", *(_marks_html(marks.get(f, [])) for f in fields)]
    source_row = "".join(f'<td class="marks">{cell}</td>' for cell in cells)
    table = table.replace("</tbody>", f"<tr>{source_row}</tr></tbody>")
    rows = []
    for path, words, how in _OTHER_INPUTS:
        section, _, name = path.partition(".")
        if name not in (sc.get(section) or {}):
            continue
        value = sc[section][name]
        rows.append(
            f'<tr><td>{_esc(words)}</td><td class="text">{_esc(_value(value, how))}</td>'
            f'<td class="text"><code>{_esc(path)}</code></td>'
            f'<td class="text">{_marks_html(marks.get(path, []))}</td></tr>'
        )
    others = (
        '<div class="table-wrap"><table><thead><tr><th>input</th><th class="text">value</th>'
        '<th class="text">field</th><th class="text">sources</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
    return (
        "<h2>Inputs</h2>"
        "<p>What the run assumed, with the sources that name each input (S: a reported figure, "
        "A: an ASSUMPTION; see the lists under Scenario). Rates are averages a month.</p>"
        f"<h3>The book by bucket</h3>{table}"
        f"<h3>Factor, revenue and cash</h3>{others}"
    )
