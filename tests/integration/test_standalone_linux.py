"""examples/npu-standalone built natively on Linux: the same CMakeLists and sources, with gcc
and pthreads, against Linux bundles of the manylinux 2026.4.1 wheel. test_basic runs with
real numbers on a CPU bundle (IR and ONNX), from the installed application folder (RPATH
$ORIGIN/../lib), from a copy of it elsewhere, and from the build tree under ctest; on the NPU
bundle it stops at the NPU plugin's own "No available devices"."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from npuslim.formats.elf import read_elf
from tests.cli_helpers import run
from tests.support.tools import require_tool, unavailable

pytestmark = [pytest.mark.wheels]

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "npu-standalone"


@pytest.fixture(scope="module")
def native() -> None:
    if not sys.platform.startswith("linux"):
        unavailable("a Linux bundle builds and runs natively on Linux only")
    require_tool("gcc", "apt-get install gcc")
    require_tool("cmake", "apt-get install cmake")


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    spec = importlib.util.spec_from_file_location("make_models", EXAMPLE / "tests" / "make_models.py")
    assert spec is not None and spec.loader is not None
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    folder = tmp_path_factory.mktemp("models")
    make.write_ir(folder)
    make.write_onnx(folder)
    return folder


def clean_env() -> dict[str, str]:
    """No LD_LIBRARY_PATH or LD_PRELOAD: the binaries must find the bundle through their RPATH."""
    return {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "LD_PRELOAD")}


def build_native(bundle: Path, work: Path, *extra: str) -> Path:
    """Configure, build and install the example against ``bundle``; returns the installed prefix."""
    steps = [
        ["cmake", "-S", str(EXAMPLE), "-B", str(work / "build"), f"-DNPUSLIM_BUNDLE={bundle}",
         "-DCMAKE_BUILD_TYPE=Release", *extra],
        ["cmake", "--build", str(work / "build")],
        ["cmake", "--install", str(work / "build"), "--prefix", str(work / "app")],
    ]
    for cmd in steps:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=clean_env())
        assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return work / "app"


def run_test_basic(app: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(app / "bin" / "test_basic"), *args], capture_output=True, text=True,
                          env=clean_env(), cwd=app.parent)


@pytest.fixture(scope="module")
def cpu_bundle(ovlinux2026, native, tmp_path_factory) -> Path:
    bundle = tmp_path_factory.mktemp("cpu") / "cpu-linux-bundle"
    result = run("extract", str(ovlinux2026.wheel), "--manifest", "cpu-linux", "--with", "onnx", "-o", str(bundle))
    assert result.exit_code == 0, result.stderr
    return bundle


@pytest.fixture(scope="module")
def cpu_app(cpu_bundle, models, tmp_path_factory) -> Path:
    return build_native(cpu_bundle, tmp_path_factory.mktemp("cpu-build"), f"-DNPU_STANDALONE_TEST_MODELS={models}")


def assert_real_numbers(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("plugin CPU 2026.4.1-22982")
    assert "sum [2,3]: 9 22 27 44 45 66" in lines
    assert "prod [2,3]: 0 2 0 8 0 18" in lines
    assert "y [2,2]: -3.5 -4.5 5.5 7.5" in lines  # ONNX, dynamic batch of 2
    assert "y [3,2]: -3.5 -4.5 5.5 7.5 5.5 5.5" in lines  # the same compiled model, batch of 3
    assert lines[-1] == "test_basic: all checks passed"


def test_basic_infers_on_the_linux_cpu_bundle_with_real_numbers(cpu_app: Path, models: Path) -> None:
    assert_real_numbers(run_test_basic(cpu_app, "CPU", str(models), "onnx"))


def test_the_installed_app_links_the_c_api_by_soname_with_origin_rpaths(cpu_app: Path) -> None:
    library = read_elf(cpu_app / "lib" / "libnpu_standalone.so")
    assert "libopenvino_c.so.2641" in library.imports  # the SONAME, not the link name
    assert not any(name.startswith("libopenvino.so") for name in library.imports)  # the C API only
    assert library.runpath + library.rpath == ("$ORIGIN",)
    test = read_elf(cpu_app / "bin" / "test_basic")
    assert "libnpu_standalone.so" in test.imports
    assert test.runpath + test.rpath == ("$ORIGIN/../lib",)
    lib = cpu_app / "lib"
    assert os.readlink(lib / "libopenvino_c.so") == "libopenvino_c.so.2641"  # the bundle's link names stay symlinks
    assert (lib / "libopenvino_intel_cpu_plugin.so").is_file() and (lib / "libopenvino_onnx_frontend.so.2641").is_file()


def test_the_installed_app_runs_from_anywhere(cpu_app: Path, models: Path, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere" / "app"
    shutil.copytree(cpu_app, moved, symlinks=True)
    assert_real_numbers(run_test_basic(moved, "CPU", str(models), "onnx"))


def test_ctest_runs_test_basic_from_the_build_tree(cpu_app: Path) -> None:
    build = cpu_app.parent / "build"
    proc = subprocess.run(["ctest", "--test-dir", str(build), "--output-on-failure"], capture_output=True,
                          text=True, env=clean_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "100% tests passed, 0 tests failed out of 1" in proc.stdout


def test_onnx_without_the_onnx_frontend_is_a_read_error(cpu_app: Path, models: Path, tmp_path: Path) -> None:
    app = tmp_path / "app"
    shutil.copytree(cpu_app, app, symlinks=True)
    (app / "lib" / "libopenvino_onnx_frontend.so.2641").unlink()
    proc = run_test_basic(app, "CPU", str(models), "onnx")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "npu_compile(matmul.onnx): NPU_ERR_READ_MODEL" in proc.stderr
    assert "Available frontends: ir" in proc.stderr
    assert "sum [2,3]: 9 22 27 44 45 66" in proc.stdout  # the IR model before it still ran


def test_basic_reaches_the_linux_npu_plugin_and_its_no_device_error(ovlinux2026, native, models: Path,
                                                                   tmp_path: Path) -> None:
    bundle = tmp_path / "npu-linux-bundle"
    assert run("extract", str(ovlinux2026.wheel), "-o", str(bundle)).exit_code == 0
    app = build_native(bundle, tmp_path)
    proc = run_test_basic(app, "NPU", str(models))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    message = proc.stderr.strip()
    assert message.startswith("npu_plugin_create(NPU): the NPU plugin (openvino_intel_npu_plugin 2026.4.1-22982")
    assert "found no NPU device" in message
    assert "src/plugins/intel_npu/" in message and "No available devices" in message
    proc = run_test_basic(app, "CPU", str(models))  # the NPU bundle has no CPU plugin
    assert proc.returncode == 3 and "npu_plugin_create(CPU): cannot load the CPU plugin" in proc.stderr


def test_cmake_refuses_a_platform_the_toolchain_does_not_build_for(cpu_bundle: Path, tmp_path: Path) -> None:
    """A Linux bundle with the mingw toolchain file, a Windows bundle (its lock file says so) natively."""
    proc = subprocess.run(["cmake", "-S", str(EXAMPLE), "-B", str(tmp_path / "mingw"), f"-DNPUSLIM_BUNDLE={cpu_bundle}",
                           f"-DCMAKE_TOOLCHAIN_FILE={EXAMPLE / 'toolchain-mingw64.cmake'}"],
                          capture_output=True, text=True)
    assert proc.returncode != 0
    assert "is a Linux bundle: build natively on Linux" in " ".join(proc.stderr.split())  # CMake wraps lines
    windows = tmp_path / "windows-bundle"
    (windows / "include" / "openvino" / "c").mkdir(parents=True)
    (windows / "include" / "openvino" / "c" / "openvino.h").write_text("")
    (windows / "lib").mkdir()
    (windows / "lib" / "openvino_c.lib").write_bytes(b"")
    (windows / "npuslim-bundle.json").write_text('{"source": {"platform": "windows"}}')
    proc = subprocess.run(["cmake", "-S", str(EXAMPLE), "-B", str(tmp_path / "native"), f"-DNPUSLIM_BUNDLE={windows}"],
                          capture_output=True, text=True)
    assert proc.returncode != 0
    assert "is a Windows bundle: build for Windows" in " ".join(proc.stderr.split())
