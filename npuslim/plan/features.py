"""Choosing the features of a manifest for one source: what is asked, what it ships.

A feature is a set of run-time companions (plus headers and import libraries)
that an application may want. Whether a source can deliver it is decided once,
here, from the companions' version ranges and the files the source holds;
``extract``, ``deps`` and ``--list-features`` all use this one answer:

- a feature whose companions the release does not ship is *unavailable*;
- an unavailable feature that is on by default is dropped, with one warning;
- an unavailable feature asked for with ``--with`` is an error (exit 4) that
  says which releases ship it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from npuslim.analyse.closures import build_graph
from npuslim.analyse.graph import DELAY_IMPORT, IMPORT, RUNTIME, DependencyGraph
from npuslim.analyse.resolve import BUNDLED
from npuslim.errors import InputError, ManifestError
from npuslim.knowledge.manifest import (
    Feature,
    Manifest,
    WindowsFacts,
    load_manifest,
    manifests_dir,
)
from npuslim.knowledge.versions import parse_version
from npuslim.source.linux import LINUX, is_shared_object_name
from npuslim.source.locate import OpenVinoInstall


@dataclass(frozen=True)
class FeatureStatus:
    """Whether one feature can be delivered from this source, and what it adds.

    ``adds`` maps each file the feature brings beyond the features-free bundle
    (its companions and their own imports) to its size in bytes.
    """

    feature: Feature
    available: bool
    reason: str | None        # why it is unavailable; None when available
    adds: tuple[tuple[str, int], ...] = ()

    @property
    def name(self) -> str:
        return self.feature.name

    @property
    def added_bytes(self) -> int:
        return sum(size for _name, size in self.adds)


@dataclass(frozen=True)
class FeatureChoice:
    """The features asked for, those delivered, and why any asked one was dropped."""

    requested: frozenset[str]
    delivered: frozenset[str]
    dropped: tuple[tuple[str, str], ...] = ()   # (feature, reason)

    def warnings(self) -> tuple[str, ...]:
        return tuple(f"feature {name} left out: {reason}" for name, reason in self.dropped)


def _why_not_applicable(manifest: Manifest, feature: str, version: str, where: str) -> str:
    """Why no companion of ``feature`` applies to ``version``: the first release that ships it
    when the source is older than every range and a range is open-ended, else the ranges."""
    declared = [c for c in manifest.companions if c.feature == feature]
    required = [c for c in declared if not c.if_present] or declared
    ranges = [c.versions for c in required if c.versions.text]
    lower = [bound for r in ranges for bound in r.lower_bounds()]
    open_ended = any(r.is_open_ended() for r in ranges)
    names = _names([c.name for c in required])
    if lower and open_ended and parse_version(version) < parse_version(min(lower, key=parse_version)):
        return f"{names} not in {where}; OpenVINO releases from {min(lower, key=parse_version)} on ship it"
    spans = "; ".join(dict.fromkeys(f"{c.name} {c.versions.text.replace(' ', '')}"
                                    for c in required if c.versions.text))
    return f"the manifest gives {names.rsplit(' ', 1)[0]} only to other releases ({spans}), not to {where}"


def feature_statuses(graph: DependencyGraph, selected: frozenset[str] | None = None) -> tuple[FeatureStatus, ...]:
    """The status of every feature of ``graph.manifest``.

    ``graph`` must be built with every feature selected (see ``features_for_source``),
    so that every applicable companion was looked up and walked once. What a
    feature adds is measured against ``selected`` (default: the manifest's
    defaults that the source has): for a feature outside it, what turning it on
    adds; for one inside, what turning it off removes. A source whose OpenVINO
    version is unknown (a plain folder of DLLs) has no companions at all: every
    feature is available and adds nothing.
    """
    manifest = graph.manifest
    if manifest is None:
        return ()
    version = graph.install.version
    reasons: dict[str, str | None] = {}
    for feature in manifest.features:
        declared = [c for c in manifest.companions if c.feature == feature.name]
        statuses = [s for s in graph.companions if s.companion.feature == feature.name]
        applicable = [s for s in statuses if s.applies]
        absent = [s.companion.name for s in applicable if s.path is None and not s.companion.if_present]
        present = [s for s in applicable if s.path is not None]
        reason = None
        where = f"this source (OpenVINO {version}, {graph.install.origin})"
        if version is not None and declared and absent:
            reason = f"{_names(absent)} not in {where}"
        elif version is not None and declared and not present:
            required_apply = any(not s.companion.if_present for s in applicable)
            has_required = any(not c.if_present for c in declared)
            reason = (_why_not_applicable(manifest, feature.name, version, where)
                      if not applicable or (has_required and not required_apply)
                      else f"{_names([s.companion.name for s in applicable])} not in {where}")
        reasons[feature.name] = reason
    reach = _reacher(graph)
    base = set(selected) if selected is not None else {
        f.name for f in manifest.features if f.default and reasons[f.name] is None}
    base_files = reach(frozenset(base))
    out = []
    for feature in manifest.features:
        if feature.name in base:
            without_it = reach(frozenset(base - {feature.name}))
            adds = {k: v for k, v in base_files.items() if k not in without_it}
        else:
            adds = {k: v for k, v in reach(frozenset(base | {feature.name})).items() if k not in base_files}
        out.append(FeatureStatus(feature, reasons[feature.name] is None, reasons[feature.name],
                                 tuple(sorted(adds.items()))))
    return tuple(out)


def _names(names: list[str]) -> str:
    unique = list(dict.fromkeys(names))
    return f"{', '.join(unique)} {'is' if len(unique) == 1 else 'are'}"


def _reacher(graph: DependencyGraph) -> Callable[[frozenset[str]], dict[str, int]]:
    """A function from a set of features to the bundled files (name -> bytes) reachable from
    the roots through imports and the companions of no feature or of one of those features."""
    runtime_feature = {(s.companion.loaded_by.lower(), s.companion.name.lower()): s.companion.feature
                       for s in graph.companions if s.applies}
    imports: dict[str, list[str]] = defaultdict(list)
    runtime: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    for e in graph.edges:
        src, dst = e.source.lower(), e.target.lower()
        if e.kind in (IMPORT, DELAY_IMPORT):
            imports[src].append(dst)
        elif e.kind == RUNTIME:
            runtime[src].append((dst, runtime_feature.get((src, dst))))
    files = {n.key: n for n in graph.nodes if n.dep_class == BUNDLED}
    # a companion loaded by something outside the graph (the application) starts a walk of its own
    outside = [src for src in runtime if src not in files]

    def reach(features: frozenset[str]) -> dict[str, int]:
        seen: set[str] = set()
        stack = [r.lower() for r in graph.roots] + outside
        while stack:
            key = stack.pop()
            if key in seen:
                continue
            seen.add(key)
            stack.extend(imports.get(key, ()))
            stack.extend(dst for dst, feat in runtime.get(key, ()) if feat is None or feat in features)
        return {files[k].name: files[k].size for k in seen if k in files}

    return reach


def needs(graph: DependencyGraph, delivered: frozenset[str]) -> str | None:
    """Why ``delivered`` cannot stand on its own: a feature whose companion is loaded by a
    companion of a feature left out (the ONNX Runtime bundle's compiler without its NPU
    plugin), or ``None``."""
    owner = {s.companion.name.lower(): s.companion.feature for s in graph.companions if s.applies and s.path}
    for s in graph.companions:
        c = s.companion
        if not s.applies or s.path is None or c.feature not in delivered:
            continue
        loader_feature = owner.get(c.loaded_by.lower())
        if loader_feature is not None and loader_feature != c.feature and loader_feature not in delivered:
            return (f"feature {c.feature} needs feature {loader_feature}: {c.name} is loaded by "
                    f"{c.loaded_by}, which comes with {loader_feature}")
    return None


def choose_features(manifest: Manifest, statuses: tuple[FeatureStatus, ...], with_: list[str] | None,
                    without: list[str] | None) -> FeatureChoice:
    """The manifest's defaults plus ``with_`` minus ``without``, checked against the source.

    Unknown names are an ``InputError``; so is a feature asked with ``with_``
    that the source cannot deliver. A default feature it cannot deliver is
    dropped and recorded in ``dropped``. ``all`` asks for every feature the
    source has (those it lacks are left out without a word).
    """
    requested = select_features(manifest, with_, without)
    by_name = {s.name: s for s in statuses}
    explicit = {n for n in with_ or [] if n != "all"} - set(without or [])
    delivered = set(requested)
    dropped = []
    for name in sorted(requested):
        status = by_name.get(name)
        if status is None or status.available:
            continue
        if name in explicit:
            raise InputError(f"feature {name} cannot be delivered: {status.reason}")
        delivered.discard(name)
        if manifest.feature(name) is not None and manifest.feature(name).default:  # type: ignore[union-attr]
            dropped.append((name, status.reason or "not in this source"))
    return FeatureChoice(frozenset(requested), frozenset(delivered), tuple(dropped))


def select_features(manifest: Manifest, with_: list[str] | None,
                    without: list[str] | None) -> frozenset[str]:
    """The manifest's defaults plus ``with_`` minus ``without``; unknown names are an error."""
    known = {f.name for f in manifest.features}
    chosen = set(manifest.default_features())
    for name in with_ or []:
        if name == "all":
            chosen |= known
            continue
        if name not in known:
            raise InputError(_unknown(manifest, name))
        chosen.add(name)
    for name in without or []:
        if name not in known:
            raise InputError(_unknown(manifest, name))
        chosen.discard(name)
    return frozenset(chosen)


