"""``diff`` plans a source side as extract would, with extract's planning options and their meaning:
--root, --search-path, --onnxruntime, --manifest, --with, --without, --platform.

Pure: PE files written in Python, typer's CliRunner.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import one_error_line, run
from tests.support.crafted import build_pe

PLUGIN = "openvino_intel_npu_plugin.dll"


def _source(name: str, *, tbb: bool = True, other: bytes = b"") -> Path:
    src = Path(name)
    src.mkdir()
    (src / "openvino.dll").write_bytes(build_pe(("KERNEL32.dll",)))
    (src / PLUGIN).write_bytes(build_pe(("openvino.dll", "tbb12.dll", "KERNEL32.dll")))
    if tbb:
        (src / "tbb12.dll").write_bytes(build_pe(("KERNEL32.dll",)))
    (src / "other.dll").write_bytes(build_pe(("KERNEL32.dll",)) + other)
    return src


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _paths(result) -> set[str]:  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.stderr
    return {f["path"] for f in json.loads(result.stdout)["files"]}


def test_root_chooses_what_is_compared_as_in_extract() -> None:
    _source("a")
    _source("b", other=bytes(512))
    assert _paths(run("diff", "a", "b", "-f", "json")) == set()  # other.dll is outside the plugin's closure
    assert _paths(run("diff", "a", "b", "-f", "json", "--root", "other.dll")) == {"bin/other.dll"}
    assert "bin/other.dll" in {f["path"] for f in json.loads(
        run("extract", "a", "-o", "out", "--root", "other.dll", "-f", "json").stdout)["files"]}


def test_search_path_finds_dlls_outside_the_source_as_in_extract() -> None:
    _source("a", tbb=False)
    _source("b")
    extra = Path("extra")
    extra.mkdir()
    (extra / "tbb12.dll").write_bytes(build_pe(("KERNEL32.dll",)))
    without = json.loads(run("diff", "a", "b", "-f", "json").stdout)
    assert "bin/tbb12.dll" in {f["path"] for f in without["files"]}  # only b has it
    (Path("b") / "tbb12.dll").write_bytes((extra / "tbb12.dll").read_bytes())
    assert _paths(run("diff", "a", "b", "-f", "json", "-L", str(extra))) == set()  # a finds it in extra/


@pytest.mark.parametrize("option", [["--with", "nosuch"], ["--without", "nosuch"], ["--manifest", "nosuch"],
                                    ["--onnxruntime", "nowhere"]])
def test_planning_options_fail_as_they_do_in_extract(option: list[str]) -> None:
    _source("a")
    _source("b")
    diffed = run("diff", "a", "b", *option)
    extracted = run("extract", "a", "-o", "out", *option)
    assert diffed.exit_code == extracted.exit_code != 0
    assert one_error_line(diffed) == one_error_line(extracted)


def test_a_search_path_that_does_not_exist_is_a_usage_error() -> None:
    _source("a")
    result = run("diff", "a", "a", "--search-path", "nope")
    assert result.exit_code == 2 and "--search-path" in one_error_line(result)
