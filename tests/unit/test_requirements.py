"""Requirements and wheel file names (npuslim.source, over ``packaging``), and pip's answers, on captured output."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from npuslim.errors import ToolError
from npuslim.source import wheel as wh
from npuslim.source.linux import is_linux_wheel
from npuslim.source.requirements import NoSuchRelease, is_requirement, pip_download_result
from npuslim.source.requirements import pinned as _pinned
from npuslim.source.requirements import wheel_matches as _wheel_matches
from npuslim.source.wheel import fetch_wheel
from npuslim.tools import ToolRun

WIN = "openvino-2026.4.1-22982-cp311-cp311-win_amd64.whl"
LINUX = "openvino-2026.4.1-22982-cp311-cp311-manylinux_2_28_x86_64.whl"
ORT = "onnxruntime_openvino-1.24.1-cp311-cp311-win_amd64.whl"


@pytest.mark.parametrize(("text", "expected"), [
    ("openvino==2026.4.1", True),
    (" openvino == 2026.4.1 ", True),
    ("openvino===2026.4.1", True),
    ("openvino>=2026,<2027", True),
    ("openvino~=2026.1", True),
    ("onnxruntime-openvino==1.24.1", True),
    ("openvino[dev]==2026.4.1", True),
    ("openvino", True),                # the bare name of a known project: its newest release
    ("onnxruntime-openvino", True),
    ("openvino2", False),              # any other bare name: a missing file, not a requirement
    ("onnxruntime", False),
    ("a.dll", False),
    ("openvino.whl", False),
    ("foo==bar", False),               # not a PEP 440 version
    ("pkg @ https://example.invalid/pkg.whl", False),
    ("/no/such/dir", False),
    ("x==1;" + "(" * 5000, False),     # hostile markers: refused, no RecursionError
    ("x" * 100_000 + "==1", True),     # too long for a path: not an existing file
])
def test_is_requirement(text: str, expected: bool) -> None:
    assert is_requirement(text) is expected


def test_an_existing_path_is_never_a_requirement(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "openvino==2026.4.1").mkdir()
    assert not is_requirement("openvino==2026.4.1")


@pytest.mark.parametrize(("text", "pinned"), [
    ("openvino==2026.4.1", True), ("openvino===2026.4.1", True), ("openvino==2026.*", False),
    ("openvino>=2026", False), ("openvino==2026.4.1,!=2026.4.0", False), ("not a requirement", False),
])
def test_only_one_exact_version_pins(text: str, pinned: bool) -> None:
    assert (_pinned(text) is not None) is pinned


@pytest.mark.parametrize(("file", "requirement", "platform", "expected"), [
    (WIN, "openvino==2026.4.1", "win_amd64", True),
    (WIN, "OpenVINO==2026.4.1", "win_amd64", True),          # names compare canonicalised
    (WIN, "openvino==2026.4.1.0", "win_amd64", True),        # PEP 440: missing parts are zeros
    (WIN, "openvino==2026.4", "win_amd64", False),
    (WIN, "openvino==2026.4.10", "win_amd64", False),
    (WIN, "openvino==2026.4.1", "manylinux_2_28_x86_64", False),
    (LINUX, "openvino==2026.4.1", "manylinux_2_28_x86_64", True),
    (ORT, "onnxruntime-openvino==1.24.1", "win_amd64", True),  # _ in the file, - in the requirement
    (ORT, "onnxruntime==1.24.1", "win_amd64", False),
    ("x.whl", "openvino==2026.4.1", "win_amd64", False),
    ("openvino-2026.4.1-22982-cp311-cp311-win_amd64.zip", "openvino==2026.4.1", "win_amd64", False),
])
def test_a_cached_wheel_serves_a_pinned_requirement(file: str, requirement: str, platform: str,
                                                    expected: bool) -> None:
    pinned = _pinned(requirement)
    assert pinned is not None
    assert _wheel_matches(Path(file), pinned, platform) is expected


def test_a_version_past_the_digit_limit_matches_no_wheel() -> None:
    pinned = _pinned("x==" + "9" * 5000)  # packaging 26 parses the version on first use, older ones at once
    assert pinned is None or not _wheel_matches(Path("x-1.0-py3-none-win_amd64.whl"), pinned, "win_amd64")


@pytest.mark.parametrize(("file", "expected"), [
    (LINUX, True), ("openvino-2025.4.1-20426-cp311-cp311-manylinux2014_x86_64.whl", True),
    ("x-1.0-py3-none-linux_x86_64.whl", True), (WIN, False), ("x.whl", False), ("linux.whl", False),
    ("openvino-2099.1.0-1-cp311-cp311-win_amd64.whl", False),
])
def test_a_linux_wheel_is_told_by_its_platform_tag(file: str, expected: bool) -> None:
    assert is_linux_wheel(Path(file)) is expected


def test_fetch_reuses_a_downloaded_wheel_without_pip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(tmp_path))
    downloads = tmp_path / "downloads" / "win_amd64"
    downloads.mkdir(parents=True)
    for name in (WIN, ORT, "openvino-2026.4.0-22000-cp311-cp311-win_amd64.whl"):
        _whole_wheel(downloads / name)

    def no_pip(*_a: object, **_k: object) -> ToolRun:
        raise AssertionError("pip was run for a wheel in the cache")

    monkeypatch.setattr("npuslim.source.wheel.run_tool", no_pip)
    monkeypatch.setattr("npuslim.source.wheel.stream_tool", no_pip)
    assert fetch_wheel("openvino==2026.4.1") == downloads / WIN
    assert fetch_wheel("onnxruntime-openvino==1.24.1") == downloads / ORT


def _whole_wheel(path: Path, payload: bytes = b"x" * 4096) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("openvino/__init__.py", payload)


def _pip_into(wheel_name: str, *, cut_off: bool) -> Callable[..., ToolRun]:
    """A stand-in for ``pip download``: writes ``wheel_name`` into the folder after ``-d`` as pip does,
    in place, then (``cut_off``) is interrupted half-way, as Ctrl-C or a kill would stop it."""

    def pip(cmd: list[str], **_k: object) -> ToolRun:
        target = Path(cmd[cmd.index("-d") + 1]) / wheel_name
        _whole_wheel(target)
        if cut_off:
            data = target.read_bytes()
            target.write_bytes(data[: len(data) // 2])
            raise KeyboardInterrupt
        return ToolRun(tuple(cmd), 0, f"Saved {target}\nSuccessfully downloaded openvino\n")

    return pip


def _cache_entries(downloads: Path) -> list[str]:
    return sorted(p.name for p in downloads.iterdir())


def test_an_interrupted_download_leaves_no_wheel_in_the_cache_and_the_rerun_downloads_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(tmp_path))
    downloads = tmp_path / "downloads" / "win_amd64"
    monkeypatch.setattr(wh, "stream_tool", _pip_into(WIN, cut_off=True))
    with pytest.raises(KeyboardInterrupt):
        fetch_wheel("openvino==2026.4.1")
    assert _cache_entries(downloads) == []  # neither the cut-off wheel nor pip's folder
    monkeypatch.setattr(wh, "stream_tool", _pip_into(WIN, cut_off=False))
    assert fetch_wheel("openvino==2026.4.1") == downloads / WIN
    assert zipfile.is_zipfile(downloads / WIN) and _cache_entries(downloads) == [WIN]


def test_a_cut_off_wheel_already_in_the_cache_is_downloaded_again(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """What an interrupted download of an older npuslim left (pip wrote straight into the cache)."""
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(tmp_path))
    downloads = tmp_path / "downloads" / "win_amd64"
    downloads.mkdir(parents=True)
    _whole_wheel(downloads / WIN)
    whole = (downloads / WIN).read_bytes()
    (downloads / WIN).write_bytes(whole[:-200])  # the end of the zip (its central directory) is missing
    monkeypatch.setattr(wh, "stream_tool", _pip_into(WIN, cut_off=False))
    assert fetch_wheel("openvino==2026.4.1") == downloads / WIN
    assert zipfile.is_zipfile(downloads / WIN)


def test_pips_folder_of_a_killed_run_is_removed_and_a_running_ones_kept(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(tmp_path))
    downloads = tmp_path / "downloads" / "win_amd64"
    dead = downloads / f"{wh.PARTIAL_DOWNLOAD}{(1 << 31) - 2}-abc"  # no process has this number here
    alive = downloads / f"{wh.PARTIAL_DOWNLOAD}{os.getpid()}-def"   # another download of this process
    for folder in (dead, alive):
        folder.mkdir(parents=True)
        (folder / WIN).write_bytes(b"PK\x03\x04 cut off")
    monkeypatch.setattr(wh, "stream_tool", _pip_into(WIN, cut_off=False))
    assert fetch_wheel("openvino==2026.4.1") == downloads / WIN
    assert _cache_entries(downloads) == sorted([alive.name, WIN])


# pip 25 (pip download --no-deps --only-binary=:all: --platform win_amd64 ... openvino==1999.0), captured
PIP_NO_SUCH_VERSION = """\
Looking in indexes: https://pypi.org/simple
ERROR: Could not find a version that satisfies the requirement openvino==1999.0 (from versions: 2023.0.0, \
2024.6.0, 2025.4.1, 2026.4.1)
ERROR: No matching distribution found for openvino==1999.0
"""
PIP_SAVED = """\
Collecting openvino==2026.4.1
  Downloading openvino-2026.4.1-22982-cp311-cp311-win_amd64.whl (44.1 MB)
