"""benchmarks/bench_load.py: its parser on captured timer output, and its short mode
end to end (full wheel vs bundle vs UPX-packed bundle, under Wine), as CI runs it."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.tools import require_tool, unavailable

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "bench_load.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_load", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_load", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_timer_output_is_parsed() -> None:
    bench = _bench()
    run = bench.parse_timer_output("T load_c_api 0.034\nT core_create 0.001\nT read_model 0.015\n"
                                   "T load_plugin 0.0152\nM 30113792 37412864\n", 2.1, 1000)
    assert run.steps == {"load_c_api": 0.034, "core_create": 0.001, "read_model": 0.015, "load_plugin": 0.0152}
    assert (run.peak_private, run.peak_working_set, run.failed) == (30113792, 37412864, "")


def test_a_failed_or_silent_timer_is_a_failure() -> None:
    bench = _bench()
    failed = bench.parse_timer_output("T load_c_api 0.03\nFAIL load_plugin cannot find the NPU plugin\n", 1.0, 0)
    assert failed.failed == "load_plugin: cannot find the NPU plugin"
    silent = bench.parse_timer_output("wine: could not load kernel32.dll\n", 1.0, 0)
    assert silent.failed.startswith("the timer stopped early: wine: could not load")


@pytest.mark.wine
@pytest.mark.wheels
@pytest.mark.upx
def test_short_mode_measures_all_three_variants(ov2026, tmp_path: Path) -> None:
    require_tool("x86_64-w64-mingw32-gcc", "apt-get install gcc-mingw-w64-x86-64-win32")
    upx = require_tool("upx", "UPX 4: apt-get install upx-ucl")
    version = subprocess.run([upx, "--version"], capture_output=True, text=True).stdout
    if not version.startswith("upx 4") and not version.startswith("upx 5"):
        unavailable(f"UPX 4 or later needed, found {version.splitlines()[:1]}")
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), str(ov2026.root), "--short", "--json", str(out),
                           "--work", str(tmp_path / "work")], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(out.read_text())
    assert (doc["schema"], doc["schema_version"], doc["runs"]) == ("npuslim.bench-load", 1, 1)
    v = doc["variants"]
    for name in ("full", "bundle", "upx"):
        assert v[name]["failed"] == [], v[name]
        assert all(s > 0 for s in v[name]["median_seconds"].values())
        assert v[name]["peak_private"] > 10_000_000
    # what each variant weighs: the bundle is a fraction of the wheel, UPX shrinks the bundle's DLLs
    assert v["bundle"]["layout"]["dll_files"] == 5 < v["full"]["layout"]["dll_files"]
    assert v["bundle"]["layout"]["bytes"] < v["full"]["layout"]["bytes"] / 5
    assert v["upx"]["layout"]["dll_bytes"] < v["bundle"]["layout"]["dll_bytes"] * 0.6
    assert doc["upx_refused"] == []
    for title in ("(a) full wheel", "(b) bundle", "(c) bundle + UPX", "load the NPU plugin", "peak private bytes"):
        assert title in proc.stdout
