"""The package's structure: no private names across modules, no import cycles, no plotting
in a batch run (issue 16's rules, checked on the source so a regression fails the suite)."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("model", "experiments")


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


MODULES = _modules()


def _imports(path: Path) -> list[tuple[str, tuple[str, ...], int]]:
    """``(module, names, line)`` of every import in a file, at any depth, except those under
    ``if TYPE_CHECKING:`` (which never run)."""
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, (), node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, tuple(a.name for a in node.names), node.lineno))
    return found


def _targets(module: str, names: tuple[str, ...]) -> list[str]:
    """The project modules an import loads: a submodule named in ``from X import y`` counts
    as ``X.y``; importing ``X.y`` alone does not count as importing the package ``X``."""
    if module not in MODULES:
        return []
    submodules = [f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES]
    rest = [n for n in names if f"{module}.{n}" not in MODULES]
    return submodules + ([module] if rest or not names else [])


def test_no_module_imports_another_modules_private_name():
    offences = []
    for name, path in MODULES.items():
        for module, names, line in _imports(path):
            if module.split(".")[0] not in PACKAGES:
                continue
            private = [n for n in names if n.startswith("_") and n != "__version__"]
            if private and module != name:
                offences.append(f"{path.relative_to(ROOT)}:{line} imports {private} from {module}")
    assert not offences, "\n".join(offences)


def test_no_import_cycles_in_the_packages():
    graph = {
        name: sorted({t for m, n, _ in _imports(path) for t in _targets(m, n)} - {name})
        for name, path in MODULES.items()
    }
    # a package's __init__ importing its own submodules is how packages are built, not a cycle
    for name in graph:
        graph[name] = [t for t in graph[name] if not (name + ".").startswith(t + ".")]
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*trail[trail.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_model_package_never_imports_experiments():
    for name, path in MODULES.items():
        if name.startswith("model"):
            assert not [m for m, _, _ in _imports(path) if m.startswith("experiments")], name


def test_a_batch_run_imports_no_plotting(tmp_path):
    code = textwrap.dedent(
        f"""
        import sys
        from experiments.batch import run_batch
        from model.scenario import load_scenario
        scenario = load_scenario({str(ROOT / "scenarios" / "baseline.toml")!r})
        run_batch(scenario, runs=2, engine="mesa", out={str(tmp_path)!r}, progress=False)
        loaded = [m for m in sys.modules if m.split(".")[0] in ("matplotlib", "mpltern", "solara")
                  or m == "experiments.analysis"]
        print(loaded)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
