"""``npuslim wheel``: a slim openvino wheel (NPU plugin, the Python extension, chosen features)
that pip installs in place of the official one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from npuslim.cli.common import (
    OUTPUT_PANEL,
    ManifestOpt,
    PlatformOpt,
    SourceArg,
    error_boundary,
    esc,
    exits,
    locate_sources,
    manifest_for,
    stdout,
)
from npuslim.cli.progress_display import progress_display
from npuslim.cli.streams import stderr
from npuslim.errors import UsageError
from npuslim.source.locate import DEFAULT_PLATFORM
from npuslim.units import format_size, percent

WheelWithOpt = Annotated[
    list[str] | None,
    typer.Option("--with", metavar="FEATURE", show_default=False,
                 help="Also keep FEATURE (repeatable): a manifest feature (onnx, compiler, c-api, ...), a "
                 "device plugin (cpu, gpu) or a Python frontend (onnx, pytorch, tensorflow, paddle, jax)."),
]
WheelWithoutOpt = Annotated[
    list[str] | None,
    typer.Option("--without", metavar="FEATURE", show_default=False,
                 help="Leave out a default feature (repeatable), such as ir."),
]


@exits(3, 4, 6, 7)
@error_boundary
def wheel(
    source: SourceArg = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", metavar="DIST", rich_help_panel=OUTPUT_PANEL, show_default=False,
        help="Folder to write the slim wheel into (created when missing).")] = None,
    platform: PlatformOpt = DEFAULT_PLATFORM,
    with_: WheelWithOpt = None,
    without: WheelWithoutOpt = None,
    manifest: ManifestOpt = None,
) -> None:
    """Write a slim openvino wheel: the Python package, its extension and what the NPU needs.

    SOURCE is an official openvino wheel (a .whl file or a requirement such
    as openvino==2026.4.1 with --platform). The slim wheel has the same name,
    release and tags with a local version naming what it holds
    (openvino-2026.4.1+npu-...whl, +npu.cpu with --with cpu); its RECORD is
    regenerated and its dist-info carries npuslim-wheel.json (what was kept
    and why). A dropped Python frontend raises an ImportError naming the
    --with that keeps it.
    """
    from npuslim.pipeline import wheel as pipeline

    if out is None:
        raise UsageError("wheel needs the folder to write into: -o DIST")
    sources = locate_sources(source, None, platform=platform, manifest=manifest_for(manifest, None),
                             search_paths=())
    with progress_display() as progress:
        plan = pipeline.plan_slim_wheel(sources, with_=with_, without=without, progress=progress)
    with progress_display() as progress:
        written = pipeline.write_slim_wheel(plan, out, progress=progress)
    official = plan.source_wheel.stat().st_size
    console = stdout()
    console.print(f"{esc(str(written.path))}", highlight=False, soft_wrap=True)
    console.print(f"  openvino {esc(plan.version)}: {written.files} files, {format_size(written.size)} "
                  f"= {percent(written.size, official)} of the official wheel ({format_size(official)}); "
                  f"features: {esc(', '.join(plan.features.names) or 'none')}; "
                  f"{len(plan.dropped)} members dropped", highlight=False, soft_wrap=True)
    err = stderr()
    for chain in plan.eager:
        err.print(f"npuslim: note: import openvino reaches the dropped {esc(chain.chain[-1])} only inside a "
                  f"try that catches ImportError ({esc(' -> '.join(chain.chain))})", highlight=False, soft_wrap=True)
    for warning in plan.warnings:
        err.print(f"npuslim: warning: {esc(warning)}", highlight=False, soft_wrap=True)
