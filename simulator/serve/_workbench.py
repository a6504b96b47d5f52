"""The page's computations and their caches: base runs by scenario hash, implied rates by
scenario hash, and the edit runs compared with their base. Everything here is blocking and
thread-safe; the application calls it from its worker threads."""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import BrokenExecutor, Executor
from typing import Any

from ..analytic import implied_rates
from ..scenario import Scenario, scenario_hash
from ._catalog import Catalog
from ._compute import RUNOFF_PATHS, Run, analytics_view, page_scenario, run_view, simulate_run

#: Base runs (and implied rates) kept in memory.
CACHE_SIZE = 8


class _Cache:
    """A small least-recently-used map, safe across threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class Workbench:
    """Runs the page's simulations at ``paths`` paths, each scenario with its own seed.

    Parameters
    ----------
    catalog : Catalog
    paths : int
        Paths of every run (``--paths``).
    workers : int, optional
        Threads for the blocks of one run.
    """

    def __init__(self, catalog: Catalog, paths: int, workers: int | None = None) -> None:
        self.catalog = catalog
        self.paths = paths
        self.workers = workers
        self._bases = _Cache(CACHE_SIZE)
        self._implied = _Cache(4 * CACHE_SIZE)
        self._lock = threading.Lock()
        self.runs = 0  # simulations run (bases included), for tests and the status line
        self.stopping = threading.Event()  # the server is stopping: no worker pool is renewed

    def scenario(self, sid: str, edits: dict[str, float] | None = None) -> Scenario:
        """The scenario ``sid`` with ``edits``, as the page runs it."""
        return page_scenario(self.catalog[sid].scenario, self.paths, edits)

    def _simulate(self, scenario: Scenario) -> Run:
        with self._lock:
            self.runs += 1
        return simulate_run(scenario, self.workers)

    def base(self, sid: str) -> Run:
        """The base run of scenario ``sid`` (cached by the scenario's hash)."""
        sc = self.scenario(sid)
        key = scenario_hash(sc)
        run = self._bases.get(key)
        if run is None:
            run = self._simulate(sc)
            self._bases.put(key, run)
        return run

    def compare(self, sid: str, edits: dict[str, float]) -> tuple[Run, dict[str, Any]]:
        """Run ``edits`` on scenario ``sid`` and compare them with its base (same seed and
        paths: common random numbers). With no edits, the edit is the base itself."""
        base = self.base(sid)
        edit = self._simulate(self.scenario(sid, edits)) if edits else base
        return edit, run_view(edit, base)

    def implied(self, scenario: Scenario, executor: Executor | None = None) -> Any:
        """Implied rates of ``scenario`` (exact, or a run-off of at most
        :data:`RUNOFF_PATHS` paths), cached by the scenario's hash.

        ``executor`` runs the run-off (the server's low-priority worker processes, so that it
        shares neither the GIL nor the priority of the live edits); by default, this thread.
        """
        key = scenario_hash(scenario)
        imp = self._implied.get(key)
        if imp is None:
            paths = min(scenario.simulation.runoff_paths, RUNOFF_PATHS)
            if executor is None:
                imp = implied_rates(scenario, paths=paths, workers=1)
            else:
                imp = _on(executor, self.stopping, implied_rates, scenario, paths=paths, workers=1)
            self._implied.put(key, imp)
        return imp

    def analytics(
        self, sid: str, edits: dict[str, float], executor: Executor | None = None
    ) -> dict[str, Any]:
        """The provision matrix against the model for ``edits`` on scenario ``sid``."""
        base_sc = self.scenario(sid)
        edit_sc = self.scenario(sid, edits)
        edit, base = self.implied(edit_sc, executor), self.implied(base_sc, executor)
        return analytics_view(edit, base, edit_sc)


def _on(executor: Executor, stopping: threading.Event, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` on ``executor``, given up when ``stopping`` is set (so that no
    thread of a stopping server waits on a worker); a pool broken by a killed worker is replaced
    once (when it can be, and the server is not stopping) and the call made again."""
    for attempt in (1, 2):
        future = executor.submit(fn, *args, **kwargs)
        try:
            while True:
                try:
                    return future.result(timeout=0.25)
                except TimeoutError:
                    if stopping.is_set():
                        future.cancel()
                        raise RuntimeError("the page's server is stopping") from None
        except BrokenExecutor:
            if attempt == 2 or stopping.is_set() or not hasattr(executor, "renew"):
                raise
            executor.renew()
    raise AssertionError("unreachable")
