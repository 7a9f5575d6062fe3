"""What every load through a real loader shares, Windows (``load_windows``) and Linux
(``load_linux``) alike: the probe's step protocol and its parser, the one way a probe is
run, and the one judgement of how a run ended.

A probe prints ``STEP name OK|FAIL detail`` lines. The platform's judge reads
them into a verdict; ``conclude`` then applies what overrules any steps (the
probe did not finish, crashed after its steps, or printed nothing) and settles
each step's state: passed, failed, or not checked (with why: a step that could
not run on this machine, such as the device query without an NPU, is never
shown as a failure under a verdict that holds).
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

from npuslim.check.sandbox import Sandbox, SandboxMode
from npuslim.enums import StrEnum
from npuslim.progress import Reporter, StepResult
from npuslim.tools import RunningProcess, ToolRun, start_process

DEFAULT_LOAD_TIMEOUT = 180.0
# The steps of the OpenVINO C API probe (Windows and Linux) that a load must pass, in order.
REQUIRED_STEPS = ("load_c_api", "version", "core_create", "read_model", "plugin")
STEP_TITLES = {
    "load_ort": "onnxruntime.dll loads (every import-table dependency resolved)",
    "api": "ONNX Runtime C API table (OrtGetApiBase)",
    "env": "OrtEnv created",
    "session_options": "session options created",
    "fallback": "ONNX Runtime's CPU fallback disabled (every node must run on the provider)",
    "provider": "OpenVINO execution provider appended (loads the provider and OpenVINO)",
    "session": "ONNX model compiled into a session",
    "placement": "every node placed on the OpenVINO execution provider (ONNX Runtime's node placement)",
    "run": "one inference, outputs checked",
    "load_c_api": "C API DLL loads (every import-table dependency resolved)",
    "resolve_api": "C API exports found",
    "version": "OpenVINO version read",
    "core_create": "ov_core_create",
    "read_model": "IR model read from memory (IR frontend)",
    "plugin": "device plugin found and loaded",
    "devices": "devices reported by the plugin",
    "device": "model compiled on the device",
    "infer": "one inference run on the device",
    "executed_by": "device that ran the compiled model (EXECUTION_DEVICES)",
}
_STEP = re.compile(r"^STEP (\S+) (OK|FAIL) ?(.*)$")


class CheckState(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_CHECKED = "not_checked"   # could not be checked here; ``LoadStep.reason`` says why


@dataclass(frozen=True)
class LoadStep:
    """One step the probe reported: ``ok`` is what the probe said; ``state`` what it means
    once the run is judged (``conclude``)."""

    name: str
    ok: bool
    detail: str
    title_text: str = ""
    not_checked: str = ""   # why the step could not be checked here; "" when it was

    @property
    def title(self) -> str:
        return self.title_text or STEP_TITLES.get(self.name, self.name)

    @property
    def state(self) -> CheckState:
        if self.not_checked:
            return CheckState.NOT_CHECKED
        return CheckState.PASSED if self.ok else CheckState.FAILED


@dataclass(frozen=True)
class LoadRequest:
    """What ``verify --load`` asks for: the device, where the Visual C++ runtime comes from
    (Windows: ``system`` or ``bundled``), how long a load may take, and whether the probe must,
    may or must not run in a sandbox (``npuslim.check.sandbox``)."""

    device: str = "NPU"
    msvc_runtime: str = "system"
    timeout: float = DEFAULT_LOAD_TIMEOUT
    sandbox: SandboxMode = SandboxMode.AUTO


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
    sandbox: str = ""   # how the probe was confined, or why it was not (``Sandbox.description``)
    sandboxed: bool = False
    ran_on: str = ""    # what ran the model: ONNX Runtime's execution provider, OpenVINO's device; "" if none


def parse_probe_output(text: str, titles: dict[str, str] | None = None) -> tuple[LoadStep, ...]:
    """The ``STEP name OK|FAIL detail`` lines the probe printed (titled from ``titles`` when given)."""
    steps = []
    for line in text.splitlines():
        m = _STEP.match(line.strip())
        if m:
            name = m.group(1)
            steps.append(LoadStep(name, m.group(2) == "OK", m.group(3).strip(),
                                  title_text=(titles or {}).get(name, "")))
    return tuple(steps)


@dataclass(frozen=True)
class ProbePlan:
    """One probe run as a platform's loader prepared it: the command (before ``sandbox`` wraps it),
    its environment, what it loads (its progress line), the folders it reads (``visible``, bound
    into the sandbox) and how its run becomes a ``LoadResult`` (``judge``)."""

    args: tuple[str, ...]
    env: dict[str, str]
    what: str
    sandbox: Sandbox
    timeout: float
    visible: tuple[Path, ...]
    judge: Callable[[ToolRun], LoadResult]


class StartedLoad:
    """A load probe started and not yet waited for (so that ``verify``'s checks can run meanwhile,
    ``load.load_alongside``); ``result`` waits for it and judges its run.

    The probe runs in ``sandbox``, in a fresh work folder of its own that is deleted afterwards, in
    its own process group, its output to a file (Wine's background processes never hold npuslim
    up). Its timeout counts from its start: a probe that does not finish in time is killed with its
    group and is a failed load (``conclude``), never a tool error. Leaving the ``with`` block before
    ``result`` (an exception, Ctrl-C) kills the probe's group."""

    def __init__(self, plan: ProbePlan, reporter: Reporter) -> None:
        self._plan = plan
        self._stack = ExitStack()
        try:
            work = self._stack.enter_context(tempfile.TemporaryDirectory(prefix="npuslim-load-"))
            self._step: StepResult = self._stack.enter_context(reporter.step("load", plan.what))
            command = plan.sandbox.wrap(list(plan.args), work=Path(work), visible=plan.visible)
            self._running: RunningProcess = self._stack.enter_context(
                start_process(command, timeout=plan.timeout, env=plan.env, cwd=work))
        except BaseException:
            self._stack.__exit__(*sys.exc_info())
            raise

    def result(self) -> LoadResult:
        """Wait for the probe to end (or be killed at its timeout) and judge what it printed."""
        run = self._running.wait()
        self._step.detail = "did not finish" if run.timed_out else f"exit {run.returncode}"
        self._stack.close()
        return self._plan.judge(run)

    def __enter__(self) -> StartedLoad:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.__exit__(*exc)  # type: ignore[arg-type]


