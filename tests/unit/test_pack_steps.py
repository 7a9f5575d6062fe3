"""process_file and cached_step with a fake shrinker: what runs, what is cached, what is recorded."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

from npuslim.act.pack import process_file
from npuslim.act.steps import (
    Attempt,
    Job,
    PackContext,
    PackOptions,
    PackStatus,
    Shrink,
    StepEntry,
    StripEntry,
    UpxDecision,
    UpxEntry,
)
from npuslim.act.upx import UpxTool
from npuslim.act.workcache import make_key, open_cache, sha256_bytes
from npuslim.formats.lock import LockedFile, PackRecord
from npuslim.formats.pe import PeInfo
from npuslim.layout import Role

DATA = b"MZ" + bytes(range(200))
INFO = PeInfo(path=Path("a.dll"), size=len(DATA), machine="x64", is_dll=True, imports=(), delay_imports=(),
              cfg=False, signature="none", signature_size=0, has_debug=True, coff_symbols=0, upx_packed=False,
              file_version=None, product_version=None)


class FakeShrinker:
    """Strip drops the last 10 bytes; UPX is cut short (``interrupted``) or refuses."""

    def __init__(self, *, upx_cut_short: bool) -> None:
        self.calls: list[str] = []
        self.upx_cut_short = upx_cut_short

    def read(self, path: Path) -> PeInfo:
        return replace(INFO, path=path)

    def strip_key(self, job: Job, ctx: PackContext) -> str:
        return make_key("fake-strip", job.locked.sha256)

    def strip(self, job: Job, ctx: PackContext, src: Path, work: Path) -> Attempt:
        self.calls.append("strip")
        data = src.read_bytes()[:-10]
        work.write_bytes(data)
        return Attempt(StripEntry(Shrink.STRIPPED, f"{job.locked.size} -> {len(data)} bytes", len(data), 0.0,
                                  sha256_bytes(data)))

    def strip_message(self, entry: StepEntry) -> str | None:
        return entry.message

    def upx_key(self, job: Job, ctx: PackContext, sha: str) -> str:
        return make_key("fake-upx", sha)

    def upx(self, job: Job, ctx: PackContext, src: Path, work: Path) -> Attempt:
        self.calls.append("upx")
        if self.upx_cut_short:
            return Attempt(UpxEntry(Shrink.FAILED, "did not finish", src.stat().st_size, 0.5, None), True)
        return Attempt(UpxEntry(Shrink.REFUSED, "UPX: CantPackException", src.stat().st_size, 0.25, None))

    def final(self, job: Job, ctx: PackContext, dest: Path, sha: str, record: PackRecord, *,
              stripped: StepEntry | None, upx: PackStatus) -> LockedFile:
        return replace(job.locked, size=dest.stat().st_size, sha256=sha, pack=record)


def _run(tmp_path: Path, shrinker: FakeShrinker, name: str) -> tuple[LockedFile, float | None, PackContext]:
    bundle = tmp_path / "bundle"
    (bundle / "bin").mkdir(parents=True, exist_ok=True)
    (bundle / "bin" / "a.dll").write_bytes(DATA)
    staging = tmp_path / name
    (staging / "bin").mkdir(parents=True)
    (staging / "work").mkdir()
    locked = LockedFile("bin/a.dll", Role.ROOT, len(DATA), sha256_bytes(DATA), "root", ("a.dll",))
    ctx = PackContext(bundle, staging, staging / "work", PackOptions(strip=True, upx=True),
                      UpxTool(Path("/no/upx"), (4, 2, 2), "4.2.2"), "fake", open_cache(tmp_path / "cache"), None,
                      threading.Event())
    new, seconds = process_file(Job(locked, INFO, UpxDecision(None)), ctx, shrinker)
    return new, seconds, ctx


def test_a_rerun_takes_strip_from_the_cache_and_a_cut_short_upx_is_never_cached(tmp_path: Path) -> None:
    shrinker = FakeShrinker(upx_cut_short=True)
    first, seconds, ctx = _run(tmp_path, shrinker, "one")
    assert shrinker.calls == ["strip", "upx"] and seconds == 0.5
    assert (tmp_path / "one" / "bin" / "a.dll").read_bytes() == DATA[:-10]
    assert first.sha256 == sha256_bytes(DATA[:-10]) and first.size == len(DATA) - 10
    assert first.pack is not None and (first.pack.after_strip, first.pack.stripped) == (len(DATA) - 10, True)
    assert (first.pack.upx, first.pack.upx_skipped) == (PackStatus.FAILED, "did not finish")
    assert ctx.strip_messages == {"bin/a.dll": f"{len(DATA)} -> {len(DATA) - 10} bytes"}
    second, _, ctx2 = _run(tmp_path, shrinker, "two")
    assert shrinker.calls == ["strip", "upx", "upx"]  # strip came from the cache, UPX ran again
    assert second == first and (ctx2.cache.hits, ctx2.cache.misses) == (1, 1)
    assert (tmp_path / "two" / "bin" / "a.dll").read_bytes() == DATA[:-10]


def test_a_refusal_is_cached_and_recorded_with_upx_s_message(tmp_path: Path) -> None:
    shrinker = FakeShrinker(upx_cut_short=False)
    first, _, _ = _run(tmp_path, shrinker, "one")
    second, seconds, ctx = _run(tmp_path, shrinker, "two")
    assert shrinker.calls == ["strip", "upx"] and (ctx.cache.hits, ctx.cache.misses) == (2, 0)
    assert second == first and seconds == 0.25  # UPX's time as first measured, from the cache
    assert second.pack is not None and (second.pack.upx, second.pack.upx_skipped) == (PackStatus.REFUSED,
                                                                                       "UPX: CantPackException")
