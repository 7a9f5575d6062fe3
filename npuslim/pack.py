"""Packing a bundle: strip, UPX, archive, and the numbers for an honest size report.

Plan first (the bundle must verify; which DLL gets what and why not), then act
in a staging copy of the bundle (hard links for untouched files), check every
rewritten DLL (it parses, ``upx -t`` passes, it imports the same DLLs), and
move the staging copy into place. A DLL that UPX refuses or fails on stays
exactly as it was; the reason is recorded.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from npuslim import __version__
from npuslim.archive import archive_name, write_archive, xz_size
from npuslim.bundle import fresh_staging, move_into_place, sha256_file
from npuslim.crosscheck import lief_imports
from npuslim.errors import InputError, NpuslimError, VerifyError
from npuslim.lockfile import BundleLock, LockedFile, PackRecord, to_json
from npuslim.pe import PeInfo, read_pe
from npuslim.plan import BUNDLE_MANIFEST, DLL_ROLES
from npuslim.strip import strip_pe
from npuslim.upx import UpxTool, find_upx, pack_file
from npuslim.verify import verify_bundle

ProgressFn = Callable[[str, str], None]

# UPX adds an import of KERNEL32.dll (LoadLibraryA, GetProcAddress, ...) for its stub.
_UPX_STUB_IMPORTS = frozenset({"kernel32.dll"})


@dataclass(frozen=True)
class PackOptions:
    strip: bool = False
    upx: bool = False
    upx_path: Path | None = None
    upx_level: str | None = None
    upx_force_cfg: bool = False
    upx_exclude: tuple[str, ...] = ()
    jobs: int = 1
    archive: str = "none"
    archive_path: Path | None = None


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one DLL; sizes in bytes, ``None`` where a step did not run."""

    path: str
    original_size: int
    after_strip: int | None
    after_upx: int | None
    final_size: int
    upx_status: str          # packed | skipped | refused | failed | not requested
    upx_message: str
    upx_seconds: float | None
    signature_before: str | None
    signature_after: str | None
    cfg_before: bool | None
    cfg_after: bool | None
    image_size: int
    xz_original: int | None = None
    xz_final: int | None = None


@dataclass(frozen=True)
class PackResult:
    bundle: Path
    lock: BundleLock
    options: PackOptions
    upx: UpxTool | None
    files: tuple[FileOutcome, ...]
    other_bytes: int          # headers, import libraries, licences, manifest
    other_xz: int
    archive: Path | None
    archive_size: int | None
    seconds: float


@dataclass(frozen=True)
class _Job:
    locked: LockedFile
    info: PeInfo
    upx_skip: str | None     # why UPX will not touch it (decided in the plan)
    force_cfg: bool


def upx_decision(path: str, info: PeInfo, options: PackOptions, upx: UpxTool | None) -> tuple[str | None, bool]:
    """Whether UPX may pack this DLL: (reason to skip or ``None``, pass ``--force``).

    CFG DLLs: UPX 4+ refuses them unless forced, and forcing turns CFG off, so
    they are skipped unless ``upx_force_cfg``; UPX older than 4 never gets them
    (the CFG DLLs it packed could fail to load).
    """
    name = path.rsplit("/", 1)[-1]
    if not options.upx:
        return "not requested", False
    if any(fnmatch.fnmatch(name.lower(), p.lower()) or fnmatch.fnmatch(path.lower(), p.lower())
           for p in options.upx_exclude):
        return "excluded by --upx-exclude", False
    if info.upx_packed:
        return "already packed by UPX", False
    if info.cfg and upx is not None and not upx.refuses_cfg:
        return (f"Control Flow Guard enabled: UPX {upx.version_text} must not pack CFG DLLs "
                "(the DLLs it packed could fail to load); use UPX 4 or newer"), False
    if info.cfg and not options.upx_force_cfg:
        return "Control Flow Guard enabled: packing would turn CFG off (use --upx-force-cfg)", False
    return None, info.cfg


def _plan(bundle: Path, lock: BundleLock, options: PackOptions, upx: UpxTool | None) -> list[_Job]:
    jobs = []
    for f in lock.files:
        if f.role not in DLL_ROLES:
            continue
        info = read_pe(bundle / f.path)
        skip, force = upx_decision(f.path, info, options, upx)
        jobs.append(_Job(f, info, skip, force))
    return jobs


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