def crashed(returncode: int, steps: tuple[LoadStep, ...]) -> str | None:
    """The probes exit 0 (ran to the end) or 1 (stopped at a failed step); anything else (a
    signal, an access violation) is a crash, which no verdict may hide even when every printed
    step passed."""
    if returncode in (0, 1):
        return None
    last = steps[-1].title if steps else "start"
    how = f"signal {-returncode}" if returncode < 0 else f"exit {returncode}"
    return f"the probe crashed ({how}) after: {last}"


def _overruled(run: ToolRun, steps: tuple[LoadStep, ...], *, timeout: float, first: str,
               silent: bool) -> str | None:
    if run.timed_out:
        last = steps[-1].title if steps else first
        return (f"the load did not finish within {timeout:g} s (after: {last}); a library's initialisation "
                "never returned")
    crash = crashed(run.returncode, steps)
    if crash and steps:
        return crash
    if silent:
        tail = " ".join(run.output.strip().splitlines()[-3:])
        return f"the probe printed nothing (exit {run.returncode}): {tail}"
    return None


def conclude(run: ToolRun, steps: tuple[LoadStep, ...], judged: tuple[bool, str], *, not_checked: str,
             timeout: float, first: str, silent: bool) -> tuple[bool, str, tuple[LoadStep, ...]]:
    """(ok, verdict, steps with their states) for one probe run and the platform judge's
    ``(ok, verdict)``, the same on every platform.

    A run that timed out, crashed after its steps or printed nothing has failed whatever its
    steps say. The judges hold a load whose only failed steps are those this machine cannot
    run (the device query and compile without the device); those steps are marked as not
    checked, with ``not_checked`` as the reason.
    """
    failure = _overruled(run, steps, timeout=timeout, first=first, silent=silent)
    if failure is not None:
        return False, failure, steps
    ok, verdict = judged
    if ok:
        steps = tuple(s if s.ok else replace(s, not_checked=not_checked) for s in steps)
    return ok, verdict, steps


def executed_on(steps: tuple[LoadStep, ...]) -> str:
    """The device(s) the compiled model executed on, from the probe's EXECUTION_DEVICES step
    (OpenVINO prints the list as ``(CPU)``); "" when the probe did not read it."""
    step = next((s for s in steps if s.name == "executed_by" and s.ok), None)
    return ", ".join(d.strip() for d in step.detail.strip("()").split(",") if d.strip()) if step else ""


def ran_on_device(ok: bool, steps: tuple[LoadStep, ...], device: str) -> str:
    """What ran the model of a passing OpenVINO load: the device(s) of EXECUTION_DEVICES, else the
    device asked for when its inference or compile passed; "" when no model ran."""
    if not ok:
        return ""
    ran = any(s.name in ("infer", "device") and s.state == CheckState.PASSED for s in steps)
    return executed_on(steps) or (device if ran else "")


def plugin_stem(device: str) -> str:
    """The plugin file's stem (no ``lib`` prefix, no suffix) that serves ``device``:
    ``openvino_intel_npu_plugin`` for NPU, ``openvino_auto_plugin`` for AUTO:NPU,CPU."""
    base = device.split(":", 1)[0].split(".", 1)[0].lower()
    virtual = base in ("auto", "multi", "hetero", "batch")   # OpenVINO's own devices built over others
    return f"openvino_{base}_plugin" if virtual else f"openvino_intel_{base}_plugin"


