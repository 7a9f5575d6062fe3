"""The header closure: the headers an application needs, not the whole include tree.

Starting from the manifest's header roots, follow ``#include`` directives that
resolve inside the include tree (quoted includes first beside the including
header, then from the tree's top), recursively. Includes that do not resolve
there (the C and C++ standard library, absolute paths, paths that climb out of
the tree) are left to the compiler: npuslim never reads or copies a file
outside the include folder, and a header that is a symbolic link out of it is
refused. Headers are read as a stream, line by line: a huge file costs time,
never memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from npuslim.errors import InputError
from npuslim.paths import is_within, open_regular

_INCLUDE = re.compile(rb'^[ \t]*#[ \t]*include[ \t]*([<"])([^>"\r\n]+)[>"]')
_LINE_CHUNK = 4096


@dataclass(frozen=True)
class HeaderClosure:
    """Headers kept (paths relative to the include folder, POSIX style), out of ``total``."""

    include_dir: Path
    kept: tuple[str, ...]
    total: int
    missing_roots: tuple[str, ...]


def count_headers(include_dir: Path) -> int:
    return sum(1 for p in include_dir.rglob("*") if p.is_file())


def includes_of(path: Path) -> Iterator[tuple[bytes, str]]:
    """``(kind, target)`` of each ``#include`` line of ``path``, read in bounded chunks."""
    with open_regular(path) as fh:
        at_line_start = True
        while chunk := fh.readline(_LINE_CHUNK):
            if at_line_start:
                m = _INCLUDE.match(chunk)
                if m:
                    yield m.group(1), m.group(2).decode("utf-8", "replace").strip()
            at_line_start = chunk.endswith(b"\n")


def _header(include_dir: Path, rel: str) -> Path | None:
    """The file for ``rel`` in the tree, ``None`` when absent; refused when it leads out of the tree."""
    path = include_dir / rel
    if not path.is_file():
        return None
    if not is_within(path, include_dir):
        raise InputError(f"{path}: a header that leads outside {include_dir} (symbolic link): refused")
    return path


def header_closure(include_dir: Path, roots: tuple[str, ...]) -> HeaderClosure:
    """Follow includes from ``roots`` (relative paths, already checked) inside ``include_dir``."""
    include_dir = include_dir.resolve()
    kept: set[str] = set()
    missing: list[str] = []
    stack: list[str] = []
    for root in roots:
        normal = _normalise(root)
        if normal is not None and _header(include_dir, normal) is not None:
            stack.append(normal)
        else:
            missing.append(root)
    while stack:
        rel = stack.pop()
        if rel in kept:
            continue
        kept.add(rel)
        here = PurePosixPath(rel).parent
        for kind, name in includes_of(include_dir / rel):
            candidates = ([here / name] if kind == b'"' else []) + [PurePosixPath(name)]
            for candidate in candidates:
                normal = _normalise(candidate)
                if normal is not None and _header(include_dir, normal) is not None:
                    if normal not in kept:
                        stack.append(normal)
                    break
    return HeaderClosure(include_dir, tuple(sorted(kept)), count_headers(include_dir), tuple(missing))


def _normalise(path: PurePosixPath | str) -> str | None:
    """A relative path inside the tree, or ``None`` (absolute, a drive, climbing above the top)."""
    text = str(path).replace("\\", "/")
    if not text or text.startswith("/") or re.match(r"^[A-Za-z]:", text) or "\0" in text:
        return None
    parts: list[str] = []
    for part in text.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts) if parts else None
