"""The README's Python sweep from a script: it works under ``if __name__ == "__main__":``, and
without the guard (or from standard input) it stops with a clear error instead of workers that
run the script again and print empty tables."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

from conftest import IFLYTEK, ROOT

SNIPPET = f"""\
from simulator import load_scenario, sweep, with_overrides

sc = with_overrides(load_scenario({str(IFLYTEK)!r}), {{"simulation.paths": 300}})
design = sweep.grid_design(sc, ["collections.multiplier=0.8,1.2"])
with sweep.open_executor("local", WORKERS) as (executor, slots):
    outcomes = sweep.PointRunner(executor, slots=slots).run(sweep.make_points(sc, design))
print("points", sum(o.ok for o in outcomes), len(sweep.sweep_table(outcomes, design.fields)))
"""


def _run(code: str, tmp_path, *, stdin: bool = False) -> subprocess.CompletedProcess:
    script = tmp_path / "my_sweep.py"
    script.write_text(code)
    argv = [sys.executable] if stdin else [sys.executable, str(script)]
    return subprocess.run(
        argv,
        input=code if stdin else None,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_under_the_main_guard_the_sweep_runs_on_worker_processes(tmp_path):
    body = textwrap.indent(SNIPPET.replace("WORKERS", "2"), "    ")
    done = _run(f'if __name__ == "__main__":\n{body}', tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "points 2 2"


def test_without_the_guard_it_stops_with_one_clear_error(tmp_path):
    done = _run(SNIPPET.replace("WORKERS", "2"), tmp_path)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert "my_sweep.py: line 5:" in last and 'if __name__ == "__main__":' in last
    assert "points" not in done.stdout  # no worker ran the script and printed


def test_from_standard_input_it_says_so_and_one_worker_works(tmp_path):
    done = _run(SNIPPET.replace("WORKERS", "2"), tmp_path, stdin=True)
    assert done.returncode == 1 and "standard input" in done.stderr.strip().splitlines()[-1]
    done = _run(SNIPPET.replace("WORKERS", "1"), tmp_path, stdin=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "points 2 2"


def test_the_readme_snippet_runs_as_written(tmp_path):
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    code = next(b for b in blocks if "open_executor" in b)
    done = _run(code, tmp_path)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.strip()[:1].isdigit()]
    assert len(rows) == 11, done.stdout
