"""A scenario as text: its canonical hash, its TOML, and changes to a user's file that keep its
comments, order and layout (tomlkit)."""

from __future__ import annotations

from typing import Any

from ._errors import ScenarioError
from ._models import Scenario
from ._paths import FieldPath, resolve_field_path

__all__ = ["scenario_hash", "scenario_toml", "update_scenario_text"]


def scenario_hash(scenario: Scenario, replicates: list[dict[str, float]] | None = None) -> str:
    """SHA-256 of the validated scenario in canonical JSON (key order and spacing fixed).

    Fields left at a ``None`` default are left out, so that optional fields added to the format
    later do not change the hash of a scenario that does not use them. With parameter
    replicates (DESIGN 2.14) their rows, as read, enter the hash too; where the table lives
    (``[uncertainty]``) does not.
    """
    from .._util import sha256_json, without_none  # numpy: not needed to read a scenario

    doc = without_none(scenario.model_dump(mode="json", exclude={"uncertainty"}))
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
        "collections.monthly_rate[2]": 0.03}`` (paths as in ``--set``, DESIGN 3.3; a segment's
        or debtor's field is set in its entry, e.g.
        ``"segments.government.defaults.monthly_rate"``).
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
        fp = resolve_field_path(path)
        table = _text_table(doc, fp)
        name = fp.field
        if fp.index is not None:
            table[name][fp.index] = value
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


def _text_table(doc: Any, fp: FieldPath) -> Any:
    """The table of a parsed file that holds the field ``fp`` names (created if missing)."""
    import tomlkit

    if fp.entry is None:
        if fp.table not in doc:
            doc[fp.table] = tomlkit.table()
        return doc[fp.table]
    for entry in doc.get(fp.table, []):
        if entry.get("name") == fp.entry:
            break
    else:
        raise ScenarioError("<text>", fp.path, f"no {fp.table[:-1]} named {fp.entry!r}")
    if fp.sub is None:
        return entry
    if fp.sub not in entry:
        entry[fp.sub] = tomlkit.inline_table()
    return entry[fp.sub]
