"""Writing a file or folder so that it appears whole or not at all.

``replacing(target)`` yields a temporary path beside ``target`` (same folder,
so the final ``os.replace`` is one atomic rename on the same file system).
When the block ends normally the temporary path replaces ``target``; when it
raises, the temporary file or folder is removed and ``target`` is untouched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def temporary_beside(target: Path, suffix: str = "") -> Path:
    """A hidden name beside ``target``, unique per process and thread: ``.NAME.tmp-PID-TID[suffix]``."""
    return target.with_name(f".{target.name}.tmp-{os.getpid()}-{threading.get_ident()}{suffix}")


@contextmanager
def replacing(target: Path, *, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path; on success it replaces ``target``, on any error it is removed.

    ``suffix`` ends the temporary name (``.exe`` for a compiler that would add it).
    A folder may be written too, when ``target`` does not exist yet.
    """
    tmp = temporary_beside(target, suffix)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)


def write_text(target: Path, text: str) -> None:
    """``target`` holds ``text`` (UTF-8) afterwards, or is as it was before."""
    with replacing(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (the owner of a folder or lock named after it)."""
    if not 0 < pid < 1 << 31:
        return False
    if sys.platform == "win32":
        # os.kill(pid, 0) would send CTRL_C_EVENT there; ask for a handle instead.
        import ctypes

        synchronize = 0x00100000
        handle = ctypes.windll.kernel32.OpenProcess(synchronize, False, pid)  # type: ignore[attr-defined]
        if not handle:
            return False
        ctypes.windll.kernel32.CloseHandle(handle)  # type: ignore[attr-defined]
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError, ValueError):
        return False
    except PermissionError:
        return True
    return True


def private_folder(parent: Path, prefix: str) -> Path:
    """A new folder ``PREFIX<pid>-XXXXXXXX`` in ``parent`` for this run's half-made work, once the
    ones left there by runs that no longer run are removed (``remove_abandoned``)."""
    remove_abandoned(parent, prefix)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))


def remove_abandoned(folder: Path, prefix: str) -> None:
    """Remove the entries of ``folder`` named ``PREFIX<pid>`` or ``PREFIX<pid>-...`` whose process no
    longer runs: what a run that was killed (SIGKILL, a crash, a power cut) left half-written."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        pid = entry.name[len(prefix):].partition("-")[0]
        if entry.name.startswith(prefix) and pid.isdigit() and not pid_alive(int(pid)):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
