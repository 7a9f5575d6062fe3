"""Reproducible archives of a bundle: sorted entries, fixed timestamps, normalised modes.

The same files archived twice give byte-identical archives. Timestamps are
``SOURCE_DATE_EPOCH`` when set, else 1980-01-01 (the earliest a zip can hold).

Each member is compressed on its own (in parallel, and looked up in the pack
cache by its content), and the archive is then assembled from the pieces:

- zip: each entry is a raw deflate stream (level ``ZIP_LEVEL``) with the
  usual local headers and central directory (no zip64: archives stay under
  4 GiB);
- tar.xz, solid (the default: the smallest download): the whole tar is one
  xz stream, x86 BCJ filter then LZMA2 preset 9e (``xz --x86 -9e``), the
  members in ``solid_order`` so that files with much in common lie within one
  dictionary. The dictionary is at most ``SOLID_DICT``, 7 MiB: ~85 MB of
  encoder memory (xz -9's 64 MiB takes 674 MB), so that ``pack`` stays under
  150 MB. On the 2026.4.1 bundle, against ``xz --x86 --lzma2=preset=9e`` of
  the sorted tar (5.52 MB): 6 MiB 1.033x, 7 MiB 1.024x, 8 MiB 1.020x (and
  154 MB), 16 MiB 1.005x (~240 MB). The stream is written by one thread once
  every member is known; the finished archive is
  cached under the key of all its members. The per-member figures are the
  stream's growth while each member went in (approximate: LZMA2 writes its
  output a chunk at a time);
- tar.xz, per member (``solid=False``): each tar entry (header, data, padding)
  is its own xz stream (BCJ for a PE or ELF file), compressed in parallel and
  cached member by member, the streams concatenated, which the xz format
  allows. The size of a file's stream is then its download size. On the
  2026.4.1 bundle the solid stream is ~7 % smaller.

Both read back with ``tar -xJf``, ``xz -d`` and Python's ``tarfile``.

Link names of a Linux bundle are symlinks in both formats (tar: a symlink
entry; zip: Info-ZIP's Unix symlink, mode 0o120777, whose data is the target).
"""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import shutil
import struct
import tarfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from npuslim.act.pack_elf import ZIP_SYMLINK_MODE, check_link_target, symlink_tarinfo
from npuslim.act.workcache import CacheEntry, WorkCache, make_key, sha256_path
from npuslim.errors import OutputError
from npuslim.layout import ARCHIVE_FORMATS
from npuslim.waiting import results

XZ_PRESET = 9
XZ_ARCHIVE_PRESET = 9 | lzma.PRESET_EXTREME
SOLID_DICT = 7 << 20  # see the module docstring: the size and memory of each choice
_EXECUTABLE_MAGIC = (b"MZ", b"\x7fELF")
ZIP_LEVEL = 6  # zip's own default: 0.3 % larger than 9 on the 2026.4.1 DLLs, 40 % faster
_ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z
_CHUNK = 1 << 20
_ZIP_LIMIT = 0xFFFFFFFF


@dataclass(frozen=True)
class Member:
    """One file to archive: its path in the bundle, where to read it, and its sha256.

    A link name (``link_to`` set: a Linux bundle's ``lib/libopenvino.so``) is
    stored as a symlink to ``link_to``, never as a second copy of its target;
    its ``sha256`` and ``size`` are those of the link text, as in the manifest.
    """

    rel: str
    path: Path
    sha256: str
    size: int
    link_to: str | None = None


@dataclass(frozen=True)
class ArchiveResult:
    path: Path
    format: str
    size: int
    member_sizes: dict[str, int]  # compressed bytes per member (tar.xz: its whole xz stream)


@dataclass(frozen=True)
class _Piece:
    rel: str
    data_path: Path      # the compressed stream
    compressed: int
    crc: int


def archive_epoch() -> int:
    value = os.environ.get("SOURCE_DATE_EPOCH", "")
    return max(int(value), _ZIP_EPOCH) if value.isdigit() and len(value) < 12 else _ZIP_EPOCH


