"""``extract`` edge cases on mingw-built DLL graphs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import one_error_line, run
from tests.support.mingw import Import, build_dll

pytestmark = pytest.mark.mingw


def test_a_missing_dependency_is_refused_by_name_and_nothing_is_written(tmp_path: Path) -> None:
    src = tmp_path / "src"
    build_dll(src, "a.dll", imports=(Import("gone.dll", "gone"), Import("lost.dll", "lost")))
    out = tmp_path / "out"
    result = run("extract", str(src), "--root", "a.dll", "-o", str(out))
    assert result.exit_code == 3
    line = one_error_line(result)
    assert "gone.dll (needed by a.dll)" in line and "lost.dll" in line
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["src"]


def test_allow_missing_records_it_and_verify_accepts_the_record(tmp_path: Path) -> None:
    src = tmp_path / "src"
    build_dll(src, "b.dll")
    build_dll(src, "a.dll", imports=(Import("gone.dll", "gone"), Import("b.dll", "b")))
    out = tmp_path / "out"
    result = run("extract", str(src), "--root", "a.dll", "-o", str(out), "--allow-missing", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert "gone.dll is missing" in result.stderr
    lock = json.loads((out / "npuslim-bundle.json").read_text())
    assert json.loads(result.stdout) == lock
    assert lock["missing"] == [{"name": "gone.dll", "required_by": ["a.dll"]}]
    assert {f["path"] for f in lock["files"]} == {"bin/a.dll", "bin/b.dll"}
    assert lock["headers"] is None
    assert any("no include folder" in w for w in lock["warnings"])
    assert run("verify", str(out)).exit_code == 0


def test_extract_without_out_is_a_clear_error(tmp_path: Path) -> None:
    build_dll(tmp_path, "a.dll")
    result = run("extract", str(tmp_path), "--root", "a.dll")
    assert result.exit_code == 2 and "-o OUT" in one_error_line(result)
