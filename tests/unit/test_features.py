"""Features per release: what is asked, what the source ships, one answer for
``--list-features``, ``deps`` and ``extract``.

The pure half; the tests that build, run or download are in tests/integration/test_features.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from npuslim.errors import InputError
from npuslim.knowledge.manifest import load_manifest
from npuslim.plan.features import FeatureStatus, choose_features

PLUGIN = "openvino_intel_npu_plugin.dll"


def _statuses(unavailable: dict[str, str]) -> tuple[FeatureStatus, ...]:
    npu = load_manifest()
    return tuple(FeatureStatus(f, f.name not in unavailable, unavailable.get(f.name)) for f in npu.features)


def test_a_default_feature_the_source_lacks_is_dropped_with_its_reason() -> None:
    choice = choose_features(load_manifest(), _statuses({"c-api": "openvino_c.dll is not in X"}), None, None)
    assert choice.requested == {"ir", "c-api"}
    assert choice.delivered == {"ir"}
    assert choice.dropped == (("c-api", "openvino_c.dll is not in X"),)
    assert choice.warnings() == ("feature c-api left out: openvino_c.dll is not in X",)


def test_a_feature_asked_for_that_the_source_lacks_is_an_error() -> None:
    with pytest.raises(InputError, match="feature compiler cannot be delivered: no compiler here"):
        choose_features(load_manifest(), _statuses({"compiler": "no compiler here"}), ["compiler"], None)


def test_without_wins_over_with_and_all_takes_what_the_source_has() -> None:
    statuses = _statuses({"compiler": "absent", "host-compile": "absent"})
    npu = load_manifest()
    assert choose_features(npu, statuses, ["compiler"], ["compiler"]).delivered == {"ir", "c-api"}
    every = choose_features(npu, statuses, ["all"], None)
    assert every.delivered == {"ir", "c-api", "onnx", "cpu", "tbbbind", "tbbmalloc"}
    assert every.dropped == ()  # "all" means what the source has: nothing to warn about
    lacking_a_default = _statuses({"c-api": "absent", "compiler": "absent"})
    assert [n for n, _ in choose_features(npu, lacking_a_default, ["all"], None).dropped] == ["c-api"]


def test_the_manifest_ranges_follow_the_releases() -> None:
    npu = load_manifest()
    by = {(c.name, c.loaded_by): c.versions for c in npu.companions}
    assert by[("openvino_intel_npu_compiler.dll", PLUGIN)].contains("2026.1.0")
    assert not by[("openvino_intel_npu_compiler.dll", PLUGIN)].contains("2026.2.0")
    assert not by[("openvino_intel_npu_compiler_loader.dll", PLUGIN)].contains("2026.1.0")
    assert by[("openvino_intel_npu_compiler_loader.dll", PLUGIN)].contains("2026.2.0")
    assert not by[("openvino_intel_npu_vm_runtime.dll", PLUGIN)].contains("2026.2.1")
    assert by[("openvino_intel_npu_vm_runtime.dll", PLUGIN)].contains("2026.3.0")


def _graph_with_chain():
    """roots r.dll; p.dll (feature a, loaded by r.dll); c.dll (feature b, loaded by p.dll)."""
    from npuslim.analyse.graph import RUNTIME, CompanionStatus, DependencyGraph, Edge, Node
    from npuslim.knowledge.manifest import Companion, Feature
    from npuslim.source.locate import OpenVinoInstall

    manifest = load_manifest().__class__(
        name="chain", description="", source=Path("chain.yaml"), roots=("r.dll",),
        features=(Feature("a", True, ""), Feature("b", False, "")),
        companions=(Companion("p.dll", "r.dll", "x", "a"), Companion("c.dll", "p.dll", "x", "b")),
        never_bundle=(), headers=(), import_libraries=(), licenses=())
    install = OpenVinoInstall("x", "dll-folder", Path("/x"), Path("/x"), None, None, (), "2026.4.1")
    nodes = tuple(Node(n, "bundled", Path("/x") / n, None, via, (n,), (), "") for n, via in
                  (("r.dll", "root"), ("p.dll", RUNTIME), ("c.dll", RUNTIME)))
    comps = tuple(CompanionStatus(c, True, True, Path("/x") / c.name) for c in manifest.companions)
    return DependencyGraph(install=install, manifest=manifest, roots=("r.dll",), features=frozenset({"a", "b"}),
                           search_order=(Path("/x"),), nodes=nodes,
                           edges=(Edge("r.dll", "p.dll", RUNTIME), Edge("p.dll", "c.dll", RUNTIME)),
                           companions=comps, hints=(), hints_skipped=())


def test_a_feature_whose_loader_is_left_out_is_refused_and_sized_with_the_defaults() -> None:
    from npuslim.plan.features import feature_statuses, needs

    graph = _graph_with_chain()
    assert needs(graph, frozenset({"a", "b"})) is None
    assert needs(graph, frozenset({"b"})) == (
        "feature b needs feature a: c.dll is loaded by p.dll, which comes with a")
    by = {s.name: s for s in feature_statuses(graph)}
    # b's companion is reached through a's (a default): turning b on adds c.dll
    assert [n for n, _ in by["b"].adds] == ["c.dll"] and [n for n, _ in by["a"].adds] == ["p.dll"]
