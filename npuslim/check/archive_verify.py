"""Checking a packed bundle's archive (``OUT.zip`` / ``OUT.tar.xz``, written by ``pack --archive``)
against the bundle's lock file, member by member.

The archive holds, under one top folder, every file of the lock file (a Linux link name as a
symlink whose target is the link text), the lock file itself and the SBOM when there is one;
never the size reports (written after it). Each member's size and sha256 must be those of the
lock file (the lock file and the SBOM: those of the bundle's own copies). Each thing wrong is
one ``Problem``: a member missing, extra or changed, a damaged member (a zip's CRC, a broken
deflate or xz stream), an archive that cannot be read at all. Problems are collected, never
raised; only an archive named on the command line that does not exist is an ``InputError``.
"""

from __future__ import annotations

import hashlib
import lzma
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from npuslim.check.problem import Problem
from npuslim.errors import InputError
from npuslim.formats.lock import BundleLock
from npuslim.layout import ARCHIVE_FORMATS, LOCK_FILE, SBOM_FILE, archive_name
from npuslim.paths import sha256_file

_CHUNK = 1 << 20
# xz data goes to the decoder this much at a time: what decodes before a damage is read (a solid
# tar.xz is one stream, whose decoder keeps nothing of a call that fails)
_XZ_FEED = 1 << 9
# What reading a damaged archive raises: zip (bad CRC, bad header), deflate, xz, tar, a short file.
_DAMAGE = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, tarfile.TarError, EOFError, OSError, ValueError)


@dataclass(frozen=True)
class ArchiveCheck:
    """The archive that was checked, its format and how many of its members matched the lock file."""

    path: Path
    format: str
    members_checked: int


@dataclass(frozen=True)
class _Expected:
    size: int
    sha256: str
    link: bool


@dataclass(frozen=True)
class _Seen:
    name: str          # below the top folder
    size: int
    sha256: str
    link: bool


def find_archive(bundle: Path, lock: BundleLock, given: Path | None) -> tuple[Path, str] | None:
    """The archive to check and its format: ``given`` (``verify --archive``), else the one ``pack``
    wrote beside the bundle as its lock file records (``packed.options.archive``) when it is there."""
    if given is not None:
        if not given.is_file():
            raise InputError(f"{given}: no such archive")
        name = given.name.lower()
        fmt = "tar.xz" if name.endswith((".tar.xz", ".txz")) else "zip" if name.endswith(".zip") else None
        return given, fmt or ("zip" if zipfile.is_zipfile(given) else "tar.xz")
    fmt = lock.packed.options.archive if lock.packed is not None else None
    if fmt not in ARCHIVE_FORMATS:
        return None
    beside = archive_name(bundle.absolute(), str(fmt))
    return (beside, str(fmt)) if beside.is_file() else None


def expected_members(bundle: Path, lock: BundleLock) -> dict[str, _Expected]:
    """Every member the archive must hold, by its path below the top folder."""
    wanted = {f.path: _Expected(f.size, f.sha256, f.link_to is not None) for f in lock.files}
    for extra in (LOCK_FILE, SBOM_FILE):
        path = bundle / extra
        if path.is_file() and not path.is_symlink():
            wanted[extra] = _Expected(path.stat().st_size, sha256_file(path), False)
    return wanted


def _digest(stream: IO[bytes]) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def _text(data: bytes) -> _Seen:
    return _Seen("", len(data), hashlib.sha256(data).hexdigest(), True)


class _Broken(Exception):
    """Reading the archive failed: at member ``name`` ("" before the first one), or after it."""

    def __init__(self, name: str, cause: BaseException, *, after: bool = False) -> None:
        super().__init__(name)
        self.name, self.cause, self.after = name, cause, after


def _zip_members(path: Path) -> Iterator[tuple[str, _Seen | Exception | None]]:
    """(name, what it holds) per zip entry; a directory entry holds nothing (None), a damaged member
    is the error reading it (the others are still read: each has its own place and CRC)."""
    try:
        zf = zipfile.ZipFile(path)
    except _DAMAGE as exc:
        raise _Broken("", exc) from exc
    with zf:
        for info in zf.infolist():
            if info.is_dir():
                yield info.filename, None
                continue
            try:
                with zf.open(info) as member:
                    if stat.S_ISLNK(info.external_attr >> 16):
                        seen = _text(member.read())
                    else:
                        size, sha = _digest(member)
                        seen = _Seen("", size, sha, False)
            except _DAMAGE as exc:
                yield info.filename, exc
                continue
            yield info.filename, seen


