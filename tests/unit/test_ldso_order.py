"""ld.so's search order for DT_NEEDED names (npuslim/analyse/resolve_elf.py), step by step, on ELF
files written byte by byte (tests/support/elfcraft.py: no compiler, no process).

The order (glibc's ``_dl_map_object``) for a name N needed by X: a name with a
``/`` is a path; glibc and the GCC runtime are the target's; DT_RPATH of X and
of each object that loaded X, only when X has no DT_RUNPATH; each
``--search-path`` (LD_LIBRARY_PATH); DT_RUNPATH of X alone; else the install's
library folder (kept, with a note) or missing. ``$ORIGIN`` / ``${ORIGIN}`` is
the folder of the object whose entry it is. Each test puts a copy of the
needed file where a later step would find it too, so a step that is skipped or
taken out of order fails it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

# npuslim's ELF resolving entry points: imported here only (the lead adapts this block if they move).
from npuslim.analyse.closures import build_graph
from npuslim.analyse.resolve import BUNDLED, MISSING, SYSTEM
from npuslim.analyse.resolve_elf import NOT_FOUND_ON_PATH, PATH_IN_NEEDED, ElfResolver, expand_origin
from npuslim.errors import ArchitectureError
from npuslim.formats.elf import ElfInfo, read_elf
from npuslim.knowledge.manifest import load_windows_facts
from npuslim.source.locate import OpenVinoInstall
from tests.support.elfcraft import EM_AARCH64, build_elf


def so(path: Path, *needed: str, rpath: str | None = None, runpath: str | None = None,
       machine: int | None = None) -> Path:
    """Write a crafted shared object at ``path`` needing ``needed``; the path back."""
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = {"machine": machine} if machine is not None else {}
    path.write_bytes(build_elf(tuple(needed), soname=path.name, rpath=rpath, runpath=runpath, **extra))
    return path


def chain(*paths: Path) -> list[tuple[Path, ElfInfo]]:
    """The loader chain as the closure keeps it: the first loader first, the importer last."""
    return [(p, read_elf(p)) for p in paths]


@pytest.fixture
def lib(tmp_path: Path) -> Path:
    """The install's library folder."""
    folder = tmp_path / "install" / "lib"
    folder.mkdir(parents=True)
    return folder


def resolver(lib: Path, *search: Path) -> ElfResolver:
    return ElfResolver(manifest=None, lib_dir=lib, search_paths=search)


def closure(lib: Path, root: str, *search: Path):
    install = OpenVinoInstall(origin=str(lib), layout="folder", root=lib.parent, dll_dir=lib, include_dir=None,
                              lib_dir=None, license_dirs=(), version=None, platform="linux")
    return build_graph(install, manifest=None, facts=load_windows_facts(), roots=(root,), search_paths=search,
                       scan_hints=False)


# ----------------------------------------------------------------- the crafted files themselves


def test_the_crafted_file_reads_back_as_written(tmp_path: Path) -> None:
    info = read_elf(so(tmp_path / "libx.so.1", "liba.so", "libc.so.6", rpath="$ORIGIN/a:/b", runpath="${ORIGIN}/r"))
    assert (info.machine, info.bits, info.is_dll, info.soname) == ("x86_64", 64, True, "libx.so.1")
    assert info.imports == ("liba.so", "libc.so.6")
    assert info.rpath == ("$ORIGIN/a", "/b") and info.runpath == ("${ORIGIN}/r",)
    assert info.search_rpath == ()  # DT_RPATH of an object with DT_RUNPATH is never searched


# ----------------------------------------------------------------- step 1: a name with a slash


