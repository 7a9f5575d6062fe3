"""Sizes for people: one place that formats bytes and parses ``--baseline 1.75GB``."""

from __future__ import annotations

import re

from npuslim.errors import InputError

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9,
          "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}


def format_size(n: int) -> str:
    """Decimal units with three significant digits, as download pages show them: ``7.64 MB``."""
    if n < 1000:
        return f"{n} B"
    for unit, scale in (("kB", 10**3), ("MB", 10**6), ("GB", 10**9)):
        if n < scale * 1000 or unit == "GB":
            value = n / scale
            digits = 2 if value < 10 else 1 if value < 100 else 0
            return f"{value:.{digits}f} {unit}"
    raise AssertionError("unreachable")


def parse_size(text: str) -> int:
    """``"1.75GB"`` -> 1750000000; accepts B, kB, MB, GB and KiB, MiB, GiB."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError(f"not a size: {text!r} (try 1.75GB or 250MiB)")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f} %" if whole else "n/a"


# The size of the full OpenVINO install measured by the project that asked for
# npuslim; reports compare bundles against it.
BASELINE_BYTES = 1_750_000_000


def parse_budget(text: str | int, *, where: str = "--max-size") -> int:
    """A budget in bytes from ``50MB``, ``48MiB``, ``1.75GB`` or a plain byte count.

    Raises ``InputError`` naming ``where`` for anything else, zero included.
    """
    if isinstance(text, bool):
        raise InputError(f"{where}: not a size: {text!r} (try 50MB, 48MiB or 1.75GB)")
    if isinstance(text, int):
        value = text
    else:
        try:
            value = parse_size(text)
        except ValueError:
            raise InputError(f"{where}: not a size: {text!r} (try 50MB, 48MiB or 1.75GB)") from None
    if value <= 0:
        raise InputError(f"{where}: a budget must be more than 0 bytes, not {text!r}")
    return value
