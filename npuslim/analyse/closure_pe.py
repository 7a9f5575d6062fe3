"""The closure of Windows DLLs: the ``windows`` entry of ``npuslim.analyse.closures.CLOSURES``.

Import and delay-import tables, read with ``npuslim.formats.pe``; every name is
resolved with the Windows search order of ``npuslim.analyse.resolve``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from npuslim.analyse.graph import ClosureWalk, Node, Via, extend_chain, root_hint
from npuslim.analyse.resolve import BUNDLED, Resolver
from npuslim.errors import ArchitectureError, InputError
from npuslim.formats.binary import BinaryInfo
from npuslim.formats.pe import PeInfo, read_pe
from npuslim.knowledge.manifest import Companion, Manifest, WindowsFacts
from npuslim.source.locate import OpenVinoInstall


class PeClosure(ClosureWalk):
    """The closure of Windows DLLs: import and delay-import tables, names resolved by ``Resolver``."""

    what = "DLL"

    def __init__(self, install: OpenVinoInstall, *, manifest: Manifest | None, facts: WindowsFacts,
                 search_paths: tuple[Path, ...]) -> None:
        super().__init__(install, manifest, search_paths)
        self.resolver = Resolver(facts=facts, manifest=manifest, dll_dir=install.dll_dir, search_paths=search_paths)
        self.infos: dict[Path, PeInfo] = {}  # every file read, by path: a node's info with its PE-only fields

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

    def import_node(self, parent: Node, name: str, kind: Via) -> Node:
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
        reason = res.note or f"{parent.name} {verb} it"
        return Node(display, res.dep_class, res.path, child_info, kind, extend_chain(parent.chain, display), (),
                    reason)

    def check_companion(self, comp: Companion, info: BinaryInfo) -> None:
        machine = self.root_info.machine
        if info.machine != machine:
            raise ArchitectureError(f"{comp.name} is built for {info.machine}, the roots for {machine}: {info.path}")

    def hint_candidates(self) -> dict[str, Path]:
        return {path.name: path for low, path in self.resolver.listing(self.install.dll_dir).items()
                if low.endswith(".dll") and low not in self.nodes}
