"""What every command shares: consoles, the error boundary, common options."""

from __future__ import annotations

import functools
import io
import os
import shutil
import sys
import traceback
from collections.abc import Callable, Iterable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from npuslim.cli.layout import output_width
from npuslim.errors import NpuslimError, OutputError, os_reason

if TYPE_CHECKING:
    from npuslim.knowledge.manifest import Manifest
    from npuslim.pipeline.sources import Sources

F = TypeVar("F", bound=Callable[..., Any])

STATE = {"debug": False}
# One error line is at most this long: a value from a hostile input is never formatted whole.
MAX_ERROR_CHARS = 2000


class GuardedStream(io.TextIOBase):
    """Standard output for the commands: a failed write (closed stream, broken pipe, disk full)
    becomes an ``OutputError`` (exit 7) instead of lost output or an internal error; text the
    stream's encoding cannot carry is replaced, never an error."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream

    def _fail(self, exc: BaseException | None) -> OutputError:
        reason = "it is closed" if exc is None or isinstance(exc, ValueError) else (
            "broken pipe" if isinstance(exc, BrokenPipeError) else
            os_reason(exc) if isinstance(exc, OSError) else str(exc))
        return OutputError(f"cannot write to standard output: {reason}")

    def write(self, text: str) -> int:
        if self._stream is None:
            raise self._fail(None)
        encoding = getattr(self._stream, "encoding", None) or "utf-8"
        text = text.encode(encoding, "replace").decode(encoding, "replace")
        try:
            return self._stream.write(text)
        except (OSError, ValueError) as exc:
            raise self._fail(exc) from exc

    def flush(self) -> None:
        if self._stream is None:
            return
        try:
            self._stream.flush()
        except (OSError, ValueError) as exc:
            raise self._fail(exc) from exc

    def isatty(self) -> bool:
        try:
            return bool(self._stream is not None and self._stream.isatty())
        except (OSError, ValueError):
            return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._stream, "encoding", None) or "utf-8"

    def fileno(self) -> int:
        if self._stream is None:
            raise io.UnsupportedOperation("closed")
        return self._stream.fileno()


# The console width when nothing limits it (a pipe or a file): lines are as long as their content.
UNLIMITED = 100_000


def stdout() -> Console:
    """The console for people: as wide as the terminal (or ``COLUMNS``); unlimited when piped."""
    stream = GuardedStream(sys.stdout)
    width = output_width(stream.isatty(), shutil.get_terminal_size().columns)
    return Console(file=stream, highlight=False, soft_wrap=False,  # type: ignore[arg-type]
                   width=width or UNLIMITED)


def width_of(console: Console) -> int | None:
    """The width to lay text out to on ``console``; ``None`` for no limit."""
    return None if console.width >= UNLIMITED else console.width


def print_lines(console: Console, lines: Iterable[Text]) -> None:
    """Print lines laid out by ``npuslim.cli.layout`` as they are (rich neither wraps nor crops them)."""
    for line in lines:
        console.print(line, soft_wrap=True, highlight=False)


def write_stdout(text: str) -> None:
    """Machine-readable output (JSON, DOT, Mermaid) as is: no rich processing, failures are exit 7."""
    stream = GuardedStream(sys.stdout)
    stream.write(text)
    stream.flush()


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
            return stream.write(text.encode(encoding, "replace").decode(encoding, "replace"))
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


def esc(text: str) -> str:
    """``text`` safe inside rich markup: file names, paths and DLL names are never markup."""
    return escape(text)


def one_line(message: str) -> str:
    """``message`` on one line (newlines and runs of spaces folded), at most ``MAX_ERROR_CHARS``."""
    text = " ".join(message[: MAX_ERROR_CHARS * 2].split())
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


def print_error(message: str) -> None:
    """One line on stderr: ``npuslim: error: message``; the message is plain text, never markup."""
    line = Text("npuslim: error: ", style="bold red")
    line.append(one_line(message))
    stderr().print(line, highlight=False, soft_wrap=True)


def fail(message: str, code: int) -> typer.Exit:
    """Print one line to stderr and return the exit to raise."""
    print_error(message)
    return typer.Exit(code)


def debug_enabled() -> bool:
    return bool(STATE["debug"]) or os.environ.get("NPUSLIM_DEBUG") == "1"


def exit_code_of(exc: BaseException) -> tuple[int, str]:
    """The one mapping from an exception to (exit code, message) at the CLI boundary."""
    if isinstance(exc, NpuslimError):
        return exc.exit_code, str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return 130, "interrupted"
    if isinstance(exc, MemoryError):
        return 1, "internal error: out of memory (run with --debug for the traceback)"
    return 1, f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)"


def error_boundary(func: F) -> F:
    """Turn core errors into one line on stderr and the error's exit code.

    With ``--debug`` (or ``NPUSLIM_DEBUG=1``) the traceback is printed first;
    the line and the exit code stay the same. Standard output is flushed before
    the command returns, so a write that fails there is still an error (exit 7).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = func(*args, **kwargs)
            _flush_stdout()
            return result
        except (typer.Exit, typer.Abort):
            _flush_stdout_quietly()
            raise
        except BaseException as exc:  # noqa: BLE001 - the one place that catches all
            if isinstance(exc, SystemExit):
                raise
            if debug_enabled():
                SafeStream(sys.stderr).write("".join(traceback.format_exception(exc)))
            code, message = exit_code_of(exc)
            if isinstance(exc, OutputError) and "standard output" in message:
                _silence_stdout()
            raise fail(message, code) from None

    return wrapper  # type: ignore[return-value]


