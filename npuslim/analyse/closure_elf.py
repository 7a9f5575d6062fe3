"""The closure of ELF shared objects: the ``linux`` entry of ``npuslim.analyse.closures.CLOSURES``.

DT_NEEDED names, read with ``npuslim.formats.elf``, found the way ld.so finds
them (``npuslim.analyse.resolve_elf``, whose docstring gives the order).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from npuslim.analyse.graph import ClosureWalk, Edge, Node, Via, absolute_install, extend_chain, root_hint
from npuslim.analyse.resolve import BUNDLED, MISSING
from npuslim.analyse.resolve_elf import NOT_FOUND_ON_PATH, ElfResolver
from npuslim.errors import ArchitectureError, InputError
from npuslim.formats.binary import BinaryInfo
from npuslim.formats.elf import ElfInfo, read_elf
from npuslim.knowledge.manifest import Companion, Manifest, WindowsFacts
from npuslim.source.locate import OpenVinoInstall


def _check_machine(parent: str, info: ElfInfo, child: ElfInfo) -> None:
    if (child.machine, child.bits) != (info.machine, info.bits):
        raise ArchitectureError(f"{parent} ({info.machine}, {info.bits}-bit) needs {child.path.name}, "
                                f"which is built for {child.machine} ({child.bits}-bit): {child.path}")


class ElfClosure(ClosureWalk):
    """The closure of ELF shared objects: DT_NEEDED names found the way ld.so does (module docstring).

    Each bundled object keeps its loader chain (the objects that loaded it, itself last): ld.so
    searches the DT_RPATH of every object up that chain.
    """

    what = "library"

    def __init__(self, install: OpenVinoInstall, *, manifest: Manifest | None, facts: WindowsFacts,
                 search_paths: tuple[Path, ...]) -> None:
        """``facts`` (what Windows provides) are the Windows closure's; ld.so's search has no use for them.

        The install's paths are made absolute (``absolute_install``): ``$ORIGIN`` is the absolute
        folder of an object, and the closure the same however the source path was written."""
        install = absolute_install(install)
        search_paths = tuple(Path(os.path.abspath(p)) for p in search_paths)
        super().__init__(install, manifest, search_paths)
        self.resolver = ElfResolver(manifest=manifest, lib_dir=install.dll_dir, search_paths=search_paths)
        self.infos: dict[Path, ElfInfo] = {}  # every file read, by path: a node's info with its ELF fields
        self.loaders: dict[str, list[tuple[Path, ElfInfo]]] = {}

    def add(self, node: Node, *, loader: Node | None = None) -> None:
        super().add(node, loader=loader)
        if node.dep_class == BUNDLED and node.path in self.infos:
            chain = self.loaders.get(loader.key, []) if loader is not None else []
            self.loaders[node.key] = [*chain, (node.path, self.infos[node.path])]

    def find_file(self, name: str) -> Path | None:
        return self.resolver.find_file(name)

    def read(self, path: Path) -> ElfInfo:
        info = self.infos[path] = read_elf(path)
        return info

    def root_not_found(self, root: str) -> InputError:
        if root.lower().endswith(".dll"):
            return InputError(f"root {root} is a Windows DLL name, but {self.install.origin} is a Linux (ELF) "
                              "install: name a shared object such as libopenvino_intel_npu_plugin.so")
        libraries = [name for name in self.resolver.listing(self.install.dll_dir) if ".so" in name]
        return InputError(f"root {root} not found in {self.install.dll_dir} ({self.install.describe()})"
                          + root_hint(root, libraries, what="shared object"))

    def imports_of(self, parent: Node) -> Iterator[tuple[Via, str]]:
        assert parent.info is not None
        return ((Via.IMPORT, name) for name in parent.info.imports)

    def import_node(self, parent: Node, name: str, kind: Via) -> Node:
        chain = extend_chain(parent.chain, name)
        provided = self.resolver.provider(name)
        if provided is not None:
            return Node(name, provided[0], None, None, Via.IMPORT, chain, (), provided[1])
        path, how = self.resolver.search(name, self.loaders[parent.key])
        if path is None:
            return Node(name, MISSING, None, None, Via.IMPORT, chain, (), how)
        child = self.read(path)
        assert parent.path is not None
        _check_machine(parent.name, self.infos[parent.path], child)
        reason = f"{parent.name} needs it (DT_NEEDED)"
        if how == NOT_FOUND_ON_PATH:
            reason += (f"; {how}: ld.so finds it only when another library loaded it first "
                       f"(found in {self.install.dll_dir})")
        else:
            reason += f", found through {how}"
        return Node(name, BUNDLED, path, child, Via.IMPORT, chain, (), reason)

    def check_companion(self, comp: Companion, info: BinaryInfo) -> None:
        root = self.infos[self.root_info.path]
        _check_machine(root.path.name, root, self.infos[info.path])

    def companion_already_there(self, comp: Companion) -> None:
        self.edges.append(Edge(comp.loaded_by, self.nodes[comp.name.lower()].name, Via.RUNTIME))

    def hint_candidates(self) -> dict[str, Path]:
        return {name: path for name, path in self.resolver.listing(self.install.dll_dir).items()
                if name.lower() not in self.nodes and ".so" in name}
