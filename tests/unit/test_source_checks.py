"""What npuslim checks before pip runs (platform tags, requirements typed wrong, releases that do not
exist), pip's answers read on captured output, the release cache, and progress of fetch and unpack."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import time
import zipfile
from pathlib import Path

import pytest

from npuslim.errors import InputError, UsageError
from npuslim.platforms import Platform
from npuslim.progress import ProgressEvent, Reporter, StepState
from npuslim.source import requirements as rq
from npuslim.source import wheel as wh
from npuslim.source.install import platform_of_tag
from npuslim.source.locate import locate

# pip 23.2.1: pip download --no-deps --only-binary=:all: --platform win_amd64 --python-version 3.11 openvino==2026.4.9
PIP_MISSING_RELEASE = """\
Looking in indexes: https://pypi.org/simple
WARNING: Location 'file:///opt/pypi/simple/openvino/' is ignored: it is neither a file nor a directory.
ERROR: Could not find a version that satisfies the requirement openvino==2026.4.9 (from versions: 2023.0.0, \
2023.1.0.dev20230623, 2023.1.0, 2024.4.0, 2024.4.1.dev20240926, 2024.5.0, 2024.6.0, 2025.4.1, 2026.0.0, \
2026.3.1, 2026.4.0, 2026.4.1)
ERROR: No matching distribution found for openvino==2026.4.9
"""
PIP_NO_PROJECT = """\
ERROR: Could not find a version that satisfies the requirement openvinoo==1.0 (from versions: none)
ERROR: No matching distribution found for openvinoo==1.0
"""
# pip 23.2.1: pip index versions openvino --platform win_amd64 --python-version 3.11 --only-binary=:all:
PIP_INDEX = """\
WARNING: pip index is currently an experimental command. It may be removed/changed in a future release without \
prior warning.
openvino (2026.4.1)
Available versions: 2026.4.1, 2026.4.0, 2026.3.1, 2026.3.0, 2025.4.1, 2024.6.0
"""


@pytest.mark.parametrize(("tag", "platform"), [
    ("win_amd64", Platform.WINDOWS), ("manylinux_2_28_x86_64", Platform.LINUX),
    ("manylinux2014_x86_64", Platform.LINUX), ("manylinux_2_17_x86_64", Platform.LINUX),
    ("linux_x86_64", Platform.LINUX),
])
def test_the_platform_tags_npuslim_handles(tag: str, platform: Platform) -> None:
    assert platform_of_tag(tag) is platform
    assert platform_of_tag(tag) == platform.value  # still the plain string for other code


@pytest.mark.parametrize("tag", ["win64", "macosx_11_0_arm64", "win32", "manylinux_2_28_aarch64", "",
                                 "../x", "win_amd64 ", "x" * 500])
def test_any_other_platform_is_a_usage_error_naming_the_supported_ones(tag: str) -> None:
    with pytest.raises(UsageError) as err:
        platform_of_tag(tag)
    text = str(err.value)
    assert "\n" not in text and len(text) < 260
    assert "win_amd64" in text and "manylinux_2_28_x86_64" in text and "manylinux2014_x86_64" in text


def test_locate_refuses_an_unknown_platform_before_anything_else() -> None:
    with pytest.raises(UsageError, match="win64"):
        locate("openvino==2026.4.1", platform="win64")


@pytest.mark.parametrize(("text", "kind", "line"), [
    ("openvino=2026.4.1", UsageError, ("openvino=2026.4.1: a requirement pins a release with ==; write "
                                      "openvino==2026.4.1")),
    ("openvino-2026.4.1", InputError, ("openvino-2026.4.1: no such file or folder; for a release write the "
                                      "requirement openvino==2026.4.1")),
    ("openvino 2026.4.1", InputError, None), ("openvino:2026.4", InputError, None),
    ("openvino@2026.4.1", InputError, None), ("openvino_v2026.4.1", InputError, None),
])
def test_a_requirement_typed_wrong_suggests_double_equals(text: str, kind: type, line: str | None) -> None:
    error = rq.near_miss(text)
    assert type(error) is kind
    assert "openvino==2026" in str(error)
    if line is not None:
        assert str(error) == line


@pytest.mark.parametrize("text", ["some/folder", "model.xml", "a.dll", "openvino==2026.4.1", "2026.4.1"])
def test_other_text_is_no_near_miss(text: str) -> None:
    assert rq.near_miss(text) is None


def test_the_releases_pip_lists_when_a_release_does_not_exist() -> None:
    releases = rq.releases_from_download(PIP_MISSING_RELEASE)
    assert releases == ("2026.4.1", "2026.4.0", "2026.3.1", "2026.0.0", "2025.4.1", "2024.6.0", "2024.5.0",
                        "2024.4.0", "2023.1.0", "2023.0.0")  # newest first, no dev releases
    assert rq.releases_from_download(PIP_NO_PROJECT) == ()
    assert rq.releases_from_download("ERROR: HTTP error 503\n") is None
    assert rq.releases_from_index(PIP_INDEX) == ("2026.4.1", "2026.4.0", "2026.3.1", "2026.3.0", "2025.4.1",
                                                 "2024.6.0")
    assert rq.releases_from_index("ERROR: No matching distribution found for x\n") is None


def test_the_nearest_releases_are_named() -> None:
    releases = rq.releases_from_download(PIP_MISSING_RELEASE)
    assert releases is not None
    assert rq.nearest_releases("2026.4.9", releases) == ("2026.4.1", "2026.4.0", "2026.3.1", "2026.0.0")
    assert rq.nearest_releases("2025.0.0", releases) == ("2026.0.0", "2025.4.1", "2024.6.0", "2024.5.0")
    assert rq.nearest_releases("2026.4.1", releases)[:2] == ("2026.4.0", "2026.3.1")
    assert rq.nearest_releases("1.0", releases) == ("2024.5.0", "2024.4.0", "2023.1.0", "2023.0.0")
    error = rq.no_such_release("openvino==2026.4.9", "win_amd64", releases)
    assert str(error) == ("openvino==2026.4.9: no such release for win_amd64; nearest: 2026.4.1, 2026.4.0, "
                          "2026.3.1, 2026.0.0 (newest 2026.4.1)")
    assert error.exit_code == 4
    assert str(rq.no_such_release("openvinoo==1.0", "win_amd64", ())) == (
        "openvinoo==1.0: the package index has no release of openvinoo for win_amd64")


@pytest.mark.parametrize(("line", "amount"), [
    ("Progress 0 of 46251520", (0, 46251520)), ("Progress 1048576 of 46251520\n", (1048576, 46251520)),
    ("Progress 10 of 0", (10, 0)), ("  Downloading openvino.whl (44.1 MB)", None), ("Progress x of 3", None),
])
def test_pip_raw_progress_lines(line: str, amount: tuple[int, int] | None) -> None:
    assert rq.raw_progress(line) == amount


@pytest.mark.parametrize(("version", "raw"), [("23.2.1", False), ("24.0", False), ("24.1", True), ("24.1b1", True),
                                         ("25.3", True), ("100.0", True), ("x", False)])
def test_which_pip_has_raw_progress(version: str, raw: bool) -> None:
    assert rq.pip_has_raw_progress(version) is raw


def test_raw_progress_lines_become_bytes_of_the_fetch_step() -> None:
    events: list[ProgressEvent] = []
    watch = wh._PipProgress(Reporter(events.append), "openvino==2026.4.1")
    for line in ("Collecting openvino==2026.4.1", "Progress 0 of 3000", "Progress 1000 of 3000",
                 "Progress 3000 of 3000", "Saved /c/x.whl"):
        watch(line)
    assert events[0] == ProgressEvent("fetch", "openvino==2026.4.1", StepState.START, total=3000, unit="bytes")
    assert sum(e.advance for e in events if e.state is StepState.ADVANCE) == 3000


def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, releases: list[str], age: float) -> Path:
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(tmp_path))
    listing = tmp_path / "releases" / "openvino-win_amd64.json"
    listing.parent.mkdir(parents=True)
    listing.write_text(json.dumps({"fetched": time.time() - age, "releases": releases}))
    return listing


def _no_pip(*_a: object, **_k: object) -> object:
    raise AssertionError("pip was run")


def test_a_cached_listing_refuses_a_missing_release_without_pip(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    _cache(tmp_path, monkeypatch, ["2026.4.1", "2026.4.0", "2025.4.1"], age=600)
    monkeypatch.setattr(wh, "run_tool", _no_pip)
    monkeypatch.setattr(wh, "stream_tool", _no_pip)
    for wanted in ("openvino==2026.4.9", "openvino==2026.2.0"):
        with pytest.raises(rq.NoSuchRelease, match="nearest: .*2026.4.1"):
            wh.fetch_wheel(wanted)
    requirement, note = wh.resolve_requirement("openvino", "win_amd64")
    assert requirement == "openvino==2026.4.1"
    assert note == ("openvino: using its newest release for win_amd64, 2026.4.1 (pin one with "
                    "openvino==VERSION)")


def test_an_old_listing_is_asked_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    listing = _cache(tmp_path, monkeypatch, ["2026.4.1"], age=wh.NEWER_RELEASE_TTL + 60)
    assert wh.cached_releases("openvino", "win_amd64") == ("2026.4.1",)
    wh._refuse_known_missing("openvino==2026.5.0", "win_amd64")  # maybe new since: pip is asked
    with pytest.raises(rq.NoSuchRelease):
        wh._refuse_known_missing("openvino==2026.3.0", "win_amd64")
    listing.write_text(json.dumps({"fetched": time.time() - wh.RELEASES_TTL - 60, "releases": ["2026.4.1"]}))
    assert wh.cached_releases("openvino", "win_amd64") is None
    wh._refuse_known_missing("openvino==2026.3.0", "win_amd64")
    listing.write_text("{not json")
    assert wh.cached_releases("openvino", "win_amd64") is None


def test_unpacking_reports_bytes_of_the_entries_it_takes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(tmp_path / "cache"))
    wheel = tmp_path / "openvino-2026.4.1-1-cp311-cp311-win_amd64.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("openvino/libs/openvino.dll", b"x" * 3000)
        zf.writestr("openvino/libs/a.py", b"y" * 500)  # not wanted: not counted
        zf.writestr("openvino/include/a.h", b"z" * 100)
    events: list[ProgressEvent] = []
    folder = wh.unpack_wheel(wheel, progress=events.append)
    assert (folder / "openvino/libs/openvino.dll").is_file()
    assert events[0] == ProgressEvent("unpack", wheel.name, StepState.START, total=3100, unit="bytes")
    assert sum(e.advance for e in events) == 3100
    assert events[-1].state is StepState.DONE and events[-1].detail == "2 of 3 files, 0.0 MB"
    events.clear()
    assert wh.unpack_wheel(wheel, progress=events.append) == folder and events == []  # reused: nothing to show


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):  # inside functions too
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_import_cycle_between_the_source_modules() -> None:
    folder = Path(rq.__file__).parent
    modules = {f"npuslim.source.{p.stem}": p for p in folder.glob("*.py") if p.stem != "__init__"}
    graph = {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph[start])

    assert [name for name in graph if reaches(name, name, {name})] == []


def _old_file(path: Path, data: bytes) -> Path:
    """A file written ``data`` whose timestamps are older than the racy window (as a downloaded wheel's are)."""
    path.write_bytes(data)
    past = time.time() - 60
    os.utime(path, (past, past))
    time.sleep(wh.RACY_SECONDS + 0.1)  # the ctime utime set must leave the racy window too
    return path


def _hashing_counter(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    hashed: list[Path] = []
    real = wh._hash_stream

    def counting(wheel: Path, fh: object) -> str:
        hashed.append(wheel)
        return real(wheel, fh)  # type: ignore[arg-type]

    monkeypatch.setattr(wh, "_hash_stream", counting)
    monkeypatch.setattr(wh, "_HASHED", {})  # a new process
    return hashed


def test_a_wheels_hash_is_remembered_across_runs_under_its_identity(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(tmp_path / "cache"))
    wheel = _old_file(tmp_path / "x-1.0-py3-none-any.whl", b"first bytes")
    hashed = _hashing_counter(monkeypatch)
    assert wh.wheel_sha256(wheel) == hashlib.sha256(b"first bytes").hexdigest()
    monkeypatch.setattr(wh, "_HASHED", {})  # the next run reads the memo, not the file
    assert wh.wheel_sha256(wheel) == hashlib.sha256(b"first bytes").hexdigest()
    assert hashed == [wheel]


def test_a_wheel_rewritten_with_its_size_and_mtime_kept_is_hashed_again(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(tmp_path / "cache"))
    wheel = _old_file(tmp_path / "x-1.0-py3-none-any.whl", b"first bytes")
    before = wheel.stat()
    hashed = _hashing_counter(monkeypatch)
    wh.wheel_sha256(wheel)
    with open(wheel, "r+b") as fh:  # same inode, same size, the mtime set back as cp -p or rsync -a would
        fh.write(b"other bytes")
    os.utime(wheel, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert wheel.stat().st_mtime_ns == before.st_mtime_ns and wheel.stat().st_size == before.st_size
    monkeypatch.setattr(wh, "_HASHED", {})
    assert wh.wheel_sha256(wheel) == hashlib.sha256(b"other bytes").hexdigest()
    assert hashed == [wheel, wheel]


def test_a_wheel_written_just_now_is_not_remembered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(tmp_path / "cache"))
    wheel = tmp_path / "x-1.0-py3-none-any.whl"
    wheel.write_bytes(b"fresh")
    hashed = _hashing_counter(monkeypatch)
    wh.wheel_sha256(wheel)
    assert not (tmp_path / "cache" / "wheel-hashes").exists()
    monkeypatch.setattr(wh, "_HASHED", {})
    wh.wheel_sha256(wheel)
    assert hashed == [wheel, wheel]


def test_a_damaged_memo_is_no_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(tmp_path / "cache"))
    wheel = _old_file(tmp_path / "x-1.0-py3-none-any.whl", b"first bytes")
    hashed = _hashing_counter(monkeypatch)
    wh.wheel_sha256(wheel)
    (memo,) = (tmp_path / "cache" / "wheel-hashes").iterdir()
    for text in ("", "zz" * 32, "ab" * 31, "\xff" * 64):
        memo.write_text(text, encoding="latin-1")
        monkeypatch.setattr(wh, "_HASHED", {})
        assert wh.wheel_sha256(wheel) == hashlib.sha256(b"first bytes").hexdigest()
    assert len(hashed) == 5
