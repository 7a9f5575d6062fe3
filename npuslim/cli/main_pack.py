"""``npuslim pack``: a packed copy of a bundle (strip, UPX, archive) and an honest size report."""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.text import Text

from npuslim.act.upx import DEFAULT_TIMEOUT, LEVELS
from npuslim.cli.common import (
    BUDGET_PANEL,
    OUTPUT_PANEL,
    OutputFormat,
    check_bundle_arg,
    error_boundary,
    exits,
    print_lines,
    stdout,
    width_of,
)
from npuslim.cli.layout import Column, Piece, listed, prose, table, wrap
from npuslim.cli.progress_display import progress_display
from npuslim.cli.streams import stderr
from npuslim.units import format_size, parse_size, percent

if TYPE_CHECKING:
    from npuslim.act.pack import PackOptions
    from npuslim.report.size_report import SizeReport


class ArchiveFormat(str, Enum):
    zip = "zip"
    tar_xz = "tar.xz"
    none = "none"


UpxLevel = Enum("UpxLevel", {f"level_{v}": v for v in LEVELS}, type=str)  # type: ignore[misc]


def _baseline(value: str) -> int:
    try:
        return parse_size(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--baseline'") from None


def _max_size(value: str) -> None:
    from npuslim.errors import InputError
    from npuslim.units import parse_budget

    try:
        parse_budget(value)
    except InputError as exc:
        raise typer.BadParameter(str(exc).removeprefix("--max-size: "), param_hint="'--max-size'") from None


def _upx_timeout(value: float) -> float:
    from npuslim.units import check_seconds

    try:
        return check_seconds(value, least=0.1)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--upx-timeout'") from None


# --jobs past this many would only queue threads for files that do not exist
MAX_JOBS = 1024

UPX_PANEL = "Strip and UPX"
WORK_PANEL = "Work"


@exits(4, 5, 6, 7, 9)
def pack(
    bundle: Annotated[Path, typer.Argument(metavar="BUNDLE",
                                           help="Bundle folder made by npuslim extract (only read).")],
    strip: Annotated[bool, typer.Option(
        "--strip", rich_help_panel=UPX_PANEL,
        help="Remove signatures, debug directories and COFF symbols (the DLLs are no longer signed); "
        "Linux: GNU strip --strip-unneeded, kept only when smaller.")] = False,
    upx: Annotated[bool, typer.Option("--upx", rich_help_panel=UPX_PANEL,
                                      help="Compress DLLs (Linux: shared objects) with UPX.")] = False,
    upx_path: Annotated[Path | None, typer.Option(
        "--upx-path", metavar="FILE", rich_help_panel=UPX_PANEL, dir_okay=False,
        show_default="NPUSLIM_UPX, else upx or upx-ucl on PATH", help="The UPX program.")] = None,
    upx_level: Annotated[UpxLevel | None, typer.Option(
        "--upx-level", metavar="LEVEL", rich_help_panel=UPX_PANEL, show_default="UPX's own",
        help=f"UPX level: {', '.join(LEVELS)}.")] = None,
    upx_force_cfg: Annotated[bool, typer.Option(
        "--upx-force-cfg", rich_help_panel=UPX_PANEL,
        help="Pack Control Flow Guard DLLs too (UPX 4+ --force: CFG is turned off).")] = False,
    upx_exclude: Annotated[list[str] | None, typer.Option(
        "--upx-exclude", metavar="PATTERN", rich_help_panel=UPX_PANEL, show_default=False,
        help="Never UPX DLLs matching this pattern (repeatable).")] = None,
    check_load: Annotated[bool, typer.Option(
        "--check-load", rich_help_panel=UPX_PANEL,
        help="Linux: load each UPX-packed library in a child process (sandboxed when bubblewrap works) and "
        "keep it only when it loads; this runs the bundle's own code.")] = False,
    upx_timeout: Annotated[float, typer.Option(
        "--upx-timeout", metavar="SECONDS", callback=_upx_timeout, rich_help_panel=UPX_PANEL,
        help="How long one UPX run may take before it is stopped (the DLL is then left unpacked).")]
    = DEFAULT_TIMEOUT,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", metavar="OUT", rich_help_panel=OUTPUT_PANEL, show_default="BUNDLE.packed beside BUNDLE",
        help="Folder for the packed bundle.")] = None,
    force: Annotated[bool, typer.Option(
        "--force", rich_help_panel=OUTPUT_PANEL,
        help="Replace OUT when it holds another npuslim bundle (never a folder npuslim did not write).")]
    = False,
    archive: Annotated[ArchiveFormat, typer.Option(
        "--archive", metavar="zip|tar.xz|none", rich_help_panel=OUTPUT_PANEL,
        help="Archive of the packed bundle, written beside it.")] = ArchiveFormat.zip,
    archive_path: Annotated[Path | None, typer.Option(
        "--archive-path", metavar="FILE", rich_help_panel=OUTPUT_PANEL, show_default="OUT.zip or OUT.tar.xz",
        help="Where to write the archive.")] = None,
    fmt: Annotated[OutputFormat, typer.Option(
        "--format", "-f", metavar="FORMAT", rich_help_panel=OUTPUT_PANEL,
        help="text: a table; json: the size report (as size-report.json).")] = OutputFormat.text,
    max_size: Annotated[str | None, typer.Option(
        "--max-size", metavar="SIZE", rich_help_panel=BUDGET_PANEL, show_default="the input bundle's budget",
        help="Size budget such as 20MB for the packed bundle and its archive; over it, nothing is written "
        "(exit 9).")] = None,
    compare_download: Annotated[bool, typer.Option(
        "--compare-download", rich_help_panel=BUDGET_PANEL,
        help="Measure the xz -9 download size of the bundle before and after (cached).")] = False,
    baseline: Annotated[str, typer.Option(
        "--baseline", metavar="SIZE", rich_help_panel=BUDGET_PANEL,
        help="Size of the full install to compare with.")] = "1.75GB",
    sbom: Annotated[bool, typer.Option(
        "--sbom", rich_help_panel=BUDGET_PANEL,
        help="Write a CycloneDX SBOM (sbom.cdx.json) of the packed bundle (always when the input bundle "
        "has one).")] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", metavar="N", min=1, max=MAX_JOBS,
                                      rich_help_panel=WORK_PANEL,
                                      show_default="the number of CPUs", help="Files worked on in parallel.")]
    = os.cpu_count() or 1,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", rich_help_panel=WORK_PANEL,
        help="Do all the work again; neither read nor fill the pack cache.")] = False,
) -> None:
    """Write a packed copy of BUNDLE and report, honestly, what it cost.

    BUNDLE is never modified. OUT is a complete bundle (npuslim verify and
    verify --load work on it) with its own lock file, size-report.md and
    size-report.json; it appears whole or not at all. Rerunning replaces a
    previous pack of the same bundle. A Linux bundle (from the manylinux
    wheel) is packed the same way; its link names stay symlinks.
    """
    baseline_bytes = _baseline(baseline)
    if max_size is not None:
        _max_size(max_size)
    if archive_path is not None and archive is ArchiveFormat.none:
        raise typer.BadParameter("--archive-path needs --archive zip or tar.xz", param_hint="'--archive-path'")
    from npuslim.act.pack import PackOptions

    options = PackOptions(
        strip=strip, upx=upx, upx_path=upx_path, upx_level=upx_level.value if upx_level else None,
        upx_force_cfg=upx_force_cfg, upx_exclude=tuple(upx_exclude or ()), upx_timeout=upx_timeout, jobs=jobs,
        archive=archive.value, archive_path=archive_path, compare_download=compare_download, force=force,
        use_cache=not no_cache, baseline=baseline_bytes, max_size=max_size, sbom=sbom, check_load=check_load,
    )
    _pack(bundle, out, options, fmt)


