"""Stripping a PE file cleanly: signature, debug directory, COFF symbols.

GNU strip on an MSVC DLL cuts the certificate bytes and leaves the security
directory pointing past the end of the file. Here every edit keeps the headers
consistent:

- the Authenticode certificate (always at the end of the file) is cut off and
  the security directory entry zeroed;
- debug directory entries (CodeView/PDB path, POGO, VC feature, ...) are
  removed and the data they point to zeroed; ``EX_DLLCHARACTERISTICS`` entries
  (CET compatibility) are kept, since they carry security flags;
- COFF symbols and their string table (mingw builds) are cut off, together
  with the trailing discardable sections whose names live in that string table
  (``.debug_*`` DWARF sections), and the image size is fixed;
- the PE checksum is recomputed.

The input is only read; the result is returned as bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import pefile

from npuslim.errors import InputError

IMAGE_DEBUG_TYPE_EX_DLLCHARACTERISTICS = 20
IMAGE_SCN_MEM_DISCARDABLE = 0x02000000
_DEBUG_ENTRY_SIZE = 28
_SECTION_HEADER_SIZE = 40


@dataclass(frozen=True)
class StripResult:
    data: bytearray
    original_size: int
    signature_removed: int      # bytes of certificate cut
    debug_entries_removed: int
    symbols_removed: int        # COFF symbols dropped
    sections_removed: tuple[str, ...]
    kept_sections: tuple[tuple[int, int], ...] = ()   # file ranges (start, end) of the sections kept
    zeroed: tuple[tuple[int, int], ...] = ()          # (offset, size) strip zeroed inside them

    @property
    def saved(self) -> int:
        return self.original_size - len(self.data)

    @property
    def changed(self) -> bool:
        return bool(self.signature_removed or self.debug_entries_removed or self.symbols_removed
                    or self.sections_removed)


def pe_checksum(data: bytearray, checksum_offset: int) -> int:
    """The PE image checksum (as ``imagehlp!CheckSumMappedFile``), the stored field counted as zero.

    The checksum is the one's-complement sum of the file's 16-bit little-endian
    words, plus the file length. Since 2**16 = 1 (mod 2**16 - 1), that sum is
    the whole file read as one little-endian integer, modulo 0xFFFF (0xFFFF
    rather than 0 for a non-zero sum): two linear passes in C instead of a
    Python loop over the words. ``data``'s checksum field is set to zero.
    """
    data[checksum_offset:checksum_offset + 4] = b"\0\0\0\0"
    whole = int.from_bytes(data, "little")
    folded = whole % 0xFFFF
    if folded == 0 and whole:
        folded = 0xFFFF
    return (folded + len(data)) & 0xFFFFFFFF


def changed_outside_edits(original: bytes, result: StripResult) -> str | None:
    """``None`` when every byte of every kept section is as in ``original``, except the debug data
    strip zeroed on purpose; else where they differ. (Import tables live in sections: a check that
    stripping touched nothing it should not, without a second PE parser.)"""
    data = result.data
    for start, end in result.kept_sections:
        cuts = sorted((max(a, start), min(a + n, end)) for a, n in result.zeroed if a < end and a + n > start)
        pos = start
        for a, b in [*cuts, (end, end)]:
            if a > pos and original[pos:a] != data[pos:a]:
                return f"bytes {pos}-{a} changed"
            pos = max(pos, b)
    return None


def _raw_end(sections: list[pefile.SectionStructure]) -> int:
    """The file offset where the raw data of the last section with any ends."""
    return max((s.PointerToRawData + s.SizeOfRawData for s in sections if s.SizeOfRawData), default=0)


@dataclass
class _Edit:
    """The bytes being stripped, and the offset from which everything will be cut off."""

    data: bytearray
    cut_at: int
    zeroed: list[tuple[int, int]] = field(default_factory=list)

    def cut(self, offset: int) -> None:
        self.cut_at = min(self.cut_at, offset)

    def zero(self, offset: int, size: int) -> None:
        self.data[offset:offset + size] = bytes(size)
        self.zeroed.append((offset, size))


def strip_pe(path: Path, original: bytes | None = None) -> StripResult:
    """Strip ``path`` (read only; ``original``: its bytes, when the caller has read them) and return the
    new bytes with what was removed. A file whose directories point where no such data can be (into
    the headers or the sections, past the end, at offset 0) is an ``InputError``: nothing is guessed."""
    if original is None:
        original = path.read_bytes()
    try:
        pe = pefile.PE(data=original, fast_load=True)
        pe.parse_data_directories(directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_DEBUG"]])
    except pefile.PEFormatError as exc:
        raise InputError(f"{path}: not a PE file ({exc.value})") from exc
    try:
        return _strip_parsed(pe, original)
    except _Malformed as exc:
        raise InputError(f"{path}: cannot strip: {exc}") from None
    except (struct.error, IndexError, TypeError, ValueError, AttributeError, pefile.PEFormatError) as exc:
        # pefile's view of a damaged file can still be at odds with itself: one line, not a traceback
        raise InputError(f"{path}: cannot strip: malformed PE headers ({exc})") from None


class _Malformed(Exception):
    """A directory of the file points where its data cannot be (the message says which)."""


def _headers_end(pe: pefile.PE) -> int:
    """Where the headers and the section table end in the file (nothing strip edits may start before)."""
    table_end = pe.sections[-1].get_file_offset() + _SECTION_HEADER_SIZE if pe.sections else 0
    return max(int(pe.OPTIONAL_HEADER.SizeOfHeaders), int(table_end))


def _strip_parsed(pe: pefile.PE, original: bytes) -> StripResult:
    edit = _Edit(bytearray(original), len(original))
    removed_debug = _strip_debug(pe, edit)
    symbols, sections_removed = _strip_symbols(pe, edit)
    sig_bytes = _strip_signature(pe, edit, len(original))
    kept_sections = pe.sections[:len(pe.sections) - len(sections_removed)]
    if edit.cut_at < max(_headers_end(pe), _raw_end(kept_sections)):
        raise _Malformed(f"it would cut the file at offset {edit.cut_at}, inside its headers or sections")
    data = edit.data
    del data[edit.cut_at:]
    opt = pe.OPTIONAL_HEADER
    checksum_at = opt.get_field_absolute_offset("CheckSum")
    if opt.CheckSum or sig_bytes:
        _put(data, checksum_at, "<I", pe_checksum(data, checksum_at))
    kept = tuple((sec.PointerToRawData, min(sec.PointerToRawData + sec.SizeOfRawData, len(data)))
                 for sec in kept_sections if sec.SizeOfRawData)
    # no pe.close(): it only runs gc.collect() (pefile 2024.8.26); there is no mmap here
    return StripResult(data, len(original), sig_bytes, removed_debug, symbols, sections_removed, kept,
                       tuple(edit.zeroed))


def _strip_debug(pe: pefile.PE, edit: _Edit) -> int:
    """Drop the debug directory entries but ``EX_DLLCHARACTERISTICS``; returns how many were dropped.

    Debug data inside a section is zeroed; data after the last section is cut off.
    """
    debug_dir = pe.OPTIONAL_HEADER.DATA_DIRECTORY[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_DEBUG"]]
    entries = getattr(pe, "DIRECTORY_ENTRY_DEBUG", [])
    if not (debug_dir.Size and entries):
        return 0
    data = edit.data
    keep = [e for e in entries if e.struct.Type == IMAGE_DEBUG_TYPE_EX_DLLCHARACTERISTICS]
    drop = [e for e in entries if e not in keep]
    raw_end, headers_end = _raw_end(pe.sections), _headers_end(pe)
    table = pe.get_offset_from_rva(debug_dir.VirtualAddress)
    if table is None or table < headers_end or table + debug_dir.Size > len(data):
        raise _Malformed(f"the debug directory (RVA {debug_dir.VirtualAddress:#x}, {debug_dir.Size} bytes) "
                         "lies outside the file's sections")
    for entry in drop:
        ptr, size = entry.struct.PointerToRawData, entry.struct.SizeOfData
        if ptr and size and ptr < headers_end:
            raise _Malformed(f"a debug entry's data (offset {ptr}) lies in the headers")
        if ptr and size and ptr + size <= len(data):
            if ptr >= raw_end:
                edit.cut(ptr)
            else:
                edit.zero(ptr, size)
    edit.zeroed.append((table, debug_dir.Size))
    kept_bytes = b"".join(bytes(data[e.struct.get_file_offset():e.struct.get_file_offset() + _DEBUG_ENTRY_SIZE])
                          for e in keep)
    if len(kept_bytes) > debug_dir.Size:
        raise _Malformed("the debug directory is smaller than the entries it holds")
    data[table:table + debug_dir.Size] = kept_bytes + bytes(debug_dir.Size - len(kept_bytes))
    _set_dir(data, debug_dir, debug_dir.VirtualAddress if keep else 0, len(kept_bytes))
    return len(drop)


def _strip_symbols(pe: pefile.PE, edit: _Edit) -> tuple[int, tuple[str, ...]]:
    """Drop the COFF symbols, their string table and the trailing sections named in it.

    Returns (symbols dropped, names of the sections removed).
    """
    fh, opt, data = pe.FILE_HEADER, pe.OPTIONAL_HEADER, edit.data
    if not fh.PointerToSymbolTable:
        return 0, ()
    sections = list(pe.sections)
    removed: list[str] = []
    while sections and sections[-1].Name.startswith(b"/") and \
            sections[-1].Characteristics & IMAGE_SCN_MEM_DISCARDABLE:
        gone = sections.pop()
        off = gone.get_file_offset()
        data[off:off + _SECTION_HEADER_SIZE] = bytes(_SECTION_HEADER_SIZE)
        removed.append(gone.Name.rstrip(b"\0").decode("ascii", "replace"))
    if removed:
        last = sections[-1]
        align = opt.SectionAlignment
        image_end = last.VirtualAddress + max(last.Misc_VirtualSize, last.SizeOfRawData)
        _put(data, opt.get_field_absolute_offset("SizeOfImage"), "<I", -(-image_end // align) * align)
        _put(data, fh.get_field_absolute_offset("NumberOfSections"), "<H", len(sections))
        edit.cut(max(s.PointerToRawData + s.SizeOfRawData for s in sections))
    if fh.PointerToSymbolTable >= _raw_end(sections):
        edit.cut(fh.PointerToSymbolTable)
    _put(data, fh.get_field_absolute_offset("PointerToSymbolTable"), "<I", 0)
    _put(data, fh.get_field_absolute_offset("NumberOfSymbols"), "<I", 0)
    return fh.NumberOfSymbols, tuple(removed)


def _strip_signature(pe: pefile.PE, edit: _Edit, original_size: int) -> int:
    """Cut off the certificate table (addressed by file offset, at the end); returns its bytes in the file."""
    sec_dir = pe.OPTIONAL_HEADER.DATA_DIRECTORY[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_SECURITY"]]
    if not sec_dir.Size:
        return 0
    sig_bytes = 0
    if sec_dir.VirtualAddress < max(_headers_end(pe), _raw_end(pe.sections)):
        raise _Malformed(f"the security directory points at offset {sec_dir.VirtualAddress}, inside the "
                         "headers or sections (a certificate table follows them)")
    if sec_dir.VirtualAddress < original_size:
        sig_bytes = min(sec_dir.Size, original_size - sec_dir.VirtualAddress)
        edit.cut(sec_dir.VirtualAddress)
    _set_dir(edit.data, sec_dir, 0, 0)
    return sig_bytes


def _set_dir(data: bytearray, entry: pefile.Structure, rva: int, size: int) -> None:
    _put(data, entry.get_field_absolute_offset("VirtualAddress"), "<I", rva)
    _put(data, entry.get_field_absolute_offset("Size"), "<I", size)


def _put(data: bytearray, offset: int, fmt: str, value: int) -> None:
    struct.pack_into(fmt, data, offset, value)
