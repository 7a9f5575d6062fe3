"""The members of a wheel that npuslim's install unpack leaves out, read or unpacked on their own.

``wheel_listing`` lists every member of a wheel (name, size) and reads small
text members (the Python sources, METADATA); ``unpack_members`` unpacks a few
named binary members (the Python extension modules, which a Windows install
unpack skips) into npuslim's cache, in their wheel folders, and reuses them
on the next run. Nothing here decides what a slim wheel keeps.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from npuslim.errors import InputError, OutputError, os_reason
from npuslim.paths import cache_dir, join_inside, open_regular, relative_path

# A Python source or dist-info text larger than this is not read (an OpenVINO one is at most ~100 KB).
MAX_TEXT_MEMBER = 8 << 20


@dataclass(frozen=True)
class WheelMember:
    """One file of a wheel: its path inside the wheel and its uncompressed size."""

    name: str
    size: int


def _open(wheel: Path) -> zipfile.ZipFile:
    fh = open_regular(wheel)
    try:
        return zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        fh.close()
        raise InputError(f"{wheel}: not a readable wheel ({exc})") from exc


def wheel_listing(wheel: Path) -> tuple[WheelMember, ...]:
    """Every file of ``wheel`` (no folder entries), in the wheel's order; names checked to stay inside."""
    with _open(wheel) as zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
    for member in members:
        if relative_path(member.filename, what=f"{wheel}: entry") != member.filename:
            raise InputError(f"{wheel}: entry {member.filename[:120]!r} is not a plain relative path")
    return tuple(WheelMember(m.filename, m.file_size) for m in members)


def read_texts(wheel: Path, names: tuple[str, ...]) -> dict[str, str]:
    """The UTF-8 text of the members ``names`` of ``wheel`` (each at most ``MAX_TEXT_MEMBER`` bytes)."""
    texts: dict[str, str] = {}
    with _open(wheel) as zf:
        for name in names:
            info = zf.getinfo(name)
            if info.file_size > MAX_TEXT_MEMBER:
                raise InputError(f"{wheel}: {name} is {info.file_size} bytes, too large for a text file")
            try:
                texts[name] = zf.read(info).decode("utf-8")
            except (zipfile.BadZipFile, UnicodeDecodeError, OSError, ValueError) as exc:
                raise InputError(f"{wheel}: {name} cannot be read as text ({exc})") from exc
    return texts


def unpack_members(wheel: Path, names: tuple[str, ...]) -> Path:
    """Unpack ``names`` of ``wheel`` into a cache folder (each at its wheel path) and return the folder.

    The folder is keyed by the wheel (name, size, modification time) and the names, filled in a
    staging folder and renamed into place; a second run reuses it.
    """
    st = wheel.stat()
    key = hashlib.sha256(f"{wheel.name}:{st.st_size}:{st.st_mtime_ns}:{sorted(names)}".encode()).hexdigest()[:16]
    parent = cache_dir() / "wheel-members"
    target = parent / f"{wheel.stem[:120]}-{key}"
    if target.is_dir():
        return target
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=parent))
    except OSError as exc:
        raise OutputError(f"{parent}: cannot write into npuslim's cache: {os_reason(exc)}") from exc
    try:
        _unpack_into(wheel, names, staging)
        try:
            os.replace(staging, target)
        except OSError as exc:
            if not target.is_dir():
                raise OutputError(f"{target}: cannot write into npuslim's cache: {os_reason(exc)}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _unpack_into(wheel: Path, names: tuple[str, ...], staging: Path) -> None:
    with _open(wheel) as zf:
        for name in names:
            dest = join_inside(staging, name, what=f"{wheel}: entry")
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(name) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
            except (zipfile.BadZipFile, KeyError, ValueError) as exc:
                raise InputError(f"{wheel}: entry {name!r} cannot be read ({exc})") from exc
            except OSError as exc:
                raise OutputError(f"{dest}: cannot write into npuslim's cache: {os_reason(exc)}") from exc
