"""ONNX Runtime + OpenVINO's execution provider: imports checked by symbol, a bundle from
two sources, and the bundle run through the Windows loader.

The pure half; the tests that build, run or download are in tests/integration/test_onnxruntime.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from npuslim.analyse.symbols import MissingSymbols, demangle
from npuslim.check.load_windows import judge_onnxruntime
from npuslim.check.loading import LoadStep, conclude, no_device, ort_device_unavailable, ort_no_device_steps, placed_on
from npuslim.tools import ToolRun

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("mangled", "readable"), [
    (("?load_by_model@FrontEndManager@frontend@ov@@QEAA?AV?$shared_ptr@VFrontEnd@frontend@ov@@@std@@AEBV?$vector@"
     "VAny@ov@@V?$allocator@VAny@ov@@@std@@@5@@Z"), "ov::frontend::FrontEndManager::load_by_model"),
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


def _steps(*items: tuple[str, bool, str]) -> tuple[LoadStep, ...]:
    return tuple(LoadStep(n, ok, d) for n, ok, d in items)


BASE = (("load_ort", True, "x"), ("api", True, "ONNX Runtime 1.24.1"), ("env", True, "ok"),
        ("session_options", True, "ok"), ("fallback", True, "CPU fallback disabled (session.disable_cpu_ep_fallback=1)"))
PLACED = ("placement", True, "All nodes placed on [OpenVINOExecutionProvider]. Number of nodes: 1")


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
    good = _steps(*BASE, ("provider", True, "ok"), ("session", True, "ok"), PLACED, ("run", True, "= [0, 2, 0, 4.25]"))
    ok, verdict = judge_onnxruntime(good, (), (), "", set(), "CPU")
    assert ok and "through OpenVINOExecutionProvider, every node on it with CPU fallback disabled" in verdict
    assert placed_on(good) == "OpenVINOExecutionProvider"
    wrong = _steps(*BASE, ("provider", True, "ok"), ("session", True, "ok"), PLACED, ("run", False, "= [1, 2, 3, 4]"))
    ok, verdict = judge_onnxruntime(wrong, (), (), "", set(), "CPU")
    assert not ok and "running the model on CPU failed" in verdict


def test_judge_needs_every_node_on_the_openvino_provider() -> None:
    run = ("run", True, "= [0, 2, 0, 4.25]")
    split = _steps(*BASE, ("provider", True, "ok"), ("session", True, "ok"),
                   ("placement", False, ("Node(s) placed on [OpenVINOExecutionProvider]. Number of nodes: 1; "
                    "Node(s) placed on [CPUExecutionProvider]. Number of nodes: 1")), run)
    ok, verdict = judge_onnxruntime(split, (), (), "", set(), "CPU")
    assert not ok and "not every node was placed on OpenVINOExecutionProvider" in verdict
    assert placed_on(split) == "OpenVINOExecutionProvider, CPUExecutionProvider"
    unlogged = _steps(*BASE, ("provider", True, "ok"), ("session", True, "ok"), run)
    assert not judge_onnxruntime(unlogged, (), (), "", set(), "CPU")[0]
    no_fallback_off = _steps(*BASE[:-1], ("fallback", False, "bad key"), ("provider", True, "ok"))
    ok, verdict = judge_onnxruntime(no_fallback_off, (), (), "", set(), "CPU")
    assert not ok and "'fallback'" in verdict


def test_without_the_device_the_steps_after_the_provider_read_not_checked() -> None:
    steps = _steps(*BASE, ("provider", False, ("SessionOptionsAppendExecutionProvider_OpenVINO_V2: Failed to load "
                                              "shared library")))
    explained = ort_no_device_steps(steps, "NPU")
    provider = next(s for s in explained if s.name == "provider")
    assert provider.detail.startswith("OpenVINO reports: Device NPU is not available (ONNX Runtime: ")
    assert [s.name for s in explained[-3:]] == ["session", "placement", "run"]
    run_ = ToolRun(("probe",), 0, "")
    ok, _, judged = conclude(run_, explained, (True, "loaded"), not_checked=no_device("NPU"), timeout=1,
                             first="x", silent=False)
    assert ok and [s.state.value for s in judged[-4:]] == ["not_checked"] * 4
    assert all(s.not_checked == "no NPU device on this machine" for s in judged[-4:])
    assert placed_on(judged) == ""
    assert ort_device_unavailable("x [ERROR] [OpenVINO] Device NPU is not available\n", "npu")
    assert not ort_device_unavailable("x [ERROR] [OpenVINO] Device GPU is not available\n", "NPU")


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


def test_judge_without_a_trace_still_needs_the_plugin_in_the_bundle() -> None:
    # natively on Windows there is no loader trace: the bundle itself must hold the plugin
    steps = _steps(*BASE, ("provider", False, "Failed to load shared library"))
    out = "[ERROR] [OpenVINO] Device NPU is not available\n"
    ok, verdict = judge_onnxruntime(steps, (), (), out, {"openvino.dll"}, "NPU")
    assert not ok and "openvino_intel_npu_plugin.dll is not in the bundle" in verdict
    ok, verdict = judge_onnxruntime(steps, (), (), out, {"openvino.dll", "openvino_intel_npu_plugin.dll"}, "NPU")
    assert ok and "is in the bundle" in verdict and "loader's trace" not in verdict


def test_a_probe_that_crashes_after_its_steps_is_a_failed_load() -> None:
    from npuslim.check.loading import crashed

    steps = _steps(*BASE[:3])
    assert crashed(0, steps) is None and crashed(1, steps) is None
    assert crashed(3221225477, steps) == "the probe crashed (exit 3221225477) after: OrtEnv created"
    assert crashed(-11, steps) == "the probe crashed (signal 11) after: OrtEnv created"


def test_an_export_table_claiming_millions_of_functions_is_refused(tmp_path: Path) -> None:
    import struct

    from npuslim.errors import InputError
    from npuslim.formats.pe_tables import read_export_index, read_symbol_tables
    from tests.support.crafted import FILE_ALIGN, LAYOUT, SECTION_RVA, build_pe

    data = bytearray(build_pe(("KERNEL32.dll",)))
    export_rva = struct.unpack_from("<I", data, LAYOUT.import_dir - 8)[0]
    struct.pack_into("<I", data, FILE_ALIGN + export_rva - SECTION_RVA + 20, 15_000_000)  # NumberOfFunctions
    dll = tmp_path / "x.dll"
    dll.write_bytes(bytes(data))
    for reader in (read_export_index, read_symbol_tables):
        with pytest.raises(InputError, match="corrupt export table"):
            reader(dll)
