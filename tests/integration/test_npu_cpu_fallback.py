"""NPU with CPU fallback: ``--with cpu`` adds the CPU and AUTO plugins to the NPU bundle, and
``verify --load --device AUTO:NPU,CPU`` runs the probe model on this machine, which has no NPU,
naming the device that ran it (the compiled model's EXECUTION_DEVICES). Windows under Wine,
Linux natively."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.cli_helpers import run
from tests.support.tools import require_tool

VERIFY_SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "npuslim" / "schemas" /
                            "verify.schema.json").read_text())
AUTO = "AUTO:NPU,CPU"


def _auto_load(bundle: Path) -> dict:
    result = run("verify", str(bundle), "--load", "--device", AUTO, "--format", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    jsonschema.validate(data, VERIFY_SCHEMA)
    return data["load"]


def _assert_ran_on_the_cpu(load: dict) -> None:
    steps = {s["name"]: s for s in load["steps"]}
    assert "openvino_auto_plugin" in steps["plugin"]["detail"]
    # the NPU is asked for and is not there; the CPU is what AUTO fell back to
    assert steps["devices"]["detail"].startswith("NPU devices: []")
    assert steps["devices"]["state"] == "not_checked" and steps["devices"]["not_checked"] == (
        "no NPU device on this machine")
    assert steps["device"]["state"] == "passed" and steps["executed_by"]["detail"] == "(CPU)"
    assert steps["infer"]["state"] == "passed" and "= [0, 2, 0, 4]" in steps["infer"]["detail"]
    assert load["ran_on"] == "CPU"
    assert f"runs a model on {AUTO}, executed by CPU (EXECUTION_DEVICES)" in load["verdict"]


@pytest.mark.wheels
@pytest.mark.wine
def test_windows_npu_bundle_with_cpu_runs_auto_on_the_cpu(ov2026, tmp_path: Path) -> None:
    out = tmp_path / "npu-cpu"
    assert run("extract", str(ov2026.root), "--with", "cpu", "-o", str(out)).exit_code == 0
    dlls = {p.name for p in (out / "bin").iterdir()}
    assert {"openvino_intel_cpu_plugin.dll", "openvino_auto_plugin.dll", "openvino_intel_npu_plugin.dll"} <= dlls
    _assert_ran_on_the_cpu(_auto_load(out))


@pytest.mark.wheels
def test_linux_npu_bundle_with_cpu_runs_auto_on_the_cpu(ovlinux2026, tmp_path: Path) -> None:
    require_tool("gcc", "apt-get install gcc")
    out = tmp_path / "npu-cpu"
    assert run("extract", str(ovlinux2026.wheel), "--with", "cpu", "-o", str(out)).exit_code == 0
    libs = {p.name for p in (out / "lib").iterdir()}
    assert {"libopenvino_intel_cpu_plugin.so", "libopenvino_auto_plugin.so"} <= libs
    _assert_ran_on_the_cpu(_auto_load(out))


@pytest.mark.wheels
@pytest.mark.parametrize("which", ["windows", "linux"])
def test_list_features_shows_what_cpu_adds(which: str, ov2026, ovlinux2026) -> None:
    source = str(ov2026.root) if which == "windows" else str(ovlinux2026.wheel)
    listed = " ".join(run("extract", source, "--list-features").stdout.split())
    plugins = ("openvino_auto_plugin.dll, openvino_intel_cpu_plugin.dll" if which == "windows"
               else "libopenvino_auto_plugin.so, libopenvino_intel_cpu_plugin.so")
    assert "cpu adds " in listed and plugins in listed
