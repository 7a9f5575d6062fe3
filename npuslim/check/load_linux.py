"""Loading a Linux bundle natively, the way an application does.

A small C probe (``npuslim/probe/ov_probe_linux.c``, built with the system's
gcc and cached by the hash of its source) dlopens the bundle's
``lib/libopenvino_c.so.N`` by path, with ``LD_LIBRARY_PATH`` and
``LD_PRELOAD`` removed from its environment, so every library must find its
neighbours through its own RPATH (``$ORIGIN``). It reads the version, creates
a core, reads an IR model held in memory, asks the device plugin for its
devices, compiles the model and runs it once (relu of four numbers) when the
device exists: on the CPU that is a real inference; without an NPU the NPU
plugin ends with its "no device" answer. The step protocol and its parser are
those of the Windows probe (``npuslim.check.load``).
"""

from __future__ import annotations

import os
import platform as platform_mod
import re
import shutil
import sys
from pathlib import Path

from npuslim.check import probes
from npuslim.check.loading import (
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
from npuslim.layout import LIB
from npuslim.progress import Reporter
from npuslim.tools import ToolRun

LINUX_TITLES = {
    **STEP_TITLES,
    "load_c_api": "C API library loads (every DT_NEEDED resolved through $ORIGIN, no LD_LIBRARY_PATH)",
    "infer": "one inference run on the device",
}
_DLERROR_MISSING = re.compile(r"([^\s:/]+\.so[.\d]*): cannot open shared object file")
_HOST_MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


def build_probe(name: str = "ov_probe_linux") -> Path:
    """A Linux probe executable (``ov_probe_linux``, ``ort_probe``), built with the system's gcc once per source."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        raise ToolError("gcc not found: the Linux load probe is built with the system's C compiler "
                        "(apt-get install gcc)")
    return probes.build_probe(name, gcc, ["-ldl"])


def parse_dlerror_missing(text: str) -> tuple[str, ...]:
    """The library names in dlerror's ``X: cannot open shared object file`` messages."""
    return tuple(dict.fromkeys(_DLERROR_MISSING.findall(text)))


def _needers(lib_dir: Path, name: str) -> tuple[str, ...]:
    from npuslim.formats.elf import read_elf
    out = []
    for path in sorted(lib_dir.iterdir()):
        if path.is_symlink() or not path.is_file():
            continue
        try:
            if name in read_elf(path).imports:
                out.append(path.name)
        except InputError:
            continue
    return tuple(out)


def judge_linux(steps: tuple[LoadStep, ...], missing: tuple[tuple[str, str], ...], lib_names: set[str],
                c_api: str, device: str) -> tuple[bool, str]:
    """Whether the bundle loaded, and one sentence saying what happened."""
    by_name = {s.name: s for s in steps}

    def not_found() -> str:
        grouped: dict[str, list[str]] = {}
        for lib, needer in missing:
            grouped.setdefault(lib, [])
            if needer:
                grouped[lib].append(needer)
        return "; ".join(f"{lib} not found" + (f" (needed by {', '.join(n)})" if n else "")
                         for lib, n in grouped.items())

    for name in REQUIRED_STEPS:
        step = by_name.get(name)
        if step is not None and step.ok:
            continue
        if name == "load_c_api":
            cause = not_found() if missing else (step.detail if step else "the probe did not run")
            return False, f"{c_api} did not load: {cause}"
        if step is None:
            return False, f"the probe stopped before '{LINUX_TITLES.get(name, name)}'"
        if name == "read_model" and not any(n.startswith("libopenvino_ir_frontend.so") for n in lib_names):
            return False, ("reading an IR model failed (libopenvino_ir_frontend.so.* is not in the bundle): "
                           f"{step.detail}")
        if name == "plugin":
            plugin = f"lib{plugin_stem(device)}.so"
            if plugin not in lib_names:
                return False, f"the {device} device is not registered ({plugin} is not in the bundle): {step.detail}"
            if missing:
                return False, f"the {device} plugin did not load: {not_found()}"
        return False, f"{LINUX_TITLES.get(name, name)} failed: {step.detail}"
    return judge_device_steps(by_name, device)


def _check_host(lib_dir: Path, files: list[Path]) -> None:
    if not sys.platform.startswith("linux"):
        raise ToolError(f"a Linux bundle loads only on Linux (this is {sys.platform}); run verify --load there")
    from npuslim.formats.elf import read_elf
    host = _HOST_MACHINES.get(platform_mod.machine().lower(), platform_mod.machine())
    for path in files[:1]:
        machine = read_elf(path).machine
        if machine != host:
            raise ToolError(f"{lib_dir}: the bundle is built for {machine}, this machine is {host}; "
                            "run verify --load on a machine of the bundle's kind")


def plan_linux_load(bundle: Path, lock: BundleLock,  # noqa: ARG001 - the PLANNERS signature; ld.so needs no lock
                    request: LoadRequest, reporter: Reporter) -> ProbePlan:
    """The Linux probe run against ``bundle/lib/libopenvino_c.so.N`` and how what it prints is
    judged; without the C API, dlopen every library of ``lib/`` instead."""
    if request.msvc_runtime != "system":
        raise InputError("--msvc-runtime-from bundled is for Windows bundles; a Linux bundle uses the "
                         "target's GCC runtime")
    lib_dir = bundle / LIB
    if not lib_dir.is_dir():
        raise ToolError(f"{bundle}: no lib/ folder to load")
    files = sorted(p for p in lib_dir.iterdir() if p.is_file() and not p.is_symlink() and ".so" in p.name)
    _check_host(lib_dir, files)
    sandbox = find_sandbox(request.sandbox)
    ort = next((p for p in files if p.name == ORT_SO), None)
    if ort is not None:
        return _plan_onnxruntime(bundle, ort, request, reporter, sandbox)
    with reporter.step("build", "ov_probe_linux", detail="load probe (gcc, once per source)"):
        probe = build_probe()
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "LD_PRELOAD")}
    c_api = next((p for p in files if p.name.startswith("libopenvino_c.so.")), None)
    visible = (bundle, probe.parent)
    if c_api is None:
        return ProbePlan((str(probe), "--libs", *(str(p.resolve()) for p in files)), env,
                         f"{len(files)} libraries through ld.so", sandbox, request.timeout, visible,
                         lambda run: _each_library(bundle, request, run, files, sandbox))
    return ProbePlan((str(probe), str(c_api.resolve()), request.device), env, f"{c_api.name} through ld.so",
                     sandbox, request.timeout, visible, lambda run: _judge_c_api(bundle, request, run, c_api, sandbox))


