"""``extract`` and ``verify`` on the official OpenVINO wheels."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from tests.cli_helpers import one_error_line, run
from tests.support.tools import require_tool

pytestmark = pytest.mark.wheels

REPO = Path(__file__).resolve().parents[2]
BUNDLE_SCHEMA = json.loads((REPO / "npuslim" / "schemas" / "bundle.schema.json").read_text())
DEFAULT_DLLS = {"openvino_intel_npu_plugin.dll", "openvino.dll", "tbb12.dll", "openvino_ir_frontend.dll",
                "openvino_c.dll"}


def tree_hashes(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def lock_of(bundle: Path) -> dict:
    return json.loads((bundle / "npuslim-bundle.json").read_text())


@pytest.fixture(scope="module")
def bundle2026(ov2026, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("b") / "npu-bundle"
    before = tree_hashes(ov2026.root)
    result = run("extract", str(ov2026.root), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert tree_hashes(ov2026.root) == before, "the source install was modified"
    return out


def test_default_bundle_holds_exactly_what_the_npu_needs(ov_install, tmp_path: Path) -> None:
    out = tmp_path / "b"
    result = run("extract", str(ov_install.root), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert {p.name for p in (out / "bin").iterdir()} == DEFAULT_DLLS
    assert {p.name for p in (out / "lib").iterdir()} == {"openvino.lib", "openvino_c.lib"}
    assert (out / "include" / "openvino" / "runtime" / "core.hpp").is_file()
    assert (out / "include" / "openvino" / "c" / "openvino.h").is_file()
    licenses = {p.name for p in (out / "licenses").rglob("*") if p.is_file()}
    assert "LICENSE" in licenses and "runtime-third-party-programs.txt" in licenses
    lock = lock_of(out)
    jsonschema.validate(lock, BUNDLE_SCHEMA)
    assert lock["source"]["openvino_version"] == ov_install.version
    roles = {f["path"]: f["role"] for f in lock["files"]}
    assert roles["bin/openvino_intel_npu_plugin.dll"] == "root"
    assert roles["bin/tbb12.dll"] == "import"
    assert roles["bin/openvino_ir_frontend.dll"] == "runtime-companion"
    plugin = next(f for f in lock["files"] if f["path"] == "bin/openvino_intel_npu_plugin.dll")
    assert plugin["signature"] == "signed" and plugin["file_version"] == ov_install.version
    kinds = {r["kind"]: r for r in lock["requirements"]}
    assert set(kinds["msvc-runtime"]["dlls"]) == {"MSVCP140.dll", "VCRUNTIME140.dll", "VCRUNTIME140_1.dll"}
    assert kinds["driver"]["dlls"] == ["ze_loader.dll"]
    assert kinds["windows"]["name"] == "Windows 10 or later"
    assert lock["headers"]["kept"] < lock["headers"]["total"]
    # the sizes reported are the sizes on disk
    on_disk = sum((out / f["path"]).stat().st_size for f in lock["files"])
    assert lock["totals"]["bytes"] == on_disk
    assert f"{lock['totals']['files']}" in result.stdout
    assert verify_ok(out)


def verify_ok(bundle: Path) -> bool:
    result = run("verify", str(bundle))
    return result.exit_code == 0 and result.stdout.startswith("OK")


def test_features_add_their_dlls(ov2026, tmp_path: Path) -> None:
    onnx = tmp_path / "onnx"
    assert run("extract", str(ov2026.root), "-o", str(onnx), "--with", "onnx").exit_code == 0
    assert {p.name for p in (onnx / "bin").iterdir()} == DEFAULT_DLLS | {"openvino_onnx_frontend.dll"}
    compiler = tmp_path / "compiler"
    assert run("extract", str(ov2026.root), "-o", str(compiler), "--with", "compiler",
               "--without", "c-api").exit_code == 0
    assert {p.name for p in (compiler / "bin").iterdir()} == (DEFAULT_DLLS - {"openvino_c.dll"}) | {
        "openvino_intel_npu_compiler_loader.dll", "openvino_intel_npu_compiler.dll"}
    assert not (compiler / "include" / "openvino" / "c").exists()
    assert {p.name for p in (compiler / "lib").iterdir()} == {"openvino.lib"}
    assert verify_ok(compiler)


def test_list_features_shows_sizes(ov2026) -> None:
    result = run("extract", str(ov2026.root), "--list-features")
    assert result.exit_code == 0, result.stderr
    assert "openvino_intel_npu_compiler.dll" in result.stdout and "MB" in result.stdout


def test_a_feature_asked_for_that_the_release_lacks_is_refused_naming_the_releases(ov2024, tmp_path: Path) -> None:
    out = tmp_path / "b"
    result = run("extract", str(ov2024.root), "-o", str(out), "--with", "compiler")
    assert result.exit_code == 4
    line = one_error_line(result)
    assert "feature compiler" in line and "2024.6.0" in line and "from 2026.0 on" in line
    assert "--without" not in line
    assert not out.exists()


def test_verify_names_a_changed_byte(bundle2026: Path, tmp_path: Path) -> None:
    copy = tmp_path / "b"
    subprocess.run(["cp", "-a", str(bundle2026), str(copy)], check=True)
    dll = copy / "bin" / "tbb12.dll"
    data = bytearray(dll.read_bytes())
    data[5000] ^= 0xFF
    dll.write_bytes(bytes(data))
    result = run("verify", str(copy))
    assert result.exit_code == 5
    assert "bin/tbb12.dll: sha256 differs from the lock file" in result.stdout


def test_verify_names_a_deleted_dll_and_the_broken_import(bundle2026: Path, tmp_path: Path) -> None:
    copy = tmp_path / "b"
    subprocess.run(["cp", "-a", str(bundle2026), str(copy)], check=True)
    (copy / "bin" / "tbb12.dll").unlink()
    result = run("verify", str(copy), "--format", "json")
    assert result.exit_code == 5
    data = json.loads(result.stdout)
    jsonschema.validate(data, json.loads((REPO / "npuslim" / "schemas" / "verify.schema.json").read_text()))
    assert not data["ok"]
    kinds = {(p["path"], p["kind"]) for p in data["problems"]}
    assert ("bin/tbb12.dll", "missing") in kinds
    assert ("bin/openvino.dll", "unresolved") in kinds  # openvino.dll imports tbb12.dll


def test_verify_names_an_extra_file(bundle2026: Path, tmp_path: Path) -> None:
    copy = tmp_path / "b"
    subprocess.run(["cp", "-a", str(bundle2026), str(copy)], check=True)
    (copy / "bin" / "stray.dll").write_bytes(b"x")
    result = run("verify", str(copy))
    assert result.exit_code == 5
    assert "bin/stray.dll: in the bundle but not in the lock file" in result.stdout


def test_verify_of_something_that_is_not_a_bundle(tmp_path: Path) -> None:
    result = run("verify", str(tmp_path))
    assert result.exit_code == 5
    assert "not an npuslim bundle" in result.stderr


def test_existing_out_is_refused_without_force(bundle2026: Path, ov2026) -> None:
    result = run("extract", str(ov2026.root), "-o", str(bundle2026))
    assert result.exit_code == 7 and "not empty" in result.stderr


def test_an_out_inside_the_source_is_refused(ov2026) -> None:
    result = run("extract", str(ov2026.root), "-o", str(ov2026.root / "bundle"))
    assert result.exit_code == 7 and "overlaps the source install" in result.stderr
    assert not (ov2026.root / "bundle").exists()


def test_a_killed_extract_leaves_no_bundle_and_a_rerun_succeeds(ov2026, tmp_path: Path) -> None:
    out = tmp_path / "npu-bundle"
    env = dict(os.environ, NPUSLIM_FAULT_AFTER_FILES="3")
    proc = subprocess.run([sys.executable, "-m", "npuslim", "extract", str(ov2026.root), "-o", str(out)],
                          env=env, capture_output=True, text=True)
    assert proc.returncode == -9  # SIGKILL: no clean-up ran
    assert not out.exists()
    leftovers = [p.name for p in tmp_path.iterdir()]
    assert any(".npuslim-staging-" in n for n in leftovers)
    result = run("extract", str(ov2026.root), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert verify_ok(out)
    assert [p.name for p in tmp_path.iterdir()] == ["npu-bundle"]  # the stale staging folder is gone


def test_force_replaces_a_bundle_and_nothing_else(ov2026, tmp_path: Path) -> None:
    out = tmp_path / "b"
    assert run("extract", str(ov2026.root), "-o", str(out), "--without", "c-api").exit_code == 0
    result = run("extract", str(ov2026.root), "-o", str(out), "--force")
    assert result.exit_code == 0, result.stderr
    assert (out / "bin" / "openvino_c.dll").is_file() and verify_ok(out)
    (out / "old.txt").write_text("mine")
    result = run("extract", str(ov2026.root), "-o", str(out), "--force")
    assert result.exit_code == 7 and "did not write (old.txt)" in result.stderr
    assert (out / "old.txt").read_text() == "mine"


def test_the_bundle_is_enough_to_build_c_and_cpp(bundle2026: Path, tmp_path: Path) -> None:
    gcc = require_tool("x86_64-w64-mingw32-gcc", "apt-get install gcc-mingw-w64-x86-64-win32")
    gxx = require_tool("x86_64-w64-mingw32-g++-posix", "apt-get install g++-mingw-w64-x86-64-posix")
    c_src = tmp_path / "app.c"
    c_src.write_text("#include <openvino/c/openvino.h>\n"
                     "int main(void) { ov_core_t *core = 0; if (ov_core_create(&core)) return 1;"
                     " ov_core_free(core); return 0; }\n")
    proc = subprocess.run([gcc, str(c_src), "-I", str(bundle2026 / "include"), "-o", str(tmp_path / "app.exe"),
                           str(bundle2026 / "lib" / "openvino_c.lib")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    cpp = tmp_path / "app.cpp"
    cpp.write_text("#include <openvino/runtime/core.hpp>\n#include <openvino/runtime/intel_npu/properties.hpp>\n"
                   "int main() { ov::Core core; auto model = core.read_model(\"m.xml\");\n"
                   "  auto compiled = core.compile_model(model, \"NPU\");\n"
                   "  auto request = compiled.create_infer_request(); request.infer(); return 0; }\n")
    proc = subprocess.run([gxx, "-std=c++17", "-fsyntax-only", "-w", str(cpp), "-I", str(bundle2026 / "include")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_2024_0_has_ze_loader_as_a_static_import_and_no_headers(ov2024_0, tmp_path: Path) -> None:
    deps = run("deps", str(ov2024_0.root), "--format", "json", "--no-hints")
    assert deps.exit_code == 0, deps.stderr
    assert "feature c-api left out" in deps.stderr
    data = json.loads(deps.stdout)
    ze = next(n for n in data["nodes"] if n["name"].lower() == "ze_loader.dll")
    assert ze["class"] == "driver" and "openvino_intel_npu_plugin.dll" in ze["required_by"]
    # the 2024.0 wheel carries no C API: a default feature the release lacks is dropped, said once
    out = tmp_path / "b"
    result = run("extract", str(ov2024_0.root), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    dropped = [ln for ln in result.stderr.splitlines() if "feature c-api left out" in ln]
    assert len(dropped) == 1 and "openvino_c.dll" in dropped[0] and "2024.0.0" in dropped[0]
    assert "no include folder" in result.stderr  # a warning, not a failure
    assert {p.name for p in (out / "bin").iterdir()} == DEFAULT_DLLS - {"openvino_c.dll"}
    assert not (out / "include").exists()
    lock = json.loads((out / "npuslim-bundle.json").read_text())
    assert lock["features_requested"] == ["c-api", "ir"] and lock["features"] == ["ir"]
    assert [d["name"] for d in lock["features_dropped"]] == ["c-api"]
    assert verify_ok(out)
    # asked for explicitly, it is an error that names it
    asked = run("extract", str(ov2024_0.root), "-o", str(tmp_path / "c"), "--with", "c-api")
    assert asked.exit_code == 4 and "feature c-api" in one_error_line(asked)
