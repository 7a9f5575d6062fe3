"""One meaning per option name: verify's --msvc-runtime-from (the old spelling still works, with a
warning), extract's --msvc-runtime DIR.

Pure: PE files written in Python, typer's CliRunner; the load itself is replaced by a recorder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from npuslim.check.loading import LoadRequest, LoadResult
from npuslim.check.sandbox import CONFINED
from npuslim.check.verify import verify_bundle
from npuslim.pipeline import verify as verify_pipeline
from npuslim.pipeline.verify import VerifyOutcome
from tests.cli_helpers import one_error_line, run
from tests.support.crafted import build_pe


@pytest.fixture
def bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    src = Path("src")
    src.mkdir()
    (src / "openvino.dll").write_bytes(build_pe(("KERNEL32.dll",)))
    (src / "openvino_intel_npu_plugin.dll").write_bytes(build_pe(("openvino.dll", "KERNEL32.dll")))
    assert run("extract", str(src), "-o", "b").exit_code == 0
    return Path("b")


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The Visual C++ runtime each ``verify --load`` asked for (the load always succeeds)."""
    asked: list[str] = []

    def fake(bundle: Path, *, load: LoadRequest | None, archive: Path | None = None,
             progress: object = None) -> VerifyOutcome:
        assert load is not None
        asked.append(load.msvc_runtime)
        return VerifyOutcome(verify_bundle(bundle),
                             LoadResult(bundle, "wine", load.device, load.msvc_runtime, (), (), True, "loaded",
                                        sandbox=CONFINED, sandboxed=True))

    monkeypatch.setattr(verify_pipeline, "verify_and_load", fake)
    return asked


def test_msvc_runtime_from_chooses_the_runtime(bundle: Path, loads: list[str]) -> None:
    for args, expected in (((), "system"), (("--msvc-runtime-from", "bundled"), "bundled"),
                           (("--msvc-runtime-from", "system"), "system")):
        result = run("verify", str(bundle), "--load", *args)
        assert result.exit_code == 0, result.stderr
        assert result.stderr == ""
        assert loads[-1] == expected
    assert len(loads) == 3


def test_the_old_spelling_still_works_with_one_warning_line(bundle: Path, loads: list[str]) -> None:
    result = run("verify", str(bundle), "--load", "--msvc-runtime", "bundled")
    assert result.exit_code == 0
    assert loads == ["bundled"]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("npuslim: warning: ")
    assert "--msvc-runtime-from" in lines[0] and "deprecated" in lines[0]
    assert "--msvc-runtime " not in run("verify", "--help").stdout.replace("--msvc-runtime-from", "")


def test_old_and_new_spellings_that_disagree_are_a_usage_error(bundle: Path, loads: list[str]) -> None:
    result = run("verify", str(bundle), "--load", "--msvc-runtime", "system", "--msvc-runtime-from", "bundled")
    assert result.exit_code == 2
    assert "disagree" in next(ln for ln in result.stderr.splitlines() if "error" in ln)
    assert loads == []


def test_extract_msvc_runtime_stays_a_folder(bundle: Path) -> None:
    result = run("extract", "src", "-o", "c", "--msvc-runtime", "bundled")
    assert result.exit_code == 4
    assert one_error_line(result) == ("npuslim: error: bundled: not a folder (--msvc-runtime takes the folder "
                                      "holding msvcp140.dll)")
