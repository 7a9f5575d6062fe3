"""ONNX Runtime with OpenVINO's execution provider as a second source of a bundle.

The ``onnxruntime-openvino`` wheel carries ``onnxruntime.dll`` (the C API),
``onnxruntime_providers_openvino.dll`` (loaded at run time by ``onnxruntime.dll``)
and ``onnxruntime_providers_shared.dll``, and no OpenVINO: the provider imports
C++ symbols of ``openvino.dll`` that only some OpenVINO releases export, so the
two sources must be matched by symbol, not by name. The provider's strings name
the OpenVINO release it was built against (the toolkit folder of its include
paths); that release is tried first.
"""

from __future__ import annotations

import mmap
import os
import re
import sys
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from npuslim.analyse.symbols import check_symbols, demangle
from npuslim.errors import InputError, MissingDependencyError, ToolError
from npuslim.formats.pe import read_pe
from npuslim.formats.pe_tables import read_symbol_tables
from npuslim.knowledge.versions import parse_version
from npuslim.paths import open_regular
from npuslim.platforms import Platform
from npuslim.source.linux import is_linux_wheel, is_shared_object_name
from npuslim.source.locate import (
    DEFAULT_PLATFORM,
    DEFAULT_PYTHON_VERSION,
    OpenVinoInstall,
    _unpack_wheel,
    fetch_wheel,
    install_in_folder,
    is_requirement,
    locate,
    public_name,
    wheel_record,
)
from npuslim.tools import run_tool

ORT_MANIFEST = "onnxruntime-npu"
# pick_openvino downloads each release it tries (40-85 MB): the built-against one, then the newest few
MAX_RELEASES_TRIED = 6
ORT_DLL = "onnxruntime.dll"
PROVIDER_DLL = "onnxruntime_providers_openvino.dll"
# The manylinux wheel: ONNX Runtime as libonnxruntime.so.<version> (SONAME libonnxruntime.so.1), the
# provider, and the OpenVINO release the provider was built with (libopenvino.so.<release>, three times).
ORT_SO = "libonnxruntime.so.*"
PROVIDER_SO = "libonnxruntime_providers_openvino.so"
_ORT_SO_VERSION = re.compile(r"^libonnxruntime\.so\.(\d+\.\d+\.\d+)$")
_OPENVINO_SO_RELEASE = re.compile(r"^libopenvino\.so\.(\d{4}\.\d+\.\d+)$")
_BUILT_AGAINST = re.compile(rb"openvino_toolkit_windows_([0-9]{4}\.[0-9]{1,4}\.[0-9]{1,4})")
# The provider of onnxruntime-openvino 1.24.1 is 1.4 MB; a file past this is refused unread.
MAX_PROVIDER_BYTES = 256 << 20


@dataclass(frozen=True)
class OnnxRuntimeSource:
    """A located ONNX Runtime: the folder of its DLLs, its licences, its version, and the
    OpenVINO release its OpenVINO provider was built against (from the provider's strings)."""

    origin: str
    dll_dir: Path
    license_root: Path | None
    version: str | None
    built_against: str | None
    wheel: Path | None = None

    folder: Path | None = None  # the folder given, or the wheel unpacked: where dll_dir was looked for
    platform: Platform = Platform.WINDOWS  # LINUX: the manylinux wheel, which carries its OpenVINO

    def dll_dir_name(self) -> str:
        """``dll_dir`` below the folder it was found in (``onnxruntime/capi``), never a host path."""
        if self.folder is not None and self.dll_dir.is_relative_to(self.folder):
            return self.dll_dir.relative_to(self.folder).as_posix()
        return self.dll_dir.name

    def record(self) -> dict[str, Any]:
        """What the lock file says of this source: names, versions and the wheel's hash, no host path."""
        return {"origin": public_name(self.origin), "onnxruntime_version": self.version,
                "dll_dir": self.dll_dir_name(), "built_against_openvino": self.built_against,
                **({"wheel": wheel_record(self.wheel)} if self.wheel is not None else {})}


def _unpack_ort_wheel(wheel: Path) -> Path:
    """The wheel unpacked into the cache: a Windows one's DLLs, a manylinux one's shared objects
    (not the Python extension), and the package's licences either way."""
    return _unpack_wheel(wheel, _linux_ort_wanted) if is_linux_wheel(wheel) else _unpack_wheel(wheel)


