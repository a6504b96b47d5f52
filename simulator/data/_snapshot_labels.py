"""Bucket labels against bucket edges: one label per bucket, and a label in arsim's style
(``1y-2y``, ``1-2y``, ``0-6m``, ``4y+``) must name its bucket's months; other labels are free
text."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..scenario import default_labels
from ._snapshots import SnapshotError

_TOKEN = re.compile(r"(?:(\d+)y)?(?:(\d+)m)?")


def _months_token(text: str, unit: str | None) -> int | None:
    """Months of ``1y``, ``6m``, ``1y6m`` or a bare number in ``unit`` (0 needs none), if any."""
    if text.isdigit():
        n = int(text)
        if n == 0:
            return 0
        return {"y": 12 * n, "m": n}.get(unit or "")
    m = _TOKEN.fullmatch(text)
    if not m or not (m.group(1) or m.group(2)):
        return None
    return 12 * int(m.group(1) or 0) + int(m.group(2) or 0)


def _label_range(label: str) -> tuple[int, int | None] | None:
    """The months a label like ``1y-2y``, ``1-2y``, ``0-6m`` or ``4y+`` names, if it names any."""
    s = label.strip().lower().replace(" ", "")
    if s.endswith("+"):
        lo = _months_token(s[:-1], None)
        return None if lo is None else (lo, None)
    lo_txt, sep, hi_txt = s.partition("-")
    if not sep:
        return None
    unit = hi_txt[-1:] if hi_txt[-1:] in ("y", "m") else None
    lo, hi = _months_token(lo_txt, unit), _months_token(hi_txt, None)
    return None if lo is None or hi is None else (lo, hi)


def _range_text(lo: int, hi: int | None) -> str:
    """``0-12 months`` or ``24+ months``, for messages."""
    return f"{lo}+ months" if hi is None else f"{lo}-{hi} months"


def _check_labels(labels: Sequence[str], edges: Sequence[int], source: str) -> None:
    """One label per bucket, each naming its bucket's months if it names any."""
    _check_label_count(labels, edges, source)
    _check_label_ranges(labels, edges, source)


def _check_label_count(labels: Sequence[str], edges: Sequence[int], source: str) -> None:
    """As many bucket columns as the edges make buckets."""
    k = len(edges)
    if len(labels) != k:
        expected = default_labels(list(edges))
        what = "extra" if len(labels) > k else "missing"
        raise SnapshotError(
            source,
            "header",
            f"{len(labels)} bucket columns ({', '.join(labels) or 'none'}) but --edges-months "
            f"{','.join(map(str, edges))} makes {k} buckets ({', '.join(expected)}): {what} "
            "columns (the columns are date, one per bucket, then optional billings, write_offs)",
        )


def _check_label_ranges(labels: Sequence[str], edges: Sequence[int], source: str) -> None:
    """Each label that names months (:func:`_label_range`) names its bucket's."""
    k = len(edges)
    expected = default_labels(list(edges))
    for b, label in enumerate(labels):
        named = _label_range(label)
        want = (edges[b], edges[b + 1] if b + 1 < k else None)
        if named is not None and named != want:
            raise SnapshotError(
                source,
                "header",
                f"column {label!r} names {_range_text(*named)}, but bucket {b + 1} of "
                f"--edges-months {','.join(map(str, edges))} is {_range_text(*want)} "
                f"({expected[b]!r})",
            )
