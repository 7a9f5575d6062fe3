"""The registry of closure walks, one per platform, and ``build_graph``, the analysis entry point.

``CLOSURES[platform]`` names the ``ClosureWalk`` of an install: ``PeClosure``
(``npuslim.analyse.closure_pe``) for Windows, ``ElfClosure``
(``npuslim.analyse.closure_elf``) for Linux. Both build on the shared steps of
``npuslim.analyse.graph`` and never import each other; this module is the only
one that knows both, and imports only the one an install's platform needs
(``closure_walk``): a Linux run never imports pefile, a Windows run never the ELF reader.
"""

from __future__ import annotations

import importlib
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol, cast

from npuslim.analyse.graph import ClosureWalk, DependencyGraph
from npuslim.knowledge.manifest import Manifest, WindowsFacts
from npuslim.platforms import Platform
from npuslim.source.locate import OpenVinoInstall


class Closure(Protocol):
    """Makes the closure walk of one install (the constructor of a ``ClosureWalk`` subclass)."""

    def __call__(self, install: OpenVinoInstall, *, manifest: Manifest | None, facts: WindowsFacts,
                 search_paths: tuple[Path, ...]) -> ClosureWalk: ...

    def reading_once(self) -> AbstractContextManager[None]: ...


# platform -> (module, class) of its closure walk
CLOSURES: dict[Platform, tuple[str, str]] = {
    Platform.WINDOWS: ("npuslim.analyse.closure_pe", "PeClosure"),
    Platform.LINUX: ("npuslim.analyse.closure_elf", "ElfClosure"),
}


def closure_walk(platform: Platform) -> Closure:
    """The ``ClosureWalk`` class of ``platform``, its module imported now."""
    module, name = CLOSURES[platform]
    return cast(Closure, getattr(importlib.import_module(module), name))


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
    closure = closure_walk(Platform(install.platform))
    walk = closure(install, manifest=manifest, facts=facts, search_paths=search_paths)
    return walk.build(roots, features, scan_hints=scan_hints)
