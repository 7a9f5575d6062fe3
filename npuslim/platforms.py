"""The two platforms a bundle is for, decided once.

``Platform`` is decided exactly twice: by ``npuslim.source`` for an install
(the layout and the binaries found) and by ``npuslim.formats.lock.read_lock``
for a bundle. Every other stage looks its strategy up in a registry keyed by
it (``CLOSURES[platform]``, ``LAYOUTS[platform]``, ...) at its entry point and
never tests the platform again. Its values are the strings of the JSON outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

from npuslim.enums import StrEnum


class Platform(StrEnum):
    WINDOWS = "windows"   # PE DLLs, the Windows loader
    LINUX = "linux"       # ELF shared objects, ld.so


@dataclass(frozen=True)
class Traits:
    """What differs between the platforms as plain facts (words, folders, which checks apply);
    the strategies (walks, layouts, shrinkers, loaders) are in each stage's own registry."""

    binary: str              # what one of its binaries is called
    column: str              # the name of the column of binaries in a table
    link_files: str          # what sits beside the binaries to link against
    links_beside_binaries: bool  # link files live in the binaries' own folder (lib/)
    symbol_check: bool       # deps and verify check every imported symbol against its exporter
    export_tables: bool      # deps --exports reads the export tables
    target_minimum: bool     # a closure needs minimum runtime versions of the target (glibc, GCC)
    signatures: bool         # binaries carry signatures and Control Flow Guard that packing can lose


TRAITS: dict[Platform, Traits] = {
    Platform.WINDOWS: Traits(binary="DLL", column="DLL", link_files="import libraries", links_beside_binaries=False,
                             symbol_check=True, export_tables=True, target_minimum=False, signatures=True),
    Platform.LINUX: Traits(binary="shared object", column="library", link_files="link names (symlinks)",
                           links_beside_binaries=True, symbol_check=False, export_tables=False, target_minimum=True,
                           signatures=False),
}


def traits(platform: str) -> Traits:
    """The ``Traits`` of ``platform`` (a ``Platform`` or its value)."""
    return TRAITS[Platform(platform)]