def _linux_ort_wanted(name: str, parts: list[str]) -> bool:
    return ((is_shared_object_name(parts[-1]) and ".cpython-" not in parts[-1]) or ".dist-info/" in name
            or (len(parts) == 2 and parts[1] in ("LICENSE", "LICENSE.txt", "ThirdPartyNotices.txt")))


def _find_dll_dir(folder: Path) -> Path | None:
    for candidate in (folder, folder / "capi", folder / "onnxruntime" / "capi"):
        if (candidate / ORT_DLL).is_file() or _linux_library(candidate) is not None:
            return candidate
    return None


def _linux_library(folder: Path) -> Path | None:
    """``libonnxruntime.so.X.Y.Z`` in ``folder`` (a manylinux wheel's ``capi/``), else ``None``."""
    if not folder.is_dir():
        return None
    return next((p for p in sorted(folder.glob(ORT_SO)) if _ORT_SO_VERSION.match(p.name) and p.is_file()), None)


def bundled_openvino(dll_dir: Path) -> str | None:
    """The OpenVINO release a Linux ONNX Runtime folder carries (``libopenvino.so.2025.4.1``)."""
    return next((m.group(1) for p in sorted(dll_dir.iterdir()) if (m := _OPENVINO_SO_RELEASE.match(p.name))), None)


def locate_onnxruntime(source: str, *, platform: str = DEFAULT_PLATFORM) -> OnnxRuntimeSource:
    """A wheel, a requirement (``onnxruntime-openvino==1.24.1``), a folder or ``onnxruntime.dll``."""
    wheel: Path | None = None
    if is_requirement(source):
        wheel = fetch_wheel(source, platform=platform)
        folder = _unpack_ort_wheel(wheel)
    else:
        path = Path(source)
        if not path.exists():
            raise InputError(f"{source}: no such file or folder (nor a requirement like "
                             "onnxruntime-openvino==1.24.1)")
        if path.is_file() and path.suffix.lower() == ".whl":
            wheel, folder = path, _unpack_ort_wheel(path)
        elif path.is_file() and path.name.lower() == ORT_DLL:
            folder = path.parent
        elif path.is_dir():
            folder = path
        else:
            raise InputError(f"{source}: not an ONNX Runtime wheel, folder or {ORT_DLL}")
    dll_dir = _find_dll_dir(folder)
    if dll_dir is None:
        raise InputError(f"{source}: no {ORT_DLL} or libonnxruntime.so.* found (looked in the folder, capi/ "
                         "and onnxruntime/capi/)")
    linux = _linux_library(dll_dir) if not (dll_dir / ORT_DLL).is_file() else None
    provider = PROVIDER_SO if linux is not None else PROVIDER_DLL
    if not (dll_dir / provider).is_file():
        raise InputError(f"{source}: no {provider} beside {linux.name if linux else ORT_DLL}: this ONNX Runtime "
                         "has no OpenVINO execution provider (the package is onnxruntime-openvino)")
    # licences sit in the package folder above capi/ (onnxruntime/LICENSE); the root handed to the
    # plan is the folder that holds that package folder
    license_root = next((root for root in (folder, dll_dir.parent.parent, dll_dir.parent)
                         if (root / "onnxruntime" / "LICENSE").is_file()), None)
    if linux is not None:
        match = _ORT_SO_VERSION.match(linux.name)
        return OnnxRuntimeSource(origin=source, dll_dir=dll_dir, license_root=license_root,
                                 version=match.group(1) if match else None, built_against=bundled_openvino(dll_dir),
                                 wheel=wheel, folder=folder, platform=Platform.LINUX)
    built = built_against(dll_dir / PROVIDER_DLL)
    return OnnxRuntimeSource(
        origin=source, dll_dir=dll_dir, license_root=license_root,
        version=read_pe(dll_dir / ORT_DLL).file_version, built_against=built, wheel=wheel, folder=folder,
    )


