"""Windows (PE) sources: the pip package, an unpacked wheel, the archive layout, a folder of DLLs, a DLL.

``windows_folder`` and ``single_dll`` are asked by ``npuslim.source.locate.locate``
after ``npuslim.source.linux`` has said a source is not a Linux one; wheels are
fetched and unpacked by ``npuslim.source.wheel``.
"""

from __future__ import annotations

from pathlib import Path

from npuslim.errors import InputError, os_reason
from npuslim.formats.pe import read_pe
from npuslim.platforms import Platform
from npuslim.source.install import OpenVinoInstall


def _has_dlls(folder: Path) -> bool:
    try:
        return any(p.suffix.lower() == ".dll" for p in folder.iterdir())
    except OSError:
        return False


def _dist_info_dirs(parent: Path, name: str = "openvino") -> tuple[Path, ...]:
    found = []
    for info in sorted(parent.glob(f"{name}-*.dist-info")):
        found.append(info)
        if (info / "licenses").is_dir():
            found.append(info / "licenses")
    return tuple(found)


def _version_of(dll_dir: Path) -> str | None:
    try:
        entries = sorted(dll_dir.iterdir()) if dll_dir.is_dir() else []
    except OSError as exc:
        raise InputError(f"{dll_dir}: cannot list: {os_reason(exc)}") from exc
    for entry in entries:
        if entry.name.lower() == "openvino.dll":
            # An openvino.dll that cannot be read is unusable input: without its
            # version the run-time companions (IR frontend, C API) would be left
            # out silently.
            return read_pe(entry).file_version
    return None


def _make(origin: str, layout: str, root: Path, dll_dir: Path, include: Path | None,
          lib: Path | None, licenses: tuple[Path, ...]) -> OpenVinoInstall:
    return OpenVinoInstall(
        origin=origin,
        layout=layout,
        root=root,
        dll_dir=dll_dir,
        include_dir=include if include and include.is_dir() else None,
        lib_dir=lib if lib and lib.is_dir() else None,
        license_dirs=tuple(p for p in licenses if p.is_dir()),
        version=_version_of(dll_dir),
        platform=Platform.WINDOWS,
    )


def windows_folder(folder: Path, origin: str) -> OpenVinoInstall:
    """The Windows install in ``folder`` (pip package, unpacked wheel, archive, DLL folder); an
    ``InputError`` saying what was looked for when it is none."""
    if (folder / "libs").is_dir() and (
        (folder / "__init__.py").exists() or (folder / "include").is_dir()
    ):
        libs = folder / "libs"
        if not _has_dlls(libs):
            elf = sorted(p.name for p in libs.glob("*.so*"))[:1]
            hint = f" ({elf[0]} is a Linux library)" if elf else ""
            raise InputError(
                f"{folder}: this OpenVINO package holds no Windows DLLs{hint}; "
                "pass a Windows install, a wheel, or a requirement such as openvino==2026.4.1"
            )
        return _make(origin, "pip-package", folder, libs, folder / "include", libs,
                     _dist_info_dirs(folder.parent))
    if (folder / "openvino" / "libs").is_dir():
        inner = folder / "openvino"
        return _make(origin, "wheel", folder, inner / "libs", inner / "include", inner / "libs",
                     _dist_info_dirs(folder))
    release = folder / "runtime" / "bin" / "intel64" / "Release"
    if release.is_dir():
        return _make(origin, "archive", folder, release, folder / "runtime" / "include",
                     folder / "runtime" / "lib" / "intel64" / "Release",
                     (folder, folder / "docs" / "licensing", folder / "licensing"))
    if _has_dlls(folder):
        return _make(origin, "dll-folder", folder, folder, None, None, ())
    raise InputError(
        f"{folder}: no OpenVINO install found (looked for libs/, openvino/libs/, "
        "runtime/bin/intel64/Release and for DLLs in the folder)"
    )


def single_dll(path: Path) -> OpenVinoInstall:
    """The install of one DLL: its folder's (when that is an install), with ``single_dll`` set."""
    read_pe(path)  # fail early and clearly on a file that is not PE
    folder = path.parent
    try:
        install = windows_folder(folder, str(path))
    except InputError:
        install = OpenVinoInstall(str(path), "dll-folder", folder, folder, None, None, (), None)
    return OpenVinoInstall(
        origin=str(path), layout="single-dll", root=install.root, dll_dir=folder,
        include_dir=install.include_dir, lib_dir=install.lib_dir,
        license_dirs=install.license_dirs, version=install.version, single_dll=path,
    )