class _XzStreams:
    """The data of concatenated xz streams (a tar.xz of npuslim's: one, or one per member), read
    strictly: ``lzma.LZMAFile`` takes a stream whose header is damaged for trailing garbage and
    ends there without a word; here it is an ``LZMAError``, and data that ends inside a stream an
    ``EOFError``."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.dec: lzma.LZMADecompressor | None = None   # None: between two streams
        self.rest = b""
        self.out = bytearray()
        self.failed: Exception | None = None

    def read(self, size: int = -1) -> bytes:
        if self.failed is not None and not self.out:
            raise self.failed
        try:
            while self.failed is None and (size < 0 or len(self.out) < size) and self._fill():
                pass
        except (lzma.LZMAError, EOFError) as exc:  # what decoded before the damage is read first
            if not self.out:
                raise
            self.failed = exc
        n = len(self.out) if size < 0 else min(size, len(self.out))
        data = bytes(self.out[:n])
        del self.out[:n]
        return data

    def _fill(self) -> bool:
        data = self.rest or self.raw.read(_XZ_FEED)
        self.rest = b""
        if not data:
            if self.dec is not None:
                raise EOFError("the file ends inside an xz stream")
            return False
        if self.dec is None:
            data = data.lstrip(b"\0")   # stream padding
            if not data:
                return True
            self.dec = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
        self.out += self.dec.decompress(data)
        if self.dec.eof:
            self.rest, self.dec = self.dec.unused_data, None
        return True


def _tar_members(path: Path) -> Iterator[tuple[str, _Seen | Exception | None]]:
    """(name, what it holds) per tar entry, in order; a directory holds nothing (None).

    tarfile takes a header it cannot parse (after the first) for the end of the archive: once the
    entries end, the rest of the xz data is read to its end, so that a damage there is seen."""
    with open(path, "rb") as raw:
        xz = _XzStreams(raw)
        try:
            tf = tarfile.open(fileobj=xz, mode="r|")  # type: ignore[call-overload]  # noqa: SIM115 - with below
        except _DAMAGE as exc:
            raise _Broken("", exc) from exc
        name = ""
        while True:
            try:
                info = tf.next()
                if info is None:
                    while xz.read(_CHUNK):
                        pass
                    return
            except _DAMAGE as exc:
                raise _Broken(name, exc, after=True) from exc
            name = info.name
            try:
                entry = _tar_entry(tf, info)
            except _DAMAGE as exc:
                raise _Broken(name, exc) from exc
            yield name, entry


def _tar_entry(tf: tarfile.TarFile, info: tarfile.TarInfo) -> _Seen | None:
    if info.isdir():
        return None
    if info.issym():
        return _text(info.linkname.encode("utf-8"))
    stream = tf.extractfile(info) if info.isfile() else None
    if stream is None:  # a device, a hard link: never written by pack
        return _Seen("", info.size, "", False)
    size, sha = _digest(stream)
    return _Seen("", size, sha, False)


def _compare(label: str, name: str, seen: _Seen, want: _Expected | None) -> Problem | None:
    where = f"{label}:{name}"
    if want is None:
        return Problem(where, "archive-extra", f"{where}: in the archive but not in the lock file")
    if seen.link != want.link:
        what = "a symbolic link" if seen.link else "a regular file"
        return Problem(where, "archive-changed", f"{where}: {what} in the archive, not in the lock file")
    if seen.size != want.size:
        return Problem(where, "archive-changed", f"{where}: {seen.size} bytes, the lock file says {want.size}")
    if seen.sha256 != want.sha256:
        return Problem(where, "archive-changed", f"{where}: sha256 differs from the lock file")
    return None


def check_archive(bundle: Path, lock: BundleLock, archive: Path, fmt: str,
                  problems: list[Problem]) -> ArchiveCheck:
    """Check ``archive`` against ``lock`` (see the module docstring); problems go to ``problems``.

    Every member sits below one top folder (the first member's); a folder entry is fine where
    the lock file has files below it."""
    label = archive.name
    wanted = expected_members(bundle, lock)
    folders = {"/".join(p.split("/")[: i + 1]) for p in wanted for i in range(p.count("/"))}
    found: set[str] = set()
    checked = 0
    top: str | None = None
    try:
        for full, seen in (_zip_members(archive) if fmt == "zip" else _tar_members(archive)):
            head, _, rest = full.rstrip("/").partition("/")
            top = head if top is None else top
            name = rest if head == top and rest else full
            if seen is None and (name == top or name in folders):
                continue
            found.add(name)
            if isinstance(seen, Exception):
                problems.append(_damaged(label, fmt, _Broken(full, seen), top))
                continue
            problem = _compare(label, name, seen or _Seen("", 0, "", False), wanted.get(name))
            if problem is None:
                checked += 1
            else:
                problems.append(problem)
    except _Broken as broken:
        problems.append(_damaged(label, fmt, broken, top))
        return ArchiveCheck(archive, fmt, checked)
    problems.extend(Problem(f"{label}:{name}", "archive-missing", f"{label}:{name}: in the lock file but not in "
                            "the archive") for name in sorted(set(wanted) - found))
    return ArchiveCheck(archive, fmt, checked)


def _damaged(label: str, fmt: str, broken: _Broken, top: str | None) -> Problem:
    why = str(broken.cause).strip() or type(broken.cause).__name__
    if not broken.name and not broken.after:
        return Problem(label, "archive-unreadable", f"{label}: not a readable {fmt} archive ({why})")
    name = broken.name.partition("/")[2] if top and broken.name.startswith(f"{top}/") else broken.name
    if fmt == "zip":
        return Problem(f"{label}:{name}", "archive-damaged", f"{label}:{name}: damaged ({why})")
    where = f"after {name}" if broken.after and name else f"from {name} on" if name else "from its start"
    return Problem(label, "archive-damaged", f"{label}: damaged, unreadable {where} ({why})")
