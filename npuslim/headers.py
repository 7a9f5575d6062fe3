"""The header closure: the headers an application needs, not the whole include tree.

Starting from the manifest's header roots, follow ``#include`` directives that
resolve inside the include tree (quoted includes first beside the including
header, then from the tree's top), recursively. Includes that do not resolve
there (the C and C++ standard library) are left to the compiler.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

_INCLUDE = re.compile(rb'^[ \t]*#[ \t]*include[ \t]*([<"])([^>"\r\n]+)[>"]', re.MULTILINE)


@dataclass(frozen=True)
class HeaderClosure:
    """Headers kept (paths relative to the include folder, POSIX style), out of ``total``."""

    include_dir: Path
    kept: tuple[str, ...]
    total: int
    missing_roots: tuple[str, ...]


def count_headers(include_dir: Path) -> int:
    return sum(1 for p in include_dir.rglob("*") if p.is_file())


def header_closure(include_dir: Path, roots: tuple[str, ...]) -> HeaderClosure:
    """Follow includes from ``roots`` (relative paths) inside ``include_dir``."""
    include_dir = include_dir.resolve()
    kept: set[str] = set()
    missing: list[str] = []
    stack: list[str] = []
    for root in roots:
        if (include_dir / root).is_file():
            stack.append(PurePosixPath(root).as_posix())
        else:
            missing.append(root)
    while stack:
        rel = stack.pop()
        if rel in kept:
            continue
        kept.add(rel)
        path = include_dir / rel
        try:
            text = path.read_bytes()
        except OSError:
            continue
        here = PurePosixPath(rel).parent
        for kind, target in _INCLUDE.findall(text):
            name = target.decode("utf-8", "replace").strip()
            candidates = []
            if kind == b'"':
                candidates.append(here / name)
            candidates.append(PurePosixPath(name))
            for candidate in candidates:
                normal = _normalise(candidate)
                if normal is not None and (include_dir / normal).is_file():
                    if normal not in kept:
                        stack.append(normal)
                    break
    return HeaderClosure(include_dir, tuple(sorted(kept)), count_headers(include_dir), tuple(missing))


def _normalise(path: PurePosixPath) -> str | None:
    parts: list[str] = []
    for part in path.parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts) if parts else None