def built_against(provider: Path) -> str | None:
    """The OpenVINO release named in the provider's strings (its include paths), or ``None``.

    Never reads the file whole: its size is checked first (``MAX_PROVIDER_BYTES``), its
    PE headers next, and only its data sections are searched, through an ``mmap``.
    """
    with open_regular(provider) as fh:
        size = os.fstat(fh.fileno()).st_size
    if size > MAX_PROVIDER_BYTES:
        raise InputError(f"{provider}: {size} bytes, more than {MAX_PROVIDER_BYTES}: not an ONNX Runtime "
                         "OpenVINO provider (refused unread)")
    ranges = read_pe(provider).data_ranges or ((0, size),)
    with open_regular(provider) as fh:
        try:
            data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:  # emptied since its headers were read
            raise InputError(f"{provider}: cannot read: {exc}") from exc
    with data:
        for offset, length in ranges:
            found = _BUILT_AGAINST.search(data, offset, min(offset + length, len(data)))
            if found:
                return found.group(1).decode()
    return None


def combined(install: OpenVinoInstall, ort: OnnxRuntimeSource) -> OpenVinoInstall:
    """``install`` with ONNX Runtime's licences added to its licence folders."""
    extra = (ort.license_root,) if ort.license_root is not None else ()
    return replace(install, license_dirs=install.license_dirs + extra)


@dataclass(frozen=True)
class SymbolFit:
    """How the provider's imports from ``openvino.dll`` fit one OpenVINO release."""

    openvino: str
    imported: int
    missing: tuple[str, ...]

    @property
    def fits(self) -> bool:
        return not self.missing


def provider_fit(ort: OnnxRuntimeSource, install: OpenVinoInstall) -> SymbolFit:
    """Whether ``install``'s ``openvino.dll`` exports every symbol the provider imports from it."""
    ov_dll = next((p for p in install.dll_dir.iterdir() if p.name.lower() == "openvino.dll"), None)
    if ov_dll is None:
        raise InputError(f"{install.root}: no openvino.dll in {install.dll_dir}")
    provider = ort.dll_dir / PROVIDER_DLL
    imported = sum(1 for s in read_symbol_tables(provider, exports=False).imports if s.dll.lower() == "openvino.dll")
    missing = next((m.symbols for m in check_symbols([(PROVIDER_DLL, provider), ("openvino.dll", ov_dll)])
                    if m.dll.lower() == "openvino.dll"), ())
    return SymbolFit(install.version or str(install.root), imported, missing)


def openvino_releases(platform: str = DEFAULT_PLATFORM) -> tuple[str, ...]:
    """OpenVINO releases on the package index for ``platform``, newest first (pip index)."""
    run = run_tool([sys.executable, "-m", "pip", "index", "versions", "openvino", "--platform", platform,
                    "--python-version", DEFAULT_PYTHON_VERSION, "--only-binary=:all:",
                    "--disable-pip-version-check"], timeout=300)
    m = re.search(r"Available versions:\s*(.+)", run.output)
    if run.returncode != 0 or not m:
        detail = run.output.strip().splitlines()[-1:] or ["no output"]
        raise ToolError(f"cannot list the OpenVINO releases with pip: {detail[0]}")
    return tuple(v.strip() for v in m.group(1).split(",") if v.strip())


def pick_openvino(ort: OnnxRuntimeSource, *, platform: str = DEFAULT_PLATFORM,
                  releases: tuple[str, ...] | None = None) -> tuple[OpenVinoInstall, SymbolFit, str]:
    """The OpenVINO release for ``ort``: the one its provider was built against when that
    one exports every symbol the provider imports, else the newest on the index that
    does. Returns the install, the fit and one sentence saying why it was chosen."""
    listed = releases if releases is not None else openvino_releases(platform)
    order = (([ort.built_against] if ort.built_against in listed else []) + [
        v for v in listed if v != ort.built_against])[:MAX_RELEASES_TRIED]
    tried: list[str] = []
    for version in order:
        install = locate(f"openvino=={version}", platform=platform)
        fit = provider_fit(ort, install)
        if fit.fits:
            why = ("the OpenVINO provider was built against it" if version == ort.built_against
                   else "the newest release that exports them")
            tried_text = f"; tried first: {', '.join(tried)}" if tried else ""
            return install, fit, (f"OpenVINO {version} chosen: openvino.dll exports all {fit.imported} symbols "
                                   f"{PROVIDER_DLL} imports ({why}{tried_text})")
        tried.append(f"{version} (lacks {len(fit.missing)})")
    raise MissingDependencyError(f"none of the {len(tried)} OpenVINO releases tried exports every symbol "
                                 f"{PROVIDER_DLL} imports (tried {', '.join(tried)}); give an OpenVINO source",
                                 ("openvino.dll",))


