"""The C++ headers of a default bundle: OpenVINO's umbrella ``openvino/openvino.hpp`` and the whole
``openvino/runtime/intel_npu/`` folder are in the header closure, and are enough to compile C++
against the Windows bundle (mingw-w64, syntax only: MinGW cannot link MSVC's C++ ABI) and to
build and run C++ natively against Linux bundles (g++, linked with the bundle's link names and
an $ORIGIN rpath): ``ov::Core`` lists its devices, and on a CPU bundle reads, compiles and runs
an IR model."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import run
from tests.support.tools import require_tool, unavailable

pytestmark = [pytest.mark.wheels]

REPO = Path(__file__).resolve().parents[2]

NEW_ROOTS = ("openvino/openvino.hpp", "openvino/runtime/intel_npu/properties.hpp",
             "openvino/runtime/intel_npu/remote_properties.hpp",
             "openvino/runtime/intel_npu/level_zero/level_zero.hpp")

# Every NPU header and the umbrella include; the NPU types are used, not only declared.
NPU_CPP = """\
#include <openvino/openvino.hpp>
#include <openvino/runtime/intel_npu/properties.hpp>
#include <openvino/runtime/intel_npu/remote_properties.hpp>
#include <openvino/runtime/intel_npu/level_zero/level_zero.hpp>
#include <iostream>

int main() {
    ov::Core core;
    std::cout << "OpenVINO " << ov::get_openvino_version().buildNumber << "\\n";
    std::cout << "devices:";
    for (const auto &device : core.get_available_devices()) std::cout << " " << device;
    std::cout << "\\n";
    ov::AnyMap config{ov::intel_npu::turbo(true), ov::intel_npu::compilation_mode_params("")};
    ov::intel_npu::MemType mem = ov::intel_npu::MemType::L0_INTERNAL_BUF;
    ov::intel_npu::level_zero::ZeroContext *context = nullptr;
    std::cout << "npu properties: " << config.size() << " " << static_cast<int>(mem) << " " << (context == nullptr)
              << "\\n";
    return 0;
}
"""

# The umbrella include alone: list the devices, then read, compile and run the IR model of
# examples/npu-standalone (sum = x + y) on the CPU.
CPU_CPP = """\
#include <openvino/openvino.hpp>
#include <iostream>

int main(int argc, char **argv) {
    ov::Core core;
    std::cout << "OpenVINO " << ov::get_openvino_version().buildNumber << "\\n";
    std::cout << "devices:";
    for (const auto &device : core.get_available_devices()) std::cout << " " << device;
    std::cout << "\\n";
    if (argc < 2) return 0;
    std::shared_ptr<ov::Model> model = core.read_model(argv[1]);
    ov::CompiledModel compiled = core.compile_model(model, "CPU");
    ov::InferRequest request = compiled.create_infer_request();
    float x[6] = {-1, 2, -3, 4, -5, 6}, y[6] = {10, 20, 30, 40, 50, 60};
    request.set_tensor("x", ov::Tensor(ov::element::f32, ov::Shape{2, 3}, x));
    request.set_tensor("y", ov::Tensor(ov::element::f32, ov::Shape{2, 3}, y));
    request.infer();
    ov::Tensor sum = request.get_tensor("sum");
    std::cout << "sum " << sum.get_shape() << ":";
    for (size_t i = 0; i < sum.get_size(); i++) std::cout << " " << sum.data<float>()[i];
    std::cout << "\\n";
    return 0;
}
"""


def extract(source: Path, out: Path, *args: str) -> dict:
    result = run("extract", str(source), *args, "-o", str(out))
    assert result.exit_code == 0, result.stderr
    lock = json.loads((out / "npuslim-bundle.json").read_text())
    assert not [w for w in lock["warnings"] if w.startswith("header ")], lock["warnings"]
    return lock


def assert_new_roots(bundle: Path, npu: bool) -> None:
    include = bundle / "include"
    for rel in NEW_ROOTS if npu else NEW_ROOTS[:1]:
        assert (include / rel).is_file(), rel
    # the whole intel_npu folder of the wheel (three headers in 2026.4.1)
    found = sorted(p.relative_to(include).as_posix() for p in (include / "openvino/runtime/intel_npu").rglob("*")
                   if p.is_file()) if npu else []
    assert found == (sorted(NEW_ROOTS[1:]) if npu else [])


@pytest.fixture(scope="module")
def native() -> str:
    if not sys.platform.startswith("linux"):
        unavailable("a Linux bundle builds and runs natively on Linux only")
    return require_tool("g++", "apt-get install g++")


def build_and_run(gxx: str, source: str, bundle: Path, work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """g++ against the bundle's include/ and lib/ (link name libopenvino.so), rpath $ORIGIN-relative."""
    app = work / "app"
    app.mkdir()
    (work / "app.cpp").write_text(source)
    rpath = "$ORIGIN/" + os.path.relpath(bundle / "lib", app)
    proc = subprocess.run([gxx, "-std=c++17", "-Wall", str(work / "app.cpp"), "-I", str(bundle / "include"),
                           "-L", str(bundle / "lib"), "-lopenvino", f"-Wl,-rpath,{rpath}", "-o", str(app / "app")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "LD_PRELOAD")}
    return subprocess.run([str(app / "app"), *args], capture_output=True, text=True, env=env)


def test_the_default_windows_bundle_compiles_openvino_hpp_and_the_npu_headers(ov2026, tmp_path: Path) -> None:
    gxx = require_tool("x86_64-w64-mingw32-g++-posix", "apt-get install g++-mingw-w64-x86-64-posix")
    bundle = tmp_path / "npu"
    lock = extract(ov2026.root, bundle)
    assert lock["headers"] == {"kept": 112, "total": 653}
    assert_new_roots(bundle, npu=True)
    (tmp_path / "app.cpp").write_text(NPU_CPP)
    proc = subprocess.run([gxx, "-std=c++17", "-fsyntax-only", "-w", str(tmp_path / "app.cpp"),
                           "-I", str(bundle / "include")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_the_default_linux_npu_bundle_builds_and_runs_cpp(ovlinux2026, native: str, tmp_path: Path) -> None:
    bundle = tmp_path / "npu-linux"
    lock = extract(ovlinux2026.wheel, bundle)
    assert lock["headers"] == {"kept": 112, "total": 653}
    assert_new_roots(bundle, npu=True)
    proc = build_and_run(native, NPU_CPP, bundle, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("OpenVINO 2026.4.1-22982")
    # the bundle's only device plugin is the NPU's: it lists NPU when the machine has one, nothing else
    assert lines[1].split() in (["devices:"], ["devices:", "NPU"])
    assert lines[2] == "npu properties: 2 0 1"


def test_a_linux_cpu_bundle_runs_a_cpp_inference(ovlinux2026, native: str, tmp_path: Path) -> None:
    bundle = tmp_path / "cpu-linux"
    lock = extract(ovlinux2026.wheel, bundle, "--manifest", "cpu-linux")
    assert lock["headers"] == {"kept": 110, "total": 653}
    assert_new_roots(bundle, npu=False)
    spec = importlib.util.spec_from_file_location(
        "make_models", REPO / "examples" / "npu-standalone" / "tests" / "make_models.py")
    assert spec is not None and spec.loader is not None
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    model = make.write_ir(tmp_path)
    proc = build_and_run(native, CPU_CPP, bundle, tmp_path, str(model))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("OpenVINO 2026.4.1-22982")
    assert "CPU" in lines[1].split()[1:]
    assert lines[2] == "sum [2,3]: 9 22 27 44 45 66"
