"""The closure on odd inputs (issue 21): ELF paths in DT_NEEDED, relative sources and $ORIGIN,
version-needs tables that share entries, names that are not UTF-8.

Every input is crafted byte by byte (``tests/support/elfraw.py``, ``elfcraft.py``): no compiler.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from npuslim.analyse.resolve_elf import PATH_IN_NEEDED, expand_origin
from npuslim.errors import InputError
from npuslim.formats.elf import VERNEED_WORK_PER_BYTE, read_elf, read_version_needs
from tests.cli_helpers import one_error_line, run
from tests.support.elfcraft import build_elf
from tests.support.elfraw import VERNEED, build_raw_elf, plain_needs, shared_chain


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def deps_json(*args: str) -> tuple[int, dict]:
    result = run("deps", *args, "--format", "json", "--no-hints")
    assert "Traceback" not in result.stderr
    return result.exit_code, json.loads(result.stdout)


# ----------------------------------------------------------------- a path in DT_NEEDED


@pytest.mark.parametrize("how", ["absolute", "relative"])
def test_a_path_in_dt_needed_is_missing_and_no_host_file_is_taken(tmp_path: Path, how: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    host = write(tmp_path / "host" / "libz.so.1", build_elf(soname="libz.so.1"))  # stands for /lib/.../libz
    lib = tmp_path / "inst" / "lib"
    monkeypatch.chdir(tmp_path)
    needed = str(host) if how == "absolute" else "host/libz.so.1"
    write(lib / "libroot.so", build_elf((needed,), soname="libroot.so"))
    code, doc = deps_json(str(lib), "--root", "libroot.so")
    assert code == 3
    node = next(n for n in doc["nodes"] if n["name"] == needed)
    assert node["class"] == "missing" and node["path"] is None and node["reason"] == PATH_IN_NEEDED
    assert doc["summary"]["bundled_files"] == 1
    result = run("extract", str(lib), "--root", "libroot.so", "-o", str(tmp_path / "bundle"))
    assert result.exit_code == 3, result.stdout
    assert "libz.so.1" in one_error_line(result)
    assert not any(p.name == "libz.so.1" for p in tmp_path.joinpath("bundle").rglob("*"))


# ----------------------------------------------------------------- $ORIGIN whatever the path's spelling


def test_origin_gives_one_closure_however_the_source_is_written(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    lib = tmp_path / "inst" / "lib"
    write(lib / "libroot.so", build_elf(("libdep.so",), soname="libroot.so", runpath="$ORIGIN/sub"))
    write(lib / "sub" / "libdep.so", build_elf(("libleaf.so",), soname="libdep.so", rpath="${ORIGIN}/../leaf"))
    write(lib / "leaf" / "libleaf.so", build_elf(soname="libleaf.so"))
    answers = []
    for cwd, source in ((tmp_path, str(lib)), (tmp_path, "inst/lib"), (lib / "sub", "../../lib/"),
                        (lib / "leaf", "../sub/../.")):
        monkeypatch.chdir(cwd)
        code, doc = deps_json(source, "--root", "libroot.so")
        assert code == 0, (source, doc["summary"])
        answers.append(doc)
    assert all(a == answers[0] for a in answers[1:])
    by_name = {n["name"]: n for n in answers[0]["nodes"]}
    assert os.path.normpath(by_name["libleaf.so"]["path"]) == str(lib / "leaf" / "libleaf.so")
    assert by_name["libdep.so"]["reason"].endswith("found through DT_RUNPATH $ORIGIN/sub of libroot.so")


def test_origin_is_a_token_only_before_a_slash_or_the_end() -> None:
    assert expand_origin("$ORIGIN", Path("/o")) == Path("/o")
    assert expand_origin("$ORIGIN/x", Path("/o")) == Path("/o/x")
    assert expand_origin("${ORIGIN}x", Path("/o")) == Path("/ox")
    assert expand_origin("$ORIGINAL/x", Path("/o")) is None
    assert expand_origin("$ORIGIN_x", Path("/o")) is None
    assert expand_origin("$ORIGIN/x", Path("rel")) == Path(os.path.abspath("rel")) / "x"


# ----------------------------------------------------------------- version needs: linear in the file


def test_records_sharing_one_aux_chain_are_read_in_linear_work(tmp_path: Path) -> None:
    versions = tuple(f"GLIBC_2.{i}".encode() for i in range(2048))
    path = write(tmp_path / "libshared.so", build_raw_elf((b"libc.so.6",), soname=b"libshared.so",
                                                          verneed=shared_chain(2048, (b"libc.so.6",), versions)))
    walk = read_version_needs(path)
    assert walk.needs == tuple(("libc.so.6", v.decode()) for v in versions)
    assert walk.visited <= path.stat().st_size * VERNEED_WORK_PER_BYTE
    assert read_elf(path).version_needs == walk.needs


def test_records_of_many_libraries_sharing_one_chain_are_refused_as_corrupt(tmp_path: Path) -> None:
    libs = tuple(f"lib{i}.so".encode() for i in range(64))
    versions = tuple(f"V_{i}".encode() for i in range(1024))
    path = write(tmp_path / "libshared.so", build_raw_elf((b"libc.so.6",), soname=b"libshared.so",
                                                          verneed=shared_chain(1024, libs, versions)))
    with pytest.raises(InputError, match="version-needs table lists more entries than a file of"):
        read_version_needs(path)
    result = run("deps", str(tmp_path), "--root", "libshared.so")
    assert result.exit_code == 4
    assert "records share their entries" in one_error_line(result)


def test_a_record_linking_past_the_end_is_truncated_not_a_hang(tmp_path: Path) -> None:
    def far(string):
        return VERNEED.pack(1, 0, string(b"libc.so.6"), 0, 2**32 - 16), 1 << 16

    path = write(tmp_path / "libfar.so", build_raw_elf(soname=b"libfar.so", verneed=far))
    with pytest.raises(InputError, match="truncated ELF file"):
        read_version_needs(path)


def test_a_plain_version_needs_table_reads_as_before(tmp_path: Path) -> None:
    path = write(tmp_path / "libp.so", build_raw_elf((b"libc.so.6", b"libm.so.6"), verneed=plain_needs((
        (b"libc.so.6", (b"GLIBC_2.2.5", b"GLIBC_2.14")), (b"libm.so.6", (b"GLIBC_2.29",))))))
    assert read_elf(path).version_needs == (("libc.so.6", "GLIBC_2.2.5"), ("libc.so.6", "GLIBC_2.14"),
                                            ("libm.so.6", "GLIBC_2.29"))


# ----------------------------------------------------------------- names that are not UTF-8


def test_elf_names_that_are_not_utf8_match_their_files_and_stay_apart(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    write(lib / "libroot.so", build_raw_elf((b"libd\xe9p.so", b"lib\xff\xfe.so", b"lib\xff\xfd.so"),
                                            soname=b"libroot.so"))
    Path(os.fsdecode(bytes(lib) + b"/libd\xe9p.so")).write_bytes(build_raw_elf(soname=b"libd\xe9p.so"))
    code, doc = deps_json(str(lib), "--root", "libroot.so")
    assert code == 3
    nodes = {os.fsencode(n["name"]): n for n in doc["nodes"]}
    assert nodes[b"libd\xe9p.so"]["class"] == "bundled"
    assert os.fsencode(nodes[b"libd\xe9p.so"]["path"]) == bytes(lib) + b"/libd\xe9p.so"
    assert [os.fsencode(n) for n in doc["summary"]["missing"]] == [b"lib\xff\xfe.so", b"lib\xff\xfd.so"]
    result = run("deps", str(lib), "--root", "libroot.so", "--no-hints")
    assert one_error_line(result).endswith(r"missing: lib\udcff\udcfe.so, lib\udcff\udcfd.so")


def test_pe_names_that_are_not_ascii_match_their_files_and_stay_apart(tmp_path: Path) -> None:
    from tests.support.crafted import build_pe

    src = tmp_path / "src"
    write(src / "x.dll", build_pe(("KERNEL32.dll", "d\xe9p.dll", "\xff\xfe.dll", "\xff\xfd.dll", "a\x01.dll")))
    Path(os.fsdecode(bytes(src) + b"/d\xe9p.dll")).write_bytes(build_pe())
    code, doc = deps_json(str(src), "--root", "x.dll")
    assert code == 3
    names = [os.fsencode(n["name"]) for n in doc["nodes"]]
    assert b"*invalid*" not in names
    assert [os.fsencode(n) for n in doc["summary"]["missing"]] == [b"\xff\xfe.dll", b"\xff\xfd.dll", b"a\x01.dll"]
    assert {os.fsencode(n["name"]): n["class"] for n in doc["nodes"]}[b"d\xe9p.dll"] == "bundled"
