"""npuslim at a person's terminal: every command in a real pseudo-terminal, as it is run by hand.

The rest of the suite runs npuslim through pipes, where rich draws nothing live;
with rich 15 ``extract`` and ``pack`` once hung forever on every real terminal
and no test saw it. Here each command runs on the slave side of a pty (``deps``
and ``extract`` at 80 and 120 columns, ``extract`` cold then warm; ``verify``,
``verify --load`` and ``pack`` at 80), its output is fed to a terminal emulator (pyte), and the test
reads the final screen a person would read. Ctrl-C is typed at the terminal
(the line discipline sends SIGINT to the foreground process group), as a person
does. ``.ci/run`` also runs this file under the lowest rich npuslim declares and
a rich 14, so every supported rich is proven at a terminal.

The longest silence of each run is printed (``-s`` shows it; the figures are in
the issue notes); tests check behaviour, not speed.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import TEST_CACHE
from tests.support.terminal import TerminalRun, run_in_terminal
from tests.support.tools import require_tool, unavailable

NPUSLIM = [sys.executable, "-m", "npuslim"]


def _env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["NPUSLIM_CACHE_DIR"] = str(cache)
    env.pop("COLUMNS", None)
    return env


def _wheel() -> Path:
    from npuslim.errors import NpuslimError
    from npuslim.source.locate import fetch_wheel

    os.environ["NPUSLIM_CACHE_DIR"] = str(TEST_CACHE / "npuslim")
    try:
        return fetch_wheel("openvino==2026.4.1")
    except NpuslimError as exc:
        unavailable(f"cannot download the OpenVINO 2026.4.1 Windows wheel: {exc}")
        raise


@pytest.fixture(scope="module")
def wheel() -> Path:
    return _wheel()


@pytest.fixture(scope="module")
def bundle(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default 2026.4.1 bundle, made through a pipe (the tests here make their own at a terminal)."""
    out = tmp_path_factory.mktemp("bundle") / "npu"
    run = subprocess.run([*NPUSLIM, "extract", str(wheel), "-o", str(out)], capture_output=True, text=True,
                         env=_env(TEST_CACHE / "npuslim"))
    assert run.returncode == 0, run.stderr
    return out


def _shown(run: TerminalRun, columns: int) -> None:
    """What every final screen must be: finished, nothing cut, no traceback, nothing past the width."""
    print(f"\n--- {columns} columns, exit {run.exit_code}, longest silence {run.longest_silence:.2f} s, "
          f"{run.ended_at:.1f} s ---\n{run.text}")
    assert not run.hung, f"still running when the test gave up; screen:\n{run.text}"
    assert "Traceback" not in run.text
    assert "…" not in run.text, "a line was cut"
    assert all(len(line) <= columns for line in run.screen)
    # a live region that ends leaves no blank line (rich 13.0 did, when it stopped empty)
    assert not run.screen or run.screen[0].strip(), f"a blank first line:\n{run.text}"
    steps = [i for i, line in enumerate(run.screen) if line.startswith(("✓ ", "✗ "))]
    for a, b in itertools.pairwise(steps):
        assert all(run.screen[i].strip() for i in range(a, b)), f"a blank line between the steps:\n{run.text}"


@pytest.mark.parametrize("columns", [80, 120])
def test_deps_at_a_terminal(wheel: Path, tmp_path: Path, columns: int) -> None:
    """Cold cache: the wheel is unpacked, then the tree is shown."""
    run = run_in_terminal([*NPUSLIM, "deps", str(wheel)], columns=columns, env=_env(tmp_path / "cache"))
    _shown(run, columns)
    assert run.exit_code == 0
    assert "openvino_intel_npu_plugin.dll" in run.text and "tbb12.dll" in run.text


@pytest.mark.parametrize("columns", [80, 120])
def test_extract_at_a_terminal_cold_then_warm(wheel: Path, tmp_path: Path, columns: int) -> None:
    env = _env(tmp_path / "cache")
    for attempt in ("cold", "warm"):
        out = tmp_path / attempt
        run = run_in_terminal([*NPUSLIM, "extract", str(wheel), "-o", str(out)], columns=columns, env=env)
        _shown(run, columns)
        assert run.exit_code == 0, attempt
        assert re.search(r"^✓ copy: \d+ files$", run.text, re.M)  # the finished step stays on the screen, whole
        assert "total" in run.text and "The target machine must provide" in run.text
        assert (out / "npuslim-bundle.json").is_file()


