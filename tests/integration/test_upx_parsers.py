"""UPX output parsers, on captured runs of real UPX 3.94, 4.2.2 (Debian's upx-ucl) and 4.2.3; finding UPX
under Debian's names; the time limit and stop of a UPX run.

The tests that build, run or download; the pure ones are in tests/unit/test_upx_parsers.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from npuslim.act import upx


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
