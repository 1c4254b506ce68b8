"""The package layout holds its shape: packages form layers and import only the layers below them
(every import counts, those inside functions too), no module imports another that imports it
back, modules and functions stay small, the families know nothing of Hydra, run folders or
TensorBoard, and each concept is asked about in one place (docs/architecture.md draws the layers)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import REPO

PACKAGE = REPO / "aecli"
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60
FAMILIES = ("data", "models", "likelihoods", "regularizers")
# The layers, lowest first: a package imports only packages of lower layers (and itself). Packages
# on one layer (commands and results) import neither each other. aecli.configs is the shipped
# config tree (configs/, YAML files): data, read through importlib.resources.
LAYERS = (
    ("errors", "configs", "private_apis"), ("config",), ("registry",),
    ("data",), ("models",), ("likelihoods",), ("regularizers",),
    ("runs",), ("engine",), ("evaluation",), ("report",), ("api",),
    ("commands", "results"), ("cli",), ("__init__", "__main__"),
)
RANK = {package: rank for rank, layer in enumerate(LAYERS) for package in layer}


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def module_level_imports(name: str, path: Path) -> set[str]:
    """aecli modules imported when `name` is imported (function-local and TYPE_CHECKING imports left out)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for child in ast.walk(node) if isinstance(node, (ast.If, ast.Try)) else [node]:
            if isinstance(child, ast.Import):
                found |= {alias.name for alias in child.names}
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - child.level + 1] + ([base] if base else []))
                found.add(base)
                found |= {f"{base}.{alias.name}" for alias in child.names}
    return {module for module in found if module.startswith("aecli")}


def every_import(name: str, path: Path) -> list[tuple[int, str]]:
    """(line, aecli module) of every import in the module, at any depth (inside functions and
    `if TYPE_CHECKING:` too: a lazy import is still an import)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.append((node.lineno, base))
    return [(line, module) for line, module in found if module == "aecli" or module.startswith("aecli.")]


def layer_of(module: str, path: Path | None = None) -> str:
    """The package (layer member) a module belongs to: aecli.runs.store -> runs, aecli.cli -> cli,
    the root package aecli/__init__.py and aecli/__main__.py -> themselves."""
    parts = module.split(".")
    if len(parts) == 1:
        return "__init__"
    return parts[1]


def test_packages_import_only_the_layers_below_them():
    """errors < config < registry < data < models < likelihoods < regularizers < runs < engine <
    evaluation < report < api < commands, results < cli. The root package is read for its
    `__version__` only (importing any module of aecli runs it first anyway)."""
    wrong = []
    for name, path in modules().items():
        mine = layer_of(name) if not name.endswith("__main__") else "__main__"
        for line, target in every_import(name, path):
            theirs = layer_of(target)
            if theirs == mine:
                continue
            if theirs == "__init__":
                text = path.read_text().splitlines()[line - 1]
                if "import __version__" in text:
                    continue
            if RANK[theirs] >= RANK[mine]:
                wrong.append(f"{path.relative_to(REPO)}:{line} ({mine}) imports {target} ({theirs})")
    assert not wrong, "imports that do not go down the layers:\n" + "\n".join(wrong)


def test_every_package_has_a_layer():
    packages = {layer_of(name) for name in modules()} | {"__main__", "configs"}
    assert packages == set(RANK), "give each package of aecli its layer in LAYERS"


def test_no_import_cycle_among_aecli_modules():
    known = modules()
    graph = {name: {m for m in module_level_imports(name, path) if m in known and m != name} for name, path in known.items()}
    # A submodule import also runs its package's __init__.
    for name, edges in graph.items():
        for target in list(edges):
            parent = target.rpartition(".")[0]
            while parent and parent in known and parent != name and not name.startswith(parent + "."):
                edges.add(parent)
                parent = parent.rpartition(".")[0]
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for target in graph[node]:
            if state.get(target) == 1:
                pytest.fail("import cycle: " + " -> ".join([*stack[stack.index(target):], target]))
            if target not in state:
                visit(target, [*stack, target])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [name])


@pytest.mark.parametrize("name", sorted(modules()))
def test_modules_and_functions_stay_small(name):
    path = modules()[name]
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{path} has {len(text.splitlines())} lines"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            assert length <= MAX_FUNCTION_LINES, f"{path}:{node.lineno} {node.name} has {length} lines"


def test_families_and_errors_know_nothing_of_hydra_runs_or_tensorboard():
    for name, path in modules().items():
        family = name.split(".")[1] if name.count(".") else ""
        if family not in FAMILIES and name != "aecli.errors":
            continue
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):  # every import, function-local ones too
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported.add(node.module or "")
        for forbidden in ("hydra", "aecli.runs", "aecli.report", "aecli.commands", "torch.utils.tensorboard", "tensorboard"):
            assert not any(m == forbidden or m.startswith(forbidden + ".") for m in imported), f"{path} imports {forbidden}"


def test_nothing_dispatches_on_class_or_option_names():
    for path in modules().values():
        text = path.read_text()
        assert "__name__ ==" not in text.replace('__name__ == "__main__"', ""), path
        assert "cfg.model.name ==" not in text and '"vae" in' not in text, path
