"""Where an OpenVINO install comes from, and which layout it has.

A source is a folder (pip package, unpacked wheel, archive layout, or any folder
of DLLs), a single DLL, a wheel file, a requirement such as
``openvino==2026.4.1`` fetched with pip, or nothing (the ``openvino`` package of
this Python, else ``INTEL_OPENVINO_DIR``). Wheels are unpacked into npuslim's
cache, never beside the user's files, and reused on the next run.
"""

from __future__ import annotations

import hashlib
import importlib.util
import lzma
import os
import re
import shutil
import stat
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from npuslim.errors import InputError, OutputError, ToolError, os_reason
from npuslim.formats.pe import read_pe
from npuslim.paths import cache_dir, open_regular, relative_path
from npuslim.tools import ToolRun, run_tool

if TYPE_CHECKING:
    from packaging.requirements import Requirement

# packaging.requirements and packaging.utils are imported where used: 20-40 ms of start-up
# (regular expressions compiled at import) that a run on a folder or a DLL never needs.

DEFAULT_PLATFORM = "win_amd64"
# The DLLs in OpenVINO's wheels are the same for every Python tag; 3.11 is
# served by every release from 2023 to 2026, so it is the tag we ask pip for.
DEFAULT_PYTHON_VERSION = "3.11"


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
    platform: str = "windows"  # "linux": ELF shared objects (npuslim.source.linux)

    def describe(self) -> str:
        version = f"OpenVINO {self.version}" if self.version else "version unknown"
        return f"{self.layout} layout at {self.root} ({version})"


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


def _from_folder(folder: Path, origin: str) -> OpenVinoInstall:
    def make(layout: str, root: Path, dll_dir: Path, include: Path | None,
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
        )

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
        return make("pip-package", folder, libs, folder / "include", libs,
                    _dist_info_dirs(folder.parent))
    if (folder / "openvino" / "libs").is_dir():
        inner = folder / "openvino"
        return make("wheel", folder, inner / "libs", inner / "include", inner / "libs",
                    _dist_info_dirs(folder))
    release = folder / "runtime" / "bin" / "intel64" / "Release"
    if release.is_dir():
        return make("archive", folder, release, folder / "runtime" / "include",
                    folder / "runtime" / "lib" / "intel64" / "Release",
                    (folder, folder / "docs" / "licensing", folder / "licensing"))
    if _has_dlls(folder):
        return make("dll-folder", folder, folder, None, None, ())
    raise InputError(
        f"{folder}: no OpenVINO install found (looked for libs/, openvino/libs/, "
        "runtime/bin/intel64/Release and for DLLs in the folder)"
    )


# The largest official OpenVINO wheel (2026.4.1, win_amd64) unpacks to 243 MB and no
# entry of it compresses better than 11:1; a wheel past these bounds is refused unread.
MAX_UNPACKED_BYTES = 4 << 30
MAX_ENTRY_RATIO = 100
_RATIO_FLOOR = 1 << 20
MAX_WHEEL_ENTRIES = 100_000
_PLATFORM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*$")


def check_platform(platform: str) -> str:
    """``platform`` when it is a wheel platform tag (``win_amd64``); an ``InputError`` otherwise,
    before it becomes part of a cache path."""
    if len(platform) > 100 or not _PLATFORM.match(platform):
        shown = platform if len(platform) <= 60 else platform[:57] + "..."
        raise InputError(f"--platform {shown!r}: not a wheel platform tag such as win_amd64")
    return platform


def _cache_folder(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot create npuslim's cache folder: {os_reason(exc)} "
                          "(set NPUSLIM_CACHE_DIR to a writable folder)") from exc
    return folder


def _wanted(name: str, parts: list[str]) -> bool:
    return (
        name.lower().endswith((".dll", ".lib"))
        or "/include/" in name
        or ".dist-info/" in name
        or name.endswith("__init__.py") and len(parts) == 2
        # a package's own licence files (onnxruntime/LICENSE, ThirdPartyNotices.txt)
        or len(parts) == 2 and parts[1] in ("LICENSE", "LICENSE.txt", "ThirdPartyNotices.txt")
    )


def _check_wheel_sizes(wheel: Path, members: list[zipfile.ZipInfo]) -> None:
    if len(members) > MAX_WHEEL_ENTRIES:
        raise InputError(f"{wheel}: {len(members)} entries, more than {MAX_WHEEL_ENTRIES}: not an OpenVINO wheel")
    total = 0
    for member in members:
        total += member.file_size
        if member.file_size > _RATIO_FLOOR and member.file_size > MAX_ENTRY_RATIO * max(member.compress_size, 1):
            raise InputError(f"{wheel}: entry {member.filename[:120]!r} expands {member.compress_size} bytes "
                             f"to {member.file_size} (more than {MAX_ENTRY_RATIO}:1): refused as a zip bomb")
    if total > MAX_UNPACKED_BYTES:
        raise InputError(f"{wheel}: unpacks to {total} bytes, more than {MAX_UNPACKED_BYTES}: refused")


