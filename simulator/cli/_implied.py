"""``arsim implied-rates``: disclosed against model-implied provision rates, and the default rates
that reproduce them."""

from __future__ import annotations

import argparse
import json
import tomllib
from pathlib import Path
from typing import Any

from .._format import fmt_money, fmt_pct, fmt_se
from .._version import __version__
from ._common import (
    EXIT_OK,
    UserError,
    add_scenario_args,
    check_out_file,
    load_scenario_args,
    write_out_text,
)


def _status_text(r: dict[str, Any], lab: str) -> str:
    status = r["status"][lab]
    if status == "reproduced":
        return "reproduced, at the bound" if r["implausible"][lab] else "reproduced"
    if status == "above_reach":
        need = r["needed"][lab]
        return f"above reach: needs {fmt_pct(need, 1)}" if need is not None else "above reach"
    return status.replace("_", " ")


def _rows(r: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    exact = r["method"] == "exact"
    head = ["bucket", "gross", "disclosed", "implied", "± SE", "gap", "p_b file", "p_b solved"]
    head += ["gives", "reach", "status"]
    rows = []
    for lab in r["disclosed_rates"]:
        p_se = r["calibrated_default_rates_se"][lab]
        solved = fmt_pct(r["calibrated_default_rates"][lab], 3)
        if not exact and p_se is not None and r["status"][lab] == "reproduced":
            solved += f" ± {fmt_se(p_se, fmt_pct)}"
        rows.append(
            [
                lab,
                fmt_money(r["gross"][lab]),
                fmt_pct(r["disclosed_rates"][lab]),
                fmt_pct(r["implied_rates"][lab]),
                "exact" if exact else fmt_se(r["implied_rates_se"][lab], fmt_pct),
                f"{100 * r['gap'][lab]:+.2f} pp",
                fmt_pct(r["default_rates"][lab], 3),
                solved,
                fmt_pct(r["calibrated_implied_rates"][lab]),
                f"{fmt_pct(r['floor'][lab], 1)}–{fmt_pct(r['ceiling'][lab], 1)}",
                _status_text(r, lab),
            ]
        )
    return head, rows


def format_implied(r: dict[str, Any]) -> str:
    """The implied-rates report (:func:`simulator.adequacy.implied_rates_report`) as text."""
    from ..adequacy import unresolved_note

    unit = r["unit"] or "money units"
    exact = r["method"] == "exact"
    bound = fmt_pct(r["max_default_rate"], 0)
    how = (
        "exact (independent months)"
        if exact
        else f"run-off of the opening book, {r['paths']:,} paths, seed {r['seed']}"
    )
    head, rows = _rows(r)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        out = [str(cells[0]).ljust(widths[0])]
        out += [str(c).rjust(w) for c, w in zip(cells[1:-1], widths[1:-1], strict=True)]
        return "  ".join([*out, str(cells[-1])]).rstrip()

    lines = [
        f"{r['scenario']} ({unit}): disclosed vs model-implied provision rates",
        f"Implied: {how}, with the file's monthly default rates (p_b file); gap = implied − "
        f"disclosed.",
        f"p_b solved: all buckets at once (least squares on the gaps, collections held fixed, at "
        f"most {bound} a month);",
        f"'gives' = the implied rate at the solved p_b; 'reach' = the implied rates possible with "
        f"p_b from 0 to {bound} in this and every older bucket.",
        "",
        line(head),
        *(line(row) for row in rows),
        "",
    ]
    cov = r["allowance_coverage"]
    se = "(exact)" if exact else f"± {fmt_money(r['implied_lifetime_loss_se'])}"
    lines.append(
        f"Opening allowance {fmt_money(r['allowance_opening'])} against an implied lifetime "
        f"loss of {fmt_money(r['implied_lifetime_loss'])} {se}"
        + (f": coverage {fmt_pct(cov, 1)}." if cov is not None else ".")
    )
    note = unresolved_note(r, list(r["disclosed_rates"]))
    if note:
        lines.append(f"  {note[0].upper()}{note[1:]}.")
    if r["notes"]:
        lines += ["", "Notes:"]
        lines += [f"  {lab}: {text}" for lab, text in r["notes"].items()]
    lines += ["", f"Verdict: {r['verdict']}"]
    if r.get("written"):
        lines += ["", f"Calibrated scenario written to {r['written']}"]
    return "\n".join(lines)


def _calibration_note(
    r: dict[str, Any], verdict: str | None = None, per_segment: bool = False
) -> str:
    """The ``scenario.sources`` line a calibrated file gains: how its default rates were solved
    (``r``, one report) and the verdict (``r``'s, or ``verdict`` for several segments)."""
    how = (
        "exact (factor.persistence = 0)"
        if r["method"] == "exact"
        else f"on common random numbers, {r['paths']:,} run-off paths, seed {r['seed']}"
    )
    what = "each segment's defaults.monthly_rate" if per_segment else "defaults.monthly_rate"
    target = "its own provision_rates" if per_segment else "buckets.provision_rates"
    return (
        f"CALIBRATED by 'arsim implied-rates --calibrate-defaults' (arsim {__version__}): "
        f"{what} solved jointly (least squares, at most "
        f"{fmt_pct(r['max_default_rate'], 0)} a month) so that the implied provision rates come "
        f"as close as they can to {target} with this file's collection "
        f"assumptions ({how}). {r['verdict'] if verdict is None else verdict}"
    )


def cmd_implied_rates(args: argparse.Namespace) -> int:
    """``arsim implied-rates``: the report, and with ``--calibrate-defaults`` the file."""
    from ..scenario import with_overrides

    out = None
    if not 0.0 < args.max_default_rate < 1.0:
        raise UserError(
            f"{args.scenario}: --max-default-rate: must be a monthly rate in (0, 1), got "
            f"{args.max_default_rate:g}"
        )
    if args.out is not None and not args.calibrate_defaults:
        raise UserError(f"{args.out}: --out: only with --calibrate-defaults (the file to write)")
    if args.calibrate_defaults:
        if args.out is None:
            raise UserError(
                f"{args.scenario}: --calibrate-defaults: needs --out FILE, the scenario to write"
            )
        out = check_out_file(Path(args.out), args.force)
    scenario, overrides = load_scenario_args(args)
    if args.runoff_paths is not None:
        overrides["simulation.runoff_paths"] = args.runoff_paths
        scenario = with_overrides(scenario, {"simulation.runoff_paths": args.runoff_paths})
    if scenario.segments or scenario.debtors:
        return _segmented(args, scenario, overrides, out)
    report, calibration = _solve(args, scenario)
    if out is not None:
        values = {**overrides, "defaults.monthly_rate": calibration.default_rates.tolist()}
        report["written"] = _write(args, out, values, _calibration_note(report))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_implied(report))
    return EXIT_OK


