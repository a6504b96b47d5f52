"""Field paths (DESIGN 3.3): ``SECTION.FIELD`` or ``SECTION.FIELD[i]``, as ``--set``, ``--param``,
ECL overrides and sweep tables name fields, and their application to a scenario's mapping."""

from __future__ import annotations

import copy
import re
from typing import Any

from ._errors import ScenarioError, _did_you_mean, _inner_model
from ._models import Scenario

__all__ = ["apply_overrides", "check_field_path", "parse_field_path"]

_PATH_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)")


def parse_field_path(path: str) -> list[str | int]:
    """Split ``"collections.monthly_rate[2]"`` into ``["collections", "monthly_rate", 2]``.

    Raises
    ------
    ValueError
        If the text is not a dotted path of names with optional ``[index]`` parts.
    """
    parts: list[str | int] = []
    for chunk in path.split("."):
        m = _PATH_PART.fullmatch(chunk)
        if not m:
            raise ValueError(f"not a field path like 'collections.monthly_rate[2]': {path!r}")
        parts.append(m.group(1))
        parts.extend(int(i) for i in re.findall(r"\[(\d+)\]", m.group(2)))
    return parts


_NOT_OVERRIDABLE = {"sweep", "ecl_scenarios"}


def check_field_path(path: str, source: str = "<scenario>") -> list[str | int]:
    """Check that ``path`` names a real scalar or list field of a scenario; return its parts.

    Raises
    ------
    ScenarioError
        If the path is malformed or names no field.
    """
    try:
        parts = parse_field_path(path)
    except ValueError as exc:
        raise ScenarioError(source, path, str(exc)) from None
    names = [p for p in parts if isinstance(p, str)]
    sections = [s for s in Scenario.model_fields if s not in _NOT_OVERRIDABLE]
    if names and names[0] not in sections:
        raise ScenarioError(source, path, "unknown section" + _did_you_mean(names[0], sections))
    if len(names) != 2 or not isinstance(parts[0], str):
        raise ScenarioError(source, path, "expected SECTION.FIELD, e.g. collections.multiplier")
    section, field = names
    model = _inner_model(Scenario.model_fields[section].annotation)
    assert model is not None
    if field not in model.model_fields:
        raise ScenarioError(
            source, path, "unknown field" + _did_you_mean(field, list(model.model_fields))
        )
    if parts[1] != field:
        raise ScenarioError(source, path, "an index goes after the field name")
    if len(parts) > 3:
        raise ScenarioError(source, path, "only one [index] is supported")
    return parts


def apply_overrides(raw: dict[str, Any], overrides: dict[str, Any], source: str) -> dict[str, Any]:
    """Set fields of a scenario's mapping (as ``model_dump`` gives it) in place; return it.

    Parameters
    ----------
    raw : dict
        The scenario as a mapping; changed in place.
    overrides : dict
        Field path → new value (not validated here: see :func:`with_overrides`).
    source : str
        The file, for error messages.

    Raises
    ------
    ScenarioError
        If a path names no field or an index is out of range.
    """
    for path, value in overrides.items():
        parts = check_field_path(path, source)
        section, field = parts[0], parts[1]
        table = raw.setdefault(section, {})
        if len(parts) == 3:
            index = parts[2]
            current = table.get(field)
            if not isinstance(current, list):
                raise ScenarioError(source, path, f"{section}.{field} is not set, so has no items")
            if not 0 <= int(index) < len(current):
                raise ScenarioError(
                    source, path, f"index out of range: the list has {len(current)} items"
                )
            current = list(current)
            current[int(index)] = value
            table[field] = current
        else:
            table[field] = copy.deepcopy(value)
    return raw
