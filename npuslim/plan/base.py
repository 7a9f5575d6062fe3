"""What every bundle plan shares, whatever its platform: the plan, the request, the layout protocol.

``npuslim.plan.bundle.plan_bundle`` is the one skeleton; the files that depend
on the platform come from a ``Layout`` (``npuslim.plan.windows_bundle``,
``npuslim.plan.linux_bundle``), and both layouts import this module, never
each other. Nothing here writes.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from npuslim.analyse.graph import DependencyGraph, Node, Via
from npuslim.analyse.headers import HeaderClosure, header_closure
from npuslim.analyse.symbols import MissingSymbols
from npuslim.errors import InputError, MissingDependencyError, os_reason
from npuslim.knowledge.manifest import Manifest, WindowsFacts
from npuslim.layout import INCLUDE, LICENSES, LOCK_FILE, PlannedFile, Role
from npuslim.paths import check_regular, is_within, relative_path
from npuslim.plan.onnxruntime import OnnxRuntimeSource
from npuslim.plan.onnxruntime import source_size as ort_source_size
from npuslim.source.locate import OpenVinoInstall, install_size

ROLE_OF_VIA = {Via.ROOT: Role.ROOT, Via.IMPORT: Role.IMPORT, Via.DELAY_IMPORT: Role.IMPORT,
               Via.RUNTIME: Role.COMPANION, Via.FORWARD: Role.IMPORT}


@dataclass(frozen=True)
class PlanRequest:
    """What the caller asks of a bundle plan (the options of extract and diff).

    ``features`` are those to deliver (``npuslim.plan.features.features_for_source``);
    ``features_requested`` (default: ``features``) and ``features_dropped`` are
    recorded as given. ``facts`` are read by the dependency graph.
    ``msvc_runtime_dir`` is the folder of Microsoft's runtime to ship
    app-locally (``--msvc-runtime``), refused by a layout that cannot ship it.
    """

    features: frozenset[str]
    facts: WindowsFacts
    roots: tuple[str, ...] | None = None
    search_paths: tuple[Path, ...] = ()
    allow_missing: bool = False
    msvc_runtime_dir: Path | None = None
    features_requested: frozenset[str] | None = None
    features_dropped: tuple[tuple[str, str], ...] = ()
    onnxruntime: OnnxRuntimeSource | None = None


@dataclass(frozen=True)
class Requirement:
    """Something the target machine must provide."""

    kind: str
    name: str
    dlls: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class MissingEntry:
    name: str
    required_by: tuple[str, ...]


@dataclass(frozen=True)
class BundlePlan:
    install: OpenVinoInstall
    manifest: Manifest
    features: frozenset[str]
    graph: DependencyGraph
    files: tuple[PlannedFile, ...]
    requirements: tuple[Requirement, ...]
    missing: tuple[MissingEntry, ...]
    headers: HeaderClosure | None
    warnings: tuple[str, ...]
    source_size: int
    source_size_how: str
    features_requested: frozenset[str] = frozenset()
    features_dropped: tuple[tuple[str, str], ...] = ()
    onnxruntime: OnnxRuntimeSource | None = None
    missing_symbols: tuple[MissingSymbols, ...] = ()

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def by_role(self, *roles: str) -> tuple[PlannedFile, ...]:
        return tuple(f for f in self.files if f.role in roles)


class Layout(Protocol):
    """Where one platform's files go in a bundle and what its target must provide (``LAYOUTS``)."""

    #: why a bundle of this layout cannot carry Microsoft's runtime (``--msvc-runtime``); ``None``: it can
    msvc_runtime_refusal: str | None

    def binaries(self, graph: DependencyGraph, warnings: list[str]) -> list[PlannedFile]:
        """The bundled files of the dependency graph, at their bundle paths."""

    def missing_symbols(self, graph: DependencyGraph) -> tuple[MissingSymbols, ...]:
        """Symbols the bundled files import and their providers do not export."""

    def link_files(self, install: OpenVinoInstall, manifest: Manifest, features: frozenset[str],
                   files: list[PlannedFile], warnings: list[str]) -> list[PlannedFile]:
        """What an application links against (import libraries, link names), given the ``files`` so far."""

    def requirements(self, graph: DependencyGraph, manifest: Manifest,
                     files: list[PlannedFile]) -> tuple[Requirement, ...]:
        """What the target machine must provide for the planned ``files``."""


def build_requirements(onnxruntime: OnnxRuntimeSource | None) -> tuple[Requirement, ...]:
    """What building an application against the bundle needs that the bundle cannot carry."""
    if onnxruntime is None:
        return ()
    version = onnxruntime.version or "of the same version"
    return (Requirement(
        "build", f"ONNX Runtime {version} C API header (onnxruntime_c_api.h)", (),
        "the onnxruntime-openvino wheel ships no headers and no import libraries: take onnxruntime_c_api.h "
        "from ONNX Runtime's own release of the same version, and reach onnxruntime.dll through "
        "OrtGetApiBase (or an import library made from its exports)"),)


def measure_source(install: OpenVinoInstall, onnxruntime: OnnxRuntimeSource | None) -> tuple[int, str]:
    """The size of everything the bundle was taken from, and how it was measured."""
    size, how = install_size(install)
    if onnxruntime is None:
        return size, how
    ort_size, ort_how = ort_source_size(onnxruntime)
    return size + ort_size, f"{how} + {ort_how}"


