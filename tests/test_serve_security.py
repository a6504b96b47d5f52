"""The what-if page's security rules (DESIGN 8), one by one, against a server started in this
process on a free loopback port: the token and the cookie on every endpoint, Host and Origin,
the CSP header, the body limit, the save folder, the second confirmation, and CSV cells."""

from __future__ import annotations

import csv
import http.client
import io
import os

import pytest
from conftest import IFLYTEK
from serve_helpers import HOSTILE_NAME, Client, start_server

from simulator import load_scenario
from simulator.serve import CSP, MAX_BODY
from simulator.serve._files import save_new


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve-root")
    srv = start_server(folder)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def client(server):
    c = Client(server)
    c.login()
    return c


def _endpoints(server) -> list[tuple[str, str]]:
    """Every (method, path) the application routes, read from its route table (so a new
    endpoint is covered without changing this test), with each static file."""
    out = []
    for route in server.app.routes:
        for method in sorted(route.methods - {"HEAD"}):
            if "{name}" in route.path:
                out += [(method, f"/static/{n}") for n in server.app.files if n != "index.html"]
            else:
                out.append((method, route.path))
    return out


def test_every_endpoint_refuses_a_request_without_the_cookie_or_token(server, client):
    endpoints = _endpoints(server)
    assert len(endpoints) >= 15
    session = client.session()["session"]
    for method, path in endpoints:
        query = f"?session={session}&format=csv" if method == "GET" else ""
        body = {"session": session, "scenario": "iflytek_2024q3"}
        for cookie in (None, "arsim_0=x", f"{server.guard.cookie_name}=not-the-secret"):
            anon = Client(server)
            anon.cookie = cookie
            kw = {"body": body} if method == "POST" else {}
            reply = anon.request(method, path + query, **kw)
            assert reply.status == 403, (method, path, cookie, reply.status)
            assert reply.headers["content-security-policy"] == CSP
        # the same request with the cookie is not refused
        kw = {"body": body} if method == "POST" else {}
        assert client.request(method, path + query, **kw).status != 403, (method, path)


def test_the_token_is_exchanged_once_for_a_strict_httponly_cookie(server):
    c = Client(server)
    token = server.guard.new_token()
    reply = c.get(f"/?token={token}", cookie=False)
    assert reply.status == 200
    cookie = reply.headers["set-cookie"]
    assert cookie.startswith(f"{server.guard.cookie_name}=")
    for flag in ("HttpOnly", "SameSite=Strict", "Path=/"):
        assert flag in cookie
    # the landing page moves on to the address without the token, by meta refresh (not a
    # redirect, which would lose a Strict cookie opened from another site)
    assert '<meta http-equiv="refresh" content="0; url=/">' in reply.text
    assert token not in reply.text and "location" not in reply.headers
    # spent: the same token again, without the cookie, is refused
    assert c.get(f"/?token={token}", cookie=False).status == 403
    assert c.get("/?token=" + "x" * 43, cookie=False).status == 403
    # the cookie opens the page
    c.cookie = cookie.split(";")[0]
    page = c.get("/")
    assert page.status == 200 and b"/static/app.js" in page.body


def test_a_wrong_host_or_origin_is_refused(server, client):
    port = server.port
    for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1:{port + 1}", ""):
        reply = client.get("/api/scenarios", headers={"Host": host})
        assert reply.status == 403, host
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}"):
        assert client.get("/api/scenarios", headers={"Host": host}).status == 200, host
    # Origin: must match when present, and is required on POST
    body = {"scenario": "iflytek_2024q3"}
    assert client.post("/api/session", body, origin=False).status == 403
    for origin in ("http://evil.example", f"http://127.0.0.1:{port + 1}", "null"):
        reply = client.post("/api/session", body, headers={"Origin": origin})
        assert reply.status == 403, origin
        assert client.get("/api/scenarios", headers={"Origin": origin}).status == 403
    assert client.post("/api/session", body).status == 200


def test_every_response_has_the_csp_header(server, client):
    replies = [
        client.get("/"),
        client.get("/static/app.js"),
        client.get("/static/nothing.js"),
        client.get("/api/scenarios", cookie=False),
        client.post("/api/run", data=b"x" * (MAX_BODY + 1)),
        client.get("/api/download?session=none"),
    ]
    assert [r.status for r in replies] == [200, 200, 404, 403, 413, 404]
    for r in replies:
        assert r.headers["content-security-policy"] == CSP
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
    # the page loads nothing from elsewhere and has no inline script or style
    page = client.get("/").text
    assert "<script>" not in page and "style=" not in page and "<style" not in page
    assert "http://" not in page and "https://" not in page


def test_request_bodies_over_64_kb_are_refused(server, client):
    session = client.session()["session"]
    small = b'{"session": "%s", "edits": {}, "pad": "%s"}' % (session.encode(), b"x" * 60_000)
    assert client.post("/api/run", data=small).status == 200
    big = small.replace(b"x" * 60_000, b"x" * MAX_BODY)
    assert client.post("/api/run", data=big).status == 413
    # the same without a Content-Length (chunked): counted as it arrives
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.putrequest("POST", "/api/run", skip_host=True)
        for k, v in {
            "Host": f"127.0.0.1:{server.port}",
            "Origin": client.origin,
            "Cookie": client.cookie,
            "Content-Type": "application/json",
            "Transfer-Encoding": "chunked",
        }.items():
            conn.putheader(k, v)
        conn.endheaders()
        for i in range(0, len(big), 16_384):
            chunk = big[i : i + 16_384]
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        conn.send(b"0\r\n\r\n")
        assert conn.getresponse().status == 413
    finally:
        conn.close()


