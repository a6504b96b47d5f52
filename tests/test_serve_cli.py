"""``arsim serve`` on the command line: options refused with one line and exit 2 before anything
listens, the printed link, Ctrl-C; and the small rules of the page's modules."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np
import pytest
from conftest import IFLYTEK, MINIMAL, ROOT

from simulator.cli import main
from simulator.serve import (
    MAX_PATHS,
    SAVE_NAME,
    Catalog,
    Guard,
    controls,
    neutralise,
    parse_edits,
    quantile_se,
    summary_csv,
)


def _one_line_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--host", "0.0.0.0"], "--host: 0.0.0.0 is not this machine's loopback address"),
        (["--host", "192.168.1.20"], "needs --allow-remote"),
        (["--allowed-host", "example.org"], "--allowed-host: needs --allow-remote"),
        (["--port", "70000"], "--port: must be 0..65535"),
        (["--port", "-1"], "--port: must be 0..65535"),
        (["--port", "http"], "invalid int value"),
        (["--paths", str(MAX_PATHS + 1)], "--paths: must be 1..1,000,000, got 1,000,001"),
        (["--paths", "0"], "--paths: must be 1..1,000,000"),
    ],
)
def test_bad_options_are_refused_with_one_line(capsys, argv, words):
    err = _one_line_error(capsys, ["serve", str(MINIMAL), *argv])
    assert words in err


def test_paths_beyond_the_memory_guard_are_refused(capsys, monkeypatch):
    import simulator.resources

    monkeypatch.setattr(simulator.resources, "machine_memory", lambda: 64 * 2**20)
    err = _one_line_error(capsys, ["serve", str(MINIMAL), "--paths", "1000000", "--port", "0"])
    assert "--paths: the page at 1,000,000 paths needs about" in err
    assert "use fewer --paths; big runs are 'arsim run'" in err


def test_a_port_in_use_and_a_bad_scenario_are_refused(capsys, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        err = _one_line_error(capsys, ["serve", str(MINIMAL), "--port", str(port)])
        assert f"--port: cannot listen on 127.0.0.1:{port}" in err
    bad = tmp_path / "bad.toml"
    bad.write_text(MINIMAL.read_text().replace("opening = 100.0", "opening = 'lots'"))
    err = _one_line_error(capsys, ["serve", str(bad), "--port", "0"])
    assert err.startswith(f"{bad}: cash.opening:")


def test_a_remote_host_with_allow_remote_warns(capsys, monkeypatch, tmp_path):
    """--host 0.0.0.0 --allow-remote: a warning, and the allowed Host names; the socket is bound
    on loopback here, so that the test listens on no other interface."""
    import simulator.serve._server as server_module

    real_bind = server_module.bind
    monkeypatch.setattr(server_module, "bind", lambda host, port: real_bind("127.0.0.1", 0))
    seen = {}

    def serve_forever(self):
        seen["hosts"] = self.guard.hosts
        raise KeyboardInterrupt

    monkeypatch.setattr(server_module.PageServer, "serve_forever", serve_forever)
    monkeypatch.chdir(tmp_path)
    argv = ["serve", str(MINIMAL), "--host", "0.0.0.0", "--allow-remote"]
    assert main([*argv, "--allowed-host", "box.lan", "--paths", "500"]) == 130
    out, err = capsys.readouterr()
    assert "warning: listening on 0.0.0.0 without TLS" in err
    assert err.strip().endswith("arsim serve: stopped")
    assert out.startswith("Open the what-if page (the link works once): http://127.0.0.1:")
    port = int(out.split("http://127.0.0.1:")[1].split("/")[0])
    assert seen["hosts"] == {f"127.0.0.1:{port}", f"localhost:{port}", f"box.lan:{port}"}


def test_serve_prints_a_link_that_works_once_and_stops_on_ctrl_c(tmp_path):
    arsim = [sys.executable, "-m", "simulator"]
    proc = subprocess.Popen(
        [*arsim, "serve", str(IFLYTEK), "--port", "0", "--paths", "2000"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("Open the what-if page (the link works once): http://127.0.0.1:")
        url = line.split(": ", 1)[1].strip()
        token = url.split("?token=")[1]
        assert len(token) >= 43  # 256 bits, base64url
        with urllib.request.urlopen(url, timeout=30) as reply:
            assert reply.status == 200
            assert "SameSite=Strict" in reply.headers["set-cookie"]
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=30)
        assert refused.value.code == 403
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert err.strip().endswith("arsim serve: stopped")
    assert "Traceback" not in err


# --- the rules of the modules


def test_edits_are_checked_by_the_scenario_rules():
    sc = Catalog([IFLYTEK])["iflytek_2024q3"].scenario
    values, errors = parse_edits(sc, {"collections.multiplier": " 0.8 ", "cash.floor": -5})
    assert values == {"collections.multiplier": 0.8, "cash.floor": -5.0} and errors == {}
    for text, reason in (
        ("nan", "must be a finite number"),
        ("inf", "must be a finite number"),
        ("1,5", "is not a number ('1,5')"),
        (True, "is not a number"),
        ("101", "must be ≤ 100, got 101"),
    ):
        values, errors = parse_edits(sc, {"collections.multiplier": text})
        assert values == {} and errors == {"collections.multiplier": reason}


def test_controls_show_the_files_values_and_ranges():
    sc = Catalog([IFLYTEK])["iflytek_2024q3"].scenario
    ctl = {c["path"]: c for c in controls(sc)}
    assert ctl["collections.multiplier"]["value"] == "1.0"
    assert ctl["defaults.monthly_rate[0]"]["value"] == "0.00001"  # no exponent
    assert ctl["defaults.correlation"]["max"] == 1.0 and ctl["defaults.correlation"]["max_open"]
    assert ctl["cash.opening"]["label"] == "Opening cash, CNY million"
    assert len([p for p in ctl if p.startswith("collections.monthly_rate[")]) == 6


def test_quantile_se_from_order_statistics():
    x = np.arange(10_000, dtype=float)
    assert quantile_se(x, 0.5) == pytest.approx(50.0, abs=0.3)  # sqrt(n q (1 - q))
    assert quantile_se(x, 0.99) == pytest.approx(np.sqrt(10_000 * 0.99 * 0.01), abs=0.3)
    assert quantile_se(x, 0.5, censored_above=5_000.0) is None
    assert quantile_se(x[:10], 0.5) is None


def test_csv_cells_and_save_names():
    assert [neutralise(c) for c in ("=1", "+1", "-1", "@A", "\tx", "\rx", "ok", -1.5, 3)] == [
        "'=1",
        "'+1",
        "'-1",
        "'@A",
        "'\tx",
        "'\rx",
        "ok",
        -1.5,
        3,
    ]
    text = summary_csv({"a": {"b": "=2+2"}, "n": -2.5, "none": None})
    assert text == "key,value\r\na.b,'=2+2\r\nn,-2.5\r\nnone,\r\n"
    good = ["a.toml", "My_File-2.toml", "x" * 64 + ".toml"]
    bad = ["../a.toml", "a/b.toml", "/a.toml", "a.TOML", ".toml", "a b.toml", "x" * 65 + ".toml"]
    assert all(SAVE_NAME.fullmatch(n) for n in good)
    assert not any(SAVE_NAME.fullmatch(n) for n in bad)


def test_the_guard_spends_tokens_and_checks_the_cookie_in_constant_time():
    guard = Guard(8050)
    assert guard.hosts == {"127.0.0.1:8050", "localhost:8050"}
    assert len(guard.token) >= 43
    second = guard.new_token()
    assert guard.exchange(second) and not guard.exchange(second)
    assert guard.exchange(guard.token) and not guard.exchange(guard.token)
    secret = guard.set_cookie().split(";")[0].split("=", 1)[1]
    assert guard.authorised(secret) and not guard.authorised(secret[:-1] + "x")
    assert not guard.authorised(None)
    remote = Guard(9000, "0.0.0.0", ["box.lan"])
    assert remote.hosts == {"127.0.0.1:9000", "localhost:9000", "box.lan:9000"}
    assert "::1" not in json.dumps(sorted(remote.hosts))
    assert Guard(9001, "::1").hosts == {"127.0.0.1:9001", "localhost:9001", "[::1]:9001"}


def test_the_cli_does_not_import_the_web_server_until_serve_runs():
    code = (
        "import sys\n"
        "from simulator.cli import main\n"
        "main(['serve', '--help'])\n"
        "print(sorted({'starlette', 'uvicorn', 'numpy'} & set(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "usage: arsim serve" in out.stdout and "--allow-remote" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "[]"
