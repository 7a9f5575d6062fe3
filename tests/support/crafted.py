"""Tiny PE files built byte by byte in the tests: valid ones and every kind of corrupt one.

``build_pe`` writes a minimal PE32+ DLL (one ``.idata`` section holding an
import table naming ``imports``) that pefile, the Windows loader's rules and
npuslim accept; ``corruptions`` derives the broken variants the hardening
tests feed to every command. Nothing here is a committed binary.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

DOS_SIZE = 0x40
PE_OFFSET = 0x40
FILE_HEADER_AT = PE_OFFSET + 4
OPT_AT = FILE_HEADER_AT + 20
OPT_SIZE = 240
SECTION_TABLE_AT = OPT_AT + OPT_SIZE
FILE_ALIGN = 0x200
SECTION_RVA = 0x1000
_OPT_FMT = "<HBBIIIIIQIIHHHHHHIIIIHHQQQQII"


@dataclass(frozen=True)
class Layout:
    """Where the interesting fields of a ``build_pe`` file are (file offsets)."""

    size_of_optional_header: int = FILE_HEADER_AT + 16
    number_of_sections: int = FILE_HEADER_AT + 2
    number_of_rva_and_sizes: int = OPT_AT + 108
    import_dir: int = OPT_AT + 112 + 8
    section_header: int = SECTION_TABLE_AT
    pointer_to_raw_data: int = SECTION_TABLE_AT + 20
    size_of_raw_data: int = SECTION_TABLE_AT + 16


LAYOUT = Layout()


def build_pe(imports: tuple[str, ...] = ("KERNEL32.dll",), *, machine: int = 0x8664, cfg: bool = False,
             dll: bool = True) -> bytes:
    """A minimal, valid PE32+ image importing function ``f`` from each of ``imports`` and
    exporting its own ``f`` (so that a graph of them also resolves by symbol)."""
    n = len(imports)
    desc_size = 20 * (n + 1)
    # layout inside the section: descriptors, then per import: ILT(16) IAT(16) hint/name, dll name
    blobs = bytearray(desc_size)
    descriptors = []
    for name in imports:
        ilt = len(blobs)
        blobs += bytes(16)
        iat = len(blobs)
        blobs += bytes(16)
        hint = len(blobs)
        blobs += struct.pack("<H", 0) + b"f\0"
        if len(blobs) % 2:
            blobs += b"\0"
        dll_name = len(blobs)
        blobs += name.encode("latin-1") + b"\0"
        if len(blobs) % 2:
            blobs += b"\0"
        struct.pack_into("<Q", blobs, ilt, SECTION_RVA + hint)
        struct.pack_into("<Q", blobs, iat, SECTION_RVA + hint)
        descriptors.append((ilt, dll_name, iat))
    for i, (ilt, dll_name, iat) in enumerate(descriptors):
        struct.pack_into("<IIIII", blobs, 20 * i, SECTION_RVA + ilt, 0, 0, SECTION_RVA + dll_name,
                         SECTION_RVA + iat)
    # export directory: one function "f" (its address is the section start; nothing runs it)
    while len(blobs) % 4:
        blobs += b"\0"
    export_dir = len(blobs)
    blobs += bytes(40)
    functions, names, ordinals = len(blobs), len(blobs) + 4, len(blobs) + 8
    blobs += struct.pack("<IIH", SECTION_RVA, SECTION_RVA + len(blobs) + 10, 0) + b"f\0"
    export_name = len(blobs)
    blobs += b"crafted.dll\0"
    struct.pack_into("<IIHHIIIIIII", blobs, export_dir, 0, 0, 0, 0, SECTION_RVA + export_name, 1, 1, 1,
                     SECTION_RVA + functions, SECTION_RVA + names, SECTION_RVA + ordinals)
    export_size = len(blobs) - export_dir
    raw_size = -(-max(len(blobs), 1) // FILE_ALIGN) * FILE_ALIGN
    section = bytes(blobs) + bytes(raw_size - len(blobs))

    head = bytearray(FILE_ALIGN)
    head[0:2] = b"MZ"
    struct.pack_into("<I", head, 0x3C, PE_OFFSET)
    head[PE_OFFSET:PE_OFFSET + 4] = b"PE\0\0"
    characteristics = 0x0022 | (0x2000 if dll else 0)
    struct.pack_into("<HHIIIHH", head, FILE_HEADER_AT, machine, 1, 0, 0, 0, OPT_SIZE, characteristics)
    size_of_image = SECTION_RVA + -(-raw_size // 0x1000) * 0x1000
    dll_chars = 0x0160 | (0x4000 if cfg else 0)
    struct.pack_into(_OPT_FMT, head, OPT_AT, 0x20B, 14, 0, 0, raw_size, 0, 0, SECTION_RVA,
                     0x180000000, 0x1000, FILE_ALIGN, 6, 0, 0, 0, 6, 0, 0, size_of_image, FILE_ALIGN, 0, 2,
                     dll_chars, 0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    struct.pack_into("<II", head, LAYOUT.import_dir - 8, SECTION_RVA + export_dir, export_size)
    if n:
        struct.pack_into("<II", head, LAYOUT.import_dir, SECTION_RVA, desc_size)
    struct.pack_into("<8sIIIIIIHHI", head, SECTION_TABLE_AT, b".idata", len(blobs), SECTION_RVA, raw_size,
                     FILE_ALIGN, 0, 0, 0, 0, 0xC0000040)
    return bytes(head) + section


def _poke(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def corruptions(valid: bytes) -> dict[str, Callable[[], bytes]]:
    """Named ways to break ``valid`` (a ``build_pe`` image); each must be refused as input (exit 4)."""
    L = LAYOUT
    return {
        "empty": lambda: b"",
        "random-bytes": lambda: bytes((i * 197 + 13) % 256 for i in range(4096)),
        "mz-only": lambda: b"MZ",
        "elf": lambda: b"\x7fELF\x02\x01\x01" + bytes(57),
        "macho": lambda: b"\xcf\xfa\xed\xfe" + bytes(60),
        "cut-in-dos-header": lambda: valid[:40],
        "cut-in-file-header": lambda: valid[:FILE_HEADER_AT + 10],
        "cut-in-optional-header": lambda: valid[:OPT_AT + 100],
        "cut-in-section-table": lambda: valid[:SECTION_TABLE_AT + 20],
        "cut-after-headers": lambda: valid[:FILE_ALIGN],
        "cut-in-section": lambda: valid[:FILE_ALIGN + 40],
        "size-of-optional-header-0": lambda: _poke(valid, L.size_of_optional_header, "<H", 0),
        "size-of-optional-header-ffff": lambda: _poke(valid, L.size_of_optional_header, "<H", 0xFFFF),
        "zero-sections": lambda: _poke(valid, L.number_of_sections, "<H", 0),
        "too-many-sections": lambda: _poke(valid, L.number_of_sections, "<H", 0xFFFF),
        "zero-data-directories": lambda: _poke(valid, L.number_of_rva_and_sizes, "<I", 0),
        "import-directory-past-end": lambda: _poke(valid, L.import_dir, "<I", 0x7FFF0000),
        "import-directory-huge": lambda: _poke(valid, L.import_dir + 4, "<I", 0xFFFFFFF0),
        "section-pointer-past-end": lambda: _poke(valid, L.pointer_to_raw_data, "<I", 0x10000000),
        "section-size-past-end": lambda: _poke(valid, L.size_of_raw_data, "<I", 0x7FFFFFFF),
        "bad-e_lfanew": lambda: _poke(valid, 0x3C, "<I", 0xFFFFFF00),
        "bad-optional-magic": lambda: _poke(valid, OPT_AT, "<H", 0x1234),
    }
