"""The purity check of ``tests/unit``: a unit test that reaches outside the process fails.

``tests/unit/conftest.py`` imports these hooks, so they apply to the tests
under ``tests/unit`` only. A unit test fails (or errors, when it happens while
fixtures are set up) when it, or npuslim code it calls:

- starts a process: ``subprocess`` (any ``Popen``), ``os.system``,
  ``os.exec*``, ``os.spawn*``, ``os.posix_spawn*``, ``os.fork``/``forkpty``,
  ``_posixsubprocess.fork_exec`` (multiprocessing);
- opens a network connection or looks a host name up (``socket``);
- asks for a fixture that brings a downloaded wheel or an external tool
  (``INTEGRATION_FIXTURES``), or carries one of the integration markers
  (``mingw``, ``wheels``, ``upx``, ``wine``).

The blocked call raises ``ImpureUnitTest``, and every attempt is also
recorded: a test whose code under test swallows that error still fails.
Such a test belongs in ``tests/integration``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest

_posixsubprocess = importlib.util.find_spec("_posixsubprocess") and importlib.import_module("_posixsubprocess")

# Fixtures of tests/conftest.py that download wheels or tools (or unpack them).
INTEGRATION_FIXTURES = frozenset({
    "ov2026", "ov2024", "ov2024_0", "ov2026_1", "ov2025_4_1", "ov_install", "ort_1_24_1",
    "ovlinux2026", "ovlinux2025", "ovlinux", "upx394", "msvc_runtime_dir",
})
INTEGRATION_MARKERS = frozenset({"mingw", "wheels", "upx", "wine"})

_OS_PROCESS_CALLS = (
    "system", "fork", "forkpty", "posix_spawn", "posix_spawnp",
    "execl", "execle", "execlp", "execlpe", "execv", "execve", "execvp", "execvpe",
    "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve", "spawnvp", "spawnvpe",
)

_ATTEMPTS = pytest.StashKey[dict[str, list[str]]]()


class ImpureUnitTest(Exception):
    """A unit test tried to start a process or reach the network."""


def _blocker(what: str, attempts: list[str]) -> Callable[..., Any]:
    def blocked(*args: Any, **kwargs: Any) -> Any:
        shown = next((repr(a) for a in args if not isinstance(a, subprocess.Popen)), "")
        attempts.append(f"{what}({shown[:200]})")
        raise ImpureUnitTest(f"a unit test called {what}({shown[:200]}): unit tests start no process and use "
                             "no network; move this test to tests/integration")
    return blocked


@contextlib.contextmanager
def _sealed(attempts: list[str]) -> Iterator[None]:
    """Process creation and network access raise ``ImpureUnitTest`` (and are recorded) inside."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(subprocess.Popen, "_execute_child", _blocker("subprocess.Popen", attempts))
        if _posixsubprocess:  # POSIX only
            mp.setattr(_posixsubprocess, "fork_exec", _blocker("_posixsubprocess.fork_exec", attempts))
        for name in _OS_PROCESS_CALLS:
            if hasattr(os, name):
                mp.setattr(os, name, _blocker(f"os.{name}", attempts))
        mp.setattr(socket.socket, "connect", _blocker("socket.connect", attempts))
        mp.setattr(socket.socket, "connect_ex", _blocker("socket.connect_ex", attempts))
        mp.setattr(socket, "getaddrinfo", _blocker("socket.getaddrinfo", attempts))
        yield


def _attempts(item: pytest.Item, when: str) -> list[str]:
    return item.stash.setdefault(_ATTEMPTS, {}).setdefault(when, [])


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Refuse, before any fixture runs, a unit test that asks for a wheel or a tool.

    A plain hook (run inside the other plugins' wrappers, as skip marks are), so that
    the refused test is torn down like any other.
    """
    wanted = sorted(INTEGRATION_FIXTURES.intersection(getattr(item, "fixturenames", ())))
    if wanted:
        pytest.fail(f"a unit test uses the fixture {', '.join(wanted)} (a downloaded wheel or tool); "
                    "move it to tests/integration", pytrace=False)
    marks = sorted({m.name for m in item.iter_markers()} & INTEGRATION_MARKERS)
    if marks:
        pytest.fail(f"a unit test is marked {', '.join(marks)}; move it to tests/integration", pytrace=False)


@pytest.hookimpl(wrapper=True, specname="pytest_runtest_setup")
def pytest_runtest_setup_sealed(item: pytest.Item) -> Generator[None, None, None]:
    """Fixtures set up for a unit test start no process either."""
    with _sealed(_attempts(item, "setup")):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    with _sealed(_attempts(item, "call")):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    with _sealed(_attempts(item, "teardown")):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None],
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A phase that tried to leave the process fails, even when the code under test hid the error."""
    report = yield
    attempts = _attempts(item, call.when)
    if attempts and not report.failed:
        report.outcome = "failed"
        report.longrepr = ("a unit test tried to leave the process (the code under test swallowed the error): "
                           f"{'; '.join(attempts)}; move it to tests/integration")
    return report
