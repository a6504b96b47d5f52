"""The book a scenario describes, resolved: its segments (DESIGN 2.12) and named debtors (2.13)
with every field a segment or debtor does not set taken from the top-level tables. A scenario
without ``[[segments]]`` is one implicit segment built from the top-level tables."""

from __future__ import annotations

from dataclasses import dataclass

from ._models import Scenario

__all__ = ["BookDebtor", "BookSegment", "book_debtors", "book_segments"]

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
    scenario has no ``[[segments]]``)."""
    b, col, dfl = scenario.buckets, scenario.collections, scenario.defaults
    return [
        BookSegment(
            name=IMPLICIT,
            label=scenario.scenario.name,
            explicit=False,
            gross=None if b.gross is None else list(b.gross),
            opening_by_age=getattr(b, "opening_by_age", None),
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


def book_debtors(scenario: Scenario) -> list[BookDebtor]:
    """The named debtors of the book, resolved against their segments (none without
    ``[[debtors]]``)."""
    return []
