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

import contextlib
import hashlib
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from npuslim import atomic
from npuslim.check import probes
from npuslim.check.loading import (
    DEFAULT_LOAD_TIMEOUT,
    REQUIRED_STEPS,
    STEP_TITLES,
    LoadRequest,
    LoadResult,
    LoadStep,
    ProbePlan,
    conclude,
    judge_device_steps,
    judge_ort_session,
    no_device,
    ort_device_unavailable,
    ort_no_device_steps,
    ort_setup_problem,
    parse_probe_output,
    placed_on,
    plugin_stem,
    ran_on_device,
)
from npuslim.check.sandbox import Sandbox, find_sandbox
from npuslim.errors import InputError, ToolError
from npuslim.formats.lock import BundleLock
from npuslim.layout import BIN
from npuslim.paths import cache_dir
from npuslim.progress import Reporter
from npuslim.tools import ToolRun, run_process, run_tool

ORT_DLL = "onnxruntime.dll"
MSVC_RUNTIME_NATIVE = ("msvcp140", "vcruntime140", "vcruntime140_1")
_WINE_MISSING = re.compile(r'Library (\S+) \(which is needed by L"([^"]+)"\) not found')


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
            plugin = f"{plugin_stem(device)}.dll"
            if plugin not in bin_names:
                return False, (f"the {device} device is not registered ({plugin} is not in the bundle): "
                               f"{step.detail}")
            if missing:
                return False, f"the {device} plugin did not load: " + _not_found(missing, bin_names)
        return False, f"{STEP_TITLES.get(name, name)} failed: {step.detail}"
    return judge_device_steps(by_name, device)


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
    from npuslim.formats.pe import read_pe  # only bundles without the C API come here
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


def _bundle_drivers(lock: BundleLock) -> set[str]:
    """Driver-provided DLL names the lock file lists among the target's requirements."""
    return {d.lower() for r in lock.requirements if r.kind == "driver" for d in r.dlls}


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


def _setup_failure(run: ToolRun) -> str:
    """The one line for a Wine prefix that could not be set up: how it ended, and Wine's last word."""
    how = (f"did not finish within {DEFAULT_LOAD_TIMEOUT:.0f} s" if run.timed_out else
           f"failed (exit {run.returncode})" if run.returncode != 0 else "ended without writing the registry")
    said = next((line.strip() for line in reversed(run.output.splitlines()) if line.strip()), "")
    return f"wine: setting up the Wine prefix {how}" + (f": {said}" if said else "")


# The name a Wine prefix is set up under, beside its place: .wine-prefix.setup-PID-XXXXXXXX
_PREFIX_SETUP = ".setup-"


def _wineserver(wine: str) -> str | None:
    """The wineserver that goes with ``wine`` (``wineserver -w`` waits for it to save the prefix)."""
    folder = Path(wine).resolve().parent
    return next((str(folder / n) for n in ("wineserver64", "wineserver") if (folder / n).is_file()),
                shutil.which("wineserver"))


def _prepare_wine(prefix: list[str], env: dict[str, str], reporter: Reporter, sandbox: Sandbox) -> None:
    """Wine's first start in a new prefix sets the prefix up (10-30 s): done as a step of its own,
    so that the probe's own run is what its step says.

    The prefix is set up under a name of this run's own and renamed into place once Wine has saved
    it (``wineserver -w``): a set-up that Ctrl-C, a kill or the timeout cut short never stands where
    the probes look (Wine takes a half-made prefix for a made one and never repairs it: every later
    load failed with ``msvcrt.dll not found``). A prefix without its registry, left by an older
    npuslim, is removed and made again. In the sandbox the new prefix is writable for this step
    only (no bundle code runs in it); the probes see the prefix read-only."""
    wine_prefix = Path(env["WINEPREFIX"])
    if (wine_prefix / "system.reg").is_file():
        return
    shutil.rmtree(wine_prefix, ignore_errors=True)
    building = atomic.private_folder(wine_prefix.parent, f".{wine_prefix.name}{_PREFIX_SETUP}")
    server = _wineserver(prefix[0])
    args = [*prefix, "wineboot", "--init"]
    if server is not None:
        args = ["sh", "-c", '"$@" && "$0" -w', server, *args]
    try:
        with reporter.step("wine", "", detail="setting up the Wine prefix (first run only)") as step, \
                tempfile.TemporaryDirectory(prefix="npuslim-wine-") as work:
            if sandbox.confined:
                args = sandbox.wrap(args, work=Path(work), visible=(cache_dir(),), writable=(building,))
            run = run_process(args, timeout=DEFAULT_LOAD_TIMEOUT, env=dict(env, WINEPREFIX=str(building)), cwd=work)
            if run.timed_out or run.returncode != 0 or not (building / "system.reg").is_file():
                raise ToolError(_setup_failure(run))
            with contextlib.suppress(OSError):  # another run's prefix got there first: it serves as well
                os.rename(building, wine_prefix)
            step.detail = "Wine prefix ready"
    finally:
        if building.exists():  # not made (Ctrl-C, a failure, another run's prefix)
            if not sandbox.confined and server is not None:
                _stop_wine(server, building, env)
            shutil.rmtree(building, ignore_errors=True)


