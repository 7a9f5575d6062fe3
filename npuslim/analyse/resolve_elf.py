"""The dependency closure of ELF shared objects, resolved the way ``ld.so`` does it.

Search for a DT_NEEDED name ``N`` of an object ``X`` (names are case-sensitive):

1. A name with a ``/`` is a path: ld.so opens it as written, a relative one from the
   process's working folder, and searches nowhere. Such a file is where the target
   machine has it, never one of the install or the bundle, so it is ``missing``
   (``PATH_IN_NEEDED``): npuslim never copies a file of the host it runs on.
2. An object already in the closure with that name is reused (ld.so matches
   loaded objects by name and SONAME before searching).
3. Names the manifest never bundles (``libze_loader.so.1``: the NPU
   driver's), then glibc (``libc``, ``libm``, ``libdl``, ``libpthread``,
   ``librt``, ``ld-linux``, ...) and the GCC runtime (``libstdc++``,
   ``libgcc_s``): class ``system``, what the target provides. The newest
   ``GLIBC_`` / ``GLIBCXX_`` / ``CXXABI_`` / ``GCC_`` symbol versions the closure
   needs are its minimum (``target_minimum``).
4. Only when ``X`` has no DT_RUNPATH: DT_RPATH of ``X``, then DT_RPATH of the
   object that loaded ``X``, and so on up the chain (an object with a
   DT_RUNPATH contributes no DT_RPATH); ``$ORIGIN`` is the folder of the
   object whose entry it is.
5. Each ``--search-path`` folder, in order: it stands where ``LD_LIBRARY_PATH``
   does for ld.so.
6. DT_RUNPATH of ``X`` (never of its loaders).
7. Otherwise the install's library folder: a file found only there is kept
   (``bundled``) with a reason saying ld.so finds it only once something else
   loaded it; else ``missing``. The system's ld.so cache and default folders
   are the target's, so they are never searched here.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import cast

from npuslim.analyse.graph import DependencyGraph
from npuslim.analyse.resolve import SYSTEM, DepClass
from npuslim.formats.elf import ElfInfo, newest_versions
from npuslim.knowledge.manifest import Manifest
from npuslim.knowledge.versions import parse_version

GLIBC = frozenset({
    "libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1", "libresolv.so.2",
    "libutil.so.1", "libanl.so.1", "libnsl.so.1", "libmvec.so.1", "libBrokenLocale.so.1",
    "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "ld-linux.so.2", "ld-linux-armhf.so.3",
    "ld-linux-riscv64-lp64d.so.1",
})
GCC_RUNTIME = frozenset({"libstdc++.so.6", "libgcc_s.so.1"})
NOT_FOUND_ON_PATH = "not on its own RPATH/RUNPATH"
PATH_IN_NEEDED = ("a path in DT_NEEDED: ld.so opens it as written (a relative one from the process's "
                  "working folder) and searches no folder, so no bundle can provide it; relink with a plain "
                  "library name")
_ORIGIN = re.compile(r"\$\{ORIGIN\}|\$ORIGIN(?=/|$)")


def expand_origin(entry: str, origin: Path) -> Path | None:
    """``$ORIGIN`` / ``${ORIGIN}`` -> ``origin``, made absolute; ``None`` for other tokens (``$LIB``,
    ``$PLATFORM``, or ``$ORIGINAL``: glibc's ``is_dst`` takes ``$ORIGIN`` only when a ``/`` or the end
    follows it) and for a folder that stays relative (ld.so would read it from the process's working
    folder). ``origin`` is made absolute first, so the answer is the same however the install's path
    was written (relative, with ``..``) and whatever npuslim's working folder."""
    folder = os.path.abspath(origin)
    text = _ORIGIN.sub(lambda _m: folder, entry)
    if "$" in text:
        return None
    return Path(text) if os.path.isabs(text) else None


@dataclass
class ElfResolver:
    """ld.so's search order (module docstring) over an install's library folder."""

    manifest: Manifest | None
    lib_dir: Path
    search_paths: tuple[Path, ...] = ()
    _listings: dict[Path, dict[str, Path]] = field(default_factory=dict)

    def listing(self, folder: Path) -> dict[str, Path]:
        cached = self._listings.get(folder)
        if cached is None:
            try:
                cached = {c.name: c for c in sorted(folder.iterdir()) if c.is_file()}
            except OSError:
                cached = {}
            self._listings[folder] = cached
        return cached

    def find_file(self, name: str) -> Path | None:
        """A file of the install's library folder by exact name, or by glob (first in order)."""
        entries = self.listing(self.lib_dir)
        if name in entries:
            return entries[name]
        if any(ch in name for ch in "*?["):
            # the shortest match is the SONAME in an archive layout (libx.so.2641, not libx.so.2026.4.1)
            hits = sorted((n for n in entries if fnmatch.fnmatchcase(n, name)), key=lambda n: (len(n), n))
            return entries[hits[0]] if hits else None
        return None

    def provider(self, name: str) -> tuple[DepClass, str] | None:
        """(class, note) for a name the target provides, else ``None``."""
        never = self.manifest.never(name) if self.manifest else None
        if never is not None:
            return DepClass(never.dep_class), never.reason
        if name in GLIBC:
            return SYSTEM, "glibc, provided by the target system"
        if name in GCC_RUNTIME:
            return SYSTEM, "GCC runtime (libstdc++/libgcc_s), provided by the target system"
        return None

    def search(self, name: str, chain: list[tuple[Path, ElfInfo]]) -> tuple[Path | None, str]:
        """Find ``name`` needed by ``chain[-1]`` (loaders before it); returns (path, how)."""
        if "/" in name:
            return None, PATH_IN_NEEDED
        importer_path, importer = chain[-1]
        folders: list[tuple[Path, str]] = []
        if not importer.runpath:
            # glibc's _dl_map_object: the loader chain up to the first object, each one's
            # DT_RPATH unless that object has a DT_RUNPATH (then its RPATH is ignored).
            for path, info in reversed(chain):
                for entry in info.search_rpath:
                    folder = expand_origin(entry, path.parent)
                    if folder is not None:
                        folders.append((folder, f"DT_RPATH {entry} of {path.name}"))
        folders.extend((p, "--search-path") for p in self.search_paths)
        for entry in importer.runpath:
            folder = expand_origin(entry, importer_path.parent)
            if folder is not None:
                folders.append((folder, f"DT_RUNPATH {entry} of {importer_path.name}"))
        for folder, how in folders:
            hit = self.listing(folder).get(name)
            if hit is not None:
                return hit, how
        hit = self.listing(self.lib_dir).get(name)
        if hit is not None:
            return hit, NOT_FOUND_ON_PATH
        return None, "not found in " + (", ".join(str(f) for f, _ in folders) or "any RPATH/RUNPATH folder")


