"""Waits that Ctrl-C always ends: the main thread never sleeps through an interrupt.

CPython runs a signal's Python handler (the ``KeyboardInterrupt``) in the main thread only, but
the kernel hands a signal sent to the process to whichever thread it picks. When it picks another
thread (seen here while worker threads start processes: a Ctrl-C during a UPX pack), the main
thread, asleep in a lock or in ``waitpid``, is not woken: the interrupt waits until that wait
ends, which for ``upx --best`` on ``openvino.dll`` is minutes. Measured with the test's driver
(``tests/integration/test_waiting.py``): 59 of 200 interrupts lost that way with plain blocking waits, none
with these.

So the main thread waits in slices of ``WAKE`` seconds, each one a chance for the handler to run;
a wait still ends the moment its thing is done (an event, not a poll). Other threads block as
before: they never see the interrupt anyway.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Sequence

# ``typing`` is for the type checker only: ``npuslim --version`` imports this module and nothing
# else of it (mypy treats a name ``TYPE_CHECKING`` as true)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from concurrent.futures import Future
    from typing import Any, TypeVar

    T = TypeVar("T")

# How late the main thread may notice an interrupt that reached another thread.
WAKE = 0.2


def on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def wait_event(event: threading.Event) -> None:
    """Block until ``event`` is set."""
    if not on_main_thread():
        event.wait()
        return
    while not event.wait(WAKE):
        pass


def join(thread: threading.Thread) -> None:
    """Block until ``thread`` has ended."""
    if not on_main_thread():
        thread.join()
        return
    while thread.is_alive():
        thread.join(WAKE)


def results(futures: Sequence[Future[T]]) -> list[T]:
    """The results of ``futures``, in their order, once all are done; as soon as one has failed,
    its exception (the first in order, of those that failed) is raised without waiting for the rest."""
    from concurrent.futures import FIRST_EXCEPTION, wait

    pending: set[Future[T]] = set(futures)
    while pending:
        done, pending = wait(pending, timeout=WAKE if on_main_thread() else None, return_when=FIRST_EXCEPTION)
        if any(not f.cancelled() and f.exception() is not None for f in done):
            break
    for future in futures:
        if future.done() and not future.cancelled() and future.exception() is not None:
            future.result()  # raises it, with its traceback
    return [f.result() for f in futures]


def wait_process(proc: subprocess.Popen[Any]) -> int:
    """Block until ``proc`` has ended; its return code. On the main thread another thread reaps it
    (a blocking ``waitpid``: no polling delay) while this one waits for that thread in slices."""
    if not on_main_thread() or proc.returncode is not None:
        return proc.wait()
    reaper = threading.Thread(target=proc.wait, name="npuslim-reaper", daemon=True)
    reaper.start()
    join(reaper)
    return proc.wait()  # reaped: the return code at once
