"""ELF shared objects written byte by byte, with what ``tests/support/elfcraft.py`` leaves out:
names given as raw bytes (not UTF-8, say) and a version-needs table (DT_VERNEED) laid out by
the test, sharing entries if it likes.

The file is the one of ``elfcraft``: an ELF header, a ``PT_LOAD`` mapping the whole file at
address 0 (so an address is a file offset), a ``PT_DYNAMIC``, the dynamic string table, then the
version-needs bytes, then the dynamic entries.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

EM_X86_64 = 0x3E
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_SONAME, DT_RUNPATH = 0, 1, 5, 10, 14, 29
DT_VERNEED, DT_VERNEEDNUM = 0x6FFFFFFE, 0x6FFFFFFF

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")   # 64 bytes
_PHDR = struct.Struct("<IIQQQQQQ")           # 56 bytes
_DYN = struct.Struct("<qQ")                  # 16 bytes
VERNEED = struct.Struct("<HHIII")            # vn_version, vn_cnt, vn_file, vn_aux, vn_next: 16 bytes
VERNAUX = struct.Struct("<IHHII")            # vna_hash, vna_flags, vna_other, vna_name, vna_next: 16 bytes

# given the strings' adder, returns (the version-needs bytes, DT_VERNEEDNUM); the bytes start at
# an offset of the file known only later, so every link in them must be relative (as ELF's are)
VerneedLayout = Callable[[Callable[[bytes], int]], tuple[bytes, int]]


def build_raw_elf(needed: tuple[bytes, ...] = (), *, soname: bytes | None = None, runpath: bytes | None = None,
                  verneed: VerneedLayout | None = None) -> bytes:
    """An ELF64 shared object needing ``needed`` (raw bytes, written as they are)."""
    strtab = bytearray(b"\0")

    def string(raw: bytes) -> int:
        offset = len(strtab)
        strtab.extend(raw + b"\0")
        return offset

    entries = [(DT_NEEDED, string(name)) for name in needed]
    if soname is not None:
        entries.append((DT_SONAME, string(soname)))
    if runpath is not None:
        entries.append((DT_RUNPATH, string(runpath)))
    table, count = verneed(string) if verneed is not None else (b"", 0)
    str_off = _EHDR.size + 2 * _PHDR.size
    vn_off = (str_off + len(strtab) + 7) & ~7
    dyn_off = (vn_off + len(table) + 7) & ~7
    if verneed is not None:
        entries += [(DT_VERNEED, vn_off), (DT_VERNEEDNUM, count)]
    entries += [(DT_STRTAB, str_off), (DT_STRSZ, len(strtab)), (DT_NULL, 0)]
    dynamic = b"".join(_DYN.pack(tag, value) for tag, value in entries)
    total = dyn_off + len(dynamic)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header = _EHDR.pack(ident, 3, EM_X86_64, 1, 0, _EHDR.size, 0, 0, _EHDR.size, _PHDR.size, 2, 64, 0, 0)
    load = _PHDR.pack(1, 4 | 2, 0, 0, 0, total, total, 0x1000)
    dyn = _PHDR.pack(2, 4 | 2, dyn_off, dyn_off, dyn_off, len(dynamic), len(dynamic), 8)
    body = header + load + dyn + bytes(strtab)
    body += bytes(vn_off - len(body)) + table
    return body + bytes(dyn_off - len(body)) + dynamic


def shared_chain(records: int, libs: tuple[bytes, ...], versions: tuple[bytes, ...]) -> VerneedLayout:
    """``records`` version-needs records (library ``libs[i % len(libs)]``) that all point at one
    chain of ``len(versions)`` aux entries, laid out after the records: what no linker writes,
    and what made the old reader's work records x chain length."""

    def layout(string: Callable[[bytes], int]) -> tuple[bytes, int]:
        lib_offsets = [string(lib) for lib in libs]
        names = [string(v) for v in versions]
        out = bytearray()
        chain_at = records * VERNEED.size
        for i in range(records):
            next_rel = VERNEED.size if i + 1 < records else 0
            here = i * VERNEED.size
            out += VERNEED.pack(1, len(versions), lib_offsets[i % len(libs)], chain_at - here, next_rel)
        for j, name in enumerate(names):
            out += VERNAUX.pack(0, 0, j + 2, name, VERNAUX.size if j + 1 < len(names) else 0)
        return bytes(out), records

    return layout


def plain_needs(needs: tuple[tuple[bytes, tuple[bytes, ...]], ...]) -> VerneedLayout:
    """A version-needs table as linkers write it: each record followed by its own aux entries."""

    def layout(string: Callable[[bytes], int]) -> tuple[bytes, int]:
        out = bytearray()
        for i, (lib, versions) in enumerate(needs):
            size = VERNEED.size + VERNAUX.size * len(versions)
            out += VERNEED.pack(1, len(versions), string(lib), VERNEED.size, size if i + 1 < len(needs) else 0)
            for j, version in enumerate(versions):
                out += VERNAUX.pack(0, 0, j + 2, string(version), VERNAUX.size if j + 1 < len(versions) else 0)
        return bytes(out), len(needs)

    return layout
