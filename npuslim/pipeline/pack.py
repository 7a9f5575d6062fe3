"""``pack``: the stages in order for one bundle, from its lock file to a packed copy beside it.

1. check the outputs (OUT, the archive) and verify the input bundle;
2. plan each DLL's work (``npuslim.act.pack.upx_decision``);
3. act in a staging folder: copy, strip, UPX (``npuslim.act.pack``), archive members as files finish;
4. check the packed bundle against the size budget;
5. report: the lock file, SBOM, size report, archive; then move OUT into place.

``pack_bundle(BUNDLE, OUT, options)`` never writes into BUNDLE, and OUT appears
whole or not at all.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from npuslim import __version__
from npuslim.act.archive import Archiver, ArchiveResult, Member
from npuslim.act.pack import (
    SHRINKERS,
    WORK_DIR,
    Download,
    Job,
    OutputPlan,
    PackContext,
    PackOptions,
    PackResult,
    check_outputs,
    default_out,
    process_file,
    upx_decision,
    upx_identity,
    xz_cached,
)
from npuslim.act.staging import fresh_staging, move_into_place, release_output
from npuslim.act.steps import LoadWrap, Shrinker, input_copy
from npuslim.act.upx import UpxTool, find_upx, reset_stop, stop_all
from npuslim.act.workcache import WorkCache, copy_hashing, open_cache, sha256_path
from npuslim.check.budget import Subject, archive_subject, budget_to_dict, check_budget, enforce, lock_subject
from npuslim.check.verify import verify_bundle
from npuslim.errors import InputError, NpuslimError, OutputError, VerifyError
from npuslim.formats.lock import (
    BudgetRecord,
    BundleLock,
    LockedFile,
    PackedRecord,
    PackInput,
    PackOptionsRecord,
    UpxRecord,
    to_json,
)
from npuslim.formats.pe import read_once
from npuslim.layout import DLL_ROLES, LOCK_FILE, REPORT_JSON, REPORT_MD, SBOM_FILE
from npuslim.platforms import Platform
from npuslim.progress import ProgressEvent, ProgressFn, StepState
from npuslim.source.locate import cache_dir
from npuslim.units import parse_budget
from npuslim.waiting import results

Limit = tuple[int, str, str]  # (bytes, as written, where it comes from)


def pack_bundle(bundle: Path, out: Path | None, options: PackOptions, *,
                progress: ProgressFn | None = None) -> PackResult:
    """Pack ``bundle`` into ``out`` (default ``BUNDLE.packed``); see the module docstring.

    Errors: ``OutputError`` (7) for an output path that cannot be used, before
    any work; ``VerifyError`` (5) when the bundle does not verify; ``InputError``
    (4) for a bundle that is itself a pack output; ``ToolError`` (6) when UPX is
    asked for and missing. Ctrl-C stops UPX and leaves no staging folder. On
    any failure the lock on OUT (taken by the output check) is released.
    """
    out = out or default_out(bundle)
    try:
        return _pack_bundle(bundle, out, options, progress)
    except BaseException:
        release_output(out)
        raise


def pack_budget_limit(max_size: str | None, lock: BundleLock) -> Limit | None:
    """(bytes, as written, origin) of the size budget for the packed bundle: ``--max-size``, else the
    budget recorded in the input bundle's lock file, else ``None``."""
    if max_size is not None:
        return parse_budget(max_size), max_size, "--max-size"
    recorded = lock.budget
    if recorded is not None:
        limit = parse_budget(recorded.limit, where="the input bundle's lock file: budget.limit")  # bounded
        return (limit, recorded.limit_text or str(recorded.limit),
                f"the input bundle's budget, from {recorded.origin or 'its manifest'}")
    return None


# -- 1. check and plan (nothing written yet)

@dataclass(frozen=True)
class _Plan:
    outputs: OutputPlan
    input_sha: str
    lock: BundleLock
    upx: UpxTool | None
    jobs: tuple[Job, ...]
    limit: Limit | None
    platform: Platform
    shrinker: Shrinker
    strip_tool: str | None
    strip_id: str


def _verified_lock(bundle: Path, progress: ProgressFn | None) -> BundleLock:
    if progress:
        progress(ProgressEvent("verify", "", StepState.START))
    check = verify_bundle(bundle.absolute())  # a relative path: the Linux closure check expands $ORIGIN
    if not check.ok:
        raise VerifyError(f"{bundle} does not verify ({check.problems[0].message}); "
                          "run npuslim verify, or extract it again")
    if check.lock.packed is not None:
        raise InputError(f"{bundle} is already a packed bundle; pack the bundle npuslim extract wrote")
    if progress:
        progress(ProgressEvent("verify", "", StepState.DONE, f"{len(check.lock.files)} files"))
    return check.lock


