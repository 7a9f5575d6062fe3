"""``extract`` and ``verify`` for Linux: the manylinux wheels and small gcc-built libraries.

The tests that build, run or download; the pure ones are in tests/unit/test_linux_extract.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

from npuslim.formats.elf import read_elf
from tests.cli_helpers import one_error_line, run
from tests.support.elfbuild import build_so

REPO = Path(__file__).resolve().parents[2]
BUNDLE_SCHEMA = json.loads((REPO / "npuslim" / "schemas" / "bundle.schema.json").read_text())


def lock_of(bundle: Path) -> dict:
    return json.loads((bundle / "npuslim-bundle.json").read_text())


@pytest.mark.wheels
def test_default_linux_bundle(ovlinux, tmp_path) -> None:
    out = tmp_path / "b"
    result = run("extract", str(ovlinux.wheel), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    n = {"2026.4.1": "2641", "2025.4.1": "2541"}[ovlinux.version]
    lib = out / "lib"
    assert {p.name for p in lib.iterdir()} == {
        "libopenvino_intel_npu_plugin.so", f"libopenvino.so.{n}", "libtbb.so.12",
        f"libopenvino_ir_frontend.so.{n}", f"libopenvino_c.so.{n}", "libopenvino.so", "libopenvino_c.so"}
    assert os.readlink(lib / "libopenvino_c.so") == f"libopenvino_c.so.{n}"
    assert os.readlink(lib / "libopenvino.so") == f"libopenvino.so.{n}"
    for path in lib.iterdir():
        if path.is_symlink():
            continue
        info = read_elf(path)
        assert info.rpath == ("$ORIGIN",) and not info.runpath, path.name
        assert info.soname in (None, path.name), path.name  # every file is named by its SONAME
    assert not any(p.name == "bin" for p in out.iterdir())
    assert (out / "include" / "openvino" / "c" / "openvino.h").is_file()
    assert any(p.name == "LICENSE" for p in (out / "licenses").rglob("*"))
    lock = lock_of(out)
    jsonschema.validate(lock, BUNDLE_SCHEMA)
    assert lock["source"]["platform"] == "linux" and lock["manifest"]["name"] == "npu-linux"
    kinds = {r["kind"]: r for r in lock["requirements"]}
    assert {"glibc", "gcc-runtime", "driver"} <= set(kinds)
    assert kinds["driver"]["dlls"] == ["libze_loader.so.1"]
    links = [f for f in lock["files"] if f["link_to"]]
    assert {f["path"] for f in links} == {"lib/libopenvino.so", "lib/libopenvino_c.so"}
    assert lock["totals"]["bytes"] == sum(f["size"] for f in lock["files"])
    assert run("verify", str(out)).exit_code == 0


@pytest.mark.wheels
def test_verify_catches_a_removed_library_and_a_wrong_link(ovlinux2026, tmp_path) -> None:
    out = tmp_path / "b"
    assert run("extract", str(ovlinux2026.root), "-o", str(out)).exit_code == 0
    (out / "lib" / "libtbb.so.12").unlink()
    (out / "lib" / "libopenvino_c.so").unlink()
    (out / "lib" / "libopenvino_c.so").symlink_to("libopenvino.so.2641")
    result = run("verify", str(out), "--format", "json")
    assert result.exit_code == 5
    problems = {(p["path"], p["kind"]) for p in json.loads(result.stdout)["problems"]}
    assert ("lib/libtbb.so.12", "missing") in problems
    assert ("lib/libopenvino_c.so", "link") in problems
    assert ("lib/libopenvino.so.2641", "unresolved") in problems  # needs libtbb.so.12, now gone


@pytest.mark.wheels
def test_msvc_runtime_is_refused_for_linux(ovlinux2026, tmp_path) -> None:
    result = run("extract", str(ovlinux2026.root), "-o", str(tmp_path / "b"), "--msvc-runtime", str(tmp_path))
    assert result.exit_code == 4
    assert "--msvc-runtime is for Windows bundles" in one_error_line(result)


def test_rpath_outside_origin_is_warned_and_fails_verify(tmp_path) -> None:
    src = tmp_path / "src"
    c = build_so(src, "libdep.so.1", soname="libdep.so.1")
    build_so(src, "libroot.so", links=(c,), rpath="$ORIGIN:/opt/somewhere")
    out = tmp_path / "b"
    result = run("extract", str(src), "-o", str(out), "--root", "libroot.so", "--manifest", "npu-linux")
    assert result.exit_code == 0, result.stderr
    assert "/opt/somewhere besides $ORIGIN" in result.stderr
    verify = run("verify", str(out), "--format", "json")
    assert verify.exit_code == 5
    kinds = {(p["path"], p["kind"]) for p in json.loads(verify.stdout)["problems"]}
    assert kinds == {("lib/libroot.so", "rpath")}


def test_library_without_origin_fails_verify(tmp_path) -> None:
    src = tmp_path / "src"
    c = build_so(src, "libdep.so.1", soname="libdep.so.1")
    build_so(src, "libroot.so", links=(c,))  # no RPATH: found only in the install folder
    out = tmp_path / "b"
    result = run("extract", str(src), "-o", str(out), "--root", "libroot.so", "--manifest", "npu-linux")
    assert result.exit_code == 0, result.stderr
    assert "not on its own RPATH/RUNPATH" in result.stderr
    verify = run("verify", str(out), "--format", "json")
    assert verify.exit_code == 5
    messages = [p["message"] for p in json.loads(verify.stdout)["problems"]]
    assert any("libdep.so.1, which its RPATH/RUNPATH does not reach" in m for m in messages)


def test_archive_style_versioned_files_are_bundled_under_their_soname(tmp_path) -> None:
    src = tmp_path / "ov" / "runtime" / "lib" / "intel64"
    real = build_so(src, "libdep.so.1.2.3", soname="libdep.so.1")
    (src / "libdep.so.1").symlink_to("libdep.so.1.2.3")
    (src / "libdep.so").symlink_to("libdep.so.1")
    build_so(src, "libroot.so", links=(real,), rpath="$ORIGIN")
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        "schema_version: 1\nname: t\nroots: [libroot.so]\nfeatures: {extra: {default: true}}\n"
        "companions:\n  - {name: 'libdep.so.*', loaded_by: application, feature: extra, reason: r}\n")
    out = tmp_path / "b"
    result = run("extract", str(tmp_path / "ov"), "-o", str(out), "--manifest", str(manifest))
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (out / "lib").iterdir()) == ["libdep.so.1", "libroot.so"]
    assert not (out / "lib" / "libdep.so.1").is_symlink()
    assert lock_of(out)["source"]["layout"] == "archive"
    assert run("verify", str(out)).exit_code == 0


@pytest.mark.wheels
def test_force_replaces_a_linux_bundle_with_its_link_names_but_never_a_foreign_link(ovlinux2026, tmp_path: Path) -> None:
    out = tmp_path / "b"
    assert run("extract", str(ovlinux2026.root), "-o", str(out)).exit_code == 0
    again = run("extract", str(ovlinux2026.root), "-o", str(out), "--force")
    assert again.exit_code == 0, again.stderr  # its own recorded symlinks are npuslim's
    (out / "lib" / "evil.so").symlink_to("/etc/passwd")
    refused = run("extract", str(ovlinux2026.root), "-o", str(out), "--force")
    assert refused.exit_code == 7 and "lib/evil.so" in refused.stderr
    assert (out / "lib" / "evil.so").is_symlink()
