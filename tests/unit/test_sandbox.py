"""``verify --load``'s sandbox (``npuslim.check.sandbox``): the choice of sandbox and the command it
wraps a probe in, without starting anything (the runs are in tests/integration/test_sandbox_load.py)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from npuslim.check import sandbox as sandbox_mod
from npuslim.check.loading import LoadResult
from npuslim.check.sandbox import CONFINED, Sandbox, SandboxMode, find_sandbox
from npuslim.errors import ToolError
from npuslim.report.verify_json import load_dict
from npuslim.tools import ToolRun

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "npuslim" / "schemas" / "verify.schema.json").read_text())


@pytest.fixture
def no_bwrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox_mod.shutil, "which", lambda name: None)


@pytest.fixture
def bwrap_runs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """A bwrap that is found and whose trial run ends as the test sets ``runs`` answer."""
    runs: list[list[str]] = []
    monkeypatch.setattr(sandbox_mod.sys, "platform", "linux")
    monkeypatch.setattr(sandbox_mod.shutil, "which", lambda name: "/usr/bin/bwrap" if name == "bwrap" else None)

    def fake(args: list[str], *, timeout: float) -> ToolRun:
        runs.append(args)
        return ToolRun(tuple(args), 0, "")

    monkeypatch.setattr(sandbox_mod, "run_process", fake)
    return runs


def test_without_bwrap_the_run_is_unconfined_and_says_so_plainly(no_bwrap: None, monkeypatch) -> None:
    monkeypatch.setattr(sandbox_mod.sys, "platform", "linux")
    found = find_sandbox(SandboxMode.AUTO)
    assert not found.confined
    assert found.description == ("not sandboxed: bubblewrap not found; the bundle's code ran with your "
                                 "user's rights")
    assert found.wrap(["probe", "x"], work=Path("/w")) == ["probe", "x"]


def test_require_refuses_to_run_unconfined(no_bwrap: None, monkeypatch) -> None:
    monkeypatch.setattr(sandbox_mod.sys, "platform", "linux")
    with pytest.raises(ToolError) as err:
        find_sandbox("require")
    assert err.value.exit_code == 6
    assert str(err.value).startswith("--sandbox require: bubblewrap not found, so the bundle's code would run "
                                     "unconfined; install bubblewrap")


def test_off_never_confines_even_with_bwrap(bwrap_runs: list[list[str]]) -> None:
    found = find_sandbox(SandboxMode.OFF)
    assert not found.confined and found.description.startswith("not sandboxed: --sandbox off; ")
    assert bwrap_runs == []


def test_a_bwrap_that_cannot_start_is_named_with_its_message(bwrap_runs, monkeypatch) -> None:
    monkeypatch.setattr(sandbox_mod, "run_process", lambda args, *, timeout: ToolRun(
        tuple(args), 1, "bwrap: No permissions to creating new namespace, likely because the kernel does not "
        "allow non-privileged user namespaces.\n"))
    found = find_sandbox()
    assert not found.confined
    assert found.description.startswith("not sandboxed: bubblewrap cannot start a sandbox here (bwrap: No "
                                        "permissions to creating new namespace")
    with pytest.raises(ToolError, match="cannot start a sandbox here"):
        find_sandbox(SandboxMode.REQUIRE)


def test_a_working_bwrap_confines_and_is_tried_once(bwrap_runs: list[list[str]]) -> None:
    found = find_sandbox()
    assert found.confined and found.description == CONFINED
    assert len(bwrap_runs) == 1 and bwrap_runs[0][-2:] == ["--", "true"]


def test_the_wrapped_command_is_read_only_without_network_and_binds_the_work_folder(tmp_path: Path) -> None:
    box = Sandbox("/usr/bin/bwrap", CONFINED)
    work, bundle, prefix = tmp_path / "work", tmp_path / "bundle", tmp_path / "prefix"
    cmd = box.wrap(["wine64", "probe.exe"], work=work, visible=(bundle, bundle), writable=(prefix,))
    assert cmd[0] == "/usr/bin/bwrap"
    assert cmd[-3:] == ["--", "wine64", "probe.exe"]
    text = " ".join(cmd)
    for part in ("--ro-bind / /", "--tmpfs /tmp", "--unshare-all", "--cap-drop ALL", "--die-with-parent",
                 f"--ro-bind {bundle} {bundle}", f"--bind {prefix} {prefix}", f"--bind {work} {work}",
                 f"--chdir {work}"):
        assert part in text, part
    assert text.count(f"--ro-bind {bundle}") == 1
    # the later binds win in bwrap: the read-only root first, the writable folders last
    assert text.index("--ro-bind / /") < text.index(f"--ro-bind {bundle}") < text.index(f"--bind {work}")
    assert "--bind / /" not in text and "--share-net" not in text


@pytest.mark.parametrize("sandboxed", [True, False])
def test_the_load_json_says_how_the_probe_was_confined(sandboxed: bool) -> None:
    box = Sandbox("/usr/bin/bwrap", CONFINED) if sandboxed else sandbox_mod.unconfined("bubblewrap not found")
    load = LoadResult(Path("b"), "native", "NPU", "system", (), (), True, "loaded", box.description, box.confined)
    data = load_dict(load)
    assert data["sandboxed"] is sandboxed and data["sandbox"] == box.description
    doc = {"schema": "npuslim.verify", "schema_version": 1, "tool_version": "x", "bundle": "b", "ok": True,
           "files_checked": 0, "dlls_checked": 0, "problems": [], "archive": None, "load": data}
    jsonschema.validate(doc, SCHEMA)
