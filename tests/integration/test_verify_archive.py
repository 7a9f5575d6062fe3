"""``verify`` on a pack output checks its archive too: every member's name, size and sha256
against the lock file, whether the archive sits beside the bundle or is named with --archive.

Each kind of damage is made on a real pack output of mingw DLLs (zip and tar.xz): a member
changed (rewritten archive, valid), a byte flipped in a member's compressed data, a member
removed, one added, the archive truncated.
"""

from __future__ import annotations

import io
import json
import lzma
import shutil
import tarfile
import zipfile
from pathlib import Path

import jsonschema
import pytest

from tests.cli_helpers import run
from tests.support.mingw import Import, build_dll

pytestmark = [pytest.mark.mingw]

REPO = Path(__file__).resolve().parents[2]
VERIFY_SCHEMA = json.loads((REPO / "npuslim" / "schemas" / "verify.schema.json").read_text())


@pytest.fixture(scope="module")
def packed(tmp_path_factory) -> dict[str, Path]:
    """One bundle packed twice: ``bundle.packed`` with ``bundle.packed.zip`` beside it, and the same
    as tar.xz written with --archive-path (returned by format)."""
    root = tmp_path_factory.mktemp("archive")
    src = root / "src"
    build_dll(src, "leaf.dll")
    build_dll(src, "app.dll", imports=(Import("leaf.dll", "leaf"),))
    bundle = root / "bundle"
    assert run("extract", str(src), "--root", "app.dll", "-o", str(bundle)).exit_code == 0
    assert run("pack", str(bundle), "--strip", "--archive", "zip", "--sbom").exit_code == 0
    txz = root / "elsewhere.tar.xz"
    out = root / "bundle.txz"
    result = run("pack", str(bundle), "--strip", "--archive", "tar.xz", "-o", str(out), "--archive-path", str(txz))
    assert result.exit_code == 0, result.stderr
    return {"zip": root / "bundle.packed", "zip-archive": root / "bundle.packed.zip",
            "tar.xz": out, "tar.xz-archive": txz}


@pytest.fixture
def copy(packed: dict[str, Path], tmp_path: Path):
    """A private copy of a packed bundle and its archive (beside it for zip), by format."""
    def make(fmt: str) -> tuple[Path, Path]:
        bundle = tmp_path / "b.packed"
        shutil.copytree(packed[fmt], bundle)
        archive = tmp_path / ("b.packed.zip" if fmt == "zip" else "b.tar.xz")
        shutil.copyfile(packed[f"{fmt}-archive"], archive)
        return bundle, archive
    return make


def _verify(bundle: Path, archive: Path | None = None) -> tuple[int, dict, str]:
    extra = ["--archive", str(archive)] if archive is not None else []
    result = run("verify", str(bundle), "--format", "json", *extra)
    data = json.loads(result.stdout)
    jsonschema.validate(data, VERIFY_SCHEMA)
    return result.exit_code, data, result.stderr


def _problems(data: dict) -> list[tuple[str, str]]:
    return [(p["kind"], p["path"]) for p in data["problems"]]


def _members(archive: Path, fmt: str) -> dict[str, tuple[bytes, tarfile.TarInfo | zipfile.ZipInfo]]:
    if fmt == "zip":
        with zipfile.ZipFile(archive) as zf:
            return {i.filename: (zf.read(i), i) for i in zf.infolist()}
    with tarfile.open(archive, "r:xz") as tf:
        return {m.name: ((tf.extractfile(m).read() if m.isfile() else b""), m) for m in tf}  # type: ignore[union-attr]


def _rewrite(archive: Path, fmt: str, change) -> None:
    """Rewrite ``archive`` as a valid archive of the same format with ``change(members)`` applied."""
    members = _members(archive, fmt)
    change(members)
    if fmt == "zip":
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, (data, info) in members.items():
                zf.writestr(info if isinstance(info, zipfile.ZipInfo) else name, data)
        return
    with tarfile.open(archive, "w:xz") as tf:
        for data, info in members.values():
            assert isinstance(info, tarfile.TarInfo)
            info.size = len(data) if info.isfile() else 0
            tf.addfile(info, io.BytesIO(data) if info.isfile() else None)


def test_the_archive_beside_a_packed_bundle_is_checked(copy) -> None:
    bundle, archive = copy("zip")
    code, data, _ = _verify(bundle)
    assert code == 0, data["problems"]
    # app.dll, leaf.dll, the lock file and the SBOM
    assert data["archive"] == {"path": str(archive.absolute()), "format": "zip", "members_checked": 4}
    text = run("verify", str(bundle))
    assert "b.packed.zip (zip): 4 members match the lock file" in " ".join(text.stdout.split())


