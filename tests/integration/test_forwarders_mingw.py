"""Forwarded exports (issue 21): ``a.dll`` exporting ``f`` as ``b.f`` makes Windows load ``b.dll``
when an import of ``a.dll!f`` is bound, so ``b.dll`` belongs to the closure, ``f`` must be in it,
and forwards that run in a loop are a missing symbol, not a hang."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import one_error_line, run
from tests.support.mingw import Import, build_dll
from tests.support.mingw_forward import build_forwarding_dll

pytestmark = pytest.mark.mingw


def deps(folder: Path, root: str = "x.dll") -> tuple[int, dict, str]:
    result = run("deps", str(folder), "--root", root, "--format", "json", "--no-hints")
    assert "Traceback" not in result.stderr
    return result.exit_code, json.loads(result.stdout), result.stderr


def importer(folder: Path, *imports: Import) -> None:
    build_dll(folder, "x.dll", imports=imports)


def test_the_dll_a_forwarded_import_names_joins_the_closure(tmp_path: Path) -> None:
    src = tmp_path / "src"
    build_dll(src, "b.dll", exports="f")
    build_forwarding_dll(src, "a.dll", forwards={"f": "b.f"})
    importer(src, Import("a.dll", "f"))
    code, doc, _ = deps(src)
    assert code == 0
    nodes = {n["name"]: n for n in doc["nodes"]}
    assert nodes["b.dll"]["class"] == "bundled" and nodes["b.dll"]["via"] == "forward"
    assert nodes["b.dll"]["chain"] == ["x.dll", "a.dll", "b.dll"]
    assert nodes["b.dll"]["reason"] == "forwarded export of a.dll: x.dll needs f, which a.dll forwards to b.f"
    assert nodes["b.dll"]["required_by"] == ["a.dll"]
    assert {"source": "a.dll", "target": "b.dll", "kind": "forward"} in doc["edges"]
    assert doc["missing_symbols"] == []
    result = run("extract", str(src), "--root", "x.dll", "-o", str(tmp_path / "bundle"))
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "bundle" / "bin" / "b.dll").is_file()
    lock = json.loads((tmp_path / "bundle" / "npuslim-bundle.json").read_text())
    assert any(f["path"].endswith("b.dll") and "forwarded export of a.dll" in f["reason"] for f in lock["files"])


def test_a_forward_to_a_dll_that_is_nowhere_is_missing(tmp_path: Path) -> None:
    src = tmp_path / "src"
    build_forwarding_dll(src, "a.dll", forwards={"f": "gone.f"})
    importer(src, Import("a.dll", "f"))
    code, doc, stderr = deps(src)
    assert code == 3
    assert [n["name"] for n in doc["nodes"] if n["class"] == "missing"] == ["gone.dll"]
    assert "gone.dll" in stderr
    result = run("extract", str(src), "--root", "x.dll", "-o", str(tmp_path / "bundle"))
    assert result.exit_code == 3
    assert "gone.dll" in one_error_line(result)


def test_a_forward_to_a_symbol_its_target_lacks_is_a_missing_symbol(tmp_path: Path) -> None:
    build_dll(tmp_path, "b.dll", exports="other")
    build_forwarding_dll(tmp_path, "a.dll", forwards={"f": "b.f"})
    importer(tmp_path, Import("a.dll", "f"))
    code, doc, stderr = deps(tmp_path)
    assert code == 3
    assert doc["missing_symbols"] == [{"importer": "x.dll", "dll": "b.dll", "delay": False, "count": 1,
                                       "symbols": ["f"],
                                       "forwarding": ["f forwarded a.dll!f -> b.dll!f, which b.dll does not export"]}]
    assert "symbols missing in 1 import: x.dll from b.dll" in stderr


def test_forwards_in_a_loop_are_a_missing_symbol_and_end(tmp_path: Path) -> None:
    build_forwarding_dll(tmp_path, "a.dll", forwards={"f": "b.f"})
    build_forwarding_dll(tmp_path, "b.dll", forwards={"f": "c.g"})
    build_forwarding_dll(tmp_path, "c.dll", forwards={"g": "a.f"})
    importer(tmp_path, Import("a.dll", "f"))
    code, doc, _ = deps(tmp_path)
    assert code == 3
    assert [n["name"] for n in doc["nodes"] if n["class"] == "bundled"] == ["x.dll", "a.dll", "b.dll", "c.dll"]
    assert [(e["source"], e["target"]) for e in doc["edges"] if e["kind"] == "forward"] == [
        ("a.dll", "b.dll"), ("b.dll", "c.dll"), ("c.dll", "a.dll")]
    (entry,) = doc["missing_symbols"]
    assert entry["dll"] == "a.dll" and entry["symbols"] == ["f"]
    assert entry["forwarding"] == ["f: forwarding loop a.dll!f -> b.dll!f -> c.dll!g -> a.dll!f"]


def test_a_forward_nothing_imports_loads_nothing(tmp_path: Path) -> None:
    build_forwarding_dll(tmp_path, "a.dll", forwards={"f": "gone.f"})
    importer(tmp_path, Import("a.dll", "own"))
    code, doc, _ = deps(tmp_path)
    assert code == 0
    assert "gone.dll" not in {n["name"] for n in doc["nodes"]}
    assert not [e for e in doc["edges"] if e["kind"] == "forward"]


def test_a_delay_imported_forward_is_followed_too(tmp_path: Path) -> None:
    build_dll(tmp_path, "b.dll", exports="f")
    build_forwarding_dll(tmp_path, "a.dll", forwards={"f": "b.f"})
    importer(tmp_path, Import("a.dll", "f", delay=True))
    code, doc, _ = deps(tmp_path)
    assert code == 0
    assert {"source": "a.dll", "target": "b.dll", "kind": "forward"} in doc["edges"]
