"""The content-addressed cache of tests/support/mingw.py: a rerun compiles nothing, a change compiles again."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import mingw
from tests.support.mingw import Import, build_dll

pytestmark = pytest.mark.mingw


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """A private test cache, and every dlltool / gcc command build_dll starts."""
    monkeypatch.setenv("NPUSLIM_TEST_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("NPUSLIM_TEST_MINGW_CACHE", raising=False)
    started: list[list[str]] = []
    real = mingw._run

    def recording(cmd: list[str], cwd: Path) -> None:
        started.append(cmd)
        real(cmd, cwd)

    monkeypatch.setattr(mingw, "_run", recording)
    return started


def test_a_rebuild_is_a_copy_from_the_cache(tmp_path: Path, runs: list[list[str]]) -> None:
    first = build_dll(tmp_path / "one", "a.dll", imports=(Import("b.dll", "b"), Import("lazy.dll", "lazy", delay=True)))
    assert len(runs) == 3  # two import libraries, one compile
    entries = sorted((tmp_path / "cache" / "mingw").iterdir())
    assert [p.suffix for p in entries] == [".dll"]  # one entry, no temporary file left behind
    again = build_dll(tmp_path / "two", "a.dll", imports=(Import("b.dll", "b"), Import("lazy.dll", "lazy", delay=True)))
    assert len(runs) == 3 and again.read_bytes() == first.read_bytes() == entries[0].read_bytes()
    assert not (tmp_path / "two" / ".build-a").exists()


def test_what_the_dll_depends_on_is_in_the_key(tmp_path: Path, runs: list[list[str]],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    build_dll(tmp_path / "base", "a.dll")
    compiles = 1
    variants = [
        lambda f: build_dll(f, "b.dll"),                                    # another name
        lambda f: build_dll(f, "a.dll", exports="other"),                   # another source
        lambda f: build_dll(f, "a.dll", extra_source="int x;"),
        lambda f: build_dll(f, "a.dll", imports=(Import("c.dll", "c"),)),   # an import
        lambda f: build_dll(f, "a.dll", imports=(Import("c.dll", "c", delay=True),)),
        lambda f: build_dll(f, "a.dll", machine="x86"),                     # another compiler
    ]
    for i, build in enumerate(variants):
        before = len(runs)
        build(tmp_path / f"v{i}")
        assert len(runs) > before, f"variant {i} was taken from the cache"
        compiles += 1
    real_version = mingw.tool_version
    monkeypatch.setattr(mingw, "tool_version",  # a new gcc, the same dlltool
                        lambda path: "gcc 99.0" if path.endswith("-gcc") else real_version(path))
    before = len(runs)
    build_dll(tmp_path / "newgcc", "a.dll")
    assert len(runs) == before + 1
    assert len(list((tmp_path / "cache" / "mingw").iterdir())) == compiles + 1


def test_the_cache_can_be_turned_off(tmp_path: Path, runs: list[list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPUSLIM_TEST_MINGW_CACHE", "0")
    build_dll(tmp_path / "one", "a.dll")
    build_dll(tmp_path / "two", "a.dll")
    assert len(runs) == 2 and not (tmp_path / "cache").exists()
