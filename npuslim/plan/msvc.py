"""Shipping the Visual C++ runtime app-locally (``extract --msvc-runtime FOLDER``).

Microsoft allows copying ``msvcp140.dll``, ``vcruntime140.dll`` and friends
beside an application. Every MSVC runtime DLL the closure imports is taken from
the folder the user names; a copy older than the toolset that linked the
bundle's DLLs gets a warning.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

from npuslim.analyse.graph import DependencyGraph
from npuslim.analyse.resolve import BUNDLED, MSVC_RUNTIME
from npuslim.errors import InputError
from npuslim.formats.pe import PeInfo, read_pe
from npuslim.knowledge.versions import parse_version
from npuslim.layout import BIN, PlannedFile, Role


def plan_msvc_runtime(graph: DependencyGraph, folder: Path) -> tuple[list[PlannedFile], list[str]]:
    """PlannedFiles for the runtime DLLs the closure imports, and warnings."""
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder (--msvc-runtime takes the folder holding msvcp140.dll)")
    listing = {p.name.lower(): p for p in folder.iterdir() if p.is_file()}
    needed = sorted({n.name for n in graph.nodes if n.dep_class == MSVC_RUNTIME}, key=str.lower)
    missing = [n for n in needed if n.lower() not in listing]
    if missing:
        raise InputError(f"{folder}: does not hold {', '.join(missing)} (needed by the bundle)")
    root_machine = graph.node(graph.roots[0]).info.machine  # type: ignore[union-attr]
    # a Windows graph: every node's facts were read by read_pe
    linkers = [cast(PeInfo, n.info).linker_version for n in graph.nodes if n.dep_class == BUNDLED and n.info]
    newest_linker = max(linkers, key=parse_version) if linkers else None
    files, warnings = [], []
    for name in needed:
        path = listing[name.lower()]
        info = read_pe(path)
        if info.machine != root_machine:
            raise InputError(f"{path}: built for {info.machine}, the bundle is {root_machine}")
        node = graph.node(name)
        if newest_linker and info.file_version and \
                parse_version(info.file_version).release[:2] < parse_version(newest_linker).release[:2]:
            warnings.append(
                f"{path.name} {info.file_version} is older than the toolset that built the bundle "
                f"(linker {newest_linker}); use a newer redistributable"
            )
        files.append(PlannedFile(path, f"{BIN}/{path.name}", Role.MSVC,
                                 "Visual C++ runtime shipped app-locally (--msvc-runtime)",
                                 node.chain if node else (path.name,), info.size, None, info))
    return files, warnings
