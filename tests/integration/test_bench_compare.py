"""benchmarks/bench_compare.py --short: every row is there, measured or skipped with a reason, in the
printed table and in the JSON document. Its structure is checked, never its numbers (a test has no
time limit)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "bench_compare.py"
ROWS = ("npuslim --help", "npuslim --version", "deps (Windows closure)", "deps (Linux closure)", "verify",
        "  floor: Python + typer + rich + hashing",
        "pack --archive tar.xz", "pack --upx", "verify --load")


@pytest.mark.wheels
def test_short_mode_prints_every_row_and_writes_the_json(ov2026, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), str(ov2026.root), "--short", "--json", str(out),
                           "--work", str(tmp_path / "work")], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("machine: ") and "load average" in proc.stdout.splitlines()[0]
    doc = json.loads(out.read_text())
    assert (doc["schema"], doc["schema_version"], doc["runs"], doc["short"]) == ("npuslim.bench-compare", 1, 1, True)
    assert set(doc["load_average"]) == {"before", "after"}
    assert 0 <= doc["cpu_steal"] <= 1 and "stolen by the hypervisor" in proc.stdout.splitlines()[0]  # Linux
    rows = {r["name"]: r for r in doc["rows"]}
    for title in ROWS:
        matching = [r for name, r in rows.items() if name.startswith(title)]
        assert matching, f"no row {title!r} in {sorted(rows)}"
        assert any(title in line for line in proc.stdout.splitlines()), title
        for row in matching:
            assert set(row) >= {"name", "target", "peer_command", "skipped", "npuslim", "peer", "ratio_wall", "ratio_cpu",
                                "npuslim_peak_mb"}
            measured = row["npuslim"]["runs"] == 1 and row["npuslim"]["cpu"] is not None
            assert measured or row["skipped"], row  # a row is measured, or says why not
    # without a Linux source, and in short mode, the slow rows say why they are left out
    assert rows["deps (Linux closure)"]["skipped"].startswith("no Linux source")
    assert rows["pack --upx"]["skipped"] == rows["verify --load"]["skipped"] == "left out by --short"
    archive = next(r for name, r in rows.items() if name.startswith("pack --archive tar.xz"))
    if not archive["skipped"]:
        assert archive["npuslim_bytes"] > 0 and archive["peer_bytes"] > 0 and archive["size_ratio"] > 0
