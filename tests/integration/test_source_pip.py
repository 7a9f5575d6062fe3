"""What pip is asked before and while a requirement is fetched: releases, platforms, timeouts, progress."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import pytest

from npuslim.errors import ToolError
from npuslim.progress import ProgressEvent, StepState
from npuslim.source import wheel as wh
from npuslim.tools import stream_tool
from tests.cli_helpers import one_error_line, run

pytestmark = pytest.mark.wheels  # pip reaches the package index


def _no_pip(*_a: object, **_k: object) -> object:
    raise AssertionError("pip was run")


def test_a_release_that_does_not_exist_names_the_nearest_then_is_refused_from_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(tmp_path))
    result = run("deps", "openvino==2026.4.9")
    line = one_error_line(result)
    assert result.exit_code == 4
    assert line.startswith("npuslim: error: openvino==2026.4.9: no such release for win_amd64; nearest: 2026.4.1")
    assert not list((tmp_path / "downloads" / "win_amd64").glob("*.whl"))
    monkeypatch.setattr(wh, "run_tool", _no_pip)
    monkeypatch.setattr(wh, "stream_tool", _no_pip)
    again = run("deps", "openvino==2026.4.9")
    assert again.exit_code == 4 and one_error_line(again) == line


def test_a_linux_release_that_does_not_exist_lists_both_manylinux_tags(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(tmp_path))
    result = run("deps", "openvino==2025.9.0", "--platform", "manylinux_2_28_x86_64")
    assert result.exit_code == 4
    line = one_error_line(result)
    assert "no such release for manylinux_2_28_x86_64" in line
    assert "2025.4.1" in line and "2026.0.0" in line  # manylinux2014 up to 2025.4.1, manylinux_2_28 after


@pytest.mark.parametrize("tag", ["win64", "macosx_11_0_arm64"])
def test_an_unknown_platform_is_refused_before_pip(tag: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(tmp_path))
    result = run("deps", "openvino==2026.4.1", "--platform", tag)
    assert result.exit_code == 2
    assert "win_amd64, manylinux_2_28_x86_64" in one_error_line(result)
    assert not (tmp_path / "downloads").exists() and not (tmp_path / "wheels").exists()  # nothing fetched


def test_a_single_equals_suggests_double(tmp_path: Path) -> None:
    result = run("deps", "openvino=2026.4.1")
    assert result.exit_code == 2
    assert one_error_line(result).endswith("write openvino==2026.4.1")


def test_pip_lists_the_releases_newest_first_and_they_are_cached(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(tmp_path))
    releases = wh.list_releases("openvino", "manylinux_2_28_x86_64")
    assert "2026.4.1" in releases and "2025.4.1" in releases  # both manylinux tags were asked
    assert list(releases) == sorted(releases, key=lambda v: tuple(int(p) for p in v.split(".")), reverse=True)
    monkeypatch.setattr(wh, "run_tool", _no_pip)
    assert wh.list_releases("openvino", "manylinux_2_28_x86_64") == releases


def test_bare_openvino_is_the_newest_release_with_a_note(ov2026, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # the listing is seeded so that the newest is the cached 2026.4.1 (no 40 MB download when a newer one ships)
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(tmp_path))
    (tmp_path / "releases").mkdir()
    (tmp_path / "releases" / "openvino-win_amd64.json").write_text(
        json.dumps({"fetched": time.time(), "releases": ["2026.4.1", "2026.4.0"]}))
    (tmp_path / "downloads" / "win_amd64").mkdir(parents=True)
    shutil.copy2(ov2026.wheel, tmp_path / "downloads" / "win_amd64" / ov2026.wheel.name)
    result = run("deps", "openvino", "-f", "json", "--no-hints")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.strip() == ("npuslim: openvino: using its newest release for win_amd64, 2026.4.1 "
                                     "(pin one with openvino==VERSION)")
    source = json.loads(result.stdout)["source"]
    assert source["origin"] == "openvino==2026.4.1" and source["openvino_version"].startswith("2026.4.1")


def test_a_tool_that_does_not_answer_is_killed_after_its_timeout() -> None:
    lines: list[str] = []
    started = time.monotonic()
    with pytest.raises(ToolError, match="no answer after 1 s"):
        stream_tool([sys.executable, "-c", "import time; print('first', flush=True); time.sleep(60)"],
                    on_line=lines.append, timeout=1)
    assert time.monotonic() - started < 10
    assert lines == ["first"]  # handed over as printed, before the end


def test_a_cold_fetch_reports_its_steps(ov2026, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # pip copies the wheel from its own cache: no network transfer, but the fetch and unpack steps run
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(tmp_path))
    events: list[ProgressEvent] = []
    from npuslim.source.locate import locate

    install = locate("openvino==2026.4.1", progress=events.append)
    assert install.version is not None and install.version.startswith("2026.4.1")
    steps = [(e.step, e.state) for e in events if e.state is not StepState.ADVANCE]
    assert steps[0] == ("fetch", StepState.START) and ("fetch", StepState.DONE) in steps
    assert steps[-1] == ("unpack", StepState.DONE)
    unpacked = sum(e.advance for e in events if e.step == "unpack")
    assert unpacked == next(e.total for e in events if e.step == "unpack" and e.state is StepState.START)
