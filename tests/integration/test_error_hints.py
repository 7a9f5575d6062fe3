"""Errors say what to do next, on their one line, and doing it works (real mingw DLLs and gcc objects).

- a missing dependency (exit 3) names ``--search-path DIR`` and ``--allow-missing``;
- a root that is not there (exit 4) names ``--root NAME`` and files that are there, the closest first.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import one_error_line, run
from tests.support.elfbuild import build_so
from tests.support.mingw import Import, build_dll


@pytest.fixture
def dlls(tmp_path: Path) -> Path:
    """src/: a.dll -> b.dll -> openvino.dll, which lives only in elsewhere/."""
    build_dll(tmp_path / "elsewhere", "openvino.dll", exports="ov")
    src = tmp_path / "src"
    build_dll(src, "b.dll", imports=(Import("openvino.dll", "ov"),))
    build_dll(src, "a.dll", imports=(Import("b.dll", "b"),))
    return src


@pytest.mark.mingw
def test_a_missing_dll_suggests_search_path_and_allow_missing_and_both_work(dlls: Path, tmp_path: Path) -> None:
    result = run("extract", str(dlls), "--root", "a.dll", "-o", str(tmp_path / "out"))
    assert result.exit_code == 3
    line = one_error_line(result)
    assert line.startswith("npuslim: error: missing dependencies: openvino.dll (needed by b.dll). ")
    assert "--search-path DIR" in line and "--allow-missing" in line and "--without" not in line
    assert not (tmp_path / "out").exists()

    found = run("extract", str(dlls), "--root", "a.dll", "-o", str(tmp_path / "out"),
                "--search-path", str(tmp_path / "elsewhere"), "--format", "json")
    assert found.exit_code == 0, found.stderr
    assert "bin/openvino.dll" in {f["path"] for f in json.loads(found.stdout)["files"]}

    allowed = run("extract", str(dlls), "--root", "a.dll", "-o", str(tmp_path / "out2"), "--allow-missing")
    assert allowed.exit_code == 0, allowed.stderr
    assert "openvino.dll is missing" in allowed.stderr


@pytest.mark.mingw
def test_a_root_not_found_suggests_root_with_the_dlls_there(dlls: Path) -> None:
    result = run("deps", str(dlls), "--root", "nope.dll")
    assert result.exit_code == 4
    line = one_error_line(result)
    assert line == (f"npuslim: error: root nope.dll not found in {dlls}; "
                    "name one with --root NAME, such as a.dll, b.dll")
    assert run("deps", str(dlls), "--root", "a.dll", "--format", "json").exit_code == 3  # openvino.dll missing


@pytest.mark.mingw
def test_the_default_root_not_found_lists_the_close_names_first_then_the_others_and_at_most_four(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for name in ("aaa.dll", "abc.dll", "openvino_intel_gpu_plugin.dll", "openvino.dll", "zzz.dll"):
        build_dll(src, name, exports=Path(name).stem)
    line = one_error_line(run("deps", str(src)))  # the manifest's root: openvino_intel_npu_plugin.dll
    assert line.endswith("root openvino_intel_npu_plugin.dll not found in "
                         f"{src}; name one with --root NAME, such as openvino_intel_gpu_plugin.dll, "
                         "aaa.dll, abc.dll, openvino.dll, ...")


def test_a_missing_shared_object_suggests_search_path_which_finds_it(tmp_path: Path) -> None:
    gone = build_so(tmp_path / "elsewhere", "libgone.so.3", soname="libgone.so.3")
    build_so(tmp_path / "lib", "libroot.so", links=(gone,), rpath="$ORIGIN")
    root = tmp_path / "lib" / "libroot.so"
    line = one_error_line(run("extract", str(root), "-o", str(tmp_path / "out")))
    assert "libgone.so.3 (needed by libroot.so). Add the folder that holds them with --search-path DIR" in line
    found = run("extract", str(root), "-o", str(tmp_path / "out"), "-L", str(tmp_path / "elsewhere"))
    assert found.exit_code == 0, found.stderr
    assert (tmp_path / "out" / "lib" / "libgone.so.3").is_file()


def test_a_shared_object_root_not_found_names_the_libraries_there(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    build_so(lib, "libopenvino_c.so.2641", soname="libopenvino_c.so.2641")
    build_so(lib, "libopenvino.so.2641", soname="libopenvino.so.2641")
    result = run("deps", str(lib), "--root", "libopenvino_npu.so")
    assert result.exit_code == 4
    line = one_error_line(result)
    assert "root libopenvino_npu.so not found in" in line
    assert line.endswith("name one with --root NAME, such as libopenvino_c.so.2641, libopenvino.so.2641")
