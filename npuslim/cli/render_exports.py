"""``npuslim deps --exports``: how much of each bundled DLL's export table the closure imports."""

from __future__ import annotations

import json

from rich.console import Console
from rich.text import Text

from npuslim.analyse.exports import ExportReport, export_usage, report_to_dict
from npuslim.analyse.graph import DependencyGraph
from npuslim.cli.common import print_lines, width_of
from npuslim.cli.layout import Column, Piece, listed, prose, table, wrap
from npuslim.report import graph_formats as serialize

DETAIL_DLL = "openvino.dll"


def graph_exports(graph: DependencyGraph) -> ExportReport:
    """Export usage over the graph's bundled files (the DLLs a bundle ships)."""
    return export_usage((n.name, n.path) for n in graph.files if n.path is not None)


def print_exports(out: Console, graph: DependencyGraph, *, as_json: bool) -> None:
    """The export report as JSON, or a table of every DLL and the list of openvino.dll's used exports."""
    report = graph_exports(graph)
    if as_json:
        doc = report_to_dict(report, source=serialize.source_dict(graph.install), roots=graph.roots)
        out.out(json.dumps(doc, indent=2), end="\n")
        return
    width = width_of(out)
    lines = wrap(prose("Exports imported by the rest of the closure (import tables only)", "bold"), width)
    rows: list[list[Piece]] = []
    for u in report.dlls:
        importers = ", ".join(i.removesuffix(".dll") for i in u.importers) or "none (a root, or loaded at run time)"
        rows.append([u.dll, str(u.exported), str(u.used_count), f"{100 * u.fraction:.1f} %" if u.exported else "-",
                     importers])
    columns = [Column("DLL"), Column("exports", right=True), Column("imported", right=True),
               Column("share", right=True), Column("imported by", wrap=True)]
    lines += table(columns, rows, width)
    if graph.missing:
        lines += wrap([Text("missing, not counted:", style="bold red"), *listed(n.name for n in graph.missing)],
                      width, rest="    ")
    for u in report.dlls:
        if u.unmatched:
            names = [s.name or f"#{s.ordinal}" for s in u.unmatched[:5]]
            lines += wrap([Text(f"{u.dll}:", style="bold red"),
                           *prose(f"{len(u.unmatched)} imported symbol(s) not in its export table:", "bold red"),
                           *listed(names)], width, rest="    ")
    detail = report.get(DETAIL_DLL)
    if detail is not None and detail.used:
        lines += [Text(), *wrap([f"{detail.dll}:", *prose(f"the {detail.used_count} exports imported by the "
                                                          "closure (mangled MSVC names; importers in brackets)")],
                                width)]
        for e in detail.used:
            who = ", ".join(i.removesuffix(".dll") for i in e.importers)
            lines += wrap([e.name or f"#{e.ordinal}", f"[{who}]"], width, first="  ", rest="      ", sep="  ")
    lines += [Text(), *wrap(prose("A plugin reaches most of openvino.dll through C++ virtual calls on objects it "
                                  "is handed, and run-time loaded DLLs through GetProcAddress: neither shows in "
                                  "import tables."), width)]
    print_lines(out, lines)
