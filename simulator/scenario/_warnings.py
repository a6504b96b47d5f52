"""Things in a valid scenario that a user should hear about before trusting its numbers: they
are not errors (the file runs), so the command line prints them as warnings."""

from __future__ import annotations

import math

from ._models import Scenario

__all__ = ["scenario_warnings"]


def _months_text(months: float) -> str:
    return f"{months / 12:.0f} years" if months >= 24 else f"{months:.0f} months"


def scenario_warnings(scenario: Scenario) -> list[str]:
    """Warnings about a valid scenario, each one line ``FILE: FIELD: what and what to do``.

    - The open last bucket (no write-off age) keeps what reaches it for longer than the
      horizon: it collects nothing, or collects and defaults so slowly that half of it is still
      there after the horizon. The book and its allowance then grow for ever and the provision
      charge dwarfs the credit losses; a write-off age (``defaults.write_off_after_months``)
      or a collection rate changes that.
    """
    out = []
    b, col, dfl = scenario.buckets, scenario.collections, scenario.defaults
    last = scenario.n_buckets - 1
    label = scenario.labels[last]
    horizon = scenario.simulation.horizon_months
    if dfl.write_off_after_months is None and sum(b.gross) > 0:
        seas = col.seasonality or [1.0] * 12
        c = col.multiplier * col.monthly_rate[last] * sum(seas) / 12
        p = dfl.monthly_rate[last]
        exit_rate = min(c + p, 1.0)
        where = f"{scenario.source}: collections.monthly_rate[{last}]"
        if exit_rate <= 0.0:
            out.append(
                f"{where}: {label} collects nothing, never defaults and has no write-off age: "
                f"everything that reaches it stays for ever; set defaults.write_off_after_months "
                f"or a collection rate"
            )
        else:
            half_life = math.log(2.0) / -math.log1p(-exit_rate) if exit_rate < 1.0 else 0.0
            if half_life > horizon:
                what = "collects nothing" if c == 0.0 else f"collects {100 * c:.2g} %/month"
                out.append(
                    f"{where}: {label} {what} and defaults {100 * p:.2g} %/month with no "
                    f"write-off age: half of what reaches it is still there after "
                    f"{_months_text(half_life)}, longer than the {horizon}-month horizon, so "
                    f"the book and its allowance keep growing; set "
                    f"defaults.write_off_after_months (e.g. {b.edges_months[-1] + 12}) if "
                    f"such balances are written off"
                )
    return out
