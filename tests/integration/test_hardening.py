"""Hostile input, every class of issue #10: the generated corpus, and the cases that need more than one run.

Each corpus case (``tests/support/corpus.py``) is a real ``npuslim`` process in
its own sandbox, judged on its exit code, one error line and no traceback, no
hang, and no write outside its output. The tests below it cover what a single
run cannot show: races, a mount point, memory bounds, the schema checker.

The tests that build, run or download, and the two seeded mutation loops (pure, but slow);
the quick pure ones are in tests/unit/test_hardening.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.cli_helpers import one_error_line, run
from tests.support import corpus
from tests.support.crafted import build_pe
from tests.support.tools import unavailable

CASES = corpus.cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input(case: corpus.Case, tmp_path: Path) -> None:
    outcome = corpus.run_case(case, tmp_path)
    assert not outcome.problems, f"{outcome.problems}\nstderr: {outcome.stderr[-2000:]}"


def _npuslim(*args: str, env: dict[str, str]) -> subprocess.Popen:
    full = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(corpus.REPO), "COLUMNS": "120", **env}
    return subprocess.Popen([sys.executable, "-m", "npuslim", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=full, text=True)


def test_two_extracts_to_one_out_never_both_succeed(tmp_path: Path) -> None:
    s = corpus.base_sandbox(tmp_path / "box")
    for attempt in range(3):
        out = tmp_path / f"out{attempt}"
        procs = [_npuslim("extract", str(s["install"]), "-m", str(s["manifest"]), "-o", str(out),
                          env={"NPUSLIM_CACHE_DIR": str(tmp_path / "cache")}) for _ in range(2)]
        results = [(p.wait(), p.communicate()) for p in procs]
        codes = sorted(code for code, _ in results)
        assert codes == [0, 7], results
        loser = next(err for code, (_o, err) in results if code == 7)
        assert loser.count("\n") == 1 and "npuslim: error:" in loser
        assert run("verify", str(out)).exit_code == 0
        assert not [p.name for p in tmp_path.iterdir() if ".npuslim-" in p.name]


def test_two_runs_fill_an_empty_wheel_cache_at_once(tmp_path: Path) -> None:
    s = corpus.base_sandbox(tmp_path / "box")
    wheel = corpus._crafted_wheel(s)
    for attempt in range(3):
        cache = tmp_path / f"cache{attempt}"
        procs = [_npuslim("deps", str(wheel), "--root", "a.dll", "-f", "json", env={"NPUSLIM_CACHE_DIR": str(cache)})
                 for _ in range(3)]
        results = [(p.wait(), p.communicate()) for p in procs]
        assert [code for code, _ in results] == [0, 0, 0], results
        unpacked = list((cache / "wheels").iterdir())
        assert len(unpacked) == 1 and not unpacked[0].name.startswith(".unpack-")


def test_a_huge_header_is_streamed(tmp_path: Path) -> None:
    """A 2 GB header (sparse: no disk) is scanned for includes in bounded memory."""
    include = tmp_path / "include"
    include.mkdir()
    big = include / "big.h"
    with open(big, "wb") as fh:
        fh.write(b'#include "small.h"\n')
        fh.truncate(2 << 30)
    (include / "small.h").write_text("int x;\n")
    if not Path("/proc/self/status").is_file():
        unavailable("needs /proc/self/status (VmHWM) to read the peak memory of a process")
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking pytest process.
    code = ("import re; from pathlib import Path; from npuslim.analyse.headers import header_closure;"
            f"c = header_closure(Path({str(include)!r}), ('big.h',)); print(sorted(c.kept));"
            "print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(corpus.REPO)})
    assert proc.returncode == 0, proc.stderr
    kept, rss_kb = proc.stdout.splitlines()
    assert kept == "['big.h', 'small.h']"
    assert int(rss_kb) < 200_000, f"peak RSS {rss_kb} kB while scanning a 2 GB header"


@pytest.mark.wheels
def test_a_truncated_openvino_dll_in_a_real_install_is_refused(ov2026, tmp_path: Path) -> None:
    libs = tmp_path / "libs"
    libs.mkdir()
    for dll in ov2026.dll_dir.glob("*.dll"):
        if dll.name.lower() == "openvino.dll":
            (libs / dll.name).write_bytes(dll.read_bytes()[:536])
        else:
            (libs / dll.name).symlink_to(dll)
    for command in (["deps", str(libs)], ["extract", str(libs), "-o", str(tmp_path / "out")]):
        result = run(*command)
        assert result.exit_code == 4
        assert "openvino.dll" in one_error_line(result)
    assert not (tmp_path / "out").exists()


@pytest.mark.wheels
def test_real_wheel_from_a_zip_with_a_bomb_beside_it_is_refused(ov2026, tmp_path: Path) -> None:
    assert ov2026.wheel is not None
    bomb = tmp_path / ov2026.wheel.name
    with zipfile.ZipFile(ov2026.wheel) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist()[:20]:
            dst.writestr(info, src.read(info))
        dst.writestr("openvino/libs/zeros.dll", bytes(200 << 20))
    result = run("deps", str(bomb))
    assert result.exit_code == 4 and "zip bomb" in one_error_line(result)
HANGING_DLLMAIN = """
#include <windows.h>
BOOL WINAPI DllMain(HINSTANCE h, DWORD reason, LPVOID reserved) {
    if (reason == DLL_PROCESS_ATTACH) { for (;;) Sleep(1000); }
    return TRUE;
}
"""


@pytest.mark.wine
@pytest.mark.mingw
def test_a_dllmain_that_never_returns_is_a_failed_load(tmp_path: Path) -> None:
    from npuslim.check.load_windows import find_runner
    from tests.support.mingw import build_dll

    try:
        find_runner()
    except Exception as exc:
        unavailable(str(exc))
    src = tmp_path / "src"
    build_dll(src, "openvino_c.dll", extra_source=HANGING_DLLMAIN)
    manifest = tmp_path / "hang.yaml"
    manifest.write_text("schema_version: 1\nname: hang\nroots: [openvino_c.dll]\n")
    out = tmp_path / "out"
    assert run("extract", str(src), "-m", str(manifest), "-o", str(out)).exit_code == 0
    result = run("verify", str(out), "--load", "--timeout", "30", "--format", "json")
    assert result.exit_code == 8, result.stdout + result.stderr
    load = json.loads(result.stdout)["load"]
    assert not load["ok"] and "did not finish within 30 s" in load["verdict"]


def test_ctrl_c_while_writing_leaves_nothing_behind(tmp_path: Path) -> None:
    """SIGINT once the staging folder exists: exit 130, one line, no staging folder, no lock."""
    import signal
    import time

    src = tmp_path / "src"
    src.mkdir()
    for i in range(2000):
        (src / f"n{i}.dll").write_bytes(build_pe((f"n{i + 1}.dll",) if i < 1999 else ("KERNEL32.dll",)))
    out = tmp_path / "out"
    proc = _npuslim("extract", str(src / "n0.dll"), "-o", str(out), env={"NPUSLIM_CACHE_DIR": str(tmp_path / "c")})
    while proc.poll() is None and not list(tmp_path.glob(".out.npuslim-staging-*")):
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate()
    assert proc.returncode == 130, err
    assert err.strip() == "npuslim: error: interrupted"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_mutated_pe_files_are_read_or_refused_as_input(tmp_path: Path) -> None:
    """2,000 seeded byte mutations and cuts of crafted DLLs: each is read, or refused with InputError."""
    import random

    from npuslim.errors import InputError
    from npuslim.formats.pe import read_pe

    rnd = random.Random(20261129)
    seeds = [build_pe(("KERNEL32.dll", "b.dll")), build_pe(tuple(f"x{i}.dll" for i in range(30)), cfg=True)]
    path = tmp_path / "m.dll"
    unexpected = []
    for _ in range(2000):
        data = bytearray(rnd.choice(seeds))
        for _ in range(rnd.randint(1, 8)):
            data[rnd.randrange(min(len(data), 1024))] = rnd.randrange(256)
        if rnd.random() < 0.2:
            data = data[:rnd.randrange(len(data))]
        path.write_bytes(bytes(data))
        try:
            read_pe(path)
        except InputError:
            pass
        except Exception as exc:
            unexpected.append(f"{type(exc).__name__}: {exc}")
    assert not unexpected, unexpected[:5]


def test_mutated_bundle_manifests_are_checked_or_refused(tmp_path: Path) -> None:
    """1,000 seeded structural mutations of a real bundle manifest: verify reports or refuses (exit 5)."""
    import random

    from npuslim.check.verify import verify_bundle
    from npuslim.errors import NpuslimError

    rnd = random.Random(9)
    s = corpus.base_sandbox(tmp_path / "box")
    bundle = corpus._bundle(s)
    good = (bundle / "npuslim-bundle.json").read_text()
    values: list[object] = [None, 0, -1, 1.5, "", "x", "../x", "/x", "bin", [], {}, [1], {"a": 1}, True,
                            "bin/a.dll", "0" * 64, 10**30]

    def mutate(node: object, depth: int = 0) -> object:
        if isinstance(node, dict) and node and depth < 5 and rnd.random() > 0.3:
            key = rnd.choice(list(node))
            node[key] = mutate(node[key], depth + 1)
            return node
        if isinstance(node, list) and node and depth < 5 and rnd.random() > 0.3:
            i = rnd.randrange(len(node))
            node[i] = mutate(node[i], depth + 1)
            return node
        return rnd.choice(values)

    unexpected = []
    for _ in range(1000):
        doc = json.loads(good)
        for _ in range(rnd.randint(1, 3)):
            doc = mutate(doc)
        (bundle / "npuslim-bundle.json").write_text(json.dumps(doc))
        try:
            verify_bundle(bundle)
        except NpuslimError as exc:
            assert exc.exit_code == 5, exc
        except Exception as exc:
            unexpected.append(f"{type(exc).__name__}: {exc}")
    assert not unexpected, unexpected[:5]
