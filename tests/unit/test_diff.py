"""``npuslim diff``: two releases planned without extracting, two bundles, a bundle manifest alone, --fail-on.

The pure half; the tests that build, run or download are in tests/integration/test_diff.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from npuslim.report.diff import (
    FailRule,
    Snapshot,
    SnapshotFile,
    diff_snapshots,
    diff_to_dict,
    diff_to_markdown,
    fail_reasons,
    parse_fail_on,
)
from tests.cli_helpers import one_error_line, run

REPO = Path(__file__).resolve().parents[2]
DIFF_SCHEMA = json.loads((REPO / "npuslim" / "schemas" / "diff.schema.json").read_text())


def by_path(data: dict) -> dict[str, dict]:
    return {f["path"]: f for f in data["files"]}


def test_fail_on_items() -> None:
    assert parse_fail_on("added, removed,size>5%") == (FailRule("added"), FailRule("removed"),
                                                      FailRule("size", percent=5.0))
    assert parse_fail_on("size>2MB,imports,companions,changed") == (
        FailRule("size", bytes=2_000_000), FailRule("imports"), FailRule("companions"), FailRule("changed"))
    for bad in ("grown", "size>", "size>5%%", "size<5%", "size>lots"):
        with pytest.raises(ValueError, match="--fail-on: unknown item"):
            parse_fail_on(bad)


def _snap(label: str, *files: SnapshotFile, companions=()) -> Snapshot:
    return Snapshot(label, "bundle", "2026.4.1.1", ("ir",), files, companions, ())


def test_a_packed_bundle_against_its_original() -> None:
    """What pack changes: size, content, signature, CFG; a removed file and removed headers."""
    dll = SnapshotFile("bin/a.dll", "root", 1000, "1" * 64, "1.0", "signed", True, ("b.dll", "KERNEL32.dll"),
                       ("shell32.dll",))
    packed = SnapshotFile("bin/a.dll", "root", 400, "2" * 64, "1.0", "none", False, ("b.dll", "kernel32.dll"), ())
    gone = SnapshotFile("bin/b.dll", "import", 300, "3" * 64, "1.0", "signed", True, (), ())
    h1, h2 = (SnapshotFile(f"include/{n}.h", "header", 10, n * 64) for n in "45")
    diff = diff_snapshots(_snap("A", dll, gone, h1, h2, companions=(("c.dll", "bundled"),)), _snap("B", packed, h1))
    data = diff_to_dict(diff, parse_fail_on("removed,size>5%,companions"))
    jsonschema.validate(data, DIFF_SCHEMA)
    a = by_path(data)["bin/a.dll"]
    assert a["what"] == ["size", "content", "signature", "cfg", "imports"]
    assert (a["signature_a"], a["signature_b"], a["cfg_a"], a["cfg_b"]) == ("signed", "none", True, False)
    assert a["imports_removed"] == ["shell32.dll"] and a["imports_added"] == []  # names compare case-insensitively
    assert by_path(data)["bin/b.dll"]["status"] == "removed"
    assert data["headers"] == {"a": 2, "b": 1, "added": [], "removed": ["include/5.h"], "changed": 0}
    assert data["companions"] == [{"name": "c.dll", "status": "removed", "a": "bundled", "b": None}]
    assert data["total"] == {"a": 1320, "b": 410, "delta": -910, "percent": -68.94}
    assert data["unchanged"] == 1 and data["imports_compared"]
    # a shrinking bundle never trips size>N%; removed files and companions do
    assert data["failures"] == ["2 file(s) removed", "1 run-time companion(s) changed"]
    md = diff_to_markdown(diff, parse_fail_on("size>1%"))
    assert "| `bin/a.dll` | changed | 400 B | -600 B | 1.0 | signed → none | True → False | −shell32.dll (delay) |" in md
    assert "Removed: `include/5.h`." in md and "Passes `--fail-on size>1%`." in md
    assert fail_reasons(diff_snapshots(_snap("A", dll), _snap("B", dll)), parse_fail_on("added,removed,changed,"
                                                                                      "imports,size>0%")) == ()


def test_a_bad_fail_on_is_a_command_line_error(tmp_path: Path) -> None:
    result = run("diff", str(tmp_path), str(tmp_path), "--fail-on", "bigger")
    assert result.exit_code == 2 and "unknown item 'bigger'" in result.stderr


def test_a_json_file_that_is_no_bundle_manifest_is_unusable_input(tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text('{"schema": "something.else"}')
    result = run("diff", str(other), str(other))
    assert result.exit_code == 4 and "not a lock file" in one_error_line(result)
