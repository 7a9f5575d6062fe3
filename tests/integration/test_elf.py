"""Reading ELF shared objects and resolving them the way ld.so does, on libraries built with gcc.

The tests that build, run or download; the pure ones are in tests/unit/test_elf.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from npuslim.analyse.closures import build_graph
from npuslim.analyse.resolve import BUNDLED, MISSING, SYSTEM
from npuslim.errors import InputError
from npuslim.formats.elf import newest_versions, read_elf
from npuslim.knowledge.manifest import load_manifest, load_windows_facts
from npuslim.plan.features import manifest_for_install
from npuslim.source.locate import locate
from tests.cli_helpers import one_error_line, run
from tests.support.elfbuild import build_so

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "npuslim" / "schemas" /
                     "deps.schema.json").read_text())


def test_dynamic_section_rpath_runpath_soname_and_versions(tmp_path) -> None:
    c = build_so(tmp_path, "libc1.so.1", soname="libc1.so.1")
    b = build_so(tmp_path, "libb.so.2", soname="libb.so.2", links=(c,), runpath="$ORIGIN/x:/opt/y")
    a = build_so(tmp_path, "libplugin.so", links=(b, c), rpath="$ORIGIN", cxx=True)
    info = read_elf(a)
    assert info.machine == "x86_64" and info.bits == 64 and info.is_dll
    assert info.soname is None
    assert info.imports[:2] == ("libb.so.2", "libc1.so.1") and "libstdc++.so.6" in info.imports
    assert info.rpath == ("$ORIGIN",) and info.runpath == ()
    assert info.search_rpath == ("$ORIGIN",)
    versions = newest_versions(info.version_needs)
    assert versions["GLIBC"].startswith("GLIBC_2.") and "GLIBCXX" in versions
    assert any(lib == "libstdc++.so.6" for lib, _v in info.version_needs)
    binfo = read_elf(b)
    assert binfo.soname == "libb.so.2" and binfo.runpath == ("$ORIGIN/x", "/opt/y") and binfo.rpath == ()
    assert binfo.search_rpath == ()


def test_truncated_real_library_is_refused(tmp_path) -> None:
    full = build_so(tmp_path / "src", "libt.so", soname="libt.so")
    data = full.read_bytes()
    info = read_elf(full)
    assert info.soname == "libt.so"
    # keep the ELF and program headers, cut before the dynamic segment
    cut = tmp_path / "libt.so"
    cut.write_bytes(data[:0x300])
    with pytest.raises(InputError, match="truncated|corrupt"):
        read_elf(cut)


def _graph(folder: Path, root: str, search: tuple[Path, ...] = ()):
    install = locate(str(folder))
    assert install.platform == "linux"
    return build_graph(install, manifest=None, facts=load_windows_facts(), roots=(root,), search_paths=search)


def test_rpath_is_inherited_by_what_it_loads_runpath_is_not(tmp_path) -> None:
    deps = tmp_path / "deps"
    c = build_so(deps, "libc1.so.1", soname="libc1.so.1")
    b = build_so(tmp_path, "libb.so", soname="libb.so", links=(c,))            # no RPATH of its own
    build_so(tmp_path, "libroot.so", links=(b,), rpath="$ORIGIN:$ORIGIN/deps")
    graph = _graph(tmp_path, "libroot.so")
    node = graph.node("libc1.so.1")
    assert node is not None and node.dep_class == BUNDLED and node.path == deps / "libc1.so.1"
    assert "DT_RPATH $ORIGIN/deps of libroot.so" in node.reason
    assert node.chain == ("libroot.so", "libb.so", "libc1.so.1")
    assert _ld_so_loads(tmp_path / "libroot.so")

    # The same through DT_RUNPATH: ld.so uses a RUNPATH only for the object's own needs.
    (tmp_path / "libroot.so").unlink()
    build_so(tmp_path, "libroot.so", links=(b,), runpath="$ORIGIN:$ORIGIN/deps")
    graph = _graph(tmp_path, "libroot.so")
    missing = graph.node("libc1.so.1")
    assert missing is not None and missing.dep_class == MISSING
    assert not _ld_so_loads(tmp_path / "libroot.so")
    # --search-path stands where LD_LIBRARY_PATH does
    graph = _graph(tmp_path, "libroot.so", (deps,))
    assert graph.node("libc1.so.1").dep_class == BUNDLED  # type: ignore[union-attr]


def test_an_object_with_runpath_in_the_chain_does_not_stop_inherited_rpath(tmp_path) -> None:
    deps = tmp_path / "deps"
    c = build_so(deps, "libc1.so.1", soname="libc1.so.1")
    leaf = build_so(tmp_path, "libleaf.so", soname="libleaf.so", links=(c,))            # no paths
    mid = build_so(tmp_path, "libmid.so", soname="libmid.so", links=(leaf,), runpath="$ORIGIN")
    build_so(tmp_path, "libroot.so", links=(mid,), rpath="$ORIGIN:$ORIGIN/deps")
    node = _graph(tmp_path, "libroot.so").node("libc1.so.1")
    assert node is not None and node.dep_class == BUNDLED and node.path == deps / "libc1.so.1"
    assert node.chain == ("libroot.so", "libmid.so", "libleaf.so", "libc1.so.1")
    assert _ld_so_loads(tmp_path / "libroot.so")  # the real loader agrees
    # with a RUNPATH on the root instead, nothing is inherited: missing, and ld.so fails too
    (tmp_path / "libroot.so").unlink()
    build_so(tmp_path, "libroot.so", links=(mid,), runpath="$ORIGIN:$ORIGIN/deps")
    assert _graph(tmp_path, "libroot.so").node("libc1.so.1").dep_class == MISSING  # type: ignore[union-attr]
    assert not _ld_so_loads(tmp_path / "libroot.so")


def _ld_so_loads(path: Path) -> bool:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", f"import ctypes; ctypes.CDLL({str(path)!r})"],
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    return proc.returncode == 0


def test_found_only_in_the_install_folder_says_so(tmp_path) -> None:
    c = build_so(tmp_path, "libc1.so.1", soname="libc1.so.1")
    build_so(tmp_path, "libroot.so", links=(c,))  # no RPATH: ld.so would not look beside it
    node = _graph(tmp_path, "libroot.so").node("libc1.so.1")
    assert node is not None and node.dep_class == BUNDLED
    assert "not on its own RPATH/RUNPATH" in node.reason


def test_missing_library_exits_3_and_json_is_valid(tmp_path) -> None:
    c = build_so(tmp_path / "elsewhere", "libgone.so.3", soname="libgone.so.3")
    build_so(tmp_path / "lib", "libroot.so", links=(c,), rpath="$ORIGIN")
    result = run("deps", str(tmp_path / "lib" / "libroot.so"), "--format", "json")
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    jsonschema.validate(data, SCHEMA)
    assert data["summary"]["missing"] == ["libgone.so.3"]
    assert data["source"]["layout"] == "single-so" and data["source"]["platform"] == "linux"
    root = data["nodes"][0]
    assert root["elf"]["rpath"] == ["$ORIGIN"] and root["machine"] == "x86_64"
    assert data["target"]["glibc"] is not None or data["target"]["versions"] == {}
    assert "libgone.so.3" in result.stderr


def test_architecture_mismatch_is_refused(tmp_path) -> None:
    c = build_so(tmp_path, "libc1.so.1", soname="libc1.so.1", cxx=True)
    build_so(tmp_path, "libroot.so", links=(c,), rpath="$ORIGIN")
    assert _graph(tmp_path, "libroot.so").node("libstdc++.so.6").dep_class == SYSTEM  # type: ignore[union-attr]
    data = bytearray(c.read_bytes())
    data[18:20] = (0xB7).to_bytes(2, "little")  # e_machine: aarch64
    c.write_bytes(bytes(data))
    result = run("deps", str(tmp_path / "libroot.so"))
    assert result.exit_code == 4
    assert "built for aarch64" in one_error_line(result)


def test_wrong_platform_mixes_say_so_in_one_line(tmp_path) -> None:
    build_so(tmp_path, "libopenvino_intel_npu_plugin.so")
    result = run("deps", str(tmp_path), "--root", "openvino_intel_npu_plugin.dll")
    assert result.exit_code == 4
    assert "is a Windows DLL name" in one_error_line(result)
    result = run("deps", str(tmp_path), "--manifest", "gpu")
    assert result.exit_code == 4
    assert "Linux (ELF) install" in one_error_line(result)
    # the shipped npu manifest becomes npu-linux by itself
    install = locate(str(tmp_path))
    assert manifest_for_install(install, load_manifest("npu")).name == "npu-linux"


def test_glob_names_become_the_soname_files_of_the_install(tmp_path) -> None:
    from npuslim.analyse.resolve_elf import concrete_manifest

    real = build_so(tmp_path, "libopenvino_c.so.2026.4.1", soname="libopenvino_c.so.2641")
    (tmp_path / "libopenvino_c.so.2641").symlink_to(real.name)
    (tmp_path / "libopenvino_c.so").symlink_to("libopenvino_c.so.2641")
    manifest = concrete_manifest(load_manifest("npu-linux"), tmp_path)
    c_api = next(c for c in manifest.companions if c.feature == "c-api")
    assert c_api.name == "libopenvino_c.so.2641"
    ir = next(c for c in manifest.companions if c.feature == "ir")
    assert ir.name == "libopenvino_ir_frontend.so.*"  # nothing matches: kept as written
