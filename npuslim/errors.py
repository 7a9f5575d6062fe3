"""One exception family for the core; each kind carries the exit code the CLI uses.

The core raises these and never prints; the CLI turns one into a single line on
stderr and exits with ``exit_code`` (README, "Exit codes"):

| code | kind |
|---|---|
| 2 | ``UsageError``: a bad command line |
| 3 | ``MissingDependencyError`` |
| 4 | ``InputError`` (and ``ManifestError``, ``ArchitectureError``) |
| 5 | ``VerifyError``: the bundle, or its manifest, failed verification |
| 6 | ``ToolError``: an external tool is missing, failed or did not answer |
| 7 | ``OutputError``: the output cannot be written as asked |
| 8 | ``LoadError``: the bundle failed to load |
"""

from __future__ import annotations


class NpuslimError(Exception):
    """Base of every error the core raises on purpose."""

    exit_code = 1


class UsageError(NpuslimError):
    """The command line is wrong: an option value out of range, options that do not go together."""

    exit_code = 2


class InputError(NpuslimError):
    """The input cannot be used: not a PE file, truncated, unreadable, no OpenVINO."""

    exit_code = 4


class ManifestError(InputError):
    """A manifest (the YAML knowledge base) is malformed."""


class ArchitectureError(InputError):
    """A DLL imports a DLL built for another machine type."""


class MissingDependencyError(NpuslimError):
    """Dependencies could not be found; ``names`` lists every one, once."""

    exit_code = 3

    def __init__(self, message: str, names: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.names = names


class ToolError(NpuslimError):
    """An external tool (pip, upx, strip, wine, a compiler) is missing or failed."""

    exit_code = 6


class OutputError(NpuslimError):
    """The output location cannot be written as asked (exists, not empty, read-only, disk full, ...)."""

    exit_code = 7


class VerifyError(NpuslimError):
    """A bundle (or its lock file) failed verification."""

    exit_code = 5


class LoadError(NpuslimError):
    """A bundle failed to load through the Windows loader."""

    exit_code = 8


class BudgetError(NpuslimError):
    """The bundle (or the packed bundle, or its archive) is larger than the size budget."""

    exit_code = 9


class DiffFailure(NpuslimError):
    """``npuslim diff --fail-on`` found a change it was told to fail on."""

    exit_code = 10


def os_reason(exc: OSError) -> str:
    """A short reason for an ``OSError``: its strerror, never a multi-line repr."""
    return exc.strerror or type(exc).__name__
