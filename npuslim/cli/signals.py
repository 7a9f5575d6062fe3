"""Ctrl-C, SIGTERM and SIGHUP, the same way: the run stops, cleans up after itself, and exits
130, 143 or 129 (128 + the signal, as shells report it).

The first of them raises ``KeyboardInterrupt`` in the main thread (``Terminated``, one of them,
for SIGTERM and for SIGHUP: the terminal window closed), and every ``with`` block and ``except
BaseException`` on the way out kills what npuslim started (UPX, Wine, pip, the compilers: each in
a process group of its own, which no terminal signal reaches) and removes what it half-wrote.
From then on all three are ignored until the process ends: a second Ctrl-C must not cut that
clean-up short (a review saw it leave 55 MB of staging behind, once a UPX that ran on for
minutes) nor make the interpreter's shutdown print a traceback. A signal ignored when npuslim
starts (``nohup``, a background job) stays ignored.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from npuslim.waiting import on_main_thread

INTERRUPT_EXIT = 130   # 128 + SIGINT


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a CI job cancelled) or SIGHUP (the terminal closed): stopped as Ctrl-C
    stops a run; exit 128 + the signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _signals() -> tuple[signal.Signals, ...]:
    hangup = getattr(signal, "SIGHUP", None)  # not on Windows
    return (signal.SIGINT, signal.SIGTERM, *([hangup] if hangup is not None else []))


def _reason(signum: int) -> tuple[int, str]:
    if signum == signal.SIGINT:
        return INTERRUPT_EXIT, "interrupted"
    named = "" if signum == signal.SIGTERM else f" ({signal.Signals(signum).name})"
    return 128 + signum, f"terminated{named}"


def stop_reason(exc: BaseException) -> tuple[int, str] | None:
    """(exit code, message) when ``exc`` is, or was raised for, a stop (Ctrl-C, SIGTERM, SIGHUP):
    the signal that stopped this run when one did, else what ``exc`` says; ``None`` for any other
    exception. click turns a ``KeyboardInterrupt`` into its ``Abort``, keeping it as the cause."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, KeyboardInterrupt):
            if _RUN.signum is not None:
                return _reason(_RUN.signum)
            return _reason(current.signum) if isinstance(current, Terminated) else _reason(signal.SIGINT)
        current = current.__cause__ or current.__context__
    return None


class _Run:
    """The stop signal of the run in this process, if one came, and whether its line is out."""

    active = False
    signum: int | None = None
    said = False


_RUN = _Run()


def stopped() -> tuple[int, str] | None:
    """(exit code, message) of the signal that stopped this run, or ``None``: typer turns a
    ``KeyboardInterrupt`` that escapes a command into a bare exit 130, so the run asks here."""
    return _reason(_RUN.signum) if _RUN.signum is not None else None


def say_stop_once(reason: tuple[int, str], say: Callable[[str], None]) -> int:
    """``say`` the stop's line unless it was said already (by the command's error boundary); its exit code."""
    if not _RUN.said:
        _RUN.said = True
        say(reason[1])
    return reason[0]


def ignore_stop_signals() -> None:
    """The run is over: a signal now changes neither its result nor its exit code."""
    if on_main_thread():
        for sig in _signals():
            with contextlib.suppress(OSError, ValueError):
                signal.signal(sig, signal.SIG_IGN)


@contextmanager
def stopping_cleanly() -> Iterator[None]:
    """Within the block, Ctrl-C, SIGTERM and SIGHUP stop the run as the module docstring says; the
    handlers in place before come back when the block ends without one. The outermost block owns
    the handlers: one inside it (the command line's, within the entry point's) changes nothing."""
    if not on_main_thread() or _RUN.active:
        yield
        return
    _RUN.active, _RUN.signum, _RUN.said = True, None, False
    previous = {sig: signal.getsignal(sig) for sig in _signals()}

    def stop(signum: int, _frame: FrameType | None) -> None:
        _RUN.signum = signum
        for sig in _signals():
            signal.signal(sig, signal.SIG_IGN)
        raise KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)

    for sig, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(sig, stop)
    try:
        yield
    finally:
        _RUN.active = False
        if _RUN.signum is None:
            for sig, handler in previous.items():
                signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
