"""Ctrl-C and SIGTERM at the command line's edge (``npuslim.cli.signals``), in this process."""

from __future__ import annotations

import signal

import pytest
import typer

from npuslim import cli
from npuslim.cli import application, signals
from npuslim.cli.signals import Terminated, stop_reason, stopping_cleanly
from tests.cli_helpers import one_error_line, run

pytestmark = pytest.mark.skipif(not hasattr(signal, "raise_signal") or not hasattr(signal, "SIGHUP"),
                                reason="POSIX signals")


@pytest.fixture(autouse=True)
def handlers():
    """Whatever a case leaves (an ignored signal, the signal that stopped its run) is undone for the next."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    yield saved
    for sig, handler in saved.items():
        signal.signal(sig, handler)
    signals._RUN.signum = None


@pytest.mark.parametrize(("sig", "raised", "reason"), [
    (signal.SIGINT, KeyboardInterrupt, (130, "interrupted")),
    (signal.SIGTERM, Terminated, (143, "terminated")),
    (signal.SIGHUP, Terminated, (129, "terminated (SIGHUP)")),
])
def test_the_first_signal_stops_the_run_and_any_further_one_is_ignored(handlers, sig, raised, reason) -> None:
    with pytest.raises(raised) as caught, stopping_cleanly():
        signal.raise_signal(sig)
    assert type(caught.value) is raised and stop_reason(caught.value) == reason
    for other in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # the clean-up runs on, and so does the exit
        assert signal.getsignal(other) is signal.SIG_IGN
        signal.raise_signal(other)


def test_a_run_without_a_signal_gives_the_handlers_back(handlers) -> None:
    with stopping_cleanly():
        assert signal.getsignal(signal.SIGTERM) is not handlers[signal.SIGTERM]
    assert {sig: signal.getsignal(sig) for sig in handlers} == handlers


def test_a_signal_ignored_at_the_start_stays_ignored(handlers) -> None:
    """Started with nohup, or as a background job: SIGINT is not npuslim's to take."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with stopping_cleanly():
        signal.raise_signal(signal.SIGINT)  # nothing happens
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_the_reason_is_found_behind_clicks_abort() -> None:
    try:
        try:
            raise Terminated(signal.SIGTERM)
        except KeyboardInterrupt as exc:
            raise typer.Abort() from exc
    except typer.Abort as abort:
        assert stop_reason(abort) == (143, "terminated")
    assert stop_reason(ValueError("no")) is None


def test_a_signal_while_a_command_is_imported_is_said_with_its_own_exit_code(monkeypatch) -> None:
    """typer turns an interrupt that escapes the command (here: while its module is imported) into
    a bare exit 130; the run says the signal that came, and its code."""
    def importing(_name: str) -> None:
        signal.raise_signal(signal.SIGTERM)

    monkeypatch.setattr(application.importlib, "import_module", importing)
    result = run("deps", "openvino==2026.4.1")
    assert result.exit_code == 143 and one_error_line(result) == "npuslim: error: terminated"


def test_a_signal_before_the_command_line_is_there_is_one_line_and_its_exit_code(monkeypatch, capsys) -> None:
    """The entry point handles stop signals from its first step: a Ctrl-C while the command line's
    modules load is one line and exit 130, never a traceback; afterwards the signals are ignored."""
    def loading() -> None:
        signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(application, "run", loading)
    monkeypatch.setattr("sys.argv", ["npuslim", "deps"])
    with pytest.raises(SystemExit) as stopped:
        cli.main()
    assert stopped.value.code == 130
    assert capsys.readouterr().err == "npuslim: error: interrupted\n"
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_the_entry_point_ignores_stop_signals_once_the_run_is_over(monkeypatch) -> None:
    monkeypatch.setattr(application, "run", lambda: None)
    monkeypatch.setattr("sys.argv", ["npuslim", "deps"])
    cli.main()
    assert all(signal.getsignal(sig) is signal.SIG_IGN for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP))
