"""The book a scenario describes, resolved: its segments (DESIGN 2.12) and named debtors (2.13)
with every field a segment or debtor does not set taken from the top-level tables. A scenario
without ``[[segments]]`` is one implicit segment built from the top-level tables."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Any

from ._models import Scenario, profile_bucket_sums
from ._segments import Segment, SegmentCollections, SegmentDefaults

__all__ = [
    "BookDebtor",
    "BookOpening",
    "BookSegment",
    "book_debtors",
    "book_opening",
    "book_segments",
    "segment_scenario",
]

#: The name of the one segment of a scenario without ``[[segments]]``.
IMPLICIT = "book"


@dataclass(frozen=True)
class BookSegment:
    """One segment with its own rates on the shared aging grid (the tables resolved).

    ``explicit`` is false for the implicit segment of a scenario without ``[[segments]]``: it
    has no factor of its own (its hazards move with ``Z``) and no keys of its own in outputs.
    ``multiplier`` is the effective one, ``m · m_s``.
    """

    name: str
    label: str
    explicit: bool
    gross: list[float] | None
    opening_by_age: list[float] | None
    provision_rates: list[float]
    collection_rate: list[float]
    multiplier: float
    factor_loading: float
    seasonality: list[float] | None
    default_rate: list[float]
    correlation: float
    write_off_after_months: int | None
    billing_share: float = 1.0
    factor_weight: float = 1.0


@dataclass(frozen=True)
class BookDebtor:
    """One named debtor: a lump that is paid in full, defaults, is written off, or stays open.

    ``pay_probability`` and ``default_probability`` are K-lists by bucket of the lump's age;
    ``own`` is false when its hazards are its segment's (then the engine reuses them).
    """

    name: str
    label: str
    segment: int
    balance: float
    age_months: int
    pay_probability: list[float]
    default_probability: list[float]
    correlation: float
    factor_loading: float
    provision_rate: float | None
    own: bool


def book_segments(scenario: Scenario) -> list[BookSegment]:
    """The segments of the book, each with its tables resolved (one implicit segment when the
    scenario has no ``[[segments]]``).

    A field a segment does not override comes from the top-level tables; its ``gross`` is the
    sums per bucket of its ``opening_by_age`` when it gives only that (DESIGN 3.1); its
    ``multiplier`` is the effective ``m · m_s``.
    """
    b, col, dfl = scenario.buckets, scenario.collections, scenario.defaults
    if scenario.segments is None:
        return [
            BookSegment(
                name=IMPLICIT,
                label=scenario.scenario.name,
                explicit=False,
                gross=None if b.gross is None else list(b.gross),
                opening_by_age=None if b.opening_by_age is None else list(b.opening_by_age),
                provision_rates=list(b.provision_rates),
                collection_rate=list(col.monthly_rate),
                multiplier=float(col.multiplier),
                factor_loading=float(col.factor_loading),
                seasonality=None if col.seasonality is None else list(col.seasonality),
                default_rate=list(dfl.monthly_rate),
                correlation=float(dfl.correlation),
                write_off_after_months=dfl.write_off_after_months,
            )
        ]
    return [_segment(scenario, seg) for seg in scenario.segments]


def _pick(own: Any, top: Any) -> Any:
    """A segment's or debtor's own value, or the one it inherits (lists copied)."""
    value = top if own is None else own
    return list(value) if isinstance(value, list) else value


def _segment(scenario: Scenario, seg: Segment) -> BookSegment:
    col, dfl = scenario.collections, scenario.defaults
    s_col = seg.collections or SegmentCollections()
    s_dfl = seg.defaults or SegmentDefaults()
    gross = seg.gross
    if gross is None:
        assert seg.opening_by_age is not None  # validation: gross or opening_by_age
        gross = profile_bucket_sums(seg.opening_by_age, scenario.buckets.edges_months)
    m_s = 1.0 if s_col.multiplier is None else s_col.multiplier
    return BookSegment(
        name=seg.name,
        label=seg.label if seg.label is not None else seg.name,
        explicit=True,
        gross=list(gross),
        opening_by_age=_pick(seg.opening_by_age, None),
        provision_rates=_pick(seg.provision_rates, scenario.buckets.provision_rates),
        collection_rate=_pick(s_col.monthly_rate, col.monthly_rate),
        multiplier=float(col.multiplier * m_s),
        factor_loading=float(_pick(s_col.factor_loading, col.factor_loading)),
        seasonality=_pick(s_col.seasonality, col.seasonality),
        default_rate=_pick(s_dfl.monthly_rate, dfl.monthly_rate),
        correlation=float(_pick(s_dfl.correlation, dfl.correlation)),
        write_off_after_months=_pick(s_dfl.write_off_after_months, dfl.write_off_after_months),
        billing_share=float(seg.billing_share),
        factor_weight=float(seg.factor_weight),
    )


def _by_bucket(value: float | list[float], k: int) -> list[float]:
    return [float(x) for x in value] if isinstance(value, list) else [float(value)] * k


def book_debtors(scenario: Scenario) -> list[BookDebtor]:
    """The named debtors of the book, resolved against their segments (none without
    ``[[debtors]]``).

    A debtor's probabilities are one per bucket (a number stands for K copies; default: its
    segment's ``c_b`` and ``p_b``); its correlation and factor loading default to its
    segment's; ``own`` is false exactly when all four equal its segment's, so that the engine
    can reuse the segment's hazards.
    """
    if not scenario.debtors:
        return []
    segments = book_segments(scenario)
    index = {seg.name: i for i, seg in enumerate(segments)} if scenario.segments else {}
    k = scenario.n_buckets
    out = []
    for d in scenario.debtors:
        s = index[d.segment] if d.segment is not None else 0
        seg = segments[s]
        pay = _by_bucket(_pick(d.monthly_pay_probability, seg.collection_rate), k)
        default = _by_bucket(_pick(d.monthly_default_probability, seg.default_rate), k)
        rho = float(_pick(d.correlation, seg.correlation))
        beta = float(_pick(d.factor_loading, seg.factor_loading))
        same = (
            pay == [float(x) for x in seg.collection_rate]
            and default == [float(x) for x in seg.default_rate]
            and rho == seg.correlation
            and beta == seg.factor_loading
        )
        out.append(
            BookDebtor(
                name=d.name,
                label=d.label if d.label is not None else d.name,
                segment=s,
                balance=float(d.balance),
                age_months=d.age_months,
                pay_probability=pay,
                default_probability=default,
                correlation=rho,
                factor_loading=beta,
                provision_rate=None if d.provision_rate is None else float(d.provision_rate),
                own=not same,
            )
        )
    return out


@dataclass(frozen=True)
class BookOpening:
    """The opening book by bucket, over the segments and the named debtors (each debtor in the
    bucket of its age): ``gross`` and the disclosed provision ``rates``, gross-weighted over
    them (a debtor at its ``provision_rate`` if it has one); a bucket without gross shows the
    top-level rate. ``Σ rates · gross`` is the opening allowance."""

    gross: list[float]
    rates: list[float]


def book_opening(scenario: Scenario) -> BookOpening:
    """The opening gross and disclosed rates by bucket of the whole book (DESIGN 2.12: the
    book-level keys are sums, or gross-weighted averages per bucket, over segments and debtors);
    for a scenario without ``[[segments]]`` and ``[[debtors]]``, its ``buckets.gross`` and
    ``buckets.provision_rates``."""
    b = scenario.buckets
    if scenario.segments is None and not scenario.debtors:
        assert b.gross is not None  # validation: given, or made from the profile
        return BookOpening(list(b.gross), list(b.provision_rates))
    edges = b.edges_months
    gross: list[list[float]] = [[] for _ in edges]
    allowance: list[list[float]] = [[] for _ in edges]
    segments = book_segments(scenario)
    for seg in segments:
        assert seg.gross is not None
        for i, (g, r) in enumerate(zip(seg.gross, seg.provision_rates, strict=True)):
            gross[i].append(g)
            allowance[i].append(r * g)
    for d in book_debtors(scenario):
        i = bisect.bisect_right(edges, d.age_months) - 1
        rate = (
            segments[d.segment].provision_rates[i] if d.provision_rate is None else d.provision_rate
        )
        gross[i].append(d.balance)
        allowance[i].append(rate * d.balance)
    totals = [math.fsum(g) for g in gross]
    rates = [
        math.fsum(a) / g if g > 0 else r
        for a, g, r in zip(allowance, totals, b.provision_rates, strict=True)
    ]
    return BookOpening(totals, rates)


def segment_scenario(scenario: Scenario, name: str) -> Scenario:
    """The one-segment scenario of segment ``name``: the top-level tables replaced by the
    segment's resolved ones (its opening book, provision rates, hazards, effective multiplier
    ``m · m_s`` and write-off age), without ``[[segments]]``, ``[[debtors]]``, ECL scenarios or
    a sweep. Its analytics (DESIGN 2.8) are the segment's: the segment's factor ``Y`` is
    marginally the same AR(1) process as ``Z``.

    Not validated again (the multiplier ``m · m_s`` may exceed the top-level range); for a
    scenario without ``[[segments]]``, ``name`` is ``"book"``.

    Raises
    ------
    KeyError
        If the scenario has no such segment.
    """
    segments = {seg.name: seg for seg in book_segments(scenario)}
    if name not in segments:
        raise KeyError(f"no segment {name!r}; the segments are {', '.join(segments)}")
    seg = segments[name]
    own = next((s for s in scenario.segments or () if s.name == name), None)
    b, col, dfl = scenario.buckets, scenario.collections, scenario.defaults
    out = scenario.model_copy(
        update={
            "buckets": b.model_copy(
                update={
                    "gross": seg.gross,  # as the engine reads it (book_segments)
                    "opening_by_age": seg.opening_by_age,
                    "provision_rates": seg.provision_rates,
                }
            ),
            "collections": col.model_copy(
                update={
                    "monthly_rate": seg.collection_rate,
                    "multiplier": seg.multiplier,
                    "factor_loading": seg.factor_loading,
                    "seasonality": seg.seasonality,
                }
            ),
            "defaults": dfl.model_copy(
                update={
                    "monthly_rate": seg.default_rate,
                    "correlation": seg.correlation,
                    "write_off_after_months": seg.write_off_after_months,
                }
            ),
            "segments": None,
            "debtors": None,
            "ecl_scenarios": None,
            "sweep": None,
        }
    )
    out._source = scenario.source
    out._gross_derived = scenario._gross_derived or (own is not None and own.gross is None)
    return out
