"""The message stream (standard error) of the commands, bound once."""

from __future__ import annotations

import io
import sys
from typing import TextIO

from rich.console import Console


def stderr() -> Console:
    """The console for messages: standard error as it is now, bound once (see ``SafeStream``)."""
    return Console(file=SafeStream(sys.stderr), stderr=True, highlight=False, soft_wrap=True)  # type: ignore[arg-type]


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
