"""ONNX Runtime + OpenVINO's execution provider: imports checked by symbol, a bundle from
two sources, and the bundle run through the Windows loader."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from npuslim.act.staging import sha256_file
from npuslim.analyse.symbols import MissingSymbols, check_symbols, demangle
from npuslim.check.load import LoadStep, judge_onnxruntime, load_bundle
from tests.cli_helpers import one_error_line, run
from tests.support.mingw import Import, build_dll

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "npuslim" / "schemas"
PROVIDER = "onnxruntime_providers_openvino.dll"
ORT_DLLS = {"onnxruntime.dll", PROVIDER, "onnxruntime_providers_shared.dll", "openvino.dll", "tbb12.dll",
            "openvino_intel_npu_plugin.dll", "openvino_onnx_frontend.dll"}


@pytest.mark.parametrize("mangled,readable", [
    ("?load_by_model@FrontEndManager@frontend@ov@@QEAA?AV?$shared_ptr@VFrontEnd@frontend@ov@@@std@@AEBV?$vector@"
     "VAny@ov@@V?$allocator@VAny@ov@@@std@@@5@@Z", "ov::frontend::FrontEndManager::load_by_model"),
    ("??0Core@ov@@QEAA@XZ", "ov::Core::Core"),
    ("??1Core@ov@@QEAA@XZ", "ov::Core::~Core"),
    ("??$cast_vector@_J@Constant@v0@op@ov@@QEBA?AV?$vector@_JV?$allocator@_J@std@@@std@@_N@Z",
     "ov::op::v0::Constant::cast_vector<...>"),
    ("zeInit", "zeInit"),
    ("?", "?"),
])
def test_demangle_gives_the_qualified_name(mangled: str, readable: str) -> None:
    assert demangle(mangled) == readable


def test_describe_names_the_pair_and_counts() -> None:
    m = MissingSymbols("a.dll", "b.dll", ("??0Core@ov@@QEAA@XZ", "??0Core@ov@@QEAA@H@Z", "b_two"))
    assert m.describe() == "b.dll lacks 3 symbols that a.dll imports (ov::Core::Core, b_two)"


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


def _steps(*items: tuple[str, bool, str]) -> tuple[LoadStep, ...]:
    return tuple(LoadStep(n, ok, d) for n, ok, d in items)


BASE = (("load_ort", True, "x"), ("api", True, "ONNX Runtime 1.24.1"), ("env", True, "ok"))


def test_judge_no_npu_needs_the_plugin_loaded() -> None:
    steps = _steps(*BASE, ("provider", False, "Failed to load shared library"))
    out = "[E:onnxruntime] ... [ERROR] [OpenVINO] Device NPU is not available\n"
    names = {"openvino_intel_npu_plugin.dll", "openvino.dll"}
    ok, verdict = judge_onnxruntime(steps, (), ("onnxruntime.dll", "openvino.dll", "openvino_intel_npu_plugin.dll"),
                                    out, names, "NPU")
    assert ok and "openvino_intel_npu_plugin.dll" in verdict and "found no NPU device" in verdict
    ok, verdict = judge_onnxruntime(steps, (), ("onnxruntime.dll", "openvino.dll"), out, names, "NPU")
    assert not ok and "was never loaded" in verdict


def test_judge_names_what_onnx_runtime_could_not_load() -> None:
    steps = _steps(*BASE, ("provider", False, "Failed to load shared library"))
    out = ('FAIL : Error loading "Z:\\\\b\\\\bin\\\\onnxruntime_providers_shared.dll" which is missing. '
           '(Error 126: "Module not found")')
    ok, verdict = judge_onnxruntime(steps, (), (), out, set(), "NPU")
    assert not ok and "onnxruntime_providers_shared.dll not found" in verdict


def test_judge_cpu_needs_the_right_numbers() -> None:
    good = _steps(*BASE, ("provider", True, "ok"), ("session", True, "ok"), ("run", True, "= [0, 2, 0, 4.25]"))
    assert judge_onnxruntime(good, (), (), "", set(), "CPU")[0]
    wrong = _steps(*BASE, ("provider", True, "ok"), ("session", True, "ok"), ("run", False, "= [1, 2, 3, 4]"))
    ok, verdict = judge_onnxruntime(wrong, (), (), "", set(), "CPU")
    assert not ok and "running the model on CPU failed" in verdict


def test_the_probe_model_is_a_relu_over_four_floats() -> None:
    import onnx  # a test dependency (pyproject test extra): missing is a failure, never a skip
    source = (REPO / "npuslim" / "check" / "probe" / "ort_probe.c").read_text()
    body = source[source.index("MODEL[] = {") + len("MODEL[] = {"):]
    data = bytes(int(x) for x in body[:body.index("}")].replace("\n", "").split(","))
    model = onnx.load_from_string(data)
    onnx.checker.check_model(model)
    assert [n.op_type for n in model.graph.node] == ["Relu"]
    assert model.graph.input[0].name == "input" and model.graph.output[0].name == "output"
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 4]


# ------------------------------------------------------------------ real wheels


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
    npu = run("verify", str(ort_bundle), "--load", "--format", "json")
    assert npu.exit_code == 0, npu.stdout + npu.stderr
    verdict = json.loads(npu.stdout)["load"]["verdict"]
    assert "openvino_intel_npu_plugin.dll" in verdict and "found no NPU device" in verdict


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
    from tests.test_sbom import _validate

    out = tmp_path / "b"
    result = run("extract", str(ov2025_4_1.root), "--onnxruntime", str(ort_1_24_1), "-o", str(out), "--sbom")
    assert result.exit_code == 0, result.stderr
    sbom = _validate((out / "sbom.cdx.json").read_text())
    by_name = {c["name"]: c for c in sbom["components"]}
    ort = by_name["onnxruntime.dll"]
    assert ort["supplier"]["name"] == "Microsoft Corporation"
    assert ort["licenses"] == [{"license": {"id": "MIT"}}]
    assert by_name["openvino.dll"]["supplier"]["name"] == "Intel Corporation"
    assert by_name["openvino.dll"]["licenses"] == [{"license": {"id": "Apache-2.0"}}]


def test_judge_without_a_trace_still_needs_the_plugin_in_the_bundle() -> None:
    # natively on Windows there is no loader trace: the bundle itself must hold the plugin
    steps = _steps(*BASE, ("provider", False, "Failed to load shared library"))
    out = "[ERROR] [OpenVINO] Device NPU is not available\n"
    ok, verdict = judge_onnxruntime(steps, (), (), out, {"openvino.dll"}, "NPU")
    assert not ok and "openvino_intel_npu_plugin.dll is not in the bundle" in verdict
    ok, verdict = judge_onnxruntime(steps, (), (), out, {"openvino.dll", "openvino_intel_npu_plugin.dll"}, "NPU")
    assert ok and "is in the bundle" in verdict and "loader's trace" not in verdict


def test_a_probe_that_crashes_after_its_steps_is_a_failed_load() -> None:
    from npuslim.check.load import _crashed

    steps = _steps(*BASE)
    assert _crashed(0, steps) is None and _crashed(1, steps) is None and _crashed(None, steps) is None
    assert _crashed(3221225477, steps) == "the probe crashed (exit 3221225477) after: OrtEnv created"


def test_an_export_table_claiming_millions_of_functions_is_refused(tmp_path: Path) -> None:
    import struct

    from npuslim.analyse.exports import read_export_index, read_symbol_tables
    from npuslim.errors import InputError
    from tests.support.crafted import FILE_ALIGN, LAYOUT, SECTION_RVA, build_pe

    data = bytearray(build_pe(("KERNEL32.dll",)))
    export_rva = struct.unpack_from("<I", data, LAYOUT.import_dir - 8)[0]
    struct.pack_into("<I", data, FILE_ALIGN + export_rva - SECTION_RVA + 20, 15_000_000)  # NumberOfFunctions
    dll = tmp_path / "x.dll"
    dll.write_bytes(bytes(data))
    for reader in (read_export_index, read_symbol_tables):
        with pytest.raises(InputError, match="corrupt export table"):
            reader(dll)
