"""Field information: what kind of number a scenario field holds and its valid range."""

from __future__ import annotations

import math
import types
import typing
from dataclasses import dataclass
from typing import Any

from ..scenario import Scenario, ScenarioError, field_value, resolve_field_path


@dataclass(frozen=True)
class FieldInfo:
    """What a sweepable field holds.

    Attributes
    ----------
    path : str
        The field path, e.g. ``collections.monthly_rate[2]``.
    kind : {"float", "int", "list", "other"}
        A real number, an integer, a list of real numbers (one per bucket, or a seasonality), or
        anything else (text, dates: not sweepable).
    lo, hi : float
        The valid range of the number (of every element for a list), ``-inf``/``inf`` if open.
    lo_open, hi_open : bool
        Whether ``lo``/``hi`` are excluded (``> lo`` rather than ``>= lo``).
    current : object
        The field's value in the scenario (``None`` if it is not set).
    """

    path: str
    kind: str
    lo: float
    hi: float
    lo_open: bool
    hi_open: bool
    current: Any

    def clip(self, x: float) -> float:
        """``x`` moved into the valid range (just inside an open bound)."""
        if x < self.lo or (self.lo_open and x <= self.lo):
            x = self.lo + (1e-9 * max(1.0, abs(self.lo)) if self.lo_open else 0.0)
        if x > self.hi or (self.hi_open and x >= self.hi):
            x = self.hi - (1e-9 * max(1.0, abs(self.hi)) if self.hi_open else 0.0)
        return x


def _unwrap(ann: Any) -> tuple[Any, list[Any]]:
    """Strip ``Optional`` and ``Annotated`` from a type; collect the constraints met on the way."""
    meta: list[Any] = []
    while True:
        origin = typing.get_origin(ann)
        if origin is typing.Annotated:
            args = typing.get_args(ann)
            ann = args[0]
            for m in args[1:]:
                meta.extend(getattr(m, "metadata", [m]))
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(ann) if a is not type(None)]
            if len(args) != 1:
                return ann, meta
            ann = args[0]
        else:
            return ann, meta


def _bounds(meta: list[Any]) -> tuple[float, float, bool, bool]:
    lo, hi, lo_open, hi_open = -math.inf, math.inf, False, False
    for m in meta:
        if getattr(m, "ge", None) is not None:
            lo, lo_open = float(m.ge), False
        if getattr(m, "gt", None) is not None:
            lo, lo_open = float(m.gt), True
        if getattr(m, "le", None) is not None:
            hi, hi_open = float(m.le), False
        if getattr(m, "lt", None) is not None:
            hi, hi_open = float(m.lt), True
    return lo, hi, lo_open, hi_open


def _pick_arm(ann: Any, as_list: bool) -> Any:
    """Of a number-or-list union (a debtor's probability), the arm the value takes."""
    if typing.get_origin(ann) not in (typing.Union, types.UnionType):
        return ann
    for arm in typing.get_args(ann):
        inner, _ = _unwrap(arm)
        if (typing.get_origin(inner) is list) == as_list:
            return arm
    return ann


def field_info(scenario: Scenario, path: str) -> FieldInfo:
    """Describe the field ``path`` of ``scenario``: its kind, valid range and current value.

    A field a segment or debtor leaves out has the value it inherits (DESIGN 3.3: the
    top-level table's, its segment's, ``1`` for a segment's multiplier ``m_s``); an item of a
    debtor's probability given as one number is that number.

    Parameters
    ----------
    scenario : Scenario
    path : str
        A field path such as ``collections.multiplier``, ``collections.monthly_rate[2]``,
        ``segments.government.collections.multiplier`` or
        ``debtors.city_a.monthly_pay_probability[1]``.

    Returns
    -------
    FieldInfo

    Raises
    ------
    ScenarioError
        If the path names no field, no segment or debtor of the scenario, or its index is out
        of range.
    """
    fp = resolve_field_path(path, scenario.source)
    current = field_value(scenario, path)
    spec = fp.model.model_fields[fp.field]
    ann, meta = _unwrap(spec.annotation)
    meta = list(spec.metadata) + meta
    ann, more = _unwrap(_pick_arm(ann, fp.index is not None or isinstance(current, list)))
    meta += more
    if fp.index is not None:
        if typing.get_origin(ann) is not list:
            raise ScenarioError(scenario.source, path, f"{fp.where} is not a list")
        ann, meta = _unwrap(typing.get_args(ann)[0])
    if ann is float:
        kind = "float"
    elif ann is int:
        kind = "int"
    elif typing.get_origin(ann) is list:
        elem, meta = _unwrap(typing.get_args(ann)[0])
        kind = "list" if elem is float else "other"
    else:
        kind = "other"
    lo, hi, lo_open, hi_open = _bounds(meta)
    return FieldInfo(path, kind, lo, hi, lo_open, hi_open, current)


def _numeric_field(scenario: Scenario, path: str, label: str | None = None) -> FieldInfo:
    info = field_info(scenario, path)
    if info.kind not in ("float", "int"):
        hint = (
            f"; sweep one item, e.g. {path}[0]"
            if info.kind == "list"
            else "; only numbers can be swept"
        )
        raise ScenarioError(scenario.source, label or path, "is not a number" + hint)
    return info