def _extract_member(zf: zipfile.ZipFile, member: zipfile.ZipInfo, dest: Path, wheel: Path) -> None:
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        out = open(dest, "wb")
    except (NotADirectoryError, IsADirectoryError, FileExistsError) as exc:
        raise InputError(f"{wheel}: entry {member.filename[:120]!r} clashes with another entry") from exc
    except OSError as exc:
        raise OutputError(f"{dest}: cannot write into npuslim's cache: {os_reason(exc)}") from exc
    written = 0
    with out:
        try:
            src = zf.open(member)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError, OSError) as exc:
            raise InputError(f"{wheel}: entry {member.filename[:120]!r} cannot be read ({exc})") from exc
        with src:
            while True:
                try:
                    chunk = src.read(1 << 20)
                except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError,
                        NotImplementedError, ValueError) as exc:
                    raise InputError(f"{wheel}: entry {member.filename[:120]!r} is corrupt ({exc})") from exc
                if not chunk:
                    break
                written += len(chunk)
                if written > member.file_size:
                    raise InputError(f"{wheel}: entry {member.filename[:120]!r} is longer than it says")
                try:
                    out.write(chunk)
                except OSError as exc:
                    raise OutputError(f"{dest}: cannot write into npuslim's cache: {os_reason(exc)}") from exc


def _unpack_wheel(wheel: Path, wanted: Callable[[str, list[str]], bool] | None = None) -> Path:
    """Unpack the DLLs, headers and licences of a wheel into the cache; reuse a previous unpack.
    ``wanted(name, parts)`` picks the entries (default: a Windows wheel's; the Linux
    wheel's shared objects are picked by ``npuslim.source.linux``).

    The fill is atomic and idempotent: each run unpacks into its own staging
    folder and renames it into place; when another run got there first, its
    (identical) result is used and this one is dropped. Entries whose names
    leave the wheel (``..``, absolute) are refused, and so are wheels that
    would unpack past ``MAX_UNPACKED_BYTES`` or an entry compressed more than
    ``MAX_ENTRY_RATIO``:1.
    """
    try:
        st = wheel.stat()
    except OSError as exc:
        raise InputError(f"{wheel}: cannot read: {os_reason(exc)}") from exc
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{wheel}: not a regular file")
    key = hashlib.sha256(f"{wheel.name}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:16]
    parent = cache_dir() / "wheels"
    target = parent / f"{wheel.stem[:120]}-{key}"
    if target.is_dir():
        return target
    _cache_folder(parent)
    try:
        staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=parent))
    except OSError as exc:
        raise OutputError(f"{parent}: cannot write into npuslim's cache: {os_reason(exc)}") from exc
    try:
        with open_regular(wheel) as fh:
            try:
                zf = zipfile.ZipFile(fh)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
                raise InputError(f"{wheel}: not a readable wheel ({exc})") from exc
            with zf:
                members = [m for m in zf.infolist() if not m.is_dir()]
                _check_wheel_sizes(wheel, members)
                for member in members:
                    rel = relative_path(member.filename, what=f"{wheel}: entry")
                    if (wanted or _wanted)(rel, rel.split("/")):
                        _extract_member(zf, member, staging / rel, wheel)
        try:
            os.replace(staging, target)
        except OSError as exc:
            if not target.is_dir():
                raise OutputError(f"{target}: cannot write into npuslim's cache: {os_reason(exc)}") from exc
            shutil.rmtree(staging, ignore_errors=True)  # another run filled it first
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _pinned(requirement: str) -> Requirement | None:
    """``requirement`` when it pins one version (``openvino==2026.4.1``): a cached wheel can then serve it."""
    from packaging.requirements import Requirement

    try:
        req = Requirement(requirement)
    except (ValueError, RecursionError):  # see is_requirement
        return None
    specs = list(req.specifier)
    if len(specs) != 1 or specs[0].operator not in ("==", "===") or specs[0].version.endswith(".*"):
        return None
    return req


def _wheel_matches(path: Path, req: Requirement, platform: str) -> bool:
    """True when the wheel file ``path`` is of ``req``'s project, in a version it allows, for ``platform``."""
    from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

    try:
        name, version, _build, tags = parse_wheel_filename(path.name)
        allowed = req.specifier.contains(version, prereleases=True)
    except (InvalidWheelFilename, ValueError):  # ValueError: a version past int()'s digit limit
        return False
    return name == canonicalize_name(req.name) and allowed and any(tag.platform == platform for tag in tags)


