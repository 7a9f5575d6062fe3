"""``npuslim diff A B``: what changed between two bundles, or two OpenVINO releases."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from npuslim.cli.common import (
    OUTPUT_PANEL,
    ManifestOpt,
    OnnxRuntimeOpt,
    PlatformOpt,
    RootOpt,
    SearchPathOpt,
    WithOpt,
    WithoutOpt,
    error_boundary,
    exits,
    locate_sources,
    manifest_for,
    print_lines,
    stdout,
    width_of,
)
from npuslim.cli.layout import listed, prose, wrap
from npuslim.cli.progress_display import progress_display
from npuslim.errors import DiffFailure
from npuslim.plan.features import select_features
from npuslim.source.locate import DEFAULT_PLATFORM
from npuslim.units import format_size

if TYPE_CHECKING:
    from npuslim.report.diff import BundleDiff, FileChange, Snapshot


class DiffFormat(str, Enum):
    text = "text"
    json = "json"
    md = "md"


def _check_fail_on(value: str | None) -> str | None:
    from npuslim.report.diff import parse_fail_on

    if value is not None:
        try:
            parse_fail_on(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc).removeprefix("--fail-on: ")) from None
    return value


_SIDE_HELP = ("A bundle folder, its lock file (npuslim-bundle.json), or a source (folder, .whl, or a requirement "
              "such as openvino==2026.4.1) planned as extract would, without writing anything.")
DIFF_PANEL = "Comparison"


@exits(4, 5, 6, 7, 10)
@error_boundary
def diff(
    a: Annotated[str, typer.Argument(metavar="A", help="The old side. " + _SIDE_HELP, show_default=False)],
    b: Annotated[str, typer.Argument(metavar="B", help="The new side, of the same kinds.", show_default=False)],
    platform: PlatformOpt = DEFAULT_PLATFORM,
    onnxruntime: OnnxRuntimeOpt = None,
    search_path: SearchPathOpt = None,
    manifest: ManifestOpt = None,
    root: RootOpt = None,
    with_: WithOpt = None,
    without: WithoutOpt = None,
    fmt: Annotated[DiffFormat, typer.Option(
        "--format", "-f", metavar="FORMAT", rich_help_panel=OUTPUT_PANEL,
        help="text: tables; json: npuslim/schemas/diff.schema.json; md: Markdown for a CI job summary or a "
        "pull-request comment.")] = DiffFormat.text,
    fail_on: Annotated[str | None, typer.Option(
        "--fail-on", metavar="LIST", callback=_check_fail_on, show_default=False, rich_help_panel=DIFF_PANEL,
        help="Exit 10 when the diff shows any of: added, removed, changed, imports, companions, "
        "size>N% or size>SIZE (comma-separated), e.g. added,removed,size>5%.")] = None,
) -> None:
    """Report the files added, removed and changed (size, version, signature, CFG, imports),
    run-time companions, headers and total size between A and B.

    A source side is planned as extract would, with the same source and
    bundle options (missing files are reported, not fatal).
    """
    from npuslim.report.diff import diff_snapshots, diff_to_dict, diff_to_markdown, fail_reasons, parse_fail_on

    rules = parse_fail_on(fail_on) if fail_on else ()
    planning = Planning(platform=platform, onnxruntime=onnxruntime, search_paths=tuple(search_path or ()),
                        manifest=manifest, roots=tuple(root) if root else None, with_=with_, without=without)
    snapshots = [_snapshot(side, planning) for side in (a, b)]
    result = diff_snapshots(snapshots[0], snapshots[1])
    if fmt is DiffFormat.json:
        stdout().out(json.dumps(diff_to_dict(result, rules), indent=2), highlight=False)
    elif fmt is DiffFormat.md:
        stdout().out(diff_to_markdown(result, rules), highlight=False)
    else:
        _print(result)
    reasons = fail_reasons(result, rules)
    if reasons:
        raise DiffFailure(f"diff --fail-on {fail_on}: {'; '.join(reasons)}")


@dataclass(frozen=True)
class Planning:
    """The options a source side is planned with: extract's, with the same meaning."""

    platform: str
    onnxruntime: str | None
    search_paths: tuple[Path, ...]
    manifest: str | None
    roots: tuple[str, ...] | None
    with_: list[str] | None
    without: list[str] | None


def _snapshot(side: str, planning: Planning) -> Snapshot:
    """A bundle or lock file as it is; a source planned by extract's own planning (missing allowed)."""
    from npuslim.pipeline.extract import plan_extract
    from npuslim.report.diff import is_bundle, snapshot_of_bundle, snapshot_of_plan

    if is_bundle(side):
        return snapshot_of_bundle(Path(side))
    chosen = manifest_for(planning.manifest, planning.onnxruntime)
    select_features(chosen, planning.with_, planning.without)  # unknown names fail before any download
    sources = locate_sources(side, planning.onnxruntime, platform=planning.platform, manifest=chosen,
                             search_paths=planning.search_paths)
    with progress_display() as progress:
        planned = plan_extract(sources, with_=planning.with_, without=planning.without, roots=planning.roots,
                               allow_missing=True, msvc_runtime=None, max_size=None, progress=progress)
    return snapshot_of_plan(planned.plan, label=side)


