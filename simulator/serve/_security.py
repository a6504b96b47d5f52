"""The page's guard (DESIGN 8, security): allowed Host and Origin headers, the one-time URL
token exchanged for a cookie, the security headers on every response and the limit on request
bodies. It wraps the whole application, so no endpoint can be reached around it."""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The Content-Security-Policy of every response: only this server's own files, no framing.
CSP = "default-src 'self'; frame-ancestors 'none'"
#: Largest request body accepted, in bytes (64 KB).
MAX_BODY = 64 * 1024
#: Headers added to every response, whatever its status.
SECURITY_HEADERS = (
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
)
#: Methods that only read (an Origin is not required on them).
_SAFE = {"GET", "HEAD"}

_LANDING = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="0; url=/">
<title>arsim what-if</title></head>
<body><p>Signed in. <a href="/">Open the what-if page</a>.</p></body></html>
"""


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine's loopback interface."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_port(host: str, port: int) -> str:
    host = host.lower()
    if ":" in host and not host.startswith("["):  # an IPv6 address
        host = f"[{host}]"
    return f"{host}:{port}"


class Guard:
    """Who may use the page: the allowed Host headers, the URL tokens and the cookie's secret.

    Parameters
    ----------
    port : int
        The port the server listens on (part of every allowed Host header and of the cookie's
        name, so that two servers on one machine do not overwrite each other's cookie).
    bind_host : str
        The address the server binds; a loopback address other than ``127.0.0.1`` is allowed as
        a Host too.
    allowed_hosts : iterable of str
        More host names allowed in the Host header (``--allowed-host``, with
        ``--allow-remote``).
    """

    def __init__(self, port: int, bind_host: str = "127.0.0.1", allowed_hosts: Iterable[str] = ()):
        names = {"127.0.0.1", "localhost", *allowed_hosts}
        if is_loopback(bind_host):
            names.add(bind_host)
        self.hosts = frozenset(_host_port(h, port) for h in names)
        self.cookie_name = f"arsim_{port}"
        self._secret = secrets.token_urlsafe(32)  # 256 bits
        self._tokens: list[str] = []
        self.token = self.new_token()

    def new_token(self) -> str:
        """A fresh one-time URL token (256 bits), valid until it is exchanged."""
        token = secrets.token_urlsafe(32)
        self._tokens.append(token)
        return token

    def exchange(self, token: str) -> bool:
        """Spend ``token``: whether it was a valid, unspent token (compared in constant time)."""
        for known in self._tokens:
            if hmac.compare_digest(known.encode(), token.encode()):
                self._tokens.remove(known)
                return True
        return False

    def authorised(self, cookie: str | None) -> bool:
        """Whether a request's cookie holds this server's secret (compared in constant time)."""
        return cookie is not None and hmac.compare_digest(cookie.encode(), self._secret.encode())

    def set_cookie(self) -> str:
        """The Set-Cookie header value given in exchange for a token."""
        return f"{self.cookie_name}={self._secret}; HttpOnly; SameSite=Strict; Path=/"


def _cookie(header: str, name: str) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


async def _plain(send: Send, status: int, text: str, extra: list | None = None) -> None:
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), *(extra or [])]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class GuardMiddleware:
    """The ASGI wrapper that applies a :class:`Guard` to every request.

    In order: the Host header must be allowed (DNS rebinding); an Origin, when present, must be
    this page's, and requests other than GET/HEAD must carry one; ``GET /?token=…`` exchanges a
    valid token for the cookie on a small page that moves on with ``<meta http-equiv=refresh>``
    to ``/`` (a redirect would lose a SameSite=Strict cookie when the link came from another
    site); every other request needs the cookie; a body over :data:`MAX_BODY` is refused (413).
    Refusals are 403 with one line of text. Every response carries :data:`SECURITY_HEADERS`.
    WebSocket connections are refused (the page does not use them).
    """

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1008})
            return
        send = _with_headers(send)
        headers: dict[str, str] = {}
        for key, value in scope["headers"]:
            headers.setdefault(key.decode("latin-1").lower(), value.decode("latin-1"))
        host = headers.get("host", "").lower()
        if host not in self.guard.hosts:
            await _plain(send, 403, "Forbidden: this Host header is not allowed")
            return
        origin = headers.get("origin")
        method = scope["method"]
        if origin is not None and origin.lower() != f"http://{host}":
            await _plain(send, 403, "Forbidden: this Origin is not allowed")
            return
        if origin is None and method not in _SAFE:
            await _plain(send, 403, "Forbidden: a request that changes something needs an Origin")
            return
        authorised = self.guard.authorised(
            _cookie(headers.get("cookie", ""), self.guard.cookie_name)
        )
        if scope["path"] == "/" and method == "GET":
            token = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
            if token is not None:
                if authorised or self.guard.exchange(token[0]):
                    await self._landing(send)
                else:
                    await _plain(
                        send, 403, "Forbidden: this link was used already or is wrong; "
                        "restart 'arsim serve' for a new one",
                    )  # fmt: skip
                return
        if not authorised:
            await _plain(
                send, 403, "Forbidden: open the link with the token that 'arsim serve' printed"
            )
            return
        body = await _read_body(receive, headers.get("content-length"))
        if body is None:
            await _plain(send, 413, f"Request body too large: at most {MAX_BODY} bytes")
            return
        await self.app(scope, _replay(body, receive), send)

    async def _landing(self, send: Send) -> None:
        cookie = (b"set-cookie", self.guard.set_cookie().encode())
        headers = [(b"content-type", b"text/html; charset=utf-8"), cookie]
        headers.append((b"content-length", str(len(_LANDING)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": _LANDING})


async def _read_body(receive: Receive, length: str | None) -> bytes | None:
    """The whole request body, or ``None`` when it is (or says it is) over :data:`MAX_BODY`."""
    if length is not None and (not length.strip().isdigit() or int(length) > MAX_BODY):
        return None
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return bytes(body)
        body += message.get("body", b"")
        if len(body) > MAX_BODY:
            return None
        if not message.get("more_body", False):
            return bytes(body)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _with_headers(send: Send) -> Send:
    extra = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS]

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            names = {k.lower() for k, _ in message.get("headers", [])}
            message = dict(message)
            message["headers"] = [
                *message.get("headers", []),
                *((k, v) for k, v in extra if k not in names),
            ]
        await send(message)

    return wrapped