def _plan(bundle: Path, out: Path, options: PackOptions, progress: ProgressFn | None) -> _Plan:
    lock_path = bundle / LOCK_FILE
    if not bundle.is_dir() or not lock_path.is_file():
        raise VerifyError(f"{bundle}: not an npuslim bundle ({LOCK_FILE} is missing)")
    input_sha = sha256_path(lock_path)
    outputs = check_outputs(bundle, out, options, input_sha)
    upx = find_upx(options.upx_path) if options.upx else None
    with read_once():  # the closure check and the plan read the same DLLs; nothing is written here
        lock = _verified_lock(bundle, progress)
        limit = pack_budget_limit(options.max_size, lock)
        platform = _platform(lock)
        shrinker = SHRINKERS[platform]
        jobs = []
        for f in lock.files:
            if f.role in DLL_ROLES and f.link_to is None:
                info = shrinker.read(bundle / f.path)
                jobs.append(Job(f, info, upx_decision(f.path, info, options, upx, shrinker=shrinker)))
    strip_tool, strip_id = shrinker.strip_tool(options, tuple(j.info for j in jobs))
    return _Plan(outputs, input_sha, lock, upx, tuple(jobs), limit, platform, shrinker, strip_tool, strip_id)


def _platform(lock: BundleLock) -> Platform:
    """The platform of the bundle being packed, as its lock file says (decided here, once)."""
    return lock.platform


# -- 2. act in staging

def _run_all(pool: ThreadPoolExecutor, fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    return results([pool.submit(fn, item) for item in items])


class _Run:
    """The resources of one pack run: staging, the worker pools, the archiver, the cache."""

    def __init__(self, bundle: Path, out: Path, options: PackOptions, plan: _Plan,
                 progress: ProgressFn | None) -> None:
        self.cache = open_cache(cache_dir() / "pack") if options.use_cache else WorkCache(None)
        self.staging = fresh_staging(out)
        self.warnings: list[str] = []
        archive = plan.outputs.archive
        self.archive_tmp = archive.with_name(f".{archive.name}.tmp-{os.getpid()}") if archive else None
        self.ctx = PackContext(bundle, self.staging, self.staging / WORK_DIR, options, plan.upx,
                               upx_identity(plan.upx) if plan.upx else "", self.cache, progress,
                               threading.Event(), strip_tool=plan.strip_tool, strip_id=plan.strip_id,
                               load_wrap=self._load_wrap(options, plan.platform))
        self.pool = ThreadPoolExecutor(max_workers=max(1, options.jobs))
        # archive members are compressed as soon as each file is final, while UPX still works on others
        self.apool = ThreadPoolExecutor(max_workers=max(1, options.jobs))
        self.archiver = (Archiver(options.archive, top=out.name, work=self.ctx.work, cache=self.cache,
                                  pool=self.apool, cancel=self.ctx.cancel) if archive is not None else None)

    def _load_wrap(self, options: PackOptions, platform: Platform) -> LoadWrap | None:
        """``--check-load`` on a Linux bundle: the load check's child process in the sandbox
        (``npuslim.check.sandbox``; said in a warning when there is none). Else ``None``: no bundle code runs."""
        if not (options.check_load and options.upx and platform is Platform.LINUX):
            return None
        from npuslim.check.sandbox import find_sandbox

        sandbox = find_sandbox()
        if not sandbox.confined:
            self.warnings.append(f"--check-load: {sandbox.description}")
        # the child is this Python: its folders are bound back, read-only (a venv may sit under /tmp,
        # which the sandbox replaces with a private one, and then the child could not even start)
        python = (Path(sys.executable).parent, Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix))
        return lambda args, work: sandbox.wrap(args, work=work, visible=python)

    def add_member(self, path: str, file: Path, sha256: str, size: int, link_to: str | None = None) -> None:
        if self.archiver is not None:
            self.archiver.add(Member(path, file, sha256, size, link_to))

    def abort(self) -> None:
        """Stop every worker and UPX, and remove staging and the unfinished archive."""
        self.ctx.cancel.set()
        stop_all()
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.apool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self.staging, ignore_errors=True)
        if self.archive_tmp is not None:
            self.archive_tmp.unlink(missing_ok=True)


