#!/usr/bin/env python3
"""Full OpenVINO vs the isolated CPU bundle (vs the UPX-packed bundle): inference latency, throughput, memory.

The bundle changes what is on disk and what is loaded, not the kernels that
run; this measures that claim on the one device that really runs here, the
CPU, on each platform:

  (a) full    the unpacked official wheel (every library in openvino/libs)
  (b) bundle  ``npuslim extract --manifest cpu`` of it (cpu-linux on Linux)
  (c) upx     Windows only: a copy of (b) with every DLL packed by ``upx --force``
              (bench_load.py's packing; UPX 4.2.2 refuses the official Linux
              libraries, so there is no Linux (c))
  tbb         on request (--variants): a copy of (b) with the libraries libtbb
              loads by itself when present (tbbmalloc, tbbbind), to tell what
              their absence from the bundle changes

Windows variants run the win_amd64 wheel through the Windows loader (Wine on
Linux, natively on Windows); Linux variants run the manylinux wheel natively.
The model is an IR the script writes (``--layers`` x MatMul + Add + Relu over
f32 [batch, width], constant weights from a fixed seed). A small C timer
(benchmarks/infer_timer.c, reaching the C API like npuslim's load probes,
whose header it includes) compiles it on the CPU and measures, in one fresh
process per run:

  latency       synchronous ``ov_infer_request_infer`` on a model compiled with
                PERFORMANCE_HINT=LATENCY, every inference timed (median, p90
                over all runs' samples)
  throughput 1  ``start_async`` + ``wait`` on one request, inferences per second
  throughput N  N requests kept in flight round robin on a model compiled with
                PERFORMANCE_HINT=THROUGHPUT (N: --requests, default the compiled
                model's OPTIMAL_NUMBER_OF_INFER_REQUESTS)

and the process's peak memory (Linux: VmHWM and the PSS from
/proc/self/smaps_rollup at the end, everything still loaded; Windows: peak
private bytes and peak working set, and under Wine the host's VmHWM). Runs
alternate between every variant of every platform, each after its library
files are dropped from the page cache (drop_page_cache: how freshly written
files sit in the cache changes the memory measured), and the load average is
recorded before and after: the machine may be shared.

    python benchmarks/bench_infer.py [SOURCE] [--platform TAG] [--short] [--json FILE]

SOURCE is a requirement (default openvino==2026.4.1), fetched for each
platform: win_amd64 and manylinux_2_28_x86_64 by default, one of them with
--platform. --short runs the bundle alone on each platform for a few
iterations (what the test suite runs). Exit 0 when every run finished, 1 when
one failed, 2 for a setup failure.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import mmap
import os
import platform
import random
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from bench_load import _cpu_name, dll_size, pack_copy, tree_size, upx_version

from npuslim.check.load_windows import _windows_path, _wine_env, find_runner
from npuslim.check.probes import HEADERS, content_key
from npuslim.errors import NpuslimError
from npuslim.source.locate import cache_dir, locate

SCHEMA = "npuslim.bench-infer"
SCHEMA_VERSION = 1
HERE = Path(__file__).resolve().parent
TIMER_SOURCE = HERE / "infer_timer.c"
WINDOWS, LINUX = "win_amd64", "manylinux_2_28_x86_64"
PLATFORMS = (LINUX, WINDOWS)
VARIANTS = {WINDOWS: ("full", "bundle", "tbb", "upx"), LINUX: ("full", "bundle", "tbb")}
DEFAULT_VARIANTS = ("full", "bundle", "upx")
MANIFEST = {WINDOWS: "cpu", LINUX: "cpu-linux"}
TITLES = {"full": "full wheel", "bundle": "bundle", "tbb": "bundle + TBB", "upx": "bundle + UPX"}
# What libtbb loads by itself when it finds it beside itself (TBB's scalable allocator, its binding to
# cores and NUMA nodes and what that needs); none is imported by anything, so a bundle leaves them out.
TBB_OPTIONAL = {WINDOWS: ("tbbmalloc.dll", "tbbbind_2_5.dll"),
                LINUX: ("libtbbmalloc.so.2", "libtbbbind_2_5.so.3", "libhwloc.so.15")}
PLATFORM_TITLES = {WINDOWS: "Windows", LINUX: "Linux"}


# ---------------------------------------------------------------- the model


@dataclass(frozen=True)
class ModelShape:
    batch: int = 16
    width: int = 1024
    layers: int = 4

    @property
    def flops(self) -> int:
        """Multiply-adds counted as two operations, the MatMuls alone."""
        return 2 * self.batch * self.width * self.width * self.layers


def model_ir(shape: ModelShape, seed: int = 22) -> tuple[str, bytes]:
    """The IR v11 XML and its weights: ``layers`` x (MatMul by a constant [width, width], Add a constant
    [1, width], Relu) over a f32 [batch, width] parameter. He-uniform weights keep the values in range."""
    b, w = shape.batch, shape.width
    rng = random.Random(seed)
    limit = (6.0 / w) ** 0.5
    blobs: list[bytes] = []
    offset = 0

    def const(dims: tuple[int, ...], values: list[float]) -> str:
        nonlocal offset
        data = struct.pack(f"<{len(values)}f", *values)
        blobs.append(data)
        text = (f'<data element_type="f32" shape="{",".join(map(str, dims))}" offset="{offset}" '
                f'size="{len(data)}"/>')
        offset += len(data)
        return text

    def port(pid: int, dims: tuple[int, ...]) -> str:
        return f'<port id="{pid}" precision="FP32">' + "".join(f"<dim>{d}</dim>" for d in dims) + "</port>"

    layers: list[str] = []
    edges: list[tuple[int, int, int, int]] = []

    def layer(kind: str, data: str, inputs: list[tuple[int, ...]], outputs: list[tuple[int, ...]]) -> int:
        lid = len(layers)
        ins = "".join(port(i, d) for i, d in enumerate(inputs))
        outs = "".join(port(len(inputs) + i, d) for i, d in enumerate(outputs))
        layers.append(f'<layer id="{lid}" name="{kind.lower()}{lid}" type="{kind}" version="opset1">{data}'
                      + (f"<input>{ins}</input>" if ins else "") + (f"<output>{outs}</output>" if outs else "")
                      + "</layer>")
        return lid

    x = (b, w)
    prev, prev_port = layer("Parameter", f'<data shape="{b},{w}" element_type="f32"/>', [], [x]), 0
    for _ in range(shape.layers):
        weights = layer("Const", const((w, w), [rng.uniform(-limit, limit) for _ in range(w * w)]), [], [(w, w)])
        matmul = layer("MatMul", '<data transpose_a="false" transpose_b="false"/>', [x, (w, w)], [x])
        edges += [(prev, prev_port, matmul, 0), (weights, 0, matmul, 1)]
        bias = layer("Const", const((1, w), [rng.uniform(-0.1, 0.1) for _ in range(w)]), [], [(1, w)])
        add = layer("Add", '<data auto_broadcast="numpy"/>', [x, (1, w)], [x])
        edges += [(matmul, 2, add, 0), (bias, 0, add, 1)]
        relu = layer("Relu", "", [x], [x])
        edges.append((add, 2, relu, 0))
        prev, prev_port = relu, 1
    result = layer("Result", "", [x], [])
    edges.append((prev, prev_port, result, 0))
    xml = ['<?xml version="1.0"?>', '<net name="npuslim_bench_infer" version="11">', "<layers>", *layers,
           "</layers>", "<edges>",
           *(f'<edge from-layer="{a}" from-port="{p}" to-layer="{c}" to-port="{q}"/>' for a, p, c, q in edges),
           "</edges>", "</net>"]
    return "\n".join(xml) + "\n", b"".join(blobs)


def write_model(folder: Path, shape: ModelShape) -> tuple[Path, Path]:
    xml, weights = model_ir(shape)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.xml").write_text(xml)
    (folder / "model.bin").write_bytes(weights)
    return folder / "model.xml", folder / "model.bin"


# ---------------------------------------------------------------- the timer


def timer_sources() -> dict[str, bytes]:
    """infer_timer.c and the probe headers it includes (read from npuslim, never copied)."""
    probe = resources.files("npuslim.check").joinpath("probe")
    return {"infer_timer.c": TIMER_SOURCE.read_bytes(), **{h: probe.joinpath(h).read_bytes() for h in HEADERS}}


def build_timer(tag: str) -> Path:
    """infer_timer for ``tag`` (mingw-w64 for Windows, gcc for Linux), built once per source into the cache."""
    files = timer_sources()
    windows = tag == WINDOWS
    target = cache_dir() / "bench-infer" / content_key(files) / ("infer_timer.exe" if windows else "infer_timer")
    if target.is_file():
        return target
    if windows:
        gcc = shutil.which("x86_64-w64-mingw32-gcc") or (shutil.which("gcc") if sys.platform == "win32" else None)
        libs = ["-lpsapi"]
    else:
        gcc, libs = shutil.which("gcc"), ["-ldl"]
    if gcc is None:
        raise SetupError("the C compiler for the timer is missing (gcc, or x86_64-w64-mingw32-gcc for Windows)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as build:
        for name, data in files.items():
            (Path(build) / name).write_bytes(data)
        tmp = Path(build) / target.name
        proc = subprocess.run([gcc, "-O2", "-Wall", "-Wno-unused-function", "-Wno-unused-const-variable",
                               "-o", str(tmp), str(Path(build) / "infer_timer.c"), *libs],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise SetupError(f"building the timer failed: {proc.stderr.strip()[-500:]}")
        os.replace(tmp, target)
    return target


class SetupError(Exception):
    """Something the benchmark needs is missing (exit 2)."""


_LINE = {
    "T": re.compile(r"^T (\S+) ([\d.eE+-]+)$"),
    "L": re.compile(r"^L ([\d.eE+-]+)$"),
    "X": re.compile(r"^X (\d+) (\d+) ([\d.eE+-]+)(?: (\S+))?$"),
    "O": re.compile(r"^O (\S+)$"),
    "M": re.compile(r"^M (\S+) (\d+)$"),
    "FAIL": re.compile(r"^FAIL (\S+) (.*)$"),
}
STEPS = ("load_c_api", "core_create", "read_model", "compile", "first_infer")


@dataclass
class TimerRun:
    """One fresh timer process."""

    steps: dict[str, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    throughput_1: float | None = None  # inferences per second, one request
    throughput_n: float | None = None  # inferences per second, ``requests`` requests in flight
    requests: int = 0
    streams: str = ""
    checksum: float | None = None
    memory: dict[str, int] = field(default_factory=dict)
    wall: float = 0.0
    failed: str = ""
    page_cache: dict[str, int] | None = None  # what drop_page_cache did before this run (None: nothing)


def parse_timer_output(text: str) -> TimerRun:
    """The ``T``/``L``/``X``/``O``/``M``/``FAIL`` lines of infer_timer (see its header comment)."""
    run = TimerRun()
    for raw in text.splitlines():
        line = raw.strip()
        if m := _LINE["T"].match(line):
            run.steps[m.group(1)] = float(m.group(2))
        elif m := _LINE["L"].match(line):
            run.latencies.append(float(m.group(1)))
        elif m := _LINE["X"].match(line):
            requests, count, seconds = int(m.group(1)), int(m.group(2)), float(m.group(3))
            ips = count / seconds if seconds > 0 else 0.0
            if m.group(4) is None:  # the one-request phase; the N-request phase names the streams
                run.throughput_1 = ips
            else:
                run.throughput_n, run.requests, run.streams = ips, requests, m.group(4)
        elif m := _LINE["O"].match(line):
            run.checksum = float(m.group(1))
        elif m := _LINE["M"].match(line):
            run.memory[m.group(1)] = int(m.group(2))
        elif m := _LINE["FAIL"].match(line):
            run.failed = f"{m.group(1)}: {m.group(2)}"
    if not run.failed and (set(STEPS) - set(run.steps) or run.throughput_1 is None or run.throughput_n is None):
        run.failed = "the timer stopped early: " + " ".join(text.strip().splitlines()[-3:])
    return run


# ---------------------------------------------------------------- the variants


@dataclass(frozen=True)
class Variant:
    """One variant on disk: its platform, where its C API library is, what it weighs."""

    platform: str
    name: str
    root: Path
    lib_dir: Path
    c_api: Path
    files: int
    bytes: int
    libs: int
    lib_bytes: int
    note: str = ""

    @property
    def key(self) -> str:
        return f"{self.platform}/{self.name}"


def _so_size(folder: Path) -> tuple[int, int]:
    libs = [p for p in folder.iterdir() if ".so" in p.name and p.is_file() and not p.is_symlink()]
    return len(libs), sum(p.stat().st_size for p in libs)


def _c_api(tag: str, lib_dir: Path) -> Path:
    if tag == WINDOWS:
        return lib_dir / "openvino_c.dll"
    found = sorted(p for p in lib_dir.glob("libopenvino_c.so*") if not p.is_symlink())
    if not found:
        raise SetupError(f"no libopenvino_c.so in {lib_dir}")
    return found[0]


def variant(tag: str, name: str, root: Path, lib_dir: Path, note: str = "") -> Variant:
    files, size = tree_size(root)
    libs, lib_bytes = dll_size(lib_dir) if tag == WINDOWS else _so_size(lib_dir)
    return Variant(tag, name, root, lib_dir, _c_api(tag, lib_dir), files, size, libs, lib_bytes, note)


def prepare(tag: str, source: str, work: Path, names: tuple[str, ...], upx: str | None) -> tuple[list[Variant], dict]:
    """The variants of one platform on disk, and what was done to make them."""
    try:
        install = locate(source, platform=tag)
    except NpuslimError as exc:
        raise SetupError(str(exc)) from exc
    info: dict[str, object] = {"openvino_version": install.version,
                               "wheel": install.wheel.name if install.wheel else None}
    out: list[Variant] = []
    if "full" in names:
        out.append(variant(tag, "full", install.root, install.dll_dir, note=f"the unpacked {install.layout}"))
    if {"bundle", "tbb", "upx"} & set(names):
        bundle = work / tag / "bundle"
        shutil.rmtree(bundle, ignore_errors=True)
        proc = subprocess.run([sys.executable, "-m", "npuslim", "extract", str(install.root), "--manifest",
                               MANIFEST[tag], "-o", str(bundle)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise SetupError(f"npuslim extract --manifest {MANIFEST[tag]} failed: {proc.stderr.strip()[-500:]}")
        lib_dir = bundle / ("bin" if tag == WINDOWS else "lib")
        if "bundle" in names:
            out.append(variant(tag, "bundle", bundle, lib_dir, note=f"npuslim extract --manifest {MANIFEST[tag]}"))
        if "tbb" in names:
            extra = work / tag / "bundle-tbb"
            shutil.rmtree(extra, ignore_errors=True)
            shutil.copytree(bundle, extra, symlinks=True)
            extra_lib = extra / lib_dir.name
            copied = [n for n in TBB_OPTIONAL[tag] if (install.dll_dir / n).is_file()]
            for n in copied:
                shutil.copy2(install.dll_dir / n, extra_lib / n)
            out.append(variant(tag, "tbb", extra, extra_lib, note="the bundle plus " + ", ".join(copied)))
        if "upx" in names:
            if upx is None:
                raise SetupError("UPX 4 or later is needed for the upx variant (--upx, or NPUSLIM_UPX)")
            packed = work / tag / "bundle-upx"
            shutil.rmtree(packed, ignore_errors=True)
            start = time.perf_counter()
            _, refused = pack_copy(bundle, packed, upx)
            info["upx"] = {"version": ".".join(map(str, upx_version(upx))), "seconds": time.perf_counter() - start,
                           "refused": refused}
            out.append(variant(tag, "upx", packed, packed / "bin", note="upx --force on a copy of the bundle"))
    return out, info


@dataclass(frozen=True)
class Runner:
    """How this machine runs one platform's timer."""

    tag: str
    prefix: tuple[str, ...]
    kind: str  # native, wine

    def path(self, p: Path) -> str:
        return _windows_path(p, self.kind) if self.tag == WINDOWS else str(p.resolve())

    def env(self) -> dict[str, str]:
        if self.tag == WINDOWS:
            env = _wine_env("system", self.kind)
            env["WINEDEBUG"] = "-all"
            return env
        return {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "LD_PRELOAD")}


