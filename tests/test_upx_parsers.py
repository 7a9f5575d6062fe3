"""UPX output parsers, on captured runs of real UPX 3.94, 4.2.2 (Debian's upx-ucl) and 4.2.3; finding UPX
under Debian's names; the time limit and stop of a UPX run."""

from __future__ import annotations

from pathlib import Path

import pytest

from npuslim.act import upx
from tests.conftest import FIXTURES


def fixture(name: str) -> tuple[str, int]:
    path = FIXTURES / name
    if not path.is_file():
        pytest.fail(f"captured UPX output {path} is missing", pytrace=False)
    text = path.read_text()
    lines = text.rstrip("\n").splitlines()
    assert lines[-1].startswith("exit=")
    return "\n".join(lines[:-1]), int(lines[-1].split("=", 1)[1])


@pytest.mark.parametrize("name,version", [("upx-4.2.3/version.txt", (4, 2, 3)), ("upx-3.94/version.txt", (3, 94)),
                                          ("upx-4.2.2/version.txt", (4, 2, 2))])
def test_version(name: str, version: tuple[int, ...]) -> None:
    text = (FIXTURES / name).read_text()
    assert upx.parse_version(text)[0] == version


@pytest.mark.parametrize("name,size_in,size_out,ratio", [
    ("upx-4.2.3/pack-mingw-ok.txt", 13407, 7775, 57.99),
    ("upx-4.2.3/pack-mingw-quiet.txt", 13407, 7775, 57.99),
    ("upx-4.2.3/pack-force-ok.txt", 337160, 115976, 34.40),
    ("upx-4.2.2/pack-force-ok.txt", 337160, 115976, 34.40),
    ("upx-4.2.3/pack-lzma-force-ok.txt", 337160, 93960, 27.87),
    ("upx-3.94/pack-mingw-ok.txt", 13407, 7775, 57.99),
])
def test_successful_packs(name: str, size_in: int, size_out: int, ratio: float) -> None:
    outcome = upx.parse_pack(*fixture(name))
    assert outcome.ok and outcome.status == upx.PACKED
    assert (outcome.original_size, outcome.packed_size, outcome.ratio) == (size_in, size_out, ratio)
    assert outcome.format == "win64/pe"


def test_decompress_reports_sizes_the_right_way_round() -> None:
    outcome = upx.parse_pack(*fixture("upx-4.2.3/decompress-ok.txt"))
    assert outcome.original_size == 337160 and outcome.packed_size == 93960


@pytest.mark.parametrize("name,status,message", [
    ("upx-4.2.3/pack-guard-cf-refused.txt", upx.REFUSED,
     "CantPackException: GUARD_CF enabled PE files are not supported (use --force to disable)"),
    ("upx-4.2.2/pack-guard-cf-refused.txt", upx.REFUSED,
     "CantPackException: GUARD_CF enabled PE files are not supported (use --force to disable)"),
    ("upx-3.94/pack-loadconf-refused.txt", upx.REFUSED,
     "CantPackException: size of Load Configuration directory unexpected"),
    ("upx-4.2.3/pack-already-packed.txt", upx.ALREADY_PACKED, "AlreadyPackedException: already packed by UPX"),
    ("upx-4.2.3/pack-not-exe.txt", upx.UNKNOWN_FORMAT, "UnknownExecutableFormatException"),
    ("upx-4.2.3/pack-truncated.txt", upx.CORRUPT, "EOFException: premature end of file"),
])
def test_refusals_keep_upx_own_message(name: str, status: str, message: str) -> None:
    outcome = upx.parse_pack(*fixture(name))
    assert not outcome.ok
    assert outcome.status == status and outcome.message == message


@pytest.mark.parametrize("name,ok", [
    ("upx-4.2.3/test-ok.txt", True),
    ("upx-3.94/test-ok.txt", True),
    ("upx-4.2.3/test-not-packed.txt", False),
])
def test_test_runs(name: str, ok: bool) -> None:
    outcome = upx.parse_test(*fixture(name))
    assert outcome.ok is ok
    if not ok:
        assert outcome.status == upx.NOT_PACKED and "not packed by UPX" in outcome.message


def test_a_pack_output_is_not_a_passed_test() -> None:
    assert not upx.parse_test(*fixture("upx-4.2.3/pack-mingw-ok.txt")).ok


def test_garbage_is_a_failure_with_the_last_line() -> None:
    outcome = upx.parse_pack("something odd happened\n", 3)
    assert outcome.status == upx.FAILED and "something odd happened" in outcome.message


def test_levels() -> None:
    assert upx.level_args(None) == [] and upx.level_args("9") == ["-9"]
    assert upx.level_args("best") == ["--best"] and upx.level_args("lzma") == ["--lzma"]
    with pytest.raises(ValueError):
        upx.level_args("11")


def test_missing_upx_names_where_it_looked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(upx.ENV_VAR, raising=False)
    with pytest.raises(Exception, match="upx or upx-ucl on PATH"):
        upx.find_upx()
    monkeypatch.setenv(upx.ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(Exception, match=f"{upx.ENV_VAR}="):
        upx.find_upx()
    fake = tmp_path / "upx"
    fake.write_text("#!/bin/sh\necho not upx\n")
    fake.chmod(0o755)
    with pytest.raises(Exception, match="does not look like UPX"):
        upx.find_upx(fake)


def fake(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def test_debian_name_upx_ucl_is_found(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake(tmp_path, "upx-ucl", 'echo "upx 4.2.2"\n')
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(upx.ENV_VAR, raising=False)
    tool = upx.find_upx()
    assert tool.path == tmp_path / "upx-ucl" and tool.version == (4, 2, 2) and tool.refuses_cfg
    fake(tmp_path, "upx", 'echo "upx 5.0.0"\n')
    assert upx.find_upx().path == tmp_path / "upx"  # the plain name first


def test_a_run_past_its_time_limit_is_killed_with_what_it_started(tmp_path: Path) -> None:
    # the child 'sleep' keeps the output pipe open: only killing the whole group ends the run
    tool = upx.UpxTool(fake(tmp_path, "upx", "sleep 30\n"), (4, 2, 2), "4.2.2")
    src = tmp_path / "x.dll"
    src.write_bytes(b"MZ")
    outcome = upx.pack_file(tool, src, tmp_path / "y.dll", level=None, force=False, timeout=0.3)
    assert outcome.status == upx.TIMED_OUT and "did not finish within 0.3 s" in outcome.message
    assert not (tmp_path / "y.dll").exists()


def test_stop_all_ends_a_running_upx_and_starts_no_other(tmp_path: Path) -> None:
    import threading

    started = tmp_path / "started"
    tool = upx.UpxTool(fake(tmp_path, "upx", f"touch {started}\nsleep 30\n"), (4, 2, 2), "4.2.2")
    src = tmp_path / "x.dll"
    src.write_bytes(b"MZ")
    outcomes: list[upx.UpxOutcome] = []
    worker = threading.Thread(target=lambda: outcomes.append(
        upx.pack_file(tool, src, tmp_path / "y.dll", level=None, force=False, timeout=600)))
    worker.start()
    try:
        while not started.exists():
            worker.join(0.05)
        upx.stop_all()
        worker.join()
        assert outcomes[0].status == upx.STOPPED
        started.unlink()
        assert upx.pack_file(tool, src, tmp_path / "y.dll", level=None, force=False).status == upx.STOPPED
        assert not started.exists()  # nothing was started after the stop
    finally:
        upx.reset_stop()
