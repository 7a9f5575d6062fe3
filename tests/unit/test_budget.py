"""The size budget: parsing, measuring, the manifest's ``budget:``, and ``extract --max-size`` on real wheels.

The pure half; the tests that build, run or download are in tests/integration/test_budget.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from npuslim.check.budget import (
    budget_to_dict,
    check_budget,
    enforce,
    measure,
)
from npuslim.errors import BudgetError, InputError, ManifestError
from npuslim.knowledge.manifest import load_manifest, manifests_dir
from npuslim.units import parse_budget
from tests.cli_helpers import one_error_line, run

REPO = Path(__file__).resolve().parents[2]
BUDGET_SCHEMA = json.loads((REPO / "npuslim" / "schemas" / "budget.schema.json").read_text())


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


def test_a_bad_max_size_is_a_usage_error_before_anything_else(tmp_path) -> None:
    result = run("extract", str(tmp_path / "no-such-install"), "-o", str(tmp_path / "b"), "--max-size", "fifty")
    assert result.exit_code == 2 and "--max-size" in one_error_line(result)
    assert not (tmp_path / "b").exists()
