"""``npuslim deps``: the dependency closure of the NPU plugin, classified and explained."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from npuslim.cli.common import (
    OUTPUT_PANEL,
    DepsFormat,
    ManifestOpt,
    OnnxRuntimeOpt,
    PlatformOpt,
    RootOpt,
    SearchPathOpt,
    SourceArg,
    WithOpt,
    WithoutOpt,
    error_boundary,
    exits,
    locate_sources,
    manifest_for,
    print_error,
    print_lines,
    stdout,
    width_of,
    write_stdout,
)
from npuslim.cli.progress_display import progress_display
from npuslim.cli.streams import stderr
from npuslim.errors import MissingDependencyError
from npuslim.knowledge.manifest import load_windows_facts
from npuslim.pipeline.deps import closure
from npuslim.plan.features import select_features
from npuslim.platforms import traits
from npuslim.report import graph_formats as serialize
from npuslim.source.locate import DEFAULT_PLATFORM

if TYPE_CHECKING:
    from npuslim.analyse.graph import DependencyGraph
    from npuslim.analyse.symbols import MissingSymbols


@exits(3, 4, 6, 7)
@error_boundary
def deps(
    source: SourceArg = None,
    platform: PlatformOpt = DEFAULT_PLATFORM,
    onnxruntime: OnnxRuntimeOpt = None,
    search_path: SearchPathOpt = None,
    manifest: ManifestOpt = None,
    root: RootOpt = None,
    with_: WithOpt = None,
    without: WithoutOpt = None,
    fmt: Annotated[DepsFormat, typer.Option(
        "--format", "-f", metavar="FORMAT", rich_help_panel=OUTPUT_PANEL,
        help="tree, table, json, dot (Graphviz) or mermaid.")] = DepsFormat.tree,
    hints: Annotated[bool, typer.Option(
        "--hints/--no-hints", rich_help_panel=OUTPUT_PANEL,
        help="Scan the closure's strings for names of other install files.")] = True,
    exports: Annotated[bool, typer.Option(
        "--exports", rich_help_panel=OUTPUT_PANEL,
        help="Instead of the closure: how many of each bundled DLL's exports the other bundled DLLs "
        "import (table, or json).")] = False,
) -> None:
    """List what the NPU plugin (or --root) needs, why, and who provides it.

    A missing dependency is exit 3, after all are listed, with one line
    on stderr naming them.
    """
    chosen_manifest = manifest_for(manifest, onnxruntime)
    select_features(chosen_manifest, with_, without)  # unknown names fail before any download
    facts = load_windows_facts()
    sources = locate_sources(source, onnxruntime, platform=platform, manifest=chosen_manifest,
                             search_paths=tuple(search_path or ()))
    with progress_display() as progress:
        found = closure(sources, facts, roots=tuple(root) if root else None, with_=with_, without=without,
                        scan_hints=hints, exports=exports, progress=progress)
    graph, missing_symbols = found.graph, found.missing_symbols
    for warning in found.warnings:
        stderr().print(f"npuslim: warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    machine_readable = exports or fmt in (DepsFormat.json, DepsFormat.dot, DepsFormat.mermaid)
    if exports:
        from npuslim.cli.render_exports import print_exports

        print_exports(stdout(), graph, as_json=fmt is DepsFormat.json)
    elif fmt is DepsFormat.json:
        write_stdout(serialize.graph_to_json(graph, missing_symbols))
    elif fmt is DepsFormat.dot:
        write_stdout(serialize.graph_to_dot(graph))
    elif fmt is DepsFormat.mermaid:
        write_stdout(serialize.graph_to_mermaid(graph))
    if machine_readable:
        for m in missing_symbols:
            stderr().print(f"MISSING SYMBOLS {m.describe()}", markup=False, highlight=False, soft_wrap=True)
    else:
        _print_for_people(graph, fmt, traits(sources.install.platform).target_minimum, missing_symbols)
    if not found.complete:
        print_error(missing_verdict(tuple(n.name for n in graph.missing), missing_symbols))
        raise typer.Exit(MissingDependencyError.exit_code)


def _print_for_people(graph: DependencyGraph, fmt: DepsFormat, target_minimum: bool,
                      missing_symbols: tuple[MissingSymbols, ...]) -> None:
    """The tree or table on standard output, then the Linux target's minimum and each import with
    missing symbols (rich and the layout are imported here: machine output needs neither)."""
    from npuslim.cli import render_deps
    from npuslim.cli.layout import plain_lines

    out = stdout()
    render_deps.print_graph(out, graph, fmt.value)
    if target_minimum:
        from npuslim.analyse.resolve_elf import target_text

        print_lines(out, plain_lines(target_text(graph).splitlines(), width_of(out)))
    for m in missing_symbols:
        print_lines(out, plain_lines([f"MISSING SYMBOLS {m.describe()}"], width_of(out)))


def missing_verdict(names: tuple[str, ...], missing_symbols: tuple[MissingSymbols, ...]) -> str:
    """The one-line verdict of an incomplete closure (stderr, whatever the format):
    ``2 dependencies missing: foo.dll, bar.dll; symbols missing in 1 import: a.dll from b.dll``."""
    parts = []
    if names:
        parts.append(f"{len(names)} {'dependency' if len(names) == 1 else 'dependencies'} missing: "
                     f"{', '.join(names)}")
    if missing_symbols:
        pairs = [f"{m.importer} from {m.dll}" for m in missing_symbols]
        parts.append(f"symbols missing in {len(pairs)} import{'' if len(pairs) == 1 else 's'}: "
                     f"{', '.join(pairs)}")
    return "; ".join(parts)
