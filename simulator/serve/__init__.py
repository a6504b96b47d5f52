"""The what-if page, ``arsim serve`` (DESIGN 8): move a collection assumption and watch the
runway distribution move, live, against the scenario's base on common random numbers.

A small Starlette application served by uvicorn (the ``serve`` extra: ``pip install -e
".[serve]"``; docs/serve.md says why). The server computes; the page (plain HTML, one style
sheet and two small scripts, shipped in ``static/``) only draws, with SVG, and loads nothing from
the network. Every request passes the guard of ``_security``: allowed Host and Origin, the
one-time URL token exchanged for an HttpOnly, SameSite=Strict cookie, a strict
Content-Security-Policy, and bodies of at most 64 KB.

Modules: ``_security`` (the guard), ``_catalog`` (scenarios by id, controls, checking edits),
``_compute`` (key numbers, curves, the provision matrix against the model), ``_workbench`` (runs
and their caches), ``_sessions`` (tabs, and the last edit wins), ``_sweep`` (the sweep panel),
``_files`` (save as TOML, downloads), ``_app`` (the routes) and ``_server`` (options, socket,
uvicorn).
"""

from ._app import PageApp
from ._catalog import Catalog, controls, discover_scenarios, parse_edits
from ._compute import FAN_PATHS, RUNOFF_PATHS, quantile_se
from ._files import SAVE_NAME, neutralise, save_target, summary_csv
from ._security import CSP, MAX_BODY, Guard, GuardMiddleware, is_loopback
from ._server import MAX_PATHS, PageServer, ServeError, check_options, check_page_memory
from ._sessions import SUPERSEDED, LatestOnly
from ._sweep import MAX_SWEEP_POINTS, SWEEP_METRICS, SweepJob

__all__ = [
    "CSP",
    "FAN_PATHS",
    "MAX_BODY",
    "MAX_PATHS",
    "MAX_SWEEP_POINTS",
    "RUNOFF_PATHS",
    "SAVE_NAME",
    "SUPERSEDED",
    "SWEEP_METRICS",
    "Catalog",
    "Guard",
    "GuardMiddleware",
    "LatestOnly",
    "PageApp",
    "PageServer",
    "ServeError",
    "SweepJob",
    "check_options",
    "check_page_memory",
    "controls",
    "discover_scenarios",
    "is_loopback",
    "neutralise",
    "parse_edits",
    "quantile_se",
    "save_target",
    "summary_csv",
]
