"""``pack`` on the real OpenVINO 2026.4.1 default bundle: strip, UPX 3.94 and the real UPX 4, the report.

The UPX runs here use ``--no-cache``: UPX really runs every time.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import subprocess
from pathlib import Path

import pefile
import pytest

from npuslim.act.strip import strip_pe
from npuslim.act.upx import NAMES, UpxTool, find_upx
from npuslim.formats.crosscheck import lief_imports
from npuslim.formats.pe import read_pe
from tests.cli_helpers import run
from tests.support.tools import unavailable

pytestmark = [pytest.mark.wheels, pytest.mark.upx]
DLLS = ("openvino.dll", "openvino_c.dll", "openvino_intel_npu_plugin.dll", "openvino_ir_frontend.dll", "tbb12.dll")


def lock_of(bundle: Path) -> dict:
    return json.loads((bundle / "npuslim-bundle.json").read_text())


def report_of(bundle: Path) -> dict:
    return json.loads((bundle / "size-report.json").read_text())


def snapshot(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def upx4() -> UpxTool:
    """UPX 4 or newer, as users install it (Debian/Ubuntu: package upx-ucl, as ``upx`` or ``upx-ucl``)."""
    for name in NAMES:
        found = shutil.which(name)
        if found:
            tool = find_upx(Path(found))
            if tool.version >= (4,):
                return tool
    unavailable("no UPX 4 on PATH (Debian/Ubuntu: apt-get install upx-ucl)")
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def bundle(ov2026, tmp_path_factory) -> Path:
    """The default 2026.4.1 bundle; pack only reads it, so every test shares it."""
    out = tmp_path_factory.mktemp("wheel-pack") / "npu-bundle"
    assert run("extract", str(ov2026.root), "-o", str(out)).exit_code == 0
    return out


@pytest.fixture(scope="module")
def untouched(bundle: Path):
    before = snapshot(bundle)
    yield
    assert snapshot(bundle) == before, "pack modified its input bundle"


def test_upx_394_leaves_every_official_dll_intact_and_says_why(bundle: Path, upx394: Path, tmp_path: Path,
                                                               untouched) -> None:
    out = tmp_path / "o"
    result = run("pack", str(bundle), "-o", str(out), "--upx", "--upx-path", str(upx394), "--archive", "none",
                 "--no-cache")
    assert result.exit_code == 0, result.stderr
    report = report_of(out)
    assert len(report["files"]) == 5
    for f in report["files"]:
        assert f["upx"] == "skipped" and "UPX 3.94 must not pack CFG DLLs" in f["upx_message"]
        assert f["final"] == f["original"]
    inputs = {f["path"]: f["sha256"] for f in lock_of(bundle)["files"]}
    for f in lock_of(out)["files"]:
        assert f["sha256"] == inputs[f["path"]]
        if f["path"].endswith(".dll"):
            assert f["signature"] == "signed" and f["cfg"] is True
    assert "UPX 3.94 must not pack CFG DLLs" in result.stdout
    assert run("verify", str(out)).exit_code == 0


def test_strip_removes_signatures_and_debug_directories_cleanly(bundle: Path, ov2026, tmp_path: Path,
                                                                untouched) -> None:
    out = tmp_path / "o"
    result = run("pack", str(bundle), "-o", str(out), "--strip", "--archive", "none")
    assert result.exit_code == 0, result.stderr
    for path in (out / "bin").iterdir():
        info = read_pe(path)
        was = read_pe(bundle / "bin" / path.name)
        assert info.signature == "none" and not info.has_debug
        assert info.imports == was.imports and info.delay_imports == was.delay_imports
        assert info.cfg == was.cfg  # stripping never touches CFG
        assert info.size == was.size - was.signature_size
        pe = pefile.PE(str(path), fast_load=True)
        assert pe.OPTIONAL_HEADER.CheckSum == pe.generate_checksum()
        sec = pe.OPTIONAL_HEADER.DATA_DIRECTORY[4]
        assert (sec.VirtualAddress, sec.Size) == (0, 0)
        pe.close()
        assert was.signature == "signed"
    # the figure measured with GNU strip, without its dangling directory
    assert (out / "bin" / "tbb12.dll").stat().st_size == 326656
    report = report_of(out)
    assert len(report["costs"]["signatures_removed"]) == 5
    assert "5 signature(s) removed" in result.stdout
    assert run("verify", str(out)).exit_code == 0
    assert read_pe(ov2026.dll_dir / "tbb12.dll").signature == "signed"


def test_strip_keeps_the_pdb_path_out(ov2026) -> None:
    original = (ov2026.dll_dir / "openvino_c.dll").read_bytes()
    assert b".pdb" in original
    stripped = strip_pe(ov2026.dll_dir / "openvino_c.dll")
    assert b".pdb" not in stripped.data and stripped.debug_entries_removed >= 1


def test_upx_394_own_refusal_is_reported_and_the_file_left_as_it_was(ov2026, upx394: Path, tmp_path: Path) -> None:
    # tbb12.dll with its CFG bit cleared: npuslim's CFG rule no longer applies,
    # so UPX 3.94 itself is asked, and refuses the VS2022 load configuration.
    src = tmp_path / "src"
    src.mkdir()
    data = bytearray((ov2026.dll_dir / "tbb12.dll").read_bytes())
    pe = pefile.PE(data=bytes(data), fast_load=True)
    offset = pe.OPTIONAL_HEADER.get_field_absolute_offset("DllCharacteristics")
    struct.pack_into("<H", data, offset, pe.OPTIONAL_HEADER.DllCharacteristics & ~0x4000)
    (src / "tbb12.dll").write_bytes(bytes(data))
    bundle = tmp_path / "b"
    assert run("extract", str(src), "--root", "tbb12.dll", "-o", str(bundle)).exit_code == 0
    sha = lock_of(bundle)["files"][0]["sha256"]
    result = run("pack", str(bundle), "--upx", "--upx-path", str(upx394), "--archive", "none", "--no-cache")
    assert result.exit_code == 0, result.stderr
    out = tmp_path / "b.packed"
    (f,) = report_of(out)["files"]
    assert f["upx"] == "refused"
    assert f["upx_message"] == "UPX: CantPackException: size of Load Configuration directory unexpected"
    assert lock_of(out)["files"][0]["sha256"] == sha
    assert "size of Load Configuration directory unexpected" in result.stdout


def test_upx_4_refuses_every_cfg_dll_by_itself_without_the_option(bundle: Path, upx4: UpxTool,
                                                                  untouched) -> None:
    # the default OUT, which the --upx-force-cfg run below (the user's next step) replaces
    out = bundle.parent / "npu-bundle.packed"
    result = run("pack", str(bundle), "--upx", "--upx-path", str(upx4.path), "--archive", "none", "--no-cache")
    assert result.exit_code == 0, result.stderr
    inputs = {f["path"]: f for f in lock_of(bundle)["files"]}
    report = report_of(out)
    assert report["upx"]["version"] == upx4.version_text and len(report["files"]) == 5
    for row in report["files"]:
        assert row["upx"] == "refused", row
        assert "CantPackException: GUARD_CF enabled PE files are not supported" in row["upx_message"]
        assert "--upx-force-cfg" in row["upx_message"]
        assert row["final"] == row["original"] and row["cfg_after"] is True and row["signature_after"] == "signed"
    for f in lock_of(out)["files"]:
        assert f["sha256"] == inputs[f["path"]]["sha256"]
    assert report["costs"] == {"signatures_removed": [], "cfg_disabled": [], "upx_load_time_private_memory": 0}
    assert "GUARD_CF enabled PE files are not supported" in result.stdout
    assert run("verify", str(out)).exit_code == 0


@pytest.fixture(scope="module")
def forced(bundle: Path, upx4: UpxTool) -> tuple[Path, object]:
    out = bundle.parent / "npu-bundle.packed"
    result = run("pack", str(bundle), "--strip", "--upx", "--upx-path", str(upx4.path), "--upx-force-cfg",
                 "--archive", "zip", "--no-cache")
    assert result.exit_code == 0, result.stderr
    return out, result


def test_upx_4_packs_the_five_cfg_dlls_with_the_option(bundle: Path, forced, upx4: UpxTool, untouched) -> None:
    out, result = forced
    report = report_of(out)
    assert [f["upx"] for f in report["files"]] == ["packed"] * 5
    before = sum(f["original"] for f in report["files"])
    after = sum(f["final"] for f in report["files"])
    assert before == sum((bundle / "bin" / name).stat().st_size for name in DLLS)
    # measured with 4.2.2: 25.2 MB of DLLs -> 9.59 MB
    assert 0.30 < after / before < 0.45, (before, after)
    assert sorted(report["costs"]["cfg_disabled"]) == [f"bin/{n}" for n in DLLS]
    assert report["costs"]["upx_load_time_private_memory"] > before
    for name in DLLS:
        packed, original = out / "bin" / name, bundle / "bin" / name
        info, was = read_pe(packed), read_pe(original)
        assert info.upx_packed and not info.cfg and info.signature == "none"
        test = subprocess.run([str(upx4.path), "-t", str(packed)], capture_output=True, text=True)
        assert test.returncode == 0 and "[OK]" in test.stdout, test.stdout + test.stderr
        # the same DLLs imported (UPX's stub adds KERNEL32 when it was not there), read by pefile and LIEF
        expected = {n.lower() for n in was.imports + was.delay_imports}
        for seen in ({n.lower() for n in info.imports + info.delay_imports}, lief_imports(packed)):
            assert expected <= seen <= expected | {"kernel32.dll"}, name
    assert run("verify", str(out)).exit_code == 0
    assert "CFG off in 5 DLL(s)" in result.stdout  # type: ignore[attr-defined]


def test_a_upx_4_packed_bundle_still_reaches_the_npu_plugin(forced) -> None:
    from npuslim.check.load_windows import find_runner

    try:
        find_runner()
    except Exception as exc:
        unavailable(f"Wine: {exc}")
    out, _ = forced
    result = run("verify", str(out), "--load", "--format", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    load = json.loads(result.stdout)["load"]
    steps = {s["name"]: s for s in load["steps"]}
    for name in ("load_c_api", "version", "core_create", "read_model", "plugin"):
        assert steps[name]["ok"], steps[name]
    assert "openvino_intel_npu_plugin" in steps["plugin"]["detail"]


@pytest.mark.parametrize("level", ["1", None, "lzma"])
def test_upx_4_levels_on_the_npu_plugin(bundle: Path, upx4: UpxTool, tmp_path: Path, level: str | None) -> None:
    out = tmp_path / "o"
    excluded = [arg for name in DLLS if name != "openvino_intel_npu_plugin.dll" for arg in ("--upx-exclude", name)]
    result = run("pack", str(bundle), "-o", str(out), "--upx", "--upx-path", str(upx4.path), "--upx-force-cfg",
                 *(["--upx-level", level] if level else []), *excluded, "--archive", "none", "--no-cache")
    assert result.exit_code == 0, result.stderr
    report = report_of(out)
    assert report["options"]["upx_level"] == (level or "default")
    rows = {f["path"]: f for f in report["files"]}
    plugin = rows.pop("bin/openvino_intel_npu_plugin.dll")
    assert plugin["upx"] == "packed" and plugin["after_upx"] == plugin["final"]
    assert all(f["upx"] == "skipped" for f in rows.values())
    ratio = plugin["final"] / plugin["original"]
    # measured with 4.2.3 (one core): -1 41.9 %, default 34.6 %, --lzma 25.5 %
    low, high = {"1": (0.38, 0.46), None: (0.31, 0.38), "lzma": (0.22, 0.29)}[level]
    assert low < ratio < high, ratio
    print(f"UPX {upx4.version_text} level {level or 'default'}: {plugin['original']} -> {plugin['final']} "
          f"bytes ({ratio:.1%}) in {plugin['upx_seconds']} s")
    md = (out / "size-report.md").read_text()
    assert f"UPX level {level or 'default'}" in md and "| `bin/openvino_intel_npu_plugin.dll` |" in md
    assert run("verify", str(out)).exit_code == 0


def test_an_already_packed_dll_in_the_source_is_reported_not_packed_again(ov2026, upx4: UpxTool,
                                                                          tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    packed = subprocess.run([str(upx4.path), "--force", "-o", str(src / "tbb12.dll"),
                             str(ov2026.dll_dir / "tbb12.dll")], capture_output=True, text=True)
    assert packed.returncode == 0, packed.stdout + packed.stderr
    bundle = tmp_path / "b"
    extracted = run("extract", str(src), "--root", "tbb12.dll", "-o", str(bundle))
    assert extracted.exit_code == 0, extracted.stderr
    sha = lock_of(bundle)["files"][0]["sha256"]
    result = run("pack", str(bundle), "--upx", "--upx-path", str(upx4.path), "--upx-force-cfg", "--archive", "none",
                 "--no-cache")
    assert result.exit_code == 0, result.stderr
    (row,) = report_of(tmp_path / "b.packed")["files"]
    assert row["upx"] == "skipped" and "already packed by UPX" in row["upx_message"]
    assert lock_of(tmp_path / "b.packed")["files"][0]["sha256"] == sha
    assert "already packed by UPX" in result.stdout
