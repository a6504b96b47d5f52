"""Sessions (one per browser tab) and the rule that keeps a flood of edits from queueing runs:
at most one run at a time per session and one edit waiting behind it; a newer edit replaces
the waiting one (the last one wins)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

#: What :meth:`LatestOnly.submit` returns for a job that a newer one replaced before it ran.
SUPERSEDED = object()
#: Sessions kept at once; the one used longest ago goes first (its sweep is cancelled).
MAX_SESSIONS = 32


class LatestOnly:
    """Runs jobs one at a time, keeping only the newest waiting job (the last one wins).

    Used from one event loop. A job submitted while another runs waits; if yet another arrives
    before it starts, the waiting one returns :data:`SUPERSEDED` at once and never runs. So a
    session never has more than one job running and one waiting, however fast edits come.
    """

    def __init__(self) -> None:
        self.busy = False
        self.generation = 0
        self.started = 0
        self.superseded = 0
        self._wake: asyncio.Future | None = None

    async def submit(self, job: Callable[[], Awaitable[T]]) -> T | object:
        """Run ``job`` once the running job (if any) is done, unless a newer job arrives first.

        Returns
        -------
        The job's result, or :data:`SUPERSEDED`.
        """
        self.generation += 1
        me = self.generation
        self._wake_waiter()  # the job waiting until now has been replaced
        while self.busy:
            self._wake = asyncio.get_running_loop().create_future()
            await self._wake
            if me != self.generation:
                self.superseded += 1
                return SUPERSEDED
        self.busy = True
        self.started += 1
        try:
            return await job()
        finally:
            self.busy = False
            self._wake_waiter()

    def _wake_waiter(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)
        self._wake = None


@dataclass
class Session:
    """One tab's state: its scenario, its last good edits and what they gave, its run and
    analytics queues, its sweep, and a save that waits for a second confirmation."""

    id: str
    scenario_id: str
    edits: dict[str, float] = field(default_factory=dict)
    summary: dict[str, Any] | None = None
    runs: LatestOnly = field(default_factory=LatestOnly)
    analytics: LatestOnly = field(default_factory=LatestOnly)
    sweep: Any = None
    confirm: dict[str, str] = field(default_factory=dict)  # save name -> confirmation code
    used: float = field(default_factory=time.monotonic)

    def cancel_sweep(self) -> None:
        """Stop this session's sweep, if one runs (no other session's)."""
        if self.sweep is not None:
            self.sweep.cancel()


class Sessions:
    """The sessions of a server, at most :data:`MAX_SESSIONS`."""

    def __init__(self, limit: int = MAX_SESSIONS) -> None:
        self.limit = limit
        self._items: OrderedDict[str, Session] = OrderedDict()

    def open(self, scenario_id: str) -> Session:
        """A new session on a scenario (the least recently used one goes when full)."""
        while len(self._items) >= self.limit:
            _, old = self._items.popitem(last=False)
            old.cancel_sweep()
        session = Session(secrets.token_urlsafe(16), scenario_id)
        self._items[session.id] = session
        return session

    def get(self, sid: Any) -> Session | None:
        """The session ``sid``, marked as just used (``None`` if there is none)."""
        session = self._items.get(sid) if isinstance(sid, str) else None
        if session is not None:
            session.used = time.monotonic()
            self._items.move_to_end(session.id)
        return session

    def close(self, sid: Any) -> None:
        """End a session and its sweep."""
        session = self._items.pop(sid, None) if isinstance(sid, str) else None
        if session is not None:
            session.cancel_sweep()

    def cancel_all(self) -> None:
        """Cancel every session's sweep (the server is stopping)."""
        for session in self._items.values():
            session.cancel_sweep()

    def __len__(self) -> int:
        return len(self._items)