def test_a_name_with_a_slash_is_never_a_file_of_this_machine(tmp_path: Path, lib: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    other = so(tmp_path / "elsewhere" / "libdep.so")
    so(lib / "libdep.so")
    importer = so(lib / "libx.so", rpath=str(lib), runpath=str(lib))
    r = resolver(lib, lib)
    # ld.so opens such a name as written, on the target: a file here (absolute, or relative to
    # npuslim's working folder) is the host's, never the bundle's, and no folder is searched
    assert r.search(str(other), chain(importer)) == (None, PATH_IN_NEEDED)
    monkeypatch.chdir(tmp_path)
    assert r.search("elsewhere/libdep.so", chain(importer)) == (None, PATH_IN_NEEDED)
    assert r.search(str(tmp_path / "nowhere" / "libdep.so"), chain(importer)) == (None, PATH_IN_NEEDED)
    assert "no bundle can provide it" in PATH_IN_NEEDED


# ----------------------------------------------------------------- step 4: DT_RPATH, and when it is ignored


def test_the_importers_rpath_comes_before_every_other_folder(tmp_path: Path, lib: Path) -> None:
    for folder in ("rp", "sp", "run"):
        so(tmp_path / folder / "libdep.so")
    so(lib / "libdep.so")
    importer = so(lib / "libx.so", rpath=str(tmp_path / "rp"))
    found, how = resolver(lib, tmp_path / "sp").search("libdep.so", chain(importer))
    assert found == tmp_path / "rp" / "libdep.so" and how == f"DT_RPATH {tmp_path / 'rp'} of libx.so"


def test_rpath_is_ignored_when_the_importer_has_a_runpath(tmp_path: Path, lib: Path) -> None:
    so(tmp_path / "rp" / "libdep.so")
    so(tmp_path / "run" / "libdep.so")
    importer = so(lib / "libx.so", rpath=str(tmp_path / "rp"), runpath=str(tmp_path / "run"))
    assert resolver(lib).search("libdep.so", chain(importer)) == (
        tmp_path / "run" / "libdep.so", f"DT_RUNPATH {tmp_path / 'run'} of libx.so")
    # only in the ignored DT_RPATH folder: not found at all
    (tmp_path / "run" / "libdep.so").unlink()
    found, how = resolver(lib).search("libdep.so", chain(importer))
    assert found is None and str(tmp_path / "rp") not in how and str(tmp_path / "run") in how


def test_a_loaders_rpath_is_searched_after_the_importers_own(tmp_path: Path, lib: Path) -> None:
    so(tmp_path / "own" / "libdep.so")
    so(tmp_path / "up" / "libdep.so")
    root = so(lib / "libroot.so", "libmid.so", rpath=str(tmp_path / "up"))
    mid = so(lib / "libmid.so", "libdep.so", rpath=str(tmp_path / "own"))
    assert resolver(lib).search("libdep.so", chain(root, mid))[0] == tmp_path / "own" / "libdep.so"
    (tmp_path / "own" / "libdep.so").unlink()
    assert resolver(lib).search("libdep.so", chain(root, mid)) == (
        tmp_path / "up" / "libdep.so", f"DT_RPATH {tmp_path / 'up'} of libroot.so")


def test_no_loaders_rpath_when_the_importer_has_a_runpath(tmp_path: Path, lib: Path) -> None:
    so(tmp_path / "up" / "libdep.so")
    root = so(lib / "libroot.so", "libmid.so", rpath=str(tmp_path / "up"))
    mid = so(lib / "libmid.so", "libdep.so", runpath=str(tmp_path / "empty"))
    found, how = resolver(lib).search("libdep.so", chain(root, mid))
    assert found is None and str(tmp_path / "up") not in how


def test_a_loader_with_a_runpath_lends_no_rpath(tmp_path: Path, lib: Path) -> None:
    so(tmp_path / "up" / "libdep.so")
    so(tmp_path / "top" / "libdep.so")
    top = so(lib / "libtop.so", "libroot.so", rpath=str(tmp_path / "top"))
    root = so(lib / "libroot.so", "libmid.so", rpath=str(tmp_path / "up"), runpath=str(tmp_path / "empty"))
    mid = so(lib / "libmid.so", "libdep.so")
    # libroot's DT_RPATH is dead (it has a DT_RUNPATH), and a DT_RUNPATH is never inherited: libtop's RPATH wins
    assert resolver(lib).search("libdep.so", chain(top, root, mid)) == (
        tmp_path / "top" / "libdep.so", f"DT_RPATH {tmp_path / 'top'} of libtop.so")


# ----------------------------------------------------------------- steps 5 and 6: --search-path, then DT_RUNPATH


def test_search_paths_in_order_then_the_runpath(tmp_path: Path, lib: Path) -> None:
    so(tmp_path / "sp2" / "libdep.so")
    so(tmp_path / "run" / "libdep.so")
    so(lib / "libdep.so")
    importer = so(lib / "libx.so", runpath=str(tmp_path / "run"))
    r = resolver(lib, tmp_path / "sp1", tmp_path / "sp2")
    assert r.search("libdep.so", chain(importer)) == (tmp_path / "sp2" / "libdep.so", "--search-path")
    so(tmp_path / "sp1" / "libdep.so")
    assert resolver(lib, tmp_path / "sp1", tmp_path / "sp2").search("libdep.so", chain(importer))[0] == \
        tmp_path / "sp1" / "libdep.so"
    assert resolver(lib).search("libdep.so", chain(importer)) == (
        tmp_path / "run" / "libdep.so", f"DT_RUNPATH {tmp_path / 'run'} of libx.so")


def test_the_runpath_of_a_loader_is_never_searched(tmp_path: Path, lib: Path) -> None:
    so(tmp_path / "run" / "libdep.so")
    root = so(lib / "libroot.so", "libmid.so", runpath=str(tmp_path / "run"))
    mid = so(lib / "libmid.so", "libdep.so")
    found, how = resolver(lib).search("libdep.so", chain(root, mid))
    assert found is None and str(tmp_path / "run") not in how


# ----------------------------------------------------------------- $ORIGIN


@pytest.mark.parametrize("token", ["$ORIGIN", "${ORIGIN}"])
def test_origin_is_the_folder_of_the_object_whose_entry_it_is(tmp_path: Path, lib: Path, token: str) -> None:
    so(lib / "deps" / "libdep.so")
    so(tmp_path / "plugins" / "deps" / "libdep.so")
    root = so(lib / "libroot.so", "libplugin.so", rpath=f"{token}/deps")
    plugin = so(tmp_path / "plugins" / "libplugin.so", "libdep.so")
    # libroot's $ORIGIN is lib/, not the folder of libplugin that needs libdep
    assert resolver(lib).search("libdep.so", chain(root, plugin)) == (
        lib / "deps" / "libdep.so", f"DT_RPATH {token}/deps of libroot.so")
    own = so(tmp_path / "plugins" / "libplugin2.so", "libdep.so", runpath=f"{token}/deps")
    assert resolver(lib).search("libdep.so", chain(root, own)) == (
        tmp_path / "plugins" / "deps" / "libdep.so", f"DT_RUNPATH {token}/deps of libplugin2.so")


def test_origin_with_dot_dot_and_entries_npuslim_cannot_place(tmp_path: Path, lib: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """$LIB / $PLATFORM depend on the target, a relative entry on its current folder: all skipped."""
    so(tmp_path / "install" / "other" / "libdep.so")
    so(tmp_path / "relative" / "libdep.so")
    monkeypatch.chdir(tmp_path)
    importer = so(lib / "libx.so", runpath="$LIB:relative:$PLATFORM/x:${ORIGIN}/../other")
    assert resolver(lib).search("libdep.so", chain(importer)) == (
        lib / ".." / "other" / "libdep.so", "DT_RUNPATH ${ORIGIN}/../other of libx.so")
    assert expand_origin("$LIB/x", Path("/o")) is None and expand_origin("rel/x", Path("/o")) is None
    assert expand_origin("${ORIGIN}/../x", Path("/o/p")) == Path("/o/p/../x")
    assert expand_origin("/a/$ORIGIN/b", Path("/o")) == Path("/a/o/b")  # anywhere in the entry


def test_a_longer_name_starting_with_origin_is_not_the_origin_token() -> None:
    assert expand_origin("$ORIGINAL/x", Path("/o")) is None


# ----------------------------------------------------------------- step 7: the install's folder, or missing


def test_a_library_only_in_the_install_folder_is_kept_with_a_note(tmp_path: Path, lib: Path) -> None:
    so(lib / "libdep.so")
    importer = so(tmp_path / "plugins" / "libx.so", rpath=str(tmp_path / "rp"), runpath=str(tmp_path / "run"))
    assert resolver(lib, tmp_path / "sp").search("libdep.so", chain(importer)) == (lib / "libdep.so",
                                                                                   NOT_FOUND_ON_PATH)


def test_a_missing_library_names_every_folder_searched(tmp_path: Path, lib: Path) -> None:
    root = so(lib / "libroot.so", "libx.so", rpath=str(tmp_path / "up"))
    importer = so(lib / "libx.so", "libdep.so", rpath=str(tmp_path / "rp"))
    found, how = resolver(lib, tmp_path / "sp").search("libdep.so", chain(root, importer))
    assert found is None
    assert how == f"not found in {tmp_path / 'rp'}, {tmp_path / 'up'}, {tmp_path / 'sp'}"
    lone = so(lib / "liblone.so", "libdep.so")
    assert resolver(lib).search("libdep.so", chain(lone)) == (None, "not found in any RPATH/RUNPATH folder")


def test_names_are_case_sensitive(tmp_path: Path, lib: Path) -> None:
    so(lib / "LibDep.so")
    importer = so(lib / "libx.so", runpath="$ORIGIN")
    assert resolver(lib).search("libdep.so", chain(importer))[0] is None


# ----------------------------------------------------------------- the whole closure (build_graph)


def test_the_closure_carries_each_loaders_rpath_down_the_chain(tmp_path: Path, lib: Path) -> None:
    """libroot (RPATH $ORIGIN/deps) -> libmid in deps/ (no paths) -> libleaf, found through libroot's RPATH
    although a copy sits in the install folder; libc is the target's; libgone is missing."""
    so(lib / "libroot.so", "libmid.so", "libc.so.6", rpath="$ORIGIN/deps")
    so(lib / "deps" / "libmid.so", "libleaf.so", "libgone.so.3")
    so(lib / "deps" / "libleaf.so", "libmid.so")  # a cycle: the loaded libmid is reused by name
    so(lib / "libleaf.so")
    so(lib / "libc.so.6")
    graph = closure(lib, "libroot.so")
    nodes = {n.name: n for n in graph.nodes}
    assert {name: (n.dep_class, n.path) for name, n in nodes.items()} == {
        "libroot.so": (BUNDLED, lib / "libroot.so"),
        "libmid.so": (BUNDLED, lib / "deps" / "libmid.so"),
        "libleaf.so": (BUNDLED, lib / "deps" / "libleaf.so"),
        "libc.so.6": (SYSTEM, None),
        "libgone.so.3": (MISSING, None),
    }
    assert "found through DT_RPATH $ORIGIN/deps of libroot.so" in nodes["libleaf.so"].reason
    assert nodes["libleaf.so"].chain == ("libroot.so", "libmid.so", "libleaf.so")


def test_the_closure_keeps_a_library_found_only_in_the_install_folder(tmp_path: Path, lib: Path) -> None:
    so(lib / "libroot.so", "libmid.so", runpath="$ORIGIN/sub")
    so(lib / "sub" / "libmid.so", "libside.so")
    so(lib / "libside.so")
    graph = closure(lib, "libroot.so")
    side = graph.node("libside.so")
    assert side is not None and (side.dep_class, side.path) == (BUNDLED, lib / "libside.so")
    assert "ld.so finds it only when another library loaded it first" in side.reason
    # the same file reached through --search-path needs no such note
    side = closure(lib, "libroot.so", lib).node("libside.so")
    assert side is not None and side.reason == "libmid.so needs it (DT_NEEDED), found through --search-path"


def test_a_dependency_of_another_machine_is_refused(tmp_path: Path, lib: Path) -> None:
    so(lib / "libroot.so", "libarm.so", runpath="$ORIGIN")
    so(lib / "libarm.so", machine=EM_AARCH64)
    with pytest.raises(ArchitectureError, match="libarm.so, which is built for aarch64"):
        closure(lib, "libroot.so")
