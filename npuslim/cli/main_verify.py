"""``npuslim verify``: the bundle is whole, untouched, and its closure complete."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from npuslim import __version__
from npuslim.cli.common import error_boundary, stdout
from npuslim.errors import VerifyError
from npuslim.verify import VerifyResult, verify_bundle


class VerifyFormat(str, Enum):
    text = "text"
    json = "json"


def result_dict(result: VerifyResult) -> dict:
    return {
        "schema": "npuslim.verify",
        "schema_version": 1,
        "tool_version": __version__,
        "bundle": str(result.bundle),
        "ok": result.ok,
        "files_checked": result.files_checked,
        "dlls_checked": result.dlls_checked,
        "problems": [{"path": p.path, "kind": p.kind, "message": p.message} for p in result.problems],
    }


@error_boundary
def verify(
    bundle: Annotated[Path, typer.Argument(help="Bundle folder made by npuslim extract.")],
    fmt: Annotated[VerifyFormat, typer.Option("--format", "-f", help="Output format.")] = VerifyFormat.text,
) -> None:
    """Check every file against the bundle manifest and the closure inside the bundle.

    Exit 0 only when all hold; 5 when a check fails (one line per problem).
    """
    result = verify_bundle(bundle)
    out = stdout()
    if fmt is VerifyFormat.json:
        out.out(json.dumps(result_dict(result), indent=2))
    else:
        for problem in result.problems:
            out.print(f"[red]FAIL[/] {problem.message}", highlight=False, soft_wrap=True)
        status = "[green]OK[/]" if result.ok else f"[bold red]{len(result.problems)} problem(s)[/]"
        out.print(f"{status} {bundle}: {result.files_checked} files checked against the manifest, "
                  f"imports of {result.dlls_checked} DLLs resolved", highlight=False, soft_wrap=True)
    if not result.ok:
        raise typer.Exit(VerifyError.exit_code)
