"""Where an OpenVINO install comes from, and which layout it has.

A source is a folder (pip package, unpacked wheel, archive layout, or any folder
of DLLs or shared objects), a single DLL or ``.so``, a wheel file, a requirement
such as ``openvino==2026.4.1`` (or the bare ``openvino``: its newest release)
fetched with pip, or nothing (the ``openvino`` package of this Python, else
``INTEL_OPENVINO_DIR``). Wheels are fetched and unpacked into npuslim's cache by
``npuslim.source.wheel``, never beside the user's files, and reused on the next
run. The platform is decided here, once: a folder is asked whether it is a Linux
install (``npuslim.source.linux``), else it is a Windows one
(``npuslim.source.windows``); a wheel by its platform tag; a file by its format.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from npuslim.errors import InputError
from npuslim.paths import cache_dir
from npuslim.progress import ProgressFn
from npuslim.source.install import (
    DEFAULT_PLATFORM,
    DEFAULT_PYTHON_VERSION,
    OpenVinoInstall,
    install_size,
    platform_of_tag,
    public_name,
)
from npuslim.source.linux import (
    is_linux_wheel,
    is_shared_object_name,
    linux_folder,
    linux_wheel,
    single_shared_object,
)
from npuslim.source.requirements import is_requirement, near_miss
from npuslim.source.wheel import fetch_wheel, unpack_wheel, wheel_record

# The names other stages import from here (``_unpack_wheel``: npuslim.plan.onnxruntime).
_unpack_wheel = unpack_wheel
__all__ = ["DEFAULT_PLATFORM", "DEFAULT_PYTHON_VERSION", "OpenVinoInstall", "_unpack_wheel", "cache_dir",
           "default_folder", "fetch_wheel", "install_size", "is_requirement", "locate", "public_name",
           "source_record", "wheel_record"]


def source_record(install: OpenVinoInstall) -> dict[str, Any]:
    """What the lock file says of the install it was extracted from: names, versions and hashes,
    never a path of this machine, so that the same source gives the same lock file anywhere.

    ``root`` is the name of the install's folder, or the wheel's file name; ``wheel`` the
    wheel's name and sha256 when the install came from one.
    """
    return {
        "origin": public_name(install.origin), "layout": install.layout,
        "root": install.wheel.name if install.wheel is not None else install.root.name or str(install.root),
        "openvino_version": install.version, "platform": install.platform,
        **({"wheel": wheel_record(install.wheel)} if install.wheel is not None else {}),
    }


def default_folder() -> tuple[Path, str]:
    """The one rule for no source given: this Python's ``openvino`` package, else
    ``INTEL_OPENVINO_DIR``; the folder and where it came from, or an ``InputError``."""
    spec = importlib.util.find_spec("openvino")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))), "installed openvino package"
    env = os.environ.get("INTEL_OPENVINO_DIR")
    if env:
        return Path(env), "INTEL_OPENVINO_DIR"
    raise InputError(
        "no OpenVINO found: pass an install folder, a DLL, a .whl file or a "
        "requirement such as openvino==2026.4.1 (no openvino package in this "
        "Python, INTEL_OPENVINO_DIR not set)"
    )


# Each platform's readers (npuslim.formats.pe and pefile, npuslim.formats.elf) are imported when
# a source of that platform is read: a run on one platform's source never imports the other's.


def install_in_folder(folder: Path, origin: str) -> OpenVinoInstall:
    """The Linux install in ``folder`` when it is one, else the Windows one (or an ``InputError``)."""
    linux = linux_folder(folder, origin)
    if linux is not None:
        return linux
    from npuslim.source.windows import windows_folder

    return windows_folder(folder, origin)


def install_in_wheel(wheel: Path, origin: str, *, progress: ProgressFn | None = None) -> OpenVinoInstall:
    """The install a wheel holds, unpacked into the cache; its platform tag says which layout it has."""
    if is_linux_wheel(wheel):
        return linux_wheel(wheel, origin, progress=progress)
    from npuslim.source.windows import windows_folder

    return replace(windows_folder(unpack_wheel(wheel, progress=progress), origin), wheel=wheel)


def locate(source: str | None, *, platform: str = DEFAULT_PLATFORM,
           progress: ProgressFn | None = None) -> OpenVinoInstall:
    """Turn what the user passed into a located install (see the module docstring). ``platform``
    is the wheel platform tag a requirement is fetched for (a ``UsageError`` when npuslim does not
    handle it); fetching and unpacking report to ``progress``."""
    platform_of_tag(platform)
    if source is None:
        folder, origin = default_folder()
        return install_in_folder(folder, origin)
    if is_requirement(source):
        wheel = fetch_wheel(source, platform=platform, progress=progress)
        return install_in_wheel(wheel, source, progress=progress)
    path = Path(source)
    if not path.exists():
        raise near_miss(source) or InputError(
            f"{source}: no such file or folder (nor a requirement like openvino==2026.4.1)")
    if path.is_dir():
        return install_in_folder(path, str(path))
    if path.suffix.lower() == ".whl":
        return install_in_wheel(path, str(path), progress=progress)
    from npuslim.formats.elf import is_elf

    if is_elf(path):
        return single_shared_object(path)
    if path.suffix.lower() in (".dll", ".exe", ".pyd"):
        from npuslim.source.windows import single_dll

        return single_dll(path)
    if is_shared_object_name(path.name):
        raise InputError(f"{path}: not an ELF file (named like a Linux shared object)")
    raise InputError(f"{source}: not a folder, a DLL or a wheel")
