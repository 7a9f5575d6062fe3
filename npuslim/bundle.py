"""Writing a planned bundle: copy into a staging folder, hash, then move into place.

An interrupted run leaves no half bundle at OUT: everything is written into
``.OUT.npuslim-staging-PID`` beside it and renamed at the end. The source
install is only ever read.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import shutil
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from npuslim import __version__
from npuslim.errors import InputError, OutputError
from npuslim.lockfile import BundleLock, LockedFile, to_json
from npuslim.plan import BUNDLE_MANIFEST, BundlePlan, PlannedFile

CHUNK = 1 << 20
STAGING_MARK = ".npuslim-staging-"

ProgressFn = Callable[[PlannedFile, int], None]


@dataclass(frozen=True)
class ExtractResult:
    out: Path
    lock: BundleLock


def created_timestamp() -> str:
    """``SOURCE_DATE_EPOCH`` when set (reproducible builds), else now, in UTC ISO 8601."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = (_dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc) if epoch and epoch.isdigit()
            else _dt.datetime.now(_dt.timezone.utc))
    return when.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_hashing(src: Path, dst: Path, planned: PlannedFile, progress: ProgressFn | None) -> str:
    digest = hashlib.sha256()
    done = 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while chunk := fin.read(CHUNK):
            digest.update(chunk)
            fout.write(chunk)
            done += len(chunk)
            if progress:
                progress(planned, len(chunk))
    if done != planned.size:
        raise InputError(f"{src}: changed while it was copied ({planned.size} bytes planned, {done} read)")
    return digest.hexdigest()


def _pid_alive(pid: int) -> bool:
    if sys.platform == "win32":
        # os.kill(pid, 0) would send CTRL_C_EVENT there; ask for a handle instead.
        import ctypes

        synchronize = 0x00100000
        handle = ctypes.windll.kernel32.OpenProcess(synchronize, False, pid)  # type: ignore[attr-defined]
        if not handle:
            return False
        ctypes.windll.kernel32.CloseHandle(handle)  # type: ignore[attr-defined]
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clean_stale_staging(out: Path) -> None:
    prefix = f".{out.name}{STAGING_MARK}"
    if not out.parent.is_dir():
        return
    for entry in out.parent.iterdir():
        if entry.name.startswith(prefix) and entry.is_dir():
            pid = entry.name[len(prefix):]
            if pid.isdigit() and not _pid_alive(int(pid)):
                shutil.rmtree(entry, ignore_errors=True)


def check_output(out: Path, install_root: Path, *, force: bool) -> None:
    """Refuse an OUT that would touch the source install, or that holds files (unless ``force``)."""
    out_r, src_r = out.resolve(), install_root.resolve()
    if out_r == src_r or src_r in out_r.parents or out_r in src_r.parents:
        raise OutputError(f"{out}: overlaps the source install {install_root}; choose another folder")
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise OutputError(f"{out}: exists and is not empty (use --force to replace it)")


def _fault_after(count: int) -> None:
    # Fault injection for the tests: NPUSLIM_FAULT_AFTER_FILES=N kills this
    # process (SIGKILL, no clean-up) after N files are written.
    limit = os.environ.get("NPUSLIM_FAULT_AFTER_FILES")
    if limit is not None and limit.isdigit() and count >= int(limit):
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))


def locked_file(planned: PlannedFile, sha256: str) -> LockedFile:
    info = planned.info
    return LockedFile(
        path=planned.dest, role=planned.role, size=planned.size, sha256=sha256, reason=planned.reason,
        chain=planned.chain, feature=planned.feature,
        machine=info.machine if info else None,
        file_version=info.file_version if info else None,
        signature=info.signature if info else None,
        cfg=info.cfg if info else None,
        debug_directory=info.has_debug if info else None,
    )


def build_lock(plan: BundlePlan, files: tuple[LockedFile, ...],
               budget: dict[str, Any] | None = None) -> BundleLock:
    install = plan.install
    manifest = plan.manifest
    return BundleLock(
        tool_version=__version__,
        created=created_timestamp(),
        source={
            "origin": install.origin, "layout": install.layout, "root": str(install.root),
            "openvino_version": install.version,
            "size": plan.source_size, "size_measured_as": plan.source_size_how,
            **({"onnxruntime": plan.onnxruntime.record()} if plan.onnxruntime else {}),
        },
        manifest={"name": manifest.name, "path": str(manifest.source), "sha256": sha256_file(manifest.source)},
        features=tuple(sorted(plan.features)),
        features_requested=tuple(sorted(plan.features_requested)),
        features_dropped=tuple({"name": n, "reason": r} for n, r in plan.features_dropped),
        files=files,
        requirements=tuple(
            {"kind": r.kind, "name": r.name, "dlls": list(r.dlls), "note": r.note} for r in plan.requirements
        ),
        missing=tuple({"name": m.name, "required_by": list(m.required_by)} for m in plan.missing),
        headers=(
            {"kept": len(plan.headers.kept), "total": plan.headers.total} if plan.headers else None
        ),
        warnings=plan.warnings,
        totals={"files": len(files), "bytes": sum(f.size for f in files)},
        budget=budget,
    )


def write_bundle(plan: BundlePlan, out: Path, *, force: bool = False,
                 progress: ProgressFn | None = None, budget: dict[str, Any] | None = None,
                 finish: Callable[[Path, BundleLock], None] | None = None) -> ExtractResult:
    """Copy the planned files into ``out`` with a bundle manifest, atomically.

    ``budget`` (a checked budget, ``npuslim.budget``) is recorded in the manifest;
    ``finish(staging, lock)`` may add files that describe the bundle (the SBOM)
    before the staging folder is moved into place.
    """
    check_output(out, plan.install.root, force=force)
    staging = fresh_staging(out)
    try:
        locked: list[LockedFile] = []
        for count, planned in enumerate(plan.files, start=1):
            dest = staging / planned.dest
            dest.parent.mkdir(parents=True, exist_ok=True)
            digest = _copy_hashing(planned.source, dest, planned, progress)
            locked.append(locked_file(planned, digest))
            _fault_after(count)
        lock = build_lock(plan, tuple(locked), budget)
        (staging / BUNDLE_MANIFEST).write_text(to_json(lock), encoding="utf-8")
        if finish is not None:
            finish(staging, lock)
        move_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExtractResult(out, lock)


def fresh_staging(out: Path) -> Path:
    """An empty staging folder beside ``out``; those left by dead runs are removed first."""
    out.parent.mkdir(parents=True, exist_ok=True)
    _clean_stale_staging(out)
    staging = out.parent / f".{out.name}{STAGING_MARK}{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    return staging


def move_into_place(staging: Path, out: Path) -> None:
    """Replace ``out`` (if any) by ``staging`` with two renames; the old tree is removed last."""
    if out.exists():
        old = out.parent / f".{out.name}.npuslim-old-{os.getpid()}"
        os.replace(out, old)
        os.replace(staging, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, out)
