"""pack's inputs checked as they are read: a bundle file that is not what its lock file says, and
cache blobs that are not what their names say, never reach OUT or the cache."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from npuslim.act.pack import process_file
from npuslim.act.steps import Job, PackContext, PackOptions, UpxDecision
from npuslim.act.upx import UpxTool
from npuslim.act.workcache import open_cache, sha256_bytes
from npuslim.errors import VerifyError
from npuslim.formats.lock import LockedFile
from npuslim.layout import Role
from tests.unit.test_pack_steps import DATA, INFO, FakeShrinker


def _ctx(tmp_path: Path, on_disk: bytes) -> tuple[PackContext, Job]:
    bundle = tmp_path / "bundle"
    (bundle / "bin").mkdir(parents=True, exist_ok=True)
    (bundle / "bin" / "a.dll").write_bytes(on_disk)
    staging = tmp_path / "staging"
    (staging / "bin").mkdir(parents=True)
    (staging / "work").mkdir()
    locked = LockedFile("bin/a.dll", Role.ROOT, len(DATA), sha256_bytes(DATA), "root", ("a.dll",))
    ctx = PackContext(bundle, staging, staging / "work", PackOptions(strip=True, upx=True),
                      UpxTool(Path("/no/upx"), (4, 2, 2), "4.2.2"), "fake", open_cache(tmp_path / "cache"), None,
                      threading.Event())
    return ctx, Job(locked, INFO, UpxDecision(None))


@pytest.mark.parametrize("on_disk", [DATA[:-1] + b"\x00", DATA + b"x", DATA[:50]],
                         ids=["one-byte", "longer", "shorter"])
def test_a_file_that_is_not_what_the_lock_says_is_refused_before_any_step(tmp_path: Path, on_disk: bytes) -> None:
    ctx, job = _ctx(tmp_path, on_disk)
    shrinker = FakeShrinker(upx_cut_short=False)
    with pytest.raises(VerifyError, match="changed since it was verified"):
        process_file(job, ctx, shrinker)
    assert shrinker.calls == []
    assert not (ctx.staging / "bin" / "a.dll").exists()
    assert not list((tmp_path / "cache").rglob("*.json"))  # nothing cached under the lock's sha256


def test_the_steps_work_on_the_bytes_hashed_not_on_the_bundle_file(tmp_path: Path) -> None:
    """The file is read once into a private copy; a later change of the bundle file does not reach OUT."""
    ctx, job = _ctx(tmp_path, DATA)
    shrinker = FakeShrinker(upx_cut_short=False)
    real_strip = shrinker.strip

    def strip_then_change(job, ctx, src, work):
        (ctx.bundle / "bin" / "a.dll").write_bytes(b"MZ changed")  # the bundle file changes mid-step
        return real_strip(job, ctx, src, work)

    shrinker.strip = strip_then_change  # type: ignore[method-assign]
    new, _ = process_file(job, ctx, shrinker)
    assert (ctx.staging / "bin" / "a.dll").read_bytes() == DATA[:-10]
    assert new.sha256 == sha256_bytes(DATA[:-10])


def test_a_damaged_blob_is_a_miss_and_a_fetched_blob_is_a_private_checked_copy(tmp_path: Path) -> None:
    cache = open_cache(tmp_path / "cache")
    sha = cache.put_blob_bytes(b"payload")
    fetched = cache.fetch_blob(sha, tmp_path / "copy")
    assert fetched == tmp_path / "copy" and fetched.read_bytes() == b"payload"
    blob = tmp_path / "cache" / "blobs" / sha[:2] / sha
    blob.write_bytes(b"paylOad")
    assert cache.fetch_blob(sha, tmp_path / "copy2") is None
    assert not (tmp_path / "copy2").exists()


@pytest.mark.parametrize("fmt", ["zip", "tar.xz"])
@pytest.mark.parametrize("field", ["crc", "compressed", "blob"])
def test_a_member_entry_with_any_field_changed_is_a_miss(tmp_path: Path, fmt: str, field: str) -> None:
    """A bit flipped in a cached member's ``crc`` gave exit 0 and a zip that failed its CRC check."""
    import json
    import tarfile
    import zipfile
    from concurrent.futures import ThreadPoolExecutor

    from npuslim.act.archive import Member, write_archive
    from npuslim.act.workcache import sha256_path

    (tmp_path / "b").mkdir()
    members = []
    for name, data in {"a.dll": b"MZ" + bytes(range(256)) * 40, "other.dll": b"MZ other" * 300}.items():
        (tmp_path / "b" / name).write_bytes(data)
        members.append(Member(name, tmp_path / "b" / name, sha256_path(tmp_path / "b" / name), len(data)))

    def archive(i: int) -> Path:
        (tmp_path / f"w{i}").mkdir()
        with ThreadPoolExecutor(1) as pool:
            # per-member entries (zip, and tar.xz per file); a solid tar.xz is one entry, checked below
            return write_archive(members, fmt, tmp_path / f"{i}.{fmt}", top="top", work=tmp_path / f"w{i}",
                                 cache=open_cache(tmp_path / "cache"), pool=pool, solid=False).path

    first = archive(0)
    entries = sorted((tmp_path / "cache" / "entries").rglob("*.json"))
    blobs = {json.loads(e.read_text())["blob"]: e for e in entries}
    entry = entries[0]
    data = json.loads(entry.read_text())
    other_blob = next(b for b in blobs if b != data["blob"])
    data[field] = {"crc": data["crc"] ^ 1, "compressed": data["compressed"] + 1, "blob": other_blob}[field]
    entry.write_text(json.dumps(data))
    second = archive(1)
    assert second.read_bytes() == first.read_bytes()
    if fmt == "zip":
        with zipfile.ZipFile(second) as zf:
            assert zf.testzip() is None
    else:
        with tarfile.open(second, "r:xz") as tf:
            assert [m.name for m in tf.getmembers()] == ["top", "top/a.dll", "top/other.dll"]


def test_a_solid_archive_from_the_cache_is_the_bytes_hashed(tmp_path: Path) -> None:
    """A solid tar.xz is cached whole: a blob changed in the cache is a miss, never shipped."""
    import tarfile
    from concurrent.futures import ThreadPoolExecutor

    from npuslim.act.archive import Member, write_archive
    from npuslim.act.workcache import sha256_path

    (tmp_path / "b").mkdir()
    members = []
    for name, data in {"a.dll": b"MZ" + bytes(range(256)) * 40, "b.h": b"// header\n" * 50}.items():
        (tmp_path / "b" / name).write_bytes(data)
        members.append(Member(name, tmp_path / "b" / name, sha256_path(tmp_path / "b" / name), len(data)))

    def archive(i: int) -> Path:
        (tmp_path / f"w{i}").mkdir()
        with ThreadPoolExecutor(1) as pool:
            return write_archive(members, "tar.xz", tmp_path / f"{i}.tar.xz", top="top", work=tmp_path / f"w{i}",
                                 cache=open_cache(tmp_path / "cache"), pool=pool).path

    first = archive(0)
    blobs = [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and p.stat().st_size == first.stat().st_size]
    assert blobs, "the solid archive is cached whole"
    for blob in blobs:
        damaged = bytearray(blob.read_bytes())
        damaged[len(damaged) // 2] ^= 0xFF
        blob.write_bytes(bytes(damaged))
    second = archive(1)
    assert second.read_bytes() == first.read_bytes()
    with tarfile.open(second, "r:xz") as tf:
        assert sorted(m.name for m in tf.getmembers() if m.isfile()) == ["top/a.dll", "top/b.h"]
