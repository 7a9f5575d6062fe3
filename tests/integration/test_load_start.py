"""The load probe is started, then waited for: ``start_load`` returns while the probe runs (so
``verify`` can hash the bundle meanwhile), and the probe's timeout, the kill of its whole process
group and the kill when the caller leaves early are what they were when the load waited at once.

A Linux bundle of one gcc-built library whose constructor does what each test needs (waits for
a file, or hangs with a child of its own) is loaded natively by the real Linux probe; no Wine.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from npuslim.check.load import load_alongside, load_bundle, start_load
from npuslim.check.loading import LoadRequest
from npuslim.check.sandbox import SandboxMode, find_sandbox
from npuslim.check.verify import verify_bundle
from npuslim.tools import run_process
from tests.cli_helpers import run
from tests.conftest import TEST_CACHE
from tests.support.tools import require_tool, unavailable

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux probe runs on Linux")

CONSTRUCTOR_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((constructor)) static void test_constructor(void) {
    const char *go = getenv("NPUSLIM_TEST_GO");       /* wait until this file exists */
    const char *hang = getenv("NPUSLIM_TEST_HANG");   /* never return; a child that never ends either */
    const char *write = getenv("NPUSLIM_TEST_WRITE"); /* write this file (into the bundle) */
    if (write) {
        FILE *f = fopen(write, "w");
        if (f) { fputs("written by the bundle's code\n", f); fclose(f); }
    }
    if (go) {
        while (access(go, F_OK) != 0) usleep(10000);
    }
    if (hang) {
        pid_t child = fork();
        if (child == 0) for (;;) pause();
        FILE *f = fopen(hang, "w");
        if (f) { fprintf(f, "%d %d\n", (int)getpid(), (int)child); fclose(f); }
        for (;;) pause();
    }
}

int test_function(void) { return 1; }
"""


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    gcc = require_tool("gcc", "apt-get install gcc")
    src = tmp_path / "src"
    src.mkdir()
    (src / "waits.c").write_text(CONSTRUCTOR_C)
    proc = subprocess.run([gcc, "-shared", "-fPIC", "-o", str(src / "libwaits.so"), str(src / "waits.c"),
                           "-Wl,-soname,libwaits.so"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    (src / "waits.c").unlink()
    out = tmp_path / "bundle"
    result = run("extract", str(src), "-o", str(out), "--root", "libwaits.so", "--manifest", "npu-linux")
    assert result.exit_code == 0, result.stderr
    return out


@pytest.fixture
def signals() -> Iterator[Path]:
    """A folder for the file a test's probe waits for, outside /tmp: the sandbox gives the probe a
    /tmp of its own, where a file under pytest's /tmp/pytest-of-... never appears."""
    TEST_CACHE.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="load-start-", dir=TEST_CACHE))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _killed(pid: int) -> bool:
    """``pid`` is gone, a zombie, exiting, or has a SIGKILL pending (it dies as soon as it runs)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        flags = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[6])
    except (OSError, IndexError):
        return True
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    pending = int(fields["SigPnd"], 16) | int(fields["ShdPnd"], 16)
    exiting = 0x4  # PF_EXITING
    return fields["State"].strip().startswith(("Z", "X")) or bool(flags & exiting) or \
        bool(pending & (1 << (signal.SIGKILL - 1)))


def test_start_load_returns_while_the_probe_runs(bundle: Path, signals: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe waits for a file that is only made once ``start_load`` has returned: had it waited
    for the probe, the probe would have run into its timeout and the load would have failed."""
    go = signals / "go"
    monkeypatch.setenv("NPUSLIM_TEST_GO", str(go))
    with start_load(bundle, LoadRequest(timeout=120, sandbox=SandboxMode.AUTO)) as started:
        go.touch()
        result = started.result()
    assert result.ok, result.verdict
    assert result.verdict.startswith("all 1 libraries load through ld.so")


def test_a_confined_probe_runs_while_the_bundle_is_checked(bundle: Path, signals: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """In the sandbox the bundle is read-only to the probe, so the checks run meanwhile: the probe
    waits for a file that only the checks make."""
    if not find_sandbox().confined:
        unavailable(f"no sandbox here ({find_sandbox().description})")
    go = signals / "go"
    monkeypatch.setenv("NPUSLIM_TEST_GO", str(go))

    def check() -> bool:
        go.touch()
        return verify_bundle(bundle).ok

    verified, loaded = load_alongside(bundle, LoadRequest(timeout=120, sandbox=SandboxMode.REQUIRE), check)
    assert verified and loaded.ok and loaded.sandboxed, loaded.verdict


def test_an_unconfined_probe_runs_after_the_bundle_is_checked(bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unconfined, the bundle's code may write into the bundle (it does here): the checks see the
    bundle as it was given, every time, and the write happened after them."""
    written = bundle / "lib" / "written-by-the-bundle"
    monkeypatch.setenv("NPUSLIM_TEST_WRITE", str(written))
    result, loaded = load_alongside(bundle, LoadRequest(sandbox=SandboxMode.OFF), lambda: verify_bundle(bundle))
    assert result.ok, [p.message for p in result.problems]
    assert loaded.ok and not loaded.sandboxed and written.is_file()


@pytest.mark.parametrize("sandbox", [SandboxMode.OFF, SandboxMode.AUTO])
def test_a_probe_that_never_ends_is_killed_at_its_timeout_with_its_group(
        bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox: SandboxMode) -> None:
    pids = tmp_path / "pids"
    monkeypatch.setenv("NPUSLIM_TEST_HANG", str(pids))
    result = load_bundle(bundle, LoadRequest(timeout=3, sandbox=sandbox))
    assert not result.ok
    assert result.verdict.startswith("the load did not finish within 3 s")
    if sandbox is SandboxMode.OFF:  # in the sandbox the pids are the sandbox's own and its file is private
        probe, child = map(int, pids.read_text().split())
        assert _killed(probe) and _killed(child)


def _interrupted_once_running(bundle: Path, pids: Path) -> None:
    with start_load(bundle, LoadRequest(sandbox=SandboxMode.OFF)):
        while not pids.is_file() or len(pids.read_text().split()) < 2:  # the probe ran the constructor
            time.sleep(0.01)
        raise KeyboardInterrupt


def test_leaving_before_the_result_kills_the_probe_and_its_group(bundle: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C (here raised) while ``verify`` hashes: the running probe and its child are killed."""
    pids = tmp_path / "pids"
    monkeypatch.setenv("NPUSLIM_TEST_HANG", str(pids))
    with pytest.raises(KeyboardInterrupt):
        _interrupted_once_running(bundle, pids)
    probe, child = map(int, pids.read_text().split())
    assert _killed(probe) and _killed(child)


def test_run_process_still_reports_a_timeout_and_a_normal_end() -> None:
    ended = run_process(["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=60)
    assert (ended.returncode, ended.output.split(), ended.timed_out) == (3, ["out", "err"], False)
    hung = run_process(["sh", "-c", "echo started; exec sleep 600"], timeout=1)
    assert hung.timed_out and hung.returncode == -signal.SIGKILL and hung.output == "started\n"