def _dict_size(size: int) -> int:
    # xz -9 reserves a 64 MiB dictionary; no match can reach further back than
    # the data itself, so a dictionary the size of the input compresses the same
    # with a fraction of the memory.
    dict_size = 1 << 16
    while dict_size < size and dict_size < (64 << 20):
        dict_size <<= 1
    return dict_size


def xz_filters(size: int, *, executable: bool = False, preset: int = XZ_PRESET,
               max_dict: int = 64 << 20) -> list[dict[str, int]]:
    """LZMA2 at ``preset`` with a dictionary fitted to ``size`` bytes (at most ``max_dict``), after
    the x86 BCJ filter when ``executable`` (it turns relative call and jump targets into absolute
    ones, which repeat: ~12 % smaller PE and ELF files)."""
    lzma2 = {"id": lzma.FILTER_LZMA2, "preset": preset, "dict_size": min(_dict_size(size), max_dict)}
    return [{"id": lzma.FILTER_X86}, lzma2] if executable else [lzma2]


def is_executable(path: Path) -> bool:
    """Whether ``path`` starts like a PE or ELF file (and so gains from the x86 BCJ filter)."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    return head.startswith(_EXECUTABLE_MAGIC)


def _chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            yield chunk


def _member_data(member: Member) -> Iterator[bytes]:
    """What the archive stores as the member's data: the file, or a link's target name."""
    if member.link_to is not None:
        yield member.link_to.encode("utf-8")
    else:
        yield from _chunks(member.path)


def xz_size(path: Path, size: int | None = None) -> int:
    """Bytes of ``path`` compressed on its own with xz -9 (streamed, dictionary fitted to the file)."""
    comp = lzma.LZMACompressor(format=lzma.FORMAT_XZ, filters=xz_filters(size or path.stat().st_size))
    total = 0
    for chunk in _chunks(path):
        total += len(comp.compress(chunk))
    return total + len(comp.flush())


class Cancelled(Exception):
    """The archive was given up (Ctrl-C): compression stops at the next chunk."""


def _compress_to(dest: Path, pieces: Iterator[bytes], compress: Callable[[bytes], bytes],
                 flush: Callable[[], bytes], cancel: threading.Event | None) -> tuple[int, int]:
    """Write the compressed ``pieces`` to ``dest``; returns (compressed bytes, crc32 of the input)."""
    crc, written = 0, 0
    with open(dest, "wb") as out:
        for piece in pieces:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            crc = zlib.crc32(piece, crc)
            data = compress(piece)
            out.write(data)
            written += len(data)
        data = flush()
        out.write(data)
        written += len(data)
    return written, crc


@dataclass(frozen=True)
class MemberEntry(CacheEntry):
    """A compressed archive member, as the pack cache keeps it: its blob, compressed size and CRC-32."""

    blob: str
    compressed: int
    crc: int


def _compressed_piece(member: Member, kind: str, header: bytes, work: Path, cache: WorkCache,
                      cancel: threading.Event | None = None) -> _Piece:
    """``member`` compressed as ``kind`` (deflate, or an xz stream of header + data + padding), from the
    cache when it holds it."""
    key = make_key("archive-member", kind, ZIP_LEVEL if kind == "deflate" else XZ_ARCHIVE_PRESET, "bcj",
                   hashlib.sha256(header).hexdigest(), member.sha256)
    found = cache.load(key, MemberEntry)
    if found is not None and found[1] is not None and _entry_fits(found[0], found[1], member, kind, header):
        return _Piece(member.rel, found[1], found[0].compressed, found[0].crc)
    tmp = work / f"{key}.part"
    if kind == "deflate":
        comp = zlib.compressobj(ZIP_LEVEL, zlib.DEFLATED, -15)
        written, crc = _compress_to(tmp, _member_data(member), comp.compress, comp.flush, cancel)
    else:
        xz = lzma.LZMACompressor(format=lzma.FORMAT_XZ, filters=xz_filters(
            member.size + len(header), executable=member.link_to is None and is_executable(member.path),
            preset=XZ_ARCHIVE_PRESET))
        written, crc = _compress_to(tmp, _tar_pieces(member, header), xz.compress, xz.flush, cancel)
    if cache.enabled:
        sha = sha256_path(tmp)
        cache.put_blob_file(tmp, sha)
        cache.store(key, MemberEntry(sha, written, crc))
        blob = cache.blob_path(sha)
        if blob is not None:
            tmp.unlink()
            return _Piece(member.rel, blob, written, crc)
    return _Piece(member.rel, tmp, written, crc)


def _tar_pieces(member: Member, header: bytes) -> Iterator[bytes]:
    """A tar entry: header, data, padding (a symlink is its header alone)."""
    yield header
    if member.link_to is None:
        yield from _chunks(member.path)
        yield bytes(-member.size % tarfile.BLOCKSIZE)


def _entry_fits(entry: MemberEntry, blob: Path, member: Member, kind: str, header: bytes) -> bool:
    """Whether a cached member entry is the member: its blob (already checked against its name) has the
    recorded compressed size, and the recorded CRC-32 is that of the member's bytes, recomputed (cheap,
    and a zip reader checks it). Anything else is a miss, and the entry is replaced."""
    try:
        if blob.stat().st_size != entry.compressed:
            return False
        crc = 0
        for piece in (_member_data(member) if kind == "deflate" else _tar_pieces(member, header)):
            crc = zlib.crc32(piece, crc)
    except OSError:
        return False
    return crc == entry.crc


def _tarinfo(name: str, epoch: int, *, directory: bool, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = epoch
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if directory:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    else:
        info.mode = 0o644
        info.size = size
    return info


def _tar_header(info: tarfile.TarInfo) -> bytes:
    return info.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape")


def _parents(rel: str) -> list[str]:
    parts = rel.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _copy_into(out: BinaryIO, path: Path) -> None:
    for chunk in _chunks(path):
        out.write(chunk)


class Archiver:
    """An archive built while the files are still being made: ``add`` starts compressing a member
    on ``pool`` at once, ``finish`` waits for all and writes ``dest``.

    ``work`` is a scratch folder for compressed pieces the cache does not keep.
    """

    def __init__(self, fmt: str, *, top: str, work: Path, cache: WorkCache, pool: Executor,
                 cancel: threading.Event | None = None, solid: bool = True) -> None:
        if fmt not in ARCHIVE_FORMATS:
            raise ValueError(f"archive format must be zip or tar.xz, not {fmt!r}")
        self.fmt, self.top, self.work, self.cache, self.pool = fmt, top, work, cache, pool
        self.stop = cancel
        self.solid = solid and fmt == "tar.xz"
        self._lock = threading.Lock()
        self.epoch = archive_epoch()
        self._pending: dict[str, tuple[Member, Future[_Piece]]] = {}
        self._solid: dict[str, tuple[Member, bytes]] = {}

    def add(self, member: Member) -> None:
        name = f"{self.top}/{member.rel}"
        if member.link_to is not None:
            check_link_target(member.rel, member.link_to)
        if self.fmt == "zip":
            header = b""
        elif member.link_to is not None:
            header = _tar_header(symlink_tarinfo(name, member.link_to, self.epoch))
        else:
            header = _tar_header(_tarinfo(name, self.epoch, directory=False, size=member.size))
        if self.solid:
            with self._lock:
                self._solid[member.rel] = (member, header)
            return
        kind = "deflate" if self.fmt == "zip" else "tar.xz"
        future = self.pool.submit(_compressed_piece, member, kind, header, self.work, self.cache, self.stop)
        with self._lock:
            self._pending[member.rel] = (member, future)

    def finish(self, dest: Path) -> ArchiveResult:
        """Write the archive of every added member (sorted by path; solid: ``solid_order``) to ``dest``."""
        if self.solid:
            return _write_solid(dest, self.top, self.epoch, list(self._solid.values()), self.cache, self.stop)
        members = [self._pending[rel][0] for rel in sorted(self._pending)]
        pieces = results([self._pending[rel][1] for rel in sorted(self._pending)])
        if self.fmt == "zip":
            size = _assemble_zip(dest, self.top, self.epoch, members, pieces)
        else:
            top, epoch = self.top, self.epoch
            head = _directory_headers(top, epoch, members)
            with open(dest, "wb") as out:
                out.write(lzma.compress(head, format=lzma.FORMAT_XZ, filters=xz_filters(len(head))))
                for piece in pieces:
                    _copy_into(out, piece.data_path)
                out.write(lzma.compress(bytes(2 * tarfile.BLOCKSIZE), format=lzma.FORMAT_XZ,
                                        filters=xz_filters(1)))
            size = dest.stat().st_size
        return ArchiveResult(dest, self.fmt, size, {p.rel: p.compressed for p in pieces})


def _directory_headers(top: str, epoch: int, members: list[Member]) -> bytes:
    """The tar headers of ``top`` and of every folder above a member, parents first."""
    dirs = sorted({p for m in members for p in _parents(str(Path(m.rel).parent)) if p != "."})
    return _tar_header(_tarinfo(top, epoch, directory=True)) + b"".join(
        _tar_header(_tarinfo(f"{top}/{d}", epoch, directory=True)) for d in dirs)


def _stem(rel: str) -> str:
    return rel.rsplit("/", 1)[-1].split(".", 1)[0].lower()


def solid_order(members: list[Member]) -> list[Member]:
    """The order of a solid stream: what is not a program first (by path), then each program (PE
    or ELF) with the files of its stem (``openvino.lib`` after ``openvino.dll``, link names after
    their target), the smallest program first. With a small dictionary this keeps the NPU plugin
    next to ``openvino.dll`` (they share code) and the import library next to the DLL whose
    export names it repeats: with 8 MiB, 2.0 % above ``xz --x86 -9e`` of the sorted tar on the
    2026.4.1 bundle, where the sorted order is 3.5 % above and the plugin after the import
    library 4.2 %."""
    program_size: dict[str, int] = {}
    for m in members:
        if m.link_to is None and is_executable(m.path):
            program_size[_stem(m.rel)] = max(program_size.get(_stem(m.rel), 0), m.size)

    def key(m: Member) -> tuple[int, int, str, bool, str]:
        stem = _stem(m.rel)
        if stem not in program_size:
            return 0, 0, "", False, m.rel
        return 1, program_size[stem], stem, m.link_to is not None or not is_executable(m.path), m.rel

    keys = {m.rel: key(m) for m in members}
    return sorted(members, key=lambda m: keys[m.rel])


@dataclass(frozen=True)
class SolidEntry(CacheEntry):
    """A whole solid tar.xz, as the pack cache keeps it: its blob and the per-member figures."""

    blob: str
    member_sizes: str   # JSON: {path in the bundle: bytes}


def _write_solid(dest: Path, top: str, epoch: int, added: list[tuple[Member, bytes]],
                 cache: WorkCache, cancel: threading.Event | None) -> ArchiveResult:
    """The tar of ``added`` (member, its tar header) as one xz stream (see the module docstring)."""
    headers = {m.rel: h for m, h in added}
    members = solid_order([m for m, _ in added])
    added = [(m, headers[m.rel]) for m in members]
    head = _directory_headers(top, epoch, members)
    total = len(head) + sum(len(h) + (0 if m.link_to else m.size + (-m.size % tarfile.BLOCKSIZE))
                            for m, h in added) + 2 * tarfile.BLOCKSIZE
    filters = xz_filters(total, executable=True, preset=XZ_ARCHIVE_PRESET, max_dict=SOLID_DICT)
    key = make_key("archive-solid", repr(filters), hashlib.sha256(head).hexdigest(),
                   *(f"{hashlib.sha256(h).hexdigest()}:{m.sha256}" for m, h in added))
    found = cache.load(key, SolidEntry)
    if found is not None and found[1] is not None:
        shutil.copyfile(found[1], dest)
        if sha256_path(dest) == found[0].blob:  # the bytes shipped are the bytes hashed, never only a name
            return ArchiveResult(dest, "tar.xz", dest.stat().st_size, json.loads(found[0].member_sizes))
    xz = lzma.LZMACompressor(format=lzma.FORMAT_XZ, filters=filters)
    sizes: dict[str, int] = {}
    with open(dest, "wb") as out:
        out.write(xz.compress(head))
        for member, header in added:
            written = out.tell()
            pad = b"" if member.link_to is not None else bytes(-member.size % tarfile.BLOCKSIZE)
            for piece in (header, *([] if member.link_to is not None else _chunks(member.path)), pad):
                if cancel is not None and cancel.is_set():
                    raise Cancelled()
                out.write(xz.compress(piece))
            sizes[member.rel] = out.tell() - written
        out.write(xz.compress(bytes(2 * tarfile.BLOCKSIZE)))
        out.write(xz.flush())
    if cache.enabled:
        sha = sha256_path(dest)
        cache.put_blob_file(dest, sha)
        cache.store(key, SolidEntry(sha, json.dumps(sizes, sort_keys=True)))
    return ArchiveResult(dest, "tar.xz", dest.stat().st_size, sizes)


def write_archive(members: list[Member], fmt: str, dest: Path, *, top: str, work: Path, cache: WorkCache,
                  pool: Executor, solid: bool = True) -> ArchiveResult:
    """Write ``members`` under a top folder ``top`` into ``dest`` (which the caller renames into place)."""
    archiver = Archiver(fmt, top=top, work=work, cache=cache, pool=pool, solid=solid)
    # the largest members first, so that the last one to finish is a small one
    for member in sorted(members, key=lambda m: -m.size):
        archiver.add(member)
    return archiver.finish(dest)


def _dos_time(epoch: int) -> tuple[int, int]:
    t = time.gmtime(epoch)
    dos_time = (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2)
    return dos_time, ((t.tm_year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday


def _assemble_zip(dest: Path, top: str, epoch: int, members: list[Member], pieces: list[_Piece]) -> int:
    dos_time, dos_date = _dos_time(epoch)
    central = []
    offset = 0
    with open(dest, "wb") as out:
        for member, piece in zip(members, pieces, strict=True):
            name = f"{top}/{member.rel}"
            raw = name.encode("utf-8")
            flags = 0 if name.isascii() else 0x800
            if max(member.size, piece.compressed, offset) >= _ZIP_LIMIT:
                raise OutputError(f"{dest}: a zip over 4 GiB is not written; use --archive tar.xz")
            local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, 8, dos_time, dos_date, piece.crc,
                                piece.compressed, member.size, len(raw), 0)
            out.write(local + raw)
            _copy_into(out, piece.data_path)
            mode = ZIP_SYMLINK_MODE if member.link_to is not None else 0o100644
            central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, (3 << 8) | 20, 20, flags, 8, dos_time,
                                       dos_date, piece.crc, piece.compressed, member.size, len(raw), 0, 0, 0, 0,
                                       mode << 16, offset) + raw)
            offset += len(local) + len(raw) + piece.compressed
        directory = b"".join(central)
        if offset + len(directory) >= _ZIP_LIMIT:
            raise OutputError(f"{dest}: a zip over 4 GiB is not written; use --archive tar.xz")
        out.write(directory)
        out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), len(directory), offset, 0))
    return offset + len(directory) + 22


def is_npuslim_archive(path: Path) -> bool:
    """Whether ``path`` is a zip or tar.xz that holds a lock file under its top folder
    (an archive npuslim wrote, which a rerun may replace)."""
    import zipfile

    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                return any(n.count("/") == 1 and n.endswith("/npuslim-bundle.json") for n in zf.namelist())
        with tarfile.open(path, "r:xz") as tf:
            return any(m.name.count("/") == 1 and m.name.endswith("/npuslim-bundle.json") for m in tf)
    except (OSError, tarfile.TarError, lzma.LZMAError, EOFError, ValueError):
        return False
