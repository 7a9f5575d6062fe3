"""npuslim wheel on the official 2026.4.1 manylinux wheel: built, pip-installed into a fresh venv,
imported, the NPU plugin loaded, and with --with cpu a model run on the CPU, natively."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from npuslim.schema_check import first_error, load_schema
from tests.cli_helpers import run
from tests.support.tools import unavailable

pytestmark = pytest.mark.wheels

PROBE = r"""
import json, sys
import numpy as np
import openvino as ov
import openvino.opset13 as ops
out = {"version": ov.__version__, "modules": sorted(m for m in sys.modules if m.startswith("openvino.frontend."))}
core = ov.Core()
out["npu"] = str(core.get_versions("NPU")["NPU"].description)
out["devices"] = core.available_devices
if "--cpu" in sys.argv:
    p = ops.parameter([4], ov.Type.f32)
    compiled = core.compile_model(ov.Model([ops.relu(p)], [p]), "CPU")
    out["relu"] = compiled(np.array([-1.5, 2.0, -3.0, 4.25], dtype=np.float32))[0].tolist()
try:
    import openvino.frontend.onnx
except ImportError as exc:
    out["onnx_error"] = str(exc)
print(json.dumps(out))
"""


def _build(wheel: Path, dist: Path, *extra: str) -> Path:
    result = run("wheel", str(wheel), "-o", str(dist), *extra)
    assert result.exit_code == 0, result.stderr
    built = sorted(dist.glob("*.whl"))
    assert len(built) == 1
    return built[0]


def _venv_with(slim: Path, tmp_path: Path) -> Path:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-index", "--no-deps", str(slim)], check=True)
    numpy = subprocess.run([str(python), "-m", "pip", "install", "-q", "numpy"], capture_output=True, text=True)
    if numpy.returncode != 0:
        unavailable(f"numpy cannot be installed from PyPI or pip's cache: {numpy.stderr[-300:]}")
    return python


def _probe(python: Path, tmp_path: Path, *args: str) -> dict:
    done = subprocess.run([str(python), "-c", PROBE, *args], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_npu_only_wheel_installs_imports_and_loads_the_npu_plugin(ovlinux2026, tmp_path: Path) -> None:
    official = ovlinux2026.wheel
    slim = _build(official, tmp_path / "dist")
    assert slim.name == "openvino-2026.4.1+npu-22982-cp311-cp311-manylinux_2_28_x86_64.whl"
    assert slim.stat().st_size <= 0.30 * official.stat().st_size
    names = set(zipfile.ZipFile(slim).namelist())
    assert "openvino/libs/libopenvino_intel_npu_plugin.so" in names
    assert not any("cpu_plugin" in n or "gpu_plugin" in n or n.startswith("openvino/include/") for n in names)
    out = _probe(_venv_with(slim, tmp_path), tmp_path)
    assert out["npu"] == "openvino_intel_npu_plugin"
    assert "CPU" not in out["devices"]
    assert out["modules"] == ["openvino.frontend.frontend"]  # import openvino reached no dropped frontend
    assert "rebuild the wheel with --with onnx" in out["onnx_error"]


def test_npu_cpu_wheel_runs_a_model_on_the_cpu(ovlinux2026, tmp_path: Path) -> None:
    slim = _build(ovlinux2026.wheel, tmp_path / "dist", "--with", "cpu")
    assert slim.name == "openvino-2026.4.1+npu.cpu-22982-cp311-cp311-manylinux_2_28_x86_64.whl"
    out = _probe(_venv_with(slim, tmp_path), tmp_path, "--cpu")
    assert out["version"].startswith("2026.4.1")
    assert "CPU" in out["devices"]
    assert out["relu"] == [0.0, 2.0, 0.0, 4.25]
    lock = json.loads(zipfile.ZipFile(slim).read("openvino-2026.4.1+npu.cpu.dist-info/npuslim-wheel.json"))
    assert first_error(lock, load_schema("wheel")) is None
    assert lock["features"] == ["cpu", "ir"]
    kept = {b["name"] for b in lock["binaries"]}
    assert "openvino/libs/libopenvino_intel_cpu_plugin.so" in kept
    assert "openvino/_pyopenvino.cpython-311-x86_64-linux-gnu.so" in kept
