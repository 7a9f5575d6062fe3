"""A bundle's vocabulary: its folders, the files npuslim writes into it, the roles of its files.

Every stage uses these names; none of them decides anything. ``PlannedFile``
is the unit the plan hands to the act stage: one file, where it goes, and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from npuslim.enums import StrEnum

if TYPE_CHECKING:
    from npuslim.formats.binary import BinaryInfo


class Role(StrEnum):
    """Why a file is in a bundle (the ``role`` of each file in the lock file)."""

    ROOT = "root"
    IMPORT = "import"
    COMPANION = "runtime-companion"
    MSVC = "msvc-runtime"
    HEADER = "header"
    IMPLIB = "import-library"
    LICENSE = "license"


DLL_ROLES = (Role.ROOT, Role.IMPORT, Role.COMPANION, Role.MSVC)

# the bundle's folders: DLLs (Windows), shared objects (Linux) and import libraries, headers, licences
BIN, LIB, INCLUDE, LICENSES = "bin", "lib", "include", "licenses"

# The lock file: what npuslim wrote into a bundle, with every file's sha256 (npuslim.formats.lock).
# The input YAML that says what a bundle should hold is the *manifest* (npuslim.knowledge.manifest).
LOCK_FILE = "npuslim-bundle.json"
SBOM_FILE = "sbom.cdx.json"
REPORT_MD, REPORT_JSON = "size-report.md", "size-report.json"
# written by npuslim beside the lock file: they describe the bundle, they are not of it
REPORT_FILES = frozenset({REPORT_MD, REPORT_JSON, SBOM_FILE})
# every file npuslim writes into a bundle besides the bundled files themselves
NPUSLIM_FILES = REPORT_FILES | {LOCK_FILE}

# the archive formats of ``pack --archive``, each written beside OUT as OUT.<format>
ARCHIVE_FORMATS = ("zip", "tar.xz")


def archive_name(out: Path, fmt: str) -> Path:
    """Where ``pack -o OUT --archive FMT`` writes the archive: ``OUT.FMT`` beside ``OUT``."""
    return out.parent / f"{out.name}.{fmt}"


@dataclass(frozen=True)
class PlannedFile:
    """One file of the bundle: its source, its bundle path (POSIX), and why it is there."""

    source: Path
    dest: str
    role: Role
    reason: str
    chain: tuple[str, ...]
    size: int
    feature: str | None = None
    info: BinaryInfo | None = None
    link_to: str | None = None  # a symlink to this name in the same folder (Linux link names)
