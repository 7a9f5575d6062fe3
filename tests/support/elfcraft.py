"""Tiny ELF shared objects written byte by byte, for pure unit tests (no compiler, no process).

``build_elf`` returns the bytes of a 64-bit little-endian ``ET_DYN`` file holding
only what ld.so (and ``npuslim.formats.elf.read_elf``) reads to find
dependencies: the ELF header, a ``PT_LOAD`` segment mapping the whole file at
address 0, a ``PT_DYNAMIC`` segment, and the dynamic string table its entries
point into (DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH, DT_STRTAB, DT_STRSZ).
No code, no symbols, no section headers: ``tests/support/elfbuild.py`` compiles
real ones with gcc for the integration tests.
"""

from __future__ import annotations

import struct

EM_X86_64, EM_AARCH64 = 0x3E, 0xB7
ET_DYN = 3
PT_LOAD, PT_DYNAMIC = 1, 2
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_SONAME, DT_RPATH, DT_RUNPATH = 0, 1, 5, 10, 14, 15, 29

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")   # 64 bytes
_PHDR = struct.Struct("<IIQQQQQQ")           # 56 bytes
_DYN = struct.Struct("<qQ")                  # 16 bytes


def build_elf(needed: tuple[str, ...] = (), *, soname: str | None = None, rpath: str | None = None,
              runpath: str | None = None, machine: int = EM_X86_64) -> bytes:
    """An ELF64 shared object needing ``needed`` in order, with the given DT_RPATH / DT_RUNPATH strings
    (``:``-separated, written as given: ``$ORIGIN`` stays a token for the loader to expand)."""
    strtab = bytearray(b"\0")

    def string(text: str) -> int:
        offset = len(strtab)
        strtab.extend(text.encode() + b"\0")
        return offset

    entries = [(DT_NEEDED, string(name)) for name in needed]
    if soname is not None:
        entries.append((DT_SONAME, string(soname)))
    if rpath is not None:
        entries.append((DT_RPATH, string(rpath)))
    if runpath is not None:
        entries.append((DT_RUNPATH, string(runpath)))
    str_off = _EHDR.size + 2 * _PHDR.size
    dyn_off = (str_off + len(strtab) + 7) & ~7
    entries += [(DT_STRTAB, str_off), (DT_STRSZ, len(strtab)), (DT_NULL, 0)]
    dynamic = b"".join(_DYN.pack(tag, value) for tag, value in entries)
    total = dyn_off + len(dynamic)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # ELFCLASS64, little-endian, version 1, System V
    header = _EHDR.pack(ident, ET_DYN, machine, 1, 0, _EHDR.size, 0, 0, _EHDR.size, _PHDR.size, 2,
                        64, 0, 0)
    load = _PHDR.pack(PT_LOAD, 4 | 2, 0, 0, 0, total, total, 0x1000)   # R+W, the whole file at address 0
    dyn = _PHDR.pack(PT_DYNAMIC, 4 | 2, dyn_off, dyn_off, dyn_off, len(dynamic), len(dynamic), 8)
    body = header + load + dyn + bytes(strtab)
    return body + bytes(dyn_off - len(body)) + dynamic
