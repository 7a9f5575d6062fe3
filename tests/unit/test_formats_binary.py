"""What PE and ELF files have in common (``BinaryInfo``), on ELF files built byte by byte here.

The ELF images are the smallest ld.so-shaped objects: an ELF header, program
headers (PT_LOAD, PT_DYNAMIC), a dynamic section and its string table, in
both word sizes; no compiler needed.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from npuslim.analyse.closures import CLOSURES, closure_walk
from npuslim.formats.binary import NOT_A_BINARY, Signature, binary_fields
from npuslim.formats.elf import elf_image_size, read_elf
from npuslim.formats.pe import PeInfo
from npuslim.platforms import Platform

PT_LOAD, PT_DYNAMIC = 1, 2
DT_NEEDED, DT_STRTAB, DT_SONAME = 1, 5, 14
STRINGS = b"\0libc.so.6\0libx.so.1\0"
BSS = 0x3000          # the first segment's memory beyond its file bytes
SECOND = 0x20000      # the second PT_LOAD's address, and its memory size 0x1800
SECOND_MEMSZ = 0x1800


def _elf(bits: int) -> bytes:
    """A shared object that needs libc.so.6 and is named libx.so.1, with two PT_LOAD segments."""
    wide = bits == 64
    w = "Q" if wide else "I"
    ehsize, phentsize = (64, 56) if wide else (52, 32)
    phoff = ehsize
    dyn_off = phoff + 3 * phentsize
    dyn_entry = 16 if wide else 8
    str_off = dyn_off + 4 * dyn_entry
    size = str_off + len(STRINGS)
    ident = b"\x7fELF" + bytes([2 if wide else 1, 1, 1]) + bytes(9)
    header = ident + struct.pack(f"<HHI{w}{w}{w}IHHHHHH", 3, 0x3E if wide else 0x03, 1, 0, phoff, 0, 0,
                                 ehsize, phentsize, 3, 0, 0, 0)

    def phdr(p_type: int, offset: int, vaddr: int, filesz: int, memsz: int) -> bytes:
        if wide:
            return struct.pack("<IIQQQQQQ", p_type, 4, offset, vaddr, vaddr, filesz, memsz, 0x1000)
        return struct.pack("<IIIIIIII", p_type, offset, vaddr, vaddr, filesz, memsz, 4, 0x1000)

    phdrs = (phdr(PT_LOAD, 0, 0, size, size + BSS) + phdr(PT_LOAD, 0, SECOND, 0x100, SECOND_MEMSZ)
             + phdr(PT_DYNAMIC, dyn_off, dyn_off, 4 * dyn_entry, 4 * dyn_entry))
    fmt = "<qQ" if wide else "<iI"
    dynamic = b"".join(struct.pack(fmt, tag, value) for tag, value in (
        (DT_STRTAB, str_off), (DT_NEEDED, 1), (DT_SONAME, 11), (0, 0)))
    data = header + phdrs + dynamic + STRINGS
    assert len(data) == size
    return data


@pytest.mark.parametrize(("bits", "machine"), [(64, "x86_64"), (32, "i386")])
def test_an_elf_file_reads_as_a_binary(tmp_path: Path, bits: int, machine: str) -> None:
    path = tmp_path / "libx.so.1"
    path.write_bytes(_elf(bits))
    info = read_elf(path)
    assert (info.path, info.size, info.machine, info.is_dll) == (path, path.stat().st_size, machine, True)
    assert (info.imports, info.soname, info.has_debug, info.upx_packed) == (("libc.so.6",), "libx.so.1", False, False)
    # what the deps JSON and the lock file record of an ELF file, as they always have
    assert info.recorded() == {"machine": machine, "cfg": False, "signature": Signature.NONE,
                               "debug_directory": False, "file_version": None}
    assert binary_fields(info) == info.recorded()
    assert info.import_fields() == {"imports": ["libc.so.6"], "delay_imports": [], "elf": {
        "soname": "libx.so.1", "rpath": [], "runpath": [], "version_needs": [], "debug_info": False,
        "symtab": False}}


def test_an_elf_info_has_no_pe_fields(tmp_path: Path) -> None:
    path = tmp_path / "libx.so.1"
    path.write_bytes(_elf(64))
    info = read_elf(path)
    for pe_only in ("delay_imports", "cfg", "signature", "signature_size", "coff_symbols", "file_version",
                    "product_version", "linker_version", "image_size", "signed", "format"):
        assert not hasattr(info, pe_only), pe_only


@pytest.mark.parametrize("bits", [64, 32])
def test_the_image_size_is_the_span_of_the_loaded_segments(tmp_path: Path, bits: int) -> None:
    path = tmp_path / "libx.so.1"
    path.write_bytes(_elf(bits))
    assert elf_image_size(path) == SECOND + SECOND_MEMSZ


@pytest.mark.parametrize("content", [b"", b"\x7fELF", b"MZ" + bytes(100), _elf(64)[:100]])
def test_the_image_size_of_what_is_not_a_readable_elf_is_zero(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.so"
    path.write_bytes(content)
    assert elf_image_size(path) == 0
    assert elf_image_size(tmp_path / "absent.so") == 0


def test_a_pe_file_records_its_own_fields_in_the_json_order() -> None:
    info = PeInfo(path=Path("x.dll"), size=1000, machine="x64", is_dll=True, imports=("KERNEL32.dll",),
                  delay_imports=("dbghelp.dll",), cfg=True, signature=Signature.SIGNED, signature_size=10,
                  has_debug=True, coff_symbols=0, upx_packed=False, file_version="1.2.3.4", product_version=None)
    assert list(info.recorded().items()) == [("machine", "x64"), ("cfg", True), ("signature", Signature.SIGNED),
                                             ("debug_directory", True), ("file_version", "1.2.3.4")]
    assert info.import_fields() == {"imports": ["KERNEL32.dll"], "delay_imports": ["dbghelp.dll"]}
    assert list(NOT_A_BINARY) == list(info.recorded())


def test_a_file_that_is_not_a_binary_records_nothing() -> None:
    assert binary_fields(None) == NOT_A_BINARY
    assert set(NOT_A_BINARY.values()) == {None}


def test_every_platform_has_a_closure_walk() -> None:
    assert set(CLOSURES) == set(Platform)
    assert {closure_walk(p).what for p in Platform} == {"DLL", "library"}  # type: ignore[attr-defined]
