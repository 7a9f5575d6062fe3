"""Planning and checking a Linux (ELF) bundle.

The layout is ``lib/`` (every shared object under its SONAME, the name the
dynamic loader looks for, plus the link names of the manifest's
``import_libraries`` as symlinks, ``libopenvino_c.so -> libopenvino_c.so.2641``),
``include/``, ``licenses/`` and the lock file. The bundle is relocatable
when every library finds what it needs through ``$ORIGIN``: each library's
DT_RPATH / DT_RUNPATH is checked, and anything else is a warning at extract
and a problem at verify when a needed library is not found that way.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import cast

from npuslim.analyse.graph import DependencyGraph, Node
from npuslim.analyse.resolve import DRIVER, SYSTEM
from npuslim.analyse.resolve_elf import (
    GCC_RUNTIME,
    GLIBC,
    NOT_FOUND_ON_PATH,
    target_minimum,
)
from npuslim.analyse.symbols import MissingSymbols
from npuslim.formats.elf import ElfInfo
from npuslim.knowledge.manifest import Manifest
from npuslim.layout import LIB, PlannedFile, Role
from npuslim.plan.base import ROLE_OF_VIA, Requirement
from npuslim.source.locate import OpenVinoInstall

ORIGIN_ENTRIES = frozenset({"$ORIGIN", "${ORIGIN}", "$ORIGIN/", "${ORIGIN}/"})


def relocation_warnings(name: str, info: ElfInfo) -> list[str]:
    """Why ``info`` would not find its neighbours in a moved bundle (empty when its paths are $ORIGIN)."""
    out = []
    for tag, entries in (("DT_RUNPATH", info.runpath), ("DT_RPATH", info.rpath)):
        others = [e for e in entries if e not in ORIGIN_ENTRIES]
        if others:
            out.append(f"{name}: {tag} has {':'.join(others)} besides $ORIGIN; the bundle is relocatable "
                       "only through $ORIGIN")
    return out


def _requirements(graph: DependencyGraph, manifest: Manifest) -> tuple[Requirement, ...]:
    def names(pred: Callable[[Node], bool]) -> tuple[str, ...]:
        return tuple(sorted({n.name for n in graph.nodes if pred(n)}))

    minimum = target_minimum(graph)
    out: list[Requirement] = []
    glibc = names(lambda n: n.dep_class == SYSTEM and n.name in GLIBC)
    if glibc:
        version = minimum.glibc or "any"
        needer = minimum.needed_by.get("GLIBC")
        out.append(Requirement("glibc", f"glibc {version} or later", glibc,
                               f"symbol versions up to GLIBC_{version}" + (f" (needed by {needer})" if needer else "")
                               + "; the manylinux tag of the source wheel says the same or older"))
    gcc = names(lambda n: n.dep_class == SYSTEM and n.name in GCC_RUNTIME)
    if gcc:
        wanted = [minimum.versions[f] for f in ("GLIBCXX", "CXXABI", "GCC") if f in minimum.versions]
        out.append(Requirement("gcc-runtime", "GCC runtime (libstdc++, libgcc_s)", gcc,
                               "symbol versions " + (", ".join(wanted) or "none") + "; part of every distribution"))
    others = names(lambda n: n.dep_class == SYSTEM and n.name not in GLIBC and n.name not in GCC_RUNTIME)
    if others:
        out.append(Requirement(SYSTEM, "system libraries", others, "provided by the target distribution"))
    drivers = {n.name: n.name for n in graph.nodes if n.dep_class == DRIVER}
    for never in manifest.never_bundle:
        if never.dep_class == DRIVER:
            drivers.setdefault(never.name, never.name)
    for name in sorted(drivers):
        declared = manifest.never(name)
        title = f"{declared.provided_by} ({name})" if declared and declared.provided_by else name
        out.append(Requirement(DRIVER, title, (name,), declared.reason if declared else "provided by a driver"))
    return tuple(out)


class LinuxLayout:
    """``npuslim.plan.base.Layout`` for ELF shared objects (the module doc)."""

    msvc_runtime_refusal: str | None = ("--msvc-runtime is for Windows bundles; a Linux bundle relies on the "
                                        "target's GCC runtime (libstdc++, libgcc_s)")

    def binaries(self, graph: DependencyGraph, warnings: list[str]) -> list[PlannedFile]:
        return _shared_objects(graph, warnings)

    def missing_symbols(self, graph: DependencyGraph) -> tuple[MissingSymbols, ...]:
        return ()  # the versions a library needs are the target's minimum, not a check of the bundle

    def link_files(self, install: OpenVinoInstall, manifest: Manifest, features: frozenset[str],
                   files: list[PlannedFile], warnings: list[str]) -> list[PlannedFile]:
        return _link_names(manifest, features, files, warnings)

    def requirements(self, graph: DependencyGraph, manifest: Manifest,
                     files: list[PlannedFile]) -> tuple[Requirement, ...]:
        return _requirements(graph, manifest)


def _shared_objects(graph: DependencyGraph, warnings: list[str]) -> list[PlannedFile]:
    """Each bundled shared object once, under its SONAME, with what keeps the bundle from moving."""
    files: list[PlannedFile] = []
    seen: set[str] = set()
    for node in graph.files:
        info = node.info
        assert node.path is not None
        info = cast(ElfInfo, info)  # the ELF walk read every node
        name = info.soname or node.name
        real = os.path.realpath(node.path)
        if real in seen:  # one file reached under two names (a versioned name and its SONAME link)
            continue
        seen.add(real)
        files.append(PlannedFile(node.path, f"{LIB}/{name}", ROLE_OF_VIA[node.via], node.reason, node.chain,
                                 node.size, node.feature, info))
        warnings.extend(relocation_warnings(name, info))
        if NOT_FOUND_ON_PATH in node.reason:
            warnings.append(f"{name}: {node.reason}")
    return files


def _link_names(manifest: Manifest, features: frozenset[str], files: list[PlannedFile],
                warnings: list[str]) -> list[PlannedFile]:
    """The manifest's link names (``libopenvino_c.so``) as symlinks to the bundled library they name."""
    shipped = [f for f in files if f.dest.startswith(f"{LIB}/")]
    links = []
    for lib in manifest.import_libraries:
        if lib.feature is not None and lib.feature not in features:
            continue
        target = next((f for f in shipped if Path(f.dest).name.startswith(lib.name + ".")), None)
        if target is None:
            warnings.append(f"link name {lib.name}: no bundled library {lib.name}.* to point it at")
            continue
        links.append(PlannedFile(target.source, f"{LIB}/{lib.name}", Role.IMPLIB,
                                 f"link name for the linker (-l{lib.name[3:].split('.so')[0]}), "
                                 f"a symlink to {Path(target.dest).name}",
                                 (), len(Path(target.dest).name), lib.feature, link_to=Path(target.dest).name))
    return links
