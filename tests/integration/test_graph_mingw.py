"""The closure on small DLL graphs built with mingw-w64: imports, delay imports,
cycles, missing DLLs, another machine type, names differing in case."""

from __future__ import annotations

from pathlib import Path

import pytest

from npuslim.analyse.closures import build_graph
from npuslim.analyse.resolve import BUNDLED, MISSING, SYSTEM
from npuslim.errors import ArchitectureError, InputError
from npuslim.knowledge.manifest import load_windows_facts
from npuslim.source.locate import locate
from tests.support.mingw import Import, build_dll

pytestmark = pytest.mark.mingw


def closure(folder: Path, root: str, **kw):
    install = locate(str(folder))
    return build_graph(install, manifest=None, facts=load_windows_facts(), roots=(root,), **kw)


def test_plain_imports_are_followed_transitively(tmp_path: Path) -> None:
    build_dll(tmp_path, "c.dll")
    build_dll(tmp_path, "b.dll", imports=(Import("c.dll", "c"),))
    build_dll(tmp_path, "a.dll", imports=(Import("b.dll", "b"),))
    graph = closure(tmp_path, "a.dll")
    files = [n.name for n in graph.files]
    assert files == ["a.dll", "b.dll", "c.dll"]
    c = graph.node("c.dll")
    assert c is not None and c.chain == ("a.dll", "b.dll", "c.dll")
    assert c.required_by == ("b.dll",)
    # mingw's C runtime and KERNEL32 are Windows system DLLs
    assert graph.node("kernel32.dll").dep_class == SYSTEM
    assert graph.node("msvcrt.dll").dep_class == SYSTEM
    assert not graph.missing
    # the reader saw what mingw writes: x64, no signature, COFF symbols
    info = graph.node("a.dll").info
    assert info.machine == "x64" and info.signature == "none" and info.coff_symbols > 0


def test_delay_imports_are_followed_and_marked(tmp_path: Path) -> None:
    build_dll(tmp_path, "lazy.dll")
    build_dll(tmp_path, "a.dll", imports=(Import("lazy.dll", "lazy", delay=True),))
    graph = closure(tmp_path, "a.dll")
    lazy = graph.node("lazy.dll")
    assert lazy is not None and lazy.dep_class == BUNDLED and lazy.via == "delay-import"
    assert graph.node("a.dll").info.delay_imports == ("lazy.dll",)
    assert "lazy.dll" not in graph.node("a.dll").info.imports


def test_a_cycle_terminates(tmp_path: Path) -> None:
    # a imports b, b imports a: b is linked against an import library of a
    # made before a exists.
    build_dll(tmp_path, "b.dll", imports=(Import("a.dll", "a"),))
    build_dll(tmp_path, "a.dll", imports=(Import("b.dll", "b"),))
    graph = closure(tmp_path, "a.dll")
    assert [n.name for n in graph.files] == ["a.dll", "b.dll"]
    assert graph.node("a.dll").required_by == ("b.dll",)


def test_every_missing_dll_is_listed_once(tmp_path: Path) -> None:
    build_dll(tmp_path, "b.dll", imports=(Import("gone.dll", "gone"), Import("lost.dll", "lost")))
    build_dll(tmp_path, "a.dll", imports=(Import("b.dll", "b"), Import("gone.dll", "gone")))
    graph = closure(tmp_path, "a.dll")
    assert sorted(n.name for n in graph.missing) == ["gone.dll", "lost.dll"]
    gone = graph.node("gone.dll")
    assert gone.dep_class == MISSING and set(gone.required_by) == {"a.dll", "b.dll"}
    assert str(tmp_path) in gone.reason


def test_an_x64_dll_importing_an_x86_dll_is_an_error_naming_both(tmp_path: Path) -> None:
    build_dll(tmp_path, "old32.dll", machine="x86")
    build_dll(tmp_path, "a.dll", imports=(Import("old32.dll", "old32"),))
    with pytest.raises(ArchitectureError) as err:
        closure(tmp_path, "a.dll")
    assert "a.dll (x64)" in str(err.value) and "old32.dll" in str(err.value) and "x86" in str(err.value)


def test_names_differing_only_in_case_resolve_to_one_file(tmp_path: Path) -> None:
    build_dll(tmp_path, "Helper.dll")
    build_dll(tmp_path, "a.dll", imports=(Import("HELPER.DLL", "Helper"),))
    build_dll(tmp_path, "b.dll", imports=(Import("helper.dll", "Helper"),))
    build_dll(tmp_path, "root.dll", imports=(Import("A.DLL", "a"), Import("b.dll", "b")))
    graph = closure(tmp_path, "root.dll")
    assert [n.name for n in graph.files] == ["root.dll", "a.dll", "b.dll", "Helper.dll"]
    assert graph.node("helper.dll").required_by == ("a.dll", "b.dll")


def test_two_files_equal_but_for_case_are_refused(tmp_path: Path) -> None:
    build_dll(tmp_path, "x.dll")
    build_dll(tmp_path, "a.dll", imports=(Import("x.dll", "x"),))
    (tmp_path / "X.DLL").write_bytes((tmp_path / "x.dll").read_bytes())
    with pytest.raises(InputError, match="differ only in case"):
        closure(tmp_path, "a.dll")


def test_search_paths_are_searched_in_order_after_the_install(tmp_path: Path) -> None:
    first, second, app = tmp_path / "first", tmp_path / "second", tmp_path / "app"
    build_dll(first, "dep.dll", exports="dep")
    build_dll(second, "dep.dll", exports="dep")
    build_dll(app, "a.dll", imports=(Import("dep.dll", "dep"),))
    graph = closure(app, "a.dll", search_paths=(first, second))
    assert graph.node("dep.dll").path == first / "dep.dll"
    graph = closure(app, "a.dll", search_paths=(second, first))
    assert graph.node("dep.dll").path == second / "dep.dll"


def test_a_corrupt_dll_in_the_closure_is_named(tmp_path: Path) -> None:
    build_dll(tmp_path, "b.dll")
    build_dll(tmp_path, "a.dll", imports=(Import("b.dll", "b"),))
    data = (tmp_path / "b.dll").read_bytes()
    (tmp_path / "b.dll").write_bytes(data[:1500])
    with pytest.raises(InputError, match=r"b\.dll: truncated PE file"):
        closure(tmp_path, "a.dll")
