"""Which DLL UPX may pack: the Control Flow Guard rules, for UPX 3 and UPX 4 (pure)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from npuslim.act.pack import PackOptions, PackStatus, upx_decision
from npuslim.act.pack_elf import ElfShrinker
from npuslim.act.pack_pe import PeShrinker
from npuslim.act.steps import UpxDecision
from npuslim.act.upx import UpxTool
from npuslim.formats.elf import ElfInfo
from npuslim.formats.pe import PeInfo

PLAIN = PeInfo(path=Path("x.dll"), size=1000, machine="x64", is_dll=True, imports=("KERNEL32.dll",),
               delay_imports=(), cfg=False, signature="none", signature_size=0, has_debug=False,
               coff_symbols=0, upx_packed=False, file_version=None, product_version=None)
CFG = replace(PLAIN, cfg=True, signature="signed", signature_size=10512)
UPX3 = UpxTool(Path("/bin/upx3"), (3, 94), "3.94")
UPX4 = UpxTool(Path("/bin/upx4"), (4, 2, 3), "4.2.3")
ON = PackOptions(upx=True)


@pytest.mark.parametrize(("info", "upx", "options", "skip", "force"), [
    (PLAIN, UPX3, ON, None, False),
    (PLAIN, UPX4, ON, None, False),
    (CFG, UPX4, ON, None, False),  # UPX 4 is asked without --force, and refuses by itself
    (CFG, UPX4, replace(ON, upx_force_cfg=True), None, True),
    (CFG, UPX3, ON, "UPX 3.94 must not pack CFG DLLs", False),
    (CFG, UPX3, replace(ON, upx_force_cfg=True), "UPX 3.94 must not pack CFG DLLs", False),
    (replace(PLAIN, upx_packed=True), UPX4, ON, "already packed by UPX", False),
    (PLAIN, UPX4, replace(ON, upx_exclude=("OPENVINO*",)), "excluded by --upx-exclude", False),
    (PLAIN, UPX4, replace(ON, upx_exclude=("bin/openvino.dll",)), "excluded by --upx-exclude", False),
    (PLAIN, UPX4, PackOptions(upx=False), "not requested", False),
])
def test_upx_decision(info: PeInfo, upx: UpxTool, options: PackOptions, skip: str | None, force: bool) -> None:
    decision = upx_decision("bin/openvino.dll", info, options, upx, shrinker=PeShrinker())
    reason, forced = decision.reason, decision.force
    if skip is None:
        assert decision.skip is None and reason == ""
    elif skip == "not requested":
        assert decision.skip is PackStatus.NOT_REQUESTED and reason == ""
    else:
        assert decision.skip is PackStatus.SKIPPED and skip in reason
    assert forced is force


ELF = ElfInfo(path=Path("libx.so"), size=1000, machine="x86-64", bits=64, is_dll=True, imports=("libc.so.6",),
              soname="libx.so", rpath=(), runpath=(), version_needs=(), has_debug=False, has_symtab=False,
              upx_packed=False)


@pytest.mark.parametrize("upx", [UPX3, UPX4])
def test_a_shared_object_has_no_cfg_rule(upx: UpxTool) -> None:
    """ELF has no Control Flow Guard: only the common rules apply, with any UPX."""
    assert upx_decision("lib/libx.so", ELF, replace(ON, upx_force_cfg=True), upx,
                        shrinker=ElfShrinker()) == UpxDecision(None)
    excluded = upx_decision("lib/libx.so", ELF, replace(ON, upx_exclude=("libx*",)), upx, shrinker=ElfShrinker())
    assert excluded == UpxDecision(PackStatus.SKIPPED, "excluded by --upx-exclude")


def test_strip_tool_is_only_for_shared_objects_and_only_with_strip() -> None:
    assert PeShrinker().strip_tool(replace(ON, strip=True), (PLAIN,)) == (None, "")
    assert ElfShrinker().strip_tool(ON, (ELF,)) == (None, "")
