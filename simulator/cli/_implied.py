"""``arsim implied-rates``: disclosed against model-implied provision rates, and the default rates
that reproduce them."""

from __future__ import annotations

import argparse
import json
import tomllib
from pathlib import Path
from typing import Any

from .._format import fmt_money, fmt_pct
from .._version import __version__
from ._common import (
    EXIT_OK,
    UserError,
    add_scenario_args,
    check_out_file,
    load_scenario_args,
    write_out_text,
)

_STATUS_TEXT = {
    "calibrated": "reproduced",
    "not_identified": "not identified",
    "unreachable": "UNREACHABLE",
}


def _format_implied(r: dict[str, Any]) -> str:
    labels = list(r["disclosed_rates"])
    unit = r["unit"] or "money units"
    exact = r["method"] == "exact"
    how = (
        "exact (independent months)"
        if exact
        else f"run-off of the opening book, {r['paths']:,} paths, seed {r['seed']}"
    )
    head = ["bucket", "gross", "disclosed", "implied", "± SE", "gap", "p_b now", "p_b solved"]
    head += ["gives", "status"]
    rows = []
    for lab in labels:
        p_se = r["calibrated_default_rates_se"][lab]
        solved = fmt_pct(r["calibrated_default_rates"][lab], 3)
        if not exact and p_se is not None and r["status"][lab] == "calibrated":
            solved += f" ± {100 * p_se:.3f} %"
        gap = r["gap"][lab]
        rows.append(
            [
                lab,
                fmt_money(r["gross"][lab]),
                fmt_pct(r["disclosed_rates"][lab]),
                fmt_pct(r["implied_rates"][lab]),
                "exact" if exact else fmt_pct(r["implied_rates_se"][lab]),
                f"{100 * gap:+.2f} pp",
                fmt_pct(r["default_rates"][lab], 3),
                solved,
                fmt_pct(r["calibrated_implied_rates"][lab]),
                _STATUS_TEXT[r["status"][lab]],
            ]
        )
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        out = [str(cells[0]).ljust(widths[0])]
        out += [str(c).rjust(w) for c, w in zip(cells[1:-1], widths[1:-1], strict=True)]
        return "  ".join([*out, str(cells[-1])]).rstrip()

    lines = [
        f"{r['scenario']} ({unit}): disclosed vs model-implied provision rates",
        f"Implied: {how}. gap = implied − disclosed.",
        "p_b = monthly default rate: the file's, and solved (last bucket first, collections held",
        "fixed) so that the implied rate equals the disclosed one; 'gives' = the rate it gives.",
        "",
        line(head),
        *(line(row) for row in rows),
        "",
    ]
    cov = r["allowance_coverage"]
    se = "(exact)" if exact else f"± {fmt_money(r['implied_lifetime_loss_se'])}"
    lines.append(
        f"Opening allowance {fmt_money(r['allowance_opening'])} against an implied lifetime "
        f"loss of "
        f"{fmt_money(r['implied_lifetime_loss'])} {se}"
        + (f": coverage {100 * cov:.1f} %." if cov is not None else ".")
    )
    if r["notes"]:
        lines += ["", "Notes:"]
        lines += [f"  {lab}: {text}" for lab, text in r["notes"].items()]
    lines += ["", _verdict(r)]
    if r.get("written"):
        lines += ["", f"Calibrated scenario written to {r['written']}"]
    return "\n".join(lines)


def _verdict(r: dict[str, Any]) -> str:
    status = r["status"]
    unreachable = [lab for lab, s in status.items() if s == "unreachable"]
    free = [lab for lab, s in status.items() if s == "not_identified"]
    if unreachable:
        text = (
            f"Verdict: NOT consistent with these collection assumptions. No default rate gives "
            f"the disclosed rate of {', '.join(unreachable)} (see the notes); the solved p_b "
            f"give the nearest reachable rates. Faster collections (or a different disclosed "
            f"matrix) would be needed."
        )
    else:
        text = (
            "Verdict: consistent with these collection assumptions: the solved p_b reproduce "
            "every disclosed rate" + (f" ({', '.join(free)}: holds for any p_b)." if free else ".")
        )
    exact = r["method"] == "exact"
    # within 4 SE, plus the stopping rule's bound on what the run-off counts as lost
    close = [
        lab
        for lab in status
        if abs(r["gap"][lab]) <= (0.0 if exact else 4 * (r["implied_rates_se"][lab] or 0.0)) + 1e-6
    ]
    tol = "to 1e-6" if exact else "within 4 SE"
    text += (
        f" With the file's own p_b, {len(close)} of {len(status)} implied rates match the "
        f"disclosed ones {tol}."
    )
    return text


def _calibration_note(r: dict[str, Any]) -> str:
    how = (
        "exact (factor.persistence = 0)"
        if r["method"] == "exact"
        else f"on common random numbers, {r['paths']:,} run-off paths, seed {r['seed']}"
    )
    parts = [
        f"CALIBRATED by 'arsim implied-rates --calibrate-defaults' (arsim {__version__}): "
        f"defaults.monthly_rate solved, last bucket first, so that the implied provision rates "
        f"equal buckets.provision_rates with this file's collection assumptions ({how})."
    ]
    kinds = (("not_identified", "Not identified (p_b kept)"), ("unreachable", "Unreachable"))
    for kind, text in kinds:
        labs = [lab for lab, s in r["status"].items() if s == kind]
        if labs:
            parts.append(f"{text}: {', '.join(labs)}.")
    return " ".join(parts)


def cmd_implied_rates(args: argparse.Namespace) -> int:
    from ..analytic import calibrate_default_rates, implied_rates
    from ..provisioning import implied_rates_report
    from ..resources import ResourceError
    from ..scenario import scenario_from_dict, update_scenario_text, with_overrides

    out = None
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
    try:
        implied = implied_rates(scenario, workers=args.workers)
        calibration = calibrate_default_rates(scenario, workers=args.workers)
    except ResourceError as exc:
        raise UserError(f"{args.scenario}: simulation.runoff_paths: {exc}") from None
    report = implied_rates_report(scenario, implied, calibration)
    if out is not None:
        text = Path(args.scenario).read_text(encoding="utf-8")
        values = {**overrides, "defaults.monthly_rate": calibration.default_rates.tolist()}
        new_text = update_scenario_text(text, values, _calibration_note(report))
        scenario_from_dict(tomllib.loads(new_text), source=str(out))  # what is written loads
        report["written"] = str(write_out_text(out, new_text, args.force))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(_format_implied(report))
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
        "--calibrate-defaults",
        action="store_true",
        help="write the scenario with the solved default rates (and any --set) to --out, "
        "keeping its comments",
    )
    p.add_argument("--out", metavar="FILE", help="the scenario file --calibrate-defaults writes")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    p.add_argument("--workers", type=int, help="threads (default: number of CPUs)")
    p.set_defaults(func=cmd_implied_rates)
