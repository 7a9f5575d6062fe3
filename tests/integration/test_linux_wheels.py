"""The official manylinux wheels (2026.4.1 manylinux_2_28, 2025.4.1 manylinux2014): deps, features, sources."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from npuslim.analyse.closures import build_graph
from npuslim.analyse.resolve import BUNDLED, DRIVER, SYSTEM
from npuslim.analyse.resolve_elf import manylinux_glibc, target_minimum
from npuslim.knowledge.manifest import load_manifest, load_windows_facts
from npuslim.plan.features import features_for_source, manifest_for_install
from npuslim.source.locate import locate
from tests.cli_helpers import one_error_line, run

pytestmark = pytest.mark.wheels

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "npuslim" / "schemas" /
                     "deps.schema.json").read_text())


def _soname_suffix(install) -> str:
    major, minor, patch = install.version.split(".")[:3]
    return f"{major[2:]}{minor}{patch}"  # 2026.4.1 -> 2641, 2025.4.1 -> 2541


def test_npu_closure_of_each_release(ovlinux) -> None:
    facts = load_windows_facts()
    manifest = manifest_for_install(ovlinux, load_manifest("npu"))
    assert manifest.name == "npu-linux"
    graph = build_graph(ovlinux, manifest=manifest, facts=facts)
    n = _soname_suffix(ovlinux)
    assert [f.name for f in graph.files] == [
        "libopenvino_intel_npu_plugin.so", f"libopenvino.so.{n}", "libtbb.so.12",
        f"libopenvino_ir_frontend.so.{n}", f"libopenvino_c.so.{n}",
    ]
    assert not graph.missing
    system = {node.name for node in graph.nodes if node.dep_class == SYSTEM}
    assert {"libc.so.6", "libstdc++.so.6", "libgcc_s.so.1", "libm.so.6"} <= system
    assert not any(node.dep_class == DRIVER for node in graph.nodes)  # libze_loader is dlopen'ed
    tbb = graph.node("libtbb.so.12")
    assert tbb is not None and tbb.chain == ("libopenvino_intel_npu_plugin.so", "libtbb.so.12")
    assert set(tbb.required_by) == {"libopenvino_intel_npu_plugin.so", f"libopenvino.so.{n}"}
    for node in graph.files:
        assert node.info.rpath == ("$ORIGIN",), node.name  # type: ignore[union-attr]
    minimum = target_minimum(graph)
    promised = manylinux_glibc(ovlinux.wheel.name[:-4].split("-")[-1])
    glibc = tuple(int(p) for p in minimum.glibc.split("."))  # type: ignore[union-attr]
    assert glibc <= tuple(int(p) for p in promised.split("."))  # type: ignore[union-attr]
    assert "GLIBCXX" in minimum.versions


def test_features_follow_the_linux_wheel(ovlinux) -> None:
    manifest = manifest_for_install(ovlinux, load_manifest("npu"))
    choice, statuses = features_for_source(ovlinux, manifest, load_windows_facts(), with_=["onnx", "tbbbind"],
                                           without=None)
    by = {s.name: s for s in statuses}
    assert choice.delivered == {"ir", "c-api", "onnx", "tbbbind"}
    assert {name for name, _ in by["tbbbind"].adds} == {"libtbbbind_2_5.so.3", "libhwloc.so.15"}
    assert [name for name, _ in by["tbbmalloc"].adds] == ["libtbbmalloc.so.2"]  # available, not a default
    assert any(name.startswith("libopenvino_onnx_frontend.so.") for name, _ in by["onnx"].adds)
    assert not by["compiler"].available


def test_deps_json_through_every_source_form(ovlinux2026, tmp_path) -> None:
    # the requirement with a Linux platform (the wheel is in the test cache already)
    result = run("deps", "openvino==2026.4.1", "--platform", "manylinux_2_28_x86_64", "-f", "json", "--no-hints")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    jsonschema.validate(data, SCHEMA)
    assert data["manifest"] == "npu-linux" and data["source"]["platform"] == "linux"
    assert data["summary"]["bundled_files"] == 5 and data["target"]["glibc"] == "2.27"
    plugin = data["nodes"][0]
    assert plugin["elf"]["rpath"] == ["$ORIGIN"] and plugin["elf"]["soname"] is None
    expected = sorted(n["name"] for n in data["nodes"] if n["class"] == "bundled")

    # the .whl, the unpacked folder, the pip-package folder, a single .so
    pkg = tmp_path / "site-packages" / "openvino"
    shutil.copytree(ovlinux2026.root / "openvino", pkg)
    for info in ovlinux2026.root.glob("openvino-*.dist-info"):
        shutil.copytree(info, pkg.parent / info.name)
    sources = [str(ovlinux2026.wheel), str(ovlinux2026.root), str(pkg),
               str(ovlinux2026.dll_dir / "libopenvino_intel_npu_plugin.so")]
    for source in sources:
        result = run("deps", source, "-f", "json", "--no-hints")
        assert result.exit_code == 0, (source, result.stderr)
        data = json.loads(result.stdout)
        jsonschema.validate(data, SCHEMA)
        assert sorted(n["name"] for n in data["nodes"] if n["class"] == "bundled") == expected, source
        assert data["source"]["openvino_version"] == "2026.4.1", source
    assert locate(str(pkg)).layout == "pip-package"


def test_text_output_names_the_target_minimum(ovlinux2026) -> None:
    result = run("deps", str(ovlinux2026.root), "--no-hints")
    assert result.exit_code == 0
    assert "glibc 2.27 or later" in result.stdout and "GLIBCXX_3.4.22" in result.stdout
    assert "5 files to ship, 32.5 MB" in result.stdout


def test_compiler_feature_is_refused_with_the_reason(ovlinux2026) -> None:
    result = run("deps", str(ovlinux2026.root), "--with", "compiler")
    assert result.exit_code == 4
    assert "libopenvino_intel_npu_compiler_loader.so is not in this source" in one_error_line(result)


def test_windows_root_on_the_linux_wheel(ovlinux2026) -> None:
    result = run("deps", str(ovlinux2026.wheel), "--root", "openvino.dll")
    assert result.exit_code == 4
    assert "Windows DLL name" in one_error_line(result)


def test_2025_release_through_a_manylinux_2_28_requirement(ovlinux2025) -> None:
    # pip matches only the exact tag; npuslim also asks for manylinux2014, which such a machine runs
    result = run("deps", "openvino==2025.4.1", "--platform", "manylinux_2_28_x86_64", "-f", "json", "--no-hints")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["source"]["openvino_version"] == "2025.4.1"
    assert "libopenvino.so.2541" in {n["name"] for n in data["nodes"] if n["class"] == BUNDLED}


def test_the_installed_linux_package_of_this_python(ovlinux2026, tmp_path) -> None:
    import subprocess
    import sys

    site = tmp_path / "site-packages"
    shutil.copytree(ovlinux2026.root / "openvino", site / "openvino")
    for info in ovlinux2026.root.glob("openvino-*.dist-info"):
        shutil.copytree(info, site / info.name)
    env = {"PYTHONPATH": f"{site}:{Path(__file__).resolve().parents[2]}", "PATH": "/usr/bin:/bin",
           "HOME": str(tmp_path), "NPUSLIM_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "120"}
    proc = subprocess.run([sys.executable, "-c", ("import sys; from npuslim.cli import main; "
                           "sys.argv=['npuslim','deps','-f','json','--no-hints']; main()")],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["source"]["origin"] == "installed openvino package"
    assert data["source"]["layout"] == "pip-package" and data["source"]["platform"] == "linux"
    assert data["summary"]["bundled_files"] == 5
