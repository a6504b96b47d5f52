"""`arsim sweep`, `solve` and `sensitivity`: folders, resume, schedulers, exit codes."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import tomlkit
from factories import BASE

from simulator import sweep as sw
from simulator.cli import main


def _write_scenario(path: Path, **changes) -> str:
    data = copy.deepcopy(BASE)
    data["simulation"].update(
        {"paths": 5000, "horizon_months": 24, "trajectory_paths": 100, "runoff_paths": 50}
    )
    for dotted, value in changes.items():
        section, field = dotted.split("__")
        data.setdefault(section, {})[field] = value
    path.write_text(tomlkit.dumps(data))
    return str(path)


@pytest.fixture
def scen(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return _write_scenario(tmp_path / "book.toml")


def _table(folder: Path) -> pd.DataFrame:
    return pd.read_parquet(folder / "table.parquet").drop(columns="wall_seconds")


def _one_line(err: str) -> str:
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    return err.strip()


# --------------------------------------------------------------------------------------------
# sweep


def test_sweep_writes_table_plots_points_and_json(scen, tmp_path, capsys):
    args = ["sweep", scen, "--param", "collections.multiplier=0.8:1.2:3", "--workers", "1"]
    args += ["--out", "s", "--json", "--metric", "p_runway_le_12,credit_loss_mean"]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    out = tmp_path / "s"
    assert doc["folder"] == "s" and doc["computed"] == 3 and doc["reused"] == 0
    assert [p["collections.multiplier"] for p in doc["points"]] == [0.8, 1.0, 1.2]
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert {"sweep.json", "manifest.json", "table.parquet", "table.csv"} <= names
    assert {"plots/p_runway_le_12.png", "plots/credit_loss_mean.png"} <= names
    assert len([n for n in names if n.startswith("points/")]) == 3
    table = pd.read_parquet(out / "table.parquet")
    csv = pd.read_csv(out / "table.csv")
    numbers = table.select_dtypes("number").columns
    pd.testing.assert_frame_equal(table[numbers], csv[numbers], check_exact=True)
    assert table["p_runway_le_12"].tolist() == [p["p_runway_le_12"] for p in doc["points"]]
    assert {"runway_quantiles.p50", "disclosed_rates.1y+", "p_runway_le_12_se"} <= set(table)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "arsim-sweep/1" and manifest["points"] == 3
    for record in (out / "points").iterdir():
        point = json.loads(record.read_text())
        assert point["key"] == record.stem and "p_runway_le_12" in point["summary"]


def test_text_output_and_the_scenarios_sweep_table(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    scen = _write_scenario(tmp_path / "b.toml")
    with open(scen, "a") as fh:
        fh.write('\n[sweep]\n"collections.multiplier" = "0.9:1.1:3"\n')
    assert main(["sweep", scen, "--workers", "1", "--paths", "1000"]) == 0
    out = capsys.readouterr().out
    assert "3 points × 1,000 paths" in out and "P(runway ≤ 12 months)" in out
    assert "Results written to results/b/" in out
    (folder,) = (tmp_path / "results" / "b").iterdir()
    assert _table(folder)["collections.multiplier"].tolist() == [0.9, 1.0, 1.1]


@pytest.fixture(scope="module")
def dask_cluster():
    distributed = pytest.importorskip("distributed", reason="needs the distributed extra")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    try:
        yield cluster
    finally:
        cluster.close()


def test_identical_tables_from_every_scheduler(scen, tmp_path, capsys, dask_cluster):
    base = ["sweep", scen, "--paths", "9000"]
    five = ["--param", "collections.multiplier=0.6:1.4:5"]
    dask = ["--scheduler", dask_cluster.scheduler_address]
    # one worker (this process), two local processes and the test's Dask cluster, a task a
    # point (five points keep two workers busy)
    assert main([*base, *five, "--workers", "1", "--out", "one"]) == 0
    assert main([*base, *five, "--workers", "2", "--out", "two"]) == 0
    assert main([*base, *five, *dask, "--out", "dask"]) == 0
    one = _table(tmp_path / "one")
    assert len(one) == 5 and one["paths"].eq(9000).all()  # three blocks a point
    for other in ("two", "dask"):
        pd.testing.assert_frame_equal(_table(tmp_path / other), one, check_exact=True)
    # three points on two workers: a task a block of paths, combined here
    three = ["--param", "collections.multiplier=0.6,1.0,1.4"]
    assert main([*base, *three, "--workers", "1", "--out", "one3"]) == 0
    assert main([*base, *three, "--workers", "2", "--out", "two3"]) == 0
    assert main([*base, *three, *dask, "--out", "dask3"]) == 0
    one3 = _table(tmp_path / "one3")
    pd.testing.assert_frame_equal(one3, one.iloc[[0, 2, 4]].reset_index(drop=True))
    for other in ("two3", "dask3"):
        pd.testing.assert_frame_equal(_table(tmp_path / other), one3, check_exact=True)


def test_local_dask_scheduler_starts_and_stops_its_own_cluster(scen, tmp_path, capsys):
    pytest.importorskip("distributed", reason="needs the distributed extra")
    base = ["sweep", scen, "--param", "collections.multiplier=0.8,1.2", "--paths", "3000"]
    assert main([*base, "--workers", "1", "--out", "one"]) == 0
    assert main([*base, "--scheduler", "local-dask", "--workers", "1", "--out", "ld"]) == 0
    pd.testing.assert_frame_equal(_table(tmp_path / "ld"), _table(tmp_path / "one"))


def test_a_sweep_killed_midway_resumes_without_recomputing_finished_points(scen, tmp_path, capsys):
    args = ["sweep", scen, "--param", "collections.multiplier=0.5:1.5:24", "--paths", "8192"]
    args += ["--workers", "1"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", *args, "--out", "k"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    points = tmp_path / "k" / "points"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if points.is_dir() and len(list(points.glob("*.json"))) >= 4:
                break
            assert proc.poll() is None, "the sweep ended before it could be interrupted"
            time.sleep(0.005)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finished = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in points.glob("*.json")}
    assert 4 <= len(finished) < 24
    assert not (tmp_path / "k" / "table.parquet").exists()

    assert main([*args, "--out", "k", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["reused"] == len(finished) and doc["computed"] == 24 - len(finished)
    for name, (mtime, content) in finished.items():
        assert (points / name).stat().st_mtime_ns == mtime and (
            points / name
        ).read_bytes() == content
    assert not [p for p in points.iterdir() if p.name.startswith(".")]  # no temp files left

    assert main([*args, "--out", "whole"]) == 0
    pd.testing.assert_frame_equal(
        _table(tmp_path / "k"), _table(tmp_path / "whole"), check_exact=True
    )


def test_out_folder_rules(scen, tmp_path, capsys):
    sweep = ["sweep", scen, "--param", "collections.multiplier=0.9,1.1", "--workers", "1"]
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "notes.txt").write_text("mine")
    assert main([*sweep, "--out", "r"]) == 2
    err = _one_line(capsys.readouterr().err)
    assert err.startswith("r: --out:") and "--force" in err
    assert os.listdir(tmp_path / "r") == ["notes.txt"]
    # --force replaces it, only once the sweep is complete
    assert main([*sweep, "--out", "r", "--force", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["computed"] == 2
    assert not (tmp_path / "r" / "notes.txt").exists() and (tmp_path / "r" / "table.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.toml", "r"]
    # the same command again resumes (nothing to compute), with or without --force
    for extra in ([], ["--force"]):
        assert main([*sweep, "--out", "r", "--json", *extra]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert (doc["computed"], doc["reused"]) == (0, 2)
    # another command on the same folder is refused
    assert main([*sweep, "--out", "r", "--paths", "4000"]) == 2
    assert "different command" in _one_line(capsys.readouterr().err)


def test_a_failed_point_is_reported_the_rest_are_written_and_a_rerun_retries_it(
    scen, tmp_path, capsys, monkeypatch
):
    real = sw._runner._run_block_task

    def flaky(prm, block_index, n, seed):
        if abs(prm.collection_scale[0] - 1.0) < 1e-12:
            raise MemoryError("worker out of memory")
        return real(prm, block_index, n, seed)

    monkeypatch.setattr(sw._runner, "_run_block_task", flaky)
    args = ["sweep", scen, "--param", "collections.multiplier=0.9,1.0,1.1", "--workers", "1"]
    assert main([*args, "--out", "f"]) == 1
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert err == [
        "arsim: point 1 (collections.multiplier=1) failed: MemoryError: worker out of memory"
    ]
    assert _table(tmp_path / "f")["collections.multiplier"].tolist() == [0.9, 1.1]
    failures = json.loads((tmp_path / "f" / "failures.json").read_text())
    assert failures == [
        {
            "index": 1,
            "params": {"collections.multiplier": 1.0},
            "error": "MemoryError: worker out of memory",
        }
    ]
    monkeypatch.setattr(sw._runner, "_run_block_task", real)
    assert main([*args, "--out", "f", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["computed"], doc["reused"], doc["failed"]) == (1, 2, [])
    assert not (tmp_path / "f" / "failures.json").exists()


def test_ctrl_c_keeps_the_finished_points(scen, tmp_path, capsys, monkeypatch):
    real = sw._runner._run_block_task
    calls = []

    def interrupted(prm, block_index, n, seed):
        calls.append(1)
        if len(calls) == 5:  # the third point's first block (two blocks a point)
            raise KeyboardInterrupt
        return real(prm, block_index, n, seed)

    monkeypatch.setattr(sw._runner, "_run_block_task", interrupted)
    args = ["sweep", scen, "--param", "collections.multiplier=0.8:1.2:5", "--workers", "1"]
    assert main([*args, "--out", "c"]) == 130
    err = _one_line(capsys.readouterr().err)
    assert "2 finished point(s) are kept in c/" in err and "--out c" in err
    assert len(list((tmp_path / "c" / "points").glob("*.json"))) == 2
    monkeypatch.setattr(sw._runner, "_run_block_task", real)
    assert main([*args, "--out", "c", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["computed"] == 3


@pytest.mark.parametrize(
    "extra, reason",
    [
        (["--param", "collections.multipler=1,2"], "collections.multipler: unknown field"),
        (["--param", "collections.multiplier=0.5-1.5"], "'0.5-1.5' is not a number"),
        (["--param", "collections.multiplier=0.5:1.5"], "expected start:stop:num"),
        (["--param", "collections.multiplier"], "--param: expected FIELD=start:stop:num"),
        (["--param", "collections.multiplier=50:150:3"], "multiplier: must be ≤ 100, got 150"),
        (["--param", "collections.multiplier=-1,1"], "multiplier: must be ≥ 0, got -1"),
        (["--param", "defaults.correlation=0.5,1"], "correlation: must be < 1, got 1"),
        (["--param", "collections.monthly_rate=0.1"], "monthly_rate: is not a number"),
        (["--param", "a=1", "--param", "b=2"], "a: unknown section"),
        (["--sobol", "8", "--param", "collections.multiplier=0.5:1.5:3"], "expected lo:hi"),
        ([], "--param: give --param"),
        (["--param", "collections.multiplier=1", "--metric", "p_runway"], "--metric: unknown"),
        (["--param", "collections.multiplier=1", "--scheduler", "slurm"], "--scheduler:"),
        (["--param", "collections.multiplier=1", "--set", "cash.floor=x"], "cash.floor:"),
    ],
)
def test_user_mistakes_are_one_line_exit_2_and_write_nothing(scen, tmp_path, capsys, extra, reason):
    assert main(["sweep", scen, "--workers", "1", *extra]) == 2
    err = _one_line(capsys.readouterr().err)
    assert reason in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.toml"]


# --------------------------------------------------------------------------------------------
# solve and sensitivity


def test_solve_json_and_folder(scen, tmp_path, capsys):
    args = ["solve", scen, "--param", "collections.multiplier", "--metric", "p_runway_le_12"]
    assert main([*args, "--target", "0.1", "--workers", "1", "--out", "s", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["interval"][0] < doc["value"] < doc["interval"][1]
    assert abs(doc["metric_at_value"] - 0.1) <= 2 * doc["metric_se_at_value"]
    assert doc["bracket"] == [0.25, 4.0] and doc["folder"] == "s"
    saved = json.loads((tmp_path / "s" / "solve.json").read_text())
    assert saved["value"] == doc["value"]
    assert (tmp_path / "s" / "plots" / "solve.png").exists()
    evaluations = pd.read_csv(tmp_path / "s" / "evaluations.csv")
    assert len(evaluations) == len(list((tmp_path / "s" / "points").glob("*.json")))
    # text output, resumed from the folder: nothing recomputed, same answer
    assert main([*args, "--target", "0.1", "--workers", "1", "--out", "s"]) == 0
    out = capsys.readouterr().out
    assert f"value      {doc['value']:.4g}" in out and "interval" in out


def test_solve_target_not_crossed_exits_2_with_null_and_writes_nothing(scen, tmp_path, capsys):
    args = ["solve", scen, "--param", "collections.multiplier", "--target", "0.9"]
    assert main([*args, "--bracket", "1,2", "--workers", "1", "--json"]) == 2
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["value"] is None and len(doc["metric_at_bracket"]) == 2
    assert all(m < 0.9 for m in doc["metric_at_bracket"])
    err = _one_line(captured.err)
    assert "does not cross 0.9" in err and "value: null" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.toml"]


@pytest.mark.parametrize(
    "extra, reason",
    [
        (["--bracket", "2,1"], "--bracket: expected finite lo < hi"),
        (["--bracket", "1"], "--bracket: expected lo,hi"),
        (["--bracket", "1,200"], "multiplier: must be ≤ 100, got 200"),
        (["--param", "simulation.horizon_months"], "solve needs a real-valued field"),
        (["--param", "collections.multipler"], "did you mean 'multiplier'"),
        (
            ["--param", "defaults.correlation", "--set", "defaults.correlation=0"],
            "--bracket: defaults.correlation is 0.0",
        ),
        (["--metric", "p_runway_le_24", "--set", "simulation.horizon_months=12"], "undefined"),
    ],
)
def test_solve_user_mistakes_exit_2(scen, tmp_path, capsys, extra, reason):
    args = ["solve", scen, "--target", "0.1", "--workers", "1"]
    if "--param" not in extra:
        args += ["--param", "collections.multiplier"]
    assert main([*args, *extra]) == 2
    assert reason in _one_line(capsys.readouterr().err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.toml"]


def test_sensitivity_table_and_tornado(scen, tmp_path, capsys):
    fields = "defaults.correlation,collections.multiplier,cash.floor"
    args = ["sensitivity", scen, "--delta", "0.2", "--out", "t"]
    assert main([*args, "--params", fields, "--workers", "2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    fields = [row["field"] for row in doc["table"]]
    assert fields[0] == "collections.multiplier" and sorted(fields) == sorted(
        ["defaults.correlation", "collections.multiplier", "cash.floor"]
    )
    swings = [row["swing"] for row in doc["table"]]
    assert swings == sorted(swings, reverse=True)
    table = pd.read_csv(tmp_path / "t" / "table.csv")
    assert table["field"].tolist() == fields
    row = table.iloc[0]
    assert (row["low_value"], row["high_value"]) == pytest.approx((0.8, 1.2))
    assert (tmp_path / "t" / "plots" / "tornado.png").exists()
    assert len(list((tmp_path / "t" / "points").glob("*.json"))) == 7  # base + 2 × 3
    # text output; another command, so another folder
    assert main(["sensitivity", scen, "--params", "collections.multiplier", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "collections.multiplier  0.9" in out and "Results written to results/book/" in out


@pytest.mark.parametrize(
    "extra, reason",
    [
        (["--params", "collections.multipler"], "did you mean 'multiplier'"),
        (["--params", "scenario.name"], "scenario.name: is not a number or a list of numbers"),
        (["--params", "collections.multiplier", "--delta", "0"], "--delta: must be a number > 0"),
        (["--params", "collections.multiplier", "--metric", "nope"], "--metric: unknown metric"),
    ],
)
def test_sensitivity_user_mistakes_exit_2(scen, tmp_path, capsys, extra, reason):
    assert main(["sensitivity", scen, "--workers", "1", *extra]) == 2
    assert reason in _one_line(capsys.readouterr().err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.toml"]


def test_when_every_point_fails_the_command_still_reports_and_exits_1(scen, capsys, monkeypatch):
    def broken(prm, block_index, n, seed):
        raise RuntimeError("no luck")

    monkeypatch.setattr(sw._runner, "_run_block_task", broken)
    args = ["sweep", scen, "--param", "collections.multiplier=0.9,1.1", "--workers", "1"]
    assert main([*args, "--out", "x"]) == 1
    captured = capsys.readouterr()
    assert "Results written to x/" in captured.out
    assert captured.err.count("RuntimeError: no luck") == 2
    assert main(["sensitivity", scen, "--params", "cash.floor", "--workers", "1"]) == 1
    assert capsys.readouterr().err.count("RuntimeError: no luck") == 3


def test_the_implied_rate_run_off_is_computed_only_for_metrics_that_need_it(scen, tmp_path, capsys):
    args = ["sensitivity", scen, "--params", "collections.multiplier", "--workers", "1"]
    assert main([*args, "--out", "plain", "--json"]) == 0
    plain = [json.loads(p.read_text()) for p in (tmp_path / "plain" / "points").glob("*.json")]
    assert plain and all("implied_rates" not in p["summary"] for p in plain)
    metric = "implied_lifetime_loss"
    assert main([*args, "--metric", metric, "--out", "implied", "--json"]) == 0
    implied = [json.loads(p.read_text()) for p in (tmp_path / "implied" / "points").glob("*.json")]
    assert implied and all(p["summary"][metric] > 0 for p in implied)


def test_a_sweep_runs_the_implied_rates_only_when_asked_or_needed(scen, tmp_path, capsys):
    """A sweep's time scales with its paths: no run-off of the opening book per point unless a
    metric needs it or --analytics asks; a later --analytics run recomputes the points."""
    args = ["sweep", scen, "--param", "collections.multiplier=0.9,1.1", "--workers", "1"]
    assert main([*args, "--out", "s", "--json"]) == 0
    table = pd.read_parquet(tmp_path / "s" / "table.parquet")
    assert not [c for c in table.columns if c.startswith(("implied_", "allowance_cov"))]
    assert "p_runway_le_12" in table.columns
    doc = json.loads(capsys.readouterr().out)
    assert doc["computed"] == 2
    assert main([*args, "--out", "s", "--analytics", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["computed"] == 2 and doc["reused"] == 0  # the saved points had no implied rates
    table = pd.read_parquet(tmp_path / "s" / "table.parquet")
    assert table["implied_lifetime_loss"].gt(0).all()
    assert table["allowance_coverage"].gt(0).all()
    # a metric that needs them switches them on; the saved points are reused
    assert main([*args, "--out", "s", "--metric", "allowance_coverage", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["computed"] == 0 and doc["reused"] == 2
    # and without them the table leaves them out again, whatever the saved points hold
    assert main([*args, "--out", "s", "--json"]) == 0
    capsys.readouterr()
    table = pd.read_parquet(tmp_path / "s" / "table.parquet")
    assert "implied_lifetime_loss" not in table.columns
