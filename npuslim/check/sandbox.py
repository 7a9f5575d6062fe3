"""Confining the load probes: ``verify --load`` runs the bundle's own code (library
constructors, ``DllMain``, OpenVINO's plugin loading), natively on Linux or under Wine,
which maps the whole host filesystem as ``Z:``.

Where bubblewrap (``bwrap``) works, every probe runs inside it: the host filesystem
read-only, a private ``/tmp`` and ``/run`` (no host sockets there), a minimal ``/dev``, no
network (an own network namespace: loopback and abstract sockets included), own process,
IPC and user namespaces, every capability dropped (root included: root keeps them in a
bubblewrap sandbox otherwise, and could remount the filesystem writable). Only the probe's
work folder is writable; paths the probe needs that sit under ``/tmp`` (a bundle, the probe)
are bound back read-only. The Wine prefix is read-only too: each run starts its own
``wineserver`` in its private ``/tmp`` and nothing the bundle does persists.

Without bubblewrap the probe runs as the user, and the verdict says so (``Sandbox.description``);
``--sandbox require`` refuses that (a ``ToolError``), ``--sandbox off`` asks for it.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from npuslim.enums import StrEnum
from npuslim.errors import ToolError
from npuslim.tools import run_process

# What every sandboxed probe gets; the probe's folders are added per run (``Sandbox.wrap``).
BWRAP_ARGS = (
    "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/run",
    "--unshare-all", "--cap-drop", "ALL", "--die-with-parent", "--new-session",
)
CONFINED = "bubblewrap: read-only filesystem, no network, private /tmp, only the probe's work folder writable"
UNSANDBOXED = "the bundle's code ran with your user's rights"
# A sandbox that does not start within this time is not usable here.
_CHECK_TIMEOUT = 30.0


class SandboxMode(StrEnum):
    """``verify --sandbox``: use bubblewrap when it works (auto), refuse to run without it
    (require), or run unconfined on purpose (off)."""

    AUTO = "auto"
    REQUIRE = "require"
    OFF = "off"


@dataclass(frozen=True)
class Sandbox:
    """How the probes of one ``verify --load`` run: the ``bwrap`` command (empty when they run
    unconfined) and one sentence saying how (``LoadResult.sandbox``)."""

    bwrap: str | None
    description: str

    @property
    def confined(self) -> bool:
        return self.bwrap is not None

    def wrap(self, args: list[str], *, work: Path, visible: Iterable[Path] = (),
             writable: Iterable[Path] = ()) -> list[str]:
        """``args`` as run in the sandbox, in ``work`` (writable); ``visible`` are bound back read-only
        (they may sit under the private ``/tmp``), ``writable`` read-write. Unconfined: ``args``."""
        if self.bwrap is None:
            return list(args)
        cmd = [self.bwrap, *BWRAP_ARGS]
        for path in dict.fromkeys(str(p.resolve()) for p in visible):
            cmd += ["--ro-bind", path, path]
        for path in dict.fromkeys(str(p.resolve()) for p in (*writable, work)):
            cmd += ["--bind", path, path]
        return [*cmd, "--chdir", str(work.resolve()), "--", *args]


def unconfined(why: str) -> Sandbox:
    return Sandbox(None, f"not sandboxed: {why}; {UNSANDBOXED}")


def _refuse(why: str) -> ToolError:
    return ToolError(f"--sandbox require: {why}, so the bundle's code would run unconfined; install "
                     "bubblewrap (apt-get install bubblewrap), or give --sandbox off to run it anyway")


def find_sandbox(mode: SandboxMode | str = SandboxMode.AUTO) -> Sandbox:
    """The sandbox the probes run in: bubblewrap when it is installed and can start a sandbox here.

    ``require`` makes its absence a ``ToolError`` (exit 6) instead of an unconfined run; ``off``
    never confines. The check runs ``bwrap ... true`` once: bubblewrap may be installed where
    user namespaces are not allowed (some containers)."""
    mode = SandboxMode(mode)
    if mode is SandboxMode.OFF:
        return unconfined("--sandbox off")
    if sys.platform == "win32":
        why = "no sandbox is used on Windows"
    elif (bwrap := shutil.which("bwrap")) is None:
        why = "bubblewrap not found"
    else:
        trial = run_process([bwrap, *BWRAP_ARGS, "--", "true"], timeout=_CHECK_TIMEOUT)
        if trial.returncode == 0 and not trial.timed_out:
            return Sandbox(bwrap, CONFINED)
        first = next((ln.strip() for ln in trial.output.splitlines() if ln.strip()), "no answer")
        why = f"bubblewrap cannot start a sandbox here ({first})"
    if mode is SandboxMode.REQUIRE:
        raise _refuse(why)
    return unconfined(why)
