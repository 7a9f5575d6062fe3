"""ONNX Runtime + OpenVINO's execution provider: imports checked by symbol, a bundle from
two sources, and the bundle run through the Windows loader.

The tests that build, run or download; the pure ones are in tests/unit/test_onnxruntime.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from npuslim.analyse.symbols import MissingSymbols, check_symbols
from npuslim.check.load import load_bundle
from npuslim.paths import sha256_file
from tests.cli_helpers import one_error_line, run
from tests.support.mingw import Import, build_dll

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "npuslim" / "schemas"
PROVIDER = "onnxruntime_providers_openvino.dll"
ORT_DLLS = {"onnxruntime.dll", PROVIDER, "onnxruntime_providers_shared.dll", "openvino.dll", "tbb12.dll",
            "openvino_intel_npu_plugin.dll", "openvino_onnx_frontend.dll"}


@pytest.mark.mingw
def test_a_symbol_the_dependency_does_not_export_is_missing(tmp_path: Path) -> None:
    b = build_dll(tmp_path, "b.dll", exports="b_one")
    a = build_dll(tmp_path, "a.dll", imports=(Import("b.dll", "b_one"), Import("b.dll", "b_two")))
    assert check_symbols([("a.dll", a), ("b.dll", b)]) == (MissingSymbols("a.dll", "b.dll", ("b_two",)),)
    # deps: exit 3, the pair and the symbol named, in the tree and in JSON
    tree = run("deps", str(a))
    assert tree.exit_code == 3
    assert "MISSING SYMBOLS b.dll lacks 1 symbol that a.dll imports (b_two)" in tree.stdout
    js = run("deps", str(a), "--format", "json")
    assert js.exit_code == 3
    data = json.loads(js.stdout)
    jsonschema.validate(data, json.loads((SCHEMAS / "deps.schema.json").read_text()))
    assert data["missing_symbols"] == [{"importer": "a.dll", "dll": "b.dll", "delay": False, "count": 1,
                                        "symbols": ["b_two"]}]
    # a complete pair is fine
    b2 = build_dll(tmp_path / "ok", "b.dll", exports="b_one")
    a2 = build_dll(tmp_path / "ok", "a.dll", imports=(Import("b.dll", "b_one"),))
    assert check_symbols([("a.dll", a2), ("b.dll", b2)]) == ()
    assert run("deps", str(a2)).exit_code == 0


@pytest.fixture(scope="module")
def ort_bundle(ov2025_4_1, ort_1_24_1, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ort") / "ort-npu"
    result = run("extract", str(ov2025_4_1.root), "--onnxruntime", str(ort_1_24_1), "--with", "cpu",
                 "-o", str(out), "--format", "json")
    assert result.exit_code == 0, result.stderr
    return out


@pytest.mark.wheels
def test_2026_is_refused_by_symbol_naming_the_release_that_fits(ov2026, ort_1_24_1, ov2025_4_1,
                                                                 tmp_path: Path) -> None:
    for command in (("deps", str(ov2026.root)), ("extract", str(ov2026.root), "-o", str(tmp_path / "b"))):
        result = run(*command, "--onnxruntime", str(ort_1_24_1))
        assert result.exit_code == 3, result.stdout
        line = one_error_line(result)
        assert "lacks 40 of the 364 symbols onnxruntime_providers_openvino.dll imports" in line
        assert "ov::op::v0::Constant::" in line and "openvino==2025.4.1" in line
    assert not (tmp_path / "b").exists()


@pytest.mark.wheels
def test_the_generic_symbol_check_catches_the_mismatch_too(ov2026, ort_1_24_1) -> None:
    from npuslim.plan.onnxruntime import locate_onnxruntime

    ort = locate_onnxruntime(str(ort_1_24_1))
    result = run("deps", str(ov2026.root), "--root", PROVIDER, "--search-path", str(ort.dll_dir),
                 "--format", "json", "--no-hints", "--without", "ir", "--without", "c-api")
    assert result.exit_code == 3
    missing = json.loads(result.stdout)["missing_symbols"]
    assert [(m["importer"], m["dll"], m["count"]) for m in missing] == [(PROVIDER, "openvino.dll", 40)]


@pytest.mark.wheels
def test_the_bundle_of_two_sources(ort_bundle: Path) -> None:
    lock = json.loads((ort_bundle / "npuslim-bundle.json").read_text())
    jsonschema.validate(lock, json.loads((SCHEMAS / "bundle.schema.json").read_text()))
    dlls = {Path(f["path"]).name for f in lock["files"] if f["path"].startswith("bin/")}
    assert dlls == ORT_DLLS | {"openvino_intel_cpu_plugin.dll"}
    assert lock["manifest"]["name"] == "onnxruntime-npu"
    assert lock["source"]["onnxruntime"]["onnxruntime_version"].startswith("1.24.1")
    assert lock["source"]["onnxruntime"]["built_against_openvino"] == "2025.4.1"
    assert "onnxruntime_openvino-1.24.1" in lock["source"]["size_measured_as"]
    # names and hashes of both wheels, no folder of this machine (issue 21)
    ort = lock["source"]["onnxruntime"]
    assert ort["dll_dir"] == "onnxruntime/capi" and ort["wheel"]["name"].startswith("onnxruntime_openvino-1.24.1")
    assert len(ort["wheel"]["sha256"]) == 64 and "/" not in lock["source"]["root"]
    text = (ort_bundle / "npuslim-bundle.json").read_text()
    assert str(Path.home()) not in text and "/tmp/" not in text and "/wheels/" not in text
    build = [r for r in lock["requirements"] if r["kind"] == "build"]
    assert len(build) == 1 and "onnxruntime_c_api.h" in build[0]["name"]
    licences = {f["path"] for f in lock["files"] if f["role"] == "license"}
    assert {"licenses/onnxruntime/LICENSE", "licenses/onnxruntime/ThirdPartyNotices.txt"} <= licences
    assert run("verify", str(ort_bundle)).exit_code == 0


@pytest.mark.wheels
def test_verify_finds_a_dll_swapped_for_one_without_the_symbols(ort_bundle: Path, ov2026, tmp_path: Path) -> None:
    copy = tmp_path / "b"
    shutil.copytree(ort_bundle, copy)
    target = copy / "bin" / "openvino.dll"
    shutil.copyfile(ov2026.dll_dir / "openvino.dll", target)
    manifest = copy / "npuslim-bundle.json"
    lock = json.loads(manifest.read_text())
    entry = next(f for f in lock["files"] if f["path"] == "bin/openvino.dll")
    entry["size"], entry["sha256"] = target.stat().st_size, sha256_file(target)
    manifest.write_text(json.dumps(lock))
    result = run("verify", str(copy), "--format", "json")
    assert result.exit_code == 5
    problems = json.loads(result.stdout)["problems"]
    assert any(p["kind"] == "missing-symbol" and "openvino.dll lacks 40 symbols" in p["message"]
               and PROVIDER in p["message"] for p in problems)


@pytest.mark.wheels
@pytest.mark.wine
def test_onnx_runtime_runs_a_model_on_the_cpu_and_reaches_the_npu_plugin(ort_bundle: Path) -> None:
    cpu = run("verify", str(ort_bundle), "--load", "--device", "CPU", "--format", "json")
    assert cpu.exit_code == 0, cpu.stdout + cpu.stderr
    load = json.loads(cpu.stdout)["load"]
    steps = {s["name"]: s for s in load["steps"]}
    assert steps["api"]["detail"] == "ONNX Runtime 1.24.1"
    assert steps["run"]["ok"] and "= [0, 2, 0, 4.25]" in steps["run"]["detail"]
    # every node on OpenVINO's provider, ONNX Runtime's own CPU kernels turned off
    assert steps["fallback"]["state"] == "passed"
    assert steps["placement"]["detail"] == "All nodes placed on [OpenVINOExecutionProvider]. Number of nodes: 1"
    assert load["ran_on"] == "OpenVINOExecutionProvider"
    assert "through OpenVINOExecutionProvider, every node on it with CPU fallback disabled" in load["verdict"]
    npu = run("verify", str(ort_bundle), "--load", "--format", "json")
    assert npu.exit_code == 0, npu.stdout + npu.stderr
    load = json.loads(npu.stdout)["load"]
    assert "openvino_intel_npu_plugin.dll" in load["verdict"] and "found no NPU device" in load["verdict"]
    assert load["ran_on"] is None
    states = {s["name"]: (s["state"], s.get("not_checked")) for s in load["steps"]}
    for name in ("provider", "session", "placement", "run"):
        assert states[name] == ("not_checked", "no NPU device on this machine")
    assert not any(s["state"] == "failed" for s in load["steps"])
    text = " ".join(run("verify", str(ort_bundle), "--load").stdout.split())  # rich wraps long lines
    assert "not checked (no NPU device on this machine): OpenVINO reports: Device NPU is not available" in text
    assert " fail " not in text


@pytest.mark.wheels
@pytest.mark.wine
def test_without_the_shared_provider_library_verify_and_load_name_it(ort_bundle: Path, tmp_path: Path) -> None:
    copy = tmp_path / "b"
    shutil.copytree(ort_bundle, copy)
    (copy / "bin" / "onnxruntime_providers_shared.dll").unlink()
    checked = run("verify", str(copy))
    assert checked.exit_code == 5 and "onnxruntime_providers_shared.dll" in checked.stdout
    loaded = load_bundle(copy)
    assert not loaded.ok and "onnxruntime_providers_shared.dll not found" in loaded.verdict


@pytest.mark.wheels
def test_without_an_openvino_source_the_release_is_picked_by_symbol(ort_1_24_1, ov2025_4_1) -> None:
    result = run("deps", "--onnxruntime", str(ort_1_24_1), "--no-hints", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert "OpenVINO 2025.4.1 chosen" in result.stderr and "built against it" in result.stderr
    data = json.loads(result.stdout)
    assert {n["name"] for n in data["nodes"] if n["class"] == "bundled"} == ORT_DLLS
    assert data["missing_symbols"] == []


@pytest.mark.wheels
def test_the_sbom_of_two_sources_names_each_supplier_and_licence(ov2025_4_1, ort_1_24_1, tmp_path: Path) -> None:
    from tests.integration.test_sbom import _files, _validate

    out = tmp_path / "b"
    result = run("extract", str(ov2025_4_1.root), "--onnxruntime", str(ort_1_24_1), "-o", str(out), "--sbom")
    assert result.exit_code == 0, result.stderr
    sbom = _validate((out / "sbom.cdx.json").read_text())
    files = _files(sbom)  # the ONNX Runtime files are nested in its pkg:pypi package
    by_name = {c["name"]: c for c, _ in files.values()}
    assert files["bin/onnxruntime.dll"][1]["purl"].startswith("pkg:pypi/onnxruntime-openvino@1.24.1")
    ort = by_name["onnxruntime.dll"]
    assert ort["supplier"]["name"] == "Microsoft Corporation"
    assert ort["licenses"] == [{"license": {"id": "MIT"}}]
    assert by_name["openvino.dll"]["supplier"]["name"] == "Intel Corporation"
    assert by_name["openvino.dll"]["licenses"] == [{"license": {"id": "Apache-2.0"}}]
