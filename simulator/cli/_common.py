"""What every command shares: one-line user errors, ``--set`` parsing, loading a scenario with
its overrides, ``--out`` checks and progress bars. Nothing here imports the numerical packages,
so that ``arsim --help`` and ``arsim validate`` start fast."""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

EXIT_OK, EXIT_INTERNAL, EXIT_USER, EXIT_INTERRUPTED = 0, 1, 2, 130


class UserError(Exception):
    """A mistake the user can fix; its text is the whole one-line message."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors exit with :data:`EXIT_USER` and one line."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def add_scenario_args(p: argparse.ArgumentParser, simulation: bool = True) -> None:
    """The scenario argument, ``--set``, ``--json`` and (for commands that simulate)
    ``--paths`` and ``--seed``."""
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


def _toml_value(text: str) -> Any:
    """A ``--set`` value: a TOML literal, or the text itself if it is not one."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_sets(items: list[str], source: str) -> dict[str, Any]:
    """``--set FIELD=VALUE`` items as an overrides mapping (values are TOML literals)."""
    overrides: dict[str, Any] = {}
    for item in items:
        field, sep, value = item.partition("=")
        if not sep or not field.strip():
            raise UserError(f"{source}: --set: expected FIELD=VALUE, got {item!r}")
        overrides[field.strip()] = _toml_value(value.strip())
    return overrides


def load_scenario_args(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The scenario of ``args.scenario`` with ``--set``, ``--paths`` and ``--seed`` applied,
    and those overrides."""
    from ..scenario import load_scenario, with_overrides

    scenario = load_scenario(args.scenario)
    overrides = parse_sets(getattr(args, "set", None) or [], args.scenario)
    if getattr(args, "paths", None) is not None:
        overrides["simulation.paths"] = args.paths
    if getattr(args, "seed", None) is not None:
        overrides["simulation.seed"] = args.seed
    if overrides:
        scenario = with_overrides(scenario, overrides)
    return scenario, overrides


def add_replicates_arg(p: argparse.ArgumentParser) -> None:
    """``--replicates FILE`` for the commands that simulate."""
    p.add_argument(
        "--replicates",
        metavar="FILE",
        help="parameter replicates (.parquet or .csv; columns are field paths of hazard "
        "parameters, one row per replicate, e.g. from 'arsim ledger --replicates-out'): every "
        "figure then includes parameter risk (overrides [uncertainty] replicates)",
    )


def load_replicates_args(
    args: argparse.Namespace,
    scenario: Any,
    overrides: dict[str, Any],
    varied: dict[str, str] | None = None,
) -> tuple[Path | None, list[dict[str, float]] | None]:
    """The parameter replicates of a command (DESIGN 2.14): the file and its checked rows.

    ``--replicates FILE``, or the scenario's ``[uncertainty] replicates`` (relative to the
    scenario file), which ``--replicates`` overrides (and says so). A column also set by
    ``--set``, by an ECL scenario or in ``varied`` (field → what varies it) is refused, and so
    are fewer than two paths a replicate.
    """
    from ..scenario import replicates_file

    in_file = replicates_file(scenario) if args.replicates is None else None
    if args.replicates is not None:
        if scenario.uncertainty is not None:
            message(
                f"{args.scenario}: uncertainty.replicates: --replicates {args.replicates} "
                f"is used instead of {scenario.uncertainty.replicates}"
            )
        path = Path(args.replicates)
    elif in_file is not None:
        path = in_file
    else:
        return None, None
    from ..engine import check_replicate_paths
    from ..scenario import read_replicates, replicate_rows

    fixed = {key: "--set" for key in overrides} | dict(varied or {})
    rows = replicate_rows(scenario, read_replicates(path), str(path), fixed)
    check_replicate_paths(scenario, rows)
    return path, rows


def progress_bar(total: int, desc: str, unit: str = "path") -> Any:
    """A tqdm bar on stderr, drawn on a terminal only."""
    from tqdm import tqdm

    return tqdm(
        total=total, desc=desc, unit=unit, unit_scale=unit == "path", disable=None, file=sys.stderr
    )


def _check_writable(out: Path) -> None:
    """Refuse, before any work, an output path whose folder could not be created or written."""
    place = out.parent
    while not place.exists() and place != place.parent:
        place = place.parent
    if not place.is_dir():
        raise UserError(f"{out}: --out: {place} is a file, not a folder")
    if not os.access(place, os.W_OK | os.X_OK):
        raise UserError(f"{out}: --out: cannot write in {place} (permission denied)")


def check_out_folder(out: Path, force: bool, *, exists_ok: bool = False) -> Path:
    """Refuse, before any work, an ``--out`` folder that cannot be written.

    An existing path is refused unless ``force`` (or ``exists_ok``, for a sweep folder that
    decides for itself whether it resumes it); a file is never replaced by a folder.
    """
    if out.exists() and not (force or exists_ok):
        raise UserError(f"{out}: --out: already exists; add --force to replace it")
    if out.exists() and not out.is_dir() and not exists_ok:
        raise UserError(f"{out}: --out: is a file, not a folder")
    _check_writable(out)
    return out


def check_out_file(out: Path, force: bool) -> Path:
    """Refuse, before any work, an ``--out`` file that is a folder, or exists without ``force``."""
    if out.is_dir():
        raise UserError(f"{out}: --out: is a folder; give the name of a file to write")
    if out.exists() and not force:
        raise UserError(f"{out}: --out: already exists; add --force to replace it")
    _check_writable(out)
    return out


def writing(out: Path, write: Callable[[], Any]) -> Any:
    """``write()``, with an operating-system error as the one-line ``--out`` error."""
    try:
        return write()
    except OSError as exc:
        raise UserError(f"{out}: --out: cannot write: {exc.strerror or exc}") from None


def write_out_text(out: Path, text: str, force: bool) -> Path:
    """Write ``text`` to ``out`` atomically (the ``--out`` file of a command)."""
    from ..storage import write_text_atomic

    return writing(out, lambda: write_text_atomic(out, text, force=force))


def print_json(doc: Any) -> None:
    """``doc`` as indented JSON on stdout (what ``--json`` prints)."""
    import json

    print(json.dumps(doc, indent=2, default=str))


def message(text: str) -> None:
    """A message on stderr (what goes beside ``--json`` output)."""
    print(text, file=sys.stderr)


def text_table(rows: list[list[str]], right: set[int]) -> list[str]:
    """Rows of text cells as aligned lines: columns two spaces apart, those in ``right``
    right-aligned."""
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]

    def line(row: list[str]) -> str:
        cells = zip(row, widths, strict=True)
        text = [c.rjust(w) if j in right else c.ljust(w) for j, (c, w) in enumerate(cells)]
        return "  ".join(text).rstrip()

    return [line(r) for r in rows]
