"""The number formats a reader sees: an SE never reads as zero, a rule-of-three bound never
rounds to 0 % or 100 %, and each text reads back as its number."""

from __future__ import annotations

import re

import numpy as np
import pytest

from simulator._format import fmt_bound, fmt_diff, fmt_money, fmt_pct, fmt_pp, fmt_se


def _value(text: str) -> float:
    return float(re.sub(r"[^0-9.+-]", "", text))


@pytest.mark.parametrize("fmt, scale", [(fmt_pct, 100), (fmt_money, 1), (fmt_pp, 100)])
def test_an_se_shows_two_significant_digits_and_never_reads_zero(fmt, scale):
    for se in np.geomspace(1e-7, 50, 200):
        text = fmt_se(float(se), fmt)
        shown = _value(text)
        assert shown > 0, text
        assert shown == pytest.approx(scale * se, rel=0.06), (se, text)
    assert fmt_se(0.0, fmt_pct) == "0 %" and fmt_se(0.0, fmt_money) == "0"


@pytest.mark.parametrize("n", [10, 300, 2_000, 100_000, 10**6, 10**8])
def test_a_rule_of_three_bound_is_kept_apart_from_0_and_100_percent(n):
    low, high = fmt_bound(3 / n), fmt_bound(1 - 3 / n)
    assert _value(low) > 0 and _value(high) < 100, (low, high)
    digits = len(high.split(".")[1].rstrip(" %")) if "." in high else 0
    assert _value(high) == pytest.approx(100 * (1 - 3 / n), abs=0.51 * 10**-digits)


def test_a_difference_is_signed_and_percentages_differ_in_points():
    assert fmt_diff(0.8914, fmt_pct) == "+89.14 pp"
    assert fmt_diff(-8678.62, fmt_money) == "-8,678.6"
    assert fmt_diff(-13, None) == "-13"
