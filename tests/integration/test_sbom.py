"""``extract --sbom``: a CycloneDX SBOM validated with cyclonedx-python-lib's own schema validator.

The tests that build, run or download; the pure ones are in tests/unit/test_sbom.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from npuslim.report.sbom import sbom_json
from tests.cli_helpers import run
from tests.support.mingw import Import, build_dll


def _validate(text: str) -> dict:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, error
    return json.loads(text)


def _walk(components: list[dict], parent: dict | None = None):
    """(component, the component it is nested in) for every component at any depth."""
    for c in components:
        yield c, parent
        yield from _walk(c.get("components", []), c)


def _files(sbom: dict) -> dict[str, tuple[dict, dict | None]]:
    """Bundle path -> (its component, its package), for the components that are shipped files."""
    return {c["bom-ref"]: (c, parent) for c, parent in _walk(sbom["components"])
            if not c["bom-ref"].startswith(("package:", "requirement:"))}


def assert_every_dll_reaches_a_purl(sbom: dict) -> None:
    for ref, (c, parent) in _files(sbom).items():
        if ref.lower().endswith(".dll"):
            assert c.get("purl") or (parent and parent.get("purl")), f"{ref}: no purl of its own or its package's"


def _props(component: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in component.get("properties", []):
        out.setdefault(p["name"], []).append(p["value"])
    return out


@pytest.mark.wheels
def test_the_sbom_describes_every_shipped_file_with_its_edges_and_source(ov2026, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    out = tmp_path / "npu"
    result = run("extract", "openvino==2026.4.1", "-o", str(out), "--sbom")
    assert result.exit_code == 0, result.stderr
    text = (out / "sbom.cdx.json").read_text()
    sbom = _validate(text)
    lock = json.loads((out / "npuslim-bundle.json").read_text())
    assert sbom["bomFormat"] == "CycloneDX" and sbom["specVersion"] == "1.6"

    files = _files(sbom)
    components = {ref: c for ref, (c, _) in files.items()}
    assert set(components) == {f["path"] for f in lock["files"]}  # one per shipped file, nothing else
    # the files are nested in the package they came from, which carries the purl
    assert [c["bom-ref"] for c in sbom["components"] if c["bom-ref"].startswith("package:")] == [
        "package:pkg:pypi/openvino@2026.4.1"]
    assert {parent["purl"] for _, parent in files.values()} == {"pkg:pypi/openvino@2026.4.1"}
    assert_every_dll_reaches_a_purl(sbom)
    # what the target provides: described with scope excluded, never shipped
    excluded = [c for c in sbom["components"] if c.get("scope") == "excluded"]
    assert len(excluded) == len(lock["requirements"]) and excluded
    assert {_props(c)["npuslim:requirement"][0] for c in excluded} == {r["kind"] for r in lock["requirements"]}
    driver = next(c for c in excluded if _props(c)["npuslim:requirement"] == ["driver"])
    assert driver["type"] == "device-driver"
    assert any("ze_loader.dll" in _props(c)["npuslim:provides"][0] for c in excluded)
    for f in lock["files"]:
        c = components[f["path"]]
        assert c["hashes"] == [{"alg": "SHA-256", "content": f["sha256"]}]
        assert c["supplier"]["name"] == "Intel Corporation"
        assert c["licenses"] == [{"license": {"id": "Apache-2.0"}}]
        assert c.get("version") == f["file_version"]
    plugin = components["bin/openvino_intel_npu_plugin.dll"]
    assert plugin["type"] == "library" and plugin["version"] == "2026.4.1.22982"
    assert "ze_loader.dll" not in _props(plugin)["npuslim:imports"][0]
    assert components["include/openvino/runtime/core.hpp"]["type"] == "file"

    edges = {d["ref"]: set(d.get("dependsOn", [])) for d in sbom["dependencies"]}
    assert edges["bin/openvino_intel_npu_plugin.dll"] == {"bin/openvino.dll", "bin/tbb12.dll"}
    # the IR frontend is loaded by openvino.dll at run time: an edge from the manifest, not an import table
    assert edges["bin/openvino.dll"] == {"bin/tbb12.dll", "bin/openvino_ir_frontend.dll"}
    assert edges["bin/openvino_c.dll"] == {"bin/openvino.dll"}
    assert edges["bundle"] == {"bin/openvino_intel_npu_plugin.dll", "bin/openvino_c.dll"}

    subject = sbom["metadata"]["component"]
    assert subject["name"] == "npu" and subject["version"] == "2026.4.1.22982"
    source = subject["pedigree"]["ancestors"][0]
    assert source["purl"] == "pkg:pypi/openvino@2026.4.1" and source["supplier"]["name"] == "Intel Corporation"
    assert sbom["metadata"]["timestamp"].startswith("2026-01-01T00:00:00")
    assert any(t["name"] == "npuslim" for t in sbom["metadata"]["tools"]["components"])

    # the SBOM describes the bundle, it is not of it: verify passes and the archive-free bundle is unchanged
    assert run("verify", str(out)).exit_code == 0
    # the same bundle gives the same SBOM (serial number and timestamp come from the bundle manifest)
    assert sbom_json(out, name="npu") == text


@pytest.mark.mingw
def test_a_plain_dll_folder_gets_no_supplier_and_its_name_as_source(tmp_path: Path) -> None:
    src = tmp_path / "src"
    build_dll(src, "b.dll")
    build_dll(src, "a.dll", imports=(Import("b.dll", "b"),))
    out = tmp_path / "out"
    assert run("extract", str(src), "--root", "a.dll", "-o", str(out), "--sbom").exit_code == 0
    sbom = _validate((out / "sbom.cdx.json").read_text())
    components = {c["bom-ref"]: c for c in sbom["components"] if c.get("scope") != "excluded"}
    assert set(components) == {"bin/a.dll", "bin/b.dll"}  # no package to nest them in: a folder has no purl
    assert all("supplier" not in c and "licenses" not in c for c in components.values())
    edges = {d["ref"]: set(d.get("dependsOn", [])) for d in sbom["dependencies"]}
    assert edges["bin/a.dll"] == {"bin/b.dll"} and edges["bundle"] == {"bin/a.dll"}
    source = sbom["metadata"]["component"]["pedigree"]["ancestors"][0]
    # the folder's name, not its path: the bundle never carries a folder of the machine (issue 21)
    assert "purl" not in source and _props(source)["npuslim:path"] == ["src"]
    assert str(tmp_path) not in (out / "sbom.cdx.json").read_text()
