"""benchmarks/bench_load.py: its parser on captured timer output, and its short mode
end to end (full wheel vs bundle vs UPX-packed bundle, under Wine), as CI runs it.

The tests that build, run or download; the pure ones are in tests/unit/test_bench_load.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.tools import require_tool, unavailable

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "bench_load.py"


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
