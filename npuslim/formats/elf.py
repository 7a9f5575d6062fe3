"""Reading what npuslim needs from an ELF shared object, cheaply and without LIEF.

The dynamic loader needs the program headers, the dynamic segment, its string
table and the version-needs table; so does npuslim. They are read here with
``struct`` over an ``mmap`` of the file: only the pages holding those tables
are touched, so a 60 MB library costs as little as a small one. LIEF is not
used for reading (``import lief`` alone costs about a second, more than
reading a whole closure this way).

Section headers, when present, give the data ranges to scan for string hints
and tell whether debug information or a symbol table is left to strip.
"""

from __future__ import annotations

import mmap
import os
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from npuslim.errors import InputError
from npuslim.formats.binary import Signature
from npuslim.paths import open_regular

ELF_MAGIC = b"\x7fELF"
MACHINES = {
    0x03: "i386",
    0x28: "arm",
    0x3E: "x86_64",
    0xB7: "aarch64",
    0xF3: "riscv64",
}
ET_EXEC, ET_DYN = 2, 3
PT_LOAD, PT_DYNAMIC = 1, 2
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_SONAME, DT_RPATH, DT_RUNPATH = 0, 1, 5, 10, 14, 15, 29
DT_VERNEED, DT_VERNEEDNUM = 0x6FFFFFFE, 0x6FFFFFFF
SHT_PROGBITS, SHT_SYMTAB = 1, 2
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 0x1, 0x2, 0x4

_T = TypeVar("_T")
_VERSION = re.compile(r"^([A-Z][A-Z_]*?)_(\d+(?:\.\d+)*)$")


@dataclass(frozen=True)
class ElfInfo:
    """The facts npuslim reads from one ELF file.

    ``imports`` are the DT_NEEDED names in order (the name ld.so looks for);
    ``rpath`` and ``runpath`` the DT_RPATH / DT_RUNPATH entries split on ``:``,
    unexpanded (``$ORIGIN`` stays as written). ``version_needs`` pairs each
    needed library with a symbol version it must define (``("libc.so.6",
    "GLIBC_2.27")``).
    """

    path: Path
    size: int
    machine: str
    bits: int
    is_dll: bool
    imports: tuple[str, ...]
    soname: str | None
    rpath: tuple[str, ...]
    runpath: tuple[str, ...]
    version_needs: tuple[tuple[str, str], ...]
    has_debug: bool
    has_symtab: bool
    upx_packed: bool
    data_ranges: tuple[tuple[int, int], ...] = ()

    def recorded(self) -> dict[str, Any]:
        """``BinaryInfo.recorded``: ELF has no Control Flow Guard flag, no Authenticode signature
        and no version resource, so those are ``False``, ``none`` and ``None``."""
        return {"machine": self.machine, "cfg": False, "signature": Signature.NONE,
                "debug_directory": self.has_debug, "file_version": None}

    def import_fields(self) -> dict[str, Any]:
        """``BinaryInfo.import_fields``: DT_NEEDED (ELF has no delay imports), and in ``elf`` what
        else ld.so reads (SONAME, RPATH, RUNPATH, symbol versions needed) and what strip removes."""
        return {
            "imports": list(self.imports), "delay_imports": [],
            "elf": {"soname": self.soname, "rpath": list(self.rpath), "runpath": list(self.runpath),
                    "version_needs": [{"library": lib, "version": v} for lib, v in self.version_needs],
                    "debug_info": self.has_debug, "symtab": self.has_symtab},
        }

    @property
    def search_rpath(self) -> tuple[str, ...]:
        """DT_RPATH as ld.so uses it: ignored when the object also has DT_RUNPATH."""
        return () if self.runpath else self.rpath


def is_elf(path: Path | str) -> bool:
    """True when the file starts with the ELF magic (False when it cannot be read)."""
    try:
        with open_regular(Path(path)) as fh:  # never blocks on a FIFO
            return fh.read(4) == ELF_MAGIC
    except (OSError, InputError):
        return False


def parse_version(version: str) -> tuple[str, tuple[int, ...]] | None:
    """``"GLIBCXX_3.4.22"`` -> ``("GLIBCXX", (3, 4, 22))``; ``None`` for a name of another shape."""
    m = _VERSION.match(version)
    if not m:
        return None
    return m.group(1), tuple(int(p) for p in m.group(2).split("."))


