"""Every failing verdict is also one line on stderr, whatever the format (stdout keeps the report).

Pure: PE files written in Python (``tests/support/crafted.py``), typer's CliRunner.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from npuslim.check.loading import LoadResult, LoadStep
from npuslim.check.verify import verify_bundle
from npuslim.cli.main_verify import verdict_lines
from npuslim.pipeline.verify import VerifyOutcome
from tests.cli_helpers import one_error_line, run
from tests.support.crafted import build_pe


@pytest.fixture
def source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``src/``: the NPU plugin importing openvino.dll, which imports gone.dll (nowhere) with --broken."""
    monkeypatch.chdir(tmp_path)
    src = Path("src")
    src.mkdir()
    (src / "openvino.dll").write_bytes(build_pe(("KERNEL32.dll",)))
    (src / "openvino_intel_npu_plugin.dll").write_bytes(build_pe(("openvino.dll", "KERNEL32.dll")))
    return src


def _break(src: Path) -> None:
    (src / "openvino.dll").write_bytes(build_pe(("KERNEL32.dll", "gone.dll", "lost.dll")))


@pytest.mark.parametrize("fmt", ["tree", "table", "json", "dot", "mermaid"])
def test_deps_missing_is_one_error_line_in_every_format(source: Path, fmt: str) -> None:
    _break(source)
    result = run("deps", str(source), "-f", fmt)
    assert result.exit_code == 3
    assert one_error_line(result) == "npuslim: error: 2 dependencies missing: gone.dll, lost.dll"
    if fmt == "json":
        assert json.loads(result.stdout)["summary"]["missing"] == ["gone.dll", "lost.dll"]


def test_deps_complete_says_nothing_on_stderr(source: Path) -> None:
    result = run("deps", str(source), "-f", "json")
    assert result.exit_code == 0 and result.stderr == ""


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_verify_failure_is_one_error_line_and_json_stays_on_stdout(source: Path, fmt: str) -> None:
    assert run("extract", str(source), "-o", "b").exit_code == 0
    with open("b/bin/openvino.dll", "ab") as fh:
        fh.write(b"x")
    result = run("verify", "b", "-f", fmt)
    assert result.exit_code == 5
    assert one_error_line(result) == "npuslim: error: bundle does not verify: 1 file changed (bin/openvino.dll)"
    if fmt == "json":
        assert json.loads(result.stdout)["ok"] is False


def test_verify_of_a_whole_bundle_says_nothing_on_stderr(source: Path) -> None:
    assert run("extract", str(source), "-o", "b").exit_code == 0
    result = run("verify", "b")
    assert result.exit_code == 0 and result.stderr == ""


def test_verdict_lines_group_problems_and_name_a_failed_load(source: Path) -> None:
    assert run("extract", str(source), "-o", "b").exit_code == 0
    for name in ("openvino.dll", "openvino_intel_npu_plugin.dll"):
        with open(f"b/bin/{name}", "ab") as fh:
            fh.write(b"x")
    Path("b/bin/extra.txt").write_text("x")
    result = verify_bundle(Path("b"))
    failed = LoadResult(Path("b"), "wine", "NPU", "system", (LoadStep("load", False, "gone.dll"),),
                        (("gone.dll", "openvino.dll"),), False, "openvino_c.dll failed to load")
    lines = verdict_lines(VerifyOutcome(result, failed))
    assert lines == [
        ("bundle does not verify: 2 files changed (bin/openvino_intel_npu_plugin.dll, bin/openvino.dll); "
        "1 file not in the lock file (bin/extra.txt)"),
        "bundle does not load: openvino_c.dll failed to load",
    ]
    loaded = LoadResult(Path("b"), "wine", "NPU", "system", (), (), True, "loaded")
    assert verdict_lines(VerifyOutcome(verify_bundle(Path("b")), loaded))[1:] == []
