#!/usr/bin/env python3
"""npuslim against the tools one would use by hand, side by side in one run.

Every row times a fresh npuslim process and its yardstick ("peer") in turn,
``--runs`` times, and reports medians of wall time and of CPU time (user +
system of the process and its children, from ``wait4``: less sensitive to a
busy machine than wall time), their ratios, npuslim's peak resident memory
(its own process tree, never this script's) and the target. The load
average is printed with the table: the targets are ratios on an idle
machine. A row whose peer is not installed is printed with what to install.

Rows: ``--help`` and ``--version`` (against a bare interpreter start); ``deps``
on the Windows closure against ``objdump -p`` of its DLLs and on the Linux
closure against ``lddtree``; ``verify`` against ``sha256sum -c`` of the same
files; ``pack --archive tar.xz`` against ``tar | xz --x86 --lzma2=preset=9e``
(sizes too); ``pack --upx`` against ``upx`` + ``upx -t`` at the same
parallelism; ``verify --load`` (sandbox on and off) against the bare probe
under Wine. Usage::

    python benchmarks/bench_compare.py [SOURCE] [--linux-source SOURCE] [--runs N] [--short]
                                       [--json FILE] [--work DIR] [--jobs N]

SOURCE defaults to openvino==2026.4.1 (a wheel, a folder or an install);
``--short`` runs everything once and leaves out the slow rows (pack --upx,
verify --load), each with a line that says so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCHEMA = ("npuslim.bench-compare", 1)
LINUX_PLATFORM = "manylinux_2_28_x86_64"
ROW_KEYS = ("startup", "deps", "verify", "xz", "upx", "load")


@dataclass(frozen=True)
class Sample:
    wall: float
    cpu: float
    peak_mb: float
    code: int


@dataclass
class Row:
    name: str
    target: str
    npuslim: list[Sample] = field(default_factory=list)
    peer: list[Sample] = field(default_factory=list)
    peer_name: str = ""
    skipped: str | None = None
    extra: dict[str, float] = field(default_factory=dict)

    def med(self, side: str, what: str) -> float | None:
        samples = getattr(self, side)
        return statistics.median(getattr(s, what) for s in samples) if samples else None

    def ratio(self, what: str) -> float | None:
        a, b = self.med("npuslim", what), self.med("peer", what)
        return a / b if a is not None and b else None

    def summary(self) -> dict[str, object]:
        out: dict[str, object] = {"name": self.name, "target": self.target, "peer_command": self.peer_name,
                                  "skipped": self.skipped, **self.extra}
        for side in ("npuslim", "peer"):
            out[side] = {"wall": self.med(side, "wall"), "cpu": self.med(side, "cpu"),
                         "runs": len(getattr(self, side))}
        out["ratio_wall"], out["ratio_cpu"] = self.ratio("wall"), self.ratio("cpu")
        out["npuslim_peak_mb"] = max((s.peak_mb for s in self.npuslim), default=None)
        return out


def run_once(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
             any_exit: bool = False) -> Sample:
    """One fresh process: wall and CPU seconds (with its children), peak RSS (MB), exit status
    (``any_exit``: every exit status counts as 0, for a probe whose status is its verdict)."""
    start = time.perf_counter()
    with open(os.devnull, "wb") as null, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=null, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        if any_exit:
            proc.returncode = 0
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace").strip().splitlines()[-3:]
            print(f"  exit {proc.returncode}: {shlex.join(cmd)[:160]}\n    " + "\n    ".join(tail), file=sys.stderr)
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode)


Step = Callable[[], Sample]


def interleave(row: Row, ours: Step, peer: Step | None, runs: int) -> Row:
    """``ours`` and ``peer`` in turn, ``runs`` times each (a failed run is kept out of the medians)."""
    for _ in range(runs):
        for side, step in (("npuslim", ours), ("peer", peer)):
            if step is None:
                continue
            sample = step()
            if sample.code == 0:
                getattr(row, side).append(sample)
    if peer is not None and not row.peer and row.skipped is None:
        row.skipped = "the peer failed on every run (its error is above)"
    return row


def npuslim_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "npuslim", *args]


def which(name: str) -> str | None:
    return shutil.which(name)


# -- the rows


def startup_rows(runs: int) -> list[Row]:
    bare = [sys.executable, "-c", "pass"]
    help_row = interleave(Row("npuslim --help", "none (rich renders the help)", peer_name="python -c pass"),
                          lambda: run_once(npuslim_cmd("--help"), env=dict(os.environ, COLUMNS="100")),
                          lambda: run_once(bare), runs)
    version_row = interleave(Row("npuslim --version (asks UPX, Wine, mingw)", "CPU <= 0.08 s",
                                 peer_name="python -c pass"),
                             lambda: run_once(npuslim_cmd("--version")), lambda: run_once(bare), runs)
    return [help_row, version_row]


def deps_row(name: str, source: str, platform_args: list[str], peer_tool: str, peer_args: list[str],
             install_hint: str, runs: int) -> Row:
    row = Row(name, "<= 1.0x", peer_name=f"{peer_tool} {' '.join(peer_args)}".strip())
    first = subprocess.run(npuslim_cmd("deps", source, *platform_args, "--format", "json"),
                           capture_output=True, text=True)
    if first.returncode not in (0, 3):
        row.skipped = f"npuslim deps failed: {first.stderr.strip()[-200:]}"
        return row
    files = [n["path"] for n in json.loads(first.stdout)["nodes"] if n["class"] == "bundled" and n.get("path")]
    tool = which(peer_tool)
    if tool is None:
        row.skipped = f"{peer_tool} not installed ({install_hint})"
    peer = None if tool is None else (lambda: run_once([*script_runner(tool), tool, *peer_args, *files]))
    row.extra["files"] = len(files)
    return interleave(row, lambda: run_once(npuslim_cmd("deps", source, *platform_args, "--format", "json")),
                      peer, runs)


def script_runner(tool: str) -> list[str]:
    """A Python script (pax-utils' lddtree) runs with the system's Python, which has its pyelftools."""
    with open(tool, "rb") as fh:
        first = fh.readline()
    return ["/usr/bin/python3"] if first.startswith(b"#!") and b"python" in first and \
        Path("/usr/bin/python3").is_file() else []


def verify_row(bundle: Path, runs: int) -> Row:
    row = Row("verify", "<= 1.2x", peer_name="sha256sum -c")
    lock = json.loads((bundle / "npuslim-bundle.json").read_text())
    listing = bundle.parent / f"{bundle.name}.sha256"
    listing.write_text("".join(f"{f['sha256']}  {f['path']}\n" for f in lock["files"] if not f.get("link_to")))
    tool = which("sha256sum")
    if tool is None:
        row.skipped = "sha256sum not installed (coreutils)"
    peer = None if tool is None else (lambda: run_once([tool, "-c", "--quiet", str(listing)], cwd=bundle))
    return interleave(row, lambda: run_once(npuslim_cmd("verify", str(bundle))), peer, runs)


# What no verify written on npuslim's libraries can go below: the interpreter, typer and rich
# imported, every file of the lock hashed on two threads; no lock parsed, no check, nothing printed.
FLOOR = """
import hashlib, json, sys, threading
import typer, rich.console, rich.text
files = [f["path"] for f in json.load(open("npuslim-bundle.json"))["files"] if not f.get("link_to")]
def digest(paths):
    for path in paths:
        with open(path, "rb") as fh:
            hashlib.file_digest(fh, "sha256")
threads = [threading.Thread(target=digest, args=(files[i::2],)) for i in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
"""


def verify_floor_row(bundle: Path, runs: int) -> Row:
    """The floor under the verify row: ``FLOOR`` against the same ``sha256sum -c``."""
    row = Row("  floor: Python + typer + rich + hashing", "(for the verify row)", peer_name="sha256sum -c")
    tool = which("sha256sum")
    if tool is None:
        row.skipped = "sha256sum not installed (coreutils)"
        return row
    listing = bundle.parent / f"{bundle.name}.sha256"
    return interleave(row, lambda: run_once([sys.executable, "-c", FLOOR], cwd=bundle),
                      lambda: run_once([tool, "-c", "--quiet", str(listing)], cwd=bundle), runs)


def archive_row(bundle: Path, work: Path, runs: int) -> Row:
    row = Row("pack --archive tar.xz (empty cache)", "size <= 1.03x, peak <= 150 MB",
              peer_name="tar | xz --x86 --lzma2=preset=9e")
    ours_archive, peer_archive = work / "xz-out.tar.xz", work / "peer.tar.xz"
    counter = iter(range(1 << 30))

    def ours() -> Sample:
        i = next(counter)
        cache = work / f"cache-xz-{i}"
        sample = run_once(npuslim_cmd("pack", str(bundle), "-o", str(work / "xz-out"), "--force", "--archive",
                                      "tar.xz"), env=dict(os.environ, NPUSLIM_CACHE_DIR=str(cache)))
        shutil.rmtree(cache, ignore_errors=True)
        return sample

    tar, xz = which("tar"), which("xz")
    peer = None
    if tar is None or xz is None:
        row.skipped = "tar or xz not installed (apt-get install tar xz-utils)"
    else:
        script = (f"{shlex.quote(tar)} --sort=name --owner=0 --group=0 -cf - -C {shlex.quote(str(bundle.parent))} "
                  f"{shlex.quote(bundle.name)} | {shlex.quote(xz)} --x86 --lzma2=preset=9e -T1 "
                  f"> {shlex.quote(str(peer_archive))}")
        peer = lambda: run_once(["sh", "-c", script])  # noqa: E731
    interleave(row, ours, peer, runs)
    if ours_archive.is_file():
        row.extra["npuslim_bytes"] = ours_archive.stat().st_size
    if peer_archive.is_file():
        row.extra["peer_bytes"] = peer_archive.stat().st_size
        if ours_archive.is_file():
            row.extra["size_ratio"] = ours_archive.stat().st_size / peer_archive.stat().st_size
    return row


def upx_row(bundle: Path, work: Path, jobs: int, runs: int) -> Row:
    row = Row(f"pack --upx (--jobs {jobs}, empty cache)", "<= 1.2x", peer_name=f"upx + upx -t, {jobs} at a time")
    upx = which("upx") or which("upx-ucl")
    if upx is None:
        row.skipped = "upx not installed (apt-get install upx-ucl)"
        return row
    dlls = sorted((bundle / "bin").glob("*.dll"), key=lambda p: -p.stat().st_size)
    counter = iter(range(1 << 30))

    def ours() -> Sample:
        cache = work / f"cache-upx-{next(counter)}"
        sample = run_once(npuslim_cmd("pack", str(bundle), "-o", str(work / "upx-out"), "--force", "--upx",
                                      "--upx-force-cfg", "--archive", "none", "--jobs", str(jobs)),
                          env=dict(os.environ, NPUSLIM_CACHE_DIR=str(cache)))
        shutil.rmtree(cache, ignore_errors=True)
        return sample

    out = work / "upx-peer"
    one = (f'o={shlex.quote(str(out))}/$(basename "$1"); rm -f "$o"; '
           f'{shlex.quote(upx)} -q --force -o "$o" "$1" && {shlex.quote(upx)} -q -t "$o"')
    script = f"mkdir -p {shlex.quote(str(out))}; printf '%s\\n' " + " ".join(shlex.quote(str(d)) for d in dlls) + \
        f" | xargs -P {jobs} -I{{}} sh -c {shlex.quote(one)} _ {{}}"
    return interleave(row, ours, lambda: run_once(["sh", "-c", script]), runs)


def load_rows(bundle: Path, runs: int) -> list[Row]:
    """``verify --load`` with and without the sandbox against the probe alone under Wine."""
    rows = [Row("verify --load (sandbox auto)", "<= 1.3x", peer_name="the probe under wine64"),
            Row("verify --load --sandbox off", "<= 1.3x", peer_name="the probe under wine64")]
    try:
        from npuslim.check.load_windows import _windows_path, _wine_env, _wineserver, build_probe, find_runner

        runner, prefix = find_runner()
        probe = build_probe("ov_probe")
    except Exception as exc:
        for row in rows:
            row.skipped = f"no Wine probe: {exc}"
        return rows
    env = _wine_env("system", runner)  # verify --load's default --msvc-runtime
    c_api = bundle / "bin" / "openvino_c.dll"
    bare = [*prefix, str(probe), _windows_path(c_api, runner), "NPU"]
    server = _wineserver(prefix[0]) if runner == "wine" else None

    def cold(cmd: list[str], **kw: object) -> Sample:
        """Every run starts without a wineserver (one left running would serve the next run)."""
        if server is not None:
            subprocess.run([server, "-k"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            subprocess.run([server, "-w"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return run_once(cmd, **kw)  # type: ignore[arg-type]

    for row, extra in zip(rows, ([], ["--sandbox", "off"]), strict=True):
        row.target += " (cold wineserver each run)"
        interleave(row, lambda extra=extra: cold(npuslim_cmd("verify", str(bundle), "--load", *extra)),
                   lambda: cold(bare, env=env, any_exit=True), runs)
    return rows


# -- the report


def fmt(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:.2f}{unit}"


def print_table(rows: list[Row], loads: tuple[tuple[float, ...], tuple[float, ...]], steal: float | None) -> None:
    stolen = "" if steal is None else f"; {steal:.1%} of the CPU time stolen by the hypervisor"
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; load average {loads[0][0]:.2f} before, {loads[1][0]:.2f} after{stolen}")
    head = ("row", "npuslim wall", "CPU", "peer wall", "CPU", "ratio wall", "ratio CPU", "peak MB", "target")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        if row.skipped and not row.npuslim:
            print(f"| {row.name} | skipped: {row.skipped} |")
            continue
        s = row.summary()
        ours, peer = s["npuslim"], s["peer"]
        assert isinstance(ours, dict) and isinstance(peer, dict)
        cells = (row.name, fmt(ours["wall"], " s"), fmt(ours["cpu"], " s"), fmt(peer["wall"], " s"),
                 fmt(peer["cpu"], " s"), fmt(row.ratio("wall"), "x"), fmt(row.ratio("cpu"), "x"),
                 fmt(s["npuslim_peak_mb"]), row.target)
        print("| " + " | ".join(str(c) for c in cells) + " |")
        if row.skipped:
            print(f"|   (peer skipped: {row.skipped}) |")
        if "size_ratio" in row.extra:
            print(f"|   sizes: npuslim {row.extra['npuslim_bytes']:,.0f} B, peer {row.extra['peer_bytes']:,.0f} B "
                  f"({row.extra['size_ratio']:.4f}x) |")


def prepare(source: str, out: Path, platform_args: list[str]) -> Path | None:
    if (out / "npuslim-bundle.json").is_file():
        return out
    done = subprocess.run(npuslim_cmd("extract", source, *platform_args, "-o", str(out)), capture_output=True,
                          text=True)
    if done.returncode != 0:
        print(f"extract {source} failed: {done.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    return out


def measure(args: argparse.Namespace, keys: set[str], runs: int, work: Path, linux_source: str | None) -> list[Row]:
    rows = startup_rows(runs) if "startup" in keys else []
    if "deps" in keys:
        rows.append(deps_row("deps (Windows closure)", args.source, [], "x86_64-w64-mingw32-objdump", ["-p"],
                             "apt-get install binutils-mingw-w64-x86-64", runs))
        if linux_source is None:
            rows.append(Row("deps (Linux closure)", "<= 1.0x", skipped="no Linux source (--linux-source)"))
        else:
            rows.append(deps_row("deps (Linux closure)", linux_source, ["--platform", LINUX_PLATFORM], "lddtree",
                                 [], "apt-get install pax-utils python3-pyelftools", runs))
    if not keys & {"verify", "xz", "upx", "load"}:
        return rows
    bundle = prepare(args.source, work / "bundle", [])
    if bundle is None:
        return [*rows, Row("verify, pack, verify --load", "", skipped="the bundle could not be extracted")]
    if "verify" in keys:
        rows.append(verify_row(bundle, runs))
        rows.append(verify_floor_row(bundle, runs))
    if "xz" in keys:
        rows.append(archive_row(bundle, work, runs))
    if args.short:
        rows.append(Row("pack --upx", "<= 1.2x", skipped="left out by --short"))
        rows.append(Row("verify --load", "<= 1.3x", skipped="left out by --short"))
        return rows
    if "upx" in keys:
        rows.append(upx_row(bundle, work, args.jobs, runs))
    if "load" in keys:
        rows.extend(load_rows(bundle, runs))
    return rows


def cpu_times() -> tuple[int, int] | None:
    """(all CPU ticks, ticks stolen by the hypervisor) so far, from ``/proc/stat``; ``None`` elsewhere."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return sum(fields[:8]), fields[7] if len(fields) > 7 else 0


def compile_npuslim() -> None:
    """npuslim's modules compiled to bytecode first, as ``pip install`` leaves them: an editable
    checkout run with ``PYTHONDONTWRITEBYTECODE`` set would otherwise compile every module in
    every timed run (about 0.1 s that no installed copy spends)."""
    import compileall

    import npuslim

    compileall.compile_dir(str(Path(npuslim.__file__).parent), quiet=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", default="openvino==2026.4.1")
    parser.add_argument("--linux-source", default=None,
                        help=f"default: SOURCE with --platform {LINUX_PLATFORM} when SOURCE is a requirement")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--short", action="store_true", help="one run each; no pack --upx, no verify --load")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--rows", default=",".join(ROW_KEYS), help=f"which rows, of {','.join(ROW_KEYS)}")
    args = parser.parse_args()
    runs = 1 if args.short else args.runs
    work = args.work or Path(tempfile.mkdtemp(prefix="npuslim-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    linux_source = args.linux_source or (args.source if "==" in args.source else None)
    compile_npuslim()
    loads = [os.getloadavg()]
    ticks = cpu_times()
    rows = measure(args, set(args.rows.split(",")), runs, work, linux_source)
    loads.append(os.getloadavg())
    after = cpu_times()
    steal = (after[1] - ticks[1]) / max(after[0] - ticks[0], 1) if ticks and after else None
    print_table(rows, (loads[0], loads[1]), steal)
    if args.json is not None:
        doc = {"schema": SCHEMA[0], "schema_version": SCHEMA[1], "runs": runs, "short": args.short,
               "machine": {"node": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version()},
               "load_average": {"before": list(loads[0]), "after": list(loads[1])}, "cpu_steal": steal,
               "rows": [r.summary() for r in rows]}
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