def require_fit(ort: OnnxRuntimeSource, install: OpenVinoInstall, *, platform: str = DEFAULT_PLATFORM) -> SymbolFit:
    """Refuse an OpenVINO ``install`` that lacks symbols the provider imports (exit 3),
    naming them and the release the provider was built against when that one fits."""
    fit = provider_fit(ort, install)
    if fit.fits:
        return fit
    names = list(dict.fromkeys(demangle(s) for s in fit.missing))  # overloads read alike
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    hint = ""
    same = install.version is not None and ort.built_against is not None and (
        parse_version(install.version).release[:3] == parse_version(ort.built_against).release[:3])
    if ort.built_against and not same:
        try:
            other = provider_fit(ort, locate(f"openvino=={ort.built_against}", platform=platform))
            if other.fits:
                hint = (f"; OpenVINO {ort.built_against} fits (the provider was built against it): "
                        f"openvino=={ort.built_against}")
        except (InputError, ToolError):
            hint = f"; the provider was built against OpenVINO {ort.built_against}"
    raise MissingDependencyError(
        f"openvino.dll of OpenVINO {fit.openvino} lacks {len(fit.missing)} of the {fit.imported} symbols "
        f"{PROVIDER_DLL} imports ({shown}){hint}", ("openvino.dll",))


def sources_with_onnxruntime(source: str | None, onnxruntime: str, *, platform: str = DEFAULT_PLATFORM
                             ) -> tuple[OpenVinoInstall, OnnxRuntimeSource, tuple[str, ...]]:
    """Locate both sources of an ONNX Runtime bundle: ONNX Runtime, and OpenVINO as given
    (refused when it lacks symbols the provider imports) or, when ``source`` is None,
    picked by ``pick_openvino``. Returns the OpenVINO install with ONNX Runtime's
    licences added, ONNX Runtime, and lines for the user (which OpenVINO was picked,
    a licence that was not found)."""
    ort = locate_onnxruntime(onnxruntime, platform=platform)
    notes: list[str] = []
    if ort.license_root is None:
        notes.append(f"warning: no ONNX Runtime licence (onnxruntime/LICENSE) found near {ort.dll_dir}: "
                     "the bundle ships without it")
    if ort.platform == Platform.LINUX:
        install, note = _carried_openvino(source, ort)
        return combined(install, ort), ort, (note, *notes)
    if source is None:
        install, _fit, note = pick_openvino(ort, platform=platform)
        return combined(install, ort), ort, (note, *notes)
    install = locate(source, platform=platform)
    require_fit(ort, install, platform=platform)
    return combined(install, ort), ort, tuple(notes)


def _carried_openvino(source: str | None, ort: OnnxRuntimeSource) -> tuple[OpenVinoInstall, str]:
    """The OpenVINO a Linux ONNX Runtime folder carries, as the install of the bundle: the release
    its provider was built with, beside it in the same folder (each versioned library three times;
    the bundle ships each once, under its SONAME)."""
    if source is not None:
        raise InputError(f"{source}: a Linux ONNX Runtime ({ort.origin}) carries its own OpenVINO, the release "
                         "its provider was built with; give no OpenVINO source")
    if ort.built_against is None:
        raise InputError(f"{ort.origin}: no libopenvino.so.<release> beside libonnxruntime.so in {ort.dll_dir}: "
                         "this ONNX Runtime carries no OpenVINO (give the manylinux onnxruntime-openvino wheel)")
    install = replace(install_in_folder(ort.dll_dir, public_name(ort.origin)), version=ort.built_against,
                      wheel=ort.wheel)
    return install, (f"OpenVINO {ort.built_against} from the ONNX Runtime wheel itself (the release its "
                     f"provider was built with, libopenvino.so.{ort.built_against} beside it)")


def source_size(ort: OnnxRuntimeSource) -> tuple[int, str]:
    """Bytes of ONNX Runtime's source (its wheel uncompressed, or its DLL folder) and how measured."""
    if ort.wheel is not None:
        with zipfile.ZipFile(ort.wheel) as zf:
            return sum(m.file_size for m in zf.infolist()), f"uncompressed size of {ort.wheel.name}"
    return (sum(p.stat().st_size for p in ort.dll_dir.iterdir() if p.is_file()),
            f"the files in {public_name(str(ort.dll_dir))}")
