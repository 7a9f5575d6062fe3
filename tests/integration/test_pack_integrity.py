"""``pack`` on inputs that lie: PE headers whose directories point nowhere (strip says so in one
line, exit 4), a bundle file changed after it was verified, a damaged cache entry, and bundle code
that must not run while packing."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pefile
import pytest

from npuslim.act.strip import changed_outside_edits, strip_pe
from npuslim.errors import InputError
from tests.cli_helpers import run
from tests.support.mingw import build_dll
from tests.support.tools import require_tool

SECURITY, DEBUG = 4, 6
HUGE = 0xFFFFFFF0

pytestmark = [pytest.mark.mingw]


@pytest.fixture(scope="module")
def leaf(tmp_path_factory) -> Path:
    return build_dll(tmp_path_factory.mktemp("mingw") / "src", "leaf.dll")


def error_line(result) -> str:
    """The one error line of a failed run (the progress lines before it aside), and no traceback."""
    assert "Traceback" not in result.stderr + result.stdout
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("npuslim: error: ")]
    assert len(errors) == 1 and result.stderr.rstrip().endswith(errors[0]), result.stderr
    return errors[0]


def _mutated(dll: Path, *, directory: int | None = None, where: int = 0, size: int = 0,
             symbols: int | None = None) -> bytes:
    """``dll``'s bytes with one data directory entry (offset/RVA and size) or the COFF symbol table
    pointer set to the given values."""
    data = bytearray(dll.read_bytes())
    pe = pefile.PE(data=bytes(data), fast_load=True)
    if directory is not None:
        entry = pe.OPTIONAL_HEADER.DATA_DIRECTORY[directory]
        struct.pack_into("<II", data, entry.get_file_offset(), where, size)
    if symbols is not None:
        struct.pack_into("<I", data, pe.FILE_HEADER.get_field_absolute_offset("PointerToSymbolTable"), symbols)
    return bytes(data)


def _cases(dll: Path) -> dict[str, bytes]:
    pe = pefile.PE(str(dll), fast_load=True)
    headers = pe.OPTIONAL_HEADER.SizeOfHeaders
    end = dll.stat().st_size
    rdata = next(s for s in pe.sections if s.Name.startswith(b".rdata"))
    cases: dict[str, bytes] = {}
    for name, (where, size) in {"0": (0, 16), "0-huge": (0, HUGE), "in-headers": (64, 512),
                                "in-sections": (rdata.PointerToRawData, 64), "at-end": (end, 16),
                                "past-end": (end + 4096, 16), "huge": (HUGE, HUGE),
                                "last-bytes": (end - 8, 4096)}.items():
        cases[f"security-{name}"] = _mutated(dll, directory=SECURITY, where=where, size=size)
    for name, (rva, size) in {"0": (0, 28), "0-huge": (0, HUGE), "headers": (64, 28),
                              "rdata": (rdata.VirtualAddress, 28 * 3), "rdata-huge": (rdata.VirtualAddress, HUGE),
                              "past-image": (HUGE, 28), "odd-size": (rdata.VirtualAddress, 5)}.items():
        cases[f"debug-{name}"] = _mutated(dll, directory=DEBUG, where=rva, size=size)
    for name, where in {"0": 0, "headers": 64, "inside": headers + 8, "past-end": end + 10, "huge": HUGE}.items():
        cases[f"symbols-{name}"] = _mutated(dll, symbols=where)
    return cases


def test_strip_takes_every_mutated_header_or_refuses_it_in_one_line(leaf: Path, tmp_path: Path) -> None:
    refused = []
    for name, data in _cases(leaf).items():
        path = tmp_path / f"{name}.dll"
        path.write_bytes(data)
        try:
            result = strip_pe(path)
        except InputError as exc:
            message = str(exc)
            assert "\n" not in message and message.startswith(str(path)), (name, message)
            refused.append(name)
            continue
        assert len(result.data) >= pefile.PE(data=data, fast_load=True).OPTIONAL_HEADER.SizeOfHeaders, name
        assert changed_outside_edits(data, result) is None, name
        pefile.PE(data=bytes(result.data))  # still a PE file
    assert {"security-0", "security-in-headers", "security-in-sections"} <= set(refused), refused


def test_pack_strip_of_a_security_directory_at_offset_0_is_exit_4(leaf: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "src"
    src.mkdir()
    (src / "leaf.dll").write_bytes(_mutated(leaf, directory=SECURITY, where=0, size=16))
    bundle = tmp_path / "B"
    extracted = run("extract", str(src), "--root", "leaf.dll", "-o", str(bundle))
    assert extracted.exit_code == 0, extracted.stderr
    out = tmp_path / "OUT"
    result = run("pack", str(bundle), "-o", str(out), "--strip", "--archive", "zip")
    assert result.exit_code == 4, result.stderr
    assert "security directory" in error_line(result)
    assert not out.exists() and not (tmp_path / "OUT.zip").exists() and not list(tmp_path.glob(".OUT*"))


def test_a_upx_variable_in_the_environment_does_not_reach_upx(leaf: Path, tmp_path: Path) -> None:
    """UPX reads ``UPX`` as its own options: ``UPX=--bogus`` failed every run, and pack said exit 0."""
    require_tool("upx", "apt-get install upx-ucl (UPX 4)")
    bundle = tmp_path / "B"
    assert run("extract", str(leaf.parent), "--root", "leaf.dll", "-o", str(bundle)).exit_code == 0
    env = {"UPX": "--bogus", "NPUSLIM_CACHE_DIR": str(tmp_path / "cache")}
    result = run("pack", str(bundle), "-o", str(tmp_path / "OUT"), "--upx", "--archive", "none",
                 "--format", "json", env=env)
    assert result.exit_code == 0, result.stderr
    rows = {f["path"]: f for f in json.loads(result.stdout)["files"]}
    assert rows["bin/leaf.dll"]["upx"] == "packed", rows["bin/leaf.dll"]


@pytest.fixture
def leaf_bundle(leaf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "src"
    src.mkdir()
    shutil.copyfile(leaf, src / "leaf.dll")
    bundle = tmp_path / "B"
    assert run("extract", str(src), "--root", "leaf.dll", "-o", str(bundle)).exit_code == 0
    return bundle


def _changing_after_verify(monkeypatch: pytest.MonkeyPatch, path: Path, data: bytes) -> None:
    """Write ``data`` into ``path`` right after pack has verified the bundle (a file changed mid-run)."""
    import npuslim.pipeline.pack as pipeline

    verified = pipeline._verified_lock

    def then_change(*args, **kwargs):
        lock = verified(*args, **kwargs)
        path.write_bytes(data)
        return lock
    monkeypatch.setattr(pipeline, "_verified_lock", then_change)


@pytest.mark.parametrize("strip", [["--strip"], []])
def test_a_file_changed_after_verify_is_refused_and_never_cached(leaf_bundle: Path, tmp_path: Path,
                                                                strip: list[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """pack used to strip the bytes it read later, file them under the lock's sha256, and ship them."""
    bundle, rel = leaf_bundle, "bin/leaf.dll"
    pristine = (bundle / rel).read_bytes()
    changed = bytearray(pristine)
    changed[len(changed) // 2] ^= 0x55
    with monkeypatch.context() as m:
        _changing_after_verify(m, bundle / rel, bytes(changed))
        result = run("pack", str(bundle), "-o", str(tmp_path / "OUT"), *strip, "--archive", "zip")
    assert result.exit_code == 5, result.stderr
    assert "changed since it was verified" in error_line(result)
    assert not (tmp_path / "OUT").exists() and not (tmp_path / "OUT.zip").exists()
    (bundle / rel).write_bytes(pristine)
    # the pristine bundle, through the same cache, packs exactly as with no cache at all
    cached = run("pack", str(bundle), "-o", str(tmp_path / "OUT"), *strip, "--archive", "none")
    fresh = run("pack", str(bundle), "-o", str(tmp_path / "FRESH"), *strip, "--archive", "none", "--no-cache")
    assert cached.exit_code == 0 and fresh.exit_code == 0, cached.stderr + fresh.stderr
    assert ((tmp_path / "OUT" / "bin/leaf.dll").read_bytes()
            == (tmp_path / "FRESH" / "bin/leaf.dll").read_bytes())
    assert run("verify", str(tmp_path / "OUT")).exit_code == 0
