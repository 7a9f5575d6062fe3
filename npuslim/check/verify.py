"""Checking that a bundle is whole and untouched, and that its closure is complete.

Every file of the lock file must exist with its recorded size and
sha256; no other file may be in the bundle; every DLL's imports must resolve
inside ``bin/`` or to what the target provides (system, API set, MSVC
runtime, driver). Problems are collected, never raised one by one.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from npuslim.act.staging import sha256_file
from npuslim.analyse.resolve import BUNDLED, MISSING, Resolver
from npuslim.analyse.symbols import check_symbols
from npuslim.errors import InputError
from npuslim.formats.lock import BundleLock, read_lock
from npuslim.formats.pe import read_pe
from npuslim.knowledge.manifest import load_windows_facts
from npuslim.layout import BIN, LOCK_FILE, NPUSLIM_FILES

# Files written beside the lock file (size reports, the SBOM); they describe the bundle, they are not of it.


@dataclass(frozen=True)
class Problem:
    path: str
    kind: str
    message: str


@dataclass(frozen=True)
class VerifyResult:
    bundle: Path
    lock: BundleLock
    files_checked: int
    dlls_checked: int
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_bundle(bundle: Path) -> VerifyResult:
    """Check ``bundle`` against its own lock file; the result lists every problem.

    A bundle holds regular files and folders only: a symbolic link anywhere in
    it is a problem, and no file outside the bundle is ever read.
    """
    lock = read_lock(bundle, LOCK_FILE)
    problems: list[Problem] = []
    listed = {f.path for f in lock.files}

    for f in lock.files:
        path = bundle / f.path
        if f.link_to is not None:  # a Linux link name: the symlink itself is checked, its target is an entry
            from npuslim.plan.linux_bundle import verify_link

            link_problem = verify_link(bundle, f.path, f.link_to)
            if link_problem:
                problems.append(Problem(f.path, "link", link_problem))
            continue
        if _through_link(bundle, f.path):
            problems.append(Problem(f.path, "symlink", f"{f.path}: reached through a symbolic link"))
            continue
        try:
            st = path.lstat()
        except OSError:
            problems.append(Problem(f.path, "missing", f"{f.path}: listed in the lock file but not in the bundle"))
            continue
        if not stat.S_ISREG(st.st_mode):
            problems.append(Problem(f.path, "not-a-file", f"{f.path}: not a regular file"))
            continue
        if st.st_size != f.size:
            problems.append(Problem(f.path, "size", f"{f.path}: {st.st_size} bytes, the lock file says {f.size}"))
            continue
        if sha256_file(path) != f.sha256:
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

    dlls_checked = _check_closure(bundle, lock, problems)
    return VerifyResult(bundle, lock, len(lock.files), dlls_checked, tuple(problems))


def _through_link(bundle: Path, rel: str) -> bool:
    """True when a component of ``bundle/rel`` is a symbolic link."""
    path = bundle
    for part in rel.split("/"):
        path = path / part
        if path.is_symlink():
            return True
    return False


def _check_closure(bundle: Path, lock: BundleLock, problems: list[Problem]) -> int:
    if lock.source.get("platform") == "linux":
        from npuslim.plan.linux_bundle import check_linux_closure

        checked, found = check_linux_closure(
            bundle, {d for r in lock.requirements for d in r.get("dlls", ())}, {m["name"] for m in lock.missing})
        problems.extend(Problem(*p) for p in found)
        return checked
    bin_dir = bundle / BIN
    if bin_dir.is_symlink():
        return 0  # reported as a symbolic link above; never followed
    if not bin_dir.is_dir():
        problems.append(Problem(BIN, "missing", f"{BIN}/: the bundle has no DLL folder"))
        return 0
    # What the target provides is recorded in the bundle itself (requirements),
    # so verify does not depend on the lock file still being around.
    resolver = Resolver(facts=load_windows_facts(), manifest=None, dll_dir=bin_dir)
    provided = {d.lower() for r in lock.requirements for d in r.get("dlls", ())}
    recorded_missing = {m["name"].lower() for m in lock.missing}
    checked = 0
    for path in sorted(bin_dir.iterdir()):
        if path.suffix.lower() != ".dll" or path.is_symlink() or not path.is_file():
            continue
        rel = f"{BIN}/{path.name}"
        try:
            info = read_pe(path)
        except InputError as exc:
            problems.append(Problem(rel, "unreadable", str(exc).replace(str(bundle) + os.sep, "")))
            continue
        checked += 1
        for name in info.imports + info.delay_imports:
            res = resolver.resolve(name, path)
            if res.dep_class == MISSING and name.lower() not in recorded_missing | provided:
                problems.append(Problem(rel, "unresolved",
                                        f"{rel}: imports {name}, which is neither in the bundle nor "
                                        "provided by the target"))
            elif res.dep_class == BUNDLED and res.path is not None and res.path.parent != bin_dir:
                problems.append(Problem(rel, "unresolved", f"{rel}: imports {name} from outside the bundle"))
    readable = [(p.name, p) for p in sorted(bin_dir.iterdir()) if p.suffix.lower() == ".dll" and p.is_file()
                and not any(pr.path == f"{BIN}/{p.name}" and pr.kind == "unreadable" for pr in problems)]
    try:
        missing_symbols = check_symbols(readable)
    except InputError as exc:
        problems.append(Problem(BIN, "unreadable", str(exc).replace(str(bundle) + os.sep, "")))
        missing_symbols = ()
    for m in missing_symbols:
        problems.append(Problem(f"{BIN}/{m.importer}", "missing-symbol", f"{BIN}/{m.describe()}"))
    return checked
