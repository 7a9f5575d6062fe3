"""The knowledge base: manifest validation, version ranges, packaging of manifests/.

The pure half; the tests that build, run or download are in tests/integration/test_manifest.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from npuslim.errors import ManifestError
from npuslim.knowledge.manifest import VersionRange, load_manifest, load_windows_facts
from npuslim.plan.features import select_features
from npuslim.units import format_size, parse_size


def test_shipped_manifests_load() -> None:
    npu = load_manifest()
    assert npu.name == "npu" and npu.roots == ("openvino_intel_npu_plugin.dll",)
    assert npu.default_features() == {"ir", "c-api"}
    assert npu.never("ZE_LOADER.DLL").dep_class == "driver"
    assert load_manifest("npu") == npu
    facts = load_windows_facts()
    assert "kernel32.dll" in facts.system and "msvcp140.dll" in facts.msvc_runtime


@pytest.mark.parametrize(("text", "version", "expected"), [
    ("", "2024.0.0", True),
    (">=2026.0", "2026.4.1.22982", True),
    (">=2026.0", "2025.4.0", False),
    (">=2024.0,<2024.3", "2024.2.0.15519", True),
    (">=2024.0,<2024.3", "2024.3", False),
    ("==2024.6", "2024.6.0.0", True),
    ("!=2024.6", "2024.6.0", False),
])
def test_version_ranges(text: str, version: str, expected: bool) -> None:
    assert VersionRange(text).contains(version) is expected


@pytest.mark.parametrize(("body", "field"), [
    ("schema_version: 2\nname: x\nroots: [a.dll]\n", "schema_version"),
    ("schema_version: 1\nname: x\nroots: []\n", "roots"),
    ("schema_version: 1\nname: x\nroots: [a.dll]\nbogus: 1\n", "unknown field(s): bogus"),
    (("schema_version: 1\nname: x\nroots: [a.dll]\ncompanions:\n  - {name: b.dll, loaded_by: a.dll,"
     " reason: r, versions: '>=x'}\n"), "companions[0].versions"),
    (("schema_version: 1\nname: x\nroots: [a.dll]\ncompanions:\n  - {name: b.dll, loaded_by: a.dll,"
     " reason: r, feature: nope}\n"), "unknown feature 'nope'"),
    (("schema_version: 1\nname: x\nroots: [a.dll]\nnever_bundle:\n  - {name: z.dll, class: maybe,"
     " reason: r}\n"), "never_bundle[0].class"),
    ("schema_version: 1\nname: [x\n", "not valid YAML"),
    ("- just\n- a list\n", "expected a mapping"),
])
def test_malformed_manifests_name_the_field(tmp_path: Path, body: str, field: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(body)
    with pytest.raises(ManifestError) as err:
        load_manifest(path)
    assert str(path) in str(err.value) and field in str(err.value)


def test_feature_selection() -> None:
    npu = load_manifest()
    assert select_features(npu, ["onnx"], ["c-api"]) == {"ir", "onnx"}
    assert select_features(npu, ["all"], None) == {f.name for f in npu.features}
    with pytest.raises(Exception, match="unknown feature 'gpu'"):
        select_features(npu, ["gpu"], None)


def test_sizes() -> None:
    assert parse_size("1.75GB") == 1_750_000_000
    assert parse_size("250 MiB") == 250 * 2**20
    assert format_size(7_635_208) == "7.64 MB" and format_size(999) == "999 B"
    assert format_size(25_200_000) == "25.2 MB" and format_size(1_750_000_000) == "1.75 GB"
    with pytest.raises(ValueError):
        parse_size("lots")
