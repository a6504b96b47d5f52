"""The wheel ships every subpackage: built from the tracked files, installed in a fresh virtual
environment, it runs ``arsim --help`` and a tiny ``arsim run``."""

from __future__ import annotations

import shutil
import site
import subprocess
import sys
import zipfile

from conftest import MINIMAL, ROOT


def _run(*args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, check=True, timeout=600, **kw)


def test_the_wheel_installs_and_runs_in_a_fresh_environment(tmp_path):
    src = tmp_path / "src"
    tracked = _run("git", "ls-files", "pyproject.toml", "README.md", "simulator", cwd=ROOT)
    for name in tracked.stdout.split():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, src / name)
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(src), "-w", str(tmp_path))
    wheel = next(tmp_path.glob("arsim-*.whl"))
    shipped = {n.rsplit("/", 1)[0] for n in zipfile.ZipFile(wheel).namelist() if "/" in n}
    packages = {p.parent.relative_to(ROOT).as_posix() for p in (ROOT / "simulator").rglob("*.py")}
    assert packages <= shipped, f"not in the wheel: {packages - shipped}"
    # the what-if page's files (package data, not Python)
    static = {p.relative_to(ROOT).as_posix() for p in (ROOT / "simulator/serve/static").iterdir()}
    missing = static - set(zipfile.ZipFile(wheel).namelist())
    assert static and not missing, f"not in the wheel: {missing}"

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", str(venv))
    py = venv / "bin" / "python"
    # the dependencies come from this environment (no download); arsim only from the wheel
    purelib = _run(str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    (tmp_path / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    shutil.copy(tmp_path / "deps.pth", purelib.stdout.strip())
    _run(str(py), "-m", "pip", "install", "--no-deps", "-q", str(wheel))

    where = _run(str(py), "-c", "import simulator; print(simulator.__file__)", cwd=tmp_path)
    assert where.stdout.startswith(str(venv)), where.stdout
    page = "from importlib import resources; print(resources.files('simulator.serve'))"
    assert _run(str(py), "-c", page, cwd=tmp_path).stdout.startswith(str(venv))
    assert "usage: arsim serve" in _run(str(venv / "bin" / "arsim"), "serve", "--help").stdout
    arsim = venv / "bin" / "arsim"
    assert "usage: arsim" in _run(str(arsim), "--help", cwd=tmp_path).stdout
    out = tmp_path / "run"
    _run(str(arsim), "run", str(MINIMAL), "--paths", "300", "--out", str(out), cwd=tmp_path)
    assert (out / "summary.json").is_file() and (out / "manifest.json").is_file()
    assert len(list((out / "plots").glob("*.png"))) == 4
