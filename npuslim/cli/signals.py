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

import signal
from collections.abc import Iterator
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


def stop_reason(exc: BaseException) -> tuple[int, str] | None:
    """(exit code, message) when ``exc`` is, or was raised for, Ctrl-C or SIGTERM; else ``None``.
    click turns a ``KeyboardInterrupt`` into its ``Abort``, keeping it as the cause."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, Terminated):
            named = "" if current.signum == signal.SIGTERM else f" ({signal.Signals(current.signum).name})"
            return 128 + current.signum, f"terminated{named}"
        if isinstance(current, KeyboardInterrupt):
            return INTERRUPT_EXIT, "interrupted"
        current = current.__cause__ or current.__context__
    return None


@contextmanager
def stopping_cleanly() -> Iterator[None]:
    """Within the block, Ctrl-C and SIGTERM stop the run as the module docstring says; the
    handlers in place before come back when the block ends without either signal."""
    if not on_main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in _signals()}
    fired = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal fired
        fired = True
        for sig in _signals():
            signal.signal(sig, signal.SIG_IGN)
        raise KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)

    for sig, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(sig, stop)
    try:
        yield
    finally:
        if not fired:
            for sig, handler in previous.items():
                signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
