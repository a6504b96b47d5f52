"""Things in a valid scenario that a user should hear about before trusting its numbers: they
are not errors (the file runs), so the command line prints them as warnings."""

from __future__ import annotations

import math

from ._book import BookSegment, book_segments
from ._models import Scenario

__all__ = ["ScenarioWarning", "scenario_warnings"]


class ScenarioWarning:
    """Something valid but worth saying about a scenario, as ``FILE: FIELD: warning: text``.

    Library code returns warnings (:func:`scenario_warnings`); the command line prints them.
    """

    def __init__(self, file: str, field: str, reason: str) -> None:
        self.file, self.field, self.reason = str(file), field, reason

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: warning: {self.reason}"

    def __repr__(self) -> str:
        return f"ScenarioWarning({self.file!r}, {self.field!r}, {self.reason!r})"


def _months_text(months: float) -> str:
    return f"{months / 12:.0f} years" if months >= 24 else f"{months:.0f} months"


def scenario_warnings(scenario: Scenario) -> list[ScenarioWarning]:
    """What is valid in ``scenario`` but probably not what its author meant.

    For the book, and for each of its ``[[segments]]`` on its own rates:

    - An ``opening_by_age`` with a balance at ages at or past the write-off age ``W`` (it is
      folded into age ``W − 1`` and written off at the end of month 1).
    - The open last bucket (no write-off age) keeps what reaches it for longer than the
      horizon: it collects nothing, or collects and defaults so slowly that half of it is still
      there after the horizon. The book and its allowance then grow for ever and the provision
      charge dwarfs the credit losses; a write-off age or a collection rate changes that.

    Returns
    -------
    list of ScenarioWarning
    """
    out: list[ScenarioWarning] = []
    for seg in book_segments(scenario):
        out.extend(_folded_profile(scenario, seg))
    for seg in book_segments(scenario):
        out.extend(_stranded_last_bucket(scenario, seg))
    return out


def _path(seg: BookSegment, field: str, top: str | None = None) -> str:
    """The field path of a segment's field (``top`` or ``field`` for the implicit one)."""
    return f"segments.{seg.name}.{field}" if seg.explicit else (top or field)


def _folded_profile(scenario: Scenario, seg: BookSegment) -> list[ScenarioWarning]:
    profile = seg.opening_by_age
    w = seg.write_off_after_months
    if profile is None or w is None or len(profile) <= w:
        return []
    beyond = math.fsum(profile[w:])
    if beyond <= 0:
        return []
    return [
        ScenarioWarning(
            scenario.source,
            _path(seg, "opening_by_age", "buckets.opening_by_age"),
            f"{beyond:.6g} of the opening balance is aged {w} months or more, at or past "
            f"the write-off age {_path(seg, 'defaults.write_off_after_months')} = {w}; it is "
            f"folded into age {w - 1} and written off at the end of month 1 unless collected",
        )
    ]


def _stranded_last_bucket(scenario: Scenario, seg: BookSegment) -> list[ScenarioWarning]:
    last = scenario.n_buckets - 1
    label = scenario.labels[last]
    if seg.explicit:
        label = f"{label} of segment {seg.name}"
    horizon = scenario.simulation.horizon_months
    if seg.write_off_after_months is not None or not sum(seg.gross or [0.0]) > 0:
        return []
    seas = seg.seasonality or [1.0] * 12
    c = seg.multiplier * seg.collection_rate[last] * sum(seas) / 12
    p = seg.default_rate[last]
    exit_rate = min(c + p, 1.0)
    field = _path(seg, f"collections.monthly_rate[{last}]")
    write_off = _path(seg, "defaults.write_off_after_months")
    if exit_rate <= 0.0:
        reason = (
            f"{label} collects nothing, never defaults and has no write-off age: everything "
            f"that reaches it stays for ever; set {write_off} or a collection rate"
        )
        return [ScenarioWarning(scenario.source, field, reason)]
    half_life = math.log(2.0) / -math.log1p(-exit_rate) if exit_rate < 1.0 else 0.0
    if half_life <= horizon:
        return []
    what = "collects nothing" if c == 0.0 else f"collects {100 * c:.2g} %/month"
    reason = (
        f"{label} {what} and defaults {100 * p:.2g} %/month with no write-off age: half of "
        f"what reaches it is still there after {_months_text(half_life)}, longer than the "
        f"{horizon}-month horizon, so the book and its allowance keep growing; set "
        f"{write_off} (e.g. {scenario.buckets.edges_months[-1] + 12}) if such balances are "
        f"written off"
    )
    return [ScenarioWarning(scenario.source, field, reason)]
