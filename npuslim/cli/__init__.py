"""The command line: a thin typer layer over the core. ``main`` is the entry point."""

from __future__ import annotations

from typing import Annotated

import typer

from npuslim import __version__
from npuslim.cli.common import STATE
from npuslim.cli.main_deps import deps
from npuslim.cli.main_diff import diff
from npuslim.cli.main_extract import extract
from npuslim.cli.main_pack import pack
from npuslim.cli.main_verify import verify

app = typer.Typer(
    name="npuslim",
    help="The minimal part of an OpenVINO install that the Intel NPU needs: find it, extract it, pack it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"npuslim {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")] = False,
) -> None:
    STATE["debug"] = debug


app.command("deps")(deps)
app.command("extract")(extract)
app.command("verify")(verify)
app.command("pack")(pack)
app.command("diff")(diff)


def main() -> None:
    app()
