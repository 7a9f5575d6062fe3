"""``npuslim verify``: the bundle is whole, untouched, and its closure complete."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from npuslim import __version__
from npuslim.cli.common import OutputFormat, error_boundary, esc, stdout, write_stdout
from npuslim.errors import LoadError, VerifyError

if TYPE_CHECKING:
    from npuslim.check.load import LoadResult
    from npuslim.check.verify import VerifyResult


class MsvcRuntime(str, Enum):
    system = "system"
    bundled = "bundled"


def load_dict(load: LoadResult) -> dict:
    return {
        "ok": load.ok, "runner": load.runner, "device": load.device, "msvc_runtime": load.msvc_runtime,
        "verdict": load.verdict,
        "steps": [{"name": s.name, "title": s.title, "ok": s.ok, "detail": s.detail} for s in load.steps],
        "missing": [{"library": lib, "needed_by": needer} for lib, needer in load.missing],
    }


def result_dict(result: VerifyResult, load: LoadResult | None = None) -> dict:
    return {
        "schema": "npuslim.verify",
        "schema_version": 1,
        "tool_version": __version__,
        "bundle": str(result.bundle),
        "ok": result.ok,
        "files_checked": result.files_checked,
        "dlls_checked": result.dlls_checked,
        "problems": [{"path": p.path, "kind": p.kind, "message": p.message} for p in result.problems],
        "load": load_dict(load) if load else None,
    }


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
    from npuslim.check.load import load_bundle
    from npuslim.check.verify import verify_bundle

    result = verify_bundle(bundle)
    loaded = (load_bundle(bundle, device=device, msvc_runtime=msvc_runtime.value, timeout=timeout)
              if load else None)
    out = stdout()
    if fmt is OutputFormat.json:
        write_stdout(json.dumps(result_dict(result, loaded), indent=2) + "\n")
    else:
        for problem in result.problems:
            out.print(f"[red]FAIL[/] {esc(problem.message)}", highlight=False, soft_wrap=True)
        status = "[green]OK[/]" if result.ok else f"[bold red]{len(result.problems)} problem(s)[/]"
        out.print(f"{status} {esc(str(bundle))}: {result.files_checked} files checked against the lock file, "
                  f"imports of {result.dlls_checked} DLLs resolved", highlight=False, soft_wrap=True)
        if loaded is not None:
            out.print(f"load ({loaded.runner}, Visual C++ runtime: {loaded.msvc_runtime}):", highlight=False)
            for step in loaded.steps:
                mark = "[green]ok  [/]" if step.ok else "[yellow]fail[/]"
                out.print(f"  {mark} {esc(step.title)}: {esc(step.detail)}", highlight=False, soft_wrap=True)
            for lib, needer in loaded.missing:
                out.print(f"  [red]missing[/] {esc(lib)} (needed by {esc(needer)})", highlight=False, soft_wrap=True)
            verdict = "[green]OK[/]" if loaded.ok else "[bold red]LOAD FAILED[/]"
            out.print(f"{verdict} {esc(loaded.verdict)}", highlight=False, soft_wrap=True)
    if not result.ok:
        raise typer.Exit(VerifyError.exit_code)
    if loaded is not None and not loaded.ok:
        raise typer.Exit(LoadError.exit_code)
