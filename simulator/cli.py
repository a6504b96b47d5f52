"""The ``arsim`` command line: the only module that prints or exits.

Exit codes: 0 success; 2 a user's mistake (one line on stderr, ``FILE: FIELD: reason``, nothing
written); 1 an internal error; 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tomllib
from pathlib import Path
from typing import Any, NoReturn

from . import __version__

EXIT_OK, EXIT_INTERNAL, EXIT_USER, EXIT_INTERRUPTED = 0, 1, 2, 130


class UserError(Exception):
    """A mistake the user can fix; its text is the whole one-line message."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def _toml_value(text: str) -> Any:
    """A ``--set`` value: a TOML literal, or the text itself if it is not one."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _parse_sets(items: list[str], source: str) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for item in items:
        field, sep, value = item.partition("=")
        if not sep or not field.strip():
            raise UserError(f"{source}: --set: expected FIELD=VALUE, got {item!r}")
        overrides[field.strip()] = _toml_value(value.strip())
    return overrides


def _load(args: argparse.Namespace):
    from .scenario import load_scenario, with_overrides

    scenario = load_scenario(args.scenario)
    overrides = _parse_sets(getattr(args, "set", None) or [], args.scenario)
    if getattr(args, "paths", None) is not None:
        overrides["simulation.paths"] = args.paths
    if getattr(args, "seed", None) is not None:
        overrides["simulation.seed"] = args.seed
    if overrides:
        scenario = with_overrides(scenario, overrides)
    return scenario, overrides


def _pct(p: float | None, se: float | None) -> str:
    if p is None:
        return "n/a (horizon too short)"
    return f"{100 * p:6.2f} % ± {100 * (se or 0.0):.2f} %"


def _num(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:,.{digits}f}"


def _format_summary(s: dict[str, Any], out_dir: Path | None) -> str:
    sc = s["scenario"]
    H = s["horizon_months"]
    unit = s["unit"] or "money units"
    as_of = sc["scenario"]["as_of"]
    floor = sc["cash"]["floor"]
    q = s["runway_quantiles"]
    qtxt = "  ".join(f"{k} {v if v is not None else f'>{H}'}" for k, v in q.items())
    lines = [
        f"{sc['scenario']['name']}" + (f"  (as of {as_of}, {unit})" if as_of else f"  ({unit})"),
        f"{s['paths']:,} paths × {H} months, seed {s['seed']}, {s['wall_seconds']:.1f} s",
        "",
        f"Cash runway (first month with cash below the floor of {floor:,.0f}):",
        f"  P(runway ≤ 12 months)   {_pct(s['p_runway_le_12'], s['p_runway_le_12_se'])}",
        f"  P(runway ≤ 24 months)   {_pct(s['p_runway_le_24'], s['p_runway_le_24_se'])}",
        f"  P(runway ≤ {H} months)   {_pct(s['p_runway_le_horizon'], s['p_runway_le_horizon_se'])}",
        f"  runway percentiles, months: {qtxt}",
        f"  minimum cash, 5th percentile: {_num(s['min_cash_p5'])}; "
        f"cash at month {H}, mean: {_num(s['cash_end_mean'])} ± {_num(s['cash_end_mean_se'])}",
        "",
        f"Receivables over {H} months ({unit}):",
        f"  collections, mean       {_num(s['collections_mean'])}"
        f" ± {_num(s['collections_mean_se'])}",
        f"  credit loss, mean       {_num(s['credit_loss_mean'])}"
        f" ± {_num(s['credit_loss_mean_se'])}   p95 {_num(s['credit_loss_p95'])}"
        f"   p99 {_num(s['credit_loss_p99'])}",
        f"  opening allowance       {_num(s['allowance_opening'])}"
        f"  ({100 * s['allowance_opening'] / s['gross_opening']:.1f} % of gross "
        f"{_num(s['gross_opening'])})"
        if s["gross_opening"]
        else f"  opening allowance       {_num(s['allowance_opening'])}",
    ]
    if out_dir is not None:
        lines += ["", f"Results written to {out_dir}/"]
    return "\n".join(lines)


def _progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="path", unit_scale=True, disable=None, file=sys.stderr)


def cmd_run(args: argparse.Namespace) -> int:
    from .engine import simulate
    from .storage import default_out_dir, write_results

    scenario, overrides = _load(args)
    if args.out is not None:
        out = Path(args.out)
        if out.exists() and not args.force:
            raise UserError(f"{out}: --out: already exists; add --force to replace it")
        if out.exists() and not out.is_dir():
            raise UserError(f"{out}: --out: is a file, not a folder")
    else:
        out = default_out_dir(args.scenario)
    with _progress(scenario.simulation.paths, "simulating") as bar:
        result = simulate(scenario, workers=args.workers, progress=bar.update)
    written = write_results(
        result, out, force=args.force, scenario_file=args.scenario, overrides=overrides
    )
    summary = result.summary()
    if args.json:
        print(json.dumps(summary, indent=2))
        print(f"results written to {written}/", file=sys.stderr)
    else:
        print(_format_summary(summary, written))
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    scenario, _ = _load(args)
    sim = scenario.simulation
    msg = (
        f"OK: {args.scenario}: {scenario.scenario.name!r}, {scenario.n_buckets} buckets, "
        f"{sim.horizon_months} months, {sim.paths:,} paths"
    )
    if args.json:
        print(json.dumps({"ok": True, "scenario": scenario.model_dump(mode="json")}, indent=2))
    else:
        print(msg)
    return EXIT_OK


def cmd_plot(args: argparse.Namespace) -> int:
    from .storage import redraw_plots

    try:
        written = redraw_plots(args.results_dir)
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(f"{args.results_dir}: -: {exc}") from None
    if args.json:
        print(json.dumps({"plots": [str(p) for p in written]}))
    else:
        for p in written:
            print(p)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The ``arsim`` argument parser."""
    parser = _Parser(
        prog="arsim",
        description="Monte Carlo credit risk of trade receivables: aging, provisions, cash runway.",
    )
    parser.add_argument("--version", action="version", version=f"arsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(p: argparse.ArgumentParser, simulation: bool = True) -> None:
        p.add_argument("scenario", help="scenario file (TOML)")
        p.add_argument(
            "--set",
            action="append",
            metavar="FIELD=VALUE",
            help="override a field with a TOML literal, e.g. collections.multiplier=0.8 "
            "or collections.monthly_rate[2]=0.03 (repeatable)",
        )
        if simulation:
            p.add_argument("--paths", type=int, help="number of Monte Carlo paths")
            p.add_argument("--seed", type=int, help="random seed")
        p.add_argument("--json", action="store_true", help="print JSON on stdout and nothing else")

    run = sub.add_parser("run", help="simulate a scenario and write a results folder")
    common(run)
    run.add_argument("--out", help="results folder (default results/<stem>/<timestamp>/)")
    run.add_argument("--force", action="store_true", help="replace an existing --out folder")
    run.add_argument("--workers", type=int, help="threads (default: number of CPUs)")
    run.set_defaults(func=cmd_run)

    val = sub.add_parser("validate", help="check a scenario file")
    common(val, simulation=False)
    val.set_defaults(func=cmd_validate)

    plot = sub.add_parser("plot", help="re-draw the plots of a results folder")
    plot.add_argument("results_dir", help="a folder written by 'arsim run'")
    plot.add_argument("--json", action="store_true", help="print the plot paths as JSON")
    plot.set_defaults(func=cmd_plot)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``arsim`` command; return its exit code.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``).
    """
    from .engine import ResourceError
    from .scenario import ScenarioError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if getattr(args, "workers", None) is not None and args.workers < 1:
        print("arsim: --workers: must be at least 1", file=sys.stderr)
        return EXIT_USER
    try:
        return args.func(args)
    except (ScenarioError, UserError) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USER
    except ResourceError as exc:
        print(f"{args.scenario}: simulation.paths: {exc}", file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt:
        print("arsim: interrupted; no results folder was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:
        if os.environ.get("ARSIM_DEBUG"):
            raise
        print(
            f"arsim: internal error: {type(exc).__name__}: {exc} (set ARSIM_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def entry() -> NoReturn:
    """Console-script entry point."""
    sys.exit(main())
