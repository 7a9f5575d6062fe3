"""``npuslim deps --exports``: how much of each bundled DLL's export table the closure imports."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from npuslim.analyse.exports import ExportReport, export_usage, report_to_dict
from npuslim.analyse.graph import DependencyGraph
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
    table = Table(title="Exports imported by the rest of the closure (import tables only)", title_justify="left")
    table.add_column("DLL", no_wrap=True)
    for column in ("exports", "imported", "share"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("imported by")
    for u in report.dlls:
        table.add_row(u.dll, str(u.exported), str(u.used_count),
                      f"{100 * u.fraction:.1f} %" if u.exported else "-",
                      ", ".join(i.removesuffix(".dll") for i in u.importers) or "none (a root, or loaded at run time)")
    out.print(table)
    if graph.missing:
        out.print(f"[bold red]missing, not counted[/]: {', '.join(n.name for n in graph.missing)}", markup=True)
    for u in report.dlls:
        if u.unmatched:
            names = ", ".join(s.name or f"#{s.ordinal}" for s in u.unmatched[:5])
            out.print(f"[bold red]{u.dll}: {len(u.unmatched)} imported symbol(s) not in its export table[/]: "
                      f"{names}", markup=True)
    detail = report.get(DETAIL_DLL)
    if detail is not None and detail.used:
        out.print(f"\n{detail.dll}: the {detail.used_count} exports imported by the closure "
                  f"(mangled MSVC names; importers in brackets)")
        for e in detail.used:
            who = ", ".join(i.removesuffix(".dll") for i in e.importers)
            out.out(f"  {e.name or '#' + str(e.ordinal)}  [{who}]", highlight=False)
    out.print("\nA plugin reaches most of openvino.dll through C++ virtual calls on objects it is handed, "
              "and run-time loaded DLLs through GetProcAddress: neither shows in import tables.")
