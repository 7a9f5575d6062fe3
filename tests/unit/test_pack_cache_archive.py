"""The pack cache and the archive writer, without external tools."""

from __future__ import annotations

import lzma
import tarfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from npuslim.act.archive import (
    SOLID_DICT,
    Member,
    is_executable,
    is_npuslim_archive,
    solid_order,
    write_archive,
    xz_filters,
    xz_size,
)
from npuslim.act.pack import XzEntry
from npuslim.act.steps import Shrink, StripEntry
from npuslim.act.workcache import WorkCache, make_key, open_cache, sha256_path


def test_entries_and_blobs_round_trip_and_damage_is_a_miss(tmp_path: Path) -> None:
    cache = open_cache(tmp_path / "c")
    sha = cache.put_blob_bytes(b"stripped bytes")
    key = make_key("strip", "0.1", "a" * 64)
    entry = StripEntry(Shrink.STRIPPED, "14 bytes", 14, 0.0, sha)
    cache.store(key, entry)
    found = cache.load(key, StripEntry)
    blob = cache.blob_path(sha)
    assert blob is not None and blob.read_bytes() == b"stripped bytes"
    assert found == (entry, blob)
    blob.write_bytes(b"strippeD bytes")
    assert cache.load(key, StripEntry) is None and not blob.exists()  # damaged: a miss, and dropped
    assert (cache.hits, cache.misses) == (1, 1)  # blob_path alone counts nothing
    assert not list((tmp_path / "c").rglob(".tmp-*"))


def test_keys_change_with_every_part() -> None:
    base = make_key("upx", "4.2.2/abc", "9", True, "f" * 64)
    for other in (make_key("upx", "4.2.3/abc", "9", True, "f" * 64), make_key("upx", "4.2.2/abc", None, True, "f" * 64),
                  make_key("upx", "4.2.2/abc", "9", False, "f" * 64), make_key("upx", "4.2.2/abc", "9", True, "e" * 64)):
        assert other != base


def test_an_unusable_cache_folder_disables_the_cache_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    cache = open_cache(tmp_path / "file" / "c")
    assert not cache.enabled and "not used" in cache.problems[0]
    cache.store("k" * 64, XzEntry(1))
    assert cache.load("k" * 64, XzEntry) is None and WorkCache(None).load("k" * 64, XzEntry) is None


@pytest.fixture
def files(tmp_path: Path) -> list[Member]:
    folder = tmp_path / "b"
    (folder / "bin").mkdir(parents=True)
    (folder / "include" / "ünï").mkdir(parents=True)
    contents = {"bin/a.dll": b"MZ" + bytes(range(256)) * 400, "include/ünï/h.h": b"int x;\n" * 50,
                "npuslim-bundle.json": b"{}\n", "empty.txt": b""}
    members = []
    for rel, data in contents.items():
        (folder / rel).write_bytes(data)
        members.append(Member(rel, folder / rel, sha256_path(folder / rel), len(data)))
    return members


@pytest.mark.parametrize(("fmt", "solid"), [("zip", True), ("tar.xz", True), ("tar.xz", False)])
def test_archives_read_back_and_are_reproducible(files: list[Member], tmp_path: Path, fmt: str,
                                                 solid: bool) -> None:
    outputs = []
    for i, cache_root in enumerate((tmp_path / "c", tmp_path / "c", None)):
        work = tmp_path / f"w{i}"
        work.mkdir()
        dest = tmp_path / f"{i}.{fmt}"
        with ThreadPoolExecutor(2) as pool:
            result = write_archive(files, fmt, dest, top="top", work=work,
                                   cache=open_cache(cache_root) if cache_root else WorkCache(None), pool=pool,
                                   solid=solid)
        assert result.size == dest.stat().st_size
        outputs.append(dest.read_bytes())
        assert is_npuslim_archive(dest)
    assert outputs[0] == outputs[1] == outputs[2]  # cold cache, warm cache, no cache
    dest = tmp_path / f"0.{fmt}"
    if fmt == "zip":
        with zipfile.ZipFile(dest) as zf:
            assert zf.testzip() is None
            for m in files:
                assert zf.read(f"top/{m.rel}") == m.path.read_bytes()
    else:
        with tarfile.open(dest, "r:xz") as tf:
            for m in files:
                assert tf.extractfile(f"top/{m.rel}").read() == m.path.read_bytes()  # type: ignore[union-attr]
            assert {"top", "top/bin", "top/include", "top/include/ünï"} <= set(tf.getnames())


def test_foreign_files_are_not_npuslim_archives(tmp_path: Path) -> None:
    (tmp_path / "x.zip").write_bytes(b"PK\x03\x04 not really")
    with zipfile.ZipFile(tmp_path / "y.zip", "w") as zf:
        zf.writestr("top/readme.txt", "hi")
    assert not is_npuslim_archive(tmp_path / "x.zip") and not is_npuslim_archive(tmp_path / "y.zip")


def test_xz_size_is_a_real_stream_length(tmp_path: Path) -> None:
    import lzma

    path = tmp_path / "f"
    path.write_bytes(b"abc" * 100000)
    size = xz_size(path)
    assert 0 < size < 2000 and size == len(lzma.compress(path.read_bytes(), format=lzma.FORMAT_XZ,
                                                          filters=[{"id": lzma.FILTER_LZMA2, "preset": 9,
                                                                    "dict_size": 1 << 19}]))


def test_a_solid_stream_puts_programs_last_smallest_first_each_with_its_import_library(tmp_path: Path) -> None:
    sizes = {"bin/openvino.dll": 300, "bin/openvino_c.dll": 100, "bin/plugin.dll": 200, "include/a.h": 10,
             "lib/openvino.lib": 50, "lib/openvino_c.lib": 20, "licenses/LICENSE": 5}
    members = []
    for rel, size in sizes.items():
        path = tmp_path / rel.replace("/", "_")
        path.write_bytes((b"MZ" if rel.endswith(".dll") else b"xx") + bytes(size))
        members.append(Member(rel, path, "0" * 64, size + 2))
    assert [m.rel for m in solid_order(members)] == [
        "include/a.h", "licenses/LICENSE", "bin/openvino_c.dll", "lib/openvino_c.lib", "bin/plugin.dll",
        "bin/openvino.dll", "lib/openvino.lib"]


def test_bcj_goes_only_before_executables(tmp_path: Path) -> None:
    pe, elf, text = tmp_path / "a.dll", tmp_path / "b.so", tmp_path / "c.txt"
    pe.write_bytes(b"MZ" + bytes(100))
    elf.write_bytes(b"\x7fELF" + bytes(100))
    text.write_text("the letters MZ, not at the start")
    assert is_executable(pe) and is_executable(elf) and not is_executable(text)
    assert [f["id"] for f in xz_filters(10, executable=True)] == [lzma.FILTER_X86, lzma.FILTER_LZMA2]
    assert xz_filters(100 << 20, max_dict=SOLID_DICT)[0]["dict_size"] == SOLID_DICT
