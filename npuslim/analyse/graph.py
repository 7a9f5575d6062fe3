"""The dependency closure of one or more root DLLs, as a graph with reasons.

Roots and the run-time companions of the manifest are walked through
their import and delay-import tables; every name is resolved (see
``npuslim.analyse.resolve``) and every node keeps the chain that first pulled it in.
A name that cannot be found is a node of class ``missing``, not an exception:
all of them are collected and reported once.

``ClosureWalk`` holds the steps every format shares (roots, breadth-first walk,
companions, hints); ``PeClosure`` (``npuslim.analyse.closure_pe``) and
``ElfClosure`` (``npuslim.analyse.closure_elf``) read binaries and name imports
their own way, and ``npuslim.analyse.closures.build_graph`` picks one by the
install's platform.
"""

from __future__ import annotations

import difflib
import os
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path

from npuslim.analyse import hints as hints_mod
from npuslim.analyse.resolve import BUNDLED, MISSING, DepClass
from npuslim.enums import StrEnum
from npuslim.errors import InputError
from npuslim.formats.binary import BinaryInfo
from npuslim.knowledge.manifest import Companion, Manifest
from npuslim.source.locate import OpenVinoInstall


class Via(StrEnum):
    """How a node entered the closure (``via`` in the JSON); also the kind of an edge."""

    ROOT = "root"
    IMPORT = "import"
    DELAY_IMPORT = "delay-import"
    RUNTIME = "runtime"
    FORWARD = "forward"  # a DLL named by a forwarded export the closure imports (``analyse.forwarders``)


ROOT, IMPORT, DELAY_IMPORT, RUNTIME = Via.ROOT, Via.IMPORT, Via.DELAY_IMPORT, Via.RUNTIME

# A chain longer than this keeps its first CHAIN_HEAD links, "...", and the last ones:
# every node's chain is bounded, so the graph (and its JSON) stays linear in its size.
CHAIN_MAX = 16
CHAIN_HEAD = 4
CHAIN_GAP = "..."


def extend_chain(chain: tuple[str, ...], name: str) -> tuple[str, ...]:
    """``chain + (name,)``, shortened to ``CHAIN_MAX`` links (first ``CHAIN_HEAD``, "...", the last)."""
    longer = (*chain, name)
    if len(longer) <= CHAIN_MAX:
        return longer
    return (*longer[:CHAIN_HEAD], CHAIN_GAP, *longer[-(CHAIN_MAX - CHAIN_HEAD - 1):])


@dataclass(frozen=True)
class Node:
    """One DLL of the closure: what serves it and why it is there."""

    name: str
    dep_class: DepClass
    path: Path | None
    info: BinaryInfo | None
    via: Via
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
    kind: Via


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


def _absolute(path: Path) -> Path:
    return Path(os.path.abspath(path))


def absolute_install(install: OpenVinoInstall) -> OpenVinoInstall:
    """``install`` with every path absolute and normalised (``..`` removed, symlinks kept), and its
    origin too when that is one of those paths as written.

    The ELF closure walks this: ld.so expands ``$ORIGIN`` to the object's folder, and a closure
    of ``inst/lib`` must be the one of ``$PWD/inst/lib`` (same JSON, same lock file) whatever
    npuslim's working folder.
    """
    def opt(path: Path | None) -> Path | None:
        return _absolute(path) if path is not None else None

    written = {str(p): p for p in (install.root, install.dll_dir, install.wheel, install.single_dll) if p is not None}
    origin = str(_absolute(written[install.origin])) if install.origin in written else install.origin
    return replace(install, origin=origin, root=_absolute(install.root), dll_dir=_absolute(install.dll_dir),
                   include_dir=opt(install.include_dir), lib_dir=opt(install.lib_dir),
                   license_dirs=tuple(_absolute(p) for p in install.license_dirs),
                   single_dll=opt(install.single_dll), wheel=opt(install.wheel))


def companion_applies(companion: Companion, version: str) -> bool:
    """A companion without a version range applies to every release, else to those inside its range."""
    return not companion.versions.text or companion.versions.contains(version)


def choose_roots(install: OpenVinoInstall, manifest: Manifest | None, roots: tuple[str, ...] | None,
                 *, what: str) -> tuple[str, ...]:
    """The roots to walk: those given, else the one file given as the source, else the manifest's."""
    if roots:
        return roots
    if install.single_dll is not None:
        return (install.single_dll.name,)
    if manifest is not None:
        return manifest.roots
    raise InputError(f"no root {what} given")


