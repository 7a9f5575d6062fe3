"""UPX: finding it, asking its version, and reading what it printed.

The parsers are pure functions over UPX's output (tested on captured runs of
UPX 3.94 and 4.2.3). Running UPX goes through ``run_upx``: every run has a
time limit, and ``stop_all`` kills the runs still going (Ctrl-C), so pack
never waits on a UPX that does not return.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from npuslim.enums import StrEnum
from npuslim.errors import ToolError
from npuslim.tools import ToolRun, cannot_start, kill_group

# UPX reads its default options from the UPX variable, so ours has another name.
ENV_VAR = "NPUSLIM_UPX"
# Debian and Ubuntu install UPX 4 as upx-ucl (and upx through alternatives).
NAMES = ("upx", "upx-ucl")
DEFAULT_TIMEOUT = 900.0
LEVELS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "best", "lzma")


class UpxStatus(StrEnum):
    """What one UPX run came to (``UpxOutcome.status``): UPX's exception, read from its output."""

    PACKED = "packed"
    REFUSED = "refused"                    # CantPackException
    ALREADY_PACKED = "already-packed"
    NOT_PACKED = "not-packed"              # upx -d of a file UPX did not pack
    UNKNOWN_FORMAT = "unknown-format"
    CORRUPT = "corrupt"
    FAILED = "failed"
    TIMED_OUT = "timed-out"                # killed after the time limit
    STOPPED = "stopped"                    # killed by stop_all (Ctrl-C)


PACKED, REFUSED, ALREADY_PACKED = UpxStatus.PACKED, UpxStatus.REFUSED, UpxStatus.ALREADY_PACKED
NOT_PACKED, UNKNOWN_FORMAT, CORRUPT = UpxStatus.NOT_PACKED, UpxStatus.UNKNOWN_FORMAT, UpxStatus.CORRUPT
FAILED, TIMED_OUT, STOPPED = UpxStatus.FAILED, UpxStatus.TIMED_OUT, UpxStatus.STOPPED
# UPX declined the file (its own message says why): nothing went wrong
DECLINED = frozenset({REFUSED, ALREADY_PACKED, UNKNOWN_FORMAT})
# the run was cut short: its outcome says nothing about the file (never cached)
INTERRUPTED = frozenset({TIMED_OUT, STOPPED})

_EXCEPTIONS = {
    "CantPackException": REFUSED,
    "AlreadyPackedException": ALREADY_PACKED,
    "NotPackedException": NOT_PACKED,
    "UnknownExecutableFormatException": UNKNOWN_FORMAT,
    "EOFException": CORRUPT,
    "CantUnpackException": FAILED,
}
_SIZES = re.compile(r"^\s*(\d+)\s*(->|<-)\s*(\d+)\s+([\d.]+)%\s+(\S+)\s+(.+?)\s*$")
_ERROR = re.compile(r"^(?P<prog>\S+): (?P<file>.+?): (?P<exc>[A-Za-z]+(?:Exception|Error))(?:: (?P<msg>.*))?$")
_TESTED = re.compile(r"^testing (?P<file>.+) \[OK\]\s*$")


@dataclass(frozen=True)
class UpxTool:
    path: Path
    version: tuple[int, ...]
    version_text: str

    @property
    def refuses_cfg(self) -> bool:
        """UPX 4+ refuses CFG DLLs without --force; older UPX must not be given them at all."""
        return self.version >= (4,)


@dataclass(frozen=True)
class UpxOutcome:
    """What one UPX run said: a status and UPX's own message."""

    status: UpxStatus
    message: str
    original_size: int | None = None
    packed_size: int | None = None
    ratio: float | None = None
    format: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == PACKED


def parse_version(text: str) -> tuple[tuple[int, ...], str]:
    """``upx --version`` output -> ((4, 2, 3), "4.2.3")."""
    for line in text.splitlines():
        m = re.match(r"^\s*upx\s+(\d+(?:\.\d+)+)", line, re.IGNORECASE)
        if m:
            return tuple(int(p) for p in m.group(1).split(".")), m.group(1)
    raise ValueError("no UPX version in the output")


def parse_pack(output: str, returncode: int) -> UpxOutcome:
    """Read the output of ``upx [options] FILE`` (pack, or ``-d``)."""
    for line in output.splitlines():
        err = _ERROR.match(line.strip())
        if err:
            status = _EXCEPTIONS.get(err.group("exc"), FAILED)
            message = err.group("exc") + (f": {err.group('msg')}" if err.group("msg") else "")
            return UpxOutcome(status, message)
    for line in output.splitlines():
        m = _SIZES.match(line)
        if m and returncode == 0:
            # packing prints "unpacked -> packed", decompressing "unpacked <- packed"
            before, after = int(m.group(1)), int(m.group(3))
            return UpxOutcome(PACKED, f"{before} -> {after} bytes", before, after, float(m.group(4)), m.group(5))
    tail = [ln.strip() for ln in output.splitlines() if ln.strip()]
    return UpxOutcome(FAILED, f"exit {returncode}: {tail[-1] if tail else 'no output'}")


def parse_test(output: str, returncode: int) -> UpxOutcome:
    """Read the output of ``upx -t FILE``: PACKED when UPX says ``[OK]``."""
    for line in output.splitlines():
        if _TESTED.match(line.strip()) and returncode == 0:
            return UpxOutcome(PACKED, "test passed")
    outcome = parse_pack(output, returncode)
    if outcome.status == PACKED:  # sizes but no [OK]: not a test run
        return UpxOutcome(FAILED, "upx -t did not report [OK]")
    return outcome


