"""examples/npu-standalone-rs: the Rust crate over npu_standalone, linked by its build.rs to the
library the CMake project builds against a bundle, and tested with ``cargo test --offline``
(test_basic's checks with real numbers on a CPU bundle). Natively against a Linux bundle of the
manylinux 2026.4.1 wheel; cross-built for x86_64-pc-windows-gnu against a Windows bundle and
run under Wine when the Windows target's standard library is installed (Debian:
libstd-rust-dev-windows).

The cargo used is ``$NPUSLIM_TEST_CARGO``, else Debian's /usr/bin/cargo, else the first on PATH, with the rustc beside it (Debian's
/usr/bin/cargo runs /usr/bin/rustc 1.63, the oldest the crate supports)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from npuslim.check.load_windows import find_runner
from npuslim.source.locate import cache_dir
from tests.cli_helpers import run
from tests.support.tools import require_tool, unavailable

pytestmark = [pytest.mark.wheels]

REPO = Path(__file__).resolve().parents[2]
CRATE = REPO / "examples" / "npu-standalone-rs"
LIBRARY = REPO / "examples" / "npu-standalone"
WINDOWS_TARGET = "x86_64-pc-windows-gnu"

# What test_basic prints, printed the same way by the crate's tests (cargo test -- --show-output).
REAL_NUMBERS = (
    "sum [2,3]: 9 22 27 44 45 66",
    "prod [2,3]: 0 2 0 8 0 18",
    "y [2,2]: -3.5 -4.5 5.5 7.5",  # ONNX, dynamic batch of 2
    "y [3,2]: -3.5 -4.5 5.5 7.5 5.5 5.5",  # the same compiled model, batch of 3
)
CARGO_TESTS = 12  # tests/basic.rs


def cargo_tools() -> tuple[str, str | None]:
    """(cargo, the folder of the rustc beside it, or None to let cargo pick)."""
    # Debian's cargo first (what .ci/install-test-deps installs, with the Windows target's std beside
    # it); a rustup cargo earlier on PATH has neither rustc 1.63 nor, usually, that target
    debian = "/usr/bin/cargo" if Path("/usr/bin/cargo").is_file() else None
    cargo = os.environ.get("NPUSLIM_TEST_CARGO") or debian or require_tool("cargo", "apt-get install cargo")
    folder = Path(cargo).resolve().parent
    return cargo, str(folder) if (folder / "rustc").is_file() else None


@pytest.fixture(scope="module")
def cargo() -> tuple[str, str | None]:
    if not sys.platform.startswith("linux"):
        unavailable("the crate's tests build the C library natively on Linux (or cross for Windows)")
    require_tool("gcc", "apt-get install gcc")
    require_tool("cmake", "apt-get install cmake")
    return cargo_tools()


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    spec = importlib.util.spec_from_file_location("make_models", LIBRARY / "tests" / "make_models.py")
    assert spec is not None and spec.loader is not None
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    folder = tmp_path_factory.mktemp("models")
    make.write_ir(folder)
    make.write_onnx(folder)
    return folder


def clean_env(**extra: str) -> dict[str, str]:
    """No LD_LIBRARY_PATH: the test binaries find the libraries through the RPATH build.rs sets."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_LIBRARY_PATH", "LD_PRELOAD", "NPUSLIM_BUNDLE", "NPU_STANDALONE_LIB_DIR")}
    env.update(extra)
    return env


def build_library(bundle: Path, build: Path, *extra: str) -> Path:
    """The C library, with its own CMake project, against ``bundle``; returns the build folder."""
    for cmd in (["cmake", "-S", str(LIBRARY), "-B", str(build), f"-DNPUSLIM_BUNDLE={bundle}",
                 "-DCMAKE_BUILD_TYPE=Release", *extra],
                ["cmake", "--build", str(build)]):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=clean_env())
        assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return build