def root_hint(root: str, names: list[str], *, what: str) -> str:
    """The end of a "root not found" error: up to four files to pass to ``--root``, the names
    closest to ``root`` first, or that there is no such file at all."""
    if not names:
        return f"; the folder holds no {what}"
    by_low = {n.lower(): n for n in sorted(names, key=str.lower)}
    score = {low: difflib.SequenceMatcher(None, root.lower(), low).ratio() for low in by_low}
    close = sorted((low for low in by_low if score[low] >= 0.6), key=lambda low: (-score[low], low))
    shown = list(dict.fromkeys(close + list(by_low)))[:4]
    more = ", ..." if len(by_low) > len(shown) else ""
    return f"; name one with --root NAME, such as {', '.join(by_low[n] for n in shown)}{more}"


def companion_statuses(install: OpenVinoInstall, manifest: Manifest | None, features: frozenset[str],
                       find_file: Callable[[str], Path | None]) -> tuple[CompanionStatus, ...]:
    """What becomes of each companion of the manifest in ``install`` (``selected`` ones are walked).

    Companions belong to OpenVINO releases: without the install's version (a
    plain folder of DLLs) none applies and the tuple is empty.
    """
    if manifest is None or install.version is None:
        return ()
    statuses = []
    for comp in manifest.companions:
        applies = companion_applies(comp, install.version)
        selected = applies and (comp.feature is None or comp.feature in features)
        statuses.append(CompanionStatus(comp, applies, selected, find_file(comp.name) if applies else None))
    return tuple(statuses)


