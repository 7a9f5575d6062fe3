"""Running external tools: one wrapper that keeps the command and its output together."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass

from npuslim.errors import ToolError


@dataclass(frozen=True)
class ToolRun:
    """A finished external command: its arguments, exit status and output (stdout+stderr)."""

    args: tuple[str, ...]
    returncode: int
    output: str


def cannot_start(args: list[str], exc: OSError) -> ToolError:
    """The one line for a tool that could not be started: not found, not executable, or why not."""
    if isinstance(exc, FileNotFoundError):
        return ToolError(f"{args[0]}: not found")
    if isinstance(exc, PermissionError):
        return ToolError(f"{args[0]}: not executable")
    return ToolError(f"{args[0]}: cannot run ({exc.strerror or exc})")


def run_tool(args: list[str], *, timeout: float | None = None, env: dict[str, str] | None = None) -> ToolRun:
    """Run ``args``; a tool that cannot be started is a ``ToolError``, a non-zero exit is not."""
    try:
        proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                              timeout=timeout, env=env, check=False)
    except OSError as exc:
        raise cannot_start(args, exc) from exc
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"{' '.join(args)}: no answer after {timeout:.0f} s") from exc
    return ToolRun(tuple(args), proc.returncode, proc.stdout.decode("utf-8", "replace"))


def kill_group(proc: subprocess.Popen) -> None:
    """Kill ``proc`` and, on POSIX, its whole process group (started with ``start_new_session``):
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
    """``run_tool``, with each line of output handed to ``on_line`` as the tool prints it, and the
    tool (and its process group) killed after ``timeout`` seconds: a ``ToolError`` then."""
    try:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
    except OSError as exc:
        raise cannot_start(args, exc) from exc
    fired = threading.Event()

    def expire() -> None:
        fired.set()
        kill_group(proc)

    timer = threading.Timer(timeout, expire)
    timer.start()
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        with proc.stdout:
            for raw in proc.stdout:
                line = raw.decode("utf-8", "replace")
                lines.append(line)
                on_line(line.rstrip("\r\n"))
        proc.wait()
    except BaseException:
        kill_group(proc)
        proc.wait()
        raise
    finally:
        timer.cancel()
    if fired.is_set():
        raise ToolError(f"{' '.join(args)}: no answer after {timeout:.0f} s")
    return ToolRun(tuple(args), proc.returncode, "".join(lines))
