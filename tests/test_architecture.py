"""The package's house (DESIGN 4): imports only point down the layers, there is no import
circle, ``results`` does not import the analytics, modules stay small, and the command line
starts without the numerical libraries."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGE = ROOT / "simulator"

#: Units of the package, lowest layer first (DESIGN 4). A unit may import only units of a lower
#: layer; the modules of a subpackage import each other freely, without circles.
LAYERS: list[set[str]] = [
    {"_version", "_util", "_format", "resources", "_plotkit"},
    {"scenario"},
    {"aging", "hazards"},
    {"_integrand"},
    {"params"},
    {"_kernel"},
    {"results"},
    {"engine"},
    {"analytic"},
    {"provisioning"},
    {"uncertainty"},
    {"api", "adequacy", "data"},
    {"plots"},
    {"storage"},
    {"sweep"},
    {"backtest"},
    {"compare"},
    {"report"},
    {"serve"},
    {"cli"},
    {"__main__", "__init__"},
]
RANK = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}
#: Modules allowed past ~500 lines (the compiled kernel stays one loop).
LONG_MODULES = {"simulator/_kernel.py"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _unit(module: str) -> str:
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def _imports(path: Path) -> set[str]:
    """Modules of the package that ``path`` imports, anywhere in it (function bodies included,
    ``if TYPE_CHECKING:`` blocks left out)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("simulator")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module and node.module.startswith("simulator"):
                target = node.module
            else:
                continue
            if node.module:  # `from . import _sweep` imports the module only
                found.add(target)
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                if (ROOT / Path(*candidate.split("."))).with_suffix(".py").exists() or (
                    ROOT / Path(*candidate.split(".")) / "__init__.py"
                ).exists():
                    found.add(candidate)
    return found


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_unit_has_a_layer():
    units = {_unit(m) for m in _graph()}
    assert units <= set(RANK), f"units without a layer in this test: {units - set(RANK)}"


def test_imports_only_point_down():
    upward = []
    for module, targets in _graph().items():
        for target in targets:
            a, b = _unit(module), _unit(target)
            if a != b and not RANK[b] < RANK[a]:
                upward.append(f"{module} -> {target}")
    assert not upward, "imports that do not point down:\n" + "\n".join(sorted(upward))


def test_results_is_plain_data():
    imported = {_unit(t) for t in _graph()["simulator.results"]}
    assert not imported & {"analytic", "provisioning", "engine", "api", "storage"}


def test_no_import_circle():
    graph = _graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                circle = [*path[path.index(nxt) :], nxt]
                pytest.fail("import circle: " + " -> ".join(circle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_the_walk_sees_a_circle_and_an_upward_import(tmp_path, monkeypatch):
    """The checks above can fail: a planted upward import is found."""
    pkg = tmp_path / "simulator"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "results.py").write_text("from .provisioning import analyse\n")
    (pkg / "provisioning.py").write_text("from . import results\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", pkg)
    graph = _graph()
    assert graph["simulator.results"] == {"simulator.provisioning"}
    assert "simulator.results" in graph["simulator.provisioning"]
    with pytest.raises(AssertionError):
        test_results_is_plain_data()
    with pytest.raises(pytest.fail.Exception):
        test_no_import_circle()


def test_modules_stay_small():
    long = [
        f"{p.relative_to(ROOT)}: {n} lines"
        for p in sorted(PACKAGE.rglob("*.py"))
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500
        and p.relative_to(ROOT).as_posix() not in LONG_MODULES
    ]
    assert not long, long


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["validate", "scenarios/example_minimal.toml"]],
    ids=["help", "validate"],
)
def test_the_command_line_starts_without_the_numerical_libraries(argv):
    """`arsim --help` and `arsim validate` import neither numpy, pandas, scipy, matplotlib nor
    numba (what makes them start in a blink; benchmarks/bench_cli.py times them)."""
    code = (
        "import sys\n"
        "from simulator.cli import main\n"
        f"code = main({argv!r})\n"
        "heavy = {'numpy', 'pandas', 'scipy', 'matplotlib', 'numba', 'pyarrow'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "[]"