@error_boundary
def _pack(bundle: Path, out: Path | None, options: PackOptions, fmt: OutputFormat) -> None:
    from npuslim.pipeline.pack import pack_bundle
    from npuslim.report.size_report import SizeReport, report_json

    check_bundle_arg(bundle)
    err = stderr()
    with progress_display(log_steps=True) as progress:
        result = pack_bundle(bundle, out, options, progress=progress)
    for warning in result.warnings:
        err.print(f"[yellow]npuslim: warning:[/] {escape(warning)}")
    report = SizeReport.of(result, options.baseline)
    if fmt is OutputFormat.json:
        stdout().out(report_json(report), end="")
    else:
        _print(report)


def _print(report: SizeReport) -> None:
    """The size table (a row per DLL, then the other files and the bundle), then one wrapped
    line each for what was not packed, the download size, the archive, the costs and the budget."""
    from npuslim.report.size_report import options_line, strip_groups

    console = stdout()
    width = width_of(console)
    r = report.result
    lines = wrap(prose(options_line(report.options)), width)
    lines += table(*_size_table(report), width)
    for message, names in _refusals(report).items():
        lines += wrap([Text("not packed", style="yellow"), *listed(names[:-1]), names[-1] + ":", *prose(message)],
                      width, rest="    ")
    for message, paths in strip_groups(report).items():
        names = [p.split("/")[-1] for p in paths]
        lines += wrap(["strip,", *prose(message + ":"), *listed(names)], width, rest="    ")
    d = r.download
    if d.packed is not None:
        if d.unpacked is not None:
            download = (f"download ({d.measured_as}): {format_size(d.unpacked)} unpacked vs "
                        f"{format_size(d.packed)} packed")
        else:
            download = f"download ({d.measured_as}): {format_size(d.packed)} (unpacked: --compare-download)"
    else:
        download = "download size: not measured (--compare-download, or --archive tar.xz)"
    lines += wrap(prose(f"installed: {format_size(report.bundle_original)} -> {format_size(report.bundle_final)}; "
                        f"{download}"), width, rest="    ")
    if r.archive is not None:
        lines += wrap(["archive:", str(r.archive.path), f"({format_size(r.archive.size)})"], width, rest="    ")
    lines += wrap(prose(f"bundle = {percent(report.bundle_final, report.source_size)} of the source install "
                        f"({format_size(report.source_size)}), {percent(report.bundle_final, report.baseline)} of "
                        f"{format_size(report.baseline)}"), width, rest="    ")
    lines += wrap(prose("costs: " + ("; ".join(_costs(report)) or "none")), width, rest="    ")
    if r.budget is not None:  # over the budget, pack fails before this: every subject is within
        b = r.budget
        for subject in b["subjects"]:
            lines += wrap(prose(f"budget {b['limit_text']} ({b['origin']}): {subject['name']} "
                                f"{format_size(subject['size'])}: {format_size(b['limit'] - subject['size'])} "
                                "to spare"), width, rest="    ")
    if r.sbom is not None:
        lines += wrap(["SBOM:", str(r.sbom), *prose("(CycloneDX 1.6)")], width, rest="    ")
    lines += wrap(["packed", "bundle:", str(r.out), *prose(f"(reports: size-report.md, size-report.json; "
                                                           f"{r.seconds:.1f} s, cache {r.cache_hits} hit(s))")],
                  width, rest="    ")
    print_lines(console, lines)


