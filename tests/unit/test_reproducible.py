"""The lock file of extract names its sources, never the machine (issue 21, "Integrity").

The same source extracted from two different folders, through two different
npuslim caches, gives byte-identical lock files (``SOURCE_DATE_EPOCH`` fixes
``created``), and no text file of the bundle holds a folder of the machine: not
the temporary folder, not the cache, not the home folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from npuslim.source.wheel import wheel_sha256
from tests.cli_helpers import run
from tests.support import corpus

REPO = Path(__file__).resolve().parents[2]
BUNDLE_SCHEMA = json.loads((REPO / "npuslim" / "schemas" / "bundle.schema.json").read_text())
WHEEL = "openvino-2099.3.0-1-cp311-cp311-win_amd64.whl"


def _sandbox(where: Path, wheel: bytes | None) -> dict[str, Path]:
    s = corpus.base_sandbox(where)
    if wheel is None:
        corpus._crafted_wheel(s, name=WHEEL)
    else:
        (where / WHEEL).write_bytes(wheel)
    return s


def _extract(source: Path, manifest: Path, out: Path, cache: Path, *extra: str) -> bytes:
    result = run("extract", str(source), "-m", str(manifest), "-o", str(out), *extra,
                 env={"NPUSLIM_CACHE_DIR": str(cache), "SOURCE_DATE_EPOCH": "1700000000"})
    assert result.exit_code == 0, result.stderr
    return (out / "npuslim-bundle.json").read_bytes()


def _host_paths_in(bundle: Path, paths: list[Path]) -> list[str]:
    found = []
    for file in sorted(p for p in bundle.rglob("*") if p.is_file()):
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # a DLL
        found += [f"{file.relative_to(bundle)}: {p}" for p in paths if str(p) in text]
    return found


@pytest.mark.parametrize("kind", ["folder", "wheel"])
def test_the_same_source_from_two_folders_gives_the_same_lock_file(kind: str, tmp_path: Path) -> None:
    first = _sandbox(tmp_path / "alice" / "box", None)
    second = _sandbox(tmp_path / "bob" / "deeper" / "box", (first["box"] / WHEEL).read_bytes())
    locks, bundles = [], []
    for n, s in enumerate((first, second)):
        source = s["install"] if kind == "folder" else s["box"] / WHEEL
        out = tmp_path / f"out{n}" / "bundle"
        extra = () if kind == "folder" else ("--root", "a.dll")
        locks.append(_extract(source, s["manifest"], out, tmp_path / f"cache{n}", "--max-size", "10MB", *extra))
        bundles.append(out)
    assert locks[0] == locks[1]
    lock = json.loads(locks[0])
    jsonschema.validate(lock, BUNDLE_SCHEMA)
    machine = [tmp_path, tmp_path / "cache0", tmp_path / "cache1", Path.home()]
    for bundle in bundles:
        assert _host_paths_in(bundle, machine) == []
    assert lock["manifest"]["path"] == "test.yaml"
    if kind == "folder":
        assert lock["source"]["origin"] == lock["source"]["root"] == "install" and "wheel" not in lock["source"]
    else:
        assert lock["source"]["origin"] == lock["source"]["root"] == WHEEL
        assert lock["source"]["wheel"] == {"name": WHEEL, "sha256": wheel_sha256(first["box"] / WHEEL)}


def test_a_warning_that_names_the_unpacked_wheel_names_the_wheel_instead(tmp_path: Path) -> None:
    s = _sandbox(tmp_path / "box", None)
    out = tmp_path / "bundle"
    lock = json.loads(_extract(s["box"] / WHEEL, REPO / "manifests" / "npu.yaml", out, tmp_path / "cache",
                               "--root", "a.dll"))
    headers = [w for w in lock["warnings"] if w.startswith("header ")]
    assert headers and all(f"is not in {WHEEL}/openvino/include" in w for w in headers)
    assert _host_paths_in(out, [tmp_path, Path.home()]) == []


def test_a_relative_source_and_manifest_are_recorded_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = _sandbox(tmp_path / "box", None)
    shutil.copy(s["manifest"], tmp_path / "box" / "install" / "local.yaml")
    monkeypatch.chdir(tmp_path / "box")
    lock = json.loads(_extract(Path("install"), Path("install/local.yaml"), tmp_path / "b", tmp_path / "cache"))
    assert lock["source"]["origin"] == "install" and lock["manifest"]["path"] == "local.yaml"
