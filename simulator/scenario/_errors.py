"""Scenario errors: one line ``FILE: FIELD: reason``, and the first of pydantic's errors in the
order of DESIGN 3.2 (unknown keys, missing keys, wrong types, out-of-range values) in words a user
understands."""

from __future__ import annotations

import datetime as dt
import difflib
from typing import Any

from pydantic import BaseModel, ValidationError

from ._models import Scenario

__all__ = ["ScenarioError"]


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


def _loc_text(loc: tuple[Any, ...]) -> str:
    out = ""
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


def _first_error(
    exc: ValidationError, file: str, missing_gross: str | None = None
) -> ScenarioError:
    ranked: list[tuple[int, int, str, str]] = []
    if missing_gross is not None:  # optional in the model, required unless a profile is given
        ranked.append((1, -1, "buckets.gross", missing_gross))
    for i, err in enumerate(exc.errors()):
        rank, reason = _rank_and_reason(err)
        ranked.append((rank, i, _loc_text(err["loc"]), reason))
    rank, _, field, reason = min(ranked)
    return ScenarioError(file, field, reason)
