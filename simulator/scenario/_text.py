"""A scenario as text: its canonical hash, its TOML, and changes to a user's file that keep its
comments, order and layout (tomlkit)."""

from __future__ import annotations

from typing import Any

from ._models import Scenario
from ._paths import parse_field_path

__all__ = ["scenario_hash", "scenario_toml", "update_scenario_text"]


def scenario_hash(scenario: Scenario, replicates: list[dict[str, float]] | None = None) -> str:
    """SHA-256 of the validated scenario in canonical JSON (key order and spacing fixed).

    Fields left at a ``None`` default are left out, so that optional fields added to the format
    later do not change the hash of a scenario that does not use them. With parameter
    replicates (DESIGN 2.14) their rows, as read, enter the hash too.
    """
    from .._util import sha256_json, without_none  # numpy: not needed to read a scenario

    doc = without_none(scenario.model_dump(mode="json"))
    if replicates:
        doc = {"scenario": doc, "replicates": replicates}
    return sha256_json(doc)


def scenario_toml(scenario: Scenario) -> str:
    """The scenario as a TOML document (fields left at ``None`` are left out)."""
    import tomlkit

    from .._util import without_none

    return tomlkit.dumps(without_none(scenario.model_dump(mode="python")))


def update_scenario_text(text: str, values: dict[str, Any], source_note: str | None = None) -> str:
    """Change fields of a scenario file's text, keeping its comments, order and layout.

    Parameters
    ----------
    text : str
        The TOML text of a scenario file.
    values : dict
        Field path → new value, e.g. ``{"defaults.monthly_rate": [...],
        "collections.monthly_rate[2]": 0.03}`` (paths as in ``--set``).
    source_note : str, optional
        Appended to ``scenario.sources`` (which is created if missing).

    Returns
    -------
    str
        The new text (tomlkit keeps every comment and the user's formatting elsewhere).
    """
    import tomlkit

    doc = tomlkit.parse(text)
    for path, value in values.items():
        parts = parse_field_path(path)
        section, name = str(parts[0]), str(parts[1])
        if section not in doc:
            doc[section] = tomlkit.table()
        table = doc[section]
        if len(parts) == 3:
            table[name][int(parts[2])] = value
        elif name in table and isinstance(value, list) and len(table[name]) == len(value):
            for i, v in enumerate(value):  # in place, so the line keeps its comment
                table[name][i] = v
        else:
            table[name] = value
    if source_note:
        if "scenario" not in doc:
            doc["scenario"] = tomlkit.table()
        meta = doc["scenario"]
        if "sources" not in meta:
            meta["sources"] = tomlkit.array()
        meta["sources"].append(source_note)
    return tomlkit.dumps(doc)