def _flush_stdout() -> None:
    GuardedStream(sys.stdout).flush()


def _flush_stdout_quietly() -> None:
    try:
        _flush_stdout()
    except OutputError:
        _silence_stdout()


def _silence_stdout() -> None:
    """After stdout failed, point it at the null device so the interpreter's exit flush stays quiet."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


class DepsFormat(str, Enum):
    tree = "tree"
    table = "table"
    json = "json"
    dot = "dot"
    mermaid = "mermaid"


SourceArg = Annotated[
    str | None,
    typer.Argument(
        help="OpenVINO install folder, a DLL, a .whl file, or a requirement such as "
        "openvino==2026.4.1. Default: this Python's openvino package, else INTEL_OPENVINO_DIR.",
        show_default=False,
    ),
]
PlatformOpt = Annotated[
    str, typer.Option("--platform", help="Wheel platform tag for a requirement source.")
]
ManifestOpt = Annotated[
    str | None,
    typer.Option("--manifest", "-m", help="Manifest: a YAML file, or a shipped name (npu).",
                 show_default="npu"),
]
SearchPathOpt = Annotated[
    list[Path] | None,
    typer.Option("--search-path", "-L", help="Extra folder to find DLLs in, searched after the "
                 "importing DLL's folder and the install's DLL folder (repeatable; it must exist).",
                 exists=True, file_okay=False),
]
RootOpt = Annotated[
    list[str] | None,
    typer.Option("--root", "-r", help="Root DLL to start from instead of the manifest's (repeatable).",
                 show_default=False),
]
WithOpt = Annotated[
    list[str] | None,
    typer.Option("--with", help="Turn on an optional feature of the manifest (repeatable).",
                 show_default=False),
]
WithoutOpt = Annotated[
    list[str] | None,
    typer.Option("--without", help="Turn off a default feature of the manifest (repeatable).",
                 show_default=False),
]



def manifest_for(manifest: str | None, onnxruntime: str | None) -> Manifest:
    """``--manifest``, else the ONNX Runtime manifest with ``--onnxruntime``, else the NPU one.

    A ``--manifest`` that is neither a file nor a shipped name is a ``ManifestError`` (exit 4)
    that lists the shipped names.
    """
    from npuslim.knowledge.manifest import manifests_dir
    from npuslim.pipeline.sources import manifest_for as choose

    if manifest is not None and not Path(manifest).exists() and not (manifests_dir() / f"{manifest}.yaml").is_file():
        from npuslim.errors import ManifestError

        shipped = ", ".join(sorted(p.stem for p in manifests_dir().glob("*.yaml") if p.stem != "windows"))
        raise ManifestError(f"{manifest}: manifest not found; --manifest takes a YAML file or a shipped "
                            f"name ({shipped})")
    return choose(manifest, onnxruntime)


def check_bundle_arg(bundle: Path) -> None:
    """A BUNDLE argument (verify, pack) must be a folder holding the lock file: ``VerifyError``
    (exit 5) that says how a bundle is made."""
    from npuslim.errors import VerifyError
    from npuslim.layout import LOCK_FILE

    if not bundle.exists():
        raise VerifyError(f"{bundle}: no such folder; make a bundle with npuslim extract SOURCE -o {bundle}")
    if bundle.is_dir() and not (bundle / LOCK_FILE).exists():
        raise VerifyError(f"{bundle}: not an npuslim bundle ({LOCK_FILE} is missing); npuslim extract "
                          f"SOURCE -o {bundle} makes one")


def locate_sources(source: str | None, onnxruntime: str | None, *, platform: str, manifest: Manifest,
                   search_paths: tuple[Path, ...]) -> Sources:
    """``npuslim.pipeline.sources.locate_sources`` (fetching and unpacking shown live on a terminal),
    its notes printed on stderr."""
    from npuslim.cli.progress_display import progress_display
    from npuslim.pipeline.sources import locate_sources as locate

    with progress_display() as progress:
        found = locate(source, onnxruntime, platform=platform, manifest=manifest, search_paths=search_paths,
                       progress=progress)
    for note in found.notes:
        stderr().print(f"npuslim: {note}", markup=False, highlight=False, soft_wrap=True)
    return found
