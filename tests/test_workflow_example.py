"""``examples/ci/github-actions.yml``: valid YAML, every npuslim command line parses, and runs here.

The command lines are taken from the workflow's ``run:`` scripts as a shell would
split them (continuations joined, redirections and pipes cut off, the workflow's
env values substituted; the release versions replaced by the test wheels').
"""

from __future__ import annotations

import os
import re
import shlex
import zipfile
from pathlib import Path

import pytest
import typer
import yaml

from npuslim.cli import app
from tests.cli_helpers import run
from tests.support.tools import require_tool

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / "examples" / "ci" / "github-actions.yml"
# versions of the test wheels instead of the workflow's (2026.3.0 is not among them)
TEST_ENV = {"OPENVINO_VERSION": "2026.4.1", "PREVIOUS_VERSION": "2026.1.0"}
# options of pack's new form (pack BUNDLE -o OUT) and of its budget and SBOM, which come with the pack rewrite
_OPERATORS = {">", ">>", "<", "|", "||", "&&", ";", "&", "2>", "2>&1"}


def _load() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def _expand(token: str, env: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        assert name in env, f"{token}: ${name} is not set by the workflow"
        return env[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", sub, token)


def command_lines(workflow: dict, env_override: dict[str, str] | None = None) -> list[tuple[str, list[str]]]:
    """(job, argv after ``npuslim``) for every npuslim command of every ``run:`` step, in order."""
    out = []
    for job_name, job in workflow["jobs"].items():
        env = {**{k: str(v) for k, v in (workflow.get("env") or {}).items()},
               **{k: str(v) for k, v in (job.get("env") or {}).items()}, **(env_override or {})}
        for step in job["steps"]:
            script = step.get("run")
            if not script:
                continue
            for line in script.replace("\\\n", " ").splitlines():
                lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>")
                lexer.whitespace_split = True
                tokens = list(lexer)
                while tokens:
                    cut = next((i for i, t in enumerate(tokens) if t in _OPERATORS), len(tokens))
                    command, tokens = tokens[:cut], tokens[cut + 1:]
                    if command and command[0] == "npuslim":
                        out.append((job_name, [_expand(t, env) for t in command[1:]]))
    return out


def _command(name: str):  # -> the click command typer built for ``npuslim NAME``
    group = typer.main.get_command(app)
    parent = typer.Context(group, info_name="npuslim")
    cmd = group.get_command(parent, name)  # type: ignore[attr-defined]
    assert cmd is not None, f"npuslim has no command {name!r}"
    return cmd, parent


def unknown_options(args: list[str]) -> set[str]:
    """Options of ``args`` that this build's command does not know."""
    cmd, _ = _command(args[0])
    known = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
    return {a.split("=", 1)[0] for a in args[1:] if a.startswith("-") and a.split("=", 1)[0] not in known}


def parse(args: list[str]) -> dict:
    """Parse ``args`` with npuslim's own click command (types, choices, callbacks), running nothing."""
    cmd, parent = _command(args[0])
    with cmd.make_context(args[0], list(args[1:]), parent=parent) as ctx:
        return dict(ctx.params)


def test_the_workflow_is_valid_yaml_with_a_linux_and_a_windows_job() -> None:
    workflow = _load()
    assert set(workflow["jobs"]) == {"bundle", "verify-windows"}
    assert workflow["jobs"]["bundle"]["runs-on"].startswith("ubuntu")
    assert workflow["jobs"]["verify-windows"]["runs-on"].startswith("windows")
    assert workflow["jobs"]["verify-windows"]["needs"] == "bundle"
    # "on" is YAML 1.1's true for PyYAML; GitHub reads it as the trigger key
    assert "workflow_dispatch" in (workflow.get("on") or workflow.get(True))
    uploads = [s for s in workflow["jobs"]["bundle"]["steps"] if str(s.get("uses", "")).startswith(
        "actions/upload-artifact")]
    assert uploads and "sbom.cdx.json" in uploads[0]["with"]["path"] and ".zip" in uploads[0]["with"]["path"]
    summary = "\n".join(s.get("run", "") for s in workflow["jobs"]["bundle"]["steps"])
    assert "size-report.md" in summary and "GITHUB_STEP_SUMMARY" in summary and "upx-ucl" in summary


LINES = command_lines(_load())


def test_the_workflow_has_the_command_lines_the_issue_asks_for() -> None:
    commands = [(job, args[0], args) for job, args in LINES]
    assert [(job, cmd) for job, cmd, _ in commands] == [
        ("bundle", "extract"), ("bundle", "verify"), ("bundle", "pack"), ("bundle", "verify"),
        ("bundle", "diff"), ("verify-windows", "verify")]
    extract = commands[0][2]
    assert "--sbom" in extract and "--max-size" in extract
    assert {"--upx", "--upx-force-cfg", "--max-size"} <= set(commands[2][2])
    assert "--load" in commands[3][2] and "--load" in commands[5][2]
    assert commands[4][2][-2:] == ["--format", "md"]


@pytest.mark.parametrize(("job", "args"), LINES, ids=[f"{job}-{i}-{a[0]}" for i, (job, a) in enumerate(LINES)])
def test_every_npuslim_command_line_parses(job: str, args: list[str]) -> None:
    unknown = unknown_options(args)
    assert not unknown, f"npuslim {args[0]} does not know {', '.join(sorted(unknown))}"
    params = parse(args)
    if args[0] == "extract":
        assert params["sbom"] and params["max_size"] == "40MB"


@pytest.mark.wheels
@pytest.mark.upx
@pytest.mark.wine
def test_the_workflow_runs_here_on_the_test_wheels(ov2026, ov2026_1, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Every npuslim line of both jobs, in order, with the real CLI: the bundle job in one
    folder, the Windows job's lines (Wine instead of Windows) on the unzipped artifact."""
    require_tool("upx", "apt-get install upx-ucl (UPX 4)")
    require_tool("wine", "apt-get install wine wine64")
    require_tool("x86_64-w64-mingw32-gcc", "apt-get install gcc-mingw-w64-x86-64-win32")
    lines = command_lines(_load(), TEST_ENV)
    work = tmp_path / "linux"
    work.mkdir()
    monkeypatch.chdir(work)
    ran = []
    for job, args in lines:
        assert not unknown_options(args), args
        if job == "verify-windows" and Path.cwd() == work:
            windows = tmp_path / "windows"
            windows.mkdir()
            with zipfile.ZipFile(work / "npu-packed.zip") as zf:
                zf.extractall(windows)  # the job's "python -m zipfile -e artifact/npu-packed.zip ."
            monkeypatch.chdir(windows)
        result = run(*args)
        assert result.exit_code == 0, (args, result.stdout[-2000:], result.stderr[-2000:])
        ran.append(args[0])
        if args[0] == "diff":
            assert "openvino_intel_npu_compiler_loader.dll" in result.stdout
    assert (work / "npu-bundle" / "sbom.cdx.json").is_file()
    assert (work / "npu-packed" / "sbom.cdx.json").is_file() and (work / "npu-packed" / "size-report.md").is_file()
    assert ran == ["extract", "verify", "pack", "verify", "diff", "verify"]
    assert os.environ.get("GITHUB_STEP_SUMMARY") is None  # nothing here writes outside tmp_path