def runner_for(tag: str) -> Runner:
    if tag == WINDOWS:
        try:
            kind, prefix = find_runner()
        except NpuslimError as exc:
            raise SetupError(str(exc)) from exc
        return Runner(tag, tuple(prefix), kind)
    if not sys.platform.startswith("linux"):
        raise SetupError("the Linux variants run natively: Linux only")
    return Runner(tag, (), "native")


def run_timer(runner: Runner, timer: Path, v: Variant, model: tuple[Path, Path], device: str, iterations: int,
              requests: int) -> TimerRun:
    cmd = [*runner.prefix, str(timer), runner.path(v.c_api), runner.path(model[0]), runner.path(model[1]), device,
           str(iterations), str(requests)]
    start = time.perf_counter()
    with tempfile.TemporaryFile() as errfile:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errfile, env=runner.env(), text=True)
        out = proc.stdout.read() if proc.stdout else ""
        if hasattr(os, "wait4"):  # the peak RSS of the process as the host sees it (under Wine: Wine's process)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
            host_rss = usage.ru_maxrss * 1024
        else:
            proc.wait()
            host_rss = 0
        errfile.seek(0)
        err = errfile.read().decode(errors="replace")
    run = parse_timer_output(out)
    run.wall = time.perf_counter() - start
    if host_rss:
        run.memory["host_peak_rss"] = host_rss
    if proc.returncode != 0:
        detail = f"exit {proc.returncode}: {err.strip()[-300:]}"
        run.failed = f"{run.failed} ({detail})" if run.failed else detail
    return run


