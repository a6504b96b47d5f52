"""Helpers of the what-if page's tests: a page server started in this process on a free
loopback port, and a small HTTP client (http.client, so that every header, the Host included,
is what the test says)."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from conftest import IFLYTEK, MINIMAL

#: Paths of the tests' pages (small: the tests check rules, not precision).
TEST_PATHS = 2000
#: A scenario whose words would be markup in HTML and formulas in a spreadsheet.
HOSTILE_NAME = '=HYPERLINK("http://example.invalid","x")<img src=x id=pwned>'


def hostile_scenario(folder: Path) -> Path:
    """The minimal scenario with hostile words (name, description, sources), some outflow so
    that cash runs out, and a negative floor (a number that must stay a number in CSV)."""
    head = (
        "# A scenario whose words are markup and formulas.\n"
        "[scenario]\n"
        f"name = {json.dumps(HOSTILE_NAME)}\n"
        'description = "@SUM(A1:A9) and <script>window.pwned = 1</script>"\n'
        'sources = ["+1+2", "-3", "\\tTAB", "\\rCR", "plain"]\n\n'
    )
    text = MINIMAL.read_text().replace(
        "opening = 100.0", "opening = 100.0\nfloor = -100.0\nmonthly_fixed_outflow = 12.0"
    )
    path = folder / "hostile.toml"
    path.write_text(head + text)
    return path


def start_server(folder: Path, files: list[Path] | None = None, paths: int = TEST_PATHS) -> Any:
    """A page server on 127.0.0.1 (a free port) saving into ``folder``, warm and serving."""
    from simulator.serve import PageServer

    files = files or [IFLYTEK, MINIMAL, hostile_scenario(folder)]
    server = PageServer(files, port=0, paths=paths, root=folder, workers=2)
    server.app.warm()
    return server.start()


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


class Client:
    """An HTTP client of one page server, holding the cookie once :meth:`login` has run."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.port = server.port
        self.cookie: str | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        cookie: bool = True,
        origin: bool = True,
        data: bytes | None = None,
    ) -> Reply:
        h = {"Host": f"127.0.0.1:{self.port}"}
        if cookie and self.cookie:
            h["Cookie"] = self.cookie
        if origin and method not in ("GET", "HEAD"):
            h["Origin"] = self.origin
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        h = {k: v for k, v in h.items() if v is not None}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request(method, path, body=data, headers=h)
            resp = conn.getresponse()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        finally:
            conn.close()

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        if body is None and "data" not in kw:
            body = {}
        return self.request("POST", path, body, **kw)

    def login(self) -> Reply:
        """Exchange a fresh one-time token for the cookie."""
        reply = self.get(f"/?token={self.server.guard.new_token()}", cookie=False)
        jar: SimpleCookie = SimpleCookie()
        jar.load(reply.headers["set-cookie"])
        name = self.server.guard.cookie_name
        self.cookie = f"{name}={jar[name].value}"
        return reply

    def session(self, scenario: str = "iflytek_2024q3") -> dict[str, Any]:
        reply = self.post("/api/session", {"scenario": scenario})
        assert reply.status == 200, reply.text
        return reply.json()

    def run(self, session: str, edits: dict[str, Any]) -> dict[str, Any]:
        reply = self.post("/api/run", {"session": session, "edits": edits})
        assert reply.status == 200, reply.text
        return reply.json()