def concrete_manifest(manifest: Manifest, lib_dir: Path) -> Manifest:
    """The manifest with glob names (``libopenvino_ir_frontend.so.*``) replaced by the files
    of ``lib_dir`` they match; a pattern matching nothing is kept as written."""
    resolver = ElfResolver(manifest=None, lib_dir=lib_dir)

    def one(name: str) -> str:
        if not any(ch in name for ch in "*?["):
            return name
        hit = resolver.find_file(name)
        return hit.name if hit is not None else name

    companions = tuple(replace(c, name=one(c.name), loaded_by=one(c.loaded_by)) for c in manifest.companions)
    return replace(manifest, roots=tuple(one(r) for r in manifest.roots), companions=companions)


@dataclass(frozen=True)
class TargetMinimum:
    """What the target's glibc and GCC runtime must define for the closure to load."""

    versions: dict[str, str]        # family -> newest needed version (GLIBC -> GLIBC_2.27)
    needed_by: dict[str, str]       # family -> a file that needs that version

    @property
    def glibc(self) -> str | None:
        v = self.versions.get("GLIBC")
        return v.split("_", 1)[1] if v else None


def target_minimum(graph: DependencyGraph) -> TargetMinimum:
    """The newest symbol versions the bundled ELF files need from the target."""
    versions: dict[str, str] = {}
    needed_by: dict[str, str] = {}
    for node in graph.files:
        info = cast(ElfInfo, node.info)  # a Linux graph: read_elf read every file of it
        for family, version in newest_versions(info.version_needs).items():
            merged = newest_versions([("", versions[family]), ("", version)]) if family in versions else {
                family: version}
            if merged[family] != versions.get(family):
                versions[family] = merged[family]
                needed_by[family] = node.name
    return TargetMinimum(dict(sorted(versions.items())), needed_by)



def manylinux_glibc(tag: str) -> str | None:
    """``manylinux_2_28_x86_64`` -> ``"2.28"``; ``manylinux2014_x86_64`` -> ``"2.17"``; else ``None``."""
    legacy = {"manylinux1": "2.5", "manylinux2010": "2.12", "manylinux2014": "2.17"}
    for prefix, glibc in legacy.items():
        if tag.startswith(prefix + "_"):
            return glibc
    parts = tag.split("_")
    if len(parts) >= 3 and parts[0] == "manylinux" and parts[1].isdigit() and parts[2].isdigit():
        return f"{parts[1]}.{parts[2]}"
    return None


def target_text(graph: DependencyGraph) -> str:
    """One line: the glibc / GCC runtime versions the closure needs, against the wheel's tag."""
    minimum = target_minimum(graph)
    v = minimum.versions
    parts = []
    if minimum.glibc:
        parts.append(f"glibc {minimum.glibc} or later")
    cxx = [v[f] for f in ("GLIBCXX", "CXXABI") if f in v]
    if cxx:
        parts.append(f"libstdc++ with {' and '.join(cxx)}")
    if "GCC" in v:
        parts.append(f"libgcc_s with {v['GCC']}")
    text = "the target must provide " + (", ".join(parts) or "no versioned glibc symbols")
    wheel = graph.install.wheel
    promises = _glibc_promises(wheel.name) if wheel is not None else {}
    if promises:
        tag, promised = min(promises.items(), key=lambda item: parse_version(item[1]))
        text += f" (the wheel's tag {tag} promises glibc {promised})"
    return text


def _glibc_promises(wheel_name: str) -> dict[str, str]:
    """Each manylinux platform tag of a wheel file name and the glibc it promises."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    try:
        tags = parse_wheel_filename(wheel_name)[3]
    except (InvalidWheelFilename, ValueError):
        return {}
    promises = {t.platform: manylinux_glibc(t.platform) for t in tags}
    return {tag: glibc for tag, glibc in promises.items() if glibc is not None}
