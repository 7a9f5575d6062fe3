"""Verifying a Windows (PE) bundle's closure: every DLL of ``bin/`` resolves its imports inside
``bin/`` or to what the target provides, and finds every symbol it imports there."""

from __future__ import annotations

import os
from pathlib import Path

from npuslim.analyse.resolve import BUNDLED, MISSING, Resolver
from npuslim.analyse.symbols import check_symbols
from npuslim.check.problem import Problem
from npuslim.errors import InputError
from npuslim.formats.lock import BundleLock
from npuslim.formats.pe import read_pe
from npuslim.knowledge.manifest import load_windows_facts
from npuslim.layout import BIN


def check_windows_closure(bundle: Path, lock: BundleLock, problems: list[Problem]) -> int:
    """Every DLL of ``bin/`` resolves each import inside ``bin/`` or to what the target provides,
    and every symbol it imports from another DLL of the bundle is exported there; problems are
    appended to ``problems``; returns the number of DLLs checked."""
    bin_dir = bundle / BIN
    if bin_dir.is_symlink():
        return 0  # reported as a symbolic link above; never followed
    if not bin_dir.is_dir():
        problems.append(Problem(BIN, "missing", f"{BIN}/: the bundle has no DLL folder"))
        return 0
    # What the target provides is recorded in the bundle itself (requirements),
    # so verify does not depend on the lock file still being around.
    resolver = Resolver(facts=load_windows_facts(), manifest=None, dll_dir=bin_dir)
    provided = {d.lower() for r in lock.requirements for d in r.dlls}
    recorded_missing = {m.name.lower() for m in lock.missing}
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
