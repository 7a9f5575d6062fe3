"""String-scan hints on synthetic binaries (no tools needed)."""

from __future__ import annotations

from pathlib import Path

from npuslim.analyse.hints import scan


def test_names_are_found_as_whole_words_in_ascii_and_utf16(tmp_path: Path) -> None:
    blob = tmp_path / "loader.dll"
    blob.write_bytes(
        b"\x00junk\x00openvino_intel_npu_compiler_loader\x00more"
        + "LoadLibraryW: tbbbind_2_5.dll\x00".encode("utf-16-le")
        + b"xxopenvino_ir_frontendxx\x00"  # inside a longer identifier: not a mention
    )
    candidates = {name: tmp_path / name for name in (
        "openvino_intel_npu_compiler_loader.dll", "openvino_intel_npu_compiler.dll", "tbbbind_2_5.dll",
        "openvino_ir_frontend.dll", "loader.dll")}
    hints, skipped = scan([(blob, ())], candidates)
    assert [h.name for h in hints] == ["openvino_intel_npu_compiler_loader.dll", "tbbbind_2_5.dll"]
    assert hints[0].found_in == ("loader.dll",) and skipped == ()


def test_only_the_given_ranges_are_searched(tmp_path: Path) -> None:
    blob = tmp_path / "a.dll"
    blob.write_bytes(b"code code tbb12 code" + b"\x00" * 100 + b"data openvino data")
    candidates = {"tbb12.dll": tmp_path / "tbb12.dll", "openvino.dll": tmp_path / "openvino.dll"}
    hints, _ = scan([(blob, ((20, 200),))], candidates)
    assert [h.name for h in hints] == ["openvino.dll"]
