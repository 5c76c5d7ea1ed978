"""The house plan of docs/architecture (DESIGN.md): who may import whom, no import cycles, and
domains that do not read the whole settings object. Read from the source with ``ast``, so a
function-level import counts like any other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "taxinav"
BASE = {"settings", "calendar", "plotting", "console"}  # anyone may import these
# Direct permissions; a package may also use what its allowed packages may (layering).
PLAN: dict[str, set[str]] = {
    "settings": set(),
    "calendar": set(),
    "plotting": set(),
    "console": set(),
    "warehouse": {"settings"},
    "ingest": {"warehouse", "calendar"},
    "roads": {"warehouse", "calendar"},
    "features": {"roads", "calendar"},
    "forecast": {"features"},
    "routing": {"roads"},
    "sim": {"roads", "features", "calendar"},
    "mlops": {"forecast", "features", "settings"},
    "guidance": {"routing", "sim", "features", "roads", "forecast", "mlops", "settings"},
    "synth": {"calendar", "ingest"},  # synthetic cities; ingest to read the SF pickups' profile
    "exports": set(),  # GIS tables from a warehouse connection: no other domain
}
# The workbench (``taxinav.open``) is the notebooks' shell, as cli is the terminal's.
SHELLS = {"pipeline", "serve", "demo", "cli", "workbench"}
# Only shells, mlops and guidance read the whole Settings (warehouse opens a store from it).
SETTINGS_READERS = SHELLS | {"mlops", "guidance", "warehouse", "settings"}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _modules() -> dict[str, Path]:
    out = {}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(path: Path, module: str) -> list[tuple[str, bool]]:
    """(imported taxinav module, at module level?) for every import in the file."""
    tree = ast.parse(path.read_text())
    top = {id(n) for n in tree.body}
    for node in tree.body:  # TYPE_CHECKING blocks are not run
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            top |= {id(n) for n in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name.startswith("taxinav"):
                found.append((name, id(node) in top))
    return found


def _allowed(pkg: str) -> set[str]:
    seen, todo = set(BASE), list(PLAN.get(pkg, set()))
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.add(p)
            todo += PLAN.get(p, set())
    return seen | {pkg}


def test_every_import_follows_the_house_plan() -> None:
    modules = _modules()
    wrong = []
    for module, path in modules.items():
        pkg = _package(module)
        for name, _ in _imports(path, module):
            target = _package(name)
            if target in ("", pkg) or (module == "taxinav" and target == "workbench"):
                continue  # the root package's ``taxinav.open`` is the workbench, loaded on use
            if target == "cli":
                wrong.append(f"{module} imports {name}: nothing imports cli")
            elif pkg in ("serve", "demo") and target == "pipeline":
                wrong.append(f"{module} imports {name}: serve and demo never import pipeline")
            elif pkg not in SHELLS and target not in _allowed(pkg):
                wrong.append(f"{module} imports {name}")
            elif name == "taxinav.settings.Settings" and pkg not in SETTINGS_READERS:
                wrong.append(f"{module} reads the whole Settings")
    assert wrong == []


def _module_graph() -> dict[str, set[str]]:
    """Module → the taxinav modules it imports (a package's own ``__init__`` left out: it
    re-exports its modules, which is not a cycle with them)."""
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for name, _ in _imports(path, module):
            while name and name not in modules:  # "pkg.mod.Symbol" -> "pkg.mod"
                name = name.rpartition(".")[0]
            if name and name != module and name != module.rpartition(".")[0]:
                graph[module].add(name)
    return graph


def test_no_import_cycles_between_modules() -> None:
    graph = _module_graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                cycles.append([*stack[stack.index(t) :], t])
            elif t not in state:
                visit(t, [*stack, t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == []


@pytest.mark.parametrize("pkg", sorted(p for p in PLAN if (SRC / p).is_dir()))
def test_a_domain_states_its_public_face(pkg: str) -> None:
    assert "__all__" in (SRC / pkg / "__init__.py").read_text(), f"{pkg}/__init__.py has no __all__"
