"""Writing a planned bundle: copy into a staging folder, hash, then move into place.

An interrupted run leaves no half bundle at OUT: everything is written into
``.OUT.npuslim-staging-PID`` beside it and renamed at the end. The source
install is only ever read.

The one output check (``check_output``) runs before any work: OUT must not be
a symbolic link, lie below a file, overlap the source, have a name too long
for its staging folder, or be another run's output in progress (a lock file
``.OUT.npuslim-lock`` beside it, holding the writer's pid). A non-empty OUT is
replaced only with ``force``, and only when it is an npuslim bundle holding
nothing npuslim did not write.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import errno
import hashlib
import os
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from npuslim import __version__
from npuslim.atomic import pid_alive, remove_abandoned
from npuslim.errors import InputError, OutputError, VerifyError, os_reason
from npuslim.formats.binary import binary_fields
from npuslim.formats.lock import (
    BudgetRecord,
    BundleLock,
    DroppedFeature,
    HeaderCount,
    LockedFile,
    ManifestRecord,
    MissingRecord,
    SourceRecord,
    TargetRequirement,
    Totals,
    to_json,
)
from npuslim.layout import LOCK_FILE, NPUSLIM_FILES, PlannedFile
from npuslim.paths import cache_dir, join_inside, open_regular, sha256_file
from npuslim.plan.bundle import BundlePlan
from npuslim.progress import ProgressFn, Reporter
from npuslim.source.locate import source_record

CHUNK = 1 << 20
STAGING_MARK = ".npuslim-staging-"



@dataclass(frozen=True)
class ExtractResult:
    out: Path
    lock: BundleLock


# The last second of year 9999: ISO 8601 timestamps (and zip/tar dates) end there.
MAX_EPOCH = 253402300799


def source_date_epoch() -> int | None:
    """``SOURCE_DATE_EPOCH`` as seconds, ``None`` when unset or empty; ``InputError`` when malformed."""
    text = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 12 or int(text) > MAX_EPOCH:
        shown = text if len(text) <= 30 else text[:27] + "..."
        raise InputError(f"SOURCE_DATE_EPOCH={shown!r}: expected whole seconds since 1970 (0 to {MAX_EPOCH})")
    return int(text)


def created_timestamp() -> str:
    """``SOURCE_DATE_EPOCH`` when set (reproducible builds), else now, in UTC ISO 8601."""
    epoch = source_date_epoch()
    when = (dt.datetime.fromtimestamp(epoch, dt.timezone.utc) if epoch is not None
            else dt.datetime.now(dt.timezone.utc))
    return when.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _copy_hashing(src: Path, dst: Path, planned: PlannedFile, progress: Reporter) -> str:
    digest = hashlib.sha256()
    done = 0
    with open_regular(src) as fin:
        try:
            fout = open(dst, "xb")  # noqa: SIM115 - closed by the with below; only opening is an OutputError
        except OSError as exc:
            raise OutputError(f"{dst}: cannot write: {os_reason(exc)}") from exc
        with fout:
            while True:
                try:
                    chunk = fin.read(CHUNK)
                except OSError as exc:
                    raise InputError(f"{src}: cannot read: {os_reason(exc)}") from exc
                if not chunk:
                    break
                digest.update(chunk)
                try:
                    fout.write(chunk)
                except OSError as exc:
                    raise OutputError(f"{dst}: cannot write: {os_reason(exc)}") from exc
                done += len(chunk)
                if done > planned.size:
                    break
                progress.advance("copy", "", len(chunk))
    if done != planned.size:
        raise InputError(f"{src}: changed while it was copied ({planned.size} bytes planned, {done} read)")
    return digest.hexdigest()


def _clean_stale_staging(out: Path) -> None:
    remove_abandoned(out.parent, f".{out.name}{STAGING_MARK}")


# Room the staging and lock names need beside OUT's own name (".NAME.npuslim-staging-PID").
_NAME_ROOM = 40
_MAX_NAME = 255

_HELD_LOCKS: dict[Path, Path] = {}


def _lock_path(out: Path) -> Path:
    return out.parent / f".{out.name}.npuslim-lock"


def lock_output(out: Path) -> None:
    """Take the lock on ``out`` (a file ``.OUT.npuslim-lock`` beside it, created exclusively, holding
    this process's pid); ``OutputError`` when another live run holds it. Re-entrant in one process;
    released by ``move_into_place``, ``release_output`` or at exit."""
    key = out.absolute()
    if key in _HELD_LOCKS:
        return
    lock = _lock_path(out)
    for _attempt in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                holder = lock.read_text(encoding="ascii", errors="replace").strip()
            except OSError:
                holder = ""
            if _stale_lock(lock, holder):
                lock.unlink(missing_ok=True)  # left by a run that died
                continue
            who = f"pid {holder}" if holder.isdigit() else "starting"
            raise OutputError(f"{out}: another npuslim run ({who}) is writing it; try again when it has "
                              f"finished (or remove {lock} if no npuslim is running)") from None
        except OSError as exc:
            raise OutputError(f"{out}: cannot write beside it: {os_reason(exc)}") from exc
        try:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(str(os.getpid()))
        except OSError as exc:
            lock.unlink(missing_ok=True)
            raise OutputError(f"{out}: cannot write beside it: {os_reason(exc)}") from exc
        _HELD_LOCKS[key] = lock
        return
    raise OutputError(f"{out}: cannot take the lock {lock}")


def _stale_lock(lock: Path, holder: str) -> bool:
    """A lock whose process is gone (or is this one: a lock this process no longer holds), or an
    empty one older than a minute (its run died between creating and filling it)."""
    if holder.isdigit():
        return int(holder) == os.getpid() or not pid_alive(int(holder))
    try:
        return time.time() - lock.stat().st_mtime > 60
    except OSError:
        return False


def release_output(out: Path) -> None:
    """Give up the lock ``lock_output`` took on ``out`` (nothing when not held)."""
    lock = _HELD_LOCKS.pop(out.absolute(), None)
    if lock is not None:
        lock.unlink(missing_ok=True)


@atexit.register
def _release_all() -> None:
    for lock in list(_HELD_LOCKS.values()):
        with contextlib.suppress(OSError):
            lock.unlink()
    _HELD_LOCKS.clear()


def npuslim_files(folder: Path, *, also: frozenset[str] = frozenset()) -> set[str] | None:
    """The files (bundle paths) an npuslim bundle at ``folder`` says npuslim wrote: its manifest's
    files, the manifest itself, the size reports and ``also``; ``None`` when ``folder`` holds no
    readable lock file."""
    found = npuslim_links(folder, also=also)
    return None if found is None else found[1]


def npuslim_links(folder: Path, *, also: frozenset[str] = frozenset()
                  ) -> tuple[dict[str, str], set[str]] | None:
    """``(link names -> their recorded targets, every file npuslim wrote)`` of the bundle at
    ``folder`` (see ``npuslim_files``); ``None`` when it holds no readable lock file."""
    from npuslim.formats.lock import read_lock

    try:
        lock = read_lock(folder, LOCK_FILE)
    except VerifyError:
        return None
    links = {f.path: f.link_to for f in lock.files if f.link_to is not None}
    return links, {f.path for f in lock.files} | NPUSLIM_FILES | set(also)


def _foreign_files(folder: Path, ours: set[str], links: dict[str, str] | None = None) -> list[str]:
    """Files under ``folder`` that are not ``ours``; a symbolic link is ours only when it is a
    recorded link name (Linux bundles) pointing where the lock file says."""
    links = links or {}
    foreign: list[str] = []
    for dirpath, dirs, names in os.walk(folder):
        for name in names + [d for d in dirs if (Path(dirpath) / d).is_symlink()]:
            full = Path(dirpath) / name
            rel = full.relative_to(folder).as_posix()
            if full.is_symlink():
                if links.get(rel) is None or os.readlink(full) != links[rel]:
                    foreign.append(rel)
            elif rel not in ours:  # exactly: on a case-sensitive file system TBB12.DLL is not bin/tbb12.dll
                foreign.append(rel)
        if len(foreign) > 3:
            break
    return sorted(foreign)


def check_name(out: Path) -> None:
    """OUT must end in a real name (not ``.``, ``..`` or ``/``) short enough for its staging folder."""
    if out.name in ("", ".", ".."):
        raise OutputError(f"{out}: name the bundle folder itself (its staging folder and lock go beside it)")
    if len(os.fsencode(out.name)) + _NAME_ROOM > _MAX_NAME:
        raise OutputError(f"{out.name[:60]}...: the name is too long ({len(out.name)} characters; at most "
                          f"{_MAX_NAME - _NAME_ROOM})")


def check_output(out: Path, install_root: Path, *, force: bool, also_ours: frozenset[str] = frozenset()) -> None:
    """The one output check, before any work; ``OutputError`` (exit 7) naming the path.

    Refused: an OUT that is a symbolic link, lies below a file, overlaps the
    source install, has a name too long for its staging folder, or that
    another run is writing (the lock is taken here). A non-empty OUT is
    refused unless ``force``; with ``force`` it must be an npuslim bundle
    (``npuslim-bundle.json``) holding only files npuslim wrote (those its
    manifest lists, the size reports and ``also_ours``): anything else there is
    never deleted.
    """
    check_name(out)
    if out.is_symlink():
        raise OutputError(f"{out}: is a symbolic link; name the folder itself")
    for ancestor in out.absolute().parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise OutputError(f"{out}: {ancestor} is not a folder")
            break
    try:
        out_r, src_r = out.resolve(), install_root.resolve()
    except (OSError, RuntimeError) as exc:
        raise OutputError(f"{out}: cannot resolve the path ({exc})") from exc
    if out_r == src_r or src_r in out_r.parents or out_r in src_r.parents:
        raise OutputError(f"{out}: overlaps the source install {install_root}; choose another folder")
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder")
    if out.parent.exists():
        lock_output(out)
    try:
        _check_contents(out, force=force, also_ours=also_ours)
    except BaseException:
        release_output(out)
        raise


def _check_contents(out: Path, *, force: bool, also_ours: frozenset[str]) -> None:
    if not out.is_dir():
        return
    try:
        empty = not any(out.iterdir())
    except OSError as exc:
        raise OutputError(f"{out}: cannot list: {os_reason(exc)}") from exc
    if empty:
        return
    if not force:
        raise OutputError(f"{out}: exists and is not empty (--force replaces an npuslim bundle)")
    found = npuslim_links(out, also=also_ours)
    if found is None:
        raise OutputError(f"{out}: not an npuslim bundle (no valid {LOCK_FILE}); --force only "
                          "replaces a bundle npuslim wrote")
    links, ours = found
    foreign = _foreign_files(out, ours, links)
    if foreign:
        listed = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise OutputError(f"{out}: holds files npuslim did not write ({listed}); --force never deletes them")


def _fault_after(count: int) -> None:
    # Fault injection for the tests: NPUSLIM_FAULT_AFTER_FILES=N kills this
    # process (SIGKILL, no clean-up) after N files are written.
    limit = os.environ.get("NPUSLIM_FAULT_AFTER_FILES")
    if limit is not None and limit.isdigit() and count >= int(limit):
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))


def locked_file(planned: PlannedFile, sha256: str) -> LockedFile:
    return LockedFile(
        path=planned.dest, role=planned.role, size=planned.size, sha256=sha256, reason=planned.reason,
        chain=planned.chain, feature=planned.feature, link_to=planned.link_to, **binary_fields(planned.info),
    )


def host_path_scrubber(plan: BundlePlan) -> Callable[[str], str]:
    """A function that puts names in place of this machine's folders in a line for the lock file:
    the install's root (its name, or the wheel's), ONNX Runtime's folder, npuslim's cache, the home folder."""
    install = plan.install
    names = {str(install.root): source_record(install)["root"], str(cache_dir()): "<npuslim cache>",
             str(Path.home()): "~"}
    if plan.onnxruntime is not None:
        names[str(plan.onnxruntime.dll_dir)] = plan.onnxruntime.record()["dll_dir"]
    ordered = sorted(((k, v) for k, v in names.items() if len(k) > 1), key=lambda kv: -len(kv[0]))

    def scrub(text: str) -> str:
        for path, name in ordered:
            text = text.replace(path, name)
        return text
    return scrub


def build_lock(plan: BundlePlan, files: tuple[LockedFile, ...],
               budget: dict[str, Any] | None = None) -> BundleLock:
    install = plan.install
    manifest = plan.manifest
    scrub = host_path_scrubber(plan)
    return BundleLock(
        tool_version=__version__,
        created=created_timestamp(),
        source=SourceRecord.of({  # names, versions and hashes: no path of this machine (same source, same lock)
            **source_record(install), "size": plan.source_size, "size_measured_as": scrub(plan.source_size_how),
            **({"onnxruntime": plan.onnxruntime.record()} if plan.onnxruntime else {}),
        }),
        manifest=ManifestRecord(manifest.name, manifest.source.name, sha256_file(manifest.source)),
        features=tuple(sorted(plan.features)),
        features_requested=tuple(sorted(plan.features_requested)),
        features_dropped=tuple(DroppedFeature(n, r) for n, r in plan.features_dropped),
        files=files,
        requirements=tuple(TargetRequirement(r.kind, r.name, tuple(r.dlls), r.note) for r in plan.requirements),
        missing=tuple(MissingRecord(m.name, tuple(m.required_by)) for m in plan.missing),
        headers=HeaderCount(len(plan.headers.kept), plan.headers.total) if plan.headers else None,
        warnings=tuple(scrub(w) for w in plan.warnings),
        totals=Totals(len(files), sum(f.size for f in files)),
        budget=BudgetRecord.of(budget),
    )


def write_bundle(plan: BundlePlan, out: Path, *, force: bool = False,
                 progress: ProgressFn | None = None, budget: dict[str, Any] | None = None,
                 finish: Callable[[Path, BundleLock], None] | None = None) -> ExtractResult:
    """Copy the planned files into ``out`` with a lock file, atomically.

    ``budget`` (a checked budget, ``npuslim.check.budget``) is recorded in the manifest;
    ``finish(staging, lock)`` may add files that describe the bundle (the SBOM)
    before the staging folder is moved into place.
    """
    created_timestamp()  # a malformed SOURCE_DATE_EPOCH is refused before any work
    check_output(out, plan.install.root, force=force)
    try:
        staging = fresh_staging(out)
    except BaseException:
        release_output(out)
        raise
    reporter = Reporter(progress)
    try:
        reporter.start("copy", "", detail=f"{len(plan.files)} files", total=plan.total_bytes, unit="bytes")
        locked: list[LockedFile] = []
        for count, planned in enumerate(plan.files, start=1):
            dest = join_inside(staging, planned.dest, what="bundle path", error=OutputError)
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise OutputError(f"{dest.parent}: cannot create: {os_reason(exc)}") from exc
            if planned.link_to is not None:  # a Linux link name: a symlink to a file written before it
                os.symlink(planned.link_to, dest)
                locked.append(locked_file(planned, hashlib.sha256(planned.link_to.encode()).hexdigest()))
                continue
            digest = _copy_hashing(planned.source, dest, planned, reporter)
            locked.append(locked_file(planned, digest))
            _fault_after(count)
        reporter.done("copy", "", f"{len(plan.files)} files")
        lock = build_lock(plan, tuple(locked), budget)
        try:
            (staging / LOCK_FILE).write_text(to_json(lock), encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"{out}: cannot write {LOCK_FILE}: {os_reason(exc)}") from exc
        if finish is not None:
            finish(staging, lock)
        move_into_place(staging, out)
    except BaseException:
        reporter.failed("copy", "")
        shutil.rmtree(staging, ignore_errors=True)
        release_output(out)
        raise
    return ExtractResult(out, lock)


def fresh_staging(out: Path) -> Path:
    """An empty staging folder beside ``out``; those left by dead runs are removed first.

    ``OutputError`` when it cannot be made (read-only, below a file, name too long, ...).
    """
    check_name(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        lock_output(out)
        _clean_stale_staging(out)
        staging = out.parent / f".{out.name}{STAGING_MARK}{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
    except OSError as exc:
        raise OutputError(f"{out}: cannot write beside it: {os_reason(exc)}") from exc
    return staging


def move_into_place(staging: Path, out: Path) -> None:
    """Replace ``out`` (if any) by ``staging`` with two renames; the old tree is removed last.

    ``out`` is checked again at this moment, as ``check_output`` did before the work: a file
    written into it meanwhile that npuslim did not write is an ``OutputError`` (exit 7), and
    nothing is replaced. When ``out`` cannot be renamed (a mount point: EBUSY; another file
    system: EXDEV), its contents are replaced in place instead. Releases the lock on ``out``.
    """
    try:
        if out.is_symlink():
            raise OutputError(f"{out}: is a symbolic link; name the folder itself")
        if out.exists():
            _check_contents(out, force=True, also_ours=frozenset())
            old = out.parent / f".{out.name}.npuslim-old-{os.getpid()}"
            try:
                os.replace(out, old)
            except OSError as exc:
                if exc.errno not in (errno.EBUSY, errno.EXDEV, errno.EPERM, errno.EACCES):
                    raise
                _replace_contents(staging, out)
                return
            os.replace(staging, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, out)
    except OSError as exc:
        raise OutputError(f"{out}: cannot move the new bundle into place: {os_reason(exc)}") from exc
    finally:
        release_output(out)


def _replace_contents(staging: Path, out: Path) -> None:
    for child in list(out.iterdir()):
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    for child in sorted(staging.iterdir()):
        shutil.move(str(child), str(out / child.name))
    shutil.rmtree(staging, ignore_errors=True)
