"""``verify --load`` runs the bundle's code: confined by bubblewrap when it works, and said so
plainly when it is not.

A canary bundle (one gcc-built library whose constructor tries to write a file into a folder
of the test and into the bundle, and to connect to a TCP port the test listens on) is loaded
with and without the sandbox: the unconfined run shows the canary really escapes, the
sandboxed one that it cannot. The 2026.4.1 Windows bundle still reaches the NPU plugin under
Wine in the sandbox.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from npuslim.check import sandbox as sandbox_mod
from tests.cli_helpers import one_error_line, run
from tests.support.tools import require_tool

CANARY_C = r"""
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static void drop(const char *dir) {
    char path[4096];
    if (!dir) return;
    snprintf(path, sizeof path, "%s/escaped-by-the-bundle", dir);
    FILE *f = fopen(path, "w");
    if (f) { fputs("the bundle's code wrote here\n", f); fclose(f); }
    printf("CANARY write %s: %s\n", path, f ? "done" : "refused");
}

__attribute__((constructor)) static void canary(void) {
    drop(getenv("CANARY_DIR"));
    drop(getenv("CANARY_BUNDLE"));
    const char *port = getenv("CANARY_PORT");
    if (port) {
        struct sockaddr_in addr = {0};
        addr.sin_family = AF_INET;
        addr.sin_port = htons((unsigned short)atoi(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int s = socket(AF_INET, SOCK_STREAM, 0);
        int ok = s >= 0 && connect(s, (struct sockaddr *)&addr, sizeof addr) == 0;
        printf("CANARY connect: %s\n", ok ? "done" : "refused");
        if (s >= 0) close(s);
    }
}

int canary_function(void) { return 1; }
"""


@pytest.fixture
def canary_bundle(tmp_path: Path) -> Path:
    gcc = require_tool("gcc", "apt-get install gcc")
    src = tmp_path / "src"
    src.mkdir()
    (src / "canary.c").write_text(CANARY_C)
    proc = subprocess.run([gcc, "-shared", "-fPIC", "-o", str(src / "libcanary.so"), str(src / "canary.c"),
                           "-Wl,-soname,libcanary.so", "-Wl,--disable-new-dtags", "-Wl,-rpath,$ORIGIN"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    (src / "canary.c").unlink()
    out = tmp_path / "bundle"
    result = run("extract", str(src), "-o", str(out), "--root", "libcanary.so", "--manifest", "npu-linux")
    assert result.exit_code == 0, result.stderr
    return out


@pytest.fixture
def outside() -> Iterator[Path]:
    """A folder of the test outside /tmp (the sandbox has a /tmp of its own, which would hide
    a write there for another reason than the read-only filesystem)."""
    folder = Path(tempfile.mkdtemp(prefix="npuslim-canary-", dir="/var/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.setblocking(False)
    yield server
    server.close()


def _connected(server: socket.socket) -> bool:
    try:
        conn, _ = server.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


def _load(bundle: Path, outside: Path, server: socket.socket, *args: str):
    env = {"CANARY_DIR": str(outside), "CANARY_BUNDLE": str(bundle / "lib"),
           "CANARY_PORT": str(server.getsockname()[1])}
    return run("verify", str(bundle), "--load", "--format", "json", *args, env=env)


def _hide_bwrap(monkeypatch: pytest.MonkeyPatch) -> None:
    which = shutil.which
    monkeypatch.setattr(sandbox_mod.shutil, "which", lambda name, *a, **k: None if name == "bwrap" else which(name))


def test_the_sandboxed_probe_cannot_write_outside_its_work_folder_or_connect(canary_bundle, outside,
                                                                               listener) -> None:
    require_tool("bwrap", "apt-get install bubblewrap")
    result = _load(canary_bundle, outside, listener)
    assert result.exit_code == 0, result.stdout + result.stderr
    load = json.loads(result.stdout)["load"]
    assert load["ok"] and load["verdict"].startswith("all 1 libraries load through ld.so")
    assert load["sandboxed"] is True and load["sandbox"].startswith("bubblewrap: read-only filesystem, no network")
    assert list(outside.iterdir()) == []
    assert not (canary_bundle / "lib" / "escaped-by-the-bundle").exists()
    assert not _connected(listener)
    assert "warning" not in result.stderr


def test_without_bwrap_the_canary_escapes_and_the_verdict_says_so(canary_bundle, outside, listener,
                                                                   monkeypatch) -> None:
    """The canary really does what the sandbox stops: unconfined, its file and connection arrive."""
    _hide_bwrap(monkeypatch)
    result = _load(canary_bundle, outside, listener)
    assert result.exit_code == 0, result.stdout + result.stderr
    load = json.loads(result.stdout)["load"]
    assert load["sandboxed"] is False
    assert load["sandbox"] == "not sandboxed: bubblewrap not found; the bundle's code ran with your user's rights"
    assert (outside / "escaped-by-the-bundle").is_file()
    assert _connected(listener)
    assert result.stderr.strip() == ("npuslim: warning: verify --load: not sandboxed: bubblewrap not found; the "
                                     "bundle's code ran with your user's rights")
    text = run("verify", str(canary_bundle), "--load")
    assert "sandbox: not sandboxed: bubblewrap not found; the bundle's code ran with your user's rights" in \
        " ".join(text.stdout.split())


def test_require_sandbox_refuses_to_run_the_bundle_without_bwrap(canary_bundle, outside, listener,
                                                                  monkeypatch) -> None:
    _hide_bwrap(monkeypatch)
    result = _load(canary_bundle, outside, listener, "--sandbox", "require")
    assert result.exit_code == 6
    assert "--sandbox require: bubblewrap not found" in one_error_line(result)
    assert list(outside.iterdir()) == [] and not _connected(listener)


@pytest.mark.wine
@pytest.mark.wheels
def test_the_windows_bundle_reaches_the_npu_plugin_under_wine_in_the_sandbox(ov2026, tmp_path) -> None:
    require_tool("bwrap", "apt-get install bubblewrap")
    require_tool("x86_64-w64-mingw32-gcc", "apt-get install gcc-mingw-w64-x86-64-win32")
    out = tmp_path / "npu-bundle"  # under /tmp: bound back into the sandbox's own /tmp
    assert run("extract", str(ov2026.root), "-o", str(out)).exit_code == 0
    result = run("verify", str(out), "--load", "--format", "json", "--sandbox", "require")
    assert result.exit_code == 0, result.stdout + result.stderr
    load = json.loads(result.stdout)["load"]
    assert load["runner"] == "wine" and load["sandboxed"] is True
    steps = {s["name"]: s for s in load["steps"]}
    assert steps["plugin"]["ok"], steps["plugin"]
    assert "found no NPU device" in load["verdict"]
