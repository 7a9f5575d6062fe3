"""The command line: a thin typer layer over the core. ``main`` is the entry point."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer import _click
from typer.core import TyperGroup

from npuslim.cli.common import STATE, print_error
from npuslim.cli.main_deps import deps
from npuslim.cli.main_diff import diff
from npuslim.cli.main_extract import extract
from npuslim.cli.main_pack import pack
from npuslim.cli.main_verify import verify
from npuslim.cli.main_wheel import wheel
from npuslim.schema_check import skip_slow_format_checkers

USAGE_EXIT = 2


class OneLineErrors(TyperGroup):
    """typer's group, but a bad command line is one line on stderr and exit 2 (not a box).

    ``npuslim`` alone still prints the help (exit 2, as click does).
    """

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, windows_expand_args: bool = True,
             **extra: Any) -> Any:
        STATE["debug"] = False  # one run's --debug never leaks into the next (tests run many in one process)
        args = _take_debug(list(sys.argv[1:] if args is None else args))
        _drop_unbounded_terminal_size()
        try:
            rv = super().main(args=args, prog_name=prog_name or "npuslim", complete_var=complete_var,
                              standalone_mode=False, windows_expand_args=windows_expand_args, **extra)
        except _click.exceptions.NoArgsIsHelpError as exc:
            if exc.ctx is not None:
                typer.echo(exc.ctx.get_help(), err=True)
            code = USAGE_EXIT
        except _click.exceptions.UsageError as exc:
            where = f"{exc.ctx.command_path}: " if exc.ctx is not None and exc.ctx.command_path else ""
            print_error(f"{where}{exc.format_message()} (see --help)")
            code = USAGE_EXIT
        except _click.exceptions.ClickException as exc:
            print_error(exc.format_message())
            code = exc.exit_code
        except (typer.Abort, KeyboardInterrupt):
            print_error("interrupted")
            code = 130
        else:
            code = rv if isinstance(rv, int) else 0
        if not standalone_mode:
            return code
        sys.exit(code)


def _drop_unbounded_terminal_size() -> None:
    """Forget ``COLUMNS`` / ``LINES`` that are not a plain number of at most 5 digits: rich reads them
    with ``int()``, which a 5000-digit value makes raise before any error can be printed."""
    for name in ("COLUMNS", "LINES"):
        value = os.environ.get(name, "").strip()
        if value and not (value.isascii() and value.isdigit() and len(value) <= 5):
            del os.environ[name]


def _take_debug(args: list[str]) -> list[str]:
    """``--debug`` anywhere before ``--`` (``npuslim deps --debug ...`` as well as ``npuslim --debug deps``):
    taken out of the arguments and remembered; the commands never see it."""
    end = args.index("--") if "--" in args else len(args)
    if "--debug" in args[:end]:
        STATE["debug"] = True
        args = [a for a in args[:end] if a != "--debug"] + args[end:]
    return args


app = typer.Typer(
    name="npuslim",
    cls=OneLineErrors,
    help="The minimal part of an OpenVINO install that the Intel NPU needs: find it, extract it, pack it.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from npuslim.report.environment import describe_environment, environment_lines

        typer.echo("\n".join(environment_lines(describe_environment())))
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", "-V", callback=_version, is_eager=True,  # noqa: ARG001 - acted on by its eager callback
                                          help="Show the version of npuslim, Python, the platform, the "
                                          "libraries and the tools it finds (UPX, Wine, mingw-w64), "
                                          "and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Also show the traceback of an error "
                                        "(the message and exit code stay the same); also accepted after "
                                        "the command.")] = False,
) -> None:
    STATE["debug"] = bool(STATE["debug"]) or debug


app.command("deps")(deps)
app.command("extract")(extract)
app.command("verify")(verify)
app.command("pack")(pack)
app.command("diff")(diff)
app.command("wheel")(wheel)


def main() -> None:
    skip_slow_format_checkers()  # this process is npuslim alone: see npuslim.schema_check
    app()
