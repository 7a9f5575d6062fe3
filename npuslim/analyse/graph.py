"""The dependency closure of one or more root DLLs, as a graph with reasons.

Roots and the run-time companions of the manifest are walked through
their import and delay-import tables; every name is resolved (see
``npuslim.analyse.resolve``) and every node keeps the chain that first pulled it in.
A name that cannot be found is a node of class ``missing``, not an exception:
all of them are collected and reported once.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from npuslim.analyse import hints as hints_mod
from npuslim.analyse.resolve import BUNDLED, MISSING, Resolver
from npuslim.errors import ArchitectureError, InputError
from npuslim.formats.pe import PeInfo, read_pe
from npuslim.knowledge.manifest import Companion, Manifest, WindowsFacts
from npuslim.source.locate import OpenVinoInstall

if TYPE_CHECKING:
    from npuslim.formats.elf import ElfInfo

ROOT = "root"
IMPORT = "import"
DELAY_IMPORT = "delay-import"
RUNTIME = "runtime"

# A chain longer than this keeps its first CHAIN_HEAD links, "...", and the last ones:
# every node's chain is bounded, so the graph (and its JSON) stays linear in its size.
CHAIN_MAX = 16
CHAIN_HEAD = 4
CHAIN_GAP = "..."


def extend_chain(chain: tuple[str, ...], name: str) -> tuple[str, ...]:
    """``chain + (name,)``, shortened to ``CHAIN_MAX`` links (first ``CHAIN_HEAD``, "...", the last)."""
    longer = chain + (name,)
    if len(longer) <= CHAIN_MAX:
        return longer
    return longer[:CHAIN_HEAD] + (CHAIN_GAP,) + longer[-(CHAIN_MAX - CHAIN_HEAD - 1):]


@dataclass(frozen=True)
class Node:
    """One DLL of the closure: what serves it and why it is there."""

    name: str
    dep_class: str
    path: Path | None
    info: PeInfo | ElfInfo | None
    via: str
    chain: tuple[str, ...]
    required_by: tuple[str, ...]
    reason: str
    feature: str | None = None

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def size(self) -> int:
        return self.info.size if self.info else 0


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str


@dataclass(frozen=True)
class CompanionStatus:
    """A manifest companion and what became of it for this install."""

    companion: Companion
    applies: bool
    selected: bool
    path: Path | None

    @property
    def state(self) -> str:
        if not self.applies:
            return "not for this version"
        if self.path is None:
            return "missing" if self.selected and not self.companion.if_present else "absent"
        return "included" if self.selected else "optional"


@dataclass(frozen=True)
class DependencyGraph:
    """The closure: nodes in discovery order, edges, companions and string hints."""

    install: OpenVinoInstall
    manifest: Manifest | None
    roots: tuple[str, ...]
    features: frozenset[str]
    search_order: tuple[Path, ...]
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    companions: tuple[CompanionStatus, ...]
    hints: tuple[hints_mod.Hint, ...]
    hints_skipped: tuple[Path, ...]
    _by_key: dict[str, Node] = field(init=False, repr=False, compare=False)
    _out_edges: dict[str, tuple[Edge, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        out: dict[str, list[Edge]] = {}
        for edge in self.edges:
            out.setdefault(edge.source.lower(), []).append(edge)
        object.__setattr__(self, "_by_key", {n.key: n for n in self.nodes})
        object.__setattr__(self, "_out_edges", {k: tuple(v) for k, v in out.items()})

    def node(self, name: str) -> Node | None:
        return self._by_key.get(name.lower())

    @property
    def missing(self) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.dep_class == MISSING)

    @property
    def files(self) -> tuple[Node, ...]:
        """Nodes that are files to ship (class ``bundled``)."""
        return tuple(n for n in self.nodes if n.dep_class == BUNDLED)

    def import_closure(self) -> tuple[Node, ...]:
        """Nodes reached from the roots through import tables alone (no companions)."""
        reached = {r.lower() for r in self.roots}
        frontier = list(reached)
        while frontier:
            key = frontier.pop()
            for edge in self._out_edges.get(key, ()):
                target = edge.target.lower()
                if edge.kind != RUNTIME and target not in reached:
                    reached.add(target)
                    frontier.append(target)
        return tuple(n for n in self.nodes if n.key in reached)

    def children(self, name: str) -> tuple[Edge, ...]:
        return self._out_edges.get(name.lower(), ())


def _companion_applies(companion: Companion, version: str) -> bool:
    return not companion.versions.text or companion.versions.contains(version)


def build_graph(
    install: OpenVinoInstall,
    *,
    manifest: Manifest | None,
    facts: WindowsFacts,
    roots: tuple[str, ...] | None = None,
    features: frozenset[str] | None = None,
    search_paths: tuple[Path, ...] = (),
    scan_hints: bool = True,
) -> DependencyGraph:
    """Compute the closure of ``roots`` (default: the manifest's) in ``install``.

    Companions of the manifest apply when the install's OpenVINO version is
    known and inside their range; those whose feature is selected are walked
    like roots. Raises ``InputError`` when a root cannot be found or a file of
    the closure is not a usable PE, ``ArchitectureError`` when machine types
    differ.
    """
    if install.platform == "linux":
        from npuslim.analyse.resolve_elf import build_elf_graph

        return build_elf_graph(install, manifest=manifest, roots=roots, features=features,
                               search_paths=search_paths, scan_hints=scan_hints)
    resolver = Resolver(facts=facts, manifest=manifest, dll_dir=install.dll_dir,
                        search_paths=search_paths)
    if roots is None or not roots:
        if install.single_dll is not None:
            roots = (install.single_dll.name,)
        elif manifest is not None:
            roots = manifest.roots
        else:
            raise InputError("no root DLL given")
    if features is None:
        features = manifest.default_features() if manifest else frozenset()

    nodes: dict[str, Node] = {}
    edges: list[Edge] = []
    queue: deque[str] = deque()
    required_by: dict[str, list[str]] = {}

    def add(node: Node) -> None:
        nodes[node.key] = node
        required_by.setdefault(node.key, [])
        if node.dep_class == BUNDLED:
            queue.append(node.key)

    root_paths: list[Path] = []
    for root in roots:
        path = resolver.find_file(root)
        if path is None:
            raise InputError(
                f"root {root} not found in {install.dll_dir}"
                + (f" ({install.describe()})" if install.layout != "dll-folder" else "")
            )
        root_paths.append(path)
        info = read_pe(path)
        add(Node(path.name, BUNDLED, path, info, ROOT, (path.name,), (), "root of the bundle"))

    root_machine = nodes[roots[0].lower()].info.machine  # type: ignore[union-attr]

    statuses: list[CompanionStatus] = []
    pending_companions: list[Companion] = []
    # Companions belong to OpenVINO releases: without openvino.dll's version
    # (a plain folder of DLLs) none applies.
    if manifest is not None and install.version is not None:
        for comp in manifest.companions:
            applies = _companion_applies(comp, install.version)
            selected = applies and (comp.feature is None or comp.feature in features)
            path = resolver.find_file(comp.name) if applies else None
            statuses.append(CompanionStatus(comp, applies, selected, path))
            if selected:
                pending_companions.append(comp)

    def walk() -> None:
        while queue:
            key = queue.popleft()
            parent = nodes[key]
            info = parent.info
            assert info is not None
            for kind, names in ((IMPORT, info.imports), (DELAY_IMPORT, info.delay_imports)):
                for name in names:
                    low = name.lower()
                    edges.append(Edge(parent.name, name, kind))
                    if low in nodes:
                        required_by[low].append(parent.name)
                        continue
                    res = resolver.resolve(name, parent.path)
                    child_info = None
                    display = name
                    if res.dep_class == BUNDLED and res.path is not None:
                        child_info = read_pe(res.path)
                        display = res.path.name
                        if child_info.machine != info.machine:
                            raise ArchitectureError(
                                f"{parent.name} ({info.machine}) imports {display}, "
                                f"which is built for {child_info.machine}: {res.path}"
                            )
                    verb = "delay-imports" if kind == DELAY_IMPORT else "imports"
                    reason = res.note or f"{parent.name} {verb} it"
                    add(Node(display, res.dep_class, res.path, child_info, kind,
                             extend_chain(parent.chain, display), (), reason))
                    required_by[low].append(parent.name)

    walk()
    # Companions are walked after the import closure so that the chain of a
    # file reachable by imports is its import chain.
    for comp in pending_companions:
        low = comp.name.lower()
        loader = nodes.get(comp.loaded_by.lower())
        chain_head = loader.chain if loader else (comp.loaded_by,)
        if low in nodes:
            required_by[low].append(comp.loaded_by)
            continue
        path = resolver.find_file(comp.name)
        if path is None and comp.if_present:
            continue
        if path is None:
            add(Node(comp.name, MISSING, None, None, RUNTIME, extend_chain(chain_head, comp.name), (),
                     f"{comp.reason} (not in {install.dll_dir})", comp.feature))
        else:
            info = read_pe(path)
            if info.machine != root_machine:
                raise ArchitectureError(
                    f"{comp.name} is built for {info.machine}, the roots for {root_machine}: {path}"
                )
            add(Node(path.name, BUNDLED, path, info, RUNTIME, extend_chain(chain_head, path.name), (),
                     comp.reason, comp.feature))
        edges.append(Edge(comp.loaded_by, comp.name, RUNTIME))
        required_by[low].append(comp.loaded_by)
        walk()

    final = tuple(
        Node(n.name, n.dep_class, n.path, n.info, n.via, n.chain,
             tuple(dict.fromkeys(required_by.get(n.key, ()))), n.reason, n.feature)
        for n in nodes.values()
    )

    found_hints: tuple[hints_mod.Hint, ...] = ()
    skipped: tuple[Path, ...] = ()
    if scan_hints:
        candidates = {
            name: path
            for low, path in resolver.listing(install.dll_dir).items()
            if low.endswith(".dll") and low not in nodes
            for name in (path.name,)
        }
        binaries = [(n.path, n.info.data_ranges) for n in final
                    if n.dep_class == BUNDLED and n.path is not None and n.info is not None]
        found_hints, skipped = hints_mod.scan(binaries, candidates)

    return DependencyGraph(
        install=install,
        manifest=manifest,
        roots=tuple(nodes[r.lower()].name for r in roots),
        features=features,
        search_order=(install.dll_dir,) + tuple(search_paths),
        nodes=final,
        edges=tuple(edges),
        companions=tuple(statuses),
        hints=found_hints,
        hints_skipped=skipped,
    )
