"""Progress of long steps, as data: the core says what it is doing, the CLI shows it.

Every step that can take more than a moment (fetching a wheel, unpacking it,
copying a bundle, building the load probe, starting Wine, stripping and
packing each DLL, archiving) reports ``ProgressEvent``s to a ``ProgressFn``.
The core never prints: on a terminal the CLI draws live lines and bars, through
a pipe one line per finished step. A core function takes ``progress=None`` and
wraps it in ``Reporter``, which does nothing when there is no one to tell.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum


class StepState(str, Enum):
    START = "start"        # the step began (``total`` known or not)
    ADVANCE = "advance"    # ``advance`` more units of ``total`` are done
    DONE = "done"          # the step ended well; ``detail`` says what it found or made
    FAILED = "failed"      # the step ended badly; the error itself reaches the user as an error


@dataclass(frozen=True)
class ProgressEvent:
    """One thing that happened to one step.

    ``step`` names the kind of work (``fetch``, ``unpack``, ``copy``, ``build``,
    ``wine``, ``load``, ``verify``, ``strip``, ``upx``, ``xz``, ``archive``,
    ``reports``); ``subject`` the file or thing it works on ("" for the whole
    bundle). ``total`` (with ``START``) and ``advance`` are in ``unit``
    ("bytes", or "" for a count).
    """

    step: str
    subject: str
    state: StepState
    detail: str = ""
    total: int | None = None
    advance: int = 0
    unit: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.step, self.subject)


ProgressFn = Callable[[ProgressEvent], None]


class Reporter:
    """A ``ProgressFn`` or nobody: the core calls it without asking whether anyone listens."""

    def __init__(self, progress: ProgressFn | None) -> None:
        self._progress = progress

    @property
    def listening(self) -> bool:
        return self._progress is not None

    def emit(self, event: ProgressEvent) -> None:
        if self._progress is not None:
            self._progress(event)

    def start(self, step: str, subject: str = "", *, detail: str = "", total: int | None = None,
              unit: str = "") -> None:
        self.emit(ProgressEvent(step, subject, StepState.START, detail, total=total, unit=unit))

    def advance(self, step: str, subject: str, amount: int) -> None:
        self.emit(ProgressEvent(step, subject, StepState.ADVANCE, advance=amount))

    def done(self, step: str, subject: str = "", detail: str = "") -> None:
        self.emit(ProgressEvent(step, subject, StepState.DONE, detail))

    def failed(self, step: str, subject: str = "", detail: str = "") -> None:
        self.emit(ProgressEvent(step, subject, StepState.FAILED, detail))

    @contextmanager
    def step(self, step: str, subject: str = "", *, detail: str = "", total: int | None = None,
             unit: str = "") -> Iterator[StepResult]:
        """``start`` now, then ``done`` (with the ``StepResult``'s detail) or ``failed`` on an exception."""
        result = StepResult()
        self.start(step, subject, detail=detail, total=total, unit=unit)
        try:
            yield result
        except BaseException:
            self.failed(step, subject)
            raise
        self.done(step, subject, result.detail)


@dataclass
class StepResult:
    """What a step inside ``Reporter.step`` found or made, said when it ends."""

    detail: str = ""
