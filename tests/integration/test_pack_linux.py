"""``pack`` on Linux bundles: gcc-built libraries (strip and UPX really shrink them, they still load)
and the official OpenVINO 2026.4.1 manylinux wheel (nothing to strip, UPX refuses every library)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import jsonschema
import pytest

from npuslim.act.upx import find_upx
from npuslim.formats.elf import read_elf
from tests.cli_helpers import one_error_line, run
from tests.support.elfbuild import build_so
from tests.support.tools import require_tool, unavailable

REPO = Path(__file__).resolve().parents[2]
REPORT_SCHEMA = json.loads((REPO / "npuslim" / "schemas" / "size-report.schema.json").read_text())
BUNDLE_SCHEMA = json.loads((REPO / "npuslim" / "schemas" / "bundle.schema.json").read_text())


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry of ``folder``: a file's sha256, or a symlink's target."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_symlink():
            out[rel] = "-> " + os.readlink(p)
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def upx4() -> str:
    upx = require_tool("upx", "apt-get install upx-ucl (UPX 4)")
    if find_upx(Path(upx)).version < (4,):
        unavailable("UPX on PATH is older than 4")
    return upx


def call(lib: Path) -> subprocess.CompletedProcess[str]:
    """Load ``lib`` in a fresh process (no LD_LIBRARY_PATH) and call its function."""
    func = "f_" + "".join(c if c.isalnum() else "_" for c in lib.name)
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "LD_PRELOAD")}
    return subprocess.run([sys.executable, "-c", f"import ctypes; print(ctypes.CDLL({str(lib)!r}).{func}())"],
                          capture_output=True, text=True, env=env)


def call_ok(lib: Path) -> bool:
    """Whether ``lib`` loads in a fresh process (its constructors run there)."""
    return subprocess.run([sys.executable, "-c", f"import ctypes; ctypes.CDLL({str(lib)!r})"]).returncode == 0


def gcc_bundle(tmp_path: Path, *, cxx: bool) -> Path:
    """An extracted Linux bundle of libroot.so.1 -> libdep.so.1 (RPATH $ORIGIN), link name libroot.so."""
    src = tmp_path / "src"
    dep = build_so(src, "libdep.so.1", soname="libdep.so.1", cxx=cxx)
    build_so(src, "libroot.so.1", soname="libroot.so.1", links=(dep,), rpath="$ORIGIN", cxx=cxx)
    manifest = tmp_path / "m.yaml"
    manifest.write_text("schema_version: 1\nname: t\nroots: [libroot.so.1]\nimport_libraries:\n  - name: libroot.so\n")
    bundle = tmp_path / "B"
    result = run("extract", str(src), "-o", str(bundle), "--manifest", str(manifest))
    assert result.exit_code == 0, result.stderr
    assert os.readlink(bundle / "lib" / "libroot.so") == "libroot.so.1"
    return bundle


def test_gcc_libraries_are_stripped_packed_still_load_and_links_stay_symlinks(tmp_path) -> None:
    upx4()
    require_tool("strip", "apt-get install binutils")
    bundle = gcc_bundle(tmp_path, cxx=False)
    before = snapshot(bundle)
    env = {"NPUSLIM_CACHE_DIR": str(tmp_path / "cache")}
    out = tmp_path / "OUT"
    args = ("pack", str(bundle), "-o", str(out), "--strip", "--upx", "--archive", "tar.xz", "--format", "json")
    result = run(*args, env=env)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    jsonschema.validate(report, REPORT_SCHEMA)
    in_out = json.loads((out / "size-report.json").read_text())  # OUT's copy names OUT and the archive
    assert (in_out["bundle"], in_out["totals"]["archive"]["path"]) == ("OUT", "OUT.tar.xz")
    in_out["bundle"], in_out["totals"]["archive"]["path"] = str(out), str(tmp_path / "OUT.tar.xz")
    assert report == in_out
    assert report["platform"] == "linux"
    rows = {f["path"]: f for f in report["files"]}
    assert set(rows) == {"lib/libroot.so.1", "lib/libdep.so.1"}  # the link name is never packed
    for row in rows.values():
        assert row["after_strip"] < row["original"], row
        assert row["strip_message"] == "stripped: symbol table and debug sections removed"
        assert row["upx"] == "packed" and row["final"] == row["after_upx"] < row["after_strip"], row
    assert report["costs"]["upx_load_time_private_memory"] > 0
    assert "not applicable (ELF" in (out / "size-report.md").read_text()

    assert snapshot(bundle) == before  # the input is never modified
    lock = json.loads((out / "npuslim-bundle.json").read_text())
    jsonschema.validate(lock, BUNDLE_SCHEMA)
    link = next(f for f in lock["files"] if f["link_to"])
    assert link["path"] == "lib/libroot.so" and link["pack"] is None
    assert os.readlink(out / "lib" / "libroot.so") == "libroot.so.1"
    for name in ("libroot.so.1", "libdep.so.1"):
        assert read_elf(out / "lib" / name).upx_packed
    loaded = call(out / "lib" / "libroot.so.1")  # through the link name's target, libdep via $ORIGIN
    assert (loaded.returncode, loaded.stdout.strip()) == (0, "2"), loaded.stderr
    assert run("verify", str(out)).exit_code == 0

    with tarfile.open(tmp_path / "OUT.tar.xz") as tf:
        member = tf.getmember("OUT/lib/libroot.so")
        assert member.issym() and member.linkname == "libroot.so.1"
    tar = require_tool("tar", "apt-get install tar")
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    subprocess.run([tar, "-xJf", str(tmp_path / "OUT.tar.xz"), "-C", str(unpacked)], check=True)
    in_archive = {k: v for k, v in snapshot(out).items() if not k.startswith("size-report.")}
    assert snapshot(unpacked / "OUT") == in_archive  # the reports describe the archive: they are not in it
    assert run("verify", str(unpacked / "OUT")).exit_code == 0

    again = run(*args, env=env)
    assert again.exit_code == 0, again.stderr
    rerun = json.loads(again.stdout)["run"]
    assert rerun["cache_misses"] == 0 and rerun["cache_hits"] >= 4  # strip + UPX of each library
    assert json.loads((out / "npuslim-bundle.json").read_text())["files"] == lock["files"]


def test_zip_archive_holds_the_link_name_as_a_symlink(tmp_path) -> None:
    bundle = gcc_bundle(tmp_path, cxx=False)
    result = run("pack", str(bundle), "-o", str(tmp_path / "OUT"), "--archive", "zip", "--no-cache")
    assert result.exit_code == 0, result.stderr
    with zipfile.ZipFile(tmp_path / "OUT.zip") as zf:
        member = zf.getinfo("OUT/lib/libroot.so")
        assert member.external_attr >> 16 == 0o120777 and zf.read(member) == b"libroot.so.1"
        assert zf.getinfo("OUT/lib/libroot.so.1").file_size == (bundle / "lib" / "libroot.so.1").stat().st_size
    unzip = require_tool("unzip", "apt-get install unzip")
    subprocess.run([unzip, "-q", str(tmp_path / "OUT.zip"), "-d", str(tmp_path / "x")], check=True)
    assert (tmp_path / "x" / "OUT" / "lib" / "libroot.so").is_symlink()
    assert run("verify", str(tmp_path / "x" / "OUT")).exit_code == 0


def test_a_packed_library_that_crashes_at_load_is_left_unpacked(tmp_path) -> None:
    """UPX 4.2.2 packs a C++ library with a DT_NEEDED of its own folder, ``upx -t`` passes, and the
    packed file crashes in dlopen: with --check-load pack notices (it loads each packed file in a
    child process) and keeps the original."""
    upx = upx4()
    bundle = gcc_bundle(tmp_path, cxx=True)
    out = tmp_path / "OUT"
    result = run("pack", str(bundle), "-o", str(out), "--upx", "--check-load", "--archive", "none", "--no-cache",
                 "--format", "json")
    assert result.exit_code == 0, result.stderr
    rows = {f["path"]: f for f in json.loads(result.stdout)["files"]}
    loaded = call(out / "lib" / "libroot.so.1")
    assert (loaded.returncode, loaded.stdout.strip()) == (0, "2"), loaded.stderr  # whatever UPX did, it loads
    raw = tmp_path / "raw"
    shutil.copytree(bundle / "lib", raw, symlinks=True)
    (raw / "libroot.so.1").chmod(0o755)
    subprocess.run([upx, "-q", str(raw / "libroot.so.1")], capture_output=True, check=True)
    if call(raw / "libroot.so.1").returncode < 0:  # this UPX does make it crash
        row = rows["lib/libroot.so.1"]
        assert row["upx"] == "failed" and ("crashed when loaded" in row["upx_message"]
                                           or "does not load" in row["upx_message"]), row
        assert (out / "lib" / "libroot.so.1").read_bytes() == (bundle / "lib" / "libroot.so.1").read_bytes()
    else:
        assert rows["lib/libroot.so.1"]["upx"] == "packed"
    assert rows["lib/libdep.so.1"]["upx"] == "packed"  # loaded on its own, it works
    assert run("verify", str(out)).exit_code == 0


def test_exit_codes_on_a_linux_bundle(tmp_path) -> None:
    bundle = gcc_bundle(tmp_path, cxx=False)
    missing = run("pack", str(bundle), "-o", str(tmp_path / "OUT"), "--upx", "--upx-path",
                  str(tmp_path / "no-upx"))
    assert missing.exit_code == 6 and "UPX" in one_error_line(missing)
    (bundle / "lib" / "libroot.so").unlink()
    (bundle / "lib" / "libroot.so").symlink_to("libdep.so.1")
    wrong = run("pack", str(bundle), "-o", str(tmp_path / "OUT"))
    assert wrong.exit_code == 5 and "does not verify" in one_error_line(wrong)
    assert not (tmp_path / "OUT").exists() and not list(tmp_path.glob(".OUT*"))


@pytest.mark.wheels
def test_openvino_bundle_nothing_to_strip_upx_refuses_and_it_still_loads(ovlinux2026, tmp_path) -> None:
    require_tool("gcc", "apt-get install gcc")
    upx4()
    bundle = tmp_path / "B"
    assert run("extract", str(ovlinux2026.wheel), "-o", str(bundle)).exit_code == 0
    before = snapshot(bundle)
    out = tmp_path / "OUT"
    result = run("pack", str(bundle), "-o", str(out), "--strip", "--upx", "--archive", "zip", "--no-cache",
                 "--format", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    jsonschema.validate(report, REPORT_SCHEMA)
    assert len(report["files"]) == 5
    for row in report["files"]:
        assert row["strip_message"] == "kept: already stripped: no symbol table, no debug sections", row
        assert row["upx"] == "refused" and row["upx_message"] == "UPX: CantPackException: DT_GNU_HASH above stub"
        assert row["original"] == row["after_strip"] == row["final"] and row["after_upx"] is None
    assert report["totals"]["bundle_final"] == report["totals"]["bundle_original"]
    assert report["costs"]["upx_load_time_private_memory"] == 0
    markdown = (out / "size-report.md").read_text()
    assert "CantPackException: DT_GNU_HASH above stub" in markdown and "already stripped" in markdown

    assert snapshot(bundle) == before
    assert snapshot(out / "lib") == snapshot(bundle / "lib")  # same bytes, links still links
    assert {p.name for p in (out / "lib").iterdir() if p.is_symlink()} == {"libopenvino.so", "libopenvino_c.so"}
    with zipfile.ZipFile(tmp_path / "OUT.zip") as zf:
        for name, target in (("libopenvino.so", "libopenvino.so.2641"), ("libopenvino_c.so", "libopenvino_c.so.2641")):
            member = zf.getinfo(f"OUT/lib/{name}")
            assert member.external_attr >> 16 == 0o120777 and zf.read(member) == target.encode()
    assert run("verify", str(out)).exit_code == 0
    load = run("verify", str(out), "--load", "--format", "json")
    assert load.exit_code == 0, load.stdout
    verdict = json.loads(load.stdout)["load"]
    assert verdict["runner"] == "native" and "found no NPU device" in verdict["verdict"]


def test_pack_upx_never_runs_the_bundles_code(tmp_path) -> None:
    """A library whose constructor writes a marker file: UPX packs it, and nothing loads it (pack used
    to dlopen every packed library to check it). ``--check-load`` does, in a child process."""
    upx4()
    gcc = require_tool("gcc", "apt-get install gcc")
    src = tmp_path / "src"
    src.mkdir()
    marker = tmp_path / "constructor-ran"
    code = src / "evil.c"
    code.write_text(
        "#include <stdio.h>\n"
        f"__attribute__((constructor)) static void ran(void) {{ FILE *f = fopen({json.dumps(str(marker))}, \"w\"); "
        "if (f) fclose(f); }\n"
        f"static const char table[] = \"{'npuslim ' * 4000}\";\n"
        "int f_libevil_so_1(int i) { return table[i]; }\n")
    subprocess.run([gcc, "-shared", "-fPIC", "-Wl,-soname,libevil.so.1", "-o", str(src / "libevil.so.1"),
                    str(code)], check=True)
    code.unlink()
    assert call_ok(src / "libevil.so.1") and marker.exists()  # the constructor does write it
    marker.unlink()
    manifest = tmp_path / "m.yaml"
    manifest.write_text("schema_version: 1\nname: t\nroots: [libevil.so.1]\n")
    bundle = tmp_path / "B"
    assert run("extract", str(src), "-o", str(bundle), "--manifest", str(manifest)).exit_code == 0
    assert not marker.exists()
    env = {"NPUSLIM_CACHE_DIR": str(tmp_path / "cache")}
    result = run("pack", str(bundle), "-o", str(tmp_path / "OUT"), "--upx", "--archive", "none",
                 "--format", "json", env=env)
    assert result.exit_code == 0, result.stderr
    rows = {f["path"]: f for f in json.loads(result.stdout)["files"]}
    assert rows["lib/libevil.so.1"]["upx"] == "packed", rows
    assert not marker.exists()  # pack ran nothing of the bundle
    checked = run("pack", str(bundle), "-o", str(tmp_path / "OUT2"), "--upx", "--check-load", "--archive", "none",
                  env=env)
    assert checked.exit_code == 0, checked.stderr
    if "not sandboxed" in checked.stderr:  # it ran as the user, and said so
        assert marker.exists()
    else:  # in bubblewrap: the host file system is read-only to it
        assert not marker.exists()


def _processes_naming(text: str) -> list[int]:
    """The processes whose command line holds ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_a_load_check_that_hangs_is_killed_with_what_it_started(tmp_path) -> None:
    """``--check-load`` loads a packed library in a child process: a constructor that never returns
    and forks a child of its own is stopped at the timeout, the child too (the whole process group)."""
    from npuslim.act.pack_elf import dlopen_problem

    gcc = require_tool("gcc", "apt-get install gcc")
    source = tmp_path / "hang.c"
    source.write_text("#include <unistd.h>\n"
                      "__attribute__((constructor)) static void hang(void) { if (fork() == 0) pause(); pause(); }\n"
                      "int hang_f(void) { return 1; }\n")
    lib = tmp_path / "libhang.so"
    subprocess.run([gcc, "-shared", "-fPIC", "-o", str(lib), str(source)], check=True, capture_output=True)
    (tmp_path / "neighbours").mkdir()
    work = tmp_path / "work"
    problem = dlopen_problem(lib, "libhang.so", tmp_path / "neighbours", work, timeout=2.0)
    assert problem == "loading it did not finish within 2 s"
    assert _processes_naming(str(work / "libhang.so")) == []  # neither the child nor the one it forked is left
    assert not work.exists()