def _copy_the_rest(run: _Run, bundle: Path, plan: _Plan) -> None:
    """Every file that is not packed, into staging (a link name stays a symlink, never a second copy)."""
    dll_paths = {j.locked.path for j in plan.jobs}
    for f in plan.lock.files:
        (run.staging / f.path).parent.mkdir(parents=True, exist_ok=True)
    run.ctx.on_final = lambda lf: run.add_member(lf.path, run.staging / lf.path, lf.sha256, lf.size)
    for f in plan.lock.files:
        if f.path in dll_paths:
            continue
        if f.link_to is not None:
            os.symlink(f.link_to, run.staging / f.path)
        else:
            _copy_checked(bundle / f.path, run.staging / f.path, f)
        run.add_member(f.path, run.staging / f.path, f.sha256, f.size, f.link_to)


def _copy_checked(src: Path, dest: Path, locked: LockedFile) -> None:
    """Copy one bundle file into staging, hashed as it is read: what OUT holds is what verify checked."""
    sha, size = copy_hashing(src, dest, limit=locked.size)
    if (sha, size) != (locked.sha256, locked.size):
        raise VerifyError(f"{src}: changed since it was verified (its sha256 is no longer the lock file's); "
                          "nothing was written")


def _pack_files(run: _Run, plan: _Plan) -> tuple[tuple[LockedFile, ...], dict[str, float]]:
    """Strip and UPX every DLL (the largest first: the run ends on a small one); the new file list."""
    processed = _run_all(run.pool, lambda j: process_file(j, run.ctx, plan.shrinker),
                         sorted(plan.jobs, key=lambda j: -j.locked.size))
    done = {lf.path: lf for lf, _ in processed}
    upx_seconds = {lf.path: secs for lf, secs in processed if secs is not None}
    return tuple(done.get(f.path, f) for f in plan.lock.files), upx_seconds


def _compare_download(run: _Run, plan: _Plan,
                      files: tuple[LockedFile, ...]) -> tuple[tuple[LockedFile, ...], Download]:
    """xz -9 of each file before and after (``--compare-download``); a link name has no content of its own."""
    run.ctx.emit("xz", "", "start")
    # each file as read and checked in this run: a DLL's private copy, any other file's copy in staging
    read = {j.locked.path: input_copy(j, run.ctx) for j in plan.jobs}
    sizes = _run_all(run.pool, lambda pair: (0, 0) if pair[0].link_to is not None else (
        xz_cached(read.get(pair[0].path, run.staging / pair[0].path), pair[0].sha256, pair[0].size, run.cache),
        xz_cached(run.staging / pair[1].path, pair[1].sha256, pair[1].size, run.cache)),
        list(zip(plan.lock.files, files, strict=True)))
    files = tuple(replace(f, pack=replace(f.pack, original_xz=a, xz_final=b)) if f.pack else f
                  for f, (a, b) in zip(files, sizes, strict=True))
    download = Download(sum(a for a, _ in sizes), sum(b for _, b in sizes), "xz -9 of each file")
    run.ctx.emit("xz", "", "done", f"{download.unpacked} -> {download.packed} bytes")
    return files, download


# -- 3. check against the budget, then write the lock file, SBOM and archive

def _packed_lock(bundle: Path, out: Path, options: PackOptions, plan: _Plan,
                 files: tuple[LockedFile, ...]) -> tuple[BundleLock, Subject | None]:
    """The output's lock file; the packed bundle is checked against the budget before its archive exists."""
    packed_info = PackedRecord(
        tool_version=__version__,
        # names and hashes, no path of this machine: the same bundle packed anywhere gives the same lock
        input=PackInput(path=bundle.absolute().name, manifest_sha256=plan.input_sha),
        options=PackOptionsRecord.of(options.recorded()),
        upx=UpxRecord(path=plan.upx.path.name, version=plan.upx.version_text) if plan.upx else None,
    )
    lock = plan.lock.with_files(files, packed=packed_info)
    if plan.limit is None:
        return lock, None
    subject = lock_subject(lock, name="packed bundle", path=str(out))
    checked = check_budget(plan.limit[0], [subject], limit_text=plan.limit[1], origin=plan.limit[2])
    enforce(checked)
    return replace(lock, budget=BudgetRecord.of(budget_to_dict(checked))), subject


