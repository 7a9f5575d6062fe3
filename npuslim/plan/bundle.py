"""Planning a bundle: every file, where it goes and why, checked before anything is written.

``plan_bundle`` turns a dependency graph, the manifest's headers, link files
and licences into a ``BundlePlan``, the same steps for every platform; where
the files go and what the target must provide come from the platform's
layout, ``LAYOUTS[platform]`` (``npuslim.plan.windows_bundle``,
``npuslim.plan.linux_bundle``). All problems (missing dependencies,
unreadable sources, two files for one bundle path) are collected and raised
together; nothing is written here.
"""

from __future__ import annotations

from collections.abc import Mapping

from npuslim.analyse.closures import build_graph
from npuslim.errors import InputError
from npuslim.knowledge.manifest import Manifest
from npuslim.layout import PlannedFile
from npuslim.plan.base import (
    BundlePlan,
    Layout,
    MissingEntry,
    PlanRequest,
    Requirement,
    build_requirements,
    check_files,
    measure_source,
    missing_or_raise,
    plan_headers,
    plan_licenses,
)
from npuslim.plan.linux_bundle import LinuxLayout
from npuslim.plan.msvc import plan_msvc_runtime
from npuslim.plan.windows_bundle import WindowsLayout
from npuslim.platforms import Platform
from npuslim.source.locate import OpenVinoInstall

__all__ = ["LAYOUTS", "BundlePlan", "Layout", "MissingEntry", "PlanRequest", "Requirement", "plan_bundle"]

LAYOUTS: Mapping[Platform, Layout] = {Platform.WINDOWS: WindowsLayout(), Platform.LINUX: LinuxLayout()}


def plan_bundle(install: OpenVinoInstall, *, manifest: Manifest, request: PlanRequest) -> BundlePlan:
    """Plan the bundle for ``install``; raises when the plan cannot be carried out.

    Raises ``MissingDependencyError`` naming every missing dependency (unless
    ``request.allow_missing``), ``InputError`` for unreadable sources, two files
    that map to one bundle path, or ``--msvc-runtime`` where the layout cannot
    ship it.
    """
    layout = LAYOUTS[Platform(install.platform)]
    if request.msvc_runtime_dir is not None and layout.msvc_runtime_refusal is not None:
        raise InputError(layout.msvc_runtime_refusal)
    graph = build_graph(install, manifest=manifest, facts=request.facts, roots=request.roots,
                        features=request.features, search_paths=request.search_paths, scan_hints=False)
    warnings = [f"feature {name} left out: {reason}" for name, reason in request.features_dropped]
    files: list[PlannedFile] = layout.binaries(graph, warnings)
    if request.msvc_runtime_dir is not None:
        msvc_files, msvc_warnings = plan_msvc_runtime(graph, request.msvc_runtime_dir)
        files += msvc_files
        warnings += msvc_warnings
    missing_symbols = layout.missing_symbols(graph)
    missing = missing_or_raise(graph, missing_symbols, allow_missing=request.allow_missing, warnings=warnings)
    headers = plan_headers(install, manifest, request.features, files, warnings)
    files += layout.link_files(install, manifest, request.features, files, warnings)
    files += plan_licenses(install, manifest, warnings)
    check_files(files)
    size, how = measure_source(install, request.onnxruntime)
    requested = request.features if request.features_requested is None else request.features_requested
    return BundlePlan(
        install=install, manifest=manifest, features=request.features, graph=graph, files=tuple(files),
        requirements=layout.requirements(graph, manifest, files) + build_requirements(request.onnxruntime),
        missing=missing, headers=headers, warnings=tuple(warnings), source_size=size, source_size_how=how,
        features_requested=requested, features_dropped=request.features_dropped,
        onnxruntime=request.onnxruntime, missing_symbols=missing_symbols,
    )