def _unknown(manifest: Manifest, name: str) -> str:
    names = ", ".join(f.name for f in manifest.features)
    return f"unknown feature {name!r} for manifest {manifest.name} (features: {names})"


def features_for_source(install: OpenVinoInstall, manifest: Manifest, facts: WindowsFacts, *,
                        with_: list[str] | None, without: list[str] | None,
                        roots: tuple[str, ...] | None = None,
                        search_paths: tuple[Path, ...] = ()) -> tuple[FeatureChoice, tuple[FeatureStatus, ...]]:
    """Decide the features for ``install``: one graph with every feature on, then
    ``feature_statuses`` and ``choose_features`` (see the module docstring)."""
    every = frozenset(f.name for f in manifest.features)
    graph = build_graph(install, manifest=manifest, facts=facts, roots=roots, features=every,
                        search_paths=search_paths, scan_hints=False)
    statuses = feature_statuses(graph)
    choice = choose_features(manifest, statuses, with_, without)
    problem = needs(graph, choice.delivered)
    if problem is not None:
        raise InputError(problem)
    return choice, statuses


def features_json(install: OpenVinoInstall, manifest: Manifest, statuses: tuple[FeatureStatus, ...],
                  selected: frozenset[str]) -> str:
    """``extract --list-features --format json`` (schema ``npuslim/schemas/features.schema.json``)."""
    import json

    from npuslim import __version__

    data = {
        "schema": "npuslim.features", "schema_version": 1, "tool_version": __version__,
        "manifest": manifest.name, "source": install.origin, "openvino_version": install.version,
        "features": [
            {"name": s.name, "default": s.feature.default, "selected": s.name in selected and s.available,
             "available": s.available, "reason": s.reason, "description": s.feature.description,
             "adds_bytes": s.added_bytes, "adds": [{"name": n, "size": size} for n, size in s.adds]}
            for s in statuses
        ],
    }
    return json.dumps(data, indent=2) + "\n"


