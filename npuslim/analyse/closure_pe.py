"""The closure of Windows DLLs: the ``windows`` entry of ``npuslim.analyse.closures.CLOSURES``.

Import and delay-import tables, read with ``npuslim.formats.pe``; every name is
resolved with the Windows search order of ``npuslim.analyse.resolve``. The
forwarded exports the closure imports are followed too (``npuslim.analyse.forwarders``):
each is an edge of kind ``forward`` to the DLL it names.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from npuslim.analyse.forwarders import Forward, ForwardIndex, follow_forwards, symbol_label
from npuslim.analyse.graph import ClosureWalk, Edge, Node, Via, extend_chain, root_hint
from npuslim.analyse.resolve import BUNDLED, Resolver
from npuslim.errors import ArchitectureError, InputError
from npuslim.formats.binary import BinaryInfo
from npuslim.formats.pe import PeInfo, read_once, read_pe
from npuslim.formats.pe_tables import read_symbol_tables
from npuslim.knowledge.manifest import Companion, Manifest, WindowsFacts
from npuslim.source.locate import OpenVinoInstall


class PeClosure(ClosureWalk):
    """The closure of Windows DLLs: import and delay-import tables, names resolved by ``Resolver``."""

    what = "DLL"
    reading_once = staticmethod(read_once)

    def __init__(self, install: OpenVinoInstall, *, manifest: Manifest | None, facts: WindowsFacts,
                 search_paths: tuple[Path, ...]) -> None:
        super().__init__(install, manifest, search_paths)
        self.resolver = Resolver(facts=facts, manifest=manifest, dll_dir=install.dll_dir, search_paths=search_paths)
        self.infos: dict[Path, PeInfo] = {}  # every file read, by path: a node's info with its PE-only fields
        self.forwarders = ForwardIndex()
        self._symbols_read: set[str] = set()           # nodes whose imported symbols were looked at
        self._followed: set[tuple[str, str]] = set()   # (DLL, symbol) forwards followed
        self._forward_edges: set[tuple[str, str]] = set()

    def find_file(self, name: str) -> Path | None:
        return self.resolver.find_file(name)

    def read(self, path: Path) -> PeInfo:
        info = self.infos[path] = read_pe(path)
        return info

    def root_not_found(self, root: str) -> InputError:
        where = f" ({self.install.describe()})" if self.install.layout != "dll-folder" else ""
        dlls = [p.name for low, p in self.resolver.listing(self.install.dll_dir).items() if low.endswith(".dll")]
        return InputError(f"root {root} not found in {self.install.dll_dir}{where}"
                          + root_hint(root, dlls, what=".dll file"))

    def imports_of(self, parent: Node) -> Iterator[tuple[Via, str]]:
        assert parent.path is not None
        info = self.infos[parent.path]
        yield from ((Via.IMPORT, name) for name in info.imports)
        yield from ((Via.DELAY_IMPORT, name) for name in info.delay_imports)

    def walk(self) -> None:
        """The import closure, then the forwarded exports it imports, until neither adds a DLL."""
        super().walk()
        while self._follow_forwarded_imports():
            super().walk()

    def _bundled_path(self, name: str) -> Path | None:
        node = self.nodes.get(name.lower())
        return node.path if node is not None and node.dep_class == BUNDLED else None

    def _wanted_forwards(self) -> list[tuple[str, str, str]]:
        """(DLL, symbol, importer) for each symbol a file not looked at yet imports from a bundled
        DLL that forwards exports; the import tables by symbol are read only for those files."""
        wanted: list[tuple[str, str, str]] = []
        for node in list(self.nodes.values()):
            if node.key in self._symbols_read or node.path is None or node.path not in self.infos:
                continue
            self._symbols_read.add(node.key)
            info = self.infos[node.path]
            forwarding = {name.lower() for name in info.imports + info.delay_imports
                          if (path := self._bundled_path(name)) is not None and self.forwarders.of(path)}
            if forwarding:
                wanted.extend((sym.dll, symbol_label(sym), node.name)
                              for sym in read_symbol_tables(node.path, exports=False).imports
                              if sym.dll.lower() in forwarding and sym.dll.lower() != node.key)
        return wanted

    def _follow_forwarded_imports(self) -> bool:
        """Add the forward edges (and new DLLs) of the imported forwarded exports; True when a
        DLL was added (its own imports are then walked)."""
        before = len(self.nodes)
        follow_forwards(self._wanted_forwards(), self._bundled_path, self._add_forward,
                        index=self.forwarders, followed=self._followed)
        return len(self.nodes) > before

    def _add_forward(self, forward: Forward) -> None:
        exporter = self.nodes[forward.exporter.lower()]
        target = forward.target_dll
        if target.lower() == exporter.key:
            return
        if (exporter.key, target.lower()) not in self._forward_edges:
            self._forward_edges.add((exporter.key, target.lower()))
            self.edges.append(Edge(exporter.name, target, Via.FORWARD))
        if target.lower() not in self.nodes:
            self.add(self.import_node(exporter, target, Via.FORWARD, reason=forward.reason()), loader=exporter)
        self.require(target, exporter.name)

    def import_node(self, parent: Node, name: str, kind: Via, *, reason: str = "") -> Node:
        res = self.resolver.resolve(name, parent.path)
        child_info = None
        display = name
        if res.dep_class == BUNDLED and res.path is not None:
            child_info = self.read(res.path)
            display = res.path.name
            assert parent.path is not None
            machine = self.infos[parent.path].machine
            if child_info.machine != machine:
                raise ArchitectureError(f"{parent.name} ({machine}) imports {display}, "
                                        f"which is built for {child_info.machine}: {res.path}")
        verb = "delay-imports" if kind == Via.DELAY_IMPORT else "imports"
        reason = "; ".join(filter(None, (reason, res.note))) or f"{parent.name} {verb} it"
        return Node(display, res.dep_class, res.path, child_info, kind, extend_chain(parent.chain, display), (),
                    reason)

    def check_companion(self, comp: Companion, info: BinaryInfo) -> None:
        machine = self.root_info.machine
        if info.machine != machine:
            raise ArchitectureError(f"{comp.name} is built for {info.machine}, the roots for {machine}: {info.path}")

    def hint_candidates(self) -> dict[str, Path]:
        return {path.name: path for low, path in self.resolver.listing(self.install.dll_dir).items()
                if low.endswith(".dll") and low not in self.nodes}
