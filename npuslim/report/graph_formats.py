"""Machine-readable forms of a dependency graph: JSON (schema-versioned), DOT, Mermaid.

Pure functions from core dataclasses to text or plain dicts; the JSON schema is
``npuslim/schemas/deps.schema.json``.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from npuslim import __version__
from npuslim.analyse.graph import DependencyGraph, Node, Via
from npuslim.analyse.resolve import BUNDLED, CLASSES, DepClass
from npuslim.formats.binary import binary_fields
from npuslim.platforms import traits
from npuslim.source.locate import OpenVinoInstall

if TYPE_CHECKING:
    from npuslim.analyse.symbols import MissingSymbols

DEPS_SCHEMA_VERSION = 1


def _p(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def source_dict(install: OpenVinoInstall) -> dict[str, Any]:
    return {
        "origin": install.origin,
        "layout": install.layout,
        "root": str(install.root),
        "dll_dir": str(install.dll_dir),
        "include_dir": _p(install.include_dir),
        "lib_dir": _p(install.lib_dir),
        "openvino_version": install.version,
        "platform": install.platform,
    }


def node_dict(node: Node) -> dict[str, Any]:
    info = node.info
    return {
        "name": node.name,
        "class": node.dep_class,
        "path": _p(node.path),
        "size": node.size if info else None,
        "via": node.via,
        "chain": list(node.chain),
        "required_by": list(node.required_by),
        "reason": node.reason,
        "feature": node.feature,
        **binary_fields(info),
        **(info.import_fields() if info else {"imports": [], "delay_imports": []}),
    }


def _target_fields(graph: DependencyGraph) -> dict[str, Any]:
    """For a Linux closure: the newest glibc / GCC runtime symbol versions it needs (``target``)."""
    if not traits(graph.install.platform).target_minimum:
        return {}
    from npuslim.analyse.resolve_elf import target_minimum

    minimum = target_minimum(graph)
    return {"target": {"platform": str(graph.install.platform), "glibc": minimum.glibc, "versions": minimum.versions,
                       "needed_by": minimum.needed_by}}


def summary_dict(graph: DependencyGraph) -> dict[str, Any]:
    counts = Counter(n.dep_class for n in graph.nodes)
    return {
        "nodes": len(graph.nodes),
        "bundled_files": counts.get(BUNDLED, 0),
        "bundled_bytes": sum(n.size for n in graph.files),
        "by_class": {cls: counts.get(cls, 0) for cls in CLASSES},
        "missing": [n.name for n in graph.missing],
    }


def graph_to_dict(graph: DependencyGraph, missing_symbols: tuple[MissingSymbols, ...] = ()) -> dict[str, Any]:
    return {
        "schema": "npuslim.deps",
        "schema_version": DEPS_SCHEMA_VERSION,
        "tool_version": __version__,
        "source": source_dict(graph.install),
        "manifest": graph.manifest.name if graph.manifest else None,
        "roots": list(graph.roots),
        "features": sorted(graph.features),
        "search_order": [str(p) for p in graph.search_order],
        "nodes": [node_dict(n) for n in graph.nodes],
        "edges": [{"source": e.source, "target": e.target, "kind": e.kind} for e in graph.edges],
        "companions": [
            {
                "name": c.companion.name,
                "loaded_by": c.companion.loaded_by,
                "feature": c.companion.feature,
                "versions": c.companion.versions.text or None,
                "state": c.state,
                "path": _p(c.path),
                "reason": c.companion.reason,
            }
            for c in graph.companions
        ],
        "hints": [
            {"name": h.name, "path": str(h.path), "found_in": list(h.found_in)} for h in graph.hints
        ],
        "hints_not_scanned": [str(p) for p in graph.hints_skipped],
        "missing_symbols": [
            {"importer": m.importer, "dll": m.dll, "delay": m.delay, "count": m.count, "symbols": list(m.symbols),
             **({"forwarding": list(m.forwarding)} if m.forwarding else {})}
            for m in missing_symbols
        ],
        "summary": summary_dict(graph),
        **_target_fields(graph),
    }


def graph_to_json(graph: DependencyGraph, missing_symbols: tuple[MissingSymbols, ...] = ()) -> str:
    return json.dumps(graph_to_dict(graph, missing_symbols), indent=2) + "\n"


def _dot_id(name: str) -> str:
    return json.dumps(name)


_DOT_COLORS = {
    DepClass.BUNDLED: "lightblue", DepClass.MSVC_RUNTIME: "khaki", DepClass.API_SET: "lightgrey",
    DepClass.SYSTEM: "white", DepClass.DRIVER: "palegreen", DepClass.PYTHON: "lightyellow",
    DepClass.MISSING: "salmon",
}


def graph_to_dot(graph: DependencyGraph) -> str:
    lines = ["digraph npuslim {", "  rankdir=LR;", "  node [shape=box, style=filled];"]
    for n in graph.nodes:
        label = f"{n.name}\\n{n.dep_class}"
        lines.append(f"  {_dot_id(n.name)} [label=\"{label}\", fillcolor={_DOT_COLORS[n.dep_class]}];")
    seen = set()
    for e in graph.edges:
        key = (e.source.lower(), e.target.lower(), e.kind)
        if key in seen:
            continue
        seen.add(key)
        target = graph.node(e.target)
        style = {Via.IMPORT: "solid", Via.DELAY_IMPORT: "dashed", Via.RUNTIME: "dotted",
                 Via.FORWARD: "bold"}[e.kind]
        lines.append(
            f"  {_dot_id(e.source)} -> {_dot_id(target.name if target else e.target)} [style={style}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def graph_to_mermaid(graph: DependencyGraph) -> str:
    ids = {n.key: f"n{i}" for i, n in enumerate(graph.nodes)}
    lines = ["flowchart LR"]
    for n in graph.nodes:
        lines.append(f'  {ids[n.key]}["{n.name}<br/>{n.dep_class}"]:::{n.dep_class.replace("-", "_")}')
    seen = set()
    for e in graph.edges:
        key = (e.source.lower(), e.target.lower())
        if key in seen or key[0] not in ids or key[1] not in ids:
            continue
        seen.add(key)
        arrow = {Via.IMPORT: "-->", Via.DELAY_IMPORT: "-.->", Via.RUNTIME: "-. runtime .->",
                 Via.FORWARD: "-. forward .->"}[e.kind]
        lines.append(f"  {ids[key[0]]} {arrow} {ids[key[1]]}")
    for cls, color in _DOT_COLORS.items():
        lines.append(f"  classDef {cls.replace('-', '_')} fill:{color},stroke:#333")
    return "\n".join(lines) + "\n"
