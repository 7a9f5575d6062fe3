"""The purity check of tests/unit can fail: throw-away tests run under the real conftest.

Each throw-away test below does one thing a unit test must not do; run in a
session of their own (in this process, through pytester) with a copy of
``tests/unit/conftest.py``, each must fail or error, with a message that says
why, and the one pure test must pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest

UNIT_CONFTEST = Path(__file__).resolve().parent / "conftest.py"

THROW_AWAY = '''
import os
import socket
import subprocess
import sys

import pytest


@pytest.fixture
def ov2026():
    raise AssertionError("never set up: the check refuses the test before its fixtures")


@pytest.fixture
def built():
    subprocess.run(["true"])


def test_pure(tmp_path):
    (tmp_path / "x").write_text("x")
    assert (tmp_path / "x").read_text() == "x"


def test_subprocess():
    subprocess.run([sys.executable, "-c", "pass"])


def test_os_system():
    os.system("true")


def test_posix_spawn():
    os.posix_spawn("/bin/true", ["true"], dict(os.environ))


def test_swallowed():
    try:
        subprocess.check_output(["true"])
    except Exception:
        pass


def test_network():
    socket.create_connection(("192.0.2.1", 9), timeout=0.5)


def test_process_in_a_fixture(built):
    pass


def test_wheel_fixture(ov2026):
    pass


@pytest.mark.mingw
def test_marked():
    pass

'''

# the module after a refused test starts cleanly
NEXT_MODULE = '''
import pytest


@pytest.fixture(scope="module")
def shared():
    return 1


def test_pure_after(shared):
    assert shared == 1
'''


def _run(pytester: pytest.Pytester) -> dict[str, tuple[str, str, str]]:
    """Run the throw-away tests; test name -> (outcome, phase, message) of its worst report."""
    pytester.makeconftest(UNIT_CONFTEST.read_text())
    pytester.makepyfile(test_throw_away=THROW_AWAY, test_z_next_module=NEXT_MODULE)
    pytester.makeini("[pytest]\nmarkers =\n    mingw: throw-away marker\n")
    reprec = pytester.inline_run("-p", "no:cacheprovider")
    worst: dict[str, tuple[str, str, str]] = {}
    for report in reprec.getreports("pytest_runtest_logreport"):
        name = report.nodeid.rpartition("::")[2]
        if name not in worst or (report.outcome != "passed" and worst[name][0] == "passed"):
            worst[name] = (report.outcome, report.when, str(report.longrepr or ""))
    return worst


def test_a_pure_test_passes_and_each_way_out_fails(pytester: pytest.Pytester) -> None:
    worst = _run(pytester)
    assert worst["test_pure"][0] == worst["test_pure_after"][0] == "passed"
    expected = {
        "test_subprocess": ("call", "subprocess.Popen"),
        "test_os_system": ("call", "os.system"),
        "test_posix_spawn": ("call", "os.posix_spawn"),
        "test_swallowed": ("call", "swallowed"),
        "test_network": ("call", "socket."),
        "test_wheel_fixture": ("setup", "uses the fixture ov2026"),
        "test_marked": ("setup", "is marked mingw"),
        "test_process_in_a_fixture": ("setup", "subprocess.Popen"),
    }
    for name, (phase, words) in expected.items():
        outcome, when, message = worst[name]
        assert (outcome, when) == ("failed", phase), (name, worst[name])
        assert words in message and "tests/integration" in message, (name, message)


def test_the_check_leaves_nothing_patched_behind(pytester: pytest.Pytester) -> None:
    import os
    import socket
    import subprocess

    before = (subprocess.Popen._execute_child, os.system, socket.socket.connect)  # type: ignore[attr-defined]
    _run(pytester)
    assert (subprocess.Popen._execute_child, os.system, socket.socket.connect) == before  # type: ignore[attr-defined]
