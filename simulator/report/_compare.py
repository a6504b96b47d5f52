"""The page of two runs compared (``arsim compare``): the runs, the inputs that differ, the
overlaid runway curves and cash fans, and every summary key with B − A and its SE."""

from __future__ import annotations

from typing import Any

from .._format import bound_text, describe_overrides, fmt_pct, fmt_pp, fmt_se, fmt_seconds
from ..compare import Comparison, compare_figures, fact_text, row_texts, setting_text
from ..storage import figure_png
from ._html import _esc, _rows_table, html_page, overrides_cell, png_figure

_CAPTIONS = {
    "runway": "P(runway > t), the share of paths whose cash is still above the floor at month t, "
    "for A and B; the dashed lines mark 12 and 24 months.",
    "cash": "Cash of A and B: each run's median and 5–95 % band over its trajectory sample, and "
    "the cash floor.",
}


def _lead(c: Comparison) -> str:
    parts = []
    try:
        row = c.row("p_runway_le_12")
    except KeyError:
        row = None
    if row is not None and row["diff"] is not None:
        se = f" ± {fmt_se(row['se'], fmt_pp)}" if row["se"] is not None else ""
        how = " (paired)" if row["paired"] else ""
        parts.append(
            f"The probability that cash falls below the floor within 12 months goes from "
            f"{fmt_pct(row['a'])} in A to {fmt_pct(row['b'])} in B: "
            f"{fmt_pp(row['diff'], sign=True)}{se}{how}."
        )
    changed = ", ".join(f"{d['field']}" for d in c.inputs[:6]) + ("…" if len(c.inputs) > 6 else "")
    parts.append(f"Inputs that differ: {changed}." if c.inputs else "The inputs are the same.")
    parts.append(f"Paths are {c.pairing}.")
    return f'<p class="lead">{_esc(" ".join(parts))}</p>'


def _runs_table(c: Comparison) -> str:
    def both(key: str, fmt: Any = str) -> list[str]:
        return [_esc(fmt(c.a.get(key))), _esc(fmt(c.b.get(key)))]

    rows = [
        ["results folder", *both("folder")],
        ["scenario", *both("name")],
        ["scenario file", *both("scenario_file")],
        ["overrides", overrides_cell(c.a["overrides"]), overrides_cell(c.b["overrides"])],
        ["paths", *both("paths", lambda v: f"{v:,}")],
        ["seed", *both("seed")],
        ["horizon", *both("horizon_months", lambda v: f"{v} months")],
        ["created", *both("created")],
    ]
    times = [f["a"] for f in c.facts if f["key"] == "wall_seconds"]
    times += [f["b"] for f in c.facts if f["key"] == "wall_seconds"]
    if len(times) == 2:
        rows.append(["simulation time", *(_esc(fmt_seconds(t)) for t in times)])
    return _rows_table(["run", "A", "B"], rows, text=True)


def _inputs_table(c: Comparison) -> str:
    if not c.inputs:
        return "<p>None: both runs ran the same scenario.</p>"
    rows = [
        [
            f"<code>{_esc(d['field'])}</code>",
            _esc(setting_text(d["field"], d["a"])),
            _esc(setting_text(d["field"], d["b"])),
        ]
        for d in c.inputs
    ]
    return _rows_table(["field", "A", "B"], rows, text=True)


def _metrics_table(c: Comparison) -> str:
    horizons = (c.a["horizon_months"], c.b["horizon_months"])
    rows = []
    for row in c.rows:
        t = row_texts(row, horizons)
        a, b = _esc(t["a"]), _esc(t["b"])
        for side, key in (("a", "bound_a"), ("b", "bound_b")):
            if row.get(key) is not None:
                bound = f"<small>{_esc(bound_text(row[side], row[key], words=False))}</small>"
                a, b = (a + bound, b) if side == "a" else (a, b + bound)
        label = f"{_esc(row['label'])}<small><code>{_esc(row['key'])}</code></small>"
        rows.append([label, a, b, _esc(t["diff"]), _esc(t["se"]), _esc(t["how"])])
    return _rows_table(["metric", "A", "B", "B − A", "SE of B − A", "SE kind"], rows)


def _facts_table(c: Comparison) -> str:
    rows = [
        [f"<code>{_esc(f['key'])}</code>", _esc(fact_text(f["a"])), _esc(fact_text(f["b"]))]
        for f in c.facts
        if f["key"] != "wall_seconds"
    ]
    return _rows_table(["fact", "A", "B"], rows, text=True) if rows else ""


def compare_report(comparison: Comparison) -> str:
    """The HTML page of two runs compared.

    Parameters
    ----------
    comparison : simulator.compare.Comparison
        From :func:`simulator.compare.compare_runs`.

    Returns
    -------
    str
        One self-contained page (inline CSS, the overlaid plots as base64 PNG, no script).
    """
    c = comparison
    name_a, name_b = c.a.get("name") or "A", c.b.get("name") or "B"
    name = name_a if name_a == name_b else f"{name_a} / {name_b}"
    changed = describe_overrides(c.b["overrides"], c.a["overrides"])
    title = f"{name}: B against A" + (f" — B with {', '.join(changed)}" if changed else "")
    stress = f'<span class="overrides">B with {_esc(", ".join(changed))}</span>' if changed else ""
    unit = c.a.get("unit") or "money units"
    figures = compare_figures(*c.runs)
    plots = "".join(
        png_figure(figure_png(fig), f"plot {key}", _CAPTIONS[key]) for key, fig in figures.items()
    )
    notes = "".join(
        f"<li>{side}: implied lifetime loss, {_esc(note)}.</li>"
        for side, note in (("A", c.notes.get("a")), ("B", c.notes.get("b")))
        if note
    )
    body = [
        f"<h1>{_esc(name)}: B against A{stress}</h1>",
        f'<p class="meta">Base against stress · amounts in <strong>{_esc(unit)}</strong></p>',
        _lead(c),
        "<h2>The runs</h2>",
        _runs_table(c),
        "<h2>Inputs that differ</h2>",
        _inputs_table(c),
        "<h2>Plots</h2>",
        f'<div class="figures">{plots}</div>',
        "<h2>Every summary key</h2>",
        f"<p>B − A with the standard error of the difference; percentages differ in percentage "
        f"points (pp). {_esc(c.pairing[0].upper() + c.pairing[1:])}.</p>",
        _metrics_table(c),
    ]
    if notes:
        body.append(f'<ul class="note">{notes}</ul>')
    facts = _facts_table(c)
    if facts:
        body += ["<h2>Run facts</h2>", facts]
    return html_page(title, "".join(body), f"{c.a['folder']} and {c.b['folder']}")
