"""Stripping and UPX on ELF shared objects: gcc-built libraries and the official OpenVINO ones.

The pure half; the tests that build, run or download are in tests/integration/test_pack_elf.py.
"""

from __future__ import annotations

from npuslim.act.upx import parse_pack

# Captured from upx 4.2.2 on libtbb.so.12 of the 2026.4.1 manylinux wheel.
UPX_REFUSED = """                       Ultimate Packer for eXecutables
                          Copyright (C) 1996 - 2024
UPX 4.2.2       Markus Oberhumer, Laszlo Molnar & John Reiser    Jan 3rd 2024

        File size         Ratio      Format      Name
   --------------------   ------   -----------   -----------
upx: libtbb.so.12: CantPackException: DT_GNU_HASH above stub

Packed 0 files.
"""


def test_upx_refusal_is_read_by_the_upx_parser() -> None:
    outcome = parse_pack(UPX_REFUSED, 1)
    assert (outcome.status, outcome.message) == ("refused", "CantPackException: DT_GNU_HASH above stub")
    packed = parse_pack("     15008 ->      8236   54.88%   linux/amd64   small.so\nPacked 1 file.\n", 0)
    assert packed.ok and (packed.original_size, packed.packed_size) == (15008, 8236)
