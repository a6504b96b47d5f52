"""Validating a mapping into a :class:`Scenario`: the models' rules, then the rules that involve
several fields (DESIGN 3.2); and overrides, validated like a file."""

from __future__ import annotations

import math
from typing import Any

from pydantic import ValidationError

from ._errors import ScenarioError, _first_error
from ._models import Scenario
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


def profile_bucket_sums(profile: list[float], edges: list[int]) -> list[float]:
    """A balance profile by monthly age summed into buckets (DESIGN 3.1): bucket ``b`` holds
    the ages ``e_b .. e_{b+1}-1``; the last bucket every age from ``e_{K-1}`` on.

    Sums are exact-rounded (:func:`math.fsum`), so a profile written with these sums as
    ``gross`` is not rescaled.
    """
    upper = [*edges[1:], max(len(profile), edges[-1])]
    return [math.fsum(profile[lo:hi]) for lo, hi in zip(edges, upper, strict=True)]


def _cross_field_checks(sc: Scenario, file: str) -> None:
    b = sc.buckets
    edges = b.edges_months
    k = len(edges)
    per_bucket = {
        "buckets.gross": b.gross,
        "buckets.provision_rates": b.provision_rates,
        "buckets.labels": b.labels,
        "collections.monthly_rate": sc.collections.monthly_rate,
        "defaults.monthly_rate": sc.defaults.monthly_rate,
    }
    if b.opening_by_age is not None and max(b.gross or [0.0]) > 1e12:
        raise ScenarioError(file, "buckets.opening_by_age", "its sums per bucket must be ≤ 1e12")
    for name, values in per_bucket.items():
        if values is not None and len(values) != k:
            raise ScenarioError(
                file, name, f"must have one value per bucket ({k}), got {len(values)}"
            )
    if b.labels is not None and len(set(b.labels)) != k:
        raise ScenarioError(file, "buckets.labels", "labels must be different from each other")
    w = sc.defaults.write_off_after_months
    if w is not None and w <= edges[-1]:
        raise ScenarioError(
            file,
            "defaults.write_off_after_months",
            f"must be greater than the last bucket edge ({edges[-1]}), got {w}",
        )
    for name, seas in (
        ("collections.seasonality", sc.collections.seasonality),
        ("revenue.seasonality", sc.revenue.seasonality),
    ):
        if seas is not None and sc.scenario.as_of is None:
            raise ScenarioError(
                file, name, "a seasonality needs scenario.as_of to know the calendar month"
            )
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
                check_field_path(key, file)
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
    missing = _missing_gross(data)
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc, source, missing) from None
    if missing is not None:
        raise ScenarioError(source, "buckets.gross", missing)
    derived = sc.buckets.gross is None and sc.buckets.opening_by_age is not None
    if derived:
        assert sc.buckets.opening_by_age is not None
        sums = profile_bucket_sums(sc.buckets.opening_by_age, sc.buckets.edges_months)
        sc = sc.model_copy(update={"buckets": sc.buckets.model_copy(update={"gross": sums})})
    _cross_field_checks(sc, source)
    sc._source = source
    sc._gross_derived = derived
    return sc


def _missing_gross(data: Any) -> str | None:
    """The reason ``buckets.gross`` is missing (neither it nor a profile given), or ``None``."""
    buckets = data.get("buckets") if isinstance(data, dict) else None
    if (
        isinstance(buckets, dict)
        and buckets.get("gross") is None
        and buckets.get("opening_by_age") is None
    ):
        return "required key is missing (or give buckets.opening_by_age)"
    return None
