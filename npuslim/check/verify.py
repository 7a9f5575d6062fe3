"""Checking that a bundle is whole and untouched, and that its closure is complete.

Every file of the lock file must exist with its recorded size and
sha256; no other file may be in the bundle; every DLL's imports must resolve
inside ``bin/`` or to what the target provides (system, API set, MSVC
runtime, driver). A packed bundle's archive, beside it or named, is checked
member by member against the lock file too (``archive_verify``). Problems are
collected, never raised one by one.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from npuslim.check.problem import Problem
from npuslim.formats.lock import BundleLock, LockedFile, read_lock
from npuslim.layout import LOCK_FILE, NPUSLIM_FILES
from npuslim.paths import sha256_file
from npuslim.platforms import Platform
from npuslim.waiting import results

if TYPE_CHECKING:
    from npuslim.check.archive_verify import ArchiveCheck

ClosureCheck = Callable[[Path, BundleLock, list[Problem]], int]


# Each platform's closure check is imported when a bundle of that platform is checked: the Windows
# one reads PE files and the Windows facts, the Linux one ld.so's rules; neither is the other's cost.
def _windows_closure(bundle: Path, lock: BundleLock, problems: list[Problem]) -> int:
    from npuslim.check.closure_windows import check_windows_closure

    return check_windows_closure(bundle, lock, problems)


def _linux_closure(bundle: Path, lock: BundleLock, problems: list[Problem]) -> int:
    from npuslim.check.closure_linux import check_linux_closure_of

    return check_linux_closure_of(bundle, lock, problems)


# The closure check of each platform: (bundle, lock, problems found so far) -> files checked.
CLOSURE_CHECKS: dict[Platform, ClosureCheck] = {
    Platform.WINDOWS: _windows_closure,
    Platform.LINUX: _linux_closure,
}

# Files hashed at once: sha256 runs outside the GIL, so two cores hash two files.
HASH_THREADS = min(8, os.cpu_count() or 1)

# Files written beside the lock file (size reports, the SBOM); they describe the bundle, they are not of it.


@dataclass(frozen=True)
class VerifyResult:
    bundle: Path
    lock: BundleLock
    files_checked: int
    dlls_checked: int
    problems: tuple[Problem, ...]
    archive: ArchiveCheck | None = None   # the archive checked with the bundle, if any

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_bundle(bundle: Path, *, archive: Path | None = None) -> VerifyResult:
    """Check ``bundle`` against its own lock file; the result lists every problem.

    A bundle holds regular files and folders only: a symbolic link anywhere in
    it is a problem, and no file outside the bundle is ever read but its archive:
    ``archive``, else the one ``pack`` wrote beside it (``find_archive``).
    """
    lock = read_lock(bundle, LOCK_FILE)
    problems: list[Problem] = []
    listed = {f.path for f in lock.files}
    early = [_check_entry(bundle, f) for f in lock.files]
    to_hash = [i for i, one in enumerate(early) if one is None and lock.files[i].link_to is None]
    with ThreadPoolExecutor(max_workers=HASH_THREADS) as pool:  # hashlib lets go of the GIL
        digests = dict(zip(to_hash, results([pool.submit(sha256_file, bundle / lock.files[i].path) for i in to_hash]),
                           strict=True))
    for i, f in enumerate(lock.files):
        problem = early[i]
        if problem is not None:
            problems.append(problem)
        elif i in digests and digests[i] != f.sha256:
            problems.append(Problem(f.path, "sha256", f"{f.path}: sha256 differs from the lock file"))

    links = {f.path for f in lock.files if f.link_to is not None}
    for dirpath, dirs, names in os.walk(bundle):
        for name in dirs + names:
            full = Path(dirpath) / name
            rel = full.relative_to(bundle).as_posix()
            if full.is_symlink() and rel not in links:  # a recorded Linux link name is checked above
                problems.append(Problem(rel, "symlink", f"{rel}: a symbolic link in the bundle"))
            elif name in names and rel not in listed and rel not in NPUSLIM_FILES:
                problems.append(Problem(rel, "extra", f"{rel}: in the bundle but not in the lock file"))

    dlls_checked = CLOSURE_CHECKS[lock.platform](bundle, lock, problems)
    checked = _check_any_archive(bundle, lock, archive, problems)
    return VerifyResult(bundle, lock, len(lock.files), dlls_checked, tuple(problems), checked)


def _check_any_archive(bundle: Path, lock: BundleLock, given: Path | None,
                       problems: list[Problem]) -> ArchiveCheck | None:
    """``check_archive`` of ``given``, else of the archive ``pack`` recorded writing beside the bundle;
    the archive readers are imported only then (a bundle from ``extract`` has no archive)."""
    if given is None and (lock.packed is None or not lock.packed.options.archive):
        return None
    from npuslim.check.archive_verify import check_archive, find_archive

    found = find_archive(bundle, lock, given)
    return check_archive(bundle, lock, found[0], found[1], problems) if found else None


def _check_entry(bundle: Path, f: LockedFile) -> Problem | None:
    """The problem of one lock entry short of its content (a link, its kind, its size), or ``None``."""
    if f.link_to is not None:  # a Linux link name: the symlink itself is checked, its target is an entry
        link_problem = verify_link(bundle, f.path, f.link_to)
        return Problem(f.path, "link", link_problem) if link_problem else None
    if _through_link(bundle, f.path):
        return Problem(f.path, "symlink", f"{f.path}: reached through a symbolic link")
    try:
        st = (bundle / f.path).lstat()
    except OSError:
        return Problem(f.path, "missing", f"{f.path}: listed in the lock file but not in the bundle")
    if not stat.S_ISREG(st.st_mode):
        return Problem(f.path, "not-a-file", f"{f.path}: not a regular file")
    if st.st_size != f.size:
        return Problem(f.path, "size", f"{f.path}: {st.st_size} bytes, the lock file says {f.size}")
    return None


def _through_link(bundle: Path, rel: str) -> bool:
    """True when a component of ``bundle/rel`` is a symbolic link."""
    path = bundle
    for part in rel.split("/"):
        path = path / part
        if path.is_symlink():
            return True
    return False


def verify_link(bundle: Path, rel: str, link_to: str) -> str | None:
    """A problem message when ``rel`` is not a symlink to ``link_to``, else ``None``.

    A link entry's recorded size and sha256 are those of the link text (what
    ``lstat`` and ``readlink`` give), so a bundle's totals count each file once.
    """
    path = bundle / rel
    if "/" in link_to or link_to in ("", ".", ".."):
        return f"{rel}: the manifest's link target {link_to!r} is not a file of the same folder"
    if not path.is_symlink():
        return f"{rel}: should be a symlink to {link_to}"
    target = os.readlink(path)
    if target != link_to:
        return f"{rel}: points to {target}, the manifest says {link_to}"
    return None
