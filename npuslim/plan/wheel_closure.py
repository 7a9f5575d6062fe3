"""The binaries a slim wheel needs: the union of the closures of its roots, checked whole.

Three kinds of graph, each built by ``npuslim.analyse.closures.build_graph``
exactly as ``deps`` and ``extract`` build theirs: the NPU manifest's (roots,
companions of the selected features), one per kept Python extension module
(the module is the root; its imports are found in the wheel's library folder,
the search path), and one per extra device manifest (``--with cpu``). The
Python interpreter's own library (``python311.dll``, ``libpython3.11.so``) is
what the interpreter provides, never missing. Missing files, and on Windows
symbols a kept binary imports that its DLL does not export, are collected from
every graph and raised together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from npuslim.analyse.closures import build_graph
from npuslim.analyse.graph import DependencyGraph, Node
from npuslim.errors import MissingDependencyError
from npuslim.knowledge.manifest import Manifest, WindowsFacts, load_manifest
from npuslim.plan.bundle import LAYOUTS
from npuslim.plan.features import features_for_source, manifest_for_install
from npuslim.plan.wheel_features import WheelFeatures
from npuslim.platforms import Platform
from npuslim.source.install import OpenVinoInstall
from npuslim.source.locate import locate
from npuslim.source.wheel_members import WheelMember

_INTERPRETER = re.compile(r"^(lib)?python3[0-9.]*(\.dll|\.so(\.[0-9.]+)?)$", re.IGNORECASE)


@dataclass(frozen=True)
class WheelInputs:
    """What the source stage read from the official wheel for the plan."""

    install: OpenVinoInstall
    manifest: Manifest
    facts: WindowsFacts
    listing: tuple[WheelMember, ...]
    texts: dict[str, str]          # METADATA and the package's Python sources
    extension_dir: Path            # the kept extension modules, unpacked at their wheel paths
    extensions: tuple[str, ...]    # their wheel paths


def is_interpreter_library(name: str) -> bool:
    """``python311.dll`` or ``libpython3.11.so.1.0``: provided by the Python that imports the wheel."""
    return bool(_INTERPRETER.match(name))


@dataclass(frozen=True)
class WheelClosure:
    """Every graph of the wheel, the bundled files of their union and the warnings."""

    graphs: tuple[DependencyGraph, ...]
    warnings: tuple[str, ...]

    @property
    def files(self) -> tuple[Node, ...]:
        """The bundled nodes of every graph, each file once (the first graph's reason wins)."""
        seen: dict[Path, Node] = {}
        for graph in self.graphs:
            for node in graph.files:
                assert node.path is not None
                seen.setdefault(node.path.resolve(), node)
        return tuple(seen.values())

    @classmethod
    def build(cls, inputs: WheelInputs, features: WheelFeatures) -> WheelClosure:
        """The graphs (see the module docstring); ``MissingDependencyError`` unless all are whole."""
        install, facts = inputs.install, inputs.facts
        defaults = inputs.manifest.default_features()  # c-api among them: a wheel's defaults leave it out
        choice, _ = features_for_source(install, inputs.manifest, facts, with_=sorted(features.manifest),
                                        without=sorted(defaults - features.manifest))
        graphs = [build_graph(install, manifest=inputs.manifest, facts=facts, features=choice.delivered,
                              scan_hints=False)]
        for name in inputs.extensions:
            module = locate(str(inputs.extension_dir / name))
            graphs.append(build_graph(module, manifest=inputs.manifest, facts=facts, features=frozenset(),
                                      search_paths=(install.dll_dir,), scan_hints=False))
        for device in features.devices:
            manifest = manifest_for_install(install, load_manifest(device))
            own = frozenset(f.name for f in manifest.features) & features.manifest
            graphs.append(build_graph(install, manifest=manifest, facts=facts, features=own, scan_hints=False))
        _raise_missing(graphs)
        return cls(tuple(graphs), choice.warnings())


def _raise_missing(graphs: list[DependencyGraph]) -> None:
    problems: list[str] = []
    names: list[str] = []
    for graph in graphs:
        for node in graph.missing:
            if not is_interpreter_library(node.name) and node.name not in names:
                names.append(node.name)
                problems.append(f"{node.name} (needed by {', '.join(node.required_by) or 'the manifest'})")
        for gap in LAYOUTS[Platform(graph.install.platform)].missing_symbols(graph):
            if not is_interpreter_library(gap.dll):
                names.append(gap.dll)
                problems.append(gap.describe())
    if problems:
        raise MissingDependencyError(f"the slim wheel would not be whole: missing {'; '.join(problems)}",
                                     tuple(names))
