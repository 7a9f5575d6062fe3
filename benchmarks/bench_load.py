#!/usr/bin/env python3
"""Full OpenVINO vs the isolated NPU bundle vs the UPX-packed bundle: size on disk, load time, memory.

What can be measured without an NPU, side by side in one run:

  (a) full    the unpacked wheel as pip leaves it (every DLL in openvino/libs)
  (b) bundle  ``npuslim extract`` of it (the default NPU bundle)
  (c) upx     a copy of (b) with every DLL packed in place by ``upx --force``
              (UPX 4+; --force packs the Control Flow Guard DLLs and turns CFG off)

For each: files and bytes on disk (whole tree, and DLLs alone); then, in fresh
processes run through the Windows loader (under Wine on Linux, natively on
Windows), a small timer program (built with mingw-w64) that loads
``openvino_c.dll``, creates a core, reads an IR model held in memory and loads
the NPU plugin (``ov_core_get_versions_by_device_name``), timing each step with
QueryPerformanceCounter and reporting the process's peak private (committed)
bytes and peak working set from GetProcessMemoryInfo. Runs alternate between
the three, and the report gives medians. Wine timings are not Windows timings;
the ratios between (a), (b) and (c) are the point: what UPX costs at load.

    python benchmarks/bench_load.py [SOURCE] [--runs N] [--short] [--json FILE] [--work DIR] [--upx PATH]

SOURCE is anything ``npuslim deps`` takes (default openvino==2026.4.1). --short
runs each variant once (what the test suite runs in CI). Exit 0 when every
variant reached the NPU plugin, 1 when one did not, 2 for a setup failure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from npuslim.check.load_windows import find_runner
from npuslim.errors import NpuslimError
from npuslim.source.locate import cache_dir, locate

SCHEMA = "npuslim.bench-load"
SCHEMA_VERSION = 1
VARIANTS = ("full", "bundle", "upx")
TITLES = {"full": "(a) full wheel", "bundle": "(b) bundle", "upx": "(c) bundle + UPX"}
STEPS = ("load_c_api", "core_create", "read_model", "load_plugin")
STEP_TITLES = {
    "load_c_api": "load openvino_c.dll",
    "core_create": "ov_core_create",
    "read_model": "read an IR model",
    "load_plugin": "load the NPU plugin",
}

TIMER_SOURCE = r"""
/* load_timer: time loading OpenVINO's C API, creating a core, reading a model
 * and loading a device plugin; print the process's peak memory. Part of
 * npuslim's benchmarks/bench_load.py. usage: load_timer PATH\openvino_c.dll DEVICE */
#include <windows.h>
#include <psapi.h>
#include <stdio.h>
#include <string.h>

typedef int (*core_create_fn)(void **);
typedef int (*read_model_fn)(const void *, const char *, size_t, const void *, void **);
typedef struct { const char *buildNumber; const char *description; } ov_version_t;
typedef struct { const char *device_name; ov_version_t version; } ov_core_version_t;
typedef struct { ov_core_version_t *versions; size_t size; } ov_core_version_list_t;
typedef int (*versions_fn)(const void *, const char *, ov_core_version_list_t *);
typedef const char *(*last_err_fn)(void);

static const char MODEL[] =
    "<?xml version=\"1.0\"?><net name=\"t\" version=\"11\"><layers>"
    "<layer id=\"0\" name=\"input\" type=\"Parameter\" version=\"opset1\"><data shape=\"1,4\" element_type=\"f32\"/>"
    "<output><port id=\"0\" precision=\"FP32\"><dim>1</dim><dim>4</dim></port></output></layer>"
    "<layer id=\"1\" name=\"relu\" type=\"Relu\" version=\"opset1\">"
    "<input><port id=\"0\" precision=\"FP32\"><dim>1</dim><dim>4</dim></port></input>"
    "<output><port id=\"1\" precision=\"FP32\"><dim>1</dim><dim>4</dim></port></output></layer>"
    "<layer id=\"2\" name=\"output\" type=\"Result\" version=\"opset1\">"
    "<input><port id=\"0\" precision=\"FP32\"><dim>1</dim><dim>4</dim></port></input></layer></layers>"
    "<edges><edge from-layer=\"0\" from-port=\"0\" to-layer=\"1\" to-port=\"0\"/>"
    "<edge from-layer=\"1\" from-port=\"1\" to-layer=\"2\" to-port=\"0\"/></edges></net>";

static LARGE_INTEGER freq, start;
static HMODULE lib;

static void mark(const char *step) {
    LARGE_INTEGER now;
    QueryPerformanceCounter(&now);
    printf("T %s %.6f\n", step, (double)(now.QuadPart - start.QuadPart) / (double)freq.QuadPart);
    QueryPerformanceCounter(&start);
}