# ---------------------------------------------------------------- the page cache


def drop_page_cache(folders: list[Path]) -> dict[str, int] | None:
    """Drop the files of ``folders`` (a variant's library folder) from the page cache: ``fsync``, then
    ``posix_fadvise(POSIX_FADV_DONTNEED)`` on every regular file, so the run that follows reads them from disk.

    Why: how a library sits in the page cache changes the memory of the process that maps it, not the library.
    ``npuslim extract`` writes in 1 MiB chunks, and on Linux (kernel 6.18, ext4) a library freshly written that
    way, still cached, gets 1 MiB of file pages mapped per read fault instead of 64 kB: measured on 2026.4.1, the
    cpu-linux bundle as written showed 109 MB PSS against 83-87 MB for the full wheel (the CPU plugin +21.9 MB of
    resident file pages), while a ``cp`` copy, a ``dd bs=4K`` copy or the same files dropped and read back from
    disk measured about 82 MB, and with every variant's files dropped all variants measured 82.1-83.2 MB.
    Dropping before every timed run starts each variant from the same state. Only the files given are touched,
    never the system-wide cache. Returns the files and bytes dropped and the bytes still cached after it (pages
    another process keeps mapped stay), or None where ``os.posix_fadvise`` is missing (Windows, macOS).
    """
    if not hasattr(os, "posix_fadvise"):
        return None
    done: dict[str, int] = {"files": 0, "bytes": 0, "resident_after": 0}
    unknown = False
    for folder in folders:
        for root, _, names in os.walk(folder):
            for name in names:
                path = Path(root) / name
                if path.is_symlink() or not path.is_file():
                    continue
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                    size = os.fstat(fd).st_size
                    done["files"] += 1
                    done["bytes"] += size
                    resident = _resident_bytes(fd, size)
                    unknown |= resident is None
                    done["resident_after"] += resident or 0
                finally:
                    os.close(fd)
    if unknown:
        del done["resident_after"]
    return done


