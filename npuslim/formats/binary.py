"""What every binary npuslim reads has, whatever its format: the ``BinaryInfo`` protocol.

``PeInfo`` (``npuslim.formats.pe``) and ``ElfInfo`` (``npuslim.formats.elf``)
both satisfy it and neither knows the other. Code that handles either kind
reads the fields here, or asks the binary for what the JSON outputs record
of it (``recorded``, ``import_fields``); a field only one format has is read
only by that platform's own code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from npuslim.enums import StrEnum


class Signature(StrEnum):
    """The Authenticode state of a file (``signature`` in the JSON outputs)."""

    SIGNED = "signed"      # a certificate lies inside the file
    NONE = "none"
    DANGLING = "dangling"  # the security directory points past the end of the file, as GNU strip leaves it


class BinaryInfo(Protocol):
    """The facts of one PE or ELF file that both formats really have.

    ``imports`` are the names the loader looks for, in table order;
    ``data_ranges`` the file ranges (offset, size) of the read-only data,
    where string literals live.
    """

    @property
    def path(self) -> Path: ...
    @property
    def size(self) -> int: ...
    @property
    def machine(self) -> str: ...
    @property
    def is_dll(self) -> bool: ...
    @property
    def imports(self) -> tuple[str, ...]: ...
    @property
    def has_debug(self) -> bool: ...
    @property
    def upx_packed(self) -> bool: ...
    @property
    def data_ranges(self) -> tuple[tuple[int, int], ...]: ...

    def recorded(self) -> dict[str, Any]:
        """The facts the deps JSON (per node) and the lock file (per file) both record, in the
        JSON's order: ``machine``, ``cfg``, ``signature``, ``debug_directory``, ``file_version``."""
        ...

    def import_fields(self) -> dict[str, Any]:
        """The import tables as a node of the deps JSON shows them: ``imports``, ``delay_imports``,
        and whatever else the format's loader reads (ELF: ``elf``)."""
        ...


NOT_A_BINARY: dict[str, Any] = {
    "machine": None, "cfg": None, "signature": None, "debug_directory": None, "file_version": None,
}


def binary_fields(info: BinaryInfo | None) -> dict[str, Any]:
    """``info.recorded()``, or every one of those facts ``None`` for a file that is not a binary
    (or a missing one)."""
    return info.recorded() if info is not None else dict(NOT_A_BINARY)
