"""Parsing and judging what the load probe and Wine print (no tools needed)."""

from __future__ import annotations

from npuslim.check.load import judge, parse_probe_output, parse_wine_missing

# Captured from real runs of the probe under Wine 8.0 on OpenVINO 2026.4.1 bundles.
PASSING = """\
STEP load_c_api OK Z:\\tmp\\nb2\\bin\\openvino_c.dll
STEP version OK 2026.4.1-22982-e213a147257-releases/2026/4
STEP core_create OK ov_core_create succeeded
STEP read_model OK IR model read from memory by the IR frontend
STEP plugin OK NPU plugin 2026.4.1-22982-e213a147257-releases/2026/4 (openvino_intel_npu_plugin)
STEP devices FAIL NPU devices: []
STEP device FAIL status -1: Exception from src\\inference\\src\\cpp\\core.cpp:120: VCL compiler loading failed
"""
NO_TBB = """\
STEP load_c_api FAIL LoadLibrary failed with error 126
00c4:err:module:import_dll Library tbb12.dll (which is needed by L"Z:\\\\tmp\\\\nb2\\\\bin\\\\openvino.dll") not found
00c4:err:module:import_dll Library openvino.dll (which is needed by L"Z:\\\\tmp\\\\nb2\\\\bin\\\\openvino_c.dll") not found
"""
BIN = {"openvino_c.dll", "openvino.dll", "openvino_intel_npu_plugin.dll", "openvino_ir_frontend.dll", "tbb12.dll"}


def test_a_passing_run_reaches_the_device() -> None:
    steps = parse_probe_output(PASSING)
    assert [s.name for s in steps] == ["load_c_api", "version", "core_create", "read_model", "plugin", "devices",
                                       "device"]
    assert steps[1].detail.startswith("2026.4.1")
    ok, verdict = judge(steps, (), BIN, "NPU")
    assert ok and "found no NPU device" in verdict


def test_a_missing_dll_is_named_with_who_needed_it() -> None:
    missing = parse_wine_missing(NO_TBB)
    assert missing == (("tbb12.dll", "openvino.dll"), ("openvino.dll", "openvino_c.dll"))
    ok, verdict = judge(parse_probe_output(NO_TBB), missing, BIN - {"tbb12.dll"}, "NPU")
    assert not ok
    # openvino.dll is in the bundle: it failed because of tbb12.dll, the root cause
    assert verdict == "openvino_c.dll did not load: tbb12.dll not found (needed by openvino.dll)"


def test_a_missing_plugin_is_an_unregistered_device() -> None:
    text = PASSING.split("STEP plugin")[0] + "STEP plugin FAIL status -5: cannot find the value\n"
    ok, verdict = judge(parse_probe_output(text), (), BIN - {"openvino_intel_npu_plugin.dll"}, "NPU")
    assert not ok and "NPU device is not registered" in verdict


def test_a_missing_frontend_fails_the_model_step() -> None:
    text = PASSING.replace("STEP read_model OK IR model read from memory by the IR frontend",
                           "STEP read_model FAIL status -1: Unable to read the model")
    ok, verdict = judge(parse_probe_output(text), (), BIN - {"openvino_ir_frontend.dll"}, "NPU")
    assert not ok and "openvino_ir_frontend.dll is not in the bundle" in verdict


def test_a_probe_that_printed_nothing_fails() -> None:
    ok, verdict = judge((), (), BIN, "NPU")
    assert not ok
