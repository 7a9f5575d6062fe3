"""benchmarks/bench_infer.py: the model it writes, its parser on captured timer output, and its
short mode end to end (the CPU bundle natively on Linux and under Wine), as CI runs it.

Only the structure of the output and what the runs compute are checked, never a time.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.support.tools import require_tool

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "bench_infer.py"


def _bench():
    sys.path.insert(0, str(SCRIPT.parent))  # bench_infer imports bench_load from its folder
    try:
        spec = importlib.util.spec_from_file_location("bench_infer", SCRIPT)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules.setdefault("bench_infer", module)  # dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(SCRIPT.parent))


def test_the_model_is_an_ir_of_matmul_add_relu_layers() -> None:
    bench = _bench()
    shape = bench.ModelShape(batch=2, width=8, layers=3)
    xml, weights = bench.model_ir(shape)
    root = ET.fromstring(xml)
    kinds = [layer.get("type") for layer in root.iter("layer")]
    assert kinds.count("MatMul") == kinds.count("Add") == kinds.count("Relu") == 3
    assert (kinds[0], kinds[-1], kinds.count("Const")) == ("Parameter", "Result", 6)
    assert len(weights) == 3 * (8 * 8 + 8) * 4  # f32 weights and biases, nothing else
    consts = [layer.find("data") for layer in root.iter("layer") if layer.get("type") == "Const"]
    spans = sorted((int(d.get("offset")), int(d.get("size"))) for d in consts)
    assert spans[0][0] == 0 and all(a + n == b for (a, n), (b, _) in itertools.pairwise(spans))
    assert sum(n for _, n in spans) == len(weights)
    ids = {layer.get("id") for layer in root.iter("layer")}
    assert all(e.get("from-layer") in ids and e.get("to-layer") in ids for e in root.iter("edge"))
    assert bench.model_ir(shape) == (xml, weights)  # a fixed seed: the same model every run


def test_the_timer_output_is_parsed() -> None:
    bench = _bench()
    run = bench.parse_timer_output(
        "T load_c_api 0.03\nT core_create 0.001\nT read_model 0.02\nT compile 0.2\nT first_infer 0.01\n"
        "O 2797.00095\nL 0.004\nL 0.005\nX 1 100 0.5\nX 2 200 0.8 2\nM peak_rss 64225280\nM pss 61369344\n")
    assert run.failed == ""
    assert run.steps["compile"] == 0.2 and run.latencies == [0.004, 0.005]
    assert (run.throughput_1, run.throughput_n, run.requests, run.streams) == (200.0, 250.0, 2, "2")
    one = bench.parse_timer_output("X 1 100 0.5\nX 1 100 0.25 1\n")  # one request is optimal: both phases kept
    assert (one.throughput_1, one.throughput_n, one.requests) == (200.0, 400.0, 1)
    assert run.checksum == pytest.approx(2797.00095)
    assert run.memory == {"peak_rss": 64225280, "pss": 61369344}
    failed = bench.parse_timer_output("T load_c_api 0.03\nFAIL core_create status -1: no plugin\n")
    assert failed.failed == "core_create: status -1: no plugin"
    assert "stopped early" in bench.parse_timer_output("T load_c_api 0.03\n").failed


def _run(tmp_path: Path, *args: str) -> tuple[dict, str]:
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--short", "--json", str(out), "--work",
                           str(tmp_path / "work"), *args], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(out.read_text()), proc.stdout


def _check_variant(v: dict) -> None:
    assert v["failed"] == [] and v["runs"] == 1, v
    assert all(s > 0 for s in v["steps_median_seconds"].values())
    assert v["latency_samples"] == 10
    assert 0 < v["latency_median_ms"] <= v["latency_p90_ms"]
    assert v["throughput_1_ips"] > 0 and v["throughput_n_ips"] > 0 and v["throughput_n_requests"] >= 1
    assert v["peak_memory"]["host_peak_rss"] > 10_000_000
    # every variant's libraries dropped from the page cache before its run, so each is read from disk
    cache = v["page_cache"]
    assert cache["dropped_before_each_run"] and cache["files"] >= v["layout"]["libs"] >= 1, cache
    assert cache["bytes"] >= v["layout"]["lib_bytes"]


@pytest.mark.wine
@pytest.mark.wheels
def test_short_mode_runs_the_cpu_bundle_on_both_platforms(ovlinux2026, ov2026, tmp_path: Path) -> None:
    require_tool("gcc", "apt-get install gcc")
    require_tool("x86_64-w64-mingw32-gcc", "apt-get install gcc-mingw-w64-x86-64-win32")
    doc, stdout = _run(tmp_path)
    assert (doc["schema"], doc["schema_version"], doc["runs"], doc["iterations"]) == ("npuslim.bench-infer", 1, 1, 10)
    assert doc["machine"]["load_before"] and doc["model"]["flops"] > 0
    linux, windows = doc["platforms"]["manylinux_2_28_x86_64"], doc["platforms"]["win_amd64"]
    assert (linux["runner"], list(linux["variants"]), list(windows["variants"])) == ("native", ["bundle"], ["bundle"])
    for v in (linux["variants"]["bundle"], windows["variants"]["bundle"]):
        _check_variant(v)
    lb, wb = linux["variants"]["bundle"], windows["variants"]["bundle"]
    assert lb["layout"]["c_api"].startswith("libopenvino_c.so.") and wb["layout"]["c_api"] == "openvino_c.dll"
    assert lb["peak_memory"]["pss"] > 0 and wb["peak_memory"]["peak_private"] > 0
    # the bundles were just written and nothing else maps them: the drop left none of their pages cached
    assert lb["page_cache"]["resident_after_max"] == wb["page_cache"]["resident_after_max"] == 0
    # the same model through both platforms' CPU plugins: the same numbers, up to float rounding
    assert lb["checksum"] == pytest.approx(wb["checksum"], rel=1e-3)
    for title in ("Linux bundle", "Windows bundle", "latency median", "throughput, N requests", "load average",
                  "library files dropped before each run"):
        assert title in stdout


@pytest.mark.wheels
def test_the_linux_bundle_computes_what_the_full_wheel_computes(ovlinux2026, tmp_path: Path) -> None:
    require_tool("gcc", "apt-get install gcc")
    doc, stdout = _run(tmp_path, "--platform", "manylinux_2_28_x86_64", "--variants", "full,bundle,tbb")
    variants = doc["platforms"]["manylinux_2_28_x86_64"]["variants"]
    assert list(variants) == ["full", "bundle", "tbb"]
    for v in variants.values():
        _check_variant(v)
    # the same kernels, bit for bit, with or without TBB's optional libraries beside libtbb
    assert variants["bundle"]["checksum"] == variants["full"]["checksum"] == variants["tbb"]["checksum"]
    assert variants["bundle"]["layout"]["libs"] < variants["full"]["layout"]["libs"]
    assert variants["tbb"]["layout"]["libs"] == variants["bundle"]["layout"]["libs"] + 3
    assert "libtbbmalloc.so.2" in variants["tbb"]["layout"]["note"]
    for title in ("Linux full wheel", "Linux bundle + TBB", "latency min", "PSS at the end"):
        assert title in stdout
