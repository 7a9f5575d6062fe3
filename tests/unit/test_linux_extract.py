"""``extract`` and ``verify`` for Linux: the manylinux wheels and small gcc-built libraries.

The pure half; the tests that build, run or download are in tests/integration/test_linux_extract.py.
"""

from __future__ import annotations


def test_a_link_leading_out_of_the_bundle_is_a_problem(tmp_path) -> None:
    from npuslim.check.verify import verify_link

    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "libx.so").symlink_to("../../etc/passwd")
    assert "not a file of the same folder" in (verify_link(tmp_path, "lib/libx.so", "../../etc/passwd") or "")
    assert "points to ../../etc/passwd" in (verify_link(tmp_path, "lib/libx.so", "libx.so.1") or "")
