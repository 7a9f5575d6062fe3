"""Finding external tools for the tests: skip on a developer machine, fail in CI."""

from __future__ import annotations

import os
import shutil

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