def _replace(tmp: Path, dest: Path) -> None:
    os.replace(tmp, dest)  # breaks the hard link to the bundle's original


def _process(job: _Job, bundle: Path, staging: Path, options: PackOptions, upx: UpxTool | None,
             progress: ProgressFn | None) -> tuple[FileOutcome, LockedFile]:
    rel = job.locked.path
    work = staging / rel
    if job.locked.pack is not None:
        return _previous(job), job.locked
    before = job.info
    after_strip = None
    signature_removed = False
    if options.strip:
        if progress:
            progress(rel, "stripping")
        result = strip_pe(bundle / rel)
        if result.changed:
            tmp = work.with_name(work.name + ".strip")
            tmp.write_bytes(result.data)
            drift = _import_drift(tmp, read_pe(tmp), _dll_names(before))
            if drift is not None:
                tmp.unlink()
                raise NpuslimError(f"{rel}: imports changed after stripping ({drift}); nothing was replaced")
            _replace(tmp, work)
            signature_removed = result.signature_removed > 0
        after_strip = len(result.data)

    status, message, seconds, after_upx = "not requested", "", None, None
    cfg_disabled = False
    if job.upx_skip is None and upx is not None:
        if progress:
            progress(rel, "packing with UPX")
        packed = work.with_name(work.name + ".upx")
        start = time.perf_counter()
        outcome = pack_file(upx, work, packed, level=options.upx_level, force=job.force_cfg)
        seconds = time.perf_counter() - start
        if outcome.ok:
            packed_info = read_pe(packed)
            drift = _import_drift(packed, packed_info, _dll_names(before), _UPX_STUB_IMPORTS)
            if drift is not None:
                packed.unlink()
                status = "failed"
                message = f"import table changed after packing ({drift}); left unpacked"
            else:
                _replace(packed, work)
                status, message, after_upx = "packed", outcome.message, packed_info.size
                cfg_disabled = before.cfg and not packed_info.cfg
                signature_removed = signature_removed or before.signed
        else:
            status = "refused" if outcome.status in ("refused", "already-packed", "unknown-format") else "failed"
            message = f"UPX: {outcome.message}"
    elif job.upx_skip and job.upx_skip != "not requested":
        status, message = "skipped", job.upx_skip

    final = read_pe(work)
    final_size = work.stat().st_size
    outcome_row = FileOutcome(
        path=rel, original_size=job.locked.size, after_strip=after_strip, after_upx=after_upx,
        final_size=final_size, upx_status=status, upx_message=message, upx_seconds=seconds,
        signature_before=before.signature, signature_after=final.signature,
        cfg_before=before.cfg, cfg_after=final.cfg, image_size=before.image_size,
    )
    record = PackRecord(
        original_size=job.locked.size, original_sha256=job.locked.sha256,
        original_signature=before.signature, original_cfg=before.cfg, after_strip=after_strip,
        stripped=options.strip and after_strip is not None and after_strip != job.locked.size,
        upx=None if status == "not requested" else status,
        upx_skipped=None if status in ("packed", "not requested") else message,
        upx_seconds=round(seconds, 3) if seconds is not None else None,
        cfg_disabled=cfg_disabled, signature_removed=signature_removed,
    )
    new_locked = replace(
        job.locked, size=final_size, sha256=sha256_file(work),
        signature=final.signature, cfg=final.cfg, debug_directory=final.has_debug, pack=record,
    )
    return outcome_row, new_locked


def _previous(job: _Job) -> FileOutcome:
    """The outcome of an earlier pack of this file, from its record (an archive-only run)."""
    rec = job.locked.pack
    assert rec is not None
    packed = rec.upx == "packed"
    status = rec.upx or "not requested"
    return FileOutcome(
        path=job.locked.path, original_size=rec.original_size, after_strip=rec.after_strip,
        after_upx=job.locked.size if packed else None, final_size=job.locked.size, upx_status=status,
        upx_message=rec.upx_skipped or "", upx_seconds=rec.upx_seconds,
        signature_before=rec.original_signature, signature_after=job.info.signature,
        cfg_before=rec.original_cfg, cfg_after=job.info.cfg, image_size=job.info.image_size,
    )


