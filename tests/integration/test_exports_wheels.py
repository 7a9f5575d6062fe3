"""``deps --exports`` on the official OpenVINO wheels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import run

pytestmark = pytest.mark.wheels
SCHEMA = Path(__file__).resolve().parents[2] / "npuslim" / "schemas" / "exports.schema.json"


def test_openvino_dll_exports_far_more_than_the_closure_imports(ov_install) -> None:
    import jsonschema

    result = run("deps", str(ov_install.root), "--exports", "-f", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
    dlls = {d["name"].lower(): d for d in doc["dlls"]}
    core = dlls["openvino.dll"]
    # more than pefile's own export parser reads before it calls a table corrupt (8192)
    assert core["exported"] > 8192 and core["named"] == core["exported"]
    assert 500 < core["used"] < core["exported"] // 4
    assert {"openvino_intel_npu_plugin.dll", "openvino_c.dll", "openvino_ir_frontend.dll"} <= {
        i.lower() for i in core["importers"]}
    assert len(core["used_exports"]) == core["used"]
    assert all(not d["unmatched"] for d in doc["dlls"]), "every imported symbol is in its DLL's export table"
    assert set(dlls["tbb12.dll"]["importers"]) >= {"openvino.dll"}
    # the plugin is loaded at run time and entered through GetProcAddress: no DLL imports from it
    assert dlls["openvino_intel_npu_plugin.dll"]["used"] == 0


def test_the_table_lists_what_openvino_dll_gives_the_c_api(ov2026) -> None:
    result = run("deps", str(ov2026.root), "--exports")
    assert result.exit_code == 0, result.stderr
    assert "get_openvino_version  [openvino_c]" in result.stdout
    row = next(line for line in result.stdout.splitlines() if line.strip("│ ").startswith("openvino.dll"))
    assert "16775" in row and "1442" in row
