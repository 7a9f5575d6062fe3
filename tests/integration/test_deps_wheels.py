"""``deps`` on the official OpenVINO Windows wheels (downloaded once into a cache)."""

from __future__ import annotations

import pytest

from npuslim.analyse.closures import build_graph
from npuslim.analyse.resolve import API_SET, BUNDLED, MSVC_RUNTIME, SYSTEM
from npuslim.knowledge.manifest import load_manifest, load_windows_facts

pytestmark = pytest.mark.wheels

PLUGIN = "openvino_intel_npu_plugin.dll"


def npu_graph(install, features=None):
    return build_graph(install, manifest=load_manifest(), facts=load_windows_facts(), features=features)


def test_npu_plugin_import_closure_is_exactly_what_measurement_says(ov_install) -> None:
    graph = npu_graph(ov_install)
    closure = graph.import_closure()
    by_class: dict[str, set[str]] = {}
    for node in closure:
        by_class.setdefault(node.dep_class, set()).add(node.name)
    assert by_class.pop(BUNDLED) == {PLUGIN, "openvino.dll", "tbb12.dll"}
    assert by_class.pop(MSVC_RUNTIME) == {"MSVCP140.dll", "VCRUNTIME140.dll", "VCRUNTIME140_1.dll"}
    # measured: 2024.6.0's openvino.dll also imports SHLWAPI.dll; 2026.4.1's does not
    system = {"KERNEL32.dll"} | ({"SHLWAPI.dll"} if ov_install.version.startswith("2024.6") else set())
    assert by_class.pop(SYSTEM) == system
    assert graph.node("SHLWAPI.dll") is None or graph.node("SHLWAPI.dll").required_by == ("openvino.dll",)
    api_sets = by_class.pop(API_SET)
    assert api_sets and all(n.startswith("api-ms-win-crt-") for n in api_sets)
    assert by_class == {}
    assert not graph.missing
    plugin = graph.node(PLUGIN)
    assert plugin.via == "root" and plugin.info.signed and plugin.info.has_debug
    assert plugin.info.delay_imports == ()
    assert graph.node("tbb12.dll").chain == (PLUGIN, "tbb12.dll")
    assert set(graph.node("tbb12.dll").required_by) >= {PLUGIN, "openvino.dll"}
    assert graph.install.version.startswith(ov_install.version[:8])


def test_plugin_imports_match_the_measured_list(ov2026) -> None:
    plugin = npu_graph(ov2026).node(PLUGIN).info
    assert plugin.imports[:6] == ("openvino.dll", "tbb12.dll", "KERNEL32.dll", "MSVCP140.dll",
                                  "VCRUNTIME140.dll", "VCRUNTIME140_1.dll")
    assert len([n for n in plugin.imports if n.startswith("api-ms-win-crt-")]) == 10
    assert plugin.size == 7_635_208 and plugin.cfg


def test_2026_compiler_loader_and_vm_runtime_are_runtime_companions(ov2026) -> None:
    graph = npu_graph(ov2026)
    states = {c.companion.name: c for c in graph.companions}
    for name in ("openvino_intel_npu_compiler_loader.dll", "openvino_intel_npu_vm_runtime.dll"):
        status = states[name]
        assert status.applies and status.path is not None and status.state == "optional"
        assert "plugin" in status.companion.reason
    # the string scan finds the loader's name in the plugin: a hint, kept apart
    hints = {h.name: h for h in graph.hints}
    assert hints["openvino_intel_npu_compiler_loader.dll"].found_in == (PLUGIN,)
    assert graph.node("openvino_intel_npu_compiler_loader.dll") is None


def test_with_compiler_walks_the_companions_imports(ov2026) -> None:
    features = load_manifest().default_features() | {"compiler", "host-compile"}
    graph = npu_graph(ov2026, features)
    loader = graph.node("openvino_intel_npu_compiler_loader.dll")
    assert loader.via == "runtime" and loader.chain == (PLUGIN, "openvino_intel_npu_compiler_loader.dll")
    assert graph.node("openvino_intel_npu_compiler.dll").dep_class == BUNDLED
    # the compiler's delay imports are read from its delay-import table
    compiler = graph.node("openvino_intel_npu_compiler.dll").info
    assert {n.lower() for n in compiler.delay_imports} == {"shell32.dll", "ole32.dll"}
    # the vm runtime imports the Level Zero loader, which the driver provides
    ze = graph.node("ze_loader.dll")
    assert ze.dep_class == "driver" and "openvino_intel_npu_vm_runtime.dll" in ze.required_by
    assert not graph.missing


def test_2024_has_no_compiler_companions(ov2024) -> None:
    graph = npu_graph(ov2024)
    states = {c.companion.name: c.state for c in graph.companions}
    assert states["openvino_intel_npu_compiler_loader.dll"] == "not for this version"
    assert states["openvino_ir_frontend.dll"] == "included"


def test_pip_package_layout_is_detected(ov2026) -> None:
    from npuslim.source.locate import locate

    install = locate(str(ov2026.root / "openvino"))
    assert install.layout == "pip-package" and install.version == ov2026.version
    assert install.dll_dir == ov2026.root / "openvino" / "libs"
    assert any(d.name.endswith(".dist-info") for d in install.license_dirs)


def test_archive_layout_and_intel_openvino_dir(ov2026, tmp_path, monkeypatch) -> None:
    from npuslim.source.locate import locate

    root = tmp_path / "openvino_2026"
    release = root / "runtime" / "bin" / "intel64" / "Release"
    release.mkdir(parents=True)
    for dll in ov2026.dll_dir.glob("*.dll"):
        (release / dll.name).symlink_to(dll)
    (root / "runtime" / "include").symlink_to(ov2026.include_dir)
    libdir = root / "runtime" / "lib" / "intel64" / "Release"
    libdir.mkdir(parents=True)
    for lib in ov2026.dll_dir.glob("*.lib"):
        (libdir / lib.name).symlink_to(lib)
    install = locate(str(root))
    assert install.layout == "archive" and install.dll_dir == release and install.lib_dir == libdir
    graph = npu_graph(install)
    assert {n.name for n in graph.import_closure() if n.dep_class == BUNDLED} == {
        PLUGIN, "openvino.dll", "tbb12.dll"}
    # no source given: this Python has no Windows openvino package, INTEL_OPENVINO_DIR is used
    monkeypatch.setenv("INTEL_OPENVINO_DIR", str(root))
    import importlib.util

    if importlib.util.find_spec("openvino") is None:
        assert locate(None).origin == "INTEL_OPENVINO_DIR"


@pytest.mark.parametrize(("name", "root", "driver"), [
    ("gpu", "openvino_intel_gpu_plugin.dll", "OpenCL.dll"),
    ("cpu", "openvino_intel_cpu_plugin.dll", None),
])
def test_other_device_manifests_use_the_same_machinery(ov2026, name: str, root: str, driver: str | None) -> None:
    manifest = load_manifest(name)
    graph = build_graph(ov2026, manifest=manifest, facts=load_windows_facts())
    closure = {n.name for n in graph.import_closure() if n.dep_class == BUNDLED}
    assert closure == {root, "openvino.dll", "tbb12.dll"}
    assert not graph.missing
    if driver:
        assert graph.node(driver).dep_class == "driver"