def _link_tree(bundle: Path, staging: Path, members: list[str]) -> None:
    for rel in members:
        dest = staging / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(bundle / rel, dest)
        except OSError:
            shutil.copy2(bundle / rel, dest)


def pack_bundle(bundle: Path, options: PackOptions, *, progress: ProgressFn | None = None) -> PackResult:
    """Strip and/or UPX the bundle's DLLs, update its manifest, archive it; see the module docstring."""
    started = time.perf_counter()
    check = verify_bundle(bundle)
    if not check.ok:
        raise VerifyError(f"{bundle} does not verify ({check.problems[0].message}); "
                          "run npuslim verify, or extract it again")
    lock = check.lock
    if lock.packed is not None and (options.strip or options.upx):
        raise InputError(f"{bundle} was already packed by npuslim; extract it again to pack it differently")
    upx = find_upx(options.upx_path) if options.upx else None
    jobs = _plan(bundle, lock, options, upx)

    members = [f.path for f in lock.files]
    staging = fresh_staging(bundle)
    try:
        _link_tree(bundle, staging, members)
        with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
            results = list(pool.map(lambda j: _process(j, bundle, staging, options, upx, progress), jobs))
            if progress:
                progress("", "measuring xz download sizes")
            dll_paths = [j.locked.path for j in jobs]
            # the xz size of a file packed earlier was measured then, from the original
            xz_before = list(pool.map(
                lambda j: j.locked.pack.original_xz if j.locked.pack and j.locked.pack.original_xz is not None
                else xz_size(bundle / j.locked.path), jobs))
            # a file pack left as it was compresses as before: measure only the rewritten ones
            unchanged = {lf.path for (_, lf), j in zip(results, jobs, strict=True)
                         if j.locked.pack is None and lf.sha256 == j.locked.sha256}
            xz_after = list(pool.map(lambda pair: pair[1] if pair[0] in unchanged else xz_size(staging / pair[0]),
                                     zip(dll_paths, xz_before, strict=True)))
            others = [f.path for f in lock.files if f.path not in set(dll_paths)]
            other_xz = sum(pool.map(lambda p: xz_size(bundle / p), others))
        outcomes = tuple(replace(o, xz_original=a, xz_final=b)
                         for (o, _), a, b in zip(results, xz_before, xz_after, strict=True))
        new_by_path = {lf.path: replace(lf, pack=replace(lf.pack, original_xz=xz))
                       for (_, lf), xz in zip(results, xz_before, strict=True) if lf.pack is not None}
        files = tuple(new_by_path.get(f.path, f) for f in lock.files)
        packed_info = dict(lock.packed or {})
        packed_info.update({
            "tool_version": __version__,
            "strip": options.strip or bool(packed_info.get("strip")),
            "upx": ({"path": str(upx.path), "version": upx.version_text, "level": options.upx_level or "default",
                     "force_cfg": options.upx_force_cfg, "exclude": list(options.upx_exclude)}
                    if upx else packed_info.get("upx")),
        })
        new_lock = lock.with_files(files, packed=packed_info)
        (staging / BUNDLE_MANIFEST).write_text(to_json(new_lock), encoding="utf-8")
        for extra in ("size-report.md", "size-report.json"):
            if (bundle / extra).exists():
                shutil.copy2(bundle / extra, staging / extra)
        move_into_place(staging, bundle)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise

    archive, archive_size = None, None
    if options.archive != "none":
        if progress:
            progress("", f"writing the {options.archive} archive")
        dest = options.archive_path or archive_name(bundle, options.archive)
        archive = write_archive(bundle, [f.path for f in new_lock.files] + [BUNDLE_MANIFEST], options.archive, dest)
        archive_size = archive.stat().st_size
    other_bytes = sum(f.size for f in new_lock.files if f.role not in DLL_ROLES)
    return PackResult(bundle, new_lock, options, upx, outcomes, other_bytes, other_xz, archive, archive_size,
                      time.perf_counter() - started)
