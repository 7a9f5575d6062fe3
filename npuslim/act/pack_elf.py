"""Shrinking ELF shared objects: strip and UPX, each checked, each kept only when it helps.

The core of ``pack`` for a Linux bundle, one file at a time (``pack`` itself
decides which files, runs them on threads and writes the report):

- ``strip_elf``: GNU ``strip --strip-unneeded`` into a temporary file; the
  result is kept only when it is smaller and still has the same DT_NEEDED,
  SONAME, RPATH and RUNPATH. The official OpenVINO libraries have no symbol
  table and no debug sections: strip finds nothing and even grows them by a
  few kB (section alignment), so they are kept as they are, with that reason.
- ``upx_elf``: UPX on a copy (through ``npuslim.act.upx``: time limit, Ctrl-C,
  ``parse_pack``); a refusal is UPX's own message and the file stays as it
  was. UPX 4.2.2 (and 3.94) refuse every OpenVINO 2025/2026 library
  ("CantPackException: DT_GNU_HASH above stub"); they do pack gcc-built
  libraries, and most of those load.
- ``dlopen_problem``: loads a packed file for real, since some UPX output
  passes ``upx -t`` and still crashes in the loader.
- ``symlink_tarinfo``: the tar entry of a link name (``npuslim.act.archive``).

LIEF is not needed: strip is binutils' own, and the checks read the dynamic
section with ``npuslim.formats.elf`` (whose ``elf_image_size`` the report uses for a packed file).
"""

from __future__ import annotations

import os
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

from npuslim.act.upx import DECLINED, DEFAULT_TIMEOUT, INTERRUPTED, UpxTool, pack_file
from npuslim.errors import InputError, ToolError
from npuslim.formats.elf import ElfInfo, read_elf
from npuslim.layout import StrEnum
from npuslim.tools import run_tool

# the link entry of a zip: Info-ZIP's Unix symlink (the member's data is the target)
ZIP_SYMLINK_MODE = 0o120777


class Shrink(StrEnum):
    """The outcome of one strip or UPX step on one shared object (``ElfShrink.outcome``)."""

    STRIPPED = "stripped"
    PACKED = "packed"
    KEPT = "kept"            # nothing to gain
    REFUSED = "refused"      # the tool declined
    TIMED_OUT = "timed-out"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass(frozen=True)
class ElfShrink:
    """What one step did to one file: ``outcome`` is ``stripped`` / ``packed`` when the file was
    replaced, else ``kept`` (nothing to gain), ``refused`` (the tool declined), ``timed-out``,
    ``stopped`` or ``failed``."""

    outcome: Shrink
    size_before: int
    size_after: int
    reason: str

    @property
    def changed(self) -> bool:
        return self.outcome in (Shrink.STRIPPED, Shrink.PACKED)


def _linkage(info: ElfInfo) -> tuple:
    return info.imports, info.soname, info.rpath, info.runpath, info.machine


def strip_elf(path: Path, *, strip_tool: str | None = None) -> ElfShrink:
    """Strip ``path`` in place when that makes it smaller and keeps its linkage (module doc)."""
    info = read_elf(path)
    before = info.size
    if not info.has_symtab and not info.has_debug:
        return ElfShrink(Shrink.KEPT, before, before, "already stripped: no symbol table, no debug sections")
    tool = strip_tool or shutil.which("strip")
    if tool is None:
        raise ToolError("strip not found (GNU binutils: apt-get install binutils)")
    tmp = path.with_name(f".{path.name}.strip-{os.getpid()}")
    try:
        run = run_tool([tool, "--strip-unneeded", "-o", str(tmp), str(path)])
        if run.returncode != 0 or not tmp.is_file():
            return ElfShrink(Shrink.FAILED, before, before, f"strip failed: {run.output.strip()[-300:]}")
        try:
            after = read_elf(tmp)
        except InputError as exc:
            return ElfShrink(Shrink.FAILED, before, before, f"strip left an unreadable file: {exc}")
        if _linkage(after) != _linkage(info):
            return ElfShrink(Shrink.FAILED, before, before, "strip changed DT_NEEDED, SONAME, RPATH or RUNPATH")
        if after.size >= before:
            return ElfShrink(Shrink.KEPT, before, before,
                             f"strip would not make it smaller ({before} -> {after.size} bytes)")
        os.replace(tmp, path)
        return ElfShrink(Shrink.STRIPPED, before, after.size, "symbol table and debug sections removed")
    finally:
        tmp.unlink(missing_ok=True)


