"""``deps --exports`` on DLLs built with mingw-w64: named, ordinal-only and forwarded
exports; imports by name, by ordinal and delay-loaded; corrupt tables."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import pefile
import pytest

from npuslim.analyse.exports import export_usage
from npuslim.errors import InputError
from npuslim.formats.pe_tables import read_symbol_tables
from tests.cli_helpers import one_error_line, run
from tests.support.mingw import Import, build_dll
from tests.support.tools import require_tool

pytestmark = pytest.mark.mingw
REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "npuslim" / "schemas" / "exports.schema.json"


def _gcc(cmd: list[str], cwd: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def build_core(folder: Path) -> Path:
    """core.dll: five named functions, one exported by ordinal 10 only, one forwarder."""
    gcc = require_tool("x86_64-w64-mingw32-gcc", "apt-get install gcc-mingw-w64-x86-64-win32")
    work = folder / ".core"
    work.mkdir(parents=True)
    (work / "core.c").write_text("".join(f"int f{i}(void) {{ return {i}; }}\n" for i in range(1, 6))
                                 + "int hidden(void) { return 10; }\n")
    (work / "core.def").write_text("LIBRARY core.dll\nEXPORTS\n" + "".join(f"  f{i}\n" for i in range(1, 6))
                                   + "  hidden @10 NONAME\n  ticks = KERNEL32.GetTickCount\n")
    _gcc([gcc, "-shared", "-O1", "-o", str(folder / "core.dll"), "core.c", "core.def"], work)
    return folder / "core.dll"


def build_user(folder: Path) -> Path:
    """user.dll: imports f1 and f2 by name and ordinal 10 of core.dll."""
    gcc = require_tool("x86_64-w64-mingw32-gcc", "apt-get install gcc-mingw-w64-x86-64-win32")
    dlltool = require_tool("x86_64-w64-mingw32-dlltool", "apt-get install binutils-mingw-w64")
    work = folder / ".user"
    work.mkdir(parents=True)
    (work / "imp.def").write_text("LIBRARY core.dll\nEXPORTS\n  f1\n  f2\n  hidden @10 NONAME\n")
    _gcc([dlltool, "--input-def", "imp.def", "--output-lib", "libcore.a", "--dllname", "core.dll"], work)
    (work / "user.c").write_text(
        "__declspec(dllimport) int f1(void); __declspec(dllimport) int f2(void);\n"
        "__declspec(dllimport) int hidden(void);\n"
        "__declspec(dllexport) int user(void) { return f1() + f2() + hidden(); }\n")
    _gcc([gcc, "-shared", "-O1", "-o", str(folder / "user.dll"), "user.c", "libcore.a"], work)
    return folder / "user.dll"


@pytest.fixture
def install(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    build_core(src)
    build_user(src)
    build_dll(src, "late.dll", imports=(Import("core.dll", "f3", delay=True),))
    return src


def test_the_export_table_is_read_whole(install: Path) -> None:
    table = read_symbol_tables(install / "core.dll")
    named = {e.name: e for e in table.exports if e.name}
    assert table.export_name == "core.dll"
    assert {"f1", "f2", "f3", "f4", "f5", "ticks"} <= set(named)
    assert named["ticks"].forwarder == "KERNEL32.GetTickCount"
    assert [e for e in table.exports if e.name is None] == [e for e in table.exports if e.ordinal == 10]
    # the same table as pefile's full parser
    pe = pefile.PE(str(install / "core.dll"))
    theirs = {(s.ordinal, s.name.decode() if s.name else None) for s in pe.DIRECTORY_ENTRY_EXPORT.symbols}
    pe.close()
    assert {(e.ordinal, e.name) for e in table.exports} == theirs


def test_imports_by_name_ordinal_and_delay_load(install: Path) -> None:
    user = read_symbol_tables(install / "user.dll")
    from_core = {(s.name, s.ordinal) for s in user.imports if s.dll.lower() == "core.dll"}
    assert from_core == {("f1", None), ("f2", None), (None, 10)}
    late = read_symbol_tables(install / "late.dll")
    assert [(s.dll, s.name, s.delay) for s in late.imports if s.dll == "core.dll"] == [("core.dll", "f3", True)]


def test_usage_counts_what_the_others_import(install: Path) -> None:
    report = export_usage((n, install / n) for n in ("user.dll", "late.dll", "core.dll"))
    core = report.get("CORE.DLL")
    assert core is not None
    assert core.exported == 7 and core.named == 6
    assert [(e.name, e.importers) for e in core.used] == [
        (None, ("user.dll",)), ("f1", ("user.dll",)), ("f2", ("user.dll",)), ("f3", ("late.dll",))]
    assert core.used[0].ordinal == 10
    assert core.importers == ("late.dll", "user.dll")
    assert core.unmatched == ()
    assert report.get("user.dll").used_count == 0


def test_an_import_the_exporter_lacks_is_reported_unmatched(install: Path, tmp_path: Path) -> None:
    build_dll(install, "odd.dll", imports=(Import("core.dll", "f9"),))
    report = export_usage((n, install / n) for n in ("odd.dll", "core.dll"))
    core = report.get("core.dll")
    assert [(s.name, s.ordinal) for s in core.unmatched] == [("f9", None)]
    assert core.used_count == 0


def test_cli_json_follows_the_schema(install: Path) -> None:
    import jsonschema

    result = run("deps", str(install), "--root", "user.dll", "--root", "late.dll", "--exports", "-f", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
    dlls = {d["name"]: d for d in doc["dlls"]}
    assert set(dlls) == {"user.dll", "late.dll", "core.dll"}
    assert dlls["core.dll"]["used"] == 4 and dlls["core.dll"]["exported"] == 7
    assert {"name": None, "ordinal": 10, "importers": ["user.dll"]} in dlls["core.dll"]["used_exports"]


def test_cli_table(install: Path) -> None:
    result = run("deps", str(install), "--root", "user.dll", "--exports")
    assert result.exit_code == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if "core.dll" in line)
    assert "7" in row and "3" in row and "42.9 %" in row and "user" in row


def _corrupt_export_directory(src: Path, dst: Path) -> None:
    shutil.copyfile(src, dst)
    pe = pefile.PE(str(dst), fast_load=True)
    entry = pe.OPTIONAL_HEADER.DATA_DIRECTORY[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_EXPORT"]]
    offset = pe.get_offset_from_rva(entry.VirtualAddress)
    pe.close()
    data = bytearray(dst.read_bytes())
    # AddressOfNames (byte 32 of the export directory) far outside the image
    struct.pack_into("<I", data, offset + 32, 0x7FFF0000)
    dst.write_bytes(bytes(data))


def test_a_corrupt_export_table_is_one_clear_error(install: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    shutil.copyfile(install / "user.dll", bad / "user.dll")
    _corrupt_export_directory(install / "core.dll", bad / "core.dll")
    with pytest.raises(InputError, match="core.dll: corrupt PE file"):
        read_symbol_tables(bad / "core.dll")
    result = run("deps", str(bad), "--root", "user.dll", "--exports")
    assert result.exit_code == 4
    assert "core.dll: corrupt PE file" in one_error_line(result)


def test_a_missing_dll_is_named_and_exits_3(install: Path, tmp_path: Path) -> None:
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copyfile(install / "user.dll", lone / "user.dll")
    result = run("deps", str(lone), "--root", "user.dll", "--exports")
    assert result.exit_code == 3
    assert "missing, not counted: core.dll" in result.stdout


def test_the_own_header_reader_agrees_with_pefile(install: Path) -> None:
    """The symbol tables' reader parses the headers itself (npuslim.formats.pe_tables._Image.open):
    on each built DLL it finds what pefile finds (sections, data directories, image base, width)."""
    from npuslim.formats.pe_tables import _opened

    for dll in ("core.dll", "user.dll", "late.dll"):
        pe = pefile.PE(str(install / dll), fast_load=True)
        directories = [(d.VirtualAddress, d.Size) for d in pe.OPTIONAL_HEADER.DATA_DIRECTORY]
        with _opened(install / dll) as img:
            assert img.sections == sorted((s.VirtualAddress, max(s.Misc_VirtualSize, s.SizeOfRawData),
                                           s.PointerToRawData, s.SizeOfRawData) for s in pe.sections)
            assert [img.directory(i) for i in range(len(directories))] == directories
            assert img.directory(len(directories)) == (0, 0)
            assert (img.header_size, img.image_base, img.wide) == (pe.OPTIONAL_HEADER.SizeOfHeaders,
                                                                   pe.OPTIONAL_HEADER.ImageBase, True)
        pe.close()



def test_both_readers_see_the_same_directories_when_their_count_has_the_top_bit_set(install: Path,
                                                                                      tmp_path: Path) -> None:
    """NumberOfRvaAndSizes 0x80000002: pefile (the graph's reader) drops the top bit and sees two
    directories, so the symbol reader must not see late.dll's delay imports (directory 13) either."""
    data = bytearray((install / "late.dll").read_bytes())
    nt = struct.unpack_from("<I", data, 0x3C)[0]
    struct.pack_into("<I", data, nt + 24 + 108, 0x80000002)  # PE32+: NumberOfRvaAndSizes
    odd = tmp_path / "late.dll"
    odd.write_bytes(bytes(data))
    pe = pefile.PE(str(odd), fast_load=True)
    assert len(pe.OPTIONAL_HEADER.DATA_DIRECTORY) == 2
    pe.close()
    assert read_symbol_tables(install / "late.dll").imports  # the delay import of f3, unpatched
    assert not [s for s in read_symbol_tables(odd).imports if s.delay]


def test_a_cut_off_or_empty_dll_is_one_input_error_for_the_symbol_reader(install: Path, tmp_path: Path) -> None:
    """Every cut of core.dll's headers and tables (and an empty file) is an ``InputError`` or reads
    fewer symbols, never another exception."""
    data = (install / "core.dll").read_bytes()
    whole = read_symbol_tables(install / "core.dll")
    cut = tmp_path / "core.dll"
    errors = 0
    for size in [0, 1, 2, 63, 64, *range(0x40, 0x600, 7), len(data) // 2, len(data) - 1]:
        cut.write_bytes(data[:size])
        try:
            tables = read_symbol_tables(cut)
        except InputError as exc:
            assert str(exc).startswith(f"{cut}: "), exc
            errors += 1
        else:
            assert len(tables.exports) <= len(whole.exports)
    assert errors > 150  # the headers alone take 0x400 bytes: nearly every cut is an error
