"""The command line: a thin typer layer over the core. ``main`` is the entry point.

This package imports nothing at start: ``npuslim --version`` alone is answered
without typer, rich or any command (``npuslim.report.environment``), everything
else by the typer application in ``npuslim.cli.application``, whose ``app`` and
``STATE`` are also reachable from here.
"""

from __future__ import annotations

import sys
from typing import Any

_FROM_APP = ("app", "STATE", "OneLineErrors", "COMMANDS", "USAGE_EXIT", "load_command")


def main() -> None:
    if sys.argv[1:] in (["--version"], ["-V"]):
        from npuslim.report.environment import describe_environment, environment_lines

        sys.stdout.write("\n".join(environment_lines(describe_environment())) + "\n")
        sys.exit(0)
    from npuslim.cli.application import run

    run()


def __getattr__(name: str) -> Any:
    if name in _FROM_APP:
        from npuslim.cli import application as module

        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
