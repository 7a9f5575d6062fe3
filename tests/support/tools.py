"""Finding external tools for the tests: skip on a developer machine, fail in CI."""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Skip with a reason; with CI=true a missing tool is a failure, never a skip."""
    if in_ci():
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def require_tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} not found ({hint})")
    assert path is not None
    return path


def extract_tar(tf: tarfile.TarFile, dest: Path) -> None:
    """``tf.extractall(dest)`` with tarfile's ``data`` filter (no absolute or ``..`` names, no link
    out of ``dest``, no device), also on a Python without the filter (3.11 before 3.11.4, Debian
    12's 3.11.2): there every member is checked the same way first, and the whole archive refused."""
    if hasattr(tarfile, "data_filter"):
        tf.extractall(dest, filter="data")
        return
    root = os.path.realpath(dest)
    for member in tf.getmembers():
        target = os.path.realpath(os.path.join(root, member.name))
        linked = os.path.realpath(os.path.join(os.path.dirname(target), member.linkname)) \
            if member.issym() or member.islnk() else root
        inside = all(p == root or p.startswith(root + os.sep) for p in (target, linked))
        if os.path.isabs(member.name) or not inside or not (member.isfile() or member.isdir() or member.issym()):
            raise ValueError(f"{member.name}: refused in a downloaded archive")
    tf.extractall(dest)  # every member checked above
