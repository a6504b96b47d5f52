"""Files the tool writes (issue 8, part 5): folders only where asked, nothing overwritten
without --force, and names derived from scenario files cannot leave the output folder."""

from __future__ import annotations

import os

import pytest
from conftest import AGING_CSV, MINIMAL, assert_one_line_error

from simulator.cli import main
from simulator.storage import default_out_dir

HOSTILE = [
    "../../etc/passwd.toml",
    "/tmp/abs.toml",
    "..toml",
    "...toml",
    ".hidden.toml",
    "..",
    ".",
    "",
    "a/../../b.toml",
    "name with spaces & $(rm -rf) ;|.toml",
    "ünïcødé-名前.toml",
    "nul\x00byte.toml",
    "back\\slash\\..\\..\\x.toml",
    "x" * 300 + ".toml",
    "-rf.toml",
    "~user.toml",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_default_out_dir_stays_under_its_root(name, tmp_path):
    root = tmp_path / "results"
    out = default_out_dir(name, root)
    assert out.resolve().parent.parent == root.resolve()
    stem = out.parent.name
    assert stem and not stem.startswith(".") and "/" not in stem and "\\" not in stem
    assert stem not in ("..", ".") and len(stem.encode()) <= 255
    assert not root.exists()  # naming a folder creates nothing


def test_run_with_a_hostile_file_name_writes_inside_results(in_tmp, capsys):
    (in_tmp / "sub").mkdir()
    odd = in_tmp / "sub" / "..weird name;$x.toml"
    odd.write_text(MINIMAL.read_text())
    assert main(["run", str(odd), "--paths", "50", "--workers", "1"]) == 0
    made = [p for p in (in_tmp / "results").rglob("manifest.json")]
    assert len(made) == 1 and made[0].parent.parent.parent == in_tmp / "results"
    assert sorted(os.listdir(in_tmp)) == ["results", "sub"]
    assert os.listdir(in_tmp / "sub") == [odd.name]


@pytest.mark.parametrize("command", ["run", "sweep", "sensitivity"])
def test_an_existing_out_is_never_overwritten_without_force(command, tmp_path, capsys):
    extra = {
        "run": [],
        "sweep": ["--param", "collections.multiplier=0.9,1.1"],
        "sensitivity": ["--params", "collections.multiplier"],
    }[command]
    out = tmp_path / "mine"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    args = [command, str(MINIMAL), *extra, "--paths", "50", "--workers", "1", "--out", str(out)]
    assert main(args) == 2
    assert_one_line_error(capsys.readouterr().err, "--force")
    assert os.listdir(out) == ["keep.txt"] and sorted(os.listdir(tmp_path)) == ["mine"]
    # a file where a folder is asked for is refused too, even with --force
    f = tmp_path / "afile"
    f.write_text("x")
    args[-1] = str(f)
    assert main([*args, "--force"]) == 2
    assert f.read_text() == "x"


@pytest.mark.parametrize("command", ["implied-rates", "calibrate"])
def test_file_outputs_are_never_overwritten_without_force(command, tmp_path, capsys):
    target = tmp_path / "out.toml"
    target.write_text("mine")
    if command == "implied-rates":
        args = [command, str(MINIMAL), "--calibrate-defaults", "--out", str(target)]
    else:
        args = [command, str(AGING_CSV), "--edges-months", "0,12,24", "--out", str(target)]
    assert main(args) == 2
    assert target.read_text() == "mine"
    assert_one_line_error(capsys.readouterr().err, "--force", prefix=f"{target}: --out: ")
    assert main([*args[:-1], str(tmp_path)]) == 2  # a folder where a file is asked for
    assert sorted(os.listdir(tmp_path)) == ["out.toml"]


def test_out_in_a_missing_parent_is_created_only_there(tmp_path, capsys):
    out = tmp_path / "a" / "b" / "c"
    assert main(["run", str(MINIMAL), "--paths", "50", "--workers", "1", "--out", str(out)]) == 0
    assert (out / "manifest.json").is_file()
    assert sorted(os.listdir(tmp_path)) == ["a"] and os.listdir(out.parent) == ["c"]


def test_a_long_out_name_leaves_room_for_the_temporary_folder(tmp_path, capsys):
    """Found by this suite: a 250-byte --out made the temporary name too long (exit 1)."""
    out = tmp_path / ("r" * 250)
    args = ["run", str(MINIMAL), "--paths", "50", "--workers", "1", "--out", str(out)]
    assert main(args) == 0 and (out / "manifest.json").is_file()
    assert main([*args, "--force"]) == 0 and sorted(os.listdir(tmp_path)) == [out.name]
    sweep = ["sweep", str(MINIMAL), "--param", "collections.multiplier=0.9,1.1"]
    assert main([*sweep, "--paths", "50", "--workers", "1", "--out", str(out), "--force"]) == 0
    assert (out / "table.csv").is_file() and sorted(os.listdir(tmp_path)) == [out.name]
