"""Every command's --help reads well at 80 columns: nothing cut off or too long, every option
whole, upper-case metavars, defaults in one form, and the exit codes the command can return.

Pure: typer's CliRunner with COLUMNS=80 (rich lays the help out to it, as in a terminal).
"""

from __future__ import annotations

import inspect
import re

import pytest

from npuslim.cli.application import COMMANDS as REGISTRY
from npuslim.cli.application import load_command
from npuslim.cli.common import EXIT_MEANINGS
from tests.cli_helpers import run

COMMANDS = ("deps", "extract", "verify", "pack", "diff")
WIDTH = 80


def _command(name: str):  # type: ignore[no-untyped-def]
    return load_command(name)


def _help(name: str) -> str:
    result = run(name, "--help", env={"COLUMNS": str(WIDTH)})
    assert result.exit_code == 0, result.stderr
    return result.stdout


def _flat(text: str) -> str:
    """The help as one line of words: box borders gone, wrapped lines joined."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


@pytest.mark.parametrize("name", COMMANDS)
def test_help_fits_80_columns_and_cuts_nothing(name: str) -> None:
    text = _help(name)
    for line in text.splitlines():
        assert len(line) <= WIDTH, f"{name}: {line!r}"
    assert "…" not in text
    assert "(default:" not in text  # defaults are typer's [default: ...] only


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_is_shown_whole_with_an_upper_case_metavar(name: str) -> None:
    text = _help(name)
    words = set(re.findall(r"(?<![\w-])-{1,2}[\w-]+", text))
    for param in _command(name).params:
        if getattr(param, "hidden", False):
            for opt in param.opts:
                assert opt not in words, f"{name}: hidden {opt} shown"
            continue
        for opt in (*param.opts, *param.secondary_opts):
            if param.param_type_name == "argument":
                assert param.metavar and param.metavar.isupper(), f"{name}: argument {opt}"
                assert param.metavar in text
            else:
                assert opt in words, f"{name}: {opt} missing or cut"
        if param.param_type_name == "option" and not param.is_flag:
            metavar = param.metavar or ""
            choices = getattr(param.type, "choices", None)
            assert metavar.isupper() or (choices and metavar == "|".join(choices)), f"{name}: {param.opts} {metavar!r}"
            assert metavar in text
    usage = next(line for line in text.splitlines() if "Usage:" in line).strip()
    # a required argument as BUNDLE, an optional one as [SOURCE]: the README's words, no braces
    assert re.fullmatch(rf"Usage: npuslim {name} \[OPTIONS\]( (\[[A-Z]+\]|[A-Z]+))+", usage), usage


@pytest.mark.parametrize("name", COMMANDS)
def test_help_lists_the_exit_codes_of_the_command(name: str) -> None:
    flat = _flat(_help(name))
    codes = _command(name).callback.exit_codes
    assert {0, 2, 130, 143} <= set(codes)
    listed = "; ".join(f"{code} {EXIT_MEANINGS[code]}" for code in codes)
    assert f"Exit codes: {listed}." in flat


@pytest.mark.parametrize(("name", "codes"), [("deps", {3, 4, 6, 7}), ("extract", {3, 4, 6, 7, 9}),
                                             ("verify", {4, 5, 6, 7, 8}), ("pack", {4, 5, 6, 7, 9}),
                                             ("diff", {4, 5, 6, 7, 10})])
def test_the_exit_codes_each_command_can_return(name: str, codes: set[int]) -> None:
    assert set(_command(name).callback.exit_codes) == codes | {0, 2, 130, 143}


def test_options_are_grouped_in_panels() -> None:
    assert {"Source", "What to bundle", "Output"} <= set(re.findall(r"╭─ ([^─]+?) ─", _help("extract")))
    assert {"Strip and UPX", "Output", "Size budget and reports", "Work"} <= set(
        re.findall(r"╭─ ([^─]+?) ─", _help("pack")))
    assert "Loading (--load)" in _help("verify")


def test_the_lock_file_is_never_called_a_manifest() -> None:
    for name in COMMANDS:
        flat = _flat(_help(name)).lower()
        assert "bundle manifest" not in flat and "its own manifest" not in flat
    assert "the lock file (npuslim-bundle.json)" in _flat(_help("extract"))


def test_root_help_fits_80_columns() -> None:
    result = run("--help", env={"COLUMNS": str(WIDTH)})
    assert result.exit_code == 0
    assert all(len(line) <= WIDTH for line in result.stdout.splitlines())
    assert "…" not in result.stdout


@pytest.mark.parametrize("name", list(REGISTRY))
def test_the_root_help_summary_is_the_first_paragraph_of_the_command_docstring(name: str) -> None:
    module, attr, summary = REGISTRY[name]
    callback = getattr(__import__(module, fromlist=[attr]), attr)
    assert inspect.getdoc(callback).split("\n\n")[0] == summary  # type: ignore[union-attr]
    assert load_command(name).help.split("\n\n")[0] == summary  # type: ignore[union-attr]

