"""The command line: a thin typer layer over the core.

The commands are imported when one is run (``COMMANDS``): ``npuslim deps``
never imports what ``pack`` or ``verify`` need, and ``npuslim --help`` none of
them. The root help lists each command by the summary kept here, which a test
keeps equal to the first paragraph of the command's own docstring.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from difflib import get_close_matches
from typing import Annotated, Any

import typer
from typer import _click
from typer._click.shell_completion import CompletionItem
from typer.core import TyperArgument, TyperCommand, TyperGroup
from typer.main import get_command_from_info
from typer.models import CommandInfo

from npuslim.cli.common import STATE, print_error
from npuslim.cli.signals import INTERRUPT_EXIT, say_stop_once, stop_reason, stopped, stopping_cleanly

USAGE_EXIT = 2

# name -> (module, function, the first paragraph of its docstring: the root help's summary)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "deps": ("npuslim.cli.main_deps", "deps",
             "List what the NPU plugin (or --root) needs, why, and who provides it."),
    "extract": ("npuslim.cli.main_extract", "extract",
                "Copy what the NPU needs from an OpenVINO install into a bundle folder."),
    "verify": ("npuslim.cli.main_verify", "verify",
               "Check every file against the lock file and the closure inside the bundle."),
    "pack": ("npuslim.cli.main_pack", "pack", "Write a packed copy of BUNDLE and report, honestly, what it cost."),
    "diff": ("npuslim.cli.main_diff", "diff",
             ("Report the files added, removed and changed (size, version, signature, CFG, imports),\n"
              "run-time companions, headers and total size between A and B.")),
    "wheel": ("npuslim.cli.main_wheel", "wheel",
              "Write a slim openvino wheel: the Python package, its extension and what the NPU needs."),
}


def load_command(name: str) -> _click.Command:
    """The click command ``name``, built from its module (imported now)."""
    module, attr, _summary = COMMANDS[name]
    callback = getattr(importlib.import_module(module), attr)
    command = get_command_from_info(CommandInfo(name=name, callback=callback), pretty_exceptions_short=True,
                                    rich_markup_mode="rich")
    for param in command.params:
        if type(param) is TyperArgument:
            param.__class__ = UsageArgument
    return command


class UsageArgument(TyperArgument):
    """typer's argument, named in the usage line as click and the README write it: ``BUNDLE``, where
    typer writes ``{BUNDLE}`` (braces that read as "one of"); an optional one stays ``[SOURCE]``."""

    def make_metavar(self, ctx: _click.Context, *, usage: bool = False) -> str:
        var = super().make_metavar(ctx, usage=usage)
        if usage and self.required and len(var) > 2 and var[0] == "{" and var[-1] == "}":
            return var[1:-1]
        return var


class OneLineErrors(TyperGroup):
    """typer's group, but a bad command line is one line on stderr and exit 2 (not a box).

    ``npuslim`` alone still prints the help (exit 2, as click does). The commands
    are ``COMMANDS``, each built from its module when it is asked for; the root
    help and the completion of command names see a stand-in carrying the name
    and summary only, so that they import no command.
    """

    _listing = False

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            if self._listing:
                return TyperCommand(cmd_name, help=COMMANDS[cmd_name][2])
            self.commands[cmd_name] = load_command(cmd_name)
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx: _click.Context,
                        args: list[str]) -> tuple[str | None, _click.Command | None, list[str]]:
        """typer's, whose "Did you mean" looks at the commands built so far: here, at ``COMMANDS``."""
        try:
            return super().resolve_command(ctx, args)
        except _click.exceptions.UsageError as exc:
            matches = get_close_matches(args[0], list(COMMANDS)) if args and self.suggest_commands else []
            if matches and "Did you mean" not in exc.message:
                exc.message = f"{exc.message.rstrip('.')}. Did you mean {', '.join(repr(m) for m in matches)}?"
            raise

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def shell_complete(self, ctx: _click.Context, incomplete: str) -> list[CompletionItem]:
        self._listing = True
        try:
            return super().shell_complete(ctx, incomplete)
        finally:
            self._listing = False

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, windows_expand_args: bool = True,
             **extra: Any) -> Any:
        STATE["debug"] = False  # one run's --debug never leaks into the next (tests run many in one process)
        args = _take_debug(list(sys.argv[1:] if args is None else args))
        _drop_unbounded_terminal_size()
        with stopping_cleanly():  # the entry point's already, when run as npuslim; typer's test runner needs its own
            code = self._main(args, prog_name, complete_var, windows_expand_args, **extra)
        if not standalone_mode:
            return code
        sys.exit(code)

    def _main(self, args: list[str], prog_name: str | None, complete_var: str | None, windows_expand_args: bool,
              **extra: Any) -> int:
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
        except (typer.Abort, KeyboardInterrupt) as exc:
            code = say_stop_once(stop_reason(exc) or (INTERRUPT_EXIT, "interrupted"), print_error)
        else:
            code = rv if isinstance(rv, int) else 0
        reason = stopped()  # typer turns an interrupt that escaped the command into a bare exit 130
        return say_stop_once(reason, print_error) if reason is not None else code


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



def run() -> None:
    """The whole command line (``main`` comes here for everything but ``--version`` alone)."""
    from npuslim.schema_check import skip_slow_format_checkers

    skip_slow_format_checkers()  # this process is npuslim alone: see npuslim.schema_check
    app()
