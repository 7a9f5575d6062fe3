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

A Linux bundle (its manifest's ``source.platform`` is ``linux``) goes the
same way with ``npuslim.act.pack_elf`` for each shared object of ``lib/``: GNU
strip (kept only when smaller with the same linkage) and UPX (its refusal
recorded); the CFG and signature rules are Windows-only. Link names
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
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from npuslim import __version__
from npuslim.act.archive import ArchiveResult, archive_name, is_npuslim_archive, xz_size
from npuslim.act.pack_elf import Shrink, dlopen_problem, strip_elf, upx_elf
from npuslim.act.staging import check_output
from npuslim.act.strip import changed_outside_edits, strip_pe
from npuslim.act.upx import DECLINED, DEFAULT_TIMEOUT, INTERRUPTED, UpxTool, pack_file
from npuslim.act.workcache import WorkCache, make_key, sha256_path
from npuslim.errors import NpuslimError, OutputError
from npuslim.formats.crosscheck import lief_imports
from npuslim.formats.elf import ElfInfo, elf_image_size, read_elf
from npuslim.formats.lock import BundleLock, LockedFile, PackRecord
from npuslim.formats.pe import PeInfo, read_pe
from npuslim.layout import LOCK_FILE, NPUSLIM_FILES, StrEnum
from npuslim.progress import ProgressEvent, ProgressFn, StepState
from npuslim.units import BASELINE_BYTES


class PackStatus(StrEnum):
    """What UPX did to one file of a pack (``packed.upx`` of each file in the lock file)."""

    PACKED = "packed"
    SKIPPED = "skipped"                  # npuslim did not ask UPX (excluded, already packed, CFG and old UPX)
    REFUSED = "refused"                  # UPX declined, or its result was not kept (CFG turned off)
    FAILED = "failed"
    NOT_REQUESTED = "not requested"      # no --upx: recorded as no status at all


# UPX adds an import of KERNEL32.dll (LoadLibraryA, GetProcAddress, ...) for its stub.
_UPX_STUB_IMPORTS = frozenset({"kernel32.dll"})
WORK_DIR = ".npuslim-work"


@dataclass(frozen=True)
class PackOptions:
    strip: bool = False
    upx: bool = False
    upx_path: Path | None = None
    upx_level: str | None = None
    upx_force_cfg: bool = False
    upx_exclude: tuple[str, ...] = ()
    upx_timeout: float = DEFAULT_TIMEOUT
    jobs: int = 1
    archive: str = "none"
    archive_path: Path | None = None
    compare_download: bool = False
    force: bool = False
    use_cache: bool = True
    baseline: int = BASELINE_BYTES
    max_size: str | None = None      # size budget (npuslim.check.budget); else the input lock file's budget
    sbom: bool = False               # write sbom.cdx.json (also when the input bundle has one)

    def recorded(self) -> dict[str, Any]:
        """The options that decide the output's content, as the lock file and the report record them."""
        return {
            "strip": self.strip, "upx": self.upx, "upx_level": self.upx_level or "default",
            "upx_force_cfg": self.upx_force_cfg, "upx_exclude": list(self.upx_exclude),
            "archive": self.archive, "compare_download": self.compare_download,
        }


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

    @property
    def platform(self) -> str:
        """``linux`` for a bundle of ELF shared objects, else ``windows``."""
        return "linux" if self.lock.source.get("platform") == "linux" else "windows"


@dataclass(frozen=True)
class OutputPlan:
    out: Path
    archive: Path | None
    replaces_previous: bool       # OUT holds an earlier pack of the same bundle


@dataclass(frozen=True)
class Job:
    locked: LockedFile
    info: PeInfo | ElfInfo
    upx_skip: str | None     # why UPX will not touch it (decided in the plan)
    force_cfg: bool


def default_out(bundle: Path) -> Path:
    """``BUNDLE.packed`` beside BUNDLE."""
    if bundle.name in ("", ".", ".."):
        bundle = bundle.resolve()
    return bundle.parent / f"{bundle.name}.packed"


def upx_decision(path: str, info: PeInfo | ElfInfo, options: PackOptions,
                 upx: UpxTool | None) -> tuple[str | None, bool]:
    """Whether UPX may pack this DLL or shared object: (reason to skip or ``None``, pass ``--force``).

    CFG DLLs: UPX 4+ refuses them unless forced, and forcing turns CFG off, so
    ``--force`` is passed only with ``upx_force_cfg``; without it UPX is asked
    all the same and its own refusal is reported. UPX older than 4 never gets
    them (the CFG DLLs it packed could fail to load). ELF has no CFG: those
    rules do not apply to it.
    """
    name = path.rsplit("/", 1)[-1]
    if not options.upx:
        return PackStatus.NOT_REQUESTED, False
    if any(fnmatch.fnmatch(name.lower(), p.lower()) or fnmatch.fnmatch(path.lower(), p.lower())
           for p in options.upx_exclude):
        return "excluded by --upx-exclude", False
    if info.upx_packed:
        return "already packed by UPX (in the input bundle); left as it is", False
    if isinstance(info, ElfInfo):
        return None, False
    if info.cfg and upx is not None and not upx.refuses_cfg:
        return (f"Control Flow Guard enabled: UPX {upx.version_text} must not pack CFG DLLs "
                "(the DLLs it packed could fail to load); use UPX 4 or newer"), False
    return None, info.cfg and options.upx_force_cfg


# -- output checks (before any work)

def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _packed_from(out: Path, bundle: Path, input_sha: str) -> bool:
    """Whether ``out`` is an earlier pack of ``bundle``: its manifest names this input manifest's
    sha256, or this bundle folder (extracted again since)."""
    try:
        data = json.loads((out / LOCK_FILE).read_text(encoding="utf-8"))
        recorded = data["packed"]["input"]
        return bool(recorded["manifest_sha256"] == input_sha
                    or Path(str(recorded["path"])).resolve() == bundle.resolve())
    except (OSError, ValueError, KeyError, TypeError):
        return False


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


# -- the work on one DLL

def _pe(job: Job) -> PeInfo:
    """The facts of a Windows job's file (``pipeline.pack`` reads a Windows bundle's with ``read_pe``)."""
    return cast(PeInfo, job.info)


def _dll_names(info: PeInfo) -> set[str]:
    return {n.lower() for n in info.imports + info.delay_imports}


def _import_drift(path: Path, info: PeInfo, expected: set[str],
                  allowed_extra: frozenset[str] = frozenset()) -> str | None:
    """``None`` when pefile (``info``) and LIEF both read exactly the ``expected`` imported
    DLLs (plus ``allowed_extra``) in a rewritten file, else what differs."""
    for reader, seen in (("pefile", lambda: _dll_names(info)), ("LIEF", lambda: lief_imports(path))):
        names = seen()
        lost, added = expected - names, names - expected - allowed_extra
        if lost or added:
            return f"lost {', '.join(sorted(lost)) or '-'}, added {', '.join(sorted(added)) or '-'} ({reader})"
    return None


class _Cancelled(Exception):
    pass


@dataclass
class PackContext:
    bundle: Path
    staging: Path
    work: Path
    options: PackOptions
    upx: UpxTool | None
    upx_id: str
    cache: WorkCache
    progress: ProgressFn | None
    cancel: threading.Event
    on_final: Callable[[LockedFile], None] | None = None   # a DLL's output file is complete
    strip_tool: str | None = None                          # GNU strip (Linux bundles)
    strip_id: str = ""
    strip_messages: dict[str, str] = field(default_factory=dict)

    def emit(self, step: str, path: str, state: str, detail: str = "") -> None:
        if self.progress:
            self.progress(ProgressEvent(step, path, StepState(state), detail))

    def check(self) -> None:
        if self.cancel.is_set():
            raise _Cancelled()


def _strip_step(job: Job, ctx: PackContext, src: Path, sha: str) -> tuple[Path, str, int, bool]:
    """(file after strip, its sha256, its size, signature removed)."""
    rel = job.locked.path
    ctx.emit("strip", rel, "start")
    key = make_key("strip", __version__, sha)
    entry = ctx.cache.get(key)
    cached = entry is not None
    if entry is None:
        ctx.check()
        original = src.read_bytes()
        result = strip_pe(src, original)
        if not result.changed:
            entry = {"blob": None, "size": len(result.data), "signature_removed": False}
        else:
            tmp = ctx.work / f"{rel.replace('/', '_')}.strip"
            tmp.write_bytes(result.data)
            # two checks: pefile reads the same imports, and no byte of any kept section changed
            # but the debug data strip zeroed (cheaper than LIEF, and stricter)
            names = _dll_names(read_pe(tmp))
            drift = (f"lost {', '.join(sorted(_dll_names(_pe(job)) - names)) or '-'}, added "
                     f"{', '.join(sorted(names - _dll_names(_pe(job)))) or '-'} (pefile)"
                     if names != _dll_names(_pe(job)) else changed_outside_edits(original, result))
            if drift is not None:
                raise NpuslimError(f"{rel}: stripping changed more than it should ({drift}); nothing was written")
            new_sha = ctx.cache.put_blob_bytes(result.data)
            entry = {"blob": new_sha, "size": len(result.data), "signature_removed": result.signature_removed > 0,
                     "tmp": str(tmp)}
        ctx.cache.put(key, {k: v for k, v in entry.items() if k != "tmp"})
    if entry["blob"] is None:
        out = (src, sha, int(entry["size"]), False)
    else:
        path = Path(str(entry["tmp"] if "tmp" in entry else entry["blob_path"]))
        out = (path, str(entry["blob"]), int(entry["size"]), bool(entry["signature_removed"]))
    ctx.emit("strip", rel, "done", f"{job.locked.size} -> {out[2]} bytes" + (" (cached)" if cached else ""))
    return out


def _upx_step(job: Job, ctx: PackContext, src: Path, sha: str) -> tuple[Path, str, dict[str, Any]]:
    """(file after UPX, its sha256, the cache entry: status, message, seconds, packed size)."""
    assert ctx.upx is not None
    upx = ctx.upx

    def attempt(packed: Path) -> _UpxAttempt:
        start = time.perf_counter()
        outcome = pack_file(upx, src, packed, level=ctx.options.upx_level, force=job.force_cfg,
                            timeout=ctx.options.upx_timeout)
        seconds = round(time.perf_counter() - start, 3)
        ctx.check()
        interrupted = outcome.status in INTERRUPTED
        if not outcome.ok:
            hint = "; npuslim: --upx-force-cfg" if "GUARD_CF" in outcome.message and not job.force_cfg else ""
            status = PackStatus.REFUSED if outcome.status in DECLINED else PackStatus.FAILED
            return _UpxAttempt(status, f"UPX: {outcome.message}{hint}", seconds, interrupted)
        packed_info = read_pe(packed)
        drift = _import_drift(packed, packed_info, _dll_names(_pe(job)), _UPX_STUB_IMPORTS)
        if _pe(job).cfg and not packed_info.cfg and not job.force_cfg:
            return _UpxAttempt(PackStatus.REFUSED, "UPX turned Control Flow Guard off; left unpacked "
                               "(use --upx-force-cfg to accept that)", seconds, interrupted)
        if drift is not None:
            return _UpxAttempt(PackStatus.FAILED, f"import table changed after packing ({drift}); left unpacked",
                               seconds, interrupted)
        return _UpxAttempt(PackStatus.PACKED, outcome.message, seconds, interrupted)

    key = make_key("upx", ctx.upx_id, ctx.options.upx_level, job.force_cfg, sha)
    return _cached_upx(job, ctx, src, sha, key, attempt)


@dataclass(frozen=True)
class _UpxAttempt:
    """What one UPX run on a work copy came to; ``PACKED`` keeps the work copy."""

    status: PackStatus
    message: str
    seconds: float
    interrupted: bool   # stopped by Ctrl-C or the time limit: never cached


def _cached_upx(job: Job, ctx: PackContext, src: Path, sha: str, key: str,
                attempt: Callable[[Path], _UpxAttempt]) -> tuple[Path, str, dict[str, Any]]:
    """UPX on ``src`` through the cache: ``attempt`` runs only on a miss, on a work copy path;
    a packed result is stored as a blob. Returns (file after UPX, its sha256, the cache entry)."""
    rel = job.locked.path
    ctx.emit("upx", rel, "start")
    entry = ctx.cache.get(key)
    cached = entry is not None
    path = src
    if entry is None:
        ctx.check()
        work = ctx.work / f"{rel.replace('/', '_')}.upx"
        result = attempt(work)
        blob = None
        if result.status == PackStatus.PACKED:
            blob = sha256_path(work)
            ctx.cache.put_blob_file(work, blob)
            path = work
        entry = {"status": result.status, "message": result.message, "seconds": result.seconds, "blob": blob}
        if not result.interrupted:
            ctx.cache.put(key, entry)
    elif entry["blob"] is not None:
        path = Path(str(entry["blob_path"]))
    new_sha = str(entry["blob"]) if entry["blob"] is not None else sha
    detail = entry["status"] + (f": {entry['message']}" if entry["message"] else "")
    ctx.emit("upx", rel, "done", detail + (" (cached)" if cached else f" in {entry['seconds']:.1f} s"))
    return path, new_sha, entry


UpxStep = Callable[["Job", "PackContext", Path, str], tuple[Path, str, dict[str, Any]]]


def _upx_and_place(job: Job, ctx: PackContext, src: Path, sha: str,
                   upx_step: UpxStep) -> tuple[Path, str, PackStatus, str, float | None]:
    """UPX (or the reason it was skipped), then the final file copied into staging:
    (its staging path, its sha256, UPX status, UPX message, UPX seconds)."""
    rel = job.locked.path
    status, message, seconds = PackStatus.NOT_REQUESTED, "", None
    if job.upx_skip is None and ctx.upx is not None:
        src, sha, entry = upx_step(job, ctx, src, sha)
        status, message, seconds = PackStatus(entry["status"]), str(entry["message"]), entry["seconds"]
        if status == PackStatus.PACKED:
            message = ""
    elif job.upx_skip and job.upx_skip != PackStatus.NOT_REQUESTED:
        status, message = PackStatus.SKIPPED, job.upx_skip
        ctx.emit("upx", rel, "done", f"skipped: {message}")
    ctx.check()
    dest = ctx.staging / rel
    shutil.copyfile(src, dest)
    return dest, sha, status, message, seconds


def _record(job: Job, after_strip: int | None, status: PackStatus, message: str, **platform: Any) -> PackRecord:
    """What pack did to one file; ``platform`` holds the fields only PE or ELF files have."""
    return PackRecord(
        original_size=job.locked.size, original_sha256=job.locked.sha256, after_strip=after_strip,
        stripped=after_strip is not None and after_strip != job.locked.size,
        upx=None if status == PackStatus.NOT_REQUESTED else status,
        upx_skipped=None if status in (PackStatus.PACKED, PackStatus.NOT_REQUESTED) else message,
        **platform,
    )


def process_pe(job: Job, ctx: PackContext) -> tuple[LockedFile, float | None]:
    rel = job.locked.path
    src, sha = ctx.bundle / rel, job.locked.sha256
    after_strip, signature_removed = None, False
    if ctx.options.strip:
        src, sha, after_strip, signature_removed = _strip_step(job, ctx, src, sha)
    dest, sha, status, message, seconds = _upx_and_place(job, ctx, src, sha, _upx_step)
    final = read_pe(dest)
    record = _record(job, after_strip, status, message,
                     original_signature=_pe(job).signature, original_cfg=_pe(job).cfg,
                     cfg_disabled=bool(_pe(job).cfg) and not final.cfg,
                     signature_removed=signature_removed or (status == PackStatus.PACKED and _pe(job).signed),
                     image_size=_pe(job).image_size)
    new = replace(job.locked, size=final.size, sha256=sha, signature=final.signature, cfg=final.cfg,
                  debug_directory=final.has_debug, pack=record)
    if ctx.on_final is not None:
        ctx.on_final(new)
    # UPX's time is not recorded in the manifest: the same inputs give the same bundle, byte for byte
    return new, seconds


# -- the work on one ELF shared object (Linux bundles)

def _elf_strip_step(job: Job, ctx: PackContext, src: Path, sha: str) -> tuple[Path, str, int, str]:
    """(file after strip, its sha256, its size, what strip did or why it kept the file)."""
    rel = job.locked.path
    ctx.emit("strip", rel, "start")
    key = make_key("strip-elf", __version__, ctx.strip_id, sha)
    entry = ctx.cache.get(key)
    cached = entry is not None
    path = src
    if entry is None:
        ctx.check()
        work = ctx.work / f"{rel.replace('/', '_')}.strip"
        shutil.copyfile(src, work)
        result = strip_elf(work, strip_tool=ctx.strip_tool)
        entry = {"blob": None, "size": result.size_after, "outcome": result.outcome, "reason": result.reason}
        if result.changed:
            entry["blob"] = sha256_path(work)
            ctx.cache.put_blob_file(work, str(entry["blob"]))
            path = work
        ctx.cache.put(key, entry)
    elif entry["blob"] is not None:
        path = Path(str(entry["blob_path"]))
    new_sha = str(entry["blob"]) if entry["blob"] is not None else sha
    reason = f"{entry['outcome']}: {entry['reason']}"
    ctx.emit("strip", rel, "done", reason + (" (cached)" if cached else ""))
    return path, new_sha, int(entry["size"]), reason


def _elf_upx_step(job: Job, ctx: PackContext, src: Path, sha: str) -> tuple[Path, str, dict[str, Any]]:
    """(file after UPX, its sha256, the cache entry: status, message, seconds)."""
    assert ctx.upx is not None
    upx = ctx.upx

    def attempt(work: Path) -> _UpxAttempt:
        shutil.copyfile(src, work)
        start = time.perf_counter()
        result = upx_elf(work, upx=upx, level=ctx.options.upx_level, timeout=ctx.options.upx_timeout)
        seconds = round(time.perf_counter() - start, 3)
        ctx.check()
        interrupted = result.outcome in INTERRUPTED
        load = _elf_load_check(job, ctx, work, src) if result.changed else None
        if load is not None:
            return _UpxAttempt(PackStatus.FAILED, f"packed by UPX, but {load}; left unpacked", seconds, interrupted)
        if result.changed:
            return _UpxAttempt(PackStatus.PACKED, result.reason, seconds, interrupted)
        refused = result.outcome == Shrink.REFUSED
        return _UpxAttempt(PackStatus.REFUSED if refused else PackStatus.FAILED,
                           f"UPX: {result.reason}" if refused else result.reason, seconds, interrupted)

    return _cached_upx(job, ctx, src, sha, make_key("upx-elf", ctx.upx_id, ctx.options.upx_level, sha), attempt)


def _elf_load_check(job: Job, ctx: PackContext, packed: Path, unpacked: Path) -> str | None:
    """Why the UPX-packed file does not load where the unpacked one does, or ``None``
    (``pack_elf.dlopen_problem``; a file this host cannot load either way is not judged)."""
    rel = job.locked.path
    folder = (ctx.bundle / rel).parent
    scratch = ctx.work / f"{rel.replace('/', '_')}.load"
    name = Path(rel).name
    problem = dlopen_problem(packed, name, folder, scratch, timeout=ctx.options.upx_timeout)
    if problem is None:
        return None
    return problem if dlopen_problem(unpacked, name, folder, scratch, timeout=ctx.options.upx_timeout) is None \
        else None


def process_elf(job: Job, ctx: PackContext) -> tuple[LockedFile, float | None]:
    rel = job.locked.path
    src, sha = ctx.bundle / rel, job.locked.sha256
    after_strip = None
    if ctx.options.strip:
        src, sha, after_strip, ctx.strip_messages[rel] = _elf_strip_step(job, ctx, src, sha)
    dest, sha, status, message, seconds = _upx_and_place(job, ctx, src, sha, _elf_upx_step)
    final = read_elf(dest)
    record = _record(job, after_strip, status, message, original_signature=job.locked.signature,
                     original_cfg=job.locked.cfg, image_size=elf_image_size(ctx.bundle / rel))
    new = replace(job.locked, size=final.size, sha256=sha, pack=record,
                  debug_directory=final.has_debug if job.locked.debug_directory is not None else None)
    if ctx.on_final is not None:
        ctx.on_final(new)
    return new, seconds


def xz_cached(path: Path, sha: str, size: int, cache: WorkCache) -> int:
    key = make_key("xz-size", 9, sha)
    entry = cache.get(key)
    if entry is not None and isinstance(entry.get("xz"), int):
        return int(entry["xz"])
    value = xz_size(path, size)
    cache.put(key, {"xz": value})
    return value


# -- the whole run

def upx_identity(upx: UpxTool) -> str:
    try:
        return f"{upx.version_text}/{sha256_path(upx.path)}"
    except OSError:
        return upx.version_text
