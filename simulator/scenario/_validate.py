"""Validating a mapping into a :class:`Scenario`: the models' rules, then the rules that involve
several fields (DESIGN 3.2); and overrides, validated like a file."""

from __future__ import annotations

import math
from typing import Any

from pydantic import ValidationError

from ._book_rules import (
    check_book,
    check_no_top_level_book,
    check_per_bucket,
    check_profile_sums,
    check_seasonality,
    check_write_off,
)
from ._errors import ScenarioError, _first_error, _loc_text
from ._models import Scenario, profile_bucket_sums
from ._paths import apply_overrides, check_field_path

__all__ = [
    "profile_bucket_sums",
    "scenario_from_dict",
    "with_overrides",
]


def with_overrides(scenario: Scenario, overrides: dict[str, Any]) -> Scenario:
    """Return a new scenario with some fields replaced, validated like a file.

    Parameters
    ----------
    scenario : Scenario
        The scenario to start from; it is not modified.
    overrides : dict
        Maps a field path to its new value, e.g. ``{"collections.multiplier": 0.8,
        "collections.monthly_rate[2]": 0.03}``.

    Returns
    -------
    Scenario
        The changed scenario.

    Raises
    ------
    ScenarioError
        If a path names no field, an index is out of range, or the result is invalid.
    """
    raw = scenario.model_dump(mode="python")
    if scenario._gross_derived and not any(str(p).startswith("buckets.gross") for p in overrides):
        del raw["buckets"]["gross"]  # made from the profile: made again from the new one
    raw = apply_overrides(raw, overrides, scenario.source)
    return scenario_from_dict(raw, source=scenario.source)


def _cross_field_checks(sc: Scenario, file: str, derived: bool) -> None:
    b = sc.buckets
    edges = b.edges_months
    k = len(edges)
    check_no_top_level_book(sc, file)
    check_profile_sums(
        file, "buckets.opening_by_age", b.opening_by_age, None if derived else b.gross, edges
    )
    for name, values in (
        ("buckets.gross", b.gross),
        ("buckets.provision_rates", b.provision_rates),
        ("buckets.labels", b.labels),
        ("collections.monthly_rate", sc.collections.monthly_rate),
        ("defaults.monthly_rate", sc.defaults.monthly_rate),
    ):
        check_per_bucket(file, name, values, k)
    if b.labels is not None and len(set(b.labels)) != k:
        raise ScenarioError(file, "buckets.labels", "labels must be different from each other")
    check_write_off(
        file, "defaults.write_off_after_months", sc.defaults.write_off_after_months, edges
    )
    for name, seas in (
        ("collections.seasonality", sc.collections.seasonality),
        ("revenue.seasonality", sc.revenue.seasonality),
    ):
        check_seasonality(file, name, seas, sc.scenario.as_of)
    check_book(sc, file)
    billings = sc.revenue.credit_billings
    horizon = sc.simulation.horizon_months
    if billings is not None and len(billings) != horizon:
        raise ScenarioError(
            file,
            "revenue.credit_billings",
            f"must have one number per month of the horizon ({horizon}), got {len(billings)}",
        )
    if sc.sweep is not None:
        for key, spec in sc.sweep.items():
            try:
                check_field_path(key, file, sc)
            except ScenarioError as exc:
                raise ScenarioError(file, f"sweep.{key}", exc.reason) from None
            ok = isinstance(spec, str) or (
                isinstance(spec, list)
                and spec
                and all(isinstance(v, int | float) and not isinstance(v, bool) for v in spec)
            )
            if not ok:
                raise ScenarioError(
                    file, f"sweep.{key}", "expected 'start:stop:num', 'a,b,c' or a list of numbers"
                )
    if sc.ecl_scenarios is not None:
        _check_ecl(sc, file)


def _check_ecl(sc: Scenario, file: str) -> None:
    assert sc.ecl_scenarios is not None
    names = [e.name for e in sc.ecl_scenarios]
    for i, name in enumerate(names):
        if names.index(name) != i:
            raise ScenarioError(file, f"ecl_scenarios[{i}].name", f"duplicate name {name!r}")
    total = math.fsum(e.weight for e in sc.ecl_scenarios)
    if abs(total - 1.0) > 1e-9:
        raise ScenarioError(file, "ecl_scenarios", f"weights must sum to 1, got {total:.12g}")
    base = sc.model_copy(update={"ecl_scenarios": None, "sweep": None})
    base._source = file
    for i, e in enumerate(sc.ecl_scenarios):
        for key in e.overrides:
            try:
                check_field_path(key, file)
            except ScenarioError as exc:
                raise ScenarioError(
                    file, f"ecl_scenarios[{i}].overrides.{key}", exc.reason
                ) from None
        try:
            with_overrides(base, e.overrides)
        except ScenarioError as exc:
            raise ScenarioError(
                file, f"ecl_scenarios[{i}].overrides.{exc.field}", exc.reason
            ) from None


def scenario_from_dict(data: dict[str, Any], *, source: str = "<scenario>") -> Scenario:
    """Validate a mapping shaped like the TOML file into a :class:`Scenario`.

    Parameters
    ----------
    data : dict
        The parsed TOML document.
    source : str, optional
        Name used in error messages.

    Raises
    ------
    ScenarioError
        The first problem found, in the order described in the module docstring.
    """
    missing = _missing_keys(data)
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc, source, data, missing) from None
    if missing:
        loc, reason, _ = missing[0]
        raise ScenarioError(source, _loc_text(loc, data), reason)
    derived = (
        sc.segments is None and sc.buckets.gross is None and sc.buckets.opening_by_age is not None
    )
    if derived:
        assert sc.buckets.opening_by_age is not None
        sums = profile_bucket_sums(sc.buckets.opening_by_age, sc.buckets.edges_months)
        sc = sc.model_copy(update={"buckets": sc.buckets.model_copy(update={"gross": sums})})
    _cross_field_checks(sc, source, derived)
    sc._source = source
    sc._gross_derived = derived
    return sc


def _given(table: Any, key: str) -> bool:
    return isinstance(table, dict) and table.get(key) is not None


def _missing_keys(data: Any) -> list[tuple[tuple[Any, ...], str, int]]:
    """Keys the models leave optional that another key makes required, as ``(location,
    reason, order)`` for :func:`._errors._first_error`: ``buckets.gross`` without a profile or
    segments, a segment's ``gross`` without its profile, a debtor's ``segment`` when the
    scenario has segments."""
    if not isinstance(data, dict):
        return []
    missing: list[tuple[tuple[Any, ...], str, int]] = []
    segments = data.get("segments")
    buckets = data.get("buckets")
    if (
        segments is None
        and isinstance(buckets, dict)
        and not _given(buckets, "gross")
        and not _given(buckets, "opening_by_age")
    ):
        reason = "required key is missing (or give buckets.opening_by_age)"
        missing.append((("buckets", "gross"), reason, -1))
    last = 10**9  # after the entry's other missing keys
    for i, seg in enumerate(segments if isinstance(segments, list) else ()):
        if isinstance(seg, dict) and not _given(seg, "gross") and not _given(seg, "opening_by_age"):
            reason = "required key is missing (or give opening_by_age)"
            missing.append((("segments", i, "gross"), reason, last))
    debtors = data.get("debtors")
    has_segments = isinstance(segments, list) and bool(segments)
    for i, dbt in enumerate(debtors if isinstance(debtors, list) and has_segments else ()):
        if isinstance(dbt, dict) and not _given(dbt, "segment"):
            reason = "required key is missing: the scenario has [[segments]]; name one of them"
            missing.append((("debtors", i, "segment"), reason, last))
    return missing
