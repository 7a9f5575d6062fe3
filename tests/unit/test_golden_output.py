"""Golden output for people at 40, 80 and 120 columns: deps (tree, table), --list-features, verify, diff.

The inputs are PE files written in pure Python (``tests/support/crafted.py``),
in a folder the test changes into, so every path printed is short and the
same on every machine. Each output is compared with ``tests/golden/<name>-<width>.txt``
and also checked for what holds at any width: no line longer than the width,
no trailing spaces, every file name whole on one line.

Regenerate the golden files after a deliberate change of the layout with

    NPUSLIM_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_golden_output.py

and review ``git diff tests/golden`` before committing.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.cli_helpers import run
from tests.support.crafted import build_pe

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
WIDTHS = (40, 80, 120)
NAMES = ("openvino_intel_npu_plugin.dll", "openvino.dll", "tbb12.dll", "gone.dll", "KERNEL32.dll")


def _update() -> bool:
    return os.environ.get("NPUSLIM_UPDATE_GOLDEN") == "1"


@pytest.fixture
def source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``src/``: the NPU plugin importing openvino.dll, tbb12.dll and a DLL that is nowhere."""
    monkeypatch.chdir(tmp_path)
    src = Path("src")
    src.mkdir()
    (src / "tbb12.dll").write_bytes(build_pe(("KERNEL32.dll", "MSVCP140.dll", "VCRUNTIME140.dll")))
    (src / "openvino.dll").write_bytes(build_pe(("tbb12.dll", "KERNEL32.dll", "MSVCP140.dll")))
    (src / "openvino_intel_npu_plugin.dll").write_bytes(
        build_pe(("openvino.dll", "tbb12.dll", "KERNEL32.dll", "api-ms-win-crt-runtime-l1-1-0.dll",
                  "api-ms-win-crt-heap-l1-1-0.dll", "api-ms-win-crt-string-l1-1-0.dll",
                  "api-ms-win-crt-math-l1-1-0.dll", "VCRUNTIME140.dll")))
    return src


def _check(text: str, name: str, width: int, names: tuple[str, ...] = ()) -> None:
    lines = text.splitlines()
    assert lines, name
    for line in lines:
        assert len(line) <= width, f"{name}: longer than {width}: {line!r}"
        assert line == line.rstrip(), f"{name}: trailing spaces: {line!r}"
    for file_name in names:
        if file_name in text.replace("\n", " "):
            assert re.search(rf"(?<![\w.-]){re.escape(file_name)}(?![\w-])", text), f"{name}: {file_name} broken"
    golden = GOLDEN / f"{name}-{width}.txt"
    if _update():
        golden.write_text(text, encoding="utf-8")
    assert golden.is_file(), f"{golden} missing: run with NPUSLIM_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8"), f"{name} at {width} columns differs from {golden}"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("fmt", ["tree", "table"])
def test_deps(source: Path, fmt: str, width: int) -> None:
    result = run("deps", str(source), "-f", fmt, env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.stderr
    _check(result.stdout, f"deps-{fmt}", width, NAMES)


@pytest.mark.parametrize("width", WIDTHS)
def test_deps_missing(source: Path, width: int) -> None:
    (source / "tbb12.dll").write_bytes(build_pe(("KERNEL32.dll", "gone.dll")))
    result = run("deps", str(source), env={"COLUMNS": str(width)})
    assert result.exit_code == 3, result.stderr
    assert "gone.dll" in result.stdout
    _check(result.stdout, "deps-missing", width, NAMES)


@pytest.mark.parametrize("width", WIDTHS)
def test_list_features(source: Path, width: int) -> None:
    result = run("extract", str(source), "--list-features", env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.stderr
    _check(result.stdout, "list-features", width, NAMES)


@pytest.mark.parametrize("width", WIDTHS)
def test_extract_verify_and_diff(source: Path, width: int) -> None:
    made = run("extract", str(source), "-o", "b", env={"COLUMNS": str(width), "SOURCE_DATE_EPOCH": "0"})
    assert made.exit_code == 0, made.stderr
    _check(made.stdout, "extract", width, NAMES)
    ok = run("verify", "b", env={"COLUMNS": str(width)})
    assert ok.exit_code == 0, ok.stderr
    _check(ok.stdout, "verify", width)
    os.rename("b", "a")
    (source / "tbb12.dll").write_bytes(build_pe(("KERNEL32.dll", "MSVCP140.dll")) + bytes(4096))
    assert run("extract", str(source), "-o", "b").exit_code == 0
    with open("b/bin/tbb12.dll", "ab") as fh:
        fh.write(b"x")
    bad = run("verify", "b", env={"COLUMNS": str(width)})
    assert bad.exit_code == 5
    _check(bad.stdout, "verify-fail", width)
    changed = run("diff", "a", "b", env={"COLUMNS": str(width)})
    assert changed.exit_code == 0, changed.stderr
    _check(changed.stdout, "diff", width, NAMES)


def test_piped_output_is_not_cut_to_80_columns(source: Path) -> None:
    """Without COLUMNS and without a terminal a line is as long as its content."""
    long_name = "a_dll_with_a_name_long_enough_to_pass_eighty_columns_on_its_own_line_xx.dll"
    (source / long_name).write_bytes(build_pe(("KERNEL32.dll",)))
    (source / "openvino_intel_npu_plugin.dll").write_bytes(build_pe(("openvino.dll", long_name)))
    result = run("deps", str(source), "-f", "table", env={"COLUMNS": ""})
    assert result.exit_code == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith(long_name))
    assert len(row) > 80 and "bundled" in row
    assert all(line == line.rstrip() for line in result.stdout.splitlines())


@pytest.mark.parametrize("width", WIDTHS)
def test_pack_summary(source: Path, width: int) -> None:
    """pack without UPX or an archive needs no tool; the run's seconds are blanked (``N.N s``)."""
    assert run("extract", str(source), "-o", "b").exit_code == 0
    result = run("pack", "b", "-o", "p", "--archive", "none", "--no-cache", env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.stderr
    _check(re.sub(r"\b\d\.\d s\b", "N.N s", result.stdout), "pack", width, NAMES)


@pytest.mark.parametrize("width", WIDTHS)
def test_deps_exports(source: Path, width: int) -> None:
    result = run("deps", str(source), "--exports", env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.stderr
    _check(result.stdout, "deps-exports", width, NAMES)
