"""Field paths (DESIGN 3.3), as ``--set``, ``--param``, ECL overrides and sweep tables name
fields, and their application to a scenario's mapping.

The grammar, with at most one ``[i]`` and only at the end:

- ``SECTION.FIELD[i]`` — a field of a top-level table, e.g. ``collections.monthly_rate[2]``;
- ``segments.NAME.FIELD[i]`` — a field of the segment named NAME: ``gross``,
  ``opening_by_age``, ``provision_rates``, ``billing_share``, ``factor_weight``, ``label``;
- ``segments.NAME.collections.FIELD[i]`` and ``segments.NAME.defaults.FIELD[i]`` — its
  overrides of the top-level ``[collections]`` and ``[defaults]``;
- ``debtors.NAME.FIELD[i]`` — a field of the debtor named NAME (any but ``name``).

A field that a segment or debtor leaves out is set on it by path (the override is created). An
index into a field it leaves out starts from the value it has now: the top-level table's for a
segment (``1`` for the multiplier ``m_s``), its segment's for a debtor; and an index into a
debtor's probability given as one number first expands it to one number per bucket.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from ._errors import ENTRY_TABLES, ScenarioError, _did_you_mean, _inner_model
from ._models import Scenario, profile_bucket_sums
from ._segments import Debtor, Segment

__all__ = [
    "FieldPath",
    "apply_overrides",
    "check_field_path",
    "field_value",
    "parse_field_path",
    "resolve_field_path",
]

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
_ENTRY_MODELS: dict[str, type[BaseModel]] = {"segments": Segment, "debtors": Debtor}
_SEGMENT_TABLES = ("collections", "defaults")
#: Debtor fields that are a number or one number per bucket.
_PROBABILITIES = ("monthly_pay_probability", "monthly_default_probability")


@dataclass(frozen=True)
class FieldPath:
    """A field path, checked against the scenario format (not against a scenario's names).

    Attributes
    ----------
    path : str
        As written, e.g. ``segments.government.collections.monthly_rate[2]``.
    table : str
        The top-level key: a section (``collections``), ``segments`` or ``debtors``.
    entry : str or None
        The segment's or debtor's name.
    sub : str or None
        ``collections`` or ``defaults`` within a segment.
    field : str
        The field's name in its model.
    index : int or None
        The item of a list.
    model : type
        The pydantic model that holds the field.
    """

    path: str
    table: str
    entry: str | None
    sub: str | None
    field: str
    index: int | None
    model: type[BaseModel]

    @property
    def where(self) -> str:
        """The path without its index, e.g. ``segments.government.gross``."""
        return ".".join(p for p in (self.table, self.entry, self.sub, self.field) if p)


def resolve_field_path(path: str, source: str = "<scenario>") -> FieldPath:
    """Check that ``path`` names a field of the scenario format (DESIGN 3.3) and resolve it.

    Whether a named segment or debtor exists is checked where a scenario is at hand
    (:func:`apply_overrides`, :func:`field_value`, :func:`check_field_path` with a scenario).

    Raises
    ------
    ScenarioError
        If the path is malformed or names no field.
    """
    try:
        parts = parse_field_path(path)
    except ValueError as exc:
        raise ScenarioError(source, path, str(exc)) from None
    index = parts.pop() if isinstance(parts[-1], int) else None
    if isinstance(parts[-1], int):
        raise ScenarioError(source, path, "only one [index] is supported")
    if any(isinstance(p, int) for p in parts):
        raise ScenarioError(source, path, "an index goes after the field name")
    names = [str(p) for p in parts]
    sections = [s for s in Scenario.model_fields if s not in _NOT_OVERRIDABLE]
    if names[0] not in sections:
        raise ScenarioError(source, path, "unknown section" + _did_you_mean(names[0], sections))
    if names[0] in ENTRY_TABLES:
        return _entry_path(path, names, index, source)
    if len(names) != 2:
        raise ScenarioError(source, path, "expected SECTION.FIELD, e.g. collections.multiplier")
    model = _inner_model(Scenario.model_fields[names[0]].annotation)
    assert model is not None
    _check_field(model, names[1], path, source)
    return FieldPath(path, names[0], None, None, names[1], index, model)


def _entry_path(path: str, names: list[str], index: int | None, source: str) -> FieldPath:
    table = names[0]
    what = table[:-1]
    example = (
        "segments.NAME.billing_share or segments.NAME.collections.multiplier"
        if table == "segments"
        else "debtors.NAME.monthly_pay_probability"
    )
    if len(names) < 3:
        raise ScenarioError(source, path, f"expected {table}.NAME.FIELD, e.g. {example}")
    model: type[BaseModel] = _ENTRY_MODELS[table]
    sub = None
    if table == "segments" and names[2] in _SEGMENT_TABLES:
        sub = names[2]
        if len(names) != 4:
            raise ScenarioError(
                source, path, f"expected segments.NAME.{sub}.FIELD, e.g. ...{sub}.monthly_rate"
            )
        sub_model = _inner_model(Segment.model_fields[sub].annotation)
        assert sub_model is not None
        model = sub_model
    elif len(names) != 3:
        _check_field(model, names[2], path, source)  # a near miss of collections: did you mean
        raise ScenarioError(source, path, f"expected {table}.NAME.FIELD, e.g. {example}")
    field = names[-1]
    if field == "name" and sub is None:
        raise ScenarioError(source, path, f"a {what}'s name cannot be set: the path goes by it")
    _check_field(model, field, path, source)
    return FieldPath(path, table, names[1], sub, field, index, model)


def _check_field(model: type[BaseModel], field: str, path: str, source: str) -> None:
    if field not in model.model_fields:
        raise ScenarioError(
            source, path, "unknown field" + _did_you_mean(field, list(model.model_fields))
        )


def check_field_path(
    path: str, source: str = "<scenario>", scenario: Scenario | None = None
) -> list[str | int]:
    """Check that ``path`` names a real scalar or list field of a scenario; return its parts.

    Parameters
    ----------
    path : str
    source : str, optional
        The file, for error messages.
    scenario : Scenario, optional
        Also check that the segment or debtor the path names is one of this scenario's.

    Raises
    ------
    ScenarioError
        If the path is malformed or names no field.
    """
    fp = resolve_field_path(path, source)
    if scenario is not None and fp.entry is not None:
        _entry(scenario.model_dump(mode="python"), fp, source)
    return parse_field_path(path)


def _entry(raw: dict[str, Any], fp: FieldPath, source: str) -> dict[str, Any]:
    """The mapping of the segment or debtor ``fp`` names."""
    entries = raw.get(fp.table) or []
    names = [e.get("name") for e in entries if isinstance(e, dict)]
    for e in entries:
        if isinstance(e, dict) and e.get("name") == fp.entry:
            return e
    what = fp.table[:-1]
    if not names:
        raise ScenarioError(source, fp.path, f"the scenario has no [[{fp.table}]]")
    hint = _did_you_mean(str(fp.entry), [str(n) for n in names])
    return _raise(source, fp.path, f"no {what} named {fp.entry!r}{hint}")


def _raise(source: str, field: str, reason: str) -> Any:
    raise ScenarioError(source, field, reason)


def _holder(raw: dict[str, Any], fp: FieldPath, source: str, create: bool) -> dict[str, Any]:
    """The mapping that holds the field (created empty for a segment's table, if asked)."""
    if fp.entry is None:
        table = raw.get(fp.table)
        if table is None:
            table = {}
            if create:
                raw[fp.table] = table
        return table
    entry = _entry(raw, fp, source)
    if fp.sub is None:
        return entry
    table = entry.get(fp.sub)
    if table is None:
        table = {}
        if create:
            entry[fp.sub] = table
    return table


def _inherited(raw: dict[str, Any], fp: FieldPath, source: str) -> Any:
    """What a field that a segment or debtor leaves out is for it now."""
    entry = _entry(raw, fp, source)
    if fp.table == "segments":
        if fp.sub == "collections" and fp.field == "multiplier":
            return 1.0
        if fp.sub is not None:
            return (raw.get(fp.sub) or {}).get(fp.field)
        if fp.field == "provision_rates":
            return raw["buckets"]["provision_rates"]
        if fp.field == "gross" and entry.get("opening_by_age") is not None:
            return profile_bucket_sums(entry["opening_by_age"], raw["buckets"]["edges_months"])
        return None
    segment = _debtor_segment(raw, entry)
    field = {
        "monthly_pay_probability": ("collections", "monthly_rate"),
        "monthly_default_probability": ("defaults", "monthly_rate"),
        "correlation": ("defaults", "correlation"),
        "factor_loading": ("collections", "factor_loading"),
    }.get(fp.field)
    if field is None:
        return None
    own = (segment or {}).get(field[0]) or {}
    value = own.get(field[1])
    return value if value is not None else (raw.get(field[0]) or {}).get(field[1])


def _debtor_segment(raw: dict[str, Any], debtor: dict[str, Any]) -> dict[str, Any] | None:
    for seg in raw.get("segments") or []:
        if isinstance(seg, dict) and seg.get("name") == debtor.get("segment"):
            return seg
    return None


def _current(raw: dict[str, Any], fp: FieldPath, source: str, holder: dict[str, Any]) -> Any:
    """The field's value as the model reads it: its own, or (for an override left out) the
    value it inherits; a debtor's one-number probability as one number per bucket when an item
    of it is addressed."""
    value = holder.get(fp.field)
    if value is None and fp.entry is not None:
        value = _inherited(raw, fp, source)
    if fp.index is not None and fp.field in _PROBABILITIES and isinstance(value, int | float):
        value = [value] * len(raw["buckets"]["edges_months"])
    return value


def _item_list(value: Any, fp: FieldPath, source: str) -> list[Any]:
    """``value`` as the list whose item ``fp.index`` is addressed, or the one-line error."""
    assert fp.index is not None
    if value is None:
        return _raise(source, fp.path, f"{fp.where} is not set, so has no items")
    if not isinstance(value, list):
        return _raise(source, fp.path, f"{fp.where} is not a list")
    if not 0 <= fp.index < len(value):
        _raise(source, fp.path, f"index out of range: the list has {len(value)} items")
    return list(value)


def field_value(scenario: Scenario, path: str) -> Any:
    """The value the field ``path`` of ``scenario`` has now: its own, or what a segment or
    debtor that leaves it out inherits (see the module docstring).

    Raises
    ------
    ScenarioError
        If the path names no field, no segment or debtor of the scenario, or an item that the
        field does not have.
    """
    fp = resolve_field_path(path, scenario.source)
    raw = scenario.model_dump(mode="python")
    holder = _holder(raw, fp, scenario.source, create=False)
    value = _current(raw, fp, scenario.source, holder)
    if fp.index is None:
        return value
    return _item_list(value, fp, scenario.source)[fp.index]


def apply_overrides(raw: dict[str, Any], overrides: dict[str, Any], source: str) -> dict[str, Any]:
    """Set fields of a scenario's mapping (as ``model_dump`` gives it) in place; return it.

    Parameters
    ----------
    raw : dict
        The scenario as a mapping; changed in place.
    overrides : dict
        Field path → new value (not validated here: see :func:`with_overrides`), applied in
        order.
    source : str
        The file, for error messages.

    Raises
    ------
    ScenarioError
        If a path names no field, no segment or debtor of the scenario, or an index is out of
        range.
    """
    for path, value in overrides.items():
        fp = resolve_field_path(path, source)
        holder = _holder(raw, fp, source, create=True)
        if fp.index is None:
            holder[fp.field] = copy.deepcopy(value)
            continue
        items = _item_list(_current(raw, fp, source, holder), fp, source)
        items[fp.index] = value
        holder[fp.field] = items
    return raw