def _save(client, session, name, **extra):
    return client.post("/api/save", {"session": session, "name": name, **extra})


def test_a_save_outside_the_folder_is_refused(server, client, tmp_path):
    root = server.app.root
    session = client.session()["session"]
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "link.toml").symlink_to(outside / "target.toml")
    (root / "dirlink.toml").symlink_to(outside, target_is_directory=True)
    names = [
        "../escape.toml",
        "..%2Fescape.toml",
        "sub/dir.toml",
        "sub\\dir.toml",
        str(outside / "abs.toml"),
        "/etc/passwd",
        "..toml",
        ".toml",
        "name.txt",
        "name.toml.exe",
        "x" * 65 + ".toml",
        "link.toml",
        "dirlink.toml",
        "",
        None,
        7,
    ]
    for name in names:
        reply = _save(client, session, name)
        assert reply.status == 400, (name, reply.status, reply.text)
        assert reply.json()["status"] == "refused"
    assert list(outside.iterdir()) == []
    assert not (root.parent / "escape.toml").exists()


def test_an_existing_file_is_replaced_only_on_the_second_confirmation(server, client):
    root = server.app.root
    session = client.session()["session"]
    assert client.run(session, {"collections.multiplier": "0.8"})["status"] == "ok"
    first = _save(client, session, "slower.toml")
    assert first.status == 200 and first.json()["replaced"] is False
    saved = root / "slower.toml"
    text = saved.read_text()
    # the file's comments are kept, the edit is written, and it loads as a scenario
    assert "# iFlytek (002230.SZ)" in text
    assert "# ASSUMPTION: a typical A-share aging matrix" in text
    assert load_scenario(saved).collections.multiplier == 0.8
    assert load_scenario(saved).buckets == load_scenario(IFLYTEK).buckets
    # a second save asks for a confirmation and leaves the file alone
    assert client.run(session, {"collections.multiplier": "0.7"})["status"] == "ok"
    second = _save(client, session, "slower.toml")
    assert second.status == 409 and second.json()["status"] == "exists"
    assert saved.read_text() == text
    # a wrong confirmation, or one for another name, replaces nothing
    assert _save(client, session, "slower.toml", confirm="guess").status == 409
    assert saved.read_text() == text
    code = _save(client, session, "slower.toml").json()["confirm"]
    other = client.session()["session"]
    assert _save(client, other, "slower.toml", confirm=code).status == 409
    assert saved.read_text() == text
    code = _save(client, session, "slower.toml").json()["confirm"]
    third = _save(client, session, "slower.toml", confirm=code)
    assert third.status == 200 and third.json()["replaced"] is True
    assert load_scenario(saved).collections.multiplier == 0.7
    # a confirmation is used once
    assert _save(client, session, "slower.toml", confirm=code).status == 409
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".")) == []


def test_csv_downloads_neutralise_formula_cells(server, client):
    session = client.session("hostile")["session"]
    assert client.run(session, {"cash.floor": "-250"})["status"] == "ok"
    reply = client.get(f"/api/download?session={session}&format=csv")
    assert reply.status == 200
    assert "attachment" in reply.headers["content-disposition"]
    rows = dict(csv.reader(io.StringIO(reply.text, newline="")))
    assert rows["scenario.scenario.name"] == "'" + HOSTILE_NAME
    assert rows["scenario.scenario.description"].startswith("'@SUM(A1:A9)")
    sources = [rows[f"scenario.scenario.sources[{i}]"] for i in range(5)]
    assert sources == ["'+1+2", "'-3", "'\tTAB", "'\rCR", "plain"]
    # numbers stay numbers, negative ones too
    assert rows["scenario.cash.floor"] == "-250.0"
    assert rows["edits.cash.floor"] == "-250.0"
    assert float(rows["p_runway_le_12"]) >= 0.0
    for key, value in rows.items():
        for cell in (key, value):
            if cell[:1] in ("=", "+", "@", "\t", "\r") or (cell[:1] == "-" and not _number(cell)):
                pytest.fail(f"a formula cell is not neutralised: {cell!r}")
    doc = client.get(f"/api/download?session={session}&format=json").json()
    assert doc["scenario"]["scenario"]["name"] == HOSTILE_NAME  # JSON keeps the text as it is
    assert doc["edits"] == {"cash.floor": -250.0}


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_a_save_never_goes_through_a_dangling_link(server, client):
    """A dangling link is refused by name, and the exclusive create (O_EXCL) that writes new
    files never follows one, even if it appeared after the check."""
    root = server.app.root
    session = client.session()["session"]
    target = root.parent / f"dangling-{os.getpid()}.toml"
    (root / "dangling.toml").symlink_to(target)
    assert _save(client, session, "dangling.toml").status == 400
    assert save_new(root / "dangling.toml", "x = 1\n") is False
    assert not target.exists()
