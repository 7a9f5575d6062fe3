"""Rich renderings of a dependency graph: tree, table, summary."""

from __future__ import annotations

from collections import Counter, defaultdict

from rich.console import Console, Group
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from npuslim.analyse.graph import DependencyGraph, Node
from npuslim.analyse.resolve import API_SET, BUNDLED, CLASSES, DRIVER, MISSING, MSVC_RUNTIME, SYSTEM
from npuslim.units import format_size

STYLES = {
    BUNDLED: "bold cyan",
    MSVC_RUNTIME: "yellow",
    API_SET: "dim",
    SYSTEM: "dim",
    DRIVER: "green",
    MISSING: "bold red",
}


def _label(node: Node, *, via: str | None = None) -> Text:
    text = Text(node.name, style=STYLES[node.dep_class])
    details: list[str] = [node.dep_class]
    if node.info:
        details.append(format_size(node.size))
        if node.info.file_version:
            details.append(node.info.file_version)
    if via and via not in ("import", "root"):
        details.append({"runtime": "loaded at run time"}.get(via, via))
    if node.feature:
        details.append(f"feature {node.feature}")
    text.append(f"  {' · '.join(details)}", style="dim")
    if node.dep_class in (MISSING, DRIVER):
        text.append(f"  {node.reason}", style=STYLES[node.dep_class])
    return text


def _grouped(children: list[Node]) -> Text | None:
    groups: dict[str, list[str]] = defaultdict(list)
    for child in children:
        groups[child.dep_class].append(child.name)
    if not groups:
        return None
    text = Text()
    for cls in (MSVC_RUNTIME, SYSTEM, API_SET):
        names = groups.get(cls)
        if not names:
            continue
        if text:
            text.append(" · ", style="dim")
        text.append(f"{cls}: ", style="dim")
        if cls == API_SET and len(names) > 3:
            text.append(f"{len(names)} api-ms-win-* sets", style=STYLES[cls])
        else:
            text.append(", ".join(names), style=STYLES[cls])
    return text


# Deeper than this, the tree stops expanding; missing imports past the first TREE_MAX_MISSING
# imports of one DLL are counted, not named (the summary, the table and JSON name every one).
TREE_MAX_DEPTH = 32
TREE_MAX_MISSING = 20


def render_tree(graph: DependencyGraph) -> Tree:
    """The closure as a tree from the roots; a file already shown is not expanded again.

    Built iteratively (no recursion, whatever the depth), each edge looked at
    once; branches deeper than ``TREE_MAX_DEPTH`` end in a note.
    """
    install = graph.install
    tree = Tree(Text(f"{install.origin}: {install.describe()}", style="bold"))
    shown: set[str] = set()

    def expand(top: Tree, start: Node) -> None:
        # The recursive walk, with an explicit stack of frames: (branch, edges left, seen, leaves, depth).
        shown.add(start.key)
        stack = [(top, iter(graph.children(start.name)), set[str](), list[Node](), 1)]
        while stack:
            branch, edges, seen, leaves, depth = stack[-1]
            edge = next(edges, None)
            if edge is None:
                grouped = _grouped([n for n in leaves if n.dep_class != MISSING])
                if grouped is not None:
                    branch.add(grouped)
                more = sum(1 for n in leaves if n.dep_class == MISSING)
                if more:
                    branch.add(Text(f"... and {more} more missing (listed below)", style=STYLES[MISSING]))
                stack.pop()
                continue
            child = graph.node(edge.target)
            if child is None or child.key in seen:
                continue
            seen.add(child.key)
            if child.dep_class not in (BUNDLED, MISSING, DRIVER):
                leaves.append(child)
            elif child.dep_class == MISSING and len(seen) > TREE_MAX_MISSING:
                leaves.append(child)
            elif child.key in shown:
                branch.add(Text(f"{child.name}  (see above)", style="dim"))
            else:
                sub = branch.add(_label(child, via=edge.kind))
                if child.dep_class == BUNDLED:
                    shown.add(child.key)
                    if depth >= TREE_MAX_DEPTH:
                        sub.add(Text(f"... deeper than {TREE_MAX_DEPTH} levels (see --format table)", style="dim"))
                    else:
                        stack.append((sub, iter(graph.children(child.name)), set(), [], depth + 1))

    for root in graph.roots:
        node = graph.node(root)
        assert node is not None
        expand(tree.add(_label(node, via="root")), node)
    app_loaded = [n for n in graph.nodes if n.via == "runtime" and n.chain[0] == "application"]
    for node in app_loaded:
        if node.key not in shown:
            expand(tree.add(_label(node, via="loaded by the application")), node)
    return tree