def judge_device_steps(by_name: dict[str, LoadStep], device: str) -> tuple[bool, str]:
    """The verdict once the required steps passed, from the device steps (both platforms' probes):
    the model ran, or compiled, or the plugin ran and found no such device here. A device list
    (AUTO:NPU,CPU) says which device it ran on (the compiled model's EXECUTION_DEVICES)."""
    devices, compiled, infer = by_name.get("devices"), by_name.get("device"), by_name.get("infer")
    executed = executed_on(tuple(by_name.values()))
    on = f"{device}, executed by {executed} (EXECUTION_DEVICES)" if executed and executed != device else f"the {device}"
    if infer is not None:
        if infer.ok:
            return True, f"the bundle loads and runs a model on {on}: {infer.detail}"
        return False, f"the model compiled on {on} but the inference failed: {infer.detail}"
    if compiled is not None and compiled.ok:
        return True, f"the bundle loads and compiles a model on {on}"
    if devices is not None and not devices.ok:
        return True, (f"the bundle loads; the {device} plugin ran and found no {device} device on this "
                      "machine (expected without the hardware and its driver)")
    return True, f"the bundle loads; the {device} plugin ran ({compiled.detail if compiled else 'no compile step'})"


def no_device(device: str) -> str:
    """Why a device step could not be checked; for a device list (AUTO:NPU,CPU) its first device,
    the one that is missing when the list falls back."""
    first = device.split(":", 1)[1].split(",", maxsplit=1)[0] if ":" in device else device
    return f"no {first or device} device on this machine"


# ---------------------------------------------------------------- ONNX Runtime (both platforms)

ORT_PROVIDER = "OpenVINOExecutionProvider"
ORT_SESSION_STEPS = ("session", "placement", "run")
_PLACED = re.compile(r"placed on \[([^\]]+)\]")
_ORT_NO_DEVICE = re.compile(r"\[OpenVINO\] Device (\S+) is not available")


def placed_on(steps: tuple[LoadStep, ...]) -> str:
    """The execution providers ONNX Runtime placed the model's nodes on (its "Node placements"
    log, as the probe's placement step quotes it), comma-separated; "" when it logged none."""
    placement = next((s for s in steps if s.name == "placement"), None)
    return ", ".join(dict.fromkeys(_PLACED.findall(placement.detail))) if placement else ""


def ort_device_unavailable(output: str, device: str) -> bool:
    """Whether OpenVINO, asked through ONNX Runtime's provider, said ``device`` is not available."""
    return any(found.upper() == device.upper() for found in _ORT_NO_DEVICE.findall(output))


def ort_no_device_steps(steps: tuple[LoadStep, ...], device: str) -> tuple[LoadStep, ...]:
    """Without the device, ONNX Runtime reports only that the provider failed ("Failed to load
    shared library"): the provider step says why (OpenVINO's own message), and the steps that
    could not run after it are listed, to be marked not checked (``conclude``)."""
    out = tuple(replace(s, detail=f"OpenVINO reports: Device {device} is not available (ONNX Runtime: {s.detail})")
                if s.name == "provider" and not s.ok else s for s in steps)
    seen = {s.name for s in out}
    return out + tuple(LoadStep(name, False, "not run: the provider stopped at the device")
                       for name in ORT_SESSION_STEPS if name not in seen)


# The ONNX Runtime probe's steps between loading the library and appending OpenVINO's provider.
ORT_SETUP_STEPS = ("api", "env", "session_options", "fallback")


def ort_setup_problem(by_name: dict[str, LoadStep]) -> str | None:
    """Why an ONNX Runtime probe that loaded the library stopped before OpenVINO's provider was
    appended (the first setup step that failed or never ran), else ``None``; both platforms."""
    for name in ORT_SETUP_STEPS:
        step = by_name.get(name)
        if step is None or not step.ok:
            return f"ONNX Runtime failed at '{name}': {step.detail if step else 'the probe stopped'}"
    if by_name.get("provider") is None:
        return "the probe stopped before appending the OpenVINO execution provider"
    return None


def judge_ort_session(by_name: dict[str, LoadStep], device: str) -> tuple[bool, str]:
    """The verdict once the provider was appended: the session compiled with CPU fallback off,
    ONNX Runtime placed every node on the OpenVINO provider, and the model gave the right numbers."""
    session, placement, run = (by_name.get(n) for n in ORT_SESSION_STEPS)
    if session is None or not session.ok:
        return False, f"creating a session on {device} failed: {session.detail if session else 'the probe stopped'}"
    if placement is None or not placement.ok:
        why = placement.detail if placement else "the probe stopped before reading it"
        return False, f"not every node was placed on {ORT_PROVIDER}: {why}"
    if run is None or not run.ok:
        return False, f"running the model on {device} failed: {run.detail if run else 'the probe stopped'}"
    return True, (f"ONNX Runtime ran a model on {device} through {placed_on(tuple(by_name.values()))}, every "
                  f"node on it with CPU fallback disabled ({placement.detail}): {run.detail}")