def test_verify_and_verify_load_at_a_terminal_cold(bundle: Path, tmp_path: Path) -> None:
    """An empty cache: the probe is built and Wine's prefix set up, each a live step of its own."""
    require_tool("x86_64-w64-mingw32-gcc", "apt-get install gcc-mingw-w64-x86-64-win32")
    if shutil.which("wine64") is None and shutil.which("wine") is None and not os.path.isfile("/usr/lib/wine/wine64"):
        unavailable("Wine not found (apt-get install wine wine64)")
    env = _env(tmp_path / "cache")
    run = run_in_terminal([*NPUSLIM, "verify", str(bundle)], columns=80, env=env)
    _shown(run, 80)
    assert run.exit_code == 0 and "OK " in run.text and re.search(r"\d+ files checked", run.text)
    run = run_in_terminal([*NPUSLIM, "verify", "--load", str(bundle)], columns=80, env=env)
    _shown(run, 80)
    assert run.exit_code == 0
    assert "✓ build ov_probe.exe" in run.text and "✓ wine: Wine prefix ready" in run.text
    assert "✓ load openvino_c.dll through the Windows loader" in run.text
    marks = [line.split()[0] for line in run.screen if line.startswith("  ") and line.split()]
    assert "fail" not in marks and marks.count("--") == 2, "a step that cannot run here is 'not checked', never 'fail'"
    flat = " ".join(run.text.split())  # the screen wraps long lines
    assert "not checked (no NPU device on this machine)" in flat
    assert "OK the bundle loads; the NPU plugin ran" in flat


def test_pack_strip_upx_zip_at_a_terminal(bundle: Path, tmp_path: Path) -> None:
    require_tool("upx", "apt-get install upx-ucl (UPX 4)")
    out = tmp_path / "packed"
    argv = [*NPUSLIM, "pack", str(bundle), "-o", str(out), "--strip", "--upx", "--upx-force-cfg",
            "--archive", "zip", "--jobs", "2"]
    run = run_in_terminal(argv, columns=80, env=_env(tmp_path / "cache"))
    _shown(run, 80)
    assert run.exit_code == 0
    for dll in ("openvino.dll", "tbb12.dll", "openvino_intel_npu_plugin.dll", "openvino_c.dll"):
        assert f"✓ upx bin/{dll}" in run.text and f"✓ strip bin/{dll}" in run.text
    assert "✓ archive" in run.text
    assert (out / "npuslim-bundle.json").is_file()


def _processes_mentioning(path: Path) -> list[str]:
    """Command lines of live processes that name ``path`` (as is, or as Wine's ``Z:\\...`` form):
    this test's own children, never another test's (other runs may share the machine)."""
    forms = {str(path), "Z:" + str(path).replace("/", "\\")}
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if any(form in cmdline for form in forms):
            found.append(cmdline)
    return found


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_ctrl_c_stops_a_cold_extract(wheel: Path, tmp_path: Path) -> None:
    out = tmp_path / "work" / "npu"
    out.parent.mkdir()
    run = run_in_terminal([*NPUSLIM, "extract", str(wheel), "-o", str(out)], columns=80,
                          env=_env(tmp_path / "cache"), interrupt_after=1.0)
    print(f"\nCtrl-C at {run.interrupted_at:.1f} s, exit after {run.after_interrupt():.2f} s\n{run.text}")
    assert not run.hung and run.exit_code == 130
    assert run.screen[-1].endswith("npuslim: error: interrupted")  # after the terminal's own ^C echo
    assert not out.exists() and _leftovers(out.parent) == []


