"""The README's commands and the CI script agree."""

from __future__ import annotations

import re

from conftest import ROOT


def _bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = [b.strip() for b in _bash_blocks(readme)[:2]]
    assert commands[0].endswith("arsim run scenarios/iflytek_2024q3.toml")
    assert commands[1].endswith("pytest")
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert commands[1] in ci, "the README's test command is not run verbatim by .ci/run"
    assert any(line.startswith("ruff check") for line in ci)
    assert any(line.startswith("ruff format --check") for line in ci)
