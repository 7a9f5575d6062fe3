"""The two platforms a bundle is for, decided once.

``Platform`` is decided exactly twice: by ``npuslim.source`` for an install
(the layout and the binaries found) and by ``npuslim.formats.lock.read_lock``
for a bundle. Every other stage looks its strategy up in a registry keyed by
it (``CLOSURES[platform]``, ``LAYOUTS[platform]``, ...) at its entry point and
never tests the platform again. Its values are the strings of the JSON outputs.
"""

from __future__ import annotations

from npuslim.enums import StrEnum


class Platform(StrEnum):
    WINDOWS = "windows"   # PE DLLs, the Windows loader
    LINUX = "linux"       # ELF shared objects, ld.so
