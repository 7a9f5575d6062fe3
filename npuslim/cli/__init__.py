"""The command line: a thin typer layer over the core. ``main`` is the entry point.

This package imports nothing at start: ``npuslim --version`` alone is answered
without typer, rich or any command (``npuslim.report.environment``), everything
else by the typer application in ``npuslim.cli.application``, whose ``app`` and
``STATE`` are also reachable from here.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # mypy treats the name as true; typing itself is not imported for --version
if TYPE_CHECKING:
    from typing import Any

_FROM_APP = ("app", "STATE", "OneLineErrors", "COMMANDS", "USAGE_EXIT", "load_command")


def main() -> None:
    """The entry point. Ctrl-C, SIGTERM and SIGHUP are handled from here on (``npuslim.cli.signals``),
    importing the command's modules included; once the run is over they are ignored, so that one
    arriving as the process exits changes neither its result nor its exit code."""
    from npuslim.cli.signals import INTERRUPT_EXIT, ignore_stop_signals, say_stop_once, stop_reason, stopping_cleanly

    try:
        with stopping_cleanly():
            if sys.argv[1:] in (["--version"], ["-V"]):
                from npuslim.report.environment import describe_environment, environment_lines

                sys.stdout.write("\n".join(environment_lines(describe_environment())) + "\n")
                sys.exit(0)
            from npuslim.cli.application import run

            run()
    except KeyboardInterrupt as exc:  # before the command line could say it: while its modules were imported
        sys.exit(say_stop_once(stop_reason(exc) or (INTERRUPT_EXIT, "interrupted"), _plain_error))
    finally:
        ignore_stop_signals()


def _plain_error(message: str) -> None:
    try:
        sys.stderr.write(f"npuslim: error: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass


def __getattr__(name: str) -> Any:
    if name in _FROM_APP:
        from npuslim.cli import application as module

        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
