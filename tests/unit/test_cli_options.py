"""The command line itself: --debug anywhere, --search-path checked, completion, hints in errors.

Pure: typer's CliRunner and PE files written in Python, no tools.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from npuslim.cli import STATE, app
from tests.cli_helpers import one_error_line, run
from tests.support.crafted import build_pe


@pytest.fixture
def dll(tmp_path: Path) -> Path:
    path = tmp_path / "a.dll"
    path.write_bytes(build_pe(("KERNEL32.dll",)))
    return path


@pytest.mark.parametrize("args", [["--debug", "deps", "nowhere"], ["deps", "--debug", "nowhere"],
                                  ["deps", "nowhere", "--debug"]])
def test_debug_before_or_after_the_command_shows_the_traceback(args: list[str], tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.exit_code == 4
    assert "Traceback" in result.stderr and "InputError" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "npuslim: error: nowhere: no such file or folder (nor a requirement like openvino==2026.4.1)")


def test_debug_does_not_carry_over_to_the_next_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run("deps", "--debug", "nowhere").exit_code == 4
    again = run("deps", "nowhere")
    assert again.exit_code == 4 and "Traceback" not in again.stderr
    assert STATE["debug"] is False


def test_debug_after_a_double_dash_is_an_argument(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("deps", "--", "--debug")
    assert result.exit_code == 4
    assert "Traceback" not in result.stderr
    assert "--debug: no such file or folder" in one_error_line(result)


def test_a_search_path_that_does_not_exist_is_a_usage_error(dll: Path, tmp_path: Path) -> None:
    result = run("deps", str(dll), "--search-path", str(tmp_path / "nope"))
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "--search-path" in line and "does not exist" in line and str(tmp_path / "nope") in line
    assert run("deps", str(dll), "--search-path", str(tmp_path)).exit_code == 0


def test_shell_completion_is_offered_and_completes_commands_and_options() -> None:
    shown = run("--show-completion", "bash")
    assert shown.exit_code == 0 and "_NPUSLIM_COMPLETE" in shown.stdout
    assert "--install-completion" in run("--help").stdout
    from typer.testing import CliRunner

    env = {"_NPUSLIM_COMPLETE": "complete_bash", "COMP_WORDS": "npuslim de", "COMP_CWORD": "1"}
    commands = CliRunner().invoke(app, [], env=env, prog_name="npuslim")
    assert commands.stdout.split() == ["deps"]
    env = {"_NPUSLIM_COMPLETE": "complete_bash", "COMP_WORDS": "npuslim deps --for", "COMP_CWORD": "2"}
    options = CliRunner().invoke(app, [], env=env, prog_name="npuslim")
    assert options.stdout.split() == ["--format"]


def test_a_folder_that_is_not_a_bundle_says_how_to_make_one(tmp_path: Path) -> None:
    for command in ("verify", "pack"):
        result = run(command, str(tmp_path))
        assert result.exit_code == 5
        line = one_error_line(result)
        assert "not an npuslim bundle" in line and f"npuslim extract SOURCE -o {tmp_path}" in line
    result = run("verify", str(tmp_path / "missing"))
    assert result.exit_code == 5 and "no such folder" in one_error_line(result)


def test_an_unknown_manifest_lists_the_shipped_ones(dll: Path) -> None:
    result = run("deps", str(dll), "--manifest", "nppu")
    assert result.exit_code == 4
    line = one_error_line(result)
    assert "nppu: manifest not found" in line and "npu, npu-linux" in line and "windows" not in line


def test_extract_refuses_out_before_reading_the_source(tmp_path: Path) -> None:
    """OUT is refused (exit 7) before the source is even looked at: here a wheel that is not one."""
    wheel = tmp_path / "openvino-2026.4.1-0-cp311-cp311-win_amd64.whl"
    wheel.write_bytes(b"not a zip")
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    result = run("extract", str(wheel), "-o", str(out))
    assert result.exit_code == 7
    assert "exists and is not empty" in one_error_line(result)
    assert (out / "mine.txt").read_text() == "keep"
    assert not list(tmp_path.glob(".out.npuslim-lock"))


def test_a_mistyped_command_is_matched_against_every_command_not_only_those_imported() -> None:
    result = run("verfy", "somewhere")
    assert result.exit_code == 2
    assert "No such command 'verfy'. Did you mean 'verify'?" in one_error_line(result)
