"""``arsim serve``: the what-if page (DESIGN 8). Checks its options, prints the page's address
with a one-time token, and serves until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ._common import EXIT_INTERRUPTED, UserError

#: Default paths of every run of the page.
DEFAULT_PATHS = 20_000


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        from ..serve import (
            Catalog,
            PageServer,
            ServeError,
            check_options,
            check_page_memory,
            discover_scenarios,
        )
    except ImportError as exc:
        raise UserError(
            f"arsim serve: needs the 'serve' extra ({exc.name} is missing): "
            'pip install -e ".[serve]"'
        ) from None
    allowed = args.allowed_host or []
    try:
        check_options(
            host=args.host,
            port=args.port,
            paths=args.paths,
            allow_remote=args.allow_remote,
            allowed_hosts=allowed,
        )
        files = [Path(f) for f in args.scenarios]
        if not files:
            files, bad = discover_scenarios(Path.cwd())
            for line in bad:
                print(f"arsim serve: skipped {line}", file=sys.stderr)
            if not files:
                raise UserError(
                    "arsim serve: SCENARIO: none given and no valid scenarios/*.toml here"
                )
        catalog = Catalog(files)
        check_page_memory(catalog, args.paths, 2)
        server = PageServer(
            catalog,
            host=args.host,
            port=args.port,
            paths=args.paths,
            root=Path.cwd(),
            allowed_hosts=allowed,
        )
    except ServeError as exc:
        raise UserError(str(exc)) from None
    if args.allow_remote and not _loopback(args.host):
        print(
            f"arsim serve: warning: listening on {args.host} without TLS; anyone who can reach "
            "this machine and learns the link can use the page",
            file=sys.stderr,
        )
    print("arsim serve: starting the engine…", file=sys.stderr, flush=True)
    server.app.warm()
    names = ", ".join(e.path.name for e in server.catalog.entries.values())
    print(f"arsim serve: {len(server.catalog.entries)} scenario(s): {names}", file=sys.stderr)
    print(f"arsim serve: saves go to {Path.cwd()}; Ctrl-C stops the page", file=sys.stderr)
    print(f"Open the what-if page (the link works once): {server.url()}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.app.close()
    print("arsim serve: stopped", file=sys.stderr)
    return EXIT_INTERRUPTED


def _loopback(host: str) -> bool:
    from ..serve import is_loopback

    return is_loopback(host)


def add_parsers(sub: Any) -> None:
    """``arsim serve [SCENARIO …] [--host] [--port] [--paths] [--allow-remote]
    [--allowed-host NAME]``."""
    p = sub.add_parser(
        "serve",
        help="the what-if page: move an assumption, watch the runway move (needs the serve extra)",
        description="Start the what-if page on this machine and print its address with a one-time "
        "token. Scenarios: the files given, or scenarios/*.toml in the current folder. Edited "
        "scenarios are saved into the current folder.",
    )
    p.add_argument("scenarios", nargs="*", metavar="SCENARIO", help="scenario files (TOML)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8050, help="port (default 8050; 0: any free port)")
    p.add_argument(
        "--paths",
        type=int,
        default=DEFAULT_PATHS,
        help=f"paths of every run (default {DEFAULT_PATHS:,}; at most 1,000,000)",
    )
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host other than loopback (there is no TLS: only on a trusted network)",
    )
    p.add_argument(
        "--allowed-host",
        action="append",
        metavar="NAME",
        help="also accept this name in the Host header (with --allow-remote; repeatable)",
    )
    p.set_defaults(func=cmd_serve)
