"""The scenarios a page offers (by id, never by a path from the browser), the controls it shows
for a scenario, and the edits a browser sends, checked against the scenario's own rules."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..scenario import Scenario, ScenarioError, load_scenario, read_text_file, with_overrides
from ..sweep import field_info

#: Fields with one control each: (field path, label, group).
SCALAR_CONTROLS = (
    ("collections.multiplier", "Collection multiplier m", "Collections"),
    ("collections.factor_loading", "Factor loading β", "Collections"),
    ("defaults.correlation", "Default correlation ρ", "Defaults"),
    ("factor.persistence", "Factor persistence φ", "Economy"),
    ("cash.opening", "Opening cash", "Cash and revenue"),
    ("cash.monthly_fixed_outflow", "Fixed outflow per month", "Cash and revenue"),
    ("cash.floor", "Cash floor", "Cash and revenue"),
    ("revenue.annual_growth", "Revenue growth per year", "Cash and revenue"),
)
#: Per-bucket fields with one control per bucket: (field path, label, group).
BUCKET_CONTROLS = (
    ("collections.monthly_rate", "Collection rate c", "Collections"),
    ("defaults.monthly_rate", "Default rate p", "Defaults"),
)
#: Fields measured in the scenario's money unit (their label says the unit).
MONEY_FIELDS = {"cash.opening", "cash.monthly_fixed_outflow", "cash.floor"}
_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Entry:
    """One scenario the page offers.

    Attributes
    ----------
    id : str
        What the browser names it by (from the file name; letters, digits, ``_`` and ``-``).
    path : pathlib.Path
        The file it was read from.
    text : str
        The file's text (what a save changes, keeping its comments).
    scenario : Scenario
        The validated scenario, as in the file.
    """

    id: str
    path: Path
    text: str
    scenario: Scenario


class Catalog:
    """The scenarios of a page, read and validated once when the server starts.

    Parameters
    ----------
    files : sequence of path-like
        Scenario files; ids come from their names (``iflytek_2024q3``), made unique.

    Raises
    ------
    ScenarioError
        For the first file that does not load, as ``FILE: FIELD: reason``.
    ValueError
        If ``files`` is empty.
    """

    def __init__(self, files: Sequence[str | Path]) -> None:
        if not files:
            raise ValueError("no scenario files")
        self.entries: dict[str, Entry] = {}
        for f in files:
            path = Path(f)
            scenario = load_scenario(path)
            text = read_text_file(path)
            base = _ID_CHARS.sub("-", path.stem).strip("-")[:56] or "scenario"
            sid, n = base, 1
            while sid in self.entries:
                n += 1
                sid = f"{base}-{n}"
            self.entries[sid] = Entry(sid, path, text, scenario)

    def __getitem__(self, sid: str) -> Entry:
        return self.entries[sid]

    def __contains__(self, sid: object) -> bool:
        return sid in self.entries

    def listing(self) -> list[dict[str, str]]:
        """``id``, ``name`` and file ``name`` of every scenario, in the order given."""
        return [
            {"id": e.id, "name": e.scenario.scenario.name or e.path.stem, "file": e.path.name}
            for e in self.entries.values()
        ]


def discover_scenarios(folder: str | Path) -> tuple[list[Path], list[str]]:
    """The scenario files of ``folder/scenarios/*.toml`` that load.

    Parameters
    ----------
    folder : path-like
        The folder ``arsim serve`` was started from.

    Returns
    -------
    files : list of pathlib.Path
        The files that load, sorted by name.
    problems : list of str
        One ``FILE: FIELD: reason`` for each file that does not.
    """
    good, bad = [], []
    for path in sorted(Path(folder, "scenarios").glob("*.toml")):
        try:
            load_scenario(path)
        except (ScenarioError, OSError) as exc:
            bad.append(str(exc))
        else:
            good.append(path)
    return good, bad


def _bound(x: float) -> float | None:
    return x if math.isfinite(x) else None


def controls(scenario: Scenario) -> list[dict[str, Any]]:
    """The page's controls for ``scenario``, in the order the page shows them.

    Parameters
    ----------
    scenario : Scenario

    Returns
    -------
    list of dict
        Per control: ``path`` (the field path), ``label``, ``group``, ``bucket`` (its label, or
        ``None``), ``value`` (the file's value as text), and the field's valid range: ``min``
        and ``max`` (``None`` when open-ended), ``min_open`` and ``max_open`` (whether the bound
        itself is excluded).
    """
    unit = scenario.money_unit
    out = []

    def add(path: str, label: str, group: str, bucket: str | None = None) -> None:
        info = field_info(scenario, path)
        if path in MONEY_FIELDS and unit:
            label = f"{label}, {unit}"
        out.append(
            {
                "path": path,
                "label": label,
                "group": group,
                "bucket": bucket,
                "value": _text(info.current),
                "min": _bound(info.lo),
                "max": _bound(info.hi),
                "min_open": info.lo_open,
                "max_open": info.hi_open,
            }
        )

    for path, label, group in SCALAR_CONTROLS[:2]:
        add(path, label, group)
    for path, label, group in BUCKET_CONTROLS:
        for i, lab in enumerate(scenario.labels):
            add(f"{path}[{i}]", f"{label}, {lab}", group, lab)
    for path, label, group in SCALAR_CONTROLS[2:]:
        add(path, label, group)
    return out


def editable_fields(scenario: Scenario) -> set[str]:
    """The field paths a browser may change on ``scenario``."""
    paths = {p for p, _, _ in SCALAR_CONTROLS}
    for path, _, _ in BUCKET_CONTROLS:
        paths |= {f"{path}[{i}]" for i in range(scenario.n_buckets)}
    return paths


def _text(value: Any) -> str:
    """A number as the page shows it in a control: the shortest decimals that read back exactly,
    without an exponent (``0.00001``, not ``1e-05``)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return str(value)
    text = format(Decimal(repr(float(value))), "f")
    return text if "." in text else text + ".0"


def parse_number(text: Any) -> float:
    """A control's text as a number.

    Raises
    ------
    ValueError
        With the reason shown beside the control (``enter a number``, ``is not a number``, ``must
        be a finite number``).
    """
    if isinstance(text, bool):
        raise ValueError("is not a number")
    if isinstance(text, int | float):
        value = float(text)
    else:
        s = str(text).strip()
        if not s:
            raise ValueError("enter a number")
        try:
            value = float(s)
        except ValueError:
            raise ValueError(f"is not a number ({s[:20]!r})") from None
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def parse_edits(
    scenario: Scenario, raw: Mapping[str, Any]
) -> tuple[dict[str, float], dict[str, str]]:
    """Check the edits a browser sent: field path → text.

    Each value must be a number within its field's rules (checked by the scenario's own
    validation, one field at a time so that every bad control gets its message), then all
    together (rules that involve several fields).

    Returns
    -------
    values : dict
        Field path → number, when every edit is good (empty otherwise).
    errors : dict
        Field path → the reason, shown beside its control.
    """
    allowed = editable_fields(scenario)
    values: dict[str, float] = {}
    errors: dict[str, str] = {}
    for path, text in raw.items():
        if path not in allowed:
            errors[str(path)[:80]] = "is not a field this page can change"
            continue
        try:
            values[path] = parse_number(text)
            with_overrides(scenario, {path: values[path]})
        except ValueError as exc:  # ScenarioError is a ValueError
            errors[path] = exc.reason if isinstance(exc, ScenarioError) else str(exc)
    if not errors and values:
        try:
            with_overrides(scenario, values)
        except ScenarioError as exc:
            field = exc.field if exc.field in values else next(iter(values))
            errors[field] = exc.reason
    return ({} if errors else values), errors
