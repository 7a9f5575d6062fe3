#!/usr/bin/env python3
"""Time ``npuslim deps`` end to end against ``objdump -p`` on the same DLLs.

Each run is a fresh process (interpreter start included), the two commands
alternate so that both see the same cache and machine state, and the report
gives medians, their ratio and each command's peak resident memory (from
``wait4``). Usage::

    python benchmarks/bench_deps.py [SOURCE] [--runs N] [--format json|tree]

SOURCE defaults to openvino==2026.4.1 (fetched once into npuslim's cache).
``--platform manylinux_2_28_x86_64`` times the Linux (ELF) closure instead,
against the system's ``objdump -p``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time


def run_once(cmd: list[str]) -> tuple[float, int, int]:
    """Wall seconds, peak RSS in kB and exit status of one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    return elapsed, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", default="openvino==2026.4.1")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--format", default="json", choices=["json", "tree", "table"])
    parser.add_argument("--platform", default=None, help="wheel platform tag for a requirement source")
    parser.add_argument("--objdump", default=None,
                        help="default: x86_64-w64-mingw32-objdump for Windows DLLs, objdump for ELF")
    args = parser.parse_args()

    linux = args.platform is not None and "linux" in args.platform
    tool = args.objdump or ("objdump" if linux else "x86_64-w64-mingw32-objdump")
    objdump = shutil.which(tool)
    if objdump is None:
        print(f"{tool} not found (apt-get install binutils binutils-mingw-w64-x86-64)", file=sys.stderr)
        return 2
    base = [sys.executable, "-m", "npuslim", "deps", args.source]
    if args.platform:
        base += ["--platform", args.platform]
    npuslim = [*base, "--format", args.format]
    first = subprocess.run([*base, "--format", "json"], capture_output=True, text=True)
    if first.returncode != 0:
        print(first.stderr.strip(), file=sys.stderr)
        return 2
    graph = json.loads(first.stdout)
    dlls = [n["path"] for n in graph["nodes"] if n["class"] == "bundled"]
    objdump_cmd = [objdump, "-p", *dlls]

    times: dict[str, list[float]] = {"npuslim": [], "objdump": []}
    peaks: dict[str, int] = {"npuslim": 0, "objdump": 0}
    for _ in range(args.runs):
        for name, cmd in (("npuslim", npuslim), ("objdump", objdump_cmd)):
            elapsed, rss, code = run_once(cmd)
            if code != 0:
                print(f"{name} exited {code}: {' '.join(cmd)}", file=sys.stderr)
                return 2
            times[name].append(elapsed)
            peaks[name] = max(peaks[name], rss)

    med = {k: statistics.median(v) for k, v in times.items()}
    total = sum(n["size"] for n in graph["nodes"] if n["class"] == "bundled")
    print(f"source: {args.source} (OpenVINO {graph['source']['openvino_version']})")
    kind = "shared objects" if graph["source"].get("platform") == "linux" else "DLLs"
    print(f"closure: {len(dlls)} {kind}, {total / 1e6:.1f} MB; {args.runs} alternating runs each")
    for name in ("npuslim", "objdump"):
        print(f"  {name:8} median {med[name]:.3f} s  min {min(times[name]):.3f} s  "
              f"peak RSS {peaks[name] / 1024:.1f} MB")
    print(f"ratio npuslim/objdump (median): {med['npuslim'] / med['objdump']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
