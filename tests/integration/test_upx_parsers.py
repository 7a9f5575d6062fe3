"""UPX output parsers, on captured runs of real UPX 3.94, 4.2.2 (Debian's upx-ucl) and 4.2.3; finding UPX
under Debian's names; the time limit and stop of a UPX run.

The tests that build, run or download; the pure ones are in tests/unit/test_upx_parsers.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
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


# How long to wait for an event that takes milliseconds (a script touching a file, a killed process
# ending): no claim about speed, only a ceiling so that an event that never comes fails the test with
# a message instead of hanging it. The fake UPX sleeps 30 s, so a kill that fails shows within it.
EVENT_CEILING_S = 120.0
POLL_S = 0.05


def wait_for(event: Callable[[], bool], what: str, worker: threading.Thread, outcomes: list) -> None:
    """Poll ``event`` while ``worker`` runs; fail when the worker ends without it or the ceiling is reached."""
    deadline = time.monotonic() + EVENT_CEILING_S
    while not event():
        if not worker.is_alive() and not event():
            pytest.fail(f"{what} never happened: the UPX run ended first ({outcomes})")
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {EVENT_CEILING_S:g} s")
        worker.join(POLL_S)


def test_stop_all_ends_a_running_upx_and_starts_no_other(tmp_path: Path) -> None:
    started = tmp_path / "started"
    tool = upx.UpxTool(fake(tmp_path, "upx", f"touch {started}\nsleep 30\n"), (4, 2, 2), "4.2.2")
    src = tmp_path / "x.dll"
    src.write_bytes(b"MZ")
    outcomes: list[upx.UpxOutcome] = []
    worker = threading.Thread(daemon=True, target=lambda: outcomes.append(
        upx.pack_file(tool, src, tmp_path / "y.dll", level=None, force=False, timeout=600)))
    worker.start()
    try:
        wait_for(started.exists, "the fake UPX starting", worker, outcomes)
        upx.stop_all()
        wait_for(lambda: not worker.is_alive(), "the stopped UPX run returning", worker, outcomes)
        assert outcomes[0].status == upx.STOPPED
        started.unlink()
        assert upx.pack_file(tool, src, tmp_path / "y.dll", level=None, force=False).status == upx.STOPPED
        assert not started.exists()  # nothing was started after the stop
    finally:
        if worker.is_alive():  # a failure above: end the fake's sleep rather than leave it behind
            upx.stop_all()
            worker.join(EVENT_CEILING_S)
        upx.reset_stop()
