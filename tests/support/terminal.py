"""npuslim in a real pseudo-terminal, as a person runs it.

``run_in_terminal`` starts a command on the slave side of a pty of a given size,
reads everything it draws (with the time of each read), optionally sends Ctrl-C
when a text first appears or after some seconds, and returns the exit code, the
longest silence and the final screen as a terminal emulator (pyte) shows it.
Nothing here sets a time limit for a test: ``give_up`` only keeps a hung child
from hanging the suite, and a run that reaches it is reported as ``hung``.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import termios
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyte


@dataclass(frozen=True)
class TerminalRun:
    exit_code: int | None       # None when the process had to be killed (hung)
    hung: bool
    raw: bytes                  # everything drawn, escape sequences included
    screen: tuple[str, ...]     # the final screen, trailing blanks removed
    longest_silence: float      # seconds, from the start to the exit, between two outputs
    interrupted_at: float | None  # when Ctrl-C was sent
    ended_at: float              # seconds from the start

    @property
    def text(self) -> str:
        return "\n".join(self.screen)

    def after_interrupt(self) -> float | None:
        return None if self.interrupted_at is None else self.ended_at - self.interrupted_at


def _final_screen(raw: bytes, columns: int, lines: int) -> tuple[str, ...]:
    screen = pyte.HistoryScreen(columns, lines, history=100_000)
    stream = pyte.ByteStream(screen)
    stream.feed(raw.replace(b"\n", b"\r\n") if b"\r\n" not in raw else raw)
    rows = [
        "".join(screen.buffer[y][x].data for x in range(columns)).rstrip()
        for y in range(lines)
    ]
    history = ["".join(ch.data for ch in line.values()).rstrip() if isinstance(line, dict) else
               "".join(line[x].data for x in sorted(line)).rstrip()
               for line in screen.history.top]
    all_rows = history + rows
    while all_rows and not all_rows[-1]:
        all_rows.pop()
    return tuple(all_rows)


def run_in_terminal(argv: Sequence[str], *, columns: int = 80, lines: int = 24, cwd: Path | None = None,
                    env: dict[str, str] | None = None, interrupt_on: bytes | None = None,
                    interrupt_after: float | None = None, again_after: float | None = None,
                    give_up: float = 900.0) -> TerminalRun:
    """Run ``argv`` with a pty as its stdin, stdout and stderr (its controlling terminal); with
    ``again_after``, Ctrl-C is typed a second time that many seconds after the first."""
    child_env = dict(os.environ if env is None else env)
    child_env.update({"TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(lines)})
    child_env.pop("CI", None)  # rich treats CI=true as "not interactive"; a person's shell has no CI
    for var in ("NO_COLOR", "FORCE_COLOR", "TERM_PROGRAM", "JUPYTER_COLUMNS", "JUPYTER_LINES"):
        child_env.pop(var, None)
    pid, fd = pty.fork()
    if pid == 0:  # the child: a new session whose controlling terminal is the pty
        try:
            if cwd is not None:
                os.chdir(cwd)
            os.execvpe(argv[0], list(argv), child_env)
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    start = time.monotonic()
    last = start
    longest = 0.0
    chunks: list[bytes] = []
    interrupted_at: float | None = None
    status: int | None = None
    hung = False
    typed_again = False
    while True:
        now = time.monotonic()
        if interrupted_at is None and interrupt_after is not None and now - start >= interrupt_after:
            interrupted_at = _interrupt(fd, now - start)
        if interrupted_at is not None and again_after is not None and not typed_again:
            time.sleep(max(0.0, start + interrupted_at + again_after - time.monotonic()))
            typed_again = _interrupt(fd, time.monotonic() - start) is not None
        if now - start > give_up:
            os.killpg(pid, signal.SIGKILL)
            hung = True
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            if data:
                now = time.monotonic()
                longest = max(longest, now - last)
                last = now
                chunks.append(data)
                if interrupted_at is None and interrupt_on is not None and interrupt_on in b"".join(chunks[-4:]):
                    interrupted_at = _interrupt(fd, now - start)
                continue
        done, raw_status = os.waitpid(pid, os.WNOHANG)
        if done:
            status = raw_status
            _drain(fd, chunks)
            break
    end = time.monotonic()
    longest = max(longest, end - last)
    os.close(fd)
    code = None if hung or status is None else os.waitstatus_to_exitcode(status)
    raw = b"".join(chunks)
    return TerminalRun(exit_code=code, hung=hung, raw=raw, screen=_final_screen(raw, columns, lines),
                       longest_silence=longest, interrupted_at=interrupted_at, ended_at=end - start)


def _interrupt(fd: int, at: float) -> float:
    """Ctrl-C typed at the terminal: the line discipline sends SIGINT to the foreground group."""
    os.write(fd, b"\x03")
    return at


def _drain(fd: int, chunks: list[bytes]) -> None:
    while True:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if not ready:
            return
        try:
            data = os.read(fd, 65536)
        except OSError:
            return
        if not data:
            return
        chunks.append(data)