def _solve(args: argparse.Namespace, scenario: Any) -> tuple[dict[str, Any], Any]:
    """The implied rates of a one-segment book and the default rates that reproduce them."""
    from ..adequacy import implied_rates_report
    from ..analytic import calibrate_default_rates, implied_rates
    from ..resources import ResourceError

    try:
        implied = implied_rates(scenario, workers=args.workers)
        calibration = calibrate_default_rates(
            scenario, max_default_rate=args.max_default_rate, workers=args.workers
        )
    except ResourceError as exc:
        raise UserError(f"{args.scenario}: simulation.runoff_paths: {exc}") from None
    return implied_rates_report(scenario, implied, calibration), calibration


def _write(args: argparse.Namespace, out: Path, values: dict[str, Any], note: str) -> str:
    """Write the scenario file with ``values`` set, keeping its comments; check it loads."""
    from ..scenario import scenario_from_dict, update_scenario_text

    text = Path(args.scenario).read_text(encoding="utf-8")
    new_text = update_scenario_text(text, values, note)
    scenario_from_dict(tomllib.loads(new_text), source=str(out))  # what is written loads
    return str(write_out_text(out, new_text, args.force))


def _segmented(args: argparse.Namespace, scenario: Any, overrides: dict, out: Any) -> int:
    """A book of segments (or with named debtors): each segment solved against its own
    provision rates (DESIGN 2.12), the named debtors left out (each is its own assessment)."""
    from ..scenario import book_segments, segment_scenario

    names = [seg.name for seg in book_segments(scenario)]
    labels = {seg.name: seg.label or seg.name for seg in scenario.segments or ()}
    reports, values, notes = {}, dict(overrides), []
    for name in names:
        report, calibration = _solve(args, segment_scenario(scenario, name))
        reports[name] = report
        field = "defaults.monthly_rate"
        values[field if scenario.segments is None else f"segments.{name}.{field}"] = (
            calibration.default_rates.tolist()
        )
        notes.append(f"{name}: {report['verdict']}")
    debtors = [d.name for d in scenario.debtors or ()]
    left_out = (
        f"{len(debtors)} named debtor(s) ({', '.join(debtors)}) left out: each is assessed on "
        "its own hazards ('arsim run' gives its implied loss)"
        if debtors
        else None
    )
    written = None
    if out is not None:
        first = next(iter(reports.values()))
        note = _calibration_note(first, " ".join(notes), per_segment=scenario.segments is not None)
        written = _write(args, out, values, note)
    if args.json:
        doc = {"segments": reports, "debtors_left_out": debtors, "written": written}
        print(json.dumps(doc, indent=2))
        return EXIT_OK
    parts = []
    for name, report in reports.items():
        title = f"Segment {name}" + (f" ({labels[name]})" if labels.get(name, name) != name else "")
        parts += [title, "=" * len(title), format_implied(report), ""]
    if left_out:
        parts.append(f"{left_out[0].upper()}{left_out[1:]}.")
    if written:
        parts.append(f"Calibrated scenario written to {written}")
    print("\n".join(parts).rstrip())
    return EXIT_OK


def add_parsers(sub: Any) -> None:
    """The ``implied-rates`` subcommand."""
    p = sub.add_parser(
        "implied-rates",
        help="disclosed vs implied provision rates; the default rates that reproduce them",
    )
    add_scenario_args(p, simulation=False)
    p.add_argument(
        "--paths",
        type=int,
        dest="runoff_paths",
        metavar="N",
        help="run-off paths when the factor is persistent (default simulation.runoff_paths)",
    )
    p.add_argument("--seed", type=int, help="random seed (default simulation.seed)")
    p.add_argument(
        "--max-default-rate",
        type=float,
        default=0.05,
        metavar="P",
        help="plausibility bound on a solved monthly default rate (default 0.05: 5 %% a month); "
        "a bucket that needs more is 'above reach'",
    )
    p.add_argument(
        "--calibrate-defaults",
        action="store_true",
        help="write the scenario with the solved default rates (and any --set) to --out, "
        "keeping its comments",
    )
    p.add_argument("--out", metavar="FILE", help="the scenario file --calibrate-defaults writes")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    p.add_argument("--workers", type=int, help="threads (default: number of CPUs)")
    p.set_defaults(func=cmd_implied_rates)
