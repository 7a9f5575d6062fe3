"""The architecture, checked: each stage imports only the foundation and the stages before it.

The pipeline reads top to bottom: source -> analyse -> plan -> act -> check ->
report -> pipeline -> cli. The foundation (errors, units, tools, paths, enums, layout,
schema_check and the file formats) may be used by every stage and uses none.
Imports under ``if TYPE_CHECKING:`` count too: a type from a later stage is a
dependency on it.

Two more rules hold across files of the same stage: no import cycle between
files (counting imports inside functions and under ``TYPE_CHECKING``), and the
platform is tested (``== "linux"``, ``isinstance(info, ElfInfo)``) only in the
modules that hold a registry keyed by ``Platform``; every other module looks its
strategy up there.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "npuslim"
FOUNDATION = {"errors", "units", "tools", "paths", "enums", "layout", "atomic", "schema_check", "formats", "progress",
              "platforms", "waiting"}
STAGES = ["knowledge", "source", "analyse", "plan", "act", "check", "report", "pipeline", "cli"]
LONGEST_FUNCTION = 60  # lines, in the core (everything but cli/)


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _name(path: Path, root: Path = PACKAGE) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, root: Path = PACKAGE) -> set[str]:
    """Every npuslim module ``path`` imports, at any depth of the file."""
    module = _name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "npuslim")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "npuslim":
                continue
            found.add(target)
            found.update(f"{target}.{a.name}" for a in node.names)  # "from npuslim.act import upx"
    return found


def _layer(module: str) -> int | None:
    """-1 for the foundation, the stage's index, or None for npuslim itself and names that are not modules."""
    parts = module.split(".")
    if len(parts) < 2:
        return None
    head = parts[1]
    if head in FOUNDATION:
        return -1
    if head in STAGES:
        return STAGES.index(head)
    return None


def _is_module(name: str, root: Path = PACKAGE) -> bool:
    rel = Path(*name.split(".")[1:])
    return (root / rel).with_suffix(".py").is_file() or (root / rel / "__init__.py").is_file()


def _forward_imports(path: Path, root: Path = PACKAGE) -> list[str]:
    """The npuslim modules ``path`` imports from a later stage (or, for the foundation, from any stage)."""
    mine = _layer(_name(path, root))
    if mine is None:
        return []
    wrong = []
    for target in sorted(_imports(path, root)):
        theirs = _layer(target)
        if theirs is None or not _is_module(target, root):
            continue
        if not (theirs == -1 if mine == -1 else theirs <= mine):
            wrong.append(target)
    return wrong


def test_every_module_belongs_to_a_layer() -> None:
    loose = [_name(p) for p in _modules() if _name(p) not in ("npuslim", "npuslim.__main__") and _layer(_name(p)) is None]
    assert loose == []


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_imports_point_only_backwards(path: Path) -> None:
    assert _forward_imports(path) == [], f"{_name(path)} imports a later stage"


