"""The message stream (standard error) of the commands, bound once."""

from __future__ import annotations

import io
import os
import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.console import Console

# What makes rich treat a stream that is no terminal as one (rich 13 to 15).
_RICH_TERMINAL_VARIABLES = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


def stderr() -> Console:
    """The console for messages: standard error as it is now, bound once (see ``SafeStream``)."""
    from rich.console import Console

    return Console(file=SafeStream(sys.stderr), stderr=True, highlight=False, soft_wrap=True)  # type: ignore[arg-type]


def stderr_is_terminal() -> bool:
    """Whether rich would treat standard error as a terminal; asked of rich only when it might be one,
    so a command run through a pipe never imports rich for its progress display."""
    if not SafeStream(sys.stderr).isatty() and not any(v in os.environ for v in _RICH_TERMINAL_VARIABLES):
        return False
    return stderr().is_terminal


class SafeStream(io.TextIOBase):
    """A message stream that never raises: an error message must not become another error.

    The stream is the one given when this was made, never ``sys.stderr`` looked up at each
    write: a progress display that redirects ``sys.stderr`` into a console writing here
    would otherwise call itself forever (rich 15's ``FileProxy`` on a terminal).
    """

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        stream = self._stream
        if stream is None:
            return len(text)
        encoding = getattr(stream, "encoding", None) or "utf-8"
        try:
            return stream.write(text.encode(encoding, "backslashreplace").decode(encoding, "replace"))
        except (OSError, ValueError):
            return len(text)

    def flush(self) -> None:
        try:
            if self._stream is not None:
                self._stream.flush()
        except (OSError, ValueError):
            pass

    def isatty(self) -> bool:
        try:
            return bool(self._stream is not None and self._stream.isatty())
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        if self._stream is None:
            raise io.UnsupportedOperation("closed")
        return self._stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._stream, "encoding", None) or "utf-8"
