"""The value types of the scenario file (DESIGN 3.2), shared by the top-level tables and the
segments and debtors that override them, so that an override obeys its top-level rule by
construction.

Types are strict: a boolean or a string is never a number (an integer is accepted where a float
is expected).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag
from pydantic_core import PydanticCustomError

__all__ = ["MONEY_LIMIT", "NAME_RULE"]

MONEY_LIMIT = 1e12

#: Names of segments and debtors (DESIGN 2.12): a letter or ``_``, then up to 63 letters, digits
#: or ``_``; so a name never holds a dot or a space and can stand in a field path (3.3).
NAME_RULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

# Strict scalar types: a boolean or a string is never a number; an integer is accepted as a float.
Num = Annotated[float, Field(strict=True, allow_inf_nan=False)]


Rate = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0, le=1.0)]


Money = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-MONEY_LIMIT, le=MONEY_LIMIT)]


NonNegMoney = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0, le=MONEY_LIMIT)]


Growth = Annotated[float, Field(strict=True, allow_inf_nan=False, gt=-1.0, le=10.0)]


Balance = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=MONEY_LIMIT)]


Seasonality = Annotated[
    list[Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0, le=1e6)]],
    Field(min_length=12, max_length=12),
]


#: A balance profile by monthly age from age 0 (``opening_by_age``).
Profile = Annotated[list[Balance], Field(min_length=1, max_length=1200)]


#: ``m`` and a segment's ``m_s``.
Multiplier = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0, le=100.0)]


#: ``beta``, of the book, a segment or a debtor.
FactorLoading = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0, le=10.0)]


#: ``rho``, of the book, a segment or a debtor.
Correlation = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0, lt=1.0)]


#: ``W`` (its lower limit, past the last edge, is a rule of several fields).
WriteOff = Annotated[int, Field(strict=True, le=1200)]


#: A debtor's default probability ``p`` (a rate below 1).
DefaultRate = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0, lt=1.0)]


#: The tags of a number-or-list value; error locations leave them out (``_errors``).
UNION_TAGS = ("<number>", "<list>")


def _number_or_list(value: object) -> str:
    return UNION_TAGS[1] if isinstance(value, list) else UNION_TAGS[0]


_PICK_ARM = Discriminator(_number_or_list)

#: A debtor's pay probability: a number in [0, 1], or one per bucket. The list arm is chosen for
#: a list and the number arm for anything else, so a wrong value gives one error (``expected a
#: number``, or the bad item of the list), not one per arm.
PayProbability = Annotated[
    Annotated[Rate, Tag(UNION_TAGS[0])] | Annotated[list[Rate], Tag(UNION_TAGS[1])], _PICK_ARM
]


#: A debtor's default probability: a number in [0, 1), or one per bucket.
DefaultProbability = Annotated[
    Annotated[DefaultRate, Tag(UNION_TAGS[0])] | Annotated[list[DefaultRate], Tag(UNION_TAGS[1])],
    _PICK_ARM,
]


def _check_name(value: str) -> str:
    if not NAME_RULE.fullmatch(value):
        raise PydanticCustomError(
            "rule",
            "a name is a letter or _ followed by up to 63 letters, digits or _, got '{got}'",
            {"got": value if len(value) <= 70 else value[:67] + "..."},
        )
    return value


#: A segment's or debtor's name (:data:`NAME_RULE`).
Name = Annotated[str, AfterValidator(_check_name)]


def at_most(limit: int, what: str, *, at_least_one: bool = False) -> AfterValidator:
    """A rule on a list's length: at most ``limit`` entries (and at least one if asked)."""

    def check(values: list[object]) -> list[object]:
        if at_least_one and not values:
            raise PydanticCustomError(
                "rule", "give at least one {what} (or leave the table out)", {"what": what}
            )
        if len(values) > limit:
            raise PydanticCustomError(
                "rule",
                "at most {limit} {what}s, got {got}",
                {"limit": f"{limit:,}", "what": what, "got": f"{len(values):,}"},
            )
        return values

    return AfterValidator(check)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