def newest_versions(needs: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> dict[str, str]:
    """The newest version needed per family (``GLIBC``, ``GLIBCXX``, ``CXXABI``, ``GCC``, ...)."""
    best: dict[str, tuple[tuple[int, ...], str]] = {}
    for _lib, version in needs:
        parsed = parse_version(version)
        if parsed is None:
            continue
        family, number = parsed
        if family not in best or number > best[family][0]:
            best[family] = (number, version)
    return {family: text for family, (_n, text) in sorted(best.items())}


class _Reader:
    def __init__(self, data: mmap.mmap, path: Path, bits: int, little: bool) -> None:
        self.data, self.path, self.size = data, path, len(data)
        self.end = "<" if little else ">"
        self.word = "Q" if bits == 64 else "I"
        self.sword = "q" if bits == 64 else "i"

    def unpack(self, fmt: str, offset: int) -> tuple[Any, ...]:
        fmt = self.end + fmt.replace("W", self.word).replace("S", self.sword)
        need = struct.calcsize(fmt)
        if offset < 0 or offset + need > self.size:
            raise InputError(f"{self.path}: truncated ELF file (a table at byte {offset} "
                             f"runs past the end, {self.size} bytes)")
        return struct.unpack_from(fmt, self.data, offset)

    def cstring(self, offset: int) -> str:
        if offset < 0 or offset >= self.size:
            raise InputError(f"{self.path}: corrupt ELF file (a string offset points past the end)")
        stop = self.data.find(b"\0", offset, min(self.size, offset + 4096))
        if stop < 0:
            raise InputError(f"{self.path}: corrupt ELF file (unterminated string at byte {offset})")
        return self.data[offset:stop].decode("utf-8", errors="surrogateescape")


def read_elf(path: Path | str) -> ElfInfo:
    """Read the dynamic section, version needs and section summary of an ELF file.

    Raises ``InputError`` for a file that cannot be read, is not ELF or is
    truncated or corrupt where npuslim reads it.
    """
    return _read_mapped(Path(path), _parse)


def read_version_needs(path: Path | str) -> VersionNeedWalk:
    """The version-needs table of an ELF file alone, with the work reading it took (what
    ``read_elf`` reads into ``ElfInfo.version_needs``); raises ``InputError`` like it."""

    def walk(data: mmap.mmap, path: Path, _size: int) -> VersionNeedWalk:
        r, head, bits = _header(data, path)
        loads, dynamic = _program_headers(r, head, bits)
        return _version_needs(_Dynamic(r, loads, _dynamic_entries(r, dynamic, bits)))

    return _read_mapped(Path(path), walk)


def _read_mapped(path: Path, parse: Callable[[mmap.mmap, Path, int], _T]) -> _T:
    try:
        with open_regular(path) as fh:
            size = os.fstat(fh.fileno()).st_size
            if size < 52:
                head = fh.read(4)
                if head != ELF_MAGIC:
                    raise InputError(f"{path}: not an ELF file")
                raise InputError(f"{path}: truncated ELF file ({size} bytes)")
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return parse(data, path, size)
    except PermissionError as exc:
        raise InputError(f"{path}: cannot read: permission denied") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc


@dataclass(frozen=True)
class _Header:
    """The fields of the ELF header npuslim uses."""

    e_type: int
    e_machine: int
    e_phoff: int
    e_shoff: int
    e_phentsize: int
    e_phnum: int
    e_shentsize: int
    e_shnum: int
    e_shstrndx: int


def _header(data: mmap.mmap, path: Path) -> tuple[_Reader, _Header, int]:
    """A reader for the file's class and byte order, its ELF header, and its word size in bits."""
    if data[:4] != ELF_MAGIC:
        raise InputError(f"{path}: not an ELF file")
    if len(data) < 52:
        raise InputError(f"{path}: truncated ELF file ({len(data)} bytes)")
    ei_class, ei_data = data[4], data[5]
    if ei_class not in (1, 2) or ei_data not in (1, 2):
        raise InputError(f"{path}: corrupt ELF file (class {ei_class}, data encoding {ei_data})")
    bits = 64 if ei_class == 2 else 32
    r = _Reader(data, path, bits, ei_data == 1)
    (e_type, e_machine, _ver, _entry, e_phoff, e_shoff, _flags, _ehsize, e_phentsize, e_phnum,
     e_shentsize, e_shnum, e_shstrndx) = r.unpack("HHIWWWIHHHHHH", 16)
    return r, _Header(e_type, e_machine, e_phoff, e_shoff, e_phentsize, e_phnum, e_shentsize, e_shnum,
                      e_shstrndx), bits


def _parse(data: mmap.mmap, path: Path, size: int) -> ElfInfo:
    r, head, bits = _header(data, path)
    loads, dynamic = _program_headers(r, head, bits)
    dyn = _Dynamic(r, loads, _dynamic_entries(r, dynamic, bits))
    needed = tuple(dyn.string(v) for v in dyn.values(DT_NEEDED))
    soname = next((dyn.string(v) for v in dyn.values(DT_SONAME)), None)
    needs = _version_needs(dyn).needs
    has_debug, has_symtab, ranges = _sections(r, head)
    return ElfInfo(
        path=path, size=size, machine=MACHINES.get(head.e_machine, f"0x{head.e_machine:x}"), bits=bits,
        is_dll=head.e_type == ET_DYN, imports=needed, soname=soname, rpath=dyn.paths(DT_RPATH),
        runpath=dyn.paths(DT_RUNPATH), version_needs=needs, has_debug=has_debug, has_symtab=has_symtab,
        upx_packed=b"UPX!" in data[: min(size, 4096)], data_ranges=ranges,
    )


@dataclass(frozen=True)
class _Load:
    """One PT_LOAD segment: where it is mapped, where its bytes are in the file, how many of each."""

    vaddr: int
    offset: int
    filesz: int
    memsz: int


def _program_headers(r: _Reader, head: _Header, bits: int) -> tuple[list[_Load], tuple[int, int] | None]:
    """The one reader of ELF program headers: what the loader maps (each PT_LOAD) and where the
    dynamic segment is ((offset, filesz) of PT_DYNAMIC)."""
    loads: list[_Load] = []
    dynamic: tuple[int, int] | None = None
    ph_fmt = "IIWWWWWW" if bits == 64 else "IWWWWWIW"
    for i in range(head.e_phnum if head.e_phoff else 0):
        fields = r.unpack(ph_fmt, head.e_phoff + i * head.e_phentsize)
        if bits == 64:
            p_type, _pf, p_offset, p_vaddr, _pa, p_filesz, p_memsz = fields[:7]
        else:
            p_type, p_offset, p_vaddr, _pa, p_filesz, p_memsz = fields[:6]
        if p_type == PT_LOAD:
            loads.append(_Load(p_vaddr, p_offset, p_filesz, p_memsz))
        elif p_type == PT_DYNAMIC:
            dynamic = (p_offset, p_filesz)
    return loads, dynamic


def elf_image_size(path: Path | str) -> int:
    """Bytes the loader maps for ``path``: the span of its PT_LOAD segments (what a UPX-packed
    library decompresses into private memory at load); 0 when the file is not a readable ELF."""
    path = Path(path)
    try:
        with open_regular(path) as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            r, head, bits = _header(data, path)
            loads, _dynamic = _program_headers(r, head, bits)
    except (OSError, ValueError, InputError):
        return 0
    if not loads:
        return 0
    return max(s.vaddr + s.memsz for s in loads) - min(s.vaddr for s in loads)


def _dynamic_entries(r: _Reader, dynamic: tuple[int, int] | None, bits: int) -> list[tuple[int, int]]:
    """The (tag, value) entries of the dynamic segment, up to DT_NULL."""
    entries: list[tuple[int, int]] = []
    if dynamic is None:
        return entries
    d_off, d_size = dynamic
    if d_off + d_size > r.size:
        raise InputError(f"{r.path}: truncated ELF file (the dynamic section ends at byte "
                         f"{d_off + d_size}, the file has {r.size})")
    step = 16 if bits == 64 else 8
    for at in range(d_off, d_off + d_size - step + 1, step):
        tag, val = r.unpack("SW", at)
        if tag == DT_NULL:
            break
        entries.append((tag, val))
    return entries


class _Dynamic:
    """The dynamic entries with their string table, read through the loaded segments' addresses."""

    def __init__(self, r: _Reader, loads: list[_Load], entries: list[tuple[int, int]]) -> None:
        self.r, self.loads, self.entries = r, loads, entries
        strtab = next(self.values(DT_STRTAB), None)
        self.str_off = self.file_offset(strtab) if strtab is not None else None

    def values(self, tag: int) -> Iterator[int]:
        return (v for t, v in self.entries if t == tag)

    def file_offset(self, vaddr: int) -> int:
        for load in self.loads:
            if load.vaddr <= vaddr < load.vaddr + load.filesz:
                return load.offset + (vaddr - load.vaddr)
        raise InputError(f"{self.r.path}: corrupt ELF file (address 0x{vaddr:x} is in no loaded segment)")

    def string(self, offset: int) -> str:
        if self.str_off is None:
            raise InputError(f"{self.r.path}: corrupt ELF file (dynamic entries without a string table)")
        return self.r.cstring(self.str_off + offset)

    def paths(self, tag: int) -> tuple[str, ...]:
        """DT_RPATH / DT_RUNPATH entries, split on ``:``."""
        return tuple(p for v in self.values(tag) for p in self.string(v).split(":") if p)


@dataclass(frozen=True)
class VersionNeedWalk:
    """The (library, symbol version) pairs of a version-needs table, and how many entries reading
    it visited (records, aux entries and pairs): never more than ``VERNEED_WORK_PER_BYTE`` times
    the file's size, whatever the table's links say."""

    needs: tuple[tuple[str, str], ...]
    visited: int


# Records and aux entries are 16 bytes each: a file of N bytes holds at most N/16 of them, and a
# table read once visits each entry and makes each pair once, so N/8 is never reached by a table
# a linker wrote. Records that share aux chains (or link in circles) would make the work grow
# with records x chain length; past this budget the table is refused as corrupt.
VERNEED_WORK_PER_BYTE = 1 / 8


def _version_needs(dyn: _Dynamic) -> VersionNeedWalk:
    """Walk the version-needs table in work linear in the file size (``VersionNeedWalk``).

    A record read twice (a loop of ``vn_next``) ends the walk as corrupt; records naming the same
    library and aux chain (ld.so reads them alike) count once; pairs are kept once, in order.
    """
    verneed = next(dyn.values(DT_VERNEED), None)
    if verneed is None:
        return VersionNeedWalk((), 0)
    count = next(dyn.values(DT_VERNEEDNUM), 0)
    budget = int(dyn.r.size * VERNEED_WORK_PER_BYTE)
    needs: dict[tuple[str, str], None] = {}
    records: set[int] = set()
    chains: set[tuple[str, int, int]] = set()
    work = 0
    at = dyn.file_offset(verneed)
    for _ in range(count):
        if at in records:
            raise InputError(f"{dyn.r.path}: corrupt ELF file (its version-needs records link in a loop)")
        records.add(at)
        _vn_version, vn_cnt, vn_file, vn_aux, vn_next = dyn.r.unpack("HHIII", at)
        lib = dyn.string(vn_file)
        work += 1
        if (lib, at + vn_aux, vn_cnt) not in chains:
            chains.add((lib, at + vn_aux, vn_cnt))
            work += _aux_chain(dyn, lib, at + vn_aux, min(vn_cnt, budget), needs)
        if work > budget:
            raise InputError(f"{dyn.r.path}: corrupt ELF file (its version-needs table lists more entries than "
                             f"a file of {dyn.r.size} bytes holds: records share their entries)")
        if not vn_next:
            break
        at += vn_next
    return VersionNeedWalk(tuple(needs), work)


def _aux_chain(dyn: _Dynamic, lib: str, aux: int, count: int, needs: dict[tuple[str, str], None]) -> int:
    """Add the versions of one record's aux chain (at most ``count`` entries) to ``needs``;
    returns the entries visited and pairs made."""
    work = 0
    for _ in range(count):
        _hash, _vflags, _other, vna_name, vna_next = dyn.r.unpack("IHHII", aux)
        needs.setdefault((lib, dyn.string(vna_name)))
        work += 2
        if not vna_next:
            break
        aux += vna_next
    return work


def _sections(r: _Reader, head: _Header) -> tuple[bool, bool, tuple[tuple[int, int], ...]]:
    """(debug information left, a symbol table left, the read-only data ranges to scan for hints)."""
    has_debug = has_symtab = False
    ranges: list[tuple[int, int]] = []
    if not (head.e_shoff and head.e_shnum and head.e_shoff + head.e_shnum * head.e_shentsize <= r.size):
        return has_debug, has_symtab, ()
    headers = [r.unpack("IIWWWWIIWW", head.e_shoff + i * head.e_shentsize) for i in range(head.e_shnum)]
    names_off = headers[head.e_shstrndx][4] if head.e_shstrndx < len(headers) else None
    for sh_name, sh_type, sh_flags, _addr, sh_offset, sh_size, *_rest in headers:
        name = r.cstring(names_off + sh_name) if names_off is not None else ""
        if name.startswith((".debug_", ".zdebug_")) or name == ".gnu_debuglink":
            has_debug = has_debug or name != ".gnu_debuglink"
        if sh_type == SHT_SYMTAB:
            has_symtab = True
        if (sh_type == SHT_PROGBITS and sh_flags & SHF_ALLOC and not sh_flags & SHF_EXECINSTR
                and not sh_flags & SHF_WRITE and sh_size and sh_offset + sh_size <= r.size):
            ranges.append((sh_offset, sh_size))
    return has_debug, has_symtab, tuple(ranges)
