"""The pack cache's entries: frozen dataclasses with a version, read back whole or not at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from npuslim.act.pack import SHRINKERS, XzEntry
from npuslim.act.pack_elf import ElfShrinker
from npuslim.act.pack_pe import PeShrinker
from npuslim.act.steps import Shrink, StepEntry, StripEntry, UpxEntry
from npuslim.act.workcache import WorkCache, make_key, open_cache
from npuslim.platforms import Platform

SHA = "a" * 64


def _stored(cache: WorkCache, key: str, data: object) -> Path:
    assert cache.root is not None
    path = cache.root / "entries" / key[:2] / f"{key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_an_entry_round_trips_with_its_version_and_its_blob(tmp_path: Path) -> None:
    cache = open_cache(tmp_path / "c")
    sha = cache.put_blob_bytes(b"packed bytes")
    entry = UpxEntry(Shrink.PACKED, "UPX packed", 12, 1.5, sha)
    cache.store("k" * 64, entry)
    stored = json.loads(next((tmp_path / "c" / "entries").rglob("*.json")).read_text())
    assert stored == {"version": 1, "outcome": "packed", "message": "UPX packed", "size": 12, "seconds": 1.5,
                      "blob": sha, "signature_removed": False}
    found = cache.load("k" * 64, UpxEntry)
    assert found == (entry, cache.blob_path(sha)) and type(found[0].outcome) is Shrink
    cache.store("x" * 64, XzEntry(7))
    assert cache.load("x" * 64, XzEntry) == (XzEntry(7), None)
    assert (cache.hits, cache.misses) == (2, 0)


GOOD = {"version": 1, "outcome": "kept", "message": "nothing to gain", "size": 10, "seconds": 0.0, "blob": None,
        "signature_removed": False}


@pytest.mark.parametrize("damage", [
    pytest.param(lambda d: d.pop("size"), id="missing field"),
    pytest.param(lambda d: d.pop("version"), id="no version"),
    pytest.param(lambda d: d.update(version=2), id="another version"),
    pytest.param(lambda d: d.update(version="1"), id="version as text"),
    pytest.param(lambda d: d.update(version=True), id="version as bool"),
    pytest.param(lambda d: d.update(extra=1), id="unknown field"),
    pytest.param(lambda d: d.update(outcome="shrunk"), id="unknown outcome"),
    pytest.param(lambda d: d.update(outcome="packed"), id="an outcome strip never has"),
    pytest.param(lambda d: d.update(outcome=None), id="outcome null"),
    pytest.param(lambda d: d.update(size="10"), id="size as text"),
    pytest.param(lambda d: d.update(size=True), id="size as bool"),
    pytest.param(lambda d: d.update(size=-1), id="negative size"),
    pytest.param(lambda d: d.update(size=1.5), id="size as float"),
    pytest.param(lambda d: d.update(seconds="0"), id="seconds as text"),
    pytest.param(lambda d: d.update(message=None), id="message null"),
    pytest.param(lambda d: d.update(signature_removed=0), id="flag as int"),
    pytest.param(lambda d: d.update(blob=5), id="blob as int"),
    pytest.param(lambda d: d.update(blob="b" * 64), id="kept yet a blob"),
    pytest.param(lambda d: d.update(outcome="stripped"), id="stripped without a blob"),
    pytest.param(lambda d: d.update(outcome="stripped", blob="c" * 64), id="blob not in the cache"),
    pytest.param(lambda d: d.update(outcome="stripped", blob="short"), id="blob not a sha256"),
    pytest.param(lambda d: d.clear(), id="empty object"),
])
def test_a_damaged_entry_of_any_kind_is_a_miss_and_is_replaced(tmp_path: Path, damage) -> None:
    cache = open_cache(tmp_path / "c")
    key = make_key("strip", "test", SHA)
    assert cache.load(key, StripEntry) is None  # absent
    data = dict(GOOD)
    damage(data)
    _stored(cache, key, data)
    assert cache.load(key, StripEntry) is None
    assert (cache.hits, cache.misses) == (0, 2)
    cache.store(key, StripEntry(Shrink.KEPT, "nothing to gain", 10, 0.0, None))
    assert cache.load(key, StripEntry) == (StripEntry(Shrink.KEPT, "nothing to gain", 10, 0.0, None), None)


@pytest.mark.parametrize("text", ["", "not json", "[]", "null", "3", '"text"', '{"xz": 5}', '{"version": 1}',
                                  '{"version": 1, "xz": "5"}', '{"version": 1, "xz": null}'])
def test_an_unreadable_or_odd_file_is_a_miss(tmp_path: Path, text: str) -> None:
    cache = open_cache(tmp_path / "c")
    key = make_key("xz-size", 9, SHA)
    path = _stored(cache, key, None)
    path.write_text(text, encoding="utf-8")
    assert cache.load(key, XzEntry) is None and cache.misses == 1


def test_entries_refuse_what_their_step_cannot_have() -> None:
    with pytest.raises(ValueError):
        UpxEntry(Shrink.STRIPPED, "", 1, 0.0, SHA)
    with pytest.raises(ValueError):
        StripEntry(Shrink.PACKED, "", 1, 0.0, SHA)
    with pytest.raises(ValueError):
        StepEntry(Shrink.PACKED, "", 1, 0.0, None)  # a changed file always has its blob
    assert Shrink.PACKED.changed and not Shrink.KEPT.changed
    assert {s for s in Shrink if s.interrupted} == {Shrink.TIMED_OUT, Shrink.STOPPED}


def test_a_disabled_cache_never_loads() -> None:
    assert WorkCache(None).load("k" * 64, XzEntry) is None


def test_every_platform_has_its_shrinker() -> None:
    assert set(SHRINKERS) == set(Platform)
    assert isinstance(SHRINKERS[Platform.WINDOWS], PeShrinker) and isinstance(SHRINKERS[Platform.LINUX], ElfShrinker)
