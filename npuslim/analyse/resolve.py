"""Naming a DLL: which file it is, or which class of provider serves it.

Search order for a name imported by ``X`` (case-insensitive, as on Windows):

1. API sets (``api-ms-win-*``, ``ext-ms-win-*``): virtual names served by the
   loader; never files.
2. Names the manifest never bundles (``ze_loader.dll``: the driver's).
3. The Visual C++ runtime (redistributable), even when a copy is found.
4. Windows system DLLs (``manifests/windows.yaml``), then the Python interpreter's DLL
   (``python3.dll``, ``python3XX.dll``: what a Python extension imports).
5. Files: the folder of ``X``, the install's DLL folder, then each
   ``--search-path`` folder in the order given. The first match wins.
6. Otherwise: missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from npuslim.enums import StrEnum
from npuslim.errors import InputError
from npuslim.knowledge.manifest import Manifest, WindowsFacts


class DepClass(StrEnum):
    """Who provides a dependency (``class`` in the JSON outputs)."""

    BUNDLED = "bundled"
    MSVC_RUNTIME = "msvc-runtime"
    API_SET = "api-set"
    SYSTEM = "system"
    DRIVER = "driver"
    PYTHON = "python"      # the interpreter's own DLL, which a Python extension (.pyd) imports
    MISSING = "missing"


BUNDLED, SYSTEM, API_SET = DepClass.BUNDLED, DepClass.SYSTEM, DepClass.API_SET
MSVC_RUNTIME, DRIVER, MISSING = DepClass.MSVC_RUNTIME, DepClass.DRIVER, DepClass.MISSING
PYTHON = DepClass.PYTHON
# python3.dll (the stable ABI) and python3XX.dll: what CPython's Windows extensions link against;
# the Python that imports the extension has it loaded already, so it is never bundled.
PYTHON_DLL = re.compile(r"^python3\d*\.dll$", re.IGNORECASE)
CLASSES = tuple(DepClass)  # the order of the JSON summary and the tables


@dataclass(frozen=True)
class Resolution:
    """Where a DLL name leads: a class, and a file when one was found."""

    dep_class: DepClass
    path: Path | None
    note: str = ""


@dataclass
class Resolver:
    """Resolves DLL names with the documented search order; caches folder listings."""

    facts: WindowsFacts
    manifest: Manifest | None
    dll_dir: Path
    search_paths: tuple[Path, ...] = ()
    _listings: dict[Path, dict[str, Path]] = field(default_factory=dict)

    def listing(self, folder: Path) -> dict[str, Path]:
        """Lower-cased file name -> path for one folder; two names equal but for case are an error."""
        cached = self._listings.get(folder)
        if cached is not None:
            return cached
        entries: dict[str, Path] = {}
        try:
            children = sorted(folder.iterdir())
        except OSError:
            children = []
        for child in children:
            low = child.name.lower()
            if low in entries:
                raise InputError(
                    f"{folder}: {entries[low].name} and {child.name} differ only in case; "
                    "Windows cannot hold both"
                )
            if child.is_file():
                entries[low] = child
        self._listings[folder] = entries
        return entries

    def folders_for(self, importer: Path | None) -> tuple[Path, ...]:
        order: list[Path] = []
        for folder in ((importer.parent,) if importer else ()) + (self.dll_dir,) + self.search_paths:
            if folder not in order:
                order.append(folder)
        return tuple(order)

    def find_file(self, name: str, importer: Path | None = None) -> Path | None:
        low = name.lower()
        for folder in self.folders_for(importer):
            hit = self.listing(folder).get(low)
            if hit is not None:
                return hit
        return None

    def resolve(self, name: str, importer: Path | None = None) -> Resolution:
        low = name.lower()
        if low.startswith(self.facts.api_set_prefixes):
            return Resolution(API_SET, None, "API set, served by Windows (Universal CRT on Windows 10+)")
        never = self.manifest.never(name) if self.manifest else None
        if never is not None:
            return Resolution(DepClass(never.dep_class), None, never.reason)
        if low in self.facts.msvc_runtime:
            return Resolution(
                MSVC_RUNTIME, self.find_file(name, importer),
                "Visual C++ 2015-2022 redistributable",
            )
        if low in self.facts.system:
            return Resolution(SYSTEM, None, "Windows system DLL")
        if PYTHON_DLL.match(name):
            return Resolution(PYTHON, None, "the Python interpreter's DLL, loaded by the Python that imports "
                              "the extension")
        path = self.find_file(name, importer)
        if path is not None:
            return Resolution(BUNDLED, path)
        looked = ", ".join(str(f) for f in self.folders_for(importer))
        return Resolution(MISSING, None, f"not found in {looked}")
