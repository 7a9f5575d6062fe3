"""``npuslim extract``: copy the NPU closure, companions, headers, import libraries and
licences into a minimal bundle with its own manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
    error_boundary,
    esc,
    stderr,
    stdout,
    write_stdout,
)
from npuslim.errors import UsageError
from npuslim.features import select_features
from npuslim.graph import build_graph
from npuslim.manifest import BundleManifest, load_manifest, load_windows_facts
from npuslim.plan import (
    BIN,
    DLL_ROLES,
    INCLUDE,
    LIB,
    LICENSES,
    ROLE_HEADER,
    ROLE_IMPLIB,
    ROLE_LICENSE,
    BundlePlan,
    plan_bundle,
)
from npuslim.sources import DEFAULT_PLATFORM, OpenVinoInstall, locate
from npuslim.units import BASELINE_BYTES, format_size, percent


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
) -> None:
    """Copy what the NPU needs from an OpenVINO install into a bundle folder.

    Plans everything first; writes into a staging folder beside OUT and moves it
    into place at the end. Exit 3 when a dependency is missing (nothing written).
    """
    bundle_manifest = load_manifest(manifest)
    features = select_features(bundle_manifest, with_, without)
    install = locate(source, platform=platform)
    if list_features:
        _print_features(install, bundle_manifest, features)
        return
    if out is None:
        raise UsageError("extract needs the bundle folder: -o OUT")
    plan = plan_bundle(
        install, manifest=bundle_manifest, facts=load_windows_facts(), features=features,
        roots=tuple(root) if root else None, search_paths=tuple(search_path or ()),
        allow_missing=allow_missing, msvc_runtime_dir=msvc_runtime,
    )
    from npuslim.bundle import write_bundle
    from npuslim.lockfile import to_json

    err = stderr()
    json_out = fmt is OutputFormat.json
    if err.is_terminal and not json_out:
        with Progress(TextColumn("copying {task.description}"), BarColumn(), DownloadColumn(),
                      TimeRemainingColumn(), console=err, transient=True) as bar:
            task = bar.add_task(esc(out.name), total=plan.total_bytes)
            result = write_bundle(plan, out, force=force,
                                  progress=lambda _f, n: bar.advance(task, n))
    else:
        result = write_bundle(plan, out, force=force)
    if json_out:
        write_stdout(to_json(result.lock))
    else:
        print_summary(plan, out)
    for warning in plan.warnings:
        err.print(f"npuslim: warning: {esc(warning)}", highlight=False, soft_wrap=True)


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
    headers = plan.by_role(ROLE_HEADER)
    rows = [
        (f"{BIN}/", dlls, f"{len(dlls)} DLLs"),
        (f"{LIB}/", plan.by_role(ROLE_IMPLIB), ""),
        (f"{INCLUDE}/", headers,
         f"{len(headers)} of {plan.headers.total} headers of the source" if plan.headers else "no headers"),
        (f"{LICENSES}/", plan.by_role(ROLE_LICENSE), ""),
    ]
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


def _print_features(install: OpenVinoInstall, manifest: BundleManifest, chosen: frozenset[str]) -> None:
    facts = load_windows_facts()

    def files_with(features: frozenset[str]) -> dict[str, int]:
        graph = build_graph(install, manifest=manifest, facts=facts, features=features, scan_hints=False)
        return {n.key: n.size for n in graph.files}

    base = files_with(frozenset())
    table = Table(title=f"Features of manifest {esc(manifest.name)} for {esc(install.origin)} "
                  f"(OpenVINO {esc(install.version or '?')})", title_justify="left", show_edge=False)
    table.add_column("feature")
    table.add_column("default")
    table.add_column("selected")
    table.add_column("adds", justify="right")
    table.add_column("files")
    table.add_column("what it is for", overflow="fold")
    for feature in manifest.features:
        extra = {k: v for k, v in files_with(frozenset({feature.name})).items() if k not in base}
        table.add_row(esc(feature.name), "yes" if feature.default else "", "yes" if feature.name in chosen else "",
                      format_size(sum(extra.values())), esc(", ".join(sorted(extra)) or "(nothing in this source)"),
                      esc(feature.description))
    stdout().print(table)
