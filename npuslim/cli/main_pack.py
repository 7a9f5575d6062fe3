"""``npuslim pack``: strip, UPX, archive, and an honest size report."""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from npuslim.cli.common import OutputFormat, error_boundary, stderr, stdout, write_text_atomic
from npuslim.errors import InputError
from npuslim.units import BASELINE_BYTES, format_size, parse_size, percent
from npuslim.upx import LEVELS

if TYPE_CHECKING:
    from npuslim.report import SizeReport


class ArchiveFormat(str, Enum):
    zip = "zip"
    tar_xz = "tar.xz"
    none = "none"


@error_boundary
def pack(
    bundle: Annotated[Path, typer.Argument(help="Bundle folder made by npuslim extract.")],
    strip: Annotated[bool, typer.Option("--strip", help="Remove signatures, debug directories and COFF "
                                        "symbols (the DLLs are no longer signed).")] = False,
    upx: Annotated[bool, typer.Option("--upx", help="Compress DLLs with UPX.")] = False,
    upx_path: Annotated[Path | None, typer.Option("--upx-path", help="UPX binary (else NPUSLIM_UPX, "
                                                  "else PATH).", dir_okay=False, show_default=False)] = None,
    upx_level: Annotated[str | None, typer.Option("--upx-level", help=f"UPX level: {'|'.join(LEVELS)} "
                                                  "(default: UPX's own).", show_default=False)] = None,
    upx_force_cfg: Annotated[bool, typer.Option("--upx-force-cfg", help="Pack Control Flow Guard DLLs "
                                                "too (UPX 4+ --force: CFG is turned off).")] = False,
    upx_exclude: Annotated[list[str] | None, typer.Option("--upx-exclude", help="Never UPX DLLs matching "
                                                          "this pattern (repeatable).", show_default=False)] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Files packed in parallel.", min=1)] = os.cpu_count() or 1,
    archive: Annotated[ArchiveFormat, typer.Option("--archive", help="Archive to write beside the bundle.")]
    = ArchiveFormat.zip,
    archive_path: Annotated[Path | None, typer.Option("--archive-path", help="Where to write the archive "
                                                      "(default: BUNDLE.zip or BUNDLE.tar.xz beside it).",
                                                      dir_okay=False, show_default=False)] = None,
    baseline: Annotated[str, typer.Option("--baseline", help="Size of the full install to compare with.")]
    = "1.75GB",
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="text: a table; json: the size report "
                                              "(as size-report.json).")] = OutputFormat.text,
) -> None:
    """Make a bundle smaller for shipping and report, honestly, what it cost.

    Writes size-report.md and size-report.json into the bundle and updates its
    manifest; npuslim verify passes afterwards.
    """
    from npuslim.pack import PackOptions, pack_bundle
    from npuslim.report import SizeReport, report_json, report_markdown

    if upx_level is not None and upx_level not in LEVELS:
        raise InputError(f"--upx-level must be one of {', '.join(LEVELS)}")
    try:
        baseline_bytes = parse_size(baseline)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if archive_path is not None and archive is ArchiveFormat.none:
        raise InputError("--archive-path needs --archive zip or tar.xz")
    options = PackOptions(
        strip=strip, upx=upx, upx_path=upx_path, upx_level=upx_level, upx_force_cfg=upx_force_cfg,
        upx_exclude=tuple(upx_exclude or ()), jobs=jobs, archive=archive.value, archive_path=archive_path,
    )
    err = stderr()
    if err.is_terminal:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=err, transient=True) as bar:
            tasks: dict[str, TaskID] = {}

            def progress(path: str, stage: str) -> None:
                key = path or "bundle"
                label = f"{path}: {stage}" if path else stage
                if key in tasks:
                    bar.update(tasks[key], description=label)
                else:
                    tasks[key] = bar.add_task(label)

            result = pack_bundle(bundle, options, progress=progress)
    else:
        result = pack_bundle(bundle, options)
    source = result.lock.source
    report = SizeReport(result, int(source.get("size") or 0), str(source.get("size_measured_as", "")),
                        baseline_bytes or BASELINE_BYTES)
    write_text_atomic(bundle / "size-report.md", report_markdown(report))
    write_text_atomic(bundle / "size-report.json", report_json(report))
    if fmt is OutputFormat.json:
        stdout().out(report_json(report), end="")
    else:
        _print(report)


def _print(report: SizeReport) -> None:
    console = stdout()
    r = report.result
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("DLL", no_wrap=True)
    table.add_column("original", justify="right")
    table.add_column("strip", justify="right")
    table.add_column("UPX", justify="right")
    table.add_column("final", justify="right")
    table.add_column("UPX result")
    reasons: dict[str, list[str]] = {}
    for f in r.files:
        status = f.upx_status
        if f.upx_status == "packed" and f.upx_seconds is not None:
            status += f" {f.upx_seconds:.1f} s"
        elif f.upx_message:
            reasons.setdefault(f.upx_message, []).append(f.path.split("/")[-1])
        style = {"packed": "green", "refused": "yellow", "failed": "red", "skipped": "yellow"}.get(f.upx_status, "")
        table.add_row(f.path.split("/")[-1], format_size(f.original_size),
                      format_size(f.after_strip) if f.after_strip is not None else "-",
                      format_size(f.after_upx) if f.after_upx is not None else "-",
                      format_size(f.final_size), f"[{style}]{status}[/]" if style else status)
    table.add_row("other files", format_size(r.other_bytes), "", "", format_size(r.other_bytes), "")
    table.add_row("[bold]bundle[/]", f"[bold]{format_size(report.bundle_original)}[/]", "", "",
                  f"[bold]{format_size(report.bundle_final)}[/]", "")
    console.print(table)
    for message, names in reasons.items():
        console.print(f"[yellow]not packed[/] {', '.join(names)}: {message}", soft_wrap=True)
    console.print(f"installed: {format_size(report.bundle_original)} -> {format_size(report.bundle_final)}; "
                  f"download (xz -9): {format_size(report.xz_unpacked)} unpacked vs "
                  f"{format_size(report.xz_packed)} packed", soft_wrap=True)
    if r.archive is not None and r.archive_size is not None:
        console.print(f"archive: {r.archive} ({format_size(r.archive_size)})", soft_wrap=True)
    console.print(f"bundle = {percent(report.bundle_final, report.source_size)} of the source install "
                  f"({format_size(report.source_size)}), {percent(report.bundle_final, report.baseline)} of "
                  f"{format_size(report.baseline)}", soft_wrap=True)
    costs = []
    if report.signatures_lost:
        costs.append(f"{len(report.signatures_lost)} signature(s) removed")
    if report.cfg_lost:
        costs.append(f"CFG off in {len(report.cfg_lost)} DLL(s)")
    if report.upx_packed:
        costs.append(f"{format_size(report.load_memory)} decompressed into private memory at load")
    console.print("costs: " + ("; ".join(costs) if costs else "none"), soft_wrap=True)
    console.print(f"reports: {r.bundle / 'size-report.md'}, {r.bundle / 'size-report.json'}", soft_wrap=True)
