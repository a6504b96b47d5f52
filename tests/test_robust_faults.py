"""Faults mid-run (issue 8, part 4): `arsim run` and `arsim sweep` in a subprocess, killed with
SIGINT or SIGKILL at moments drawn from a seeded generator; a Dask worker killed mid-sweep.

What must hold: a results folder has a manifest only when it is complete; an earlier folder
replaced with --force survives a kill; what a SIGKILL leaves (a hidden temporary folder) is
removed by the next run in the same place; a killed sweep resumes to the same table; a lost
Dask worker's points end in the table or in failures.json (exit 1), never silently dropped.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import MINIMAL, read_table, verify_folder

from simulator.cli import main

KILLS = max(3, int(os.environ.get("ARSIM_FUZZ_EXAMPLES", "25")) // 8)  # per signal (default 3)


def _spawn(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "simulator", *args],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _kill_after(proc: subprocess.Popen, delay: float, sig: int) -> tuple[int, str]:
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err.decode(errors="replace")


def _product_lines(err: str, *files: Path) -> list[str]:
    """What arsim itself printed on stderr: its ``arsim: …`` messages and ``FILE: FIELD: reason``
    errors about the files it was given. Not the file paths in a traceback, which contain the
    clone's folder name (a clone in a folder named ``arsim`` is the usual case)."""
    prefixes = ("arsim:", *(f"{f}: " for f in files))
    return [line for line in err.splitlines() if line.startswith(prefixes)]


def test_run_killed_at_random_moments_never_leaves_a_false_or_broken_folder(tmp_path, capsys):
    out = tmp_path / "res"
    common = ["run", str(MINIMAL), "--workers", "1", "--out", str(out)]
    assert main([*common, "--paths", "2000", "--seed", "1"]) == 0
    capsys.readouterr()
    old = verify_folder(out)
    rng = random.Random(20261126)
    seen = {"old": 0, "new": 0}
    for i in range(2 * KILLS):
        sig = signal.SIGINT if i % 2 == 0 else signal.SIGKILL
        proc = _spawn([*common, "--paths", "30000", "--seed", str(100 + i), "--force"], tmp_path)
        rc, err = _kill_after(proc, rng.uniform(0.3, 3.5), sig)
        # the folder is there and complete: the earlier one, or a complete new one
        manifest = verify_folder(out)
        seen["old" if manifest["seed"] == old["seed"] else "new"] += 1
        old = manifest
        hidden = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
        if sig == signal.SIGINT:
            said = _product_lines(err, MINIMAL, out)
            if "Traceback" in err:  # Ctrl-C while Python imports the libraries, before arsim
                assert "KeyboardInterrupt" in err and ", in main" not in err, err  # starts
                assert said == [], err
            elif said:  # arsim's own handler: its one line, exit 130
                assert len(said) == 1 and said[0].startswith("arsim: interrupted"), err
                # under `python -m`, CPython sometimes still exits by the signal after a
                # Ctrl-C inside a lazy import that arsim handled (a shell sees 130 both ways)
                assert rc in (130, -signal.SIGINT), err
            else:  # before the interpreter set its handler (default action), or already done
                assert rc in (-signal.SIGINT, 0), err
            mine = [h for h in hidden if f"-{proc.pid}-" in h]
            assert mine == [], mine  # an interrupted run cleans up after itself
        else:
            assert all(".res.tmp-" in h for h in hidden), hidden
        assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["res"]
    # the next run in the same place removes what killed runs left behind
    assert main([*common, "--paths", "500", "--force"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]
    verify_folder(out)


def test_killed_runs_with_default_folders_leave_nothing_that_looks_complete(tmp_path):
    rng = random.Random(7)
    for _ in range(KILLS):
        proc = _spawn(["run", str(MINIMAL), "--workers", "1", "--paths", "30000"], tmp_path)
        _kill_after(proc, rng.uniform(0.5, 3.5), signal.SIGKILL)
    stem = tmp_path / "results" / "example_minimal"
    for folder in stem.iterdir() if stem.exists() else []:
        if folder.name.startswith("."):
            assert not (folder / "manifest.json").exists() or ".tmp-" in folder.name
        else:
            verify_folder(folder)  # a visible folder is always complete
    # a later run cleans up the temporaries of the killed ones
    proc = subprocess.run(
        [sys.executable, "-m", "simulator", "run", str(MINIMAL), "--paths", "500"],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert not [p for p in stem.iterdir() if p.name.startswith(".")]


def test_sweep_killed_at_random_moments_resumes_to_the_same_table(tmp_path, capsys):
    args = ["sweep", str(MINIMAL), "--param", "collections.multiplier=0.5:1.5:12"]
    args += ["--paths", "4096", "--workers", "1"]
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0
    capsys.readouterr()
    rng = random.Random(11)
    for sig in (signal.SIGINT, signal.SIGKILL, signal.SIGKILL):
        proc = _spawn([*args, "--out", "k"], tmp_path)
        rc, err = _kill_after(proc, rng.uniform(1.0, 5.0), sig)
        assert "Traceback" not in err
        if rc == 0:
            break
    assert main([*args, "--out", str(tmp_path / "k"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["computed"] + doc["reused"] == 12
    pd.testing.assert_frame_equal(
        read_table(tmp_path / "k" / "table.parquet"),
        read_table(tmp_path / "whole" / "table.parquet"),
        check_exact=True,
    )
    assert not [p for p in (tmp_path / "k" / "points").iterdir() if p.name.startswith(".")]


def test_a_dask_worker_killed_mid_sweep_is_retried_or_reported(tmp_path):
    pytest.importorskip("distributed", reason="needs the distributed extra")
    psutil = pytest.importorskip("psutil", reason="installed with the distributed extra")
    n_points = 12
    args = ["sweep", str(MINIMAL), "--param", f"collections.multiplier=0.5:1.5:{n_points}"]
    args += ["--paths", "20000", "--scheduler", "local-dask", "--workers", "2", "--out", "d"]
    proc = _spawn(args, tmp_path)
    points = tmp_path / "d" / "points"
    killed = None
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if points.is_dir() and len(list(points.glob("*.json"))) >= 2:
                workers = [
                    c
                    for c in psutil.Process(proc.pid).children(recursive=True)
                    if "spawn_main" in " ".join(c.cmdline())  # dask workers (spawned)
                ]
                if workers:
                    killed = workers[0].pid
                    os.kill(killed, signal.SIGKILL)
                    break
            time.sleep(0.02)
        _, err = proc.communicate(timeout=300)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    err = err.decode(errors="replace")
    if killed is None:
        pytest.fail(f"the sweep ended before a worker could be killed: {err[-500:]}")
    assert proc.returncode in (0, 1), err[-2000:]
    folder = tmp_path / "d"
    table = read_table(folder / "table.parquet")
    failures = (
        json.loads((folder / "failures.json").read_text())
        if (folder / "failures.json").exists()
        else []
    )
    assert len(table) + len(failures) == n_points  # every point: finished or reported
    assert (proc.returncode == 1) == bool(failures)
    if failures:
        assert "failed" in err
