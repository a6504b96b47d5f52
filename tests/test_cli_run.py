"""`arsim run`, `arsim plot` and the results folder, in-process."""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    BUNDLED_TOML,
    IFLYTEK,
    MINIMAL,
    ROOT,
    SENSETIME,
    assert_one_line_error,
    read_table,
    verify_folder,
)

from simulator import load_scenario
from simulator.cli import main
from simulator.storage import load_results

#: The summary keys of DESIGN 2.9 delivered by the engine (implied rates and ECL come later).
SUMMARY_KEYS = {
    "p_runway_le_12",
    "p_runway_le_12_se",
    "p_runway_le_24",
    "p_runway_le_24_se",
    "p_runway_le_horizon",
    "p_runway_le_horizon_se",
    "runway_quantiles",
    "credit_loss_mean",
    "credit_loss_mean_se",
    "credit_loss_p95",
    "credit_loss_p99",
    "collections_mean",
    "collections_mean_se",
    "cash_end_mean",
    "cash_end_mean_se",
    "min_cash_p5",
    "allowance_opening",
    "disclosed_rates",
    "scenario",
    "seed",
    "paths",
    "engine_version",
    "wall_seconds",
}
FOLDER_FILES = {
    "summary.json",
    "paths.parquet",
    "monthly.csv",
    "scenario.toml",
    "manifest.json",
    "provisioning.csv",
    "provision_matrix.csv",
    "plots/runway.png",
    "plots/cash_fan.png",
    "plots/aging.png",
    "plots/allowance.png",
}