class ClosureWalk(ABC):
    """The closure under construction, shared by the PE and the ELF graph.

    The steps are the same for both formats: add the roots, walk the import
    tables breadth first, then add each selected companion and walk what it
    imports, and freeze the result into a ``DependencyGraph``. Reading a
    file, naming an import and checking machine types belong to the format
    (the abstract methods).
    """

    what = "file"  # "DLL" or "library", for messages

    @staticmethod
    def reading_once() -> AbstractContextManager[None]:
        """A block within which this format's reader reads each file once, for a command that builds
        more than one graph of the same files (``deps``: every feature, then those chosen); none here."""
        return nullcontext()

    def __init__(self, install: OpenVinoInstall, manifest: Manifest | None, search_paths: tuple[Path, ...]) -> None:
        self.install = install
        self.manifest = manifest
        self.search_paths = search_paths
        self.roots: tuple[str, ...] = ()
        self.nodes: dict[str, Node] = {}  # key -> node, in discovery order
        self.edges: list[Edge] = []
        self.required_by: dict[str, list[str]] = {}
        self._queue: deque[str] = deque()

    # -- the format's part

    @abstractmethod
    def find_file(self, name: str) -> Path | None:
        """A file of the install (roots and companions) by name."""

    @abstractmethod
    def read(self, path: Path) -> BinaryInfo:
        """The facts of one binary of the closure."""

    @abstractmethod
    def root_not_found(self, root: str) -> InputError:
        """The error for a root that is not in the install."""

    @abstractmethod
    def imports_of(self, parent: Node) -> Iterator[tuple[Via, str]]:
        """(edge kind, name) of every import of a bundled node, in table order."""

    @abstractmethod
    def import_node(self, parent: Node, name: str, kind: Via) -> Node:
        """The node for a name ``parent`` imports that is not in the closure yet."""

    @abstractmethod
    def check_companion(self, comp: Companion, info: BinaryInfo) -> None:
        """Raise ``ArchitectureError`` when a companion is built for another machine than the roots."""

    @abstractmethod
    def hint_candidates(self) -> dict[str, Path]:
        """Files of the install, not in the closure, that a string hint may name."""

    def companion_already_there(self, comp: Companion) -> None:
        """A selected companion the import tables reached first (its chain stays the import chain).

        The PE graph adds nothing for it (no run-time edge); the ELF graph adds the loader's edge.
        """
        return

    # -- the shared steps

    def add(self, node: Node, *, loader: Node | None = None) -> None:
        """Add ``node`` (reached from ``loader``); a bundled file is queued to be walked."""
        self.nodes[node.key] = node
        self.required_by.setdefault(node.key, [])
        if node.dep_class == BUNDLED and node.path is not None and node.info is not None:
            self._queue.append(node.key)

    def require(self, name: str, by: str) -> None:
        self.required_by[name.lower()].append(by)

    def add_roots(self, roots: tuple[str, ...]) -> None:
        self.roots = roots
        for root in roots:
            path = self.find_file(root)
            if path is None:
                raise self.root_not_found(root)
            self.add(Node(path.name, BUNDLED, path, self.read(path), Via.ROOT, (path.name,), (), "root of the bundle"))

    @property
    def root_info(self) -> BinaryInfo:
        """The facts of the first root: its machine is the closure's."""
        first = self.nodes.get(self.roots[0].lower()) or next(iter(self.nodes.values()))
        assert first.info is not None
        return first.info

    def walk(self) -> None:
        """Walk the import tables of every queued file, breadth first."""
        while self._queue:
            parent = self.nodes[self._queue.popleft()]
            for kind, name in self.imports_of(parent):
                self.edges.append(Edge(parent.name, name, kind))
                if name.lower() not in self.nodes:
                    self.add(self.import_node(parent, name, kind), loader=parent)
                self.require(name, parent.name)

    def add_companion(self, comp: Companion) -> None:
        """Add one selected companion where its loader is, then walk what it imports.

        A companion that is not in the install is a ``missing`` node, unless
        the manifest says it is used only when present.
        """
        if comp.name.lower() in self.nodes:
            self.require(comp.name, comp.loaded_by)
            self.companion_already_there(comp)
            return
        path = self.find_file(comp.name)
        if path is None and comp.if_present:
            return
        loader = self.nodes.get(comp.loaded_by.lower())
        chain_head = loader.chain if loader else (comp.loaded_by,)
        if path is None:
            self.add(Node(comp.name, MISSING, None, None, Via.RUNTIME, extend_chain(chain_head, comp.name), (),
                          f"{comp.reason} (not in {self.install.dll_dir})", comp.feature))
        else:
            info = self.read(path)
            self.check_companion(comp, info)
            self.add(Node(path.name, BUNDLED, path, info, Via.RUNTIME, extend_chain(chain_head, path.name), (),
                          comp.reason, comp.feature), loader=loader)
        self.edges.append(Edge(comp.loaded_by, comp.name, Via.RUNTIME))
        self.require(comp.name, comp.loaded_by)
        self.walk()

    def final_nodes(self) -> tuple[Node, ...]:
        """The nodes in discovery order, each with the names that require it (once each)."""
        return tuple(replace(n, required_by=tuple(dict.fromkeys(self.required_by.get(n.key, ()))))
                     for n in self.nodes.values())

    def build(self, roots: tuple[str, ...] | None, features: frozenset[str] | None,
              *, scan_hints: bool) -> DependencyGraph:
        """The steps in order: roots, import closure, companions, string hints."""
        roots = choose_roots(self.install, self.manifest, roots, what=self.what)
        if features is None:
            features = self.manifest.default_features() if self.manifest else frozenset()
        self.add_roots(roots)
        statuses = companion_statuses(self.install, self.manifest, features, self.find_file)
        self.walk()
        # Companions are walked after the import closure so that the chain of a
        # file reachable by imports is its import chain.
        for status in statuses:
            if status.selected:
                self.add_companion(status.companion)
        nodes = self.final_nodes()
        found_hints, skipped = scan_string_hints(nodes, self.hint_candidates()) if scan_hints else ((), ())
        return DependencyGraph(
            install=self.install, manifest=self.manifest, roots=tuple(self.nodes[r.lower()].name for r in roots),
            features=features, search_order=(self.install.dll_dir, *tuple(self.search_paths)), nodes=nodes,
            edges=tuple(self.edges), companions=statuses, hints=found_hints, hints_skipped=skipped,
        )


def scan_string_hints(nodes: tuple[Node, ...], candidates: dict[str, Path],
                      ) -> tuple[tuple[hints_mod.Hint, ...], tuple[Path, ...]]:
    """The candidates named in the strings of the bundled files (``npuslim.analyse.hints.scan``)."""
    binaries = [(n.path, n.info.data_ranges) for n in nodes
                if n.dep_class == BUNDLED and n.path is not None and n.info is not None]
    return hints_mod.scan(binaries, candidates)