def _judge_c_api(bundle: Path, request: LoadRequest, run: ToolRun, c_api: Path, sandbox: Sandbox) -> LoadResult:
    """The verdict of the probe's run through the C API."""
    lib_dir = bundle / LIB
    steps = parse_probe_output(run.output, LINUX_TITLES)
    # Only a failed load names missing libraries; a device step may quote other dlopen errors
    # (the NPU compiler loader, which the plugin looks for when it compiles).
    load_errors = " ".join(s.detail for s in steps if not s.ok and s.name in ("load_c_api", "plugin"))
    missing = tuple((lib, needer) for lib in parse_dlerror_missing(load_errors)
                    for needer in (_needers(lib_dir, lib) or ("",)))
    lib_names = {p.name for p in lib_dir.iterdir()}
    judged = judge_linux(steps, missing, lib_names, c_api.name, request.device)
    ok, verdict, steps = conclude(run, steps, judged, not_checked=no_device(request.device),
                                  timeout=request.timeout, first=f"loading {c_api.name}", silent=not steps)
    return LoadResult(bundle, "native", request.device, request.msvc_runtime, steps, missing, ok, verdict,
                      sandbox.description, sandbox.confined, ran_on_device(ok, steps, request.device))


def _each_library(bundle: Path, request: LoadRequest, run: ToolRun, files: list[Path], sandbox: Sandbox) -> LoadResult:
    """The verdict of dlopening every library of ``lib/`` (a bundle without the C API)."""
    lib_dir = bundle / LIB
    steps = parse_probe_output(run.output, LINUX_TITLES)
    failed = [s for s in steps if not s.ok]
    missing = tuple((lib, needer) for s in failed for lib in parse_dlerror_missing(s.detail)
                    for needer in (_needers(lib_dir, lib) or ("",)))
    if failed or len(steps) != len(files):
        judged = (False, "the bundle's libraries did not all load: " + (
            "; ".join(f"{s.name[5:]}: {s.detail}" for s in failed) or "the probe stopped early"))
    else:
        judged = (True, (f"all {len(files)} libraries load through ld.so; not checked: creating a core, "
                  "reading a model and the device query, which need OpenVINO's C API (libopenvino_c.so), "
                  "absent from this bundle"))
    ok, verdict, steps = conclude(run, steps, judged, not_checked=no_device(request.device),
                                  timeout=request.timeout, first="loading the first library", silent=not steps)
    return LoadResult(bundle, "native", request.device, request.msvc_runtime, steps, missing, ok, verdict,
                      sandbox.description, sandbox.confined)


