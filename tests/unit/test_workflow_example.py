"""``examples/ci/github-actions.yml``: valid YAML, every npuslim command line parses, and runs here.

The command lines are taken from the workflow's ``run:`` scripts as a shell would
split them (continuations joined, redirections and pipes cut off, the workflow's
env values substituted; the release versions replaced by the test wheels').

The pure half; the tests that build, run or download are in tests/integration/test_workflow_example.py.
"""

from __future__ import annotations

import pytest

from tests.support.workflow import _load, command_lines, parse, unknown_options


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


def _check_step(job: dict) -> dict:
    return job["steps"][0]


def test_every_job_is_bounded_read_only_and_first_checks_the_pinned_npuslim() -> None:
    workflow = _load()
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["concurrency"]["group"] and workflow["concurrency"]["cancel-in-progress"] is True
    assert workflow["env"]["NPUSLIM_GIT"] == ""  # the user sets it; the jobs refuse to run without it
    for name, job in workflow["jobs"].items():
        assert 0 < job["timeout-minutes"] <= 120, name
        check = _check_step(job)
        assert "NPUSLIM_GIT" in check["run"] and "exit 1" in check["run"] and "::error::" in check["run"], name
        installs = [s["run"] for s in job["steps"] if "pip install" in s.get("run", "")]
        assert installs == ['python -m pip install "$NPUSLIM_GIT"'], name


def test_pip_and_npuslim_caches_are_kept_and_the_reports_are_uploaded() -> None:
    workflow = _load()
    assert workflow["env"]["NPUSLIM_CACHE_DIR"]
    for name, job in workflow["jobs"].items():
        caches = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/cache@")]
        assert len(caches) == 1, name
        paths = caches[0]["with"]["path"]
        assert "pip" in paths and "env.NPUSLIM_CACHE_DIR" in paths, name
        assert "NPUSLIM_GIT" in caches[0]["with"]["key"], name  # a new npuslim commit starts a new cache
    upload = next(s for s in workflow["jobs"]["bundle"]["steps"] if str(s.get("uses", "")).startswith(
        "actions/upload-artifact"))
    assert set(upload["with"]["path"].split()) == {"npu-packed.zip", "npu-packed/sbom.cdx.json",
                                                    "npu-packed/size-report.json", "npu-packed/npuslim-bundle.json"}
