"""The resolver's search order (npuslim/analyse/resolve.py), step by step, on folders the tests write.

The documented order for a name imported by X: API sets, names the manifest
never bundles, the Visual C++ runtime, Windows system DLLs, then files in X's
folder, the install's DLL folder and each ``--search-path`` in the order given;
otherwise missing. Each test puts a file where an earlier step must win over it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from npuslim.analyse.closures import build_graph
from npuslim.analyse.resolve import API_SET, BUNDLED, DRIVER, MISSING, MSVC_RUNTIME, SYSTEM, Resolver
from npuslim.errors import InputError
from npuslim.knowledge.manifest import load_manifest, load_windows_facts
from npuslim.source.locate import OpenVinoInstall
from tests.support.crafted import build_pe


def _dll(folder: Path, name: str, imports: tuple[str, ...] = ("KERNEL32.dll",)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(build_pe(imports))
    return path


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    names = ("importer", "dlls", "search1", "search2")
    out = {n: tmp_path / n for n in names}
    for folder in out.values():
        folder.mkdir()
    return out


def _resolver(folders: dict[str, Path], manifest: bool = True) -> Resolver:
    return Resolver(facts=load_windows_facts(), manifest=load_manifest() if manifest else None,
                    dll_dir=folders["dlls"], search_paths=(folders["search1"], folders["search2"]))


def test_an_api_set_is_never_a_file_even_when_one_is_there(folders: dict[str, Path]) -> None:
    for folder in folders.values():
        _dll(folder, "api-ms-win-crt-runtime-l1-1-0.dll")
    importer = folders["importer"] / "x.dll"
    for name in ("api-ms-win-crt-runtime-l1-1-0.dll", "API-MS-WIN-CORE-SYNCH-L1-2-0.DLL", "ext-ms-win-foo.dll"):
        got = _resolver(folders).resolve(name, importer)
        assert (got.dep_class, got.path) == (API_SET, None), name


def test_a_never_bundled_name_wins_over_a_copy_beside_the_importer(folders: dict[str, Path]) -> None:
    _dll(folders["importer"], "ze_loader.dll")
    _dll(folders["dlls"], "ze_loader.dll")
    got = _resolver(folders).resolve("ZE_LOADER.dll", folders["importer"] / "x.dll")
    assert (got.dep_class, got.path) == (DRIVER, None)
    assert "driver" in got.note.lower()
    # without a manifest nothing is never-bundled: the file is found like any other
    plain = _resolver(folders, manifest=False).resolve("ze_loader.dll", folders["importer"] / "x.dll")
    assert (plain.dep_class, plain.path) == (BUNDLED, folders["importer"] / "ze_loader.dll")


def test_the_msvc_runtime_stays_the_redistributables_and_names_the_copy_found(folders: dict[str, Path]) -> None:
    got = _resolver(folders).resolve("VCRUNTIME140.dll", folders["importer"] / "x.dll")
    assert (got.dep_class, got.path) == (MSVC_RUNTIME, None)
    copy = _dll(folders["search2"], "vcruntime140.dll")
    got = _resolver(folders).resolve("VCRUNTIME140.dll", folders["importer"] / "x.dll")
    assert (got.dep_class, got.path) == (MSVC_RUNTIME, copy)


def test_a_system_dll_is_windows_even_when_the_install_holds_a_copy(folders: dict[str, Path]) -> None:
    for folder in folders.values():
        _dll(folder, "kernel32.dll")
    got = _resolver(folders).resolve("KERNEL32.dll", folders["importer"] / "x.dll")
    assert (got.dep_class, got.path) == (SYSTEM, None)


@pytest.mark.parametrize(("present", "expected"), [
    (("importer", "dlls", "search1", "search2"), "importer"),
    (("dlls", "search1", "search2"), "dlls"),
    (("search1", "search2"), "search1"),
    (("search2",), "search2"),
])
def test_files_the_importers_folder_then_the_dll_folder_then_each_search_path(
        folders: dict[str, Path], present: tuple[str, ...], expected: str) -> None:
    for where in present:
        _dll(folders[where], "dep.dll")
    got = _resolver(folders).resolve("Dep.DLL", folders["importer"] / "x.dll")
    assert (got.dep_class, got.path) == (BUNDLED, folders[expected] / "dep.dll")


def test_without_an_importer_the_dll_folder_comes_first(folders: dict[str, Path]) -> None:
    _dll(folders["importer"], "dep.dll")
    _dll(folders["search1"], "dep.dll")
    assert _resolver(folders).resolve("dep.dll").path == folders["search1"] / "dep.dll"
    _dll(folders["dlls"], "dep.dll")
    assert _resolver(folders).resolve("dep.dll").path == folders["dlls"] / "dep.dll"


def test_missing_names_every_folder_looked_in_in_order(folders: dict[str, Path]) -> None:
    got = _resolver(folders).resolve("gone.dll", folders["importer"] / "x.dll")
    assert (got.dep_class, got.path) == (MISSING, None)
    looked = [str(folders[n]) for n in ("importer", "dlls", "search1", "search2")]
    assert got.note == "not found in " + ", ".join(looked)


def test_a_folder_looked_in_twice_is_listed_once(folders: dict[str, Path]) -> None:
    resolver = Resolver(facts=load_windows_facts(), manifest=None, dll_dir=folders["dlls"],
                        search_paths=(folders["dlls"], folders["search1"]))
    assert resolver.folders_for(folders["dlls"] / "x.dll") == (folders["dlls"], folders["search1"])


def test_a_folder_is_not_a_dll(folders: dict[str, Path]) -> None:
    (folders["dlls"] / "dep.dll").mkdir()
    _dll(folders["search1"], "dep.dll")
    assert _resolver(folders).resolve("dep.dll").path == folders["search1"] / "dep.dll"


def test_two_names_equal_but_for_case_are_refused(folders: dict[str, Path]) -> None:
    _dll(folders["dlls"], "dep.dll")
    _dll(folders["dlls"], "DEP.dll")
    with pytest.raises(InputError, match="differ only in case"):
        _resolver(folders).resolve("dep.dll")


def test_the_graph_follows_the_same_order(folders: dict[str, Path]) -> None:
    """root.dll imports a name of each class; dep.dll sits in both search paths (the first wins) and
    a ze_loader.dll in the first one stays the driver's."""
    _dll(folders["dlls"], "root.dll", ("dep.dll", "api-ms-win-crt-heap-l1-1-0.dll", "vcruntime140.dll",
                                      "KERNEL32.dll", "ze_loader.dll"))
    second = _dll(folders["search2"], "dep.dll")
    first = _dll(folders["search1"], "dep.dll")
    _dll(folders["search1"], "ze_loader.dll")
    install = OpenVinoInstall("test", "dll-folder", folders["dlls"], folders["dlls"], None, None, (), None)
    graph = build_graph(install, manifest=load_manifest(), facts=load_windows_facts(), roots=("root.dll",),
                        search_paths=(folders["search1"], folders["search2"]), scan_hints=False)
    by = {n.name.lower(): n for n in graph.nodes}
    assert by["dep.dll"].dep_class == BUNDLED and by["dep.dll"].path == first != second
    assert by["api-ms-win-crt-heap-l1-1-0.dll"].dep_class == API_SET
    assert by["vcruntime140.dll"].dep_class == MSVC_RUNTIME
    assert by["kernel32.dll"].dep_class == SYSTEM
    assert by["ze_loader.dll"].dep_class == DRIVER and by["ze_loader.dll"].path is None
    assert graph.search_order[:1] == (folders["dlls"],)


def test_the_python_interpreters_dll_is_the_interpreters(tmp_path) -> None:
    """A Python extension (.pyd) imports python3XX.dll (or python3.dll, the stable ABI): the Python that
    imports it provides it, so it is its own class, never missing and never bundled, even when a copy lies
    beside the extension."""
    from npuslim.analyse.resolve import PYTHON, Resolver
    from npuslim.knowledge.manifest import load_windows_facts

    (tmp_path / "python311.dll").write_bytes(b"MZ")
    resolver = Resolver(facts=load_windows_facts(), manifest=None, dll_dir=tmp_path)
    for name in ("python311.dll", "PYTHON3.DLL", "python313.dll"):
        found = resolver.resolve(name, tmp_path / "_pyopenvino.pyd")
        assert found.dep_class is PYTHON and found.path is None
    assert resolver.resolve("python311x.dll", None).dep_class != PYTHON
