"""Linux (ELF) sources: the manylinux wheel, its unpacked or installed form, an archive, a ``.so``.

``npuslim.source.locate.locate`` asks ``linux_folder`` before the Windows layouts
(``None``: not a Linux install); wheels are fetched and unpacked by
``npuslim.source.wheel`` for both. A Linux source is:

- a requirement with a Linux ``--platform`` (``manylinux_2_28_x86_64``), fetched
  with pip into the cache like a Windows one (or for ``manylinux2014``);
- a ``.whl`` whose platform tag names Linux, unpacked into the cache;
- a folder: the pip package (``openvino/libs/*.so*``), an unpacked wheel, the
  archive layout (``runtime/lib/intel64``), or any folder of ``.so`` files;
- a single ELF shared object (its folder is the install);
- nothing: this Python's ``openvino`` package when it holds ``.so`` files.

The manifests are per platform: ``manifests/npu-linux.yaml`` beside
``npu.yaml`` (``npuslim.plan.features.manifest_for_install`` picks it when the shipped Windows one
was asked for a Linux source).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from npuslim.errors import InputError
from npuslim.paths import open_regular
from npuslim.platforms import Platform
from npuslim.progress import ProgressFn
from npuslim.source.install import OpenVinoInstall
from npuslim.source.wheel import unpack_wheel

LINUX = Platform.LINUX
_SO = re.compile(r"\.so(\.\d+)*$")
_VERSION_STRING = re.compile(rb"(20\d\d\.\d+\.\d+)-\d+-[0-9a-f]{6,}")


def is_shared_object_name(name: str) -> bool:
    """``libfoo.so`` or ``libfoo.so.1.2``."""
    return bool(_SO.search(name))


def _has_shared_objects(folder: Path) -> bool:
    try:
        return any(is_shared_object_name(p.name) for p in folder.iterdir())
    except OSError:
        return False


def _has_dlls(folder: Path) -> bool:
    try:
        return any(p.suffix.lower() == ".dll" for p in folder.iterdir())
    except OSError:
        return False


def _dist_info_dirs(parent: Path) -> tuple[Path, ...]:
    found: list[Path] = []
    for info in sorted(parent.glob("openvino-*.dist-info")):
        found.append(info)
        if (info / "licenses").is_dir():
            found.append(info / "licenses")
    return tuple(found)


def _version(lib_dir: Path, dist_parent: Path | None) -> str | None:
    """The OpenVINO version: the dist-info's ``Version:``, else the build string in libopenvino."""
    if dist_parent is not None:
        for info in sorted(dist_parent.glob("openvino-*.dist-info")):
            try:
                for line in (info / "METADATA").read_text(encoding="utf-8", errors="replace").splitlines():
                    if line.startswith("Version:"):
                        return line.split(":", 1)[1].strip()
            except OSError:
                continue
    core = sorted(p for p in lib_dir.glob("libopenvino.so*") if p.is_file())
    if not core:
        return None
    import mmap

    try:
        with open_regular(core[0]) as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            from npuslim.formats.elf import read_elf

            for off, size in read_elf(core[0]).data_ranges:
                m = _VERSION_STRING.search(data, off, off + size)
                if m:
                    return m.group(1).decode("ascii")
    except (OSError, ValueError, InputError):
        return None
    return None


def _make(origin: str, layout: str, root: Path, lib_dir: Path, include: Path | None,
          licenses: tuple[Path, ...], dist_parent: Path | None) -> OpenVinoInstall:
    return OpenVinoInstall(
        origin=origin, layout=layout, root=root, dll_dir=lib_dir,
        include_dir=include if include is not None and include.is_dir() else None,
        lib_dir=lib_dir, license_dirs=tuple(p for p in licenses if p.is_dir()),
        version=_version(lib_dir, dist_parent), platform=LINUX,
    )


def linux_folder(folder: Path, origin: str) -> OpenVinoInstall | None:
    """The Linux install in ``folder``, or ``None`` when it is not one (no ``.so`` where expected)."""
    libs = folder / "libs"
    if libs.is_dir() and ((folder / "__init__.py").exists() or (folder / "include").is_dir()):
        if _has_shared_objects(libs) and not _has_dlls(libs):
            return _make(origin, "pip-package", folder, libs, folder / "include",
                         _dist_info_dirs(folder.parent), folder.parent)
        return None
    inner = folder / "openvino" / "libs"
    if inner.is_dir():
        if _has_shared_objects(inner) and not _has_dlls(inner):
            return _make(origin, "wheel", folder, inner, folder / "openvino" / "include",
                         _dist_info_dirs(folder), folder)
        return None
    archive = folder / "runtime" / "lib" / "intel64"
    if archive.is_dir() and _has_shared_objects(archive):
        return _make(origin, "archive", folder, archive, folder / "runtime" / "include",
                     (folder, folder / "docs" / "licensing", folder / "licensing"), None)
    if _has_shared_objects(folder) and not _has_dlls(folder):
        return _make(origin, "so-folder", folder, folder, None, (), None)
    return None


def is_linux_wheel(wheel: Path) -> bool:
    """True when the file name of ``wheel`` carries a Linux platform tag; a name that is not a
    wheel file name (``x.whl``) is not a Linux wheel, and is left to the Windows path."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename  # see npuslim.source.locate

    try:
        tags = parse_wheel_filename(wheel.name)[3]
    except (InvalidWheelFilename, ValueError):
        return False
    return any("linux" in tag.platform.lower() for tag in tags)


def unpack_linux_wheel(wheel: Path, *, progress: ProgressFn | None = None) -> Path:
    """Unpack the shared objects, headers, licences and dist-info of a Linux wheel into the cache
    (with the same bounds and path rules as a Windows wheel: ``npuslim.source.wheel.unpack_wheel``)."""
    return unpack_wheel(wheel, _linux_wanted, progress=progress)


def _linux_wanted(name: str, parts: list[str]) -> bool:
    return (is_shared_object_name(parts[-1]) or "/include/" in name or ".dist-info/" in name
            or (name.endswith("__init__.py") and len(parts) == 2))


def linux_wheel(wheel: Path, origin: str, *, progress: ProgressFn | None = None) -> OpenVinoInstall:
    """The install in a Linux wheel, unpacked into the cache."""
    folder = unpack_linux_wheel(wheel, progress=progress)
    install = linux_folder(folder, origin)
    if install is None:
        raise InputError(f"{wheel}: a Linux wheel without OpenVINO shared objects (no openvino/libs/*.so)")
    return replace(install, wheel=wheel)


def single_shared_object(path: Path) -> OpenVinoInstall:
    """The install of one ELF shared object: its folder's (when that is an install), with ``single_dll`` set."""
    from npuslim.formats.elf import read_elf

    info = read_elf(path)  # fails clearly on a truncated or corrupt file
    if not info.is_dll:
        raise InputError(f"{path}: an ELF file but not a shared object (an executable or object file)")
    folder = path.parent
    install = linux_folder(folder, str(path)) or _make(str(path), "so-folder", folder, folder, None, (), None)
    return replace(install, origin=str(path), layout="single-so", dll_dir=folder, single_dll=path)
