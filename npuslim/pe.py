"""Reading what npuslim needs from a PE file, cheaply.

Listing a DLL's imports needs its headers and the import name tables, not its
bytes: pefile parses with ``fast_load`` and then only the import, delay-import
and resource directories, with DLL names only. A 100 MB DLL is never read whole.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pefile

from npuslim.errors import InputError

MACHINES = {
    0x014C: "x86",
    0x8664: "x64",
    0xAA64: "arm64",
    0x01C4: "arm",
    0xA641: "arm64ec",
}

IMAGE_DLLCHARACTERISTICS_GUARD_CF = 0x4000
IMAGE_FILE_DLL = 0x2000
IMAGE_SCN_CNT_INITIALIZED_DATA = 0x00000040
IMAGE_SCN_MEM_EXECUTE = 0x20000000

_DIR_IMPORT = pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_IMPORT"]
_DIR_DELAY = pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT"]
_DIR_RESOURCE = pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_RESOURCE"]
_DIR_SECURITY = pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_SECURITY"]
_DIR_DEBUG = pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_DEBUG"]


@dataclass(frozen=True)
class PeInfo:
    """The facts npuslim reads from one PE file.

    ``data_ranges`` are the file ranges (offset, size) of the initialised,
    non-executable sections: where string literals live.

    ``signature`` is ``"signed"`` (an Authenticode certificate lies inside the
    file), ``"none"``, or ``"dangling"`` (the security directory points past the
    end of the file, as GNU strip leaves it).
    """

    path: Path
    size: int
    machine: str
    is_dll: bool
    imports: tuple[str, ...]
    delay_imports: tuple[str, ...]
    cfg: bool
    signature: str
    signature_size: int
    has_debug: bool
    coff_symbols: int
    upx_packed: bool
    file_version: str | None
    product_version: str | None
    data_ranges: tuple[tuple[int, int], ...] = ()
    linker_version: str = ""
    image_size: int = 0

    @property
    def signed(self) -> bool:
        return self.signature == "signed"


def _names(entries: list) -> tuple[str, ...]:
    out = []
    for entry in entries:
        raw = entry.dll
        if not raw:
            continue
        out.append(raw.decode("ascii", errors="replace"))
    return tuple(out)


def _version(pe: pefile.PE) -> tuple[str | None, str | None]:
    fixed = getattr(pe, "VS_FIXEDFILEINFO", None)
    if not fixed:
        return None, None
    info = fixed[0]

    def fmt(ms: int, ls: int) -> str:
        return f"{ms >> 16}.{ms & 0xFFFF}.{ls >> 16}.{ls & 0xFFFF}"

    return (
        fmt(info.FileVersionMS, info.FileVersionLS),
        fmt(info.ProductVersionMS, info.ProductVersionLS),
    )


def _check_layout(pe: pefile.PE, path: Path, size: int) -> None:
    """Refuse a PE whose sections lie past the end of the file (truncated)."""
    for section in pe.sections:
        end = section.PointerToRawData + section.SizeOfRawData
        if section.SizeOfRawData and end > size:
            name = section.Name.rstrip(b"\0").decode("ascii", "replace")
            raise InputError(
                f"{path}: truncated PE file: section {name} ends at byte {end}, "
                f"the file has {size}"
            )


def read_pe(path: Path | str) -> PeInfo:
    """Read the headers, import names, version and signature state of a PE file.

    Raises ``InputError`` for a file that cannot be read, is not a PE image or is
    truncated. Never reads the section contents beyond the import and resource
    tables.
    """
    path = Path(path)
    try:
        with open(path, "rb") as probe:
            probe.read(2)
            size = os.fstat(probe.fileno()).st_size
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        pe = pefile.PE(str(path), fast_load=True)
    except PermissionError as exc:
        raise InputError(f"{path}: cannot read: permission denied") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except pefile.PEFormatError as exc:
        raise InputError(f"{path}: not a PE file ({exc.value})") from exc
    try:
        _check_layout(pe, path, size)
        try:
            pe.parse_data_directories(
                directories=[_DIR_IMPORT, _DIR_DELAY, _DIR_RESOURCE],
                import_dllnames_only=True,
            )
        except pefile.PEFormatError as exc:
            raise InputError(f"{path}: corrupt PE file ({exc.value})") from exc
        opt = pe.OPTIONAL_HEADER
        dirs = opt.DATA_DIRECTORY
        security = dirs[_DIR_SECURITY] if len(dirs) > _DIR_SECURITY else None
        debug = dirs[_DIR_DEBUG] if len(dirs) > _DIR_DEBUG else None
        if security is None or security.Size == 0:
            signature, sig_size = "none", 0
        elif security.VirtualAddress + security.Size <= size:
            signature, sig_size = "signed", security.Size
        else:
            signature, sig_size = "dangling", security.Size
        machine_id = pe.FILE_HEADER.Machine
        section_names = {s.Name.rstrip(b"\0") for s in pe.sections}
        file_version, product_version = _version(pe)
        return PeInfo(
            path=path,
            size=size,
            machine=MACHINES.get(machine_id, f"0x{machine_id:04x}"),
            is_dll=bool(pe.FILE_HEADER.Characteristics & IMAGE_FILE_DLL),
            imports=_names(getattr(pe, "DIRECTORY_ENTRY_IMPORT", [])),
            delay_imports=_names(getattr(pe, "DIRECTORY_ENTRY_DELAY_IMPORT", [])),
            cfg=bool(opt.DllCharacteristics & IMAGE_DLLCHARACTERISTICS_GUARD_CF),
            signature=signature,
            signature_size=sig_size,
            has_debug=bool(debug is not None and debug.Size),
            coff_symbols=pe.FILE_HEADER.NumberOfSymbols
            if pe.FILE_HEADER.PointerToSymbolTable
            else 0,
            upx_packed=b"UPX0" in section_names or b"UPX1" in section_names,
            file_version=file_version,
            product_version=product_version,
            linker_version=f"{opt.MajorLinkerVersion}.{opt.MinorLinkerVersion}",
            image_size=opt.SizeOfImage,
            data_ranges=tuple(
                (s.PointerToRawData, s.SizeOfRawData)
                for s in pe.sections
                if s.SizeOfRawData
                and s.Characteristics & IMAGE_SCN_CNT_INITIALIZED_DATA
                and not s.Characteristics & IMAGE_SCN_MEM_EXECUTE
            ),
        )
    finally:
        # pe.close() runs gc.collect() in pefile 2024.8.26, which is slow when
        # many objects are alive; closing the mmap directly is enough.
        mm = getattr(pe, "__data__", None)
        if mm is not None and hasattr(mm, "close"):
            mm.close()
