"""Loading a bundle through the Windows loader: natively on Windows, under Wine elsewhere.

A small C program (``npuslim/probe/ov_probe.c``, built with mingw-w64 and
cached by the hash of its source) loads the bundle's ``openvino_c.dll`` the way
an application does and reports each step: the C API loads (every import
resolved), the version is read, a core is created, an IR model held in memory
is read, the device plugin is found and asked for its devices. Parsing what it
printed is kept apart from running it.

A bundle without the C API (OpenVINO 2024.0 - 2024.2 wheels ship none) is
checked as far as the loader alone can: every DLL of ``bin/`` is loaded (imports
resolved, DllMain run). A DLL the target's driver provides (``ze_loader.dll``,
statically imported by those releases' NPU plugin) is stood in for by a stub
built from the names the bundle imports, whose every function fails; the
verdict says what was not checked.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from npuslim import atomic
from npuslim.check import probes
from npuslim.errors import InputError, ToolError
from npuslim.formats.pe import read_pe
from npuslim.layout import BIN, LOCK_FILE
from npuslim.source.locate import cache_dir
from npuslim.tools import kill_group, run_tool

REQUIRED_STEPS = ("load_c_api", "version", "core_create", "read_model", "plugin")
ORT_DLL = "onnxruntime.dll"
STEP_TITLES = {
    "load_ort": "onnxruntime.dll loads (every import-table dependency resolved)",
    "api": "ONNX Runtime C API table (OrtGetApiBase)",
    "env": "OrtEnv created",
    "session_options": "session options created",
    "provider": "OpenVINO execution provider appended (loads the provider and OpenVINO)",
    "session": "ONNX model compiled into a session",
    "run": "one inference, outputs checked",
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


def build_probe(name: str = "ov_probe") -> Path:
    """A Windows probe executable (``ov_probe``, ``ort_probe``), built with mingw-w64 once per source."""
    return probes.build_probe(name, _mingw_gcc(), ["-lshell32"], suffix=".exe")


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


def _mingw_gcc() -> str:
    gcc = shutil.which("x86_64-w64-mingw32-gcc") or (shutil.which("gcc") if sys.platform == "win32" else None)
    if gcc is None:
        raise ToolError("x86_64-w64-mingw32-gcc not found: the load probe is built with mingw-w64 "
                        "(apt-get install gcc-mingw-w64-x86-64-win32)")
    return gcc


def driver_imports(bin_dir: Path, driver_dlls: set[str]) -> dict[str, tuple[str, ...]]:
    """For each driver-provided DLL that a DLL of ``bin_dir`` imports statically, the
    function names imported from it (sorted); reads import names only where needed."""
    from npuslim.formats.pe_tables import read_symbol_tables

    wanted: dict[str, set[str]] = {}
    for path in sorted(bin_dir.iterdir()):
        if path.suffix.lower() != ".dll" or not path.is_file():
            continue
        try:
            hits = {n.lower() for n in read_pe(path).imports} & driver_dlls
        except InputError:
            continue  # verify reports it; the loader step fails on it by name

        if not hits:
            continue
        for sym in read_symbol_tables(path, exports=False).imports:
            if sym.dll.lower() in hits and sym.name and not sym.delay:
                wanted.setdefault(sym.dll.lower(), set()).add(sym.name)
    return {dll: tuple(sorted(names)) for dll, names in sorted(wanted.items())}


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def stub_source(dll: str, functions: tuple[str, ...]) -> str:
    """C source of a stand-in for ``dll`` exporting ``functions``, each returning
    ZE_RESULT_ERROR_UNINITIALIZED (0x78000001): loadable, never usable."""
    lines = [f"/* npuslim stand-in for {dll}: every function fails (ZE_RESULT_ERROR_UNINITIALIZED). */"]
    for name in functions:
        if not _IDENTIFIER.match(name):
            raise ToolError(f"cannot build a stand-in for {dll}: {name!r} is not a C identifier")
        lines.append(f"__declspec(dllexport) unsigned int {name}(void) {{ return 0x78000001u; }}")
    return "\n".join(lines) + "\n"


def build_stub(dll: str, functions: tuple[str, ...]) -> Path:
    """The stand-in DLL, built with mingw-w64 once per (name, functions) into the cache."""
    source = stub_source(dll, functions)
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    target = cache_dir() / "stubs" / digest / dll
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    src = target.parent / f".stub.{os.getpid()}.c"
    src.write_text(source, encoding="utf-8")
    with atomic.replacing(target) as tmp:
        run = run_tool([_mingw_gcc(), "-shared", "-O2", "-o", str(tmp), str(src)])
        src.unlink(missing_ok=True)
        if run.returncode != 0:
            raise ToolError(f"building a stand-in for {dll} failed: {run.output.strip()[-500:]}")
    return target


def _bundle_drivers(bundle: Path) -> set[str]:
    """Driver-provided DLL names the lock file lists among the target's requirements."""
    import json

    try:
        data = json.loads((bundle / LOCK_FILE).read_text(encoding="utf-8"))
        return {str(d).lower() for r in data.get("requirements", ()) if r.get("kind") == "driver"
                for d in r.get("dlls", ())}
    except (OSError, ValueError, AttributeError):
        return {"ze_loader.dll"}


