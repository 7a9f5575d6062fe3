"""Loading a bundle through the Windows loader: natively on Windows, under Wine elsewhere.

A small C program (``npuslim/probe/ov_probe.c``, built with mingw-w64 and
cached by the hash of its source) loads the bundle's ``openvino_c.dll`` the way
an application does and reports each step: the C API loads (every import
resolved), the version is read, a core is created, an IR model held in memory
is read, the device plugin is found and asked for its devices. Parsing what it
printed is kept apart from running it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from npuslim.errors import ToolError
from npuslim.plan import BIN
from npuslim.sources import cache_dir
from npuslim.tools import run_tool

REQUIRED_STEPS = ("load_c_api", "version", "core_create", "read_model", "plugin")
STEP_TITLES = {
    "load_c_api": "C API DLL loads (every import-table dependency resolved)",
    "resolve_api": "C API exports found",
    "version": "OpenVINO version read",
    "core_create": "ov_core_create",
    "read_model": "IR model read from memory (IR frontend)",
    "plugin": "device plugin found and loaded",
    "devices": "devices reported by the plugin",
    "device": "model compiled on the device",
}
MSVC_RUNTIME_NATIVE = ("msvcp140", "vcruntime140", "vcruntime140_1")
_STEP = re.compile(r"^STEP (\S+) (OK|FAIL) ?(.*)$")
_WINE_MISSING = re.compile(r'Library (\S+) \(which is needed by L"([^"]+)"\) not found')


@dataclass(frozen=True)
class LoadStep:
    name: str
    ok: bool
    detail: str

    @property
    def title(self) -> str:
        return STEP_TITLES.get(self.name, self.name)


@dataclass(frozen=True)
class LoadResult:
    bundle: Path
    runner: str
    device: str
    msvc_runtime: str
    steps: tuple[LoadStep, ...]
    missing: tuple[tuple[str, str], ...]  # (library, needed by)
    ok: bool
    verdict: str


def parse_probe_output(text: str) -> tuple[LoadStep, ...]:
    """The ``STEP name OK|FAIL detail`` lines the probe printed."""
    steps = []
    for line in text.splitlines():
        m = _STEP.match(line.strip())
        if m:
            steps.append(LoadStep(m.group(1), m.group(2) == "OK", m.group(3).strip()))
    return tuple(steps)


def parse_wine_missing(text: str) -> tuple[tuple[str, str], ...]:
    """Wine's ``Library X (which is needed by L"...\\Y") not found`` lines -> ((X, Y), ...)."""
    found: list[tuple[str, str]] = []
    for lib, needer in _WINE_MISSING.findall(text):
        pair = (lib, needer.replace("\\\\", "\\").split("\\")[-1])
        if pair not in found:
            found.append(pair)
    return tuple(found)


def _not_found(missing: tuple[tuple[str, str], ...], bin_names: set[str]) -> str:
    """Wine names every DLL that failed, causes and consequences alike; a DLL that is in
    the bundle failed because of another one, so the root causes are those that are not."""
    needers: dict[str, list[str]] = {}
    for lib, needer in missing:
        needers.setdefault(lib, []).append(needer)
    roots = [lib for lib in needers if lib.lower() not in bin_names] or list(needers)
    return "; ".join(f"{lib} not found (needed by {', '.join(needers[lib])})" for lib in roots)


def judge(steps: tuple[LoadStep, ...], missing: tuple[tuple[str, str], ...], bin_names: set[str],
          device: str) -> tuple[bool, str]:
    """Whether the bundle loaded, and one sentence saying what happened."""
    by_name = {s.name: s for s in steps}
    for name in REQUIRED_STEPS:
        step = by_name.get(name)
        if step is not None and step.ok:
            continue
        if name == "load_c_api":
            if missing:
                return False, "openvino_c.dll did not load: " + _not_found(missing, bin_names)
            return False, f"openvino_c.dll did not load: {step.detail if step else 'the probe did not run'}"
        if step is None:
            return False, f"the probe stopped before '{STEP_TITLES.get(name, name)}'"
        if name == "read_model" and "openvino_ir_frontend.dll" not in bin_names:
            return False, f"reading an IR model failed (openvino_ir_frontend.dll is not in the bundle): {step.detail}"
        if name == "plugin":
            plugin = f"openvino_intel_{device.lower()}_plugin.dll"
            if plugin not in bin_names:
                return False, (f"the {device} device is not registered ({plugin} is not in the bundle): "
                               f"{step.detail}")
            if missing:
                return False, f"the {device} plugin did not load: " + _not_found(missing, bin_names)
        return False, f"{STEP_TITLES.get(name, name)} failed: {step.detail}"
    devices = by_name.get("devices")
    compiled = by_name.get("device")
    if compiled is not None and compiled.ok:
        return True, f"the bundle loads and compiles a model on the {device}"
    if devices is not None and not devices.ok:
        return True, (f"the bundle loads; the {device} plugin ran and found no {device} device on this "
                      "machine (expected without the hardware and its driver)")
    return True, f"the bundle loads; the {device} plugin ran ({compiled.detail if compiled else 'no compile step'})"


