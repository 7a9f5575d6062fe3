"""``npuslim deps``: the dependency closure of the NPU plugin, classified and explained."""

from __future__ import annotations

from typing import Annotated

import typer

from npuslim import serialize
from npuslim.cli import render_deps
from npuslim.cli.common import (
    DepsFormat,
    ManifestOpt,
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
from npuslim.errors import MissingDependencyError
from npuslim.features import select_features
from npuslim.graph import build_graph
from npuslim.manifest import load_manifest, load_windows_facts
from npuslim.sources import DEFAULT_PLATFORM, locate


@error_boundary
def deps(
    source: SourceArg = None,
    root: RootOpt = None,
    fmt: Annotated[DepsFormat, typer.Option("--format", "-f", help="Output format.")] = DepsFormat.tree,
    manifest: ManifestOpt = None,
    with_: WithOpt = None,
    without: WithoutOpt = None,
    search_path: SearchPathOpt = None,
    hints: Annotated[bool, typer.Option("--hints/--no-hints",
                                        help="Scan the closure's strings for names of other install files.")] = True,
    platform: PlatformOpt = DEFAULT_PLATFORM,
) -> None:
    """List what the NPU plugin (or --root) needs, why, and who provides it.

    Exit 0 when nothing is missing, 3 when a dependency is missing (all are
    listed), 4 for unusable input.
    """
    bundle_manifest = load_manifest(manifest)
    features = select_features(bundle_manifest, with_, without)
    install = locate(source, platform=platform)
    graph = build_graph(
        install,
        manifest=bundle_manifest,
        facts=load_windows_facts(),
        roots=tuple(root) if root else None,
        features=features,
        search_paths=tuple(search_path or ()),
        scan_hints=hints,
    )
    if fmt is DepsFormat.json:
        write_stdout(serialize.graph_to_json(graph))
    elif fmt is DepsFormat.dot:
        write_stdout(serialize.graph_to_dot(graph))
    elif fmt is DepsFormat.mermaid:
        write_stdout(serialize.graph_to_mermaid(graph))
    else:
        render_deps.print_graph(stdout(), graph, fmt.value)
    if graph.missing:
        names = tuple(n.name for n in graph.missing)
        if fmt in (DepsFormat.json, DepsFormat.dot, DepsFormat.mermaid):
            stderr().print(f"npuslim: missing: {esc(', '.join(names))}", highlight=False)
        raise typer.Exit(MissingDependencyError.exit_code)