def _wine_env(msvc_runtime: str, runner: str) -> dict[str, str]:
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
    return env


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
        kill_group(proc)
        try:
            out, _ = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            out = b""
        return None, (out or b"").decode("utf-8", "replace")
    except BaseException:
        kill_group(proc)
        raise


def _crashed(returncode: int | None, steps: tuple[LoadStep, ...]) -> str | None:
    """The probes exit 0 (ran to the end) or 1 (stopped at a failed step); anything else is a
    crash, which a verdict must not hide even when every printed step passed."""
    if returncode in (None, 0, 1):
        return None
    last = steps[-1].title if steps else "start"
    return f"the probe crashed (exit {returncode}) after: {last}"


def _probe_failure(returncode: int | None, output: str, steps: tuple[LoadStep, ...], *, timeout: float,
                   first: str, silent: bool) -> str | None:
    """The verdict that overrules what the probe's steps say, or ``None``: it did not finish,
    it crashed after its steps, or it printed nothing (``silent``)."""
    crash = _crashed(returncode, steps)
    if returncode is None:
        return _unfinished(steps, timeout, first)
    if crash and steps:
        return crash
    if silent:
        tail = " ".join(output.strip().splitlines()[-3:])
        return f"the probe printed nothing (exit {returncode}): {tail}"
    return None


def _unfinished(steps: tuple[LoadStep, ...], timeout: float, first: str) -> str:
    last = steps[-1].title if steps else first
    return (f"the load did not finish within {timeout:g} s (after: {last}); a DLL's initialisation "
            "(DllMain) never returned")


def load_bundle(bundle: Path, *, device: str = "NPU", msvc_runtime: str = "system",
                timeout: float = DEFAULT_LOAD_TIMEOUT) -> LoadResult:
    """Run the probe against ``bundle/bin/openvino_c.dll`` and judge what it printed
    (without the C API: load every DLL, see the module docstring)."""
    if _is_linux_bundle(bundle):
        from npuslim.check.load_linux import load_linux_bundle

        return load_linux_bundle(bundle, device=device, msvc_runtime=msvc_runtime, timeout=timeout)
    bin_dir = bundle / BIN
    c_api = bin_dir / "openvino_c.dll"
    if not bin_dir.is_dir():
        raise ToolError(f"{bundle}: no bin/ folder to load")
    runner, prefix = find_runner()
    if (bin_dir / ORT_DLL).is_file():
        return _load_onnxruntime(bundle, runner, prefix, device, msvc_runtime, timeout)
    probe = build_probe()
    env = _wine_env(msvc_runtime, runner)
    if not c_api.is_file():
        return _load_each_dll(bundle, probe, runner, prefix, env, device, msvc_runtime, timeout)
    returncode, output = run_probe([*prefix, str(probe), _windows_path(c_api, runner), device],
                                   timeout=timeout, env=env)
    steps = parse_probe_output(output)
    missing = parse_wine_missing(output)
    bin_names = {p.name.lower() for p in bin_dir.iterdir()}
    ok, verdict = judge(steps, missing, bin_names, device)
    failure = _probe_failure(returncode, output, steps, timeout=timeout, first="loading openvino_c.dll",
                             silent=not steps and not missing)
    if failure is not None:
        ok, verdict = False, failure
    return LoadResult(bundle, runner, device, msvc_runtime, steps, missing, ok, verdict)


def _is_linux_bundle(bundle: Path) -> bool:
    """The lock file says the bundle holds Linux shared objects (``source.platform``)."""
    import json

    try:
        data = json.loads((bundle / LOCK_FILE).read_text(encoding="utf-8"))
        return data.get("source", {}).get("platform") == "linux"
    except (OSError, ValueError, AttributeError):
        return False


def _load_each_dll(bundle: Path, probe: Path, runner: str, prefix: list[str], env: dict[str, str], device: str,
                   msvc_runtime: str, timeout: float) -> LoadResult:
    bin_dir = bundle / BIN
    dlls = sorted(p for p in bin_dir.iterdir() if p.suffix.lower() == ".dll" and p.is_file())
    stubs = {dll: build_stub(dll, names) for dll, names in driver_imports(bin_dir, _bundle_drivers(bundle)).items()}
    args = [*prefix, str(probe), "--dlls"]
    for stub in stubs.values():
        args += ["--preload", _windows_path(stub, runner)]
    args += [_windows_path(p, runner) for p in dlls]
    returncode, output = run_probe(args, timeout=timeout, env=env)
    steps = parse_probe_output(output)
    missing = parse_wine_missing(output)
    bin_names = {p.name.lower() for p in dlls}
    loaded = [s for s in steps if s.name.startswith("load:")]
    failed = [s for s in steps if not s.ok]
    stood_in = f" ({', '.join(stubs)} stood in for by a stub of the driver's)" if stubs else ""
    not_checked = ("not checked: creating a core, reading a model and the device query, which need "
                   "OpenVINO's C API (openvino_c.dll), absent from this bundle")
    failure = _probe_failure(returncode, output, steps, timeout=timeout, first="loading the first DLL",
                             silent=not steps)
    if failure is not None:
        ok, verdict = False, failure
    elif failed or len(loaded) != len(dlls):
        cause = _not_found(missing, bin_names) if missing else "; ".join(f"{s.name}: {s.detail}" for s in failed)
        ok, verdict = False, f"the bundle's DLLs did not all load: {cause or 'the probe stopped early'}"
    else:
        ok, verdict = True, (f"all {len(dlls)} DLLs load through the Windows loader{stood_in}; {not_checked}")
    return LoadResult(bundle, runner, device, msvc_runtime, steps, missing, ok, verdict)


