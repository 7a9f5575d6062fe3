"""Packing a bundle into a new one: strip, UPX, archive, and the numbers for an honest size report.

``pack_bundle(BUNDLE, OUT, options)`` never writes into BUNDLE. It checks every
output path first (OUT, the archive), then that BUNDLE verifies, plans what
each DLL gets and why not, and only then works: in a staging folder beside
OUT it writes every file (rewritten DLLs are checked: they parse, ``upx -t``
passes, they import the same DLLs as read by pefile and LIEF), the bundle
manifest (options, the input manifest's sha256, each file's original size,
sha256, signature and CFG state), the reports, and the archive beside it;
then OUT is moved into place. A DLL that UPX refuses or fails on stays
exactly as it was; the reason is recorded.

Each file goes through ``process_file`` with its format's shrinker,
``SHRINKERS[platform]`` (the platform as the bundle's lock file says):
``npuslim.act.pack_pe`` for DLLs, ``npuslim.act.pack_elf`` for the shared
objects of a Linux bundle's ``lib/``: GNU strip (kept only when smaller with
the same linkage) and UPX (its refusal recorded); the CFG and signature
rules are Windows-only. Link names
(``lib/libopenvino.so``, entries with ``link_to``) are never packed: OUT and
its archive hold them as symlinks.

Strip and UPX outputs, compressed archive members and xz sizes are kept in a
content-addressed cache (``npuslim.act.workcache``), so a rerun with the same
inputs redoes nothing.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from npuslim.act.archive import ArchiveResult, is_npuslim_archive, xz_size
from npuslim.act.pack_elf import ElfShrinker
from npuslim.act.pack_pe import PeShrinker
from npuslim.act.staging import check_output
from npuslim.act.steps import (
    Job,
    PackContext,
    PackOptions,
    PackStatus,
    Shrink,
    Shrinker,
    UpxDecision,
    cached_step,
    input_copy,
)
from npuslim.act.upx import UpxTool
from npuslim.act.workcache import CacheEntry, WorkCache, copy_hashing, make_key, sha256_path
from npuslim.errors import NpuslimError, OutputError, VerifyError
from npuslim.formats.elf import ElfInfo
from npuslim.formats.lock import BundleLock, LockedFile, PackRecord, read_lock
from npuslim.formats.pe import PeInfo
from npuslim.layout import LOCK_FILE, NPUSLIM_FILES, archive_name
from npuslim.platforms import Platform

__all__ = ["SHRINKERS", "WORK_DIR", "Download", "Job", "OutputPlan", "PackContext", "PackOptions", "PackResult",
           "PackStatus", "check_outputs", "default_out", "process_file", "upx_decision", "upx_identity",
           "xz_cached"]


@dataclass(frozen=True)
class Download:
    """The download comparison: xz of the unpacked bundle vs the packed one (None: not measured)."""

    unpacked: int | None
    packed: int | None
    measured_as: str


@dataclass(frozen=True)
class PackResult:
    bundle: Path
    out: Path
    lock: BundleLock              # the output's lock file
    options: PackOptions
    upx: UpxTool | None
    archive: ArchiveResult | None
    download: Download
    seconds: float
    cache_hits: int = 0
    cache_misses: int = 0
    warnings: tuple[str, ...] = field(default=())
    upx_seconds: dict[str, float] = field(default_factory=dict)  # run facts, kept out of the lock file
    budget: dict[str, Any] | None = None   # the packed bundle and its archive against the size budget
    sbom: Path | None = None
    strip_messages: dict[str, str] = field(default_factory=dict)  # ELF: what strip did or why not
    platform: Platform = Platform.WINDOWS   # the bundle's, as its lock file says


@dataclass(frozen=True)
class OutputPlan:
    out: Path
    archive: Path | None
    replaces_previous: bool       # OUT holds an earlier pack of the same bundle


def default_out(bundle: Path) -> Path:
    """``BUNDLE.packed`` beside BUNDLE."""
    if bundle.name in ("", ".", ".."):
        bundle = bundle.resolve()
    return bundle.parent / f"{bundle.name}.packed"


def upx_decision(path: str, info: PeInfo | ElfInfo, options: PackOptions, upx: UpxTool | None, *,
                 shrinker: Shrinker) -> UpxDecision:
    """Whether UPX may pack this DLL or shared object, and with ``--force`` or not: not without
    ``--upx``, not for a file ``--upx-exclude`` names or UPX already packed, then as the format's
    ``shrinker.upx_rule`` says (the Control Flow Guard rules of ``npuslim.act.pack_pe``)."""
    name = path.rsplit("/", 1)[-1]
    if not options.upx:
        return UpxDecision(PackStatus.NOT_REQUESTED)
    if any(fnmatch.fnmatch(name.lower(), p.lower()) or fnmatch.fnmatch(path.lower(), p.lower())
           for p in options.upx_exclude):
        return UpxDecision(PackStatus.SKIPPED, "excluded by --upx-exclude")
    if info.upx_packed:
        return UpxDecision(PackStatus.SKIPPED, "already packed by UPX (in the input bundle); left as it is")
    return shrinker.upx_rule(info, options, upx)


# -- output checks (before any work)

def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _packed_from(out: Path, bundle: Path, input_sha: str) -> bool:
    """Whether ``out`` is an earlier pack of ``bundle``: its manifest names this input manifest's
    sha256, or (extracted again since) this bundle folder's name while OUT lies beside it (the lock
    file records the name only, no path of this machine; older ones the whole path)."""
    try:
        packed = read_lock(out, LOCK_FILE).packed
    except NpuslimError:
        return False  # not a lock file of ours: not an earlier pack
    if packed is None:
        return False
    beside = out.absolute().parent == bundle.absolute().parent
    return packed.input.manifest_sha256 == input_sha or (
        beside and Path(packed.input.path).name == bundle.absolute().name)


def _writable_parent(path: Path, what: str) -> None:
    parent = path.parent
    while not parent.exists():
        if parent.is_symlink():
            raise OutputError(f"{path}: {what}: {parent} is a dangling link")
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{path}: {what}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: {what}: {parent} is not writable")


def _not_written_by_npuslim(out: Path) -> str | None:
    """The first file in ``out`` that its lock file does not list (``None``: every file is npuslim's).

    An empty folder passes; a folder without a readable lock file names the manifest.
    """
    entries = [p for p in out.rglob("*") if not p.is_dir() or p.is_symlink()]
    if not entries:
        return None
    try:
        data = json.loads((out / LOCK_FILE).read_text(encoding="utf-8"))
        listed = {str(f["path"]) for f in data["files"]} | NPUSLIM_FILES
    except (OSError, ValueError, KeyError, TypeError):
        return f"no readable {LOCK_FILE}"
    for path in sorted(entries):
        rel = path.relative_to(out).as_posix()
        if rel not in listed:
            return rel
    return None


def check_outputs(bundle: Path, out: Path, options: PackOptions, input_sha: str) -> OutputPlan:
    """Every path pack will write, checked before any work: an ``OutputError`` (exit 7) names the path.

    OUT may be a previous pack output of the same bundle (replaced), else the
    usual rule of ``bundle.check_output`` applies (``--force``). The archive
    must lie outside BUNDLE and OUT, in an existing folder, and may only
    replace an archive npuslim wrote.
    """
    bundle_r, out_r = bundle.resolve(), out.resolve()
    same = _packed_from(out, bundle, input_sha)
    _writable_parent(out, "output folder")
    if out.is_dir() and not out.is_symlink() and (same or options.force):
        stranger = _not_written_by_npuslim(out)
        if stranger is not None:
            raise OutputError(f"{out}: holds {stranger}, which npuslim did not write; "
                              "it is not replaced, even with --force")
    check_output(out, bundle, force=options.force or same)
    archive = None
    if options.archive != "none":
        archive = options.archive_path or archive_name(out, options.archive)
        arch_r = archive.resolve()
        if _inside(arch_r, bundle_r):
            raise OutputError(f"{archive}: the archive would be written inside the input bundle {bundle}")
        if _inside(arch_r, out_r):
            raise OutputError(f"{archive}: the archive would be written inside the output {out}")
        if archive.is_dir():
            raise OutputError(f"{archive}: is a folder; name the archive file")
        if options.archive_path is not None and not archive.parent.is_dir():
            raise OutputError(f"{archive}: the folder {archive.parent} does not exist")
        _writable_parent(archive, "archive")
        if archive.exists() and not archive.is_file():
            raise OutputError(f"{archive}: exists and is not a regular file; choose another path")
        if archive.exists() and not is_npuslim_archive(archive):
            raise OutputError(f"{archive}: exists and is not an archive npuslim wrote; choose another path")
    return OutputPlan(out, archive, same)


@dataclass(frozen=True)
class XzEntry(CacheEntry):
    """The size of a file's ``xz -9`` stream, as the pack cache keeps it."""

    xz: int


def xz_cached(path: Path, sha: str, size: int, cache: WorkCache) -> int:
    key = make_key("xz-size", 9, sha)
    found = cache.load(key, XzEntry)
    if found is not None:
        return found[0].xz
    value = xz_size(path, size)
    cache.store(key, XzEntry(value))
    return value


# -- the work on one DLL or shared object

SHRINKERS: Mapping[Platform, Shrinker] = {Platform.WINDOWS: PeShrinker(), Platform.LINUX: ElfShrinker()}
WORK_DIR = ".npuslim-work"
# what a UPX step came to, as the lock file records it
_RECORDED = {Shrink.PACKED: PackStatus.PACKED, Shrink.REFUSED: PackStatus.REFUSED, Shrink.FAILED: PackStatus.FAILED}


def process_file(job: Job, ctx: PackContext, shrinker: Shrinker) -> tuple[LockedFile, float | None]:
    """Strip (with ``--strip``) and UPX (unless the plan said not to) one file through the cache,
    then copy it into staging. Returns its new lock entry and UPX's time (``None``: UPX did not run);
    UPX's time is not recorded in the lock file: the same inputs give the same bundle, byte for byte."""
    rel = job.locked.path
    src, sha = checked_input(job, ctx, shrinker), job.locked.sha256
    stripped = None
    if ctx.options.strip:
        ctx.emit("strip", rel, "start")
        src, sha, stripped, cached = cached_step("strip", job, ctx, src, sha, shrinker.strip_key(job, ctx),
                                                 partial(shrinker.strip, job, ctx, src))
        ctx.emit("strip", rel, "done", stripped.message + (" (cached)" if cached else ""))
        note = shrinker.strip_message(stripped)
        if note is not None:
            ctx.strip_messages[rel] = note
    src, sha, status, message, seconds = _upx(job, ctx, shrinker, src, sha)
    ctx.check()
    dest = ctx.staging / rel
    shutil.copyfile(src, dest)  # a private copy in the work folder, hashed as it was made
    after_strip = stripped.size if stripped is not None else None
    record = PackRecord(
        original_size=job.locked.size, original_sha256=job.locked.sha256, after_strip=after_strip,
        stripped=after_strip is not None and after_strip != job.locked.size,
        upx=None if status is PackStatus.NOT_REQUESTED else status,
        upx_skipped=None if status in (PackStatus.PACKED, PackStatus.NOT_REQUESTED) else message)
    new = shrinker.final(job, ctx, dest, sha, record, stripped=stripped, upx=status)
    if ctx.on_final is not None:
        ctx.on_final(new)
    return new, seconds


def checked_input(job: Job, ctx: PackContext, shrinker: Shrinker) -> Path:
    """The job's file read once from the bundle into a private copy, hashed as it is read: the bytes
    every step works on and every cache key names. A file that is not what the lock file (checked by
    verify) says is a ``VerifyError`` (exit 5); nothing is packed from it."""
    src, private = ctx.bundle / job.locked.path, input_copy(job, ctx)
    sha, size = copy_hashing(src, private, limit=job.locked.size)
    if (sha, size) != (job.locked.sha256, job.locked.size) or replace(shrinker.read(private),
                                                                       path=job.info.path) != job.info:
        raise VerifyError(f"{src}: changed since it was verified (its sha256 is no longer the lock file's); "
                          "nothing was written")
    return private


def _upx(job: Job, ctx: PackContext, shrinker: Shrinker, src: Path,
         sha: str) -> tuple[Path, str, PackStatus, str, float | None]:
    """UPX through the cache, or the reason it was skipped: (the file after it, its sha256,
    the status and message to record, UPX's time)."""
    rel = job.locked.path
    if job.upx.skip is not None or ctx.upx is None:
        if job.upx.skip is PackStatus.SKIPPED:
            ctx.emit("upx", rel, "done", f"skipped: {job.upx.reason}")
            return src, sha, PackStatus.SKIPPED, job.upx.reason, None
        return src, sha, PackStatus.NOT_REQUESTED, "", None
    ctx.emit("upx", rel, "start")
    src, sha, entry, cached = cached_step("upx", job, ctx, src, sha, shrinker.upx_key(job, ctx, sha),
                                          partial(shrinker.upx, job, ctx, src))
    detail = entry.outcome + (f": {entry.message}" if entry.message else "")
    ctx.emit("upx", rel, "done", detail + (" (cached)" if cached else f" in {entry.seconds:.1f} s"))
    status = _RECORDED[entry.outcome]
    return src, sha, status, "" if status is PackStatus.PACKED else entry.message, entry.seconds


# -- the whole run

def upx_identity(upx: UpxTool) -> str:
    try:
        return f"{upx.version_text}/{sha256_path(upx.path)}"
    except OSError:
        return upx.version_text