def cargo_run(tools: tuple[str, str | None], args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cargo, folder = tools
    if folder:  # rustc and rustdoc of the same toolchain (the doctest links the crate's rlib)
        env = {**env, "RUSTC": str(Path(folder) / "rustc"), "RUSTDOC": str(Path(folder) / "rustdoc")}
    return subprocess.run([cargo, *args], cwd=CRATE, capture_output=True, text=True, env=env)


def assert_cargo_test_passed(proc: subprocess.CompletedProcess[str]) -> None:
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert f"test result: ok. {CARGO_TESTS} passed; 0 failed" in proc.stdout, out[-6000:]
    lines = proc.stdout.splitlines()
    for line in REAL_NUMBERS:
        assert line in lines, out[-6000:]
    assert any(line.startswith("plugin CPU 2026.4.1-22982") for line in lines), out[-6000:]
    assert "two threads: 50 inferences on one model, all right" in lines


@pytest.fixture(scope="module")
def linux_build(ovlinux2026, cargo, tmp_path_factory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("rust-linux")
    bundle = work / "cpu-linux-bundle"
    result = run("extract", str(ovlinux2026.wheel), "--manifest", "cpu-linux", "--with", "onnx", "-o", str(bundle))
    assert result.exit_code == 0, result.stderr
    return bundle, build_library(bundle, work / "build")


def test_cargo_test_infers_on_the_linux_cpu_bundle_with_real_numbers(cargo, linux_build, models: Path,
                                                                       tmp_path: Path) -> None:
    bundle, build = linux_build
    env = clean_env(NPUSLIM_BUNDLE=str(bundle), NPU_STANDALONE_LIB_DIR=str(build),
                    NPU_STANDALONE_TEST_MODELS=str(models), CARGO_TARGET_DIR=str(tmp_path / "target"))
    version = cargo_run(cargo, ["--version"], env).stdout.strip()
    proc = cargo_run(cargo, ["test", "--offline", "-j1", "--", "--show-output"], env)
    assert_cargo_test_passed(proc)
    print(version, "\n", proc.stdout[-2000:])

    # The example: any model from the command line, made-up inputs 1, 2, 3, ...
    proc = cargo_run(cargo, ["run", "--offline", "-q", "--example", "infer", "--", str(models / "add_mul.xml"),
                             "CPU"], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'output 0 "sum" F32 [2, 3]: 2 4 6 8 10 12' in proc.stdout.splitlines()
    assert 'output 1 "prod" F32 [2, 3]: 0.5 2 4.5 8 12.5 18' in proc.stdout.splitlines()
    proc = cargo_run(cargo, ["run", "--offline", "-q", "--example", "infer", "--", str(models / "matmul.onnx"),
                             "CPU", "2"], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'output 0 "y" F32 [2, 2]: 22.5 27.5 49.5 63.5' in proc.stdout.splitlines()  # [1..6] @ W + b
    # The CPU bundle has no NPU plugin: the C library's message comes through the Rust error.
    proc = cargo_run(cargo, ["run", "--offline", "-q", "--example", "infer", "--", str(models / "add_mul.xml")], env)
    assert proc.returncode == 1
    assert "infer: NPU_ERR_PLUGIN: cannot load the NPU plugin" in proc.stderr


def test_the_rust_struct_layouts_are_the_c_compilers(cargo, linux_build, models: Path, tmp_path: Path) -> None:
    """sizeof/offsetof from gcc on the real header against what the crate's sys module gives."""
    bundle, build = linux_build
    probe = tmp_path / "layout.c"
    probe.write_text(
        '#include <stddef.h>\n#include <stdio.h>\n#include "npu_standalone.h"\n'
        "int main(void) {\n"
        '  printf("layout npu_tensor_t %zu %zu [%zu, %zu, %zu, %zu] npu_tensor_info_t %zu %zu [%zu, %zu, %zu]\\n",\n'
        "    sizeof(npu_tensor_t), _Alignof(npu_tensor_t), offsetof(npu_tensor_t, rank),\n"
        "    offsetof(npu_tensor_t, dims), offsetof(npu_tensor_t, data), offsetof(npu_tensor_t, size_bytes),\n"
        "    sizeof(npu_tensor_info_t), _Alignof(npu_tensor_info_t), offsetof(npu_tensor_info_t, rank),\n"
        "    offsetof(npu_tensor_info_t, dims), offsetof(npu_tensor_info_t, name));\n"
        '  printf("enums %zu %zu\\n", sizeof(npu_status_t), sizeof(npu_element_type_t));\n'
        "  return 0;\n}\n")
    exe = tmp_path / "layout"
    subprocess.run(["gcc", "-std=c11", "-I", str(LIBRARY / "include"), str(probe), "-o", str(exe)], check=True)
    c_lines = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.splitlines()
    assert c_lines[1] == "enums 4 4"  # c_int in sys.rs

    env = clean_env(NPUSLIM_BUNDLE=str(bundle), NPU_STANDALONE_LIB_DIR=str(build),
                    NPU_STANDALONE_TEST_MODELS=str(models), CARGO_TARGET_DIR=str(tmp_path / "target"))
    proc = cargo_run(cargo, ["test", "--offline", "-j1", "--test", "basic", "struct_layouts", "--", "--show-output"],
                     env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rust = [line for line in proc.stdout.splitlines() if line.startswith("layout ")]
    assert rust == [c_lines[0]]
    assert c_lines[0] == "layout npu_tensor_t 96 8 [8, 16, 80, 88] npu_tensor_info_t 208 8 [8, 16, 80]"


def test_the_build_script_says_what_is_missing(cargo, tmp_path: Path) -> None:
    env = clean_env(CARGO_TARGET_DIR=str(tmp_path / "target"))
    proc = cargo_run(cargo, ["build", "--offline", "-j1"], env)
    assert proc.returncode != 0
    assert "error: npu-standalone: NPUSLIM_BUNDLE is not set" in proc.stderr
    assert "cmake -S examples/npu-standalone -B build -DNPUSLIM_BUNDLE=" in proc.stderr
    proc = cargo_run(cargo, ["build", "--offline", "-j1"], {**env, "NPUSLIM_BUNDLE": str(tmp_path)})
    assert proc.returncode != 0
    assert "error: npu-standalone: NPU_STANDALONE_LIB_DIR is not set" in proc.stderr


@pytest.fixture(scope="module")
def wine(cargo) -> list[str]:
    require_tool("x86_64-w64-mingw32-gcc", "apt-get install gcc-mingw-w64-x86-64-win32")
    _, folder = cargo
    rustc = str(Path(folder) / "rustc") if folder else "rustc"
    sysroot = subprocess.run([rustc, "--print", "sysroot"], capture_output=True, text=True).stdout.strip()
    if not (Path(sysroot) / "lib" / "rustlib" / WINDOWS_TARGET / "lib").is_dir():
        unavailable(f"no {WINDOWS_TARGET} standard library in {sysroot} (Debian: apt-get install "
                    f"libstd-rust-dev-windows; rustup: rustup target add {WINDOWS_TARGET})")
    try:
        _, prefix = find_runner()
    except Exception as exc:
        unavailable(str(exc))
    return prefix


def _win(path: Path) -> str:
    return "Z:" + str(path.resolve()).replace("/", "\\")


def test_cargo_test_cross_built_for_windows_runs_under_wine(ov2026, cargo, wine: list[str], models: Path,
                                                             tmp_path: Path) -> None:
    bundle = tmp_path / "cpu-bundle"
    result = run("extract", str(ov2026.root), "--manifest", "cpu", "--with", "onnx", "-o", str(bundle))
    assert result.exit_code == 0, result.stderr
    build = build_library(bundle, tmp_path / "build",
                          f"-DCMAKE_TOOLCHAIN_FILE={LIBRARY / 'toolchain-mingw64.cmake'}")
    assert (build / "npu_standalone.dll.a").is_file() and (build / "openvino_c.dll").is_file()
    wine_prefix = cache_dir() / "wine-prefix"
    env = clean_env(NPUSLIM_BUNDLE=str(bundle), NPU_STANDALONE_LIB_DIR=str(build),
                    NPU_STANDALONE_TEST_MODELS=_win(models), CARGO_TARGET_DIR=str(tmp_path / "target"),
                    CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=" ".join(wine),
                    # no RPATH on Windows: the DLLs are found on WINEPATH (the build folder has them all)
                    WINEPATH=_win(build), WINEPREFIX=str(wine_prefix), WINEDEBUG="-all",
                    WINEDLLOVERRIDES="mscoree,mshtml=;winemenubuilder.exe=d")
    proc = cargo_run(cargo, ["test", "--offline", "-j1", "--target", WINDOWS_TARGET, "--test", "basic", "--",
                             "--show-output"], env)
    assert_cargo_test_passed(proc)
    exe = next((tmp_path / "target" / WINDOWS_TARGET / "debug" / "deps").glob("basic-*.exe"))
    imports = subprocess.run(["x86_64-w64-mingw32-objdump", "-p", str(exe)], capture_output=True, text=True).stdout
    assert "DLL Name: npu_standalone.dll" in imports
    assert not re.search(r"DLL Name: (openvino|libgcc|libstdc)", imports)  # the C API through npu_standalone only
