"""--force only ever replaces the exact files npuslim wrote, checked again at the moment of replacing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import one_error_line, run
from tests.support import corpus


def _extract(s: dict[str, Path], out: Path, *extra: str):
    return run("extract", str(s["install"]), "-m", str(s["manifest"]), "-o", str(out), *extra)


@pytest.fixture
def made(tmp_path: Path) -> tuple[dict[str, Path], Path]:
    s = corpus.base_sandbox(tmp_path / "box")
    out = tmp_path / "out"
    assert _extract(s, out).exit_code == 0
    return s, out


def test_a_name_that_differs_only_in_case_is_not_ours(made: tuple[dict[str, Path], Path]) -> None:
    s, out = made
    dll = next((out / "bin").glob("*.dll"))
    twin = dll.with_name(dll.name.upper())  # on Linux another file; the lock lists only the lower-case one
    twin.write_bytes(b"the user's own file")
    result = _extract(s, out, "--force")
    assert result.exit_code == 7 and "npuslim did not write" in one_error_line(result)
    assert twin.read_bytes() == b"the user's own file" and dll.is_file()


def test_a_file_written_into_out_while_extract_runs_is_never_deleted(made: tuple[dict[str, Path], Path],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import npuslim.act.staging as staging

    s, out = made
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    intruder = out / "include" / "notes.txt"
    real = staging.to_json

    def meanwhile(lock):  # the lock file is written into the staging folder last, just before the move
        intruder.write_text("written by the user while extract ran")
        return real(lock)

    monkeypatch.setattr(staging, "to_json", meanwhile)
    result = _extract(s, out, "--force")
    assert result.exit_code == 7 and "notes.txt" in one_error_line(result)
    assert intruder.read_text() == "written by the user while extract ran"
    after = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    assert after == sorted([*before, "include/notes.txt"])  # the old bundle stays whole, nothing replaced
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_force_still_replaces_a_bundle_that_holds_only_its_own_files(made: tuple[dict[str, Path], Path]) -> None:
    s, out = made
    assert _extract(s, out, "--force").exit_code == 0


def test_a_file_written_into_out_while_pack_runs_is_never_deleted(made: tuple[dict[str, Path], Path],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import npuslim.pipeline.pack as pack_pipeline

    _s, bundle = made
    packed = bundle.parent / "packed"
    assert run("pack", str(bundle), "-o", str(packed), "--archive", "none").exit_code == 0
    intruder = packed / "bin" / "mine.dll"
    real = pack_pipeline.to_json

    def meanwhile(lock):
        intruder.write_bytes(b"the user's")
        return real(lock)

    monkeypatch.setattr(pack_pipeline, "to_json", meanwhile)
    result = run("pack", str(bundle), "-o", str(packed), "--archive", "none", "--force")
    errors = [line for line in result.stderr.splitlines() if line.startswith("npuslim: error:")]  # after step lines
    assert result.exit_code == 7 and len(errors) == 1 and "mine.dll" in errors[0]
    assert intruder.read_bytes() == b"the user's"
