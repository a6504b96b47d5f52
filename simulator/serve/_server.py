"""Starting the page: the options checked before anything listens, the socket bound, and
uvicorn serving the application in this thread (the command line) or a background one (tests
and the benchmark)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..engine import estimate_memory
from ..resources import check_memory
from ._catalog import Catalog
from ._security import Guard, is_loopback

#: Most paths a page may run (bigger runs are ``arsim run``).
MAX_PATHS = 1_000_000
#: Runs the page may hold at once in the memory guard's estimate: two edits in flight, the
#: cached bases, and a sweep's points.
RUNS_IN_MEMORY = 12


class ServeError(ValueError):
    """A bad option of ``arsim serve``; the text is the one-line message (``WHERE: OPTION:
    reason``)."""


def check_options(
    *,
    host: str,
    port: int,
    paths: int,
    allow_remote: bool = False,
    allowed_hosts: Sequence[str] = (),
) -> None:
    """Refuse options that would make the page unsafe or too big, before anything starts.

    Raises
    ------
    ServeError
        A host other than loopback without ``allow_remote``; ``allowed_hosts`` without it; a
        port outside 0..65535; ``paths`` outside 1..:data:`MAX_PATHS`.
    """
    if not is_loopback(host) and not allow_remote:
        raise ServeError(
            f"arsim serve: --host: {host} is not this machine's loopback address; the page has "
            "no TLS, so listening there also needs --allow-remote"
        )
    if allowed_hosts and not allow_remote:
        raise ServeError("arsim serve: --allowed-host: needs --allow-remote")
    for name in allowed_hosts:
        if not name or any(c in name for c in "/:@ \t"):
            raise ServeError(f"arsim serve: --allowed-host: {name!r} is not a host name")
    if not 0 <= port <= 65535:
        raise ServeError(f"arsim serve: --port: must be 0..65535 (0: any free port), got {port}")
    if not 1 <= paths <= MAX_PATHS:
        raise ServeError(
            f"arsim serve: --paths: must be 1..{MAX_PATHS:,}, got {paths:,}; the page is for "
            "exploring, big runs are 'arsim run'"
        )


def check_page_memory(catalog: Catalog, paths: int, workers: int) -> None:
    """Refuse a page whose runs at ``paths`` paths would not fit in memory (the memory guard).

    Raises
    ------
    ServeError
        With the memory needed and the machine's.
    """
    from ..resources import ResourceError
    from ._compute import page_scenario

    for entry in catalog.entries.values():
        sc = page_scenario(entry.scenario, paths)
        try:
            check_memory(
                RUNS_IN_MEMORY * estimate_memory(sc, workers),
                f"the page at {paths:,} paths",
                "use fewer --paths; big runs are 'arsim run'",
            )
        except ResourceError as exc:
            raise ServeError(f"{entry.path}: --paths: {exc}") from None


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one).

    Raises
    ------
    ServeError
        If the address cannot be used (in use, not this machine's, not permitted).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ServeError(
            f"arsim serve: --port: cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from None
    sock.set_inheritable(True)
    return sock


class PageServer:
    """The page, listening: a bound socket, its :class:`Guard` and application, and uvicorn.

    Parameters
    ----------
    scenarios : Catalog or sequence of path-like
        The scenarios offered (files are read into a :class:`Catalog`).
    host, port : str, int
        Where to listen (port 0: a free port).
    paths : int
        Paths of every run.
    root : path-like, optional
        Folder saves go to (default: the current folder).
    allowed_hosts : sequence of str
        More allowed Host names (``--allowed-host``).
    workers : int, optional
        Threads per run.

    Raises
    ------
    ScenarioError
        A scenario file that does not load.
    ServeError
        The socket cannot be bound.
    """

    def __init__(
        self,
        scenarios: Catalog | Sequence[str | Path],
        *,
        host: str = "127.0.0.1",
        port: int = 8050,
        paths: int = 20_000,
        root: str | Path | None = None,
        allowed_hosts: Sequence[str] = (),
        workers: int | None = None,
    ) -> None:
        from ._app import PageApp

        self.catalog = scenarios if isinstance(scenarios, Catalog) else Catalog(scenarios)
        self.host = host
        self.socket = bind(host, port)
        self.port = self.socket.getsockname()[1]
        self.guard = Guard(self.port, host, allowed_hosts)
        self.app = PageApp(
            self.catalog, paths=paths, root=root or Path.cwd(), guard=self.guard, workers=workers
        )
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def url(self, token: str | None = None) -> str:
        """The page's address with a one-time token (the first token by default)."""
        shown = self.host if ":" not in self.host else f"[{self.host}]"
        if shown in ("0.0.0.0", "[::]"):
            shown = "127.0.0.1"
        return f"http://{shown}:{self.port}/?token={token or self.guard.token}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no token)."""
        return f"http://127.0.0.1:{self.port}"

    def _uvicorn(self) -> Any:
        import uvicorn

        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            http="h11",
            ws="none",
            proxy_headers=False,
            server_header=False,
            date_header=False,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        return self._server

    def serve_forever(self) -> None:
        """Serve in this thread until Ctrl-C (uvicorn handles the signal and shuts down)."""
        self._uvicorn().run(sockets=[self.socket])

    def start(self) -> PageServer:
        """Serve on a background thread; return once the server accepts requests."""
        server = self._uvicorn()
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the page's server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop a server started with :meth:`start` and close its socket."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.app.close()
        self.socket.close()
