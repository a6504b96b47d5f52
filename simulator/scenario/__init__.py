"""Scenario files: the TOML format of a receivables book, validated into pydantic models.

A scenario is loaded with :func:`load_scenario` (or built from a mapping with
:func:`scenario_from_dict`) and changed with :func:`with_overrides`. Every problem is reported as
one :class:`ScenarioError` whose text is ``FILE: FIELD: reason``. When a file has several problems
the first one in this order is reported: unknown keys, missing required keys, wrong types,
out-of-range values, rules that involve several fields. :func:`update_scenario_text` writes
changes back into a user's file, keeping its comments.

A book may have ``[[segments]]`` and named ``[[debtors]]`` (:class:`Segment`, :class:`Debtor`);
:func:`book_segments`, :func:`book_debtors` and :func:`book_opening` resolve them against the
top-level tables into what the engine and the summary read. Fields are named by the paths of
DESIGN 3.3 (:func:`resolve_field_path`, :func:`field_value`), e.g.
``segments.government.collections.multiplier`` or ``debtors.city_a.monthly_pay_probability[2]``.
"""

from ._book import (
    BookDebtor,
    BookOpening,
    BookSegment,
    book_debtors,
    book_opening,
    book_segments,
    segment_scenario,
)
from ._errors import ScenarioError
from ._files import MAX_FILE_BYTES, load_scenario, read_text_file
from ._models import MONEY_LIMIT, Scenario, Uncertainty, default_labels, profile_bucket_sums
from ._paths import (
    FieldPath,
    apply_overrides,
    check_field_path,
    field_value,
    parse_field_path,
    resolve_field_path,
)
from ._replicates import MAX_REPLICATES, read_replicates, replicate_rows, replicates_file
from ._segments import Debtor, Segment, SegmentCollections, SegmentDefaults
from ._text import scenario_hash, scenario_toml, update_scenario_text
from ._types import NAME_RULE
from ._validate import scenario_from_dict, with_overrides
from ._warnings import ScenarioWarning, scenario_warnings

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_REPLICATES",
    "MONEY_LIMIT",
    "NAME_RULE",
    "BookDebtor",
    "BookOpening",
    "BookSegment",
    "Debtor",
    "FieldPath",
    "Scenario",
    "ScenarioError",
    "ScenarioWarning",
    "Segment",
    "SegmentCollections",
    "SegmentDefaults",
    "Uncertainty",
    "apply_overrides",
    "book_debtors",
    "book_opening",
    "book_segments",
    "check_field_path",
    "default_labels",
    "field_value",
    "load_scenario",
    "parse_field_path",
    "profile_bucket_sums",
    "read_replicates",
    "read_text_file",
    "replicate_rows",
    "replicates_file",
    "resolve_field_path",
    "scenario_from_dict",
    "scenario_hash",
    "scenario_toml",
    "scenario_warnings",
    "segment_scenario",
    "update_scenario_text",
    "with_overrides",
]