def _print(result: BundleDiff) -> None:
    """The two sides and their totals, one entry per file changed (its import changes below it),
    then companions, missing DLLs and headers; wrapped between words, names and sizes whole."""
    from npuslim.report.diff import ADDED, CHANGED, REMOVED

    console = stdout()
    width = width_of(console)
    a, b = result.a, result.b
    delta = result.size_delta
    pct = f" ({100.0 * delta / a.total:+.1f} %)" if a.total else ""
    lines = wrap([Text(a.label, style="bold"), *prose(f"(OpenVINO {a.openvino_version or '?'})"), "->",
                  Text(b.label, style="bold"), *prose(f"(OpenVINO {b.openvino_version or '?'})")], width, rest="    ")
    lines += wrap(prose(f"files {len(a.files)} -> {len(b.files)}; size {format_size(a.total)} -> "
                        f"{format_size(b.total)}{pct}; headers {len(a.headers)} -> {len(b.headers)}"), width,
                  rest="    ")
    marks = {ADDED: Text("+", style="green"), REMOVED: Text("-", style="red"), CHANGED: Text("~", style="yellow")}
    for c in result.files:
        lines += wrap([marks[c.status], c.path + " ", *_file_change(c)], width, rest="    ")
        for i in c.imports:
            verb = "now imports" if i.change == ADDED else "no longer imports"
            kind = " (delay-load)" if i.kind == "delay-import" else ""
            lines += wrap([*prose(verb), i.name, *prose(kind)], width, first="    ", rest="      ")
    if not result.files:
        lines += wrap(prose("no file added, removed or changed" + (" (headers aside)" if result.headers else "")),
                      width)
    if not result.imports_compared:
        lines += wrap([Text("imports not compared:", style="yellow"),
                       *prose("a side is a lock file without its DLLs")], width, rest="    ")
    for comp in result.companions:
        lines += wrap(["companion", comp.name + ":", comp.status, f"({comp.a or '-'}", "->", f"{comp.b or '-'})"],
                      width, rest="    ")
    gone, new = sorted(set(a.missing) - set(b.missing)), sorted(set(b.missing) - set(a.missing))
    if gone:
        lines += wrap([*prose("no longer missing:"), *listed(gone)], width, rest="    ")
    if new:
        lines += wrap([Text("newly missing:", style="red"), *listed(new)], width, rest="    ")
    lines += _header_lines(result, width)
    print_lines(console, lines)


def _file_change(c: FileChange) -> list[Text]:
    """What changed in one file: size (and delta), version, signature, CFG, content."""
    f = c.b if c.b is not None else c.a
    assert f is not None
    sign = "+" if c.size_delta > 0 else "-" if c.size_delta < 0 else "±"
    va, vb = (c.a.file_version if c.a else None), (c.b.file_version if c.b else None)
    parts = [f"{format_size(f.size)} ({sign}{format_size(abs(c.size_delta))})"]
    if va != vb:
        parts.append(f"version {va or '-'} -> {vb or '-'}")
    elif va:
        parts.append(f"version {va}")
    if c.a and c.b and c.a.signature != c.b.signature:
        parts.append(f"signature {c.a.signature} -> {c.b.signature}")
    if c.a and c.b and c.a.cfg != c.b.cfg:
        parts.append(f"CFG {'on' if c.a.cfg else 'off'} -> {'on' if c.b.cfg else 'off'}")
    if c.what == ("content",):
        parts.append("same size, other content")
    return prose("; ".join(parts))


def _header_lines(result: BundleDiff, width: int | None) -> list[Text]:
    from npuslim.report.diff import ADDED, CHANGED, REMOVED

    added_h, removed_h = result.of_status(ADDED, headers=True), result.of_status(REMOVED, headers=True)
    changed_h = result.of_status(CHANGED, headers=True)
    if not (added_h or removed_h or changed_h):
        return []
    lines = wrap(prose(f"headers: {len(added_h)} added, {len(removed_h)} removed, {len(changed_h)} changed"),
                 width, rest="    ")
    lines += [Text(f"  + {h.path}") for h in list(added_h)[:10]]
    lines += [Text(f"  - {h.path}") for h in list(removed_h)[:10]]
    more = max(0, len(added_h) - 10) + max(0, len(removed_h) - 10)
    if more:
        lines += wrap(prose(f"... and {more} more (--format json lists them all)"), width, first="  ")
    return lines