def test_an_archive_written_elsewhere_is_checked_when_named(copy) -> None:
    bundle, archive = copy("tar.xz")
    code, data, _ = _verify(bundle)
    assert code == 0 and data["archive"] is None  # not beside the bundle: nothing to check
    code, data, _ = _verify(bundle, archive)
    assert code == 0, data["problems"]
    assert data["archive"]["format"] == "tar.xz" and data["archive"]["members_checked"] == 3


def test_a_named_archive_that_does_not_exist_is_an_input_error(copy, tmp_path) -> None:
    bundle, _ = copy("zip")
    result = run("verify", str(bundle), "--archive", str(tmp_path / "nope.zip"))
    assert result.exit_code == 4
    assert "nope.zip: no such archive" in result.stderr


@pytest.mark.parametrize("fmt", ["zip", "tar.xz"])
def test_a_changed_member_is_named(copy, fmt: str) -> None:
    bundle, archive = copy(fmt)

    def change(members):
        name = next(n for n in members if n.endswith("/bin/leaf.dll"))
        data, info = members[name]
        members[name] = (data[:-1] + bytes([data[-1] ^ 1]), info)
    _rewrite(archive, fmt, change)
    code, data, stderr = _verify(bundle, archive)
    assert code == 5
    assert _problems(data) == [("archive-changed", f"{archive.name}:bin/leaf.dll")]
    assert data["problems"][0]["message"].endswith("sha256 differs from the lock file")
    assert stderr.strip().endswith(f"1 file changed in the archive ({archive.name}:bin/leaf.dll)")


@pytest.mark.parametrize("fmt", ["zip", "tar.xz"])
def test_a_removed_and_an_added_member_are_named(copy, fmt: str) -> None:
    bundle, archive = copy(fmt)

    def change(members):
        name = next(n for n in members if n.endswith("/bin/app.dll"))
        data, info = members.pop(name)
        new = name.replace("app.dll", "evil.dll")
        if isinstance(info, zipfile.ZipInfo):
            info = zipfile.ZipInfo(new)
        else:
            info.name = new
        members[new] = (data, info)
    _rewrite(archive, fmt, change)
    code, data, _ = _verify(bundle, archive)
    assert code == 5
    assert sorted(_problems(data)) == [("archive-extra", f"{archive.name}:bin/evil.dll"),
                                       ("archive-missing", f"{archive.name}:bin/app.dll")]


def _flip_in_member(archive: Path, fmt: str) -> None:
    """Flip one byte inside the compressed data of bin/leaf.dll (zip), or of the xz stream holding it."""
    raw = bytearray(archive.read_bytes())
    if fmt == "zip":
        with zipfile.ZipFile(archive) as zf:
            info = next(i for i in zf.infolist() if i.filename.endswith("/bin/leaf.dll"))
        start = info.header_offset + 30 + len(info.filename.encode())
        at = start + info.compress_size // 2
    else:
        at = len(raw) // 2
    raw[at] ^= 0x40
    archive.write_bytes(bytes(raw))


@pytest.mark.parametrize("fmt", ["zip", "tar.xz"])
def test_a_flipped_byte_is_damage_named_where_it_is(copy, fmt: str) -> None:
    bundle, archive = copy(fmt)
    _flip_in_member(archive, fmt)
    code, data, _ = _verify(bundle, archive)
    assert code == 5
    kinds = _problems(data)
    assert len(kinds) == 1 and kinds[0][0] == "archive-damaged", data["problems"]
    message = data["problems"][0]["message"]
    if fmt == "zip":
        assert kinds[0][1] == f"{archive.name}:bin/leaf.dll"
        assert "damaged" in message and ("CRC" in message or "Error -3" in message), message
    else:
        assert kinds[0][1] == archive.name
        assert message.startswith(f"{archive.name}: damaged, unreadable ") and "Corrupt input data" in message


@pytest.mark.parametrize("fmt", ["zip", "tar.xz"])
def test_a_truncated_archive_is_one_problem(copy, fmt: str) -> None:
    bundle, archive = copy(fmt)
    raw = archive.read_bytes()
    archive.write_bytes(raw[: len(raw) - 40])
    code, data, stderr = _verify(bundle, archive)
    assert code == 5
    assert len(data["problems"]) == 1, data["problems"]
    assert data["problems"][0]["kind"] in ("archive-unreadable", "archive-damaged")
    assert "bundle does not verify: 1 file" in stderr


def test_an_unreadable_tar_xz_says_so(copy) -> None:
    bundle, archive = copy("tar.xz")
    archive.write_bytes(lzma.compress(b"not a tar at all" * 10)[:30])
    code, data, _ = _verify(bundle, archive)
    assert code == 5
    assert _problems(data) == [("archive-unreadable", archive.name)]
    assert data["problems"][0]["message"].startswith(f"{archive.name}: not a readable tar.xz archive (")
