"""``npuslim extract``: copy the NPU closure, companions, headers, import libraries and
licences into a minimal bundle with its own lock file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from npuslim.cli.common import (
    BUDGET_PANEL,
    MANIFEST_PANEL,
    OUTPUT_PANEL,
    ManifestOpt,
    OnnxRuntimeOpt,
    OutputFormat,
    PlatformOpt,
    RootOpt,
    SearchPathOpt,
    SourceArg,
    WithOpt,
    WithoutOpt,
    error_boundary,
    esc,
    exits,
    locate_sources,
    manifest_for,
    print_lines,
    stdout,
    width_of,
    write_stdout,
)
from npuslim.cli.layout import Column, Piece, listed, plain_lines, prose, table, wrap
from npuslim.cli.progress_display import progress_display
from npuslim.cli.streams import stderr
from npuslim.errors import UsageError
from npuslim.knowledge.manifest import Manifest
from npuslim.layout import BIN, DLL_ROLES, INCLUDE, LIB, LICENSES, Role
from npuslim.plan.features import FeatureStatus, select_features
from npuslim.platforms import traits
from npuslim.source.locate import DEFAULT_PLATFORM, OpenVinoInstall
from npuslim.units import BASELINE_BYTES, format_size, percent

if TYPE_CHECKING:
    from npuslim.plan.bundle import BundlePlan

if TYPE_CHECKING:
    from npuslim.pipeline.extract import ExtractPlan


@exits(3, 4, 6, 7, 9)
@error_boundary
def extract(
    source: SourceArg = None,
    platform: PlatformOpt = DEFAULT_PLATFORM,
    onnxruntime: OnnxRuntimeOpt = None,
    search_path: SearchPathOpt = None,
    manifest: ManifestOpt = None,
    root: RootOpt = None,
    with_: WithOpt = None,
    without: WithoutOpt = None,
    allow_missing: Annotated[bool, typer.Option(
        "--allow-missing", rich_help_panel=MANIFEST_PANEL,
        help="Write the bundle even when dependencies are missing; they are recorded.")] = False,
    msvc_runtime: Annotated[Path | None, typer.Option(
        "--msvc-runtime", metavar="DIR", rich_help_panel=MANIFEST_PANEL, file_okay=False, show_default=False,
        help="Folder with the Visual C++ runtime DLLs to ship in bin/ (your Visual Studio "
        "redistributable folder).")] = None,
    list_features: Annotated[bool, typer.Option(
        "--list-features", rich_help_panel=MANIFEST_PANEL,
        help="List the manifest's features with their sizes for this source, and exit.")] = False,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", metavar="OUT", rich_help_panel=OUTPUT_PANEL, show_default=False,
        help="Bundle folder to create.")] = None,
    force: Annotated[bool, typer.Option("--force", rich_help_panel=OUTPUT_PANEL,
                                        help="Replace a non-empty OUT.")] = False,
    fmt: Annotated[OutputFormat, typer.Option(
        "--format", "-f", metavar="FORMAT", rich_help_panel=OUTPUT_PANEL,
        help="text: a summary; json: the lock file (npuslim-bundle.json) written into the bundle.")]
    = OutputFormat.text,
    sbom: Annotated[bool, typer.Option(
        "--sbom", rich_help_panel=BUDGET_PANEL,
        help="Write a CycloneDX SBOM (sbom.cdx.json) into the bundle.")] = False,
    max_size: Annotated[str | None, typer.Option(
        "--max-size", metavar="SIZE", rich_help_panel=BUDGET_PANEL, show_default="the manifest's budget",
        help="Size budget such as 50MB, 48MiB or 1.75GB: exit 9, writing nothing, when the bundle is "
        "larger.")] = None,
) -> None:
    """Copy what the NPU needs from an OpenVINO install into a bundle folder.

    Checks OUT first (before a wheel is fetched or unpacked), plans everything,
    then writes into a staging folder beside OUT and moves it into place at
    the end, with its lock file (npuslim-bundle.json). A missing dependency
    is exit 3, nothing written.
    """
    from npuslim.pipeline import extract as pipeline

    if max_size is not None:  # a bad size is a bad command line (exit 2), as in pack, and fails first
        from npuslim.errors import InputError
        from npuslim.units import parse_budget

        try:
            parse_budget(max_size)
        except InputError as exc:
            raise UsageError(str(exc)) from None
    chosen_manifest = manifest_for(manifest, onnxruntime)
    if out is None and not list_features:
        raise UsageError("extract needs the bundle folder: -o OUT (or --list-features)")
    select_features(chosen_manifest, with_, without)  # unknown names fail before any download
    roots = tuple(root) if root else None
    if list_features:
        sources = locate_sources(source, onnxruntime, platform=platform, manifest=chosen_manifest,
                                 search_paths=tuple(search_path or ()))
        statuses = pipeline.list_features(sources, roots=roots)
        _print_features(sources.install, sources.manifest, statuses, with_, without, fmt)
        return
    assert out is not None
    pipeline.early_output_check(out, source, force=force)
    try:
        sources = locate_sources(source, onnxruntime, platform=platform, manifest=chosen_manifest,
                                 search_paths=tuple(search_path or ()))
        with progress_display() as progress:
            planned = pipeline.plan_extract(sources, with_=with_, without=without, roots=roots,
                                            allow_missing=allow_missing, msvc_runtime=msvc_runtime,
                                            max_size=max_size, progress=progress)
        _write(planned, out, force=force, sbom=sbom, json_out=fmt is OutputFormat.json)
    except BaseException:
        pipeline.release_early_check(out)
        raise


def _write(planned: ExtractPlan, out: Path, *, force: bool, sbom: bool, json_out: bool) -> None:
    """Write the planned bundle (a progress bar on a terminal) and print what was written."""
    from npuslim.check.budget import budget_lines, budget_to_dict
    from npuslim.formats.lock import to_json
    from npuslim.pipeline.extract import write_extract

    plan, budget = planned.plan, planned.budget
    if budget is not None and budget.over:  # shown before the error line that write_extract raises
        if json_out:
            write_stdout(json.dumps(budget_to_dict(budget), indent=2) + "\n")
        else:
            _print_text_lines(budget_lines(budget))
    err = stderr()
    with progress_display() as progress:
        result = write_extract(planned, out, force=force, sbom=sbom, progress=progress)
    if json_out:
        write_stdout(to_json(result.lock))
    else:
        print_summary(plan, out)
        lines = budget_lines(budget)[:1] if budget is not None else []
        if sbom:
            lines.append(f"SBOM: {out / 'sbom.cdx.json'} (CycloneDX 1.6)")
        _print_text_lines(lines)
    for warning in plan.warnings:
        err.print(f"npuslim: warning: {esc(warning)}", highlight=False, soft_wrap=True)


def _print_text_lines(lines: list[str]) -> None:
    """Plain lines from the core (budget verdicts), wrapped between words, their indentation kept."""
    console = stdout()
    print_lines(console, plain_lines(lines, width_of(console)))


def print_summary(plan: BundlePlan, out: Path) -> None:
    """What was written: the folders with their files and bytes, the share of the source, and what
    the target machine must provide."""
    console = stdout()
    width = width_of(console)
    install = plan.install
    features = ", ".join(sorted(plan.features)) or "none"
    lines = wrap([Text("Bundle", style="bold"), Text(str(out), style="bold"), "from", install.origin,
                  *prose(f"(OpenVINO {install.version or 'version unknown'};"), "features:", *prose(f"{features})")],
                 width)
    dlls = plan.by_role(*DLL_ROLES)
    headers = plan.by_role(Role.HEADER)
    rows = [
        (f"{BIN}/", dlls, f"{len(dlls)} DLLs"),
        (f"{LIB}/", plan.by_role(Role.IMPLIB), ""),
        (f"{INCLUDE}/", headers,
         f"{len(headers)} of {plan.headers.total} headers of the source" if plan.headers else "no headers"),
        (f"{LICENSES}/", plan.by_role(Role.LICENSE), ""),
    ]
    if traits(install.platform).links_beside_binaries:  # shared objects and their link names both in lib/
        links = plan.by_role(Role.IMPLIB)
        rows[:2] = [(f"{LIB}/", dlls + links, f"{len(dlls)} shared objects, {len(links)} link names")]
    cells: list[list[Piece]] = [[name, str(len(files)), format_size(sum(f.size for f in files)), note]
                                for name, files, note in rows]
    total = plan.total_bytes
    cells.append([Text("total", style="bold"), Text(str(len(plan.files)), style="bold"),
                  Text(format_size(total), style="bold"), ""])
    columns = [Column("folder"), Column("files", right=True), Column("bytes", right=True), Column("")]
    lines += table(columns, cells, width)
    lines += wrap(prose(f"= {percent(total, plan.source_size)} of the source install "
                        f"({format_size(plan.source_size)}: {plan.source_size_how})"), width, first="  ")
    lines += wrap(prose(f"= {percent(total, BASELINE_BYTES)} of the {format_size(BASELINE_BYTES)} full "
                        "OpenVINO install"), width, first="  ")
    lines.append(Text("The target machine must provide", style="bold"))
    for req in plan.requirements:
        names = list(req.dlls) if len(req.dlls) <= 4 else [f"{len(req.dlls)} DLLs ({req.dlls[0]}, ...)"]
        lines += wrap([*prose(f"{req.name}:"), *listed(names)], width, first="  ", rest="    ")
        lines += wrap(prose(req.note, "dim"), width, first="    ")
    for m in plan.missing:
        lines += wrap([Text("MISSING", style="bold red"), m.name, "(needed", "by",
                       *listed(m.required_by), ")"], width, first="  ", rest="    ")
    print_lines(console, lines)


def _print_features(install: OpenVinoInstall, manifest: Manifest, statuses: tuple[FeatureStatus, ...],
                    with_: list[str] | None, without: list[str] | None, fmt: OutputFormat) -> None:
    """``--list-features``: a row per feature (marks, what it adds), its files and description below."""
    from npuslim.plan.features import features_json

    chosen = select_features(manifest, with_, without)
    if fmt is OutputFormat.json:
        write_stdout(features_json(install, manifest, statuses, chosen))
        return
    console = stdout()
    width = width_of(console)
    lines = wrap([Text("Features of manifest", style="bold"), Text(manifest.name, style="bold"), "for",
                  install.origin, *prose(f"(OpenVINO {install.version or '?'})")], width)
    rows: list[list[Piece]] = []
    details: list[list[Sequence[Piece]]] = []
    for status in statuses:
        feature = status.feature
        marks = [m for m, on in (("default", feature.default),
                                 ("selected", feature.name in chosen and status.available)) if on]
        if status.available:
            adds = Text(f"adds {format_size(status.added_bytes)}")
            files: Sequence[Piece] = listed(name for name, _size in status.adds) or prose("nothing in this source")
        else:
            adds = Text("not available", style="yellow")
            files = prose(status.reason or "", "yellow")
        rows.append([Text(feature.name, style="bold"), ", ".join(marks), adds])
        details.append([files, prose(feature.description, "dim")])
    columns = [Column("feature"), Column("marks"), Column("adds")]
    lines += table(columns, rows, width, details=details, header=False, indent=2)
    print_lines(console, lines)
