"""The rules of DESIGN 3.2 that involve several fields and concern the book: the per-bucket
lists, the write-off age and the seasonalities (of the top-level tables and of every segment,
one implementation), and those of ``[[segments]]`` and ``[[debtors]]``."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

from ._errors import ScenarioError, _did_you_mean, entry_path
from ._models import MONEY_LIMIT, Scenario, profile_bucket_sums
from ._segments import Debtor, Segment

__all__ = [
    "check_book",
    "check_no_top_level_book",
    "check_per_bucket",
    "check_profile_sums",
    "check_seasonality",
    "check_write_off",
    "segment_write_off",
]


def check_per_bucket(file: str, field: str, values: Sequence[object] | None, k: int) -> None:
    """A per-bucket list has one value per bucket (``None``: not given, nothing to check)."""
    if values is not None and len(values) != k:
        raise ScenarioError(file, field, f"must have one value per bucket ({k}), got {len(values)}")


def check_write_off(file: str, field: str, w: int | None, edges: Sequence[int]) -> None:
    """A write-off age ``W`` is past the last bucket edge."""
    if w is not None and w <= edges[-1]:
        raise ScenarioError(
            file, field, f"must be greater than the last bucket edge ({edges[-1]}), got {w}"
        )


def check_seasonality(
    file: str, field: str, seasonality: object | None, as_of: dt.date | None
) -> None:
    """A seasonality needs ``scenario.as_of`` to know the calendar month."""
    if seasonality is not None and as_of is None:
        raise ScenarioError(
            file, field, "a seasonality needs scenario.as_of to know the calendar month"
        )


def check_profile_sums(
    file: str, field: str, profile: list[float] | None, gross: object, edges: list[int]
) -> None:
    """A balance profile's sums per bucket, when they are the gross (no ``gross`` given), are
    balances too: at most 1e12."""
    if profile is None or gross is not None:
        return
    if max(profile_bucket_sums(profile, edges)) > MONEY_LIMIT:
        raise ScenarioError(file, field, "its sums per bucket must be ≤ 1e12")


def _check_unique(file: str, table: str, names: list[str]) -> None:
    for i, name in enumerate(names):
        if names.index(name) != i:
            raise ScenarioError(file, f"{table}[{i}].name", f"duplicate name {name!r}")


def check_book(sc: Scenario, file: str) -> None:
    """The rules of ``[[segments]]`` and ``[[debtors]]`` (DESIGN 3.2), in the order of the
    file: the segments, then the debtors."""
    if sc.segments is not None:
        _check_segments(sc, sc.segments, file)
    if sc.debtors is not None:
        _check_debtors(sc, sc.debtors, file)


def check_no_top_level_book(sc: Scenario, file: str) -> None:
    """With ``[[segments]]``, the top-level opening book is left out (each segment has its
    own)."""
    if sc.segments is None:
        return
    for field in ("gross", "opening_by_age"):
        if getattr(sc.buckets, field) is not None:
            raise ScenarioError(
                file,
                f"buckets.{field}",
                "must be left out when the scenario has [[segments]]: each segment gives its "
                "own gross or opening_by_age",
            )


def _check_segments(sc: Scenario, segments: list[Segment], file: str) -> None:
    names = [seg.name for seg in segments]
    _check_unique(file, "segments", names)
    edges = sc.buckets.edges_months
    k = len(edges)
    for i, seg in enumerate(segments):
        at = entry_path("segments", i, names)
        col, dfl = seg.collections, seg.defaults
        for field, values in (
            ("gross", seg.gross),
            ("provision_rates", seg.provision_rates),
            ("collections.monthly_rate", col and col.monthly_rate),
            ("defaults.monthly_rate", dfl and dfl.monthly_rate),
        ):
            check_per_bucket(file, f"{at}.{field}", values, k)
        check_profile_sums(file, f"{at}.opening_by_age", seg.opening_by_age, seg.gross, edges)
        if dfl is not None:
            check_write_off(
                file, f"{at}.defaults.write_off_after_months", dfl.write_off_after_months, edges
            )
        if col is not None:
            check_seasonality(
                file, f"{at}.collections.seasonality", col.seasonality, sc.scenario.as_of
            )
    total = math.fsum(seg.billing_share for seg in segments)
    if abs(total - 1.0) > 1e-9:
        shares = ", ".join(f"{seg.name} {seg.billing_share:g}" for seg in segments)
        raise ScenarioError(
            file, "segments", f"the billing_share values must sum to 1, got {total:.12g} ({shares})"
        )


def segment_write_off(sc: Scenario, segment: str | None) -> int | None:
    """The write-off age ``W`` of the named segment (the top-level one without segments, or
    where the segment does not override it)."""
    for seg in sc.segments or ():
        own = seg.defaults.write_off_after_months if seg.defaults is not None else None
        if seg.name == segment and own is not None:
            return own
    return sc.defaults.write_off_after_months


def _check_debtors(sc: Scenario, debtors: list[Debtor], file: str) -> None:
    names = [d.name for d in debtors]
    _check_unique(file, "debtors", names)
    segments = sc.segment_names
    k = sc.n_buckets
    for i, d in enumerate(debtors):
        at = entry_path("debtors", i, names)
        if sc.segments is None and d.segment is not None:
            raise ScenarioError(
                file,
                f"{at}.segment",
                "a debtor names a segment only when the scenario has [[segments]]",
            )
        if sc.segments is not None and d.segment not in segments:
            hint = _did_you_mean(str(d.segment), segments)
            raise ScenarioError(
                file,
                f"{at}.segment",
                f"no segment named {d.segment!r}{hint}; the segments are {', '.join(segments)}",
            )
        for field in ("monthly_pay_probability", "monthly_default_probability"):
            value = getattr(d, field)
            check_per_bucket(file, f"{at}.{field}", value if isinstance(value, list) else None, k)
        w = segment_write_off(sc, d.segment)
        if w is not None and d.age_months >= w:
            whose = f"segment {d.segment}" if d.segment is not None else "book"
            raise ScenarioError(
                file,
                f"{at}.age_months",
                f"must be less than the write-off age of its {whose} ({w} months), "
                f"got {d.age_months}",
            )
