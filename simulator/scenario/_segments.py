"""``[[segments]]`` (DESIGN 2.12) and ``[[debtors]]`` (2.13) as pydantic models, with the
single-field rules of 3.2. A field a segment or debtor leaves out (``None``) is taken from the
top-level tables or its segment (:mod:`._book` resolves them); the rules that involve several
fields are in :mod:`._book_rules`."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ._types import (
    MONEY_LIMIT,
    Balance,
    Correlation,
    DefaultProbability,
    FactorLoading,
    Multiplier,
    Name,
    PayProbability,
    Profile,
    Rate,
    Seasonality,
    WriteOff,
    _Section,
)

__all__ = ["Debtor", "Segment", "SegmentCollections", "SegmentDefaults"]

#: At most this many segments, and debtors (DESIGN 3.2).
MAX_SEGMENTS = 20
MAX_DEBTORS = 1000


class SegmentCollections(_Section):
    """A segment's ``collections`` overrides: ``c_b``, ``m_s`` (the effective multiplier is
    ``m · m_s``), ``beta`` and the seasonality ``s``."""

    monthly_rate: list[Rate] | None = None
    multiplier: Multiplier | None = None
    factor_loading: FactorLoading | None = None
    seasonality: Seasonality | None = None


class SegmentDefaults(_Section):
    """A segment's ``defaults`` overrides: ``p_b``, ``rho`` and its own write-off age ``W``."""

    monthly_rate: list[Rate] | None = None
    correlation: Correlation | None = None
    write_off_after_months: WriteOff | None = None


class Segment(_Section):
    """One ``[[segments]]`` entry: a sub-book with its own opening balance, its share of new
    billings, the weight of the common factor in its own, and the rates it overrides."""

    name: Name
    label: str | None = None
    gross: list[Balance] | None = None
    opening_by_age: Profile | None = None
    billing_share: Rate
    factor_weight: Rate = 1.0
    provision_rates: list[Rate] | None = None
    collections: SegmentCollections | None = None
    defaults: SegmentDefaults | None = None


class Debtor(_Section):
    """One ``[[debtors]]`` entry: a named lump on top of the pooled book.

    ``monthly_pay_probability`` and ``monthly_default_probability`` are a number or one per
    bucket of the lump's age (default: its segment's ``c_b`` and ``p_b``); ``correlation`` and
    ``factor_loading`` default to its segment's; ``provision_rate`` (individually assessed)
    replaces the matrix for this debtor.
    """

    name: Name
    label: str | None = None
    balance: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0.0, le=MONEY_LIMIT)]
    age_months: Annotated[int, Field(strict=True, ge=0, le=1200)]
    segment: str | None = None
    monthly_pay_probability: PayProbability | None = None
    monthly_default_probability: DefaultProbability | None = None
    correlation: Correlation | None = None
    factor_loading: FactorLoading | None = None
    provision_rate: Rate | None = None


#: The per-bucket lists of a segment (K numbers each), by field path within the segment.
SEGMENT_LISTS = (
    "gross",
    "provision_rates",
    "collections.monthly_rate",
    "defaults.monthly_rate",
)