def _cold_upx_pack(bundle: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    """OUT (in a folder of its own, to look for leftovers in) and the command line of a pack whose UPX
    runs for minutes (``--upx-level best`` on ``openvino.dll``)."""
    require_tool("upx", "apt-get install upx-ucl (UPX 4)")
    out = tmp_path / "work" / "packed"
    out.parent.mkdir()
    return out, [*NPUSLIM, "pack", str(bundle), "-o", str(out), "--strip", "--upx", "--upx-force-cfg",
                 "--upx-level", "best", "--archive", "zip"]


def test_ctrl_c_stops_a_cold_pack_and_its_upx(bundle: Path, tmp_path: Path) -> None:
    out, argv = _cold_upx_pack(bundle, tmp_path)
    # Ctrl-C once a UPX step shows, or 30 s in (UPX --best on openvino.dll runs for minutes): a run whose
    # live line was never seen is still interrupted inside UPX, and says so, instead of waiting 15 minutes
    run = run_in_terminal(argv, columns=80, env=_env(tmp_path / "cache"), interrupt_on=b"upx bin/",
                          interrupt_after=30, give_up=300)
    print(f"\nCtrl-C at {run.interrupted_at}, exit after {run.after_interrupt()}, "
          f"UPX step seen: {b'upx bin/' in run.raw}\n{run.text}")
    assert run.interrupted_at is not None
    assert not run.hung and run.exit_code == 130
    assert not out.exists() and _leftovers(out.parent) == []
    assert _processes_mentioning(out.parent) == [], "a UPX process outlived npuslim"


def test_a_second_ctrl_c_does_not_cut_the_clean_up_short(bundle: Path, tmp_path: Path) -> None:
    """Typed twice, 10 ms apart, as an impatient person does: the second Ctrl-C is ignored while
    npuslim kills UPX and removes its staging folder (it used to leave both, or print a traceback)."""
    out, argv = _cold_upx_pack(bundle, tmp_path)
    run = run_in_terminal(argv, columns=80, env=_env(tmp_path / "cache"), interrupt_on=b"upx bin/",
                          interrupt_after=30, again_after=0.01, give_up=300)
    print(f"\nCtrl-C at {run.interrupted_at}, exit after {run.after_interrupt()}\n{run.text}")
    assert run.interrupted_at is not None and not run.hung and run.exit_code == 130
    assert b"Traceback" not in run.raw and b"Exception ignored" not in run.raw
    assert run.screen[-1].endswith("npuslim: error: interrupted")
    assert not out.exists() and _leftovers(out.parent) == []
    assert _processes_mentioning(out.parent) == [], "a UPX process outlived npuslim"


def test_sigterm_stops_a_pack_as_ctrl_c_does_and_exits_143(bundle: Path, tmp_path: Path) -> None:
    """``kill PID`` (a CI job cancelled): UPX is killed, the staging folder removed, exit 143. It used
    to end npuslim where it stood, with UPX running on in a session of its own."""
    out, argv = _cold_upx_pack(bundle, tmp_path)
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=_env(tmp_path / "cache"))
    try:
        while proc.poll() is None and not [c for c in _processes_mentioning(out.parent)
                                           if Path(c.split(" ")[0]).name.startswith("upx")]:
            time.sleep(0.05)
        assert proc.poll() is None, "pack ended before UPX ran"
        proc.terminate()
        said = proc.communicate()[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143, said
    assert said.strip().splitlines()[-1] == "npuslim: error: terminated"
    assert not out.exists() and _leftovers(out.parent) == []
    assert _processes_mentioning(out.parent) == [], "a UPX process outlived npuslim"


def test_ctrl_c_stops_verify_load_and_its_probe(bundle: Path, tmp_path: Path) -> None:
    require_tool("x86_64-w64-mingw32-gcc", "apt-get install gcc-mingw-w64-x86-64-win32")
    env = _env(TEST_CACHE / "npuslim")
    run = run_in_terminal([*NPUSLIM, "verify", "--load", str(bundle)], columns=80, env=env,
                          interrupt_on=b"through the Windows loader")
    print(f"\nCtrl-C at {run.interrupted_at}, exit after {run.after_interrupt()}\n{run.text}")
    assert run.interrupted_at is not None and not run.hung and run.exit_code == 130
    assert _processes_mentioning(bundle) == [], "the probe (or Wine running it) outlived npuslim"
