"""Showing ``npuslim.progress`` events to a person, or to a log.

On a terminal, steps in flight are live lines at the bottom of the screen (a
spinner, what is being done, a bar where the size is known, the time spent);
a step that ends becomes a plain line above them (``✓ strip openvino.dll:
...``), so the screen a person reads at the end is a log, never cut, never
padded. Through a pipe each finished step is one line on stderr
(``npuslim: strip openvino.dll: ...``) and nothing moves.

The live display writes to the standard error stream that was there when it
started (bound once); it never looks ``sys.stderr`` up again, so a stream that
rich redirects while the display is live cannot loop back into it.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from npuslim.cli.streams import SafeStream, stderr, stderr_is_terminal
from npuslim.progress import ProgressEvent, ProgressFn, StepState
from npuslim.waiting import join

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

# How often the live steps are redrawn (the spinner, the time spent), by LiveDisplay's own thread.
REFRESH_PER_SECOND = 8


def describe(event: ProgressEvent) -> str:
    """``step subject: detail`` (parts left out when empty)."""
    what = f"{event.step} {event.subject}" if event.subject else event.step
    return f"{what}: {event.detail}" if event.detail else what


class LineDisplay:
    """One line on stderr per finished step: for logs and CI."""

    def __init__(self, console: Console) -> None:
        self._console = console

    def __call__(self, event: ProgressEvent) -> None:
        from rich.text import Text

        if event.state is StepState.DONE:
            line = Text("npuslim: ")
            line.append(describe(event))
            self._console.print(line, soft_wrap=True, highlight=False)


class LiveDisplay:
    """Live lines for steps in flight; a finished step printed once, whole, above them.

    The live region exists only while a step is in flight: a new one is made by the first step
    and stopped, with the finished step still in it, when the last one ends. So it never stops
    empty, which rich 13.0 ends with a blank line (measured; rich 14 and 15 do not), and none is
    restarted. The region is redrawn by a thread of this display's own, under the same lock as
    every event: rich's own refresh thread could write a redraw between the moment a line printed
    from a worker thread was laid out and the moment it was written, so the cursor moved over a
    line already printed (a lost ``✓`` line and a live line left on the screen, seen in pack).
    """

    def __init__(self, make: Callable[[], Progress], console: Console) -> None:
        self._make = make
        self._console = console
        self._progress: Progress | None = None
        self._tasks: dict[tuple[str, str], TaskID] = {}
        self._what: dict[tuple[str, str], str] = {}
        self._lock = threading.RLock()  # events come from the worker threads of pack
        self._ended = threading.Event()
        self._ticker: threading.Thread | None = None

    def __call__(self, event: ProgressEvent) -> None:
        key = event.key
        with self._lock:
            if event.state is StepState.START:
                self._start(event)
            elif event.state is StepState.ADVANCE:
                if key not in self._tasks:
                    self._start(ProgressEvent(event.step, event.subject, StepState.START))
                self._live().advance(self._tasks[key], event.advance)
            else:
                self._finish(event)

    def close(self) -> None:
        """Take the live region off the screen (the last step ended, the command ended, or was interrupted)."""
        with self._lock:
            if self._progress is not None:
                self._progress.stop()
                self._progress = None
                self._tasks.clear()

    def shutdown(self) -> None:
        """``close``, and the redrawing thread ends."""
        self.close()
        self._ended.set()
        if self._ticker is not None:
            join(self._ticker)

    def _live(self) -> Progress:
        if self._progress is None:
            self._progress = self._make()
            self._progress.start()
            if self._ticker is None:
                self._ticker = threading.Thread(target=self._tick, name="npuslim-progress", daemon=True)
                self._ticker.start()
        return self._progress

    def _tick(self) -> None:
        while not self._ended.wait(1 / REFRESH_PER_SECOND):
            with self._lock:
                if self._progress is not None:
                    self._progress.refresh()

    def _start(self, event: ProgressEvent) -> None:
        key = event.key
        label = describe(event)
        self._what[key] = label
        if key in self._tasks:
            self._live().update(self._tasks[key], description=label, total=event.total, completed=0)
            return
        self._tasks[key] = self._live().add_task(label, total=event.total, bytes=event.unit == "bytes")

    def _finish(self, event: ProgressEvent) -> None:
        from rich.text import Text

        key = event.key
        task = self._tasks.pop(key, None)
        if not self._tasks:
            self.close()  # the last step in flight: the region goes with it still shown
        elif task is not None:
            self._live().remove_task(task)
        started = self._what.pop(key, describe(event))
        line = Text()
        if event.state is StepState.DONE:
            line.append("✓ ", style="green")
            line.append(describe(event))
        else:
            line.append("✗ ", style="red")
            line.append(f"{started}: failed" if not event.detail else describe(event))
        self._console.print(line, soft_wrap=True, highlight=False)


def _live(console: Console) -> Progress:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        SpinnerColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.text import Text

    class AmountColumn(ProgressColumn):
        """Bytes (``12.3/85.0 MB``) or a count (``3/5``), only where the total is known."""

        def __init__(self) -> None:
            super().__init__()
            self._bytes = DownloadColumn()
            self._count = MofNCompleteColumn()

        def render(self, task: Task) -> Text:
            if task.total is None:
                return Text("")
            column = self._bytes if task.fields.get("bytes") else self._count
            rendered = column.render(task)
            return rendered if isinstance(rendered, Text) else Text(str(rendered))

    return Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(bar_width=20),
                    AmountColumn(), TimeElapsedColumn(), console=console, transient=True, auto_refresh=False,
                    redirect_stdout=False, redirect_stderr=False)


@contextmanager
def progress_display(*, log_steps: bool = False) -> Iterator[ProgressFn]:
    """A ``ProgressFn`` for the command's run: live on a terminal; through a pipe one line per
    finished step with ``log_steps`` (pack), else nothing (a log then holds only results, warnings
    and the one error line)."""
    stream = sys.stderr
    if not stderr_is_terminal():
        if not log_steps:
            yield lambda _event: None
        else:
            yield LineDisplay(stderr())
        return
    from rich.console import Console

    console = Console(file=SafeStream(stream), stderr=True, highlight=False)  # type: ignore[arg-type]
    display = LiveDisplay(lambda: _live(console), console)
    try:
        yield display
    finally:
        display.shutdown()
