"""A device list (AUTO:NPU,CPU) in the load verdict: its plugin, why a step is not checked, and
which device ran the model (EXECUTION_DEVICES)."""

from __future__ import annotations

from npuslim.check.loading import LoadStep, executed_on, judge_device_steps, no_device, plugin_stem, ran_on_device


def test_plugin_stem_names_the_auto_plugin_for_a_device_list() -> None:
    assert plugin_stem("NPU") == "openvino_intel_npu_plugin"
    assert plugin_stem("AUTO:NPU,CPU") == "openvino_auto_plugin"
    assert plugin_stem("GPU.1") == "openvino_intel_gpu_plugin"


def test_a_device_list_is_not_checked_for_its_first_device() -> None:
    assert no_device("AUTO:NPU,CPU") == "no NPU device on this machine"
    assert no_device("NPU") == "no NPU device on this machine"


def test_the_verdict_names_the_device_that_ran_the_model() -> None:
    steps = (LoadStep("devices", False, "NPU devices: []; CPU devices: [CPU]"), LoadStep("device", True, "ok"),
             LoadStep("executed_by", True, "(CPU)"), LoadStep("infer", True, "relu = [0, 2, 0, 4]"))
    assert executed_on(steps) == "CPU"
    ok, verdict = judge_device_steps({s.name: s for s in steps}, "AUTO:NPU,CPU")
    assert ok and verdict == ("the bundle loads and runs a model on AUTO:NPU,CPU, executed by CPU "
                              "(EXECUTION_DEVICES): relu = [0, 2, 0, 4]")
    assert ran_on_device(True, steps, "AUTO:NPU,CPU") == "CPU"
    assert ran_on_device(False, steps, "AUTO:NPU,CPU") == ""
    plain = (LoadStep("device", True, "ok"), LoadStep("infer", True, "x"))
    assert judge_device_steps({s.name: s for s in plain}, "CPU")[1] == "the bundle loads and runs a model on the CPU: x"
    assert ran_on_device(True, plain, "CPU") == "CPU"
    assert ran_on_device(True, (LoadStep("devices", False, "NPU devices: []"),), "NPU") == ""
