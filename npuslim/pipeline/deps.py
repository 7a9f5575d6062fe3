"""``deps``: the stages in order for a closure report, nothing written.

1. the sources are located (``npuslim.pipeline.extract.locate_sources``, shared with extract);
2. plan the features the source can deliver (``npuslim.plan.features``);
3. analyse: the dependency graph with those features, then every import between bundled DLLs by
   symbol (Windows sources; a Linux graph is checked by ``ld.so``'s rules while it is built).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from npuslim.analyse.closures import build_graph, closure_walk
from npuslim.analyse.graph import DependencyGraph
from npuslim.errors import InputError
from npuslim.knowledge.manifest import WindowsFacts
from npuslim.pipeline.sources import Sources
from npuslim.plan.features import features_for_source
from npuslim.platforms import Platform, traits
from npuslim.progress import ProgressFn, Reporter
from npuslim.source.install import public_name

if TYPE_CHECKING:
    from npuslim.analyse.symbols import MissingSymbols


@dataclass(frozen=True)
class DepsResult:
    graph: DependencyGraph
    missing_symbols: tuple[MissingSymbols, ...]
    warnings: tuple[str, ...]   # features left out, one line each

    @property
    def complete(self) -> bool:
        """No dependency and no imported symbol is missing (exit 0; else 3)."""
        return not self.graph.missing and not self.missing_symbols


def closure(sources: Sources, facts: WindowsFacts, *, roots: tuple[str, ...] | None, with_: list[str] | None,
            without: list[str] | None, scan_hints: bool, exports: bool = False,
            progress: ProgressFn | None = None) -> DepsResult:
    """``_closure`` as one ``analyse`` step for ``progress``."""
    with Reporter(progress).step("analyse", public_name(sources.install.origin)) as step, \
            closure_walk(Platform(sources.install.platform)).reading_once():
        found = _closure(sources, facts, roots=roots, with_=with_, without=without, scan_hints=scan_hints,
                         exports=exports)
        step.detail = f"{len(found.graph.files)} files in the closure"
    return found


def _closure(sources: Sources, facts: WindowsFacts, *, roots: tuple[str, ...] | None, with_: list[str] | None,
             without: list[str] | None, scan_hints: bool, exports: bool = False) -> DepsResult:
    """The closure of ``roots`` (default: the manifest's) in ``sources``, with the features the
    source delivers; ``exports`` (``deps --exports``) is refused for a Linux source."""
    install = sources.install
    if exports and not traits(install.platform).export_tables:
        raise InputError("--exports reads Windows (PE) export tables; it does not cover Linux sources yet")
    choice, _statuses = features_for_source(install, sources.manifest, facts, with_=with_, without=without,
                                            roots=roots, search_paths=sources.search_paths)
    graph = build_graph(install, manifest=sources.manifest, facts=facts, roots=roots, features=choice.delivered,
                        search_paths=sources.search_paths, scan_hints=scan_hints)
    missing_symbols: tuple[MissingSymbols, ...] = ()
    if traits(install.platform).symbol_check:
        from npuslim.analyse.symbols import check_symbols

        missing_symbols = check_symbols((n.name, n.path) for n in graph.files if n.path is not None)
    return DepsResult(graph, tuple(missing_symbols), tuple(choice.warnings()))
