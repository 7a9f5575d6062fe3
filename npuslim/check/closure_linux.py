"""Verifying a Linux (ELF) bundle's closure: every shared object of ``lib/`` finds what it needs
inside ``lib/`` through ``$ORIGIN``, or it is what the target provides; recorded link names are
symlinks to their files."""

from __future__ import annotations

import os
from pathlib import Path

from npuslim.analyse.resolve_elf import ElfResolver, expand_origin
from npuslim.check.problem import Problem
from npuslim.errors import InputError
from npuslim.formats.elf import read_elf
from npuslim.formats.lock import BundleLock
from npuslim.layout import LIB


def check_linux_closure_of(bundle: Path, lock: BundleLock, problems: list[Problem]) -> int:
    """``check_linux_closure`` with what the lock file records the target provides and misses."""
    checked, found = check_linux_closure(
        bundle, {d for r in lock.requirements for d in r.dlls}, {m.name for m in lock.missing})
    problems.extend(Problem(*p) for p in found)
    return checked


def check_linux_closure(bundle: Path, provided: set[str],
                        recorded_missing: set[str]) -> tuple[int, list[tuple[str, str, str]]]:
    """Every shared object of ``lib/`` finds each DT_NEEDED inside ``lib/`` through its own
    RPATH/RUNPATH (``$ORIGIN`` only), or it is what the target provides; every RPATH/RUNPATH
    entry is ``$ORIGIN``. Returns (objects checked, problems as (path, kind, message))."""
    lib_dir = bundle.absolute() / LIB  # $ORIGIN expands only against an absolute folder
    problems: list[tuple[str, str, str]] = []
    if not lib_dir.is_dir():
        return 0, [(LIB, "missing", f"{LIB}/: the bundle has no library folder")]
    resolver = ElfResolver(manifest=None, lib_dir=lib_dir)
    checked = 0
    for path in sorted(lib_dir.iterdir()):
        if path.is_symlink() or not path.is_file():
            continue
        rel = f"{LIB}/{path.name}"
        try:
            info = read_elf(path)
        except InputError as exc:
            problems.append((rel, "unreadable", str(exc).replace(str(bundle) + os.sep, "")))
            continue
        checked += 1
        for entry in info.runpath + info.rpath:
            folder = expand_origin(entry, lib_dir)
            if folder is None or os.path.realpath(folder) != os.path.realpath(lib_dir):
                problems.append((rel, "rpath", (f"{rel}: RPATH/RUNPATH entry {entry} is not $ORIGIN "
                                 "(the bundle is not relocatable)")))
        for name in info.imports:
            if name in provided or name in recorded_missing or resolver.provider(name) is not None:
                continue
            found, how = resolver.search(name, [(path, info)])
            if found is None:
                problems.append((rel, "unresolved", (f"{rel}: needs {name}, which is neither in the bundle nor "
                                 "provided by the target")))
            elif found.parent != lib_dir:
                problems.append((rel, "unresolved", f"{rel}: needs {name} from outside the bundle ({found})"))
            elif how.startswith("not on"):
                problems.append((rel, "unresolved", (f"{rel}: needs {name}, which its RPATH/RUNPATH does not "
                                 "reach (no $ORIGIN): ld.so finds it only when something loaded it first")))
    return checked, problems