def _files(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


@pytest.mark.parametrize("scenario", BUNDLED_TOML, ids=lambda p: p.stem)
def test_run_writes_a_complete_folder_and_a_second_run_leaves_it_alone(scenario, in_tmp, capsys):
    assert main(["run", str(scenario), "--paths", "3000"]) == 0
    out = capsys.readouterr().out
    assert "P(runway ≤ 12 months)" in out and "credit loss" in out
    runs = sorted((in_tmp / "results" / scenario.stem).iterdir())
    assert len(runs) == 1
    first = runs[0]
    assert f"Results written to {first.relative_to(in_tmp)}/" in out
    files = _files(first)
    declares_ecl = load_scenario(scenario).ecl_scenarios is not None
    segmented = load_scenario(scenario).segments is not None
    extra = {"ecl_scenarios.csv"} if declares_ecl else set()
    assert set(files) == FOLDER_FILES | extra | ({"plots/segments.png"} if segmented else set())
    assert verify_folder(first)["paths"] == 3000
    summary = json.loads((first / "summary.json").read_text())
    assert set(summary) >= SUMMARY_KEYS
    assert len(read_table(first / "paths.parquet")) == 3000

    assert main(["run", str(scenario), "--paths", "1000", "--seed", "5"]) == 0
    runs = sorted((in_tmp / "results" / scenario.stem).iterdir())
    assert len(runs) == 2
    assert _files(first) == files, "the second run touched the first folder"
    assert not [p for p in runs[0].parent.iterdir() if p.name.startswith(".")]


def test_json_output_is_the_summary_and_nothing_else(in_tmp, capsys):
    scenario = IFLYTEK
    assert main(["run", str(scenario), "--paths", "2000", "--json", "--out", "r"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert set(summary) >= SUMMARY_KEYS
    assert set(summary["runway_quantiles"]) == {"p5", "p25", "p50", "p75", "p95"}
    assert summary["paths"] == 2000
    assert summary["disclosed_rates"] == dict(
        zip(
            load_scenario(scenario).labels,
            load_scenario(scenario).buckets.provision_rates,
            strict=True,
        )
    )
    saved = json.loads((in_tmp / "r" / "summary.json").read_text())
    assert saved == summary


def test_out_exists_needs_force_and_force_replaces_when_complete(in_tmp, capsys):
    scenario = str(MINIMAL)
    assert main(["run", scenario, "--paths", "500", "--out", "r"]) == 0
    before = _files(in_tmp / "r")
    capsys.readouterr()
    assert main(["run", scenario, "--paths", "700", "--out", "r"]) == 2
    assert_one_line_error(capsys.readouterr().err, "--force", prefix="r: --out: ")
    assert _files(in_tmp / "r") == before
    assert main(["run", scenario, "--paths", "700", "--out", "r", "--force"]) == 0
    assert json.loads((in_tmp / "r" / "summary.json").read_text())["paths"] == 700
    assert sorted(p.name for p in in_tmp.iterdir()) == ["r"]


def test_set_overrides_reach_the_run_and_the_manifest(in_tmp, capsys):
    scenario = str(IFLYTEK)
    args = ["run", scenario, "--paths", "500", "--out", "r", "--json"]
    args += ["--set", "collections.multiplier=0.5", "--set", "collections.monthly_rate[2]=0.03"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["scenario"]["collections"]["multiplier"] == 0.5
    assert summary["scenario"]["collections"]["monthly_rate"][2] == 0.03
    manifest = json.loads((in_tmp / "r" / "manifest.json").read_text())
    assert manifest["overrides"] == {
        "collections.multiplier": 0.5,
        "collections.monthly_rate[2]": 0.03,
        "simulation.paths": 500,
    }
    # the saved scenario reproduces the run
    assert main(["run", "r/scenario.toml", "--paths", "500", "--out", "r2", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    for key in ("p_runway_le_12", "credit_loss_mean", "cash_end_mean", "min_cash_p5"):
        assert again[key] == summary[key]


def test_the_header_gives_the_simulation_and_wall_times_and_the_overrides(in_tmp, capsys):
    """The header says both times (the simulation's own, kept as wall_seconds in the summary,
    and the command's from its start to the summary) and what --set changed."""
    scenario = str(ROOT / "scenarios" / "example_minimal.toml")
    args = ["run", scenario, "--paths", "400", "--seed", "7", "--out", "r"]
    args += ["--set", "collections.multiplier=0.8", "--set", "collections.monthly_rate[2]=0.03"]
    started = time.perf_counter()
    assert main(args) == 0
    elapsed = time.perf_counter() - started
    lines = capsys.readouterr().out.splitlines()
    summary = json.loads((in_tmp / "r" / "summary.json").read_text())
    m = re.fullmatch(
        r"400 paths × (\d+) months, seed 7; simulation ([\d.]+) s, wall ([\d.,]+) s", lines[1]
    )
    assert m, lines[1]
    assert int(m[1]) == summary["horizon_months"]
    simulation, wall = float(m[2]), float(m[3].replace(",", ""))
    assert simulation == pytest.approx(summary["wall_seconds"], abs=0.051)
    assert simulation <= wall + 0.05 and wall <= elapsed + 0.05
    assert lines[2] == (
        "overrides: --set collections.multiplier=0.8 --set collections.monthly_rate[2]=0.03"
    )
    assert main(["run", scenario, "--paths", "400", "--out", "base"]) == 0
    assert not any(line.startswith("overrides") for line in capsys.readouterr().out.splitlines())


def test_plot_redraws_from_the_folder(in_tmp, capsys):
    scenario = str(IFLYTEK)
    assert main(["run", scenario, "--paths", "1000", "--out", "r"]) == 0
    for png in (in_tmp / "r" / "plots").iterdir():
        png.unlink()
    capsys.readouterr()
    assert main(["plot", "r"]) == 0
    out = capsys.readouterr().out.split()
    assert sorted(Path(p).name for p in out) == [
        "aging.png",
        "allowance.png",
        "cash_fan.png",
        "runway.png",
    ]
    verify_folder(in_tmp / "r")  # the manifest lists the redrawn plots


@pytest.mark.parametrize(
    "setup, reason",
    [
        (lambda p: None, "no such results folder"),
        (lambda p: p.mkdir(), "not a complete arsim results folder"),
    ],
    ids=["missing", "empty"],
)
def test_plot_refuses_what_is_not_a_results_folder(in_tmp, capsys, setup, reason):
    setup(in_tmp / "x")
    assert main(["plot", "x"]) == 2
    assert_one_line_error(capsys.readouterr().err, reason, prefix="x: ")


def test_results_round_trip(in_tmp, capsys):
    scenario = str(SENSETIME)
    assert main(["run", scenario, "--paths", "1500", "--out", "r", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    back = load_results(in_tmp / "r").summary()
    summary.pop("wall_seconds"), back.pop("wall_seconds")
    assert back == summary
    monthly = read_table(in_tmp / "r" / "monthly.csv")
    assert np.isfinite(monthly.drop(columns="date").to_numpy()).all()


def test_python_m_simulator_is_the_cli():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "simulator", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.startswith("arsim ")


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--paths", "100", "--out", "afile/sub"],
        ["sweep", "--paths", "100", "--param", "collections.multiplier=0.5,1", "--out", "afile/s"],
        ["run", "--paths", "100", "--workers", "0"],
    ],
    ids=["run-under-a-file", "sweep-under-a-file", "workers-0"],
)
def test_an_unusable_out_or_worker_count_is_refused_before_any_work(in_tmp, capsys, args):
    (in_tmp / "afile").write_text("")
    scenario = str(MINIMAL)
    assert main([args[0], scenario, *args[1:]]) == 2
    line = assert_one_line_error(capsys.readouterr().err)
    assert line.startswith(("afile/", scenario))
    assert sorted(p.name for p in in_tmp.iterdir()) == ["afile"]


def test_simulate_reports_progress_once_per_finished_block():
    from simulator import simulate
    from simulator.engine import BLOCK_SIZE

    done: list[int] = []
    sc = load_scenario(MINIMAL)
    simulate(sc, paths=2 * BLOCK_SIZE + 5, workers=2, progress=done.append)
    assert sorted(done) == [5, BLOCK_SIZE, BLOCK_SIZE]


def _run_with_stderr(tmp_path: Path, stderr_tty: bool) -> str:
    """``arsim run`` in a child process; its stderr is a pseudo-terminal or a pipe."""
    import fcntl
    import os
    import pty
    import struct
    import subprocess
    import sys
    import termios

    cmd = [sys.executable, "-m", "simulator", "run", str(MINIMAL)]
    cmd += ["--paths", "20000", "--out", str(tmp_path / "r")]
    if not stderr_tty:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0
        return done.stderr
    master, slave = pty.openpty()
    # a terminal 100 columns wide (a fresh pseudo-terminal has 0, and tqdm then draws nothing)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=300) == 0
    return b"".join(chunks).decode(errors="replace")


def test_progress_bar_on_a_terminal_and_silence_otherwise(tmp_path):
    piped = _run_with_stderr(tmp_path / "pipe", stderr_tty=False)
    # off a terminal: the scenario's warnings (example_minimal's open last bucket), no bar
    assert all(line.startswith("warning: ") for line in piped.splitlines()), piped
    assert "simulating" not in piped and "path/s" not in piped
    shown = _run_with_stderr(tmp_path / "tty", stderr_tty=True)
    assert "simulating" in shown and "20.0k/20.0k" in shown and "path/s" in shown
