#!/usr/bin/env python3
"""Time ``npuslim pack`` on a real bundle against its targets, side by side in one run.

Measured, each as a fresh process (interpreter start included), peak memory
from ``wait4``:

1. ``pack --strip --archive zip`` with an empty pack cache      (target <= 3 s)
2. the same command again: an identical rerun                   (target <= 1.0 s)
3. UPX alone: ``upx --force`` on the bundle's DLLs, one process per DLL,
   ``--jobs`` at a time (the yardstick)
4. ``pack --strip --upx --upx-force-cfg --archive zip`` with an empty pack
   cache and the same ``--jobs``                                (target <= 1.5x step 3)

Peak memory of every pack run: target <= 150 MB. The pack cache is a fresh
temporary folder (``NPUSLIM_CACHE_DIR``); the bundle is extracted first with
the caller's cache. Usage::

    python benchmarks/bench_pack.py [SOURCE] [--jobs N] [--upx PATH] [--runs N] [--json]

SOURCE defaults to openvino==2026.4.1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CPU: list[float] = []  # CPU seconds of each pack process and its children (a busy machine stretches wall time)
TARGETS = {"strip_zip_cold": 3.0, "identical_rerun": 1.0, "upx_ratio": 1.5, "peak_mb": 150.0}


def run_once(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MB and exit status of one process (its CPU seconds go to ``CPU``)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    CPU.append(usage.ru_utime + usage.ru_stime)
    if code != 0:
        sys.stderr.write(err.decode(errors="replace"))
    return elapsed, usage.ru_maxrss / 1024, code


def upx_alone(upx: str, dlls: list[Path], work: Path, jobs: int) -> float:
    """Seconds for ``upx --force`` on every DLL, ``jobs`` processes at a time."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()

    def one(dll: Path) -> int:
        return subprocess.run([upx, "--force", "-q", "-o", str(work / dll.name), str(dll)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode

    start = time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        codes = list(pool.map(one, sorted(dlls, key=lambda p: -p.stat().st_size)))
    elapsed = time.perf_counter() - start
    if any(codes):
        raise SystemExit(f"upx failed on some DLL: {codes}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", default="openvino==2026.4.1")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--upx", default=shutil.which("upx") or shutil.which("upx-ucl"))
    parser.add_argument("--runs", type=int, default=1, help="repeat each measurement; medians are reported")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if not args.upx:
        print("UPX 4 not found (Debian/Ubuntu: apt-get install upx-ucl)", file=sys.stderr)
        return 2

    npuslim = [sys.executable, "-m", "npuslim"]
    with tempfile.TemporaryDirectory(prefix="bench-pack-") as tmp_name:
        tmp = Path(tmp_name)
        bundle = tmp / "bundle"
        extracted = subprocess.run([*npuslim, "extract", args.source, "-o", str(bundle)], capture_output=True,
                                   text=True)
        if extracted.returncode != 0:
            print(extracted.stderr.strip(), file=sys.stderr)
            return 2
        lock = json.loads((bundle / "npuslim-bundle.json").read_text())
        dlls = [bundle / f["path"] for f in lock["files"] if f["path"].lower().endswith(".dll")]
        strip_cmd = [*npuslim, "pack", str(bundle), "-o", str(tmp / "strip"), "--strip", "--archive", "zip",
                     "--jobs", str(args.jobs)]
        upx_cmd = [*npuslim, "pack", str(bundle), "-o", str(tmp / "upx"), "--strip", "--upx", "--upx-path",
                   args.upx, "--upx-force-cfg", "--archive", "zip", "--jobs", str(args.jobs)]

        times: dict[str, list[float]] = {"strip_zip_cold": [], "identical_rerun": [], "upx_alone": [],
                                         "pack_upx_cold": []}
        peaks: dict[str, float] = {}
        cpu: dict[str, list[float]] = {"strip_zip_cold": [], "identical_rerun": [], "pack_upx_cold": []}
        for run in range(args.runs):
            env = dict(os.environ, NPUSLIM_CACHE_DIR=str(tmp / f"cache-{run}-a"))
            for name, cmd in (("strip_zip_cold", strip_cmd), ("identical_rerun", strip_cmd)):
                elapsed, peak, code = run_once(cmd, env)
                if code != 0:
                    return 2
                times[name].append(elapsed)
                cpu[name].append(CPU[-1])
                peaks[name] = max(peaks.get(name, 0.0), peak)
            times["upx_alone"].append(upx_alone(args.upx, dlls, tmp / "upx-alone", args.jobs))
            env = dict(os.environ, NPUSLIM_CACHE_DIR=str(tmp / f"cache-{run}-b"))
            elapsed, peak, code = run_once(upx_cmd, env)
            if code != 0:
                return 2
            times["pack_upx_cold"].append(elapsed)
            cpu["pack_upx_cold"].append(CPU[-1])
            peaks["pack_upx_cold"] = max(peaks.get("pack_upx_cold", 0.0), peak)

        med = {k: statistics.median(v) for k, v in times.items()}
        ratio = med["pack_upx_cold"] / med["upx_alone"]
        peak = max(peaks.values())
        total = sum(p.stat().st_size for p in dlls)
        upx_version = subprocess.run([args.upx, "--version"], capture_output=True, text=True).stdout.split()[1]
        figures = {
            "source": args.source, "dlls": len(dlls), "dll_bytes": total, "jobs": args.jobs, "upx": upx_version,
            "runs": args.runs, "load_average": os.getloadavg()[0],
            "seconds": {k: round(v, 3) for k, v in med.items()}, "upx_ratio": round(ratio, 2),
            "cpu_seconds": {k: round(statistics.median(v), 3) for k, v in cpu.items()},
            "peak_mb": {k: round(v, 1) for k, v in peaks.items()},
            "targets_met": {
                "strip_zip_cold": med["strip_zip_cold"] <= TARGETS["strip_zip_cold"],
                "identical_rerun": med["identical_rerun"] <= TARGETS["identical_rerun"],
                "upx_ratio": ratio <= TARGETS["upx_ratio"],
                "peak_mb": peak <= TARGETS["peak_mb"],
            },
        }
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    met = figures["targets_met"]
    print(f"source: {args.source}; {len(dlls)} DLLs, {total / 1e6:.1f} MB; --jobs {args.jobs}; UPX {upx_version}; "
          f"{args.runs} run(s); load average {figures['load_average']:.2f}")
    print(f"  pack --strip --archive zip (empty cache)   {med['strip_zip_cold']:6.2f} s  "
          f"(target <= {TARGETS['strip_zip_cold']} s: {'met' if met['strip_zip_cold'] else 'MISSED'})")
    print(f"  the same again (identical rerun)           {med['identical_rerun']:6.2f} s  "
          f"(target <= {TARGETS['identical_rerun']} s: {'met' if met['identical_rerun'] else 'MISSED'})")
    print(f"  upx --force alone on the DLLs              {med['upx_alone']:6.2f} s")
    print(f"  pack --strip --upx --upx-force-cfg --archive zip (empty cache) {med['pack_upx_cold']:6.2f} s  "
          f"= {ratio:.2f}x UPX alone (target <= {TARGETS['upx_ratio']}x: {'met' if met['upx_ratio'] else 'MISSED'})")
    print("  CPU seconds (npuslim and the UPX it ran): "
          + ", ".join(f"{k} {v:.2f} s" for k, v in figures["cpu_seconds"].items()))
    print("  peak memory: " + ", ".join(f"{k} {v:.0f} MB" for k, v in peaks.items())
          + f" (target <= {TARGETS['peak_mb']:.0f} MB: {'met' if met['peak_mb'] else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
