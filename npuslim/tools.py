"""Running external tools: one runner for every tool npuslim starts (pip, strip, gcc and
mingw-w64, Wine and the load probes), keeping the command and its output together.

Every run is in its own process group with standard input closed and its output
(stdout and stderr together) going to a temporary file, not a pipe: a tool's
background children (Wine's wineserver) that keep a pipe open cannot make
npuslim wait for them. On a timeout, or when npuslim itself is interrupted
(Ctrl-C), the whole group is killed before anything else happens; the main thread waits
for a tool in ``npuslim.waiting``'s way, so that Ctrl-C always reaches it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass

from npuslim.errors import ToolError
from npuslim.waiting import join, wait_process

# A tool that has not answered in this time is hung (a compiler, strip, pip on a slow index);
# callers that know better (the load probes, UPX, downloads) pass their own.
DEFAULT_TIMEOUT = 900.0
# Output kept from one run: enough for any message a tool prints, bounded for one that loops.
MAX_OUTPUT_BYTES = 16 << 20


@dataclass(frozen=True)
class ToolRun:
    """A finished external command: its arguments, exit status and output (stdout+stderr).

    ``timed_out``: it did not finish within its timeout and was killed (its ``returncode`` is
    then the kill's); only ``run_process`` returns such a run, ``run_tool`` raises instead."""

    args: tuple[str, ...]
    returncode: int
    output: str
    timed_out: bool = False


def cannot_start(args: list[str], exc: OSError) -> ToolError:
    """The one line for a tool that could not be started: not found, not executable, or why not."""
    if isinstance(exc, FileNotFoundError):
        return ToolError(f"{args[0]}: not found")
    if isinstance(exc, PermissionError):
        return ToolError(f"{args[0]}: not executable")
    return ToolError(f"{args[0]}: cannot run ({exc.strerror or exc})")


def new_group() -> dict[str, object]:
    """``Popen`` arguments that start a process in a group of its own (killed as one)."""
    if os.name == "posix":
        return {"start_new_session": True}
    return {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}


class RunningProcess:
    """A command started by ``start_process``, in its own process group, its output going to a
    temporary file; ``wait`` for its ``ToolRun``. Its timeout counts from the start: a timer kills
    the group then, whether or not anyone waits yet. Leaving the ``with`` block kills the group
    of a command not waited for (an exception, Ctrl-C) and closes the output file."""

    def __init__(self, args: list[str], *, timeout: float | None, env: dict[str, str] | None = None,
                 cwd: str | None = None) -> None:
        self.args = tuple(args)
        self._out = tempfile.TemporaryFile()  # noqa: SIM115 - closed by __exit__, after the command ends
        try:
            self._proc = subprocess.Popen(args, stdout=self._out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          env=env, cwd=cwd, **new_group())  # type: ignore[call-overload]
        except OSError as exc:
            self._out.close()
            raise cannot_start(args, exc) from exc
        self._expired = threading.Event()
        self._timer = threading.Timer(timeout, self._expire) if timeout is not None else None
        if self._timer is not None:
            self._timer.daemon = True
            self._timer.start()

    def _expire(self) -> None:
        if self._proc.returncode is not None:  # reaped just before the timer could be cancelled
            return
        self._expired.set()
        kill_group(self._proc)

    def wait(self) -> ToolRun:
        """Block until the command ends (or its timeout kills it; ``timed_out`` then). A blocking
        wait, not a poll: the caller learns of the end at once. Ctrl-C (or any exception) while
        waiting kills the group, then propagates."""
        try:
            wait_process(self._proc)
        except BaseException:
            self.kill()
            raise
        finally:
            if self._timer is not None:
                self._timer.cancel()
        self._out.seek(0)
        text = self._out.read(MAX_OUTPUT_BYTES).decode("utf-8", "replace")
        return ToolRun(self.args, self._proc.returncode, text, self._expired.is_set())

    def kill(self) -> None:
        """Kill the command's process group and reap the command."""
        kill_group(self._proc)
        self._proc.wait()

    def __enter__(self) -> RunningProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._proc.returncode is None:
            self.kill()
        self._out.close()


def start_process(args: list[str], *, timeout: float | None, env: dict[str, str] | None = None,
                  cwd: str | None = None) -> RunningProcess:
    """Start ``args`` and return at once (see ``RunningProcess``); a tool that cannot be
    started is a ``ToolError``."""
    return RunningProcess(args, timeout=timeout, env=env, cwd=cwd)


def run_process(args: list[str], *, timeout: float | None, env: dict[str, str] | None = None,
                cwd: str | None = None) -> ToolRun:
    """Run ``args`` to its end or its timeout (then killed, with ``timed_out`` set).

    A tool that cannot be started is a ``ToolError``. Ctrl-C (or any exception) while it runs
    kills its whole process group, then propagates."""
    with start_process(args, timeout=timeout, env=env, cwd=cwd) as running:
        return running.wait()


def run_tool(args: list[str], *, timeout: float = DEFAULT_TIMEOUT, env: dict[str, str] | None = None,
             cwd: str | None = None) -> ToolRun:
    """Run ``args``; a tool that cannot be started, or that gives no answer within ``timeout``
    seconds (killed then), is a ``ToolError``; a non-zero exit is not."""
    run = run_process(args, timeout=timeout, env=env, cwd=cwd)
    if run.timed_out:
        raise ToolError(f"{' '.join(args)}: no answer after {timeout:.0f} s")
    return run


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill ``proc`` and, on POSIX, its whole process group (started with ``new_group()``):
    Wine and UPX leave children that a plain kill would orphan. A process already gone is fine."""
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except OSError:
        pass


def stream_tool(args: list[str], *, on_line: Callable[[str], None], timeout: float,
                env: dict[str, str] | None = None) -> ToolRun:
    """``run_tool``, with each line of output handed to ``on_line`` as the tool prints it (a pipe:
    for tools that leave no background process behind, such as pip), and the tool's process group
    killed after ``timeout`` seconds (a ``ToolError`` then) or when npuslim is interrupted."""
    try:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, **new_group())  # type: ignore[call-overload]
    except OSError as exc:
        raise cannot_start(args, exc) from exc
    fired = threading.Event()

    def expire() -> None:
        fired.set()
        kill_group(proc)

    timer = threading.Timer(timeout, expire)
    timer.start()
    lines: list[str] = []
    failed: list[BaseException] = []

    def read() -> None:  # on a thread of its own: the caller's thread waits for it (``waiting.join``)
        assert proc.stdout is not None
        try:
            with proc.stdout:
                for raw in proc.stdout:
                    line = raw.decode("utf-8", "replace")
                    if sum(map(len, lines)) < MAX_OUTPUT_BYTES:
                        lines.append(line)
                    on_line(line.rstrip("\r\n"))
        except BaseException as exc:  # raised again in the caller's thread
            failed.append(exc)

    try:
        reader = threading.Thread(target=read, name="npuslim-tool-output", daemon=True)
        reader.start()
        join(reader)
        if failed:
            raise failed[0]
        wait_process(proc)
    except BaseException:
        kill_group(proc)
        proc.wait()
        raise
    finally:
        timer.cancel()
    if fired.is_set():
        raise ToolError(f"{' '.join(args)}: no answer after {timeout:.0f} s")
    return ToolRun(tuple(args), proc.returncode, "".join(lines))