def manifest_for_install(install: OpenVinoInstall, manifest: Manifest) -> Manifest:
    """The manifest for ``install``'s platform, with glob names made concrete for a Linux install.

    A shipped Windows manifest (``npu``, ``cpu``, ``gpu``) asked for a Linux
    source becomes its ``-linux`` sibling. A manifest whose roots are for the
    other platform is a ``ManifestError`` that says so in one line.
    """
    roots_linux = all(is_shared_object_name(r) or ".so" in r for r in manifest.roots)
    roots_windows = all(r.lower().endswith(".dll") for r in manifest.roots)
    if install.platform == LINUX:
        if roots_windows:
            sibling = manifests_dir() / f"{manifest.name}-linux.yaml"
            shipped = manifest.source.resolve().parent == manifests_dir().resolve()
            if not (shipped and sibling.is_file()):
                raise ManifestError(
                    f"manifest {manifest.name} ({manifest.source}) names Windows DLLs "
                    f"({', '.join(manifest.roots)}), but {install.origin} is a Linux (ELF) install; "
                    "pass a Linux manifest such as npu-linux"
                )
            manifest = load_manifest(sibling)
        from npuslim.analyse.resolve_elf import concrete_manifest  # the ELF reader: Linux sources only

        return concrete_manifest(manifest, install.dll_dir)
    if roots_linux:
        raise ManifestError(
            f"manifest {manifest.name} ({manifest.source}) names Linux shared objects "
            f"({', '.join(manifest.roots)}), but {install.origin} is a Windows install; "
            "pass a Windows manifest such as npu"
        )
    return manifest