def _stop_wine(server: str, prefix: Path, env: dict[str, str]) -> None:
    """Stop every Wine process of ``prefix``: unconfined, Wine's helpers (services.exe, rundll32
    running wine.inf) live in sessions of their own, out of reach of the kill of the set-up's
    process group, and an interrupted set-up left them spinning on a prefix being deleted.
    (In the sandbox, bubblewrap takes them down with it.)"""
    with contextlib.suppress(ToolError):
        run_process(["sh", "-c", '"$0" -k; "$0" -w', server], timeout=30,
                    env=dict(env, WINEPREFIX=str(prefix)))


@dataclass(frozen=True)
class _Run:
    """One ``verify --load`` of a Windows bundle: how programs run here and what was asked."""

    bundle: Path
    runner: str
    prefix: tuple[str, ...]
    request: LoadRequest
    reporter: Reporter
    sandbox: Sandbox

    def path(self, path: Path) -> str:
        return _windows_path(path, self.runner)

    def env(self) -> dict[str, str]:
        return _wine_env(self.request.msvc_runtime, self.runner)

    def probe(self, name: str) -> Path:
        with self.reporter.step("build", f"{name}.exe", detail="load probe (mingw-w64, once per source)"):
            return build_probe(name)

    def plan(self, args: list[str], env: dict[str, str], what: str,
             judge: Callable[[ToolRun], LoadResult]) -> ProbePlan:
        """A probe run (its stand-ins and the Wine prefix come from the cache, read-only in the
        sandbox); a new Wine prefix is set up first, so the probe's own run is what its step says."""
        if self.runner == "wine":
            _prepare_wine(list(self.prefix), env, self.reporter, self.sandbox)
        return ProbePlan((*self.prefix, *args), env, what, self.sandbox, self.request.timeout,
                         (self.bundle, cache_dir()), judge)

    def result(self, steps: tuple[LoadStep, ...], missing: tuple[tuple[str, str], ...], ok: bool,
               verdict: str) -> LoadResult:
        return LoadResult(self.bundle, self.runner, self.request.device, self.request.msvc_runtime, steps, missing,
                          ok, verdict, self.sandbox.description, self.sandbox.confined)


def plan_windows_load(bundle: Path, lock: BundleLock, request: LoadRequest, reporter: Reporter) -> ProbePlan:
    """The probe run against ``bundle/bin/openvino_c.dll`` and how what it prints is judged
    (ONNX Runtime bundles: ``ort_probe``; without the C API: load every DLL, see the module docstring)."""
    bin_dir = bundle / BIN
    c_api = bin_dir / "openvino_c.dll"
    if not bin_dir.is_dir():
        raise ToolError(f"{bundle}: no bin/ folder to load")
    runner, prefix = find_runner()
    run = _Run(bundle, runner, tuple(prefix), request, reporter, find_sandbox(request.sandbox))
    if (bin_dir / ORT_DLL).is_file():
        return _plan_onnxruntime(run)
    if not c_api.is_file():
        return _plan_each_dll(run, lock)
    probe = run.probe("ov_probe")
    return run.plan([str(probe), run.path(c_api), request.device], run.env(),
                    "openvino_c.dll through the Windows loader", lambda done: _judge_c_api(run, done))


def _judge_c_api(run: _Run, done: ToolRun) -> LoadResult:
    bin_dir = run.bundle / BIN
    device = run.request.device
    steps = parse_probe_output(done.output)
    missing = parse_wine_missing(done.output)
    bin_names = {p.name.lower() for p in bin_dir.iterdir()}
    ok, verdict, steps = conclude(done, steps, judge(steps, missing, bin_names, device),
                                  not_checked=no_device(device), timeout=run.request.timeout,
                                  first="loading openvino_c.dll", silent=not steps and not missing)
    return replace(run.result(steps, missing, ok, verdict), ran_on=ran_on_device(ok, steps, device))


def _plan_each_dll(run: _Run, lock: BundleLock) -> ProbePlan:
    bin_dir = run.bundle / BIN
    dlls = sorted(p for p in bin_dir.iterdir() if p.suffix.lower() == ".dll" and p.is_file())
    stubs = {dll: build_stub(dll, names) for dll, names in driver_imports(bin_dir, _bundle_drivers(lock)).items()}
    args = [str(run.probe("ov_probe")), "--dlls"]
    for stub in stubs.values():
        args += ["--preload", run.path(stub)]
    args += [run.path(p) for p in dlls]
    return run.plan(args, run.env(), f"{len(dlls)} DLLs through the Windows loader",
                    lambda done: _judge_each_dll(run, done, dlls, tuple(stubs)))