def _resident_bytes(fd: int, size: int) -> int | None:
    """The bytes of the open file ``fd`` in the page cache (``mincore`` on a mapping that touches no page); None
    when it cannot tell."""
    if size == 0:
        return 0
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long)
    libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
    libc.mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
    addr = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
    if addr is None or addr == ctypes.c_void_p(-1).value:
        return None
    try:
        pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
        vec = (ctypes.c_ubyte * pages)()
        if libc.mincore(addr, size, vec) != 0:
            return None
        return sum(1 for b in bytes(vec) if b & 1) * mmap.PAGESIZE
    finally:
        libc.munmap(addr, size)


# ---------------------------------------------------------------- the report


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summarise(v: Variant, runs: list[TimerRun]) -> dict[str, object]:
    ok = [r for r in runs if not r.failed]
    lat = [x for r in ok for x in r.latencies]
    memory_keys = sorted({k for r in ok for k in r.memory})
    return {
        "layout": {"root": str(v.root), "lib_dir": str(v.lib_dir), "c_api": v.c_api.name, "files": v.files,
                   "bytes": v.bytes, "libs": v.libs, "lib_bytes": v.lib_bytes, "note": v.note},
        "runs": len(runs),
        "failed": [r.failed for r in runs if r.failed],
        "steps_median_seconds": {s: statistics.median(r.steps[s] for r in ok) if ok else None for s in STEPS},
        "latency_samples": len(lat),
        "latency_median_ms": statistics.median(lat) * 1000 if lat else None,
        "latency_p90_ms": _percentile(lat, 0.9) * 1000 if lat else None,
        "latency_min_ms": min(lat) * 1000 if lat else None,
        "throughput_1_ips": statistics.median(r.throughput_1 or 0.0 for r in ok) if ok else None,
        "throughput_n_requests": max(r.requests for r in ok) if ok else None,
        "throughput_n_ips": statistics.median(r.throughput_n or 0.0 for r in ok) if ok else None,
        "streams": ok[0].streams if ok else "",
        "checksum": ok[0].checksum if ok else None,
        "peak_memory": {k: max(r.memory.get(k, 0) for r in ok) for k in memory_keys},
        "median_wall_seconds": statistics.median(r.wall for r in ok) if ok else None,
        "page_cache": _page_cache_summary(runs),
    }


