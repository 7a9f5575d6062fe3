"""The size budget: parsing, measuring, the manifest's ``budget:``, and ``extract --max-size`` on real wheels."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import jsonschema
import pytest

from npuslim.check.budget import (
    archive_subject,
    budget_to_dict,
    bundle_budget,
    check_budget,
    enforce,
    measure,
)
from npuslim.errors import BudgetError, InputError, ManifestError
from npuslim.formats.lock import read_lock
from npuslim.knowledge.manifest import load_manifest, manifests_dir
from npuslim.units import parse_budget
from tests.cli_helpers import one_error_line, run

REPO = Path(__file__).resolve().parent.parent
BUDGET_SCHEMA = json.loads((REPO / "npuslim" / "schemas" / "budget.schema.json").read_text())
BUNDLE_SCHEMA = json.loads((REPO / "npuslim" / "schemas" / "bundle.schema.json").read_text())


@pytest.mark.parametrize(("text", "expected"), [
    ("50MB", 50_000_000), ("48MiB", 48 * 2**20), ("1.75GB", 1_750_000_000), ("40 MB", 40_000_000),
    ("123456", 123456), (2048, 2048),
])
def test_budget_sizes(text: str | int, expected: int) -> None:
    assert parse_budget(text) == expected


@pytest.mark.parametrize("text", ["", "fifty", "50XB", "0", "0MB", "-5MB", "1.5.2GB"])
def test_bad_budgets_name_the_option(text: str) -> None:
    with pytest.raises(InputError, match="--max-size"):
        parse_budget(text)


def test_a_subject_keeps_its_five_largest_files_and_the_verdict_names_each_subject_over() -> None:
    files = [(f"bin/{i}.dll", i * 1000) for i in range(1, 9)]
    sub = measure("bundle", files)
    assert sub.size == 36_000 and sub.files == 8
    assert [c.path for c in sub.largest] == ["bin/8.dll", "bin/7.dll", "bin/6.dll", "bin/5.dll", "bin/4.dll"]
    archive = measure("archive", [("x", 10_000)])
    report = check_budget(20_000, [sub, archive], limit_text="20kB")
    assert report.verdict == "over" and [s.name for s in report.over] == ["bundle"]
    data = budget_to_dict(report)
    jsonschema.validate(data, BUDGET_SCHEMA)
    assert data["subjects"][0]["over_by"] == 16_000 and data["subjects"][1]["verdict"] == "within"
    with pytest.raises(BudgetError, match=r"the bundle is 36.0 kB, 16.0 kB over") as exc:
        enforce(report)
    assert exc.value.exit_code == 9 and "archive" not in str(exc.value)
    enforce(check_budget(36_000, [sub]))  # exactly at the limit is within


def _manifest_with(tmp_path: Path, line: str) -> Path:
    text = (manifests_dir() / "npu.yaml").read_text()
    path = tmp_path / "npu-budget.yaml"
    path.write_text(text + "\n" + line + "\n")
    return path


def test_a_manifest_budget_is_validated_with_its_field_named(tmp_path: Path) -> None:
    assert load_manifest(_manifest_with(tmp_path, "budget: 48MiB")).budget == "48MiB"
    assert load_manifest(manifests_dir() / "npu.yaml").budget is None
    for bad in ("budget: huge", "budget: [40MB]", "budget: 0", "budget: true"):
        with pytest.raises(ManifestError, match=r"npu-budget\.yaml: budget: "):
            load_manifest(_manifest_with(tmp_path, bad))


@pytest.mark.wheels
def test_extract_over_budget_exits_9_writes_nothing_and_names_the_five_largest(ov2026, tmp_path: Path) -> None:
    out = tmp_path / "b"
    result = run("extract", str(ov2026.root), "-o", str(out), "--max-size", "30MB")
    assert result.exit_code == 9
    line = one_error_line(result)
    assert "over the size budget of 30MB" in line and "the bundle is 34.1 MB, 4.14 MB over" in line
    assert not out.exists() and list(tmp_path.iterdir()) == []
    listed = [ln.split()[-1] for ln in result.stdout.splitlines() if ln.startswith("    ")]
    assert listed == ["bin/openvino.dll", "lib/openvino.lib", "bin/openvino_intel_npu_plugin.dll",
                      "bin/openvino_ir_frontend.dll", "bin/tbb12.dll"]
    assert "16.5 MB" in result.stdout and "48.3 %" in result.stdout

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
    assert read_lock(out, "npuslim-bundle.json").budget == lock["budget"]
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
    assert "budget 1.75GB (--max-size): bundle 34.1 MB" in ok.stdout


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
    with pytest.raises(BudgetError, match="the packed bundle is 34.1 MB"):
        enforce(report)
    with pytest.raises(InputError, match="cannot read the archive"):
        archive_subject(tmp_path / "nothing.zip")


def test_a_bad_max_size_is_a_usage_error_before_anything_else(tmp_path) -> None:
    from tests.cli_helpers import one_error_line, run

    result = run("extract", str(tmp_path / "no-such-install"), "-o", str(tmp_path / "b"), "--max-size", "fifty")
    assert result.exit_code == 2 and "--max-size" in one_error_line(result)
    assert not (tmp_path / "b").exists()
