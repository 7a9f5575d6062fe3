"""Shared fixtures: a private npuslim cache, the official OpenVINO wheels, mingw graphs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.tools import unavailable

# Wheels are downloaded once into a cache outside the repository and reused by
# every later run; NPUSLIM_TEST_CACHE moves it.
TEST_CACHE = Path(os.environ.get("NPUSLIM_TEST_CACHE", Path.home() / ".cache" / "npuslim-tests"))
REPO = Path(__file__).resolve().parent.parent
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"

OPENVINO_VERSIONS = ("2026.4.1", "2024.6.0")


@pytest.fixture(autouse=True)
def _npuslim_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(TEST_CACHE / "npuslim"))
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.delenv("INTEL_OPENVINO_DIR", raising=False)


def _wheel_install(version: str):
    from npuslim.errors import NpuslimError
    from npuslim.sources import fetch_wheel, locate

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


@pytest.fixture(params=OPENVINO_VERSIONS, scope="session")
def ov_install(request):
    return _wheel_install(request.param)
