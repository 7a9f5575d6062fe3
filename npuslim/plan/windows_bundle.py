"""The Windows layout of a bundle: ``bin/`` (the DLLs under their own names), ``lib/`` (import
libraries), ``include/``, ``licenses/`` and the lock file.

Besides the OpenVINO DLLs, a Windows bundle may carry Microsoft's runtime
(``--msvc-runtime``, planned by ``npuslim.plan.msvc``); what it does not carry
(the Visual C++ redistributable, the NPU driver, API sets, system DLLs) is
named in its requirements. The symbols each bundled DLL imports are checked
against what its providers export.
"""

from __future__ import annotations

from pathlib import Path

from npuslim.analyse.graph import DependencyGraph
from npuslim.analyse.resolve import API_SET, BUNDLED, DRIVER, MSVC_RUNTIME, PYTHON, SYSTEM
from npuslim.analyse.symbols import MissingSymbols, check_symbols
from npuslim.knowledge.manifest import Manifest
from npuslim.layout import BIN, LIB, PlannedFile, Role
from npuslim.plan.base import ROLE_OF_VIA, Requirement, file_size
from npuslim.source.locate import OpenVinoInstall


class WindowsLayout:
    """``npuslim.plan.base.Layout`` for PE DLLs (the module doc)."""

    msvc_runtime_refusal: str | None = None

    def binaries(self, graph: DependencyGraph, warnings: list[str]) -> list[PlannedFile]:
        return [PlannedFile(node.path, f"{BIN}/{node.name}", ROLE_OF_VIA[node.via], node.reason,
                            node.chain, node.size, node.feature, node.info)
                for node in graph.nodes if node.dep_class == BUNDLED and node.path is not None]

    def missing_symbols(self, graph: DependencyGraph) -> tuple[MissingSymbols, ...]:
        return check_symbols((n.name, n.path) for n in graph.files if n.path is not None)

    def link_files(self, install: OpenVinoInstall, manifest: Manifest, features: frozenset[str],
                   files: list[PlannedFile], warnings: list[str]) -> list[PlannedFile]:
        return _import_libraries(install, manifest, features, warnings)

    def requirements(self, graph: DependencyGraph, manifest: Manifest,
                     files: list[PlannedFile]) -> tuple[Requirement, ...]:
        return _requirements(graph, manifest, files)


def _requirements(graph: DependencyGraph, manifest: Manifest,
                  files: list[PlannedFile]) -> tuple[Requirement, ...]:
    msvc_shipped = frozenset(Path(f.dest).name.lower() for f in files if f.role == Role.MSVC)

    def names(cls: str) -> tuple[str, ...]:
        return tuple(sorted({n.name for n in graph.nodes if n.dep_class == cls}, key=str.lower))

    machine = graph.node(graph.roots[0]).info.machine  # type: ignore[union-attr]
    out: list[Requirement] = []
    msvc = tuple(n for n in names(MSVC_RUNTIME) if n.lower() not in msvc_shipped)
    if msvc:
        out.append(Requirement(MSVC_RUNTIME, f"Visual C++ 2015-2022 redistributable ({machine})", msvc,
                               "install vc_redist on the target, or ship it with extract --msvc-runtime"))
    drivers = {n.lower(): n for n in names(DRIVER)}
    for never in manifest.never_bundle:
        if never.dep_class == DRIVER:
            drivers.setdefault(never.name.lower(), never.name)
    for _low, name in sorted(drivers.items()):
        declared = manifest.never(name)
        title = f"{declared.provided_by} ({name})" if declared and declared.provided_by else name
        out.append(Requirement(DRIVER, title, (name,), declared.reason if declared else "provided by a driver"))
    api = names(API_SET)
    if api:
        out.append(Requirement("windows", "Windows 10 or later", api,
                               "API sets of the Universal CRT, part of Windows 10 and later"))
    system = names(SYSTEM)
    if system:
        out.append(Requirement(SYSTEM, "Windows system DLLs", system, "present on every Windows"))
    python = names(PYTHON)
    if python:
        out.append(Requirement(PYTHON, "the Python interpreter (CPython for Windows)", python,
                               "a Python extension's own interpreter: loaded by the Python that imports it"))
    return tuple(out)


def _import_libraries(install: OpenVinoInstall, manifest: Manifest, features: frozenset[str],
                      warnings: list[str]) -> list[PlannedFile]:
    """The manifest's import libraries (``openvino.lib``) found in the source's library folder."""
    files = []
    for lib in manifest.import_libraries:
        if lib.feature is not None and lib.feature not in features:
            continue
        lib_path: Path | None = None
        if install.lib_dir is not None:
            lib_path = next((p for p in install.lib_dir.iterdir() if p.name.lower() == lib.name.lower()), None)
        if lib_path is None:
            warnings.append(f"import library {lib.name} is not in the source")
            continue
        files.append(PlannedFile(lib_path, f"{LIB}/{lib_path.name}", Role.IMPLIB,
                                 "import library to link against", (), file_size(lib_path), lib.feature))
    return files