def test_the_checker_finds_a_forward_import(tmp_path: Path) -> None:
    """The check itself can fail: planted forward imports (absolute, relative, in a function) are found."""
    root = tmp_path / "npuslim"
    for rel in ("plan/x.py", "report/sbom.py", "act/upx.py", "plan/bundle.py", "errors.py"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("")
    planted = root / "plan" / "x.py"
    planted.write_text("from npuslim.report.sbom import SBOM_FILE\n"
                       "from . import bundle\n"
                       "def f():\n    from ..act import upx\n    from npuslim import errors\n")
    assert _forward_imports(planted, root) == ["npuslim.act.upx", "npuslim.report.sbom"]


def _long_functions() -> list[str]:
    found = []
    for path in _modules():
        if _name(path).startswith("npuslim.cli"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > LONGEST_FUNCTION:
                    found.append(f"{_name(path)}.{node.name}: {length} lines")
    return found


def test_no_core_function_is_longer_than_a_screen() -> None:
    assert _long_functions() == []


# -- import cycles between files

# Cycles that other stages still have, to be removed from this list as they are broken (the
# test fails on a listed cycle that is gone, so the list only shrinks). Each is hidden behind
# an import inside a function.
KNOWN_CYCLES: list[list[str]] = [
]


def _import_edges(path: Path, root: Path = PACKAGE) -> set[str]:
    """The npuslim modules ``path`` imports, at any depth: ``from package import module`` is an
    edge to the module (not to the package, which Python imports first for every submodule)."""
    module = _name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if _is_module(sub, root) else target)
    return {m for m in found if m.split(".")[0] == "npuslim" and _is_module(m, root) and m != module}


def _cycles(root: Path = PACKAGE) -> list[list[str]]:
    """The import cycles between files: each strongly connected component of the import graph
    with more than one module, sorted (Tarjan's algorithm, iterative)."""
    graph = {_name(p, root): sorted(_import_edges(p, root)) for p in sorted(root.rglob("*.py"))
             if "__pycache__" not in p.parts}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    work.append((child, iter(graph.get(child, ()))))
                elif child in stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = stack[stack.index(node):]
                del stack[stack.index(node):]
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def test_no_import_cycle_between_files() -> None:
    found = _cycles()
    new = [c for c in found if c not in KNOWN_CYCLES]
    gone = [c for c in KNOWN_CYCLES if c not in found]
    assert new == [], "import cycles between files (break them; a shared base module, or a registry)"
    assert gone == [], "these cycles are broken: remove them from KNOWN_CYCLES"


def test_the_checker_finds_a_cycle(tmp_path: Path) -> None:
    """The check itself can fail: a cycle through a function-level import, one through
    ``TYPE_CHECKING`` and a relative import, and none for ``from package import module``."""
    files = {
        "__init__.py": "",
        "formats/__init__.py": "",
        "formats/pe.py": "from npuslim.formats.elf import ElfInfo\n",
        "formats/elf.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from npuslim.layout import X\n",
        "layout.py": "from .formats import pe\n",
        "analyse/__init__.py": "",
        "analyse/graph.py": "def build():\n    from npuslim.analyse.resolve_elf import ElfClosure\n",
        "analyse/resolve_elf.py": "from npuslim.analyse.graph import ClosureWalk\n",
        "cli/__init__.py": "from npuslim.cli.main_deps import deps\n",
        "cli/main_deps.py": "from npuslim.cli import render_deps\n",
        "cli/render_deps.py": "",
    }
    root = tmp_path / "npuslim"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    assert _cycles(root) == [["npuslim.analyse.graph", "npuslim.analyse.resolve_elf"],
                             ["npuslim.formats.elf", "npuslim.formats.pe", "npuslim.layout"]]


# -- platform tests outside the registries

PLATFORM_NAMES = frozenset({"linux", "windows"})
INFO_TYPES = frozenset({"ElfInfo", "PeInfo"})
# The target: at most this many platform tests in npuslim/, all in registry modules.
PLATFORM_TESTS_TARGET = 4
# The places that decide the platform (and so must look at it), with how many tests each: an
# install's by ``npuslim.source`` (a wheel's platform tags), a bundle's by ``formats/lock.read_lock``
# (the schema's enum, no test in code). Every other module looks its strategy up in a registry.
PLATFORM_DECIDED_IN = {
    "npuslim.source.linux": 1,
}


def _type_names(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Tuple):
        return [name for element in node.elts for name in _type_names(element)]
    if isinstance(node, ast.BinOp):  # ElfInfo | PeInfo
        return _type_names(node.left) + _type_names(node.right)
    if isinstance(node, ast.Name):
        return [node.id]
    return [node.attr] if isinstance(node, ast.Attribute) else []


def _is_registry(tree: ast.Module) -> bool:
    """A module that holds a registry keyed by the platform: ``NAME: dict[Platform, ...] = ...``."""
    return any(isinstance(node, ast.AnnAssign) and ast.unparse(node.annotation).startswith("dict[Platform,")
               for node in tree.body)


def _platform_tests(path: Path) -> tuple[bool, list[int]]:
    """(whether ``path`` is a registry module, the lines where it tests the platform itself:
    a comparison with ``"linux"`` / ``"windows"``, or ``isinstance`` with ``ElfInfo`` / ``PeInfo``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(isinstance(o, ast.Constant) and o.value in PLATFORM_NAMES for o in operands):
                lines.append(node.lineno)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance"
              and len(node.args) == 2 and INFO_TYPES & set(_type_names(node.args[1]))):
            lines.append(node.lineno)
    return _is_registry(tree), sorted(lines)


def _platform_test_counts(paths: list[Path], root: Path = PACKAGE) -> tuple[int, dict[str, int]]:
    """(platform tests in all of ``paths``, those outside registry modules per module)."""
    total, outside = 0, {}
    for path in paths:
        registry, lines = _platform_tests(path)
        total += len(lines)
        if lines and not registry:
            outside[_name(path, root)] = len(lines)
    return total, outside


def test_the_platform_is_tested_only_in_registries() -> None:
    total, outside = _platform_test_counts(_modules())
    assert outside == PLATFORM_DECIDED_IN, "a module tests the platform itself; look its strategy up in a registry"
    assert total <= PLATFORM_TESTS_TARGET


def test_the_counter_finds_platform_tests(tmp_path: Path) -> None:
    """The count itself can fail: comparisons and isinstance tests are found, a registry's are allowed."""
    root = tmp_path / "npuslim"
    root.mkdir()
    (root / "plain.py").write_text(
        'def f(install, info, lock):\n'
        '    if install.platform == "linux" or "windows" != lock.source.get("platform"):\n'
        '        return isinstance(info, (ElfInfo, str)) or isinstance(info, ElfInfo | PeInfo)\n'
        '    return install.platform == "linux-ish" or isinstance(info, str)\n')
    (root / "registry.py").write_text(
        'CLOSURES: dict[Platform, type] = {}\n'
        'def g(info):\n    return isinstance(info, PeInfo)\n')
    assert _platform_tests(root / "plain.py") == (False, [2, 2, 3, 3])
    assert _platform_test_counts(sorted(root.glob("*.py")), root) == (5, {"npuslim.plain": 4})