def render_companions(graph: DependencyGraph) -> Group | None:
    """One line per manifest companion (state, feature, size), its reason indented below."""
    if not graph.companions:
        return None
    name = graph.manifest.name if graph.manifest else "-"
    parts: list[Text | Padding] = [
        Text(f"Loaded at run time (manifest {name}; no import table shows these)", style="bold")
    ]
    style = {"included": "cyan", "optional": "", "missing": "bold red", "absent": "dim",
             "not for this version": "dim"}
    width = max(len(c.companion.name) for c in graph.companions)
    for status in graph.companions:
        comp = status.companion
        size = format_size(status.path.stat().st_size) if status.path else ""
        feature = comp.feature or "always"
        how = f"--with {feature}" if status.state == "optional" else feature
        line = Text(f"  {comp.name:<{width}}  ", style=style[status.state] or "")
        line.append(f"{status.state:<9} ", style=style[status.state] or "")
        line.append(f"{how:<20} {size:>9}")
        parts.append(line)
        parts.append(Padding(Text(f"{comp.reason}; loaded by {comp.loaded_by}", style="dim"), (0, 0, 0, 6)))
    return Group(*parts)


def render_hints(graph: DependencyGraph) -> Text | None:
    """Names of install files found in the closure's strings: hints, not facts."""
    if not graph.hints and not graph.hints_skipped:
        return None
    companions = {c.companion.name.lower(): c for c in graph.companions}
    text = Text("Hints from strings (not proof: install files whose names appear in the closure's bytes)\n",
                style="bold")
    width = max([len(h.name) for h in graph.hints] + [1])
    for hint in graph.hints:
        comp = companions.get(hint.name.lower())
        text.append(f"  {hint.name:<{width}}  named in {', '.join(hint.found_in)}")
        if comp:
            text.append(f"  (companion: {comp.companion.feature or 'always'})", style="dim")
        text.append("\n")
    for path in graph.hints_skipped:
        text.append(f"  {path.name}: not scanned (larger than 64 MB)\n", style="dim")
    text.rstrip()
    return text


def summary_line(graph: DependencyGraph) -> Text:
    counts = Counter(n.dep_class for n in graph.nodes)
    files = graph.files
    text = Text()
    text.append(f"{len(files)} files to ship, {format_size(sum(n.size for n in files))}", style="bold")
    parts = [f"{counts[c]} {c}" for c in CLASSES if c != BUNDLED and counts.get(c)]
    if parts:
        text.append("; " + ", ".join(parts))
    missing = graph.missing
    if missing:
        text.append(f"; MISSING: {', '.join(n.name for n in missing)}", style="bold red")
    else:
        text.append("; nothing missing", style="green")
    return text


def render_table(graph: DependencyGraph) -> Table:
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("DLL", no_wrap=True)
    table.add_column("class")
    table.add_column("size", justify="right")
    table.add_column("via")
    table.add_column("pulled in by", overflow="fold", min_width=20)
    for node in graph.nodes:
        size = format_size(node.size) if node.info else ""
        chain = " -> ".join(node.chain[:-1]) if len(node.chain) > 1 else "(root)"
        table.add_row(Text(node.name, style=STYLES[node.dep_class]), node.dep_class, size, node.via, Text(chain))
    return table


def print_graph(console: Console, graph: DependencyGraph, fmt: str) -> None:
    if fmt == "tree":
        console.print(render_tree(graph))
    else:
        console.print(render_table(graph))
    for extra in (render_companions(graph), render_hints(graph)):
        if extra is not None:
            console.print()
            console.print(extra)
    console.print()
    console.print(summary_line(graph))
