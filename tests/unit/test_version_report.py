"""``npuslim --version`` / ``-V``: npuslim, Python, the platform, the libraries and the tools found.

The lookups are replaced here (no process starts in a unit test); the real run is in
tests/integration/test_cli_deps.py.
"""

from __future__ import annotations

import pytest

from npuslim import __version__
from npuslim.errors import ToolError
from npuslim.report import environment
from npuslim.report.environment import (
    NOT_FOUND,
    Environment,
    ToolStatus,
    describe_environment,
    environment_lines,
    probe_tool,
)
from npuslim.tools import ToolRun
from tests.cli_helpers import run

VERSIONS = {"typer": "0.28.0", "rich": "15.0.0", "pefile": "2024.8.26"}  # lief: not installed


def _version(name: str) -> str:
    if name not in VERSIONS:
        raise LookupError(name)
    return VERSIONS[name]


def _fake_tools(found: dict[str, str], answers: dict[str, ToolRun | Exception]):
    calls: list[tuple[list[str], float]] = []

    def which(name: str) -> str | None:
        return found.get(name)

    def run(args: list[str], *, timeout: float) -> ToolRun:
        calls.append((args, timeout))
        answer = answers[args[0]]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return which, run, calls


def test_it_reports_libraries_from_metadata_and_the_tools_found_with_their_versions() -> None:
    which, run_, calls = _fake_tools(
        {"upx-ucl": "/usr/bin/upx-ucl", "x86_64-w64-mingw32-gcc": "/usr/bin/x86_64-w64-mingw32-gcc"},
        {"/usr/bin/upx-ucl": ToolRun(("upx",), 0, "\nupx 4.2.2\nUCL data compression library 1.03\n"),
         "/usr/bin/x86_64-w64-mingw32-gcc": ToolRun(("gcc",), 0, "x86_64-w64-mingw32-gcc (GCC) 12-win32\n")})
    env = describe_environment(which=which, run=run_, version=_version, env={})
    assert env.npuslim == __version__
    assert dict(env.libraries) == {"typer": "0.28.0", "rich": "15.0.0", "pefile": "2024.8.26", "lief": None}
    tools = {t.title: t for t in env.tools}
    assert tools["UPX"] == ToolStatus("UPX", "/usr/bin/upx-ucl", "upx 4.2.2")  # the first non-empty line
    assert tools["Wine"] == ToolStatus("Wine", None)
    assert tools["mingw-w64"].version == "x86_64-w64-mingw32-gcc (GCC) 12-win32"
    assert sorted(c[0][1] for c in calls) == ["--version", "--version"]
    assert all(timeout <= environment.VERSION_TIMEOUT for _, timeout in calls)

    lines = environment_lines(env)
    assert lines[0] == f"npuslim {__version__}"
    text = "\n".join(lines)
    assert "Python:" in text and env.executable in text and "Platform:" in text
    assert "lief:      not found" in text and "Wine:      not found" in text
    assert "UPX:       /usr/bin/upx-ucl (upx 4.2.2)" in text


def test_npuslim_upx_names_the_upx_as_pack_would_use_it() -> None:
    which, run_, calls = _fake_tools({"/opt/upx/upx": "/opt/upx/upx", "upx": "/usr/bin/upx"},
                                     {"/opt/upx/upx": ToolRun(("upx",), 0, "upx 5.0.0\n")})
    status = probe_tool("UPX", environment._tool_candidates({"NPUSLIM_UPX": "/opt/upx/upx"})[0][1],
                        which=which, run=run_)
    assert status == ToolStatus("UPX", "/opt/upx/upx", "upx 5.0.0") and len(calls) == 1


@pytest.mark.parametrize(("answer", "shown"), [
    (ToolError("/usr/bin/wine64 --version: no answer after 5 s"), "/usr/bin/wine64 --version: no answer after 5 s"),
    (ToolRun(("wine64",), 1, "wine: could not load kernel32.dll\n"), "--version failed with exit code 1"),
    (ToolRun(("wine64",), 0, ""), "no version printed"),
])
def test_a_tool_that_fails_or_hangs_is_reported_not_raised(answer: ToolRun | Exception, shown: str) -> None:
    which, run_, _ = _fake_tools({"wine64": "/usr/bin/wine64"}, {"/usr/bin/wine64": answer})
    assert probe_tool("Wine", ("wine64", "wine"), which=which, run=run_) == ToolStatus("Wine", "/usr/bin/wine64",
                                                                                        shown)


FIXED = Environment(npuslim=__version__, python="3.11.7 (CPython)", executable="/usr/bin/python3",
                    platform="Linux-6.1-x86_64", libraries=(("typer", "0.28.0"), ("lief", "1.0.0")),
                    tools=(ToolStatus("UPX", None), ToolStatus("Wine", "/usr/bin/wine64", "wine-8.0")))


@pytest.mark.parametrize("option", ["--version", "-V"])
def test_the_option_prints_the_report_and_exits(option: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(environment, "describe_environment", lambda: FIXED)
    result = run(option)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"npuslim {__version__}",
        "Python:   3.11.7 (CPython) /usr/bin/python3",
        "Platform: Linux-6.1-x86_64",
        "typer:    0.28.0",
        "lief:     1.0.0",
        f"UPX:      {NOT_FOUND}",
        "Wine:     /usr/bin/wine64 (wine-8.0)",
    ]


def test_the_tools_are_asked_at_once_and_reported_in_order() -> None:
    import threading

    started = threading.Barrier(3, timeout=60)  # each call waits for the other two: they run side by side

    def ask(title: str) -> environment.ToolStatus:
        started.wait()
        return environment.ToolStatus(title, None)

    titles = ("UPX", "Wine", "mingw-w64")
    assert [s.title for s in environment._each_on_a_thread([lambda t=t: ask(t) for t in titles])] == list(titles)


def test_a_lookup_that_fails_unexpectedly_is_raised_not_lost() -> None:
    def broken() -> environment.ToolStatus:
        raise RuntimeError("a bug in a lookup")

    with pytest.raises(RuntimeError, match="a bug in a lookup"):
        environment._each_on_a_thread([lambda: environment.ToolStatus("UPX", None), broken])
