"""``pack`` on real OpenVINO 2026.4.1 bundles: strip, UPX refusals, the report."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pefile
import pytest

from npuslim.pe import read_pe
from npuslim.strip import strip_pe
from tests.cli_helpers import run

pytestmark = [pytest.mark.wheels, pytest.mark.upx]


def lock_of(bundle: Path) -> dict:
    return json.loads((bundle / "npuslim-bundle.json").read_text())


@pytest.fixture
def bundle(ov2026, tmp_path: Path) -> Path:
    out = tmp_path / "npu-bundle"
    assert run("extract", str(ov2026.root), "-o", str(out)).exit_code == 0
    return out


def test_upx_394_leaves_every_official_dll_intact_and_says_why(bundle: Path, upx394: Path) -> None:
    before = {f["path"]: f["sha256"] for f in lock_of(bundle)["files"]}
    result = run("pack", str(bundle), "--upx", "--upx-path", str(upx394), "--archive", "none")
    assert result.exit_code == 0, result.stderr
    report = json.loads((bundle / "size-report.json").read_text())
    assert len(report["files"]) == 5
    for f in report["files"]:
        assert f["upx"] == "skipped" and "UPX 3.94 must not pack CFG DLLs" in f["upx_message"]
        assert f["final"] == f["original"]
    for f in lock_of(bundle)["files"]:
        assert f["sha256"] == before[f["path"]]
        if f["path"].endswith(".dll"):
            assert f["signature"] == "signed" and f["cfg"] is True
    assert "UPX 3.94 must not pack CFG DLLs" in result.stdout
    assert run("verify", str(bundle)).exit_code == 0


def test_strip_removes_signatures_and_debug_directories_cleanly(bundle: Path, ov2026) -> None:
    originals = {p.name: read_pe(p) for p in (bundle / "bin").iterdir()}
    result = run("pack", str(bundle), "--strip", "--archive", "none")
    assert result.exit_code == 0, result.stderr
    for path in (bundle / "bin").iterdir():
        info = read_pe(path)
        was = originals[path.name]
        assert info.signature == "none" and not info.has_debug
        assert info.imports == was.imports and info.delay_imports == was.delay_imports
        assert info.cfg == was.cfg  # stripping never touches CFG
        assert info.size == was.size - was.signature_size
        pe = pefile.PE(str(path), fast_load=True)
        assert pe.OPTIONAL_HEADER.CheckSum == pe.generate_checksum()
        sec = pe.OPTIONAL_HEADER.DATA_DIRECTORY[4]
        assert (sec.VirtualAddress, sec.Size) == (0, 0)
        pe.close()
    # the figure measured with GNU strip, without its dangling directory
    assert (bundle / "bin" / "tbb12.dll").stat().st_size == 326656
    report = json.loads((bundle / "size-report.json").read_text())
    assert len(report["costs"]["signatures_removed"]) == 5
    assert "5 signature(s) removed" in result.stdout
    assert run("verify", str(bundle)).exit_code == 0
    # the source install still holds the signed originals
    assert read_pe(ov2026.dll_dir / "tbb12.dll").signature == "signed"


def test_strip_keeps_the_pdb_path_out(ov2026) -> None:
    original = (ov2026.dll_dir / "openvino_c.dll").read_bytes()
    assert b".pdb" in original
    stripped = strip_pe(ov2026.dll_dir / "openvino_c.dll")
    assert b".pdb" not in stripped.data and stripped.debug_entries_removed >= 1


def test_upx_own_refusal_is_reported_and_the_file_left_as_it_was(ov2026, upx394: Path, tmp_path: Path) -> None:
    # tbb12.dll with its CFG bit cleared: npuslim's CFG rule no longer applies,
    # so UPX 3.94 itself is asked, and refuses the VS2022 load configuration.
    src = tmp_path / "src"
    src.mkdir()
    data = bytearray((ov2026.dll_dir / "tbb12.dll").read_bytes())
    pe = pefile.PE(data=bytes(data), fast_load=True)
    offset = pe.OPTIONAL_HEADER.get_field_absolute_offset("DllCharacteristics")
    struct.pack_into("<H", data, offset, pe.OPTIONAL_HEADER.DllCharacteristics & ~0x4000)
    (src / "tbb12.dll").write_bytes(bytes(data))
    out = tmp_path / "b"
    assert run("extract", str(src), "--root", "tbb12.dll", "-o", str(out)).exit_code == 0
    sha = lock_of(out)["files"][0]["sha256"]
    result = run("pack", str(out), "--upx", "--upx-path", str(upx394), "--archive", "none")
    assert result.exit_code == 0, result.stderr
    report = json.loads((out / "size-report.json").read_text())
    (f,) = report["files"]
    assert f["upx"] == "refused"
    assert f["upx_message"] == "UPX: CantPackException: size of Load Configuration directory unexpected"
    assert lock_of(out)["files"][0]["sha256"] == sha
    assert "size of Load Configuration directory unexpected" in result.stdout
    shutil.rmtree(src)
