"""``npuslim diff``: two releases planned without extracting, two bundles, a bundle manifest alone, --fail-on.

The tests that build, run or download; the pure ones are in tests/unit/test_diff.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from tests.cli_helpers import one_error_line, run

REPO = Path(__file__).resolve().parents[2]
DIFF_SCHEMA = json.loads((REPO / "npuslim" / "schemas" / "diff.schema.json").read_text())


def diff_json(*args: str, code: int = 0) -> dict:
    result = run("diff", *args, "--format", "json")
    assert result.exit_code == code, result.stderr
    data = json.loads(result.stdout)
    jsonschema.validate(data, DIFF_SCHEMA)
    return data


def by_path(data: dict) -> dict[str, dict]:
    return {f["path"]: f for f in data["files"]}


@pytest.mark.wheels
def test_2026_1_to_2026_4_1_shows_the_compiler_loader_and_vm_runtime_appearing(ov2026_1, ov2026) -> None:
    data = diff_json("openvino==2026.1.0", "openvino==2026.4.1")
    assert data["a"]["kind"] == data["b"]["kind"] == "source"
    assert data["a"]["openvino_version"] == "2026.1.0.21367" and data["b"]["openvino_version"] == "2026.4.1.22982"
    # present in the 2026.4.1 install, not in 2026.1.0; not bundled by default (features compiler, host-compile)
    assert {c["name"]: (c["status"], c["a"], c["b"]) for c in data["companions"]} == {
        "openvino_intel_npu_compiler_loader.dll": ("added", None, "available"),
        "openvino_intel_npu_vm_runtime.dll": ("added", None, "available"),
    }
    a_comp = {c["name"] for c in data["a"]["companions"]}
    assert "openvino_intel_npu_compiler.dll" in a_comp and "openvino_intel_npu_compiler_loader.dll" not in a_comp
    files = by_path(data)
    for dll in ("openvino.dll", "openvino_intel_npu_plugin.dll", "openvino_c.dll", "openvino_ir_frontend.dll"):
        f = files[f"bin/{dll}"]
        assert f["status"] == "changed" and f["version_a"] == "2026.1.0.21367" and f["version_b"] == "2026.4.1.22982"
        assert "version" in f["what"]
    tbb = files["bin/tbb12.dll"]
    assert (tbb["version_a"], tbb["version_b"]) == ("2021.13.1.0", "2021.13.3.0")
    assert tbb["imports_added"] == ["VCRUNTIME140_1.dll"]
    plugin = files["bin/openvino_intel_npu_plugin.dll"]
    assert plugin["size_delta"] == plugin["size_b"] - plugin["size_a"] > 0
    assert data["total"]["delta"] == data["total"]["b"] - data["total"]["a"] > 0
    assert data["headers"]["a"] == data["headers"]["b"] == 112 and data["headers"]["changed"] > 0
    assert data["failures"] == [] and data["imports_compared"]

    with_compiler = diff_json("openvino==2026.1.0", "openvino==2026.4.1", "--with", "compiler")
    # 2026.1.0 has the compiler but no loader: the loader is a new file of the 2026.4.1 bundle
    assert by_path(with_compiler)["bin/openvino_intel_npu_compiler_loader.dll"]["status"] == "added"
    assert with_compiler["missing"]["b"] == []
    assert {c["name"]: c["b"] for c in with_compiler["companions"]}["openvino_intel_npu_compiler_loader.dll"] == \
        "bundled"


@pytest.mark.wheels
def test_2024_0_to_2024_6_shows_ze_loader_leaving_the_imports_and_the_c_api_appearing(ov2024_0, ov2024) -> None:
    data = diff_json("openvino==2024.0.0", "openvino==2024.6.0")
    plugin = by_path(data)["bin/openvino_intel_npu_plugin.dll"]
    assert "ze_loader.dll" in plugin["imports_removed"]
    assert {"file": "bin/openvino_intel_npu_plugin.dll", "name": "ze_loader.dll", "kind": "import",
            "change": "removed"} in data["imports"]
    assert (plugin["cfg_a"], plugin["cfg_b"]) == (False, True)  # no CFG in 2024.0, every DLL from 2024.6 on
    c_api = by_path(data)["bin/openvino_c.dll"]
    assert c_api["status"] == "added" and c_api["version_b"] == "2024.6.0.17404"
    assert by_path(data)["lib/openvino_c.lib"]["status"] == "added"
    # planned as extract plans it: 2024.0 ships no C API, so the c-api feature is left out there (not missing)
    assert data["missing"] == {"a": [], "b": []}
    assert "c-api" not in data["a"]["features"] and "c-api" in data["b"]["features"]
    assert data["headers"]["a"] == 0 and "include/openvino/c/openvino.h" in data["headers"]["added"]

    text = run("diff", "openvino==2024.0.0", "openvino==2024.6.0")
    assert text.exit_code == 0
    assert "no longer imports ze_loader.dll" in text.stdout and "+ bin/openvino_c.dll" in text.stdout
    md = run("diff", "openvino==2024.0.0", "openvino==2024.6.0", "--format", "md",
             "--fail-on", "removed,imports")
    assert md.exit_code == 10
    assert "| `bin/openvino_intel_npu_plugin.dll` | changed |" in md.stdout and "−ze_loader.dll" in md.stdout
    assert "**Fails** (`--fail-on removed,imports`)" in md.stdout
    assert "import(s) added or removed" in one_error_line(md)


@pytest.mark.wheels
def test_two_bundles_and_a_bundle_manifest_alone(ov2026_1, ov2026, tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    assert run("extract", "openvino==2026.1.0", "-o", str(old)).exit_code == 0
    assert run("extract", "openvino==2026.4.1", "-o", str(new), "--with", "onnx").exit_code == 0
    data = diff_json(str(old), str(new))
    assert data["a"]["kind"] == data["b"]["kind"] == "bundle"
    onnx = by_path(data)["bin/openvino_onnx_frontend.dll"]
    assert onnx["status"] == "added" and onnx["version_b"] == "2026.4.1.22982"
    # a bundle's companions are those it ships
    assert [c["name"] for c in data["companions"]] == ["openvino_onnx_frontend.dll"]
    assert data["imports_compared"]

    # the same source planned and the bundle written from it do not differ
    same = diff_json("openvino==2026.1.0", str(old), "--fail-on", "added,removed,changed,size>0%")
    assert same["files"] == [] and same["headers"]["added"] == [] and same["total"]["delta"] == 0

    # a manifest alone: files compared by size, hash, version; imports not compared
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(new / "npuslim-bundle.json", alone / "new-bundle.json")
    data = diff_json(str(old / "npuslim-bundle.json"), str(alone / "new-bundle.json"))
    assert data["a"]["kind"] == "bundle-manifest" and not data["imports_compared"]
    assert by_path(data)["bin/tbb12.dll"]["imports_added"] == []
    assert by_path(data)["bin/tbb12.dll"]["version_b"] == "2021.13.3.0"

    grew = run("diff", str(old), str(new), "--fail-on", "size>5%")
    assert grew.exit_code == 10 and "size grew" in one_error_line(grew)
    assert run("diff", str(old), str(new), "--fail-on", "size>50%").exit_code == 0
    assert run("diff", str(old), str(new), "--fail-on", "size>100MB").exit_code == 0
    missing = run("diff", str(old), str(tmp_path / "nothing-here"))
    assert missing.exit_code == 4 and "nothing-here" in one_error_line(missing)
