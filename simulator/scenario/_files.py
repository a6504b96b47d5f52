"""Reading scenario files (and other small text files users write)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from ._errors import ScenarioError
from ._models import Scenario
from ._validate import scenario_from_dict

__all__ = ["MAX_FILE_BYTES", "load_scenario", "read_text_file"]

MAX_FILE_BYTES = 10 * 1024 * 1024


def read_text_file(
    path: str | Path,
    error: type[ValueError] = ScenarioError,
    *,
    what: str = "scenario file",
    expected: str = "TOML",
) -> str:
    """Read a small UTF-8 text file written by a user, or raise one ``FILE: -: reason`` error.

    A byte-order mark (as some Windows editors save) is allowed; folders, files over 10 MiB,
    unreadable files and files that are not UTF-8 text are refused.

    Parameters
    ----------
    path : str or Path
    error : exception class, optional
        Built as ``error(file, "-", reason)``; :class:`ScenarioError` by default.
    what, expected : str
        Words for the messages, e.g. ``"CSV file"`` and ``"CSV"``.
    """
    name = str(path)
    p = Path(path)
    try:
        if p.is_dir():
            raise error(name, "-", f"is a folder, not a {what}")
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise error(name, "-", f"file is {size:,} bytes; a {what} is at most 10 MiB")
        raw = p.read_bytes()
    except FileNotFoundError:
        raise error(name, "-", "no such file") from None
    except PermissionError:
        raise error(name, "-", "permission denied") from None
    except OSError as exc:
        raise error(name, "-", f"cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise error(name, "-", f"not a text file (not UTF-8); expected {expected}") from None
    return text


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file.

    Parameters
    ----------
    path : str or Path
        A TOML file in the format of DESIGN 3.1.

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        If the file cannot be read, is not UTF-8 TOML, or breaks a rule.
    """
    name = str(path)
    text = read_text_file(path, ScenarioError, what="scenario file", expected="TOML")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(name, "-", f"not valid TOML: {exc}") from None
    except RecursionError:
        raise ScenarioError(name, "-", "not valid TOML: nested too deeply") from None
    return scenario_from_dict(data, source=name)
