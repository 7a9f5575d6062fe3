"""Driving the CLI through typer's test runner, with rich's width pinned."""

from __future__ import annotations

from typer.testing import CliRunner

from npuslim.cli import app


def run(*args: str, env: dict[str, str] | None = None):
    runner = CliRunner()
    full_env = {"COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"}
    full_env.update(env or {})
    return runner.invoke(app, list(args), env=full_env, catch_exceptions=False)


def one_error_line(result) -> str:
    """The single stderr line of a failed command (and no traceback anywhere)."""
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("npuslim: error: ")
    return lines[0]
