"""What every command shares: consoles, the error boundary, common options."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from npuslim.errors import NpuslimError

F = TypeVar("F", bound=Callable[..., Any])

STATE = {"debug": False}


def stdout() -> Console:
    return Console(highlight=False, soft_wrap=False)


def stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int) -> typer.Exit:
    """Print one line to stderr and return the exit to raise."""
    stderr().print(f"[bold red]npuslim: error:[/] {message}", markup=True, highlight=False)
    return typer.Exit(code)


def error_boundary(func: F) -> F:
    """Turn core errors into one line on stderr and the error's exit code.

    With ``--debug`` (or ``NPUSLIM_DEBUG=1``) the traceback is shown instead.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = STATE["debug"] or os.environ.get("NPUSLIM_DEBUG") == "1"
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except NpuslimError as exc:
            if debug:
                raise
            raise fail(_escape(str(exc)), exc.exit_code) from None
        except KeyboardInterrupt:
            if debug:
                raise
            raise fail("interrupted", 130) from None
        except Exception as exc:  # noqa: BLE001 - the one place that catches all
            if debug:
                raise
            raise fail(
                _escape(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)"),
                1,
            ) from None

    return wrapper  # type: ignore[return-value]


def _escape(text: str) -> str:
    return text.replace("[", "\\[")


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
    typer.Option("--manifest", "-m", help="Bundle manifest: a YAML file, or a shipped name (npu).",
                 show_default="npu"),
]
SearchPathOpt = Annotated[
    list[Path] | None,
    typer.Option("--search-path", "-L", help="Extra folder to find DLLs in, searched after the "
                 "importing DLL's folder and the install's DLL folder (repeatable).",
                 file_okay=False),
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


def write_text_atomic(path: Path, text: str) -> None:
    """Write a whole file or nothing: a temporary file beside it, then a rename."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)

