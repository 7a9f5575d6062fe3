"""``npuslim verify``: the bundle is whole, untouched, and its closure complete."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from npuslim.cli.common import (
    OUTPUT_PANEL,
    OutputFormat,
    check_bundle_arg,
    error_boundary,
    exits,
    print_error,
    print_lines,
    stdout,
    warn,
    width_of,
    write_stdout,
)
from npuslim.cli.layout import prose, wrap
from npuslim.cli.progress_display import progress_display
from npuslim.errors import UsageError

if TYPE_CHECKING:
    from npuslim.check.loading import LoadStep
    from npuslim.pipeline.verify import VerifyOutcome


class MsvcRuntime(str, Enum):
    system = "system"
    bundled = "bundled"


class SandboxChoice(str, Enum):
    auto = "auto"
    require = "require"
    off = "off"


LOAD_PANEL = "Loading (--load)"


def _timeout(value: float) -> float:
    from npuslim.units import check_seconds

    try:
        return check_seconds(value, least=1)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--timeout'") from None


@exits(4, 5, 6, 7, 8)
@error_boundary
def verify(
    bundle: Annotated[Path, typer.Argument(metavar="BUNDLE", help="Bundle folder made by npuslim extract.")],
    fmt: Annotated[OutputFormat, typer.Option(
        "--format", "-f", metavar="FORMAT", rich_help_panel=OUTPUT_PANEL,
        help="text: one line per problem; json: the verdicts and every load step.")] = OutputFormat.text,
    archive: Annotated[Path | None, typer.Option(
        "--archive", metavar="PATH",
        help="Also check this archive (pack --archive) member by member against the lock file; by default "
        "the one pack wrote beside the bundle (BUNDLE.zip, BUNDLE.tar.xz) is checked when it is there.")] = None,
    load: Annotated[bool, typer.Option(
        "--load", rich_help_panel=LOAD_PANEL,
        help="Also load the bundle through the Windows loader (Wine on Linux; a Linux bundle natively) "
        "and report each step. This executes the bundle's code (library constructors, DllMain, the "
        "plugins): in a bubblewrap sandbox when one works (see --sandbox), else with your rights.")] = False,
    msvc_runtime_from: Annotated[MsvcRuntime, typer.Option(
        "--msvc-runtime-from", metavar="system|bundled", rich_help_panel=LOAD_PANEL,
        help="Where the Visual C++ runtime comes from: system lets the machine provide it (Wine's own); "
        "bundled allows only Microsoft's DLLs, so the bundle must carry them.")] = MsvcRuntime.system,
    old_msvc_runtime: Annotated[MsvcRuntime | None, typer.Option(
        "--msvc-runtime", hidden=True, help="Deprecated spelling of --msvc-runtime-from.")] = None,
    device: Annotated[str, typer.Option("--device", metavar="NAME", rich_help_panel=LOAD_PANEL,
                                        help="The device to ask for.")] = "NPU",
    timeout: Annotated[float, typer.Option(
        "--timeout", metavar="SECONDS", callback=_timeout, rich_help_panel=LOAD_PANEL,
        help="A load that takes longer has failed (exit 8).")] = 180.0,
    sandbox: Annotated[SandboxChoice, typer.Option(
        "--sandbox", metavar="auto|require|off", rich_help_panel=LOAD_PANEL,
        help="auto: run the load in bubblewrap (read-only filesystem, no network) when it works, else "
        "unconfined, and say so; require: refuse to run unconfined (exit 6); off: never confine.")]
        = SandboxChoice.auto,
) -> None:
    """Check every file against the lock file and the closure inside the bundle.

    --load runs the bundle's own code; see --sandbox for how it is confined.
    Exit 0 only when all hold. A failed check is exit 5 (one line per
    problem), a failed load exit 8; either verdict is also one line on stderr.
    """
    msvc_runtime = _msvc_runtime(msvc_runtime_from, old_msvc_runtime)
    from npuslim.pipeline.verify import verify_and_load
    from npuslim.report.verify_json import verify_json

    check_bundle_arg(bundle)
    request = None
    if load:  # the loaders' modules are imported for --load only
        from npuslim.check.loading import LoadRequest
        from npuslim.check.sandbox import SandboxMode

        request = LoadRequest(device=device, msvc_runtime=msvc_runtime.value, timeout=timeout,
                              sandbox=SandboxMode(sandbox.value))
    with progress_display() as progress:
        outcome = verify_and_load(bundle, load=request, archive=archive, progress=progress)
    if outcome.load is not None and not outcome.load.sandboxed and sandbox is not SandboxChoice.off:
        warn(f"verify --load: {outcome.load.sandbox}")
    if fmt is OutputFormat.json:
        write_stdout(verify_json(outcome.result, outcome.load))
    else:
        _print(outcome)
    for line in verdict_lines(outcome):
        print_error(line)
    if outcome.failure is not None:
        raise typer.Exit(outcome.failure.exit_code)


def _msvc_runtime(new: MsvcRuntime, old: MsvcRuntime | None) -> MsvcRuntime:
    """``--msvc-runtime-from``, or the deprecated ``--msvc-runtime`` (with a warning line)."""
    if old is None:
        return new
    warn("verify --msvc-runtime is deprecated; use --msvc-runtime-from (extract's --msvc-runtime "
         "is the folder to ship the runtime from)")
    if new is not MsvcRuntime.system and new is not old:
        raise UsageError(f"--msvc-runtime-from {new.value} and --msvc-runtime {old.value} disagree; "
                         "give --msvc-runtime-from alone")
    return old


# What a failed check of each kind says in the one-line verdict on stderr.
_PROBLEM_WORDS = {
    "missing": "missing", "size": "changed", "sha256": "changed", "extra": "not in the lock file",
    "symlink": "a symbolic link", "link": "a wrong link", "not-a-file": "not a regular file",
    "unreadable": "unreadable", "unresolved": "with imports that do not resolve",
    "missing-symbol": "missing imported symbols",
    "archive-missing": "missing from the archive", "archive-extra": "in the archive but not in the lock file",
    "archive-changed": "changed in the archive", "archive-damaged": "damaged in the archive",
    "archive-unreadable": "unreadable as an archive",
}


def verdict_lines(outcome: VerifyOutcome, most: int = 3) -> list[str]:
    """One line per failed verdict, for stderr whatever the format:
    ``bundle does not verify: 1 file changed (bin/x.dll)``, ``bundle does not load: ...``."""
    lines = []
    if not outcome.result.ok:
        groups: dict[str, list[str]] = {}
        for problem in outcome.result.problems:
            paths = groups.setdefault(_PROBLEM_WORDS.get(problem.kind, problem.kind), [])
            if problem.path not in paths:
                paths.append(problem.path)
        parts = [f"{len(paths)} file{'' if len(paths) == 1 else 's'} {words} ({', '.join(paths[:most])}"
                 f"{', ...' if len(paths) > most else ''})" for words, paths in groups.items()]
        lines.append(f"bundle does not verify: {'; '.join(parts)}")
    if outcome.load is not None and not outcome.load.ok:
        lines.append(f"bundle does not load: {outcome.load.verdict}")
    return lines


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
    if result.archive is not None:
        lines += wrap(prose(f"archive {result.archive.path} ({result.archive.format}): "
                            f"{result.archive.members_checked} members match the lock file"), width, rest="    ")
    if loaded is not None:
        lines += wrap(prose(f"load ({loaded.runner}, Visual C++ runtime: {loaded.msvc_runtime}):"), width)
        for step in loaded.steps:
            mark, text = _step_line(step)
            lines += wrap([mark, *prose(text)], width, first="  ", rest="       ")
        for lib, needer in loaded.missing:
            lines += wrap([Text("missing", style="red"), lib, "(needed", "by", f"{needer})"], width,
                          first="  ", rest="    ")
        lines += wrap(prose(f"sandbox: {loaded.sandbox}"), width, first="  ", rest="    ")
        verdict = Text("OK", style="green") if loaded.ok else Text("LOAD FAILED", style="bold red")
        lines += wrap([verdict, *prose(loaded.verdict)], width, rest="    ")
    print_lines(console, lines)


def _step_line(step: LoadStep) -> tuple[Text, str]:
    """The mark (``ok``, ``fail``, ``--``) and text of one load step; a step that could not be
    checked here says why, never ``fail``."""
    from npuslim.check.loading import CheckState  # the load's modules: only when a load ran

    state = step.state
    if state is CheckState.NOT_CHECKED:
        return Text("--  ", style="dim"), f"{step.title}: not checked ({step.not_checked}): {step.detail}"
    if state is CheckState.PASSED:
        return Text("ok  ", style="green"), f"{step.title}: {step.detail}"
    return Text("fail", style="red"), f"{step.title}: {step.detail}"
