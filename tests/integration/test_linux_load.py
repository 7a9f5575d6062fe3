"""``verify --load`` for Linux bundles: the native probe built with gcc, on the manylinux wheels.

The tests that build, run or download; the pure ones are in tests/unit/test_linux_load.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.cli_helpers import run
from tests.support.tools import require_tool

VERIFY_SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "npuslim" / "schemas" /
                            "verify.schema.json").read_text())


def _load(bundle, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict]:
    result = run("verify", str(bundle), "--load", "--format", "json", *args, env=env)
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.wheels
def test_npu_bundle_reaches_the_plugin_without_ld_library_path(ovlinux, tmp_path) -> None:
    require_tool("gcc", "apt-get install gcc")
    out = tmp_path / "b"
    assert run("extract", str(ovlinux.wheel), "-o", str(out)).exit_code == 0
    # a poisoned LD_LIBRARY_PATH must not matter: the probe runs without it
    poison = tmp_path / "poison"
    poison.mkdir()
    (poison / "libtbb.so.12").write_text("not a library")
    code, data = _load(out, env={"LD_LIBRARY_PATH": str(poison)})
    assert code == 0, data
    jsonschema.validate(data, VERIFY_SCHEMA)
    load = data["load"]
    steps = {s["name"]: s for s in load["steps"]}
    assert all(steps[n]["ok"] for n in ("load_c_api", "version", "core_create", "read_model", "plugin"))
    assert steps["version"]["detail"].startswith(ovlinux.version)
    assert "found no NPU device" in load["verdict"] and load["runner"] == "native"
    assert load["missing"] == []


@pytest.mark.wheels
def test_removing_libtbb_fails_the_load_naming_it(ovlinux2026, tmp_path) -> None:
    require_tool("gcc", "apt-get install gcc")
    out = tmp_path / "b"
    assert run("extract", str(ovlinux2026.wheel), "-o", str(out)).exit_code == 0
    (out / "lib" / "libtbb.so.12").unlink()
    code, data = _load(out)
    assert code == 5  # the bundle fails verification first; the load is reported all the same
    load = data["load"]
    assert not load["ok"]
    assert load["verdict"].startswith("libopenvino_c.so.2641 did not load: libtbb.so.12 not found (needed by ")
    assert {m["library"] for m in load["missing"]} == {"libtbb.so.12"}


@pytest.mark.wheels
def test_cpu_bundle_runs_a_model(ovlinux2026, tmp_path) -> None:
    require_tool("gcc", "apt-get install gcc")
    out = tmp_path / "cpu"
    result = run("extract", str(ovlinux2026.wheel), "-o", str(out), "--manifest", "cpu")
    assert result.exit_code == 0, result.stderr
    assert (out / "lib" / "libopenvino_intel_cpu_plugin.so").is_file()
    code, data = _load(out, "--device", "CPU")
    assert code == 0, data["load"]
    steps = {s["name"]: s for s in data["load"]["steps"]}
    assert steps["infer"]["ok"] and steps["infer"]["detail"] == "relu([-1, 2, -3, 4]) = [0, 2, 0, 4]"
    assert "runs a model on the CPU" in data["load"]["verdict"]


@pytest.mark.wheels
def test_cpu_bundle_with_tbbmalloc_runs_a_model(ovlinux2026, tmp_path) -> None:
    require_tool("gcc", "apt-get install gcc")
    out = tmp_path / "cpu"
    result = run("extract", str(ovlinux2026.wheel), "-o", str(out), "--manifest", "cpu", "--with", "tbbmalloc")
    assert result.exit_code == 0, result.stderr
    assert (out / "lib" / "libtbbmalloc.so.2").is_file()
    code, data = _load(out, "--device", "CPU")
    assert code == 0, data["load"]
    steps = {s["name"]: s for s in data["load"]["steps"]}
    assert steps["infer"]["ok"] and steps["infer"]["detail"] == "relu([-1, 2, -3, 4]) = [0, 2, 0, 4]"
    assert "runs a model on the CPU" in data["load"]["verdict"]


@pytest.mark.wheels
def test_bundle_without_the_c_api_loads_each_library(ovlinux2026, tmp_path) -> None:
    require_tool("gcc", "apt-get install gcc")
    out = tmp_path / "b"
    assert run("extract", str(ovlinux2026.wheel), "-o", str(out), "--without", "c-api").exit_code == 0
    code, data = _load(out)
    assert code == 0, data["load"]
    assert data["load"]["verdict"].startswith("all 4 libraries load through ld.so")


@pytest.mark.wheels
def test_c_example_builds_with_cmake_against_a_linux_bundle_and_runs(ovlinux2026, tmp_path) -> None:
    import subprocess

    from npuslim.formats.elf import read_elf

    cmake = require_tool("cmake", "apt-get install cmake")
    require_tool("gcc", "apt-get install gcc")
    repo = Path(__file__).resolve().parents[2]
    bundle = tmp_path / "cpu-bundle"
    assert run("extract", str(ovlinux2026.wheel), "-o", str(bundle), "--manifest", "cpu").exit_code == 0
    build, app = tmp_path / "build", tmp_path / "app"
    env = {"PATH": "/usr/bin:/bin"}
    for cmd in ([cmake, "-S", str(repo / "examples" / "c-api-npu"), "-B", str(build), f"-DNPUSLIM_BUNDLE={bundle}"],
                [cmake, "--build", str(build)], [cmake, "--install", str(build), "--prefix", str(app)]):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    exe = app / "bin" / "c-api-npu"
    info = read_elf(exe)
    assert "libopenvino_c.so.2641" in info.imports  # linked through the link name, needs the SONAME
    assert info.runpath == ("$ORIGIN/../lib",) or info.rpath == ("$ORIGIN/../lib",)
    (tmp_path / "model.xml").write_text(RELU_IR)
    (tmp_path / "model.bin").write_bytes(b"")
    proc = subprocess.run([str(exe), str(tmp_path / "model.xml"), "CPU"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "compiled for CPU" in proc.stdout
    assert "output 0 (4 values): 1 1 1 1" in proc.stdout


RELU_IR = """<?xml version="1.0"?>
<net name="relu" version="11"><layers>
<layer id="0" name="input" type="Parameter" version="opset1"><data shape="1,4" element_type="f32"/>
<output><port id="0" precision="FP32"><dim>1</dim><dim>4</dim></port></output></layer>
<layer id="1" name="relu" type="Relu" version="opset1">
<input><port id="0" precision="FP32"><dim>1</dim><dim>4</dim></port></input>
<output><port id="1" precision="FP32"><dim>1</dim><dim>4</dim></port></output></layer>
<layer id="2" name="output" type="Result" version="opset1">
<input><port id="0" precision="FP32"><dim>1</dim><dim>4</dim></port></input></layer>
</layers><edges>
<edge from-layer="0" from-port="0" to-layer="1" to-port="0"/>
<edge from-layer="1" from-port="1" to-layer="2" to-port="0"/>
</edges></net>
"""