def fetch_wheel(requirement: str, *, platform: str = DEFAULT_PLATFORM,
                python_version: str = DEFAULT_PYTHON_VERSION) -> Path:
    """Download the wheel for ``requirement`` with pip into the cache (reused when pinned)."""
    downloads = cache_dir() / "downloads" / check_platform(platform)
    pinned = _pinned(requirement)
    if pinned is not None and downloads.is_dir():
        for cached in sorted(downloads.glob("*.whl")):
            if _wheel_matches(cached, pinned, platform):
                return cached
    _cache_folder(downloads)
    before = set(downloads.glob("*.whl"))
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--platform", platform, "--python-version", python_version,
        "--disable-pip-version-check", "-d", str(downloads), requirement,
    ]
    try:
        run = run_tool(cmd)
    except ToolError as exc:
        raise ToolError(f"cannot run pip to download {requirement}: {exc}") from exc
    saved = pip_download_result(run, requirement, platform)
    if saved is not None:
        return saved
    new = sorted(set(downloads.glob("*.whl")) - before)
    if new:
        return new[-1]
    raise ToolError(f"pip reported success for {requirement} but no wheel was found in {downloads}")


def pip_download_result(run: ToolRun, requirement: str, platform: str) -> Path | None:
    """The wheel a finished ``pip download`` names as saved (or already there), ``None`` when it
    names none; a ``ToolError`` with pip's first ``ERROR`` line when it failed."""
    if run.returncode != 0 and "No module named pip" in run.output:
        raise ToolError(f"cannot download {requirement}: pip is not available in this Python "
                        f"({sys.executable}); install pip, or pass a downloaded .whl file")
    if run.returncode != 0:
        lines = [ln.strip() for ln in run.output.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("ERROR")]
        detail = (errors or lines[-1:] or ["no output"])[0]
        raise ToolError(f"pip could not download {requirement} for {platform}: {detail}")
    saved = re.findall(r"(?:Saved|File was already downloaded)\s+(\S+\.whl)", run.output)
    return Path(saved[-1]) if saved else None


def is_requirement(text: str) -> bool:
    """True for a requirement with a version clause (``openvino==2026.4.1``, ``onnxruntime-openvino>=1.20``)
    that is not also the name of an existing file or folder. A bare name (``openvino``) is not one."""
    try:
        if Path(text).exists():
            return False
    except OSError:  # a name too long for a path is no file
        pass
    from packaging.requirements import Requirement

    try:
        req = Requirement(text.strip())
    except (ValueError, RecursionError):  # InvalidRequirement, a number past int()'s limit, or
        return False                      # markers nested deeper than packaging<26 parses
    return bool(req.specifier) and req.url is None


def locate(source: str | None, *, platform: str = DEFAULT_PLATFORM) -> OpenVinoInstall:
    """Turn what the user passed into a located install (see the module docstring)."""
    # Linux (ELF) sources first: npuslim.source.linux answers None for anything else.
    from npuslim.source.linux import locate_linux

    linux_install = locate_linux(source, platform=platform)
    if linux_install is not None:
        return linux_install
    if source is None:
        spec = importlib.util.find_spec("openvino")
        if spec is not None and spec.submodule_search_locations:
            folder = Path(next(iter(spec.submodule_search_locations)))
            return _from_folder(folder, "installed openvino package")
        env = os.environ.get("INTEL_OPENVINO_DIR")
        if env:
            return _from_folder(Path(env), "INTEL_OPENVINO_DIR")
        raise InputError(
            "no OpenVINO found: pass an install folder, a DLL, a .whl file or a "
            "requirement such as openvino==2026.4.1 (no openvino package in this "
            "Python, INTEL_OPENVINO_DIR not set)"
        )
    check_platform(platform)
    if is_requirement(source):
        wheel = fetch_wheel(source, platform=platform)
        return replace(_from_folder(_unpack_wheel(wheel), source), wheel=wheel)
    path = Path(source)
    if not path.exists():
        raise InputError(f"{source}: no such file or folder (nor a requirement like openvino==2026.4.1)")
    if path.is_dir():
        return _from_folder(path, str(path))
    if path.suffix.lower() == ".whl":
        return replace(_from_folder(_unpack_wheel(path), str(path)), wheel=path)
    if path.suffix.lower() in (".dll", ".exe", ".pyd"):
        read_pe(path)  # fail early and clearly on a file that is not PE
        folder = path.parent
        try:
            install = _from_folder(folder, str(path))
        except InputError:
            install = OpenVinoInstall(str(path), "dll-folder", folder, folder, None, None, (), None)
        return OpenVinoInstall(
            origin=str(path), layout="single-dll", root=install.root, dll_dir=folder,
            include_dir=install.include_dir, lib_dir=install.lib_dir,
            license_dirs=install.license_dirs, version=install.version, single_dll=path,
        )
    raise InputError(f"{source}: not a folder, a DLL or a wheel")


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
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total, f"all files under {install.root}"
