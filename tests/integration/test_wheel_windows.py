"""npuslim wheel on the official 2026.4.1 win_amd64 wheel: the name, tags and RECORD of the slim
wheel, what it holds, and the closure of _pyopenvino in it (files and symbols), read by npuslim deps."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest

from npuslim.plan.wheel_closure import is_interpreter_library
from npuslim.schema_check import first_error, load_schema
from tests.cli_helpers import run

pytestmark = pytest.mark.wheels

INFO = "openvino-2026.4.1+npu.dist-info"


@pytest.fixture(scope="module")
def slim(ov2026, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    result = run("wheel", str(ov2026.wheel), "-o", str(dist))
    assert result.exit_code == 0, result.stderr
    assert "of the official wheel" in result.stdout
    return dist / "openvino-2026.4.1+npu-22982-cp311-cp311-win_amd64.whl"


def test_name_tags_metadata_and_record_hashes(slim: Path, ov2026) -> None:
    official = zipfile.ZipFile(ov2026.wheel)
    zf = zipfile.ZipFile(slim)
    assert zf.read(f"{INFO}/WHEEL") == official.read("openvino-2026.4.1.dist-info/WHEEL")
    assert "Version: 2026.4.1+npu" in zf.read(f"{INFO}/METADATA").decode()
    rows = list(csv.reader(io.StringIO(zf.read(f"{INFO}/RECORD").decode())))
    assert sorted(r[0] for r in rows) == sorted(zf.namelist())
    for name, digest, size in rows:
        if name == f"{INFO}/RECORD":
            assert (digest, size) == ("", "")
            continue
        data = zf.read(name)
        expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert digest == f"sha256={expected}" and int(size) == len(data), name
    assert not any(n.startswith("openvino-2026.4.1.dist-info/") for n in zf.namelist())
    assert slim.stat().st_size <= 0.30 * ov2026.wheel.stat().st_size


def test_holds_the_npu_plugin_and_extension_but_no_cpu_or_gpu_plugin(slim: Path) -> None:
    names = set(zipfile.ZipFile(slim).namelist())
    libs = {n.split("/")[-1] for n in names if n.startswith("openvino/libs/")}
    assert libs == {"openvino.dll", "openvino_intel_npu_plugin.dll", "tbb12.dll", "openvino_ir_frontend.dll"}
    assert "openvino/_pyopenvino.cp311-win_amd64.pyd" in names
    assert not any("py_onnx_frontend" in n or n.startswith("openvino/include/") for n in names)
    stub = zipfile.ZipFile(slim).read("openvino/frontend/pytorch/__init__.py").decode()
    assert "raise ImportError" in stub and "--with pytorch" in stub
    lock = json.loads(zipfile.ZipFile(slim).read(f"{INFO}/npuslim-wheel.json"))
    assert first_error(lock, load_schema("wheel")) is None
    assert lock["schema_version"] == 1 and lock["features"] == ["ir"]
    assert any(d["name"].endswith("openvino_intel_cpu_plugin.dll") for d in lock["dropped"])


def test_deps_on_the_unpacked_wheel_rooted_at_pyopenvino(slim: Path, tmp_path: Path) -> None:
    zipfile.ZipFile(slim).extractall(tmp_path)
    pyd = tmp_path / "openvino" / "_pyopenvino.cp311-win_amd64.pyd"
    result = run("deps", str(pyd), "--search-path", str(tmp_path / "openvino" / "libs"), "--format", "json")
    graph = json.loads(result.stdout)
    assert result.exit_code == 0, result.stderr
    assert [n["name"] for n in graph["nodes"] if n["class"] == "missing"] == []
    # the interpreter's own DLL is the Python's that imports the wheel: classified, never bundled
    python = [n["name"] for n in graph["nodes"] if n["class"] == "python"]
    assert python == ["python311.dll"] and all(is_interpreter_library(n) for n in python)
    bundled = {n["name"] for n in graph["nodes"] if n["class"] == "bundled"}
    assert {"openvino.dll", "tbb12.dll"} <= bundled
    assert graph["missing_symbols"] == []  # every symbol _pyopenvino and the rest import is exported


def test_unknown_feature_is_refused(ov2026, tmp_path: Path) -> None:
    result = run("wheel", str(ov2026.wheel), "-o", str(tmp_path), "--with", "nosuch")
    assert result.exit_code == 4
    assert "unknown feature 'nosuch'" in result.stderr
    assert not list(tmp_path.iterdir())