def _write_sbom(run: _Run, bundle: Path, out: Path, lock: BundleLock) -> Path | None:
    if not (run.ctx.options.sbom or (bundle / SBOM_FILE).is_file()):
        return None
    from npuslim.report.sbom import write_sbom  # cyclonedx is imported only when an SBOM is written

    run.ctx.emit("sbom", "", "start")
    sbom = write_sbom(run.staging, lock, name=out.name)
    run.add_member(SBOM_FILE, sbom, sha256_path(sbom), sbom.stat().st_size)
    run.ctx.emit("sbom", "", "done", SBOM_FILE)
    return sbom


def _finish_archive(run: _Run, plan: _Plan) -> ArchiveResult | None:
    target = plan.outputs.archive
    if run.archiver is None or target is None or run.archive_tmp is None:
        return None
    run.ctx.emit("archive", "", "start", run.ctx.options.archive)
    lock_file = run.staging / LOCK_FILE
    run.add_member(LOCK_FILE, lock_file, sha256_path(lock_file), lock_file.stat().st_size)
    archive = replace(run.archiver.finish(run.archive_tmp), path=target)
    run.ctx.emit("archive", "", "done", f"{target} ({archive.size} bytes)")
    return archive


def _final_budget(run: _Run, plan: _Plan, subject: Subject | None,
                  archive: ArchiveResult | None) -> dict[str, Any] | None:
    """The packed bundle and its archive against the budget (exit 9 above it)."""
    if plan.limit is None or subject is None:
        return None
    subjects = [subject]
    if archive is not None and run.archive_tmp is not None:
        subjects.append(replace(archive_subject(run.archive_tmp), path=str(archive.path)))
    full = check_budget(plan.limit[0], subjects, limit_text=plan.limit[1], origin=plan.limit[2])
    enforce(full)
    return budget_to_dict(full)


def _write_reports(result: PackResult, folder: Path) -> None:
    from npuslim.report.size_report import SizeReport, report_json, report_markdown

    # the copies in OUT name OUT and its archive, no path of this machine (the terminal's report does)
    named = replace(result, out=Path(result.out.name), sbom=Path(result.sbom.name) if result.sbom else None,
                    archive=replace(result.archive, path=Path(result.archive.path.name)) if result.archive else None)
    report = SizeReport.of(named, result.options.baseline)
    (folder / REPORT_MD).write_text(report_markdown(report), encoding="utf-8")
    (folder / REPORT_JSON).write_text(report_json(report), encoding="utf-8")


# -- the run

def _work(run: _Run, bundle: Path, out: Path, options: PackOptions, plan: _Plan, started: float) -> PackResult:
    run.ctx.work.mkdir()
    _copy_the_rest(run, bundle, plan)
    files, upx_seconds = _pack_files(run, plan)
    download = Download(None, None, "")
    if options.compare_download:
        files, download = _compare_download(run, plan, files)
    lock, subject = _packed_lock(bundle, out, options, plan, files)
    (run.staging / LOCK_FILE).write_text(to_json(lock), encoding="utf-8")
    sbom = _write_sbom(run, bundle, out, lock)
    archive = _finish_archive(run, plan)
    if archive is not None and options.archive == "tar.xz" and not options.compare_download:
        download = Download(None, archive.size, "the tar.xz archive")
    budget = _final_budget(run, plan, subject, archive)
    result = PackResult(bundle, out, lock, options, plan.upx, archive, download,
                        time.perf_counter() - started, run.cache.hits, run.cache.misses,
                        (*run.warnings, *run.cache.problems),
                        upx_seconds, budget, out / SBOM_FILE if sbom is not None else None,
                        dict(sorted(run.ctx.strip_messages.items())), plan.platform)
    shutil.rmtree(run.ctx.work)
    run.ctx.emit("reports", "", "start")
    _write_reports(result, run.staging)
    run.ctx.emit("reports", "", "done", f"{REPORT_MD}, {REPORT_JSON}")
    return result


def _pack_bundle(bundle: Path, out: Path, options: PackOptions, progress: ProgressFn | None) -> PackResult:
    started = time.perf_counter()
    plan = _plan(bundle, out, options, progress)
    run = _Run(bundle, out, options, plan, progress)
    try:
        result = _work(run, bundle, out, options, plan, started)
        run.pool.shutdown()
        run.apool.shutdown()
        move_into_place(run.staging, out)
        if run.archive_tmp is not None and plan.outputs.archive is not None:
            os.replace(run.archive_tmp, plan.outputs.archive)
    except BaseException as exc:
        run.abort()
        if isinstance(exc, OSError) and not isinstance(exc, NpuslimError):
            raise OutputError(f"{out}: cannot write ({exc.strerror or exc})") from exc
        raise
    finally:
        reset_stop()
    return result