def level_args(level: str | None) -> list[str]:
    if level is None:
        return []
    if level not in LEVELS:
        raise ValueError(f"UPX level must be one of {', '.join(LEVELS)}")
    return {"best": ["--best"], "lzma": ["--lzma"]}.get(level, [f"-{level}"])


def find_upx(explicit: Path | None = None) -> UpxTool:
    """UPX from ``--upx-path``, else ``NPUSLIM_UPX``, else PATH; a ``ToolError`` names where it looked."""
    looked: list[str] = []
    candidates: list[str] = []
    if explicit is not None:
        candidates.append(str(explicit))
        looked.append(f"--upx-path {explicit}")
    elif os.environ.get(ENV_VAR):
        candidates.append(os.environ[ENV_VAR])
        looked.append(f"{ENV_VAR}={os.environ[ENV_VAR]}")
    else:
        looked.append(" or ".join(NAMES) + " on PATH")
        candidates += [found for name in NAMES if (found := shutil.which(name))]
    for candidate in candidates:
        path = Path(candidate)
        if not path.is_file():
            continue
        run = run_upx([str(path), "--version"], timeout=30)
        if run.returncode == _TIMEOUT_CODE:
            raise ToolError(f"{path} --version: no answer after 30 s")
        try:
            version, text = parse_version(run.output)
        except ValueError:
            raise ToolError(f"{path}: does not look like UPX (upx --version said: "
                            f"{run.output.strip().splitlines()[0] if run.output.strip() else 'nothing'})") from None
        return UpxTool(path, version, text)
    raise ToolError(f"UPX not found (looked at: {', '.join(looked)}); install UPX 4 or newer, "
                    f"or point --upx-path or {ENV_VAR} at it")


def pack_file(upx: UpxTool, src: Path, dest: Path, *, level: str | None, force: bool,
              timeout: float = DEFAULT_TIMEOUT) -> UpxOutcome:
    """Pack ``src`` into ``dest`` (``src`` is never touched), then test ``dest`` with ``upx -t``.

    A run that takes longer than ``timeout`` seconds is killed (status ``timed-out``);
    one killed by ``stop_all`` has status ``stopped``.
    """
    args = [str(upx.path), *level_args(level), *(["--force"] if force else []), "-o", str(dest), str(src)]
    run = run_upx(args, timeout=timeout)
    outcome = _killed(run, timeout) or parse_pack(run.output, run.returncode)
    if not outcome.ok:
        dest.unlink(missing_ok=True)
        return outcome
    test = run_upx([str(upx.path), "-t", str(dest)], timeout=timeout)
    tested = _killed(test, timeout) or parse_test(test.output, test.returncode)
    if not tested.ok:
        dest.unlink(missing_ok=True)
        return UpxOutcome(FAILED, f"upx -t failed after packing: {tested.message}")
    return outcome


# -- running UPX: a time limit on every run, and a way to stop them all

_TIMEOUT_CODE = -1000
_STOPPED_CODE = -1001
_running: set[subprocess.Popen[bytes]] = set()
_running_lock = threading.Lock()
_stopping = threading.Event()


def upx_environment() -> dict[str, str]:
    """This process's environment without ``UPX``: UPX reads that variable as options of its own
    (``UPX=--bogus`` would make every run fail, ``UPX=-d`` unpack), so npuslim's runs never see it."""
    return {k: v for k, v in os.environ.items() if k.upper() != "UPX"}


def run_upx(args: list[str], *, timeout: float) -> ToolRun:
    """Run UPX; killed after ``timeout`` seconds (return code ``_TIMEOUT_CODE``) or by ``stop_all``.

    A UPX that cannot be started is a ``ToolError``; a non-zero exit is not.
    """
    if _stopping.is_set():
        return ToolRun(tuple(args), _STOPPED_CODE, "")
    try:
        # its own process group, so that a kill reaches anything it started too
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=upx_environment(), start_new_session=os.name == "posix")
    except OSError as exc:
        raise cannot_start(args, exc) from exc
    with _running_lock:
        _running.add(proc)
        # stop_all sets _stopping before it takes the lock: a run registered after its snapshot
        # of _running sees the flag here and is killed now (Ctrl-C between the check above and Popen)
        late = _stopping.is_set()
    if late:
        kill_group(proc)
    try:
        try:
            out, _ = proc.communicate(timeout=timeout)
            code = _STOPPED_CODE if _stopping.is_set() and proc.returncode < 0 else proc.returncode
        except subprocess.TimeoutExpired:
            kill_group(proc)
            out, _ = proc.communicate()
            code = _TIMEOUT_CODE
    finally:
        with _running_lock:
            _running.discard(proc)
    return ToolRun(tuple(args), code, out.decode("utf-8", "replace"))


def stop_all() -> None:
    """Kill every UPX still running and start no new one (for Ctrl-C); ``reset_stop`` undoes the latter."""
    _stopping.set()
    with _running_lock:
        procs = list(_running)
    for proc in procs:
        kill_group(proc)


def reset_stop() -> None:
    _stopping.clear()


def _killed(run: ToolRun, timeout: float) -> UpxOutcome | None:
    if run.returncode == _TIMEOUT_CODE:
        return UpxOutcome(TIMED_OUT, f"UPX did not finish within {timeout:g} s and was stopped")
    if run.returncode == _STOPPED_CODE:
        return UpxOutcome(STOPPED, "stopped (interrupted)")
    return None
