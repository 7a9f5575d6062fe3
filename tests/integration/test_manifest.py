"""The knowledge base: manifest validation, version ranges, packaging of manifests/.

The tests that build, run or download; the pure ones are in tests/unit/test_manifest.py.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_an_installed_wheel_carries_the_manifests(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "-w", str(tmp_path), str(REPO)], capture_output=True, text=True)
    if proc.returncode != 0 and "hatchling" in proc.stderr:
        proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path),
                               str(REPO)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    wheel = next(tmp_path.glob("npuslim-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("npuslim/knowledge/manifests/npu.yaml", "npuslim/knowledge/manifests/windows.yaml",
                   "npuslim/schemas/deps.schema.json", "npuslim/schemas/bundle.schema.json",
                   "npuslim/schemas/size-report.schema.json", "npuslim/schemas/verify.schema.json",
                   "npuslim/schemas/diff.schema.json", "npuslim/schemas/budget.schema.json",
                   "npuslim/check/probe/ov_probe.c", "npuslim/knowledge/manifests/gpu.yaml"):
        assert needed in names
