"""Fuzzed scenario files fed to ``arsim validate`` and ``arsim run`` (issue 8, part 2).

Each case is a random mutation of a bundled scenario: a deleted key, a wrong type, a huge or
tiny number, a string where a number goes, an unknown key, a list of the wrong length, broken
TOML, binary garbage, a very large file. Every case must end either in a valid run (exit 0 and a
complete folder) or in the one-line error ``FILE: FIELD: reason`` with exit 2 and nothing
written — never a traceback, exit 1, a hang (each case has a time limit) or a half-written
folder. Cases are drawn from ``random.Random(case)``, so they are the same on every run.
``ARSIM_FUZZ_EXAMPLES=N`` scales the number of cases (default N = 25: 6N cases for validate,
max(N, 24) for run).
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import os
import random
import re
import signal
import tomllib
from pathlib import Path

import pytest
import tomlkit
from conftest import ANALYTICS_PENDING, BUNDLED_TOML, assert_one_line_error, verify_folder

from simulator.cli import main

BUDGET = int(os.environ.get("ARSIM_FUZZ_EXAMPLES", "25"))
VALIDATE_CASES = 6 * BUDGET
RUN_CASES = max(BUDGET, 24)

WEIRD_VALUES = [
    True,
    False,
    "",
    "abc",
    "1e3",
    "0.5",
    "NaN",
    "\x00\u202e\U0001f600",
    "x" * 10_000,
    [],
    [1, 2],
    ["a", "b"],
    [[0.1], [0.2]],
    {},
    {"a": 1},
    dt.date(2024, 2, 29),
    dt.datetime(2024, 1, 1, 12, 30),
    dt.time(12, 0),
    0,
    -1,
    1,
    2**31,
    2**63 - 1,
    -(2**63),
    2**70,
    0.0,
    -0.0,
    5e-324,
    1e-300,
    1e-12,
    1 - 1e-16,
    1.0000000001,
    1e12,
    1e12 + 1,
    1e300,
    -1e300,
    float("inf"),
    float("-inf"),
    float("nan"),
]


def _paths(doc, prefix=()):
    """Every (path, value) in a nested TOML document."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield (*prefix, k), v
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield (*prefix, i), v
            yield from _paths(v, (*prefix, i))


def _parent(doc, path):
    for part in path[:-1]:
        doc = doc[part]
    return doc


def _mutate_doc(rng: random.Random, doc: dict) -> str:
    """One to three structural mutations of a parsed scenario; returns what was done."""
    done = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        paths = [p for p, _ in _paths(doc)]
        if not paths:
            break
        path = rng.choice(paths)
        parent, last = _parent(doc, path), path[-1]
        kind = rng.choice(["delete", "replace", "replace", "scale", "unknown", "resize"])
        value = parent[last]
        if kind == "delete":
            del parent[last]
        elif kind == "replace":
            parent[last] = copy.deepcopy(rng.choice(WEIRD_VALUES))
        elif kind == "scale" and isinstance(value, int | float) and not isinstance(value, bool):
            factor = rng.choice([0, -1, 1e-9, 1e-3, 2, 1e3, 1e9, 1e15])
            parent[last] = type(value)(value * factor) if value * factor < 1e300 else value
        elif kind == "unknown" and isinstance(parent, dict):
            parent[rng.choice(["extra", last + "s" if isinstance(last, str) else "x", "Paths"])] = 1
        elif kind == "resize" and isinstance(value, list):
            if value and rng.random() < 0.5:
                value.pop(rng.randrange(len(value)))
            else:
                value.append(copy.deepcopy(value[-1]) if value else 0.1)
        else:
            parent[last] = copy.deepcopy(rng.choice(WEIRD_VALUES))
            kind = "replace"
        done.append(f"{kind} {'.'.join(map(str, path))}")
    return "; ".join(done)


