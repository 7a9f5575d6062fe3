"""``extract`` and ``verify`` for Linux: the manylinux wheels and small gcc-built libraries.

The tests that build, run or download; the pure ones are in tests/unit/test_linux_extract.py.
"""

from __future__ import annotations

import json
import os
import re
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
@pytest.mark.parametrize("manifest", ["npu", "cpu"])
def test_tbbmalloc_is_an_optional_feature_of_the_linux_bundles(ovlinux2026, manifest: str, tmp_path) -> None:
    # libtbb.so.12 dlopens libtbbmalloc.so.2 from its own folder when it is there; nothing imports it
    listed = run("extract", str(ovlinux2026.wheel), "--manifest", manifest, "--list-features", "--format", "json")
    assert listed.exit_code == 0, listed.stderr
    tbbmalloc = {f["name"]: f for f in json.loads(listed.stdout)["features"]}["tbbmalloc"]
    assert tbbmalloc["default"] is False and tbbmalloc["selected"] is False and tbbmalloc["available"]
    assert tbbmalloc["adds"] == [{"name": "libtbbmalloc.so.2", "size": 159729}]
    text = run("extract", str(ovlinux2026.wheel), "--manifest", manifest, "--list-features",
               env={"COLUMNS": "120"}).stdout
    assert re.search(r"^  tbbmalloc +adds 160 kB$", text, re.M), text
    plugin = f"libopenvino_intel_{manifest}_plugin.so"
    default = {plugin, "libopenvino.so.2641", "libtbb.so.12", "libopenvino_ir_frontend.so.2641",
               "libopenvino_c.so.2641", "libopenvino.so", "libopenvino_c.so"}

    with_it = tmp_path / "with"
    result = run("extract", str(ovlinux2026.wheel), "--manifest", manifest, "-o", str(with_it), "--with", "tbbmalloc")
    assert result.exit_code == 0, result.stderr
    assert {p.name for p in (with_it / "lib").iterdir()} == default | {"libtbbmalloc.so.2"}
    lock = lock_of(with_it)
    jsonschema.validate(lock, BUNDLE_SCHEMA)
    entry = next(f for f in lock["files"] if f["path"] == "lib/libtbbmalloc.so.2")
    assert entry["feature"] == "tbbmalloc" and entry["role"] == "runtime-companion" and entry["size"] == 159729
    assert entry["chain"][-2:] == ["libtbb.so.12", "libtbbmalloc.so.2"]
    assert "tbbmalloc" in lock["features"]
    assert read_elf(with_it / "lib" / "libtbbmalloc.so.2").rpath == ("$ORIGIN",)
    assert run("verify", str(with_it)).exit_code == 0

    without = tmp_path / "without"  # --without wins over --with
    result = run("extract", str(ovlinux2026.wheel), "--manifest", manifest, "-o", str(without),
                 "--with", "tbbmalloc", "--without", "tbbmalloc")
    assert result.exit_code == 0, result.stderr
    assert {p.name for p in (without / "lib").iterdir()} == default
    assert "tbbmalloc" not in lock_of(without)["features"]
    assert run("verify", str(without)).exit_code == 0


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
