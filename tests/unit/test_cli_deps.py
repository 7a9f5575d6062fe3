"""``npuslim deps`` end to end through the CLI: formats, exit codes, bad input.

The pure half; the tests that build, run or download are in tests/integration/test_cli_deps.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import one_error_line, run


@pytest.mark.parametrize(("content", "expected"), [
    (b"", "not a PE file"),
    (b"MZ" + b"\0" * 10, "not a PE file"),
    (b"hello, this is text and not a DLL at all" * 10, "not a PE file"),
])
def test_a_file_that_is_not_pe_is_one_line_exit_4(tmp_path: Path, content: bytes, expected: str) -> None:
    bad = tmp_path / "bad.dll"
    bad.write_bytes(content)
    result = run("deps", str(bad))
    assert result.exit_code == 4
    assert expected in one_error_line(result)


def test_a_folder_without_openvino_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("nothing here")
    result = run("deps", str(tmp_path))
    assert result.exit_code == 4
    assert "no OpenVINO install found" in one_error_line(result)


def test_a_path_that_does_not_exist(tmp_path: Path) -> None:
    result = run("deps", str(tmp_path / "nope"))
    assert result.exit_code == 4
    assert "no such file or folder" in one_error_line(result)


def test_an_unreadable_dll_is_one_clear_error(tmp_path: Path) -> None:
    # root reads any file whatever its mode; a folder where a file should be
    # fails the same way (EISDIR) and reaches the same error path.
    from npuslim.errors import InputError
    from npuslim.formats.pe import read_pe

    (tmp_path / "x.dll").mkdir()
    with pytest.raises(InputError, match=r"x\.dll: (cannot read|is a folder, not a regular file)"):
        read_pe(tmp_path / "x.dll")


def test_unknown_feature_is_refused(tmp_path: Path) -> None:
    result = run("deps", str(tmp_path), "--with", "warp-drive")
    assert result.exit_code == 4
    assert "unknown feature 'warp-drive'" in one_error_line(result)


def test_bad_manifest_names_file_and_field(tmp_path: Path) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text("schema_version: 1\nname: x\nroots: [a.dll]\ncompanions:\n  - name: b.dll\n")
    result = run("deps", str(tmp_path), "--manifest", str(manifest))
    assert result.exit_code == 4
    line = one_error_line(result)
    assert "m.yaml" in line and "companions[0].loaded_by" in line