Saved /c/downloads/win_amd64/openvino-2026.4.1-22982-cp311-cp311-win_amd64.whl
Successfully downloaded openvino
"""
PIP_ALREADY = """\
Collecting openvino==2026.4.1
  File was already downloaded /c/downloads/win_amd64/openvino-2026.4.1-22982-cp311-cp311-win_amd64.whl
Successfully downloaded openvino
"""


def test_what_pip_download_answered() -> None:
    def run(output: str, code: int = 0) -> ToolRun:
        return ToolRun(("pip",), code, output)

    wheel = Path("/c/downloads/win_amd64") / WIN
    assert pip_download_result(run(PIP_SAVED), "openvino==2026.4.1", "win_amd64") == wheel
    assert pip_download_result(run(PIP_ALREADY), "openvino==2026.4.1", "win_amd64") == wheel
    assert pip_download_result(run("Successfully downloaded openvino\n"), "openvino==2026.4.1", "win_amd64") is None
    with pytest.raises(NoSuchRelease) as missing:
        pip_download_result(run(PIP_NO_SUCH_VERSION, 1), "openvino==1999.0", "win_amd64")
    assert str(missing.value) == ("openvino==1999.0: no such release for win_amd64; nearest: 2026.4.1, 2025.4.1, "
                                  "2024.6.0, 2023.0.0 (newest 2026.4.1)")
    assert missing.value.exit_code == 4
    with pytest.raises(ToolError) as err:
        pip_download_result(run("ERROR: HTTP error 503\n", 1), "openvino==1999.0", "win_amd64")
    assert str(err.value) == "pip could not download openvino==1999.0 for win_amd64: ERROR: HTTP error 503"
    with pytest.raises(ToolError, match="pip is not available in this Python"):
        pip_download_result(run("/usr/bin/python3: No module named pip\n", 1), "openvino==2026.4.1", "win_amd64")
    with pytest.raises(ToolError, match="win_amd64: no output$"):
        pip_download_result(run("", 2), "openvino==2026.4.1", "win_amd64")