_LOADED = re.compile(r'Loaded L"([^"]+)" at ')
_ORT_MISSING = re.compile(r'Error loading "([^"]+)" which is missing')
_NO_DEVICE = re.compile(r"\[OpenVINO\] Device (\S+) is not available")


def judge_onnxruntime(steps: tuple[LoadStep, ...], missing: tuple[tuple[str, str], ...], loaded: tuple[str, ...],
                      output: str, bin_names: set[str], device: str) -> tuple[bool, str]:
    """Whether an ONNX Runtime bundle loaded and ran, and one sentence saying what happened.

    ``loaded`` are the base names of the DLLs the loader mapped (Wine's loaddll trace;
    empty natively). With a device that exists (CPU here) the model must run and
    give the right numbers; with one that does not (the NPU here) the provider must
    have loaded OpenVINO and the device's plugin, and OpenVINO must say the device is
    not available.
    """
    by_name = {s.name: s for s in steps}
    load = by_name.get("load_ort")
    if load is None or not load.ok:
        cause = _not_found(missing, bin_names) if missing else (load.detail if load else "the probe did not run")
        return False, f"{ORT_DLL} did not load: {cause}"
    for name in ("api", "env"):
        step = by_name.get(name)
        if step is None or not step.ok:
            return False, f"ONNX Runtime failed at '{name}': {step.detail if step else 'the probe stopped'}"
    plugin = f"openvino_intel_{device.lower()}_plugin.dll"
    provider = by_name.get("provider")
    if provider is None:
        return False, "the probe stopped before appending the OpenVINO execution provider"
    if not provider.ok:
        if missing:
            return False, "the OpenVINO execution provider did not load: " + _not_found(missing, bin_names)
        absent = _ORT_MISSING.search(output)
        if absent:
            name = absent.group(1).replace("\\\\", "\\").split("\\")[-1]
            return False, f"the OpenVINO execution provider did not load: {name} not found (ONNX Runtime loads it)"
        unavailable = _NO_DEVICE.search(output)
        if unavailable and unavailable.group(1).upper() == device.upper():
            if plugin not in bin_names:
                return False, f"OpenVINO reports no {device} device: {plugin} is not in the bundle"
            seen = {n.lower() for n in loaded}
            if loaded and plugin not in seen:  # the loader's trace (Wine) shows what was really mapped
                return False, f"OpenVINO reports no {device} device, but {plugin} was never loaded"
            through = (f", openvino.dll and {plugin} (seen in the loader's trace)" if plugin in seen
                       else f" and OpenVINO ({plugin} is in the bundle)")
            return True, (f"ONNX Runtime loaded the OpenVINO execution provider{through}; OpenVINO found no "
                          f"{device} device on this machine (expected without the hardware and its driver)")
        return False, f"the OpenVINO execution provider failed: {provider.detail}"
    session = by_name.get("session")
    if session is None or not session.ok:
        return False, f"creating a session on {device} failed: {session.detail if session else 'the probe stopped'}"
    run = by_name.get("run")
    if run is None or not run.ok:
        return False, f"running the model on {device} failed: {run.detail if run else 'the probe stopped'}"
    return True, f"ONNX Runtime ran a model on {device} through OpenVINO's execution provider: {run.detail}"


def _load_onnxruntime(bundle: Path, runner: str, prefix: list[str], device: str, msvc_runtime: str,
                      timeout: float) -> LoadResult:
    bin_dir = bundle / BIN
    probe = build_probe("ort_probe")
    env = _wine_env(msvc_runtime, runner)
    if runner == "wine":
        env["WINEDEBUG"] += ",+loaddll"
    returncode, output = run_probe([*prefix, str(probe), _windows_path(bin_dir / ORT_DLL, runner), device],
                                   timeout=timeout, env=env)
    steps = parse_probe_output(output)
    missing = parse_wine_missing(output)
    loaded = tuple(dict.fromkeys(m.replace("\\\\", "\\").split("\\")[-1] for m in _LOADED.findall(output)))
    bin_names = {p.name.lower() for p in bin_dir.iterdir()}
    ok, verdict = judge_onnxruntime(steps, missing, loaded, output, bin_names, device)
    failure = _probe_failure(returncode, output, steps, timeout=timeout, first="loading onnxruntime.dll",
                             silent=not steps and not missing)
    if failure is not None:
        ok, verdict = False, failure
    return LoadResult(bundle, runner, device, msvc_runtime, steps, missing, ok, verdict)
