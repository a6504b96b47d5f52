"""The what-if page's web application (Starlette): one HTML page, its script, style and icon,
and a small JSON API. The server computes; the page only draws. Engine work runs on worker
threads (the compiled kernel releases the GIL), never on the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .._util import json_ready
from ..scenario import ScenarioError
from ..sweep import LocalPool
from ._catalog import Catalog, controls, parse_edits, parse_number
from ._compute import FAN_PATHS
from ._files import (
    SaveRefused,
    check_text,
    edited_text,
    replace_file,
    save_new,
    save_target,
    summary_csv,
    summary_json,
)
from ._security import Guard, GuardMiddleware, Receive, Scope, Send
from ._sessions import SUPERSEDED, Session, Sessions
from ._sweep import SweepJob, sweep_options
from ._workbench import Workbench

#: Worker processes for run-offs and sweep points (at the lowest priority).
WORKER_PROCESSES = 2
#: Modules the worker processes' fork server imports once.
WORKER_PRELOAD = ("simulator.sweep", "simulator.analytic")
#: The page's files: name -> media type.
STATIC = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "charts.js": "text/javascript; charset=utf-8",
    "panels.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}


def _api(handler: Callable[[Any, Request], Any]) -> Callable[[Any, Request], Any]:
    """An API endpoint whose :class:`ApiError` becomes a JSON error response."""

    async def wrapped(self: Any, request: Request) -> Response:
        try:
            return await handler(self, request)
        except ApiError as exc:
            return _json({"status": "error", "error": str(exc)}, exc.status)

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


class ApiError(Exception):
    """A request the API refuses: HTTP ``status`` and a one-line message for the page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _json(doc: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(json_ready(doc), default=str).encode()
    return Response(body, status, headers=headers, media_type="application/json")


def _static_files() -> dict[str, bytes]:
    folder = resources.files(__package__) / "static"
    return {name: (folder / name).read_bytes() for name in STATIC}


class PageApp:
    """The ASGI application of ``arsim serve``, guarded by :class:`Guard` on every request.

    Parameters
    ----------
    catalog : Catalog
        The scenarios offered.
    paths : int
        Paths of every run.
    root : path-like
        The folder saves go to (the folder ``arsim serve`` was started from).
    guard : Guard
        Host, token and cookie rules.
    workers : int, optional
        Threads for the blocks of one run.
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        paths: int,
        root: str | Path,
        guard: Guard,
        workers: int | None = None,
    ) -> None:
        self.catalog = catalog
        self.workbench = Workbench(catalog, paths, workers)
        self.sessions = Sessions()
        self.root = Path(root).resolve()
        self.guard = guard
        # live edits on threads of this process (the kernel releases the GIL); run-offs and
        # sweep points in worker processes at the lowest priority, which share neither the GIL
        # nor the cores' priority with the edits; a few threads wait on those
        self.run_pool = ThreadPoolExecutor(2, "arsim-run")
        self.workers = LocalPool(WORKER_PROCESSES, nice=19, preload=WORKER_PRELOAD)
        self.side_pool = ThreadPoolExecutor(2, "arsim-analytics")
        self.sweep_pool = ThreadPoolExecutor(2, "arsim-sweep")
        self.files = _static_files()
        self.routes = [
            Route("/", self.index, methods=["GET"]),
            Route("/static/{name}", self.static, methods=["GET"]),
            Route("/favicon.ico", self.favicon, methods=["GET"]),
            Route("/api/scenarios", self.scenarios, methods=["GET"]),
            Route("/api/session", self.open_session, methods=["POST"]),
            Route("/api/run", self.run, methods=["POST"]),
            Route("/api/analytics", self.analytics, methods=["POST"]),
            Route("/api/sweep", self.sweep_start, methods=["POST"]),
            Route("/api/sweep", self.sweep_status, methods=["GET"]),
            Route("/api/sweep/cancel", self.sweep_cancel, methods=["POST"]),
            Route("/api/save", self.save, methods=["POST"]),
            Route("/api/download", self.download, methods=["GET"]),
        ]
        self.starlette = Starlette(routes=self.routes, lifespan=self._lifespan)
        self.asgi = GuardMiddleware(self.starlette, guard)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.asgi(scope, receive, send)

    @contextlib.asynccontextmanager
    async def _lifespan(self, _: Any) -> AsyncIterator[None]:
        yield
        self.close()

    def close(self) -> None:
        """Cancel every sweep, stop the worker threads' queues and the worker processes."""
        self.workbench.stopping.set()
        self.sessions.cancel_all()
        for pool in (self.run_pool, self.side_pool, self.sweep_pool):
            pool.shutdown(wait=False, cancel_futures=True)
        self.workers.shutdown(cancel_futures=True)  # the worker processes stop at once

    def warm(self) -> None:
        """Run the first scenario's base (loads the compiled kernel and fills the cache). The
        worker processes start with the page's first request for implied rates or a sweep."""
        self.workbench.base(next(iter(self.catalog.entries)))

    # --- helpers

    async def _call(self, pool: Executor, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    @staticmethod
    async def _body(request: Request) -> dict[str, Any]:
        try:
            doc = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "the request body is not JSON") from None
        if not isinstance(doc, dict):
            raise ApiError(400, "the request body must be a JSON object")
        return doc

    def _session(self, sid: Any) -> Session:
        session = self.sessions.get(sid)
        if session is None:
            raise ApiError(404, "this page's session has ended; reload the page")
        return session

    # --- page

    async def index(self, request: Request) -> Response:
        return Response(self.files["index.html"], media_type=STATIC["index.html"])

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in self.files or name == "index.html":
            return Response("Not found", 404, media_type="text/plain")
        return Response(self.files[name], media_type=STATIC[name])

    async def favicon(self, request: Request) -> Response:
        return Response(self.files["favicon.svg"], media_type=STATIC["favicon.svg"])

    async def scenarios(self, request: Request) -> Response:
        return _json({"scenarios": self.catalog.listing()})

    # --- API (each wrapped by _api below)

    @_api
    async def open_session(self, request: Request) -> Response:
        doc = await self._body(request)
        sid = doc.get("scenario")
        if not isinstance(sid, str) or sid not in self.catalog:
            raise ApiError(404, "no such scenario")
        self.sessions.close(doc.get("previous"))
        session = self.sessions.open(sid)
        entry = self.catalog[sid]
        _, view = await self._call(self.run_pool, self.workbench.compare, sid, {})
        meta = entry.scenario.scenario
        return _json(
            {
                "session": session.id,
                "scenario": {
                    "id": sid,
                    "file": entry.path.name,
                    "name": meta.name or entry.path.stem,
                    "as_of": meta.as_of.isoformat() if meta.as_of else None,
                    "unit": entry.scenario.money_unit,
                    "description": meta.description,
                },
                "controls": controls(entry.scenario),
                "sweep": sweep_options(entry.scenario),
                "fan_paths": FAN_PATHS,
                "view": view,
                "key": _key({}),
            }
        )

    @_api
    async def run(self, request: Request) -> Response:
        doc = await self._body(request)
        session = self._session(doc.get("session"))
        raw = doc.get("edits") or {}
        if not isinstance(raw, dict):
            raise ApiError(400, "edits must be an object of field: value")
        values, errors = parse_edits(self.catalog[session.scenario_id].scenario, raw)
        if errors:
            return _json({"status": "invalid", "errors": errors})
        session.cancel_sweep()  # an edit preempts this tab's sweep

        async def job() -> Any:
            return await self._call(
                self.run_pool, self.workbench.compare, session.scenario_id, values
            )

        out = await session.runs.submit(job)
        if out is SUPERSEDED:
            return _json({"status": "superseded"})
        edit, view = out
        session.edits, session.summary = values, edit.summary
        return _json({"status": "ok", "edits": values, "key": _key(values), "view": view})

    @_api
    async def analytics(self, request: Request) -> Response:
        doc = await self._body(request)
        session = self._session(doc.get("session"))
        edits = dict(session.edits)

        async def job() -> Any:
            return await self._call(
                self.side_pool, self.workbench.analytics, session.scenario_id, edits, self.workers
            )

        out = await session.analytics.submit(job)
        if out is SUPERSEDED:
            return _json({"status": "superseded"})
        return _json({"status": "ok", "key": _key(edits), "view": out})

    @_api
    async def sweep_start(self, request: Request) -> Response:
        doc = await self._body(request)
        session = self._session(doc.get("session"))
        session.cancel_sweep()
        try:
            points = doc.get("points")
            if isinstance(points, bool) or not isinstance(points, int):
                raise ScenarioError("page", "points", "must be a whole number")
            job = SweepJob(
                self.workbench.scenario(session.scenario_id, session.edits),
                str(doc.get("field")),
                _number(doc.get("start"), "from"),
                _number(doc.get("stop"), "to"),
                points,
                str(doc.get("metric")),
            )
        except ScenarioError as exc:
            return _json({"status": "invalid", "field": exc.field, "error": exc.reason})
        session.sweep = job
        self.sweep_pool.submit(job.run, self.workers, WORKER_PROCESSES)
        return _json({"status": "ok", "sweep": job.status()})

    @_api
    async def sweep_status(self, request: Request) -> Response:
        session = self._session(request.query_params.get("session"))
        if session.sweep is None:
            return _json({"status": "ok", "sweep": None})
        return _json({"status": "ok", "sweep": session.sweep.status()})

    @_api
    async def sweep_cancel(self, request: Request) -> Response:
        session = self._session((await self._body(request)).get("session"))
        session.cancel_sweep()
        status = session.sweep.status() if session.sweep is not None else None
        return _json({"status": "ok", "sweep": status})

    @_api
    async def save(self, request: Request) -> Response:
        doc = await self._body(request)
        session = self._session(doc.get("session"))
        entry = self.catalog[session.scenario_id]
        name = doc.get("name")
        try:
            target = save_target(self.root, name)
            text = edited_text(entry.text, session.edits, entry.path.name)
            check_text(text, name)
            confirm = doc.get("confirm")
            if confirm is not None:  # the second confirmation of a replacement
                expected = session.confirm.pop(name, None)
                if expected is None or not secrets.compare_digest(str(confirm), expected):
                    raise SaveRefused(409, f"{name} was not replaced: confirm again")
                replace_file(target, text)
                return _json({"status": "ok", "saved": name, "replaced": True})
            if not save_new(target, text):
                code = secrets.token_urlsafe(16)
                session.confirm[name] = code
                return _json(
                    {
                        "status": "exists",
                        "message": f"{name} exists in {self.root}; replace it?",
                        "confirm": code,
                    },
                    409,
                )
        except SaveRefused as exc:
            return _json({"status": "refused", "error": str(exc)}, exc.status)
        except ScenarioError as exc:
            return _json({"status": "refused", "error": str(exc)}, 400)
        except OSError as exc:
            return _json({"status": "refused", "error": f"cannot write {name}: {exc}"}, 400)
        return _json({"status": "ok", "saved": name, "replaced": False, "folder": str(self.root)})

    @_api
    async def download(self, request: Request) -> Response:
        session = self._session(request.query_params.get("session"))
        kind = request.query_params.get("format", "json")
        if kind not in ("json", "csv"):
            raise ApiError(400, "format must be json or csv")
        if session.summary is None:
            base = await self._call(self.run_pool, self.workbench.base, session.scenario_id)
            session.summary = base.summary
        doc = {
            "source_file": self.catalog[session.scenario_id].path.name,
            "edits": session.edits,
            **session.summary,
        }
        name = f"{session.scenario_id}-whatif.{kind}"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        if kind == "csv":
            return Response(summary_csv(doc), headers=headers, media_type="text/csv")
        return Response(summary_json(doc), headers=headers, media_type="application/json")


def _number(x: Any, what: str) -> float:
    try:
        return parse_number(x)
    except ValueError as exc:
        raise ScenarioError("page", what, str(exc)) from None


def _key(edits: dict[str, float]) -> str:
    """A short key of a set of edits (what the page matches analytics to)."""
    return json.dumps(edits, sort_keys=True)