def _page_cache_summary(runs: list[TimerRun]) -> dict[str, object]:
    """Whether drop_page_cache ran before every run, on how many files, and the most it left cached."""
    drops = [r.page_cache for r in runs]
    if not drops or any(d is None for d in drops):
        return {"dropped_before_each_run": False}
    resident = [d.get("resident_after") for d in drops]
    return {"dropped_before_each_run": True, "files": drops[0]["files"], "bytes": drops[0]["bytes"],
            "resident_after_max": None if None in resident else max(resident)}


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def render(doc: dict) -> str:
    cols = [(tag, name) for tag in doc["platforms"] for name in doc["platforms"][tag]["variants"]]
    titles = [f"{PLATFORM_TITLES[t]} {TITLES[n]}" for t, n in cols]
    cells = {(t, n): doc["platforms"][t]["variants"][n] for t, n in cols}
    rows: list[tuple[str, list[str]]] = []

    def row(title: str, get, fmt) -> None:
        values = [get(cells[c]) for c in cols]
        rows.append((title, ["-" if x is None else fmt(x) for x in values]))

    row("libraries", lambda v: v["layout"]["libs"], str)
    row("library bytes", lambda v: v["layout"]["lib_bytes"], _mb)
    row("load C API + core + read", lambda v: _sum(v["steps_median_seconds"], STEPS[:3]), _ms)
    row("compile (CPU, LATENCY)", lambda v: v["steps_median_seconds"]["compile"], _ms)
    row("first inference", lambda v: v["steps_median_seconds"]["first_infer"], _ms)
    row("latency median", lambda v: v["latency_median_ms"], lambda x: f"{x:.2f} ms")
    row("latency p90", lambda v: v["latency_p90_ms"], lambda x: f"{x:.2f} ms")
    row("latency min", lambda v: v["latency_min_ms"], lambda x: f"{x:.2f} ms")
    row("throughput, 1 request", lambda v: v["throughput_1_ips"], lambda x: f"{x:.0f}/s")
    row("throughput, N requests", lambda v: v["throughput_n_ips"], lambda x: f"{x:.0f}/s")
    row("  N requests (streams)", lambda v: v["throughput_n_requests"] and f"{v['throughput_n_requests']} "
        f"({v['streams'] or '?'})", str)
    for key, title in (("host_peak_rss", "peak RSS (host, wait4)"), ("pss", "PSS at the end (Linux)"),
                       ("peak_private", "peak private bytes (Win)"), ("peak_working_set", "peak working set (Win)")):
        row(title, lambda v, k=key: v["peak_memory"].get(k) or None, _mb)
    row("output checksum", lambda v: v["checksum"], lambda x: f"{x:.6g}")
    width = max(len(t) for t, _ in rows)
    colw = [max(len(titles[i]), *(len(vals[i]) for _, vals in rows)) for i in range(len(cols))]
    lines = [f"{'':{width}}  " + "  ".join(f"{titles[i]:>{colw[i]}}" for i in range(len(cols)))]
    lines += [f"{t:{width}}  " + "  ".join(f"{x:>{colw[i]}}" for i, x in enumerate(vals)) for t, vals in rows]
    m, s = doc["machine"], doc["model"]
    lines.append(f"\nmodel: {s['layers']} x MatMul+Add+Relu, f32 [{s['batch']}, {s['width']}], "
                 f"{s['flops'] / 1e6:.0f} MFLOP per inference; {doc['runs']} run(s) x {doc['iterations']} "
                 f"iterations per variant, interleaved; device {doc['device']}")
    lines.append(f"machine: {m['cpu']}, {m['cpus']} CPUs; load average {m['load_before']} before, "
                 f"{m['load_after']} after")
    for tag in doc["platforms"]:
        p = doc["platforms"][tag]
        upx = p.get("upx")
        lines.append(f"{PLATFORM_TITLES[tag]}: OpenVINO {p['openvino_version']}, {p['runner']}"
                     + (f"; UPX {upx['version']} --force, {upx['seconds']:.1f} s" if upx else ""))
    caches = [cells[c]["page_cache"] for c in cols]
    if all(c["dropped_before_each_run"] for c in caches):
        left = [c["resident_after_max"] for c in caches]
        lines.append("page cache: each variant's library files dropped before each run (fsync + "
                     "POSIX_FADV_DONTNEED), read from disk"
                     + ("" if None in left else f"; at most {_mb(max(left))} of them still cached after"))
    else:
        lines.append("page cache: not dropped before every run (no posix_fadvise here): memory depends on how "
                     "the files sit in it")
    for (t, n), title in zip(cols, titles, strict=True):
        for failure in cells[(t, n)]["failed"]:
            lines.append(f"{title} FAILED: {failure}")
    return "\n".join(lines)