def _judge_each_dll(run: _Run, done: ToolRun, dlls: list[Path], stubs: tuple[str, ...]) -> LoadResult:
    steps = parse_probe_output(done.output)
    missing = parse_wine_missing(done.output)
    bin_names = {p.name.lower() for p in dlls}
    loaded = [s for s in steps if s.name.startswith("load:")]
    failed = [s for s in steps if not s.ok]
    stood_in = f" ({', '.join(stubs)} stood in for by a stub of the driver's)" if stubs else ""
    not_checked = ("not checked: creating a core, reading a model and the device query, which need "
                   "OpenVINO's C API (openvino_c.dll), absent from this bundle")
    if failed or len(loaded) != len(dlls):
        cause = _not_found(missing, bin_names) if missing else "; ".join(f"{s.name}: {s.detail}" for s in failed)
        judged = (False, f"the bundle's DLLs did not all load: {cause or 'the probe stopped early'}")
    else:
        judged = (True, f"all {len(dlls)} DLLs load through the Windows loader{stood_in}; {not_checked}")
    ok, verdict, steps = conclude(done, steps, judged, not_checked=no_device(run.request.device),
                                  timeout=run.request.timeout, first="loading the first DLL", silent=not steps)
    return run.result(steps, missing, ok, verdict)


_LOADED = re.compile(r'Loaded L"([^"]+)" at ')
_ORT_MISSING = re.compile(r'Error loading "([^"]+)" which is missing')


def judge_onnxruntime(steps: tuple[LoadStep, ...], missing: tuple[tuple[str, str], ...], loaded: tuple[str, ...],
                      output: str, bin_names: set[str], device: str) -> tuple[bool, str]:
    """Whether an ONNX Runtime bundle loaded and ran, and one sentence saying what happened.

    ``loaded`` are the base names of the DLLs the loader mapped (Wine's loaddll trace;
    empty natively). With a device that exists (CPU here) the model must run on the
    OpenVINO provider alone (CPU fallback disabled, every node placed on it) and give the
    right numbers; with one that does not (the NPU here) the provider must have loaded
    OpenVINO and the device's plugin, and OpenVINO must say the device is not available.
    """
    by_name = {s.name: s for s in steps}
    load = by_name.get("load_ort")
    if load is None or not load.ok:
        cause = _not_found(missing, bin_names) if missing else (load.detail if load else "the probe did not run")
        return False, f"{ORT_DLL} did not load: {cause}"
    setup = ort_setup_problem(by_name)
    if setup is not None:
        return False, setup
    provider = by_name["provider"]
    if not provider.ok:
        return _judge_provider_failure(provider, missing, loaded, output, bin_names, device)
    return judge_ort_session(by_name, device)


def _judge_provider_failure(provider: LoadStep, missing: tuple[tuple[str, str], ...], loaded: tuple[str, ...],
                            output: str, bin_names: set[str], device: str) -> tuple[bool, str]:
    plugin = f"{plugin_stem(device)}.dll"
    if missing:
        return False, "the OpenVINO execution provider did not load: " + _not_found(missing, bin_names)
    absent = _ORT_MISSING.search(output)
    if absent:
        name = absent.group(1).replace("\\\\", "\\").split("\\")[-1]
        return False, f"the OpenVINO execution provider did not load: {name} not found (ONNX Runtime loads it)"
    if not ort_device_unavailable(output, device):
        return False, f"the OpenVINO execution provider failed: {provider.detail}"
    if plugin not in bin_names:
        return False, f"OpenVINO reports no {device} device: {plugin} is not in the bundle"
    seen = {n.lower() for n in loaded}
    if loaded and plugin not in seen:  # the loader's trace (Wine) shows what was really mapped
        return False, f"OpenVINO reports no {device} device, but {plugin} was never loaded"
    through = (f", openvino.dll and {plugin} (seen in the loader's trace)" if plugin in seen
               else f" and OpenVINO ({plugin} is in the bundle)")
    return True, (f"ONNX Runtime loaded the OpenVINO execution provider{through}; OpenVINO found no "
                  f"{device} device on this machine (expected without the hardware and its driver)")


def _plan_onnxruntime(run: _Run) -> ProbePlan:
    probe = run.probe("ort_probe")
    env = run.env()
    if run.runner == "wine":
        env["WINEDEBUG"] += ",+loaddll"
    return run.plan([str(probe), run.path(run.bundle / BIN / ORT_DLL), run.request.device], env,
                    "onnxruntime.dll through the Windows loader", lambda done: _judge_onnxruntime_run(run, done))


def _judge_onnxruntime_run(run: _Run, done: ToolRun) -> LoadResult:
    bin_dir = run.bundle / BIN
    device = run.request.device
    steps = parse_probe_output(done.output)
    missing = parse_wine_missing(done.output)
    loaded = tuple(dict.fromkeys(m.replace("\\\\", "\\").split("\\")[-1] for m in _LOADED.findall(done.output)))
    bin_names = {p.name.lower() for p in bin_dir.iterdir()}
    judged = judge_onnxruntime(steps, missing, loaded, done.output, bin_names, device)
    if judged[0] and ort_device_unavailable(done.output, device):
        steps = ort_no_device_steps(steps, device)
    ok, verdict, steps = conclude(done, steps, judged, not_checked=no_device(device), timeout=run.request.timeout,
                                  first="loading onnxruntime.dll", silent=not steps and not missing)
    return replace(run.result(steps, missing, ok, verdict), ran_on=placed_on(steps) if ok else "")
