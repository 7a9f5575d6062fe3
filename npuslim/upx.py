"""UPX: finding it, asking its version, and reading what it printed.

The parsers are pure functions over UPX's output (tested on captured runs of
UPX 3.94 and 4.2.3); running UPX goes through ``npuslim.tools.run_tool``.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from npuslim.errors import ToolError
from npuslim.tools import run_tool

# UPX reads its default options from the UPX variable, so ours has another name.
ENV_VAR = "NPUSLIM_UPX"
LEVELS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "best", "lzma")

PACKED = "packed"
REFUSED = "refused"
ALREADY_PACKED = "already-packed"
NOT_PACKED = "not-packed"
UNKNOWN_FORMAT = "unknown-format"
CORRUPT = "corrupt"
FAILED = "failed"

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

    status: str
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
        found = shutil.which("upx")
        looked.append("upx on PATH")
        if found:
            candidates.append(found)
    for candidate in candidates:
        path = Path(candidate)
        if not path.is_file():
            continue
        run = run_tool([str(path), "--version"], timeout=30)
        try:
            version, text = parse_version(run.output)
        except ValueError:
            raise ToolError(f"{path}: does not look like UPX (upx --version said: "
                            f"{run.output.strip().splitlines()[0] if run.output.strip() else 'nothing'})") from None
        return UpxTool(path, version, text)
    raise ToolError(f"UPX not found (looked at: {', '.join(looked)}); install UPX 4 or newer, "
                    f"or point --upx-path or {ENV_VAR} at it")


def pack_file(upx: UpxTool, src: Path, dest: Path, *, level: str | None, force: bool) -> UpxOutcome:
    """Pack ``src`` into ``dest`` (``src`` is never touched), then test ``dest`` with ``upx -t``."""
    args = [str(upx.path), *level_args(level), *(["--force"] if force else []), "-o", str(dest), str(src)]
    run = run_tool(args)
    outcome = parse_pack(run.output, run.returncode)
    if not outcome.ok:
        dest.unlink(missing_ok=True)
        return outcome
    test = run_tool([str(upx.path), "-t", str(dest)])
    tested = parse_test(test.output, test.returncode)
    if not tested.ok:
        dest.unlink(missing_ok=True)
        return UpxOutcome(FAILED, f"upx -t failed after packing: {tested.message}")
    return outcome
