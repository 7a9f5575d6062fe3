"""A located OpenVINO install, and the wheel platform tags npuslim handles.

``OpenVinoInstall`` is what every later stage reads; its ``platform`` is decided
here, once, from the layout and the binaries found (``npuslim.platforms.Platform``,
a ``str`` enum: it still compares equal to ``"windows"`` and ``"linux"``).
"""

from __future__ import annotations

import contextlib
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from npuslim.errors import UsageError
from npuslim.platforms import Platform

DEFAULT_PLATFORM = "win_amd64"
# The DLLs in OpenVINO's wheels are the same for every Python tag; 3.11 is
# served by every release from 2023 to 2026, so it is the tag we ask pip for.
DEFAULT_PYTHON_VERSION = "3.11"

# OpenVINO publishes win_amd64, manylinux2014_x86_64 (up to 2025.4.1) and manylinux_2_28_x86_64 (2026.0 on).
_LINUX_TAG = re.compile(r"^(?:manylinux(?:1|2010|2014)_x86_64|manylinux_2_\d{1,3}_x86_64|linux_x86_64)$")
SUPPORTED_PLATFORMS_TEXT = ("win_amd64, manylinux_2_28_x86_64, manylinux2014_x86_64 "
                            "(or another manylinux_2_N_x86_64, manylinux2010_x86_64, manylinux1_x86_64, linux_x86_64)")


def platform_of_tag(tag: str) -> Platform:
    """The ``Platform`` of a wheel platform tag npuslim handles; a ``UsageError`` (exit 2) naming the
    supported tags otherwise, before pip is run or the tag becomes part of a cache path."""
    if tag == "win_amd64":
        return Platform.WINDOWS
    if _LINUX_TAG.match(tag):
        return Platform.LINUX
    shown = tag if len(tag) <= 60 else tag[:57] + "..."
    raise UsageError(f"--platform {shown!r}: not a platform npuslim handles; use {SUPPORTED_PLATFORMS_TEXT}")


def compatible_platforms(platform: str) -> tuple[str, ...]:
    """``platform`` and the older manylinux tags a machine of that tag also runs, newest first.

    pip's ``--platform manylinux_2_28_x86_64`` matches only that tag, but such a
    machine runs ``manylinux2014`` wheels too (OpenVINO published only those up
    to 2025.4.1, and only ``manylinux_2_28`` from 2026.0 on).
    """
    parts = platform.split("_", 3)
    if len(parts) == 4 and parts[0] == "manylinux" and parts[1].isdigit() and parts[2].isdigit():
        glibc = (int(parts[1]), int(parts[2]))
        if glibc > (2, 17):
            return (platform, f"manylinux2014_{parts[3]}")
    return (platform,)


@dataclass(frozen=True)
class OpenVinoInstall:
    """A located install: where its DLLs, headers, import libraries and licences are."""

    origin: str
    layout: str
    root: Path
    dll_dir: Path
    include_dir: Path | None
    lib_dir: Path | None
    license_dirs: tuple[Path, ...]
    version: str | None
    single_dll: Path | None = None
    wheel: Path | None = None
    platform: Platform = Platform.WINDOWS  # LINUX: ELF shared objects (npuslim.source.linux)

    def describe(self) -> str:
        version = f"OpenVINO {self.version}" if self.version else "version unknown"
        return f"{self.layout} layout at {self.root} ({version})"


def install_size(install: OpenVinoInstall) -> tuple[int, str]:
    """Bytes of the whole source install, and how they were measured.

    A wheel counts the uncompressed size of every member (npuslim unpacks only
    what it needs); a folder counts every file under it.
    """
    if install.wheel is not None:
        with zipfile.ZipFile(install.wheel) as zf:
            return sum(m.file_size for m in zf.infolist()), f"uncompressed size of {install.wheel.name}"
    total = 0
    for dirpath, _dirs, files in os.walk(install.root):
        for name in files:
            with contextlib.suppress(OSError):  # gone meanwhile: not part of the size
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total, f"all files under {install.root.name or install.root}"


def public_name(origin: str) -> str:
    """What a lock file may say of where a source came from: a path's last name only (the folders
    above it are the machine's: user names, cache folders), anything else (a requirement such as
    ``openvino==2026.4.1``, ``INTEL_OPENVINO_DIR``) as it is."""
    path = Path(origin)
    if path.is_absolute() or os.sep in origin or (os.altsep and os.altsep in origin) or path.exists():
        return path.name or origin
    return origin
