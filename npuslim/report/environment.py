"""What ``npuslim --version`` reports: npuslim, the Python running it, the platform, the
versions of the libraries it uses and the external tools it would find.

Nothing heavy is imported: library versions come from the installed distributions'
metadata (``importlib.metadata``), not from importing them (lief alone takes a
quarter of a second). A tool is looked up where npuslim's commands look for it and
asked ``--version`` with a short timeout; one that is absent, cannot start or does
not answer is reported as such, never an error. The lookups are parameters, so the
tests give their own.
"""

from __future__ import annotations

import functools
import os
import platform
import shutil
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass

from npuslim import __version__
from npuslim.errors import ToolError
from npuslim.tools import ToolRun, run_tool
from npuslim.waiting import join

# the libraries whose versions change what npuslim does or prints
LIBRARIES = ("typer", "rich", "pefile", "lief")
# a tool that does not say its version in this time is reported as not answering
VERSION_TIMEOUT = 5.0
NOT_FOUND = "not found"


@dataclass(frozen=True)
class ToolStatus:
    """One external tool: where it was found (``None``: nowhere) and the first line of its ``--version``."""

    title: str
    path: str | None
    version: str | None = None


@dataclass(frozen=True)
class Environment:
    npuslim: str
    python: str                        # version and implementation
    executable: str
    platform: str
    libraries: tuple[tuple[str, str | None], ...]  # (distribution, version; None: not installed)
    tools: tuple[ToolStatus, ...]


Which = Callable[[str], str | None]
Run = Callable[..., ToolRun]
Version = Callable[[str], str]


def _tool_candidates(env: dict[str, str] | os._Environ[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(title, names or paths to try in order), as the commands look: UPX as ``pack --upx``
    (``NPUSLIM_UPX``, then PATH), Wine as ``verify --load``, mingw-w64 as the load probe's build."""
    from npuslim.act.upx import ENV_VAR, NAMES

    upx = (env[ENV_VAR],) if env.get(ENV_VAR) else NAMES
    return (("UPX", upx), ("Wine", ("wine64", "/usr/lib/wine/wine64", "wine")),
            ("mingw-w64", ("x86_64-w64-mingw32-gcc",)))


def _first_line(text: str) -> str | None:
    return next((line.strip() for line in text.splitlines() if line.strip()), None)


def probe_tool(title: str, candidates: tuple[str, ...], *, which: Which, run: Run) -> ToolStatus:
    """The first of ``candidates`` that exists, with the first line ``--version`` prints."""
    for candidate in candidates:
        path = which(candidate)  # shutil.which takes a path too: executable there, or None
        if path is None:
            continue
        try:
            answer = run([path, "--version"], timeout=VERSION_TIMEOUT)
        except ToolError as exc:
            return ToolStatus(title, path, str(exc))
        line = _first_line(answer.output)
        if answer.returncode != 0:
            return ToolStatus(title, path, f"--version failed with exit code {answer.returncode}")
        return ToolStatus(title, path, line or "no version printed")
    return ToolStatus(title, None)


def _platform() -> str:
    """``Linux 6.1.0 x86_64 glibc 2.36``, ``Windows 10 10.0.22631 AMD64``: without ``platform.platform()``,
    which starts ``uname -p``."""
    words = [platform.system(), platform.release()]
    if sys.platform == "win32":
        words.append(platform.version())
    words.append(platform.machine())
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION")  # "glibc 2.36"; absent on Windows, musl and macOS
    except (AttributeError, ValueError, OSError):
        libc = None
    return " ".join(w for w in [*words, libc] if w)


def _library_version(name: str, version: Version) -> str | None:
    try:
        return version(name)
    except LookupError:
        return None


def installed_version(name: str) -> str:
    """The version of the installed distribution ``name``: the name of its ``NAME-VERSION.dist-info``
    folder on ``sys.path`` (``importlib.metadata`` costs 30 ms to import, a third of ``--version``),
    else what ``importlib.metadata`` finds. ``LookupError`` when it is not installed."""
    wanted = name.lower().replace("-", "_")
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for folder in names:
            stem, _, version = folder.removesuffix(".dist-info").partition("-")
            if folder.endswith(".dist-info") and stem.lower().replace("-", "_") == wanted and version:
                return version
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError as exc:
        raise LookupError(name) from exc


def describe_environment(*, which: Which = shutil.which, run: Run = run_tool,
                         version: Version = installed_version,
                         env: dict[str, str] | None = None) -> Environment:
    """npuslim's version, this Python, the platform, ``LIBRARIES`` and the tools found."""
    candidates = _tool_candidates(os.environ if env is None else env)
    tools = _each_on_a_thread([functools.partial(probe_tool, title, names, which=which, run=run)
                               for title, names in candidates])
    return Environment(
        npuslim=__version__,
        python=f"{platform.python_version()} ({platform.python_implementation()})",
        executable=sys.executable or "(unknown)",
        platform=_platform(),
        libraries=tuple((name, _library_version(name, version)) for name in LIBRARIES),
        tools=tools,
    )


def _each_on_a_thread(calls: list[Callable[[], ToolStatus]]) -> tuple[ToolStatus, ...]:
    """The results of ``calls``, each run on a thread of its own (Wine alone takes a second to answer);
    an exception raised in one is raised here. Plain threads: ``concurrent.futures`` imports
    ``logging``, a seventh of ``--version``."""
    results: list[ToolStatus | BaseException | None] = [None] * len(calls)

    def one(i: int) -> None:
        try:
            results[i] = calls[i]()
        except BaseException as exc:  # raised again below, in the caller's thread
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        join(thread)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return tuple(r for r in results if isinstance(r, ToolStatus))


def environment_lines(environment: Environment) -> list[str]:
    """The report as plain lines; the first is ``npuslim VERSION``, as before there was more."""
    rows: list[tuple[str, str]] = [
        ("Python", f"{environment.python} {environment.executable}"),
        ("Platform", environment.platform),
    ]
    rows += [(name, found or NOT_FOUND) for name, found in environment.libraries]
    rows += [(t.title, f"{t.path} ({t.version})" if t.path else NOT_FOUND) for t in environment.tools]
    width = max(len(key) for key, _ in rows) + 1
    return [f"npuslim {environment.npuslim}", *(f"{key + ':':<{width}} {value}" for key, value in rows)]
