"""Reading what npuslim needs from a PE file, cheaply.

Listing a DLL's imports needs its headers and the import name tables, not its
bytes: pefile parses with ``fast_load`` and then only the import, delay-import
and resource directories, with DLL names only. A 100 MB DLL is never read whole.
"""

from __future__ import annotations

import mmap
import os
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pefile

from npuslim.errors import InputError
from npuslim.formats.binary import Signature
from npuslim.paths import open_regular

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

    ``signature`` is a ``Signature``.
    """

    path: Path
    size: int
    machine: str
    is_dll: bool
    imports: tuple[str, ...]
    delay_imports: tuple[str, ...]
    cfg: bool
    signature: Signature
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
        return self.signature == Signature.SIGNED

    def recorded(self) -> dict[str, Any]:
        """``BinaryInfo.recorded``: the facts the deps JSON and the lock file record."""
        return {"machine": self.machine, "cfg": self.cfg, "signature": self.signature,
                "debug_directory": self.has_debug, "file_version": self.file_version}

    def import_fields(self) -> dict[str, Any]:
        """``BinaryInfo.import_fields``: the import and delay-import tables."""
        return {"imports": list(self.imports), "delay_imports": list(self.delay_imports)}


_INVALID = b"*invalid*"  # what pefile puts for a DLL name it finds unfit (not printable ASCII)
_MAX_NAME = 4096


def _names(pe: pefile.PE, entries: list[Any], *, delay: bool = False) -> tuple[str, ...]:
    """The DLL names of import (or delay-import) descriptors, as the bytes the loader reads.

    pefile replaces a name that is not printable ASCII with ``*invalid*``, so several odd names
    would read as one: such a name is read again from its RVA. Bytes are decoded as UTF-8 with
    ``surrogateescape``, the way Python names files here, so the name still matches a file of
    the same bytes (``os.fsencode`` gives them back) and two odd names stay two.
    """
    out = []
    for entry in entries:
        raw = entry.dll
        if raw == _INVALID:
            raw = _raw_name(pe, entry.struct, delay=delay)
        if not raw:
            continue
        out.append(raw.decode("utf-8", errors="surrogateescape"))
    return tuple(out)


def _raw_name(pe: pefile.PE, struct_: Any, *, delay: bool) -> bytes:
    rva = struct_.szName if delay else struct_.Name
    if delay and not struct_.grAttrs & 1 and pe.OPTIONAL_HEADER.Magic == 0x10B:
        rva -= pe.OPTIONAL_HEADER.ImageBase  # pre-VC7 32-bit descriptors hold addresses
    try:
        raw = pe.get_string_at_rva(rva, _MAX_NAME)
    except (pefile.PEFormatError, ValueError, IndexError, struct.error):
        return _INVALID
    return bytes(raw) if raw else _INVALID


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


# Size of the optional header without its data directories, and the most it can be with all 16.
_OPT_FIXED = {0x10B: 96, 0x20B: 112}
_MAX_SECTIONS = 96


def _corrupt(path: Path, what: str) -> InputError:
    return InputError(f"{path}: corrupt PE file: {what}")


def check_headers(pe: pefile.PE, path: Path, size: int) -> None:
    """The one PE-validity check: refuse a file whose headers or directories do not fit inside it.

    Checked: the optional header (its size, its magic, within the file), the
    number of sections and data directories, the section table, every section's
    raw data, and the import, delay-import and resource directories (their RVA
    lies in a section and their bytes in the file). Raises ``InputError`` naming
    the file and what is wrong.
    """
    fh = pe.FILE_HEADER
    opt = pe.OPTIONAL_HEADER
    if opt is None:
        raise _corrupt(path, "no optional header")
    fixed = _OPT_FIXED.get(opt.Magic)
    if fixed is None:
        raise _corrupt(path, f"unknown optional header magic 0x{opt.Magic:04x}")
    opt_size = fh.SizeOfOptionalHeader
    if not fixed <= opt_size <= fixed + 16 * 8:
        raise _corrupt(path, f"SizeOfOptionalHeader is {opt_size}, expected {fixed} to {fixed + 128}")
    opt_start = opt.get_file_offset()
    if opt_start + opt_size > size:
        raise _corrupt(path, f"the optional header ends at byte {opt_start + opt_size}, the file has {size}")
    count = opt.NumberOfRvaAndSizes
    if count == 0:
        raise _corrupt(path, "no data directories (the import table cannot be read)")
    if fixed + min(count, 16) * 8 > opt_size:
        raise _corrupt(path, f"{count} data directories do not fit in an optional header of {opt_size} bytes")
    if not 1 <= fh.NumberOfSections <= _MAX_SECTIONS:
        raise _corrupt(path, f"{fh.NumberOfSections} sections (expected 1 to {_MAX_SECTIONS})")
    table_end = opt_start + opt_size + fh.NumberOfSections * 40
    if table_end > size or len(pe.sections) != fh.NumberOfSections:
        raise _corrupt(path, f"the section table ends at byte {table_end}, the file has {size}")
    for section in pe.sections:
        end = section.PointerToRawData + section.SizeOfRawData
        if section.SizeOfRawData and end > size:
            name = section.Name.rstrip(b"\0").decode("ascii", "replace")
            raise InputError(
                f"{path}: truncated PE file: section {name!r} ends at byte {end}, the file has {size}"
            )
    dirs = opt.DATA_DIRECTORY
    for index, label in ((_DIR_IMPORT, "import"), (_DIR_DELAY, "delay-import"), (_DIR_RESOURCE, "resource")):
        if index >= len(dirs):
            continue
        entry = dirs[index]
        if not entry.VirtualAddress and not entry.Size:
            continue
        section = pe.get_section_by_rva(entry.VirtualAddress)
        offset = pe.get_offset_from_rva(entry.VirtualAddress) if section is not None else None
        if section is None or offset is None or offset >= size or offset + min(entry.Size, 1 << 31) > size:
            raise _corrupt(path, f"the {label} directory (RVA 0x{entry.VirtualAddress:x}, "
                                 f"{entry.Size} bytes) lies outside the file")


def read_pe(path: Path | str) -> PeInfo:
    """Read the headers, import names, version and signature state of a PE file.

    Raises ``InputError`` for a file that cannot be read, is not a regular file,
    is not a PE image, or whose headers or directories do not fit inside it
    (``check_headers``). Never reads the section contents beyond the import and
    resource tables; never opens a FIFO or a device.
    """
    path = Path(path)
    with open_regular(path) as fh:
        st = os.fstat(fh.fileno())
        key = (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        with _CACHE_LOCK:
            known = _READ.get(key) if _runs else None
        if known is not None:
            return known
        size = st.st_size
        if size == 0:
            raise InputError(f"{path}: not a PE file (empty file)")
        try:
            data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: cannot read: {exc}") from exc
    try:
        info = _read(path, data, size)
    finally:
        data.close()
    with _CACHE_LOCK:
        if _runs:
            _READ[key] = info
    return info


# Inside ``read_once`` each PE file is read once: ``deps`` builds the graph with every feature, then
# with those chosen. The key is the path and what ``fstat`` says of the file (device, inode, size,
# modification and change times); ``PeInfo`` is frozen, so one value can be handed out many times.
_READ: dict[tuple[str, int, int, int, int, int], PeInfo] = {}
_CACHE_LOCK = threading.Lock()
_runs = 0


@contextmanager
def read_once() -> Iterator[None]:
    """Within this block (one run of a command that only reads files), ``read_pe`` of a file it has
    read already (same path, same ``fstat``) returns the first answer. Forgotten at the end: a file
    rewritten in place within one clock tick would look unchanged, so nothing that writes DLLs may
    run inside."""
    global _runs  # noqa: PLW0603 - one counter of nested read_once() runs, shared by threads under the lock
    with _CACHE_LOCK:
        _runs += 1
    try:
        yield
    finally:
        with _CACHE_LOCK:
            _runs -= 1
            if not _runs:
                _READ.clear()


def _read(path: Path, data: mmap.mmap, size: int) -> PeInfo:
    try:
        pe = pefile.PE(data=data, fast_load=True)
    except pefile.PEFormatError as exc:
        raise InputError(f"{path}: not a PE file ({exc.value})") from exc
    except (ValueError, IndexError, struct.error) as exc:
        raise _corrupt(path, f"{type(exc).__name__}: {exc}") from exc
    check_headers(pe, path, size)
    try:
        pe.parse_data_directories(
            directories=[_DIR_IMPORT, _DIR_DELAY, _DIR_RESOURCE],
            import_dllnames_only=True,
        )
    except pefile.PEFormatError as exc:
        raise _corrupt(path, str(exc.value)) from exc
    except (ValueError, IndexError, struct.error, AttributeError, TypeError) as exc:
        raise _corrupt(path, f"{type(exc).__name__} while reading its directories") from exc
    opt = pe.OPTIONAL_HEADER
    dirs = opt.DATA_DIRECTORY
    security = dirs[_DIR_SECURITY] if len(dirs) > _DIR_SECURITY else None
    debug = dirs[_DIR_DEBUG] if len(dirs) > _DIR_DEBUG else None
    if security is None or security.Size == 0:
        signature, sig_size = Signature.NONE, 0
    elif security.VirtualAddress + security.Size <= size:
        signature, sig_size = Signature.SIGNED, security.Size
    else:
        signature, sig_size = Signature.DANGLING, security.Size
    machine_id = pe.FILE_HEADER.Machine
    section_names = {s.Name.rstrip(b"\0") for s in pe.sections}
    file_version, product_version = _version(pe)
    return PeInfo(
        path=path,
        size=size,
        machine=MACHINES.get(machine_id, f"0x{machine_id:04x}"),
        is_dll=bool(pe.FILE_HEADER.Characteristics & IMAGE_FILE_DLL),
        imports=_names(pe, getattr(pe, "DIRECTORY_ENTRY_IMPORT", [])),
        delay_imports=_names(pe, getattr(pe, "DIRECTORY_ENTRY_DELAY_IMPORT", []), delay=True),
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
