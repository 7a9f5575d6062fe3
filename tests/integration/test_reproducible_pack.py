"""The same bundle packed from two folders, with UPX at two paths and two caches, gives byte-identical
archives, and no path of the machine appears in OUT or in the archive."""

from __future__ import annotations

import lzma
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.cli_helpers import run
from tests.support.mingw import build_dll
from tests.support.tools import require_tool

pytestmark = [pytest.mark.mingw]


@pytest.mark.parametrize("fmt", ["zip", "tar.xz"])
def test_two_folders_two_upx_paths_two_caches_one_archive(tmp_path: Path, fmt: str) -> None:
    upx = Path(require_tool("upx", "apt-get install upx-ucl (UPX 4)"))
    build_dll(tmp_path / "src", "leaf.dll")
    first = tmp_path / "one" / "B"
    assert run("extract", str(tmp_path / "src"), "--root", "leaf.dll", "-o", str(first)).exit_code == 0
    second = tmp_path / "elsewhere" / "deeper" / "B"
    shutil.copytree(first, second)
    (tmp_path / "tools").mkdir()
    copied = tmp_path / "tools" / "upx"
    shutil.copy2(upx, copied)
    archives, hosts = [], [str(tmp_path), str(upx.parent), str(Path.home())]
    for bundle, upx_path, cache in ((first, upx, "c1"), (second, copied, "c2")):
        result = run("pack", str(bundle), "-o", str(bundle.parent / "OUT"), "--strip", "--upx", "--upx-path",
                     str(upx_path), "--archive", fmt,
                     env={"NPUSLIM_CACHE_DIR": str(tmp_path / cache), "SOURCE_DATE_EPOCH": "1700000000"})
        assert result.exit_code == 0, result.stderr
        archive = bundle.parent / f"OUT.{fmt}"
        archives.append(archive.read_bytes())
        texts = [p.read_bytes() for p in (bundle.parent / "OUT").rglob("*") if p.is_file()]
        if fmt == "zip":
            with zipfile.ZipFile(archive) as zf:
                assert zf.testzip() is None
                texts += [zf.read(n) for n in zf.namelist()]
        else:
            texts.append(lzma.decompress(archive.read_bytes()))
        for host in hosts:
            assert not any(host.encode() in t for t in texts), host
    assert archives[0] == archives[1]
