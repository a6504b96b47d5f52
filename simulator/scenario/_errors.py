"""Scenario errors: one line ``FILE: FIELD: reason``, and the first of pydantic's errors in the
order of DESIGN 3.2 (unknown keys, missing keys, wrong types, out-of-range values) in words a user
understands."""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from ._models import Scenario
from ._types import NAME_RULE, UNION_TAGS

__all__ = ["ScenarioError"]

#: The tables of named entries; a field of one is ``segments.NAME.FIELD`` (DESIGN 3.3).
ENTRY_TABLES = ("segments", "debtors")


class ScenarioError(ValueError):
    """A problem with a scenario, reported as ``FILE: FIELD: reason`` on one line.

    Parameters
    ----------
    file : str
        The scenario file (or ``<scenario>`` for one built in memory).
    field : str
        The dotted field path, e.g. ``collections.monthly_rate[2]``; ``-`` for the whole file.
    reason : str
        What is wrong, in words a user understands.
    """

    def __init__(self, file: str, field: str, reason: str) -> None:
        self.file, self.field, self.reason = str(file), field, reason
        super().__init__(f"{self.file}: {field}: {reason}")


_TYPE_WORDS = {
    "float_type": "a number",
    "int_type": "an integer",
    "string_type": "a string",
    "list_type": "a list",
    "date_type": "a TOML date such as 2024-06-30",
    "model_type": "a table",
    "dict_type": "a table",
    "bool_type": "true or false",
}


_RANGE_TYPES = {
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be ≥ {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be ≤ {le}",
    "too_short": "must have {min_length} items",
    "too_long": "must have {max_length} items",
    "finite_number": "must be a finite number",
}


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, str):
        shown = value if len(value) <= 30 else value[:27] + "..."
        return f"a string ({shown!r})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value!r})"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dt.datetime):
        return f"a date-time ({value.isoformat()})"
    if isinstance(value, dt.date):
        return f"a date ({value.isoformat()})"
    return type(value).__name__


def _fmt_number(x: Any) -> str:
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    if not isinstance(x, float):
        return str(x)
    short = f"{x:g}"
    return short if float(short) == x else repr(x)  # 1.0000000001 is not shown as 1


def entry_path(table: str, index: int, names: Sequence[Any]) -> str:
    """Where an entry of ``[[segments]]`` or ``[[debtors]]`` is: ``segments.NAME`` (the form of
    the field paths of DESIGN 3.3) when its name is valid and no other entry has it, otherwise
    ``segments[INDEX]`` (0-based, in the order of the file).

    Parameters
    ----------
    table : {"segments", "debtors"}
    index : int
    names : sequence
        The names of the table's entries, as given (anything that is not a valid name counts as
        none).
    """
    name = names[index] if 0 <= index < len(names) else None
    if isinstance(name, str) and NAME_RULE.fullmatch(name) and list(names).count(name) == 1:
        return f"{table}.{name}"
    return f"{table}[{index}]"


def raw_names(data: Any, table: str) -> list[Any]:
    """The ``name`` of each entry of a table of a scenario's mapping (``None`` where missing)."""
    entries = data.get(table) if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return []
    return [e.get("name") if isinstance(e, dict) else None for e in entries]


def _loc_text(loc: tuple[Any, ...], data: Any = None) -> str:
    out = ""
    if len(loc) >= 2 and loc[0] in ENTRY_TABLES and isinstance(loc[1], int):
        out, loc = entry_path(loc[0], loc[1], raw_names(data, loc[0])), loc[2:]
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "-"


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model class that owns the last element of ``loc``."""
    model: Any = Scenario
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if isinstance(model, type) else None
        if field is None:
            return None
        ann = field.annotation
        model = _inner_model(ann)
        if model is None:
            return None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _inner_model(ann: Any) -> type[BaseModel] | None:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in getattr(ann, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _rank_and_reason(err: dict[str, Any]) -> tuple[int, str]:
    kind, loc, value = err["type"], err["loc"], err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        model = _model_at(loc)
        choices = list(model.model_fields) if model else []
        return 0, "unknown key" + _did_you_mean(str(loc[-1]), choices)
    if kind == "missing":
        model = _model_at(loc)
        field = model.model_fields.get(loc[-1]) if model else None
        is_table = field is not None and _inner_model(field.annotation) is not None
        return 1, "required table is missing" if is_table else "required key is missing"
    if kind == "rule":
        return 3, err["msg"]
    if kind in _TYPE_WORDS:
        return 2, f"expected {_TYPE_WORDS[kind]}, got {_describe(value)}"
    if kind in _RANGE_TYPES:
        limits = {k: _fmt_number(v) for k, v in ctx.items()}
        text = _RANGE_TYPES[kind].format(**limits)
        if kind not in ("too_short", "too_long"):
            text += f", got {_fmt_number(value)}"
        else:
            text += f", got {len(value)}"
        return 3, text
    return 2, err.get("msg", "invalid value")


def _position(loc: tuple[Any, ...]) -> tuple[int, int]:
    """Where a location is in the file: its table (in the order of the model, unknown tables
    last, as pydantic reports them) and its entry of ``[[segments]]`` or ``[[debtors]]``."""
    tables = list(Scenario.model_fields)
    table = tables.index(loc[0]) if loc and loc[0] in tables else len(tables)
    entry = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else -1
    return table, entry


def _first_error(
    exc: ValidationError,
    file: str,
    data: Any = None,
    missing: Sequence[tuple[tuple[Any, ...], str, int]] = (),
) -> ScenarioError:
    """The first of pydantic's errors, and of ``missing``, in the order of DESIGN 3.2; among
    problems of one kind, the first in the file.

    ``missing`` holds keys that are optional in the models but required by another field, as
    ``(location, reason, order)``; ``order`` places one among pydantic's errors of its table
    and entry (-1 first, a large number last). ``data`` is the mapping that was validated: it
    names the entries of ``[[segments]]`` and ``[[debtors]]`` in the error's field path.
    """
    ranked: list[tuple[int, int, int, int, str, str]] = [
        (1, *_position(loc), order, _loc_text(loc, data), reason) for loc, reason, order in missing
    ]
    for i, err in enumerate(exc.errors()):
        loc = tuple(p for p in err["loc"] if p not in UNION_TAGS)
        rank, reason = _rank_and_reason({**err, "loc": loc})
        ranked.append((rank, *_position(loc), i, _loc_text(loc, data), reason))
    *_, field, reason = min(ranked)
    return ScenarioError(file, field, reason)