static int fail(const char *step, const char *detail) {
    last_err_fn last = lib ? (last_err_fn)GetProcAddress(lib, "ov_get_last_err_msg") : NULL;
    const char *msg = last ? last() : NULL;
    char buf[600];
    size_t i;
    snprintf(buf, sizeof buf, "%s", msg && *msg ? msg : detail);
    for (i = 0; buf[i]; i++) if (buf[i] == '\n' || buf[i] == '\r') buf[i] = ' ';
    printf("FAIL %s %s\n", step, buf);
    return 1;
}

int main(int argc, char **argv) {
    wchar_t wpath[MAX_PATH * 2];
    void *core = NULL, *model = NULL;
    ov_core_version_list_t versions = {0};
    PROCESS_MEMORY_COUNTERS pmc;
    char detail[64];
    if (argc < 3) { fprintf(stderr, "usage: load_timer PATH\\openvino_c.dll DEVICE\n"); return 2; }
    QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&start);
    MultiByteToWideChar(CP_UTF8, 0, argv[1], -1, wpath, (int)(sizeof wpath / sizeof wpath[0]));
    lib = LoadLibraryExW(wpath, NULL, LOAD_WITH_ALTERED_SEARCH_PATH);
    if (!lib) {
        snprintf(detail, sizeof detail, "LoadLibrary error %lu", GetLastError());
        return fail("load_c_api", detail);
    }
    mark("load_c_api");
    core_create_fn core_create = (core_create_fn)GetProcAddress(lib, "ov_core_create");
    read_model_fn read_model = (read_model_fn)GetProcAddress(lib, "ov_core_read_model_from_memory_buffer");
    versions_fn get_versions = (versions_fn)GetProcAddress(lib, "ov_core_get_versions_by_device_name");
    if (!core_create || !read_model || !get_versions) return fail("load_c_api", "missing C API export");
    if (core_create(&core)) return fail("core_create", "ov_core_create failed");
    mark("core_create");
    if (read_model(core, MODEL, strlen(MODEL), NULL, &model)) return fail("read_model", "read_model failed");
    mark("read_model");
    if (get_versions(core, argv[2], &versions)) return fail("load_plugin", "plugin did not load");
    mark("load_plugin");
    pmc.cb = sizeof pmc;
    if (GetProcessMemoryInfo(GetCurrentProcess(), &pmc, sizeof pmc))
        printf("M %zu %zu\n", (size_t)pmc.PeakPagefileUsage, (size_t)pmc.PeakWorkingSetSize);
    fflush(stdout);
    return 0;
}
"""

_TIME = re.compile(r"^T (\S+) ([\d.]+)$")
_MEM = re.compile(r"^M (\d+) (\d+)$")
_FAIL = re.compile(r"^FAIL (\S+) (.*)$")


@dataclass(frozen=True)
class Layout:
    """One variant on disk: where its C API is, and what it weighs."""

    name: str
    root: Path
    bin_dir: Path
    files: int
    bytes: int
    dll_files: int
    dll_bytes: int
    note: str = ""


@dataclass(frozen=True)
class TimerRun:
    """One fresh process: seconds per step, peak memory, wall time, and a failure if any."""

    steps: dict[str, float]
    peak_private: int
    peak_working_set: int
    wall: float
    peak_rss_host: int
    failed: str = ""


@dataclass
class VariantResult:
    layout: Layout
    runs: list[TimerRun] = field(default_factory=list)


def parse_timer_output(text: str, wall: float, rss: int) -> TimerRun:
    """The ``T step seconds`` / ``M private working_set`` / ``FAIL step msg`` lines of load_timer."""
    steps: dict[str, float] = {}
    private = working = 0
    failed = ""
    for raw in text.splitlines():
        line = raw.strip()
        if m := _TIME.match(line):
            steps[m.group(1)] = float(m.group(2))
        elif m := _MEM.match(line):
            private, working = int(m.group(1)), int(m.group(2))
        elif m := _FAIL.match(line):
            failed = f"{m.group(1)}: {m.group(2)}"
    if not failed and set(steps) != set(STEPS):
        failed = "the timer stopped early: " + " ".join(text.strip().splitlines()[-3:])
    return TimerRun(steps, private, working, wall, rss, failed)


def tree_size(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def dll_size(folder: Path) -> tuple[int, int]:
    dlls = [p for p in folder.iterdir() if p.suffix.lower() == ".dll"]
    return len(dlls), sum(p.stat().st_size for p in dlls)


def layout(name: str, root: Path, bin_dir: Path, note: str = "") -> Layout:
    files, size = tree_size(root)
    dll_files, dll_bytes = dll_size(bin_dir)
    return Layout(name, root, bin_dir, files, size, dll_files, dll_bytes, note)


def build_timer() -> Path:
    """load_timer.exe, built once per source hash with mingw-w64 into npuslim's cache."""
    digest = hashlib.sha256(TIMER_SOURCE.encode()).hexdigest()[:16]
    target = cache_dir() / "bench-load" / digest / "load_timer.exe"
    if target.is_file():
        return target
    gcc = shutil.which("x86_64-w64-mingw32-gcc") or (shutil.which("gcc") if sys.platform == "win32" else None)
    if gcc is None:
        raise SystemExit("bench_load: x86_64-w64-mingw32-gcc not found (apt-get install gcc-mingw-w64-x86-64-win32)")
    target.parent.mkdir(parents=True, exist_ok=True)
    src = target.with_suffix(".c")
    src.write_text(TIMER_SOURCE)
    tmp = target.with_name(f".load_timer.{os.getpid()}.exe")
    proc = subprocess.run([gcc, "-O2", "-Wall", "-o", str(tmp), str(src), "-lpsapi"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bench_load: building the timer failed: {proc.stderr[-500:]}")
    os.replace(tmp, target)
    return target


def _windows_path(path: Path, runner: str) -> str:
    path = path.resolve()
    return str(path) if runner == "native" else "Z:" + str(path).replace("/", "\\")


def run_timer(runner: str, prefix: list[str], timer: Path, bin_dir: Path, device: str) -> TimerRun:
    env = dict(os.environ)
    if runner == "wine":
        # the same private prefix and overrides as npuslim verify --load
        env.update({"WINEPREFIX": str(cache_dir() / "wine-prefix"), "WINEDEBUG": "-all",
                    "WINEDLLOVERRIDES": "mscoree,mshtml=;winemenubuilder.exe=d", "WINEARCH": "win64"})
    cmd = [*prefix, str(timer), _windows_path(bin_dir / "openvino_c.dll", runner), device]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    if hasattr(os, "wait4"):
        out = proc.stdout.read() if proc.stdout else ""
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
        rss = usage.ru_maxrss * 1024
    else:
        out, _ = proc.communicate()
        rss = 0
    wall = time.perf_counter() - start
    return parse_timer_output(out, wall, rss)


def pack_copy(bundle: Path, dest: Path, upx: str) -> tuple[Layout, list[str]]:
    """Copy the bundle and pack every DLL of the copy in place with ``upx --force``."""
    shutil.copytree(bundle, dest)
    refused = []
    for dll in sorted((dest / "bin").glob("*.dll")):
        proc = subprocess.run([upx, "--force", "-q", "--no-progress", str(dll)], capture_output=True, text=True)
        if proc.returncode != 0:
            refused.append(f"{dll.name}: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
    return layout("upx", dest, dest / "bin", note="upx --force (default level) on a copy of the bundle"), refused


def upx_version(upx: str) -> tuple[int, ...]:
    out = subprocess.run([upx, "--version"], capture_output=True, text=True).stdout
    m = re.match(r"upx (\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else (0,)


def summarise(result: VariantResult) -> dict[str, object]:
    ok = [r for r in result.runs if not r.failed]
    med = {s: statistics.median(r.steps[s] for r in ok) if ok else None for s in STEPS}
    return {
        "layout": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(result.layout).items()},
        "runs": len(result.runs),
        "failed": [r.failed for r in result.runs if r.failed],
        "median_seconds": med,
        "median_to_plugin": statistics.median(sum(r.steps.values()) for r in ok) if ok else None,
        "median_wall": statistics.median(r.wall for r in ok) if ok else None,
        "peak_private": max((r.peak_private for r in ok), default=0),
        "peak_working_set": max((r.peak_working_set for r in ok), default=0),
        "peak_rss_host": max((r.peak_rss_host for r in ok), default=0),
    }


def _fmt_bytes(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def render(doc: dict) -> str:
    variants = doc["variants"]
    rows: list[tuple[str, list[str]]] = []

    def row(title: str, key, fmt) -> None:
        values = [key(variants[v]) for v in VARIANTS]
        rows.append((title, [fmt(x) if x is not None else "-" for x in values]))

    row("files (whole tree)", lambda v: v["layout"]["files"], str)
    row("bytes (whole tree)", lambda v: v["layout"]["bytes"], _fmt_bytes)
    row("DLLs", lambda v: v["layout"]["dll_files"], str)
    row("DLL bytes", lambda v: v["layout"]["dll_bytes"], _fmt_bytes)
    for step in STEPS:
        row(STEP_TITLES[step], lambda v, s=step: v["median_seconds"][s], lambda x: f"{x * 1000:.0f} ms")
    row("total, in process", lambda v: v["median_to_plugin"], lambda x: f"{x * 1000:.0f} ms")
    row("process wall time", lambda v: v["median_wall"], lambda x: f"{x * 1000:.0f} ms")
    row("peak private bytes", lambda v: v["peak_private"] or None, _fmt_bytes)
    row("peak working set", lambda v: v["peak_working_set"] or None, _fmt_bytes)
    width = max(len(t) for t, _ in rows)
    cols = [max(len(TITLES[v]), *(len(vals[i]) for _, vals in rows)) for i, v in enumerate(VARIANTS)]
    lines = [f"{'':{width}}  " + "  ".join(f"{TITLES[v]:>{cols[i]}}" for i, v in enumerate(VARIANTS))]
    lines += [f"{t:{width}}  " + "  ".join(f"{x:>{cols[i]}}" for i, x in enumerate(vals)) for t, vals in rows]
    m = doc["machine"]
    lines.append(f"\nOpenVINO {doc['openvino_version']}; {doc['runs']} run(s) each, medians; runner {doc['runner']}; "
                 f"{m['cpu']}, {m['cpus']} CPUs; {doc['upx']}")
    for v in VARIANTS:
        for failure in variants[v]["failed"]:
            lines.append(f"{TITLES[v]} FAILED: {failure}")
    return "\n".join(lines)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", default="openvino==2026.4.1")
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per variant (default 7)")
    parser.add_argument("--short", action="store_true", help="one run per variant, no warm-up (for CI)")
    parser.add_argument("--json", type=Path, default=Path("bench_load.json"), help="where to write the JSON")
    parser.add_argument("--work", type=Path, help="folder for the bundles (default: a temporary folder)")
    parser.add_argument("--upx", default=os.environ.get("NPUSLIM_UPX") or "upx", help="UPX 4+ binary")
    parser.add_argument("--device", default="NPU")
    args = parser.parse_args(argv)

    upx = shutil.which(args.upx)
    if upx is None or upx_version(upx) < (4,):
        print(f"bench_load: UPX 4 or later needed ({args.upx}: "
              f"{'not found' if upx is None else 'version ' + '.'.join(map(str, upx_version(upx)))})", file=sys.stderr)
        return 2
    try:
        runner, prefix = find_runner()
    except Exception as exc:
        print(f"bench_load: {exc}", file=sys.stderr)
        return 2
    try:
        install = locate(args.source)
    except NpuslimError as exc:
        print(f"bench_load: {exc}", file=sys.stderr)
        return 2
    timer = build_timer()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-load-"))
    work.mkdir(parents=True, exist_ok=True)
    bundle = work / "bundle"
    packed = work / "bundle-upx"
    for old in (bundle, packed):
        shutil.rmtree(old, ignore_errors=True)
    proc = subprocess.run([sys.executable, "-m", "npuslim", "extract", str(install.root), "-o", str(bundle)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"bench_load: npuslim extract failed: {proc.stderr.strip()}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    upx_layout, refused = pack_copy(bundle, packed, upx)
    pack_seconds = time.perf_counter() - start
    results = {
        "full": VariantResult(layout("full", install.root, install.dll_dir, note=f"{install.layout} layout")),
        "bundle": VariantResult(layout("bundle", bundle, bundle / "bin", note="npuslim extract (default features)")),
        "upx": VariantResult(upx_layout),
    }
    runs = 1 if args.short else max(1, args.runs)
    if not args.short:
        for name in VARIANTS:  # warm-up: the first Wine start and the page cache
            run_timer(runner, prefix, timer, results[name].layout.bin_dir, args.device)
    for _ in range(runs):
        for name in VARIANTS:
            results[name].runs.append(run_timer(runner, prefix, timer, results[name].layout.bin_dir, args.device))

    doc = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "source": args.source,
        "openvino_version": install.version,
        "runner": runner,
        "device": args.device,
        "runs": runs,
        "upx": f"UPX {'.'.join(map(str, upx_version(upx)))} --force, {pack_seconds:.1f} s to pack",
        "upx_refused": refused,
        "machine": {"cpu": _cpu_name(), "cpus": os.cpu_count(), "system": platform.platform()},
        "variants": {name: summarise(results[name]) for name in VARIANTS},
    }
    args.json.write_text(json.dumps(doc, indent=2) + "\n")
    print(render(doc))
    print(f"\nJSON: {args.json}")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if any(doc["variants"][v]["failed"] for v in VARIANTS) else 0


if __name__ == "__main__":
    sys.exit(main())
