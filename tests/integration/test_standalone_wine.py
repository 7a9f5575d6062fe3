"""examples/npu-standalone: the library built with CMake + mingw-w64 against bundles, and
its test_basic run under Wine: real numbers on the CPU bundle, the NPU plugin's own
"no device" answer on the NPU bundle."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from npuslim.check.load_windows import find_runner
from npuslim.formats.pe import read_pe
from npuslim.source.locate import cache_dir
from tests.cli_helpers import run
from tests.support.tools import require_tool, unavailable

pytestmark = [pytest.mark.wine, pytest.mark.wheels, pytest.mark.mingw]

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "npu-standalone"


def _make_models():
    spec = importlib.util.spec_from_file_location("make_models", EXAMPLE / "tests" / "make_models.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def wine() -> list[str]:
    require_tool("x86_64-w64-mingw32-gcc", "apt-get install gcc-mingw-w64-x86-64-win32")
    require_tool("cmake", "apt-get install cmake")
    try:
        _, prefix = find_runner()
    except Exception as exc:
        unavailable(str(exc))
    return prefix


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    make = _make_models()
    make.write_ir(folder)
    make.write_onnx(folder)
    return folder


def build_against(bundle: Path, work: Path, *extra: str) -> Path:
    """Configure, build and install the example against ``bundle``; returns the installed bin/."""
    toolchain = ["-DCMAKE_TOOLCHAIN_FILE=" + str(EXAMPLE / "toolchain-mingw64.cmake")] if os.name != "nt" else []
    steps = [
        ["cmake", "-S", str(EXAMPLE), "-B", str(work / "build"), f"-DNPUSLIM_BUNDLE={bundle}",
         "-DCMAKE_BUILD_TYPE=Release", *toolchain, *extra],
        ["cmake", "--build", str(work / "build")],
        ["cmake", "--install", str(work / "build"), "--prefix", str(work / "app")],
    ]
    for cmd in steps:
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return work / "app" / "bin"


def wine_env() -> dict[str, str]:
    return {"WINEPREFIX": str(cache_dir() / "wine-prefix"), "WINEDEBUG": "-all", "PATH": "/usr/bin:/bin",
            "HOME": os.environ.get("HOME", "/tmp"), "WINEDLLOVERRIDES": "mscoree,mshtml=;winemenubuilder.exe=d"}


def run_test_basic(wine: list[str], app: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*wine, "test_basic.exe", *args], cwd=app, env=wine_env(), capture_output=True, text=True,
                          timeout=600)


def _win(path: Path) -> str:
    return str(path) if os.name == "nt" else "Z:" + str(path.resolve()).replace("/", "\\")


@pytest.fixture(scope="module")
def cpu_app(ov2026, wine, models, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("cpu")
    bundle = work / "cpu-bundle"
    result = run("extract", str(ov2026.root), "--manifest", "cpu", "--with", "onnx", "-o", str(bundle))
    assert result.exit_code == 0, result.stderr
    # ctest runs test_basic through Wine as the cross-compiling emulator
    return build_against(bundle, work, f"-DNPU_STANDALONE_TEST_MODELS={_win(models)}",
                         f"-DCMAKE_CROSSCOMPILING_EMULATOR={';'.join(wine)}")


@pytest.fixture(scope="module")
def npu_app(ov2026, wine, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("npu")
    bundle = work / "npu-bundle"
    assert run("extract", str(ov2026.root), "-o", str(bundle)).exit_code == 0
    return build_against(bundle, work)


def test_the_library_imports_only_the_c_api_and_windows(cpu_app: Path) -> None:
    info = read_pe(cpu_app / "npu_standalone.dll")
    assert {name.lower() for name in info.imports} == {"openvino_c.dll", "kernel32.dll", "msvcrt.dll"}


def test_basic_infers_on_the_cpu_bundle_with_real_numbers(cpu_app: Path, wine: list[str], models: Path) -> None:
    proc = run_test_basic(wine, cpu_app, "CPU", _win(models), "onnx")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("plugin CPU 2026.4.1-22982")
    assert "sum [2,3]: 9 22 27 44 45 66" in lines
    assert "prod [2,3]: 0 2 0 8 0 18" in lines
    assert "y [2,2]: -3.5 -4.5 5.5 7.5" in lines  # ONNX, dynamic batch of 2
    assert "y [3,2]: -3.5 -4.5 5.5 7.5 5.5 5.5" in lines  # the same compiled model, batch of 3
    assert lines[-1] == "test_basic: all checks passed"


def test_ctest_runs_test_basic_from_the_build_tree(cpu_app: Path) -> None:
    build = cpu_app.parent.parent / "build"
    proc = subprocess.run(["ctest", "--test-dir", str(build), "--output-on-failure"], capture_output=True,
                          text=True, env={**os.environ, **wine_env()})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "100% tests passed, 0 tests failed out of 1" in proc.stdout


def test_onnx_without_the_onnx_frontend_is_a_read_error(cpu_app: Path, wine: list[str], models: Path,
                                                        tmp_path: Path) -> None:
    app = tmp_path / "app"
    shutil.copytree(cpu_app, app)
    (app / "openvino_onnx_frontend.dll").unlink()
    proc = run_test_basic(wine, app, "CPU", _win(models), "onnx")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "npu_compile(matmul.onnx): NPU_ERR_READ_MODEL" in proc.stderr
    assert "Available frontends: ir" in proc.stderr
    assert "sum [2,3]: 9 22 27 44 45 66" in proc.stdout  # the IR model before it still ran


def test_basic_reaches_the_npu_plugin_and_its_no_device_error(npu_app: Path, wine: list[str],
                                                             models: Path) -> None:
    proc = run_test_basic(wine, npu_app, "NPU", _win(models))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    message = proc.stderr.strip()
    assert message.startswith("npu_plugin_create(NPU): the NPU plugin (openvino_intel_npu_plugin 2026.4.1-22982")
    assert "found no NPU device" in message
    # the plugin's own words, from its own source file
    assert "src\\plugins\\intel_npu\\" in message and "No available devices" in message


def test_an_unknown_device_is_a_plugin_error(npu_app: Path, wine: list[str], models: Path) -> None:
    proc = run_test_basic(wine, npu_app, "CPU", _win(models))
    assert proc.returncode == 3
    assert "npu_plugin_create(CPU): cannot load the CPU plugin" in proc.stderr


def test_cmake_refuses_a_folder_that_is_not_a_bundle(tmp_path: Path) -> None:
    require_tool("cmake", "apt-get install cmake")
    proc = subprocess.run(["cmake", "-S", str(EXAMPLE), "-B", str(tmp_path / "b"), f"-DNPUSLIM_BUNDLE={tmp_path}"],
                          capture_output=True, text=True)
    assert proc.returncode != 0
    assert "set NPUSLIM_BUNDLE to a bundle made by 'npuslim extract'" in proc.stderr


def test_basic_on_an_older_release(ov2024, wine: list[str], models: Path, tmp_path: Path) -> None:
    """The same source against OpenVINO 2024.6.0's C API: the library uses nothing newer."""
    bundle = tmp_path / "cpu-2024"
    result = run("extract", str(ov2024.root), "--manifest", "cpu", "--with", "onnx", "-o", str(bundle))
    assert result.exit_code == 0, result.stderr
    app = build_against(bundle, tmp_path)
    proc = run_test_basic(wine, app, "CPU", _win(models), "onnx")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("plugin CPU 2024.6.0-17404")
    assert "y [3,2]: -3.5 -4.5 5.5 7.5 5.5 5.5" in proc.stdout.splitlines()
