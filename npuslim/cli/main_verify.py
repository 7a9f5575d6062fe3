"""``npuslim verify``: the bundle is whole, untouched, and its closure complete."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from npuslim.check.loading import CheckState
from npuslim.cli.common import (
    OutputFormat,
    check_bundle_arg,
    error_boundary,
    print_lines,
    stdout,
    width_of,
    write_stdout,
)
from npuslim.cli.layout import prose, wrap
from npuslim.cli.progress_display import progress_display

if TYPE_CHECKING:
    from npuslim.check.loading import LoadStep
    from npuslim.pipeline.verify import VerifyOutcome


class MsvcRuntime(str, Enum):
    system = "system"
    bundled = "bundled"


@error_boundary
def verify(
    bundle: Annotated[Path, typer.Argument(help="Bundle folder made by npuslim extract.")],
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.text,
    load: Annotated[bool, typer.Option("--load", help="Also load the bundle through the Windows loader "
                                       "(Wine on Linux) and report each step.")] = False,
    msvc_runtime: Annotated[MsvcRuntime, typer.Option(
        "--msvc-runtime", help="With --load: 'system' lets the machine provide the Visual C++ runtime "
        "(Wine's own); 'bundled' allows only Microsoft's DLLs, so the bundle must carry them.")]
    = MsvcRuntime.system,
    device: Annotated[str, typer.Option("--device", help="With --load: the device to ask for.")] = "NPU",
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="With --load: seconds to wait for the "
                                           "load; a load that takes longer has failed (exit 8).")] = 180.0,
) -> None:
    """Check every file against the lock file and the closure inside the bundle.

    Exit 0 only when all hold; 5 when a check fails (one line per problem);
    8 when --load fails.
    """
    from npuslim.check.loading import LoadRequest
    from npuslim.pipeline.verify import verify_and_load
    from npuslim.report.verify_json import verify_json

    check_bundle_arg(bundle)
    request = LoadRequest(device=device, msvc_runtime=msvc_runtime.value, timeout=timeout) if load else None
    with progress_display() as progress:
        outcome = verify_and_load(bundle, load=request, progress=progress)
    if fmt is OutputFormat.json:
        write_stdout(verify_json(outcome.result, outcome.load))
    else:
        _print(outcome)
    if outcome.failure is not None:
        raise typer.Exit(outcome.failure.exit_code)


def _print(outcome: VerifyOutcome) -> None:
    """One line per problem, the verdict, then each step of the load when there was one."""
    console = stdout()
    width = width_of(console)
    result, loaded = outcome.result, outcome.load
    lines: list[Text] = []
    for problem in result.problems:
        lines += wrap([Text("FAIL", style="red"), *prose(problem.message)], width, rest="     ")
    status = Text("OK", style="green") if result.ok else Text(f"{len(result.problems)} problem(s)", style="bold red")
    lines += wrap([status, f"{result.bundle}:", *prose(f"{result.files_checked} files checked against the "
                                                        f"lock file, imports of {result.dlls_checked} DLLs resolved")],
                  width, rest="    ")
    if loaded is not None:
        lines += wrap(prose(f"load ({loaded.runner}, Visual C++ runtime: {loaded.msvc_runtime}):"), width)
        for step in loaded.steps:
            mark, text = _step_line(step)
            lines += wrap([mark, *prose(text)], width, first="  ", rest="       ")
        for lib, needer in loaded.missing:
            lines += wrap([Text("missing", style="red"), lib, "(needed", "by", f"{needer})"], width,
                          first="  ", rest="    ")
        verdict = Text("OK", style="green") if loaded.ok else Text("LOAD FAILED", style="bold red")
        lines += wrap([verdict, *prose(loaded.verdict)], width, rest="    ")
    print_lines(console, lines)


def _step_line(step: LoadStep) -> tuple[Text, str]:
    """The mark (``ok``, ``fail``, ``--``) and text of one load step; a step that could not be
    checked here says why, never ``fail``."""
    state = step.state
    if state is CheckState.NOT_CHECKED:
        return Text("--  ", style="dim"), f"{step.title}: not checked ({step.not_checked}): {step.detail}"
    if state is CheckState.PASSED:
        return Text("ok  ", style="green"), f"{step.title}: {step.detail}"
    return Text("fail", style="red"), f"{step.title}: {step.detail}"