def probe_source() -> bytes:
    return resources.files("npuslim").joinpath("probe/ov_probe.c").read_bytes()


def build_probe() -> Path:
    """The probe executable, built once per source hash with mingw-w64 into the cache."""
    source = probe_source()
    digest = hashlib.sha256(source).hexdigest()[:16]
    target = cache_dir() / "probe" / digest / "ov_probe.exe"
    if target.is_file():
        return target
    gcc = shutil.which("x86_64-w64-mingw32-gcc") or (shutil.which("gcc") if sys.platform == "win32" else None)
    if gcc is None:
        raise ToolError("x86_64-w64-mingw32-gcc not found: the load probe is built with mingw-w64 "
                        "(apt-get install gcc-mingw-w64-x86-64-win32)")
    target.parent.mkdir(parents=True, exist_ok=True)
    src = target.with_suffix(".c")
    src.write_bytes(source)
    tmp = target.with_name(f".ov_probe.{os.getpid()}.exe")
    run = run_tool([gcc, "-O2", "-Wall", "-o", str(tmp), str(src)])
    if run.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise ToolError(f"building the load probe failed: {run.output.strip()[-500:]}")
    os.replace(tmp, target)
    return target


def find_runner() -> tuple[str, list[str]]:
    """How to run a Windows program here: natively on Windows, else Wine (64-bit)."""
    if sys.platform == "win32":
        return "native", []
    for candidate in ("wine64", "/usr/lib/wine/wine64", "wine"):
        path = shutil.which(candidate) or (candidate if os.path.isfile(candidate) else None)
        if path:
            return "wine", [path]
    raise ToolError("Wine not found: verify --load runs the bundle through the Windows loader "
                    "(apt-get install wine wine64), or run it on Windows")


def _windows_path(path: Path, runner: str) -> str:
    path = path.resolve()
    return str(path) if runner == "native" else "Z:" + str(path).replace("/", "\\")


DEFAULT_LOAD_TIMEOUT = 180.0


def run_probe(args: list[str], *, timeout: float, env: dict[str, str]) -> tuple[int | None, str]:
    """Run the probe in its own process group; ``(exit status, output)``, status ``None`` when it
    did not finish within ``timeout`` seconds (the whole group is killed then, so a DllMain that
    never returns cannot keep npuslim waiting)."""
    kwargs: dict = {"start_new_session": True} if os.name == "posix" else {
        "creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}
    try:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, **kwargs)
    except OSError as exc:
        raise ToolError(f"{args[0]}: cannot run ({exc.strerror or exc})") from exc
    try:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        try:
            out, _ = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            out = b""
        return None, (out or b"").decode("utf-8", "replace")
    except BaseException:
        _kill_group(proc)
        raise


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except OSError:
        pass


def load_bundle(bundle: Path, *, device: str = "NPU", msvc_runtime: str = "system",
                timeout: float = DEFAULT_LOAD_TIMEOUT) -> LoadResult:
    """Run the probe against ``bundle/bin/openvino_c.dll`` and judge what it printed.

    A probe that does not finish within ``timeout`` seconds is a failed load
    (a DllMain that never returns), not a tool error.
    """
    bin_dir = bundle / BIN
    c_api = bin_dir / "openvino_c.dll"
    if not c_api.is_file():
        raise ToolError(f"{bundle}: no bin/openvino_c.dll (extracted --without c-api?): the load check "
                        "goes through OpenVINO's C API")
    runner, prefix = find_runner()
    probe = build_probe()
    env = dict(os.environ)
    overrides = ["mscoree,mshtml=", "winemenubuilder.exe=d"]
    if msvc_runtime == "bundled":
        # Microsoft's runtime only: Wine's own replacements are not allowed to stand in.
        overrides.append(",".join(MSVC_RUNTIME_NATIVE) + "=n")
    if runner == "wine":
        prefix_dir = cache_dir() / "wine-prefix"
        prefix_dir.parent.mkdir(parents=True, exist_ok=True)
        env.update({"WINEPREFIX": str(prefix_dir), "WINEDEBUG": "-all,err+module",
                    "WINEDLLOVERRIDES": ";".join(overrides), "WINEARCH": "win64"})
    returncode, output = run_probe([*prefix, str(probe), _windows_path(c_api, runner), device],
                                   timeout=timeout, env=env)
    steps = parse_probe_output(output)
    missing = parse_wine_missing(output)
    bin_names = {p.name.lower() for p in bin_dir.iterdir()}
    ok, verdict = judge(steps, missing, bin_names, device)
    if returncode is None:
        last = steps[-1].title if steps else "loading openvino_c.dll"
        ok, verdict = False, (f"the load did not finish within {timeout:g} s (after: {last}); a DLL's "
                              "initialisation (DllMain) never returned")
    elif not steps and not missing:
        tail = " ".join(output.strip().splitlines()[-3:])
        verdict = f"the probe printed nothing (exit {returncode}): {tail}"
    return LoadResult(bundle, runner, device, msvc_runtime, steps, missing, ok, verdict)