def upx_elf(path: Path, *, upx: UpxTool | str, level: str | None = None,
            timeout: float = DEFAULT_TIMEOUT) -> ElfShrink:
    """UPX ``path`` in place when UPX packs it, ``upx -t`` passes and the linkage is unchanged.

    UPX runs through ``npuslim.act.upx.pack_file`` (a time limit, stopped by
    ``stop_all``; its output read by ``parse_pack``). ``outcome`` is then
    ``refused`` (UPX declined: its own message), ``timed-out``, ``stopped`` or
    ``failed``; ``path`` is untouched unless ``packed``.
    """
    tool = upx if isinstance(upx, UpxTool) else UpxTool(Path(upx), (), "")
    info = read_elf(path)
    before = info.size
    tmp = path.with_name(f".{path.name}.upx-in-{os.getpid()}")
    packed = path.with_name(f".{path.name}.upx-{os.getpid()}")
    shutil.copyfile(path, tmp)
    mode = path.stat().st_mode & 0o7777
    tmp.chmod(mode | 0o700)  # UPX refuses a file without the execute bit ("try 'chmod +x'")
    try:
        outcome = pack_file(tool, tmp, packed, level=level, force=False, timeout=timeout)
        if not outcome.ok:
            kind = (Shrink.REFUSED if outcome.status in DECLINED
                    else Shrink(outcome.status) if outcome.status in INTERRUPTED else Shrink.FAILED)
            return ElfShrink(kind, before, before, outcome.message)
        try:
            after = read_elf(packed)
        except InputError as exc:
            return ElfShrink(Shrink.FAILED, before, before, f"the packed file is unreadable: {exc}")
        if after.imports != info.imports or after.soname != info.soname:
            return ElfShrink(Shrink.FAILED, before, before, "the packed file lost its DT_NEEDED or SONAME")
        packed.chmod(mode)
        os.replace(packed, path)
        return ElfShrink(Shrink.PACKED, before, after.size, f"UPX packed ({before} -> {after.size} bytes)")
    finally:
        tmp.unlink(missing_ok=True)
        packed.unlink(missing_ok=True)


def check_link_target(name: str, link_to: str) -> None:
    """An ``InputError`` unless ``link_to`` is a file name of ``name``'s own folder."""
    if "/" in link_to or link_to in ("", ".", ".."):
        raise InputError(f"{name}: a link name must point to a file of its own folder, not {link_to!r}")


def symlink_tarinfo(name: str, link_to: str, epoch: int) -> tarfile.TarInfo:
    """A reproducible tar member for a bundle link name (``lib/libopenvino_c.so -> libopenvino_c.so.2641``):
    a symlink, not a second copy of the library; same owner, time and mode rules as the archive's files."""
    check_link_target(name, link_to)
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = link_to
    info.mtime = epoch
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o777
    return info


_DLOPEN = "import ctypes, sys; ctypes.CDLL(sys.argv[1])"  # ctypes dlopens with RTLD_NOW


def dlopen_problem(lib: Path, name: str, neighbours: Path, work: Path, *, timeout: float = 120.0) -> str | None:
    """Why ``lib``, named ``name``, does not load beside the libraries of ``neighbours`` (``None``: it loads).

    UPX 4.2.2 packs some shared objects that pass ``upx -t`` and keep their
    linkage, yet crash in the loader (a C++ library with a DT_NEEDED of its
    own folder, measured: SIGSEGV in dlopen). So a packed file is loaded for
    real: in a fresh Python process, ``dlopen(RTLD_NOW)`` of a copy of ``lib``
    placed in ``work`` as ``name`` with copies (or hard links) of every file of
    ``neighbours`` under the same names, so ``$ORIGIN`` finds them;
    ``LD_LIBRARY_PATH`` and ``LD_PRELOAD`` are removed. ``work`` is emptied.
    """
    import subprocess
    import sys

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        for entry in neighbours.iterdir():
            dest = work / entry.name
            if entry.is_symlink():
                os.symlink(os.readlink(entry), dest)
            elif entry.is_file() and entry.name != name:
                try:
                    os.link(entry, dest)
                except OSError:
                    shutil.copyfile(entry, dest)
        shutil.copyfile(lib, work / name)
        env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "LD_PRELOAD")}
        try:
            proc = subprocess.run([sys.executable, "-c", _DLOPEN, str(work / name)], capture_output=True,
                                  text=True, env=env, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return f"loading it did not finish within {timeout:g} s"
        if proc.returncode < 0:
            return f"it crashed when loaded (signal {-proc.returncode})"
        if proc.returncode != 0:
            lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
            return f"it does not load: {lines[-1].strip() if lines else f'exit {proc.returncode}'}"
        return None
    finally:
        shutil.rmtree(work, ignore_errors=True)
