"""Features per release: what is asked, what the source ships, one answer for
``--list-features``, ``deps`` and ``extract``.

The tests that build, run or download; the pure ones are in tests/unit/test_features.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from npuslim.knowledge.manifest import load_manifest, load_windows_facts
from npuslim.plan.features import features_for_source
from tests.cli_helpers import one_error_line, run

REPO = Path(__file__).resolve().parents[2]
FEATURES_SCHEMA = json.loads((REPO / "npuslim" / "schemas" / "features.schema.json").read_text())
PLUGIN = "openvino_intel_npu_plugin.dll"


@pytest.mark.wheels
def test_2026_1_the_plugin_loads_the_compiler_itself(ov2026_1, tmp_path: Path) -> None:
    out = tmp_path / "b"
    result = run("extract", str(ov2026_1.root), "-o", str(out), "--with", "compiler", "--format", "json")
    assert result.exit_code == 0, result.stderr
    lock = json.loads(result.stdout)
    compiler = next(f for f in lock["files"] if f["path"] == "bin/openvino_intel_npu_compiler.dll")
    assert compiler["chain"] == [PLUGIN, "openvino_intel_npu_compiler.dll"]
    assert not (out / "bin" / "openvino_intel_npu_compiler_loader.dll").exists()
    assert "compiler" in lock["features"] and lock["features_dropped"] == []


@pytest.mark.wheels
def test_2026_1_host_compile_names_the_first_release_that_has_it(ov2026_1, tmp_path: Path) -> None:
    result = run("extract", str(ov2026_1.root), "-o", str(tmp_path / "b"), "--with", "host-compile")
    assert result.exit_code == 4
    line = one_error_line(result)
    assert "openvino_intel_npu_vm_runtime.dll" in line and "from 2026.3 on" in line
    assert "--without" not in line


@pytest.mark.wheels
def test_list_features_and_extract_agree(ov2026, tmp_path: Path) -> None:
    listed = run("extract", str(ov2026.root), "--list-features", "--format", "json")
    assert listed.exit_code == 0, listed.stderr
    data = json.loads(listed.stdout)
    jsonschema.validate(data, FEATURES_SCHEMA)

    def bin_of(name: str, *args: str) -> dict[str, int]:
        out = tmp_path / name
        result = run("extract", str(ov2026.root), "-o", str(out), *args)
        assert result.exit_code == 0, result.stderr
        return {p.name: p.stat().st_size for p in (out / "bin").iterdir()}

    # what a feature adds is measured against the default selection, as extract delivers it
    default = bin_of("default")
    for feature in data["features"]:
        if not feature["available"]:
            continue
        if feature["default"]:
            other = bin_of(feature["name"], "--without", feature["name"])
            changed = {k: v for k, v in default.items() if k not in other}
        else:
            other = bin_of(feature["name"], "--with", feature["name"])
            changed = {k: v for k, v in other.items() if k not in default}
        assert changed == {a["name"]: a["size"] for a in feature["adds"]}, feature["name"]


@pytest.mark.wheels
def test_features_for_source_on_2026_4(ov2026) -> None:
    choice, statuses = features_for_source(ov2026, load_manifest(), load_windows_facts(), with_=None, without=None)
    assert choice.delivered == {"ir", "c-api"} and not choice.dropped
    by = {s.name: s for s in statuses}
    assert all(s.available for s in statuses)
    assert dict(by["compiler"].adds).keys() == {"openvino_intel_npu_compiler_loader.dll",
                                                "openvino_intel_npu_compiler.dll"}
    assert dict(by["c-api"].adds).keys() == {"openvino_c.dll"}
    assert dict(by["tbbmalloc"].adds) == {"tbbmalloc.dll": 119056} and not by["tbbmalloc"].feature.default