def _sum(steps: dict, names: tuple[str, ...]) -> float | None:
    values = [steps.get(n) for n in names]
    return None if any(x is None for x in values) else sum(values)


def _ms(x: float) -> str:
    return f"{x * 1000:.0f} ms"


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("source", nargs="?", default="openvino==2026.4.1",
                        help="a requirement fetched for each platform (default openvino==2026.4.1)")
    parser.add_argument("--platform", choices=PLATFORMS, action="append",
                        help="one platform only (repeatable; default both)")
    parser.add_argument("--short", action="store_true",
                        help="the bundle alone on each platform, one run of a few iterations (for CI)")
    parser.add_argument("--json", type=Path, default=Path("bench_infer.json"), help="where to write the JSON")
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per variant (default 3)")
    parser.add_argument("--iterations", type=int, default=200, help="inferences per measurement (default 200)")
    parser.add_argument("--requests", type=int, default=0,
                        help="N for the throughput with N requests (default: OPTIMAL_NUMBER_OF_INFER_REQUESTS)")
    parser.add_argument("--variants", help="comma-separated, of full,bundle,tbb,upx (default full,bundle,upx)")
    parser.add_argument("--batch", type=int, default=ModelShape.batch)
    parser.add_argument("--width", type=int, default=ModelShape.width)
    parser.add_argument("--layers", type=int, default=ModelShape.layers)
    parser.add_argument("--work", type=Path, help="folder for the bundles and the model (default: temporary)")
    parser.add_argument("--upx", default=os.environ.get("NPUSLIM_UPX") or "upx", help="UPX 4+ binary")
    parser.add_argument("--device", default="CPU")
    args = parser.parse_args(argv)

    tags = tuple(args.platform or PLATFORMS)
    wanted = tuple(args.variants.split(",")) if args.variants else (("bundle",) if args.short else DEFAULT_VARIANTS)
    runs = 1 if args.short else max(1, args.runs)
    iterations = min(args.iterations, 10) if args.short else max(1, args.iterations)
    shape = ModelShape(args.batch, args.width, args.layers)
    upx = shutil.which(args.upx)
    if upx is not None and upx_version(upx) < (4,):
        upx = None
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-infer-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        model = write_model(work / "model", shape)
        runners = {tag: runner_for(tag) for tag in tags}
        timers = {tag: build_timer(tag) for tag in tags}
        variants: list[Variant] = []
        infos: dict[str, dict] = {}
        for tag in tags:
            names = tuple(n for n in VARIANTS[tag] if n in wanted)
            got, infos[tag] = prepare(tag, args.source, work, names, upx)
            variants += got
    except SetupError as exc:
        print(f"bench_infer: {exc}", file=sys.stderr)
        return 2

    load_before = _load()
    results: dict[str, list[TimerRun]] = {v.key: [] for v in variants}
    no_fadvise_said = False
    if not args.short:
        for v in variants:  # warm-up: the page cache, Wine's first start
            run_timer(runners[v.platform], timers[v.platform], v, model, args.device, 5, 1)
    for _ in range(runs):
        for v in variants:
            dropped = drop_page_cache([v.lib_dir])
            if dropped is None and not no_fadvise_said:
                print("bench_infer: no os.posix_fadvise here: the libraries stay in the page cache as they are",
                      file=sys.stderr)
                no_fadvise_said = True
            run = run_timer(runners[v.platform], timers[v.platform], v, model, args.device, iterations,
                            args.requests)
            run.page_cache = dropped
            results[v.key].append(run)
    load_after = _load()

    doc = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "source": args.source,
        "device": args.device,
        "runs": runs,
        "iterations": iterations,
        "requests": args.requests or "optimal",
        "model": {"batch": shape.batch, "width": shape.width, "layers": shape.layers, "flops": shape.flops,
                  "weights_bytes": model[1].stat().st_size},
        "machine": {"cpu": _cpu_name(), "cpus": os.cpu_count(), "system": platform.platform(),
                    "load_before": load_before, "load_after": load_after},
        "platforms": {
            tag: {"runner": runners[tag].kind, **infos[tag],
                  "variants": {v.name: summarise(v, results[v.key]) for v in variants if v.platform == tag}}
            for tag in tags
        },
    }
    args.json.write_text(json.dumps(doc, indent=2) + "\n")
    print(render(doc))
    print(f"\nJSON: {args.json}")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if any(v["failed"] for p in doc["platforms"].values() for v in p["variants"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
