"""Shrinking ELF shared objects: strip and UPX, each checked, each kept only when it helps.

The core of ``pack`` for a Linux bundle, one file at a time (``pack`` itself
decides which files, runs them on threads and writes the report):

- ``strip_elf``: GNU ``strip --strip-unneeded`` into a temporary file; the
  result is kept only when it is smaller and still has the same DT_NEEDED,
  SONAME, RPATH and RUNPATH. The official OpenVINO libraries have no symbol
  table and no debug sections: strip finds nothing and even grows them by a
  few kB (section alignment), so they are kept as they are, with that reason.
- ``upx_elf``: UPX on a copy; a refusal is parsed from UPX's output (a pure
  function) and the file stays as it was. UPX 4.2.2 (and 3.94) refuse every
  OpenVINO 2025/2026 library ("CantPackException: DT_GNU_HASH above stub");
  they do pack simple gcc-built libraries, and those load.

LIEF is not needed: strip is binutils' own, and the checks read the dynamic
section with ``npuslim.elf``.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from npuslim.elf import ElfInfo, read_elf
from npuslim.errors import InputError, ToolError
from npuslim.tools import run_tool

_UPX_REFUSAL = re.compile(r"(CantPackException|NotCompressibleException|AlreadyPackedException|"
                          r"UnknownExecutableFormatException|IOException): ?(.*)$", re.MULTILINE)


@dataclass(frozen=True)
class ElfShrink:
    """What one step did to one file: ``outcome`` is ``stripped`` / ``packed`` when the file was
    replaced, else ``kept`` (nothing to gain), ``refused`` (the tool declined) or ``failed``."""

    outcome: str
    size_before: int
    size_after: int
    reason: str

    @property
    def changed(self) -> bool:
        return self.outcome in ("stripped", "packed")


def _linkage(info: ElfInfo) -> tuple:
    return info.imports, info.soname, info.rpath, info.runpath, info.machine


def strip_elf(path: Path, *, strip_tool: str | None = None) -> ElfShrink:
    """Strip ``path`` in place when that makes it smaller and keeps its linkage (module doc)."""
    info = read_elf(path)
    before = info.size
    if not info.has_symtab and not info.has_debug:
        return ElfShrink("kept", before, before, "already stripped: no symbol table, no debug sections")
    tool = strip_tool or shutil.which("strip")
    if tool is None:
        raise ToolError("strip not found (GNU binutils: apt-get install binutils)")
    tmp = path.with_name(f".{path.name}.strip-{os.getpid()}")
    try:
        run = run_tool([tool, "--strip-unneeded", "-o", str(tmp), str(path)])
        if run.returncode != 0 or not tmp.is_file():
            return ElfShrink("failed", before, before, f"strip failed: {run.output.strip()[-300:]}")
        try:
            after = read_elf(tmp)
        except InputError as exc:
            return ElfShrink("failed", before, before, f"strip left an unreadable file: {exc}")
        if _linkage(after) != _linkage(info):
            return ElfShrink("failed", before, before, "strip changed DT_NEEDED, SONAME, RPATH or RUNPATH")
        if after.size >= before:
            return ElfShrink("kept", before, before,
                             f"strip would not make it smaller ({before} -> {after.size} bytes)")
        os.replace(tmp, path)
        return ElfShrink("stripped", before, after.size, "symbol table and debug sections removed")
    finally:
        tmp.unlink(missing_ok=True)


def parse_upx_refusal(output: str) -> str | None:
    """The reason UPX gave for not packing (``CantPackException: DT_GNU_HASH above stub``), or ``None``."""
    m = _UPX_REFUSAL.search(output)
    if m is None:
        return None
    return f"{m.group(1)}: {m.group(2).strip()}".rstrip(": ")


def upx_elf(path: Path, *, upx: str, args: tuple[str, ...] = ()) -> ElfShrink:
    """UPX ``path`` in place when UPX packs it, ``upx -t`` passes and the linkage is unchanged."""
    info = read_elf(path)
    before = info.size
    tmp = path.with_name(f".{path.name}.upx-{os.getpid()}")
    shutil.copyfile(path, tmp)
    mode = path.stat().st_mode & 0o7777
    tmp.chmod(mode | 0o700)  # UPX refuses a file without the execute bit ("try 'chmod +x'")
    try:
        run = run_tool([upx, "-q", *args, str(tmp)])
        refusal = parse_upx_refusal(run.output)
        if run.returncode != 0 or refusal is not None:
            return ElfShrink("refused" if refusal else "failed", before, before,
                             refusal or f"upx exited {run.returncode}: {run.output.strip()[-300:]}")
        test = run_tool([upx, "-q", "-t", str(tmp)])
        if test.returncode != 0:
            return ElfShrink("failed", before, before, f"upx -t failed: {test.output.strip()[-300:]}")
        try:
            after = read_elf(tmp)
        except InputError as exc:
            return ElfShrink("failed", before, before, f"the packed file is unreadable: {exc}")
        if after.imports != info.imports or after.soname != info.soname:
            return ElfShrink("failed", before, before, "the packed file lost its DT_NEEDED or SONAME")
        tmp.chmod(mode)
        os.replace(tmp, path)
        return ElfShrink("packed", before, after.size, f"UPX packed ({before} -> {after.size} bytes)")
    finally:
        tmp.unlink(missing_ok=True)


def symlink_tarinfo(name: str, link_to: str, epoch: int):
    """A reproducible tar member for a bundle link name (``lib/libopenvino_c.so -> libopenvino_c.so.2641``):
    a symlink, not a second copy of the library; same owner, time and mode rules as the archive's files."""
    import tarfile

    if "/" in link_to or link_to in ("", ".", ".."):
        raise InputError(f"{name}: a link name must point to a file of its own folder, not {link_to!r}")
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = link_to
    info.mtime = epoch
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o777
    return info


def symlink_zipinfo(name: str, link_to: str, date_time: tuple[int, int, int, int, int, int]):
    """The zip member for a link name: Info-ZIP's Unix symlink (mode 0o120777, content = the target).
    Returns (ZipInfo, data) for ``ZipFile.writestr``."""
    import zipfile

    if "/" in link_to or link_to in ("", ".", ".."):
        raise InputError(f"{name}: a link name must point to a file of its own folder, not {link_to!r}")
    info = zipfile.ZipInfo(name, date_time=date_time)
    info.create_system = 3
    info.external_attr = 0o120777 << 16
    info.compress_type = zipfile.ZIP_STORED
    return info, link_to.encode()
