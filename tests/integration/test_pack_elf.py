"""Stripping and UPX on ELF shared objects: gcc-built libraries and the official OpenVINO ones.

The tests that build, run or download; the pure ones are in tests/unit/test_pack_elf.py.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess

import pytest

from npuslim.act.pack_elf import strip_elf, upx_elf
from npuslim.formats.elf import elf_image_size, read_elf
from tests.support.elfbuild import build_so
from tests.support.tools import extract_tar, require_tool, unavailable


def _upx4() -> str:
    upx = require_tool("upx", "apt-get install upx-ucl (UPX 4)")
    version = subprocess.run([upx, "--version"], capture_output=True, text=True).stdout.split()[1]
    if int(version.split(".")[0]) < 4:
        unavailable(f"UPX {version} on PATH; these checks are for UPX 4 (apt-get install upx-ucl)")
    return upx


def test_strip_shrinks_a_library_with_symbols_and_keeps_its_linkage(tmp_path) -> None:
    dep = build_so(tmp_path, "libdep.so.1", soname="libdep.so.1")
    lib = build_so(tmp_path, "libfat.so", links=(dep,), rpath="$ORIGIN", cxx=True)
    before = read_elf(lib)
    assert before.has_symtab
    result = strip_elf(lib)
    assert result.outcome == "stripped" and result.size_after < result.size_before
    after = read_elf(lib)
    assert not after.has_symtab
    assert (after.imports, after.rpath, after.soname) == (before.imports, before.rpath, before.soname)
    assert ctypes.CDLL(str(lib)).f_libfat_so() == 2  # calls libdep's function: still links and runs
    again = strip_elf(lib)
    assert again.outcome == "kept" and "already stripped" in again.reason


def test_upx4_packs_a_simple_library_that_still_loads(tmp_path) -> None:
    upx = _upx4()
    lib = build_so(tmp_path, "libsmall.so", soname="libsmall.so")
    lib.chmod(0o644)  # as extract writes bundle files
    result = upx_elf(lib, upx=upx)
    assert result.outcome == "packed", result.reason
    assert read_elf(lib).upx_packed and read_elf(lib).soname == "libsmall.so"
    assert lib.stat().st_mode & 0o777 == 0o644
    assert ctypes.CDLL(str(lib)).f_libsmall_so() == 1


@pytest.mark.wheels
def test_openvino_libraries_are_already_stripped_and_upx4_refuses_them(ovlinux2026, tmp_path) -> None:
    upx = _upx4()
    for name in ("libtbb.so.12", "libopenvino_c.so.2641"):
        lib = tmp_path / name
        shutil.copyfile(ovlinux2026.dll_dir / name, lib)
        original = lib.read_bytes()
        stripped = strip_elf(lib)
        assert stripped.outcome == "kept" and "already stripped" in stripped.reason
        packed = upx_elf(lib, upx=upx)
        assert packed.outcome == "refused"
        assert packed.reason == "CantPackException: DT_GNU_HASH above stub"
        assert lib.read_bytes() == original
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_link_names_are_archived_as_symlinks(tmp_path) -> None:
    import hashlib
    import tarfile
    import zipfile
    from concurrent.futures import ThreadPoolExecutor

    from npuslim.act.archive import Member, write_archive
    from npuslim.act.workcache import WorkCache
    from npuslim.errors import InputError

    lib = tmp_path / "src" / "lib"
    lib.mkdir(parents=True)
    (lib / "libx.so.1").write_bytes(b"\x7fELF fake" * 100)
    (lib / "libx.so").symlink_to("libx.so.1")
    text = b"libx.so.1"
    members = [Member("lib/libx.so.1", lib / "libx.so.1", hashlib.sha256(b"\x7fELF fake" * 100).hexdigest(), 900),
               Member("lib/libx.so", lib / "libx.so", hashlib.sha256(text).hexdigest(), len(text), "libx.so.1")]
    work = tmp_path / "work"
    work.mkdir()
    with ThreadPoolExecutor(2) as pool:
        tar = write_archive(members, "tar.xz", tmp_path / "b.tar.xz", top="b", work=work, cache=WorkCache(None),
                            pool=pool)
        zipped = write_archive(members, "zip", tmp_path / "b.zip", top="b", work=work, cache=WorkCache(None),
                               pool=pool)
        with pytest.raises(InputError, match="its own folder"):
            write_archive([Member("lib/evil", lib / "libx.so", "0" * 64, 16, "../../etc/passwd")], "tar.xz",
                          tmp_path / "e.tar.xz", top="b", work=work, cache=WorkCache(None), pool=pool)
    with tarfile.open(tar.path) as tf:
        member = tf.getmember("b/lib/libx.so")
        assert member.issym() and member.linkname == "libx.so.1" and member.size == 0
        extract_tar(tf, tmp_path / "out")
    link = tmp_path / "out" / "b" / "lib" / "libx.so"
    assert link.is_symlink() and os.readlink(link) == "libx.so.1" and link.read_bytes() == b"\x7fELF fake" * 100
    with zipfile.ZipFile(zipped.path) as zf:
        member = zf.getinfo("b/lib/libx.so")
        assert (member.external_attr >> 16) == 0o120777 and zf.read(member) == text
        assert zf.testzip() is None
    if shutil.which("unzip"):
        subprocess.run(["unzip", "-q", str(zipped.path), "-d", str(tmp_path / "unz")], check=True)
        link = tmp_path / "unz" / "b" / "lib" / "libx.so"
        assert link.is_symlink() and os.readlink(link) == "libx.so.1"


def test_image_size_is_the_span_of_the_load_segments(tmp_path) -> None:
    readelf = require_tool("readelf", "apt-get install binutils")
    lib = build_so(tmp_path, "libsmall.so", soname="libsmall.so")
    loads = [line.split() for line in subprocess.run([readelf, "-lW", str(lib)], capture_output=True, text=True,
                                                     check=True).stdout.splitlines() if line.strip().startswith("LOAD")]
    low = min(int(f[2], 16) for f in loads)
    high = max(int(f[2], 16) + int(f[5], 16) for f in loads)
    assert elf_image_size(lib) == high - low > lib.stat().st_size // 2
    (tmp_path / "not-elf").write_bytes(b"MZ" + bytes(100))
    assert elf_image_size(tmp_path / "not-elf") == 0
