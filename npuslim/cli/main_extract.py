"""``npuslim extract``: copy the NPU closure, companions, headers, import libraries and
licences into a minimal bundle with its own manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.padding import Padding
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from npuslim.cli.common import (
    ManifestOpt,
    OutputFormat,
    PlatformOpt,
    RootOpt,
    SearchPathOpt,
    SourceArg,
    WithOpt,
    WithoutOpt,
    bundle_manifest_for,
    error_boundary,
    esc,
    locate_sources,
    stderr,
    stdout,
    write_stdout,
)
from npuslim.errors import UsageError
from npuslim.formats.lock import BundleLock
from npuslim.knowledge.manifest import Manifest, load_windows_facts
from npuslim.layout import BIN, DLL_ROLES, INCLUDE, LIB, LICENSES, Role
from npuslim.plan.bundle import BundlePlan, plan_bundle
from npuslim.plan.features import FeatureStatus, features_for_source, select_features
from npuslim.source.locate import DEFAULT_PLATFORM, OpenVinoInstall
from npuslim.units import BASELINE_BYTES, format_size, percent

if TYPE_CHECKING:
    from npuslim.check.budget import BudgetReport


@error_boundary
def extract(
    source: SourceArg = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Bundle folder to create.",
                                             show_default=False)] = None,
    manifest: ManifestOpt = None,
    with_: WithOpt = None,
    without: WithoutOpt = None,
    root: RootOpt = None,
    search_path: SearchPathOpt = None,
    allow_missing: Annotated[bool, typer.Option("--allow-missing", help="Write the bundle even when "
                                                "dependencies are missing; they are recorded.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty OUT.")] = False,
    msvc_runtime: Annotated[Path | None, typer.Option(
        "--msvc-runtime", help="Folder with the Visual C++ runtime DLLs to ship in bin/ "
        "(your Visual Studio redistributable folder).", file_okay=False, show_default=False)] = None,
    list_features: Annotated[bool, typer.Option("--list-features", help="List the manifest's "
                                                "features with their sizes for this source, and exit.")] = False,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="text: a summary; json: the bundle "
                                              "manifest written into the bundle.")] = OutputFormat.text,
    platform: PlatformOpt = DEFAULT_PLATFORM,
    max_size: Annotated[str | None, typer.Option(
        "--max-size", help="Size budget such as 50MB, 48MiB or 1.75GB (default: the manifest's budget): "
        "exit 9, writing nothing, when the bundle is larger.", show_default=False)] = None,
    sbom: Annotated[bool, typer.Option("--sbom", help="Write a CycloneDX SBOM (sbom.cdx.json) into "
                                       "the bundle.")] = False,
    onnxruntime: Annotated[str | None, typer.Option(
        "--onnxruntime", help="ONNX Runtime with OpenVINO's execution provider as a second source: a wheel, a "
        "folder, or a requirement such as onnxruntime-openvino==1.24.1 (manifest onnxruntime-npu). Without "
        "SOURCE, the OpenVINO release is picked by symbol.", show_default=False)] = None,
) -> None:
    """Copy what the NPU needs from an OpenVINO install into a bundle folder.

    Plans everything first; writes into a staging folder beside OUT and moves it
    into place at the end. Exit 3 when a dependency is missing (nothing written).
    """
    if max_size is not None:  # a bad size is a bad command line (exit 2), as in pack, and fails first
        from npuslim.errors import InputError
        from npuslim.units import parse_budget

        try:
            parse_budget(max_size)
        except InputError as exc:
            raise UsageError(str(exc)) from None
    bundle_manifest = bundle_manifest_for(manifest, onnxruntime)
    if out is None and not list_features:
        raise UsageError("extract needs the bundle folder: -o OUT")
    select_features(bundle_manifest, with_, without)  # unknown names fail before any download
    facts = load_windows_facts()
    roots = tuple(root) if root else None
    install, ort, bundle_manifest, search_paths = locate_sources(
        source, onnxruntime, platform=platform, manifest=bundle_manifest, search_paths=tuple(search_path or ()))
    if list_features:
        _, statuses = features_for_source(install, bundle_manifest, facts, with_=None, without=None,
                                          roots=roots, search_paths=search_paths)
        _print_features(install, bundle_manifest, statuses, with_, without, fmt)
        return
    assert out is not None
    choice, _ = features_for_source(install, bundle_manifest, facts, with_=with_, without=without,
                                    roots=roots, search_paths=search_paths)
    plan = plan_bundle(
        install, manifest=bundle_manifest, facts=facts, features=choice.delivered,
        roots=roots, search_paths=search_paths,
        allow_missing=allow_missing, msvc_runtime_dir=msvc_runtime,
        features_requested=choice.requested, features_dropped=choice.dropped, onnxruntime=ort,
    )
    from npuslim.act.staging import write_bundle
    from npuslim.formats.lock import to_json

    err = stderr()
    json_out = fmt is OutputFormat.json
    from npuslim.check.budget import budget_lines, budget_to_dict

    budget = plan_budget(plan, max_size, json_out=json_out)
    budget_dict = budget_to_dict(budget) if budget is not None else None
    finish = None
    if sbom:
        from npuslim.report.sbom import write_sbom

        def finish(staging: Path, lock: BundleLock) -> None:
            write_sbom(staging, lock, name=out.name)
    if err.is_terminal and not json_out:
        with Progress(TextColumn("copying {task.description}"), BarColumn(), DownloadColumn(),
                      TimeRemainingColumn(), console=err, transient=True) as bar:
            task = bar.add_task(esc(out.name), total=plan.total_bytes)
            result = write_bundle(plan, out, force=force, budget=budget_dict, finish=finish,
                                  progress=lambda _f, n: bar.advance(task, n))
    else:
        result = write_bundle(plan, out, force=force, budget=budget_dict, finish=finish)
    if json_out:
        write_stdout(to_json(result.lock))
    else:
        print_summary(plan, out)
        if budget is not None:
            stdout().print(budget_lines(budget)[0], highlight=False, soft_wrap=True, markup=False)
        if sbom:
            stdout().print(f"SBOM: {out / 'sbom.cdx.json'} (CycloneDX 1.6)", highlight=False, soft_wrap=True)
    for warning in plan.warnings:
        err.print(f"npuslim: warning: {esc(warning)}", highlight=False, soft_wrap=True)


def plan_budget(plan: BundlePlan, max_size: str | None, *, json_out: bool) -> BudgetReport | None:
    """Check the planned bundle against ``--max-size`` (else the manifest's ``budget:``).

    Over the budget: print the verdict and the five largest files (JSON on
    stdout with ``json_out``) and raise ``BudgetError`` before anything is written.
    """
    from npuslim.check.budget import budget_limit, budget_lines, budget_to_dict, check_budget, enforce, measure

    limit = budget_limit(max_size, plan.manifest)
    if limit is None:
        return None
    report = check_budget(limit[0], [measure("bundle", ((f.dest, f.size) for f in plan.files))],
                          limit_text=limit[1], origin=limit[2])
    if report.over:
        if json_out:
            write_stdout(json.dumps(budget_to_dict(report), indent=2) + "\n")
        else:
            for line in budget_lines(report):
                stdout().print(line, highlight=False, soft_wrap=True, markup=False)
    enforce(report)
    return report


def print_summary(plan: BundlePlan, out: Path) -> None:
    console = stdout()
    install = plan.install
    console.print(f"[bold]Bundle {esc(str(out))}[/]  from {esc(install.origin)} "
                  f"(OpenVINO {esc(install.version or 'version unknown')}; features: "
                  f"{esc(', '.join(sorted(plan.features)) or 'none')})")
    table = Table(show_edge=False, pad_edge=False, box=None)
    table.add_column("folder")
    table.add_column("files", justify="right")
    table.add_column("bytes", justify="right")
    table.add_column("")
    dlls = plan.by_role(*DLL_ROLES)
    headers = plan.by_role(Role.HEADER)
    rows = [
        (f"{BIN}/", dlls, f"{len(dlls)} DLLs"),
        (f"{LIB}/", plan.by_role(Role.IMPLIB), ""),
        (f"{INCLUDE}/", headers,
         f"{len(headers)} of {plan.headers.total} headers of the source" if plan.headers else "no headers"),
        (f"{LICENSES}/", plan.by_role(Role.LICENSE), ""),
    ]
    if install.platform == "linux":  # shared objects and their link names both live in lib/
        links = plan.by_role(Role.IMPLIB)
        rows[:2] = [(f"{LIB}/", dlls + links, f"{len(dlls)} shared objects, {len(links)} link names")]
    for name, files, note in rows:
        table.add_row(name, str(len(files)), format_size(sum(f.size for f in files)), esc(note))
    total = plan.total_bytes
    table.add_row("[bold]total[/]", f"[bold]{len(plan.files)}[/]", f"[bold]{format_size(total)}[/]", "")
    console.print(table)
    console.print(f"  = {percent(total, plan.source_size)} of the source install "
                  f"({format_size(plan.source_size)}: {esc(plan.source_size_how)})", soft_wrap=True)
    console.print(f"  = {percent(total, BASELINE_BYTES)} of the {format_size(BASELINE_BYTES)} full "
                  "OpenVINO install")
    console.print("[bold]The target machine must provide[/]")
    for req in plan.requirements:
        dlls_text = ", ".join(req.dlls) if len(req.dlls) <= 4 else f"{len(req.dlls)} DLLs ({req.dlls[0]}, ...)"
        console.print(f"  {esc(req.name)}: {esc(dlls_text)}", soft_wrap=True)
        console.print(Padding(f"[dim]{esc(req.note)}[/]", (0, 0, 0, 4)))
    for m in plan.missing:
        console.print(f"  [bold red]MISSING[/] {esc(m.name)} (needed by {esc(', '.join(m.required_by))})")


def _print_features(install: OpenVinoInstall, manifest: Manifest, statuses: tuple[FeatureStatus, ...],
                    with_: list[str] | None, without: list[str] | None, fmt: OutputFormat) -> None:
    from npuslim.plan.features import features_json

    chosen = select_features(manifest, with_, without)
    out = stdout()
    if fmt is OutputFormat.json:
        write_stdout(features_json(install, manifest, statuses, chosen))
        return
    out.print(f"[bold]Features of manifest {esc(manifest.name)}[/] for {esc(install.origin)} "
              f"(OpenVINO {esc(install.version or '?')})", soft_wrap=True)
    for status in statuses:
        feature = status.feature
        marks = [m for m, on in (("default", feature.default),
                                 ("selected", feature.name in chosen and status.available)) if on]
        head = f"  [bold]{esc(feature.name)}[/]" + (f" ({', '.join(marks)})" if marks else "")
        if status.available:
            files = ", ".join(name for name, _size in status.adds) or "nothing in this source"
            out.print(f"{head}: adds {format_size(status.added_bytes)}: {esc(files)}", soft_wrap=True)
        else:
            out.print(f"{head}: [yellow]not available[/]: {esc(status.reason or '')}", soft_wrap=True)
        out.print(f"      [dim]{esc(feature.description)}[/]", soft_wrap=True)
