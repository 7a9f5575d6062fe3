"""Reading the export table and the imported symbol names of a PE file.

Everything is read directly, headers included: the DOS and PE headers, the data
directories and the section table (``_Image.open``), then the export directory
and the import name tables. pefile's own parsers stop at 8192 symbols per file
("assuming corrupt"), which ``openvino.dll`` exceeds, and build an object per
symbol; its header parse alone (2-3 ms a file, most of it one attribute per
section flag) was a third of the symbol check. Every file this module reads in
``deps`` and ``verify`` has been read by pefile first (``npuslim.formats.pe``),
whose checks of the headers stay the gate; these reads are bounds-checked all the
same and fail as one ``InputError``.

What the symbols mean for a closure (which exports are used, which imports
find no export) is analysis: ``npuslim.analyse.exports`` and
``npuslim.analyse.symbols``.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import mmap
import operator
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from npuslim.errors import InputError, os_reason
from npuslim.paths import open_regular

# the data directories read here (their index in the optional header), and the optional header's magic
_DIR_EXPORT, _DIR_IMPORT, _DIR_DELAY = 0, 1, 13
_PE32, _PE32_PLUS = 0x10B, 0x20B
_MAX_SECTIONS = 96  # the PE format's own limit (the loader refuses more)
_MAX_NAME = 4096
_MAX_DESCRIPTORS = 4096
_MAX_THUNKS = 1 << 20
_MAX_EXPORTS = 1 << 16


@dataclass(frozen=True)
class Export:
    """One exported symbol: its ordinal, its name (None when exported by ordinal only)
    and, for a forwarded export, the ``DLL.symbol`` it forwards to."""

    ordinal: int
    name: str | None
    forwarder: str | None = None


@dataclass(frozen=True)
class ImportedSymbol:
    """One symbol a DLL imports from another: by name, or by ordinal (``name`` None)."""

    dll: str
    name: str | None
    ordinal: int | None
    delay: bool


@dataclass(frozen=True)
class SymbolTables:
    """The export table and the imported symbols of one PE file."""

    path: Path
    export_name: str | None
    exports: tuple[Export, ...]
    imports: tuple[ImportedSymbol, ...]


class _Image:
    """RVA-addressed reads from a mapped PE file, with bounds checks; its headers as read by ``open``."""

    def __init__(self, data: mmap.mmap | bytes, path: Path) -> None:
        self.data = data
        self.path = path
        self.wide = False        # PE32+ (64-bit thunks)
        self.image_base = 0
        self.header_size = 0
        self.directories: tuple[tuple[int, int], ...] = ()  # (RVA, size) of each data directory
        # (virtual address, virtual size, file offset, size in the file) of each section, by address
        self.sections: list[tuple[int, int, int, int]] = []
        self._blobs: dict[int, bytes] = {}  # section copies by virtual address, for many reads

    @classmethod
    def open(cls, data: mmap.mmap | bytes, path: Path) -> _Image:
        """Read the headers: DOS header, PE signature, file header, optional header (PE32 or PE32+),
        its data directories and the section table. ``InputError`` when they are not there whole."""
        img = cls(data, path)
        if data[:2] != b"MZ" or len(data) < 64:
            raise InputError(f"{path}: not a PE file (no DOS header)")
        (nt,) = struct.unpack_from("<I", data, 0x3C)
        if nt > len(data) - 24 or data[nt:nt + 4] != b"PE\0\0":
            raise InputError(f"{path}: not a PE file (no PE signature)")
        _machine, n_sections, _, _, _, optional_size, _ = struct.unpack_from("<HHIIIHH", data, nt + 4)
        optional = nt + 24
        (magic,) = struct.unpack_from("<H", data, optional) if len(data) >= optional + 2 else (0,)
        if magic not in (_PE32, _PE32_PLUS):
            raise InputError(f"{path}: not a PE file (no PE32 or PE32+ optional header)")
        img.wide = magic == _PE32_PLUS
        # ImageBase, SizeOfHeaders, NumberOfRvaAndSizes, then the directories
        base_at, count_at = (24, 108) if img.wide else (28, 92)
        if optional + count_at + 4 > len(data) or optional_size < count_at + 4:
            raise InputError(f"{path}: truncated PE file (optional header)")
        (img.image_base,) = struct.unpack_from("<Q" if img.wide else "<I", data, optional + base_at)
        (img.header_size,) = struct.unpack_from("<I", data, optional + 60)
        (count,) = struct.unpack_from("<I", data, optional + count_at)
        # the top bit is dropped, as pefile (npuslim.formats.pe, the graph's reader) drops it: the two
        # readers of one file must see the same directories
        count = min(count & 0x7FFFFFFF, 16, (optional_size - count_at - 4) // 8,
                    (len(data) - optional - count_at - 4) // 8)
        flat = struct.unpack_from(f"<{2 * count}I", data, optional + count_at + 4)
        img.directories = tuple(zip(flat[0::2], flat[1::2], strict=True))
        table = optional + optional_size
        if n_sections > _MAX_SECTIONS or table + 40 * n_sections > len(data):
            raise InputError(f"{path}: truncated PE file (section table)")
        for i in range(n_sections):
            vsize, va, rawsize, raw = struct.unpack_from("<IIII", data, table + 40 * i + 8)
            img.sections.append((va, max(vsize, rawsize), raw, rawsize))
        img.sections.sort()
        return img

    def directory(self, index: int) -> tuple[int, int]:
        """(RVA, size) of data directory ``index``; (0, 0) when the header has no such entry."""
        return self.directories[index] if index < len(self.directories) else (0, 0)

    def offset(self, rva: int, length: int = 1) -> int:
        if rva < 0:
            raise InputError(f"{self.path}: corrupt PE file (negative RVA {rva})")
        if rva < self.header_size:
            return rva
        for va, vsize, raw, rawsize in self.sections:
            if va <= rva < va + vsize:
                delta = rva - va
                if delta + length > rawsize:
                    break
                return raw + delta
        raise InputError(f"{self.path}: corrupt PE file (RVA 0x{rva:x} is outside every section)")

    def read(self, rva: int, length: int) -> bytes:
        off = self.offset(rva, length)
        chunk = self.data[off:off + length]
        if len(chunk) != length:
            raise InputError(f"{self.path}: truncated PE file (RVA 0x{rva:x})")
        return bytes(chunk)

    def strings_for(self, rvas: tuple[int, ...]) -> Callable[[int], str]:
        """A reader for many names: when every RVA lies in one section (as the export
        name table's names do), that section is copied once and names are cut from it;
        otherwise ``cstring``."""
        if not rvas:
            return self.cstring
        low, high = min(rvas), max(rvas)
        for va, vsize, raw, rawsize in self.sections:
            if va <= low and high < va + min(vsize, rawsize):
                if va not in self._blobs:
                    self._blobs[va] = bytes(self.data[raw:raw + rawsize])
                return _cutter(self._blobs[va], va, self.path)
        return self.cstring

    def cstring(self, rva: int) -> str:
        off = self.offset(rva)
        end = self.data.find(b"\0", off, off + _MAX_NAME)
        if end < 0:
            raise InputError(f"{self.path}: corrupt PE file (unterminated name at RVA 0x{rva:x})")
        return bytes(self.data[off:end]).decode("utf-8", errors="surrogateescape")


def _cutter(blob: bytes, va: int, path: Path) -> Callable[[int], str]:
    """Reads the NUL-terminated name at an RVA of a section copied into ``blob`` (mapped at ``va``)."""

    def cut(rva: int) -> str:
        off = rva - va
        end = blob.find(b"\0", off, off + _MAX_NAME)
        if end < 0:
            raise InputError(f"{path}: corrupt PE file (unterminated name at RVA 0x{rva:x})")
        return blob[off:end].decode("utf-8", errors="surrogateescape")

    return cut


def _export_directory(img: _Image, rva: int) -> tuple[int, int, tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(name RVA, ordinal base, function RVAs, name RVAs, name -> function index) of an export directory."""
    (_, _, _, _, name_rva, base, n_functions, n_names, functions_rva, names_rva,
     ordinals_rva) = struct.unpack("<IIHHIIIIIII", img.read(rva, 40))
    # ordinals are 16-bit: a larger table is a corrupt field, not a reason to read gigabytes
    if n_functions > _MAX_EXPORTS or n_names > n_functions:
        raise InputError(f"{img.path}: corrupt export table ({n_functions} functions, {n_names} names)")
    functions = struct.unpack(f"<{n_functions}I", img.read(functions_rva, 4 * n_functions)) if n_functions else ()
    names = struct.unpack(f"<{n_names}I", img.read(names_rva, 4 * n_names)) if n_names else ()
    ordinals = struct.unpack(f"<{n_names}H", img.read(ordinals_rva, 2 * n_names)) if n_names else ()
    if ordinals and max(ordinals) >= n_functions:
        raise InputError(f"{img.path}: corrupt export table (a name points to function {max(ordinals)} of "
                         f"{n_functions})")
    return name_rva, base, functions, names, ordinals


def _exports(img: _Image, rva: int, size: int) -> tuple[str | None, tuple[Export, ...]]:
    name_rva, base, functions, names, ordinals = _export_directory(img, rva)
    name_of: dict[int, str] = {}
    strings = img.strings_for(names)
    for name_rva_i, index in zip(names, ordinals, strict=True):
        name_of.setdefault(index, strings(name_rva_i))
    out = []
    for index, address in enumerate(functions):
        if address == 0:
            continue  # a hole in the ordinal range
        forwarder = img.cstring(address) if rva <= address < rva + size else None
        out.append(Export(base + index, name_of.get(index), forwarder))
    dll_name = img.cstring(name_rva) if name_rva else None
    return dll_name, tuple(out)


@dataclass(frozen=True)
class ExportIndex:
    """What a DLL exports, for lookups: its names, its ordinals, and the forwarded
    names with the ``DLL.symbol`` each forwards to."""

    names: frozenset[str]
    ordinals: frozenset[int]
    forwarders: tuple[tuple[str, str], ...] = ()
    ordinal_forwarders: tuple[tuple[int, str], ...] = ()

    @functools.cached_property
    def forwarded(self) -> dict[str, str]:
        """``forwarders`` as a mapping, built once."""
        return dict(self.forwarders)

    @functools.cached_property
    def _by_ordinal(self) -> dict[int, str]:
        return dict(self.ordinal_forwarders)

    def has(self, symbol: str) -> bool:
        """Whether ``symbol`` (a name, or ``#N`` for an ordinal) is exported."""
        ordinal = ordinal_of(symbol)
        return ordinal in self.ordinals if ordinal is not None else symbol in self.names

    def forward_of(self, symbol: str) -> str | None:
        """The ``DLL.symbol`` the export ``symbol`` (a name, or ``#N``) forwards to, else ``None``."""
        ordinal = ordinal_of(symbol)
        return self._by_ordinal.get(ordinal) if ordinal is not None else self.forwarded.get(symbol)


def ordinal_of(symbol: str) -> int | None:
    """``"#12"`` -> 12; ``None`` for a name."""
    return int(symbol[1:]) if symbol.startswith("#") and symbol[1:].isdigit() else None


def _name_list(img: _Image, rvas: tuple[int, ...]) -> list[str]:
    """The names at ``rvas``. Linkers lay the export names out back to back in the
    order of the name table; then one slice and one split read them all (a check
    of every offset keeps it exact), else each is read on its own."""
    if rvas:
        first = rvas[0]
        tail = img.strings_for((rvas[-1],))(rvas[-1])
        span = rvas[-1] + len(tail.encode("utf-8", "surrogateescape")) + 1 - first
        if span > 0:
            try:
                blob = img.read(first, span)
            except InputError:
                blob = b""
            parts = blob.split(b"\0")[:-1] if blob.endswith(b"\0") else []
            if len(parts) == len(rvas):
                # name k starts at first + (lengths of names before it) + k terminators
                starts = list(itertools.accumulate(map(len, parts[:-1]), initial=first))
                if starts == list(map(operator.sub, rvas, range(len(rvas)))):
                    return blob.decode("utf-8", errors="surrogateescape").split("\0")[:-1]
    strings = img.strings_for(rvas)
    return [strings(r) for r in rvas]


def _export_index(img: _Image, rva: int, size: int) -> ExportIndex:
    _, base, functions, names, ordinals = _export_directory(img, rva)
    by_name = dict(zip(_name_list(img, names), ordinals, strict=True))
    # a forwarder's "address" points into the export directory itself; most DLLs have none
    ordered = sorted(functions)
    forwarders: tuple[tuple[str, str], ...] = ()
    by_ordinal: tuple[tuple[int, str], ...] = ()
    if bisect.bisect_left(ordered, rva + size) > bisect.bisect_left(ordered, rva):
        forwarded = {index: img.cstring(address) for index, address in enumerate(functions)
                     if rva <= address < rva + size}
        forwarders = tuple((name, forwarded[index]) for name, index in by_name.items() if index in forwarded)
        by_ordinal = tuple((base + index, target) for index, target in forwarded.items())
    ordinals_set = frozenset(itertools.compress(range(base, base + len(functions)), functions))
    return ExportIndex(frozenset(by_name), ordinals_set, forwarders, by_ordinal)


def _thunks(img: _Image, rva: int, wide: bool, dll: str, delay: bool) -> list[ImportedSymbol]:
    size, fmt, flag = (8, "Q", 1 << 63) if wide else (4, "I", 1 << 31)
    off = img.offset(rva, size)
    # the thunk array runs to a zero entry: unpack it in growing chunks, never past the file
    values: tuple[int, ...] = ()
    chunk = 64
    while True:
        count = min(chunk, (len(img.data) - off) // size - len(values), _MAX_THUNKS - len(values))
        if count <= 0:
            raise InputError(f"{img.path}: corrupt import table (no end to the thunks of {dll})")
        values += struct.unpack_from(f"<{count}{fmt}", img.data, off + len(values) * size)
        if 0 in values:
            values = values[:values.index(0)]
            break
        chunk *= 4
    name_rvas = tuple((v & 0x7FFFFFFF) + 2 for v in values if not v & flag)
    names = iter(_name_reader(img, name_rvas))
    return [ImportedSymbol(dll, None, v & 0xFFFF, delay) if v & flag else ImportedSymbol(dll, next(names), None, delay)
            for v in values]


def _name_reader(img: _Image, rvas: tuple[int, ...]) -> list[str]:
    strings = img.strings_for(rvas)
    return [strings(r) for r in rvas]


def _descriptor_count(size: int, entry: int) -> int:
    """How many descriptors to read at most: the directory's size says, when it is set
    (GNU ld's delay-import directory holds one descriptor and no terminator)."""
    return min(size // entry, _MAX_DESCRIPTORS) if size >= entry else _MAX_DESCRIPTORS


def _imports(img: _Image, rva: int, size: int, wide: bool) -> list[ImportedSymbol]:
    out: list[ImportedSymbol] = []
    for i in range(_descriptor_count(size, 20)):
        original, _, _, name_rva, first = struct.unpack("<IIIII", img.read(rva + 20 * i, 20))
        if not (original or name_rva or first):
            break
        out.extend(_thunks(img, original or first, wide, img.cstring(name_rva), False))
    return out


def _delay_imports(img: _Image, rva: int, size: int, wide: bool, image_base: int) -> list[ImportedSymbol]:
    out: list[ImportedSymbol] = []
    for i in range(_descriptor_count(size, 32)):
        attrs, name_rva, _, _, int_rva, _, _, _ = struct.unpack("<IIIIIIII", img.read(rva + 32 * i, 32))
        if not (name_rva or int_rva):
            break
        if not attrs & 1 and not wide:  # pre-VC7 (32-bit) descriptors hold virtual addresses, not RVAs
            name_rva, int_rva = name_rva - image_base, int_rva - image_base
        out.extend(_thunks(img, int_rva, wide, img.cstring(name_rva), True))
    return out


@contextmanager
def _opened(path: Path) -> Iterator[_Image]:
    """``path`` mapped and its headers read (never blocking on a FIFO): a header or table that runs
    past the file is an ``InputError``, and the mapping is closed afterwards, whatever happened."""
    with open_regular(path) as fh:
        try:
            data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError as exc:  # an empty file cannot be mapped
            raise InputError(f"{path}: not a PE file (empty file)") from exc
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {os_reason(exc)}") from exc
    try:
        yield _Image.open(data, path)
    except struct.error as exc:
        raise InputError(f"{path}: truncated PE file ({exc})") from exc
    finally:
        data.close()


def read_symbol_tables(path: Path | str, *, exports: bool = True) -> SymbolTables:
    """The export table and imported symbol names of one PE file (``exports=False``:
    the imports only, the export table left unread).

    Reads the headers and the three tables only. Raises ``InputError`` for a file
    that is not a PE image or whose tables point outside it.
    """
    path = Path(path)
    with _opened(path) as img:
        wide = img.wide
        export_rva, export_size = img.directory(_DIR_EXPORT)
        export_name, export_list = (_exports(img, export_rva, export_size) if export_rva and exports
                                    else (None, ()))
        imports: list[ImportedSymbol] = []
        import_rva, import_size = img.directory(_DIR_IMPORT)
        if import_rva:
            imports += _imports(img, import_rva, import_size, wide)
        delay_rva, delay_size = img.directory(_DIR_DELAY)
        if delay_rva:
            imports += _delay_imports(img, delay_rva, delay_size, wide, img.image_base)
        return SymbolTables(path, export_name, export_list, tuple(imports))


def read_forwarders(path: Path | str) -> ExportIndex | None:
    """The export index of a PE file that forwards exports to other DLLs, else ``None``: for a DLL
    without forwarders (most) only the export directory's address table is read, not its names."""
    path = Path(path)
    with _opened(path) as img:
        export_rva, export_size = img.directory(_DIR_EXPORT)
        if not export_rva:
            return None
        _, _, functions, _, _ = _export_directory(img, export_rva)
        if not any(export_rva <= address < export_rva + export_size for address in functions):
            return None
        return _export_index(img, export_rva, export_size)


def read_export_index(path: Path | str) -> ExportIndex:
    """The export names and ordinals of one PE file, for symbol lookups: the export
    directory only, no object per export (``openvino.dll``'s 16,000 in about 15 ms)."""
    path = Path(path)
    with _opened(path) as img:
        export_rva, export_size = img.directory(_DIR_EXPORT)
        if not export_rva:
            return ExportIndex(frozenset(), frozenset())
        return _export_index(img, export_rva, export_size)