ORT_SO = "libonnxruntime.so.1"


def judge_onnxruntime_linux(steps: tuple[LoadStep, ...], output: str, lib_names: set[str],
                            device: str) -> tuple[bool, str]:
    """Whether a Linux ONNX Runtime bundle loaded and ran (see ``load_windows.judge_onnxruntime``):
    with a device that exists, every node on the OpenVINO provider and the right numbers; with one
    that does not, the provider loaded OpenVINO, whose plugin is in the bundle, and OpenVINO said so."""
    by_name = {s.name: s for s in steps}
    load = by_name.get("load_ort")
    if load is None or not load.ok:
        return False, f"{ORT_SO} did not load: {load.detail if load else 'the probe did not run'}"
    setup = ort_setup_problem(by_name)
    if setup is not None:
        return False, setup
    provider = by_name["provider"]
    if provider.ok:
        return judge_ort_session(by_name, device)
    plugin = f"lib{plugin_stem(device)}.so"
    absent = parse_dlerror_missing(output)  # ONNX Runtime logs dlerror when the provider does not load
    if absent:
        return False, f"the OpenVINO execution provider did not load: {', '.join(absent)} not found"
    if not ort_device_unavailable(output, device):
        return False, f"the OpenVINO execution provider failed: {provider.detail}"
    if plugin not in lib_names:
        return False, f"OpenVINO reports no {device} device: {plugin} is not in the bundle"
    return True, (f"ONNX Runtime loaded the OpenVINO execution provider and OpenVINO ({plugin} is in the "
                  f"bundle); OpenVINO found no {device} device on this machine (expected without the hardware "
                  "and its driver)")


def _plan_onnxruntime(bundle: Path, ort: Path, request: LoadRequest, reporter: Reporter,
                      sandbox: Sandbox) -> ProbePlan:
    with reporter.step("build", "ort_probe", detail="load probe (gcc, once per source)"):
        probe = build_probe("ort_probe")
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "LD_PRELOAD")}
    return ProbePlan((str(probe), str(ort.resolve()), request.device), env, f"{ort.name} through ld.so", sandbox,
                     request.timeout, (bundle, probe.parent), lambda run: _judge_onnxruntime(bundle, ort, request,
                                                                                            run, sandbox))


def _judge_onnxruntime(bundle: Path, ort: Path, request: LoadRequest, run: ToolRun, sandbox: Sandbox) -> LoadResult:
    steps = parse_probe_output(run.output, LINUX_TITLES)
    lib_names = {p.name for p in (bundle / LIB).iterdir()}
    judged = judge_onnxruntime_linux(steps, run.output, lib_names, request.device)
    if judged[0] and ort_device_unavailable(run.output, request.device):
        steps = ort_no_device_steps(steps, request.device)
    ok, verdict, steps = conclude(run, steps, judged, not_checked=no_device(request.device),
                                  timeout=request.timeout, first=f"loading {ort.name}", silent=not steps)
    missing = tuple((lib, needer) for s in steps if s.state.value == "failed"
                    for lib in parse_dlerror_missing(s.detail) for needer in (_needers(bundle / LIB, lib) or ("",)))
    return LoadResult(bundle, "native", request.device, request.msvc_runtime, steps, missing, ok, verdict,
                      sandbox.description, sandbox.confined, placed_on(steps) if ok else "")
