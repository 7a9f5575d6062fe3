"""The bundle plan's skeleton and its per-platform layouts, without a real install."""

from __future__ import annotations

import ast
import dataclasses
import inspect
from pathlib import Path

import pytest

from npuslim.errors import InputError
from npuslim.knowledge.manifest import load_manifest, load_windows_facts
from npuslim.plan import base
from npuslim.plan.bundle import LAYOUTS, PlanRequest, plan_bundle
from npuslim.plan.linux_bundle import LinuxLayout
from npuslim.plan.windows_bundle import WindowsLayout
from npuslim.platforms import Platform
from npuslim.source.locate import OpenVinoInstall

PLAN = Path(base.__file__).parent


def _install(tmp_path: Path, platform: str) -> OpenVinoInstall:
    return OpenVinoInstall("test", "folder", tmp_path, tmp_path, None, None, (), None, platform=platform)


def test_every_platform_has_its_layout_with_every_member_of_the_protocol() -> None:
    assert set(LAYOUTS) == set(Platform)
    assert isinstance(LAYOUTS[Platform.WINDOWS], WindowsLayout) and isinstance(LAYOUTS[Platform.LINUX], LinuxLayout)
    wanted = {name for name in vars(base.Layout) if not name.startswith("_")} | set(base.Layout.__annotations__)
    for layout in LAYOUTS.values():
        assert all(hasattr(layout, name) for name in wanted), type(layout).__name__
    assert LAYOUTS[Platform.WINDOWS].msvc_runtime_refusal is None


def test_the_layouts_import_the_base_and_never_each_other_nor_the_skeleton() -> None:
    """No import cycle in plan/, imports inside functions included."""
    def imported(path: Path) -> set[str]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        return {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module} | {
            a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}

    graph = {p.stem: {m.rsplit(".", 1)[-1] for m in imported(p) if m.startswith("npuslim.plan.")}
             for p in PLAN.glob("*.py")}
    assert graph["windows_bundle"] == {"base"} and graph["linux_bundle"] == {"base"}
    assert "bundle" not in graph["base"] and not graph["base"] & {"windows_bundle", "linux_bundle"}

    def reaches(start: str, target: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(n == target or (n not in seen and reaches(n, target, seen | {n})) for n in graph.get(start, ()))

    assert [m for m in graph if reaches(m, m)] == []


def test_the_linux_layout_takes_no_windows_parameter() -> None:
    for name, member in inspect.getmembers(LinuxLayout, inspect.isfunction):
        params = set(inspect.signature(member).parameters)
        assert not params & {"facts", "msvc_runtime_dir", "onnxruntime", "request"}, name


def test_a_plan_request_is_frozen_with_the_defaults_of_a_plain_extract() -> None:
    request = PlanRequest(features=frozenset({"npu"}), facts=load_windows_facts())
    assert (request.roots, request.search_paths, request.allow_missing, request.msvc_runtime_dir) == (None, (), False, None)
    assert (request.features_requested, request.features_dropped, request.onnxruntime) == (None, (), None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.allow_missing = True  # type: ignore[misc]
    assert list(inspect.signature(plan_bundle).parameters) == ["install", "manifest", "request"]
    assert all(p.kind is p.KEYWORD_ONLY for p in list(inspect.signature(plan_bundle).parameters.values())[1:])


def test_msvc_runtime_on_a_linux_install_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    request = PlanRequest(features=frozenset(), facts=load_windows_facts(), msvc_runtime_dir=tmp_path)
    with pytest.raises(InputError, match="--msvc-runtime is for Windows bundles; a Linux bundle relies on the "
                                         r"target's GCC runtime \(libstdc\+\+, libgcc_s\)"):
        plan_bundle(_install(tmp_path / "nothing-here", "linux"), manifest=load_manifest("npu-linux"), request=request)

