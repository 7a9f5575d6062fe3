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
- ``ElfShrinker``: the two as pack's ``npuslim.act.steps.Shrinker``; with
  ``--check-load`` a packed file is kept only when it loads where the
  unpacked one does;
- ``dlopen_problem``: loads a packed file for real in a child process (the
  pipeline's sandbox when it has one), since some UPX output passes ``upx -t``
  and still crashes in the loader. Loading runs the library's constructors,
  the bundle's own code, so it happens only when asked (``--check-load``);
  npuslim's own process never loads a bundle library.
- ``symlink_tarinfo``: the tar entry of a link name (``npuslim.act.archive``).

LIEF is not needed: strip is binutils' own, and the checks read the dynamic
section with ``npuslim.formats.elf``.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

from npuslim import __version__
from npuslim.act.steps import (
    Attempt,
    Job,
    LoadWrap,
    PackContext,
    PackOptions,
    PackStatus,
    Shrink,
    StepEntry,
    StripEntry,
    UpxDecision,
    UpxEntry,
    input_copy,
)
from npuslim.act.upx import DECLINED, DEFAULT_TIMEOUT, UpxStatus, UpxTool, pack_file
from npuslim.act.workcache import make_key, sha256_path
from npuslim.errors import InputError, ToolError
from npuslim.formats.elf import ElfInfo, elf_image_size, read_elf
from npuslim.formats.lock import LockedFile, PackRecord
from npuslim.formats.pe import PeInfo
from npuslim.tools import run_process, run_tool

# a UPX run cut short is a step cut short
_CUT_SHORT = {UpxStatus.TIMED_OUT: Shrink.TIMED_OUT, UpxStatus.STOPPED: Shrink.STOPPED}

# the link entry of a zip: Info-ZIP's Unix symlink (the member's data is the target)
ZIP_SYMLINK_MODE = 0o120777


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
        return self.outcome.changed


def _linkage(info: ElfInfo) -> tuple[object, ...]:
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
            kind = Shrink.REFUSED if outcome.status in DECLINED else _CUT_SHORT.get(outcome.status, Shrink.FAILED)
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


class ElfShrinker:
    """``npuslim.act.steps.Shrinker`` for ELF shared objects: GNU strip (``ctx.strip_tool``) and UPX."""

    def read(self, path: Path) -> ElfInfo:
        return read_elf(path)

    def upx_rule(self, info: PeInfo | ElfInfo, options: PackOptions, upx: UpxTool | None) -> UpxDecision:
        return UpxDecision(None)  # ELF has no CFG: UPX is asked, and its refusal recorded

    def strip_tool(self, options: PackOptions, infos: tuple[PeInfo | ElfInfo, ...]) -> tuple[str | None, str]:
        """GNU strip and its sha256 (``"none"`` when absent and no file has anything to strip)."""
        if not options.strip:
            return None, ""
        tool = shutil.which("strip")
        if tool is None and any(i.has_debug or cast(ElfInfo, i).has_symtab for i in infos):
            raise ToolError("strip not found (GNU binutils: apt-get install binutils); --strip needs it here")
        return tool, sha256_path(Path(tool)) if tool else "none"

    def strip_key(self, job: Job, ctx: PackContext) -> str:
        return make_key("strip-elf", __version__, ctx.strip_id, job.locked.sha256)

    def strip(self, job: Job, ctx: PackContext, src: Path, work: Path) -> Attempt:
        shutil.copyfile(src, work)
        result = strip_elf(work, strip_tool=ctx.strip_tool)
        return Attempt(StripEntry(result.outcome, f"{result.outcome}: {result.reason}", result.size_after, 0.0,
                                  sha256_path(work) if result.changed else None))

    def strip_message(self, entry: StepEntry) -> str | None:
        return entry.message

    def upx_key(self, job: Job, ctx: PackContext, sha: str) -> str:
        return make_key("upx-elf", ctx.upx_id, ctx.options.upx_level, ctx.load_wrap is not None, sha)

    def upx(self, job: Job, ctx: PackContext, src: Path, work: Path) -> Attempt:
        assert ctx.upx is not None
        shutil.copyfile(src, work)
        start = time.perf_counter()
        result = upx_elf(work, upx=ctx.upx, level=ctx.options.upx_level, timeout=ctx.options.upx_timeout)
        seconds = round(time.perf_counter() - start, 3)
        ctx.check()
        cut_short, before = result.outcome.interrupted, result.size_before
        load = _load_check(job, ctx, work, src, ctx.load_wrap) if result.changed and ctx.load_wrap else None
        if load is not None:
            return Attempt(UpxEntry(Shrink.FAILED, f"packed by UPX, but {load}; left unpacked", before, seconds,
                                    None), cut_short)
        if result.changed:
            return Attempt(UpxEntry(Shrink.PACKED, result.reason, result.size_after, seconds, sha256_path(work)))
        refused = result.outcome is Shrink.REFUSED
        return Attempt(UpxEntry(Shrink.REFUSED if refused else Shrink.FAILED,
                                f"UPX: {result.reason}" if refused else result.reason, before, seconds, None),
                       cut_short)

    def final(self, job: Job, ctx: PackContext, dest: Path, sha: str, record: PackRecord, *,
              stripped: StepEntry | None, upx: PackStatus) -> LockedFile:
        final = read_elf(dest)
        record = replace(record, original_signature=job.locked.signature, original_cfg=job.locked.cfg,
                         image_size=elf_image_size(input_copy(job, ctx)))
        return replace(job.locked, size=final.size, sha256=sha, pack=record,
                       debug_directory=final.has_debug if job.locked.debug_directory is not None else None)


def _load_check(job: Job, ctx: PackContext, packed: Path, unpacked: Path, wrap: LoadWrap) -> str | None:
    """Why the UPX-packed file does not load where the unpacked one does, or ``None``
    (``dlopen_problem``; a file this host cannot load either way is not judged)."""
    rel = job.locked.path
    folder = (ctx.bundle / rel).parent
    scratch = ctx.work / f"{rel.replace('/', '_')}.load"
    name = Path(rel).name
    problem = dlopen_problem(packed, name, folder, scratch, timeout=ctx.options.upx_timeout, wrap=wrap)
    if problem is None:
        return None
    original = dlopen_problem(unpacked, name, folder, scratch, timeout=ctx.options.upx_timeout, wrap=wrap)
    if original is None:
        return problem  # the unpacked file loads here, the packed one does not
    # neither loads here (a dependency outside the bundle, or the check itself could not run): the packed
    # file is kept unless it is worse, a crash where the unpacked one fails cleanly
    return problem if problem.startswith(_CRASHED) and not original.startswith(_CRASHED) else None


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
_CRASHED = "it crashed when loaded"


def dlopen_problem(lib: Path, name: str, neighbours: Path, work: Path, *, timeout: float = 120.0,
                   wrap: LoadWrap | None = None) -> str | None:
    """Why ``lib``, named ``name``, does not load beside the libraries of ``neighbours`` (``None``: it loads).

    UPX 4.2.2 packs some shared objects that pass ``upx -t`` and keep their
    linkage, yet crash in the loader (a C++ library with a DT_NEEDED of its
    own folder, measured: SIGSEGV in dlopen). So a packed file is loaded for
    real: in a fresh Python process, ``dlopen(RTLD_NOW)`` of a copy of ``lib``
    placed in ``work`` as ``name`` with copies (or hard links) of every file of
    ``neighbours`` under the same names, so ``$ORIGIN`` finds them;
    ``LD_LIBRARY_PATH`` and ``LD_PRELOAD`` are removed. ``wrap`` puts the command in a sandbox
    (``work`` writable). ``work`` is emptied. The library's constructors run: call it only when asked.
    """
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
        cmd = [sys.executable, "-I", "-c", _DLOPEN, str(work / name)]
        # in a process group of its own: a timeout or Ctrl-C kills whatever the library's code started
        run = run_process(wrap(cmd, work) if wrap else cmd, timeout=timeout, env=env)
        if run.timed_out:
            return f"loading it did not finish within {timeout:g} s"
        if run.returncode < 0:
            return f"{_CRASHED} (signal {-run.returncode})"
        if run.returncode != 0:
            lines = [ln for ln in run.output.splitlines() if ln.strip()]
            return f"it does not load: {lines[-1].strip() if lines else f'exit {run.returncode}'}"
        return None
    finally:
        shutil.rmtree(work, ignore_errors=True)
