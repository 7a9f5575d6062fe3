"""The architecture, checked: each stage imports only the foundation and the stages before it.

The pipeline reads top to bottom: source -> analyse -> plan -> act -> check ->
report -> pipeline -> cli. The foundation (errors, units, tools, paths, enums, layout,
schema_check and the file formats) may be used by every stage and uses none.
Imports under ``if TYPE_CHECKING:`` count too: a type from a later stage is a
dependency on it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "npuslim"
FOUNDATION = {"errors", "units", "tools", "paths", "enums", "layout", "atomic", "schema_check", "formats", "progress",
              "platforms"}
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


@pytest.mark.parametrize("path", _modules(), ids=lambda p: _name(p))
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
