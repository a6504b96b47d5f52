"""Files the page writes or hands out: an edited scenario saved as TOML in the folder the server
was started from (DESIGN 8: a strict name, resolved inside that folder, never through a
symbolic link, created exclusively, replaced only on a second confirmation), and the summary
as JSON or CSV (CSV cells that a spreadsheet would run as a formula are neutralised)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
from pathlib import Path
from typing import Any

from .._util import json_ready
from ..scenario import scenario_from_dict, update_scenario_text
from ..storage import write_text_atomic

#: What a saved file may be called.
SAVE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}\.toml")
#: First characters that make a spreadsheet read a text cell as a formula (or hide one).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class SaveRefused(Exception):
    """A save that is not done; ``status`` is the HTTP status (400 refused, 409 exists)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def save_target(root: Path, name: str) -> Path:
    """Where a save named ``name`` goes.

    Parameters
    ----------
    root : pathlib.Path
        The folder saves go to.
    name : str
        The name the page sent.

    Returns
    -------
    pathlib.Path
        ``root / name``.

    Raises
    ------
    SaveRefused
        (400) When the name breaks :data:`SAVE_NAME`, is a symbolic link, resolves outside
        ``root``, or is something other than a file.
    """
    if not isinstance(name, str) or not SAVE_NAME.fullmatch(name):
        raise SaveRefused(400, "the name must be 1-64 letters, digits, '_' or '-', ending in .toml")
    root = root.resolve()
    target = root / name
    if target.is_symlink():
        raise SaveRefused(400, f"{name} is a symbolic link; choose another name")
    if not target.resolve().is_relative_to(root):
        raise SaveRefused(400, f"{name} is outside the folder {root}")
    if target.exists() and not target.is_file():
        raise SaveRefused(400, f"{name} exists and is not a file; choose another name")
    return target


def edited_text(text: str, edits: dict[str, float], source_file: str) -> str:
    """The scenario file's text with ``edits`` written in (comments and layout kept), and a
    line in ``scenario.sources`` that says where it came from."""
    if not edits:
        return text
    changes = ", ".join(f"{k} = {v!r}" for k, v in edits.items())
    day = dt.date.today().isoformat()
    note = f"Edited on the arsim what-if page on {day} from {source_file}: {changes}"
    return update_scenario_text(text, edits, source_note=note)


def check_text(text: str, name: str) -> None:
    """Check that ``text`` is a valid scenario before it is written (raises ScenarioError)."""
    import tomllib

    scenario_from_dict(tomllib.loads(text), source=name)


def save_new(target: Path, text: str) -> bool:
    """Create ``target`` with ``text`` (``O_EXCL``: never over an existing file or link);
    whether it was created (``False``: it exists)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(target, flags, 0o644)
    except FileExistsError:
        return False
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return True


def replace_file(target: Path, text: str) -> None:
    """Replace ``target`` (confirmed twice) atomically: a temporary file beside it, renamed."""
    write_text_atomic(target, text, force=True)


def neutralise(cell: Any) -> Any:
    """A CSV cell a spreadsheet will not run: text starting with ``=``, ``+``, ``-``, ``@``, a
    tab or a carriage return gets a leading ``'``; numbers stay numbers."""
    if isinstance(cell, str) and cell.startswith(FORMULA_START):
        return "'" + cell
    return cell


def _flatten(obj: Any, name: str = "") -> list[tuple[str, Any]]:
    if isinstance(obj, dict):
        return [r for k, v in obj.items() for r in _flatten(v, f"{name}.{k}" if name else str(k))]
    if isinstance(obj, list | tuple):
        return [r for i, v in enumerate(obj) for r in _flatten(v, f"{name}[{i}]")]
    return [(name, obj)]


def summary_csv(doc: dict[str, Any]) -> str:
    """A summary document as CSV.

    Parameters
    ----------
    doc : dict
        A summary (nested objects and lists allowed).

    Returns
    -------
    str
        RFC 4180 rows ``key,value``: nested keys dotted (``runway_quantiles.p50``, list items
        ``sources[0]``), ``None`` as an empty cell, text cells neutralised by
        :func:`neutralise`.
    """
    out = io.StringIO()
    writer = csv.writer(out)  # RFC 4180: CRLF rows, so a CR or LF inside a cell is quoted
    writer.writerow(["key", "value"])
    for key, value in _flatten(json_ready(doc)):
        writer.writerow([neutralise(key), neutralise("" if value is None else value)])
    return out.getvalue()


def summary_json(doc: dict[str, Any]) -> str:
    """A summary document as indented JSON."""
    return json.dumps(json_ready(doc), indent=2)
