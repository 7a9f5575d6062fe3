"""The registry of closure walks, one per platform, and ``build_graph``, the analysis entry point.

``CLOSURES[platform]`` makes the ``ClosureWalk`` of an install: ``PeClosure``
(``npuslim.analyse.closure_pe``) for Windows, ``ElfClosure``
(``npuslim.analyse.closure_elf``) for Linux. Both build on the shared steps of
``npuslim.analyse.graph`` and never import each other; this module is the only
one that knows both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from npuslim.analyse.closure_elf import ElfClosure
from npuslim.analyse.closure_pe import PeClosure
from npuslim.analyse.graph import ClosureWalk, DependencyGraph
from npuslim.knowledge.manifest import Manifest, WindowsFacts
from npuslim.platforms import Platform
from npuslim.source.locate import OpenVinoInstall


class Closure(Protocol):
    """Makes the closure walk of one install (the constructor of a ``ClosureWalk`` subclass)."""

    def __call__(self, install: OpenVinoInstall, *, manifest: Manifest | None, facts: WindowsFacts,
                 search_paths: tuple[Path, ...]) -> ClosureWalk: ...


CLOSURES: dict[Platform, Closure] = {
    Platform.WINDOWS: PeClosure,
    Platform.LINUX: ElfClosure,
}


def build_graph(
    install: OpenVinoInstall,
    *,
    manifest: Manifest | None,
    facts: WindowsFacts,
    roots: tuple[str, ...] | None = None,
    features: frozenset[str] | None = None,
    search_paths: tuple[Path, ...] = (),
    scan_hints: bool = True,
) -> DependencyGraph:
    """Compute the closure of ``roots`` (default: the manifest's) in ``install``, with the walk of
    the install's platform (``CLOSURES``).

    Companions of the manifest apply when the install's OpenVINO version is
    known and inside their range; those whose feature is selected are walked
    like roots. Raises ``InputError`` when a root cannot be found or a file of
    the closure is not a usable PE (or ELF, for a Linux install),
    ``ArchitectureError`` when machine types differ.
    """
    closure = CLOSURES[Platform(install.platform)]
    walk = closure(install, manifest=manifest, facts=facts, search_paths=search_paths)
    return walk.build(roots, features, scan_hints=scan_hints)