def _size_table(report: SizeReport) -> tuple[list[Column], list[list[Piece]]]:
    with_upx = bool(report.options.get("upx"))
    columns = [Column(report.traits.column)]
    columns += [Column(name, right=True) for name in ("original", "strip", *(("UPX",) if with_upx else ()), "final")]
    if with_upx:
        columns.append(Column("UPX result"))
    rows: list[list[Piece]] = []
    for f in report.files:
        status = f.upx_status
        if f.upx_status == "packed" and f.upx_seconds is not None:
            status += f" {f.upx_seconds:.1f} s"
        style = {"packed": "green", "refused": "yellow", "failed": "red", "skipped": "yellow"}.get(f.upx_status, "")
        upx_cells = [format_size(f.after_upx) if f.after_upx is not None else "-"] if with_upx else []
        result_cell = [Text(status, style=style)] if with_upx else []
        rows.append([f.path.split("/")[-1], format_size(f.original_size),
                     format_size(f.after_strip) if f.after_strip is not None else "-", *upx_cells,
                     format_size(f.final_size), *result_cell])
    blank = [""] if with_upx else []
    rows.append(["other files", format_size(report.other_bytes), "", *blank, format_size(report.other_bytes),
                 *blank])
    rows.append([Text("bundle", style="bold"), Text(format_size(report.bundle_original), style="bold"), "", *blank,
                 Text(format_size(report.bundle_final), style="bold"), *blank])
    return columns, rows


def _refusals(report: SizeReport) -> dict[str, list[str]]:
    """UPX's reasons for the DLLs it did not pack, each with the DLLs it applies to."""
    reasons: dict[str, list[str]] = {}
    for f in report.files:
        if not (f.upx_status == "packed" and f.upx_seconds is not None) and f.upx_message:
            reasons.setdefault(f.upx_message, []).append(f.path.split("/")[-1])
    return reasons


def _costs(report: SizeReport) -> list[str]:
    costs = []
    if report.signatures_lost:
        costs.append(f"{len(report.signatures_lost)} signature(s) removed")
    if report.cfg_lost:
        costs.append(f"CFG off in {len(report.cfg_lost)} DLL(s)")
    if report.upx_packed:
        costs.append(f"{format_size(report.load_memory)} decompressed into private memory at load")
    return costs
