"""Points: the base scenario with some fields changed, each validated and keyed by what makes
its numbers; and what became of a point once run (:class:`PointOutcome`)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..engine import BLOCK_SIZE, ENGINE_VERSION, block_memory
from ..resources import check_memory
from ..scenario import Scenario, scenario_hash, with_overrides
from ._designs import Design

#: Format tag of the record of one finished point.
POINT_FORMAT = "arsim-sweep-point/1"


@dataclass(frozen=True)
class Point:
    """One scenario to simulate: the base scenario with ``params`` applied.

    Attributes
    ----------
    index : int
        Position in its design (or order of evaluation).
    params : dict
        ``{field: value}`` applied to the base scenario.
    scenario : Scenario
        The validated scenario of the point (its paths and seed are those of the sweep).
    key : str
        :func:`point_key` of ``scenario``: the same key means the same numbers.
    """

    index: int
    params: dict[str, Any]
    scenario: Scenario
    key: str


def point_key(scenario: Scenario) -> str:
    """A key for a point's results: a hash of the validated scenario (parameters, paths and seed
    included; its ``[sweep]`` table excluded) and the engine version."""
    sc = scenario.model_copy(update={"sweep": None})
    text = f"{scenario_hash(sc)}:{ENGINE_VERSION}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def make_point(base: Scenario, params: dict[str, Any], index: int = 0) -> Point:
    """The point of ``base`` with ``params`` applied, validated like a file.

    Raises
    ------
    ScenarioError
        If a value is out of its field's range or breaks a rule (``FILE: FIELD: reason``).
    """
    sc = with_overrides(base, params) if params else base
    return Point(index, dict(params), sc, point_key(sc))


def make_points(base: Scenario, design: Design) -> list[Point]:
    """Every point of ``design`` on ``base``, each validated (so a bad value stops the sweep
    before anything runs).

    Raises
    ------
    ScenarioError
        The first point with a value out of range, as ``FILE: FIELD: reason``.
    """
    return [make_point(base, design.params(i), i) for i in range(len(design))]


def sweep_memory(points: Sequence[Point], slots: int) -> int:
    """Rough peak memory in bytes of running ``points`` with ``slots`` workers in flight."""
    if not points:
        return 0
    paths = max(p.scenario.simulation.paths for p in points)
    per_path = 6 * 8
    block = max(block_memory(p.scenario) for p in points)  # one block computing per slot
    # two points being assembled at once, plus a window of blocks in flight
    return 2 * 2 * paths * per_path + 4 * max(slots, 1) * BLOCK_SIZE * per_path + slots * block


def check_sweep_memory(points: Sequence[Point], slots: int) -> None:
    """Refuse, before anything runs, points that would not fit in memory with ``slots`` workers.

    Raises
    ------
    ResourceError
        With the memory needed and the machine's.
    """
    check_memory(sweep_memory(points, slots), "this sweep", "use fewer paths or --workers")


@dataclass
class PointOutcome:
    """What became of one point.

    Attributes
    ----------
    point : Point
    summary : dict or None
        The point's summary (:meth:`SimulationResult.summary` without the scenario);
        ``None`` if it failed.
    error : str or None
        ``Type: message`` of the failure; ``None`` if it finished.
    cached : bool
        Whether the summary was already known (a resumed sweep) rather than computed now.
    """

    point: Point
    summary: dict[str, Any] | None
    error: str | None = None
    cached: bool = False

    @property
    def ok(self) -> bool:
        """Whether the point finished."""
        return self.summary is not None

    def record(self) -> dict[str, Any]:
        """The JSON-ready record of a finished point (what a sweep folder stores)."""
        return {
            "format": POINT_FORMAT,
            "key": self.point.key,
            "index": self.point.index,
            "params": self.point.params,
            "summary": self.summary,
        }


class PointFailed(RuntimeError):
    """A point that a reverse stress test or a sensitivity analysis needed did not finish."""

    def __init__(self, outcome: PointOutcome) -> None:
        self.outcome = outcome
        params = ", ".join(f"{k}={v!r}" for k, v in outcome.point.params.items())
        super().__init__(f"point ({params or 'base'}) failed: {outcome.error}")
