"""Parsing and judging what the load probe and Wine print (no tools needed)."""

from __future__ import annotations

import pytest

from npuslim.check.load_linux import judge_linux
from npuslim.check.load_windows import judge, parse_wine_missing
from npuslim.check.loading import CheckState, LoadStep, conclude, parse_probe_output
from npuslim.tools import ToolRun

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
    text = PASSING.split("STEP plugin", maxsplit=1)[0] + "STEP plugin FAIL status -5: cannot find the value\n"
    ok, verdict = judge(parse_probe_output(text), (), BIN - {"openvino_intel_npu_plugin.dll"}, "NPU")
    assert not ok and "NPU device is not registered" in verdict


def test_a_missing_frontend_fails_the_model_step() -> None:
    text = PASSING.replace("STEP read_model OK IR model read from memory by the IR frontend",
                           "STEP read_model FAIL status -1: Unable to read the model")
    ok, verdict = judge(parse_probe_output(text), (), BIN - {"openvino_ir_frontend.dll"}, "NPU")
    assert not ok and "openvino_ir_frontend.dll is not in the bundle" in verdict


def test_a_probe_that_printed_nothing_fails() -> None:
    ok, _verdict = judge((), (), BIN, "NPU")
    assert not ok


# One judgement for both platforms: what overrules the steps, and the three states of a step.

_REQUIRED = ("load_c_api", "version", "core_create", "read_model", "plugin")
_LIBS = {"libopenvino_c.so.2641", "libopenvino_intel_npu_plugin.so", "libopenvino_ir_frontend.so.2641"}


def _all_ok(*extra: LoadStep) -> tuple[LoadStep, ...]:
    return tuple(LoadStep(n, True, "") for n in _REQUIRED) + extra


def _windows(steps: tuple[LoadStep, ...]) -> tuple[bool, str]:
    return judge(steps, (), BIN, "NPU")


def _linux(steps: tuple[LoadStep, ...]) -> tuple[bool, str]:
    return judge_linux(steps, (), _LIBS, "libopenvino_c.so.2641", "NPU")


@pytest.mark.parametrize("judge_of", [_windows, _linux], ids=["windows", "linux"])
@pytest.mark.parametrize("returncode", [-11, -6, 139, 3221225477])
def test_a_probe_that_crashes_after_every_step_passed_is_a_failed_load(judge_of, returncode: int) -> None:
    steps = _all_ok(LoadStep("devices", True, "NPU devices: [NPU]"), LoadStep("device", True, "compiled"),
                    LoadStep("infer", True, "relu ok"))
    judged = judge_of(steps)
    assert judged[0]  # the steps alone say the load holds...
    ok, verdict, _ = conclude(ToolRun(("probe",), returncode, "STEP ..."), steps, judged, not_checked="x",
                              timeout=60, first="loading", silent=False)
    assert not ok and verdict.startswith("the probe crashed") and "after: " in verdict  # ...the crash overrules


@pytest.mark.parametrize("judge_of", [_windows, _linux], ids=["windows", "linux"])
def test_a_probe_that_did_not_finish_is_a_failed_load_on_both_platforms(judge_of) -> None:
    steps = _all_ok()
    run = ToolRun(("probe",), -9, "", timed_out=True)
    ok, verdict, _ = conclude(run, steps, judge_of(steps), not_checked="x", timeout=60, first="loading",
                              silent=False)
    assert not ok and verdict.startswith("the load did not finish within 60 s (after: device plugin found")


@pytest.mark.parametrize("judge_of", [_windows, _linux], ids=["windows", "linux"])
def test_without_the_device_its_steps_are_not_checked_never_failed(judge_of) -> None:
    steps = _all_ok(LoadStep("devices", False, "NPU devices: []"), LoadStep("device", False, "status -1"))
    ok, verdict, settled = conclude(ToolRun(("probe",), 1, ""), steps, judge_of(steps),
                                    not_checked="no NPU device on this machine", timeout=60, first="x", silent=False)
    assert ok and "no NPU device" in verdict
    states = [s.state for s in settled]
    assert states == [CheckState.PASSED] * 5 + [CheckState.NOT_CHECKED] * 2
    assert settled[-1].not_checked == "no NPU device on this machine"


@pytest.mark.parametrize("judge_of", [_windows, _linux], ids=["windows", "linux"])
def test_a_failed_load_keeps_its_failed_steps_failed(judge_of) -> None:
    steps = (LoadStep("load_c_api", False, "tbb12.dll: cannot open shared object file"),)
    ok, _verdict, settled = conclude(ToolRun(("probe",), 1, ""), steps, judge_of(steps), not_checked="x",
                                     timeout=60, first="x", silent=False)
    assert not ok and settled[0].state is CheckState.FAILED and not settled[0].not_checked


def test_the_onnxruntime_setup_check_names_the_first_step_that_failed_or_never_ran() -> None:
    from npuslim.check.loading import ORT_SETUP_STEPS, LoadStep, ort_setup_problem

    ok = {name: LoadStep(name, True, "") for name in (*ORT_SETUP_STEPS, "provider")}
    assert ort_setup_problem(ok) is None
    assert ort_setup_problem({**ok, "env": LoadStep("env", False, "CreateEnv: no memory")}) == \
        "ONNX Runtime failed at 'env': CreateEnv: no memory"
    stopped = {k: v for k, v in ok.items() if k not in ("session_options", "fallback", "provider")}
    assert ort_setup_problem(stopped) == "ONNX Runtime failed at 'session_options': the probe stopped"
    assert ort_setup_problem({k: v for k, v in ok.items() if k != "provider"}) == \
        "the probe stopped before appending the OpenVINO execution provider"
