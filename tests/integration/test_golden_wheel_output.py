"""Golden output of the real OpenVINO 2026.4.1 closure at 40, 80 and 120 columns: the deps tree and
table (with companions and string hints) and ``--list-features``; and ``extract`` refusing OUT
before it unpacks the 230 MB wheel.

The install is reached through a link named ``ov`` in the test's folder, so
the paths printed are the same on every machine. Regenerate after a deliberate
layout change with ``NPUSLIM_UPDATE_GOLDEN=1 pytest tests/integration/test_golden_wheel_output.py``
and review ``git diff tests/golden``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.cli_helpers import one_error_line, run

pytestmark = pytest.mark.wheels

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
WIDTHS = (40, 80, 120)
DLLS = ("openvino_intel_npu_plugin.dll", "openvino.dll", "tbb12.dll", "openvino_ir_frontend.dll", "openvino_c.dll",
        "openvino_intel_npu_compiler_loader.dll", "openvino_intel_npu_compiler.dll",
        "openvino_intel_npu_vm_runtime.dll", "openvino_onnx_frontend.dll", "tbbbind_2_5.dll", "tbbmalloc.dll",
        "MSVCP140.dll", "VCRUNTIME140_1.dll", "api-ms-win-crt-runtime-l1-1-0.dll")


@pytest.fixture
def ov(ov2026, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "ov").symlink_to(ov2026.root, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    return "ov"


def check_layout(text: str, width: int, names: tuple[str, ...]) -> None:
    """No trailing spaces; a line past the width is one unbreakable piece (with its guides);
    every name that appears appears whole."""
    for line in text.splitlines():
        assert line == line.rstrip(), f"trailing spaces: {line!r}"
        if len(line) > width:
            assert len(line.lstrip(" │├└─").split()) == 1, f"longer than {width}: {line!r}"
    for name in names:
        if name in text:
            assert re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", text), name


def compare(text: str, name: str) -> None:
    golden = GOLDEN / f"{name}.txt"
    if os.environ.get("NPUSLIM_UPDATE_GOLDEN") == "1":
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), f"differs from {golden}"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("fmt", ["tree", "table"])
def test_deps_of_the_2026_wheel(ov: str, fmt: str, width: int) -> None:
    result = run("deps", ov, "-f", fmt, env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.stderr
    for name in DLLS if fmt == "table" else [n for n in DLLS if not n.startswith("api-ms-")]:  # tree: counted
        assert name in result.stdout, name
    check_layout(result.stdout, width, DLLS)
    compare(result.stdout, f"wheel-deps-{fmt}-{width}")


@pytest.mark.parametrize("width", WIDTHS)
def test_list_features_of_the_2026_wheel(ov: str, width: int) -> None:
    result = run("extract", ov, "--list-features", env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.stderr
    assert "openvino_intel_npu_compiler.dll, openvino_intel_npu_compiler_loader.dll" in result.stdout.replace(
        ",\n      ", ", ")
    check_layout(result.stdout, width, DLLS)
    compare(result.stdout, f"wheel-list-features-{width}")


def test_list_features_as_json_prints_only_json(ov: str) -> None:
    import json

    result = run("extract", ov, "--list-features", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["schema"] == "npuslim.features"


def test_extract_refuses_out_before_unpacking_the_wheel(ov2026, tmp_path: Path) -> None:
    """With an empty cache, a refused OUT leaves the cache empty: the wheel was never unpacked."""
    assert ov2026.wheel is not None
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("not ours")
    cache = tmp_path / "cache"
    result = run("extract", str(ov2026.wheel), "-o", str(out), env={"NPUSLIM_CACHE_DIR": str(cache)})
    assert result.exit_code == 7
    assert "exists and is not empty" in one_error_line(result)
    assert not (cache / "wheels").exists() or not any((cache / "wheels").iterdir())
    assert (out / "notes.txt").read_text() == "not ours"
