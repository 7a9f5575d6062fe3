"""The dependency graph for people: tree, table, companions, hints and the summary line.

Laid out with ``npuslim.cli.layout``: names, sizes and paths are never broken;
a chain or a reason goes on its own indented line.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

from npuslim.analyse.graph import DependencyGraph
from npuslim.analyse.graph import Node as GraphNode
from npuslim.analyse.resolve import API_SET, BUNDLED, CLASSES, DRIVER, MISSING, MSVC_RUNTIME, SYSTEM
from npuslim.cli.common import print_lines, width_of
from npuslim.cli.layout import Column, Node, Piece, listed, prose, table, tree, wrap
from npuslim.units import format_size

STYLES = {
    BUNDLED: "bold cyan",
    MSVC_RUNTIME: "yellow",
    API_SET: "dim",
    SYSTEM: "dim",
    DRIVER: "green",
    MISSING: "bold red",
}


def _details(node: GraphNode, *, via: str | None = None) -> list[str]:
    details: list[str] = [node.dep_class]
    if node.info:
        details.append(format_size(node.size))
        version = node.info.recorded()["file_version"]
        if version:
            details.append(version)
    if via and via not in ("import", "root"):
        details.append({"runtime": "loaded at run time"}.get(via, via))
    if node.feature:
        details.append(f"feature {node.feature}")
    return details


def _label(node: GraphNode, *, via: str | None = None) -> tuple[list[Piece], list[Sequence[Piece]]]:
    """A node's name and details (one piece each), and its reason on a line of its own when it
    is missing or provided by the driver."""
    details = _details(node, via=via)
    pieces: list[Piece] = [Text(node.name + " ", style=STYLES[node.dep_class])]  # two spaces before the details
    pieces += [Text(d + (" ·" if i < len(details) - 1 else ""), style="dim") for i, d in enumerate(details)]
    more: list[Sequence[Piece]] = []
    if node.dep_class in (MISSING, DRIVER):
        more.append(prose(node.reason, STYLES[node.dep_class]))
    return pieces, more


def _grouped(children: list[GraphNode]) -> list[Piece] | None:
    """The leaves of one DLL (runtime, system, API sets), grouped by class on one wrapped line."""
    groups: dict[str, list[str]] = defaultdict(list)
    for child in children:
        groups[child.dep_class].append(child.name)
    pieces: list[Piece] = []
    for cls in (MSVC_RUNTIME, SYSTEM, API_SET):
        names = groups.get(cls)
        if not names:
            continue
        if pieces:
            pieces[-1] = Text.assemble(pieces[-1], Text(" ·", style="dim"))
        items = ([Text(f"{len(names)} api-ms-win-* sets", style=STYLES[cls])] if cls == API_SET and len(names) > 3
                 else listed(names, STYLES[cls]))
        pieces += [Text(f"{cls}:", style="dim"), *items]
    return pieces or None


# Deeper than this, the tree stops expanding; missing imports past the first TREE_MAX_MISSING
# imports of one DLL are counted, not named (the summary, the table and JSON name every one).
TREE_MAX_DEPTH = 32
TREE_MAX_MISSING = 20


def build_tree(graph: DependencyGraph) -> Node:
    """The closure as a tree from the roots; a file already shown is not expanded again.

    Built iteratively (no recursion, whatever the depth), each edge looked at
    once; branches deeper than ``TREE_MAX_DEPTH`` end in a note.
    """
    install = graph.install
    version = f"OpenVINO {install.version}" if install.version else "version unknown"
    top = Node([Text(f"{install.origin}:", style="bold"), *prose(f"{install.layout} layout at"),
                str(install.root), *prose(f"({version})")])
    shown: set[str] = set()

    def expand(branch_top: Node, start: GraphNode) -> None:
        # The recursive walk, with an explicit stack of frames: (branch, edges left, seen, leaves, depth).
        shown.add(start.key)
        stack = [(branch_top, iter(graph.children(start.name)), set[str](), list[GraphNode](), 1)]
        while stack:
            branch, edges, seen, leaves, depth = stack[-1]
            edge = next(edges, None)
            if edge is None:
                grouped = _grouped([n for n in leaves if n.dep_class != MISSING])
                if grouped is not None:
                    branch.add(grouped)
                more = sum(1 for n in leaves if n.dep_class == MISSING)
                if more:
                    branch.add(prose(f"... and {more} more missing (listed below)", STYLES[MISSING]))
                stack.pop()
                continue
            child = graph.node(edge.target)
            if child is None or child.key in seen:
                continue
            seen.add(child.key)
            if child.dep_class not in (BUNDLED, MISSING, DRIVER) or (
                    child.dep_class == MISSING and len(seen) > TREE_MAX_MISSING):
                leaves.append(child)
            elif child.key in shown:
                branch.add([Text(child.name, style="dim"), Text("(see above)", style="dim")])
            else:
                sub = branch.add(*_labelled(child, edge.kind))
                if child.dep_class == BUNDLED:
                    shown.add(child.key)
                    if depth >= TREE_MAX_DEPTH:
                        sub.add(prose(f"... deeper than {TREE_MAX_DEPTH} levels (see --format table)", "dim"))
                    else:
                        stack.append((sub, iter(graph.children(child.name)), set(), [], depth + 1))

    for root in graph.roots:
        node = graph.node(root)
        assert node is not None
        expand(top.add(*_labelled(node, "root")), node)
    app_loaded = [n for n in graph.nodes if n.via == "runtime" and n.chain[0] == "application"]
    for node in app_loaded:
        if node.key not in shown:
            expand(top.add(*_labelled(node, "loaded by the application")), node)
    return top


def _labelled(node: GraphNode, via: str) -> list[Sequence[Piece]]:
    pieces, more = _label(node, via=via)
    return [pieces, *more]


def render_companions(graph: DependencyGraph, width: int | None) -> list[Text]:
    """One row per manifest companion (state, feature, size), its reason on the line below."""
    if not graph.companions:
        return []
    name = graph.manifest.name if graph.manifest else "-"
    head = wrap(prose(f"Loaded at run time (manifest {name}; no import table shows these)", "bold"), width)
    style = {"included": "cyan", "optional": "", "missing": "bold red", "absent": "dim",
             "not for this version": "dim"}
    rows: list[list[Piece]] = []
    details: list[list[Sequence[Piece]]] = []
    for status in graph.companions:
        comp = status.companion
        size = format_size(status.path.stat().st_size) if status.path else ""
        feature = comp.feature or "always"
        how = f"--with {feature}" if status.state == "optional" else feature
        rows.append([Text(comp.name, style=style[status.state]), Text(status.state, style=style[status.state]),
                     how, size])
        details.append([prose(f"{comp.reason}; loaded by {comp.loaded_by}", "dim")])
    columns = [Column("companion"), Column("state"), Column("feature"), Column("size", right=True)]
    return head + table(columns, rows, width, details=details, header=False, indent=2)


def render_hints(graph: DependencyGraph, width: int | None) -> list[Text]:
    """Names of install files found in the closure's strings: hints, not facts."""
    if not graph.hints and not graph.hints_skipped:
        return []
    companions = {c.companion.name.lower(): c for c in graph.companions}
    lines = wrap(prose("Hints from strings (not proof: install files whose names appear in the "
                       "closure's bytes)", "bold"), width)
    rows: list[list[Piece]] = []
    details: list[list[Sequence[Piece]]] = []
    for hint in graph.hints:
        comp = companions.get(hint.name.lower())
        rows.append([hint.name, Text.assemble("named in ", ", ".join(hint.found_in))])
        details.append([prose(f"(companion: {comp.companion.feature or 'always'})", "dim")] if comp else [])
    for path in graph.hints_skipped:
        rows.append([path.name, Text("not scanned (larger than 64 MB)", style="dim")])
        details.append([])
    return lines + table([Column("file"), Column("where")], rows, width, details=details, header=False, indent=2)