def _mutate_text(rng: random.Random, text: str) -> tuple[bytes, str]:
    data = text.encode()
    kind = rng.choice(
        ["truncate", "bytes", "garbage", "drop_line", "dup_line", "bom", "nul", "crlf", "nest"]
    )
    if kind == "truncate":
        data = data[: rng.randrange(len(data))]
    elif kind == "bytes":
        buf = bytearray(data)
        for _ in range(rng.randint(1, 20)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        data = bytes(buf)
    elif kind == "garbage":
        data = rng.randbytes(rng.choice([1, 100, 10_000]))
    elif kind in ("drop_line", "dup_line"):
        lines = text.splitlines(keepends=True)
        i = rng.randrange(len(lines))
        lines[i : i + 1] = [] if kind == "drop_line" else [lines[i], lines[i]]
        data = "".join(lines).encode()
    elif kind == "bom":
        data = b"\xef\xbb\xbf" + data
    elif kind == "nul":
        i = rng.randrange(len(data))
        data = data[:i] + b"\x00" + data[i:]
    elif kind == "crlf":
        data = data.replace(b"\n", b"\r\n")
    else:  # deeply nested arrays in a numeric field
        depth = rng.choice([50, 5_000, 200_000])
        data += f"\n[extra]\nv = {'[' * depth}1{']' * depth}\n".encode()
    return data, kind


def _case(rng: random.Random, source: Path) -> tuple[bytes, str]:
    text = source.read_text()
    if rng.random() < 0.3:
        return _mutate_text(rng, text)
    doc = tomllib.loads(text)
    what = _mutate_doc(rng, doc)
    return tomlkit.dumps(doc).encode(), what


class _Hang(BaseException):
    """Raised by the alarm; a BaseException so that the command cannot swallow it."""


@contextlib.contextmanager
def _time_limit(seconds: int):
    def on_alarm(signum, frame):
        raise _Hang(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _invoke(argv: list[str], capsys, seconds: int) -> tuple[int, str, str]:
    with _time_limit(seconds):
        rc = main(argv)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def _check_error(rc: int, out: str, err: str, path: Path) -> str | None:
    """Why an outcome is not acceptable, or None."""
    if rc not in (0, 2):
        return f"exit {rc}: {err.strip()[:300]}"
    if "Traceback" in err or "internal error" in err:
        return f"traceback: {err[:300]}"
    if rc == 2:
        if out:
            return f"stdout: {out[:300]!r}"
        try:
            line = assert_one_line_error(err, prefix=f"{path}: ")
        except AssertionError as exc:
            return str(exc)[:300]
        if line.count(": ") < 2:
            return f"not FILE: FIELD: reason: {line[:300]!r}"
    return None


def _attempt(argv: list[str], capsys, seconds: int, path: Path) -> tuple[int | None, str, str]:
    """``(exit code, stdout, problem)`` of one case: the code is None if it hung, the problem
    is "" if the outcome is acceptable."""
    try:
        rc, out, err = _invoke(argv, capsys, seconds)
    except _Hang as exc:
        return None, "", str(exc)
    return rc, out, _check_error(rc, out, err, path) or ""


def _write_case(tmp_path: Path, i: int, data: bytes) -> Path:
    path = tmp_path / f"case{i:04d}.toml"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("source", BUNDLED_TOML, ids=[p.stem for p in BUNDLED_TOML])
def test_validate_never_crashes_on_mutated_files(source, in_tmp, capsys):
    bad, outcomes = [], {0: 0, 2: 0}
    cases = VALIDATE_CASES // len(BUNDLED_TOML)
    for i in range(cases):
        rng = random.Random(f"{source.stem}{i}")
        data, what = _case(rng, source)
        path = _write_case(in_tmp, i, data)
        argv = ["validate", str(path)]
        if rng.random() < 0.15:  # a mutated --set instead of (or on top of) the file
            value = rng.choice(WEIRD_VALUES)
            shown = value if isinstance(value, str) else json.dumps(value, default=str)
            field = rng.choice(["collections.multiplier", "simulation.paths", "cash.opening"])
            argv += ["--set", f"{field}={shown}"]
            what += f"; --set {field}={str(shown)[:40]}"
        rc, _, problem = _attempt(argv, capsys, 20, path)
        if problem:
            bad.append((i, what, problem))
        if rc is None:
            continue
        outcomes[rc] = outcomes.get(rc, 0) + 1
        path.unlink()
    print(f"validate {source.stem}: {cases} cases, exit codes {outcomes}")
    assert not bad, bad[:5]
    assert sorted(p.name for p in in_tmp.iterdir()) == []  # validate writes nothing
    assert outcomes[2] > 0 and outcomes[2] + outcomes[0] == cases


def _complete(folder: Path) -> str | None:
    if not (folder / "manifest.json").is_file():
        return "no manifest"
    try:
        files = verify_folder(folder)["files"]
    except AssertionError as exc:
        return f"manifest and files disagree: {exc}"
    for name in ("summary.json", "paths.parquet", "monthly.csv", "scenario.toml"):
        if name not in files:
            return f"{name} missing"
    return None


#: The bundled scenarios that ``arsim run`` completes (not those whose analytics are pending).
RUNNABLE = [p for p in BUNDLED_TOML if p.stem not in ANALYTICS_PENDING]


def test_run_ends_in_a_complete_folder_or_one_line_error(in_tmp, capsys):
    cases_dir = in_tmp / "cases"
    cases_dir.mkdir()
    results = in_tmp / "results"
    bad, outcomes = [], {0: 0, 2: 0}
    for i in range(RUN_CASES):
        rng = random.Random(f"run{i}")
        source = RUNNABLE[i % len(RUNNABLE)]
        # the run-off of the analytics is the slow part at 50 paths: keep it small
        base = tomllib.loads(source.read_text())
        base.setdefault("simulation", {})["runoff_paths"] = 200
        small = cases_dir / f"base{i}.toml"
        small.write_text(tomlkit.dumps(base))
        data, what = _case(rng, small)
        path = _write_case(cases_dir, i, data)
        out = results / f"case{i:04d}"
        argv = ["run", str(path), "--paths", "50", "--workers", "1", "--out", str(out), "--json"]
        rc, stdout, problem = _attempt(argv, capsys, 120, path)
        if rc is None:
            bad.append((i, what, problem))
            continue
        if not problem and rc == 0:
            problem = _complete(out)
            if not problem and json.loads(stdout)["paths"] != 50:
                problem = "wrong paths"
        if not problem and rc == 2 and out.exists():
            problem = "an error left a folder"
        if problem:
            bad.append((i, what, problem))
        outcomes[rc] = outcomes.get(rc, 0) + 1
    print(f"run: {RUN_CASES} cases, exit codes {outcomes}")
    assert not bad, bad[:5]
    # only the folders of successful runs exist; no temporary folders are left behind
    made = sorted(p.name for p in results.iterdir()) if results.exists() else []
    assert len(made) == outcomes[0]
    assert not [n for n in made if n.startswith(".")]
    assert outcomes[0] > 0 and outcomes[2] > 0, outcomes


def test_very_large_and_special_files_are_refused_in_one_line(tmp_path, capsys):
    big = tmp_path / "big.toml"
    with open(big, "wb") as fh:  # over the 10 MiB limit: refused before it is read
        fh.write(b"# " + b"x" * (10 * 2**20) + b"\n")
    nearly = tmp_path / "nearly.toml"  # under the limit: a giant list, wrong length
    text = BUNDLED_TOML[0].read_text()
    giant = "gross = [" + "1.0," * 1_000_000 + "]"
    nearly.write_text(re.sub(r"(?m)^gross = .*$", giant, text, count=1))
    assert nearly.stat().st_size < 10 * 2**20
    empty = tmp_path / "empty.toml"
    empty.write_bytes(b"")
    fifo_dir = tmp_path / "folder.toml"
    fifo_dir.mkdir()
    for path in (big, nearly, empty, fifo_dir, tmp_path / "missing.toml"):
        for cmd in (["validate"], ["run", "--paths", "50", "--out", str(tmp_path / "o")]):
            rc, out, err = _invoke([cmd[0], str(path), *cmd[1:]], capsys, 60)
            assert _check_error(rc, out, err, path) is None and rc == 2, (path, err)
            assert not (tmp_path / "o").exists()


def test_regressions_found_by_fuzzing(tmp_path, capsys):
    # a byte-order mark (as Windows editors write) was "not valid TOML"
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + BUNDLED_TOML[0].read_bytes())
    assert _invoke(["validate", str(bom)], capsys, 20)[0] == 0
    # a rate just above 1 was reported as "must be ≤ 1, got 1"
    doc = tomllib.loads(BUNDLED_TOML[0].read_text())
    doc["buckets"]["provision_rates"][0] = 1.0000000001
    bad = tmp_path / "bad.toml"
    bad.write_text(tomlkit.dumps(doc))
    rc, _, err = _invoke(["validate", str(bad)], capsys, 20)
    assert rc == 2 and err.strip().endswith("must be ≤ 1, got 1.0000000001")
