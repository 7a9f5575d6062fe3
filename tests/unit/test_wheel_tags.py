"""The glibc a manylinux wheel's platform tags promise, read with packaging's wheel-name parser."""

from __future__ import annotations

import pytest

from npuslim.analyse.resolve_elf import _glibc_promises


@pytest.mark.parametrize(("name", "expected"), [
    ("openvino-2026.4.1-17911-cp311-cp311-manylinux_2_28_x86_64.whl", {"manylinux_2_28_x86_64": "2.28"}),
    ("openvino-2025.4.1-20426-cp311-cp311-manylinux2014_x86_64.whl", {"manylinux2014_x86_64": "2.17"}),
    ("a-1.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
     {"manylinux_2_17_x86_64": "2.17", "manylinux2014_x86_64": "2.17"}),
    ("openvino-2026.4.1-17911-cp311-cp311-win_amd64.whl", {}),
    ("x.whl", {}),
    ("a-1.0-py3-none-musllinux_1_2_x86_64.whl", {}),
])
def test_promises_by_tag(name: str, expected: dict[str, str]) -> None:
    assert _glibc_promises(name) == expected