def summary_pieces(graph: DependencyGraph) -> list[Piece]:
    counts = Counter(n.dep_class for n in graph.nodes)
    files = graph.files
    pieces: list[Piece] = [Text(f"{len(files)} files to ship,", style="bold"),
                           Text(format_size(sum(n.size for n in files)) + ";", style="bold")]
    parts = [f"{counts[c]} {c}" for c in CLASSES if c != BUNDLED and counts.get(c)]
    pieces += [p + ("," if i < len(parts) - 1 else ";") for i, p in enumerate(parts)]
    missing = graph.missing
    if missing:
        pieces += [Text("MISSING:", style="bold red"), *listed((n.name for n in missing), "bold red")]
    else:
        pieces.append(Text("nothing missing", style="green"))
    return pieces


def render_table(graph: DependencyGraph, width: int | None) -> list[Text]:
    """One row per file (name, class, size, how it is reached); what pulled it in below it."""
    rows: list[list[Piece]] = []
    details: list[list[Sequence[Piece]]] = []
    for node in graph.nodes:
        size = format_size(node.size) if node.info else ""
        rows.append([Text(node.name, style=STYLES[node.dep_class]), node.dep_class, size, node.via])
        chain: list[Piece] = [Text("pulled in by", style="dim"), *listed(node.chain[:-1], "dim", sep=" ->")]
        details.append([chain] if len(node.chain) > 1 else [])
    columns = [Column("DLL"), Column("class"), Column("size", right=True), Column("via")]
    return table(columns, rows, width, details=details)


def print_graph(console: Console, graph: DependencyGraph, fmt: str) -> None:
    width = width_of(console)
    lines = tree(build_tree(graph), width) if fmt == "tree" else render_table(graph, width)
    for extra in (render_companions(graph, width), render_hints(graph, width)):
        if extra:
            lines += [Text(), *extra]
    lines += [Text(), *wrap(summary_pieces(graph), width)]
    print_lines(console, lines)
