"""Path safety: every path taken from a manifest, a header, a lock file, an option or a DLL
goes through here before it is joined to the root it belongs to.

``relative_path`` turns untrusted text into a normalised relative POSIX path or
refuses it; ``join_inside`` joins it to a root and refuses a result that leaves
the root through a symbolic link; ``open_regular`` opens only regular files
(a FIFO or a device would block or never end). The caller says which error
kind a refusal is (input 4, bundle 5, output 7).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from npuslim.errors import InputError, NpuslimError, os_reason

_DRIVE = re.compile(r"^[A-Za-z]:")
MAX_PATH_TEXT = 1024


def relative_path(text: object, *, what: str, error: type[NpuslimError] = InputError) -> str:
    """``text`` as a normalised relative POSIX path ("a/b.h"), or ``error`` when it is not one.

    Refused: a non-string, an empty path, NUL or control characters, an absolute
    path (``/x``, ``\\x``, ``C:x``), and any ``..`` component. Backslashes count
    as separators (a bundle is for Windows); ``.`` components are dropped.
    """
    if not isinstance(text, str):
        raise error(f"{what}: expected a path, found {type(text).__name__}")
    shown = text if len(text) <= 80 else text[:77] + "..."
    if len(text) > MAX_PATH_TEXT:
        raise error(f"{what}: path {shown!r} is longer than {MAX_PATH_TEXT} characters")
    if any(ord(c) < 32 for c in text):
        raise error(f"{what}: path {shown!r} holds control characters")
    posix = text.replace("\\", "/")
    if posix.startswith("/") or _DRIVE.match(posix):
        raise error(f"{what}: {shown!r} is an absolute path; only paths relative to its folder are allowed")
    parts = [p for p in PurePosixPath(posix).parts if p not in ("", ".")]
    if ".." in parts:
        raise error(f"{what}: {shown!r} leaves its folder (..)")
    if not parts:
        raise error(f"{what}: empty path {shown!r}")
    return "/".join(parts)


def is_within(path: Path, root: Path) -> bool:
    """True when ``path``, with every symbolic link resolved, is ``root`` or below it."""
    try:
        real, base = path.resolve(), root.resolve()
    except (OSError, RuntimeError):
        return False
    return real == base or base in real.parents


def join_inside(root: Path, text: object, *, what: str, error: type[NpuslimError] = InputError) -> Path:
    """``root / relative_path(text)``, refused when a symbolic link takes it out of ``root``."""
    path = root / relative_path(text, what=what, error=error)
    if (path.exists() or path.is_symlink()) and not is_within(path, root):
        raise error(f"{what}: {path} leads outside {root} (symbolic link)")
    return path


def check_regular(path: Path, st: os.stat_result, *, error: type[NpuslimError] = InputError) -> None:
    if not stat.S_ISREG(st.st_mode):
        kind = ("a folder" if stat.S_ISDIR(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise error(f"{path}: is {kind}, not a regular file")


def open_regular(path: Path, *, error: type[NpuslimError] = InputError) -> BinaryIO:
    """Open ``path`` for reading only if it is a regular file; never blocks on a FIFO."""
    nonblock = getattr(os, "O_NONBLOCK", 0)  # POSIX: opening a FIFO must not wait for a writer
    try:
        fd = os.open(path, os.O_RDONLY | nonblock | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise error(f"{path}: cannot read: {os_reason(exc)}") from exc
    try:
        check_regular(path, os.fstat(fd), error=error)
        if nonblock:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    # Not inside the try: once fdopen's file object holds fd it closes it, also when Ctrl-C lands
    # inside fdopen; a second close here would fail with EBADF (or close an fd reused meanwhile).
    return os.fdopen(fd, "rb")


def read_regular(path: Path, *, limit: int, what: str, error: type[NpuslimError] = InputError) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (a larger one is refused unread)."""
    with open_regular(path, error=error) as fh:
        try:
            data = fh.read(limit + 1)
        except OSError as exc:
            raise error(f"{path}: cannot read: {os_reason(exc)}") from exc
    if len(data) > limit:
        raise error(f"{path}: {what} larger than {limit} bytes")
    return data


def cache_dir() -> Path:
    """npuslim's cache: ``NPUSLIM_CACHE_DIR``, else ``$XDG_CACHE_HOME/npuslim``, else ``~/.cache/npuslim``."""
    env = os.environ.get("NPUSLIM_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) / "npuslim" if xdg else Path.home() / ".cache" / "npuslim"


# How much of a file is hashed at a time.
HASH_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """sha256 of a regular file (``InputError`` for anything else), read in chunks."""
    digest = hashlib.sha256()
    with open_regular(path) as fh:
        while chunk := fh.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
