"""What ``import PACKAGE`` imports at once: the module-level imports of a package's Python sources.

Read-only and approximate in one safe direction: every ``import`` and
``from ... import`` statement at module level (outside functions and
classes) counts, including those inside ``if`` blocks; an import inside a
``try`` whose handler catches ``ImportError`` (or ``ModuleNotFoundError``,
``Exception``) is marked *guarded*: its failure does not fail the import of
the module that holds it. Used by ``npuslim wheel`` to find the modules that
``import openvino`` would import although the slim wheel drops them.
"""

from __future__ import annotations

import ast
from collections import deque
from dataclasses import dataclass

_CATCHES_IMPORT_ERROR = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


@dataclass(frozen=True)
class EagerImport:
    """``chain[0]`` imports ... ``chain[-1]`` at import time; ``guarded`` when a ``try`` on the way
    catches the ``ImportError``."""

    chain: tuple[str, ...]
    guarded: bool


def module_name(path: str) -> str | None:
    """``openvino/frontend/__init__.py`` -> ``openvino.frontend``; ``None`` for a file that is not a module."""
    if not path.endswith(".py"):
        return None
    parts = path[:-3].split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) if parts and all(p.isidentifier() for p in parts) else None


def _catches_import_error(node: ast.Try) -> bool:
    for handler in node.handlers:
        if handler.type is None:
            return True
        names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if any(isinstance(n, ast.Name) and n.id in _CATCHES_IMPORT_ERROR for n in names):
            return True
    return False


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - node.level + 1]
        base = ".".join([*package, base] if base else package)
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def module_imports(source: str, module: str, *, is_package: bool) -> list[tuple[str, bool]]:
    """(imported name, guarded) for each module-level import of ``source``; unparsable source: none."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    found: list[tuple[str, bool]] = []
    todo: list[tuple[list[ast.stmt], bool]] = [(tree.body, False)]
    while todo:
        body, guarded = todo.pop()
        for stmt in body:
            if isinstance(stmt, ast.Import | ast.ImportFrom):
                found += [(name, guarded) for name in _targets(stmt, module, is_package)]
            elif isinstance(stmt, ast.Try):
                todo.append((stmt.body, guarded or _catches_import_error(stmt)))
                todo += [(h.body, guarded) for h in stmt.handlers]
                todo += [(stmt.orelse, guarded), (stmt.finalbody, guarded)]
            elif isinstance(stmt, ast.If | ast.With):
                todo.append((stmt.body, guarded))
                todo.append((getattr(stmt, "orelse", []), guarded))
    return found


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _reach(sources: dict[str, str], packages: set[str], start: str, targets: frozenset[str], *,
           through_guarded: bool) -> dict[str, tuple[str, ...]]:
    """Breadth first from ``start``: the shortest chain to every module reached (guarded links
    followed only with ``through_guarded``); a target is reached but not walked."""
    chains: dict[str, tuple[str, ...]] = {start: (start,)}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        if current in targets or current not in sources:
            continue
        for name, guarded in module_imports(sources[current], current, is_package=current in packages):
            if guarded and not through_guarded:
                continue
            for mod in _with_parents(name):
                if mod not in chains and (mod in sources or mod in targets):
                    chains[mod] = chains[current] + (mod,)
                    queue.append(mod)
    return chains


def eager_imports(sources: dict[str, str], start: str, targets: frozenset[str]) -> tuple[EagerImport, ...]:
    """The shortest import chain from ``start`` to each module of ``targets`` that importing ``start``
    reaches (``sources``: module name -> source text; a package's name is its ``__init__``'s).

    A target reached without passing a guarded import is unguarded (importing ``start`` fails
    with it); one reached only through guarded imports is guarded.
    """
    packages = {name for name in sources if any(other.startswith(name + ".") for other in sources)}
    strict = _reach(sources, packages, start, targets, through_guarded=False)
    loose = _reach(sources, packages, start, targets, through_guarded=True)
    found = [EagerImport(strict[t], False) if t in strict else EagerImport(loose[t], True)
             for t in sorted(targets) if t in strict or t in loose]
    return tuple(found)
