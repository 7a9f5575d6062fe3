"""ONNX Runtime on Linux: the manylinux onnxruntime-openvino wheel is both sources (it carries
the OpenVINO its provider was built with), each library ships once under its SONAME, and
verify --load runs a model through ONNX Runtime natively, every node on OpenVINO's provider."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

from tests.cli_helpers import run
from tests.conftest import TEST_CACHE
from tests.support.tools import require_tool, unavailable

VERIFY_SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "npuslim" / "schemas" /
                            "verify.schema.json").read_text())
PLATFORM = "manylinux_2_28_x86_64"


@pytest.fixture(scope="module")
def ort_linux_wheel() -> Path:
    from npuslim.errors import NpuslimError
    from npuslim.source.locate import fetch_wheel

    os.environ["NPUSLIM_CACHE_DIR"] = str(TEST_CACHE / "npuslim")
    try:
        return fetch_wheel("onnxruntime-openvino==1.24.1", platform=PLATFORM)
    except NpuslimError as exc:
        unavailable(f"cannot download the onnxruntime-openvino 1.24.1 {PLATFORM} wheel: {exc}")
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def ort_linux_bundle(ort_linux_wheel: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ortl") / "ort-npu"
    result = run("extract", "--onnxruntime", str(ort_linux_wheel), "--with", "cpu", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert "OpenVINO 2025.4.1 from the ONNX Runtime wheel itself" in result.stderr
    return out


@pytest.mark.wheels
def test_each_library_once_under_its_soname(ort_linux_bundle: Path) -> None:
    lib = ort_linux_bundle / "lib"
    files = {p.name for p in lib.iterdir() if not p.is_symlink()}
    assert files == {"libonnxruntime.so.1", "libonnxruntime_providers_openvino.so",
                     "libonnxruntime_providers_shared.so", "libopenvino.so.2541", "libopenvino_onnx_frontend.so.2541",
                     "libopenvino_intel_npu_plugin.so", "libopenvino_intel_cpu_plugin.so", "libtbb.so.12"}
    assert os.readlink(lib / "libonnxruntime.so") == "libonnxruntime.so.1"
    assert not any(".2025.4.1" in n for n in os.listdir(lib))
    assert (ort_linux_bundle / "licenses" / "onnxruntime" / "LICENSE").is_file()


@pytest.mark.wheels
def test_verify_load_runs_a_model_through_onnx_runtime_natively(ort_linux_bundle: Path) -> None:
    require_tool("gcc", "apt-get install gcc")
    cpu = run("verify", str(ort_linux_bundle), "--load", "--device", "CPU", "--format", "json")
    assert cpu.exit_code == 0, cpu.stdout + cpu.stderr
    data = json.loads(cpu.stdout)
    jsonschema.validate(data, VERIFY_SCHEMA)
    load = data["load"]
    steps = {s["name"]: s for s in load["steps"]}
    assert load["runner"] == "native" and steps["api"]["detail"] == "ONNX Runtime 1.24.1"
    assert steps["fallback"]["state"] == "passed"
    assert steps["placement"]["detail"] == "All nodes placed on [OpenVINOExecutionProvider]. Number of nodes: 1"
    assert steps["run"]["state"] == "passed" and "= [0, 2, 0, 4.25]" in steps["run"]["detail"]
    assert load["ran_on"] == "OpenVINOExecutionProvider"
    npu = run("verify", str(ort_linux_bundle), "--load", "--format", "json")
    assert npu.exit_code == 0, npu.stdout + npu.stderr
    load = json.loads(npu.stdout)["load"]
    assert "found no NPU device" in load["verdict"] and load["ran_on"] is None
    assert {s["name"]: s["state"] for s in load["steps"]}["provider"] == "not_checked"
    assert not any(s["state"] == "failed" for s in load["steps"])


@pytest.mark.wheels
def test_removing_the_provider_fails_the_load(ort_linux_bundle: Path, tmp_path: Path) -> None:
    import shutil

    require_tool("gcc", "apt-get install gcc")
    copy = tmp_path / "b"
    shutil.copytree(ort_linux_bundle, copy, symlinks=True)
    (copy / "lib" / "libopenvino.so.2541").unlink()
    result = run("verify", str(copy), "--load", "--device", "CPU", "--format", "json")
    load = json.loads(result.stdout)["load"]
    assert result.exit_code != 0 and not load["ok"]
    assert "libopenvino.so.2541" in load["verdict"]