def missing_or_raise(graph: DependencyGraph, missing_symbols: tuple[MissingSymbols, ...] = (), *,
                     allow_missing: bool, warnings: list[str]) -> tuple[MissingEntry, ...]:
    """Every missing dependency (files, then symbols); raises ``MissingDependencyError`` unless
    ``allow_missing``, when each one becomes a warning instead."""
    missing = tuple(MissingEntry(n.name, n.required_by) for n in graph.missing) + tuple(
        MissingEntry(f"{m.dll} ({m.count} symbol{'s' if m.count > 1 else ''})", (m.importer,))
        for m in missing_symbols)
    if missing and not allow_missing:
        detail = "; ".join([_needed_by(n) for n in graph.missing] + [m.describe() for m in missing_symbols])
        raise MissingDependencyError(f"missing dependencies: {detail}{_missing_hint(graph.missing)}",
                                     tuple(m.name for m in missing))
    warnings.extend(f"{m.name} is missing and recorded as such (--allow-missing)" for m in missing)
    return missing


def _needed_by(node: Node) -> str:
    text = f"{node.name} (needed by {', '.join(node.required_by) or 'the manifest'}"
    if node.feature:
        text += f"; feature {node.feature}"
    return text + ")"


def _missing_hint(files: tuple[Node, ...]) -> str:
    """What the user can do about missing dependencies, as the end of the error's one line."""
    if not files:  # only symbols are missing: another folder would not change the files found
        return ". Write the bundle all the same with --allow-missing"
    features = sorted({n.feature for n in files if n.feature})
    without = "".join(f", leave out feature {name} with --without {name}" for name in features)
    return (". Add the folder that holds them with --search-path DIR" + without
            + ", or write the bundle without them with --allow-missing")


def plan_headers(install: OpenVinoInstall, manifest: Manifest, features: frozenset[str],
                 files: list[PlannedFile], warnings: list[str]) -> HeaderClosure | None:
    """Add the header closure of the manifest's header roots (for ``features``) to ``files``."""
    wanted = tuple(h.path for h in manifest.headers if h.feature is None or h.feature in features)
    if not wanted:
        return None
    if install.include_dir is None:
        warnings.append(f"no include folder in the source ({install.layout} layout): the bundle has no headers")
        return None
    headers = header_closure(install.include_dir, wanted)
    warnings.extend(f"header {root} is not in {install.include_dir}" for root in headers.missing_roots)
    for rel in headers.kept:
        path = install.include_dir / rel
        files.append(PlannedFile(path, f"{INCLUDE}/{rel}", Role.HEADER,
                                 "included from the manifest's header roots", (), file_size(path)))
    return headers


def _matches(rel: str, pattern: str) -> bool:
    """Glob match segment by segment: ``*`` never crosses a ``/``."""
    parts, pats = rel.split("/"), pattern.split("/")
    return len(parts) == len(pats) and all(fnmatch.fnmatch(a, b) for a, b in zip(parts, pats, strict=True))


def _license_files(install: OpenVinoInstall, patterns: tuple[str, ...]) -> list[tuple[Path, str]]:
    """Licence files matching ``patterns`` in the install's licence folders -> bundle paths.

    A file reachable from two licence folders (a dist-info and its
    ``licenses/``) is taken once, relative to the deeper folder. A matching
    file that is a symbolic link out of its folder (or a link loop) is refused.
    """
    chosen: dict[Path, str] = {}
    for folder in sorted(install.license_dirs, key=lambda d: len(d.parts), reverse=True):
        for dirpath, _dirs, files in os.walk(folder):
            for name in sorted(files):
                path = Path(dirpath) / name
                rel = path.relative_to(folder).as_posix()
                if not any(_matches(rel, pat) for pat in patterns):
                    continue
                if not is_within(path, folder):
                    raise InputError(f"{path}: a licence file that leads outside {folder} "
                                     "(symbolic link or link loop): refused")
                real = path.resolve()
                if real not in chosen:
                    chosen[real] = f"{LICENSES}/{rel}"
    return sorted(chosen.items(), key=lambda t: t[1])


def plan_licenses(install: OpenVinoInstall, manifest: Manifest, warnings: list[str]) -> list[PlannedFile]:
    """The licence files of the source that match the manifest's patterns."""
    licenses = _license_files(install, manifest.licenses)
    if manifest.licenses and not licenses:
        warnings.append("no licence files found in the source: the bundle cannot be redistributed as is")
    return [PlannedFile(path, dest, Role.LICENSE, "licence of the bundled binaries", (), file_size(path))
            for path, dest in licenses]


def file_size(path: Path) -> int:
    try:
        st = path.stat()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {os_reason(exc)}") from exc
    check_regular(path, st)
    return st.st_size


def check_files(files: list[PlannedFile]) -> None:
    """Every source readable; no two files for one bundle path (case-insensitive, as on Windows)."""
    problems: list[str] = []
    seen: dict[str, PlannedFile] = {}
    for f in files:
        if relative_path(f.dest, what="bundle path") != f.dest:
            problems.append(f"{f.dest}: not a plain bundle path")
        key = f.dest.lower()
        if key in seen and seen[key].source != f.source:
            problems.append(f"{seen[key].source} and {f.source} both map to {f.dest}")
        seen.setdefault(key, f)
        if not os.access(f.source, os.R_OK) or not f.source.is_file():
            problems.append(f"{f.source}: cannot read")
        if f.dest == LOCK_FILE:
            problems.append(f"{f.source} would overwrite the lock file")
    if problems:
        raise InputError("; ".join(problems))
