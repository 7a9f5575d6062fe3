"""``StrEnum``: the base of every string enum npuslim writes into its JSON outputs.

A module of its own so that the foundation modules that define such enums
(``layout``, ``platforms``, ``formats``) need not import one another for it.
"""

from __future__ import annotations

import enum
import sys

if sys.version_info >= (3, 11):
    StrEnum = enum.StrEnum
else:  # pragma: no cover - Python 3.10
    class StrEnum(str, enum.Enum):
        """A string enum whose ``str()`` and format are its value, as ``enum.StrEnum`` on 3.11+."""

        def __str__(self) -> str:
            return str(self.value)

        def __format__(self, spec: str) -> str:
            return format(str(self.value), spec)
