"""The size budget: parsing, measuring, the manifest's ``budget:``, and ``extract --max-size`` on real wheels.

The tests that build, run or download; the pure ones are in tests/unit/test_budget.py.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import jsonschema
import pytest

from npuslim.check.budget import (
    archive_subject,
    bundle_budget,
    enforce,
)
from npuslim.errors import BudgetError, InputError
from npuslim.formats.lock import read_lock
from npuslim.knowledge.manifest import manifests_dir
from npuslim.units import parse_budget
from tests.cli_helpers import one_error_line, run

REPO = Path(__file__).resolve().parents[2]
BUDGET_SCHEMA = json.loads((REPO / "npuslim" / "schemas" / "budget.schema.json").read_text())
BUNDLE_SCHEMA = json.loads((REPO / "npuslim" / "schemas" / "bundle.schema.json").read_text())


def _manifest_with(tmp_path: Path, line: str) -> Path:
    text = (manifests_dir() / "npu.yaml").read_text()
    path = tmp_path / "npu-budget.yaml"
    path.write_text(text + "\n" + line + "\n")
    return path


@pytest.mark.wheels
def test_extract_over_budget_exits_9_writes_nothing_and_names_the_five_largest(ov2026, tmp_path: Path) -> None:
    out = tmp_path / "b"
    result = run("extract", str(ov2026.root), "-o", str(out), "--max-size", "30MB")
    assert result.exit_code == 9
    line = one_error_line(result)
    assert "over the size budget of 30MB" in line and "the bundle is 34.2 MB, 4.24 MB over" in line
    assert not out.exists() and list(tmp_path.iterdir()) == []
    listed = [ln.split()[-1] for ln in result.stdout.splitlines() if ln.startswith("    ")]
    assert listed == ["bin/openvino.dll", "lib/openvino.lib", "bin/openvino_intel_npu_plugin.dll",
                      "bin/openvino_ir_frontend.dll", "bin/tbb12.dll"]
    assert "16.5 MB" in result.stdout and "48.1 %" in result.stdout

    as_json = run("extract", str(ov2026.root), "-o", str(out), "--max-size", "30MB", "--format", "json")
    assert as_json.exit_code == 9 and not out.exists()
    data = json.loads(as_json.stdout)
    jsonschema.validate(data, BUDGET_SCHEMA)
    assert data["verdict"] == "over" and data["limit"] == 30_000_000 and data["origin"] == "--max-size"
    assert data["subjects"][0]["largest"][0]["path"] == "bin/openvino.dll"


@pytest.mark.wheels
def test_extract_within_budget_records_it_in_the_bundle_manifest(ov2026, tmp_path: Path) -> None:
    out = tmp_path / "b"
    result = run("extract", str(ov2026.root), "-o", str(out), "--max-size", "48MiB", "--format", "json")
    assert result.exit_code == 0, result.stderr
    lock = json.loads(result.stdout)
    jsonschema.validate(lock, BUNDLE_SCHEMA)
    jsonschema.validate(lock["budget"], BUDGET_SCHEMA)
    assert lock["budget"]["verdict"] == "within" and lock["budget"]["limit"] == 48 * 2**20
    assert lock["budget"]["subjects"][0]["size"] == lock["totals"]["bytes"]
    assert json.loads((out / "npuslim-bundle.json").read_text()) == lock
    budget = read_lock(out, "npuslim-bundle.json").budget
    assert budget is not None and budget.to_dict() == lock["budget"]
    assert run("verify", str(out)).exit_code == 0


@pytest.mark.wheels
def test_the_manifest_budget_applies_and_max_size_overrides_it(ov2026, tmp_path: Path) -> None:
    manifest = _manifest_with(tmp_path, "budget: 1.75GB")
    manifest.write_text(manifest.read_text().replace("budget: 1.75GB", "budget: 25MB"))
    result = run("extract", str(ov2026.root), "-o", str(tmp_path / "b"), "--manifest", str(manifest))
    assert result.exit_code == 9 and "from manifest npu" in one_error_line(result)
    ok = run("extract", str(ov2026.root), "-o", str(tmp_path / "b"), "--manifest", str(manifest),
             "--max-size", "1.75GB")
    assert ok.exit_code == 0, ok.stderr
    assert "budget 1.75GB (--max-size): bundle 34.2 MB" in ok.stdout


@pytest.mark.wheels
def test_bundle_budget_names_the_bundle_and_the_archive(ov2026, tmp_path: Path) -> None:
    """What pack --max-size calls: the bundle as its manifest lists it, and the archive."""
    out = tmp_path / "b"
    assert run("extract", str(ov2026.root), "-o", str(out)).exit_code == 0
    lock = read_lock(out, "npuslim-bundle.json")
    archive = tmp_path / "b.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in lock.files:
            zf.write(out / f.path, f"b/{f.path}")
    report = bundle_budget(out, lock, parse_budget("20MB"), limit_text="20MB", archive=archive,
                           name="packed bundle")
    assert [s.name for s in report.subjects] == ["packed bundle", "archive"]
    assert [s.name for s in report.over] == ["packed bundle"]
    zipped = report.subjects[1]
    assert zipped.size == archive.stat().st_size < 20_000_000
    assert zipped.largest[0].path == "b/bin/openvino.dll"
    with pytest.raises(BudgetError, match="the packed bundle is 34.2 MB"):
        enforce(report)
    with pytest.raises(InputError, match="cannot read the archive"):
        archive_subject(tmp_path / "nothing.zip")
