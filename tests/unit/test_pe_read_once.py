"""``read_once``: inside it a PE file is read once per path and ``fstat``; outside, every time."""

from __future__ import annotations

import os
from pathlib import Path

from npuslim.formats import pe
from npuslim.formats.pe import read_once, read_pe
from tests.support.crafted import build_pe


def test_a_file_is_read_once_inside_and_again_when_it_changes(tmp_path: Path, monkeypatch) -> None:
    dll = tmp_path / "a.dll"
    dll.write_bytes(build_pe())
    reads: list[Path] = []
    real = pe._read

    def counting(path, data, size):  # type: ignore[no-untyped-def]
        reads.append(path)
        return real(path, data, size)

    monkeypatch.setattr(pe, "_read", counting)
    read_pe(dll)
    read_pe(dll)
    assert len(reads) == 2  # outside read_once nothing is kept
    with read_once():
        first = read_pe(dll)
        assert read_pe(dll) is first and len(reads) == 3
        st = dll.stat()
        os.utime(dll, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        assert read_pe(dll) == first and len(reads) == 4  # a new stat is a new read
    assert not pe._READ
