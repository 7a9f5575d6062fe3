"""What every command shares: consoles, the error boundary, common options.

rich is imported when something is printed for people: output for machines (JSON, DOT,
Mermaid) through a pipe never imports it (a fifth of ``deps --format json``'s time).
"""

from __future__ import annotations

import functools
import inspect
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

from npuslim.cli.completion import complete_feature, complete_manifest
from npuslim.cli.signals import say_stop_once, stop_reason, stopped
from npuslim.cli.streams import SafeStream, stderr
from npuslim.errors import NpuslimError, OutputError, os_reason

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

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


def output_width(is_terminal: bool, terminal_width: int) -> int | None:
    """The width to lay out to: ``COLUMNS`` when set to a number, else the terminal's width
    when standard output is a terminal, else ``None`` (no limit: a pipe or a file is never cut)."""
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isascii() and columns.isdigit() and len(columns) <= 5 and int(columns) > 0:  # bounded: 5000 digits
        return int(columns)  # would be past int()'s digit limit
    return terminal_width if is_terminal else None


def stdout() -> Console:
    """The console for people: as wide as the terminal (or ``COLUMNS``); unlimited when piped."""
    from rich.console import Console

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


def esc(text: str) -> str:
    """``text`` safe inside rich markup: file names, paths and DLL names are never markup."""
    from rich.markup import escape

    return escape(text)


def one_line(message: str) -> str:
    """``message`` on one line (newlines and runs of spaces folded), at most ``MAX_ERROR_CHARS``."""
    text = " ".join(message[: MAX_ERROR_CHARS * 2].split())
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


def print_error(message: str) -> None:
    """One line on stderr: ``npuslim: error: message``; the message is plain text, never markup."""
    from rich.text import Text

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
    """The one mapping from an exception to (exit code, message) at the CLI boundary; a stop
    (Ctrl-C, SIGTERM, SIGHUP) is ``npuslim.cli.signals``' to say, before this is asked."""
    if isinstance(exc, NpuslimError):
        return exc.exit_code, str(exc)
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
        except BaseException as exc:
            if isinstance(exc, SystemExit):
                raise
            if debug_enabled():
                SafeStream(sys.stderr).write("".join(traceback.format_exception(exc)))
            stop = stopped() or stop_reason(exc)  # after a stop signal, whatever the clean-up raised
            if stop is not None:
                raise typer.Exit(say_stop_once(stop, print_error)) from None
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


# The panels ``--help`` groups options into (typer's ``rich_help_panel``), the same names in every command.
SOURCE_PANEL = "Source"
MANIFEST_PANEL = "What to bundle"
OUTPUT_PANEL = "Output"
BUDGET_PANEL = "Size budget and reports"

# What each exit code means, in the words every command's --help lists them with (README, "Exit codes").
EXIT_MEANINGS = {
    0: "success",
    2: "bad command line",
    3: "a dependency is missing",
    4: "unusable input",
    5: "the bundle does not verify",
    6: "an external tool is missing or failed",
    7: "the output cannot be written",
    8: "the bundle does not load",
    9: "over the size budget",
    10: "diff --fail-on matched",
    130: "interrupted",
    143: "terminated",
}


def exits(*codes: int) -> Callable[[F], F]:
    """Append the exit codes a command can return to its docstring (its ``--help``), in the
    words of ``EXIT_MEANINGS``; 0, 2, 130 and 143 apply to every command and are always listed."""
    every = sorted({0, 2, 130, 143, *codes})

    def add(func: F) -> F:
        listed = "; ".join(f"{code} {EXIT_MEANINGS[code]}" for code in every)
        func.__doc__ = f"{inspect.cleandoc(func.__doc__ or '')}\n\nExit codes: {listed}."
        func.exit_codes = tuple(every)  # type: ignore[attr-defined]
        return func

    return add


SourceArg = Annotated[
    str | None,
    typer.Argument(
        metavar="SOURCE", show_default=False,
        help="OpenVINO install folder, a DLL, a .whl file, or a requirement such as "
        "openvino==2026.4.1. Without it: this Python's openvino package, else INTEL_OPENVINO_DIR.",
    ),
]
PlatformOpt = Annotated[
    str, typer.Option("--platform", metavar="TAG", rich_help_panel=SOURCE_PANEL,
                      help="Wheel platform tag for a requirement source (manylinux_2_28_x86_64 for Linux).")
]
OnnxRuntimeOpt = Annotated[
    str | None,
    typer.Option("--onnxruntime", metavar="ORT-SOURCE", rich_help_panel=SOURCE_PANEL, show_default=False,
                 help="ONNX Runtime with OpenVINO's execution provider as a second source: a wheel, a folder "
                 "or a requirement such as onnxruntime-openvino==1.24.1 (manifest onnxruntime-npu). "
                 "Without SOURCE, the OpenVINO release is picked by symbol."),
]
SearchPathOpt = Annotated[
    list[Path] | None,
    typer.Option("--search-path", "-L", metavar="DIR", rich_help_panel=SOURCE_PANEL,
                 help="Extra folder to find DLLs in, searched after the importing DLL's folder and the "
                 "install's DLL folder (repeatable; it must exist).", exists=True, file_okay=False),
]
ManifestOpt = Annotated[
    str | None,
    typer.Option("--manifest", "-m", metavar="FILE", rich_help_panel=MANIFEST_PANEL,
                 show_default="npu", autocompletion=complete_manifest,
                 help="Manifest: the YAML that says what a bundle holds, a file or a shipped name "
                 "(onnxruntime-npu with --onnxruntime)."),
]
RootOpt = Annotated[
    list[str] | None,
    typer.Option("--root", "-r", metavar="NAME", rich_help_panel=MANIFEST_PANEL, show_default=False,
                 help="Root DLL to start from instead of the manifest's (repeatable)."),
]
WithOpt = Annotated[
    list[str] | None,
    typer.Option("--with", metavar="FEATURE", rich_help_panel=MANIFEST_PANEL, show_default=False,
                 autocompletion=complete_feature, help="Turn on an optional feature of the manifest (repeatable)."),
]
WithoutOpt = Annotated[
    list[str] | None,
    typer.Option("--without", metavar="FEATURE", rich_help_panel=MANIFEST_PANEL, show_default=False,
                 help="Turn off a default feature of the manifest (repeatable)."),
]


def warn(message: str) -> None:
    """One line on stderr: ``npuslim: warning: message`` (plain text, never markup)."""
    from rich.text import Text

    line = Text("npuslim: warning: ", style="yellow")
    line.append(one_line(message))
    stderr().print(line, highlight=False, soft_wrap=True)


def manifest_for(manifest: str | None, onnxruntime: str | None) -> Manifest:
    """``--manifest``, else the ONNX Runtime manifest with ``--onnxruntime``, else the NPU one.

    A ``--manifest`` that is neither a file nor a shipped name is a ``ManifestError`` (exit 4)
    that lists the shipped names.
    """
    from npuslim.knowledge.manifest import WINDOWS_FACTS_FILE, manifests_dir
    from npuslim.pipeline.sources import manifest_for as choose

    if manifest is not None and not Path(manifest).exists() and not (manifests_dir() / f"{manifest}.yaml").is_file():
        from npuslim.errors import ManifestError

        shipped = ", ".join(sorted(p.stem for p in manifests_dir().glob("*.yaml") if p.name != WINDOWS_FACTS_FILE))
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
