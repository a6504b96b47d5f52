"""Sessions of the what-if page: two tabs do not see each other's edits, a flood of edits does
not queue runs (the last one wins), an edit's numbers are simulate()'s on the same seed and
paths, and sweeps fill in, are cancelled per tab and stop their work."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time

import pytest
from conftest import BENCH, IFLYTEK
from serve_helpers import TEST_PATHS, Client, start_server

from simulator import load_scenario, simulate, with_overrides
from simulator._format import fmt_money, fmt_pct
from simulator.serve import SUPERSEDED, LatestOnly


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("serve-sessions"))
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def client(server):
    c = Client(server)
    c.login()
    return c


def _number(view, key):
    return next(n for n in view["numbers"] if n["key"] == key)


def test_an_edit_shows_what_simulate_gives_on_the_same_seed_and_paths(client):
    session = client.session()["session"]
    out = client.run(session, {"collections.multiplier": "0.85", "cash.opening": "3000"})
    assert out["status"] == "ok"
    sc = load_scenario(IFLYTEK)
    edited = with_overrides(sc, {"collections.multiplier": 0.85, "cash.opening": 3000.0})
    s = simulate(edited, seed=sc.simulation.seed, paths=TEST_PATHS).summary(analytics=False)
    base = simulate(sc, seed=sc.simulation.seed, paths=TEST_PATHS).summary(analytics=False)
    view = out["view"]
    p12 = _number(view, "p_runway_le_12")
    assert p12["text"] == fmt_pct(s["p_runway_le_12"])
    assert p12["se"] == f"± {fmt_pct(s['p_runway_le_12_se'])}"
    assert p12["base"] == fmt_pct(base["p_runway_le_12"])
    assert _number(view, "credit_loss_mean")["text"] == fmt_money(s["credit_loss_mean"])
    assert _number(view, "credit_loss_p99")["text"] == fmt_money(s["credit_loss_p99"])
    assert _number(view, "runway_p50")["text"] == f"{s['runway_quantiles']['p50']} months"
    assert view["paths"] == TEST_PATHS and view["seed"] == sc.simulation.seed


def _download(client, session):
    return client.get(f"/api/download?session={session}&format=json").json()


def test_two_sessions_do_not_see_each_others_edits(client):
    a = client.session()["session"]
    b = client.session()["session"]
    results = {}

    def edit(session, value):
        results[session] = client.run(session, {"collections.multiplier": value})

    threads = [threading.Thread(target=edit, args=a_v) for a_v in ((a, "0.6"), (b, "1.3"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results[a]["status"] == results[b]["status"] == "ok"  # neither replaced the other
    assert results[a]["edits"] == {"collections.multiplier": 0.6}
    assert results[b]["edits"] == {"collections.multiplier": 1.3}
    pa = _number(results[a]["view"], "p_runway_le_12")["value"]
    pb = _number(results[b]["view"], "p_runway_le_12")["value"]
    assert pa > pb  # slower collections run out of cash sooner
    assert _download(client, a)["edits"] == {"collections.multiplier": 0.6}
    assert _download(client, b)["edits"] == {"collections.multiplier": 1.3}
    # a bad value in one tab leaves both tabs' last good edits alone
    bad = client.run(a, {"collections.multiplier": "-1"})
    assert bad["status"] == "invalid" and "collections.multiplier" in bad["errors"]
    assert _download(client, a)["edits"] == {"collections.multiplier": 0.6}
    assert _download(client, b)["edits"] == {"collections.multiplier": 1.3}
    # a third tab starts from base
    c = client.session()["session"]
    assert _download(client, c)["edits"] == {}


def test_bad_values_get_a_message_per_field_and_run_nothing(server, client):
    session = client.session()["session"]
    runs = server.app.workbench.runs
    out = client.run(
        session,
        {
            "collections.monthly_rate[0]": "-0.1",
            "collections.monthly_rate[1]": "abc",
            "defaults.monthly_rate[2]": "1.5",
            "collections.multiplier": "",
            "simulation.paths": "5",
        },
    )
    assert out["status"] == "invalid"
    assert out["errors"] == {
        "collections.monthly_rate[0]": "must be ≥ 0, got -0.1",
        "collections.monthly_rate[1]": "is not a number ('abc')",
        "defaults.monthly_rate[2]": "must be ≤ 1, got 1.5",
        "collections.multiplier": "enter a number",
        "simulation.paths": "is not a field this page can change",
    }
    assert server.app.workbench.runs == runs


def test_a_flood_of_edits_does_not_queue_runs(tmp_path):
    """Twenty edits sent while a run is going: the ones in between are answered as replaced at
    once and never run; the last one runs and is what the session keeps."""
    srv = start_server(tmp_path, [BENCH], paths=20_000)
    try:
        c = Client(srv)
        c.login()
        session = c.session("bench")["session"]
        runs = srv.app.workbench.runs
        conns = []
        values = [f"{0.7 + 0.01 * i:.2f}" for i in range(20)]
        for v in values:  # sent one after the other, without waiting for answers
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=120)
            body = json.dumps({"session": session, "edits": {"collections.multiplier": v}})
            headers = {"Cookie": c.cookie, "Origin": c.origin, "Content-Type": "application/json"}
            conn.request("POST", "/api/run", body=body, headers=headers)
            conns.append(conn)
            time.sleep(0.002)
        replies = [json.loads(conn.getresponse().read()) for conn in conns]
        for conn in conns:
            conn.close()
        statuses = [r["status"] for r in replies]
        assert statuses[-1] == "ok"
        assert replies[-1]["edits"] == {"collections.multiplier": float(values[-1])}
        ran = srv.app.workbench.runs - runs
        assert ran == statuses.count("ok") <= 3, statuses
        assert statuses.count("superseded") >= 17, statuses
        slot = srv.app.sessions.get(session).runs
        assert slot.started == ran and slot.superseded == statuses.count("superseded")
        assert _download(c, session)["edits"] == {"collections.multiplier": float(values[-1])}
    finally:
        srv.stop()


def test_latest_only_keeps_one_waiting_job():
    async def scenario():
        slot = LatestOnly()
        gate = asyncio.Event()
        order = []

        def job(name, wait=False):
            async def run():
                if wait:
                    await gate.wait()
                order.append(name)
                return name

            return run

        first = asyncio.create_task(slot.submit(job("a", wait=True)))
        await asyncio.sleep(0)
        waiting = [asyncio.create_task(slot.submit(job(n))) for n in "bcdef"]
        await asyncio.sleep(0)
        assert slot.busy and slot.started == 1
        gate.set()
        results = await asyncio.gather(first, *waiting)
        return results, order, slot

    results, order, slot = asyncio.run(scenario())
    assert results == ["a", SUPERSEDED, SUPERSEDED, SUPERSEDED, SUPERSEDED, "f"]
    assert order == ["a", "f"] and slot.started == 2 and slot.superseded == 4


def _sweep(client, session, points, **kw):
    body = {
        "session": session,
        "field": "collections.multiplier",
        "start": "0.6",
        "stop": "1.4",
        "points": points,
        "metric": "p_runway_le_12",
        **kw,
    }
    return client.post("/api/sweep", body).json()


def _status(client, session):
    return client.get(f"/api/sweep?session={session}").json()["sweep"]


def _wait(client, session, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = _status(client, session)
        if s["state"] not in ("queued", "running"):
            return s
        time.sleep(0.05)
    pytest.fail("the sweep did not finish")


def test_a_sweep_fills_in_on_common_random_numbers(client):
    session = client.session()["session"]
    started = _sweep(client, session, 5)
    assert started["status"] == "ok" and started["sweep"]["total"] == 5
    s = _wait(client, session)
    assert s["state"] == "done" and s["done"] == 5
    xs = [p["x"] for p in s["points"]]
    ys = [p["y"] for p in s["points"]]
    assert xs == [0.6, 0.8, 1.0, 1.2, 1.4]
    assert ys == sorted(ys, reverse=True)  # common random numbers: monotone in the multiplier
    sc = load_scenario(IFLYTEK)
    one = simulate(sc, seed=sc.simulation.seed, paths=TEST_PATHS).summary(analytics=False)
    assert ys[2] == one["p_runway_le_12"] and s["points"][2]["se"] == one["p_runway_le_12_se"]
    assert s["points"][2]["text"] == fmt_pct(one["p_runway_le_12"])


def test_bad_sweeps_are_refused_before_anything_runs(client):
    session = client.session()["session"]
    for kw, field in (
        ({"points": 51}, "points"),
        ({"points": 1}, "points"),
        ({"points": "7"}, "points"),
        ({"field": "simulation.paths"}, "simulation.paths"),
        ({"metric": "implied_rates.0-6m"}, "metric"),
        ({"start": "-1"}, "collections.multiplier"),
        ({"stop": "abc"}, "to"),
    ):
        out = _sweep(client, session, kw.pop("points", 5), **kw)
        assert out["status"] == "invalid" and out["field"] == field, (kw, out)
    assert _status(client, session) is None


def test_cancelling_a_sweep_stops_it_and_only_it(client):
    a = client.session()["session"]
    b = client.session()["session"]
    assert _sweep(client, a, 50)["status"] == "ok"
    assert _sweep(client, b, 8)["status"] == "ok"
    cancelled = client.post("/api/sweep/cancel", {"session": a}).json()["sweep"]
    assert cancelled["state"] == "cancelled"
    done_b = _wait(client, b)
    assert done_b["state"] == "done" and done_b["done"] == 8  # the other tab's sweep goes on
    time.sleep(0.5)
    after = _status(client, a)
    assert after["state"] == "cancelled" and after["done"] < 50
    # the work stopped: of its 50 tasks only those handed out before the cancel ever started
    assert after["tasks"] == 50 and after["tasks_started"] < 50
    time.sleep(0.5)
    later = _status(client, a)
    assert later["done"] == after["done"] and later["tasks_started"] == after["tasks_started"]


def test_an_edit_preempts_its_tabs_sweep(client):
    a = client.session()["session"]
    assert _sweep(client, a, 50)["status"] == "ok"
    assert client.run(a, {"collections.multiplier": "0.9"})["status"] == "ok"
    s = _status(client, a)
    assert s["state"] == "cancelled" and s["done"] < 50


def test_malformed_requests_get_a_message_not_an_error(client):
    for body, status in (
        (b"not json", 400),
        (b"[1, 2]", 400),
        (b'{"scenario": ["iflytek_2024q3"]}', 404),
        (b'{"scenario": "../scenarios/iflytek_2024q3"}', 404),
    ):
        reply = client.post("/api/session", data=body)
        assert reply.status == status, (body, reply.text)
        assert reply.json()["status"] == "error"
    session = client.session()["session"]
    reply = client.post("/api/run", {"session": session, "edits": ["collections.multiplier"]})
    assert reply.status == 400
    reply = client.post("/api/run", {"session": "no-such-session", "edits": {}})
    assert reply.status == 404 and "reload the page" in reply.json()["error"]
